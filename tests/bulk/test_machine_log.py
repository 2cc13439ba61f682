"""A month rebuilt from its log (`journal repair`): what `refused_from_log` restores of a SAT
5002/5003 refusal, the dates and count the log keeps (`Asked`), a request made elsewhere
(`made_elsewhere`), and `journal keep` refused while the request's dates are unchecked. Pure
calls, no store, no server: the inputs are the logged rows `engine` hands the machine."""

from __future__ import annotations

from datetime import date

import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import (
    Asked,
    KeepFiles,
    KnownRequest,
    Logged,
    MonthState,
    OwnPart,
    Stage,
)

D = date
MONTH = (D(2024, 3, 1), D(2024, 3, 31))
FULL = Asked(D(2024, 3, 1), D(2024, 3, 31), 12)
FIRST_HALF = Asked(D(2024, 3, 1), D(2024, 3, 15), 7)


def held(**changes: object) -> MonthState:
    """A month as `unrecorded` rebuilds it: needs attention, nothing sent by itself."""
    state = MonthState("2024-03", *MONTH, "issued", "xml")
    return m._evolve(state, stage=Stage.NEEDS_ATTENTION, reason="rebuilt", hint="look", **changes)


def refused(reason: str, asked: Asked | None = FULL, rid: str = "r2") -> Logged:
    return Logged(Stage.SAT_FAILED, reason, rid, asked)


REFUSED_NOTE = " (its record was rebuilt from its log; nothing is sent for it)"
HINT_5002_OWN = (
    "SAT's limit of requests for 2024-03-01..2024-03-31 is exhausted: these dates are never "
    "sent again. The month's folder already holds 2024-03-01..2024-03-15 (2 file(s), from its "
    "earlier request), which counts as a part; missing here: 2024-03-16..2024-03-31. Download "
    "that range into its own --out folder (`gigstack-async sat download --from 2024-03-16 --to "
    "2024-03-31 --rfc-type issued --type xml --out <out>-2024-03a`, with the other options you "
    "ran with, e.g. --team; other dates for SAT: a new request, possibly billed); once done, "
    "`gigstack-async journal split 2024-03 <out>-2024-03a` records the month as complete (runs "
    "of this folder then end ok)"
)
HINT_SPLIT = (
    "split the period: run 2024-03-01..2024-03-31 as shorter ranges, each into its own --out "
    "folder (a journal holds one request per month), e.g. in two halves: `gigstack-async sat "
    "download --from 2024-03-01 --to 2024-03-15 --rfc-type issued --type xml --out "
    "<out>-2024-03a` and `gigstack-async sat download --from 2024-03-16 --to 2024-03-31 "
    "--rfc-type issued --type xml --out <out>-2024-03b` (with the other options you ran with, "
    "e.g. --team); once each is done, `gigstack-async journal split 2024-03 <out>-2024-03a "
    "<out>-2024-03b` checks that they cover the month and records where its CFDIs are (runs of "
    "this folder then end ok)"
)
NO_DATES_REASON = (
    "its record was rebuilt from its log: SAT refused its request with {code} (the log kept no "
    "dates, so which days its folder holds cannot be proven)"
)
NO_DATES_HINT = (
    "nothing is sent for 2024-03: never adopt, resend or keep it (its days would be billed "
    "again). Download the days its folder does not hold into other --out folders, then "
    "`gigstack-async journal split 2024-03 <part folders>`."
)


def test_5002_after_a_shorter_request_keeps_its_days_as_the_own_part() -> None:
    lines = [Logged(Stage.DONE, "done", "r1", FIRST_HALF), refused("SAT 5002: limit")]
    # The held count is the earlier request's: the refused one has none.
    state = m.refused_from_log(held(invoice_count=7), lines, ("a.xml", "b.xml"))
    assert state is not None
    assert state.stage is Stage.SAT_FAILED
    assert state.sat_code == 5002
    assert state.request_id == "r2"
    assert (state.start, state.end) == MONTH
    assert state.invoice_count is None
    assert state.exhausted == (MONTH,)
    assert state.own_part == OwnPart(D(2024, 3, 1), D(2024, 3, 15), ("a.xml", "b.xml"), 7)
    assert state.resume_to is None
    assert state.reason == "SAT 5002: the limit of requests for these dates is exhausted" + (
        REFUSED_NOTE
    )
    assert state.hint == HINT_5002_OWN


