"""Progress as one plain line per event: for pipes, logs, CI and terminals without rich."""

from __future__ import annotations

from types import TracebackType

from gigstack_async.bulk.events import (
    BulkEvent,
    MonthFailed,
    MonthResult,
    MonthWarning,
    PackageDownloaded,
    StateChanged,
    Submitted,
)
from gigstack_async.cli.progress import Board, MonthRow, format_seconds, next_step
from gigstack_async.cli.ui import Ui


def describe(event: BulkEvent, row: MonthRow) -> str:
    """What happened, after the month and state columns."""
    if isinstance(event, Submitted):
        how = (
            ", resumed from the journal"
            if event.resumed
            else ", an identical earlier request (nothing new created)"
            if event.duplicate
            else ""
        )
        return f"request {event.request_id}{how}"
    if isinstance(event, StateChanged):
        count = "" if row.invoices is None else f", {row.invoices} invoices"
        return f"request {row.short_id}{count}"
    if isinstance(event, PackageDownloaded):
        return f"{event.package_id}: {len(event.files)} files, {event.size:,} bytes"
    if isinstance(event, MonthWarning):
        return event.message
    if isinstance(event, MonthFailed):
        return next_step(event.error, event.hint) or ""
    if isinstance(event, MonthResult):
        invoices = "-" if row.invoices is None else str(row.invoices)  # unknown, as the table
        open_day = (
            f"; requested before {event.open_day} was over: run the same command again "
            "tomorrow for CFDIs stamped later that day"
            if event.ok and event.open_day is not None
            else ""
        )
        cut = (
            f"; without {event.window_cut[0]}..{event.window_cut[1]}: outside SAT's 71-month "
            "window (recorded with `journal keep --outside-window`)"
            if event.ok and event.window_cut is not None
            else ""
        )
        resumed = ", resumed from the journal" if event.resumed else ""
        return f"{invoices} invoices, {row.files} files{open_day}{cut}{resumed}"
    return ""


class PlainProgress:
    def __init__(self, ui: Ui, board: Board) -> None:
        self._ui = ui
        self._board = board
        # A month resumed from the journal: its "submitted" line waits for its next event, and
        # is dropped if that is its result (newcomer 9h #8: every finished month of a resumed
        # run printed "submitted", hundreds of lines for nothing that happened).
        # Its failure line (before its result) waits with it, in order.
        self._resumed: dict[str, list[str]] = {}

    async def __aenter__(self) -> PlainProgress:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Interrupted before their next event: the months are still being driven.
        for lines in self._resumed.values():
            for line in lines:
                self._ui.out(line)
        self._resumed.clear()

    def show(self, event: BulkEvent) -> None:
        row = self._board.apply(event)
        waiting = self._resumed.pop(event.key, None)
        if waiting is not None and not (isinstance(event, MonthResult) and event.resumed):
            # The month goes on in this run: its request first (the result that follows a
            # failure says whether it matters, so a failure waits too).
            if isinstance(event, MonthFailed):
                self._resumed[event.key] = waiting
            else:
                for line in waiting:
                    self._ui.out(line)
        elif waiting is not None:
            for line in waiting[1:]:  # finished before this run: only what it reports now
                self._ui.out(line)
        # MonthFailed and MonthResult both name the month's outcome; label the failure itself.
        state = (
            "warning"
            if isinstance(event, MonthWarning)
            else "error"
            if isinstance(event, MonthFailed)
            else "package"
            if isinstance(event, PackageDownloaded)
            else row.state
        )
        stamp = format_seconds(self._board.total_elapsed())
        line = f"[{stamp:>6}] {event.key}  {state:<11} {describe(event, row)}".rstrip()
        if isinstance(event, Submitted) and event.resumed:
            self._resumed[event.key] = [line]
            return
        if isinstance(event, MonthFailed) and event.key in self._resumed:
            self._resumed[event.key].append(line)
            return
        self._ui.out(line)
