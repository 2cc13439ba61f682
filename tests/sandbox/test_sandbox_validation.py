"""The rules of POST /invoices/download/request, each rejected with a message naming the field.

The fixture clock says 2025-06-15 12:00 in Mexico City.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from gigstack_async.sandbox import Sandbox, SandboxConfig

REQUEST = "invoices/download/request"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"end_date": "2025-01-31", "rfc_type": "issued"}, "start_date"),
        ({"start_date": "2025-01-01", "rfc_type": "issued"}, "end_date"),
        ({"start_date": "2025-01-01", "end_date": "2025-01-31"}, "rfc_type"),
        ({"start_date": "2025-1-01", "end_date": "2025-01-31", "rfc_type": "issued"}, "start_date"),
        ({"start_date": "2025-02-01", "end_date": "2025-02-30", "rfc_type": "issued"}, "end_date"),
        ({"start_date": 20250101, "end_date": "2025-01-31", "rfc_type": "issued"}, "start_date"),
        ({"start_date": "2025-01-01", "end_date": "2025-01-31", "rfc_type": "sent"}, "rfc_type"),
        (
            {
                "start_date": "2025-01-01",
                "end_date": "2025-01-31",
                "rfc_type": "issued",
                "request_type": "xml",
            },
            "request_type",
        ),
    ],
)
async def test_malformed_fields_are_named(api, sandbox: Sandbox, body, field: str) -> None:
    reply = await api.post(REQUEST, json=body)

    assert (reply.status, reply.error_code) == (400, "validation_failed")
    assert reply.body["error"]["details"] == [field]
    assert field in reply.body["message"]
    assert sandbox.state.download_requests == []
    assert sandbox.state.charges == []


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b""])
async def test_body_must_be_a_json_object(api, raw: bytes) -> None:
    reply = await api.post(REQUEST, data=raw, headers={"Content-Type": "application/json"})

    assert (reply.status, reply.error_code) == (400, "invalid_request_body")


async def test_start_after_end_is_rejected(api) -> None:
    reply = await api.create("2025-02-10", "2025-02-09")

    assert reply.status == 400
    assert reply.body["error"]["details"] == ["end_date"]


@pytest.mark.parametrize(
    ("start", "end", "accepted"),
    [
        ("2025-01-01", "2025-01-31", True),
        ("2025-01-01", "2025-02-01", False),
        ("2025-03-03", "2025-03-03", True),
        ("2025-01-15", "2025-02-14", True),
        ("2025-01-15", "2025-02-15", False),
        # add_months clamps: Jan 31 + 1 month is Feb 29 in 2024, Feb 28 in 2023; minus one day.
        ("2024-01-31", "2024-02-28", True),
        ("2024-01-31", "2024-02-29", False),
        ("2023-01-31", "2023-02-27", True),
        ("2023-01-31", "2023-02-28", False),
        ("2024-12-01", "2024-12-31", True),
    ],
)
async def test_one_month_rule_is_exact(api, start: str, end: str, accepted: bool) -> None:
    reply = await api.create(start, end)

    if accepted:
        assert reply.status == 200
    else:
        assert reply.status == 400
        assert reply.body["error"]["details"] == ["end_date"]
        assert "one month" in reply.body["message"]


async def test_end_date_may_be_today_but_not_tomorrow(api) -> None:
    today = await api.create("2025-06-01", "2025-06-15")
    tomorrow = await api.create("2025-06-01", "2025-06-16")

    assert today.status == 200
    assert tomorrow.status == 400
    assert "future" in tomorrow.body["message"]


async def test_today_is_taken_in_mexico_city(start_sandbox, config: SandboxConfig) -> None:
    # 03:00 UTC on June 16 is still 21:00 on June 15 in Mexico City (UTC-6).
    _, api = await start_sandbox(attrs.evolve(config, start=datetime(2025, 6, 16, 3, tzinfo=UTC)))

    assert (await api.create("2025-06-01", "2025-06-16")).status == 400
    assert (await api.create("2025-06-01", "2025-06-15")).status == 200


@pytest.mark.parametrize(("start", "accepted"), [("2019-07-15", True), ("2019-07-14", False)])
async def test_seventy_one_month_window(api, start: str, accepted: bool) -> None:
    # add_months(2025-06-15, -71) == 2019-07-15
    reply = await api.create(start, start)

    assert (reply.status == 200) is accepted
    if not accepted:
        assert reply.body["error"]["details"] == ["start_date"]
        assert "71" in reply.body["message"]


async def test_request_type_defaults_to_cfdi(api, sandbox: Sandbox) -> None:
    await api.create("2025-01-01", "2025-01-31", rfc_type="received")
    await api.create("2025-01-01", "2025-01-31", rfc_type="received", request_type="metadata")

    kinds = [request.criteria.request_type for request in sandbox.state.download_requests]
    assert kinds == ["cfdi", "metadata"]
