"""What the user sees of a bulk download: one row per month, updated from the run's events.

States shown while it runs: planned → submitted → pending / accepted / processing → completed →
downloading. When the run ends each month shows its `MonthResult.stage`, the word `journal show`
prints for it: done, empty, split, sat-failed, expired, refused, needs-attention, held (or
completed without files); a month this run did not finish keeps its in-progress stage (planned,
submitting, submitted, processing, completed), which a re-run continues. A month whose polling keeps
failing gets the note "polling failing". The model is pure (no output) so the live table, the
plain lines and the summary all read the same rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from gigstack_async.bulk.events import (
    BulkEvent,
    MonthFailed,
    MonthResult,
    MonthWarning,
    PackageDownloaded,
    StateChanged,
    Submitted,
)
from gigstack_async.bulk.hints import submitting_texts, with_journal
from gigstack_async.bulk.machine import MonthState, Stage

FINAL_STAGES = frozenset(
    (
        "done",
        "empty",
        "split",
        "completed",
        "sat-failed",
        "expired",
        "refused",
        "needs-attention",
        "held",
    )
)
"""`MonthResult.stage` values a run ends a month in; any other stage is one a re-run continues."""


@dataclass
class MonthRow:
    key: str
    state: str = "planned"
    request_id: str | None = None
    invoices: int | None = None
    files: int = 0
    error: str | None = None
    hint: str | None = None
    note: str = ""
    started: float | None = None
    finished: float | None = None
    done: bool = False
    ok: bool = False
    parts: tuple[Path, ...] = ()
    """A `split` month's part folders (`MonthResult.parts`): the summary names them."""

    @property
    def short_id(self) -> str:
        return (self.request_id or "")[:8]

    @property
    def message(self) -> str | None:
        """What happened, then what to do ("Next: ..."), as the summary shows it."""
        return next_step(self.error, self.hint)


