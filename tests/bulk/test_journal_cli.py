"""`gigstack-async journal show|adopt|resend` on a real journal file (nothing is sent)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.cli import main

IDENTITY = StoreIdentity(
    None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
)
JAN = m.MonthState("2024-01", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi")
FEB = m.MonthState("2024-02", date(2024, 2, 1), date(2024, 2, 29), "received", "cfdi")
JOURNAL = ".gigstack-journal.sqlite3"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "cfdi"
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        unknown = attrs.evolve(
            JAN,
            stage=m.Stage.NEEDS_ATTENTION,
            unknown=True,
            creates=1,
            reason="a create request may have been billed but the history cannot tell",
            hint="gigstack-async journal adopt 2024-01 <request id>",
        )
        store.ensure([unknown, attrs.evolve(FEB, stage=m.Stage.DONE, reason="every package")])
    return folder


def state(out: Path, key: str) -> m.MonthState:
    with JournalStore.open_existing(out / JOURNAL) as store:
        return store.get(key)


def test_show_lists_every_month_with_its_reason_and_next_step(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2024-01" in text
    assert "needs-attention" in text
    assert "journal adopt" in text
    assert "done" in text


def test_show_one_month_gives_its_history(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["journal", "show", str(out / JOURNAL), "2024-01"]) == 0
    text = capsys.readouterr().out
    assert "create requests sent" in text
    assert "History:" in text


def test_adopt_attaches_a_request_the_user_found(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "adopt", str(out), "2024-01", "REQ-42"]) == 0
    adopted = state(out, "2024-01")
    assert (adopted.stage, adopted.request_id, adopted.unknown) == (
        m.Stage.SUBMITTED,
        "REQ-42",
        False,
    )
    said = " ".join(capsys.readouterr().out.split())
    # What the next run really does (review 9b #5): the history when it lists the request,
    # else the package's own CFDIs, before anything is extracted.
    assert "if the history lists the request, its dates and type are checked" in said
    assert "its package is downloaded and checked" in said
    assert "before anything is extracted" in said


def test_adopt_into_a_finished_month_is_refused(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "adopt", str(out), "2024-02", "REQ-42"]) == 2
    assert "nothing to adopt" in capsys.readouterr().err
    assert state(out, "2024-02").stage is m.Stage.DONE


def test_resend_spells_out_the_risk_and_needs_a_confirmation(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No terminal and no --yes: refused, nothing changed.
    assert main(["journal", "resend", str(out), "2024-01"]) == 2
    captured = capsys.readouterr()
    assert "may be billed again" in captured.out
    assert "--yes" in captured.err
    assert state(out, "2024-01").stage is m.Stage.NEEDS_ATTENTION

    assert main(["journal", "resend", str(out), "2024-01", "--yes"]) == 0
    allowed = state(out, "2024-01")
    assert (allowed.stage, allowed.resend_allowed) == (m.Stage.PLANNED, True)


def test_unknown_month_and_missing_journal_are_usage_errors(
    out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "show", str(out), "2023-12"]) == 2
    assert "not in the journal" in capsys.readouterr().err
    assert main(["journal", "show", str(tmp_path / "nowhere")]) == 2
    assert "no journal" in capsys.readouterr().err
