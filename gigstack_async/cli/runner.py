"""Run a command's coroutine as `asyncio.run` does, with SIGTERM stopping it as Ctrl-C does.

`asyncio.run` cancels its main task on the first Ctrl-C, lets it finish (a bulk download stops
sending and waits for, and records, a package download in flight), then raises
KeyboardInterrupt, which `app.interrupted` turns into the summary and exit 130. It does so only
while SIGINT has Python's default handler, and a script's background job (`cmd &`) starts with
SIGINT ignored. SIGTERM (`kill`, a service manager) must stop a command that way whatever
SIGINT's state: here the event loop's own SIGTERM handler cancels the main task, nothing else,
and a second SIGTERM while it finishes is ignored.

Raising KeyboardInterrupt from a signal handler instead (newcomer 12 #1's first fix) ended the
loop at once: `asyncio.run` then cancelled every task, the package downloads in flight
included, so SAT downloads already served were recorded as not received and spent again by
the next run (review 12b #1). Where the loop cannot handle signals (Windows, or not the main
thread), SIGTERM keeps the process-wide handler `app` installs.

Example::

    return run_command(_download(client, job))  # instead of asyncio.run(...)
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _Stopped(Exception):
    """The main task ended cancelled by SIGTERM (raised out of the loop, then as Ctrl-C's)."""


def run_command(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, SIGTERM cancelling `main` as Ctrl-C does; raises KeyboardInterrupt
    when `main` ended cancelled by it (`main` may instead catch the cancellation and return)."""
    try:
        return asyncio.run(_stoppable(main))
    except _Stopped:
        # Stopping already: a second SIGTERM must not cut the summary short (a second Ctrl-C
        # may: that is how a user at the terminal skips it).
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt from None


async def _stoppable(main: Coroutine[Any, Any, T]) -> T:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped and task is not None:  # a second SIGTERM: already stopping
            stopped = True
            task.cancel()

    previous = signal.getsignal(signal.SIGTERM)
    try:
        loop.add_signal_handler(signal.SIGTERM, stop)
        watching = True
    except (NotImplementedError, RuntimeError, ValueError):  # Windows; not the main thread
        watching = False
    try:
        return await main
    except asyncio.CancelledError:
        if stopped:
            raise _Stopped from None
        raise
    finally:
        if watching:
            loop.remove_signal_handler(signal.SIGTERM)  # leaves SIG_DFL: put back the previous
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(signal.SIGTERM, previous)
