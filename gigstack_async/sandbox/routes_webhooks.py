"""`/webhooks` CRUD as the docs describe it, and the sandbox-only webhook controls.

API (FACT-docs `webhooks-1862295m0`): list / create / get / update / delete, envelope
`{success, message, data, timestamp (ms)}`. Create also returns `data.signing_secret` once
(GUESS: the CLI's fixtures include that key; the real dashboard shows the secret instead).

Sandbox-only (not gigstack's API; under `/v2/sandbox/`):
- `POST /sandbox/events` `{type, data?, webhook_id?}`: emit an event for the key's team (to one
  endpoint only, whatever it subscribes to, when `webhook_id` is given).
- `GET /sandbox/webhook-deliveries?webhook_id=&event_id=`: every delivery attempt.
- `POST /sandbox/webhooks/faults` `{fail_next?, duplicate_next?}`: count the next N 2xx answers
  as failures (forcing retries), send the next N successful deliveries twice.
- `POST /sandbox/webhooks/{id}/rotate-secret`: a new secret; the old one keeps signing too.
- `POST /sandbox/webhooks/flush`: scan for completed downloads and wait for running deliveries
  (`{timeout_seconds}`, default 30); answers `{flushed, pending: [deliveries still running]}`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from gigstack_async.sandbox import validation
from gigstack_async.sandbox.envelopes import JsonObject, invalid, not_found, ok
from gigstack_async.sandbox.events import SandboxEvent
from gigstack_async.sandbox.routing import OWNER, Route, state_of, team_of
from gigstack_async.sandbox.webhook_delivery import DELIVERER_KEY
from gigstack_async.sandbox.webhook_registry import DOCUMENTED_EVENTS, Webhook, new_secret

STATUSES = ("active", "inactive")


def _envelope(request: web.Request, data: Any, message: str) -> web.Response:
    now = state_of(request).clock.now_ms()
    body: JsonObject = {"success": True, "message": message, "data": data, "timestamp": now}
    return ok(body)


def _hook(request: web.Request) -> Webhook:
    hook = state_of(request).webhooks.webhooks.get(request.match_info["id"])
    if hook is None or hook.team_id != team_of(request).team_id:
        raise not_found("Webhook", request.match_info["id"])
    return hook


def _url(value: object) -> str:
    if not isinstance(value, str) or len(value) > 4096:
        raise invalid("url", "must be a URL string")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("url", "must be an http(s) URL")
    if parts.username or parts.password or parts.fragment:
        raise invalid("url", "must not contain credentials or a fragment")
    return value


def _events(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid("events", "must be a list of event names")
    unknown = sorted(set(value) - set(DOCUMENTED_EVENTS))
    if unknown:
        raise invalid("events", f"unknown event(s) {unknown}")
    if len(value) > len(DOCUMENTED_EVENTS):
        raise invalid("events", "has too many entries")
    return tuple(dict.fromkeys(value))


def _description(value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > 1000):
        raise invalid("description", "must be a string of at most 1000 characters, or null")
    return value


def _check_active(status: str, events: tuple[str, ...]) -> None:
    # The newer backend rule (FACT-CLI): an active endpoint needs at least one event.
    if status == "active" and not events:
        raise invalid("events", "an active webhook needs at least one event")


async def list_webhooks(request: web.Request) -> web.StreamResponse:
    """The team's endpoints (`limit` 1–100, default 10; `status` filter)."""
    state, team = state_of(request), team_of(request)
    raw_limit = request.query.get("limit", "").strip()
    limit = 10 if not raw_limit else validation.integer(_int(raw_limit), "limit", 1, 100)
    status = request.query.get("status", "").strip() or None
    if status is not None:
        validation.choice(status, "status", STATUSES)
    hooks = [
        hook.wire()
        for hook in state.webhooks.of_team(team.team_id)
        if status is None or hook.status == status
    ]
    # The newer backend's `cursor` → `next_cursor` (FACT-CLI); here the cursor is an offset.
    raw_cursor = request.query.get("cursor", "").strip()
    start = 0 if not raw_cursor else validation.integer(_int(raw_cursor), "cursor", 0)
    page = hooks[start : start + limit]
    more = start + limit < len(hooks)
    body: JsonObject = {
        "success": True,
        "message": "Webhooks retrieved successfully",
        "data": page,
        "timestamp": state.clock.now_ms(),
        "has_more": more,
    }
    if more:
        body["next_cursor"] = str(start + limit)
    return ok(body)


