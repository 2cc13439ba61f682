"""SAT 5002 / 5003 splits of the bulk state machine, one pure call at a time.

Direct calls of `transition` and of the helpers the engine and the CLI use for a month SAT
refused with 5002 (its limit of requests for those dates) or 5003 (too many CFDIs): no engine,
no journal, no server, so every mutant of `gigstack_async/bulk/machine.py` runs them in
milliseconds (`make mutate`). Each test checks what a user reads or pays for: the stage, the
exact reason and hint `gigstack-async journal show` prints (days named, folders, commands), the
files the month counts, the whole journal record a transition writes, and that nothing is sent.

The story (review 9h #1): August was done for 08-15..08-31 only (MISSING DAYS); a resend for the
whole month was refused with 5002, so those days stay in the folder as its own part, and the
rest of August is downloaded elsewhere, or re-planned into this folder for other days.
"""

from __future__ import annotations

import re
from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import (
    OWN_PART,
    AllowResend,
    ExtractedPackage,
    MonthState,
    OwnPart,
    SplitElsewhere,
    Stage,
    TransitionError,
    transition,
)

KEY = "2024-08"


def d(day: int, month: int = 8) -> date:
    return date(2024, month, day)


AUG = (d(1), d(31))
FIRST_HALF = (d(1), d(14))
LATE = (d(15), d(31))
OWN_FILES = ("A.xml", "B.xml")
OWN = OwnPart(*LATE, OWN_FILES)
WHERE = "/b/2024-08 (2024-08-01..2024-08-14, 3 file(s))"
PLANNED = MonthState(KEY, *AUG, "received", "cfdi")
# The resend for the whole month, refused with 5002: its own part (08-15..31) kept.
REFUSED_5002 = attrs.evolve(
    PLANNED,
    stage=Stage.SAT_FAILED,
    sat_code=5002,
    request_id="r2",
    known_ids=("r1", "r2"),
    creates=2,
    resend_allowed=False,
    exhausted=(AUG,),
    own_part=OWN,
    reason="SAT request failed: 5002",
    hint="old hint",
)
REFUSED_5003 = attrs.evolve(REFUSED_5002, sat_code=5003, exhausted=(), own_part=None)
# Re-planned for the first half into this folder and done: with the own part, every day.
DONE_FIRST_HALF = attrs.evolve(
    REFUSED_5002,
    stage=Stage.DONE,
    start=FIRST_HALF[0],
    end=FIRST_HALF[1],
    sat_code=None,
    request_id="r3",
    known_ids=("r1", "r2", "r3"),
    package_ids=("p3",),
    extracted=(ExtractedPackage("p3", ("C.xml", "D.xml", "E.xml")),),
    reason="done",
    hint=None,
)


# ------------------------------------------------------------------ days and ranges


@pytest.mark.parametrize(
    ("start", "end", "ranges", "gaps"),
    [
        (*AUG, (), [AUG]),
        (*AUG, (AUG,), []),
        (*AUG, ((d(10), d(20)),), [(d(1), d(9)), (d(21), d(31))]),
        (*AUG, ((d(20), d(31)), (d(1), d(10))), [(d(11), d(19))]),  # in any order
        (*AUG, ((d(1), d(14)), (d(16), d(31))), [(d(15), d(15))]),  # one day
        (*AUG, ((d(1), d(10)), (d(11), d(31))), []),  # touching
        (*AUG, ((d(1), d(20)), (d(5), d(10))), [(d(21), d(31))]),  # one inside another
        (*AUG, ((d(20, 7), d(1)),), [(d(2), d(31))]),  # ends on the first day
        (*AUG, ((d(1, 7), d(31, 7)),), [AUG]),  # before
        (*AUG, ((d(31), d(5, 9)),), [(d(1), d(30))]),  # starts on the last day
        (*AUG, ((d(5, 9), d(30, 9)),), [AUG]),  # after
        (*AUG, ((d(1), d(30)), (d(31), d(31))), []),  # the last day alone
        (*AUG, ((d(1), d(30)), (d(31), d(31)), (d(31), d(31))), []),
        (d(31), d(31), (), [(d(31), d(31))]),
        (*AUG, ((d(1, 7), d(31, 7)), AUG), []),  # a range before the dates, then the rest
        (*AUG, ((d(1), d(20)), (d(5), d(10)), (d(21), d(31))), []),  # one inside, then the rest
    ],
)
def test_uncovered_names_every_day_no_range_holds(
    start: date, end: date, ranges: tuple[tuple[date, date], ...], gaps: list[tuple[date, date]]
) -> None:
    assert m.uncovered(start, end, ranges) == gaps


@pytest.mark.parametrize(
    ("ranges", "text"),
    [
        ([(d(31), d(31))], "2024-08-31"),
        ([(d(1), d(9))], "2024-08-01..2024-08-09"),
        ([(d(1), d(9)), (d(31), d(31))], "2024-08-01..2024-08-09 and 2024-08-31"),
        ([], ""),
    ],
)
def test_days_are_named_as_one_day_or_a_range(ranges: list[tuple[date, date]], text: str) -> None:
    assert m._days(ranges) == text


@pytest.mark.parametrize(
    ("own", "found"),
    [
        (OWN, True),  # ends on the last day
        (OwnPart(d(1), d(14)), True),  # starts on the first day
        (OwnPart(d(10), d(10)), True),  # one day inside
        (OwnPart(*AUG), False),  # as wide as the dates: no part, it is the whole
        (OwnPart(d(31, 7), d(14)), False),  # starts before
        (OwnPart(d(15), d(1, 9)), False),  # ends after
        (None, False),
    ],
)
def test_own_part_of_is_the_part_within_the_dates_missing_some_of_them(
    own: OwnPart | None, found: bool
) -> None:
    state = attrs.evolve(DONE_FIRST_HALF, own_part=own)
    assert m.own_part_of(state, *AUG) == (own if found else None)
    assert m.held_here(state, *AUG) == (
        [FIRST_HALF, (own.start, own.end)] if found and own else [FIRST_HALF]
    )


@pytest.mark.parametrize(
    ("start", "end", "own", "missing"),
    [
        (*FIRST_HALF, OWN, ""),
        (*FIRST_HALF, None, "2024-08-15..2024-08-31"),
        (*FIRST_HALF, OwnPart(d(20), d(31)), "2024-08-15..2024-08-19"),
        (d(2), d(14), OWN, "2024-08-01"),
        (d(1), d(10), OwnPart(d(20), d(30)), "2024-08-11..2024-08-19 and 2024-08-31"),
        (*AUG, OwnPart(*AUG), ""),
    ],
)
def test_missing_days_are_those_neither_the_request_nor_the_own_part_holds(
    start: date, end: date, own: OwnPart | None, missing: str
) -> None:
    state = attrs.evolve(DONE_FIRST_HALF, start=start, end=end, own_part=own)
    assert m.missing_days(state, *AUG) == missing


