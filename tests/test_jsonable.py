"""`gigstack_async.to_dict` / `to_json`: any model as plain JSON data with the API's field names."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import attrs
import pytest

from gigstack_async import SatInvoice, SatInvoiceStatus, to_dict, to_json
from gigstack_async._convert import structure
from gigstack_async._generated.models import ActivationStatus

WIRE_INVOICE: dict[str, Any] = {
    "uuid": "4A1B43E2-1183-4AD4-A3DE-C2DA787AE56A",
    "direction": "received",
    "issuer": {"rfc": "EKU9003173C9", "name": "ESCUELA KEMPER URGATE"},
    "invoice_type": "I",
    "total": Decimal("1160.10"),
    "status": "Suspendido",  # a status this SDK does not know yet: kept as sent
    "has_xml": True,
    "created_at": 1705335811000,
}


def test_a_model_round_trips_to_the_wire_shape() -> None:
    invoice = structure(WIRE_INVOICE, SatInvoice)
    data = to_dict(invoice)
    # Unset optional fields are left out, the unknown enum value kept, money as exact text.
    assert data == {**WIRE_INVOICE, "total": "1160.10"}
    assert json.dumps(data)  # plain data the standard library can write
    # to_json writes the money as a JSON number with exactly the digits received.
    assert '"total":1160.10,' in to_json(invoice)
    assert json.loads(to_json(invoice), parse_float=Decimal) == {
        **WIRE_INVOICE,
        "total": Decimal("1160.10"),
    }


def test_keys_are_the_wire_names_not_the_python_names() -> None:
    status = structure({"isActivated": True, "planIncludesFeature": False}, ActivationStatus)
    assert status.is_activated is True
    assert to_dict(status) == {"isActivated": True, "planIncludesFeature": False}


def test_lists_of_models_and_known_enums() -> None:
    invoice = SatInvoice(uuid="X", status=SatInvoiceStatus.VIGENTE)
    assert to_dict([invoice, invoice]) == [{"uuid": "X", "status": "Vigente"}] * 2


@attrs.frozen
class _Money:
    amount: Decimal
    raw: bytes


def test_decimal_keeps_every_digit_as_text_and_bytes_become_base64() -> None:
    data = to_dict(_Money(Decimal("1160.10"), b"%PDF"))
    assert data == {"amount": "1160.10", "raw": "JVBERg=="}
    assert to_json(_Money(Decimal("0.10"), b"")) == '{"amount":0.10,"raw":""}'


@pytest.mark.parametrize(
    ("amount", "digits"),
    [("1E+2", "100"), ("1E-7", "0.0000001"), ("1160.10", "1160.10"), ("-0.50", "-0.50")],
)
def test_to_dict_and_to_json_write_the_same_digits_never_an_exponent(
    amount: str, digits: str
) -> None:
    value = _Money(Decimal(amount), b"")

    # Before: to_dict used str(), which gives "1E+2" while to_json wrote 100.
    assert to_dict(value)["amount"] == digits
    assert to_json(value) == f'{{"amount":{digits},"raw":""}}'


def test_something_that_is_not_json_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="complex"):
        to_dict({"x": 1j})
