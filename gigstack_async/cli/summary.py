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

    return Text.assemble((f"{row.key}: ", "bold"), (row.message or "", "red"))


def _cells(board: Board, row: MonthRow) -> list[str]:
    return [
        row.key,
        row.request_id or "-",
        row.state,
        "-" if row.invoices is None else str(row.invoices),
        str(row.files),
        format_seconds(board.elapsed(row)),
        row.message or "",
    ]


def _invoices(board: Board, invoices: int) -> str:
    # A month whose count the server did not give adds nothing: say so, or the total reads as
    # the whole run's (a reconciliation would then miss those months' CFDIs).
    unknown = board.unknown_counts
    if not unknown:
        return plural(invoices, "invoice")
    known = len(board.rows) - unknown
    if not known:
        return "invoice count unknown"
    months = "month's" if unknown == 1 else "months'"
    counted = f"{plural(invoices, 'invoice')} in {plural(known, 'month')}"
    return f"{counted}, {unknown} {months} count unknown"


def print_summary(ui: Ui, board: Board, out: Path) -> None:
    ui.out()
    rows = [_cells(board, row) for row in board.rows.values()]
    if ui.width is None:
        # Plain text for pipes and logs: one self-contained line per month.
        print_table(ui, COLUMNS, rows, title="Summary")
    else:
        # A terminal is narrow: a full request id leaves no room for errors, which go below;
        # narrower still, the table becomes a list (`print_table`): never a cut id or month.
        print_table(ui, COLUMNS[:5], [cells[:5] for cells in rows], title="Summary")
        for row in board.rows.values():
            if not row.message:
                continue
            # Unwrapped by rich: a hint's command, wrapped by the terminal, copies whole.
            if ui.fancy:
                ui.render(_error_line(row), soft_wrap=True)
            else:
                ui.out(f"{row.key}: {row.message}")
    ok, bad, invoices, files = board.totals()
    ui.out(
        f"Total: {plural(len(board.rows), 'month')}, {ok} ok, {bad} not ok; "
        f"{_invoices(board, invoices)}; {plural(files, 'file')}; "
        f"{format_seconds(board.total_elapsed())}"
    )
    ui.out(f"Output folder: {out.resolve()}")
