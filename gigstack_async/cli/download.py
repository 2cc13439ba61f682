"""The code path shared by `sat download` and `demo`: plan, run with live progress, summarise.

Money safety is the SDK's (journal, never re-submitting a month); the CLI adds a pre-flight
call, so that a wrong key or an unreachable server stops the run with one clear error before any
billed request is attempted.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from gigstack_async.bulk.duplicates import PriorRequest
from gigstack_async.bulk.machine import MonthState, sat_code
from gigstack_async.bulk.reach import HistoryReach
from gigstack_async.bulk.run import BulkDownload
from gigstack_async.bulk.stops import ends_run
from gigstack_async.bulk.store import (
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    JournalStore,
)
from gigstack_async.bulk.watch import PollSchedule
from gigstack_async.cli import exitcodes
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.parser import PROG
from gigstack_async.cli.plain_progress import PlainProgress
from gigstack_async.cli.progress import Board, ProgressView
from gigstack_async.cli.summary import print_summary
from gigstack_async.cli.ui import Ui
from gigstack_async.client import GigstackClient
from gigstack_async.errors import (
    APIConnectionError,
    APITimeoutError,
    GigstackError,
    IncompleteResponseError,
    InternalServerError,
    RateLimitError,
)

NOTHING_SENT = (
    "nothing was requested (no download request is created before the history is read: it is "
    "what keeps a month from being billed twice); run the same command again once the API is "
    "reachable"
)

JOURNAL_NAME = ".gigstack-journal.sqlite3"


@dataclass(frozen=True)
class DownloadJob:
    """Everything `sat download` was asked to do, in SDK terms."""

    start: str
    end: str
    rfc_type: str
    request_type: str
    out: Path
    journal: Path | None
    concurrency: int = 4
    poll_interval: float | None = None
    timeout: float | None = None
    allow_duplicates: bool = False

    @property
    def journal_argument(self) -> Path:
        """What `journal` commands take for this job: the folder, or the --journal file."""
        if self.journal is None or self.journal == default_journal(self.out):
            return self.out
        return self.journal

    @property
    def poll(self) -> PollSchedule | None:
        # A fixed interval when asked for one; otherwise the SDK's gentle 5 s → 60 s backoff.
        if self.poll_interval is None:
            return None
        return PollSchedule(
            initial=self.poll_interval, factor=1.0, maximum=self.poll_interval, jitter=0.0
        )


def check_out_folder(out: Path) -> None:
    """Refuse an --out that names an existing file, before anything is planned or sent."""
    if out.exists() and not out.is_dir():
        raise UsageError(
            f"--out: {out} is a file, not a folder; give a folder (created if missing): "
            "files are written to DIR/YYYY-MM/<UUID>.xml"
        )


def default_journal(out: str | os.PathLike[str]) -> Path:
    return Path(out) / JOURNAL_NAME


def plan_run(client: GigstackClient, job: DownloadJob) -> BulkDownload:
    """Validate everything and plan the months; nothing is sent."""
    run = client.downloads.bulk(
        job.start,
        job.end,
        rfc_type=job.rfc_type,
        request_type=job.request_type,
        concurrency=job.concurrency,
        journal=job.journal,
        download_to=job.out,
        poll=job.poll,
        timeout=job.timeout,
        allow_duplicates=job.allow_duplicates,
    )
    run.texts_for = "cli"  # hints name --out and "the same command"
    return run


def show_plan(
    ui: Ui,
    run: BulkDownload,
    job: DownloadJob,
    identical: dict[str, tuple[PriorRequest, ...]] | None = None,
    reach: HistoryReach | None = None,
) -> None:
    """The plan, the absolute folders, (`identical`, from `run.identical_requests()`) the
    months the account already has an identical request for, and (`reach`, its
    `history_reach`) the months to send that the history could not be checked for."""
    ui.out(run.plan.describe())
    fresh = "" if job.out.is_dir() else " (new folder)"
    ui.out(f"Output folder: {job.out.resolve()}{fresh}")
    if job.journal is not None:
        if job.journal.exists():  # an emptied one was refused by check_journal
            resuming = " (exists: resuming where it stopped)"
        else:
            resuming = " (new: no month of this plan was requested from this folder yet)"
        ui.out(f"Journal: {job.journal.resolve()}{resuming}")
    if identical:
        held = {k: v for k, v in identical.items() if any(p.typed for p in v)}
        maybe = {k: v for k, v in identical.items() if k not in held}
        if held:
            show_identical(ui, run, job, held)
        if maybe:
            show_untyped(ui, job, maybe)
    if reach is not None and reach.warning is not None:
        show_unchecked(ui, job, reach)


def show_unchecked(ui: Ui, job: DownloadJob, reach: HistoryReach) -> None:
    """Months the history does not reach back far enough to check (newcomer 9f #1: a month
    whose earlier request had left the 20-entry history was billed again, the plan silent).
    The adopt example follows the sentence offering `journal adopt` (newcomer 10 F3: it ended
    the text, after the months the user resent); no other folder is known, so the request ids
    are where the user downloaded them (newcomer 10 F8: "that folder's")."""
    folder = shlex.quote(str(job.journal_argument))
    kind = f"--rfc-type {job.rfc_type} --type {job.request_type}"
    example = (
        f", e.g. `{PROG} journal adopt {folder} <month> <request id> {kind}` (the request ids "
        f"are in gigstack's dashboard, or in `{PROG} journal show` of the folder that "
        "downloaded them)"
    )
    text = reach.text(example) or ""
    ui.out(f"Not checked: {text[:1].upper()}{text[1:]}")


def held_keys(identical: dict[str, tuple[PriorRequest, ...]] | None) -> tuple[str, ...]:
    """The months the run will hold: an identical request with every field reported."""
    return tuple(k for k, v in (identical or {}).items() if any(p.typed for p in v))


def held_months(identical: dict[str, tuple[PriorRequest, ...]] | None) -> int:
    """How many months the run will hold: an identical request with every field reported."""
    return len(held_keys(identical))


def show_untyped(ui: Ui, job: DownloadJob, maybe: dict[str, tuple[PriorRequest, ...]]) -> None:
    """Months the history lists a request for with the same dates and rfc type, its type not
    reported: maybe identical, never held (a missing field never counts as a match)."""
    ui.out(
        "The history lists requests for the same dates and rfc type as these months, without "
        "saying their type (cfdi or metadata), not sent from this folder's journal:"
    )
    for key, priors in maybe.items():
        ui.out(f"  {key}: " + "; ".join(p.describe() for p in priors))
    folder = shlex.quote(str(job.journal_argument))
    kind = f"--rfc-type {job.rfc_type} --type {job.request_type}"
    ui.out(
        f"They are sent (not known to be identical). If one is a {job.request_type} request, "
        "it is this month's: answer no, and adopt it instead of paying again, e.g. "
        f"`{PROG} journal adopt {folder} <month> <request id> {kind}`."
    )


def show_identical(
    ui: Ui, run: BulkDownload, job: DownloadJob, identical: dict[str, tuple[PriorRequest, ...]]
) -> None:
    """Name each month whose exact request the account already has, and the safe routes."""
    months = len(identical)
    ui.out(
        f"The account already has an identical request for {months} month"
        f"{'s' if months != 1 else ''} of this plan, not sent from this folder's journal "
        "(another folder?):"
    )
    for key, priors in identical.items():
        ui.out(f"  {key}: " + "; ".join(p.describe() for p in priors))
    ui.out(
        "A new request for the same dates may be billed, and SAT accepts only 2 requests with "
        "identical criteria (a third is refused with SAT 5002)."
    )
    if job.allow_duplicates:
        ui.out(
            "--allow-duplicates: they are requested again, except a month SAT would refuse "
            "anyway (its identical request got 5003, or the account already has SAT's 2 "
            "identical requests): its result says why."
        )
        return
    folder = shlex.quote(str(job.journal_argument))
    kind = f"--rfc-type {job.rfc_type} --type {job.request_type}"
    # Only a request that can still give the month its CFDIs is worth adopting (not failed or
    # expired); each month's own result says what to do with the others.
    usable = [p for priors in identical.values() for p in priors if p.adoptable]
    adopt = (
        "or attach a request to this folder without sending anything (one of its packages' 2 "
        "SAT downloads is then assumed spent: the run sends one GET of each, never retried, "
        f"then `journal retry-download` allows one more, free), e.g. `{PROG} journal adopt "
        f"{folder} {usable[0].key} {usable[0].request_id} {kind}`, then run this command "
        "again; "
        if usable
        else ""
    )
    # A month whose identical request SAT refused with 5003 is never offered the same dates
    # again (its resend is refused without --force: review 9m #4); its result says split.
    # Nor one the account already has SAT's 2 identical requests for (review 9n #2).
    resendable = [
        key
        for key, priors in identical.items()
        if not any(sat_code(p.message) == 5003 for p in priors) and len(priors) < 2
    ]
    again = (
        "To request them again anyway (may be billed): one month with "
        f"`{PROG} journal resend {folder} {resendable[0]}`, or all of them with "
        "--allow-duplicates."
        if resendable
        else "SAT would refuse the same dates again (5003: too many CFDIs for one request, "
        "or a third identical request: 5002): request other dates as each result says."
    )
    ui.out(
        "These months are held (not sent), by this run and every later one until you choose. "
        f"Safe routes: use the folder that already has them; {adopt}each month's result says "
        f"what to do. {again}"
    )


def _progress(ui: Ui, board: Board) -> ProgressView:
    if ui.fancy:
        # Imported here: the module imports rich, which is optional.
        from gigstack_async.cli.live_progress import LiveProgress

        return LiveProgress(ui, board)
    return PlainProgress(ui, board)


async def preflight(run: BulkDownload, ui: Ui) -> dict[str, tuple[PriorRequest, ...]] | None:
    """The pre-flight read of the history: the cheapest authenticated call, and the months the
    account already has an identical request for (`BulkDownload.identical_requests`).

    A bad key or base URL raises here, cleanly, before anything billed is attempted; a server
    that answers 5xx or 429 (after the pipeline's retries) does not stop the run (None: not
    known; the run checks the history again before each create): its own polling retries, and
    one failed read never keeps the months from their results. A connection failure still
    stops here: most often the base URL is wrong. Which failure stops is the rule the run itself
    follows (`bulk.stops.ends_run`): this is the run's first call."""
    # A journal that cannot be used must cost nothing: check it before any request.
    run.check_journal()
    try:
        return await run.identical_requests(untyped=True)
    except GigstackError as error:
        if isinstance(error, APIConnectionError) and ends_run(error, answered=False):
            kind = APITimeoutError if isinstance(error, APITimeoutError) else APIConnectionError
            raise kind(f"{error}; {NOTHING_SENT}", method=error.method, path=error.path) from error
        if ends_run(error, answered=False) or not isinstance(
            error, InternalServerError | RateLimitError | IncompleteResponseError
        ):
            raise
        ui.err(f"warning: the pre-flight read of the history failed ({error}); going on")
        return None


