"""`gigstack-async sat download`: a long period of CFDIs as concurrent monthly requests."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gigstack_async.bulk.duplicates import PriorRequest
from gigstack_async.bulk.reach import HistoryReach
from gigstack_async.bulk.run import BulkDownload
from gigstack_async.cli import exitcodes
from gigstack_async.cli.argtypes import positive_float
from gigstack_async.cli.confirm import check_can_confirm, confirmed
from gigstack_async.cli.context import Context
from gigstack_async.cli.download import (
    JOURNAL_NAME,
    DownloadJob,
    check_out_folder,
    default_journal,
    execute,
    held_keys,
    held_months,
    plan_run,
    preflight,
    print_stopped_summary,
    show_plan,
)
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.outpath import check_creatable
from gigstack_async.cli.parser import PROG, command_parser
from gigstack_async.cli.progress import Board
from gigstack_async.cli.runner import run_command
from gigstack_async.client import GigstackClient

DESCRIPTION = """\
Download every CFDI of a period from SAT through gigstack's Descarga Masiva.

The period is split into one request per calendar month (SAT's limit), shown before anything is
sent. The months are submitted and polled concurrently; each completed month's packages are
verified and extracted to OUT/YYYY-MM/<UUID>.xml. A live table shows each month's state:
planned → submitted → pending/accepted/processing → completed → downloading → done; or empty,
split, sat-failed, expired, refused, needs-attention (the names `journal show` uses); held when
the account already has the month's exact request; a month this run did not finish keeps its
stage (e.g. submitted, processing) and a re-run continues it.
Without rich, or when output is not a terminal, one line is printed per event instead. In a
terminal too narrow for a table, the summary lists each month instead: a month, request id or
state is never cut.

Resuming: progress is journaled (default OUT/.gigstack-journal.sqlite3). Run the same command
again after a crash, Ctrl-C or --timeout and it continues where it stopped: months already
submitted are watched and downloaded, never requested (and billed) again. A month that needs
you (expired, refused, an unknown outcome, a package whose 2 SAT downloads are counted) says
what to do, with the commands written out for OUT; `journal show OUT` lists them (also while
this command runs) and `journal adopt OUT MONTH ID` / `journal retry-download OUT MONTH` /
`journal resend OUT MONTH` act on them. A damaged journal stops the run before anything is sent
(exit 2): `journal show OUT` then lists what is left of it and the commands that go on without
billing again. A month OUT/YYYY-MM already holds files of, with no record in the journal (a
deleted journal), is not requested again: it needs you.

Another folder: before asking, the plan reads the account's history. A month whose exact request
(same dates, rfc type and type, each reported by the history) is listed under an id this
folder's journal did not send (another folder's run?) is held: not sent, since a new request
may be billed and SAT accepts only 2 with identical criteria. Adopt that request here with the
printed `journal adopt` command, use the folder that has it, or pass --allow-duplicates. The
history lists only the newest requests (20): the plan names, under "Not checked:", the months
that began before its oldest entry, for which an earlier request cannot be seen (and the
question counts them).

SAT 5003 (too many CFDIs for one request): download the month in shorter ranges, each into its
own --out folder, then `journal split OUT MONTH PART...` records where its CFDIs are."""

EPILOG = f"""\
examples:
  {PROG} sat download --from 2024-01 --to 2024-12 --rfc-type received --out ./cfdi
  {PROG} sat download --from 2024-03-15 --to 2024-04-10 --rfc-type issued \\
      --type metadata --out ./meta --yes
  # re-run the same command to resume; --timeout stops watching (resume later):
  {PROG} sat download --from 2024-01 --to 2024-12 --rfc-type received --out ./cfdi \\
      --timeout 600 --yes

Before submitting it asks for confirmation, counting only the months it may send a request
for (answering no exits 0, nothing sent); without a terminal, --yes is required. A resumed run
whose journal holds every month's request sends none and asks nothing.

