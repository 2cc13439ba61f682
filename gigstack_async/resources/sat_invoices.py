"""`client.sat_invoices`: CFDIs that Descarga Masiva brought in from SAT.

The generated class (`_generated/resources/sat_invoices.py`) has one coroutine per operation;
this subclass adds what the spec cannot say: RFC/UUID/date-range checks and the decoded PDF.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from gigstack_async import _validation as check
from gigstack_async._generated import operations as ops
from gigstack_async._generated.models import (
    Direction,
    InvoiceType,
    RetryXmlResponse,
    SatInvoice,
    SatInvoiceEnvelope,
    SatInvoiceList,
    SatInvoicePdfResponse,
    SatInvoiceStatus,
)
from gigstack_async._generated.resources.sat_invoices import SatInvoices as GeneratedSatInvoices
from gigstack_async._pipeline import Pipeline
from gigstack_async.errors import APIResponseValidationError
from gigstack_async.pagination import AsyncPager

T = TypeVar("T")


def _optional(validate: Callable[..., T], field: str, value: object, *args: Any) -> T | None:
    return None if value is None else validate(field, value, *args)


class SatInvoices(GeneratedSatInvoices):
    """List, read, re-download and render the SAT invoices gigstack holds for the team."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(pipeline)

    def list(
        self,
        *,
        direction: Direction | str | None = None,
        status: SatInvoiceStatus | str | None = None,
        invoice_type: InvoiceType | str | None = None,
        issuer_rfc: str | None = None,
        receiver_rfc: str | None = None,
        from_: date | str | None = None,
        to: date | str | None = None,
        limit: int | None = None,
        max_items: int | None = None,
        starting_after: str | None = None,
    ) -> AsyncPager[SatInvoice, SatInvoiceList]:
        """Every SAT invoice matching the filters, across pages.

        Arguments are checked now, before any request: a bad one raises InvalidParameterError
        (a ValueError) or TypeError. `from_`/`to` bound the issue date (inclusive); `limit` is the
        page size (1–100); `max_items` stops early. `starting_after` resumes after a saved
        cursor (a page's `next`): the first page requested is the one after it.

        ```python
        async for invoice in client.sat_invoices.list(direction="received", from_="2024-01-01"):
            print(invoice.uuid, invoice.total)
        ```
        """
        query: dict[str, object] = {
            "direction": _optional(check.enum_value, "direction", direction, Direction),
            "status": _optional(check.enum_value, "status", status, SatInvoiceStatus),
            "invoice_type": _optional(check.enum_value, "invoice_type", invoice_type, InvoiceType),
            "issuer_rfc": _optional(check.rfc, "issuer_rfc", issuer_rfc),
            "receiver_rfc": _optional(check.rfc, "receiver_rfc", receiver_rfc),
            "from": _optional(check.date_value, "from_", from_),
            "to": _optional(check.date_value, "to", to),
            "limit": _optional(check.limit, "limit", limit),
        }
        if from_ is not None and to is not None:
            check.date_range("from_", query["from"], "to", query["to"])
        if max_items is not None:
            check.limit("max_items", max_items, 1, 2**62)
        first_cursor = _optional(check.non_empty_str, "starting_after", starting_after)
        pagination = ops.LIST_SAT_INVOICES.pagination
        assert pagination is not None  # the spec declares it; codegen carries it over
        cursor_param = pagination.cursor_param
        assert cursor_param is not None

        async def fetch(cursor: str | None) -> SatInvoiceList:
            page_query = {**query, cursor_param: cursor or first_cursor}
            page: SatInvoiceList = await self._pipeline.call(
                ops.LIST_SAT_INVOICES, query=page_query
            )
            return page

        return AsyncPager(fetch, pagination, max_items=max_items)

    async def get(self, uuid: str) -> SatInvoice:
        """One SAT invoice by its folio fiscal (UUID)."""
        envelope: SatInvoiceEnvelope = await self._pipeline.call(
            ops.GET_SAT_INVOICE, path_params={"uuid": check.cfdi_uuid_as_given("uuid", uuid)}
        )
        return envelope.data

    async def retry_xml(self, uuid: str) -> RetryXmlResponse:
        """Ask gigstack to fetch a stuck invoice's XML again.

        May charge a credit (`result.data.credit_charged`), so it is never retried automatically:
        a failure after sending raises OutcomeUnknownError.
        """
        response: RetryXmlResponse = await self._pipeline.call(
            ops.RETRY_SAT_INVOICE_XML, path_params={"uuid": check.cfdi_uuid_as_given("uuid", uuid)}
        )
        return response

    async def pdf(self, uuid: str) -> bytes:
        """The PDF of a received SAT invoice, decoded from the response's base64 `pdf` field."""
        response: SatInvoicePdfResponse = await self._pipeline.call(
            ops.GENERATE_SAT_INVOICE_PDF,
            path_params={"uuid": check.cfdi_uuid_as_given("uuid", uuid)},
        )
        try:
            return base64.b64decode(response.pdf, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise APIResponseValidationError(
                "the `pdf` field is not valid base64", status=200
            ) from exc
