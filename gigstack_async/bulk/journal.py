"""The crash-safe journal of a bulk download run: resume without paying twice.

One JSON file per run records each month's progress. Every change is written atomically (temp
file, fsync, rename, directory fsync) before the method returns, so the file on disk is always
a complete version: the one before the change or the one after, never half of each.

Phases of a month::

    planned ──record_intent──▶ submitting ──record_submitted, or resolve(id)──▶ submitted
       ▲                           │                                              │
       └────── resolve(None) ──────┘                                 record_state │
                                                                                  ▼
                                              completed  /  failed  /  expired
                                                  │
                                 record_package…, record_downloaded
                                                  ▼
                                              downloaded

    record_failed: any phase but downloaded ──▶ failed;   reset: failed/expired ──▶ planned

`submitting` is written BEFORE the billed create request is sent. A month still `submitting`
when a journal is reopened is an unknown outcome: the request may or may not have reached
gigstack. Look it up in `GET /invoices/download/schedule/history` (`MonthSlot.matches`) and call
`resolve` with what you found, before submitting anything again.

>>> journal = Journal.open("2024-received.journal.json", plan)        # doctest: +SKIP
>>> for entry in journal.needs_submission():                           # doctest: +SKIP
...     journal.record_intent(entry.key)          # on disk before the request is sent
...     created = await client.downloads.create_request(...)
...     journal.record_submitted(entry.key, created.request_id, created.duplicate)

The journal is synchronous (writes are small) and not thread-safe: drive it from one thread,
such as the event loop's. An advisory lock on `<path>.lock` keeps other processes out.
"""

from __future__ import annotations

import json
import os
import re
import sys
import weakref
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import attrs

from gigstack_async._atomic import write_atomic
from gigstack_async._generated.models import DownloadRequestState, RequestType, RfcType
from gigstack_async._validation import non_empty_str
from gigstack_async.bulk.plan import DownloadPlan, MonthSlot, PlanCriteria
from gigstack_async.errors import GigstackError, InvalidParameterError

if sys.platform != "win32":
    import fcntl

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Journal",
    "JournalCorruptError",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalStateError",
    "MonthEntry",
    "PackageRecord",
    "Phase",
]

FORMAT = "gigstack-async/bulk-journal"
FORMAT_VERSION = 1

_SHA256_RE = re.compile(r"[0-9a-f]{64}")


class JournalError(GigstackError):
    """A journal cannot be opened or cannot take the requested change."""


class JournalCorruptError(JournalError):
    """The journal file is not a journal this version can read (bad JSON, missing fields…)."""


class JournalMismatchError(JournalError):
    """The journal belongs to a different run (other criteria, or a sent month's dates changed)."""


class JournalLockedError(JournalError):
    """Another process holds the journal's lock."""


class JournalStateError(JournalError):
    """The change does not fit the month's phase (for example submitting a month twice)."""


class Phase(StrEnum):
    """Where a month stands. Final SAT states are `completed`, `failed`, `expired`."""

    PLANNED = "planned"
    SUBMITTING = "submitting"
    """Intent recorded, create request sent or about to be: the outcome is not known yet."""
    SUBMITTED = "submitted"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    DOWNLOADED = "downloaded"


# gigstack history status -> phase. Anything else (pending, accepted, processing, and values
# this SDK does not know yet) means SAT is still working on it.
_FINAL_STATES = {
    DownloadRequestState.COMPLETED.value: Phase.COMPLETED,
    DownloadRequestState.FAILED.value: Phase.FAILED,
    DownloadRequestState.EXPIRED.value: Phase.EXPIRED,
}


@attrs.frozen
class PackageRecord:
    """One downloaded package: its SHA-256 (lower-case hex) and the files written from it."""

    package_id: str
    sha256: str
    files: tuple[str, ...]


