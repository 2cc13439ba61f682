"""The sandbox's /webhooks CRUD and its delivery: signed POSTs, retries, log, duplicates,
`sat.invoice.synced` on completed downloads, and each plausible delivery variant."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest
from aiohttp import web

from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox.webhook_registry import WebhookSandboxConfig
from gigstack_async.webhooks import (
    LegacySignatureGuess,
    SatInvoiceSyncObject,
    StandardWebhooksVerifier,
    UnsupportedSignatureSchemeError,
    WebhookVerifier,
    parse,
)

from .conftest import Api, StartSandbox

FAST = WebhookSandboxConfig(retry_delays=(0.01, 0.02, 0.03), watch_interval=0.02)


@attrs.define
class Sink:
    """A webhook endpoint that records every POST and answers `statuses` in turn (then 200)."""

    statuses: list[int] = attrs.field(factory=list)
    delay: float = 0.0
    received: list[tuple[dict[str, str], bytes]] = attrs.field(factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        await asyncio.sleep(self.delay)
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    @property
    def bodies(self) -> list[bytes]:
        return [body for _, body in self.received]


Serve = Callable[[web.Application], Awaitable[str]]


async def sink_url(serve: Serve, sink: Sink) -> str:
    app = web.Application()
    app.router.add_post("/hook", sink.handle)
    return await serve(app) + "/hook"


async def register(api: Api, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    reply = await api.post("webhooks", json={"url": url, "events": events, **extra})
    assert reply.status == 200, reply.body
    return dict(reply.data)


async def flush(api: Api) -> None:
    assert (await api.post("sandbox/webhooks/flush", json={})).status == 200


@pytest.fixture
def config() -> SandboxConfig:
    from .conftest import EXACT, START

    return SandboxConfig(seed=1234, speed=0, start=START, lifecycle=EXACT, webhooks=FAST)


# -- CRUD -----------------------------------------------------------------------------------


async def test_crud_follows_the_docs(api: Api, register_secret: Callable[[str], None]) -> None:
    created = await api.post(
        "webhooks",
        json={
            "url": "https://example.com/hook",
            "events": ["payment.succeeded", "invoice.created"],
            "description": "Production webhook",
        },
    )
    assert created.status == 200
    assert created.body["message"] == "Webhook created successfully"
    hook = created.data
    register_secret(hook["signing_secret"])
    assert hook["id"].startswith("wh_")
    assert hook["status"] == "active"
    assert hook["signing_secret"].startswith("whsec_")
    assert isinstance(hook["created_at"], int)
    assert hook["created_at"] > 10**12

    got = await api.get(f"webhooks/{hook['id']}")
    assert got.data["url"] == "https://example.com/hook"
    assert "signing_secret" not in got.data  # shown once, at creation
    assert isinstance(got.body["timestamp"], int)

    updated = await api.put(f"webhooks/{hook['id']}", json={"status": "inactive"})
    assert updated.data["status"] == "inactive"
    assert updated.data["events"] == ["payment.succeeded", "invoice.created"]

    listed = await api.get("webhooks", params={"status": "inactive"})
    assert [h["id"] for h in listed.data] == [hook["id"]]
    assert (await api.get("webhooks", params={"status": "active"})).data == []

    deleted = await api.call("DELETE", f"webhooks/{hook['id']}")
    assert deleted.data == {"id": hook["id"], "deleted": True}
    assert (await api.get(f"webhooks/{hook['id']}")).status == 404


@pytest.mark.parametrize(
    "body",
    [
        {"events": ["payment.created"]},
        {"url": "https://x.example/h"},
        {"url": "ftp://x.example/h", "events": ["payment.created"]},
        {"url": "https://user:pw@x.example/h", "events": ["payment.created"]},
        {"url": "https://x.example/h", "events": ["payment.exploded"]},
        {"url": "https://x.example/h", "events": []},
        {"url": "https://x.example/h", "events": ["payment.created"], "status": "paused"},
    ],
)
async def test_bad_webhooks_are_refused(api: Api, body: dict[str, Any]) -> None:
    reply = await api.post("webhooks", json=body)
    assert (reply.status, reply.error_code) == (400, "validation_failed")


async def test_an_inactive_webhook_may_have_no_events(api: Api) -> None:
    hook = await register(api, "https://x.example/h", [], status="inactive")
    assert hook["events"] == []


async def test_webhooks_belong_to_their_team(api: Api) -> None:
    hook = await register(api, "https://x.example/h", ["payment.created"])
    other = await api.get(f"webhooks/{hook['id']}", params={"team": "team_connected"})
    assert other.status == 404
    assert (await api.get("webhooks", params={"team": "team_connected"})).data == []


# -- delivery -------------------------------------------------------------------------------


async def test_an_event_is_delivered_as_a_verifiable_signed_post(
    api: Api, serve: Serve, register_secret: Callable[[str], None]
) -> None:
    sink = Sink()
    hook = await register(api, await sink_url(serve, sink), ["payment.succeeded"])
    register_secret(hook["signing_secret"])
    emitted = await api.post(
        "sandbox/events", json={"type": "payment.succeeded", "data": {"id": "pay_1", "total": 10.5}}
    )
    await flush(api)
    assert len(sink.received) == 1
    headers, body = sink.received[0]
    StandardWebhooksVerifier(hook["signing_secret"]).verify(body, headers)
    event = parse(body, headers)
    assert (event.id, event.type.value, event.livemode) == (
        emitted.data["id"],
        "payment.succeeded",
        False,
    )
    assert event.data == {"id": "pay_1", "total": pytest.approx(10.5)}
    log = (await api.get("sandbox/webhook-deliveries")).data
    assert [(a["attempt"], a["outcome"], a["status"]) for a in log] == [(1, "succeeded", 200)]


async def test_only_subscribed_active_webhooks_receive(api: Api, serve: Serve) -> None:
    wants, other, inactive = Sink(), Sink(), Sink()
    await register(api, await sink_url(serve, wants), ["invoice.created"])
    await register(api, await sink_url(serve, other), ["payment.created"])
    hook = await register(api, await sink_url(serve, inactive), ["invoice.created"])
    await api.put(f"webhooks/{hook['id']}", json={"status": "inactive"})
    await api.post("sandbox/events", json={"type": "invoice.created", "data": {"id": "i"}})
    await api.post(
        "sandbox/events",
        json={"type": "invoice.created", "data": {}},
        params={"team": "team_connected"},
    )
    await flush(api)
    assert len(wants.received) == 1
    assert other.received == []
    assert inactive.received == []


async def test_non_2xx_is_retried_with_backoff_and_each_attempt_logged(
    api: Api, serve: Serve
) -> None:
    sink = Sink(statuses=[500, 503])
    hook = await register(api, await sink_url(serve, sink), ["payment.created"])
    await api.post("sandbox/events", json={"type": "payment.created", "data": {}})
    await flush(api)
    log = (await api.get("sandbox/webhook-deliveries", params={"webhook_id": hook["id"]})).data
    assert [(a["attempt"], a["outcome"], a["status"]) for a in log] == [
        (1, "failed", 500),
        (2, "failed", 503),
        (3, "succeeded", 200),
    ]
    assert len({a["delivery_id"] for a in log}) == 1
    # Same message id on every attempt (receivers dedupe on it); a fresh timestamp each time.
    assert len({headers["webhook-id"] for headers, _ in sink.received}) == 1
    assert len(set(sink.bodies)) == 1


async def test_a_delivery_gives_up_after_the_last_retry(
    sandbox: Any, api: Api, serve: Serve
) -> None:
    sink = Sink(statuses=[500] * 10)
    await register(api, await sink_url(serve, sink), ["payment.created"])
    await api.post("sandbox/events", json={"type": "payment.created", "data": {}})
    await flush(api)
    assert len(sink.received) == 1 + len(FAST.retry_delays)
    assert {a.outcome for a in sandbox.state.webhooks.attempts} == {"failed"}


async def test_a_slow_endpoint_times_out_and_is_retried(
    start_sandbox: StartSandbox, serve: Serve
) -> None:
    from .conftest import START

    config = SandboxConfig(
        seed=1, speed=0, start=START, webhooks=attrs.evolve(FAST, timeout_seconds=0.2)
    )
    sandbox, api = await start_sandbox(config)
    sink = Sink(delay=0.5)
    await register(api, await sink_url(serve, sink), ["payment.created"])
    await api.post("sandbox/events", json={"type": "payment.created", "data": {}})
    await flush(api)
    assert [a.error for a in sandbox.state.webhooks.attempts] == ["timeout"] * 4


async def test_forced_retry_and_forced_duplicate(sandbox: Any, api: Api, serve: Serve) -> None:
    sink = Sink()
    await register(api, await sink_url(serve, sink), ["payment.created"])
    faults = await api.post("sandbox/webhooks/faults", json={"fail_next": 1, "duplicate_next": 1})
    assert faults.data == {"fail_next": 1, "duplicate_next": 1}
    await api.post("sandbox/events", json={"type": "payment.created", "data": {}})
    await flush(api)
    attempts = sandbox.state.webhooks.attempts
    assert [(a.outcome, a.duplicate) for a in attempts] == [
        ("forced_failure", False),  # the endpoint got it, the sandbox pretends it did not
        ("succeeded", False),
        ("succeeded", True),
    ]
    assert len(sink.received) == 3
    assert len({headers["webhook-id"] for headers, _ in sink.received}) == 1


async def test_secret_rotation_signs_with_both_secrets(
    api: Api, serve: Serve, register_secret: Callable[[str], None]
) -> None:
    sink = Sink()
    hook = await register(api, await sink_url(serve, sink), ["payment.created"])
    rotated = await api.post(f"sandbox/webhooks/{hook['id']}/rotate-secret", json={})
    new = rotated.data["signing_secret"]
    register_secret(new)
    register_secret(hook["signing_secret"])
    await api.post("sandbox/events", json={"type": "payment.created", "data": {}})
    await flush(api)
    headers, body = sink.received[0]
    assert len(headers["webhook-signature"].split()) == 2
    StandardWebhooksVerifier(new).verify(body, headers)
    StandardWebhooksVerifier(hook["signing_secret"]).verify(body, headers)


# -- sat.invoice.synced ---------------------------------------------------------------------


async def test_a_completed_download_fires_sat_invoice_synced_once(
    sandbox: Any, api: Api, serve: Serve
) -> None:
    sink = Sink()
    await register(api, await sink_url(serve, sink), ["sat.invoice.synced"])
    created = await api.create("2025-03-01", "2025-03-31", "received")
    request_id = created.data["request_id"]
    metadata = await api.create("2025-04-01", "2025-04-30", "received", request_type="metadata")
    assert metadata.status == 200
    await flush(api)
    assert sink.received == []  # still pending
    sandbox.clock.advance(3600)
    await flush(api)
    await flush(api)  # a second scan must not announce it again
    assert len(sink.received) == 1  # the cfdi request only: metadata adds no SAT invoices
    headers, body = sink.received[0]
    event = parse(body, headers)
    assert isinstance(event.object, SatInvoiceSyncObject)
    assert event.object.request_id == request_id
    assert event.object.direction == "received"
    assert event.object.synced_uuids == sandbox.state.ground_truth[request_id]
    assert event.object.invoice_count == len(sandbox.state.ground_truth[request_id])
    # By the time the event arrives, the invoices are in the SAT invoice list.
    team = sandbox.state.teams["team_sandbox"]
    assert event.object.synced_uuids <= set(team.sat_invoices)


async def test_sat_invoice_synced_per_invoice_variant(
    start_sandbox: StartSandbox, serve: Serve
) -> None:
    from .conftest import EXACT, START

    config = SandboxConfig(
        seed=5,
        speed=0,
        start=START,
        lifecycle=EXACT,
        webhooks=attrs.evolve(FAST, sat_synced_payload="per_invoice"),
    )
    sandbox, api = await start_sandbox(config)
    sink = Sink()
    await register(api, await sink_url(serve, sink), ["sat.invoice.synced"])
    request_id = (await api.create("2025-03-01", "2025-03-31", "issued")).data["request_id"]
    sandbox.clock.advance(3600)
    await flush(api)
    events = [parse(body, headers) for headers, body in sink.received]
    uuids = {e.object.uuid for e in events if isinstance(e.object, SatInvoiceSyncObject)}
    assert uuids == sandbox.state.ground_truth[request_id]
    assert len({e.id for e in events}) == len(events)


@pytest.mark.parametrize(
    "variant",
    [
        {"envelope": "flat"},
        {"created_unit": "s"},
        {"envelope": "flat", "signing": "none"},
    ],
)
async def test_every_envelope_variant_parses_to_the_same_event(
    start_sandbox: StartSandbox, serve: Serve, variant: dict[str, Any]
) -> None:
    from .conftest import START

    config = SandboxConfig(seed=2, speed=0, start=START, webhooks=attrs.evolve(FAST, **variant))
    sandbox, api = await start_sandbox(config)
    sink = Sink()
    await register(api, await sink_url(serve, sink), ["payment.succeeded"])
    await api.post(
        "sandbox/events", json={"type": "payment.succeeded", "data": {"id": "pay_9", "total": 7}}
    )
    await flush(api)
    headers, body = sink.received[0]
    event = parse(body, headers)
    assert event.type.value == "payment.succeeded"
    assert event.object is not None
    assert event.object.id == "pay_9"
    emitted = sandbox.state.event_hook.emitted[0]
    assert event.created is not None
    assert abs(event.created.timestamp() * 1000 - emitted.created_ms) < 1000
    if variant.get("signing") == "none":
        assert "webhook-signature" not in {k.lower() for k in headers}
        assert event.id_source == "body-sha256"
    elif variant.get("envelope") == "flat":
        assert event.id_source == "webhook-id"  # the flat envelope has no event id


async def test_legacy_signing_is_refused_unless_the_guess_is_opted_into(
    start_sandbox: StartSandbox, serve: Serve, register_secret: Callable[[str], None]
) -> None:
    from .conftest import START

    webhooks = attrs.evolve(FAST, signing="legacy_guess")
    _sandbox, api = await start_sandbox(
        SandboxConfig(seed=3, speed=0, start=START, webhooks=webhooks)
    )
    sink = Sink()
    hook = await register(api, await sink_url(serve, sink), ["payment.created"])
    register_secret(hook["signing_secret"])
    await api.post("sandbox/events", json={"type": "payment.created", "data": {}})
    await flush(api)
    headers, body = sink.received[0]
    with pytest.raises(UnsupportedSignatureSchemeError):
        WebhookVerifier(hook["signing_secret"]).verify(body, headers)
    opted = WebhookVerifier(
        hook["signing_secret"], legacy=LegacySignatureGuess(hook["signing_secret"])
    )
    assert opted.verify(body, headers).scheme == "legacy-guess"


async def test_events_emitted_before_the_app_serves_are_delivered_once_it_does(
    serve: Serve,
) -> None:
    from gigstack_async.sandbox import Sandbox

    from .conftest import START

    sink = Sink()
    url = await sink_url(serve, sink)
    sandbox = Sandbox(SandboxConfig(seed=4, speed=0, start=START, webhooks=FAST))
    from gigstack_async.sandbox.webhook_registry import Webhook

    sandbox.state.webhooks.webhooks["wh_pre"] = Webhook(
        "wh_pre", "team_sandbox", url, ("payment.created",), "active", None, "u", 0, ["whsec_AAAA"]
    )
    sandbox.state.emit_event("payment.created", {}, team_id="team_sandbox")
    async with sandbox:
        from gigstack_async.sandbox.webhook_delivery import DELIVERER_KEY

        await sandbox.app[DELIVERER_KEY].flush()
    assert len(sink.received) == 1


async def test_configured_duplicates_resend_every_successful_delivery(
    start_sandbox: StartSandbox, serve: Serve
) -> None:
    from .conftest import START

    config = SandboxConfig(seed=6, speed=0, start=START, webhooks=attrs.evolve(FAST, duplicates=2))
    sandbox, api = await start_sandbox(config)
    sink = Sink()
    await register(api, await sink_url(serve, sink), ["payment.created"])
    await api.post("sandbox/events", json={"type": "payment.created", "data": {}})
    await flush(api)
    assert len(sink.received) == 3
    assert len({headers["webhook-id"] for headers, _ in sink.received}) == 1
    assert [a.duplicate for a in sandbox.state.webhooks.attempts] == [False, True, True]


async def test_the_generated_client_manages_sandbox_webhooks(sandbox: Any) -> None:
    from gigstack_async import GigstackClient

    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        created = await client.webhooks.create(
            url="https://example.com/hook", events=["sat.invoice.synced"], description="SAT"
        )
        assert created is not None
        assert created.id is not None
        assert created.id.startswith("wh_")
        fetched = await client.webhooks.get(created.id)
        assert fetched is not None
        assert fetched.url == "https://example.com/hook"
        updated = await client.webhooks.update(created.id, status="inactive")
        assert updated is not None
        assert str(updated.status.value if updated.status else "") == "inactive"
        listed = [hook.id async for hook in client.webhooks.list()]
        assert listed == [created.id]
        await client.webhooks.delete(created.id)
        assert [hook async for hook in client.webhooks.list()] == []


async def test_the_list_pages_with_next_cursor(sandbox: Any, api: Api) -> None:
    from gigstack_async import GigstackClient

    made = [
        (await register(api, f"https://example.com/{n}", ["payment.created"]))["id"]
        for n in range(12)
    ]
    first = await api.get("webhooks", params={"limit": "5"})
    assert (len(first.data), first.body["has_more"], first.body["next_cursor"]) == (5, True, "5")
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        assert [hook.id async for hook in client.webhooks.list(limit=5)] == made


# -- review of issue 12: ids across runs, a flush that cannot finish ------------------------


async def test_event_ids_never_repeat_across_sandbox_runs(start_sandbox: StartSandbox) -> None:
    from .conftest import START

    ids: list[list[str]] = []
    for _ in range(2):  # the same seed and config: a restarted `gigstack-async sandbox`
        sandbox, api = await start_sandbox(SandboxConfig(seed=7, speed=0, start=START))
        first = await api.post("sandbox/events", json={"type": "payment.created", "data": {}})
        second = sandbox.state.emit_event("payment.created", {}, team_id="team_sandbox")
        ids.append([first.data["id"], second.id])
    assert not set(ids[0]) & set(ids[1])  # a persistent seen-ids store would drop repeats
    for run in ids:
        assert len(set(run)) == 2
        assert all(event_id.startswith("evt_") for event_id in run)
        # within a run the counter part stays deterministic: 1, 2, …
        assert [event_id.rsplit("_", 1)[1] for event_id in run] == [f"{n:012d}" for n in (1, 2)]


async def test_a_restarted_sandbox_is_not_deduplicated_by_a_persistent_store(
    start_sandbox: StartSandbox, tmp_path: Any
) -> None:
    from gigstack_async.webhooks import SqliteSeenEventStore, run_once

    from .conftest import START

    store = SqliteSeenEventStore(tmp_path / "seen.sqlite3")
    ran: list[str] = []
    try:
        for _ in range(2):
            sandbox, _ = await start_sandbox(SandboxConfig(seed=7, speed=0, start=START))
            event = sandbox.state.emit_event("customer.created", {}, team_id="team_sandbox")

            async def handle(event_id: str = event.id) -> None:
                ran.append(event_id)

            assert await run_once(store, event.id, handle) == "processed"
    finally:
        store.close()
    assert len(ran) == 2


async def test_flush_with_an_endpoint_down_answers_with_the_pending_deliveries(
    start_sandbox: StartSandbox, serve: Serve
) -> None:
    from .conftest import START

    slow_retries = attrs.evolve(FAST, retry_delays=(30.0,))
    _, api = await start_sandbox(SandboxConfig(seed=8, speed=0, start=START, webhooks=slow_retries))
    sink = Sink(statuses=[503])  # down for the first attempt; the retry waits 30 s
    hook = await register(api, await sink_url(serve, sink), ["payment.created"])
    emitted = await api.post("sandbox/events", json={"type": "payment.created", "data": {}})
    reply = await api.post("sandbox/webhooks/flush", json={"timeout_seconds": 0.3})
    assert reply.status == 200
    assert reply.data["flushed"] is False
    [pending] = reply.data["pending"]
    assert (pending["webhook_id"], pending["event_id"], pending["attempts"]) == (
        hook["id"],
        emitted.data["id"],
        1,
    )
    bad = await api.post("sandbox/webhooks/flush", json={"timeout_seconds": -1})
    assert (bad.status, bad.error_code) == (400, "validation_failed")


async def test_the_readme_flow_through_the_sdk_create_gives_the_secret_the_receiver_needs(
    sandbox: Any, serve: Serve, register_secret: Callable[[str], None]
) -> None:
    from gigstack_async import GigstackClient
    from gigstack_async.webhooks import Event, WebhookReceiver, aiohttp_handler

    received: list[Event] = []

    async def on_event(event: Event) -> None:
        received.append(event)

    receivers: list[WebhookReceiver] = []  # made once create has told us the secret

    async def endpoint(request: web.Request) -> web.StreamResponse:
        return await aiohttp_handler(receivers[0])(request)

    app = web.Application()
    app.router.add_post("/webhooks/gigstack", endpoint)
    url = await serve(app) + "/webhooks/gigstack"
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        hook = await client.webhooks.create(url=url, events=["customer.created"])
        assert hook is not None
        assert hook.signing_secret is not None
        register_secret(hook.signing_secret)
        assert hook.signing_secret.startswith("whsec_")
        assert hook.signing_secret not in repr(await client.webhooks.get(hook.id or ""))
        receivers.append(WebhookReceiver(on_event, secret=hook.signing_secret))
        emitted = sandbox.state.emit_event("customer.created", {"id": "c1"}, team_id="team_sandbox")
        from gigstack_async.sandbox.webhook_delivery import DELIVERER_KEY

        assert await sandbox.app[DELIVERER_KEY].flush(10) == []
    assert [event.id for event in received] == [emitted.id]  # verified with that secret
    log = sandbox.state.webhooks.attempts
    assert [(a.outcome, a.status) for a in log] == [("succeeded", 200)]
    await receivers[0].aclose()
