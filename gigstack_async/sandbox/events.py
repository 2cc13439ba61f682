"""The sandbox's event hook: resource changes announced to whoever subscribes.

The core routes call `SandboxState.emit_event(type, data, team_id=...)` after a change is
committed (a payment registered, refunded or cancelled, an invoice stamped or cancelled, a
receipt created or stamped, a client or service created/updated/deleted, a team created). The
hook records what it emitted in `EventHook.emitted`; the webhook delivery of every sandbox app
(`webhook_delivery.py`, issue 12) subscribes with `state.event_hook.subscribe(callback)` and
POSTs each event to the registered endpoints that want it (none registered: nothing is sent).

Event names follow the docs' webhook list (FACT-3p asyncapi built from the docs page), with the
docs' one-"l" spelling: `payment.created`, `payment.updated`, `payment.succeeded`,
`payment.canceled`, `invoice.created`, `invoice.canceled`, `receipt.created`, `receipt.updated`,
`receipt.completed`, `customer.created|updated|deleted`, `service.created|updated|deleted`,
`teams.created`. A refund has no documented event: it is announced as `payment.updated`
(GUESS; n8n's `payment.refunded` is not in the docs list).
"""

from __future__ import annotations

import copy
import logging
import secrets
from collections.abc import Callable
from typing import Any

import attrs

from gigstack_async.sandbox.clock import SimClock


@attrs.frozen
class SandboxEvent:
    """One emitted event.

    `data` is a deep copy of the resource as the API returns it (what `data.object` carries in
    the docs' envelope); amounts in it are `Decimal` (serialise with
    `gigstack_async.sandbox.money.dumps`). `created_ms` is simulated time in ms; `livemode` is
    always False in the sandbox.
    """

    id: str
    type: str
    team_id: str | None
    data: dict[str, Any]
    created_ms: int
    livemode: bool = False


EventCallback = Callable[[SandboxEvent], None]
"""Called synchronously on the event loop, right after the change; must not block. A callback
that needs I/O schedules it (e.g. `asyncio.get_running_loop().create_task(...)`)."""


class EventHook:
    """Fan-out of `SandboxEvent`s to subscribers; a failing subscriber never fails the request.

    Event ids are `evt_<run>_<counter>`: the counter is deterministic (1, 2, … in emission
    order) and `run` is random per sandbox run (8 hex digits, or `run_id` if given), so a
    receiver's persistent store of seen ids (`SqliteSeenEventStore`) never mistakes a restarted
    sandbox's new events for duplicates of the previous run's.
    """

    def __init__(self, clock: SimClock, *, run_id: str | None = None) -> None:
        self.clock = clock
        self.run_id = run_id if run_id is not None else secrets.token_hex(4)
        self.emitted: list[SandboxEvent] = []
        self._subscribers: list[EventCallback] = []
        self._counter = 0

    def next_id(self) -> str:
        """A new event id, unique within this run and across runs (see the class)."""
        self._counter += 1
        return f"evt_{self.run_id}_{self._counter:012d}"

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call `callback` for every future event; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def emit(self, type: str, data: dict[str, Any], *, team_id: str | None) -> SandboxEvent:
        """Record the event and hand it to every subscriber."""
        event = SandboxEvent(
            id=self.next_id(),
            type=type,
            team_id=team_id,
            data=copy.deepcopy(data),
            created_ms=self.clock.now_ms(),
        )
        self.emitted.append(event)
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # the change is committed; a listener's bug must not undo it
                logging.getLogger("gigstack_async.sandbox").exception(
                    "event subscriber failed on %s", type
                )
        return event

    def of_type(self, type: str) -> list[SandboxEvent]:
        """The emitted events of one type, in order."""
        return [event for event in self.emitted if event.type == type]
