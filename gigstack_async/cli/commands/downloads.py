"""`gigstack-async downloads status|history|activate|package`: inspect SAT download requests,
turn Descarga Masiva on, fetch one package by its id (`downloads_package`)."""

from __future__ import annotations

import argparse
from typing import Any

from gigstack_async._generated.models import (
    ActivationState,
    ActivationStatus,
    DownloadRequest,
    DownloadRequestStatus,
)
from gigstack_async.bulk.created_at import created_at_text
from gigstack_async.cli import exitcodes
from gigstack_async.cli.commands import downloads_package
from gigstack_async.cli.context import Context
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.formats import write_jsonl
from gigstack_async.cli.parser import PROG, command_parser, group_parser
from gigstack_async.cli.runner import run_command
from gigstack_async.cli.tables import Col, print_table

EPILOG = f"""\
examples:
  {PROG} downloads history
  {PROG} downloads history --format jsonl
  {PROG} downloads status 3F2A9C1B-0C4D-4E8F-9A1B-2C3D4E5F6A7B
  {PROG} downloads activate
  {PROG} downloads package 3F2A9C1B-0C4D-4E8F-9A1B-2C3D4E5F6A7B_01 --out ./cfdi/2024-03

exit codes: 0 ok; 2 invalid input; 3 key refused; 4 API error (e.g. 404 unknown request);
5 unreachable."""

HISTORY_COLUMNS = (
    Col("request id", no_wrap=True),
    Col("rfc type"),
    Col("type"),
    Col("from"),
    Col("to"),
    Col("state"),
    Col("invoices", "right"),
    Col("created (UTC)", no_wrap=True),
)


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("table", "jsonl"),
        default="table",
        help="table (default) or jsonl (one JSON object per line, API field names)",
    )


def register(commands: Any) -> None:
    downloads = group_parser(
        commands, "downloads", help="inspect SAT download requests", epilog=EPILOG
    )
    status = command_parser(
        downloads,
        "status",
        help="SAT's status of one download request",
        description="Show SAT's status of one download request: its rfc type, type and "
        "dates, state, invoice count, package ids and SAT's message. The status answer is "
        "undocumented: rfc type, type and dates come from it when it names them, else from "
        "the history when the request is still among its newest 20, else they show as "
        "unknown.",
        epilog=EPILOG,
    )
    status.add_argument("request_id", metavar="REQUEST_ID", help="the request's id")
    _format_option(status)
    status.set_defaults(func=run_status)
    history = command_parser(
        downloads,
        "history",
        help="the team's most recent download requests (the API lists the last 20)",
        description="List the team's most recent download requests, newest first. The API "
        "returns only the last 20 and documents no paging, so older requests cannot be listed; "
        "`downloads status REQUEST_ID` asks for one by its id.",
        epilog=EPILOG,
    )
    _format_option(history)
    history.set_defaults(func=run_history)
    activate = command_parser(
        downloads,
        "activate",
        help="turn Descarga Masiva on for the team (what a `refused` month may need)",
        description="Show the team's Descarga Masiva activation status and, when it is not "
        "active, activate it (POST /invoices/download/activate). With status needs_activation "
        "gigstack charges nothing extra for it; any other status (e.g. needs_addon: a price "
        "per downloaded XML) is shown with its pricing and needs --yes. A refused month is sent "
        "again by the next `sat download` once creates are accepted.",
        epilog=EPILOG,
    )
    activate.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="activate also when it may add a charge (status other than needs_activation)",
    )
    activate.set_defaults(func=run_activate)
    downloads_package.register(downloads)


def _text(value: object) -> str:
    if value is None:
        return ""
    return str(getattr(value, "value", value))


def _created(value: int | str | None) -> str:
    # Its unit is a GUESS (ms, s, ISO): shown in UTC when it can be told, else as sent. The
    # "Z" keeps it that instant when copied into `journal adopt --created-at` (newcomer 11 #6:
    # without it the time was read as Mexico City's, six hours off).
    return created_at_text(value, iso=True)


def _history_row(entry: DownloadRequest) -> list[str]:
    return [
        entry.id,
        _text(entry.rfc_type),
        _text(entry.request_type),
        (entry.start_date or "")[:10],
        (entry.end_date or "")[:10],
        _text(entry.status),
        _text(entry.invoice_count),
        _created(entry.created_at),
    ]


UNKNOWN = "unknown"


