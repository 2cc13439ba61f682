"""`gigstack-async sandbox`: serve the local gigstack simulator until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING, Any

from gigstack_async.cli import exitcodes
from gigstack_async.cli.argtypes import non_negative_float, port
from gigstack_async.cli.context import Context
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.parser import PROG, command_parser
from gigstack_async.cli.ui import Ui

if TYPE_CHECKING:
    from gigstack_async.sandbox import SandboxConfig

DEFAULT_SPEED = 60.0

PROFILE_NAMES = (
    "agree",
    "cfdi-only-history",
    "clock-ahead",
    "clock-behind",
    "created-at-iso",
    "created-at-naive-mx",
    "created-at-seconds",
    "documented-fields",
    "ids-restart",
    "no-counts",
    "no-package-ids",
    "refused-create",
)
"""`gigstack_async.sandbox.profiles.PROFILES` (a test keeps the two equal)."""

EPILOG = f"""\
examples:
  {PROG} sandbox                             # http://127.0.0.1:8765/v2, SAT x60 faster
  {PROG} sandbox --port 0 --speed 600        # any free port; requests finish in < 1 s
  {PROG} sandbox --failure-rate 0.2          # some download requests end failed
  {PROG} sandbox --profile documented-fields --profile created-at-seconds --clock-offset -0.4
                                             # a server that disagrees with the SDK's guesses

Then, in another terminal, point the CLI (or your code) at it with the printed key:
  export GIGSTACK_BASE_URL=http://127.0.0.1:8765/v2 GIGSTACK_API_KEY=<printed test key>
  {PROG} sat download --from 2025-01 --to 2025-03 --rfc-type received --out ./cfdi \\
      --poll-interval 0.5

Stops on Ctrl-C (exit 0). Exit 2 for an invalid option, 4 when the port cannot be used."""


def register(commands: Any) -> None:
    parser = command_parser(
        commands,
        "sandbox",
        help="serve a local simulator of the gigstack API (no account needed)",
        description="Serve a stateful simulator of the gigstack API v2 and SAT's Descarga "
        "Masiva on 127.0.0.1: seeded invoices, real ZIP packages, requests that move "
        "pending → accepted → processing → completed as simulated time passes. It prints its "
        "base URL and its test key (a public key that only opens this simulator).",
        epilog=EPILOG,
        client=False,
    )
    parser.add_argument(
        "--port", type=port, default=8765, help="port on 127.0.0.1; 0 = any free port (8765)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for invoices, timing and faults (default: 0)"
    )
    parser.add_argument(
        "--speed",
        type=non_negative_float,
        default=DEFAULT_SPEED,
        metavar="X",
        help="simulated seconds per real second; SAT takes ~2.5 simulated minutes per request "
        f"(default: {DEFAULT_SPEED:g}; 0 freezes time)",
    )
    parser.add_argument(
        "--failure-rate",
        type=float,
        default=0.0,
        metavar="RATE",
        help="share of download requests that end failed, 0-1 (default: 0)",
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        metavar="RATE",
        help="share of calls failing before the server acts (500/502/503/429/drop)",
    )
    parser.add_argument(
        "--after-fault-rate",
        type=float,
        default=0.0,
        metavar="RATE",
        help="share of calls whose answer is lost after the server acted",
    )
    parser.add_argument(
        "--blank",
        action="store_true",
        help="teams start without activation, FIEL or SAT registration",
    )
    # Defined here, not imported: the simulator (aiohttp.web) loads only when the command runs.
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="NAME",
        help="make the server disagree with the SDK's guesses; repeat to combine: "
        + ", ".join(PROFILE_NAMES),
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    # Imported here: the simulator (aiohttp.web and its data generators) is only needed now.
    from gigstack_async.sandbox.__main__ import config_from_args

    try:
        config = config_from_args(args)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return asyncio.run(_serve(config, args.port, ctx.ui, _profile_label(args)))


def _profile_label(args: argparse.Namespace) -> str:
    parts = list(args.profile)
    if args.clock_offset is not None:
        parts.append(f"clock offset {args.clock_offset:+g} s")
    parts += [
        f"SAT {code.rpartition(':')[2]} on {code.rpartition(':')[0]}" for code in args.sat_code
    ]
    if args.history_limit != 20:
        parts.append(f"history of {args.history_limit}")
    return ", ".join(parts)


async def _serve(config: SandboxConfig, port: int, ui: Ui, profile: str = "") -> int:
    from gigstack_async.sandbox import Sandbox

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Ctrl-C is how a server is stopped: a clean exit 0, not "interrupted". (Windows has no
        # add_signal_handler: Ctrl-C then ends it as an interruption.)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with Sandbox(config, port=port) as sandbox:
        ui.out(f"gigstack sandbox (local simulator, no account needed) at {sandbox.base_url}")
        ui.out(f"Test key: {sandbox.api_key} (it only opens this sandbox)")
        ui.out(f"Seed {config.seed}, simulated time x{config.speed:g}. Ctrl-C to stop.")
        if profile:
            ui.out(f"Server profile: {profile}")
        ui.out()
        ui.out(f"  export GIGSTACK_BASE_URL={sandbox.base_url}")
        ui.out(f"  export GIGSTACK_API_KEY={sandbox.api_key}")
        await stop.wait()
    ui.out("sandbox stopped")
    return exitcodes.OK
