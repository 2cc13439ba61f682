"""The status answer for a month's request: its criteria read in the month's terms, and what it
may (and may not) prove before a package is downloaded.

Review 9m #8 as pure decisions. The status body is NOT FOUND in the docs, so its dates' format
is a GUESS (`StatusSeen.starts`/`ends`: every date a value may mean); an answer carrying all
of the month's criteria checks an unchecked request (its packages are then downloaded), one
that differs shows another request under the same id (nothing is downloaded), and a history
entry that listed the request in this run is never overruled by it. Direct calls, no engine or
server: `make mutate` runs this file for every mutant of `bulk/machine.py`.
"""

from __future__ import annotations

from datetime import date

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import (
    FetchPackage,
    HistorySeen,
    KnownRequest,
    Seen,
    Stage,
    Start,
    StatusSeen,
    Warn,
)

JAN1, JAN31 = date(2024, 1, 1), date(2024, 1, 31)
DEC31, FEB1, FEB29 = date(2023, 12, 31), date(2024, 2, 1), date(2024, 2, 29)
JAN = m.MonthState("2024-01", JAN1, JAN31, "received", "cfdi")
# Another month's request, recorded by this month's journal (it must never be taken for R1's).
R0 = KnownRequest("R0", FEB1, FEB29, "received", "cfdi", final="completed")
WAITING = attrs.evolve(
    JAN, stage=Stage.PROCESSING, request_id="R1", known_ids=("R0", "R1"), records=(R0,)
)
FULL = Seen("R1", "completed", "received", "cfdi", JAN1, JAN31, 3, ("P1",))


def month(**changes: object) -> m.MonthState:
    return attrs.evolve(WAITING, **changes)  # type: ignore[arg-type]


# ------------------------------------------------------------------ status_criteria


@pytest.mark.parametrize(
    ("starts", "ends", "given", "read"),
    [
        # no readings: the dates as given
        (None, None, (JAN1, JAN31), (JAN1, JAN31)),
        (None, None, (None, None), (None, None)),
        # a value that may mean the month's own date is the month's (an instant read in UTC and
        # in Mexico City), wherever it is among the readings
        ((DEC31, JAN1), (JAN31, FEB1), (None, None), (JAN1, JAN31)),
        ((JAN1, DEC31), (FEB1, JAN31), (None, None), (JAN1, JAN31)),
        # one that can only mean another date is that date: its first reading
        ((FEB1, date(2024, 2, 2)), (FEB29, date(2024, 3, 1)), (None, None), (FEB1, FEB29)),
        # unreadable: unknown, never a mismatch
        ((), (), (JAN1, JAN31), (None, None)),
    ],
)
def test_status_dates_are_read_in_the_months_terms(
    starts: tuple[date, ...] | None,
    ends: tuple[date, ...] | None,
    given: tuple[date | None, date | None],
    read: tuple[date | None, date | None],
) -> None:
    seen = attrs.evolve(FULL, start=given[0], end=given[1])
    out = m.status_criteria(WAITING, StatusSeen(seen, starts=starts, ends=ends))
    assert (out.start, out.end) == read
    assert attrs.evolve(out, start=given[0], end=given[1]) == seen  # nothing else changes


def test_a_status_with_a_misread_start_and_an_exact_end_is_read_per_date() -> None:
    out = m.status_criteria(WAITING, StatusSeen(FULL, starts=(DEC31, JAN1), ends=None))
    assert (out.start, out.end) == (JAN1, JAN31)
    out = m.status_criteria(WAITING, StatusSeen(FULL, starts=None, ends=(JAN31, FEB1)))
    assert (out.start, out.end) == (JAN1, JAN31)


# ------------------------------------------------------------------ an unchecked request


def test_a_status_with_all_the_months_criteria_checks_the_request_and_downloads() -> None:
    state, commands = m.transition(month(misses=1), StatusSeen(FULL))
    assert commands == (FetchPackage("P1", 1),)
    assert (state.stage, state.checked, state.typed) == (Stage.COMPLETED, True, True)
    # What it showed is recorded: a later answer under R1 with other criteria is another request.
    # (a status answer's own status is no finished state recorded for it)
    assert state.records == (R0, KnownRequest("R1", JAN1, JAN31, "received", "cfdi"))


def test_a_checked_status_with_no_cfdis_ends_the_month_empty() -> None:
    seen = attrs.evolve(FULL, invoice_count=0, package_ids=())
    state, commands = m.transition(month(), StatusSeen(seen))
    assert (state.stage, state.reason, commands) == (Stage.EMPTY, "SAT found no CFDIs", ())


@pytest.mark.parametrize("missing", ["rfc_type", "request_type", "start", "end"])
def test_a_status_missing_a_criterion_proves_nothing(missing: str) -> None:
    seen = attrs.evolve(FULL, **{missing: None})  # type: ignore[arg-type]
    state, commands = m.transition(month(), StatusSeen(seen))
    assert (state, commands) == (month(), ())  # the history may still check it this run


