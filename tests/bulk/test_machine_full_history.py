"""A FULL download history (20 entries, the documented "last 20, newest first") proves no
absence of a lost create (review 9l), and neither does any other history (reviews 9p, 9q).

Once an account has made 20 requests the history is always full, and which "newest" it keeps
(by creation, by period, by last change) is NOT stated in the docs. A rule that read the
order of `createdAt` values to show the create would be listed was defeated by a plausible
server (one keeping the most recently changed requests that touches finished ones without a
status change), so a full history leaves the month to the user, with its way forward. The
same now holds for a history that is not full: no absence proof is left.
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
NOT_LISTED = (
    "the history ({n} entries) does not list it, and that proves nothing: gigstack may still "
    'be writing it, and the docs do not say which requests the history keeps ("last 20, newest '
    'first", newest by what is not said), so it may be listed late, below others, or not at all'
)
FULL = NOT_LISTED.format(n=20)


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
        need_generation=1,
        creates=1,
        resend_allowed=False,
    )
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


def full(*entries: m.Seen, **changes: object) -> m.HistorySeen:
    """The history after the attempt: r9 on top, then the 19 newest priors (p19 pushed out)."""
    listed = entries or (LATER, *PRIORS[:19])
    history = m.HistorySeen(listed, generation=2, expected=("r9",))
    return attrs.evolve(history, **changes)  # type: ignore[arg-type]


def gap_of(state: m.MonthState, history: m.HistorySeen) -> str:
    new, commands = m.transition(state, history)
    assert commands == ()
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
    again, commands = m.transition(new, m.Send(tuple(s.id for s in full().entries)))
    assert commands == ()
    assert again.stage is Stage.NEEDS_ATTENTION


def test_a_create_lost_by_an_earlier_run_needs_the_user_behind_a_full_history() -> None:
    state, _ = m.transition(lost(), m.Start())
    assert (state.stage, state.unknown) == (Stage.SUBMITTING, True)
    assert gap_of(state, full()) == FULL


def test_a_history_that_is_not_full_proves_nothing_either() -> None:
    # 19 entries, p18 and p19 gone (short or filtered), or 20 entries with p19 and room to
    # spare (a window of 25): neither lists January's create, and neither proves it absent
    assert gap_of(lost(), full(LATER, *PRIORS[:18])) == NOT_LISTED.format(n=19)
    assert gap_of(lost(), full(LATER, *PRIORS, window=25)) == NOT_LISTED.format(n=21)


def test_a_late_listing_of_the_create_is_adopted() -> None:
    # the record shows up after the history that needed the user (review 9l #1): adopted,
    # never sent a second time
    new, _ = m.transition(lost(), full())
    mine = attrs.evolve(LATER, id="c1", start=JAN[0], end=JAN[1], created_at=str(T0 + 25 * MINUTE))
    adopted, commands = m.transition(new, full(LATER, mine, *PRIORS[:18], generation=3))
    assert (adopted.stage, adopted.request_id, adopted.creates, commands) == (
        Stage.SUBMITTED,
        "c1",
        1,
        (),
    )


def test_candidates_still_come_first() -> None:
    mine = attrs.evolve(LATER, id="c1", start=JAN[0], end=JAN[1], request_type=None)
    new, _ = m.transition(lost(), full(mine, *PRIORS[:19]))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason is not None
    assert "candidate: c1" in new.reason


def test_a_journal_written_with_the_removed_before_final_field_still_loads() -> None:
    # branch i9-fullhist journaled the snapshot's finished requests as `before_final`; a
    # journal written by it must still load (the field is ignored)
    written = json.loads(encode_state(lost()))
    written["before_final"] = [["p0", "completed"], ["p1", "failed"]]
    assert decode_state(json.dumps(written)) == lost()


def test_a_journal_written_with_the_removed_absence_proof_fields_still_loads() -> None:
    # journals written while the absence proof existed keep its fields (the create's place in
    # the run, the snapshot's createdAt, the failure time, the witnesses): they load, ignored,
    # and the month still needs the user for its lost create
    written = json.loads(encode_state(lost()))
    written.update(
        attempt_seq=3,
        before_created=[["p0", str(T0)]],
        unknown_at=1_800_000_000.0,
        later_ids=["r9"],
    )
    loaded = decode_state(json.dumps(written))
    assert loaded == lost()
    assert gap_of(loaded, full()) == FULL


def test_an_old_journals_proof_of_absence_is_not_trusted() -> None:
    """A journal written by a version that proved a lost create absent (then stopped before
    the resend) would send it on the next run: the proof is not trusted now (reviews 9p #1,
    9q #1). The month reconciles again: adopted if listed, else it needs the user."""
    proven = m.MonthState(
        "2024-01",
        date(2024, 1, 1),
        date(2024, 1, 31),
        "received",
        "cfdi",
        creates=1,
        resend_allowed=True,
        reason="the history proved the last create never arrived",
    )
    assert m.plan_decision(proven, proven.start, proven.end).create is m.PlanCreate.NO
    started, commands = m.transition(proven, m.Start())
    assert commands == ()
    assert started.stage is Stage.SUBMITTING
    assert started.unknown
    assert m.transition(started, m.Send(("h1",), generation=1)) == (started, ())
    needs, commands = m.transition(started, m.HistorySeen((m.Seen("h1"),), generation=1))
    assert commands == ()
    assert needs.stage is Stage.NEEDS_ATTENTION
    assert needs.reason is not None
    assert "no history proves that" in needs.reason
