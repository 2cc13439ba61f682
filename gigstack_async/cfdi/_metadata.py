"""SAT's metadata TXT: one ``~``-separated row per CFDI, read despite its known defects.

Defects handled (see sat-domain.md §8 and issue 10):

- header names vary in case (``Uuid``, ``UUID``): matched case-insensitively;
- a line break inside a name splits a record: a physical line that does not begin with
  ``<uuid>~`` continues the previous record, joined with a space (as XML attribute
  normalisation reads the same name from the CFDI);
- a ``~`` inside a name (Anexo 20 forbids only ``|``, so ``Ventas ~Norte~ SA`` is legal): a row
  with more fields than the header is re-aligned. RFCs, dates, amounts, the effect and the status
  have fixed shapes, so the free-text name columns (NombreEmisor, NombreReceptor,
  NombreACuentaTerceros) absorb the surplus, rejoined with ``~``; in a ``_tercero.txt`` that is
  its last column. Only one alignment may fit: an ambiguous row is skipped and reported;
- empty ``~~`` fields: empty text, or None for dates, amounts and status;
- rows with fewer fields than the header (the rest are empty), or more that no name can absorb
  (kept in `extra` as ``#extra-NN``, never dropped);
- stray ``"``: there is no quoting in this format, so quotes are kept verbatim;
- CRLF or LF line ends, UTF-8 with or without BOM (Latin-1 if not UTF-8);
- UUIDs upper-cased, whatever case the file uses;
- a bad record (a blank or malformed Uuid, a value that cannot be read), a file that is not
  metadata, or an unreadable ``_tercero.txt`` row is skipped and reported in
  `MetadataRows.skipped`; every other row is still read.

Third-party columns (``RfcACuentaTerceros``, ``NombreACuentaTerceros``) may come from the row's
own columns (newer main files carry them) or from the package's ``_tercero.txt``. Precedence:
the row's own non-empty value wins, ``_tercero.txt`` fills what the row leaves empty, and a
``_tercero.txt`` value that differs from the one used (a second third party for the same UUID,
or a conflict with the row) is kept in `extra` as ``("_tercero.txt:<Column>", value)``.
"""

from __future__ import annotations

import enum
import itertools
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
# Re-aligning tries every way to share the surplus among the names; past this, give up (skip).
_MAX_ALIGNMENTS = 4096


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


class MetadataRows(Iterator[MetadataRow]):
    """The rows of one or more metadata files, read lazily; `skipped` fills in as you iterate.

    After the loop, `skipped` lists every record, file or ``_tercero.txt`` row that was left out,
    with the reason (`SkippedItem`)::

        rows = read_metadata(iter_package(zip_bytes))
        good = list(rows)
        for item in rows.skipped:
            print("skipped", item)
    """

    def __init__(self, produce: Callable[[list[SkippedItem]], Iterator[MetadataRow]]) -> None:
        self.skipped: list[SkippedItem] = []
        self._rows = produce(self.skipped)

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

    def produce(skipped: list[SkippedItem]) -> Iterator[MetadataRow]:
        third = _third_parties(
            [] if terceros is None else [("_tercero.txt", terceros)], skipped, strict=True
        )
        yield from _rows(name, _decode(text), third, skipped)

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

    def produce(skipped: list[SkippedItem]) -> Iterator[MetadataRow]:
        skipped.extend(
            SkippedItem(other, None, "not a metadata TXT or _tercero.txt (header)")
            for other in others
        )
        joined = _third_parties(third, skipped, strict=False)
        for file_name, content in main:
            yield from _rows(file_name, _decode(content), joined, skipped)

    return MetadataRows(produce)


def metadata_kind(content: bytes | str) -> Literal["metadata", "terceros"] | None:
    """Whether `content` is a metadata TXT, a ``_tercero.txt``, or neither, from its header."""
    first_line = _decode(content[:300]).partition("\n")[0]
    columns = [name.strip().lower() for name in first_line.split("~")]
    if columns[:2] == ["uuid", "rfcemisor"]:
        return "metadata"
    if columns[:2] == ["uuid", "rfcacuentaterceros"]:
        return "terceros"
    return None


def _decode(text: bytes | str) -> str:
    if isinstance(text, str):
        return text.removeprefix("\ufeff")
    try:
        return text.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Not UTF-8: read as Latin-1, which maps every byte and keeps ñ and accents right.
        return text.decode("latin-1")


# --- records ------------------------------------------------------------------------------------


def _header(text: str) -> tuple[list[str], list[str]]:
    """The header's column names and the lines after it."""
    lines = text.split("\n")
    header = lines[0].removesuffix("\r").split("~")
    if header[0].strip().lower() != "uuid":
        raise MetadataParseError(f"line 1: not a SAT metadata header: {lines[0][:60]!r}")
    return header, lines[1:]


