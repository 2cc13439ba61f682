"""A 2xx on a billed call whose body does not validate says the call went through (issue 10 §1)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gigstack_async import (
    APIResponseValidationError,
    BilledResponseValidationError,
    GigstackClient,
)
from gigstack_async._dates import add_months, month_end, month_start, today_mx
from gigstack_async.transports import Response

UUID = "6741A863-04BE-49FE-BB76-E1657AB6B7EA"
LAST = month_start(add_months(today_mx(), -1))


def create(client: GigstackClient) -> Any:
    return client.downloads.create_request(
        start_date=LAST, end_date=month_end(LAST), rfc_type="received"
    )


def answer(body: Any, status: int = 201) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, {"Content-Type": "application/json", "x-request-id": "rq_77"}, raw)


async def test_unreadable_created_request_says_it_went_through(mock_client, sleeps) -> None:
    body = {"success": True, "data": {"request_id": "REQ-9", "duplicate": "maybe"}}
    client, transport = mock_client([answer(body)], max_retries=5)
    with pytest.raises(BilledResponseValidationError) as info:
        await create(client)
    error = info.value
    assert isinstance(error, APIResponseValidationError)  # old handlers still catch it
    assert "WENT THROUGH" in str(error)
    assert "duplicate" in str(error)  # and why it could not be read
    assert error.status == 201
    assert error.request_id == "rq_77"
    assert error.data == {"request_id": "REQ-9", "duplicate": "maybe"}
    assert len(transport.requests) == 1
    assert sleeps == []


async def test_null_duplicate_is_not_a_failure(mock_client) -> None:
    body = {"success": True, "data": {"request_id": "REQ-9", "duplicate": None, "status": None}}
    client, _ = mock_client([answer(body)])
    created = await create(client)
    assert (created.request_id, created.duplicate) == ("REQ-9", False)


@pytest.mark.parametrize("raw", [b"<html>bad gateway</html>", b"", b'{"data": '])
async def test_non_json_2xx_on_a_billed_call(mock_client, raw: bytes) -> None:
    client, transport = mock_client([answer(raw, status=200)])
    with pytest.raises(BilledResponseValidationError) as info:
        await client.sat_invoices.retry_xml(UUID)
    assert info.value.json_body is None
    assert info.value.data is None
    assert info.value.body == raw
    assert len(transport.requests) == 1


async def test_unbilled_calls_keep_the_plain_error(mock_client) -> None:
    client, _ = mock_client([answer({"success": True, "data": {"uuid": 5}}, status=200)])
    with pytest.raises(APIResponseValidationError) as info:
        await client.sat_invoices.get(UUID)
    assert not isinstance(info.value, BilledResponseValidationError)
    assert info.value.request_id == "rq_77"
    assert "went through" not in str(info.value).lower()
