"""Turn a downloaded SAT package (base64 ZIP) into verified bytes or files; refuse anything unsafe.

gigstack's package endpoint answers ``{"data": {"encoding": "base64", "content": "<ZIP>"}}``::

    zip_bytes = decode_package(data["content"], encoding=data["encoding"])
    result = extract_package(zip_bytes, "cfdi/2024-01")
    print(len(result.files), "files, package sha256", result.package_sha256)

Checks, in this order, all before anything is written:

1. strict base64 of something that starts like a ZIP and still has its end record (not cut off);
2. the member count from that end record, before the central directory is parsed;
3. every entry: a safe relative name, a regular file (no symlink or device), stored or deflate,
   not encrypted, a name no other entry shares (ignoring case), declared sizes within the caps;
4. every member inflated in bounded chunks, the caps applied to the bytes actually produced
   (headers can lie), then its exact size and CRC-32.

Every refusal is a `PackageError` whose message names the member and the rule it broke.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import posixpath
import re
import stat
import struct
import threading
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs

from gigstack_async._atomic import fsync_dir, is_temp_name, remove_stale_temp_files, write_atomic
from gigstack_async.errors import GigstackError

__all__ = [
    "DEFAULT_LIMITS",
    "CorruptPackageError",
    "ExtractConflictError",
    "ExtractResult",
    "ExtractedFile",
    "MemberInspector",
    "PackageDecodeError",
    "PackageError",
    "PackageLimits",
    "PackageManifest",
    "PackageMember",
    "PackageTooLargeError",
    "StagedPackage",
    "UnsafePackageError",
    "decode_package",
    "extract_package",
    "extract_staged",
    "iter_package",
    "verify_package",
    "verify_staged",
]

_MIB = 1024 * 1024
_CHUNK = 64 * 1024  # the most one read or inflate step produces: bounds memory per step
_WINDOW = 256 * 1024  # what one read of a staged package's file holds (`_Blob.read`)


class _Blob:
    """The ZIP's bytes, in memory or in a staged file: read by offset, never all at once.

    A file-backed blob keeps memory bounded by `_WINDOW` whatever the package's size, which is
    what lets a package be verified and extracted straight from its staged copy.
    """

    def __init__(self, data: bytes | None = None, path: Path | None = None) -> None:
        self._bytes = data
        self._data = memoryview(data) if data is not None else None
        self._file = None if path is None else path.open("rb")
        if self._file is not None:
            self.size = os.fstat(self._file.fileno()).st_size
        else:
            self.size = len(data or b"")
        # The bytes of the file from `_window_at`: one read serves the many small reads of a
        # pass over the members (a local header, then each member's data, in ZIP order).
        self._window = b""
        self._window_at = 0

    def read(self, offset: int, size: int) -> bytes:
        """Up to `size` bytes from `offset` (fewer at the end)."""
        if offset >= self.size or size <= 0:
            return b""
        if self._data is not None:
            return bytes(self._data[offset : offset + size])
        assert self._file is not None
        start = offset - self._window_at
        end = start + size
        to_end = self._window_at + len(self._window) >= self.size  # the window holds the rest
        if start < 0 or (end > len(self._window) and not to_end):
            # Not in the window: read `_WINDOW` bytes from `offset` (or `size`, if more). A
            # package's members are small and read in order, so a pass over a SAT package
            # costs one read per `_WINDOW` bytes instead of a seek and a read per member:
            # each system call lets another thread take the GIL, and an extraction running
            # beside the event loop waited for it after every one of them.
            self._file.seek(offset)
            self._window = self._file.read(max(size, _WINDOW))
            self._window_at = offset
            start, end = 0, size
        return self._window[start:end]

    def chunks(self, offset: int, size: int) -> Iterator[bytes]:
        """`size` bytes from `offset`, in pieces of at most `_CHUNK`."""
        end = min(offset + size, self.size)
        while offset < end:
            piece = self.read(offset, min(_CHUNK, end - offset))
            if not piece:
                return
            offset += len(piece)
            yield piece

    def sha256(self) -> str:
        """The sha256 of all the bytes."""
        if self._data is not None:
            return hashlib.sha256(self._data).hexdigest()
        digest = hashlib.sha256()
        for piece in self.chunks(0, self.size):
            digest.update(piece)
        return digest.hexdigest()

    def zipfile(self) -> zipfile.ZipFile:
        """A `zipfile.ZipFile` over the bytes (for the central directory only)."""
        if self._bytes is not None:
            return zipfile.ZipFile(io.BytesIO(self._bytes))  # shares the bytes, no copy
        assert self._file is not None
        return zipfile.ZipFile(self._file)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> _Blob:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# --- errors -------------------------------------------------------------------------------------


class PackageError(GigstackError):
    """A package was refused; `member` names the entry at fault, when there is one."""

    def __init__(self, message: str, *, member: str | None = None) -> None:
        self.member = member
        super().__init__(message)


class PackageDecodeError(PackageError):
    """Not strict base64, not a ZIP, or a ZIP feature this reader refuses (encryption, bzip2…)."""


class UnsafePackageError(PackageError):
    """An entry could write outside the destination or is not a plain file.

    Absolute paths, ``..``, drive letters, backslashes, control characters, symlinks and other
    non-regular entries, names that collide (also ignoring case), reserved Windows names.
    """


class PackageTooLargeError(PackageError):
    """A `PackageLimits` cap was exceeded, by declared sizes or by the bytes actually inflated."""


class CorruptPackageError(PackageError):
    """The ZIP is damaged: cut off, CRC-32 mismatch, size mismatch, bad deflate data."""


class ExtractConflictError(PackageError):
    """The destination already holds something else where a member goes.

    A regular file with other content (pass ``overwrite=True`` to replace it), or a folder,
    symlink or other non-file, which is never replaced.
    """


# --- limits and results -------------------------------------------------------------------------

_positive_int = [attrs.validators.instance_of(int), attrs.validators.gt(0)]


@attrs.frozen(kw_only=True)
class PackageLimits:
    """Caps that stop zip bombs and runaway packages; every one is checked on declared sizes
    first and again on the bytes actually inflated.

    The defaults fit SAT: a request yields at most 200,000 XMLs, CFDI XMLs are a few KB to a
    few MB, a metadata TXT of a million rows is about 250 MB, and XML or TXT compresses about
    5-20:1, far below deflate's 1032:1 worst case.

    ``max_ratio`` (inflated ÷ compressed, per member and for the whole package) is only enforced
    above ``ratio_floor_bytes``: a small output cannot hurt, whatever its ratio.

    Example::

        PackageLimits(max_total_bytes=2 * 1024**3)  # a very large metadata package
    """

    max_members: int = attrs.field(default=200_000, validator=_positive_int)
    max_member_bytes: int = attrs.field(default=256 * _MIB, validator=_positive_int)
    max_total_bytes: int = attrs.field(default=512 * _MIB, validator=_positive_int)
    max_ratio: float = attrs.field(
        default=100.0,
        validator=[attrs.validators.instance_of((int, float)), attrs.validators.ge(1)],
    )
    ratio_floor_bytes: int = attrs.field(
        default=_MIB, validator=[attrs.validators.instance_of(int), attrs.validators.ge(0)]
    )


DEFAULT_LIMITS = PackageLimits()


@attrs.frozen
class PackageMember:
    """One verified file of a package: its name inside the ZIP, size and sha256 (hex)."""

    name: str
    size: int
    sha256: str


@attrs.frozen
class PackageManifest:
    """What a verified package holds, in ZIP order; `sha256` is that of the ZIP bytes."""

    members: tuple[PackageMember, ...]
    total_size: int
    sha256: str


@attrs.frozen
class ExtractedFile:
    """A member on disk. `written` is False when an identical file was already there."""

    name: str
    path: Path
    size: int
    sha256: str
    written: bool


@attrs.frozen
class StagedPackage:
    """A package ZIP durably on disk and verified (`fetch_package_to`): where it is, its size in
    bytes and its sha256 (hex). Extract it with `extract_staged`."""

    path: Path
    size: int
    sha256: str


@attrs.frozen
class ExtractResult:
    """What `extract_package` left in `dest_dir` (resolved), one entry per member."""

    dest_dir: Path
    package_sha256: str
    files: tuple[ExtractedFile, ...]


# --- public API ---------------------------------------------------------------------------------


def decode_package(content: str | bytes, *, encoding: str = "base64") -> bytes:
    """Decode the ``content`` of a package response into ZIP bytes.

    Only ``base64`` is accepted. Surrounding whitespace is ignored; any other character outside
    the base64 alphabet is refused (no silent skipping). The result must start like a ZIP and
    keep its end record, so a download cut short is caught here.

    Raises `PackageDecodeError`, or `CorruptPackageError` for a truncated ZIP.

    Example::

        zip_bytes = decode_package("UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==")  # an empty ZIP
    """
    if encoding.lower() != "base64":
        raise PackageDecodeError(f"unsupported package encoding {encoding!r}; expected 'base64'")
    try:
        data = base64.b64decode(content.strip(), validate=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII text
        raise PackageDecodeError(f"package content is not valid base64: {exc}") from exc
    _declared_member_count(data)
    return data


def verify_package(data: bytes, limits: PackageLimits = DEFAULT_LIMITS) -> PackageManifest:
    """Check every rule on a ZIP held in memory and describe its members. Writes nothing.

    Example::

        manifest = verify_package(zip_bytes)
        print(manifest.sha256, [m.name for m in manifest.members])
    """
    with _Blob(data) as blob:
        return _manifest(blob, _entries(blob, limits), limits)


MemberInspector = Callable[[str, Iterator[bytes]], object]
"""Called by `verify_staged(inspect=...)` with each member's name and its bytes (pieces of at
most 64 KiB): it may stop reading early; what it leaves is still verified."""


def verify_staged(
    path: str | os.PathLike[str],
    limits: PackageLimits = DEFAULT_LIMITS,
    *,
    inspect: MemberInspector | None = None,
) -> PackageManifest:
    """`verify_package` for a ZIP on disk (a staged package), reading it 256 KiB at a time.

    Memory stays bounded whatever the package's size. Raises the same `PackageError`s.

    `inspect`, if given, sees each member's bytes in the same pass (one inflate instead of
    two): `inspect(name, chunks)`, in ZIP order. An exception it raises that is not the
    package's own (a `PackageError` or `OSError` from reading `chunks`) is re-raised only after
    the package is verified; the package's errors win.

    A package verified here is remembered, by its SHA-256 and `limits`, until `extract_staged`
    extracts those bytes: that extraction then skips its own verifying pass (the bytes are
    still checked against the SHA-256, and every member's size and CRC-32 as it is written).
    """
    with _Blob(path=Path(path)) as blob:
        entries = _entries(blob, limits)
        manifest = _manifest(blob, entries, limits, inspect=inspect)
        _VERIFIED.keep(limits, entries, manifest)
        return manifest


def iter_package(
    data: bytes, limits: PackageLimits = DEFAULT_LIMITS
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, content)`` for each member, in memory, each checked before it is yielded.

    Names, types and declared sizes of all entries are checked before the first item; a member
    damaged further in raises when the iteration reaches it. For all-or-nothing, call
    `verify_package` first.

    Example::

        for name, xml in iter_package(zip_bytes):
            print(name, len(xml))
    """
    with _Blob(data) as blob:
        for entry, chunks in _streams(blob, _entries(blob, limits), limits):
            yield entry.name, b"".join(chunks)


def stream_staged(
    path: str | os.PathLike[str], limits: PackageLimits = DEFAULT_LIMITS
) -> Iterator[tuple[str, Iterator[bytes]]]:
    """Yield ``(name, chunks)`` for each member of the staged ZIP at `path`, in ZIP order.

    `chunks` yields the member's inflated bytes in pieces of at most 64 KiB, each checked
    against `limits` as it comes (a bomb raises `PackageTooLargeError` before memory grows);
    the CRC is checked only if the stream is read to its end. Read or drop each stream before
    taking the next: they share the package-wide budget. Names, types and declared sizes of
    every entry are checked before the first item, as `extract_staged` does.
    """
    with _Blob(path=Path(path)) as blob:
        for entry, chunks in _streams(blob, _entries(blob, limits), limits):
            yield entry.name, chunks


def extract_package(
    data: bytes,
    dest_dir: str | os.PathLike[str],
    limits: PackageLimits = DEFAULT_LIMITS,
    *,
    overwrite: bool = False,
) -> ExtractResult:
    """Verify the whole package, then write its members under `dest_dir` atomically.

    Nothing is written, not even `dest_dir`, if the package breaks a rule. Each file is written
    to a hidden temp name, fsynced and renamed into place, so no partial file is ever visible;
    a failure while writing (disk full) removes the temp file and leaves only complete members.

    Re-extracting is idempotent: a file that already holds the same bytes is left untouched
    (``written=False``). A file with other content raises `ExtractConflictError`, before
    anything is written, unless ``overwrite=True``.

    Example::

        result = extract_package(zip_bytes, "cfdi/2024-01")
        new = [f.path for f in result.files if f.written]
    """
    with _Blob(data) as blob:
        return _extract(blob, Path(dest_dir), limits, overwrite=overwrite, durable=True)


def extract_staged(
    path: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    limits: PackageLimits = DEFAULT_LIMITS,
    overwrite: bool = True,
    expected_sha256: str | None = None,
) -> ExtractResult:
    """Verify a staged ZIP (`DownloadsResource.fetch_package_to`) and extract it into `folder`.

    With `expected_sha256` (the hex SHA-256 recorded when the package was staged) a ZIP whose
    bytes changed since is refused with `CorruptPackageError` before anything is written.

    The same checks as `extract_package`, all before anything is written, reading the ZIP from
    disk 256 KiB at a time (memory does not grow with the package). Each member is written to a
    hidden temp name and renamed, so no partial file is ever visible under its real name.

    Durability comes from the staged ZIP, not from the extracted files: they are **not**
    fsynced one by one (thousands of fsyncs would dominate the run). A crash can therefore
    leave a member empty or torn after its rename. So the caller must keep the staged ZIP until
    it has durably recorded that the extraction finished (e.g. a journal transition), and after
    a crash simply call `extract_staged` again: it is idempotent. Members already holding the
    right bytes are left alone (`written=False`), members with other bytes (torn by a crash)
    are rewritten — pass `overwrite=False` to raise `ExtractConflictError` instead — and the
    temp files a killed run left in the folders it writes to are removed first.

    Raises `PackageError` subclasses (nothing written), `FileNotFoundError` if `path` is gone,
    `OSError` from the filesystem (disk full: complete members stay, the rest is not there).

    Example::

        staged = await client.downloads.fetch_package_to(package_id, Path("stage/01.zip"))
        result = extract_staged(staged.path, Path("cfdi/2024-01"))
        # ... record the extraction durably, then:
        staged.path.unlink()
    """
    with _Blob(path=Path(path)) as blob:
        return _extract(
            blob, Path(folder), limits, overwrite=overwrite, durable=False, sha256=expected_sha256
        )


def _extract(
    blob: _Blob,
    dest_dir: Path,
    limits: PackageLimits,
    *,
    overwrite: bool,
    durable: bool,
    sha256: str | None = None,
) -> ExtractResult:
    digest = blob.sha256()
    if sha256 is not None and digest != sha256.lower():
        raise CorruptPackageError(
            f"the staged package's SHA-256 is {digest}, not the {sha256} recorded "
            "when it was staged: it changed on disk"
        )
    verified = _VERIFIED.take(digest, limits)
    if verified is None:
        entries = _entries(blob, limits)
        manifest = _manifest(blob, entries, limits, sha256=digest)
    else:
        entries, manifest = verified
    dest_dir.mkdir(parents=True, exist_ok=True)
    root = dest_dir.resolve()
    folders = _Folders()
    targets = {
        m.name: _target(root, m, overwrite=overwrite, folders=folders) for m in manifest.members
    }
    if not durable:
        # A killed earlier run may have left write_atomic temp files; they are ours to clear,
        # only in the member folders `_target` resolved inside `root` (review 11 #1: cleared
        # before, a linked folder led the clearing out of the destination).
        for folder in {path.parent for path, _ in targets.values()}:
            remove_stale_temp_files(folder)

    made: set[Path] = set()
    # A second pass inflates again rather than holding a verified package (up to the caps) in
    # memory; only members that need writing are inflated.
    for entry, chunks in _streams(blob, entries, limits):
        path, needs_write = targets[entry.name]
        if needs_write:
            folder = root if "/" not in entry.name else path.parent
            if folder not in made:  # made once per folder, not once per member
                if folder is not root:  # made above
                    folder.mkdir(parents=True, exist_ok=True)
                made.add(folder)
            # Small both ways: a small member's deflate data may be padded to hundreds of MB.
            small = entry.info.file_size <= _ONE_PIECE and entry.info.compress_size <= _ONE_PIECE
            write_atomic(
                path,
                _whole_member(blob, entry) if small else chunks,
                sync_dir=False,
                durable=durable,
            )
    if durable:
        for folder in sorted(made):  # once per folder, not once per file: thousands of files
            fsync_dir(folder)

    files = tuple(
        ExtractedFile(m.name, targets[m.name][0], m.size, m.sha256, targets[m.name][1])
        for m in manifest.members
    )
    return ExtractResult(root, manifest.sha256, files)


# --- the ZIP container --------------------------------------------------------------------------

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # PK\3\4 … name length, extra length
_END = struct.Struct("<4s4H2LH")  # PK\5\6 … entries on disk, entries total, cd size, offset
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # PK\6\7, disk, offset of the zip64 end record
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")  # PK\6\6 … entries on disk, entries total, …
_UTF8_NAME = 0x800
_ENCRYPTED = 0x1
# SAT packages are deflate; the bounded reader below handles only these two, so bzip2, lzma
# and the rest are refused rather than inflated without an output bound.
_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


@attrs.frozen
class _Entry:
    name: str
    info: zipfile.ZipInfo
    data_offset: int  # where the member's compressed bytes start in the package


def _entries(blob: _Blob, limits: PackageLimits) -> list[_Entry]:
    """Every check that needs no inflating, on all entries, before any member is read."""
    count = _declared_member_count(blob)
    if count > limits.max_members:
        raise PackageTooLargeError(
            f"package declares {count} members, over max_members={limits.max_members}"
        )
    try:
        with blob.zipfile() as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, struct.error) as exc:
        raise CorruptPackageError(f"unreadable ZIP central directory: {exc}") from exc
    # zipfile reads entries until the directory's byte size is used up, whatever the count said.
    if len(infos) > limits.max_members:
        raise PackageTooLargeError(
            f"package holds {len(infos)} members, over max_members={limits.max_members}"
        )
    return _check_entries(blob, infos, limits)