class Board:
    """The months of one run, in plan order (a journal may add months the plan does not name)."""

    def __init__(
        self,
        keys: Iterable[str],
        clock: Callable[[], float] = time.monotonic,
        *,
        held: Iterable[str] = (),
    ) -> None:
        self._clock = clock
        self.started = clock()
        self.rows: dict[str, MonthRow] = {key: MonthRow(key) for key in keys}
        self.held = frozenset(held)
        """Months the plan showed held (the account already has their identical request): a
        month of them this run did not finish is `held` after Ctrl-C, as the plan said."""

    def row(self, key: str) -> MonthRow:
        if key not in self.rows:
            self.rows[key] = MonthRow(key)
        return self.rows[key]

    def apply(self, event: BulkEvent) -> MonthRow:
        row = self.row(event.key)
        if row.started is None:
            row.started = self._clock()
        if isinstance(event, Submitted):
            row.request_id = event.request_id
            row.state = "submitted"
            row.note = "resumed" if event.resumed else "duplicate" if event.duplicate else ""
        elif isinstance(event, StateChanged):
            row.request_id = event.request_id or row.request_id
            row.state = event.state
            # Before SAT finishes, a count of 0 means "not known yet", not "no invoices".
            if event.invoice_count or event.state == "completed":
                row.invoices = event.invoice_count
        elif isinstance(event, PackageDownloaded):
            row.state = "downloading"
            row.files += len(event.files)
        elif isinstance(event, MonthWarning):
            # Polling keeps failing for this month: a note in the table, the run goes on.
            row.note = "polling failing"
        elif isinstance(event, MonthFailed):
            row.error = event.error  # the MonthResult that follows names the state
            row.hint = event.hint
        elif isinstance(event, MonthResult):
            self._finish(row, event)
        return row

    def _finish(self, row: MonthRow, result: MonthResult) -> None:
        row.done = True
        row.ok = result.ok
        row.finished = self._clock()
        row.request_id = result.request_id or row.request_id
        if result.invoice_count or result.ok:
            row.invoices = result.invoice_count
        # The result lists every file of the month, including those of an earlier run.
        row.files = max(row.files, len(result.files))
        row.error = result.error
        # A finished month's hint is kept only for its open day (newcomer 9h #3): the rest of
        # a finished month's hints are not steps to take.
        row.hint = None if result.ok and result.open_day is None else result.hint
        # One word per state, the journal's, in the summary, `journal show` and the README; a
        # month this run did not finish (--timeout) keeps its in-progress stage, and its error
        # says that a re-run continues it.
        row.state = result.stage or row.state
        row.parts = result.parts
        if result.resumed and not row.note:
            row.note = "resumed"
        if result.ok and result.open_day is not None:
            # Requested on its last day (newcomer 9g #4): tomorrow's run names what is missing.
            row.note = f"{result.open_day} not over"
        elif result.ok and result.window_cut is not None:
            # Days SAT's window no longer has, accepted with `journal keep --outside-window`.
            row.note = f"{result.window_cut[0]}..{result.window_cut[1]} outside SAT's window"

    def settle(self, journal: Mapping[str, MonthState], folder: str | None = None) -> None:
        """After Ctrl-C: each month the run did not finish takes the stage its journal record
        says (a re-run continues it from there), with the request id, count and files the
        journal knows, and whether it is ok (the Total counts the rows it shows); a month
        without a record was never sent: `planned`, or `held` when the plan held it (r2 N8:
        was `planned` after the plan listed it held). A month left `submitting` says a create
        may have been billed, and what the next run does (`submitting_texts`; its command
        names `folder`, what `journal` commands take for this run)."""
        for row in self.rows.values():
            if row.done:
                continue
            state = journal.get(row.key)
            unsent = state is None or state.stage is Stage.PLANNED
            if unsent and row.key in self.held and row.request_id is None:
                row.state = "held"
                continue
            if state is None:
                if row.request_id is None:
                    row.state = "planned"
                continue
            row.state = state.stage.value
            # The Total counts the rows as shown (newcomer 9i F1: 4 months `done` from the
            # journal, "2 ok" from the results delivered before Ctrl-C).
            row.ok = state.ok
            row.request_id = state.request_id or row.request_id
            # A 0 an older journal kept while SAT was still counting is "not known yet"
            # (newcomer 9h #7: "0 invoices in 44 months" of processing months after Ctrl-C).
            if state.invoice_count or state.ok or state.sat_state == "completed":
                row.invoices = state.invoice_count
            row.files = max(row.files, len(state.files))
            if state.stage is Stage.SUBMITTING:
                # Newcomer 10 F5: `submitting` alone hid a create that may have been billed.
                row.error, hint = submitting_texts(state)
                row.hint = with_journal(hint, row.key, folder)

    def elapsed(self, row: MonthRow) -> float | None:
        if row.started is None:
            return None
        return (row.finished if row.finished is not None else self._clock()) - row.started

    def total_elapsed(self) -> float:
        return self._clock() - self.started

    @property
    def all_ok(self) -> bool:
        return bool(self.rows) and all(row.ok for row in self.rows.values())

    @property
    def finished_count(self) -> int:
        return sum(row.done for row in self.rows.values())

    @property
    def failed_count(self) -> int:
        return sum(row.done and not row.ok for row in self.rows.values())

    def totals(self) -> tuple[int, int, int, int]:
        """(months ok, months not ok, invoices of the months whose count is known, files)."""
        rows = list(self.rows.values())
        ok = sum(row.ok for row in rows)
        return (
            ok,
            len(rows) - ok,
            sum(row.invoices or 0 for row in rows),
            sum(row.files for row in rows),
        )

    @property
    def unknown_counts(self) -> int:
        """Months whose invoice count is unknown (the server did not say): never counted as 0."""
        return sum(row.invoices is None for row in self.rows.values())


class ProgressView(Protocol):
    """How a run's progress is shown: entered around the run, told about every event."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def show(self, event: BulkEvent) -> None: ...


def next_step(error: str | None, hint: str | None) -> str | None:
    """`error` (what happened) and `hint` (what to do) as one text: "<error>. Next: <hint>"."""
    if not hint:
        return error
    if not error:
        return f"Next: {hint}"
    return f"{error.rstrip('.')}. Next: {hint}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"
