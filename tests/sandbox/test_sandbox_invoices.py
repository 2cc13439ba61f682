"""Invoices: stamping (UUID, folio from the team's series), SAT-rounded Decimal totals, drafts,
cancellation rules, files, search, payment complements and the CFDI errors catalog."""

from __future__ import annotations

import json
from decimal import Decimal

import aiohttp
import pytest

from gigstack_async.sandbox import Sandbox

CLIENT = {
    "name": "Juan",
    "legal_name": "JUAN PEREZ GARCIA",
    "tax_id": "PEGJ800101ABC",
    "tax_system": "612",
    "address": {"zip": "03100"},
    "email": "juan@example.com",
}
IVA = {"type": "IVA", "rate": 0.16, "factor": "Tasa", "withholding": False}


@pytest.fixture
async def client_id(api) -> str:
    return str((await api.post("clients", json=CLIENT)).data["id"])


def income(client_id: str, **extra: object) -> dict[str, object]:
    item = {"description": "Consultoría", "quantity": 1, "unit_price": 1000, "taxes": [IVA]}
    return {"client": {"id": client_id}, "items": [item], **extra}


async def raw_json(api, method: str, path: str, **kwargs: object) -> dict:
    async with api.session.request(method, path, **kwargs) as response:
        return json.loads(await response.text(), parse_float=Decimal)


async def test_stamping_assigns_a_uuid_and_the_next_folio_of_the_series(
    api, client_id: str, sandbox: Sandbox
) -> None:
    first = (await api.post("invoices/income", json=income(client_id))).data
    second = (await api.post("invoices/income", json=income(client_id))).data
    egress = (await api.post("invoices/egress", json=income(client_id))).data

    assert (first["series"], first["folio_number"]) == ("A", 1)
    assert (second["series"], second["folio_number"]) == ("A", 2)
    assert (egress["series"], egress["folio_number"], egress["invoice_type"]) == ("E", 1, "E")
    uuids = {first["stamp"]["uuid"], second["stamp"]["uuid"], egress["stamp"]["uuid"]}
    assert len(uuids) == 3
    assert all(len(uuid) == 36 for uuid in uuids)
    assert first["status"] == "valid"
    assert sandbox.state.core.stamp_count(first["id"]) == 1
    # Another team has its own counters.
    other = await api.post("clients", json=CLIENT, params={"team": "team_connected"})
    body = income(other.data["id"])
    theirs = await api.post("invoices/income", json=body, params={"team": "team_connected"})
    assert theirs.data["folio_number"] == 1


async def test_series_come_from_the_team(api, client_id: str) -> None:
    unknown = await api.post("invoices/income", json=income(client_id, series="Z"))
    assert (unknown.status, unknown.body["error"]["details"]) == (400, ["series"])
    created = await api.post("teams/team_sandbox/series", json={"series": "Z", "test": 41})
    assert created.status == 200
    stamped = await api.post("invoices/income", json=income(client_id, series="Z"))
    assert stamped.data["folio_number"] == 42
    explicit = await api.post("invoices/income", json=income(client_id, folio_number=100))
    assert explicit.data["folio_number"] == 100
    reused = await api.post("invoices/income", json=income(client_id, folio_number=100))
    assert (reused.status, reused.error_code) == (409, "resource_conflict")
    after = await api.post("invoices/income", json=income(client_id))
    assert after.data["folio_number"] == 101


async def test_totals_are_decimal_and_sat_rounded(api, client_id: str) -> None:
    items = [
        {"description": "a", "quantity": 3, "unit_price": 33.335, "taxes": [IVA]},
        {
            "description": "b",
            "quantity": 1,
            "unit_price": 116,
            "taxes": [{**IVA, "inclusive": True}],
        },
        {
            "description": "c",
            "quantity": 1,
            "unit_price": 1000,
            "taxes": [IVA, {"type": "ISR", "rate": 0.10, "withholding": True}],
        },
    ]
    body = await raw_json(api, "POST", "invoices/income", json=income(client_id, items=items))
    data = body["data"]
    # a: 100.005 → 100.01, IVA 16.0016 → 16.00; b: 116 incl. IVA → base 100.00, IVA 16.00;
    # c: 1000, IVA 160.00, ISR withheld 100.00.
    assert data["subtotal"] == Decimal("1200.01")
    assert data["taxes"] == Decimal("92.00")
    assert data["total"] == Decimal("1292.01")
    usd = await api.post("invoices/income", json=income(client_id, currency="USD"))
    assert usd.body["error"]["details"] == ["exchange_rate"]
    jpy = income(client_id, currency="JPY", exchange_rate=0.12)
    jpy["items"] = [{"description": "y", "unit_price": 99.5, "taxes": [IVA]}]
    yen = await raw_json(api, "POST", "invoices/income", json=jpy)
    assert (yen["data"]["subtotal"], yen["data"]["total"]) == (100, 116)  # JPY has 0 decimals


