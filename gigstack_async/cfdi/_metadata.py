"""SAT's metadata TXT: one ``~``-separated row per CFDI, read despite its known defects.

Defects handled (see sat-domain.md §8 and issue 10):

- header names vary in case (``Uuid``, ``UUID``): matched case-insensitively;
- a line break inside a name splits a record: a physical line continues the previous record,
  joined with a space (as XML attribute normalisation reads the same name from the CFDI),
  unless it begins with ``<uuid>~`` or its fixed-shape columns (RFCs, dates, amount, effect,
  status) line up as a record of its own; the field count alone never starts a record;
- a ``~`` inside a name (Anexo 20 forbids only ``|``, so ``Ventas ~Norte~ SA`` is legal): a row
  with more fields than the header is re-aligned. RFCs, dates, amounts, the effect and the status
  have fixed shapes, so the free-text name columns (NombreEmisor, NombreReceptor,
  NombreACuentaTerceros) absorb the surplus, rejoined with ``~``; in a ``_tercero.txt`` that is
  its last column. Only one alignment may fit: an ambiguous row is skipped and reported, and so
  is a row with more than 128 surplus fields ("too many `~` to re-align"), which bounds the cost
  of re-aligning one row;
- empty ``~~`` fields: empty text, or None for dates, amounts and status;
- rows with fewer fields than the header: read only if what is missing is optional
  (FechaCancelacion, the third-party columns, unknown columns); a record cut short before that
  (say, inside Monto) is skipped and reported, never padded into a wrong amount;
- rows with more fields that no name can absorb (kept in `extra` as ``#extra-NN``, never
  dropped);
- stray ``"``: there is no quoting in this format, so quotes are kept verbatim;
- CRLF or LF line ends, UTF-8 with or without BOM, blank lines before the header;
- encodings decided line by line: UTF-8 first, then cp1252, then Latin-1 for that line alone,
  so one Latin-1 byte does not garble the UTF-8 rows around it; every line that needed the
  fallback is listed in `MetadataRows.recoded`;
- UUIDs upper-cased, whatever case the file uses;
- a bad record (a blank or malformed Uuid, a value that cannot be read), a file that is not
  metadata, or an unreadable ``_tercero.txt`` row is skipped and reported in
  `MetadataRows.skipped`; every other row is still read.

Third-party columns (``RfcACuentaTerceros``, ``NombreACuentaTerceros``) may come from the row's
own columns (newer main files carry them) or from the package's ``_tercero.txt``. They are
filled as a pair, so an RFC is never paired with another party's name. Precedence: the row's
own pair wins if either of its two values is non-empty; else the first ``_tercero.txt`` pair
for the UUID. Every other ``_tercero.txt`` pair (a second third party for the same UUID, or
one that conflicts with the row) is kept in `extra` as ``("_tercero.txt:<Column>", value)``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

import attrs

from gigstack_async.cfdi._errors import MetadataParseError
from gigstack_async.cfdi._skipped import SkippedItem

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_RECORD_START = re.compile(_UUID.pattern + "~", re.I)
_RFC = re.compile(r"[A-ZÑ&]{3,4}[0-9]{6}[A-Z0-9]{3}", re.I)

# Lower-cased header name -> MetadataRow field.
_COLUMNS = {
    "uuid": "uuid",
    "rfcemisor": "rfc_emisor",
    "nombreemisor": "nombre_emisor",
    "rfcreceptor": "rfc_receptor",
    "nombrereceptor": "nombre_receptor",
    "rfcpac": "rfc_pac",
    "fechaemision": "fecha_emision",
    "fechacertificacionsat": "fecha_certificacion_sat",
    "monto": "monto",
    "efectocomprobante": "efecto_comprobante",
    "estatus": "estatus",
    "fechacancelacion": "fecha_cancelacion",
    "rfcacuentaterceros": "rfc_a_cuenta_terceros",
    "nombreacuentaterceros": "nombre_a_cuenta_terceros",
}
# Free text: the only columns that may hold a `~` of their own.
_NAMES = frozenset({"nombre_emisor", "nombre_receptor", "nombre_a_cuenta_terceros"})
_TERCERO_COLUMNS = {
    "rfc_a_cuenta_terceros": "RfcACuentaTerceros",
    "nombre_a_cuenta_terceros": "NombreACuentaTerceros",
}
# Columns a record may end before (a short row is padded only when these are all that is missing).
_OPTIONAL = frozenset({"fecha_cancelacion", "rfc_a_cuenta_terceros", "nombre_a_cuenta_terceros"})
# Re-aligning costs O(names x surplus^2) shape checks; past this many surplus fields, skip.
_MAX_SURPLUS = 128
_BLANK = " \t\r\n\x00\ufeff"
# One step of the re-alignment table: (empty fixed columns, ways capped at 2, values taken).
_Cell = tuple[int, int, int] | None


class Estatus(enum.Enum):
    """The ``Estatus`` column: the CFDI's status when SAT built the package."""

    VIGENTE = "1"
    CANCELADO = "0"


