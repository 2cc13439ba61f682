"""Server profiles: ways the sandbox can disagree with what the SDK guesses about the real API.

The gigstack docs leave a lot open (see /work/shared/reference/gigstack-api.md): the unit of
`createdAt`, which history fields are always present, whether request ids are unique forever,
how SAT's error codes surface. A test double that agrees with every guess proves nothing, so a
`ServerProfile` makes the sandbox play one plausible alternative per knob:

- `clock_offset_seconds`: the server's clock runs ahead (+) or behind (-) the simulated clock by
  this many (fractional) seconds. Every instant the server *reports* (`createdAt`,
  `completedAt`) and its idea of "today" shift; the lifecycle itself does not.
- `created_at_format`: `ms` (epoch milliseconds, the GUESS the SDK started from), `s` (epoch
  seconds, integer), `iso_offset` (ISO 8601 with Mexico City's offset) or `iso_mexico_naive`
  (ISO 8601 Mexico City wall time, no offset). Applies to `createdAt` and `completedAt`.
- `omit_fields`: wire fields left out, as `"history.<field>"` or `"status.<field>"`. Only
  GUESS fields, or documented fields a server may still leave out (never `id`).
- `request_ids`: `uuid` (seeded) or `sequential` (`DM-000001`, `DM-000002`, …, restarting with
  every new server state, whatever the seed: a fresh sandbox reuses the ids of an old one).
- `history_request_types` / `history_rfc_types`: when set, the history lists only requests of
  those types (a filtered history); `SandboxConfig.history_limit` makes it short.
- `history_order`: what the history keeps the newest `history_limit` of, and lists newest first
  by. The docs say "last 20, newest first" without saying newest by what: `created` (creation,
  the default), `period` (the request's `startDate`, then `endDate`) or `updated` (its last
  status change). Ties keep the most recently created first.
- `sat_codes`: `SatCodeRule`s making SAT answer 305/5002/5003/5004/5005/5007/5008/5011 for chosen
  months (see `SatCodeRule`).
- `refuse_creates`: the first N creates (optionally only for some months) are refused with a 4xx
  before anything is billed, as when Descarga Masiva is deactivated; later ones succeed, as after
  re-activation.
- `lost_create_lag`: a create the server made but whose answer was lost (an `after_*` fault)
  is listed in the history only this many simulated seconds later, after creates made
  meanwhile: a gateway's 502 while gigstack was still writing it (per-record lag, review 9l #1;
  not documented either way).

Profiles combine (`ServerProfile.combine`, or `profile("a", "b")` by name) and a seed can draw one
(`random_profile(seed)`), so a chaos run can sweep the whole space reproducibly.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Literal, cast

import attrs

CreatedAtFormat = Literal["ms", "s", "iso_offset", "iso_mexico_naive"]
DuplicateAs = Literal["match", "refused", "failed"]
DUPLICATE_AS: tuple[DuplicateAs, ...] = ("match", "refused", "failed")
"""How SAT 5005 (an identical request is active) reaches the client: how gigstack reports it
is a GUESS. `match`: gigstack answers the create `duplicate: true` with the earlier request of
the same criteria (else refuses it). `refused`: gigstack refuses the create with 400 "SAT 5005",
whether or not it lists the active request (nothing billed). `failed`: gigstack creates the
request, which ends `failed` with "SAT 5005" in its `statusMessage` (billed, as the verify
codes)."""
RequestIdStyle = Literal["uuid", "sequential"]
HistoryOrder = Literal["created", "period", "updated"]
HISTORY_ORDERS: tuple[HistoryOrder, ...] = ("created", "period", "updated")

CREATED_AT_FORMATS: tuple[CreatedAtFormat, ...] = ("ms", "s", "iso_offset", "iso_mexico_naive")

SAT_CODES: dict[int, str] = {
    305: "verify",
    5002: "create",
    5003: "verify",
    5004: "verify",
    5005: "create",
    5007: "download",
    5008: "download",
    5011: "verify",
}
"""The SAT codes a profile can inject, and the phase where SAT answers them.

- create: `POST /invoices/download/request` is refused with 400 (5002: lifetime limit for these
  criteria; 5005: duplicate, answered `duplicate: true` with the earlier request's id when there
  is one, else refused). Nothing is billed.
