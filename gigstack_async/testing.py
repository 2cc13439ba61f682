"""pytest fixtures for applications built on gigstack_async: a running sandbox and a client on it.

Installed as a pytest plugin (entry point `gigstack_async`), so in your own tests:

```python
async def test_my_report(gigstack_client, gigstack_sandbox):
    run = gigstack_client.downloads.bulk("2025-01", "2025-03", rfc_type="received")
    results = [event async for event in run]
    assert gigstack_sandbox.state.download_requests  # what your code asked SAT for
```

- `gigstack_sandbox_config`: returns the `SandboxConfig` the sandbox is built from (default
  `SandboxConfig(speed=3000)`); override it to change seed, speed, faults, blank teams, ...
- `gigstack_sandbox_config`: override it to change the sandbox (seed, speed, faults, blank teams).
  Mark a test `@pytest.mark.gigstack_profile("documented-fields", "clock-behind")` to run it
  against a server that disagrees with the SDK's guesses (names: `sandbox.PROFILES`; a
  `ServerProfile` instance works too).
- `gigstack_sandbox`: a `Sandbox` serving on 127.0.0.1 for the test; `.state` records every call.
- `gigstack_client`: a `GigstackClient` bound to it, with a poll schedule fit for tests.

The async fixtures need pytest-asyncio; without it this plugin registers nothing (and never
breaks your test run). Configure it with `asyncio_mode = "auto"` and
`asyncio_default_fixture_loop_scope = "function"` (README: Testing your application) so async
tests need no marker and no loop-scope warning appears.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator

import pytest

from gigstack_async.client import GigstackClient
from gigstack_async.sandbox import Sandbox, SandboxConfig, ServerProfile, profile

HAVE_PYTEST_ASYNCIO = importlib.util.find_spec("pytest_asyncio") is not None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "gigstack_profile(*names): run the gigstack sandbox with these server profiles combined",
    )


def profile_of(request: pytest.FixtureRequest) -> ServerProfile:
    """The server profile the test's `gigstack_profile` markers ask for (default: agree)."""
    chosen = ServerProfile()
    for marker in reversed(list(request.node.iter_markers("gigstack_profile"))):
        for item in marker.args:
            part = item if isinstance(item, ServerProfile) else profile(item)
            chosen = chosen.combine(part)
    return chosen


@pytest.fixture
def gigstack_sandbox_config(request: pytest.FixtureRequest) -> SandboxConfig:
    """A fast sandbox: SAT's minutes become milliseconds, with the test's `gigstack_profile`
    markers applied. Override in your conftest.py."""
    return SandboxConfig(speed=3000, profile=profile_of(request))


if HAVE_PYTEST_ASYNCIO:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def gigstack_sandbox(gigstack_sandbox_config: SandboxConfig) -> AsyncIterator[Sandbox]:
        """A running sandbox on 127.0.0.1, stopped after the test."""
        async with Sandbox(gigstack_sandbox_config) as sandbox:
            yield sandbox

    @pytest_asyncio.fixture
    async def gigstack_client(gigstack_sandbox: Sandbox) -> AsyncIterator[GigstackClient]:
        """A client bound to `gigstack_sandbox`, closed after the test."""
        async with GigstackClient(
            gigstack_sandbox.api_key, base_url=gigstack_sandbox.base_url
        ) as client:
            yield client
