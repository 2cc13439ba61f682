"""Packages are real ZIPs: CFDI 4.0 XML or SAT metadata TXT, matching the ground truth."""

from __future__ import annotations

import base64
import io
import xml.etree.ElementTree as ET
import zipfile

import attrs
import pytest

from gigstack_async.sandbox import Sandbox, SandboxConfig

CFDI = "{http://www.sat.gob.mx/cfd/4}"
TFD = "{http://www.sat.gob.mx/TimbreFiscalDigital}"
HEADER = (
    "Uuid~RfcEmisor~NombreEmisor~RfcReceptor~NombreReceptor~RfcPac~FechaEmision~"
    "FechaCertificacionSat~Monto~EfectoComprobante~Estatus~FechaCancelacion"
)


async def complete(api, sandbox: Sandbox, start: str, end: str, **kwargs) -> str:
    """Create a request, let SAT finish it, return its id."""
    reply = await api.create(start, end, **kwargs)
    assert reply.status == 200, reply.body
    sandbox.clock.advance(sandbox.config.lifecycle.longest_completion_seconds)
    return str(reply.data["request_id"])


async def fetch_zips(api, request_id: str) -> dict[str, zipfile.ZipFile]:
    status = await api.get(f"invoices/download/status/{request_id}")
    assert status.data["status"] == "completed"
    archives = {}
    for package_id in status.data["package_ids"]:
        reply = await api.get(f"invoices/download/package/{package_id}")
        assert reply.status == 200
        assert reply.data["package_id"] == package_id
        assert reply.data["encoding"] == "base64"
        archives[package_id] = zipfile.ZipFile(io.BytesIO(base64.b64decode(reply.data["content"])))
    return archives


async def test_cfdi_package_holds_one_valid_xml_per_invoice(api, sandbox: Sandbox) -> None:
    request_id = await complete(api, sandbox, "2025-04-01", "2025-04-30")

    (archive,) = (await fetch_zips(api, request_id)).values()
    assert archive.testzip() is None
    uuids = set()
    for name in archive.namelist():
        root = ET.fromstring(archive.read(name))
        assert root.tag == f"{CFDI}Comprobante"
        assert root.get("Version") == "4.0"
        for attribute in (
            "Fecha",
            "Serie",
            "Folio",
            "SubTotal",
            "Total",
            "Moneda",
            "TipoDeComprobante",
        ):
            assert root.get(attribute), attribute
        assert "2025-04-01" <= root.get("Fecha", "")[:10] <= "2025-04-30"
        emisor, receptor = root.find(f"{CFDI}Emisor"), root.find(f"{CFDI}Receptor")
        assert emisor is not None
        assert receptor is not None
        assert emisor.get("Rfc") == "EKU9003173C9"  # issued: the team is the issuer
        assert emisor.get("Nombre")
        assert emisor.get("RegimenFiscal")
        for attribute in (
            "Rfc",
            "Nombre",
            "UsoCFDI",
            "DomicilioFiscalReceptor",
            "RegimenFiscalReceptor",
        ):
            assert receptor.get(attribute), attribute
        stamp = root.find(f"{CFDI}Complemento/{TFD}TimbreFiscalDigital")
        assert stamp is not None
        assert stamp.get("FechaTimbrado")
        assert stamp.get("RfcProvCertif")
        assert name == f"{stamp.get('UUID')}.xml"
        uuids.add(stamp.get("UUID"))
    assert uuids == sandbox.state.ground_truth[request_id]
    assert len(archive.namelist()) == len(uuids)


