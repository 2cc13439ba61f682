"""Retentions (CFDI Retenciones 2.0, `/retentions…`): created already stamped, cancelled once.

Create and list are FACT-docs; get, cancel (`DELETE /retentions/{id}` with `{motive,
substitution_uuid}` like invoices) and files (`GET /retentions/{id}/files`) are GUESSes by
analogy with invoices. Ids follow the create example: `id` = the CFDI UUID.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from decimal import Decimal

from aiohttp import web

from gigstack_async.sandbox import money
from gigstack_async.sandbox.billing import require_receiver, resolve_client
from gigstack_async.sandbox.core import Record, Stamp
from gigstack_async.sandbox.envelopes import ApiError, invalid, not_found
from gigstack_async.sandbox.pdf import render_pdf
from gigstack_async.sandbox.routes_common import (
    UUID,
    core_of,
    created_status,
    cursor_list,
    emit,
    equals,
    json_body,
    now_ms,
    respond,
    team_core,
)
from gigstack_async.sandbox.routes_invoices import FILES_PREFIX, MOTIVES, file_token
from gigstack_async.sandbox.routing import Route, state_of, team_of

TAX_CODES = {"ISR": "001", "IVA": "002", "IEPS": "003"}


def _month(body: Record, field: str) -> int:
    value = body.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 12:
        raise invalid(field, f"must be a month 1–12, got {value!r}")
    return value


async def create_retention(request: web.Request) -> web.Response:
    body = await json_body(request)
    key = body.get("retention_key")
    if not isinstance(key, str) or not key.isdigit() or not 1 <= int(key) <= 26:
        raise invalid("retention_key", "must be a SAT retention code 01–26 (string)")
    start, end = _month(body, "period_start"), _month(body, "period_end")
    if end < start:
        raise invalid("period_end", "must not be before period_start")
    year = body.get("period_year")
    if isinstance(year, bool) or not isinstance(year, int) or not 2019 <= year <= 2100:
        raise invalid("period_year", f"must be a fiscal year, got {year!r}")
    total_operation = money.sat_round(
        money.parse_amount(body.get("total_operation"), "total_operation"), "MXN"
    )
    total_exempt = money.sat_round(
        money.parse_amount(body.get("total_exempt", 0), "total_exempt"), "MXN"
    )
    taxes = body.get("taxes")
    if not isinstance(taxes, list) or not taxes:
        raise invalid("taxes", "must list the retained taxes [{tax, base, amount}]")
    retained: list[Record] = []
    for n, tax in enumerate(taxes):
        if not isinstance(tax, dict) or tax.get("tax") not in TAX_CODES:
            raise invalid(f"taxes[{n}].tax", "must be ISR, IVA or IEPS")
        base = money.sat_round(money.parse_amount(tax.get("base"), f"taxes[{n}].base"), "MXN")
        amount = money.sat_round(money.parse_amount(tax.get("amount"), f"taxes[{n}].amount"), "MXN")
        if amount > base:
            raise invalid(f"taxes[{n}].amount", "cannot exceed its base")
        retained.append(
            {
                "tax": TAX_CODES[tax["tax"]],
                "base": base,
                "amount": amount,
                "payment_type": tax.get("payment_type", "03" if tax["tax"] == "ISR" else "01"),
            }
        )
    client = require_receiver(resolve_client(request, body.get("client")))
    core, state = team_core(request), core_of(request)
    folio = core.next_folio("RET", None)
    sat_uuid = state.new_uuid().lower()
    moment = now_ms(request)
    issuer = core.profile
    retention: Record = {
        "id": sat_uuid,
        "uuid": sat_uuid,
        "status": "valid",
        "document_type": "retenciones",
        "retention_key": key,
        "folio_number": str(folio),
        "series": "RET",
        "client_id": client["id"],
        "issuer": {
            "legal_name": issuer.get("legal_name"),
            "tax_id": issuer.get("tax_id"),
            "tax_system": issuer.get("tax_system"),
        },
        "receiver": {
            "legal_name": client.get("legal_name") or client.get("name"),
            "tax_id": client.get("tax_id"),
            "nationality": "Nacional",
        },
        "period": {"start": start, "end": end, "year": year},
        "totals": {
            "total_operation": total_operation,
            "total_taxable": total_operation - total_exempt,
            "total_exempt": total_exempt,
            "total_retained": sum((t["amount"] for t in retained), Decimal(0)),
            "tax_retained": retained,
        },
        "platform_services": body.get("platform_services"),
        "stamp": {"uuid": sat_uuid, "stamped_at": _iso(moment), "provider": "sandbox"},
        "livemode": False,
        "created_at": moment,
        "cancellation": None,
    }
    core.retentions.add(retention)
    state.stamps.append(
        Stamp(team_of(request).team_id, "RET", sat_uuid, sat_uuid, sat_uuid, "RET", folio, moment)
    )
    return respond(retention, "Retention created successfully", status=created_status(request))


def _iso(moment_ms: int) -> str:
    return datetime.fromtimestamp(moment_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def list_retentions(request: web.Request) -> web.Response:
    return cursor_list(
        request,
        team_core(request).retentions,
        "Retentions retrieved successfully",
        filters={
            "status": equals("status"),
            "retention_key": equals("retention_key"),
            "client_id": equals("client_id"),
        },
    )


def _find(request: web.Request) -> Record:
    wanted = request.match_info["id"].lower()
    for retention in team_core(request).retentions:
        if retention["id"] == wanted:
            return retention
    raise not_found("Retention", request.match_info["id"])


async def get_retention(request: web.Request) -> web.Response:
    return respond(_find(request), "Retention retrieved successfully")


async def cancel_retention(request: web.Request) -> web.Response:
    retention = _find(request)
    body = await json_body(request)
    motive = body.get("motive")
    if motive not in MOTIVES:
        raise invalid("motive", "must be 01, 02, 03 or 04 (SAT c_MotivoCancelacion)")
    substitution = body.get("substitution_uuid")
    if motive == "01" and (not isinstance(substitution, str) or not UUID.fullmatch(substitution)):
        raise invalid("substitution_uuid", "is required with motive 01 (UUID of the new CFDI)")
    if motive != "01" and substitution is not None:
        raise invalid("substitution_uuid", f"is only allowed with motive 01, not {motive}")
    if retention["status"] != "valid":
        raise ApiError(
            409, "resource_conflict", f"Retention {retention['id']} is already cancelled"
        )
    retention["status"] = core_of(request).variants.payment_canceled
    retention["cancellation"] = {
        "motive": motive,
        "substitution_uuid": substitution,
        "cancelled_at": now_ms(request),
    }
    core_of(request).cancellations[retention["id"]] += 1
    emit(request, "retention.canceled", retention)
    return respond(retention, "Retention cancelled successfully")


async def retention_files(request: web.Request) -> web.Response:
    retention = _find(request)
    file_type = request.query.get("file_type")
    if file_type not in (None, "pdf", "xml"):
        raise invalid("file_type", "must be pdf or xml")
    # Signed links on the sandbox itself (review 11 #9: a made-up storage host could not be
    # downloaded from, so `retentions.download` failed against the sandbox).
    secret = str(state_of(request).config.seed)
    base = f"{request.scheme}://{request.host}{FILES_PREFIX}/retentions/{retention['id']}"
    data = {
        kind: f"{base}.{kind}?token={file_token(secret, 'ret:' + retention['id'], kind)}"
        for kind in ("pdf", "xml")
        if file_type in (None, kind)
    }
    return respond(data, "Retention files retrieved successfully")


async def download_retention_file(request: web.Request) -> web.Response:
    """GET /files/retentions/{id}.{kind}?token=…: the file itself (not under /v2, no API key)."""
    retention_id, kind = request.match_info["id"], request.match_info["kind"]
    secret = str(state_of(request).config.seed)
    token = request.query.get("token", "")
    if not hmac.compare_digest(token, file_token(secret, "ret:" + retention_id, kind)):
        raise ApiError(403, "forbidden", "Invalid or missing file token")
    for team in state_of(request).core.teams.values():
        retention = team.retentions.find(retention_id)
        if retention is not None:
            break
    else:
        raise ApiError(404, "file_not_found", f"No file for retention {retention_id!r}")
    receiver = retention.get("receiver") or {}
    totals = retention.get("totals") or {}
    if kind == "pdf":
        lines = [
            f"CFDI de retenciones {retention['series']}-{retention['folio_number']}",
            f"UUID {retention['stamp']['uuid']}",
            f"Receptor {receiver.get('legal_name')} {receiver.get('tax_id')}",
            f"Total operacion {totals.get('total_operation')}",
            f"Total retenido {totals.get('total_retained')}",
            f"Estado {retention['status']}",
        ]
        return web.Response(body=render_pdf(lines), content_type="application/pdf")
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<retenciones:Retenciones "
        'xmlns:retenciones="http://www.sat.gob.mx/esquemas/retencionpago/2" '
        'xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital" Version="2.0" '
        f'FolioInt="{retention["folio_number"]}" CveRetenc="{retention["retention_key"]}">'
        f'<retenciones:Receptor><retenciones:Nacional RfcR="{receiver.get("tax_id")}"/>'
        "</retenciones:Receptor>"
        f'<retenciones:Totales MontoTotOperacion="{totals.get("total_operation")}" '
        f'MontoTotRet="{totals.get("total_retained")}"/>'
        f'<retenciones:Complemento><tfd:TimbreFiscalDigital UUID="{retention["stamp"]["uuid"]}"/>'
        "</retenciones:Complemento></retenciones:Retenciones>"
    )
    return web.Response(text=xml, content_type="application/xml")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/retentions", "listRetentions", list_retentions),
    Route("POST", "/retentions", "createRetention", create_retention),
    Route("GET", "/retentions/{id}", "getRetention", get_retention),
    Route("DELETE", "/retentions/{id}", "cancelRetention", cancel_retention),
    Route("GET", "/retentions/{id}/files", "getRetentionFiles", retention_files),
)
