"""Reading CFDI documents, SAT metadata TXT files and whole packages."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from decimal import Decimal

import attrs
import pytest

from gigstack_async.cfdi import (
    CfdiParseError,
    CfdiSummary,
    Estatus,
    MetadataParseError,
    MetadataRow,
    parse_cfdi,
    parse_metadata,
    read_metadata,
    summarize_package,
)
from gigstack_async.packages import iter_package

UUID_40 = "6f1c1a8e-2b2c-4b6e-9d3a-1f2e3d4c5b6a"  # lower case on purpose: SAT's case varies
UUID_33 = "E7215E3B-2DC5-4A40-AB10-C902FF9258DF"
UUID_2 = "129C4D12-1415-4ACE-BE12-34E71C4EAB4E"

CFDI_40 = f"""<?xml version="1.0" encoding="UTF-8"?>
<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4"
    xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital"
    Version="4.0" Serie="A" Folio="1024" Fecha="2024-01-31T23:59:59" SubTotal="1000.00"
    Moneda="MXN" Total="1160.00" TipoDeComprobante="I" Exportacion="01" LugarExpedicion="42501">
  <cfdi:Emisor Rfc="EKU9003173C9" Nombre="ESCUELA KEMPER URGATE" RegimenFiscal="601"/>
  <cfdi:Receptor Rfc="CDB6306080U5" Nombre="CONSTRUCTORA DEL BAJÍO" UsoCFDI="G03"
      DomicilioFiscalReceptor="42501" RegimenFiscalReceptor="601"/>
  <cfdi:Conceptos><cfdi:Concepto ClaveProdServ="84111506" Importe="1000.00"/></cfdi:Conceptos>
  <cfdi:Complemento>
    <tfd:TimbreFiscalDigital Version="1.1" UUID="{UUID_40}" FechaTimbrado="2024-02-01T00:02:10"
        RfcProvCertif="SAT970701NN3" NoCertificadoSAT="00001000000505211329"/>
  </cfdi:Complemento>
</cfdi:Comprobante>
""".encode()

CFDI_33 = f"""<?xml version="1.0" encoding="UTF-8"?>
<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/3" Version="3.3"
    Fecha="2018-01-11T07:10:23" SubTotal="969.06" Moneda="MXN" Total="1124.11"
    TipoDeComprobante="I">
  <cfdi:Emisor Rfc="XAXX010101000" Nombre="RAZON SOCIAL 1"/>
  <cfdi:Receptor Rfc="XAXX010101001" UsoCFDI="G03"/>
  <cfdi:Complemento>
    <tfd:TimbreFiscalDigital xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital"
        Version="1.1" UUID="{UUID_33}" FechaTimbrado="2018-01-11T07:10:51"/>
  </cfdi:Complemento>
