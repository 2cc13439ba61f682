"""Seeded fault injection as aiohttp middleware.

A fault is decided per call *before* the handler runs. Before-phase faults replace the handler
(nothing happened on the server); after-phase faults let it run and then lose its answer, which
is exactly the "did my billed request go through?" situation clients must reconcile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter

import attrs
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gigstack_async.sandbox.config import FaultConfig
from gigstack_async.sandbox.envelopes import ApiError
from gigstack_async.sandbox.routing import CRITERIA, DROPPED, FAULT, route_of, state_of
from gigstack_async.sandbox.state import InjectedFault, SandboxState


@attrs.frozen
class FaultDecision:
    """What happens to one call: at most one before- and one after-phase fault, plus latency."""

    before: str | None = None
    after: str | None = None
    latency: float = 0.0


class FaultInjector:
    """Draws decisions from `(seed, operation id, n-th call of it)` and forced faults."""

    def __init__(self, config: FaultConfig, seed: int, state: SandboxState) -> None:
        self._config = config
        self._seed = seed if config.seed is None else config.seed
        self._state = state
        self._calls: Counter[str] = Counter()

    @property
    def retry_after_seconds(self) -> int:
        """The `Retry-After` value sent with injected 429s."""
        return self._config.retry_after_seconds

    def decide(self, operation_id: str) -> FaultDecision:
        """The fate of the next call of `operation_id`."""
        index = self._calls[operation_id]
        self._calls[operation_id] += 1
        forced = self._state.forced_faults.get(operation_id)
        if forced:
            kind = forced.popleft()
            return FaultDecision(after=kind) if kind.startswith("after_") else FaultDecision(kind)
        config = self._config
        if not config.enabled:
            return FaultDecision()
        if config.operations is not None and operation_id not in config.operations:
            return FaultDecision()
        rng = random.Random(f"{self._seed}|{operation_id}|{index}")
        before = _pick(
            rng.random(),
            (
                ("500", config.error_500_rate),
                ("502", config.error_502_rate),
                ("503", config.error_503_rate),
                ("429", config.rate_limit_rate),
                ("drop", config.drop_rate),
            ),
        )
        after = _pick(
            rng.random(),
            (
                ("after_drop", config.after_drop_rate),
                ("after_truncate", config.after_truncate_rate),
                ("after_502", config.after_502_rate),
            ),
        )
        delayed = rng.random() < config.latency_rate
        latency = rng.uniform(*config.latency_seconds) if delayed else 0.0
        return FaultDecision(before, None if before else after, latency)


def _pick(roll: float, rates: tuple[tuple[str, float], ...]) -> str | None:
    threshold = 0.0
    for kind, rate in rates:
        threshold += rate
        if roll < threshold:
            return kind
    return None


def fault_middleware(injector: FaultInjector) -> Middleware:
    """The middleware applying `injector`'s decisions to every request that matched a route."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = route_of(request)
        if route is None:
            return await handler(request)
        decision = injector.decide(route.operation_id)
        if decision.latency > 0:
            await asyncio.sleep(decision.latency)
        if decision.before is not None:
            _record(request, route.operation_id, decision.before, "before")
            if route.operation_id == "createDownloadRequest":
                await _note_criteria(request)
            return _before(request, decision.before, injector.retry_after_seconds)
        response = await handler(request)
        if decision.after is not None:
            _record(request, route.operation_id, decision.after, "after")
            if route.operation_id == "createDownloadRequest":
                _listed_late(request, response)
            return await _after(request, response, decision.after, injector.retry_after_seconds)
        return response

    return middleware


def _listed_late(request: web.Request, response: web.StreamResponse) -> None:
    """A create made, then its answer lost: with `ServerProfile.lost_create_lag` the history
    lists it only that many simulated seconds later (gigstack still writing it when the
    gateway gave up), after any create made meanwhile (review 9l #1)."""
    state = state_of(request)
    lag_ms = round(state.profile.lost_create_lag * 1000)
    body = response.body if isinstance(response, web.Response) else None
    if lag_ms <= 0 or not isinstance(body, bytes):
        return
    with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
        request_id = json.loads(body)["data"]["request_id"]
        for created in state.download_requests:
            if created.request_id == request_id:
                created.listed_from_ms = state.clock.now_ms() + lag_ms


async def _note_criteria(request: web.Request) -> None:
    """What a create the fault stops before its handler asked for, as the handler would log it
    (`received cfdi 2024-02-01..2024-02-29`): the request log names every create's dates, also
    one that never reached the server. Unchecked; nothing when the body is unreadable."""
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        body = await request.json()
        if isinstance(body, dict):
            kind = body.get("request_type") or "cfdi"
            start, end = body.get("start_date", "?"), body.get("end_date", "?")
            request[CRITERIA] = f"{body.get('rfc_type', '?')} {kind} {start}..{end}"


def _record(request: web.Request, operation_id: str, kind: str, phase: str) -> None:
    state = state_of(request)
    state.injected_faults.append(InjectedFault(operation_id, kind, phase, state.clock.now_ms()))
    request[FAULT] = kind


def _drop(request: web.Request) -> web.Response:
    # Closing the transport before anything is written: the client sees a disconnect. aiohttp
    # then fails to write the returned placeholder and ignores it as a premature disconnection.
    request[DROPPED] = True
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)


def _rate_limited(retry_after_seconds: int) -> web.Response:
    retry_after = str(retry_after_seconds)
    return ApiError(
        429,
        "rate_limit_exceeded",
        f"Simulated rate limit (sandbox): retry after {retry_after} s",
        headers={"Retry-After": retry_after},
    ).response()


def _before(request: web.Request, kind: str, retry_after_seconds: int) -> web.Response:
    if kind == "drop":
        return _drop(request)
    if kind == "429":
        return _rate_limited(retry_after_seconds)
    errors = {
        "500": ApiError(500, "internal_server_error", "Simulated internal error (sandbox)"),
        "502": ApiError(502, "external_service_error", "Simulated bad gateway (sandbox)"),
        "503": ApiError(503, "service_unavailable", "Simulated service unavailable (sandbox)"),
    }
    return errors[kind].response()


async def _after(
    request: web.Request, response: web.StreamResponse, kind: str, retry_after_seconds: int
) -> web.StreamResponse:
    if kind == "after_502":
        return ApiError(
            502, "external_service_error", "Simulated gateway timeout after processing (sandbox)"
        ).response()
    if kind == "after_429":  # the call went through; a limit behind it answered 429
        return _rate_limited(retry_after_seconds)
    body = response.body if isinstance(response, web.Response) else None
    if kind == "after_drop" or not isinstance(body, bytes) or len(body) < 2:
        return _drop(request)
    # Announce the full length, send half, then hang up: a truncated body, not a clean error.
    truncated = web.StreamResponse(status=response.status, reason=response.reason)
    truncated.content_type = response.content_type
    truncated.content_length = len(body)
    await truncated.prepare(request)
    with contextlib.suppress(ConnectionError):
        await truncated.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    return truncated
