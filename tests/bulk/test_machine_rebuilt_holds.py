"""A month `journal repair` rebuilds from its log keeps the holds and the identical requests
that guard money: `held_from_log` (a month never sent, held for another folder's identical
request) and `logged_creates` (the month's own creates still count against SAT's limit of 2
identical requests). Pure calls on the logged rows `engine` hands the machine; the tests assert
what a user would notice: whether the next run may send a create, the reason `journal show`
prints, and the hint that would otherwise offer SAT's third identical request (5002, for good).
"""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Asked, Logged, Stage

KEY = "2024-01"
JAN = (date(2024, 1, 1), date(2024, 1, 31))
HALF = (date(2024, 1, 1), date(2024, 1, 15))
RESEND = "`gigstack-async journal resend 2024-01` (may be billed)"
ADOPT = "`gigstack-async journal adopt 2024-01 <request id>` if listed"


def month(**changes: object) -> m.MonthState:
    state = m.MonthState(
        key=KEY, start=JAN[0], end=JAN[1], rfc_type="received", request_type="cfdi"
    )
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


def rebuilt(*ids: str, hint: str = f"{ADOPT}; else {RESEND}") -> m.MonthState:
    """A month `unrecorded` rebuilt from a log that lists `ids`: needs attention."""
    return month(
        stage=Stage.NEEDS_ATTENTION, known_ids=ids, creates=len(ids), reason="rebuilt", hint=hint
    )


def line(stage: Stage, rid: str | None = None, dates: tuple[date, date] | None = JAN) -> Logged:
    return Logged(stage, None, rid, None if dates is None else Asked(*dates, None))


def created(rid: str, dates: tuple[date, date] | None = JAN) -> list[Logged]:
    """The log lines of one create: planned, submitting, then the id the answer gave."""
    return [
        line(Stage.PLANNED, None, dates),
        line(Stage.SUBMITTING, None, dates),
        line(Stage.SUBMITTED, rid, dates),
    ]


def kind(rid: str, dates: tuple[date, date] = JAN) -> m.KnownRequest:
    return m.KnownRequest(rid, *dates, "received", "cfdi")


THIRD = (
    "this journal already sent 2 requests for exactly 2024-01-01..2024-01-31 (A, B), and SAT "
    "accepts only 2 requests with the same dates ever: a third (as a resend would send) would "
    "be refused with SAT 5002, for good (and may be billed). Run `sat download` for this month "
    "with other dates instead, each range into another --out folder (e.g. `gigstack-async sat "
    "download --from 2024-01-01 --to 2024-01-16 --rfc-type received --out <out>-2024-01a` and "
    "`gigstack-async sat download --from 2024-01-17 --to 2024-01-31 --rfc-type received --out "
    "<out>-2024-01b`, with the other options you ran with, e.g. --team), then `gigstack-async "
    "journal split 2024-01 <out>-2024-01a <out>-2024-01b`: a plan with different dates is a new "
    "request for SAT (it may be billed)"
)


# --- logged_creates ------------------------------------------------------------------------


def test_the_months_own_creates_are_recorded_and_a_third_resend_is_dropped() -> None:
    held = rebuilt("A", "B")
    lines = [*created("A"), line(Stage.EXPIRED, "A"), *created("B"), line(Stage.EXPIRED, "B")]
    after = m.logged_creates(held, lines)
    assert after == attrs.evolve(
        held, records=(kind("A"), kind("B")), hint=f"{ADOPT}; else no resend: {THIRD}"
    )
    with pytest.raises(m.TransitionError, match="this journal already sent 2 requests"):
        m.transition(after, m.AllowResend())


def test_one_logged_create_is_recorded_and_the_resend_stays_offered() -> None:
    held = rebuilt("A")
    after = m.logged_creates(held, [*created("A"), line(Stage.EXPIRED, "A")])
    assert after == attrs.evolve(held, records=(kind("A"),))


def test_the_create_is_recorded_with_the_dates_the_submitting_line_sent() -> None:
    held = rebuilt("A")
    lines = [line(Stage.SUBMITTING, None, HALF), line(Stage.SUBMITTED, "A", JAN)]
    assert m.logged_creates(held, lines).records == (kind("A", HALF),)
    # A submitting line that kept no dates: the answer's line has them.
    lines = [line(Stage.SUBMITTING, None, None), line(Stage.SUBMITTED, "A", HALF)]
    assert m.logged_creates(held, lines).records == (kind("A", HALF),)
    part = [line(Stage.SUBMITTING, None, None), Logged(Stage.SUBMITTED, None, "A", Asked(JAN[0]))]
    assert m.logged_creates(held, part) is held


@pytest.mark.parametrize(
    "lines",
    [
        # No dates anywhere: the request's dates are unknown.
        [line(Stage.SUBMITTING, None, None), line(Stage.SUBMITTED, "A", None)],
        # Adopted, not created: the id's first line follows needs-attention.
        [line(Stage.NEEDS_ATTENTION, None), line(Stage.SUBMITTED, "A")],
        # The id's first line is the log's first.
        [line(Stage.SUBMITTED, "A")],
        # First seen after an adopt, later right after a create: only the first line counts.
        [
            line(Stage.PLANNED, None),
            line(Stage.SUBMITTED, "A"),
            line(Stage.SUBMITTING, None),
            line(Stage.SUBMITTED, "A"),
        ],
        # An id the log lists but the rebuilt month does not know.
        created("Z"),
    ],
)
def test_a_create_the_log_does_not_prove_is_not_recorded(lines: list[Logged]) -> None:
    held = rebuilt("A")
    assert m.logged_creates(held, lines) is held


def test_a_create_already_recorded_is_not_recorded_twice() -> None:
    held = attrs.evolve(rebuilt("A", "B"), records=(kind("A", HALF),))
    after = m.logged_creates(held, [*created("A"), *created("B")])
    assert after.records == (kind("A", HALF), kind("B"))
    assert m.logged_creates(held, created("A")) is held


def test_a_submitting_line_with_the_id_records_it() -> None:
    # The create's own line may carry the id (answered in the same transition's log).
    held = rebuilt("A")
    lines = [line(Stage.SUBMITTING, None), line(Stage.SUBMITTING, "A"), line(Stage.SUBMITTED, "A")]
    assert m.logged_creates(held, lines).records == (kind("A"),)


# --- held_from_log -----------------------------------------------------------------------


def test_a_never_sent_month_is_held_again_for_its_logged_holds() -> None:
    holds = (
        m.HeldRequest("r0", *HALF, "failed", "SAT 5003"),
        m.HeldRequest("r1", *JAN, "pending"),
        m.HeldRequest("r2", *JAN),
    )
    state = m.held_from_log(month(held_for=("old",)), holds)
    assert state == month(
        holds=holds,
        held_for=("r1", "r2"),
        reason="its record was rebuilt from its log: held, not sent, for the identical "
        "request(s) r1, r2 the account already has (another folder's?); the next run holds it "
        "again, listed in the history or not",
    )
    assert m.third_identical(state) is not None  # r1 and r2: a resend would be the third


def test_a_month_held_only_at_other_dates_is_planned_with_those_holds_kept() -> None:
    holds = (m.HeldRequest("r0", *HALF, "failed", "SAT 5003"),)
    state = m.held_from_log(month(held_for=("old",), reason="planned"), holds)
    assert state == month(holds=holds, reason="planned")
    back = m.held_from_log(month(start=HALF[0], end=HALF[1]), holds)
    assert back.held_for == ("r0",)
    with pytest.raises(m.TransitionError, match="SAT answered 5003"):
        m.transition(back, m.AllowResend())
