"""Newcomer walk 10 (F5, F9, F10): the CLI's texts for a month the user allowed again with
`journal resend`, a month stopped in `submitting`, a split month, and counted downloads past
SAT's 2."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.cli.confirm import check_can_confirm
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.progress import Board
from gigstack_async.cli.redact import Redactor
from gigstack_async.cli.summary import print_summary
from gigstack_async.cli.ui import Ui


class _Run:
    """What `check_can_confirm` reads of a run: the months it may send, those held."""

    def __init__(self, may: list[str]) -> None:
        self._may = may

    def may_create(self) -> list[str]:
        return self._may

    def journal_holds(self) -> list[str]:
        return []


def test_the_refusal_without_a_terminal_covers_months_allowed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # F9: "may submit up to 1 download request ... (the months this journal has not sent ...)"
    # for a month the journal had sent, then the user allowed again with `journal resend`.
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    run: Any = _Run(["2025-06"])
    with pytest.raises(UsageError) as refused:
        check_can_confirm(run, yes=False)
    text = str(refused.value)
    assert "may submit up to 1 download request that may be billed" in text
    assert "not yet sent, refused before billing, or allowed again with " in text
    assert "`gigstack-async journal resend`" in text
    assert "the months this journal has not sent" not in text


def test_after_ctrl_c_a_month_in_submitting_says_a_create_may_have_been_billed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # F5: the stopped summary showed `submitting` alone; only `journal show` said the create's
    # outcome was unknown, "this call may charge money".
    board = Board(("2025-06",), clock=lambda: 0.0)
    month = m.MonthState(
        "2025-06",
        date(2025, 6, 1),
        date(2025, 6, 30),
        "received",
        "cfdi",
        stage=m.Stage.SUBMITTING,
        unknown=True,
        unknown_cause="HTTP 502",
    )
    board.settle({"2025-06": month})
    print_summary(Ui(Redactor()), board, tmp_path / "f2")
    said = " ".join(capsys.readouterr().out.split())
    assert "submitting" in said
    assert (
        "a create request may have been billed, its outcome unknown (HTTP 502). Next: run the "
        "same command again: it looks for that create in the account's history first and "
        "adopts it when listed" in said
    )
