"""Argument checks, rule by rule: the exact field, rule text and value a user reads, and the
boundaries of each range (issue 13: mutation survivors of tests/test_validation.py)."""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, time
from typing import Any

import pytest

from gigstack_async import _validation as v
from gigstack_async._generated.models import RequestType, RfcType
from gigstack_async.errors import InvalidParameterError

TODAY = date(2026, 8, 15)


def refused(call: Any, *args: Any, **kwargs: Any) -> InvalidParameterError:
    with pytest.raises(InvalidParameterError) as info:
        call(*args, **kwargs)
    return info.value


def type_error(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(TypeError) as info:
        call(*args, **kwargs)
    assert not isinstance(info.value, InvalidParameterError)
    return str(info.value)


RFC_RULE = (
    "must be an RFC: 12 characters (persona moral, e.g. EKU9003173C9) or 13 "
    "(persona física, e.g. XAXX010101000) with a valid YYMMDD date"
)


@pytest.mark.parametrize(
    "raw",
    [
        "EKU9013173C9",  # month 13
        "EKU9002303C9",  # Feb 30
        "EKU9000003C9",  # month 00
        "EKU9001003C9",  # day 00
        "EKU9001323C9",  # day 32
        "AB9003173C9",  # 2 letters
        "ABCDE9003173C9",  # 5 letters
        "EKU9003173C",  # short homoclave
        "EKU9003173C9X",  # long homoclave
        "EKU90031A3C9",  # a letter in the date
        "EKU9003173C-",
        "1KU9003173C9",
        "",
    ],
)
def test_rfc_refusals_name_the_rule(raw: str) -> None:
    error = refused(v.rfc, "issuer_rfc", raw)
    assert (error.field, error.rule, error.value) == ("issuer_rfc", RFC_RULE, raw)
    assert str(error) == f"issuer_rfc: {RFC_RULE}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ÑAÑ000229AB1", "ÑAÑ000229AB1"),  # Feb 29 2000
        ("A&B960229AB1", "A&B960229AB1"),  # Feb 29 1996
        ("ABCD040229AB1", "ABCD040229AB1"),  # Feb 29 2004
        ("ABC991231XY9", "ABC991231XY9"),
        ("abc010101xy9", "ABC010101XY9"),
    ],
)
def test_rfc_leap_days_and_letters(raw: str, expected: str) -> None:
    assert v.rfc("f", raw) == expected


def test_rfc_feb_29_of_a_year_leap_in_neither_century() -> None:
    # 2100 is not a leap year, but "00" can be 1900 or 2000; "01" is neither.
    assert v.rfc("f", "ABC000229XY9") == "ABC000229XY9"
    error = refused(v.rfc, "f", "ABC010229XY9")
    assert error.rule == RFC_RULE


def test_rfc_type_error() -> None:
    assert type_error(v.rfc, "issuer_rfc", 5) == "issuer_rfc: expected a str, got int"


def test_cfdi_uuid_rules() -> None:
    u = uuid.UUID("5fb2822e-396d-4725-8521-cdc4bdd20ccf")
    assert v.cfdi_uuid("uuid", u) == "5FB2822E-396D-4725-8521-CDC4BDD20CCF"
    assert v.cfdi_uuid_as_given("uuid", u) == "5fb2822e-396d-4725-8521-cdc4bdd20ccf"
    error = refused(v.cfdi_uuid, "uuid", "5FB2822E-396D-4725-8521-CDC4BDD20CCG")
    assert (error.field, error.value) == ("uuid", "5FB2822E-396D-4725-8521-CDC4BDD20CCG")
    assert str(error) == "uuid: must be a CFDI UUID like 5FB2822E-396D-4725-8521-CDC4BDD20CCF"
    error = refused(v.cfdi_uuid_as_given, "id", "nope")
    assert error.field == "id"
    assert type_error(v.cfdi_uuid, "uuid", 5) == "uuid: expected a str, got int"
    assert type_error(v.cfdi_uuid_as_given, "uuid", 5) == "uuid: expected a str, got int"


def test_enum_value_messages() -> None:
    assert v.enum_value("rfc_type", RfcType.ISSUED, RfcType) is RfcType.ISSUED
    error = refused(v.enum_value, "rfc_type", "sent", RfcType)
    assert (error.field, error.value) == ("rfc_type", "sent")
    allowed = ", ".join(repr(m.value) for m in RfcType)
    assert str(error) == f"rfc_type: must be one of {allowed}"
    assert error.__cause__ is None
    assert error.__suppress_context__ is True
    message = type_error(v.enum_value, "rfc_type", 1, RfcType)
    assert message == f"rfc_type: expected RfcType or one of {allowed}, got int"


@pytest.mark.parametrize(("value", "ok"), [(0, False), (1, True), (100, True), (101, False)])
def test_limit_bounds_are_inclusive(value: int, ok: bool) -> None:
    if ok:
        assert v.limit("limit", value) == value
    else:
        error = refused(v.limit, "limit", value)
        assert (error.field, error.value, str(error)) == (
            "limit",
            value,
            "limit: must be between 1 and 100",
        )


