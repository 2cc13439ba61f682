"""Group 8 — fuzzing from the spec: schemathesis drives the sandbox from openapi/ (bundled).

For every operation, schemathesis generates requests from the spec — valid data, then invalid
data — with a bounded, derandomized number of examples (so a rerun sends exactly the same
requests). A third pass fixes the path parameters to resources that exist (a completed request,
its package, a synced invoice) so the success responses are exercised too. Every answer must be
below 500, carry the documented content type and match the spec exactly: schemathesis' own
response-schema check plus the repository's stricter validator (closed objects; an undocumented
error status must still be the error envelope) from tests/contract/conftest.py.

schemathesis sends with `requests` (blocking), so the sandbox runs in a thread of its own.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from codegen.spec import load_bundle
from gigstack_async import _json
from gigstack_async.sandbox import LifecycleConfig, Sandbox, SandboxConfig

GROUP = 8
REPO = Path(__file__).resolve().parents[2]
BUNDLE = load_bundle(REPO / "openapi")  # every openapi/*.yaml, merged
START = datetime(2025, 6, 15, 18, 0, tzinfo=UTC)
EXAMPLES = {"positive": 25, "negative": 15, "existing resources": 6}
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]

SCHEMA = schemathesis.openapi.from_dict(copy.deepcopy(BUNDLE))
OPERATIONS = {op.ok().label: op.ok() for op in SCHEMA.get_all_operations()}


def _load_contract_validator() -> Any:
    path = REPO / "tests" / "contract" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_survival_contract_validator", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SchemaValidator(BUNDLE)


VALIDATOR = _load_contract_validator()


class ThreadedSandbox:
    """A sandbox served from its own event loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sandbox: Sandbox | None = None

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def start(self) -> Sandbox:
        config = SandboxConfig(seed=8, speed=0, start=START, lifecycle=LifecycleConfig(jitter=0))
        self.sandbox = self.run(Sandbox(config).start())
        return self.sandbox

    def stop(self) -> None:
        if self.sandbox is not None:
            self.run(self.sandbox.stop())
            self.sandbox = None

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedSandbox]:
    threaded = ThreadedSandbox()
    try:
        yield threaded
    finally:
        threaded.close()


@pytest.fixture
def sandbox(server: ThreadedSandbox) -> Iterator[Sandbox]:
    """A fresh sandbox per operation and mode, so no run depends on another's leftovers."""
    sandbox = server.start()
    try:
        yield sandbox
    finally:
        server.stop()


def _existing(server: ThreadedSandbox, sandbox: Sandbox) -> dict[str, str]:
    """A completed request, its first package and one of its (synced) invoices, plus one of
    each core resource (keyed `core:<what>`, picked per operation by `_path_ids`)."""

    async def make() -> dict[str, str]:
        headers = {"Authorization": f"Bearer {sandbox.api_key}"}
        async with aiohttp.ClientSession(sandbox.base_url + "/", headers=headers) as http:
            body = {"start_date": "2025-01-01", "end_date": "2025-01-31", "rfc_type": "received"}
            async with http.post("invoices/download/request", json=body) as response:
                request_id = (await response.json())["data"]["request_id"]
            sandbox.clock.advance(3600)
            async with http.get(f"invoices/download/status/{request_id}") as response:
                package_id = (await response.json())["data"]["package_ids"][0]
            async with http.get("invoices/sat", params={"limit": "1"}) as response:
                uuid = (await response.json())["data"][0]["uuid"]
            core = await _core_resources(http)
        return {"requestId": request_id, "packageId": package_id, "uuid": uuid, **core}

    ids: dict[str, str] = server.run(make())
    return ids