def _criteria_rows(
    status: DownloadRequestStatus, listed: DownloadRequest | None
) -> list[list[str]]:
    """rfc type, type and dates: from the status answer when it names them (its field names are
    a GUESS), else from the request's history entry, else "unknown" (never a guess of ours)."""

    def pick(own: object, entry: object) -> str:
        return _text(own) or _text(entry) or UNKNOWN

    def day(own: str | None, entry: str | None) -> str:
        return (own or "")[:10] or (entry or "")[:10] or UNKNOWN

    rows = [
        ["rfc type", pick(status.rfc_type, listed.rfc_type if listed else None)],
        ["type", pick(status.request_type, listed.request_type if listed else None)],
        ["from", day(status.start_date, listed.start_date if listed else None)],
        ["to", day(status.end_date, listed.end_date if listed else None)],
    ]
    own = (status.rfc_type, status.request_type, status.start_date, status.end_date)
    if listed is not None and not all(own):
        rows.append(["criteria", "partly from the history (the status answer lacks them)"])
    return rows


def _status_rows(
    request_id: str, status: DownloadRequestStatus, listed: DownloadRequest | None = None
) -> list[list[str]]:
    return [
        ["request id", status.request_id or request_id],
        *_criteria_rows(status, listed),
        ["state", _text(status.status)],
        ["invoices", _text(status.invoice_count)],
        ["packages", ", ".join(status.package_ids or [])],
        ["message", status.status_message or ""],
    ]


def run_history(args: argparse.Namespace, ctx: Context) -> int:
    async def history() -> list[DownloadRequest]:
        async with ctx.client(args) as client:
            return await client.downloads.history()

    entries = run_command(history())
    if args.format == "jsonl":
        write_jsonl(entries)
    elif entries:
        print_table(ctx.ui, HISTORY_COLUMNS, [_history_row(entry) for entry in entries])
    else:
        ctx.ui.err("No download requests yet.")
    return exitcodes.OK


def run_status(args: argparse.Namespace, ctx: Context) -> int:
    async def status() -> tuple[DownloadRequestStatus, DownloadRequest | None]:
        async with ctx.client(args) as client:
            result = await client.downloads.status(args.request_id)
            listed = None
            if args.format == "table" and not all(
                (result.rfc_type, result.request_type, result.start_date, result.end_date)
            ):
                # The status body is undocumented and may name no dates or type; the history
                # (the newest 20 requests) does, for a request still listed there.
                entries = await client.downloads.history()
                listed = next((e for e in entries if e.id == args.request_id), None)
            return result, listed

    result, listed = run_command(status())
    if args.format == "jsonl":
        write_jsonl([result])
    else:
        rows = _status_rows(args.request_id, result, listed)
        print_table(ctx.ui, (Col("field"), Col("value")), rows, header=False)
    return exitcodes.OK


def _describe(status: ActivationStatus) -> str:
    pricing = status.pricing
    prices = ""
    if pricing is not None and (pricing.per_download or pricing.addon_monthly):
        parts = [
            f"{pricing.per_download} per download" if pricing.per_download else "",
            f"{pricing.addon_monthly} a month" if pricing.addon_monthly else "",
        ]
        prices = f" (pricing: {', '.join(p for p in parts if p)})"
    return f"Descarga Masiva status: {_text(status.status) or 'unknown'}{prices}"


def run_activate(args: argparse.Namespace, ctx: Context) -> int:
    async def activate() -> int:
        async with ctx.client(args) as client:
            status = await client.downloads.activation_status()
            ctx.ui.out(_describe(status))
            if status.status is ActivationState.ACTIVE:
                ctx.ui.out("Already active: nothing was sent.")
                return exitcodes.OK
            if status.status is not ActivationState.NEEDS_ACTIVATION and not args.yes:
                raise UsageError(
                    "activating with this status may add a charge (see the pricing above); "
                    "pass --yes to activate anyway. Nothing was sent"
                )
            if status.status is ActivationState.NEEDS_ACTIVATION:
                # The pricing shown is the add-on's; the docs say this activation adds nothing.
                ctx.ui.out(
                    "Activating without asking: with status needs_activation gigstack's docs "
                    "say activation adds no charge (the plan includes Descarga Masiva). Any "
                    "pricing shown above is what gigstack lists for downloads, not a fee for "
                    "activating."
                )
            result = await client.downloads.activate()
            kind = "" if result.data is None else _text(result.data.type)
            ctx.ui.out(
                f"Activated{f' ({kind})' if kind else ''}: {result.message or 'done'}. Run the "
                "same `sat download` again: refused months are sent again."
            )
            return exitcodes.OK

    with ctx.ui.changing_state():  # `activate | head -1` must not stop before activating
        return run_command(activate())