- verify: the request is created (billed) and ends `failed` with `statusMessage` carrying the
  code (5003: too many CFDIs, split the period; 5004: no CFDIs in the period; 5011: daily
  limit; 305: the taxpayer's FIEL (e.firma) is invalid or expired — SAT answers it when
  authenticating; that gigstack creates the request first and reports it as the request's
  failure is a GUESS). No packages.
- download: `GET /invoices/download/package/{id}` answers 404 (5007: the package no longer
  exists) or 400 (5008: download limit reached) for the month's packages.
- submit: 5005 with `SatCodeRule.duplicate_as` `refused` or `failed` (see `DUPLICATE_AS`),
  ahead of gigstack's own matching of identical criteria.
"""

HISTORY_FIELDS = frozenset(
    {
        "rfcType",
        "requestType",
        "startDate",
        "endDate",
        "invoiceCount",
        "processedCount",
        "statusMessage",
        "source",
        "owner",
        "latestIssueDate",
        "earliestIssueDate",
        "createdAt",
        "completedAt",
        "packageIds",
    }
)
STATUS_FIELDS = frozenset(
    {
        "request_id",
        "invoice_count",
        "package_ids",
        "status_message",
        "start_date",
        "end_date",
        "rfc_type",
        "request_type",
    }
)
STATUS_CRITERIA_FIELDS = frozenset(
    {"status.start_date", "status.end_date", "status.rfc_type", "status.request_type"}
)
"""The status body's criteria (its names are a GUESS): `documented-fields` leaves them out."""


def _omit(value: Iterable[str]) -> frozenset[str]:
    fields = frozenset(value)
    for name in fields:
        scope, _, field = name.partition(".")
        known = HISTORY_FIELDS if scope == "history" else STATUS_FIELDS if scope == "status" else ()
        if field not in known:
            raise ValueError(
                f"omit_fields: {name!r} is not 'history.<field>' or 'status.<field>' with a "
                "field the server may leave out"
            )
    return fields


