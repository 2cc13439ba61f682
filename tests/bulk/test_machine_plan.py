"""What a run of a plan does with a month the journal recorded: `machine.plan_decision`.

One rule read by the run (`engine.merge_plan`), the plan preview (`identical_requests`, which
lists the months it would hold) and the confirmation's count (`may_create`): the new state the
run takes the month up with, the note its result shows when the recorded dates are kept, and
whether a create request (possibly billed) goes. Direct calls, every branch, exact texts. Pure
and fast: `make mutate` runs this file for every mutant of `gigstack_async/bulk/machine.py`.
"""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import PlanCreate, Stage

AUG = (date(2024, 8, 1), date(2024, 8, 31))
EARLY = (date(2024, 8, 1), date(2024, 8, 14))
LATE = (date(2024, 8, 15), date(2024, 8, 31))
MIDDLE = (date(2024, 8, 10), date(2024, 8, 20))
OWN = m.OwnPart(*LATE, ("a.xml", "b.xml"))
MONTH = m.MonthState(
    key="2024-08", start=AUG[0], end=AUG[1], rfc_type="received", request_type="cfdi"
)


def month(dates: tuple[date, date] = AUG, **changes: object) -> m.MonthState:
    return attrs.evolve(MONTH, start=dates[0], end=dates[1], **changes)  # type: ignore[arg-type]


def decide(state: m.MonthState, dates: tuple[date, date]) -> m.PlanDecision:
    return m.plan_decision(state, *dates)


# ------------------------------------------------------------------ the same dates


@pytest.mark.parametrize(
    ("changes", "create"),
    [
        ({}, PlanCreate.YES),  # never sent
        ({"stage": Stage.REFUSED, "resend_allowed": False}, PlanCreate.YES),  # refused: resendable
        ({"exhausted": (AUG,)}, PlanCreate.NO),  # SAT 5002 refused these dates: never again
        ({"stage": Stage.REFUSED, "exhausted": (AUG,)}, PlanCreate.NO),
        # A create whose outcome is unknown (a run died, an answer lost): never sent again by
        # the run, whatever its history shows; only `journal resend` (review 9q #1).
        ({"stage": Stage.SUBMITTING, "creates": 1}, PlanCreate.NO),  # a run died
        ({"stage": Stage.SUBMITTING, "unknown": True}, PlanCreate.NO),
        ({"stage": Stage.NEEDS_ATTENTION, "unknown": True}, PlanCreate.NO),
        ({"stage": Stage.NEEDS_ATTENTION, "resume_to": Stage.COMPLETED}, PlanCreate.NO),
        ({"stage": Stage.NEEDS_ATTENTION}, PlanCreate.NO),  # needs the user
        ({"stage": Stage.SAT_FAILED, "sat_code": 5002}, PlanCreate.NO),
        ({"stage": Stage.SAT_FAILED, "sat_code": 5003}, PlanCreate.NO),
        ({"stage": Stage.SUBMITTED, "request_id": "R"}, PlanCreate.NO),
        ({"stage": Stage.PROCESSING, "request_id": "R"}, PlanCreate.NO),
        ({"stage": Stage.DUPLICATE}, PlanCreate.NO),
        ({"stage": Stage.DONE, "request_id": "R"}, PlanCreate.NO),
        ({"stage": Stage.EMPTY, "request_id": "R"}, PlanCreate.NO),
        ({"stage": Stage.EXPIRED, "request_id": "R"}, PlanCreate.NO),
        ({"stage": Stage.SPLIT}, PlanCreate.NO),
    ],
)
def test_the_same_dates_keep_the_state_and_create_as_start_then_send_would(
    changes: dict[str, object], create: PlanCreate
) -> None:
    state = month(**changes)
    assert decide(state, AUG) == m.PlanDecision(None, None, create)


def test_an_unknown_create_is_planned_again_only_after_the_users_resend() -> None:
    # Formerly PlanCreate.IF_ABSENT: sent again once a history "proved" it absent (billed
    # twice, reviews 9p #1, 9q #1). Now the run never sends it; `journal resend` does, once.
    lost = month(stage=Stage.NEEDS_ATTENTION, unknown=True, creates=1, resend_allowed=False)
    assert decide(lost, AUG).create is PlanCreate.NO
    allowed, _ = m.transition(lost, m.AllowResend())
    assert decide(allowed, AUG).create is PlanCreate.YES
    sent, commands = m.transition(allowed, m.Send(()))
    assert commands == (m.SendCreate(lost.key),)
    assert decide(sent, AUG).create is PlanCreate.NO


