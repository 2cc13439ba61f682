"""`gigstack-async journal show|adopt|resend`: read and repair a bulk download's journal.

These commands touch only the journal file (nothing is sent to the API). The next
`sat download` with the same folder acts on what they record.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.run import DEFAULT_JOURNAL
from gigstack_async.bulk.store import JournalStateError, JournalStore
from gigstack_async.cli import exitcodes
from gigstack_async.cli.context import Context
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.parser import PROG, command_parser, group_parser
from gigstack_async.cli.tables import Col, print_table

EPILOG = f"""\
examples:
  {PROG} journal show ./cfdi
  {PROG} journal show ./cfdi 2024-03
  {PROG} journal adopt ./cfdi 2024-03 3F2A9C1B-0C4D-4E8F-9A1B-2C3D4E5F6A7B
  {PROG} journal resend ./cfdi 2024-03

JOURNAL is the download folder (its {DEFAULT_JOURNAL}) or the journal file itself.
exit codes: 0 ok; 2 invalid input (no journal, unknown month, a change that does not fit the
month's state, or a resend not confirmed)."""

RESEND_RISK = (
    "A new download request for {key} will be sent by the next `sat download`, with that "
    "command's dates for the month (recorded so far: {start} to {end}). It may be billed "
    "again, and SAT accepts only 2 requests with the same dates ever. Do this only if the "
    "earlier request was never created, expired (SAT keeps packages 72 h), failed or covered "
    "fewer days than you need; if you can find it in `{prog} downloads history` or gigstack's "
    "dashboard, adopt it instead."
)

COLUMNS = (
    Col("month", no_wrap=True),
    Col("state"),
    Col("request id", no_wrap=True),
    Col("CFDIs", "right"),
    Col("files", "right"),
    Col("why"),
    Col("next step"),
)


def register(commands: Any) -> None:
    journal = group_parser(
        commands, "journal", help="read and repair a bulk download's journal", epilog=EPILOG
    )
    show = command_parser(
        journal,
        "show",
        help="each month's state and why",
        description="Show each month of a bulk download: its state, request id, CFDIs, files "
        "written, why it is in that state and what to do next. With MONTH, also its history.",
        epilog=EPILOG,
        client=False,
    )
    _journal_arg(show)
    show.add_argument("month", metavar="MONTH", nargs="?", help="one month, YYYY-MM")
    show.set_defaults(func=run_show)

    adopt = command_parser(
        journal,
        "adopt",
        help="attach a download request you found to a month",
        description="Record REQUEST_ID as MONTH's download request (for example one you found "
        "in `downloads history` after an unknown outcome). The next `sat download` watches and "
        "downloads it. When the history lists the request, its dates and type are checked "
        "against the month there (other dates or type: nothing is downloaded); when it does "
        "not (only the 20 newest requests are listed), its package is downloaded and checked "
        "before anything is extracted: CFDI XML for a CFDI month, the metadata TXT for a "
        "metadata month, every issue date within the month's dates (± 1 day); a package that "
        "fails is not extracted and the month needs attention again. Nothing is sent now.",
        epilog=EPILOG,
        client=False,
    )
    _journal_arg(adopt)
    adopt.add_argument("month", metavar="MONTH", help="the month, YYYY-MM")
    adopt.add_argument("request_id", metavar="REQUEST_ID", help="the request's id")
    adopt.set_defaults(func=run_adopt)

    resend = command_parser(
        journal,
        "resend",
        help="allow a month to be requested again (may be billed)",
        description="Mark MONTH safe to send again: the next `sat download` creates a new "
        "download request for it. The risk is shown and must be confirmed (--yes when not in a "
        "terminal).",
        epilog=EPILOG,
        client=False,
    )
    _journal_arg(resend)
    resend.add_argument("month", metavar="MONTH", help="the month, YYYY-MM")
    resend.add_argument(
        "--yes", action="store_true", help="confirm the risk without asking (for scripts)"
    )
    resend.set_defaults(func=run_resend)


def _journal_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "journal", metavar="JOURNAL", type=Path, help="the download folder or the journal file"
    )


