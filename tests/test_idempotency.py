"""Register payment (moves money, `idempotency_key` in the body): retried with one key per call.

The decoded response is left out (`response_model=dict`): the Payment model carries Decimal
amounts, which the converter learns in issue 14; the policy under test is the operation's own
table entry (side effect, idempotency) and the pipeline.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import attrs
import pytest

from gigstack_async._generated import operations as ops
from gigstack_async.errors import OutcomeUnknownError
from gigstack_async.transports.base import ReadError, Request, Response

REGISTER = attrs.evolve(ops.REGISTER_PAYMENT, response_model=dict)
BODY = {"client": {"id": "client_1"}, "items": [{"id": "service_1"}], "payment_form": "03"}


def _script(*answers: Any) -> Any:
    queue = list(answers)

    def handler(request: Request) -> Response:
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


OK = Response(200, {"content-type": "application/json"}, json.dumps({"data": {}}).encode())


def test_register_payment_is_declared_idempotent_and_documented() -> None:
    from gigstack_async import GigstackClient

    assert ops.REGISTER_PAYMENT.side_effect == "moves-money"
    assert ops.REGISTER_PAYMENT.idempotency is not None
    assert not ops.REGISTER_PAYMENT.no_resend  # the key makes a resend safe
    register = GigstackClient(api_key="sk_test_idem").payments.register
    assert "idempotency_key" in inspect.signature(register).parameters
    assert "retried with the same key" in " ".join((register.__doc__ or "").split())


async def test_a_retried_register_payment_sends_the_same_key_twice(mock_client, sleeps) -> None:
    client, transport = mock_client(_script(ReadError("reset after sending"), OK))
    await client._pipeline.call(REGISTER, json_body=dict(BODY))
    first, second = (r.json["idempotency_key"] for r in transport.requests)
    assert first == second
    assert first.startswith("gsa_")


async def test_each_call_gets_its_own_key(mock_client) -> None:
    client, transport = mock_client(_script(OK, OK))
    await client._pipeline.call(REGISTER, json_body=dict(BODY))
    await client._pipeline.call(REGISTER, json_body=dict(BODY))
    keys = [r.json["idempotency_key"] for r in transport.requests]
    assert keys[0] != keys[1]


@pytest.mark.parametrize("where", ["argument", "body"])
async def test_a_user_given_key_is_sent_unchanged(mock_client, sleeps, where: str) -> None:
    client, transport = mock_client(_script(Response(503, {}, b""), OK))
    if where == "argument":
        await client._pipeline.call(REGISTER, json_body=dict(BODY), idempotency_key="order-42")
    else:
        await client._pipeline.call(REGISTER, json_body={**BODY, "idempotency_key": "order-42"})
    assert [r.json["idempotency_key"] for r in transport.requests] == ["order-42", "order-42"]


async def test_without_a_key_the_same_operation_is_never_resent(mock_client) -> None:
    no_key = attrs.evolve(REGISTER, idempotency=None)
    client, transport = mock_client(_script(ReadError("reset after sending")))
    with pytest.raises(OutcomeUnknownError, match="moves money"):
        await client._pipeline.call(no_key, json_body=dict(BODY))
    assert len(transport.requests) == 1


async def test_a_header_key_is_reused_across_retries(mock_client, sleeps) -> None:
    from gigstack_async._operation import Idempotency

    in_header = attrs.evolve(REGISTER, idempotency=Idempotency("Idempotency-Key", "header"))
    client, transport = mock_client(_script(Response(502, {}, b""), OK))
    await client._pipeline.call(in_header, json_body=dict(BODY))
    keys = [r.headers["Idempotency-Key"] for r in transport.requests]
    assert keys[0] == keys[1]
    assert "idempotency_key" not in transport.requests[0].json


@pytest.mark.parametrize(
    "lost",
    [ReadError("reset after sending"), Response(502, {}, b"bad gateway")],
    ids=["dropped", "5xx"],
)
@pytest.mark.parametrize("given", [None, "order-77"])
async def test_retries_run_out_raise_outcome_unknown_with_the_key(
    mock_client, sleeps, lost: Any, given: str | None
) -> None:
    """Review 11 #2: every answer lost used to raise a plain APIConnectionError without the key,
    so the natural retry (a new call, a new key) moved money twice."""
    client, transport = mock_client(_script(*[lost] * 4), max_retries=3)
    with pytest.raises(OutcomeUnknownError) as info:
        await client._pipeline.call(REGISTER, json_body=dict(BODY), idempotency_key=given)
    sent = {r.json["idempotency_key"] for r in transport.requests}
    assert len(transport.requests) == 4
    assert len(sent) == 1
    key = sent.pop()
    assert info.value.idempotency_key == key
    assert given is None or key == given
    assert key in str(info.value)
    assert "Retry WITH" in str(info.value)
    assert info.value.status == (502 if isinstance(lost, Response) else None)


async def test_nothing_sent_is_a_plain_connection_error(mock_client, sleeps) -> None:
    """A refused connection never reached the server: nothing is unknown."""
    from gigstack_async.errors import APIConnectionError
    from gigstack_async.transports.base import ConnectError

    client, _ = mock_client(_script(*[ConnectError("refused")] * 4), max_retries=3)
    with pytest.raises(APIConnectionError) as info:
        await client._pipeline.call(REGISTER, json_body=dict(BODY))
    assert not isinstance(info.value, OutcomeUnknownError)


def test_register_and_request_docstrings_do_not_contradict_themselves() -> None:
    """Review 11 #13: the docstring said both 'never retried' and 'retries reuse the key'."""
    from gigstack_async import GigstackClient

    payments = GigstackClient(api_key="sk_test_idem").payments
    for method in (payments.register, payments.request):
        doc = " ".join((method.__doc__ or "").split())
        assert "Never retried once the request may have reached the server" not in doc
        assert "retried with the same key" in doc
        assert "OutcomeUnknownError" in doc
        assert "idempotency_key" in doc
