"""Group 3 — cancellation: every public coroutine and async generator, cancelled mid-request.

A gate in front of the sandbox holds the n-th request of one operation inside the server. Once
the gate reports that the request arrived, the task running the SDK call is cancelled. Then:

- the task ends with CancelledError (nothing swallows or converts it);
- no task is left pending besides the server's own connection handlers;
- the connection went back to the pool: the client talks through a caller-provided session
  with a pool of ONE connection and `max_in_flight=1`, and the next call still goes through
  while the cancelled request is still held in the server; the connectors hold no connection;
- after the client is closed and garbage collected, no ResourceWarning, no "Unclosed ..."
  report on the loop; a bulk run's journal lock is released and no temp file is left.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gigstack_async import GigstackClient, PollSchedule, Timeout
from gigstack_async.bulk.store import JournalStore
from gigstack_async.sandbox import FaultConfig, Sandbox, SandboxConfig
from gigstack_async.sandbox.routing import route_of

GROUP = 3
START = datetime(2025, 6, 15, 18, 0, tzinfo=UTC)
FAST = PollSchedule(initial=0.01, factor=1.0, maximum=0.01, jitter=0.0)
GUARD = 15.0  # hang guard only: never a timing assertion


class Gate:
    """aiohttp middleware holding the n-th request of one operation until released."""

    def __init__(self) -> None:
        self.operation: str | None = None
        self.nth = 0
        self.count = 0
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    def arm(self, operation: str, nth: int) -> None:
        self.operation, self.nth, self.count = operation, nth, 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        route = route_of(request)
        if route is not None and route.operation_id == self.operation:
            self.count += 1
            if self.count == self.nth:
                self.arrived.set()
                await self.release.wait()
        response: web.StreamResponse = await handler(request)
        return response


@dataclass
class World:
    sandbox: Sandbox
    client: GigstackClient
    session: aiohttp.ClientSession
    tmp: Path
    request_id: str = ""
    package_id: str = ""
    uuid: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


Call = Callable[[World], Awaitable[Any]]


def consume(make: Callable[[World], AsyncIterator[Any]]) -> Call:
    async def run(world: World) -> None:
        async for _ in make(world):
            pass

    return run


async def bulk(world: World, *, concurrency: int = 1) -> None:
    run = world.client.downloads.bulk(
        "2024-01",
        "2024-06",
        rfc_type="received",
        download_to=world.tmp / "cfdi",
        journal=world.tmp / "journal.json",
        poll=FAST,
        concurrency=concurrency,
    )
    world.extra["journal"] = world.tmp / "journal.json"
    async with run:
        async for _ in run:
            pass


async def pending_request(world: World) -> str:
    created = await world.client.downloads.create_request(
        start_date="2025-02-01", end_date="2025-02-28", rfc_type="issued"
    )
    return created.request_id


@dataclass(frozen=True)
class Case:
    call: Call
    operation: str
    nth: int = 1
    speed: float = 0.0  # simulated seconds per real second while the call runs
    billed: bool = False
    prepare: Callable[[World], Awaitable[None]] | None = None


async def _new_pending(world: World) -> None:
    world.extra["pending"] = await pending_request(world)


CERT = b"\x30\x82\x01\x0a" + b"\x01" * 64
COROUTINES: dict[str, Case] = {
    "sat_invoices.get": Case(lambda w: w.client.sat_invoices.get(w.uuid), "getSatInvoice"),
    "await sat_invoices.list()": Case(
        lambda w: _await(w.client.sat_invoices.list(limit=5)), "listSatInvoices"
    ),
    "sat_invoices.retry_xml (billed)": Case(
        lambda w: w.client.sat_invoices.retry_xml(w.uuid), "retrySatInvoiceXml", billed=True
    ),
    "sat_invoices.pdf": Case(lambda w: w.client.sat_invoices.pdf(w.uuid), "generateSatInvoicePdf"),
    "downloads.activation_status": Case(
        lambda w: w.client.downloads.activation_status(), "getDownloadActivationStatus"
    ),
    "downloads.activate": Case(lambda w: w.client.downloads.activate(), "activateDownloads"),
    "downloads.deactivate": Case(lambda w: w.client.downloads.deactivate(), "deactivateDownloads"),
    "downloads.upload_fiel": Case(
        lambda w: w.client.downloads.upload_fiel(cert=CERT, key=CERT, password="s3cret"),
        "uploadFiel",
    ),
    "downloads.register": Case(
        lambda w: w.client.downloads.register(phone="+5215512345678", sync_start_date="2025-01-01"),
        "registerDownloads",
    ),
    "downloads.schedule": Case(lambda w: w.client.downloads.schedule(), "getDownloadSchedule"),
    "downloads.save_schedule": Case(
        lambda w: w.client.downloads.save_schedule(enabled=True, time="07:30"),
        "saveDownloadSchedule",
    ),
    "downloads.enable_sync": Case(lambda w: w.client.downloads.enable_sync(), "enableDownloadSync"),
    "downloads.debug": Case(lambda w: w.client.downloads.debug(), "debugDownloads"),
    "downloads.history": Case(lambda w: w.client.downloads.history(), "getDownloadHistory"),
    "downloads.status": Case(
        lambda w: w.client.downloads.status(w.request_id), "getDownloadRequestStatus"
    ),
    "downloads.package": Case(
        lambda w: w.client.downloads.package(w.package_id), "downloadPackage"
    ),
    "downloads.create_request (billed)": Case(
        lambda w: w.client.downloads.create_request(
            start_date="2025-03-01", end_date="2025-03-31", rfc_type="issued"
        ),
        "createDownloadRequest",
        billed=True,
    ),
    "downloads.invoice_from_sat (billed)": Case(
        lambda w: w.client.downloads.invoice_from_sat(w.uuid), "getSatInvoiceFromSat", billed=True
    ),
    "downloads.wait (second poll)": Case(
        lambda w: w.client.downloads.wait(w.extra["pending"], poll=FAST),
        "getDownloadHistory",
        nth=2,
        prepare=_new_pending,
    ),
}
GENERATORS: dict[str, Case] = {
    "async for sat_invoices.list (page 2)": Case(
        consume(lambda w: w.client.sat_invoices.list(limit=2).__aiter__()), "listSatInvoices", nth=2
    ),
    "sat_invoices.list().pages() (page 2)": Case(
        consume(lambda w: w.client.sat_invoices.list(limit=2).pages()), "listSatInvoices", nth=2
    ),
    "async for downloads.watch (second poll)": Case(
        consume(lambda w: w.client.downloads.watch(w.extra["pending"], poll=FAST)),
        "getDownloadHistory",
        nth=2,
        prepare=_new_pending,
    ),
    "async for downloads.bulk (a create request)": Case(
        bulk, "createDownloadRequest", nth=2, billed=True
    ),
    "async for downloads.bulk (a history poll)": Case(bulk, "getDownloadHistory", nth=3),
    # One download at a time: no other package is being extracted while this one is held
    # (cancelling DURING an extraction has a test of its own, at the end).
    "async for downloads.bulk (a package download)": Case(
        bulk, "downloadPackage", nth=2, speed=3000
    ),
}


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[World, Gate]]:
    gate = Gate()
    sandbox = Sandbox(SandboxConfig(seed=9, speed=0, start=START))
    sandbox.app.middlewares.insert(0, gate.middleware)  # outermost: holds before anything
    async with sandbox:
        # A pool of ONE connection and ONE request in flight: a leaked slot blocks the next call.
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
        client = GigstackClient(
            sandbox.api_key,
            base_url=sandbox.base_url,
            session=session,
            max_in_flight=1,
            max_retries=0,
            # Cancelled, a bulk run still waits for its package GET in flight (a served
            # download must be recorded), which the gate holds until the read timeout: 3 s.
            timeout=Timeout(connect=5, read=3, total=60),
        )
        world = World(sandbox, client, session, tmp_path)
        # A completed request, its package and its invoices (in the SAT invoice list).
        created = await client.downloads.create_request(
            start_date="2025-01-01", end_date="2025-01-31", rfc_type="received"
        )
        sandbox.clock.advance(24 * 3600)
        status = await client.downloads.status(created.request_id)
        world.request_id = created.request_id
        world.package_id = (status.package_ids or [""])[0]
        world.uuid = sorted(sandbox.state.ground_truth[created.request_id])[0]
        try:
            yield world, gate
        finally:
            gate.release.set()
            await client.aclose()
            await session.close()


def _foreign_tasks() -> list[asyncio.Task[Any]]:
    """Pending tasks other than this test and the sandbox server's connection handlers."""
    current = asyncio.current_task()
    found = []
    for task in asyncio.all_tasks():
        if task is current or task.done():
            continue
        coro = task.get_coro()
        name = getattr(coro, "__qualname__", "")
        if name.startswith(("RequestHandler.", "BaseProtocol.")):
            continue  # aiohttp's server side, which the gate is holding on purpose
        if task.get_name().startswith("sandbox-"):
            continue  # the sandbox's own background work (webhook delivery), not the SDK's
        found.append(task)
    return found