async def test_a_cfdi_needs_a_complete_receiver(api) -> None:
    bare = (await api.post("clients", json={"name": "Sin datos"})).data
    reply = await api.post("invoices/income", json=income(bare["id"]))
    assert (reply.status, reply.body["error"]["details"]) == (400, ["client.tax_id"])
    assert (await api.get("invoices/income")).body["total_results"] == 0  # nothing stamped
    ppd = await api.post(
        "invoices/income",
        json=income(bare["id"], payment_method="PPD", payment_form="03"),
    )
    assert ppd.body["error"]["details"] == ["payment_form"]


async def test_cancel_once_with_motive_rules(api, client_id: str, sandbox: Sandbox) -> None:
    invoice = (await api.post("invoices/income", json=income(client_id))).data
    new = (await api.post("invoices/income", json=income(client_id))).data
    path = f"invoices/{invoice['id']}"

    no_sub = await api.call("DELETE", path, json={"motive": "01"})
    assert (no_sub.status, no_sub.body["error"]["details"]) == (400, ["substitution_uuid"])
    cli_name = await api.call("DELETE", path, json={"motive": "01", "replacement": "x"})
    assert "replacement" in cli_name.body["message"]
    extra = await api.call(
        "DELETE", path, json={"motive": "02", "substitution_uuid": new["stamp"]["uuid"]}
    )
    assert extra.status == 400
    bad_motive = await api.call("DELETE", path, json={"motive": "05"})
    assert bad_motive.body["error"]["details"] == ["motive"]
    assert sandbox.state.core.cancellations[invoice["id"]] == 0

    ok = await api.call(
        "DELETE", path, json={"motive": "01", "substitution_uuid": new["stamp"]["uuid"]}
    )
    assert ok.status == 200
    assert ok.data["status"] == "cancelled"
    assert ok.data["cancellation"]["substitution_uuid"] == new["stamp"]["uuid"]
    again = await api.call("DELETE", path, json={"motive": "02"})
    assert (again.status, again.error_code) == (409, "resource_conflict")
    assert sandbox.state.core.cancellations[invoice["id"]] == 1
    # By SAT UUID too, and the other motives need no substitution.
    by_uuid = await api.call("DELETE", f"invoices/{new['stamp']['uuid']}", json={"motive": "03"})
    assert by_uuid.data["id"] == new["id"]
    assert [e.type for e in sandbox.state.event_hook.emitted].count("invoice.canceled") == 2


async def test_drafts_become_invoices_only_when_stamped(
    api, client_id: str, sandbox: Sandbox
) -> None:
    missing_type = await api.post("invoices/draft", json={"currency": "MXN"})
    assert missing_type.body["error"]["details"] == ["invoice_type"]
    draft = (await api.post("invoices/draft", json={"invoice_type": "I"})).data
    assert (draft["status"], draft["folio_number"], draft["created_at"] > 10**12) == (
        "draft",
        0,
        True,
    )  # drafts carry ms timestamps
    path = f"invoices/draft/{draft['id']}"
    early = await api.post(f"{path}/stamp")
    assert early.body["error"]["details"] == ["items"]
    updated = await api.put(path, json=income(client_id))
    assert updated.data["total"] == 1160
    replaced = await api.put(path, json={"items": [{"description": "z", "unit_price": 10}]})
    assert replaced.data["total"] == 10  # items replace the list
    assert (await api.get("invoices/income")).body["total_results"] == 0

    preview = await api.post(f"{path}/preview")
    assert preview.data["preview_pdf"].startswith("JVBERi0")  # base64 of %PDF-
    assert (await api.get(path)).data["preview_pdf"] == preview.data["preview_pdf"]

    stamped = await api.post(f"{path}/stamp")
    assert (stamped.data["invoice_type"], stamped.data["folio_number"]) == ("I", 1)
    assert (await api.get("invoices/income")).body["total_results"] == 1
    after = (await api.get(path)).data
    assert (after["status"], after["invoice_id"]) == ("stamped", stamped.data["id"])
    for method, target in (("POST", f"{path}/stamp"), ("PUT", path), ("DELETE", path)):
        refused = await api.call(method, target, json={})
        assert (refused.status, refused.error_code) == (409, "resource_conflict"), method
        assert stamped.data["id"] in refused.body["message"]
    assert sandbox.state.core.stamp_count(draft["id"]) == 1

    other = (await api.post("invoices/draft", json={"invoice_type": "E"})).data
    assert (await api.call("DELETE", f"invoices/draft/{other['id']}")).status == 200
    for method, suffix in (("GET", ""), ("PUT", ""), ("POST", "/stamp"), ("DELETE", "")):
        gone = await api.call(method, f"invoices/draft/{other['id']}{suffix}", json={})
        assert gone.status == 404, (method, suffix)


