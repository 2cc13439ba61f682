"""Argument checks and request assembly used by the generated resources (`_generated/resources`).

Every check runs before anything is sent, returns the value to send, and passes None through (an
optional argument that was not given). Bad values raise InvalidParameterError (a ValueError) or
TypeError naming the argument, like the hand-written checks in `_validation`.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.v import format_exception

from gigstack_async import _validation as check
from gigstack_async._convert import structure_input, unstructure
from gigstack_async._operation import FieldLimits, Operation
from gigstack_async._upload import FileInput, file_part
from gigstack_async.errors import InvalidParameterError
from gigstack_async.transports.base import MultipartField

E = TypeVar("E", bound=enum.Enum)

EMPTY_BODY: Mapping[str, Any] = {}
"""The JSON body `{}` of an operation that requires a body but takes no fields."""

__all__ = [
    "EMPTY_BODY",
    "FileInput",
    "boolean",
    "check_limits",
    "choice",
    "date_param",
    "datetime_param",
    "enum_param",
    "integer",
    "json_body",
    "model_body",
    "multipart",
    "number",
    "path_value",
    "string",
]


def path_value(field: str, value: object) -> str:
    """A path segment: a non-blank string (an empty id would address another endpoint)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"{field}: expected str, got {type(value).__name__}")
    text = str(value)
    if not text.strip():
        raise InvalidParameterError(field, "must not be empty", value)
    return text


