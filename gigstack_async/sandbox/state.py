"""Everything the sandbox remembers: per-team Descarga Masiva state, and the bookkeeping tests
read (every call, every created request with its ground truth, charges, injected faults).

All mutation happens on the event loop thread between awaits, so no locking is needed.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import Counter, deque
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import attrs

from gigstack_async.sandbox.clock import MEXICO_CITY, SimClock, add_months
from gigstack_async.sandbox.config import SandboxConfig, TeamConfig
from gigstack_async.sandbox.core import CoreState
from gigstack_async.sandbox.envelopes import ApiError
from gigstack_async.sandbox.events import EventHook, SandboxEvent
from gigstack_async.sandbox.invoices import Invoice, InvoiceGenerator
from gigstack_async.sandbox.lifecycle import Criteria, DownloadRequest, Timeline
from gigstack_async.sandbox.profiles import HistoryOrder, SatCodeRule, ServerProfile
from gigstack_async.sandbox.webhook_registry import WebhookRegistry

FAULT_KINDS = frozenset(
    {"500", "502", "503", "429", "drop", "after_drop", "after_truncate", "after_502", "after_429"}
)
"""Fault kinds; the `after_*` ones let the handler run first (its side effect happens)."""

_VERIFY = {
    5003: "SAT 5003: Tope máximo de resultados excedido; divide el periodo en solicitudes menores",
    5004: "SAT 5004: No se encontró la información (no hay CFDI en el periodo)",
    5011: "SAT 5011: Límite de descargas por folio por día; intenta de nuevo mañana",
    5005: "SAT 5005: Solicitud duplicada: ya existe una solicitud activa con los mismos criterios",
    305: "SAT 305: Certificado inválido: la e.firma (FIEL) del contribuyente no es válida o caducó",
}

_FIEL_LIFETIME_MS = 4 * 365 * 24 * 3_600_000  # a FIEL is valid for four years
_READY_PHONE = "+5215512345678"


@attrs.frozen
class CallRecord:
    """One HTTP request the sandbox received, and what became of it.

    `route` is the spec path template (`/invoices/download/status/{requestId}`), or the raw path
    when no route matched. `team` is the team acted on (the `team` query value, or the key's home
    team). `status` is None when the client got no response (connection dropped).
    """

    method: str
    route: str
    operation_id: str | None
    team: str | None
    status: int | None
    fault: str | None = None
    # The path and query as sent (no header: never the key).
    path: str | None = None
    # The download request id a create made (also an identical one it answered with), recorded
    # even when an injected fault lost the answer: the sandbox's stand-in for the dashboard.
    created: str | None = None
    # What a download request create asked for (rfc type, request type, dates), also when it
    # was refused or its answer lost: how the dashboard lets a user find a request by its dates.
    criteria: str | None = None


@attrs.frozen
class Charge:
    """A call that cost money: a created download request (`subject` = request id), a
    `retry-xml` that downloaded the XML, or a single-invoice SAT download (`subject` = UUID)."""

    team_id: str
    operation_id: str
    subject: str
    at_ms: int
    criteria: Criteria | None = None
    """What a billed create asked for, recorded when it was made: the billing view counts by
    it, never by looking `subject` up again (ids are reused after `restart_request_ids`)."""


@attrs.frozen
class RefusedCreate:
    """A create the server refused before billing (a `refuse_creates` or create-phase SAT code)."""

    team_id: str
    criteria: Criteria
    status: int
    reason: str
    at_ms: int


@attrs.frozen
class InjectedFault:
    """A fault the middleware injected; `phase` is `before` or `after` the handler ran."""

    operation_id: str
    kind: str
    phase: str
    at_ms: int


@attrs.define
class Fiel:
    """The team's uploaded e.firma."""

    rfc: str
    serial_number: str
    expires_ms: int
    uploaded_ms: int
    sync_start_date: date | None = None
    phone: str | None = None


@attrs.define
class Registration:
    """The team's registration with SAT (through the upstream PAC)."""

    phone: str
    sync_start_date: date
    registered_ms: int
    legal_name: str | None = None
    max_monthly_invoices: int | None = None


