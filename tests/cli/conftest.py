"""Fixtures for the CLI tests: an in-process sandbox and the real console script in a subprocess.

The sandbox serves on 127.0.0.1 inside the test's event loop; the CLI runs as a child process
started with `asyncio.create_subprocess_exec`, so the loop keeps serving while the test waits
for it. Every run is checked for the API key leaking into its output.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from gigstack_async.sandbox import ApiKeyConfig, Sandbox, SandboxConfig

# Recognisable, so a leak anywhere in stdout/stderr is caught by a plain substring check.
SECRET_KEY = "sk_test_CLIsecretQz81Kp4xWv"
WRONG_KEY = "sk_test_WRONGsecret55Hn2Lq"
# Fast enough that SAT's ~155 simulated seconds per request take ~50 ms.
FAST_SPEED = 3000.0
# Safety net only: a hung child fails the test instead of hanging the suite.
HANG_GUARD_SECONDS = 90.0

# Variables that would change how the CLI draws or whom it talks to.
_SCRUBBED_ENV = (
    "GIGSTACK_API_KEY",
    "GIGSTACK_BASE_URL",
    "FORCE_COLOR",
    "NO_COLOR",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "COLUMNS",
    "LINES",
)


def cli_command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m gigstack_async`."""
    script = Path(sys.executable).parent / "gigstack-async"
    if script.exists():
        return [str(script)]
    found = shutil.which("gigstack-async")
    return [found] if found else [sys.executable, "-m", "gigstack_async"]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.update(extra or {})
    return env


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET_KEY not in text
        assert WRONG_KEY not in text


async def run_cli(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    command: Sequence[str] | None = None,
) -> Result:
    process = await asyncio.create_subprocess_exec(
        *(command or cli_command()),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=base_env(env),
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(process.communicate(), HANG_GUARD_SECONDS)
    assert process.returncode is not None
    result = Result(process.returncode, out.decode(), err.decode())
    assert_no_secret(result.stdout, result.stderr)
    return result


RunCli = Callable[..., Awaitable[Result]]
MakeSandbox = Callable[..., Awaitable[Sandbox]]


def sandbox_config(**changes: object) -> SandboxConfig:
    key = ApiKeyConfig(SECRET_KEY, "team_sandbox", frozenset({"team_connected"}))
    settings: dict[str, object] = {"seed": 7, "speed": FAST_SPEED, "api_keys": (key,)}
    settings.update(changes)
    return SandboxConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def secret_key() -> str:
    """The key the sandbox accepts; it must never appear in the CLI's output."""
    return SECRET_KEY


@pytest.fixture
def wrong_key() -> str:
    """A key the sandbox refuses; it must never appear in the CLI's output either."""
    return WRONG_KEY


@pytest.fixture
async def make_sandbox() -> AsyncIterator[MakeSandbox]:
    """`await make_sandbox(**SandboxConfig changes)`: more sandboxes, all stopped at teardown."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**changes: object) -> Sandbox:
            return await stack.enter_async_context(Sandbox(sandbox_config(**changes)))

        yield make


@pytest.fixture
async def sandbox(make_sandbox: MakeSandbox) -> Sandbox:
    return await make_sandbox()


@pytest.fixture
def raw_cli() -> RunCli:
    """`await raw_cli(*args, env=..., cwd=..., command=...)`: no sandbox settings added."""
    return run_cli


@pytest.fixture
def api_env(sandbox: Sandbox) -> dict[str, str]:
    """The environment that points the CLI at the sandbox with the secret key."""
    return {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}


@pytest.fixture
def cli(api_env: dict[str, str], tmp_path: Path) -> RunCli:
    """`await cli(*args, env=...)`: the CLI against the sandbox, run in tmp_path."""

    async def run(
        *args: str, env: Mapping[str, str] | None = None, command: Sequence[str] | None = None
    ) -> Result:
        return await run_cli(*args, env={**api_env, **(env or {})}, cwd=tmp_path, command=command)

    return run


def default_sigint() -> None:
    """Run in the child before exec: Ctrl-C means KeyboardInterrupt, whatever the parent had.

    A suite started in the background (`make test &`) has SIGINT ignored, and an ignored signal
    stays ignored across exec: the CLI would then never see the Ctrl-C a test sends it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def ignore_sigint() -> None:
    """Run in the child before exec: Ctrl-C ignored, as for a script's background job."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


async def start_cli(
    *args: str,
    env: Mapping[str, str],
    cwd: Path,
    preexec_fn: Callable[[], None] = default_sigint,
) -> asyncio.subprocess.Process:
    """The CLI started with `args` (stdout/stderr piped), still running; the caller ends it."""
    return await asyncio.create_subprocess_exec(
        *cli_command(),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=base_env(env),
        cwd=cwd,
        preexec_fn=preexec_fn,
    )


@pytest.fixture
async def spawn_cli(
    api_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[asyncio.subprocess.Process]]]:
    """`await spawn_cli(*args)`: the CLI against the sandbox, still running (stdout/stderr piped);
    killed at teardown if the test left it running."""
    processes: list[asyncio.subprocess.Process] = []

    async def spawn(*args: str) -> asyncio.subprocess.Process:
        process = await start_cli(*args, env=api_env, cwd=tmp_path)
        processes.append(process)
        return process

    yield spawn
    for process in processes:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.wait(), HANG_GUARD_SECONDS)
