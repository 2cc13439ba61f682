"""Real loopback servers for the two receivers: aiohttp.web, and the ASGI app under uvicorn."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import uvicorn
from aiohttp import web

from gigstack_async.webhooks import Event, WebhookASGIApp, WebhookReceiver, add_webhook_route

SECRET = "whsec_" + base64.b64encode(b"receiver-test-secret-0123456789!").decode()
PATH = "/webhooks/gigstack"


@contextlib.asynccontextmanager
async def aiohttp_server(receiver: WebhookReceiver) -> AsyncIterator[str]:
    """Serve `receiver` with aiohttp.web on 127.0.0.1; yields the webhook URL. Exiting shuts
    the app down the normal way (on_shutdown drains the receiver)."""
    app = web.Application()
    add_webhook_route(app, PATH, receiver)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}{PATH}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def uvicorn_server(receiver: WebhookReceiver) -> AsyncIterator[str]:
    """Serve `WebhookASGIApp(receiver)` with uvicorn on 127.0.0.1 (lifespan on: its shutdown
    drains the receiver); yields the webhook URL."""
    config = uvicorn.Config(
        WebhookASGIApp(receiver), host="127.0.0.1", port=0, lifespan="on", log_level="warning"
    )
    server = uvicorn.Server(config)
    # pytest owns the signals; uvicorn must not replace its handlers.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}{PATH}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 60)


SERVERS: dict[str, Callable[[WebhookReceiver], Any]] = {
    "aiohttp": aiohttp_server,
    "asgi-uvicorn": uvicorn_server,
}


@pytest.fixture(params=sorted(SERVERS))
def serve_receiver(request: pytest.FixtureRequest) -> Callable[[WebhookReceiver], Any]:
    """`async with serve_receiver(receiver) as url:` — each test runs under both receivers."""
    return SERVERS[request.param]


class Recorder:
    """A handler that records the events it processed."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    @property
    def ids(self) -> list[str]:
        return [event.id for event in self.events]
