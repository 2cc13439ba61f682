"""`journal resend` and the holds that guard money, one pure call at a time.

A resend sends a new create request (it may be billed). These tests call the month state
machine directly (`transition(state, AllowResend(...))`, `hold`, `third_identical`, ...) and
assert what a user would notice: whether the month becomes `planned` again (the next run sends
a create), the exact refusal text a user reads instead (SAT 5003, SAT's 2-identical-requests
limit, a month that can still finish for free, dates SAT exhausted with 5002), and which
identical requests the journal counts. Pure and fast: `make mutate` runs this file for every
mutant of `gigstack_async/bulk/machine.py`.
"""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage

KEY = "2024-01"
JAN = (date(2024, 1, 1), date(2024, 1, 31))
HALF = (date(2024, 1, 1), date(2024, 1, 15))

OTHER_DATES_WAY = (
    "Run `sat download` for this month with other dates instead, each range into another --out "
    "folder (e.g. `gigstack-async sat download --from 2024-01-01 --to 2024-01-16 --rfc-type "
    "received --out <out>-2024-01a` and `gigstack-async sat download --from 2024-01-17 --to "
    "2024-01-31 --rfc-type received --out <out>-2024-01b`, with the other options you ran "
    "with, e.g. --team), then `gigstack-async journal split 2024-01 <out>-2024-01a "
    "<out>-2024-01b`: a plan with different dates is a new request for SAT (it may be billed)"
)
SPLIT_IN_HALVES = (
    "Split the period instead, each part into its own --out folder, e.g. in two halves: "
    "`gigstack-async sat download --from 2024-01-01 --to 2024-01-15 --rfc-type received --out "
    "<out>-2024-01a` and `gigstack-async sat download --from 2024-01-16 --to 2024-01-31 "
    "--rfc-type received --out <out>-2024-01b` (with the other options you ran with, e.g. "
    "--team); once each is done, `gigstack-async journal split 2024-01 <out>-2024-01a "
    "<out>-2024-01b` checks that they cover the month and records where its CFDIs are"
)


def month(**changes: object) -> m.MonthState:
    """January 2024, received CFDIs, planned; `changes` set any journaled field."""
    state = m.MonthState(
        key=KEY, start=JAN[0], end=JAN[1], rfc_type="received", request_type="cfdi"
    )
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


def record(
    request_id: str, start: date = JAN[0], end: date = JAN[1], **fields: str
) -> m.KnownRequest:
    """What the journal recorded of one of its own requests (January's kind by default)."""
    kind = {"rfc_type": "received", "request_type": "cfdi", **fields}
    return m.KnownRequest(request_id, start, end, kind["rfc_type"], kind["request_type"])


def sent(*ids: str, **changes: object) -> m.MonthState:
    """January after this journal created `ids`, each for exactly January's dates."""
    return month(known_ids=ids, records=tuple(record(i) for i in ids), **changes)


def refusal(state: m.MonthState, obs: m.AllowResend) -> str:
    with pytest.raises(m.TransitionError) as info:
        m.transition(state, obs)
    return str(info.value)


# --- a held month (never sent: the account already has an identical request) ---------------


def test_a_held_month_is_allowed_one_new_create() -> None:
    held = m.hold(month(), ["r1"])
    held = attrs.evolve(held, hint="adopt it or resend")
    after, commands = m.transition(held, m.AllowResend())
    assert commands == ()
    assert after == attrs.evolve(
        held,
        identical_allowed=True,
        reason="the user allowed a new create request although the account has an identical "
        "one (r1)",
        hint=None,
    )


def test_a_held_month_sat_refused_with_5003_is_never_sent_the_same_request() -> None:
    held = m.hold(
        month(), ["r1", "r2"], {"r1": ("failed", "SAT 5003: demasiadas"), "r2": ("failed", None)}
    )
    assert refusal(held, m.AllowResend()) == (
        "2024-01: SAT answered 5003 (too many CFDIs for one request) for 2024-01-01..2024-01-31 "
        "to the request the month is held for (r1): the same request would be billed and "
        f"refused again. {SPLIT_IN_HALVES}; pass --force only if SAT's answer has changed"
    )


def test_every_held_request_sat_refused_with_5003_is_named() -> None:
    refused = ("failed", "SAT 5003: demasiadas")
    held = m.hold(month(), ["r1", "r2"], {"r1": refused, "r2": refused})
    assert refusal(held, m.AllowResend()).startswith(
        "2024-01: SAT answered 5003 (too many CFDIs for one request) for 2024-01-01..2024-01-31 "
        "to the request the month is held for (r1, r2): the same request would be billed"
    )


