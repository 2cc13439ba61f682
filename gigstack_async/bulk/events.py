"""What a bulk download reports while it runs: progress events and one result per month."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import attrs

from gigstack_async._convert import converter


@attrs.frozen
class BulkEvent:
    """Base class: every event names its month (`"2024-01"`)."""

    key: str


@attrs.frozen
class Submitted(BulkEvent):
    """A month has a download request. `duplicate`: gigstack matched an identical earlier one
    (nothing new was created). `resumed`: found in the journal or history, not sent now."""

    request_id: str
    duplicate: bool = False
    resumed: bool = False


@attrs.frozen
class StateChanged(BulkEvent):
    """SAT moved the month's request to another state (`pending`, `processing`, ...)."""

    request_id: str
    state: str
    invoice_count: int | None = None


@attrs.frozen
class PackageDownloaded(BulkEvent):
    """A package was fetched, verified and written (`files` are new or already identical)."""

    package_id: str
    files: tuple[Path, ...]
    size: int


@attrs.frozen
class MonthFailed(BulkEvent):
    """Something went wrong for this month; the others carry on. A MonthResult follows.

    `error` says what happened; `hint` what to do next (None when nothing is asked of you),
    as in `MonthResult`."""

    error: str
    hint: str | None = None


@attrs.frozen
class MonthWarning(BulkEvent):
    """Something about this month needs watching (e.g. its polling keeps failing); it goes on."""

    message: str


@attrs.frozen
class MonthResult(BulkEvent):
    """The month is finished for this run: one per month, as each finishes.

    `state` is SAT's final state (`completed`, `failed`, `expired`) or None when the month could
    not be driven that far (`error` says why; re-running with the same journal continues it).
    `error` says what happened and `hint` what to do about it: print both (the hint is not
    repeated in the error).
    """

    request_id: str | None
    state: str | None
    invoice_count: int | None = None
    files: tuple[Path, ...] = ()
    """The month's files in `download_to`; for a `split` month, whatever its folder holds (the
    parts' files once copied there, e.g. with the `cp` that `journal split` prints)."""
    error: str | None = None
    duplicate: bool = False
    resumed: bool = False
    stage: str | None = None
    """The month's state in the journal: `done`, `empty`, `split` (SAT 5003, downloaded in
    parts elsewhere: `journal split`), `completed` (no `download_to`), `sat-failed`, `expired`,
    `refused`, `needs-attention`, or one still in progress (`planned`, `submitting`,
    `submitted`, `duplicate` (SAT 5005: looking for the active identical request),
    `processing`, `completed`: a re-run continues it). The CLI summary and `journal show` use
    these names. `held`: not sent, because the account already has the month's exact request
    and the run was not made with `allow_duplicates=True` (the journal keeps it `planned`,
    with the hold recorded beside it until it is adopted or sent: `journal show` lists it
    `held`; `error` and `hint` say why and what to do)."""
    hint: str | None = None
    """What to do next when the month needs you (also in `gigstack-async journal show`). Its
    `gigstack-async journal ...` commands name the journal's folder (or file) and the month:
    they run as printed."""
    open_day: date | None = None
    """Set when the month's request was sent on the day its dates end (Mexico City), before
    that day was over: CFDIs stamped later that day, or certified late at SAT, are not in its
    files. A run of the same command on a later day reports that day as MISSING DAYS, with the
    way to request it again (newcomer 9g #4)."""
    window_cut: tuple[date, date] | None = None
    """(first, last): days of the month this run asked for that it is complete without: the
    server refused them as outside its 71-month window, and `gigstack-async journal keep
    MONTH --outside-window` recorded that they are gone (newcomer 9j F1c). None: none cut."""
    parts: tuple[Path, ...] = ()
    """For a `split` month: the folders (or journal files, when not a folder's default one) of
    its parts elsewhere, as `journal split` recorded them, absolute (newcomer 10 F10: the
    summary said "split" with no pointer to them). Empty for any other month."""

    @property
    def ok(self) -> bool:
        """Whether the month is complete for this run's dates (SAT finished and nothing is
        wrong): what tells a finished month, not `stage == "done"` (a `done` month may still
        have MISSING DAYS in `error`); when False, `hint` is the next step. Also in
        `to_dict(result)` as `ok`."""
        return self.error is None and self.state == "completed"


_fields = converter.get_unstructure_hook(MonthResult)
# `ok` is a property, not a field: `to_dict` left it out, and a JSON client then had to
# rebuild it from `stage` (newcomer 9l #4: `stage == "done"` is not enough).
converter.register_unstructure_hook(
    MonthResult, lambda result: {**_fields(result), "ok": result.ok}
)
