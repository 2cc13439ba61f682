"""Newcomer 9g #4: a month whose dates end today (Mexico City) was planned as a whole month,
journaled done, and never fetched again: CFDIs stamped later that day, or certified late at
SAT, were lost in silence. The plan and the result now mark it, and a run of the same command on
a later day reports that day as MISSING DAYS with the way to request it (nothing sent by
itself: only the plan the user saw is billed)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk import repair
from gigstack_async.bulk.plan import plan_months
from gigstack_async.bulk.store import JournalStore
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import CREATE, JOURNAL, results, run, world_of

NOV = m.MonthState("2026-11", date(2026, 11, 1), date(2026, 11, 30), "received", "cfdi")
LAST, NEXT = date(2026, 11, 30), date(2026, 12, 1)


def test_the_plan_marks_a_month_that_ends_today() -> None:
    plan = plan_months("2026-10", "2026-11", rfc_type="received", request_type="cfdi", today=LAST)
    lines = plan.describe().splitlines()
    assert lines[1] == "  2026-10  2026-10-01 to 2026-10-31"
    assert lines[2].startswith("  2026-11  2026-11-01 to 2026-11-30  (ends today: CFDIs stamped")
    # Newcomer 10 F6: it said the day's CFDIs "are fetched by running the same command again
    # tomorrow", while the month's Next says a later run names them as MISSING DAYS, with the
    # way to request them (nothing is fetched by itself).
    assert lines[2].endswith(
        "(ends today: CFDIs stamped later on 2026-11-30 are not in its request; running the "
        "same command again after 2026-11-30 names them as MISSING DAYS, with the way to "
        "request them)"
    )
    assert "fetched" not in lines[2]
    assert plan.ends_today(plan.slots[1])
    assert not plan.ends_today(plan.slots[0])
    clipped = plan_months("2026-11", "2026-12", rfc_type="received", request_type="cfdi",
                          today=date(2026, 11, 15))  # fmt: skip
    assert "(partial month; ends today:" in clipped.describe()


def done_on(today: date) -> m.MonthState:
    """November, its create sent on `today`, then done (its package extracted)."""
    state, _ = m.transition(NOV, m.Send((), today=today))
    state, _ = m.transition(state, m.Created("r1"))
    return attrs.evolve(state, stage=m.Stage.DONE, reason="every package extracted")


def test_a_create_sent_on_the_months_last_day_records_it_open() -> None:
    assert done_on(LAST).open_day == LAST
    assert done_on(NEXT).open_day is None  # sent once the day was over: complete


def test_a_later_day_reports_the_open_day_missing_and_sends_nothing() -> None:
    state = done_on(LAST)
    same_day = m.plan_decision(state, NOV.start, NOV.end, today=LAST)
    assert (same_day.note, same_day.create) == (None, m.PlanCreate.NO)
    later = m.plan_decision(state, NOV.start, NOV.end, today=NEXT)
    assert later.create is m.PlanCreate.NO  # nothing billed by itself
    assert (later.note or "").startswith(
        "MISSING DAYS: requested for 2026-11-01..2026-11-30 on 2026-11-30, before that day was "
        "over: CFDIs stamped later on 2026-11-30, or certified late at SAT, are not in its "
        "download. Download 2026-11-30 again into its own --out folder (`gigstack-async sat "
        "download --from 2026-11-30 --to 2026-11-30 --rfc-type received --out "
        "<out>-2026-11a`"
    )
    assert "`gigstack-async journal split 2026-11 <out>-2026-11a`" in (later.note or "")
    assert "journal resend" not in (later.note or "")  # review 9m #7: never the same dates
    # A month sent after its last day was over has nothing missing.
    assert m.plan_decision(done_on(NEXT), NOV.start, NOV.end, today=NEXT).note is None


def _today(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    import gigstack_async._validation as validation
    import gigstack_async.bulk.engine as engine
    import gigstack_async.bulk.plan as plan

    for module in (plan, validation, engine):
        monkeypatch.setattr(module, "today_mx", lambda now=None: day)


async def test_the_same_command_the_next_day_names_the_open_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "cfdi"
    config = SandboxConfig(speed=3000, seed=5, start=datetime(2025, 6, 30, 16, tzinfo=UTC))
    async with world_of(config) as (sandbox, client):
        _today(monkeypatch, date(2025, 6, 30))
        first = results(await run(client, out, "2025-05", "2025-06"))
        assert first["2025-06"].ok
        assert first["2025-06"].open_day == date(2025, 6, 30)  # marked in the result
        assert first["2025-05"].open_day is None
        _today(monkeypatch, date(2025, 7, 1))
        again = results(await run(client, out, "2025-05", "2025-06"))
        assert again["2025-05"].ok
        june = again["2025-06"]
        assert not june.ok  # before: ok, and the rest of 06-30 never fetched
        assert "MISSING DAYS" in (june.error or "")
        part = tmp_path / "cfdi-2025-06a"
        # The way is the hint's (newcomer 9k #3: it was only in `error`, `hint` empty).
        assert f"bulk('2025-06-30', '2025-06-30', rfc_type='received', download_to='{part}')" in (
            june.hint or ""
        )
        assert f"journal split {out} 2025-06 {part}" in (june.hint or "")
        assert len(sandbox.state.calls_to(CREATE)) == 2  # nothing sent by itself
        # The way it names: the open day into its own folder (other dates: not identical),
        # then `journal split` (review 9m #7: was a resend of the whole month's dates).
        day = results(await run(client, part, "2025-06-30", "2025-06-30"))["2025-06"]
        assert day.ok
        assert day.open_day is None  # requested once 06-30 was over: complete
        with JournalStore.open_existing(out / JOURNAL) as store:
            new, _ = repair.split(store, "2025-06", [part])
            repair.record(store, new, ())
        third = results(await run(client, out, "2025-05", "2025-06"))["2025-06"]
        assert third.ok, third.error
        assert third.stage == "split"
        assert len(sandbox.state.calls_to(CREATE)) == 3


def test_the_cli_says_the_day_was_not_over() -> None:
    from gigstack_async.bulk.events import MonthResult
    from gigstack_async.cli.plain_progress import describe
    from gigstack_async.cli.progress import MonthRow

    row = MonthRow("2026-11", invoices=3, files=3)
    result = MonthResult("2026-11", request_id="r1", state="completed", open_day=LAST)
    assert describe(result, row) == (
        "3 invoices, 3 files; requested before 2026-11-30 was over: run the same command again "
        "tomorrow for CFDIs stamped later that day"
    )
    whole = MonthResult("2026-10", request_id="r0", state="completed")
    assert describe(whole, row) == "3 invoices, 3 files"


def test_only_a_month_with_its_request_going_or_done_names_the_open_day() -> None:
    base = done_on(LAST)
    for stage in (m.Stage.SUBMITTED, m.Stage.COMPLETED, m.Stage.EMPTY):
        note = m.plan_decision(attrs.evolve(base, stage=stage), NOV.start, NOV.end, today=NEXT)
        assert (note.note or "").startswith("MISSING DAYS"), stage
    for stage in (m.Stage.SAT_FAILED, m.Stage.EXPIRED, m.Stage.SPLIT):
        state = attrs.evolve(base, stage=stage)
        assert m.plan_decision(state, NOV.start, NOV.end, today=NEXT).note is None, stage
    # in progress: the resend waits until it has finished
    going = m.plan_decision(attrs.evolve(base, stage=m.Stage.SUBMITTED), *NOV_DATES, today=NEXT)
    assert "Once it has finished, download 2026-11-30 again" in (going.note or "")


NOV_DATES = (NOV.start, NOV.end)
