"""SAT files as they really come (issue 10 §1): `~` inside names, bad records and members that
must not take the rest down, third-party columns in the main file, bytes outside the XML root."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from decimal import Decimal

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gigstack_async.cfdi import (
    Estatus,
    MetadataRow,
    SkippedItem,
    parse_cfdi,
    parse_metadata,
    read_metadata,
    summarize_package,
)
from gigstack_async.packages import iter_package

# The fixtures of tests/test_cfdi.py (copied: test files do not import each other).
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

UUID_3 = "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"
TERCERO_HEADER = "Uuid~RfcACuentaTerceros~NombreACuentaTerceros"


def metadata(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


def row(
    uuid: str = UUID_33,
    emisor: str = "RAZON SOCIAL 1",
    receptor: str = "RAZON SOCIAL 1 SA DE CV",
    *rest: str,
) -> str:
    fields = [
        uuid,
        "XAXX010101000",
        emisor,
        "XAXX010101001",
        receptor,
        "XAXX010101003",
        "2018-01-11 07:10:23",
        "2018-01-11 07:10:51",
        "1124.11",
        "I",
        "1",
        "",
        *rest,
    ]
    return "~".join(fields)


# --- a `~` inside a name ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("emisor", "receptor"),
    [
        ("Ventas ~Norte~ SA", "RAZON SOCIAL 1 SA DE CV"),
        ("RAZON SOCIAL 1", "Receptor ~Uno~ SA"),
        ("A~B", "C~D~E~F"),
        ("Ventas ~~ SA", "Receptor~"),  # empty pieces, a trailing ~ inside the name
        ("~Norte", "RAZON SOCIAL 1 SA DE CV"),
    ],
)
def test_a_tilde_inside_a_name_is_re_aligned(emisor: str, receptor: str) -> None:
    rows = parse_metadata(metadata(HEADER, row(emisor=emisor, receptor=receptor), ROW_2))

    first, second = rows

    assert first == attrs.evolve(EXPECTED_1, nombre_emisor=emisor, nombre_receptor=receptor)
    assert second.uuid == UUID_2  # the next, valid row is not lost
    assert rows.skipped == []


def test_the_issue_example_reads_every_typed_column() -> None:
    (parsed,) = parse_metadata(metadata(HEADER, row(receptor="Receptor ~Uno~ SA")))

    assert parsed.nombre_receptor == "Receptor ~Uno~ SA"
    assert parsed.fecha_emision == datetime(2018, 1, 11, 7, 10, 23)
    assert parsed.monto == Decimal("1124.11")
    assert parsed.estatus is Estatus.VIGENTE
    assert parsed.extra == ()  # nothing left over, nothing dropped


def test_a_tilde_and_a_line_break_in_the_same_record() -> None:
    broken = row(emisor="Ventas ~Norte~\nSA")

    (parsed,) = parse_metadata(metadata(HEADER, broken))

    assert parsed.nombre_emisor == "Ventas ~Norte~ SA"
    assert parsed.rfc_receptor == "XAXX010101001"


def test_an_ambiguous_tilde_is_skipped_and_reported_not_guessed() -> None:
    # "N1~XAXX010101009~N2" could be one name, or a name, an RFC and the start of the next.
    ambiguous = row(emisor="N1~XAXX010101009~N2")

    rows = parse_metadata(metadata(HEADER, ambiguous, ROW_2), name="ABC_01.txt")

    assert [r.uuid for r in rows] == [UUID_2]
    ((item,),) = [rows.skipped]
    assert (item.source, item.line) == ("ABC_01.txt", 2)
    assert "more than one name column" in item.reason


def test_surplus_no_name_can_absorb_is_kept_in_extra() -> None:
    (parsed,) = parse_metadata(metadata(HEADER, row() + "~surplus"))

    assert parsed == attrs.evolve(EXPECTED_1, extra=(("#extra-01", "surplus"),))


def test_the_tercero_file_s_last_column_takes_the_rest() -> None:
    terceros = metadata(TERCERO_HEADER, f"{UUID_33}~AAA010101AAA~Tercero ~Sur~ SA de CV")

    (parsed,) = parse_metadata(metadata(HEADER, ROW_1), terceros=terceros)

    assert parsed.rfc_a_cuenta_terceros == "AAA010101AAA"
    assert parsed.nombre_a_cuenta_terceros == "Tercero ~Sur~ SA de CV"


# --- one bad item does not take the rest down ---------------------------------------------------


def test_a_tercero_row_with_a_blank_uuid_does_not_blank_the_package() -> None:
    terceros = metadata(
        TERCERO_HEADER,
        "~BBB010101BBB~SIN UUID SA",  # seen in real packages
        f"{UUID_33.lower()}~AAA010101AAA~TERCERO SA",
    )
    files = [
        ("ABC_01.txt", metadata(HEADER, ROW_1, ROW_2)),
        ("ABC_tercero.txt", terceros),
    ]

    rows = read_metadata(files)

    assert [(r.uuid, r.rfc_a_cuenta_terceros) for r in rows] == [
        (UUID_33, "AAA010101AAA"),
        (UUID_2, ""),
    ]
    assert rows.skipped == [SkippedItem("ABC_tercero.txt", 2, "blank Uuid")]


def test_auxiliary_files_are_reported_not_silently_dropped() -> None:
    files = [
        ("notes.txt", b"hello"),
        ("ABC_01.txt", metadata(HEADER, ROW_1)),
        ("broken_tercero.txt", b"Uuid~RfcACuentaTerceros\r\n"),
    ]

    rows = read_metadata(files)

    assert [r.uuid for r in rows] == [UUID_33]
    assert [str(item) for item in rows.skipped] == [
        "notes.txt: not a metadata TXT or _tercero.txt (header)",
    ]


def test_a_bad_zip_member_is_reported_and_the_rest_kept() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ABC_01.txt", metadata(HEADER, ROW_1, row(uuid=UUID_3)))
        archive.writestr("ABC_02.txt", metadata(HEADER, row(uuid=UUID_2).replace("1124.11", "?")))
        archive.writestr("manifest.json", b"{}")

    rows = read_metadata(iter_package(buffer.getvalue()))

    assert [r.uuid for r in rows] == [UUID_33, UUID_3]
    assert [(i.source, i.line) for i in rows.skipped] == [
        ("manifest.json", None),
        ("ABC_02.txt", 2),
    ]


# --- third-party columns in the main file -------------------------------------------------------

WIDE_HEADER = HEADER + "~RfcACuentaTerceros~NombreACuentaTerceros~Motivo"


def test_third_party_columns_of_the_main_file_land_in_their_fields() -> None:
    wide = row(
        UUID_33, "RAZON SOCIAL 1", "RAZON SOCIAL 1 SA DE CV", "CCC010101CCC", "PROPIO SA", "X1"
    )

    (parsed,) = parse_metadata(metadata(WIDE_HEADER, wide))

    assert parsed == attrs.evolve(
        EXPECTED_1,
        rfc_a_cuenta_terceros="CCC010101CCC",
        nombre_a_cuenta_terceros="PROPIO SA",
        extra=(("Motivo", "X1"),),  # unknown columns stay in extra
    )


def test_main_file_columns_win_and_tercero_values_fill_or_are_kept() -> None:
    own = row(UUID_33, "E", "R", "CCC010101CCC", "PROPIO SA", "")
    blank = row(UUID_2, "E", "R", "", "", "")
    terceros = metadata(
        TERCERO_HEADER,
        f"{UUID_33}~AAA010101AAA~OTRO SA",  # differs from the row's own: kept in extra
        f"{UUID_2}~BBB010101BBB~LLENA SA",  # the row has none: fills it
        f"{UUID_2}~DDD010101DDD~SEGUNDO SA",  # a second third party of the same CFDI
    )

    first, second = parse_metadata(metadata(WIDE_HEADER, own, blank), terceros=terceros)

    assert (first.rfc_a_cuenta_terceros, first.nombre_a_cuenta_terceros) == (
        "CCC010101CCC",
        "PROPIO SA",
    )
    assert first.extra == (
        ("Motivo", ""),
        ("_tercero.txt:RfcACuentaTerceros", "AAA010101AAA"),
        ("_tercero.txt:NombreACuentaTerceros", "OTRO SA"),
    )
    assert (second.rfc_a_cuenta_terceros, second.nombre_a_cuenta_terceros) == (
        "BBB010101BBB",
        "LLENA SA",
    )
    assert second.extra == (
        ("Motivo", ""),
        ("_tercero.txt:RfcACuentaTerceros", "DDD010101DDD"),
        ("_tercero.txt:NombreACuentaTerceros", "SEGUNDO SA"),
    )


def test_a_tilde_in_the_main_file_s_third_party_name() -> None:
    wide = row(UUID_33, "E", "R", "CCC010101CCC", "Tercero ~Sur~", "X1")

    (parsed,) = parse_metadata(metadata(WIDE_HEADER, wide))

    assert parsed.nombre_a_cuenta_terceros == "Tercero ~Sur~"
    assert parsed.extra == (("Motivo", "X1"),)


# --- CFDI XML: bytes outside the root -----------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (b"\r\n", b""),
        (b"\n\n  ", b""),
        (b"", b"\x00\x00\x00"),
        (b"", b"\r\n \t\x00"),
        (b"\xef\xbb\xbf", b"\x00"),
        (b"\r\n\xef\xbb\xbf", b"\n"),
    ],
)
def test_bytes_outside_the_root_are_cleaned(before: bytes, after: bytes) -> None:
    assert parse_cfdi(before + CFDI_40 + after) == parse_cfdi(CFDI_40)
    assert parse_cfdi(before + CFDI_33 + after).uuid == UUID_33


def test_a_summary_reads_padded_documents() -> None:
    summary = summarize_package([("a.xml", b"\r\n" + CFDI_33 + b"\x00\x00")])

    assert summary.uuids == {UUID_33}
    assert summary.skipped == ()


def test_rows_are_typed_as_before() -> None:
    (parsed,) = parse_metadata(metadata(HEADER, ROW_1))
    assert isinstance(parsed, MetadataRow)
    assert parsed == EXPECTED_1


# --- property: a name with `~` is read right, or reported; never read wrong ---------------------

names = st.text(alphabet="xyzÑ ~.,&", min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(emisor=names, receptor=names)
def test_names_with_tildes_are_read_exactly_or_reported(emisor: str, receptor: str) -> None:
    rows = parse_metadata(metadata(HEADER, row(emisor=emisor, receptor=receptor), ROW_2))

    parsed = list(rows)

    assert parsed[-1].uuid == UUID_2  # the next row always survives
    if len(parsed) == 2:
        assert (parsed[0].nombre_emisor, parsed[0].nombre_receptor) == (emisor, receptor)
        assert parsed[0].monto == Decimal("1124.11")
    else:
        ((item,),) = [rows.skipped]
        assert "more than one name column" in item.reason
