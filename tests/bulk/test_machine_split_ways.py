"""`journal split` of a month whose SAT identical requests are spent, or that was requested on
its open day: what the split month records (its files, its CFDI count, its own parts) and says.

Review 9m #1 and #7 as pure decisions: SAT accepts only 2 requests with the same dates, ever, so
a month whose 2 are spent is finished by parts downloaded elsewhere (its folder's own days count
as a part); a month requested before its last day was over is finished by parts holding that
day again (its count is then unknown: never a sum counting that day twice). Named again, the
split says the same thing with the new folders. Direct calls, no engine or server: `make
mutate` runs this file for every mutant of `bulk/machine.py`.
"""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import (
    OWN_PART,
    ExtractedPackage,
    KnownRequest,
    OwnPart,
    SplitElsewhere,
    Stage,
    TransitionError,
)

JAN1, JAN15, JAN31 = date(2024, 1, 1), date(2024, 1, 15), date(2024, 1, 31)
JAN = m.MonthState("2024-01", JAN1, JAN31, "received", "cfdi")
WHERE = "<out>-2024-01a, <out>-2024-01b"
AGAIN = "<out>-2024-01c"
# Both of SAT's identical requests for January were sent by this journal, and expired.
SPENT = attrs.evolve(
    JAN,
    stage=Stage.EXPIRED,
    request_id="R2",
    known_ids=("R1", "R2"),
    records=(
        KnownRequest("R1", JAN1, JAN31, "received", "cfdi"),
        KnownRequest("R2", JAN1, JAN31, "received", "cfdi"),
    ),
    creates=2,
    reason="SAT keeps packages 72 h",
    hint="request the month again in parts",
)
OWN = OwnPart(JAN1, JAN15, ("o1.xml",), 1)
LIMIT = (
    "SAT accepts only 2 requests for exactly 2024-01-01..2024-01-31 and the account has them "
    "(R1, R2): "
)


def split(state: m.MonthState, obs: SplitElsewhere) -> m.MonthState:
    new, commands = m.transition(state, obs)
    assert commands == ()  # nothing is sent or downloaded
    return new


def test_a_month_whose_identical_requests_are_spent_is_split() -> None:
    state = split(SPENT, SplitElsewhere(WHERE, invoice_count=5))
    assert (state.stage, state.hint, state.invoice_count) == (Stage.SPLIT, None, 5)
    assert (state.extracted, state.split_own) == ((), ())
    assert state.reason == f"{LIMIT}downloaded in parts elsewhere; its CFDIs are in {WHERE}"
    again = split(state, SplitElsewhere(AGAIN, invoice_count=5))
    assert again.reason == f"{LIMIT}downloaded in parts elsewhere; its CFDIs are in {AGAIN}"
    assert attrs.evolve(again, reason=state.reason) == state


@pytest.mark.parametrize(("own_count", "total"), [(1, 6), (None, None)])
def test_a_spent_months_own_days_count_as_a_part(own_count: int | None, total: int | None) -> None:
    own = attrs.evolve(OWN, invoice_count=own_count)
    stale = ExtractedPackage(OWN_PART, ("old.xml",))
    mine = ExtractedPackage("P1", ("a.xml",))
    state = split(
        attrs.evolve(SPENT, own_part=own, extracted=(stale, mine)),
        SplitElsewhere(WHERE, invoice_count=5),
    )
    assert state.stage is Stage.SPLIT
    assert state.extracted == (mine, ExtractedPackage(OWN_PART, ("o1.xml",)))
    assert (state.invoice_count, state.split_own) == (total, (own,))
    here = (
        "2024-01-01..2024-01-15 downloaded here by an earlier request (1 file(s)), the other "
        "days downloaded in parts elsewhere; its CFDIs are in "
    )
    assert state.reason == f"{LIMIT}{here}{WHERE}"
    again = split(state, SplitElsewhere(AGAIN))
    assert again.reason == f"{LIMIT}{here}{AGAIN}"


def test_a_month_refused_5002_whose_folder_holds_some_days_says_so_when_named_again() -> None:
    failed = attrs.evolve(
        SPENT, stage=Stage.SAT_FAILED, sat_code=5002, own_part=OWN, records=(), known_ids=("R2",)
    )
    state = split(failed, SplitElsewhere(WHERE, invoice_count=5))
    reason = (
        "SAT 5002 (its limit of requests for these dates) for 2024-01-01..2024-01-31: "
        "2024-01-01..2024-01-15 downloaded here by an earlier request (1 file(s)), the other "
        "days in parts elsewhere: "
    )
    assert (state.stage, state.reason, state.invoice_count) == (Stage.SPLIT, reason + WHERE, 6)
    assert split(state, SplitElsewhere(AGAIN)).reason == reason + AGAIN


@pytest.mark.parametrize(
    ("code", "why"),
    [(5003, "too many CFDIs for one request"), (5002, "its limit of requests for these dates")],
)
def test_a_month_sat_refused_twice_is_split_for_sats_refusal_not_the_limit(
    code: int, why: str
) -> None:
    failed = attrs.evolve(SPENT, stage=Stage.SAT_FAILED, sat_code=code)
    state = split(failed, SplitElsewhere(WHERE, invoice_count=5))
    reason = (
        f"SAT {code} ({why}) for 2024-01-01..2024-01-31: downloaded in parts elsewhere; its "
        "CFDIs are in "
    )
    assert (state.stage, state.reason) == (Stage.SPLIT, reason + WHERE)
    assert split(state, SplitElsewhere(AGAIN)).reason == reason + AGAIN


def test_a_month_with_one_identical_request_is_not_split() -> None:
    one = attrs.evolve(SPENT, records=SPENT.records[1:])
    with pytest.raises(TransitionError) as err:
        m.transition(one, SplitElsewhere(WHERE))
    assert str(err.value).startswith("2024-01 is expired: only a month SAT refused with 5003")


# ------------------------------------------------------------------ requested on its open day

OPEN = attrs.evolve(
    JAN,
    stage=Stage.DONE,
    request_id="R1",
    known_ids=("R1",),
    package_ids=("P1",),
    extracted=(ExtractedPackage("P1", ("a.xml", "b.xml")),),
    invoice_count=2,
    open_day=JAN31,
    reason="every package extracted",
)
OPEN_REASON = (
    "requested here for 2024-01-01..2024-01-31 on 2024-01-31, before that day was over; "
    "2024-01-31 downloaded again in parts elsewhere, complete: "
)


@pytest.mark.parametrize("stage", [Stage.DONE, Stage.EMPTY])
def test_a_month_requested_on_its_open_day_is_split_with_an_unknown_count(stage: Stage) -> None:
    state = split(attrs.evolve(OPEN, stage=stage), SplitElsewhere(WHERE, invoice_count=4))
    assert (state.stage, state.hint, state.reason) == (Stage.SPLIT, None, OPEN_REASON + WHERE)
    # The open day's CFDIs may be in both: never a sum counting them twice.
    assert state.invoice_count is None
    assert state.split_own == (OwnPart(JAN1, JAN31, ("a.xml", "b.xml"), 2),)
    assert state.files == ("a.xml", "b.xml")
    again = split(state, SplitElsewhere(AGAIN))
    assert again.reason == OPEN_REASON + AGAIN
