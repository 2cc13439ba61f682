"""The event hook the webhooks delivery (issue 12) subscribes to, and the exact-Decimal JSON
the core routes answer with."""

from __future__ import annotations

import json
from decimal import Decimal

from gigstack_async.sandbox import Sandbox
from gigstack_async.sandbox.events import SandboxEvent
from gigstack_async.sandbox.money import dumps, line_totals, sat_round

CLIENT = {
    "name": "Juan",
    "legal_name": "JUAN PEREZ GARCIA",
    "tax_id": "PEGJ800101ABC",
    "tax_system": "612",
    "address": {"zip": "03100"},
}


async def test_subscribers_get_each_committed_change_with_its_team(api, sandbox: Sandbox) -> None:
    received: list[SandboxEvent] = []
    unsubscribe = sandbox.state.event_hook.subscribe(received.append)

    def broken(event: SandboxEvent) -> None:
        raise RuntimeError("a listener bug")

    sandbox.state.event_hook.subscribe(broken)
    client = (await api.post("clients", json=CLIENT, params={"team": "team_connected"})).data
    body = {"client": {"id": client["id"]}, "items": [{"description": "x", "unit_price": 10}]}
    payment = await api.post(
        "payments/register",
        json={**body, "payment_form": "03", "automation_type": "pue_invoice"},
        params={"team": "team_connected"},
    )
    assert payment.status == 200  # the broken listener did not fail the request

    assert [e.type for e in received] == [
        "customer.created",
        "invoice.created",
        "payment.created",
        "payment.succeeded",
    ]
    assert {e.team_id for e in received} == {"team_connected"}
    assert received[-1].data["id"] == payment.data["id"]
    assert received[-1].data["total"] == Decimal("10")
    assert received[-1].livemode is False
    assert len({e.id for e in received}) == 4
    received[-1].data["status"] = "tampered"  # a copy: the stored payment is untouched
    assert (
        await api.get(f"payments/{payment.data['id']}", params={"team": "team_connected"})
    ).data["status"] == "succeeded"

    unsubscribe()
    await api.post("clients", json=CLIENT)
    assert len(received) == 4
    assert sandbox.state.event_hook.of_type("customer.created")[-1].team_id == "team_sandbox"


async def test_failed_requests_emit_nothing(api, sandbox: Sandbox) -> None:
    await api.post("clients", json={"tax_id": "bad"})
    # An inline client is only created once the rest of the body passed its checks.
    await api.post("payments/register", json={"client": CLIENT, "items": [], "payment_form": "03"})
    await api.post("receipts", json={"client": CLIENT, "items": [{"description": "x"}]})
    assert sandbox.state.event_hook.emitted == []
    assert (await api.get("clients")).body["total_results"] == 0


def test_dumps_writes_exact_decimals_and_omits_unset_fields() -> None:
    text = dumps({"total": Decimal("1160.00"), "rate": Decimal("0.160000"), "next": None, "n": 3})
    assert text == '{"total":1160.00,"rate":0.160000,"n":3}'
    assert json.loads(text, parse_float=Decimal)["total"] == Decimal("1160.00")


def test_sat_rounding_is_half_up_per_currency() -> None:
    assert sat_round(Decimal("0.125"), "MXN") == Decimal("0.13")  # half-even would give 0.12
    assert sat_round(Decimal("2.5"), "JPY") == Decimal("3")
    assert sat_round(Decimal("1.00005"), "CLF") == Decimal("1.0001")
    item = {
        "quantity": Decimal(1),
        "unit_price": Decimal("0.125"),
        "taxes": [],
    }
    assert line_totals([item], "MXN").total == Decimal("0.13")
