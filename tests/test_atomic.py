"""write_atomic / fsync_dir / remove_stale_temp_files: what a crash can and cannot leave behind.

A SIGKILL test cannot see a missing fsync (the page cache survives a killed process), so these
tests spy on the system calls: the file's data is fsynced before the rename, and the directory
after it, so the new name itself is durable.
"""

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


class Spy:
    """Records os.open / os.fsync / os.replace in order, with the path behind each fd."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, str]] = []
        self._paths: dict[int, str] = {}
        real_open, real_fsync, real_replace = os.open, os.fsync, os.replace

        def spy_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            fd = real_open(path, flags, *args, **kwargs)
            self._paths[fd] = os.fspath(path)
            return fd

        def spy_fsync(fd: int) -> None:
            target = self._paths.get(fd) or os.readlink(f"/proc/self/fd/{fd}")
            self.events.append(("fsync", target))
            real_fsync(fd)

        def spy_replace(src: Any, dst: Any) -> None:
            self.events.append(("replace", os.fspath(dst)))
            real_replace(src, dst)

        monkeypatch.setattr(_atomic.os, "open", spy_open)
        monkeypatch.setattr(_atomic.os, "fsync", spy_fsync)
        monkeypatch.setattr(_atomic.os, "replace", spy_replace)

    def kinds(self, target: Path) -> list[str]:
        """The events as `fsync file`, `replace`, `fsync dir` for `target` and its folder."""
        out = []
        for kind, where in self.events:
            if kind == "replace":
                out.append("replace")
            elif Path(where).resolve() == target.parent.resolve():
                out.append("fsync dir")
            else:
                out.append("fsync file")
        return out


def test_data_is_synced_before_the_rename_and_the_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch)
    target = tmp_path / "journal.json"
    write_atomic(target, b'{"months": []}')
    assert spy.kinds(target) == ["fsync file", "replace", "fsync dir"]
    assert target.read_bytes() == b'{"months": []}'


def test_sync_dir_false_leaves_the_directory_to_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch)
    target = tmp_path / "a.xml"
    write_atomic(target, [b"<a/>"], sync_dir=False)
    assert spy.kinds(target) == ["fsync file", "replace"]
    fsync_dir(tmp_path)
    assert spy.kinds(target) == ["fsync file", "replace", "fsync dir"]


def test_fsync_dir_opens_the_directory_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    real_open = os.open

    def spy_open(path: Any, flags: int, *args: Any) -> int:
        opened.append(flags)
        return real_open(path, flags, *args)

    monkeypatch.setattr(_atomic.os, "open", spy_open)
    fsync_dir(tmp_path)
    assert opened == [os.O_RDONLY | os.O_DIRECTORY]


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOTSUP, errno.EBADF])
def test_a_filesystem_that_cannot_sync_directories_is_tolerated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    def refuse(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(_atomic.os, "fsync", refuse)
    fsync_dir(tmp_path)  # no error: the rename is as durable as that filesystem allows


def test_a_real_directory_fsync_failure_is_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(_atomic.os, "fsync", broken)
    with pytest.raises(OSError, match="I/O error"):
        fsync_dir(tmp_path)


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    target.write_bytes(b"old")

    def chunks() -> Any:
        yield b"new, partial"
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(target, chunks())
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


def test_new_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "a", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o640


def test_the_temp_name_is_hidden_and_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real_replace = os.replace
    monkeypatch.setattr(
        _atomic.os,
        "replace",
        lambda src, dst: (seen.append(Path(src).name), real_replace(src, dst)),
    )
    long_name = "x" * 200 + ".xml"
    write_atomic(tmp_path / long_name, b"<a/>")
    (temp,) = seen
    assert temp.startswith("." + "x" * 64 + ".")
    assert temp.endswith(".tmp")
    assert len(temp) == 1 + 64 + 1 + 16 + 4


def test_a_long_non_ascii_name_gets_a_temp_name_the_filesystem_takes(tmp_path: Path) -> None:
    # Review 11 finding 4: the stem was capped at 64 characters, so a 254-byte UTF-8 name
    # made a temp name of over 255 bytes (ENAMETOOLONG) and the file was never written:
    # 64 four-byte characters are 256 bytes.
    name = "😀" * 62 + ".xml"
    assert 250 <= len(name.encode()) <= 255
    write_atomic(tmp_path / name, b"<a/>")
    assert (tmp_path / name).read_bytes() == b"<a/>"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_the_temp_stem_is_cut_by_bytes_at_a_character() -> None:
    assert _atomic.temp_stem("x" * 100) == "x" * 64
    assert _atomic.temp_stem("é" * 40) == "é" * 32  # 2 bytes each
    assert _atomic.temp_stem("a" + "€" * 30) == "a" + "€" * 21  # 1 + 63 bytes
    assert _atomic.temp_stem("😀" * 20) == "😀" * 16
    assert _atomic.temp_stem("ab") == "ab"


def test_stale_temp_files_are_removed_and_nothing_else(tmp_path: Path) -> None:
    stale = tmp_path / ".A1.xml.0123456789abcdef.tmp"
    stale.write_bytes(b"<?xml")
    keep = [
        tmp_path / "A1.xml",
        tmp_path / ".A1.xml.0123456789ABCDEF.tmp",  # upper-case hex: not ours
        tmp_path / ".A1.xml.0123456789abcde.tmp",  # 15 hex digits: not ours
        tmp_path / "A1.xml.0123456789abcdef.tmp",  # not hidden: not ours
    ]
    for path in keep:
        path.write_bytes(b"keep")
    (tmp_path / ".dir.0123456789abcdef.tmp").mkdir()  # a folder with our pattern stays

    assert remove_stale_temp_files(tmp_path) == [stale]
    assert not stale.exists()
    assert all(path.exists() for path in keep)
    assert (tmp_path / ".dir.0123456789abcdef.tmp").is_dir()


def test_removing_stale_temps_from_a_missing_folder_is_a_no_op(tmp_path: Path) -> None:
    assert remove_stale_temp_files(tmp_path / "absent") == []
