"""Models → plain JSON-ready data, with the API's own field names (what a web backend returns)."""

from __future__ import annotations

import base64
import enum
import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from gigstack_async._convert import unstructure

__all__ = ["to_dict", "to_json"]


def to_dict(obj: Any) -> Any:
    """A model (or a list of models, or a page) as plain data ready for `json.dumps`.

    Keys are the API's wire names (`from`, not `from_`); unset optional fields are left out;
    enums become their values (an unknown value this SDK kept is given back as sent); dates and
    datetimes become ISO 8601 strings; bytes become base64 text. `Decimal` amounts become
    strings with every digit kept (`"1160.00"`): a float would round money, so parse them with
    `Decimal(...)` or let your JSON layer write them as numbers. Everything else that is already
    JSON (str, int, float, bool, None) is returned as is.
    """
    return _plain(unstructure(obj))


def to_json(obj: Any, **dumps_kwargs: Any) -> str:
    """`json.dumps(to_dict(obj), ensure_ascii=False, **dumps_kwargs)`: one JSON document."""
    dumps_kwargs.setdefault("ensure_ascii", False)
    return json.dumps(to_dict(obj), **dumps_kwargs)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "__attrs_attrs__"):
        return _plain(unstructure(value))
    raise TypeError(f"to_dict: cannot turn a {type(value).__name__} into JSON data")
