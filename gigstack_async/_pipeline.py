"""The one request path: operation + arguments → HTTP request → retries → typed result or error.

Resources call `Pipeline.call(...)` (or `Pipeline.stream(...)` for a large body); they never see
HTTP. Whether an operation may be retried comes from the generated operations table
(`x-gigstack-side-effect` and `x-gigstack-idempotency` in the spec, folded into
`Operation.no_resend`), not from ifs here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import hashlib
import json
import logging
import math
import random
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import attrs
import cattrs

from gigstack_async import _departure, _json, _send_window
from gigstack_async._config import RetryPolicy, Timeout, missing_version
from gigstack_async._convert import needs_exact, structure
from gigstack_async._operation import Operation
from gigstack_async._version import __version__
from gigstack_async.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    BilledResponseValidationError,
    DownloadInterruptedError,
    IncompleteResponseError,
    InvalidParameterError,
    OutcomeUnknownError,
    RateLimitError,
    SendWindowClosedError,
    excerpt,
    status_error,
)
from gigstack_async.money import format_decimal
from gigstack_async.transports.base import (
    AsyncTransport,
    BodyReadError,
    BufferedStream,
    MultipartField,
    Request,
    Response,
    ResponseTooLarge,
    StreamedResponse,
    TransportError,
)

logger = logging.getLogger("gigstack_async")

T = TypeVar("T")

MAX_RESPONSE_BYTES = 512 * 1024 * 1024

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

DOWNLOAD_FILE = Operation(
    operation_id="downloadFile",
    method="GET",
    path="<file URL>",  # what logs and errors show: the real URL may carry a signature
    resource="files",
    response_model=bytes,
)
"""A file URL handed out by the API (invoice PDF/XML): a plain read, retried on transient errors."""

_SIDE_EFFECT_TEXT = {
    "none": "this call",
    "creates": "this call creates a record or sends a message (a resend would make a second one)",
    "charges": "this call may charge money",
    "fiscal-document": "this call creates, stamps or cancels a fiscal document (CFDI)",
    "moves-money": "this call moves money",
    "limited-download": "this download counts against SAT's limit of downloads per package",
}


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


MAX_ERROR_BODY_BYTES = 1024 * 1024  # an error envelope of a streamed call: read whole, capped


def encode_query_value(value: Any) -> str:
    if isinstance(value, Decimal):
        return format_decimal(value)  # never "1E+2"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


_DOT_SEGMENTS = frozenset({"", ".", ".."})


def _python_name(param: str) -> str:
    """`requestId` -> `request_id`: errors name the argument the caller passed."""
    return "".join("_" + c.lower() if c.isupper() else c for c in param).lstrip("_")


def encode_path_param(name: str, value: object) -> str:
    """One path parameter as exactly one URL segment, or `InvalidParameterError` before sending.

    Empty, ``.`` and ``..`` are refused: URL libraries (yarl, browsers, proxies) resolve dot
    segments, so ``/status/..`` would reach another endpoint. Everything else is percent-encoded
    with no safe characters (``/``, ``?``, ``#``, ``%`` included) and otherwise sent as given:
    no case change, so the server sees what the caller wrote.
    """
    if not isinstance(value, str):
        raise TypeError(f"{_python_name(name)}: expected a str, got {type(value).__name__}")
    if value.strip() in _DOT_SEGMENTS:
        raise InvalidParameterError(
            _python_name(name), "must not be empty, '.' or '..' (a URL path segment)", value
        )
    return quote(value, safe="")


def _seconds(text: str, scale: float) -> float | None:
    """A finite, non-negative number of seconds, or None for anything else (nan, inf, -1, "")."""
    try:
        value = float(text) / scale
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def parse_retry_after(response: Response, *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date.

    An invalid value in one header (``nan``, ``inf``, negative, text) is ignored, so a valid
    header beside it still counts; None when neither holds a usable value.
    """
    millis = response.header("retry-after-ms")
    if millis is not None and (seconds := _seconds(millis, 1000)) is not None:
        return seconds
    value = response.header("retry-after")
    if value is None:
        return None
    if (seconds := _seconds(value, 1)) is not None:
        return seconds
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
        # The same three headers on every request: built once (repr=False: it holds the key).
        self._base_headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": f"gigstack-async/{__version__}",
        }

    def __repr__(self) -> str:
        return f"Pipeline(base_url={self.base_url!r}, team={self.team!r})"

    def key_fingerprint(self) -> str:
        """A short SHA-256 fingerprint of the API key (bulk journals record it, never the key)."""
        return hashlib.sha256(b"gigstack-async journal\0" + self._api_key.encode()).hexdigest()[:16]

    def key_home_team(self) -> str | None:
        """The key's home team when the key says so, else None (never the key itself).

        FACT-CLI (gigstack's CLI, `src/config.ts`): a key is a JWT whose `team` claim is its
        home team. Only a key of exactly that shape (three base64url parts, a JSON payload with
        a string `team`) answers; any other key's home team is unknown, not guessed.
        """
        return home_team_of(self._api_key)

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
            path = path.replace("{" + name + "}", encode_path_param(name, value))
        params: list[tuple[str, str]] = []
        for name, value in (query or {}).items():
            if value is not None:
                params.append((name, encode_query_value(value)))
        if self.team is not None and "team" in op.query_params:
            params.append(("team", self.team))
        all_headers = dict(self._base_headers)
        if _bodyless_write(op, json_body, multipart):
            all_headers["Content-Type"] = "application/json"
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
        key: str | None = None
        if op.idempotency is not None:
            json_body, headers = with_idempotency_key(op, json_body, idempotency_key)
            key = (
                headers[op.idempotency.field]
                if headers is not None
                else str(json_body[op.idempotency.field])
            )
        request = self.build_request(
            op,
            path_params=path_params,
            query=query,
            json_body=json_body,
            multipart=multipart,
            headers=headers,
        )
        result = await self.send(op, request, idempotency_key=key)
        return self.decode(op, result)

    async def send(
        self, op: Operation, request: Request, *, idempotency_key: str | None = None
    ) -> CallResult:
        """Send with the retry policy. `idempotency_key` is the key `request` carries (for an
        operation with `op.idempotency`): a failure after it may have been served names it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout.total
        log_path = op.path
        attempt = 0
        maybe_served = False  # some attempt may have reached the server (idempotent calls)
        reached = False  # some attempt got as far as a connection (answered or sent)
        while True:
            attempt += 1
            started = loop.time()
            try:
                async with asyncio.timeout_at(deadline):
                    async with self.semaphore:
                        self._check_window(op, log_path, reached, attempt)
                        _departure.note(attempted=True)
                        response = await self.transport.send(request)
            except TimeoutError as exc:
                # The per-call deadline, which covers every attempt.
                self._log_attempt(op, log_path, "deadline", attempt, loop.time() - started)
                message = (
                    f"{op.method} {log_path}: no result within the {self.timeout.total} s deadline "
                    f"({attempt} attempt{'s' if attempt > 1 else ''})"
                )
                if op.no_resend and _departure.never_left():
                    # Still queued or connecting at the deadline: no server can have seen it.
                    raise APITimeoutError(
                        f"{message}; it never left this machine",
                        method=op.method,
                        path=log_path,
                        request_sent=False,
                    ) from exc
                if op.no_resend:
                    raise self._unsafe_failure(op, message) from exc
                if op.idempotency is not None:
                    raise self._keyed_failure(op, message, idempotency_key) from exc
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
                    raise self._unsafe_failure(op, f"{op.method} {log_path}: {exc}") from exc
                maybe_served = maybe_served or exc.request_sent
                reached = reached or exc.request_sent
                delay = self._backoff(attempt)
                if (
                    attempt <= self.retry.max_retries
                    and loop.time() + delay < deadline
                    and _send_window.fits(loop.time(), delay)
                ):
                    logger.info(
                        "retrying %s %s in %.2f s after %s (attempt %d)",
                        op.method, log_path, delay, type(exc).__name__, attempt + 1,
                    )  # fmt: skip
                    await asyncio.sleep(delay)
                    continue
                error_class: type[APIConnectionError] = (
                    APITimeoutError
                    if "Timeout" in type(exc).__name__
                    # Answered, but the body broke off: the API was reached (not a bad URL).
                    else IncompleteResponseError
                    if isinstance(exc, BodyReadError)
                    else APIConnectionError
                )
                attempts = f"{attempt} attempt{'s' if attempt > 1 else ''}"
                if op.idempotency is not None and maybe_served:
                    raise self._keyed_failure(
                        op, f"{op.method} {log_path}: {exc} (after {attempts})", idempotency_key
                    ) from exc
                raise error_class(
                    f"{op.method} {log_path}: {exc} (after {attempts})",
                    method=op.method,
                    path=log_path,
                    request_sent=reached,
                ) from exc

            elapsed = loop.time() - started
            self._log_attempt(op, log_path, response.status, attempt, elapsed)
            acted = _may_have_acted(op, response.status)
            if response.status < 400 or response.status not in self.retry.retry_statuses:
                if acted:
                    raise self._acted_failure(op, response, idempotency_key)
                return CallResult(response=response, attempts=attempt)
            reached = True
            maybe_served = maybe_served or acted
            retry_after = parse_retry_after(response)
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            if (
                op.no_resend
                or attempt > self.retry.max_retries
                or (retry_after is not None and retry_after > self.retry.retry_after_cap)
                or loop.time() + delay >= deadline
                or not _send_window.fits(loop.time(), delay)
            ):
                if acted or (op.idempotency is not None and maybe_served):
                    raise self._acted_failure(op, response, idempotency_key)
                raise self._status_error(response, retry_after)
            logger.info(
                "retrying %s %s in %.2f s after HTTP %d (attempt %d)",
                op.method, log_path, delay, response.status, attempt + 1,
            )  # fmt: skip
            await asyncio.sleep(delay)

    def _acted_failure(
        self, op: Operation, response: Response, key: str | None
    ) -> OutcomeUnknownError:
        """A 5xx to a call with a side effect: the server may have acted before failing (a 503
        from a proxy before the handler cannot be told apart), so it is not a refusal."""
        message = (
            f"{op.method} {op.path}: HTTP {response.status}: {excerpt(response.body)}"
            if response.body
            else f"{op.method} {op.path}: HTTP {response.status}"
        )
        if op.idempotency is not None:
            return self._keyed_failure(op, message, key, response)
        request_id = _request_id(response)
        return OutcomeUnknownError(
            f"{message}; {_SIDE_EFFECT_TEXT[op.side_effect]} and the server may have acted "
            "before failing, so it was not retried. Check whether it took effect before "
            "trying again." + (f" [request id {request_id}]" if request_id else ""),
            method=op.method,
            path=op.path,
            status=response.status,
            request_id=request_id,
            body=response.body,
        )

    def _keyed_failure(
        self, op: Operation, message: str, key: str | None, response: Response | None = None
    ) -> OutcomeUnknownError:
        """An idempotent call whose retries ran out after some attempt may have been served."""
        return OutcomeUnknownError(
            f"{message}; {_SIDE_EFFECT_TEXT[op.side_effect]} and may have taken effect. Retry "
            f"WITH idempotency_key={key!r} (error.idempotency_key): the server recognises the "
            "key and does not act twice; a retry without it may act twice.",
            method=op.method,
            path=op.path,
            idempotency_key=key,
            status=None if response is None else response.status,
            request_id=None if response is None else _request_id(response),
            body=b"" if response is None else response.body,
        )

    def _unsafe_failure(
        self, op: Operation, message: str, *, served: bool = False
    ) -> APIConnectionError:
        """The error for a call with a side effect that failed after it may have been served
        (`served`: its 2xx answer had begun, see `DownloadInterruptedError.served`)."""
        if op.side_effect != "limited-download":
            return OutcomeUnknownError(
                f"{message}; {_SIDE_EFFECT_TEXT[op.side_effect]} and may have reached the "
                "server, so it was not retried. Check whether it took effect before trying again.",
                method=op.method,
                path=op.path,
            )
        return DownloadInterruptedError(
            f"{message}; the download may already count against SAT's limit of 2 downloads per "
            "package, so it was not retried",
            method=op.method,
            path=op.path,
            served=served,
        )

    # ------------------------------------------------------------------ streaming

    @contextlib.asynccontextmanager
    async def stream(
        self,
        op: Operation,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[StreamedResponse]:
        """Send `op` and yield its 2xx response with the body still unread (`chunks()`).

        The same policy as `call`: retries only where the operation allows them, and only before
        a response arrived; an error status raises its `APIStatusError` (the error body is read,
        up to 1 MiB). The per-call deadline (`Timeout.total`) covers the body too. A body that
        breaks off raises `DownloadInterruptedError` (billed or limited calls, never retried) or
        `APIConnectionError`. Transports without `stream` fall back to `send` (body in memory).
        """
        request = self.build_request(op, path_params=path_params, query=query)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout.total
        async with contextlib.AsyncExitStack() as stack:
            response = await self._open_stream(op, request, deadline, stack)
            body = _GuardedStream(self, op, response)
            try:
                async with asyncio.timeout_at(deadline):
                    yield body
            except TimeoutError as exc:
                if loop.time() < deadline:
                    raise  # not our deadline: the consumer's own timeout
                message = f"{op.method} {op.path}: the body did not arrive within the deadline"
                if op.no_resend:
                    raise self._unsafe_failure(op, message, served=True) from exc
                raise APITimeoutError(message, method=op.method, path=op.path) from exc

    @contextlib.asynccontextmanager
    async def download(self, url: str) -> AsyncIterator[_GuardedStream]:
        """Open a file URL the API handed out (invoice PDF/XML) and yield its body (`chunks()`).

        The API key goes only to URLs under `base_url`: storage URLs get no Authorization
        header. Redirects are followed (at most 5), dropping the key when the URL leaves
        `base_url`. Retried like any read; the URL is never logged (it may be signed). The
        per-call deadline covers the body too.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout.total
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
            )
            async with contextlib.AsyncExitStack() as stack:
                response = await self._open_stream(DOWNLOAD_FILE, request, deadline, stack)
                location = next(
                    (v for k, v in response.headers.items() if k.lower() == "location"), None
                )
                if response.status in _REDIRECTS and location:
                    current = urljoin(current, location)
                    continue
                body = _GuardedStream(self, DOWNLOAD_FILE, response)
                try:
                    async with asyncio.timeout_at(deadline):
                        yield body
                except TimeoutError as exc:
                    if loop.time() < deadline:
                        raise  # not our deadline: the consumer's own timeout
                    raise APITimeoutError(
                        "the file did not arrive within the deadline",
                        method="GET",
                        path=DOWNLOAD_FILE.path,
                    ) from exc
                return
        raise APIResponseValidationError(f"more than {MAX_REDIRECTS} redirects", status=0)

    async def _open_stream(
        self,
        op: Operation,
        request: Request,
        deadline: float,
        stack: contextlib.AsyncExitStack,
    ) -> StreamedResponse:
        loop = asyncio.get_running_loop()
        attempt = 0
        reached = False  # some attempt got as far as a connection (answered or sent)
        while True:
            attempt += 1
            started = loop.time()
            attempt_stack = contextlib.AsyncExitStack()
            try:
                async with asyncio.timeout_at(deadline):
                    await attempt_stack.enter_async_context(self.semaphore)
                    self._check_window(op, op.path, reached, attempt)
                    _departure.note(attempted=True)
                    response = await attempt_stack.enter_async_context(
                        _open(self.transport, request)
                    )
            except TimeoutError as exc:
                await attempt_stack.aclose()
                message = f"{op.method} {op.path}: no response within the {self.timeout.total} s"
                if op.no_resend:
                    raise self._unsafe_failure(op, message) from exc
                raise APITimeoutError(message, method=op.method, path=op.path) from exc
            except TransportError as exc:
                await attempt_stack.aclose()
                self._log_attempt(op, op.path, type(exc).__name__, attempt, loop.time() - started)
                if op.no_resend and exc.request_sent:
                    raise self._unsafe_failure(op, f"{op.method} {op.path}: {exc}") from exc
                reached = reached or exc.request_sent
                delay = self._backoff(attempt)
                if (
                    attempt <= self.retry.max_retries
                    and loop.time() + delay < deadline
                    and _send_window.fits(loop.time(), delay)
                ):
                    await asyncio.sleep(delay)
                    continue
                raise APIConnectionError(
                    f"{op.method} {op.path}: {exc} (after {attempt} attempts)",
                    method=op.method,
                    path=op.path,
                    request_sent=reached,
                ) from exc
            except BaseException:
                await attempt_stack.aclose()
                raise
            self._log_attempt(op, op.path, response.status, attempt, loop.time() - started)
            reached = True
            if response.status < 400:
                stack.push_async_exit(attempt_stack)
                return response
            try:
                body = await _read_capped(response, MAX_ERROR_BODY_BYTES)
            finally:
                await attempt_stack.aclose()
            whole = Response(response.status, response.headers, body)
            retry_after = parse_retry_after(whole)
            retryable = response.status in self.retry.retry_statuses
            if not retryable or op.no_resend or attempt > self.retry.max_retries:
                raise self._status_error(whole, retry_after)
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            if (
                delay > self.retry.retry_after_cap
                or loop.time() + delay >= deadline
                or not _send_window.fits(loop.time(), delay)
            ):
                raise self._status_error(whole, retry_after)
            await asyncio.sleep(delay)

    def _check_window(self, op: Operation, path: str, reached: bool, attempt: int) -> None:
        """Raise `SendWindowClosedError` if this attempt would leave past the send window of
        the task's bulk run (`_send_window`): it waited for a slot until after the deadline."""
        if _send_window.closed(asyncio.get_running_loop().time()):
            self._log_attempt(op, path, "not sent: past the run's deadline", attempt, 0.0)
            raise SendWindowClosedError(
                f"{op.method} {path}: not sent, the run's deadline had passed",
                method=op.method,
                path=path,
                request_sent=reached,
            )

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
        # Every route lives under /v2: a 404 from a base URL without it says so.
        hint = missing_version(self.base_url) if response.status == 404 else None
        error = status_error(
            response.status, response.body, body, request_id=_request_id(response), hint=hint
        )
        if isinstance(error, RateLimitError):
            error.retry_after = retry_after
        return error

    # ------------------------------------------------------------------ decoding

    def decode(self, op: Operation, result: CallResult) -> Any:
        response = result.response
        if response.status >= 400:
            raise self._status_error(response, parse_retry_after(response))
        try:
            # Money-bearing models get every fractional number as Decimal, digit for digit.
            body = _json.loads(response.body, exact=needs_exact(op.response_model))
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
            content_type = response.header("content-type") or "no content type"
            shown = excerpt(response.body) if response.body else "empty body"
            # Valid JSON syntax whose number we refuse (NaN, 1e400) says so; anything else is
            # simply not JSON.
            what = str(exc) if isinstance(exc, _json.NumberRefused) else "expected JSON"
            raise _invalid_body(op, response, f"{what}, got {content_type}: {shown}", None) from exc
        if isinstance(body, dict) and body.get("success") is False:
            raise status_error(
                response.status, response.body, _plain(response), request_id=_request_id(response)
            )
        try:
            return decode_body(op, response.status, response.body, body, op.response_model)
        except APIResponseValidationError as exc:
            reason = str(exc).partition(": ")[2]
            raise _invalid_body(op, response, reason, _plain(response)) from exc


