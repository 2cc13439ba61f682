"""Webhook endpoints registered in the sandbox, their delivery log, and the delivery knobs.

Nothing here does I/O: `routes_webhooks` edits the registry, `webhook_delivery` reads it and
appends to the log.
"""

from __future__ import annotations

import base64
import random
from typing import Any, Literal

import attrs

Envelope = Literal["object", "flat"]
CreatedUnit = Literal["ms", "s"]
SyncedPayload = Literal["summary", "per_invoice"]
Signing = Literal["standard", "legacy_guess", "none"]

DOCUMENTED_EVENTS = (
    "payment.created",
    "payment.updated",
    "payment.succeeded",
    "payment.canceled",
    "payment.deleted",
    "payment.upcoming_due_date",
    "invoice.created",
    "invoice.canceled",
    "invoice.failed",
    "invoice_batch.completed",
    "receipt.created",
    "receipt.updated",
    "receipt.completed",
    "receipt.deleted",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "service.created",
    "service.updated",
    "service.deleted",
    "sat.invoice.synced",
    "teams.created",
    "teams.sat.completed",
    "teams.stripe.completed",
    "teams.openpay.completed",
    "teams.sat.manifest.signed",
)
"""The 26 names gigstack's backend schema accepts (docs 19 + CLI schema 7)."""


def _delays(value: Any) -> tuple[float, ...]:
    delays = tuple(float(v) for v in value)
    if any(d < 0 for d in delays):
        raise ValueError("retry_delays must be >= 0")
    return delays


@attrs.frozen
class WebhookSandboxConfig:
    """How the sandbox delivers webhooks (every knob plays a GUESS's alternative).

    - `retry_delays`: real seconds to wait before each retry of a delivery that got no 2xx
      (attempts = 1 + len). gigstack's real schedule is NOT FOUND; the default is a GUESS.
    - `timeout_seconds`: how long an attempt waits for the answer (gigstack's documented 5 s).
    - `envelope`: `object` = `{id, type, created, livemode, data: {object}}` (docs) or `flat` =
      `{event, timestamp (ISO), data}` (migration guide; no event id: receivers fall back to
      the `webhook-id` header).
    - `created_unit`: `ms` (docs) or `s` for the `object` envelope's `created`.
    - `sat_synced_payload`: `summary` (one event per completed download request: request id,
      direction, UUIDs) or `per_invoice` (one event per synced SAT invoice). NOT FOUND in docs.
    - `signing`: `standard` (Standard Webhooks headers, the scheme the SDK verifies),
      `legacy_guess` (only `X-Gigstack-Signature`, hex HMAC of the body: the GUESS) or `none`.
    - `timestamp_skew_seconds`: added to `webhook-timestamp` (a sender clock off by this much).
    - `duplicates`: extra copies of every successful delivery (same message id), as a sender
      that retries after a lost acknowledgement would send.
    - `watch_interval`: real seconds between scans for completed download requests.
    """

    retry_delays: tuple[float, ...] = attrs.field(default=(1.0, 5.0, 30.0), converter=_delays)
    timeout_seconds: float = 5.0
    envelope: Envelope = "object"
    created_unit: CreatedUnit = "ms"
    sat_synced_payload: SyncedPayload = "summary"
    signing: Signing = "standard"
    timestamp_skew_seconds: float = 0.0
    duplicates: int = 0
    watch_interval: float = 0.25


def new_secret(rng: random.Random) -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(rng.randbytes(24)).decode()


@attrs.define
class Webhook:
    """One registered endpoint. `secrets`: newest first; all of them sign while rotating."""

    id: str
    team_id: str
    url: str
    events: tuple[str, ...]
    status: str
    description: str | None
    owner: str
    created_ms: int
    secrets: list[str] = attrs.field(repr=False)
    signing_enabled: bool = True

    def wire(self) -> dict[str, Any]:
        """The ApiPublicWebhook shape (docs fields, plus the newer backend's `signing`)."""
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "status": self.status,
            "description": self.description,
            "owner": self.owner,
            "created_at": self.created_ms,
            "signing": {
                "enabled": self.signing_enabled,
                "configured": self.signing_enabled,
                "status": "configured" if self.signing_enabled else "disabled",
            },
        }

    def wants(self, team_id: str, event_type: str) -> bool:
        """Whether this endpoint receives `event_type` events of `team_id`."""
        return self.status == "active" and team_id == self.team_id and event_type in self.events


@attrs.frozen
class DeliveryAttempt:
    """One POST the sandbox made. `outcome`: `succeeded` (2xx), `failed` (non-2xx, timeout,
    connection error) or `forced_failure` (a 2xx the sandbox was told to ignore: the receiver got
    the event, the sender thinks it did not). `duplicate`: a forced extra copy. `at_ms` is real
    wall-clock time (what `webhook-timestamp` carries)."""

    delivery_id: str
    webhook_id: str
    event_id: str
    event_type: str
    attempt: int
    outcome: str
    status: int | None
    error: str | None
    duplicate: bool
    at_ms: int
    latency_ms: int

    def wire(self) -> dict[str, Any]:
        """JSON for the sandbox's delivery-log route."""
        return attrs.asdict(self)


class WebhookRegistry:
    """All endpoints (`webhooks`, by id) and every delivery attempt (`attempts`, in order).

    `fail_next`: the next N attempts are recorded as `forced_failure` whatever the receiver
    answers (then retried). `duplicate_next`: the next N successful deliveries are sent again.
    """

    def __init__(self, config: WebhookSandboxConfig, seed: int = 0) -> None:
        self.config = config
        self.webhooks: dict[str, Webhook] = {}
        self.attempts: list[DeliveryAttempt] = []
        self.fail_next = 0
        self.duplicate_next = 0
        self.rng = random.Random(f"{seed}|webhooks")

    def new_id(self, prefix: str, length: int = 8) -> str:
        """A seeded id like the docs' `wh_dyS2ZVTj`."""
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return prefix + "".join(self.rng.choice(alphabet) for _ in range(length))

    def of_team(self, team_id: str) -> list[Webhook]:
        """The team's endpoints, oldest first."""
        return [hook for hook in self.webhooks.values() if hook.team_id == team_id]

    def attempts_of(
        self, *, webhook_id: str | None = None, event_id: str | None = None
    ) -> list[DeliveryAttempt]:
        """The recorded attempts, filtered."""
        return [
            a
            for a in self.attempts
            if (webhook_id is None or a.webhook_id == webhook_id)
            and (event_id is None or a.event_id == event_id)
        ]
