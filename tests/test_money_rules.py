"""Money input rules, message by message (issue 13: mutation survivors in money.py).

An amount the SDK refuses is refused before any request is sent, with an `InvalidAmountError`
whose message is all the user reads: it must name the argument (`field`), say what is wrong
(`rule`) and keep the value that was refused (`value`), for every kind of refusal. The limits
(28 as the largest exponent, 80 characters for a decimal string, 56 written decimals) are
checked on both sides of the boundary. Pure function calls only: every mutant runs this file.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from gigstack_async.errors import InvalidParameterError
from gigstack_async.money import (
    InvalidAmountError,
    currency_decimals,
    format_decimal,
    round_amount,
    to_decimal,
)

NOISE = 0.1 + 0.2  # 0.30000000000000004
LONG = "0" * 78 + "1.5"  # 81 characters: one beyond what a decimal string may have
ROUND_IT = "are allowed (round it first, e.g. with round_amount)"


def refused(call: Any, *args: Any, **kwargs: Any) -> InvalidAmountError:
    with pytest.raises(InvalidAmountError) as caught:
        call(*args, **kwargs)
    error = caught.value
    assert isinstance(error, InvalidParameterError)  # `except ValueError` catches it too
    assert str(error) == f"{error.field}: {error.rule}"
    return error


# --------------------------------------------------------------------------- to_decimal


@pytest.mark.parametrize(
    ("value", "max_decimals", "rule"),
    [
        (True, 6, "True is a bool, not an amount"),
        (10**28, 6, "the integer is too large to be an amount"),
        (-(10**28), 6, "the integer is too large to be an amount"),
        (float("nan"), 6, "NaN is not an amount"),
        (float("-inf"), 6, "-inf is not an amount"),
        (
            NOISE,
            6,
            "the float 0.30000000000000004 carries binary rounding noise; "
            "pass a Decimal or a string with the digits you mean",
        ),
        ("12,50", 6, "'12,50' is not a decimal number"),
        # A valid decimal, too long: said so, not "is not a decimal number" (as it was).
        (LONG, 6, "a decimal string has at most 80 characters, got 81"),
        ("x" * 10**6, 6, "a decimal string has at most 80 characters, got 1000000"),
        (b"12.50", 6, "expected Decimal, int or a decimal string, got bytes"),
        (Decimal("NaN"), 6, "NaN is not an amount"),
        (Decimal("Infinity"), 6, "Infinity is not an amount"),
        (Decimal("1E+28"), 6, "1.000000E+28 is out of range for an amount (|exponent| ≤ 28)"),
        (Decimal("1E-29"), None, "1.000000E-29 is out of range for an amount (|exponent| ≤ 28)"),
        ("1.1234567", 6, f"1.1234567 has 7 decimals; at most 6 {ROUND_IT}"),
        ("1.5", 0, f"1.5 has 1 decimals; at most 0 {ROUND_IT}"),
    ],
)
def test_a_refused_amount_names_the_field_the_reason_and_the_value(
    value: Any, max_decimals: int | None, rule: str
) -> None:
    error = refused(to_decimal, value, name="unit_price", max_decimals=max_decimals)
    assert str(error) == f"unit_price: {rule}"
    assert error.field == "unit_price"
    assert error.value is value  # what the caller passed, not a converted copy


@pytest.mark.parametrize(
    ("value", "max_decimals", "written"),
    [
        (10**28 - 1, 6, "9" * 28),  # the largest integer amount
        (-(10**28) + 1, 6, "-" + "9" * 28),
        (Decimal("9.5E+27"), 6, "95" + "0" * 26),  # exponent 27: the largest allowed
        (Decimal("1E-28"), None, "0." + "0" * 27 + "1"),  # exponent -28: the smallest
        ("0" * 77 + "1.5", 6, "1.5"),  # exactly 80 characters
        (f"  {'0' * 77}1.5  ", 6, "1.5"),  # surrounding spaces do not count
        ("100", 0, "100"),  # whole units (a currency without cents)
        (Decimal("1E+2"), 0, "100"),
        (1160, 0, "1160"),
        ("2.50", 2, "2.50"),
    ],
)
def test_amounts_at_the_limits_are_accepted_digit_for_digit(
    value: Any, max_decimals: int | None, written: str
) -> None:
    amount = to_decimal(value, name="unit_price", max_decimals=max_decimals)
    assert format_decimal(amount) == written


# --------------------------------------------------------------------------- format_decimal


def test_format_decimal_writes_up_to_56_decimals_and_refuses_more() -> None:
    fifty_six = Decimal("1." + "0" * 55 + "1")
    assert format_decimal(fifty_six) == "1." + "0" * 55 + "1"
    fifty_seven = Decimal("1." + "0" * 56 + "1")
    error = refused(format_decimal, fifty_seven)
    assert str(error) == "amount: 1.000000E+0 cannot be written as an amount"
    assert error.field == "amount"
    assert error.value is fifty_seven


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1E+28"), "1.000000E+28"),
        (Decimal("-1E+28"), "-1.000000E+28"),
        (Decimal("1E-29"), "1.000000E-29"),
        (Decimal("Infinity"), "Infinity"),
    ],
)
def test_format_decimal_refuses_what_is_out_of_range(value: Decimal, shown: str) -> None:
    error = refused(format_decimal, value)
    assert str(error) == f"amount: {shown} cannot be written as an amount"
    assert error.value is value


def test_format_decimal_writes_the_range_limits_positionally() -> None:
    assert format_decimal(Decimal("9.99E+27")) == "999" + "0" * 25
    assert format_decimal(Decimal("-1E-28")) == "-0." + "0" * 27 + "1"


# --------------------------------------------------------------------------- rounding


def test_round_amount_names_the_amount_when_it_is_not_one() -> None:
    error = refused(round_amount, "12,50")
    assert str(error) == "amount: '12,50' is not a decimal number"
    assert error.field == "amount"
    assert error.value == "12,50"


@pytest.mark.parametrize("call", [currency_decimals, lambda c: round_amount("1.5", c)])
def test_an_unknown_currency_is_refused_by_name(call: Any) -> None:
    error = refused(call, "MXP")  # the peso's pre-1993 code: not on c_Moneda today
    assert str(error) == "currency: decimals of 'MXP' unknown to this SDK; round it yourself"
    assert error.field == "currency"
    assert error.value == "MXP"


def test_round_amount_takes_decimals_without_limit_and_rounds_half_up() -> None:
    # 28 integer digits and 40 decimals: the extreme an amount may have, rounded half up.
    huge = "9" * 27 + "8." + "5" * 40
    assert round_amount(huge) == Decimal("9" * 27 + "8.56")
    assert round_amount(huge, "jpy") == Decimal("9" * 28)
    assert round_amount("0.00005", "CLF") == Decimal("0.0001")  # 4 decimals (UF)
    # The most digits a rounded amount can have (28 + 1 carried + 4 decimals) still fit.
    assert round_amount("9" * 28 + ".99995", "CLF") == Decimal("1" + "0" * 28 + ".0000")
