"""Is a staged package another request's? Checked before anything is extracted.

A request id the journal trusts may name another request: the server's ids may restart (the
sandbox's `ids-restart` profile), a history may omit `requestType` (documented fields only),
and a user may adopt a mistyped id. The package itself says what it is, so before a month
extracts it the engine asks `scan_package`. A package is refused only on POSITIVE evidence
that it belongs to another request:

- a readable CFDI (a well-formed `cfdi:Comprobante` start tag of CFDI 3.3 or 4.0, read with
  the standard XML parser, DOCTYPE refused) whose `Fecha` lies outside the month's dates;
- a metadata row whose `FechaEmision` lies outside them;
- a CFDI month's package holding SAT metadata TXT and no readable CFDI, or the reverse;
- documents naming more than one taxpayer on the request's side: in a "received" request every
  CFDI's `Receptor/@Rfc` (metadata: `RfcReceptor`) is the taxpayer, in an "issued" request the
  `Emisor/@Rfc` (`RfcEmisor`). An issued request's package (one issuer, many receivers) in a
  received month fails this; so does one whose other side is the journal's RFC.

"Outside" allows one day either side: `Fecha` is Mexico City wall time while a period may have
been read in another zone. An unreadable or missing date, a member that is neither CFDI XML
nor metadata, an empty package and a row whose columns do not line up are NOT evidence: the
month goes on to extraction, which verifies the package as before. What content cannot show:
a request for part of the month (1..15 of a month) holds only dates inside the month; the
user who adopts a request vouches for its dates when the history cannot show them.

Memory stays flat: members are read in 64 KiB pieces under `PackageLimits` (a bomb raises
`PackageTooLargeError` as extraction would), an XML only until its Emisor and Receptor, a
metadata TXT line by line.
"""

from __future__ import annotations

import hashlib
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

import attrs

from gigstack_async.cfdi import metadata_kind
from gigstack_async.packages import DEFAULT_LIMITS, PackageLimits, stream_staged

__all__ = [
    "CfdiHead",
    "Extraction",
    "PackageReader",
    "PackageScan",
    "WholeLook",
    "cfdi_heads",
    "cfdi_uuid_of",
    "cfdi_uuids",
    "damaged_cfdis",
    "damaged_files",
    "extraction_of",
    "lost_files",
    "metadata_rows",
    "package_mismatch",
    "recorded_extractions",
    "scan_files",
    "scan_package",
    "visible_files",
]

_SLACK = timedelta(days=1)
_CHUNK = 64 * 1024
_XML_PIECE = 1024  # what `_cfdi` feeds the XML parser at a time
_CFDI_NS = ("http://www.sat.gob.mx/cfd/4", "http://www.sat.gob.mx/cfd/3")
_DAY = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})")
_UUID_START = re.compile(
    r"^\s*[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\s*~", re.IGNORECASE
)
_UUID_NAME = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.xml$", re.IGNORECASE
)
_MAX_LINE = 1024 * 1024
"""A metadata line longer than this is not read (not evidence): bounds the line buffer."""
_SIDE = {"received": ("receptor", "emisor"), "issued": ("emisor", "receptor")}
_NAME_COLUMNS = ("nombreemisor", "nombrereceptor", "nombreacuentaterceros")


def cfdi_uuid_of(name: str) -> str | None:
    """The UUID (lowercase) a member or file named `<UUID>.xml` says it holds, else None."""
    found = _UUID_NAME.match(name)
    return None if found is None else found.group(1).lower()


@attrs.frozen
class PackageScan:
    """What a staged package shows: `mismatch` (why it is another request's, in words) or
    None; `rfc`, the taxpayer's RFC when every readable document names the same one."""

    mismatch: str | None
    rfc: str | None


def package_mismatch(
    path: Path,
    *,
    request_type: str,
    start: date,
    end: date,
    rfc_type: str = "received",
    journal_rfc: str | None = None,
    limits: PackageLimits = DEFAULT_LIMITS,
) -> str | None:
    """`scan_package(...).mismatch`."""
    return scan_package(
        path,
        request_type=request_type,
        start=start,
        end=end,
        rfc_type=rfc_type,
        journal_rfc=journal_rfc,
        limits=limits,
    ).mismatch


