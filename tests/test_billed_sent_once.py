"""Calls that may charge money reach the server at most once, whatever the connection does.

Over real loopback HTTP against the sandbox, whose "after" faults let the server act and then
lose the answer — the case where a blind resend would charge twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gigstack_async import GigstackClient, InternalServerError, OutcomeUnknownError, PollSchedule
from gigstack_async.sandbox import Sandbox, SandboxConfig


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxConfig(speed=3000, seed=11)) as running:
        yield running


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[GigstackClient]:
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as running:
        yield running


async def _a_downloaded_uuid(client: GigstackClient) -> str:
    created = await client.downloads.create_request(
        start_date="2025-02-01", end_date="2025-02-28", rfc_type="received"
    )
    await client.downloads.wait(created.request_id, poll=PollSchedule(initial=0.02))
    page = await client.sat_invoices.list(limit=1)
    return page.data[0].uuid


@pytest.mark.parametrize("fault", ["after_drop", "after_truncate"])
async def test_a_billed_get_is_not_resent_when_the_answer_is_lost(
    sandbox: Sandbox, client: GigstackClient, fault: str
) -> None:
    uuid = await _a_downloaded_uuid(client)
    sandbox.state.force_fault("getSatInvoiceFromSat", fault)

    with pytest.raises(OutcomeUnknownError, match="not retried"):
        await client.downloads.invoice_from_sat(uuid)

    assert len(sandbox.state.calls_to("getSatInvoiceFromSat")) == 1
    assert [
        c.subject for c in sandbox.state.charges if c.operation_id == "getSatInvoiceFromSat"
    ] == [uuid]


async def test_a_billed_post_is_not_resent_when_the_answer_is_lost(
    sandbox: Sandbox, client: GigstackClient
) -> None:
    uuid = await _a_downloaded_uuid(client)
    sandbox.state.force_fault("retrySatInvoiceXml", "after_drop")

    with pytest.raises(OutcomeUnknownError):
        await client.sat_invoices.retry_xml(uuid)

    assert len(sandbox.state.calls_to("retrySatInvoiceXml")) == 1


async def test_a_billed_call_refused_before_the_handler_is_not_retried_either(
    sandbox: Sandbox, client: GigstackClient
) -> None:
    sandbox.state.force_fault("createDownloadRequest", "503")
    with pytest.raises(OutcomeUnknownError) as caught:
        await client.downloads.create_request(
            start_date="2025-02-01", end_date="2025-02-28", rfc_type="received"
        )
    # Review 11 #3 (deliberate change): a 503 from a proxy before the handler cannot be told
    # from one after the handler acted, so every 5xx to a billed call is an unknown outcome
    # (check history() before resending), not an InternalServerError read as "refused".
    assert not isinstance(caught.value, InternalServerError)
    assert caught.value.status == 503
    assert len(sandbox.state.calls_to("createDownloadRequest")) == 1
    assert sandbox.state.download_requests == []


async def test_a_free_get_is_retried_after_a_dropped_connection(
    sandbox: Sandbox, client: GigstackClient
) -> None:
    uuid = await _a_downloaded_uuid(client)
    sandbox.state.force_fault("getSatInvoice", "after_drop")

    invoice = await client.sat_invoices.get(uuid)

    assert invoice.uuid == uuid
    assert len(sandbox.state.calls_to("getSatInvoice")) == 2