def test_the_same_dates_of_a_month_with_other_exhausted_dates_are_sent() -> None:
    assert decide(month(EARLY, exhausted=(AUG,)), EARLY).create is PlanCreate.YES


# ------------------------------------------------------------------ dates SAT refused with 5002


@pytest.mark.parametrize("stage", [Stage.PLANNED, Stage.REFUSED])
def test_a_month_not_sent_yet_asked_for_exhausted_dates_fails_again_and_sends_nothing(
    stage: Stage,
) -> None:
    state = month(EARLY, stage=stage, exhausted=(AUG,), creates=2)
    decision = decide(state, AUG)
    assert decision.note is None
    assert decision.create is PlanCreate.NO
    again = decision.state
    assert again is not None
    assert (again.stage, again.start, again.end, again.sat_code, again.creates) == (
        Stage.SAT_FAILED,
        *AUG,
        5002,
        2,
    )
    assert again.resend_allowed is False
    assert again.reason == (
        "SAT 5002 refused 2024-08-01..2024-08-31 earlier (its limit of requests for these "
        "dates is exhausted): nothing was sent again"
    )
    assert again == m.exhausted_again(state, *AUG)


def test_a_month_done_whose_own_part_holds_the_rest_is_complete() -> None:
    done = month(
        EARLY,
        stage=Stage.DONE,
        request_id="B",
        exhausted=(AUG,),
        own_part=OWN,
        extracted=(m.ExtractedPackage("p", ("c.xml",)),),
    )
    decision = decide(done, AUG)
    assert (decision.note, decision.create) == (None, PlanCreate.NO)
    split = decision.state
    assert split is not None
    assert (split.stage, split.start, split.end, split.ok) == (Stage.SPLIT, *AUG, True)
    assert sorted(split.files) == ["a.xml", "b.xml", "c.xml"]
    assert split == m.own_part_completes(done, *AUG)


def test_a_month_done_for_fewer_days_than_exhausted_dates_says_which_days_are_missing() -> None:
    done = month(LATE, stage=Stage.DONE, request_id="B", exhausted=(AUG,))
    assert decide(done, AUG) == m.PlanDecision(
        None,
        "MISSING DAYS: requested earlier for 2024-08-15..2024-08-31; SAT 5002 refused the plan's "
        "2024-08-01..2024-08-31 earlier (its limit of requests for these dates is exhausted): they "
        "are never sent again. missing here: 2024-08-01..2024-08-14. Download that range into its "
        "own --out folder (`gigstack-async sat download --from 2024-08-01 --to 2024-08-14 "
        "--rfc-type received --out <out>-2024-08a`, with the other options you ran with, e.g. "
        "--team; other dates for SAT: a new request, possibly billed); once done, `gigstack-async "
        "journal split 2024-08 <out>-2024-08a` records the month as complete (runs of this folder "
        "then end ok)",
        PlanCreate.NO,
    )


@pytest.mark.parametrize("recorded", [EARLY, (date(2024, 8, 2), date(2024, 8, 31))])
def test_exhausted_dates_starting_or_ending_beyond_the_request_miss_days(
    recorded: tuple[date, date],
) -> None:
    done = month(recorded, stage=Stage.DONE, request_id="B", exhausted=(AUG,))
    note = decide(done, AUG).note or ""
    assert note.startswith("MISSING DAYS: requested earlier for ")
    assert ". missing here: " in note


@pytest.mark.parametrize(
    ("changes", "create"),
    [
        # SAT refused the recorded dates with 5003 too: other dates, but exhausted ones.
        ({"stage": Stage.SAT_FAILED, "sat_code": 5003}, PlanCreate.NO),
        ({"stage": Stage.SAT_FAILED, "sat_code": 5002}, PlanCreate.NO),
        ({"stage": Stage.SUBMITTED, "request_id": "R"}, PlanCreate.NO),
        ({"stage": Stage.SUBMITTING}, PlanCreate.NO),  # its create may have been billed
    ],
)
def test_exhausted_dates_within_the_request_are_never_sent_again(
    changes: dict[str, object], create: PlanCreate
) -> None:
    late = month(exhausted=(LATE,), **changes)  # the same last day: no day missing either
    assert decide(late, LATE).note == (
        "requested earlier for 2024-08-01..2024-08-31; SAT 5002 refused the plan's "
        "2024-08-15..2024-08-31 earlier (its limit of requests for these dates is exhausted): "
        "they are never sent again"
    )
    state = month(exhausted=(EARLY,), **changes)
    assert decide(state, EARLY) == m.PlanDecision(
        None,
        "requested earlier for 2024-08-01..2024-08-31; SAT 5002 refused the plan's "
        "2024-08-01..2024-08-14 earlier (its limit of requests for these dates is exhausted): "
        "they are never sent again",
        create,
    )


