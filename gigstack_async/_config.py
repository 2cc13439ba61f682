"""Client settings: timeouts and retry policy, with the defaults we stand behind."""

from __future__ import annotations

import math

import attrs

DEFAULT_BASE_URL = "https://api.gigstack.io/v2"


def missing_version(base_url: str) -> str | None:
    """A hint when the base URL lacks the API's `/v2` path (every route lives under it)."""
    trimmed = base_url.rstrip("/")
    if trimmed.endswith("/v2"):
        return None
    return f"the base URL has no /v2: did you mean {trimmed}/v2 ?"


@attrs.frozen
class Timeout:
    """Time limits in seconds. None of them is unlimited by default.

    - `connect`: to open a connection (per attempt).
    - `read`: between bytes of the response (per attempt).
    - `total`: the whole call, every retry and backoff sleep included (the per-call deadline).

    >>> Timeout(total=30).read
    60.0
    """

    connect: float = 10.0
    read: float = 60.0
    total: float = 300.0

    def __attrs_post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ValueError(f"Timeout.{name} must be a finite positive number of seconds")


@attrs.frozen
class RetryPolicy:
    """When and how long to wait before retrying.

    Retried: connection errors and HTTP 408, 429, 500, 502, 503, 504 — never a call that may
    charge money once the request may have reached the server. Backoff is
    `min(base · 2ⁿ, cap) × U(0.75, 1)`; a `Retry-After` up to `retry_after_cap` seconds wins,
    a longer one is not waited for (the error is raised with `retry_after` set).
    """

    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    retry_after_cap: float = 60.0
    retry_statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
