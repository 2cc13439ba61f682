"""`bulk.content.package_mismatch`: a staged package is checked before a month extracts it."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pytest

from gigstack_async.bulk.content import package_mismatch

JAN = {"start": date(2024, 1, 1), "end": date(2024, 1, 31)}
HEADER = (
    "Uuid~RfcEmisor~NombreEmisor~RfcReceptor~NombreReceptor~RfcPac~FechaEmision~"
    "FechaCertificacionSat~Monto~EfectoComprobante~Estatus~FechaCancelacion"
)


def xml(fecha: str | None) -> bytes:
    attr = "" if fecha is None else f' Fecha="{fecha}"'
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<cfdi:Comprobante '
        'xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Version="4.0" Certificado="'
        + "A" * 3000
        + f'"{attr} Total="10.00"><cfdi:Emisor Rfc="AAA010101AAA"/></cfdi:Comprobante>'
    ).encode()


def row(uuid: str, fecha: str) -> str:
    return (
        f"{uuid}~AAA010101AAA~Emisor~BBB010101BBB~Receptor~SAT970701NN3~{fecha}~{fecha}~10.00~I~1~"
    )


def package(tmp_path: Path, files: dict[str, bytes]) -> Path:
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return path


def test_cfdi_issued_in_the_month_fit(tmp_path: Path) -> None:
    files = {
        "A.xml": xml("2024-01-01T00:10:00"),
        "B.xml": xml("2024-01-31T23:59:59"),
        "C.xml": xml("2023-12-31T23:00:00"),  # one day of slack for time zones
    }
    assert package_mismatch(package(tmp_path, files), request_type="cfdi", **JAN) is None


@pytest.mark.parametrize(
    ("files", "found"),
    [
        ({"A.xml": xml("2023-05-04T10:00:00")}, "1 of 1 issued 2023-05-04..2023-05-04, outside"),
        ({"A.xml": xml(None)}, "without a readable issue date"),
        ({"A.xml": xml("soon")}, "without a readable issue date"),
        ({"R-1_01.txt": (HEADER + "\n").encode()}, "no CFDI XML, only R-1_01.txt"),
        ({"A.xml": xml("2024-01-02T00:00:00"), "notes.txt": b"x"}, "not CFDI XML: notes.txt"),
        ({}, "no CFDI XML"),
    ],
)
def test_a_cfdi_month_refuses_what_is_not_its_cfdis(
    tmp_path: Path, files: dict[str, bytes], found: str
) -> None:
    mismatch = package_mismatch(package(tmp_path, files), request_type="cfdi", **JAN)
    assert mismatch is not None
    assert found in mismatch


def test_a_metadata_month_reads_fecha_emision(tmp_path: Path) -> None:
    uuid = "6F0A1B2C-3D4E-5F60-7A8B-9C0D1E2F3A4B"
    good = HEADER + "\n" + row(uuid, "2024-01-15 10:00:00") + "\n"
    path = package(tmp_path, {"R-1_01.txt": good.encode()})
    assert package_mismatch(path, request_type="metadata", **JAN) is None
    old = HEADER + "\n" + row(uuid, "2023-05-15 10:00:00") + "\n"
    found = package_mismatch(
        package(tmp_path, {"R-1_01.txt": old.encode()}), request_type="metadata", **JAN
    )
    assert found is not None
    assert "outside" in found
    cfdi = package_mismatch(
        package(tmp_path, {"A.xml": xml("2024-01-02T00:00:00")}), request_type="metadata", **JAN
    )
    assert cfdi is not None
    assert "not metadata TXT" in cfdi
