"""`gigstack-async journal show` on a damaged journal: what is left of it, and the way on that
bills nothing (move it aside, adopt each month's request into a new journal).

The file is only read (`bulk.salvage`); the commands are printed for the user to run.
"""

from __future__ import annotations

import argparse

from gigstack_async.bulk.hints import RUN_AGAIN, shell_quote
from gigstack_async.bulk.run import DEFAULT_JOURNAL
from gigstack_async.bulk.salvage import Salvage, SalvagedMonth, salvage
from gigstack_async.bulk.store import JournalDamagedError
from gigstack_async.cli import exitcodes
from gigstack_async.cli.context import Context
from gigstack_async.cli.parser import PROG
from gigstack_async.cli.tables import Col, print_table

COLUMNS = (
    Col("month", no_wrap=True),
    Col("last state"),
    Col("request id to adopt", no_wrap=True),
    Col("all request ids"),
    Col("read from"),
)


def show_damaged(args: argparse.Namespace, ctx: Context, error: JournalDamagedError) -> int:
    """Print what can be read of the damaged journal and the commands that go on from it.
    Exits 2 (the journal is invalid input), having printed everything on stdout."""
    found = salvage(error.path)
    ctx.ui.out(f"Journal {error.path} is DAMAGED: {_what(str(error), error)}.")
    if found.problems:
        ctx.ui.out("Cannot read: " + "; ".join(found.problems) + ".")
    if not found.months:
        ctx.ui.out(
            "No month could be read from it. Find each month's request by its dates and type in "
            f"`{PROG} downloads history` or gigstack's dashboard, then adopt it as below."
        )
    else:
        ctx.ui.out("What is left of it (each month's last state and the requests it had):")
        print_table(ctx.ui, COLUMNS, [_row(month) for month in found.months])
    for line in _steps(args, found, error):
        ctx.ui.out(line)
    return exitcodes.USAGE


def _what(message: str, error: JournalDamagedError) -> str:
    # The error's own text up to its advice, which the steps below replace.
    head = message.split(". Nothing was sent.", 1)[0]
    prefix = f"{error.path} cannot be read as a bulk journal, it is damaged: "
    return head[len(prefix) :] if head.startswith(prefix) else head


def _row(month: SalvagedMonth) -> list[str]:
    if month.request_id is not None:
        adopt = month.request_id
    elif not month.sent:
        adopt = "(never sent)"
    else:
        adopt = "(none: find it)"
    return [
        month.key,
        month.stage or "unknown",
        adopt,
        ", ".join(month.request_ids),
        ", ".join(month.sources),
    ]


def _steps(args: argparse.Namespace, found: Salvage, error: JournalDamagedError) -> list[str]:
    path = error.path
    # A file at another name (the `.damaged` one after step 1) is already moved aside: the
    # adopts go to the folder's default journal, the new one, never into the damaged file.
    moved = path.name != DEFAULT_JOURNAL
    journal = shell_quote(str(path.parent))
    kind = (
        f"--rfc-type {found.kind[0]} --type {found.kind[1]}"
        if found.kind is not None
        else "--rfc-type <issued|received> --type <cfdi|metadata>"
    )
    aside = path if moved else path.with_name(f"{path.name}.damaged")
    lines = [""]
    if error.months:
        damaged = shell_quote(str(path)) if moved else journal
        lines += [
            "Only month records are damaged: the simplest way on, keeping every other month, is "
            f"`{PROG} journal repair {damaged}` (it rewrites {', '.join(error.months)} from the "
            "journal's log; nothing is sent). Or carry every month over to a new journal:",
        ]
    lines.append(
        "To go on without billing anything again (deleting the journal would request, and may "
        "bill, every month again):"
    )
    step = 1
    if not moved:
        lines.append(
            f"  1. keep the adopt commands below (`{PROG} journal show "
            f"{shell_quote(str(aside))}` lists them again), then move it aside: "
            f"mv {shell_quote(str(path))} {shell_quote(str(aside))}"
        )
        step = 2
    lines.append(
        f"  {step}. attach each month's request to a new journal (nothing is sent; check each "
        f"id's dates and type in `{PROG} downloads history` or gigstack's dashboard first):"
    )
    if found.kind is None:
        lines.append("     (the kind of request cannot be read: give the one its runs used)")
    adoptable = [m for m in found.months if m.request_id is not None]
    for month in adoptable:
        lines.append(
            f"     {PROG} journal adopt {journal} {month.key} {month.request_id} {kind} --yes"
        )
    missing = [m.key for m in found.months if m.request_id is None and m.sent]
    if missing or not adoptable:
        months = ", ".join(missing) if missing else "each month"
        lines.append(
            f"     for {months}: find its request by its dates in `{PROG} downloads history` "
            f"or gigstack's dashboard, then `{PROG} journal adopt {journal} YYYY-MM "
            f"REQUEST_ID {kind} --yes`"
        )
    lines += [
        f"  {step + 1}. {RUN_AGAIN}. A month never sent, or one with no "
        "request found, is requested by it (may be billed). This new journal cannot know how many "
        "times SAT served each package, so it sends no download without your `journal "
        "retry-download` (free); a month whose folder already holds its files is told so, and "
        "`journal keep` records it done with them (nothing sent).",
        f"Keep {shell_quote(str(aside))} until every month is done.",
    ]
    return lines