@attrs.define
class _Seen:
    """Counts, never lists that grow with the package (memory stays flat)."""

    window: tuple[date, date] | None
    dated: int = 0
    outside: int = 0
    earliest: date | None = None
    latest: date | None = None
    own: set[str] = attrs.Factory(set)  # at most 4 kept: two already prove a mismatch
    other: set[str] = attrs.Factory(set)
    cfdi: int = 0
    first_cfdi: str = ""
    metadata: list[str] = attrs.Factory(list)

    def day(self, value: str | None) -> None:
        day = _day(value)
        if day is None:
            return  # empty or unreadable: not evidence either way
        self.dated += 1
        if self.window is None or self.window[0] <= day <= self.window[1]:
            return
        self.outside += 1
        self.earliest = day if self.earliest is None else min(self.earliest, day)
        self.latest = day if self.latest is None else max(self.latest, day)

    def rfc(self, side: str, value: str) -> None:
        found = self.own if side == "own" else self.other
        if len(found) < 4:
            found.add(value)


def scan_package(
    path: Path,
    *,
    request_type: str,
    start: date | None,
    end: date | None,
    rfc_type: str = "received",
    journal_rfc: str | None = None,
    limits: PackageLimits = DEFAULT_LIMITS,
) -> PackageScan:
    """Read the staged ZIP at `path` for a month of `request_type` ("cfdi" or "metadata") and
    `rfc_type` ("received" or "issued") over start..end (see the module docstring; dates
    None: not checked).

    Raises `PackageError` (a `GigstackError`: a bomb, a corrupt or unsafe package) or `OSError`
    for a package that cannot be read; extraction reports those.
    """
    return _scan(
        stream_staged(path, limits),
        request_type=request_type,
        start=start,
        end=end,
        rfc_type=rfc_type,
        journal_rfc=journal_rfc,
    )


def scan_files(
    paths: Iterable[Path],
    *,
    request_type: str,
    start: date | None,
    end: date | None,
    rfc_type: str = "received",
    journal_rfc: str | None = None,
) -> PackageScan:
    """The same check as `scan_package`, on files already extracted (`journal keep`): each
    file is read in 64 KiB pieces (an XML only until its Emisor and Receptor), so memory stays
    flat. Raises `OSError` for a file that cannot be read."""
    return _scan(
        _files(paths),
        request_type=request_type,
        start=start,
        end=end,
        rfc_type=rfc_type,
        journal_rfc=journal_rfc,
    )


@attrs.frozen
class CfdiHead:
    """What one file of a month's folder says of itself: `day`, the CFDI's issue date (its
    `Fecha`, Mexico City wall time), and `rfc`, the RFC on the request's side (`Receptor` in a
    received request, `Emisor` in an issued one). `cfdi` False: not a readable CFDI (another
    file, damaged XML): then neither is known."""

    name: str
    cfdi: bool
    day: date | None = None
    rfc: str | None = None


def cfdi_heads(paths: Iterable[Path], *, rfc_type: str = "received") -> tuple[CfdiHead, ...]:
    """Each file's `CfdiHead`, read as `scan_files` reads it (64 KiB pieces, an XML only until
    its Emisor and Receptor: memory stays flat). Raises `OSError` for a file that cannot be
    read. `journal repair` tells by them which of a folder's files are which request's days,
    and `journal keep` proves from them which days a request's files are of."""
    own_side = _SIDE.get(rfc_type, (None, None))[0]
    heads = []
    for name, chunks in _files(paths):
        seen = _Seen(None)
        first = next(chunks, b"")
        if metadata_kind(first) == "metadata":
            heads.append(CfdiHead(name, False))
            continue
        head = _cfdi(name, first, chunks, seen, own_side, None)
        if head is None:
            heads.append(CfdiHead(name, False))
            continue
        rfc = head.rfc.get(own_side) if own_side is not None else None
        heads.append(CfdiHead(name, True, _day(head.fecha), rfc or None))
    return tuple(heads)


_TFD_NS = "http://www.sat.gob.mx/TimbreFiscalDigital"


