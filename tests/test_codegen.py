"""The spec → code step: in sync, deterministic, and it follows spec changes."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import attrs
import pytest
import yaml

from codegen.generate import DEFAULT_OUT, DEFAULT_SPEC, FILES, check, generate, generated_files
from codegen.spec import load_bundle


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    generate(DEFAULT_SPEC, out)
    return out


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_committed_code_matches_a_fresh_generation(fresh: Path) -> None:
    names = generated_files(fresh)
    assert set(FILES) <= set(names)
    assert "resources/__init__.py" in names
    assert names == generated_files(DEFAULT_OUT)
    for name in names:
        assert (DEFAULT_OUT / name).read_bytes() == (fresh / name).read_bytes(), name


def test_two_runs_give_identical_bytes(fresh: Path, tmp_path: Path) -> None:
    generate(DEFAULT_SPEC, tmp_path)
    assert generated_files(tmp_path) == generated_files(fresh)
    for name in generated_files(fresh):
        assert (tmp_path / name).read_bytes() == (fresh / name).read_bytes(), name


def test_editing_a_generated_file_is_detected(fresh: Path, tmp_path: Path) -> None:
    edited = tmp_path / "_generated"
    shutil.copytree(fresh, edited)
    models = edited / "models.py"
    models.write_text(models.read_text().replace("has_xml: bool", "has_xml: int"))
    diff = check(DEFAULT_SPEC, edited)
    assert "-    has_xml: int" in diff
    assert "+    has_xml: bool" in diff
    assert check(DEFAULT_SPEC, fresh) == ""


def test_editing_a_generated_resource_is_detected(fresh: Path, tmp_path: Path) -> None:
    edited = tmp_path / "_generated"
    shutil.copytree(fresh, edited)
    module = edited / "resources" / "sat_invoices.py"
    module.write_text(module.read_text().replace("async def retry_xml", "async def retry"))
    (edited / "resources" / "stray.py").write_text("# left over\n")
    diff = check(DEFAULT_SPEC, edited)
    assert "+    async def retry_xml" in diff
    assert "stray.py" in diff


def test_generated_files_say_do_not_edit(fresh: Path) -> None:
    for name in generated_files(fresh):
        assert "do not edit" in (fresh / name).read_text().splitlines()[0]


def test_a_changed_spec_regenerates_changed_models(tmp_path: Path) -> None:
    """Docs changed → edit openapi/ → `make codegen`: a field added and one renamed."""
    spec = load_bundle()
    invoice = spec["components"]["schemas"]["SatInvoice"]["properties"]
    invoice["paymentMethod"] = {"type": "string", "nullable": True}
    invoice["issued_on"] = invoice.pop("issue_date")
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = tmp_path / "out"
    generate(changed, out)

    models = _load(out / "models.py", "changed_models")
    fields = {f.name: f for f in attrs.fields(models.SatInvoice)}
    assert "issue_date" not in fields
    assert "issued_on" in fields
    assert fields["payment_method"].metadata == {"json_name": "paymentMethod"}

    from gigstack_async._convert import structure

    invoice_obj = structure(
        {"uuid": "U", "paymentMethod": "PUE", "issued_on": "2024-01-02"}, models.SatInvoice
    )
    assert invoice_obj.payment_method == "PUE"
    assert invoice_obj.issued_on == "2024-01-02"
    assert check(changed, DEFAULT_OUT) != ""  # and the committed code is now stale


def test_operations_table_carries_the_vendor_extensions() -> None:
    from gigstack_async._generated import operations as ops

    billed = {op.operation_id for op in ops.OPERATIONS.values() if op.billed}
    assert {"createDownloadRequest", "retrySatInvoiceXml", "getSatInvoiceFromSat"} <= billed
    assert ops.DOWNLOAD_PACKAGE.side_effect == "limited-download"
    assert ops.DOWNLOAD_PACKAGE.no_resend
    assert not ops.GET_SAT_INVOICE.no_resend
    assert ops.LIST_SAT_INVOICES.pagination is not None
    assert ops.LIST_SAT_INVOICES.pagination.cursor_param == "starting_after"
    assert ops.UPLOAD_FIEL.body == "multipart"
    assert ops.GET_DOWNLOAD_REQUEST_STATUS.path_params == ("requestId",)
    spec = load_bundle()
    spec_ids = {
        op["operationId"]
        for item in spec["paths"].values()
        for key, op in item.items()
        if key in ("get", "put", "post", "patch", "delete")
    }
    assert spec_ids == set(ops.OPERATIONS)
    assert all("team" in op.query_params for op in ops.OPERATIONS.values())


def test_the_docstrings_error_names_match_the_runtime_mapping() -> None:
    from codegen.resources import ERRORS
    from gigstack_async.errors import error_class_for

    for status, name in ERRORS.items():
        assert error_class_for(status).__name__ == name
    assert error_class_for(502).__name__ == "InternalServerError"


def test_an_undeclared_post_defaults_to_creates_and_is_never_resent() -> None:
    """Review 11 #14: an operation with no `x-gigstack-side-effect` on a write method used to be
    `none` (retried after the server acted)."""
    from codegen.operations import side_effect

    op = {"operationId": "makeThing"}
    assert side_effect(op, "post") == "creates"
    assert side_effect(op, "patch") == "creates"
    assert side_effect(op, "get") == "none"
    assert side_effect(op, "put") == "none"  # idempotent in HTTP
    assert side_effect({**op, "x-gigstack-side-effect": "none"}, "post") == "none"


def test_every_plain_post_is_a_reviewed_none() -> None:
    """Review 11 #4: plain creates classified `none` were retried after the server acted (two
    clients, two webhook endpoints, two emails). A POST stays `none` only when a resend is
    harmless; a new one must be looked at and added here deliberately."""
    from gigstack_async._generated.operations import OPERATIONS

    harmless = {
        "generateSatInvoicePdf",  # renders a PDF
        "activateDownloads",  # switches
        "deactivateDownloads",
        "enableDownloadSync",
        "uploadFiel",  # replaces the stored FIEL
        "registerDownloads",
        "getClientPortalToken",  # a token
        "validateClient",  # a check
        "previewDraftInvoice",  # a preview
        "removeTeamMember",  # removing twice leaves it removed
        "uploadTeamCsd",  # replaces the stored CSD
        "generateUserLoginLink",  # a link
    }
    posts = {op.operation_id for op in OPERATIONS.values() if op.method == "POST"}
    plain = {op for op in posts if OPERATIONS[op].side_effect == "none"}
    assert plain == harmless
    for name in ("createClient", "createWebhook", "resendInvoiceEmail", "createUser"):
        assert OPERATIONS[name].side_effect == "creates"
        assert OPERATIONS[name].no_resend
