"""Payments: register/request/mark paid/refund/cancel follow the status machine, each money
move is recorded once, `idempotency_key` replays, automations stamp CFDIs exactly once."""

from __future__ import annotations

from decimal import Decimal

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
ITEM = {
    "description": "Plan",
    "quantity": 1,
    "unit_price": 1000,
    "taxes": [{"type": "IVA", "rate": 0.16}],
}


@pytest.fixture
async def client_id(api) -> str:
    return str((await api.post("clients", json=CLIENT)).data["id"])


def register(client_id: str, **extra: object) -> dict[str, object]:
    return {"client": {"id": client_id}, "items": [ITEM], "payment_form": "03", **extra}


async def test_register_records_money_once_and_replays_its_key(
    api, client_id: str, sandbox: Sandbox
) -> None:
    body = register(client_id, idempotency_key="order-42")
    first = await api.post("payments/register", json=body)
    again = await api.post("payments/register", json=body)

    assert first.data["status"] == "succeeded"
    assert first.data["total"] == 1160
    assert again.data["id"] == first.data["id"]
    moves = sandbox.state.core.moves_of(first.data["id"])
    assert [(m.kind, m.amount) for m in moves] == [("register", Decimal("1160.00"))]
    assert (await api.get("payments")).body["total_results"] == 1

    changed = await api.post("payments/register", json={**body, "payment_form": "01"})
    assert (changed.status, changed.error_code) == (409, "resource_conflict")
    other_team = await api.post(
        "payments/register",
        json=register(
            (await api.post("clients", json=CLIENT, params={"team": "team_connected"})).data["id"],
            idempotency_key="order-42",
        ),
        params={"team": "team_connected"},
    )
    assert other_team.data["id"] != first.data["id"]  # keys are per team
    no_form = await api.post(
        "payments/register", json={"client": {"id": client_id}, "items": [ITEM]}
    )
    assert no_form.body["error"]["details"] == ["payment_form"]


async def test_automations_stamp_once(api, client_id: str, sandbox: Sandbox) -> None:
    pue = await api.post(
        "payments/register", json=register(client_id, automation_type="pue_invoice")
    )
    (invoice_id,) = pue.data["invoices"]
    invoice = (await api.get(f"invoices/income/{invoice_id}")).data
    assert (invoice["payment_method"], invoice["payment_form"]) == ("PUE", "03")
    assert sandbox.state.core.stamp_count(pue.data["id"]) == 1

    body = register(client_id, automation_type="ppd_invoice_and_complement", idempotency_key="p")
    ppd = await api.post("payments/register", json=body)
    await api.post("payments/register", json=body)  # replay: no new stamps
    invoice_id, complement_id = ppd.data["invoices"]
    parent = (await api.get(f"invoices/income/{invoice_id}")).data
    complement = (await api.get(f"invoices/payment/{complement_id}")).data
    assert (parent["payment_method"], parent["last_balance"], parent["payment_complements"]) == (
        "PPD",
        0,
        1,
    )
    assert complement["invoice_type"] == "P"
    assert complement["payment"]["related_uuid"] == parent["stamp"]["uuid"]
    assert complement["payment"]["amount"] == 1160
    assert sandbox.state.core.stamp_count(ppd.data["id"]) == 2
    listed = await api.get("invoices/payment", params={"invoice_id": invoice_id})
    assert [c["id"] for c in listed.data] == [complement_id]

    incomplete = (await api.post("clients", json={"name": "Sin RFC"})).data
    refused = await api.post(
        "payments/register", json=register(incomplete["id"], automation_type="pue_invoice")
    )
    assert refused.status == 400
    assert (await api.get("payments")).body["total_results"] == 2  # nothing half-registered


async def test_request_then_mark_paid_runs_the_automation(
    api, client_id: str, sandbox: Sandbox
) -> None:
    body = {"client": {"id": client_id}, "items": [ITEM], "automation_type": "pue_invoice"}
    requested = (await api.post("payments/request", json=body)).data
    assert requested["status"] == "requires_payment_method"
    assert requested["short_url"].startswith("https://")
    assert requested["invoices"] == []
    refund_early = await api.post(
        f"payments/{requested['id']}/refund", json={"reason": "x", "amount": 1}
    )
    assert (refund_early.status, refund_early.error_code) == (400, "business_rule_violation")

    no_form = await api.post(f"payments/{requested['id']}/paid", json={})
    assert no_form.body["error"]["details"] == ["payment_form"]
    paid = await api.post(f"payments/{requested['id']}/paid", json={"payment_form": "04"})
    assert (paid.data["status"], paid.data["payment_form"]) == ("succeeded", "04")
    assert len(paid.data["invoices"]) == 1
    twice = await api.post(f"payments/{requested['id']}/paid", json={"payment_form": "04"})
    assert (twice.status, twice.error_code) == (409, "resource_conflict")
    assert sandbox.state.core.stamp_count(requested["id"]) == 1
    kinds = [m.kind for m in sandbox.state.core.moves_of(requested["id"])]
    assert kinds == ["paid"]
    cancel_paid = await api.call("DELETE", f"payments/{requested['id']}")
    assert cancel_paid.status == 400  # refund it instead


