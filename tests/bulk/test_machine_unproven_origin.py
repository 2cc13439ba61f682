"""Review 9w #7 and #12, pure: a request whose origin is not proven to be the month's own
create counts as one taken from outside this journal (`MonthState.foreign`): one download of
each package counted unsure, so the month sends at most one GET of it by itself. Not proven:
an id the user adopts that the month never had (also after its create lost its answer), and
the one fitting request the history lists to settle a create whose outcome is unknown
(`unproven`: it may be that create or another folder's). Proven: an id the create's own answer
gave (`known_ids`). Releases carry the mark (`ReleasedRequest.foreign`), and so does the log."""

from __future__ import annotations

import json

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from gigstack_async.bulk.store import _log_released
from tests.bulk._september import SEP
from tests.bulk._september import lost as _lost
from tests.bulk._september import seen as _x


def _reconciled(**kwargs: object) -> m.MonthState:
    history = m.HistorySeen((m.Seen("h1"), _x()), generation=2, **kwargs)  # type: ignore[arg-type]
    state, _ = m.transition(_lost(), history)
    assert state.request_id == "X"
    return state


def test_an_id_the_month_never_had_is_made_elsewhere_also_after_a_create() -> None:
    held = m.MonthState(*SEP, "received", "cfdi")
    assert m.made_elsewhere(held, (), "X")
    assert m.made_elsewhere(_lost(), (), "X")  # review 9w #7: was False (creates > 0)
    assert m.made_elsewhere(_lost(known_ids=("Y",)), (), "X")
    assert not m.made_elsewhere(_lost(known_ids=("X",)), (), "X")  # the create's own answer
    assert not m.made_elsewhere(_lost(), ("X",), "X")  # another month knows it
    assert not m.made_elsewhere(held, ("Z", "X"), "X")


def test_an_adopt_after_a_lost_create_gets_one_get_and_says_it_is_not_proven() -> None:
    state, _ = m.transition(_lost(), m.Adopt("X", foreign=True))
    assert (state.foreign, state.unproven, state.uncounted) == (("X",), ("X",), ())
    state, commands = m.transition(state, m.StatusSeen(_x()))
    assert commands == (m.FetchPackage("X_01", 2),)
    assert (state.downloads_of("X_01"), state.unsure_of("X_01")) == (1, 1)
    assert m.counted_downloads(state, "X_01").startswith(
        "one of SAT's 2 downloads assumed spent and 0 sent here: request X is not proven to be "
        "this month's own create (adopted after a create whose answer was lost): it "
        "may have been made outside this journal (by another folder, another machine or "
        "gigstack's dashboard)"
    )
    state, _ = m.transition(state, m.PackageSending("X_01"))
    spent, commands = m.transition(state, m.PackageFailed("X_01", "SAT 5008", code=5008))
    assert commands == ()
    assert spent.stage is Stage.NEEDS_ATTENTION
    assert spent.reason == (
        "SAT 5008: package X_01 was already downloaded the maximum times (request X is not "
        "proven to be this month's own create (adopted after a create whose answer was lost): "
        "it may have been made outside this journal (by another folder, another "
        "machine or gigstack's dashboard), which may already have downloaded its packages: how "
        "many of SAT's 2 downloads were spent is unknown: there it was downloaded twice, and "
        "its files may be in that folder)"
    )
    assert spent.hint is not None
    assert "journal resend 2024-09" in spent.hint


def test_an_adopt_into_a_held_month_says_made_outside_not_unproven() -> None:
    held = m.MonthState(*SEP, "received", "cfdi")
    state, _ = m.transition(held, m.Adopt("X", foreign=True))
    assert (state.foreign, state.unproven) == (("X",), ())
    state, _ = m.transition(state, m.StatusSeen(_x()))
    assert "request X was made outside this journal" in m.counted_downloads(state, "X_01")


def test_an_uncounted_adopt_after_a_lost_create_stays_uncounted() -> None:
    state, _ = m.transition(_lost(), m.Adopt("X", uncounted=True, foreign=True))
    assert (state.uncounted, state.foreign, state.unproven) == (("X",), (), ())


def test_the_months_own_id_confirmed_keeps_its_two_downloads() -> None:
    waiting = _lost(stage=Stage.SUBMITTED, unknown=False, request_id="X", known_ids=("X",))
    state, _ = m.transition(waiting, m.Adopt("X", foreign=False))
    assert (state.foreign, state.unproven) == ((), ())
    _, commands = m.transition(state, m.StatusSeen(_x()))
    assert commands == (m.FetchPackage("X_01", 1),)


def test_a_lost_create_settled_by_the_history_counts_one_unsure() -> None:
    state = _reconciled()
    assert (state.foreign, state.unproven) == (("X",), ("X",))
    assert (state.downloads_of("X_01"), state.unsure_of("X_01")) == (1, 1)
    assert state.stage is Stage.COMPLETED
    # Its one GET, when it works, is all it needs: done with no user step.
    state, _ = m.transition(state, m.PackageSending("X_01"))
    assert state.downloads_of("X_01") == 2
    # It failing is never retried by itself.
    failed, commands = m.transition(state, m.PackageFailed("X_01", "broke off", reached=True))
    assert commands == ()
    assert failed.stage is Stage.NEEDS_ATTENTION
    assert failed.hint is not None
    assert "journal retry-download 2024-09" in failed.hint


def test_a_lost_create_whose_counts_were_lost_settles_uncounted() -> None:
    history = m.HistorySeen((m.Seen("h1"), _x()), generation=2)
    state, commands = m.transition(_lost(counts_lost=True), history)
    assert (state.uncounted, state.foreign, state.unproven) == (("X",), (), ())
    assert not any(isinstance(c, m.FetchPackage) for c in commands)


