"""The argparse tree: global options, the command groups, one-line usage errors."""

from __future__ import annotations

import argparse
import shutil
import textwrap
from typing import Any, NoReturn

from gigstack_async._version import __version__
from gigstack_async.cli.argtypes import positive_float
from gigstack_async.cli.exitcodes import EPILOG, UsageError

PROG = "gigstack-async"

ROOT_EPILOG = f"""\
examples:
  # a year of CFDIs from a local simulator, with live progress (no account needed)
  {PROG} demo
  # against the real API
  export GIGSTACK_API_KEY=...
  {PROG} sat download --from 2024-01 --to 2024-12 --rfc-type received --out ./cfdi
  {PROG} sat invoices list --direction received --from 2024-01-01 --format csv > inv.csv
  {PROG} downloads history
  # serve the simulator for your own code
  {PROG} sandbox --port 8765

Global options may also follow the command: `{PROG} downloads history --debug`.
Every command has its own --help, e.g. `{PROG} sat download --help`.

environment:
  GIGSTACK_API_KEY   the API key (prefer it to --api-key, which other users can see in `ps`)
  GIGSTACK_BASE_URL  the API base URL (default https://api.gigstack.io/v2)

{EPILOG}"""

DESCRIPTION = """\
The gigstack API v2 from the command line: bulk-download CFDIs from SAT (Descarga Masiva),
list SAT invoices, inspect download requests, and run a local simulator of the API.

The live progress display and the tables need rich: pip install "gigstack-async[cli]".
Without it, output is plain text, one line per event."""


class CliParser(argparse.ArgumentParser):
    """Usage errors become one line, `error: ...`, printed by the caller (exit 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Prose is wrapped to the terminal; indented lines (examples, tables) are kept as written."""

    def __init__(self, prog: str) -> None:
        super().__init__(
            prog, max_help_position=30, width=min(shutil.get_terminal_size().columns, 100)
        )

    def _split_lines(self, text: str, width: int) -> list[str]:
        # Never break inside `demo-output` or `gigstack-async[cli]`.
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        prose: list[str] = []

        def flush() -> None:
            if prose:
                out.append(
                    textwrap.fill(
                        " ".join(prose),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                        break_on_hyphens=False,
                    )
                )
                prose.clear()

        for line in text.splitlines():
            if line and not line[0].isspace():
                prose.append(line.strip())
                continue
            flush()
            out.append(indent + line if line else "")
        flush()
        return "\n".join(out)


def common_options(*, client: bool = True) -> CliParser:
    """Global options, accepted before or after the command. `client=False`: only --debug, for
    commands that do not talk to the API (sandbox, demo).

    Defaults are SUPPRESSed here and set once on the root, so a value given on the root is not
    overwritten by a command parser that did not see it.
    """
    common = CliParser(add_help=False)
    group = common.add_argument_group("global options")
    suppress: Any = argparse.SUPPRESS
    if client:
        _client_options(group, suppress)
    group.add_argument(
        "--debug",
        action="store_true",
        default=suppress,
        help="show tracebacks and the SDK's DEBUG log (requests, statuses, timings) on stderr",
    )
    return common


def _client_options(group: Any, suppress: Any) -> None:
    group.add_argument(
        "--api-key",
        default=suppress,
        metavar="KEY",
        help="API key (default: $GIGSTACK_API_KEY). Never printed, not even with --debug",
    )
    group.add_argument(
        "--base-url",
        default=suppress,
        metavar="URL",
        help="API base URL (default: $GIGSTACK_BASE_URL, else https://api.gigstack.io/v2)",
    )
    group.add_argument(
        "--team",
        default=suppress,
        metavar="TEAM_ID",
        help="act on another team's data (gigstack Connect)",
    )
    group.add_argument(
        "--request-timeout",
        type=positive_float,
        default=suppress,
        metavar="SECONDS",
        help="give up on one API call after SECONDS, retries included (default: 300; a "
        "silent server is retried, so without it a call may wait minutes)",
    )


def command_parser(
    subparsers: Any,
    name: str,
    *,
    help: str,
    description: str,
    epilog: str,
    client: bool = True,
) -> CliParser:
    """A command's parser with the global options and the shared help layout."""
    parser: CliParser = subparsers.add_parser(
        name,
        parents=[common_options(client=client)],
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=_Formatter,
    )
    return parser


def group_parser(subparsers: Any, name: str, *, help: str, epilog: str) -> Any:
    """A command group (`sat`, `downloads`): returns the subparsers to add its commands to."""
    parser: CliParser = subparsers.add_parser(
        name,
        parents=[common_options()],
        help=help,
        description=help,
        epilog=epilog,
        formatter_class=_Formatter,
    )
    return parser.add_subparsers(
        title="commands", dest=f"{name}_command", metavar="COMMAND", required=True
    )


def root_parser() -> tuple[CliParser, Any]:
    root = CliParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=ROOT_EPILOG,
        formatter_class=_Formatter,
        parents=[common_options()],
    )
    root.set_defaults(api_key=None, base_url=None, team=None, request_timeout=None, debug=False)
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = root.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )
    return root, commands
