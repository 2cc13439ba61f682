"""Generated resources: a new operation in the spec becomes a typed, checked, documented method.

A small spec of our own (tests/fixtures/spec/widgets.yaml) is added beside openapi/*.yaml in a
temp directory, the whole package is generated there, and its modules are imported in place of
the committed ones to drive real calls through a MockTransport.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

import gigstack_async._generated as generated_pkg
from codegen.generate import generate
from codegen.spec import SPEC_DIR, BundleError, load_bundle, merge, spec_files
from gigstack_async import _config
from gigstack_async._pipeline import Pipeline
from gigstack_async.errors import InvalidParameterError, OutcomeUnknownError
from gigstack_async.transports.base import ReadError, Request, Response
from gigstack_async.transports.mock import MockTransport

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FIXTURE = Path(__file__).parent / "fixtures" / "spec" / "widgets.yaml"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec_dir = tmp_path_factory.mktemp("openapi")
    for path in spec_files(SPEC_DIR):
        shutil.copy(path, spec_dir / path.name)
    shutil.copy(FIXTURE, spec_dir / "widgets.yaml")
    target = tmp_path_factory.mktemp("generated") / "_generated"
    generate(spec_dir, target)
    return target


@pytest.fixture
def widgets(out: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """resources/widgets.py of the fresh generation, bound to its own models and operations."""
    models = _load(out / "models.py", "_widgets_models")
    monkeypatch.setattr(generated_pkg, "models", models)
    monkeypatch.setitem(sys.modules, "gigstack_async._generated.models", models)
    operations = _load(out / "operations.py", "_widgets_operations")
    monkeypatch.setattr(generated_pkg, "operations", operations)
    monkeypatch.setitem(sys.modules, "gigstack_async._generated.operations", operations)
    yield _load(out / "resources" / "widgets.py", "_widgets_resources")
    for name in ("_widgets_models", "_widgets_operations", "_widgets_resources"):
        sys.modules.pop(name, None)


def _pipeline(handler: Any) -> tuple[Pipeline, MockTransport]:
    import asyncio

    transport = MockTransport(handler)
    pipeline = Pipeline(
        transport=transport,
        api_key="sk_test_codegen",
        base_url="https://api.test/v2",
        team="team_1",
        timeout=_config.Timeout(),
        retry=_config.RetryPolicy(max_retries=2, backoff_base=0.0, backoff_cap=0.0),
        semaphore=asyncio.Semaphore(4),
    )
    return pipeline, transport


def _ok(body: Any, status: int = 200) -> Response:
    return Response(status, {"content-type": "application/json"}, json.dumps(body).encode())


WIDGET = {"id": "w_1", "color": "red", "price": 10.5}


def test_the_new_operations_appear_as_methods(widgets: ModuleType, out: Path) -> None:
    cls = widgets.Widgets
    assert {"list", "create", "search"} <= set(vars(cls))
    assert widgets.WidgetsParts.upload.__name__ == "upload"
    listing = inspect.signature(cls.list)
    assert list(listing.parameters) == ["self", "limit", "color", "created_gte", "max_items"]
    assert all(p.kind is p.KEYWORD_ONLY for n, p in listing.parameters.items() if n != "self")
    create = inspect.signature(cls.create)
    assert create.parameters["color"].default is inspect.Parameter.empty  # required field
    assert create.parameters["display_name"].default is None
    assert inspect.iscoroutinefunction(cls.create)
    assert not inspect.iscoroutinefunction(cls.list)  # returns an AsyncPager
    doc = cls.create.__doc__
    assert "moves-money" in doc
    assert "idempotency key" in doc
    assert "Shown to the client." in doc
    assert "Docs: https://docs.gigstack.io/list-widgets" in cls.list.__doc__
    assert "in s (GUESS)" in cls.list.__doc__
    init = (out / "resources" / "__init__.py").read_text()
    assert "widgets: Widgets" in init


async def test_a_generated_method_sends_the_documented_request(widgets: ModuleType) -> None:
    pipeline, transport = _pipeline(lambda r: _ok({"data": WIDGET}))
    resource = widgets.Widgets(pipeline)
    widget = await resource.create(color="blue", display_name="Azul", price=3)
    assert widget.id == "w_1"  # unwrapped from {"data": ...}
    sent = transport.requests[0]
    assert (sent.method, sent.url) == ("POST", "https://api.test/v2/widgets")
    assert ("team", "team_1") in sent.params
    assert sent.json["displayName"] == "Azul"
    assert sent.json["color"] == "blue"
    assert sent.json["idempotency_key"]  # generated


async def test_parameters_are_checked_before_sending(widgets: ModuleType) -> None:
    pipeline, transport = _pipeline(lambda r: _ok({"data": [], "has_more": False}))
    resource = widgets.Widgets(pipeline)
    with pytest.raises(InvalidParameterError, match="limit"):
        await resource.list(limit=101)
    with pytest.raises(InvalidParameterError, match="color"):
        await resource.list(color="green")
    with pytest.raises(TypeError, match="created_gte"):
        await resource.list(created_gte="yesterday")
    with pytest.raises(InvalidParameterError, match="q"):
        await resource.search(q="")
    with pytest.raises(InvalidParameterError, match="id"):
        await widgets.WidgetsParts(pipeline).delete_all("")
    assert transport.requests == []


async def test_cursor_lists_page_with_next(widgets: ModuleType) -> None:
    pages = {
        None: {"data": [WIDGET], "has_more": True, "next": "c2", "total_results": 2},
        "c2": {"data": [{**WIDGET, "id": "w_2"}], "has_more": False, "total_results": 2},
    }

    def handler(request: Request) -> Response:
        return _ok(pages[dict(request.params).get("next")])

    pipeline, transport = _pipeline(handler)
    ids = [w.id async for w in widgets.Widgets(pipeline).list(limit=1, color="red")]
    assert ids == ["w_1", "w_2"]
    assert dict(transport.requests[1].params)["next"] == "c2"
    assert dict(transport.requests[1].params)["color"] == "red"


async def test_page_number_lists_stop_at_the_total(widgets: ModuleType) -> None:
    def handler(request: Request) -> Response:
        page = int(dict(request.params)["page"])
        return _ok({"data": [{**WIDGET, "id": f"w_{page}"}], "found": 2, "page": page})

    pipeline, transport = _pipeline(handler)
    ids = [w.id async for w in widgets.Widgets(pipeline).search(q="red")]
    assert ids == ["w_1", "w_2"]
    assert [dict(r.params)["page"] for r in transport.requests] == ["1", "2"]
    assert dict(transport.requests[0].params)["q"] == "red"


async def test_uploads_are_checked_and_sent_as_multipart(widgets: ModuleType, tmp_path) -> None:
    pipeline, transport = _pipeline(lambda r: _ok({"data": WIDGET}))
    parts = widgets.WidgetsParts(pipeline)
    pdf = tmp_path / "manual.pdf"
    pdf.write_bytes(b"%PDF-1.7 tiny")
    await parts.upload("w_1", file=pdf, kind="manual", note="v2")
    sent = transport.requests[0]
    assert sent.url.endswith("/widgets/w_1/parts")
    fields = {p.name: p for p in sent.multipart}
    assert fields["file"].filename == "manual.pdf"
    assert fields["file"].content_type == "application/pdf"
    assert fields["file"].value == b"%PDF-1.7 tiny"
    assert fields["kind"].value == "manual"
    with pytest.raises(InvalidParameterError, match="at most 1024 bytes"):
        await parts.upload("w_1", file=b"%PDF-" + b"x" * 2000, kind="manual")
    with pytest.raises(InvalidParameterError, match="application/pdf, image/png"):
        await parts.upload("w_1", file=b"GIF89a....", kind="drawing")
    with pytest.raises(InvalidParameterError, match="kind"):
        await parts.upload("w_1", file=pdf, kind="poster")
    assert len(transport.requests) == 1


async def test_a_side_effect_without_idempotency_is_never_resent(widgets: ModuleType) -> None:
    calls: list[Request] = []

    def handler(request: Request) -> Response:
        calls.append(request)
        raise ReadError("reset after sending")

    pipeline, _ = _pipeline(handler)
    with pytest.raises(OutcomeUnknownError, match="fiscal document"):
        await widgets.WidgetsParts(pipeline).delete_all("w_1")
    assert len(calls) == 1


def test_a_duplicate_operation_or_component_is_an_error() -> None:
    fixture = yaml.safe_load(FIXTURE.read_text())
    with pytest.raises(BundleError, match=r"GET /widgets is defined in both a\.yaml and b\.yaml"):
        merge(
            [("a.yaml", fixture), ("b.yaml", {"paths": {"/widgets": fixture["paths"]["/widgets"]}})]
        )
    with pytest.raises(BundleError, match="components/schemas/Widget is defined in both"):
        merge(
            [
                ("a.yaml", fixture),
                ("b.yaml", {"components": {"schemas": {"Widget": {"type": "object"}}}}),
            ]
        )


def test_the_bundle_merges_every_file_deterministically(tmp_path: Path) -> None:
    for path in spec_files(SPEC_DIR):
        shutil.copy(path, tmp_path / path.name)
    shutil.copy(FIXTURE, tmp_path / "widgets.yaml")
    (tmp_path / "catalogs.yaml").write_text("catalogs: {}\n")  # data, not API surface
    bundle = load_bundle(tmp_path)
    assert "/widgets" in bundle["paths"]
    assert "/invoices/sat" in bundle["paths"]
    assert "Widget" in bundle["components"]["schemas"]
    assert bundle["info"]["title"].startswith("gigstack API v2")  # gigstack.yaml goes first
    assert load_bundle(tmp_path) == bundle
    (tmp_path / "broken.yaml").write_text(
        "paths: {/x: {get: {responses: {'200': {$ref: '#/components/responses/Nope'}}}}}\n"
    )
    with pytest.raises(BundleError, match="unresolved"):
        load_bundle(tmp_path)


async def test_an_idempotent_call_is_retried_with_the_same_key(widgets: ModuleType) -> None:
    """moves-money + x-gigstack-idempotency (like register payment): retried, one key."""
    answers: list[Any] = [ReadError("reset after sending"), _ok({"data": WIDGET})]

    def handler(request: Request) -> Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    pipeline, transport = _pipeline(handler)
    await widgets.Widgets(pipeline).create(color="red")
    keys = [r.json["idempotency_key"] for r in transport.requests]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert keys[0].startswith("gsa_")
    assert transport.requests[0].resend_safe is not False  # the key makes resending safe

    answers[:] = [_ok({"data": WIDGET}), _ok({"data": WIDGET})]
    await widgets.Widgets(pipeline).create(color="red")
    await widgets.Widgets(pipeline).create(color="red")
    assert (
        transport.requests[2].json["idempotency_key"]
        != transport.requests[3].json["idempotency_key"]
    )  # one key per call, never shared between calls


async def test_a_user_given_idempotency_key_is_sent_unchanged(widgets: ModuleType) -> None:
    answers: list[Any] = [_ok({}, 503), _ok({"data": WIDGET})]
    pipeline, transport = _pipeline(lambda r: answers.pop(0))
    await widgets.Widgets(pipeline).create(color="red", idempotency_key="order-42")
    assert [r.json["idempotency_key"] for r in transport.requests] == ["order-42", "order-42"]


def test_der_certificates_and_keys_get_their_own_content_types(tmp_path: Path) -> None:
    from gigstack_async._operation import Upload
    from gigstack_async._upload import file_part

    csd = Upload(
        max_bytes=4096,
        content_types=("application/octet-stream", "application/pkix-cert", "application/pkcs8"),
    )
    der = b"\x30\x82\x01\x0a" + b"\x00" * 64
    assert file_part("cer", der, csd).content_type == "application/pkix-cert"
    assert file_part("key", der, csd).content_type == "application/pkcs8"
    key_file = tmp_path / "CSD_team.key"
    key_file.write_bytes(der)
    part = file_part("file", key_file, csd)
    assert (part.content_type, part.filename) == ("application/pkcs8", "CSD_team.key")
    pdf_only = Upload(max_bytes=4096, content_types=("application/pdf",))
    with pytest.raises(InvalidParameterError, match="application/pdf"):
        file_part("file", der, pdf_only)
    with pytest.raises(InvalidParameterError, match="empty"):
        file_part("file", b"", pdf_only)
    with pytest.raises(InvalidParameterError, match="cannot read"):
        file_part("file", tmp_path / "missing.pdf", pdf_only)
    with pytest.raises(TypeError, match="file"):
        file_part("file", 42, pdf_only)  # type: ignore[arg-type]


def test_a_model_built_with_enum_strings_still_serialises() -> None:
    from gigstack_async._convert import unstructure
    from gigstack_async.models import TaxElement, TaxFactor

    built = TaxElement(type="IVA", factor=TaxFactor.TASA)  # type: ignore[arg-type]
    assert unstructure(built)["type"] == "IVA"
    assert unstructure(built)["factor"] == "Tasa"


async def test_a_body_argument_of_the_wrong_type_is_refused_before_sending(
    widgets: ModuleType,
) -> None:
    pipeline, transport = _pipeline(lambda r: _ok({"data": WIDGET}))
    with pytest.raises(InvalidParameterError, match="price"):
        await widgets.Widgets(pipeline).create(color="red", price="cheap")
    assert transport.requests == []


def test_cursor_lists_offer_no_page_keyword() -> None:
    """Review 11 #10: cursor lists exposed `page`, which the cursor pager never drives."""
    import inspect

    from gigstack_async import GigstackClient
    from gigstack_async._generated.operations import OPERATIONS

    client = GigstackClient(api_key="sk_test_x")
    checked = 0
    for op in OPERATIONS.values():
        if op.pagination is None or op.pagination.style != "cursor":
            continue
        method = client
        for part in [*op.resource.split("."), "list"]:
            method = getattr(method, part)
        if op.operation_id.startswith("list"):
            assert "page" not in inspect.signature(method).parameters, op.operation_id
            checked += 1
    assert checked >= 5
    # Page-style lists keep driving their page number themselves.
    assert "page" not in inspect.signature(client.clients.search).parameters
