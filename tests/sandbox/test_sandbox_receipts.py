"""Receipts: pending → invoiced (stamped once) | cancelled; público en general when there is
no client; stamp-pending-receipts in batches of 100; list filters and search."""

from __future__ import annotations

from gigstack_async.sandbox import Sandbox

CLIENT = {
    "name": "Juan",
    "legal_name": "JUAN PEREZ GARCIA",
    "tax_id": "PEGJ800101ABC",
    "tax_system": "612",
    "address": {"zip": "03100"},
}
ITEM = {
    "description": "Café",
    "quantity": 2,
    "unit_price": 58,
    "taxes": [{"type": "IVA", "rate": 0.16}],
}


async def test_a_receipt_is_stamped_once(api, sandbox: Sandbox) -> None:
    created = await api.post("receipts", json={"items": [ITEM], "periodicity": "week"})
    receipt = created.data
    assert (created.status, receipt["status"], receipt["total"]) == (201, "pending", 134.56)
    assert receipt["validUntil"] - receipt["created"] == 7 * 86_400
    assert receipt["url"].endswith(receipt["id"])

    stamped = await api.post(f"receipts/{receipt['id']}/stamp")
    assert stamped.data["status"] == "invoiced"
    (invoice_id,) = stamped.data["invoices"]
    invoice = (await api.get(f"invoices/income/{invoice_id}")).data
    assert invoice["client"]["tax_id"] == "XAXX010101000"  # público en general
    assert (invoice["use"], invoice["total"]) == ("S01", 134.56)
    again = await api.post(f"receipts/{receipt['id']}/stamp")
    assert (again.status, again.error_code) == (409, "resource_conflict")
    assert sandbox.state.core.stamp_count(receipt["id"]) == 1
    cancel = await api.call("DELETE", f"receipts/{receipt['id']}")
    assert cancel.status == 409
    kinds = [e.type for e in sandbox.state.event_hook.emitted if e.type.startswith("receipt.")]
    assert kinds == ["receipt.created", "receipt.completed"]


async def test_a_cancelled_receipt_cannot_be_stamped(api) -> None:
    receipt = (await api.post("receipts", json={"items": [ITEM]})).data
    assert (await api.call("DELETE", f"receipts/{receipt['id']}")).data["status"] == "cancelled"
    refused = await api.post(f"receipts/{receipt['id']}/stamp")
    assert (refused.status, refused.error_code) == (409, "resource_conflict")
    assert (await api.get("invoices/income")).body["total_results"] == 0
    bad = await api.post("receipts", json={"items": [ITEM], "periodicity": "century"})
    assert bad.body["error"]["details"] == ["periodicity"]


async def test_stamp_pending_receipts_of_a_client(api, sandbox: Sandbox) -> None:
    client = (await api.post("clients", json=CLIENT)).data
    body = {"client": {"id": client["id"]}, "items": [ITEM]}
    ids = [(await api.post("receipts", json=body)).data["id"] for _ in range(3)]
    await api.post("receipts", json={"items": [ITEM]})  # someone else's receipt
    await api.call("DELETE", f"receipts/{ids[0]}")

    summary = await api.post(f"clients/{client['id']}/stamp-pending-receipts")
    assert summary.data["stamped"] == 2
    assert (summary.data["failed"], summary.data["remaining"]) == (0, 0)
    assert {r["id"] for r in summary.data["results"]} == set(ids[1:])
    repeat = await api.post(f"clients/{client['id']}/stamp-pending-receipts")
    assert repeat.data["stamped"] == 0  # a repeat only stamps what is still pending
    assert len(sandbox.state.core.stamps) == 2
    invoiced = await api.get("receipts", params={"status": "invoiced", "client_id": client["id"]})
    assert invoiced.body["total_results"] == 2


async def test_receipt_search_and_scoping(api) -> None:
    client = (await api.post("clients", json=CLIENT)).data
    mine = (await api.post("receipts", json={"client": {"id": client["id"]}, "items": [ITEM]})).data
    found = await api.get("receipts/search", params={"q": "juan"})
    assert [r["id"] for r in found.data] == [mine["id"]]
    elsewhere = await api.get(f"receipts/{mine['id']}", params={"team": "team_connected"})
    assert elsewhere.status == 404
