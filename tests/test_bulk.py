"""The monthly fan-out against the sandbox: complete, resumable, never double-billed."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gigstack_async import (
    GigstackClient,
    InternalServerError,
    InvalidParameterError,
    RateLimitError,
)
from gigstack_async.bulk.engine import RESUBMIT_BACKOFF_CAP, resubmit_delay
from gigstack_async.bulk.events import (
    MonthFailed,
    MonthResult,
    PackageDownloaded,
    StateChanged,
    Submitted,
)
from gigstack_async.bulk.watch import DownloadWatchTimeout, PollSchedule, snapshot
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig

FAST = PollSchedule(initial=0.02, factor=1.5, maximum=0.1, jitter=0.0)
YEAR = ("2024-01", "2024-12")


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxConfig(speed=3000, seed=7)) as running:
        yield running


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[GigstackClient]:
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as running:
        yield running


def _creations(sandbox: Sandbox) -> Counter[tuple[str, str]]:
    """How many download requests the server created per (start, end)."""
    return Counter(
        (str(r.criteria.start_date), str(r.criteria.end_date))
        for r in sandbox.state.download_requests
    )


def _uuids_on_disk(folder: Path) -> set[str]:
    return {path.stem.upper() for path in folder.rglob("*.xml")}


def _ground_truth(sandbox: Sandbox) -> set[str]:
    return {uuid.upper() for uuids in sandbox.state.ground_truth.values() for uuid in uuids}


async def _run(client: GigstackClient, tmp_path: Path, **kwargs: object) -> list[object]:
    run = client.downloads.bulk(
        *YEAR,
        rfc_type="received",
        download_to=tmp_path / "cfdi",
        journal=tmp_path / "journal.json",
        poll=FAST,
        **kwargs,  # type: ignore[arg-type]
    )
    async with run:
        return [event async for event in run]


async def test_a_year_completes_each_month_created_once_and_every_cfdi_written(
    sandbox: Sandbox, client: GigstackClient, tmp_path: Path
) -> None:
    events = await _run(client, tmp_path)

    results = [e for e in events if isinstance(e, MonthResult)]
    assert sorted(r.key for r in results) == [f"2024-{m:02d}" for m in range(1, 13)]
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert all(count == 1 for count in _creations(sandbox).values())
    assert len(_creations(sandbox)) == 12
    assert _uuids_on_disk(tmp_path / "cfdi") == _ground_truth(sandbox)
    assert sum(r.invoice_count or 0 for r in results) == len(_ground_truth(sandbox))
    for result in results:
        assert all(path.parent == tmp_path / "cfdi" / result.key for path in result.files)
        assert len(result.files) == result.invoice_count
    assert {e.key for e in events if isinstance(e, Submitted)} == {r.key for r in results}
    assert any(isinstance(e, StateChanged) for e in events)
    assert any(isinstance(e, PackageDownloaded) for e in events)
    assert not list((tmp_path / "cfdi").rglob(".*"))  # no temp files left behind


async def test_plan_is_shown_before_anything_is_sent(
    sandbox: Sandbox, client: GigstackClient, tmp_path: Path
) -> None:
    run = client.downloads.bulk("2024-01-15", "2024-03-10", rfc_type="issued")
    assert [(s.key, str(s.start_date), str(s.end_date)) for s in run.plan] == [
        ("2024-01", "2024-01-15", "2024-01-31"),
        ("2024-02", "2024-02-01", "2024-02-29"),
        ("2024-03", "2024-03-01", "2024-03-10"),
    ]
    assert "3 monthly requests" in run.plan.describe()
    assert sandbox.state.calls == []


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"rfc_type": "sent"}, "rfc_type"),
        ({"request_type": "pdf"}, "request_type"),
        ({"concurrency": 0}, "concurrency"),
        ({"timeout": -1}, "timeout"),
    ],
)
async def test_bad_bulk_arguments_fail_before_any_request(
    sandbox: Sandbox, client: GigstackClient, bad: dict[str, object], field: str
) -> None:
    kwargs: dict[str, object] = {"rfc_type": "received", **bad}
    with pytest.raises(InvalidParameterError, match=field):
        client.downloads.bulk(*YEAR, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        client.downloads.bulk("2024-05", "2024-02", rfc_type="received")
    with pytest.raises(InvalidParameterError):
        client.downloads.bulk("2015-01", "2015-12", rfc_type="received")  # past the 71 months
    assert sandbox.state.calls == []


@pytest.mark.parametrize("stop_after", [1, 4, 13, 30])
async def test_interrupted_runs_resume_without_resubmitting(
    sandbox: Sandbox, client: GigstackClient, tmp_path: Path, stop_after: int
) -> None:
    sandbox.clock.speed = 300  # slow enough that the first run is cut mid-flight
    run = client.downloads.bulk(
        *YEAR,
        rfc_type="received",
        download_to=tmp_path / "cfdi",
        journal=tmp_path / "journal.json",
        poll=FAST,
    )
    seen = 0
    async with run:
        async for _event in run:
            seen += 1
            if seen >= stop_after:
                break
    created_before = _creations(sandbox)

    sandbox.clock.speed = 3000
    events = await _run(client, tmp_path)

    results = [e for e in events if isinstance(e, MonthResult)]
    assert len(results) == 12
    assert all(r.ok for r in results)
    creations = _creations(sandbox)
    assert len(creations) == 12
    assert set(creations.values()) == {1}
    assert all(creations[k] == 1 for k in created_before)
    resumed = {e.key for e in events if isinstance(e, Submitted) and e.resumed}
    assert resumed == {f"{s[:7]}" for s, _ in created_before}
    assert _uuids_on_disk(tmp_path / "cfdi") == _ground_truth(sandbox)


async def test_a_lost_create_response_is_adopted_not_paid_twice(
    sandbox: Sandbox, client: GigstackClient, tmp_path: Path
) -> None:
    # The server creates the request, then the connection drops before the answer.
    sandbox.state.force_fault("createDownloadRequest", "after_drop")
    events = await _run(client, tmp_path)

    assert all(r.ok for r in events if isinstance(r, MonthResult))
    assert len(sandbox.state.calls_to("createDownloadRequest")) == 12
    assert set(_creations(sandbox).values()) == {1}
    # Each month sent now, the lost one adopted from the history in this same run: none of
    # them is "resumed" (found in the journal, not sent now; newcomer 9k #5).
    submitted = [e for e in events if isinstance(e, Submitted)]
    assert len({e.key for e in submitted}) == 12
    assert not any(e.resumed for e in submitted)


async def test_a_refused_create_needs_the_user_then_journal_resend_sends_it_once(
    sandbox: Sandbox, client: GigstackClient, tmp_path: Path
) -> None:
    # A 500 before the handler: nothing was created. The history lists a request of this kind
    # older than the attempt and the run's later creates, not the attempt: before, that proved
    # it absent and the run sent it again. A history that does not list a create proves
    # nothing (it may be listed late, or kept by another order: reviews 9l, 9p, 9q), so the
    # month needs the user; the others finish. The user finds nothing in the dashboard and
    # resends: the next run sends that month once.
    await _an_older_request(client)
    sandbox.state.force_fault("createDownloadRequest", "500")
    events = await _run(client, tmp_path)

    results = [r for r in events if isinstance(r, MonthResult)]
    left = [r for r in results if not r.ok]
    assert [r.stage for r in left] == ["needs-attention"], [(r.key, r.error) for r in left]
    assert "cannot tell whether it arrived" in (left[0].error or "")
    assert len(results) == 12
    assert len(sandbox.state.calls_to("createDownloadRequest")) == 1 + 12
    assert len(_creations(sandbox)) == 1 + 11
    assert set(_creations(sandbox).values()) == {1}

    argv = ["journal", "resend", str(tmp_path / "journal.json"), left[0].key, "--yes"]
    assert await asyncio.to_thread(main, argv) == 0
    events = await _run(client, tmp_path)

    assert all(r.ok for r in events if isinstance(r, MonthResult))
    assert len(sandbox.state.calls_to("createDownloadRequest")) == 1 + 13
    assert len(_creations(sandbox)) == 13
    assert set(_creations(sandbox).values()) == {1}


async def _an_older_request(client: GigstackClient) -> None:
    await client.downloads.create_request(
        start_date="2023-12-01", end_date="2023-12-31", rfc_type="received"
    )


async def test_a_definite_refusal_fails_every_month_and_creates_nothing(
    tmp_path: Path,
) -> None:
    async with (
        Sandbox(SandboxConfig(speed=3000, ready=False)) as blank,
        GigstackClient(blank.api_key, base_url=blank.base_url) as client,
    ):
        events = await _run(client, tmp_path)
        results = [e for e in events if isinstance(e, MonthResult)]
        assert len(results) == 12
        assert all(r.error and r.state is None and r.request_id is None for r in results)
        assert len([e for e in events if isinstance(e, MonthFailed)]) == 12
        assert blank.state.download_requests == []
        assert len(blank.state.calls_to("createDownloadRequest")) == 12


async def test_one_failing_month_does_not_stop_the_others(
    sandbox: Sandbox, client: GigstackClient, tmp_path: Path
) -> None:
    # A package body cut short may have spent one of SAT's 2 downloads: it is never retried in
    # the run, so it fails the month it hits (with a way forward) and no other.
    sandbox.state.force_fault("downloadPackage", "after_truncate", times=1)
    events = await _run(client, tmp_path, concurrency=1)

    results = {e.key: e for e in events if isinstance(e, MonthResult)}
    failed = [r for r in results.values() if not r.ok]
    assert len(results) == 12
    assert len(failed) == 1
    assert failed[0].stage == "needs-attention"
    assert "1 of 2 SAT downloads left" in (failed[0].hint or "")
    assert len([r for r in results.values() if r.ok]) == 11

    # Re-running finishes the failed month without creating anything new.
    again = await _run(client, tmp_path)
    assert all(r.ok for r in again if isinstance(r, MonthResult))
    assert set(_creations(sandbox).values()) == {1}
    assert _uuids_on_disk(tmp_path / "cfdi") == _ground_truth(sandbox)


async def test_a_package_error_answer_spends_a_download_and_is_not_retried_in_the_run(
    sandbox: Sandbox, client: GigstackClient, tmp_path: Path
) -> None:
    # A 503 may come from a gateway after SAT served the package: it counts as spent (review
    # finding 6), is not retried in the run, and the next run uses the download left.
    sandbox.state.force_fault("downloadPackage", "503", times=2)
    first = [r for r in await _run(client, tmp_path, concurrency=1) if isinstance(r, MonthResult)]
    assert not all(r.ok for r in first)
    assert all("1 of 2 SAT downloads left" in (r.hint or "") for r in first if not r.ok)
    second = await _run(client, tmp_path, concurrency=1)
    assert all(r.ok for r in second if isinstance(r, MonthResult))
    assert max(sandbox.state.downloads_per_package().values()) == 1
    assert _uuids_on_disk(tmp_path / "cfdi") == _ground_truth(sandbox)


async def test_without_download_to_months_finish_at_completed(
    sandbox: Sandbox, client: GigstackClient
) -> None:
    run = client.downloads.bulk("2024-01", "2024-03", rfc_type="issued", poll=FAST)
    results = [e async for e in run if isinstance(e, MonthResult)]
    assert {r.state for r in results} == {"completed"}
    assert all(r.files == () and r.invoice_count for r in results)
    assert sandbox.state.calls_to("downloadPackage") == []


async def test_watching_many_requests_costs_one_history_call(
    sandbox: Sandbox, client: GigstackClient
) -> None:
    ids = []
    for month in range(1, 13):
        created = await client.downloads.create_request(
            start_date=f"2024-{month:02d}-01",
            end_date=f"2024-{month:02d}-28",
            rfc_type="received",
        )
        ids.append(created.request_id)
    before = len(sandbox.state.calls)
    records = await snapshot(client.downloads, ids)
    assert set(records) == set(ids)
    new_calls = [c.operation_id for c in sandbox.state.calls[before:]]
    assert new_calls == ["getDownloadHistory"]


async def test_requests_outside_the_history_window_fall_back_to_status(tmp_path: Path) -> None:
    config = SandboxConfig(speed=3000, history_limit=5)
    async with (
        Sandbox(config) as small,
        GigstackClient(small.api_key, base_url=small.base_url) as client,
    ):
        ids = [
            (
                await client.downloads.create_request(
                    start_date=f"2024-{m:02d}-01", end_date=f"2024-{m:02d}-10", rfc_type="issued"
                )
            ).request_id
            for m in range(1, 9)
        ]
        before = len(small.state.calls)
        records = await snapshot(client.downloads, ids)
        assert [records[i].id for i in ids] == ids
        new_calls = Counter(c.operation_id for c in small.state.calls[before:])
        assert new_calls == {"getDownloadHistory": 1, "getDownloadRequestStatus": 3}


async def test_watch_yields_each_state_change_until_completed(
    sandbox: Sandbox, client: GigstackClient
) -> None:
    sandbox.clock.speed = 1000
    created = await client.downloads.create_request(
        start_date="2024-02-01", end_date="2024-02-29", rfc_type="received"
    )
    states = [u.status async for u in client.downloads.watch(created.request_id, poll=FAST)]
    assert states[-1] == "completed"
    assert len(states) == len(set(states))  # only changes are yielded
    final = await client.downloads.wait(created.request_id, poll=FAST)
    assert final.status == "completed"
    assert final.invoice_count is not None


async def test_watch_deadline_raises_with_the_last_known_state(
    sandbox: Sandbox, client: GigstackClient
) -> None:
    sandbox.clock.speed = 0  # time stands still: the request never leaves `pending`
    created = await client.downloads.create_request(
        start_date="2024-02-01", end_date="2024-02-29", rfc_type="received"
    )
    with pytest.raises(DownloadWatchTimeout) as caught:
        await client.downloads.wait(created.request_id, poll=FAST, timeout=0.2)
    assert caught.value.last_state == "pending"
    assert created.request_id in str(caught.value)


async def test_duplicate_requests_are_reported_not_raised(
    sandbox: Sandbox, client: GigstackClient
) -> None:
    sandbox.clock.speed = 0
    first = await client.downloads.create_request(
        start_date="2024-03-01", end_date="2024-03-31", rfc_type="issued"
    )
    second = await client.downloads.create_request(
        start_date="2024-03-01", end_date="2024-03-31", rfc_type="issued"
    )
    assert first.duplicate is False
    assert second.duplicate is True
    assert second.request_id == first.request_id
    assert len(sandbox.state.download_requests) == 1


async def test_a_rate_limited_create_is_never_sent_again_by_the_run(
    sandbox: Sandbox, client: GigstackClient, tmp_path: Path
) -> None:
    # A 429 to a create stays "maybe processed" (tests/bulk/test_review_9b_money.py): before,
    # it was sent again once the history "proved" it absent (see _an_older_request). Now a
    # history that does not list it proves nothing: the month needs the user, and the same
    # call again sends nothing for it.
    await _an_older_request(client)
    sandbox.state.force_fault("createDownloadRequest", "429")
    for _ in range(2):
        events = await _run(client, tmp_path)
        left = [r for r in events if isinstance(r, MonthResult) and not r.ok]
        assert [r.stage for r in left] == ["needs-attention"], [(r.key, r.error) for r in left]
        assert "429" in (left[0].error or "")
        assert "journal resend" in (left[0].hint or "")
        assert len(sandbox.state.calls_to("createDownloadRequest")) == 1 + 12
        assert set(_creations(sandbox).values()) == {1}


def test_resubmission_waits_for_retry_after_else_backs_off() -> None:
    limited = RateLimitError("slow down", status=429)
    limited.retry_after = 7.0
    assert resubmit_delay(0, limited) == 7.0
    limited.retry_after = 3600.0
    assert resubmit_delay(0, limited) == RESUBMIT_BACKOFF_CAP
    refused = InternalServerError("boom", status=503)
    delays = [resubmit_delay(n, refused) for n in range(8)]
    assert 0.375 <= delays[0] <= 0.5
    assert all(d <= RESUBMIT_BACKOFF_CAP for d in delays)
    assert delays[4] > delays[0]
