"""Simulated time, and the Mexico City calendar rules that depend on it."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo


def _mexico_city() -> tzinfo:
    # Without tzdata (slim images, Windows) fall back to the offset Mexico City has kept all year
    # since DST was abolished in 2022: the rules only compare dates, so that is exact enough.
    try:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    except ImportError:  # pragma: no cover - zoneinfo is stdlib since 3.9
        return timezone(timedelta(hours=-6), "America/Mexico_City")
    try:
        return ZoneInfo("America/Mexico_City")
    except ZoneInfoNotFoundError:  # pragma: no cover - depends on the host
        return timezone(timedelta(hours=-6), "America/Mexico_City")


MEXICO_CITY: tzinfo = _mexico_city()


def add_months(day: date, months: int) -> date:
    """`day` moved by `months` calendar months, clamping the day (Jan 31 + 1 → Feb 28/29)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


class SimClock:
    """A clock the caller controls: `speed` simulated seconds pass per real second, plus jumps.

    With `speed=0` time only moves through `advance`, which makes tests deterministic. Changing
    `speed` keeps the current simulated instant (no jump).
    """

    def __init__(
        self,
        start: datetime | None = None,
        speed: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        if start is not None and start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        self._monotonic = monotonic
        self._base = (start or datetime.now(UTC)).astimezone(UTC)
        self._anchor = monotonic()
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value < 0:
            raise ValueError("speed must be >= 0")
        self._base = self.now()
        self._anchor = self._monotonic()
        self._speed = float(value)

    def now(self) -> datetime:
        """The current simulated instant (UTC, aware)."""
        elapsed = (self._monotonic() - self._anchor) * self._speed
        return self._base + timedelta(seconds=elapsed)

    def now_ms(self) -> int:
        """The current simulated instant in epoch milliseconds (the API's timestamp unit)."""
        return int(self.now().timestamp() * 1000)

    def today_mx(self) -> date:
        """The simulated calendar date in America/Mexico_City (what SAT's date rules use)."""
        return self.now().astimezone(MEXICO_CITY).date()

    def advance(self, seconds: float) -> None:
        """Jump forward by `seconds` simulated seconds (time never goes backwards)."""
        if seconds < 0:
            raise ValueError("the clock cannot go backwards")
        self._base += timedelta(seconds=seconds)
