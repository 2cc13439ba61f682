"""Peak memory of a full walk, each probe in a fresh process.

`python -m benchmarks.memory --peer gigstack_async --base-url URL --peers-dir DIR [--hold]
[--tracemalloc]` prints one JSON line. Baseline: `ru_maxrss` after imports, building the client
and one 1-item request (connection open, decode hooks built); growth: `ru_maxrss` after walking
every page minus that baseline. `ru_maxrss` is a high-water mark, so a transient peak during the
imports can hide a small growth: the current RSS is therefore also sampled every 2 ms during the
walk, and its peak above the RSS at the start of the walk is reported beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import subprocess
import sys
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import Context
from benchmarks.peers import ROOT, Peers

KB_PER_MB = 1024.0


@dataclass
class Probe:
    peer: str
    hold: bool
    rss_growth_mb: float
    sampled_growth_mb: float
    baseline_mb: float
    items: int
    traced_peak_mb: float | None = None

    @property
    def label(self) -> str:
        return f"{self.peer}, holding every item" if self.hold else self.peer


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KB_PER_MB  # KB on Linux


def _current_rss_mb() -> float:
    """Resident set size now (Linux /proc), for the sampled peak."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except OSError:
        return float("nan")
    return pages * resource.getpagesize() / 1024 / 1024


class _Sampler:
    """Samples the current RSS every few milliseconds while the walk runs."""

    def __init__(self) -> None:
        self.baseline = _current_rss_mb()
        self.peak = self.baseline
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, _current_rss_mb())
            await asyncio.sleep(0.002)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> float:
        self.peak = max(self.peak, _current_rss_mb())
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.peak - self.baseline


async def _walk(peer: str, base_url: str, peers: Peers, hold: bool, traced: bool) -> dict[str, Any]:
    from benchmarks.clients import GIGSTACK, make_peer
    from benchmarks.payloads import API_KEY
    from gigstack_async import GigstackClient

    if peer == GIGSTACK:
        client = GigstackClient(API_KEY, base_url=base_url)
        try:
            await client.sat_invoices.list(limit=1)
            baseline = _max_rss_mb()
            sampler = _Sampler()
            sampler.start()
            if traced:
                tracemalloc.start()
            kept: list[Any] = []
            seen = 0
            async for invoice in client.sat_invoices.list(limit=100):
                seen += 1
                if hold:
                    kept.append(invoice)
            sampled = await sampler.stop()
        finally:
            await client.aclose()
    else:
        other = make_peer(peer, peers, base_url)
        try:
            await other.get(await _first_uuid(base_url))
            baseline = _max_rss_mb()
            sampler = _Sampler()
            sampler.start()
            if traced:
                tracemalloc.start()
            seen = await other.walk()
            sampled = await sampler.stop()
        finally:
            await other.aclose()
    traced_peak = None
    if traced:
        traced_peak = tracemalloc.get_traced_memory()[1] / 1024 / 1024
        tracemalloc.stop()
    return {
        "peer": peer,
        "hold": hold,
        "items": seen,
        "baseline_mb": baseline,
        "rss_growth_mb": _max_rss_mb() - baseline,
        "sampled_growth_mb": sampled,
        "traced_peak_mb": traced_peak,
    }


async def _first_uuid(base_url: str) -> str:
    import aiohttp

    from benchmarks.payloads import API_KEY

    headers = {"Authorization": f"Bearer {API_KEY}"}
    url = base_url + "/invoices/sat"
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(url, params={"limit": "1"}) as response,
    ):
        page = await response.json()
    return str(page["data"][0]["uuid"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("--peer", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--peers-dir", type=Path, required=True)
    parser.add_argument("--hold", action="store_true")
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args(argv)
    peers = Peers(args.peers_dir, cached=True, seconds=0.0)
    result = asyncio.run(_walk(args.peer, args.base_url, peers, args.hold, args.tracemalloc))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


async def _probe(
    ctx: Context, peer: str, *, hold: bool = False, traced: bool = False
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.memory",
        f"--peer={peer}",
        f"--base-url={ctx.server.base_url}",
        f"--peers-dir={ctx.peers.directory}",
    ]
    if hold:
        command.append("--hold")
    if traced:
        command.append("--tracemalloc")
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"memory probe {peer} failed:\n{err.decode(errors='replace')}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def measure_all(ctx: Context) -> list[Probe]:
    """RSS growth for every HTTP peer, tracemalloc for gigstack_async, and a holding probe.

    Run two at a time: peak RSS is per process, so sharing the CPU does not change it."""
    from benchmarks.clients import GIGSTACK, HTTP_PEERS

    gate = asyncio.Semaphore(2)

    async def limited(peer: str, hold: bool = False, traced: bool = False) -> dict[str, Any]:
        if ctx.quick and not (peer == GIGSTACK and not hold and not traced):
            # Smoke-test sizes: the numbers mean nothing, so only one probe pays for a fresh
            # process; the others run the same walk in this process.
            return await _walk(peer, ctx.server.base_url, ctx.peers, hold, traced)
        async with gate:
            return await _probe(ctx, peer, hold=hold, traced=traced)

    plain = [limited(peer) for peer in HTTP_PEERS]
    extra = [limited(GIGSTACK, traced=True), limited(GIGSTACK, hold=True)]
    results = await asyncio.gather(*plain, *extra)
    traced = results[len(HTTP_PEERS)]
    probes: list[Probe] = []
    for raw in [*results[: len(HTTP_PEERS)], results[-1]]:
        probe = Probe(
            peer=raw["peer"],
            hold=raw["hold"],
            rss_growth_mb=raw["rss_growth_mb"],
            sampled_growth_mb=raw["sampled_growth_mb"],
            baseline_mb=raw["baseline_mb"],
            items=raw["items"],
        )
        if probe.peer == GIGSTACK and not probe.hold:
            probe.traced_peak_mb = traced["traced_peak_mb"]
        probes.append(probe)
    return probes


if __name__ == "__main__":
    raise SystemExit(main())
