"""Every sandbox response, success or error, must match openapi/gigstack.yaml exactly.

The sandbox is what the SDK's integration tests run against: if it answered with a field or a
type the spec does not have, those tests would prove nothing about the real API.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from gigstack_async.sandbox import (
    FAULT_KINDS,
    PROFILES,
    Sandbox,
    SandboxConfig,
    SatCodeRule,
    ServerProfile,
    profile,
    random_profile,
)

from .conftest import SAT_PATHS

START = datetime(2025, 6, 15, 18, 0, tzinfo=UTC)
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


class Driver:
    """Sends requests by spec path template and validates every answer against the spec."""

    def __init__(self, sandbox: Sandbox, session: aiohttp.ClientSession, validator: Any) -> None:
        self.sandbox = sandbox
        self.session = session
        self.validator = validator
        self.operations = {
            (method.upper(), path): operation["operationId"]
            for path, item in validator.spec["paths"].items()
            if path in SAT_PATHS  # the core tags: test_core_contract.py
            for method, operation in item.items()
        }
        self.seen: dict[str, set[int]] = defaultdict(set)

    async def call(
        self, method: str, template: str, *, expect: int = 200, **kwargs: Any
    ) -> dict[str, Any]:
        path_params = kwargs.pop("path", {})
        url = template.format(**path_params).lstrip("/")
        async with self.session.request(method, url, **kwargs) as response:
            assert response.content_type == "application/json"
            body = await response.json()
            status = response.status
        schema = self.validator.response_schema(template, method, status)
        problems = self.validator.errors(body, schema)
        assert not problems, f"{method} {template} -> {status} leaves the spec: {problems}"
        assert status == expect, f"{method} {template}: expected {expect}, got {status}: {body}"
        self.seen[self.operations[(method, template)]].add(status)
        result: dict[str, Any] = body
        return result


@pytest.fixture
async def driver(validator) -> AsyncIterator[Driver]:
    config = SandboxConfig(
        seed=2024, speed=0, start=START, ready=False, invoices_per_month=(40, 40)
    )
    async with Sandbox(config) as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.api_key}"}
        async with aiohttp.ClientSession(sandbox.base_url + "/", headers=headers) as session:
            yield Driver(sandbox, session, validator)


def fiel_form(**extra: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("cert", b"\x30\x82cert", filename="fiel.cer")
    form.add_field("key", b"\x30\x82key", filename="fiel.key")
    form.add_field("password", "s3cret")
    for name, value in extra.items():
        form.add_field(name, value)
    return form


async def test_every_operation_success_path_matches_the_spec(driver: Driver) -> None:
    d, clock = driver, driver.sandbox.clock
    await d.call("GET", "/invoices/download/activate/status")
    await d.call("POST", "/invoices/download/activate")
    await d.call("POST", "/invoices/download/deactivate")
    await d.call("POST", "/invoices/download/activate")
    await d.call("POST", "/invoices/download/fiel", data=fiel_form())
    await d.call("GET", "/invoices/download/schedule")
    await d.call("GET", "/invoices/download/debug")
    body = {"phone": "+5215512345678", "sync_start_date": "2021-01-01", "max_monthly_invoices": 500}
    await d.call("POST", "/invoices/download/register", json=body)
    await d.call(
        "POST", "/invoices/download/fiel",
        data=fiel_form(sync_start_date="2021-01-01", phone="+5215512345678"),
    )  # fmt: skip
    schedule = {"enabled": True, "time": "06:30", "download_types": ["issued"], "days_back": 7}
    await d.call("PUT", "/invoices/download/schedule", json=schedule)
    await d.call("POST", "/invoices/download/enable-sync", json={})
    await d.call("GET", "/invoices/download/schedule")
    await d.call("GET", "/invoices/download/debug")

    created = {}
    for rfc_type in ("issued", "received"):
        for request_type in ("cfdi", "metadata"):
            request = {
                "start_date": "2025-04-01",
                "end_date": "2025-04-30",
                "rfc_type": rfc_type,
                "request_type": request_type,
            }
            reply = await d.call("POST", "/invoices/download/request", json=request)
            created[rfc_type, request_type] = reply["data"]["request_id"]
    duplicate = await d.call("POST", "/invoices/download/request", json=request)
    assert duplicate["data"]["duplicate"] is True

    async def observe_every_request() -> None:
        history = await d.call("GET", "/invoices/download/schedule/history")
        assert len(history["data"]["history"]) == len(created)
        for request_id in created.values():
            path = {"requestId": request_id}
            await d.call("GET", "/invoices/download/status/{requestId}", path=path)

    # pending, accepted, processing, completed: each state's shape is validated.
    for seconds in (0, 10, 40, 200):
        clock.advance(seconds)
        await observe_every_request()
    for key in (("issued", "metadata"), ("issued", "cfdi")):
        path = {"packageId": f"{created[key]}_01"}
        await d.call("GET", "/invoices/download/package/{packageId}", path=path)
    listed = await d.call("GET", "/invoices/sat", params={"limit": "100"})
    filters = {"direction": "received", "status": "Vigente", "invoice_type": "I"}
    dates = {"from": "2025-04-01", "to": "2025-04-30", "limit": "5"}
    await d.call("GET", "/invoices/sat", params={**filters, **dates})
    clock.advance(72 * 3600)
    await observe_every_request()  # expired

    items = listed["data"]
    received = [item for item in items if item["direction"] == "received"]
    stuck = next(item for item in received if not item["has_xml"])
    uuid = {"uuid": stuck["uuid"]}
    await d.call("GET", "/invoices/sat/{uuid}", path=uuid)
    await d.call("POST", "/invoices/sat/{uuid}/retry-xml", path=uuid)
    await d.call("POST", "/invoices/sat/{uuid}/retry-xml", path=uuid)
    await d.call("POST", "/invoices/sat/{uuid}/pdf", path=uuid)
    await d.call("GET", "/invoices/download/invoice/{uuid}", path={"uuid": items[0]["uuid"]})

    missing = {op for op in d.operations.values() if 200 not in d.seen[op]}
    assert not missing, f"operations never exercised with a 200: {sorted(missing)}"


async def test_error_responses_match_the_spec(driver: Driver) -> None:
    d = driver
    params = {"uuid": UNKNOWN_UUID, "requestId": "NOPE", "packageId": "NOPE_01"}

    # 401 for every operation: no key at all.
    for (method, template), _ in d.operations.items():
        await d.call(method, template, expect=401, path=params, headers={"Authorization": ""})
    # 403: a team the key is not connected to.
    await d.call("GET", "/invoices/sat", expect=403, params={"team": "team_foreign"})
    # 400: prerequisites and validation.
    request = {"start_date": "2025-04-01", "end_date": "2025-05-15", "rfc_type": "issued"}
    await d.call("POST", "/invoices/download/request", expect=400, json=request)
    await d.call("POST", "/invoices/download/register", expect=400, json={"phone": "55"})
    await d.call("POST", "/invoices/download/fiel", expect=400, data=fiel_form(phone="12"))
    await d.call("PUT", "/invoices/download/schedule", expect=400, json={"enabled": 1})
    await d.call("GET", "/invoices/sat", expect=400, params={"limit": "500"})
    # 403 from activation with a plan that lacks the feature is covered in tests/sandbox.
    await d.call("POST", "/invoices/download/activate")
    await d.call("POST", "/invoices/download/fiel",
                 data=fiel_form(sync_start_date="2021-01-01", phone="+5215512345678"))  # fmt: skip
    await d.call("POST", "/invoices/download/request", expect=400, json=request)
    # 404s.
    await d.call("GET", "/invoices/sat/{uuid}", expect=404, path=params)
    await d.call("POST", "/invoices/sat/{uuid}/pdf", expect=404, path=params)
    await d.call("POST", "/invoices/sat/{uuid}/retry-xml", expect=404, path=params)
    await d.call("GET", "/invoices/download/status/{requestId}", expect=404, path=params)
    await d.call("GET", "/invoices/download/package/{packageId}", expect=404, path=params)
    await d.call("GET", "/invoices/download/invoice/{uuid}", expect=404, path=params)
    # 422: retry-xml on an issued invoice.
    request["end_date"] = "2025-04-30"
    await d.call("POST", "/invoices/download/request", json=request)
    d.sandbox.clock.advance(3600)
    issued = (await d.call("GET", "/invoices/sat"))["data"][0]["uuid"]
    await d.call("POST", "/invoices/sat/{uuid}/retry-xml", expect=422, path={"uuid": issued})
    # Injected faults: every error kind uses the error envelope.
    answered = {"after_502": 502, "after_429": 429}
    kinds = sorted(kind for kind in FAULT_KINDS if kind.isdigit() or kind in answered)
    for kind in kinds:
        d.sandbox.state.force_fault("getDownloadHistory", kind)
        status = answered.get(kind) or int(kind)
        await d.call("GET", "/invoices/download/schedule/history", expect=status)


def test_validator_accepts_a_conforming_body(validator) -> None:
    body = {
        "success": True,
        "data": {"request_id": "ABC", "duplicate": False, "status": "pending"},
        "message": None,
    }
    schema = {"$ref": "#/components/schemas/DownloadRequestCreatedEnvelope"}

    assert validator.errors(body, schema) == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            {"success": True, "data": {"request_id": "A", "duplicate": False, "extra": 1}},
            "unexpected field 'extra'",
        ),
        ({"success": True, "data": {"request_id": 123}}, "expected string"),
        ({"success": True, "data": {"duplicate": True}}, "missing required 'request_id'"),
        ({"success": True, "data": {"request_id": "A", "status": "done"}}, "is not one of"),
        ({"success": True, "data": {"request_id": "A", "duplicate": None}}, "null is not allowed"),
        ({"success": "yes", "data": {"request_id": "A"}}, "expected boolean"),
    ],
)
def test_validator_rejects_departures_from_the_spec(validator, body, problem: str) -> None:
    schema = {"$ref": "#/components/schemas/DownloadRequestCreatedEnvelope"}

    problems = validator.errors(body, schema)

    assert any(problem in p for p in problems), problems


def test_validator_handles_integers_oneof_and_open_objects(validator) -> None:
    history_item = {"$ref": "#/components/schemas/DownloadRequest"}
    error = {"$ref": "#/components/schemas/ErrorEnvelope"}
    anything = {"$ref": "#/components/schemas/ObjectEnvelope"}

    assert validator.errors({"id": "x", "invoiceCount": True}, history_item)  # bool is not int
    assert validator.errors({"id": "x", "invoiceCount": 1.5}, history_item)
    assert not validator.errors({"id": "x", "createdAt": "2025-01-01T00:00:00Z"}, history_item)
    assert validator.errors({"id": "x", "createdAt": 1.5}, history_item)  # no oneOf branch
    assert not validator.errors({"error": "validation_failed"}, error)
    assert not validator.errors({"error": {"code": "forbidden", "details": ["a"]}}, error)
    assert validator.errors({"error": {"code": "no_such_code"}}, error)
    assert not validator.errors({"data": {"anything": [1, {"goes": None}]}}, anything)


PROFILE_CASES = [
    *sorted(PROFILES),
    "everything",
    *(f"random-{seed}" for seed in (1, 2, 3, 4)),
]


@pytest.mark.parametrize("name", PROFILE_CASES)
async def test_every_server_profile_stays_inside_the_spec(validator, name: str) -> None:
    """A profile may only leave out optional (GUESS) fields or change a value's documented form:
    whatever server the sandbox plays, it still matches openapi/gigstack.yaml."""
    if name == "everything":
        codes = (5002, 5003, 5004, 5005, 5007, 5008, 5011)
        rules = tuple(
            SatCodeRule(code, f"2025-0{month}")
            for month, code in zip(range(1, 8), codes, strict=True)
        )
        chosen = profile(*PROFILES).combine(ServerProfile(sat_codes=rules))
    elif name.startswith("random-"):
        chosen = random_profile(int(name.removeprefix("random-")))
    else:
        chosen = profile(name)
    config = SandboxConfig(seed=7, speed=0, start=START, history_limit=5, profile=chosen)
    async with Sandbox(config) as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.api_key}"}
        async with aiohttp.ClientSession(sandbox.base_url + "/", headers=headers) as session:
            d = Driver(sandbox, session, validator)
            ids = []
            for month in range(1, 8):
                for request_type in ("cfdi", "metadata"):
                    body = {
                        "start_date": f"2025-0{month}-01",
                        "end_date": f"2025-0{month}-28",
                        "rfc_type": "issued",
                        "request_type": request_type,
                    }
                    async with session.post("invoices/download/request", json=body) as response:
                        reply = await response.json()
                        status = response.status
                    schema = validator.response_schema("/invoices/download/request", "POST", status)
                    assert not validator.errors(reply, schema), reply
                    if status == 200:
                        ids.append(reply["data"]["request_id"])
            assert ids, "every create was refused: the scenario tests nothing"
            for seconds in (0, 200, 72 * 3600):  # pending, completed (or failed), expired
                sandbox.clock.advance(seconds)
                await d.call("GET", "/invoices/download/schedule/history")
                for request_id in ids:
                    path = {"requestId": request_id}
                    status_reply = await d.call(
                        "GET", "/invoices/download/status/{requestId}", path=path
                    )
                    for package_id in status_reply["data"].get("package_ids") or []:
                        for _ in range(3):  # the third one is SAT 5008
                            async with session.get(
                                f"invoices/download/package/{package_id}"
                            ) as response:
                                body = await response.json()
                                code = response.status
                            schema = validator.response_schema(
                                "/invoices/download/package/{packageId}", "GET", code
                            )
                            assert not validator.errors(body, schema), body
