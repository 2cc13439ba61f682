"""The one request path: operation + arguments → HTTP request → retries → typed result or error.

Resources call `Pipeline.call(...)`; they never see HTTP. Whether an operation may be retried
comes from the generated operations table (`x-gigstack-side-effect` and `x-gigstack-idempotency`
in the spec, folded into `Operation.no_resend`), not from ifs here.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import attrs
import cattrs

from gigstack_async._config import RetryPolicy, Timeout
from gigstack_async._convert import structure
from gigstack_async._operation import Operation
from gigstack_async._version import __version__
from gigstack_async.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    OutcomeUnknownError,
    RateLimitError,
    excerpt,
    status_error,
)
from gigstack_async.transports.base import (
    AsyncTransport,
    MultipartField,
    Request,
    Response,
    ResponseTooLarge,
    TransportError,
)

logger = logging.getLogger("gigstack_async")

T = TypeVar("T")

MAX_RESPONSE_BYTES = 512 * 1024 * 1024

MAX_REDIRECTS = 5

DOWNLOAD_FILE = Operation(
    operation_id="downloadFile",
    method="GET",
    path="<file URL>",  # what logs and errors show: the real URL may carry a signature
    resource="files",
    response_model=bytes,
)
"""A file URL handed out by the API: a plain read, retried on transient errors."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


_SIDE_EFFECT_TEXT = {
    "none": "this call",
    "charges": "this call may charge money",
    "fiscal-document": "this call creates, stamps or cancels a fiscal document (CFDI)",
    "moves-money": "this call moves money",
    "limited-download": "this download counts against SAT's limit of downloads per package",
}