async def test_refunds_only_what_was_paid(api, client_id: str, sandbox: Sandbox) -> None:
    payment = (await api.post("payments/register", json=register(client_id))).data
    path = f"payments/{payment['id']}/refund"

    no_reason = await api.post(path, json={"amount": 10})
    assert no_reason.body["error"]["details"] == ["reason"]
    too_much = await api.post(path, json={"reason": "dup", "amount": 1160.01})
    assert too_much.status == 400
    part = await api.post(path, json={"reason": "dup", "amount": 160.005})
    assert (part.data["status"], str(part.data["amount_refunded"])) == ("succeeded", "160.01")
    over = await api.post(path, json={"reason": "dup", "amount": 1000})
    assert over.status == 400  # only 999.99 left
    rest = await api.post(path, json={"reason": "dup", "amount": 999.99})
    assert rest.data["status"] == "refunded"
    assert [str(r["amount"]) for r in rest.data["refunds"]] == ["160.01", "999.99"]
    after = await api.post(path, json={"reason": "dup", "amount": 1})
    assert after.status == 400
    moves = [(m.kind, m.amount) for m in sandbox.state.core.moves_of(payment["id"])]
    assert moves == [
        ("register", Decimal("1160.00")),
        ("refund", Decimal("-160.01")),
        ("refund", Decimal("-999.99")),
    ]


async def test_cancel_a_requested_payment_once(api, client_id: str, sandbox: Sandbox) -> None:
    body = {"client": {"id": client_id}, "items": [ITEM]}
    requested = (await api.post("payments/request", json=body)).data
    canceled = await api.call("DELETE", f"payments/{requested['id']}")
    assert canceled.data["status"] == "canceled"
    again = await api.call("DELETE", f"payments/{requested['id']}")
    assert (again.status, again.error_code) == (409, "resource_conflict")
    late = await api.post(f"payments/{requested['id']}/paid", json={"payment_form": "03"})
    assert late.status == 400
    types = [e.type for e in sandbox.state.event_hook.emitted if e.type.startswith("payment.")]
    assert types == ["payment.created", "payment.canceled"]


async def test_update_payment_rules(api, client_id: str) -> None:
    payment = (await api.post("payments/register", json=register(client_id))).data
    path = f"payments/{payment['id']}"
    item_id = payment["items"][0]["id"]

    assert (await api.put(path, json={})).status == 400
    price = await api.put(path, json={"items": [{"id": item_id, "unit_price": 1}]})
    assert price.status == 400
    renamed = await api.put(path, json={"items": [{"id": item_id, "description": "Nuevo"}]})
    assert renamed.body == {"message": "Operation completed successfully", "data": {}}
    fetched = (await api.get(path)).data
    assert (fetched["items"][0]["description"], fetched["total"]) == ("Nuevo", 1160)

    patched = await api.put(path, json={"client": {"phone": "+52 1"}})
    assert patched.status == 200
    assert (await api.get(f"clients/{client_id}")).data["phone"] == "+52 1"  # written through
    automated = await api.put(path, json={"automation_type": "pue_invoice"})
    assert automated.status == 200
    assert len((await api.get(path)).data["invoices"]) == 1
    second = await api.put(path, json={"automation_type": "pue_invoice"})
    assert (second.status, second.error_code) == (400, "business_rule_violation")


async def test_search_and_filters(api, client_id: str) -> None:
    await api.post("payments/register", json=register(client_id, metadata={"order": "A-1"}))
    await api.post("payments/request", json={"client": {"id": client_id}, "items": [ITEM]})
    found = await api.get("payments/search", params={"q": "a-1"})
    assert found.body["found"] == 1
    pending = await api.get("payments", params={"status": "requires_payment_method"})
    assert pending.body["total_results"] == 1
    by_client = await api.get("payments", params={"client_id": client_id, "limit": "1"})
    assert (by_client.body["total_results"], by_client.body["has_more"]) == (2, True)
    assert (await api.get("payments", params={"metadata.order": "A-1"})).body["total_results"] == 1


async def test_the_other_side_of_each_disagreement(api, client_id: str, sandbox: Sandbox) -> None:
    from gigstack_async.sandbox.core import ALTERNATIVE_VARIANTS

    sandbox.state.core.variants = ALTERNATIVE_VARIANTS
    body = {"client": {"id": client_id}, "items": [ITEM]}
    requested = await api.post("payments/request", json=body)
    assert requested.status == 200  # creates answer 200 instead of 201
    canceled = await api.call("DELETE", f"payments/{requested.data['id']}")
    assert canceled.data["status"] == "cancelled"
    again = await api.call("DELETE", f"payments/{requested.data['id']}")
    assert again.status == 409  # either spelling means canceled
    invoice = (await api.post("invoices/income", json=body)).data
    assert invoice["status"] == "stamped"
    cancelled = await api.call("DELETE", f"invoices/{invoice['id']}", json={"motive": "02"})
    assert cancelled.data["status"] == "canceled"
    assert (
        await api.call("DELETE", f"invoices/{invoice['id']}", json={"motive": "02"})
    ).status == 409
    last_page = await api.get("payments")
    assert last_page.body["has_more"] is False
    assert last_page.body["next"] is None  # sent as an explicit null


async def test_timestamps_in_ms_when_the_server_says_so(
    api, client_id: str, sandbox: Sandbox
) -> None:
    from gigstack_async.sandbox.core import CoreVariants

    before = (await api.post("payments/register", json=register(client_id))).data
    sandbox.state.core.variants = CoreVariants(resource_time_unit="ms")
    after = (await api.post("payments/register", json=register(client_id))).data
    assert before["created_at"] < 10**11 < after["created_at"]
    assert after["created_at"] // 1000 == before["created_at"]  # same (frozen) instant
    recent = await api.get("payments", params={"created_gte": str(after["created_at"])})
    assert [p["id"] for p in recent.data] == [after["id"]]
