"""`python -m benchmarks [--quick] [--only a,b] [--output BENCHMARKS.md] [--json PATH]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from benchmarks import (
    concurrency,
    decode,
    fanout,
    package_memory,
    pagination,
    per_request,
    report,
)
from benchmarks.harness import CannedServer, Context, Sizes
from benchmarks.peers import DEFAULT_CACHE, ROOT, ensure_peers
from benchmarks.stats import ScenarioResult

Scenario = Callable[[Context], Awaitable[ScenarioResult]]

SCENARIOS: dict[str, Scenario] = {
    per_request.KEY: per_request.run,
    pagination.KEY: pagination.run,
    decode.KEY: decode.run,
    concurrency.KEY: concurrency.run,
    fanout.KEY: fanout.run,
    package_memory.KEY: package_memory.run,
}


async def run_scenarios(ctx: Context, keys: Sequence[str]) -> list[ScenarioResult]:
    results: list[ScenarioResult] = []
    for key in keys:
        started = time.perf_counter()
        print(f"[bench] {key} ...", file=sys.stderr, flush=True)
        result = await SCENARIOS[key](ctx)
        result.seconds = time.perf_counter() - started
        verdicts = ", ".join("MET" if t.met else "MISSED" for t in result.targets)
        print(f"[bench] {key}: {result.seconds:.0f} s ({verdicts})", file=sys.stderr, flush=True)
        results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test)")
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of: {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw records")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(list(argv) if argv is not None else None)
    keys = [key.strip() for key in args.only.split(",") if key.strip()] or list(SCENARIOS)
    unknown = [key for key in keys if key not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")

    started = time.perf_counter()
    sizes = Sizes.quick() if args.quick else Sizes()
    server = CannedServer(sizes.pagination_items, sizes.concurrency_delay_ms).launch()
    try:
        peers = ensure_peers(args.cache_dir)  # while the server builds its responses
        server.wait_ready()
        ctx = Context(sizes, peers, server, args.quick, args.cache_dir)
        results = asyncio.run(run_scenarios(ctx, keys))
    finally:
        server.stop()
    env = report.environment(time.perf_counter() - started, args.quick)
    args.output.write_text(report.markdown(env, peers, results), encoding="utf-8")
    json_path = args.json or args.cache_dir / (
        "results-quick.json" if args.quick else "results.json"
    )
    report.write_json(json_path, env, results)
    print(f"[bench] wrote {args.output} and {json_path} in {env['seconds']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
