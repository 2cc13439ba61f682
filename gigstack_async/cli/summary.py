"""The table printed when a bulk download ends: every month's outcome, totals, and where the
files are."""

from __future__ import annotations

from pathlib import Path

from gigstack_async.bulk.hints import shell_quote
from gigstack_async.cli.progress import Board, MonthRow, format_seconds, next_step, plural
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


REASON_LIMIT = 300
"""Characters of a month's reason (`MonthResult.error`) the summary shows whole; a longer one
is shortened (`concise_reason`). Its hint ("Next: ...") is always shown whole: it holds the
commands to run."""
_ELIDED = "(…)"


def concise_reason(text: str, limit: int = REASON_LIMIT) -> str:
    """`text` (a month's reason: what happened) for the summary: itself when at most `limit`
    characters; else its top-level parenthesised details of more than 40 characters each
    shown as "(…)" (newcomer 9j F4: a create's lost answer printed the whole
    OutcomeUnknownError and aiohttp's `<ContentLengthError: 400, ...>`, 1,300 characters a
    row), then, if still too long, cut after its last top-level "; " or ". " within `limit`,
    ending "…". Nothing inside backticks is touched (a command stays whole or goes whole).
    The full text stays in `MonthResult.error`, `journal show` and the plain progress lines.

    >>> concise_reason("lost (" + "x" * 50 + "); the history cannot tell (it lists 0)", 60)
    'lost (…); the history cannot tell (it lists 0)'
    """
    if len(text) <= limit:
        return text
    shown: list[str] = []
    depth, start, quoted = 0, 0, False
    for i, char in enumerate(text):
        if char == "`" and not depth:
            quoted = not quoted
        elif char == "(" and not quoted:
            if depth == 0:
                start = i
            depth += 1
            continue
        elif char == ")" and depth:
            depth -= 1
            if depth == 0:
                inner = text[start + 1 : i]
                shown.append(_ELIDED if len(inner) > 40 else f"({inner})")
            continue
        if not depth:
            shown.append(char)
    if depth:  # unbalanced: the rest as it was
        shown.append(text[start:])
    short = "".join(shown)
    if len(short) <= limit:
        return short
    cut = max(_top_level_breaks(short, limit), default=0)
    if cut:
        return short[:cut].rstrip(" ;.") + " …"
    # No sentence ends within `limit`: cut at its last space, never inside a word (newcomer
    # 9m #10: "(unknown never counts as aft …") nor inside a backticked command.
    space = short.rfind(" ", 0, limit + 1)
    while space > 0 and short[:space].count("`") % 2:
        space = short.rfind(" ", 0, short.rfind("`", 0, space))
    kept = short[:space] if space > 0 else short[:limit]
    return kept.rstrip(" ;.,:(") + " …"


def _top_level_breaks(text: str, limit: int) -> list[int]:
    """Where `text` may be cut within `limit`: after a "; " or ". " outside backticks and
    parentheses."""
    found, depth, quoted = [], 0, False
    for i, char in enumerate(text[:limit]):
        if char == "`":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif char in ";." and depth == 0 and text[i + 1 : i + 2] == " ":
            found.append(i + 1)
    return found


def _message(row: MonthRow) -> str:
    """The row's reason (shortened: `concise_reason`), then its whole hint."""
    reason = None if row.error is None else concise_reason(row.error)
    return next_step(reason, row.hint) or ""


def _shortened(board: Board) -> list[str]:
    return [
        key
        for key, row in board.rows.items()
        if row.error is not None and concise_reason(row.error) != row.error
    ]


def _error_line(row: MonthRow) -> object:
    from rich.text import Text

    return Text.assemble((f"{row.key}: ", "bold"), (_message(row), "red"))


def _cells(board: Board, row: MonthRow) -> list[str]:
    return [
        row.key,
        row.request_id or "-",
        row.state,
        "-" if row.invoices is None else str(row.invoices),
        str(row.files),
        format_seconds(board.elapsed(row)),
        _message(row),
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


def _shown_path(path: Path) -> str:
    """`path` as the user would type it here: relative to the current folder when inside it,
    else absolute."""
    full = path.absolute()
    try:
        return str(full.relative_to(Path.cwd().absolute()))
    except ValueError:
        return str(full)


def print_summary(ui: Ui, board: Board, out: Path, journal: Path | None = None) -> None:
    """The summary table, totals and output folder. `journal`: what `gigstack-async journal`
    commands take for this run (the folder, or the --journal file; default `out`), named where
    a month's reason was shortened."""
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
                ui.out(f"{row.key}: {_message(row)}")
    for row in board.rows.values():
        if row.parts:
            # Newcomer 10 F10: "split 69 0" with no pointer to where the month's CFDIs are.
            where = shell_quote(str(journal or out))
            ui.out(
                f"{row.key}: split: downloaded in parts into "
                f"{', '.join(shell_quote(_shown_path(p)) for p in row.parts)} "
                f"(`gigstack-async journal show {where} {row.key}` says which days each holds)"
            )
    shortened = _shortened(board)
    if shortened:
        where = shell_quote(str(journal or out))
        ui.out(
            f"Reasons shortened for {', '.join(shortened)} ((…) marks details left out): "
            f"`gigstack-async journal show {where} <month>` prints each in full."
        )
    ok, bad, invoices, files = board.totals()
    ui.out(
        f"Total: {plural(len(board.rows), 'month')}, {ok} ok, {bad} not ok; "
        f"{_invoices(board, invoices)}; {plural(files, 'file')}; "
        f"{format_seconds(board.total_elapsed())}"
    )
    ui.out(f"Output folder: {out.resolve()}")
