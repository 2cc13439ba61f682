"""End to end through the generated client: the SDK's retry policy meets the sandbox's
bookkeeping. A payment retried after a lost answer moves money once (same idempotency key); a
stamp whose answer is lost is never sent twice; `async for` walks every page; `team` scopes."""

from __future__ import annotations

import inspect
from decimal import Decimal
from typing import Any

import pytest

from gigstack_async.client import GigstackClient
from gigstack_async.errors import APIStatusError, OutcomeUnknownError
from gigstack_async.sandbox import Sandbox

models = pytest.importorskip("gigstack_async._generated.models")


CLIENT = {
    "name": "Juan",
    "legal_name": "JUAN PEREZ GARCIA",
    "tax_id": "PEGJ800101ABC",
    "tax_system": "612",
}


def _item() -> object:
    tax = models.TaxElement(
        type=models.TaxType.IVA,
        rate=Decimal("0.16"),
        factor=models.TaxFactor.TASA,
        withholding=False,
    )
    return models.Item(
        description="Consultoría", quantity=Decimal(1), unit_price=Decimal("1000"), taxes=[tax]
    )


async def _client(sdk: GigstackClient) -> str:
    created = await sdk.clients.create(**CLIENT, address=models.ClientAddress(zip="03100"))
    assert created is not None
    return str(created.id)


async def test_a_payment_retried_after_a_lost_answer_moves_money_once(
    sandbox: Sandbox,
) -> None:
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as sdk:
        client_id = await _client(sdk)
        # The server registers the payment (and stamps its invoice), then the answer is lost.
        sandbox.state.force_fault("registerPayment", "after_502")
        payment = await sdk.payments.register(
            client=models.ClientInput(id=client_id),
            items=[_item()],
            payment_form="03",
            automation_type="pue_invoice",
        )
    assert payment is not None
    calls = sandbox.state.calls_to("registerPayment")
    assert [call.status for call in calls] == [502, 200]  # retried once, same key
    core = sandbox.state.core
    assert [move.kind for move in core.moves_of(str(payment.id))] == ["register"]
    assert core.stamp_count(str(payment.id)) == 1
    assert payment.total == Decimal("1160.00")


async def test_a_stamp_whose_answer_is_lost_is_not_sent_again(sandbox: Sandbox) -> None:
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as sdk:
        client_id = await _client(sdk)
        sandbox.state.force_fault("createIncomeInvoice", "after_502")
        with pytest.raises((OutcomeUnknownError, APIStatusError)):
            await sdk.invoices.income.create(
                client=models.ClientInput(id=client_id), items=[_item()], payment_form="03"
            )
    assert len(sandbox.state.calls_to("createIncomeInvoice")) == 1
    assert len(sandbox.state.core.stamps) == 1  # stamped once; the caller must look it up


async def test_cancel_and_files_through_the_client(sandbox: Sandbox) -> None:
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as sdk:
        client_id = await _client(sdk)
        invoice = await sdk.invoices.income.create(
            client=models.ClientInput(id=client_id), items=[_item()], payment_form="03"
        )
        assert invoice is not None
        assert (invoice.series, invoice.folio_number) == ("A", 1)
        await sdk.invoices.cancel(str(invoice.id), motive="02")
        fetched = await sdk.invoices.income.get(str(invoice.id))
    assert fetched is not None
    assert fetched.status == "cancelled"
    assert sandbox.state.core.cancellations[str(invoice.id)] == 1


async def test_async_for_walks_every_page_and_team_scopes(sandbox: Sandbox) -> None:
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as sdk:
        for n in range(23):
            await sdk.clients.create(name=f"Cliente {n:02d}")
        names = [client.name async for client in sdk.clients.list(limit=10)]
    assert len(names) == 23
    assert len(set(names)) == 23
    assert len(sandbox.state.calls_to("listClients")) == 3  # 10 + 10 + 3
    async with GigstackClient(
        sandbox.api_key, base_url=sandbox.base_url, team="team_connected"
    ) as connected:
        assert [c async for c in connected.clients.list()] == []
        await connected.clients.create(name="Sucursal")
    teams = {call.team for call in sandbox.state.calls_to("createClient")}
    assert teams == {"team_sandbox", "team_connected"}


def _list_methods(root: object, prefix: str = "") -> list[tuple[str, Any]]:
    """Every generated method returning an AsyncPager, found by walking the client's resources."""
    found: list[tuple[str, Any]] = []
    for name in sorted(dir(root)):
        if name.startswith("_"):
            continue
        attr = getattr(root, name)
        if inspect.ismethod(attr):
            if "AsyncPager" in str(inspect.signature(attr).return_annotation):
                found.append((prefix + name, attr))
        elif hasattr(attr, "_pipeline") and attr is not root:
            found.extend(_list_methods(attr, f"{prefix}{name}."))
    return found


