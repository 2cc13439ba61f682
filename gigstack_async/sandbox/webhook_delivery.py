"""Deliver sandbox events to registered webhooks: real, signed HTTP POSTs, retried with backoff.

`install(app, state)` (called by `create_app`) subscribes to `state.event_hook` (which
`state.emit_event` feeds) and, while the app runs, turns every event into one delivery per
endpoint that wants it. Each delivery is a task:
POST the rendered envelope, signed per attempt with the same Standard Webhooks scheme the SDK
verifies (`gigstack_async.webhooks`), wait up to `timeout_seconds`, and retry on anything but a
2xx after `retry_delays`. Every attempt lands in `state.webhooks.attempts`.

It also watches Descarga Masiva: when a cfdi download request has completed (in simulated time)
its CFDIs are added to the SAT invoice list and `sat.invoice.synced` is emitted. Completion is a
pure function of the clock, so a scan runs every `watch_interval` real seconds (and on `flush`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from gigstack_async.sandbox import money
from gigstack_async.sandbox.events import SandboxEvent
from gigstack_async.sandbox.routes_sat import sat_invoice
from gigstack_async.sandbox.state import SandboxState, TeamState
from gigstack_async.sandbox.webhook_registry import DeliveryAttempt, Webhook, WebhookSandboxConfig
from gigstack_async.webhooks._signing import signature_headers

logger = logging.getLogger("gigstack_async.sandbox")


class WebhookDeliverer:
    """The delivery worker of one sandbox app (see the module)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._session: aiohttp.ClientSession | None = None
        self._tasks: dict[asyncio.Task[None], dict[str, str]] = {}  # task -> what it delivers
        self._backlog: list[SandboxEvent] = []
        self._watcher: asyncio.Task[None] | None = None
        state.event_hook.subscribe(self._on_event)

    @property
    def config(self) -> WebhookSandboxConfig:
        """`SandboxConfig.webhooks`."""
        return self.state.webhooks.config

    async def lifecycle(self, _: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: open the client session and the watcher; drain on exit."""
        self._session = aiohttp.ClientSession()
        self._watcher = asyncio.create_task(self._watch(), name="sandbox-webhook-watcher")
        backlog, self._backlog = self._backlog, []
        for event in backlog:
            self._on_event(event)
        try:
            yield
        finally:
            self._watcher.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(self._watcher, *self._tasks, return_exceptions=True)
            await self._session.close()
            self._session = None

    async def flush(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Scan for completed download requests now, then wait up to `timeout` s until no
        delivery is running. Returns the deliveries still running then (empty: all done), each
        `{delivery_id, webhook_id, event_id, event_type, attempts}` (attempts made so far)."""
        self.scan_downloads()
        deadline = time.monotonic() + timeout
        while self._tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.wait(set(self._tasks), timeout=remaining)
        attempts = self.state.webhooks.attempts
        return [
            {
                **described,
                "attempts": sum(1 for a in attempts if a.delivery_id == described["delivery_id"]),
            }
            for task, described in list(self._tasks.items())
            if not task.done()
        ]

    # -- events -> deliveries --------------------------------------------------------------

    def _on_event(self, event: SandboxEvent) -> None:
        if self._session is None:
            self._backlog.append(event)  # the app is not serving yet: deliver once it starts
            return
        registry = self.state.webhooks
        for hook in list(registry.webhooks.values()):
            if event.team_id is not None and hook.wants(event.team_id, event.type):
                self.deliver(hook, event)

    def deliver(self, hook: Webhook, event: SandboxEvent) -> None:
        """Start delivering `event` to `hook` (regardless of its subscriptions)."""
        body = self.render(event)
        delivery_id = self.state.webhooks.new_id("whd_", 12)
        task = asyncio.create_task(self._deliver(delivery_id, hook, event, body))
        self._tasks[task] = {
            "delivery_id": delivery_id,
            "webhook_id": hook.id,
            "event_id": event.id,
            "event_type": event.type,
        }
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)

    def render(self, event: SandboxEvent) -> bytes:
        """The delivery body in the configured envelope."""
        config = self.config
        if config.envelope == "flat":
            moment = datetime.fromtimestamp(event.created_ms / 1000, UTC)
            envelope: dict[str, Any] = {
                "event": event.type,
                "timestamp": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "data": dict(event.data),
            }
        else:
            created = event.created_ms if config.created_unit == "ms" else event.created_ms // 1000
            envelope = {
                "id": event.id,
                "type": event.type,
                "created": created,
                "livemode": event.livemode,
                "data": {"object": dict(event.data)},
            }
        return money.dumps(envelope).encode()  # Decimal amounts as exact number literals

    def _headers(self, hook: Webhook, message_id: str, body: bytes) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "gigstack-sandbox-webhooks"}
        signing = self.config.signing
        if not hook.signing_enabled or signing == "none":
            return headers
        if signing == "legacy_guess":
            digest = hmac.new(hook.secrets[0].encode(), body, hashlib.sha256).hexdigest()
            return {**headers, "X-Gigstack-Signature": digest}
        timestamp = int(time.time() + self.config.timestamp_skew_seconds)
        return {**headers, **signature_headers(hook.secrets, message_id, timestamp, body)}

    async def _deliver(
        self, delivery_id: str, hook: Webhook, event: SandboxEvent, body: bytes
    ) -> None:
        registry = self.state.webhooks
        delays = self.config.retry_delays
        message_id = f"msg_{event.id.removeprefix('evt_')}"
        for attempt in range(1, len(delays) + 2):
            outcome = await self._attempt(delivery_id, hook, event, body, message_id, attempt)
            if outcome == "succeeded":
                break
            if attempt <= len(delays):
                await asyncio.sleep(delays[attempt - 1])
        else:
            logger.info("webhook delivery %s to %s gave up", delivery_id, hook.id)
            return
        copies = self.config.duplicates
        if registry.duplicate_next > 0:
            registry.duplicate_next -= 1
            copies += 1
        for _ in range(copies):
            await self._attempt(
                delivery_id, hook, event, body, message_id, attempt + 1, duplicate=True
            )
            attempt += 1

    async def _attempt(
        self,
        delivery_id: str,
        hook: Webhook,
        event: SandboxEvent,
        body: bytes,
        message_id: str,
        attempt: int,
        *,
        duplicate: bool = False,
    ) -> str:
        assert self._session is not None
        registry = self.state.webhooks
        started = time.monotonic()
        at_ms = int(time.time() * 1000)
        status: int | None = None
        error: str | None = None
        try:
            async with self._session.post(
                hook.url,
                data=body,
                headers=self._headers(hook, message_id, body),
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
                allow_redirects=False,
            ) as response:
                status = response.status
                await response.read()
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientError as exc:
            error = f"connection: {type(exc).__name__}"
        outcome = "succeeded" if status is not None and 200 <= status < 300 else "failed"
        if outcome == "succeeded" and not duplicate and registry.fail_next > 0:
            registry.fail_next -= 1
            outcome = "forced_failure"
        registry.attempts.append(
            DeliveryAttempt(
                delivery_id=delivery_id,
                webhook_id=hook.id,
                event_id=event.id,
                event_type=event.type,
                attempt=attempt,
                outcome=outcome,
                status=status,
                error=error,
                duplicate=duplicate,
                at_ms=at_ms,
                latency_ms=int((time.monotonic() - started) * 1000),
            )
        )
        return outcome

    # -- Descarga Masiva completion -> sat.invoice.synced ------------------------------------

    async def _watch(self) -> None:
        while True:
            try:
                self.scan_downloads()
            except Exception:
                logger.exception("sandbox download watcher failed")
            await asyncio.sleep(self.config.watch_interval)

    def scan_downloads(self) -> None:
        """Emit `sat.invoice.synced` for every cfdi request that completed since the last scan."""
        now = self.state.clock.now_ms()
        for team in self.state.teams.values():
            fresh = [
                request
                for request in team.requests
                if not request.announced
                and request.criteria.request_type == "cfdi"
                and request.delivered(now)
            ]
            if not fresh:
                continue
            self.state.sync_invoices(team)
            for request in fresh:
                request.announced = True
                self._announce(team, request.request_id)

    def _announce(self, team: TeamState, request_id: str) -> None:
        request = team.find_request(request_id)
        assert request is not None
        records = [
            team.sat_invoices[invoice.uuid]
            for invoice in request.invoices
            if invoice.uuid in team.sat_invoices
        ]
        emit = self.state.emit_event
        if self.config.sat_synced_payload == "per_invoice":
            for record in records:
                emit("sat.invoice.synced", sat_invoice(record), team_id=team.team_id)
            return
        criteria = request.criteria
        summary = {
            "object": "sat_invoice_sync",
            "request_id": request.request_id,
            "rfc": team.config.rfc,
            "direction": criteria.rfc_type,
            "request_type": criteria.request_type,
            "start_date": criteria.start_date.isoformat(),
            "end_date": criteria.end_date.isoformat(),
            "invoice_count": len(records),
            "uuids": [record.invoice.uuid for record in records],
            "completed_at": request.timeline.finished_ms,
        }
        emit("sat.invoice.synced", summary, team_id=team.team_id)


DELIVERER_KEY = web.AppKey("gigstack_sandbox_webhook_deliverer", WebhookDeliverer)


def install(app: web.Application, state: SandboxState) -> WebhookDeliverer:
    """Attach a deliverer to `app` (started and stopped with it)."""
    deliverer = WebhookDeliverer(state)
    app[DELIVERER_KEY] = deliverer
    app.cleanup_ctx.append(deliverer.lifecycle)
    return deliverer
