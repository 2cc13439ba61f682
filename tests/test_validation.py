"""Argument validation: bad input fails before any request, naming the argument and the rule."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time

import pytest

from gigstack_async import _validation as v
from gigstack_async._generated.models import (
    DownloadRequestInput,
    InvoiceType,
    RequestType,
    RfcType,
)
from gigstack_async.errors import GigstackError, InvalidParameterError

TODAY = date(2026, 8, 15)


def test_invalid_parameter_error_is_a_value_error_naming_field_and_rule() -> None:
    with pytest.raises(InvalidParameterError) as info:
        v.limit("limit", 0)
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, GigstackError)
    assert (err.field, err.value) == ("limit", 0)
    assert str(err) == "limit: must be between 1 and 100"


# ------------------------------------------------------------------ RFC


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("EKU9003173C9", "EKU9003173C9"),  # persona moral, 12
        ("XAXX010101000", "XAXX010101000"),  # persona física (generic), 13
        ("  eku9003173c9\n", "EKU9003173C9"),
        ("ñañ800229AB1", "ÑAÑ800229AB1"),  # Ñ allowed; Feb 29 of a leap year
        ("A&B991231XY9", "A&B991231XY9"),
    ],
)
def test_rfc_accepts_and_normalizes(raw: str, expected: str) -> None:
    assert v.rfc("issuer_rfc", raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "EKU9003173C",  # 11 characters
        "EKUU99003173C9",  # 14 characters
        "EK19003173C9",  # digit in the letter part
        "EKU900317-3C9",
        "EKU9013173C9",  # month 13
        "EKU9002303C9",  # Feb 30
        "EKU9003173C9\n\nX",
        "EKU٩٠٠٣١٧3C9",  # non-ASCII digits
    ],
)
def test_rfc_rejects_malformed(raw: str) -> None:
    with pytest.raises(InvalidParameterError, match=r"^receiver_rfc: must be an RFC"):
        v.rfc("receiver_rfc", raw)


def test_rfc_wrong_type_is_type_error_naming_field() -> None:
    with pytest.raises(TypeError, match="issuer_rfc"):
        v.rfc("issuer_rfc", 12345)


# ------------------------------------------------------------------ UUID


def test_cfdi_uuid_normalizes_to_upper_case() -> None:
    raw = " 5fb2822e-396d-4725-8521-cdc4bdd20ccf "
    assert v.cfdi_uuid("uuid", raw) == "5FB2822E-396D-4725-8521-CDC4BDD20CCF"
    parsed = uuid.UUID("5fb2822e-396d-4725-8521-cdc4bdd20ccf")
    assert v.cfdi_uuid("uuid", parsed) == "5FB2822E-396D-4725-8521-CDC4BDD20CCF"


def test_cfdi_uuid_as_given_keeps_the_callers_case() -> None:
    raw = " 5fb2822e-396d-4725-8521-CDC4BDD20CCF "
    assert v.cfdi_uuid_as_given("uuid", raw) == "5fb2822e-396d-4725-8521-CDC4BDD20CCF"
    parsed = uuid.UUID("5FB2822E-396D-4725-8521-CDC4BDD20CCF")
    assert v.cfdi_uuid_as_given("uuid", parsed) == "5fb2822e-396d-4725-8521-cdc4bdd20ccf"
    with pytest.raises(InvalidParameterError, match=r"^uuid: must be a CFDI UUID"):
        v.cfdi_uuid_as_given("uuid", "5fb2822e396d47258521cdc4bdd20ccf")
    with pytest.raises(TypeError, match="uuid"):
        v.cfdi_uuid_as_given("uuid", 5)


@pytest.mark.parametrize(
    "raw",
    [
        "5fb2822e396d47258521cdc4bdd20ccf",  # no dashes
        "{5fb2822e-396d-4725-8521-cdc4bdd20ccf}",
        "5fb2822e-396d-4725-8521-cdc4bdd20cc",
        "zfb2822e-396d-4725-8521-cdc4bdd20ccf",
    ],
)
def test_cfdi_uuid_rejects_other_shapes(raw: str) -> None:
    with pytest.raises(InvalidParameterError, match=r"^uuid: must be a CFDI UUID"):
        v.cfdi_uuid("uuid", raw)


# ------------------------------------------------------------------ enums


def test_enum_value_accepts_member_or_string() -> None:
    assert v.enum_value("rfc_type", RfcType.ISSUED, RfcType) is RfcType.ISSUED
    assert v.enum_value("rfc_type", "received", RfcType) is RfcType.RECEIVED
    assert v.enum_value("invoice_type", "P", InvoiceType) is InvoiceType.PAGO


def test_enum_value_unknown_lists_allowed_values() -> None:
    with pytest.raises(InvalidParameterError) as info:
        v.enum_value("request_type", "xml", RequestType)
    assert str(info.value) == "request_type: must be one of 'metadata', 'cfdi'"


def test_enum_value_wrong_type() -> None:
    with pytest.raises(TypeError, match="rfc_type"):
        v.enum_value("rfc_type", 1, RfcType)


# ------------------------------------------------------------------ numbers


def test_limit_range_and_types() -> None:
    assert v.limit("limit", 1) == 1
    assert v.limit("limit", 100) == 100
    with pytest.raises(InvalidParameterError, match="between 1 and 100"):
        v.limit("limit", 101)
    with pytest.raises(TypeError, match="limit"):
        v.limit("limit", True)
    with pytest.raises(TypeError, match="limit"):
        v.limit("limit", "10")
    with pytest.raises(TypeError, match="limit"):
        v.limit("limit", 10.0)


def test_days_back_is_1_to_90() -> None:
    assert v.days_back("days_back", 90) == 90
    with pytest.raises(InvalidParameterError, match=r"^days_back: must be between 1 and 90$"):
        v.days_back("days_back", 91)
    with pytest.raises(InvalidParameterError):
        v.days_back("days_back", 0)


# ------------------------------------------------------------------ dates


def test_date_value_accepts_date_and_iso_string() -> None:
    assert v.date_value("from", date(2024, 1, 31)) == date(2024, 1, 31)
    assert v.date_value("from", "2024-01-31") == date(2024, 1, 31)


def test_date_value_refuses_datetime_with_a_hint() -> None:
    with pytest.raises(TypeError, match=r"from: expected a date, got a datetime; pass \.date\(\)"):
        v.date_value("from", datetime(2024, 1, 31, 12, 0))


@pytest.mark.parametrize("raw", ["2024-02-30", "20240131", "2024-1-31", "31/01/2024", ""])
def test_date_value_rejects_bad_strings(raw: str) -> None:
    with pytest.raises(InvalidParameterError, match=r"^to: must be a real date written YYYY-MM-DD"):
        v.date_value("to", raw)


def test_date_range() -> None:
    assert v.date_range("from", "2024-01-01", "to", "2024-01-01") == (
        date(2024, 1, 1),
        date(2024, 1, 1),
    )
    assert v.date_range("from", None, "to", "2024-01-01") == (None, date(2024, 1, 1))
    with pytest.raises(
        InvalidParameterError, match=r"^to: must be on or after from \(2024-02-01\)"
    ):
        v.date_range("from", "2024-02-01", "to", "2024-01-31")


# ------------------------------------------------------------------ download_request


def test_download_request_full_month() -> None:
    req = v.download_request("2024-01-01", "2024-01-31", "received", "cfdi", today=TODAY)
    assert req.start_date == date(2024, 1, 1)
    assert req.end_date == date(2024, 1, 31)
    assert req.rfc_type is RfcType.RECEIVED
    assert req.request_type is RequestType.CFDI
    assert req.to_input() == DownloadRequestInput(
        start_date=date(2024, 1, 1),
        end_date=date(2024, 1, 31),
        rfc_type=RfcType.RECEIVED,
        request_type=RequestType.CFDI,
    )


@pytest.mark.parametrize(
    ("start", "last_allowed"),
    [
        ("2024-01-01", "2024-01-31"),
        ("2024-01-15", "2024-02-14"),
        ("2024-01-31", "2024-02-28"),  # Jan 31 + 1 month = Feb 29, minus a day
        ("2023-01-31", "2023-02-27"),  # Jan 31 + 1 month = Feb 28, minus a day
        ("2023-12-10", "2024-01-09"),
        ("2024-02-29", "2024-03-28"),
    ],
)
def test_download_request_one_month_boundary(start: str, last_allowed: str) -> None:
    assert v.download_request(
        start, last_allowed, "issued", today=TODAY
    ).end_date == date.fromisoformat(last_allowed)
    too_far = date.fromisoformat(last_allowed).toordinal() + 1
    with pytest.raises(InvalidParameterError, match=r"^end_date: range must be at most one month"):
        v.download_request(start, date.fromordinal(too_far), "issued", today=TODAY)


def test_download_request_single_day_is_valid_but_reversed_is_not() -> None:
    assert v.download_request("2024-03-05", "2024-03-05", "issued", today=TODAY)
    with pytest.raises(InvalidParameterError, match=r"^end_date: must be on or after start_date"):
        v.download_request("2024-03-05", "2024-03-04", "issued", today=TODAY)


def test_download_request_end_not_in_future() -> None:
    assert v.download_request("2026-08-01", "2026-08-15", "issued", today=TODAY)
    with pytest.raises(
        InvalidParameterError,
        match=r"^end_date: must not be in the future \(today in Mexico City is 2026-08-15\)",
    ):
        v.download_request("2026-08-01", "2026-08-16", "issued", today=TODAY)


def test_download_request_start_within_71_months() -> None:
    # 71 months before 2026-08-15 is 2020-09-15.
    assert v.download_request("2020-09-15", "2020-09-30", "issued", today=TODAY)
    with pytest.raises(InvalidParameterError) as info:
        v.download_request("2020-09-14", "2020-09-30", "issued", today=TODAY)
    assert info.value.field == "start_date"
    assert "on or after 2020-09-15" in info.value.rule
    assert "71 months" in info.value.rule


def test_download_request_enums() -> None:
    assert (
        v.download_request("2024-01-01", "2024-01-31", "issued", today=TODAY).request_type is None
    )
    with pytest.raises(
        InvalidParameterError, match=r"^rfc_type: must be one of 'issued', 'received'"
    ):
        v.download_request("2024-01-01", "2024-01-31", "emitidos", today=TODAY)
    with pytest.raises(InvalidParameterError, match=r"^request_type: must be one of"):
        v.download_request("2024-01-01", "2024-01-31", "issued", "xml", today=TODAY)


def test_download_request_types() -> None:
    with pytest.raises(TypeError, match="start_date"):
        v.download_request(datetime(2024, 1, 1), "2024-01-31", "issued", today=TODAY)
    with pytest.raises(TypeError, match="today"):
        v.download_request("2024-01-01", "2024-01-31", "issued", today=datetime(2026, 1, 1))


def test_sync_start_date_window() -> None:
    assert v.sync_start_date("sync_start_date", "2020-09-15", today=TODAY) == date(2020, 9, 15)
    with pytest.raises(InvalidParameterError, match=r"^sync_start_date: must be on or after"):
        v.sync_start_date("sync_start_date", "2020-09-14", today=TODAY)
    with pytest.raises(InvalidParameterError, match=r"^sync_start_date: must not be in the future"):
        v.sync_start_date("sync_start_date", "2026-08-16", today=TODAY)


# ------------------------------------------------------------------ setup endpoints


def test_non_empty_str_keeps_value_unchanged() -> None:
    assert v.non_empty_str("password", " s3cret ") == " s3cret "
    with pytest.raises(InvalidParameterError, match=r"^password: must not be empty$"):
        v.non_empty_str("password", "   ")
    with pytest.raises(TypeError, match="password"):
        v.non_empty_str("password", b"bytes")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+5215512345678", "+5215512345678"),
        ("+525512345678", "+525512345678"),
        ("+52 (55) 1234-5678", "+525512345678"),
    ],
)
def test_phone_accepts_mexican_e164(raw: str, expected: str) -> None:
    assert v.phone("phone", raw) == expected


@pytest.mark.parametrize(
    "raw", ["5512345678", "+1 555 123 4567", "+52551234567", "+52 55 1234 56789"]
)
def test_phone_rejects_others(raw: str) -> None:
    with pytest.raises(InvalidParameterError, match=r"^phone: must be a Mexican number"):
        v.phone("phone", raw)


def test_schedule_time() -> None:
    assert v.schedule_time("time", "00:00") == "00:00"
    assert v.schedule_time("time", "23:59") == "23:59"
    assert v.schedule_time("time", time(7, 5)) == "07:05"
    for bad in ("24:00", "7:30", "07:60", "07:30:00"):
        with pytest.raises(InvalidParameterError, match=r"^time: must be a 24-hour time HH:mm"):
            v.schedule_time("time", bad)
    with pytest.raises(InvalidParameterError, match="whole minute"):
        v.schedule_time("time", time(7, 5, 30))
