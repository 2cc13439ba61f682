"""A moment after which a task's API calls are not sent: `bulk(timeout=)`'s deadline.

A bulk run checks its deadline before each create and package download, but a call that
passed that check can still wait for the client's shared in-flight limit (`max_in_flight`) or
for a retry's backoff (a 429's `Retry-After` of up to 60 s). The pipeline reads the window set
here right before each attempt leaves, after taking its slot, and never waits for a retry that
would start after it: past the window it raises `SendWindowClosedError`, and nothing more of the
call is sent. The window is a context variable, so it covers only the tasks of the run that set
it (tasks copy the context they were created in), never the caller's other calls on the client.

Example::

    with send_before(loop.time() + 30.0):
        await client.downloads.history()  # not sent (nor retried) after 30 s
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_SEND_BEFORE: ContextVar[float | None] = ContextVar("gigstack_send_before", default=None)


@contextlib.contextmanager
def send_before(moment: float | None) -> Iterator[None]:
    """Within the block (and tasks created in it), no attempt leaves at or after `moment`
    (the event loop's clock, `loop.time()`, in seconds); None: no window."""
    token = _SEND_BEFORE.set(moment)
    try:
        yield
    finally:
        _SEND_BEFORE.reset(token)


def window_end() -> float | None:
    """The current task's window (`loop.time()` seconds), or None."""
    return _SEND_BEFORE.get()


def closed(now: float) -> bool:
    """Whether an attempt leaving at `now` (`loop.time()`) would leave past the window."""
    end = _SEND_BEFORE.get()
    return end is not None and now >= end


def fits(now: float, delay: float) -> bool:
    """Whether a retry `delay` seconds after `now` would still leave inside the window."""
    end = _SEND_BEFORE.get()
    return end is None or now + delay < end