def _plain(response: Response) -> Any:
    """An error's body as plain JSON (floats), whatever the operation's model: an error reads
    the same from a 2xx with `success: false` as from a 4xx, and `json.dumps(error.body)` can
    log it. Exact Decimals are for decoded models only."""
    return _json_or_none(response.body)


def _may_have_acted(op: Operation, status: int) -> bool:
    """A 5xx to a call with a side effect: the server may have acted before failing. Every 5xx
    counts (a 503 from a proxy before the handler looks the same as one after it); a package
    download (`limited-download`) streams no side effect of its own beyond the count SAT keeps,
    and keeps its own DownloadInterruptedError path."""
    return status >= 500 and op.side_effect not in ("none", "limited-download")


def _invalid_body(
    op: Operation, response: Response, reason: str, body: Any
) -> APIResponseValidationError:
    """The error for a 2xx body we cannot read; on a billed call it says the call went through."""
    request_id = _request_id(response)
    if op.side_effect != "none" and 200 <= response.status < 300:
        return BilledResponseValidationError(
            f"{op.method} {op.path}: HTTP {response.status}: the call WENT THROUGH ("
            f"{_SIDE_EFFECT_TEXT[op.side_effect].removeprefix('this call ')}) but its response "
            f"cannot be read: {reason}. Do not send it again; "
            "check its effect first (e.g. the download history)"
            + (f" [request id {request_id}]" if request_id else ""),
            status=response.status,
            body=response.body,
            request_id=request_id,
            json_body=body,
        )
    return APIResponseValidationError(
        f"{op.method} {op.path}: {reason}",
        status=response.status,
        body=response.body,
        request_id=request_id,
    )


