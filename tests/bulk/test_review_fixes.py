"""Regression tests for the hostile review of issue 9 (each failed on the code it reviewed).

Run against the real sandbox over 127.0.0.1, like tests/bulk/test_scenarios.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import MonthWarning
from gigstack_async.bulk.store import JournalStore
from gigstack_async.bulk.watch import PollSchedule
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import profile
from tests.bulk._support import FAST, HISTORY, PACKAGE, STATUS, free_port, results, run, xml_names

# 1 (#11) ------------------------------------------------------------------------------------


async def test_after_ids_restart_a_completed_month_never_downloads_another_requests_package(
    tmp_path: Path,
) -> None:
    port, out = free_port(), tmp_path / "cfdi"
    first = SandboxConfig(speed=3000, seed=11, profile=profile("ids-restart"))
    async with (
        Sandbox(first, port=port) as s1,
        GigstackClient(s1.api_key, base_url=s1.base_url) as client,
    ):
        s1.state.force_fault(PACKAGE, "after_truncate", times=1)
        done = results(await run(client, out))["2024-01"]
        assert done.stage == "needs-attention"  # completed, package still to download
    second = SandboxConfig(speed=3000, seed=12, profile=profile("ids-restart"))
    async with (
        Sandbox(second, port=port) as s2,
        GigstackClient(s2.api_key, base_url=s2.base_url) as client,
    ):
        other = await client.downloads.create_request(
            start_date="2023-05-01", end_date="2023-05-31", rfc_type="issued", request_type="cfdi"
        )
        assert other.request_id == done.request_id  # the id now names another request
        s2.clock.advance(3600)
        again = results(await run(client, out))["2024-01"]
        assert not again.ok
        assert again.stage == "needs-attention"
        assert not s2.state.calls_to(PACKAGE)  # another request's package was never fetched
        assert not xml_names(out / "2024-01")


@pytest.mark.parametrize(("history_limit", "others"), [(20, 20), (1, 1)])
async def test_after_ids_restart_a_status_answer_is_never_adopted_unchecked(
    tmp_path: Path, history_limit: int, others: int
) -> None:
    port, out = free_port(), tmp_path / "cfdi"
    first = SandboxConfig(
        speed=0, seed=11, profile=profile("ids-restart"), history_limit=history_limit
    )
    async with (
        Sandbox(first, port=port) as s1,
        GigstackClient(s1.api_key, base_url=s1.base_url) as client,
    ):
        assert results(await run(client, out, timeout=0.5))["2024-01"].stage == "submitted"
    second = SandboxConfig(
        speed=3000, seed=12, profile=profile("ids-restart"), history_limit=history_limit
    )
    async with (
        Sandbox(second, port=port) as s2,
        GigstackClient(s2.api_key, base_url=s2.base_url) as client,
    ):
        await client.downloads.create_request(
            start_date="2023-05-01", end_date="2023-05-31", rfc_type="issued", request_type="cfdi"
        )
        for n in range(others):
            month = f"{2022 - n // 12}-{n % 12 + 1:02d}"
            await client.downloads.create_request(
                start_date=f"{month}-01",
                end_date=f"{month}-28",
                rfc_type="issued",
                request_type="metadata",
            )
        s2.clock.advance(3600)
        events = await run(client, out, timeout=10)
        again = results(events)["2024-01"]
        assert again.stage == "needs-attention"
        assert f"journal adopt {out} 2024-01" in (again.hint or "")
        # Its status is asked once (newcomer 9g #2): it names the issued May 2023 request now,
        # so nothing is adopted or downloaded.
        assert len(s2.state.calls_to(STATUS)) <= 1
        assert not s2.state.calls_to(PACKAGE)
        assert not xml_names(out / "2024-01")
        assert any(isinstance(e, MonthWarning) and e.key == "2024-01" for e in events)


def test_adopting_the_months_own_request_confirms_it_for_every_later_run() -> None:
    from datetime import date

    state = m.MonthState(
        "2024-01", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi",
        stage=m.Stage.COMPLETED, request_id="R1", known_ids=("R1",), package_ids=("P1",),
    )  # fmt: skip
    state, commands = m.transition(state, m.Start())
    assert commands == ()  # unchecked after a restart: no download
    state, _ = m.transition(state, m.Adopt("R1"))
    assert state.stage is m.Stage.COMPLETED
    state, commands = m.transition(state, m.Start())
    assert commands == (m.FetchPackage("P1", 1),)


# 2 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("history_limit", [2, 20])
async def test_status_fallbacks_respect_the_poll_schedule(
    tmp_path: Path, history_limit: int
) -> None:
    # SAT never finishes (speed tiny): every month is polled for the whole run; with a window
    # of 2 most of them cost a status call per tick. Count calls per elapsed poll interval.
    config = SandboxConfig(speed=0.0001, seed=2, history_limit=history_limit)
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        schedule = PollSchedule(initial=0.2, factor=1.0, maximum=0.2, jitter=0.0)
        started = time.monotonic()
        await run(client, tmp_path / "cfdi", "2024-01", "2024-06", poll=schedule, timeout=1.2)
        elapsed = time.monotonic() - started
    ticks = elapsed / 0.2 + 1
    history = len(sandbox.state.calls_to(HISTORY))
    status = len(sandbox.state.calls_to(STATUS))
    assert history <= ticks + 1, (history, elapsed)
    assert status <= 6 * (ticks + 1), (status, elapsed)


# 3 (#12) ------------------------------------------------------------------------------------


async def test_a_stale_request_id_ends_in_needs_attention_without_a_timeout(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    bulk = client.downloads.bulk("2024-01", "2024-02", rfc_type="received", download_to=out)
    jan = m.MonthState("2024-01", *_month(1), "received", "cfdi")
    with JournalStore.open(out / ".gigstack-journal.sqlite3", bulk.identity) as store:
        store.ensure([
            m.MonthState(jan.key, jan.start, jan.end, "received", "cfdi",
                         stage=m.Stage.SUBMITTED, request_id="gone-404", known_ids=("gone-404",))
        ])  # fmt: skip
    events = await run(client, out, "2024-01", "2024-02")  # no timeout: it must end by itself
    done = results(events)
    assert done["2024-02"].ok
    assert done["2024-01"].stage == "needs-attention"
    assert f"journal resend {out} 2024-01" in (done["2024-01"].hint or "")
    assert len(sandbox.state.calls_to(STATUS)) <= m.POLL_GIVE_UP


def test_a_checked_request_that_keeps_404ing_needs_attention_after_bounded_failures() -> None:
    state = m.MonthState(
        "2024-01", *_month(1), "received", "cfdi",
        stage=m.Stage.SUBMITTED, request_id="R1", known_ids=("R1",), checked=True,
    )  # fmt: skip
    for _ in range(m.POLL_GIVE_UP):
        assert state.stage is m.Stage.SUBMITTED
        state, _ = m.transition(state, m.PollFailed("HTTP 404", not_found=True))
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert "journal resend" in (state.hint or "")


def _month(month: int) -> tuple[object, object]:
    from datetime import date

    end = date(2024, month + 1, 1) if month < 12 else date(2025, 1, 1)
    return date(2024, month, 1), date.fromordinal(end.toordinal() - 1)


# 7 (#6) -------------------------------------------------------------------------------------


async def test_a_failed_status_call_is_retried_in_this_run_and_the_next(tmp_path: Path) -> None:
    out = tmp_path / "cfdi"
    config = SandboxConfig(speed=3000, seed=11, profile=profile("documented-fields"))
    # No transport retries: each status call the server sees is one the engine made (and the
    # test skips their ~4 s of backoff).
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url, max_retries=0) as client,
    ):
        sandbox.state.force_fault(STATUS, "503", times=1000)
        first = results(await run(client, out, timeout=30))["2024-01"]
        assert first.stage == "needs-attention"
        asked = len(sandbox.state.calls_to(STATUS))
        assert asked == m.STATUS_TRIES  # retried by the engine, bounded
        sandbox.state.forced_faults.clear()
        second = results(await run(client, out, timeout=20))["2024-01"]
        assert second.ok, second.error
        assert xml_names(out / "2024-01")


# 4 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("leave", ["break", "raise"])
async def test_leaving_the_loop_without_async_with_stops_billing_and_releases_the_journal(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, leave: str
) -> None:
    import asyncio

    from gigstack_async.bulk.events import Submitted

    sandbox, client = world
    out = tmp_path / "cfdi"
    bulk = client.downloads.bulk(
        "2024-01", "2024-12", rfc_type="received", download_to=out, poll=FAST, concurrency=1
    )
    with pytest.raises(RuntimeError) if leave == "raise" else _nothing():
        async for event in bulk:
            if isinstance(event, Submitted):
                if leave == "break":
                    break
                raise RuntimeError("the consumer's own code failed")
    at_exit = len(sandbox.state.download_requests)
    await asyncio.sleep(0.3)  # a run left going would send its other 11 creates by then
    # At most the create already in flight when the consumer left (concurrency=1).
    assert len(sandbox.state.download_requests) <= at_exit + 1
    # The same folder right away: no bogus JournalLockedError, nothing billed twice.
    done = results(await run(client, out, "2024-01", "2024-12", timeout=20))
    assert all(r.ok for r in done.values())
    assert set(sandbox.state.creates_per_month().values()) == {1}


def _nothing() -> object:
    import contextlib

    return contextlib.nullcontext()


# 6 (#4) -------------------------------------------------------------------------------------


async def test_a_package_get_answered_5xx_is_spent_and_no_third_download_is_sent(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    sandbox.state.force_fault(PACKAGE, "after_502", times=2)  # SAT served, gateway said 502
    first = results(await run(client, out, concurrency=1, timeout=20))["2024-01"]
    assert first.stage == "needs-attention"
    assert "1 of 2 SAT downloads left" in (first.hint or "")
    assert len(sandbox.state.calls_to(PACKAGE)) == 1  # not retried within the run
    second = results(await run(client, out, concurrency=1, timeout=20))["2024-01"]
    # A 502 cannot tell whether SAT served the package: no "no download left" as a fact.
    assert "2 downloads counted, 2 of them may not have reached SAT" in (second.error or "")
    assert "no SAT download left" not in (second.error or "")
    assert f"journal retry-download {out} 2024-01" in (second.hint or "")
    assert f"journal resend {out} 2024-01" in (second.hint or "")
    assert len(sandbox.state.calls_to(PACKAGE)) == 2  # the third GET was never sent
    third = results(await run(client, out, concurrency=1, timeout=20))["2024-01"]
    assert third.stage == "needs-attention"
    assert len(sandbox.state.calls_to(PACKAGE)) == 2  # nor by another run on its own
    assert max(sandbox.state.downloads_per_package().values()) == 2
    # The user allows one more GET: SAT had served it twice and answers 5008 (billed nothing);
    # only then is a resend the way forward, said as a fact.
    from gigstack_async.cli import main

    assert main(["journal", "retry-download", str(out), "2024-01", "--yes"]) == 0
    fourth = results(await run(client, out, concurrency=1, timeout=20))["2024-01"]
    assert len(sandbox.state.calls_to(PACKAGE)) == 3
    assert "SAT 5008" in (fourth.error or "")
    assert f"journal resend {out} 2024-01" in (fourth.hint or "")
    assert "retry-download" not in (fourth.hint or "")
    assert main(["journal", "retry-download", str(out), "2024-01", "--yes"]) == 2
    assert max(sandbox.state.downloads_per_package().values()) == 2
    assert len(sandbox.state.download_requests) == 1


def test_download_counts_hold_one_entry_per_package() -> None:
    state = m.MonthState(
        "2024-01", *_month(1), "received", "cfdi", stage=m.Stage.COMPLETED, request_id="R",
        checked=True, package_ids=("P",), downloads=(("P", 0), ("P", 1)),
    )  # fmt: skip
    state, _ = m.transition(state, m.PackageSending("P"))
    assert state.downloads == (("P", 2),)
    state, _ = m.transition(state, m.PackageSending("P"))
    assert state.downloads == (("P", 2),)  # refused: SAT's budget is spent


# 5 (#1/(b)) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("server_profile", ["agree", "documented-fields", "cfdi-only-history"])
async def test_a_2xx_create_with_an_unreadable_body_is_never_sent_again(
    tmp_path: Path, server_profile: str
) -> None:
    from gigstack_async.errors import BilledResponseValidationError

    out = tmp_path / "cfdi"
    config = SandboxConfig(speed=3000, seed=11, profile=profile(server_profile))
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        create, history = client.downloads.create_request, client.downloads.history
        snapshots: list[object] = []

        async def garbled(**kw: object) -> object:
            await create(**kw)  # type: ignore[arg-type]
            raise BilledResponseValidationError(
                "200 body unreadable", status=200, body=b"<html>ok</html>", json_body=None
            )

        async def lagging(*a: object, **kw: object) -> object:  # one call behind
            snapshots.append(await history(*a, **kw))  # type: ignore[arg-type]
            return snapshots[max(0, len(snapshots) - 2)]

        client.downloads.create_request = garbled  # type: ignore[assignment,method-assign]
        client.downloads.history = lagging  # type: ignore[assignment,method-assign]
        for _ in range(2):
            await run(client, out, timeout=3)
        assert len(sandbox.state.download_requests) == 1


@pytest.mark.parametrize(
    ("server_profile", "start"), [("agree", "2024-01"), ("cfdi-only-history", "2024-01")]
)
async def test_a_lagging_or_filtered_history_proves_no_absence(
    tmp_path: Path, server_profile: str, start: str
) -> None:
    out = tmp_path / "cfdi"
    config = SandboxConfig(speed=3000, seed=11, profile=profile(server_profile))
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        history = client.downloads.history
        snapshots: list[object] = []

        async def lagging(*a: object, **kw: object) -> object:
            snapshots.append(await history(*a, **kw))  # type: ignore[arg-type]
            return snapshots[max(0, len(snapshots) - 3)]

        client.downloads.history = lagging  # type: ignore[assignment,method-assign]
        sandbox.state.force_fault("createDownloadRequest", "after_502", times=1)
        bulk = client.downloads.bulk(
            start, start, rfc_type="received", request_type="metadata", download_to=out, poll=FAST,
            timeout=3,
        )  # fmt: skip
        async with bulk:
            done = results([e async for e in bulk])[start]
        assert len(sandbox.state.download_requests) == 1  # created once, whatever the history
        assert done.stage in ("needs-attention", "submitted", "processing", "completed", "done")


# 8 (#13) ------------------------------------------------------------------------------------


async def test_next_day_resume_never_reports_a_clipped_month_ok(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, date, datetime

    import gigstack_async._validation as validation
    import gigstack_async.bulk.plan as plan

    def today(day: date) -> None:
        monkeypatch.setattr(plan, "today_mx", lambda now=None: day)
        monkeypatch.setattr(validation, "today_mx", lambda now=None: day)

    out = tmp_path / "cfdi"
    config = SandboxConfig(speed=3000, seed=5, start=datetime(2025, 6, 20, 18, tzinfo=UTC))
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        today(date(2025, 6, 10))
        assert results(await run(client, out, "2025-05", "2025-12"))["2025-06"].ok
        today(date(2025, 6, 20))
        again = results(await run(client, out, "2025-05", "2025-12"))
        assert again["2025-05"].ok
        june = again["2025-06"]
        assert not june.ok  # 06-11..06-20 were never requested
        assert "2025-06-01..2025-06-10" in (june.error or "")
        assert f"journal resend {out} 2025-06" in (june.hint or "")  # newcomer 9k #3
        # Following the advice requests the plan's dates.
        with JournalStore.open_existing(out / ".gigstack-journal.sqlite3") as store:
            store.put(m.transition(store.get("2025-06"), m.AllowResend())[0])
        third = results(await run(client, out, "2025-05", "2025-12"))["2025-06"]
        assert third.ok, third.error
        last = sandbox.state.download_requests[-1]
        assert (str(last.criteria.start_date), str(last.criteria.end_date)) == (
            "2025-06-01",
            "2025-06-20",
        )


# 9 (#17) ------------------------------------------------------------------------------------


async def test_sat_5003_can_be_followed_by_splitting_the_period_in_the_same_folder(
    tmp_path: Path,
) -> None:
    from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile

    out = tmp_path / "cfdi"
    rule = SatCodeRule(5003, month="2024-03", times=1)
    config = SandboxConfig(speed=3000, seed=3, profile=ServerProfile(sat_codes=(rule,)))
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        full = results(await run(client, out, "2024-03", "2024-03"))["2024-03"]
        assert full.stage == "sat-failed"
        assert "split the period" in (full.hint or "")
        half = results(await run(client, out, "2024-03-01", "2024-03-15"))["2024-03"]
        assert half.ok, half.error
        dates = [
            (str(r.criteria.start_date), str(r.criteria.end_date))
            for r in sandbox.state.download_requests
        ]
        assert dates[-1] == ("2024-03-01", "2024-03-15")  # the plan's dates, not the old ones


def test_an_unknown_month_that_needs_attention_is_reconciled_by_the_next_run() -> None:
    state = m.MonthState("2024-01", *_month(1), "received", "cfdi")
    state, _ = m.transition(state, m.Send((), generation=7))
    state, _ = m.transition(state, m.CreateUnknown("502", generation=7))
    state, _ = m.transition(state, m.HistorySeen((), generation=8))  # lagging: nothing listed
    assert state.stage is m.Stage.NEEDS_ATTENTION
    state, _ = m.transition(state, m.Start())  # the next run numbers its histories from 1
    ours = m.Seen("R9", "pending", "received", "cfdi", *_month(1))  # type: ignore[arg-type]
    state, _ = m.transition(state, m.HistorySeen((ours,), generation=1))
    assert (state.stage, state.request_id) == (m.Stage.SUBMITTED, "R9")