def test_5003_restores_the_refusal_with_the_split_hint() -> None:
    state = m.refused_from_log(
        held(resume_to=Stage.COMPLETED), [refused("SAT 5003 too many", rid="r7")], ()
    )
    assert state is not None
    assert (state.stage, state.sat_code, state.request_id) == (Stage.SAT_FAILED, 5003, "r7")
    assert state.exhausted == ()
    assert state.own_part is None
    assert state.resume_to is None
    assert state.reason == "SAT 5003: too many CFDIs for one request" + REFUSED_NOTE
    assert state.hint == HINT_SPLIT


@pytest.mark.parametrize(
    "asked", [None, Asked(None, D(2024, 3, 31)), Asked(D(2024, 3, 1), None)], ids=str
)
def test_a_refusal_logged_without_dates_stops_the_month_with_a_split_hint(
    asked: Asked | None,
) -> None:
    base = held(resume_to=Stage.COMPLETED, request_id="r0")
    lines = [
        Logged(Stage.SUBMITTED, "sent", "r1"),
        refused("SAT 5002 limit", asked),
        Logged(Stage.SPLIT, "parts A and B"),
    ]
    state = m.refused_from_log(base, lines, ("a.xml",))
    assert state is not None
    assert (state.stage, state.sat_code) == (Stage.SAT_FAILED, 5002)
    assert (state.start, state.end, state.request_id) == (*MONTH, "r0")  # nothing proven
    assert state.exhausted == ()  # no dates: no range is known exhausted
    assert state.own_part is None
    assert state.resume_to is None
    assert state.reason == NO_DATES_REASON.format(code=5002)
    assert state.hint == NO_DATES_HINT + (
        " It had been split (the log says: parts A and B); `gigstack-async journal split "
        "2024-03 <part folders>` records that again, with the part folders named there."
    )


def test_the_latest_refusal_wins_and_every_5002_range_is_exhausted() -> None:
    early = Asked(D(2024, 3, 1), D(2024, 3, 10))
    old = ((D(2024, 2, 1), D(2024, 2, 29)),)
    lines = [
        refused("SAT 5002 limit", early, "r1"),
        refused("SAT 5003 too many", FULL, "r3"),
        refused("SAT 5002 again", early, "r4"),  # the same range once
        Logged(Stage.NEEDS_ATTENTION, "SAT 5002 in a needs-attention line", "rX", FULL),
        refused("SAT 5003 too many", FULL, "r5"),
        Logged(Stage.NEEDS_ATTENTION, "waiting"),
    ]
    state = m.refused_from_log(held(exhausted=old), lines, ())
    assert state is not None
    assert (state.sat_code, state.request_id) == (5003, "r5")
    assert state.exhausted == (*old, (early.start, early.end))
    assert state.hint == HINT_SPLIT


def test_only_a_refused_line_is_a_refusal() -> None:
    # A split line that quotes SAT 5002 is not the refusal: the 5003 before it is.
    lines = [refused("SAT 5003 too many"), Logged(Stage.SPLIT, "after SAT 5002", "r9", FULL)]
    state = m.refused_from_log(held(), lines, ())
    assert state is not None
    assert (state.sat_code, state.request_id, state.exhausted) == (5003, "r2", ())
    assert state.reason == "SAT 5003: too many CFDIs for one request" + REFUSED_NOTE


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [Logged(Stage.NEEDS_ATTENTION, "SAT 5002")],
        [refused("SAT 5004: no CFDIs")],
        [refused("SAT 50021 is not a refusal")],
        [Logged(Stage.SAT_FAILED, None, "r1", FULL)],
        [Logged(Stage.SPLIT, "split by the user")],
        [Logged(Stage.DONE, "SAT 5002 quoted", "r1", FULL)],
    ],
)
def test_a_log_that_does_not_end_refused_restores_nothing(lines: list[Logged]) -> None:
    assert m.refused_from_log(held(), lines, ()) is None