def string(
    field: str,
    value: object,
    *,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{field}: expected str, got {type(value).__name__}")
    if min_length is not None and len(value) < min_length:
        raise InvalidParameterError(field, f"must be at least {min_length} characters", value)
    if max_length is not None and len(value) > max_length:
        raise InvalidParameterError(field, f"must be at most {max_length} characters", value)
    if pattern is not None and re.search(pattern, value) is None:
        raise InvalidParameterError(field, f"must match {pattern}", value)
    return value


def integer(
    field: str, value: object, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field}: expected int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise InvalidParameterError(field, f"must be ≥ {minimum}", value)
    if maximum is not None and value > maximum:
        raise InvalidParameterError(field, f"must be ≤ {maximum}", value)
    return value


def number(
    field: str, value: object, minimum: float | None = None, maximum: float | None = None
) -> float | int | Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"{field}: expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise InvalidParameterError(field, "must be a finite number", value)
    if minimum is not None and value < minimum:
        raise InvalidParameterError(field, f"must be ≥ {minimum}", value)
    if maximum is not None and value > maximum:
        raise InvalidParameterError(field, f"must be ≤ {maximum}", value)
    return value


def boolean(field: str, value: object) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise TypeError(f"{field}: expected bool, got {type(value).__name__}")
    return value


def enum_param(field: str, value: object, enum_cls: type[E]) -> E | None:
    """A member of `enum_cls` (given as the member or its value); unknown values are refused."""
    return None if value is None else check.enum_value(field, value, enum_cls)


def choice(field: str, value: object, allowed: tuple[str, ...]) -> str | None:
    """One of `allowed` (an inline enum of the spec)."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        value = value.value
    if not isinstance(value, str):
        raise TypeError(f"{field}: expected str, got {type(value).__name__}")
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise InvalidParameterError(field, f"must be one of {shown}", value)
    return value


def date_param(field: str, value: object) -> date | None:
    return None if value is None else check.date_value(field, value)


def datetime_param(field: str, value: object) -> datetime | str | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise InvalidParameterError(field, "must be an ISO 8601 date-time", value) from None
    raise TypeError(f"{field}: expected a datetime or an ISO 8601 str, got {type(value).__name__}")


def _describe(error: BaseException, target: type | None) -> str:
    # Our own argument errors already say what is wrong ("NaN is not an amount"); cattrs'
    # generic wording ("invalid value for type") would hide it.
    if isinstance(error, InvalidParameterError):
        return error.rule
    return format_exception(error, target)


def json_body(model: type, values: Mapping[str, Any]) -> Any:
    """The JSON body for `model` from keyword arguments (Python names; None = not given).

    The values go through the model's own converter, so an enum given as its string, a nested
    model or a date all arrive as JSON, and a value of the wrong type is refused here, before
    anything is sent, with the field named.
    """
    names = {
        field.name: field.metadata.get("json_name", field.name) for field in attrs.fields(model)
    }
    data = {names[name]: unstructure(value) for name, value in values.items() if value is not None}
    try:
        instance: Any = structure_input(data, model)
    except cattrs.BaseValidationError as exc:
        reasons = "; ".join(
            cattrs.transform_error(exc, path=model.__name__, format_exception=_describe)[:5]
        )
        raise InvalidParameterError(model.__name__, reasons) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidParameterError(model.__name__, str(exc)) from None
    body = unstructure(instance)
    check_limits(model.__name__, body)
    return body


def model_body(body: object) -> Any:
    """The JSON of a whole model given as the body, checked against the spec's field limits."""
    data = unstructure(body)
    check_limits(type(body).__name__, data)
    return data


def check_limits(model: str, data: Any, path: str = "") -> None:
    """Enforce the spec's limits on the JSON body of `model` (minimum, exclusiveMinimum,
    maxItems, minLength, pattern, …; `_generated.operations.LIMITS`), nested models and array
    items included. Raises InvalidParameterError naming the field path (`items[0].quantity`)."""
    from gigstack_async._generated.operations import LIMITS  # the table imports the models

    fields = LIMITS.get(model)
    if not fields or not isinstance(data, Mapping):
        return
    for wire, limit in fields.items():
        value = data.get(wire)
        if value is None:
            continue
        where = f"{path}.{wire}" if path else wire
        _check_value(where, value, limit)
        if limit.model is not None:
            check_limits(limit.model, value, where)
        if limit.items_model is not None and isinstance(value, list):
            for index, item in enumerate(value):
                check_limits(limit.items_model, item, f"{where}[{index}]")


def _check_value(where: str, value: Any, limit: FieldLimits) -> None:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number_ = Decimal(str(value))
        if limit.minimum is not None:
            low = Decimal(str(limit.minimum))
            if number_ < low or (limit.exclusive_minimum and number_ == low):
                sign = ">" if limit.exclusive_minimum else "≥"
                raise InvalidParameterError(where, f"must be {sign} {limit.minimum}", value)
        if limit.maximum is not None:
            high = Decimal(str(limit.maximum))
            if number_ > high or (limit.exclusive_maximum and number_ == high):
                sign = "<" if limit.exclusive_maximum else "≤"
                raise InvalidParameterError(where, f"must be {sign} {limit.maximum}", value)
    if isinstance(value, list):
        if limit.min_items is not None and len(value) < limit.min_items:
            raise InvalidParameterError(where, f"needs at least {limit.min_items} item(s)", value)
        if limit.max_items is not None and len(value) > limit.max_items:
            raise InvalidParameterError(where, f"takes at most {limit.max_items} items", value)
    if isinstance(value, str):
        if limit.min_length is not None and len(value) < limit.min_length:
            raise InvalidParameterError(
                where, f"must be at least {limit.min_length} characters", value
            )
        if limit.max_length is not None and len(value) > limit.max_length:
            raise InvalidParameterError(
                where, f"must be at most {limit.max_length} characters", value
            )
        if limit.pattern is not None and re.search(limit.pattern, value) is None:
            raise InvalidParameterError(where, f"must match {limit.pattern}", value)


def multipart(
    op: Operation, values: Mapping[str, Any], files: tuple[str, ...]
) -> tuple[MultipartField, ...]:
    """The multipart parts of `op`: files read and checked against `op.upload`, values as text."""
    parts: list[MultipartField] = []
    for name, value in values.items():
        if value is None:
            continue
        if name in files:
            parts.append(file_part(name, value, op.upload))
        elif isinstance(value, enum.Enum):
            parts.append(MultipartField(name, str(value.value)))
        elif isinstance(value, bool):
            parts.append(MultipartField(name, "true" if value else "false"))
        elif isinstance(value, date | datetime):
            parts.append(MultipartField(name, value.isoformat()))
        else:
            parts.append(MultipartField(name, str(value)))
    return tuple(parts)
