"""The framework-independent receiver: verify, parse, deduplicate, run the handler, answer.

gigstack expects a 2xx within 5 seconds (FACT-3p, from the docs' webhooks page). The handler runs
as a task: if it finishes within `ack_timeout` (default 4 s) the answer says how it went (200,
or 500 so gigstack retries a failure); if not, the receiver answers 202 and lets it finish in the
background, tracked until `aclose()` drains it.

After a 202 the sender considers the event delivered and will NOT send it again, so a handler
that fails in the background (or is still running when `aclose()` gives up on it) is never
re-delivered. Such an event is kept in the receiver's outbox of failures: `receiver.failed()`
lists them, `await receiver.retry_failed()` runs them again, and the `on_failure` hook is called
for each, so you can persist it (the outbox is in memory: it is lost when the process exits).

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
    check_lease,
    run_once,
)
from gigstack_async.webhooks._signing import (
    DEFAULT_TOLERANCE,
    LegacySignatureGuess,
    WebhookVerifier,
)

logger = logging.getLogger("gigstack_async.webhooks")

Handler = Callable[[Event], Awaitable[object]]
FailureHook = Callable[["FailedEvent"], Awaitable[object]]

DELIVERY_BUDGET = 5.0
"""Seconds gigstack waits for the 2xx (FACT-3p; a blog says 30): the receiver answers before."""
DEFAULT_ACK_TIMEOUT = 4.0
MAX_BODY = 1024 * 1024


@attrs.frozen
class ReceiverResponse:
    """The HTTP answer: `status` and a small JSON `body` (never the secret or the payload)."""

    status: int
    body: dict[str, Any]


@attrs.frozen
class FailedEvent:
    """An acknowledged (202) event whose handler failed or was cancelled at shutdown.

    The sender will not re-deliver it. `error` is the exception's class name and message (from
    your handler: keep payload data out of your exception messages if you log them), `at` the
    `time.time()` of the failure, `attempts` how many background runs failed so far.
    """

    event: Event
    error: str
    at: float
    attempts: int = 1


def _bind(handler: Handler, event: Event) -> Callable[[], Awaitable[object]]:
    return lambda: handler(event)


def _default_name(handler: Handler) -> str:
    module = getattr(handler, "__module__", None) or "handler"
    qualname = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    return f"{module}.{qualname}"


class WebhookReceiver:
    """Receive gigstack webhook deliveries and run `handler(event)` once per event id.

    - `secret`: the endpoint's `whsec_…` secret, or several during a rotation. Verification is
      opt-in with it and fails closed (401 with the error's class name). Signing is optional on
      gigstack's side, so an endpoint without it needs `verify=False`, said explicitly.
    - `verifier`: instead of `secret`, a ready `WebhookVerifier` (custom tolerance, legacy).
    - `store`: a `SeenEventStore` (default: in memory, this process only; use
      `SqliteSeenEventStore` with several workers).
    - `name`: the receiver's namespace in `store`: event ids are remembered as `name:id`, so
      two receivers with different handlers sharing one store (one SQLite file for
      `/webhooks/billing` and `/webhooks/sat`) each run their own handler once. Default: the
      handler's `module.qualname`, stable across restarts; pass `name=` explicitly for lambdas
      or `functools.partial`s, and keep it when you rename the handler (else already processed
      ids are forgotten). Receivers that must share dedupe (several workers) use one name.
    - `ack_timeout`: seconds to wait for the handler before answering 202 (must leave room in
      gigstack's 5 s budget). `lease`: seconds a claim is honoured (> `ack_timeout`, and >= the
      handler's longest run: a run outliving its lease may overlap with a retry).
    - `on_failure`: `async def hook(failed: FailedEvent)`, called when an acknowledged (202)
      event's handler fails or is cancelled at shutdown (see the module): persist it there.
    Raises `InvalidParameterError` for a bad combination or value.
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
        name: str | None = None,
        on_failure: FailureHook | None = None,
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
        lease = check_lease(lease)
        if lease <= ack_timeout:
            raise InvalidParameterError(
                "lease", "must be longer than ack_timeout (a duplicate would run concurrently)"
            )
        if name is not None and not (isinstance(name, str) and name.strip()):
            raise InvalidParameterError("name", "must be a non-empty string")
        self.handler = handler
        self.verifier = verifier
        self.store: SeenEventStore = store if store is not None else InMemorySeenEventStore()
        self.ack_timeout = ack_timeout
        self.lease = lease
        self.max_body = max_body
        self.name = name if name is not None else _default_name(handler)
        self.on_failure = on_failure
        self._tasks: set[asyncio.Task[Outcome]] = set()
        self._acknowledged: set[asyncio.Task[Outcome]] = set()
        self._events: dict[asyncio.Task[Outcome], Event] = {}
        self._hooks: set[asyncio.Task[None]] = set()
        self._failed: dict[str, FailedEvent] = {}
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"WebhookReceiver(name={self.name!r}, verifier={self.verifier!r}, store={self.store!r})"
        )

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
            # The message never quotes the body (see parse); the body itself is never logged.
            logger.warning("webhook refused: %s", error)
            return ReceiverResponse(400, {"error": "WebhookPayloadError"})
        task = self._start(event)
        remaining = self.ack_timeout - (time.monotonic() - started)
        done, _ = await asyncio.wait({task}, timeout=max(remaining, 0.0))
        base = {"id": event.id, "type": event.type.value}
        if not done:
            # From here on the sender will not retry: a failure goes to the outbox.
            self._acknowledged.add(task)
            return ReceiverResponse(202, {**base, "status": "accepted"})
        if task.cancelled() or task.exception() is not None:
            return ReceiverResponse(500, {**base, "status": "failed"})
        outcome = task.result()
        if outcome is Outcome.IN_PROGRESS:
            return ReceiverResponse(409, {**base, "status": str(outcome)})
        return ReceiverResponse(200, {**base, "status": str(outcome)})

    def _start(self, event: Event) -> asyncio.Task[Outcome]:
        task = asyncio.create_task(self._run(event), name=f"gigstack-webhook-{event.id}")
        self._tasks.add(task)
        self._events[task] = event
        task.add_done_callback(self._finished)
        return task

    def key(self, event: Event) -> str:
        """The id under which `event` is remembered in the store (`name:id`)."""
        return f"{self.name}:{event.id}"

    async def _run(self, event: Event) -> Outcome:
        try:
            outcome = await run_once(
                self.store, self.key(event), lambda: self.handler(event), lease=self.lease
            )
        except Exception:
            # The traceback is the handler's; the event is named by id and type only.
            logger.exception("webhook handler failed for %s %s", event.type.value, event.id)
            raise
        logger.debug("webhook %s %s: %s", event.type.value, event.id, outcome)
        return outcome

    def _finished(self, task: asyncio.Task[Outcome]) -> None:
        self._tasks.discard(task)
        event = self._events.pop(task)
        acknowledged = task in self._acknowledged
        self._acknowledged.discard(task)
        if task.cancelled():
            error = "CancelledError: still running when the receiver closed"
        elif (exception := task.exception()) is not None:  # already logged in _run
            error = f"{type(exception).__name__}: {exception}"
        else:
            self._failed.pop(event.id, None)
            return
        if acknowledged:
            self._record_failure(event, error)

    def _record_failure(self, event: Event, error: str) -> None:
        previous = self._failed.get(event.id)
        failed = FailedEvent(
            event, error, time.time(), attempts=1 if previous is None else previous.attempts + 1
        )
        self._failed[event.id] = failed
        logger.error(
            "webhook %s %s failed after it was acknowledged: kept in receiver.failed()",
            event.type.value,
            event.id,
        )
        if self.on_failure is not None:
            hook = asyncio.get_running_loop().create_task(self._call_hook(failed))
            self._hooks.add(hook)
            hook.add_done_callback(self._hooks.discard)

    async def _call_hook(self, failed: FailedEvent) -> None:
        assert self.on_failure is not None
        try:
            await self.on_failure(failed)
        except Exception:
            logger.exception("webhook on_failure hook failed for %s", failed.event.id)

    def failed(self) -> tuple[FailedEvent, ...]:
        """The acknowledged events whose handler failed and has not succeeded since (oldest
        first). In memory: persist them with `on_failure` if they must survive a restart."""
        return tuple(sorted(self._failed.values(), key=lambda failed: failed.at))

    async def retry_failed(self) -> dict[str, Outcome | str]:
        """Run every event of `failed()` again (once each, through the store), now.

        Returns `{event id: Outcome}` for those that ran (or were found done / in progress),
        and `{event id: "failed"}` for those that failed again (they stay in `failed()`, their
        `attempts` counted). Works after `aclose()` too (to drain the outbox at shutdown).
        """
        results: dict[str, Outcome | str] = {}
        for failed in self.failed():
            event = failed.event
            try:
                outcome = await run_once(
                    self.store, self.key(event), _bind(self.handler, event), lease=self.lease
                )
            except Exception as exception:
                logger.exception("webhook retry failed for %s %s", event.type.value, event.id)
                self._failed[event.id] = FailedEvent(
                    event,
                    f"{type(exception).__name__}: {exception}",
                    time.time(),
                    attempts=failed.attempts + 1,
                )
                results[event.id] = "failed"
                continue
            if outcome is not Outcome.IN_PROGRESS:
                self._failed.pop(event.id, None)
            results[event.id] = outcome
        return results

    async def join(self, timeout: float | None = None) -> bool:
        """Wait until the handlers running now have finished (the receiver stays open);
        returns False if some still run after `timeout` seconds."""
        tasks = set(self._tasks)
        if not tasks:
            return True
        _, still = await asyncio.wait(tasks, timeout=timeout)
        return not still

    async def aclose(self, timeout: float | None = 30.0) -> None:
        """Stop accepting deliveries (503) and wait up to `timeout` s for running handlers.

        Whatever still runs then is cancelled: its claim is released and, as it was already
        acknowledged (202), it is recorded in `failed()` and passed to `on_failure` (awaited
        here) rather than lost silently. Call `retry_failed()` or persist them before exit.
        """
        self._closed = True
        tasks = set(self._tasks)
        if tasks:
            _, still = await asyncio.wait(tasks, timeout=timeout)
            for task in still:
                task.cancel()
            if still:
                logger.warning(
                    "webhook receiver closed with %d handler(s) cancelled: see failed()",
                    len(still),
                )
                await asyncio.wait(still)
        await asyncio.sleep(0)  # let the done callbacks schedule their on_failure hooks
        if self._hooks:
            await asyncio.wait(set(self._hooks))
