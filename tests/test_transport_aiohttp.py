"""The real aiohttp transport against servers on 127.0.0.1: refused connections, slow servers,
truncated or oversized bodies, lying Content-Length, redirects and the in-flight limit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gigstack_async import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    GigstackClient,
    GigstackError,
    OutcomeUnknownError,
    Timeout,
    _departure,
)
from gigstack_async.transports import ConnectError, ReadError, ReadTimeout

UUID = "6741A863-04BE-49FE-BB76-E1657AB6B7EA"
INVOICE = {"success": True, "data": {"uuid": UUID, "direction": "received", "total": 1160.0}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def hang(serve) -> AsyncIterator[asyncio.Event]:
    """An event slow handlers wait on; set at teardown, before the server closes."""
    release = asyncio.Event()
    yield release
    release.set()
    await asyncio.sleep(0.01)


RawServer = Callable[[bytes], Awaitable[tuple[str, list[int]]]]


@pytest.fixture
async def raw_server() -> AsyncIterator[RawServer]:
    """`await raw_server(bytes)`: a TCP server on 127.0.0.1 that reads one request head, writes
    exactly `bytes` and closes. Returns its base URL and a list counting connections."""
    servers: list[asyncio.Server] = []

    async def start(payload: bytes) -> tuple[str, list[int]]:
        hits: list[int] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            hits.append(1)
            try:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(payload)
                await writer.drain()
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v2", hits

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def app_with(path: str, handler: Any, method: str = "GET") -> web.Application:
    app = web.Application()
    app.router.add_route(method, "/v2" + path, handler)
    return app


# ---------------------------------------------------------------------------- happy path


async def test_round_trip_over_loopback(serve, api_key: str) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        seen["headers"] = dict(request.headers)
        seen["query"] = list(request.query.items())
        return web.json_response(INVOICE)

    base = await serve(app_with(f"/invoices/sat/{UUID}", handler))
    async with GigstackClient(api_key, base_url=base + "/v2", team="team_42") as client:
        invoice = await client.sat_invoices.get(UUID)
    assert invoice.total == 1160.0
    assert seen["headers"]["Authorization"] == f"Bearer {api_key}"
    assert seen["headers"]["Accept"] == "application/json"
    assert seen["headers"]["User-Agent"].startswith("gigstack-async/")
    assert seen["query"] == [("team", "team_42")]


# ---------------------------------------------------------------------------- connect failures


async def test_connection_refused_is_retried_then_raised(sleeps, api_key: str) -> None:
    base = f"http://127.0.0.1:{free_port()}/v2"
    async with GigstackClient(api_key, base_url=base, max_retries=2) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.sat_invoices.get(UUID)
    assert type(info.value) is APIConnectionError
    assert isinstance(info.value.__cause__, ConnectError)
    assert "3 attempts" in str(info.value)
    assert len(sleeps) == 2


async def test_billed_call_is_retried_when_the_connection_was_refused(sleeps, api_key) -> None:
    base = f"http://127.0.0.1:{free_port()}/v2"
    async with GigstackClient(api_key, base_url=base, max_retries=1) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.sat_invoices.retry_xml(UUID)
    assert not isinstance(info.value, OutcomeUnknownError)  # it never left: safe to retry
    assert len(sleeps) == 1


# ---------------------------------------------------------------------------- slow servers


async def test_read_timeout(serve, hang: asyncio.Event, sleeps, api_key: str) -> None:
    hits: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(1)
        await hang.wait()
        return web.json_response(INVOICE)

    base = await serve(app_with(f"/invoices/sat/{UUID}", handler))
    timeout = Timeout(connect=2, read=0.2, total=30)
    async with GigstackClient(api_key, base_url=base + "/v2", timeout=timeout, max_retries=1) as c:
        with pytest.raises(APITimeoutError) as info:
            await c.sat_invoices.get(UUID)
    assert isinstance(info.value.__cause__, ReadTimeout)
    assert len(hits) == 2


async def test_billed_read_timeout_is_outcome_unknown(serve, hang: asyncio.Event, api_key):
    hits: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        hits.append(1)
        await hang.wait()
        return web.json_response({"success": True})

    base = await serve(app_with(f"/invoices/sat/{UUID}/retry-xml", handler, "POST"))
    timeout = Timeout(connect=2, read=0.2, total=30)
    async with GigstackClient(api_key, base_url=base + "/v2", timeout=timeout, max_retries=3) as c:
        with pytest.raises(OutcomeUnknownError):
            await c.sat_invoices.retry_xml(UUID)
    assert len(hits) == 1


async def test_total_deadline_over_a_real_connection(serve, hang: asyncio.Event, api_key):
    async def handler(request: web.Request) -> web.Response:
        await hang.wait()
        return web.json_response(INVOICE)

    base = await serve(app_with(f"/invoices/sat/{UUID}", handler))
    timeout = Timeout(connect=2, read=30, total=0.3)
    async with GigstackClient(api_key, base_url=base + "/v2", timeout=timeout) as client:
        with pytest.raises(APITimeoutError, match="deadline"):
            await client.sat_invoices.get(UUID)


# ---------------------------------------------------------------------------- broken bodies

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
TRUNCATED = HEAD + b"Content-Length: 500\r\n\r\n" + b'{"success": true, "data": {"uu'
NO_RESPONSE = b""


@pytest.mark.parametrize("payload", [TRUNCATED, NO_RESPONSE], ids=["truncated", "hang-up"])
async def test_broken_response_is_retried_for_safe_calls(
    raw_server: RawServer, sleeps, api_key: str, payload: bytes
) -> None:
    base, hits = await raw_server(payload)
    async with GigstackClient(api_key, base_url=base, max_retries=2) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.sat_invoices.get(UUID)
    assert isinstance(info.value.__cause__, ReadError)
    assert "3 attempts" in str(info.value)
    assert len(sleeps) == 2
    assert len(hits) >= 3  # aiohttp itself may resend a safe GET once on a hang-up


@pytest.mark.parametrize("payload", [TRUNCATED, NO_RESPONSE], ids=["truncated", "hang-up"])
@pytest.mark.parametrize("own_session", [False, True], ids=["sdk-session", "user-session"])
async def test_broken_response_to_a_billed_call_is_outcome_unknown(
    raw_server: RawServer, sleeps, api_key: str, payload: bytes, own_session: bool
) -> None:
    # A billed GET: aiohttp would resend a GET on a hang-up by itself; it must reach the server
    # exactly once, also when the caller supplied the session.
    base, hits = await raw_server(payload)
    async with aiohttp.ClientSession() as session:
        chosen = session if own_session else None
        async with GigstackClient(api_key, base_url=base, max_retries=2, session=chosen) as client:
            with pytest.raises(OutcomeUnknownError):
                await client.downloads.invoice_from_sat(UUID)
    assert len(hits) == 1
    assert sleeps == []


async def test_billed_post_hang_up_is_sent_once(raw_server: RawServer, sleeps, api_key) -> None:
    base, hits = await raw_server(NO_RESPONSE)
    async with GigstackClient(api_key, base_url=base, max_retries=2) as client:
        with pytest.raises(OutcomeUnknownError):
            await client.sat_invoices.retry_xml(UUID)
    assert len(hits) == 1


async def test_content_length_shorter_than_the_body_is_never_a_success(
    raw_server: RawServer, api_key: str
) -> None:
    body = b'{"success": true, "data": {"uuid": "' + UUID.encode() + b'"}}'
    base, _ = await raw_server(HEAD + b"Content-Length: 12\r\n\r\n" + body)
    async with GigstackClient(api_key, base_url=base, max_retries=0) as client:
        with pytest.raises((APIConnectionError, APIResponseValidationError)):
            await client.sat_invoices.get(UUID)


# ---------------------------------------------------------------------------- size cap


def oversized_app(size: int, hits: list[int], *, chunked: bool) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        hits.append(1)
        if not chunked:
            return web.Response(body=b" " * size, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(size // 1000):
            await response.write(b" " * 1000)
        await response.write_eof()
        return response

    return app_with(f"/invoices/sat/{UUID}", handler)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_response_over_max_response_bytes_is_a_clear_error(
    serve, api_key: str, chunked: bool
) -> None:
    hits: list[int] = []
    base = await serve(oversized_app(20_000, hits, chunked=chunked))
    async with GigstackClient(
        api_key, base_url=base + "/v2", max_response_bytes=5_000, max_retries=0
    ) as client:
        with pytest.raises(GigstackError) as info:
            await client.sat_invoices.get(UUID)
    assert "5000" in str(info.value)
    assert "limit" in str(info.value)


async def test_response_at_the_limit_is_read(serve, api_key: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(INVOICE)

    size = len(json.dumps(INVOICE).encode())
    base = await serve(app_with(f"/invoices/sat/{UUID}", handler))
    async with GigstackClient(api_key, base_url=base + "/v2", max_response_bytes=size) as client:
        assert (await client.sat_invoices.get(UUID)).uuid == UUID


async def test_oversized_response_is_not_retried(serve, sleeps, api_key: str) -> None:
    hits: list[int] = []
    base = await serve(oversized_app(20_000, hits, chunked=True))
    async with GigstackClient(
        api_key, base_url=base + "/v2", max_response_bytes=5_000, max_retries=2
    ) as client:
        with pytest.raises(GigstackError):
            await client.sat_invoices.get(UUID)
    assert len(hits) == 1


# ---------------------------------------------------------------------------- redirects, limit


async def test_redirects_are_not_followed(serve, api_key: str) -> None:
    elsewhere: list[str | None] = []

    async def other_host(request: web.Request) -> web.Response:
        elsewhere.append(request.headers.get("Authorization"))
        return web.json_response(INVOICE)

    other = await serve(app_with(f"/invoices/sat/{UUID}", other_host))

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(other + request.path)

    base = await serve(app_with(f"/invoices/sat/{UUID}", redirect))
    async with GigstackClient(api_key, base_url=base + "/v2") as client:
        with pytest.raises(GigstackError):
            await client.sat_invoices.get(UUID)
    assert elsewhere == []  # the key was not carried to another host


async def test_max_in_flight_over_real_connections(serve, api_key: str) -> None:
    active = 0
    peak = 0
    full = asyncio.Event()  # the first handlers wait until 4 are in flight (or 2 s pass)

    async def handler(request: web.Request) -> web.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if active >= 4:
            full.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(full.wait(), 2)
        await asyncio.sleep(0.001)
        active -= 1
        return web.json_response(INVOICE)

    base = await serve(app_with(f"/invoices/sat/{UUID}", handler))
    async with GigstackClient(api_key, base_url=base + "/v2", max_in_flight=4) as client:
        results = await asyncio.gather(*(client.sat_invoices.get(UUID) for _ in range(20)))
    assert len(results) == 20
    assert peak == 4


@pytest.mark.parametrize("version", ["3.9.5", "3.10.11", "2.3.10"])
def test_an_aiohttp_older_than_the_floor_is_refused_by_name(version: str) -> None:
    from gigstack_async.transports.aiohttp import check_aiohttp_version

    with pytest.raises(ImportError, match=rf"needs aiohttp>=3\.11, found {re.escape(version)}"):
        check_aiohttp_version(version)


@pytest.mark.parametrize("version", ["3.11.0", "3.14.5", "4.0.0a1", "3.12.0.dev0"])
def test_the_floor_and_newer_aiohttp_are_accepted(version: str) -> None:
    from gigstack_async.transports.aiohttp import check_aiohttp_version

    check_aiohttp_version(version)


def test_the_floor_matches_pyproject() -> None:
    import tomllib
    from pathlib import Path

    from gigstack_async.transports.aiohttp import OLDEST_AIOHTTP

    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    assert f"aiohttp>={'.'.join(map(str, OLDEST_AIOHTTP))}" in dependencies


# ---------------------------------------------------------------------------- departures


async def test_a_billed_call_that_could_not_connect_never_left(sleeps, api_key) -> None:
    """`_departure`: the transport saw the attempt start, and no byte of it leave."""
    base = f"http://127.0.0.1:{free_port()}/v2"
    async with GigstackClient(api_key, base_url=base, max_retries=0) as client:
        with _departure.watch() as departure, pytest.raises(APIConnectionError):
            await client.sat_invoices.retry_xml(UUID)
    assert (departure.attempted, departure.watched, departure.left) == (True, True, False)
    assert departure.never_left


async def test_a_billed_call_that_was_answered_left(serve, api_key: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"success": False}, status=400)

    base = await serve(app_with(f"/invoices/sat/{UUID}/retry-xml", handler, method="POST"))
    async with GigstackClient(api_key, base_url=base + "/v2") as client:
        with _departure.watch() as departure, contextlib.suppress(GigstackError):
            await client.sat_invoices.retry_xml(UUID)
    assert (departure.attempted, departure.watched, departure.left) == (True, True, True)
    assert not departure.never_left