@attrs.frozen
class MonthEntry:
    """A snapshot of one month's record. Journal methods return new snapshots; never mutated."""

    slot: MonthSlot
    phase: Phase
    planned_at: datetime
    updated_at: datetime
    request_id: str | None = None
    duplicate: bool | None = None
    """gigstack answered `duplicate: true`: `request_id` is an identical request made earlier."""
    sat_state: str | None = None
    """The last history/status `status` seen, kept as sent (unknown values included)."""
    invoice_count: int | None = None
    package_ids: tuple[str, ...] = ()
    packages: tuple[PackageRecord, ...] = ()
    message: str | None = None
    """The server's `statusMessage` for the last state."""
    error: str | None = None
    """Why this SDK marked the month failed (`record_failed`)."""
    attempts: int = 0
    """How many times a create request was intended for these dates (SAT allows 2, ever)."""
    previous_request_ids: tuple[str, ...] = ()
    intent_at: datetime | None = None
    submitted_at: datetime | None = None
    finished_at: datetime | None = None
    downloaded_at: datetime | None = None

    @property
    def key(self) -> str:
        return self.slot.key

    @property
    def fingerprint(self) -> str:
        return self.slot.fingerprint

    @property
    def missing_packages(self) -> tuple[str, ...]:
        """Package ids known for the request but not recorded as downloaded yet."""
        done = {package.package_id for package in self.packages}
        return tuple(pid for pid in self.package_ids if pid not in done)


def _now() -> datetime:
    return datetime.now(UTC)


def _unlock(lock_fd: int | None) -> None:
    if lock_fd is not None:
        os.close(lock_fd)  # closing the descriptor drops the flock


def _lock(lock_path: Path) -> int | None:
    """Take an exclusive, non-blocking advisory lock; the OS drops it if the process dies."""
    if sys.platform == "win32":
        return None  # no flock: keeping one process per journal is up to the user there
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalLockedError(
            f"{lock_path} is locked: another process is driving this journal. Wait for it to "
            "finish, or stop it; the lock is released automatically when that process exits."
        ) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


# ------------------------------------------------------------------ JSON encoding


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _encode_entry(entry: MonthEntry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "fingerprint": entry.fingerprint,
        "start_date": entry.slot.start_date.isoformat(),
        "end_date": entry.slot.end_date.isoformat(),
        "phase": entry.phase.value,
        "request_id": entry.request_id,
        "duplicate": entry.duplicate,
        "sat_state": entry.sat_state,
        "invoice_count": entry.invoice_count,
        "package_ids": list(entry.package_ids),
        "packages": [
            {"package_id": p.package_id, "sha256": p.sha256, "files": list(p.files)}
            for p in entry.packages
        ],
        "message": entry.message,
        "error": entry.error,
        "attempts": entry.attempts,
        "previous_request_ids": list(entry.previous_request_ids),
        "planned_at": _iso(entry.planned_at),
        "intent_at": _iso(entry.intent_at),
        "submitted_at": _iso(entry.submitted_at),
        "finished_at": _iso(entry.finished_at),
        "downloaded_at": _iso(entry.downloaded_at),
        "updated_at": _iso(entry.updated_at),
    }


def _encode(
    criteria: PlanCriteria, created_at: datetime, months: Mapping[str, MonthEntry]
) -> bytes:
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "criteria": {
            "rfc_type": criteria.rfc_type.value,
            "request_type": criteria.request_type.value,
        },
        "created_at": created_at.isoformat(),
        "months": {key: _encode_entry(months[key]) for key in sorted(months)},
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# ------------------------------------------------------------------ JSON decoding