class _Whole:
    """An `ET.XMLParser` target that reads a whole CFDI: its Comprobante (with a Fecha) and
    the UUID of its TimbreFiscalDigital, the stamp at the document's end."""

    def __init__(self) -> None:
        self.depth = 0
        self.comprobante = False
        self.uuid: str | None = None

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.depth += 1
        ns, _, local = tag[1:].partition("}")
        if self.depth == 1:
            if local != "Comprobante" or ns not in _CFDI_NS:
                raise _Stop
            self.comprobante = bool(attrib.get("Fecha"))
        elif local == "TimbreFiscalDigital" and ns == _TFD_NS:
            self.uuid = attrib.get("UUID", "").strip().lower() or None

    def end(self, tag: str) -> None:
        self.depth -= 1

    def data(self, text: str) -> None:
        pass

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise _Stop  # a CFDI never has one (and no entity it declares is ever expanded)

    def close(self) -> None:
        pass


def damaged_cfdis(paths: Iterable[Path]) -> tuple[str, ...]:
    """The names of the `<UUID>.xml` files among `paths` that are not a complete CFDI: XML
    read to its end (a truncated file is not well-formed), a Comprobante with its Fecha, and
    a TimbreFiscalDigital whose UUID is the one the name says (review 9m #10: counted by name,
    a file cut to 100 bytes passed as a CFDI). Other files are not looked at. Each file is read
    in 64 KiB pieces (memory stays flat). Raises `OSError` for a file that cannot be read."""
    damaged = []
    for path in paths:
        uuid = cfdi_uuid_of(path.name)
        if uuid is None:
            continue
        whole = _Whole()
        parser = ET.XMLParser(target=whole)
        ok = True
        chunks = _read_chunks(path)
        try:
            first = next(chunks, b"")
            if not first.startswith((b"\xff\xfe", b"\xfe\xff")):
                at = first.find(b"<")  # a BOM or CRLF before the declaration is not the document
                first = first[at:] if at >= 0 else first
            parser.feed(first)
            for chunk in chunks:
                parser.feed(chunk)
            parser.close()
        except (_Stop, ET.ParseError, ValueError):
            ok = False
        finally:
            chunks.close()
        if not (ok and whole.comprobante and whole.uuid == uuid):
            damaged.append(path.name)
    return tuple(damaged)


def cfdi_uuids(names: Iterable[str]) -> set[str]:
    """The CFDI UUIDs (lowercase) among extracted file names: SAT's package names each CFDI
    `<UUID>.xml` (its TimbreFiscalDigital UUID), matched case-insensitively, so a copy under
    another name (`… copy.xml`), a PDF beside it or a name differing only in case adds none.
    Only names are read (`journal keep` counts what it keeps against SAT's count)."""
    return {uuid for name in names if (uuid := cfdi_uuid_of(name)) is not None}


def visible_files(folder: Path | None) -> tuple[str, ...]:
    """The names of the files in a month's folder, sorted: not our hidden temporary files,
    not subfolders; () when there is no such folder."""
    if folder is None or not folder.is_dir():
        return ()
    # `scandir` knows a file from a folder without a `stat` of each (review 9o: every run
    # lists each done month's folder).
    with os.scandir(folder) as entries:
        return tuple(sorted(e.name for e in entries if not e.name.startswith(".") and e.is_file()))


@attrs.frozen
class Extraction:
    """What a month's journal recorded of one extracted file (review 9o #5, #6): its size
    (bytes) and mtime (ns) right after extraction, and, for a CFDI the package itself held in
    a form `damaged_cfdis` calls damaged, the SHA-256 (hex) of those bytes."""

    size: int
    mtime_ns: int
    served_sha256: str | None = None


class _Extracted(Protocol):
    """`machine.ExtractedPackage`, as far as `recorded_extractions` reads it."""

    @property
    def files(self) -> tuple[str, ...]: ...
    @property
    def stamps(self) -> tuple[tuple[int, int], ...]: ...
    @property
    def served_damaged(self) -> tuple[tuple[str, str], ...]: ...


def recorded_extractions(extracted: Iterable[_Extracted]) -> dict[str, Extraction]:
    """Each file's `Extraction` as a journal recorded it (`MonthState.extracted`): the files
    of a package recorded without one stamp each (a journal written before) are left out, so
    `lost_files` looks at their bytes as before."""
    found: dict[str, Extraction] = {}
    for e in extracted:
        if len(e.stamps) != len(e.files):
            continue
        served = dict(e.served_damaged)
        for name, (size, mtime_ns) in zip(e.files, e.stamps, strict=True):
            found[name] = Extraction(size, mtime_ns, served.get(name))
    return found