def _streams(
    blob: _Blob, entries: list[_Entry], limits: PackageLimits
) -> Iterator[tuple[_Entry, Iterator[bytes]]]:
    """Each member with a checked stream of its bytes, inflated only if consumed.

    Consume (or skip) each stream before taking the next: they share the package-wide budget.
    """
    budget = _Budget(limits, blob.size)
    for entry in entries:
        yield entry, _member_bytes(blob, entry, limits, budget)


def _manifest(
    blob: _Blob,
    entries: list[_Entry],
    limits: PackageLimits,
    *,
    inspect: MemberInspector | None = None,
    sha256: str | None = None,
) -> PackageManifest:
    members = []
    inspect_error: Exception | None = None
    for entry, chunks in _streams(blob, entries, limits):
        digest = hashlib.sha256()
        counted = _Counted(chunks, digest)
        if inspect is not None and inspect_error is None:
            try:
                inspect(entry.name, counted)
            except Exception as error:  # the package's own error is re-raised just below
                inspect_error = error
        for _chunk in counted:  # what the inspector left unread: verified all the same
            pass
        members.append(PackageMember(entry.name, counted.size, digest.hexdigest()))
    if inspect_error is not None:
        raise inspect_error
    return PackageManifest(tuple(members), sum(m.size for m in members), sha256 or blob.sha256())