WAY_ONE = (
    "missing here: 2024-08-15..2024-08-31. Download that range into its own --out folder "
    "(`gigstack-async sat download --from 2024-08-15 --to 2024-08-31 --rfc-type received --out "
    "<out>-2024-08a`, with the other options you ran with, e.g. --team; other dates for SAT: a new "
    "request, possibly billed); once done, `gigstack-async journal split 2024-08 <out>-2024-08a` "
    "records the month as complete (runs of this folder then end ok)"
)
WAY_TWO = (
    "missing here: 2024-08-01 and 2024-08-15..2024-08-31. Download each range into its own --out "
    "folder (`gigstack-async sat download --from 2024-08-01 --to 2024-08-01 --rfc-type received "
    "--out <out>-2024-08a` and `gigstack-async sat download --from 2024-08-15 --to 2024-08-31 "
    "--rfc-type received --out <out>-2024-08b`, with the other options you ran with, e.g. --team; "
    "other dates for SAT: a new request, possibly billed); once done, `gigstack-async journal "
    "split 2024-08 <out>-2024-08a <out>-2024-08b` records the month as complete (runs of this "
    "folder then end ok)"
)
WAY_NONE = (
    "nothing is missing here: the month's folder holds every day of 2024-08-01..2024-08-31 (an "
    "earlier request's days included); a `sat download` of the whole month records it complete "
    "and sends nothing"
)


@pytest.mark.parametrize(
    ("start", "own", "way"),
    [(d(1), None, WAY_ONE), (d(2), None, WAY_TWO), (d(1), OWN, WAY_NONE)],
)
def test_missing_days_way_names_each_missing_range_its_folder_and_the_split(
    start: date, own: OwnPart | None, way: str
) -> None:
    state = attrs.evolve(DONE_FIRST_HALF, start=start, own_part=own)
    assert m.missing_days_way(state, *AUG) == way


# ------------------------------------------------------------------ SAT 5002 hints

LIMIT_AUG = (
    "SAT's limit of requests for 2024-08-01..2024-08-31 is exhausted: these dates are never sent "
    "again. To download the month anyway, run it as shorter ranges (other dates are new criteria "
    "for SAT: new requests, possibly billed), each into its own --out folder, e.g. `gigstack-async "
    "sat download --from 2024-08-01 --to 2024-08-16 --rfc-type received --out <out>-2024-08a` and "
    "`gigstack-async sat download --from 2024-08-17 --to 2024-08-31 --rfc-type received --out "
    "<out>-2024-08b` (with the other options you ran with, e.g. --team); once both are done, "
    "`gigstack-async journal split 2024-08 <out>-2024-08a <out>-2024-08b` records where its CFDIs "
    "are (runs of this folder then end ok). Other dates run into this folder download only those "
    "days: the month then says MISSING DAYS"
)
HINT_OWN = (
    "SAT's limit of requests for 2024-08-01..2024-08-31 is exhausted: these dates are never sent "
    "again. The month's folder already holds 2024-08-15..2024-08-31 (2 file(s), from its earlier "
    "request), which counts as a part; missing here: 2024-08-01..2024-08-14. Download that range "
    "into its own --out folder (`gigstack-async sat download --from 2024-08-01 --to 2024-08-14 "
    "--rfc-type received --out <out>-2024-08a`, with the other options you ran with, e.g. --team; "
    "other dates for SAT: a new request, possibly billed); once done, `gigstack-async journal "
    "split 2024-08 <out>-2024-08a` records the month as complete (runs of this folder then end ok)"
)


def test_limit_5002_hint_splits_the_dates_in_two_halves() -> None:
    assert m.limit_5002_hint(PLANNED, *AUG) == LIMIT_AUG


ONE_DAY_5002_WAY = (
    "one day cannot be split by dates (a request asks for whole days), so no other dates of "
    "2024-08-31 exist. What can be done: `gigstack-async sat download --from 2024-08-31 --to "
    "2024-08-31 --rfc-type received --type metadata --out <out>-2024-08a` (with the other "
    "options you ran with, e.g. --team; its own --out folder, as a journal holds one kind of "
    "request) lists that day's CFDIs without their XML (another kind of request: whether SAT's "
    "limit counts it with this one is not documented; a new request, may be billed); for that "
    "day's XML, ask gigstack's support (or SAT)"
)


def test_a_one_day_5002_offers_no_halves() -> None:
    # Was "e.g. `sat download --from 2024-08-31 --to 2024-08-31 ...` and `sat download --from
    # 2024-09-01 --to 2024-08-31 ...`": the refused day again, and a range ending before it
    # starts.
    one_day = attrs.evolve(PLANNED, start=d(31), end=d(31))
    assert m.limit_5002_hint(one_day, d(31), d(31)) == (
        "SAT's limit of requests for 2024-08-31 is exhausted: that day is never sent again, "
        "and " + ONE_DAY_5002_WAY
    )
    refused = attrs.evolve(one_day, stage=Stage.SAT_FAILED, sat_code=5002, exhausted=())
    with pytest.raises(TransitionError) as resend:
        transition(refused, AllowResend(force=True))
    assert str(resend.value).endswith(
        "a resend with these dates would be refused. O" + ONE_DAY_5002_WAY[1:]
    )
    metadata = m.limit_5002_hint(attrs.evolve(one_day, request_type="metadata"), d(31), d(31))
    assert metadata.endswith(
        "exist: ask gigstack's support (or SAT) how to get that day's metadata"
    )


def split_5003_hint(period: str, first: str, second: str) -> str:
    """The 5003 hint for August's `period`: `first` and `second` are its two `sat download`s."""
    return (
        f"split the period: run {period} as shorter ranges, each into its own --out folder (a "
        "journal holds one request per month), e.g. in two halves: `gigstack-async sat download "
        f"{first} --out <out>-2024-08a` and `gigstack-async sat download {second} --out "
        "<out>-2024-08b` (with the other options you ran with, e.g. --team); once each is done, "
        "`gigstack-async journal split 2024-08 <out>-2024-08a <out>-2024-08b` checks that they "
        "cover the month and records where its CFDIs are (runs of this folder then end ok)"
    )


@pytest.mark.parametrize(
    ("start", "end", "rfc_type", "request_type", "hint"),
    [
        (  # two days: a day each, and the run's --type kept (metadata is not the default)
            d(30),
            d(31),
            "received",
            "metadata",
            split_5003_hint(
                "2024-08-30..2024-08-31",
                "--from 2024-08-30 --to 2024-08-30 --rfc-type received --type metadata",
                "--from 2024-08-31 --to 2024-08-31 --rfc-type received --type metadata",
            ),
        ),
        (  # an odd count: the second half is the longer one; cfdi is the default --type
            d(1),
            d(3),
            "issued",
            "cfdi",
            split_5003_hint(
                "2024-08-01..2024-08-03",
                "--from 2024-08-01 --to 2024-08-01 --rfc-type issued",
                "--from 2024-08-02 --to 2024-08-03 --rfc-type issued",
            ),
        ),
    ],
)
def test_a_5003_hint_prints_the_two_halves_to_run_as_they_must_be_typed(
    start: date, end: date, rfc_type: str, request_type: str, hint: str
) -> None:
    sending = attrs.evolve(
        MonthState(KEY, start, end, rfc_type, request_type),
        stage=Stage.SUBMITTING,
        unknown=True,
        resend_allowed=False,
    )
    new, commands = transition(sending, m.CreateRefused("Tope máximo", 5003))
    assert commands == ()
    assert (new.stage, new.sat_code, new.hint) == (Stage.SAT_FAILED, 5003, hint)