# ------------------------------------------------------------------ SAT refused the recorded dates


@pytest.mark.parametrize("code", [5002, 5003])
def test_sat_refused_dates_take_the_plans_new_dates_and_send_them(code: int) -> None:
    refused = month(
        stage=Stage.SAT_FAILED, sat_code=code, exhausted=((AUG,) if code == 5002 else ())
    )
    decision = decide(refused, EARLY)
    assert (decision.note, decision.create) == (None, PlanCreate.YES)
    planned = decision.state
    assert planned is not None
    assert (planned.stage, planned.start, planned.end, planned.sat_code) == (
        Stage.PLANNED,
        *EARLY,
        None,
    )
    assert planned.resend_allowed is True
    assert planned.reason == "the plan asks for new dates 2024-08-01..2024-08-14: a new request"
    assert planned == m.replanned(refused, *EARLY)


@pytest.mark.parametrize(
    "dates", [MIDDLE, (date(2024, 8, 14), date(2024, 8, 31)), (date(2024, 8, 1), date(2024, 8, 15))]
)
def test_a_replan_asking_again_for_days_the_own_part_holds_sends_nothing(
    dates: tuple[date, date],
) -> None:
    # Was: the plan preview and `may_create` counted a create here while the run sent none.
    refused = month(
        stage=Stage.SAT_FAILED, sat_code=5002, exhausted=(AUG,), own_part=OWN, creates=2
    )
    decision = decide(refused, dates)
    assert (decision.note, decision.create) == (None, PlanCreate.NO)
    held = decision.state
    assert held is not None
    assert (held.stage, held.start, held.end, held.creates) == (Stage.SAT_FAILED, *AUG, 2)
    first, last = max(dates[0], LATE[0]), min(dates[1], LATE[1])
    overlap = f"{first}..{last}" if first != last else str(first)
    assert held.reason == (
        f"the plan's {dates[0]}..{dates[1]} asks again for {overlap}, which the month's folder "
        "already holds (2 file(s) from its earlier request): nothing was sent (those CFDIs "
        "would be billed twice)"
    )
    assert held == m.replanned(refused, *dates)


@pytest.mark.parametrize("code", [5002, 5003])
@pytest.mark.parametrize(
    ("dates", "count"),
    [
        (LATE, 2),  # the own part's own dates: its count
        ((date(2024, 8, 16), date(2024, 8, 31)), None),  # fewer days: not counted
        ((date(2024, 8, 31), date(2024, 8, 31)), None),
    ],
)
def test_a_plan_of_only_days_the_own_part_holds_is_shown_done_and_sends_nothing(
    code: int, dates: tuple[date, date], count: int | None
) -> None:
    # Review 9j #4: was sat-failed ("asks again for ..., which the month's folder already
    # holds") on every run of the user's original partial command.
    own = attrs.evolve(OWN, invoice_count=2)
    refused = month(
        stage=Stage.SAT_FAILED,
        sat_code=code,
        exhausted=((AUG,) if code == 5002 else ()),
        own_part=own,
        creates=2,
        reason=f"SAT {code}: its own reason",
    )
    decision = decide(refused, dates)
    assert (decision.state, decision.create) == (None, PlanCreate.NO)  # the record is kept
    shown = decision.shown
    assert shown is not None
    assert shown.ok
    assert (shown.stage, shown.start, shown.end, shown.request_id, shown.sat_code) == (
        Stage.DONE,
        *dates,
        None,
        None,
    )
    assert (shown.files, shown.invoice_count, shown.creates, shown.hint) == (
        ("a.xml", "b.xml"),
        count,
        2,
        None,
    )
    assert (
        shown.reason
        == decision.note
        == (
            f"the plan's {dates[0]}..{dates[1]} are all in the month's folder: 2024-08-15.."
            "2024-08-31 downloaded there by an earlier request (2 file(s)); nothing was sent "
            f"(SAT {code} refused this journal's later request for 2024-08-01..2024-08-31: a run "
            "of those dates says what they need)"
        )
    )
    assert shown == m.own_part_holds(refused, *dates)
    # A run of the month's own dates still says what it needs.
    assert m.own_part_holds(refused, *AUG) is None
    assert decide(refused, AUG).shown is None


