"""Where output goes and how rich it is.

rich is optional (the `cli` extra). It is imported lazily, only here and in the modules that draw
with it, and only when this module says it is usable: the SDK itself never needs it. Output is
"fancy" (live tables, colours) when rich is installed and stdout is an interactive terminal;
otherwise every module prints plain, line-by-line text that pipes and logs can read.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
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
        self.stdout_closed = False
        """The reader of stdout went away (`... | head -1`) inside `changing_state`."""
        self._changing = 0

    @contextlib.contextmanager
    def changing_state(self) -> Iterator[None]:
        """Within: a command that changes state (a journal repair, an activation) keeps going
        when stdout's reader goes away (`... -y | head -1`), dropping the rest of its output,
        so that the change it was told to make is still made and recorded. Outside, a closed
        stdout stops the command (`main` exits 0 quietly), as for any read-only command."""
        self._changing += 1
        try:
            yield
        finally:
            self._changing -= 1

    def _closed(self) -> None:
        self.stdout_closed = True
        silence_stdout()

    @property
    def console(self) -> Console:
        """The rich console; only valid when `fancy`."""
        assert self._console is not None
        return self._console

    @property
    def width(self) -> int | None:
        """The columns output is drawn for: the terminal's (COLUMNS first, as rich and
        `shutil.get_terminal_size` read it); None for a pipe or a file, whatever COLUMNS says:
        logs keep one self-contained line per row."""
        if self.fancy:
            return self.console.width
        try:
            interactive = sys.stdout.isatty()
        except ValueError:  # closed
            return None
        return shutil.get_terminal_size().columns if interactive else None

    def out(self, text: str = "") -> None:
        """A line on stdout, flushed at once so that a pipe sees progress as it happens."""
        if self.stdout_closed:
            return
        try:
            print(text, flush=True)
        except BrokenPipeError:
            if not self._changing:
                raise
            self._closed()

    def err(self, text: str) -> None:
        """A line on stderr, with secrets masked."""
        print(self.redactor.scrub(text), file=sys.stderr, flush=True)

    def error(self, message: str) -> None:
        self.err(f"error: {message}")

    def render(self, renderable: Any, *, soft_wrap: bool = False) -> None:
        """Print a rich renderable (fancy mode only). `soft_wrap`: no line breaks of rich's own
        in a long text (a command in a hint): the terminal wraps it, and it copies whole."""
        if self.stdout_closed:
            return
        try:
            self.console.print(renderable, soft_wrap=soft_wrap)
        except BrokenPipeError:
            if not self._changing:
                raise
            self._closed()

    def suggest_rich(self) -> None:
        """Tell the user how to get the live display when rich is missing."""
        if not self.has_rich:
            self.err(f"note: for the live progress table, install rich: {INSTALL_HINT}")


def silence_stdout() -> None:
    """Point stdout at the null device: Python would otherwise report the broken pipe again
    when it flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