async def execute(
    client: GigstackClient,
    run: BulkDownload,
    job: DownloadJob,
    ui: Ui,
    *,
    checked: bool = False,
    board: Board | None = None,
) -> int:
    """Drive the run to the end; print the summary; the exit code says whether every month
    finished. `checked`: the caller already ran `preflight`. `board`: the months' rows to fill
    (the caller's, to summarise them after Ctrl-C: `print_stopped_summary`)."""
    if not checked:
        await preflight(run, ui)
    ui.out()
    if board is None:
        board = Board(slot.key for slot in run.plan)
    try:
        async with run, _progress(ui, board) as progress:
            async for event in run:
                progress.show(event)
    except (JournalLockedError, JournalMismatchError):
        # Refused as it opened the journal (another run won the race for it since the plan's
        # check, or it belongs to another team or key): this run did nothing, and the
        # journal's months are the other run's (newcomer 13 #7: "Total: 3 months, 0 ok").
        raise
    except GigstackError:
        # The run stopped (a 401/403 mid-run: `bulk.stops`): each month's journaled stage,
        # then the error (exit 3) from `main`.
        print_stopped_summary(ui, board, job)
        raise
    print_summary(ui, board, job.out, job.journal_argument)
    return exitcodes.OK if board.all_ok else exitcodes.MONTHS_FAILED


def print_stopped_summary(ui: Ui, board: Board, job: DownloadJob) -> None:
    """The summary of a run stopped by Ctrl-C: each month this run did not finish shows the
    stage its journal recorded (`journal show`'s word, e.g. `submitted`, which a re-run
    continues), not the SAT state last polled. Reads the journal only: nothing is sent, and
    nothing written."""
    states: dict[str, MonthState] = {}
    if job.journal is not None and job.journal.is_file():
        # An unreadable journal leaves the rows as the run last saw them: `journal show` says
        # the rest.
        with (
            contextlib.suppress(JournalError, OSError, sqlite3.Error),
            JournalStore.open_readonly(job.journal) as store,
        ):
            states = {state.key: state for state in store.states()}
    board.settle(states, str(job.journal_argument))
    print_summary(ui, board, job.out, job.journal_argument)
