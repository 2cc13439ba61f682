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

Ctrl-C is handled by the same loop handler (when SIGINT is not ignored): `asyncio.run`'s own
raised KeyboardInterrupt into the loop on the second Ctrl-C, with that same effect: a user who
pressed it again while the run waited for its package downloads lost packages SAT had served
(review 13 #1). Now the first says the run is stopping, the second what quitting costs, and
the third quits at once, as `asyncio.run`'s second did (those downloads are then lost).

Example::

    return run_command(_download(client, job))  # instead of asyncio.run(...)
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _Stopped(Exception):
    """The main task ended cancelled by SIGTERM or Ctrl-C (raised out of the loop, then as
    KeyboardInterrupt)."""


def run_command(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, SIGTERM and Ctrl-C cancelling `main` (a second Ctrl-C says what it
    waits for, a third quits at once); raises KeyboardInterrupt when `main` ended cancelled by
    them (`main` may instead catch the cancellation and return)."""
    try:
        return asyncio.run(_stoppable(main))
    except _Stopped:
        # Stopping already: a SIGTERM must not cut the summary short (a Ctrl-C may: that is
        # how a user at the terminal skips it).
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt from None


STOPPING = (
    "stopping: nothing new is sent; waiting for the calls already on their way to be answered "
    "and recorded (up to the client's timeouts)"
)
"""Said on stderr at the first Ctrl-C or SIGTERM (`_stoppable`): the wait may be long (review
13c #1: a create that never answered kept the run silent for 60 s)."""

STILL_STOPPING = (
    "still stopping: quitting before those answers leave a create request an unknown outcome "
    "(it may have been billed, and its month then waits for you) and a package SAT has served "
    "to be downloaded again (one of its 2 downloads); press Ctrl-C again to quit at once"
)
"""Said on stderr at the second Ctrl-C (`_stoppable`)."""


async def _stoppable(main: Coroutine[Any, Any, T]) -> T:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    stopped = False
    pressed = 0  # Ctrl-Cs since the run began stopping
    forced = False  # the third: `asyncio.run` ends the loop, its cleanup cancels `main` again

    def stop() -> None:
        nonlocal stopped
        if not stopped and task is not None:  # a second SIGTERM: already stopping
            stopped = True
            task.cancel()
            _say(STOPPING)

    def ctrl_c() -> None:
        nonlocal pressed, forced
        if not stopped:
            stop()
            return
        pressed += 1
        if pressed == 1:
            _say(STILL_STOPPING)
            return
        forced = True
        raise KeyboardInterrupt  # out of the loop: `asyncio.run` cancels everything

    handlers = [(signal.SIGTERM, stop)]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a background job's stays so
        handlers.append((signal.SIGINT, ctrl_c))
    watched = []
    for signum, handler in handlers:
        previous = signal.getsignal(signum)
        try:
            loop.add_signal_handler(signum, handler)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows; not the main thread
            continue
        watched.append((signum, previous))
    try:
        return await main
    except asyncio.CancelledError:
        if stopped and not forced:  # forced: the KeyboardInterrupt is on its way already
            raise _Stopped from None
        raise
    finally:
        for signum, previous in watched:
            loop.remove_signal_handler(signum)  # leaves its default: put back the previous
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(signum, previous)


def _say(text: str) -> None:
    """`text` on stderr, on a line of its own; nothing if stderr is gone."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"\n{text}\n")
        sys.stderr.flush()
