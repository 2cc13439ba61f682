"""The month planner: a long date range becomes one download request per calendar month.

gigstack accepts at most one month per request, so a year is twelve requests. Planning is pure:
every slot is validated with the same rules as a single request, so a bad range fails here,
before anything is sent (or billed). Show `plan.describe()` to the user before submitting.

>>> plan = plan_months("2024-01-15", "2024-03", rfc_type="received", request_type="cfdi",
...                    today=date(2024, 3, 10))
>>> [slot.key for slot in plan.slots], plan.clipped_end
(['2024-01', '2024-02', '2024-03'], True)
>>> plan.slots[0].fingerprint
'received:cfdi:2024-01-15:2024-01-31'
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import attrs

from gigstack_async._dates import month_end, parse_date, parse_month, today_mx
from gigstack_async._generated.models import DownloadRequest, RequestType, RfcType
from gigstack_async._validation import (
    SYNC_WINDOW_MONTHS,
    check_not_future,
    check_sync_window,
    date_value,
    download_request,
    earliest_start,
    enum_value,
)
from gigstack_async.errors import InvalidParameterError

__all__ = ["DownloadPlan", "MonthSlot", "PlanCriteria", "plan_months"]


@attrs.frozen
class PlanCriteria:
    """What every month of a plan asks for; a journal only ever holds one criteria."""

    rfc_type: RfcType
    request_type: RequestType


@attrs.frozen
class MonthSlot:
    """One monthly download request: `start_date` to `end_date` inclusive, inside month `key`."""

    key: str
    """The calendar month, `YYYY-MM`."""
    start_date: date
    end_date: date
    rfc_type: RfcType
    request_type: RequestType

    @property
    def fingerprint(self) -> str:
        """The request's criteria as a stable string, e.g. `received:cfdi:2024-01-01:2024-01-31`.

        Two requests with the same fingerprint are the same request to SAT (which allows only
        two identical requests, ever): the journal uses it to recognise a month it already sent.
        """
        return (
            f"{self.rfc_type.value}:{self.request_type.value}:"
            f"{self.start_date.isoformat()}:{self.end_date.isoformat()}"
        )

    @property
    def criteria(self) -> PlanCriteria:
        return PlanCriteria(self.rfc_type, self.request_type)

    @property
    def is_full_month(self) -> bool:
        return self.start_date.day == 1 and self.end_date == month_end(self.start_date)

    def matches(self, entry: DownloadRequest) -> bool:
        """Whether a `GET /schedule/history` entry is this month's request.

        Same start and end day and same `rfcType`; `requestType` is compared only when the
        server reports it (the docs do not list it). An entry without `rfcType` or dates never
        matches: adopting a wrong request would download the wrong data.
        """
        if entry.rfc_type is None or entry.rfc_type != self.rfc_type:
            return False
        if entry.request_type is not None and entry.request_type != self.request_type:
            return False
        return _history_day(entry.start_date) == self.start_date and (
            _history_day(entry.end_date) == self.end_date
        )


def _history_day(text: str | None) -> date | None:
    # The docs give history dates as strings (format GUESS: YYYY-MM-DD); a full ISO datetime is
    # tolerated by reading its date part.
    if not text:
        return None
    try:
        return parse_date(text.strip()[:10])
    except ValueError:
        return None


@attrs.frozen
class DownloadPlan:
    """Calendar-month slots covering `start_date..end_date`, validated and ready to submit.

    `clipped_end` is true when the requested end was in the future and the plan stops at
    `today` (Mexico City) instead; `requested_end` keeps what was asked.
    """

    slots: tuple[MonthSlot, ...]
    criteria: PlanCriteria
    start_date: date
    end_date: date
    requested_end: date
    today: date
    clipped_end: bool

    def __iter__(self) -> Iterator[MonthSlot]:
        return iter(self.slots)

    def __len__(self) -> int:
        return len(self.slots)

    def slot(self, key: str) -> MonthSlot:
        """The slot for month `key` (`YYYY-MM`); KeyError if the plan has none."""
        for slot in self.slots:
            if slot.key == key:
                return slot
        raise KeyError(key)

    def ends_today(self, slot: MonthSlot) -> bool:
        """Whether `slot` ends on the plan's `today` (Mexico City): that day is not over, so
        CFDIs stamped later today, or certified late at SAT, are not in its request. A run of
        the same plan on a later day reports the day as MISSING DAYS (newcomer 9g #4)."""
        return slot.end_date >= self.today

    def describe(self) -> str:
        """A human-readable plan, one line per month, to show before submitting.

        >>> print(plan_months("2024-01-15", "2024-02", rfc_type="issued",
        ...                   request_type="metadata", today=date(2024, 6, 1)).describe())
        2 monthly requests, issued metadata, 2024-01-15 to 2024-02-29:
          2024-01  2024-01-15 to 2024-01-31  (partial month)
          2024-02  2024-02-01 to 2024-02-29
        """
        count = len(self.slots)
        lines = [
            f"{count} monthly request{'s' if count != 1 else ''}, "
            f"{self.criteria.rfc_type.value} {self.criteria.request_type.value}, "
            f"{self.start_date.isoformat()} to {self.end_date.isoformat()}:"
        ]
        for slot in self.slots:
            marks = [] if slot.is_full_month else ["partial month"]
            if self.ends_today(slot):
                marks.append(
                    # The month's own Next says the same (newcomer 10 F6): a later run
                    # names the day as MISSING DAYS; nothing is fetched by itself.
                    f"ends today: CFDIs stamped later on {self.today.isoformat()} are not in "
                    "its request; running the same command again after "
                    f"{self.today.isoformat()} names them as MISSING DAYS, with the way to "
                    "request them"
                )
            note = f"  ({'; '.join(marks)})" if marks else ""
            lines.append(
                f"  {slot.key}  {slot.start_date.isoformat()} to {slot.end_date.isoformat()}{note}"
            )
        if self.clipped_end:
            lines.append(
                f"The end {self.requested_end.isoformat()} is in the future: the plan stops at "
                f"today, {self.today.isoformat()} (America/Mexico_City)."
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()


def _bound(field: str, value: object, *, is_end: bool) -> date:
    # `YYYY-MM` names a whole month: its first day as a start, its last day as an end.
    if isinstance(value, str):
        try:
            if len(value.strip()) == len("YYYY-MM"):
                first = parse_month(value)
                return month_end(first) if is_end else first
            return parse_date(value)
        except ValueError:
            raise InvalidParameterError(
                field, _not_a_day(value.strip()), value, quote=True
            ) from None
    return date_value(field, value)


def _not_a_day(text: str) -> str:
    # Written right but not a real day (newcomer 9m #9: `2025-02-30` was told it "must be a
    # date written YYYY-MM-DD", which it is): say which part does not exist.
    digits = text.split("-")
    if (
        len(digits) in (2, 3)
        and len(digits[0]) == 4
        and all(len(d) == 2 for d in digits[1:])
        and all(d.isascii() and d.isdigit() for d in digits)
    ):
        year, month = int(digits[0]), int(digits[1])
        if not 1 <= month <= 12:
            return f"month {digits[1]} does not exist (YYYY-MM, months 01 to 12)"
        if len(digits) == 3:
            days = month_end(date(year, month, 1)).day
            return (
                f"day {digits[2]} does not exist in {digits[0]}-{digits[1]}, which has {days} days"
            )
    return "must be a date written YYYY-MM-DD, or YYYY-MM for a whole month"


def _check_window(first: date, start: object, today: date) -> None:
    """Refuse a start older than gigstack's window, naming the first whole month it accepts
    (newcomer 9h #10/#9: "on or after 2020-12-30" left `2020-12` to be tried and refused)."""
    floor = earliest_start(today)
    if first >= floor:
        return
    whole = floor if floor.day == 1 else month_end(floor) + timedelta(days=1)
    partial = (
        ""
        if floor.day == 1
        else f", or start on {floor.isoformat()} for the {(month_end(floor) - floor).days + 1} "
        f"day(s) of {floor:%Y-%m} still in reach (a partial month)"
    )
    raise InvalidParameterError(
        "start",
        f"must be on or after {floor.isoformat()}: gigstack reaches at most "
        f"{SYNC_WINDOW_MONTHS} months back; the first whole month it accepts is "
        f"{whole:%Y-%m}{partial}",
        start,
        quote=True,
    )


def plan_months(
    start: date | str,
    end: date | str,
    *,
    rfc_type: RfcType | str,
    request_type: RequestType | str,
    today: date | None = None,
) -> DownloadPlan:
    """Split `start..end` (inclusive) into calendar-month download requests.

    `start` and `end` are dates or `YYYY-MM-DD` strings, or `YYYY-MM` for a whole month (the
    month's first day as `start`, its last day as `end`). The first and last months may be
    partial. A start in the future raises; an end in the future is clipped to today in
    Mexico City (`clipped_end` records it). Every slot passes `download_request`, so a start
    older than gigstack's 71-month window raises `InvalidParameterError` here.

    >>> plan = plan_months("2023-11", "2024-01", rfc_type="issued", request_type="cfdi",
    ...                    today=date(2024, 6, 1))
    >>> [(s.start_date.isoformat(), s.end_date.isoformat()) for s in plan]
    [('2023-11-01', '2023-11-30'), ('2023-12-01', '2023-12-31'), ('2024-01-01', '2024-01-31')]
    """
    first = _bound("start", start, is_end=False)
    requested_end = _bound("end", end, is_end=True)
    kind = enum_value("rfc_type", rfc_type, RfcType)
    what = enum_value("request_type", request_type, RequestType)
    if today is None:
        now = today_mx()
    elif isinstance(today, datetime) or not isinstance(today, date):
        raise TypeError(f"today: expected a date, got {type(today).__name__}")
    else:
        now = today
    check_not_future("start", first, now)
    _check_window(first, start, now)
    check_sync_window("start", first, now)
    if first > requested_end:
        raise InvalidParameterError(
            "end", f"must be on or after start ({first.isoformat()})", end, quote=True
        )
    last = min(requested_end, now)

    slots: list[MonthSlot] = []
    cursor = first
    while cursor <= last:
        slot_end = min(month_end(cursor), last)
        # Same rules as a single request: the planner can never produce a slot the API rejects.
        checked = download_request(cursor, slot_end, kind, what, today=now)
        slots.append(
            MonthSlot(
                key=f"{cursor.year:04d}-{cursor.month:02d}",
                start_date=checked.start_date,
                end_date=checked.end_date,
                rfc_type=kind,
                request_type=what,
            )
        )
        cursor = slot_end + timedelta(days=1)
    return DownloadPlan(
        slots=tuple(slots),
        criteria=PlanCriteria(kind, what),
        start_date=first,
        end_date=last,
        requested_end=requested_end,
        today=now,
        clipped_end=requested_end > now,
    )
