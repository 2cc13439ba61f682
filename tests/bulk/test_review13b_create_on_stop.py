"""Review 13b #1: a run stopped (Ctrl-C, `break`, a cancelled task) while a create request was
on its way stopped at once, leaving the month `submitting`: an unknown outcome, although the
answer (gigstack made the request, and billed it) was about to arrive. A history that lists
the request late then sends the user to `journal resend`, a second bill. Now the stopping run
waits for the answer of a create already on its way and records its request id; a create that
never left this machine is still cancelled at once, nothing billed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.routing import route_of
from tests.bulk._support import CREATE, PACKAGE, calls, results, run, world_of

JOURNAL = ".gigstack-journal.sqlite3"


def _holding_creates(sandbox: Sandbox, held: asyncio.Event, release: asyncio.Event) -> None:
    @web.middleware
    async def hold(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)  # the server acts first
        route = route_of(request)
        if route is not None and route.operation_id == "createDownloadRequest":
            held.set()
            await release.wait()  # then its answer is slow to come back
        return response

    sandbox.app.middlewares.insert(0, hold)


async def test_a_stopped_run_records_the_answer_of_a_create_on_its_way(tmp_path: Path) -> None:
    held, release = asyncio.Event(), asyncio.Event()
    sandbox = Sandbox(SandboxConfig(speed=3000, seed=5, preloaded_months=0))
    _holding_creates(sandbox, held, release)
    out = tmp_path / "cfdi"
    async with sandbox, GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        stopped = asyncio.ensure_future(run(client, out, "2024-01", "2024-01", timeout=30))
        await asyncio.wait_for(held.wait(), 30)
        stopped.cancel()  # Ctrl-C: asyncio cancels the task that drives the run
        await asyncio.sleep(0.2)
        assert not stopped.done()  # it waits for the answer on its way
        release.set()
        await asyncio.gather(stopped, return_exceptions=True)
        assert stopped.cancelled()
        [made] = sandbox.state.download_requests
        with JournalStore.open_readonly(out / JOURNAL) as store:
            january = store.get("2024-01")
        assert january.request_id == made.request_id  # before: None, `submitting`, unknown
        assert january.stage is m.Stage.SUBMITTED
        again = results(await run(client, out, "2024-01", "2024-01", timeout=30))["2024-01"]
        assert (again.stage, again.ok) == ("done", True)
        assert calls(sandbox, CREATE) == 1
        assert calls(sandbox, PACKAGE) == 1


async def test_a_create_that_never_left_is_still_cancelled_at_once(tmp_path: Path) -> None:
    out = tmp_path / "cfdi"
    async with world_of(SandboxConfig(speed=3000, seed=5, preloaded_months=0)) as (sandbox, client):
        # Every connection slot taken: the create waits in this process, never sent.
        client_limit = asyncio.Event()
        original = client.downloads.create_request

        async def queued(**kwargs: Any) -> Any:
            await client_limit.wait()
            return await original(**kwargs)

        client.downloads.create_request = queued  # type: ignore[method-assign]
        stopped = asyncio.ensure_future(run(client, out, "2024-01", "2024-01", timeout=30))
        await asyncio.sleep(0.3)
        stopped.cancel()
        await asyncio.wait_for(asyncio.gather(stopped, return_exceptions=True), 5)
        assert calls(sandbox, CREATE) == 0
        with JournalStore.open_readonly(out / JOURNAL) as store:
            assert store.get("2024-01").stage is m.Stage.PLANNED  # nothing billed: sent again
