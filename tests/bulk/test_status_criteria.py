"""Review 9m #8: the status body is NOT FOUND, so how it writes its criteria is a GUESS.

Its criteria can only prove a match once normalised (enum values in any case; a date as an ISO
date, or a datetime whose date part or Mexico City date is the month's); a value that does not
normalise is unknown, never a mismatch; a clear mismatch still says "another request", but never
overrules a history entry that matched the month in this run (the history is documented).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import attrs
import pytest

from gigstack_async._generated.models import (
    DownloadRequestState,
    DownloadRequestStatus,
    RequestType,
    RfcType,
)
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import seen_from_status, status_days, status_enum
from gigstack_async.bulk.machine import Stage
from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox import routes_downloads as rd
from gigstack_async.sandbox.envelopes import JsonObject
from gigstack_async.sandbox.profiles import ServerProfile
from tests.bulk._support import calls, keyed_cli, world_of

AUG = (date(2024, 8, 1), date(2024, 8, 31))


def month(**changes: object) -> m.MonthState:
    """August 2024, received CFDIs, its request r1 submitted (not yet checked in this run)."""
    state = m.MonthState(
        key="2024-08",
        start=AUG[0],
        end=AUG[1],
        rfc_type="received",
        request_type="cfdi",
        stage=Stage.SUBMITTED,
        request_id="r1",
        known_ids=("r1",),
    )
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


def answer(**fields: object) -> m.StatusSeen:
    """A completed status answer for r1 with one package; `fields` as the server writes them."""
    body = {
        "start_date": "2024-08-01",
        "end_date": "2024-08-31",
        "rfc_type": "received",
        "request_type": "cfdi",
        **fields,
    }
    status = DownloadRequestStatus(
        status=DownloadRequestState.COMPLETED,
        invoice_count=3,
        package_ids=["p1"],
        **body,  # type: ignore[arg-type]
    )
    return seen_from_status("r1", status)


def fetches(commands: tuple[m.Command, ...]) -> list[str]:
    return [c.package_id for c in commands if isinstance(c, m.FetchPackage)]


WRITTEN = {
    "upper enums": {"rfc_type": "RECEIVED", "request_type": "CFDI"},
    "mixed case": {"rfc_type": " Received ", "request_type": "Cfdi"},
    "utc instants": {
        "start_date": "2024-08-01T06:00:00.000Z",
        "end_date": "2024-09-01T05:59:59.999Z",
    },
    "mexico offset": {
        "start_date": "2024-08-01T00:00:00-06:00",
        "end_date": "2024-08-31T23:59:59-06:00",
    },
    "naive datetimes": {"start_date": "2024-08-01T00:00:00", "end_date": "2024-08-31T23:59:59"},
    "utc midnight dates": {
        "start_date": "2024-08-01T00:00:00Z",
        "end_date": "2024-08-31T00:00:00Z",
    },
}


@pytest.mark.parametrize("fields", WRITTEN.values(), ids=WRITTEN.keys())
def test_a_status_written_otherwise_still_checks_the_month(fields: dict[str, str]) -> None:
    # An unchecked request (the history no longer lists it): the status alone checks it.
    state = month()
    new, commands = m.transition(state, answer(**fields))
    assert new.stage is Stage.COMPLETED, new.reason
    assert new.checked
    assert fetches(commands) == ["p1"]


@pytest.mark.parametrize("fields", WRITTEN.values(), ids=WRITTEN.keys())
def test_a_status_written_otherwise_never_overrules_the_matching_history(
    fields: dict[str, str],
) -> None:
    # m5: the history lists r1 with the month's dates (no packageIds), the status is asked.
    state = month()
    listed = m.Seen("r1", status="completed", rfc_type="received", start=AUG[0], end=AUG[1])
    state, commands = m.transition(state, m.HistorySeen((listed,), generation=1))
    assert state.listed == "r1"
    assert any(isinstance(c, m.FetchStatus) for c in commands)
    new, commands = m.transition(state, answer(**fields))
    assert new.stage is Stage.COMPLETED, new.reason
    assert fetches(commands) == ["p1"]


@pytest.mark.parametrize(
    "fields",
    [
        {"start_date": "01/08/2024", "end_date": "31/08/2024"},
        {"start_date": "agosto", "end_date": ""},
        {"rfc_type": "recibidos"},
        {"request_type": "xml"},
    ],
)
def test_a_value_that_does_not_normalise_is_unknown_never_a_mismatch(
    fields: dict[str, str],
) -> None:
    # Unchecked: unknown proves nothing, the month waits for the history (no attention).
    state = month()
    new, commands = m.transition(state, answer(**fields))
    assert new.stage is Stage.SUBMITTED
    assert new.reason is None
    assert commands == ()
    # Checked (adopted in this run): the status and packages still count.
    adopted = month(checked=True, confirmed_id="r1")
    new, commands = m.transition(adopted, answer(**fields))
    assert new.stage is Stage.COMPLETED, new.reason
    assert fetches(commands) == ["p1"]


@pytest.mark.parametrize(
    "fields",
    [
        {"start_date": "2024-07-01", "end_date": "2024-07-31"},
        {"start_date": "2024-07-01T06:00:00Z", "end_date": "2024-08-01T05:59:59Z"},
        {"rfc_type": "ISSUED"},
        {"request_type": "METADATA"},
    ],
)
def test_a_clear_mismatch_is_still_another_request(fields: dict[str, str]) -> None:
    adopted = month(checked=True, confirmed_id="r1")
    new, commands = m.transition(adopted, answer(**fields))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert new.reason is not None
    assert "not this month" in new.reason
    assert fetches(commands) == []


def test_the_history_match_of_this_run_wins_over_a_mismatching_status() -> None:
    state = month()
    listed = m.Seen(
        "r1", status="completed", rfc_type="received", request_type="cfdi", start=AUG[0], end=AUG[1]
    )
    state, _ = m.transition(state, m.HistorySeen((listed,), generation=1))
    new, commands = m.transition(
        state, answer(start_date="2024-07-01", end_date="2024-07-31", rfc_type="issued")
    )
    assert new.stage is Stage.COMPLETED, new.reason
    assert fetches(commands) == ["p1"]
    # The next run starts over: without a history match the same answer is another request.
    again, _ = m.transition(attrs.evolve(new, stage=Stage.SUBMITTED), m.Start())
    assert again.listed is None


def test_a_criterion_the_history_left_out_is_still_the_status_answers_to_tell() -> None:
    # Documented histories omit requestType: a status saying "metadata" is not overruled.
    state = month()
    listed = m.Seen("r1", status="completed", rfc_type="received", start=AUG[0], end=AUG[1])
    state, _ = m.transition(state, m.HistorySeen((listed,), generation=1))
    new, commands = m.transition(state, answer(request_type="Metadata"))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert fetches(commands) == []


def test_status_readings() -> None:
    assert status_days("2024-08-31") == (date(2024, 8, 31),)
    assert status_days("2024-09-01T05:59:59.999Z") == (date(2024, 9, 1), date(2024, 8, 31))
    assert status_days("2024-08-31T10:00:00Z") == (date(2024, 8, 31),)
    assert status_days("2024-08-31T23:00:00") == (date(2024, 8, 31),)
    assert status_days("31/08/2024") == ()
    assert status_days(None) == ()
    assert status_enum("CFDI", RequestType) == "cfdi"
    assert status_enum("Emitidos", RfcType) is None
    assert status_enum(None, RfcType) is None


def _upper(body: JsonObject) -> JsonObject:
    return {**body, "request_type": str(body["request_type"]).upper(), "rfc_type": "RECEIVED"}


def _utc_instants(body: JsonObject) -> JsonObject:
    # The month's Mexico City days as UTC instants: its end falls on the next UTC date.
    end = date.fromisoformat(str(body["end_date"])) + timedelta(days=1)
    start = f"{body['start_date']}T06:00:00.000Z"
    return {**body, "start_date": start, "end_date": f"{end.isoformat()}T05:59:59.999Z"}


@pytest.mark.parametrize("rewrite", [_upper, _utc_instants], ids=["upper", "utc-instants"])
async def test_a_run_whose_status_writes_criteria_otherwise_downloads(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rewrite: Callable[[JsonObject], JsonObject],
) -> None:
    """m5_status_case.py: the history omits packageIds, so every month asks the status, which
    writes its criteria otherwise. Before: every month "another request (request ids may have
    been reused)", and the printed adopt / resend billed again into the same state."""
    original = rd._without

    def rewritten(body: JsonObject, omit: frozenset[str], where: str) -> JsonObject:
        served = original(body, omit, where)
        return rewrite(served) if where == "status" and "end_date" in served else served

    monkeypatch.setattr(rd, "_without", rewritten)
    profile = ServerProfile(omit_fields=frozenset({"history.packageIds"}))
    out = tmp_path / "A"
    async with world_of(SandboxConfig(speed=3000, seed=5, profile=profile)) as (sandbox, _):
        argv = ("sat", "download", "--from", "2024-07", "--to", "2024-08")
        argv += ("--rfc-type", "received", "--out", out, "--poll-interval", "0.05", "--yes")
        assert await asyncio.to_thread(keyed_cli, sandbox, *argv) == 0
        assert calls(sandbox, "createDownloadRequest") == 2
        assert len(list((out / "2024-07").glob("*.xml"))) > 0
        assert len(list((out / "2024-08").glob("*.xml"))) > 0
        assert await asyncio.to_thread(keyed_cli, sandbox, *argv) == 0
        assert calls(sandbox, "createDownloadRequest") == 2
