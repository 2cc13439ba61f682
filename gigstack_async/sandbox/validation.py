"""Input rules, each failing with a 400 `validation_failed` that names the field."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from gigstack_async import _json
from gigstack_async.sandbox.clock import add_months
from gigstack_async.sandbox.envelopes import ApiError, invalid
from gigstack_async.sandbox.lifecycle import Criteria

RFC_TYPES = ("issued", "received")
REQUEST_TYPES = ("metadata", "cfdi")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_PHONE = re.compile(r"\+[1-9]\d{9,14}")
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


async def json_object(request: web.Request, *, empty_ok: bool = False) -> dict[str, Any]:
    """The request body as a JSON object (400 `invalid_request_body` otherwise)."""
    raw = await request.read()
    if not raw.strip():
        if empty_ok:
            return {}
        raise ApiError(400, "invalid_request_body", "A JSON object body is required")
    try:
        body = _json.loads(raw, bounded=True)  # exact Decimal amounts, magnitudes bounded
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "invalid_request_body", f"The body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request_body", "The body must be a JSON object")
    return body


def parse_date(value: object, field: str) -> date:
    """A `YYYY-MM-DD` calendar date."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise invalid(field, f"must be a date as YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(field, f"{value!r} is not a valid calendar date") from None


def choice(value: object, field: str, allowed: Collection[str]) -> str:
    """One of `allowed`."""
    if not isinstance(value, str) or value not in allowed:
        raise invalid(field, f"must be one of {', '.join(allowed)}, got {value!r}")
    return value


def required(body: Mapping[str, Any], field: str) -> object:
    """The value of a required body field."""
    if field not in body or body[field] is None:
        raise invalid(field, "is required")
    return body[field]


def sync_start(value: object, field: str, today: date, window_months: int) -> date:
    """A sync start date: not in the future, at most `window_months` months back."""
    day = parse_date(value, field)
    oldest = add_months(today, -window_months)
    if day > today:
        raise invalid(field, f"{day} is in the future (today is {today} in Mexico City)")
    if day < oldest:
        raise invalid(field, f"{day} is more than {window_months} months back (oldest {oldest})")
    return day


def phone(value: object, field: str = "phone") -> str:
    """An E.164 phone number such as +5215512345678."""
    if not isinstance(value, str) or not _PHONE.fullmatch(value):
        raise invalid(field, f"must be an E.164 number like +5215512345678, got {value!r}")
    return value


def hh_mm(value: object, field: str) -> str:
    """A 24-hour `HH:mm` time."""
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise invalid(field, f"must be a time as HH:mm (00:00-23:59), got {value!r}")
    return value


def integer(value: object, field: str, low: int, high: int | None = None) -> int:
    """An integer in `low..high` (booleans are not integers here, unlike in Python)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, f"must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise invalid(field, f"must be {bounds}, got {value}")
    return value


def criteria(body: Mapping[str, Any], today: date, window_months: int) -> Criteria:
    """The body of `POST /invoices/download/request`, checked against gigstack's and SAT's rules.

    The one-month rule is exact: `end_date <= add_months(start_date, 1) - 1 day`, so Jan 1 may run
    to Jan 31, and Jan 31 to Feb 28 in leap years (add_months clamps to Feb 29) or Feb 27 otherwise.
    """
    start = parse_date(required(body, "start_date"), "start_date")
    end = parse_date(required(body, "end_date"), "end_date")
    rfc_type = choice(required(body, "rfc_type"), "rfc_type", RFC_TYPES)
    raw_type = body.get("request_type")
    request_type = "cfdi" if raw_type is None else choice(raw_type, "request_type", REQUEST_TYPES)
    if start > end:
        raise invalid("end_date", f"must not be before start_date ({end} < {start})")
    last = add_months(start, 1) - timedelta(days=1)
    if end > last:
        raise invalid(
            "end_date", f"the range may span at most one month: from {start} up to {last}"
        )
    if end > today:
        raise invalid("end_date", f"{end} is in the future (today is {today} in Mexico City)")
    oldest = add_months(today, -window_months)
    if start < oldest:
        raise invalid(
            "start_date",
            f"{start} is older than the {window_months}-month window (oldest {oldest})",
        )
    return Criteria(start, end, rfc_type, request_type)
