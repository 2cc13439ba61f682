"""A FULL download history (20 entries, the documented "last 20, newest first") proves no
absence of a lost create (review 9l).

Once an account has made 20 requests the history is always full, and which "newest" it keeps
(by creation, by period, by last change) is NOT stated in the docs. A rule that read the
order of `createdAt` values to show the create would be listed was defeated by a plausible
server (one keeping the most recently changed requests that touches finished ones without a
status change), so a full history leaves the month to the user, with its way forward.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import attrs

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from gigstack_async.bulk.store import decode_state, encode_state

JAN = (date(2024, 1, 1), date(2024, 1, 31))
FEB = (date(2024, 2, 1), date(2024, 2, 29))
T0 = 1_704_000_000_000  # the oldest prior request's createdAt (epoch ms)
MINUTE = 60_000
PROVEN = "the history proved the last create never arrived"
FULL = (
    "the history is full (20 entries): it keeps only the newest requests and the docs do not "
    "say newest by what, so the create may have been pushed out"
)


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


def test_a_full_window_that_looks_kept_by_creation_proves_nothing() -> None:
    # Sorted newest first by createdAt, anchors kept, the oldest pushed out from the bottom,
    # finished anchors unchanged, a later create listed: before review 9l this "proved"
    # January absent and resent it. A server keeping the most recently changed requests that
    # touches finished ones without a status change lists exactly this while hiding January.
    new, commands = m.transition(lost(), full())
    assert commands == ()
    assert gap_of(lost(), full()) == FULL
    assert "journal adopt 2024-01" in (new.hint or "")
    assert "journal resend 2024-01" in (new.hint or "")
    # and a later history, still full, does not change that: nothing is sent
    again, commands = m.transition(new, m.Send(tuple(s.id for s in full().entries), seq=2))
    assert commands == ()
    assert again.stage is Stage.NEEDS_ATTENTION


def test_a_create_lost_by_an_earlier_run_needs_the_user_behind_a_full_history() -> None:
    state, _ = m.transition(lost(), m.Start())
    assert (state.attempt_seq, state.unknown) == (-1, True)
    assert gap_of(state, full(later=(("r9", 1),))) == FULL


def test_the_full_rule_does_not_apply_to_a_history_that_is_not_full() -> None:
    # 19 entries, p18 and p19 gone: the rule for a short history (every entry still listed)
    history = full(LATER, *PRIORS[:18])
    assert gap_of(lost(), history) == (
        "the history no longer lists every request it listed before the create: it is short "
        "or filtered"
    )


def test_candidates_still_come_first() -> None:
    mine = attrs.evolve(LATER, id="c1", start=JAN[0], end=JAN[1], request_type=None)
    new, _ = m.transition(lost(), full(mine, *PRIORS[:19]))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason is not None
    assert "candidates: c1" in new.reason


def test_a_journal_written_with_the_removed_before_final_field_still_loads() -> None:
    # branch i9-fullhist journaled the snapshot's finished requests as `before_final`; a
    # journal written by it must still load (the field is ignored)
    written = json.loads(encode_state(lost()))
    written["before_final"] = [["p0", "completed"], ["p1", "failed"]]
    assert decode_state(json.dumps(written)) == lost()
