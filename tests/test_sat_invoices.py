"""`client.sat_invoices`: the exact requests sent (through the real aiohttp transport, with
conftest's `fake_http`), the values returned, and arguments refused before any request."""

from __future__ import annotations

import base64
import re
from datetime import date, datetime
from typing import Any

import pytest

from gigstack_async import (
    APIResponseValidationError,
    Direction,
    GigstackClient,
    InvalidParameterError,
    InvoiceType,
    SatInvoiceStatus,
)
from gigstack_async._generated.models import (
    Party,
    ResourceStatus,
    RetryXmlResponse,
    SatInvoice,
    SatInvoiceList,
)

BASE = "https://api.gigstack.io/v2"
UUID = "6741A863-04BE-49FE-BB76-E1657AB6B7EA"

# The seed page's example (000), with realistic values.
SEED_INVOICE = {
    "id": "satinv_01HZX",
    "uuid": UUID,
    "direction": "issued",
    "issuer": {"rfc": "EKU9003173C9", "name": "ESCUELA KEMPER URGATE"},
    "receiver": {"rfc": "XAXX010101000", "name": "PUBLICO EN GENERAL"},
    "invoice_type": "I",
    "series": "A",
    "folio": "1024",
    "subtotal": 1000,
    "total": 1160.0,
    "currency": "MXN",
    "exchange_rate": 1,
    "issue_date": "2024-01-15T10:22:31",
    "stamp_date": "2024-01-15T10:23:02",
    "cancellation_date": None,
    "status": "Vigente",
    "pac_rfc": "SAT970701NN3",
    "version": "4.0",
    "certificate_number": "30001000000500003416",
    "download_request_id": "req_8f2",
    "has_xml": True,
    "created_at": 1705335811000,
    "updated_at": 1705335812000,
}


@pytest.fixture
def mocked(fake_http: Any) -> Any:
    return fake_http


@pytest.fixture
async def client(api_key: str) -> Any:
    async with GigstackClient(api_key) as c:
        yield c


