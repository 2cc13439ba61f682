"""A request taken from outside this journal (review 9u #3): gigstack's `duplicate: true`
answer, SAT 5005's active request, or `journal adopt` into a month that never sent anything,
naming a request no month of the journal knows (made by another folder, another machine or
gigstack's dashboard). How many of SAT's 2 downloads of its packages were spent there is
unknown, never zero: the month makes at most ONE GET of each package by itself and never
retries it; after that, `journal retry-download` (free: SAT answers 5008 for a package served
twice). Before, a duplicate or 5005 month counted 0 and sent 2 GETs (SAT's 3rd and 4th when the
other folder had spent its two), while `journal adopt` assumed both spent and sent none.
"""

from __future__ import annotations

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from tests.bulk._september import RELEASED, SEP
from tests.bulk._september import seen as _x


def _sending() -> m.MonthState:
    state, _ = m.transition(m.MonthState(*SEP, "received", "cfdi"), m.Send(("h1",), generation=1))
    return state


def _duplicate(**kwargs: object) -> m.MonthState:
    state, _ = m.transition(_sending(), m.Created("X", True, **kwargs))  # type: ignore[arg-type]
    return state


def _5005(**kwargs: object) -> m.MonthState:
    waiting = m.MonthState(
        *SEP, "received", "cfdi", stage=Stage.DUPLICATE, need_generation=1, creates=1
    )
    history = m.HistorySeen((_x("processing"),), generation=2, **kwargs)  # type: ignore[arg-type]
    state, _ = m.transition(waiting, history)
    return state


def _adopted() -> m.MonthState:
    held = m.MonthState(*SEP, "received", "cfdi")
    state, _ = m.transition(held, m.Adopt("X", foreign=True))
    return state


TAKEN = {"duplicate": _duplicate, "5005": _5005, "adopt": _adopted}


def _completed(state: m.MonthState) -> tuple[m.MonthState, tuple[m.Command, ...]]:
    assert state.request_id == "X"
    return m.transition(state, m.StatusSeen(_x()))


@pytest.mark.parametrize("way", sorted(TAKEN))
def test_a_request_made_elsewhere_gets_one_get_of_each_package(way: str) -> None:
    state = TAKEN[way]()
    assert state.foreign == ("X",)
    assert state.uncounted == ()  # not "both spent": one GET is allowed
    state, commands = _completed(state)
    assert commands == (m.FetchPackage("X_01", 2),)  # its first GET here, maybe SAT's 2nd
    assert state.downloads_of("X_01") == 1  # the one that may have been spent elsewhere
    assert state.unsure_of("X_01") == 1
    state, _ = m.transition(state, m.PackageSending("X_01"))
    failed, commands = m.transition(state, m.PackageFailed("X_01", "body broke off", reached=True))
    assert commands == ()  # never retried by itself
    assert failed.stage is Stage.NEEDS_ATTENTION
    assert failed.blocked_package == "X_01"
    assert failed.hint is not None
    assert "journal retry-download 2024-09" in failed.hint
    assert failed.reason is not None
    assert "made outside this journal" in failed.reason
    assert "SAT may already have served it twice" in failed.reason
    # The next run sends nothing either: only the user's word allows one more GET.
    again, commands = m.transition(failed, m.Start())
    assert not any(isinstance(c, m.FetchPackage) for c in commands)
    allowed, _ = m.transition(again, m.AllowDownload())
    assert (allowed.stage, allowed.allowed_of("X_01")) == (Stage.COMPLETED, 3)


@pytest.mark.parametrize("way", sorted(TAKEN))
def test_a_request_made_elsewhere_that_sat_says_is_spent_names_where(way: str) -> None:
    state, _ = _completed(TAKEN[way]())
    state, _ = m.transition(state, m.PackageSending("X_01"))
    spent, commands = m.transition(state, m.PackageFailed("X_01", "SAT 5008", code=5008))
    assert commands == ()
    assert spent.stage is Stage.NEEDS_ATTENTION
    assert spent.reason is not None
    assert "made outside this journal" in spent.reason


def test_a_request_made_elsewhere_downloads_once_when_it_works() -> None:
    state, _ = _completed(_duplicate())
    state, _ = m.transition(state, m.PackageSending("X_01"))
    assert state.downloads_of("X_01") == 2


