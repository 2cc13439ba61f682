"""Argument checks run before any request is sent.

A bad value raises `InvalidParameterError(field, rule, value)` (a `ValueError`) whose message names
the argument and the rule it breaks; a value of the wrong Python type (an int where a string is
expected, a datetime where a date is expected) raises a plain `TypeError` naming the argument.
Each check returns the normalized value to send.

>>> rfc("issuer_rfc", " eku9003173c9 ")
'EKU9003173C9'
>>> limit("limit", 500)
Traceback (most recent call last):
...
gigstack_async.errors.InvalidParameterError: limit: must be between 1 and 100
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import TypeVar

import attrs

from gigstack_async._dates import add_months, parse_date, today_mx
from gigstack_async._generated.models import DownloadRequestInput, RequestType, RfcType
from gigstack_async.errors import InvalidParameterError

__all__ = [
    "SYNC_WINDOW_MONTHS",
    "ValidatedDownloadRequest",
    "cfdi_uuid",
    "cfdi_uuid_as_given",
    "check_not_future",
    "check_sync_window",
    "date_range",
    "date_value",
    "days_back",
    "download_request",
    "earliest_start",
    "enum_value",
    "limit",
    "non_empty_str",
    "phone",
    "positive_seconds",
    "rfc",
    "schedule_time",
    "sync_start_date",
]

E = TypeVar("E", bound=Enum)

SYNC_WINDOW_MONTHS = 71
"""gigstack's FIEL sync window: `sync_start_date` "up to 71 months back" (docs: upload-fiel)."""