def test_a_plan_of_own_part_days_whose_files_are_gone_is_not_shown_done() -> None:
    refused = month(stage=Stage.SAT_FAILED, sat_code=5002, exhausted=(AUG,), own_part=OWN)
    decision = m.plan_decision(refused, *LATE, lost=("b.xml",))
    assert (decision.state, decision.shown, decision.create) == (None, None, PlanCreate.NO)
    assert decision.note == (
        "MISSING FILES: the plan's 2024-08-15..2024-08-31 are all days an earlier request "
        "downloaded into the month's folder, but it no longer holds 1 of their 2 file(s), "
        "e.g. b.xml: not reported complete. Put them back and run the same command again"
    )


def test_a_plan_of_own_part_days_restores_a_refused_replans_stale_reason() -> None:
    stale = m.replanned(
        month(stage=Stage.SAT_FAILED, sat_code=5003, own_part=OWN), date(2024, 8, 10), AUG[1]
    )
    assert (stale.reason or "").endswith("nothing was sent (those CFDIs would be billed twice)")
    decision = decide(stale, LATE)
    assert decision.shown is not None
    assert decision.state is not None
    assert decision.state.reason == "SAT 5003: too many CFDIs for one request"


@pytest.mark.parametrize("stage", [Stage.DONE, Stage.PLANNED, Stage.NEEDS_ATTENTION])
def test_only_a_sat_refused_month_is_shown_done_by_its_own_part(stage: Stage) -> None:
    assert m.own_part_holds(month(stage=stage, sat_code=5002, own_part=OWN), *LATE) is None
    other = month(stage=Stage.SAT_FAILED, sat_code=5004, own_part=OWN)
    assert m.own_part_holds(other, *LATE) is None
    assert m.own_part_holds(month(stage=Stage.SAT_FAILED, sat_code=5002), *LATE) is None


def test_a_replan_of_only_the_days_the_own_part_misses_is_sent() -> None:
    refused = month(stage=Stage.SAT_FAILED, sat_code=5002, exhausted=(AUG,), own_part=OWN)
    decision = decide(refused, EARLY)
    assert decision.create is PlanCreate.YES
    assert decision.state is not None
    assert (decision.state.stage, decision.state.own_part) == (Stage.PLANNED, OWN)


@pytest.mark.parametrize("code", [None, 5004, 5011])
def test_a_month_sat_failed_for_another_reason_keeps_its_dates(code: int | None) -> None:
    failed = month(stage=Stage.SAT_FAILED, sat_code=code, request_id="R")
    assert decide(failed, EARLY) == m.PlanDecision(
        None,
        "requested earlier for 2024-08-01..2024-08-31; kept (the plan now says "
        "2024-08-01..2024-08-14: `gigstack-async journal resend 2024-08 --force` asks for the "
        "plan's dates, possibly billed)",
        PlanCreate.NO,
    )


# ------------------------------------------------------------------ nothing billed


@pytest.mark.parametrize(
    ("changes", "create"),
    [
        ({}, PlanCreate.YES),
        ({"stage": Stage.REFUSED, "resend_allowed": False}, PlanCreate.YES),
    ],
)
def test_a_month_with_nothing_billed_takes_the_plans_dates(
    changes: dict[str, object], create: PlanCreate
) -> None:
    state = month(LATE, creates=1, **changes)
    decision = decide(state, AUG)
    assert decision == m.PlanDecision(attrs.evolve(state, start=AUG[0], end=AUG[1]), None, create)


NOT_ALLOWED = (
    "the journal records 2024-08 as planned for {dates} but not allowed to send a create "
    "request (its record says one may have gone already, which no run leaves a planned month "
    "saying: a hand-edited or damaged journal?): nothing was sent"
)
NOT_ALLOWED_HINT = (
    "look for the month's request in the account's history (`gigstack-async downloads "
    "history`, or the dashboard): if it is there, `gigstack-async journal adopt 2024-08 "
    "<request id>` attaches it without sending anything; if it is not, `gigstack-async journal "
    "resend 2024-08` allows one new create request (it may be billed)"
)


