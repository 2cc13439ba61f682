"""What every command gets besides its arguments: the output channel, and the client factory
that reads the global options."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from gigstack_async._config import missing_version
from gigstack_async.cli.redact import Redactor
from gigstack_async.cli.ui import Ui
from gigstack_async.client import GigstackClient


@dataclass
class Context:
    ui: Ui
    redactor: Redactor
    # Told to the user on Ctrl-C (a command sets it once it has something worth resuming); a
    # function is asked then, for a hint that depends on how far the command got.
    interrupt_hint: str | Callable[[], str] | None = None
    # Run on Ctrl-C before that hint (a command sets it once it has something to summarise):
    # prints what is known without sending anything.
    on_interrupt: Callable[[], None] | None = None
    # For connection errors: where we were trying to go.
    base_url: str | None = None
    # The missing-/v2 warning is printed once, however many clients a command makes.
    warned_version: bool = False
    # The command line as given (after the program name): a refusal can print it to run again.
    arguments: tuple[str, ...] = ()

    def command_with(self, *extra: str) -> str:
        """The command line as typed, `extra` added, quoted for this platform's shell, without
        an --api-key value (never printed: it comes from the environment)."""
        from gigstack_async.bulk.hints import shell_quote

        kept: list[str] = []
        skip = False
        for argument in self.arguments:
            if skip:
                skip = False
            elif argument == "--api-key":
                skip = True
            elif not argument.startswith("--api-key="):
                kept.append(argument)
        return " ".join(["gigstack-async", *(shell_quote(a) for a in [*kept, *extra])])

    def again_with(self, *extra: str) -> str:
        """`command_with(*extra)` in backticks, and, when an --api-key was typed (never
        printed), that the command needs the same key again (newcomer 9j F6: copied as shown,
        `journal rebind` then failed with "no API key", or read the old key from the
        environment and changed nothing)."""
        command = f"`{self.command_with(*extra)}`"
        if any(a == "--api-key" or a.startswith("--api-key=") for a in self.arguments):
            command += (
                " with the same API key (the --api-key value is never printed: pass it again, "
                "or set GIGSTACK_API_KEY to it)"
            )
        return command

    def client(self, args: argparse.Namespace) -> GigstackClient:
        """A client from --api-key/--base-url/--team/--request-timeout (the first two falling back
        to the environment). A base URL without `/v2` gets a warning that suggests it.

        No connection is opened until the first call, so this is safe outside an event loop.
        """
        if args.api_key is not None:
            self.redactor.add(args.api_key)
        timeout = getattr(args, "request_timeout", None)
        client = GigstackClient(
            args.api_key,
            base_url=args.base_url,
            team=args.team,
            **({} if timeout is None else {"timeout": timeout}),
        )
        self.base_url = client.base_url
        hint = missing_version(client.base_url)
        if hint is not None and not self.warned_version:
            self.warned_version = True
            self.ui.err(f"warning: {hint}")
        return client
