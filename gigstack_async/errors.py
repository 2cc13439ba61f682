"""Every exception the SDK raises on purpose.

```
GigstackError
├── InvalidParameterError (also a ValueError)  bad input, raised before any request is sent
├── APIConnectionError                         no usable HTTP response
│   ├── APITimeoutError                        a timeout or the per-call deadline
│   ├── SendWindowClosedError                  not sent: a bulk run's deadline had passed
│   ├── OutcomeUnknownError                    a side effect may have happened (lost answer, 5xx)
│   └── DownloadInterruptedError               a package download broke off (not retried)
├── APIResponseValidationError                 a 2xx body we cannot read
│   └── BilledResponseValidationError          ... of a billed call: it went through
└── APIStatusError                             the server said no (status ≥ 400, or success: false)
    ├── BadRequestError 400, AuthenticationError 401, PermissionDeniedError 403,
    ├── NotFoundError 404, ConflictError 409, UnprocessableEntityError 422,
    └── RateLimitError 429, InternalServerError ≥ 500
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from gigstack_async._generated.models import ApiErrorCode

_EXCERPT = 200


class GigstackError(Exception):
    """Base class of every error raised by gigstack_async."""


class InvalidParameterError(GigstackError, ValueError):
    """An argument breaks a documented rule; nothing was sent.

    `field` names the argument, `rule` says what it must satisfy.
    """

    def __init__(self, field: str, rule: str, value: object = None, *, quote: bool = False) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        # `quote`: the message ends with the value given, `(got '2025-02-30')`, as the CLI
        # shows it (newcomer 9m #9); never a secret's.
        shown = shown_value(field, value) if quote else None
        super().__init__(f"{field}: {rule}" + (f" (got {shown})" if shown else ""))


_SECRET_FIELDS = ("key", "secret", "password", "token", "signature", "verifier", "cer")


def shown_value(field: str, value: object) -> str | None:
    """`value` as an error message quotes it (`'2025-02-30'`), or None when it is not shown:
    none given, bytes, or a field that may hold a secret (`api_key`, `secret`, ...)."""
    if value is None or isinstance(value, bytes | bytearray | memoryview):
        return None
    if any(word in field.lower() for word in _SECRET_FIELDS):
        return None
    text = value_repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def value_repr(value: object) -> str:
    """`value` as messages quote it: `'2015-01-01'` for a date, not `datetime.date(2015, 1, 1)`,
    else its repr (the CLI's `(got …)` too)."""
    return repr(value.isoformat()) if isinstance(value, date) else repr(value)


class APIConnectionError(GigstackError):
    """The request did not produce a usable HTTP response (DNS, refused, reset, TLS…).

    `request_sent`: False only when no attempt of the call got as far as a connection (every
    attempt failed to connect: DNS, connection refused, a connect timeout, TLS setup), so the
    server cannot have seen it; True when one may have (the default: unknown counts as sent).
    The bulk download sends a month's create again by itself only after such a False."""

    def __init__(
        self, message: str, *, method: str = "", path: str = "", request_sent: bool = True
    ) -> None:
        self.method = method
        self.path = path
        self.request_sent = request_sent
        super().__init__(message)


class APITimeoutError(APIConnectionError):
    """A connect/read timeout, or the per-call deadline ran out (retries included)."""


class SendWindowClosedError(APIConnectionError):
    """Not sent: the attempt would have left after the deadline of the bulk run it belongs to
    (`bulk(timeout=)`), having waited for the client's in-flight limit or a retry's backoff.

    `request_sent` is False unless an earlier attempt of the same call may have reached the
    server (a read retried after a 5xx): this attempt itself never left, so a create or a
    package download stopped here billed nothing and spent none of SAT's downloads."""


class OutcomeUnknownError(APIConnectionError):
    """A call with a side effect (charges, stamps/cancels a CFDI, moves money, creates) failed
    after it may have reached the server: the answer was lost, or it was a 5xx (a server may
    fail after it acted, and a 503 from a proxy before the handler looks the same).

    Without an idempotency key it was NOT retried, because a retry could act twice: check
    whether it took effect (for a download request: `client.downloads.history()`) before trying
    again. With one (`idempotency_key` is set: payments.register / payments.request) the SDK
    retried with that key until its retries ran out: retry WITH the same key, never without it.

    Attributes: `idempotency_key` (the key every attempt carried, or None), `status` (the HTTP
    status of a 5xx answer, or None when no answer came), `request_id`, `body` (the raw bytes of
    a 5xx answer). Not an APIStatusError on purpose: a 5xx here is not a refusal.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        idempotency_key: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.idempotency_key = idempotency_key
        self.status = status
        self.request_id = request_id
        self.body = body


class IncompleteResponseError(APIConnectionError):
    """The server answered, but its reply broke off before the end (a truncated body), on
    every attempt: the API was reached, so the base URL and the network are not at fault.

    Raised only for calls that are safe to repeat (reads), after the retries ran out; a call
    that may charge money or spend a download raises OutcomeUnknownError or
    DownloadInterruptedError instead. A subclass of APIConnectionError, so existing handlers
    still catch it; try again later.
    """


class DownloadInterruptedError(APIConnectionError):
    """A package download failed after it may have reached SAT (dropped, truncated, timed out).

    It was NOT retried: SAT serves each package at most twice (SAT 5008 after that), and the
    failed attempt may have spent one of them. Nothing was left at the destination. Retry
    deliberately, knowing that at most one download of this package may remain.

    `served` is True when the answer had begun (a 2xx status line arrived, its body then broke
    off or ran out of time): SAT served the package, so this download surely counts. False: no
    answer came (a timeout or a lost connection before it), so it may not have reached SAT.
    """

    def __init__(
        self, message: str, *, method: str = "", path: str = "", served: bool = False
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.served = served


class APIResponseValidationError(GigstackError):
    """A successful response whose body is not what the spec describes.

    `status` (HTTP), `body` (the raw bytes), `request_id` (``x-request-id``, when sent).
    """

    def __init__(
        self, message: str, *, status: int, body: bytes = b"", request_id: str | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.request_id = request_id
        super().__init__(message)


class BilledResponseValidationError(APIResponseValidationError):
    """A call that may charge money answered 2xx, so it WENT THROUGH, but its body is unreadable.

    Do not send it again: the server accepted it (and may have charged). Everything that could
    be read is kept: `json_body` (the decoded JSON, or None if it was not JSON), `data` (its
    ``data`` object when that is a JSON object, e.g. ``data["request_id"]`` of a created
    download request), `request_id` (``x-request-id``), `status` and `body`. A subclass of
    APIResponseValidationError, so existing handlers still catch it.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: bytes = b"",
        request_id: str | None = None,
        json_body: Any = None,
    ) -> None:
        super().__init__(message, status=status, body=body, request_id=request_id)
        self.json_body = json_body
        data = json_body.get("data") if isinstance(json_body, dict) else None
        self.data: dict[str, Any] | None = data if isinstance(data, dict) else None


