"""The bulk journal: a crashed or cancelled run resumes without submitting a month twice."""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gigstack_async._generated.models import DownloadRequestState
from gigstack_async.bulk import (
    DownloadPlan,
    Journal,
    JournalCorruptError,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    JournalStateError,
    Phase,
    plan_months,
)
from gigstack_async.bulk import journal as journal_module
from gigstack_async.errors import InvalidParameterError

TODAY = date(2026, 8, 15)
SHA_A = "a" * 64
SHA_B = "B" * 64


def make_plan(start: str = "2024-01", end: str = "2024-03", **kw: str) -> DownloadPlan:
    return plan_months(
        start,
        end,
        rfc_type=kw.get("rfc_type", "received"),
        request_type=kw.get("request_type", "cfdi"),
        today=TODAY,
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "run.journal.json"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    with Journal.open(path, make_plan()) as j:
        yield j


def keys(entries: list[journal_module.MonthEntry]) -> list[str]:
    return [e.key for e in entries]


def reopened(j: Journal) -> Journal:
    """Simulate a restart: drop the lock, load the file again."""
    j.close()
    return Journal.open(j.path)


def test_new_journal_is_on_disk_with_every_month_planned(journal: Journal, path: Path) -> None:
    document = json.loads(path.read_text("utf-8"))
    assert document["format"] == "gigstack-async/bulk-journal"
    assert document["version"] == 1
    assert document["criteria"] == {"rfc_type": "received", "request_type": "cfdi"}
    assert list(document["months"]) == ["2024-01", "2024-02", "2024-03"]
    assert document["months"]["2024-02"]["fingerprint"] == "received:cfdi:2024-02-01:2024-02-29"
    assert keys(journal.needs_submission()) == ["2024-01", "2024-02", "2024-03"]
    assert journal.unknown_outcomes() == journal.open_requests() == journal.needs_download() == []


def test_full_lifecycle(journal: Journal) -> None:
    key = "2024-01"
    e = journal.record_intent(key)
    assert (e.phase, e.attempts, e.request_id) == (Phase.SUBMITTING, 1, None)
    assert keys(journal.needs_submission()) == ["2024-02", "2024-03"]

    e = journal.record_submitted(key, "req_1", duplicate=False)
    assert (e.phase, e.request_id, e.duplicate) == (Phase.SUBMITTED, "req_1", False)
    assert keys(journal.open_requests()) == [key]

    e = journal.record_state(key, DownloadRequestState.PROCESSING)
    assert (e.phase, e.sat_state) == (Phase.SUBMITTED, "processing")

    e = journal.record_state(
        key, "completed", invoice_count=12, package_ids=["req_1_01", "req_1_02"]
    )
    assert e.phase is Phase.COMPLETED
    assert e.invoice_count == 12
    assert e.finished_at is not None
    assert keys(journal.needs_download()) == [key]
    assert journal.open_requests() == []

    journal.record_package(key, "req_1_01", SHA_A, ["cfdi/2024-01/A.xml"])
    with pytest.raises(JournalStateError, match="req_1_02"):
        journal.record_downloaded(key)
    e = journal.record_package(key, "req_1_02", SHA_B, ["cfdi/2024-01/B.xml", "cfdi/2024-01/C.xml"])
    assert e.packages[1].sha256 == "b" * 64  # stored lower-case
    assert e.missing_packages == ()

    e = journal.record_downloaded(key)
    assert e.phase is Phase.DOWNLOADED
    assert e.downloaded_at is not None
    assert journal.needs_download() == []
    assert journal.counts()[Phase.DOWNLOADED] == 1
    assert not journal.finished


def test_reopening_after_each_phase_restores_exactly_the_state(path: Path) -> None:
    j = Journal.open(path, make_plan())
    steps: list[Callable[[], object]] = [
        lambda: j.record_intent("2024-02"),
        lambda: j.record_submitted("2024-02", "req_2", duplicate=True),
        lambda: j.record_state("2024-02", "accepted", message="Solicitud aceptada"),
        lambda: j.record_state("2024-02", "completed", invoice_count=1, package_ids=["req_2_01"]),
        lambda: j.record_package("2024-02", "req_2_01", SHA_A, ["x/ü.xml"]),
        lambda: j.record_downloaded("2024-02"),
        lambda: j.record_intent("2024-03"),
        lambda: j.record_failed("2024-03", "HTTP 400 [validation_failed]: bad range"),
        lambda: j.reset("2024-03"),
    ]
    for step in steps:
        step()
        before = j.entries()
        j = reopened(j)
        assert j.entries() == before
    assert j.entry("2024-02").duplicate is True
    assert j.entry("2024-02").packages[0].files == ("x/ü.xml",)
    j.close()


def test_failed_write_leaves_previous_file_and_no_temp_file(
    journal: Journal, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal.record_intent("2024-01")
    before = path.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError("disk unplugged")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk unplugged"):
        journal.record_submitted("2024-01", "req_1")
    with pytest.raises(OSError, match="disk unplugged"):
        journal.record_intent("2024-02")

    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".lock"]
    # Memory did not move ahead of the disk: nothing was recorded, so nothing may be sent.
    assert journal.entry("2024-01").phase is Phase.SUBMITTING
    assert journal.entry("2024-02").phase is Phase.PLANNED

    monkeypatch.undo()
    journal.record_submitted("2024-01", "req_1")
    assert reopened(journal).entry("2024-01").request_id == "req_1"


def test_crash_after_intent_is_an_unknown_outcome(journal: Journal) -> None:
    journal.record_intent("2024-01")
    journal.record_intent("2024-02")
    # The process dies here: one create request got an answer that was never recorded.
    j = reopened(journal)
    assert keys(j.unknown_outcomes()) == ["2024-01", "2024-02"]
    assert keys(j.needs_submission()) == ["2024-03"]
    with pytest.raises(JournalStateError, match=r"unknown outcome.*resolve\(\)"):
        j.record_intent("2024-01")

    found = j.resolve("2024-01", "req_1")  # it is in the server's history
    assert (found.phase, found.request_id) == (Phase.SUBMITTED, "req_1")
    lost = j.resolve("2024-02", None)  # it never arrived
    assert lost.phase is Phase.PLANNED
    assert keys(j.needs_submission()) == ["2024-02", "2024-03"]
    assert j.unknown_outcomes() == []
    assert j.record_intent("2024-02").attempts == 2
    j.close()


def test_states_still_in_progress_or_unknown_keep_the_month_open(journal: Journal) -> None:
    journal.record_intent("2024-01")
    journal.record_submitted("2024-01", "req_1")
    for state in ("pending", "accepted", "processing", "something_new"):
        assert journal.record_state("2024-01", state).phase is Phase.SUBMITTED
    assert journal.entry("2024-01").sat_state == "something_new"
    assert journal.record_state("2024-01", "expired").phase is Phase.EXPIRED
    assert journal.needs_download() == []


def test_polling_the_same_state_does_not_rewrite(journal: Journal, path: Path) -> None:
    journal.record_intent("2024-01")
    journal.record_submitted("2024-01", "req_1")
    first = journal.record_state("2024-01", "processing", invoice_count=0)
    before = path.read_bytes()
    again = journal.record_state("2024-01", "processing")
    assert again == first
    assert path.read_bytes() == before


def test_out_of_order_calls_are_refused(journal: Journal) -> None:
    with pytest.raises(JournalStateError, match="no request id"):
        journal.record_state("2024-01", "completed")
    with pytest.raises(JournalStateError, match="expected submitting"):
        journal.record_submitted("2024-01", "req_1")
    with pytest.raises(JournalStateError, match="expected completed"):
        journal.record_package("2024-01", "p", SHA_A, [])
    journal.record_intent("2024-01")
    journal.record_submitted("2024-01", "req_1")
    assert journal.record_submitted("2024-01", "req_1").request_id == "req_1"  # repeat: no-op
    with pytest.raises(JournalStateError, match="expected planned"):
        journal.record_intent("2024-01")
    with pytest.raises(KeyError):
        journal.record_intent("2019-01")


def test_argument_checks(journal: Journal) -> None:
    journal.record_intent("2024-01")
    with pytest.raises(InvalidParameterError, match=r"^request_id: must not be empty"):
        journal.record_submitted("2024-01", " ")
    journal.record_submitted("2024-01", "req_1")
    journal.record_state("2024-01", "completed", package_ids=["req_1_01"])
    with pytest.raises(InvalidParameterError, match=r"^sha256:"):
        journal.record_package("2024-01", "req_1_01", "abc", ["a.xml"])
    with pytest.raises(TypeError, match="files"):
        journal.record_package("2024-01", "req_1_01", SHA_A, "a.xml")


def test_completed_with_no_packages_can_be_marked_downloaded(journal: Journal) -> None:
    journal.record_intent("2024-01")
    journal.record_submitted("2024-01", "req_1")
    journal.record_state("2024-01", "completed", invoice_count=0, package_ids=[])
    assert journal.record_downloaded("2024-01").phase is Phase.DOWNLOADED
    # A late "expired" from the history does not undo files already saved.
    assert journal.record_state("2024-01", "expired").phase is Phase.DOWNLOADED


def test_failed_months_wait_for_an_explicit_reset(journal: Journal) -> None:
    journal.record_intent("2024-01")
    journal.record_submitted("2024-01", "req_1")
    journal.record_state("2024-01", "failed", message="Rechazada")
    assert keys(journal.needs_submission()) == ["2024-02", "2024-03"]
    journal.record_failed("2024-02", "no FIEL uploaded")
    e = journal.reset("2024-01")
    assert (e.phase, e.request_id, e.attempts) == (Phase.PLANNED, None, 1)
    assert e.previous_request_ids == ("req_1",)
    assert keys(journal.needs_submission()) == ["2024-01", "2024-03"]


def test_finished_when_every_month_is_final(journal: Journal) -> None:
    for n, key in enumerate(["2024-01", "2024-02", "2024-03"]):
        journal.record_intent(key)
        journal.record_submitted(key, f"req_{n}")
        journal.record_state(key, "completed")
        journal.record_downloaded(key)
    assert journal.finished


# ------------------------------------------------------------------ opening existing journals


def test_other_criteria_are_refused(journal: Journal, path: Path) -> None:
    journal.close()
    with pytest.raises(JournalMismatchError, match=r"received cfdi.*issued cfdi"):
        Journal.open(path, make_plan(rfc_type="issued"))
    with pytest.raises(JournalMismatchError, match="received metadata"):
        Journal.open(path, make_plan(request_type="metadata"))
    # The failed open released the lock.
    Journal.open(path).close()


def test_new_months_are_added_and_missing_ones_kept(journal: Journal, path: Path) -> None:
    journal.record_intent("2024-01")
    journal.close()
    with Journal.open(path, make_plan("2024-03", "2024-05")) as j:
        assert keys(j.entries()) == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]
        assert j.entry("2024-01").phase is Phase.SUBMITTING
    assert len(json.loads(path.read_text("utf-8"))["months"]) == 5


