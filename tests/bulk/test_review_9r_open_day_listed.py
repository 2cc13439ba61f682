"""Review 9r #3: a create's answer was lost, the user adopted a request from the dashboard, and
the next run's history LISTED that request with its `createdAt` (years after the month). The
run still ended the month done with "MISSING DAYS: ... whose createdAt was never shown: it may
have been made on <last day>" and offered a possibly billed one-day request: the note was
written from the record before the run's history settled the day, and never read again. Now
the open-day note is read again from the month's state when the run reports it."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import attrs

from gigstack_async.bulk import machine as m
from gigstack_async.cli import main
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import CREATE, PACKAGE, calls, lost_create_beside, results, run, world_of

JAN = m.MonthState("2023-01", date(2023, 1, 1), date(2023, 1, 31), "received", "cfdi")
LATER = date(2026, 11, 30)
MADE_LATER = str(int(datetime(2026, 11, 30, 18, tzinfo=UTC).timestamp() * 1000))
MADE_IN_JAN = str(int(datetime(2023, 1, 20, 18, tzinfo=UTC).timestamp() * 1000))


def _adopted_after_lost_create() -> m.MonthState:
    """JAN sent, its create's answer lost, then the user's `journal adopt R1` years later."""
    sent, _ = m.transition(JAN, m.Send((), sent_at=1796070000.0))
    lost, _ = m.transition(sent, m.CreateUnknown("HTTP 503", exists=False))
    stopped = attrs.evolve(lost, stage=m.Stage.NEEDS_ATTENTION, hint="look in the dashboard")
    adopted, _ = m.transition(stopped, m.Adopt("R1", today=LATER))
    assert (adopted.open_day, adopted.open_day_unproven) == (JAN.end, True)
    return adopted


def _listed(state: m.MonthState, created_at: str) -> m.MonthState:
    entry = m.Seen("R1", "completed", "received", "cfdi", JAN.start, JAN.end, 3, ("R1_01",))
    return m.transition(state, m.HistorySeen((attrs.evolve(entry, created_at=created_at),)))[0]


def test_the_open_day_note_is_read_again_once_the_history_lists_createdat() -> None:
    adopted = _adopted_after_lost_create()
    decision = m.plan_decision(adopted, JAN.start, JAN.end, today=LATER)
    assert decision.note is not None
    assert decision.note.startswith("MISSING DAYS")
    assert decision.opened == LATER  # the note to read again when the month is reported
    begun, _ = m.transition(adopted, m.Start())
    settled = _listed(begun, MADE_LATER)
    assert (settled.open_day, settled.open_day_unproven) == (None, False)
    assert m.open_day_note(settled, LATER) is None  # before: the plan's note stood
    # Made within the month: the note names the proven day, never "never shown".
    within = m.open_day_note(_listed(begun, MADE_IN_JAN), LATER)
    assert within is not None
    assert "on 2023-01-20, before that day was over" in within
    assert "never shown" not in within
    # Unlisted: the note stays as the plan gave it.
    assert m.open_day_note(begun, LATER) == decision.note


def test_other_notes_are_not_marked_to_be_read_again() -> None:
    done = attrs.evolve(JAN, stage=m.Stage.DONE, request_id="R1")
    assert m.plan_decision(done, JAN.start, JAN.end, today=LATER).opened is None


async def test_a_listed_createdat_after_the_month_ends_the_lost_create_month_ok(
    tmp_path: Path,
) -> None:
    async with world_of(SandboxConfig(speed=3000, seed=5, preloaded_months=0)) as (sb, client):
        rid, b, first = await lost_create_beside(client, sb, tmp_path)
        assert first.stage == "needs-attention"
        # The CLI as the user runs it (its own event loop: in a thread).
        assert (
            await asyncio.to_thread(main, ["journal", "adopt", str(b), "2023-01", rid, "--yes"])
            == 0
        )
        again = results(
            await run(client, b, "2023-01", "2023-01", timeout=20, allow_duplicates=True)
        )["2023-01"]
    assert again.stage == "done"
    assert again.error is None  # before: MISSING DAYS ... "createdAt was never shown"
    assert calls(sb, CREATE) == 2  # A's, and B's lost one: nothing more offered or sent
    assert calls(sb, PACKAGE) == 2
