"""JSON `null` in a field that has a default means the default, in every generated model, on
both the fast path and cattrs' reference hooks (issue 10 §1)."""

from __future__ import annotations

import enum
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest

from gigstack_async._convert import _make_converter, structure
from gigstack_async._generated import models as m

FAST = _make_converter()
REFERENCE = _make_converter(fast=False)

MODELS = [
    cl
    for cl in vars(m).values()
    if isinstance(cl, type) and attrs.has(cl) and cl.__module__ == m.__name__
]
DEFAULTED = [
    (cl, a)
    for cl in MODELS
    for a in attrs.fields(attrs.resolve_types(cl))
    if a.default is not attrs.NOTHING
]


def _sample(tp: Any) -> Any:
    """A valid JSON value for `tp` (the smallest one that structures)."""
    args = typing.get_args(tp)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return _sample(next(a for a in args if a is not type(None)))
    origin = typing.get_origin(tp) or tp
    if origin is list:
        return []
    if origin is dict:
        return {}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return next(iter(tp)).value
    if tp is bool:
        return True
    if tp is int:
        return 1
    if tp is float:
        return 1.5
    if tp is Decimal:
        return Decimal("1.50")  # what the exact JSON parse gives for money
    if tp is str:
        return "x"
    if tp is bytes:
        return b"x"
    if tp is datetime:
        return "2024-01-01T00:00:00"
    if tp is date:
        return "2024-01-01"
    if tp is Any or tp is object:
        return "x"
    if attrs.has(tp):
        return _minimal(tp)
    raise AssertionError(f"no sample for {tp!r}")


def _minimal(cl: type) -> dict[str, Any]:
    return {
        a.metadata.get("json_name", a.name): _sample(a.type)
        for a in attrs.fields(attrs.resolve_types(cl))
        if a.default is attrs.NOTHING
    }


def _default(a: attrs.Attribute[Any]) -> Any:
    default = a.default
    return default.factory() if isinstance(default, attrs.Factory) else default  # type: ignore[arg-type]


def test_the_models_have_non_null_defaults_to_check() -> None:
    names = {(cl.__name__, a.name) for cl, a in DEFAULTED if a.default is not None}
    assert {
        ("DownloadRequestCreated", "duplicate"),
        ("SatInvoiceList", "has_more"),
        ("Package", "encoding"),
    } <= names


@pytest.mark.parametrize(
    ("cl", "field"), DEFAULTED, ids=lambda x: getattr(x, "__name__", getattr(x, "name", ""))
)
@pytest.mark.parametrize("converter", [FAST, REFERENCE], ids=["fast", "reference"])
def test_null_means_the_default(cl: type, field: attrs.Attribute[Any], converter: Any) -> None:
    payload = {**_minimal(cl), field.metadata.get("json_name", field.name): None}
    result = converter.structure(payload, cl)
    assert getattr(result, field.name) == _default(field)


def test_null_duplicate_on_a_created_request_reads_as_created() -> None:
    # The billed create succeeded: a null `duplicate` must not turn it into a validation error.
    body = {"success": True, "data": {"request_id": "REQ-1", "duplicate": None, "status": None}}
    envelope = structure(body, m.DownloadRequestCreatedEnvelope)
    assert envelope.data == m.DownloadRequestCreated(request_id="REQ-1", duplicate=False)


def test_null_in_a_required_field_is_still_an_error() -> None:
    for converter in (FAST, REFERENCE):
        with pytest.raises(Exception, match="DownloadRequestCreated"):
            converter.structure({"request_id": None}, m.DownloadRequestCreated)


def test_null_defaults_inside_lists_and_envelopes() -> None:
    page = {"data": [], "has_more": None, "next": None}
    for converter in (FAST, REFERENCE):
        assert converter.structure(page, m.SatInvoiceList).has_more is False
        package = {"data": {"content": "UEsFBg==", "encoding": None}}
        assert converter.structure(package, m.PackageEnvelope).data.encoding == "base64"