def test_a_request_another_month_released_carries_its_counts_and_is_not_foreign() -> None:
    """The journal knows what it spent on a request it released: counted, not unknown."""
    duplicate = _duplicate(released=(RELEASED,))
    active = _5005(released=(RELEASED,))
    for state in (duplicate, active):
        assert state.foreign == ()
        assert state.downloads_of("X_01") == 1
        completed, commands = _completed(state)
        assert commands == (m.FetchPackage("X_01", 2),)
        assert completed.downloads_of("X_01") == 1


def test_a_foreign_request_is_logged_uncounted() -> None:
    """The log keeps no `foreign`: a record rebuilt from it takes the request's downloads as
    uncounted (both assumed spent), never as zero."""
    state, _ = _completed(_duplicate())
    assert m.Counts.of(state).uncounted == ("X",)
    assert m.Counts.of(_duplicate()).uncounted == ("X",)
    assert m.Counts.of(_duplicate(released=(RELEASED,))).uncounted == ()


def test_a_held_month_adopting_a_request_no_month_knows_is_foreign() -> None:
    held = m.MonthState(*SEP, "received", "cfdi")
    assert m.made_elsewhere(held, (), "X")
    state, _ = m.transition(held, m.Adopt("X", foreign=True))
    assert (state.foreign, state.uncounted) == (("X",), ())
    # A month whose record was lost: both of SAT's downloads assumed spent, as before.
    lost = m.MonthState(*SEP, "received", "cfdi", counts_lost=True)
    state, _ = m.transition(lost, m.Adopt("X", foreign=True))
    assert state.uncounted == ("X",)
    _, commands = _completed(state)
    assert not any(isinstance(c, m.FetchPackage) for c in commands)


def test_a_month_whose_counts_were_lost_takes_a_duplicate_uncounted() -> None:
    """As `journal adopt` does: its lost record may have spent both of SAT's downloads of a
    request it had (before, the duplicate answer counted 0)."""
    lost = attrs.evolve(_sending(), counts_lost=True)
    state, _ = m.transition(lost, m.Created("X", True))
    assert (state.uncounted, state.foreign) == (("X",), ())
    _, commands = _completed(state)
    assert not any(isinstance(c, m.FetchPackage) for c in commands)


def test_a_duplicate_naming_the_months_own_request_is_not_foreign() -> None:
    """gigstack's duplicate answer to a resend naming the month's own earlier request: this
    journal counted every download of it, so it keeps its count (no GET assumed spent)."""
    own = m.MonthState(
        *SEP, "received", "cfdi", request_id="X", known_ids=("X",), downloads=(("X_01", 1),)
    )
    sending, _ = m.transition(own, m.Send(("h1",), generation=1))
    state, _ = m.transition(sending, m.Created("X", True))
    assert (state.request_id, state.foreign, state.uncounted) == ("X", (), ())
    assert state.downloads_of("X_01") == 1


MADE_OUTSIDE = (
    "request X was made outside this journal (by another folder, another machine or "
    "gigstack's dashboard), which may already have downloaded its packages: how many of SAT's "
    "2 downloads it spent is unknown"
)


def test_the_counts_of_a_request_made_elsewhere_say_what_is_known() -> None:
    """`journal show`, the blocked reason and `journal retry-download` read these words."""
    before, _ = _completed(_duplicate())
    assert m.counted_downloads(before, "X_01") == (
        f"one of SAT's 2 downloads assumed spent and 0 sent here: {MADE_OUTSIDE}, so this "
        "journal sends at most one GET of each of its packages by itself"
    )
    sent, _ = m.transition(before, m.PackageSending("X_01"))
    assert m.counted_downloads(sent, "X_01") == (
        f"one of SAT's 2 downloads assumed spent and 1 sent here: {MADE_OUTSIDE}, so this "
        "journal sends at most one GET of each of its packages by itself; that GET brought no "
        "complete package, so SAT may already have served it twice"
    )
    # Past SAT's 2 (the user's retry-download sent one more): the plain count of an extra GET.
    extra = attrs.evolve(sent, downloads=(("X_01", 3),), unsure=(("X_01", 2),))
    assert m.counted_downloads(extra, "X_01").startswith("3 downloads counted (1 more than")
    spent, _ = m.transition(sent, m.PackageFailed("X_01", "SAT 5008", code=5008))
    assert spent.reason == (
        f"SAT 5008: package X_01 was already downloaded the maximum times ({MADE_OUTSIDE}: "
        "there it was downloaded twice, and its files may be in that folder)"
    )