def _records(lines: list[str], width: int) -> Iterator[tuple[int, list[str]]]:
    """Each record's first line number and fields, physical lines joined back together.

    A line that starts with ``<uuid>~`` starts a record. Any other line continues the previous
    record (a name broken by a line break), unless it alone already has a whole record's
    fields: then it is a record of its own (with a blank or broken Uuid, skipped later), so
    it cannot corrupt the record before it.
    """
    current: str | None = None
    start = 0
    for number, raw in enumerate(lines, 2):
        line = raw.removesuffix("\r")
        if not line.strip():
            continue
        own_record = line.count("~") + 1 >= width
        if _RECORD_START.match(line) or own_record or current is None:
            if current is not None:
                yield start, current.split("~")
            current, start = line, number
        else:
            current += " " + line  # the rest of a name that contained a line break
    if current is not None:
        yield start, current.split("~")


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


def _align(fields: list[str | None], values: list[str]) -> list[str] | str:
    """`values` re-aligned to one per column, or the reason they cannot be.

    Fewer values than columns: padded with "". More: the surplus goes to the name columns, in
    the way that leaves every fixed-shape column well-formed. Empty pieces of a name (``~~``)
    could also sit in a fixed column (empty is allowed there), so of the fitting ways the one
    leaving the fewest fixed columns empty wins; a tie is ambiguous and refused. Surplus that
    is only empty trailing fields, or that no name can absorb, stays at the end for `extra`.
    """
    width, surplus = len(fields), len(values) - len(fields)
    if surplus <= 0:
        return values + [""] * -surplus
    if not any(v.strip() for v in values[width:]) and _fits(fields, values[:width]):
        return values  # trailing separators: nothing to re-align
    names = [i for i, field in enumerate(fields) if field in _NAMES]
    best: list[list[str]] = []
    best_empty = width + 1
    for shares in itertools.islice(_splits(surplus, len(names)), _MAX_ALIGNMENTS):
        taken = dict(zip(names, shares, strict=True))
        aligned: list[str] = []
        at = 0
        for index in range(width):
            size = 1 + taken.get(index, 0)
            aligned.append("~".join(values[at : at + size]))
            at += size
        if not _fits(fields, aligned):
            continue
        empty = sum(
            1 for f, v in zip(fields, aligned, strict=True) if f not in _NAMES and not v.strip()
        )
        if empty < best_empty:
            best, best_empty = [aligned], empty
        elif empty == best_empty:
            best.append(aligned)
    if len(best) > 1:
        return (
            f"{surplus} field(s) more than the header, and a `~` inside a name could belong "
            "to more than one name column"
        )
    return best[0] if best else values


def _fits(fields: list[str | None], values: list[str]) -> bool:
    return all(_shape_ok(field, value) for field, value in zip(fields, values, strict=True))


def _splits(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Every way to write `total` as an ordered sum of `parts` non-negative integers."""
    if parts == 0:
        return
    for bars in itertools.combinations(range(total + parts - 1), parts - 1):
        edges = (-1, *bars, total + parts - 1)
        yield tuple(edges[i + 1] - edges[i] - 1 for i in range(parts))


def _fields(header: list[str]) -> list[str | None]:
    """The MetadataRow field of each header column (None: unknown, kept in `extra`)."""
    return [_COLUMNS.get(name.strip().lower()) for name in header]


def _named(
    header: list[str], fields: list[str | None], values: list[str]
) -> tuple[dict[str, str], list[tuple[str, str]]] | str:
    """Pair values with known columns (after re-aligning); everything else goes to `extra`."""
    aligned = _align(fields, values)
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
    text: str,
    third: Mapping[str, list[tuple[str, str]]],
    skipped: list[SkippedItem],
) -> Iterator[MetadataRow]:
    header, lines = _header(text)
    fields = _fields(header)
    if "rfc_emisor" not in fields:
        raise MetadataParseError("line 1: a third-party (_tercero) file, not a metadata file")
    for number, values in _records(lines, len(header)):
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
    chosen = {
        "rfc_a_cuenta_terceros": known.get("rfc_a_cuenta_terceros", "").strip(),
        "nombre_a_cuenta_terceros": known.get("nombre_a_cuenta_terceros", ""),
    }
    for rfc, nombre in third:
        for field, value in (("rfc_a_cuenta_terceros", rfc), ("nombre_a_cuenta_terceros", nombre)):
            if not chosen[field]:
                chosen[field] = value
            elif value and value != chosen[field]:
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
        rfc_a_cuenta_terceros=chosen["rfc_a_cuenta_terceros"],
        nombre_a_cuenta_terceros=chosen["nombre_a_cuenta_terceros"],
        extra=tuple(extra),
    )


def _third_parties(
    files: Iterable[tuple[str, bytes | str]], skipped: list[SkippedItem], *, strict: bool
) -> dict[str, list[tuple[str, str]]]:
    """UUID -> every (RfcACuentaTerceros, NombreACuentaTerceros) for it, in file order.

    A CFDI 4.0 names its third parties per concept, so one UUID may have several rows.
    `strict`: a file that is not a _tercero.txt raises (the caller said it was one); otherwise
    it is skipped and reported like any bad row.
    """
    joined: dict[str, list[tuple[str, str]]] = {}
    for source, text in files:
        try:
            header, lines = _header(_decode(text))
        except MetadataParseError as exc:
            if strict:
                raise
            skipped.append(SkippedItem(source, None, str(exc)))
            continue
        fields = _fields(header)
        for number, values in _records(lines, len(header)):
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
