"""`main()`: parse, run the command, turn any failure into one line and an exit code."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import traceback
from collections.abc import Sequence

from gigstack_async.cli import exitcodes
from gigstack_async.cli.commands import (
    demo,
    downloads,
    journal,
    sandbox,
    sat_download,
    sat_invoices,
)
from gigstack_async.cli.context import Context
from gigstack_async.cli.exitcodes import UsageError, classify
from gigstack_async.cli.parser import PROG, CliParser, group_parser, root_parser
from gigstack_async.cli.redact import Redactor, enable_debug_logging
from gigstack_async.cli.ui import Ui, silence_stdout

SAT_EPILOG = f"""\
examples:
  {PROG} sat download --from 2024-01 --to 2024-12 --rfc-type received --out ./cfdi
  {PROG} sat invoices list --direction received --format jsonl"""


def build_parser() -> CliParser:
    root, commands = root_parser()
    sat = group_parser(
        commands, "sat", help="SAT: bulk CFDI downloads and SAT invoices", epilog=SAT_EPILOG
    )
    sat_download.register(sat)
    sat_invoices.register(sat)
    downloads.register(commands)
    journal.register(commands)
    sandbox.register(commands)
    demo.register(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see `gigstack-async --help`). SIGTERM (`kill`, a
    service manager stopping it) ends a command as Ctrl-C does: summary, how to resume, 130."""
    try:
        previous = signal.signal(signal.SIGTERM, _as_ctrl_c)
    except ValueError:  # not the main thread: signals are not ours to handle
        return _main(argv)
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Before the command began (its parser, its output), or after it ended: nothing was
        # sent (review 12b #4: a traceback, and death by SIGINT).
        _stop_listening()
        with contextlib.suppress(Exception, KeyboardInterrupt):
            sys.stderr.write("interrupted\n")
        return exitcodes.INTERRUPTED
    finally:
        with contextlib.suppress(Exception):
            signal.signal(signal.SIGTERM, previous)


def _stop_listening() -> None:
    """From here on a Ctrl-C or SIGTERM has nothing left to stop: it must not turn exit 130 into
    a kill by a signal (or a traceback) on the way out (review 12b #3)."""
    with contextlib.suppress(ValueError, KeyboardInterrupt):  # ValueError: not the main thread
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _as_ctrl_c(signum: int, frame: object) -> None:
    # Outside a command's event loop (whose own SIGTERM handler cancels its main task:
    # `runner.run_command`): whatever handles SIGINT right now handles it, asyncio.run's (which
    # cancels the command's task) or Python's (KeyboardInterrupt, see `interrupted`). SIGINT
    # ignored (a script's background job, `cmd &`): KeyboardInterrupt all the same, as the
    # synchronous commands and prompts this runs in stop at Ctrl-C (newcomer 12 #1).
    if callable(signal.getsignal(signal.SIGINT)):
        signal.raise_signal(signal.SIGINT)
        return
    raise KeyboardInterrupt


def _main(argv: Sequence[str] | None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    redactor = Redactor.from_invocation(arguments)
    ui = Ui(redactor)
    try:
        args = build_parser().parse_args(arguments)
    except UsageError as error:
        ui.error(str(error))
        return exitcodes.USAGE
    if args.debug:
        enable_debug_logging(redactor)
    elif not logging.getLogger("gigstack_async").handlers:
        # The CLI shows the SDK's warnings as events (MonthWarning lines, table notes); without
        # a handler Python's last-resort handler would print each one a second time.
        logging.getLogger("gigstack_async").addHandler(logging.NullHandler())
    ctx = Context(ui, redactor, arguments=tuple(arguments))
    try:
        code: int = args.func(args, ctx)
    except KeyboardInterrupt:
        return interrupted(ctx)
    except BrokenPipeError:
        # The reader went away (`... | head`): nothing more to say to it, and not an error.
        silence_stdout()
        return exitcodes.OK
    except Exception as error:
        if args.debug:
            ui.err("".join(traceback.format_exception(error)).rstrip())
        code, message = classify(error, ctx.base_url)
        ui.error(message)
        return code
    return code


def interrupted(ctx: Context) -> int:
    """After Ctrl-C: the command's summary (`ctx.on_interrupt`), then the line that says how to
    resume; exit 130 whatever happens meanwhile. A Ctrl-C now only cuts the summary short
    (nothing is written then: the summary reads the journal, it never changes it); while the
    command ran, the second and third ones were `runner.run_command`'s."""
    try:
        if ctx.on_interrupt is not None:
            ctx.on_interrupt()
    except KeyboardInterrupt:
        pass
    except Exception as error:  # a courtesy: never let it hide how to resume
        with contextlib.suppress(Exception, KeyboardInterrupt):
            ctx.ui.err(f"(no summary: {error})")
    _stop_listening()
    hint = ctx.interrupt_hint
    if callable(hint):
        try:
            hint = hint()
        except Exception:  # a courtesy, as the summary: "interrupted" is said regardless
            hint = None
    hint = f": {hint}" if hint else ""
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        ctx.ui.err(f"interrupted{hint}")
    return exitcodes.INTERRUPTED