def _int(raw: str) -> object:
    try:
        return int(raw)
    except ValueError:
        return raw


async def create_webhook(request: web.Request) -> web.StreamResponse:
    """Register an endpoint; the answer carries its signing secret (GUESS, see the module)."""
    state, team = state_of(request), team_of(request)
    body = await validation.json_object(request)
    url = _url(validation.required(body, "url"))
    events = _events(validation.required(body, "events"))
    status = validation.choice(body.get("status", "active"), "status", STATUSES)
    _check_active(status, events)
    signing = body.get("signing", {"enabled": True})
    if not isinstance(signing, dict) or not isinstance(signing.get("enabled", True), bool):
        raise invalid("signing", "must be {enabled: bool}")
    registry = state.webhooks
    hook = Webhook(
        id=registry.new_id("wh_"),
        team_id=team.team_id,
        url=url,
        events=events,
        status=status,
        description=_description(body.get("description")),
        owner=str(request.get(OWNER, "user_sandbox")),
        created_ms=state.clock.now_ms(),
        secrets=[new_secret(registry.rng)],
        signing_enabled=bool(signing.get("enabled", True)),
    )
    registry.webhooks[hook.id] = hook
    data = {**hook.wire(), "signing_secret": hook.secrets[0]}
    body_out: JsonObject = {
        "success": True,
        "message": "Webhook created successfully",
        "data": data,
    }
    return ok(body_out)


async def get_webhook(request: web.Request) -> web.StreamResponse:
    """One endpoint (without its secret)."""
    return _envelope(request, _hook(request).wire(), "Webhook retrieved successfully")


async def update_webhook(request: web.Request) -> web.StreamResponse:
    """Change `url`, `events`, `description`, `status` (all optional)."""
    hook = _hook(request)
    body = await validation.json_object(request)
    url = _url(body["url"]) if "url" in body else hook.url
    events = _events(body["events"]) if "events" in body else hook.events
    status = validation.choice(body.get("status", hook.status), "status", STATUSES)
    description = _description(body["description"]) if "description" in body else hook.description
    _check_active(status, events)
    hook.url, hook.events, hook.status, hook.description = url, events, status, description
    return _envelope(request, hook.wire(), "Webhook updated successfully")


async def delete_webhook(request: web.Request) -> web.StreamResponse:
    """Remove an endpoint (response shape NOT FOUND; the CLI fixture has `deleted: true`)."""
    hook = _hook(request)
    del state_of(request).webhooks.webhooks[hook.id]
    data = {"id": hook.id, "deleted": True}
    return ok({"success": True, "message": "Webhook deleted successfully", "data": data})


# -- sandbox-only controls ------------------------------------------------------------------


async def emit_event(request: web.Request) -> web.StreamResponse:
    """Emit any event for the key's team (a test's trigger for events no route fires yet)."""
    state, team = state_of(request), team_of(request)
    body = await validation.json_object(request)
    kind = validation.required(body, "type")
    if not isinstance(kind, str) or not kind.strip():
        raise invalid("type", "must be a non-empty event name")
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise invalid("data", "must be an object")
    target = body.get("webhook_id")
    if target is None:
        event = state.emit_event(kind, data, team_id=team.team_id)
    else:
        hook = state.webhooks.webhooks.get(str(target))
        if hook is None or hook.team_id != team.team_id:
            raise not_found("Webhook", str(target))
        # Delivered to this endpoint only, not announced to the other subscribers.
        event = SandboxEvent(
            id=state.event_hook.next_id(),  # unique across sandbox runs, like emitted ones
            type=kind,
            team_id=team.team_id,
            data=data,
            created_ms=state.clock.now_ms(),
        )
        request.app[DELIVERER_KEY].deliver(hook, event)
    return _envelope(request, {"id": event.id, "type": event.type}, "Event emitted")


