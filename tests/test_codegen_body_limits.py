"""Review 11 #5: the spec's limits on body fields (minimum, exclusiveMinimum, minItems, maximum,
pattern, …) are enforced before sending, nested models and array items included, with the
field path named. The table (`_generated.operations.LIMITS`) is generated from openapi/."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from gigstack_async import GigstackClient
from gigstack_async._generated.operations import LIMITS
from gigstack_async.errors import InvalidParameterError
from gigstack_async.models import ClientAddress, ClientInput, Item, RetentionTaxInput


def _item(**changes: Any) -> Item:
    values: dict[str, Any] = {
        "description": "X",
        "quantity": Decimal(1),
        "unit_price": Decimal(500),
        **changes,
    }
    return Item(**values)


CLIENT = ClientInput(id="client_1")
TAXES = [RetentionTaxInput(tax="ISR", base=Decimal(1000), amount=Decimal(100))]
RETENTION: dict[str, Any] = {
    "retention_key": "14",
    "client": CLIENT,
    "period_start": 1,
    "period_end": 1,
    "period_year": 2025,
    "total_operation": Decimal(1000),
    "taxes": TAXES,
}

Call = Callable[[GigstackClient], Awaitable[Any]]
CASES: dict[str, tuple[Call, str]] = {
    "refund negative": (
        lambda c: c.payments.refund("payment_1", reason="x", amount=Decimal(-5)),
        "amount",
    ),
    "refund zero (exclusiveMinimum)": (
        lambda c: c.payments.refund("payment_1", reason="x", amount=Decimal(0)),
        "amount",
    ),
    "register with no items (minItems 1)": (
        lambda c: c.payments.register(client=CLIENT, items=[], payment_form="03"),
        "items",
    ),
    "quantity 0 in an array item": (
        lambda c: c.invoices.income.create(client=CLIENT, items=[_item(quantity=Decimal(0))]),
        "items[0].quantity",
    ),
    "negative unit price in the second item": (
        lambda c: c.invoices.income.create(
            client=CLIENT, items=[_item(), _item(unit_price=Decimal(-1))]
        ),
        "items[1].unit_price",
    ),
    "negative folio number": (
        lambda c: c.invoices.income.create(client=CLIENT, items=[_item()], folio_number=-5),
        "folio_number",
    ),
    "series test folio negative": (
        lambda c: c.teams.series.create("team_1", series="A", live=1, test=-5),
        "test",
    ),
    "retention month 13": (
        lambda c: c.retentions.create(**{**RETENTION, "period_start": 13}),
        "period_start",
    ),
    "zip in a nested client address": (
        lambda c: c.clients.create(
            legal_name="JUAN PEREZ GARCIA",
            tax_id="PEGJ800101ABC",
            tax_system="612",
            address=ClientAddress(zip="1234"),
        ),
        "address.zip",
    ),
}


@pytest.mark.parametrize("case", CASES)
async def test_a_body_outside_the_spec_limits_is_refused_before_sending(
    mock_client: Any, case: str
) -> None:
    call, field = CASES[case]
    client, transport = mock_client([])
    with pytest.raises(InvalidParameterError) as info:
        await call(client)
    assert info.value.field == field
    assert transport.requests == []


def test_the_limits_table_follows_the_spec() -> None:
    assert LIMITS["RefundPaymentInput"]["amount"].exclusive_minimum
    assert LIMITS["RegisterPaymentInput"]["items"].min_items == 1
    assert LIMITS["RegisterPaymentInput"]["items"].items_model == "Item"
    assert LIMITS["RetentionInput"]["period_start"].maximum == 12
