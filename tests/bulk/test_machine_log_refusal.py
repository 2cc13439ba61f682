"""`journal repair` rebuilding a month whose log shows SAT refusing its dates (5002/5003) and
requests for fewer days before or after it (`refused_from_log`): which days the folder holds
(its own part, told apart by each file's CFDI issue date), whether the month is done, split, or
stays refused, and the reason `journal show` prints. Money rule: a rebuilt month never leads
the user to request days its folder already holds, or dates SAT exhausted. Pure calls on the
logged rows `engine` hands the machine.
"""

from __future__ import annotations

from datetime import date

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Asked, Logged, OwnPart, Stage

MONTH = (date(2024, 3, 1), date(2024, 3, 31))
FULL = Asked(*MONTH, 12)
# Each file's CFDI issue date (None: unread); f.xml is February's, never March's part.
DAYS: dict[str, date | None] = {
    "a.xml": date(2024, 3, 2),
    "b.xml": date(2024, 3, 10),
    "c.xml": date(2024, 3, 20),
    "u.xml": None,
    "f.xml": date(2024, 2, 1),
}
FILES = tuple(DAYS)
REFUSED_5003 = Logged(Stage.SAT_FAILED, "SAT 5003 too many", "r9", FULL)
REFUSED_5002 = Logged(Stage.SAT_FAILED, "SAT 5002 limit", "r9", FULL)


def days(a: int, b: int, count: int | None = None) -> Asked:
    return Asked(date(2024, 3, a), date(2024, 3, b), count)


def held(**changes: object) -> m.MonthState:
    """A month as `unrecorded` rebuilds it: needs attention, nothing sent by itself."""
    state = m.MonthState("2024-03", *MONTH, "issued", "cfdi")
    return m._evolve(state, stage=Stage.NEEDS_ATTENTION, reason="rebuilt", hint="look", **changes)


def request(rid: str, asked: Asked, end: Stage = Stage.DONE) -> list[Logged]:
    """The log lines of one request: created, then `end`."""
    return [
        Logged(Stage.SUBMITTING, None, None, asked),
        Logged(Stage.SUBMITTED, "sent", rid, asked),
        Logged(end, "end", rid, asked),
    ]


def rebuilt(lines: list[Logged]) -> m.MonthState:
    state = m.refused_from_log(held(), lines, FILES, DAYS)
    assert state is not None
    return state


def test_a_request_for_the_missing_days_done_after_a_5003_leaves_the_month_done() -> None:
    lines = [*request("r1", days(1, 15, 2)), REFUSED_5003, *request("r3", days(16, 31, 2))]
    assert rebuilt(lines) == m._evolve(
        held(),
        stage=Stage.DONE,
        request_id="r3",
        start=date(2024, 3, 16),
        end=MONTH[1],
        invoice_count=2,
        # Its days' files and the unread one; a.xml and b.xml are the earlier request's.
        extracted=(m.ExtractedPackage(m.KEPT, ("c.xml", "u.xml")),),
        own_part=OwnPart(date(2024, 3, 1), date(2024, 3, 15), ("a.xml", "b.xml"), 2),
        reason="its record was rebuilt from its log: 2024-03-16..2024-03-31 downloaded here by "
        "request r3 (2 file(s)); SAT refused 2024-03-01..2024-03-31: nothing is sent for it",
        hint=None,
    )


def test_after_a_5002_the_two_requests_complete_the_month_as_a_split() -> None:
    lines = [*request("r1", days(1, 15, 2)), REFUSED_5002, *request("r3", days(16, 31, 2))]
    state = rebuilt(lines)
    own = OwnPart(date(2024, 3, 1), date(2024, 3, 15), ("a.xml", "b.xml"), 2)
    assert (state.stage, state.request_id, state.start, state.end) == (Stage.SPLIT, "r3", *MONTH)
    assert (state.invoice_count, state.exhausted) == (4, (MONTH,))
    assert state.split_own == (own, OwnPart(date(2024, 3, 16), MONTH[1], ("c.xml", "u.xml"), 2))
    assert state.reason == (
        "SAT 5002 (its limit of requests for these dates) for 2024-03-01..2024-03-31: "
        "2024-03-16..2024-03-31 downloaded here by request r3 (2 file(s)), "
        "2024-03-01..2024-03-15 here by an earlier request (2 file(s))"
    )