async def list_deliveries(request: web.Request) -> web.StreamResponse:
    """Every delivery attempt to the team's endpoints, oldest first."""
    state, team = state_of(request), team_of(request)
    mine = {hook.id for hook in state.webhooks.of_team(team.team_id)}
    attempts = state.webhooks.attempts_of(
        webhook_id=request.query.get("webhook_id") or None,
        event_id=request.query.get("event_id") or None,
    )
    rows = [a.wire() for a in attempts if a.webhook_id in mine]
    return _envelope(request, rows, "Deliveries retrieved")


async def webhook_faults(request: web.Request) -> web.StreamResponse:
    """Force retries (`fail_next`) and duplicate deliveries (`duplicate_next`)."""
    registry = state_of(request).webhooks
    body = await validation.json_object(request)
    if "fail_next" in body:
        registry.fail_next = validation.integer(body["fail_next"], "fail_next", 0)
    if "duplicate_next" in body:
        registry.duplicate_next = validation.integer(body["duplicate_next"], "duplicate_next", 0)
    data = {"fail_next": registry.fail_next, "duplicate_next": registry.duplicate_next}
    return _envelope(request, data, "Webhook faults set")


async def rotate_secret(request: web.Request) -> web.StreamResponse:
    """A new secret; deliveries are signed with it and the previous one (a rotation window)."""
    hook = _hook(request)
    secret = new_secret(state_of(request).webhooks.rng)
    hook.secrets = [secret, *hook.secrets[:1]]
    return _envelope(request, {"id": hook.id, "signing_secret": secret}, "Secret rotated")


async def flush(request: web.Request) -> web.StreamResponse:
    """Scan for completed downloads and wait (up to `timeout_seconds`, default 30) for every
    running delivery. Always 200: `flushed` is False and `pending` lists the deliveries still
    running (an endpoint down, retries backing off) when the wait ran out."""
    body = await validation.json_object(request) if request.can_read_body else {}
    raw = body.get("timeout_seconds", 30)
    # JSON numbers arrive as Decimal in the sandbox.
    number = isinstance(raw, int | float | Decimal) and not isinstance(raw, bool)
    timeout = float(raw) if number else -1.0
    if not 0 <= timeout <= 60:
        raise invalid("timeout_seconds", "must be a number of seconds in [0, 60]")
    pending = await request.app[DELIVERER_KEY].flush(timeout)
    data = {"flushed": not pending, "pending": pending}
    message = "Deliveries flushed" if not pending else "Deliveries still pending"
    return _envelope(request, data, message)


ROUTES = (
    Route("GET", "/webhooks", "listWebhooks", list_webhooks),
    Route("POST", "/webhooks", "createWebhook", create_webhook),
    Route("GET", "/webhooks/{id}", "getWebhook", get_webhook),
    Route("PUT", "/webhooks/{id}", "updateWebhook", update_webhook),
    Route("DELETE", "/webhooks/{id}", "deleteWebhook", delete_webhook),
    Route("POST", "/sandbox/events", "sandboxEmitEvent", emit_event),
    Route("GET", "/sandbox/webhook-deliveries", "sandboxListWebhookDeliveries", list_deliveries),
    Route("POST", "/sandbox/webhooks/faults", "sandboxWebhookFaults", webhook_faults),
    Route("POST", "/sandbox/webhooks/flush", "sandboxFlushWebhooks", flush),
    Route(
        "POST", "/sandbox/webhooks/{id}/rotate-secret", "sandboxRotateWebhookSecret", rotate_secret
    ),
)
"""The `/webhooks` operations (ids as the whole-surface spec names them, GUESS until it lands)
and the sandbox-only controls."""
