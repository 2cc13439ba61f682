"""Polling download requests until SAT is done with them.

One history call per tick covers every watched request, however many there are; only a request
that has fallen out of the history's 20-entry window costs a status call of its own.

```python
async for update in client.downloads.watch(request_id):
    print(update.status, update.invoice_count)
final = await client.downloads.wait(request_id)
```
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Collection, Iterator
from typing import TYPE_CHECKING

import attrs

from gigstack_async._generated.models import (
    DownloadRequest,
    DownloadRequestState,
    DownloadRequestStatus,
)
from gigstack_async._validation import positive_seconds
from gigstack_async.errors import GigstackError, InvalidParameterError

if TYPE_CHECKING:
    from gigstack_async.resources.downloads import Downloads

TERMINAL_STATES = frozenset(
    {DownloadRequestState.COMPLETED, DownloadRequestState.FAILED, DownloadRequestState.EXPIRED}
)


def is_terminal(record: DownloadRequest) -> bool:
    return record.status in TERMINAL_STATES


@attrs.frozen
class PollSchedule:
    """Seconds between polls: from `initial`, × `factor` after each unchanged tick, up to
    `maximum`, ± `jitter` (a fraction) so many clients do not poll in lockstep. A change resets it.

    SAT takes minutes to hours per request, so the defaults are gentle.
    """

    initial: float = 5.0
    factor: float = 1.5
    maximum: float = 60.0
    jitter: float = 0.1

    def __attrs_post_init__(self) -> None:
        # A zero, negative or NaN delay would turn polling into a tight loop against the API.
        for name in ("initial", "factor", "maximum"):
            positive_seconds(f"PollSchedule.{name}", getattr(self, name))
        if self.factor < 1:
            raise InvalidParameterError("PollSchedule.factor", "must be ≥ 1", self.factor)
        if self.maximum < self.initial:
            raise InvalidParameterError(
                "PollSchedule.maximum", "must be ≥ PollSchedule.initial", self.maximum
            )
        jitter = self.jitter
        if isinstance(jitter, bool) or not isinstance(jitter, int | float) or not 0 <= jitter < 1:
            raise InvalidParameterError("PollSchedule.jitter", "must be in [0, 1)", jitter)

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield delay * (1 + self.jitter * (2 * random.random() - 1))
            delay = min(delay * self.factor, self.maximum)


class DownloadWatchTimeout(GigstackError):
    """Watching ran past its deadline. `last` holds the last known record of each request."""

    def __init__(self, message: str, last: dict[str, DownloadRequest | None]) -> None:
        self.last = last
        super().__init__(message)

    @property
    def last_state(self) -> DownloadRequestState | None:
        """The last known state, when one request was watched."""
        records = [record for record in self.last.values() if record is not None]
        return records[0].status if len(records) == 1 else None


def from_status(request_id: str, status: DownloadRequestStatus) -> DownloadRequest:
    """A status-call answer in the shape of a history entry."""
    return DownloadRequest(
        id=status.request_id or request_id,
        status=status.status,
        invoice_count=status.invoice_count,
        package_ids=status.package_ids,
        status_message=status.status_message,
    )


async def snapshot(
    downloads: Downloads, request_ids: Collection[str]
) -> dict[str, DownloadRequest]:
    """The current record of each request: one history call, plus a status call per request
    missing from the history window."""
    by_id = {entry.id: entry for entry in await downloads.history()}
    missing = [rid for rid in request_ids if rid not in by_id]
    if missing:
        statuses = await asyncio.gather(*(downloads.status(rid) for rid in missing))
        by_id.update(
            {rid: from_status(rid, status) for rid, status in zip(missing, statuses, strict=True)}
        )
    return {rid: by_id[rid] for rid in request_ids}


async def watch(
    downloads: Downloads,
    request_id: str,
    *,
    poll: PollSchedule | None = None,
    timeout: float | None = None,
) -> AsyncIterator[DownloadRequest]:
    """Yield the request's record now and on every state change, until a terminal state."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    delays = (poll or PollSchedule()).delays()
    last: DownloadRequest | None = None
    while True:
        record = (await snapshot(downloads, [request_id]))[request_id]
        if last is None or record.status != last.status:
            last = record
            delays = (poll or PollSchedule()).delays()
            yield record
        if is_terminal(record):
            return
        delay = next(delays)
        if deadline is not None and loop.time() + delay > deadline:
            shown = last.status.value if last.status is not None else "unknown"
            raise DownloadWatchTimeout(
                f"download request {request_id} is still {shown} after {timeout} s",
                {request_id: last},
            )
        await asyncio.sleep(delay)