class APIStatusError(GigstackError):
    """The API answered with an error: HTTP status ≥ 400, or a 2xx with `success: false`.

    Attributes: `status` (HTTP), `code` (an `ApiErrorCode`, unknown codes kept as-is), `message`,
    `details` (strings), `body` (the decoded JSON, or None), `raw` (the bytes), `request_id`.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: ApiErrorCode | str | None = None,
        details: Sequence[str] = (),
        body: Any = None,
        raw: bytes = b"",
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = tuple(details)
        self.body = body
        self.raw = raw
        self.request_id = request_id
        shown = f" [{code}]" if code else ""
        super().__init__(f"HTTP {status}{shown}: {message}")


class BadRequestError(APIStatusError):
    """400: the request was rejected (for example `validation_failed`)."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not do this (or may not act on that `team`)."""


class NotFoundError(APIStatusError):
    """404: no such resource."""


class ConflictError(APIStatusError):
    """409: conflicts with the current state (for example `cost_mismatch`)."""


class UnprocessableEntityError(APIStatusError):
    """422: understood but refused (for example the PAC rejected a retry)."""


class RateLimitError(APIStatusError):
    """429: too many requests. `retry_after` holds the server's hint in seconds, if any."""

    retry_after: float | None = None


class InternalServerError(APIStatusError):
    """≥ 500: gigstack or an upstream service (SAT, PAC) failed."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class_for(status: int) -> type[APIStatusError]:
    if status >= 500:
        return InternalServerError
    return _BY_STATUS.get(status, APIStatusError)


def _code(raw: object) -> ApiErrorCode | str | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return ApiErrorCode(raw)
    except ValueError:
        return raw  # a code this SDK version does not know yet: keep it, never fail


def excerpt(raw: bytes) -> str:
    text = raw[:_EXCERPT].decode("utf-8", errors="replace").strip()
    return text + ("…" if len(raw) > _EXCERPT else "")


def status_error(
    status: int, raw: bytes, body: Any, *, request_id: str | None = None, hint: str | None = None
) -> APIStatusError:
    """Build the typed error for an error response, following gigstack's official client.

    `error` may be an object `{code, message, details}` or a string code; the message falls back
    to `error.message`, then `message`, then a generic text. A body that is not JSON gives the
    status and a short excerpt. `hint` (what the user may have got wrong) ends the message.
    """
    cls = error_class_for(status)
    after = f" ({hint})" if hint else ""
    if not isinstance(body, Mapping):
        shown = excerpt(raw) if raw else "empty body"
        return cls(
            f"non-JSON error response: {shown}{after}",
            status=status,
            body=body,
            raw=raw,
            request_id=request_id,
        )
    error = body.get("error")
    code: ApiErrorCode | str | None = None
    message: str | None = None
    details: list[str] = []
    if isinstance(error, Mapping):
        code = _code(error.get("code"))
        if isinstance(error.get("message"), str):
            message = error["message"]
        raw_details = error.get("details")
        if isinstance(raw_details, str):
            details = [raw_details]
        elif isinstance(raw_details, list):
            details = [str(item) for item in raw_details]
    elif isinstance(error, str) and error:
        code = _code(error)
        message = error
    if message is None and isinstance(body.get("message"), str):
        message = body["message"]
    if message is None:
        message = f"API error {status}"
    return cls(
        message + after,
        status=status,
        code=code,
        details=details,
        body=body,
        raw=raw,
        request_id=request_id,
    )


class PaginationError(GigstackError):
    """The server's cursors would make iteration loop forever or cannot continue."""
