"""Calendar helpers in Mexico City time: "today", month arithmetic and strict date parsing.

SAT filters CFDIs on their local emission date and gigstack schedules in America/Mexico_City, so
"today" always means today in Mexico City, not on the machine running the SDK.

>>> add_months(date(2024, 1, 31), 1)
datetime.date(2024, 2, 29)
>>> month_end(date(2023, 2, 10))
datetime.date(2023, 2, 28)
>>> parse_month("2024-03")
datetime.date(2024, 3, 1)
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "MEXICO_CITY",
    "add_months",
    "month_end",
    "month_start",
    "parse_date",
    "parse_month",
    "today_mx",
]

# ASCII digits only: `\d` would also accept other scripts' digits, which date() then rejects oddly.
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH_RE = re.compile(r"[0-9]{4}-[0-9]{2}")


def _mexico_city() -> tzinfo:
    try:
        return ZoneInfo("America/Mexico_City")
    except ZoneInfoNotFoundError:
        # Minimal machines (slim containers, Windows without the `tzdata` package) have no tz
        # database. Mexico abolished daylight saving time in 2022 (Ley de los Husos Horarios), so
        # a fixed UTC−06:00 gives the right "today" for every current date.
        return timezone(timedelta(hours=-6), "CST")


MEXICO_CITY: tzinfo = _mexico_city()
"""America/Mexico_City, or a fixed UTC−06:00 when the tz database is missing."""


def today_mx(now: datetime | None = None) -> date:
    """Today's date in Mexico City.

    `now` (for tests and replays) must be timezone-aware: a naive datetime has no defined instant.

    >>> today_mx(datetime(2024, 3, 1, 3, 0, tzinfo=UTC))  # still Feb 29 in CDMX
    datetime.date(2024, 2, 29)
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware (for example datetime.now(UTC))")
    return now.astimezone(MEXICO_CITY).date()


def add_months(d: date, n: int) -> date:
    """`d` moved by `n` calendar months (negative goes back), the day clamped to the month's end.

    >>> add_months(date(2023, 1, 31), 1)
    datetime.date(2023, 2, 28)
    >>> add_months(date(2024, 3, 15), -71)
    datetime.date(2018, 4, 15)
    """
    years, month0 = divmod(d.month - 1 + n, 12)
    year = d.year + years
    month = month0 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def month_start(d: date) -> date:
    """The first day of `d`'s month."""
    return d.replace(day=1)


def month_end(d: date) -> date:
    """The last day of `d`'s month (leap years included)."""
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def parse_date(text: str) -> date:
    """Parse exactly `YYYY-MM-DD` (surrounding blanks ignored); ValueError otherwise.

    Stricter than `date.fromisoformat`, which also takes `20240131` and week dates.

    >>> parse_date("2024-01-31")
    datetime.date(2024, 1, 31)
    """
    stripped = text.strip()
    if not _DATE_RE.fullmatch(stripped):
        raise ValueError(f"expected YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(stripped)
    except ValueError as exc:  # right shape, impossible day such as 2023-02-29
        raise ValueError(f"not a real date: {text!r} ({exc})") from None


def parse_month(text: str) -> date:
    """Parse exactly `YYYY-MM` into the first day of that month; ValueError otherwise.

    >>> parse_month("2024-02")
    datetime.date(2024, 2, 1)
    """
    stripped = text.strip()
    if not _MONTH_RE.fullmatch(stripped):
        raise ValueError(f"expected YYYY-MM, got {text!r}")
    year, month = int(stripped[:4]), int(stripped[5:])
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 01 to 12, got {text!r}")
    return date(year, month, 1)
