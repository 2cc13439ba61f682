"""The framework-independent receiver: verify, parse, deduplicate, run the handler, answer.

gigstack expects a 2xx within 5 seconds (FACT-3p, from the docs' webhooks page). The handler runs
as a task: if it finishes within `ack_timeout` (default 4 s) the answer says how it went (200,
or 500 so gigstack retries a failure); if not, the receiver answers 202 and lets it finish in the
background, tracked until `aclose()` drains it. A background failure is logged and releases the
event's claim, so a later delivery of the same event runs it again.

Answers: 200 processed / duplicate · 202 still running · 400 not an event · 401 verification
failed · 409 the same event is being processed by another delivery (the sender retries later) ·
413 body too large · 500 the handler failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import attrs

from gigstack_async.errors import InvalidParameterError
from gigstack_async.webhooks._errors import WebhookPayloadError, WebhookVerificationError
from gigstack_async.webhooks._event import Event, parse
from gigstack_async.webhooks._seen import (
    DEFAULT_LEASE,
    InMemorySeenEventStore,
    Outcome,
    SeenEventStore,
    run_once,
)
from gigstack_async.webhooks._signing import (
    DEFAULT_TOLERANCE,
    LegacySignatureGuess,
    WebhookVerifier,
)

logger = logging.getLogger("gigstack_async.webhooks")

Handler = Callable[[Event], Awaitable[object]]

DELIVERY_BUDGET = 5.0
"""Seconds gigstack waits for the 2xx (FACT-3p; a blog says 30): the receiver answers before."""
DEFAULT_ACK_TIMEOUT = 4.0
MAX_BODY = 1024 * 1024


@attrs.frozen
class ReceiverResponse:
    """The HTTP answer: `status` and a small JSON `body` (never the secret or the payload)."""

    status: int
    body: dict[str, Any]


class WebhookReceiver:
    """Receive gigstack webhook deliveries and run `handler(event)` once per event id.

    - `secret`: the endpoint's `whsec_…` secret, or several during a rotation. Verification is
      opt-in with it and fails closed (401 with the error's class name). Signing is optional on
      gigstack's side, so an endpoint without it needs `verify=False`, said explicitly.
    - `verifier`: instead of `secret`, a ready `WebhookVerifier` (custom tolerance, legacy).
    - `store`: a `SeenEventStore` (default: in memory, this process only; use
      `SqliteSeenEventStore` with several workers).
    - `ack_timeout`: seconds to wait for the handler before answering 202 (must leave room in
      gigstack's 5 s budget). `lease`: seconds a claim is honoured (>= the handler's longest run).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        secret: str | bytes | Iterable[str | bytes] | None = None,
        verifier: WebhookVerifier | None = None,
        verify: bool = True,
        tolerance: float = DEFAULT_TOLERANCE,
        legacy: LegacySignatureGuess | None = None,
        store: SeenEventStore | None = None,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
        lease: float = DEFAULT_LEASE,
        max_body: int = MAX_BODY,
    ) -> None:
        if verifier is not None and secret is not None:
            raise InvalidParameterError("verifier", "pass either secret or verifier, not both")
        if secret is not None:
            verifier = WebhookVerifier(secret, tolerance=tolerance, legacy=legacy)
        if verifier is None and verify:
            raise InvalidParameterError(
                "secret",
                "is required to verify deliveries; pass verify=False to accept unsigned ones",
            )
        if verifier is not None and not verify:
            raise InvalidParameterError("verify", "is False but a secret was given")
        if not 0 < ack_timeout < DELIVERY_BUDGET:
            raise InvalidParameterError("ack_timeout", f"must be in (0, {DELIVERY_BUDGET}) seconds")
        self.handler = handler
        self.verifier = verifier
        self.store: SeenEventStore = store if store is not None else InMemorySeenEventStore()
        self.ack_timeout = ack_timeout
        self.lease = lease
        self.max_body = max_body
        self._tasks: set[asyncio.Task[Outcome]] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"WebhookReceiver(verifier={self.verifier!r}, store={self.store!r})"

    @property
    def pending(self) -> int:
        """Handler runs still in progress (answered 202, not finished yet)."""
        return sum(1 for task in self._tasks if not task.done())

    async def receive(self, body: bytes, headers: Mapping[str, str]) -> ReceiverResponse:
        """Handle one delivery; always returns an answer, never raises for bad input."""
        started = time.monotonic()
        if self._closed:
            return ReceiverResponse(503, {"error": "shutting_down"})
        if len(body) > self.max_body:
            return ReceiverResponse(413, {"error": "body_too_large"})
        if self.verifier is not None:
            try:
                self.verifier.verify(body, headers)
            except WebhookVerificationError as error:
                logger.warning("webhook refused: %s", type(error).__name__)
                return ReceiverResponse(401, {"error": type(error).__name__})
        try:
            event = parse(body, headers)
        except WebhookPayloadError as error:
            logger.warning("webhook refused: %s", error)
            return ReceiverResponse(400, {"error": "WebhookPayloadError"})
        task = asyncio.create_task(self._run(event), name=f"gigstack-webhook-{event.id}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        remaining = self.ack_timeout - (time.monotonic() - started)
        done, _ = await asyncio.wait({task}, timeout=max(remaining, 0.0))
        base = {"id": event.id, "type": event.type.value}
        if not done:
            return ReceiverResponse(202, {**base, "status": "accepted"})
        if task.cancelled() or task.exception() is not None:
            return ReceiverResponse(500, {**base, "status": "failed"})
        outcome = task.result()
        if outcome is Outcome.IN_PROGRESS:
            return ReceiverResponse(409, {**base, "status": str(outcome)})
        return ReceiverResponse(200, {**base, "status": str(outcome)})

    async def _run(self, event: Event) -> Outcome:
        try:
            outcome = await run_once(
                self.store, event.id, lambda: self.handler(event), lease=self.lease
            )
        except Exception:
            # The traceback is the handler's; the event is named by id and type only.
            logger.exception("webhook handler failed for %s %s", event.type.value, event.id)
            raise
        logger.debug("webhook %s %s: %s", event.type.value, event.id, outcome)
        return outcome

    def _finished(self, task: asyncio.Task[Outcome]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: already logged in _run

    async def join(self, timeout: float | None = None) -> bool:
        """Wait until the handlers running now have finished (the receiver stays open);
        returns False if some still run after `timeout` seconds."""
        tasks = set(self._tasks)
        if not tasks:
            return True
        _, still = await asyncio.wait(tasks, timeout=timeout)
        return not still

    async def aclose(self, timeout: float | None = 30.0) -> None:
        """Stop accepting deliveries (503) and wait up to `timeout` s for running handlers;
        whatever still runs then is cancelled (its claim released, so a retry runs it again)."""
        self._closed = True
        tasks = set(self._tasks)
        if not tasks:
            return
        _, still = await asyncio.wait(tasks, timeout=timeout)
        for task in still:
            task.cancel()
        if still:
            logger.warning("webhook receiver closed with %d handler(s) cancelled", len(still))
            await asyncio.wait(still)
