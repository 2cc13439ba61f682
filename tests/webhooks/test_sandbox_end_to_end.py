"""Done-when for issue 12: the sandbox delivers every event kind it can trigger to a webhook
registered through its API, and each arrives exactly once, typed and verified, through both
receivers (aiohttp.web, and the ASGI app under uvicorn), including after a forced duplicate and
a forced retry; tampered bodies, stale timestamps and wrong secrets are refused with typed errors.

Every kind a sandbox operation fires is triggered through that operation (a client created, a
payment registered, an invoice cancelled, a download request completing, ...); the rest
(`payment.deleted`, `invoice.failed`, ...) through the sandbox's `POST /v2/sandbox/events`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.sandbox import LifecycleConfig, Sandbox, SandboxConfig
from gigstack_async.sandbox.webhook_registry import WebhookSandboxConfig
from gigstack_async.webhooks import (
    CustomerObject,
    EventType,
    InvoiceBatchObject,
    InvoiceObject,
    PaymentObject,
    ReceiptObject,
    SatInvoiceSyncObject,
    ServiceObject,
    TeamObject,
    WebhookReceiver,
    signature_headers,
)

from .conftest import Recorder

START = datetime(2025, 6, 15, 18, 0, tzinfo=UTC)
FAST = WebhookSandboxConfig(retry_delays=(0.01, 0.02, 0.05), watch_interval=0.02)

PAYLOADS: dict[str, tuple[dict[str, Any], type]] = {
    "payment.": ({"id": "payment_1", "status": "succeeded", "total": 1160}, PaymentObject),
    "invoice_batch.": ({"id": "batch_1", "status": "completed", "total": 3}, InvoiceBatchObject),
    "invoice.": ({"id": "invoice_1", "uuid": "A1B2", "total": 580.25}, InvoiceObject),
    "receipt.": ({"id": "receipt_1", "total": 99.99}, ReceiptObject),
    "customer.": ({"id": "client_1", "tax_id": "EKU9003173C9"}, CustomerObject),
    "service.": ({"id": "service_1", "unit_price": 1000}, ServiceObject),
    "teams.": ({"id": "team_1", "name": "Connected"}, TeamObject),
}


def payload_for(name: str) -> tuple[dict[str, Any], type]:
    return next(v for prefix, v in PAYLOADS.items() if name.startswith(prefix))


@attrs.define
class Loop:
    sandbox: Sandbox
    http: aiohttp.ClientSession
    client: GigstackClient

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.http.request(method, path, **kwargs) as response:
            body = await response.json()
            assert response.status in (200, 201), body
            return body["data"]

    async def emit(self, name: str, data: dict[str, Any]) -> str:
        return str(
            (await self.call("POST", "sandbox/events", json={"type": name, "data": data}))["id"]
        )

    async def flush(self) -> None:
        await self.call("POST", "sandbox/webhooks/flush", json={})

    @property
    def attempts(self) -> list[Any]:
        return self.sandbox.state.webhooks.attempts


@pytest.fixture
async def loop() -> AsyncIterator[Loop]:
    config = SandboxConfig(
        seed=12, speed=0, start=START, lifecycle=LifecycleConfig(jitter=0.0), webhooks=FAST
    )
    async with Sandbox(config) as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.api_key}"}
        async with (
            aiohttp.ClientSession(sandbox.base_url + "/", headers=headers) as http,
            GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
        ):
            yield Loop(sandbox, http, client)


CLIENT = {
    "name": "Juan Pérez García",
    "legal_name": "JUAN PEREZ GARCIA",
    "email": "juan@example.com",
    "tax_id": "PEGJ800101ABC",
    "tax_system": "612",
    "use": "G03",
    "address": {"zip": "03100", "country": "Mexico"},
}
ITEM = {
    "description": "Consultoría",
    "quantity": 1,
    "unit_price": 1000,
    "product_key": "80141503",
    "unit_key": "E48",
    "taxes": [{"type": "IVA", "rate": 0.16, "factor": "Tasa", "withholding": False}],
}
FIRED_BY_THE_API = {
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "service.created",
    "service.updated",
    "service.deleted",
    "invoice.created",
    "invoice.canceled",
    "payment.created",
    "payment.succeeded",
    "payment.updated",
    "payment.canceled",
    "receipt.created",
    "receipt.completed",
    "teams.created",
    "teams.sat.completed",
    "teams.sat.manifest.signed",
    "sat.invoice.synced",
}


async def trigger_through_the_api(loop: Loop) -> None:
    """Real sandbox operations, each of which announces its change on the event hook."""
    call = loop.call
    client = await call("POST", "clients", json=CLIENT)
    await call("PUT", f"clients/{client['id']}", json={"phone": "+52 55 1234 5678"})
    spare = await call("POST", "clients", json={"name": "Temp"})
    await call("DELETE", f"clients/{spare['id']}")
    service = await call("POST", "services", json=ITEM)
    await call("PUT", f"services/{service['id']}", json={"unit_price": 1200.5})
    await call("DELETE", f"services/{service['id']}")
    body = {"client": {"id": client["id"]}, "items": [ITEM], "payment_form": "03"}
    income = await call("POST", "invoices/income", json=body)
    await call("DELETE", f"invoices/{income['id']}", json={"motive": "02"})
    # The forced retry lands on the first delivery attempt of what register fires.
    await call("POST", "sandbox/webhooks/faults", json={"fail_next": 1})
    register = {**body, "automation_type": "pue_invoice", "idempotency_key": "k1"}
    paid = await call("POST", "payments/register", json=register)
    await loop.flush()
    await call("POST", f"payments/{paid['id']}/refund", json={"reason": "dup", "amount": 10})
    requested = await call("POST", "payments/request", json=body)
    await call("DELETE", f"payments/{requested['id']}")
    await call("POST", "sandbox/webhooks/faults", json={"duplicate_next": 1})
    receipt = await call("POST", "receipts", json=body)
    await loop.flush()
    await call("POST", f"receipts/{receipt['id']}/stamp")
    await call("POST", "teams", json={"brand": {"alias": "Nueva"}})
    form = aiohttp.FormData()
    form.add_field("cert", b"\x30\x82cer", filename="csd.cer")
    form.add_field("key", b"\x30\x82key", filename="csd.key")
    form.add_field("keyPass", "s3cret")
    await call("POST", "teams/team_sandbox/sat-connection", data=form)
    sign = {"key": "MIIEkey=", "cert": "MIIEcert", "password": "x"}
    await call("POST", "teams/team_sandbox/manifest/sign", json=sign)
    # sat.invoice.synced: a Descarga Masiva request completes in simulated time.
    await loop.client.downloads.create_request(
        start_date="2025-03-01", end_date="2025-03-31", rfc_type="received"
    )
    loop.sandbox.clock.advance(3600)
    await loop.flush()


async def test_every_event_kind_arrives_once_typed_and_verified(
    loop: Loop, serve_receiver: Any, register_secret: Callable[[str], None]
) -> None:
    recorder = Recorder()
    # The endpoint must exist before it can be registered; the secret comes from registering:
    # the receiver reads it through a holder (as an app reads it from its settings at startup).
    secrets: list[str] = []

    async with serve_receiver(_LateSecretReceiver(recorder, secrets)) as url:
        hook = await loop.call(
            "POST", "webhooks", json={"url": url, "events": [e.value for e in EventType]}
        )
        register_secret(hook["signing_secret"])
        secrets.append(hook["signing_secret"])

        await trigger_through_the_api(loop)
        fired = {event.type for event in loop.sandbox.state.event_hook.emitted}
        assert fired >= FIRED_BY_THE_API
        # The kinds no sandbox operation fires yet, through the sandbox's event route.
        for member in EventType:
            if member.value not in fired:
                await loop.emit(member.value, payload_for(member.value)[0])
        await loop.flush()

        # A second endpoint on the same URL whose secret the receiver does not have.
        other = await loop.call(
            "POST", "webhooks", json={"url": url, "events": ["payment.created"]}
        )
        register_secret(other["signing_secret"])
        body = {"type": "payment.created", "data": {"id": "p"}, "webhook_id": other["id"]}
        wrong_id = (await loop.call("POST", "sandbox/events", json=body))["id"]
        # A sender whose clock is an hour behind: its timestamps are stale.
        registry = loop.sandbox.state.webhooks
        registry.config = attrs.evolve(registry.config, timestamp_skew_seconds=-3600)
        stale_id = await loop.emit("payment.deleted", {"id": "payment_stale"})
        await loop.flush()

    emitted = [e for e in loop.sandbox.state.event_hook.emitted if e.id != stale_id]
    # Every emitted event exactly once (no loss, no duplicate), and every kind among them.
    assert sorted(recorder.ids) == sorted(event.id for event in emitted)
    assert {event.type.value for event in recorder.events} == {e.value for e in EventType}
    assert stale_id not in recorder.ids
    assert wrong_id not in recorder.ids

    for event in recorder.events:
        expected = (
            SatInvoiceSyncObject
            if event.type is EventType.SAT_INVOICE_SYNCED
            else payload_for(event.type.value)[1]
        )
        assert isinstance(event.object, expected), event.type
        assert event.livemode is False
        assert event.created is not None
    synced = next(e for e in recorder.events if e.type is EventType.SAT_INVOICE_SYNCED).object
    assert isinstance(synced, SatInvoiceSyncObject)
    request_id = loop.sandbox.state.download_requests[-1].request_id
    assert synced.synced_uuids == loop.sandbox.state.ground_truth[request_id]
    succeeded = next(e for e in recorder.events if e.type is EventType.PAYMENT_SUCCEEDED).object
    assert isinstance(succeeded, PaymentObject)
    assert isinstance(succeeded.total, Decimal)
    assert succeeded.total == Decimal("1160")  # 1000 + 16 % IVA, exact

    attempts = loop.attempts
    # The forced retry: the receiver processed the first attempt, the sandbox retried anyway,
    # and the receiver acknowledged the retry without running the handler again.
    forced = [a for a in attempts if a.outcome == "forced_failure"]
    assert len(forced) == 1
    assert forced[0].status == 200
    retried = [a for a in attempts if a.delivery_id == forced[0].delivery_id]
    assert [a.outcome for a in retried] == ["forced_failure", "succeeded"]
    # The forced duplicate: delivered twice, handled once.
    duplicates = [a for a in attempts if a.duplicate]
    assert len(duplicates) == 1
    assert duplicates[0].status == 200
    assert recorder.ids.count(forced[0].event_id) == 1
    assert recorder.ids.count(duplicates[0].event_id) == 1
    # Wrong secret and stale timestamp: every attempt refused 401, retried, then given up.
    refused = [a for a in attempts if a.status == 401]
    assert {a.event_id for a in refused} == {wrong_id, stale_id}
    assert all(a.outcome == "failed" for a in refused)
    assert len(refused) == 2 * (1 + len(FAST.retry_delays))


class _LateSecretReceiver(WebhookReceiver):
    """A receiver whose secret is set after the server is up (see the test)."""

    def __init__(self, handler: Any, secrets: list[str]) -> None:
        super().__init__(handler, verify=False)
        self._secrets = secrets

    async def receive(self, body: bytes, headers: Any) -> Any:
        if self.verifier is None and self._secrets:
            from gigstack_async.webhooks import WebhookVerifier

            self.verifier = WebhookVerifier(self._secrets)
        assert self.verifier is not None, "a delivery arrived before the secret was known"
        return await super().receive(body, headers)


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("tampered", "InvalidSignatureError"),
        ("stale", "StaleTimestampError"),
        ("wrong-secret", "InvalidSignatureError"),
    ],
)
async def test_refusals_are_typed_errors(
    serve_receiver: Any, case: str, error: str, register_secret: Callable[[str], None]
) -> None:
    secret, other = "whsec_" + "c2VjcmV0LWZvci1yZWZ1c2Fscy0wMTIzNDU2Nzg5", "whsec_" + "d3Jvbmc="
    register_secret(secret)
    recorder = Recorder()
    body = b'{"id":"evt_r","type":"payment.created","data":{"object":{"total":5}}}'
    now = int(time.time())
    headers = signature_headers(secret, "msg_r", now, body)
    if case == "tampered":
        body = body.replace(b"5", b"500")
    elif case == "stale":
        headers = signature_headers(secret, "msg_r", now - 301, body)
    else:
        headers = signature_headers(other, "msg_r", now, body)
    async with (
        serve_receiver(WebhookReceiver(recorder, secret=secret)) as url,
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=headers) as response,
    ):
        assert response.status == 401
        assert await response.json() == {"error": error}
    assert recorder.events == []