@pytest.mark.parametrize(("recorded", "plan"), [(AUG, AUG), (LATE, AUG), (AUG, EARLY)])
def test_a_planned_month_its_record_forbids_sending_needs_attention(
    recorded: tuple[date, date], plan: tuple[date, date]
) -> None:
    # Was PlanDecision(None or the plan's dates, None, NO): planned, and `Send` sends nothing
    # from it, so the run waited for it forever. Its recorded dates are kept (a create for them
    # may be out), and `journal resend` (which a planned month refuses) now takes it.
    state = month(recorded, resend_allowed=False, creates=1)
    decision = decide(state, plan)
    dates = f"{recorded[0]}..{recorded[1]}"
    attention = attrs.evolve(
        state,
        stage=Stage.NEEDS_ATTENTION,
        reason=NOT_ALLOWED.format(dates=dates),
        hint=NOT_ALLOWED_HINT,
    )
    assert decision == m.PlanDecision(attention, None, PlanCreate.NO)
    assert attention.settled
    resend, commands = m.transition(attention, m.AllowResend())
    assert (resend.stage, resend.resend_allowed, commands) == (Stage.PLANNED, True, ())


@pytest.mark.parametrize("plan", [AUG, MIDDLE, LATE])
def test_a_month_not_sent_yet_takes_both_of_the_plans_dates(plan: tuple[date, date]) -> None:
    # The create to come asks SAT for what the plan showed: its first and its last day.
    decision = decide(month(EARLY), plan)
    assert decision.state is not None
    assert (decision.state.start, decision.state.end) == plan
    assert decision.create is PlanCreate.YES


# ------------------------------------------------------------------ a request sent: dates kept

KEPT = (
    "requested earlier for 2024-08-01..2024-08-31; kept (the plan now says "
    "2024-08-01..2024-08-14: {resend}, possibly billed)"
)
MISSING = (
    "MISSING DAYS: requested earlier for 2024-08-15..2024-08-31 only; the plan says "
    "2024-08-01..2024-08-31, and the other days' CFDIs were not requested. {resend} (a new "
    "request, possibly billed)"
)
RESEND = "`gigstack-async journal resend 2024-08 --force` asks for the plan's dates"
LATER = "once it has finished, " + RESEND


@pytest.mark.parametrize(
    ("changes", "resend", "create"),
    [
        ({"stage": Stage.DONE}, RESEND, PlanCreate.NO),
        ({"stage": Stage.EMPTY}, RESEND, PlanCreate.NO),
        ({"stage": Stage.EXPIRED}, RESEND, PlanCreate.NO),
        ({"stage": Stage.SUBMITTED}, LATER, PlanCreate.NO),
        ({"stage": Stage.PROCESSING}, LATER, PlanCreate.NO),
        ({"stage": Stage.COMPLETED}, LATER, PlanCreate.NO),
        ({"stage": Stage.SPLIT}, LATER, PlanCreate.NO),
        ({"stage": Stage.SUBMITTING}, LATER, PlanCreate.NO),
        ({"stage": Stage.SUBMITTING, "unknown": True}, RESEND, PlanCreate.NO),
        ({"stage": Stage.NEEDS_ATTENTION, "unknown": True}, RESEND, PlanCreate.NO),
        # A re-run finishes it for free (`journal resend` refuses it without --force).
        (
            {"stage": Stage.NEEDS_ATTENTION, "resume_to": Stage.STAGED},
            LATER,
            PlanCreate.NO,
        ),
    ],
)
def test_a_month_already_sent_keeps_its_dates_and_says_how_to_ask_for_the_plans(
    changes: dict[str, object], resend: str, create: PlanCreate
) -> None:
    sent = month(request_id="R", **changes)
    assert decide(sent, EARLY) == m.PlanDecision(None, KEPT.format(resend=resend), create)
    late = month(LATE, request_id="R", **changes)
    assert decide(late, AUG) == m.PlanDecision(None, MISSING.format(resend=resend), create)


@pytest.mark.parametrize(
    "plan",
    [
        (date(2024, 8, 14), date(2024, 8, 31)),  # starts before the request
        (date(2024, 8, 15), date(2024, 9, 1)),  # ends after it
    ],
)
def test_a_plan_reaching_beyond_the_request_on_either_side_misses_days(
    plan: tuple[date, date],
) -> None:
    note = decide(month(LATE, stage=Stage.DONE, request_id="R"), plan).note or ""
    assert note.startswith("MISSING DAYS: requested earlier for 2024-08-15..2024-08-31 only; ")


@pytest.mark.parametrize(
    "inside",
    [
        (date(2024, 8, 16), date(2024, 8, 30)),
        (date(2024, 8, 15), date(2024, 8, 30)),  # the same first day
        (date(2024, 8, 16), date(2024, 8, 31)),  # the same last day
    ],
)
def test_a_plan_within_the_request_misses_no_day(inside: tuple[date, date]) -> None:
    note = decide(month(LATE, stage=Stage.DONE, request_id="R"), inside).note or ""
    assert note.startswith("requested earlier for 2024-08-15..2024-08-31; kept ")