</cfdi:Comprobante>
""".encode()


# --- CFDI XML -----------------------------------------------------------------------------------


def test_parse_cfdi_40() -> None:
    assert parse_cfdi(CFDI_40) == CfdiSummary(
        uuid=UUID_40.upper(),
        version="4.0",
        fecha=datetime(2024, 1, 31, 23, 59, 59),
        tipo_de_comprobante="I",
        serie="A",
        folio="1024",
        emisor_rfc="EKU9003173C9",
        emisor_nombre="ESCUELA KEMPER URGATE",
        receptor_rfc="CDB6306080U5",
        receptor_nombre="CONSTRUCTORA DEL BAJÍO",
        subtotal=Decimal("1000.00"),
        total=Decimal("1160.00"),
        moneda="MXN",
        fecha_timbrado=datetime(2024, 2, 1, 0, 2, 10),
    )


def test_parse_cfdi_33_with_optional_attributes_missing() -> None:
    cfdi = parse_cfdi(CFDI_33)

    assert (cfdi.uuid, cfdi.version, cfdi.total) == (UUID_33, "3.3", Decimal("1124.11"))
    assert (cfdi.serie, cfdi.folio, cfdi.receptor_nombre) == (None, None, None)
    assert cfdi.fecha_timbrado == datetime(2018, 1, 11, 7, 10, 51)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE cfdi:Comprobante [
  <!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Version="4.0" Serie="&d;"/>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Serie="&secret;"/>
"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "xxe"])
def test_a_document_with_a_doctype_is_refused(document: bytes) -> None:
    with pytest.raises(CfdiParseError, match="DOCTYPE"):
        parse_cfdi(document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (CFDI_40.replace(f'UUID="{UUID_40}" '.encode(), b""), "TimbreFiscalDigital has no UUID"),
        (CFDI_40.replace(b"tfd:TimbreFiscalDigital", b"tfd:Other"), "not stamped"),
        (CFDI_40.replace(UUID_40.encode(), b"not-a-uuid"), "is not a UUID"),
        (CFDI_40[:-30], "malformed XML"),
        (b"", "malformed XML"),
        (CFDI_40.replace(b"cfd/4", b"cfd/2"), "not a CFDI 3.3 or 4.0"),
        (CFDI_40.replace(b'Total="1160.00"', b'Total="1,160.00"'), "Total '1,160.00'"),
        (CFDI_40.replace(b'Total="1160.00"', b'Total="NaN"'), "Total 'NaN'"),
        (CFDI_40.replace(b"2024-01-31T23:59:59", b"2024-01-31T23:59:59Z"), "local date-time"),
        (CFDI_40.replace(b'Rfc="EKU9003173C9" ', b""), "Emisor has no Rfc"),
        (CFDI_40.replace(b"cfdi:Receptor", b"cfdi:Otro"), "no Receptor"),
    ],
    ids=str,
)
def test_an_unreadable_cfdi_says_why(document: bytes, message: str) -> None:
    with pytest.raises(CfdiParseError, match=message):
        parse_cfdi(document)


# --- metadata TXT -------------------------------------------------------------------------------

HEADER = (
    "Uuid~RfcEmisor~NombreEmisor~RfcReceptor~NombreReceptor~RfcPac~FechaEmision~"
    "FechaCertificacionSat~Monto~EfectoComprobante~Estatus~FechaCancelacion"
)
ROW_1 = (
    f"{UUID_33}~XAXX010101000~RAZON SOCIAL 1~XAXX010101001~RAZON SOCIAL 1 SA DE CV~"
    "XAXX010101003~2018-01-11 07:10:23~2018-01-11 07:10:51~1124.11~I~1~"
)
ROW_2 = (
    f"{UUID_2.lower()}~XAXX010101000~RAZON SOCIAL 2~XAXX010101002~RAZON SOCIAL 2 SA DE CV~"
    "XAXX010101004~2018-01-11 10:36:24~2018-01-11 10:36:52~1485.17~E~0~2018-02-01 09:00:00"
)
EXPECTED_1 = MetadataRow(
    uuid=UUID_33,
    rfc_emisor="XAXX010101000",
    nombre_emisor="RAZON SOCIAL 1",
    rfc_receptor="XAXX010101001",
    nombre_receptor="RAZON SOCIAL 1 SA DE CV",
    rfc_pac="XAXX010101003",
    fecha_emision=datetime(2018, 1, 11, 7, 10, 23),
    fecha_certificacion_sat=datetime(2018, 1, 11, 7, 10, 51),
    monto=Decimal("1124.11"),
    efecto_comprobante="I",
    estatus=Estatus.VIGENTE,
    fecha_cancelacion=None,
)


def metadata(*lines: str, eol: str = "\r\n") -> bytes:
    return (eol.join(lines) + eol).encode()


@pytest.mark.parametrize("eol", ["\r\n", "\n"], ids=["CRLF", "LF"])
def test_parse_metadata_types_every_column(eol: str) -> None:
    rows = list(parse_metadata(metadata(HEADER, ROW_1, ROW_2, eol=eol)))

    assert rows[0] == EXPECTED_1
    assert rows[1].uuid == UUID_2  # upper-cased
    assert rows[1].estatus is Estatus.CANCELADO
    assert rows[1].fecha_cancelacion == datetime(2018, 2, 1, 9, 0, 0)
    assert rows[1].monto == Decimal("1485.17")


def test_header_names_are_matched_ignoring_case() -> None:
    rows = list(parse_metadata(metadata(HEADER.upper(), ROW_1)))

    assert rows == [EXPECTED_1]


@pytest.mark.parametrize("eol", ["\r\n", "\n"], ids=["CRLF", "LF"])
def test_a_line_break_inside_a_name_does_not_split_the_record(eol: str) -> None:
    broken = ROW_1.replace("RAZON SOCIAL 1 SA DE CV", "RAZON SOCIAL 1\nSA DE CV")

    rows = list(parse_metadata(metadata(HEADER, broken, ROW_2, eol=eol)))

    assert [row.uuid for row in rows] == [UUID_33, UUID_2]
    assert rows[0] == EXPECTED_1


def test_empty_fields_are_empty_text_or_none() -> None:
    row = f"{UUID_33}~~~XAXX010101001~~~2018-01-11 07:10:23~~~I~~"

    (parsed,) = parse_metadata(metadata(HEADER, row))

    assert parsed == MetadataRow(
        uuid=UUID_33,
        rfc_receptor="XAXX010101001",
        fecha_emision=datetime(2018, 1, 11, 7, 10, 23),
        efecto_comprobante="I",
    )


def test_a_short_row_is_reported_and_a_long_row_kept() -> None:
    short = f"{UUID_33}~XAXX010101000~RAZON SOCIAL 1"
    long = f"{ROW_1}~surplus~more"

    rows = parse_metadata(metadata(HEADER, short, long))

    # Padding the short row would invent empty amounts and dates: it is reported instead.
    assert list(rows) == [
        attrs.evolve(EXPECTED_1, extra=(("#extra-01", "surplus"), ("#extra-02", "more")))
    ]
    ((item,),) = [rows.skipped]
    assert item.line == 2
    assert "cut short: 3 of 12 fields, no RfcReceptor" in item.reason


def test_a_row_missing_only_optional_trailing_columns_is_read() -> None:
    without_cancelacion = ROW_1.removesuffix("~")

    (parsed,) = parse_metadata(metadata(HEADER, without_cancelacion))

    assert parsed == EXPECTED_1


def test_stray_quotes_are_kept_verbatim() -> None:
    row = ROW_1.replace("RAZON SOCIAL 1~", '"RAZON "SOCIAL" 1~').replace("SA DE CV", 'SA DE CV"')

    (parsed,) = parse_metadata(metadata(HEADER, row))

    assert parsed.nombre_emisor == '"RAZON "SOCIAL" 1'
    assert parsed.nombre_receptor == 'RAZON SOCIAL 1 SA DE CV"'
    assert parsed.monto == Decimal("1124.11")  # no field swallowed by a quote


def test_a_bom_and_latin1_text_are_read() -> None:
    latin1 = metadata(HEADER, ROW_1.replace("RAZON SOCIAL 1~", "PEÑA Y ASOCIADOS~")).decode()

    (from_bom,) = parse_metadata(b"\xef\xbb\xbf" + latin1.encode("utf-8"))
    (from_latin1,) = parse_metadata(latin1.encode("latin-1"))

    assert from_bom.nombre_emisor == from_latin1.nombre_emisor == "PEÑA Y ASOCIADOS"


TERCEROS = metadata(
    "Uuid~RfcACuentaTerceros~NombreACuentaTerceros",
    f"{UUID_33.lower()}~AAA010101AAA~TERCERO SA",
)


def test_third_party_data_is_joined_by_uuid() -> None:
    first, second = parse_metadata(metadata(HEADER, ROW_1, ROW_2), terceros=TERCEROS)

    assert (first.rfc_a_cuenta_terceros, first.nombre_a_cuenta_terceros) == (
        "AAA010101AAA",
        "TERCERO SA",
    )
    assert (second.rfc_a_cuenta_terceros, second.nombre_a_cuenta_terceros) == ("", "")


def test_read_metadata_finds_the_files_by_their_header() -> None:
    files = [
        ("ABC_01.txt", metadata(HEADER, ROW_1, ROW_2)),
        ("ABC_tercero.txt", TERCEROS),
        ("notes.txt", b"hello"),
    ]

    rows = list(read_metadata(files))

    assert [(row.uuid, row.rfc_a_cuenta_terceros) for row in rows] == [
        (UUID_33, "AAA010101AAA"),
        (UUID_2, ""),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (metadata("Folio~Rfc", "1~X"), "line 1: not a SAT metadata header"),
        (TERCEROS, "third-party"),
    ],
    ids=str,
)
def test_a_file_that_is_not_metadata_raises(text: bytes, message: str) -> None:
    with pytest.raises(MetadataParseError, match=message):
        list(parse_metadata(text))


@pytest.mark.parametrize(
    ("lines", "line", "reason"),
    [
        (("garbage before any record", ROW_1), 2, "'garbage before any record' is not"),
        ((ROW_1, ROW_2.replace("1485.17", "1,485.17")), 3, "monto '1,485.17'"),
        ((ROW_1.replace("~1~", "~V~"), ROW_2), 2, "estatus 'V'"),
        ((ROW_1.replace("2018-01-11 07:10:23", "11/01/2018"), ROW_2), 2, "fecha_emision"),
        ((ROW_2, "~" + ROW_1.partition("~")[2]), 3, "blank Uuid"),
    ],
    ids=["stray line", "monto", "estatus", "fecha", "blank uuid"],
)
def test_a_bad_record_is_skipped_and_reported_and_the_rest_kept(
    lines: tuple[str, ...], line: int, reason: str
) -> None:
    rows = parse_metadata(metadata(HEADER, *lines), name="ABC_01.txt")

    good = list(rows)

    assert len(good) == 1  # the other record, whichever side of the bad one it is
    ((source, at, why),) = [(i.source, i.line, i.reason) for i in rows.skipped]
    assert (source, at) == ("ABC_01.txt", line)
    assert reason in why


# --- whole packages -----------------------------------------------------------------------------


def make_zip(*entries: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def test_summarize_a_cfdi_package() -> None:
    package = make_zip(
        (f"{UUID_40}.xml", CFDI_40),
        (f"{UUID_33}.xml", CFDI_33),
        ("copy.XML", CFDI_33),  # the same invoice twice counts once
        ("readme.pdf", b"%PDF"),
    )

    summary = summarize_package(iter_package(package))

    assert summary.kind == "cfdi"
    assert summary.uuids == {UUID_40.upper(), UUID_33}
    assert summary.invoice_count == 2
    assert summary.ignored == ("copy.XML", "readme.pdf")
    assert [str(item) for item in summary.skipped] == [
        f"copy.XML: the same CFDI ({UUID_33}) as {UUID_33}.xml",
        "readme.pdf: neither a CFDI XML nor a metadata TXT",
    ]


def test_summarize_a_metadata_package() -> None:
    package = make_zip(
        ("ABC_01.txt", metadata(HEADER, ROW_1, ROW_2)), ("ABC_tercero.txt", TERCEROS)
    )

    summary = summarize_package(iter_package(package))

    assert summary.kind == "metadata"
    assert summary.uuids == {UUID_33, UUID_2}  # the _tercero file adds none
    assert summary.ignored == ()


def test_summarize_lists_what_it_cannot_read_and_keeps_the_rest() -> None:
    summary = summarize_package(
        [
            ("ok.xml", CFDI_40),
            ("broken.xml", b"<cfdi:Comp"),
            ("empty.xml", b""),
            ("padding.xml", b"\x00\x00\r\n"),
            ("nomina.xml", b"<?xml version='1.0'?><Nomina/>"),
            ("duplicate.xml", b"\r\n" + CFDI_40 + b"\x00"),  # another name, same CFDI
        ]
    )

    assert summary.kind == "cfdi"
    assert summary.uuids == {UUID_40.upper()}
    assert summary.ignored == (
        "broken.xml",
        "empty.xml",
        "padding.xml",
        "nomina.xml",
        "duplicate.xml",
    )
    reasons = {item.source: item.reason for item in summary.skipped}
    assert reasons["broken.xml"].startswith("not a readable CFDI: malformed XML")
    assert reasons["empty.xml"] == reasons["padding.xml"] == "empty"
    assert "root element is Nomina" in reasons["nomina.xml"]
    assert reasons["duplicate.xml"] == f"the same CFDI ({UUID_40.upper()}) as ok.xml"


def test_summarize_reports_bad_metadata_records() -> None:
    bad = ROW_1.replace("1124.11", "x")
    summary = summarize_package([("bad.txt", metadata(HEADER, bad, ROW_2))])

    assert summary.uuids == {UUID_2}
    assert summary.ignored == ()  # the file was read; one record was not
    ((item,),) = [summary.skipped]
    assert (item.source, item.line) == ("bad.txt", 2)
    assert "monto 'x'" in item.reason


def test_summarize_ignores_metadata_in_a_cfdi_package_and_reports_an_empty_one() -> None:
    mixed = summarize_package([("a.xml", CFDI_40), ("b.txt", metadata(HEADER, ROW_1))])
    assert (mixed.kind, mixed.uuids, mixed.ignored) == ("cfdi", {UUID_40.upper()}, ("b.txt",))

    assert summarize_package([]).kind == "empty"
    assert summarize_package([]).invoice_count == 0
