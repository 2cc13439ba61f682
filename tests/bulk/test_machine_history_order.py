"""A lost create is proven absent only where the history's order shows it lists by creation
between a request created after the create (the witness) and one created before it (the older
anchor) (review 9p #1).

The docs say "last 20, newest first" without saying newest by what (a GUESS). A short history
kept newest by period listed three requests for later periods made earlier, then February's
create, and hid January's made-then-lost create below them: every other check passed, and
January was billed twice. So the witness must be listed above the anchor, every entry from
one down to the other must show a readable `createdAt` (never increasing), and this run's
listed creates must be in reverse order of sending; otherwise nothing is proven (the month
needs the user, and nothing is sent for it). Money rule: when in doubt, no proof.
"""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from gigstack_async.bulk.store import decode_state, encode_state
from tests.bulk.test_absence_grace import FAILED_AT, GRACE, PROVEN, feb, lost

UNORDERED = "does not show it lists requests by creation"
MS = 1_717_200_000_000  # 2024-06-01 UTC, epoch ms


def at(minutes: int) -> str:
    """A readable `createdAt` (epoch ms as text) `minutes` after MS."""
    return str(MS + 60_000 * minutes)


def entry(request_id: str, created_at: str | None, start: date = date(2024, 12, 1)) -> m.Seen:
    """A received CFDI request as the history lists it (February's kind, another period)."""
    return attrs.evolve(feb(request_id), created_at=created_at, start=start)


def history(*entries: m.Seen, later: tuple[tuple[str, int], ...] = (("r9", 1),)) -> m.HistorySeen:
    """A history read after the grace; h1 was listed before January's create (the anchor)."""
    return m.HistorySeen(
        entries,
        generation=2,
        expected=tuple(i for i, _ in later),
        later=later,
        read_at=FAILED_AT + GRACE,
        grace=GRACE,
    )


def verdict(new: m.MonthState) -> tuple[Stage, bool]:
    return new.stage, UNORDERED in (new.reason or "")


def test_a_history_listed_by_creation_proves_the_create_absent() -> None:
    new, commands = m.transition(lost(), history(entry("r9", at(10)), entry("h1", at(0))))
    assert (new.stage, new.reason, new.resend_allowed) == (Stage.PLANNED, PROVEN, True)
    assert commands == ()


def test_a_witness_listed_below_the_older_anchor_proves_nothing() -> None:
    # kept newest by period: h1 (a request for December, made before January's create) tops
    # February's r9; January's create (made, its answer lost) ranks below both, cut off.
    new, commands = m.transition(lost(), history(entry("h1", at(0)), entry("r9", at(10))))
    assert verdict(new) == (Stage.NEEDS_ATTENTION, True)
    assert (new.unknown, new.resend_allowed) == (True, False)
    assert all(not isinstance(c, m.SendCreate) for c in commands)
    assert "journal resend 2024-01" in (new.hint or "")


def test_the_repro_order_short_history_by_period_proves_nothing() -> None:
    # review 9p #1 as the history listed it: Dec, Nov, Oct (made before), then February's r9.
    listed = (
        entry("h1", at(0), date(2024, 12, 1)),
        entry("h2", at(-1), date(2024, 11, 1)),
        entry("h3", at(-2), date(2024, 10, 1)),
        entry("r9", at(10), date(2024, 2, 1)),
    )
    state = attrs.evolve(lost(), history_before=("h1", "h2", "h3"))
    new, _ = m.transition(state, history(*listed))
    assert verdict(new) == (Stage.NEEDS_ATTENTION, True)


@pytest.mark.parametrize(
    "unreadable",
    [None, "", "x", "123456", "2024-06-01T00:05:00", "9999-12-31T23:59:59-14:00"],
)
def test_an_unreadable_created_at_between_witness_and_anchor_proves_nothing(
    unreadable: str | None,
) -> None:
    # read with `created_at_instant`: no unit, no offset or out of range is unknown, not order
    for listed in (
        (entry("r9", unreadable), entry("h1", at(0))),
        (entry("r9", at(10)), entry("h1", unreadable)),
        (entry("r9", at(10)), entry("x1", unreadable), entry("h1", at(0))),
    ):
        new, _ = m.transition(lost(), history(*listed))
        assert verdict(new) == (Stage.NEEDS_ATTENTION, True), listed
    # an unreadable one outside the span does not matter
    listed = (entry("r9", at(10)), entry("h1", at(0)), entry("x1", unreadable))
    assert m.transition(lost(), history(*listed))[0].stage is Stage.PLANNED


def test_a_newer_request_listed_between_witness_and_anchor_proves_nothing() -> None:
    # x1 was created after r9 yet listed below it: this history is not kept by creation
    listed = (entry("r9", at(10)), entry("x1", at(20)), entry("h1", at(0)))
    assert verdict(m.transition(lost(), history(*listed))[0]) == (Stage.NEEDS_ATTENTION, True)
    # equal createdAt values are no contradiction (non-increasing)
    listed = (entry("r9", at(10)), entry("x1", at(10)), entry("h1", at(0)))
    assert m.transition(lost(), history(*listed))[0].stage is Stage.PLANNED


def test_this_runs_creates_listed_out_of_sending_order_prove_nothing() -> None:
    # r8 was sent before r9 (both after January's), every createdAt agrees with the list, but
    # the run's own creates are listed oldest first: not by creation
    later = (("r8", 1), ("r9", 2))
    out_of_order = (entry("r8", at(10)), entry("r9", at(10)), entry("h1", at(0)))
    new, _ = m.transition(lost(), history(*out_of_order, later=later))
    assert verdict(new) == (Stage.NEEDS_ATTENTION, True)
    in_order = (entry("r9", at(11)), entry("r8", at(10)), entry("h1", at(0)))
    assert m.transition(lost(), history(*in_order, later=later))[0].stage is Stage.PLANNED


def test_one_witness_above_an_anchor_is_enough() -> None:
    # r9 listed below the anchor, but r8 (also after January's create) above it, all by time
    later = (("r8", 1), ("r9", 2))
    listed = (entry("r9", at(11)), entry("r8", at(10)), entry("h1", at(0)))
    assert m.transition(lost(), history(*listed, later=later))[0].stage is Stage.PLANNED
    listed = (entry("h1", at(20)), entry("r9", at(11)), entry("r8", at(10)))
    new, _ = m.transition(lost(), history(*listed, later=later))
    assert verdict(new) == (Stage.NEEDS_ATTENTION, True)


def test_a_rerun_witness_follows_the_same_rule() -> None:
    # the re-run path: the witness is journaled (`later_ids`), the run sends nothing itself
    waiting, _ = m.transition(
        lost(), attrs.evolve(history(entry("r9", at(10)), entry("h1", at(0))), read_at=FAILED_AT)
    )
    assert (waiting.stage, waiting.later_ids) == (Stage.SUBMITTING, ("r9",))
    resumed, _ = m.transition(decode_state(encode_state(waiting)), m.Start())
    by_period = attrs.evolve(
        history(entry("h1", at(0)), entry("r9", at(10)), later=()), generation=1
    )
    new, commands = m.transition(resumed, by_period)
    assert verdict(new) == (Stage.NEEDS_ATTENTION, True)
    assert all(not isinstance(c, m.SendCreate) for c in commands)
    by_creation = attrs.evolve(
        history(entry("r9", at(10)), entry("h1", at(0)), later=()), generation=1
    )
    assert m.transition(resumed, by_creation)[0].stage is Stage.PLANNED