async def _core_resources(http: aiohttp.ClientSession) -> dict[str, str]:
    """One of each core resource, in a state where its operations can succeed."""

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with http.post(path, json=body) as response:
            assert response.status < 300, await response.text()
            data: dict[str, Any] = (await response.json())["data"]
            return data

    client = await post(
        "clients",
        {
            "name": "Fuzz",
            "legal_name": "FUZZ SA",
            "tax_id": "FUZ800101AB1",
            "tax_system": "601",
            "email": "fuzz@example.com",
            "address": {"zip": "01000"},
        },
    )
    item = {"description": "x", "unit_price": 1000, "taxes": [{"type": "IVA", "rate": 0.16}]}
    doc = {"client": {"id": client["id"]}, "items": [item], "payment_form": "03"}
    income = await post("invoices/income", doc)
    egress = await post("invoices/egress", doc)
    draft = await post("invoices/draft", {**doc, "invoice_type": "I"})
    succeeded = await post(
        "payments/register", {**doc, "automation_type": "ppd_invoice_and_complement"}
    )
    requested = await post("payments/request", {"client": {"id": client["id"]}, "items": [item]})
    receipt = await post("receipts", doc)
    retention = await post(
        "retentions",
        {
            "retention_key": "14",
            "client": {"id": client["id"]},
            "period_start": 1,
            "period_end": 12,
            "period_year": 2025,
            "total_operation": 1000,
            "taxes": [{"tax": "ISR", "base": 1000, "amount": 100}],
        },
    )
    service = await post(
        "services",
        {"description": "s", "unit_price": 1, "product_key": "80141503", "unit_key": "E48"},
    )
    team = await post("teams", {"brand": {"alias": "Fuzz"}})
    user = await post("users", {"email": "member@example.com", "auto_join": True})
    webhook = await post(
        "webhooks", {"url": "https://example.com/hook", "events": ["payment.created"]}
    )
    return {
        "core:client": client["id"],
        "core:income": income["id"],
        "core:egress": egress["id"],
        "core:draft": draft["id"],
        "core:complement": succeeded["invoices"][1],
        "core:succeeded": succeeded["id"],
        "core:requested": requested["id"],
        "core:receipt": receipt["id"],
        "core:retention": retention["id"],
        "core:service": service["id"],
        "core:empty_team": team["id"],
        "core:user": user["id"],
        "core:webhook": webhook["id"],
    }


_CORE_IDS = (
    ("/clients", "core:client"),
    ("/invoices/income", "core:income"),
    ("/invoices/egress", "core:egress"),
    ("/invoices/draft", "core:draft"),
    ("/invoices/payment", "core:complement"),
    ("/invoices", "core:income"),
    ("/receipts", "core:receipt"),
    ("/retentions", "core:retention"),
    ("/services", "core:service"),
    ("/users", "core:user"),
    ("/webhooks", "core:webhook"),
)


def _path_ids(label: str, ids: dict[str, str]) -> dict[str, str]:
    """The path parameters of one operation: SAT ids by name, `{id}` by resource."""
    method, path = label.split(" ", 1)
    chosen = {k: v for k, v in ids.items() if not k.startswith("core:")}
    if path.startswith("/payments"):
        pending = path.endswith("/paid") or (method == "DELETE" and path == "/payments/{id}")
        chosen["id"] = ids["core:requested" if pending else "core:succeeded"]
    elif path.startswith("/teams"):
        deleting = method == "DELETE" and path == "/teams/{id}"
        chosen["id"] = ids["core:empty_team"] if deleting else "team_sandbox"
        chosen["seriesId"] = "A"
    else:
        for prefix, key in _CORE_IDS:
            if path.startswith(prefix):
                chosen["id"] = ids[key]
                break
    return chosen


def _run(operation: Any, mode: str, sandbox: Sandbox, path_parameters: dict[str, str] | None,
         statuses: Counter[int]) -> int:  # fmt: skip
    kwargs: dict[str, Any] = {}
    if path_parameters is not None:
        wanted = {p.name for p in operation.path_parameters}
        kwargs["path_parameters"] = {k: v for k, v in path_parameters.items() if k in wanted}
    generation = GenerationMode.NEGATIVE if mode == "negative" else GenerationMode.POSITIVE
    strategy = operation.as_strategy(generation_mode=generation, **kwargs)
    session = requests.Session()
    sent = 0

    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, keep_team=st.integers(0, 3))
    def fuzz(case: Any, keep_team: int) -> None:
        nonlocal sent
        if keep_team and isinstance(case.query, dict):
            case.query.pop("team", None)  # mostly our own team: reach the handlers
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {sandbox.api_key}"}
        response = case.call(base_url=sandbox.base_url, session=session)
        sent += 1
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)
        schema = VALIDATOR.response_schema(operation.path, operation.method, response.status_code)
        problems = VALIDATOR.errors(response.json(), schema)
        assert not problems, f"{operation.label} -> {response.status_code}: {problems}"

    try:
        fuzz()
    finally:
        session.close()
    return sent


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_fuzzed_requests_get_conforming_answers(
    label: str, mode: str, server: ThreadedSandbox, sandbox: Sandbox, figures
) -> None:
    statuses: Counter[int] = Counter()
    sent = _run(OPERATIONS[label], mode, sandbox, None, statuses)
    assert sent > 0
    assert all(status < 500 for status in statuses)
    figures.add(GROUP, "Fuzz requests", sent)
    figures.add(GROUP, f"Requests ({mode} data)", sent)
    figures.row(GROUP, "Answers by operation (all passes)", label, **_merge(label, statuses))