def test_a_status_missing_a_criterion_of_a_checked_request_still_downloads() -> None:
    seen = attrs.evolve(FULL, request_type=None)
    state, commands = m.transition(month(checked=True), StatusSeen(seen))
    assert commands == (FetchPackage("P1", 1),)
    assert state.records == (R0,)  # nothing shown to remember of a partial answer


def test_a_status_for_another_period_is_another_request_and_downloads_nothing() -> None:
    seen = attrs.evolve(FULL, start=FEB1, end=FEB29)
    state, commands = m.transition(month(checked=True), StatusSeen(seen))
    reason = (
        "the server's request R1 is for received cfdi 2024-02-01..2024-02-29, not this month "
        "(request ids may have been reused)"
    )
    assert (state.stage, state.reason) == (Stage.NEEDS_ATTENTION, reason)
    assert commands == (Warn(f"2024-01: {reason}"),)


def test_a_status_whose_criteria_contradict_the_record_is_another_request() -> None:
    # Recorded as a metadata request earlier: an answer saying cfdi is another request.
    record = KnownRequest("R1", JAN1, JAN31, "received", "metadata")
    state, commands = m.transition(month(records=(R0, record)), StatusSeen(FULL))
    assert state.stage is Stage.NEEDS_ATTENTION
    assert state.reason == (
        "the server's request R1 is reported with requestType cfdi, not metadata: it is another "
        "request under the same id (the server's request ids restarted)"
    )
    assert commands == (Warn("2024-01: request R1 now names another request"),)


def test_a_status_pending_after_completion_is_not_read_as_another_request() -> None:
    # A status answer's own status is watched, not compared with the record's finished state
    # (only its criteria are): the month keeps waiting for its package, nothing else.
    record = KnownRequest("R1", JAN1, JAN31, "received", "cfdi", final="completed")
    completed = month(stage=Stage.COMPLETED, records=(R0, record), package_ids=("P1",))
    seen = attrs.evolve(FULL, status="processing")
    state, commands = m.transition(completed, StatusSeen(seen))
    assert (state.stage, commands) == (Stage.COMPLETED, ())


def test_an_unchecked_status_with_a_recorded_but_unlisted_request_is_compared() -> None:
    # Recorded by an earlier run, not listed by a history in this one: the status answer's
    # dates are compared, not overruled.
    record = KnownRequest("R1", JAN1, JAN31, "received", None)
    seen = attrs.evolve(FULL, start=FEB1, end=FEB29)
    state, _ = m.transition(month(records=(R0, record)), StatusSeen(seen))
    assert state.stage is Stage.NEEDS_ATTENTION


# ------------------------------------------------------------------ listed by the history


def listed_in_this_run() -> m.MonthState:
    """A month whose request the history listed in this run with its dates and rfcType (a
    documented history omits requestType)."""
    state, _ = m.transition(month(stage=Stage.SUBMITTED), Start())
    entry = Seen("R1", "processing", "received", None, JAN1, JAN31)
    state, _ = m.transition(state, HistorySeen((entry,)))
    assert (state.listed, state.checked, state.stage) == ("R1", True, Stage.PROCESSING)
    return state


def test_a_status_never_overrules_the_criteria_a_history_entry_showed() -> None:
    # Its dates and rfcType misread (a GUESS format): the history's entry shows them.
    seen = attrs.evolve(FULL, rfc_type="issued", start=FEB1, end=FEB29)
    state, commands = m.transition(listed_in_this_run(), StatusSeen(seen))
    assert commands == (FetchPackage("P1", 1),)
    assert state.stage is Stage.COMPLETED


@pytest.mark.parametrize("field", ["rfc_type", "start", "end"])
def test_each_criterion_the_history_showed_overrules_the_status(field: str) -> None:
    wrong = {"rfc_type": "issued", "start": FEB1, "end": FEB29}[field]
    seen = attrs.evolve(FULL, **{field: wrong})  # type: ignore[arg-type]
    _, commands = m.transition(listed_in_this_run(), StatusSeen(seen))
    assert commands == (FetchPackage("P1", 1),)


def test_the_request_type_the_history_left_out_is_the_status_answers_to_tell() -> None:
    seen = attrs.evolve(FULL, request_type="metadata")
    state, commands = m.transition(listed_in_this_run(), StatusSeen(seen))
    assert state.stage is Stage.NEEDS_ATTENTION
    assert state.reason == (
        "the server's request R1 is for received metadata 2024-01-01..2024-01-31, not this "
        "month (request ids may have been reused)"
    )
    assert commands == (Warn(f"2024-01: {state.reason}"),)


def test_a_status_never_overrules_the_request_type_a_history_entry_showed() -> None:
    state, _ = m.transition(month(stage=Stage.SUBMITTED), Start())
    entry = Seen("R1", "processing", "received", "cfdi", JAN1, JAN31)
    state, _ = m.transition(state, HistorySeen((entry,)))
    seen = attrs.evolve(FULL, request_type="metadata")  # a GUESS body, misread
    state, commands = m.transition(state, StatusSeen(seen))
    assert commands == (FetchPackage("P1", 1),)
    assert state.stage is Stage.COMPLETED
