"""Fiscal input checks (gigstack_async._fiscal): what a user gets before a CFDI call is sent."""

from __future__ import annotations

import sys
import types
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from enum import Enum

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from gigstack_async import _fiscal as fiscal
from gigstack_async._fiscal import CATALOGS_YAML_PATH
from gigstack_async.errors import InvalidParameterError

MORAL = "EKU9003173C9"  # SAT's published test RFC (persona moral, 12 characters)
FISICA = "PEGJ800101ABC"  # gigstack docs example (persona física, 13 characters)


@pytest.fixture(autouse=True)
def _fresh_catalogs() -> Iterator[None]:
    fiscal.catalog.cache_clear()
    yield
    fiscal.catalog.cache_clear()


def _catalog_yaml() -> dict[str, dict[str, object]]:
    data = yaml.safe_load(CATALOGS_YAML_PATH.read_text(encoding="utf-8"))
    catalogs: dict[str, dict[str, object]] = data["catalogs"]
    return catalogs


def _broken(excinfo: pytest.ExceptionInfo[InvalidParameterError], field: str) -> str:
    assert isinstance(excinfo.value, ValueError)
    assert excinfo.value.field == field
    return excinfo.value.rule


# ---------------------------------------------------------------------------------- RFC


@pytest.mark.parametrize(
    ("value", "expected", "kind"),
    [
        (MORAL, MORAL, "moral"),
        (" eku9003173c9 ", MORAL, "moral"),
        (FISICA, FISICA, "fisica"),
        ("XAXX010101000", "XAXX010101000", "fisica"),
        ("XEXX010101000", "XEXX010101000", "fisica"),
        ("ÑAÑ0002291A1", "ÑAÑ0002291A1", "moral"),  # 2000-02-29 exists
        ("A&C850101AB1", "A&C850101AB1", "moral"),
    ],
)
def test_rfc_accepts_both_persona_types_and_generic_rfcs(
    value: str, expected: str, kind: str
) -> None:
    normalized = fiscal.rfc("tax_id", value)
    assert normalized == expected
    assert fiscal.rfc_kind(normalized) == kind


@pytest.mark.parametrize(
    "value",
    [
        "EKU900317C9",  # 11 characters
        "PEGJ800101ABCD",  # 14 characters
        "EKU9013173C9",  # month 13
        "PEGJ800230ABC",  # February 30
        "PEGJ010229ABC",  # 2001-02-29 and 1901-02-29 do not exist
        "1KU9003173C9",  # digit where the name letters go
        "",
    ],
)
def test_rfc_rejects_bad_length_and_impossible_dates(value: str) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.rfc("tax_id", value)
    assert "RFC" in _broken(excinfo, "tax_id")


def test_rfc_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="tax_id"):
        fiscal.rfc("tax_id", 123456789012)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
def test_every_real_date_makes_a_valid_persona_fisica_rfc(day: date) -> None:
    value = f"GOMA{day:%y%m%d}H12"
    assert fiscal.rfc("tax_id", value) == value
    assert fiscal.rfc_kind(value) == "fisica"


def test_is_generic_rfc() -> None:
    assert fiscal.is_generic_rfc("XAXX010101000")
    assert fiscal.is_generic_rfc("XEXX010101000")
    assert not fiscal.is_generic_rfc(FISICA)


# ---------------------------------------------------------------------------------- régimen


@pytest.mark.parametrize(
    ("regime", "rfc"),
    [("601", MORAL), ("612", FISICA), ("626", MORAL), ("626", FISICA), ("616", "XAXX010101000")],
)
def test_tax_regime_that_fits_the_rfc_is_accepted(regime: str, rfc: str) -> None:
    assert fiscal.tax_regime("tax_system", regime, rfc=rfc) == regime