@pytest.mark.parametrize(("value", "ok"), [(0, False), (1, True), (90, True), (91, False)])
def test_days_back_bounds(value: int, ok: bool) -> None:
    if ok:
        assert v.days_back("days", value) == value
    else:
        assert str(refused(v.days_back, "days", value)) == "days: must be between 1 and 90"


@pytest.mark.parametrize("bad", [True, False, 1.0, "5", None])
def test_limit_type_errors(bad: object) -> None:
    message = type_error(v.limit, "limit", bad)
    assert message == f"limit: expected an int, got {type(bad).__name__}"


def test_date_value_messages() -> None:
    assert (
        type_error(v.date_value, "from", datetime(2024, 1, 1))
        == "from: expected a date, got a datetime; pass .date() explicitly"
    )
    assert (
        type_error(v.date_value, "from", 20240101)
        == "from: expected a date or a 'YYYY-MM-DD' str, got int"
    )
    error = refused(v.date_value, "from", "2024-02-30")
    assert (error.field, error.value) == ("from", "2024-02-30")
    assert str(error) == "from: must be a real date written YYYY-MM-DD"
    assert error.__suppress_context__ is True


def test_date_range_messages_and_boundaries() -> None:
    day = date(2024, 1, 1)
    assert v.date_range("from", day, "to", day) == (day, day)
    assert v.date_range("from", None, "to", None) == (None, None)
    assert v.date_range("from", None, "to", "2024-01-02") == (None, date(2024, 1, 2))
    error = refused(v.date_range, "from", "2024-01-02", "to", "2024-01-01")
    assert (error.field, error.value) == ("to", "2024-01-01")
    assert str(error) == "to: must be on or after from (2024-01-02)"
    assert type_error(v.date_range, "from", 1, "to", None).startswith("from: ")
    assert type_error(v.date_range, "from", None, "to", 1).startswith("to: ")


def test_non_empty_str_messages() -> None:
    error = refused(v.non_empty_str, "password", " \t")
    assert (error.field, error.value, str(error)) == (
        "password",
        " \t",
        "password: must not be empty",
    )
    assert str(refused(v.non_empty_str, "password", "")) == "password: must not be empty"
    assert type_error(v.non_empty_str, "password", None) == "password: expected a str, got NoneType"


def test_phone_messages() -> None:
    assert v.phone("phone", "+52 (55) 1234.5678") == "+525512345678"
    error = refused(v.phone, "phone", "+52 55 1234 567")
    assert (error.field, error.value) == ("phone", "+52 55 1234 567")
    assert str(error) == "phone: must be a Mexican number in E.164 form, e.g. +5215512345678"
    assert type_error(v.phone, "phone", 5215512345678) == "phone: expected a str, got int"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("00:00", "00:00"), (" 23:59 ", "23:59"), ("19:05", "19:05"), (time(7, 5), "07:05")],
)
def test_schedule_time_accepts(value: object, expected: str) -> None:
    assert v.schedule_time("time", value) == expected


@pytest.mark.parametrize("value", ["24:00", "7:30", "07:60", "0730", "07:30:00", "29:00"])
def test_schedule_time_refuses_text(value: str) -> None:
    error = refused(v.schedule_time, "time", value)
    assert (error.field, error.value) == ("time", value)
    assert str(error) == "time: must be a 24-hour time HH:mm, e.g. 07:30"


@pytest.mark.parametrize("value", [time(7, 5, 1), time(7, 5, 0, 1)])
def test_schedule_time_refuses_seconds(value: time) -> None:
    error = refused(v.schedule_time, "time", value)
    assert (error.field, error.value) == ("time", value)
    assert str(error) == "time: must be a whole minute (HH:mm)"


def test_schedule_time_type_error() -> None:
    assert type_error(v.schedule_time, "time", 730) == "time: expected a str, got int"


def test_earliest_start_is_71_months_back() -> None:
    assert v.SYNC_WINDOW_MONTHS == 71
    assert v.earliest_start(date(2026, 8, 15)) == date(2020, 9, 15)


def test_check_not_future_boundary_and_message() -> None:
    v.check_not_future("end_date", TODAY, TODAY)
    error = refused(v.check_not_future, "end_date", date(2026, 8, 16), TODAY)
    assert (error.field, error.value) == ("end_date", date(2026, 8, 16))
    assert str(error) == "end_date: must not be in the future (today in Mexico City is 2026-08-15)"


def test_check_sync_window_boundary_and_message() -> None:
    v.check_sync_window("start_date", date(2020, 9, 15), TODAY)
    error = refused(v.check_sync_window, "start_date", date(2020, 9, 14), TODAY)
    assert (error.field, error.value) == ("start_date", date(2020, 9, 14))
    assert str(error) == (
        "start_date: must be on or after 2020-09-15: gigstack reaches at most 71 months back"
    )


