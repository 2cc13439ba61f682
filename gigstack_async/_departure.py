"""Whether a call's request left this machine: what a cancelled create needs to know.

A create request whose task is cancelled (Ctrl-C, `break`, a timeout of the caller's own)
may or may not have reached gigstack, so a bulk download treats it as possibly billed and
never sends the month again by itself. That caution is needed only once the request's bytes
may have left: a create cancelled while it waited for the client's in-flight limit, or while
its connection was being opened, cannot have been seen by any server.

The pipeline marks `attempted` right before it hands the request to the transport; a transport
that can see its request leave (the aiohttp one, through aiohttp's tracing, for the session it
uses for billed calls) marks `watched` when it starts and `left` before the first byte is
written. A transport that cannot see it never marks `watched`, and its attempts count as left.

Example::

    with watch() as departure:
        try:
            await client.downloads.create_request(...)
        except asyncio.CancelledError:
            if departure.never_left:
                ...  # nothing was sent: nothing can have been billed
            raise
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

import attrs


@attrs.define
class Departure:
    """What is known of one call's request: see the module docstring."""

    attempted: bool = False
    watched: bool = False
    left: bool = False

    @property
    def never_left(self) -> bool:
        """True only when no byte of the request can have left this machine."""
        return not self.attempted or (self.watched and not self.left)


_CURRENT: ContextVar[Departure | None] = ContextVar("gigstack_departure", default=None)


@contextlib.contextmanager
def watch() -> Iterator[Departure]:
    """Record the departure of the calls made in the block (by this task)."""
    departure = Departure()
    token = _CURRENT.set(departure)
    try:
        yield departure
    finally:
        _CURRENT.reset(token)


def current() -> Departure | None:
    """The departure being recorded for this task's calls, or None."""
    return _CURRENT.get()


def note(*, attempted: bool = False, watched: bool = False, left: bool = False) -> None:
    """Mark what is now known of this task's call, if its departure is being recorded."""
    departure = _CURRENT.get()
    if departure is None:
        return
    departure.attempted |= attempted
    departure.watched |= watched
    departure.left |= left


def never_left() -> bool:
    """Whether this task's call is being recorded and no byte of it can have left."""
    departure = _CURRENT.get()
    return departure is not None and departure.never_left
