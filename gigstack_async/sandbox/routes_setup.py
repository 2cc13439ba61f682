"""Descarga Masiva setup: activation, FIEL, SAT registration, schedule, sync and diagnostics."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import FileField

from gigstack_async.sandbox import validation
from gigstack_async.sandbox.envelopes import JsonObject, invalid, ok, success
from gigstack_async.sandbox.routing import Route, state_of, team_of
from gigstack_async.sandbox.state import Fiel, Registration, SandboxState, TeamState

PRICING = {"perDownload": "$0.20 MXN", "addonMonthly": None}


def _readable(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d")


def _fiel(fiel: Fiel, registration: Registration | None) -> JsonObject:
    start = fiel.sync_start_date or (registration.sync_start_date if registration else None)
    return {
        "rfc": fiel.rfc,
        "expires_at": fiel.expires_ms,
        "expires_at_readable": _readable(fiel.expires_ms),
        "serial_number": fiel.serial_number,
        "sync_start_date": None if start is None else start.isoformat(),
        "phone": fiel.phone or (registration.phone if registration else None),
        "registered": registration is not None,
        "registered_at": None if registration is None else registration.registered_ms,
    }


def _sync_start(team: TeamState) -> str | None:
    if team.registration is not None:
        return team.registration.sync_start_date.isoformat()
    start = None if team.fiel is None else team.fiel.sync_start_date
    return None if start is None else start.isoformat()


def _last_sync(state: SandboxState, team: TeamState) -> int | None:
    now = state.clock.now_ms()
    finished = [r.timeline.finished_ms for r in team.requests if r.delivered(now)]
    return max(finished, default=None)


async def activation_status(request: web.Request) -> web.StreamResponse:
    """Whether Descarga Masiva is active and what the plan says."""
    team = team_of(request)
    return success(
        {
            "status": team.activation,
            "planIncludesFeature": team.config.plan == "included",
            "isActivated": team.activation == "active",
            "pricing": dict(PRICING),
        }
    )


async def activate(request: web.Request) -> web.StreamResponse:
    """Activate (idempotent); `data.type` says how it is paid."""
    kind = team_of(request).activate()
    return success({"type": kind}, message="Descarga Masiva activated")


async def deactivate(request: web.Request) -> web.StreamResponse:
    """Deactivate; 200 also when already inactive."""
    team_of(request).deactivate()
    return ok({"success": True, "message": "Descarga Masiva deactivated"})


# aiohttp 3.14 added bytearray to what request.post() may hold.
Form = Mapping[str, str | bytes | bytearray | FileField]


def _form_bytes(form: Form, field: str) -> bytes:
    value = form.get(field)
    if value is None:
        raise invalid(field, "is required")
    data: bytes | bytearray
    if isinstance(value, FileField):
        data = value.file.read()
    else:
        data = value.encode() if isinstance(value, str) else value
    if not data:
        raise invalid(field, "must not be empty")
    return bytes(data)


def _form_text(form: Form, field: str) -> str | None:
    value = form.get(field)
    if value is None or (isinstance(value, str) and not value):
        return None
    if not isinstance(value, str):
        raise invalid(field, "must be a text field, not a file")
    return value


async def upload_fiel(request: web.Request) -> web.StreamResponse:
    """Store the FIEL; with both `sync_start_date` and `phone` it also registers with SAT."""
    state, team = state_of(request), team_of(request)
    if not request.content_type.startswith("multipart/"):
        raise invalid("cert", "send multipart/form-data with the cert, key and password parts")
    try:
        form = await request.post()
    except (ValueError, HttpProcessingError) as exc:  # a malformed multipart body is the client's
        raise invalid("cert", f"the multipart body cannot be parsed: {exc}") from exc
    cert = _form_bytes(form, "cert")
    _form_bytes(form, "key")
    if not _form_text(form, "password"):
        raise invalid("password", "is required")
    today, window = state.server_today(), state.config.sync_window_months
    raw_start, raw_phone = _form_text(form, "sync_start_date"), _form_text(form, "phone")
    start = (
        None
        if raw_start is None
        else validation.sync_start(raw_start, "sync_start_date", today, window)
    )
    number = None if raw_phone is None else validation.phone(raw_phone)
    now = state.clock.now_ms()
    fiel = team.upload_fiel(cert, now, start, number)
    message = "FIEL uploaded"
    if start is not None and number is not None:
        team.register(Registration(number, start, now, team.config.legal_name))
        message = "FIEL uploaded; business registered with SAT and sync enabled"
    return success(_fiel(fiel, team.registration), message=message)


async def register(request: web.Request) -> web.StreamResponse:
    """Register the business with SAT manually (needs the FIEL first)."""
    state, team = state_of(request), team_of(request)
    body = await validation.json_object(request)
    today, window = state.server_today(), state.config.sync_window_months
    number = validation.phone(validation.required(body, "phone"))
    start = validation.sync_start(
        validation.required(body, "sync_start_date"), "sync_start_date", today, window
    )
    legal_name = body.get("legal_name")
    if legal_name is not None and (not isinstance(legal_name, str) or not legal_name.strip()):
        raise invalid("legal_name", "must be a non-empty string")
    cap = body.get("max_monthly_invoices")
    cap = None if cap is None else validation.integer(cap, "max_monthly_invoices", 1)
    registration = Registration(number, start, state.clock.now_ms(), legal_name, cap)
    team.register(registration)
    return success(
        {
            "registered": True,
            "registered_at": registration.registered_ms,
            "rfc": team.config.rfc,
            "legal_name": legal_name or team.config.legal_name,
            "sync_start_date": start.isoformat(),
            "phone": number,
            "max_monthly_invoices": cap,
        },
        message="Business registered with SAT",
    )


async def get_schedule(request: web.Request) -> web.StreamResponse:
    """Setup state and the daily schedule."""
    state, team = state_of(request), team_of(request)
    registration = team.registration
    return success(
        {
            "fiel_uploaded": team.fiel is not None,
            "registered": registration is not None,
            "sat_completed": registration is not None,
            "sync_start_date": _sync_start(team),
            "schedule": team.schedule.wire(),
            "prodigia": {
                "synced": team.sync_enabled,
                "sync_from": _sync_start(team),
                "last_sync": _last_sync(state, team),
                "monthly_cap": None if registration is None else registration.max_monthly_invoices,
                "message": None,
            },
        }
    )


async def save_schedule(request: web.Request) -> web.StreamResponse:
    """Save the daily schedule (needs FIEL and registration); echoes the stored settings."""
    team = team_of(request)
    body = await validation.json_object(request)
    enabled = validation.required(body, "enabled")
    if not isinstance(enabled, bool):
        raise invalid("enabled", f"must be a boolean, got {enabled!r}")
    time = None if body.get("time") is None else validation.hh_mm(body["time"], "time")
    types = body.get("download_types")
    if types is not None:
        if not isinstance(types, list) or not types:
            raise invalid("download_types", "must be a non-empty list of issued/received")
        types = [validation.choice(t, "download_types", validation.RFC_TYPES) for t in types]
    days = body.get("days_back")
    days = None if days is None else validation.integer(days, "days_back", 1, 90)
    team.require_registered()
    schedule = team.schedule
    schedule.enabled = enabled
    if time is not None:
        schedule.time = time
    if types is not None:
        schedule.download_types = tuple(dict.fromkeys(types))
    if days is not None:
        schedule.days_back = days
    return success(schedule.wire(), message="Schedule saved")


async def enable_sync(request: web.Request) -> web.StreamResponse:
    """Turn SAT sync on (the body is `{}`); needs FIEL and registration."""
    team = team_of(request)
    await validation.json_object(request, empty_ok=True)
    team.require_registered()
    team.sync_enabled = True
    return success({"sync_enabled": True}, message="SAT sync enabled")


async def debug(request: web.Request) -> web.StreamResponse:
    """Diagnostics: activation, FIEL, registration, schedule, SAT connectivity."""
    state, team = state_of(request), team_of(request)
    now = state.clock.now_ms()
    fiel, registration = team.fiel, team.registration
    return success(
        {
            "rfc": team.config.rfc,
            "activation_status": team.activation,
            "fiel": {
                "uploaded": fiel is not None,
                "serial_number": None if fiel is None else fiel.serial_number,
                "expires_at": None if fiel is None else fiel.expires_ms,
                "valid": fiel is not None and fiel.expires_ms > now,
            },
            "registration": {
                "registered": registration is not None,
                "registered_at": None if registration is None else registration.registered_ms,
                "sync_start_date": _sync_start(team),
            },
            "sync_enabled": team.sync_enabled,
            "schedule": team.schedule.wire(),
            "sat_connectivity": {"ok": True, "checked_at": now},
            "requests": {
                "total": len(team.requests),
                "active": sum(1 for r in team.requests if not r.is_terminal(now)),
            },
        }
    )


ROUTES = (
    Route(
        "GET",
        "/invoices/download/activate/status",
        "getDownloadActivationStatus",
        activation_status,
    ),
    Route("POST", "/invoices/download/activate", "activateDownloads", activate),
    Route("POST", "/invoices/download/deactivate", "deactivateDownloads", deactivate),
    Route("POST", "/invoices/download/fiel", "uploadFiel", upload_fiel),
    Route("POST", "/invoices/download/register", "registerDownloads", register),
    Route("GET", "/invoices/download/schedule", "getDownloadSchedule", get_schedule),
    Route("PUT", "/invoices/download/schedule", "saveDownloadSchedule", save_schedule),
    Route("GET", "/invoices/download/debug", "debugDownloads", debug),
    Route("POST", "/invoices/download/enable-sync", "enableDownloadSync", enable_sync),
)
