"""A month requested on the day its dates end (its open day), and what a later run's plan says.

Newcomer 9g #4 and review 9k #4 as pure decisions (`plan_decision`, `open_day_own`): CFDIs
stamped later on that day may be missing from its package, so a run on a later day of the same
dates names the day MISSING DAYS with the exact commands to fetch it (never the month's own
dates again: SAT's 2 identical requests); nothing is sent by itself. A month done for part of
the plan's dates whose own part holds the rest is shown done for all of them. Direct calls, no
engine or server: `make mutate` runs this file for every mutant of `bulk/machine.py`.
"""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import ExtractedPackage, OwnPart, PlanCreate, PlanDecision, Stage

JAN1, JAN15, JAN16, JAN30, JAN31 = (date(2024, 1, d) for d in (1, 15, 16, 30, 31))
FEB1 = date(2024, 2, 1)
JAN = m.MonthState("2024-01", JAN1, JAN31, "received", "cfdi")
SENT_ON_LAST_DAY = attrs.evolve(
    JAN,
    stage=Stage.DONE,
    request_id="R1",
    known_ids=("R1",),
    package_ids=("P1",),
    extracted=(ExtractedPackage("P1", ("a.xml",)),),
    open_day=JAN31,
)
DONE_NOTE = (
    "MISSING DAYS: requested for 2024-01-01..2024-01-31 on 2024-01-31, before that day was "
    "over: CFDIs stamped later on 2024-01-31, or certified late at SAT, are not in its "
    "download. Download 2024-01-31 again into its own --out folder (`gigstack-async sat "
    "download --from 2024-01-31 --to 2024-01-31 --rfc-type received --out <out>-2024-01a`, "
    "with the other options you ran with, e.g. --team; other dates for SAT than the month's "
    "request: a new request, possibly billed); once done, `gigstack-async journal split "
    "2024-01 <out>-2024-01a` records the month with them (runs of this folder then end ok)"
)


def month(**changes: object) -> m.MonthState:
    return attrs.evolve(SENT_ON_LAST_DAY, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("stage", [Stage.DONE, Stage.EMPTY])
def test_a_later_days_run_names_the_open_day_missing_and_sends_nothing(stage: Stage) -> None:
    decision = m.plan_decision(month(stage=stage), JAN1, JAN31, today=FEB1)
    assert decision == PlanDecision(None, DONE_NOTE, PlanCreate.NO, opened=FEB1)


@pytest.mark.parametrize(
    "stage", [Stage.SUBMITTED, Stage.PROCESSING, Stage.COMPLETED, Stage.STAGED]
)
def test_a_month_still_downloading_is_told_to_fetch_its_open_days_once_finished(
    stage: Stage,
) -> None:
    state = month(stage=stage, open_day=JAN30)
    decision = m.plan_decision(state, JAN1, JAN31, today=FEB1)
    assert decision.note == (
        "MISSING DAYS: requested for 2024-01-01..2024-01-31 on 2024-01-30, before that day was "
        "over: CFDIs stamped later on 2024-01-30, or certified late at SAT, are not in its "
        "download. Once it has finished, download 2024-01-30..2024-01-31 again into its own "
        "--out folder (`gigstack-async sat download --from 2024-01-30 --to 2024-01-31 "
        "--rfc-type received --out <out>-2024-01a`, with the other options you ran with, e.g. "
        "--team; other dates for SAT than the month's request: a new request, possibly "
        "billed); once done, `gigstack-async journal split 2024-01 <out>-2024-01a` records the "
        "month with them (runs of this folder then end ok)"
    )
    assert (decision.state, decision.create) == (None, PlanCreate.NO)


@pytest.mark.parametrize(
    ("changes", "dates", "today"),
    [
        ({"open_day": None}, (JAN1, JAN31), FEB1),  # sent on an earlier day: complete
        ({}, (JAN1, JAN31), JAN31),  # the same day: not over yet
        ({}, (JAN1, JAN31), JAN30),  # a clock behind
        ({}, (JAN1, JAN30), FEB1),  # the plan asks for other dates
        ({}, (JAN16, JAN31), FEB1),
        ({"stage": Stage.EXPIRED}, (JAN1, JAN31), FEB1),  # has its own way already
        ({"stage": Stage.SAT_FAILED}, (JAN1, JAN31), FEB1),
        ({"stage": Stage.NEEDS_ATTENTION}, (JAN1, JAN31), FEB1),
    ],
)
def test_no_open_day_note_otherwise(
    changes: dict[str, object], dates: tuple[date, date], today: date
) -> None:
    decision = m.plan_decision(month(**changes), *dates, today=today)
    assert decision.note is None or not decision.note.startswith("MISSING DAYS: requested")


def test_the_preview_and_the_count_do_not_check_the_open_day() -> None:
    assert m.plan_decision(month(), JAN1, JAN31) == PlanDecision(None, None, PlanCreate.NO)


@pytest.mark.parametrize(
    ("open_day", "own"),
    [
        (None, None),
        (JAN1, None),  # requested on its first day: no complete day
        (date(2024, 1, 2), (JAN1, JAN1)),
        (JAN31, (JAN1, JAN30)),
    ],
)
def test_the_days_a_month_sent_on_its_last_day_surely_holds(
    open_day: date | None, own: tuple[date, date] | None
) -> None:
    assert m.open_day_own(month(open_day=open_day)) == own


# ------------------------------------------------------------------ own part holds the rest

OWN = OwnPart(JAN1, JAN15, ("o1.xml",), 1)
SECOND_HALF = attrs.evolve(
    JAN,
    start=JAN16,
    stage=Stage.DONE,
    request_id="R2",
    known_ids=("R1", "R2"),
    package_ids=("P2",),
    extracted=(ExtractedPackage("P2", ("a.xml", "b.xml")),),
    invoice_count=2,
    own_part=OWN,
)
WHOLE_NOTE = (
    "the plan's 2024-01-01..2024-01-31 are all in the month's folder: requested earlier for "
    "2024-01-16..2024-01-31, and 2024-01-01..2024-01-15 by an earlier request (1 file(s)); "
    "nothing was sent"
)


@pytest.mark.parametrize("today", [None, FEB1])
def test_a_month_whose_own_part_holds_the_rest_is_shown_done_for_the_plans_dates(
    today: date | None,
) -> None:
    decision = m.plan_decision(SECOND_HALF, JAN1, JAN31, today=today)
    assert (decision.state, decision.note, decision.create) == (None, WHOLE_NOTE, PlanCreate.NO)
    shown = decision.shown
    assert shown is not None
    assert (shown.stage, shown.start, shown.end) == (Stage.DONE, JAN1, JAN31)
    assert shown.files == ("a.xml", "b.xml", "o1.xml")
    assert shown.invoice_count == 3
    assert shown.reason == WHOLE_NOTE


def test_a_month_whose_own_part_lost_files_is_not_shown_done() -> None:
    decision = m.plan_decision(SECOND_HALF, JAN1, JAN31, lost=("o1.xml",))
    assert decision.shown is None


def test_a_month_completed_by_its_own_part_is_recorded_not_only_shown() -> None:
    # SAT refused the plan's dates with 5002 earlier: the month's request and its own part
    # hold them all, so the run records the month with the plan's dates.
    refused = attrs.evolve(SECOND_HALF, exhausted=((JAN1, JAN31),))
    decision = m.plan_decision(refused, JAN1, JAN31, today=FEB1)
    assert decision.state is not None
    assert (decision.state.start, decision.state.end) == (JAN1, JAN31)
    assert (decision.note, decision.create, decision.shown) == (None, PlanCreate.NO, None)
