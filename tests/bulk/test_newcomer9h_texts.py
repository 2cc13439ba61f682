"""Newcomer 9h #7 and #9, as a Python caller reads them.

#7: a history read while SAT was still processing reported `invoiceCount: 0`, which the journal
kept as the month's count: with a status body that reports no count (the `documented-fields`
profile) the month ended `done` with "0 invoices" beside its 29 files. Before SAT completes a
0 is "not counted yet": unknown (None), never 0.

#9: `JournalMismatchError` told a Python caller to "Use another --out folder (download_to)",
where the README says Python texts name `download_to=`; `bulk(start="2019-01")` named only the
first day in reach ("on or after 2020-12-30"), so `2020-12` was tried next and refused too: the
error now names the first whole month accepted.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async._dates import add_months, month_end
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.plan import plan_months
from gigstack_async.bulk.run import BulkDownload
from gigstack_async.bulk.store import JournalMismatchError, JournalStore
from gigstack_async.errors import InvalidParameterError
from tests.bulk._support import JOURNAL

JAN = (date(2024, 1, 1), date(2024, 1, 31))


def ours(**fields: object) -> m.Seen:
    """January's own request as the server reports it; `fields` override."""
    seen = m.Seen(
        id="r1",
        status="pending",
        rfc_type="received",
        request_type="cfdi",
        start=JAN[0],
        end=JAN[1],
    )
    return attrs.evolve(seen, **fields)  # type: ignore[arg-type]


def submitted() -> m.MonthState:
    return m.MonthState(
        "2024-01",
        *JAN,
        "received",
        "cfdi",
        stage=m.Stage.SUBMITTED,
        request_id="r1",
        known_ids=("r1",),
        checked=True,
        typed=True,
    )


# ------------------------------------------------------------------ #7: unknown is never 0


def test_a_zero_count_read_while_sat_is_processing_is_not_the_months_count() -> None:
    processing, _ = m.transition(
        submitted(), m.HistorySeen((ours(status="processing", invoice_count=0),))
    )
    assert processing.stage is m.Stage.PROCESSING
    assert processing.invoice_count is None  # was 0: "0 invoices" for a month not counted yet
    # Completed, by a status body that reports no count (the docs list none): still unknown.
    completed, commands = m.transition(
        processing,
        m.StatusSeen(ours(status="completed", package_ids=("p1",))),
    )
    assert completed.stage is m.Stage.COMPLETED
    assert commands == (m.FetchPackage("p1", 1),)
    assert completed.invoice_count is None
    # SAT's own count, once completed, is kept (0 included: a completed request with none).
    for count in (29, 0):
        counted, _ = m.transition(
            processing,
            m.StatusSeen(ours(status="completed", package_ids=("p1",), invoice_count=count)),
        )
        assert counted.invoice_count == count


def test_a_count_read_while_processing_never_replaces_a_known_one_with_zero() -> None:
    known = attrs.evolve(submitted(), stage=m.Stage.PROCESSING, invoice_count=12)
    again, _ = m.transition(known, m.HistorySeen((ours(status="processing", invoice_count=0),)))
    assert again.invoice_count == 12


# ------------------------------------------------------------------ #9: the texts


async def test_a_python_caller_reads_download_to_in_the_mismatch_error(tmp_path: Path) -> None:
    async with GigstackClient("sk_test_texts_9h", base_url="http://127.0.0.1:9/v2") as client:
        issued = client.downloads.bulk(
            "2024-01", "2024-01", rfc_type="issued", download_to=tmp_path
        )
        with JournalStore.open(tmp_path / JOURNAL, issued.identity, download_to=tmp_path):
            pass  # an issued journal in the folder
        received = client.downloads.bulk(
            "2024-01", "2024-01", rfc_type="received", download_to=tmp_path
        )
        for call in (received.check_journal, received.may_create):
            with pytest.raises(JournalMismatchError) as caught:
                call()
            text = str(caught.value)
            assert "another download_to= folder" in text
            assert "--out" not in text
            assert "--journal" not in text
        with pytest.raises(JournalMismatchError) as caught:
            await _drain(received)
        assert "another download_to= folder" in str(caught.value)
        # The CLI's own run reads its options (it sets texts_for = "cli").
        received.texts_for = "cli"
        with pytest.raises(JournalMismatchError) as caught:
            received.check_journal()
        assert "another --out folder" in str(caught.value)


async def _drain(run: BulkDownload) -> None:
    async with run:
        async for _ in run:
            pass


@pytest.mark.parametrize(
    ("today", "whole", "partial"),
    [
        (date(2026, 11, 30), "2021-01", "start on 2020-12-30 for the 2 day(s) of 2020-12"),
        (date(2026, 11, 1), "2020-12", None),  # the window starts on a 1st: that whole month
    ],
)
def test_a_start_too_old_names_the_first_whole_month_accepted(
    today: date, whole: str, partial: str | None
) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        plan_months("2019-01", "2021-03", rfc_type="issued", request_type="cfdi", today=today)
    text = str(caught.value)
    assert f"the first whole month it accepts is {whole}" in text
    if partial is None:
        assert "partial" not in text
    else:
        assert partial in text
    # And it is accepted, as named.
    plan = plan_months(whole, whole, rfc_type="issued", request_type="cfdi", today=today)
    assert plan.slots[0].start_date == date.fromisoformat(f"{whole}-01")
    floor = add_months(today, -71)
    if floor.day != 1:
        plan = plan_months(
            floor.isoformat(), month_end(floor), rfc_type="issued", request_type="cfdi", today=today
        )
        assert (plan.slots[0].start_date, plan.slots[0].end_date) == (floor, month_end(floor))
        with pytest.raises(InvalidParameterError):
            plan_months(
                f"{floor:%Y-%m}", whole, rfc_type="issued", request_type="cfdi", today=today
            )
