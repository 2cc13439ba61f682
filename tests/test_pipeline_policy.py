"""The pipeline's policy, pinned rule by rule (issue 13: each test kills mutants that survived).

Retry and side-effect policy, Retry-After parsing and its cap, the deadline, backoff bounds,
error mapping and request building, driven through `Pipeline` with small local operations so
every rule is visible in one place. tests/test_pipeline.py covers the same policy end to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import formatdate
from typing import Any, ClassVar

import attrs
import pytest

from gigstack_async import _departure
from gigstack_async import _pipeline as pipeline_module
from gigstack_async._config import RetryPolicy, Timeout
from gigstack_async._operation import Operation
from gigstack_async._pipeline import (
    CallResult,
    Pipeline,
    _read_capped,
    decode_body,
    encode_path_param,
    encode_query_value,
    parse_retry_after,
)
from gigstack_async._send_window import send_before
from gigstack_async._version import __version__
from gigstack_async.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    BilledResponseValidationError,
    DownloadInterruptedError,
    IncompleteResponseError,
    InternalServerError,
    InvalidParameterError,
    OutcomeUnknownError,
    RateLimitError,
    SendWindowClosedError,
)
from gigstack_async.transports import (
    BodyReadError,
    ConnectError,
    ConnectTimeout,
    MockTransport,
    ReadError,
    ReadTimeout,
    Request,
    Response,
)
from gigstack_async.transports.base import BufferedStream, MultipartField, ResponseTooLarge

KEY = "sk_test_Zq7SECRETvalue4Kp9x"


@attrs.frozen
class Thing:
    name: str
    count: int


def op(
    *,
    method: str = "GET",
    path: str = "/things/{thingId}",
    path_params: tuple[str, ...] = ("thingId",),
    query_params: tuple[str, ...] = ("team",),
    billed: bool = False,
    limited: bool = False,
    model: type = Thing,
) -> Operation:
    return Operation(
        operation_id="op",
        method=method,
        path=path,
        resource="things",
        response_model=model,
        path_params=path_params,
        query_params=query_params,
        side_effect="charges" if billed else "limited-download" if limited else "none",
    )


GET = op()
BILLED = op(method="POST", billed=True)
LIMITED = op(limited=True)
PARAMS = {"thingId": "t1"}


def ok(body: Any = None, headers: dict[str, str] | None = None, status: int = 200) -> Response:
    raw = json.dumps({"name": "a", "count": 1} if body is None else body).encode()
    return Response(status, {"Content-Type": "application/json", **(headers or {})}, raw)


def fail(status: int, headers: dict[str, str] | None = None) -> Response:
    body = {"success": False, "error": {"code": "boom", "message": "it broke"}}
    return Response(status, headers or {}, json.dumps(body).encode())


def make(
    script: Any,
    *,
    retry: RetryPolicy | None = None,
    timeout: Timeout | None = None,
    team: str | None = None,
    base_url: str = "http://127.0.0.1:9/v2",
    max_response_bytes: int = 1000,
) -> tuple[Pipeline, MockTransport]:
    if callable(script):
        handler = script
    else:
        queue = list(script)

        def handler(request: Request) -> Response:
            assert queue, "unexpected extra request"
            item = queue.pop(0)
            if isinstance(item, BaseException):
                raise item
            return item

    transport = MockTransport(handler)
    pipeline = Pipeline(
        transport=transport,
        api_key=KEY,
        base_url=base_url,
        team=team,
        timeout=timeout or Timeout(total=3600),
        retry=retry or RetryPolicy(),
        semaphore=asyncio.Semaphore(4),
        max_response_bytes=max_response_bytes,
    )
    return pipeline, transport


async def call(pipeline: Pipeline, operation: Operation = GET, **kwargs: Any) -> Any:
    return await pipeline.call(operation, path_params=PARAMS, **kwargs)


# ---------------------------------------------------------------------------- query values


class Color(enum.Enum):
    RED = "red"


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (Decimal("1E+2"), "100"),
        (Decimal("0.10"), "0.10"),
        (Color.RED, "red"),
        (True, "true"),
        (False, "false"),
        (date(2025, 1, 31), "2025-01-31"),
        (datetime(2025, 1, 31, 12, 30, tzinfo=UTC), "2025-01-31T12:30:00+00:00"),
        (7, "7"),
        ("x y", "x y"),
    ],
)
def test_query_values_are_encoded_as_the_api_reads_them(value: Any, wire: str) -> None:
    assert encode_query_value(value) == wire


# ---------------------------------------------------------------------------- path segments


@pytest.mark.parametrize(
    ("value", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("a?b#c", "a%3Fb%23c"),
        ("100%", "100%25"),
        ("AbC", "AbC"),
        ("a b", "a%20b"),
    ],
)
def test_path_params_are_one_segment(value: str, segment: str) -> None:
    assert encode_path_param("thingId", value) == segment


@pytest.mark.parametrize("value", ["", " ", ".", "..", " .. "])
def test_dot_and_empty_path_params_are_refused_by_python_name(value: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        encode_path_param("packageId", value)
    assert info.value.field == "package_id"
    assert info.value.value == value
    assert str(info.value) == "package_id: must not be empty, '.' or '..' (a URL path segment)"


def test_a_non_string_path_param_is_a_type_error_naming_the_argument() -> None:
    with pytest.raises(TypeError, match=r"^request_id: expected a str, got int$"):
        encode_path_param("requestId", 5)


# ---------------------------------------------------------------------------- Retry-After parsing


def headers(**values: str) -> Response:
    return Response(503, {k.replace("_", "-"): v for k, v in values.items()})


@pytest.mark.parametrize(
    ("response", "seconds"),
    [
        (headers(retry_after_ms="1500"), 1.5),
        (headers(retry_after_ms="0"), 0.0),
        (headers(retry_after="0"), 0.0),
        (headers(retry_after="2.5"), 2.5),
        (headers(retry_after_ms="nan", retry_after="4"), 4.0),
        (headers(retry_after_ms="-5", retry_after="4"), 4.0),
        (headers(retry_after_ms="inf", retry_after="4"), 4.0),
        (headers(retry_after_ms="soon", retry_after="4"), 4.0),
        (headers(retry_after="-1"), None),
        (headers(retry_after="nan"), None),
        (headers(retry_after="inf"), None),
        (headers(retry_after=""), None),
        (headers(retry_after="soon"), None),
        (headers(retry_after_ms="nan"), None),
        (headers(), None),
    ],
)
def test_retry_after_values(response: Response, seconds: float | None) -> None:
    assert parse_retry_after(response, now=0.0) == seconds


def test_retry_after_http_date_is_relative_to_now() -> None:
    now = 1_700_000_000.0
    response = headers(retry_after=formatdate(now + 30, usegmt=True))
    assert parse_retry_after(response, now=now) == pytest.approx(30.0)
    assert parse_retry_after(response, now=now + 100) == 0.0  # in the past: no wait, not negative


def test_retry_after_http_date_without_zone_is_utc() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    response = headers(retry_after="Wed, 01 Jan 2025 12:00:10 -0000")  # -0000: no zone given
    assert parse_retry_after(response, now=now) == pytest.approx(10.0)


def test_retry_after_http_date_uses_the_clock_by_default() -> None:
    import time

    response = headers(retry_after=formatdate(time.time() + 40, usegmt=True))
    seconds = parse_retry_after(response)
    assert seconds is not None
    assert 38.0 <= seconds <= 40.0


# ---------------------------------------------------------------------------- request building


def test_request_carries_auth_headers_url_and_timeouts() -> None:
    pipeline, _ = make([], base_url="http://127.0.0.1:9/v2///", max_response_bytes=1234)
    pipeline = pipeline.replace(timeout=Timeout(connect=3, read=7, total=99))
    request = pipeline.build_request(GET, path_params={"thingId": "a/b"})
    assert request.method == "GET"
    assert request.url == "http://127.0.0.1:9/v2/things/a%2Fb"
    assert dict(request.headers) == {
        "Authorization": f"Bearer {KEY}",
        "Accept": "application/json",
        "User-Agent": f"gigstack-async/{__version__}",
    }
    assert request.params == ()
    assert request.json is None
    assert request.multipart is None
    assert request.connect_timeout == 3
    assert request.read_timeout == 7
    assert request.max_response_bytes == 1234
    assert request.resend_safe is True


def test_several_path_params_fill_their_own_placeholders() -> None:
    pipeline, _ = make([])
    both = op(path="/a/{first}/b/{second}", path_params=("first", "second"))
    request = pipeline.build_request(both, path_params={"first": "1", "second": "2"})
    assert request.url.endswith("/a/1/b/2")


def test_query_keeps_order_drops_none_and_adds_team_last() -> None:
    pipeline, _ = make([], team="team_7")
    request = pipeline.build_request(
        GET, path_params=PARAMS, query={"limit": 5, "skip": None, "flag": False}
    )
    assert request.params == (("limit", "5"), ("flag", "false"), ("team", "team_7"))


def test_team_is_sent_only_where_the_operation_takes_it() -> None:
    pipeline, _ = make([], team="team_7")
    no_team = op(query_params=())
    assert pipeline.build_request(no_team, path_params=PARAMS).params == ()
    assert make([])[0].build_request(GET, path_params=PARAMS).params == ()


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_bodyless_write_is_labelled_json(method: str) -> None:
    pipeline, _ = make([])
    request = pipeline.build_request(op(method=method), path_params=PARAMS)
    assert request.headers["Content-Type"] == "application/json"


def test_content_type_is_left_to_the_transport_otherwise() -> None:
    pipeline, _ = make([])
    post = op(method="POST")
    with_json = pipeline.build_request(post, path_params=PARAMS, json_body={"a": 1})
    part = (MultipartField("file", b"x", filename="x.xml"),)
    with_parts = pipeline.build_request(post, path_params=PARAMS, multipart=part)
    get = pipeline.build_request(GET, path_params=PARAMS)
    delete = pipeline.build_request(op(method="DELETE"), path_params=PARAMS)
    for request in (with_json, with_parts, get, delete):
        assert "Content-Type" not in request.headers
    assert with_json.json == {"a": 1}
    assert with_parts.multipart == part


@pytest.mark.parametrize("operation", [BILLED, LIMITED])
def test_retry_unsafe_requests_forbid_transport_resends(operation: Operation) -> None:
    pipeline, _ = make([])
    assert pipeline.build_request(operation, path_params=PARAMS).resend_safe is False


def test_replace_keeps_every_other_setting() -> None:
    pipeline, transport = make([], team="t", base_url="http://127.0.0.1:9/x", max_response_bytes=7)
    other = pipeline.replace(team="u")
    assert other.team == "u"
    assert other.transport is transport
    assert other.base_url == "http://127.0.0.1:9/x"
    assert other.timeout == pipeline.timeout
    assert other.retry == pipeline.retry
    assert other.semaphore is pipeline.semaphore
    assert other.max_response_bytes == 7
    request = other.build_request(GET, path_params=PARAMS)
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert repr(other) == "Pipeline(base_url='http://127.0.0.1:9/x', team='u')"


# ---------------------------------------------------------------------------- which answers retry


# `sleeps` (tests/conftest.py): the delays the pipeline asked for; nothing really sleeps.


async def test_the_last_attempt_is_the_one_after_max_retries(sleeps: list[float]) -> None:
    pipeline, transport = make([fail(503), fail(503), ok()], retry=RetryPolicy(max_retries=2))
    assert await call(pipeline) == Thing("a", 1)
    assert len(transport.requests) == 3


async def test_connection_errors_stop_after_max_retries(sleeps: list[float]) -> None:
    errors = [ConnectError("refused")] * 3
    pipeline, transport = make(errors, retry=RetryPolicy(max_retries=2))
    with pytest.raises(APIConnectionError) as info:
        await call(pipeline)
    assert len(transport.requests) == 3
    assert len(sleeps) == 2
    assert str(info.value) == "GET /things/{thingId}: refused (after 3 attempts)"
    assert info.value.method == "GET"
    assert info.value.path == "/things/{thingId}"
    assert info.value.request_sent is False  # no attempt connected: the server never saw it


@pytest.mark.parametrize("operation", [GET, BILLED], ids=["get", "billed"])
async def test_a_call_that_never_connected_says_it_was_never_sent(
    sleeps: list[float], operation: Operation
) -> None:
    """The bulk download sends a create again by itself only after `request_sent` False."""
    pipeline, _ = make([ConnectTimeout("a"), ConnectError("b")], retry=RetryPolicy(max_retries=1))
    with pytest.raises(APIConnectionError) as info:
        await call(pipeline, operation)
    assert info.value.request_sent is False
    assert not isinstance(info.value, OutcomeUnknownError)


@pytest.mark.parametrize(
    "script",
    [[ReadError("reset"), ConnectError("b")], [fail(503), ConnectError("b")]],
    ids=["sent-then-refused", "answered-then-refused"],
)
async def test_a_call_one_attempt_of_which_reached_the_server_says_it_may_have_been_sent(
    sleeps: list[float], script: list[Any]
) -> None:
    pipeline, _ = make(script, retry=RetryPolicy(max_retries=1))
    with pytest.raises(APIConnectionError) as info:
        await call(pipeline)
    assert info.value.request_sent is True


async def test_a_billed_call_that_may_have_been_sent_is_never_called_unsent(
    sleeps: list[float],
) -> None:
    pipeline, transport = make([ReadError("reset")], retry=RetryPolicy(max_retries=2))
    with pytest.raises(OutcomeUnknownError) as info:
        await call(pipeline, BILLED)
    assert info.value.request_sent is True
    assert len(transport.requests) == 1


# A reply that broke off mid-body reached the API (its status line came): the user is told so
# (`IncompleteResponseError`, not a bad base URL or network); a reset before any answer is not.
@pytest.mark.parametrize(
    ("error", "raised"),
    [(BodyReadError("body cut short"), IncompleteResponseError), (ReadError("reset"), None)],
    ids=["body-broke-off", "no-answer"],
)
async def test_a_read_whose_body_broke_off_every_time_is_an_incomplete_response(
    sleeps: list[float], error: Exception, raised: type[Exception] | None
) -> None:
    pipeline, transport = make([error] * 3, retry=RetryPolicy(max_retries=2))
    with pytest.raises(APIConnectionError) as info:
        await call(pipeline)
    assert type(info.value) is (raised or APIConnectionError)
    assert str(info.value) == f"GET /things/{{thingId}}: {error} (after 3 attempts)"
    assert len(transport.requests) == 3  # a read: retried, then reported


async def test_one_attempt_is_singular(sleeps: list[float]) -> None:
    pipeline, _ = make([ReadTimeout("slow")], retry=RetryPolicy(max_retries=0))
    with pytest.raises(APITimeoutError) as info:
        await call(pipeline)
    assert str(info.value) == "GET /things/{thingId}: slow (after 1 attempt)"


async def test_a_custom_retry_status_is_retried_and_others_are_not(sleeps: list[float]) -> None:
    policy = RetryPolicy(retry_statuses=frozenset({400, 418}))
    pipeline, transport = make([fail(400), fail(418), ok()], retry=policy)
    assert await call(pipeline) == Thing("a", 1)
    assert len(transport.requests) == 3
    pipeline, transport = make([fail(503)], retry=policy)
    with pytest.raises(InternalServerError):
        await call(pipeline)
    assert len(transport.requests) == 1


async def test_a_3xx_in_retry_statuses_is_still_a_result(sleeps: list[float]) -> None:
    policy = RetryPolicy(retry_statuses=frozenset({304, 399}))
    for status in (304, 399):
        pipeline, transport = make([ok(status=status)], retry=policy)
        request = pipeline.build_request(GET, path_params=PARAMS)
        result = await pipeline.send(GET, request)
        assert result == CallResult(response=result.response, attempts=1)
        assert result.response.status == status
        assert len(transport.requests) == 1


async def test_attempts_are_counted_in_the_result(sleeps: list[float]) -> None:
    pipeline, _ = make([fail(502), ConnectError("x"), ok()])
    result = await pipeline.send(GET, pipeline.build_request(GET, path_params=PARAMS))
    assert result.attempts == 3


async def test_a_retry_after_at_the_cap_is_waited(sleeps: list[float]) -> None:
    policy = RetryPolicy(retry_after_cap=10.0)
    pipeline, _ = make([fail(503, {"Retry-After": "10"}), ok()], retry=policy)
    assert await call(pipeline) == Thing("a", 1)
    assert sleeps == [10.0]


async def test_a_retry_after_above_a_custom_cap_raises_with_it(sleeps: list[float]) -> None:
    policy = RetryPolicy(retry_after_cap=10.0)
    pipeline, transport = make([fail(429, {"Retry-After": "10.5"})], retry=policy)
    with pytest.raises(RateLimitError) as info:
        await call(pipeline)
    assert info.value.retry_after == 10.5
    assert sleeps == []
    assert len(transport.requests) == 1


async def test_a_rate_limit_without_retry_after_has_none(sleeps: list[float]) -> None:
    pipeline, _ = make([fail(429)], retry=RetryPolicy(max_retries=0))
    with pytest.raises(RateLimitError) as info:
        await call(pipeline)
    assert info.value.retry_after is None


async def test_a_zero_retry_after_is_honoured_not_replaced_by_backoff(sleeps: list[float]) -> None:
    pipeline, _ = make([fail(503, {"Retry-After": "0"}), ok()])
    await call(pipeline)
    assert sleeps == [0.0]


@pytest.mark.parametrize("operation", [BILLED, LIMITED], ids=["billed", "limited"])
async def test_retry_unsafe_status_is_raised_with_retry_after(
    sleeps: list[float], operation: Operation
) -> None:
    pipeline, transport = make([fail(429, {"Retry-After": "2"})], retry=RetryPolicy(max_retries=5))
    with pytest.raises(RateLimitError) as info:
        await call(pipeline, operation)
    assert info.value.retry_after == 2.0
    assert len(transport.requests) == 1
    assert sleeps == []


# ---------------------------------------------------------------------------- deadline


class Clock:
    """A fake event-loop clock: `sleep` advances it, so the deadline arithmetic is exact."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        loop = asyncio.get_running_loop()
        monkeypatch.setattr(loop, "time", lambda: self.now)
        clock = self

        class FakeAsyncio:
            async def sleep(self, delay: float) -> None:
                clock.sleeps.append(delay)
                clock.now += delay

            def __getattr__(self, name: str) -> Any:
                return getattr(asyncio, name)

        monkeypatch.setattr(pipeline_module, "asyncio", FakeAsyncio())