class _Counted:
    """A member's chunks, hashed and counted as they are read, by whoever reads them. An
    error of the package's (from the chunks) is raised to the reader and again at the next
    read, so an inspector that swallows it cannot hide it from the verification."""

    def __init__(self, chunks: Iterator[bytes], digest: hashlib._Hash) -> None:
        self._chunks = chunks
        self._digest = digest
        self.size = 0
        self._error: BaseException | None = None

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> bytes:
        if self._error is not None:
            raise self._error
        try:
            chunk = next(self._chunks)
        except StopIteration:
            raise
        except BaseException as error:
            self._error = error
            raise
        self._digest.update(chunk)
        self.size += len(chunk)
        return chunk


# --- packages verified in this process ----------------------------------------------------------

_REMEMBERED_BYTES = 32 * _MIB
"""About the most memory `_VERIFIED` holds at once (`_entry_cost` per entry); older packages
are forgotten first, and a larger package is not remembered (its extraction verifies it
again, a few percent of its time)."""


def _entry_cost(entry: _Entry) -> int:
    """Roughly what remembering `entry` holds: its ZipInfo, name, extra field and comment."""
    info = entry.info
    return 1024 + 2 * len(entry.name) + len(info.extra) + len(info.comment)


class _Verified:
    """What `verify_staged` learnt of a package (its entries and manifest), by its SHA-256 and
    limits, until `extract_staged` takes it: a staged package is verified when it arrives and
    extracted soon after, and its second verifying pass was the larger part of a year's
    download tail (`make bench`, fan-out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[tuple[str, PackageLimits], tuple[list[_Entry], PackageManifest, int]] = {}
        self._bytes = 0

    def keep(self, limits: PackageLimits, entries: list[_Entry], manifest: PackageManifest) -> None:
        key = (manifest.sha256, limits)
        cost = sum(_entry_cost(entry) for entry in entries)
        with self._lock:
            if key in self._kept or cost > _REMEMBERED_BYTES:
                return
            while self._kept and self._bytes + cost > _REMEMBERED_BYTES:
                oldest = next(iter(self._kept))
                self._bytes -= self._kept.pop(oldest)[2]
            self._kept[key] = (entries, manifest, cost)
            self._bytes += cost

    def take(
        self, sha256: str, limits: PackageLimits
    ) -> tuple[list[_Entry], PackageManifest] | None:
        with self._lock:
            found = self._kept.pop((sha256, limits), None)
            if found is None:
                return None
            self._bytes -= found[2]
            return found[0], found[1]


_VERIFIED = _Verified()


def _declared_member_count(source: bytes | _Blob) -> int:
    """Check the ZIP signature and end record; return the entry count the end record declares."""
    blob = source if isinstance(source, _Blob) else _Blob(source)
    head = blob.read(0, 8)
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise PackageDecodeError(f"not a ZIP file (it starts with {head!r})")
    # The end record is the last 22 bytes, followed by a comment of at most 65535 bytes.
    tail_start = max(0, blob.size - _END.size - 0xFFFF)
    tail = blob.read(tail_start, blob.size - tail_start)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _END.size > len(tail):
        raise CorruptPackageError(
            "ZIP is truncated: its end-of-central-directory record is missing"
        )
    count: int = _END.unpack_from(tail, at)[4]
    if count != 0xFFFF:
        return count
    # 0xFFFF means "see the zip64 end record" when a zip64 locator sits just before.
    locator = tail_start + at - _ZIP64_LOCATOR.size
    found = blob.read(locator, _ZIP64_LOCATOR.size) if locator >= 0 else b""
    if len(found) < _ZIP64_LOCATOR.size or found[:4] != b"PK\x06\x07":
        return count
    offset: int = _ZIP64_LOCATOR.unpack(found)[2]
    record = blob.read(offset, _ZIP64_END.size)
    if len(record) < _ZIP64_END.size or record[:4] != b"PK\x06\x06":
        raise CorruptPackageError("ZIP is damaged: its zip64 end-of-central-directory is missing")
    zip64_count: int = _ZIP64_END.unpack(record)[7]
    return zip64_count


def _check_entries(
    blob: _Blob, infos: list[zipfile.ZipInfo], limits: PackageLimits
) -> list[_Entry]:
    """Apply every rule that needs no inflating, to all entries, before any is read."""
    entries: list[_Entry] = []
    files: dict[str, str] = {}  # folded name -> name, to catch duplicates
    folders: dict[str, str] = {}  # folded folder path -> a name that implies it
    declared_total = 0
    for info in infos:
        name = info.orig_filename  # before zipfile cuts at a NUL byte
        _check_name(name)
        _check_type(info)
        folded = _fold(name.rstrip("/"))
        parts = folded.split("/")
        for depth in range(1, len(parts)):
            folders.setdefault("/".join(parts[:depth]), name)
        if info.is_dir():
            folders.setdefault(folded, name)
            continue
        if folded in files:
            other = files[folded]
            raise UnsafePackageError(
                f"member {name!r} appears twice"
                if other == name
                else f"member {name!r} and {other!r} collide: names must differ by more than "
                "case or Unicode form",
                member=name,
            )
        files[folded] = name
        if info.flag_bits & _ENCRYPTED:
            raise PackageDecodeError(f"member {name!r} is encrypted", member=name)
        if info.compress_type not in _METHODS:
            raise PackageDecodeError(
                f"member {name!r} uses compression method {info.compress_type}; "
                "only stored and deflate are accepted",
                member=name,
            )
        _check_member_size(name, info.file_size, info.compress_size, limits, "declares")
        declared_total += info.file_size
        _check_total(declared_total, blob.size, limits, "declares")
        entries.append(_Entry(name, info, _data_offset(blob, info)))
    clashes = files.keys() & folders.keys()
    if clashes:
        file = files[min(clashes)]
        raise UnsafePackageError(
            f"member {file!r} is a file but {folders[min(clashes)]!r} uses it as a folder",
            member=file,
        )
    return entries


def _data_offset(blob: _Blob, info: zipfile.ZipInfo) -> int:
    """Find a member's data after its local header, which must agree with the central one."""
    name, at = info.orig_filename, info.header_offset
    header = blob.read(at, _LOCAL_HEADER.size)
    if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise CorruptPackageError(f"member {name!r} has no local header at {at}", member=name)
    fields = _LOCAL_HEADER.unpack(header)
    name_length: int = fields[10]
    extra_length: int = fields[11]
    start = at + _LOCAL_HEADER.size
    encoding = "utf-8" if info.flag_bits & _UTF8_NAME else "cp437"
    local_name = blob.read(start, name_length).decode(encoding, errors="replace")
    if local_name != name:
        # A classic trick: listing tools show one name, naive extractors use the other.
        raise CorruptPackageError(
            f"member {name!r} is called {local_name!r} in its local header", member=name
        )
    start += name_length + extra_length
    if start + info.compress_size > blob.size:
        raise CorruptPackageError(
            f"member {name!r} is truncated: its data runs past the end of the package",
            member=name,
        )
    return start