@pytest.mark.parametrize(
    ("regime", "rfc", "words"),
    [
        ("601", FISICA, "persona física"),  # personas morales only
        ("612", MORAL, "persona moral"),  # personas físicas only
        ("605", MORAL, "persona moral"),
        ("601", "XAXX010101000", "616"),  # generic RFC: sin obligaciones fiscales
        ("612", "XEXX010101000", "616"),
    ],
)
def test_tax_regime_that_does_not_fit_the_rfc_is_rejected(
    regime: str, rfc: str, words: str
) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.tax_regime("tax_system", regime, rfc=rfc)
    assert words in _broken(excinfo, "tax_system")


@pytest.mark.parametrize("regime", ["607", "622"])
@pytest.mark.parametrize("rfc", [MORAL, FISICA])
def test_regimes_whose_sources_disagree_allow_both_persona_types(regime: str, rfc: str) -> None:
    # The third-party copies of SAT's catalog disagree on 607 and 622: the SDK does not guess.
    assert fiscal.tax_regime("tax_system", regime, rfc=rfc) == regime


def test_unknown_tax_regime_is_rejected_with_the_catalog() -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.tax_regime("tax_system", "699")
    rule = _broken(excinfo, "tax_system")
    assert "601" in rule
    assert "626" in rule


def test_every_documented_tax_regime_is_accepted_without_an_rfc() -> None:
    for row in _catalog_yaml()["TaxRegime"]["values"]:  # type: ignore[attr-defined]
        assert fiscal.tax_regime("tax_system", row["code"]) == row["code"]


def test_tax_regime_accepts_an_enum_member() -> None:
    class Regime(Enum):
        GENERAL = "601"

    assert fiscal.tax_regime("tax_system", Regime.GENERAL, rfc=MORAL) == "601"


# ---------------------------------------------------------------------------------- uso CFDI


@pytest.mark.parametrize(
    ("use", "rfc"),
    [("G03", MORAL), ("G03", FISICA), ("D01", FISICA), ("CP01", MORAL), ("S01", "XAXX010101000")],
)
def test_cfdi_use_that_fits_the_receiver_is_accepted(use: str, rfc: str) -> None:
    assert fiscal.cfdi_use("use", use.lower(), rfc=rfc) == use


@pytest.mark.parametrize("use", ["D01", "D04", "D10", "CN01"])
def test_deductions_and_payroll_uses_are_rejected_for_a_persona_moral(use: str) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.cfdi_use("use", use, rfc=MORAL)
    assert "persona moral" in _broken(excinfo, "use")


def test_cfdi_use_against_the_regime_alone() -> None:
    # 601 is for personas morales only, so a deduction cannot fit it …
    with pytest.raises(InvalidParameterError):
        fiscal.cfdi_use("use", "D01", tax_regime="601")
    # … while 612 (personas físicas with business activity) can.
    assert fiscal.cfdi_use("use", "D01", tax_regime="612") == "D01"


@pytest.mark.parametrize(
    ("use", "regime"),
    [
        ("G03", "601"),
        ("G03", "626"),
        ("D01", "612"),
        ("D10", "605"),
        ("S01", "616"),
        ("CP01", "616"),
    ],
)
def test_cfdi_use_that_the_regime_accepts(use: str, regime: str) -> None:
    assert fiscal.cfdi_use("use", use, tax_regime=regime) == use


@pytest.mark.parametrize(
    ("use", "regime"),
    [
        ("G03", "605"),  # salaries: no general expenses
        ("G03", "616"),  # público en general takes S01/CP01
        ("D01", "626"),  # RESICO receivers cannot deduct medical fees
        ("CN01", "612"),  # payroll only for 605
    ],
)
def test_cfdi_use_that_the_regime_does_not_accept(use: str, regime: str) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.cfdi_use("use", use, tax_regime=regime)
    assert regime in _broken(excinfo, "use")


def test_public_general_receiver_with_g03_is_refused_in_a_body() -> None:
    body = {"client": {"tax_id": "XAXX010101000", "tax_system": "616", "use": "G03"}}
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.invoice(body)
    assert "616" in _broken(excinfo, "client.use")


