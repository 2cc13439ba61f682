"""`gigstack-async demo`: the real `sat download` against an in-process simulator.

Tuning: the simulator's SAT takes ~155 simulated seconds per request (5 pending, 30 accepted,
120 processing, ±25 %). At x20 that is ~8 s of real time, so every month visibly walks through
its states while a year still finishes in about ten seconds; polling every 0.2 s catches each
change without flooding the loopback server.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gigstack_async.cli import exitcodes
from gigstack_async.cli.argtypes import positive_float
from gigstack_async.cli.context import Context
from gigstack_async.cli.download import (
    DownloadJob,
    check_out_folder,
    execute,
    plan_run,
    show_plan,
)
from gigstack_async.cli.outpath import check_creatable
from gigstack_async.cli.parser import PROG, command_parser
from gigstack_async.cli.runner import run_command
from gigstack_async.cli.ui import Ui
from gigstack_async.client import GigstackClient

DEFAULT_SPEED = 20.0
POLL_SECONDS = 0.2
DEFAULT_OUT = Path("demo-output")

EPILOG = f"""\
examples:
  {PROG} demo
  {PROG} demo --out /tmp/cfdi --seed 7
  {PROG} demo --speed 200          # faster; states change too quickly to follow

It runs exactly what this command would run against the real API:
  {PROG} sat download --from YYYY-01 --to YYYY-12 --rfc-type received --type cfdi --out DIR
for the previous calendar year, with the live progress table and the summary.

Run it again and it says the data is already downloaded; delete DIR (or pick another --out)
to start over.

exit codes: 0 every month downloaded; 1 some month failed; 2 DIR is a file; 4 local error (e.g.
DIR not writable)."""


def register(commands: Any) -> None:
    parser = command_parser(
        commands,
        "demo",
        help="download a year of CFDIs from a local simulator, with live progress",
        description="Start a local simulator of the gigstack API in this process (no account, "
        "no network: everything stays on 127.0.0.1) and bulk-download a full year of received "
        "CFDIs from it, exactly as `sat download` does. Takes about ten seconds.",
        epilog=EPILOG,
        client=False,
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"folder for the files: DIR/YYYY-MM/<UUID>.xml (default: ./{DEFAULT_OUT})",
    )
    parser.add_argument(
        "--speed",
        type=positive_float,
        default=DEFAULT_SPEED,
        metavar="X",
        help=f"simulated seconds per real second (default: {DEFAULT_SPEED:g})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed for the simulated invoices (default: 0)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    check_creatable("--out", args.out, folder=True)
    check_out_folder(args.out)
    earlier = sum(1 for _ in args.out.glob("????-??/*.xml"))
    if earlier:
        # A fresh simulator would only hand out the same CFDIs again: say so instead of
        # silently downloading nothing new.
        ctx.ui.out(
            f"{args.out} already holds {earlier} CFDIs from an earlier demo: the data is "
            "already downloaded."
        )
        ctx.ui.out(f"To start over: rm -rf {args.out}   (or: {PROG} demo --out ANOTHER_FOLDER)")
        return exitcodes.OK
    ctx.ui.suggest_rich()
    return run_command(_demo(args.out, args.speed, args.seed, ctx.ui))


async def _demo(out: Path, speed: float, seed: int, ui: Ui) -> int:
    # Imported here: the simulator (aiohttp.web and its data generators) is only needed now.
    from gigstack_async.sandbox import Sandbox, SandboxConfig

    async with Sandbox(SandboxConfig(seed=seed, speed=speed)) as sandbox:
        year = sandbox.clock.today_mx().year - 1
        ui.out(f"Local simulator of the gigstack API at {sandbox.base_url}")
        ui.out(
            "It runs in this process: no account or API key needed, nothing leaves this "
            f"machine. SAT's timing is simulated x{speed:g}."
        )
        ui.out(
            f"Running: {PROG} sat download --from {year}-01 --to {year}-12 "
            f"--rfc-type received --type cfdi --out {out} --poll-interval {POLL_SECONDS:g}"
        )
        ui.out()
        job = DownloadJob(
            start=f"{year}-01",
            end=f"{year}-12",
            rfc_type="received",
            request_type="cfdi",
            out=out,
            # Each demo has a fresh simulator, so a journal from an earlier demo would name
            # requests this one never saw: keep this run's journal in a scratch file.
            journal=None,
            poll_interval=POLL_SECONDS,
        )
        async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client:
            bulk = plan_run(client, job)
            show_plan(ui, bulk, job)
            return await execute(client, bulk, job, ui)