# --- entry rules --------------------------------------------------------------------------------

_CONTROL = re.compile("[\x00-\x1f\x7f]")
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
)


def _check_name(name: str) -> None:
    """Refuse any name that is not a plain relative path on every OS we may extract on."""
    problem = _name_problem(name.removesuffix("/"))
    if problem:
        raise UnsafePackageError(f"member {name!r} {problem}", member=name)


def _name_problem(name: str) -> str | None:
    if not name:
        return "has an empty name"
    if _CONTROL.search(name):
        return "contains a NUL or control character"
    if "\\" in name:
        return "contains a backslash, a path separator on Windows"
    if name.startswith("/"):
        return "is an absolute path"
    if ":" in name:
        return "contains ':', a drive letter or an NTFS stream on Windows"
    for part in name.split("/"):
        if part == "..":
            return "contains '..', which would leave the destination folder"
        if part in ("", "."):
            return "contains an empty or '.' path component"
        if part[-1] in ". ":
            return "has a component ending in '.' or ' ', which Windows drops"
        if part.split(".")[0].upper() in _WINDOWS_DEVICES:
            return "uses a reserved Windows device name"
    if is_temp_name(posixpath.basename(name)):
        # Review 11 #3: the next extraction into its folder would delete it as stale.
        return "is named like an interrupted extraction's temporary file (.<name>.<hex>.tmp)"
    return None


