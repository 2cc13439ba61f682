"""Issue #9 item 3, review 9w #10: after `timeout=` nothing new is sent, even by a create or a
package GET that was queued for a concurrency slot before the deadline.

Only the run's main loop used to notice the deadline, between history reads; a `_send` or
`fetch` task waiting on the slot checked that flag alone, so while the loop sat in a slow
history read past the deadline, each slot freed sent the next create (billed) or package GET
(SAT's budget of two). Here the sandbox's clock is stopped (`speed=0`), one month stays
pending so every tick reads the history, and the first call (create or GET) is held past the
deadline on its way to the client's pipeline: the engine let it through before the deadline,
and the pipeline refuses it after (review h2 #1: the pipeline checks the run's deadline right
before each attempt leaves). That tick's history read waits until the held call is answered,
then until another call of its kind leaves (the old code's bug) or half a second passes. The
assertions are on order and counts, never on speed: no call may leave after the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk.store import JournalStore
from gigstack_async.sandbox import Sandbox, SandboxConfig
from tests.bulk._support import CREATE, JOURNAL, calls, results, run, world_of

TIMEOUT = 0.5


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    # A stopped clock: a request stays pending until the test advances it.
    async with world_of(SandboxConfig(speed=0, seed=11)) as both:
        yield both


class Held:
    """The first call of a kind is held `TIMEOUT` s before it is sent on (so it goes on after
    the run's deadline, which is at most `TIMEOUT` s after it was called); a history read that
    starts meanwhile waits for its answer, then for the next call of the kind (or 0.5 s).
    `late` counts the calls that left after the deadline: once the held one was sent on (its
    slot is freed as its answer arrives)."""

    def __init__(self) -> None:
        self.calls = 0
        self.late = 0
        self.held_started = asyncio.Event()
        self.past_deadline = asyncio.Event()
        self.held_answered = asyncio.Event()
        self.another = asyncio.Event()

    async def call(self, send: object, *args: object, **kwargs: object) -> object:
        self.calls += 1
        if self.past_deadline.is_set():
            self.late += 1
            self.another.set()
        if self.calls == 1:
            self.held_started.set()
            try:
                await asyncio.sleep(TIMEOUT)  # the run's deadline passes meanwhile
                self.past_deadline.set()
                return await send(*args, **kwargs)  # type: ignore[operator]
            finally:
                self.held_answered.set()
        return await send(*args, **kwargs)  # type: ignore[operator]

    async def history_gate(self) -> None:
        if self.held_started.is_set() and not self.held_answered.is_set():
            await self.held_answered.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.another.wait(), 0.5)


def hold(monkeypatch: pytest.MonkeyPatch, client: GigstackClient, name: str) -> Held:
    """Hold the first `client.downloads.<name>` call, and the history reads meanwhile."""
    held = Held()
    send = getattr(client.downloads, name)
    history = client.downloads.history

    async def held_call(*args: object, **kwargs: object) -> object:
        return await held.call(send, *args, **kwargs)

    async def gated_history(*args: object, **kwargs: object) -> object:
        await held.history_gate()
        return await history(*args, **kwargs)

    monkeypatch.setattr(client.downloads, name, held_call)
    monkeypatch.setattr(client.downloads, "history", gated_history)
    return held


async def test_no_create_leaves_a_concurrency_slot_after_the_deadline(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    # December is created and stays pending: every tick of the next run reads the history.
    await run(client, out, "2024-12", "2024-12", timeout=0.3)
    assert calls(sandbox, CREATE) == 1

    held = hold(monkeypatch, client, "create_request")
    events = await run(client, out, "2024-01", "2024-12", timeout=TIMEOUT, concurrency=1)
    monkeypatch.undo()

    assert held.held_answered.is_set()
    assert held.late == 0, f"{held.late} create(s) left after the deadline"
    assert calls(sandbox, CREATE) == 1  # December's: the held one reached the wire too late
    done = results(events)
    # Every month ends with a result.
    assert sorted(done) == [f"2024-{i:02d}" for i in range(1, 13)]
    assert [k for k, r in done.items() if r.request_id is not None] == ["2024-12"]
    unsent = [r for r in done.values() if r.request_id is None]
    assert len(unsent) == 11
    for result in unsent:
        assert result.stage == "planned"
        assert not result.ok
        assert f"after {TIMEOUT} s" in (result.error or "")

    # The next run sends the eleven months left and nothing twice.
    sandbox.clock.speed = 3000
    again = results(await run(client, out, "2024-01", "2024-12", timeout=60))
    assert all(r.ok for r in again.values())
    assert calls(sandbox, CREATE) == 12
    assert len({r.criteria for r in sandbox.state.download_requests}) == 12


async def test_no_package_get_leaves_a_concurrency_slot_after_the_deadline(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    # January and February complete (their packages wait); March stays pending, so every
    # tick of the next run reads the history.
    await run(client, out, "2024-01", "2024-02", timeout=0.3)
    sandbox.clock.advance(sandbox.config.lifecycle.longest_completion_seconds)
    await run(client, out, "2024-03", "2024-03", timeout=0.3)
    assert sum(sandbox.state.downloads_per_package().values()) == 0

    held = hold(monkeypatch, client, "fetch_package_to")
    events = await run(client, out, "2024-01", "2024-03", timeout=TIMEOUT, concurrency=1)
    monkeypatch.undo()

    assert held.held_answered.is_set()
    assert held.late == 0, f"{held.late} package GET(s) left after the deadline"
    served = sandbox.state.downloads_per_package()
    assert sum(served.values()) == 0  # the held GET reached the wire too late: not sent
    assert sorted(results(events)) == ["2024-01", "2024-02", "2024-03"]
    with JournalStore.open_existing(out / JOURNAL) as store:
        counted = {pid: n for s in store.states() for pid, n in s.downloads if n}
    # A GET not sent is not counted (test_deadline_client_queue: one on the wire is).
    assert counted == {}

    # The next run downloads the rest, each package once in all.
    sandbox.clock.speed = 3000
    again = results(await run(client, out, "2024-01", "2024-03", timeout=60))
    assert all(r.ok for r in again.values())
    assert set(sandbox.state.downloads_per_package().values()) == {1}


async def test_no_package_get_leaves_when_the_deadline_passes_while_its_count_is_synced(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 9w #10's last gap: a package GET checked the deadline, then waited for the fsync
    of its count (a busy disk), then left, even when the deadline had passed meanwhile. Here
    that fsync takes longer than the whole `timeout=`: the GET must not leave, its count is
    given back, and the next run downloads each package once."""
    sandbox, client = world
    out = tmp_path / "cfdi"
    await run(client, out, "2024-01", "2024-02", timeout=0.3)
    sandbox.clock.advance(sandbox.config.lifecycle.longest_completion_seconds)
    assert sum(sandbox.state.downloads_per_package().values()) == 0

    sync = JournalStore.sync

    def slow_sync(store: JournalStore) -> None:
        # Slow only once a package's download is counted: the fsync before its GET leaves.
        if any(s.downloads for s in store.states()):
            time.sleep(TIMEOUT + 0.2)
        sync(store)

    monkeypatch.setattr(JournalStore, "sync", slow_sync)
    events = await run(client, out, "2024-01", "2024-02", timeout=TIMEOUT)
    monkeypatch.undo()

    assert sum(sandbox.state.downloads_per_package().values()) == 0, "a GET left late"
    done = results(events)
    assert sorted(done) == ["2024-01", "2024-02"]
    for result in done.values():  # a month the deadline stopped, not a failed download
        assert (result.stage, result.ok) == ("completed", False)
        assert f"after {TIMEOUT} s" in (result.error or ""), result.error
    with JournalStore.open_existing(out / JOURNAL) as store:
        counted = {pid: n for s in store.states() for pid, n in s.downloads if n}
    assert counted == {}  # not sent, so not counted: SAT's two are still there

    sandbox.clock.speed = 3000
    again = results(await run(client, out, "2024-01", "2024-02", timeout=60))
    assert all(r.ok for r in again.values())
    assert set(sandbox.state.downloads_per_package().values()) == {1}
