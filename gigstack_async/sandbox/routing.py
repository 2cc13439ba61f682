"""The route table type and the per-app / per-request keys the middlewares share."""

from __future__ import annotations

from typing import Any

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


def _request_key(name: str, kind: type[object]) -> Any:
    # aiohttp 3.14 added typed request keys and warns (NotAppKeyWarning) on plain strings; the
    # declared floor (see pyproject.toml) has none, so a string stays the key there.
    factory = getattr(web, "RequestKey", None)
    return name if factory is None else factory(name, kind)


# Request-scoped values.
TEAM = _request_key("gigstack_sandbox.team", TeamState)
OWNER = _request_key("gigstack_sandbox.owner", str)
FAULT = _request_key("gigstack_sandbox.fault", str)
DROPPED = _request_key("gigstack_sandbox.dropped", bool)
CREATED = _request_key("gigstack_sandbox.created", str)
"""The id of the resource the call created (a download request), even if its answer is lost."""
CRITERIA = _request_key("gigstack_sandbox.criteria", str)
"""What a download request create asked for (`received cfdi 2024-02-01..2024-02-29`): logged
with the id, as gigstack's dashboard would show it."""


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