async def test_a_wait_ending_exactly_at_the_deadline_is_not_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    pipeline, transport = make([fail(503, {"Retry-After": "10"})], timeout=Timeout(total=10))
    with pytest.raises(InternalServerError):
        await call(pipeline)
    assert clock.sleeps == []
    assert len(transport.requests) == 1


async def test_a_wait_ending_just_inside_the_deadline_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    pipeline, _ = make([fail(503, {"Retry-After": "9.5"}), ok()], timeout=Timeout(total=10))
    assert await call(pipeline) == Thing("a", 1)
    assert clock.sleeps == [9.5]


async def test_a_backoff_past_the_deadline_ends_connection_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline_module.random, "random", lambda: 0.0)
    clock = Clock(monkeypatch)
    # Backoff 0.5, then 1.0: the second would end at exactly 1.5 = the deadline.
    pipeline, transport = make(
        [ConnectError("a"), ConnectError("b"), ConnectError("c")],
        timeout=Timeout(total=1.5),
        retry=RetryPolicy(max_retries=5),
    )
    with pytest.raises(APIConnectionError, match=r"c \(after 2 attempts\)|b \(after 2 attempts\)"):
        await call(pipeline)
    assert clock.sleeps == [0.5]
    assert len(transport.requests) == 2


async def test_deadline_message_names_the_limit_and_attempts() -> None:
    never = asyncio.Event()

    async def hang(request: Request) -> Response:
        await never.wait()
        raise AssertionError("unreachable")

    pipeline, _ = make(hang, timeout=Timeout(total=0.05))
    with pytest.raises(APITimeoutError) as info:
        await call(pipeline)
    assert (
        str(info.value) == "GET /things/{thingId}: no result within the 0.05 s deadline (1 attempt)"
    )
    assert info.value.method == "GET"
    assert info.value.path == "/things/{thingId}"
    assert isinstance(info.value.__cause__, TimeoutError)