class _Bad(Exception):
    """A decoding problem at `where`; open() turns it into JournalCorruptError with the path."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")


def _get(obj: Mapping[str, Any], name: str, kinds: tuple[type, ...], where: str) -> Any:
    if name not in obj:
        raise _Bad(where, f"missing {name!r}")
    value = obj[name]
    # bool is an int: an int field holding true/false is corrupt, not 1/0.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise _Bad(f"{where}.{name}", f"unexpected value {value!r}")
    return value


def _opt(obj: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    return _get(obj, name, (kind, type(None)), where)


def _strings(obj: Mapping[str, Any], name: str, where: str) -> tuple[str, ...]:
    items = _get(obj, name, (list,), where)
    if not all(isinstance(item, str) for item in items):
        raise _Bad(f"{where}.{name}", "expected a list of strings")
    return tuple(items)


def _day(obj: Mapping[str, Any], name: str, where: str) -> date:
    text = _get(obj, name, (str,), where)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{where}.{name}", f"not a date: {text!r}") from None


def _instant(obj: Mapping[str, Any], name: str, where: str) -> datetime | None:
    text = _opt(obj, name, str, where)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{where}.{name}", f"not a timestamp: {text!r}") from None


def _enum(obj: Mapping[str, Any], name: str, enum_cls: type[StrEnum], where: str) -> Any:
    text = _get(obj, name, (str,), where)
    try:
        return enum_cls(text)
    except ValueError:
        raise _Bad(f"{where}.{name}", f"unknown value {text!r}") from None


def _decode_entry(raw: object, key: str, criteria: PlanCriteria) -> MonthEntry:
    where = f"months.{key}"
    if not isinstance(raw, dict):
        raise _Bad(where, "expected an object")
    slot = MonthSlot(
        key=_get(raw, "key", (str,), where),
        start_date=_day(raw, "start_date", where),
        end_date=_day(raw, "end_date", where),
        rfc_type=criteria.rfc_type,
        request_type=criteria.request_type,
    )
    if slot.key != key or slot.start_date.strftime("%Y-%m") != key:
        raise _Bad(where, "key does not match its dates")
    if _get(raw, "fingerprint", (str,), where) != slot.fingerprint:
        raise _Bad(where, "fingerprint does not match its criteria and dates")
    packages = []
    for index, item in enumerate(_get(raw, "packages", (list,), where)):
        at = f"{where}.packages[{index}]"
        if not isinstance(item, dict):
            raise _Bad(at, "expected an object")
        packages.append(
            PackageRecord(
                package_id=_get(item, "package_id", (str,), at),
                sha256=_get(item, "sha256", (str,), at),
                files=_strings(item, "files", at),
            )
        )
    planned_at = _instant(raw, "planned_at", where)
    updated_at = _instant(raw, "updated_at", where)
    if planned_at is None or updated_at is None:
        raise _Bad(where, "planned_at and updated_at are required")
    entry = MonthEntry(
        slot=slot,
        phase=_enum(raw, "phase", Phase, where),
        planned_at=planned_at,
        updated_at=updated_at,
        request_id=_opt(raw, "request_id", str, where),
        duplicate=_opt(raw, "duplicate", bool, where),
        sat_state=_opt(raw, "sat_state", str, where),
        invoice_count=_opt(raw, "invoice_count", int, where),
        package_ids=_strings(raw, "package_ids", where),
        packages=tuple(packages),
        message=_opt(raw, "message", str, where),
        error=_opt(raw, "error", str, where),
        attempts=_get(raw, "attempts", (int,), where),
        previous_request_ids=_strings(raw, "previous_request_ids", where),
        intent_at=_instant(raw, "intent_at", where),
        submitted_at=_instant(raw, "submitted_at", where),
        finished_at=_instant(raw, "finished_at", where),
        downloaded_at=_instant(raw, "downloaded_at", where),
    )
    # A phase after `submitted` without a request id cannot be resumed safely.
    needs_id = {Phase.SUBMITTED, Phase.COMPLETED, Phase.EXPIRED, Phase.DOWNLOADED}
    if entry.phase in needs_id and entry.request_id is None:
        raise _Bad(where, f"phase {entry.phase.value!r} without a request_id")
    return entry


def _decode(data: bytes) -> tuple[PlanCriteria, datetime, dict[str, MonthEntry]]:
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _Bad("file", "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _Bad("file", f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _Bad("file", f'not a gigstack-async bulk journal (no "format": {FORMAT!r})')
    version = _get(document, "version", (int,), "file")
    if version != FORMAT_VERSION:
        newer = " (written by a newer gigstack-async: upgrade)" if version > FORMAT_VERSION else ""
        raise _Bad("version", f"unsupported journal version {version}{newer}")
    raw_criteria = _get(document, "criteria", (dict,), "file")
    criteria = PlanCriteria(
        rfc_type=_enum(raw_criteria, "rfc_type", RfcType, "criteria"),
        request_type=_enum(raw_criteria, "request_type", RequestType, "criteria"),
    )
    created_at = _instant(document, "created_at", "file")
    if created_at is None:
        raise _Bad("file", "missing created_at")
    raw_months = _get(document, "months", (dict,), "file")
    months = {key: _decode_entry(raw, key, criteria) for key, raw in raw_months.items()}
    return criteria, created_at, months


# ------------------------------------------------------------------ the journal


class Journal:
    """The on-disk record of one bulk run; open it with `Journal.open`.

    Mutating methods write the whole file atomically and return the month's new `MonthEntry`
    only after the write is durable. If a write fails, the method raises and nothing changes,
    on disk or in memory: do not proceed with the step it was guarding.
    """

    def __init__(
        self,
        path: Path,
        criteria: PlanCriteria,
        created_at: datetime,
        months: dict[str, MonthEntry],
        lock_fd: int | None,
    ) -> None:
        self._path = path
        self._criteria = criteria
        self._created_at = created_at
        self._months = months
        self._closed = False
        # Drops the lock even if the caller forgets close(): the fd is freed with the object.
        self._release = weakref.finalize(self, _unlock, lock_fd)

    # ---------------------------------------------------------- opening and closing

    @classmethod
    def open(cls, path: str | os.PathLike[str], plan: DownloadPlan | None = None) -> Journal:
        """Create the journal for `plan` at `path`, or load and resume the one there.

        With an existing file, the plan must have the same criteria (rfc_type, request_type);
        months the plan adds are appended as `planned`, months it omits are kept. A month whose
        dates changed (say the end was clipped to a later "today") is updated only while still
        `planned`; if it was already sent, JournalMismatchError. Without a plan, the file must
        exist and is resumed as recorded.

        Raises JournalLockedError when another process has it open, JournalCorruptError when the
        file cannot be read as a journal, JournalMismatchError for another run's journal.

        >>> with Journal.open("run.journal.json", plan) as journal:   # doctest: +SKIP
        ...     print(journal.counts())
        """
        target = Path(path)
        if plan is None and not target.exists():
            raise JournalError(f"no journal at {target}; pass a plan to start one")
        if plan is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock(target.with_name(target.name + ".lock"))
        try:
            criteria, created_at, months = _load_or_create(target, plan)
        except BaseException:
            _unlock(lock_fd)
            raise
        # Built only now: its finalizer owns the lock, so it must exist only on success.
        return cls(target, criteria, created_at, months, lock_fd)

    def close(self) -> None:
        """Release the lock. The file is always up to date, so there is nothing to flush."""
        if self._closed:
            return
        self._closed = True
        self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        counts = ", ".join(f"{phase.value}={n}" for phase, n in self.counts().items() if n)
        return f"<Journal {str(self._path)!r} {_describe(self._criteria)} {counts}>"

    # ---------------------------------------------------------- queries

    @property
    def path(self) -> Path:
        return self._path

    @property
    def criteria(self) -> PlanCriteria:
        return self._criteria

    def entry(self, key: str) -> MonthEntry:
        """The month `key` (`YYYY-MM`); KeyError if the journal has no such month."""
        return self._months[key]

    def entries(self, *phases: Phase) -> list[MonthEntry]:
        """All months in key order, or only those in `phases`."""
        return [
            self._months[key]
            for key in sorted(self._months)
            if not phases or self._months[key].phase in phases
        ]

    def needs_submission(self) -> list[MonthEntry]:
        """Months never sent (`planned`): safe to `record_intent` and submit."""
        return self.entries(Phase.PLANNED)

    def unknown_outcomes(self) -> list[MonthEntry]:
        """Months left `submitting`: a create request may have reached gigstack. Reconcile them
        against the history and `resolve` each before submitting anything."""
        return self.entries(Phase.SUBMITTING)

    def open_requests(self) -> list[MonthEntry]:
        """Months with a request id waiting for a final SAT state (`submitted`)."""
        return self.entries(Phase.SUBMITTED)

    def needs_download(self) -> list[MonthEntry]:
        """Months whose request completed and whose packages are not all saved yet."""
        return self.entries(Phase.COMPLETED)

    def counts(self) -> dict[Phase, int]:
        """How many months are in each phase (every phase listed, zeros included)."""
        counts = dict.fromkeys(Phase, 0)
        for entry in self._months.values():
            counts[entry.phase] += 1
        return counts

    @property
    def finished(self) -> bool:
        """True when no month has anything left to do without a user decision."""
        done = {Phase.DOWNLOADED, Phase.FAILED, Phase.EXPIRED}
        return all(entry.phase in done for entry in self._months.values())

    # ---------------------------------------------------------- state changes

    def record_intent(self, key: str) -> MonthEntry:
        """Record that the create request for `key` is about to be sent. Call it BEFORE sending.

        Only a `planned` month can be submitted; a month left `submitting` must be resolved first.
        """
        entry = self._expect(key, Phase.PLANNED, "submit")
        now = _now()
        return self._commit(
            attrs.evolve(
                entry,
                phase=Phase.SUBMITTING,
                attempts=entry.attempts + 1,
                intent_at=now,
                error=None,
                updated_at=now,
            )
        )

    def record_submitted(self, key: str, request_id: str, duplicate: bool = False) -> MonthEntry:
        """Record the create response: the request id (and gigstack's `duplicate` flag).

        Repeating it with the same id is a no-op.
        """
        request_id = _request_id(request_id)
        entry = self._months_entry(key)
        if entry.phase is Phase.SUBMITTED and entry.request_id == request_id:
            return entry
        entry = self._expect(key, Phase.SUBMITTING, "record a submission for")
        return self._submitted(entry, request_id, duplicate)

    def resolve(self, key: str, request_id: str | None, *, duplicate: bool = False) -> MonthEntry:
        """Settle an unknown outcome (`submitting`) after checking the server's history.

        `request_id` of the matching history entry moves the month to `submitted`; None says the
        request never arrived and puts the month back to `planned` (to be submitted again).
        """
        entry = self._expect(key, Phase.SUBMITTING, "resolve")
        if request_id is None:
            return self._commit(attrs.evolve(entry, phase=Phase.PLANNED, updated_at=_now()))
        return self._submitted(entry, _request_id(request_id), duplicate)

    def record_state(
        self,
        key: str,
        state: DownloadRequestState | str,
        invoice_count: int | None = None,
        package_ids: Sequence[str] | None = None,
        message: str | None = None,
    ) -> MonthEntry:
        """Record the request's state from history or status polling.

        `completed`, `failed` and `expired` move the month to that phase; any other state
        (`pending`, `accepted`, `processing`, or a value this SDK does not know) keeps it
        `submitted`. A `downloaded` month stays downloaded. None arguments keep the recorded
        value. Nothing is written when nothing changed, so polling is cheap.
        """
        if not isinstance(state, str):
            raise TypeError(f"state: expected a DownloadRequestState or str, got {state!r}")
        if invoice_count is not None and (
            isinstance(invoice_count, bool) or not isinstance(invoice_count, int)
        ):
            raise TypeError(f"invoice_count: expected an int, got {invoice_count!r}")
        entry = self._months_entry(key)
        if entry.request_id is None or entry.phase in (Phase.PLANNED, Phase.SUBMITTING):
            raise JournalStateError(
                f"{key} is {entry.phase.value} and has no request id yet: record_submitted "
                "or resolve it first"
            )
        value = state.value if isinstance(state, DownloadRequestState) else state
        phase: Phase = entry.phase
        if phase is not Phase.DOWNLOADED:
            phase = _FINAL_STATES.get(value, Phase.SUBMITTED)
        candidate = attrs.evolve(
            entry,
            phase=phase,
            sat_state=value,
            invoice_count=entry.invoice_count if invoice_count is None else invoice_count,
            package_ids=entry.package_ids if package_ids is None else _ids(package_ids),
            message=entry.message if message is None else message,
        )
        if candidate == entry:
            return entry
        now = _now()
        finished_at = entry.finished_at
        if phase in _FINAL_STATES.values() and phase is not entry.phase:
            finished_at = now
        return self._commit(attrs.evolve(candidate, finished_at=finished_at, updated_at=now))

    def record_package(
        self, key: str, package_id: str, sha256: str, files: Sequence[str]
    ) -> MonthEntry:
        """Record one package fetched, verified and written: its SHA-256 and the files made.

        Call it after the files are safely on disk. Recording the same package again replaces
        the record; an id not in `package_ids` is added to them.
        """
        entry = self._expect(key, Phase.COMPLETED, "record a package for")
        package_id = _request_id(package_id, field="package_id")
        digest = sha256.lower() if isinstance(sha256, str) else sha256
        if not isinstance(digest, str) or not _SHA256_RE.fullmatch(digest):
            raise InvalidParameterError("sha256", "must be 64 hex digits (a SHA-256)", sha256)
        record = PackageRecord(package_id, digest, _ids(files, field="files"))
        packages = [p for p in entry.packages if p.package_id != package_id] + [record]
        package_ids = entry.package_ids
        if package_id not in package_ids:
            package_ids = (*package_ids, package_id)
        return self._commit(
            attrs.evolve(
                entry, packages=tuple(packages), package_ids=package_ids, updated_at=_now()
            )
        )

    def record_downloaded(self, key: str) -> MonthEntry:
        """Mark the month done: every package in `package_ids` has been recorded.

        A completed request with no packages (no CFDIs in the period) can be marked directly.
        """
        entry = self._months_entry(key)
        if entry.phase is Phase.DOWNLOADED:
            return entry
        entry = self._expect(key, Phase.COMPLETED, "mark downloaded")
        if entry.missing_packages:
            raise JournalStateError(
                f"{key}: packages not recorded yet: {', '.join(entry.missing_packages)}"
            )
        now = _now()
        return self._commit(
            attrs.evolve(entry, phase=Phase.DOWNLOADED, downloaded_at=now, updated_at=now)
        )

    def record_failed(self, key: str, error: str) -> MonthEntry:
        """Mark the month failed with a reason; it will not be submitted again until `reset`.

        From `submitting`, only when the create request certainly created nothing (the server
        refused it). After a timeout or a lost connection the outcome is unknown: leave the
        month `submitting` and reconcile it instead.
        """
        if not isinstance(error, str):
            raise TypeError(f"error: expected a str, got {type(error).__name__}")
        entry = self._months_entry(key)
        if entry.phase is Phase.DOWNLOADED:
            raise JournalStateError(f"{key} is already downloaded")
        now = _now()
        return self._commit(
            attrs.evolve(entry, phase=Phase.FAILED, error=error, finished_at=now, updated_at=now)
        )

    def reset(self, key: str) -> MonthEntry:
        """Put a `failed` or `expired` month back to `planned` so it is submitted again.

        Its request id moves to `previous_request_ids`; `attempts` keeps counting, because SAT
        allows only two requests with identical criteria.
        """
        entry = self._expect(key, (Phase.FAILED, Phase.EXPIRED), "reset")
        previous = entry.previous_request_ids
        if entry.request_id is not None:
            previous = (*previous, entry.request_id)
        return self._commit(
            MonthEntry(
                slot=entry.slot,
                phase=Phase.PLANNED,
                planned_at=entry.planned_at,
                updated_at=_now(),
                attempts=entry.attempts,
                previous_request_ids=previous,
            )
        )

    # ---------------------------------------------------------- internals

    def _months_entry(self, key: str) -> MonthEntry:
        if self._closed:
            raise JournalError(f"{self._path} is closed")
        return self._months[key]

    def _expect(self, key: str, phases: Phase | tuple[Phase, ...], action: str) -> MonthEntry:
        entry = self._months_entry(key)
        allowed = phases if isinstance(phases, tuple) else (phases,)
        if entry.phase in allowed:
            return entry
        hint = ""
        if entry.phase is Phase.SUBMITTING:
            hint = (
                ": its create request has an unknown outcome; find it in the history and "
                "call resolve()"
            )
        raise JournalStateError(
            f"cannot {action} {key}: it is {entry.phase.value}, expected "
            f"{' or '.join(p.value for p in allowed)}{hint}"
        )

    def _submitted(self, entry: MonthEntry, request_id: str, duplicate: bool) -> MonthEntry:
        if not isinstance(duplicate, bool):
            raise TypeError(f"duplicate: expected a bool, got {duplicate!r}")
        now = _now()
        return self._commit(
            attrs.evolve(
                entry,
                phase=Phase.SUBMITTED,
                request_id=request_id,
                duplicate=duplicate,
                submitted_at=now,
                updated_at=now,
            )
        )

    def _commit(self, entry: MonthEntry) -> MonthEntry:
        # Disk first: memory changes only once the new version is durable, so a failed write
        # leaves the journal exactly as it was and the caller does not go ahead.
        months = {**self._months, entry.key: entry}
        write_atomic(self._path, _encode(self._criteria, self._created_at, months))
        self._months = months
        return entry


_Loaded = tuple[PlanCriteria, datetime, dict[str, MonthEntry]]


def _load_or_create(path: Path, plan: DownloadPlan | None) -> _Loaded:
    now = _now()
    if not path.exists():
        assert plan is not None  # Journal.open refuses a missing file without a plan
        months = {slot.key: _new_entry(slot, now) for slot in plan.slots}
        write_atomic(path, _encode(plan.criteria, now, months))
        return plan.criteria, now, months
    try:
        criteria, created_at, months = _decode(path.read_bytes())
    except _Bad as exc:
        raise JournalCorruptError(
            f"{path} cannot be read as a bulk journal: {exc}. Move it aside to start over "
            "(months it recorded as submitted may then be requested, and billed, again)."
        ) from None
    if plan is not None:
        merged = _merge(path, criteria, months, plan, now)
        if merged != months:
            write_atomic(path, _encode(criteria, created_at, merged))
        months = merged
    return criteria, created_at, months


def _merge(
    path: Path,
    criteria: PlanCriteria,
    recorded: dict[str, MonthEntry],
    plan: DownloadPlan,
    now: datetime,
) -> dict[str, MonthEntry]:
    """The recorded months plus the plan's; never changes a month that was already sent."""
    if plan.criteria != criteria:
        raise JournalMismatchError(
            f"{path} journals {_describe(criteria)} requests, but the plan asks "
            f"for {_describe(plan.criteria)}: use a separate journal file for each run"
        )
    months = dict(recorded)
    conflicts = []
    for slot in plan.slots:
        current = months.get(slot.key)
        if current is None:
            months[slot.key] = _new_entry(slot, now)
        elif current.fingerprint == slot.fingerprint:
            continue
        elif current.phase is Phase.PLANNED:
            months[slot.key] = attrs.evolve(current, slot=slot, updated_at=now)
        else:
            conflicts.append(
                f"{slot.key} was {current.phase.value} for "
                f"{current.slot.start_date}..{current.slot.end_date}, "
                f"the plan wants {slot.start_date}..{slot.end_date}"
            )
    if conflicts:
        raise JournalMismatchError(
            f"{path} already sent different dates: {'; '.join(conflicts)}. Resume it "
            "without a plan (Journal.open(path)), or use a new journal file"
        )
    return months


def _new_entry(slot: MonthSlot, now: datetime) -> MonthEntry:
    return MonthEntry(slot=slot, phase=Phase.PLANNED, planned_at=now, updated_at=now)


def _describe(criteria: PlanCriteria) -> str:
    return f"{criteria.rfc_type.value} {criteria.request_type.value}"


def _request_id(value: object, *, field: str = "request_id") -> str:
    return non_empty_str(field, value)


def _ids(values: Sequence[str], *, field: str = "package_ids") -> tuple[str, ...]:
    # A bare string is a Sequence[str] too; "abc" must not become ("a", "b", "c").
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{field}: expected a sequence of str, got {values!r}")
    return tuple(values)