def test_a_held_one_day_month_refused_with_5003_is_offered_metadata_not_a_split() -> None:
    held = m.hold(month(end=JAN[0]), ["r1"], {"r1": ("failed", "5003 demasiadas")})
    assert refusal(held, m.AllowResend()) == (
        "2024-01: SAT answered 5003 (too many CFDIs for one request) for 2024-01-01..2024-01-01 "
        "to the request the month is held for (r1): the same request would be billed and "
        "refused again. SAT refuses 2024-01-01 as too large for one request (5003: too many "
        "CFDIs for one request), and one day cannot be split by dates (a request asks for "
        "whole days): do not request it again (it would be billed and refused again). What can "
        "be done: `gigstack-async sat download --from 2024-01-01 --to 2024-01-01 --rfc-type "
        "received --type metadata --out <out>-2024-01a` (with the other options you ran with, "
        "e.g. --team; its own --out folder, as a journal holds one kind of request) lists that "
        "day's CFDIs without their XML (SAT's metadata: UUID, RFCs, dates, total, status), "
        "which SAT caps higher per request (reported as 1,000,000 rows against 200,000 XML); it "
        "is a new request and may be billed. For that day's XML, ask gigstack's support (or "
        "SAT); pass --force only if SAT's answer has changed"
    )


@pytest.mark.parametrize("message", [None, "SAT 5002: limite", "pending"])
def test_a_held_request_sat_did_not_refuse_with_5003_allows_the_resend(message: str | None) -> None:
    held = m.hold(month(), ["r1"], {"r1": ("failed", message)} if message else None)
    after, _ = m.transition(held, m.AllowResend())
    assert after.identical_allowed


def test_force_overrides_a_5003_of_the_held_request() -> None:
    held = m.hold(month(), ["r1"], {"r1": ("failed", "SAT 5003: demasiadas")})
    after, commands = m.transition(held, m.AllowResend(force=True))
    assert (after.stage, after.identical_allowed, commands) == (Stage.PLANNED, True, ())


def test_a_held_month_with_two_identical_requests_would_be_sats_third() -> None:
    held = m.hold(month(), ["r1", "r2"])
    assert refusal(held, m.AllowResend()) == (
        "2024-01: the account already has 2 requests for exactly 2024-01-01..2024-01-31 (r1, "
        "r2), and SAT accepts only 2 with the same dates ever: a third would be refused with "
        f"SAT 5002, for good (and may be billed). {OTHER_DATES_WAY}. Pass --force only if you "
        "know SAT would accept it"
    )
    forced, _ = m.transition(held, m.AllowResend(force=True))
    assert forced.identical_allowed
    assert forced.reason == (
        "the user allowed a new create request although the account has an identical one (r1, r2)"
    )


def test_a_held_month_counts_its_own_earlier_create_with_the_hold() -> None:
    held = m.hold(sent("a1"), ["r1"])
    assert refusal(held, m.AllowResend()).startswith(
        "2024-01: the account already has 2 requests for exactly 2024-01-01..2024-01-31 "
        "(a1, r1), and SAT accepts only 2 with the same dates ever"
    )


def test_a_held_month_held_at_other_dates_is_not_held_now() -> None:
    held = m.hold(month(), ["r1"])
    moved = attrs.evolve(held, start=HALF[0], end=HALF[1], held_for=())
    assert refusal(moved, m.AllowResend()) == (
        "2024-01 is planned: only expired, failed, refused or needs-attention months can be "
        "sent again"
    )


def test_new_dates_for_a_held_month_are_not_a_resend() -> None:
    held = m.hold(month(), ["r1"])
    assert refusal(held, m.AllowResend(start=HALF[0], end=HALF[1])) == (
        "2024-01 is planned: only expired, failed, refused or needs-attention months can be "
        "sent again"
    )


# --- which months can be sent again ------------------------------------------------------


