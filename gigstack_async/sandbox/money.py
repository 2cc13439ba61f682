"""Amounts as `decimal.Decimal` end to end: parsing, SAT rounding, line totals, exact JSON.

SAT rounds every amount to the currency's decimals, half up (issue 14). Nothing here touches a
float: request bodies are parsed with `parse_float=Decimal`, and `dumps` writes a Decimal as the
JSON number literal it is (`1160.00`), so a client decoding with Decimal gets it back exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import attrs
from aiohttp import web

from gigstack_async import _json
from gigstack_async.sandbox.envelopes import invalid

CURRENCY_DECIMALS: Mapping[str, int] = {"JPY": 0, "KRW": 0, "CLP": 0, "CLF": 4, "BHD": 3}
"""Currencies whose minor unit is not 2 decimals (ISO 4217); every other code has 2."""

MAX_AMOUNT = Decimal(10) ** 12
"""Amounts, prices and quantities stay below this, so every product and rounding fits Decimal's
28 digits (SAT's own importe limit is far above any real invoice; GUESS for the API's)."""

_CURRENCY = re.compile(r"[A-Z]{3}")


def decimals_of(currency: str) -> int:
    """How many decimals SAT keeps for `currency`."""
    return CURRENCY_DECIMALS.get(currency, 2)


def sat_round(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half up to the currency's decimals (SAT's rule for CFDI amounts)."""
    return amount.quantize(Decimal(1).scaleb(-decimals_of(currency)), rounding=ROUND_HALF_UP)


def parse_amount(value: object, field: str, *, positive: bool = False) -> Decimal:
    """A JSON number (or numeric string) as a finite Decimal; 400 `validation_failed` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str, float)):
        raise invalid(field, f"must be a number, got {value!r}")
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise invalid(field, f"must be a number, got {value!r}") from None
    if not amount.is_finite():
        raise invalid(field, f"must be a finite number, got {value!r}")
    if amount < 0 or (positive and amount == 0):
        raise invalid(field, f"must be {'> 0' if positive else '>= 0'}, got {value!r}")
    if amount >= MAX_AMOUNT:
        raise invalid(field, f"must be below {MAX_AMOUNT:,}, got {value!r}")
    return amount


def parse_currency(value: object, field: str = "currency") -> str:
    """An ISO 4217 code (`MXN` when absent)."""
    if value is None:
        return "MXN"
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise invalid(field, f"must be an ISO 4217 code such as MXN or USD, got {value!r}")
    return value


def parse_exchange_rate(body: Mapping[str, Any], currency: str) -> Decimal:
    """`exchange_rate`: 1 for MXN; required (> 0) for any other currency, as SAT requires."""
    raw = body.get("exchange_rate")
    if currency == "MXN":
        if raw is not None and parse_amount(raw, "exchange_rate", positive=True) != 1:
            raise invalid("exchange_rate", "must be 1 (or absent) when currency is MXN")
        return Decimal(1)
    if raw is None:
        raise invalid("exchange_rate", f"is required when currency is {currency} (SAT rule)")
    return parse_amount(raw, "exchange_rate", positive=True)


@attrs.frozen
class Totals:
    """A document's amounts, each already SAT-rounded: `taxes` = transferred − withheld."""

    subtotal: Decimal
    discount: Decimal
    transferred: Decimal
    withheld: Decimal

    @property
    def taxes(self) -> Decimal:
        """Net tax (what the docs' `taxes` number shows)."""
        return self.transferred - self.withheld

    @property
    def total(self) -> Decimal:
        """subtotal − discount + transferred − withheld."""
        return self.subtotal - self.discount + self.transferred - self.withheld


def line_totals(items: Sequence[Mapping[str, Any]], currency: str) -> Totals:
    """Sum already-normalised items (see `routes_common.parse_items`).

    Each line's base is `quantity × unit_price − discount`; when a transferred tax is
    `inclusive`, the price already contains it and the base is divided back out. Each tax amount
    is rounded per line, then summed, as a PAC computes the Impuestos node.
    """
    subtotal = discount = transferred = withheld = Decimal(0)
    for item in items:
        gross = item["quantity"] * item["unit_price"]
        inclusive = sum(
            (t["rate"] for t in item["taxes"] if t["inclusive"] and not t["withholding"]),
            Decimal(0),
        )
        line = sat_round(gross / (1 + inclusive), currency)
        line_discount = item.get("discount", Decimal(0))
        base = line - line_discount
        subtotal += line
        discount += line_discount
        for tax in item["taxes"]:
            if tax["factor"] == "Exento":
                continue
            amount = sat_round(base * tax["rate"], currency)
            if tax["withholding"]:
                withheld += amount
            else:
                transferred += amount
    return Totals(
        sat_round(subtotal, currency),
        sat_round(discount, currency),
        sat_round(transferred, currency),
        sat_round(withheld, currency),
    )


class _JsonNull:
    """An explicit JSON `null` that survives `dumps` (plain None fields are left out)."""

    def __repr__(self) -> str:
        return "NULL"


NULL: Any = _JsonNull()


def _strip(value: Any) -> Any:
    if value is NULL:
        return None
    if isinstance(value, dict):
        # An unset field is left out rather than sent as null: the spec's fields are optional,
        # not nullable (and the real API's examples omit what a resource lacks).
        return {key: _strip(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [_strip(item) for item in value]
    return value


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """JSON text where every Decimal is written as its exact number literal and None-valued
    object fields are omitted (the SDK's own exact encoder, `gigstack_async._json`)."""
    return _json.dumps(_strip(value), sort_keys=sort_keys).decode("utf-8")


def loads(raw: str | bytes) -> Any:
    """JSON with every non-integer number as a Decimal (bounded, like the SDK reads it)."""
    return _json.loads(raw, bounded=True)


def json_response(body: Any, *, status: int = 200) -> web.Response:
    """A JSON response whose Decimals stay exact."""
    return web.Response(text=dumps(body), status=status, content_type="application/json")
