"""Payments (`/payments…`): request, register, mark paid, refund, cancel, update, search,
support documents; the automations that stamp CFDIs when money arrives.

Money-moving calls change status only through `payment_machine` and are recorded in
`CoreState.money_moves`. `idempotency_key` (register and request, FACT-docs) makes a repeat
return the stored payment without a second money move or stamp; the same key with a different
body is a 409 (GUESS, as Stripe does).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from aiohttp import web

from gigstack_async.sandbox import documents, money, payment_machine
from gigstack_async.sandbox.billing import (
    client_fields,
    client_summary,
    document_fields,
    require_receiver,
    resolve_client,
    stamp_invoice,
    stamp_payment_complement,
)
from gigstack_async.sandbox.core import DEFAULT_SERIES, CoreTeam, Record
from gigstack_async.sandbox.envelopes import ApiError, invalid
from gigstack_async.sandbox.routes_common import (
    PAYMENT_FORMS,
    PUBLIC_RFC,
    check_code,
    core_of,
    cursor_list,
    emit,
    equals,
    json_body,
    owner_of,
    resource_time,
    respond,
    search_list,
    team_core,
)
from gigstack_async.sandbox.routes_receipts import new_receipt
from gigstack_async.sandbox.routing import Route

PUE_AUTOMATIONS = frozenset({"pue_invoice", "payment", "stamp_invoice"})
PPD_AUTOMATIONS = frozenset({"ppd_invoice_and_complement", "payment_and_complement"})
AUTOMATIONS = PUE_AUTOMATIONS | PPD_AUTOMATIONS | {"none", "receipt"}
"""Every spelling the sources show (docs primary, docs prose, CLI legacy): all accepted."""
ALLOWED_METHODS = frozenset({"card", "bank", "spei", "oxxo", "stripe-spei"})


def _automation(body: Record) -> str | None:
    value = body.get("automation_type")
    if value is not None and value not in AUTOMATIONS:
        raise invalid("automation_type", f"must be one of {', '.join(sorted(AUTOMATIONS))}")
    return value


def _fingerprint(body: Record) -> str:
    rest = {k: v for k, v in body.items() if k != "idempotency_key"}
    return hashlib.sha256(money.dumps(rest, sort_keys=True).encode()).hexdigest()


def _replay(core: CoreTeam, body: Record) -> Record | None:
    """The payment a repeated `idempotency_key` already made (409 if the body differs)."""
    key = body.get("idempotency_key")
    if key is None:
        return None
    if not isinstance(key, str) or not key:
        raise invalid("idempotency_key", "must be a non-empty string")
    seen = core.idempotency.get(key)
    if seen is None:
        return None
    payment_id, fingerprint = seen
    if fingerprint != _fingerprint(body):
        raise ApiError(
            409,
            "resource_conflict",
            f"idempotency_key {key!r} was already used with a different request body",
            details=("idempotency_key",),
        )
    return core.payments.get(payment_id)


def _new_payment(request: web.Request, body: Record, status: str) -> Record:
    automation = _automation(body)
    fields = document_fields(request, body, invoice_type="payment")
    payment_form = check_code(body, "payment_form", PAYMENT_FORMS)
    client = resolve_client(request, body.get("client"))  # last: it may create the client
    if automation in PUE_AUTOMATIONS | PPD_AUTOMATIONS:
        require_receiver(client)  # refuse before anything happens, not half-way
    invoice_config = body.get("invoice_config")
    if invoice_config is not None and not isinstance(invoice_config, dict):
        raise invalid("invoice_config", "must be an object {serie, folio}")
    payment_id = core_of(request).new_id("payment")
    return {
        "id": payment_id,
        "client": client_summary(client),
        "status": status,
        "currency": fields["currency"],
        "exchange_rate": fields["exchange_rate"],
        "payment_form": payment_form,
        "total": fields["total"],
        "subtotal": fields["subtotal"],
        "taxes": fields["taxes"],
        "discount": fields["discount"],
        "items": fields["items"],
        "amount_refunded": Decimal(0),
        "refunds": [],
        "invoices": [],
        "receipts": [],
        "automation_type": automation,
        "automations": [],
        "invoice_config": invoice_config,
        "metadata": fields["metadata"],
        "emails": fields["emails"],
        "idempotency_key": body.get("idempotency_key"),
        "created_at": resource_time(request),
        "succeeded_at": None,
        "canceled_at": None,
        "payment_processor": "api",
        "short_url": f"https://pay.sandbox.gigstack.test/p/{payment_id}",
        "livemode": False,
        "team": team_core(request).team_id,
        "owner": owner_of(request),
        "from": "api",
    }


def _run_automation(request: web.Request, payment: Record) -> None:
    """What `automation_type` does once the money arrived: stamp a PUE invoice, or a PPD invoice
    plus its payment complement, or create a receipt."""
    automation = payment.get("automation_type")
    if automation in (None, "none") or payment["automations"]:
        return
    client, series, folio_number = _automation_target(request, payment)
    fields = {
        key: payment[key]
        for key in (
            "currency",
            "exchange_rate",
            "items",
            "subtotal",
            "discount",
            "taxes",
            "total",
            "metadata",
            "emails",
        )
    }
    fields["use"] = (client or {}).get("use") or "G03"
    if automation == "receipt":
        receipt = new_receipt(request, payment, client)
        payment["receipts"].append(receipt["id"])
        payment["automations"].append({"type": automation, "receipt": receipt["id"]})
        return
    ppd = automation in PPD_AUTOMATIONS
    fields["payment_method"] = "PPD" if ppd else "PUE"
    fields["payment_form"] = "99" if ppd else payment["payment_form"]
    invoice = stamp_invoice(
        request,
        "I",
        fields,
        client,
        source_id=payment["id"],
        series=series,
        folio=folio_number,
        extra={"payment": payment["id"]},
    )
    payment["invoices"].append(invoice["id"])
    done: Record = {"type": automation, "invoice": invoice["id"]}
    if ppd:
        complement = stamp_payment_complement(
            request, invoice, payment["total"], payment["payment_form"], payment["id"]
        )
        payment["invoices"].append(complement["id"])
        done["complement"] = complement["id"]
    payment["automations"].append(done)


def _automation_target(
    request: web.Request, payment: Record
) -> tuple[Record | None, str | None, int | None]:
    """The client, series and explicit folio the automation stamps with."""
    core = team_core(request)
    client = core.clients.get(payment["client"]["id"]) if payment.get("client") else None
    config = payment.get("invoice_config") or {}
    series = config.get("serie")
    folio = config.get("folio")
    folio_number = int(folio) if isinstance(folio, (int, str)) and str(folio).isdigit() else None
    return client, series, folio_number


def _preflight_automation(request: web.Request, payment: Record) -> None:
    """Everything the automation would refuse, checked before the payment exists, so a register
    is all-or-nothing (review 11 #9: an unknown `invoice_config.serie` used to leave a
    succeeded payment, its money move and a spent idempotency key behind a 400)."""
    automation = payment.get("automation_type")
    if automation not in PUE_AUTOMATIONS | PPD_AUTOMATIONS:
        return
    client, series, folio_number = _automation_target(request, payment)
    require_receiver(client)
    use = (client or {}).get("use") or "G03"
    if client is not None and client.get("tax_id") == PUBLIC_RFC and use != "S01":
        raise invalid("use", "must be S01 for público en general (XAXX010101000)")
    team_core(request).check_folio(series or DEFAULT_SERIES["I"], folio_number)


def _remember(core: CoreTeam, body: Record, payment: Record) -> None:
    key = body.get("idempotency_key")
    if isinstance(key, str) and key:
        core.idempotency[key] = (payment["id"], _fingerprint(body))


async def register_payment(request: web.Request) -> web.Response:
    """Record money received (status `succeeded`) and run the automation."""
    body = await json_body(request)
    core = team_core(request)
    replayed = _replay(core, body)
    if replayed is not None:
        return respond(replayed, "Payment registered successfully")
    if body.get("payment_form") is None:
        raise invalid("payment_form", "is required to register a payment (SAT c_FormaPago)")
    payment = _new_payment(request, body, payment_machine.SUCCEEDED)
    payment["succeeded_at"] = payment["created_at"]
    _preflight_automation(request, payment)
    state = core_of(request)
    moves = len(state.money_moves)
    core.payments.add(payment)
    _remember(core, body, payment)
    state.record_move(core.team_id, payment["id"], "register", payment["total"])
    try:
        _run_automation(request, payment)
    except ApiError:
        # Safety net behind the preflight: no payment, no move, the key free again.
        core.payments.delete(payment["id"])
        core.idempotency.pop(str(body.get("idempotency_key")), None)
        del state.money_moves[moves:]
        raise
    emit(request, "payment.created", payment)
    emit(request, "payment.succeeded", payment)
    return respond(payment, "Payment registered successfully")


async def request_payment(request: web.Request) -> web.Response:
    """A payable link (`requires_payment_method`); the automation waits for the money."""
    body = await json_body(request)
    core = team_core(request)
    replayed = _replay(core, body)
    if replayed is not None:
        return respond(replayed, "Payment requested successfully")
    methods = body.get("allowed_payment_methods") or ["card", "bank"]
    if not isinstance(methods, list) or any(m not in ALLOWED_METHODS for m in methods):
        raise invalid(
            "allowed_payment_methods", f"must be a list of {', '.join(sorted(ALLOWED_METHODS))}"
        )
    payment = _new_payment(request, body, payment_machine.REQUIRES_PAYMENT_METHOD)
    payment["allowed_payment_methods"] = [{"id": method} for method in methods]
    core.payments.add(payment)
    _remember(core, body, payment)
    emit(request, "payment.created", payment)
    return respond(payment, "Payment requested successfully")


def _transition(payment: Record, change: Any, *args: Any) -> str:
    try:
        return str(change(payment["status"], *args))
    except payment_machine.Refused as refused:
        code = "resource_conflict" if refused.status == 409 else "business_rule_violation"
        raise ApiError(
            refused.status, code, f"Payment {payment['id']}: {refused.message}"
        ) from None


async def mark_paid(request: web.Request) -> web.Response:
    core = team_core(request)
    payment = core.payments.get(request.match_info["id"])
    body = await json_body(request)
    payment_form = check_code(body, "payment_form", PAYMENT_FORMS)
    if payment_form is None:
        raise invalid("payment_form", "is required (SAT c_FormaPago of the money received)")
    status = _transition(payment, payment_machine.mark_paid)
    paid_at = body.get("date")
    if paid_at is not None and (isinstance(paid_at, bool) or not isinstance(paid_at, int)):
        raise invalid("date", "must be a unix timestamp in seconds")
    if paid_at is not None and core_of(request).variants.resource_time_unit == "ms":
        paid_at *= 1000  # `date` is documented in seconds (FACT-n8n)
    succeeded_at = paid_at or resource_time(request)
    _preflight_automation(request, payment)  # refuse before the payment changes
    payment.update(status=status, payment_form=payment_form, succeeded_at=succeeded_at)
    core_of(request).record_move(core.team_id, payment["id"], "paid", payment["total"])
    _run_automation(request, payment)
    emit(request, "payment.succeeded", payment)
    return respond(payment, "Payment marked as paid")


async def refund_payment(request: web.Request) -> web.Response:
    """Refund `amount` (≤ what was paid and not yet refunded) with a `reason`."""
    core = team_core(request)
    payment = core.payments.get(request.match_info["id"])
    body = await json_body(request)
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise invalid("reason", "is required")
    if body.get("amount") is None:
        raise invalid("amount", "is required (major currency units)")
    amount = money.sat_round(
        money.parse_amount(body["amount"], "amount", positive=True), payment["currency"]
    )
    external = body.get("external_processor_refund", True)
    if not isinstance(external, bool):
        raise invalid("external_processor_refund", "must be a boolean")
    status = _transition(
        payment, payment_machine.refund, payment["total"], payment["amount_refunded"], amount
    )
    refund: Record = {
        "id": core_of(request).new_id("refund"),
        "amount": amount,
        "reason": reason,
        "external_processor_refund": external,
        "created_at": resource_time(request),
    }
    payment["refunds"].append(refund)
    payment["amount_refunded"] += amount
    payment["status"] = status
    core_of(request).record_move(core.team_id, payment["id"], "refund", -amount)
    emit(request, "payment.updated", payment)
    return respond(payment, "Payment refunded successfully")


async def cancel_payment(request: web.Request) -> web.Response:
    core = team_core(request)
    payment = core.payments.get(request.match_info["id"])
    _transition(payment, payment_machine.cancel)
    payment["status"] = core_of(request).variants.payment_canceled
    payment["canceled_at"] = resource_time(request)
    core_of(request).record_move(core.team_id, payment["id"], "cancel", Decimal(0))
    emit(request, "payment.canceled", payment)
    return respond(payment, "Payment canceled successfully")


async def update_payment(request: web.Request) -> web.Response:
    """PUT /payments/{id} (FACT-docs rules): item descriptions only, `automation_type` only
    while none ran (re-firing it on a succeeded payment), a partial `client` patch that is also
    written to the client. Totals are never recalculated."""
    core = team_core(request)
    payment = core.payments.get(request.match_info["id"])
    body = await json_body(request)
    if not any(key in body for key in ("items", "automation_type", "client")):
        raise invalid("items", "send at least one of items, automation_type, client")
    if payment["status"] not in {payment_machine.SUCCEEDED} | payment_machine.CANCELED_SPELLINGS:
        raise ApiError(
            400,
            "business_rule_violation",
            f"Payment {payment['id']} is {payment['status']}: only succeeded or canceled "
            "payments can be updated",
        )
    changes: list[tuple[Record, str]] = []
    for n, item in enumerate(body.get("items") or []):
        if not isinstance(item, dict) or "id" not in item:
            raise invalid(f"items[{n}].id", "is required to match an item")
        target = next((i for i in payment["items"] if i["id"] == item["id"]), None)
        if target is None:
            raise invalid(f"items[{n}].id", f"no item {item['id']!r} on this payment")
        other = set(item) - {"id", "description"}
        if other:
            raise invalid(f"items[{n}]", f"only description may change, not {sorted(other)}")
        if not isinstance(item.get("description"), str):
            raise invalid(f"items[{n}].description", "must be a string")
        changes.append((target, item["description"]))
    automation = _automation(body) if "automation_type" in body else None
    if automation is not None and payment["automations"]:
        raise ApiError(
            400,
            "business_rule_violation",
            "automation_type: this payment already has automations",
        )
    client_patch = None
    if body.get("client") is not None:
        if not isinstance(body["client"], dict):
            raise invalid("client", "must be an object")
        if "id" in body["client"] and body["client"]["id"] != (payment["client"] or {}).get("id"):
            raise invalid("client.id", "is immutable")
        client_patch = client_fields(body["client"], prefix="client.")
    for target, description in changes:
        target["description"] = description
    if client_patch and payment.get("client"):
        stored = core.clients.get(payment["client"]["id"])
        stored.update({k: v for k, v in client_patch.items() if v is not None})
        payment["client"] = client_summary(stored)
    if automation is not None:
        payment["automation_type"] = automation
        if payment["status"] == payment_machine.SUCCEEDED:
            _run_automation(request, payment)
    emit(request, "payment.updated", payment)
    return respond({}, "Operation completed successfully")


async def list_payments(request: web.Request) -> web.Response:
    return cursor_list(
        request,
        team_core(request).payments,
        "Payments retrieved successfully",
        filters={
            "status": equals("status"),
            "client_id": equals("client.id"),
            "email": equals("client.email"),
            "currency": equals("currency"),
            "tax_id": equals("client.tax_id"),
        },
    )


async def get_payment(request: web.Request) -> web.Response:
    return respond(team_core(request).payments.get(request.match_info["id"]), "Payment retrieved")


async def search_payments(request: web.Request) -> web.Response:
    return search_list(
        request,
        team_core(request).payments,
        ("id", "client.name", "client.legal_name", "client.email", "client.tax_id", "metadata"),
        filters={"status": equals("status"), "client_id": equals("client.id")},
    )


def _payment(core: CoreTeam, payment_id: str) -> Record:
    return core.payments.get(payment_id)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/payments/search", "searchPayments", search_payments),
    Route("POST", "/payments/request", "requestPayment", request_payment),
    Route("POST", "/payments/register", "registerPayment", register_payment),
    Route("GET", "/payments", "listPayments", list_payments),
    Route("GET", "/payments/{id}", "getPayment", get_payment),
    Route("PUT", "/payments/{id}", "updatePayment", update_payment),
    Route("DELETE", "/payments/{id}", "cancelPayment", cancel_payment),
    Route("POST", "/payments/{id}/paid", "markPaymentPaid", mark_paid),
    Route("POST", "/payments/{id}/refund", "refundPayment", refund_payment),
    Route(
        "POST",
        "/payments/{id}/support-documents",
        "uploadPaymentSupportDocument",
        documents.upload_handler("payments", _payment),
    ),
    Route(
        "GET",
        "/payments/{id}/support-documents",
        "listPaymentSupportDocuments",
        documents.list_handler("payments", _payment),
    ),
)
