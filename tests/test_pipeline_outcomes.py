"""Unknown outcomes of side-effect calls, error by error (issue 13: mutants that survived).

A 5xx or a lost answer to a call that creates, charges, stamps/cancels a CFDI or moves money is
not a refusal: the server may have acted. The user gets an `OutcomeUnknownError` and decides
what to do from its message and fields, so both are asserted exactly here, per side-effect kind,
with the real operations of the generated table:

- without an idempotency key: sent once, never retried; "check whether it took effect";
- with one (payments.register / payments.request): retried with the SAME key until the retries
  run out, then "retry WITH idempotency_key=..." and `error.idempotency_key`.

Everything runs against `MockTransport` with sleeps recorded, not waited (fast: mutmut runs it
for every mutant of the pipeline).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest

from gigstack_async._config import RetryPolicy, Timeout
from gigstack_async._generated import operations as ops
from gigstack_async._operation import Operation
from gigstack_async._pipeline import Pipeline
from gigstack_async.errors import (
    APIStatusError,
    BadRequestError,
    BilledResponseValidationError,
    InternalServerError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
)
from gigstack_async.transports import MockTransport, ReadError, Request, Response

KEY = "sk_test_Zq7SECRETvalue4Kp9x"
BASE = "http://127.0.0.1:9/v2"

# One real operation per side-effect kind, and what the error says that kind does.
UNKEYED = [
    pytest.param(
        ops.CREATE_CLIENT,
        "this call creates a record or sends a message (a resend would make a second one)",
        id="creates",
    ),
    pytest.param(ops.CREATE_DOWNLOAD_REQUEST, "this call may charge money", id="charges"),
    pytest.param(
        ops.STAMP_DRAFT_INVOICE,
        "this call creates, stamps or cancels a fiscal document (CFDI)",
        id="fiscal-document",
    ),
    pytest.param(ops.REFUND_PAYMENT, "this call moves money", id="moves-money"),
]
KEYED = [
    pytest.param(ops.REGISTER_PAYMENT, id="payments.register"),
    pytest.param(ops.REQUEST_PAYMENT, id="payments.request"),
]

ENVELOPE = json.dumps({"success": False, "error": {"code": "internal", "message": "boom"}})


def make(
    *answers: Any,
    retry: RetryPolicy | None = None,
    timeout: Timeout | None = None,
    base: str = BASE,
) -> tuple[Pipeline, MockTransport]:
    """A pipeline whose transport answers `answers` in order (an exception is raised)."""
    queue = list(answers)

    def handler(request: Request) -> Response:
        assert queue, "unexpected extra request"
        answer = queue.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, Response)
        return answer

    transport = MockTransport(handler)
    pipeline = Pipeline(
        transport=transport,
        api_key=KEY,
        base_url=base,
        team=None,
        timeout=timeout or Timeout(total=3600),
        retry=retry or RetryPolicy(max_retries=2),
        semaphore=asyncio.Semaphore(4),
    )
    return pipeline, transport


async def send(pipeline: Pipeline, op: Operation, key: str | None = None) -> Any:
    params = dict.fromkeys(op.path_params, "inv_1")
    body = None if op.body is None else {"note": "x"}
    return await pipeline.call(op, path_params=params, json_body=body, idempotency_key=key)


def server_error(status: int, *, body: bytes = ENVELOPE.encode(), request_id: str = "") -> Response:
    headers = {"Content-Type": "application/json"}
    if request_id:
        headers["x-request-id"] = request_id
    return Response(status, headers, body)


def unkeyed_text(op: Operation, status: int, shown: str, effect: str, request_id: str) -> str:
    tail = f" [request id {request_id}]" if request_id else ""
    return (
        f"{op.method} {op.path}: HTTP {status}{shown}; {effect} and the server may have acted "
        "before failing, so it was not retried. Check whether it took effect before trying again."
        + tail
    )


def keyed_text(prefix: str, key: str) -> str:
    return (
        f"{prefix}; this call moves money and may have taken effect. Retry WITH "
        f"idempotency_key={key!r} (error.idempotency_key): the server recognises the key and "
        "does not act twice; a retry without it may act twice."
    )


# ---------------------------------------------------------------------------- without a key


# 503 is a retry status (the no-resend rule stops it); 501 is not retried by anyone.
@pytest.mark.parametrize("status", [503, 501])
@pytest.mark.parametrize(("op", "effect"), UNKEYED)
async def test_a_5xx_to_a_side_effect_call_is_an_unknown_outcome_sent_once(
    sleeps: list[float], op: Operation, effect: str, status: int
) -> None:
    answer = server_error(status, request_id="req_5xx_1")
    pipeline, transport = make(answer)
    with pytest.raises(OutcomeUnknownError) as info:
        await send(pipeline, op)
    error = info.value
    assert str(error) == unkeyed_text(op, status, f": {ENVELOPE}", effect, "req_5xx_1")
    assert (error.method, error.path) == (op.method, op.path)
    assert error.status == status
    assert error.request_id == "req_5xx_1"
    assert error.body == answer.body  # the server's own words, for the support ticket
    assert error.idempotency_key is None  # nothing makes a retry safe
    assert len(transport.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(("op", "effect"), UNKEYED)
async def test_an_empty_5xx_without_a_request_id_still_says_what_to_check(
    op: Operation, effect: str
) -> None:
    pipeline, transport = make(Response(502, {}, b""))
    with pytest.raises(OutcomeUnknownError) as info:
        await send(pipeline, op)
    error = info.value
    assert str(error) == unkeyed_text(op, 502, "", effect, "")
    assert error.request_id is None
    assert error.body == b""
    assert error.status == 502
    assert len(transport.requests) == 1


# ---------------------------------------------------------------------------- with a key


@pytest.mark.parametrize("op", KEYED)
async def test_5xx_until_retries_run_out_names_the_key_to_retry_with(
    sleeps: list[float], op: Operation
) -> None:
    answers = [server_error(502, body=b"bad gateway", request_id=f"req_{n}") for n in range(3)]
    pipeline, transport = make(*answers)
    with pytest.raises(OutcomeUnknownError) as info:
        await send(pipeline, op, key="order-77")
    error = info.value
    assert str(error) == keyed_text(f"{op.method} {op.path}: HTTP 502: bad gateway", "order-77")
    assert (error.method, error.path) == (op.method, op.path)
    assert error.idempotency_key == "order-77"
    assert error.status == 502
    assert error.request_id == "req_2"  # the last answer's
    assert error.body == b"bad gateway"
    assert [r.json["idempotency_key"] for r in transport.requests] == ["order-77"] * 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("op", KEYED)
async def test_a_5xx_that_is_never_retried_still_names_the_generated_key(
    sleeps: list[float], op: Operation
) -> None:
    answer = server_error(501, request_id="req_501")
    pipeline, transport = make(answer)
    with pytest.raises(OutcomeUnknownError) as info:
        await send(pipeline, op)
    error = info.value
    (request,) = transport.requests
    key = request.json["idempotency_key"]
    assert key.startswith("gsa_")
    assert error.idempotency_key == key
    assert str(error) == keyed_text(f"{op.method} {op.path}: HTTP 501: {ENVELOPE}", key)
    assert (error.status, error.request_id, error.body) == (501, "req_501", answer.body)
    assert sleeps == []


@pytest.mark.parametrize("op", KEYED)
async def test_answers_lost_until_retries_run_out_name_the_key(
    sleeps: list[float], op: Operation
) -> None:
    pipeline, transport = make(*[ReadError("reset by peer")] * 3)
    with pytest.raises(OutcomeUnknownError) as info:
        await send(pipeline, op, key="order-78")
    error = info.value
    prefix = f"{op.method} {op.path}: reset by peer (after 3 attempts)"
    assert str(error) == keyed_text(prefix, "order-78")
    assert (error.method, error.path) == (op.method, op.path)
    assert error.idempotency_key == "order-78"
    # No answer came: nothing to show, and nothing invented.
    assert (error.status, error.request_id, error.body) == (None, None, b"")
    assert len(transport.requests) == 3


@pytest.mark.parametrize("op", KEYED)
async def test_the_deadline_on_a_keyed_call_names_the_key(op: Operation) -> None:
    never = asyncio.Event()

    async def hang(request: Request) -> Response:
        await never.wait()
        raise AssertionError("unreachable")

    transport = MockTransport(hang)
    pipeline, _ = make(timeout=Timeout(total=0.02))
    pipeline = pipeline.replace(transport=transport)
    with pytest.raises(OutcomeUnknownError) as info:
        await send(pipeline, op, key="order-79")
    error = info.value
    prefix = f"{op.method} {op.path}: no result within the 0.02 s deadline (1 attempt)"
    assert str(error) == keyed_text(prefix, "order-79")
    assert (error.method, error.path) == (op.method, op.path)
    assert error.idempotency_key == "order-79"
    assert (error.status, error.request_id, error.body) == (None, None, b"")
    assert isinstance(error.__cause__, TimeoutError)


@pytest.mark.parametrize(
    "first",
    [ReadError("reset by peer"), server_error(502, body=b"bad gateway")],
    ids=["answer lost", "5xx"],
)
async def test_a_served_attempt_then_429s_is_still_an_unknown_outcome(
    sleeps: list[float], first: Any
) -> None:
    """The first attempt may have moved the money; the 429s after it say nothing about that."""
    limited = Response(429, {"x-request-id": "req_429"}, b"slow down")
    pipeline, transport = make(first, limited, limited)
    with pytest.raises(OutcomeUnknownError) as info:
        await send(pipeline, ops.REGISTER_PAYMENT, key="order-80")
    error = info.value
    assert str(error) == keyed_text("POST /payments/register: HTTP 429: slow down", "order-80")
    assert error.idempotency_key == "order-80"
    assert (error.status, error.request_id, error.body) == (429, "req_429", b"slow down")
    assert len(transport.requests) == 3


async def test_429s_alone_are_a_rate_limit_not_an_unknown_outcome(sleeps: list[float]) -> None:
    """No attempt was served: nothing happened, and the user may simply try later."""
    limited = Response(429, {}, b"slow down")
    pipeline, transport = make(limited, limited, limited)
    with pytest.raises(RateLimitError) as info:
        await send(pipeline, ops.REGISTER_PAYMENT, key="order-81")
    assert not isinstance(info.value, OutcomeUnknownError)
    assert info.value.status == 429
    assert len(transport.requests) == 3


# ---------------------------------------------------------------------------- reads


async def test_a_read_whose_answer_was_lost_then_5xx_is_a_plain_status_error(
    sleeps: list[float],
) -> None:
    """A read has no effect to check: a lost answer before a 503 changes nothing for the user."""
    pipeline, transport = make(
        ReadError("reset by peer"), *[server_error(503, request_id="req_r")] * 2
    )
    with pytest.raises(APIStatusError) as info:
        await send(pipeline, ops.GET_CLIENT)
    assert type(info.value) is InternalServerError
    assert info.value.status == 503
    assert info.value.request_id == "req_r"
    assert len(transport.requests) == 3


HINT = " (the base URL has no /v2: did you mean http://h:9/api/v2 ?)"


@pytest.mark.parametrize(
    ("status", "error_class", "tail"), [(400, BadRequestError, ""), (404, NotFoundError, HINT)]
)
async def test_the_missing_v2_hint_is_given_for_404_only(
    status: int, error_class: type[APIStatusError], tail: str
) -> None:
    """A 400 from a base URL without /v2 is about the request: a /v2 hint there would mislead."""
    envelope = {"success": False, "error": {"code": "nope", "message": "not here"}}
    pipeline, _ = make(Response(status, {}, json.dumps(envelope).encode()), base="http://h:9/api")
    with pytest.raises(APIStatusError) as info:
        await send(pipeline, ops.GET_CLIENT)
    assert type(info.value) is error_class
    assert str(info.value) == f"HTTP {status} [nope]: not here{tail}"


# ---------------------------------------------------------------------------- error bodies

# An error envelope with numbers in it: `details` and extra fields are free-form on the wire.
NUMBERED = (
    b'{"success": false, "error": {"code": "over_limit", "message": "too much", '
    b'"details": [2.50, 1e400]}, "limit": 1160.10}'
)


@pytest.mark.parametrize("op", [ops.GET_USER, ops.CREATE_CLIENT], ids=["plain", "money"])
async def test_a_2xx_error_reads_like_its_4xx(op: Operation) -> None:
    """`success: false` in a 2xx is the same error as a 4xx: `error.body` and `error.details`
    are the same plain JSON values (float, as the stdlib reads them), so a handler gets one
    shape whatever status carried the error, and `json.dumps(error.body)` can log it. That
    holds for an operation whose model holds money (POST /clients) too: exact Decimals are for
    decoded models, not error bodies."""
    pipeline, _ = make(
        Response(200, {"Content-Type": "application/json"}, NUMBERED),
        Response(400, {"Content-Type": "application/json"}, NUMBERED),
    )
    caught: list[APIStatusError] = []
    for _ in range(2):
        with pytest.raises(APIStatusError) as info:
            await send(pipeline, op)
        caught.append(info.value)
    in_2xx, in_4xx = caught
    assert (type(in_2xx), type(in_4xx)) == (APIStatusError, BadRequestError)
    for error in caught:
        assert str(error).endswith("[over_limit]: too much")
        assert error.details == ("2.5", "inf")
        assert error.body["error"]["details"] == [2.5, float("inf")]
        assert [type(n) for n in error.body["error"]["details"]] == [float, float]
        assert type(error.body["limit"]) is float
    assert json.dumps(in_2xx.body) == json.dumps(in_4xx.body)
    assert json.dumps(in_2xx.body["error"]["details"]) == "[2.5, Infinity]"


@pytest.mark.parametrize(
    ("op", "model"),
    [
        (ops.CREATE_DOWNLOAD_REQUEST, "DownloadRequestCreatedEnvelope"),
        (ops.CREATE_CLIENT, "ClientEnvelope"),
    ],
    ids=["plain", "money"],
)
async def test_an_unreadable_billed_answer_keeps_its_body_as_plain_json(
    op: Operation, model: str
) -> None:
    """A billed call that went through but cannot be read keeps what could be read, to check
    its effect with (`error.json_body`, `error.data`). The numbers are plain floats, also for
    an operation whose model holds money (POST /clients): the body can be saved with
    `json.dumps` as it is."""
    body = b'{"success": true, "data": {"id": 2.50, "request_id": 2.50}, "cost": 1e400}'
    pipeline, transport = make(Response(201, {"Content-Type": "application/json"}, body))
    with pytest.raises(BilledResponseValidationError) as info:
        await send(pipeline, op)
    error = info.value
    assert f"response does not match {model}" in str(error)
    assert error.data == {"id": 2.5, "request_id": 2.5}
    assert [type(n) for n in error.data.values()] == [float, float]
    assert json.dumps(error.json_body) == (
        '{"success": true, "data": {"id": 2.5, "request_id": 2.5}, "cost": Infinity}'
    )
    assert len(transport.requests) == 1


# ---------------------------------------------------------------------------- journal identity


def test_the_key_fingerprint_is_stable_across_versions_and_never_the_key() -> None:
    """Bulk journals store this fingerprint and refuse to resume under "a different API key":
    a change of the formula would make every journal written before an upgrade unresumable."""
    pipeline, _ = make()
    fingerprint = pipeline.key_fingerprint()
    assert fingerprint == "6e124b36590e6686"
    expected = hashlib.sha256(b"gigstack-async journal\0" + KEY.encode()).hexdigest()[:16]
    assert fingerprint == expected
    other = pipeline.replace(api_key="sk_test_another").key_fingerprint()
    assert other != fingerprint
    assert len(other) == 16
    assert KEY not in fingerprint