def _check_type(info: zipfile.ZipInfo) -> None:
    """Only regular files and folders: a symlink entry could redirect later writes."""
    name = info.orig_filename
    kind = stat.S_IFMT(info.external_attr >> 16)  # the Unix mode, when the writer set one
    if info.is_dir():
        if kind not in (0, stat.S_IFDIR):
            raise UnsafePackageError(
                f"member {name!r} is a folder with mode {kind:#o}", member=name
            )
        if info.file_size:
            raise CorruptPackageError(f"folder {name!r} declares content", member=name)
        return
    if kind == stat.S_IFLNK:
        raise UnsafePackageError(f"member {name!r} is a symbolic link", member=name)
    if kind not in (0, stat.S_IFREG) or info.external_attr & 0x10:  # 0x10: MS-DOS folder bit
        raise UnsafePackageError(
            f"member {name!r} is not a regular file (mode {kind:#o})", member=name
        )


def _fold(name: str) -> str:
    # Windows and macOS compare names ignoring case, and macOS also ignoring Unicode form.
    return unicodedata.normalize("NFC", name).casefold()


# --- caps ---------------------------------------------------------------------------------------


def _check_member_size(
    name: str, size: int, compressed: int, limits: PackageLimits, how: str
) -> None:
    if size > limits.max_member_bytes:
        raise PackageTooLargeError(
            f"member {name!r} {how} {size} bytes, over max_member_bytes={limits.max_member_bytes}",
            member=name,
        )
    if size > limits.ratio_floor_bytes and size > limits.max_ratio * max(compressed, 1):
        raise PackageTooLargeError(
            f"member {name!r} {how} {size} bytes from {compressed} compressed, "
            f"over max_ratio={limits.max_ratio:g}",
            member=name,
        )


