"""The transport interface: send one request, return one response, or raise a TransportError."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from gigstack_async import _json


@attrs.frozen
class MultipartField:
    """One part of a multipart/form-data body (a plain value, or a file when `filename` is set)."""

    name: str
    value: str | bytes
    filename: str | None = None
    content_type: str | None = None


@attrs.frozen
class Request:
    """A fully built HTTP request. `headers` include Authorization: never log or print them."""

    method: str
    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    params: tuple[tuple[str, str], ...] = ()
    json: Any = None
    multipart: tuple[MultipartField, ...] | None = attrs.field(default=None, repr=False)
    connect_timeout: float | None = None
    read_timeout: float | None = None
    max_response_bytes: int | None = None
    resend_safe: bool = True
    """False for calls that may charge money: the transport must never send it a second time on
    its own (aiohttp, for one, silently resends a GET once when the connection drops)."""

    def json_bytes(self) -> bytes:
        """`json` encoded exactly: `Decimal` amounts keep their digits (no float, no exponent)."""
        return _json.dumps(self.json)


@attrs.frozen
class Response:
    """An HTTP response with its whole body read."""

    status: int
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = attrs.field(default=b"", repr=False)

    def json(self) -> Any:
        """The body as JSON; fractional numbers come back as exact `Decimal`."""
        return _json.loads(self.body)

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


class TransportError(Exception):
    """The transport could not produce a response.

    `request_sent` tells the retry policy whether the server may have seen the request: a call
    that may charge money is retried only when it is False.
    """

    request_sent: bool = True


class ConnectError(TransportError):
    """No connection was made (refused, DNS, TLS handshake): the request never left."""

    request_sent = False


class ConnectTimeout(ConnectError):
    """Connecting took longer than the connect timeout."""


class ReadError(TransportError):
    """The connection failed after the request was sent (reset, truncated body)."""


class BodyReadError(ReadError):
    """The server answered (status and headers came) but the body broke off: it was reached."""


class ReadTimeout(ReadError):
    """The server did not answer within the read timeout."""


class ResponseTooLarge(ReadError):
    """The body exceeded `max_response_bytes`; reading stopped there."""


class AsyncTransport(Protocol):
    """Send one request. Implementations do no retries and raise only TransportError."""

    async def send(self, request: Request) -> Response: ...

    async def aclose(self) -> None: ...


STREAM_CHUNK = 64 * 1024
"""The most one streamed chunk holds: what bounds memory while a large body is consumed."""


class StreamedResponse(Protocol):
    """A response whose body is read piece by piece (`chunks()`, once), for large downloads."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def chunks(self) -> AsyncIterator[bytes]:
        """The body in pieces of at most `STREAM_CHUNK` bytes; raises TransportError (ReadError
        for a connection that broke off or a body shorter than its Content-Length)."""
        ...


@runtime_checkable
class StreamingTransport(AsyncTransport, Protocol):
    """A transport that can also stream a response body (optional: without it the SDK falls
    back to `send` and holds the body in memory)."""

    def stream(
        self, request: Request
    ) -> contextlib.AbstractAsyncContextManager[StreamedResponse]: ...


@attrs.frozen
class BufferedStream:
    """A whole `Response` presented as a `StreamedResponse` (MockTransport, and transports
    without `stream`)."""

    response: Response

    @property
    def status(self) -> int:
        return self.response.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self.response.headers

    async def chunks(self) -> AsyncIterator[bytes]:
        body = self.response.body
        for at in range(0, len(body), STREAM_CHUNK):
            yield body[at : at + STREAM_CHUNK]
