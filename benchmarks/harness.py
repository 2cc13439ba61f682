"""What every scenario gets: sizes, the generated peers and the canned server's process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from benchmarks.peers import ROOT, Peers


@dataclass(frozen=True)
class Sizes:
    """How much work each scenario does; `quick()` is for the smoke test."""

    request_count: int = 1_000
    request_rounds: int = 7
    request_warmup: int = 200
    pagination_items: int = 100_000
    pagination_rounds: int = 5
    memory_items: int = 100_000
    decode_rounds: int = 21
    decode_repeats: int = 30
    concurrency_requests: int = 1_000
    concurrency_limit: int = 50
    concurrency_delay_ms: float = 10.0
    concurrency_rounds: int = 9
    fanout_latency: float = 2.0
    fanout_rounds: int = 5
    fanout_months: tuple[int, ...] = (12, 3)
    profile_pages: int = 50
    package_mb: int = 32

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            request_count=20,
            request_rounds=2,
            request_warmup=5,
            pagination_items=300,
            pagination_rounds=2,
            memory_items=300,
            decode_rounds=2,
            decode_repeats=2,
            concurrency_requests=40,
            concurrency_limit=5,
            concurrency_delay_ms=1.0,
            concurrency_rounds=2,
            fanout_latency=0.3,
            fanout_rounds=1,
            fanout_months=(12, 3),
            profile_pages=2,
            package_mb=1,
        )


def stop_child(process: subprocess.Popen[str] | None) -> None:
    """Stop a benchmark child that serves until its stdin closes; kill it if it lingers."""
    if process is None:
        return
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


class CannedServer:
    """`python -m benchmarks.server` in its own process; stopped by closing its stdin."""

    def __init__(self, items: int, delay_ms: float) -> None:
        self.items = items
        self.delay_ms = delay_ms
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> CannedServer:
        return self.launch().wait_ready()

    def launch(self) -> CannedServer:
        """Start the process; it builds its responses while the caller does something else."""
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.server",
                f"--items={self.items}",
                f"--delay-ms={self.delay_ms}",
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        return self

    def wait_ready(self) -> CannedServer:
        assert self.process is not None
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=10)
            raise RuntimeError(f"the canned server exited with {self.process.returncode}")
        self.port = int(json.loads(line)["port"])
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_child(process)

    def __enter__(self) -> CannedServer:
        return self.start() if self.process is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Answers at once."""
        return self.origin + "/v2"

    @property
    def slow_base_url(self) -> str:
        """Answers after `delay_ms`."""
        return self.origin + "/slow/v2"

    async def stats(self, *, reset: bool = False) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            async with session.get(self.origin + "/_stats") as response:
                stats: dict[str, Any] = await response.json()
            if reset:
                async with session.post(self.origin + "/_stats/reset") as response:
                    await response.read()
        return stats


@dataclass
class Context:
    sizes: Sizes
    peers: Peers
    server: CannedServer
    quick: bool
    cache_dir: Path

    def uuids(self, count: int) -> list[str]:
        """The first `count` invoice UUIDs the canned server knows (same seed, same data)."""
        from benchmarks.payloads import invoices
        from benchmarks.server import DETAIL_ITEMS

        return [item["uuid"] for item in invoices(min(count, DETAIL_ITEMS, self.server.items))]


def timed() -> tuple[float, float]:
    """(wall, client CPU) now."""
    return time.perf_counter(), time.process_time()
