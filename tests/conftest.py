"""Shared, generic fixtures: a fake API key, MockTransport-backed clients, a sleep recorder and
loopback aiohttp.web servers. Nothing here talks to the real network."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gigstack_async import GigstackClient
from gigstack_async import _pipeline as pipeline_module
from gigstack_async.transports import MockTransport, Request, Response

FAKE_API_KEY = "sk_test_Zq7SECRETvalue4Kp9x"


@pytest.fixture
def api_key() -> str:
    """A recognisable fake key: tests grep for it to prove it never leaks."""
    return FAKE_API_KEY


Script = Callable[[Request], Any] | Sequence[Response | BaseException]


def _as_handler(script: Script) -> Callable[[Request], Any]:
    if callable(script):
        return script
    queue = list(script)

    def handler(request: Request) -> Response:
        assert queue, f"unexpected extra request {request.method} {request.url}"
        item = queue.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    return handler


@pytest.fixture
async def mock_client(
    api_key: str,
) -> AsyncIterator[Callable[..., tuple[GigstackClient, MockTransport]]]:
    """`mock_client(script, **client_kwargs)` → (client, transport).

    `script` is a handler `(Request) -> Response` (sync or async, may raise) or a list of
    Responses/exceptions answered in order (an extra request fails the test).
    """
    clients: list[GigstackClient] = []

    def make(script: Script, **kwargs: Any) -> tuple[GigstackClient, MockTransport]:
        transport = MockTransport(_as_handler(script))
        kwargs.setdefault("api_key", api_key)
        client = GigstackClient(transport=transport, **kwargs)
        clients.append(client)
        return client, transport

    yield make
    for client in clients:
        await client.aclose()


class _RecordingAsyncio:
    """Stands in for the `asyncio` module inside the pipeline: sleeps are recorded, not waited."""

    def __init__(self, delays: list[float]) -> None:
        self._delays = delays

    async def sleep(self, delay: float, result: Any = None) -> Any:
        self._delays.append(delay)
        await asyncio.sleep(0)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff/Retry-After delays the pipeline asked for, in order; nothing really sleeps."""
    delays: list[float] = []
    monkeypatch.setattr(pipeline_module, "asyncio", _RecordingAsyncio(delays))
    return delays


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    """`await serve(app)` starts `app` on 127.0.0.1 and returns its base URL (no trailing /)."""
    servers: list[TestServer] = []

    async def start(app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()