@pytest.mark.parametrize(
    "state",
    [
        month(),
        month(stage=Stage.SUBMITTING),
        month(stage=Stage.SUBMITTED, request_id="a1"),
        month(stage=Stage.PROCESSING, request_id="a1"),
        month(stage=Stage.COMPLETED, request_id="a1"),
        month(stage=Stage.STAGED, request_id="a1"),
        month(stage=Stage.SPLIT),
    ],
)
def test_a_month_under_way_or_finished_is_never_resent(state: m.MonthState) -> None:
    assert refusal(state, m.AllowResend(force=True)) == (
        f"2024-01 is {state.stage.value}: only expired, failed, refused or needs-attention "
        "months can be sent again"
    )


STAGED = m.StagedFile("p1", "/out/.staged/p1.zip", "ab" * 32, 10)
OWN = m.OwnPart(HALF[0], HALF[1], ("a.xml",), 1)


def dirty(stage: Stage, **changes: object) -> m.MonthState:
    """A month that had a request: every field a resend must reset is set."""
    fields: dict[str, object] = {
        "stage": stage,
        "request_id": "a1",
        "known_ids": ("a1",),
        "duplicate": True,
        "resend_allowed": False,
        "sat_state": "failed",
        "invoice_count": 3,
        "package_ids": ("p1",),
        "status_asked": True,
        "staged": (STAGED,),
        "extracted": (m.ExtractedPackage("p0", ("b.xml",)),),
        "sat_code": 5008,
        "own_part": OWN,
        "reason": "before",
        "hint": "before",
    }
    return month(**{**fields, **changes})


