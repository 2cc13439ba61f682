"""Where output goes and how rich it is.

rich is optional (the `cli` extra). It is imported lazily, only here and in the modules that draw
with it, and only when this module says it is usable: the SDK itself never needs it. Output is
"fancy" (live tables, colours) when rich is installed and stdout is an interactive terminal;
otherwise every module prints plain, line-by-line text that pipes and logs can read.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from gigstack_async.cli.redact import Redactor

if TYPE_CHECKING:
    from rich.console import Console

INSTALL_HINT = 'pip install "gigstack-async[cli]"'


def rich_installed() -> bool:
    try:
        return importlib.util.find_spec("rich") is not None
    except ValueError:  # a module object without a spec (e.g. stubbed out in sys.modules)
        return False


class Ui:
    """The output channel of one command run."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.has_rich = rich_installed()
        self._console: Console | None = None
        if self.has_rich:
            try:
                from rich.console import Console
            except ImportError:
                self.has_rich = False
            else:
                # highlight=False: numbers and dates in our text should not change colour randomly.
                self._console = Console(highlight=False)
        # rich's own detection honours TTY_COMPATIBLE / TTY_INTERACTIVE and dumb terminals.
        self.fancy = self._console is not None and self._console.is_interactive

    @property
    def console(self) -> Console:
        """The rich console; only valid when `fancy`."""
        assert self._console is not None
        return self._console

    def out(self, text: str = "") -> None:
        """A line on stdout, flushed at once so that a pipe sees progress as it happens."""
        print(text, flush=True)

    def err(self, text: str) -> None:
        """A line on stderr, with secrets masked."""
        print(self.redactor.scrub(text), file=sys.stderr, flush=True)

    def error(self, message: str) -> None:
        self.err(f"error: {message}")

    def render(self, renderable: Any) -> None:
        """Print a rich renderable (fancy mode only)."""
        self.console.print(renderable)

    def suggest_rich(self) -> None:
        """Tell the user how to get the live display when rich is missing."""
        if not self.has_rich:
            self.err(f"note: for the live progress table, install rich: {INSTALL_HINT}")
