"""The canned loopback server: realistic SAT invoice responses, precomputed as bytes.

It runs in its own process (`python -m benchmarks.server`) so that its CPU never counts as the
client's: the client process measures itself with `time.process_time()`. Routes:

- `GET /v2/invoices/sat/{uuid}`: a SatInvoiceEnvelope (404 error envelope for an unknown UUID).
- `GET /v2/invoices/sat?limit=&starting_after=`: SatInvoiceList pages with cursors.
- the same under `/slow/v2/...`, answered after `--delay-ms` (a simulated API latency).
- `GET /_stats` and `POST /_stats/reset`: requests served and the peak number in flight.

It prints one JSON line (`{"port": ...}`) when ready and exits when its stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

from benchmarks.payloads import API_KEY, PAGE_SIZE, encode, invoices, list_page

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_JSON = "application/json"
DETAIL_ITEMS = 2_000
"""How many invoices `GET /invoices/sat/{uuid}` knows (the scenarios use fewer)."""


class CannedApi:
    """Every response body built once, up front: serving is a dict lookup."""

    def __init__(self, items: int, page_size: int, delay: float, seed: int = 2024) -> None:
        data = invoices(items, seed)
        self.delay = delay
        self.page_size = page_size
        self.items = data
        self.by_uuid = {
            item["uuid"]: encode({"success": True, "data": item}) for item in data[:DETAIL_ITEMS]
        }
        self.pages: dict[str | None, bytes] = {}
        cursor: str | None = None
        for start in range(0, max(len(data), 1), page_size):
            chunk = data[start : start + page_size]
            has_more = start + page_size < len(data)
            self.pages[cursor] = encode(list_page(chunk, has_more=has_more, total=len(data)))
            cursor = chunk[-1]["uuid"] if chunk else None
        self.not_found = encode(
            {
                "success": False,
                "message": "SAT invoice not found",
                "error": {"code": "resource_not_found", "message": "SAT invoice not found"},
            }
        )
        self.unauthorized = encode(
            {"success": False, "message": "Invalid API key", "error": "unauthorized"}
        )
        self.served = 0
        self.in_flight = 0
        self.peak_in_flight = 0

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {API_KEY}"

    def _json(self, body: bytes, status: int = 200) -> web.Response:
        return web.Response(body=body, status=status, content_type=_JSON)

    async def get_invoice(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._json(self.unauthorized, 401)
        body = self.by_uuid.get(request.match_info["uuid"].upper())
        return self._json(self.not_found, 404) if body is None else self._json(body)

    async def list_invoices(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._json(self.unauthorized, 401)
        cursor = request.query.get("starting_after") or None
        limit = int(request.query.get("limit") or self.page_size)
        if limit == self.page_size:
            body = self.pages.get(cursor)
            if body is not None:
                return self._json(body)
        # Any other page size: slice on the fly (not used by the scenarios).
        start = 0
        if cursor is not None:
            positions = [i for i, item in enumerate(self.items) if item["uuid"] == cursor]
            if not positions:
                return self._json(self.not_found, 404)
            start = positions[0] + 1
        chunk = self.items[start : start + limit]
        page = list_page(chunk, has_more=start + limit < len(self.items), total=len(self.items))
        return self._json(encode(page))

    def counted(self, handler: Handler, delay: float) -> Handler:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            self.served += 1
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                if delay:
                    await asyncio.sleep(delay)
                return await handler(request)
            finally:
                self.in_flight -= 1

        return wrapper

    async def stats(self, request: web.Request) -> web.Response:
        body = {"served": self.served, "peak_in_flight": self.peak_in_flight}
        return self._json(json.dumps(body).encode())

    async def reset(self, request: web.Request) -> web.Response:
        self.served = 0
        self.peak_in_flight = self.in_flight
        return self._json(b"{}")

    def app(self) -> web.Application:
        app = web.Application()
        for prefix, delay in (("/v2", 0.0), ("/slow/v2", self.delay)):
            app.router.add_get(prefix + "/invoices/sat", self.counted(self.list_invoices, delay))
            app.router.add_get(
                prefix + "/invoices/sat/{uuid}", self.counted(self.get_invoice, delay)
            )
        app.router.add_get("/_stats", self.stats)
        app.router.add_post("/_stats/reset", self.reset)
        return app


async def serve(api: CannedApi, port: int) -> None:
    runner = web.AppRunner(api.app(), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = runner.addresses[0][1]
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def wait_for_stdin_eof() -> None:
        sys.stdin.buffer.read()  # the parent closed our stdin (or died): stop
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait_for_stdin_eof, daemon=True).start()
    sys.stdout.write(json.dumps({"port": bound, "items": len(api.items)}) + "\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    parser.add_argument("--delay-ms", type=float, default=10.0)
    args = parser.parse_args(argv)
    api = CannedApi(args.items, args.page_size, args.delay_ms / 1000)
    asyncio.run(serve(api, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
