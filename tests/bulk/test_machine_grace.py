"""The wait before a lost create may be proven absent (`_grace_gap`), called directly: what the
month says while it waits (and until when), and the reason a user reads when the history
cannot prove anything. Money rule: when in doubt, no proof, so no second create. Pure and
fast; the end-to-end boundary is in tests/bulk/test_absence_grace.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage

JAN = (date(2024, 1, 1), date(2024, 1, 31))
FAILED_AT = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC on our clock
GRACE = 600.0


def lost(**changes: object) -> m.MonthState:
    """January, its create's outcome unknown since FAILED_AT."""
    state = m.MonthState("2024-01", *JAN, "received", "cfdi", stage=Stage.SUBMITTING)
    fields: dict[str, object] = {"unknown": True, "unknown_at": FAILED_AT, **changes}
    return attrs.evolve(state, **fields)  # type: ignore[arg-type]


def read(at: float | None) -> m.HistorySeen:
    return m.HistorySeen((), read_at=at, grace=GRACE)


@pytest.mark.parametrize(("back", "said"), [(5.4, "5"), (0.4, "0"), (0.6, "1"), (3600.0, "3600")])
def test_our_clock_going_back_is_said_in_whole_seconds(back: float, said: str) -> None:
    assert m._grace_gap(lost(), read(FAILED_AT - back)) == (
        f"our clock went back {said} s since the create failed, so how long the history has "
        "had to list it cannot be told",
        None,
    )


def test_a_history_whose_read_time_is_unknown_proves_nothing() -> None:
    assert m._grace_gap(lost(), read(None)) == ("the time this history was read is not known", None)


@pytest.mark.parametrize("elapsed", [GRACE, GRACE + 1])
def test_a_history_read_after_the_grace_may_prove_the_absence(elapsed: float) -> None:
    assert m._grace_gap(lost(), read(FAILED_AT + elapsed)) == (None, None)


def test_a_create_failed_at_an_unknown_time_waits_the_grace_from_this_read() -> None:
    # A run killed while the create was in flight: the wait starts at the first read.
    state = lost(
        unknown_at=None,
        stage=Stage.NEEDS_ATTENTION,
        resume_to=Stage.SUBMITTED,
        hint="`gigstack-async journal resend 2024-01`",
        reason="outcome unknown",
    )
    note = (
        "waiting until 08:11:40 UTC before resending: a lost create can appear late in the "
        "history, and this one shows no sign of it yet"
    )
    gap, result = m._grace_gap(state, read(FAILED_AT + 100))
    assert gap is None
    assert result == (
        attrs.evolve(
            state,
            stage=Stage.SUBMITTING,
            unknown_at=FAILED_AT + 100,
            resume_to=None,
            hint=None,
            reason=note,
        ),
        (m.Warn(f"2024-01: {note}"),),
    )


@pytest.fixture
def mexico_city_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone set to Mexico City (UTC-6), as on a user's machine."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is POSIX only")
    monkeypatch.setenv("TZ", "America/Mexico_City")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("mexico_city_clock")
def test_the_wait_is_said_in_utc_whatever_the_local_time_zone() -> None:
    _, result = m._grace_gap(lost(), read(FAILED_AT + 5))
    assert result is not None
    assert result[0].reason == (
        "waiting until 08:10:00 UTC before resending: a lost create can appear late in the "
        "history, and this one shows no sign of it yet"
    )