def _types(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


def _month(_instance: object, _attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is None:
        return
    try:
        date.fromisoformat(f"{value}-01")
    except ValueError:
        raise ValueError(f"month must be YYYY-MM, got {value!r}") from None


def _code(_instance: object, _attribute: attrs.Attribute[int], value: int) -> None:
    if value not in SAT_CODES:
        raise ValueError(f"SAT code {value!r} is not one of {sorted(SAT_CODES)}")


def _times(_instance: object, _attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError("times must be >= 1 or None (always)")


@attrs.frozen
class SatCodeRule:
    """SAT answers `code` for requests whose period starts in `month` (`YYYY-MM`; None = any).

    `rfc_type` / `request_type` narrow it further. `times` is how often the rule fires in
    total before SAT behaves normally again (None = always): e.g. 5002 with `times=1` refuses the
    month's first create only; 5007 with `times=None` makes every package of the month gone.
    `whole_month=True` (what `--sat-code` sets) fires only for requests covering the whole
    calendar month (its 1st to its last day): a split after 5003, or other dates after 5002,
    then succeed as with SAT, whose answers are per request criteria.
    """

    code: int = attrs.field(validator=_code)
    month: str | None = attrs.field(default=None, validator=_month)
    rfc_type: str | None = None
    request_type: str | None = None
    times: int | None = attrs.field(default=None, validator=_times)
    whole_month: bool = False
    duplicate_as: DuplicateAs = "match"
    """For 5005 only: how gigstack reports it (`DUPLICATE_AS`; a GUESS, so each is playable)."""

    def __attrs_post_init__(self) -> None:
        if self.duplicate_as not in DUPLICATE_AS:
            raise ValueError(
                f"duplicate_as must be one of {DUPLICATE_AS}, got {self.duplicate_as!r}"
            )
        if self.duplicate_as != "match" and self.code != 5005:
            raise ValueError("duplicate_as is for SAT 5005 only")

    @property
    def phase(self) -> str:
        """`create`, `verify`, `download` (see `SAT_CODES`), or `submit` for a 5005 gigstack
        does not answer as a duplicate (`duplicate_as`)."""
        if self.duplicate_as != "match":
            return "submit"
        return SAT_CODES[self.code]

    def matches(
        self, start: date, rfc_type: str, request_type: str, end: date | None = None
    ) -> bool:
        """Whether a request with this period (start, end) and these types is affected."""
        if self.whole_month and not _whole_month(start, end):
            return False
        return (
            (self.month is None or start.strftime("%Y-%m") == self.month)
            and (self.rfc_type is None or self.rfc_type == rfc_type)
            and (self.request_type is None or self.request_type == request_type)
        )


def _whole_month(start: date, end: date | None) -> bool:
    if end is None or start.day != 1:
        return False
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return end == following - timedelta(days=1)


@attrs.frozen
class RefuseCreates:
    """Refuse the first `times` creates (of `months`, `YYYY-MM`; None = any) with `status`.

    Nothing is billed for a refused create. The default plays "Descarga Masiva deactivated":
    400 `business_rule_violation`; after `times` refusals creates succeed (re-activated).
    """

    times: int = 1
    months: frozenset[str] | None = attrs.field(default=None, converter=_types)
    status: int = 400
    code: str = "business_rule_violation"
    message: str = (
        "Descarga Masiva is not active for this team (status needs_activation): "
        "POST /invoices/download/activate first"
    )

    def __attrs_post_init__(self) -> None:
        if self.times < 1:
            raise ValueError("refuse_creates.times must be >= 1")
        if not 400 <= self.status < 500 or self.status in (408, 429):
            raise ValueError("a refused create is a 4xx other than 408/429 (nothing billed)")


@attrs.frozen
class ServerProfile:
    """How the sandbox disagrees with the SDK's guesses (module docstring). Default: it agrees."""

    clock_offset_seconds: float = 0.0
    created_at_format: CreatedAtFormat = "ms"
    omit_fields: frozenset[str] = attrs.field(default=frozenset(), converter=_omit)
    request_ids: RequestIdStyle = "uuid"
    history_request_types: frozenset[str] | None = attrs.field(default=None, converter=_types)
    history_rfc_types: frozenset[str] | None = attrs.field(default=None, converter=_types)
    sat_codes: tuple[SatCodeRule, ...] = ()
    refuse_creates: RefuseCreates | None = None
    history_order: HistoryOrder = "created"
    lost_create_lag: float = 0.0

    def __attrs_post_init__(self) -> None:
        if not self.lost_create_lag >= 0:
            raise ValueError(f"lost_create_lag must be >= 0 seconds, got {self.lost_create_lag}")
        if self.history_order not in HISTORY_ORDERS:
            raise ValueError(
                f"history_order must be one of {HISTORY_ORDERS}, got {self.history_order!r}"
            )
        if self.created_at_format not in CREATED_AT_FORMATS:
            raise ValueError(
                f"created_at_format must be one of {CREATED_AT_FORMATS}, "
                f"got {self.created_at_format!r}"
            )
        if self.request_ids not in ("uuid", "sequential"):
            raise ValueError(f"request_ids must be uuid or sequential, got {self.request_ids!r}")

    @property
    def clock_offset_ms(self) -> int:
        """The clock offset in whole milliseconds."""
        return round(self.clock_offset_seconds * 1000)

    def combine(self, other: ServerProfile) -> ServerProfile:
        """Both profiles at once: `other`'s non-default knobs win, sets and rules add up."""
        default = ServerProfile()

        def pick(name: str) -> object:
            theirs = getattr(other, name)
            return theirs if theirs != getattr(default, name) else getattr(self, name)

        return ServerProfile(
            clock_offset_seconds=cast(float, pick("clock_offset_seconds")),
            created_at_format=cast(CreatedAtFormat, pick("created_at_format")),
            omit_fields=self.omit_fields | other.omit_fields,
            request_ids=cast(RequestIdStyle, pick("request_ids")),
            history_request_types=cast("frozenset[str] | None", pick("history_request_types")),
            history_rfc_types=cast("frozenset[str] | None", pick("history_rfc_types")),
            sat_codes=self.sat_codes + other.sat_codes,
            refuse_creates=cast("RefuseCreates | None", pick("refuse_creates")),
            history_order=cast(HistoryOrder, pick("history_order")),
            lost_create_lag=cast(float, pick("lost_create_lag")),
        )

    def describe(self) -> str:
        """The knobs that differ from a server agreeing with every guess, in a few words
        (`"agrees"` when none): what docs/reliability.md says a run survived."""
        parts = []
        if self.clock_offset_seconds:
            parts.append(f"clock {self.clock_offset_seconds:+g} s")
        if self.created_at_format != "ms":
            parts.append(f"createdAt as {self.created_at_format}")
        parts += [f"no {field}" for field in sorted(self.omit_fields)]
        if self.request_ids != "uuid":
            parts.append(f"{self.request_ids} ids restarting")
        if self.history_request_types is not None:
            parts.append(f"history lists only {'/'.join(sorted(self.history_request_types))}")
        if self.history_rfc_types is not None:
            parts.append(f"history lists only {'/'.join(sorted(self.history_rfc_types))}")
        parts += [
            f"SAT {rule.code} for {rule.month or 'every month'}"
            + (" (whole-month requests)" if rule.whole_month else "")
            for rule in self.sat_codes
        ]
        if self.refuse_creates is not None:
            parts.append(f"first {self.refuse_creates.times} create(s) refused")
        if self.history_order != "created":
            by = {"period": "period (startDate)", "updated": "last status change"}
            parts.append(f"history keeps the newest by {by[self.history_order]}")
        if self.lost_create_lag:
            parts.append(f"a lost create listed {self.lost_create_lag:g} s late")
        return ", ".join(parts) or "agrees"

    def sat_rules(self, phase: str) -> tuple[SatCodeRule, ...]:
        """The SAT code rules of one phase."""
        return tuple(rule for rule in self.sat_codes if rule.phase == phase)


GUESS_HISTORY_FIELDS = frozenset({"history.requestType", "history.packageIds"})
"""History fields the docs do not list (get-download-request-history-32396704e0)."""

PROFILES: dict[str, ServerProfile] = {
    "agree": ServerProfile(),
    "clock-ahead": ServerProfile(clock_offset_seconds=0.75),
    "clock-behind": ServerProfile(clock_offset_seconds=-0.75),
    "created-at-seconds": ServerProfile(created_at_format="s"),
    "created-at-iso": ServerProfile(created_at_format="iso_offset"),
    "created-at-naive-mx": ServerProfile(created_at_format="iso_mexico_naive"),
    # Only what the docs list: no requestType/packageIds in the history, and of the (wholly
    # undocumented) status body no count and no criteria; package_ids stays, it is the one place
    # they can come from.
    "documented-fields": ServerProfile(
        omit_fields=GUESS_HISTORY_FIELDS | STATUS_CRITERIA_FIELDS | {"status.invoice_count"}
    ),
    # Documented counts a server may still leave out: "completed" with nothing to count by.
    "no-counts": ServerProfile(
        omit_fields={
            "history.invoiceCount",
            "history.processedCount",
            "history.packageIds",
            "status.invoice_count",
        }
    ),
    "no-package-ids": ServerProfile(omit_fields={"history.packageIds", "status.package_ids"}),
    "ids-restart": ServerProfile(request_ids="sequential"),
    "cfdi-only-history": ServerProfile(history_request_types={"cfdi"}),
    "refused-create": ServerProfile(refuse_creates=RefuseCreates(times=1)),
    # "Newest" by something other than creation (the docs do not say by what).
    "history-by-period": ServerProfile(history_order="period"),
    "history-by-update": ServerProfile(history_order="updated"),
}
"""Named profiles for `SandboxConfig(profile=profile(...))`, `--profile` and the pytest marker.

`short-history` is not a profile knob: use `SandboxConfig(history_limit=...)` (`--history-limit`).
"""


def profile(*names: str) -> ServerProfile:
    """The named profiles combined, left to right (ValueError for an unknown name)."""
    combined = ServerProfile()
    for name in names:
        try:
            combined = combined.combine(PROFILES[name])
        except KeyError:
            raise ValueError(
                f"unknown sandbox profile {name!r}; known: {', '.join(sorted(PROFILES))}"
            ) from None
    return combined


def random_profile(seed: int) -> ServerProfile:
    """A seeded draw over the knobs that need no scenario (no SAT codes, no refusals), the
    history's order included.

    Equal seeds give equal profiles, so a failing chaos run names the profile that broke it.
    """
    rng = random.Random(f"{seed}|server-profile")
    omit: set[str] = set()
    if rng.random() < 0.5:
        omit |= GUESS_HISTORY_FIELDS
    if rng.random() < 0.3:
        omit |= {"history.invoiceCount", "history.processedCount", "status.invoice_count"}
    return ServerProfile(
        clock_offset_seconds=round(rng.uniform(-2.0, 2.0), 3),
        created_at_format=rng.choice(CREATED_AT_FORMATS),
        omit_fields=omit,
        request_ids=rng.choice(("uuid", "sequential")),
        history_request_types=rng.choice((None, frozenset({"cfdi"}))),
        history_order=rng.choice(HISTORY_ORDERS),  # drawn last: earlier seeds' other knobs stay
    )
