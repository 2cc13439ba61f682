"""Invoices (`/invoices/{income,egress,draft,payment}…`, files, cancel, search, send, support
documents, the CFDI errors catalog).

Rules a user trips over:
- creating an income/egress invoice stamps it at once (a folio from the series, a SAT UUID);
- a draft is not an invoice until stamped; a stamped draft cannot be edited or stamped again
  (409, the answer names the invoice), a deleted draft is 404;
- an invoice is cancelled once (a second cancel is 409); motive `01` needs `substitution_uuid`,
  the other motives (`02`–`04`) must not send one (SAT only takes FolioSustitucion with 01);
- `related_documents` must name CFDIs the team stamped (the docs' egress example sends none, so
  a credit note without them is accepted).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from gigstack_async.sandbox import documents, money
from gigstack_async.sandbox.billing import (
    client_summary,
    document_fields,
    resolve_client,
    stamp_invoice,
)
from gigstack_async.sandbox.core import CANCELED_SPELLINGS, CoreTeam, Record
from gigstack_async.sandbox.envelopes import ApiError, invalid
from gigstack_async.sandbox.pdf import render_pdf
from gigstack_async.sandbox.routes_common import (
    UUID,
    check_emails,
    core_of,
    created_status,
    cursor_list,
    emit,
    equals,
    int_query,
    iso_now,
    json_body,
    now_ms,
    now_s,
    resource_time,
    respond,
    search_list,
    team_core,
)
from gigstack_async.sandbox.routing import Route, state_of

MOTIVES = {
    "01": "Comprobante emitido con errores con relación",
    "02": "Comprobante emitido con errores sin relación",
    "03": "No se llevó a cabo la operación",
    "04": "Operación nominativa relacionada en una factura global",
}
RELATIONSHIPS = frozenset({"01", "02", "03", "04", "05", "06", "07", "08", "09"})
INVOICE_TYPES_FOR_DRAFTS = frozenset({"I", "E"})
FILES_PREFIX = "/files"
"""Public (unauthenticated) download URLs, like gigstack's storage links."""


def _of_type(invoice_type: str) -> Any:
    return lambda core: [i for i in core.invoices if i["invoice_type"] == invoice_type]


def _folio(body: dict[str, Any]) -> int | None:
    folio = body.get("folio_number")
    if folio is None:
        return None
    if isinstance(folio, bool) or not isinstance(folio, int) or folio < 1:
        raise invalid("folio_number", f"must be an integer >= 1, got {folio!r}")
    return folio


def _series(body: dict[str, Any]) -> str | None:
    series = body.get("series")
    if series is not None and (not isinstance(series, str) or not series):
        raise invalid("series", "must be a non-empty string")
    return series


def _related(core: CoreTeam, body: dict[str, Any]) -> list[Record]:
    raw = body.get("related_documents")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid("related_documents", "must be a list")
    related: list[Record] = []
    for n, entry in enumerate(raw):
        where = f"related_documents[{n}]"
        if not isinstance(entry, dict) or entry.get("relationship") not in RELATIONSHIPS:
            raise invalid(f"{where}.relationship", "must be a c_TipoRelacion code 01–09")
        uuids = entry.get("documents")
        if not isinstance(uuids, list) or not uuids:
            raise invalid(f"{where}.documents", "must list the related CFDI UUIDs")
        for identifier in uuids:
            if not isinstance(identifier, str):
                raise invalid(f"{where}.documents", "must be strings")
            core.invoice_by_any_id(identifier)  # 404 names an unknown related CFDI
        related.append({"relationship": entry["relationship"], "documents": list(uuids)})
    return related


