"""Newcomer walk 9f (items 2, 5, 6, 7a, 7c): what a user reads of the summary in a narrow
terminal, after Ctrl-C, in a confirmation preview nobody confirmed, when every month is held,
and in the sandbox banner."""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
import sys
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import MonthResult, Submitted
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.cli import main
from gigstack_async.cli.app import build_parser
from gigstack_async.cli.commands.sandbox import _profile_label
from gigstack_async.cli.confirm import confirmed
from gigstack_async.cli.progress import Board
from gigstack_async.cli.redact import Redactor
from gigstack_async.cli.summary import print_summary
from gigstack_async.cli.ui import Ui
from gigstack_async.sandbox import Sandbox
from tests.bulk._support import cfdi_text

from ._support import creates, download_argv

JOURNAL = ".gigstack-journal.sqlite3"
IDENTITY = StoreIdentity(
    None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
)
UUID_A = "6F1E2D3C-0000-4000-8000-00000000000A"


def _journal(folder: Path) -> None:
    """2024-01 done (DM-1); 2024-02 needs attention after SAT 5008 (DM-2, count unknown)."""
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        store.bind_download_to(folder)
        months = [
            m.MonthState(key, date(2024, n, 1), date(2024, n, last), "received", "cfdi")
            for key, n, last in (("2024-01", 1, 31), ("2024-02", 2, 29))
        ]
        store.ensure(months)
        for state, rid in zip(months, ("DM-1", "DM-2"), strict=True):
            sent = attrs.evolve(state, stage=m.Stage.SUBMITTING, creates=1)
            store.put(sent)
            store.put(attrs.evolve(sent, stage=m.Stage.SUBMITTED, request_id=rid, known_ids=(rid,)))
        store.put(attrs.evolve(store.get("2024-01"), stage=m.Stage.DONE, reason="all"))
        store.put(
            attrs.evolve(
                store.get("2024-02"),
                stage=m.Stage.NEEDS_ATTENTION,
                reason="5008",
                invoice_count=None,
            )
        )


# ------------------------------------------------------- item 2: the summary in a narrow terminal

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
IDS = {
    "2022-01": "B31C1984-9FB5-4D55-B26E-37549682B97A",
    "2022-02": "C42D2095-0AC6-4E66-B37F-48650793C08B",
    "2022-03": "D53E31A6-1BD7-4F77-A480-59761804D19C",
}
RESEND = "`gigstack-async journal resend ./r22-meta 2022-01`"


def _board() -> Board:
    board = Board(IDS, clock=lambda: 0.0)
    board.apply(
        MonthResult(
            "2022-01", request_id=IDS["2022-01"], state="completed", invoice_count=59,
            stage="needs-attention", error="SAT served its package twice (5008)",
            hint=f"{RESEND} (a new request, may be billed), then run the same command again",
        )
    )  # fmt: skip
    board.apply(
        MonthResult("2022-02", request_id=IDS["2022-02"], state="completed", invoice_count=1200,
                    stage="done")
    )  # fmt: skip
    board.apply(Submitted("2022-03", request_id=IDS["2022-03"]))
    return board


@pytest.mark.parametrize("width", [80, 60])
@pytest.mark.parametrize("drawn", ["rich", "plain"])
def test_a_narrow_terminal_never_cuts_a_month_a_request_id_or_a_state(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], width: int, drawn: str
) -> None:
    # The newcomer's 80-column terminal showed "2022-0", an id without its last character and
    # "needs-attentio"; the plain fallback printed lines the terminal folded mid-id.
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    if drawn == "plain":  # rich not installed: the fallback, still in a terminal
        monkeypatch.setattr("gigstack_async.cli.ui.rich_installed", lambda: False)
        monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    ui = Ui(Redactor())
    assert ui.fancy == (drawn == "rich")
    assert ui.width == width

    print_summary(ui, _board(), Path("out"))

    text = ANSI.sub("", capsys.readouterr().out)
    table = text.split("Summary", 1)[1].split("2022-01: ", 1)[0]
    words = table.split()
    for key, request_id in IDS.items():
        assert key in words, table
        assert request_id in words, table
    for stage in ("needs-attention", "done", "submitted"):
        assert stage in words, table
    assert all(len(line) <= width for line in table.splitlines()), table
    # The hint's command is not broken by line breaks of rich's own: it copies whole.
    assert RESEND in text


def test_a_pipe_keeps_one_self_contained_line_per_month(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "60")  # exported by a shell: not the pipe's width
    ui = Ui(Redactor())
    assert ui.width is None  # captured stdout: a pipe
    print_summary(ui, _board(), Path("out"))
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith("2022-01"))
    assert IDS["2022-01"] in row
    assert "needs-attention" in row
    assert RESEND in row


