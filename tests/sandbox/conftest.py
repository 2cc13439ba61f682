"""Fixtures: sandboxes on loopback with a frozen clock, and a raw aiohttp client for each.

Time is frozen (`speed=0`) and moved with `sandbox.clock.advance`, so no test sleeps or depends on
how fast the machine is.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

if importlib.util.find_spec("gigstack_async") is None:  # not installed (no editable install)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gigstack_async.sandbox import LifecycleConfig, Sandbox, SandboxConfig

# 12:00 in Mexico City on 2025-06-15: far from midnight, so "today" is unambiguous.
START = datetime(2025, 6, 15, 18, 0, tzinfo=UTC)
# No jitter: every request finishes exactly 5 + 30 + 120 simulated seconds after creation.
EXACT = LifecycleConfig(jitter=0.0)


@dataclass
class Reply:
    """One HTTP answer: status, parsed JSON body and headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Any:
        """The envelope's `data`."""
        return self.body["data"]

    @property
    def error_code(self) -> str:
        """`error.code` of an error envelope."""
        return str(self.body["error"]["code"])


class Api:
    """A thin raw-HTTP helper: paths are relative to the sandbox's `/v2`."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def call(self, method: str, path: str, **kwargs: Any) -> Reply:
        async with self.session.request(method, path.lstrip("/"), **kwargs) as response:
            body = await response.json(content_type=None)
            return Reply(response.status, body, dict(response.headers))

    async def get(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> Reply:
        return await self.call("PUT", path, **kwargs)

    async def create(
        self,
        start: str,
        end: str,
        rfc_type: str = "issued",
        *,
        team: str | None = None,
        **extra: Any,
    ) -> Reply:
        """POST /invoices/download/request (`extra` adds body fields such as request_type)."""
        body = {"start_date": start, "end_date": end, "rfc_type": rfc_type, **extra}
        params = None if team is None else {"team": team}
        return await self.post("invoices/download/request", json=body, params=params)


StartSandbox = Callable[..., Awaitable[tuple[Sandbox, Api]]]


@pytest.fixture
def config() -> SandboxConfig:
    """The baseline scenario: fixed seed, frozen clock at START, exact stage durations."""
    return SandboxConfig(seed=1234, speed=0, start=START, lifecycle=EXACT)


@pytest.fixture
async def start_sandbox(config: SandboxConfig) -> AsyncIterator[StartSandbox]:
    """Start extra sandboxes (default: the `config` fixture); all are stopped at teardown."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(
            custom: SandboxConfig | None = None, *, api_key: str | None = None
        ) -> tuple[Sandbox, Api]:
            sandbox = await stack.enter_async_context(Sandbox(custom or config))
            headers = {"Authorization": f"Bearer {api_key or sandbox.api_key}"}
            session = await stack.enter_async_context(
                aiohttp.ClientSession(base_url=sandbox.base_url + "/", headers=headers)
            )
            return sandbox, Api(session)

        yield start


@pytest.fixture
async def running(start_sandbox: StartSandbox) -> tuple[Sandbox, Api]:
    """One sandbox on the `config` fixture and its client."""
    return await start_sandbox()


@pytest.fixture
def sandbox(running: tuple[Sandbox, Api]) -> Sandbox:
    return running[0]


@pytest.fixture
def api(running: tuple[Sandbox, Api]) -> Api:
    return running[1]


@pytest.fixture
async def anonymous(sandbox: Sandbox) -> AsyncIterator[Api]:
    """A client without an Authorization header."""
    async with aiohttp.ClientSession(base_url=sandbox.base_url + "/") as session:
        yield Api(session)