ONE_DAY_5003 = (
    "SAT refuses 2024-08-31 as too large for one request (5003: too many CFDIs for one "
    "request), and one day cannot be split by dates (a request asks for whole days): do not "
    "request it again (it would be billed and refused again)"
)


@pytest.mark.parametrize(
    ("request_type", "hint"),
    [
        (
            "cfdi",
            ONE_DAY_5003 + ". What can be done: `gigstack-async sat download --from 2024-08-31 "
            "--to 2024-08-31 --rfc-type received --type metadata --out <out>-2024-08a` (with the "
            "other options you ran with, e.g. --team; its own --out folder, as a journal holds "
            "one kind of request) lists that day's CFDIs without their XML (SAT's metadata: "
            "UUID, RFCs, dates, total, status), which SAT caps higher per request (reported as "
            "1,000,000 rows against 200,000 XML); it is a new request and may be billed. For "
            "that day's XML, ask gigstack's support (or SAT)",
        ),
        (  # a metadata request refused: no other kind to offer
            "metadata",
            ONE_DAY_5003 + ". Ask gigstack's support (or SAT) how to get that day's metadata",
        ),
    ],
)
def test_a_one_day_5003_hint_offers_no_split_that_repeats_the_refused_request(
    request_type: str, hint: str
) -> None:
    # Was: "split the period: run 2024-08-31..2024-08-31 as shorter ranges ... in two halves:
    # `sat download --from 2024-08-31 --to 2024-08-31 ...`", the very request SAT refused.
    one_day = MonthState(KEY, d(31), d(31), "received", request_type)
    sending = attrs.evolve(one_day, stage=Stage.SUBMITTING, unknown=True, resend_allowed=False)
    new, commands = transition(sending, m.CreateRefused("Tope máximo", 5003))
    assert commands == ()
    assert (new.stage, new.sat_code, new.hint) == (Stage.SAT_FAILED, 5003, hint)
    assert m.one_day_5003(new) == hint
    # SAT's 5003 as a failed request's message (the status or history) says the same.
    assert m._sat_failed(sending, "SAT 5003: Tope máximo").hint == hint
    # Two days still split, a day each.
    assert m.one_day_5003(attrs.evolve(one_day, start=d(30))) is None


HINT_5003_OWN = (
    "split the period: the month's folder already holds 2024-08-15..2024-08-31 (2 file(s), from "
    "its earlier request), which counts as a part: never request those days again (billed "
    "twice). Download only 2024-08-01..2024-08-14, into other --out folders (a journal holds "
    "one request per month; a range longer than half the month in two halves): "
    "`gigstack-async sat download --from 2024-08-01 --to 2024-08-14 --rfc-type received --out "
    "<out>-2024-08a` (with the other options you ran with, e.g. --team); once it is done, "
    "`gigstack-async journal split 2024-08 <out>-2024-08a` checks that they, with this "
    "folder's, cover the month and records where its CFDIs are (runs of this folder then end ok)"
)


def test_a_5003_hint_asks_only_for_the_days_the_folder_misses() -> None:
    # Review 9i #1 (d9_5003_ownpart.py): a resend --force of a month done for 08-15..31 was
    # refused with 5003; the hint asked for 08-01..15 and 08-16..31: 22 CFDIs billed twice.
    sending = attrs.evolve(
        REFUSED_5003, stage=Stage.SUBMITTING, own_part=OWN, sat_code=None, hint=None
    )
    new, commands = transition(sending, m.CreateRefused("Tope máximo", 5003))
    assert commands == ()
    assert (new.stage, new.sat_code, new.hint) == (Stage.SAT_FAILED, 5003, HINT_5003_OWN)
    # SAT's 5003 as a failed request's message (the status or history) says the same.
    assert m._sat_failed(sending, "SAT 5003: Tope máximo").hint == HINT_5003_OWN


@pytest.mark.parametrize(
    ("own", "parts"),
    [
        (OWN, [(d(1), d(14), "a")]),  # 14 days: no longer than a half (16), asked as they are
        (OwnPart(d(1), d(5)), [(d(6), d(18), "a"), (d(19), d(31), "b")]),  # 26 days: halved
        (  # days on both sides: each range its own part, letters go on
            OwnPart(d(10), d(20)),
            [(d(1), d(9), "a"), (d(21), d(31), "b")],
        ),
        (OwnPart(d(1), d(30)), [(d(31), d(31), "a")]),  # one day left
        (OwnPart(*AUG), [(d(1), d(15), "a"), (d(16), d(31), "b")]),  # as wide: no part
        (OwnPart(d(1, 7), d(31, 7)), [(d(1), d(15), "a"), (d(16), d(31), "b")]),  # another month
    ],
)
def test_5003_parts_leave_out_the_folders_own_days(
    own: OwnPart, parts: list[tuple[date, date, str]]
) -> None:
    state = attrs.evolve(REFUSED_5003, own_part=own)
    assert m.split_halves(state) == tuple((a, b, f"<out>-2024-08{x}") for a, b, x in parts)
    folders = " ".join(f"<out>-2024-08{x}" for *_, x in parts)
    assert f"`gigstack-async journal split 2024-08 {folders}`" in m.split_commands(state)


@pytest.mark.parametrize(
    ("state", "hint"),
    [
        (REFUSED_5002, HINT_OWN),  # the folder holds 15..31: only the other days are asked for
        (attrs.evolve(REFUSED_5002, own_part=None), LIMIT_AUG),
        (attrs.evolve(REFUSED_5002, own_part=OwnPart(*AUG)), LIMIT_AUG),
    ],
)
def test_the_5002_hint_names_only_the_days_the_folder_misses(state: MonthState, hint: str) -> None:
    assert m._5002_hint(state, *AUG) == hint
    refused, commands = transition(
        attrs.evolve(state, stage=Stage.SUBMITTING, sat_code=None, exhausted=(), hint=None),
        m.CreateRefused("SAT 5002", 5002),
    )
    assert commands == ()
    assert (refused.stage, refused.sat_code, refused.exhausted, refused.hint) == (
        Stage.SAT_FAILED,
        5002,
        (AUG,),
        hint,
    )


# ------------------------------------------------------------------ a plan for refused dates


@pytest.mark.parametrize("stage", [Stage.PLANNED, Stage.REFUSED])
def test_a_month_not_sent_planned_again_for_refused_dates_fails_again_and_sends_nothing(
    stage: Stage,
) -> None:
    state = attrs.evolve(
        PLANNED,
        stage=stage,
        start=d(1),
        end=d(14),
        resend_allowed=True,
        unknown=True,
        exhausted=(AUG,),
        own_part=OWN,
        reason="planned",
    )
    new = m.exhausted_again(state, *AUG)
    assert new == attrs.evolve(
        state,
        start=d(1),
        end=d(31),
        stage=Stage.SAT_FAILED,
        sat_code=5002,
        resend_allowed=False,
        unknown=False,
        reason="SAT 5002 refused 2024-08-01..2024-08-31 earlier (its limit of requests for "
        "these dates is exhausted): nothing was sent again",
        hint=HINT_OWN,
    )
    assert transition(new, m.Send(history_ids=()))[1] == ()


