"""The route table type and the per-app / per-request keys the middlewares share."""

from __future__ import annotations

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import AbstractRoute

from gigstack_async.sandbox.state import SandboxState, TeamState

PREFIX = "/v2"


@attrs.frozen
class Route:
    """One spec operation: `path` is the spec's template (without the `/v2` prefix)."""

    method: str
    path: str
    operation_id: str
    handler: Handler


STATE_KEY = web.AppKey("gigstack_sandbox_state", SandboxState)
ROUTES_KEY = web.AppKey("gigstack_sandbox_routes", dict[AbstractRoute, Route])

# Request-scoped values (aiohttp 3.13 has no typed request keys).
TEAM = "gigstack_sandbox.team"
OWNER = "gigstack_sandbox.owner"
FAULT = "gigstack_sandbox.fault"
DROPPED = "gigstack_sandbox.dropped"


def route_of(request: web.Request) -> Route | None:
    """The spec operation the request matched, or None (unknown path or method)."""
    return request.app[ROUTES_KEY].get(request.match_info.route)


def state_of(request: web.Request) -> SandboxState:
    """The sandbox state behind the app."""
    return request.app[STATE_KEY]


def team_of(request: web.Request) -> TeamState:
    """The team the (authenticated) request acts on."""
    team: TeamState = request[TEAM]
    return team
