"""Regression tests from the hostile review of issue 12: failures after a 202, owned claims,
hostile payloads and headers, one namespace per receiver."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from multidict import CIMultiDict

from gigstack_async.errors import InvalidParameterError
from gigstack_async.webhooks import (
    Event,
    FailedEvent,
    InMemorySeenEventStore,
    InvalidSignatureError,
    Outcome,
    SeenEventStore,
    SqliteSeenEventStore,
    WebhookPayloadError,
    WebhookReceiver,
    WebhookVerifier,
    parse,
    run_once,
    signature_headers,
)

from .conftest import SECRET, aiohttp_server, uvicorn_server


@pytest.fixture(autouse=True)
def _secrets_never_leak(register_secret: Callable[[str], None]) -> None:
    register_secret(SECRET)


def signed(event_id: str = "evt_1", **payload: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {"id": event_id, "type": "payment.succeeded", "data": {"object": payload}}
    ).encode()
    return body, signature_headers(SECRET, "msg_" + event_id, int(time.time()), body)


# -- 1. a failure after the 202 is kept, not lost ----------------------------------------------


async def test_a_background_failure_after_202_is_kept_and_can_be_retried() -> None:
    calls: list[str] = []
    hooked: list[FailedEvent] = []
    fail = True

    async def slow_then_fail(event: Event) -> None:
        calls.append(event.id)
        await asyncio.sleep(0.2)
        if fail:
            raise RuntimeError("database down")

    async def on_failure(failed: FailedEvent) -> None:
        hooked.append(failed)

    receiver = WebhookReceiver(
        slow_then_fail, secret=SECRET, ack_timeout=0.05, on_failure=on_failure
    )
    answer = await receiver.receive(*signed("evt_bg"))
    assert answer.status == 202  # the sender now considers it delivered and never retries
    assert await receiver.join(5)
    await asyncio.sleep(0)
    [failed] = receiver.failed()
    assert failed.event.id == "evt_bg"
    assert failed.error.startswith("RuntimeError")
    assert [f.event.id for f in hooked] == ["evt_bg"]

    fail = False
    assert await receiver.retry_failed() == {"evt_bg": Outcome.PROCESSED}
    assert receiver.failed() == ()
    assert calls == ["evt_bg", "evt_bg"]
    # processed for good: a late duplicate does not run it a third time
    assert (await receiver.receive(*signed("evt_bg"))).body["status"] == "duplicate"
    assert calls == ["evt_bg", "evt_bg"]
    await receiver.aclose()


async def test_a_retry_that_fails_again_stays_in_the_outbox() -> None:
    async def broken(event: Event) -> None:
        await asyncio.sleep(0.1)
        raise RuntimeError("still down")

    receiver = WebhookReceiver(broken, secret=SECRET, ack_timeout=0.02)
    assert (await receiver.receive(*signed("evt_x"))).status == 202
    await receiver.join(5)
    assert await receiver.retry_failed() == {"evt_x": "failed"}
    [failed] = receiver.failed()
    assert failed.attempts == 2
    await receiver.aclose()


async def test_aclose_records_acknowledged_handlers_it_cancels_as_failed() -> None:
    hooked: list[FailedEvent] = []

    async def endless(event: Event) -> None:
        await asyncio.sleep(60)

    async def on_failure(failed: FailedEvent) -> None:
        await asyncio.sleep(0.01)  # the hook is awaited by aclose, not abandoned
        hooked.append(failed)

    store = InMemorySeenEventStore()
    receiver = WebhookReceiver(
        endless, secret=SECRET, ack_timeout=0.02, on_failure=on_failure, store=store
    )
    assert (await receiver.receive(*signed("evt_long"))).status == 202
    await receiver.aclose(timeout=0.1)
    [failed] = receiver.failed()
    assert failed.event.id == "evt_long"
    assert "CancelledError" in failed.error
    assert [f.event.id for f in hooked] == ["evt_long"]
    # the claim was released, so the outbox can re-run it
    assert await store.claim(receiver.key(failed.event)) == "claimed"


async def test_a_foreground_failure_is_500_and_not_in_the_outbox() -> None:
    async def fails(event: Event) -> None:
        raise RuntimeError("boom")

    receiver = WebhookReceiver(fails, secret=SECRET)
    assert (await receiver.receive(*signed())).status == 500  # the sender retries this one
    assert receiver.failed() == ()
    await receiver.aclose()


# -- 4. claims have owners; leases are validated -----------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        yield InMemorySeenEventStore()
        return
    sqlite = SqliteSeenEventStore(tmp_path / "seen.sqlite3")
    yield sqlite
    sqlite.close()


async def test_a_stale_owner_cannot_release_the_claim_of_the_worker_that_took_over(
    store: SeenEventStore,
) -> None:
    running = peak = 0

    async def handler(delay: float, fail: bool) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(delay)
            if fail:
                raise RuntimeError("boom")
        finally:
            running -= 1

    async def deliver(at: float, delay: float, fail: bool, lease: float) -> object:
        await asyncio.sleep(at)
        try:
            return await run_once(store, "evt_x", lambda: handler(delay, fail), lease=lease)
        except RuntimeError:
            return "failed"

    # A's lease (0.2 s) runs out mid-run; B takes over; A fails and releases — its own claim
    # only; C, arriving while B still runs, must see B's claim.
    results = await asyncio.gather(
        deliver(0, 0.5, True, 0.2), deliver(0.3, 1.0, False, 5.0), deliver(0.7, 0.1, False, 5.0)
    )
    assert list(results) == ["failed", Outcome.PROCESSED, Outcome.IN_PROGRESS]
    assert await store.claim("evt_x") == "done"


async def test_release_and_complete_touch_only_the_callers_claim(store: SeenEventStore) -> None:
    assert await store.claim("evt_1", token="mine") == "claimed"
    await store.release("evt_1", token="someone-else")
    assert await store.claim("evt_1", token="third") == "in_progress"
    await store.complete("evt_1", token="someone-else")
    assert await store.claim("evt_1", token="third") == "in_progress"  # not done by a stranger
    await store.complete("evt_1", token="mine")
    assert await store.claim("evt_1", token="third") == "done"


@pytest.mark.parametrize("lease", [0, -1, float("nan"), float("inf")])
async def test_a_lease_that_is_not_positive_and_finite_is_refused(
    store: SeenEventStore, lease: float
) -> None:
    async def handler() -> None: ...

    with pytest.raises(InvalidParameterError):
        await run_once(store, "evt_1", handler, lease=lease)
    with pytest.raises(InvalidParameterError):
        await store.claim("evt_1", lease=lease)


def test_a_receiver_lease_must_outlast_the_ack_timeout() -> None:
    async def handler(event: Event) -> None: ...

    for lease in (0, -5, 2.0):
        with pytest.raises(InvalidParameterError):
            WebhookReceiver(handler, secret=SECRET, ack_timeout=2.0, lease=lease)
    assert WebhookReceiver(handler, secret=SECRET, ack_timeout=2.0, lease=2.5).lease == 2.5


async def test_a_sqlite_file_from_before_owners_is_upgraded(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE gigstack_seen_events (event_id TEXT PRIMARY KEY, state TEXT NOT NULL "
            "CHECK (state IN ('processing', 'done')), lease_until REAL NOT NULL, "
            "updated_at REAL NOT NULL)"
        )
        old.execute("INSERT INTO gigstack_seen_events VALUES ('evt_old', 'done', 0, 1)")
    old.close()
    store = SqliteSeenEventStore(path)
    try:
        assert await store.claim("evt_old") == "done"
        assert (
            await run_once(store, "evt_new", lambda: asyncio.sleep(0), lease=5) is Outcome.PROCESSED
        )
    finally:
        store.close()


# -- 5. hostile payloads: typed, 400, never logged ---------------------------------------------

HOSTILE = {
    "400-digit created": b'{"id":"evt_1","type":"payment.succeeded","created":' + b"1" * 400 + b"}",
    "superscript created": '{"id":"evt_1","type":"payment.succeeded","created":"²"}'.encode(),
    "5000-digit created": b'{"id":"evt_1","type":"payment.succeeded","created":"'
    + b"1" * 5000
    + b'"}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_an_unreadable_timestamp_is_none_not_an_exception(name: str) -> None:
    event = parse(HOSTILE[name])
    assert event.id == "evt_1"
    assert event.created is None


def test_deep_nesting_is_a_payload_error() -> None:
    body = b'{"id":"evt_1","type":"payment.succeeded","data":' + b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(WebhookPayloadError) as caught:
        parse(body + b"}")
    assert "[[[" not in str(caught.value)


async def test_the_receiver_answers_400_and_never_logs_the_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(event: Event) -> None:
        raise AssertionError("must not run")

    marker = "SECRETCUSTOMERNAME"
    body = (
        b'{"id":"evt_1","type":"payment.succeeded","data":{"name":"'
        + marker.encode()
        + b'","x":'
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}}"
    )
    receiver = WebhookReceiver(handler, verify=False)
    with caplog.at_level(logging.DEBUG):
        answer = await receiver.receive(body, {})
    assert answer.status == 400
    assert marker not in caplog.text
    assert "[[[" not in caplog.text
    await receiver.aclose()


# -- 6. undecodable header bytes over real HTTP -------------------------------------------------


async def _raw_post(url: str, header_lines: bytes, body: bytes) -> int:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        b"POST "
        + parts.path.encode()
        + b" HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % len(body)
        + header_lines
        + b"Connection: close\r\n\r\n"
        + body
    )
    await writer.drain()
    data = await reader.read()
    writer.close()
    return int(data.split(b" ", 2)[1])


@pytest.mark.parametrize("serve", [aiohttp_server, uvicorn_server], ids=["aiohttp", "asgi"])
async def test_a_non_utf8_webhook_id_is_refused_401(serve: Any) -> None:
    ran: list[str] = []

    async def handler(event: Event) -> None:
        ran.append(event.id)

    body = b'{"id":"evt_1","type":"payment.succeeded"}'
    timestamp = str(int(time.time())).encode()
    async with serve(WebhookReceiver(handler, secret=SECRET)) as url:
        for lines in (
            b"webhook-id: msg_\xff\r\nwebhook-timestamp: " + timestamp + b"\r\n"
            b"webhook-signature: v1,AAAA\r\n",
            b"webhook-id: msg_1\r\nwebhook-timestamp: " + timestamp + b"\r\n"
            b"webhook-signature: v1,\xe9\xe9\xe9\xe9\r\n",
        ):
            assert await _raw_post(url, lines, body) == 401
    assert ran == []


def test_a_non_utf8_webhook_id_is_an_invalid_signature() -> None:
    body = b'{"id":"evt_1","type":"payment.succeeded"}'
    headers = signature_headers(SECRET, "msg_1", int(time.time()), body)
    headers["webhook-id"] = "msg_\udcff"  # how aiohttp keeps an undecodable byte
    with pytest.raises(InvalidSignatureError):
        WebhookVerifier(SECRET).verify(body, headers)


# -- 7. one case-insensitive header lookup; duplicates refused ----------------------------------


def test_mixed_case_headers_are_found_by_verification_and_dedupe_alike() -> None:
    body = b'{"type":"payment.succeeded"}'  # no envelope id: dedupe uses webhook-id
    headers = signature_headers(SECRET, "msg_7", int(time.time()), body)
    mixed = {"Webhook-Id": headers["webhook-id"], "WEBHOOK-TIMESTAMP": headers["webhook-timestamp"]}
    mixed["webhook-Signature"] = headers["webhook-signature"]
    assert WebhookVerifier(SECRET).verify(body, mixed).message_id == "msg_7"
    event = parse(body, mixed)
    assert (event.id, event.id_source) == ("msg_7", "webhook-id")


def test_a_header_given_twice_in_different_case_is_refused() -> None:
    body = b'{"type":"payment.succeeded"}'
    headers: dict[str, str] = signature_headers(SECRET, "msg_a", int(time.time()), body)
    headers["Webhook-Id"] = "msg_b"  # which one was signed, which one dedupes? refuse
    with pytest.raises(InvalidSignatureError):
        WebhookVerifier(SECRET).verify(body, headers)
    with pytest.raises(WebhookPayloadError):
        parse(body, headers)


async def test_a_header_sent_twice_over_http_is_refused() -> None:
    async def handler(event: Event) -> None:
        raise AssertionError("must not run")

    body = b'{"type":"payment.succeeded"}'
    signed_headers = signature_headers(SECRET, "msg_a", int(time.time()), body)
    duplicated = CIMultiDict(signed_headers)
    duplicated.add("webhook-id", "msg_b")
    receiver = WebhookReceiver(handler, secret=SECRET)
    assert (await receiver.receive(body, duplicated)).status == 401
    await receiver.aclose()


# -- 8. receivers sharing a store do not suppress each other -----------------------------------


async def test_two_receivers_sharing_a_store_each_run_their_handler(tmp_path: Path) -> None:
    ran: list[tuple[str, str]] = []

    async def billing(event: Event) -> None:
        ran.append(("billing", event.id))

    async def accounting(event: Event) -> None:
        ran.append(("accounting", event.id))

    first = SqliteSeenEventStore(tmp_path / "seen.db")
    second = SqliteSeenEventStore(tmp_path / "seen.db")
    try:
        one = WebhookReceiver(billing, secret=SECRET, store=first)
        two = WebhookReceiver(accounting, secret=SECRET, store=second)
        assert one.name != two.name
        assert (await one.receive(*signed("evt_42"))).body["status"] == "processed"
        assert (await two.receive(*signed("evt_42"))).body["status"] == "processed"
        assert sorted(ran) == [("accounting", "evt_42"), ("billing", "evt_42")]
        # the same name is the same namespace: several workers of one endpoint share dedupe
        three = WebhookReceiver(accounting, secret=SECRET, store=first, name=two.name)
        assert (await three.receive(*signed("evt_42"))).body["status"] == "duplicate"
        named = WebhookReceiver(lambda e: billing(e), secret=SECRET, store=first, name="billing")
        assert named.key(parse(signed("evt_1")[0])) == "billing:evt_1"
    finally:
        first.close()
        second.close()


def test_an_empty_name_is_refused() -> None:
    async def handler(event: Event) -> None: ...

    with pytest.raises(InvalidParameterError):
        WebhookReceiver(handler, secret=SECRET, name=" ")


@pytest.mark.parametrize("serve", [aiohttp_server, uvicorn_server], ids=["aiohttp", "asgi"])
async def test_a_utf8_webhook_id_verifies_the_same_under_both_receivers(serve: Any) -> None:
    ran: list[str] = []

    async def handler(event: Event) -> None:
        ran.append(event.id)

    body = b'{"type":"payment.succeeded"}'  # no envelope id: the webhook-id is the event id
    headers = signature_headers(SECRET, "msg_ñ", int(time.time()), body)
    lines = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
    async with serve(WebhookReceiver(handler, secret=SECRET)) as url:
        assert await _raw_post(url, lines, body) == 200
    assert ran == ["msg_ñ"]
