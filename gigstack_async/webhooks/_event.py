"""`parse()`: a delivery's raw body (and headers) → a typed `Event`. Lenient by design.

Two envelope shapes are accepted, because the sources disagree (api-surface reference §WD):

- `object`: `{id, type, created (unix ms), livemode, data: {object: {...}}}` — the docs, via
  the asyncapi description (primary);
- `flat`: `{event, timestamp (ISO 8601), data: {...}}` — the migration guide and gigstack's n8n
  trigger (conflicting).

Also read: `event_type` for the type, `created_at` for the time. Nothing unknown is an error:
unknown event names are kept (`is_known(event.type) is False`), unknown fields stay in
`event.data` / `event.raw`, and a field whose value does not fit its type is left None and named
in `event.object_errors`. JSON numbers are decoded as `decimal.Decimal`, so amounts are exact.
"""

from __future__ import annotations

import hashlib
import typing
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import attrs

from gigstack_async import _json
from gigstack_async._convert import _make_converter
from gigstack_async.errors import InvalidParameterError
from gigstack_async.money import to_decimal
from gigstack_async.webhooks._errors import WebhookPayloadError
from gigstack_async.webhooks._objects import OBJECT_BY_PREFIX, EventObject
from gigstack_async.webhooks._signing import HEADER_ID, header_values
from gigstack_async.webhooks._types import EventType, decode_timestamp, event_type

IdSource = Literal["envelope", "webhook-id", "body-sha256"]
Envelope = Literal["object", "flat"]


def _structure_decimal(value: Any, _: type) -> Decimal:
    # A webhook payload is whatever the sender wrote: a numeric string is still an amount.
    try:
        return to_decimal(value, name="amount", max_decimals=None)
    except InvalidParameterError as exc:
        raise ValueError(exc.rule) from None


_converter = _make_converter(decimal_hook=_structure_decimal)


@attrs.frozen
class Event:
    """One webhook event.

    - `id`: the event id (`evt_…`) when the envelope has one; else the `webhook-id` header
      (Standard Webhooks: stable across retries); else `sha256:<hex of the body>` (weakest: a
      re-sent event with a re-rendered body gets another id). `id_source` says which.
    - `type`: an `EventType`, or an unknown pseudo-member keeping the string
      (`event.type.value`).
    - `created`: when the event happened (see `decode_timestamp` for units), or None.
    - `livemode`: False for test-mode events; None when the envelope does not say.
    - `object`: the typed payload for the type's family (`PaymentObject` for `payment.*`, …),
      or None for an unknown family or a payload that is not an object.
    - `data`: the payload as sent (`data.object`, or the flat `data`), numbers as Decimal.
    - `raw`: the whole decoded envelope. `envelope`: which of the two shapes it was.
    """

    id: str
    type: EventType
    created: datetime | None
    livemode: bool | None
    object: EventObject | None
    data: Mapping[str, Any] = attrs.field(repr=False)
    raw: Mapping[str, Any] = attrs.field(repr=False)
    id_source: IdSource = "envelope"
    envelope: Envelope = "object"
    object_errors: tuple[str, ...] = ()


def loads(body: bytes | str) -> Any:
    """JSON with exact numbers: every non-integer number becomes a `decimal.Decimal`."""
    try:
        return _json.loads(body, exact=True)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WebhookPayloadError(
            f"the webhook body is not JSON: {exc.__class__.__name__}"
        ) from None


def parse(body: bytes | str, headers: Mapping[str, str] | None = None) -> Event:
    """Decode a delivery into an `Event`. Does NOT verify it: use `WebhookVerifier` first.

    Raises `WebhookPayloadError` (a ValueError) when the body is not JSON, not an object, or
    names no event type, or is hostile (nested too deep, numbers too large to read). Nothing
    else raises; the error's message never quotes the body.
    """
    try:
        return _parse(body, headers)
    except WebhookPayloadError:
        raise
    except (RecursionError, OverflowError, ValueError, TypeError, MemoryError) as exc:
        raise WebhookPayloadError(
            f"the webhook body cannot be read: {exc.__class__.__name__}"
        ) from None


def _parse(body: bytes | str, headers: Mapping[str, str] | None) -> Event:
    raw = loads(body)
    if not isinstance(raw, dict):
        raise WebhookPayloadError(f"the webhook body is a JSON {type(raw).__name__}, not an object")
    name = _first_str(raw, "type", "event", "event_type")
    if name is None:
        raise WebhookPayloadError("the webhook body names no event (no 'type' or 'event' field)")
    envelope: Envelope = "object" if "type" in raw else "flat"
    payload = raw.get("data")
    if isinstance(payload, dict) and isinstance(payload.get("object"), dict):
        data: dict[str, Any] = payload["object"]
    elif isinstance(payload, dict):
        data = payload
    else:
        data = {}
    event_id, id_source = _event_id(raw, headers, body)
    created_raw = next(
        (raw[key] for key in ("created", "timestamp", "created_at") if raw.get(key) is not None),
        None,
    )
    livemode = raw.get("livemode")
    typed, errors = _typed_object(name, data)
    return Event(
        id=event_id,
        type=event_type(name),
        created=decode_timestamp(created_raw),
        livemode=livemode if isinstance(livemode, bool) else None,
        object=typed,
        data=data,
        raw=raw,
        id_source=id_source,
        envelope=envelope,
        object_errors=errors,
    )


def _first_str(raw: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _event_id(
    raw: Mapping[str, Any], headers: Mapping[str, str] | None, body: bytes | str
) -> tuple[str, IdSource]:
    envelope_id = _first_str(raw, "id", "event_id")
    if envelope_id is not None:
        return envelope_id, "envelope"
    ids = header_values(headers or {}, HEADER_ID)
    if len(ids) > 1:
        raise WebhookPayloadError("the webhook-id header is sent more than once (ambiguous)")
    if ids:
        return ids[0], "webhook-id"
    data = body.encode() if isinstance(body, str) else body
    return "sha256:" + hashlib.sha256(data).hexdigest(), "body-sha256"


def _typed_object(name: str, data: dict[str, Any]) -> tuple[EventObject | None, tuple[str, ...]]:
    cls = next((cls for prefix, cls in OBJECT_BY_PREFIX if name.startswith(prefix)), None)
    if cls is None or not data:
        return None, ()
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    errors: list[str] = []
    for field in attrs.fields(cls):
        if field.name == "raw" or data.get(field.name) is None:
            continue
        try:
            values[field.name] = _converter.structure(data[field.name], hints[field.name])
        except Exception as exc:  # a GUESSED field of another type: keep the event, name it
            errors.append(f"{field.name}: {exc}")
    return cls(**values, raw=data), tuple(errors)