def resent(state: m.MonthState, **changes: object) -> m.MonthState:
    fresh: dict[str, object] = {
        "stage": Stage.PLANNED,
        "request_id": None,
        "duplicate": False,
        "resend_allowed": True,
        "resend_for": (changes.get("start", state.start), changes.get("end", state.end)),
        "unknown": False,
        "resume_to": None,
        "sat_state": None,
        "invoice_count": None,
        "package_ids": None,
        "status_asked": False,
        "staged": (),
        "extracted": (),
        "sat_code": None,
        "reason": "the user allowed a new create request",
        "hint": None,
    }
    return attrs.evolve(state, **{**fresh, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "state",
    [
        dirty(Stage.EXPIRED, resume_to=Stage.COMPLETED),
        dirty(Stage.SAT_FAILED),
        dirty(Stage.NEEDS_ATTENTION),
        dirty(Stage.REFUSED),
        dirty(Stage.DUPLICATE),
        dirty(Stage.SUBMITTING, unknown=True),
    ],
)
def test_a_resend_plans_a_fresh_request_and_drops_the_old_ones_staged_zip(
    state: m.MonthState,
) -> None:
    after, commands = m.transition(state, m.AllowResend())
    assert after == resent(state)
    assert commands == (m.DeleteStaged(STAGED.path),)


@pytest.mark.parametrize("stage", [Stage.DONE, Stage.EMPTY])
def test_a_finished_month_resent_keeps_its_files_as_its_own_part(stage: Stage) -> None:
    state = dirty(stage, staged=(), extracted=(m.ExtractedPackage("p1", ("a.xml", "b.xml")),))
    after, commands = m.transition(state, m.AllowResend())
    own = m.OwnPart(JAN[0], JAN[1], ("a.xml", "b.xml"), 3)
    assert after == resent(state, own_part=own)
    assert commands == ()


def test_new_dates_are_a_new_request_for_those_dates() -> None:
    state = dirty(Stage.SAT_FAILED, sat_code=5003)
    after, _ = m.transition(state, m.AllowResend(start=HALF[0], end=HALF[1]))
    assert after == resent(
        state,
        start=HALF[0],
        end=HALF[1],
        reason="the plan asks for new dates 2024-01-01..2024-01-15: a new request",
    )
    later, _ = m.transition(state, m.AllowResend(start=date(2024, 1, 16)))
    assert (later.start, later.end) == (date(2024, 1, 16), JAN[1])
    earlier, _ = m.transition(state, m.AllowResend(end=HALF[1]))
    assert (earlier.start, earlier.end) == HALF


# --- never a blind third identical request, never an exhausted range ----------------------


def test_a_resend_that_would_be_sats_third_identical_request_is_refused() -> None:
    state = sent("a1", "a2", stage=Stage.EXPIRED, request_id="a2")
    assert refusal(state, m.AllowResend()) == (
        "2024-01: this journal already sent 2 requests for exactly 2024-01-01..2024-01-31 (a1, "
        "a2), and SAT accepts only 2 requests with the same dates ever: a third (as a resend "
        f"would send) would be refused with SAT 5002, for good (and may be billed). "
        f"{OTHER_DATES_WAY}. Pass --force only if you know SAT would accept a third request for "
        "these dates (it may be billed, and SAT's answer 5002 is for good)"
    )


def test_a_done_month_is_not_resent_as_a_third_identical_request() -> None:
    state = sent("a1", "a2", stage=Stage.DONE, request_id="a2")
    assert "this journal already sent 2 requests" in refusal(state, m.AllowResend())


def test_force_or_other_dates_send_past_two_identical_requests() -> None:
    state = sent("a1", "a2", stage=Stage.EXPIRED, request_id="a2")
    forced, _ = m.transition(state, m.AllowResend(force=True))
    assert forced == resent(state)
    other, _ = m.transition(state, m.AllowResend(start=HALF[0], end=HALF[1]))
    assert (other.stage, other.start, other.end) == (Stage.PLANNED, *HALF)


def test_one_identical_request_does_not_stop_a_resend() -> None:
    state = sent("a1", stage=Stage.EXPIRED, request_id="a1")
    after, _ = m.transition(state, m.AllowResend())
    assert after == resent(state)


def test_a_month_that_can_finish_for_free_is_not_resent_without_force() -> None:
    state = month(stage=Stage.NEEDS_ATTENTION, resume_to=Stage.STAGED, request_id="a1")
    assert refusal(state, m.AllowResend()) == (
        "2024-01 can still finish without a new request: run the same command again: its "
        "package is staged on disk and is extracted without downloading it. A resend sends a "
        "new create request (it may be billed) and gives up the one the month has; pass "
        "--force only if that request is wrong"
    )
    forced, _ = m.transition(state, m.AllowResend(force=True))
    assert forced == resent(state)


def test_dates_sat_exhausted_with_5002_are_never_asked_again() -> None:
    exhausted = month(stage=Stage.EXPIRED, exhausted=(JAN,))
    refused = month(stage=Stage.SAT_FAILED, sat_code=5002)
    text = (
        "2024-01: SAT 5002 says its limit of requests for 2024-01-01..2024-01-31 is exhausted, "
        f"so a resend with these dates would be refused. {OTHER_DATES_WAY}"
    )
    assert refusal(exhausted, m.AllowResend()) == text
    assert refusal(refused, m.AllowResend(force=True)) == text
    assert refusal(refused, m.AllowResend(start=JAN[0], end=JAN[1], force=True)) == text
    assert refusal(
        month(stage=Stage.EXPIRED, exhausted=(HALF,)), m.AllowResend(start=HALF[0], end=HALF[1])
    ).startswith("2024-01: SAT 5002 says its limit of requests for 2024-01-01..2024-01-15 is")


def test_dates_sat_did_not_exhaust_can_be_asked() -> None:
    other = month(stage=Stage.EXPIRED, exhausted=(HALF,))
    assert m.transition(other, m.AllowResend())[0].stage is Stage.PLANNED
    failed = month(stage=Stage.SAT_FAILED, sat_code=5003)
    assert m.transition(failed, m.AllowResend())[0].stage is Stage.PLANNED
    refused = month(stage=Stage.SAT_FAILED, sat_code=5002)
    after, _ = m.transition(refused, m.AllowResend(start=HALF[0], end=HALF[1]))
    assert (after.stage, after.start, after.end) == (Stage.PLANNED, *HALF)


# --- holds: a planned month not sent because the account has an identical request ----------


def test_hold_records_the_identical_requests_and_what_the_history_said() -> None:
    held = m.hold(month(), ["r1", "r2"], {"r2": ("failed", "SAT 5003: demasiadas")})
    assert held == month(
        held_for=("r1", "r2"),
        holds=(
            m.HeldRequest("r1", *JAN),
            m.HeldRequest("r2", *JAN, "failed", "SAT 5003: demasiadas"),
        ),
    )


def test_hold_adds_to_the_holds_a_month_already_has() -> None:
    first = m.hold(month(), ["r1"], {"r1": ("pending", None)})
    again = m.hold(first, ["r2", "r1"], {"r1": ("failed", "SAT 5003: demasiadas")})
    assert again.held_for == ("r1", "r2")
    assert again.holds == (
        m.HeldRequest("r1", *JAN, "failed", "SAT 5003: demasiadas"),
        m.HeldRequest("r2", *JAN),
    )


def test_hold_keeps_what_an_earlier_hold_learnt_once_the_history_says_nothing() -> None:
    first = m.hold(month(), ["r1"], {"r1": ("failed", "SAT 5003: demasiadas")})
    assert m.hold(first, ["r1"]).holds == first.holds
    assert m.hold(first, ["r1"], {"r1": ("expired", None)}).holds == (
        m.HeldRequest("r1", *JAN, "expired", "SAT 5003: demasiadas"),
    )
    assert m.hold(first, ["r1"], {"r1": (None, "SAT 5004: sin datos")}).holds == (
        m.HeldRequest("r1", *JAN, "failed", "SAT 5004: sin datos"),
    )


def test_a_hold_at_other_dates_stays_and_the_new_dates_get_their_own() -> None:
    first = m.hold(month(), ["r1"], {"r1": ("failed", "SAT 5003: demasiadas")})
    half = attrs.evolve(first, start=HALF[0], end=HALF[1], held_for=())
    again = m.hold(half, ["r1"])
    assert again.held_for == ("r1",)
    assert again.holds == (
        m.HeldRequest("r1", *JAN, "failed", "SAT 5003: demasiadas"),
        m.HeldRequest("r1", *HALF),
    )
    # Back at January's dates, the month is held for r1 again, with its 5003.
    back = attrs.evolve(again, start=JAN[0], end=JAN[1], held_for=())
    assert m.held_ids(back) == ("r1",)
    with pytest.raises(m.TransitionError, match="SAT answered 5003"):
        m.transition(back, m.AllowResend())


def test_a_legacy_hold_without_records_is_kept_with_its_dates() -> None:
    legacy = month(held_for=("r0",))
    held = m.hold(legacy, ["r1"], {"r1": ("pending", None)})
    assert held.held_for == ("r0", "r1")
    assert held.holds == (m.HeldRequest("r0", *JAN), m.HeldRequest("r1", *JAN, "pending"))


@pytest.mark.parametrize(
    "state",
    [
        month(stage=Stage.EXPIRED),
        month(stage=Stage.SUBMITTING),
        month(identical_allowed=True),
    ],
)
def test_hold_leaves_a_month_that_is_not_held(state: m.MonthState) -> None:
    assert m.hold(state, ["r1"], {"r1": ("failed", "x")}) is state


def test_recorded_holds_adds_legacy_ids_at_the_months_dates() -> None:
    other = m.HeldRequest("r1", *HALF, "failed", "SAT 5003")
    state = month(holds=(other,), held_for=("r1", "r2"))
    assert m.recorded_holds(state) == (other, m.HeldRequest("r1", *JAN), m.HeldRequest("r2", *JAN))
    same = m.HeldRequest("r1", *JAN, "failed", "SAT 5003")
    assert m.recorded_holds(month(holds=(same,), held_for=("r1",))) == (same,)
    assert m.recorded_holds(month()) == ()


# --- SAT's 2 identical requests ---------------------------------------------------------


def test_identical_sent_counts_only_this_journals_requests_for_exactly_the_months_criteria() -> (
    None
):
    state = month(
        known_ids=("a1", "a2", "a3", "a4", "a5", "a6"),
        records=(
            record("a1"),
            record("a2", *HALF),
            record("a3", JAN[0], date(2024, 1, 30)),
            record("a4", rfc_type="issued"),
            record("a5", request_type="metadata"),
            record("a6"),
            record("x9"),  # a record of an id the month never had
        ),
    )
    assert m.identical_sent(state) == ("a1", "a6")
    assert m.identical_sent(attrs.evolve(state, start=HALF[0], end=HALF[1])) == ("a2",)


def test_identical_requests_counts_the_holds_once() -> None:
    state = m.hold(sent("a1"), ["a1", "r1"])
    assert m.identical_requests(state) == ("a1", "r1")
    assert m.identical_limit_reached(state)
    assert not m.identical_limit_reached(sent("a1"))
    assert not m.identical_limit_reached(m.hold(month(), ["r1"]))
    assert m.identical_limit_reached(m.hold(sent("a1", "a2"), ["r1"]))


def test_third_identical_names_who_has_the_two_requests() -> None:
    assert m.third_identical(sent("a1")) is None
    assert m.third_identical(m.hold(month(), ["r1"])) is None
    tail = (
        "and SAT accepts only 2 requests with the same dates ever: a third (as a resend would "
        "send) would be refused with SAT 5002, for good (and may be billed). " + OTHER_DATES_WAY
    )
    assert m.third_identical(sent("a1", "a2")) == (
        "this journal already sent 2 requests for exactly 2024-01-01..2024-01-31 (a1, a2), " + tail
    )
    assert m.third_identical(month(held_for=("h1", "h2"))) == (
        "the account already has 2 requests (another folder's) for exactly "
        "2024-01-01..2024-01-31 (h1, h2), " + tail
    )
    assert m.third_identical(m.hold(sent("a1", "a2"), ["h1"])) == (
        "the account already has 3 requests (2 sent by this journal, 1 another folder's it was "
        "held for) for exactly 2024-01-01..2024-01-31 (a1, a2, h1), " + tail
    )


# --- a hint that offers a resend after two identical requests ------------------------------

RESEND = "`gigstack-async journal resend 2024-01` sends it again"
THIRD = m.third_identical(sent("a1", "a2")) or ""


@pytest.mark.parametrize("stage", [Stage.EXPIRED, Stage.SAT_FAILED, Stage.NEEDS_ATTENTION])
def test_a_hint_offering_a_third_identical_resend_points_to_other_dates(stage: Stage) -> None:
    state = sent("a1", "a2", stage=stage, sat_code=5008, hint=f"wait, or {RESEND}")
    assert m._no_third_identical(state) == attrs.evolve(state, hint=THIRD[0].upper() + THIRD[1:])


def test_a_hint_with_other_free_ways_keeps_them_and_warns_of_the_resend() -> None:
    hint = f"`gigstack-async journal adopt 2024-01 <request id>` the right one, or {RESEND}"
    state = sent("a1", "a2", stage=Stage.NEEDS_ATTENTION, hint=hint)
    # Newcomer r2 N5: the resend is not offered, then ruled out: its clause gives way.
    assert m._no_third_identical(state).hint == (
        f"`gigstack-async journal adopt 2024-01 <request id>` the right one, or no resend: {THIRD}"
    )
    for way in ("retry-download 2024-01", "keep 2024-01"):
        other = attrs.evolve(state, hint=f"`gigstack-async journal {way}`, or {RESEND}")
        assert m._no_third_identical(other).hint == (
            f"`gigstack-async journal {way}`, or no resend: {THIRD}"
        )
    # A resend clause that cannot be cut cleanly keeps the warning after it.
    tangled = attrs.evolve(state, hint=f"{RESEND} or `gigstack-async journal keep 2024-01`")
    assert m._no_third_identical(tangled).hint == f"{tangled.hint}. But {THIRD}"
    # An expired month's hint is replaced: adopt is not a way there.
    expired = attrs.evolve(state, stage=Stage.EXPIRED)
    assert m._no_third_identical(expired).hint == THIRD[0].upper() + THIRD[1:]


@pytest.mark.parametrize(
    "state",
    [
        sent("a1", "a2", stage=Stage.DONE, hint=RESEND),
        sent("a1", "a2", stage=Stage.PLANNED, hint=RESEND),
        sent("a1", "a2", stage=Stage.EXPIRED),
        sent("a1", "a2", stage=Stage.EXPIRED, hint="ask gigstack's support"),
        sent(
            "a1", "a2", stage=Stage.EXPIRED, hint="`gigstack-async journal resend 2024-01 --force`"
        ),
        sent("a1", "a2", stage=Stage.SAT_FAILED, sat_code=5002, hint=RESEND),
        sent("a1", "a2", stage=Stage.SAT_FAILED, sat_code=5003, hint=RESEND),
        sent("a1", stage=Stage.EXPIRED, hint=RESEND),
        sent("a1", "a2", stage=Stage.EXPIRED, hint=f"{RESEND}. But {THIRD}"),
    ],
)
def test_a_hint_that_offers_no_third_identical_resend_is_kept(state: m.MonthState) -> None:
    assert m._no_third_identical(state) is state


def test_the_resend_hint_is_recognised_with_or_without_the_month() -> None:
    state = sent("a1", "a2", stage=Stage.EXPIRED, hint="`gigstack-async journal resend` it")
    assert m._no_third_identical(state).hint == THIRD[0].upper() + THIRD[1:]


def test_every_transition_drops_a_third_identical_resend_from_the_hint() -> None:
    state = sent("a1", "a2", stage=Stage.EXPIRED, request_id="a2", hint=f"wait, or {RESEND}")
    after, _ = m.transition(state, m.Start())
    assert after.hint == THIRD[0].upper() + THIRD[1:]
