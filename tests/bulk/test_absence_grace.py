"""A lost create is never proven absent by a history that does not list it, however long after
its failed answer that history is read.

Before, such a history (the request listed before the create still listed, February's create
made after it listed above, nothing that could be January's) "proved" January absent once
`ABSENCE_GRACE` (600 s on our clock) had passed, and January was sent again: review 9l #1
showed a record listed after a later create's, reviews 9p #1 and 9q #1 histories that hide
one for good, each billing twice. Now the month needs the user (dashboard, then `journal
adopt` or `journal resend`): nothing is sent until `AllowResend`, which sends it exactly once,
and a history that lists the create later adopts it. Money rule: unknown is never absent.
"""

from __future__ import annotations

import json
from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from gigstack_async.bulk.store import decode_state, encode_state

JAN = (date(2024, 1, 1), date(2024, 1, 31))
FEB = (date(2024, 2, 1), date(2024, 2, 29))
CANNOT_TELL = "a create request may have been billed but the history cannot tell whether it arrived"
PROVEN = "the history proved the last create never arrived"  # the removed proof's reason


def feb(request_id: str, created_at: str | None = None) -> m.Seen:
    return m.Seen(request_id, "pending", "received", "cfdi", FEB[0], FEB[1], created_at=created_at)


def sent() -> m.MonthState:
    """January, its create just sent (h1 listed before it)."""
    state = m.MonthState("2024-01", *JAN, "received", "cfdi", stage=Stage.PLANNED)
    state = attrs.evolve(state, resend_allowed=True)
    new, commands = m.transition(state, m.Send(("h1",), generation=1))
    assert commands == (m.SendCreate("2024-01"),)
    return new


def lost() -> m.MonthState:
    """January after its create was answered 502."""
    new, _ = m.transition(sent(), m.CreateUnknown("HTTP 502", generation=1))
    assert (new.stage, new.unknown, new.resend_allowed) == (Stage.SUBMITTING, True, False)
    return new


def history(*entries: m.Seen) -> m.HistorySeen:
    """The history that used to prove January absent once the grace was over: February's r9
    (created after January's create) above h1 (listed before it), newest first by a readable
    `createdAt`, every request this run made listed, nothing that could be January's."""
    listed = entries or (feb("r9", "1717200000000"), feb("h1", "1717199940000"))
    return m.HistorySeen(listed, generation=2, expected=("r9",))


def needs_the_user(state: m.MonthState, commands: tuple[m.Command, ...]) -> None:
    assert (state.stage, state.unknown, state.resend_allowed) == (
        Stage.NEEDS_ATTENTION,
        True,
        False,
    )
    assert CANNOT_TELL in (state.reason or ""), state.reason
    assert "does not list it, and that proves nothing" in (state.reason or "")
    assert PROVEN not in (state.reason or "")
    assert "journal adopt 2024-01" in (state.hint or "")
    assert "journal resend 2024-01" in (state.hint or "")
    assert all(not isinstance(c, m.SendCreate) for c in commands)


def test_the_history_that_proved_it_absent_now_needs_the_user() -> None:
    new, commands = m.transition(lost(), history())
    needs_the_user(new, commands)
    assert new.creates == 1
    # the next history, however much later, proves nothing either: still nothing sent
    again, commands = m.transition(new, attrs.evolve(history(), generation=3))
    needs_the_user(again, commands)
    # ... and a run's Send does not send it
    _, commands = m.transition(again, m.Send(("h1", "r9"), generation=3))
    assert commands == ()


def test_only_the_users_resend_sends_it_again_exactly_once() -> None:
    waiting, _ = m.transition(lost(), history())
    allowed, _ = m.transition(waiting, m.AllowResend())
    assert (allowed.stage, allowed.resend_allowed) == (Stage.PLANNED, True)
    resent, commands = m.transition(allowed, m.Send(("h1", "r9"), generation=3))
    assert commands == (m.SendCreate("2024-01"),)
    assert resent.creates == 2
    # that one allowance is used: a second Send sends nothing
    _, commands = m.transition(resent, m.Send(("h1", "r9"), generation=4))
    assert commands == ()


def test_the_record_showing_up_later_is_adopted() -> None:
    waiting, _ = m.transition(lost(), history())
    late = m.Seen("r8", "pending", "received", "cfdi", *JAN)  # January's, listed late
    new, commands = m.transition(
        waiting, attrs.evolve(history(late, feb("r9"), feb("h1")), generation=3)
    )
    assert (new.stage, new.request_id, new.unknown) == (Stage.SUBMITTED, "r8", False)
    assert all(not isinstance(c, m.SendCreate) for c in commands)


def test_the_record_showing_up_on_a_later_run_is_adopted() -> None:
    waiting, _ = m.transition(lost(), history())
    # the run ends; a later run starts from the journal
    resumed, _ = m.transition(decode_state(encode_state(waiting)), m.Start())
    assert (resumed.unknown, resumed.resend_allowed) == (True, False)
    late = m.Seen("r8", "pending", "received", "cfdi", *JAN)
    new, _ = m.transition(resumed, attrs.evolve(history(late, feb("r9")), generation=1))
    assert (new.stage, new.request_id, new.unknown) == (Stage.SUBMITTED, "r8", False)


def test_a_create_in_flight_when_the_run_died_needs_the_user_too() -> None:
    # killed while the create was in flight: the next run cannot tell whether it arrived
    resumed, _ = m.transition(decode_state(encode_state(sent())), m.Start())
    assert (resumed.stage, resumed.unknown) == (Stage.SUBMITTING, True)
    new, commands = m.transition(resumed, attrs.evolve(history(), generation=1))
    needs_the_user(new, commands)
    assert "a run stopped while the create request was in flight" in (new.reason or "")


@pytest.mark.parametrize(
    "old",
    [
        # a month waiting out the old grace, journaled by the version that had it
        {
            "unknown_at": 1_800_000_000.0,
            "later_ids": ["r9"],
            "attempt_seq": 0,
            "before_created": [["h1", "1717199940000"]],
            "reason": "waiting until 08:10:00 UTC before resending: a lost create can appear "
            "late in the history, and this one shows no sign of it yet",
        },
        {"unknown_at": None, "later_ids": [], "attempt_seq": -1, "before_created": []},
    ],
)
def test_a_journal_written_while_the_grace_existed_loads_and_never_resends(
    old: dict[str, object],
) -> None:
    written = json.loads(encode_state(lost()))
    written.update(old)
    reloaded = decode_state(json.dumps(written))
    resumed, _ = m.transition(reloaded, m.Start())
    assert (resumed.stage, resumed.unknown) == (Stage.SUBMITTING, True)
    # the first history of the new run (read long after the old grace): not resent
    new, commands = m.transition(resumed, attrs.evolve(history(), generation=1))
    needs_the_user(new, commands)