async def test_large_requests_are_split_into_numbered_packages(
    start_sandbox, config: SandboxConfig
) -> None:
    sandbox, api = await start_sandbox(attrs.evolve(config, package_size=7))
    request_id = await complete(api, sandbox, "2025-04-01", "2025-04-30")

    archives = await fetch_zips(api, request_id)

    expected = sandbox.state.ground_truth[request_id]
    count = -(-len(expected) // 7)
    assert list(archives) == [f"{request_id}_{n:02d}" for n in range(1, count + 1)]
    names = [name for archive in archives.values() for name in archive.namelist()]
    assert all(len(archive.namelist()) <= 7 for archive in archives.values())
    assert len(names) == len(set(names))
    assert {name.removesuffix(".xml") for name in names} == expected


async def test_metadata_package_is_sat_txt_with_crlf(api, sandbox: Sandbox) -> None:
    request_id = await complete(
        api, sandbox, "2025-04-01", "2025-04-30", rfc_type="received", request_type="metadata"
    )

    ((package_id, archive),) = (await fetch_zips(api, request_id)).items()
    assert archive.namelist() == [f"{package_id}.txt"]
    raw = archive.read(f"{package_id}.txt").decode("utf-8")
    assert raw.endswith("\r\n")
    assert "\n" not in raw.replace("\r\n", "")
    lines = raw.split("\r\n")[:-1]
    assert lines[0] == HEADER
    rows = [line.split("~") for line in lines[1:]]
    assert all(len(row) == 12 for row in rows)
    assert {row[0] for row in rows} == sandbox.state.ground_truth[request_id]
    assert all(row[3] == "EKU9003173C9" for row in rows)  # received: the team is the receiver
    assert {row[10] for row in rows} <= {"0", "1"}
    assert all((row[10] == "0") == bool(row[11]) for row in rows)


async def test_received_xml_excludes_cancelled_cfdis_but_metadata_lists_them(
    start_sandbox, config: SandboxConfig
) -> None:
    sandbox, api = await start_sandbox(attrs.evolve(config, invoices_per_month=(60, 60)))
    cfdi = await complete(api, sandbox, "2025-01-01", "2025-01-31", rfc_type="received")
    metadata = await complete(
        api, sandbox, "2025-01-01", "2025-01-31", rfc_type="received", request_type="metadata"
    )

    (archive,) = (await fetch_zips(api, metadata)).values()
    rows = [
        line.split("~") for line in archive.read(archive.namelist()[0]).decode().split("\r\n")[1:-1]
    ]
    vigentes = {row[0] for row in rows if row[10] == "1"}
    assert sandbox.state.ground_truth[cfdi] == vigentes
    assert len(rows) > len(vigentes)  # 60 CFDIs at a 6% cancellation rate: some are cancelled


async def test_partial_months_hold_only_their_days_and_add_up(api, sandbox: Sandbox) -> None:
    full = await complete(api, sandbox, "2025-03-01", "2025-03-31")
    first = await complete(api, sandbox, "2025-03-01", "2025-03-15")
    second = await complete(api, sandbox, "2025-03-16", "2025-03-31")

    truth = sandbox.state.ground_truth
    assert truth[first] | truth[second] == truth[full]
    assert not truth[first] & truth[second]
    for request in sandbox.state.download_requests:
        start, end = request.criteria.start_date, request.criteria.end_date
        assert all(start <= invoice.issue_date <= end for invoice in request.invoices)


async def test_invoice_volume_is_configurable(start_sandbox, config: SandboxConfig) -> None:
    sandbox, api = await start_sandbox(attrs.evolve(config, invoices_per_month=(3, 3)))
    request_id = await complete(api, sandbox, "2025-02-01", "2025-02-28")

    assert len(sandbox.state.ground_truth[request_id]) == 3


async def test_an_empty_month_completes_without_packages(
    start_sandbox, config: SandboxConfig
) -> None:
    sandbox, api = await start_sandbox(attrs.evolve(config, invoices_per_month=(0, 0)))
    request_id = await complete(api, sandbox, "2025-02-01", "2025-02-28")

    status = await api.get(f"invoices/download/status/{request_id}")

    assert (status.data["status"], status.data["invoice_count"], status.data["package_ids"]) == (
        "completed",
        0,
        [],
    )


async def test_same_seed_same_packages(start_sandbox, config: SandboxConfig) -> None:
    contents = []
    for seed in (5, 5, 6):
        sandbox, api = await start_sandbox(attrs.evolve(config, seed=seed))
        request_id = await complete(api, sandbox, "2025-04-01", "2025-04-30")
        status = await api.get(f"invoices/download/status/{request_id}")
        package = await api.get(f"invoices/download/package/{status.data['package_ids'][0]}")
        contents.append(
            (request_id, sandbox.state.ground_truth[request_id], package.data["content"])
        )

    assert contents[0] == contents[1]
    assert contents[0][1] != contents[2][1]


async def test_packages_are_not_ready_before_completion(api, sandbox: Sandbox) -> None:
    request_id = (await api.create("2025-04-01", "2025-04-30")).data["request_id"]

    early = await api.get(f"invoices/download/package/{request_id}_01")
    unknown = await api.get("invoices/download/package/NOPE_01")

    assert (early.status, early.error_code) == (404, "resource_not_found")
    assert unknown.status == 404


async def test_expired_packages_are_gone(api, sandbox: Sandbox) -> None:
    request_id = await complete(api, sandbox, "2025-04-01", "2025-04-30")
    sandbox.clock.advance(72 * 3600)

    reply = await api.get(f"invoices/download/package/{request_id}_01")

    assert (reply.status, reply.error_code) == (404, "resource_not_found")
    assert "5007" in reply.body["message"]


@pytest.mark.parametrize(("cap", "allowed"), [(2, 2), (None, 5)])
async def test_download_cap_per_package(start_sandbox, config: SandboxConfig, cap, allowed) -> None:
    sandbox, api = await start_sandbox(attrs.evolve(config, max_package_downloads=cap))
    request_id = await complete(api, sandbox, "2025-04-01", "2025-04-30")

    replies = [await api.get(f"invoices/download/package/{request_id}_01") for _ in range(5)]

    assert [reply.status for reply in replies].count(200) == allowed
    if cap is not None:
        assert replies[-1].error_code == "business_rule_violation"
        assert "5008" in replies[-1].body["message"]