def extraction_of(path: Path) -> Extraction:
    """`Extraction` of the file at `path` as extraction left it: its size and mtime, and its
    SHA-256 when it is a `<UUID>.xml` whose bytes `damaged_cfdis` calls damaged (SAT's own
    form of it: never counted as damage later). Raises `OSError`."""
    stat = path.stat()
    uuid = cfdi_uuid_of(path.name)
    served = None
    if uuid is not None and not _intact(path, uuid):
        served = _sha256(path)
    return Extraction(stat.st_size, stat.st_mtime_ns, served)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    chunks = _read_chunks(path)
    try:
        for chunk in chunks:
            digest.update(chunk)
    finally:
        chunks.close()
    return digest.hexdigest()


def lost_files(
    folder: Path | None,
    names: Sequence[str],
    recorded: Mapping[str, Extraction] | None = None,
) -> tuple[str, ...]:
    """The files `names` (a month's recorded extraction) that `folder` no longer holds intact.
    CFDIs (`<UUID>.xml`) are compared by UUID, as `journal keep` counts them (`cfdi_uuids`: a
    copy under another name or a PDF beside it holds no CFDI); other files by name. A CFDI
    whose every copy in the folder is damaged is lost too.

    Damaged: a copy `recorded` (its `Extraction`) whose size and mtime are unchanged is intact
    as extracted, without being read (the package's own bytes, whatever they are: review 9o
    #5); one that changed is read whole (`damaged_cfdis`, the check `journal keep` makes: a
    file cut short, zeroed, cut at the head, a flipped byte; review 9o #6), and its bytes
    being the package's own (`Extraction.served_sha256`) are not damage. A copy not recorded (a
    journal written before sizes were, `journal keep`'s files) gets the cheap look: read whole
    only when its bytes do not end with the closing `Comprobante` tag or do not hold its UUID
    (`_looks_whole`: catches a file cut short, review 9n #3, not one changed inside)."""
    if folder is None or not names:
        return ()
    held = set(visible_files(folder))
    uuids = cfdi_uuids(held)
    gone = {
        name
        for name in names
        if name not in held
        and not ((mine := cfdi_uuids([name])) and mine <= uuids)
        # A member in a subfolder of the package (not listed above): looked up by its path.
        and not ("/" in name and (folder / name).is_file())
    }
    broken = _broken_uuids(
        folder, held, cfdi_uuids(n for n in names if n not in gone), recorded or {}
    )
    return tuple(name for name in names if name in gone or cfdi_uuids([name]) & broken)


def _broken_uuids(
    folder: Path, held: Iterable[str], wanted: set[str], recorded: Mapping[str, Extraction]
) -> set[str]:
    """The UUIDs of `wanted` whose every copy among the `held` names is damaged."""
    copies: dict[str, list[str]] = {}
    for name in held:
        uuid = cfdi_uuid_of(name)
        if uuid is not None and uuid in wanted:
            copies.setdefault(uuid, []).append(name)
    return {
        uuid
        for uuid, found in copies.items()
        if not any(_intact(folder / name, uuid, recorded.get(name)) for name in found)
    }


def damaged_files(
    folder: Path, names: Iterable[str], recorded: Mapping[str, Extraction] | None = None
) -> tuple[str, ...]:
    """The `<UUID>.xml` files among `names` in `folder` that are there but damaged: a copy
    `recorded` (its `Extraction`) as `lost_files` checks it; any other read in full
    (`damaged_cfdis`, never the cheap look alone: a refill sets these aside before it extracts
    without overwriting, and a byte changed inside passes the cheap look, review 9o #6). An
    unreadable file is damaged, a missing one is not listed."""
    known = recorded or {}
    found = []
    for name in names:
        uuid = cfdi_uuid_of(name)
        path = folder / name
        if uuid is None or not path.is_file():
            continue
        mine = known.get(name)
        try:
            whole = _intact(path, uuid, mine) if mine else not damaged_cfdis([path])
        except OSError:
            whole = False
        if not whole:
            found.append(name)
    return tuple(found)


