"""`python -m gigstack_async.sandbox`: exactly `gigstack-async sandbox` (same options, default
speed and banner), so the two ways the docs show cannot drift apart."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gigstack_async.cli.commands.sandbox import config_from_args, profile_from_args

__all__ = ["config_from_args", "main", "profile_from_args"]


def _parser() -> argparse.ArgumentParser:
    """The `gigstack-async sandbox` argument parser (tests parse command lines with it)."""
    from gigstack_async.cli.app import build_parser

    root = build_parser()
    for action in root._actions:
        if isinstance(action, argparse._SubParsersAction):
            parser: argparse.ArgumentParser = action.choices["sandbox"]
            return parser
    raise AssertionError("the CLI has no sandbox command")


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the simulator until Ctrl-C; returns the exit status (see `--help`)."""
    from gigstack_async.cli import main as cli_main

    return cli_main(["sandbox", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