def _check_total(total: int, package_size: int, limits: PackageLimits, how: str) -> None:
    if total > limits.max_total_bytes:
        raise PackageTooLargeError(
            f"package {how} {total} bytes in total, over max_total_bytes={limits.max_total_bytes}"
        )
    if total > limits.ratio_floor_bytes and total > limits.max_ratio * package_size:
        raise PackageTooLargeError(
            f"package {how} {total} bytes from {package_size} bytes of ZIP, "
            f"over max_ratio={limits.max_ratio:g}"
        )


@attrs.define
class _Budget:
    """Bytes actually inflated so far, across the package."""

    limits: PackageLimits
    package_size: int
    total: int = 0

    def charge(self, size: int) -> None:
        self.total += size
        _check_total(self.total, self.package_size, self.limits, "expands to at least")


# --- reading members ----------------------------------------------------------------------------


def _member_bytes(
    blob: _Blob, entry: _Entry, limits: PackageLimits, budget: _Budget
) -> Iterator[bytes]:
    """Yield a member's bytes in chunks, enforcing the caps as they come, then size and CRC.

    Inflating is done here rather than by `zipfile`, which stops at the declared size: a header
    that understates a bomb must be caught by the caps, not silently cut.
    """
    info, name = entry.info, entry.name
    raw = blob.chunks(entry.data_offset, info.compress_size)
    chunks = _inflate(raw, name) if info.compress_type == zipfile.ZIP_DEFLATED else raw
    size = crc = 0
    for chunk in chunks:
        size += len(chunk)
        _check_member_size(name, size, info.compress_size, limits, "expands to at least")
        budget.charge(len(chunk))
        crc = zlib.crc32(chunk, crc)
        yield chunk
    _check_inflated(name, info, size, crc)


