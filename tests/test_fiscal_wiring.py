"""The generated methods run the fiscal checks before anything is sent (x-gigstack-fiscal-check)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest

from gigstack_async import GigstackClient
from gigstack_async._generated import models
from gigstack_async.errors import InvalidParameterError
from gigstack_async.transports.base import Request, Response
from gigstack_async.transports.mock import MockTransport


def _ok(request: Request) -> Response:
    body = {"message": "ok", "data": {"id": "x_1", "uuid": "invoice_1"}}
    return Response(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


@pytest.fixture
def transport() -> MockTransport:
    return MockTransport(_ok)


@pytest.fixture
async def client(transport: MockTransport) -> AsyncIterator[GigstackClient]:
    async with GigstackClient("sk_test_x", transport=transport) as client:
        yield client


async def test_cancel_motive_01_without_substitution_is_refused_before_sending(
    client: GigstackClient, transport: MockTransport
) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        await client.invoices.cancel("invoice_1", motive="01")
    assert excinfo.value.field == "substitution_uuid"
    assert transport.requests == []


async def test_cancel_motive_01_with_substitution_is_sent(
    client: GigstackClient, transport: MockTransport
) -> None:
    replacement = uuid.uuid4()
    await client.invoices.cancel("invoice_1", motive="01", substitution_uuid=replacement)
    (request,) = transport.requests
    assert request.method == "DELETE"
    assert request.json["motive"] == "01"
    assert uuid.UUID(request.json["substitution_uuid"]) == replacement


async def test_income_invoice_with_ppd_and_a_real_payment_form_is_refused(
    client: GigstackClient, transport: MockTransport
) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        await client.invoices.income.create(
            client=models.ClientInput(id="client_1"), payment_method="PPD", payment_form="03"
        )
    assert excinfo.value.field == "payment_form"
    assert transport.requests == []


async def test_foreign_currency_without_rate_is_refused(
    client: GigstackClient, transport: MockTransport
) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        await client.invoices.egress.create(client=models.ClientInput(id="c_1"), currency="USD")
    assert excinfo.value.field == "exchange_rate"
    assert transport.requests == []


async def test_mark_paid_with_an_unknown_payment_form_is_refused(
    client: GigstackClient, transport: MockTransport
) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        await client.payments.mark_paid("payment_1", payment_form="07")
    assert excinfo.value.field == "payment_form"
    assert transport.requests == []


async def test_client_with_a_regime_that_does_not_fit_the_rfc_is_refused(
    client: GigstackClient, transport: MockTransport
) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        await client.clients.create(name="Acme", tax_id="EKU9003173C9", tax_system="612")
    assert excinfo.value.field == "tax_system"
    assert transport.requests == []


async def test_a_valid_client_goes_out_unchanged(
    client: GigstackClient, transport: MockTransport
) -> None:
    await client.clients.create(
        name="Juan Pérez García",
        tax_id="PEGJ800101ABC",
        tax_system="612",
        use="D01",
        address=models.ClientAddress(zip="03100"),
    )
    (request,) = transport.requests
    assert request.json["tax_system"] == "612"
    assert request.json["address"] == {"zip": "03100"}


def test_every_declared_fiscal_check_is_in_the_generated_method() -> None:
    import importlib
    import inspect

    from codegen.resources import FISCAL_CHECKS
    from codegen.spec import load_bundle, operations

    declared = 0
    for _path, _method, op in operations(load_bundle()):
        check = op.get("x-gigstack-fiscal-check")
        if check is None:
            continue
        declared += 1
        assert check in FISCAL_CHECKS
        top = op["x-gigstack-resource"].split(".")[0]
        module = importlib.import_module(f"gigstack_async._generated.resources.{top}")
        source = inspect.getsource(module)
        assert f"_fiscal.{check}(body_)" in source, op["operationId"]
    # income, egress, drafts, receipts, retentions, cancel, payments, clients, teams
    assert declared >= 15


# ------------------------------------------------------------------ review 11 #6: normalised


async def test_the_checked_value_is_the_sent_value(
    client: GigstackClient, transport: MockTransport
) -> None:
    """Review 11 #6: the checks accepted " pegj800101abc ", "g03", "ppd", "usd" by normalising
    them, then sent the raw values (the sandbox refused "usd" with a 400)."""
    await client.invoices.income.create(
        client=models.ClientInput(
            tax_id=" pegj800101abc ",
            legal_name="JUAN PEREZ GARCIA",
            tax_system="612",
            address=models.ClientAddress(zip="03100"),  # spaces: refused by the pattern
        ),
        items=[models.Item(description="X", quantity=1, unit_price=100)],
        use="g03",
        payment_method="ppd",
        payment_form="99",
        currency="usd",
        exchange_rate=17,
    )
    (request,) = transport.requests
    body = request.json
    assert body["client"]["tax_id"] == "PEGJ800101ABC"
    assert body["client"]["address"]["zip"] == "03100"
    assert (body["use"], body["payment_method"], body["currency"]) == ("G03", "PPD", "USD")


async def test_payment_and_client_bodies_are_sent_normalised(
    client: GigstackClient, transport: MockTransport
) -> None:
    await client.clients.create(legal_name="JUAN PEREZ GARCIA", tax_id="pegj800101abc ")
    await client.payments.register(
        client=models.ClientInput(id="client_1"),
        items=[models.Item(id="service_1")],
        payment_form=" 03",
        currency="usd",
        exchange_rate=17,
    )
    created, registered = (r.json for r in transport.requests)
    assert created["tax_id"] == "PEGJ800101ABC"
    assert (registered["payment_form"], registered["currency"]) == ("03", "USD")


async def test_the_caller_s_model_is_not_changed_by_normalising(
    client: GigstackClient, transport: MockTransport
) -> None:
    customer = models.ClientInput(tax_id="pegj800101abc", legal_name="JUAN")
    await client.invoices.income.create(client=customer, items=[models.Item(id="service_1")])
    assert customer.tax_id == "pegj800101abc"


# ------------------------------------------------------------------ review 11 #7: fiscal gaps


async def test_retention_cancel_motive_01_needs_the_substitution_uuid(
    client: GigstackClient, transport: MockTransport
) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        await client.retentions.cancel("ret_1", motive="01")
    assert excinfo.value.field == "substitution_uuid"
    assert transport.requests == []


@pytest.mark.parametrize("cancel", ["invoices", "retentions"])
async def test_a_substitution_uuid_with_another_motive_is_refused(
    client: GigstackClient, transport: MockTransport, cancel: str
) -> None:
    resource = getattr(client, cancel)
    with pytest.raises(InvalidParameterError) as excinfo:
        await resource.cancel("x_1", motive="02", substitution_uuid=uuid.uuid4())
    assert excinfo.value.field == "substitution_uuid"
    assert transport.requests == []


async def test_a_complement_automation_with_payment_form_99_is_refused(
    client: GigstackClient, transport: MockTransport
) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        await client.payments.register(
            client=models.ClientInput(id="client_1"),
            items=[models.Item(id="service_1")],
            payment_form="99",
            automation_type="ppd_invoice_and_complement",
        )
    assert excinfo.value.field == "payment_form"
    assert transport.requests == []


async def test_a_global_invoice_goes_to_the_generic_rfc(
    client: GigstackClient, transport: MockTransport
) -> None:
    glob = {"global_": models.GlobalInvoiceInfo(periodicity="04", months="01", year=2025)}
    with pytest.raises(InvalidParameterError) as excinfo:
        await client.invoices.income.create(
            client=models.ClientInput(tax_id="PEGJ800101ABC", tax_system="612"),
            items=[models.Item(id="service_1")],
            **glob,
        )
    assert excinfo.value.field == "client.tax_id"
    assert transport.requests == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "XXX"}, "currency"),
        ({"currency": "US"}, "currency"),
        ({"client": models.ClientInput(address=models.ClientAddress(zip="00000"))}, None),
    ],
)
async def test_currency_xxx_short_codes_and_zip_00000_are_refused(
    client: GigstackClient, transport: MockTransport, changes: dict[str, object], field: str | None
) -> None:
    values: dict[str, object] = {
        "client": models.ClientInput(id="client_1"),
        "items": [models.Item(id="service_1")],
        **changes,
    }
    with pytest.raises(InvalidParameterError) as excinfo:
        await client.invoices.income.create(**values)  # type: ignore[arg-type]
    assert excinfo.value.field in (field, "client.address.zip", "address.zip")
    assert transport.requests == []
