"""Newcomer review r2 #1: a create cancelled before it left this machine is not "maybe billed".

Ctrl-C (or `break`) while a month's create request waits for its connection used to leave the
month `submitting`: the next run could not tell whether gigstack saw it, so the month needed the
dashboard and a resend, and the journal counted a create towards SAT's two identical requests.
Nothing had been sent. Now a create that no byte of has left (aiohttp signals the headers before
it writes them) goes back to planned, and the next run sends it once by itself. One whose bytes
may have left is waited for, and its answer recorded (review 13b #1); cancelled again meanwhile,
it stays `submitting`, as before: only the history can tell.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gigstack_async import GigstackClient, Timeout
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore
from gigstack_async.sandbox import FaultConfig, Sandbox, SandboxConfig
from tests.bulk._support import CREATE, JOURNAL, calls, results, run, world_of


async def cancel_when(event: asyncio.Event, task: asyncio.Task[Any]) -> None:
    await asyncio.wait_for(event.wait(), 10)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def state_of(out: Path, key: str) -> m.MonthState:
    with JournalStore.open_existing(out / JOURNAL) as store:
        return store.get(key)


async def test_a_create_cancelled_while_connecting_is_planned_again_and_sent_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "cfdi"
    connecting = asyncio.Event()
    connect = aiohttp.TCPConnector._create_connection

    async def slow_connect(self: Any, req: Any, *args: Any, **kwargs: Any) -> Any:
        if req.method == "POST":  # the create's own connection (billed calls get a new one)
            connecting.set()
            await asyncio.sleep(60)
        return await connect(self, req, *args, **kwargs)

    async with world_of(SandboxConfig(seed=11, speed=3000)) as (sandbox, client):
        monkeypatch.setattr(aiohttp.TCPConnector, "_create_connection", slow_connect)
        task = asyncio.ensure_future(run(client, out, "2024-01", "2024-01"))
        await cancel_when(connecting, task)
        monkeypatch.undo()

        assert calls(sandbox, CREATE) == 0
        state = state_of(out, "2024-01")
        assert state.stage is m.Stage.PLANNED  # not "maybe billed": nothing left
        assert state.creates == 0  # not counted towards SAT's two identical requests

        again = results(await run(client, out, "2024-01", "2024-01", timeout=60))
        assert again["2024-01"].ok
        assert calls(sandbox, CREATE) == 1


async def test_a_create_cancelled_after_it_left_is_waited_for_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "cfdi"
    left = asyncio.Event()

    # Note when the create's headers leave: then cancel, while the server is still slow.
    async def leaving(_session: object, _context: object, params: Any) -> None:
        if params.method == "POST":  # the create's headers, not a history read's
            left.set()

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(leaving)
    real_session = aiohttp.ClientSession

    def traced_session(*args: Any, **kwargs: Any) -> aiohttp.ClientSession:
        kwargs["trace_configs"] = [*kwargs.get("trace_configs", []), trace]
        return real_session(*args, **kwargs)

    faults = FaultConfig(
        latency_rate=1.0, latency_seconds=(1.5, 1.5), operations=frozenset({CREATE})
    )
    async with world_of(SandboxConfig(seed=11, speed=3000, faults=faults)) as (sandbox, client):
        monkeypatch.setattr(aiohttp, "ClientSession", traced_session)
        task = asyncio.ensure_future(run(client, out, "2024-01", "2024-01"))
        await asyncio.wait_for(left.wait(), 10)
        task.cancel()
        await asyncio.sleep(0.3)
        assert not task.done()  # it may have been billed: the run waits for its answer
        with contextlib.suppress(asyncio.CancelledError):
            await task
        monkeypatch.undo()

        state = state_of(out, "2024-01")
        # Review 13b #1: recorded, not left `submitting` (an unknown outcome).
        [made] = sandbox.state.download_requests
        assert (state.stage, state.request_id) == (m.Stage.SUBMITTED, made.request_id)
        assert state.creates == 1


async def test_a_create_whose_deadline_came_while_connecting_is_planned_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review r3 #1: the client's own per-call deadline (`Timeout.total`) ending a create that
    was still connecting left the month needing the dashboard, counted as a create."""
    out = tmp_path / "cfdi"
    connect = aiohttp.TCPConnector._create_connection

    async def slow_connect(self: Any, req: Any, *args: Any, **kwargs: Any) -> Any:
        if req.method == "POST":
            await asyncio.sleep(3)
        return await connect(self, req, *args, **kwargs)

    config = SandboxConfig(seed=11, speed=3000)
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(
            sandbox.api_key, base_url=sandbox.base_url, timeout=Timeout(total=0.5, connect=10)
        ) as client,
    ):
        monkeypatch.setattr(aiohttp.TCPConnector, "_create_connection", slow_connect)
        done = results(await run(client, out, "2024-01", "2024-01", timeout=60))
        monkeypatch.undo()
        assert calls(sandbox, CREATE) == 0
        assert not done["2024-01"].ok
        state = state_of(out, "2024-01")
        assert (state.stage, state.creates) == (m.Stage.PLANNED, 0)

        again = results(await run(client, out, "2024-01", "2024-01", timeout=60))
        assert again["2024-01"].ok
        assert calls(sandbox, CREATE) == 1
