"""The code path shared by `sat download` and `demo`: plan, run with live progress, summarise.

Money safety is the SDK's (journal, never re-submitting a month); the CLI adds a pre-flight
call, so that a wrong key or an unreachable server stops the run with one clear error before any
billed request is attempted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gigstack_async.bulk.run import BulkDownload
from gigstack_async.bulk.watch import PollSchedule
from gigstack_async.cli import exitcodes
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.plain_progress import PlainProgress
from gigstack_async.cli.progress import Board, ProgressView
from gigstack_async.cli.summary import print_summary
from gigstack_async.cli.ui import Ui
from gigstack_async.client import GigstackClient
from gigstack_async.errors import (
    APIConnectionError,
    APITimeoutError,
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
    )
    run.texts_for = "cli"  # hints name --out and "the same command"
    return run


def show_plan(ui: Ui, run: BulkDownload, job: DownloadJob) -> None:
    ui.out(run.plan.describe())
    ui.out(f"Output folder: {job.out.resolve()}")
    if job.journal is not None:
        resuming = " (exists: resuming where it stopped)" if job.journal.exists() else ""
        ui.out(f"Journal: {job.journal.resolve()}{resuming}")


def _progress(ui: Ui, board: Board) -> ProgressView:
    if ui.fancy:
        # Imported here: the module imports rich, which is optional.
        from gigstack_async.cli.live_progress import LiveProgress

        return LiveProgress(ui, board)
    return PlainProgress(ui, board)


async def execute(client: GigstackClient, run: BulkDownload, job: DownloadJob, ui: Ui) -> int:
    """Drive the run to the end; print the summary; the exit code says whether every month
    finished."""
    # A journal that cannot be used must cost nothing: check it before any request.
    run.check_journal()
    # Pre-flight: the cheapest authenticated call, a read the client's retry policy already
    # retries (a reset, a 5xx, a 429). A bad key or base URL raises here, cleanly; a server
    # that still answers 5xx, 429 or a truncated body does not stop the run: the run itself
    # sends no create before it has read the history, keeps reading it, and says so when it
    # keeps failing. A connection failure (retries spent) stops here, saying nothing was
    # requested: most often the base URL is wrong.
    try:
        await client.downloads.history()
    except (InternalServerError, RateLimitError, IncompleteResponseError) as error:
        ui.err(f"warning: the pre-flight read of the history failed ({error}); going on")
    except APIConnectionError as error:
        kind = APITimeoutError if isinstance(error, APITimeoutError) else APIConnectionError
        raise kind(f"{error}; {NOTHING_SENT}", method=error.method, path=error.path) from error
    ui.out()
    board = Board(slot.key for slot in run.plan)
    async with run, _progress(ui, board) as progress:
        async for event in run:
            progress.show(event)
    print_summary(ui, board, job.out)
    return exitcodes.OK if board.all_ok else exitcodes.MONTHS_FAILED
