"""`Sandbox`: the simulator served on loopback inside the caller's event loop."""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from gigstack_async.sandbox.app import create_app, get_state
from gigstack_async.sandbox.clock import SimClock
from gigstack_async.sandbox.config import SandboxConfig
from gigstack_async.sandbox.routing import PREFIX
from gigstack_async.sandbox.state import SandboxState

HOST = "127.0.0.1"


class Sandbox:
    """A running sandbox: `async with Sandbox(config) as sandbox: ...`, or `start()`/`stop()`.

    It listens on 127.0.0.1 only, on `port` (0 = an ephemeral port chosen by the OS). Point a
    client at `base_url` with `api_key`; read `state` for bookkeeping and move `clock`.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        port: int = 0,
        clock: SimClock | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        self.app = create_app(self.config, clock=clock)
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def state(self) -> SandboxState:
        """Teams, requests and bookkeeping (calls, charges, ground truth, faults)."""
        return get_state(self.app)

    @property
    def clock(self) -> SimClock:
        """The simulated clock (`advance`, `speed`)."""
        return self.state.clock

    @property
    def api_key(self) -> str:
        """The first configured API key (the default config's test key)."""
        return self.config.api_key

    @property
    def port(self) -> int:
        """The bound port (only once started)."""
        if self._port is None:
            raise RuntimeError("the sandbox is not running: call start() or use 'async with'")
        return self._port

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/v2`, the client's base URL."""
        return f"http://{HOST}:{self.port}{PREFIX}"

    async def start(self) -> Sandbox:
        """Bind and serve in the running event loop; returns self."""
        if self._runner is not None:
            raise RuntimeError("the sandbox is already running")
        # A short grace period: stop() should not hang on keep-alive client connections.
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, HOST, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Stop serving and close open connections (idempotent)."""
        runner, self._runner = self._runner, None
        self._port = None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