_END = re.compile(rb"</(?:[A-Za-z_][\w.\-]*:)?Comprobante\s*>\s*$")


def _intact(path: Path, uuid: str, recorded: Extraction | None = None) -> bool:
    """Whether the file at `path` is a complete CFDI stamped `uuid`. With its `recorded`
    extraction: unchanged size and mtime, else the full check of `damaged_cfdis`, else bytes
    that are the package's own. Without: `_looks_whole`, else the full check (a CFDI written
    otherwise, e.g. UTF-16, is not refused by the cheap look alone)."""
    try:
        if recorded is None:
            return _looks_whole(path, uuid) or not damaged_cfdis([path])
        stat = path.stat()
        if (stat.st_size, stat.st_mtime_ns) == (recorded.size, recorded.mtime_ns):
            return True
        if not damaged_cfdis([path]):
            return True
        return recorded.served_sha256 is not None and _sha256(path) == recorded.served_sha256
    except OSError:
        return False  # unreadable: no CFDI the folder can be said to hold


def _looks_whole(path: Path, uuid: str) -> bool:
    """The cheap check: the bytes end with a closing `Comprobante` tag and hold `uuid` (any
    case). Read in 64 KiB pieces; no XML is parsed."""
    look = WholeLook(uuid)
    chunks = _read_chunks(path)
    try:
        for _chunk in look.watch(chunks):
            pass
    finally:
        chunks.close()
    return look.whole


