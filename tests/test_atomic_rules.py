"""write_atomic / fsync_dir / remove_stale_temp_files edge rules (issue 13: mutation survivors
of tests/test_atomic.py): what is written, what is synced, what is closed, what is removed."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from gigstack_async import _atomic
from gigstack_async._atomic import fsync_dir, remove_stale_temp_files, write_atomic

pytestmark = pytest.mark.skipif(os.name != "posix", reason="directory fsync is POSIX-only")


@pytest.mark.parametrize("data", [bytearray(b"abc"), memoryview(b"abc"), b"abc", [b"a", b"bc"]])
def test_every_bytes_like_is_written_whole(tmp_path: Path, data: Any) -> None:
    write_atomic(tmp_path / "f", data)
    assert (tmp_path / "f").read_bytes() == b"abc"
    assert os.listdir(tmp_path) == ["f"]


def test_durable_false_skips_the_file_fsync_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(_atomic.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    write_atomic(tmp_path / "f", b"x", durable=False, sync_dir=False)
    assert synced == []
    write_atomic(tmp_path / "f", b"y", durable=False)
    assert len(synced) == 1  # the directory's, after the rename
    assert (tmp_path / "f").read_bytes() == b"y"


def test_a_temp_file_is_never_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # O_EXCL: if the random temp name exists (a collision, or an attacker's symlink), it is
    # never written through; the second name (from `secrets`) existing too fails the write.
    monkeypatch.setattr(_atomic.random, "getrandbits", lambda n: 0)
    monkeypatch.setattr(_atomic.secrets, "token_hex", lambda n: "0" * (2 * n))
    squatter = tmp_path / ".f.0000000000000000.tmp"
    squatter.write_bytes(b"not yours")
    with pytest.raises(FileExistsError):
        write_atomic(tmp_path / "f", b"x")
    assert squatter.read_bytes() == b"not yours"
    assert not (tmp_path / "f").exists()


def test_a_taken_temp_name_is_replaced_by_a_fresh_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_atomic.random, "getrandbits", lambda n: 0)
    squatter = tmp_path / ".f.0000000000000000.tmp"
    squatter.write_bytes(b"not yours")
    old = os.umask(0)
    try:
        write_atomic(tmp_path / "f", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f").read_bytes() == b"x"
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o666  # the second name's too
    assert squatter.read_bytes() == b"not yours"
    assert sorted(os.listdir(tmp_path)) == [".f.0000000000000000.tmp", "f"]


def test_the_usual_temp_name_needs_no_second_try(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(n: int) -> str:
        raise AssertionError("the fallback name was asked for")

    monkeypatch.setattr(_atomic.secrets, "token_hex", refused)
    write_atomic(tmp_path / "f", b"x")
    assert (tmp_path / "f").read_bytes() == b"x"


def test_a_failed_rename_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(src: Any, dst: Any) -> None:
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(_atomic.os, "replace", fail)
    with pytest.raises(OSError, match="cross-device"):
        write_atomic(tmp_path / "f", b"x")
    assert os.listdir(tmp_path) == []


def test_fsync_dir_closes_its_descriptor_even_when_fsync_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    closed: list[int] = []
    real_open, real_close = os.open, os.close

    def spy_open(path: Any, flags: int, *args: Any) -> int:
        fd = real_open(path, flags, *args)
        opened.append(fd)
        return fd

    def spy_close(fd: int) -> None:
        closed.append(fd)
        real_close(fd)

    monkeypatch.setattr(_atomic.os, "open", spy_open)
    monkeypatch.setattr(_atomic.os, "close", spy_close)
    fsync_dir(tmp_path)
    monkeypatch.setattr(_atomic.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "EIO")))
    with pytest.raises(OSError, match="EIO"):
        fsync_dir(tmp_path)
    monkeypatch.setattr(
        _atomic.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EINVAL, "no"))
    )
    fsync_dir(tmp_path)
    assert closed == opened
    assert len(opened) == 3


def test_fsync_dir_does_nothing_off_posix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(_atomic.os, "open", lambda *a: calls.append("open") or 0)
    with monkeypatch.context() as patch:
        patch.setattr(_atomic.os, "name", "nt")
        fsync_dir(tmp_path)
    assert calls == []


def test_only_write_atomic_temp_files_are_removed(tmp_path: Path) -> None:
    stale = [
        tmp_path / ".a.xml.0123456789abcdef.tmp",
        tmp_path / ".x.ffffffffffffffff.tmp",
        tmp_path / ".a\nb.xml.0123456789abcdef.tmp",  # a newline in the stem: still ours
    ]
    kept = [
        tmp_path / ".a.xml.0123456789abcdef.tmp\n",  # one more newline after ".tmp"
        tmp_path / "a.xml.0123456789abcdef.tmp",  # not hidden
        tmp_path / ".a.xml.0123456789ABCDEF.tmp",  # upper-case hex
        tmp_path / ".a.xml.0123456789abcde.tmp",  # 15 hex
        tmp_path / ".a.xml.0123456789abcdef0.tmp",  # 17 hex
        tmp_path / ".a.xml.0123456789abcdef.tmp.bak",
        tmp_path / "..0123456789abcdef.tmp",  # no name
        tmp_path / "keep.xml",
    ]
    for path in stale + kept:
        path.write_bytes(b"")
    folder = tmp_path / ".d.0123456789abcdef.tmp"
    folder.mkdir()  # a folder with that name is not ours
    removed = remove_stale_temp_files(str(tmp_path))
    assert sorted(removed) == sorted(stale)
    assert sorted(tmp_path.iterdir()) == sorted([*kept, folder])


def test_a_file_path_is_not_a_folder_to_clean(tmp_path: Path) -> None:
    file = tmp_path / ".a.0123456789abcdef.tmp"
    file.write_bytes(b"")
    assert remove_stale_temp_files(file) == []
    assert file.exists()


def test_a_new_file_is_0666_before_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_atomic(tmp_path / "f", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o666


def test_the_original_error_survives_a_temp_file_already_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def vanish_then_fail(src: Any, dst: Any) -> None:
        os.unlink(src)
        raise OSError(errno.EIO, "disk gone")

    monkeypatch.setattr(_atomic.os, "replace", vanish_then_fail)
    with pytest.raises(OSError, match="disk gone") as info:
        write_atomic(tmp_path / "f", b"x")
    assert info.value.errno == errno.EIO


def test_a_temp_file_removed_meanwhile_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / ".a.0123456789abcdef.tmp"
    kept = tmp_path / ".b.0123456789abcdef.tmp"
    gone.write_bytes(b"")
    kept.write_bytes(b"")
    real_unlink = Path.unlink

    def racing_unlink(self: Path, missing_ok: bool = False) -> None:
        if self.name == gone.name:
            real_unlink(self)  # another cleaner got there first
            raise FileNotFoundError(str(self))
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", racing_unlink)
    assert remove_stale_temp_files(tmp_path) == [kept]
    assert list(tmp_path.iterdir()) == []


def test_o_binary_is_used_where_the_os_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Windows' O_BINARY keeps the bytes as written (no newline translation). Stand in for it
    # with a flag that is harmless here, and check that the temp file is opened with it.
    flags: list[int] = []
    real_open = os.open

    def spy_open(path: Any, flag: int, *args: Any) -> int:
        flags.append(flag)
        return real_open(path, flag, *args)

    monkeypatch.setattr(_atomic.os, "O_BINARY", os.O_CLOEXEC, raising=False)
    monkeypatch.setattr(_atomic.os, "open", spy_open)
    write_atomic(tmp_path / "f", b"a\r\nb", sync_dir=False)
    assert flags
    assert flags[0] & os.O_CLOEXEC
    assert flags[0] & os.O_EXCL
    assert (tmp_path / "f").read_bytes() == b"a\r\nb"


def test_fsync_dir_works_where_the_os_has_no_o_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    real_open = os.open

    def spy_open(path: Any, flag: int, *args: Any) -> int:
        opened.append(flag)
        return real_open(path, flag, *args)

    monkeypatch.delattr(_atomic.os, "O_DIRECTORY")
    monkeypatch.setattr(_atomic.os, "open", spy_open)
    fsync_dir(tmp_path)
    assert opened == [os.O_RDONLY]
