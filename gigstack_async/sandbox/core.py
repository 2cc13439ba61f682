"""State of the core API (clients … retentions): one `CoreTeam` per team, plus the bookkeeping
tests assert on (stamps, cancellations and money moves per resource).

Records are stored as the wire dicts the API returns (amounts as `Decimal`), in creation order.
All mutation happens on the event loop between awaits, so no locking is needed.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar, Literal

import attrs

from gigstack_async.sandbox.clock import SimClock
from gigstack_async.sandbox.config import SandboxConfig, TeamConfig
from gigstack_async.sandbox.envelopes import ApiError, not_found

Record = dict[str, Any]

DEFAULT_SERIES = {"I": "A", "E": "E", "P": "P", "T": "T", "RET": "RET"}
"""The series each document type uses when the body names none (GUESS: gigstack's defaults are
team settings; `A` for income is what the docs examples show)."""


@attrs.frozen
class CoreVariants:
    """Where the sources disagree, which side the sandbox plays (default: the docs' side).

    Set `sandbox.state.core.variants = CoreVariants(...)` to make the core API answer like the
    other plausible server, so SDK code is proven against both:

    - `payment_canceled`: a canceled payment's (and retention's) status, `canceled` (n8n and the
      docs' `payment.canceled` event) or `cancelled` (CLI, update-payment docs prose).
    - `invoice_cancelled`: a cancelled invoice's status, `cancelled` (CLI) or `canceled`.
    - `stamped_status`: a freshly stamped invoice's status, `valid` (docs list example) or
      `stamped` (docs create example).
    - `next_on_last_page`: on a core list's last page `next` is left out, or sent as `null`
      (the docs examples omit it; GUESS either way).
    - `created_status`: HTTP status of a successful create, 201 or 200 (NOT FOUND for most).
    - `resource_time_unit`: the unit of `created_at`/`stamp_at`/`succeeded_at`/… on clients,
      services, invoices and payments: `s` (the docs' 10-digit examples, one placeholder
      number everywhere) or `ms` (what the newer resources use); list `created_gte`/`lte`
      filters follow it.
    """

    payment_canceled: Literal["canceled", "cancelled"] = "canceled"
    invoice_cancelled: Literal["cancelled", "canceled"] = "cancelled"
    stamped_status: Literal["valid", "stamped"] = "valid"
    next_on_last_page: Literal["omit", "null"] = "omit"
    created_status: Literal[200, 201] = 201
    resource_time_unit: Literal["s", "ms"] = "s"


ALTERNATIVE_VARIANTS = CoreVariants("cancelled", "canceled", "stamped", "null", 200, "ms")
"""Every knob on its non-default side."""
CANCELED_SPELLINGS = frozenset({"canceled", "cancelled"})


class Store:
    """Records of one kind, by id, in creation order.

    Every id ever added keeps its place in one process-wide creation sequence (`position`),
    deleted ones included, so a list cursor naming a deleted record still says where to go on.
    """

    _sequence = itertools.count(1)
    _positions: ClassVar[dict[str, int]] = {}

    def __init__(self, noun: str) -> None:
        self.noun = noun
        self.items: dict[str, Record] = {}

    def add(self, record: Record, key: str | None = None) -> Record:
        record_key = key or str(record["id"])
        if record_key not in self.items:
            # New here (a replaced record keeps its place). Overwritten, not kept: seeded
            # sandboxes in one process hand out the same ids again.
            Store._positions[str(record.get("id", record_key))] = next(Store._sequence)
        self.items[record_key] = record
        return record

    @staticmethod
    def position(record_id: str) -> int | None:
        """The creation position of a record ever stored (None for one never stored here)."""
        return Store._positions.get(record_id)

    def get(self, record_id: str) -> Record:
        """The record, or 404 `resource_not_found`."""
        record = self.items.get(record_id)
        if record is None:
            raise not_found(self.noun, record_id)
        return record

    def find(self, record_id: str) -> Record | None:
        return self.items.get(record_id)

    def delete(self, record_id: str) -> Record:
        record = self.get(record_id)
        del self.items[record_id]
        return record

    def __iter__(self) -> Iterator[Record]:
        return iter(list(self.items.values()))

    def __len__(self) -> int:
        return len(self.items)


@attrs.frozen
class Stamp:
    """A CFDI the sandbox stamped (each costs a stamp on a real plan)."""

    team_id: str
    kind: str  # invoice type I/E/P, or RET for a retention
    resource_id: str
    source_id: str  # what was stamped: the invoice/draft/receipt/payment/retention id
    uuid: str
    series: str
    folio: int
    at_ms: int


@attrs.frozen
class MoneyMove:
    """A change of money state on a payment: `register`, `paid`, `refund`, `cancel`."""

    team_id: str
    payment_id: str
    kind: str
    amount: Decimal
    at_ms: int


class CoreTeam:
    """One team's clients, services, documents, payments, series and settings."""

    def __init__(self, team_id: str, profile: Record) -> None:
        self.team_id = team_id
        self.profile = profile
        self.clients = Store("Client")
        self.services = Store("Service")
        self.invoices = Store("Invoice")
        self.drafts = Store("Draft invoice")
        self.payments = Store("Payment")
        self.receipts = Store("Receipt")
        self.retentions = Store("Retention")
        self.documents: dict[str, list[Record]] = {}
        self.series: dict[str, Record] = {
            name: {"series": name, "live": 0, "test": 0} for name in DEFAULT_SERIES.values()
        }
        self.settings: Record = {}
        self.members: dict[str, str] = {}
        self.idempotency: dict[str, tuple[str, str]] = {}
        self.csd: Record | None = None
        self.manifest: Record | None = None

    def invoice_by_any_id(self, identifier: str) -> Record:
        """An invoice by gigstack id or by its SAT UUID (folio fiscal), case-insensitively."""
        found = self.invoices.find(identifier)
        if found is not None:
            return found
        wanted = identifier.lower()
        for invoice in self.invoices:
            stamp = invoice.get("stamp") or {}
            if str(stamp.get("uuid", "")).lower() == wanted:
                return invoice
        raise not_found("Invoice", identifier)

    def next_folio(self, series: str, explicit: int | None) -> int:
        """Take the next folio of `series` in test mode (the sandbox is never live).

        An unknown series is refused (create it with POST /teams/{id}/series first: GUESS, the
        real API may auto-create). An explicit folio is honoured once per series and moves the
        counter past it.
        """
        counter = self.check_folio(series, explicit)
        if explicit is None:
            counter["test"] += 1
            return int(counter["test"])
        counter["test"] = max(int(counter["test"]), explicit)
        return explicit

    def check_folio(self, series: str, explicit: int | None) -> Record:
        """What `next_folio` would refuse, without taking a folio (a pure check callers run
        before any side effect): an unknown series (400), an explicit folio already used (409).
        Returns the series counter."""
        counter = self.series.get(series)
        if counter is None:
            raise ApiError(
                400,
                "validation_failed",
                f"series: {series!r} does not exist for this team; create it with "
                f"POST /teams/{self.team_id}/series",
                details=("series",),
            )
        if explicit is None:
            return counter
        used = {
            int(record.get("folio_number") or 0)
            for store in (self.invoices, self.retentions)
            for record in store
            if record.get("series") == series
        }
        if explicit in used:
            raise ApiError(
                409,
                "resource_conflict",
                f"folio_number: {explicit} is already used in series {series!r}",
                details=("folio_number",),
            )
        return counter


class CoreState:
    """Every team's core state plus the cross-team bookkeeping tests read:

    - `stamps`: every `Stamp`, in order; `stamp_count(source_id)` counts per resource.
    - `cancellations`: resource id → how many times it was cancelled with SAT.
    - `money_moves`: every `MoneyMove`; `moves_of(payment_id)`.
    - `users`: the billing account's users; `created_teams`: teams made with POST /teams.
    """

    def __init__(self, config: SandboxConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self._ids = random.Random(f"{config.seed}|core-ids")
        self.teams: dict[str, CoreTeam] = {}
        self.users = Store("User")
        self.created_teams: dict[str, Record] = {}
        self.stamps: list[Stamp] = []
        self.cancellations: Counter[str] = Counter()
        self.money_moves: list[MoneyMove] = []
        self.variants = CoreVariants()
        owner = {"id": "user_sandbox", "email": "owner@sandbox.gigstack.test"}
        self.users.add(
            {
                **owner,
                "name": "Sandbox Owner",
                "first_name": "Sandbox",
                "last_name": "Owner",
                "role": "admin",
                "created_at": clock.now_ms() // 1000,
                "teams": [],
            }
        )

    def team(self, team_id: str) -> CoreTeam:
        """The core state of a configured or created team (made on first use)."""
        core = self.teams.get(team_id)
        if core is None:
            core = CoreTeam(team_id, self._profile(team_id))
            core.members["user_sandbox"] = "admin"
            self.teams[team_id] = core
        return core

    def _profile(self, team_id: str) -> Record:
        created = self.created_teams.get(team_id)
        if created is not None:
            return created
        config: TeamConfig = self.config.team(team_id)
        return {
            "id": team_id,
            "name": config.legal_name,
            "legal_name": config.legal_name,
            "tax_id": config.rfc,
            "tax_system": config.regimen_fiscal,
            "address": {"country": "MEX", "zip": config.postal_code},
            "status": "active",
            "created_at": self.clock.now_ms() // 1000,
        }

    def new_id(self, prefix: str) -> str:
        """A fresh, seeded id such as `client_3f9a…` (16 hex digits)."""
        return f"{prefix}_{self._ids.getrandbits(64):016x}"

    def new_uuid(self) -> str:
        """A fresh, seeded SAT folio fiscal (UUID v4, upper case as SAT writes it)."""
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4)).upper()

    def stamp_count(self, source_id: str) -> int:
        """How many CFDIs were stamped from `source_id` (an invoice, draft, receipt, payment)."""
        return sum(1 for stamp in self.stamps if source_id in (stamp.source_id, stamp.resource_id))

    def moves_of(self, payment_id: str) -> list[MoneyMove]:
        """The money moves of one payment, in order."""
        return [move for move in self.money_moves if move.payment_id == payment_id]

    def record_move(self, team_id: str, payment_id: str, kind: str, amount: Decimal) -> None:
        self.money_moves.append(MoneyMove(team_id, payment_id, kind, amount, self.clock.now_ms()))