class WholeLook:
    """`_looks_whole` on bytes as they pass: `watch(chunks)` yields them unchanged; once they
    are all through, `whole` says whether they end with a closing `Comprobante` tag and hold
    `uuid` (any case). Memory: the last 256 bytes."""

    def __init__(self, uuid: str) -> None:
        self._needle = uuid.lower().encode("ascii")
        self._tail = b""
        self._seen = False

    def watch(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            window = self._tail + chunk
            self._seen = self._seen or self._needle in window.lower()
            self._tail = window[-256:]
            yield chunk

    @property
    def whole(self) -> bool:
        return self._seen and _END.search(self._tail) is not None


def metadata_rows(paths: Iterable[Path]) -> int:
    """The rows (lines starting `<UUID>~`) of the SAT metadata TXT files at `paths`; a file
    whose bytes repeat an earlier one's (a copy) is counted once, a file that is not metadata
    not at all. Each file is read in 64 KiB pieces: memory holds one SHA-256 per file, never
    the rows. Raises `OSError` for a file that cannot be read."""
    digests: set[bytes] = set()
    total = 0
    for _name, chunks in _files(paths):
        digest = hashlib.sha256()
        hashed = _hashing(chunks, digest)
        first = next(hashed, b"")
        if metadata_kind(first) != "metadata":
            continue
        rows = sum(1 for line in _lines(first, hashed) if _UUID_START.match(line))
        if digest.digest() not in digests:
            digests.add(digest.digest())
            total += rows
    return total


def _hashing(chunks: Iterator[bytes], digest: hashlib._Hash) -> Iterator[bytes]:
    for chunk in chunks:
        digest.update(chunk)
        yield chunk


def _files(paths: Iterable[Path]) -> Iterator[tuple[str, Generator[bytes]]]:
    for path in paths:
        chunks = _read_chunks(path)
        try:
            yield path.name, chunks
        finally:
            chunks.close()  # the XML reader stops early: the file is closed now, not at GC


def _read_chunks(path: Path) -> Generator[bytes]:
    # The descriptor itself, not a buffered file: `open()` would also fstat, seek and ask
    # whether it is a terminal, and each system call lets another thread take the GIL (a run
    # reads every extracted CFDI once, beside the event loop and other extractions).
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        while chunk := os.read(fd, _CHUNK):
            yield chunk
    finally:
        os.close(fd)


def _scan(
    members: Iterable[tuple[str, Iterator[bytes]]],
    *,
    request_type: str,
    start: date | None,
    end: date | None,
    rfc_type: str,
    journal_rfc: str | None,
) -> PackageScan:
    reader = PackageReader(start=start, end=end, rfc_type=rfc_type)
    for name, chunks in members:
        reader(name, chunks)
    return reader.verdict(request_type=request_type, journal_rfc=journal_rfc)


class PackageReader:
    """`scan_package`'s reading, one member at a time: a `packages.MemberInspector`, so the
    pass that verifies a package as it is staged (`fetch_package_to(inspect=...)`) also reads
    it, and extraction need not inflate it again. `verdict` then says what `scan_package`
    would (the journal's RFC is asked for then: another month may have learnt it since).
    A member is read only until its kind and head are known (memory stays flat)."""

    def __init__(self, *, start: date | None, end: date | None, rfc_type: str) -> None:
        self.start = start
        self.end = end
        self.rfc_type = rfc_type
        sides: tuple[str | None, str | None] = _SIDE.get(rfc_type, (None, None))
        self._own_side, self._other_side = sides
        window = None if start is None or end is None else (start - _SLACK, end + _SLACK)
        self._seen = _Seen(window)

    def __call__(self, name: str, chunks: Iterator[bytes]) -> None:
        seen = self._seen
        first = next(chunks, b"")
        kind = metadata_kind(first)
        if kind == "metadata":
            seen.metadata.append(name)
            _metadata(first, chunks, seen, self._own_side, self._other_side)
        elif kind is None:
            _cfdi(name, first, chunks, seen, self._own_side, self._other_side)

    def verdict(self, *, request_type: str, journal_rfc: str | None) -> PackageScan:
        """What the members read so far show of a month of `request_type`."""
        seen, start, end, rfc_type = self._seen, self.start, self.end, self.rfc_type
        own_side, other_side = self._own_side, self._other_side
        unit = "rows" if request_type == "metadata" else "CFDIs"
        if request_type == "metadata" and seen.cfdi and not seen.metadata:
            return PackageScan(
                f"{seen.cfdi} CFDI XML files (e.g. {seen.first_cfdi}), not metadata TXT", None
            )
        if request_type == "cfdi" and seen.metadata and not seen.cfdi:
            return PackageScan(f"SAT metadata TXT ({_names(seen.metadata)}), not CFDI XML", None)
        if seen.outside:
            return PackageScan(
                f"{seen.outside} of {seen.dated} {unit} issued {seen.earliest}..{seen.latest}, "
                f"outside {start}..{end}",
                None,
            )
        if len(seen.own) > 1:
            shown = ", ".join(sorted(seen.own)[:3])
            return PackageScan(
                f"its {unit} name {_several(seen.own)} RFCs as {own_side} ({shown}…), while "
                f"every {'CFDI' if unit == 'CFDIs' else 'row'} of "
                f"{'an' if rfc_type == 'issued' else 'a'} {rfc_type} request names the "
                f"taxpayer there: it is another request's (the {_flip(rfc_type)} one?)",
                None,
            )
        if journal_rfc is not None and seen.own != {journal_rfc} and seen.other == {journal_rfc}:
            return PackageScan(
                f"its {unit} name this journal's RFC {journal_rfc} as {other_side}: it is the "
                f"{_flip(rfc_type)} request's package, not the {rfc_type} one",
                None,
            )
        rfc = next(iter(seen.own)) if len(seen.own) == 1 else None
        return PackageScan(None, rfc)


# --- CFDI XML -----------------------------------------------------------------------------------


class _Stop(Exception):
    """Enough was read (or the document is not a CFDI): stop feeding the parser."""


class _Head:
    """An `ET.XMLParser` target that keeps the Comprobante's Fecha and its Emisor/Receptor."""

    def __init__(self) -> None:
        self.depth = 0
        self.ns: str | None = None
        self.fecha: str | None = None
        self.rfc: dict[str, str] = {}

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.depth += 1
        if self.depth == 1:
            ns, _, local = tag[1:].partition("}")
            if local != "Comprobante" or ns not in _CFDI_NS:
                raise _Stop
            self.ns, self.fecha = ns, attrib.get("Fecha")
        elif self.depth == 2 and tag in (f"{{{self.ns}}}Emisor", f"{{{self.ns}}}Receptor"):
            side = "emisor" if tag.endswith("}Emisor") else "receptor"
            self.rfc[side] = attrib.get("Rfc", "").strip().upper()
            if len(self.rfc) == 2:
                raise _Stop

    def end(self, tag: str) -> None:
        self.depth -= 1

    def data(self, text: str) -> None:
        pass

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        # A CFDI never has one; refused before any entity it declares can be expanded.
        raise _Stop

    def close(self) -> None:
        pass


def _cfdi(
    name: str,
    first: bytes,
    chunks: Iterator[bytes],
    seen: _Seen,
    own_side: str | None,
    other_side: str | None,
) -> _Head | None:
    head = _Head()
    parser = ET.XMLParser(target=head)
    if not first.startswith((b"\xff\xfe", b"\xfe\xff")):
        at = first.find(b"<")  # a CRLF or BOM before the declaration: not part of the document
        first = first[at:] if at >= 0 else first
    try:
        # In small pieces: expat tokenizes all it is fed, even after the Receptor stopped
        # `_Head`, and a CFDI's head is its first kilobyte or two (a package holds thousands).
        for at in range(0, len(first), _XML_PIECE):
            parser.feed(first[at : at + _XML_PIECE])
        for chunk in chunks:
            parser.feed(chunk)
    except (_Stop, ET.ParseError, ValueError):
        pass
    if head.ns is None:
        return None  # not a readable CFDI (another file, damaged XML): not evidence
    seen.cfdi += 1
    seen.first_cfdi = seen.first_cfdi or name
    seen.day(head.fecha)
    if own_side is not None and head.rfc.get(own_side):
        seen.rfc("own", head.rfc[own_side])
    if other_side is not None and head.rfc.get(other_side):
        seen.rfc("other", head.rfc[other_side])
    return head


# --- metadata TXT -------------------------------------------------------------------------------


def _metadata(
    first: bytes,
    chunks: Iterator[bytes],
    seen: _Seen,
    own_side: str | None,
    other_side: str | None,
) -> None:
    lines = _lines(first, chunks)
    header: list[str] | None = None
    for line in lines:
        if header is None:
            if line.strip(" \t\r\n\x00\ufeff"):
                header = [c.strip().lower() for c in line.lstrip("\ufeff").split("~")]
            continue
        if not _UUID_START.match(line):
            continue  # a name's continuation after a line break, or a blank: not a row start
        values = line.split("~")
        seen.day(_cell(header, values, "fechaemision"))
        for side, into in ((own_side, "own"), (other_side, "other")):
            rfc = _cell(header, values, f"rfc{side}") if side else None
            if rfc and rfc.strip():
                seen.rfc(into, rfc.strip().upper())


def _cell(header: list[str], values: list[str], column: str) -> str | None:
    """The row's value in `column`, only where the row's fields surely line up with the header.

    A `~` inside a name adds fields (columns after the first name shift); a line break inside
    a name cuts the row (its last field is partial): such cells are not read.
    """
    if column not in header:
        return None
    index = header.index(column)
    if len(values) == len(header):
        return values[index]
    names = [header.index(c) for c in _NAME_COLUMNS if c in header]
    safe = len(values) - 1 if len(values) < len(header) else min(names, default=len(values))
    return values[index] if index < safe else None


def _lines(first: bytes, chunks: Iterator[bytes]) -> Iterator[str]:
    """The member's lines, read piece by piece; a line over `_MAX_LINE` bytes is dropped."""
    buffer = first.removeprefix(b"\xef\xbb\xbf")
    dropping = False
    for chunk in _chain(chunks):
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for raw in complete:
            if dropping:
                dropping = False
                continue
            yield raw.decode("utf-8", "replace").removesuffix("\r")
        if len(buffer) > _MAX_LINE:
            buffer, dropping = b"", True
    if buffer and not dropping:
        yield buffer.decode("utf-8", "replace").removesuffix("\r")


def _chain(chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield b""  # the first piece is already in the buffer
    yield from chunks


# --- helpers ------------------------------------------------------------------------------------


def _day(value: str | None) -> date | None:
    found = _DAY.match(value or "")
    try:
        return None if found is None else date.fromisoformat(found.group(1))
    except ValueError:
        return None


def _several(found: set[str]) -> str:
    return f"{len(found)}" if len(found) < 4 else "4 or more"


def _flip(rfc_type: str) -> str:
    return "issued" if rfc_type == "received" else "received"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return f"{shown} and {len(names) - 3} more" if len(names) > 3 else shown or "nothing"
