"""What SAT puts in a package: CFDI 4.0 XML documents or metadata TXT rows, zipped.

The XML is written by hand (not ElementTree) so the output is byte-stable and no process-wide
namespace registration leaks into the host program.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import quoteattr

from gigstack_async.money import format_decimal
from gigstack_async.sandbox.invoices import Invoice

CFDI_NS = "http://www.sat.gob.mx/cfd/4"
TFD_NS = "http://www.sat.gob.mx/TimbreFiscalDigital"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_SCHEMA_LOCATION = (
    f"{CFDI_NS} http://www.sat.gob.mx/sitio_internet/cfd/4/cfdv40.xsd "
    f"{TFD_NS} http://www.sat.gob.mx/sitio_internet/cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd"
)

METADATA_HEADER = (
    "Uuid~RfcEmisor~NombreEmisor~RfcReceptor~NombreReceptor~RfcPac~FechaEmision~"
    "FechaCertificacionSat~Monto~EfectoComprobante~Estatus~FechaCancelacion"
)

_CONCEPT = {
    "I": ("84111506", "E48", "Servicios de facturación"),
    "E": ("84111506", "ACT", "Devolución o bonificación"),
    "P": ("84111506", "ACT", "Pago"),
    "N": ("84111505", "ACT", "Pago de nómina"),
    "T": ("78101800", "H87", "Traslado de mercancía"),
}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _money(amount: Decimal) -> str:
    return format_decimal(amount)  # the exact digits the API listing also sends


def _attrs(pairs: Sequence[tuple[str, str | None]]) -> str:
    return "".join(f" {name}={quoteattr(value)}" for name, value in pairs if value is not None)


def _seal(invoice: Invoice, salt: str) -> str:
    # A stand-in for the base64 RSA signature: stable, the right alphabet, clearly not real.
    digest = hashlib.sha512(f"{salt}|{invoice.uuid}".encode()).hexdigest()
    return digest.upper()[:88]


def render_cfdi(invoice: Invoice) -> str:
    """The invoice as a CFDI 4.0 document with its TimbreFiscalDigital (UTF-8 XML text)."""
    taxable = invoice.invoice_type in ("I", "E")
    tax = invoice.total - invoice.subtotal if taxable else None
    comprobante = _attrs(
        [
            ("xmlns:cfdi", CFDI_NS),
            ("xmlns:xsi", XSI_NS),
            ("xmlns:tfd", TFD_NS),
            ("xsi:schemaLocation", _SCHEMA_LOCATION),
            ("Version", "4.0"),
            ("Serie", invoice.series),
            ("Folio", invoice.folio),
            ("Fecha", _iso(invoice.issued_at)),
            ("Sello", _seal(invoice, "cfd")),
            ("FormaPago", invoice.payment_form),
            ("NoCertificado", invoice.certificate_number),
            ("SubTotal", _money(invoice.subtotal) if invoice.currency != "XXX" else "0"),
            ("Moneda", invoice.currency),
            (
                "TipoCambio",
                None if invoice.exchange_rate is None else _money(invoice.exchange_rate),
            ),
            ("Total", _money(invoice.total) if invoice.currency != "XXX" else "0"),
            ("TipoDeComprobante", invoice.invoice_type),
            ("Exportacion", "01"),
            ("MetodoPago", invoice.payment_method),
            ("LugarExpedicion", invoice.issuer.postal_code),
        ]
    )
    emisor = _attrs(
        [
            ("Rfc", invoice.issuer.rfc),
            ("Nombre", invoice.issuer.name),
            ("RegimenFiscal", invoice.issuer.regimen_fiscal),
        ]
    )
    receptor = _attrs(
        [
            ("Rfc", invoice.receiver.rfc),
            ("Nombre", invoice.receiver.name),
            ("DomicilioFiscalReceptor", invoice.receiver.postal_code),
            ("RegimenFiscalReceptor", invoice.receiver.regimen_fiscal),
            ("UsoCFDI", invoice.uso_cfdi),
        ]
    )
    code, unit, description = _CONCEPT[invoice.invoice_type]
    value = "0" if invoice.currency == "XXX" else _money(invoice.subtotal)
    concepto = _attrs(
        [
            ("ClaveProdServ", code),
            ("Cantidad", "1"),
            ("ClaveUnidad", unit),
            ("Descripcion", description),
            ("ValorUnitario", value),
            ("Importe", value),
            ("ObjetoImp", "02" if taxable else "01"),
        ]
    )
    timbre = _attrs(
        [
            ("Version", "1.1"),
            ("UUID", invoice.uuid),
            ("FechaTimbrado", _iso(invoice.stamped_at)),
            ("RfcProvCertif", invoice.pac_rfc),
            ("SelloCFD", _seal(invoice, "cfd")),
            ("NoCertificadoSAT", invoice.sat_certificate_number),
            ("SelloSAT", _seal(invoice, "sat")),
        ]
    )
    impuestos = ""
    if tax is not None:
        traslado = _attrs(
            [
                ("Base", _money(invoice.subtotal)),
                ("Impuesto", "002"),
                ("TipoFactor", "Tasa"),
                ("TasaOCuota", "0.160000"),
                ("Importe", _money(tax)),
            ]
        )
        impuestos = (
            f'<cfdi:Impuestos TotalImpuestosTrasladados="{_money(tax)}">'
            f"<cfdi:Traslados><cfdi:Traslado{traslado}/></cfdi:Traslados></cfdi:Impuestos>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<cfdi:Comprobante{comprobante}>"
        f"<cfdi:Emisor{emisor}/>"
        f"<cfdi:Receptor{receptor}/>"
        f"<cfdi:Conceptos><cfdi:Concepto{concepto}/></cfdi:Conceptos>"
        f"{impuestos}"
        f"<cfdi:Complemento><tfd:TimbreFiscalDigital{timbre}/></cfdi:Complemento>"
        "</cfdi:Comprobante>\n"
    )


def _metadata_field(value: str) -> str:
    # SAT's TXT has no quoting: a "~" or line break inside a name would corrupt the row.
    return value.replace("~", "-").replace("\r", " ").replace("\n", " ")


def render_metadata(invoices: Sequence[Invoice]) -> str:
    """SAT's metadata TXT: a header, one `~`-separated row per invoice, CRLF line ends."""
    rows = [METADATA_HEADER]
    for invoice in invoices:
        cancelled = invoice.cancelled_at
        fields = [
            invoice.uuid,
            invoice.issuer.rfc,
            invoice.issuer.name,
            invoice.receiver.rfc,
            invoice.receiver.name,
            invoice.pac_rfc,
            invoice.issued_at.strftime("%Y-%m-%d %H:%M:%S"),
            invoice.stamped_at.strftime("%Y-%m-%d %H:%M:%S"),
            _money(invoice.total),
            invoice.invoice_type,
            "1" if invoice.status == "Vigente" else "0",
            "" if cancelled is None else cancelled.strftime("%Y-%m-%d %H:%M:%S"),
        ]
        rows.append("~".join(_metadata_field(field) for field in fields))
    return "\r\n".join(rows) + "\r\n"


def build_package(
    package_id: str, request_type: str, invoices: Sequence[Invoice], generated_at: datetime
) -> bytes:
    """The ZIP SAT serves for one package: `<UUID>.xml` per CFDI, or `<package_id>.txt`.

    Entry timestamps are `generated_at` (naive local), so a package is byte-identical every
    time it is downloaded.
    """
    stamp = (
        max(generated_at.year, 1980),
        generated_at.month,
        generated_at.day,
        generated_at.hour,
        generated_at.minute,
        generated_at.second,
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if request_type == "metadata":
            entry = zipfile.ZipInfo(f"{package_id}.txt", stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, render_metadata(invoices).encode("utf-8"))
        else:
            for invoice in invoices:
                entry = zipfile.ZipInfo(f"{invoice.uuid}.xml", stamp)
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, render_cfdi(invoice).encode("utf-8"))
    return buffer.getvalue()
