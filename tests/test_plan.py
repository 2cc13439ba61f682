"""The month planner and the Mexico City calendar helpers it stands on."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest

from gigstack_async import _dates
from gigstack_async._dates import add_months, month_end, parse_date, parse_month, today_mx
from gigstack_async._generated.models import DownloadRequest, RequestType, RfcType
from gigstack_async._validation import download_request
from gigstack_async.bulk import DownloadPlan, MonthSlot, PlanCriteria, plan_months
from gigstack_async.errors import InvalidParameterError

TODAY = date(2026, 8, 15)


def plan(start: date | str, end: date | str, **kw: object) -> DownloadPlan:
    kw.setdefault("rfc_type", "received")
    kw.setdefault("request_type", "cfdi")
    kw.setdefault("today", TODAY)
    return plan_months(start, end, **kw)  # type: ignore[arg-type]


def windows(p: DownloadPlan) -> list[tuple[str, str, str]]:
    return [(s.key, s.start_date.isoformat(), s.end_date.isoformat()) for s in p]


# ------------------------------------------------------------------ calendar helpers


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 3, 31), 1, date(2024, 4, 30)),
        (date(2024, 11, 15), 2, date(2025, 1, 15)),
        (date(2024, 1, 15), -1, date(2023, 12, 15)),
        (date(2026, 8, 31), -71, date(2020, 9, 30)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
    ],
)
def test_add_months_clamps_the_day(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_month_end_knows_leap_years() -> None:
    assert month_end(date(2024, 2, 3)) == date(2024, 2, 29)
    assert month_end(date(2100, 2, 3)) == date(2100, 2, 28)
    assert month_end(date(2024, 12, 31)) == date(2024, 12, 31)


def test_parsers_are_strict() -> None:
    assert parse_date(" 2024-02-29 ") == date(2024, 2, 29)
    assert parse_month("2024-02") == date(2024, 2, 1)
    for bad in ("20240229", "2024-02-30", "2024-W09-4", "2024-02-29T00:00"):
        with pytest.raises(ValueError, match="2024"):
            parse_date(bad)
    for bad in ("2024-13", "2024-2", "202402", "2024-00"):
        with pytest.raises(ValueError, match="20"):
            parse_month(bad)


def test_today_is_mexico_city_today() -> None:
    # 03:00 UTC on Mar 1 is still Feb 29 in Mexico City (UTC-6).
    assert today_mx(datetime(2024, 3, 1, 3, 0, tzinfo=UTC)) == date(2024, 2, 29)
    assert today_mx(datetime(2024, 3, 1, 7, 0, tzinfo=UTC)) == date(2024, 3, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        today_mx(datetime(2024, 3, 1, 3, 0))


def test_without_tz_database_mexico_city_is_fixed_utc_minus_6(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(key: str) -> zoneinfo.ZoneInfo:
        raise zoneinfo.ZoneInfoNotFoundError(key)

    monkeypatch.setattr(_dates, "ZoneInfo", missing)
    fallback = _dates._mexico_city()
    assert fallback.utcoffset(None) == timedelta(hours=-6)
    # No DST since 2022: a July night gives the same answer as the real zone.
    july = datetime(2025, 7, 1, 5, 30, tzinfo=UTC)
    assert july.astimezone(fallback).date() == date(2025, 6, 30)


# ------------------------------------------------------------------ planning


def test_whole_months_from_month_strings() -> None:
    p = plan("2023-11", "2024-02")
    assert windows(p) == [
        ("2023-11", "2023-11-01", "2023-11-30"),
        ("2023-12", "2023-12-01", "2023-12-31"),
        ("2024-01", "2024-01-01", "2024-01-31"),
        ("2024-02", "2024-02-01", "2024-02-29"),
    ]
    assert not p.clipped_end
    assert p.criteria == PlanCriteria(RfcType.RECEIVED, RequestType.CFDI)
    assert all(s.rfc_type is RfcType.RECEIVED and s.request_type is RequestType.CFDI for s in p)


def test_partial_first_and_last_months() -> None:
    p = plan(date(2024, 1, 15), "2024-03-10")
    assert windows(p) == [
        ("2024-01", "2024-01-15", "2024-01-31"),
        ("2024-02", "2024-02-01", "2024-02-29"),
        ("2024-03", "2024-03-01", "2024-03-10"),
    ]


def test_single_day_and_single_month() -> None:
    assert windows(plan("2024-05-07", "2024-05-07")) == [("2024-05", "2024-05-07", "2024-05-07")]
    assert windows(plan("2024-05", "2024-05")) == [("2024-05", "2024-05-01", "2024-05-31")]


def test_future_end_is_clipped_to_mexico_city_today() -> None:
    p = plan("2026-07", "2026-12")
    assert windows(p) == [
        ("2026-07", "2026-07-01", "2026-07-31"),
        ("2026-08", "2026-08-01", "2026-08-15"),
    ]
    assert p.clipped_end
    assert p.requested_end == date(2026, 12, 31)
    assert p.end_date == TODAY
    assert "2026-12-31 is in the future" in p.describe()


def test_future_start_is_refused() -> None:
    with pytest.raises(InvalidParameterError) as info:
        plan("2026-08-16", "2026-09-30")
    assert info.value.field == "start"
    assert "future" in info.value.rule


def test_start_older_than_71_months_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(InvalidParameterError) as info:
        plan("2020-09", "2021-12")  # the window starts 2020-09-15
    assert info.value.field == "start"
    assert "2020-09-15" in info.value.rule
    assert windows(plan("2020-09-15", "2020-10"))[0] == ("2020-09", "2020-09-15", "2020-09-30")


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2024-03", "2024-02", "end"),
        ("2024-13", "2024-12", "start"),
        ("2024-1", "2024-12", "start"),
        ("2024-01", "31/12/2024", "end"),
    ],
)
def test_bad_bounds_name_the_argument(start: str, end: str, field: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        plan(start, end)
    assert info.value.field == field


def test_bad_criteria_and_types() -> None:
    with pytest.raises(InvalidParameterError, match=r"^rfc_type: must be one of"):
        plan("2024-01", "2024-02", rfc_type="emitidos")
    with pytest.raises(InvalidParameterError, match=r"^request_type: must be one of"):
        plan("2024-01", "2024-02", request_type="xml")
    with pytest.raises(TypeError, match="start"):
        plan(datetime(2024, 1, 1), "2024-02")
    with pytest.raises(TypeError, match="today"):
        plan("2024-01", "2024-02", today=datetime(2026, 1, 1))


def test_every_slot_is_a_valid_request_and_slots_tile_the_period() -> None:
    for start_offset in range(0, 400, 37):
        for length in (0, 1, 29, 30, 31, 59, 365, 800):
            start = date(2021, 1, 1) + timedelta(days=start_offset)
            end = min(start + timedelta(days=length), TODAY)
            p = plan(start, end)
            assert p.slots[0].start_date == start
            assert p.slots[-1].end_date == end
            for before, after in zip(p.slots, p.slots[1:], strict=False):
                assert after.start_date == before.end_date + timedelta(days=1)
            for s in p:
                download_request(s.start_date, s.end_date, s.rfc_type, s.request_type, today=TODAY)
                assert s.key == s.start_date.strftime("%Y-%m") == s.end_date.strftime("%Y-%m")


def test_fingerprint_is_stable_and_distinguishes_criteria() -> None:
    a = plan("2024-01", "2024-01").slots[0]
    assert a.fingerprint == "received:cfdi:2024-01-01:2024-01-31"
    assert plan("2024-01", "2024-01").slots[0].fingerprint == a.fingerprint
    other = plan("2024-01", "2024-01", request_type="metadata").slots[0]
    assert other.fingerprint == "received:metadata:2024-01-01:2024-01-31"


def test_describe_shows_one_line_per_month() -> None:
    p = plan("2024-01-15", "2024-03", rfc_type="issued", request_type="metadata")
    assert str(p) == p.describe()
    assert p.describe().splitlines() == [
        "3 monthly requests, issued metadata, 2024-01-15 to 2024-03-31:",
        "  2024-01  2024-01-15 to 2024-01-31  (partial month)",
        "  2024-02  2024-02-01 to 2024-02-29",
        "  2024-03  2024-03-01 to 2024-03-31",
    ]


def test_slot_lookup() -> None:
    p = plan("2024-01", "2024-03")
    assert p.slot("2024-02").start_date == date(2024, 2, 1)
    assert len(p) == 3
    with pytest.raises(KeyError):
        p.slot("2024-04")


# ------------------------------------------------------------------ matching history entries


SLOT = MonthSlot(
    key="2024-01",
    start_date=date(2024, 1, 1),
    end_date=date(2024, 1, 31),
    rfc_type=RfcType.RECEIVED,
    request_type=RequestType.CFDI,
)


def history(**kw: object) -> DownloadRequest:
    fields: dict[str, object] = {
        "id": "req_1",
        "rfc_type": RfcType.RECEIVED,
        "start_date": "2024-01-01",
        "end_date": "2024-01-31",
    }
    fields.update(kw)
    return DownloadRequest(**fields)  # type: ignore[arg-type]


def test_history_entry_matches_on_dates_and_rfc_type() -> None:
    assert SLOT.matches(history())
    assert SLOT.matches(history(request_type=RequestType.CFDI))
    assert SLOT.matches(history(start_date="2024-01-01T00:00:00", end_date="2024-01-31T23:59:59"))


@pytest.mark.parametrize(
    "changes",
    [
        {"rfc_type": RfcType.ISSUED},
        {"rfc_type": None},
        {"request_type": RequestType.METADATA},
        {"start_date": "2024-01-02"},
        {"end_date": "2024-01-30"},
        {"end_date": None},
        {"start_date": "01/01/2024"},
    ],
)
def test_history_entry_does_not_match(changes: dict[str, object]) -> None:
    assert not SLOT.matches(history(**changes))
