"""Newcomer 9j's smaller findings (F2, F3, F5, F6): what a backend running several `bulk()` calls
in one process sees in its logs, `repr`s, errors and texts.

- F2: the bulk run's WARNINGs ("could not be checked", ...) did not say which run logged them:
  three concurrent runs logged three identical-looking lines. Each names its download folder now,
  in the text and as `extra=` fields (`download_to`, `journal`).
- F3: `run.history_reach.since` was raw epoch-ms text; it is a UTC `datetime` (raw kept in
  `since_raw`). It stays None on a run that sends nothing (README says so).
- F5: `repr(run)` was the default `<... object at 0x...>`.
- F6: two `bulk()` tasks of one process on one folder were told "another process"; a history
  entry without a request type printed "received  2024-08-01..." (a double space).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import JournalLockedError
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.created_at import created_at_instant
from gigstack_async.bulk.events import MonthResult
from gigstack_async.bulk.reach import history_reach
from gigstack_async.bulk.run import BulkDownload
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.cli import main
from gigstack_async.cli.summary import concise_reason
from gigstack_async.sandbox import FaultConfig, Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import ServerProfile
from tests.bulk._support import (
    CREATE,
    FAST,
    calls,
    done_month,
    keyed_cli,
    month_results,
    received_month,
    world_of,
)

# ------------------------------------------------------------------ F2, F3: concurrent runs


async def test_concurrent_runs_log_their_own_folder_and_a_datetime_reach(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox, client = world
    # A request made today: the history reaches back to today only, so the months below (which
    # began long before) cannot be checked for an earlier identical request: each run warns.
    first = await month_results(client, tmp_path / "A", "2024-01", "2024-01")
    assert first["2024-01"].ok
    x, y = tmp_path / "X", tmp_path / "Y"
    runs = {
        x: client.downloads.bulk(
            "2024-02", "2024-02", rfc_type="received", download_to=x, poll=FAST
        ),
        y: client.downloads.bulk(
            "2024-03", "2024-03", rfc_type="received", download_to=y, poll=FAST
        ),
    }

    async def drive(folder: Path) -> None:
        async with runs[folder] as run:
            assert all(e.ok for e in [e async for e in run] if isinstance(e, MonthResult))

    caplog.set_level(logging.WARNING, logger="gigstack_async")
    caplog.clear()
    await asyncio.gather(drive(x), drive(y))
    warned = [r for r in caplog.records if "could not be checked" in r.getMessage()]
    assert len(warned) == 2
    by_folder = {getattr(r, "download_to", None): r.getMessage() for r in warned}
    assert set(by_folder) == {str(x), str(y)}  # was: no `download_to` on the record
    for folder, text in by_folder.items():
        # was: both began "the account's history lists ..."
        assert text.startswith(f"bulk download to {folder}: the account's history lists ")
    assert {getattr(r, "journal", None) for r in warned} == {
        str(f / ".gigstack-journal.sqlite3") for f in (x, y)
    }

    # F3: how far back the history reached, as an instant (was: '1796059025007', epoch-ms text).
    reach = runs[x].history_reach
    assert reach is not None
    assert reach.unchecked == ("2024-02",)
    assert isinstance(reach.since, datetime)
    assert reach.since.tzinfo is not None
    assert reach.since.utcoffset() == UTC.utcoffset(None)
    assert reach.since_raw is not None
    assert created_at_instant(reach.since_raw) == reach.since
    assert abs(reach.since - datetime.now(UTC)).total_seconds() < 24 * 3600

    # A resumed run with nothing to send never reads the reach: None, as the README says.
    sent = calls(sandbox, CREATE)
    again = client.downloads.bulk(
        "2024-02", "2024-02", rfc_type="received", download_to=x, poll=FAST
    )
    async with again:
        assert [e.stage for e in [e async for e in again] if isinstance(e, MonthResult)] == ["done"]
    assert again.history_reach is None
    assert calls(sandbox, CREATE) == sent


def test_the_reach_of_a_wall_time_is_its_latest_instant_and_the_text_as_sent() -> None:
    # A createdAt without an offset: `since` is the latest instant it may name (UTC-12); the
    # warning still shows what the server wrote.
    entry = m.Seen("R1", "completed", "received", "cfdi", created_at="2023-11-30T20:00:00")
    reach = history_reach((entry,), [("2023-10", date(2023, 10, 1))])
    assert reach.since == datetime(2023, 12, 1, 8, tzinfo=UTC)
    assert reach.since_raw == "2023-11-30T20:00:00"
    assert "made since 2023-11-30T20:00:00 (time zone not stated)" in (reach.warning or "")
    unreadable = history_reach((attrs.evolve(entry, created_at="12345"),), [])
    assert (unreadable.since, unreadable.since_raw) == (None, None)


# ------------------------------------------------------------------ F5: repr


async def test_repr_of_a_bulk_run_says_what_it_downloads_and_never_the_key(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    run = client.downloads.bulk(
        "2024-01", "2024-03", rfc_type="issued", request_type="metadata", download_to=tmp_path / "d"
    )
    shown = repr(run)
    assert shown == (
        "<BulkDownload 2024-01-01..2024-03-31 rfc_type='issued' request_type='metadata' months=3 "
        f"download_to={str(tmp_path / 'd')!r} journal="
        f"{str(tmp_path / 'd' / '.gigstack-journal.sqlite3')!r}>"
    )
    assert sandbox.api_key not in shown
    assert sandbox.api_key[-8:] not in shown
    bare = client.downloads.bulk("2024-01", "2024-01", rfc_type="received", journal=None)
    assert "download_to=None journal=None>" in repr(bare)


# ------------------------------------------------------------------ F6: the lock's text


async def test_two_runs_of_one_process_on_one_folder_say_so(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    _, client = world
    folder = tmp_path / "same"
    first = client.downloads.bulk("2024-01", "2024-01", rfc_type="received", download_to=folder)
    second = client.downloads.bulk("2024-01", "2024-01", rfc_type="received", download_to=folder)
    async with first:
        events = aiter(first)
        await anext(events)  # running: it holds the journal
        with pytest.raises(JournalLockedError) as caught:
            await drain(second)
    text = str(caught.value)
    assert "another task of this process" in text  # was: "another process"
    assert "another process" not in text


async def drain(run: BulkDownload) -> None:
    async with run:
        async for _ in run:
            pass


IDENTITY = StoreIdentity(
    None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
)


def test_another_process_holding_the_journal_is_still_called_another_process(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite3"
    code = (
        "import sys; from gigstack_async.bulk.store import JournalStore, StoreIdentity;"
        "i = StoreIdentity(None, 'http://127.0.0.1:9/v2', '1234abcd1234abcd', None, "
        "'received', 'cfdi');"
        f"s = JournalStore.open({str(path)!r}, i); print('held', flush=True); sys.stdin.read()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(JournalLockedError, match="another process is driving") as caught:
            JournalStore.open(path, IDENTITY)
        assert "this process" not in str(caught.value)
    finally:
        assert child.stdin is not None
        assert child.stdout is not None
        child.stdin.close()
        child.wait(timeout=30)
        child.stdout.close()
    JournalStore.open(path, IDENTITY).close()  # released with the process


# ------------------------------------------------------------------ F6: no double space


@pytest.mark.parametrize(
    ("missing", "shown"),
    [
        ({"request_type": None}, "received (request type not reported) 2024-08-01..2024-08-31"),
        ({"rfc_type": None}, "(rfc type not reported) cfdi 2024-08-01..2024-08-31"),
        ({"end": None}, "received cfdi 2024-08-01..(end not reported)"),
    ],
)
def test_a_request_of_another_month_names_what_was_not_reported(
    missing: dict[str, object], shown: str
) -> None:
    # 2024-09's request id is listed for 2024-08 (the documented-fields profile reports no
    # requestType): the month needs attention; the text said "is for received  2024-08-01".
    month = attrs.evolve(
        received_month("2024-09"),
        stage=m.Stage.PROCESSING,
        request_id="7A1A31F9",
        known_ids=("7A1A31F9",),
    )
    listed = attrs.evolve(
        m.Seen("7A1A31F9", "completed", "received", "cfdi", date(2024, 8, 1), date(2024, 8, 31)),
        **missing,  # type: ignore[arg-type]
    )
    state, _ = m.transition(month, m.HistorySeen((listed,), generation=1))
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert state.reason is not None
    assert f"the server's request 7A1A31F9 is for {shown}, not this month" in state.reason
    assert "  " not in state.reason


# ------------------------------------------------------------------ F6: after a retry-download


def test_after_a_retry_download_failed_too_the_texts_say_a_third_get_may_be_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The newcomer's 2024-04: GET 502, GET dropped, `journal retry-download` as hinted, 3rd GET
    # dropped. Was: "3 downloads counted, 3 of them may not have reached SAT" and "SAT may serve
    # package ... once more", read as if the SDK believed nothing had reached SAT.
    month = attrs.evolve(
        received_month("2024-04"),
        stage=m.Stage.COMPLETED,
        request_id="R1",
        known_ids=("R1",),
        creates=1,
        checked=True,
        confirmed_id="R1",
        package_ids=("P1",),
        downloads=(("P1", 2),),
        unsure=(("P1", 2),),  # the 502 and the dropped GET: no byte of either arrived
    )
    blocked = m.transition(month, m.PackageFailed("P1", "connection dropped"))[0]
    allowed = m.transition(blocked, m.AllowDownload())[0]
    sent = m.transition(allowed, m.PackageSending("P1"))[0]
    again = m.transition(sent, m.PackageFailed("P1", "connection dropped"))[0]
    assert (again.stage, again.blocked_package) == (m.Stage.NEEDS_ATTENTION, "P1")
    reason, hint = again.reason or "", again.hint or ""
    assert "may not have reached SAT" not in reason
    assert "SAT may already have served it twice" in reason
    assert "none surely reached SAT" in reason
    assert "SAT may serve package P1 once more" not in hint
    assert "may be SAT's third, which SAT refuses with 5008" in hint
    assert "the way on is a new request: `gigstack-async journal resend 2024-04`" in hint
    # Still free to try (text only: what the machine allows is unchanged).
    assert hint.index("journal retry-download") < hint.index("journal resend")

    folder = tmp_path / "cfdi"
    with JournalStore.open(folder / ".gigstack-journal.sqlite3", IDENTITY) as store:
        store.ensure([again])
    capsys.readouterr()
    assert main(["journal", "show", str(folder), "2024-04"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    # Newcomer 10 F5: "3 of 3" read as SAT's own limit (2): the extra GET is the user's.
    assert (
        "P1: 3 (SAT allows 2; 1 more allowed by you with `gigstack-async journal "
        "retry-download`; 3 unconfirmed: SAT may already have served it twice)" in shown
    )
    assert "3 may not have reached SAT" not in shown
    assert main(["journal", "retry-download", str(folder), "2024-04"]) == 2  # no --yes
    said = " ".join(capsys.readouterr().out.split())
    assert "this download may be its third, which SAT refuses with 5008 (it bills nothing)" in said
    assert "so SAT may serve it once more" not in said
    assert "journal resend" in said


def test_missing_files_after_a_third_get_say_the_next_may_be_refused() -> None:
    # A done month whose package took a `journal retry-download` (3 GETs) lost a file: the
    # free refill is still offered, but not as "SAT may serve it once more".
    done = attrs.evolve(
        done_month("2024-04", ("A.xml", "B.xml")),
        downloads=(("P1", 3),),
        granted=(("P1", 1),),
        unsure=(("P1", 2),),
    )
    state, _ = m.transition(done, m.Start(on_disk=1, cfdis=1, lost=("B.xml",)))
    hint = state.hint or ""
    assert "journal retry-download 2024-04" in hint
    assert "SAT may serve it once more" not in hint
    assert "this one may be its third, refused with 5008" in hint


# ------------------------------------------------------------------ F4: long reasons


async def test_the_summary_shortens_a_long_reason_and_journal_show_keeps_it_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every create's answer is cut short after the server made it, and the history never lists
    # it: each month needs attention with the whole OutcomeUnknownError (aiohttp's
    # `<ContentLengthError: 400, ...>` included) in its reason, 1,300 characters a summary row.
    faults = FaultConfig(operations=frozenset({CREATE}), after_truncate_rate=1.0, seed=3)
    config = SandboxConfig(
        speed=3000, seed=11, faults=faults, profile=ServerProfile(lost_create_lag=1e6)
    )
    out = tmp_path / "cfdi"
    async with world_of(config) as (sandbox, client):
        argv = (
            "sat", "download", "--from", "2024-01", "--to", "2024-01", "--rfc-type", "received",
            "--out", out, "--yes", "--timeout", "5", "--poll-interval", "0.05",
        )  # fmt: skip
        capsys.readouterr()
        assert await asyncio.to_thread(keyed_cli, sandbox, *argv) == 1
        progress, summary = capsys.readouterr().out.split("Summary", 1)
        # The Python object keeps every word.
        python = await month_results(client, tmp_path / "py", "2024-01", "2024-01", timeout=5)
    full = python["2024-01"].error or ""
    assert "ContentLengthError" in full
    assert len(full) > 400
    assert "ContentLengthError" in progress  # the run's own line, as it happened
    row = next(line for line in summary.splitlines() if line.startswith("2024-01"))
    assert "ContentLengthError" not in row  # was: the whole error, 1,334 characters
    assert "outcome of the create request is unknown (…); a create request may have been " in row
    assert "history cannot tell whether it arrived (…). Next: " in row
    # The hint (what to do) stays whole: its commands run as printed.
    assert (
        f"`gigstack-async journal adopt {out} 2024-01 <request id> --created-at <time the "
        "dashboard shows it was made>`"
    ) in row
    assert f"`gigstack-async journal resend {out} 2024-01`" in row
    assert len(row.split(". Next: ", 1)[0]) < 250  # the month's columns and its reason
    assert (
        "Reasons shortened for 2024-01 ((…) marks details left out): `gigstack-async journal "
        f"show {out} <month>` prints each in full."
    ) in summary
    assert main(["journal", "show", str(out), "2024-01"]) == 0
    assert "ContentLengthError" in capsys.readouterr().out


def test_a_short_reason_and_backticked_commands_are_never_shortened() -> None:
    short = "downloading package P1 failed: HTTP 502 (a gateway error, perhaps after SAT acted)"
    assert concise_reason(short) == short
    command = "`gigstack-async journal adopt ./cfdi 2024-01 (" + "x" * 60 + ")`"
    long = "it failed (" + "y" * 300 + "); " + command
    assert concise_reason(long) == "it failed (…); " + command
