"""Every option and argument of every command explains itself in --help."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from gigstack_async.cli.app import build_parser


def _parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


def test_every_option_of_every_command_has_a_help_text() -> None:
    missing = [
        f"{' '.join(path) or '(root)'} {action.option_strings or action.dest}"
        for path, parser in _parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction)
        and (not action.help or action.help == argparse.SUPPRESS)
    ]
    assert missing == []


def test_the_walk_reaches_every_command() -> None:
    paths = {" ".join(path) for path, _ in _parsers(build_parser())}
    assert {"sat invoices list", "sat download", "downloads history", "sandbox", "demo"} <= paths