def _create(invoice_type: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        body = await json_body(request)
        core = team_core(request)
        fields = document_fields(request, body, invoice_type=invoice_type)
        related = _related(core, body)
        client = resolve_client(request, body.get("client"))
        invoice = stamp_invoice(
            request,
            invoice_type,
            fields,
            client,
            series=_series(body),
            folio=_folio(body),
            extra={
                "related_documents": related,
                "automation_type": body.get("automation_type"),
            },
        )
        return respond(invoice, "Invoice created successfully", status=created_status(request))

    return handler


def _list(invoice_type: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        filters = {
            "status": equals("status"),
            "client_id": equals("client.id"),
            "series": equals("series"),
        }
        if invoice_type == "P":
            filters["invoice_id"] = equals("payment.related_invoice")
        return cursor_list(
            request,
            _of_type(invoice_type)(team_core(request)),
            "Invoices retrieved successfully",
            filters=filters,
        )

    return handler


def _get(invoice_type: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        invoice = team_core(request).invoice_by_any_id(request.match_info["id"])
        if invoice["invoice_type"] != invoice_type:
            raise ApiError(
                404,
                "resource_not_found",
                f"Invoice {request.match_info['id']!r} is of type {invoice['invoice_type']}, "
                f"not {invoice_type}",
            )
        return respond(invoice, "Invoice retrieved successfully")

    return handler


async def cancel_invoice(request: web.Request) -> web.Response:
    """DELETE /invoices/{id} with `{motive, substitution_uuid}` in the body."""
    core = team_core(request)
    invoice = core.invoice_by_any_id(request.match_info["id"])
    body = await json_body(request)
    motive = body.get("motive")
    if motive not in MOTIVES:
        raise invalid("motive", "must be 01, 02, 03 or 04 (SAT c_MotivoCancelacion)")
    substitution = body.get("substitution_uuid")
    if motive == "01":
        if substitution is None:
            hint = " (`replacement` is the CLI's name; the API takes substitution_uuid)"
            raise invalid(
                "substitution_uuid",
                "is required with motive 01" + (hint if "replacement" in body else ""),
            )
        if not isinstance(substitution, str) or not UUID.fullmatch(substitution):
            raise invalid("substitution_uuid", "must be the 36-character UUID of the new CFDI")
        if substitution.upper() == str(invoice["stamp"]["uuid"]).upper():
            raise invalid("substitution_uuid", "cannot be the UUID of the invoice being cancelled")
    elif substitution is not None:
        raise invalid("substitution_uuid", f"is only allowed with motive 01, not {motive}")
    if invoice["status"] in CANCELED_SPELLINGS:
        raise ApiError(
            409,
            "resource_conflict",
            f"Invoice {invoice['id']} is already cancelled",
        )
    invoice["status"] = core_of(request).variants.invoice_cancelled
    invoice["cancellation"] = {
        "motive": motive,
        "substitution_uuid": substitution,
        "cancelled_at": resource_time(request),
    }
    core_of(request).cancellations[invoice["id"]] += 1
    emit(request, "invoice.canceled", invoice)
    return respond(invoice, "Invoice cancelled successfully")


def file_token(secret: str, invoice_id: str, kind: str) -> str:
    digest = hmac.new(secret.encode(), f"{invoice_id}.{kind}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


async def invoice_files(request: web.Request) -> web.Response:
    """Signed, unauthenticated URLs of the PDF and XML (both unless `file_type` picks one)."""
    invoice = team_core(request).invoice_by_any_id(request.match_info["id"])
    file_type = request.query.get("file_type")
    if file_type not in (None, "pdf", "xml"):
        raise invalid("file_type", "must be pdf or xml")
    secret = str(state_of(request).config.seed)
    base = f"{request.scheme}://{request.host}{FILES_PREFIX}/invoices"
    data: Record = {}
    for kind in ("pdf", "xml"):
        if file_type in (None, kind):
            token = file_token(secret, invoice["id"], kind)
            data[kind] = f"{base}/{invoice['id']}.{kind}?token={token}"
    return respond(data, "Invoice files retrieved successfully")


async def download_file(request: web.Request) -> web.Response:
    """GET /files/invoices/{id}.{kind}?token=…: the file itself (not under /v2, no API key)."""
    invoice_id, kind = request.match_info["id"], request.match_info["kind"]
    secret = str(state_of(request).config.seed)
    token = request.query.get("token", "")
    if not hmac.compare_digest(token, file_token(secret, invoice_id, kind)):
        raise ApiError(403, "forbidden", "Invalid or missing file token")
    core = state_of(request).core
    for team in core.teams.values():
        invoice = team.invoices.find(invoice_id)
        if invoice is not None:
            break
    else:
        raise ApiError(404, "file_not_found", f"No file for invoice {invoice_id!r}")
    if kind == "pdf":
        return web.Response(body=render_pdf(_pdf_lines(invoice)), content_type="application/pdf")
    return web.Response(text=render_invoice_xml(invoice), content_type="application/xml")


def _pdf_lines(invoice: Record) -> list[str]:
    client = invoice.get("client") or {}
    return [
        f"CFDI {invoice['invoice_type']} {invoice['series']}-{invoice['folio_number']}",
        f"UUID {invoice['stamp']['uuid']}",
        f"Receptor {client.get('legal_name') or client.get('name')} {client.get('tax_id')}",
        f"Total {invoice['total']} {invoice['currency']}",
        f"Estado {invoice['status']}",
    ]


def render_invoice_xml(invoice: Record) -> str:
    """A compact CFDI 4.0 XML of the stamped invoice (enough to parse totals and the UUID)."""
    client = invoice.get("client") or {}
    conceptos = "".join(
        f'<cfdi:Concepto ClaveProdServ="{item["product_key"]}" Cantidad="{item["quantity"]}" '
        f'ClaveUnidad="{item["unit_key"]}" Descripcion="{_xml(item["description"])}" '
        f'ValorUnitario="{item["unit_price"]}" Importe="{item["quantity"] * item["unit_price"]}" '
        f'ObjetoImp="{item["taxability"]}"/>'
        for item in invoice.get("items") or []
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" '
        'xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital" Version="4.0" '
        f'Serie="{invoice["series"]}" Folio="{invoice["folio_number"]}" '
        f'SubTotal="{invoice["subtotal"]}" Total="{invoice["total"]}" '
        f'Moneda="{invoice["currency"]}" TipoDeComprobante="{invoice["invoice_type"]}">'
        f'<cfdi:Receptor Rfc="{client.get("tax_id")}" '
        f'Nombre="{_xml(str(client.get("legal_name") or client.get("name")))}"/>'
        f"<cfdi:Conceptos>{conceptos}</cfdi:Conceptos>"
        f'<cfdi:Complemento><tfd:TimbreFiscalDigital UUID="{invoice["stamp"]["uuid"]}"/>'
        "</cfdi:Complemento></cfdi:Comprobante>"
    )


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


async def search_invoices(request: web.Request) -> web.Response:
    return search_list(
        request,
        team_core(request).invoices,
        ("id", "stamp.uuid", "client.name", "client.legal_name", "client.tax_id", "series"),
        filters={"status": equals("status"), "invoice_type": equals("invoice_type")},
    )


async def send_invoice(request: web.Request) -> web.Response:
    """Resend the invoice email (PDF + XML) to the client and `emails`."""
    invoice = team_core(request).invoice_by_any_id(request.match_info["id"])
    body = await json_body(request, empty_ok=True)
    recipients = [*filter(None, [(invoice.get("client") or {}).get("email")])]
    recipients += check_emails(body)
    if not recipients:
        raise invalid("emails", "the client has no email: give `emails`")
    sent = invoice.setdefault("emails_sent", [])
    sent.append({"recipients": recipients, "at": now_s(request)})
    data = {"recipients": recipients, "attachments": ["pdf", "xml"]}
    return respond(data, "Invoice email sent")


# --- drafts ------------------------------------------------------------------------------------


def _draft_fields(request: web.Request, body: dict[str, Any], base: Record) -> Record:
    """Merge `body` over `base` (top-level fields merge; `items` is replaced when sent)."""
    merged = {**base, **{k: v for k, v in body.items() if k != "client"}}
    if body.get("items") is None and base.get("items") is not None:
        merged["items"] = base["items"]
    fields: Record = {}
    if merged.get("items"):
        fields = document_fields(request, merged, invoice_type=str(merged["invoice_type"]))
    else:
        fields = {
            "currency": merged.get("currency") or "MXN",
            "items": [],
            "subtotal": 0,
            "discount": 0,
            "taxes": 0,
            "total": 0,
        }
    return fields


def _draft_input(body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    raw = dict(body)
    if (creating or "invoice_type" in raw) and raw.get(
        "invoice_type"
    ) not in INVOICE_TYPES_FOR_DRAFTS:
        raise invalid("invoice_type", "is required: I (income) or E (egress)")
    # items arrive as wire dicts when re-validated from a stored draft; re-parse from inputs.
    return raw


async def create_draft(request: web.Request) -> web.Response:
    body = _draft_input(await json_body(request), creating=True)
    client = resolve_client(request, body.get("client"), required=False)
    moment = now_ms(request)
    stored_input = {k: v for k, v in body.items() if k != "client"}
    draft: Record = {
        "id": core_of(request).new_id("draft"),
        "draft": True,
        "status": "draft",
        "invoice_type": body["invoice_type"],
        "client": client_summary(client),
        **_draft_fields(request, body, {"invoice_type": body["invoice_type"]}),
        "series": body.get("series") or ("A" if body["invoice_type"] == "I" else "E"),
        "folio_number": 0,
        "date": 0,
        "created_at": moment,
        "updated_at": moment,
        "livemode": False,
        "from": "api",
        "invoice_id": None,
        "preview_pdf": None,
    }
    draft["_input"] = stored_input
    team_core(request).drafts.add(draft)
    return respond(_public(draft), "Draft created", status=created_status(request))


def _public(draft: Record) -> Record:
    return {k: v for k, v in draft.items() if not k.startswith("_")}


def _editable(draft: Record) -> None:
    if draft["status"] != "draft":
        raise ApiError(
            409,
            "resource_conflict",
            f"Draft {draft['id']} was already stamped as invoice {draft['invoice_id']}",
        )


async def list_drafts(request: web.Request) -> web.Response:
    drafts = [_public(d) for d in team_core(request).drafts]
    return cursor_list(
        request, drafts, "Drafts retrieved successfully", filters={"status": equals("status")}
    )


async def get_draft(request: web.Request) -> web.Response:
    draft = team_core(request).drafts.get(request.match_info["id"])
    return respond(_public(draft), "Draft retrieved successfully")


async def update_draft(request: web.Request) -> web.Response:
    """Partial update (docs); `items`, when sent, replace the whole list (CLI; GUESS)."""
    draft = team_core(request).drafts.get(request.match_info["id"])
    _editable(draft)
    body = _draft_input(await json_body(request), creating=False)
    if "client" in body:
        draft["client"] = client_summary(resolve_client(request, body["client"], required=False))
    merged_input = {**draft["_input"], **{k: v for k, v in body.items() if k != "client"}}
    draft.update(_draft_fields(request, merged_input, {"invoice_type": draft["invoice_type"]}))
    draft["invoice_type"] = merged_input.get("invoice_type", draft["invoice_type"])
    draft["_input"] = merged_input
    draft["preview_pdf"] = None
    draft["updated_at"] = now_ms(request)
    return respond(_public(draft), "Draft updated")


async def delete_draft(request: web.Request) -> web.Response:
    core = team_core(request)
    draft = core.drafts.get(request.match_info["id"])
    _editable(draft)
    core.drafts.delete(draft["id"])
    return respond({"id": draft["id"], "deleted": True}, "Draft deleted")


async def preview_draft(request: web.Request) -> web.Response:
    """A "Sin Validez Fiscal" PDF (base64), kept on the draft until it changes."""
    draft = team_core(request).drafts.get(request.match_info["id"])
    client = draft.get("client") or {}
    pdf = render_pdf(
        [
            "SIN VALIDEZ FISCAL - PRE-FACTURA",
            f"Borrador {draft['id']}",
            f"Receptor {client.get('legal_name') or client.get('name') or '-'}",
            f"Total {draft['total']} {draft['currency']}",
        ]
    )
    draft["preview_pdf"] = base64.b64encode(pdf).decode()
    return respond({"id": draft["id"], "preview_pdf": draft["preview_pdf"]}, "Preview generated")


async def stamp_draft(request: web.Request) -> web.Response:
    """Stamp the draft into an invoice, once; the draft keeps `status: stamped`, `invoice_id`."""
    core = team_core(request)
    draft = core.drafts.get(request.match_info["id"])
    _editable(draft)
    stored = draft["_input"]
    if not stored.get("items"):
        raise invalid("items", "a draft needs items before it can be stamped")
    if draft.get("client") is None:
        raise invalid("client", "a draft needs a client before it can be stamped")
    client = core.clients.get(draft["client"]["id"])
    fields = document_fields(request, stored, invoice_type=draft["invoice_type"])
    related = _related(core, stored)
    invoice = stamp_invoice(
        request,
        draft["invoice_type"],
        fields,
        client,
        source_id=draft["id"],
        series=_series(stored),
        folio=_folio(stored),
        extra={"related_documents": related, "draft_id": draft["id"]},
    )
    draft.update(
        status="stamped",
        draft=False,
        invoice_id=invoice["id"],
        folio_number=invoice["folio_number"],
        series=invoice["series"],
        updated_at=now_ms(request),
    )
    return respond(invoice, "Draft stamped successfully")


# --- CFDI errors catalog -----------------------------------------------------------------------

CFDI_ERRORS: tuple[Record, ...] = (
    {
        "code": "CFDI140223",
        "description": "El campo Rfc del receptor no es valido",
        "explanation": "The RFC (tax ID) provided for the receiver does not meet the validation "
        "requirements or format specified by SAT",
        "solution": "Verify that the receiver's RFC is correct, properly formatted (13 "
        "characters for individuals, 12 for legal entities), and matches SAT's registered "
        "information",
        "type": "receiver",
    },
    *(
        {
            "code": f"SANDBOX{n:04d}",
            "description": f"Error de ejemplo {n} del sandbox",
            "explanation": f"Sandbox sample entry {n} (not a real SAT/PAC code)",
            "solution": "None: this entry only exists to exercise pagination and filters",
            "type": ("invoice", "receiver", "sender", "unknown")[n % 4],
        }
        for n in range(1, 60)
    ),
)
"""The one documented entry (FACT-docs example) plus clearly-labelled synthetic rows."""


async def list_cfdi_errors(request: web.Request) -> web.Response:
    """`code`, `q`, `type` filters; `page` (from 1) and `limit` (1–100, default 50) → `total`."""
    page = int_query(request, "page", 1)
    limit = int_query(request, "limit", 50, high=100)
    kind = request.query.get("type")
    if kind is not None and kind not in ("invoice", "receiver", "sender", "unknown"):
        raise invalid("type", "must be invoice, receiver, sender or unknown")
    code = request.query.get("code")
    q = request.query.get("q", "").lower()
    rows = [
        row
        for row in CFDI_ERRORS
        if (kind is None or row["type"] == kind)
        and (code is None or row["code"] == code)
        and (
            not q
            or any(
                q in str(row[f]).lower() for f in ("code", "description", "explanation", "solution")
            )
        )
    ]
    start = (page - 1) * limit
    return money.json_response(
        {
            "success": True,
            "data": rows[start : start + limit],
            "total": len(rows),
            "page": page,
            "limit": limit,
            "message": "CFDI errors retrieved successfully",
            "timestamp": iso_now(request),
        }
    )


def _invoice(core: CoreTeam, invoice_id: str) -> Record:
    return core.invoice_by_any_id(invoice_id)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/invoices/search", "searchInvoices", search_invoices),
    Route("GET", "/invoices/errors", "listCfdiErrors", list_cfdi_errors),
    Route("GET", "/invoices/income", "listIncomeInvoices", _list("I")),
    Route("POST", "/invoices/income", "createIncomeInvoice", _create("I")),
    Route("GET", "/invoices/income/{id}", "getIncomeInvoice", _get("I")),
    Route("GET", "/invoices/egress", "listEgressInvoices", _list("E")),
    Route("POST", "/invoices/egress", "createEgressInvoice", _create("E")),
    Route("GET", "/invoices/egress/{id}", "getEgressInvoice", _get("E")),
    Route("GET", "/invoices/payment", "listPaymentComplementInvoices", _list("P")),
    Route("GET", "/invoices/payment/{id}", "getPaymentComplementInvoice", _get("P")),
    Route("GET", "/invoices/draft", "listDraftInvoices", list_drafts),
    Route("POST", "/invoices/draft", "createDraftInvoice", create_draft),
    Route("GET", "/invoices/draft/{id}", "getDraftInvoice", get_draft),
    Route("PUT", "/invoices/draft/{id}", "updateDraftInvoice", update_draft),
    Route("DELETE", "/invoices/draft/{id}", "deleteDraftInvoice", delete_draft),
    Route("POST", "/invoices/draft/{id}/stamp", "stampDraftInvoice", stamp_draft),
    Route("POST", "/invoices/draft/{id}/preview", "previewDraftInvoice", preview_draft),
    Route("GET", "/invoices/{id}/files", "getInvoiceFiles", invoice_files),
    Route("POST", "/invoices/{id}/send", "resendInvoiceEmail", send_invoice),
    Route("DELETE", "/invoices/{id}", "cancelInvoice", cancel_invoice),
    Route(
        "POST",
        "/invoices/{id}/support-documents",
        "uploadInvoiceSupportDocument",
        documents.upload_handler("invoices", _invoice),
    ),
    Route(
        "GET",
        "/invoices/{id}/support-documents",
        "listInvoiceSupportDocuments",
        documents.list_handler("invoices", _invoice),
    ),
)