@attrs.frozen
class MetadataRow:
    """One row of a metadata TXT (SAT's column in the comment when the name differs).

    Text fields are "" when empty; dates (naive, Mexico local time), `monto` and `estatus` are
    None when empty. `rfc_a_cuenta_terceros` / `nombre_a_cuenta_terceros` come from the row's
    own columns, else from the package's ``_tercero.txt`` (see the module docstring for the
    precedence). `extra` keeps unknown columns, surplus fields and other third-party values as
    ``(name, value)`` pairs, the name being the header's, ``"#extra-NN"`` or
    ``"_tercero.txt:<Column>"``.
    """

    uuid: str
    rfc_emisor: str = ""
    nombre_emisor: str = ""
    rfc_receptor: str = ""
    nombre_receptor: str = ""
    rfc_pac: str = ""
    fecha_emision: datetime | None = None
    fecha_certificacion_sat: datetime | None = None
    monto: Decimal | None = None  # the CFDI's Total
    efecto_comprobante: str = ""  # I, E, T, N or P
    estatus: Estatus | None = None
    fecha_cancelacion: datetime | None = None
    rfc_a_cuenta_terceros: str = ""
    nombre_a_cuenta_terceros: str = ""
    extra: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class RecodedLine:
    """A physical line that was not UTF-8 and was read with `encoding` (cp1252 or latin-1)."""

    source: str
    line: int
    encoding: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: not UTF-8, read as {self.encoding}"


class MetadataRows(Iterator[MetadataRow]):
    """The rows of one or more metadata files, read lazily; `skipped` fills in as you iterate.

    After the loop, `skipped` lists every record, file or ``_tercero.txt`` row that was left out,
    with the reason (`SkippedItem`), and `recoded` every line that was not UTF-8 and was read
    as cp1252 or Latin-1 instead (`RecodedLine`; check its names)::

        rows = read_metadata(iter_package(zip_bytes))
        good = list(rows)
        for item in rows.skipped:
            print("skipped", item)
    """

    def __init__(
        self, produce: Callable[[list[SkippedItem], list[RecodedLine]], Iterator[MetadataRow]]
    ) -> None:
        self.skipped: list[SkippedItem] = []
        self.recoded: list[RecodedLine] = []
        self._rows = produce(self.skipped, self.recoded)

    def __iter__(self) -> MetadataRows:
        return self

    def __next__(self) -> MetadataRow:
        return next(self._rows)


def parse_metadata(
    text: bytes | str, *, terceros: bytes | str | None = None, name: str = "metadata.txt"
) -> MetadataRows:
    """Yield the rows of a metadata TXT, optionally joined with its ``_tercero.txt`` by UUID.

    Raises `MetadataParseError` (at the first row) only if the file itself is not a SAT
    metadata file (its header). A record that cannot be read is skipped and listed in the
    result's `skipped`, with `name` and its line number; the other rows are still yielded.

    Example::

        rows = parse_metadata(txt_bytes)
        for row in rows:
            if row.estatus is Estatus.CANCELADO:
                print(row.uuid, row.fecha_cancelacion)
        print(len(rows.skipped), "records skipped")
    """

    def produce(skipped: list[SkippedItem], recoded: list[RecodedLine]) -> Iterator[MetadataRow]:
        third = _third_parties(
            [] if terceros is None else [("_tercero.txt", terceros)],
            skipped,
            recoded,
            strict=True,
        )
        yield from _rows(name, _lines(name, text, recoded), third, skipped)

    return MetadataRows(produce)