def _check_inflated(name: str, info: zipfile.ZipInfo, size: int, crc: int) -> None:
    """Refuse a member whose inflated `size` or CRC-32 is not what its header declares."""
    if size != info.file_size:
        raise CorruptPackageError(
            f"member {name!r} is {size} bytes but its header declares {info.file_size}",
            member=name,
        )
    if crc != info.CRC:
        raise CorruptPackageError(
            f"member {name!r} fails its CRC-32 check (stored {info.CRC:08x}, got {crc:08x})",
            member=name,
        )


def _bad_deflate(name: str, exc: zlib.error) -> CorruptPackageError:
    return CorruptPackageError(f"member {name!r} has bad deflate data: {exc}", member=name)


_ONE_PIECE = _MIB
"""A verified member up to this size is written from one read and one inflate
(`_whole_member`), not streamed: SAT's CFDIs are a few KB, and a year's thousands of them
spent more time in the streaming generators than in inflating."""


def _whole_member(blob: _Blob, entry: _Entry) -> bytes:
    """The bytes of a member the package's verification already checked (`_manifest`), read
    and inflated in one piece, checked again: the output is capped at its declared size, which
    the caps allowed, then its size and CRC-32 must match (the file may have changed since)."""
    info, name = entry.info, entry.name
    raw = blob.read(entry.data_offset, info.compress_size)
    if len(raw) != info.compress_size:
        raise CorruptPackageError(
            f"member {name!r} is truncated: its data runs past the end of the package",
            member=name,
        )
    data = raw
    if info.compress_type == zipfile.ZIP_DEFLATED and raw:  # empty: see `_inflate`
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            data = inflater.decompress(raw, info.file_size + 1)
        except zlib.error as exc:
            raise _bad_deflate(name, exc) from exc
        if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
            raise CorruptPackageError(
                f"member {name!r} does not inflate to the {info.file_size} bytes its header "
                "declares",
                member=name,
            )
    _check_inflated(name, info, len(data), zlib.crc32(data))
    return data


