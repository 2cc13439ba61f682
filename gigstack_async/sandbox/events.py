"""The sandbox's event hook: routes call `state.events.emit(type, data, team_id=...)` when
something webhook-worthy happens; subscribers (webhook delivery) are told synchronously.

Emitting never fails the route that emits: a subscriber error is logged and swallowed.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from gigstack_async.sandbox.clock import SimClock

logger = logging.getLogger("gigstack_async.sandbox")


@attrs.frozen
class SandboxEvent:
    """One event: `id` (`evt_…`), `type` (e.g. `payment.succeeded`), the team it belongs to,
    `created_ms` (simulated epoch ms), `livemode` (always False: sandbox keys are test keys) and
    `data` (the resource, JSON-shaped)."""

    id: str
    type: str
    team_id: str
    created_ms: int
    data: Mapping[str, Any]
    livemode: bool = False


Subscriber = Callable[[SandboxEvent], None]


class EventBus:
    """Emit events, remember them all (`events`), and tell subscribers."""

    def __init__(self, clock: SimClock, seed: int = 0) -> None:
        self.clock = clock
        self.events: list[SandboxEvent] = []
        self._subscribers: list[Subscriber] = []
        self._ids = random.Random(f"{seed}|event-ids")

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber(event)` for every future event; returns the unsubscribe function."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def emit(self, type: str, data: Mapping[str, Any], *, team_id: str) -> SandboxEvent:
        """Record and publish an event now (simulated time)."""
        event = self.record(type, data, team_id=team_id)
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                logger.exception("event subscriber failed for %s %s", event.type, event.id)
        return event

    def record(self, type: str, data: Mapping[str, Any], *, team_id: str) -> SandboxEvent:
        """Record an event without publishing it (for a delivery to one chosen endpoint)."""
        event = SandboxEvent(
            id=f"evt_{self._ids.getrandbits(96):024x}",
            type=type,
            team_id=team_id,
            created_ms=self.clock.now_ms(),
            data=dict(data),
        )
        self.events.append(event)
        return event

    def of_type(self, type: str) -> list[SandboxEvent]:
        """The emitted events of one type, oldest first."""
        return [event for event in self.events if event.type == type]
