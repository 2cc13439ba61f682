"""Money is exact: Decimal from the wire to the user and back (issue: Money is exact)."""

from __future__ import annotations

import json
import typing
from decimal import Context, Decimal, localcontext
from typing import Any

import attrs
import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gigstack_async import GigstackClient, _json
from gigstack_async._convert import _make_converter, needs_exact, structure, unstructure
from gigstack_async._generated import models
from gigstack_async.errors import APIResponseValidationError, InvalidParameterError
from gigstack_async.money import (
    InvalidAmountError,
    format_decimal,
    round_amount,
    to_decimal,
)
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.transports.base import Request, Response
from gigstack_async.transports.mock import MockTransport

# The awkward amounts of the issue, as the server writes them, and as they must come back out.
AWKWARD = {
    "0.1": "0.1",
    "1160.10": "1160.10",
    "1e2": "100",  # exponent notation is written out positionally, same value and digits
    "0.000001": "0.000001",
    "123456789012345678": "123456789012345678",  # 18 digits, an integer on the wire
    "1234567890123456.78": "1234567890123456.78",  # 18 significant digits
    "0.30": "0.30",
}


def _page(amounts: list[str]) -> bytes:
    items = ",".join(
        f'{{"uuid":"U{i}","subtotal":{a},"total":{a},"exchange_rate":{a}}}'
        for i, a in enumerate(amounts)
    )
    return f'{{"success":true,"data":[{items}],"has_more":false,"next":null}}'.encode()


async def test_awkward_amounts_round_trip_digit_for_digit(api_key: str) -> None:
    raw = _page(list(AWKWARD))
    transport = MockTransport(lambda request: Response(200, body=raw))
    async with GigstackClient(api_key, transport=transport) as client:
        page = await client.sat_invoices.list()

    for item, (sent, expected) in zip(page.data, AWKWARD.items(), strict=True):
        for value in (item.total, item.subtotal, item.exchange_rate):
            assert isinstance(value, Decimal)
            assert value == Decimal(sent)
            assert format_decimal(value) == expected
    encoded = _json.dumps([unstructure(item) for item in page.data]).decode()
    for expected in AWKWARD.values():
        assert f'"total":{expected},' in encoded
    assert "e" not in encoded.replace('"exchange_rate"', "").lower().replace('"', "")


def test_trailing_zeros_and_precision_survive_decode() -> None:
    data = _json.loads(b'{"uuid":"U","total":1160.10}', exact=True)
    invoice = structure(data, models.SatInvoice)
    assert str(invoice.total) == "1160.10"  # not 1160.1, not 1160.0999999…


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=6, min_value=-(10**12), max_value=10**12
    )
)
def test_any_amount_encodes_and_decodes_to_the_same_digits(amount: Decimal) -> None:
    text = _json.dumps({"total": amount})
    assert b"E" not in text
    assert b"e" not in text
    back = _json.loads(text, exact=True)["total"]
    assert Decimal(back) == amount
    assert format_decimal(Decimal(back)) == format_decimal(amount)


def test_summing_tenths_is_exact_where_floats_drift() -> None:
    raw = _page(["0.1"] * 10)
    transport_page = _json.loads(raw, exact=True)
    page = structure(transport_page, models.SatInvoiceList)
    assert sum((item.total for item in page.data), Decimal(0)) == Decimal("1.0")
    assert sum(item["total"] for item in json.loads(raw)["data"]) != 1.0  # what floats would do


def test_request_bodies_carry_decimals_as_json_numbers() -> None:
    request = Request(
        method="POST",
        url="http://127.0.0.1/x",
        json={"price": Decimal("1160.10"), "rate": Decimal("0.160000"), "q": Decimal("1E+2")},
    )
    assert request.json_bytes() == b'{"price":1160.10,"rate":0.160000,"q":100}'


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), float("nan"), float("inf")])
def test_non_finite_numbers_are_never_encoded(bad: Any) -> None:
    with pytest.raises(ValueError, match="not"):
        _json.dumps({"total": bad})


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_constants_are_refused_on_decode(constant: bytes) -> None:
    with pytest.raises(ValueError, match="not a JSON number"):
        _json.loads(b'{"total":' + constant + b"}")


# The wire carries numbers: a string is refused as for any other number, and so are bools.
@pytest.mark.parametrize("value", ["100.0", True, [1]])
def test_money_fields_stay_strict(value: Any) -> None:
    with pytest.raises(cattrs.ClassValidationError) as caught:
        structure({"uuid": "U", "total": value}, models.SatInvoice)
    (reason,) = caught.value.exceptions
    assert str(reason) == f"expected a decimal number, got {type(value).__name__} {value!r}"


