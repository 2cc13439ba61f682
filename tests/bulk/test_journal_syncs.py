"""The journal is fsynced before what bills, spends or destroys, and not for anything else.

Each fsynced commit blocks the event loop for a disk flush (0.2 ms on a quiet disk, tens of ms
on a busy one), so the fan-out's package tail pays for every unneeded one. Counted, not timed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import AsyncIterable
from pathlib import Path
from typing import Any

import pytest

import gigstack_async.bulk.engine as engine
from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import STAGING_DIR
from gigstack_async.bulk.events import MonthResult
from gigstack_async.bulk.store import JournalStore
from gigstack_async.bulk.watch import PollSchedule
from gigstack_async.resources.downloads import Downloads
from gigstack_async.sandbox import Sandbox, SandboxConfig
from tests.bulk._support import JOURNAL, PACKAGE

FAST = PollSchedule(initial=0.02, factor=1.5, maximum=0.1, jitter=0.0)


class Recorder:
    """What the engine did to the journal, the staging folder and the package GETs, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.steps: list[tuple[str, str]] = []
        real_put, real_sync, real_unlink = JournalStore.put, JournalStore.sync, Path.unlink
        real_fetch = Downloads.fetch_package_to
        steps = self.steps

        def put(store: JournalStore, state: m.MonthState, *, fsync: bool = True) -> None:
            known = store.keys()
            old = store.get(state.key) if state.key in known else None
            real_put(store, state, fsync=fsync)
            if old != state:
                steps.append(("durable" if fsync else "put", _why(old, state)))
                if old is not None:
                    steps.extend(
                        ("counted", p) for p, n in state.downloads if n > old.downloads_of(p)
                    )

        async def fetch(downloads: Downloads, package_id: str, *a: Any, **k: Any) -> Any:
            steps.append(("get", package_id))
            return await real_fetch(downloads, package_id, *a, **k)

        def sync(store: JournalStore) -> None:
            real_sync(store)
            steps.append(("durable", "sync"))

        def unlink(path: Path, missing_ok: bool = False) -> None:
            if path.parent.name == STAGING_DIR:
                steps.append(("unlink", path.name))
            real_unlink(path, missing_ok=missing_ok)

        monkeypatch.setattr(JournalStore, "put", put)
        monkeypatch.setattr(JournalStore, "sync", sync)
        monkeypatch.setattr(Path, "unlink", unlink)
        monkeypatch.setattr(Downloads, "fetch_package_to", fetch)

    def durable(self) -> Counter[str]:
        return Counter(why for kind, why in self.steps if kind == "durable")


def _why(old: m.MonthState | None, new: m.MonthState) -> str:
    if old is not None and new.downloads != old.downloads:
        return "package GET counted"
    if old is not None and len(new.extracted) > len(old.extracted):
        return "extracted"
    return new.stage.value


async def bulk(client: GigstackClient, out: Path, end: str = "2024-03") -> list[MonthResult]:
    run = client.downloads.bulk("2024-01", end, rfc_type="received", download_to=out, poll=FAST)
    async with run:
        return [e async for e in run if isinstance(e, MonthResult)]


async def test_the_journal_is_synced_before_each_create_and_package_get_and_before_deletes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder(monkeypatch)
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        results = await bulk(client, tmp_path / "cfdi")
        packages = len(sandbox.state.downloads_per_package())

    assert [r.ok for r in results] == [True] * 3
    assert packages == 3
    # One durable commit per create (the intent); each package GET leaves only once its count
    # is durable (a sync after it, shared by the GETs ready together); the recorded extractions
    # share the commits that follow them: nothing for polling, completion, staging or each
    # extraction.
    durable = recorder.durable()
    assert durable["submitting"] == 3
    assert durable["extracted"] == 0
    assert set(durable) <= {"submitting", "sync"}
    steps = recorder.steps
    gets = [i for i, (kind, _) in enumerate(steps) if kind == "get"]
    assert len(gets) == 3
    for index in gets:
        counted = max(i for i, s in enumerate(steps[:index]) if s == ("counted", steps[index][1]))
        assert ("durable", "sync") in steps[counted + 1 : index]
    assert durable["sync"] <= len(gets) + 1
    # Every staged ZIP is deleted, each only after a durable commit that follows the
    # record of its extraction.
    unlinked = [i for i, (kind, _) in enumerate(steps) if kind == "unlink"]
    assert len(unlinked) == 3
    for index in unlinked:
        recorded = max(i for i, s in enumerate(steps[:index]) if s[1] == "extracted")
        assert any(kind == "durable" for kind, _ in steps[recorded + 1 : index])
    assert not (tmp_path / "cfdi" / STAGING_DIR).exists()


