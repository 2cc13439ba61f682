"""Descarga Masiva requests: create, history, status, packages, and single CFDIs from SAT."""

from __future__ import annotations

import base64
from datetime import datetime

from aiohttp import web

from gigstack_async.sandbox import validation
from gigstack_async.sandbox.cfdi import render_cfdi
from gigstack_async.sandbox.envelopes import ApiError, JsonObject, not_found, success
from gigstack_async.sandbox.lifecycle import DownloadRequest
from gigstack_async.sandbox.packaging import packager_of
from gigstack_async.sandbox.routing import CREATED, CRITERIA, OWNER, Route, state_of, team_of
from gigstack_async.sandbox.state import SandboxState


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _without(body: JsonObject, omit: frozenset[str], scope: str) -> JsonObject:
    prefix = scope + "."
    gone = {name[len(prefix) :] for name in omit if name.startswith(prefix)}
    return {key: value for key, value in body.items() if key not in gone} if gone else body


def history_item(request: DownloadRequest, now_ms: int, state: SandboxState) -> JsonObject:
    """The spec's DownloadRequest (camelCase): counts and issue dates appear once completed.

    Instants and omitted fields follow the server profile (`state.profile`).
    """
    delivered = request.delivered(now_ms)
    count = len(request.invoices) if delivered else 0
    dates = [invoice.issued_at for invoice in request.invoices] if delivered else []
    item: JsonObject = {
        "id": request.request_id,
        "rfcType": request.criteria.rfc_type,
        "requestType": request.criteria.request_type,
        "startDate": request.criteria.start_date.isoformat(),
        "endDate": request.criteria.end_date.isoformat(),
        "status": request.status(now_ms),
        "invoiceCount": count,
        "processedCount": count,
        "statusMessage": request.status_message(now_ms),
        "source": "manual",
        "owner": request.owner,
        "latestIssueDate": _iso(max(dates)) if dates else None,
        "earliestIssueDate": _iso(min(dates)) if dates else None,
        "createdAt": state.render_instant(request.timeline.created_ms),
        "completedAt": state.render_instant(request.ended_at(now_ms)),
        "packageIds": request.package_ids(now_ms) if delivered else None,
    }
    return _without(item, state.profile.omit_fields, "history")


async def create_request(request: web.Request) -> web.StreamResponse:
    """Submit a request (billed). Identical active criteria answer `duplicate: true` instead."""
    state, team = state_of(request), team_of(request)
    team.require_ready()
    body = await validation.json_object(request)
    criteria = validation.criteria(body, state.server_today(), state.config.sync_window_months)
    request[CRITERIA] = (
        f"{criteria.rfc_type} {criteria.request_type} {criteria.start_date}..{criteria.end_date}"
    )
    created, duplicate = state.create_download_request(team, criteria, request[OWNER])
    request[CREATED] = created.request_id  # logged even when a fault eats the answer
    if not duplicate:
        packager_of(request).schedule(created, state.clock)  # SAT generates them meanwhile
    now = state.clock.now_ms()
    message = (
        "Identical criteria are already being processed (SAT 5005): returning that request"
        if duplicate
        else "Download request submitted; poll the history for its status"
    )
    data = {
        "request_id": created.request_id,
        "duplicate": duplicate,
        "status": created.status(now),
    }
    return success(data, message=message)


async def history(request: web.Request) -> web.StreamResponse:
    """The newest requests (20 by default), newest first; the profile may filter them and say
    newest by what (`ServerProfile.history_order`)."""
    state, team = state_of(request), team_of(request)
    now = state.clock.now_ms()
    profile = state.profile
    listed = team.history(
        state.config.history_limit,
        profile.history_request_types,
        profile.history_rfc_types,
        profile.history_order,
        now,
    )
    items = [history_item(r, now, state) for r in listed]
    return success({"history": items})


def _find(request: web.Request) -> DownloadRequest:
    request_id = request.match_info["requestId"]
    found = team_of(request).find_request(request_id)
    if found is None:
        raise not_found("Download request", request_id)
    return found


