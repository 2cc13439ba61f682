"""`gigstack-async sat invoices list`: the SAT invoices gigstack holds, streamed page by page."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, Protocol

from gigstack_async._generated.models import (
    Direction,
    InvoiceType,
    SatInvoice,
    SatInvoiceStatus,
)
from gigstack_async.cli import exitcodes
from gigstack_async.cli.context import Context
from gigstack_async.cli.formats import CsvWriter, write_jsonl
from gigstack_async.cli.parser import PROG, command_parser, group_parser
from gigstack_async.cli.runner import run_command
from gigstack_async.cli.tables import Col, plain_lines, rich_table
from gigstack_async.cli.ui import Ui

EPILOG = f"""\
examples:
  {PROG} sat invoices list --direction received --from 2024-01-01 --to 2024-01-31
  {PROG} sat invoices list --issuer-rfc EKU9003173C9 --status Vigente --format jsonl
  {PROG} sat invoices list --format csv > invoices.csv      # every invoice, streamed
  {PROG} sat invoices list --max-items 20

Output is streamed: one page (--limit invoices) is in memory at a time, whatever the format.

exit codes: 0 ok; 2 invalid filter (nothing sent); 3 key refused; 4 API error; 5 unreachable."""

COLUMNS = (
    Col("uuid", width=36),
    Col("issued", width=10),
    Col("issuer rfc", width=13),
    Col("receiver rfc", width=13),
    Col("type", width=4),
    Col("total", "right", width=14),
    Col("cur", width=3),
    Col("status", width=9),
)

CSV_FIELDS: Sequence[tuple[str, Any]] = (
    ("uuid", lambda i: i.uuid),
    ("direction", lambda i: i.direction),
    ("issue_date", lambda i: i.issue_date),
    ("issuer_rfc", lambda i: i.issuer and i.issuer.rfc),
    ("issuer_name", lambda i: i.issuer and i.issuer.name),
    ("receiver_rfc", lambda i: i.receiver and i.receiver.rfc),
    ("receiver_name", lambda i: i.receiver and i.receiver.name),
    ("invoice_type", lambda i: i.invoice_type),
    ("series", lambda i: i.series),
    ("folio", lambda i: i.folio),
    ("subtotal", lambda i: i.subtotal),
    ("total", lambda i: i.total),
    ("currency", lambda i: i.currency),
    ("exchange_rate", lambda i: i.exchange_rate),
    ("status", lambda i: i.status),
    ("has_xml", lambda i: i.has_xml),
    ("download_request_id", lambda i: i.download_request_id),
)


def register(sat_commands: Any) -> None:
    invoices = group_parser(
        sat_commands,
        "invoices",
        help="the SAT invoices (CFDIs) gigstack holds for the team",
        epilog=EPILOG,
    )
    parser = command_parser(
        invoices,
        "list",
        help="list SAT invoices, filtered, as a table, JSON Lines or CSV",
        description="List the SAT invoices gigstack holds (filled by completed cfdi "
        "downloads), newest first, across every page.",
        epilog=EPILOG,
    )
    parser.add_argument(
        "--direction",
        choices=[d.value for d in Direction],
        help="received: CFDIs issued to the team; issued: CFDIs the team issued (default: both)",
    )
    parser.add_argument(
        "--status",
        choices=[s.value for s in SatInvoiceStatus],
        help="SAT's status: Vigente (valid) or Cancelado (cancelled) (default: both)",
    )
    parser.add_argument(
        "--invoice-type",
        choices=[t.value for t in InvoiceType],
        help="I ingreso, E egreso, T traslado, N nómina, P pago",
    )
    parser.add_argument(
        "--issuer-rfc", metavar="RFC", help="only CFDIs issued by this RFC (12 or 13 characters)"
    )
    parser.add_argument(
        "--receiver-rfc", metavar="RFC", help="only CFDIs issued to this RFC (12 or 13 characters)"
    )
    parser.add_argument(
        "--from", dest="start", metavar="YYYY-MM-DD", help="issued on or after this day"
    )
    parser.add_argument(
        "--to", dest="end", metavar="YYYY-MM-DD", help="issued on or before this day (inclusive)"
    )
    parser.add_argument(
        "--limit", type=int, metavar="N", help="page size, 1-100 (default: the server's)"
    )
    parser.add_argument("--max-items", type=int, metavar="N", help="stop after N invoices")
    parser.add_argument(
        "--format",
        choices=("table", "jsonl", "csv"),
        default="table",
        help="table (default), jsonl (API field names) or csv",
    )
    parser.set_defaults(func=run)


class _Sink(Protocol):
    def write(self, invoices: Sequence[SatInvoice]) -> None: ...


class _TableSink:
    """Aligned columns of fixed width, so each page prints as it arrives."""

    def __init__(self, ui: Ui) -> None:
        self._ui = ui
        self._first = True

    def write(self, invoices: Sequence[SatInvoice]) -> None:
        rows = [_row(invoice) for invoice in invoices]
        if not rows:
            return
        if self._ui.fancy:
            self._ui.render(rich_table(COLUMNS, rows, header=self._first))
        else:
            for line in plain_lines(COLUMNS, rows, header=self._first):
                self._ui.out(line)
        self._first = False


class _JsonlSink:
    def write(self, invoices: Sequence[SatInvoice]) -> None:
        write_jsonl(invoices)


def _row(invoice: SatInvoice) -> list[str]:
    # Exact digits, thousands separated: a 6-decimal amount is shown, not rounded.
    total = "" if invoice.total is None else f"{invoice.total:,f}"
    return [
        invoice.uuid,
        (invoice.issue_date or "")[:10],
        (invoice.issuer.rfc if invoice.issuer else None) or "",
        (invoice.receiver.rfc if invoice.receiver else None) or "",
        invoice.invoice_type.value if invoice.invoice_type else "",
        total,
        invoice.currency or "",
        invoice.status.value if invoice.status else "",
    ]


def run(args: argparse.Namespace, ctx: Context) -> int:
    return run_command(_list(args, ctx))


async def _list(args: argparse.Namespace, ctx: Context) -> int:
    async with ctx.client(args) as client:
        pager = client.sat_invoices.list(  # checks every filter before anything is sent
            direction=args.direction,
            status=args.status,
            invoice_type=args.invoice_type,
            issuer_rfc=args.issuer_rfc,
            receiver_rfc=args.receiver_rfc,
            from_=args.start,
            to=args.end,
            limit=args.limit,
            max_items=args.max_items,
        )
        sink: _Sink = (
            CsvWriter(CSV_FIELDS)
            if args.format == "csv"
            else _JsonlSink()
            if args.format == "jsonl"
            else _TableSink(ctx.ui)
        )
        remaining = args.max_items
        count = 0
        # Page by page (not item by item) so a table prints aligned per page and output is
        # flushed as each page arrives; only the current page is held.
        async for page in pager.pages():
            invoices = page.data if remaining is None else page.data[:remaining]
            sink.write(invoices)
            count += len(invoices)
            if remaining is not None:
                remaining -= len(invoices)
                if remaining <= 0:
                    break
        if count == 0 and args.format == "table":
            ctx.ui.err("No invoices match.")
    return exitcodes.OK
