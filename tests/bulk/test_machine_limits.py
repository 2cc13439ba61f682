"""SAT's limits as the month state machine applies them, one pure call at a time: the create a
`Send` records (what a lost answer is later reconciled with), a month whose 2 identical requests
SAT accepts are spent and is split (`limit_split`, and the reason `journal show` prints), the
CFDIs a folder holds beyond SAT's count (`beyond_count`), and a package SAT surely served as
often as it may be asked for (`_spent`). Pure and fast: `make mutate` runs this file for every
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
WHERE = "/parts/2024-01a, /parts/2024-01b"


def month(**changes: object) -> m.MonthState:
    state = m.MonthState(
        key=KEY, start=JAN[0], end=JAN[1], rfc_type="received", request_type="cfdi"
    )
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


def sent(*ids: str, **changes: object) -> m.MonthState:
    """January after this journal created `ids`, each for exactly January's dates."""
    records = tuple(m.KnownRequest(i, *JAN, "received", "cfdi") for i in ids)
    return month(known_ids=ids, records=records, **changes)


# --- Send: the create that may be billed ---------------------------------------------------


def test_send_records_everything_a_lost_answer_is_reconciled_with() -> None:
    state = month(
        creates=1,
        exists=True,
        unknown=True,
        unknown_cause="HTTP 502",
        need_generation=1,
        reason="allowed",
        hint="resend",
        identical_allowed=True,
    )
    obs = m.Send(("h1",), generation=4)
    new, commands = m.transition(state, obs)
    assert commands == (m.SendCreate(KEY),)
    assert new == attrs.evolve(
        state,
        stage=Stage.SUBMITTING,
        creates=2,
        resend_allowed=False,
        history_before=("h1",),
        exists=False,
        unknown=False,
        unknown_cause=None,
        need_generation=4,
        reason=None,
        hint=None,
        identical_allowed=False,
    )


@pytest.mark.parametrize(
    ("today", "open_day"),
    [
        (None, None),
        (date(2024, 2, 3), None),  # the month was over when it was asked
        (JAN[1], JAN[1]),  # asked on its last day: that day was not over
        (date(2024, 1, 20), date(2024, 1, 20)),
    ],
)
def test_send_records_a_month_asked_before_its_last_day_was_over(
    today: date | None, open_day: date | None
) -> None:
    new, _ = m.transition(month(), m.Send(("h1",), today=today))
    assert new.open_day == open_day


def test_send_never_asks_dates_sat_exhausted_with_5002() -> None:
    state = month(exhausted=(JAN,))
    new, commands = m.transition(state, m.Send(("h1",)))
    assert commands == ()
    assert new == m.exhausted_again(state, *JAN)
    assert new.stage is Stage.SAT_FAILED
    other = month(exhausted=(HALF,))
    assert m.transition(other, m.Send(("h1",)))[1] == (m.SendCreate(KEY),)


# --- limit_split: SAT's 2 identical requests spent ---------------------------------------


@pytest.mark.parametrize(
    "stage",
    [Stage.PLANNED, Stage.EXPIRED, Stage.SAT_FAILED, Stage.NEEDS_ATTENTION, Stage.REFUSED],
)
def test_a_month_without_a_live_request_and_two_identical_ones_splits(stage: Stage) -> None:
    assert m.limit_split(sent("a1", "a2", stage=stage, sat_code=5008))
    assert not m.limit_split(sent("a1", stage=stage))


@pytest.mark.parametrize(
    "state",
    [
        sent("a1", "a2", stage=Stage.SUBMITTED, request_id="a2"),
        sent("a1", "a2", stage=Stage.DONE, request_id="a2"),
        sent("a1", "a2", stage=Stage.DUPLICATE),
        sent("a1", "a2", stage=Stage.SAT_FAILED, sat_code=5002),
        sent("a1", "a2", stage=Stage.SAT_FAILED, sat_code=5003),
    ],
)
def test_a_live_request_or_sats_own_refusal_is_not_a_limit_split(state: m.MonthState) -> None:
    assert not m.limit_split(state)


def test_a_limit_split_month_says_why_and_where_its_cfdis_are() -> None:
    state = m.hold(sent("a1", stage=Stage.PLANNED), ["r1"])
    new, commands = m.transition(state, m.SplitElsewhere(WHERE, invoice_count=4))
    assert commands == ()
    assert (new.stage, new.invoice_count, new.split_own, new.hint) == (Stage.SPLIT, 4, (), None)
    assert new.reason == (
        "SAT accepts only 2 requests for exactly 2024-01-01..2024-01-31 and the account has "
        f"them (a1, r1): downloaded in parts elsewhere; its CFDIs are in {WHERE}"
    )
    # Named again: the same reason.
    again, _ = m.transition(new, m.SplitElsewhere(WHERE))
    assert again.reason == new.reason


def test_a_limit_split_month_counts_its_folders_own_days_as_a_part() -> None:
    own = m.OwnPart(*HALF, ("a.xml", "b.xml"), 2)
    state = sent("a1", "a2", stage=Stage.EXPIRED, own_part=own)
    new, _ = m.transition(state, m.SplitElsewhere(WHERE, invoice_count=4))
    assert (new.stage, new.invoice_count, new.split_own) == (Stage.SPLIT, 6, (own,))
    assert new.extracted == (m.ExtractedPackage(m.OWN_PART, ("a.xml", "b.xml")),)
    assert new.reason == (
        "SAT accepts only 2 requests for exactly 2024-01-01..2024-01-31 and the account has "
        "them (a1, a2): 2024-01-01..2024-01-15 downloaded here by an earlier request (2 "
        f"file(s)), the other days downloaded in parts elsewhere; its CFDIs are in {WHERE}"
    )
    again, _ = m.transition(new, m.SplitElsewhere(WHERE))
    assert again.reason == new.reason


# --- beyond_count: CFDIs more than SAT reported --------------------------------------------


@pytest.mark.parametrize(
    ("count", "cfdis", "beyond"),
    [(None, 9, 0), (5, 0, 0), (5, 4, 0), (5, 5, 0), (5, 6, 1), (5, 10, 5), (0, 3, 3)],
)
def test_beyond_count(count: int | None, cfdis: int, beyond: int) -> None:
    assert m.beyond_count(month(invoice_count=count), cfdis) == beyond


# --- _spent: SAT served the package as often as it may be asked ---------------------------


@pytest.mark.parametrize(
    ("downloads", "unsure", "granted", "spent"),
    [
        (0, 0, 0, False),
        (1, 0, 0, False),
        (2, 0, 0, True),  # SAT's two, both sure: spent
        (2, 1, 0, False),  # one may not have reached SAT: one may be left
        (3, 1, 0, True),  # three counted, two sure
        (3, 2, 0, False),
        (2, 0, 1, False),  # the user allowed one more GET
        (3, 0, 1, True),
    ],
)
def test_a_package_is_spent_only_when_sat_surely_served_it_its_two_downloads(
    downloads: int, unsure: int, granted: int, spent: bool
) -> None:
    state = month(
        downloads=(("p0", 9), ("p1", downloads)),
        unsure=(("p1", unsure),) if unsure else (),
        granted=(("p1", granted),) if granted else (),
    )
    assert m._spent(state, "p1") is spent