async def test_every_generated_list_method_walks_through_the_sdk(sandbox: Sandbox) -> None:
    """Review 11 finding 1: `style: single` lists crashed in `paged()` (the contract test only
    used raw HTTP). Every list the codegen emits is called here through the SDK, awaited and
    iterated; the ones seeded with data must yield it."""
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as sdk:
        client_id = await _client(sdk)
        await sdk.clients.support_documents.upload(
            client_id, file=b"%PDF-1.4 x", document_type="contract"
        )
        invoice = await sdk.invoices.income.create(
            client=models.ClientInput(id=client_id), items=[_item()]
        )
        await sdk.invoices.support_documents.upload(
            invoice.id, file=b"%PDF-1.4 x", document_type="contract"
        )
        payment = await sdk.payments.register(
            client=models.ClientInput(id=client_id),
            items=[_item()],
            payment_form="03",
            automation_type="none",
        )
        await sdk.payments.support_documents.upload(
            payment.id, file=b"%PDF-1.4 x", document_type="contract"
        )
        team = next(iter(sandbox.state.core.teams))
        ids = {
            "clients.": client_id,
            "invoices.support_documents.": invoice.id,
            "payments.support_documents.": payment.id,
            "teams.": team,
        }
        methods = _list_methods(sdk)
        names = {name for name, _ in methods}
        # The walk really reaches the single-page lists the review found broken.
        assert {
            "clients.support_documents.list",
            "invoices.support_documents.list",
            "payments.support_documents.list",
            "teams.series.list",
        } <= names
        assert len(methods) >= 20
        seen: dict[str, int] = {}
        for name, method in methods:
            args: list[str] = []
            kwargs: dict[str, Any] = {}
            for param in inspect.signature(method).parameters.values():
                if param.default is not param.empty:
                    continue
                if param.kind == param.POSITIONAL_OR_KEYWORD:
                    prefix = max((p for p in ids if name.startswith(p)), key=len)
                    args.append(ids[prefix])
                elif param.name == "q":
                    kwargs["q"] = "JUAN"
            first_page = await method(*args, **kwargs)
            assert first_page is not None, name
            seen[name] = len([item async for item in method(*args, **kwargs)])
    for name in (
        "clients.list",
        "clients.support_documents.list",
        "invoices.support_documents.list",
        "payments.support_documents.list",
        "teams.series.list",
        "teams.list",
        "invoices.income.list",
        "payments.list",
    ):
        assert seen[name] >= 1, (name, seen)


async def test_register_whose_answers_are_all_lost_hands_back_its_key(sandbox: Sandbox) -> None:
    """Review 11 #2: after the retries run out the error carries the key; retrying WITH it
    moves money once."""
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as sdk:
        client_id = await _client(sdk)
        sandbox.state.force_fault("registerPayment", "after_drop", times=10)
        kwargs: dict[str, Any] = {
            "client": models.ClientInput(id=client_id),
            "items": [_item()],
            "payment_form": "03",
            "automation_type": "none",
        }
        with pytest.raises(OutcomeUnknownError) as info:
            await sdk.payments.register(**kwargs)
        key = info.value.idempotency_key
        assert key is not None
        assert key in str(info.value)
        sandbox.state.forced_faults.pop("registerPayment", None)  # the network is back
        payment = await sdk.payments.register(**kwargs, idempotency_key=key)
    assert payment is not None
    assert len(sandbox.state.core.money_moves) == 1


async def test_a_stamp_answered_by_a_502_is_an_unknown_outcome(sandbox: Sandbox) -> None:
    """Review 11 #3: the CFDI was stamped, then a 502 came back; reading it as a refusal
    (InternalServerError) invites a second stamp."""
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as sdk:
        client_id = await _client(sdk)
        sandbox.state.force_fault("createIncomeInvoice", "after_502")
        with pytest.raises(OutcomeUnknownError) as info:
            await sdk.invoices.income.create(
                client=models.ClientInput(id=client_id), items=[_item()]
            )
    assert not isinstance(info.value, APIStatusError)
    assert info.value.status == 502
    assert len(sandbox.state.calls_to("createIncomeInvoice")) == 1
    assert len(sandbox.state.core.stamps) == 1


