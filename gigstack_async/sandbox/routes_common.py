"""What every core route shares: request parsing, the three list styles, envelopes, and
the fiscal field checks (RFC, régimen, uso CFDI, forma/método de pago, ZIP).

List styles (api-surface references): core cursor lists (`limit` 1–100 default 10, `next` →
`has_more`, `total_results`, `next` while more remain), search (`q`, `page`, `per_page` →
`found`, `page`, `per_page`, `has_more`) and the CFDI errors catalog (`page`, `limit` → `total`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gigstack_async.sandbox import money
from gigstack_async.sandbox.config import ApiKeyConfig
from gigstack_async.sandbox.core import CoreState, CoreTeam, Record, Store
from gigstack_async.sandbox.envelopes import ApiError, invalid
from gigstack_async.sandbox.routing import OWNER, state_of, team_of

RFC = re.compile(r"[A-ZÑ&]{3,4}\d{6}[A-Z0-9]{3}")
ZIP = re.compile(r"\d{5}")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
TAX_SYSTEMS = frozenset(
    [
        "601",
        "603",
        "605",
        "606",
        "607",
        "608",
        "609",
        "610",
        "611",
        "612",
        "614",
        "615",
        "616",
        "620",
        "621",
        "622",
        "623",
        "624",
        "625",
        "626",
    ]
)
"""SAT c_RegimenFiscal (FACT-docs catalog plus SAT's list)."""
CFDI_USES = frozenset(
    [
        "G01",
        "G02",
        "G03",
        "I01",
        "I02",
        "I03",
        "I04",
        "I05",
        "I06",
        "I07",
        "I08",
        "D01",
        "D02",
        "D03",
        "D04",
        "D05",
        "D06",
        "D07",
        "D08",
        "D09",
        "D10",
        "S01",
        "CP01",
        "CN01",
        "P01",
    ]
)
"""SAT c_UsoCFDI 4.0, plus `P01` (CFDI 3.3) because every docs example sends it."""
PAYMENT_FORMS = frozenset(
    [
        "01",
        "02",
        "03",
        "04",
        "05",
        "06",
        "08",
        "12",
        "13",
        "14",
        "15",
        "17",
        "23",
        "24",
        "25",
        "26",
        "27",
        "28",
        "29",
        "30",
        "31",
        "99",
    ]
)
"""SAT c_FormaPago (FACT-docs catalog)."""
PAYMENT_METHODS = frozenset({"PUE", "PPD"})
TAX_TYPES = frozenset({"IVA", "ISR", "IEPS"})
TAX_FACTORS = frozenset({"Tasa", "Cuota", "Exento"})

PUBLIC_RFC = "XAXX010101000"


# --- request context ---------------------------------------------------------------------------


def core_of(request: web.Request) -> CoreState:
    """The core state behind the app."""
    return state_of(request).core


def team_core(request: web.Request) -> CoreTeam:
    """The acting team's core state (the `team` parameter, or the key's home team)."""
    return core_of(request).team(team_of(request).team_id)


def key_of(request: web.Request) -> ApiKeyConfig:
    """The API key the request authenticated with."""
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    for key in state_of(request).config.api_keys:
        if key.key == token:
            return key
    raise ApiError(401, "unauthorized", "Invalid API key")  # pragma: no cover - auth ran first


def owner_of(request: web.Request) -> str:
    return str(request.get(OWNER, "user_sandbox"))


def now_s(request: web.Request) -> int:
    """Simulated now, in unix seconds (the unit of `created_at` on clients, invoices, …)."""
    return state_of(request).clock.now_ms() // 1000


def resource_time(request: web.Request) -> int:
    """Now in the unit of core resource timestamps (`CoreVariants.resource_time_unit`)."""
    if core_of(request).variants.resource_time_unit == "ms":
        return now_ms(request)
    return now_s(request)


def now_ms(request: web.Request) -> int:
    """Simulated now, in unix ms (drafts, support documents, retentions, webhooks)."""
    return state_of(request).clock.now_ms()


def emit(request: web.Request, type: str, data: Record) -> None:
    """Announce a committed change on the acting team (see `events.py`)."""
    state_of(request).emit_event(type, data, team_id=team_of(request).team_id)


async def json_body(request: web.Request, *, empty_ok: bool = False) -> dict[str, Any]:
    """The body as a JSON object, non-integer numbers as Decimal (400 otherwise)."""
    raw = await request.read()
    if not raw.strip():
        if empty_ok:
            return {}
        raise ApiError(400, "invalid_request_body", "A JSON object body is required")
    try:
        body = money.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid_request_body", f"The body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request_body", "The body must be a JSON object")
    return body


# --- envelopes ---------------------------------------------------------------------------------


def respond(data: Any, message: str, *, status: int = 200) -> web.Response:
    """The core envelope `{message, data}`."""
    return money.json_response({"message": message, "data": data}, status=status)


def created_status(request: web.Request) -> int:
    """The status of a successful create (201, or 200 under `CoreVariants.created_status`)."""
    return core_of(request).variants.created_status


def respond_standardized(request: web.Request, data: Any, message: str) -> web.Response:
    """`{success, data, message, timestamp (ISO)}`: support documents and the CFDI catalog."""
    return money.json_response(
        {"success": True, "data": data, "message": message, "timestamp": iso_now(request)}
    )


def iso_now(request: web.Request) -> str:
    moment = datetime.fromtimestamp(now_ms(request) / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the three list styles ---------------------------------------------------------------------


def int_query(
    request: web.Request, name: str, default: int, *, low: int = 1, high: int | None = None
) -> int:
    """An integer query parameter within `[low, high]`."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, f"must be an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise invalid(name, f"must be {bound}, got {value}")
    return value


def _created_bounds(request: web.Request) -> tuple[int | None, int | None]:
    gte = request.query.get("created_gte") or request.query.get("created[gte]")
    lte = request.query.get("created_lte") or request.query.get("created[lte]")
    bounds: list[int | None] = []
    for name, raw in (("created_gte", gte), ("created_lte", lte)):
        if raw is None:
            bounds.append(None)
            continue
        try:
            bounds.append(int(raw))
        except ValueError:
            raise invalid(name, f"must be a unix timestamp, got {raw!r}") from None
    return bounds[0], bounds[1]


def _created_of(record: Record, field: str) -> int:
    value = record.get(field)
    return int(value) if isinstance(value, int) else 0


def _metadata_filters(request: web.Request) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for name, value in request.query.items():
        if name.startswith("metadata."):
            wanted[name[len("metadata.") :]] = value
        elif name.startswith("metadata_"):
            wanted[name[len("metadata_") :]] = value
    return wanted


def cursor_list(
    request: web.Request,
    records: Iterable[Record],
    message: str,
    *,
    filters: Mapping[str, Callable[[Record, str], bool]] | None = None,
    created_field: str = "created_at",
) -> web.Response:
    """A core list page: `{message, data, has_more, total_results[, next]}`.

    Default order is newest first (`sort=asc` reverses). `next` is an opaque cursor naming the
    last record returned (and its creation position: a deleted anchor goes on after it); an
    unknown cursor is a 400. `total_results` counts every match, not
    just the page. Query filters: `created_gte`/`created_lte` (or `created[gte]`/`[lte]`, in the
    unit of `created_field`), `metadata.<key>` / `metadata_<key>`, and `filters` (query name →
    predicate), applied only when the parameter is present.
    """
    limit = int_query(request, "limit", 10, high=100)
    sort = request.query.get("sort", "desc")
    if sort not in ("asc", "desc"):
        raise invalid("sort", f"must be asc or desc, got {sort!r}")
    gte, lte = _created_bounds(request)
    metadata = _metadata_filters(request)
    matches: list[Record] = []
    for record in records:
        created = _created_of(record, created_field)
        if (gte is not None and created < gte) or (lte is not None and created > lte):
            continue
        record_meta = record.get("metadata") or {}
        if any(str(record_meta.get(key)) != value for key, value in metadata.items()):
            continue
        if filters and any(
            name in request.query and not predicate(record, request.query[name])
            for name, predicate in filters.items()
        ):
            continue
        matches.append(record)
    if sort == "desc":
        matches.reverse()
    start = 0
    cursor = request.query.get("next")
    if cursor:
        start = _cursor_start(cursor, matches, descending=sort == "desc")
    page = matches[start : start + limit]
    body: dict[str, Any] = {
        "message": message,
        "data": page,
        "has_more": start + limit < len(matches),
        "total_results": len(matches),
    }
    if body["has_more"]:
        last = str(page[-1]["id"])
        body["next"] = _encode_cursor(last, Store.position(last))
    elif core_of(request).variants.next_on_last_page == "null":
        body["next"] = money.NULL
    return money.json_response(body)


def _cursor_start(cursor: str, matches: list[Record], *, descending: bool) -> int:
    """Where the page after `cursor` starts. The cursor names the last record returned and its
    creation position; when that record was deleted meanwhile (the common delete-while-listing
    loop), the page goes on after its position instead of failing (review 11 #9)."""
    anchor, position = _decode_cursor(cursor)
    ids = [str(record.get("id")) for record in matches]
    if anchor in ids:
        return ids.index(anchor) + 1
    if position is None:
        raise invalid("next", "unknown or expired cursor: start again without `next`")
    for index, record_id in enumerate(ids):
        here = Store.position(record_id)
        if here is not None and (here < position if descending else here > position):
            return index
    return len(ids)


def _encode_cursor(record_id: str, position: int | None = None) -> str:
    text = record_id if position is None else f"{record_id}|{position}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, int | None]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return "", None
    record_id, _, position = text.partition("|")
    return record_id, int(position) if position.isdigit() else None


def _flatten(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _flatten(item)
    elif isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def search_list(
    request: web.Request,
    records: Iterable[Record],
    fields: Sequence[str],
    *,
    filters: Mapping[str, Callable[[Record, str], bool]] | None = None,
) -> web.Response:
    """A search page: `{success, data, found, page, per_page, has_more}`.

    `q` is required; every whitespace-separated term must appear (case-insensitively) in one
    of `fields` of a record (Typesense-like, without typo tolerance). `page` starts at 1;
    `per_page` (alias `limit`) is 1–100, default 10.
    """
    q = request.query.get("q", "").strip()
    if not q:
        raise invalid("q", "a search text is required")
    page = int_query(request, "page", 1)
    per_page = int_query(request, "per_page", int_query(request, "limit", 10, high=100), high=100)
    terms = q.lower().split()
    found: list[Record] = []
    for record in records:
        haystack = " ".join(
            text.lower() for field in fields for text in _flatten(_dig(record, field))
        )
        if not all(term in haystack for term in terms):
            continue
        if filters and any(
            name in request.query and not predicate(record, request.query[name])
            for name, predicate in filters.items()
        ):
            continue
        found.append(record)
    found.reverse()
    start = (page - 1) * per_page
    return money.json_response(
        {
            "success": True,
            "data": found[start : start + per_page],
            "found": len(found),
            "page": page,
            "per_page": per_page,
            "has_more": start + per_page < len(found),
        }
    )


def _dig(record: Record, dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def equals(field: str) -> Callable[[Record, str], bool]:
    """A list filter: the record's (dotted) `field` equals the query value."""
    return lambda record, value: str(_dig(record, field)) == value


# --- fiscal field checks -----------------------------------------------------------------------


def optional_str(body: Mapping[str, Any], field: str, *, prefix: str = "") -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(prefix + field, f"must be a string, got {value!r}")
    return value


def check_code(
    body: Mapping[str, Any], field: str, allowed: frozenset[str], *, prefix: str = ""
) -> str | None:
    """An optional SAT catalog code; an unknown code is a 400 naming the field."""
    value = optional_str(body, field, prefix=prefix)
    if value is not None and value not in allowed:
        raise invalid(prefix + field, f"{value!r} is not a valid SAT code for {field}")
    return value


def check_rfc(value: object, field: str) -> str:
    if not isinstance(value, str) or not RFC.fullmatch(value.upper()):
        raise invalid(field, f"is not a valid RFC: {value!r} (12 or 13 characters)")
    return value.upper()


def check_zip(value: object, field: str) -> str:
    if not isinstance(value, str) or not ZIP.fullmatch(value):
        raise invalid(field, f"must be a 5-digit postal code as a string, got {value!r}")
    return value


def check_metadata(body: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    value = body.get("metadata")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(prefix + "metadata", "must be an object")
    return dict(value)


def check_emails(body: Mapping[str, Any], field: str = "emails") -> list[str]:
    value = body.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and "@" in v for v in value):
        raise invalid(field, "must be a list of email addresses")
    return list(value)