async def test_package_gets_made_ready_together_share_one_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Four months complete in one history call, four GET slots (the default concurrency): their
    # counts are fsynced together, not one fsynced commit each, in turn, blocking the event
    # loop before the first GET may leave (the fan-out's package tail). On a loaded machine the
    # months may complete in different history calls: the run is repeated (a fresh folder)
    # until two packages are made ready together, which is what is checked.
    for attempt in range(6):
        recorder = Recorder(monkeypatch)
        async with (
            Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
            GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
        ):
            results = await bulk(client, tmp_path / f"cfdi{attempt}", end="2024-04")
        monkeypatch.undo()

        assert [r.ok for r in results] == [True] * 4
        steps = recorder.steps
        first_get = next(i for i, (kind, _) in enumerate(steps) if kind == "get")
        first_count = next(i for i, (kind, _) in enumerate(steps) if kind == "counted")
        window = steps[first_count:first_get]
        # Each GET leaves only after a durable commit that follows its own count.
        for index in (i for i, (kind, _) in enumerate(steps) if kind == "get"):
            counted = max(
                i for i, s in enumerate(steps[:index]) if s == ("counted", steps[index][1])
            )
            assert any(kind == "durable" for kind, _ in steps[counted + 1 : index])
        if sum(1 for kind, _ in window if kind == "counted") >= 2:  # ready together
            assert [s for s in window if s[0] == "durable"] == [("durable", "sync")]
            return
    pytest.fail("no run made two package downloads ready together (machine too loaded?)")


async def test_a_staged_zip_left_after_its_extraction_was_recorded_is_deleted_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "cfdi"
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        with monkeypatch.context() as patch:
            # A run killed between recording an extraction and the sync its delete waits for.
            patch.setattr("gigstack_async.bulk.engine._Run._delete_staged", lambda *a, **k: None)
            first = await bulk(client, out, end="2024-01")
        assert [r.ok for r in first] == [True]
        (left,) = (out / STAGING_DIR).iterdir()
        recorder = Recorder(monkeypatch)

        again = await bulk(client, out, end="2024-01")

    assert [r.ok for r in again] == [True]
    assert not left.exists()
    assert recorder.steps[:2] == [("durable", "sync"), ("unlink", left.name)]
    assert sandbox.state.downloads_per_package()[left.name[len("2024-01-") : -4]] == 1


async def test_at_most_two_packages_are_extracted_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = threading.Lock()
    running = [0]
    most = [0]
    real = engine.extract_staged

    def extract(*args: object, **kwargs: object) -> object:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.2)  # a slow disk: every package is staged before one is extracted
            return real(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(engine, "extract_staged", extract)
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        results = await bulk(client, tmp_path / "cfdi", end="2024-05")

    assert [r.ok for r in results] == [True] * 5
    assert engine.EXTRACTIONS_AT_ONCE == 2
    assert 1 <= most[0] <= 2


async def test_a_run_stopped_while_a_count_waits_for_its_fsync_sends_nothing_and_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "cfdi"
    waiting = asyncio.Event()
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        with monkeypatch.context() as patch:
            # The fsync the package GET waits for never comes: the run is stopped meanwhile.
            patch.setattr(engine._Run, "_sync_now", lambda run, waiter: waiting.set())
            run = client.downloads.bulk(
                "2024-01", "2024-01", rfc_type="received", download_to=out, poll=FAST
            )
            async with run:
                consumer = asyncio.create_task(_drain(run))
                await asyncio.wait_for(waiting.wait(), 30)
                consumer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await consumer
        # Not sent, and not counted: SAT's budget of the package is whole.
        assert sandbox.state.calls_to(PACKAGE) == []
        with JournalStore.open_readonly(out / JOURNAL) as store:
            counts = store.get("2024-01").downloads
        assert counts
        assert all(n == 0 for _package, n in counts)

        again = await bulk(client, out, end="2024-01")
        served = sandbox.state.downloads_per_package()

    assert [r.ok for r in again] == [True]
    assert list(served.values()) == [1]


async def _drain(run: AsyncIterable[object]) -> None:
    async for _event in run:
        pass
