"""One adapter per HTTP peer, all doing the same work against the canned server.

- `raw aiohttp`: a `ClientSession`, `await response.read()`, `json.loads`: the floor.
- `gigstack_async`: `GigstackClient` (typed attrs models through cattrs, retries, deadlines,
  the in-flight limit...).
- `openapi-python-client`: the client generated from our spec (httpx + attrs `from_dict`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol
from uuid import UUID

import aiohttp

from benchmarks.payloads import API_KEY, PAGE_SIZE
from benchmarks.peers import Peers
from gigstack_async import GigstackClient

RAW = "raw aiohttp + json.loads"
GIGSTACK = "gigstack_async"
OPC = "openapi-python-client (httpx)"
HTTP_PEERS = (RAW, GIGSTACK, OPC)


class HttpPeer(Protocol):
    name: str

    async def get(self, uuid: str) -> Any:
        """`GET /invoices/sat/{uuid}` → the invoice (decoded as this peer decodes)."""
        ...

    async def walk(self) -> int:
        """Every SAT invoice, page by page (pages of 100); returns how many were seen."""
        ...

    async def aclose(self) -> None: ...


class RawAiohttp:
    name = RAW

    def __init__(self, base_url: str, *, limit: int | None = None) -> None:
        self.base_url = base_url
        self.limit = asyncio.Semaphore(limit) if limit else None
        self.session = aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {API_KEY}", "Accept": "application/json"}
        )

    async def _get(self, uuid: str) -> Any:
        async with self.session.get(f"{self.base_url}/invoices/sat/{uuid}") as response:
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
        return json.loads(body)["data"]

    async def get(self, uuid: str) -> Any:
        if self.limit is None:
            return await self._get(uuid)
        async with self.limit:
            return await self._get(uuid)

    async def walk(self) -> int:
        seen = 0
        cursor: str | None = None
        while True:
            params = {"limit": str(PAGE_SIZE)}
            if cursor is not None:
                params["starting_after"] = cursor
            async with self.session.get(f"{self.base_url}/invoices/sat", params=params) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
            page = json.loads(body)
            seen += len(page["data"])
            if not page["has_more"]:
                return seen
            cursor = page["next"]

    async def aclose(self) -> None:
        await self.session.close()


class Gigstack:
    name = GIGSTACK

    def __init__(self, base_url: str, *, limit: int | None = None) -> None:
        kwargs: dict[str, Any] = {"max_in_flight": limit} if limit else {}
        self.client = GigstackClient(API_KEY, base_url=base_url, **kwargs)

    async def get(self, uuid: str) -> Any:
        return await self.client.sat_invoices.get(uuid)

    async def walk(self) -> int:
        seen = 0
        async for _invoice in self.client.sat_invoices.list(limit=PAGE_SIZE):
            seen += 1
        return seen

    async def aclose(self) -> None:
        await self.client.aclose()


class OpenApiPythonClient:
    name = OPC

    def __init__(self, peers: Peers, base_url: str, *, limit: int | None = None) -> None:
        package = peers.opc()
        self._get_invoice = peers.opc("api.sat_invoices.get_sat_invoice")
        self._list_invoices = peers.opc("api.sat_invoices.list_sat_invoices")
        self._envelope = peers.opc("models").SatInvoiceEnvelope
        self._page = peers.opc("models").SatInvoiceList
        self._unset = peers.opc("types").UNSET
        self.client = package.AuthenticatedClient(base_url=base_url, token=API_KEY)
        self.limit = asyncio.Semaphore(limit) if limit else None

    async def _get(self, uuid: str) -> Any:
        envelope = await self._get_invoice.asyncio(uuid=UUID(uuid), client=self.client)
        if not isinstance(envelope, self._envelope):
            raise RuntimeError(f"unexpected answer {type(envelope).__name__}")
        return envelope.data

    async def get(self, uuid: str) -> Any:
        if self.limit is None:
            return await self._get(uuid)
        async with self.limit:
            return await self._get(uuid)

    async def walk(self) -> int:
        seen = 0
        cursor: Any = self._unset
        while True:
            page = await self._list_invoices.asyncio(
                client=self.client, limit=PAGE_SIZE, starting_after=cursor
            )
            if not isinstance(page, self._page):
                raise RuntimeError(f"unexpected answer {type(page).__name__}")
            seen += len(page.data)
            if not page.has_more:
                return seen
            cursor = page.next_

    async def aclose(self) -> None:
        await self.client.get_async_httpx_client().aclose()


def make_peer(name: str, peers: Peers, base_url: str, *, limit: int | None = None) -> HttpPeer:
    if name == RAW:
        return RawAiohttp(base_url, limit=limit)
    if name == GIGSTACK:
        return Gigstack(base_url, limit=limit)
    if name == OPC:
        return OpenApiPythonClient(peers, base_url, limit=limit)
    raise ValueError(name)