def test_p01_from_the_docs_examples_is_accepted() -> None:
    # gigstack's docs examples send the CFDI 3.3 code P01; the docs win over SAT's 4.0 list.
    assert fiscal.cfdi_use("use", "P01", rfc=MORAL) == "P01"


def test_unknown_cfdi_use_is_rejected() -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.cfdi_use("use", "G99")
    assert "G03" in _broken(excinfo, "use")


def test_cfdi_use_honours_a_regime_relation_when_the_catalog_gives_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = {"G03": {"persona_fisica": True, "persona_moral": True, "regimes": ["601", "612"]}}
    for source in ("_rows_from_module", "_rows_from_yaml"):
        real = getattr(fiscal, source)
        monkeypatch.setattr(
            fiscal, source, lambda name, real=real: rows if name == "CfdiUse" else real(name)
        )
    assert fiscal.cfdi_use("use", "G03", tax_regime="601") == "G03"
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.cfdi_use("use", "G03", tax_regime="626")
    assert "626" in _broken(excinfo, "use")


# ---------------------------------------------------------------------------------- payment


@pytest.mark.parametrize(
    ("method", "form", "expected"),
    [
        ("PPD", "99", ("PPD", "99")),
        ("ppd", None, ("PPD", None)),
        ("PUE", "03", ("PUE", "03")),
        (None, "28", (None, "28")),
        (None, None, (None, None)),
    ],
)
def test_payment_terms_accepted(
    method: str | None, form: str | None, expected: tuple[str | None, str | None]
) -> None:
    assert fiscal.payment_terms(payment_method=method, payment_form=form) == expected


@pytest.mark.parametrize("form", ["01", "03", "04", "28"])
def test_ppd_requires_payment_form_99(form: str) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.payment_terms(payment_method="PPD", payment_form=form)
    assert "99" in _broken(excinfo, "payment_form")


def test_unknown_payment_method_and_form_are_rejected() -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.payment_method("payment_method", "PPP")
    assert "PUE" in _broken(excinfo, "payment_method")
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.payment_form("payment_form", "07")  # 07 is not in SAT's c_FormaPago
    assert "99" in _broken(excinfo, "payment_form")


def test_every_documented_payment_form_is_accepted() -> None:
    codes = [row["code"] for row in _catalog_yaml()["PaymentForm"]["values"]]  # type: ignore[attr-defined]
    assert len(codes) == 22
    for code in codes:
        assert fiscal.payment_form("payment_form", code) == code


# ---------------------------------------------------------------------------------- zip


def test_zip_code_keeps_leading_zeros() -> None:
    assert fiscal.zip_code("zip", " 03100 ") == "03100"


@pytest.mark.parametrize("value", ["3100", "031000", "ABCDE", "03 100", ""])
def test_zip_code_must_be_five_digits(value: str) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.zip_code("zip", value)
    assert "five-digit" in _broken(excinfo, "zip")


def test_zip_code_as_int_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="leading zeros"):
        fiscal.zip_code("zip", 3100)


# ---------------------------------------------------------------------------------- currency


@pytest.mark.parametrize(
    ("code", "rate", "expected"),
    [
        ("MXN", None, ("MXN", None)),
        ("mxn", 1, ("MXN", Decimal(1))),
        ("MXN", "1.000000", ("MXN", Decimal("1.000000"))),
        ("USD", "17.25", ("USD", Decimal("17.25"))),
        ("USD", 17.25, ("USD", Decimal("17.25"))),
        ("EUR", Decimal("18.9012"), ("EUR", Decimal("18.9012"))),
        ("COP", Decimal("0.0043"), ("COP", Decimal("0.0043"))),
    ],
)
def test_currency_with_exchange_rate_accepted(
    code: str, rate: object, expected: tuple[str, Decimal | None]
) -> None:
    assert fiscal.currency("currency", code, rate) == expected


def test_mxn_with_another_rate_is_rejected() -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.currency("currency", "MXN", "17.5")
    assert "MXN" in _broken(excinfo, "exchange_rate")


