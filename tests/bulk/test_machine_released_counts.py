"""A month that takes from the history a request another month released counts the SAT
downloads that month spent on its packages (review 9s B).

August adopted September's request X by mistake, downloaded X_01 (SAT's 1st download) and its
content check released X. September's lost create is then found in the history as X: before,
September counted only its own downloads of X_01, so after one failed GET of its own it sent
SAT's 3rd (5008) and then needed a billed resend. `journal adopt` already carried the count
(`Adopt.downloads`); now every way of taking a released request does.
"""

from __future__ import annotations

import attrs

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from tests.bulk._september import RELEASED, SEP
from tests.bulk._september import lost as _lost
from tests.bulk._september import seen as _x


def test_a_lost_create_found_as_a_released_request_counts_its_downloads() -> None:
    history = m.HistorySeen((_x(), m.Seen("h1")), generation=2, released=(RELEASED,))
    state, _ = m.transition(_lost(), history)
    assert state.request_id == "X"
    assert state.downloads_of("X_01") == 1  # August's GET: SAT counts it for X_01
    assert state.foreign == ()  # the journal counted it: known, not unknown
    alone, _ = m.transition(_lost(), m.HistorySeen((_x(), m.Seen("h1")), generation=2))
    # Nothing released: nothing to carry, but not proven the lost create (review 9w #12):
    # one download counted unsure once its packages are known.
    assert alone.downloads_of("X_01") == 1
    assert alone.unsure_of("X_01") == 1


def test_sat_5005s_active_request_released_by_another_month_counts_its_downloads() -> None:
    duplicate = m.MonthState(
        *SEP, "received", "cfdi", stage=Stage.DUPLICATE, need_generation=1, creates=1
    )
    history = m.HistorySeen((_x("processing"),), generation=2, released=(RELEASED,))
    state, _ = m.transition(duplicate, history)
    assert state.request_id == "X"
    assert state.downloads_of("X_01") == 1


def test_gigstacks_duplicate_answer_naming_a_released_request_counts_its_downloads() -> None:
    """Review 9t #1: the fourth way of taking a released request (the create answered
    `duplicate: true` with its id) counted nothing, and after one GET of its own the month
    sent SAT's 3rd once the user re-adopted it."""
    sending, _ = m.transition(m.MonthState(*SEP, "received", "cfdi"), m.Send(("h1",), generation=1))
    state, _ = m.transition(sending, m.Created("X", True, released=(RELEASED,)))
    assert state.request_id == "X"
    assert state.downloads_of("X_01") == 1
    fresh, _ = m.transition(sending, m.Created("X", True))
    assert fresh.downloads_of("X_01") == 0
    # ... and its own GET after that makes 2: a re-adopt carrying August's 1 keeps 2
    counted = attrs.evolve(state, downloads=(("X_01", 2),))
    again, _ = m.transition(counted, m.Adopt("X", downloads=(("X_01", 1),)))
    assert again.downloads_of("X_01") == 2


def test_a_duplicate_answer_naming_a_request_another_month_follows_needs_the_user() -> None:
    """Review 9u #2: one request is downloaded for one month."""
    sending, _ = m.transition(
        m.MonthState(*SEP, "received", "cfdi", creates=1), m.Send(("h1",), generation=1)
    )
    state, commands = m.transition(sending, m.Created("X", True, journal_ids=(("2024-08", "X"),)))
    assert commands == ()
    assert state.stage is Stage.NEEDS_ATTENTION
    assert state.request_id is None
    assert "X" not in state.known_ids
    assert state.downloads == ()
    assert state.reason == (
        "gigstack answered that an identical request exists, X, and 2024-08 of this journal "
        "follows it: a request is downloaded for one month, so nothing was downloaded for this "
        "one (nothing new was created)"
    )
    assert state.hint == (
        "if X is this month's (its dates and type are 2024-09-01..2024-09-30), give 2024-08 its "
        "own request first (`gigstack-async journal adopt 2024-08 <its request id>`), then "
        "`gigstack-async journal adopt 2024-09 X`"
    )
    assert m.transition(state, m.Send(("h1",), generation=2)) == (state, ())


def test_a_lost_create_is_never_taken_as_a_request_another_month_follows() -> None:
    """Review 9v #1: August follows September's request X (a mistaken adopt); September's
    lost create found X in the history and took it, both downloaded X_01: SAT's 3rd GET."""
    history = m.HistorySeen((_x(), m.Seen("h1")), generation=2, journal_ids=(("2024-08", "X"),))
    state, commands = m.transition(_lost(), history)
    assert commands == ()
    assert state.stage is Stage.NEEDS_ATTENTION
    assert state.request_id is None
    assert state.reason is not None
    assert "candidate: X" in state.reason
    assert "X is followed by 2024-08 of this journal" in state.reason
    # released, it is free to take (with its counts)
    free, _ = m.transition(_lost(), m.HistorySeen((_x(), m.Seen("h1")), generation=2))
    assert free.request_id == "X"


def test_who_else_has_a_request_is_one_rule_for_the_three_ways_of_taking_it() -> None:
    """A duplicate answer, SAT 5005's active request and a lost create found in the history all
    read the other months that have a request from the same (month key, request id) pairs
    (`Created.journal_ids`, `HistorySeen.journal_ids`): every such month is named, and the
    month's own pair is no other month's."""
    others = (("2024-07", "X"), ("2024-08", "X"), ("2024-09", "Y"))
    sending, _ = m.transition(m.MonthState(*SEP, "received", "cfdi"), m.Send(("h1",), generation=1))
    dup, _ = m.transition(sending, m.Created("X", True, journal_ids=others))
    assert dup.stage is Stage.NEEDS_ATTENTION
    assert dup.reason is not None
    assert "X, and 2024-07, 2024-08 of this journal follows it" in dup.reason
    own, _ = m.transition(sending, m.Created("Y", True, journal_ids=others))
    assert own.request_id == "Y"  # the month's own pair: not another month's
    duplicate = m.MonthState(
        *SEP, "received", "cfdi", stage=Stage.DUPLICATE, need_generation=1, creates=1
    )
    seen, _ = m.transition(duplicate, m.HistorySeen((_x("processing"),), 2, journal_ids=others))
    assert seen.stage is Stage.NEEDS_ATTENTION
    assert seen.reason is not None
    assert "X matches it, but it is 2024-07 and 2024-08's in this journal" in seen.reason
    lost, _ = m.transition(_lost(), m.HistorySeen((_x(), m.Seen("h1")), 2, journal_ids=others))
    assert lost.request_id is None
    assert lost.reason is not None
    assert "followed by 2024-07 and 2024-08 of this journal" in lost.reason
