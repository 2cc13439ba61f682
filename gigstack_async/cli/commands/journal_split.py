"""`gigstack-async journal split`: finish a month SAT refused with 5003 or 5002 (for this folder,
or, 5003, for another folder's identical request, which holds it here) by naming the folders that
downloaded it in parts.

SAT answers 5003 when one request would hold too many CFDIs; the month is then downloaded as
shorter ranges, each into its own --out folder (a journal holds one request per month). This
command checks those folders' journals (same kind of request and team, the month finished in
each, every day covered) and records the month as `split`: runs of the first folder then end
ok, and `journal show` says where its CFDIs are. Nothing is sent; no request is billed.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from gigstack_async.bulk import machine as m
from gigstack_async.bulk import repair
from gigstack_async.bulk.duplicates import prior_requests
from gigstack_async.bulk.engine import seen_from_history
from gigstack_async.cli import exitcodes
from gigstack_async.cli.commands.journal import MONTH_ARG, _journal_arg, _month, _open, _required
from gigstack_async.cli.context import Context
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.parser import PROG, command_parser
from gigstack_async.cli.runner import run_command
from gigstack_async.client import GigstackClient
from gigstack_async.errors import GigstackError, InvalidParameterError

EPILOG = f"""\
examples:
  {PROG} sat download --from 2024-03-01 --to 2024-03-15 --rfc-type received \\
      --out ./cfdi-2024-03a
  {PROG} sat download --from 2024-03-16 --to 2024-03-31 --rfc-type received \\
      --out ./cfdi-2024-03b
  {PROG} journal split ./cfdi 2024-03 ./cfdi-2024-03a ./cfdi-2024-03b