def encode_query_value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def parse_retry_after(response: Response, *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    millis = response.header("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = response.header("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@attrs.frozen
class CallResult:
    """The final response of a call and how many attempts it took."""

    response: Response
    attempts: int


class Pipeline:
    """Builds, sends, retries and decodes requests for one client configuration."""

    def __init__(
        self,
        *,
        transport: AsyncTransport,
        api_key: str,
        base_url: str,
        team: str | None,
        timeout: Timeout,
        retry: RetryPolicy,
        semaphore: asyncio.Semaphore,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.transport = transport
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.team = team
        self.timeout = timeout
        self.retry = retry
        self.semaphore = semaphore
        self.max_response_bytes = max_response_bytes

    def __repr__(self) -> str:
        return f"Pipeline(base_url={self.base_url!r}, team={self.team!r})"

    def replace(self, **changes: Any) -> Pipeline:
        settings: dict[str, Any] = {
            "transport": self.transport,
            "api_key": self._api_key,
            "base_url": self.base_url,
            "team": self.team,
            "timeout": self.timeout,
            "retry": self.retry,
            "semaphore": self.semaphore,
            "max_response_bytes": self.max_response_bytes,
        }
        settings.update(changes)
        return Pipeline(**settings)

    # ------------------------------------------------------------------ building

    def build_request(
        self,
        op: Operation,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        json_body: Any = None,
        multipart: tuple[MultipartField, ...] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Request:
        path = op.path
        for name in op.path_params:
            value = (path_params or {})[name]
            path = path.replace("{" + name + "}", quote(str(value), safe=""))
        params: list[tuple[str, str]] = []
        for name, value in (query or {}).items():
            if value is not None:
                params.append((name, encode_query_value(value)))
        if self.team is not None and "team" in op.query_params:
            params.append(("team", self.team))
        all_headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json",
            "User-Agent": f"gigstack-async/{__version__}",
        }
        if headers:
            all_headers.update(headers)
        return Request(
            method=op.method,
            url=self.base_url + path,
            headers=all_headers,
            params=tuple(params),
            json=json_body,
            multipart=multipart,
            connect_timeout=self.timeout.connect,
            read_timeout=self.timeout.read,
            max_response_bytes=self.max_response_bytes,
            resend_safe=not op.no_resend,
        )

    # ------------------------------------------------------------------ sending

    async def call(
        self,
        op: Operation,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        json_body: Any = None,
        multipart: tuple[MultipartField, ...] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Send `op` and return its response decoded into `op.response_model`.

        For an operation with an idempotency key (`op.idempotency`), `idempotency_key` is sent
        as given, or one is generated for this call; either way every retry carries the same key.
        """
        headers: Mapping[str, str] | None = None
        if op.idempotency is not None:
            json_body, headers = with_idempotency_key(op, json_body, idempotency_key)
        request = self.build_request(
            op,
            path_params=path_params,
            query=query,
            json_body=json_body,
            multipart=multipart,
            headers=headers,
        )
        result = await self.send(op, request)
        return self.decode(op, result)

    async def send(self, op: Operation, request: Request) -> CallResult:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout.total
        log_path = op.path
        attempt = 0
        while True:
            attempt += 1
            started = loop.time()
            try:
                async with asyncio.timeout_at(deadline):
                    async with self.semaphore:
                        response = await self.transport.send(request)
            except TimeoutError as exc:
                # The per-call deadline, which covers every attempt.
                self._log_attempt(op, log_path, "deadline", attempt, loop.time() - started)
                message = (
                    f"{op.method} {log_path}: no result within the {self.timeout.total} s deadline "
                    f"({attempt} attempt{'s' if attempt > 1 else ''})"
                )
                if op.no_resend:
                    raise OutcomeUnknownError(
                        message + "; the request may have reached the server and was not retried",
                        method=op.method,
                        path=log_path,
                    ) from exc
                raise APITimeoutError(message, method=op.method, path=log_path) from exc
            except ResponseTooLarge as exc:
                # The same body would come again: retrying only downloads it again.
                raise APIResponseValidationError(
                    f"{op.method} {log_path}: {exc}", status=0
                ) from exc
            except TransportError as exc:
                elapsed = loop.time() - started
                self._log_attempt(op, log_path, type(exc).__name__, attempt, elapsed)
                if op.no_resend and exc.request_sent:
                    raise OutcomeUnknownError(
                        f"{op.method} {log_path}: {exc}; {_SIDE_EFFECT_TEXT[op.side_effect]} and "
                        "may have reached the server, so it was not retried. Check whether it "
                        "took effect before trying again.",
                        method=op.method,
                        path=log_path,
                    ) from exc
                delay = self._backoff(attempt)
                if attempt <= self.retry.max_retries and loop.time() + delay < deadline:
                    logger.info(
                        "retrying %s %s in %.2f s after %s (attempt %d)",
                        op.method, log_path, delay, type(exc).__name__, attempt + 1,
                    )  # fmt: skip
                    await asyncio.sleep(delay)
                    continue
                error_class = (
                    APITimeoutError if "Timeout" in type(exc).__name__ else APIConnectionError
                )
                attempts = f"{attempt} attempt{'s' if attempt > 1 else ''}"
                raise error_class(
                    f"{op.method} {log_path}: {exc} (after {attempts})",
                    method=op.method,
                    path=log_path,
                ) from exc

            elapsed = loop.time() - started
            self._log_attempt(op, log_path, response.status, attempt, elapsed)
            if response.status < 400 or response.status not in self.retry.retry_statuses:
                return CallResult(response=response, attempts=attempt)
            retry_after = parse_retry_after(response)
            if op.no_resend or attempt > self.retry.max_retries:
                raise self._status_error(response, retry_after)
            if retry_after is not None and retry_after > self.retry.retry_after_cap:
                raise self._status_error(response, retry_after)
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            if loop.time() + delay >= deadline:
                raise self._status_error(response, retry_after)
            logger.info(
                "retrying %s %s in %.2f s after HTTP %d (attempt %d)",
                op.method, log_path, delay, response.status, attempt + 1,
            )  # fmt: skip
            await asyncio.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        base = min(self.retry.backoff_base * 2.0 ** (attempt - 1), self.retry.backoff_cap)
        return base * (1 - 0.25 * random.random())

    def _log_attempt(
        self, op: Operation, path: str, outcome: object, attempt: int, elapsed: float
    ) -> None:
        # Metadata only: never headers (the key) and never bodies (fiscal data).
        logger.debug(
            "%s %s -> %s (attempt %d, %.1f ms)", op.method, path, outcome, attempt, elapsed * 1000
        )

    def _status_error(self, response: Response, retry_after: float | None) -> APIStatusError:
        body = _json_or_none(response.body)
        error = status_error(response.status, response.body, body, request_id=_request_id(response))
        if isinstance(error, RateLimitError):
            error.retry_after = retry_after
        return error

    # ------------------------------------------------------------------ files

    async def download(self, url: str, *, stream_to: str | None = None) -> bytes:
        """GET a file URL the API handed out (invoice PDF/XML). Returns the body, or b"" when
        it was streamed into `stream_to` (which then holds it).

        The API key goes only to URLs under `base_url`: storage URLs get no Authorization
        header. Redirects are followed (at most 5), dropping the key when the origin changes.
        Retried like any read; the URL is never logged (it may be signed).
        """
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise APIResponseValidationError(
                    "the API gave a file location that is not an http(s) URL", status=0
                )
            headers = {"User-Agent": f"gigstack-async/{__version__}"}
            if _origin(current) == _origin(self.base_url) and parts.path.startswith(
                urlsplit(self.base_url).path.rstrip("/") + "/"
            ):
                headers["Authorization"] = f"Bearer {self._api_key}"
            request = Request(
                method="GET",
                url=current,
                headers=headers,
                connect_timeout=self.timeout.connect,
                read_timeout=self.timeout.read,
                max_response_bytes=self.max_response_bytes,
                stream_to=stream_to,
            )
            response = (await self.send(DOWNLOAD_FILE, request)).response
            location = response.header("location")
            if response.status in (301, 302, 303, 307, 308) and location:
                current = urljoin(current, location)
                continue
            if response.status >= 400:
                raise self._status_error(response, parse_retry_after(response))
            return response.body
        raise APIResponseValidationError(f"more than {MAX_REDIRECTS} redirects", status=0)

    # ------------------------------------------------------------------ decoding

    def decode(self, op: Operation, result: CallResult) -> Any:
        response = result.response
        if response.status >= 400:
            raise self._status_error(response, parse_retry_after(response))
        try:
            body = json.loads(response.body)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
            content_type = response.header("content-type") or "no content type"
            shown = excerpt(response.body) if response.body else "empty body"
            raise APIResponseValidationError(
                f"{op.method} {op.path}: expected JSON, got {content_type}: {shown}",
                status=response.status,
                body=response.body,
            ) from exc
        if isinstance(body, dict) and body.get("success") is False:
            raise status_error(
                response.status, response.body, body, request_id=_request_id(response)
            )
        return decode_body(op, response.status, response.body, body, op.response_model)


MAX_REASONS = 5


def new_idempotency_key() -> str:
    """A fresh key for one call: random, so two separate calls never collide."""
    return f"gsa_{uuid.uuid4().hex}"


def with_idempotency_key(
    op: Operation, json_body: Any, key: str | None
) -> tuple[Any, dict[str, str] | None]:
    """Put the call's idempotency key where `op.idempotency` says (a body field or a header).

    A key already in the body, or given as `key`, is kept unchanged; otherwise one is generated.
    Done once per call, before the first attempt, so every retry resends the same key.
    """
    spec = op.idempotency
    assert spec is not None
    if spec.location == "header":
        return json_body, {spec.field: key or new_idempotency_key()}
    body = dict(json_body) if isinstance(json_body, Mapping) else {}
    if key is not None:
        body[spec.field] = key
    elif not body.get(spec.field):
        body[spec.field] = new_idempotency_key()
    return body, None


def decode_body(op: Operation, status: int, raw: bytes, body: Any, model: type[T]) -> T:
    try:
        return structure(body, model)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            reasons = cattrs.transform_error(exc)
        else:
            reasons = [str(exc)]
        shown = "; ".join(reasons[:MAX_REASONS])
        if len(reasons) > MAX_REASONS:  # a huge bad list must not make a megabyte message
            shown += f"; and {len(reasons) - MAX_REASONS} more"
        raise APIResponseValidationError(
            f"{op.method} {op.path}: response does not match {model.__name__}: {shown}",
            status=status,
            body=raw,
        ) from exc


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _request_id(response: Response) -> str | None:
    return response.header("x-request-id") or response.header("request-id")