@pytest.mark.parametrize("width", [80, 60, 45])
def test_the_live_table_drops_columns_before_it_cuts_a_month_or_a_state(width: int) -> None:
    from rich.console import Console

    from gigstack_async.cli.live_progress import render

    board = Board(IDS, clock=lambda: 0.0)
    board.apply(Submitted("2022-01", request_id=IDS["2022-01"]))
    board.apply(
        MonthResult(
            "2022-02", request_id=IDS["2022-02"], state="completed", stage="needs-attention"
        )
    )
    console = Console(width=width, force_terminal=False, color_system=None)
    with console.capture() as captured:
        console.print(render(board, width))
    words = captured.get().replace("│", " ").split()
    for key in IDS:
        assert key in words, captured.get()
    for stage in ("submitted", "needs-attention", "planned"):
        assert stage in words, captured.get()
    assert "B31C1984" in words  # the short id the live table shows, whole
    assert "…" not in captured.get().split("\n", 3)[1]  # no header cut either


@pytest.mark.parametrize("drawn", ["rich", "plain"])
def test_journal_show_in_60_columns_keeps_each_state_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], drawn: str
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    if drawn == "plain":
        monkeypatch.setattr("gigstack_async.cli.ui.rich_installed", lambda: False)
        monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    out = tmp_path / "cfdi"
    _journal(out)
    assert main(["journal", "show", str(out)]) == 0
    words = ANSI.sub("", capsys.readouterr().out).split()
    assert "needs-attention" in words
    assert "DM-2" in words


async def test_a_narrow_rich_terminal_end_to_end(sandbox: Sandbox, cli, tmp_path: Path) -> None:
    terminal = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "60"}
    result = await cli(*download_argv(tmp_path / "cfdi", "--yes"), env=terminal)
    assert result.code == 0, result.stderr
    summary = ANSI.sub("", result.stdout).split("Summary", 1)[1]
    ids = [request.request_id for request in sandbox.state.download_requests][-2:]
    assert len(ids) == 2
    for request_id in ids:
        assert request_id in summary.split(), summary
    assert summary.split().count("done") == 2, summary


# ------------------------------------------------------------- item 5: Ctrl-C ends summarised


async def test_ctrl_c_prints_the_journal_s_months_then_how_to_resume(
    sandbox: Sandbox, spawn_cli, cli, tmp_path: Path
) -> None:
    sandbox.clock.speed = 0  # every month stays pending
    out = tmp_path / "cfdi"
    keys = ("2025-01", "2025-02")
    process = await spawn_cli(*download_argv(out, "--yes"))
    submitted = 0
    while submitted < len(keys):
        line = (await process.stdout.readline()).decode()
        assert line, "the CLI ended before submitting every month"
        submitted += " submitted " in line
    sent = creates(sandbox)
    process.send_signal(signal.SIGINT)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 130
    summary = stdout.decode().split("Summary", 1)[1]
    ids = {r.request_id for r in sandbox.state.download_requests[-2:]}
    for key in keys:
        row = next(line for line in summary.splitlines() if line.startswith(key)).split()
        assert row[2] == "submitted", summary  # the journal's word, as `journal show` says it
        assert row[1] in ids
    assert "Total: 2 months, 0 ok, 2 not ok" in summary
    assert "interrupted: progress is saved in" in stderr.decode()
    assert creates(sandbox) == sent  # the summary sent nothing
    sandbox.clock.speed = 3000
    again = await cli(*download_argv(out, "--yes"))
    assert again.code == 0, again.stderr
    assert creates(sandbox) == sent


async def test_a_second_ctrl_c_still_exits_130_and_the_journal_resumes(
    sandbox: Sandbox, spawn_cli, cli, tmp_path: Path
) -> None:
    sandbox.clock.speed = 0
    out = tmp_path / "cfdi"
    process = await spawn_cli(*download_argv(out, "--yes"))
    submitted = 0
    while submitted < 2:
        line = (await process.stdout.readline()).decode()
        assert line, "the CLI ended before submitting every month"
        submitted += " submitted " in line
    process.send_signal(signal.SIGINT)
    await asyncio.sleep(0.05)
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 130, stderr.decode()
    assert "Traceback" not in stderr.decode()
    sent = creates(sandbox)
    sandbox.clock.speed = 3000
    again = await cli(*download_argv(out, "--yes"))
    assert again.code == 0, again.stderr
    assert creates(sandbox) == sent  # the journal kept both requests: nothing sent twice


def test_a_second_ctrl_c_during_the_summary_still_exits_130(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gigstack_async.cli.app import interrupted
    from gigstack_async.cli.context import Context

    ctx = Context(Ui(Redactor()), Redactor(), interrupt_hint="progress is saved in J")

    def summary() -> None:
        ctx.ui.out("Summary")
        raise KeyboardInterrupt  # the second Ctrl-C, while it prints

    ctx.on_interrupt = summary
    handler = signal.getsignal(signal.SIGINT)
    try:
        assert interrupted(ctx) == 130
        # A third Ctrl-C on the way out cannot turn 130 into a kill by SIGINT.
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, handler)
    said = capsys.readouterr()
    assert said.out.strip() == "Summary"
    assert said.err.strip() == "interrupted: progress is saved in J"