@pytest.mark.parametrize("foreign", [False, True])
def test_a_released_request_settling_a_lost_create_carries_its_mark(foreign: bool) -> None:
    released = m.ReleasedRequest("X", (("X_01", 1),), (("X_01", 1),), foreign)
    state = _reconciled(released=(released,))
    assert state.downloads_of("X_01") == 1
    assert state.unsure_of("X_01") == 1
    assert state.foreign == (("X",) if foreign else ())
    assert state.unproven == state.foreign


def _sending() -> m.MonthState:
    state, _ = m.transition(m.MonthState(*SEP, "received", "cfdi"), m.Send(("h1",), generation=1))
    return state


def test_a_duplicate_or_5005_naming_a_released_foreign_request_stays_foreign() -> None:
    """Review 9w: released before any GET, it carried no count and no mark: 0 downloads."""
    released = (m.ReleasedRequest("X", (), (), foreign=True),)
    duplicate, _ = m.transition(_sending(), m.Created("X", True, released=released))
    waiting = m.MonthState(
        *SEP, "received", "cfdi", stage=Stage.DUPLICATE, need_generation=1, creates=1
    )
    active, _ = m.transition(
        waiting, m.HistorySeen((_x("processing"),), generation=2, released=released)
    )
    for state in (duplicate, active):
        assert state.foreign == ("X",)
        _, commands = m.transition(state, m.StatusSeen(_x()))
        assert commands == (m.FetchPackage("X_01", 2),)
    plain = (m.ReleasedRequest("X", (), ()),)
    duplicate, _ = m.transition(_sending(), m.Created("X", True, released=plain))
    assert duplicate.foreign == ()


def test_a_release_keeps_the_foreign_mark() -> None:
    state, _ = m.transition(_lost(), m.Adopt("X", foreign=True))
    state, _ = m.transition(state, m.StatusSeen(_x()))
    moved, _ = m.transition(state, m.Adopt("Y", foreign=True))
    assert moved.released == (m.ReleasedRequest("X", (("X_01", 1),), (("X_01", 1),), True),)
    own = _lost(stage=Stage.SUBMITTED, unknown=False, request_id="Z", known_ids=("Z",))
    moved, _ = m.transition(own, m.Adopt("Y", foreign=True))
    assert moved.released == (m.ReleasedRequest("Z"),)
    # A record written before the mark was kept: `foreign` still says it.
    old = attrs.evolve(state, released=(m.ReleasedRequest("X"),))
    assert old.released_marked() == (m.ReleasedRequest("X", foreign=True),)
    assert attrs.evolve(old, foreign=()).released_marked() == (m.ReleasedRequest("X"),)


def test_the_log_keeps_the_mark_and_an_old_line_reads_it_as_foreign() -> None:
    mark = {"id": "X", "downloads": [["X_01", 1]], "unsure": []}
    assert _log_released(json.dumps({"released": [mark | {"foreign": False}]})) == (
        m.ReleasedRequest("X", (("X_01", 1),)),
    )
    assert _log_released(json.dumps({"released": [mark | {"foreign": True}]})) == (
        m.ReleasedRequest("X", (("X_01", 1),), foreign=True),
    )
    # Written before the mark was kept: unknown, never zero.
    assert _log_released(json.dumps({"released": [mark]})) == (
        m.ReleasedRequest("X", (("X_01", 1),), foreign=True),
    )
    assert _log_released(json.dumps({"counts": {}})) is None


def test_a_lost_create_settled_by_the_history_says_it_is_very_likely_its_own() -> None:
    # r2 N2: a single-folder user's own create, its answer lost, read "request X is not proven
    # to be this month's own create ... it may have been made outside this journal (by another
    # folder, another machine or gigstack's dashboard)".
    state = _reconciled()
    assert state.from_history == ("X",)
    said = m.counted_downloads(state, "X_01")
    assert said == (
        "the create's answer was lost; request X, the history's one matching request, made "
        "after it was sent, is very likely it; to be safe one of SAT's 2 downloads of its "
        "package is counted as spent elsewhere, and 0 sent here, so this journal sends at most "
        "one GET of each of its packages by itself"
    )
    assert "outside this journal" not in said
    assert "another folder" not in said


def test_missing_files_of_a_lost_creates_request_give_the_true_reason_and_what_is_left() -> None:
    # r2 N2: its package's one GET was a clean 200; the MISSING FILES hint said "(a counted
    # download may not have reached SAT, so SAT may serve it once more ...)".
    state = _reconciled()
    state, _ = m.transition(state, m.PackageSending("X_01"))
    state, _ = m.transition(state, m.PackageStaged(m.StagedFile("X_01", "X_01.zip", "0" * 64, 9)))
    done = attrs.evolve(
        state,
        stage=Stage.DONE,
        extracted=(m.ExtractedPackage("X_01", ("a.xml", "b.xml")),),
        reason="every package extracted",
        hint=None,
    )
    assert (done.downloads_of("X_01"), done.sure_of("X_01")) == (2, 1)
    missing, commands = m.transition(done, m.Start(lost=("a.xml",)))
    assert commands == ()
    assert missing.hint is not None
    assert "may not have reached SAT" not in missing.hint
    assert (
        "allows downloading package X_01 once more (1 of SAT's 2 downloads left, unless the one "
        "counted as spent elsewhere was (request X, taken for the create whose answer was lost, "
        "is very likely that create, so it probably was not; if it was, SAT answers 5008, which "
        "bills nothing); nothing is requested again)"
    ) in missing.hint
