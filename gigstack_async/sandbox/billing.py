"""Clients, items and stamping shared by invoices, drafts, receipts, payments and retentions.

Stamping is the one place a CFDI is born: it checks what SAT needs (receiver RFC, legal name,
régimen, ZIP; at least one item), takes a folio from the team's series, assigns a SAT UUID and
records a `Stamp` so tests can assert "stamped once".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from gigstack_async.sandbox import money
from gigstack_async.sandbox.core import DEFAULT_SERIES, CoreTeam, Record, Stamp
from gigstack_async.sandbox.envelopes import ApiError, invalid
from gigstack_async.sandbox.routes_common import (
    CFDI_USES,
    PAYMENT_FORMS,
    PAYMENT_METHODS,
    PUBLIC_RFC,
    TAX_FACTORS,
    TAX_SYSTEMS,
    TAX_TYPES,
    check_code,
    check_emails,
    check_metadata,
    check_rfc,
    check_zip,
    core_of,
    emit,
    optional_str,
    owner_of,
    resource_time,
    team_core,
)
from gigstack_async.sandbox.routing import team_of

CLIENT_FIELDS = ("name", "legal_name", "company", "email", "phone", "tax_id", "tax_system", "use")
ADDRESS_FIELDS = (
    "country",
    "street",
    "exterior",
    "interior",
    "neighborhood",
    "municipality",
    "city",
    "state",
    "zip",
)


def client_fields(body: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """The ClientInput fields present in `body`, checked (None clears a field on update)."""
    fields: dict[str, Any] = {}
    for name in CLIENT_FIELDS:
        if name in body:
            fields[name] = optional_str(body, name, prefix=prefix)
    if fields.get("tax_id") is not None:
        fields["tax_id"] = check_rfc(fields["tax_id"], prefix + "tax_id")
    check_code(body, "tax_system", TAX_SYSTEMS, prefix=prefix)
    check_code(body, "use", CFDI_USES, prefix=prefix)
    if "address" in body:
        address = body["address"]
        if address is not None and not isinstance(address, dict):
            raise invalid(prefix + "address", "must be an object")
        if address:
            if address.get("zip") is not None:
                check_zip(address["zip"], prefix + "address.zip")
            clean = {k: address[k] for k in ADDRESS_FIELDS if address.get(k) is not None}
            for key, value in clean.items():
                if not isinstance(value, str):  # the spec's ClientAddress fields are strings
                    raise invalid(f"{prefix}address.{key}", "must be a string")
            if str(clean.get("country", "")).lower() in ("mexico", "méxico", "mx"):
                clean["country"] = "MEX"  # the API answers ISO-3 (FACT-docs example)
            fields["address"] = clean
        else:
            fields["address"] = None
    if "bcc" in body:
        fields["bcc"] = check_emails(body, "bcc")
    if "metadata" in body:
        fields["metadata"] = check_metadata(body, prefix)
    if "defaults" in body:
        if body["defaults"] is not None and not isinstance(body["defaults"], dict):
            raise invalid(prefix + "defaults", "must be an object")
        fields["defaults"] = body["defaults"]
    return fields


def new_client(request: web.Request, fields: Mapping[str, Any]) -> Record:
    """Create and store a client from checked fields."""
    core = team_core(request)
    if not (fields.get("name") or fields.get("legal_name")):
        raise invalid("name", "a client needs `name` or `legal_name`")
    client: Record = {
        "id": core_of(request).new_id("client"),
        **{name: fields.get(name) for name in CLIENT_FIELDS},
        "address": fields.get("address") or {},
        "bcc": fields.get("bcc") or [],
        "metadata": fields.get("metadata") or {},
        "defaults": fields.get("defaults")
        or {
            "keep_full_legal_name": False,
            "issue_automatic_invoices": False,
            "issue_invoiceable_receipts": True,
        },
        "livemode": False,
        "created_at": resource_time(request),
        "team": core.team_id,
        "owner": owner_of(request),
        "from": "api",
    }
    refresh_validity(client)
    core.clients.add(client)
    emit(request, "customer.created", client)
    return client


def refresh_validity(client: Record) -> None:
    """`is_valid`/`efos`: whether the client has what a CFDI receiver needs (GUESS: the real
    check also asks SAT; the sandbox treats a well-formed RFC + régimen + ZIP as valid)."""
    complete = bool(
        client.get("tax_id")
        and (client.get("legal_name") or client.get("name"))
        and client.get("tax_system")
        and (client.get("address") or {}).get("zip")
    )
    client["is_valid"] = complete
    client["efos"] = {"is_valid": True}


def find_client(core: CoreTeam, on_key: str, on_value: object) -> list[Record]:
    return [client for client in core.clients if client.get(on_key) == on_value]


def resolve_client(request: web.Request, raw: object, *, required: bool = True) -> Record | None:
    """A document's `client`: `{id}`, `{search: {on_key, on_value, auto_create}}` + inline
    fields, or inline fields alone (auto-created). Returns the stored client."""
    if raw is None:
        if required:
            raise invalid("client", "is required: {id} of an existing client, or its data")
        return None
    if not isinstance(raw, dict):
        raise invalid("client", "must be an object")
    core = team_core(request)
    if raw.get("id") is not None:
        return core.clients.get(str(raw["id"]))
    search = raw.get("search")
    if isinstance(search, dict):
        on_key, on_value = search.get("on_key"), search.get("on_value")
        if not isinstance(on_key, str) or on_value is None:
            raise invalid("client.search", "needs on_key and on_value")
        matches = find_client(core, on_key, on_value)
        if len(matches) > 1:
            raise ApiError(
                409,
                "resource_conflict",
                f"client.search: {len(matches)} clients match {on_key}={on_value!r}",
            )
        if matches:
            return matches[0]
        if not search.get("auto_create"):
            raise ApiError(
                404,
                "resource_not_found",
                f"No client with {on_key}={on_value!r} (set search.auto_create to create it)",
            )
    fields = client_fields(raw, prefix="client.")
    return new_client(request, fields)


def client_summary(client: Record | None) -> Record | None:
    """The client as embedded in documents."""
    if client is None:
        return None
    return {
        "id": client["id"],
        "name": client.get("name"),
        "legal_name": client.get("legal_name"),
        "email": client.get("email"),
        "tax_id": client.get("tax_id"),
        "tax_system": client.get("tax_system"),
        "use": client.get("use"),
        "address": client.get("address") or {},
    }


def parse_items(request: web.Request, raw: object, currency: str) -> list[Record]:
    """Items: `{id (service), quantity, unit_price?}` or inline; amounts as Decimal."""
    if not isinstance(raw, list) or not raw:
        raise invalid("items", "must be a non-empty list")
    core = team_core(request)
    items: list[Record] = []
    for index, entry in enumerate(raw):
        where = f"items[{index}]"
        if not isinstance(entry, dict):
            raise invalid(where, "must be an object")
        base: Record = {}
        if entry.get("id") is not None:
            base = dict(core.services.get(str(entry["id"])))
        merged = {**base, **{k: v for k, v in entry.items() if v is not None}}
        quantity = money.parse_amount(merged.get("quantity", 1), f"{where}.quantity", positive=True)
        if merged.get("unit_price") is None:
            raise invalid(f"{where}.unit_price", "is required (or reference a service by id)")
        unit_price = money.parse_amount(merged["unit_price"], f"{where}.unit_price")
        discount = money.parse_amount(merged.get("discount", 0), f"{where}.discount")
        description = merged.get("description")
        if not isinstance(description, str) or not description:
            raise invalid(f"{where}.description", "is required")
        taxes = [
            parse_tax(tax, f"{where}.taxes[{n}]") for n, tax in enumerate(merged.get("taxes") or [])
        ]
        items.append(
            {
                "id": base.get("id") or core_of(request).new_id("item"),
                "description": description,
                "quantity": quantity,
                "unit_price": unit_price,
                "discount": discount,
                "product_key": merged.get("product_key") or "01010101",
                "unit_key": merged.get("unit_key") or "E48",
                "unit_name": merged.get("unit_name"),
                "sku": merged.get("sku"),
                "taxability": merged.get("taxability") or ("02" if taxes else "01"),
                "taxes": taxes,
            }
        )
    return items


def parse_tax(raw: object, where: str) -> Record:
    """One `taxes[]` entry: type IVA/ISR/IEPS, factor, rate as a Decimal fraction."""
    if not isinstance(raw, dict):
        raise invalid(where, "must be an object")
    kind = str(raw.get("type", "")).upper()
    if kind not in TAX_TYPES:
        raise invalid(f"{where}.type", f"must be IVA, ISR or IEPS, got {raw.get('type')!r}")
    factor = raw.get("factor", "Tasa")
    if factor not in TAX_FACTORS:
        raise invalid(f"{where}.factor", f"must be Tasa, Cuota or Exento, got {factor!r}")
    rate = money.parse_amount(raw.get("rate", 0), f"{where}.rate")
    if factor == "Tasa" and rate > 1:
        raise invalid(f"{where}.rate", f"is a fraction (0.16 = 16%), got {rate}")
    return {
        "type": kind,
        "rate": rate,
        "factor": factor,
        "withholding": bool(raw.get("withholding", False)),
        "inclusive": bool(raw.get("inclusive", False)),
    }


def document_fields(request: web.Request, body: Mapping[str, Any], *, invoice_type: str) -> Record:
    """The common body of invoices, drafts and receipts, checked and totalled."""
    currency = money.parse_currency(body.get("currency"))
    exchange_rate = money.parse_exchange_rate(body, currency)
    items = parse_items(request, body.get("items"), currency)
    totals = money.line_totals(items, currency)
    payment_method = check_code(body, "payment_method", PAYMENT_METHODS)
    if invoice_type == "I" and payment_method is None:
        payment_method = "PUE"
    payment_form = check_code(body, "payment_form", PAYMENT_FORMS)
    if payment_method == "PPD" and payment_form not in (None, "99"):
        raise invalid("payment_form", "must be 99 (por definir) when payment_method is PPD (SAT)")
    return {
        "currency": currency,
        "exchange_rate": exchange_rate,
        "items": items,
        "subtotal": totals.subtotal,
        "discount": totals.discount,
        "taxes": totals.taxes,
        "total": totals.total,
        "use": check_code(body, "use", CFDI_USES) or "G03",
        "payment_form": payment_form or ("99" if payment_method == "PPD" else "03"),
        "payment_method": payment_method,
        "metadata": check_metadata(body),
        "emails": check_emails(body),
    }


def require_receiver(client: Record | None) -> Record:
    """What SAT needs from the receiver of a CFDI 4.0 (400 naming the missing field)."""
    if client is None:
        raise invalid("client", "a CFDI needs a receiver: give client.id")
    for field in ("tax_id", "tax_system"):
        if not client.get(field):
            raise invalid(f"client.{field}", "is required to stamp a CFDI 4.0 (SAT)")
    if not (client.get("legal_name") or client.get("name")):
        raise invalid("client.legal_name", "is required to stamp a CFDI 4.0 (SAT)")
    if not (client.get("address") or {}).get("zip"):
        raise invalid("client.address.zip", "is required to stamp a CFDI 4.0 (SAT)")
    return client


def stamp_invoice(
    request: web.Request,
    invoice_type: str,
    fields: Record,
    client: Record | None,
    *,
    source_id: str | None = None,
    series: str | None = None,
    folio: int | None = None,
    extra: Record | None = None,
) -> Record:
    """Stamp a CFDI of `invoice_type` (I, E, P): folio from the series, a SAT UUID, a `Stamp`
    record, the `invoice.created` event. Returns the stored invoice."""
    if invoice_type != "P":
        require_receiver(client)
    if client is not None and client.get("tax_id") == PUBLIC_RFC and fields.get("use") != "S01":
        raise invalid("use", "must be S01 for público en general (XAXX010101000)")
    core, state = team_core(request), core_of(request)
    series = series or DEFAULT_SERIES[invoice_type]
    folio_number = core.next_folio(series, folio)
    invoice_id = state.new_id("invoice")
    sat_uuid = state.new_uuid()
    stamped_at = resource_time(request)
    seal = hashlib.sha256(f"{sat_uuid}|{fields.get('total')}".encode()).hexdigest()
    invoice: Record = {
        "id": invoice_id,
        "uuid": invoice_id,
        "invoice_type": invoice_type,
        "status": state.variants.stamped_status,
        "client": client_summary(client),
        **fields,
        "series": series,
        "folio_number": folio_number,
        "stamp": {"uuid": sat_uuid, "stamp_at": stamped_at, "sello": seal[:44]},
        "created_at": stamped_at,
        "livemode": False,
        "team": core.team_id,
        "owner": owner_of(request),
        "from": "api",
        "cancellation": None,
        **(extra or {}),
    }
    if invoice_type == "I" and fields.get("payment_method") == "PPD":
        invoice["last_balance"] = fields["total"]
        invoice["payment_complements"] = 0
    core.invoices.add(invoice)
    state.stamps.append(
        Stamp(
            team_of(request).team_id,
            invoice_type,
            invoice_id,
            source_id or invoice_id,
            sat_uuid,
            series,
            folio_number,
            state.clock.now_ms(),
        )
    )
    emit(request, "invoice.created", invoice)
    return invoice


def stamp_payment_complement(
    request: web.Request, parent: Record, amount: Decimal, payment_form: str, payment_id: str
) -> Record:
    """A type-P CFDI paying `amount` of the PPD invoice `parent` (balance goes down)."""
    balance = parent.get("last_balance")
    if not isinstance(balance, Decimal):
        raise ApiError(
            400,
            "business_rule_violation",
            f"Invoice {parent['id']} is not PPD: a payment complement only pays PPD invoices",
        )
    if amount > balance:
        raise invalid("amount", f"{amount} exceeds the invoice's outstanding balance {balance}")
    currency = str(parent["currency"])
    complement = stamp_invoice(
        request,
        "P",
        {
            "currency": "XXX",
            "exchange_rate": Decimal(1),
            "items": [],
            "subtotal": Decimal(0),
            "discount": Decimal(0),
            "taxes": Decimal(0),
            "total": Decimal(0),
            "use": "CP01",
            "payment_form": None,
            "payment_method": None,
            "metadata": {},
            "emails": [],
        },
        None,
        source_id=payment_id,
        extra={
            "client": parent.get("client"),
            "payment": {
                "payment_id": payment_id,
                "payment_form": payment_form,
                "amount": money.sat_round(amount, currency),
                "currency": currency,
                "related_invoice": parent["id"],
                "related_uuid": parent["stamp"]["uuid"],
                "previous_balance": balance,
                "outstanding_balance": balance - amount,
            },
        },
    )
    parent["last_balance"] = balance - amount
    parent["payment_complements"] = int(parent.get("payment_complements") or 0) + 1
    return complement
