"""Newcomer walk 9i (F10, F1, F2): a resumed run without a terminal whose only unsent months
the journal records `held` is not asked to confirm billing it never does; the Ctrl-C summary's
Total counts the rows it shows; the "no package ids" hint names the month's folder and
`journal keep`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import MonthResult
from gigstack_async.cli.progress import Board
from gigstack_async.cli.redact import Redactor
from gigstack_async.cli.summary import print_summary
from gigstack_async.cli.ui import Ui
from gigstack_async.sandbox import Sandbox
from gigstack_async.sandbox.profiles import profile

from ._support import creates as _creates
from ._support import download_argv as _download
from .conftest import SECRET_KEY, MakeSandbox, RunCli


async def test_months_the_journal_holds_are_not_counted_as_may_be_billed(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    # F10: "sat download may submit up to 3 download requests that may be billed ... pass
    # --yes" (exit 2) for a folder whose only unsent months are journaled `held`, which a
    # plain run never sends: a nightly cron job broke on it.
    assert (await cli(*_download(tmp_path / "cfdi", "--yes"))).code == 0
    second = tmp_path / "cfdi-b"
    assert (await cli(*_download(second, "--yes"))).code == 1  # 2 held, 0 ok
    creates = _creates(sandbox)
    again = await cli(*_download(second))  # stdin is not a terminal, no --yes
    assert "may submit" not in again.stderr
    assert again.code == 1, again.stdout + again.stderr  # held again, not a usage error
    assert "No new download request to submit" in again.stdout
    assert _creates(sandbox) == creates
    # A month never sent is still counted, the held ones are not.
    more = await cli(*_download(second, last="2025-03"))
    assert more.code == 2, more.stdout + more.stderr
    assert "may submit up to 1 download request that may be billed" in more.stderr
    assert _creates(sandbox) == creates
    # --allow-duplicates may send the held months: counted again.
    allowed = await cli(*_download(second, "--allow-duplicates"))
    assert allowed.code == 2, allowed.stdout + allowed.stderr
    assert "may submit up to 2 download requests" in allowed.stderr
    assert _creates(sandbox) == creates


# ---------------------------------------------------------------------- F1: Ctrl-C totals


def _month(key: str, stage: m.Stage) -> m.MonthState:
    first = date.fromisoformat(f"{key}-01")
    return m.MonthState(
        key=key,
        start=first,
        end=first.replace(day=28),
        rfc_type="issued",
        request_type="cfdi",
        request_id=f"R-{key}",
        stage=stage,
    )


def test_after_ctrl_c_the_total_counts_the_months_its_rows_show_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # F1: the interrupted summary listed 4 months `done` (from the journal) but its Total said
    # "36 months, 2 ok, 34 not ok": ok counted only the results delivered before Ctrl-C.
    board = Board(("2021-01", "2021-02", "2021-03", "2021-04"), clock=lambda: 0.0)
    board.apply(MonthResult("2021-01", "R-2021-01", "completed", 29, stage="done"))
    journal = {
        "2021-01": _month("2021-01", m.Stage.DONE),
        "2021-02": _month("2021-02", m.Stage.DONE),  # finished as Ctrl-C came: no event seen
        "2021-03": _month("2021-03", m.Stage.SUBMITTED),
    }
    board.settle(journal)
    print_summary(Ui(Redactor()), board, tmp_path / "I")
    said = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in said.splitlines() if line[:4].isdigit()}
    assert [rows[k][2] for k in ("2021-01", "2021-02", "2021-03", "2021-04")] == [
        "done",
        "done",
        "submitted",
        "planned",
    ]
    assert "Total: 4 months, 2 ok, 2 not ok" in said  # was "1 ok, 3 not ok"


# ---------------------------------------------------------------------- F2: no package ids


async def test_the_no_package_ids_hint_names_the_folder_and_then_journal_keep(
    make_sandbox: MakeSandbox, raw_cli: RunCli, tmp_path: Path
) -> None:
    # F2: the hint wrote `--out <this month's folder>` and never said that, once the package
    # was fetched, `journal keep cfdi 2025-01` ends the month: the next run repeated the hint.
    sandbox = await make_sandbox(profile=profile("no-package-ids"))
    env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}
    argv = _download(Path("cfdi"), "--yes", last="2025-01")
    first = await raw_cli(*argv, env=env, cwd=tmp_path)
    assert first.code == 1, first.stdout + first.stderr  # needs attention
    said = " ".join(first.stdout.split())
    assert "<this month's folder>" not in said
    assert "`gigstack-async downloads package <package id> --out cfdi/2025-01`" in said
    assert "`gigstack-async journal keep cfdi 2025-01` checks them against SAT's count" in said
    # Doing what it says ends the month done, with nothing created again.
    ((package_id, _invoices),) = sandbox.state.download_requests[0].packages()
    fetched = await raw_cli(
        "downloads", "package", package_id, "--out", "cfdi/2025-01", "--yes", env=env, cwd=tmp_path
    )
    assert fetched.code == 0, fetched.stdout + fetched.stderr
    kept = await raw_cli("journal", "keep", "cfdi", "2025-01", "--yes", env=env, cwd=tmp_path)
    assert kept.code == 0, kept.stdout + kept.stderr
    creates = _creates(sandbox)
    again = await raw_cli(*argv, env=env, cwd=tmp_path)
    assert again.code == 0, again.stdout + again.stderr
    assert _creates(sandbox) == creates


def test_after_ctrl_c_the_months_the_plan_held_show_held_not_planned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # r2 N8: the plan listed 2021-02 and 2021-03 held; after Ctrl-C the summary said `planned`.
    board = Board(("2021-01", "2021-02", "2021-03"), clock=lambda: 0.0, held=("2021-02", "2021-03"))
    journal = {
        "2021-01": _month("2021-01", m.Stage.SUBMITTED),
        "2021-02": _month("2021-02", m.Stage.PLANNED),  # held and recorded by this run
    }
    board.settle(journal)
    print_summary(Ui(Redactor()), board, tmp_path / "I")
    said = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in said.splitlines() if line[:4].isdigit()}
    assert [rows[k][2] for k in ("2021-01", "2021-02", "2021-03")] == [
        "submitted",
        "held",
        "held",
    ]