async def test_files_are_downloadable_without_the_key(
    api, client_id: str, sandbox: Sandbox
) -> None:
    invoice = (await api.post("invoices/income", json=income(client_id))).data
    urls = (await api.get(f"invoices/{invoice['id']}/files")).data
    assert set(urls) == {"pdf", "xml"}
    only_xml = await api.get(f"invoices/{invoice['id']}/files", params={"file_type": "xml"})
    assert set(only_xml.data) == {"xml"}
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(urls["xml"]) as response:
            xml = await response.text()
        async with anonymous.get(urls["pdf"]) as response:
            pdf = await response.read()
        async with anonymous.get(urls["pdf"].split("?")[0] + "?token=forged") as response:
            forged = response.status
    assert invoice["stamp"]["uuid"] in xml
    assert 'Total="1160.00"' in xml
    assert pdf.startswith(b"%PDF-")
    assert forged == 403


async def test_search_and_list_filters(api, client_id: str) -> None:
    first = (await api.post("invoices/income", json=income(client_id))).data
    await api.post("invoices/income", json=income(client_id))
    by_uuid = await api.get("invoices/search", params={"q": first["stamp"]["uuid"]})
    assert [i["id"] for i in by_uuid.data] == [first["id"]]
    assert (await api.get("invoices/search", params={"q": "juan perez"})).body["found"] == 2
    await api.call("DELETE", f"invoices/{first['id']}", json={"motive": "02"})
    cancelled = await api.get("invoices/income", params={"status": "cancelled"})
    assert [i["id"] for i in cancelled.data] == [first["id"]]
    assert (await api.get("invoices/egress")).body["total_results"] == 0
    wrong_kind = await api.get(f"invoices/egress/{first['id']}")
    assert wrong_kind.status == 404


async def test_resend_email_and_support_documents(api, client_id: str) -> None:
    invoice = (await api.post("invoices/income", json=income(client_id))).data
    sent = await api.post(f"invoices/{invoice['id']}/send", json={"emails": ["cc@example.com"]})
    assert sent.data["recipients"] == ["juan@example.com", "cc@example.com"]

    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4 contract", filename="c.pdf")
    form.add_field("documentType", "contract")
    uploaded = await api.post(f"invoices/{invoice['id']}/support-documents", data=form)
    assert uploaded.body["success"] is True
    assert (uploaded.data["mime_type"], uploaded.data["file_size"]) == ("application/pdf", 17)
    listed = await api.get(f"invoices/{invoice['id']}/support-documents")
    assert [d["id"] for d in listed.data] == [uploaded.data["id"]]
    bad = aiohttp.FormData()
    bad.add_field("file", b"MZ\x90 not a document", filename="x.exe")
    bad.add_field("documentType", "contract")
    refused = await api.post(f"invoices/{invoice['id']}/support-documents", data=bad)
    assert (refused.status, refused.error_code) == (400, "invalid_file_format")


async def test_cfdi_errors_catalog_pages_by_number(api) -> None:
    first = await api.get("invoices/errors", params={"limit": "10"})
    assert (first.body["page"], first.body["limit"], len(first.data)) == (1, 10, 10)
    total = first.body["total"]
    last = await api.get("invoices/errors", params={"limit": "10", "page": str(total // 10 + 1)})
    assert len(last.data) == total % 10
    documented = await api.get("invoices/errors", params={"code": "CFDI140223"})
    assert documented.data[0]["type"] == "receiver"
    receivers = await api.get("invoices/errors", params={"type": "receiver", "limit": "100"})
    assert {row["type"] for row in receivers.data} == {"receiver"}
    assert (await api.get("invoices/errors", params={"type": "other"})).status == 400
