"""The month state machine across a server whose request ids restart, one transition at a time.

Shrunk from what the model test's random `server_ids_restart` rule found
(tests/bulk/test_machine_model.py): direct calls of `transition`, so every mutant of
`gigstack_async/bulk/machine.py` runs them in milliseconds.
"""

from __future__ import annotations

from datetime import date

import attrs

from gigstack_async.bulk.machine import (
    FetchStatus,
    KnownRequest,
    MonthState,
    Seen,
    Stage,
    Start,
    StatusSeen,
    transition,
)
from gigstack_async.bulk.machine import HistorySeen as History

KEY = "2024-03"
START, END = date(2024, 3, 1), date(2024, 3, 31)
# Created by an earlier run (its create answer recorded the dates and types, never a createdAt).
SUBMITTED = attrs.evolve(
    MonthState(KEY, START, END, "received", "cfdi"),
    stage=Stage.SUBMITTED,
    request_id="102",
    known_ids=("102",),
    records=(KnownRequest("102", START, END, "received", "cfdi"),),
    creates=1,
    resend_allowed=False,
)


def documented(status: str, created_at: str) -> Seen:
    """A history entry with the documented fields only: no requestType, count or packages."""
    return Seen("102", status, "received", None, START, END, created_at=created_at, message=None)


def test_a_createdat_first_seen_untyped_never_vouches_for_the_month_kind() -> None:
    """The server's ids restarted and a metadata request for March now answers to 102. The
    history cannot tell it from ours (no requestType); its createdAt, first seen in this run,
    must not make it "the month's kind" on the next poll, or its count of 0 reports March
    empty while SAT holds its CFDIs."""
    state, _ = transition(SUBMITTED, Start())
    for _ in range(3):  # polls: the same entry each time
        state, _ = transition(state, History((documented("completed", "1700000000101"),)))
    assert not state.typed
    assert all(r.created_at is None for r in state.records)
    state, _ = transition(
        state, StatusSeen(Seen("102", "completed", invoice_count=0, package_ids=()))
    )
    assert state.stage is Stage.NEEDS_ATTENTION, state
    assert state.hint is not None
    assert f"journal adopt {KEY} 102" in state.hint
    assert "never reported empty on a guess" in (state.reason or "")


def test_a_createdat_seen_while_typed_still_vouches_in_a_later_run() -> None:
    """The month's own request, listed in the run that created it, records its createdAt;
    the next run, seeing the same createdAt under the same id, knows it is the month's kind
    (a count of 0 is then a true empty month)."""
    state, _ = transition(SUBMITTED, Start())
    state = attrs.evolve(state, typed=True)  # as after our own create answer in this run
    state, _ = transition(state, History((documented("processing", "1700000000002"),)))
    assert [r.created_at for r in state.records] == ["1700000000002"]
    state, _ = transition(state, Start())  # the next run
    state, _ = transition(state, History((documented("completed", "1700000000002"),)))
    assert state.typed
    assert state.checked
    state, _ = transition(
        state, StatusSeen(Seen("102", "completed", invoice_count=0, package_ids=()))
    )
    assert state.stage is Stage.EMPTY, state


COMPLETED = attrs.evolve(
    SUBMITTED,
    stage=Stage.COMPLETED,
    records=(KnownRequest("102", START, END, "received", "cfdi", final="completed"),),
    sat_state="completed",
    checked=True,
)


def test_a_completed_request_listed_as_failed_is_asked_and_needs_the_user() -> None:
    """A completed month's request listed as failed (its id may name another request now: the
    server's ids restarted). Before, the month waited for packages forever; now the status is
    asked and its "failed" answer makes the month need the user."""
    state, _ = transition(COMPLETED, Start())
    state, commands = transition(state, History((documented("failed", "1700000000009"),)))
    assert commands == (FetchStatus("102"),)
    failed = Seen("102", "failed", message="SAT 5004: no se encontró información")
    state, _ = transition(state, StatusSeen(failed))
    assert state.stage is Stage.NEEDS_ATTENTION, state
    assert state.hint is not None
    assert f"journal resend {KEY}" in state.hint


def test_a_completed_month_whose_status_says_failed_needs_the_user() -> None:
    """The status answer (no dates, no type) of a completed month's request says failed: the
    month must not wait for packages forever."""
    state = attrs.evolve(COMPLETED, status_asked=True)
    failed = Seen("102", "failed", message="SAT 5004: no se encontró información")
    state, commands = transition(state, StatusSeen(failed))
    assert state.stage is Stage.NEEDS_ATTENTION, state
    assert state.settled
    assert state.hint is not None
    assert f"journal adopt {KEY}" in state.hint
    assert commands == ()


def test_a_completed_month_whose_status_says_expired_is_expired() -> None:
    state = attrs.evolve(COMPLETED, status_asked=True)
    state, _ = transition(state, StatusSeen(Seen("102", "expired")))
    assert state.stage is Stage.EXPIRED, state
    assert state.hint is not None
    assert f"journal resend {KEY}" in state.hint