exit codes: 0 every month downloaded; 1 some month failed or did not finish (see the
summary; re-run to resume); 2 invalid input (nothing sent); 3 key refused; 4 API error;
5 API unreachable; 130 interrupted (Ctrl-C or SIGTERM: the summary shows each month's stage,
nothing more is sent; the journal keeps the progress)."""


def register(subparsers: Any) -> None:
    parser = command_parser(
        subparsers,
        "download",
        help="bulk-download a period of CFDIs from SAT, month by month, resumably",
        description=DESCRIPTION,
        epilog=EPILOG,
    )
    parser.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="YYYY-MM[-DD]",
        help="first day; YYYY-MM means the 1st of that month",
    )
    parser.add_argument(
        "--to",
        dest="end",
        required=True,
        metavar="YYYY-MM[-DD]",
        help="last day, inclusive; YYYY-MM means the month's last day (a future end stops today)",
    )
    parser.add_argument(
        "--rfc-type",
        required=True,
        choices=("received", "issued"),
        help="CFDIs the company received or issued",
    )
    parser.add_argument(
        "--type",
        dest="request_type",
        choices=("cfdi", "metadata"),
        default="cfdi",
        help="cfdi: the XML documents; metadata: SAT's metadata rows (default: cfdi)",
    )
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="DIR",
        help="folder for the files: DIR/YYYY-MM/<UUID>.xml (created if missing)",
    )
    parser.add_argument(
        "--journal",
        type=Path,
        metavar="FILE",
        help=f"progress journal that makes a re-run resume (default: DIR/{JOURNAL_NAME}); "
        "it belongs to one --out folder and refuses another",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        metavar="N",
        help="create requests and package downloads in flight at once, 1-64 (default: 4)",
    )
    parser.add_argument(
        "--poll-interval",
        type=positive_float,
        metavar="SECONDS",
        help="poll every SECONDS (default: from 5 s, backing off to 60 s while nothing changes)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        metavar="SECONDS",
        help="stop after SECONDS: from then on nothing new is sent (no create, no package "
        "download, no retry of any call; calls already on their way are answered and "
        "recorded); months not finished "
        "are reported with their stage and resume on the next run",
    )
    parser.add_argument(
        "--allow-duplicates",
        action="store_true",
        help="also request months whose exact request (same dates and type) the account's "
        "history already lists but this folder's journal did not send (another folder's?); "
        "without it they are held, and the plan says which request to adopt instead",
    )
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="do not ask for confirmation (required when stdin is not a terminal and a "
        "request may be sent)",
    )
    parser.set_defaults(func=run)


def job_from_args(args: argparse.Namespace) -> DownloadJob:
    return DownloadJob(
        start=args.start,
        end=args.end,
        rfc_type=args.rfc_type,
        request_type=args.request_type,
        out=args.out,
        journal=args.journal or default_journal(args.out),
        concurrency=args.concurrency,
        poll_interval=args.poll_interval,
        timeout=args.timeout,
        allow_duplicates=args.allow_duplicates,
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    check_creatable("--out", args.out, folder=True)
    check_out_folder(args.out)
    if args.journal is not None:
        check_creatable("--journal", args.journal, folder=False)
    job = job_from_args(args)
    client = ctx.client(args)
    bulk = plan_run(client, job)  # validates every argument; nothing is sent
    # Another run's journal is refused before the plan says "resuming where it stopped".
    bulk.check_journal()
    # Nobody to ask, no --yes and a month that may be sent: refused before anything (even the
    # free pre-flight) is sent, after the plan (without the account's view, which needs that
    # read) is shown.
    try:
        check_can_confirm(bulk, yes=args.yes)
    except UsageError:
        show_plan(ctx.ui, bulk, job)
        raise
    # Stopped from here on (the pre-flight read, the question, the run), it says whether
    # anything can have been sent (review 13b #5: a bare "interrupted" before the question).
    journal = job.journal or default_journal(job.out)
    ctx.interrupt_hint = lambda: interrupt_hint(journal)
    # The pre-flight read comes before the plan: it names the months the account already has
    # an identical request for (another folder's run?), before the question. Its own client
    # and event loop: the question is asked outside any loop (Ctrl-C stops it at once).
    identical, reach = run_command(_preflight(ctx.client(args), job, ctx))
    show_plan(ctx.ui, bulk, job, identical, reach)
    held = 0 if job.allow_duplicates else held_months(identical)
    unchecked = 0 if reach is None else len(reach.unchecked)
    if not confirmed(bulk, yes=args.yes, held=held, unchecked=unchecked, ui=ctx.ui):
        ctx.ui.out("Nothing was sent.")
        return exitcodes.OK
    # Ctrl-C ends with the summary of the journal's months (README: "an in-progress stage
    # such as `submitted`"), printed by `main` before the hint set above.
    # The months the plan showed held stay `held` in a Ctrl-C summary (r2 N8: `planned`).
    plan_held = () if job.allow_duplicates else held_keys(identical)
    board = Board((slot.key for slot in bulk.plan), held=plan_held)
    ctx.on_interrupt = lambda: print_stopped_summary(ctx.ui, board, job)
    ctx.ui.suggest_rich()
    return run_command(_run(client, bulk, job, ctx, board))


def interrupt_hint(journal: Path) -> str:
    """What the CLI says after "interrupted": where the progress is, or, stopped before the
    run made its journal (which it does before any create leaves), that nothing was sent."""
    if not journal.exists():
        return (
            "stopped before any request was sent (no journal was made); run the same command "
            "again to start"
        )
    return (
        f"progress is saved in {journal}; run the same command again to resume "
        "(months already submitted are not requested again)"
    )


async def _preflight(
    client: GigstackClient, job: DownloadJob, ctx: Context
) -> tuple[dict[str, tuple[PriorRequest, ...]] | None, HistoryReach | None]:
    async with client:
        run = plan_run(client, job)
        identical = await preflight(run, ctx.ui)
        return identical, run.history_reach


async def _run(
    client: GigstackClient, bulk: BulkDownload, job: DownloadJob, ctx: Context, board: Board
) -> int:
    async with client:
        return await execute(client, bulk, job, ctx.ui, checked=True, board=board)
