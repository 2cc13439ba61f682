"""Event names, and the decoding of event timestamps (whose units vary per source)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from gigstack_async._convert import is_known, open_enum

__all__ = ["EventType", "decode_timestamp", "event_type", "is_known"]


class EventType(enum.StrEnum):
    """The event names gigstack documents. OPEN: a name not listed here is kept as is.

    The 19 names of the docs' webhooks page (FACT-3p asyncapi `gigstack-webhooks.yml`) plus the 7
    the backend schema of gigstack's CLI adds (`invoice_batch.completed`, `sat.invoice.synced`,
    `teams.*`, which only a master team receives). Other spellings seen in gigstack's n8n node and
    blog posts (`payment.cancelled`, `invoice.stamped`, `payment.refunded`, …) are not members:
    they arrive as unknown values (`is_known(event.type) is False`), still typed by their prefix.
    """

    PAYMENT_CREATED = "payment.created"
    PAYMENT_UPDATED = "payment.updated"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_CANCELED = "payment.canceled"
    PAYMENT_DELETED = "payment.deleted"
    PAYMENT_UPCOMING_DUE_DATE = "payment.upcoming_due_date"
    INVOICE_CREATED = "invoice.created"
    INVOICE_CANCELED = "invoice.canceled"
    INVOICE_FAILED = "invoice.failed"
    INVOICE_BATCH_COMPLETED = "invoice_batch.completed"
    RECEIPT_CREATED = "receipt.created"
    RECEIPT_UPDATED = "receipt.updated"
    RECEIPT_COMPLETED = "receipt.completed"
    RECEIPT_DELETED = "receipt.deleted"
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    CUSTOMER_DELETED = "customer.deleted"
    SERVICE_CREATED = "service.created"
    SERVICE_UPDATED = "service.updated"
    SERVICE_DELETED = "service.deleted"
    SAT_INVOICE_SYNCED = "sat.invoice.synced"
    TEAMS_CREATED = "teams.created"
    TEAMS_SAT_COMPLETED = "teams.sat.completed"
    TEAMS_STRIPE_COMPLETED = "teams.stripe.completed"
    TEAMS_OPENPAY_COMPLETED = "teams.openpay.completed"
    TEAMS_SAT_MANIFEST_SIGNED = "teams.sat.manifest.signed"


def event_type(name: str) -> EventType:
    """The member for `name`, or an unknown pseudo-member that keeps the string."""
    return open_enum(name, EventType)


# 1e11 s is the year 5138 and 1e11 ms is 1973: an epoch number below it is seconds, above it ms.
_SECONDS_LIMIT = 100_000_000_000


def decode_timestamp(value: Any) -> datetime | None:
    """An event timestamp as a datetime, or None when `value` is absent or unreadable.

    - an integer or number: epoch **milliseconds** for `created` (FACT-3p, from the docs), but
      gigstack's payloads mix seconds and milliseconds, so the unit is told by magnitude
      (below 1e11 → seconds, else milliseconds): unambiguous for any instant 1973–5138.
      Returned aware, in UTC.
    - an ISO 8601 string (the `{event, timestamp, data}` envelope of the migration guide): with
      an offset or `Z` → aware; WITHOUT one → returned naive, because its zone is unknown (a
      GUESS would be Mexico City); the raw value stays in `Event.raw`.
    """
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, int | float) or _is_decimal(value):
            number = float(value)  # OverflowError for a 400-digit integer: unreadable
            seconds = number if abs(number) < _SECONDS_LIMIT else number / 1000
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str):
            text = value.strip()
            if text.isascii() and text.isdigit():  # "²".isdigit() is True, int("²") is not
                return decode_timestamp(int(text)) if len(text) <= 20 else None
            return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (OverflowError, OSError, ValueError):
        return None
    return None


def _is_decimal(value: Any) -> bool:
    from decimal import Decimal

    return isinstance(value, Decimal) and value.is_finite()
