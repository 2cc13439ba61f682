"""`gigstack-async downloads status|history`: inspect SAT download requests."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any

from gigstack_async._generated.models import DownloadRequest, DownloadRequestStatus
from gigstack_async.cli import exitcodes
from gigstack_async.cli.context import Context
from gigstack_async.cli.formats import write_jsonl
from gigstack_async.cli.parser import PROG, command_parser, group_parser
from gigstack_async.cli.tables import Col, print_table

EPILOG = f"""\
examples:
  {PROG} downloads history
  {PROG} downloads history --format jsonl
  {PROG} downloads status 3F2A9C1B-0C4D-4E8F-9A1B-2C3D4E5F6A7B

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
        description="Show SAT's status of one download request: state, invoice count, "
        "package ids and SAT's message.",
        epilog=EPILOG,
    )
    status.add_argument("request_id", metavar="REQUEST_ID", help="the request's id")
    _format_option(status)
    status.set_defaults(func=run_status)
    history = command_parser(
        downloads,
        "history",
        help="the team's most recent download requests (the API lists the last 20)",
        description="List the team's most recent download requests, newest first (the API "
        "returns the last 20).",
        epilog=EPILOG,
    )
    _format_option(history)
    history.set_defaults(func=run_history)


def _text(value: object) -> str:
    if value is None:
        return ""
    return str(getattr(value, "value", value))


def _created(value: int | str | None) -> str:
    if isinstance(value, int):  # epoch milliseconds
        return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return value or ""


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


def _status_rows(request_id: str, status: DownloadRequestStatus) -> list[list[str]]:
    return [
        ["request id", status.request_id or request_id],
        ["state", _text(status.status)],
        ["invoices", _text(status.invoice_count)],
        ["packages", ", ".join(status.package_ids or [])],
        ["message", status.status_message or ""],
    ]


def run_history(args: argparse.Namespace, ctx: Context) -> int:
    async def history() -> list[DownloadRequest]:
        async with ctx.client(args) as client:
            return await client.downloads.history()

    entries = asyncio.run(history())
    if args.format == "jsonl":
        write_jsonl(entries)
    elif entries:
        print_table(ctx.ui, HISTORY_COLUMNS, [_history_row(entry) for entry in entries])
    else:
        ctx.ui.err("No download requests yet.")
    return exitcodes.OK


def run_status(args: argparse.Namespace, ctx: Context) -> int:
    async def status() -> DownloadRequestStatus:
        async with ctx.client(args) as client:
            return await client.downloads.status(args.request_id)

    result = asyncio.run(status())
    if args.format == "jsonl":
        write_jsonl([result])
    else:
        rows = _status_rows(args.request_id, result)
        print_table(ctx.ui, (Col("field"), Col("value")), rows, header=False)
    return exitcodes.OK
