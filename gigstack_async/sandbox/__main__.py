"""`python -m gigstack_async.sandbox`: serve the simulator on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from gigstack_async.sandbox.config import FaultConfig, LifecycleConfig, SandboxConfig
from gigstack_async.sandbox.profiles import PROFILES, SatCodeRule, ServerProfile, profile
from gigstack_async.sandbox.server import Sandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gigstack_async.sandbox",
        description="Serve a stateful gigstack API v2 simulator (Descarga Masiva) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")
    parser.add_argument("--seed", type=int, default=0, help="seed for data, timing and faults")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)"
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="share of calls failing before the handler (spread over 500/502/503/429/drop)",
    )
    parser.add_argument(
        "--after-fault-rate",
        type=float,
        default=0.0,
        help="share of calls whose answer is lost after the handler ran (drop/truncate/502)",
    )
    parser.add_argument(
        "--failure-rate", type=float, default=0.0, help="share of download requests ending failed"
    )
    parser.add_argument(
        "--blank", action="store_true", help="teams start without activation, FIEL or registration"
    )
    add_profile_arguments(parser)
    return parser


def add_profile_arguments(parser: argparse.ArgumentParser) -> None:
    """`--profile`, `--clock-offset`, `--history-limit` and `--sat-code` (shared with the CLI)."""
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        choices=sorted(PROFILES),
        metavar="NAME",
        help="make the server disagree with the SDK's guesses; repeat to combine "
        f"({', '.join(sorted(PROFILES))})",
    )
    parser.add_argument(
        "--clock-offset",
        type=float,
        default=None,
        metavar="SECONDS",
        help="the server's clock runs this many seconds ahead (negative: behind)",
    )
    parser.add_argument(
        "--history-limit",
        type=int,
        default=20,
        metavar="N",
        help="entries in the download history (default: 20, as documented)",
    )
    parser.add_argument(
        "--sat-code",
        action="append",
        default=[],
        metavar="YYYY-MM:CODE",
        help="SAT answers CODE (5002/5003/5004/5005/5007/5008/5011) for requests of that month",
    )


def profile_from_args(args: argparse.Namespace) -> ServerProfile:
    """The ServerProfile of `--profile`, `--clock-offset` and `--sat-code` (ValueError if bad)."""
    chosen = profile(*args.profile)
    if args.clock_offset is not None:
        chosen = chosen.combine(ServerProfile(clock_offset_seconds=args.clock_offset))
    rules = []
    for spec in args.sat_code:
        month, _, code = spec.rpartition(":")
        if not month or not code.isdigit():
            raise ValueError(f"--sat-code expects YYYY-MM:CODE, got {spec!r}")
        rules.append(SatCodeRule(int(code), month))
    return chosen.combine(ServerProfile(sat_codes=tuple(rules)))


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The SandboxConfig the command line describes."""
    before, after = args.fault_rate / 5, args.after_fault_rate / 3
    faults = FaultConfig(
        error_500_rate=before,
        error_502_rate=before,
        error_503_rate=before,
        rate_limit_rate=before,
        drop_rate=before,
        after_drop_rate=after,
        after_truncate_rate=after,
        after_502_rate=after,
    )
    return SandboxConfig(
        seed=args.seed,
        speed=args.speed,
        ready=not args.blank,
        lifecycle=LifecycleConfig(failure_rate=args.failure_rate),
        faults=faults,
        history_limit=args.history_limit,
        profile=profile_from_args(args),
    )


async def _serve(config: SandboxConfig, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not available on Windows' event loop: Ctrl-C then surfaces as KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with Sandbox(config, port=port) as sandbox:
        print(f"gigstack sandbox serving at {sandbox.base_url}", flush=True)
        print(f"API key: {sandbox.api_key}", flush=True)
        print(f"seed {config.seed}, speed x{config.speed:g}; Ctrl-C to stop", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and serve until interrupted; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
