"""A lost create on an account whose download history is full (>= 20 requests), end to end.

Before `machine._full_window_gap`, every unknown create outcome on such an account needed the
user (the history is always full once 20 requests exist), even when the server never created
it. Now a full history that shows itself to be a newest-by-creation window reaching back past
the attempt proves it absent, and the month is sent again in the same run; a create the server
made is found and adopted. A history that keeps the newest by period (`history-by-period`) can
look exactly like one by creation: there the create it hides is NOT sent again.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.sandbox import Sandbox, SandboxConfig, profile
from tests.bulk._support import CREATE, results, run, world_of

MONTHS = ("2024-01", "2024-02")


async def made_before(
    sandbox: Sandbox, client: GigstackClient, periods: list[tuple[date, date, str]]
) -> None:
    """Requests this account made before the run (not in the journal), a minute apart, all
    completed before the run starts."""
    for start, end, rfc_type in periods:
        await client.downloads.create_request(start_date=start, end_date=end, rfc_type=rfc_type)
        sandbox.clock.advance(60)
    sandbox.clock.advance(sandbox.config.lifecycle.longest_completion_seconds)


def twenty_months_of_2023() -> list[tuple[date, date, str]]:
    periods = []
    for month in range(1, 11):
        start = date(2023, month, 1)
        end = date(2023, month + 1, 1) - timedelta(days=1)
        periods += [(start, end, "received"), (start, end, "issued")]
    return periods


def creates_of(sandbox: Sandbox, month: str) -> int:
    """Create calls that reached the server for `month` (answered or not)."""
    return sum(
        1 for r in sandbox.state.download_requests if str(r.criteria.start_date).startswith(month)
    )


@pytest.mark.parametrize("order", ["agree", "history-by-update"])
async def test_a_create_the_server_dropped_is_sent_again_in_the_same_run(
    tmp_path: Path, order: str
) -> None:
    # 502 before the handler ran: nothing was created. The history stays full (20 entries):
    # February's create pushes the oldest 2023 request out from the bottom.
    config = SandboxConfig(speed=3000, seed=11, profile=profile(order))
    async with world_of(config) as (sandbox, client):
        await made_before(sandbox, client, twenty_months_of_2023())
        sandbox.state.force_fault(CREATE, "502", times=1)
        done = results(await run(client, tmp_path / "cfdi", *MONTHS, concurrency=1))

        assert {k: (r.ok, r.stage) for k, r in done.items()} == {
            "2024-01": (True, "done"),
            "2024-02": (True, "done"),
        }, {k: r.error for k, r in done.items()}
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [1, 1]
        assert len(sandbox.state.calls_to(CREATE)) == 20 + 3  # January twice: 502, resend


async def test_a_create_the_server_made_then_answered_502_is_adopted_not_resent(
    tmp_path: Path,
) -> None:
    async with world_of(SandboxConfig(speed=3000, seed=11)) as (sandbox, client):
        await made_before(sandbox, client, twenty_months_of_2023())
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        done = results(await run(client, tmp_path / "cfdi", *MONTHS, concurrency=1))

        assert all(r.ok for r in done.values()), {k: r.error for k, r in done.items()}
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [1, 1]
        assert len(sandbox.state.calls_to(CREATE)) == 20 + 2


async def test_a_window_by_period_that_looks_like_creation_hides_the_create_and_is_not_trusted(
    tmp_path: Path,
) -> None:
    # 20 earlier requests for 2024-02-01..2024-02-01+k, made in order of k: newest by period
    # and newest by creation list them alike. January's create is made (then answered 502)
    # but ranks below all of them by period: hidden. February's (2024-02-01..29) tops the
    # list, pushing the oldest out from the bottom, as a window by creation would. The
    # suggested rule (sorted by createdAt, anchors kept, left from the bottom, later create
    # listed) would have "proved" January absent and billed it twice.
    config = SandboxConfig(speed=3000, seed=11, profile=profile("history-by-period"))
    feb = date(2024, 2, 1)
    async with world_of(config) as (sandbox, client):
        await made_before(
            sandbox, client, [(feb, feb + timedelta(days=k), "received") for k in range(20)]
        )
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        done = results(await run(client, tmp_path / "cfdi", *MONTHS, concurrency=1))

        january = done["2024-01"]
        assert january.stage == "needs-attention"
        assert "cannot tell whether it arrived" in (january.error or "")
        assert "if it kept the newest requests by period" in (january.error or "")
        assert done["2024-02"].ok
        assert creates_of(sandbox, "2024-01") == 1  # made once, never sent again
        assert sandbox.state.billed_creates("2024-01") == 1


ATTENTION = {
    # (profile, fault): why the month needs the user (nothing resent, nothing billed twice)
    ("documented-fields", "502"): "the history lists no received cfdi request older than the "
    "create (it lists 20)",  # no requestType: a request made elsewhere is no anchor
    ("documented-fields", "after_502"): "candidates: ",  # a missing field never matches
    ("short-history-5", "502"): "it is short or filtered",  # 5 < 20: not full, and short
    ("short-history-5+history-by-period", "502"): "it is short or filtered",
    ("short-history-5+history-by-update", "502"): "it is short or filtered",
}


@pytest.mark.parametrize("fault", ["502", "after_502"])
@pytest.mark.parametrize(
    "name",
    [
        "agree",
        "clock-ahead",
        "clock-behind",
        "created-at-seconds",
        "created-at-iso",
        "created-at-naive-mx",
        "documented-fields",
        "cfdi-only-history",
        "ids-restart",
        "history-by-period",
        "history-by-update",
        "short-history-5",
        "created-at-seconds+history-by-update",
        "clock-behind+created-at-naive-mx+cfdi-only-history+history-by-period",
        "short-history-5+history-by-period",
        "short-history-5+history-by-update",
    ],
)
async def test_every_profile_bills_a_lost_create_at_most_once(
    tmp_path: Path, name: str, fault: str
) -> None:
    """With 20 earlier requests (made elsewhere), a create dropped before the server acted
    (502) or made and answered 502 (after_502), under each server the sandbox plays: January
    is billed once at most, and either finishes in the same run or needs the user for a
    reason that is not a full history."""
    names = name.split("+")
    limit = 5 if "short-history-5" in names else 20
    chosen = profile(*(n for n in names if n != "short-history-5"))
    config = SandboxConfig(speed=3000, seed=11, history_limit=limit, profile=chosen)
    async with world_of(config) as (sandbox, client):
        await made_before(sandbox, client, twenty_months_of_2023())
        sandbox.state.force_fault(CREATE, fault, times=1)
        done = results(await run(client, tmp_path / "cfdi", *MONTHS, concurrency=1))

        january = done["2024-01"]
        assert done["2024-02"].ok
        why = ATTENTION.get((name, fault))
        if why is None:
            assert (january.ok, january.stage) == (True, "done"), january.error
        else:
            assert january.stage == "needs-attention"
            assert why in (january.error or "")
        made = 0 if fault == "502" and why is not None else 1
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [made, 1]


async def test_a_window_by_last_change_that_looks_like_creation_hides_the_create(
    tmp_path: Path,
) -> None:
    # history-by-update: 20 earlier requests still pending when January's create is sent
    # (the snapshot), finishing right after it, in the order they were made. January's own
    # request stays pending (its last change: its creation), so the 20 rank above it and it is
    # hidden; February's tops the list. Sorted by createdAt, anchors kept, the oldest pushed
    # out from the bottom, a later create listed: only "an anchor that had finished before the
    # create, unchanged" tells this window from one by creation.
    config = SandboxConfig(speed=3000, seed=11, profile=profile("history-by-update"))
    never = 10**15
    async with world_of(config) as (sandbox, client):
        await made_before(sandbox, client, [])
        for start, end, rfc_type in twenty_months_of_2023():
            await client.downloads.create_request(start_date=start, end_date=end, rfc_type=rfc_type)
            sandbox.clock.advance(60)
        priors = list(sandbox.state.download_requests)
        for prior in priors:  # pending until January's create
            prior.timeline = attrs.evolve(
                prior.timeline, accepted_ms=never, processing_ms=never, finished_ms=never
            )
        original = sandbox.state.create_download_request

        def create(*args: Any, **kwargs: Any) -> Any:
            request, duplicate = original(*args, **kwargs)
            if request.criteria.start_date == date(2024, 1, 1):
                now = sandbox.clock.now_ms()
                request.timeline = attrs.evolve(
                    request.timeline, accepted_ms=never, processing_ms=never, finished_ms=never
                )
                for i, prior in enumerate(priors):
                    prior.timeline = attrs.evolve(
                        prior.timeline,
                        accepted_ms=now + 3 * i + 1,
                        processing_ms=now + 3 * i + 2,
                        finished_ms=now + 3 * i + 3,
                    )
            return request, duplicate

        sandbox.state.create_download_request = create  # type: ignore[method-assign]
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        done = results(await run(client, tmp_path / "cfdi", *MONTHS, concurrency=1, timeout=20))

        history = await client.downloads.history()
        assert date(2024, 1, 1) not in {entry.start_date for entry in history}  # hidden
        january = done["2024-01"]
        assert january.stage == "needs-attention"
        assert "unchanged since" in (january.error or "")
        assert creates_of(sandbox, "2024-01") == 1  # made once, never sent again