@pytest.mark.parametrize(
    ("operation", "error"),
    [(BILLED, OutcomeUnknownError), (LIMITED, DownloadInterruptedError)],
    ids=["billed", "limited"],
)
async def test_a_retry_unsafe_call_at_the_deadline_says_what_may_have_happened(
    operation: Operation, error: type[Exception]
) -> None:
    never = asyncio.Event()

    async def hang(request: Request) -> Response:
        await never.wait()
        raise AssertionError("unreachable")

    pipeline, _ = make(hang, timeout=Timeout(total=0.05))
    with pytest.raises(error) as info:
        await call(pipeline, operation)
    assert type(info.value) is error
    assert str(info.value).startswith(
        f"{operation.method} /things/{{thingId}}: "
        "no result within the 0.05 s deadline (1 attempt); "
    )


# ---------------------------------------------------------------------------- side effects


@pytest.mark.parametrize("failure", [ReadError("reset"), ReadTimeout("slow")])
async def test_a_billed_call_that_may_have_been_served_is_not_retried(
    sleeps: list[float], failure: Exception
) -> None:
    pipeline, transport = make([failure], retry=RetryPolicy(max_retries=5))
    with pytest.raises(OutcomeUnknownError) as info:
        await call(pipeline, BILLED)
    assert type(info.value) is OutcomeUnknownError
    assert str(info.value) == (
        f"POST /things/{{thingId}}: {failure}; this call may charge money and may have reached the "
        "server, so it was not retried. Check whether it took effect before trying again."
    )
    assert info.value.method == "POST"
    assert info.value.path == "/things/{thingId}"
    assert info.value.__cause__ is failure
    assert len(transport.requests) == 1
    assert sleeps == []


async def test_a_limited_call_that_may_have_been_served_is_not_retried(
    sleeps: list[float],
) -> None:
    failure = ReadError("reset")
    pipeline, transport = make([failure], retry=RetryPolicy(max_retries=5))
    with pytest.raises(DownloadInterruptedError) as info:
        await call(pipeline, LIMITED)
    assert type(info.value) is DownloadInterruptedError
    assert str(info.value) == (
        "GET /things/{thingId}: reset; the download may already count against SAT's limit of 2 "
        "downloads per package, so it was not retried"
    )
    assert info.value.method == "GET"
    assert info.value.path == "/things/{thingId}"
    assert info.value.served is False  # no answer came: it may not have reached SAT
    assert len(transport.requests) == 1


@pytest.mark.parametrize("operation", [BILLED, LIMITED], ids=["billed", "limited"])
async def test_a_retry_unsafe_call_never_sent_is_retried(
    sleeps: list[float], operation: Operation
) -> None:
    pipeline, transport = make([ConnectTimeout("x"), ConnectError("y"), ok()])
    assert await call(pipeline, operation) == Thing("a", 1)
    assert len(transport.requests) == 3


async def test_a_too_large_body_is_not_downloaded_again(sleeps: list[float]) -> None:
    pipeline, transport = make([ResponseTooLarge("over 1000 bytes")])
    with pytest.raises(APIResponseValidationError) as info:
        await call(pipeline)
    assert type(info.value) is APIResponseValidationError
    assert info.value.status == 0
    assert str(info.value) == "GET /things/{thingId}: over 1000 bytes"
    assert len(transport.requests) == 1
    assert sleeps == []


# ---------------------------------------------------------------------------- backoff


@pytest.mark.parametrize(
    ("rand", "expected"),
    [(0.0, [1.0, 2.0, 3.0, 3.0]), (0.5, [0.875, 1.75, 2.625, 2.625])],
)
async def test_backoff_follows_a_custom_policy(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float], rand: float, expected: list[float]
) -> None:
    monkeypatch.setattr(pipeline_module.random, "random", lambda: rand)
    policy = RetryPolicy(max_retries=4, backoff_base=1.0, backoff_cap=3.0)
    pipeline, _ = make([fail(500)] * 4 + [ok()], retry=policy)
    await call(pipeline)
    assert sleeps == pytest.approx(expected)


# ---------------------------------------------------------------------------- logging


async def test_each_attempt_and_retry_is_logged_without_secrets(
    caplog: pytest.LogCaptureFixture, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline_module.random, "random", lambda: 0.0)
    pipeline, _ = make([fail(503), ConnectError("nope"), ok()])
    with caplog.at_level(logging.DEBUG, logger="gigstack_async"):
        await call(pipeline)
    messages = [r.getMessage() for r in caplog.records if r.name == "gigstack_async"]
    assert [m.split(" (attempt")[0] for m in messages] == [
        "GET /things/{thingId} -> 503",
        "retrying GET /things/{thingId} in 0.50 s after HTTP 503",
        "GET /things/{thingId} -> ConnectError",
        "retrying GET /things/{thingId} in 1.00 s after ConnectError",
        "GET /things/{thingId} -> 200",
    ]
    assert [m.split("(attempt ")[1][0] for m in messages] == ["1", "2", "2", "3", "3"]
    assert messages[0].endswith(" ms)")
    levels = [r.levelno for r in caplog.records if r.name == "gigstack_async"]
    assert levels == [logging.DEBUG, logging.INFO, logging.DEBUG, logging.INFO, logging.DEBUG]


async def test_a_deadline_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    never = asyncio.Event()

    async def hang(request: Request) -> Response:
        await never.wait()
        raise AssertionError("unreachable")

    pipeline, _ = make(hang, timeout=Timeout(total=0.05))
    with caplog.at_level(logging.DEBUG, logger="gigstack_async"), pytest.raises(APITimeoutError):
        await call(pipeline)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "GET /things/{thingId} -> deadline"
    ]


# ---------------------------------------------------------------------------- decoding


async def test_status_errors_carry_request_id_and_body(sleeps: list[float]) -> None:
    pipeline, _ = make([fail(400, {"X-Request-Id": "rq_1"})])
    with pytest.raises(BadRequestError) as info:
        await call(pipeline)
    assert info.value.request_id == "rq_1"
    assert info.value.status == 400
    assert info.value.message == "it broke"
    assert info.value.body == {"success": False, "error": {"code": "boom", "message": "it broke"}}
    pipeline, _ = make([fail(400, {"Request-Id": "rq_2"})])
    with pytest.raises(BadRequestError) as info:
        await call(pipeline)
    assert info.value.request_id == "rq_2"


