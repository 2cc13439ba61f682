"""Review r2 H1: a request the month knows expired (SAT 5007: its package is gone) is never
adopted again: `journal adopt` refuses it before anything changes, and the hint after a lost
create names it as expired, not as one to adopt."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore
from gigstack_async.cli import main
from tests.bulk._support import received_month
from tests.bulk.test_journal_cli import IDENTITY, JOURNAL

S = "S-OWN"
AUG = received_month("2024-08")


def _listed(rid: str = S) -> m.Seen:
    return m.Seen(rid, "completed", "received", "cfdi", date(2024, 8, 1), date(2024, 8, 31))


def _expired() -> m.MonthState:
    """August after its request S completed and its package answered SAT 5007."""
    completed = attrs.evolve(
        AUG,
        stage=m.Stage.COMPLETED,
        request_id=S,
        known_ids=(S,),
        records=(m.KnownRequest(S, date(2024, 8, 1), date(2024, 8, 31), "received", "cfdi"),),
        package_ids=(f"{S}_01",),
        creates=1,
    )
    state, _ = m.transition(completed, m.PackageFailed(f"{S}_01", "gone", code=5007))
    assert state.stage is m.Stage.EXPIRED
    return state


def _lost_resend() -> m.MonthState:
    """The expired August resent; the resend's create lost its answer; the history lists only
    S (listed before the create too)."""
    state, _ = m.transition(_expired(), m.AllowResend())
    state, _ = m.transition(state, m.Send((S,), generation=1))
    state, _ = m.transition(state, m.CreateUnknown("HTTP 502", generation=1))
    state, _ = m.transition(state, m.HistorySeen((_listed(),), generation=2))
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert state.unknown
    return state


def test_adopting_the_expired_request_is_refused_before_anything_changes() -> None:
    state = _lost_resend()
    with pytest.raises(m.TransitionError) as refused:
        m.transition(state, m.Adopt(S))
    said = str(refused.value)
    assert said.startswith(
        f"request {S} is this month's own earlier request, and its package(s) expired (SAT "
        "answered 5007 for it"
    )
    assert "adopting it downloads nothing" in said
    assert "Nothing changed" in said
    # The way on: a resend (one identical request sent so far).
    assert "`gigstack-async journal resend 2024-08`" in said


def test_adopting_the_expired_request_of_an_expired_month_is_refused() -> None:
    with pytest.raises(m.TransitionError, match="expired"):
        m.transition(_expired(), m.Adopt(S))


def test_with_two_identical_requests_the_refusal_routes_to_other_dates() -> None:
    state = attrs.evolve(
        _lost_resend(),
        known_ids=(S, "T"),
        records=(
            *_lost_resend().records,
            m.KnownRequest("T", date(2024, 8, 1), date(2024, 8, 31), "received", "cfdi"),
        ),
    )
    with pytest.raises(m.TransitionError) as refused:
        m.transition(state, m.Adopt(S))
    said = str(refused.value)
    assert "journal resend" not in said
    assert "gigstack-async journal split 2024-08" in said


def test_the_lost_create_hint_names_the_expired_request_as_not_to_adopt() -> None:
    hint = _lost_resend().hint or ""
    assert (
        f"Not {S}: this month's own earlier request, whose package(s) expired (SAT answered "
        "5007 for it, or reported it expired: SAT keeps packages 72 h): adopting it downloads "
        "nothing; if there is no other,"
    ) in hint


def test_another_request_is_still_adopted() -> None:
    state, _ = m.transition(_lost_resend(), m.Adopt("NEW"))
    assert (state.stage, state.request_id) == (m.Stage.SUBMITTED, "NEW")


def _journal(tmp_path: Path) -> Path:
    folder = tmp_path / "cfdi"
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        store.ensure([_lost_resend()])
    return folder


def test_journal_adopt_of_the_expired_request_is_refused_with_a_runnable_way_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _journal(tmp_path)
    assert main(["journal", "adopt", str(folder), "2024-08", S, "--yes"]) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"request {S} is this month's own earlier request, and its package(s) expired" in err
    assert f"`gigstack-async journal resend {folder} 2024-08`" in err
    with JournalStore.open_existing(folder / JOURNAL) as store:
        assert store.get("2024-08") == _lost_resend()


def test_journal_show_labels_the_expired_request_as_expired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _journal(tmp_path)
    assert main(["journal", "show", str(folder), "2024-08"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(
        line.split() == ["expired", "(package", "gone,", "not", "to", "adopt)", S] for line in lines
    )
    assert not any(S in line and "released" in line for line in lines)