@attrs.define
class ScheduleSettings:
    """The daily automatic download settings (stored and echoed; the sandbox does not run them)."""

    enabled: bool = False
    time: str = "06:00"
    download_types: tuple[str, ...] = ("issued", "received")
    days_back: int = 3

    def wire(self) -> dict[str, object]:
        """The camelCase shape of the spec's ScheduleSettings."""
        return {
            "enabled": self.enabled,
            "time": self.time,
            "downloadTypes": list(self.download_types),
            "daysBack": self.days_back,
            "lastRunAt": None,
            "lastRunStatus": None,
        }


@attrs.define
class SatRecord:
    """A CFDI in the team's SAT invoice list, added when a cfdi request completed."""

    invoice: Invoice
    download_request_id: str
    created_ms: int
    updated_ms: int
    resource_status: str


class TeamState:
    """One team's Descarga Masiva setup, requests and synced invoices."""

    def __init__(
        self, config: TeamConfig, ready: bool, now_ms: int, today: date, window: int
    ) -> None:
        self.config = config
        self.activation = "active" if ready else _blank_activation(config)
        self.fiel: Fiel | None = None
        self.registration: Registration | None = None
        self.sync_enabled = ready
        self.schedule = ScheduleSettings()
        self.requests: list[DownloadRequest] = []
        self.criteria_counts: Counter[Criteria] = Counter()
        self.sat_invoices: dict[str, SatRecord] = {}
        self.package_downloads: Counter[str] = Counter()
        if ready:
            start = add_months(today, -window)
            serial = _serial(config.rfc.encode())
            expires = now_ms + _FIEL_LIFETIME_MS
            self.fiel = Fiel(config.rfc, serial, expires, now_ms, start, _READY_PHONE)
            self.registration = Registration(_READY_PHONE, start, now_ms, config.legal_name)

    @property
    def team_id(self) -> str:
        """The team's id."""
        return self.config.team_id

    def activate(self) -> str:
        """Activate Descarga Masiva; returns how it is paid (`included` or `addon`)."""
        if self.config.plan == "free":
            raise ApiError(
                403,
                "insufficient_permissions",
                "The team's plan does not include Descarga Masiva (needs_upgrade): upgrade first",
            )
        self.activation = "active"
        return self.config.plan

    def deactivate(self) -> None:
        """Stop Descarga Masiva (idempotent); downloaded invoices stay readable."""
        self.activation = _blank_activation(self.config)
        self.sync_enabled = False
        self.schedule.enabled = False

    def require_ready(self) -> None:
        """Raise the first unmet Descarga Masiva prerequisite (activation, FIEL, registration)."""
        if self.activation != "active":
            raise ApiError(
                400,
                "business_rule_violation",
                f"Descarga Masiva is not active for this team (status {self.activation}): "
                "POST /invoices/download/activate first",
                details=("activation",),
            )
        self.require_registered()

    def require_registered(self) -> None:
        """Raise unless a FIEL is uploaded and the business is registered with SAT."""
        self.require_fiel()
        if self.registration is None:
            raise ApiError(
                400,
                "business_rule_violation",
                "The business is not registered with SAT: POST /invoices/download/register "
                "(or upload the FIEL with sync_start_date and phone)",
                details=("registered",),
            )

    def upload_fiel(
        self, cert: bytes, now_ms: int, sync_start_date: date | None, phone: str | None
    ) -> Fiel:
        """Store a FIEL (replacing any previous one); an existing registration is kept."""
        expires = now_ms + _FIEL_LIFETIME_MS
        self.fiel = Fiel(self.config.rfc, _serial(cert), expires, now_ms, sync_start_date, phone)
        return self.fiel

    def register(self, registration: Registration) -> None:
        """Record the SAT registration and turn sync on, as gigstack's auto-registration does."""
        self.require_fiel()
        self.registration = registration
        self.sync_enabled = True

    def require_fiel(self) -> None:
        """Raise unless a FIEL is uploaded."""
        if self.fiel is None:
            raise ApiError(
                400,
                "business_rule_violation",
                "No FIEL uploaded for this team: POST /invoices/download/fiel first",
                details=("fiel_uploaded",),
            )

    def history(
        self,
        limit: int,
        request_types: frozenset[str] | None = None,
        rfc_types: frozenset[str] | None = None,
        order: HistoryOrder = "created",
        now_ms: int = 0,
    ) -> list[DownloadRequest]:
        """The newest `limit` requests, newest first, of the given types (None = all). Newest by
        `order` (`ServerProfile.history_order`): creation, period (`startDate`, `endDate`) or
        last status change at `now_ms`; ties keep the most recently created first."""
        listed = [
            request
            for request in self.requests
            if (request_types is None or request.criteria.request_type in request_types)
            and (rfc_types is None or request.criteria.rfc_type in rfc_types)
            and request.listed_from_ms <= now_ms
        ][::-1]
        if order == "period":
            listed.sort(key=lambda r: (r.criteria.start_date, r.criteria.end_date), reverse=True)
        elif order == "updated":
            listed.sort(key=lambda r: r.timeline.changed_at(now_ms), reverse=True)
        return listed[:limit]

    def find_request(self, request_id: str) -> DownloadRequest | None:
        """A request of this team by id (case-insensitive)."""
        wanted = request_id.upper()
        return next((r for r in self.requests if r.request_id == wanted), None)

    def find_package(self, package_id: str) -> tuple[DownloadRequest, tuple[Invoice, ...]] | None:
        """The request and invoices of a package id `<request_id>_NN`, if it exists at all."""
        request_id, _, _ = package_id.upper().rpartition("_")
        request = self.find_request(request_id) if request_id else None
        if request is None:
            return None
        for candidate, invoices in request.packages():
            if candidate == package_id.upper():
                return request, invoices
        return None