async def test_an_error_body_that_is_not_json_still_maps_by_status(sleeps: list[float]) -> None:
    pipeline, _ = make([Response(400, {}, b"<html>nope</html>")])
    with pytest.raises(BadRequestError) as info:
        await call(pipeline)
    assert info.value.status == 400
    assert info.value.body is None
    assert info.value.raw == b"<html>nope</html>"


def test_decode_raises_the_status_error_of_an_error_result() -> None:
    pipeline, _ = make([])
    response = fail(429, {"Retry-After": "3"})
    with pytest.raises(RateLimitError) as info:
        pipeline.decode(GET, CallResult(response, 1))
    assert info.value.retry_after == 3.0
    response = Response(400, {}, b"{}")
    with pytest.raises(BadRequestError):
        pipeline.decode(GET, CallResult(response, 1))


def test_a_399_is_decoded_as_a_result() -> None:
    pipeline, _ = make([])
    assert pipeline.decode(GET, CallResult(ok(status=399), 1)) == Thing("a", 1)


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (
            Response(200, {"Content-Type": "text/html"}, b"<html>"),
            "GET /things/{thingId}: expected JSON, got text/html: <html>",
        ),
        (
            Response(200, {}, b""),
            "GET /things/{thingId}: expected JSON, got no content type: empty body",
        ),
    ],
)
def test_a_body_that_is_not_json(response: Response, reason: str) -> None:
    pipeline, _ = make([])
    with pytest.raises(APIResponseValidationError) as info:
        pipeline.decode(GET, CallResult(response, 1))
    assert type(info.value) is APIResponseValidationError
    assert str(info.value) == reason
    assert info.value.status == 200
    assert info.value.body == response.body


def test_too_deeply_nested_json_is_an_invalid_body() -> None:
    pipeline, _ = make([])
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(APIResponseValidationError, match="expected JSON"):
        pipeline.decode(GET, CallResult(Response(200, {}, deep), 1))


def test_success_false_on_a_2xx_is_an_error() -> None:
    pipeline, _ = make([])
    body = {"success": False, "error": {"code": "bad", "message": "nope"}}
    with pytest.raises(APIStatusError) as info:
        pipeline.decode(GET, CallResult(ok(body, {"x-request-id": "rq_9"}), 1))
    assert info.value.request_id == "rq_9"
    assert info.value.status == 200


def test_success_true_is_decoded() -> None:
    pipeline, _ = make([])
    body = {"success": True, "name": "z", "count": 2}

    @attrs.frozen
    class Enveloped:
        success: bool
        name: str
        count: int

    assert pipeline.decode(op(model=Enveloped), CallResult(ok(body), 1)) == Enveloped(True, "z", 2)


def test_a_body_that_does_not_match_its_model() -> None:
    pipeline, _ = make([])
    with pytest.raises(APIResponseValidationError) as info:
        pipeline.decode(GET, CallResult(ok({"name": "a"}, {"request-id": "rq_3"}), 1))
    assert type(info.value) is APIResponseValidationError
    assert str(info.value).startswith("GET /things/{thingId}: response does not match Thing: ")
    assert "count" in str(info.value)
    assert info.value.request_id == "rq_3"
    assert info.value.body == b'{"name": "a"}'
    assert info.value.status == 200


def test_a_bad_list_names_five_reasons_and_counts_the_rest() -> None:
    pipeline, _ = make([])
    bad = [{"name": "a", "count": "x"} for _ in range(8)]
    with pytest.raises(APIResponseValidationError) as info:
        pipeline.decode(op(model=list[Thing]), CallResult(ok(bad), 1))
    message = str(info.value)
    assert message.count("; ") == 5  # five reasons, then the count of the rest
    assert message.endswith("; and 3 more")
    assert "expected int @ $[0].count; invalid value" in message
    assert "$[5]" not in message


def test_exactly_five_reasons_have_no_tail() -> None:
    pipeline, _ = make([])
    bad = [{"name": "a", "count": "x"} for _ in range(5)]
    with pytest.raises(APIResponseValidationError) as info:
        pipeline.decode(op(model=list[Thing]), CallResult(ok(bad), 1))
    assert "more" not in str(info.value)
    assert str(info.value).count("; ") == 4


def test_a_model_raising_value_error_is_an_invalid_body() -> None:
    @attrs.frozen
    class Picky:
        name: str = attrs.field(validator=attrs.validators.in_(["ok"]))

    pipeline, _ = make([])
    with pytest.raises(APIResponseValidationError, match="response does not match Picky") as info:
        pipeline.decode(op(model=Picky), CallResult(ok({"name": "no"}), 1))
    assert str(info.value).endswith("Picky: invalid value @ $")


def test_a_plain_value_error_is_quoted_as_the_reason() -> None:
    pipeline, _ = make([])
    with pytest.raises(APIResponseValidationError) as info:
        pipeline.decode(op(model=int), CallResult(ok("abc"), 1))
    assert str(info.value) == (
        "GET /things/{thingId}: response does not match int: expected integer, got str 'abc'"
    )


def test_decode_body_keeps_status_body_and_cause() -> None:
    raw = b'{"name": "a"}'
    with pytest.raises(APIResponseValidationError) as info:
        decode_body(GET, 203, raw, {"name": "a"}, Thing)
    assert info.value.status == 203
    assert info.value.body == raw
    assert info.value.__cause__ is not None
    assert str(info.value).startswith("GET /things/{thingId}: response does not match Thing: ")


def test_money_models_read_fractions_exactly() -> None:
    @attrs.frozen
    class Priced:
        total: Decimal

    pipeline, _ = make([])
    result = pipeline.decode(op(model=Priced), CallResult(Response(200, {}, b'{"total": 0.10}'), 1))
    assert result.total == Decimal("0.10")
    assert str(result.total) == "0.10"


@pytest.mark.parametrize("status", [200, 201, 299])
def test_a_billed_2xx_that_cannot_be_read_says_it_went_through(status: int) -> None:
    pipeline, _ = make([])
    response = Response(status, {"x-request-id": "rq_5"}, b'{"name": 1}')
    with pytest.raises(BilledResponseValidationError) as info:
        pipeline.decode(BILLED, CallResult(response, 1))
    message = str(info.value)
    assert message.startswith(
        f"POST /things/{{thingId}}: HTTP {status}: the call WENT THROUGH (may charge money) "
        "but its response cannot be read: "
    )
    assert "Do not send it again; check its effect first (e.g. the download history)" in message
    assert message.endswith(" [request id rq_5]")
    assert info.value.status == status
    assert info.value.request_id == "rq_5"
    assert info.value.json_body == {"name": 1}
    assert info.value.body == b'{"name": 1}'  # the raw answer is kept to inspect


def test_a_billed_unreadable_body_without_request_id_has_no_suffix() -> None:
    pipeline, _ = make([])
    with pytest.raises(BilledResponseValidationError) as info:
        pipeline.decode(BILLED, CallResult(Response(200, {}, b"nope"), 1))
    assert str(info.value).endswith("(e.g. the download history)")
    assert info.value.json_body is None
    assert info.value.body == b"nope"


@pytest.mark.parametrize("status", [199, 300, 399])
def test_a_billed_non_2xx_unreadable_body_is_a_plain_validation_error(status: int) -> None:
    pipeline, _ = make([])
    with pytest.raises(APIResponseValidationError) as info:
        pipeline.decode(BILLED, CallResult(Response(status, {}, b"nope"), 1))
    assert type(info.value) is APIResponseValidationError


def test_a_limited_2xx_that_cannot_be_read_says_the_download_counted() -> None:
    pipeline, _ = make([])
    with pytest.raises(BilledResponseValidationError) as info:
        pipeline.decode(LIMITED, CallResult(Response(200, {}, b"nope"), 1))
    assert str(info.value).startswith(
        "GET /things/{thingId}: HTTP 200: the call WENT THROUGH (this download counts against "
        "SAT's limit of downloads per package) but its response cannot be read: "
    )
    assert info.value.body == b"nope"


# ---------------------------------------------------------------------------- streaming


async def read_all(pipeline: Pipeline, operation: Operation = GET) -> tuple[bytes, int]:
    async with pipeline.stream(operation, path_params=PARAMS) as body:
        data = b"".join([chunk async for chunk in body.chunks()])
        assert body.received == len(data)
        return data, body.status


async def test_stream_yields_the_body_and_status(sleeps: list[float]) -> None:
    pipeline, transport = make([Response(201, {"X-A": "1"}, b"x" * 70_000)])
    async with pipeline.stream(GET, path_params=PARAMS) as body:
        assert body.status == 201
        assert body.headers == {"X-A": "1"}
        assert body.received == 0
        data = b"".join([chunk async for chunk in body.chunks()])
    assert data == b"x" * 70_000
    assert body.received == 70_000
    assert transport.requests[0].url.endswith("/things/t1")