async def test_a_nan_amount_from_the_server_is_a_validation_error(api_key: str) -> None:
    raw = b'{"success":true,"data":[{"uuid":"U","total":NaN}],"has_more":false}'
    transport = MockTransport(lambda request: Response(200, body=raw))
    async with GigstackClient(api_key, transport=transport) as client:
        with pytest.raises(APIResponseValidationError, match="NaN is not a JSON number"):
            await client.sat_invoices.list()


def test_money_models_are_parsed_exactly_and_others_are_not() -> None:
    assert needs_exact(models.SatInvoiceList)
    assert needs_exact(models.SatInvoice)
    assert not needs_exact(models.DownloadRequest)


# ---------------------------------------------------------------- users' inputs


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1160.10"), "1160.10"),
        (1160, "1160"),
        ("1160.10", "1160.10"),
        (" 0.5 ", "0.5"),
        (0.1, "0.1"),  # the float's shortest repr: the decimal the user wrote
        (1160.1, "1160.1"),
        (1e-6, "0.000001"),
    ],
)
def test_inputs_accept_decimal_int_str_and_shortest_repr_floats(value: Any, expected: str) -> None:
    assert format_decimal(to_decimal(value, name="price")) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "price: NaN is not an amount"),
        (float("inf"), "price: inf is not an amount"),
        (Decimal("NaN"), "price: NaN is not an amount"),
        (Decimal("-Infinity"), "price: -Infinity is not an amount"),
        ("1,160.10", "price: '1,160.10' is not a decimal number"),
        ("abc", "price: 'abc' is not a decimal number"),
        (True, "price: True is a bool, not an amount"),
        ([1], "price: expected Decimal, int or a decimal string, got list"),
    ],
)
def test_inputs_refuse_what_cannot_be_sent_exactly(value: Any, message: str) -> None:
    with pytest.raises(InvalidAmountError) as caught:
        to_decimal(value, name="price")
    assert str(caught.value) == message
    assert isinstance(caught.value, InvalidParameterError)
    assert caught.value.field == "price"


def test_inputs_refuse_more_decimals_than_the_field_allows() -> None:
    assert to_decimal("1.123456", name="quantity", max_decimals=6) == Decimal("1.123456")
    with pytest.raises(InvalidAmountError, match=r"quantity: 1.1234567 has 7 decimals; at most 6"):
        to_decimal("1.1234567", name="quantity", max_decimals=6)
    with pytest.raises(InvalidAmountError, match="has 3 decimals; at most 2"):
        to_decimal(0.125, name="total", max_decimals=2)


# ---------------------------------------------------------------- SAT rounding


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("197.5312", "MXN", "197.53"),  # 16 % IVA on 1,234.57
        ("0.005", "MXN", "0.01"),  # half up, not half even
        ("0.015", "MXN", "0.02"),
        ("0.025", "USD", "0.03"),  # half even would give 0.02
        ("-0.005", "MXN", "-0.01"),
        ("1234.5", "JPY", "1235"),
    ],
)
def test_round_amount_rounds_half_up_to_the_currency(
    value: str, currency: str, expected: str
) -> None:
    assert format_decimal(round_amount(Decimal(value), currency)) == expected


def test_iva_on_an_awkward_price_matches_sat() -> None:
    base = Decimal("1234.57")
    assert round_amount(base * Decimal("0.16")) == Decimal("197.53")
    assert float(base) * 0.16 != 197.5312  # the float product is already off


def test_round_amount_refuses_an_unknown_currency() -> None:
    with pytest.raises(InvalidAmountError, match="decimals of 'ZZZ' unknown"):
        round_amount(Decimal("1.5"), "ZZZ")


# ---------------------------------------------------------------- no float money anywhere

MONEY_WORDS = (
    "amount", "total", "price", "rate", "quantity", "tax", "discount", "subtotal", "fee", "cost",
    "balance", "paid", "refund", "importe", "monto", "precio", "cantidad", "descuento",
)  # fmt: skip


def _float_money_fields(module: Any) -> list[str]:
    found = []
    for name, cls in vars(module).items():
        if not (isinstance(cls, type) and attrs.has(cls)):
            continue
        hints = typing.get_type_hints(cls)
        for field in attrs.fields(cls):
            words = field.name.lower()
            if any(word in words for word in MONEY_WORDS) and float in _members(hints[field.name]):
                found.append(f"{name}.{field.name}")
    return found


