"""A transport that calls a function instead of the network (for tests and examples)."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable

from gigstack_async.transports.base import BufferedStream, Request, Response, StreamedResponse

Handler = Callable[[Request], Response | Awaitable[Response]]


class MockTransport:
    """Answer every request with `handler(request)` (sync or async); it may raise TransportError.

    `requests` records every request received, in order.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[Request] = []

    async def send(self, request: Request) -> Response:
        self.requests.append(request)
        result = self._handler(request)
        if inspect.isawaitable(result):
            return await result
        return result

    @contextlib.asynccontextmanager
    async def stream(self, request: Request) -> AsyncIterator[StreamedResponse]:
        """`send`, with the answer's body handed out in chunks."""
        yield BufferedStream(await self.send(request))

    async def aclose(self) -> None:
        return None
