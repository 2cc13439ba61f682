"""Typed `data.object` payloads, per event family. Every payload shape is a GUESS.

gigstack publishes no per-event payload (NOT FOUND, api-surface reference §WD); the docs say
`data.object` is "the full resource that triggered the event", so each class carries the fields
the API references document for that resource, all optional. Unknown fields are never an error:
the whole object stays in `Event.data` (and `.raw` here). Money is `decimal.Decimal` (exact);
resource timestamps stay the raw integer because their unit varies per resource (payments show
seconds, newer resources milliseconds): decode with `gigstack_async.webhooks.decode_timestamp`.

When the generated models of the whole-surface issue land, these can become aliases of them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs


@attrs.frozen
class PaymentObject:
    """`payment.*`: a Payment (fields from the payments guide; `status` open, e.g. `succeeded`)."""

    id: str | None = None
    status: str | None = None
    currency: str | None = None
    total: Decimal | None = None
    subtotal: Decimal | None = None
    taxes: Decimal | None = None
    discount: Decimal | None = None
    exchange_rate: Decimal | None = None
    payment_form: str | None = None
    payment_processor: str | None = None
    short_url: str | None = None
    invoices: list[str] | None = None
    livemode: bool | None = None
    team: str | None = None
    created_at: int | None = None
    """Raw epoch number; the docs' examples show seconds (unit uncertain)."""
    succeeded_at: int | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class InvoiceObject:
    """`invoice.*`: an Invoice (CFDI). `invoice_id`, `pdf_url`, `xml_url` come from the flat
    `{event, timestamp, data}` example of the migration guide."""

    id: str | None = None
    invoice_id: str | None = None
    uuid: str | None = None
    status: str | None = None
    series: str | None = None
    folio: str | None = None
    currency: str | None = None
    total: Decimal | None = None
    subtotal: Decimal | None = None
    pdf_url: str | None = None
    xml_url: str | None = None
    livemode: bool | None = None
    team: str | None = None
    created_at: int | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class InvoiceBatchObject:
    """`invoice_batch.completed`: a batch of invoices (shape NOT FOUND; fields are a GUESS)."""

    id: str | None = None
    status: str | None = None
    total: int | None = None
    succeeded: int | None = None
    failed: int | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class ReceiptObject:
    """`receipt.*`: a Receipt."""

    id: str | None = None
    status: str | None = None
    currency: str | None = None
    total: Decimal | None = None
    livemode: bool | None = None
    created_at: int | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class CustomerObject:
    """`customer.*`: a client (gigstack's `/clients` resource)."""

    id: str | None = None
    name: str | None = None
    legal_name: str | None = None
    tax_id: str | None = None
    """The RFC."""
    email: str | None = None
    tax_system: str | None = None
    """Régimen fiscal code, e.g. `601`."""
    created_at: int | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class ServiceObject:
    """`service.*`: a service (product) of the catalog."""

    id: str | None = None
    description: str | None = None
    unit_price: Decimal | None = None
    product_key: str | None = None
    unit_key: str | None = None
    created_at: int | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class TeamObject:
    """`teams.*` (master team only): a team."""

    id: str | None = None
    name: str | None = None
    legal_name: str | None = None
    tax_id: str | None = None
    status: str | None = None
    created_at: int | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class SatInvoiceSyncObject:
    """`sat.invoice.synced` (payload NOT FOUND). Two plausible shapes are both read:

    - one synced SAT invoice (the docs' "full resource" rule): `uuid`, `direction`, `status`,
      `total`, …;
    - a batch summary of a completed download: `request_id`, `direction` (or `rfc_type`),
      `invoice_count`, `uuids`, `start_date`, `end_date`.

    Either way the robust reaction is to list the SAT invoices (`client.sat_invoices.list`).
    """

    uuid: str | None = None
    direction: str | None = None
    rfc_type: str | None = None
    status: str | None = None
    total: Decimal | None = None
    request_id: str | None = None
    download_request_id: str | None = None
    invoice_count: int | None = None
    uuids: list[str] | None = None
    start_date: str | None = None
    end_date: str | None = None
    raw: dict[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def synced_uuids(self) -> frozenset[str]:
        """Every CFDI UUID the event names (empty when it names none; then list to find out)."""
        return frozenset([*(self.uuids or ()), *([self.uuid] if self.uuid else [])])


EventObject = (
    PaymentObject
    | InvoiceObject
    | InvoiceBatchObject
    | ReceiptObject
    | CustomerObject
    | ServiceObject
    | TeamObject
    | SatInvoiceSyncObject
)

# Longest prefix first: `invoice_batch.` before `invoice.`. `client.` is the pre-rename spelling.
OBJECT_BY_PREFIX: tuple[tuple[str, type[EventObject]], ...] = (
    ("invoice_batch.", InvoiceBatchObject),
    ("sat.invoice.", SatInvoiceSyncObject),
    ("payment.", PaymentObject),
    ("invoice.", InvoiceObject),
    ("receipt.", ReceiptObject),
    ("customer.", CustomerObject),
    ("client.", CustomerObject),
    ("service.", ServiceObject),
    ("teams.", TeamObject),
)