def read_metadata(files: Iterable[tuple[str, bytes]]) -> MetadataRows:
    """Yield the metadata rows of a package's files, third-party data joined in.

    Files are told apart by their header, not their names. A file that is neither a metadata
    TXT nor a ``_tercero.txt`` (a readme, an XML), and every record that cannot be read, is
    skipped and listed in the result's `skipped`; nothing else is lost.

    Example::

        rows = read_metadata(iter_package(zip_bytes))
        table = list(rows)
        assert not rows.skipped, rows.skipped
    """
    main: list[tuple[str, bytes]] = []
    third: list[tuple[str, bytes]] = []
    others: list[str] = []
    for file_name, content in files:
        kind = metadata_kind(content)
        if kind == "metadata":
            main.append((file_name, content))
        elif kind == "terceros":
            third.append((file_name, content))
        else:
            others.append(file_name)

    def produce(skipped: list[SkippedItem], recoded: list[RecodedLine]) -> Iterator[MetadataRow]:
        skipped.extend(
            SkippedItem(other, None, "not a metadata TXT or _tercero.txt (header)")
            for other in others
        )
        joined = _third_parties(third, skipped, recoded, strict=False)
        for file_name, content in main:
            yield from _rows(file_name, _lines(file_name, content, recoded), joined, skipped)

    return MetadataRows(produce)


def metadata_kind(content: bytes | str) -> Literal["metadata", "terceros"] | None:
    """Whether `content` is a metadata TXT, a ``_tercero.txt``, or neither, from its header.

    Blank lines (and a BOM) before the header are skipped.
    """
    if isinstance(content, bytes):
        head = content.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n\x00")[:300]
        if head.startswith(b"<"):
            return None  # XML (a CFDI): a header starts with its first column's name
        first_line = _decode_line(head.partition(b"\n")[0])[0]
    else:
        first_line = content.lstrip(_BLANK).partition("\n")[0]
    columns = [name.strip().lower() for name in first_line.split("~")]
    if columns[:2] == ["uuid", "rfcemisor"]:
        return "metadata"
    if columns[:2] == ["uuid", "rfcacuentaterceros"]:
        return "terceros"
    return None


def _decode_line(raw: bytes) -> tuple[str, str | None]:
    """One line's text, and the fallback encoding it needed (None: it was UTF-8)."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    try:
        # Windows tools write cp1252 (Latin-1 plus ’ “ ” € …); its 5 undefined bytes fall through.
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"  # maps every byte: never fails


def _lines(source: str, text: bytes | str, recoded: list[RecodedLine]) -> list[tuple[int, str]]:
    """(physical line number, text) of every line, each decoded on its own, line ends removed.

    Splitting bytes on LF is safe for UTF-8, cp1252 and Latin-1 alike (no multi-byte sequence
    contains 0x0A), so a line in another encoding cannot garble its neighbours.
    """
    if isinstance(text, str):
        decoded = [line.removesuffix("\r") for line in text.removeprefix("\ufeff").split("\n")]
        return list(enumerate(decoded, 1))
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.removeprefix(b"\xef\xbb\xbf").split(b"\n"), 1):
        line, fallback = _decode_line(raw.removesuffix(b"\r"))
        if fallback is not None:
            recoded.append(RecodedLine(source, number, fallback))
        lines.append((number, line))
    return lines


# --- records ------------------------------------------------------------------------------------


def _header(lines: list[tuple[int, str]]) -> tuple[list[str], list[tuple[int, str]]]:
    """The header's column names and the lines after it (blank lines before it skipped)."""
    at = 0
    while at < len(lines) and not lines[at][1].strip(_BLANK):
        at += 1
    number, first = lines[at] if at < len(lines) else (1, "")
    header = first.lstrip(_BLANK).split("~")
    if header[0].strip().lower() != "uuid":
        raise MetadataParseError(f"line {number}: not a SAT metadata header: {first[:60]!r}")
    return header, lines[at + 1 :]


