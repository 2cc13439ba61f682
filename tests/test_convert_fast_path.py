"""The converter's fast paths must be invisible: same objects, same errors as cattrs' own hooks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import cattrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gigstack_async._convert import _make_converter
from gigstack_async._generated import models as m

FAST = _make_converter()
REFERENCE = _make_converter(fast=False)

# Every JSON shape a field might hold, right or wrong for it.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    # The exact JSON parse yields Decimal, finite or not (a hostile body can't, but a user's can).
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["", "Vigente", "Suspendido", "issued", "I", "X", "2024-01-01", "MXN"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


VALID_INVOICE: dict[str, Any] = {
    "uuid": "6741A863-04BE-49FE-BB76-E1657AB6B7EA",
    "id": "inv_1",
    "direction": "received",
    "issuer": {"rfc": "EKU9003173C9", "name": "ESCUELA KEMPER URGATE"},
    "receiver": {"rfc": "IIA040805DZ4", "name": None},
    "invoice_type": "I",
    "total": 116.0,
    "subtotal": 100,
    "exchange_rate": None,
    "status": "Vigente",
    "resource_status": "ready",
    "has_xml": True,
    "created_at": 1_704_067_200_000,
    "issue_date": "2024-01-01T10:00:00",
}
VALID_HISTORY_ENTRY: dict[str, Any] = {
    "id": "req_1",
    "rfcType": "received",
    "status": "completed",
    "invoiceCount": 12,
    "createdAt": 1_704_067_200_000,
    "packageIds": ["req_1_01"],
    "startDate": "2024-01-01",
}


def near_valid(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid payload with one to three fields replaced, added or removed: the inputs where a
    fast path that accepts too much (or too little) shows, because nothing else fails first."""
    keys = [*valid, "extra"]
    return st.tuples(
        st.dictionaries(st.sampled_from(keys), json_values, min_size=1, max_size=3),
        st.sets(st.sampled_from(list(valid)), max_size=1),
    ).map(lambda c: {k: v for k, v in {**valid, **c[0]}.items() if k not in c[1]})


def _outcome(converter: cattrs.Converter, data: Any, cl: type) -> tuple[str, Any]:
    try:
        return "ok", converter.structure(data, cl)
    except Exception as error:  # the comparison is the point: which error, which message
        detail = (
            cattrs.transform_error(error)
            if isinstance(error, cattrs.BaseValidationError)
            else str(error)
        )
        return type(error).__name__, detail


TRICKY = [  # the type confusions a fast path gets wrong first, always tried
    {"total": Decimal("NaN")},
    {"total": Decimal("Infinity")},
    {"total": Decimal("1160.10")},
    {"total": True},
    {"total": "116.0"},
    {"created_at": True},
    {"created_at": 1.0},
    {"created_at": "1"},
    {"total": True},
    {"total": "116.0"},
    {"total": 116},
    {"uuid": 5},
    {"has_xml": 1},
    {"status": "Suspendido"},
    {"status": 1},
    {"direction": ["issued"]},
    {"issuer": "EKU9003173C9"},
    {"issuer": None},
    {"issuer": {"rfc": 1}},
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invoice=near_valid(VALID_INVOICE))
def test_invoices_decode_identically(invoice: dict[str, Any]) -> None:
    _compare_invoice(invoice)


@pytest.mark.parametrize("change", TRICKY)
def test_tricky_invoices_decode_identically(change: dict[str, Any]) -> None:
    _compare_invoice({**VALID_INVOICE, **change})


def _compare_invoice(invoice: dict[str, Any]) -> None:
    assert _outcome(FAST, invoice, m.SatInvoice) == _outcome(REFERENCE, invoice, m.SatInvoice)
    page = {"data": [VALID_INVOICE, invoice], "has_more": True, "next": "c"}
    assert _outcome(FAST, page, m.SatInvoiceList) == _outcome(REFERENCE, page, m.SatInvoiceList)


@settings(max_examples=200, deadline=None)
@given(entry=near_valid(VALID_HISTORY_ENTRY))
def test_history_entries_decode_identically(entry: dict[str, Any]) -> None:
    data = {"history": [entry]}
    assert _outcome(FAST, data, m.History) == _outcome(REFERENCE, data, m.History)


@pytest.mark.parametrize("has_more", [None, True, False, "yes", 0])
@pytest.mark.parametrize("duplicate", [None, True, 1])
def test_null_defaults_decode_identically(has_more: Any, duplicate: Any) -> None:
    page = {"data": [VALID_INVOICE], "has_more": has_more, "next": None}
    assert _outcome(FAST, page, m.SatInvoiceList) == _outcome(REFERENCE, page, m.SatInvoiceList)
    created = {"request_id": "REQ-1", "duplicate": duplicate}
    assert _outcome(FAST, created, m.DownloadRequestCreated) == _outcome(
        REFERENCE, created, m.DownloadRequestCreated
    )
