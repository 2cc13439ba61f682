"""`gigstack-async journal repair`: rewrite a journal's unreadable month records from its log.

When only some month records of a journal cannot be read (SQLite reads the file), the other
months need not be carried over to a new journal (which would download their packages again):
each damaged month is rewritten from what the journal's `log` says of it, and nothing is sent.
A month the log lists as sent needs the user (`journal adopt` its logged request); one whose
log shows no create is planned again (it was never sent). A file SQLite cannot read is not
repaired here: `journal show` prints the way for it.
"""

from __future__ import annotations

import argparse
import calendar
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

from gigstack_async._dates import today_mx
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import files_in, held_month
from gigstack_async.bulk.hints import RUN_AGAIN
from gigstack_async.bulk.repair import new_month
from gigstack_async.bulk.run import DEFAULT_JOURNAL
from gigstack_async.bulk.store import JournalStore
from gigstack_async.cli import exitcodes
from gigstack_async.cli.context import Context
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.parser import PROG, command_parser
from gigstack_async.errors import InvalidParameterError

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

REPAIR_RISK = (
    "Their records cannot be read by anything, so they are replaced; every other month is kept "
    "as it is. A month the log lists as sent needs you: the next run sends nothing for it "
    "until you `journal keep` the files its folder already holds (nothing sent), `journal "
    "adopt` its request (the logged id; nothing billed, its packages downloaded again) or "
    "`journal resend` it (may be billed); one whose log shows SAT refusing it (5002 or "
    "5003) is rebuilt from its whole log: that refusal, with the days its folder already "
    "holds from every request logged done for fewer days (before or after it), so that only "
    "the missing days are asked for, or, when those days complete it, done or split as it "
    "was; a part whose folder lost some of its files is not counted complete. Its creates "
    "and package "
    "downloads, its dates, SAT's count for its request and the requests it released (known "
    "not to be its own: never offered for its adopt again) are restored from the log (a "
    "staged package of the month stays on disk and is extracted again after the adopt, "
    "without downloading it); a log written before it kept them leaves them unknown, so no "
    "package is "
    "downloaded again without `journal retry-download` (free). A month whose log shows no "
    "create was never sent: the next run requests it, unless an earlier run held it for an "
    "identical request the account already has (another folder's): it is held for it again "
    "(an older log that kept no holds: it needs you). Nothing is sent now."
)


def register_repair(journal: Any, epilog: str) -> None:
    """Add `journal repair` to the `journal` command group."""
    parser = command_parser(
        journal,
        "repair",
        help="rewrite damaged month records from the journal's log (nothing is sent)",
        description="Rewrite the month records of JOURNAL that cannot be read (a run and "
        "`journal show` name them) from the journal's log of transitions, keeping every other "
        "month: a month the log lists as sent becomes needs-attention with its logged request "
        "ids (adopt one, or resend; when its folder already holds files, its hint offers "
        "`journal keep` first, checked against SAT's count, never when its package was staged "
        "and never extracted) and the creates, package downloads, dates and SAT's count the log "
        "kept (unknown, never zero, when it kept none), one never sent is planned again. Asks "
        "for confirmation "
        "(--yes when not in a terminal). Nothing is sent. A file SQLite cannot read is not "
        "repaired: `journal show` lists what is left of it and how to go on.",
        epilog=epilog,
        client=False,
    )
    parser.add_argument(
        "journal", metavar="JOURNAL", type=Path, help="the download folder or the journal file"
    )
    parser.add_argument(
        "--yes", "-y", action="store_true", help="confirm without asking (for scripts)"
    )
    parser.set_defaults(func=run_repair, usage=parser.format_usage().strip())


def run_repair(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.ui.changing_state():  # `-y | head -1` must not lose the repair
        return _repair(args, ctx)


def _repair(args: argparse.Namespace, ctx: Context) -> int:
    path: Path = args.journal
    target = path / DEFAULT_JOURNAL if path.is_dir() else path
    if not target.is_file():
        raise UsageError(f"no journal at {target}")
    with JournalStore.open_existing(target, skip_damaged=True) as store:
        if not store.damaged:
            ctx.ui.out(f"{target}: every month record can be read; nothing to repair.")
            return exitcodes.OK
        folder = store.download_to
        rebuilt = []
        for key, why in store.damaged.items():
            if not MONTH.fullmatch(key):
                ctx.ui.out(f"{key!r}: not a month's record; left as it is ({why})")
                continue
            base = _fresh(store, key)
            lines = store.log(key)
            month_folder = None if folder is None else folder / key
            state = held_month(base, lines, month_folder, today=today_mx())
            if state is None and not lines:  # nothing logged at all: never guess "unsent"
                state = m.unrecorded(
                    base,
                    known_ids=(),
                    creates=0,
                    reason=f"its record was damaged and the journal's log lists nothing of {key}",
                    hint=f"find its request in `{PROG} downloads history` or gigstack's "
                    f"dashboard by its dates and `{PROG} journal adopt {key} <request id>`; if "
                    f"there is none, `{PROG} journal resend {key}` (may be billed)",
                    on_disk=files_in(None if folder is None else folder / key),
                )
            recorded = store.recorded_hold(key)
            if state is None and recorded is not None:
                # Held, but its log kept no holds (an older journal): never sendable without
                # the user's word (review 9m #3), the held hint says the ways.
                state = m.unrecorded(
                    base,
                    known_ids=(),
                    creates=0,
                    reason=f"its record was damaged; the last run held it, not sent: "
                    f"{recorded.reason}",
                    hint=recorded.hint,
                    counts=m.Counts(),
                    on_disk=files_in(None if folder is None else folder / key),
                )
            state = state or base
            rebuilt.append(state)
            now = state.reason or "never sent: the next run requests it"
            # A preview: nothing is rewritten until the confirmation (newcomer 9f #6).
            ctx.ui.out(
                f"{key}: record unreadable ({why}); would become {state.stage.value} once you "
                f"confirm: {now}"
            )
            if state.open_day is not None:  # review 9m #11: the open day survives the repair
                ctx.ui.out(
                    f"{key}: its request was sent on {state.open_day}, before that day (the "
                    "last of its dates) was over: later runs still name it MISSING DAYS."
                )
        if not rebuilt:
            return exitcodes.USAGE
        ctx.ui.out(REPAIR_RISK)
        if not _confirm(ctx, args.yes, f"Rewrite {len(rebuilt)} month record(s)?"):
            ctx.ui.err("Nothing changed.")
            return exitcodes.USAGE
        for state in rebuilt:
            store.put(state)
        ctx.ui.out(
            f"Rewrote {', '.join(s.key for s in rebuilt)}. `{PROG} journal show {args.journal}` "
            f"says what each needs; then {RUN_AGAIN}."
        )
    return exitcodes.OK


def _fresh(store: JournalStore, key: str) -> m.MonthState:
    """The month as a plan would add it; the whole calendar month if no plan can cover it."""
    try:
        return new_month(store, key)
    except (InvalidParameterError, ValueError):
        year, month = (int(part) for part in key.split("-"))
        identity = store.identity
        return m.MonthState(
            key,
            date(year, month, 1),
            date(year, month, calendar.monthrange(year, month)[1]),
            identity.rfc_type,
            identity.request_type,
        )


def _confirm(ctx: Context, yes: bool, question: str) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            "journal repair: without a terminal nothing can be confirmed, so nothing changed. "
            f"Having read the above, pass --yes (-y) to confirm: {ctx.again_with('--yes')}"
        )
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")