def _open(path: Path) -> JournalStore:
    target = path / DEFAULT_JOURNAL if path.is_dir() else path
    if not target.exists():
        raise UsageError(f"no journal at {target}")
    return JournalStore.open_existing(target)


def _month(store: JournalStore, key: str) -> m.MonthState:
    try:
        return store.get(key)
    except KeyError:
        raise UsageError(
            f"{key} is not in the journal (it has {', '.join(store.keys()) or 'no months'})"
        ) from None


def _row(state: m.MonthState) -> list[str]:
    count = "" if state.invoice_count is None else str(state.invoice_count)
    return [
        state.key,
        state.stage.value,
        state.request_id or "",
        count,
        str(len(state.files)),
        state.reason or "",
        state.hint or ("run the same command again" if not state.settled else ""),
    ]


def run_show(args: argparse.Namespace, ctx: Context) -> int:
    with _open(args.journal) as store:
        identity = store.identity
        ctx.ui.out(
            f"Journal {store.path}: {identity.rfc_type} {identity.request_type}, "
            f"{identity.base_url}" + (f", team {identity.team}" if identity.team else "")
        )
        if args.month is None:
            print_table(ctx.ui, COLUMNS, [_row(state) for state in store.states()])
            return exitcodes.OK
        state = _month(store, args.month)
        print_table(ctx.ui, COLUMNS, [_row(state)])
        details = [
            ["dates", f"{state.start} to {state.end}"],
            ["create requests sent", str(state.creates)],
            ["request ids known", ", ".join(state.known_ids)],
            ["outcome unknown", "yes" if state.unknown else "no"],
            ["packages", ", ".join(state.package_ids or ()) or "unknown"],
            [
                "SAT downloads used",
                ", ".join(f"{pid}: {n} of {m.DOWNLOAD_BUDGET}" for pid, n in state.downloads),
            ],
            ["staged", ", ".join(s.path for s in state.staged)],
        ]
        print_table(ctx.ui, (Col("field"), Col("value")), details, header=False)
        ctx.ui.out("History:")
        for line in store.log(state.key):
            ctx.ui.out(f"  {line.seq:>5}  {line.stage.value:<16} {line.reason or ''}")
    return exitcodes.OK


def run_adopt(args: argparse.Namespace, ctx: Context) -> int:
    request_id = args.request_id.strip()
    if not request_id:
        raise UsageError("REQUEST_ID must not be empty")
    with _open(args.journal) as store:
        state = _month(store, args.month)
        _apply(store, state, m.Adopt(request_id))
        ctx.ui.out(
            f"{state.key} now follows request {request_id}. Run the same `sat download` again: "
            "if the history lists the request, its dates and type are checked against the "
            "month there; if not, its package is downloaded and checked (the kind of file, "
            "every issue date within the month ± 1 day) before anything is extracted. A "
            "request that fails either check is not extracted and the month needs attention."
        )
    return exitcodes.OK


def run_resend(args: argparse.Namespace, ctx: Context) -> int:
    with _open(args.journal) as store:
        state = _month(store, args.month)
        risk = RESEND_RISK.format(key=state.key, start=state.start, end=state.end, prog=PROG)
        ctx.ui.out(risk)
        if not args.yes:
            if not sys.stdin.isatty():
                raise UsageError("resend may be billed: pass --yes to confirm without a terminal")
            try:
                answer = input(f"Allow a new request for {state.key}? [y/N] ")
            except EOFError:
                answer = ""
            if answer.strip().lower() not in ("y", "yes"):
                ctx.ui.err("Nothing changed.")
                return exitcodes.USAGE
        _apply(store, state, m.AllowResend())
        ctx.ui.out(f"{state.key} will be requested again by the next `sat download`.")
    return exitcodes.OK


def _apply(store: JournalStore, state: m.MonthState, obs: m.Observation) -> None:
    try:
        new, _commands = m.transition(state, obs)
    except m.TransitionError as error:
        raise JournalStateError(str(error)) from None
    store.put(new)