def _members(tp: Any) -> tuple[Any, ...]:
    args = typing.get_args(tp)
    return tuple(m for arg in args for m in _members(arg)) if args else (tp,)


def test_no_public_model_exposes_money_as_float() -> None:
    assert _float_money_fields(models) == []


def test_the_money_field_scan_would_see_a_float_amount() -> None:
    @attrs.define
    class Bad:
        unit_price: float | None = None

    module = type("M", (), {"Bad": Bad})
    assert _float_money_fields(module) == ["Bad.unit_price"]


# ---------------------------------------------------------------- sandbox ground truth


async def test_ten_thousand_totals_sum_exactly_to_the_sandbox_ground_truth(api_key: str) -> None:
    config = SandboxConfig(invoices_per_month=(1000, 1000), speed=0)
    async with Sandbox(config) as sandbox:
        key = sandbox.config.api_keys[0].key
        async with GigstackClient(key, base_url=sandbox.base_url) as client:
            for month in ("2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"):
                for rfc_type in ("issued", "received"):
                    await client.downloads.create_request(
                        start_date=f"{month}-01", end_date=_last_day(month), rfc_type=rfc_type
                    )
            sandbox.clock.advance(sandbox.config.lifecycle.longest_completion_seconds)
            listed: list[Decimal] = []
            async for invoice in client.sat_invoices.list(limit=100):
                assert isinstance(invoice.total, Decimal)
                listed.append(invoice.total)
        home = sandbox.config.api_keys[0].home_team
        truth = [record.invoice.total for record in sandbox.state.team(home).sat_invoices.values()]
    assert len(listed) == len(truth) >= 10_000
    assert sum(listed, Decimal(0)) == sum(truth, Decimal(0))
    assert sorted(listed) == sorted(truth)


def _last_day(month: str) -> str:
    import calendar

    year, number = (int(part) for part in month.split("-"))
    return f"{month}-{calendar.monthrange(year, number)[1]:02d}"


