"""The SAT invoice list filled by completed cfdi requests, its filters and per-invoice actions."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET

import attrs
import pytest

from gigstack_async.sandbox import Sandbox, SandboxConfig

LIST = "invoices/sat"
TEAM_RFC = "EKU9003173C9"


@pytest.fixture
async def synced(start_sandbox, config: SandboxConfig):
    """A sandbox where April 2025 (issued and received, cfdi) has completed: 40 CFDIs a month."""
    sandbox, api = await start_sandbox(attrs.evolve(config, invoices_per_month=(40, 40)))
    for rfc_type in ("issued", "received"):
        assert (await api.create("2025-04-01", "2025-04-30", rfc_type=rfc_type)).status == 200
    sandbox.clock.advance(sandbox.config.lifecycle.longest_completion_seconds)
    return sandbox, api


def truth(sandbox: Sandbox, rfc_type: str | None = None) -> set[str]:
    return {
        uuid
        for request in sandbox.state.download_requests
        if request.criteria.request_type == "cfdi" and rfc_type in (None, request.criteria.rfc_type)
        for uuid in request.uuids
    }


async def walk(api, **params) -> list[dict]:
    """Every item across pages, checking the cursor contract on the way."""
    items, cursor, counts = [], None, set()
    while True:
        query = {**params, **({"starting_after": cursor} if cursor else {})}
        page = await api.get(LIST, params=query)
        assert page.status == 200, page.body
        items.extend(page.body["data"])
        counts.add(page.body["count"])
        assert len(counts) == 1  # `count` is the total for the filters, the same on every page
        if not page.body["has_more"]:
            assert page.body["next"] is None
            assert len(items) == counts.pop()
            return items
        cursor = page.body["next"]
        assert cursor == page.body["data"][-1]["uuid"]


async def test_list_is_empty_until_a_cfdi_request_completes(api, sandbox: Sandbox) -> None:
    await api.create("2025-04-01", "2025-04-30")
    await api.create("2025-05-01", "2025-05-31", request_type="metadata")
    sandbox.clock.advance(60)
    before = await api.get(LIST)
    sandbox.clock.advance(120)
    after = await api.get(LIST)

    assert before.body == {"success": True, "data": [], "has_more": False, "next": None, "count": 0}
    assert after.body["count"] == len(truth(sandbox)) > 0
    dates = {item["issue_date"][:7] for item in await walk(api, limit=100)}
    assert dates == {"2025-04"}  # the metadata request added nothing


async def test_pagination_walks_everything_once_newest_first(synced) -> None:
    sandbox, api = synced

    items = await walk(api, limit=7)

    uuids = [item["uuid"] for item in items]
    assert len(uuids) == len(set(uuids))
    assert set(uuids) == truth(sandbox)
    dates = [item["issue_date"] for item in items]
    assert dates == sorted(dates, reverse=True)


async def test_default_page_size_is_ten_and_count_is_the_total(synced) -> None:
    sandbox, api = synced

    page = await api.get(LIST, params={"direction": "", "status": ""})  # empty = absent

    assert len(page.body["data"]) == 10
    assert page.body["has_more"] is True
    assert page.body["count"] == len(truth(sandbox))


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"direction": "received"}, lambda i: i["direction"] == "received"),
        ({"status": "Cancelado"}, lambda i: i["status"] == "Cancelado"),
        ({"invoice_type": "P"}, lambda i: i["invoice_type"] == "P"),
        ({"issuer_rfc": TEAM_RFC}, lambda i: i["issuer"]["rfc"] == TEAM_RFC),
        ({"receiver_rfc": TEAM_RFC.lower()}, lambda i: i["receiver"]["rfc"] == TEAM_RFC),
        (
            {"from": "2025-04-10", "to": "2025-04-12"},
            lambda i: "2025-04-10" <= i["issue_date"][:10] <= "2025-04-12",
        ),
    ],
)
async def test_filters(synced, params, check) -> None:
    _, api = synced

    everything = await walk(api, limit=100)
    filtered = await walk(api, limit=100, **params)

    assert filtered, "the seeded data should have matches for every filter"
    assert all(check(item) for item in filtered)
    assert [i for i in everything if check(i)] == filtered


async def test_direction_filter_matches_the_ground_truth(synced) -> None:
    sandbox, api = synced

    received = await walk(api, direction="received", limit=100)

    assert {item["uuid"] for item in received} == truth(sandbox, "received")
    assert all(item["status"] == "Vigente" for item in received)  # SAT serves no cancelled XML


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"direction": "sent"}, "direction"),
        ({"status": "vigente"}, "status"),
        ({"invoice_type": "X"}, "invoice_type"),
        ({"from": "04/01/2025"}, "from"),
        ({"from": "2025-04-10", "to": "2025-04-01"}, "to"),
        ({"starting_after": "not-a-cursor"}, "starting_after"),
    ],
)
async def test_bad_query_parameters_are_400(synced, params, field: str) -> None:
    _, api = synced

    reply = await api.get(LIST, params=params)

    assert (reply.status, reply.error_code) == (400, "validation_failed")
    assert reply.body["error"]["details"] == [field]


async def test_get_one_invoice(synced) -> None:
    _, api = synced
    first = (await api.get(LIST)).body["data"][0]

    reply = await api.get(f"{LIST}/{first['uuid'].lower()}")
    missing = await api.get(f"{LIST}/00000000-0000-4000-8000-000000000000")

    assert reply.data == first
    assert (missing.status, missing.error_code) == (404, "resource_not_found")


async def test_retry_xml_charges_only_when_it_downloads(synced) -> None:
    sandbox, api = synced
    stuck = [i for i in await walk(api, direction="received", limit=100) if not i["has_xml"]]
    assert stuck, "seed 1234 has received invoices whose XML is building or failed"
    uuid = stuck[0]["uuid"]

    first = await api.post(f"{LIST}/{uuid}/retry-xml")
    second = await api.post(f"{LIST}/{uuid}/retry-xml")
    after = await api.get(f"{LIST}/{uuid}")

    assert first.data == {"credit_charged": True}
    assert second.data == {"credit_charged": False}
    assert (after.data["resource_status"], after.data["has_xml"]) == ("ready", True)
    charges = [c for c in sandbox.state.charges if c.operation_id == "retrySatInvoiceXml"]
    assert [c.subject for c in charges] == [uuid]


async def test_retry_xml_on_an_issued_invoice_is_422(synced) -> None:
    _, api = synced
    issued = (await api.get(LIST, params={"direction": "issued"})).body["data"][0]

    reply = await api.post(f"{LIST}/{issued['uuid']}/retry-xml")

    assert reply.status == 422


async def test_pdf_is_a_valid_pdf(synced) -> None:
    _, api = synced
    uuid = (await api.get(LIST)).body["data"][0]["uuid"]

    reply = await api.post(f"{LIST}/{uuid}/pdf")

    pdf = base64.b64decode(reply.body["pdf"])
    assert pdf.startswith(b"%PDF-1.")
    assert pdf.rstrip().endswith(b"%%EOF")
    xref_at = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    assert pdf[xref_at:].startswith(b"xref")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n", pdf)]
    assert all(re.match(rb"\d+ 0 obj", pdf[offset:]) for offset in offsets)
    assert uuid.encode() in pdf


async def test_single_invoice_from_sat_is_billed(synced) -> None:
    sandbox, api = synced
    uuid = next(iter(truth(sandbox, "issued")))

    reply = await api.get(f"invoices/download/invoice/{uuid}")
    missing = await api.get("invoices/download/invoice/00000000-0000-4000-8000-000000000000")

    assert reply.data["uuid"] == uuid
    stamp = ET.fromstring(reply.data["xml"]).find(
        "{http://www.sat.gob.mx/cfd/4}Complemento/{http://www.sat.gob.mx/TimbreFiscalDigital}TimbreFiscalDigital"
    )
    assert stamp is not None
    assert stamp.get("UUID") == uuid
    assert missing.status == 404
    charges = [c for c in sandbox.state.charges if c.operation_id == "getSatInvoiceFromSat"]
    assert [c.subject for c in charges] == [uuid]


async def test_cancelled_received_xml_is_refused_by_sat(
    start_sandbox, config: SandboxConfig
) -> None:
    sandbox, api = await start_sandbox(attrs.evolve(config, invoices_per_month=(60, 60)))
    await api.create("2025-01-01", "2025-01-31", rfc_type="received", request_type="metadata")
    cancelled = next(
        invoice
        for invoice in sandbox.state.download_requests[0].invoices
        if invoice.status == "Cancelado"
    )

    reply = await api.get(f"invoices/download/invoice/{cancelled.uuid}")

    assert (reply.status, reply.error_code) == (400, "business_rule_violation")
    assert "5012" in reply.body["message"]
    assert not [c for c in sandbox.state.charges if c.operation_id == "getSatInvoiceFromSat"]