def _records(
    lines: list[tuple[int, str]], fields: list[str | None]
) -> Iterator[tuple[int, list[str]]]:
    """Each record's first line number and fields, physical lines joined back together.

    A line that starts with ``<uuid>~`` starts a record. Any other line continues the previous
    record (a name broken by a line break), unless its fixed-shape columns line up as a whole
    record (a record whose Uuid is blank or broken, skipped later): then it is a record of its
    own, so it cannot corrupt the record before it. A field count alone proves nothing: the
    rest of a broken name followed by a name with a `~` has as many fields as a record.
    """
    current: str | None = None
    start = 0
    for number, line in lines:
        if not line.strip():
            continue
        if _RECORD_START.match(line) or current is None or _is_record(fields, line.split("~")):
            if current is not None:
                yield start, current.split("~")
            current, start = line, number
        else:
            current += " " + line  # the rest of a name that contained a line break
    if current is not None:
        yield start, current.split("~")


def _is_record(fields: list[str | None], values: list[str]) -> bool:
    """Whether a line that does not start with a UUID still has a record's fixed shapes."""
    if len(values) < len(fields):
        return False
    loose = [None, *fields[1:]]  # the Uuid is judged later (blank or broken: reported)
    found = _best_alignment(loose, values)
    if found is None or isinstance(found, str):
        return False
    # At least one RFC must be present: an all-empty tail shapes like anything.
    return any(
        field is not None and field.startswith("rfc_") and value.strip()
        for field, value in zip(fields, found, strict=True)
    )


def _shape_ok(field: str | None, value: str) -> bool:
    """Whether `value` can sit in `field`: the fixed shapes that re-align a `~` in a name."""
    text = value.strip()
    if field is None or field in _NAMES or not text:
        return True
    if field == "uuid":
        return bool(_UUID.fullmatch(text))
    if field.startswith("rfc_"):
        return bool(_RFC.fullmatch(text))
    if field.startswith("fecha_"):
        return _datetime_or_none(text) is not None
    if field == "monto":
        return _decimal_or_none(text) is not None
    if field == "efecto_comprobante":
        return text.upper() in ("I", "E", "T", "N", "P")
    if field == "estatus":
        return text in ("0", "1")
    return True


def _align(header: list[str], fields: list[str | None], values: list[str]) -> list[str] | str:
    """`values` re-aligned to one per column, or the reason they cannot be read.

    Fewer values than columns: padded with "" if only optional trailing columns are missing,
    else refused (a record cut short). More: the surplus goes to the name columns, in the way
    that leaves every fixed-shape column well-formed (`_best_alignment`). Surplus that is only
    empty trailing fields, or that no name can absorb, stays at the end for `extra`.
    """
    width, surplus = len(fields), len(values) - len(fields)
    if surplus < 0:
        missing = [
            header[i].strip()
            for i in range(len(values), width)
            if fields[i] is not None and fields[i] not in _OPTIONAL
        ]
        if missing:
            return (
                f"cut short: {len(values)} of {width} fields, no {', '.join(missing)} "
                "(the last value may be cut too)"
            )
        return values + [""] * -surplus
    if surplus == 0:
        return values
    if not any(v.strip() for v in values[width:]) and _fits(fields, values[:width]):
        return values  # trailing separators: nothing to re-align
    found = _best_alignment(fields, values)
    return values if found is None else found


