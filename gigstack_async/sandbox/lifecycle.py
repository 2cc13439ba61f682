"""A download request's life: its criteria, its planned timeline, and its status at any instant.

The whole timeline is drawn (seeded) when the request is created, and the status is a pure
function of the simulated clock. Nothing runs in the background, so a test that advances the clock
sees every transition at once and a frozen clock never changes anything.
"""

from __future__ import annotations

import random
from datetime import date

import attrs

from gigstack_async.sandbox.config import LifecycleConfig
from gigstack_async.sandbox.invoices import Invoice

TERMINAL = frozenset({"completed", "failed", "expired"})

_REJECTED = "SAT rechazó la solicitud (EstadoSolicitud 5: Rechazada)"
_ERRORED = "SAT no pudo generar los paquetes (EstadoSolicitud 4: Error)"


@attrs.frozen
class Criteria:
    """What SAT compares to detect duplicates (5005) and to spend the lifetime budget (5002)."""

    start_date: date
    end_date: date
    rfc_type: str
    request_type: str

    def describe(self) -> str:
        """A human-readable summary for error messages."""
        return f"{self.start_date}..{self.end_date} {self.rfc_type} {self.request_type}"


@attrs.frozen
class Timeline:
    """Epoch-ms instants of each transition; `failed_ms` set means the request ends `failed`."""

    created_ms: int
    accepted_ms: int
    processing_ms: int
    finished_ms: int
    expires_ms: int
    failed_ms: int | None = None
    failure_message: str | None = None

    @classmethod
    def plan(cls, created_ms: int, config: LifecycleConfig, rng: random.Random) -> Timeline:
        """Draw the stage durations and the failure outcome for a request created now."""

        def stage(seconds: float) -> int:
            return int(seconds * 1000 * rng.uniform(1 - config.jitter, 1 + config.jitter))

        accepted = created_ms + stage(config.pending_seconds)
        processing = accepted + stage(config.accepted_seconds)
        finished = processing + stage(config.processing_seconds)
        expires = finished + int(config.package_lifetime_hours * 3_600_000)
        failed_ms: int | None = None
        message: str | None = None
        if rng.random() < config.failure_rate:
            rejected = rng.random() < 0.5
            failed_ms = processing if rejected else finished
            message = _REJECTED if rejected else _ERRORED
        return cls(created_ms, accepted, processing, finished, expires, failed_ms, message)

    def changed_at(self, now_ms: int) -> int:
        """When the status `status_at(now_ms)` reports began: the last status change."""
        if self.failed_ms is not None and now_ms >= self.failed_ms:
            return self.failed_ms
        instants = (self.accepted_ms, self.processing_ms, self.finished_ms, self.expires_ms)
        return max((i for i in instants if i <= now_ms), default=self.created_ms)

    def status_at(self, now_ms: int) -> str:
        """The gigstack history status at `now_ms`."""
        if self.failed_ms is not None and now_ms >= self.failed_ms:
            return "failed"
        if now_ms < self.accepted_ms:
            return "pending"
        if now_ms < self.processing_ms:
            return "accepted"
        if now_ms < self.finished_ms:
            return "processing"
        return "completed" if now_ms < self.expires_ms else "expired"


@attrs.define
class DownloadRequest:
    """One created request: criteria, timeline and the invoices a completed request delivers."""

    request_id: str
    team_id: str
    owner: str
    criteria: Criteria
    timeline: Timeline
    invoices: tuple[Invoice, ...]
    package_size: int
    synced: bool = False
    """Whether its CFDIs were already added to the team's SAT invoice list."""
    announced: bool = False
    """Whether `sat.invoice.synced` was emitted for it (sandbox/webhook_delivery.py)."""
    listed_from_ms: int = 0
    """The simulated instant from which the history lists it (`ServerProfile.lost_create_lag`:
    a create whose answer was lost is still being written, so it shows up late)."""
    archives: dict[str, bytes] = attrs.field(factory=dict, eq=False, repr=False)
    """Package id → its ZIP, once generated (sandbox/packaging.py): every download of a
    package serves the same file."""

    @property
    def uuids(self) -> frozenset[str]:
        """Ground truth: the UUIDs the request's packages contain once completed."""
        return frozenset(invoice.uuid for invoice in self.invoices)

    def status(self, now_ms: int) -> str:
        """The status at `now_ms`."""
        return self.timeline.status_at(now_ms)

    def is_terminal(self, now_ms: int) -> bool:
        """Completed, failed or expired: SAT no longer treats it as an active duplicate."""
        return self.status(now_ms) in TERMINAL

    def packages(self) -> list[tuple[str, tuple[Invoice, ...]]]:
        """`(package_id, invoices)` in order: `<request_id>_01`, `_02`, … (none when empty)."""
        size = self.package_size
        chunks = [self.invoices[i : i + size] for i in range(0, len(self.invoices), size)]
        return [(f"{self.request_id}_{n:02d}", chunk) for n, chunk in enumerate(chunks, start=1)]

    def package_ids(self, now_ms: int) -> list[str]:
        """Package ids, listed once the request has completed (also after they expired)."""
        if self.status(now_ms) not in ("completed", "expired"):
            return []
        return [package_id for package_id, _ in self.packages()]

    def delivered(self, now_ms: int) -> bool:
        """Whether SAT reported results (completed, or completed and then expired)."""
        return self.status(now_ms) in ("completed", "expired")

    def ended_at(self, now_ms: int) -> int | None:
        """When it reached a terminal state (completion for `expired`), else None."""
        status = self.status(now_ms)
        if status == "failed":
            return self.timeline.failed_ms
        return self.timeline.finished_ms if status in ("completed", "expired") else None

    def status_message(self, now_ms: int) -> str:
        """What gigstack says about the current state (Spanish, as SAT's messages are)."""
        status = self.status(now_ms)
        if status == "failed":
            return self.timeline.failure_message or _ERRORED
        if status == "completed":
            packages = len(self.packages())
            return f"Terminada: {len(self.invoices)} CFDI en {packages} paquete(s)"
        return {
            "pending": "En cola para enviarse al SAT",
            "accepted": "Aceptada por el SAT (EstadoSolicitud 1)",
            "processing": "El SAT está generando los paquetes (EstadoSolicitud 2)",
            "expired": "Los paquetes vencieron sin descargarse a tiempo (EstadoSolicitud 6)",
        }[status]