def test_foreign_currency_needs_an_exchange_rate() -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.currency("currency", "USD")
    assert "required" in _broken(excinfo, "exchange_rate")


@pytest.mark.parametrize("rate", [0, "0", -1, Decimal("-17.2"), "NaN", "Infinity", "abc"])
def test_foreign_exchange_rate_must_be_a_positive_number(rate: object) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.currency("currency", "USD", rate)
    _broken(excinfo, "exchange_rate")


@pytest.mark.parametrize("code", ["US", "USDX", "U$D", "840"])
def test_currency_must_be_an_iso_code(code: str) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.currency("currency", code, 17)
    assert "ISO 4217" in _broken(excinfo, "currency")


def test_boolean_exchange_rate_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="exchange_rate"):
        fiscal.currency("currency", "USD", True)


@given(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4))
def test_any_positive_rate_is_kept_exactly(rate: Decimal) -> None:
    assert fiscal.currency("currency", "USD", str(rate)) == ("USD", rate)


# ---------------------------------------------------------------------------------- cancellation


def test_motive_01_requires_a_substitution_uuid() -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.cancellation("01")
    assert "01" in _broken(excinfo, "substitution_uuid")


def test_motive_01_with_its_substitution_uuid() -> None:
    replacement = uuid.uuid4()
    assert fiscal.cancellation("01", str(replacement)) == ("01", str(replacement).upper())
    assert fiscal.cancellation("01", replacement) == ("01", str(replacement).upper())


@pytest.mark.parametrize("motive", ["02", "03", "04"])
def test_other_motives_need_no_substitution(motive: str) -> None:
    assert fiscal.cancellation(motive) == (motive, None)


def test_unknown_motive_and_malformed_uuid_are_rejected() -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.cancellation("05")
    assert "01" in _broken(excinfo, "motive")
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.cancellation("01", "not-a-uuid")
    _broken(excinfo, "substitution_uuid")


# ------------------------------------------------------------------ relationships, global


def test_relationship_codes_from_the_docs_catalog() -> None:
    assert fiscal.relationship("relationship", "04") == "04"
    # 08/09 are on gigstack's page (CFDI 3.3 leftovers): the docs win.
    assert fiscal.relationship("relationship", "09") == "09"
    with pytest.raises(InvalidParameterError):
        fiscal.relationship("relationship", "10")


def test_global_period_bimesters_need_periodicity_05() -> None:
    assert fiscal.global_period("05", "13", 2024) == ("05", "13", 2024)
    assert fiscal.global_period("04", "12", 2024) == ("04", "12", 2024)
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.global_period("04", "13", 2024)
    assert "05" in _broken(excinfo, "months")
    with pytest.raises(InvalidParameterError):
        fiscal.global_period("04", "19", 2024)
    with pytest.raises(TypeError):
        fiscal.global_period("04", "01", "2024")


# ---------------------------------------------------------------------------------- catalog source


def test_catalog_prefers_the_generated_module(monkeypatch: pytest.MonkeyPatch) -> None:
    class TaxRegime(Enum):
        GENERAL = "601"
        RESICO = "626"

        @property
        def attributes(self) -> dict[str, bool]:
            return {"persona_fisica": self is TaxRegime.RESICO, "persona_moral": True}

    module = types.ModuleType("gigstack_async.catalogs")
    module.TaxRegime = TaxRegime  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gigstack_async.catalogs", module)
    assert set(fiscal.catalog("TaxRegime")) == {"601", "626"}
    # 612 exists in the data file but not in this (generated) catalog.
    with pytest.raises(InvalidParameterError):
        fiscal.tax_regime("tax_system", "612")
    with pytest.raises(InvalidParameterError):
        fiscal.tax_regime("tax_system", "601", rfc=FISICA)
    # A catalog the module lacks still comes from the data file.
    assert "99" in fiscal.catalog("PaymentForm")


