"""A download request's `createdAt` for people to read, without guessing its unit.

The docs give no unit for `createdAt` (a GUESS: epoch ms, epoch s, ISO 8601 with an offset,
or Mexico City wall time without one; the sandbox plays each). It is only shown, never compared
with a clock. An epoch number's unit is told by its size where one reading is a plausible date
and the other is not: 10 digits read as milliseconds fall in January 1970, 13 as seconds after
the year 30000. Anything else is printed as sent, marked unknown: never an invented instant.

>>> created_at_text(1796030128158)
'2026-11-30 09:15:28 UTC'
>>> created_at_text("1796030128")
'2026-11-30 09:15:28 UTC'
>>> created_at_text("2024-05-01T10:00:00-06:00")
'2024-05-01 16:00:00 UTC'
>>> created_at_text("2024-05-01T10:00:00")
'2024-05-01T10:00:00 (time zone not stated)'
>>> created_at_text(123456)
'123456 (unit unknown)'
>>> created_at_text("9999-12-31T23:59:59-14:00")
'9999-12-31T23:59:59-14:00 (out of range)'
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["created_at_instant", "created_at_text"]

_DIGITS = re.compile(r"[0-9]+")
# Both ranges are 2001-09-09 .. 2286-11-20: where epoch seconds have 10 digits, milliseconds 13.
_SECONDS = range(10**9, 10**10)
_MILLISECONDS = range(10**12, 10**13)


def created_at_instant(value: int | str | None) -> datetime | None:
    """The instant `value` names, in UTC, when its unit can be told (epoch s or ms by its
    number of digits, or ISO 8601 with an offset); None when it cannot (another number, an
    ISO time without an offset, one whose instant falls outside the years 1..9999, such as
    `9999-12-31T23:59:59-14:00` (review 9l #4: it crashed a run), anything else). Never
    raises: a server's value is unknown, never a crash.

    >>> created_at_instant("9999-12-31T23:59:59-14:00") is None
    True
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    try:
        if isinstance(value, int):
            if value in _SECONDS:
                return datetime.fromtimestamp(value, UTC)
            if value in _MILLISECONDS:
                return datetime.fromtimestamp(value / 1000, UTC)
            return None
        parsed = datetime.fromisoformat(value.strip())
        return None if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None


def created_at_text(value: int | str | None, *, iso: bool = False) -> str:
    """`value` as `YYYY-MM-DD HH:MM:SS UTC` when its instant can be told
    (`created_at_instant`), else as sent with what is unknown about it: "(unit unknown)", or
    "(time zone not stated)" for an ISO time without an offset. "" for None. `iso`: as
    `YYYY-MM-DDTHH:MM:SSZ` instead, which `journal adopt --created-at` reads as that instant."""
    if value is None or value == "":
        return ""
    instant = created_at_instant(value)
    if instant is not None:
        return instant.strftime("%Y-%m-%dT%H:%M:%SZ" if iso else "%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                return f"{value} (time zone not stated)"
            return f"{value} (out of range)"
    return f"{value} (unit unknown)"