@pytest.mark.parametrize(
    "state",
    [
        attrs.evolve(DONE_FIRST_HALF, exhausted=(AUG,)),  # sent: it keeps its request
        attrs.evolve(PLANNED, start=d(1), end=d(14)),  # the plan's dates were never refused
    ],
)
def test_only_a_month_not_sent_is_planned_again_for_refused_dates(state: MonthState) -> None:
    message = (
        f"2024-08 is {state.stage.value} for 2024-08-01..2024-08-14: only a month not sent yet "
        "is planned again for dates SAT refused with 5002"
    )
    with pytest.raises(TransitionError, match=f"^{re.escape(message)}$"):
        m.exhausted_again(state, *AUG)


@pytest.mark.parametrize(
    ("start", "end", "overlap"),
    [
        (d(10), d(20), "2024-08-15..2024-08-20"),
        (d(1), d(15), "2024-08-15"),  # ends on the own part's first day
        (d(31), d(31), "2024-08-31"),  # starts on its last day
        (*AUG, "2024-08-15..2024-08-31"),
    ],
)
def test_a_replan_that_asks_again_for_days_the_folder_holds_sends_nothing(
    start: date, end: date, overlap: str
) -> None:
    assert m.own_part_overlap(REFUSED_5002, start, end) == OWN
    new = m.replanned(REFUSED_5002, start, end)
    assert new == attrs.evolve(
        REFUSED_5002,
        reason=f"the plan's {start}..{end} asks again for {overlap}, which the month's folder "
        "already holds (2 file(s) from its earlier request): nothing was sent (those CFDIs would "
        "be billed twice)",
        hint=WAY_ONE.replace("2024-08-15..2024-08-31", "2024-08-01..2024-08-14").replace(
            "--from 2024-08-15 --to 2024-08-31", "--from 2024-08-01 --to 2024-08-14"
        ),
    )
    assert transition(new, m.Send(history_ids=()))[1] == ()  # still sat-failed: nothing sent


@pytest.mark.parametrize(
    ("state", "start", "end"),
    [
        (REFUSED_5002, *FIRST_HALF),  # the days the folder misses
        (REFUSED_5002, d(1), d(1)),
        (attrs.evolve(REFUSED_5002, own_part=None), *AUG[:1], d(20)),
        (REFUSED_5003, d(1), d(20)),
    ],
)
def test_a_replan_for_days_the_folder_misses_plans_them_and_keeps_the_own_part(
    state: MonthState, start: date, end: date
) -> None:
    assert m.own_part_overlap(state, start, end) is None
    new = m.replanned(state, start, end)
    assert new == transition(state, AllowResend(start, end))[0]
    assert (new.stage, new.start, new.end, new.own_part) == (
        Stage.PLANNED,
        start,
        end,
        state.own_part,
    )
    assert new.reason == f"the plan asks for new dates {start}..{end}: a new request"
    assert transition(new, m.Send(history_ids=()))[1] == (m.SendCreate(KEY),)


def test_a_split_month_has_no_own_part_to_overlap() -> None:
    split = attrs.evolve(REFUSED_5002, stage=Stage.SPLIT)
    assert m.own_part_overlap(split, *AUG) is None


# ------------------------------------------------------------------ complete in two parts here

COMPLETE_REASON = (
    "SAT 5002 (its limit of requests for these dates) for 2024-08-01..2024-08-31: "
    "2024-08-01..2024-08-14 downloaded here by request r3 (3 file(s)), 2024-08-15..2024-08-31 "
    "here by an earlier request (2 file(s))"
)


@pytest.mark.parametrize("stage", [Stage.DONE, Stage.EMPTY])
def test_the_request_and_the_own_part_complete_the_month_in_its_folder(stage: Stage) -> None:
    state = attrs.evolve(
        DONE_FIRST_HALF,
        stage=stage,
        extracted=(*DONE_FIRST_HALF.extracted, ExtractedPackage(OWN_PART, ("old.xml",))),
    )
    new = m.own_part_completes(state, *AUG)
    assert new == attrs.evolve(
        state,
        stage=Stage.SPLIT,
        start=d(1),
        end=d(31),
        extracted=(*DONE_FIRST_HALF.extracted, ExtractedPackage(OWN_PART, OWN_FILES)),
        reason=COMPLETE_REASON.replace("(3 file(s))", "(4 file(s))"),
        hint=None,
        # Both ranges its folder holds, each with its files (for `journal split` again).
        split_own=(OWN, OwnPart(*FIRST_HALF, ("C.xml", "D.xml", "E.xml"))),
    )
    assert new.ok
    assert new.files == ("C.xml", "D.xml", "E.xml", "A.xml", "B.xml")


@pytest.mark.parametrize(
    "state",
    [
        attrs.evolve(DONE_FIRST_HALF, stage=Stage.NEEDS_ATTENTION),
        attrs.evolve(DONE_FIRST_HALF, exhausted=()),  # the plan's dates were not refused
        attrs.evolve(DONE_FIRST_HALF, own_part=None),
        attrs.evolve(DONE_FIRST_HALF, end=d(13)),  # 08-14 is missing
        attrs.evolve(DONE_FIRST_HALF, own_part=OwnPart(d(16), d(31))),  # 08-15 is missing
    ],
)
def test_a_month_missing_a_day_is_not_complete(state: MonthState) -> None:
    assert m.own_part_completes(state, *AUG) is None


def test_a_month_complete_in_its_folder_counts_the_own_part_once() -> None:
    new = m.own_part_completes(DONE_FIRST_HALF, *AUG)
    assert new is not None
    assert new.reason == COMPLETE_REASON
    assert new.extracted == (*DONE_FIRST_HALF.extracted, ExtractedPackage(OWN_PART, OWN_FILES))


# ------------------------------------------------------------------ a resend of refused dates

OTHER_WAY_NO_PART = (
    "2024-08: SAT 5002 says its limit of requests for 2024-08-01..2024-08-31 is exhausted, so a "
    "resend with these dates would be refused. Run `sat download` for this month with other dates "
    "instead, each range into another --out folder (e.g. `gigstack-async sat download --from "
    "2024-08-01 --to 2024-08-16 --rfc-type received --out <out>-2024-08a` and `gigstack-async sat "
    "download --from 2024-08-17 --to 2024-08-31 --rfc-type received --out <out>-2024-08b`, with "
    "the other options you ran with, e.g. --team), then `gigstack-async journal split 2024-08 "
    "<out>-2024-08a <out>-2024-08b`: a plan with different dates is a new request for SAT (it may "
    "be billed)"
)
OTHER_WAY_OWN = (
    "2024-08: SAT 5002 says its limit of requests for 2024-08-01..2024-08-31 is exhausted, so a "
    "resend with these dates would be refused. The month's folder already holds "
    "2024-08-15..2024-08-31 (2 file(s), from its earlier request); "
    + WAY_ONE.replace("2024-08-15..2024-08-31", "2024-08-01..2024-08-14").replace(
        "--from 2024-08-15 --to 2024-08-31", "--from 2024-08-01 --to 2024-08-14"
    )
)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (REFUSED_5002, OTHER_WAY_OWN),
        (attrs.evolve(REFUSED_5002, own_part=None), OTHER_WAY_NO_PART),
    ],
)
def test_a_resend_of_dates_sat_refused_with_5002_names_the_other_dates_way(
    state: MonthState, message: str
) -> None:
    with pytest.raises(TransitionError) as refused:
        transition(state, AllowResend(force=True))
    assert str(refused.value) == message
    assert m._other_dates_way(state, *AUG) == message.split("would be refused. ", 1)[1]


