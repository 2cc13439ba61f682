"""Every core operation (clients … retentions) answers as the bundled spec says, on success and
on its errors: the sandbox cannot drift from openapi/<tag>.yaml unnoticed.

Operations are taken from the bundle, so a tag added to openapi/ is covered (and the "every
operation exercised" assertion fails) until this walk calls it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from gigstack_async.sandbox import ROUTES, Sandbox, SandboxConfig
from gigstack_async.sandbox.core import ALTERNATIVE_VARIANTS

from .conftest import SAT_PATHS

START = datetime(2025, 6, 15, 18, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n% test document\n"


class Driver:
    """Calls operations by spec template and validates every answer against the bundle."""

    def __init__(self, session: aiohttp.ClientSession, validator: Any) -> None:
        self.session = session
        self.validator = validator
        self.operations = {
            (method.upper(), path): operation["operationId"]
            for path, item in validator.spec["paths"].items()
            if path not in SAT_PATHS
            for method, operation in item.items()
            if method in ("get", "post", "put", "delete", "patch")
        }
        self.seen: dict[str, set[int]] = defaultdict(set)

    async def call(
        self, method: str, template: str, *, expect: int | tuple[int, ...] = (200, 201), **kw: Any
    ) -> dict[str, Any]:
        path = template.format(**kw.pop("path", {})).lstrip("/")
        async with self.session.request(method, path, **kw) as response:
            assert response.content_type == "application/json", await response.text()
            body: dict[str, Any] = await response.json()
            status = response.status
        expected = (expect,) if isinstance(expect, int) else expect
        assert status in expected, f"{method} {template}: expected {expect}, got {status}: {body}"
        schema = self.validator.response_schema(template, method, status)
        problems = self.validator.errors(body, schema)
        assert not problems, f"{method} {template} -> {status} leaves the spec: {problems[:5]}"
        self.seen[self.operations[(method, template)]].add(status)
        return body


@pytest.fixture(params=["docs-side", "other-side"])
async def driver(bundle_validator: Any, request: pytest.FixtureRequest) -> AsyncIterator[Driver]:
    """One sandbox per side of every disagreement the core API models (`CoreVariants`)."""
    async with Sandbox(SandboxConfig(seed=11, speed=0, start=START)) as sandbox:
        if request.param == "other-side":
            sandbox.state.core.variants = ALTERNATIVE_VARIANTS
        headers = {"Authorization": f"Bearer {sandbox.api_key}"}
        async with aiohttp.ClientSession(sandbox.base_url + "/", headers=headers) as session:
            yield Driver(session, bundle_validator)


def _document(kind: str = "contract") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", PDF, filename="contract.pdf", content_type="application/pdf")
    form.add_field("documentType", kind)
    form.add_field("name", "Contract")
    return form


def _csf() -> aiohttp.FormData:
    form = aiohttp.FormData()
    content = PDF + b"RFC: EKU9003173C9\nNombre: ESCUELA KEMPER URGATE\nRegimen: 601\nCP: 42501\n"
    form.add_field("file", content, filename="csf.pdf", content_type="application/pdf")
    return form


CLIENT = {
    "name": "Juan Pérez García",
    "legal_name": "JUAN PEREZ GARCIA",
    "email": "juan@example.com",
    "tax_id": "PEGJ800101ABC",
    "tax_system": "612",
    "use": "G03",
    "address": {"zip": "03100", "country": "Mexico"},
    "metadata": {"crm": "42"},
}
ITEM = {
    "description": "Consultoría",
    "quantity": 1,
    "unit_price": 1000,
    "product_key": "80141503",
    "unit_key": "E48",
    "taxes": [{"type": "IVA", "rate": 0.16, "factor": "Tasa", "withholding": False}],
}


async def test_every_core_operation_matches_the_spec(driver: Driver) -> None:
    d = driver
    one = {"id": "x"}
    # Clients.
    client = (await d.call("POST", "/clients", json=CLIENT))["data"]
    one = {"id": client["id"]}
    await d.call("POST", "/clients", json={**CLIENT, "search": {"on_key": "tax_id",
                 "on_value": CLIENT["tax_id"], "update": False}}, expect=200)  # fmt: skip
    await d.call("GET", "/clients", params={"limit": "1"})
    await d.call("GET", "/clients/search", params={"q": "juan"})
    await d.call("GET", "/clients/{id}", path=one)
    await d.call("PUT", "/clients/{id}", path=one, json={"phone": "+52 55 1234 5678"})
    await d.call("POST", "/clients/validate/{id}", path=one)
    await d.call("POST", "/clients/customerportal", json={"id": client["id"]})
    await d.call("POST", "/clients/csf", data=_csf())
    await d.call("POST", "/clients/{id}/support-documents", path=one, data=_document())
    await d.call("GET", "/clients/{id}/support-documents", path=one)
    # Services.
    service = (await d.call("POST", "/services", json=ITEM))["data"]
    svc = {"id": service["id"]}
    await d.call("GET", "/services")
    await d.call("GET", "/services/{id}", path=svc)
    await d.call("PUT", "/services/{id}", path=svc, json={"unit_price": 1200.5})
    # Invoices.
    body = {"client": {"id": client["id"]}, "items": [ITEM], "payment_form": "03"}
    income = (await d.call("POST", "/invoices/income", json=body))["data"]
    inv = {"id": income["id"]}
    related = [{"relationship": "01", "documents": [income["stamp"]["uuid"]]}]
    egress = (
        await d.call("POST", "/invoices/egress", json={**body, "related_documents": related})
    )["data"]
    await d.call("GET", "/invoices/income")
    await d.call("GET", "/invoices/income/{id}", path=inv)
    await d.call("GET", "/invoices/egress")
    await d.call("GET", "/invoices/egress/{id}", path={"id": egress["id"]})
    await d.call("GET", "/invoices/search", params={"q": "juan"})
    await d.call("GET", "/invoices/errors", params={"limit": "5", "page": "2"})
    await d.call("GET", "/invoices/{id}/files", path=inv)
    await d.call("POST", "/invoices/{id}/send", path=inv, json={"emails": ["cc@example.com"]})
    await d.call("POST", "/invoices/{id}/support-documents", path=inv, data=_document())
    await d.call("GET", "/invoices/{id}/support-documents", path=inv)
    draft_body = {"invoice_type": "I", "client": {"id": client["id"]}, "items": [ITEM]}
    draft = (await d.call("POST", "/invoices/draft", json=draft_body))["data"]
    dr = {"id": draft["id"]}
    await d.call("GET", "/invoices/draft")
    await d.call("GET", "/invoices/draft/{id}", path=dr)
    await d.call("PUT", "/invoices/draft/{id}", path=dr, json={"use": "G01"})
    await d.call("POST", "/invoices/draft/{id}/preview", path=dr)
    await d.call("POST", "/invoices/draft/{id}/stamp", path=dr)
    spare = (await d.call("POST", "/invoices/draft", json=draft_body))["data"]
    await d.call("DELETE", "/invoices/draft/{id}", path={"id": spare["id"]})
    await d.call("DELETE", "/invoices/{id}", path=inv, json={"motive": "02"})
    # Payments.
    register = {**body, "automation_type": "ppd_invoice_and_complement", "idempotency_key": "k1"}
    paid = (await d.call("POST", "/payments/register", json=register))["data"]
    pay = {"id": paid["id"]}
    await d.call("GET", "/invoices/payment")
    complement = next(i for i in paid["invoices"] if i != paid["invoices"][0])
    await d.call("GET", "/invoices/payment/{id}", path={"id": complement})
    requested = (await d.call("POST", "/payments/request", json=body))["data"]
    await d.call("POST", "/payments/{id}/paid", path={"id": requested["id"]},
                 json={"payment_form": "04"})  # fmt: skip
    second = (await d.call("POST", "/payments/request", json=body))["data"]
    await d.call("DELETE", "/payments/{id}", path={"id": second["id"]})
    await d.call("POST", "/payments/{id}/refund", path=pay, json={"reason": "dup", "amount": 10})
    await d.call("PUT", "/payments/{id}", path=pay, json={"client": {"phone": "5555555555"}})
    await d.call("GET", "/payments")
    await d.call("GET", "/payments/{id}", path=pay)
    await d.call("GET", "/payments/search", params={"q": "juan"})
    await d.call("POST", "/payments/{id}/support-documents", path=pay, data=_document())
    await d.call("GET", "/payments/{id}/support-documents", path=pay)
    # Receipts.
    receipt = (await d.call("POST", "/receipts", json=body))["data"]
    rc = {"id": receipt["id"]}
    await d.call("GET", "/receipts")
    await d.call("GET", "/receipts/{id}", path=rc)
    await d.call("GET", "/receipts/search", params={"q": "juan"})
    await d.call("POST", "/receipts/{id}/stamp", path=rc)
    other = (await d.call("POST", "/receipts", json=body))["data"]
    await d.call("DELETE", "/receipts/{id}", path={"id": other["id"]})
    await d.call("POST", "/receipts", json=body)
    await d.call("POST", "/clients/{id}/stamp-pending-receipts", path=one)
    await d.call("DELETE", "/services/{id}", path=svc)
    throwaway = (await d.call("POST", "/clients", json={"name": "Temp"}))["data"]
    await d.call("DELETE", "/clients/{id}", path={"id": throwaway["id"]})
    await _teams_users_retentions(d, client["id"])
    await _webhooks(d)

    served = {(route.method, route.path) for route in ROUTES}
    unserved = {key for key in d.operations if key not in served}
    assert not unserved, unserved
    missing = {
        op for key, op in d.operations.items() if key in served and not d.seen[op] & {200, 201}
    }
    assert not missing, f"core operations never exercised successfully: {sorted(missing)}"


async def _webhooks(d: Driver) -> None:
    # Webhook CRUD (issue 12: gigstack_async/sandbox/routes_webhooks.py).
    body = {"url": "https://example.com/hook", "events": ["payment.created"]}
    hook = (await d.call("POST", "/webhooks", json=body))["data"]
    wh = {"id": hook["id"]}
    await d.call("GET", "/webhooks")
    await d.call("GET", "/webhooks/{id}", path=wh)
    await d.call("PUT", "/webhooks/{id}", path=wh, json={"status": "inactive"})
    await d.call("DELETE", "/webhooks/{id}", path=wh)


async def _teams_users_retentions(d: Driver, client_id: str) -> None:
    if not any(path.startswith("/teams") for _, path in d.operations):
        return  # the teams/users/retentions spec has not landed yet
    team = {"id": "team_sandbox"}
    await d.call("GET", "/teams")
    await d.call("GET", "/teams/{id}", path=team)
    await d.call("GET", "/teams/integrations")
    await d.call("GET", "/teams/{id}/series", path=team)
    await d.call("POST", "/teams/{id}/series", path=team, json={"series": "B", "test": 10})
    await d.call("PUT", "/teams/{id}/series/{seriesId}", path={**team, "seriesId": "B"},
                 json={"test": 20})  # fmt: skip
    await d.call("PUT", "/teams/{id}", path=team, json={"support_email": "s@example.com"})
    await d.call("PUT", "/teams/{id}/settings", path=team, json={"use": "G03"})
    await d.call("GET", "/teams/{id}/onboarding-url", path=team)
    created = (await d.call("POST", "/teams", json={"brand": {"alias": "Nueva"}}))["data"]
    user = (await d.call("POST", "/users", json={"email": "new@example.com"}))["data"]
    await d.call("POST", "/teams/{id}/add-member", path=team, json={"id": user["id"]})
    await d.call("POST", "/teams/{id}/remove-member", path=team, json={"id": user["id"]})
    form = aiohttp.FormData()
    form.add_field("cert", b"\x30\x82cer", filename="csd.cer")
    form.add_field("key", b"\x30\x82key", filename="csd.key")
    form.add_field("keyPass", "s3cret")
    await d.call("POST", "/teams/{id}/sat-connection", path=team, data=form)
    sign = {"key": "MIIEkey=", "cert": "MIIEcert", "password": "x"}
    await d.call("POST", "/teams/{id}/manifest/sign", path=team, json=sign)
    await d.call("DELETE", "/teams/{id}", path={"id": created["id"]})
    await d.call("GET", "/users")
    await d.call("GET", "/users/{id}", path={"id": user["id"]})
    await d.call("PUT", "/users/{id}", path={"id": user["id"]}, json={"first_name": "Ana"})
    for method, path in d.operations:
        if path.startswith("/users/reset-password"):
            kw: dict[str, Any] = {"json": {"email": "new@example.com"}}
            if "{id}" in path:
                kw = {"path": {"id": user["id"]}, "json": {}}
            await d.call(method, path, **kw)
    await d.call("POST", "/users/login-link", json={"user_id": user["id"]})
    retention = {
        "retention_key": "14",
        "client": {"id": client_id},
        "period_start": 1,
        "period_end": 12,
        "period_year": 2025,
        "total_operation": 10000,
        "taxes": [{"tax": "ISR", "base": 10000, "amount": 1000}],
    }
    made = (await d.call("POST", "/retentions", json=retention))["data"]
    await d.call("GET", "/retentions")
    await d.call("GET", "/retentions/{id}", path={"id": made["id"]})
    for method, path in d.operations:
        if path == "/retentions/{id}/files":
            await d.call(method, path, path={"id": made["id"]})
    for method, path in d.operations:
        if path.startswith("/retentions/{id}") and method in ("DELETE", "POST"):
            await d.call(method, path, path={"id": made["id"]}, json={"motive": "02"})


async def test_core_errors_use_the_documented_envelope(driver: Driver) -> None:
    d = driver
    nope = {"id": "nope"}
    await d.call("GET", "/clients/{id}", path=nope, expect=404)
    await d.call("POST", "/clients", json={"tax_id": "bad"}, expect=400)
    await d.call("GET", "/clients", params={"limit": "500"}, expect=400)
    await d.call("GET", "/payments", params={"team": "team_foreign"}, expect=403)
    await d.call("GET", "/payments", headers={"Authorization": ""}, expect=401)
    client = (await d.call("POST", "/clients", json=CLIENT))["data"]
    body = {"client": {"id": client["id"]}, "items": [ITEM]}
    income = (await d.call("POST", "/invoices/income", json=body))["data"]
    inv = {"id": income["id"]}
    await d.call("DELETE", "/invoices/{id}", path=inv, json={"motive": "01"}, expect=400)
    await d.call("DELETE", "/invoices/{id}", path=inv, json={"motive": "03"})
    await d.call("DELETE", "/invoices/{id}", path=inv, json={"motive": "03"}, expect=409)
    requested = (await d.call("POST", "/payments/request", json=body))["data"]
    refund = {"reason": "dup", "amount": 1}
    await d.call("POST", "/payments/{id}/refund", path={"id": requested["id"]}, json=refund,
                 expect=400)  # fmt: skip