def _acquired(client: GigstackClient) -> int:
    """Connections the client's sessions hold right now (the SDK's own billed session too)."""
    transport = client._transport
    assert hasattr(transport, "_session"), "AiohttpTransport changed: update this probe"
    assert hasattr(transport, "_no_resend_session"), "AiohttpTransport changed: update this probe"
    count = 0
    for session in (
        getattr(transport, "_session", None),
        transport.__dict__.get("_no_resend_session"),
    ):
        if session is not None and not session.closed:
            count += len(session.connector._acquired)  # type: ignore[union-attr]
    return count


@pytest.mark.parametrize("name", [*COROUTINES, *GENERATORS])
async def test_cancelled_mid_request_leaves_nothing_behind(
    name: str, world: tuple[World, Gate], find_leftovers: Callable[[Path], list[Path]], figures
) -> None:
    w, gate = world
    case = COROUTINES.get(name) or GENERATORS[name]
    loop = asyncio.get_running_loop()
    reports: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reports.append(context))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if case.prepare is not None:
                await case.prepare(w)
            gate.arm(case.operation, case.nth)
            w.sandbox.clock.speed = case.speed
            task = asyncio.create_task(case.call(w))
            arrived = asyncio.create_task(gate.arrived.wait())
            done, _ = await asyncio.wait(
                {task, arrived}, timeout=GUARD, return_when="FIRST_COMPLETED"
            )
            assert arrived in done, f"the held request never arrived ({task!r})"
            w.sandbox.clock.speed = 0
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert task.cancelled()
            for _ in range(5):
                await asyncio.sleep(0)

            assert _foreign_tasks() == []
            assert _acquired(w.client) == 0
            # The held request is still inside the server; the pool of one must be free anyway.
            history = await asyncio.wait_for(w.client.downloads.history(), GUARD)
            assert isinstance(history, list)
            if case.billed:  # the billed path has a session of its own: it must be free too
                await asyncio.wait_for(w.client.downloads.invoice_from_sat(w.uuid), GUARD)
            journal = w.extra.get("journal")
            if journal is not None:
                with JournalStore.open_existing(journal):  # the lock was released
                    pass
                out = w.tmp / "cfdi"
                assert not out.exists() or find_leftovers(out) == []
            gate.release.set()
            await w.client.aclose()
            await w.session.close()
            await asyncio.sleep(0)
            gc.collect()
        assert [str(c.message) for c in caught if issubclass(c.category, ResourceWarning)] == []
        assert [c for c in caught if "Unclosed" in str(c.message)] == []
        assert [r.get("message") for r in reports] == []
    finally:
        loop.set_exception_handler(previous_handler)
    figures.add(GROUP, "Cancellations", 1)
    figures.add(
        GROUP, "Coroutines cancelled" if name in COROUTINES else "Async generators cancelled"
    )