def _inflate(raw: Iterator[bytes], name: str) -> Iterator[bytes]:
    """Inflate raw deflate data, never producing more than `_CHUNK` bytes per step."""
    piece = next(raw, None)
    if piece is None:
        return  # some writers store an empty file as zero bytes of "deflate" data
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        while not inflater.eof:
            if inflater.unconsumed_tail:
                chunk = inflater.decompress(inflater.unconsumed_tail, _CHUNK)
            elif piece is not None:
                chunk = inflater.decompress(piece, _CHUNK)
                piece = next(raw, None)
            else:
                # Input used up: drain what zlib still holds (a long match cut by the bound).
                chunk = inflater.decompress(b"", _CHUNK)
                if not chunk and not inflater.eof:
                    raise CorruptPackageError(
                        f"member {name!r} is truncated: its deflate data ends early", member=name
                    )
            if chunk:
                yield chunk
    except zlib.error as exc:
        raise _bad_deflate(name, exc) from exc
    if inflater.unused_data or piece is not None:
        raise CorruptPackageError(
            f"member {name!r} has bytes after the end of its deflate data", member=name
        )


# --- writing ------------------------------------------------------------------------------------


class _Folders:
    """What one extraction learns once per folder instead of once per member: SAT packages
    put thousands of files in one folder, and resolving a path walks (lstat) each component.
    """

    def __init__(self) -> None:
        self._resolved: dict[Path, Path] = {}
        self._names: dict[Path, set[str] | None] = {}

    def resolve(self, lexical: Path) -> Path:
        folder = self._resolved.get(lexical)
        if folder is None:
            folder = self._resolved[lexical] = lexical.resolve()
        return folder

    def may_hold(self, folder: Path, name: str) -> bool:
        """False only when `folder` surely has no entry `name`: no entry of its listing
        matches it ignoring case and Unicode form (as Windows and macOS compare names)."""
        if folder not in self._names:
            try:
                listing: set[str] | None = {_fold(n) for n in os.listdir(folder)}
            except FileNotFoundError:
                listing = set()
            except OSError:
                listing = None  # unknown: each member asks the filesystem itself
            self._names[folder] = listing
        names = self._names[folder]
        return names is None or _fold(name) in names


def _target(
    root: Path, member: PackageMember, *, overwrite: bool, folders: _Folders
) -> tuple[Path, bool]:
    """Where a member goes under `root` (resolved), and whether it must be written."""
    name = member.name
    parent, base = posixpath.split(name)
    # resolve() follows symlinks already in the destination: a linked folder must not lead out.
    # `root` is resolved already, so a top-level member's folder is `root` itself.
    try:
        folder = folders.resolve(root.joinpath(parent)) if parent else root
    except RuntimeError:  # a symlink loop (Python 3.13 raises OSError ELOOP instead)
        raise ExtractConflictError(
            f"a symbolic link loop in {root} is in the way of member {name!r}'s folder",
            member=name,
        ) from None
    if folder is not root and not folder.is_relative_to(root):
        raise UnsafePackageError(
            f"member {name!r} would be written to {folder}, outside {root}", member=name
        )
    path = folder / base
    if not folders.may_hold(folder, base):
        return path, True  # the common case: a new file in a new or other-file folder
    try:
        found = path.lstat()
    except FileNotFoundError:
        return path, True
    except NotADirectoryError:
        raise ExtractConflictError(
            f"a file in {root} is in the way of member {name!r}'s folder", member=name
        ) from None
    if not stat.S_ISREG(found.st_mode):
        raise ExtractConflictError(f"{path} exists and is not a regular file", member=name)
    if found.st_size == member.size and _sha256_file(path) == member.sha256:
        return path, False
    if overwrite:
        return path, True
    raise ExtractConflictError(
        f"{path} already exists with other content; pass overwrite=True to replace it",
        member=name,
    )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
