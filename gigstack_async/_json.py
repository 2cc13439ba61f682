"""JSON in and out with exact numbers.

`loads(raw, exact=True)` reads every JSON number with a fraction or exponent as `Decimal`, so the
digits the server sent are the digits the user gets (`1160.10` stays `Decimal("1160.10")`).
`dumps(obj)` writes `Decimal` as a JSON number in positional notation with its digits unchanged
(no float conversion, no exponent). The standard library cannot do the second part: its encoder
writes floats with `float.__repr__` and refuses `Decimal`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gigstack_async.money import format_decimal, in_range

_encode_string = json.encoder.encode_basestring  # C-accelerated when available
_encode_string_ascii = json.encoder.encode_basestring_ascii


class NumberRefused(ValueError):
    """Valid JSON syntax whose number is refused: NaN/Infinity, out of range, unreadable."""


def _bounded_number(token: str) -> Decimal:
    """A JSON number with a fraction or exponent, refused beyond money.MAX_MAGNITUDE."""
    value = Decimal(token)
    if not in_range(value):
        raise NumberRefused(f"number {token[:40]!r} is out of range")
    return value


def _refuse_constant(name: str) -> Any:
    # NaN / Infinity are not JSON (RFC 8259); Python accepts them by default.
    raise NumberRefused(f"{name} is not a JSON number")


# Built once: `json.loads(raw, parse_float=...)` would build a new decoder on every call, which
# costs more per request than the whole exact parse of a small body.
# `Decimal` itself parses the token (a C call; a Python wrapper per number cost more than the
# rest of a page's decoding). Magnitudes are bounded where values are used: the converter
# refuses amounts beyond money.MAX_MAGNITUDE and `format_decimal` never expands one.
_EXACT = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)
_PLAIN = json.JSONDecoder(parse_constant=_refuse_constant)
# For bodies kept and echoed whole (the sandbox's requests): no magnitude may pass at all.
_BOUNDED = json.JSONDecoder(parse_float=_bounded_number, parse_constant=_refuse_constant)


def loads(raw: bytes | str, *, exact: bool = True, bounded: bool = False) -> Any:
    """Parse JSON; with `exact`, numbers with a fraction or exponent become `Decimal`.

    `NaN`, `Infinity` and `-Infinity` are refused with ValueError in both modes. Bytes are
    decoded as `json.loads` does (UTF-8, or UTF-16/32 by their first bytes). `bounded` also
    refuses fractional numbers beyond money.MAX_MAGNITUDE at parse time (ValueError).
    """
    text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), "surrogatepass")
    try:
        return (_BOUNDED if bounded else _EXACT if exact else _PLAIN).decode(text)
    except ArithmeticError as exc:  # decimal.InvalidOperation and friends: not a usable number
        raise NumberRefused(f"a number in the JSON cannot be read: {type(exc).__name__}") from None


def dumps(obj: Any, *, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON; `Decimal` → a JSON number with the same digits, never an exponent.

    Raises ValueError for NaN/infinite numbers and TypeError for values JSON cannot hold.
    `sort_keys` orders every object's keys (a canonical form, e.g. to hash a body).
    """
    if sort_keys:
        obj = _sorted(obj)
    parts: list[str] = []
    _encode(obj, parts.append, _encode_string)
    text = "".join(parts)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (from a decoded filename, say) has no UTF-8 form: escape every
        # string as \uXXXX, which JSON allows and every reader understands.
        parts.clear()
        _encode(obj, parts.append, _encode_string_ascii)
        return "".join(parts).encode("ascii")


def _sorted(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {key: _sorted(obj[key]) for key in sorted(obj)}
    if isinstance(obj, list | tuple):
        return [_sorted(item) for item in obj]
    return obj


def _encode(obj: Any, emit: Any, string: Any) -> None:
    if obj is None:
        emit("null")
    elif obj is True:
        emit("true")
    elif obj is False:
        emit("false")
    elif isinstance(obj, str):
        emit(string(obj))
    elif isinstance(obj, Decimal):
        emit(format_decimal(obj))
    elif isinstance(obj, int):
        emit(int.__repr__(obj))
    elif isinstance(obj, float):
        if obj != obj or obj in (float("inf"), float("-inf")):
            raise ValueError(f"{obj!r} is not a JSON number")
        emit(float.__repr__(obj))
    elif isinstance(obj, Mapping):
        emit("{")
        first = True
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, got {type(key).__name__}")
            if not first:
                emit(",")
            first = False
            emit(string(key))
            emit(":")
            _encode(value, emit, string)
        emit("}")
    elif isinstance(obj, list | tuple):
        emit("[")
        for index, value in enumerate(obj):
            if index:
                emit(",")
            _encode(value, emit, string)
        emit("]")
    else:
        raise TypeError(f"{type(obj).__name__} is not JSON serializable")
