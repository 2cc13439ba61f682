"""Exact money: amounts are `decimal.Decimal` from the wire to the user and back.

Every amount, price, rate, quantity and exchange rate in gigstack_async is a `Decimal`
(the spec marks them `type: number, format: decimal`). Binary floats never carry money: a sum of
0.1-peso steps drifts, and SAT validates totals to the cent.

What users pass in (`to_decimal`):

>>> to_decimal("1160.10", name="total")
Decimal('1160.10')
>>> to_decimal(1160, name="total")
Decimal('1160')
>>> to_decimal(0.1, name="price")          # a float is read through its shortest repr
Decimal('0.1')
>>> to_decimal(float("nan"), name="price")
Traceback (most recent call last):
...
gigstack_async.money.InvalidAmountError: price: NaN is not an amount

Rounding the SAT way (to the currency's decimals, half up):

>>> round_amount(Decimal("1234.57") * Decimal("0.16"), "MXN")
Decimal('197.53')
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Final

from gigstack_async.errors import InvalidParameterError

__all__ = [
    "CFDI_MAX_DECIMALS",
    "CURRENCY_DECIMALS",
    "MAX_MAGNITUDE",
    "InvalidAmountError",
    "MoneyInput",
    "currency_decimals",
    "format_decimal",
    "in_range",
    "round_amount",
    "to_decimal",
]

MoneyInput = Decimal | int | str | float
"""What a money parameter accepts: `Decimal`, `int`, a decimal string, or a float (read through
its shortest repr, see `to_decimal`)."""

CFDI_MAX_DECIMALS: Final = 6
"""Anexo 20 (CFDI 4.0) lets amounts, unit values and quantities carry up to 6 decimals."""

# ISO 4217 minor units, which SAT's c_Moneda catalog repeats as "Decimales" (FACT-3p: ISO 4217;
# SAT publishes c_Moneda with the same numbers). Only currencies seen on CFDIs are listed; an
# unlisted currency is refused by `currency_decimals`, never guessed.
CURRENCY_DECIMALS: Final[dict[str, int]] = {
    "MXN": 2,
    "USD": 2,
    "EUR": 2,
    "CAD": 2,
    "GBP": 2,
    "CHF": 2,
    "CNY": 2,
    "BRL": 2,
    "ARS": 2,
    "COP": 2,
    "PEN": 2,
    "JPY": 0,
    "CLP": 0,
    "KRW": 0,
    "CLF": 4,
    "BHD": 3,
    "XXX": 0,  # "no currency": payment (P) and transfer (T) CFDIs
}

_DECIMAL_LITERAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class InvalidAmountError(InvalidParameterError):
    """An amount that cannot be sent exactly: NaN, infinite, not a number, a bool, or with more
    decimals than the field allows. Raised before any request is sent; `field` names it."""


MAX_MAGNITUDE: Final = 28
"""An amount's most significant digit is at most 10**27 and at least 10**-28 (Decimal's
`adjusted()` in -28..27): far beyond any real amount (CFDI allows 18 integer digits and 6
decimals), and it keeps a 10-byte `1e999999999` from becoming a gigabyte of digits."""


def in_range(value: Decimal) -> bool:
    """Finite, and within `MAX_MAGNITUDE` (zero always is)."""
    return value.is_finite() and (not value or -MAX_MAGNITUDE <= value.adjusted() < MAX_MAGNITUDE)


def to_decimal(
    value: object, *, name: str, max_decimals: int | None = CFDI_MAX_DECIMALS
) -> Decimal:
    """`value` as an exact `Decimal`, or `InvalidAmountError` naming `name`.

    Accepts `Decimal`, `int` and decimal strings of at most 80 characters (`"1160.10"`, `".5"`,
    `"+1"`; surrounding spaces ignored and not counted). A `float` (numpy's included) is read
    through its shortest repr (`0.1` → `Decimal("0.1")`): that is the decimal the float was
    written as. A float whose shortest repr still carries binary noise (`0.1 + 0.2` →
    `0.30000000000000004`) is refused: pass a `Decimal` or a string. `bool`, NaN, infinities,
    amounts beyond `MAX_MAGNITUDE` and amounts with more than `max_decimals` decimals (CFDI's 6
    by default; `None`: no limit) are refused before anything is sent; nothing is rounded
    silently. `-0` becomes `0`.
    """
    if isinstance(value, bool):
        raise InvalidAmountError(name, f"{value!r} is a bool, not an amount", value)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        if abs(value) >= 10**MAX_MAGNITUDE:
            raise InvalidAmountError(name, "the integer is too large to be an amount", value)
        result = Decimal(value)
    elif isinstance(value, float):
        if math.isnan(value):
            raise InvalidAmountError(name, "NaN is not an amount", value)
        if math.isinf(value):
            raise InvalidAmountError(name, f"{float.__repr__(value)} is not an amount", value)
        result = Decimal(float.__repr__(value))  # numpy's repr is "np.float64(…)"
        noisy = decimals_of(result) > CFDI_MAX_DECIMALS  # more than any amount can carry
        if max_decimals is not None and noisy and in_range(result):
            raise InvalidAmountError(
                name,
                f"the float {float.__repr__(value)} carries binary rounding noise; pass a "
                "Decimal or a string with the digits you mean",
                value,
            )
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > 80:  # checked first: no regex over a megabyte of text
            raise InvalidAmountError(
                name, f"a decimal string has at most 80 characters, got {len(text)}", value
            )
        if not _DECIMAL_LITERAL.fullmatch(text):
            raise InvalidAmountError(name, f"{value!r:.60} is not a decimal number", value)
        result = Decimal(text)
    else:
        raise InvalidAmountError(
            name, f"expected Decimal, int or a decimal string, got {type(value).__name__}", value
        )
    if result.is_nan():
        raise InvalidAmountError(name, "NaN is not an amount", value)
    if result.is_infinite():
        raise InvalidAmountError(name, f"{result} is not an amount", value)
    if not in_range(result):
        raise InvalidAmountError(
            name, f"{result:.6E} is out of range for an amount (|exponent| ≤ 28)", value
        )
    if max_decimals is not None and decimals_of(result) > max_decimals:
        raise InvalidAmountError(
            name,
            f"{format_decimal(result)} has {decimals_of(result)} decimals; "
            f"at most {max_decimals} are allowed (round it first, e.g. with round_amount)",
            value,
        )
    return result.copy_abs() if result.is_zero() else result


def decimals_of(value: Decimal) -> int:
    """How many decimals `value` is written with (`Decimal("1.50")` → 2, `Decimal("1E+2")` → 0)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def format_decimal(value: Decimal) -> str:
    """Positional notation, digits unchanged: `1160.10` → `"1160.10"`, `1E+2` → `"100"`,
    `1E-7` → `"0.0000001"`. Never an exponent (SAT and JSON readers differ on those).
    Refuses NaN, infinities and values beyond `MAX_MAGNITUDE` (they would print as megabytes)."""
    if not in_range(value) or decimals_of(value) > 2 * MAX_MAGNITUDE:
        raise InvalidAmountError("amount", f"{value:.6E} cannot be written as an amount", value)
    return format(value, "f")


def currency_decimals(currency: str) -> int:
    """Decimals an amount in `currency` is rounded to (c_Moneda / ISO 4217 minor units)."""
    try:
        return CURRENCY_DECIMALS[currency.upper()]
    except KeyError:
        raise InvalidAmountError(
            "currency", f"decimals of {currency!r} unknown to this SDK; round it yourself", currency
        ) from None


def round_amount(value: MoneyInput, currency: str = "MXN") -> Decimal:
    """`value` rounded to the currency's decimals, half up (0.005 → 0.01), as CFDI amounts are.

    Accepts what `to_decimal` accepts (without its decimals limit); never returns `-0`."""
    amount = to_decimal(value, name="amount", max_decimals=None)
    quantum = Decimal(1).scaleb(-currency_decimals(currency))
    # Enough precision for any in-range amount, whatever the caller's decimal context says.
    with localcontext(Context(prec=2 * MAX_MAGNITUDE + 2)):
        rounded = amount.quantize(quantum, rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded
