"""The table printed when a bulk download ends: every month's outcome, totals, and where the
files are."""

from __future__ import annotations

from pathlib import Path

from gigstack_async.cli.progress import Board, MonthRow, format_seconds, plural
from gigstack_async.cli.tables import Col, print_table
from gigstack_async.cli.ui import Ui

COLUMNS = (
    Col("month", no_wrap=True),
    Col("request id", no_wrap=True),
    Col("state", no_wrap=True),
    Col("invoices", "right", no_wrap=True),
    Col("files", "right", no_wrap=True),
    Col("elapsed", "right", no_wrap=True),
    Col("error"),
)


def _error_line(row: MonthRow) -> object:
    from rich.text import Text

    return Text.assemble((f"{row.key}: ", "bold"), (row.error or "", "red"))


def _cells(board: Board, row: MonthRow) -> list[str]:
    return [
        row.key,
        row.request_id or "-",
        row.state,
        "-" if row.invoices is None else str(row.invoices),
        str(row.files),
        format_seconds(board.elapsed(row)),
        row.error or "",
    ]


def print_summary(ui: Ui, board: Board, out: Path) -> None:
    ui.out()
    rows = [_cells(board, row) for row in board.rows.values()]
    if ui.fancy:
        # A terminal is narrow: a full request id leaves no room for errors, which go below.
        print_table(ui, COLUMNS[:5], [cells[:5] for cells in rows], title="Summary")
        for row in board.rows.values():
            if row.error:
                ui.render(_error_line(row))
    else:
        # Plain text is for pipes and logs: one self-contained line per month.
        print_table(ui, COLUMNS, rows, title="Summary")
    ok, bad, invoices, files = board.totals()
    ui.out(
        f"Total: {plural(len(board.rows), 'month')}, {ok} ok, {bad} not ok; "
        f"{plural(invoices, 'invoice')}; {plural(files, 'file')}; "
        f"{format_seconds(board.total_elapsed())}"
    )
    ui.out(f"Output folder: {out.resolve()}")
