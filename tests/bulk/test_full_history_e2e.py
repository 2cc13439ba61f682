"""A lost create on an account whose download history is full (>= 20 requests), end to end.

Once an account has made 20 requests its history is always full (review 9l): the docs say
"last 20, newest first" without saying newest by what, and a server keeping the newest by
period or by last change can hide a create behind a list that looks kept by creation. No
history proves a lost create absent now, full or not (reviews 9p #1, 9q #1). Under every order
the sandbox plays, a create the server made and whose answer was lost is never sent again
(adopted, or left to the user), and a create the server dropped needs the user (never billed
twice).
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


ORDERS = ["agree", "history-by-period", "history-by-update"]


def full_reason(error: str | None) -> None:
    assert "cannot tell whether it arrived" in (error or ""), error
    assert "the history (20 entries) does not list it, and that proves nothing" in (error or "")


@pytest.mark.parametrize("order", ORDERS)
async def test_a_create_the_server_dropped_behind_a_full_history_needs_the_user(
    tmp_path: Path, order: str
) -> None:
    # 502 before the handler ran: nothing was created. The history stays full (20 entries),
    # so it cannot show that it would list January's create: the user decides, nothing is
    # sent again for January (before review 9l a window "shown" by creation resent it).
    config = SandboxConfig(speed=3000, seed=11, profile=profile(order))
    async with world_of(config) as (sandbox, client):
        await made_before(sandbox, client, twenty_months_of_2023())
        sandbox.state.force_fault(CREATE, "502", times=1)
        done = results(await run(client, tmp_path / "cfdi", *MONTHS, concurrency=1))

        january = done["2024-01"]
        assert january.stage == "needs-attention"
        full_reason(january.error)
        assert "journal resend" in (january.hint or "")
        assert done["2024-02"].ok
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [0, 1]
        assert creates_of(sandbox, "2024-01") == 0  # the 502 came before the handler ran
        assert len(sandbox.state.calls_to(CREATE)) == 20 + 2  # January once, never resent


@pytest.mark.parametrize("order", ORDERS)
async def test_a_create_the_server_made_then_answered_502_is_never_resent(
    tmp_path: Path, order: str
) -> None:
    config = SandboxConfig(speed=3000, seed=11, profile=profile(order))
    async with world_of(config) as (sandbox, client):
        await made_before(sandbox, client, twenty_months_of_2023())
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        done = results(await run(client, tmp_path / "cfdi", *MONTHS, concurrency=1))

        january = done["2024-01"]
        assert january.stage in ("done", "needs-attention"), january.error
        if january.stage == "needs-attention":
            assert "cannot tell" in (january.error or "")
        assert done["2024-02"].ok
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [1, 1]
        assert creates_of(sandbox, "2024-01") == 1  # made once, never sent again
        assert len(sandbox.state.calls_to(CREATE)) == 20 + 2


async def test_a_window_by_period_that_looks_like_creation_hides_the_create_and_is_not_trusted(
    tmp_path: Path,
) -> None:
    # 20 earlier requests for 2024-02-01..2024-02-01+k, made in order of k: newest by period
    # and newest by creation list them alike. January's create is made (then answered 502)
    # but ranks below all of them by period: hidden. February's (2024-02-01..29) tops the
    # list, pushing the oldest out from the bottom, as a window by creation would.
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
        full_reason(january.error)
        assert done["2024-02"].ok
        assert creates_of(sandbox, "2024-01") == 1  # made once, never sent again
        assert sandbox.state.billed_creates("2024-01") == 1


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
    is never sent again by the run. A dropped create needs the user (a full or short history
    proves nothing); a made one is adopted or needs the user, billed once."""
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
        if fault == "502":
            assert january.stage == "needs-attention", january.error
            assert "cannot tell whether it arrived" in (january.error or "")
        else:
            assert january.stage in ("done", "needs-attention"), january.error
        made = 0 if fault == "502" else 1
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [made, 1]
        assert creates_of(sandbox, "2024-01") == made  # January's create was sent once


async def test_a_window_by_last_change_that_looks_like_creation_hides_the_create(
    tmp_path: Path,
) -> None:
    # history-by-update: 20 earlier requests still pending when January's create is sent
    # (the snapshot), finishing right after it, in the order they were made. January's own
    # request stays pending (its last change: its creation), so the 20 rank above it and it is
    # hidden; February's tops the list. Sorted by createdAt, anchors kept, the oldest pushed
    # out from the bottom, a later create listed: it looks like a window by creation.
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
        full_reason(january.error)
        assert creates_of(sandbox, "2024-01") == 1  # made once, never sent again


@pytest.mark.parametrize("order", ["history-by-period", "history-by-update"])
@pytest.mark.parametrize(("limit", "later"), [(4, 3), (5, 4), (5, 3), (10, 8)])
async def test_a_short_history_not_kept_by_creation_never_resends_a_made_create(
    tmp_path: Path, order: str, limit: int, later: int
) -> None:
    """Review 9p #1: a short history (under the SDK's 20, so not "full"), `later` requests for
    periods after the plan made before the run (another folder), January's create made then
    answered 502. By period, January ranks below them all and falls off the end, while every
    other absence check passed (the snapshot's entries, February's create, an older request of
    January's kind all listed, the grace over): it was sent again. No history proves an
    absence now: never resent."""
    config = SandboxConfig(speed=3000, seed=11, history_limit=limit, profile=profile(order))
    async with world_of(config) as (sandbox, client):
        periods = []
        for k in range(later):
            start = date(2024, 12 - k, 1)
            end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            periods.append((start, end, "received"))
        await made_before(sandbox, client, periods)
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        done = results(await run(client, tmp_path / "cfdi", *MONTHS, concurrency=1))

        january = done["2024-01"]
        assert january.stage in ("done", "needs-attention"), january.error
        if january.stage == "needs-attention":
            assert "cannot tell" in (january.error or ""), january.error
        assert done["2024-02"].ok
        assert creates_of(sandbox, "2024-01") == 1  # made once, never sent again
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [1, 1]


@pytest.mark.parametrize("order", ["history-by-period", "history-by-update"])
async def test_a_rerun_from_journaled_witnesses_never_resends_a_made_create(
    tmp_path: Path, order: str
) -> None:
    """Review 9p #1 through the re-run path: the first run stopped inside the grace journaled
    its witness, February's create, and the same command again, which sends nothing of its
    own, must not finish the wait into a resend (there is no wait now: neither run resends)."""
    config = SandboxConfig(speed=3000, seed=11, history_limit=4, profile=profile(order))
    async with world_of(config) as (sandbox, client):
        await made_before(
            sandbox,
            client,
            [(date(2024, 12 - k, 1), date(2024, 12 - k, 28), "received") for k in range(3)],
        )
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        out = tmp_path / "cfdi"
        await run(client, out, *MONTHS, concurrency=1, timeout=0.5)
        again = results(await run(client, out, *MONTHS, concurrency=1))

        assert again["2024-01"].stage in ("done", "needs-attention"), again["2024-01"].error
        assert creates_of(sandbox, "2024-01") == 1  # made once, never sent again
        assert sandbox.state.billed_creates("2024-01") == 1
