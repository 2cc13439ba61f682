"""A FULL download history (20 entries, the documented "last 20, newest first") proving a lost
create absent: `machine._full_window_gap`.

Once an account has made 20 requests the history is always full. Before this rule, every
unknown create outcome (a 5xx, a 429, a lost answer) then needed the user, even when the server
had never created it. A full history proves absence only when it shows itself to be a newest-N
window by creation that reaches back past the attempt, AND the create would be listed whatever
"newest" means (creation, period or last change: the docs do not say). Only the server's own
`createdAt` values are compared, with each other, never with our clock.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from gigstack_async.bulk.store import decode_state, encode_state

JAN = (date(2024, 1, 1), date(2024, 1, 31))
FEB = (date(2024, 2, 1), date(2024, 2, 29))
T0 = 1_704_000_000_000  # the oldest prior request's createdAt (epoch ms)
MINUTE = 60_000
PROVEN = "the history proved the last create never arrived"
FULL = "the history is full (20 entries)"


def prior_period(i: int) -> tuple[date, date]:
    """The 20 prior requests are for 2023's months (two per month), p0 the newest."""
    month = 10 - i // 2
    start = date(2023, month, 1)
    return start, date(2023, month + 1, 1) - timedelta(days=1)


def prior(i: int, **fields: object) -> m.Seen:
    """The i-th newest of the 20 requests made before this run (completed, of the month's kind)."""
    start, end = prior_period(i)
    seen = m.Seen(
        id=f"p{i}",
        status="completed",
        rfc_type="received",
        request_type="cfdi",
        start=start,
        end=end,
        created_at=str(T0 + (19 - i) * MINUTE),
    )
    return attrs.evolve(seen, **fields)  # type: ignore[arg-type]


PRIORS = tuple(prior(i) for i in range(20))
LATER = m.Seen(
    id="r9",
    status="pending",
    rfc_type="received",
    request_type="cfdi",
    start=FEB[0],
    end=FEB[1],
    created_at=str(T0 + 30 * MINUTE),
)
"""February's request, created by this run after January's lost attempt."""


def lost(**changes: object) -> m.MonthState:
    """January after a create whose outcome is unknown, sent with the 20 priors as snapshot."""
    state = m.MonthState(
        key="2024-01",
        start=JAN[0],
        end=JAN[1],
        rfc_type="received",
        request_type="cfdi",
        stage=Stage.SUBMITTING,
        unknown=True,
        history_before=tuple(s.id for s in PRIORS),
        before_created=tuple((s.id, str(s.created_at)) for s in PRIORS),
        before_final=tuple((s.id, "completed") for s in PRIORS),
        attempt_seq=0,
        need_generation=1,
        creates=1,
        resend_allowed=False,
    )
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


def full(*entries: m.Seen, **changes: object) -> m.HistorySeen:
    """The history after the attempt: r9 on top, then the 19 newest priors (p19 pushed out)."""
    listed = entries or (LATER, *PRIORS[:19])
    history = m.HistorySeen(listed, generation=2, expected=("r9",), later=(("r9", 1),))
    return attrs.evolve(history, **changes)  # type: ignore[arg-type]


def gap_of(state: m.MonthState, history: m.HistorySeen) -> str | None:
    new, commands = m.transition(state, history)
    assert commands == ()
    if new.stage is Stage.PLANNED:
        assert (new.reason, new.resend_allowed, new.unknown) == (PROVEN, True, False)
        return None
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.resend_allowed is False  # nothing is sent for the month until the user says so
    assert new.unknown is True
    assert new.reason is not None
    return new.reason.partition("whether it arrived (")[2].removesuffix(")")


def test_a_full_window_by_creation_proves_the_lost_create_absent() -> None:
    assert gap_of(lost(), full()) is None
    new, _ = m.transition(lost(), full())
    _, commands = m.transition(new, m.Send(tuple(s.id for s in full().entries), seq=2))
    assert commands == (m.SendCreate("2024-01"),)  # resent in the same run


def test_the_full_rule_does_not_apply_to_a_history_that_is_not_full() -> None:
    # 19 entries, p18 and p19 gone: today's rule for a short history (every entry still listed)
    history = full(LATER, *PRIORS[:18])
    assert gap_of(lost(), history) == (
        "the history no longer lists every request it listed before the create: it is short "
        "or filtered"
    )


def _iso(ms: int, tz: timezone | None) -> str:
    instant = datetime.fromtimestamp(ms / 1000, UTC)
    return (instant.astimezone(tz) if tz else instant.replace(tzinfo=None)).isoformat()


MX = timezone(timedelta(hours=-6))


