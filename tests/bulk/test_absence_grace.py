"""A lost create is proven absent only by a history read `HistorySeen.grace` seconds after its
failed answer, both times on our clock (review 9l #1: its record may appear in the history after
a later create's, while gigstack still writes it; the "a later create is listed" witness does
not rule that out). Money rule: when in doubt, no proof.
"""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from gigstack_async.bulk.store import decode_state, encode_state
from tests.bulk._support import by_creation

JAN = (date(2024, 1, 1), date(2024, 1, 31))
FEB = (date(2024, 2, 1), date(2024, 2, 29))
GRACE = 600.0
FAILED_AT = 1_800_000_000.0  # our clock when the create's 502 was seen
PROVEN = "the history proved the last create never arrived"


def feb(request_id: str) -> m.Seen:
    return m.Seen(request_id, "pending", "received", "cfdi", FEB[0], FEB[1])


def sent() -> m.MonthState:
    """January, its create just sent (h1 listed before it)."""
    state = m.MonthState("2024-01", *JAN, "received", "cfdi", stage=Stage.PLANNED)
    state = attrs.evolve(state, resend_allowed=True)
    new, commands = m.transition(state, m.Send(("h1",), generation=1, seq=0))
    assert commands == (m.SendCreate("2024-01"),)
    return new


def lost(at: float | None = FAILED_AT) -> m.MonthState:
    """January after its create was answered 502 at `at` (our clock)."""
    new, _ = m.transition(sent(), m.CreateUnknown("HTTP 502", generation=1, seen_at=at))
    assert (new.unknown, new.unknown_at) == (True, at)
    return new


def history(read_at: float | None) -> m.HistorySeen:
    """A history that proves January absent but for the grace: h1 (listed before the create)
    and February's r9 (created after it) listed, nothing that could be January's."""
    return m.HistorySeen(
        by_creation((feb("r9"), feb("h1")), (("r9", 1),)),
        generation=2,
        expected=("r9",),
        later=(("r9", 1),),
        read_at=read_at,
        grace=GRACE,
    )


@pytest.mark.parametrize(
    ("elapsed", "proven"),
    [
        (0.0, False),
        (1.0, False),
        (GRACE - 0.001, False),
        (GRACE, True),
        (GRACE + 0.001, True),
        (10 * GRACE, True),
    ],
)
def test_the_grace_boundary(elapsed: float, proven: bool) -> None:
    new, commands = m.transition(lost(), history(FAILED_AT + elapsed))
    if proven:
        assert (new.stage, new.reason, new.resend_allowed) == (Stage.PLANNED, PROVEN, True)
        assert (new.unknown, new.unknown_at) == (False, None)
        assert commands == ()
        return
    # still waiting: submitting (the run keeps polling), nothing sent, the note says until when
    assert (new.stage, new.unknown, new.resend_allowed) == (Stage.SUBMITTING, True, False)
    assert new.unknown_at == FAILED_AT
    assert new.reason == (
        "waiting until 08:10:00 UTC before resending: a lost create can appear late in the "
        "history, and this one shows no sign of it yet"
    )  # 1_800_000_000 s is 2027-01-15 08:00:00 UTC, plus 600 s
    assert commands == (m.Warn(f"2024-01: {new.reason}"),)
    # the same note is warned once, not at every poll
    again, commands = m.transition(new, history(FAILED_AT + elapsed))
    assert (again, commands) == (new, ())


def test_a_history_read_before_the_grace_is_over_never_resends_then_a_later_one_does() -> None:
    waiting, _ = m.transition(lost(), history(FAILED_AT + 5))
    _, commands = m.transition(waiting, m.Send(("h1", "r9"), generation=3, seq=2))
    assert commands == ()  # nothing is sent while waiting
    proven, _ = m.transition(waiting, history(FAILED_AT + GRACE))
    _, commands = m.transition(proven, m.Send(("h1", "r9"), generation=3, seq=2))
    assert commands == (m.SendCreate("2024-01"),)


