"""Retries, backoff, Retry-After, the per-call deadline, money-safety and the in-flight limit."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import Any

import pytest

from gigstack_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GigstackClient,
    InternalServerError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitError,
    Timeout,
    UnprocessableEntityError,
)
from gigstack_async import _pipeline as pipeline_module
from gigstack_async._dates import add_months, month_end, month_start, today_mx
from gigstack_async.transports import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    Request,
    Response,
)

UUID = "6741A863-04BE-49FE-BB76-E1657AB6B7EA"
INVOICE = {"success": True, "data": {"uuid": UUID, "direction": "received", "total": 1160.0}}


def reply(status: int = 200, body: Any = INVOICE, headers: dict[str, str] | None = None):
    raw = json.dumps(body).encode()
    return Response(status, {"Content-Type": "application/json", **(headers or {})}, raw)


def failure(status: int, headers: dict[str, str] | None = None) -> Response:
    body = {"success": False, "error": {"code": "internal_server_error", "message": "boom"}}
    return reply(status, body, headers)


async def get_invoice(client: GigstackClient) -> Any:
    return await client.sat_invoices.get(UUID)


# ---------------------------------------------------------------------------- which failures retry


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_retried_statuses_then_success(mock_client, sleeps, status: int) -> None:
    client, transport = mock_client([failure(status), failure(status), reply()])
    invoice = await get_invoice(client)
    assert invoice.uuid == UUID
    assert len(transport.requests) == 3
    assert len(sleeps) == 2
    assert transport.requests[0] == transport.requests[2]  # the same request, resent


async def test_retries_are_bounded_by_max_retries(mock_client, sleeps) -> None:
    client, transport = mock_client([failure(503)] * 4, max_retries=3)
    with pytest.raises(InternalServerError) as info:
        await get_invoice(client)
    assert info.value.status == 503
    assert len(transport.requests) == 4
    assert len(sleeps) == 3


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (501, InternalServerError),
    ],
)
async def test_non_retried_statuses_raise_at_once(mock_client, sleeps, status: int, cls) -> None:
    client, transport = mock_client([failure(status)])
    with pytest.raises(cls) as info:
        await get_invoice(client)
    assert info.value.status == status
    assert len(transport.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "error", [ConnectError("refused"), ConnectTimeout("slow"), ReadError("reset"), ReadTimeout("x")]
)
async def test_connection_errors_are_retried(mock_client, sleeps, error: Exception) -> None:
    client, transport = mock_client([error, error, reply()])
    assert (await get_invoice(client)).uuid == UUID
    assert len(transport.requests) == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        (ConnectError("refused"), APIConnectionError),
        (ReadError("reset"), APIConnectionError),
        (ReadTimeout("no answer"), APITimeoutError),
        (ConnectTimeout("no connect"), APITimeoutError),
    ],
)
async def test_connection_errors_after_retries(mock_client, sleeps, error, cls) -> None:
    client, transport = mock_client([error] * 3, max_retries=2)
    with pytest.raises(cls) as info:
        await get_invoice(client)
    assert type(info.value) is cls
    assert not isinstance(info.value, OutcomeUnknownError)
    assert "3 attempts" in str(info.value)
    assert info.value.__cause__ is error
    assert len(transport.requests) == 3


@pytest.mark.parametrize("first", [failure(503), ConnectError("refused")])
async def test_max_retries_zero_means_one_attempt(mock_client, sleeps, first: Any) -> None:
    client, transport = mock_client([first], max_retries=0)
    with pytest.raises((InternalServerError, APIConnectionError)):
        await get_invoice(client)
    assert len(transport.requests) == 1
    assert sleeps == []


async def test_with_options_max_retries_applies(mock_client, sleeps) -> None:
    client, transport = mock_client([failure(503)] * 2, max_retries=5)
    with pytest.raises(InternalServerError):
        await get_invoice(client.with_options(max_retries=1))
    assert len(transport.requests) == 2


# ---------------------------------------------------------------------------- Retry-After


async def test_retry_after_seconds(mock_client, sleeps) -> None:
    client, _ = mock_client([failure(429, {"Retry-After": "3"}), reply()])
    await get_invoice(client)
    assert sleeps == [3.0]


async def test_retry_after_up_to_the_cap_is_honoured(mock_client, sleeps) -> None:
    client, _ = mock_client([failure(503, {"Retry-After": "60"}), reply()], timeout=3600)
    await get_invoice(client)
    assert sleeps == [60.0]


async def test_retry_after_http_date(mock_client, sleeps) -> None:
    when = formatdate(time.time() + 30, usegmt=True)
    client, _ = mock_client([failure(503, {"Retry-After": when}), reply()])
    await get_invoice(client)
    (delay,) = sleeps
    assert 28.0 <= delay <= 30.0


async def test_retry_after_ms_wins(mock_client, sleeps) -> None:
    headers = {"retry-after-ms": "250", "Retry-After": "9"}
    client, _ = mock_client([failure(429, headers), reply()])
    await get_invoice(client)
    assert sleeps == [0.25]


async def test_unparseable_retry_after_falls_back_to_backoff(mock_client, sleeps) -> None:
    client, _ = mock_client([failure(503, {"Retry-After": "soon"}), reply()])
    await get_invoice(client)
    (delay,) = sleeps
    assert 0.375 <= delay <= 0.5


@pytest.mark.parametrize(
    ("status", "error"),
    [(429, RateLimitError), (503, InternalServerError), (502, InternalServerError)],
)
async def test_retry_after_above_the_cap_is_not_waited_for(
    mock_client, sleeps, status: int, error: type[Exception]
) -> None:
    # 250 s: above the 60 s cap, well inside the (long) deadline. The cap holds for every
    # status that asks for a wait, not only 429: a 503 asking for minutes is not waited out.
    patient = Timeout(total=3600)
    client, transport = mock_client([failure(status, {"Retry-After": "250"})], timeout=patient)
    with pytest.raises(error) as info:
        await get_invoice(client)
    assert type(info.value) is error
    assert info.value.status == status
    if isinstance(info.value, RateLimitError):
        assert info.value.retry_after == 250.0
    assert sleeps == []
    assert len(transport.requests) == 1


async def test_rate_limit_error_carries_retry_after_when_retries_run_out(mock_client) -> None:
    client, _ = mock_client([failure(429, {"Retry-After": "7"})], max_retries=0)
    with pytest.raises(RateLimitError) as info:
        await get_invoice(client)
    assert info.value.retry_after == 7.0


async def test_retry_after_past_the_deadline_is_not_waited_for(mock_client, sleeps) -> None:
    client, transport = mock_client([failure(503, {"Retry-After": "20"})], timeout=5)
    with pytest.raises(InternalServerError):
        await get_invoice(client)
    assert sleeps == []
    assert len(transport.requests) == 1


# ---------------------------------------------------------------------------- backoff


def _bases(count: int) -> list[float]:
    return [min(0.5 * 2.0**n, 8.0) for n in range(count)]


@pytest.mark.parametrize(("rand", "factor"), [(0.0, 1.0), (0.999999, 0.75)])
async def test_backoff_doubles_up_to_the_cap(
    monkeypatch: pytest.MonkeyPatch, mock_client, sleeps, rand: float, factor: float
) -> None:
    monkeypatch.setattr(pipeline_module.random, "random", lambda: rand)
    client, _ = mock_client([failure(503)] * 6 + [reply()], max_retries=6)
    await get_invoice(client)
    assert sleeps == pytest.approx([b * factor for b in _bases(6)], rel=1e-5)
    assert sleeps == sorted(sleeps)


async def test_backoff_jitter_stays_in_bounds(mock_client, sleeps) -> None:
    for _ in range(20):
        sleeps.clear()
        client, _ = mock_client([ConnectError("x")] * 6 + [reply()], max_retries=6)
        await get_invoice(client)
        for delay, base in zip(sleeps, _bases(6), strict=True):
            assert 0.75 * base <= delay <= base


# ---------------------------------------------------------------------------- deadline


async def test_deadline_covers_all_attempts(mock_client) -> None:
    never = asyncio.Event()

    async def handler(request: Request) -> Response:
        if len(transport.requests) == 1:
            return failure(503, {"retry-after-ms": "1"})
        await never.wait()  # the second attempt hangs: only the total deadline can end it
        raise AssertionError("unreachable")

    client, transport = mock_client(handler, timeout=Timeout(connect=5, read=5, total=0.3))
    with pytest.raises(APITimeoutError, match="deadline") as info:
        await get_invoice(client)
    assert not isinstance(info.value, OutcomeUnknownError)
    assert "2 attempts" in str(info.value)
    assert len(transport.requests) == 2


# ---------------------------------------------------------------------------- money safety


def _last_month() -> tuple[str, str]:
    start = month_start(add_months(today_mx(), -1))
    return start.isoformat(), month_end(start).isoformat()


BilledCall = Callable[[GigstackClient], Awaitable[Any]]
BILLED: dict[str, tuple[BilledCall, dict[str, Any]]] = {
    "create_request": (
        lambda c: c.downloads.create_request(
            start_date=_last_month()[0], end_date=_last_month()[1], rfc_type="received"
        ),
        {"success": True, "data": {"request_id": "req_1", "duplicate": False, "status": "pending"}},
    ),
    "retry_xml": (
        lambda c: c.sat_invoices.retry_xml(UUID),
        {"success": True, "message": "Reintento programado", "data": {"credit_charged": True}},
    ),
    "invoice_from_sat": (
        lambda c: c.downloads.invoice_from_sat(UUID),
        {"success": True, "data": {"uuid": UUID, "xml": "<cfdi:Comprobante/>"}},
    ),
}


BILLED_RESULTS: dict[str, Any] = {
    "create_request": ("req_1", False),
    "retry_xml": True,
    "invoice_from_sat": {"uuid": UUID, "xml": "<cfdi:Comprobante/>"},
}


def _decoded(result: Any) -> Any:
    if hasattr(result, "request_id"):
        return (result.request_id, result.duplicate)
    if hasattr(result, "data"):
        return result.data.credit_charged
    return result


@pytest.mark.parametrize("op", BILLED)
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_billed_calls_are_sent_once_on_retryable_statuses(
    mock_client, sleeps, op: str, status: int
) -> None:
    call, _ = BILLED[op]
    client, transport = mock_client([failure(status, {"Retry-After": "0"})], max_retries=5)
    # 408/429 are refusals (APIStatusError); a 5xx may come after the server acted, so it is
    # an unknown outcome (review 11 #3), never an APIStatusError a caller reads as "refused".
    expected = OutcomeUnknownError if status >= 500 else APIStatusError
    with pytest.raises(expected) as info:
        await call(client)
    assert not isinstance(info.value, APIStatusError) or status < 500
    assert info.value.status == status
    assert len(transport.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize("op", BILLED)
@pytest.mark.parametrize(
    "error", [ReadError("connection reset"), ReadTimeout("no answer")], ids=["read", "timeout"]
)
async def test_billed_calls_after_sending_raise_outcome_unknown(
    mock_client, sleeps, op: str, error: Exception
) -> None:
    call, _ = BILLED[op]
    client, transport = mock_client([error], max_retries=5)
    with pytest.raises(OutcomeUnknownError) as info:
        await call(client)
    assert isinstance(info.value, APIConnectionError)
    assert "not retried" in str(info.value)
    assert info.value.method == transport.requests[0].method
    assert len(transport.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize("op", BILLED)
@pytest.mark.parametrize("error", [ConnectError("refused"), ConnectTimeout("slow")])
async def test_billed_calls_are_retried_when_never_sent(
    mock_client, sleeps, op: str, error: Exception
) -> None:
    call, body = BILLED[op]
    client, transport = mock_client([error, reply(200, body)])
    result = await call(client)
    assert _decoded(result) == BILLED_RESULTS[op]  # the second answer, read through
    assert len(transport.requests) == 2
    assert transport.requests[0] == transport.requests[1]


@pytest.mark.parametrize("op", BILLED)
async def test_billed_call_hitting_the_deadline_is_outcome_unknown(mock_client, op: str) -> None:
    call, _ = BILLED[op]
    never = asyncio.Event()

    async def handler(request: Request) -> Response:
        await never.wait()
        raise AssertionError("unreachable")

    client, transport = mock_client(handler, timeout=0.2)
    with pytest.raises(OutcomeUnknownError, match="deadline"):
        await call(client)
    assert len(transport.requests) == 1


async def test_non_billed_post_is_retried(mock_client, sleeps) -> None:
    # pdf is a POST, but costs nothing: the retry policy follows the spec, not the method.
    body = {"success": True, "pdf": "JVBERi0xLjQK"}
    client, transport = mock_client([ReadError("reset"), reply(200, body)])
    assert (await client.sat_invoices.pdf(UUID)).startswith(b"%PDF")
    assert len(transport.requests) == 2


# ---------------------------------------------------------------------------- in-flight limit


async def test_max_in_flight_bounds_concurrent_requests(mock_client) -> None:
    active = 0
    peak = 0

    async def handler(request: Request) -> Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.005)
        active -= 1
        return reply()

    client, transport = mock_client(handler, max_in_flight=3)
    other = client.with_options(team="team_b")  # clones share the limit
    calls = [get_invoice(client if i % 2 else other) for i in range(20)]
    results = await asyncio.gather(*calls)
    assert len(results) == 20
    assert len(transport.requests) == 20
    assert peak == 3