@pytest.mark.parametrize("fault", ["after_502", "after_drop"])
async def test_a_plain_create_whose_answer_is_lost_is_not_made_twice(
    sandbox: Sandbox, fault: str
) -> None:
    """Review 11 #4: clients.create / webhooks.create were retried after the server acted."""
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as sdk:
        sandbox.state.force_fault("createWebhook", fault)
        with pytest.raises(OutcomeUnknownError):
            await sdk.webhooks.create(url="https://example.com/hook", events=["invoice.created"])
        assert len([hook async for hook in sdk.webhooks.list()]) == 1
        sandbox.state.force_fault("createClient", fault)
        with pytest.raises(OutcomeUnknownError):
            await sdk.clients.create(**CLIENT, address=models.ClientAddress(zip="03100"))
        assert len([client async for client in sdk.clients.list()]) == 1
    assert len(sandbox.state.calls_to("createWebhook")) == 1
    assert len(sandbox.state.calls_to("createClient")) == 1


async def test_the_sat_uuid_reaches_the_sdk_and_cancel_motive_01_works_with_it(
    sandbox: Sandbox,
) -> None:
    """Review 11 #8: the server sends `stamp.uuid` (and a complement's `payment` block) but the
    models dropped them, so motive 01 had no UUID to name."""
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as sdk:
        client_id = await _client(sdk)
        customer = models.ClientInput(id=client_id)
        wrong = await sdk.invoices.income.create(client=customer, items=[_item()])
        right = await sdk.invoices.income.create(client=customer, items=[_item()])
        fetched = await sdk.invoices.income.get(right.id)
        assert fetched.stamp is not None
        assert fetched.stamp.uuid is not None
        assert len(fetched.stamp.uuid) == 36
        await sdk.invoices.cancel(wrong.id, motive="01", substitution_uuid=fetched.stamp.uuid)
        await sdk.payments.register(
            client=customer,
            items=[_item()],
            payment_form="03",
            automation_type="ppd_invoice_and_complement",
        )
        (complement,) = [c async for c in sdk.invoices.payment_complements.list()]
    assert complement.payment is not None
    assert complement.payment.payment_form == "03"
    assert complement.payment.related_uuid is not None
    assert complement.payment.amount == Decimal("1160.00")


async def test_a_register_whose_automation_fails_leaves_nothing_behind(sandbox: Sandbox) -> None:
    """Review 11 #9: an unknown `invoice_config.serie` answered 400 yet left a succeeded
    payment, its money move and a spent idempotency key."""
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as sdk:
        client_id = await _client(sdk)
        kwargs: dict[str, Any] = {
            "client": models.ClientInput(id=client_id),
            "items": [_item()],
            "payment_form": "03",
            "automation_type": "pue_invoice",
            "idempotency_key": "order-7",
        }
        with pytest.raises(APIStatusError) as info:
            await sdk.payments.register(**kwargs, invoice_config=models.InvoiceConfig(serie="NOPE"))
        assert info.value.status == 400
        assert sandbox.state.core.money_moves == []
        assert [p async for p in sdk.payments.list()] == []
        # The key is free again: the corrected request goes through under it.
        payment = await sdk.payments.register(**kwargs)
    assert payment is not None
    assert len(sandbox.state.core.money_moves) == 1


async def test_deleting_while_listing_walks_every_record(sandbox: Sandbox) -> None:
    """Review 11 #9: a cursor naming a record deleted meanwhile was a 400; the common
    delete-while-listing loop now goes on after the deleted record's position."""
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as sdk:
        for n in range(5):
            await sdk.clients.create(legal_name=f"CLIENTE {n}", name=f"c{n}")
        deleted = []
        async for client in sdk.clients.list(limit=2):
            await sdk.clients.delete(client.id)
            deleted.append(client.id)
        assert len(deleted) == len(set(deleted)) == 5
        assert [c async for c in sdk.clients.list()] == []


async def test_retention_files_are_downloadable_from_the_sandbox(sandbox: Sandbox) -> None:
    """Review 11 #9: the file URLs named storage.sandbox.gigstack.test, which nothing serves."""
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as sdk:
        client_id = await _client(sdk)
        retention = await sdk.retentions.create(
            retention_key="14",
            client=models.ClientInput(id=client_id),
            period_start=1,
            period_end=1,
            period_year=2025,
            total_operation=Decimal(1000),
            taxes=[models.RetentionTaxInput(tax="ISR", base=Decimal(1000), amount=Decimal(100))],
        )
        files = await sdk.retentions.get_files(retention.id)
        pdf = await sdk.retentions.download(retention.id)
        xml = await sdk.retentions.download(retention.id, "xml")
    assert "127.0.0.1" in str(files)
    assert pdf[:4] == b"%PDF"
    assert retention.id.encode() in xml
