"""`CreateNotSent`: a create that never got as far as a connection goes back to `planned`,
resendable without the user (nothing billed), unlike an unknown outcome."""

from __future__ import annotations

from datetime import date

import attrs

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage

JAN = m.MonthState("2024-01", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi")


def _submitting() -> m.MonthState:
    state, commands = m.transition(JAN, m.Send(("h1",), generation=1))
    assert commands == (m.SendCreate("2024-01"),)
    return state


def test_a_create_never_sent_is_planned_again_and_resendable() -> None:
    state, commands = m.transition(_submitting(), m.CreateNotSent("cannot connect: refused"))
    assert commands == (m.Warn(f"2024-01: {state.reason}"),)  # said at once (review 9r #1)
    assert state.stage is Stage.PLANNED
    assert state.resend_allowed is True
    assert state.unknown is False
    assert state.reason is not None
    assert "never reached the server (cannot connect: refused)" in state.reason
    assert "nothing was billed" in state.reason
    # the run's next Send goes out at once, with no user step
    _, commands = m.transition(state, m.Send(("h1",), generation=2))
    assert commands == (m.SendCreate("2024-01"),)


def test_an_unknown_outcome_is_not_resendable_by_the_run() -> None:
    state, _ = m.transition(_submitting(), m.CreateUnknown("HTTP 502", generation=1))
    assert state.unknown is True
    assert m.transition(state, m.Send(("h1",), generation=2)) == (state, ())


def test_never_sent_is_ignored_outside_submitting() -> None:
    for stage in (Stage.PLANNED, Stage.SUBMITTED, Stage.NEEDS_ATTENTION, Stage.DONE):
        state = m.MonthState(
            "2024-01", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi", stage=stage
        )
        assert m.transition(state, m.CreateNotSent("x")) == (state, ())


def test_a_create_never_sent_is_not_counted_sent() -> None:
    """`journal show`'s "create requests sent" counts only creates that may have reached the
    server: a try that never connected (`CreateNotSent`) billed nothing and is not one of them
    (closing note 7: it over-counted by those tries)."""
    state, _ = m.transition(_submitting(), m.CreateNotSent("cannot connect: refused"))
    assert state.creates == 0
    assert state.creates_known
    state, _ = m.transition(state, m.Send(("h1",), generation=2))
    assert state.creates == 1  # the try in flight may reach the server: counted before it leaves
    state, _ = m.transition(state, m.CreateNotSent("cannot connect: refused"))
    state, _ = m.transition(state, m.Send(("h1",), generation=3))
    state, _ = m.transition(state, m.Created("R1"))
    assert state.creates == 1  # two tries never connected, one answered
    # A create whose outcome is unknown may have reached the server: it stays counted.
    lost, _ = m.transition(_submitting(), m.CreateUnknown("HTTP 502", generation=1))
    assert lost.creates == 1


def test_a_create_never_sent_takes_back_only_its_own_count() -> None:
    """A month whose earlier create reached the server keeps that one counted when a later try
    never connects: `journal show` says 1 create sent, not 0 (and `journal resend`'s count of
    identical requests, SAT's limit of 2, still sees it)."""
    state, _ = m.transition(_submitting(), m.Created("R1"))
    assert state.creates == 1
    again = attrs.evolve(state, stage=Stage.SUBMITTING, creates=2)
    state, _ = m.transition(again, m.CreateNotSent("cannot connect: refused"))
    assert state.creates == 1