def _best_alignment(fields: list[str | None], values: list[str]) -> list[str] | str | None:
    """The one way to share `values` among `fields` with every fixed shape well-formed.

    Each name column takes one or more values (rejoined with ``~``), every other column one.
    Empty pieces of a name (``~~``) could also sit in a fixed column (empty is allowed there),
    so of the fitting ways the one leaving the fewest fixed columns empty wins; a tie is
    ambiguous and refused (a reason). None: no way fits. Dynamic programming over (column,
    position), so the cost is O(names x surplus^2), bounded by `_MAX_SURPLUS`.
    """
    width, count = len(fields), len(values)
    surplus = count - width
    if surplus > _MAX_SURPLUS:
        return (
            f"too many `~` to re-align: {surplus} field(s) more than the header "
            f"(at most {_MAX_SURPLUS})"
        )
    # best[c][p - c]: (empty fixed columns, ways (capped at 2), values taken) for fields[c:]
    # aligned with values[p:]; None where nothing fits.
    best: list[list[_Cell]] = [[None] * (surplus + 1) for _ in range(width + 1)]
    best[width][surplus] = (0, 1, 0)
    for col in range(width - 1, -1, -1):
        field = fields[col]
        for shift in range(surplus + 1):
            pos = col + shift
            if field in _NAMES:
                cell: _Cell = None
                for take in range(1, surplus - shift + 2):
                    sub = best[col + 1][shift + take - 1]
                    if sub is None:
                        continue
                    if cell is None or sub[0] < cell[0]:
                        cell = (sub[0], sub[1], take)
                    elif sub[0] == cell[0]:
                        cell = (cell[0], min(2, cell[1] + sub[1]), cell[2])
                best[col][shift] = cell
            else:
                sub = best[col + 1][shift]
                if sub is None or not _shape_ok(field, values[pos]):
                    continue
                best[col][shift] = (sub[0] + (not values[pos].strip()), sub[1], 1)
    top = best[0][0]
    if top is None:
        return None
    if top[1] > 1:
        return (
            f"{surplus} field(s) more than the header, and a `~` inside a name could belong "
            "to more than one name column"
        )
    aligned: list[str] = []
    shift = 0
    for col in range(width):
        cell = best[col][shift]
        assert cell is not None  # on the chosen path every cell fits
        pos = col + shift
        aligned.append("~".join(values[pos : pos + cell[2]]))
        shift += cell[2] - 1
    return aligned


def _fits(fields: list[str | None], values: list[str]) -> bool:
    return all(_shape_ok(field, value) for field, value in zip(fields, values, strict=True))


def _fields(header: list[str]) -> list[str | None]:
    """The MetadataRow field of each header column (None: unknown, kept in `extra`)."""
    return [_COLUMNS.get(name.strip().lower()) for name in header]


def _named(
    header: list[str], fields: list[str | None], values: list[str]
) -> tuple[dict[str, str], list[tuple[str, str]]] | str:
    """Pair values with known columns (after re-aligning); everything else goes to `extra`."""
    aligned = _align(header, fields, values)
    if isinstance(aligned, str):
        return aligned
    known: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for index, value in enumerate(aligned):
        if index >= len(header):
            extra.append((f"#extra-{index - len(header) + 1:02d}", value))
        elif field := fields[index]:
            known[field] = value
        else:
            extra.append((header[index], value))
    return known, extra


def _uuid_of(values: list[str]) -> str | None:
    uuid = values[0].strip().upper()
    return uuid if _UUID.fullmatch(uuid) else None


def _rows(
    source: str,
    lines: list[tuple[int, str]],
    third: Mapping[str, list[tuple[str, str]]],
    skipped: list[SkippedItem],
) -> Iterator[MetadataRow]:
    header, body = _header(lines)
    fields = _fields(header)
    if "rfc_emisor" not in fields:
        raise MetadataParseError("line 1: a third-party (_tercero) file, not a metadata file")
    for number, values in _records(body, fields):
        uuid = _uuid_of(values)
        if uuid is None:
            skipped.append(SkippedItem(source, number, _bad_uuid(values[0])))
            continue
        named = _named(header, fields, values)
        if isinstance(named, str):
            skipped.append(SkippedItem(source, number, f"{uuid}: {named}"))
            continue
        known, extra = named
        try:
            row = _row(uuid, known, extra, third.get(uuid, []))
        except ValueError as exc:
            skipped.append(SkippedItem(source, number, f"{uuid}: {exc}"))
            continue
        yield row


def _bad_uuid(value: str) -> str:
    if not value.strip():
        return "blank Uuid"
    return f"Uuid {value[:60]!r} is not a UUID (a line that belongs to no record)"