# ------------------------------------------------------------------ journal split

SPLIT_OWN_REASON = (
    "SAT 5002 (its limit of requests for these dates) for 2024-08-01..2024-08-31: "
    "2024-08-15..2024-08-31 downloaded here by an earlier request (2 file(s)), the other days "
    f"in parts elsewhere: {WHERE}"
)


def test_a_5002_month_with_its_own_part_is_split_and_counts_its_files() -> None:
    before = attrs.evolve(
        REFUSED_5002,
        extracted=(ExtractedPackage("p9", ("Z.xml",)), ExtractedPackage(OWN_PART, ("old.xml",))),
    )
    new, commands = transition(before, SplitElsewhere(WHERE))
    assert commands == ()
    assert new == attrs.evolve(
        before,
        stage=Stage.SPLIT,
        extracted=(ExtractedPackage("p9", ("Z.xml",)), ExtractedPackage(OWN_PART, OWN_FILES)),
        reason=SPLIT_OWN_REASON,
        hint=None,
        split_own=(OWN,),
    )
    assert (new.ok, new.files) == (True, ("Z.xml", "A.xml", "B.xml"))


def test_a_5003_month_with_its_own_part_is_split_and_counts_its_files_and_cfdis() -> None:
    # Review 9i #1: the 5003 hint asks only for the days the folder misses, so the split counts
    # the days it holds (before: refused, "the parts do not cover 2024-08-15..2024-08-31").
    before = attrs.evolve(REFUSED_5003, own_part=attrs.evolve(OWN, invoice_count=2))
    new, commands = transition(before, SplitElsewhere(WHERE, invoice_count=3))
    assert commands == ()
    assert new == attrs.evolve(
        before,
        stage=Stage.SPLIT,
        extracted=(ExtractedPackage(OWN_PART, OWN_FILES),),
        invoice_count=5,
        reason="SAT 5003 (too many CFDIs for one request) for 2024-08-01..2024-08-31: "
        "2024-08-15..2024-08-31 downloaded here by an earlier request (2 file(s)), the other "
        f"days in parts elsewhere: {WHERE}",
        hint=None,
        split_own=(attrs.evolve(OWN, invoice_count=2),),
    )
    # The same parts named again: the same record (its own part still named in the reason).
    assert transition(new, SplitElsewhere(WHERE, invoice_count=3)) == (new, ())
    # Unknown is never zero: a part (or the own part) whose count is unknown leaves it unknown.
    assert transition(before, SplitElsewhere(WHERE))[0].invoice_count is None
    assert transition(REFUSED_5003, SplitElsewhere(WHERE, invoice_count=3))[0].invoice_count == 3
    unknown_own = attrs.evolve(REFUSED_5003, own_part=OWN)
    assert transition(unknown_own, SplitElsewhere(WHERE, invoice_count=3))[0].invoice_count is None


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (
            attrs.evolve(REFUSED_5002, own_part=None),
            "SAT 5002 (its limit of requests for these dates) for 2024-08-01..2024-08-31: "
            f"downloaded in parts elsewhere; its CFDIs are in {WHERE}",
        ),
        (  # a part as wide as the month is no part
            attrs.evolve(REFUSED_5002, own_part=OwnPart(*AUG, OWN_FILES)),
            "SAT 5002 (its limit of requests for these dates) for 2024-08-01..2024-08-31: "
            f"downloaded in parts elsewhere; its CFDIs are in {WHERE}",
        ),
        (  # refused here, even if the history shows it refused elsewhere too
            REFUSED_5003,
            "SAT 5003 (too many CFDIs for one request) for 2024-08-01..2024-08-31: downloaded "
            f"in parts elsewhere; its CFDIs are in {WHERE}",
        ),
    ],
)
def test_a_refused_month_is_split_and_says_why(state: MonthState, reason: str) -> None:
    for obs in (SplitElsewhere(WHERE), SplitElsewhere(WHERE, refused_elsewhere="req-x")):
        new, commands = transition(state, obs)
        assert commands == ()
        assert new == attrs.evolve(state, stage=Stage.SPLIT, reason=reason, hint=None)
        assert new.ok


HELD_REASON = (
    "SAT 5003 (too many CFDIs for one request) for 2024-08-01..2024-08-31 (req-x, which this "
    f"journal did not send): downloaded in parts elsewhere; its CFDIs are in {WHERE}"
)


def test_a_month_held_for_another_folders_5003_is_split_and_names_that_request() -> None:
    held = attrs.evolve(PLANNED, reason="held", hint="split it")
    new, commands = transition(held, SplitElsewhere(WHERE, refused_elsewhere="req-x"))
    assert commands == ()
    assert new == attrs.evolve(
        held, stage=Stage.SPLIT, reason=HELD_REASON, hint=None, split_for="req-x"
    )
    # The same parts named again (the CLI reads no history for a split month): the same
    # record. Was "2024-08-01..2024-08-31 downloaded partly here, partly elsewhere".
    assert transition(new, SplitElsewhere(WHERE)) == (new, ())
    again, _ = transition(new, SplitElsewhere("/c", refused_elsewhere="req-y"))
    assert again.reason == HELD_REASON.replace("req-x", "req-y").replace(WHERE, "/c")


NOT_SPLIT_TAIL = (
    ": only a month SAT refused with 5003 (too many CFDIs for one request) or 5002 (its limit "
    "of requests for these dates), or whose 2 identical requests SAT accepts are spent, is "
    "downloaded in parts elsewhere"
)
HELD_TAIL = (
    ", or a month not sent yet whose identical request (another folder's) the history shows "
    "refused with 5003; the history shows none for 2024-08-01..2024-08-31"
)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (PLANNED, "2024-08 is planned" + NOT_SPLIT_TAIL + HELD_TAIL),
        (  # not sent, but not held (a create may be out): no hold to lift
            attrs.evolve(PLANNED, resend_allowed=False),
            "2024-08 is planned" + NOT_SPLIT_TAIL,
        ),
        (attrs.evolve(PLANNED, stage=Stage.REFUSED), "2024-08 is refused" + NOT_SPLIT_TAIL),
        (
            attrs.evolve(REFUSED_5002, sat_code=5011),
            "2024-08 is sat-failed (SAT 5011)" + NOT_SPLIT_TAIL,
        ),
        (
            attrs.evolve(REFUSED_5002, stage=Stage.DONE),
            "2024-08 is done (SAT 5002)" + NOT_SPLIT_TAIL,
        ),
    ],
)
def test_only_a_refused_or_held_month_is_split(state: MonthState, message: str) -> None:
    with pytest.raises(TransitionError) as refused:
        transition(state, SplitElsewhere(WHERE))
    assert str(refused.value) == message
    if state.stage is not Stage.PLANNED or state.resend_allowed:
        return
    # Not held (a create may be out): another folder's refusal does not make it split.
    with pytest.raises(TransitionError, match=f"^{re.escape(message)}$"):
        transition(state, SplitElsewhere(WHERE, refused_elsewhere="req-x"))