def test_sync_start_date_uses_the_given_today_and_checks_both_ends() -> None:
    assert v.sync_start_date("sync_start_date", "2026-08-15", today=TODAY) == TODAY
    assert v.sync_start_date("sync_start_date", "2020-09-15", today=TODAY) == date(2020, 9, 15)
    future = refused(v.sync_start_date, "sync_start_date", "2026-08-16", today=TODAY)
    assert future.field == "sync_start_date"
    assert "future" in future.rule
    old = refused(v.sync_start_date, "sync_start_date", "2020-09-14", today=TODAY)
    assert old.field == "sync_start_date"
    assert old.rule.startswith("must be on or after 2020-09-15")


def test_sync_start_date_defaults_to_today_in_mexico() -> None:
    from gigstack_async._dates import today_mx

    now = today_mx()
    assert v.sync_start_date("s", now) == now
    with pytest.raises(InvalidParameterError, match="future"):
        v.sync_start_date("s", date.fromordinal(now.toordinal() + 1))


@pytest.mark.parametrize("bad", [datetime(2026, 8, 15), "2026-08-15", 5])
def test_today_must_be_a_date(bad: object) -> None:
    message = type_error(v.sync_start_date, "s", "2026-08-01", today=bad)
    assert message == f"today: expected a date, got {type(bad).__name__}"


def test_download_request_messages_and_fields() -> None:
    ok = v.download_request("2026-07-15", "2026-08-14", "received", today=TODAY)
    assert ok == v.ValidatedDownloadRequest(
        start_date=date(2026, 7, 15),
        end_date=date(2026, 8, 14),
        rfc_type=RfcType.RECEIVED,
        request_type=None,
    )
    body = ok.to_input()
    assert (body.start_date, body.end_date, body.rfc_type, body.request_type) == (
        date(2026, 7, 15),
        date(2026, 8, 14),
        RfcType.RECEIVED,
        None,
    )
    typed = v.download_request("2026-07-15", "2026-07-15", "issued", "metadata", today=TODAY)
    assert typed.request_type is RequestType("metadata")
    assert typed.to_input().request_type is RequestType("metadata")
    reversed_ = refused(v.download_request, "2026-07-02", "2026-07-01", "issued", today=TODAY)
    assert (reversed_.field, reversed_.value) == ("end_date", "2026-07-01")
    assert str(reversed_) == "end_date: must be on or after start_date (2026-07-02)"
    long = refused(v.download_request, "2026-06-15", "2026-07-15", "issued", today=TODAY)
    assert (long.field, long.value) == ("end_date", "2026-07-15")
    future = refused(v.download_request, "2026-08-15", "2026-08-16", "issued", today=TODAY)
    assert (future.field, future.value) == ("end_date", date(2026, 8, 16))
    old = refused(v.download_request, "2020-09-14", "2020-09-30", "issued", today=TODAY)
    assert (old.field, old.value) == ("start_date", date(2020, 9, 14))
    assert v.download_request("2020-09-15", "2020-09-30", "issued", today=TODAY).start_date == (
        date(2020, 9, 15)
    )
    assert v.download_request("2026-08-01", "2026-08-15", "issued", today=TODAY).end_date == TODAY
    bad_kind = refused(v.download_request, "2026-07-01", "2026-07-02", "cfdi", today=TODAY)
    assert bad_kind.field == "rfc_type"
    bad_type = refused(v.download_request, "2026-07-01", "2026-07-02", "issued", "xml", today=TODAY)
    assert bad_type.field == "request_type"
    assert type_error(v.download_request, 1, "2026-07-02", "issued", today=TODAY).startswith(
        "start_date: "
    )
    assert type_error(v.download_request, "2026-07-01", 2, "issued", today=TODAY).startswith(
        "end_date: "
    )


@pytest.mark.parametrize("value", [0, 0.0, -1, math.nan, math.inf, -math.inf])
def test_positive_seconds_refusals(value: float) -> None:
    error = refused(v.positive_seconds, "timeout", value)
    assert error.field == "timeout"
    assert error.value is value
    assert str(error) == "timeout: must be a finite, positive number of seconds"


@pytest.mark.parametrize("bad", [True, "5", None])
def test_positive_seconds_type_errors(bad: object) -> None:
    message = type_error(v.positive_seconds, "timeout", bad)
    assert message == f"timeout: expected a number of seconds, got {type(bad).__name__}"


def test_positive_seconds_accepts_and_returns_float() -> None:
    assert v.positive_seconds("t", 5) == 5.0
    assert type(v.positive_seconds("t", 5)) is float
    assert v.positive_seconds("t", 1e-9) == 1e-9


@pytest.mark.parametrize("raw", ["ABC020229XY9", "ABC030229XY9", "ABC010229XY9", "ABC990229XY9"])
def test_feb_29_needs_a_leap_year_in_one_of_the_two_centuries(raw: str) -> None:
    # 02, 03, 01, 99: neither 19yy nor 20yy is a leap year.
    assert refused(v.rfc, "rfc", raw).rule == RFC_RULE


def test_sync_start_date_names_its_field_on_a_bad_string() -> None:
    error = refused(v.sync_start_date, "sync_start_date", "2024-13-01", today=TODAY)
    assert (error.field, error.value) == ("sync_start_date", "2024-13-01")