WITH_IDS = sorted(label for label, op in OPERATIONS.items() if op.path_parameters)
NEEDS_DOMAIN_DATA = frozenset(
    {
        "POST /payments/{id}/paid",  # payment_form must be a SAT c_FormaPago code
        "POST /payments/{id}/refund",  # amount within what was paid, a non-empty reason
        "PUT /payments/{id}",  # item ids of this payment, description-only changes
        "POST /teams/{id}/add-member",  # the id of an existing user
        "POST /teams/{id}/remove-member",  # the id of a member
    }
)
"""Operations whose success needs values the schema cannot express (catalog codes, ids of
other resources, amounts within a balance): fuzzed for conformance and no 5xx only; their
success paths are walked by tests/contract/test_core_contract.py."""


@pytest.mark.parametrize("label", WITH_IDS)
def test_fuzzed_requests_on_existing_resources(
    label: str, server: ThreadedSandbox, sandbox: Sandbox, figures
) -> None:
    ids = _path_ids(label, _existing(server, sandbox))
    statuses: Counter[int] = Counter()
    sent = _run(OPERATIONS[label], "existing resources", sandbox, ids, statuses)
    assert sent > 0
    if label not in NEEDS_DOMAIN_DATA:
        assert any(200 <= status < 300 for status in statuses), statuses  # the success path ran
    figures.add(GROUP, "Fuzz requests", sent)
    figures.add(GROUP, "Requests (existing resources)", sent)
    figures.row(GROUP, "Answers by operation (all passes)", label, **_merge(label, statuses))


# --------------------------------------------------------------- valid requests
# Random data from the schema alone almost never satisfies the business rules (a month inside
# SAT's window, a real régimen, an amount with two decimals), so the operations that charge,
# stamp or move money would only ever be fuzzed into 4xx. These strategies draw requests that
# are valid by construction, and the pass must see successes for each.

_MONTHS = [(year, month) for year in (2023, 2024, 2025) for month in range(1, 13)][:29]
_RFCS = ["PEGJ800101ABC", "XAXX010101000", "EKU9003173C9", "MAGL8305061Q7"]


def _month_body(draw: Any) -> dict[str, Any]:
    import calendar

    year, month = draw(st.sampled_from(_MONTHS))
    last = calendar.monthrange(year, month)[1]
    return {
        "start_date": f"{year}-{month:02d}-01",
        "end_date": f"{year}-{month:02d}-{last:02d}",
        "rfc_type": draw(st.sampled_from(["issued", "received"])),
        "request_type": draw(st.sampled_from(["cfdi", "metadata"])),
    }


def _item(draw: Any) -> dict[str, Any]:
    cents = draw(st.integers(1, 10_000_000))
    return {
        "description": draw(st.text("abcdefghijklmnopqrstuvwxyzñ ", min_size=3, max_size=30)),
        "quantity": draw(st.integers(1, 20)),
        "unit_price": Decimal(cents).scaleb(-2),
        "product_key": "80141503",
        "unit_key": "E48",
        "taxes": [{"type": "IVA", "rate": Decimal("0.16"), "factor": "Tasa", "withholding": False}],
    }


