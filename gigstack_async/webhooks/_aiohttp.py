"""The `aiohttp.web` receiver: a request handler, and a one-call route + shutdown hook."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler as WebHandler

from gigstack_async.webhooks._receiver import WebhookReceiver


def aiohttp_handler(receiver: WebhookReceiver) -> WebHandler:
    """An aiohttp request handler for `receiver` (route it with POST).

    The body is read up to `receiver.max_body` bytes. Add `receiver.aclose()` to the app's
    shutdown (or use `add_webhook_route`) so handlers still running finish before exit.
    """

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > receiver.max_body:
            return web.json_response({"error": "body_too_large"}, status=413)
        # read(n) returns what has arrived so far (at most n): keep reading to the end.
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.read(64 * 1024):
            size += len(chunk)
            if size > receiver.max_body:
                return web.json_response({"error": "body_too_large"}, status=413)
            chunks.append(chunk)
        answer = await receiver.receive(b"".join(chunks), request.headers)
        return web.json_response(answer.body, status=answer.status)

    return handle


def add_webhook_route(app: web.Application, path: str, receiver: WebhookReceiver) -> None:
    """`POST path` → `receiver`, and drain the receiver when the app shuts down."""
    app.router.add_post(path, aiohttp_handler(receiver))

    async def drain(_: web.Application) -> None:
        await receiver.aclose()

    app.on_shutdown.append(drain)