def test_a_split_month_named_again_keeps_its_days_and_says_where() -> None:
    split, _ = transition(attrs.evolve(REFUSED_5002, own_part=None), SplitElsewhere(WHERE))
    again, commands = transition(split, SplitElsewhere("/c/2024-08"))
    assert commands == ()
    assert again == attrs.evolve(
        split,
        reason="SAT 5002 (its limit of requests for these dates) for 2024-08-01..2024-08-31: "
        "downloaded in parts elsewhere; its CFDIs are in /c/2024-08",
    )


# The month re-planned for 08-01..14 into its folder and done, the plan's 08-01..31 refused
# with 5002: the parts elsewhere and its request (and its own part) complete it.
WIDER_REASON = (
    "requested here for 2024-08-01..2024-08-14 and 2024-08-15..2024-08-31 by an earlier request "
    "(2 file(s)) (SAT 5002 refused 2024-08-01..2024-08-31); the other days downloaded in parts "
    f"elsewhere: {WHERE}"
)


@pytest.mark.parametrize(
    ("state", "extracted", "reason"),
    [
        (
            DONE_FIRST_HALF,
            (*DONE_FIRST_HALF.extracted, ExtractedPackage(OWN_PART, OWN_FILES)),
            WIDER_REASON,
        ),
        (
            attrs.evolve(
                DONE_FIRST_HALF,
                extracted=(ExtractedPackage(OWN_PART, ("old.xml",)), *DONE_FIRST_HALF.extracted),
            ),
            (*DONE_FIRST_HALF.extracted, ExtractedPackage(OWN_PART, OWN_FILES)),
            WIDER_REASON,
        ),
        (
            attrs.evolve(DONE_FIRST_HALF, stage=Stage.EMPTY, own_part=None),
            DONE_FIRST_HALF.extracted,
            "requested here for 2024-08-01..2024-08-14 (SAT 5002 refused 2024-08-01..2024-08-31); "
            f"the other days downloaded in parts elsewhere: {WHERE}",
        ),
    ],
)
def test_a_month_done_for_fewer_days_than_refused_dates_is_completed_by_parts(
    state: MonthState, extracted: tuple[ExtractedPackage, ...], reason: str
) -> None:
    obs = SplitElsewhere(WHERE, *AUG)
    new, commands = transition(state, obs)
    assert commands == ()
    asked = OwnPart(*FIRST_HALF, ("C.xml", "D.xml", "E.xml"))
    assert new == attrs.evolve(
        state,
        stage=Stage.SPLIT,
        start=d(1),
        end=d(31),
        extracted=extracted,
        reason=reason,
        hint=None,
        split_own=(asked,) if state.own_part is None else (OWN, asked),
    )
    assert new.ok


@pytest.mark.parametrize(
    "state",
    [
        attrs.evolve(DONE_FIRST_HALF, start=d(2), end=d(31)),
        attrs.evolve(DONE_FIRST_HALF, start=d(1), end=d(30)),
        attrs.evolve(DONE_FIRST_HALF, start=d(1), end=d(1)),
        attrs.evolve(DONE_FIRST_HALF, start=d(31), end=d(31)),
    ],
)
def test_a_done_month_at_the_edges_of_the_refused_dates_is_completed_by_parts(
    state: MonthState,
) -> None:
    new, commands = transition(state, SplitElsewhere(WHERE, *AUG))
    assert commands == ()
    assert (new.stage, new.start, new.end) == (Stage.SPLIT, *AUG)
    assert new.reason is not None
    assert new.reason.startswith(f"requested here for {state.start}..{state.end}")


@pytest.mark.parametrize(
    ("state", "start", "end", "shown"),
    [
        (attrs.evolve(DONE_FIRST_HALF, exhausted=()), *AUG, "done for 2024-08-01..2024-08-14"),
        (
            attrs.evolve(DONE_FIRST_HALF, stage=Stage.NEEDS_ATTENTION),
            *AUG,
            "needs-attention for 2024-08-01..2024-08-14",
        ),
        (  # its own dates start before the refused ones
            attrs.evolve(DONE_FIRST_HALF, start=d(31, 7), exhausted=((d(1), d(14)),)),
            d(1),
            d(14),
            "done for 2024-07-31..2024-08-14",
        ),
        (  # its own dates end after the refused ones
            attrs.evolve(DONE_FIRST_HALF, exhausted=((d(1), d(13)),)),
            d(1),
            d(13),
            "done for 2024-08-01..2024-08-14",
        ),
        (  # only the start given: not wider dates, and a done month is not split
            DONE_FIRST_HALF,
            d(1),
            None,
            None,
        ),
    ],
)
def test_only_a_done_month_within_refused_dates_is_completed_by_parts(
    state: MonthState, start: date, end: date | None, shown: str | None
) -> None:
    if shown is None:
        with pytest.raises(TransitionError, match=r"^2024-08 is done: only a month SAT refused"):
            transition(state, SplitElsewhere(WHERE, start, end))
        with pytest.raises(TransitionError, match=r"^2024-08 is done: only a month SAT refused"):
            transition(state, SplitElsewhere(WHERE, None, d(31)))
        return
    message = (
        f"2024-08 is {shown}: only a month done for fewer days than dates SAT refused with 5002 "
        f"({start}..{end}) is completed by parts downloaded elsewhere"
    )
    with pytest.raises(TransitionError) as refused:
        transition(state, SplitElsewhere(WHERE, start, end))
    assert str(refused.value) == message


def test_the_months_own_dates_given_again_are_a_plain_split() -> None:
    # `journal split` of a 5002 month passes its own dates: not "wider", a plain split.
    new, _ = transition(attrs.evolve(REFUSED_5002, own_part=None), SplitElsewhere(WHERE, *AUG))
    assert (new.stage, new.start, new.end) == (Stage.SPLIT, *AUG)
    assert new.reason == (
        "SAT 5002 (its limit of requests for these dates) for 2024-08-01..2024-08-31: "
        f"downloaded in parts elsewhere; its CFDIs are in {WHERE}"
    )


@pytest.mark.parametrize("own", [None, OWN])
def test_a_done_month_split_again_keeps_its_own_days_and_says_where(own: OwnPart | None) -> None:
    # Was "2024-08-01..2024-08-31 downloaded partly here, partly elsewhere": the days it holds
    # were no longer named (and `journal split` again was refused: the parts miss them).
    split, _ = transition(attrs.evolve(DONE_FIRST_HALF, own_part=own), SplitElsewhere(WHERE, *AUG))
    same, commands = transition(split, SplitElsewhere(WHERE, *AUG))
    assert (same, commands) == (split, ())  # the same parts again: the same record
    again, commands = transition(split, SplitElsewhere("/c/2024-08", *AUG))
    assert commands == ()
    assert again == attrs.evolve(split, reason=split.reason.replace(WHERE, "/c/2024-08"))