def _money_body(draw: Any, client_id: str) -> dict[str, Any]:
    return {
        "client": {"id": client_id},
        "items": [_item(draw) for _ in range(draw(st.integers(1, 3)))],
        "payment_form": draw(st.sampled_from(["01", "02", "03", "04", "28"])),
        "currency": "MXN",
    }


VALID: dict[str, Any] = {
    "POST /invoices/download/request": lambda draw, ids: _month_body(draw),
    "POST /clients": lambda draw, ids: {
        "name": draw(st.text("abcdefghij ", min_size=3, max_size=20)).strip() or "Cliente",
        "tax_id": draw(st.sampled_from(_RFCS)),
        "tax_system": draw(st.sampled_from(["601", "612", "626"])),
        "email": "fuzz@example.com",
        "address": {"zip": f"{draw(st.integers(1000, 99999)):05d}"},
    },
    "POST /invoices/income": lambda draw, ids: _money_body(draw, ids["core:client"]),
    "POST /payments/register": lambda draw, ids: {
        **_money_body(draw, ids["core:client"]),
        "idempotency_key": f"fuzz-{draw(st.uuids())}",
    },
}
"""Operations that charge (the download request), stamp (income) or move money (register),
and a plain create, with requests valid by construction."""


@pytest.mark.parametrize("label", sorted(VALID))
def test_valid_requests_succeed(
    label: str, server: ThreadedSandbox, sandbox: Sandbox, figures
) -> None:
    ids = _existing(server, sandbox)
    operation = OPERATIONS[label]
    session = requests.Session()
    statuses: Counter[int] = Counter()

    @settings(max_examples=8, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(data=st.data())
    def send(data: Any) -> None:
        body = VALID[label](data.draw, ids)
        response = session.request(
            operation.method.upper(),
            sandbox.base_url + operation.path,
            data=_json.dumps(body),
            headers={"Authorization": f"Bearer {sandbox.api_key}",
                     "Content-Type": "application/json"},
            timeout=30,
        )  # fmt: skip
        statuses[response.status_code] += 1
        assert response.status_code < 500, response.text
        schema = VALIDATOR.response_schema(operation.path, operation.method, response.status_code)
        problems = VALIDATOR.errors(response.json(), schema)
        assert not problems, f"{label} -> {response.status_code}: {problems}"

    try:
        send()
    finally:
        session.close()
    successes = sum(n for code, n in statuses.items() if 200 <= code < 300)
    assert successes > 0, statuses  # the charging / stamping / money-moving path really ran
    figures.add(GROUP, "Fuzz requests", sum(statuses.values()))
    figures.add(GROUP, "Requests (valid by construction)", sum(statuses.values()))
    figures.row(GROUP, "Answers by operation (all passes)", label, **_merge(label, statuses))


_SEEN: dict[str, Counter[int]] = {}


def _merge(label: str, statuses: Counter[int]) -> dict[str, object]:
    """Statuses of every pass on one operation so far, for its row in the report."""
    merged = _SEEN.setdefault(label, Counter())
    merged.update(statuses)
    shown = ", ".join(f"{code}×{n}" for code, n in sorted(merged.items()))
    successes = sum(n for code, n in merged.items() if 200 <= code < 300)
    return {"requests": sum(merged.values()), "2xx": successes, "statuses": shown}


def test_every_operation_of_the_spec_is_fuzzed() -> None:
    spec = BUNDLE
    documented = {
        f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item
    }
    assert set(OPERATIONS) == documented
    assert len(OPERATIONS) >= 18


@pytest.mark.parametrize(
    "body",
    [
        'Content-Disposition: form-data; name="pass\x04word"\r\n\r\nx\r\n',
        "\x18",
    ],
    ids=["control character in a field name", "garbage between boundaries"],
)
async def test_malformed_multipart_is_a_400_not_a_500(body: str) -> None:
    boundary = "fuzzboundary"
    raw = f"--{boundary}\r\n{body}--{boundary}--\r\n".encode()
    async with Sandbox(SandboxConfig(seed=8, speed=0, start=START)) as sandbox:
        headers = {
            "Authorization": f"Bearer {sandbox.api_key}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(sandbox.base_url + "/invoices/download/fiel", data=raw, headers=headers) as r,
        ):
            status = r.status
    assert status == 400
