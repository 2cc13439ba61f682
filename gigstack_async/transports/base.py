"""The transport interface: send one request, return one response, or raise a TransportError."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

import attrs


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
    stream_to: str | None = None
    """Write a successful (< 400) response body to this file instead of memory (downloads). A
    transport that cannot stream may ignore it and return the body: the caller writes it."""
    resend_safe: bool = True
    """False for calls that may charge money: the transport must never send it a second time on
    its own (aiohttp, for one, silently resends a GET once when the connection drops)."""


@attrs.frozen
class Response:
    """An HTTP response with its whole body read."""

    status: int
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = attrs.field(default=b"", repr=False)

    def json(self) -> Any:
        return json.loads(self.body)

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


class ReadTimeout(ReadError):
    """The server did not answer within the read timeout."""


class ResponseTooLarge(ReadError):
    """The body exceeded `max_response_bytes`; reading stopped there."""


class AsyncTransport(Protocol):
    """Send one request. Implementations do no retries and raise only TransportError."""

    async def send(self, request: Request) -> Response: ...

    async def aclose(self) -> None: ...
