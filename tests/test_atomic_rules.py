"""write_atomic / fsync_dir / remove_stale_temp_files edge rules (issue 13: mutation survivors
of tests/test_atomic.py): what is written, what is synced, what is closed, what is removed."""

from __future__ import annotations

import errno
import os
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
    # O_EXCL: if the random temp name exists (a collision, or an attacker's symlink), the write
    # fails instead of writing through it.
    monkeypatch.setattr(_atomic.secrets, "token_hex", lambda n: "0" * (2 * n))
    squatter = tmp_path / ".f.0000000000000000.tmp"
    squatter.write_bytes(b"not yours")
    with pytest.raises(FileExistsError):
        write_atomic(tmp_path / "f", b"x")
    assert squatter.read_bytes() == b"not yours"
    assert not (tmp_path / "f").exists()


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
    stale = [tmp_path / ".a.xml.0123456789abcdef.tmp", tmp_path / ".x.ffffffffffffffff.tmp"]
    kept = [
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