def _blank_activation(config: TeamConfig) -> str:
    return {"included": "needs_activation", "addon": "needs_addon", "free": "needs_upgrade"}[
        config.plan
    ]


def _serial(material: bytes) -> str:
    # FIEL serial numbers are 20 decimal digits; derive one from the certificate bytes.
    return str(int(hashlib.sha256(material).hexdigest(), 16))[:20].rjust(20, "0")


class SandboxState:
    """The sandbox's memory. Tests read the bookkeeping attributes directly:

    - `calls`: every `CallRecord`, in arrival order (auth failures and faults included).
    - `download_requests`: every created `DownloadRequest` (all teams, creation order; duplicates
      are not new requests). `.criteria`, `.team_id`, `.request_id`, `.uuids` on each.
    - `ground_truth`: request id → the UUIDs its packages hold once completed.
    - `charges`: every `Charge`. `injected_faults`: every `InjectedFault`.
    - `core`: the core API's state (clients … retentions) and its bookkeeping: `stamps`,
      `cancellations`, `money_moves` (see `core.CoreState`).
    - `event_hook`: resource events; `emit_event(type, data, team_id=...)` announces one.
    - `refused_creates`: every `RefusedCreate` (4xx before billing).
    - `teams`: team id → `TeamState`; `TeamState.package_downloads` counts the downloads SAT
      served per package id (what its 2-download limit counts).
    - `creates_per_month()` / `downloads_per_package()`: the billing view tests assert on.
    - `profile`: the `ServerProfile` in force (starts as `config.profile`; assignable).
    """

    def __init__(self, config: SandboxConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self.invoices = InvoiceGenerator(config.seed, config.invoices_per_month)
        now_ms, today = clock.now_ms(), clock.today_mx()
        self.teams: dict[str, TeamState] = {
            team.team_id: TeamState(
                team,
                config.ready if team.ready is None else team.ready,
                now_ms,
                today,
                config.sync_window_months,
            )
            for team in config.teams
        }
        self.calls: list[CallRecord] = []
        # Called with each CallRecord as it is recorded (the sandbox's --log-requests).
        self.call_listeners: list[Callable[[CallRecord], None]] = []
        self.download_requests: list[DownloadRequest] = []
        self.charges: list[Charge] = []
        self.injected_faults: list[InjectedFault] = []
        self.forced_faults: dict[str, deque[str]] = {}
        self.refused_creates: list[RefusedCreate] = []
        self.profile: ServerProfile = config.profile
        """The server profile in force; a test may assign another mid-run (the server "changes")."""
        self.sat_code_fired: Counter[SatCodeRule] = Counter()
        self._request_ids = random.Random(f"{config.seed}|request-ids")
        self._sequence = 0
        self._refusals = 0
        self.core = CoreState(config, clock)
        self.event_hook = EventHook(clock)
        self.webhooks = WebhookRegistry(config.webhooks, config.seed)

        if config.preloaded_months:
            self.preload(config.preloaded_months)

    def emit_event(
        self, type: str, data: dict[str, Any], *, team_id: str | None = None
    ) -> SandboxEvent:
        """Announce a committed change (see `events.py`); a no-op unless someone subscribed."""
        return self.event_hook.emit(type, data, team_id=team_id)

    # ---------------------------------------------------------------- the server's own view

    def server_ms(self, sim_ms: int) -> int:
        """A simulated instant as the server's (possibly offset) clock reports it."""
        return sim_ms + self.profile.clock_offset_ms

    def server_today(self) -> date:
        """The calendar date in Mexico City by the server's clock (what it validates against)."""
        moment = datetime.fromtimestamp(self.server_ms(self.clock.now_ms()) / 1000, MEXICO_CITY)
        return moment.date()

    def render_instant(self, sim_ms: int | None) -> int | str | None:
        """`createdAt` / `completedAt` on the wire, in the profile's format and clock."""
        if sim_ms is None:
            return None
        server = self.server_ms(sim_ms)
        style = self.profile.created_at_format
        if style == "ms":
            return server
        if style == "s":
            return server // 1000
        moment = datetime.fromtimestamp(server / 1000, MEXICO_CITY)
        if style == "iso_offset":
            return moment.isoformat(timespec="milliseconds")
        return moment.replace(tzinfo=None).isoformat(timespec="milliseconds")

    def _next_request_id(self) -> str:
        if self.profile.request_ids == "sequential":
            self._sequence += 1
            return f"DM-{self._sequence:06d}"
        return str(uuid.UUID(int=self._request_ids.getrandbits(128), version=4)).upper()

    def restart_request_ids(self) -> None:
        """Play a server that lost its requests and restarts its ids: every team's history and
        packages are gone and the next request reuses the first id ever handed out.

        Bookkeeping (`download_requests`, `charges`, `calls`) keeps everything; `ground_truth`
        then maps a reused id to its newest request.
        """
        for team in self.teams.values():
            team.requests.clear()
            team.package_downloads.clear()
        self._request_ids = random.Random(f"{self.config.seed}|request-ids")
        self._sequence = 0

    # ---------------------------------------------------------------- billing view

    def creates_per_month(self) -> Counter[tuple[str, str, str, str]]:
        """Billed creates per `(team id, "YYYY-MM", rfc_type, request_type)`, by what each
        create asked for when it was made (a reused request id counts for its own month)."""
        counts: Counter[tuple[str, str, str, str]] = Counter()
        for charge in self.charges:
            if charge.operation_id != "createDownloadRequest":
                continue
            criteria = charge.criteria
            assert criteria is not None  # `create_download_request` always records it
            month = criteria.start_date.strftime("%Y-%m")
            counts[charge.team_id, month, criteria.rfc_type, criteria.request_type] += 1
        return counts

    def billed_creates(
        self,
        month: str,
        rfc_type: str | None = None,
        request_type: str | None = None,
        team_id: str | None = None,
    ) -> int:
        """How many creates were billed for `month` (`YYYY-MM`), optionally narrowed."""
        return sum(
            count
            for (team, when, rfc, kind), count in self.creates_per_month().items()
            if when == month
            and (rfc_type is None or rfc == rfc_type)
            and (request_type is None or kind == request_type)
            and (team_id is None or team == team_id)
        )

    def downloads_per_package(self) -> Counter[str]:
        """Downloads SAT served per package id, all teams (the 2-per-package budget spent)."""
        total: Counter[str] = Counter()
        for team in self.teams.values():
            total.update(team.package_downloads)
        return total

    def sat_code(self, phase: str, criteria: Criteria) -> SatCodeRule | None:
        """The first profile rule of `phase` that applies to `criteria` and still fires (it is
        counted as fired)."""
        for rule in self.profile.sat_rules(phase):
            if not rule.matches(
                criteria.start_date, criteria.rfc_type, criteria.request_type, criteria.end_date
            ):
                continue
            if rule.times is not None and self.sat_code_fired[rule] >= rule.times:
                continue
            self.sat_code_fired[rule] += 1
            return rule
        return None

    def _refuse(self, team: TeamState, criteria: Criteria, status: int, reason: str) -> ApiError:
        self.refused_creates.append(
            RefusedCreate(team.team_id, criteria, status, reason, self.clock.now_ms())
        )
        return ApiError(status, "business_rule_violation", reason)

    def _check_refusal(self, team: TeamState, criteria: Criteria) -> None:
        refuse = self.profile.refuse_creates
        if refuse is None:
            return
        month = criteria.start_date.strftime("%Y-%m")
        if refuse.months is not None and month not in refuse.months:
            return
        if self._refusals < refuse.times:
            self._refusals += 1
            self.refused_creates.append(
                RefusedCreate(
                    team.team_id, criteria, refuse.status, refuse.message, self.clock.now_ms()
                )
            )
            raise ApiError(refuse.status, refuse.code, refuse.message, details=("activation",))

    @property
    def ground_truth(self) -> dict[str, frozenset[str]]:
        """Request id → the invoice UUIDs its packages contain (what a completed request yields)."""
        return {request.request_id: request.uuids for request in self.download_requests}

    def calls_to(self, operation_id: str) -> list[CallRecord]:
        """The recorded calls of one operation."""
        return [call for call in self.calls if call.operation_id == operation_id]

    def fault_counts(self) -> Counter[str]:
        """Injected faults by kind."""
        return Counter(fault.kind for fault in self.injected_faults)

    def force_fault(self, operation_id: str, kind: str, times: int = 1) -> None:
        """Make the next `times` calls of `operation_id` fail with `kind`, regardless of rates.

        Kinds: "500", "502", "503", "429", "drop" (before the handler), "after_drop",
        "after_truncate", "after_502", "after_429" (after it: the side effect happens, the answer
        is lost). "429" plays a rate limiter in front of the API; "after_429" one behind it (a
        limit answered after the call went through, e.g. to SAT): whether gigstack's 429 can
        come after a package was served is not documented (GUESS), so both are playable.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        self.forced_faults.setdefault(operation_id, deque()).extend([kind] * times)

    def team(self, team_id: str) -> TeamState:
        """A team's state (KeyError if the team is not configured)."""
        return self.teams[team_id]

    def charge(
        self,
        team: TeamState,
        operation_id: str,
        subject: str,
        criteria: Criteria | None = None,
    ) -> None:
        """Record a billed event (`criteria`: what a billed create asked for)."""
        now = self.clock.now_ms()
        self.charges.append(Charge(team.team_id, operation_id, subject, now, criteria))

    def create_download_request(
        self, team: TeamState, criteria: Criteria, owner: str
    ) -> tuple[DownloadRequest, bool]:
        """Submit a request as SAT would: `(request, duplicate)`.

        An identical request that is still active is returned as a duplicate (SAT 5005) instead
        of creating one; a new one beyond `identical_request_budget` is refused (SAT 5002).
        """
        now = self.clock.now_ms()
        self._check_refusal(team, criteria)
        # SAT 5005 reported as gigstack may (a GUESS: profiles.DUPLICATE_AS), ahead of its own
        # matching of identical criteria: a refusal, or a request that ends failed.
        submit = self.sat_code("submit", criteria)
        if submit is not None and submit.duplicate_as == "refused":
            raise self._refuse(team, criteria, 400, f"{_VERIFY[5005]} ({criteria.describe()})")
        for existing in reversed(team.requests):
            if submit is None and existing.criteria == criteria and not existing.is_terminal(now):
                return existing, True
        rule = None if submit is not None else self.sat_code("create", criteria)
        if rule is not None and rule.code == 5005:
            earlier = next((r for r in reversed(team.requests) if r.criteria == criteria), None)
            if earlier is not None:
                return earlier, True
            raise self._refuse(
                team, criteria, 400, f"SAT 5005: Solicitud duplicada ({criteria.describe()})"
            )
        if rule is not None:
            raise self._refuse(
                team,
                criteria,
                400,
                f"SAT 5002: Se han agotado las solicitudes de por vida ({criteria.describe()}); "
                "change the criteria",
            )
        budget = self.config.identical_request_budget
        if budget is not None and team.criteria_counts[criteria] >= budget:
            raise ApiError(
                400,
                "business_rule_violation",
                f"SAT 5002: lifetime limit reached, {budget} requests with identical criteria "
                f"({criteria.describe()}) were already made; change the criteria",
                details=("start_date", "end_date"),
            )
        request_id = self._next_request_id()
        rng = random.Random(f"{self.config.seed}|{request_id}|timeline")
        invoices = self.invoices.between(
            team.config, criteria.start_date, criteria.end_date, criteria.rfc_type
        )
        if criteria.request_type == "cfdi" and criteria.rfc_type == "received":
            # SAT v1.5: the XML of cancelled received CFDIs cannot be downloaded (metadata only).
            invoices = [invoice for invoice in invoices if invoice.status == "Vigente"]
        timeline = Timeline.plan(now, self.config.lifecycle, rng)
        verdict = submit or self.sat_code("verify", criteria)
        if verdict is not None:
            # SAT answers the verification with an error code: the request ends failed.
            timeline = attrs.evolve(
                timeline, failed_ms=timeline.finished_ms, failure_message=_VERIFY[verdict.code]
            )
            if verdict.code == 5004:
                invoices = []  # "no se encontró la información": the period really is empty
        request = DownloadRequest(
            request_id=request_id,
            team_id=team.team_id,
            owner=owner,
            criteria=criteria,
            timeline=timeline,
            invoices=tuple(invoices),
            package_size=self.config.package_size,
        )
        team.requests.append(request)
        team.criteria_counts[criteria] += 1
        self.download_requests.append(request)
        self.charge(team, "createDownloadRequest", request_id, criteria)
        return request, False

    def preload(self, months: int) -> None:
        """Give every active team the CFDIs of its last `months` full calendar months.

        They arrive as cfdi requests (received, then issued, per month) created an hour of
        simulated time ago, so they are completed, in the history, downloadable, and their CFDIs
        fill the SAT invoice list, exactly as if the team had downloaded them. They are not
        charged and do not count against `identical_request_budget`.
        """
        created = self.clock.now_ms() - 3_600_000
        this_month = self.clock.today_mx().replace(day=1)
        for team in self.teams.values():
            if team.activation != "active":
                continue
            owner = next(
                (key.owner for key in self.config.api_keys if key.home_team == team.team_id),
                "user_sandbox",
            )
            for back in range(months, 0, -1):
                start = add_months(this_month, -back)
                end = add_months(start, 1) - timedelta(days=1)
                for rfc_type in ("received", "issued"):
                    criteria = Criteria(start, end, rfc_type, "cfdi")
                    self._preloaded_request(team, criteria, owner, created)

    def _preloaded_request(
        self, team: TeamState, criteria: Criteria, owner: str, created_ms: int
    ) -> None:
        request_id = self._next_request_id()
        rng = random.Random(f"{self.config.seed}|{request_id}|timeline")
        invoices = self.invoices.between(
            team.config, criteria.start_date, criteria.end_date, criteria.rfc_type
        )
        if criteria.rfc_type == "received":
            # SAT v1.5: the XML of cancelled received CFDIs cannot be downloaded (metadata only).
            invoices = [invoice for invoice in invoices if invoice.status == "Vigente"]
        request = DownloadRequest(
            request_id=request_id,
            team_id=team.team_id,
            owner=owner,
            criteria=criteria,
            timeline=Timeline.plan(created_ms, self.config.lifecycle, rng),
            invoices=tuple(invoices),
            package_size=self.config.package_size,
        )
        team.requests.append(request)
        self.download_requests.append(request)

    def sync_invoices(self, team: TeamState) -> None:
        """Add the CFDIs of newly completed cfdi requests to the team's SAT invoice list.

        Called before any read, since completion happens lazily with the simulated clock.
        """
        now = self.clock.now_ms()
        for request in team.requests:
            if request.synced or request.criteria.request_type != "cfdi":
                continue
            if not request.delivered(now):
                continue
            finished = request.timeline.finished_ms
            for invoice in request.invoices:
                if invoice.uuid not in team.sat_invoices:
                    team.sat_invoices[invoice.uuid] = SatRecord(
                        invoice, request.request_id, finished, finished, invoice.xml_state
                    )
            request.synced = True
