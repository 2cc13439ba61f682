"""Models → plain JSON-ready data, with the API's own field names (what a web backend returns)."""

from __future__ import annotations

import base64
import enum
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from gigstack_async import _json
from gigstack_async._convert import unstructure
from gigstack_async.money import format_decimal

__all__ = ["to_dict", "to_json"]


def to_dict(obj: Any) -> Any:
    """A model (or a list of models, or a page) as plain data ready for `json.dumps`.

    Keys are the API's wire names (`from`, not `from_`); unset optional fields are left out;
    enums become their values (an unknown value this SDK kept is given back as sent); dates and
    datetimes become ISO 8601 strings; bytes become base64 text. `Decimal` amounts (money)
    become strings with every digit kept and never an exponent (`"1160.10"`, `1E+2` → `"100"`),
    the same digits `to_json` writes as exact JSON numbers (both use `money.format_decimal`):
    `json.dumps` cannot write a Decimal and a float would round it. A NaN, infinite or
    out-of-range amount raises `InvalidAmountError`, as in `to_json`. Everything else
    that is already JSON (str, int, float, bool, None) is returned as is.
    """
    return _plain(unstructure(obj), exact=False)


def to_json(obj: Any) -> str:
    """One compact JSON document: `to_dict(obj)`, but `Decimal` amounts are written as JSON
    numbers with exactly their digits (`1160.10`, never `1160.1` or an exponent)."""
    return _json.dumps(_plain(unstructure(obj), exact=True)).decode("utf-8")


def _plain(value: Any, *, exact: bool) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item, exact=exact) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item, exact=exact) for item in value]
    if isinstance(value, Decimal):
        return value if exact else format_decimal(value)
    if isinstance(value, enum.Enum):
        return _plain(value.value, exact=exact)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "__attrs_attrs__"):
        return _plain(unstructure(value), exact=exact)
    raise TypeError(f"to_dict: cannot turn a {type(value).__name__} into JSON data")
