"""The bulk tests' sandbox: `world`, a sandbox (3000x clock, seed 11) and a client on 127.0.0.1.

A test module that needs another sandbox defines its own `world`, which overrides this one.
Shared helpers are in tests/bulk/_support.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gigstack_async import GigstackClient
from gigstack_async.sandbox import Sandbox, SandboxConfig


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        yield sandbox, client