# ------------------------------------------------------------------ an own part at the front
# The month was done for 08-01..08-14 only (a clipped "today"), resent for the whole month and
# refused with 5002: its own part is the first half, the missing days the second.

FRONT = OwnPart(*FIRST_HALF, OWN_FILES)
FRONT_HOLDS = (
    "The month's folder already holds 2024-08-01..2024-08-14 (2 file(s), from its earlier request)"
)


def test_an_own_part_at_the_front_leaves_the_second_half_missing() -> None:
    state = attrs.evolve(REFUSED_5002, own_part=FRONT)
    assert m._5002_hint(state, *AUG) == (
        "SAT's limit of requests for 2024-08-01..2024-08-31 is exhausted: these dates are never "
        f"sent again. {FRONT_HOLDS}, which counts as a part; {WAY_ONE}"
    )
    assert m._other_dates_way(state, *AUG) == f"{FRONT_HOLDS}; {WAY_ONE}"
    replanned = m.replanned(state, d(10), d(20))
    assert (replanned.stage, replanned.start, replanned.end) == (Stage.SAT_FAILED, *AUG)
    assert replanned.reason == (
        "the plan's 2024-08-10..2024-08-20 asks again for 2024-08-10..2024-08-14, which the "
        "month's folder already holds (2 file(s) from its earlier request): nothing was sent "
        "(those CFDIs would be billed twice)"
    )
    assert replanned.hint == WAY_ONE


def test_a_replan_for_other_dates_sends_those_dates() -> None:
    new = m.replanned(REFUSED_5003, d(5), d(20))
    assert (new.stage, new.start, new.end) == (Stage.PLANNED, d(5), d(20))
    assert new.reason == "the plan asks for new dates 2024-08-05..2024-08-20: a new request"


def test_a_month_planned_for_later_days_takes_the_refused_dates_it_fails_for() -> None:
    state = attrs.evolve(PLANNED, start=d(2), end=d(14), exhausted=(AUG,))
    new = m.exhausted_again(state, *AUG)
    assert (new.stage, new.start, new.end, new.sat_code) == (Stage.SAT_FAILED, *AUG, 5002)
    assert new.hint == LIMIT_AUG


def test_a_month_done_for_later_days_completed_by_its_front_part_takes_the_whole_dates() -> None:
    state = attrs.evolve(DONE_FIRST_HALF, start=d(15), end=d(31), own_part=FRONT, hint="stale")
    new = m.own_part_completes(state, *AUG)
    assert new is not None
    assert (new.stage, new.start, new.end, new.hint) == (Stage.SPLIT, *AUG, None)
    assert new.reason == (
        "SAT 5002 (its limit of requests for these dates) for 2024-08-01..2024-08-31: "
        "2024-08-15..2024-08-31 downloaded here by request r3 (3 file(s)), "
        "2024-08-01..2024-08-14 here by an earlier request (2 file(s))"
    )


def test_a_done_month_completed_by_parts_shows_no_way_forward() -> None:
    # Its record may hold a hint from before it was done (`journal show` prints it): split, the
    # month needs nothing more.
    state = attrs.evolve(DONE_FIRST_HALF, hint="stale: run it again")
    new, _ = transition(state, SplitElsewhere(WHERE, *AUG))
    assert (new.stage, new.hint) == (Stage.SPLIT, None)


# ------------------------------------------------------------------ issue #13: plan notes, exact

COUNTED = attrs.evolve(
    DONE_FIRST_HALF, invoice_count=3, own_part=attrs.evolve(OWN, invoice_count=2)
)
FILES_LOST = (
    "MISSING FILES: 2024-08-01..2024-08-31 would be complete with 2024-08-01..2024-08-14 "
    "(request r3) and 2024-08-15..2024-08-31 (an earlier request), both in the month's folder, "
    "but it no longer holds 2 of their 5 file(s), e.g. A.xml: not recorded complete. Put them "
    "back and run the same command again; if they are gone, download the days they were for "
    "into another --out folder, then `gigstack-async journal split 2024-08 <that folder> "
    "--force` records the month with them"
)


def test_a_month_complete_but_for_lost_files_is_not_recorded_and_names_them() -> None:
    decided = m.plan_decision(COUNTED, *AUG, lost=("A.xml", "D.xml"))
    assert decided.state is None
    assert decided.note == FILES_LOST
    assert decided.create is m.PlanCreate.NO


def test_a_month_complete_in_its_folder_counts_both_requests_cfdis() -> None:
    complete = m.own_part_completes(COUNTED, *AUG)
    assert complete is not None
    assert complete.invoice_count == 5
    assert m.plan_decision(COUNTED, *AUG).state == complete
    unknown = attrs.evolve(COUNTED, own_part=OWN)  # the own part's count is unknown
    assert m.own_part_completes(unknown, *AUG).invoice_count is None  # type: ignore[union-attr]


def own_note(dates: str) -> str:
    return (
        f"the plan's {dates} are all in the month's folder: requested earlier for "
        "2024-08-01..2024-08-14, and 2024-08-15..2024-08-31 by an earlier request (2 file(s)); "
        "nothing was sent"
    )


def kept_note(dates: str) -> str:
    return (
        f"requested earlier for 2024-08-01..2024-08-14; kept (the plan now says {dates}: "
        "`gigstack-async journal resend 2024-08 --force` asks for the plan's dates, possibly "
        "billed)"
    )


@pytest.mark.parametrize(
    ("state", "dates", "note"),
    [
        (attrs.evolve(COUNTED, exhausted=()), AUG, own_note("2024-08-01..2024-08-31")),
        (attrs.evolve(COUNTED, exhausted=()), (d(1), d(20)), own_note("2024-08-01..2024-08-20")),
        (attrs.evolve(COUNTED, exhausted=()), (d(1), d(10)), kept_note("2024-08-01..2024-08-10")),
        (attrs.evolve(COUNTED, exhausted=()), (d(5), d(14)), kept_note("2024-08-05..2024-08-14")),
        (
            attrs.evolve(COUNTED, exhausted=(), own_part=None),
            (d(5), d(10)),
            kept_note("2024-08-05..2024-08-10"),
        ),
        (
            # Only a done or empty month's own part holds days: a month still waiting says
            # MISSING DAYS.
            attrs.evolve(COUNTED, exhausted=(), stage=Stage.SUBMITTED),
            AUG,
            "MISSING DAYS: requested earlier for 2024-08-01..2024-08-14 only; the plan says "
            "2024-08-01..2024-08-31, and the other days' CFDIs were not requested. once it has "
            "finished, `gigstack-async journal resend 2024-08 --force` asks for the plan's "
            "dates (a new request, possibly billed)",
        ),
    ],
)
def test_a_plan_for_other_dates_of_a_sent_month_says_what_its_folder_holds(
    state: MonthState, dates: tuple[date, date], note: str
) -> None:
    decided = m.plan_decision(state, *dates)
    assert (decided.state, decided.note, decided.create) == (None, note, m.PlanCreate.NO)


