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
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

from gigstack_async.errors import InvalidParameterError

__all__ = [
    "CFDI_MAX_DECIMALS",
    "CURRENCY_DECIMALS",
    "InvalidAmountError",
    "MoneyInput",
    "currency_decimals",
    "format_decimal",
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
    "XXX": 0,  # "no currency": payment (P) and transfer (T) CFDIs
}

_DECIMAL_LITERAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class InvalidAmountError(InvalidParameterError):
    """An amount that cannot be sent exactly: NaN, infinite, not a number, a bool, or with more
    decimals than the field allows. Raised before any request is sent; `field` names it."""


def to_decimal(value: object, *, name: str, max_decimals: int | None = None) -> Decimal:
    """`value` as an exact `Decimal`, or `InvalidAmountError` naming `name`.

    Accepts `Decimal`, `int` and decimal strings (`"1160.10"`, surrounding spaces ignored).
    A `float` is accepted and read through its shortest repr (`0.1` → `Decimal("0.1")`,
    `1160.1` → `Decimal("1160.1")`): that is the decimal the float was written as in source or
    parsed from, so no binary noise (`0.1000000000000000055…`) reaches SAT. `bool`, NaN and
    infinities are refused, and so is an amount with more than `max_decimals` decimals (checked
    before sending; nothing is rounded silently).
    """
    if isinstance(value, bool):
        raise InvalidAmountError(name, f"{value!r} is a bool, not an amount", value)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if math.isnan(value):
            raise InvalidAmountError(name, "NaN is not an amount", value)
        if math.isinf(value):
            raise InvalidAmountError(name, f"{value} is not an amount", value)
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_LITERAL.fullmatch(text):
            raise InvalidAmountError(name, f"{value!r} is not a decimal number", value)
        try:
            result = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the regex already refused it
            raise InvalidAmountError(name, f"{value!r} is not a decimal number", value) from exc
    else:
        raise InvalidAmountError(
            name, f"expected Decimal, int or a decimal string, got {type(value).__name__}", value
        )
    if result.is_nan():
        raise InvalidAmountError(name, "NaN is not an amount", value)
    if result.is_infinite():
        raise InvalidAmountError(name, f"{result} is not an amount", value)
    if max_decimals is not None and decimals_of(result) > max_decimals:
        raise InvalidAmountError(
            name,
            f"{format_decimal(result)} has {decimals_of(result)} decimals; "
            f"at most {max_decimals} are allowed (round it first, e.g. with round_amount)",
            value,
        )
    return result


def decimals_of(value: Decimal) -> int:
    """How many decimals `value` is written with (`Decimal("1.50")` → 2, `Decimal("1E+2")` → 0)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def format_decimal(value: Decimal) -> str:
    """Positional notation, digits unchanged: `1160.10` → `"1160.10"`, `1E+2` → `"100"`,
    `1E-7` → `"0.0000001"`. Never an exponent (SAT and JSON readers differ on those)."""
    if not value.is_finite():
        raise InvalidAmountError("amount", f"{value} is not an amount", value)
    return format(value, "f")


def currency_decimals(currency: str) -> int:
    """Decimals an amount in `currency` is rounded to (c_Moneda / ISO 4217 minor units)."""
    try:
        return CURRENCY_DECIMALS[currency.upper()]
    except KeyError:
        raise InvalidAmountError(
            "currency", f"decimals of {currency!r} unknown to this SDK; round it yourself", currency
        ) from None


def round_amount(value: Decimal, currency: str = "MXN") -> Decimal:
    """`value` rounded to the currency's decimals, half up (0.005 → 0.01), as CFDI amounts are."""
    quantum = Decimal(1).scaleb(-currency_decimals(currency))
    return value.quantize(quantum, rounding=ROUND_HALF_UP)