async def request_status(request: web.Request) -> web.StreamResponse:
    """SAT's view of one request; `package_ids` once completed."""
    state = state_of(request)
    now = state.clock.now_ms()
    found = _find(request)
    criteria = found.criteria
    body = {
        "request_id": found.request_id,
        # GUESS names (the create body's); a profile may leave them out (the body is NOT FOUND).
        "start_date": criteria.start_date.isoformat(),
        "end_date": criteria.end_date.isoformat(),
        "rfc_type": criteria.rfc_type,
        "request_type": criteria.request_type,
        "status": found.status(now),
        "invoice_count": len(found.invoices) if found.delivered(now) else 0,
        "package_ids": found.package_ids(now),
        "status_message": found.status_message(now),
    }
    return success(_without(body, state.profile.omit_fields, "status"))


async def download_package(request: web.Request) -> web.StreamResponse:
    """One package as base64 ZIP; gone after expiry (SAT 5007), capped downloads (SAT 5008)."""
    state, team = state_of(request), team_of(request)
    package_id = request.match_info["packageId"]
    found = team.find_package(package_id)
    if found is None or not found[0].delivered(state.clock.now_ms()):
        raise not_found("Package", package_id)
    download, invoices = found
    package_id = package_id.upper()
    # Generated once, while SAT processed the request (or now, if not yet): every download
    # serves the same file. The rules below and the count run after this wait, together.
    archive = await packager_of(request).archive(download, package_id, invoices)
    now = state.clock.now_ms()
    rule = state.sat_code("download", download.criteria)
    if rule is not None and rule.code == 5008:
        raise ApiError(
            400,
            "business_rule_violation",
            f"SAT 5008: package {package_id!r} reached the maximum number of downloads",
        )
    if download.status(now) == "expired" or rule is not None:
        raise ApiError(
            404,
            "resource_not_found",
            f"SAT 5007: package {package_id!r} no longer exists (packages expire "
            f"{state.config.lifecycle.package_lifetime_hours:g} h after they are generated)",
        )
    cap = state.config.max_package_downloads
    if cap is not None and team.package_downloads[package_id] >= cap:
        raise ApiError(
            400,
            "business_rule_violation",
            f"SAT 5008: package {package_id!r} was already downloaded {cap} times (the maximum)",
        )
    team.package_downloads[package_id] += 1
    return success(
        {
            "package_id": package_id,
            "encoding": "base64",
            "content": base64.b64encode(archive).decode("ascii"),
        }
    )


async def invoice_from_sat(request: web.Request) -> web.StreamResponse:
    """One CFDI XML straight from SAT by UUID (billed; needs Descarga Masiva ready)."""
    state, team = state_of(request), team_of(request)
    team.require_ready()
    invoice_uuid = request.match_info["uuid"]
    invoice = state.invoices.find(team.team_id, invoice_uuid)
    if invoice is None:
        raise not_found("CFDI", invoice_uuid)
    if invoice.direction == "received" and invoice.status == "Cancelado":
        raise ApiError(
            400,
            "business_rule_violation",
            "SAT 5012: the XML of a cancelled received CFDI cannot be downloaded",
        )
    state.charge(team, "getSatInvoiceFromSat", invoice.uuid)
    return success({"uuid": invoice.uuid, "xml": render_cfdi(invoice)})


ROUTES = (
    Route("POST", "/invoices/download/request", "createDownloadRequest", create_request),
    Route("GET", "/invoices/download/schedule/history", "getDownloadHistory", history),
    Route(
        "GET", "/invoices/download/status/{requestId}", "getDownloadRequestStatus", request_status
    ),
    Route("GET", "/invoices/download/package/{packageId}", "downloadPackage", download_package),
    Route("GET", "/invoices/download/invoice/{uuid}", "getSatInvoiceFromSat", invoice_from_sat),
)