JOURNAL (first) is the download folder whose month SAT refused with 5003 or 5002 (or its journal
file);
each PART is the download folder (or journal file) of a run over part of the month.
A month held (not sent) because another folder's identical request was refused with 5003 is
split too: the download history (one free GET, with --api-key/--team/--base-url or their
environment variables) must still list that request; a month SAT refused for this journal
needs no API key.
Each part's files (and the month's own days' files in JOURNAL's folder) are checked on disk
(CFDIs by UUID): a folder that no longer holds the files its journal records is refused unless
--force.
A month whose 2 identical requests SAT accepts are spent (this journal sent 2 for its exact
dates, or it is held for requests that make 2 with its own) is split the same way, and so is a
month requested on the day its dates end (MISSING DAYS on a later day), with parts that cover
that day: its own request holds the days before it.
exit codes: 0 recorded; 2 invalid input (no journal, a month that is none of these, a part of
another kind or team, a part not finished or without its files, a part requested on its own
last day before that day was over, or days no part covers)."""


def register(journal: Any) -> None:
    split = command_parser(
        journal,
        "split",
        help="finish a SAT 5003/5002 month downloaded in parts in other folders (nothing sent)",
        description="Record that MONTH, which SAT refused with 5003 (too many CFDIs for one "
        "request) or 5002 (its limit of requests for those dates), or that is held because "
        "another folder's identical request was refused with 5003, was downloaded in shorter "
        "ranges into other folders (PART...). Each part's "
        "journal is checked: the same kind of request (rfc type, type), team and base URL, "
        "MONTH finished there with its files (done) or empty (a run without --out/"
        "download_to holds no file), and together the parts cover every day of "
        "MONTH's dates. The month is then `split`: `sat download` runs of JOURNAL end ok for "
        "it, and `journal show` says where its CFDIs are. Nothing is sent and nothing is "
        "requested again: the parts' dates are other criteria for SAT than the refused request. "
        "Also for a month done for fewer days than its whole month, which SAT refused with "
        "5002 (MISSING DAYS): its own dates count as a part; so do the days its folder already "
        "held when a `journal resend --force` of such a month was refused with 5002 or 5003. "
        "Also for a month whose 2 identical requests SAT accepts are spent (the hint after "
        "2 identical creates, or a month held for them), and for a month requested on its "
        "last day (MISSING DAYS): parts covering that day complete it. Also for a month "
        "whose own finished request, its packages spent (SAT serves each twice), the server "
        "gave back to a resend (gigstack's duplicate answer, or SAT 5005).",
        epilog=EPILOG,
    )
    _journal_arg(split)
    split.add_argument("month", metavar="MONTH", nargs="?", help="the month, YYYY-MM")
    split.add_argument(
        "parts",
        metavar="PART",
        nargs="*",
        help="download folder (or journal file) of a run over part of the month",
    )
    split.add_argument(
        "--force",
        action="store_true",
        help="record the split although a part's folder (or this one's, for the month's own "
        "days) no longer holds files its journal records; without it such a split is refused",
    )
    split.usage = f"{PROG} journal split [options] JOURNAL MONTH PART [PART ...]"
    split.set_defaults(func=run_split, usage=split.format_usage().strip())


def run_split(args: argparse.Namespace, ctx: Context) -> int:
    key = _required(args, args.month, "MONTH")
    if not MONTH_ARG.fullmatch(key):
        raise UsageError(f"MONTH must be YYYY-MM, got {key!r}. {args.usage.strip()}")
    if not args.parts:
        raise UsageError(f"the following arguments are required: PART. {args.usage.strip()}")
    with _open(args) as store:
        state = _month(store, key)
        refused = None
        if state.stage is m.Stage.PLANNED and not m.limit_split(state):
            # Held with SAT's 2 identical requests already spent needs no history (9m #1).
            refused = _refused_elsewhere(ctx, args, state)
        try:
            new, parts = repair.split(
                store, key, args.parts, refused_elsewhere=refused, force=args.force
            )
        except GigstackError as error:
            raise UsageError(f"{error}. Nothing changed.") from None
        if new == state:
            # The same split named again (a command run twice): nothing to record.
            ctx.ui.out(
                f"{key} is already split with these parts: nothing changed, nothing was sent. "
                "Its CFDIs are in"
            )
        else:
            repair.record(store, new, ())
            ctx.ui.out(f"{key} is now split: its CFDIs are in")
        for part in parts:
            lost = f" ({len(part.lost)} of them missing there: --force)" if part.lost else ""
            ctx.ui.out(f"  {part.describe()}{lost}")
        if any(part.own for part in parts):
            ctx.ui.out(f"Keep the files in {store.download_to}/{key}: they are part of {key} too.")
        ctx.ui.out(
            f"Runs of {args.journal} now end ok for {key}; `{PROG} journal show "
            f"{shlex.quote(str(args.journal))} {key}` says where its CFDIs are."
        )
        folder = store.download_to
        sources = [p.folder for p in parts if p.folder is not None and not p.own]
        if folder is not None and sources:
            # File names are the CFDIs' UUIDs (metadata: package ids): parts never clash.
            copy = " ".join(shlex.quote(str(s)) + "/." for s in sources)
            ctx.ui.out(
                "To have them in this folder too (the journal does not need it): "
                f"mkdir -p {shlex.quote(str(folder / key))} && cp -n -R {copy} "
                f"{shlex.quote(str(folder / key))}/"
            )
    return exitcodes.OK


def _refused_elsewhere(ctx: Context, args: argparse.Namespace, state: m.MonthState) -> str | None:
    """For a month not sent yet (held: another folder's identical request SAT refused with
    5003): that request, as the history lists it now (one free GET). None: the history lists
    none (then the month is refused, as any other that is not SAT 5003)."""
    why = (
        f"{state.key} was not sent from this journal: whether SAT refused its dates with 5003 "
        "for another folder is read from the download history"
    )
    try:
        client = ctx.client(args)
    except InvalidParameterError as error:
        if error.field != "api_key":
            raise
        raise UsageError(
            f"{why}, which needs an API key: pass --api-key or set GIGSTACK_API_KEY (with "
            "--team/--base-url as the journal's runs). Nothing changed."
        ) from None
    try:
        entries = run_command(_history(client))
    except GigstackError as error:
        raise UsageError(f"{why}, which failed ({error}). Nothing changed.") from None
    refused = [
        p for p in prior_requests(state, entries) if m.sat_code(p.message) == 5003 and p.typed
    ]
    if not refused:
        return None
    first = refused[0]
    return f"request {first.request_id}: {first.message}"


async def _history(client: GigstackClient) -> tuple[m.Seen, ...]:
    async with client:
        return tuple(seen_from_history(entry) for entry in await client.downloads.history())
