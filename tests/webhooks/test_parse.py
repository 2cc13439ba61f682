"""parse(): both envelopes, typed objects per family, exact money, timestamps by unit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

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
    WebhookPayloadError,
    decode_timestamp,
    is_known,
    parse,
)


def body(**envelope: object) -> bytes:
    return json.dumps(envelope).encode()


def test_the_documented_envelope() -> None:
    raw = (
        b'{"id":"evt_1","type":"payment.succeeded","created":1709090576567,"livemode":false,'
        b'"data":{"object":{"id":"payment_1","status":"succeeded","total":1160.10,'
        b'"subtotal":1000.1,"taxes":160,"currency":"MXN","invoices":["invoice_1"],'
        b'"created_at":1677651234,"brand_new_field":{"x":1}}}}'
    )
    event = parse(raw)
    assert event.id == "evt_1"
    assert event.id_source == "envelope"
    assert event.type is EventType.PAYMENT_SUCCEEDED
    assert event.created == datetime(2024, 2, 28, 3, 22, 56, 567000, tzinfo=UTC)
    assert event.livemode is False
    assert event.envelope == "object"
    assert isinstance(event.object, PaymentObject)
    # Exact: Decimal from the JSON text, never through float (1160.10 keeps its cents digit).
    assert event.object.total == Decimal("1160.10")
    assert str(event.object.total) == "1160.10"
    assert event.object.subtotal == Decimal("1000.1")
    assert event.object.taxes == Decimal(160)
    assert event.object.invoices == ["invoice_1"]
    assert event.object.created_at == 1677651234  # raw: its unit varies per resource
    # Unknown fields are kept, not dropped and not an error.
    assert event.data["brand_new_field"] == {"x": 1}
    assert event.object.raw["brand_new_field"] == {"x": 1}
    assert event.object_errors == ()


def test_the_flat_envelope_of_the_migration_guide() -> None:
    raw = body(
        event="invoice.stamped",
        timestamp="2026-01-15T10:30:45Z",
        data={"invoice_id": "inv_1", "uuid": "U-1", "status": "stamped", "pdf_url": "https://x"},
    )
    event = parse(raw, {"Webhook-Id": "msg_7"})
    assert event.envelope == "flat"
    assert event.type.value == "invoice.stamped"
    assert not is_known(event.type)
    assert isinstance(event.object, InvoiceObject)
    assert (event.object.invoice_id, event.object.uuid, event.object.status) == (
        "inv_1",
        "U-1",
        "stamped",
    )
    assert event.created == datetime(2026, 1, 15, 10, 30, 45, tzinfo=UTC)
    assert event.livemode is None  # not said: not guessed
    assert (event.id, event.id_source) == ("msg_7", "webhook-id")


def test_without_any_id_the_body_digest_identifies_the_event() -> None:
    raw = body(event="payment.created", data={})
    first, again = parse(raw), parse(raw)
    assert first.id_source == "body-sha256"
    assert first.id.startswith("sha256:")
    assert first.id == again.id
    assert parse(body(event="payment.created", data={"a": 1})).id != first.id


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("payment.canceled", PaymentObject),
        ("payment.refunded", PaymentObject),  # n8n spelling: unknown name, still typed
        ("invoice.canceled", InvoiceObject),
        ("invoice_batch.completed", InvoiceBatchObject),
        ("receipt.completed", ReceiptObject),
        ("customer.created", CustomerObject),
        ("client.created", CustomerObject),
        ("service.updated", ServiceObject),
        ("teams.sat.completed", TeamObject),
        ("sat.invoice.synced", SatInvoiceSyncObject),
    ],
)
def test_each_family_maps_to_its_typed_object(name: str, cls: type) -> None:
    event = parse(body(id="e", type=name, data={"object": {"id": "x", "status": "s"}}))
    assert isinstance(event.object, cls)


def test_every_documented_name_is_a_known_member() -> None:
    assert len(EventType) == 26
    for member in EventType:
        event = parse(body(id="e", type=member.value, data={"object": {"id": "x"}}))
        assert event.type is member
        assert is_known(event.type)
        assert event.object is not None


def test_an_unknown_event_family_is_kept_without_a_typed_object() -> None:
    event = parse(body(id="e", type="retention.created", data={"object": {"id": "ret_1"}}))
    assert event.type.value == "retention.created"
    assert not is_known(event.type)
    assert event.object is None
    assert event.data == {"id": "ret_1"}


def test_a_field_of_an_unexpected_type_is_left_out_and_named() -> None:
    event = parse(
        body(id="e", type="payment.created", data={"object": {"id": 5, "total": "1160.50"}})
    )
    assert isinstance(event.object, PaymentObject)
    assert event.object.id is None
    assert event.object.total == Decimal("1160.50")  # a numeric string is still money
    assert [error.split(":")[0] for error in event.object_errors] == ["id"]


def test_sat_invoice_synced_reads_both_plausible_payloads() -> None:
    summary = parse(
        body(
            id="e",
            type="sat.invoice.synced",
            data={"object": {"request_id": "R", "direction": "received", "uuids": ["A", "B"]}},
        )
    )
    assert isinstance(summary.object, SatInvoiceSyncObject)
    assert summary.object.synced_uuids == {"A", "B"}
    single = parse(
        body(id="e", type="sat.invoice.synced", data={"object": {"uuid": "C", "total": 5.5}})
    )
    assert isinstance(single.object, SatInvoiceSyncObject)
    assert single.object.synced_uuids == {"C"}
    assert single.object.total == Decimal("5.5")


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[1,2]", b'"payment.created"', b'{"data":{}}', b'{"type":""}', b"\xff"],
)
def test_a_body_that_is_not_an_event_is_a_typed_error(raw: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        parse(raw)
    assert issubclass(WebhookPayloadError, ValueError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1709090576567, datetime(2024, 2, 28, 3, 22, 56, 567000, tzinfo=UTC)),  # ms
        (1709090576, datetime(2024, 2, 28, 3, 22, 56, tzinfo=UTC)),  # s
        ("1709090576567", datetime(2024, 2, 28, 3, 22, 56, 567000, tzinfo=UTC)),
        (Decimal("1709090576.5"), datetime(2024, 2, 28, 3, 22, 56, 500000, tzinfo=UTC)),
        ("2026-01-15T10:30:45.123Z", datetime(2026, 1, 15, 10, 30, 45, 123000, tzinfo=UTC)),
        ("2026-01-15T10:30:45-06:00", datetime(2026, 1, 15, 16, 30, 45, tzinfo=UTC)),
        (None, None),
        (True, None),
        ("yesterday", None),
        (10**30, None),
    ],
)
def test_timestamps_are_decoded_with_their_unit(value: object, expected: datetime | None) -> None:
    assert decode_timestamp(value) == expected


def test_a_naive_iso_timestamp_stays_naive_its_zone_is_unknown() -> None:
    decoded = decode_timestamp("2026-01-15T10:30:45")
    assert decoded == datetime(2026, 1, 15, 10, 30, 45)
    assert decoded.tzinfo is None


def test_created_in_seconds_is_read_as_seconds() -> None:
    event = parse(body(id="e", type="payment.created", created=1709090576, data={"object": {}}))
    assert event.created == datetime(2024, 2, 28, 3, 22, 56, tzinfo=UTC)