def test_a_plan_after_the_refusal_that_sent_nothing_leaves_the_refusal_standing() -> None:
    # Review 9k #1: the whole log counts, not its last line: nothing was sent after the
    # refusal, so the month is still refused (nothing is sent by itself).
    lines = [refused("SAT 5002 limit"), Logged(Stage.PLANNED, "resend allowed")]
    state = m.refused_from_log(held(), lines, ())
    assert state is not None
    assert (state.stage, state.sat_code) == (Stage.SAT_FAILED, 5002)


DONE_FIRST = (D(2024, 3, 1), D(2024, 3, 15))
FULL_LATE = Asked(D(2024, 3, 16), D(2024, 3, 31))  # a later request's dates, not done


@pytest.mark.parametrize(
    ("before", "own"),
    [
        ([Logged(Stage.DONE, "d", "r1", FIRST_HALF)], DONE_FIRST),
        ([Logged(Stage.EMPTY, "e", "r1", Asked(D(2024, 3, 16), D(2024, 3, 31), 0))], (16, 31)),
        ([Logged(Stage.DONE, "d", "r1", Asked(D(2024, 3, 5), D(2024, 3, 5)))], (5, 5)),
        ([Logged(Stage.DONE, "d", "r1", FULL)], None),  # the same dates: no part
        ([Logged(Stage.DONE, "d", "r1", Asked(D(2024, 2, 20), D(2024, 3, 5)))], None),
        ([Logged(Stage.DONE, "d", "r1", Asked(D(2024, 3, 20), D(2024, 4, 5)))], None),
        ([Logged(Stage.DONE, "d", "r1", Asked(None, D(2024, 3, 15)))], None),
        ([Logged(Stage.DONE, "d", "r1", Asked(D(2024, 3, 1), None))], None),
        # Review 9k #1: every done line inside the refused dates counts, not only the newest
        # (a request of other dates after it leaves its days in the folder).
        (
            [
                Logged(Stage.DONE, "d", "r1", FIRST_HALF),
                Logged(Stage.DONE, "d", "r2", Asked(D(2024, 2, 1), D(2024, 2, 29))),
            ],
            DONE_FIRST,
        ),
        # A done line without dates is skipped, the older one counts.
        ([Logged(Stage.DONE, "d", "r1", FIRST_HALF), Logged(Stage.DONE, "d")], DONE_FIRST),
        (
            [
                Logged(Stage.DONE, "d", "r1", FIRST_HALF),
                Logged(Stage.SUBMITTED, "s", "r2", FULL_LATE),
            ],
            DONE_FIRST,
        ),
    ],
)
def test_the_own_part_is_the_last_shorter_request_inside_the_refused_dates(
    before: list[Logged], own: tuple[object, object] | None
) -> None:
    state = m.refused_from_log(held(), [*before, refused("SAT 5002 limit")], ("x.xml",))
    assert state is not None
    if own is None:
        assert state.own_part is None
        return
    a, b = own
    start = a if isinstance(a, date) else D(2024, 3, int(str(a)))
    end = b if isinstance(b, date) else D(2024, 3, int(str(b)))
    assert state.own_part is not None
    assert (state.own_part.start, state.own_part.end) == (start, end)
    assert state.own_part.files == ("x.xml",)


def test_asked_keeps_the_months_dates_and_count() -> None:
    state = m._evolve(held(), start=D(2024, 3, 2), end=D(2024, 3, 30), invoice_count=41)
    assert Asked.of(state) == Asked(D(2024, 3, 2), D(2024, 3, 30), 41)


