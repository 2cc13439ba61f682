"""Review of issue 10: metadata records recognised by their shapes, cut records reported,
encodings decided line by line, blank lines before the header, third parties filled as pairs,
stray metadata in a CFDI package, and the bound on re-aligning `~`."""

from __future__ import annotations

from decimal import Decimal

from gigstack_async.cfdi import (
    RecodedLine,
    metadata_kind,
    parse_metadata,
    read_metadata,
    summarize_package,
)

H = (
    "Uuid~RfcEmisor~NombreEmisor~RfcReceptor~NombreReceptor~RfcPac~FechaEmision~"
    "FechaCertificacionSat~Monto~EfectoComprobante~Estatus~FechaCancelacion"
)
H_TERCEROS = H + "~RfcACuentaTerceros~NombreACuentaTerceros"
U1 = "E7215E3B-2DC5-4A40-AB10-C902FF9258DF"
U2 = "0A1B2C3D-2DC5-4A40-AB10-C902FF9258DF"


def row(uuid: str, ne: str = "Emisor SA", nr: str = "Receptor SA", monto: str = "1160.00") -> str:
    return (
        f"{uuid}~AAA010101AAA~{ne}~BBB010101BBB~{nr}~SAT970701NN3~2024-01-05 10:00:00~"
        f"2024-01-05 10:01:00~{monto}~I~1~"
    )


def test_a_line_break_in_one_name_and_tildes_in_another_read_as_one_record() -> None:
    broken = row(U1, ne="Ventas\nNorte SA", nr="Comercial ~Sur~ SA")

    rows = parse_metadata((H + "\n" + broken + "\n" + row(U2) + "\n").encode())
    got = {r.uuid: r for r in rows}

    # Before: the second physical line had a record's field count, so it was taken as a record
    # of its own, and U1 was yielded with no amount, dates or status.
    assert got[U1].nombre_emisor == "Ventas Norte SA"
    assert got[U1].nombre_receptor == "Comercial ~Sur~ SA"
    assert got[U1].monto == Decimal("1160.00")
    assert got[U2].monto == Decimal("1160.00")
    assert rows.skipped == []


def test_a_broken_record_is_reported_never_yielded_half_empty() -> None:
    # A continuation line that is not the rest of the record (a piece went missing).
    broken = f"{U1}~AAA010101AAA~Ventas\nNorte SA~BBB010101BBB"

    rows = parse_metadata((H + "\n" + broken + "\n" + row(U2) + "\n").encode())

    assert [r.uuid for r in rows] == [U2]
    ((item,),) = [rows.skipped]
    assert item.line == 2
    assert "cut short" in item.reason


def test_a_record_cut_inside_monto_is_skipped_not_read_with_a_wrong_amount() -> None:
    cut = row(U1)[: row(U1).index("1160.00") + 2]  # ...~11: the file ends inside Monto

    rows = parse_metadata((H + "\n" + row(U2) + "\n" + cut).encode(), name="m.txt")

    assert [r.uuid for r in rows] == [U2]  # before: U1 with monto Decimal("11")
    ((item,),) = [rows.skipped]
    assert (item.source, item.line) == ("m.txt", 3)
    assert "cut short: 9 of 12 fields, no EfectoComprobante, Estatus" in item.reason


def test_one_latin1_line_does_not_garble_the_utf8_lines_and_is_reported() -> None:
    data = (H + "\n" + row(U1, ne="Compañía SA") + "\n").encode() + (
        row(U2, ne="Peña") + "\n"
    ).encode("latin-1")

    rows = parse_metadata(data, name="m.txt")
    names = {r.uuid: r.nombre_emisor for r in rows}

    assert names == {U1: "Compañía SA", U2: "Peña"}  # before: 'CompaÃ±Ã\xada SA'
    assert rows.recoded == [RecodedLine("m.txt", 3, "cp1252")]


def test_a_cp1252_only_character_is_read_and_an_undefined_byte_falls_to_latin1() -> None:
    data = (H + "\n").encode() + row(U1, ne="Ventas “Norte”").encode("cp1252") + b"\n"
    data += row(U2).encode().replace(b"Emisor SA", b"Emisor\x81") + b"\n"

    rows = read_metadata([("m.txt", data)])
    names = {r.uuid: r.nombre_emisor for r in rows}

    assert names == {U1: "Ventas “Norte”", U2: "Emisor\x81"}
    assert [(r.line, r.encoding) for r in rows.recoded] == [(2, "cp1252"), (3, "latin-1")]