def sent(mocked: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """Every request the fake HTTP layer saw: (method, URL with query, kwargs), in order."""
    return list(mocked.sent())


def only_request(mocked: Any) -> tuple[str, str, dict[str, Any]]:
    (request,) = sent(mocked)
    return request


def url(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(BASE + path) + r"(\?.*)?$")


# ---------------------------------------------------------------------------- list


async def test_list_sends_filters_on_the_wire(mocked, api_key: str) -> None:
    mocked.get(url("/invoices/sat"), payload={"success": True, "data": [], "has_more": False})
    async with GigstackClient(api_key, team="team_42") as client:
        pager = client.sat_invoices.list(
            direction=Direction.RECEIVED,
            status="Cancelado",
            invoice_type=InvoiceType.EGRESO,
            issuer_rfc=" eku9003173c9 ",
            receiver_rfc="XAXX010101000",
            from_=date(2024, 1, 1),
            to="2024-01-31",
            limit=50,
        )
        page = await pager
    assert page.data == []
    method, sent_url, kwargs = only_request(mocked)
    assert method == "GET"
    assert sorted(kwargs["params"]) == sorted(
        [
            ("direction", "received"),
            ("status", "Cancelado"),
            ("invoice_type", "E"),
            ("issuer_rfc", "EKU9003173C9"),
            ("receiver_rfc", "XAXX010101000"),
            ("from", "2024-01-01"),
            ("to", "2024-01-31"),
            ("limit", "50"),
            ("team", "team_42"),
        ]
    )
    assert sent_url.startswith(BASE + "/invoices/sat?")
    assert kwargs["headers"]["Authorization"] == f"Bearer {api_key}"
    assert kwargs["json"] is None


async def test_list_without_filters_sends_no_query(mocked, client) -> None:
    mocked.get(url("/invoices/sat"), payload={"success": True, "data": [], "has_more": False})
    await client.sat_invoices.list()
    _, sent_url, kwargs = only_request(mocked)
    assert sent_url == BASE + "/invoices/sat"
    assert kwargs["params"] == []


async def test_list_decodes_the_seed_example(mocked, client) -> None:
    body = {"success": True, "data": [SEED_INVOICE], "has_more": True, "next": "c_1", "count": 1}
    mocked.get(url("/invoices/sat"), payload=body)
    mocked.get(url("/invoices/sat"), payload={"success": True, "data": [], "has_more": False})
    items = [item async for item in client.sat_invoices.list(limit=1)]
    (item,) = items
    assert isinstance(item, SatInvoice)
    assert item.uuid == UUID
    assert item.direction is Direction.ISSUED
    assert item.issuer == Party(rfc="EKU9003173C9", name="ESCUELA KEMPER URGATE")
    assert item.invoice_type is InvoiceType.INGRESO
    assert item.status is SatInvoiceStatus.VIGENTE
    assert (item.subtotal, item.total, item.currency) == (1000.0, 1160.0, "MXN")
    assert item.has_xml is True
    assert item.created_at == 1705335811000
    second = sent(mocked)[1]
    assert ("starting_after", "c_1") in second[2]["params"]
    assert ("limit", "1") in second[2]["params"]


async def test_await_list_returns_the_page_model(mocked, client) -> None:
    body = {"success": True, "data": [SEED_INVOICE], "has_more": False, "next": None, "count": 1}
    mocked.get(url("/invoices/sat"), payload=body)
    page = await client.sat_invoices.list()
    assert isinstance(page, SatInvoiceList)
    assert (page.success, page.has_more, page.next, page.count) == (True, False, None, 1)


# ---------------------------------------------------------------------------- get / retry / pdf


async def test_get(mocked, client, api_key: str) -> None:
    data = {**SEED_INVOICE, "direction": "received", "resource_status": "ready"}
    mocked.get(url(f"/invoices/sat/{UUID.lower()}"), payload={"success": True, "data": data})
    invoice = await client.sat_invoices.get(UUID.lower())  # sent as given, like gigstack's client
    assert isinstance(invoice, SatInvoice)
    assert invoice.direction is Direction.RECEIVED
    assert invoice.resource_status is ResourceStatus.READY
    method, sent_url, kwargs = only_request(mocked)
    assert (method, sent_url) == ("GET", f"{BASE}/invoices/sat/{UUID.lower()}")
    assert kwargs["headers"]["Authorization"] == f"Bearer {api_key}"


async def test_get_with_team(mocked, api_key: str) -> None:
    mocked.get(url(f"/invoices/sat/{UUID}"), payload={"success": True, "data": SEED_INVOICE})
    async with GigstackClient(api_key, team="team_42") as client:
        await client.sat_invoices.get(UUID)
    _, sent_url, _ = only_request(mocked)
    assert sent_url == f"{BASE}/invoices/sat/{UUID}?team=team_42"


async def test_retry_xml(mocked, client, api_key: str) -> None:
    body = {"success": True, "message": "Descarga reintentada", "data": {"credit_charged": True}}
    mocked.post(url(f"/invoices/sat/{UUID}/retry-xml"), payload=body)
    result = await client.sat_invoices.retry_xml(UUID)
    assert isinstance(result, RetryXmlResponse)
    assert result.message == "Descarga reintentada"
    assert result.data is not None
    assert result.data.credit_charged is True
    method, sent_url, kwargs = only_request(mocked)
    assert (method, sent_url) == ("POST", f"{BASE}/invoices/sat/{UUID}/retry-xml")
    assert kwargs["json"] is None  # no body
    assert kwargs["data"] is None
    assert kwargs["headers"]["Authorization"] == f"Bearer {api_key}"


async def test_pdf_returns_decoded_bytes(mocked, client, api_key: str) -> None:
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
    body = {"success": True, "pdf": base64.b64encode(pdf).decode()}
    mocked.post(url(f"/invoices/sat/{UUID}/pdf"), payload=body)
    assert await client.sat_invoices.pdf(UUID) == pdf
    method, sent_url, kwargs = only_request(mocked)
    assert (method, sent_url) == ("POST", f"{BASE}/invoices/sat/{UUID}/pdf")
    assert kwargs["json"] is None
    assert kwargs["data"] is None
    assert kwargs["headers"]["Authorization"] == f"Bearer {api_key}"


async def test_pdf_with_bad_base64_is_a_validation_error(mocked, client) -> None:
    mocked.post(url(f"/invoices/sat/{UUID}/pdf"), payload={"success": True, "pdf": "no!base64"})
    with pytest.raises(APIResponseValidationError, match="base64"):
        await client.sat_invoices.pdf(UUID)


async def test_pdf_missing_is_a_validation_error(mocked, client) -> None:
    mocked.post(url(f"/invoices/sat/{UUID}/pdf"), payload={"success": True})
    with pytest.raises(APIResponseValidationError, match="pdf"):
        await client.sat_invoices.pdf(UUID)


# ---------------------------------------------------------------------------- refused arguments


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"issuer_rfc": "EKU9003173"}, InvalidParameterError, "issuer_rfc"),
        ({"receiver_rfc": "XAXX011301000"}, InvalidParameterError, "receiver_rfc"),  # month 13
        ({"receiver_rfc": 123}, TypeError, "receiver_rfc"),
        ({"direction": "incoming"}, InvalidParameterError, "direction"),
        ({"status": "vigente"}, InvalidParameterError, "status"),
        ({"invoice_type": "Z"}, InvalidParameterError, "invoice_type"),
        ({"from_": "2024-02-01", "to": "2024-01-31"}, InvalidParameterError, "to"),
        ({"from_": "2024-13-01"}, InvalidParameterError, "from_"),
        ({"from_": "01/02/2024"}, InvalidParameterError, "from_"),
        ({"to": datetime(2024, 1, 1, 12, 0)}, TypeError, "to"),
        ({"limit": 0}, InvalidParameterError, "limit"),
        ({"limit": 101}, InvalidParameterError, "limit"),
        ({"limit": True}, TypeError, "limit"),
        ({"limit": "10"}, TypeError, "limit"),
    ],
)
async def test_list_refuses_bad_arguments_before_sending(
    mock_client, kwargs: dict[str, Any], error: type[Exception], field: str
) -> None:
    client, transport = mock_client([])
    with pytest.raises(error) as info:
        client.sat_invoices.list(**kwargs)  # refused at call time, not when iterated
    assert field in str(info.value)
    if isinstance(info.value, InvalidParameterError):
        assert info.value.field == field
        assert isinstance(info.value, ValueError)
    assert transport.requests == []


@pytest.mark.parametrize("method", ["get", "retry_xml", "pdf"])
@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("6741A863-04BE-49FE-BB76", InvalidParameterError),
        ("6741A863-04BE-49FE-BB76-E1657AB6B7EZ", InvalidParameterError),
        ("../../invoices", InvalidParameterError),
        ("", InvalidParameterError),
        (None, TypeError),
    ],
)
async def test_malformed_uuid_is_refused(
    mock_client, method: str, value: Any, error: type[Exception]
) -> None:
    client, transport = mock_client([])
    with pytest.raises(error, match="uuid"):
        await getattr(client.sat_invoices, method)(value)
    assert transport.requests == []


async def test_nothing_reaches_aiohttp_for_refused_arguments(mocked, client) -> None:
    with pytest.raises(InvalidParameterError):
        await client.sat_invoices.get("not-a-uuid")
    with pytest.raises(InvalidParameterError):
        client.sat_invoices.list(limit=0)
    assert sent(mocked) == []