def test_changed_dates_update_planned_months_but_never_sent_ones(path: Path) -> None:
    with Journal.open(path, make_plan("2024-01", "2024-03-10")) as j:
        j.record_intent("2024-01")
    with Journal.open(path, make_plan("2024-01", "2024-03-20")) as j:
        assert j.entry("2024-03").slot.end_date == date(2024, 3, 20)  # not sent yet: follows
        j.record_intent("2024-03")
    with pytest.raises(JournalMismatchError, match="2024-03 was submitting"):
        Journal.open(path, make_plan("2024-01", "2024-03-25"))
    with Journal.open(path) as j:  # resuming as recorded always works
        assert j.entry("2024-03").slot.end_date == date(2024, 3, 20)


def test_a_second_process_is_locked_out(journal: Journal, path: Path) -> None:
    with pytest.raises(JournalLockedError, match="another process"):
        Journal.open(path, make_plan())
    journal.close()
    Journal.open(path).close()


def test_a_forgotten_journal_releases_its_lock(path: Path) -> None:
    j = Journal.open(path, make_plan())
    del j
    gc.collect()
    Journal.open(path).close()


def test_closed_journal_refuses_changes(journal: Journal) -> None:
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.record_intent("2024-01")


def test_resuming_without_a_plan_needs_a_file(path: Path) -> None:
    with pytest.raises(JournalError, match="no journal at"):
        Journal.open(path)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"format": "gigstack-async/bulk-journal", "version": 1, "crit', "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "not a gigstack-async bulk journal"),
        (b'{"some": "other file"}', "not a gigstack-async bulk journal"),
        (
            b'{"format": "gigstack-async/bulk-journal", "version": 9}',
            "written by a newer gigstack-async",
        ),
    ],
)
def test_unreadable_file_gives_a_clear_error(path: Path, content: bytes, problem: str) -> None:
    path.write_bytes(content)
    with pytest.raises(JournalCorruptError, match=problem) as info:
        Journal.open(path, make_plan())
    assert str(path) in str(info.value)
    assert info.value.__cause__ is None  # no json traceback chained in


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda m: m["2024-01"].update(phase="sent"), r"months\.2024-01\.phase: unknown value"),
        (lambda m: m["2024-01"].pop("attempts"), "missing 'attempts'"),
        (lambda m: m["2024-01"].update(end_date="2024-01-30"), "fingerprint does not match"),
        (lambda m: m["2024-01"].update(phase="submitted"), "without a request_id"),
        (lambda m: m["2024-01"].update(attempts=True), "attempts: unexpected value"),
    ],
)
def test_damaged_records_are_reported_with_their_location(
    journal: Journal, path: Path, edit: Callable[[dict[str, Any]], object], problem: str
) -> None:
    journal.close()
    document = json.loads(path.read_text("utf-8"))
    edit(document["months"])
    path.write_text(json.dumps(document), "utf-8")
    with pytest.raises(JournalCorruptError, match=problem):
        Journal.open(path)
