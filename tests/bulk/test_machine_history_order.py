"""No order of the history proves a lost create absent (review 9p #1, then 9q #1).

The docs say "last 20, newest first" without saying newest by what (a GUESS). A short history
kept newest by period listed three requests for later periods made earlier, then February's
create, and hid January's made-then-lost create below them: January was billed twice. A rule
that then demanded a witness (a request created after the create) listed above an older
anchor, every `createdAt` between them readable and non-increasing, was beaten again (9q #1).
So no listing proves anything: each history below once "proved" January absent and sent it
again; now the month needs the user, nothing is sent for it, a later history that lists the
create adopts it, and `journal resend` sends it exactly once.
"""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from gigstack_async.bulk.store import decode_state, encode_state

JAN = (date(2024, 1, 1), date(2024, 1, 31))
FEB = (date(2024, 2, 1), date(2024, 2, 29))
CANNOT_TELL = "a create request may have been billed but the history cannot tell whether it arrived"
MS = 1_717_200_000_000  # 2024-06-01 UTC, epoch ms


def at(minutes: int) -> str:
    """A readable `createdAt` (epoch ms as text) `minutes` after MS."""
    return str(MS + 60_000 * minutes)


def entry(request_id: str, created_at: str | None, start: date = date(2024, 12, 1)) -> m.Seen:
    """A received CFDI request as the history lists it (not January's period)."""
    return m.Seen(request_id, "pending", "received", "cfdi", start, FEB[1], created_at=created_at)


def lost() -> m.MonthState:
    """January after its create (h1 listed before it) was answered 502."""
    state = m.MonthState("2024-01", *JAN, "received", "cfdi")
    state, commands = m.transition(state, m.Send(("h1",), generation=1))
    assert commands == (m.SendCreate("2024-01"),)
    state, _ = m.transition(state, m.CreateUnknown("HTTP 502", generation=1))
    return state


def history(*entries: m.Seen, expected: tuple[str, ...] = ("r9",)) -> m.HistorySeen:
    """A history read after the create failed; h1 was listed before January's create."""
    return m.HistorySeen(entries, generation=2, expected=expected)


def needs_the_user(state: m.MonthState, commands: tuple[m.Command, ...]) -> bool:
    return (
        state.stage is Stage.NEEDS_ATTENTION
        and (state.unknown, state.resend_allowed, state.creates) == (True, False, 1)
        and CANNOT_TELL in (state.reason or "")
        and "journal resend 2024-01" in (state.hint or "")
        and not any(isinstance(c, m.SendCreate) for c in commands)
    )


FORMERLY_PROVEN = [
    pytest.param((entry("r9", at(10)), entry("h1", at(0))), ("r9",), id="listed by creation"),
    pytest.param(
        (entry("r9", at(10)), entry("h1", at(0)), entry("x1", None)),
        ("r9",),
        id="an unreadable createdAt outside the span",
    ),
    pytest.param(
        (entry("r9", at(10)), entry("x1", at(10)), entry("h1", at(0))),
        ("r9",),
        id="equal createdAt values between witness and anchor",
    ),
    pytest.param(
        (entry("r9", at(11)), entry("r8", at(10)), entry("h1", at(0))),
        ("r8", "r9"),
        id="this run's two creates in reverse order of sending",
    ),
]


@pytest.mark.parametrize(("listed", "expected"), FORMERLY_PROVEN)
def test_a_history_listed_by_creation_proves_nothing(
    listed: tuple[m.Seen, ...], expected: tuple[str, ...]
) -> None:
    new, commands = m.transition(lost(), history(*listed, expected=expected))
    assert needs_the_user(new, commands)
    assert m.transition(new, m.Send(("h1", *expected), generation=3))[1] == ()
    # the create listed late (review 9l #1): adopted, not sent again
    mine = m.Seen("j1", "pending", "received", "cfdi", *JAN, created_at=at(5))
    late = history(listed[0], mine, *listed[1:], expected=expected)
    adopted, commands = m.transition(new, attrs.evolve(late, generation=3))
    assert (adopted.stage, adopted.request_id, adopted.creates, commands) == (
        Stage.SUBMITTED,
        "j1",
        1,
        (),
    )
    # or the user allows one more create: exactly one is sent
    allowed, _ = m.transition(new, m.AllowResend())
    resent, commands = m.transition(allowed, m.Send(("h1", *expected), generation=3))
    assert (commands, resent.creates) == ((m.SendCreate("2024-01"),), 2)
    assert m.transition(resent, m.Send(("h1", *expected), generation=4))[1] == ()


def test_the_repro_order_short_history_by_period_proves_nothing() -> None:
    # review 9p #1 as the history listed it: Dec, Nov, Oct (made before), then February's r9.
    listed = (
        entry("h1", at(0), date(2024, 12, 1)),
        entry("h2", at(-1), date(2024, 11, 1)),
        entry("h3", at(-2), date(2024, 10, 1)),
        entry("r9", at(10), date(2024, 2, 1)),
    )
    state = attrs.evolve(lost(), history_before=("h1", "h2", "h3"))
    new, commands = m.transition(state, history(*listed))
    assert needs_the_user(new, commands)


def test_a_rerun_proves_nothing_either() -> None:
    # a run stopped with January unknown; the next run's first history lists a request made
    # after it above the older one, by creation (once a journaled witness proved it absent)
    first, _ = m.transition(lost(), history(entry("h1", at(0))))
    resumed, commands = m.transition(decode_state(encode_state(first)), m.Start())
    assert commands == ()
    by_creation = attrs.evolve(history(entry("r9", at(10)), entry("h1", at(0))), generation=1)
    new, commands = m.transition(resumed, by_creation)
    assert needs_the_user(new, commands)