def _row(
    uuid: str,
    known: Mapping[str, str],
    extra: list[tuple[str, str]],
    third: list[tuple[str, str]],
) -> MetadataRow:
    own = (
        known.get("rfc_a_cuenta_terceros", "").strip(),
        known.get("nombre_a_cuenta_terceros", ""),
    )
    # The RFC and the name are one party: filled together, never one from each source.
    chosen = own if any(v.strip() for v in own) else (third[0] if third else ("", ""))
    for pair in third:
        if pair == chosen:
            continue
        rfc, nombre = pair
        for field, value in (("rfc_a_cuenta_terceros", rfc), ("nombre_a_cuenta_terceros", nombre)):
            extra.append((f"_tercero.txt:{_TERCERO_COLUMNS[field]}", value))
    return MetadataRow(
        uuid=uuid,
        rfc_emisor=known.get("rfc_emisor", "").strip(),
        nombre_emisor=known.get("nombre_emisor", ""),
        rfc_receptor=known.get("rfc_receptor", "").strip(),
        nombre_receptor=known.get("nombre_receptor", ""),
        rfc_pac=known.get("rfc_pac", "").strip(),
        fecha_emision=_datetime(known, "fecha_emision"),
        fecha_certificacion_sat=_datetime(known, "fecha_certificacion_sat"),
        monto=_decimal(known, "monto"),
        efecto_comprobante=known.get("efecto_comprobante", "").strip(),
        estatus=_estatus(known),
        fecha_cancelacion=_datetime(known, "fecha_cancelacion"),
        rfc_a_cuenta_terceros=chosen[0],
        nombre_a_cuenta_terceros=chosen[1],
        extra=tuple(extra),
    )


def _third_parties(
    files: Iterable[tuple[str, bytes | str]],
    skipped: list[SkippedItem],
    recoded: list[RecodedLine],
    *,
    strict: bool,
) -> dict[str, list[tuple[str, str]]]:
    """UUID -> every (RfcACuentaTerceros, NombreACuentaTerceros) for it, in file order.

    A CFDI 4.0 names its third parties per concept, so one UUID may have several rows.
    `strict`: a file that is not a _tercero.txt raises (the caller said it was one); otherwise
    it is skipped and reported like any bad row.
    """
    joined: dict[str, list[tuple[str, str]]] = {}
    for source, text in files:
        try:
            header, lines = _header(_lines(source, text, recoded))
        except MetadataParseError as exc:
            if strict:
                raise
            skipped.append(SkippedItem(source, None, str(exc)))
            continue
        fields = _fields(header)
        for number, values in _records(lines, fields):
            uuid = _uuid_of(values)
            if uuid is None:
                skipped.append(SkippedItem(source, number, _bad_uuid(values[0])))
                continue
            named = _named(header, fields, values)
            if isinstance(named, str):
                skipped.append(SkippedItem(source, number, f"{uuid}: {named}"))
                continue
            known, _extra = named
            pair = (
                known.get("rfc_a_cuenta_terceros", "").strip(),
                known.get("nombre_a_cuenta_terceros", ""),
            )
            entries = joined.setdefault(uuid, [])
            if pair not in entries:
                entries.append(pair)
    return joined


# --- values -------------------------------------------------------------------------------------


def _datetime_or_none(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)  # SAT writes "2018-01-11 07:10:23"
    except ValueError:
        return None
    return None if moment.tzinfo is not None else moment


def _decimal_or_none(value: str) -> Decimal | None:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _datetime(known: Mapping[str, str], field: str) -> datetime | None:
    value = known.get(field, "").strip()
    if not value:
        return None
    moment = _datetime_or_none(value)
    if moment is None:
        raise ValueError(f"{field} {value!r} is not a date-time like 2018-01-11 07:10:23")
    return moment


def _decimal(known: Mapping[str, str], field: str) -> Decimal | None:
    value = known.get(field, "").strip()
    if not value:
        return None
    amount = _decimal_or_none(value)
    if amount is None:
        raise ValueError(f"{field} {value!r} is not a decimal amount")
    return amount


def _estatus(known: Mapping[str, str]) -> Estatus | None:
    value = known.get("estatus", "").strip()
    if not value:
        return None
    try:
        return Estatus(value)
    except ValueError:
        raise ValueError(f"estatus {value!r} is neither 1 (vigente) nor 0 (cancelado)") from None