async def test_stream_retries_retryable_statuses_then_streams(sleeps: list[float]) -> None:
    pipeline, transport = make([fail(503, {"Retry-After": "2"}), fail(500), ok()])
    data, status = await read_all(pipeline)
    assert json.loads(data) == {"name": "a", "count": 1}
    assert status == 200
    assert len(transport.requests) == 3
    assert sleeps[0] == 2.0
    assert 0.75 <= sleeps[1] <= 1.0


async def test_stream_error_status_raises_at_once_with_its_body(sleeps: list[float]) -> None:
    pipeline, transport = make([fail(400, {"x-request-id": "rq_s"})])
    with pytest.raises(BadRequestError) as info:
        await read_all(pipeline)
    assert info.value.request_id == "rq_s"
    assert "it broke" in str(info.value)
    assert len(transport.requests) == 1
    assert sleeps == []


async def test_stream_retries_are_bounded(sleeps: list[float]) -> None:
    pipeline, transport = make([fail(503)] * 3, retry=RetryPolicy(max_retries=2))
    with pytest.raises(InternalServerError):
        await read_all(pipeline)
    assert len(transport.requests) == 3
    assert len(sleeps) == 2


async def test_stream_retry_after_above_the_cap_is_not_waited(sleeps: list[float]) -> None:
    policy = RetryPolicy(retry_after_cap=10.0)
    pipeline, _ = make([fail(429, {"Retry-After": "11"})], retry=policy)
    with pytest.raises(RateLimitError) as info:
        await read_all(pipeline)
    assert info.value.retry_after == 11.0
    assert sleeps == []
    pipeline, _ = make([fail(429, {"Retry-After": "10"}), ok()], retry=policy)
    await read_all(pipeline)
    assert sleeps == [10.0]


async def test_stream_wait_to_the_deadline_is_not_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    pipeline, _ = make([fail(503, {"Retry-After": "10"})], timeout=Timeout(total=10))
    with pytest.raises(InternalServerError):
        await read_all(pipeline)
    assert clock.sleeps == []
    pipeline, _ = make([fail(503, {"Retry-After": "9.5"}), ok()], timeout=Timeout(total=10))
    await read_all(pipeline)
    assert clock.sleeps == [9.5]


@pytest.mark.parametrize("operation", [BILLED, LIMITED], ids=["billed", "limited"])
async def test_stream_retry_unsafe_status_is_not_retried(
    sleeps: list[float], operation: Operation
) -> None:
    pipeline, transport = make([fail(503)])
    with pytest.raises(InternalServerError):
        await read_all(pipeline, operation)
    assert len(transport.requests) == 1


async def test_stream_connection_errors_are_retried_then_reported(sleeps: list[float]) -> None:
    pipeline, transport = make([ConnectError("r")] * 3, retry=RetryPolicy(max_retries=2))
    with pytest.raises(APIConnectionError) as info:
        await read_all(pipeline)
    assert str(info.value) == "GET /things/{thingId}: r (after 3 attempts)"
    assert info.value.path == "/things/{thingId}"
    assert info.value.request_sent is False
    assert len(transport.requests) == 3
    assert len(sleeps) == 2
    pipeline, transport = make([ReadError("r"), ConnectError("r"), ConnectError("r")])
    with pytest.raises(APIConnectionError) as info:
        await read_all(pipeline)
    assert info.value.request_sent is True  # the first attempt may have reached the server
    pipeline, transport = make([ReadError("r"), ok()])
    assert (await read_all(pipeline))[1] == 200
    assert len(transport.requests) == 2


@pytest.mark.parametrize(
    ("operation", "error"),
    [(BILLED, OutcomeUnknownError), (LIMITED, DownloadInterruptedError)],
    ids=["billed", "limited"],
)
async def test_stream_retry_unsafe_read_error_is_not_retried(
    sleeps: list[float], operation: Operation, error: type[Exception]
) -> None:
    pipeline, transport = make([ReadError("reset")])
    with pytest.raises(error) as info:
        await read_all(pipeline, operation)
    assert str(info.value).startswith(f"{operation.method} /things/{{thingId}}: reset; ")
    assert len(transport.requests) == 1
    pipeline, transport = make([ConnectError("refused"), ok()])
    assert (await read_all(pipeline, operation))[1] == 200


async def test_stream_no_response_within_the_deadline() -> None:
    never = asyncio.Event()

    async def hang(request: Request) -> Response:
        await never.wait()
        raise AssertionError("unreachable")

    for operation, error in [(GET, APITimeoutError), (LIMITED, DownloadInterruptedError)]:
        pipeline, _ = make(hang, timeout=Timeout(total=0.05))
        with pytest.raises(error) as info:
            await read_all(pipeline, operation)
        assert type(info.value) is error
        assert str(info.value).startswith("GET /things/{thingId}: no response within the 0.05 s")
        assert getattr(info.value, "served", False) is False  # no answer: it may not count


class BreakingStream:
    """A streamed body that breaks off after `good` bytes."""

    def __init__(self, good: bytes, status: int = 200) -> None:
        self.status = status
        self.headers: dict[str, str] = {}
        self._good = good

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self._good
        raise ReadError("reset by peer")


class StreamingOnly:
    def __init__(self, response: Any) -> None:
        self.response = response
        self.opened = 0
        self.closed = 0

    async def send(self, request: Request) -> Response:
        raise AssertionError("stream() must be used")

    @contextlib.asynccontextmanager
    async def stream(self, request: Request) -> AsyncIterator[Any]:
        self.opened += 1
        try:
            yield self.response
        finally:
            self.closed += 1

    async def aclose(self) -> None:
        return None


def streaming(transport: Any, **kwargs: Any) -> Pipeline:
    pipeline, _ = make([], **kwargs)
    return pipeline.replace(transport=transport)


@pytest.mark.parametrize(
    ("operation", "error", "tail"),
    [
        (GET, APIConnectionError, ""),
        (BILLED, OutcomeUnknownError, "; this call may charge money"),
        (LIMITED, DownloadInterruptedError, "; the download may already count"),
    ],
    ids=["plain", "billed", "limited"],
)
async def test_a_body_that_breaks_off_is_reported_with_bytes_received(
    operation: Operation, error: type[Exception], tail: str
) -> None:
    transport = StreamingOnly(BreakingStream(b"abc"))
    pipeline = streaming(transport)
    received: list[bytes] = []

    async def consume() -> None:
        async with pipeline.stream(operation, path_params=PARAMS) as body:
            async for chunk in body.chunks():
                received.append(chunk)

    with pytest.raises(error) as info:
        await consume()
    assert type(info.value) is error
    assert received == [b"abc"]
    prefix = (
        f"{operation.method} /things/{{thingId}}: reset by peer (the body broke off after 3 bytes)"
    )
    assert str(info.value).startswith(prefix + tail)
    assert info.value.method == operation.method
    assert info.value.path == "/things/{thingId}"
    assert transport.closed == 1
    # A 2xx answer had begun: SAT served the package (a sure download, bulk.machine).
    assert getattr(info.value, "served", True) is True


class CutShortStream(BreakingStream):
    """A streamed body whose answer had begun (status and headers came), then broke off."""

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self._good
        raise BodyReadError("body cut short")


async def test_a_streamed_read_whose_body_broke_off_is_an_incomplete_response() -> None:
    pipeline = streaming(StreamingOnly(CutShortStream(b"abcd")))
    with pytest.raises(APIConnectionError) as info:
        await read_all(pipeline)
    assert type(info.value) is IncompleteResponseError
    assert str(info.value) == (
        "GET /things/{thingId}: body cut short (the body broke off after 4 bytes)"
    )
    assert (info.value.method, info.value.path) == ("GET", "/things/{thingId}")


async def test_a_streaming_transport_is_opened_once_and_closed() -> None:
    transport = StreamingOnly(BufferedStream(Response(200, {}, b"hello")))
    pipeline = streaming(transport)
    async with pipeline.stream(GET, path_params=PARAMS) as body:
        assert transport.closed == 0  # held open while the body is read
        assert b"".join([c async for c in body.chunks()]) == b"hello"
    assert transport.opened == 1
    assert transport.closed == 1


async def test_a_transport_without_stream_falls_back_to_send() -> None:
    class SendOnly:
        async def send(self, request: Request) -> Response:
            return Response(200, {}, b"whole")

        async def aclose(self) -> None:
            return None

    pipeline = streaming(SendOnly())
    assert await read_all(pipeline) == (b"whole", 200)


async def test_stream_error_body_is_read_up_to_one_mebibyte() -> None:
    big = b'{"success": false, "error": {"message": "' + b"x" * (2 * 1024 * 1024) + b'"}}'
    transport = StreamingOnly(BufferedStream(Response(400, {}, big)))
    pipeline = streaming(transport)
    with pytest.raises(BadRequestError) as info:
        await read_all(pipeline)
    assert len(info.value.raw) == 1024 * 1024
    assert info.value.raw == big[: 1024 * 1024]
    assert transport.closed == 1


