"""The listing fields of one CFDI 3.3 or 4.0 XML document."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from decimal import Decimal, InvalidOperation

import attrs

from gigstack_async.cfdi._errors import CfdiParseError

CFDI_40_NS = "http://www.sat.gob.mx/cfd/4"
CFDI_33_NS = "http://www.sat.gob.mx/cfd/3"
TFD_NS = "http://www.sat.gob.mx/TimbreFiscalDigital"
_UUID = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")


@attrs.frozen
class CfdiSummary:
    """What a listing needs from a stamped CFDI.

    `fecha` and `fecha_timbrado` are naive datetimes in Mexico's local time, as written in the
    document. `uuid` is upper-cased. Optional attributes absent from the document are None.
    """

    uuid: str
    version: str
    fecha: datetime
    tipo_de_comprobante: str
    serie: str | None
    folio: str | None
    emisor_rfc: str
    emisor_nombre: str | None
    receptor_rfc: str
    receptor_nombre: str | None
    subtotal: Decimal
    total: Decimal
    moneda: str
    fecha_timbrado: datetime


def parse_cfdi(xml: bytes) -> CfdiSummary:
    """Read a CFDI 4.0 (``http://www.sat.gob.mx/cfd/4``) or 3.3 (``…/cfd/3``) document.

    Bytes before the first ``<`` (a CRLF or BOM before the declaration) and after the last ``>``
    (NUL or whitespace padding) are dropped first. Raises `CfdiParseError` if the XML is
    malformed, has a DOCTYPE, is not a Comprobante of those versions, lacks a required
    attribute, or has no TimbreFiscalDigital UUID (unstamped).

    Example::

        cfdi = parse_cfdi(Path("E7215E3B-2DC5-4A40-AB10-C902FF9258DF.xml").read_bytes())
        print(cfdi.uuid, cfdi.emisor_rfc, cfdi.total)
    """
    root = _parse(xml)
    ns = root.tag[1:].partition("}")[0]
    if root.tag != f"{{{ns}}}Comprobante" or ns not in (CFDI_40_NS, CFDI_33_NS):
        raise CfdiParseError(f"not a CFDI 3.3 or 4.0 document: the root element is {root.tag}")
    emisor = _child(root, ns, "Emisor")
    receptor = _child(root, ns, "Receptor")
    timbre = root.find(f"{{{ns}}}Complemento/{{{TFD_NS}}}TimbreFiscalDigital")
    if timbre is None:
        raise CfdiParseError("no Complemento/TimbreFiscalDigital: the CFDI is not stamped")
    uuid = _required(timbre, "UUID", "TimbreFiscalDigital").strip().upper()
    if not _UUID.fullmatch(uuid):
        raise CfdiParseError(f"TimbreFiscalDigital UUID {uuid!r} is not a UUID")
    return CfdiSummary(
        uuid=uuid,
        version=_required(root, "Version", "Comprobante"),
        fecha=_datetime(root, "Fecha", "Comprobante"),
        tipo_de_comprobante=_required(root, "TipoDeComprobante", "Comprobante"),
        serie=root.get("Serie"),
        folio=root.get("Folio"),
        emisor_rfc=_required(emisor, "Rfc", "Emisor"),
        emisor_nombre=emisor.get("Nombre"),
        receptor_rfc=_required(receptor, "Rfc", "Receptor"),
        receptor_nombre=receptor.get("Nombre"),
        subtotal=_decimal(root, "SubTotal"),
        total=_decimal(root, "Total"),
        moneda=_required(root, "Moneda", "Comprobante"),
        fecha_timbrado=_datetime(timbre, "FechaTimbrado", "TimbreFiscalDigital"),
    )


class _RefuseDoctype(ET.TreeBuilder):
    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        # Called at the start of the DOCTYPE, before any entity it declares can be expanded.
        raise CfdiParseError(
            "document has a DOCTYPE; a CFDI never does, and one can hide entity-expansion "
            "or external-entity attacks"
        )


_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _trim(xml: bytes) -> bytes:
    """Only what lies from the first `<` to the last `>`.

    Real packages carry bytes outside the document (a CRLF or a BOM before the declaration, NUL
    or whitespace padding after the root); none of it can be part of a well-formed document.
    UTF-16 (by its BOM) is left alone: there `<` is two bytes.
    """
    if xml.startswith(_UTF16_BOMS):
        return xml
    first, last = xml.find(b"<"), xml.rfind(b">")
    if first < 0 or last < first:
        return xml  # no element at all: let the parser say so
    return xml[first : last + 1]


def _parse(xml: bytes) -> ET.Element:
    parser = ET.XMLParser(target=_RefuseDoctype())
    xml = _trim(xml)
    try:
        parser.feed(xml)
        root: ET.Element = parser.close()
    except ET.ParseError as exc:
        raise CfdiParseError(f"malformed XML: {exc}") from exc
    return root


def _child(root: ET.Element, ns: str, tag: str) -> ET.Element:
    found = root.find(f"{{{ns}}}{tag}")
    if found is None:
        raise CfdiParseError(f"Comprobante has no {tag}")
    return found


def _required(element: ET.Element, name: str, where: str) -> str:
    value = element.get(name)
    if not value:
        raise CfdiParseError(f"{where} has no {name}")
    return value


def _datetime(element: ET.Element, name: str, where: str) -> datetime:
    value = _required(element, name, where)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is not None:
        raise CfdiParseError(f"{where} {name} {value!r} is not a local date-time")
    return moment


def _decimal(element: ET.Element, name: str) -> Decimal:
    value = _required(element, name, "Comprobante")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise CfdiParseError(f"Comprobante {name} {value!r} is not a decimal amount")
    return amount
