"""`gigstack-async sandbox`: serve the local gigstack simulator until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import signal
from typing import TYPE_CHECKING, Any, cast

from gigstack_async.cli import exitcodes
from gigstack_async.cli.argtypes import non_negative_float, non_negative_int, port
from gigstack_async.cli.context import Context
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.parser import PROG, command_parser
from gigstack_async.cli.runner import run_command
from gigstack_async.cli.ui import Ui

if TYPE_CHECKING:
    from gigstack_async.sandbox import SandboxConfig
    from gigstack_async.sandbox.profiles import ServerProfile
    from gigstack_async.sandbox.state import CallRecord

# SAT takes ~155 simulated seconds per request: at x60 that is ~3 s, so the README's bulk
# example (polling from 5 s) prints its first month within seconds, and states still visibly move.
DEFAULT_SPEED = 60.0
DEFAULT_PRELOADED_MONTHS = 3

ROTATED_API_KEY = "sk_test_sandbox_rotated_9c2e51d07b3a"
"""`--extra-keys`: a second test key of the default key's team (a rotated key), to try
`journal rebind`. Not a secret: it only opens the sandbox."""
OTHER_ACCOUNT_API_KEY = "sk_test_sandbox_foreign_6e0a8f4c21d9"
"""`--extra-keys`: a test key of another account (home team `team_foreign`, another RFC):
`journal rebind` refuses it. Not a secret: it only opens the sandbox."""

PROFILE_NAMES = (
    "agree",
    "cfdi-only-history",
    "clock-ahead",
    "clock-behind",
    "created-at-iso",
    "created-at-naive-mx",
    "created-at-seconds",
    "documented-fields",
    "history-by-period",
    "history-by-update",
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
  {PROG} sandbox --log-requests              # print each request: method, path, status
                                             # (and each create's request id, rfc type,
                                             # type and dates)
  {PROG} sandbox --extra-keys                # also a rotated key of the same team and one
                                             # of another account, to try `journal rebind`
  {PROG} sandbox --sat-code 2025-03:5007:1   # SAT 5007 (package gone) for March, only once
  {PROG} sandbox --sat-code 2025-03:5003     # March's whole-month request: split it; each
                                             # half (other dates) then succeeds
  python -m gigstack_async.sandbox             # the same command
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
        "pending → accepted → processing → completed as simulated time passes. Each team "
        "starts with its last months of CFDIs already downloaded, so the SAT invoice list has "
        "data. It prints its base URL and its test key (a public key that only opens this "
        "simulator). `python -m gigstack_async.sandbox` is the same command.",
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
        help="teams start without activation, FIEL, SAT registration or preloaded invoices",
    )
    parser.add_argument(
        "--preload-months",
        type=non_negative_int,
        default=DEFAULT_PRELOADED_MONTHS,
        metavar="N",
        help="start with completed CFDI downloads (received and issued) for the last N full "
        f"months, so the SAT invoice list has data (default: {DEFAULT_PRELOADED_MONTHS}; 0 = none)",
    )
    parser.add_argument(
        "--log-requests",
        action="store_true",
        help="print every request received: method, path with query, status (never the key), "
        "and for each download request create the request id it made and what it asked for "
        "(rfc type, request type, dates: `request id X for received cfdi "
        "2024-02-01..2024-02-29`), also when a fault lost its answer (this sandbox's stand-in "
        "for gigstack's dashboard)",
    )
    parser.add_argument(
        "--extra-keys",
        action="store_true",
        help="also accept two more test keys, printed on start: a rotated key of the same "
        "team (to try `journal rebind` after a key rotation) and one of another account "
        "(team_foreign, another RFC: rebind refuses it)",
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
        "--lost-create-lag",
        type=non_negative_float,
        default=None,
        metavar="SECONDS",
        help="a create the server made but whose answer was lost (--after-fault-rate) is "
        "listed in the history only SECONDS simulated seconds later, after creates made "
        "meanwhile (default: 0, at once); until then the month needs attention, and a later "
        "run adopts it",
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
        metavar="YYYY-MM:CODE[:TIMES]",
        help="SAT answers CODE (305/5002/5003/5004/5005/5007/5008/5011; 305: the taxpayer's "
        "FIEL is invalid or expired) for requests covering that "
        "whole month (its 1st to its last day, so never one clipped to today; other dates in "
        "it, such as the halves of a split "
        "after 5003 or a retry with other dates after 5002, are answered normally); with TIMES "
        "only that many times, then SAT behaves normally (so a resend of the same dates can "
        "succeed after 305/5007/5008/5011; default: always); repeatable",
    )
    parser.add_argument(
        "--sat-5005",
        choices=("match", "refused", "failed"),
        default="match",
        help="how gigstack reports a --sat-code 5005 (SAT: an identical request is active; "
        "undocumented, so each is playable): match answers duplicate: true with the earlier "
        "identical request, or refuses the create with 400 SAT 5005 when the sandbox has none "
        "(the active one was made outside gigstack: nothing to match; default), refused "
        "refuses the create with 400 SAT 5005 even when it has one, failed creates a request "
        "that ends failed with SAT 5005 (billed)",
    )
    parser.set_defaults(func=run)


def profile_from_args(args: argparse.Namespace) -> ServerProfile:
    """The ServerProfile of `--profile`, `--clock-offset`, `--lost-create-lag` and `--sat-code`
    (ValueError if bad)."""
    from gigstack_async.sandbox.profiles import DuplicateAs, SatCodeRule, ServerProfile, profile

    chosen = profile(*args.profile)
    if args.clock_offset is not None:
        chosen = chosen.combine(ServerProfile(clock_offset_seconds=args.clock_offset))
    lag = getattr(args, "lost_create_lag", None)
    if lag is not None:
        chosen = chosen.combine(ServerProfile(lost_create_lag=lag))
    how = cast("DuplicateAs", getattr(args, "sat_5005", "match"))
    rules = [
        SatCodeRule(
            code,
            month,
            times=times,
            whole_month=True,
            duplicate_as=how if code == 5005 else "match",
        )
        for month, code, times in map(_sat_code, args.sat_code)
    ]
    return chosen.combine(ServerProfile(sat_codes=tuple(rules)))


def _sat_code(spec: str) -> tuple[str, int, int | None]:
    """`YYYY-MM:CODE[:TIMES]` → (month, code, times or None = always)."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts[1:]) or not parts[0]:
        raise ValueError(f"--sat-code expects YYYY-MM:CODE or YYYY-MM:CODE:TIMES, got {spec!r}")
    times = int(parts[2]) if len(parts) == 3 else None
    return parts[0], int(parts[1]), times


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The SandboxConfig the command line describes (ValueError for impossible values)."""
    from gigstack_async.sandbox import FaultConfig, LifecycleConfig, SandboxConfig
    from gigstack_async.sandbox.config import DEFAULT_API_KEYS, ApiKeyConfig

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
    keys = DEFAULT_API_KEYS
    if getattr(args, "extra_keys", False):
        keys = (
            *DEFAULT_API_KEYS,
            ApiKeyConfig(ROTATED_API_KEY, "team_sandbox", frozenset({"team_connected"})),
            ApiKeyConfig(OTHER_ACCOUNT_API_KEY, "team_foreign", owner="user_foreign"),
        )
    return SandboxConfig(
        api_keys=keys,
        seed=args.seed,
        speed=args.speed,
        ready=not args.blank,
        lifecycle=LifecycleConfig(failure_rate=args.failure_rate),
        faults=faults,
        history_limit=args.history_limit,
        profile=profile_from_args(args),
        preloaded_months=0 if args.blank else args.preload_months,
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    try:
        config = config_from_args(args)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return run_command(
        _serve(config, args.port, ctx.ui, _profile_label(args), log_requests=args.log_requests)
    )


def _profile_label(args: argparse.Namespace) -> str:
    parts = list(args.profile)
    if args.clock_offset is not None:
        parts.append(f"clock offset {args.clock_offset:+g} s")
    if getattr(args, "lost_create_lag", None):
        parts.append(f"a lost create listed {args.lost_create_lag:g} s late")
    for spec in args.sat_code:
        month, code, times = _sat_code(spec)
        often = "" if times is None else f", {times}x"
        parts.append(f"SAT {code} on {month} (whole-month requests{often})")
        if code == 5005 and getattr(args, "sat_5005", "match") != "match":
            parts[-1] += f", as {args.sat_5005}"
    if args.history_limit != 20:
        parts.append(f"history of {args.history_limit}")
    # Injected faults change what a run meets: a banner without them misleads a reader of logs.
    if args.failure_rate:
        parts.append(f"--failure-rate {args.failure_rate:g}")
    if args.fault_rate:
        parts.append(f"--fault-rate {args.fault_rate:g}")
    if args.after_fault_rate:
        parts.append(f"--after-fault-rate {args.after_fault_rate:g}")
    return ", ".join(parts)


def _request_line(record: CallRecord) -> str:
    # Method, path and status only: the Authorization header (the key) is never shown.
    status = "no answer (dropped)" if record.status is None else str(record.status)
    fault = f"  [injected {record.fault}]" if record.fault else ""
    # The id a create made, even when the client never saw the answer: what gigstack's dashboard
    # would show, and what `journal adopt` needs.
    created = f"  request id {record.created}" if record.created else ""
    # ... and what it asked for: a hint says to find a lost request "by its dates and type".
    criteria = f" for {record.criteria}" if record.criteria else ""
    if criteria and not created:
        criteria = f"  (asked{criteria})"  # refused or lost before anything was created
    return f"{record.method} {record.path or record.route} -> {status}{created}{criteria}{fault}"


async def _serve(
    config: SandboxConfig, port: int, ui: Ui, profile: str = "", *, log_requests: bool = False
) -> int:
    from gigstack_async.sandbox import Sandbox

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Ctrl-C is how a server is stopped: a clean exit 0, not "interrupted". (Windows has no
        # add_signal_handler: Ctrl-C then ends it as an interruption.)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    sandbox = Sandbox(config, port=port)
    try:
        await sandbox.start()  # cleans up after itself when the bind fails
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        raise UsageError(
            f"--port {port}: the port is already in use (another sandbox?); "
            "stop it, pick another port, or pass --port 0 for any free one"
        ) from None
    try:
        for line in banner(
            sandbox.base_url, sandbox.api_key, config, profile=profile, log_requests=log_requests
        ):
            ui.out(line)
        if log_requests:
            sandbox.state.call_listeners.append(lambda record: ui.out(_request_line(record)))
        await stop.wait()
        calls = len(sandbox.state.calls)
    finally:
        await sandbox.stop()
    ui.out(f"sandbox stopped after {calls} request{'' if calls == 1 else 's'}")
    return exitcodes.OK


def banner(
    base_url: str, api_key: str, config: SandboxConfig, *, profile: str = "", log_requests: bool
) -> list[str]:
    """What the sandbox prints on start: where it is, its key, and how to point code at it."""
    preloaded = (
        f"{config.preloaded_months} months of SAT invoices preloaded"
        if config.preloaded_months
        else "no SAT invoices yet"
    )
    return [
        f"gigstack sandbox (local simulator, no account needed) at {base_url}",
        f"API key: {api_key} (a test key: it only opens this sandbox)",
        *(
            [
                f"Rotated key of the same team (to try `{PROG} journal rebind`): {ROTATED_API_KEY}",
                f"Key of another account (team_foreign, another RFC; rebind refuses it): "
                f"{OTHER_ACCOUNT_API_KEY}",
            ]
            if any(k.key == ROTATED_API_KEY for k in config.api_keys)
            else []
        ),
        f"Seed {config.seed}, simulated time x{config.speed:g}, {preloaded}. Ctrl-C to stop.",
        *([f"Server profile: {profile}"] if profile else []),
        "Requests are logged below (method, path, status)."
        if log_requests
        else "Add --log-requests to see each request it receives.",
        "",
        f"  export GIGSTACK_BASE_URL={base_url}",
        f"  export GIGSTACK_API_KEY={api_key}",
    ]
