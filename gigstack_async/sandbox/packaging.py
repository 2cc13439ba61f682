"""SAT's packages: generated once per request while SAT processes it, then served as files.

SAT generates a request's packages while it processes the request (EstadoSolicitud 2) and
every download of a package serves that same file. The sandbox does the same: `Packager`
builds a request's ZIPs in one worker thread when the request enters `processing` (at the real
instant its simulated clock implies) and keeps them on the request; a download only encodes
and sends them. Building them on each GET instead put the rendering and deflating of every
CFDI (about 10 ms per 45-CFDI package) on the server's event loop at download time, so
concurrent package downloads queued behind one another (`make bench`, scenario 5).

Nothing observable runs in the background: a request's status is still a pure function of the
simulated clock, a package's bytes depend only on its request (byte-identical whenever they
are built), and a download whose package is not built yet (a frozen clock, a clock moved by
`advance`, a loop that never ran the timer) builds it right away, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from aiohttp import web

from gigstack_async.sandbox.cfdi import build_package
from gigstack_async.sandbox.clock import MEXICO_CITY, SimClock
from gigstack_async.sandbox.invoices import Invoice
from gigstack_async.sandbox.lifecycle import DownloadRequest


def generated_at(request: DownloadRequest) -> datetime:
    """When SAT generated the request's packages (its completion), naive Mexico City time:
    the timestamp of every ZIP entry."""
    moment = datetime.fromtimestamp(request.timeline.finished_ms / 1000, MEXICO_CITY)
    return moment.replace(tzinfo=None)


def package_bytes(request: DownloadRequest, package_id: str, invoices: Sequence[Invoice]) -> bytes:
    """The ZIP of one of `request`'s packages, built on first use and kept on the request."""
    archive = request.archives.get(package_id)
    if archive is None:
        archive = build_package(
            package_id, request.criteria.request_type, invoices, generated_at(request)
        )
        request.archives[package_id] = archive
    return archive


def _prepare(request: DownloadRequest) -> None:
    for package_id, invoices in request.packages():
        package_bytes(request, package_id, invoices)


class Packager:
    """Generates each request's packages ahead of its downloads (see the module docstring)."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        # Keyed by id(): requests are mutable attrs classes (unhashable); the value holds the
        # request, so the id cannot be reused while the entry exists.
        self._timers: dict[int, tuple[DownloadRequest, asyncio.TimerHandle]] = {}
        self._running: dict[int, tuple[DownloadRequest, asyncio.Future[None]]] = {}
        self._closed = False

    def schedule(self, request: DownloadRequest, clock: SimClock) -> None:
        """Generate `request`'s packages when it enters `processing` (call from the loop).

        Nothing is scheduled for a request that will not deliver (it fails or is empty), or
        when the clock is frozen (`speed` 0: only `advance` moves it, and a download then
        builds its package itself).
        """
        timeline = request.timeline
        if self._closed or timeline.failed_ms is not None or not request.invoices:
            return
        if clock.speed <= 0 or id(request) in self._timers or request.archives:
            return
        delay = max(0.0, (timeline.processing_ms - clock.now_ms()) / 1000 / clock.speed)
        handle = asyncio.get_running_loop().call_later(delay, self._start, request)
        self._timers[id(request)] = (request, handle)

    def _start(self, request: DownloadRequest) -> None:
        self._timers.pop(id(request), None)
        if self._closed:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="sandbox-sat-packages")
        future = asyncio.get_running_loop().run_in_executor(self._executor, _prepare, request)
        key = id(request)
        self._running[key] = (request, future)

        def done(finished: asyncio.Future[None]) -> None:
            if self._running.get(key, (None, None))[1] is finished:
                del self._running[key]
            if not finished.cancelled():
                # A failed build is retried (and raised) by the download that needs it.
                finished.exception()

        future.add_done_callback(done)

    async def archive(
        self, request: DownloadRequest, package_id: str, invoices: Sequence[Invoice]
    ) -> bytes:
        """The package's ZIP: waits for a generation in progress, else builds it now."""
        running = self._running.get(id(request))
        if running is not None and running[0] is request:
            with contextlib.suppress(Exception):
                await asyncio.shield(running[1])
        return package_bytes(request, package_id, invoices)

    def close(self) -> None:
        """Cancel pending generations and let the worker thread go (idempotent)."""
        self._closed = True
        for _request, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    async def lifecycle(self, _: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: close with the app."""
        try:
            yield
        finally:
            self.close()


PACKAGER_KEY = web.AppKey("gigstack_sandbox_packager", Packager)


def install(app: web.Application) -> Packager:
    """Attach a packager to `app` (closed with it)."""
    packager = Packager()
    app[PACKAGER_KEY] = packager
    app.cleanup_ctx.append(packager.lifecycle)
    return packager


def packager_of(request: web.Request) -> Packager:
    """The packager of the app serving `request`."""
    return request.app[PACKAGER_KEY]
