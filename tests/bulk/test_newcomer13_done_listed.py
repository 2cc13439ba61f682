"""Newcomer 13 #1: a month's create lost its answer, the user adopted the request by hand
(without `--created-at`), and the next run completed it before the history listed it: done,
with MISSING DAYS "whose createdAt was never shown". Every later run kept that note, even once
the history listed the request with a `createdAt` two years after the month: a done month never
heard the history again. Now a done or empty month with an unproven open day takes its day from
the first history of a run that lists its request with the month's own dates and kinds."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import attrs

from gigstack_async.bulk import machine as m
from gigstack_async.cli import main
from gigstack_async.sandbox import SandboxConfig, ServerProfile
from tests.bulk._support import CREATE, PACKAGE, calls, results, run, world_of

JAN = m.MonthState("2023-01", date(2023, 1, 1), date(2023, 1, 31), "received", "cfdi")
MADE_LATER = str(int(datetime(2026, 11, 30, 18, tzinfo=UTC).timestamp() * 1000))
MADE_IN_JAN = str(int(datetime(2023, 1, 20, 18, tzinfo=UTC).timestamp() * 1000))
LAG = 100_000.0  # simulated seconds before the lost create is listed: under SAT's 72 h


def _done_unproven() -> m.MonthState:
    return attrs.evolve(
        JAN,
        stage=m.Stage.DONE,
        request_id="R1",
        known_ids=("R1",),
        confirmed_id="R1",
        typed=False,  # `Start` reset it: a new run
        checked=True,
        open_day=JAN.end,
        open_day_unproven=True,
    )


def _listed(state: m.MonthState, **fields: object) -> m.MonthState:
    entry = m.Seen("R1", "completed", "received", "cfdi", JAN.start, JAN.end, 3, ("R1_01",))
    new, commands = m.transition(state, m.HistorySeen((attrs.evolve(entry, **fields),)))
    assert commands == ()  # a finished month sends nothing for it
    return new


def test_a_listed_createdat_settles_a_done_months_unproven_open_day() -> None:
    done = _done_unproven()
    later = _listed(done, created_at=MADE_LATER)
    assert (later.stage, later.open_day, later.open_day_unproven) == (m.Stage.DONE, None, False)
    assert m.open_day_note(later, date(2026, 12, 1)) is None
    within = _listed(done, created_at=MADE_IN_JAN)
    assert (within.open_day, within.open_day_unproven) == (date(2023, 1, 20), False)
    empty = _listed(attrs.evolve(done, stage=m.Stage.EMPTY), created_at=MADE_LATER)
    assert (empty.open_day, empty.open_day_unproven) == (None, False)


def test_only_a_listing_that_is_surely_the_months_request_settles_it() -> None:
    done = _done_unproven()
    assert _listed(done, created_at=None) == done  # no createdAt: nothing learnt
    assert _listed(done, created_at=MADE_LATER, request_type=None) == done  # a field missing
    assert _listed(done, created_at=MADE_LATER, request_type="metadata") == done  # another kind
    assert _listed(done, created_at=MADE_LATER, start=date(2023, 1, 2)) == done  # other dates
    assert _listed(done, created_at=MADE_LATER, id="R2") == done  # another request
    assert _listed(done, created_at=MADE_LATER, status="processing") == done  # not finished
    # One id listed twice (review 13b #3b): the ids were reused, whichever comes first.
    entry = m.Seen("R1", "completed", "received", "cfdi", JAN.start, JAN.end, 3, ("R1_01",))
    for order in ((MADE_LATER, MADE_IN_JAN), (MADE_IN_JAN, MADE_LATER)):
        twice = tuple(attrs.evolve(entry, created_at=at) for at in order)
        assert m.transition(done, m.HistorySeen(twice)) == (done, ())
    # A proven day is never moved by a listing.
    proven = attrs.evolve(done, open_day=date(2023, 1, 31), open_day_unproven=False)
    assert _listed(proven, created_at=MADE_LATER) == proven


def test_a_listing_that_contradicts_the_months_record_of_its_request_settles_nothing() -> None:
    own = m.KnownRequest("R1", JAN.start, JAN.end, "received", "cfdi", final="completed")
    other = m.KnownRequest("R0", date(2023, 2, 1), date(2023, 2, 28), "received", "cfdi")
    agreeing = attrs.evolve(_done_unproven(), records=(other, own))
    later = _listed(agreeing, created_at=MADE_LATER)  # nothing recorded contradicts it
    assert (later.open_day, later.open_day_unproven) == (None, False)
    # The month saw R1 made on January 20th: a listing of R1 made years later is another
    # request under a reused id, whatever its dates.
    seen_before = attrs.evolve(own, created_at=MADE_IN_JAN)
    contradicted = attrs.evolve(_done_unproven(), records=(other, seen_before))
    assert _listed(contradicted, created_at=MADE_LATER) == contradicted


async def test_a_done_month_adopted_by_hand_ends_ok_once_the_history_lists_it(
    tmp_path: Path,
) -> None:
    config = SandboxConfig(
        speed=3000, seed=5, preloaded_months=0, profile=ServerProfile(lost_create_lag=LAG)
    )
    out = tmp_path / "cfdi"
    async with world_of(config) as (sandbox, client):
        sandbox.state.force_fault(CREATE, "after_502", times=1)  # made, its answer lost
        first = results(await run(client, out, "2023-01", "2023-01", timeout=20))["2023-01"]
        assert first.stage == "needs-attention"
        [made] = sandbox.state.download_requests
        # The user finds the request in the dashboard and adopts it (the CLI, as typed).
        adopt = ["journal", "adopt", str(out), "2023-01", made.request_id, "--yes"]
        assert await asyncio.to_thread(main, adopt) == 0
        # Completed (status) before the history lists it: the day stays unproven.
        second = results(await run(client, out, "2023-01", "2023-01", timeout=20))["2023-01"]
        assert second.stage == "done"
        assert second.error is not None
        assert second.error.startswith("MISSING DAYS")
        assert "never shown" in second.error
        sandbox.clock.advance(LAG + 60)  # now the history lists it, made years after January
        third = results(await run(client, out, "2023-01", "2023-01", timeout=20))["2023-01"]
        assert (third.stage, third.error, third.ok) == ("done", None, True)
        # Nothing more was requested or downloaded for it.
        assert calls(sandbox, CREATE) == 1
        assert calls(sandbox, PACKAGE) == 1
