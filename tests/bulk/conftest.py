"""The bulk tests' sandbox: `world`, a sandbox (3000x clock, seed 11) and a client on 127.0.0.1.

A test module that needs another sandbox defines its own `world` (with `world_of`), which
overrides this one.
Shared helpers are in tests/bulk/_support.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gigstack_async import GigstackClient
from gigstack_async.sandbox import Sandbox, SandboxConfig
from tests.bulk._support import world_of


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    async with world_of(SandboxConfig(speed=3000, seed=11)) as both:
        yield both