async def test_cfdi_xml_metadata_api_model_and_cli_csv_agree_on_every_total(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gigstack_async.cfdi import parse_cfdi, parse_metadata
    from gigstack_async.cli.commands.sat_invoices import CSV_FIELDS
    from gigstack_async.cli.formats import CsvWriter
    from gigstack_async.sandbox.cfdi import render_cfdi, render_metadata

    async with Sandbox(SandboxConfig(invoices_per_month=(30, 30), speed=0)) as sandbox:
        key = sandbox.config.api_keys[0].key
        async with GigstackClient(key, base_url=sandbox.base_url) as client:
            await client.downloads.create_request(
                start_date="2025-03-01", end_date="2025-03-31", rfc_type="issued"
            )
            sandbox.clock.advance(sandbox.config.lifecycle.longest_completion_seconds)
            models_by_uuid = {i.uuid: i async for i in client.sat_invoices.list(limit=50)}
        home = sandbox.config.api_keys[0].home_team
        records = list(sandbox.state.team(home).sat_invoices.values())

    CsvWriter(CSV_FIELDS).write(models_by_uuid.values())
    header, *lines = capsys.readouterr().out.splitlines()
    column = header.split(",").index("total")
    csv_totals = {line.split(",")[0]: line.split(",")[column] for line in lines}
    metadata = {
        row.uuid.upper(): row.monto
        for row in parse_metadata(render_metadata([r.invoice for r in records]).encode())
    }
    assert records
    for record in records:
        invoice = record.invoice
        if invoice.currency == "XXX":
            continue  # SAT writes 0 for payment/transfer CFDIs
        expected = format_decimal(invoice.total)
        from_xml = parse_cfdi(render_cfdi(invoice).encode()).total
        assert format_decimal(from_xml) == expected
        assert format_decimal(metadata[invoice.uuid]) == expected
        assert format_decimal(models_by_uuid[invoice.uuid].total) == expected
        assert csv_totals[invoice.uuid] == expected


# ---------------------------------------------------------------- the hostile review's findings


def test_integer_amounts_stay_on_the_fast_path() -> None:
    # A server writing `0` or `1160` (the spec's own example has exchange_rate 0) must not
    # send every invoice through cattrs' slow hook: the fast path takes ints inline.
    from gigstack_async._convert import _fast_structure_fn

    fast = _make_converter(fast=True)
    calls: list[Any] = []
    hook = fast.get_structure_hook(models.SatInvoice)
    detailed = hook.__globals__["__detailed"] if hasattr(hook, "__globals__") else None
    assert detailed is not None
    spy_globals = dict(hook.__globals__)

    def spying_detailed(value: Any, target: Any) -> Any:
        calls.append(value)
        return detailed(value, target)

    spied = _fast_structure_fn(models.SatInvoice, fast, spying_detailed)
    for raw in ({"uuid": "U", "total": 1160, "exchange_rate": 0}, {"uuid": "U", "total": 0}):
        invoice = spied(raw, models.SatInvoice)
        assert isinstance(invoice.total, Decimal)
    assert calls == []  # never fell back
    assert spy_globals  # the hook really was a generated fast path


async def test_an_exponent_out_of_range_is_a_validation_error(api_key: str) -> None:
    for amount in (b"1e9999999999999999999", b"1e400", b"1e-400"):
        raw = b'{"success":true,"data":[{"uuid":"U","total":' + amount + b'}],"has_more":false}'
        transport = MockTransport(lambda request, raw=raw: Response(200, body=raw))
        async with GigstackClient(api_key, transport=transport) as client:
            with pytest.raises(APIResponseValidationError, match=r"(total|number in)"):
                await client.sat_invoices.list()


def test_exponents_cannot_amplify_a_small_input() -> None:
    with pytest.raises(cattrs.ClassValidationError):  # parsed, then refused as an amount
        structure(_json.loads(b'{"uuid":"U","total":1e10000000}'), models.SatInvoice)
    with pytest.raises(InvalidAmountError) as caught:
        to_decimal("1e-10000000", name="x", max_decimals=6)
    assert len(str(caught.value)) < 200
    with pytest.raises(InvalidAmountError):
        format_decimal(Decimal("1e999999999"))
    assert format_decimal(Decimal("9e27")) == "9" + "0" * 27  # the largest magnitude allowed


def test_a_float_subclass_with_its_own_repr_is_read_by_value() -> None:
    class NumpyLike(float):  # numpy 2: repr(np.float64(1160.1)) == "np.float64(1160.1)"
        def __repr__(self) -> str:
            return f"np.float64({float.__repr__(self)})"

    assert to_decimal(NumpyLike(1160.1), name="price") == Decimal("1160.1")


def test_a_lone_surrogate_is_escaped_not_fatal() -> None:
    body = Request("POST", "http://127.0.0.1/x", json={"legal_name": "A\ud800B ñ"}).json_bytes()
    assert body == b'{"legal_name":"A\\ud800B \\u00f1"}'
    assert json.loads(body) == {"legal_name": "A\ud800B ñ"}
    # Without a surrogate, text stays readable UTF-8.
    assert _json.dumps({"n": "ñ"}) == '{"n":"ñ"}'.encode()


def test_round_amount_edges() -> None:
    assert format_decimal(round_amount(Decimal("-0.001"))) == "0.00"  # never "-0.00"
    assert format_decimal(to_decimal(-0.0, name="x")) == "0.0"
    with pytest.raises(InvalidAmountError, match="NaN"):
        round_amount(Decimal("NaN"))
    assert round_amount(Decimal("1e26")) == Decimal("1e26")
    assert round_amount("1234.565") == Decimal("1234.57")  # what to_decimal accepts
    assert round_amount(7) == Decimal("7.00")
    with localcontext(Context(prec=6)):  # a caller's low precision does not leak in
        assert round_amount(Decimal("12345.678")) == Decimal("12345.68")


def test_float_noise_is_refused_by_default() -> None:
    with pytest.raises(InvalidAmountError, match="binary rounding noise"):
        to_decimal(0.1 + 0.2, name="price")
    assert to_decimal(0.1 + 0.2, name="price", max_decimals=None) == Decimal("0.30000000000000004")


def test_generated_methods_take_money_as_decimal_int_or_str_and_refuse_the_rest() -> None:
    from gigstack_async._params import json_body

    body = json_body(models.RefundPaymentInput, {"reason": "duplicate", "amount": "1160.10"})
    assert body["amount"] == Decimal("1160.10")
    assert json_body(models.RefundPaymentInput, {"reason": "x", "amount": 5})["amount"] == 5
    for bad, why in [
        (float("nan"), "NaN is not an amount"),
        ("1.1234567", "has 7 decimals; at most 6"),
        (0.1 + 0.2, "binary rounding noise"),
        (True, "is a bool"),
    ]:
        with pytest.raises(InvalidParameterError, match=why):
            json_body(models.RefundPaymentInput, {"reason": "x", "amount": bad})


def test_unknown_shapes_keep_their_numbers_exact(api_key: str) -> None:
    from gigstack_async._generated import models as m

    assert needs_exact(m.ObjectEnvelope)  # `data: dict[str, Any]` may hold amounts
