"""Write a file so that readers see the old content or the new, never a mix.

The new bytes go to a temporary file in the same directory (so the rename cannot cross
filesystems), are flushed to disk, and `os.replace` swaps them in: a crash leaves either the old
file or the complete new one, plus at worst a hidden `.<name>.<random>.tmp` that no reader opens.

Example::

    from gigstack_async._atomic import write_atomic

    write_atomic("journal.json", b'{"months": []}')
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

# Filesystems that cannot fsync a directory say so with one of these; the rename is then as
# durable as that filesystem can make it, which is not a reason to fail the write.
_DIR_FSYNC_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EBADF})


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes | Iterable[bytes],
    *,
    sync_dir: bool = True,
    durable: bool = True,
) -> None:
    """Replace `path` with `data` atomically and durably.

    `data` is bytes, or an iterable of byte chunks (written as they come, so a large file need
    not be held in memory). If anything fails, including the iterable raising, the temporary
    file is removed and `path` is left as it was. The new file's permissions follow the umask,
    as with `open(path, "wb")`.

    `sync_dir=False` skips the fsync of the parent directory; a caller writing many files to
    one directory passes it and calls `fsync_dir` once at the end. `durable=False` skips the
    file's fsync too: readers still never see a partial file, but a crash may lose it, so only a
    caller that keeps a durable source to write it again from (a staged package) passes it.

    Example::

        write_atomic(folder / "a.txt", [b"hello ", b"world"])
    """
    # Plain strings, not Path objects: an extraction calls this once per member, thousands of
    # times, and building Paths cost more than the system calls (make bench, fan-out).
    target = os.fspath(path)
    folder, name = os.path.split(target)
    # `random` (seeded from the OS, reseeded after fork), not `secrets`: one system call fewer
    # per file, each of which lets another thread take the GIL. O_EXCL keeps names unique.
    tmp = os.path.join(folder, temp_name(name, f"{random.getrandbits(64):016x}"))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
    except FileExistsError:  # another writer's temp file: never reused, a new name instead
        tmp = os.path.join(folder, temp_name(name))
        fd = os.open(tmp, flags, 0o666)
    try:
        # Plain os.write on the descriptor, not a buffered file object: that one would fstat
        # and seek it first, two more system calls per file, and each lets another thread take
        # the GIL (an extraction writes thousands of small files beside the event loop).
        try:
            chunks = [data] if isinstance(data, bytes | bytearray | memoryview) else data
            for chunk in chunks:
                _write_all(fd, chunk)
            # Without this, a crash soon after the rename can leave an empty file (ext4, xfs).
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_dir(folder or os.curdir)


_STEM_BYTES = 64


def temp_name(name: str, token: str | None = None) -> str:
    """The name of a temp file that becomes `name` once complete: `.<stem>.<16 hex>.tmp`
    (hidden; `temp_stem`; `token`, 16 hex digits, random when not given), the pattern
    `is_temp_name` and `remove_stale_temp_files` know."""
    return f".{temp_stem(name)}.{token or secrets.token_hex(8)}.tmp"


def temp_stem(name: str) -> str:
    """The start of `name` that a temp file beside it is named after: at most 64 bytes as the
    filesystem encodes it (a name limit, 255 on most filesystems, counts bytes, not
    characters: a long non-ASCII name must not make its temp name too long), cut at a
    character, never inside one.

    Example: `temp_stem("é" * 40)` is 32 characters (64 bytes in UTF-8)."""
    stem = name[:_STEM_BYTES]
    if stem.isascii():
        return stem
    while len(os.fsencode(stem)) > _STEM_BYTES:
        stem = stem[:-1]
    return stem


def _write_all(fd: int, chunk: bytes | bytearray | memoryview) -> None:
    """Write all of `chunk` to `fd` (os.write may write less than asked: a signal, a pipe)."""
    view = memoryview(chunk).cast("B")
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make new names and renames in directory `path` durable, where the OS supports it.

    On POSIX a rename is only on disk once its directory is fsynced. Windows cannot open a
    directory for this (and NTFS journals renames), so there it does nothing.
    """
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _DIR_FSYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


# DOTALL and fullmatch: a stem may hold any character a name can (a newline included), and
# `$` would also accept a name with one more newline after ".tmp", which is not ours.
_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{16}\.tmp", re.DOTALL)


def is_temp_name(name: str) -> bool:
    """Whether a file named `name` looks like `write_atomic`'s temp file, which
    `remove_stale_temp_files` deletes."""
    return _TEMP_NAME.fullmatch(name) is not None


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temp files a killed `write_atomic` left in `folder`; return what was removed.

    Only names of `write_atomic`'s own pattern (`.<name>.<16 hex>.tmp`) are touched. Call it
    when no writer is running in the folder (for example before resuming a download).
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    removed = []
    for entry in root.iterdir():
        if is_temp_name(entry.name) and entry.is_file():
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed.append(entry)
    return removed