def test_a_request_under_way_after_a_5002_is_held_with_the_exhausted_dates_and_own_part() -> None:
    lines = [*request("r1", days(1, 15, 2)), REFUSED_5002, *request("r3", days(16, 31))[:2]]
    assert rebuilt(lines) == held(
        exhausted=(MONTH,),
        own_part=OwnPart(date(2024, 3, 1), date(2024, 3, 15), ("a.xml", "b.xml"), 2),
    )


def test_requests_done_before_the_refusal_that_hold_every_day_leave_the_month_done() -> None:
    # 1..10, 11 and 12..31 done; 20..31 asked again and expired; then the whole month refused.
    lines = [
        *request("r1", days(1, 10, 2)),
        *request("r2", days(11, 11, 0)),
        *request("r3", days(12, 31, 2)),
        *request("r4", days(20, 31), Stage.EXPIRED),
        REFUSED_5003,
    ]
    state = rebuilt(lines)
    assert (state.stage, state.request_id, state.start, state.end) == (
        Stage.DONE,
        "r3",
        date(2024, 3, 12),
        MONTH[1],
    )
    assert state.own_part == OwnPart(date(2024, 3, 1), date(2024, 3, 11), ("a.xml", "b.xml"), 2)
    assert state.extracted == (m.ExtractedPackage(m.KEPT, ("c.xml", "u.xml")),)
    assert state.reason == (
        "its record was rebuilt from its log: 2024-03-12..2024-03-31 downloaded here by request "
        "r3 (2 file(s)); SAT refused 2024-03-01..2024-03-31: nothing is sent for it"
    )


def test_a_request_that_began_before_the_refused_dates_does_not_cover_them() -> None:
    before = Logged(Stage.DONE, "end", "r1", Asked(date(2024, 2, 20), date(2024, 3, 5), 1))
    state = rebuilt([before, *request("r3", days(6, 31, 2)), REFUSED_5003])
    assert (state.stage, state.sat_code, state.request_id) == (Stage.SAT_FAILED, 5003, "r9")
    # The folder's own part: 6..31, its files by their dates, the unread one with them.
    assert state.own_part == OwnPart(date(2024, 3, 6), MONTH[1], ("b.xml", "c.xml", "u.xml"), 2)


def test_a_month_done_for_the_same_dates_then_refused_with_5002_stays_refused() -> None:
    state = rebuilt([*request("r1", FULL), REFUSED_5002])
    assert (state.stage, state.sat_code, state.own_part) == (Stage.SAT_FAILED, 5002, None)
    assert state.exhausted == (MONTH,)
    assert state.reason == (
        "SAT 5002: the limit of requests for these dates is exhausted (its record was rebuilt "
        "from its log; nothing is sent for it)"
    )


def test_the_reason_says_which_cfdis_of_the_own_part_the_folder_lost() -> None:
    state = rebuilt([*request("r1", days(1, 15, 5)), REFUSED_5003])
    assert state.own_part == OwnPart(
        date(2024, 3, 1), date(2024, 3, 15), ("a.xml", "b.xml", "u.xml"), 5, 2
    )
    assert state.reason == (
        "SAT 5003: too many CFDIs for one request (its record was rebuilt from its log; nothing "
        "is sent for it). Its folder no longer holds 2 of the 5 CFDIs its log kept for "
        "2024-03-01..2024-03-15 (an earlier request's): put them back; `journal split` refuses "
        "the month without them (--force records it anyway)"
    )
