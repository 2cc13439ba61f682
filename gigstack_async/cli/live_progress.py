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
# Borders and padding around the fixed columns and the note.
_CHROME = 3 * (len(FIXED_COLUMNS) + 1) + 1


def render(board: Board, width: int) -> Group:
    table = Table(title_justify="left", expand=False)
    for header, justify, size in FIXED_COLUMNS:
        table.add_column(header, justify=justify, width=size, no_wrap=True)
    # What is left of the terminal, on one line per month: the summary shows errors in full.
    note = max(10, width - _CHROME - sum(size for _, _, size in FIXED_COLUMNS))
    table.add_column("Note", width=note, no_wrap=True, overflow="ellipsis")
    for row in list(board.rows.values()):
        table.add_row(
            row.key,
            row.short_id,
            Text(row.state, style=STATE_STYLES.get(row.state, "")),
            "" if row.invoices is None else str(row.invoices),
            str(row.files) if row.files else "",
            format_seconds(board.elapsed(row)),
            Text(row.error, style="red") if row.error else Text(row.note, style="dim"),
        )
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
