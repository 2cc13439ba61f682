"""Review h2 #1, #2: `timeout=` also holds for the client's own queue and retries.

The engine checks the deadline before each create and package GET, with its `concurrency` slot
held (review 9w #10). The call then waits for the client's shared in-flight limit
(`max_in_flight`), which every call of the client uses, and the pipeline retries reads with
backoff (a 429's `Retry-After` up to 60 s). Both lie between the engine's check and the wire:
creates (billed) and package GETs (SAT's budget of two) left after the deadline, and a 429 on
the history kept `bulk()` retrying for 40 s after a 1 s timeout.

Here the client has one in-flight slot and the first call of a kind is held on the wire past
the deadline; the other calls of that kind passed the engine's check and wait for the slot.
Assertions are on what the sandbox received, never on speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gigstack_async import GigstackClient, SendWindowClosedError
from gigstack_async._send_window import send_before
from gigstack_async.bulk.store import JournalStore
from gigstack_async.sandbox import FaultConfig, Sandbox, SandboxConfig
from gigstack_async.transports import aiohttp as transport
from tests.bulk._support import CREATE, JOURNAL, calls, results, run

TIMEOUT = 0.5


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    async with (
        Sandbox(SandboxConfig(speed=0, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url, max_in_flight=1) as client,
    ):
        yield sandbox, client


def hold_first(monkeypatch: pytest.MonkeyPatch, method: str, path_part: str) -> None:
    """Hold the first request whose URL holds `path_part` on the wire past the deadline: it
    keeps the client's only in-flight slot while the run's deadline passes."""
    original = getattr(transport.AiohttpTransport, method)
    held = False

    def wrapped(self: Any, request: Any) -> Any:
        nonlocal held
        if held or path_part not in request.url:
            return original(self, request)
        held = True

        async def late() -> Any:
            await asyncio.sleep(TIMEOUT + 0.2)
            return await original(self, request)

        return late()

    monkeypatch.setattr(transport.AiohttpTransport, method, wrapped)


async def test_creates_queued_for_the_clients_in_flight_limit_are_not_sent_after_the_deadline(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    hold_first(monkeypatch, "send", "/invoices/download/request")
    events = await run(client, out, "2024-01", "2024-12", timeout=TIMEOUT)
    monkeypatch.undo()

    # Only the held create was on the wire at the deadline; the three queued behind it (the
    # run's concurrency is 4) passed the engine's check before the deadline and were not sent.
    assert calls(sandbox, CREATE) == 1
    done = results(events)
    assert sorted(done) == [f"2024-{i:02d}" for i in range(1, 13)]
    sent = [r for r in done.values() if r.request_id is not None]
    assert [r.request_id for r in sent] == [sandbox.state.download_requests[0].request_id]
    for result in done.values():
        if result.request_id is None:
            assert (result.stage, result.ok) == ("planned", False)
            assert f"after {TIMEOUT} s" in (result.error or ""), result.error

    # The next run sends the eleven months left, and nothing twice.
    sandbox.clock.speed = 3000
    again = results(await run(client, out, "2024-01", "2024-12", timeout=60))
    assert all(r.ok for r in again.values())
    assert calls(sandbox, CREATE) == 12
    assert len({r.criteria for r in sandbox.state.download_requests}) == 12


async def test_package_gets_queued_for_the_in_flight_limit_are_not_sent_after_the_deadline(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    await run(
        client, out, "2024-01", "2024-04", timeout=3.0
    )  # speed 0: the run ends at its timeout
    sandbox.clock.advance(sandbox.config.lifecycle.longest_completion_seconds)
    assert calls(sandbox, CREATE) == 4

    hold_first(monkeypatch, "_open", "/invoices/download/package/")
    events = await run(client, out, "2024-01", "2024-04", timeout=TIMEOUT)
    monkeypatch.undo()

    served = sandbox.state.downloads_per_package()
    assert sum(served.values()) == 1  # the held GET; the queued ones never left
    assert sorted(results(events)) == ["2024-01", "2024-02", "2024-03", "2024-04"]
    with JournalStore.open_existing(out / JOURNAL) as store:
        counted = {pid: n for s in store.states() for pid, n in s.downloads if n}
    assert counted == dict(served)  # a GET not sent is not counted against SAT's two

    sandbox.clock.speed = 3000
    again = results(await run(client, out, "2024-01", "2024-04", timeout=60))
    assert all(r.ok for r in again.values())
    assert set(sandbox.state.downloads_per_package().values()) == {1}


async def test_a_429_near_the_deadline_is_not_retried_after_it(tmp_path: Path) -> None:
    """A history read answered 429 with `Retry-After: 20` is not retried 20 s later, past a
    0.5 s deadline: the run ends, and no call leaves after its deadline."""
    config = SandboxConfig(speed=0, seed=11, faults=FaultConfig(retry_after_seconds=20))
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        out = tmp_path / "cfdi"
        await run(client, out, "2024-01", "2024-02", timeout=2.0)  # created, pending
        sandbox.state.force_fault("getDownloadHistory", "429", times=3)
        try:
            events = await asyncio.wait_for(
                run(client, out, "2024-01", "2024-02", timeout=TIMEOUT), 10
            )
        except TimeoutError:
            pytest.fail("the run kept retrying a 429 long after its deadline")
        done = results(events)
        assert sorted(done) == ["2024-01", "2024-02"]
        assert all(r.stage == "submitted" and not r.ok for r in done.values())


async def test_the_send_window_covers_only_the_runs_own_calls(
    world: tuple[Sandbox, GigstackClient],
) -> None:
    """The window is the run's: a call the caller makes outside it, on the same client, after
    a run's deadline passed, is sent as usual; inside it, it is refused before it leaves."""
    sandbox, client = world
    loop = asyncio.get_running_loop()
    with send_before(loop.time() - 1):
        with pytest.raises(SendWindowClosedError) as caught:
            await client.downloads.history()
        assert caught.value.request_sent is False
    assert calls(sandbox, "getDownloadHistory") == 0
    await client.downloads.history()  # outside the window: sent
    assert calls(sandbox, "getDownloadHistory") == 1