def _bodyless_write(op: Operation, json_body: Any, multipart: object) -> bool:
    """A POST/PUT/PATCH with no body: gigstack's own client sends it as `application/json` with
    an empty body; aiohttp alone would label it `application/octet-stream`."""
    return op.method in ("POST", "PUT", "PATCH") and json_body is None and multipart is None


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


@contextlib.asynccontextmanager
async def _open(transport: AsyncTransport, request: Request) -> AsyncIterator[StreamedResponse]:
    opener = getattr(transport, "stream", None)
    if opener is None:  # a transport without streaming: the body comes whole
        yield BufferedStream(await transport.send(request))
        return
    async with opener(request) as response:
        yield response


async def _read_capped(response: StreamedResponse, limit: int) -> bytes:
    body = bytearray()
    with contextlib.suppress(TransportError):  # an error body cut short is still an error
        async for chunk in response.chunks():
            body += chunk[: limit - len(body)]
            if len(body) >= limit:
                break
    return bytes(body)


class _GuardedStream:
    """The body of a streamed call, with transport failures turned into the SDK's errors."""

    def __init__(self, pipeline: Pipeline, op: Operation, response: StreamedResponse) -> None:
        self._pipeline = pipeline
        self._op = op
        self._response = response
        self.status = response.status
        self.headers = response.headers
        self.received = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        op = self._op
        failure: APIConnectionError
        try:
            async for chunk in self._response.chunks():
                self.received += len(chunk)
                yield chunk
            return
        except TransportError as exc:
            message = (
                f"{op.method} {op.path}: {exc} (the body broke off after {self.received} bytes)"
            )
            if op.no_resend:
                failure = self._pipeline._unsafe_failure(op, message, served=True)
            else:
                kind = IncompleteResponseError if isinstance(exc, BodyReadError) else None
                failure = (kind or APIConnectionError)(message, method=op.method, path=op.path)
        raise failure


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _request_id(response: Response) -> str | None:
    return response.header("x-request-id") or response.header("request-id")


def home_team_of(api_key: str) -> str | None:
    """The `team` claim of a JWT-shaped API key (unverified: it only names, never authorizes)."""
    parts = api_key.strip().split(".")
    if len(parts) != 3 or not all(parts):
        return None
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (ValueError, TypeError):
        return None
    team = claims.get("team") if isinstance(claims, dict) else None
    return team if isinstance(team, str) and team.strip() else None