@pytest.mark.parametrize(
    ("creates", "known", "journal", "expected"),
    [
        (0, (), ["other"], True),
        (0, (), iter(["other"]), True),
        # Review 9w #7: after a create (its answer lost) or another id, the id the month never
        # had is not proven its own either.
        (1, (), [], True),
        (0, ("r0",), [], True),
        (1, ("r9",), [], False),
        (0, ("r9",), ["other"], False),
        (0, (), ["other", "r9"], False),
    ],
)
def test_made_elsewhere_only_for_an_id_the_month_never_had_and_no_month_knows(
    creates: int, known: tuple[str, ...], journal: object, expected: bool
) -> None:
    state = held(creates=creates, known_ids=known)
    assert m.made_elsewhere(state, journal, "r9") is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rid", "unproven", "records", "expected"),
    [
        (None, True, (), False),
        ("r9", False, (), False),
        ("r9", True, (), True),
        ("r9", True, (KnownRequest("r9", D(2024, 3, 1), D(2024, 3, 31)),), False),
        ("r9", True, (KnownRequest("r9", D(2024, 3, 1), None),), True),
        ("r9", True, (KnownRequest("r9", None, D(2024, 3, 31)),), True),
        ("r9", True, (KnownRequest("r8", D(2024, 3, 1), D(2024, 3, 31)),), True),
    ],
)
def test_dates_unchecked_until_something_showed_the_requests_dates(
    rid: str | None, unproven: bool, records: tuple[KnownRequest, ...], expected: bool
) -> None:
    state = held(request_id=rid, dates_unproven=unproven, records=records)
    assert m.dates_unchecked(state) is expected


def test_keep_is_refused_while_the_requests_dates_are_unchecked() -> None:
    state = held(request_id="r9", dates_unproven=True)
    with pytest.raises(m.TransitionError) as caught:
        m.transition(state, KeepFiles(("a.xml",)))
    assert str(caught.value) == (
        "2024-03: the dates of request r9 cannot be checked (the account's history does not "
        "list it and the journal's log kept none): the folder's files may cover only part of "
        "2024-03-01..2024-03-31, so `journal keep` records the month with them only once their "
        "CFDIs' own dates prove the request's (some issued on its first and on its last day), "
        "or on your word (--force), and its files do not prove them (each a CFDI of the month "
        "and of its kind, at least as many as SAT reported). Nothing changed. Check request "
        "r9's dates in gigstack's dashboard (Descarga Masiva): if they are "
        "2024-03-01..2024-03-31, `gigstack-async journal keep 2024-03 --force` records the "
        "month with these files (it asks you to confirm; nothing is sent or downloaded). If "
        "they are fewer days, keep --force is wrong: the other days' CFDIs were never "
        "requested, and `gigstack-async journal resend 2024-03 --force` requests the month "
        "again (a new request, possibly billed)"
    )


def test_keep_once_a_history_showed_the_dates() -> None:
    record = KnownRequest("r9", *MONTH)
    state = held(request_id="r9", dates_unproven=True, records=(record,))
    kept, commands = m.transition(state, KeepFiles(("a.xml",)))
    assert (kept.stage, kept.files, commands) == (Stage.DONE, ("a.xml",), ())


def test_a_refusal_of_other_dates_restores_those_dates() -> None:
    # `journal resend` with other dates: the refused request asked for part of the month.
    late = Asked(D(2024, 3, 10), D(2024, 3, 20))
    state = m.refused_from_log(held(invoice_count=3), [refused("SAT 5003 x", late)], ())
    assert state is not None
    assert (state.start, state.end) == (D(2024, 3, 10), D(2024, 3, 20))
    assert state.invoice_count is None  # SAT counted nothing for the refused request


def test_a_refusal_without_dates_keeps_the_ranges_refused_before() -> None:
    early = Asked(D(2024, 3, 1), D(2024, 3, 10))
    lines = [refused("SAT 5002 limit", early, "r1"), refused("SAT 5002 limit", None, "r2")]
    state = m.refused_from_log(held(), lines, ())
    assert state is not None
    assert state.reason == NO_DATES_REASON.format(code=5002)
    assert state.exhausted == ((early.start, early.end),)
