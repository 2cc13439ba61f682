"""SAT's metadata TXT: one ``~``-separated row per CFDI, read despite its known defects.

Defects handled (see sat-domain.md §8):

- header names vary in case (``Uuid``, ``UUID``): matched case-insensitively;
- a line break inside a name splits a record: a physical line that does not begin with
  ``<uuid>~`` continues the previous record, joined with a space (as XML attribute
  normalisation reads the same name from the CFDI);
- empty ``~~`` fields: empty text, or None for dates, amounts and status;
- rows with fewer fields than the header (the rest are empty) or more (kept in `extra`);
- stray ``"``: there is no quoting in this format, so quotes are kept verbatim;
- CRLF or LF line ends, UTF-8 with or without BOM (Latin-1 if not UTF-8);
- UUIDs upper-cased, whatever case the file uses.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

import attrs

from gigstack_async.cfdi._errors import MetadataParseError

_RECORD_START = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}~", re.I)

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


class Estatus(enum.Enum):
    """The ``Estatus`` column: the CFDI's status when SAT built the package."""

    VIGENTE = "1"
    CANCELADO = "0"


@attrs.frozen
class MetadataRow:
    """One row of a metadata TXT (SAT's column in the comment when the name differs).

    Text fields are "" when empty; dates (naive, Mexico local time), `monto` and `estatus` are
    None when empty. `rfc_a_cuenta_terceros` / `nombre_a_cuenta_terceros` come from the
    package's ``_tercero.txt`` when one is given. `extra` keeps unknown columns and surplus
    fields as ``(header name or "#extra-NN", value)``.
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


def parse_metadata(
    text: bytes | str, *, terceros: bytes | str | None = None
) -> Iterator[MetadataRow]:
    """Yield the rows of a metadata TXT, optionally joined with its ``_tercero.txt`` by UUID.

    Raises `MetadataParseError` (lazily, at the row concerned) if the header is not SAT's, a
    line cannot belong to any record, or a date, amount or status cannot be read.

    Example::

        for row in parse_metadata(txt_bytes):
            if row.estatus is Estatus.CANCELADO:
                print(row.uuid, row.fecha_cancelacion)
    """
    third = _third_parties([terceros] if terceros is not None else [])
    return _rows(_decode(text), third)


def read_metadata(files: Iterable[tuple[str, bytes]]) -> Iterator[MetadataRow]:
    """Yield the metadata rows of a package's files, third-party data joined in.

    Files are told apart by their header, not their names; other files are skipped.

    Example::

        rows = list(read_metadata(iter_package(zip_bytes)))
    """
    main: list[bytes] = []
    third: list[bytes] = []
    for _name, content in files:
        kind = metadata_kind(content)
        if kind == "metadata":
            main.append(content)
        elif kind == "terceros":
            third.append(content)
    joined = _third_parties(third)
    for content in main:
        yield from _rows(_decode(content), joined)


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


def _table(text: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header's column names and each record's line number and fields."""
    lines = text.split("\n")
    header = lines[0].removesuffix("\r").split("~")
    if header[0].strip().lower() != "uuid":
        raise MetadataParseError(f"line 1: not a SAT metadata header: {lines[0][:60]!r}")
    return header, _records(lines[1:])


def _records(lines: list[str]) -> Iterator[tuple[int, list[str]]]:
    current: str | None = None
    start = 0
    for number, raw in enumerate(lines, 2):
        line = raw.removesuffix("\r")
        if _RECORD_START.match(line):
            if current is not None:
                yield start, current.split("~")
            current, start = line, number
        elif not line.strip():
            continue
        elif current is None:
            raise MetadataParseError(
                f"line {number}: expected a record starting with a UUID, got {line[:60]!r}"
            )
        else:
            current += " " + line  # the rest of a name that contained a line break
    if current is not None:
        yield start, current.split("~")


def _named(header: list[str], values: list[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Pair values with known columns; everything else goes to `extra`."""
    known: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for index, value in enumerate(values):
        if index >= len(header):
            extra.append((f"#extra-{index - len(header) + 1:02d}", value))
        elif field := _COLUMNS.get(header[index].strip().lower()):
            known[field] = value
        else:
            extra.append((header[index], value))
    return known, extra


def _rows(text: str, third: Mapping[str, tuple[str, str]]) -> Iterator[MetadataRow]:
    header, records = _table(text)
    if "rfcemisor" not in {name.strip().lower() for name in header}:
        raise MetadataParseError("line 1: a third-party (_tercero) file, not a metadata file")
    for number, values in records:
        known, extra = _named(header, values)
        uuid = known["uuid"].strip().upper()
        rfc_tercero, nombre_tercero = third.get(uuid, ("", ""))
        try:
            row = MetadataRow(
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
                rfc_a_cuenta_terceros=rfc_tercero,
                nombre_a_cuenta_terceros=nombre_tercero,
                extra=tuple(extra),
            )
        except ValueError as exc:
            raise MetadataParseError(f"line {number} ({uuid}): {exc}") from None
        yield row


def _third_parties(texts: Iterable[bytes | str]) -> dict[str, tuple[str, str]]:
    """UUID -> (RfcACuentaTerceros, NombreACuentaTerceros); a later row for a UUID wins."""
    joined: dict[str, tuple[str, str]] = {}
    for text in texts:
        header, records = _table(_decode(text))
        for _number, values in records:
            known, _extra = _named(header, values)
            joined[known["uuid"].strip().upper()] = (
                known.get("rfc_a_cuenta_terceros", "").strip(),
                known.get("nombre_a_cuenta_terceros", ""),
            )
    return joined


def _datetime(known: Mapping[str, str], field: str) -> datetime | None:
    value = known.get(field, "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)  # SAT writes "2018-01-11 07:10:23"
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is not None:
        raise ValueError(f"{field} {value!r} is not a date-time like 2018-01-11 07:10:23")
    return moment


def _decimal(known: Mapping[str, str], field: str) -> Decimal | None:
    value = known.get(field, "").strip()
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
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
