"""Sandbox configuration: frozen attrs classes, validated on construction.

Every knob that changes what a client observes lives here, so a test states its scenario in one
place and two sandboxes built from equal configs (same seed) answer identically.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

import attrs

from gigstack_async.sandbox.profiles import ServerProfile
from gigstack_async.sandbox.webhook_registry import WebhookSandboxConfig

Plan = Literal["included", "addon", "free"]
"""What the team's gigstack plan says about Descarga Masiva (drives `activate/status`)."""

DEFAULT_API_KEY = "sk_test_sandbox_4b1d3c9e7a2f4e68"
"""The test key of the default configuration. Not a secret: it only opens the sandbox."""


def _rate(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, got {value!r}")


def _non_negative(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _non_negative_int(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be an integer >= 0, got {value!r}")


def _span(
    _instance: object, attribute: attrs.Attribute[tuple[float, float]], value: object
) -> None:
    if not (isinstance(value, tuple) and len(value) == 2 and 0 <= value[0] <= value[1]):
        raise ValueError(f"{attribute.name} must be a (low, high) pair with 0 <= low <= high")


def _frozen_ops(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


def _team_ids(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


@attrs.frozen
class FaultConfig:
    """Seeded fault injection, decided per request in one of two phases.

    *Before* the handler (nothing happened on the server): `error_500_rate`, `error_502_rate`,
    `error_503_rate`, `rate_limit_rate` (429 with `Retry-After: retry_after_seconds`) and
    `drop_rate` (connection closed, no response). Their sum must not exceed 1.

    *After* the handler (its side effect happened, e.g. a download request was created, but the
    client never learns it): `after_drop_rate` (connection closed), `after_truncate_rate` (fewer
    bytes than `Content-Length`, then closed) and `after_502_rate` (a gateway error replaces the
    real answer). Their sum must not exceed 1.

    `latency_rate` adds a real (not simulated) delay drawn from `latency_seconds` before the
    handler, independently of the other faults.

    Decisions depend only on `(seed, operation id, n-th call of that operation)`, so a scenario
    replays identically even when other operations interleave differently. `operations`, when
    set, restricts faults to those operation ids; requests that match no spec route never fault.
    `seed=None` uses the sandbox seed.
    """

    seed: int | None = None
    operations: frozenset[str] | None = attrs.field(default=None, converter=_frozen_ops)
    error_500_rate: float = attrs.field(default=0.0, validator=_rate)
    error_502_rate: float = attrs.field(default=0.0, validator=_rate)
    error_503_rate: float = attrs.field(default=0.0, validator=_rate)
    rate_limit_rate: float = attrs.field(default=0.0, validator=_rate)
    retry_after_seconds: int = attrs.field(default=1, validator=_non_negative_int)
    drop_rate: float = attrs.field(default=0.0, validator=_rate)
    latency_rate: float = attrs.field(default=0.0, validator=_rate)
    latency_seconds: tuple[float, float] = attrs.field(default=(0.0, 0.0), validator=_span)
    after_drop_rate: float = attrs.field(default=0.0, validator=_rate)
    after_truncate_rate: float = attrs.field(default=0.0, validator=_rate)
    after_502_rate: float = attrs.field(default=0.0, validator=_rate)

    def __attrs_post_init__(self) -> None:
        before = (
            self.error_500_rate
            + self.error_502_rate
            + self.error_503_rate
            + self.rate_limit_rate
            + self.drop_rate
        )
        after = self.after_drop_rate + self.after_truncate_rate + self.after_502_rate
        if before > 1.0 + 1e-9 or after > 1.0 + 1e-9:
            raise ValueError(
                "the before-handler rates and the after-handler rates must each sum <= 1"
            )

    @property
    def enabled(self) -> bool:
        """Whether any fault can ever be drawn (a forced fault works regardless)."""
        return any(
            rate > 0
            for rate in (
                self.error_500_rate,
                self.error_502_rate,
                self.error_503_rate,
                self.rate_limit_rate,
                self.drop_rate,
                self.latency_rate,
                self.after_drop_rate,
                self.after_truncate_rate,
                self.after_502_rate,
            )
        )


@attrs.frozen
class LifecycleConfig:
    """How a download request moves through SAT's states, in simulated seconds.

    pending → accepted after `pending_seconds`, → processing after `accepted_seconds`, →
    completed after `processing_seconds`; each stage is stretched by a seeded factor in
    `[1 - jitter, 1 + jitter]` so concurrent requests finish in a realistic, reproducible order.
    A seeded `failure_rate` share of requests ends `failed` instead (half rejected when they would
    start processing, half erroring when they would complete). Completed packages expire
    (`expired`) `package_lifetime_hours` after completion, as SAT's do after 72 h.
    """

    pending_seconds: float = attrs.field(default=5.0, validator=_non_negative)
    accepted_seconds: float = attrs.field(default=30.0, validator=_non_negative)
    processing_seconds: float = attrs.field(default=120.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.25, validator=_rate)
    failure_rate: float = attrs.field(default=0.0, validator=_rate)
    package_lifetime_hours: float = attrs.field(default=72.0, validator=_non_negative)

    @property
    def longest_completion_seconds(self) -> float:
        """An upper bound on creation-to-terminal time: advance the clock by this to finish all."""
        stages = self.pending_seconds + self.accepted_seconds + self.processing_seconds
        return stages * (1.0 + self.jitter)


@attrs.frozen
class TeamConfig:
    """A gigstack team (one RFC). `ready=None` inherits `SandboxConfig.ready`.

    `plan` only shapes the blank state and activation: `included` starts `needs_activation`,
    `addon` starts `needs_addon`, `free` starts `needs_upgrade` and cannot be activated.
    """

    team_id: str
    rfc: str
    legal_name: str
    ready: bool | None = None
    plan: Plan = "included"
    regimen_fiscal: str = "601"
    postal_code: str = "42501"


@attrs.frozen
class ApiKeyConfig:
    """An API key: its home team (used when `?team=` is absent) and the teams it may also act on."""

    key: str
    home_team: str
    connected_teams: frozenset[str] = attrs.field(default=frozenset(), converter=_team_ids)
    owner: str = "user_sandbox"


DEFAULT_TEAMS: tuple[TeamConfig, ...] = (
    # SAT's published CFDI 4.0 test taxpayers, so nothing here collides with a real business.
    TeamConfig("team_sandbox", "EKU9003173C9", "ESCUELA KEMPER URGATE"),
    TeamConfig("team_connected", "IIA040805DZ4", "INDISTRIA ILUMINADORA DE ALMACENES"),
    TeamConfig("team_foreign", "XIA190128J61", "XENON INDUSTRIAL ARTICLES"),
)

DEFAULT_API_KEYS: tuple[ApiKeyConfig, ...] = (
    ApiKeyConfig(DEFAULT_API_KEY, "team_sandbox", frozenset({"team_connected"})),
)


@attrs.frozen
class SandboxConfig:
    """Everything the sandbox does differently from one run to another.

    - `seed`: drives invoices, request ids, lifecycle jitter and failures (and faults unless
      `FaultConfig.seed` is set).
    - `speed`: simulated seconds per real second (0 freezes time; tests then call
      `clock.advance`). `start`: the simulated instant at startup (timezone-aware; `None` = now).
    - `ready`: teams start with Descarga Masiva active, FIEL uploaded and registered; with
      `False` they start blank and must walk activate → FIEL → register.
    - `invoices_per_month`: inclusive range of CFDIs per (team, month, direction).
    - `package_size`: most invoices per package. `max_package_downloads`: SAT allows 2, the
      default (`None` = unlimited); the third download of a package answers SAT 5008.
      `identical_request_budget`: SAT's lifetime cap per identical criteria (`None` =
      unlimited). `history_limit`: entries in the history response. `sync_window_months`: how
      far back a request may start.
    - `preloaded_months`: active teams start with completed cfdi requests (received and issued)
      for each of their last N full months, so the SAT invoice list is not empty (0 = none; the
      command line's sandbox uses 3).
    - `profile`: how the server disagrees with the SDK's guesses (`ServerProfile`, see
      `gigstack_async.sandbox.profiles`; `profile("documented-fields", "clock-behind")` by name).
    """

    seed: int = 0
    speed: float = attrs.field(default=1.0, validator=_non_negative)
    start: datetime | None = None
    ready: bool = True
    teams: tuple[TeamConfig, ...] = DEFAULT_TEAMS
    api_keys: tuple[ApiKeyConfig, ...] = DEFAULT_API_KEYS
    lifecycle: LifecycleConfig = LifecycleConfig()
    invoices_per_month: tuple[int, int] = (5, 80)
    package_size: int = 100
    max_package_downloads: int | None = 2
    identical_request_budget: int | None = 2
    history_limit: int = 20
    sync_window_months: int = 71
    faults: FaultConfig = FaultConfig()
    preloaded_months: int = attrs.field(default=0, validator=_non_negative_int)
    profile: ServerProfile = attrs.field(factory=ServerProfile)
    webhooks: WebhookSandboxConfig = attrs.field(factory=WebhookSandboxConfig)
    """Webhook delivery: retries, envelope, signing, duplicates (sandbox/webhook_registry.py)."""

    def __attrs_post_init__(self) -> None:
        if self.start is not None and self.start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        low, high = self.invoices_per_month
        if not 0 <= low <= high:
            raise ValueError("invoices_per_month must be (low, high) with 0 <= low <= high")
        if self.package_size < 1 or self.history_limit < 1 or self.sync_window_months < 1:
            raise ValueError("package_size, history_limit and sync_window_months must be >= 1")
        if self.max_package_downloads is not None and self.max_package_downloads < 1:
            raise ValueError("max_package_downloads must be >= 1 or None")
        if self.identical_request_budget is not None and self.identical_request_budget < 1:
            raise ValueError("identical_request_budget must be >= 1 or None")
        team_ids = [team.team_id for team in self.teams]
        if len(set(team_ids)) != len(team_ids):
            raise ValueError("team ids must be unique")
        if not self.api_keys:
            raise ValueError("at least one API key is needed")
        if len({key.key for key in self.api_keys}) != len(self.api_keys):
            raise ValueError("API keys must be unique")
        for key in self.api_keys:
            unknown = ({key.home_team} | key.connected_teams) - set(team_ids)
            if unknown:
                raise ValueError(f"API key refers to unknown teams: {sorted(unknown)}")

    @property
    def api_key(self) -> str:
        """The first configured key: the one `Sandbox.api_key` hands out."""
        return self.api_keys[0].key

    def team(self, team_id: str) -> TeamConfig:
        """The configuration of `team_id` (KeyError if unknown)."""
        for team in self.teams:
            if team.team_id == team_id:
                return team
        raise KeyError(team_id)
