"""Download requests over simulated time: states, history, status, duplicates and SAT budgets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import attrs
import pytest

from gigstack_async.sandbox import LifecycleConfig, Sandbox, SandboxConfig, SimClock, add_months

HISTORY = "invoices/download/schedule/history"
START = datetime(2025, 6, 15, 18, 0, tzinfo=UTC)  # the conftest `config` start
DONE_AFTER = 155  # 5 + 30 + 120 simulated seconds without jitter
HISTORY_KEYS = {
    "id", "rfcType", "requestType", "startDate", "endDate", "status", "invoiceCount",
    "processedCount", "statusMessage", "source", "owner", "latestIssueDate", "earliestIssueDate",
    "createdAt", "completedAt", "packageIds",
}  # fmt: skip


async def latest(api) -> dict:
    return (await api.get(HISTORY)).data["history"][0]


async def test_request_moves_through_every_state(api, sandbox: Sandbox) -> None:
    assert sandbox.config.start == START
    assert sandbox.config.lifecycle.longest_completion_seconds == DONE_AFTER
    created = await api.create("2025-04-01", "2025-04-30")
    request_id = created.data["request_id"]
    assert created.data == {"request_id": request_id, "duplicate": False, "status": "pending"}

    seen = [(await latest(api))["status"]]
    for seconds in (5, 30, 119, 1):
        sandbox.clock.advance(seconds)
        seen.append((await latest(api))["status"])
    assert seen == ["pending", "accepted", "processing", "processing", "completed"]

    item = await latest(api)
    expected = sandbox.state.ground_truth[request_id]
    assert set(item) == HISTORY_KEYS
    assert item["invoiceCount"] == item["processedCount"] == len(expected) > 0
    assert item["packageIds"] == [f"{request_id}_01"]
    assert (item["startDate"], item["endDate"]) == ("2025-04-01", "2025-04-30")
    start_ms = int(START.timestamp() * 1000)
    assert (item["createdAt"], item["completedAt"]) == (start_ms, start_ms + 155_000)
    assert (
        "2025-04-01"
        <= item["earliestIssueDate"][:10]
        <= item["latestIssueDate"][:10]
        <= "2025-04-30"
    )

    sandbox.clock.advance(72 * 3600 - 1)
    assert (await latest(api))["status"] == "completed"
    sandbox.clock.advance(1)
    assert (await latest(api))["status"] == "expired"


async def test_counts_are_hidden_until_completion(api, sandbox: Sandbox) -> None:
    await api.create("2025-04-01", "2025-04-30")
    sandbox.clock.advance(60)

    item = await latest(api)

    assert item["status"] == "processing"
    assert (item["invoiceCount"], item["packageIds"], item["completedAt"]) == (0, None, None)


async def test_status_endpoint(api, sandbox: Sandbox) -> None:
    request_id = (await api.create("2025-03-01", "2025-03-31")).data["request_id"]
    before = await api.get(f"invoices/download/status/{request_id}")
    sandbox.clock.advance(DONE_AFTER)
    after = await api.get(f"invoices/download/status/{request_id}")

    assert before.data == {
        "request_id": request_id,
        "status": "pending",
        "invoice_count": 0,
        "package_ids": [],
        "status_message": before.data["status_message"],
        # What was asked (GUESSed names; the documented-fields profile leaves them out).
        "rfc_type": "issued",
        "request_type": "cfdi",
        "start_date": "2025-03-01",
        "end_date": "2025-03-31",
    }
    assert after.data["status"] == "completed"
    assert after.data["invoice_count"] == len(sandbox.state.ground_truth[request_id])
    assert after.data["package_ids"] == [f"{request_id}_01"]


async def test_unknown_request_id_is_404(api) -> None:
    reply = await api.get("invoices/download/status/00000000-0000-4000-8000-000000000000")

    assert (reply.status, reply.error_code) == (404, "resource_not_found")


async def test_history_is_the_newest_twenty(api, sandbox: Sandbox) -> None:
    for day in range(1, 26):
        assert (await api.create(f"2025-05-{day:02d}", f"2025-05-{day:02d}")).status == 200

    history = (await api.get(HISTORY)).data["history"]

    created = [request.request_id for request in sandbox.state.download_requests]
    assert len(created) == 25
    assert [item["id"] for item in history] == created[::-1][:20]
    assert history[0]["startDate"] == "2025-05-25"


async def test_history_limit_is_configurable(start_sandbox, config: SandboxConfig) -> None:
    _, api = await start_sandbox(attrs.evolve(config, history_limit=3))
    for day in range(1, 6):
        await api.create(f"2025-05-{day:02d}", f"2025-05-{day:02d}")

    history = (await api.get(HISTORY)).data["history"]

    assert [item["startDate"] for item in history] == ["2025-05-05", "2025-05-04", "2025-05-03"]


async def test_identical_active_request_is_a_duplicate_not_a_new_request(
    api, sandbox: Sandbox
) -> None:
    first = await api.create("2025-02-01", "2025-02-28")
    sandbox.clock.advance(40)
    second = await api.create("2025-02-01", "2025-02-28")

    assert second.status == 200
    assert second.data == {
        "request_id": first.data["request_id"],
        "duplicate": True,
        "status": "processing",
    }
    assert "5005" in second.body["message"]
    assert len(sandbox.state.download_requests) == 1
    assert len(sandbox.state.charges) == 1


async def test_other_criteria_are_not_duplicates(api, sandbox: Sandbox) -> None:
    await api.create("2025-02-01", "2025-02-28")
    replies = [
        await api.create("2025-02-01", "2025-02-28", request_type="metadata"),
        await api.create("2025-02-01", "2025-02-28", rfc_type="received"),
        await api.create("2025-02-01", "2025-02-27"),
    ]

    assert [reply.data["duplicate"] for reply in replies] == [False, False, False]
    assert len(sandbox.state.download_requests) == 4


async def test_lifetime_budget_refuses_the_third_identical_request(api, sandbox: Sandbox) -> None:
    first = await api.create("2025-01-01", "2025-01-31")
    sandbox.clock.advance(DONE_AFTER)
    second = await api.create("2025-01-01", "2025-01-31")
    sandbox.clock.advance(DONE_AFTER)
    third = await api.create("2025-01-01", "2025-01-31")

    assert second.data["duplicate"] is False
    assert second.data["request_id"] != first.data["request_id"]
    assert (third.status, third.error_code) == (400, "business_rule_violation")
    assert "5002" in third.body["message"]
    assert len(sandbox.state.download_requests) == 2


@pytest.mark.parametrize(("budget", "created"), [(1, 1), (None, 4)])
async def test_lifetime_budget_is_configurable(
    start_sandbox, config: SandboxConfig, budget: int | None, created: int
) -> None:
    sandbox, api = await start_sandbox(attrs.evolve(config, identical_request_budget=budget))
    for _ in range(4):
        await api.create("2025-01-01", "2025-01-31")
        sandbox.clock.advance(DONE_AFTER)

    assert len(sandbox.state.download_requests) == created


async def test_failure_rate_fails_requests_with_a_reason(
    start_sandbox, config: SandboxConfig
) -> None:
    lifecycle = LifecycleConfig(jitter=0.0, failure_rate=1.0)
    sandbox, api = await start_sandbox(attrs.evolve(config, lifecycle=lifecycle))
    request_id = (await api.create("2025-01-01", "2025-01-31")).data["request_id"]
    sandbox.clock.advance(DONE_AFTER)

    item = await latest(api)
    status = await api.get(f"invoices/download/status/{request_id}")

    assert item["status"] == "failed"
    assert "SAT" in item["statusMessage"]
    assert item["packageIds"] is None
    assert (status.data["invoice_count"], status.data["package_ids"]) == (0, [])
    again = await api.create("2025-01-01", "2025-01-31")
    assert again.data["duplicate"] is False  # a failed request is terminal: resubmitting is allowed


async def test_outcomes_and_timing_are_reproducible_per_seed(
    start_sandbox, config: SandboxConfig
) -> None:
    lifecycle = LifecycleConfig(jitter=0.5, failure_rate=0.5)
    outcomes = []
    for _ in range(2):
        sandbox, api = await start_sandbox(attrs.evolve(config, seed=77, lifecycle=lifecycle))
        for month in range(1, 9):
            await api.create(f"2025-{month:02d}-01", f"2025-{month:02d}-01")
        sandbox.clock.advance(lifecycle.longest_completion_seconds)
        history = (await api.get(HISTORY)).data["history"]
        outcomes.append([(i["id"], i["status"], i["completedAt"]) for i in history])

    assert outcomes[0] == outcomes[1]
    statuses = {status for _, status, _ in outcomes[0]}
    assert statuses == {"completed", "failed"}
    assert len({completed for _, _, completed in outcomes[0]}) > 1  # jitter spreads finish times


async def test_speed_runs_simulated_time_faster_than_real_time(
    start_sandbox, config: SandboxConfig
) -> None:
    real = [0.0]
    clock = SimClock(START, speed=60, monotonic=lambda: real[0])
    sandbox = Sandbox(attrs.evolve(config, speed=60), clock=clock)
    async with sandbox:
        pass
    assert sandbox.clock is clock

    real[0] = 2.5  # 2.5 real seconds at x60 are 150 simulated seconds
    assert clock.now() == START + timedelta(seconds=150)
    clock.speed = 0  # freezing keeps the current instant
    real[0] = 100.0
    assert clock.now() == START + timedelta(seconds=150)
    clock.advance(10)
    assert clock.now_ms() == int(START.timestamp() * 1000) + 160_000


def test_clock_rejects_going_backwards() -> None:
    clock = SimClock(START, speed=0)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2025, 6, 15), -71, date(2019, 7, 15)),
        (date(2025, 12, 31), 2, date(2026, 2, 28)),
        (date(2025, 3, 31), -1, date(2025, 2, 28)),
    ],
)
def test_add_months_clamps_the_day(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_naive_start_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SandboxConfig(start=datetime(2025, 1, 1))
    assert SandboxConfig(start=datetime(2025, 1, 1, tzinfo=UTC)).start is not None
