"""`machine.unrecorded` keeps the releases a month's log recorded (`journal repair`; review
9u #1, 9v #3): the rebuilt month still has them, with the SAT downloads it spent, so the
month that adopts one of them counts those downloads (`_carried`). Pure."""

from __future__ import annotations

from gigstack_async.bulk import machine as m
from tests.bulk._support import received_month

S = "S-REQUEST"
RELEASED = (m.ReleasedRequest(S, ((f"{S}_01", 1),), ((f"{S}_01", 1),)),)


def _rebuilt(released: tuple[m.ReleasedRequest, ...]) -> m.MonthState:
    return m.unrecorded(
        received_month("2024-08"),
        known_ids=(S,),
        creates=1,
        reason="rebuilt",
        hint="find it",
        counts=m.Counts(1, ((f"{S}_01", 1),)),
        released=released,
    )


def test_a_rebuilt_month_keeps_its_logged_releases() -> None:
    state = _rebuilt(RELEASED)
    assert state.released == RELEASED
    assert state.released_ids() == (S,)
    assert state.known_ids == (S,)
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert state.downloads == ((f"{S}_01", 1),)


def test_a_rebuilt_month_without_logged_releases_has_none() -> None:
    assert _rebuilt(()).released == ()
    lost = m.unrecorded(received_month("2024-08"), known_ids=(S,), creates=1, reason="r", hint="h")
    assert lost.released == ()
    assert lost.uncounted == (S,)


def test_the_month_that_adopts_a_rebuilt_release_counts_its_downloads() -> None:
    """What `journal adopt` carries from the rebuilt month (`repair.adopt` reads
    `released`): SAT's 1st download of S_01 counted, and still unsure."""
    rebuilt = _rebuilt(RELEASED)
    (release,) = (r for r in rebuilt.released if r.id == S)
    sep = m.transition(received_month("2024-09"), m.Adopt(S, release.downloads, release.unsure))[0]
    assert sep.request_id == S
    assert sep.downloads_of(f"{S}_01") == 1
    assert dict(sep.unsure) == {f"{S}_01": 1}
