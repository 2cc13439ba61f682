"""The wire envelopes: one error shape for every failure, and JSON success responses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from gigstack_async import _json

JsonObject = dict[str, Any]


class ApiError(Exception):
    """A failure the sandbox reports to the client as `{success: false, message, error}`.

    `code` is one of the spec's ApiErrorCode values; `details` (field names or hints) becomes
    `error.details`, which the spec allows as a list of strings.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Sequence[str] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = tuple(details)
        self.headers = dict(headers or {})

    def body(self) -> JsonObject:
        """The JSON error envelope."""
        error: JsonObject = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = list(self.details)
        return {"success": False, "message": self.message, "error": error}

    def response(self) -> web.Response:
        """The error as an aiohttp response."""
        return json_response(self.body(), status=self.status, headers=self.headers)


def invalid(field: str, message: str) -> ApiError:
    """A 400 `validation_failed` whose message and details name the offending field."""
    return ApiError(400, "validation_failed", f"{field}: {message}", details=(field,))


def not_found(what: str, identifier: str) -> ApiError:
    """A 404 `resource_not_found` for an unknown id."""
    return ApiError(404, "resource_not_found", f"{what} {identifier!r} not found")


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON with exact numbers: `Decimal` amounts go out with their digits (no float rounding)."""
    return web.Response(
        body=_json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def ok(body: JsonObject) -> web.Response:
    """A 200 JSON response (the body already carries `success: true` where the spec has it)."""
    return json_response(body)


def success(data: Any = None, *, message: str | None = None) -> web.Response:
    """`{success: true[, message], data}`: the Descarga Masiva / SAT invoice envelope."""
    body: JsonObject = {"success": True}
    if message is not None:
        body["message"] = message
    body["data"] = data
    return json_response(body)
