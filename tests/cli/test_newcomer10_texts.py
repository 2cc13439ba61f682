"""Newcomer walk 10 (F5, F9, F10): the CLI's texts for a month the user allowed again with
`journal resend`, a month stopped in `submitting`, a split month, and counted downloads past
SAT's 2."""

from __future__ import annotations

from typing import Any

import pytest

from gigstack_async.cli.confirm import check_can_confirm
from gigstack_async.cli.exitcodes import UsageError


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