def test_the_record_showing_up_during_the_wait_is_adopted() -> None:
    waiting, _ = m.transition(lost(), history(FAILED_AT + 5))
    late = m.Seen("r8", "pending", "received", "cfdi", *JAN)  # January's, listed late
    listed = attrs.evolve(history(FAILED_AT + 30), entries=(late, feb("r9"), feb("h1")))
    new, _ = m.transition(waiting, listed)
    assert (new.stage, new.request_id, new.unknown) == (Stage.SUBMITTED, "r8", False)


@pytest.mark.parametrize("back", [0.001, 5.0, 2 * GRACE])
def test_our_clock_going_back_proves_nothing(back: float) -> None:
    new, commands = m.transition(lost(), history(FAILED_AT - back))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.resend_allowed is False
    assert new.unknown is True
    assert "our clock went back" in (new.reason or "")
    assert "journal resend 2024-01" in (new.hint or "")
    assert all(not isinstance(c, m.SendCreate) for c in commands)


def test_a_history_whose_read_time_is_unknown_proves_nothing() -> None:
    new, _ = m.transition(lost(), history(None))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert "the time this history was read is not known" in (new.reason or "")


def test_the_wait_survives_a_restart_from_the_journal() -> None:
    waiting, _ = m.transition(lost(), history(FAILED_AT + 5))
    # the run is stopped (Ctrl-C, --timeout) and a later run starts from the journal
    reloaded = decode_state(encode_state(waiting))
    assert reloaded.unknown_at == FAILED_AT
    resumed, _ = m.transition(reloaded, m.Start())
    assert (resumed.stage, resumed.unknown, resumed.unknown_at) == (
        Stage.SUBMITTING,
        True,
        FAILED_AT,
    )
    # this run's generations and creates restart: any history and create of it are later
    later = attrs.evolve(history(FAILED_AT + GRACE - 1), generation=1, later=(("r9", 0),))
    new, _ = m.transition(resumed, later)
    assert new.stage is Stage.SUBMITTING  # the wait is resumed from the journaled time
    new, _ = m.transition(resumed, attrs.evolve(later, read_at=FAILED_AT + GRACE))
    assert (new.stage, new.reason) == (Stage.PLANNED, PROVEN)


def test_a_create_in_flight_when_the_run_died_waits_from_the_first_history_read() -> None:
    # killed while the create was in flight: when it failed (or not) is not known
    resumed, _ = m.transition(sent(), m.Start())
    assert (resumed.unknown, resumed.unknown_at) == (True, None)
    first = attrs.evolve(history(FAILED_AT), generation=1, later=(("r9", 0),))
    waiting, _ = m.transition(resumed, first)
    assert (waiting.stage, waiting.unknown_at) == (Stage.SUBMITTING, FAILED_AT)
    new, _ = m.transition(waiting, attrs.evolve(first, read_at=FAILED_AT + GRACE - 1))
    assert new.stage is Stage.SUBMITTING
    new, _ = m.transition(waiting, attrs.evolve(first, read_at=FAILED_AT + GRACE))
    assert (new.stage, new.reason) == (Stage.PLANNED, PROVEN)


def test_a_month_that_needed_attention_waits_again_instead() -> None:
    # An earlier run left it needing the user (a history that proved nothing); this run's
    # history would prove it absent, but only 5 s after the failure: it waits, polled.
    state = attrs.evolve(
        lost(), stage=Stage.NEEDS_ATTENTION, hint="adopt or resend", resume_to=Stage.SUBMITTED
    )
    new, _ = m.transition(state, history(FAILED_AT + 5))
    assert (new.stage, new.hint, new.resume_to) == (Stage.SUBMITTING, None, None)


def test_a_journal_written_before_unknown_at_existed_loads_without_it() -> None:
    import json

    written = json.loads(encode_state(lost()))
    del written["unknown_at"]
    assert decode_state(json.dumps(written)).unknown_at is None
