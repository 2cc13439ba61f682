"""Exactly once per event id: the stores, run_once, concurrency, failures, several processes."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gigstack_async.webhooks import (
    InMemorySeenEventStore,
    Outcome,
    SeenEventStore,
    SqliteSeenEventStore,
    run_once,
)

StoreFactory = Callable[[], SeenEventStore]


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Each call: the same in-memory store, or a new SQLite store (a new worker) on one file."""
    if request.param == "memory":
        shared = InMemorySeenEventStore()
        yield lambda: shared
        return
    opened: list[SqliteSeenEventStore] = []

    def open_store() -> SeenEventStore:
        opened.append(SqliteSeenEventStore(tmp_path / "seen.sqlite3"))
        return opened[-1]

    yield open_store
    for store in opened:
        store.close()


async def test_a_handler_runs_once_per_event_id(make_store: StoreFactory) -> None:
    store = make_store()
    calls: list[str] = []

    async def handler() -> None:
        calls.append("ran")

    assert await run_once(store, "evt_1", handler) is Outcome.PROCESSED
    assert await run_once(make_store(), "evt_1", handler) is Outcome.DUPLICATE
    assert await run_once(store, "evt_2", handler) is Outcome.PROCESSED
    assert calls == ["ran", "ran"]
    assert isinstance(store, SeenEventStore)


async def test_concurrent_duplicates_run_the_handler_once(make_store: StoreFactory) -> None:
    store = make_store()
    started = asyncio.Event()
    release = asyncio.Event()
    calls = 0

    async def slow() -> None:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()

    first = asyncio.create_task(run_once(store, "evt_1", slow))
    await started.wait()
    others = await asyncio.gather(*(run_once(make_store(), "evt_1", slow) for _ in range(5)))
    assert set(others) == {Outcome.IN_PROGRESS}
    release.set()
    assert await first is Outcome.PROCESSED
    assert await run_once(store, "evt_1", slow) is Outcome.DUPLICATE
    assert calls == 1


async def test_a_failed_handler_releases_its_claim_so_a_retry_runs_it(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    attempts = 0

    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        await run_once(store, "evt_1", flaky)
    assert await run_once(store, "evt_1", flaky) is Outcome.PROCESSED
    assert await run_once(store, "evt_1", flaky) is Outcome.DUPLICATE
    assert attempts == 2


async def test_a_cancelled_handler_releases_its_claim(make_store: StoreFactory) -> None:
    store = make_store()
    task = asyncio.create_task(run_once(store, "evt_1", lambda: asyncio.sleep(60)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.claim("evt_1") == "claimed"


async def test_an_abandoned_claim_is_taken_over_after_its_lease(make_store: StoreFactory) -> None:
    store = make_store()
    assert await store.claim("evt_1", lease=1.0) == "claimed"  # then the process "dies"
    assert await store.claim("evt_1", lease=1.0) == "in_progress"
    await asyncio.sleep(1.1)
    assert await store.claim("evt_1") == "claimed"


def test_sqlite_refuses_a_memory_database() -> None:
    with pytest.raises(ValueError, match="file"):
        SqliteSeenEventStore(":memory:")


async def test_sqlite_uses_wal_and_survives_a_restart(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "seen.sqlite3"
    first = SqliteSeenEventStore(path)
    await first.complete("evt_1")
    first.close()
    first.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await first.claim("evt_2")
    probe = sqlite3.connect(path)
    assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    probe.close()
    again = SqliteSeenEventStore(path, synchronous="NORMAL")
    assert await again.claim("evt_1") == "done"
    again.close()


def test_sqlite_synchronous_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteSeenEventStore(tmp_path / "s.db", synchronous="OFF")  # type: ignore[arg-type]


async def test_sqlite_ttl_purges_old_completed_ids(tmp_path: Path) -> None:
    now = [1000.0]
    store = SqliteSeenEventStore(tmp_path / "s.db", ttl=60, clock=lambda: now[0])
    await store.complete("old")
    now[0] += 120
    await store.complete("new")
    assert await store.purge() == 1
    assert await store.claim("old") == "claimed"
    assert await store.claim("new") == "done"
    store.close()


WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from gigstack_async.webhooks import SqliteSeenEventStore, run_once

    async def main() -> None:
        store = SqliteSeenEventStore(sys.argv[1])
        log = sys.argv[2]

        async def handler(event_id: str) -> None:
            with open(log, "a") as f:
                f.write(event_id + "\\n")
            await asyncio.sleep(0.01)

        for i in range(40):
            event_id = f"evt_{i}"
            await run_once(store, event_id, lambda: handler(event_id))
        store.close()

    asyncio.run(main())
    """
)


async def test_sqlite_is_exactly_once_across_processes(tmp_path: Path) -> None:
    db, log = tmp_path / "seen.sqlite3", tmp_path / "ran.log"
    SqliteSeenEventStore(db).close()  # the schema exists before the workers race
    processes = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", WORKER, str(db), str(log))
        for _ in range(3)
    ]
    codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), 60)
    assert codes == [0, 0, 0]
    ran = log.read_text().split()
    assert sorted(ran) == sorted(f"evt_{i}" for i in range(40))  # each once, none lost
