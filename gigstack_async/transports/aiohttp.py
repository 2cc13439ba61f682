"""The real transport, over aiohttp. The only module of the SDK that uses aiohttp's client API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

import aiohttp

from gigstack_async import _departure
from gigstack_async.transports.base import (
    STREAM_CHUNK,
    BodyReadError,
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    Request,
    Response,
    ResponseTooLarge,
    StreamedResponse,
    TransportError,
)

_CHUNK = STREAM_CHUNK
OLDEST_AIOHTTP = (3, 11)
"""pyproject.toml's floor: 3.11 added the switch that stops aiohttp resending a request (billed
calls need it); 3.10 added ConnectionTimeoutError and SocketTimeoutError."""


def check_aiohttp_version(version: str) -> None:
    """Raise ImportError, naming both versions, when `version` is older than the floor.

    pip enforces the floor; this catches installs that bypass it (--no-deps, a vendored copy),
    which would otherwise fail later with an AttributeError or refuse every billed call.
    """
    try:
        found = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        return  # a development build with an odd version string: trust it
    if found < OLDEST_AIOHTTP:
        wanted = ".".join(map(str, OLDEST_AIOHTTP))
        raise ImportError(
            f"gigstack_async needs aiohttp>={wanted}, found {version}: "
            f'pip install "aiohttp>={wanted}"'
        )


check_aiohttp_version(aiohttp.__version__)


class AiohttpTransport:
    """Send requests through an `aiohttp.ClientSession`.

    Without `session`, one is created on first use, inside the running event loop, and closed by
    `aclose()`. A session passed in belongs to the caller: it is used, never closed.
    """

    def __init__(
        self, session: aiohttp.ClientSession | None = None, *, pool_size: int = 100
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._pool_size = pool_size
        self._no_resend_session: aiohttp.ClientSession | None = None

    def _get_session(self, request: Request) -> aiohttp.ClientSession:
        if not request.resend_safe:
            return self._get_no_resend_session()
        if self._session is None or (self._owns_session and self._session.closed):
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def _get_no_resend_session(self) -> aiohttp.ClientSession:
        # aiohttp resends an idempotent-method request once when the connection drops, and has no
        # public switch for it (aio-libs/aiohttp#10790). A billed GET must never be sent twice, so
        # such requests use a session of ours with that resend turned off. tests/test_billed_*
        # fails if an aiohttp upgrade brings the resend back.
        if self._no_resend_session is None or self._no_resend_session.closed:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                trace_configs=[_departures()],
            )
            if not hasattr(session, "_retry_connection"):
                raise RuntimeError(
                    f"aiohttp {aiohttp.__version__} changed how it resends requests; "
                    "gigstack_async cannot guarantee that a billed call is sent once"
                )
            session._retry_connection = False
            self._no_resend_session = session
        return self._no_resend_session

    @contextlib.asynccontextmanager
    async def stream(self, request: Request) -> AsyncIterator[StreamedResponse]:
        """Send `request` and hand out its body in chunks as they arrive (never all of it)."""
        response = await self._open(request)
        try:
            yield _AiohttpStream(response)
        finally:
            # A body not read to its end leaves the connection unusable: close it, don't pool it.
            if response.content.at_eof():
                response.release()
            else:
                response.close()

    async def _open(self, request: Request) -> aiohttp.ClientResponse:
        session = self._get_session(request)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=request.connect_timeout, sock_read=request.read_timeout
        )
        failure: TransportError
        try:
            return await session.request(
                request.method,
                request.url,
                params=list(request.params),
                headers=dict(request.headers),
                json=request.json,
                timeout=timeout,
                allow_redirects=False,
            )
        except aiohttp.ConnectionTimeoutError:
            failure = ConnectTimeout(f"connect timeout after {request.connect_timeout} s")
        except aiohttp.SocketTimeoutError:
            failure = ReadTimeout(f"no response within {request.read_timeout} s")
        except aiohttp.ClientConnectorError as exc:
            failure = ConnectError(f"cannot connect: {exc.os_error or exc}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            failure = ReadError(f"{type(exc).__name__}: {_describe(exc)}")
        raise failure  # outside the except blocks: see send()

    async def send(self, request: Request) -> Response:
        session = self._get_session(request)
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=request.connect_timeout, sock_read=request.read_timeout
        )
        data: aiohttp.FormData | bytes | None = None
        headers = dict(request.headers)
        if request.json is not None and request.multipart is None:
            # Our own encoder, not aiohttp's json.dumps: Decimal amounts must keep their digits.
            data = request.json_bytes()
            headers["Content-Type"] = "application/json"
        if request.multipart is not None:
            data = aiohttp.FormData()
            for part in request.multipart:
                data.add_field(
                    part.name,
                    part.value,
                    filename=part.filename,
                    content_type=part.content_type,
                )
        failure: TransportError
        answered = False  # status and headers came: a failure now means the body broke off
        try:
            async with session.request(
                request.method,
                request.url,
                params=list(request.params),
                headers=headers,
                data=data,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                answered = True
                body = await _read_capped(response, request.max_response_bytes)
                return Response(status=response.status, headers=dict(response.headers), body=body)
        except TransportError:
            raise
        except aiohttp.ConnectionTimeoutError:
            failure = ConnectTimeout(f"connect timeout after {request.connect_timeout} s")
        except aiohttp.SocketTimeoutError:
            failure = ReadTimeout(f"no response within {request.read_timeout} s")
        except aiohttp.ClientConnectorError as exc:
            failure = ConnectError(f"cannot connect: {exc.os_error or exc}")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            kind = BodyReadError if answered else ReadError
            failure = kind(f"{type(exc).__name__}: {_describe(exc)}")
        # Raised outside the except blocks on purpose: aiohttp's exceptions carry the request
        # headers (the API key) in their repr, so none may stay reachable as __cause__ or
        # __context__ of what we raise.
        raise failure

    async def aclose(self) -> None:
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()
        if self._no_resend_session is not None and not self._no_resend_session.closed:
            await self._no_resend_session.close()


class _AiohttpStream:
    """An open aiohttp response as a `StreamedResponse`."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = dict(response.headers)

    async def chunks(self) -> AsyncIterator[bytes]:
        declared = self._response.content_length
        received = 0
        failure: TransportError
        try:
            async for chunk in self._response.content.iter_chunked(STREAM_CHUNK):
                received += len(chunk)
                yield chunk
        except aiohttp.SocketTimeoutError:
            failure = ReadTimeout(f"the body stalled after {received} bytes")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            failure = BodyReadError(
                f"{type(exc).__name__} after {received} bytes: {_describe(exc)}"
            )
        else:
            if declared is None or received >= declared:
                return
            failure = BodyReadError(f"the body ended after {received} of {declared} bytes")
        raise failure  # outside the except blocks: aiohttp's exceptions carry the headers


def _departures() -> aiohttp.TraceConfig:
    """aiohttp tracing that tells `_departure` when a request starts and when its first byte
    is about to be written: aiohttp (3.11 to 3.14 at least) signals `on_request_headers_sent`
    before it serializes and writes the headers, so until it fires nothing has left."""

    async def started(*_: object) -> None:
        _departure.note(watched=True)

    async def leaving(*_: object) -> None:
        _departure.note(left=True)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(started)
    trace.on_request_headers_sent.append(leaving)
    trace.freeze()
    return trace


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{exc.status} {exc.message}"  # not str(exc): keep request details out
    return str(exc)


async def _read_capped(response: aiohttp.ClientResponse, limit: int | None) -> bytes:
    if limit is None:
        return await response.read()
    declared = response.content_length
    if declared is not None and declared > limit:
        raise ResponseTooLarge(f"response declares {declared} bytes, over the {limit} limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(f"response exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