async def test_read_capped_stops_at_the_limit_and_keeps_a_cut_short_error_body() -> None:
    assert await _read_capped(BufferedStream(Response(400, {}, b"abcdef")), 4) == b"abcd"
    assert await _read_capped(BufferedStream(Response(400, {}, b"abcdef")), 6) == b"abcdef"
    assert await _read_capped(BreakingStream(b"abc"), 10) == b"abc"

    class Counting:
        status = 400
        headers: ClassVar[dict[str, str]] = {}
        pulled = 0

        async def chunks(self) -> AsyncIterator[bytes]:
            for _ in range(10):
                Counting.pulled += 1
                yield b"xx"

    assert await _read_capped(Counting(), 4) == b"xxxx"
    assert Counting.pulled == 2  # stops reading at the limit
    assert await _read_capped(Counting(), 3) == b"xxx"  # the last chunk is cut to fit


async def test_stream_body_deadline() -> None:
    class Slow:
        status = 200
        headers: ClassVar[dict[str, str]] = {}

        async def chunks(self) -> AsyncIterator[bytes]:
            yield b"a"
            await asyncio.sleep(10)
            yield b"b"

    for operation, error in [
        (GET, APITimeoutError),
        (BILLED, OutcomeUnknownError),
        (LIMITED, DownloadInterruptedError),
    ]:
        pipeline = streaming(StreamingOnly(Slow()), timeout=Timeout(total=0.1))
        with pytest.raises(error) as info:
            await read_all(pipeline, operation)
        assert type(info.value) is error
        assert str(info.value).startswith(
            f"{operation.method} /things/{{thingId}}: the body did not arrive within the deadline"
        )
        # Its 2xx answer had begun: SAT served the package (a sure download, bulk.machine).
        assert getattr(info.value, "served", True) is True


async def test_the_consumers_own_timeout_is_not_the_sdks() -> None:
    class Slow:
        status = 200
        headers: ClassVar[dict[str, str]] = {}

        async def chunks(self) -> AsyncIterator[bytes]:
            await asyncio.sleep(10)
            yield b"b"

    pipeline = streaming(StreamingOnly(Slow()), timeout=Timeout(total=60))
    with pytest.raises(TimeoutError) as info:
        async with asyncio.timeout(0.05):
            await read_all(pipeline)
    assert type(info.value) is TimeoutError


# ---------------------------------------------------------------------------- more pinned details


def test_a_zoneless_http_date_is_utc_whatever_the_local_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    monkeypatch.setenv("TZ", "America/Mexico_City")
    time.tzset()
    try:
        now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()
        naive = headers(retry_after="Wed, 01 Jan 2025 12:00:10 -0000")
        assert parse_retry_after(naive, now=now) == pytest.approx(10.0)
        zoned = headers(retry_after="Wed, 01 Jan 2025 06:00:10 -0600")
        assert parse_retry_after(zoned, now=now) == pytest.approx(10.0)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


async def test_call_sends_the_multipart_body(sleeps: list[float]) -> None:
    pipeline, transport = make([ok()])
    part = (MultipartField("file", b"<xml/>", filename="a.xml", content_type="text/xml"),)
    assert await call(pipeline, op(method="POST"), multipart=part) == Thing("a", 1)
    assert transport.requests[0].multipart == part
    assert "Content-Type" not in transport.requests[0].headers


async def test_call_sends_query_and_json(sleeps: list[float]) -> None:
    pipeline, transport = make([ok()], team="t")
    await call(pipeline, op(method="POST"), query={"limit": 3}, json_body={"a": 1})
    (request,) = transport.requests
    assert request.params == (("limit", "3"), ("team", "t"))
    assert request.json == {"a": 1}


def _elapsed_ms(message: str) -> float:
    return float(message.rsplit(", ", 1)[1].removesuffix(" ms)"))