def test_rows_without_attributes_skip_the_attribute_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    class TaxRegime(Enum):
        GENERAL = "601"

    module = types.ModuleType("gigstack_async.catalogs")
    module.TaxRegime = TaxRegime  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gigstack_async.catalogs", module)
    # Unknown persona columns: the server judges, the SDK does not guess.
    assert fiscal.tax_regime("tax_system", "601", rfc=FISICA) == "601"


def test_missing_catalogs_raise_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fiscal, "_rows_from_module", lambda name: None)
    monkeypatch.setattr(fiscal, "_rows_from_yaml", lambda name: None)
    with pytest.raises(fiscal.CatalogUnavailableError, match="TaxRegime"):
        fiscal.tax_regime("tax_system", "601")


def test_every_catalog_row_has_a_source_tag() -> None:
    for name, entry in _catalog_yaml().items():
        for row in entry["values"]:  # type: ignore[attr-defined]
            assert row["source"] in {"FACT-docs", "FACT-3p", "OLD-docs", "FACT-CLI", "GUESS"}, name


def test_the_generated_catalogs_agree_with_the_data_file() -> None:
    pytest.importorskip("gigstack_async.catalogs")
    for name in _catalog_yaml():
        assert fiscal._rows_from_module(name) == fiscal._rows_from_yaml(name), name


# ---------------------------------------------------------------------------------- whole bodies


def test_invoice_body_from_the_docs_example_passes() -> None:
    # FACT-docs create-income-invoice example (P01 included), as a plain mapping.
    fiscal.invoice(
        {
            "automation_type": "pue_invoice",
            "currency": "MXN",
            "use": "P01",
            "payment_form": "03",
            "payment_method": "PUE",
            "client": {"id": "client_1234567890"},
            "items": [{"quantity": 1, "unit_price": 1500}],
        }
    )


def test_invoice_body_as_generated_models() -> None:
    from gigstack_async._generated import models

    body = models.InvoiceIncomeInput(
        client=models.ClientInput(
            tax_id=MORAL,
            tax_system="612",  # personas físicas only, but the RFC is a persona moral
            address=models.ClientAddress(zip="03100"),
        ),
        currency="USD",
        exchange_rate=Decimal("17.1"),
    )
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.invoice(body)
    assert "persona moral" in _broken(excinfo, "client.tax_system")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"client": {"tax_id": "EKU9013173C9"}}, "client.tax_id"),
        ({"client": {"tax_id": MORAL, "use": "D01"}}, "client.use"),
        ({"client": {"tax_id": MORAL}, "use": "D01"}, "use"),
        ({"client": {"address": {"zip": "3100"}}}, "client.address.zip"),
        ({"client": {"tax_id": "XAXX010101000", "tax_system": "601"}}, "client.tax_system"),
        ({"payment_method": "PPD", "payment_form": "03"}, "payment_form"),
        ({"currency": "USD"}, "exchange_rate"),
        ({"exchange_rate": "17.5"}, "exchange_rate"),
        (
            {"related_documents": [{"relationship": "10", "documents": []}]},
            "related_documents[0].relationship",
        ),
        ({"global": {"periodicity": "04", "months": "13", "year": 2024}}, "months"),
    ],
)
def test_invoice_body_names_the_broken_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.invoice(body)
    _broken(excinfo, field)


def test_generated_global_field_is_read() -> None:
    from gigstack_async._generated import models

    body = models.InvoiceIncomeInput(
        global_=models.GlobalInvoiceInfo(periodicity="04", months="14", year=2024)
    )
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.invoice(body)
    _broken(excinfo, "months")


def test_payment_and_cancel_bodies() -> None:
    fiscal.payment({"client": {"id": "client_1"}, "payment_form": "03", "currency": "MXN"})
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.payment({"payment_form": "07"})
    _broken(excinfo, "payment_form")
    fiscal.cancel({"motive": "02"})
    with pytest.raises(InvalidParameterError) as excinfo:
        fiscal.cancel({"motive": "01"})
    _broken(excinfo, "substitution_uuid")
