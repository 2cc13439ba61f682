"""Newcomer r2 N3: `journal retry-download` of a month whose package still has a SAT download
left says it is not needed (a plain re-run downloads it), never "error ... no download to
allow"; a held month is named held, and its copyable commands never list retry-download."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import Hold, JournalStore
from gigstack_async.cli import main
from tests.bulk._support import received_month
from tests.bulk.test_journal_cli import IDENTITY, JOURNAL

AUG = received_month("2025-08")
COMPLETED = attrs.evolve(
    AUG,
    stage=m.Stage.COMPLETED,
    request_id="R1",
    known_ids=("R1",),
    confirmed_id="R1",
    creates=1,
    sat_state="completed",
    invoice_count=5,
    package_ids=("R1_01",),
)


def _failed_once(*, unsure: bool = True) -> m.MonthState:
    """August after its package's first GET got a 502 (or, not unsure, a truncated body)."""
    state, _ = m.transition(COMPLETED, m.PackageSending("R1_01"))
    state, _ = m.transition(state, m.PackageFailed("R1_01", "HTTP 502", reached=not unsure))
    assert state.stage is m.Stage.NEEDS_ATTENTION
    return state


def test_a_month_with_a_sat_download_left_needs_no_retry_download() -> None:
    state = _failed_once()
    assert m.retry_not_needed(state) == (
        "2025-08 needs no `journal retry-download`: its package R1_01 has at least 1 of SAT's "
        "2 downloads left, so a plain re-run downloads it: run the same command again"
    )
    with pytest.raises(m.TransitionError) as refused:
        m.transition(state, m.AllowDownload())
    assert str(refused.value) == m.retry_not_needed(state)
    assert "no download to allow" not in str(refused.value)


def test_a_sure_failure_says_how_many_are_left_without_at_least() -> None:
    assert "has 1 of SAT's 2 downloads left" in (
        m.retry_not_needed(_failed_once(unsure=False)) or ""
    )


def test_a_month_stopped_at_a_spent_package_is_not_such_a_month() -> None:
    state = attrs.evolve(_failed_once(), downloads=(("R1_01", 2),), unsure=(("R1_01", 1),))
    assert m.retry_not_needed(state) is None
    assert m.retry_not_needed(AUG) is None


def _journal(tmp_path: Path, *states: m.MonthState) -> Path:
    folder = tmp_path / "cfdi"
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        store.ensure(list(states))
    return folder


def test_journal_retry_download_says_not_needed_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _journal(tmp_path, _failed_once())
    assert main(["journal", "retry-download", str(folder), "2025-08", "--yes"]) == 0
    said = capsys.readouterr()
    assert "error" not in said.err
    assert " ".join(said.out.split()) == (
        "Not needed: 2025-08's package R1_01 has at least 1 of SAT's 2 downloads left, so a "
        "plain re-run downloads it: run the same download again (the `sat download` command, "
        "or the `bulk()` call). Nothing changed."
    )
    with JournalStore.open_existing(folder / JOURNAL) as store:
        assert store.get("2025-08") == _failed_once()


HINT = (
    "if that request is the one you want here, `gigstack-async journal adopt 2025-09 H1` "
    "attaches it (if that GET fails, `gigstack-async journal retry-download 2025-09` allows "
    "one more); `gigstack-async journal resend 2025-09` sends a new request"
)


def _held(tmp_path: Path) -> Path:
    folder = _journal(tmp_path, attrs.evolve(received_month("2025-09"), held_for=("H1",)))
    with JournalStore.open_existing(folder / JOURNAL) as store:
        store.record_hold("2025-09", Hold("not sent: the account already has request H1", HINT))
    return folder


def test_journal_show_lists_no_retry_download_to_copy_for_a_held_month(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _held(tmp_path)
    assert main(["journal", "show", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    copyable = [line.strip() for line in lines if line.startswith("    gigstack-async")]
    assert copyable == [
        f"gigstack-async journal adopt {folder} 2025-09 H1",
        f"gigstack-async journal resend {folder} 2025-09",
    ]


def test_journal_retry_download_names_a_held_month_held(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _held(tmp_path)
    assert main(["journal", "retry-download", str(folder), "2025-09", "--yes"]) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert "2025-09 is held" in err
    assert "is planned" not in err
    assert "journal show" not in err
    assert f"`gigstack-async journal adopt {folder} 2025-09 H1`" in err


# Newcomer r2 N5: once the account has SAT's 2 identical requests for the month's dates, a
# resend would be refused (5002): the hint never offers it, retry-download first, then other
# dates and `journal split`.


def _two_identical(**changes: object) -> m.MonthState:
    days = (date(2025, 8, 1), date(2025, 8, 31), "received", "cfdi")
    return attrs.evolve(
        COMPLETED,
        request_id="R2",
        known_ids=("R1", "R2"),
        confirmed_id="R2",
        creates=2,
        records=(m.KnownRequest("R1", *days), m.KnownRequest("R2", *days)),
        package_ids=("R2_01",),
        **changes,
    )


def _stopped(state: m.MonthState) -> m.MonthState:
    state, _ = m.transition(state, m.PackageSending("R2_01"))
    state, _ = m.transition(state, m.PackageFailed("R2_01", "HTTP 502"))
    assert state.stage is m.Stage.NEEDS_ATTENTION
    return state


@pytest.mark.parametrize(
    "changes",
    [
        {"downloads": (("R2_01", 1),), "unsure": (("R2_01", 1),)},
        {"downloads": (("R2_01", 2),), "unsure": (("R2_01", 2),), "granted": (("R2_01", 1),)},
    ],
)
def test_at_the_identical_limit_the_retry_hint_never_offers_a_resend(
    changes: dict[str, object],
) -> None:
    hint = _stopped(_two_identical(**changes)).hint or ""
    assert "journal resend" not in hint
    assert hint.index("`gigstack-async journal retry-download 2025-08`") < hint.index(
        "`gigstack-async journal split 2025-08"
    )
    assert "would be refused with SAT 5002" in hint
    # Below the limit the resend stays the way on after the free retry.
    below = _stopped(attrs.evolve(_two_identical(**changes), records=_two_identical().records[1:]))
    assert "`gigstack-async journal resend 2025-08`" in (below.hint or "")
