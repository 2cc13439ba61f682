"""The sandbox in its own process, for the fan-out scenario.

Its ZIP packages are built on the server's CPU, not on the client's event loop. Line protocol:
it prints one JSON line (`base_url`, `api_key`) when ready; `calls` on stdin answers with one
JSON line listing every recorded call (`sandbox.state.calls`); stdin closed → it stops.

`python -m benchmarks.sandbox_process --latency 1.5 --speed 100 --seed 11`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from benchmarks.harness import stop_child
from benchmarks.peers import ROOT
from gigstack_async.sandbox import LifecycleConfig, Sandbox, SandboxConfig

START = datetime(2025, 3, 1, 18, tzinfo=UTC)


def sandbox_config(latency: float, speed: float, seed: int) -> SandboxConfig:
    """Every request completes `latency` real seconds after creation (no jitter)."""
    simulated = latency * speed
    lifecycle = LifecycleConfig(
        pending_seconds=simulated * 0.1,
        accepted_seconds=simulated * 0.2,
        processing_seconds=simulated * 0.7,
        jitter=0.0,
    )
    return SandboxConfig(seed=seed, speed=speed, start=START, lifecycle=lifecycle)


async def serve(config: SandboxConfig) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    async with Sandbox(config) as sandbox:

        def reply() -> None:
            calls = [[call.operation_id, call.status] for call in sandbox.state.calls]
            sys.stdout.write(json.dumps({"calls": calls}) + "\n")
            sys.stdout.flush()

        def read_commands() -> None:
            for line in sys.stdin:
                if line.strip() == "calls":
                    loop.call_soon_threadsafe(reply)
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=read_commands, daemon=True).start()
        ready = {"base_url": sandbox.base_url, "api_key": sandbox.api_key}
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sandbox_process")
    parser.add_argument("--latency", type=float, required=True)
    parser.add_argument("--speed", type=float, required=True)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    asyncio.run(serve(sandbox_config(args.latency, args.speed, args.seed)))
    return 0


class SandboxProcess:
    """Start/stop the sandbox subprocess and read its call log."""

    def __init__(self, latency: float, speed: float, seed: int = 11) -> None:
        self.args = [f"--latency={latency}", f"--speed={speed}", f"--seed={seed}"]
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.api_key = ""

    def __enter__(self) -> SandboxProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sandbox_process", *self.args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self._read()
        self.base_url = str(ready["base_url"])
        self.api_key = str(ready["api_key"])
        return self

    def _read(self) -> dict[str, Any]:
        assert self.process is not None
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process exited")
        data: dict[str, Any] = json.loads(line)
        return data

    def calls(self) -> list[tuple[str | None, int | None]]:
        """(operation id, status) of every call the sandbox received, in order."""
        assert self.process is not None
        assert self.process.stdin is not None
        self.process.stdin.write("calls\n")
        self.process.stdin.flush()
        return [(op, status) for op, status in self._read()["calls"]]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self.process = self.process, None
        stop_child(process)


if __name__ == "__main__":
    raise SystemExit(main())