@pytest.mark.parametrize(
    "unit",
    [
        pytest.param(lambda ms: str(ms // 1000), id="epoch seconds"),
        pytest.param(lambda ms: _iso(ms, MX), id="ISO with offset"),
        pytest.param(lambda ms: _iso(ms, None), id="naive Mexico City ISO"),
    ],
)
def test_any_one_unit_of_createdAt_is_compared_with_itself(unit: object) -> None:
    def convert(seen: m.Seen) -> m.Seen:
        return attrs.evolve(seen, created_at=unit(int(str(seen.created_at))))  # type: ignore[operator]

    priors = tuple(convert(s) for s in PRIORS)
    state = lost(before_created=tuple((s.id, str(s.created_at)) for s in priors))
    assert gap_of(state, full(convert(LATER), *priors[:19])) is None


UNIT = (
    f"{FULL} and does not show every entry's createdAt in one unit, so it cannot show that it "
    "keeps the newest requests by creation"
)
UNSORTED = (
    f"{FULL} and is not ordered newest first by createdAt, so it may keep the newest by another "
    "order (period, status, last change)"
)
SNAPSHOT_UNIT = (
    f"{FULL} and the history read before the create did not show every entry's createdAt in "
    "the same unit, so what left it cannot be told"
)
LEFT_OUT_OF_ORDER = (
    f"{FULL} and a request it listed before the create has left it while an older one stays, "
    "so it does not keep the newest by creation"
)
TIES = (
    f"{FULL} and lists nothing created before its newest request from before the create, so "
    "the create could sit just below its last entry"
)
BY_PERIOD = (
    f"{FULL} and lists no request for a period before {{}}: if it kept the newest requests by "
    "period, not by creation, the create would not be listed"
)
BY_CHANGE = (
    f"{FULL} and lists no request that had finished before the create, unchanged since: if it "
    "kept the most recently changed requests, the create might not be listed"
)
LAGGING = "the history lists no request created after it, so it may be lagging"


@pytest.mark.parametrize(
    ("state", "history", "gap"),
    [
        pytest.param(
            lost(),
            full(LATER, *PRIORS[:18], attrs.evolve(PRIORS[18], created_at=None)),
            UNIT,
            id="an entry without createdAt",
        ),
        pytest.param(
            lost(),
            full(attrs.evolve(LATER, created_at=str((T0 + 30 * MINUTE) // 1000)), *PRIORS[:19]),
            UNIT,
            id="units mixed (seconds among milliseconds)",
        ),
        pytest.param(
            lost(),
            full(LATER, *PRIORS[:18], attrs.evolve(PRIORS[18], created_at="1234")),
            UNIT,
            id="a createdAt of no known unit",
        ),
        pytest.param(
            lost(),
            full(LATER, PRIORS[1], PRIORS[0], *PRIORS[2:19]),
            UNSORTED,
            id="two entries out of creation order",
        ),
        pytest.param(
            lost(before_created=tuple((s.id, str(s.created_at)) for s in PRIORS[:19])),
            full(),
            SNAPSHOT_UNIT,
            id="the snapshot did not show p19's createdAt",
        ),
        pytest.param(
            lost(),
            full(LATER, *PRIORS[:5], *PRIORS[6:20]),
            LEFT_OUT_OF_ORDER,
            id="p5 left while the older p19 stays (not a newest-N window)",
        ),
        pytest.param(
            lost(),
            full(*(attrs.evolve(s, rfc_type="issued") for s in (LATER, *PRIORS[:19]))),
            "the history lists no received cfdi request older than the create (it lists 20), "
            "so a short history may have pushed it out",
            id="no request of the month's kind is left from before the create",
        ),
        pytest.param(
            lost(),
            full(LATER, *PRIORS[:19], later=(("r9", 1), ("r8", 2)), expected=("r8", "r9")),
            f"{FULL} and omits request r8, which this journal created",
            id="a request this run created is missing",
        ),
        pytest.param(
            lost(),
            full(expected=("r9", "old")),
            f"{FULL} and omits request old, which this journal created",
            id="a journal request of unknown age is missing",
        ),
        pytest.param(
            lost(),
            full(LATER, *PRIORS[:19], later=(("r9", 0),)),
            LAGGING,
            id="nothing created after the attempt is listed",
        ),
        pytest.param(
            lost(),
            full(*PRIORS[:20], later=(), expected=()),
            LAGGING,
            id="the very list read before the create (a lagging copy)",
        ),
        pytest.param(
            lost(),
            full(LATER, attrs.evolve(PRIORS[0], created_at=str(T0 + 25 * MINUTE)), *PRIORS[1:19]),
            f"{FULL} and lists request p0, listed before the create, as another request "
            "(another createdAt, or created by this run since): ids may be reused",
            id="a snapshot id listed with another createdAt",
        ),
        pytest.param(
            lost(before_final=()),
            full(),
            BY_CHANGE,
            id="no finished request recorded in the snapshot (an older journal)",
        ),
    ],
)
def test_a_full_history_proves_nothing_when(
    state: m.MonthState, history: m.HistorySeen, gap: str
) -> None:
    assert gap_of(state, history) == gap


def test_a_request_made_since_the_snapshot_listed_below_it_proves_nothing() -> None:
    # r9 was created after the attempt, yet its createdAt is older than p0's (read before it):
    # the server's createdAt went backwards, and the create may sit anywhere.
    back = attrs.evolve(LATER, created_at=str(T0 + 19 * MINUTE - 1))
    assert gap_of(lost(), full(PRIORS[0], back, *PRIORS[1:19])) == (
        f"{FULL} and lists a request made since the history read before the create below one "
        "that history listed, so its createdAt does not only grow"
    )
    # a tie with the newest snapshot entry is no sign of it (seconds, one second)
    tie = attrs.evolve(LATER, created_at=str(T0 + 19 * MINUTE))
    assert gap_of(lost(), full(tie, *PRIORS[:19])) is None


def test_equal_createdAt_values_prove_nothing_the_create_may_tie_with_the_last_entry() -> None:
    # Seconds-resolution createdAt: everything before the attempt was created in one second.
    # A newest-N window breaking ties by id may keep a prior and drop a create of that second.
    same = tuple(attrs.evolve(s, created_at=str(T0)) for s in PRIORS)
    state = lost(before_created=tuple((s.id, str(s.created_at)) for s in same))
    assert gap_of(state, full(LATER, *same[:19])) == TIES


def test_a_window_by_period_that_looks_like_creation_proves_nothing() -> None:
    # The hole in "sorted by createdAt + the anchors stay": 2023's months were asked in order,
    # so newest-by-period and newest-by-creation list them alike. A server keeping the newest
    # 20 by period would not list a created request for 2022-05: absence is not shown.
    may = (date(2022, 5, 1), date(2022, 5, 31))
    state = lost(start=may[0], end=may[1])
    assert gap_of(state, full()) == BY_PERIOD.format("2022-05-01..2022-05-31")
    # ... nor for the oldest listed month itself (a tie in period: either may be kept)
    oldest = prior_period(18)
    state = lost(start=oldest[0], end=oldest[1])
    assert gap_of(state, full()) == BY_PERIOD.format(f"{oldest[0]}..{oldest[1]}")


def test_a_window_by_last_change_proves_nothing_when_every_anchor_changed_since() -> None:
    # Every prior was still processing before the attempt and has completed since: a server
    # keeping the 20 most recently changed may have pushed out a create that has not changed.
    state = lost(before_final=())
    assert gap_of(state, full()) == BY_CHANGE
    # completed before, expired now: it changed after the attempt
    expired = tuple(attrs.evolve(s, status="expired") for s in PRIORS[:19])
    assert gap_of(lost(), full(LATER, *expired)) == BY_CHANGE
    # one unchanged finished anchor is enough: the create changed no earlier than it was made
    assert gap_of(lost(), full(LATER, *expired[:18], PRIORS[18])) is None


def test_a_journal_request_known_to_be_older_than_the_window_may_be_missing() -> None:
    old = m.KnownRequest("old", created_at=str(T0 - MINUTE))
    assert gap_of(lost(), full(expected=("r9", "old"), records=(old,))) is None
    newer = m.KnownRequest("old", created_at=str(T0 + 5 * MINUTE))
    assert gap_of(lost(), full(expected=("r9", "old"), records=(newer,))) == (
        f"{FULL} and omits request old, which this journal created"
    )


def test_several_pushed_out_from_the_bottom_still_prove_it() -> None:
    # three later creates of this run: p17..p19 left from the bottom
    later = tuple(
        attrs.evolve(LATER, id=f"r{i}", created_at=str(T0 + (30 + i) * MINUTE)) for i in (7, 8, 9)
    )
    history = full(
        *later[::-1],
        *PRIORS[:17],
        later=(("r7", 1), ("r8", 2), ("r9", 3)),
        expected=("r7", "r8", "r9"),
    )
    assert gap_of(lost(), history) is None


def test_candidates_and_restarts_still_come_first() -> None:
    mine = attrs.evolve(LATER, id="c1", start=JAN[0], end=JAN[1], request_type=None)
    new, _ = m.transition(lost(), full(mine, *PRIORS[:19]))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason is not None
    assert "candidates: c1" in new.reason


def test_send_journals_the_snapshots_finished_requests() -> None:
    state = attrs.evolve(lost(), stage=Stage.PLANNED, unknown=False, resend_allowed=True)
    final = (("p0", "completed"), ("p1", "failed"))
    new, commands = m.transition(state, m.Send(("p0", "p1"), generation=1, seq=1, final=final))
    assert commands == (m.SendCreate("2024-01"),)
    assert new.before_final == final
    # journaled: a later run proves it from the journal (below)
    assert decode_state(encode_state(new)) == new
    # a journal written before `before_final` existed reads as none recorded: no full proof
    older = json.loads(encode_state(lost()))
    del older["before_final"]
    assert decode_state(json.dumps(older)).before_final == ()


def test_a_create_lost_by_an_earlier_run_is_proven_absent_by_this_runs_history() -> None:
    # The run that sent January died; this run's creates (any seq) came after it.
    state, _ = m.transition(lost(), m.Start())
    assert (state.attempt_seq, state.unknown) == (-1, True)
    assert gap_of(state, full(later=(("r9", 1),))) is None
    # with nothing of this run listed, the history may be an older picture
    assert gap_of(state, full(*PRIORS[:20], later=(), expected=())) == LAGGING


def test_the_create_is_proven_absent_only_by_a_history_read_after_it() -> None:
    # the machine's generation rule holds for a full history too
    new, _ = m.transition(lost(need_generation=2), full())
    assert (new.stage, new.unknown) == (Stage.SUBMITTING, True)


def test_one_older_entry_at_the_bottom_is_enough_for_the_creation_order() -> None:
    # Everything else listed before the create was made in the same instant; p18, at the
    # bottom, is older: a create made after them all ranks above p18 even on a tie with them.
    tied = [attrs.evolve(s, created_at=str(T0)) for s in PRIORS[:18]]
    older = [
        attrs.evolve(PRIORS[18], created_at=str(T0 - MINUTE)),
        attrs.evolve(PRIORS[19], created_at=str(T0 - 2 * MINUTE)),
    ]
    snapshot = (*tied, *older)
    state = lost(before_created=tuple((s.id, str(s.created_at)) for s in snapshot))
    assert gap_of(state, full(LATER, *tied, older[0])) is None
    # (when the bottom entry ties too: test_equal_createdAt_values_prove_nothing...)


def test_without_request_types_only_a_request_of_this_journal_anchors_a_full_history() -> None:
    # documented fields: no requestType. A request made elsewhere may be another kind (a
    # metadata request a cfdi-only window never lists); one of this journal is the month's kind.
    untyped = tuple(attrs.evolve(s, request_type=None) for s in (LATER, *PRIORS[:19]))
    assert gap_of(lost(), full(*untyped)) == (
        "the history lists no received cfdi request older than the create (it lists 20), so a "
        "short history may have pushed it out"
    )
    assert gap_of(lost(), full(*untyped, expected=("r9", "p4"))) is None
    assert gap_of(lost(known_ids=("p4",)), full(*untyped)) is None


NO_DATES = (
    f"{FULL} and does not show every entry's dates, so it cannot show that it would list the "
    "create if it kept the newest requests by period"
)


@pytest.mark.parametrize("missing", [{"start": None}, {"end": None}, {"start": None, "end": None}])
def test_an_entry_without_its_dates_proves_nothing(missing: dict[str, object]) -> None:
    undated = attrs.evolve(PRIORS[7], **missing)  # type: ignore[arg-type]
    assert gap_of(lost(), full(LATER, *PRIORS[:7], undated, *PRIORS[8:19])) == NO_DATES


@pytest.mark.parametrize(
    ("period", "proven"),
    [
        pytest.param((date(2023, 1, 2), date(2023, 2, 1)), True, id="both dates later"),
        pytest.param((date(2023, 1, 1), date(2023, 2, 1)), False, id="the oldest start"),
        pytest.param((date(2023, 1, 2), date(2023, 1, 31)), False, id="the oldest end"),
    ],
)
def test_both_dates_must_be_later_than_the_oldest_listed(
    period: tuple[date, date], proven: bool
) -> None:
    # p18 (2023-01-01..2023-01-31) is the oldest listed period: kept by startDate or by
    # endDate, the create ranks above it only when the matching date is strictly later.
    gap = gap_of(lost(start=period[0], end=period[1]), full())
    assert gap == (None if proven else BY_PERIOD.format(f"{period[0]}..{period[1]}"))


def test_a_later_start_with_an_early_end_proves_nothing() -> None:
    # every listed request ends after January 2024 (a window kept by endDate would rank
    # January's create below them all), though some start before it
    late_ends = tuple(attrs.evolve(s, end=date(2024, 12, 31)) for s in (LATER, *PRIORS[:19]))
    assert gap_of(lost(), full(*late_ends)) == BY_PERIOD.format("2024-01-01..2024-01-31")


def test_a_journal_request_exactly_as_old_as_the_oldest_anchor_may_be_missing() -> None:
    # p18, the oldest anchor, was made at T0 + 1 min; a journal request made in that instant
    # may have left a newest-N window on a tie
    tie = m.KnownRequest("old", created_at=str(T0 + MINUTE))
    assert gap_of(lost(), full(expected=("r9", "old"), records=(tie,))) is None
