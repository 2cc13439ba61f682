"""GigstackClient: configuration, connection lifecycle and the resource namespaces."""

from __future__ import annotations

import asyncio
import math
import os
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp

from gigstack_async._config import DEFAULT_BASE_URL, RetryPolicy, Timeout
from gigstack_async._generated.resources import Namespaces
from gigstack_async._pipeline import MAX_RESPONSE_BYTES, Pipeline
from gigstack_async.errors import InvalidParameterError
from gigstack_async.resources.downloads import Downloads
from gigstack_async.resources.invoices import Invoices
from gigstack_async.resources.retentions import Retentions
from gigstack_async.resources.sat_invoices import SatInvoices
from gigstack_async.transports.aiohttp import AiohttpTransport
from gigstack_async.transports.base import AsyncTransport

API_KEY_ENV = "GIGSTACK_API_KEY"
BASE_URL_ENV = "GIGSTACK_BASE_URL"


def _check_api_key(api_key: str | None) -> str:
    if api_key is None:
        api_key = os.environ.get(API_KEY_ENV)
    if api_key is not None and not isinstance(api_key, str):
        raise TypeError(f"api_key: expected str, got {type(api_key).__name__}")
    if api_key is None or not api_key.strip():
        raise InvalidParameterError(
            "api_key", f"missing: pass api_key=... or set the {API_KEY_ENV} environment variable"
        )
    if any(ch.isspace() or ord(ch) < 32 for ch in api_key.strip()):
        raise InvalidParameterError("api_key", "contains whitespace or control characters")
    return api_key.strip()


def _check_base_url(base_url: str | None) -> str:
    url = base_url if base_url is not None else os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not isinstance(url, str):
        raise TypeError(f"base_url: expected str, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameterError(
            "base_url", "must be an absolute http(s) URL such as https://api.gigstack.io/v2", url
        )
    if parts.query or parts.fragment:
        raise InvalidParameterError("base_url", "must not carry a query or fragment", url)
    return url.rstrip("/")


def _check_timeout(timeout: Timeout | float | None) -> Timeout:
    if timeout is None:
        return Timeout()
    if isinstance(timeout, Timeout):
        return timeout
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise InvalidParameterError(
            "timeout", "must be a finite positive number of seconds or a Timeout", timeout
        )
    # A bare number is the per-call deadline; connect/read never exceed it.
    total = float(timeout)
    defaults = Timeout()
    return Timeout(
        connect=min(defaults.connect, total), read=min(defaults.read, total), total=total
    )


def _check_count(field: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field}: expected int, got {type(value).__name__}")
    if value < minimum:
        raise InvalidParameterError(field, f"must be ≥ {minimum}", value)
    return value


class GigstackClient(Namespaces):
    """The asyncio client for the gigstack API v2.

    ```python
    async with GigstackClient() as client:          # key from GIGSTACK_API_KEY
        async for invoice in client.sat_invoices.list(direction="received"):
            print(invoice.uuid)
    ```

    - `api_key`: defaults to `$GIGSTACK_API_KEY`; missing → InvalidParameterError, right here.
    - `base_url`: defaults to `$GIGSTACK_BASE_URL`, else https://api.gigstack.io/v2.
    - `team`: act on another team's resources (gigstack Connect); sent as `?team=` on every call.
    - `timeout`: a `Timeout`, or a number of seconds for the whole call, retries included.
    - `max_retries`: retries of safe failures (never of a call that may charge money).
    - `max_in_flight`: at most this many requests on the wire at once, however many tasks call.
    - `session`: your own `aiohttp.ClientSession`; used, never closed by us.
    - `transport`: replace the network entirely (see `gigstack_async.transports.MockTransport`).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        team: str | None = None,
        timeout: Timeout | float | None = None,
        max_retries: int = 2,
        max_in_flight: int = 32,
        session: aiohttp.ClientSession | None = None,
        transport: AsyncTransport | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        if session is not None and transport is not None:
            raise InvalidParameterError("session", "pass either session= or transport=, not both")
        if team is not None and (not isinstance(team, str) or not team.strip()):
            raise InvalidParameterError("team", "must be a non-empty team id", team)
        retry = RetryPolicy(max_retries=_check_count("max_retries", max_retries, 0))
        in_flight = _check_count("max_in_flight", max_in_flight, 1)
        self._transport: AsyncTransport = transport or AiohttpTransport(
            session, pool_size=max(100, in_flight)
        )
        self._owns_transport = transport is None
        self._pipeline = Pipeline(
            transport=self._transport,
            api_key=_check_api_key(api_key),
            base_url=_check_base_url(base_url),
            team=team,
            timeout=_check_timeout(timeout),
            retry=retry,
            semaphore=asyncio.Semaphore(in_flight),
            max_response_bytes=_check_count("max_response_bytes", max_response_bytes, 1),
        )
        self._bind_resources()

    # Hand-written subclasses of generated namespaces (checks that need logic, bulk, packages).
    sat_invoices: SatInvoices
    downloads: Downloads
    invoices: Invoices
    retentions: Retentions

    def _bind_resources(self) -> None:
        # Every namespace of the spec (client.clients, client.invoices.drafts, ...), generated.
        self._bind_generated(self._pipeline)
        self.sat_invoices = SatInvoices(self._pipeline)
        self.downloads = Downloads(self._pipeline)
        self.invoices = Invoices(self._pipeline)
        self.retentions = Retentions(self._pipeline)

    @property
    def base_url(self) -> str:
        return self._pipeline.base_url

    @property
    def team(self) -> str | None:
        return self._pipeline.team

    @property
    def timeout(self) -> Timeout:
        return self._pipeline.timeout

    @property
    def max_retries(self) -> int:
        return self._pipeline.retry.max_retries

    def with_options(
        self,
        *,
        team: str | None = None,
        timeout: Timeout | float | None = None,
        max_retries: int | None = None,
    ) -> GigstackClient:
        """A client sharing this one's connections and in-flight limit, with other settings.

        ```python
        other_team = client.with_options(team="team_123")
        patient = client.with_options(timeout=900, max_retries=5)
        ```
        """
        changes: dict[str, object] = {}
        if team is not None:
            if not isinstance(team, str) or not team.strip():
                raise InvalidParameterError("team", "must be a non-empty team id", team)
            changes["team"] = team
        if timeout is not None:
            changes["timeout"] = _check_timeout(timeout)
        if max_retries is not None:
            changes["retry"] = RetryPolicy(max_retries=_check_count("max_retries", max_retries, 0))
        clone = object.__new__(GigstackClient)
        clone._transport = self._transport
        clone._owns_transport = False  # the original owns the connections and closes them
        clone._pipeline = self._pipeline.replace(**changes)
        clone._bind_resources()
        return clone

    async def aclose(self) -> None:
        """Close the connections this client opened (never a session you passed in)."""
        if self._owns_transport:
            await self._transport.aclose()

    async def __aenter__(self) -> GigstackClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        # Never the key, not even a prefix.
        return f"GigstackClient(base_url={self.base_url!r}, team={self.team!r})"
