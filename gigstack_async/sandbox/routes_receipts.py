"""Receipts (`/receipts…`): non-fiscal sales notes with a self-invoice link, stamped into an
income CFDI at most once.

Status machine (FACT-CLI vocabulary): `pending` → `invoiced` (stamp) | `cancelled` (cancel).
Stamping an invoiced receipt is a 409; stamping or cancelling a cancelled one is a 409.
"""

from __future__ import annotations

from aiohttp import web

from gigstack_async.sandbox.billing import (
    client_summary,
    document_fields,
    resolve_client,
    stamp_invoice,
)
from gigstack_async.sandbox.core import Record
from gigstack_async.sandbox.envelopes import ApiError, invalid
from gigstack_async.sandbox.routes_common import (
    PUBLIC_RFC,
    core_of,
    created_status,
    cursor_list,
    emit,
    equals,
    json_body,
    now_s,
    respond,
    search_list,
    team_core,
)
from gigstack_async.sandbox.routing import Route

PERIODICITY_SECONDS = {
    "day": 86_400,
    "week": 7 * 86_400,
    "fortnight": 15 * 86_400,
    "month": 30 * 86_400,
    "two_months": 60 * 86_400,
}
"""Validity window per `periodicity` (FACT-docs: `month` = 2 592 000 s; the others GUESS)."""

PUBLIC_GENERAL = {
    "id": None,
    "name": "PUBLICO EN GENERAL",
    "legal_name": "PUBLICO EN GENERAL",
    "tax_id": PUBLIC_RFC,
    "tax_system": "616",
    "address": {"zip": "00000"},
}


async def list_receipts(request: web.Request) -> web.Response:
    return cursor_list(
        request,
        team_core(request).receipts,
        "Receipts retrieved successfully",
        filters={"status": equals("status"), "client_id": equals("client.id")},
        created_field="created",
    )


async def create_receipt(request: web.Request) -> web.Response:
    body = await json_body(request)
    fields = document_fields(request, body, invoice_type="R")
    periodicity = body.get("periodicity", "month")
    if periodicity not in PERIODICITY_SECONDS:
        raise invalid("periodicity", f"must be one of {', '.join(PERIODICITY_SECONDS)}")
    client = resolve_client(request, body.get("client"), required=False)  # may create it
    receipt = new_receipt(request, fields, client, periodicity)
    return respond(receipt, "Receipt created successfully", status=created_status(request))


def new_receipt(
    request: web.Request, fields: Record, client: Record | None, periodicity: str = "month"
) -> Record:
    """Store a pending receipt built from checked document fields (or a payment)."""
    created = now_s(request)
    receipt_id = core_of(request).new_id("receipt")
    receipt: Record = {
        "id": receipt_id,
        "client": client_summary(client),
        "status": "pending",
        **{
            key: fields.get(key)
            for key in (
                "currency",
                "exchange_rate",
                "items",
                "subtotal",
                "discount",
                "taxes",
                "total",
                "payment_form",
                "metadata",
                "emails",
            )
        },
        "periodicity": periodicity,
        "created": created,
        "validUntil": created + PERIODICITY_SECONDS[periodicity],
        "url": f"https://invoicing.sandbox.gigstack.test/autofactura?id={receipt_id}",
        "invoices": [],
        "livemode": False,
    }
    team_core(request).receipts.add(receipt)
    emit(request, "receipt.created", receipt)
    return receipt


async def get_receipt(request: web.Request) -> web.Response:
    return respond(team_core(request).receipts.get(request.match_info["id"]), "Receipt retrieved")


def stamp_receipt_record(request: web.Request, receipt: Record) -> Record:
    """Turn a pending receipt into an income CFDI (its client, else público en general)."""
    if receipt["status"] != "pending":
        raise ApiError(
            409,
            "resource_conflict",
            f"Receipt {receipt['id']} is {receipt['status']}: only a pending receipt is stamped",
        )
    core = team_core(request)
    client_ref = receipt.get("client")
    client = core.clients.get(client_ref["id"]) if client_ref else None
    fields = {
        key: receipt[key]
        for key in (
            "currency",
            "exchange_rate",
            "items",
            "subtotal",
            "discount",
            "taxes",
            "total",
            "payment_form",
            "metadata",
            "emails",
        )
    }
    fields["payment_method"] = "PUE"
    fields["use"] = "S01" if client is None else (client.get("use") or "G03")
    receiver = client if client is not None else {**PUBLIC_GENERAL}
    invoice = stamp_invoice(
        request, "I", fields, receiver, source_id=receipt["id"], extra={"receipt": receipt["id"]}
    )
    receipt["status"] = "invoiced"
    receipt["invoices"].append(invoice["id"])
    emit(request, "receipt.completed", receipt)
    return invoice


async def stamp_receipt(request: web.Request) -> web.Response:
    receipt = team_core(request).receipts.get(request.match_info["id"])
    stamp_receipt_record(request, receipt)
    return respond(receipt, "Receipt stamped successfully")


async def cancel_receipt(request: web.Request) -> web.Response:
    receipt = team_core(request).receipts.get(request.match_info["id"])
    if receipt["status"] != "pending":
        raise ApiError(
            409,
            "resource_conflict",
            f"Receipt {receipt['id']} is {receipt['status']}: only a pending receipt is cancelled",
        )
    receipt["status"] = "cancelled"
    emit(request, "receipt.updated", receipt)
    return respond(receipt, "Receipt cancelled successfully")


async def search_receipts(request: web.Request) -> web.Response:
    return search_list(
        request,
        team_core(request).receipts,
        ("id", "client.name", "client.legal_name", "client.tax_id", "status", "metadata"),
        filters={"status": equals("status"), "client_id": equals("client.id")},
    )


ROUTES: tuple[Route, ...] = (
    Route("GET", "/receipts/search", "searchReceipts", search_receipts),
    Route("GET", "/receipts", "listReceipts", list_receipts),
    Route("POST", "/receipts", "createReceipt", create_receipt),
    Route("GET", "/receipts/{id}", "getReceipt", get_receipt),
    Route("DELETE", "/receipts/{id}", "cancelReceipt", cancel_receipt),
    Route("POST", "/receipts/{id}/stamp", "stampReceipt", stamp_receipt),
)
