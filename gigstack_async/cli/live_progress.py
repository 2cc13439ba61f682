"""Progress as a live rich table, one row per month, redrawn on each event and a few times a
second so the elapsed column keeps moving. Only imported when rich is installed."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from rich.console import Group, JustifyMethod
from rich.live import Live
from rich.table import Table
from rich.text import Text

from gigstack_async.bulk.events import BulkEvent
from gigstack_async.cli.progress import Board, format_seconds
from gigstack_async.cli.ui import Ui

STATE_STYLES = {
    "planned": "dim",
    "submitted": "cyan",
    "pending": "yellow",
    "accepted": "yellow",
    "processing": "blue",
    "completed": "magenta",
    "downloading": "magenta",
    "done": "bold green",
    "empty": "green",
    "split": "green",
    "held": "yellow",
    "sat-failed": "bold red",
    "needs-attention": "bold red",
    "refused": "red",
    "expired": "red",
    "submitting": "yellow",
}
REFRESH_SECONDS = 0.25

# (header, justify, width): every cell fits, so the table never reflows while it updates.
FIXED_COLUMNS: tuple[tuple[str, JustifyMethod, int], ...] = (
    ("Month", "left", 7),
    ("Request", "left", 8),
    ("State", "left", 15),
    ("Invoices", "right", 8),
    ("Files", "right", 5),
    ("Elapsed", "right", 7),
)
# The note gets what is left, at least this much, or it is left out.
_NOTE_MIN = 10
# What a narrow terminal loses first (the status line below keeps the totals and the time);
# month, request and state are never cut.
_DROP_ORDER = ("Elapsed", "Files", "Note", "Invoices")


def _chrome(columns: int) -> int:
    """Borders and padding of a table of `columns` columns."""
    return 3 * columns + 1


def _layout(width: int) -> tuple[list[tuple[str, JustifyMethod, int]], int]:
    """The fixed columns that fit `width` and the note's width (0: no note column)."""
    shown = list(FIXED_COLUMNS)
    note = True
    for dropped in (None, *_DROP_ORDER):
        if dropped == "Note":
            note = False
        elif dropped is not None:
            shown = [col for col in shown if col[0] != dropped]
        used = _chrome(len(shown) + note) + sum(size for _, _, size in shown)
        if used + (_NOTE_MIN if note else 0) <= width:
            break
    return shown, max(_NOTE_MIN, width - used) if note else 0


def render(board: Board, width: int) -> Group:
    table = Table(title_justify="left", expand=False)
    shown, note = _layout(width)
    for header, justify, size in shown:
        table.add_column(header, justify=justify, width=size, no_wrap=True)
    if note:
        # What is left of the terminal, on one line per month: the summary shows errors (a long
        # reason shortened: `journal show` has it in full).
        table.add_column("Note", width=note, no_wrap=True, overflow="ellipsis")
    names = [header for header, _, _ in shown]
    for row in list(board.rows.values()):
        cells: dict[str, str | Text] = {
            "Month": row.key,
            "Request": row.short_id,
            "State": Text(row.state, style=STATE_STYLES.get(row.state, "")),
            "Invoices": "" if row.invoices is None else str(row.invoices),
            "Files": str(row.files) if row.files else "",
            "Elapsed": format_seconds(board.elapsed(row)),
        }
        extra = (
            [Text(row.error, style="red") if row.error else Text(row.note, style="dim")]
            if note
            else []
        )
        table.add_row(*(cells[name] for name in names), *extra)
    ok, _, invoices, files = board.totals()
    status = Text(
        f"{board.finished_count}/{len(board.rows)} done · {ok} ok · "
        f"{board.failed_count} not ok · {invoices} invoices · {files} files · "
        f"{format_seconds(board.total_elapsed())}"
    )
    return Group(table, status)


class LiveProgress:
    def __init__(self, ui: Ui, board: Board) -> None:
        self._board = board
        # transient: the live table gives way to the summary table when the run ends.
        # No refresh thread: every redraw happens on the event loop, so the board is never read
        # while it is being changed.
        self._console = ui.console
        self._live = Live(self._render(), console=ui.console, auto_refresh=False, transient=True)
        self._ticker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LiveProgress:
        self._live.start(refresh=True)
        self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        self._live.stop()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            self._live.update(self._render(), refresh=True)

    def _render(self) -> Group:
        return render(self._board, self._console.width)

    def show(self, event: BulkEvent) -> None:
        self._board.apply(event)
        self._live.update(self._render(), refresh=True)
