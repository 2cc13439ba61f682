"""The monthly fan-out: submit, watch, download — concurrently, resumably, never paying twice.

Money rules, in order of precedence:
1. The journal records the intent to submit a month BEFORE the create request is sent.
2. A create request is never retried blindly. Only a definite refusal (a 4xx other than 408 and
   429) means "not created". Any other failure is an unknown outcome, reconciled against the
   request history: found → adopted; provably absent (the history reaches back past the intent)
   → the month may be submitted again; otherwise the month is left for the next run.
3. Months already submitted (journal) are watched, never resubmitted; failed and expired months
   are reported, never resubmitted automatically (a new request may cost money again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncGenerator, Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import attrs

from gigstack_async._atomic import remove_stale_temp_files
from gigstack_async._generated.models import DownloadRequest, DownloadRequestState
from gigstack_async.bulk.events import (
    BulkEvent,
    MonthFailed,
    MonthResult,
    PackageDownloaded,
    StateChanged,
    Submitted,
)
from gigstack_async.bulk.journal import Journal, MonthEntry, Phase
from gigstack_async.bulk.watch import PollSchedule, snapshot
from gigstack_async.errors import APIStatusError, GigstackError, RateLimitError
from gigstack_async.packages import (
    DEFAULT_LIMITS,
    ExtractResult,
    PackageLimits,
    decode_package,
    extract_package,
)

if TYPE_CHECKING:
    from gigstack_async.resources.downloads import Downloads

logger = logging.getLogger("gigstack_async")

T = TypeVar("T")

HISTORY_WINDOW = 20  # the history lists only the most recent 20 requests (gigstack docs)
# Attempts for one month in one run, each only after the history proved the previous one absent.
MAX_SUBMISSIONS_PER_RUN = 8
RESUBMIT_BACKOFF_CAP = 30.0


def resubmit_delay(attempt: int, error: GigstackError) -> float:
    """Seconds to wait before sending a create request the history proved never arrived.

    The server's Retry-After wins (a 429 means: not now); else capped, jittered exponential.
    """
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        return min(error.retry_after, RESUBMIT_BACKOFF_CAP)
    return min(0.5 * 2.0**attempt, RESUBMIT_BACKOFF_CAP) * (1 - 0.25 * random.random())


@attrs.frozen
class BulkOptions:
    concurrency: int = 4
    poll: PollSchedule = attrs.field(factory=PollSchedule)
    timeout: float | None = None
    download_to: Path | None = None
    package_limits: PackageLimits = DEFAULT_LIMITS


def definitely_not_created(error: GigstackError) -> bool:
    """Only a 4xx refusal (not 408/429) proves that a create request created nothing."""
    return (
        isinstance(error, APIStatusError)
        and 400 <= error.status < 500
        and error.status
        not in (
            408,
            429,
        )
    )


def _created_ms(entry: DownloadRequest) -> float | None:
    value = entry.created_at
    if isinstance(value, int):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp() * 1000
    return None


class _Run:
    """One execution of a bulk download; owns nothing but its queue and counters."""

    def __init__(self, downloads: Downloads, journal: Journal, options: BulkOptions) -> None:
        self.downloads = downloads
        self.journal = journal
        self.options = options
        self.events: asyncio.Queue[BulkEvent | None] = asyncio.Queue()
        self.limit = asyncio.Semaphore(options.concurrency)
        self.reported: set[str] = set()
        self.pending_submissions = 0
        self.downloading: set[str] = set()
        self.month_files: dict[str, list[Path]] = {}

    # ---------------------------------------------------------------- reporting

    def emit(self, event: BulkEvent) -> None:
        self.events.put_nowait(event)

    def finish(self, entry: MonthEntry, *, error: str | None = None, resumed: bool = False) -> None:
        if entry.key in self.reported:
            return
        self.reported.add(entry.key)
        if error is not None:
            self.emit(MonthFailed(entry.key, error))
        files = tuple(self.month_files.get(entry.key, ()))
        if not files and self.options.download_to is not None:
            folder = self.options.download_to / entry.key
            files = tuple(folder / name for p in entry.packages for name in p.files)
        state = entry.sat_state if entry.phase not in (Phase.PLANNED, Phase.SUBMITTING) else None
        if entry.phase is Phase.DOWNLOADED:
            state = DownloadRequestState.COMPLETED.value
        self.emit(
            MonthResult(
                entry.key,
                request_id=entry.request_id,
                state=state,
                invoice_count=entry.invoice_count,
                files=files,
                error=error,
                duplicate=bool(entry.duplicate),
                resumed=resumed,
            )
        )

    # ---------------------------------------------------------------- reconciliation

    async def reconcile(self, keys: list[str]) -> dict[str, bool]:
        """For months in `submitting`: adopt their request from history, or prove it absent.

        Returns key → True when the month may be submitted (provably not created).
        """
        history = await self.downloads.history()
        oldest = min((ms for e in history if (ms := _created_ms(e)) is not None), default=None)
        complete = len(history) < HISTORY_WINDOW
        may_submit: dict[str, bool] = {}
        for key in keys:
            entry = self.journal.entry(key)
            matches = [h for h in history if entry.slot.matches(h)]
            intent_ms = entry.intent_at.timestamp() * 1000 if entry.intent_at else None
            recent = [
                h
                for h in matches
                if intent_ms is None or (ms := _created_ms(h)) is None or ms >= intent_ms - 60_000
            ]
            chosen = (recent or matches)[:1]
            if chosen:
                self.journal.resolve(key, chosen[0].id)
                self.emit(Submitted(key, chosen[0].id, resumed=True))
                may_submit[key] = False
            elif complete or (oldest is not None and intent_ms is not None and oldest <= intent_ms):
                self.journal.resolve(key, None)  # provably never created: back to planned
                may_submit[key] = True
            else:
                may_submit[key] = False
        return may_submit

    # ---------------------------------------------------------------- submitting

    async def submit(self, key: str) -> None:
        try:
            for attempt in range(MAX_SUBMISSIONS_PER_RUN):
                async with self.limit:
                    entry = self.journal.record_intent(key)
                    try:
                        created = await self.downloads.create_request(
                            start_date=entry.slot.start_date,
                            end_date=entry.slot.end_date,
                            rfc_type=entry.slot.rfc_type,
                            request_type=entry.slot.request_type,
                        )
                    except GigstackError as error:
                        if definitely_not_created(error):
                            failed = self.journal.record_failed(key, str(error))
                            self.finish(failed, error=str(error))
                            return
                        logger.info("create request for %s: outcome unknown (%s)", key, error)
                        outcome = await self._reconcile_one(key)
                        if outcome is None:
                            self.finish(
                                self.journal.entry(key),
                                error=f"outcome of the create request is unknown ({error}); "
                                "re-run with the same journal to reconcile it with the history",
                            )
                            return
                        if not outcome:
                            return  # adopted from history: the watcher takes it from here
                        delay = resubmit_delay(attempt, error)  # provably not created
                    else:
                        self.journal.record_submitted(key, created.request_id, created.duplicate)
                        self.emit(Submitted(key, created.request_id, duplicate=created.duplicate))
                        return
                await asyncio.sleep(delay)  # outside the limit: others may submit meanwhile
            self.finish(
                self.journal.entry(key),
                error=f"not created after {MAX_SUBMISSIONS_PER_RUN} attempts; "
                "re-run with the same journal to try again",
            )
        finally:
            self.pending_submissions -= 1

    async def _reconcile_one(self, key: str) -> bool | None:
        """True: resubmit; False: adopted; None: cannot tell (leave it for the next run)."""
        try:
            verdict = await self.reconcile([key])
        except GigstackError as error:
            logger.info("cannot reconcile %s now: %s", key, error)
            return None
        if verdict[key]:
            return True
        return False if self.journal.entry(key).request_id else None

    # ---------------------------------------------------------------- watching

    async def watch_all(self, tasks: asyncio.TaskGroup) -> None:
        loop = asyncio.get_running_loop()
        deadline = None if self.options.timeout is None else loop.time() + self.options.timeout
        delays = self.options.poll.delays()
        while True:
            open_entries = [e for e in self.journal.open_requests() if e.key not in self.reported]
            if not open_entries and self.pending_submissions == 0:
                return
            if open_entries:
                try:
                    records = await snapshot(
                        self.downloads, [e.request_id or "" for e in open_entries]
                    )
                except GigstackError as error:
                    logger.info("polling failed, will retry: %s", error)
                    records = {}
                changed = False
                for entry in open_entries:
                    record = records.get(entry.request_id or "")
                    if record is not None and self.observe(entry, record, tasks):
                        changed = True
                if changed:
                    delays = self.options.poll.delays()
            delay = next(delays)
            if deadline is not None and loop.time() + delay > deadline:
                for entry in self.journal.open_requests():
                    self.finish(
                        entry,
                        error=f"still {entry.sat_state or 'pending'} after "
                        f"{self.options.timeout} s; re-run with the same journal to keep watching",
                    )
                return
            await asyncio.sleep(delay)

    def observe(self, entry: MonthEntry, record: DownloadRequest, tasks: asyncio.TaskGroup) -> bool:
        """Record a polled state; start the download or report the month when it is final."""
        if record.status is None:
            return False
        updated = self.journal.record_state(
            entry.key,
            record.status,
            invoice_count=record.invoice_count,
            package_ids=record.package_ids,
            message=record.status_message,
        )
        changed = updated.sat_state != entry.sat_state
        if changed:
            self.emit(
                StateChanged(
                    entry.key,
                    updated.request_id or "",
                    updated.sat_state or "",
                    updated.invoice_count,
                )
            )
        if updated.phase is Phase.COMPLETED:
            self.start_download(updated, tasks)
        elif updated.phase in (Phase.FAILED, Phase.EXPIRED):
            self.finish(
                updated,
                error=f"SAT request {updated.sat_state}: {updated.message or 'no reason given'}",
            )
        return changed

    # ---------------------------------------------------------------- downloading

    def start_download(self, entry: MonthEntry, tasks: asyncio.TaskGroup) -> None:
        if entry.key in self.downloading or entry.key in self.reported:
            return
        if self.options.download_to is None:
            self.finish(entry)
            return
        self.downloading.add(entry.key)
        tasks.create_task(self.download(entry.key))

    async def download(self, key: str) -> None:
        try:
            async with self.limit:
                entry = self.journal.entry(key)
                if not entry.package_ids and (entry.invoice_count or 0) > 0:
                    # History may not list packages (GUESS field); the status call might.
                    status = await self.downloads.status(entry.request_id or "")
                    if status.package_ids:
                        entry = self.journal.record_state(
                            key, entry.sat_state or "completed", package_ids=status.package_ids
                        )
                    else:
                        raise GigstackError(
                            f"request {entry.request_id} is completed with "
                            f"{entry.invoice_count} invoices but no package ids were given"
                        )
                assert self.options.download_to is not None
                folder = self.options.download_to / key
                for package_id in entry.missing_packages:
                    package = await self.downloads.package(package_id)
                    data = decode_package(package.content, encoding=package.encoding)
                    result = await _finish_even_if_cancelled(
                        asyncio.to_thread(_extract, data, folder, self.options.package_limits)
                    )
                    names = [f.name for f in result.files]
                    self.journal.record_package(key, package_id, result.package_sha256, names)
                    paths = tuple(f.path for f in result.files)
                    self.month_files.setdefault(key, []).extend(paths)
                    self.emit(PackageDownloaded(key, package_id, paths, len(data)))
                entry = self.journal.record_downloaded(key)
            self.finish(entry)
        except GigstackError as error:
            self.finish(self.journal.entry(key), error=str(error))
        except OSError as error:  # disk full, permissions: this month fails, the others go on
            self.finish(self.journal.entry(key), error=f"cannot write the files: {error}")

    # ---------------------------------------------------------------- the whole run

    async def drive(self) -> None:
        try:
            await self._drive()
        finally:
            self.events.put_nowait(None)

    async def _drive(self) -> None:
        unknown = [e.key for e in self.journal.unknown_outcomes()]
        if unknown:
            try:
                verdict = await self.reconcile(unknown)
            except GigstackError as error:
                verdict = {}
                logger.info("cannot reconcile unknown outcomes now: %s", error)
            for key in unknown:
                if key not in verdict or (
                    not verdict[key] and not self.journal.entry(key).request_id
                ):
                    self.finish(
                        self.journal.entry(key),
                        error="a create request of an earlier run has an unknown outcome and "
                        "the history cannot confirm it; check `downloads.history()`",
                    )
        for entry in self.journal.entries():
            if entry.key in self.reported:
                continue
            if entry.phase is Phase.DOWNLOADED:
                self.finish(entry, resumed=True)
            elif entry.phase in (Phase.FAILED, Phase.EXPIRED):
                self.finish(
                    entry,
                    error=entry.error
                    or f"SAT request {entry.sat_state}: {entry.message or 'no reason given'}",
                    resumed=True,
                )
            elif entry.request_id is not None and entry.phase is not Phase.PLANNED:
                self.emit(
                    Submitted(entry.key, entry.request_id, bool(entry.duplicate), resumed=True)
                )
        async with asyncio.TaskGroup() as tasks:
            for entry in self.journal.needs_submission():
                if entry.key in self.reported:
                    continue
                self.pending_submissions += 1
                tasks.create_task(self.submit(entry.key))
            for entry in self.journal.entries(Phase.COMPLETED):
                if entry.key not in self.reported:
                    self.start_download(entry, tasks)
            tasks.create_task(self.watch_all(tasks))


def _extract(data: bytes, folder: Path, limits: PackageLimits) -> ExtractResult:
    # A run killed mid-write leaves hidden temp files; resuming clears them before writing.
    remove_stale_temp_files(folder)
    return extract_package(data, folder, limits)


async def _finish_even_if_cancelled(work: Awaitable[T]) -> T:
    """Await `work`; if cancelled meanwhile, let it finish before re-raising the cancellation.

    A thread writing files cannot be interrupted: returning early would leave files appearing
    after the caller believes the run has stopped.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


async def run_bulk(
    downloads: Downloads, journal: Journal, options: BulkOptions
) -> AsyncGenerator[BulkEvent, None]:
    """Drive every month of the journal's plan; yield events as they happen."""
    run = _Run(downloads, journal, options)
    driver = asyncio.create_task(run.drive())
    try:
        while (event := await run.events.get()) is not None:
            yield event
        await driver  # re-raise what ended the run, if anything
    finally:
        if not driver.done():
            driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await driver