def test_ctrl_c_before_the_journal_is_made_does_not_claim_saved_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Review 12: "interrupted: progress is saved in <journal>" was printed for a run stopped
    # after the confirmation and before its journal existed: there was no progress to resume.
    from gigstack_async.cli.app import interrupted
    from gigstack_async.cli.commands.sat_download import interrupt_hint
    from gigstack_async.cli.context import Context

    journal = tmp_path / "cfdi" / JOURNAL
    ctx = Context(Ui(Redactor()), Redactor(), interrupt_hint=lambda: interrupt_hint(journal))
    handler = signal.getsignal(signal.SIGINT)
    try:
        assert interrupted(ctx) == 130
        before = capsys.readouterr().err.strip()
        _journal(tmp_path / "cfdi")
        assert journal.exists()
        assert interrupted(ctx) == 130
        after = capsys.readouterr().err.strip()
    finally:
        signal.signal(signal.SIGINT, handler)
    assert before == (
        "interrupted: stopped before any request was sent (no journal was made); run the "
        "same command again to start"
    )
    assert after.startswith(f"interrupted: progress is saved in {journal};")


# ---------------------------------------------------------------- item 6: previews


def test_keep_force_preview_without_a_terminal_does_not_read_as_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The newcomer read "2022-01 is recorded done with them ... Kept with --force although ..."
    # and then "nothing changed": the preview said the change had happened.
    out = tmp_path / "cfdi"
    _journal(out)
    (out / "2024-02").mkdir(parents=True)
    (out / "2024-02" / f"{UUID_A}.xml").write_text(cfdi_text(UUID_A))
    with JournalStore.open_readonly(out / JOURNAL) as store:
        before = store.get("2024-02")

    assert main(["journal", "keep", str(out), "2024-02", "--force"]) == 2  # no terminal

    said = capsys.readouterr()
    assert "nothing changed" in said.err
    assert "is recorded done with them" not in said.out
    assert "Kept with --force" not in said.out
    assert "2024-02 would then be recorded done with them" in said.out
    assert "With --force it would be kept although SAT's count of CFDIs is unknown" in said.out
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2024-02") == before
    # Confirmed: the text after the change says it happened.
    assert main(["journal", "keep", str(out), "2024-02", "--force", "--yes"]) == 0
    assert "2024-02 is done with the 1 file(s)" in capsys.readouterr().out


def test_repair_preview_without_a_terminal_says_would_become(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cfdi"
    _journal(out)
    conn = sqlite3.connect(out / JOURNAL)
    with conn:
        conn.execute("UPDATE months SET state = '{broken' WHERE key = '2024-02'")
    conn.close()

    assert main(["journal", "repair", str(out)]) == 2  # no terminal: refused

    said = capsys.readouterr()
    assert "nothing changed" in said.err
    assert "; becomes needs-attention" not in said.out
    assert "2024-02: record unreadable" in said.out
    assert "would become needs-attention once you confirm" in said.out


def test_adopt_preview_is_conditional(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cfdi"
    _journal(out)
    assert main(["journal", "adopt", str(out), "2024-02", "DM-9"]) == 2  # no terminal
    said = capsys.readouterr()
    assert "You confirm that request DM-9" not in said.out
    assert "Confirming says that request DM-9 is 2024-02's" in said.out
    assert "Once confirmed, the next run" in said.out


# ----------------------------------------------------- item 7a: every month held, new folder


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        (
            2,
            "No new download request to submit: 2 months held (the account already has their "
            "request, not sent from this folder; see above).",
        ),
    ],
)
async def test_every_month_held_in_a_new_folder_is_not_called_the_journal_s(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], held: int, expected: str
) -> None:
    out = tmp_path / "new"
    async with GigstackClient(api_key="sk_test_x", base_url="http://127.0.0.1:9/v2") as client:
        run = client.downloads.bulk(
            "2025-01", "2025-02", rfc_type="received", download_to=out,
            journal=out / JOURNAL,
        )  # fmt: skip
        assert run.may_create() == ["2025-01", "2025-02"]  # the journal has none of them
        assert confirmed(run, yes=False, held=held, ui=Ui(Redactor()))
    said = capsys.readouterr().out
    assert "the journal has every month's request" not in said
    assert said.strip() == expected


def test_nothing_new_names_held_and_journaled_months_apart() -> None:
    from gigstack_async.cli.confirm import _nothing_new

    assert _nothing_new(1, 3) == (
        "1 month held (the account already has its request, not sent from this folder; see "
        "above), 3 months already requested from this folder's journal (not sent again)"
    )
    assert _nothing_new(0, 2) == (
        "2 months already requested from this folder's journal (not sent again)"
    )


# ------------------------------------------------------------ item 7c: the sandbox banner


def test_the_banner_names_the_injected_fault_rates() -> None:
    args = build_parser().parse_args(
        ["sandbox", "--fault-rate", "0.15", "--after-fault-rate", "0.05", "--failure-rate", "0.1"]
    )
    label = _profile_label(args)
    assert "--fault-rate 0.15" in label
    assert "--after-fault-rate 0.05" in label
    assert "--failure-rate 0.1" in label
    assert _profile_label(build_parser().parse_args(["sandbox"])) == ""
