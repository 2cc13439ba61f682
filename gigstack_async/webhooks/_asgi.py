"""The ASGI receiver: mount it in FastAPI / Starlette, or serve it alone (uvicorn, hypercorn)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from multidict import CIMultiDict

from gigstack_async.webhooks._receiver import ReceiverResponse, WebhookReceiver

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class WebhookASGIApp:
    """An ASGI 3 application that answers `POST` with `receiver` (any path it is mounted at).

    Served alone, the ASGI lifespan's shutdown drains the receiver. Mounted in FastAPI or
    Starlette (`app.mount("/webhooks/gigstack", WebhookASGIApp(receiver))`), mounted apps get no
    lifespan events: call `await receiver.aclose()` in the parent app's lifespan.
    """

    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: not ours (the server closes the connection)
        if scope["method"] != "POST":
            await _send(send, ReceiverResponse(405, {"error": "method_not_allowed"}), allow="POST")
            return
        body = await _read_body(receive, self.receiver.max_body)
        if body is None:
            await _send(send, ReceiverResponse(413, {"error": "body_too_large"}))
            return
        # A multidict keeps a header sent twice, so the receiver can refuse it as ambiguous.
        # Values decoded as aiohttp does (UTF-8, undecodable bytes kept as surrogates): both
        # receivers see the same `webhook-id` and sign over the same bytes.
        headers = CIMultiDict(
            (key.decode("latin-1"), value.decode("utf-8", "surrogateescape"))
            for key, value in scope["headers"]
        )
        await _send(send, await self.receiver.receive(body, headers))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.receiver.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send(send: Send, answer: ReceiverResponse, allow: str | None = None) -> None:
    payload = json.dumps(answer.body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    if allow:
        headers.append((b"allow", allow.encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
