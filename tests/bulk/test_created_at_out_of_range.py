"""An out-of-range but valid ISO 8601 `createdAt` is unreadable, never a crash (review 9l #4).

`9999-12-31T23:59:59-14:00` parses, but its instant in UTC is past the year 9999: converting
it raised `OverflowError` out of `bulk()` (via `reach.history_reach` in the pre-flight check)
and out of `gigstack-async downloads history`. Such a value is treated as unknown: no instant,
shown as sent, never a match.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.created_at import created_at_instant, created_at_text
from gigstack_async.bulk.duplicates import PriorRequest
from gigstack_async.bulk.reach import history_reach
from gigstack_async.sandbox import SandboxConfig, profile, routes_downloads
from tests.bulk._support import results, run, world_of

WEIRD = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59"]
SHOWN = {
    "9999-12-31T23:59:59-14:00": "9999-12-31T23:59:59-14:00 (out of range)",
    "0001-01-01T00:00:00+14:00": "0001-01-01T00:00:00+14:00 (out of range)",
    "9999-12-31T23:59:59": "9999-12-31T23:59:59 (time zone not stated)",
}


@pytest.mark.parametrize("value", WEIRD)
def test_created_at_instant_and_text_read_it_as_unknown(value: str) -> None:
    assert created_at_instant(value) is None
    assert created_at_text(value) == SHOWN[value]


@pytest.mark.parametrize("value", WEIRD)
def test_history_reach_treats_it_as_unreadable(value: str) -> None:
    entries = [m.Seen(f"p{i}", created_at=value) for i in range(3)]
    reach = history_reach(entries, [("2024-01", date(2024, 1, 1))])
    # no readable createdAt: how far back it reaches is unknown, so the month is unchecked
    assert (reach.since, reach.complete, reach.unchecked) == (None, False, ("2024-01",))
    assert reach.warning is not None
    assert "how far back it reaches is unknown" in reach.warning


def test_history_reach_reads_the_others_around_it() -> None:
    entries = [
        m.Seen("p0", created_at="9999-12-31T23:59:59-14:00"),
        m.Seen("p1", created_at="2024-03-01T00:00:00+00:00"),
    ]
    reach = history_reach(entries, [("2024-01", date(2024, 1, 1)), ("2024-06", date(2024, 6, 1))])
    assert reach.since == datetime(2024, 3, 1, tzinfo=UTC)
    assert reach.since_raw == "2024-03-01T00:00:00+00:00"
    assert reach.unchecked == ("2024-01",)


@pytest.mark.parametrize("value", WEIRD)
def test_a_prior_request_describes_it_as_sent(value: str) -> None:
    prior = PriorRequest("2024-01", "r1", status="completed", created_at=value)
    assert prior.describe() == f"request r1 (completed, created {SHOWN[value]})"


def weird_history(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """The sandbox writes `value` as the createdAt of every request made for 2023."""
    original = routes_downloads.history_item

    def item(request: Any, now_ms: int, state: Any) -> Any:
        body = original(request, now_ms, state)
        if str(request.criteria.start_date).startswith("2023-"):
            body = {**body, "createdAt": value}
        return body

    monkeypatch.setattr(routes_downloads, "history_item", item)


@pytest.mark.parametrize("value", WEIRD)
async def test_bulk_runs_past_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    weird_history(monkeypatch, value)
    config = SandboxConfig(speed=3000, seed=11, profile=profile("agree"))
    async with world_of(config) as (sandbox, client):
        await client.downloads.create_request(
            start_date="2023-05-01", end_date="2023-05-31", rfc_type="received"
        )
        done = results(await run(client, tmp_path / "cfdi", "2024-01", "2024-02", concurrency=1))
        assert all(r.ok for r in done.values()), {k: r.error for k, r in done.items()}
        assert [sandbox.state.billed_creates(k) for k in ("2024-01", "2024-02")] == [1, 1]