REFUSED_AGAIN = attrs.evolve(REFUSED_5002, end=d(14), reason="x " + m._BILLED_TWICE)


def test_a_sat_failed_month_planned_again_for_its_dates_gets_its_own_reason_back() -> None:
    again = m.plan_decision(REFUSED_AGAIN, d(1), d(14)).state
    assert again == attrs.evolve(
        REFUSED_AGAIN,
        reason="SAT 5002: the limit of requests for these dates is exhausted",
        hint="SAT's limit of requests for 2024-08-01..2024-08-14 is exhausted: these dates are "
        "never sent again. To download the month anyway, run it as shorter ranges (other dates "
        "are new criteria for SAT: new requests, possibly billed), each into its own --out "
        "folder, e.g. `gigstack-async sat download --from 2024-08-01 --to 2024-08-07 --rfc-type "
        "received --out <out>-2024-08a` and `gigstack-async sat download --from 2024-08-08 --to "
        "2024-08-14 --rfc-type received --out <out>-2024-08b` (with the other options you ran "
        "with, e.g. --team); once both are done, `gigstack-async journal split 2024-08 "
        "<out>-2024-08a <out>-2024-08b` records where its CFDIs are (runs of this folder then "
        "end ok). Other dates run into this folder download only those days: the month then "
        "says MISSING DAYS",
    )
    split = attrs.evolve(REFUSED_AGAIN, sat_code=5003)
    assert m.plan_decision(split, d(1), d(14)).state == attrs.evolve(
        split,
        reason="SAT 5003: too many CFDIs for one request",
        hint="split the period: run 2024-08-01..2024-08-14 as shorter ranges, each into its own "
        "--out folder (a journal holds one request per month), e.g. in two halves: "
        "`gigstack-async sat download --from 2024-08-01 --to 2024-08-07 --rfc-type received "
        "--out <out>-2024-08a` and `gigstack-async sat download --from 2024-08-08 --to "
        "2024-08-14 --rfc-type received --out <out>-2024-08b` (with the other options you ran "
        "with, e.g. --team); once each is done, `gigstack-async journal split 2024-08 "
        "<out>-2024-08a <out>-2024-08b` checks that they cover the month and records where its "
        "CFDIs are (runs of this folder then end ok)",
    )


@pytest.mark.parametrize(
    ("state", "parts", "count"),
    [
        (COUNTED, 4, 9),  # the request's 3, its own part's 2 and the parts' 4
        (attrs.evolve(COUNTED, own_part=None), 4, 7),
        (COUNTED, None, None),  # the parts' count unknown: the month's too
        (attrs.evolve(COUNTED, invoice_count=None), 4, None),
        (attrs.evolve(COUNTED, own_part=OWN), 4, None),  # its own part's count unknown
    ],
)
def test_a_month_completed_by_parts_counts_every_cfdi_once(
    state: MonthState, parts: int | None, count: int | None
) -> None:
    new, _ = transition(state, SplitElsewhere(WHERE, *AUG, invoice_count=parts))
    assert new.stage is Stage.SPLIT
    assert new.invoice_count == count


@pytest.mark.parametrize("count", [4, None])
def test_a_held_month_split_elsewhere_takes_the_parts_count(count: int | None) -> None:
    held = attrs.evolve(PLANNED, invoice_count=11)
    new, _ = transition(held, SplitElsewhere(WHERE, refused_elsewhere="req-x", invoice_count=count))
    assert (new.stage, new.invoice_count) == (Stage.SPLIT, count)


@pytest.mark.parametrize(
    ("dates", "own", "parts"),
    [
        # 31 days refused: a missing range of up to 16 days (31 - 31 // 2) is asked as it is.
        (AUG, OwnPart(d(17), d(31)), [(d(1), d(16), "a")]),
        (AUG, OwnPart(d(18), d(31)), [(d(1), d(8), "a"), (d(9), d(17), "b")]),
        # 30 days refused: up to 15 days.
        ((d(1), d(30)), OwnPart(d(16), d(30)), [(d(1), d(15), "a")]),
        ((d(1), d(30)), OwnPart(d(17), d(30)), [(d(1), d(8), "a"), (d(9), d(16), "b")]),
    ],
)
def test_5003_parts_are_no_longer_than_half_the_refused_dates(
    dates: tuple[date, date], own: OwnPart, parts: list[tuple[date, date, str]]
) -> None:
    state = attrs.evolve(REFUSED_5003, start=dates[0], end=dates[1], own_part=own)
    assert m.split_halves(state) == tuple((a, b, f"<out>-2024-08{x}") for a, b, x in parts)


HELD_BY_OWN = attrs.evolve(
    REFUSED_5002, reason="x " + m._BILLED_TWICE, own_part=attrs.evolve(OWN, invoice_count=2)
)


def own_holds_reason(dates: str) -> str:
    return (
        f"the plan's {dates} are all in the month's folder: 2024-08-15..2024-08-31 downloaded "
        "there by an earlier request (2 file(s)); nothing was sent (SAT 5002 refused this "
        "journal's later request for 2024-08-01..2024-08-31: a run of those dates says what "
        "they need)"
    )


@pytest.mark.parametrize(
    ("dates", "count"),
    [(LATE, 2), ((d(16), d(20)), None)],  # its count only for exactly the own part's dates
)
def test_a_plan_for_days_the_own_part_holds_is_shown_done_and_sends_nothing(
    dates: tuple[date, date], count: int | None
) -> None:
    text = f"{dates[0]}..{dates[1]}"
    shown = attrs.evolve(
        HELD_BY_OWN,
        stage=Stage.DONE,
        start=dates[0],
        end=dates[1],
        request_id=None,
        sat_code=None,
        invoice_count=count,
        extracted=(ExtractedPackage(OWN_PART, OWN_FILES),),
        reason=own_holds_reason(text),
        hint=None,
    )
    assert m.own_part_holds(HELD_BY_OWN, *dates) == shown
    decided = m.plan_decision(HELD_BY_OWN, *dates)
    assert (decided.shown, decided.note, decided.create) == (shown, shown.reason, m.PlanCreate.NO)
    assert decided.state is not None  # its own SAT reason back
    assert decided.state.reason == "SAT 5002: the limit of requests for these dates is exhausted"


def test_a_plan_for_days_of_an_own_part_that_lost_files_names_them() -> None:
    decided = m.plan_decision(HELD_BY_OWN, *LATE, lost=("B.xml",))
    assert decided.note == (
        "MISSING FILES: the plan's 2024-08-15..2024-08-31 are all days an earlier request "
        "downloaded into the month's folder, but it no longer holds 1 of their 2 file(s), e.g. "
        "B.xml: not reported complete. Put them back and run the same command again"
    )
    assert (decided.shown, decided.create) == (None, m.PlanCreate.NO)
    # The month's own SAT reason back (not the refused plan's).
    assert decided.state is not None
    assert decided.state.reason == "SAT 5002: the limit of requests for these dates is exhausted"
