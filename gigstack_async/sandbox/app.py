"""The aiohttp application: routes under `/v2`, and the middleware stack around them.

Middleware order, outermost first: record (every call lands in `state.calls`, whatever happens
inside) → faults (a before-fault skips everything below; an after-fault sees the final response)
→ errors (every failure becomes the JSON error envelope) → auth (key and `team`).
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_urldispatcher import AbstractRoute

from gigstack_async.sandbox import (
    packaging,  # SAT's packages, generated once per request while it processes
    routes_core,  # the core API of issue 11 (clients … retentions)
    routes_downloads,
    routes_sat,
    routes_setup,
    routes_webhooks,  # issue 12: /webhooks CRUD and the sandbox-only webhook controls
    webhook_delivery,
)
from gigstack_async.sandbox.clock import SimClock
from gigstack_async.sandbox.config import ApiKeyConfig, SandboxConfig
from gigstack_async.sandbox.envelopes import ApiError
from gigstack_async.sandbox.faults import FaultInjector, fault_middleware
from gigstack_async.sandbox.routing import (
    CREATED,
    CRITERIA,
    DROPPED,
    FAULT,
    OWNER,
    PREFIX,
    ROUTES_KEY,
    STATE_KEY,
    TEAM,
    Route,
    route_of,
    state_of,
)
from gigstack_async.sandbox.state import CallRecord, SandboxState, TeamState

logger = logging.getLogger("gigstack_async.sandbox")

ROUTES: tuple[Route, ...] = (
    routes_sat.ROUTES
    + routes_setup.ROUTES
    + routes_downloads.ROUTES
    + routes_core.ROUTES
    + routes_webhooks.ROUTES
)
"""Every operation of openapi/gigstack.yaml, then the core API (openapi/<tag>.yaml), then the
webhooks (openapi/webhooks.yaml and the sandbox-only `/sandbox/...` controls)."""


@web.middleware
async def record_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Append a `CallRecord` for every request, including ones that never get an answer."""
    status: int | None = None
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        route = route_of(request)
        team = request.get(TEAM)
        state = state_of(request)
        record = CallRecord(
            method=request.method,
            route=route.path if route else request.path,
            operation_id=route.operation_id if route else None,
            team=team.team_id if isinstance(team, TeamState) else request.query.get("team"),
            status=None if request.get(DROPPED) else status,
            fault=request.get(FAULT),
            path=request.path_qs,
            created=request.get(CREATED),
            criteria=request.get(CRITERIA),
        )
        state.calls.append(record)
        for listener in state.call_listeners:
            listener(record)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into `{success: false, message, error: {code, message}}`."""
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except web.HTTPException as exc:
        return _from_http_exception(request, exc).response()
    except ConnectionResetError:
        # The client went away mid-request (a cancelled call): nobody is left to answer.
        logger.debug("client disconnected: %s %s", request.method, request.path)
        raise
    except Exception:
        logger.exception("sandbox handler failed: %s %s", request.method, request.path)
        return ApiError(500, "internal_server_error", "Unexpected sandbox error").response()


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> ApiError:
    # aiohttp's own refusals (no route, wrong method, body too large) get the API's envelope too.
    if exc.status == 404:
        return ApiError(404, "resource_not_found", f"No route for {request.path}")
    if exc.status == 405:
        return ApiError(405, "operation_not_allowed", f"{request.method} is not allowed here")
    if exc.status < 500:
        return ApiError(exc.status, "invalid_request_body", exc.reason)
    return ApiError(exc.status, "internal_server_error", exc.reason)


def _auth_middleware(keys: dict[str, ApiKeyConfig]) -> Middleware:
    @web.middleware
    async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Check `Authorization: Bearer <key>` and resolve the `team` query parameter."""
        if request.path.startswith(routes_core.PUBLIC_PREFIX):  # signed file links: no key
            return await handler(request)
        header = request.headers.get("Authorization", "").strip()
        scheme, _, token = header.partition(" ")
        if not header:
            raise ApiError(
                401, "unauthorized", "Missing Authorization header: send 'Bearer <api key>'"
            )
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "Malformed Authorization: expected 'Bearer <key>'")
        key = keys.get(token.strip())
        if key is None:
            raise ApiError(401, "unauthorized", "Invalid API key")
        team_id = request.query.get("team", "").strip() or key.home_team
        if team_id != key.home_team and team_id not in key.connected_teams:
            raise ApiError(
                403,
                "forbidden",
                f"This API key cannot act on team {team_id!r}: it is not connected to "
                f"{key.home_team!r}",
            )
        request[TEAM] = state_of(request).team(team_id)
        request[OWNER] = key.owner
        return await handler(request)

    return auth_middleware


def create_app(
    config: SandboxConfig | None = None, *, clock: SimClock | None = None
) -> web.Application:
    """A fresh sandbox application with its own state (read it with `get_state(app)`).

    `clock` defaults to a `SimClock` built from `config.start` and `config.speed`.
    """
    config = config or SandboxConfig()
    clock = clock or SimClock(config.start, config.speed)
    state = SandboxState(config, clock)
    keys = {key.key: key for key in config.api_keys}
    app = web.Application(
        middlewares=[
            record_middleware,
            fault_middleware(FaultInjector(config.faults, config.seed, state)),
            error_middleware,
            _auth_middleware(keys),
        ]
    )
    app[STATE_KEY] = state
    table: dict[AbstractRoute, Route] = {}
    for route in ROUTES:
        table[app.router.add_route(route.method, PREFIX + route.path, route.handler)] = route
    routes_core.add_public_routes(app)
    app[ROUTES_KEY] = table
    webhook_delivery.install(app, state)
    packaging.install(app)
    return app


def get_state(app: web.Application) -> SandboxState:
    """The state of an app made by `create_app`."""
    return app[STATE_KEY]