async def test_cancelled_during_retry_backoff(figures) -> None:
    """Cancelled while sleeping for a Retry-After: the in-flight slot is already free."""
    faults = FaultConfig(retry_after_seconds=30)  # forced 429s only; the client waits 30 s
    async with (
        Sandbox(SandboxConfig(seed=9, speed=0, start=START, faults=faults)) as sandbox,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session,
    ):
        sandbox.state.force_fault("getDownloadSchedule", "429")
        async with GigstackClient(
            sandbox.api_key,
            base_url=sandbox.base_url,
            session=session,
            max_in_flight=1,
            max_retries=3,
        ) as client:
            task = asyncio.create_task(client.downloads.schedule())
            for _ in range(int(GUARD / 0.005)):
                if sandbox.state.calls_to("getDownloadSchedule") or task.done():
                    break
                await asyncio.sleep(0.005)
            assert sandbox.state.calls_to("getDownloadSchedule"), "the 429 never came back"
            await asyncio.sleep(0.01)  # the answer is in: the client is in its 30 s sleep
            assert not task.done()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert _foreign_tasks() == []
            assert _acquired(client) == 0
            await asyncio.wait_for(client.downloads.history(), GUARD)
            assert len(sandbox.state.calls_to("getDownloadSchedule")) == 1  # no retry after it
    figures.add(GROUP, "Cancellations", 1)
    figures.add(GROUP, "Cancelled while backing off", 1)


async def test_cancelling_during_extraction_waits_for_the_files(
    world: tuple[World, Gate], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from gigstack_async.bulk import engine

    w, _ = world
    started, release, finished = threading.Event(), threading.Event(), threading.Event()
    real_extract = engine.extract_staged

    def slow_extract(*args: Any, **kwargs: Any) -> Any:  # a slow disk, in the worker thread
        started.set()
        release.wait(GUARD)
        try:
            return real_extract(*args, **kwargs)
        finally:
            finished.set()

    monkeypatch.setattr(engine, "extract_staged", slow_extract)
    w.sandbox.clock.speed = 3000
    task = asyncio.create_task(bulk(w))
    try:
        for _ in range(int(GUARD / 0.005)):
            if started.is_set() or task.done():
                break
            await asyncio.sleep(0.005)
        assert started.is_set(), "no extraction started"
        task.cancel()
        for _ in range(200):  # let the cancellation run its course (loop turns, not time)
            await asyncio.sleep(0)
        returned_while_writing = task.done() and not finished.is_set()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Had the run returned, nothing of it could still be writing into the output folder.
        assert not returned_while_writing, "the run returned while extract_staged still ran"
        assert finished.is_set()
    finally:
        release.set()
        await asyncio.to_thread(finished.wait, GUARD)
