"""Retentions (CFDI Retenciones 2.0): created stamped in series RET, SAT tax codes, cancelled
once; list filters."""

from __future__ import annotations

import pytest

from gigstack_async.sandbox import Sandbox

CLIENT = {
    "name": "Proveedor",
    "legal_name": "PROVEEDOR SA",
    "tax_id": "PRO800101AB1",
    "tax_system": "601",
    "address": {"zip": "03100"},
}


@pytest.fixture
async def body(api) -> dict[str, object]:
    client_id = (await api.post("clients", json=CLIENT)).data["id"]
    return {
        "retention_key": "26",
        "client": {"id": client_id},
        "period_start": 1,
        "period_end": 1,
        "period_year": 2026,
        "total_operation": 93116.98,
        "total_exempt": 0,
        "taxes": [
            {"tax": "ISR", "base": 93116.98, "amount": 2327.92},
            {"tax": "IVA", "base": 14898.71, "amount": 7449.35},
        ],
    }


async def test_create_stamps_in_series_ret(api, body, sandbox: Sandbox) -> None:
    first = (await api.post("retentions", json=body)).data
    second = (await api.post("retentions", json=body)).data
    assert (first["series"], first["folio_number"], second["folio_number"]) == ("RET", "1", "2")
    assert first["id"] == first["uuid"] == first["stamp"]["uuid"]
    assert [t["tax"] for t in first["totals"]["tax_retained"]] == ["001", "002"]
    assert str(first["totals"]["total_retained"]) == "9777.27"
    assert first["created_at"] > 10**12  # ms, as in the docs example
    assert [s.kind for s in sandbox.state.core.stamps] == ["RET", "RET"]
    fetched = await api.get(f"retentions/{first['id'].upper()}")
    assert fetched.data["id"] == first["id"]


async def test_bad_retentions_are_refused_before_stamping(api, body, sandbox: Sandbox) -> None:
    cases = {
        "retention_key": {**body, "retention_key": "99"},
        "period_end": {**body, "period_start": 5, "period_end": 2},
        "taxes[0].tax": {**body, "taxes": [{"tax": "VAT", "base": 1, "amount": 1}]},
        "taxes[0].amount": {**body, "taxes": [{"tax": "ISR", "base": 1, "amount": 2}]},
    }
    for field, case in cases.items():
        reply = await api.post("retentions", json=case)
        assert (reply.status, reply.body["error"]["details"]) == (400, [field]), field
    assert sandbox.state.core.stamps == []


async def test_cancel_once_and_filter(api, body, sandbox: Sandbox) -> None:
    kept = (await api.post("retentions", json={**body, "retention_key": "14"})).data
    made = (await api.post("retentions", json=body)).data
    path = f"retentions/{made['id']}"
    assert (await api.call("DELETE", path, json={"motive": "01"})).status == 400
    cancelled = await api.call("DELETE", path, json={"motive": "02"})
    assert cancelled.data["status"] == "canceled"
    again = await api.call("DELETE", path, json={"motive": "02"})
    assert (again.status, again.error_code) == (409, "resource_conflict")
    assert sandbox.state.core.cancellations[made["id"]] == 1
    valid = await api.get("retentions", params={"status": "valid"})
    assert [r["id"] for r in valid.data] == [kept["id"]]
    by_key = await api.get("retentions", params={"retention_key": "26"})
    assert [r["id"] for r in by_key.data] == [made["id"]]
    files = await api.get(f"retentions/{made['id']}/files", params={"file_type": "pdf"})
    assert set(files.data) == {"pdf"}
