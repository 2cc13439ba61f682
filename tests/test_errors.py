"""What the user gets when the API says no, or says something the SDK cannot read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gigstack_async import (
    ApiErrorCode,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GigstackError,
    InternalServerError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    is_known,
)
from gigstack_async._generated.models import (
    Direction,
    InvoiceType,
    ResourceStatus,
    SatInvoiceStatus,
)
from gigstack_async.transports import Response

UUID = "6741A863-04BE-49FE-BB76-E1657AB6B7EA"


def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, {"Content-Type": "application/json", **(headers or {})}, raw)


async def fail_with(mock_client, response: Response) -> Any:
    client, transport = mock_client([response], max_retries=0)
    with pytest.raises(GigstackError) as info:
        await client.sat_invoices.get(UUID)
    assert len(transport.requests) == 1
    return info.value


def test_hierarchy() -> None:
    assert issubclass(InvalidParameterError, ValueError)
    for cls in (BadRequestError, AuthenticationError, NotFoundError, RateLimitError):
        assert issubclass(cls, APIStatusError)
        assert issubclass(cls, GigstackError)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, InternalServerError),
        (504, InternalServerError),
        (418, APIStatusError),
    ],
)
async def test_each_status_maps_to_its_class(mock_client, status: int, cls: type) -> None:
    body = {
        "success": False,
        "error": {"code": "validation_failed", "message": "Invalid request", "details": "uuid"},
    }
    error = await fail_with(mock_client, reply(status, body, {"x-request-id": "req_123"}))
    assert type(error) is cls
    assert error.status == status
    assert error.code is ApiErrorCode.VALIDATION_FAILED
    assert error.message == "Invalid request"
    assert error.details == ("uuid",)
    assert error.body == body
    assert error.raw == json.dumps(body).encode()
    assert error.request_id == "req_123"
    assert str(error) == f"HTTP {status} [validation_failed]: Invalid request"


async def test_cli_fixture_400(mock_client) -> None:
    body = {"success": False, "error": {"code": "validation_failed", "message": "Invalid request"}}
    error = await fail_with(mock_client, reply(400, body))
    assert isinstance(error, BadRequestError)
    assert (error.code, error.message, error.details) == (
        ApiErrorCode.VALIDATION_FAILED,
        "Invalid request",
        (),
    )


async def test_unknown_code_is_kept_as_is(mock_client) -> None:
    body = {"error": {"code": "brand_new_code", "message": "Nuevo"}}
    error = await fail_with(mock_client, reply(400, body))
    assert error.code == "brand_new_code"
    assert not isinstance(error.code, ApiErrorCode)


async def test_string_error_is_a_code(mock_client) -> None:
    body = {"success": False, "error": "cost_mismatch", "message": "Costo cambió", "data": {}}
    error = await fail_with(mock_client, reply(409, body))
    assert isinstance(error, ConflictError)
    assert error.code is ApiErrorCode.COST_MISMATCH
    assert error.body == body


async def test_details_as_list(mock_client) -> None:
    body = {"error": {"code": "invalid_field_value", "details": ["from: bad", "to: bad"]}}
    error = await fail_with(mock_client, reply(400, body))
    assert error.details == ("from: bad", "to: bad")


async def test_message_falls_back_to_body_message(mock_client) -> None:
    body = {"error": {"code": "resource_not_found"}, "message": "Factura no encontrada"}
    error = await fail_with(mock_client, reply(404, body))
    assert error.message == "Factura no encontrada"


async def test_error_message_wins_over_body_message(mock_client) -> None:
    body = {"error": {"message": "from error"}, "message": "from body"}
    error = await fail_with(mock_client, reply(400, body))
    assert error.message == "from error"


async def test_message_falls_back_to_generic_text(mock_client) -> None:
    error = await fail_with(mock_client, reply(403, {"success": False}))
    assert error.message == "API error 403"
    assert error.code is None


async def test_message_falls_back_to_string_error_before_body_message(mock_client) -> None:
    error = await fail_with(mock_client, reply(404, {"error": "resource_not_found"}))
    assert error.message == "resource_not_found"
    error = await fail_with(mock_client, reply(409, {"error": "cost_mismatch", "message": "x"}))
    assert error.message == "cost_mismatch"


async def test_success_false_with_200_raises(mock_client) -> None:
    body = {"success": False, "error": {"code": "operation_not_allowed", "message": "No"}}
    error = await fail_with(mock_client, reply(200, body))
    assert isinstance(error, APIStatusError)
    assert error.status == 200
    assert error.code is ApiErrorCode.OPERATION_NOT_ALLOWED
    assert error.message == "No"


async def test_html_error_page_gives_status_and_short_excerpt(mock_client) -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 5000 + b"</body>"
    error = await fail_with(mock_client, Response(502, {"Content-Type": "text/html"}, page))
    assert isinstance(error, InternalServerError)
    assert error.status == 502
    assert error.body is None
    assert error.raw == page
    assert "502 Bad Gateway" in str(error)
    assert len(str(error)) < 400


async def test_empty_error_body(mock_client) -> None:
    error = await fail_with(mock_client, Response(401, {}, b""))
    assert isinstance(error, AuthenticationError)
    assert "empty body" in str(error)


async def test_html_with_200_is_a_validation_error(mock_client) -> None:
    page = b"<html><body>Captive portal</body></html>"
    error = await fail_with(mock_client, Response(200, {"Content-Type": "text/html"}, page))
    assert isinstance(error, APIResponseValidationError)
    assert error.status == 200
    assert error.body == page
    assert "text/html" in str(error)
    assert "Captive portal" in str(error)


async def test_missing_required_field_is_named(mock_client) -> None:
    body = {"success": True, "data": {"direction": "received", "total": 10}}
    error = await fail_with(mock_client, reply(200, body))
    assert isinstance(error, APIResponseValidationError)
    assert "uuid" in str(error)
    assert "SatInvoiceEnvelope" in str(error)


async def test_wrong_type_is_a_validation_error(mock_client) -> None:
    body = {"success": True, "data": {"uuid": UUID, "total": "ten"}}
    error = await fail_with(mock_client, reply(200, body))
    assert isinstance(error, APIResponseValidationError)
    assert "total" in str(error)


async def test_unknown_enum_values_are_kept_and_unknown_fields_ignored(mock_client) -> None:
    body = {
        "success": True,
        "brand_new_top_level": {"x": 1},
        "data": {
            "uuid": UUID,
            "direction": "both",
            "status": "Suspendido",
            "invoice_type": "X",
            "resource_status": "archived",
            "total": 1160.0,
            "brand_new_field": [1, 2, 3],
        },
    }
    client, _ = mock_client([reply(200, body)])
    invoice = await client.sat_invoices.get(UUID)
    assert invoice.uuid == UUID
    assert invoice.total == 1160.0
    assert isinstance(invoice.direction, Direction)
    assert invoice.direction.value == "both"
    assert not is_known(invoice.direction)
    assert isinstance(invoice.status, SatInvoiceStatus)
    assert invoice.status.value == "Suspendido"
    assert not is_known(invoice.status)
    assert isinstance(invoice.invoice_type, InvoiceType)
    assert not is_known(invoice.invoice_type)
    assert isinstance(invoice.resource_status, ResourceStatus)
    assert not is_known(invoice.resource_status)
    assert not hasattr(invoice, "brand_new_field")


async def test_known_enum_values_are_the_real_members(mock_client) -> None:
    body = {"success": True, "data": {"uuid": UUID, "direction": "received", "status": "Vigente"}}
    client, _ = mock_client([reply(200, body)])
    invoice = await client.sat_invoices.get(UUID)
    assert invoice.direction is Direction.RECEIVED
    assert invoice.status is SatInvoiceStatus.VIGENTE
    assert is_known(invoice.direction)