def test_blank_lines_before_the_header_do_not_lose_the_file() -> None:
    data = ("\r\n \r\n" + H + "\r\n" + row(U1) + "\r\n").encode()

    assert metadata_kind(data) == "metadata"  # before: None, and the file was skipped
    rows = read_metadata([("m.txt", data)])
    assert [r.uuid for r in rows] == [U1]
    assert rows.skipped == []
    bom = b"\xef\xbb\xbf\r\n" + data
    assert [r.uuid for r in parse_metadata(bom)] == [U1]


def test_the_third_party_rfc_and_name_come_from_the_same_party() -> None:
    main = (H_TERCEROS + "\n" + row(U1) + "~CCC010101CCC~\n").encode()
    ter = ("Uuid~RfcACuentaTerceros~NombreACuentaTerceros\n" + U1 + "~DDD010101DDD~Otro\n").encode()

    (r,) = read_metadata([("m.txt", main), ("m_tercero.txt", ter)])

    # Before: RFC CCC010101CCC paired with DDD010101DDD's name.
    assert (r.rfc_a_cuenta_terceros, r.nombre_a_cuenta_terceros) == ("CCC010101CCC", "")
    assert r.extra == (
        ("_tercero.txt:RfcACuentaTerceros", "DDD010101DDD"),
        ("_tercero.txt:NombreACuentaTerceros", "Otro"),
    )


def test_the_tercero_pair_fills_a_row_without_third_party() -> None:
    main = (H_TERCEROS + "\n" + row(U1) + "~~\n").encode()
    ter = ("Uuid~RfcACuentaTerceros~NombreACuentaTerceros\n" + U1 + "~DDD010101DDD~Otro\n").encode()

    (r,) = read_metadata([("m.txt", main), ("m_tercero.txt", ter)])

    assert (r.rfc_a_cuenta_terceros, r.nombre_a_cuenta_terceros) == ("DDD010101DDD", "Otro")
    assert r.extra == ()


CFDI = (
    '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" '
    'xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital" Version="4.0" '
    'Fecha="2024-01-05T10:00:00" TipoDeComprobante="I" SubTotal="1" Total="1" Moneda="MXN">'
    '<cfdi:Emisor Rfc="AAA010101AAA"/><cfdi:Receptor Rfc="BBB010101BBB"/><cfdi:Complemento>'
    f'<tfd:TimbreFiscalDigital UUID="{U1}" FechaTimbrado="2024-01-05T10:01:00"/>'
    "</cfdi:Complemento></cfdi:Comprobante>"
).encode()


def test_a_stray_metadata_txt_in_a_cfdi_package_is_ignored_not_raised() -> None:
    stray = (H + "\n" + row(U2) + "\n").encode()

    summary = summarize_package([(U1 + ".xml", CFDI), ("readme_metadata.txt", stray)])

    assert summary.kind == "cfdi"
    assert summary.uuids == {U1}  # the stray file's UUID is not counted
    assert summary.ignored == ("readme_metadata.txt",)
    (item,) = summary.skipped
    assert "metadata TXT in a package of CFDI XML documents" in item.reason


def test_too_many_tildes_give_the_true_reason() -> None:
    name = "~".join(["x"] * 150)

    rows = parse_metadata((H + "\n" + row(U1, ne=name) + "\n" + row(U2) + "\n").encode())

    assert [r.uuid for r in rows] == [U2]
    ((item,),) = [rows.skipped]
    assert item.reason.endswith(
        "too many `~` to re-align: 149 field(s) more than the header (at most 128)"
    )


def test_a_name_with_many_tildes_under_the_bound_is_read_exactly() -> None:
    # The old search gave up after 4096 candidate splits with an "ambiguous" reason.
    name = "~".join(["x"] * 30)
    tercero = "~".join(["y"] * 20)
    line = row(U1, ne=name) + "~CCC010101CCC~" + tercero

    (r,) = parse_metadata((H_TERCEROS + "\n" + line + "\n").encode())

    assert (r.nombre_emisor, r.nombre_a_cuenta_terceros) == (name, tercero)
    assert r.monto == Decimal("1160.00")
