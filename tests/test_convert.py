"""JSON ↔ models: wire names, forward compatibility, strictness."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from uuid import UUID

import attrs
import cattrs
import pytest

from gigstack_async import _json, is_known
from gigstack_async._convert import structure, unstructure
from gigstack_async._generated import models as m

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def _seed_example(name: str) -> dict[str, object]:
    text = (SEEDS / name).read_text(encoding="utf-8")
    block = text.split("Response Response Example", 1)[1].split("Modified at", 1)[0]
    block = block[block.index("{") :]
    result: dict[str, object] = json.loads(block)
    return result


@pytest.fixture
def sat_list_example() -> dict[str, object]:
    if not SEEDS.exists():
        pytest.skip("../shared/seeds is not beside this checkout")
    return _seed_example("000_37a933562e250273.txt")


def test_seed_sat_invoice_list_decodes_and_round_trips(sat_list_example: dict) -> None:
    page = structure(sat_list_example, m.SatInvoiceList)
    invoice = page.data[0]
    assert invoice.uuid == "6741A863-04BE-49FE-BB76-E1657AB6B7EA"
    assert invoice.direction is m.Direction.ISSUED
    assert invoice.invoice_type is m.InvoiceType.INGRESO
    assert invoice.status is m.SatInvoiceStatus.VIGENTE
    assert invoice.issuer is not None
    assert invoice.issuer.rfc == "string"
    assert (page.has_more, page.next, page.count) == (True, "string", 0)
    assert json.loads(_json.dumps(unstructure(page))) == sat_list_example


def test_seed_create_request_response_decodes() -> None:
    if not SEEDS.exists():
        pytest.skip("../shared/seeds is not beside this checkout")
    envelope = structure(
        _seed_example("001_4f63265d4e1f4864.txt"), m.DownloadRequestCreatedEnvelope
    )
    assert envelope.data.request_id == "string"
    assert envelope.data.duplicate is True
    assert envelope.data.status is m.DownloadRequestState.PENDING


def test_camel_case_keys_map_to_snake_case_attributes() -> None:
    raw = {
        "id": "req_1",
        "rfcType": "received",
        "startDate": "2024-01-01",
        "invoiceCount": 12,
        "createdAt": 1_704_067_200_000,
        "completedAt": "2024-01-02T00:00:00Z",
    }
    entry = structure(raw, m.DownloadRequest)
    assert entry.rfc_type is m.RfcType.RECEIVED
    assert entry.invoice_count == 12
    assert entry.created_at == 1_704_067_200_000
    assert entry.completed_at == "2024-01-02T00:00:00Z"  # int | str: kept as sent
    assert unstructure(entry) == raw


@attrs.define(kw_only=True)
class _Awkward:
    from_: date = attrs.field(metadata={"json_name": "from"})
    client_tag: str | None = attrs.field(default=None, metadata={"json_name": "x-client-tag"})
    when: datetime | None = None
    ident: UUID | None = None


def test_keywords_and_hyphens_as_json_keys() -> None:
    raw = {
        "from": "2024-01-01",
        "x-client-tag": "cli",
        "when": "2024-01-01T10:00:00Z",
        "ident": "6741a863-04be-49fe-bb76-e1657ab6b7ea",
    }
    obj = structure(raw, _Awkward)
    assert obj.from_ == date(2024, 1, 1)
    assert obj.when is not None
    assert obj.when.utcoffset() is not None
    assert obj.ident == UUID("6741A863-04BE-49FE-BB76-E1657AB6B7EA")
    assert unstructure(obj)["from"] == "2024-01-01"
    assert unstructure(obj)["x-client-tag"] == "cli"


def test_unknown_fields_are_ignored() -> None:
    invoice = structure({"uuid": "U", "brand_new_field": {"x": 1}}, m.SatInvoice)
    assert invoice.uuid == "U"


def test_unknown_enum_values_are_kept_not_rejected() -> None:
    invoice = structure({"uuid": "U", "status": "Suspendido"}, m.SatInvoice)
    assert invoice.status is not None
    assert isinstance(invoice.status, m.SatInvoiceStatus)
    assert invoice.status.value == "Suspendido"
    assert invoice.status == "Suspendido"
    assert not is_known(invoice.status)
    assert is_known(m.SatInvoiceStatus.VIGENTE)
    assert unstructure(invoice)["status"] == "Suspendido"
    with pytest.raises(ValueError, match="Suspendido"):
        m.SatInvoiceStatus("Suspendido")  # the enum itself stays closed for user code


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"uuid": None}, "null is not a string"),
        ({"uuid": 12}, "a number is not a string"),
        ({"uuid": "U", "total": "100.0"}, "a string is not a number"),
        ({"uuid": "U", "has_xml": 1}, "1 is not a boolean"),
        ({"uuid": "U", "created_at": 1.9}, "1.9 is not an integer"),
        ({"uuid": "U", "created_at": True}, "true is not an integer"),
        ({"uuid": "U", "direction": 3}, "a number is not an enum string"),
        ({}, "uuid is required"),
    ],
)
def test_primitives_are_strict(raw: dict[str, object], reason: str) -> None:
    with pytest.raises(cattrs.ClassValidationError):
        structure(raw, m.SatInvoice)


def test_json_integers_are_valid_numbers() -> None:
    assert structure({"uuid": "U", "total": 100}, m.SatInvoice).total == 100.0


def test_error_union_shapes() -> None:
    as_object = structure(
        {"error": {"code": "validation_failed", "details": ["a", "b"]}}, m.ErrorEnvelope
    )
    assert isinstance(as_object.error, m.ErrorDetail)
    assert as_object.error.code is m.ApiErrorCode.VALIDATION_FAILED
    assert as_object.error.details == ["a", "b"]
    as_string = structure({"error": "cost_mismatch"}, m.ErrorEnvelope)
    assert as_string.error == "cost_mismatch"


def test_request_bodies_use_wire_names_and_omit_unset_fields() -> None:
    body = m.DownloadRequestInput(
        start_date=date(2024, 1, 1), end_date=date(2024, 1, 31), rfc_type=m.RfcType.RECEIVED
    )
    assert unstructure(body) == {
        "start_date": "2024-01-01",
        "end_date": "2024-01-31",
        "rfc_type": "received",
    }
    optional = m.RegisterInput(phone="+525512345678", sync_start_date=date(2024, 1, 1))
    assert json.loads(json.dumps(unstructure(optional))) == {
        "phone": "+525512345678",
        "sync_start_date": "2024-01-01",
    }
    schedule = m.ScheduleInput(
        enabled=True, time="06:00", download_types=[m.RfcType.ISSUED], days_back=5
    )
    assert json.loads(json.dumps(unstructure(schedule))) == {  # all four, as gigstack sends
        "enabled": True,
        "time": "06:00",
        "download_types": ["issued"],
        "days_back": 5,
    }