# ASCII classes on purpose: `\d` and `\w` also match other scripts' digits and letters.
_RFC_RE = re.compile(r"([A-ZÑ&]{3,4})([0-9]{6})([A-Z0-9]{3})")
_UUID_RE = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")
# Mexican numbers: +52 then 10 digits; mobiles registered before 2019 may carry the old "1".
_PHONE_RE = re.compile(r"\+52(1?[0-9]{10})")
_PHONE_SEPARATORS = re.compile(r"[ ()\-.]")
_TIME_RE = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def _require_str(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{field}: expected a str, got {type(value).__name__}")
    return value


def _require_int(field: str, value: object) -> int:
    # bool is an int subclass; `limit=True` is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field}: expected an int, got {type(value).__name__}")
    return value


def _rfc_date_ok(digits: str) -> bool:
    # The 6 digits are the birth or incorporation date YYMMDD; the century is not encoded, so a
    # Feb 29 is accepted when either century makes it a leap year.
    yy, mm, dd = int(digits[:2]), int(digits[2:4]), int(digits[4:])
    for year in (1900 + yy, 2000 + yy):
        try:
            date(year, mm, dd)
        except ValueError:
            continue
        return True
    return False


def rfc(field: str, value: object) -> str:
    """A Mexican RFC, stripped and upper-cased.

    12 characters for a persona moral, 13 for a persona física: 3 or 4 letters (Ñ and & allowed),
    a YYMMDD date, a 3-character homoclave (SAT, Anexo 20).

    >>> rfc("receiver_rfc", "xaxx010101000")
    'XAXX010101000'
    """
    text = _require_str(field, value).strip().upper()
    match = _RFC_RE.fullmatch(text)
    if match is None or not _rfc_date_ok(match.group(2)):
        raise InvalidParameterError(
            field,
            "must be an RFC: 12 characters (persona moral, e.g. EKU9003173C9) or 13 "
            "(persona física, e.g. XAXX010101000) with a valid YYMMDD date",
            value,
        )
    return text


def cfdi_uuid(field: str, value: object) -> str:
    """A CFDI folio fiscal (UUID, 8-4-4-4-12 hex), upper-case as SAT writes it.

    A `uuid.UUID` is accepted too.

    >>> cfdi_uuid("uuid", "5fb2822e-396d-4725-8521-cdc4bdd20ccf")
    '5FB2822E-396D-4725-8521-CDC4BDD20CCF'
    """
    if isinstance(value, uuid.UUID):
        return str(value).upper()
    text = _require_str(field, value).strip().upper()
    if not _UUID_RE.fullmatch(text):
        raise InvalidParameterError(
            field, "must be a CFDI UUID like 5FB2822E-396D-4725-8521-CDC4BDD20CCF", value
        )
    return text


def cfdi_uuid_as_given(field: str, value: object) -> str:
    """A CFDI UUID for a URL path: checked like `cfdi_uuid`, but sent in the caller's own case.

    gigstack's client sends the UUID as the user wrote it, so this SDK does too; our own
    comparisons (the sandbox, journals) fold case instead. Surrounding blanks are dropped; a
    `uuid.UUID` is sent in its standard (lower-case) form.

    >>> cfdi_uuid_as_given("uuid", " 5fb2822e-396d-4725-8521-CDC4BDD20CCF ")
    '5fb2822e-396d-4725-8521-CDC4BDD20CCF'
    """
    if isinstance(value, uuid.UUID):
        return str(value)
    cfdi_uuid(field, value)
    return _require_str(field, value).strip()


def enum_value(field: str, value: object, enum_cls: type[E]) -> E:
    """A member of `enum_cls`, given the member itself or its string value.

    >>> from gigstack_async._generated.models import RfcType
    >>> enum_value("rfc_type", "issued", RfcType)
    <RfcType.ISSUED: 'issued'>
    """
    if isinstance(value, enum_cls):
        return value
    allowed = ", ".join(repr(member.value) for member in enum_cls)
    if not isinstance(value, str):
        raise TypeError(
            f"{field}: expected {enum_cls.__name__} or one of {allowed}, got {type(value).__name__}"
        )
    try:
        return enum_cls(value)
    except ValueError:
        raise InvalidParameterError(field, f"must be one of {allowed}", value) from None


def limit(field: str, value: object, lo: int = 1, hi: int = 100) -> int:
    """An int in `lo..hi` inclusive (default: gigstack's page size 1 to 100). bool is refused."""
    number = _require_int(field, value)
    if not lo <= number <= hi:
        raise InvalidParameterError(field, f"must be between {lo} and {hi}", value)
    return number


def days_back(field: str, value: object) -> int:
    """The schedule's look-back in days, 1 to 90 (gigstack CLI `PUT /schedule`)."""
    return limit(field, value, 1, 90)


def date_value(field: str, value: object) -> date:
    """A calendar date: a `date`, or a `YYYY-MM-DD` string.

    A `datetime` is refused (TypeError): the API takes days, and silently dropping the time (or
    its time zone) would shift the day for some callers. Pass `dt.date()` explicitly.

    >>> date_value("from", "2024-01-31")
    datetime.date(2024, 1, 31)
    """
    if isinstance(value, datetime):
        raise TypeError(f"{field}: expected a date, got a datetime; pass .date() explicitly")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return parse_date(value)
        except ValueError:
            raise InvalidParameterError(
                field, "must be a real date written YYYY-MM-DD", value
            ) from None
    raise TypeError(f"{field}: expected a date or a 'YYYY-MM-DD' str, got {type(value).__name__}")


def date_range(
    from_field: str, from_: object, to_field: str, to: object
) -> tuple[date | None, date | None]:
    """Optional inclusive bounds; when both are given, `from_` must not be after `to`.

    >>> date_range("from", "2024-01-01", "to", None)
    (datetime.date(2024, 1, 1), None)
    """
    start = None if from_ is None else date_value(from_field, from_)
    end = None if to is None else date_value(to_field, to)
    if start is not None and end is not None and start > end:
        raise InvalidParameterError(
            to_field, f"must be on or after {from_field} ({start.isoformat()})", to
        )
    return start, end


def non_empty_str(field: str, value: object) -> str:
    """A string that is not blank. Returned unchanged: it may be a password, where blanks count."""
    text = _require_str(field, value)
    if not text.strip():
        raise InvalidParameterError(field, "must not be empty", value)
    return text


def phone(field: str, value: object) -> str:
    """A Mexican phone number in E.164 form (+52 and 10 digits, or the older +521 and 10 digits).

    Spaces, dashes, dots and parentheses are removed.

    >>> phone("phone", "+52 1 55 1234-5678")
    '+5215512345678'
    """
    text = _PHONE_SEPARATORS.sub("", _require_str(field, value))
    if not _PHONE_RE.fullmatch(text):
        raise InvalidParameterError(
            field, "must be a Mexican number in E.164 form, e.g. +5215512345678", value
        )
    return text


def schedule_time(field: str, value: object) -> str:
    """A time of day `HH:mm`, 24-hour (the schedule runs in America/Mexico_City).

    A `datetime.time` with no seconds is accepted too.

    >>> schedule_time("time", "07:30")
    '07:30'
    """
    if isinstance(value, time):
        if value.second or value.microsecond:
            raise InvalidParameterError(field, "must be a whole minute (HH:mm)", value)
        return f"{value.hour:02d}:{value.minute:02d}"
    text = _require_str(field, value).strip()
    if not _TIME_RE.fullmatch(text):
        raise InvalidParameterError(field, "must be a 24-hour time HH:mm, e.g. 07:30", value)
    return text


def _today(today: object) -> date:
    if today is None:
        return today_mx()
    if isinstance(today, datetime) or not isinstance(today, date):
        raise TypeError(f"today: expected a date, got {type(today).__name__}")
    return today


def earliest_start(today: date) -> date:
    """The oldest start date gigstack syncs: 71 months before `today`.

    >>> earliest_start(date(2026, 8, 15))
    datetime.date(2020, 9, 15)
    """
    return add_months(today, -SYNC_WINDOW_MONTHS)


def check_not_future(field: str, value: date, today: date) -> None:
    """Refuse a date after `today` (Mexico City): no CFDI can be issued in the future."""
    if value > today:
        raise InvalidParameterError(
            field,
            f"must not be in the future (today in Mexico City is {today.isoformat()})",
            value,
        )


def check_sync_window(field: str, value: date, today: date) -> None:
    """Refuse a date older than gigstack's 71-month sync window."""
    floor = earliest_start(today)
    if value < floor:
        raise InvalidParameterError(
            field,
            f"must be on or after {floor.isoformat()}: gigstack reaches at most "
            f"{SYNC_WINDOW_MONTHS} months back",
            value,
        )


def sync_start_date(field: str, value: object, *, today: date | None = None) -> date:
    """The FIEL upload / registration `sync_start_date`: not in the future, ≤ 71 months back."""
    day = date_value(field, value)
    now = _today(today)
    check_not_future(field, day, now)
    check_sync_window(field, day, now)
    return day


@attrs.frozen
class ValidatedDownloadRequest:
    """A `POST /invoices/download/request` body that passed `download_request`."""

    start_date: date
    end_date: date
    rfc_type: RfcType
    request_type: RequestType | None

    def to_input(self) -> DownloadRequestInput:
        """The generated request model, ready for the transport."""
        return DownloadRequestInput(
            start_date=self.start_date,
            end_date=self.end_date,
            rfc_type=self.rfc_type,
            request_type=self.request_type,
        )


def download_request(
    start_date: object,
    end_date: object,
    rfc_type: object,
    request_type: object = None,
    *,
    today: date | None = None,
) -> ValidatedDownloadRequest:
    """Check one bulk download request against gigstack's and SAT's documented rules.

    Dates are `date` objects or `YYYY-MM-DD` strings, both inclusive; "today" is today in
    America/Mexico_City (`today` overrides it, for tests and replays).

    1. `start_date <= end_date`. Source: SAT WS v1.5 (production since 2025-05-30) rejects a
       start that is not before the end; gigstack sends whole days, so one day is a valid range.
    2. At most one month: `end_date <= add_months(start_date, 1) - 1 day`, so Jan 1 to Jan 31,
       Jan 15 to Feb 14. Source: gigstack docs, create-bulk-download-request ("SAT limits each
       request to a maximum of 1 month"; example 2024-01-01 to 2024-01-31).
    3. `end_date` not after today. Source: SAT filters on the CFDI emission date, which cannot be
       in the future; SDK rule so no billed request is wasted on an impossible period.
    4. `start_date` not before `add_months(today, -71)`. Source: gigstack docs, upload-fiel
       ("sync_start_date … up to 71 months back"); SAT's own floor (v1.5: today − 6 years) is
       looser, so gigstack's window decides.
    5. `rfc_type` is `issued` or `received` (gigstack docs); `request_type`, when given, is
       `metadata` or `cfdi` (gigstack CLI). None leaves it to the server's default.

    >>> today = date(2024, 6, 1)
    >>> req = download_request("2024-01-15", "2024-02-14", "received", "cfdi", today=today)
    >>> req.rfc_type, req.end_date
    (<RfcType.RECEIVED: 'received'>, datetime.date(2024, 2, 14))
    >>> download_request("2024-01-15", "2024-02-15", "received", today=today)
    Traceback (most recent call last):
    ...
    gigstack_async.errors.InvalidParameterError: end_date: range must be at most one month: \
with start_date 2024-01-15 the end_date can be at most 2024-02-14
    """
    start = date_value("start_date", start_date)
    end = date_value("end_date", end_date)
    kind = enum_value("rfc_type", rfc_type, RfcType)
    what = None if request_type is None else enum_value("request_type", request_type, RequestType)
    now = _today(today)
    if start > end:
        raise InvalidParameterError(
            "end_date", f"must be on or after start_date ({start.isoformat()})", end_date
        )
    last_allowed = add_months(start, 1) - timedelta(days=1)
    if end > last_allowed:
        raise InvalidParameterError(
            "end_date",
            f"range must be at most one month: with start_date {start.isoformat()} the end_date "
            f"can be at most {last_allowed.isoformat()}",
            end_date,
        )
    check_not_future("end_date", end, now)
    check_sync_window("start_date", start, now)
    return ValidatedDownloadRequest(
        start_date=start, end_date=end, rfc_type=kind, request_type=what
    )


def positive_seconds(field: str, value: object) -> float:
    """A finite, positive number of seconds (int or float; bool, NaN and infinity refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{field}: expected a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise InvalidParameterError(field, "must be a finite, positive number of seconds", value)
    return float(value)
