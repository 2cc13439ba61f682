"""Newcomer 9h #3: a month whose dates end today ended with error=None and hint=None (only
`open_day` said so), and the CLI's summary and `journal show` read as complete. Its
`MonthResult.hint` now says the day was not over and what to run (it stays `ok`, as the README
says), and the summary and `journal show` show it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gigstack_async.cli import main
from gigstack_async.cli.progress import Board
from gigstack_async.cli.redact import Redactor
from gigstack_async.cli.summary import print_summary
from gigstack_async.cli.ui import Ui
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import results, run, world_of
from tests.bulk.test_newcomer9g_open_day import _today

SAID = "requested on 2025-06-30 before that day was over (Mexico City)"


async def test_a_month_ending_today_says_so_in_its_result_summary_and_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cfdi"
    config = SandboxConfig(speed=3000, seed=5, start=datetime(2025, 6, 30, 16, tzinfo=UTC))
    async with world_of(config) as (_sandbox, client):
        _today(monkeypatch, date(2025, 6, 30))
        months = results(await run(client, out, "2025-05", "2025-06"))
    june, may = months["2025-06"], months["2025-05"]
    assert june.ok  # the README's `ok` is unchanged: the request finished
    assert june.error is None
    assert (june.hint or "").startswith(SAID)
    assert "the same bulk() call again after 2025-06-30" in (june.hint or "")
    assert "MISSING DAYS" in (june.hint or "")
    assert may.hint is None  # a month sent after its days were over is complete
    capsys.readouterr()

    board = Board(["2025-05", "2025-06"])
    board.apply(may)
    board.apply(june)
    print_summary(Ui(Redactor()), board, out)
    summary = " ".join(capsys.readouterr().out.split())
    assert f"Next: {SAID}" in summary

    # `journal show` on the same day (its clock, as the run's): "tomorrow or later" is true.
    import gigstack_async.cli.commands.journal as journal

    monkeypatch.setattr(journal, "today_mx", lambda now=None: date(2025, 6, 30))
    assert main(["journal", "show", str(out)]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "requested on 2025-06-30, before that day was over" in shown
    assert "Run the same command again after 2025-06-30 (tomorrow or later)" in shown
