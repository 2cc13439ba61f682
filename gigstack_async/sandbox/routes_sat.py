"""SAT invoices: the list that completed cfdi download requests fill, and per-invoice actions."""

from __future__ import annotations

import base64
from datetime import datetime

from aiohttp import web

from gigstack_async.sandbox import validation
from gigstack_async.sandbox.envelopes import ApiError, JsonObject, invalid, not_found, ok, success
from gigstack_async.sandbox.pdf import render_pdf
from gigstack_async.sandbox.routing import Route, state_of, team_of
from gigstack_async.sandbox.state import SatRecord

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
INVOICE_TYPES = ("I", "E", "T", "N", "P")
STATUSES = ("Vigente", "Cancelado")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S")


def sat_invoice(record: SatRecord) -> JsonObject:
    """The spec's SatInvoice for one synced CFDI (dates as the XML's local `Fecha` format)."""
    invoice = record.invoice
    return {
        "id": "satinv_" + invoice.uuid.replace("-", "").lower()[:24],
        "uuid": invoice.uuid,
        "direction": invoice.direction,
        "issuer": {"rfc": invoice.issuer.rfc, "name": invoice.issuer.name},
        "receiver": {"rfc": invoice.receiver.rfc, "name": invoice.receiver.name},
        "invoice_type": invoice.invoice_type,
        "series": invoice.series,
        "folio": invoice.folio,
        "subtotal": invoice.subtotal,
        "total": invoice.total,
        "currency": invoice.currency,
        "exchange_rate": invoice.exchange_rate,
        "issue_date": _iso(invoice.issued_at),
        "stamp_date": _iso(invoice.stamped_at),
        "cancellation_date": _iso(invoice.cancelled_at),
        "status": invoice.status,
        "resource_status": record.resource_status,
        "pac_rfc": invoice.pac_rfc,
        "version": "4.0",
        "certificate_number": invoice.certificate_number,
        "download_request_id": record.download_request_id,
        "has_xml": record.resource_status == "ready",
        "created_at": record.created_ms,
        "updated_at": record.updated_ms,
    }


def _query(request: web.Request, name: str) -> str | None:
    # gigstack's own examples send every filter, empty ones as `?direction&status`: empty = absent.
    value = request.query.get(name, "").strip()
    return value or None


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise invalid(
            "limit", f"must be an integer between 1 and {MAX_LIMIT}, got {raw!r}"
        ) from None
    if not 1 <= value <= MAX_LIMIT:
        raise invalid("limit", f"must be between 1 and {MAX_LIMIT}, got {value}")
    return value


async def list_sat_invoices(request: web.Request) -> web.StreamResponse:
    """Filtered, newest-first page of the team's SAT invoices; `next` is the last item's UUID."""
    state, team = state_of(request), team_of(request)
    state.sync_invoices(team)
    direction = _query(request, "direction")
    status = _query(request, "status")
    kind = _query(request, "invoice_type")
    issuer = _query(request, "issuer_rfc")
    receiver = _query(request, "receiver_rfc")
    since, until = _query(request, "from"), _query(request, "to")
    if direction is not None:
        validation.choice(direction, "direction", validation.RFC_TYPES)
    if status is not None:
        validation.choice(status, "status", STATUSES)
    if kind is not None:
        validation.choice(kind, "invoice_type", INVOICE_TYPES)
    low = None if since is None else validation.parse_date(since, "from")
    high = None if until is None else validation.parse_date(until, "to")
    if low is not None and high is not None and high < low:
        raise invalid("to", f"must not be before from ({high} < {low})")
    limit = _limit(_query(request, "limit"))

    records = sorted(
        team.sat_invoices.values(),
        key=lambda record: (record.invoice.issued_at, record.invoice.uuid),
        reverse=True,
    )
    matching = [
        record
        for record in records
        if (direction is None or record.invoice.direction == direction)
        and (status is None or record.invoice.status == status)
        and (kind is None or record.invoice.invoice_type == kind)
        and (issuer is None or record.invoice.issuer.rfc == issuer.upper())
        and (receiver is None or record.invoice.receiver.rfc == receiver.upper())
        and (low is None or record.invoice.issue_date >= low)
        and (high is None or record.invoice.issue_date <= high)
    ]
    start = 0
    cursor = _query(request, "starting_after")
    if cursor is not None:
        positions = {record.invoice.uuid: i for i, record in enumerate(matching)}
        if cursor.upper() not in positions:
            raise invalid("starting_after", f"unknown cursor {cursor!r} for these filters")
        start = positions[cursor.upper()] + 1
    page = matching[start : start + limit]
    has_more = start + limit < len(matching)
    return ok(
        {
            "success": True,
            "data": [sat_invoice(record) for record in page],
            "has_more": has_more,
            "next": page[-1].invoice.uuid if has_more and page else None,
            "count": len(matching),
        }
    )


def _record(request: web.Request) -> SatRecord:
    state, team = state_of(request), team_of(request)
    state.sync_invoices(team)
    invoice_uuid = request.match_info["uuid"]
    record = team.sat_invoices.get(invoice_uuid.upper())
    if record is None:
        raise not_found("SAT invoice", invoice_uuid)
    return record


async def get_sat_invoice(request: web.Request) -> web.StreamResponse:
    """One synced SAT invoice."""
    return success(sat_invoice(_record(request)))


async def retry_sat_invoice_xml(request: web.Request) -> web.StreamResponse:
    """Fetch again the XML of a received invoice stuck in `building`/`error`; that costs a credit.

    An invoice whose XML is already there is not charged again.
    """
    state, team = state_of(request), team_of(request)
    record = _record(request)
    if record.invoice.direction != "received":
        raise ApiError(
            422,
            "operation_not_allowed",
            "retry-xml only applies to received invoices; issued ones always have their XML",
        )
    if record.resource_status == "ready":
        return success({"credit_charged": False}, message="The XML is already available")
    record.resource_status = "ready"
    record.updated_ms = state.clock.now_ms()
    state.charge(team, "retrySatInvoiceXml", record.invoice.uuid)
    return success({"credit_charged": True}, message="XML downloaded again from SAT")


async def generate_sat_invoice_pdf(request: web.Request) -> web.StreamResponse:
    """A printable representation of the CFDI, base64 in the top-level `pdf` field."""
    invoice = _record(request).invoice
    total = f"{invoice.total:.2f} {invoice.currency}"
    pdf = render_pdf(
        [
            "CFDI 4.0 - representación impresa (gigstack sandbox)",
            f"UUID: {invoice.uuid}",
            f"Emisor: {invoice.issuer.rfc} {invoice.issuer.name}",
            f"Receptor: {invoice.receiver.rfc} {invoice.receiver.name}",
            f"Fecha: {_iso(invoice.issued_at)}  Tipo: {invoice.invoice_type}",
            f"Total: {total}  Estatus: {invoice.status}",
        ]
    )
    return ok({"success": True, "pdf": base64.b64encode(pdf).decode("ascii")})


ROUTES = (
    Route("GET", "/invoices/sat", "listSatInvoices", list_sat_invoices),
    Route("GET", "/invoices/sat/{uuid}", "getSatInvoice", get_sat_invoice),
    Route("POST", "/invoices/sat/{uuid}/retry-xml", "retrySatInvoiceXml", retry_sat_invoice_xml),
    Route("POST", "/invoices/sat/{uuid}/pdf", "generateSatInvoicePdf", generate_sat_invoice_pdf),
)