async def test_logged_durations_are_elapsed_times(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    pipeline, _ = make([fail(503, {"Retry-After": "2"}), ConnectError("x"), ok()])
    with caplog.at_level(logging.DEBUG, logger="gigstack_async"):
        await call(pipeline)
        async with pipeline.replace(transport=MockTransport(lambda r: ok())).stream(
            GET, path_params=PARAMS
        ) as body:
            assert body.status == 200
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 4
    assert [_elapsed_ms(m) for m in debug] == [0.0, 0.0, 0.0, 0.0]
    assert clock.sleeps[0] == 2.0


async def test_stream_attempts_are_logged(
    caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    pipeline, _ = make([ConnectError("x"), fail(503), ok()])
    with caplog.at_level(logging.DEBUG, logger="gigstack_async"):
        await read_all(pipeline)
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert [m.split(" (attempt")[0] for m in debug] == [
        "GET /things/{thingId} -> ConnectError",
        "GET /things/{thingId} -> 503",
        "GET /things/{thingId} -> 200",
    ]
    assert all(0 <= _elapsed_ms(m) < 10_000 for m in debug)


async def test_a_deadline_log_shows_a_real_duration(caplog: pytest.LogCaptureFixture) -> None:
    never = asyncio.Event()

    async def hang(request: Request) -> Response:
        await never.wait()
        raise AssertionError("unreachable")

    pipeline, _ = make(hang, timeout=Timeout(total=0.05))
    with caplog.at_level(logging.DEBUG, logger="gigstack_async"), pytest.raises(APITimeoutError):
        await call(pipeline)
    (message,) = [r.getMessage() for r in caplog.records]
    assert 0 <= _elapsed_ms(message) < 10_000


async def test_stream_errors_name_method_and_path() -> None:
    never = asyncio.Event()

    async def hang(request: Request) -> Response:
        await never.wait()
        raise AssertionError("unreachable")

    pipeline, _ = make(hang, timeout=Timeout(total=0.05))
    with pytest.raises(APITimeoutError) as info:
        await read_all(pipeline)
    assert (info.value.method, info.value.path) == ("GET", "/things/{thingId}")


async def test_stream_connection_error_names_method_and_path(sleeps: list[float]) -> None:
    pipeline, _ = make([ConnectError("r")], retry=RetryPolicy(max_retries=0))
    with pytest.raises(APIConnectionError) as info:
        await read_all(pipeline)
    assert (info.value.method, info.value.path) == ("GET", "/things/{thingId}")
    assert str(info.value).startswith("GET /things/{thingId}: r (after 1 attempt")


async def test_stream_backoff_to_the_deadline_is_not_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline_module.random, "random", lambda: 0.0)
    clock = Clock(monkeypatch)
    pipeline, transport = make(
        [ConnectError("a"), ConnectError("b")],
        timeout=Timeout(total=1.5),
        retry=RetryPolicy(max_retries=5),
    )
    with pytest.raises(APIConnectionError, match=r"b \(after 2 attempts\)"):
        await read_all(pipeline)
    assert clock.sleeps == [0.5]  # the next, 1.0 s, would end exactly at the deadline
    assert len(transport.requests) == 2


async def test_stream_rate_limit_keeps_retry_after_when_retries_run_out(
    sleeps: list[float],
) -> None:
    for operation in (GET, BILLED):
        pipeline, _ = make([fail(429, {"Retry-After": "4"})], retry=RetryPolicy(max_retries=0))
        with pytest.raises(RateLimitError) as info:
            await read_all(pipeline, operation)
        assert info.value.retry_after == 4.0


def test_plain_models_read_fractions_as_float() -> None:
    @attrs.frozen
    class Measured:
        ratio: float

    pipeline, _ = make([])
    result = pipeline.decode(
        op(model=Measured), CallResult(Response(200, {}, b'{"ratio": 0.5}'), 1)
    )
    assert type(result.ratio) is float


def test_a_success_false_error_keeps_the_raw_body() -> None:
    pipeline, _ = make([])
    response = ok({"success": False, "error": {"code": "bad", "message": "nope"}})
    with pytest.raises(APIStatusError) as info:
        pipeline.decode(GET, CallResult(response, 1))
    assert info.value.raw == response.body
    assert info.value.message == "nope"


def test_a_model_mismatch_is_caused_by_the_decode_error_with_status_and_body() -> None:
    pipeline, _ = make([])
    response = ok({"name": "a"}, status=201)
    with pytest.raises(APIResponseValidationError) as info:
        pipeline.decode(GET, CallResult(response, 1))
    cause = info.value.__cause__
    assert isinstance(cause, APIResponseValidationError)
    assert cause.status == 201
    assert cause.body == response.body


def test_a_base_url_ending_in_x_keeps_it() -> None:
    pipeline, _ = make([], base_url="http://127.0.0.1:9/X//")
    assert pipeline.build_request(GET, path_params=PARAMS).url == "http://127.0.0.1:9/X/things/t1"


def test_a_bad_path_param_is_named_by_build_request() -> None:
    pipeline, transport = make([])
    with pytest.raises(InvalidParameterError) as info:
        pipeline.build_request(GET, path_params={"thingId": ".."})
    assert info.value.field == "thing_id"
    assert transport.requests == []


async def test_a_rate_limit_past_the_deadline_keeps_its_retry_after(sleeps: list[float]) -> None:
    pipeline, _ = make([fail(429, {"Retry-After": "20"})], timeout=Timeout(total=5))
    with pytest.raises(RateLimitError) as info:
        await call(pipeline)
    assert info.value.retry_after == 20.0
    assert sleeps == []


async def test_logged_durations_are_in_milliseconds(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)

    def slow(request: Request) -> Response:
        clock.now += 0.25
        return ok()

    pipeline, _ = make(slow)
    with caplog.at_level(logging.DEBUG, logger="gigstack_async"):
        await call(pipeline)
    (message,) = [r.getMessage() for r in caplog.records]
    assert message == "GET /things/{thingId} -> 200 (attempt 1, 250.0 ms)"


def test_untyped_json_keeps_exact_numbers_but_float_fields_get_floats() -> None:
    # Untyped JSON may hold money: its fractions stay exact. A float field still gets a float.
    pipeline, _ = make([])
    result = pipeline.decode(
        op(model=dict[str, Any]), CallResult(Response(200, {}, b'{"a": 0.10, "b": [1.25]}'), 1)
    )
    assert result == {"a": Decimal("0.10"), "b": [Decimal("1.25")]}
    assert str(result["a"]) == "0.10"


@pytest.mark.parametrize(("name", "shown"), [("Rfc", "rfc"), ("PackageId", "package_id")])
def test_an_argument_name_starting_upper_case_has_no_leading_underscore(
    name: str, shown: str
) -> None:
    with pytest.raises(TypeError, match=rf"^{shown}: expected a str"):
        encode_path_param(name, 5)


# ---------------------------------------------------------------------------- idempotency keys


def _keyed(location: str) -> Operation:
    from gigstack_async._operation import Idempotency

    return Operation(
        operation_id="create",
        method="POST",
        path="/things",
        resource="things",
        response_model=Thing,
        side_effect="charges",
        idempotency=Idempotency("idempotency_key", location),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("location", ["body", "header"])
async def test_every_retry_resends_the_same_generated_key(
    sleeps: list[float], location: str
) -> None:
    operation = _keyed(location)
    assert operation.no_resend is False  # a key makes a side effect safe to resend
    pipeline, transport = make([ReadError("reset"), fail(503), ok()])
    assert await pipeline.call(operation, json_body={"a": 1}) == Thing("a", 1)
    assert len(transport.requests) == 3
    if location == "body":
        keys = {r.json["idempotency_key"] for r in transport.requests}
        assert all(r.json["a"] == 1 for r in transport.requests)
    else:
        keys = {r.headers["idempotency_key"] for r in transport.requests}
    (key,) = keys
    assert key.startswith("gsa_")
    assert len(key) == len("gsa_") + 32


@pytest.mark.parametrize("location", ["body", "header"])
async def test_a_given_key_is_sent_unchanged_and_two_calls_differ(
    sleeps: list[float], location: str
) -> None:
    operation = _keyed(location)
    pipeline, transport = make([ok(), ok(), ok()])
    await pipeline.call(operation, json_body={"a": 1}, idempotency_key="mine-1")
    await pipeline.call(operation, json_body={"a": 1})
    await pipeline.call(operation, json_body={"a": 1})
    if location == "body":
        sent = [r.json["idempotency_key"] for r in transport.requests]
    else:
        sent = [r.headers["idempotency_key"] for r in transport.requests]
    assert sent[0] == "mine-1"
    assert sent[1] != sent[2]


def test_a_key_already_in_the_body_is_kept() -> None:
    from gigstack_async._pipeline import with_idempotency_key

    body, headers = with_idempotency_key(_keyed("body"), {"idempotency_key": "k1"}, None)
    assert (body, headers) == ({"idempotency_key": "k1"}, None)
    body, _ = with_idempotency_key(_keyed("body"), {"idempotency_key": ""}, None)
    assert body["idempotency_key"].startswith("gsa_")
    body, _ = with_idempotency_key(_keyed("body"), None, "k2")
    assert body == {"idempotency_key": "k2"}


# ---------------------------------------------------------------------------- file downloads


async def _download(pipeline: Pipeline, url: str) -> bytes:
    async with pipeline.download(url) as body:
        return b"".join([chunk async for chunk in body.chunks()])


async def test_the_key_goes_only_to_urls_under_base_url(sleeps: list[float]) -> None:
    pipeline, transport = make(lambda r: Response(200, {}, b"pdf"))
    base = "http://127.0.0.1:9/v2"
    assert await _download(pipeline, base + "/files/a.pdf") == b"pdf"
    for url in (
        "http://127.0.0.1:9/v2x/a.pdf",  # not under /v2/
        "http://127.0.0.1:10/v2/a.pdf",  # another port
        "https://127.0.0.1:9/v2/a.pdf",  # another scheme
        "http://storage.invalid/v2/a.pdf",  # another host
    ):
        await _download(pipeline, url)
    auth = [r.headers.get("Authorization") for r in transport.requests]
    assert auth == [f"Bearer {KEY}", None, None, None, None]
    assert all(r.method == "GET" for r in transport.requests)


async def test_a_redirect_off_the_api_drops_the_key(sleeps: list[float]) -> None:
    def handler(request: Request) -> Response:
        if request.url.endswith("/v2/files/a.pdf"):
            return Response(302, {"Location": "http://storage.invalid/signed?sig=1"}, b"")
        if request.url.endswith("/back"):
            return Response(200, {}, b"ok")
        return Response(307, {"location": "http://127.0.0.1:9/v2/back"}, b"")

    pipeline, transport = make(handler)
    assert await _download(pipeline, "http://127.0.0.1:9/v2/files/a.pdf") == b"ok"
    assert [r.url for r in transport.requests] == [
        "http://127.0.0.1:9/v2/files/a.pdf",
        "http://storage.invalid/signed?sig=1",
        "http://127.0.0.1:9/v2/back",
    ]
    assert [r.headers.get("Authorization") for r in transport.requests] == [
        f"Bearer {KEY}",
        None,
        f"Bearer {KEY}",
    ]


@pytest.mark.parametrize(("hops", "ok_"), [(5, True), (6, False)])
async def test_at_most_five_redirects(sleeps: list[float], hops: int, ok_: bool) -> None:
    def handler(request: Request) -> Response:
        n = int(request.url.rsplit("/", 1)[1])
        if n < hops:
            return Response(301, {"Location": str(n + 1)}, b"")
        return Response(200, {}, b"end")

    pipeline, transport = make(handler)
    if ok_:
        assert await _download(pipeline, "http://127.0.0.1:9/v2/f/0") == b"end"
        assert len(transport.requests) == 6
    else:
        with pytest.raises(APIResponseValidationError) as info:
            await _download(pipeline, "http://127.0.0.1:9/v2/f/0")
        assert str(info.value) == "more than 5 redirects"
        assert len(transport.requests) == 6


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/a.pdf", "file:///etc/passwd", "http:///a"])
async def test_a_file_location_that_is_not_http_is_refused(url: str) -> None:
    pipeline, transport = make([])
    with pytest.raises(APIResponseValidationError) as info:
        await _download(pipeline, url)
    assert str(info.value) == "the API gave a file location that is not an http(s) URL"
    assert transport.requests == []


async def test_a_redirect_without_location_is_the_answer(sleeps: list[float]) -> None:
    pipeline, transport = make([Response(302, {}, b"moved")])
    assert await _download(pipeline, "http://127.0.0.1:9/v2/a") == b"moved"
    assert len(transport.requests) == 1


def test_a_refused_number_is_named_not_called_non_json() -> None:
    pipeline, _ = make([])
    response = Response(200, {"Content-Type": "application/json"}, b'{"name": "a", "count": NaN}')
    with pytest.raises(APIResponseValidationError) as info:
        pipeline.decode(GET, CallResult(response, 1))
    assert str(info.value).startswith(
        "GET /things/{thingId}: NaN is not a JSON number, got application/json: "
    )


@pytest.mark.parametrize(
    ("base", "url", "sent"),
    [
        ("http://api.invalid/v2", "http://api.invalid:80/v2/a", True),
        ("http://api.invalid/v2", "http://api.invalid:81/v2/a", False),
        ("https://api.invalid/v2", "https://api.invalid:443/v2/a", True),
        ("https://api.invalid/v2", "https://api.invalid:80/v2/a", False),
        ("https://api.invalid:80/v2", "https://api.invalid/v2/a", False),
        ("http://api.invalid/v2", "http://API.Invalid/v2/a", True),
        ("http://api.invalid/v2", "http://other.invalid/v2/a", False),
    ],
)
async def test_the_api_origin_uses_default_ports_and_ignores_host_case(
    sleeps: list[float], base: str, url: str, sent: bool
) -> None:
    pipeline, transport = make(lambda r: Response(200, {}, b"x"), base_url=base)
    await _download(pipeline, url)
    assert ("Authorization" in transport.requests[0].headers) is sent


@pytest.mark.parametrize(
    "host",
    ["apı.gigstack.io", "api.gigſtack.io"],  # dotless ı and long ſ upper-case to I and S
)
async def test_the_key_never_goes_to_a_host_that_only_upper_cases_to_the_api(
    sleeps: list[float], host: str
) -> None:
    def handler(request: Request) -> Response:
        if request.url == "https://api.gigstack.io/v2/files/a.pdf":
            return Response(302, {"Location": f"https://{host}/v2/files/b.pdf"}, b"")
        return Response(200, {}, b"pdf")

    pipeline, transport = make(handler, base_url="https://api.gigstack.io/v2")
    await _download(pipeline, f"https://{host}/v2/files/a.pdf")  # asked directly
    await _download(pipeline, "https://api.gigstack.io/v2/files/a.pdf")  # redirected there
    assert [(r.url, r.headers.get("Authorization")) for r in transport.requests] == [
        (f"https://{host}/v2/files/a.pdf", None),
        ("https://api.gigstack.io/v2/files/a.pdf", f"Bearer {KEY}"),
        (f"https://{host}/v2/files/b.pdf", None),
    ]


# ---------------------------------------------------------------------------- a run's send window


class SlowSlot:
    """The client's in-flight limit, where each wait for a slot takes the next of `waits`
    seconds on `clock` (other calls hold the slots meanwhile)."""

    def __init__(self, clock: Clock, waits: list[float]) -> None:
        self.clock = clock
        self.waits = waits

    async def __aenter__(self) -> None:
        self.clock.now += self.waits.pop(0) if self.waits else 0.0

    async def __aexit__(self, *exc: object) -> None:
        return None


SENDS = [
    pytest.param(lambda p, o: call(p, o), id="call"),
    pytest.param(lambda p, o: read_all(p, o), id="stream"),
]


@pytest.mark.parametrize("send", SENDS)
@pytest.mark.parametrize("operation", [GET, BILLED, LIMITED], ids=["read", "billed", "limited"])
async def test_a_call_queued_for_a_slot_past_its_runs_window_is_not_sent(
    monkeypatch: pytest.MonkeyPatch, send: Any, operation: Operation
) -> None:
    clock = Clock(monkeypatch)
    pipeline, transport = make([ok()])
    pipeline.semaphore = SlowSlot(clock, [1.0])  # type: ignore[assignment]
    with send_before(clock.now + 1.0), pytest.raises(SendWindowClosedError) as info:
        await send(pipeline, operation)
    assert transport.requests == []
    assert info.value.request_sent is False  # nothing billed, no download spent
    assert (info.value.method, info.value.path) == (operation.method, operation.path)
    assert str(info.value) == (
        f"{operation.method} {operation.path}: not sent, the run's deadline had passed"
    )


@pytest.mark.parametrize("send", SENDS)
async def test_a_call_whose_slot_comes_just_inside_the_window_is_sent(
    monkeypatch: pytest.MonkeyPatch, send: Any
) -> None:
    clock = Clock(monkeypatch)
    pipeline, transport = make([ok()])
    pipeline.semaphore = SlowSlot(clock, [0.999])  # type: ignore[assignment]
    with send_before(clock.now + 1.0):
        await send(pipeline, GET)
    assert len(transport.requests) == 1


@pytest.mark.parametrize("send", SENDS)
async def test_a_retry_queued_past_the_window_says_an_earlier_attempt_reached(
    monkeypatch: pytest.MonkeyPatch, send: Any
) -> None:
    clock = Clock(monkeypatch)
    pipeline, transport = make([fail(503, {"Retry-After": "0.1"}), ok()])
    pipeline.semaphore = SlowSlot(clock, [0.0, 5.0])  # type: ignore[assignment]
    with send_before(clock.now + 1.0), pytest.raises(SendWindowClosedError) as info:
        await send(pipeline, GET)
    assert len(transport.requests) == 1
    assert info.value.request_sent is True  # the first attempt was answered


@pytest.mark.parametrize("send", SENDS)
async def test_a_retry_after_ending_at_the_window_is_not_waited(
    monkeypatch: pytest.MonkeyPatch, send: Any
) -> None:
    clock = Clock(monkeypatch)
    pipeline, transport = make([fail(503, {"Retry-After": "10"}), ok()])
    with send_before(clock.now + 10.0), pytest.raises(InternalServerError):
        await send(pipeline, GET)
    assert clock.sleeps == []
    assert len(transport.requests) == 1

    pipeline, transport = make([fail(503, {"Retry-After": "9.5"}), ok()])
    with send_before(clock.now + 10.0):
        await send(pipeline, GET)
    assert clock.sleeps == [9.5]
    assert len(transport.requests) == 2


@pytest.mark.parametrize("send", SENDS)
async def test_a_connection_backoff_ending_at_the_window_is_not_waited(
    monkeypatch: pytest.MonkeyPatch, send: Any
) -> None:
    monkeypatch.setattr(pipeline_module.random, "random", lambda: 0.0)  # backoff 0.5 s
    clock = Clock(monkeypatch)
    pipeline, transport = make([ConnectError("a"), ok()])
    with send_before(clock.now + 0.5), pytest.raises(APIConnectionError) as info:
        await send(pipeline, GET)
    assert not isinstance(info.value, SendWindowClosedError)  # the connect failure itself
    assert info.value.request_sent is False
    assert clock.sleeps == []
    assert len(transport.requests) == 1

    pipeline, transport = make([ConnectError("a"), ok()])
    with send_before(clock.now + 0.6):
        await send(pipeline, GET)
    assert clock.sleeps == [0.5]
    assert len(transport.requests) == 2


async def test_the_window_is_logged_as_not_sent(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(monkeypatch)
    pipeline, _ = make([ok()])
    caplog.set_level(logging.DEBUG, logger="gigstack_async")
    with send_before(clock.now), pytest.raises(SendWindowClosedError):
        await call(pipeline)
    assert "GET /things/{thingId} -> not sent: past the run's deadline (attempt 1, 0.0 ms)" in (
        caplog.text
    )


# ---------------------------------------------------------------------------- departures


@pytest.mark.parametrize("send", SENDS)
async def test_a_call_handed_to_the_transport_counts_as_left(send: Any) -> None:
    """A transport that cannot see its request leave (the mock) never marks `watched`: once
    the pipeline handed the request over, it may have left."""
    pipeline, transport = make([ok()])
    with _departure.watch() as departure:
        await send(pipeline, GET)
    assert len(transport.requests) == 1
    assert (departure.attempted, departure.watched, departure.left) == (True, False, False)
    assert not departure.never_left


@pytest.mark.parametrize("send", SENDS)
async def test_a_call_stopped_before_the_transport_never_left(
    monkeypatch: pytest.MonkeyPatch, send: Any
) -> None:
    clock = Clock(monkeypatch)
    pipeline, transport = make([ok()])
    with (
        _departure.watch() as departure,
        send_before(clock.now),
        pytest.raises(SendWindowClosedError),
    ):
        await send(pipeline, BILLED)
    assert transport.requests == []
    assert not departure.attempted
    assert departure.never_left


class Stalled:
    """A transport that sees its request start and then waits: for a connection that never
    comes (`left` False), or for an answer after its bytes left (`left` True)."""

    def __init__(self, *, left: bool) -> None:
        self.left = left

    async def send(self, request: Request) -> Response:
        departure = _departure.current()
        if departure is not None:
            departure.watched = True
            departure.left = self.left
        await asyncio.sleep(10)
        raise AssertionError("the deadline should have come first")

    async def aclose(self) -> None:
        return None


def stalled(*, left: bool) -> Pipeline:
    return Pipeline(
        transport=Stalled(left=left),  # type: ignore[arg-type]
        api_key=KEY,
        base_url="http://127.0.0.1:9/v2",
        team=None,
        timeout=Timeout(total=0.05),
        retry=RetryPolicy(),
        semaphore=asyncio.Semaphore(4),
        max_response_bytes=1000,
    )


async def test_a_billed_call_still_connecting_at_its_deadline_never_left() -> None:
    """Review r3 #1: a create whose per-call deadline came while it was still connecting (or
    queued) was an OutcomeUnknownError, and its month needed the dashboard; nothing had left."""
    with _departure.watch(), pytest.raises(APITimeoutError) as info:
        await call(stalled(left=False), BILLED)
    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.request_sent is False
    assert str(info.value).endswith("deadline (1 attempt); it never left this machine")


@pytest.mark.parametrize("watched", [True, False], ids=["left", "not-watched"])
async def test_a_billed_call_that_may_have_left_at_its_deadline_is_outcome_unknown(
    watched: bool,
) -> None:
    with contextlib.ExitStack() as stack:
        if watched:
            stack.enter_context(_departure.watch())
        with pytest.raises(OutcomeUnknownError):
            await call(stalled(left=watched), BILLED)
