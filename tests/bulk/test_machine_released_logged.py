"""`machine.unrecorded` keeps the releases a month's log recorded (`journal repair`; review
9u #1, 9v #3): the rebuilt month still has them, with the SAT downloads it spent, so the
month that adopts one of them counts those downloads (`_carried`); `engine.held_month` never
offers a released id in the rebuilt hint (review 9v #3). Pure (logged lines built here)."""

from __future__ import annotations

from datetime import date

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import held_month
from gigstack_async.bulk.store import LogLine
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


def _line(seq: int, rid: str, released: tuple[m.ReleasedRequest, ...] | None) -> LogLine:
    return LogLine(
        seq,
        "2024-08",
        m.Stage.NEEDS_ATTENTION,
        "why",
        rid,
        m.Counts(1, ((f"{S}_01", 1),)),
        m.Asked(date(2024, 8, 1), date(2024, 8, 31), 63),
        released=released,
    )


def test_the_repaired_hint_offers_the_last_id_not_released() -> None:
    lines = [_line(1, "OWN", ()), _line(2, S, ()), _line(3, S, RELEASED)]
    state = held_month(received_month("2024-08"), lines, None)
    assert state is not None
    assert state.released == RELEASED
    assert "journal adopt 2024-08 OWN" in (state.hint or "")
    assert f"journal adopt 2024-08 {S}" not in (state.hint or "")


def test_a_repaired_month_whose_every_id_is_released_offers_none() -> None:
    state = held_month(received_month("2024-08"), [_line(1, S, RELEASED)], None)
    assert state is not None
    assert "journal adopt 2024-08 <request id>" in (state.hint or "")
    assert f"Released from 2024-08 (known not to be its own): {S}" in (state.hint or "")
    assert state.invoice_count is None  # S's count is another request's


def test_an_old_log_offers_its_last_id_as_before() -> None:
    state = held_month(received_month("2024-08"), [_line(1, S, None)], None)
    assert state is not None
    assert state.released == ()
    assert f"journal adopt 2024-08 {S}" in (state.hint or "")
    assert state.invoice_count == 63
