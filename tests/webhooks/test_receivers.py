"""Both receivers over real loopback HTTP: answers, budget, exactly-once, refusals, drain."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from gigstack_async.errors import InvalidParameterError
from gigstack_async.webhooks import (
    DELIVERY_BUDGET,
    Event,
    PaymentObject,
    SqliteSeenEventStore,
    WebhookReceiver,
    signature_headers,
)

from .conftest import SECRET, Recorder

OTHER = "whsec_" + "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC0wMTIzNDU="


@pytest.fixture(autouse=True)
def _secrets_never_leak(register_secret: Callable[[str], None]) -> None:
    register_secret(SECRET)
    register_secret(OTHER)


def delivery(event_id: str = "evt_1", *, secret: str = SECRET, skew: int = 0, **extra: Any):
    body = json.dumps(
        {
            "id": event_id,
            "type": "payment.succeeded",
            "created": 1709090576567,
            "livemode": False,
            "data": {"object": {"id": "payment_1", "total": 1160.10, **extra}},
        }
    ).encode()
    headers = signature_headers(secret, "msg_" + event_id, int(time.time()) + skew, body)
    return body, headers


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    timeout = aiohttp.ClientTimeout(total=DELIVERY_BUDGET)  # gigstack's own budget
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.post(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


async def test_a_genuine_delivery_is_processed_typed_and_once(serve_receiver: Any) -> None:
    recorder = Recorder()
    async with serve_receiver(WebhookReceiver(recorder, secret=SECRET)) as url:
        body, headers = delivery()
        assert await post(url, body, headers) == (
            200,
            {"id": "evt_1", "type": "payment.succeeded", "status": "processed"},
        )
        # The same delivery again (a retry, re-signed): acknowledged, not processed again.
        body, headers = delivery()
        status, answer = await post(url, body, headers)
        assert (status, answer["status"]) == (200, "duplicate")
    assert recorder.ids == ["evt_1"]
    event = recorder.events[0]
    assert isinstance(event.object, PaymentObject)
    assert str(event.object.total) == "1160.1"


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("tampered", "InvalidSignatureError"),
        ("stale", "StaleTimestampError"),
        ("wrong-secret", "InvalidSignatureError"),
        ("unsigned", "MissingSignatureHeadersError"),
        ("legacy-only", "UnsupportedSignatureSchemeError"),
    ],
)
async def test_untrusted_deliveries_are_refused_401_and_never_handled(
    serve_receiver: Any, case: str, error: str
) -> None:
    recorder = Recorder()
    body, headers = delivery()
    if case == "tampered":
        body = body.replace(b"1160.1", b"9160.1")
    elif case == "stale":
        body, headers = delivery(skew=-301)
    elif case == "wrong-secret":
        body, headers = delivery(secret=OTHER)
    elif case == "unsigned":
        headers = {}
    else:
        headers = {"X-Gigstack-Signature": "0" * 64}
    async with serve_receiver(WebhookReceiver(recorder, secret=SECRET)) as url:
        assert await post(url, body, headers) == (401, {"error": error})
    assert recorder.events == []


async def test_a_signed_body_that_is_not_an_event_is_400(serve_receiver: Any) -> None:
    body = b'{"hello": "world"}'
    headers = signature_headers(SECRET, "msg_x", int(time.time()), body)
    async with serve_receiver(WebhookReceiver(Recorder(), secret=SECRET)) as url:
        assert await post(url, body, headers) == (400, {"error": "WebhookPayloadError"})


async def test_a_handler_failure_is_500_and_the_retry_runs_it_again(
    serve_receiver: Any, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[str] = []

    async def flaky(event: Event) -> None:
        runs.append(event.id)
        if len(runs) == 1:
            raise RuntimeError("database down")

    async with serve_receiver(WebhookReceiver(flaky, secret=SECRET)) as url:
        with caplog.at_level(logging.ERROR, "gigstack_async.webhooks"):
            status, answer = await post(url, *delivery())
        assert (status, answer["status"]) == (500, "failed")
        status, answer = await post(url, *delivery())
        assert (status, answer["status"]) == (200, "processed")
    assert runs == ["evt_1", "evt_1"]
    assert any(
        "evt_1" in r.getMessage() and "payment.succeeded" in r.getMessage() for r in caplog.records
    )


async def test_slow_work_is_acknowledged_within_the_budget_and_drained_on_shutdown(
    serve_receiver: Any,
) -> None:
    finished: list[str] = []

    async def slow(event: Event) -> None:
        await asyncio.sleep(DELIVERY_BUDGET + 1)  # longer than gigstack waits
        finished.append(event.id)

    receiver = WebhookReceiver(slow, secret=SECRET)  # the default ack_timeout
    async with serve_receiver(receiver) as url:
        started = time.monotonic()
        status, answer = await post(url, *delivery())  # times out (fails) past 5 s
        assert time.monotonic() - started < DELIVERY_BUDGET
        assert (status, answer["status"]) == (202, "accepted")
        assert receiver.pending == 1
        assert finished == []
    # Leaving the block shut the server down, which waited for the handler.
    assert finished == ["evt_1"]
    assert receiver.pending == 0


async def test_concurrent_duplicates_over_http_run_the_handler_once(serve_receiver: Any) -> None:
    release = asyncio.Event()
    runs: list[str] = []

    async def gated(event: Event) -> None:
        runs.append(event.id)
        await release.wait()

    receiver = WebhookReceiver(gated, secret=SECRET, ack_timeout=0.3)
    async with serve_receiver(receiver) as url:
        first = await post(url, *delivery())
        assert first[0] == 202
        duplicates = await asyncio.gather(*(post(url, *delivery()) for _ in range(4)))
        # Still being processed: 409, so the sender retries later instead of forgetting it.
        assert {status for status, _ in duplicates} == {409}
        release.set()
        assert await receiver.join(timeout=10)  # the first delivery's handler, in the background
        assert receiver.pending == 0
        status, answer = await post(url, *delivery())
        assert (status, answer["status"]) == (200, "duplicate")
    assert runs == ["evt_1"]


async def test_the_sqlite_store_dedupes_across_two_receivers(
    tmp_path: Any, serve_receiver: Any
) -> None:
    # Two workers (separate receivers, separate servers) behind one load balancer.
    recorder = Recorder()
    db = tmp_path / "seen.sqlite3"
    stores = [SqliteSeenEventStore(db), SqliteSeenEventStore(db)]
    one = WebhookReceiver(recorder, secret=SECRET, store=stores[0])
    two = WebhookReceiver(recorder, secret=SECRET, store=stores[1])
    async with serve_receiver(one) as url_one, serve_receiver(two) as url_two:
        assert (await post(url_one, *delivery()))[1]["status"] == "processed"
        assert (await post(url_two, *delivery()))[1]["status"] == "duplicate"
    assert recorder.ids == ["evt_1"]
    for store in stores:
        store.close()


async def test_an_oversized_body_is_413_and_a_get_is_refused(serve_receiver: Any) -> None:
    receiver = WebhookReceiver(Recorder(), secret=SECRET, max_body=1000)
    async with serve_receiver(receiver) as url:
        body, headers = delivery(padding="x" * 2000)
        status, _ = await post(url, body, headers)
        assert status == 413
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 405


async def test_a_large_body_arriving_in_many_chunks_is_read_whole(serve_receiver: Any) -> None:
    # Regression: the aiohttp handler once read one chunk only, so big bodies failed to verify.
    recorder = Recorder()
    async with serve_receiver(WebhookReceiver(recorder, secret=SECRET)) as url:
        body, headers = delivery(padding="x" * 600_000)
        assert (await post(url, body, headers))[0] == 200
    assert recorder.events[0].data["padding"] == "x" * 600_000


def test_verification_is_an_explicit_choice() -> None:
    with pytest.raises(InvalidParameterError, match="verify=False"):
        WebhookReceiver(Recorder())
    with pytest.raises(InvalidParameterError):
        WebhookReceiver(Recorder(), secret=SECRET, verify=False)
    with pytest.raises(InvalidParameterError):
        WebhookReceiver(Recorder(), secret=SECRET, ack_timeout=DELIVERY_BUDGET)
    assert SECRET not in repr(WebhookReceiver(Recorder(), secret=SECRET))


async def test_an_unverified_receiver_accepts_unsigned_deliveries(serve_receiver: Any) -> None:
    recorder = Recorder()
    async with serve_receiver(WebhookReceiver(recorder, verify=False)) as url:
        body, _ = delivery()
        assert (await post(url, body, {}))[0] == 200
    assert recorder.ids == ["evt_1"]
