"""The cattrs converter between gigstack JSON and the generated attrs models.

What it guarantees (each one is tested in tests/test_convert.py):
- JSON keys are read and written as on the wire (`invoiceCount`, `from`) while Python attributes
  stay snake_case: generated fields carry the wire name in `metadata["json_name"]`.
- Forward compatible: unknown JSON keys are ignored; an enum value this SDK does not know yet is
  kept as a pseudo-member (`.value` holds the raw string, `is_known()` says False) instead of
  failing the whole response.
- Strict primitives: `None` never becomes `"None"`, `"12"` never becomes `12`, `1.9` never `1`.
- `date` / `datetime` from ISO strings, `UUID` from strings.
- Money is exact: a `Decimal` field takes the JSON number digit for digit (the pipeline parses
  JSON numbers as `Decimal`, see `needs_exact`) or an integer; never a string, a bool, NaN or
  infinity. A `float` field also accepts those `Decimal` numbers.
- JSON `null` in a field that has a default means that default, in every model: the spec's
  `default:` says what an absent value means, and servers write "absent" both ways (a `null`
  `duplicate` on a successful billed create must not read as a failure).
"""

from __future__ import annotations

import enum
import functools
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from gigstack_async.money import MAX_MAGNITUDE, in_range, to_decimal

_BIG_INT = 10**MAX_MAGNITUDE

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

_UNKNOWN = "UNKNOWN"


def is_known(member: enum.Enum) -> bool:
    """False for a value the API sent that this SDK version does not know.

    >>> from gigstack_async._generated.models import SatInvoiceStatus
    >>> is_known(structure("Suspendido", SatInvoiceStatus))
    False
    """
    return member._name_ != _UNKNOWN or member._value_ in type(member)._value2member_map_


@functools.cache
def _pseudo_member(cls: type[E], raw: Any) -> E:
    # An instance of the enum that is not registered in it: isinstance() holds, `.value` keeps the
    # raw value and it unstructures back to it, but `cls(raw)` in user code still raises.
    if issubclass(cls, str):
        member = str.__new__(cls, raw)
    elif issubclass(cls, int):
        member = int.__new__(cls, raw)
    else:
        member = object.__new__(cls)
    member._name_ = _UNKNOWN
    member._value_ = raw
    return member


def open_enum(value: Any, cls: type[E]) -> E:
    """`cls(value)`, or a pseudo-member carrying `value` when the API sent something new."""
    known = cls._value2member_map_.get(value)
    if known is not None:
        return typing.cast(E, known)  # the enum's own member
    if issubclass(cls, str) and not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string value for {cls.__name__}")
    if issubclass(cls, int) and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValueError(f"{value!r} is not an integer value for {cls.__name__}")
    pseudo: E = _pseudo_member(cls, value)
    return pseudo


def _enum_value(member: enum.Enum | str | int) -> Any:
    # attrs does not convert on construction: `TaxElement(type="IVA")` holds the plain string,
    # which is already the wire value.
    return member._value_ if isinstance(member, enum.Enum) else member


def _strict(expected: type, name: str) -> Callable[[Any, type], Any]:
    def hook(value: Any, cl: type) -> Any:
        # bool is an int subclass: a JSON true must not pass as the number 1.
        if type(value) is expected or (isinstance(value, expected) and not isinstance(value, bool)):
            return value
        raise ValueError(f"expected {name}, got {type(value).__name__} {value!r}")

    return hook


def _structure_str(value: Any, cl: type) -> Any:
    if isinstance(value, str):
        return value if cl is str else cl(value)
    raise ValueError(f"expected string, got {type(value).__name__} {value!r}")


def _structure_float(value: Any, cl: type) -> float:
    # JSON has one number type: 100 is a valid float, true is not. An exact parse gives Decimal.
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return float(value)
    raise ValueError(f"expected number, got {type(value).__name__} {value!r}")


def _structure_decimal(value: Any, cl: type) -> Decimal:
    # The exact JSON parse already gives Decimal; an integer is exact too. A float (data parsed
    # by someone else's json.loads) is read through its shortest repr. A string is refused like
    # for any other number: the spec says the wire carries JSON numbers. Magnitudes beyond
    # money.MAX_MAGNITUDE are refused: `1e999999999` must not become a gigabyte of digits.
    if type(value) is Decimal:
        result = value
    elif type(value) is int:
        if -_BIG_INT < value < _BIG_INT:
            return Decimal(value)
        raise ValueError(f"expected an amount, got an integer of {len(str(abs(value)))} digits")
    elif type(value) is float:
        result = Decimal(float.__repr__(value))
    else:
        raise ValueError(f"expected a decimal number, got {type(value).__name__} {value!r:.60}")
    if not in_range(result):
        raise ValueError(f"expected a finite amount within 1e±{MAX_MAGNITUDE}, got {result:.6E}")
    return result


def _input_decimal(value: Any, cl: type) -> Decimal:
    """What a caller may pass for money (see money.to_decimal): Decimal, int, str, or a float
    without binary noise; at most CFDI's 6 decimals; checked before anything is sent."""
    return to_decimal(value, name="amount")


def _structure_bool(value: Any, cl: type) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"expected boolean, got {type(value).__name__} {value!r}")


def _structure_date(value: Any, cl: type) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value)
    raise ValueError(f"expected an ISO date string, got {value!r}")


def _structure_datetime(value: Any, cl: type) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    raise ValueError(f"expected an ISO datetime string, got {value!r}")


def _structure_uuid(value: Any, cl: type) -> UUID:
    if isinstance(value, str):
        return UUID(value)
    raise ValueError(f"expected a UUID string, got {value!r}")


_PRIMITIVES = (str, int, float, bool)


def _union_members(tp: Any) -> tuple[Any, ...] | None:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return typing.get_args(tp)
    return None


def _fused_optional(
    inner_type: Any, decimal_hook: Callable[[Any, Any], Decimal] | None = None
) -> Callable[[Any, Any], Any] | None:
    """`X | None` for a JSON primitive or an enum as ONE call: the common case (the exact JSON
    type, or null) is a type check; anything else goes to the strict hook, which raises."""
    if inner_type is str:

        def optional_str(value: Any, _: Any) -> Any:
            if value is None or type(value) is str:
                return value
            return _structure_str(value, str)

        return optional_str
    if inner_type is int:
        strict_int = _strict(int, "integer")

        def optional_int(value: Any, _: Any) -> Any:
            if value is None or type(value) is int:
                return value
            return strict_int(value, int)

        return optional_int
    if inner_type is float:

        def optional_float(value: Any, _: Any) -> Any:
            if value is None or type(value) is float:
                return value
            return _structure_float(value, float)

        return optional_float
    if inner_type is Decimal:

        def optional_decimal(value: Any, _: Any) -> Any:
            if value is None:
                return None
            if type(value) is Decimal and in_range(value):
                return value
            return (decimal_hook or _structure_decimal)(value, Decimal)

        return optional_decimal
    if inner_type is bool:

        def optional_bool(value: Any, _: Any) -> Any:
            if value is None or type(value) is bool:
                return value
            return _structure_bool(value, bool)

        return optional_bool
    if isinstance(inner_type, type) and issubclass(inner_type, enum.Enum):
        members = inner_type._value2member_map_

        def optional_enum(value: Any, _: Any) -> Any:
            if value is None:
                return None
            try:
                member = members.get(value)
            except TypeError:  # unhashable: let open_enum say why
                member = None
            return member if member is not None else open_enum(value, inner_type)

        return optional_enum
    return None


class _Refused(Exception):
    """The fast path met something it does not handle inline: use the detailed hook."""


def _fast_structure_fn(
    cl: type, conv: cattrs.Converter, detailed: Callable[[Any, Any], Any]
) -> Callable[[Any, Any], Any]:
    """A structure function for the JSON that actually arrives: exact primitive types checked
    inline, enums by dict lookup, nested models and lists through their own (fast) hooks.

    Anything unusual (a wrong type, a missing key, an unknown enum value, a str subclass...) makes
    it hand the SAME input to `detailed`, cattrs' generated hook, so results and error messages
    are exactly those of the detailed hook; only the common case is faster.
    """
    if typing.get_origin(cl) is not None or len(getattr(cl, "__parameters__", ())) > 0:
        return detailed  # generics: keep cattrs' own handling
    fields = attrs.fields(attrs.resolve_types(cl))
    globs: dict[str, Any] = {
        "__cl": cl,
        "__detailed": detailed,
        "__Refused": _Refused,
        "__Decimal": Decimal,
        "__MAG": MAX_MAGNITUDE,
        "__BIG": _BIG_INT,
    }
    body: list[str] = []
    kwargs: list[str] = []
    for i, a in enumerate(fields):
        if not a.init:
            return detailed
        key = a.metadata.get("json_name", a.name)
        var = f"v{i}"
        tp = a.type
        members = _union_members(tp)
        optional = members is not None and type(None) in members
        inner = tp
        if members is not None:
            rest = tuple(m for m in members if m is not type(None))
            inner = rest[0] if len(rest) == 1 else None
        has_default = a.default is not attrs.NOTHING
        if isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
            return detailed  # a fresh default per instance: leave it to cattrs
        if has_default:
            globs[f"__d{i}"] = a.default
            body.append(f"  {var} = o.get({key!r}, __d{i})")
            if a.default is not None:  # null means the default (a no-op when that is None)
                body.append(f"  if {var} is None: {var} = __d{i}")
        else:
            body.append(f"  {var} = o[{key!r}]")
        none_ok = "" if not optional else f"{var} is not None and "
        if inner in (str, int, bool):
            body.append(f"  if {none_ok}type({var}) is not {inner.__name__}: raise __Refused")
        elif inner is float:
            body.append(f"  if {none_ok}type({var}) is not float:")
            body.append(f"    if type({var}) is int: {var} = float({var})")
            body.append("    else: raise __Refused")
        elif inner is Decimal:
            # In-range Decimals from the exact parse and plain ints (a server writing `0` or
            # `1160`) pass inline; anything else goes to the detailed hook.
            indent = "  "
            if optional:
                body.append(f"  if {var} is not None:")
                indent = "    "
            body.append(f"{indent}if type({var}) is __Decimal:")
            # money.in_range, inlined: this runs for every amount of every response.
            body.append(
                f"{indent}  if not ({var}.is_finite() and (not {var} or "
                f"-__MAG <= {var}.adjusted() < __MAG)): raise __Refused"
            )
            body.append(f"{indent}elif type({var}) is int and -__BIG < {var} < __BIG:")
            body.append(f"{indent}  {var} = __Decimal({var})")
            body.append(f"{indent}else: raise __Refused")
        elif isinstance(inner, type) and issubclass(inner, enum.Enum):
            globs[f"__m{i}"] = inner._value2member_map_
            prefix = f"if {var} is not None: " if optional else ""
            body.append(f"  {prefix}{var} = __m{i}[{var}]")
        else:
            hook = conv.get_structure_hook(tp)
            globs[f"__h{i}"] = hook
            globs[f"__t{i}"] = tp
            body.append(f"  {var} = __h{i}({var}, __t{i})")
        kwargs.append(f"{a.alias}={var}")
    name = f"fast_structure_{cl.__name__}"
    source = "\n".join(
        [
            f"def {name}(o, _=None):",
            "  try:",
            *("  " + line for line in body),
            f"    return __cl({', '.join(kwargs)})",
            "  except Exception:",
            "    return __detailed(o, __cl)",
        ]
    )
    filename = f"<gigstack_async fast structure {cl.__module__}.{cl.__qualname__}>"
    exec(compile(source, filename, "exec"), globs)
    fn: Callable[[Any, Any], Any] = globs[name]
    return fn


def _keys_with_defaults(cl: type) -> frozenset[str]:
    """The JSON keys of `cl`'s fields that have a default (a value or a factory)."""
    origin: Any = typing.get_origin(cl) or cl
    return frozenset(
        a.metadata.get("json_name", a.name)
        for a in attrs.fields(origin)
        if a.default is not attrs.NOTHING
    )


def _is_list_type(tp: Any) -> bool:
    origin: Any = typing.get_origin(tp) or tp
    return origin is list


def _make_converter(
    *,
    fast: bool = True,
    inputs: bool = False,
    decimal_hook: Callable[[Any, Any], Decimal] | None = None,
) -> cattrs.Converter:
    """The converter; `fast=False` leaves out the fast paths (the reference, for tests).
    `inputs=True`: the converter for what callers pass in (money as `money.to_decimal` takes it:
    strings and noise-free floats too, at most 6 decimals). `decimal_hook`: another rule for
    money fields (the webhook parser's, which also reads numeric strings)."""
    conv = cattrs.Converter(forbid_extra_keys=False, omit_if_default=True)

    # Order matters: cattrs consults class hooks before predicate hooks, and StrEnum has str in
    # its MRO, so the enum hooks must be registered on the enum bases themselves.
    conv.register_structure_hook(enum.StrEnum, open_enum)
    conv.register_structure_hook(enum.IntEnum, open_enum)
    conv.register_structure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), open_enum
    )
    for base in (enum.StrEnum, enum.IntEnum):
        conv.register_unstructure_hook(base, _enum_value)
    conv.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), _enum_value
    )
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _strict(int, "integer"))
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(bool, _structure_bool)
    money = decimal_hook or (_input_decimal if inputs else _structure_decimal)
    conv.register_structure_hook(Decimal, money)
    conv.register_unstructure_hook(Decimal, lambda d: d)  # the JSON encoder keeps its digits
    conv.register_structure_hook(date, _structure_date)
    conv.register_structure_hook(datetime, _structure_datetime)
    conv.register_structure_hook(UUID, _structure_uuid)
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_unstructure_hook(datetime, datetime.isoformat)
    conv.register_unstructure_hook(UUID, str)
    conv.register_unstructure_hook(bytes, lambda b: b)

    def union_factory(tp: Any) -> Callable[[Any, Any], Any]:
        members = _union_members(tp) or ()
        optional = type(None) in members
        rest = tuple(m for m in members if m is not type(None))
        if len(rest) == 1:
            # `X | None`: look the inner hook up once, not on every value.
            inner = conv.get_structure_hook(rest[0])
            inner_type = rest[0]
            fused = _fused_optional(inner_type, money) if fast else None
            if fused is not None:
                return fused

            def structure_optional(value: Any, _: Any) -> Any:
                return None if value is None else inner(value, inner_type)

            return structure_optional
        # `int | str`, `str | ErrorDetail`, `str | list[str]`: pick by the JSON value's own type.
        by_json_type: list[tuple[tuple[type, ...], Any, Callable[[Any, Any], Any]]] = []
        for member in rest:
            origin = typing.get_origin(member) or member
            if member in _PRIMITIVES:
                accepts: tuple[type, ...] = (member,)
            elif origin in (list, tuple):
                accepts = (list,)
            elif attrs.has(origin) or origin is dict:
                accepts = (dict,)
            else:
                accepts = (object,)
            by_json_type.append((accepts, member, conv.get_structure_hook(member)))

        def structure_union(value: Any, _: Any) -> Any:
            if value is None and optional:
                return None
            for accepts, member, hook in by_json_type:
                if isinstance(value, accepts) and not (
                    isinstance(value, bool) and bool not in accepts and accepts != (object,)
                ):
                    return hook(value, member)
            raise ValueError(f"{value!r} matches none of {tp}")

        return structure_union

    conv.register_structure_hook_factory(lambda t: _union_members(t) is not None, union_factory)

    def renames(cl: type) -> dict[str, Any]:
        origin = typing.get_origin(cl) or cl
        return {
            a.name: override(rename=a.metadata["json_name"])
            for a in attrs.fields(origin)
            if "json_name" in a.metadata
        }

    def attrs_structure_factory(cl: type) -> Callable[[Any, Any], Any]:
        # cattrs' detailed hook stays the reference: it runs whenever the fast path refuses.
        generated: Callable[[Any, Any], Any] = make_dict_structure_fn(cl, conv, **renames(cl))
        defaulted = _keys_with_defaults(cl)

        def detailed(value: Any, target: Any) -> Any:
            # A model comes from a JSON object only: cattrs alone would read a string as an
            # object whose keys are missing (`"rfc" in "EKU…"` is a substring test), turning
            # `data: "maintenance"` into an empty, valid-looking history.
            if not isinstance(value, dict):
                raise ValueError(
                    f"expected a JSON object, got {type(value).__name__} {value!r:.60}"
                )
            if any(value.get(key, 0) is None for key in defaulted):
                # null means the default: leave the key out and let attrs fill it in.
                value = {k: v for k, v in value.items() if v is not None or k not in defaulted}
            return generated(value, target)

        return _fast_structure_fn(cl, conv, detailed) if fast else detailed

    def list_factory(tp: Any) -> Callable[[Any, Any], Any]:
        generated = list_structure_factory(tp, conv)

        def structure_list(value: Any, target: Any) -> Any:
            # Only a JSON array is a list: cattrs alone would split "REQ-1_01" into characters.
            if not isinstance(value, list):
                raise ValueError(f"expected a JSON array, got {type(value).__name__} {value!r:.60}")
            return generated(value, target)

        return structure_list

    conv.register_structure_hook_factory(_is_list_type, list_factory)

    conv.register_structure_hook_factory(attrs.has, attrs_structure_factory)
    conv.register_unstructure_hook_factory(
        attrs.has,
        lambda cl: make_dict_unstructure_fn(
            cl, conv, _cattrs_omit_if_default=conv.omit_if_default, **renames(cl)
        ),
    )
    return conv


converter = _make_converter()


@functools.cache
def needs_exact(tp: Any) -> bool:
    """True when `tp` (a model, list or union) holds a `Decimal` anywhere: its JSON must then be
    parsed with numbers as `Decimal` (`gigstack_async._json.loads(raw, exact=True)`), so the
    digits the server sent survive. Models without money skip that cost."""
    return _holds_decimal(tp, set())


def _holds_decimal(tp: Any, seen: set[Any]) -> bool:
    # `Any` (a NOT FOUND shape kept as a dict) may hold amounts too: parse it exactly.
    if tp is Decimal or tp is Any:
        return True
    if tp in seen:
        return False
    seen.add(tp)
    args = typing.get_args(tp)
    if args:
        return any(_holds_decimal(arg, seen) for arg in args)
    if isinstance(tp, type) and attrs.has(tp):
        return any(_holds_decimal(a.type, seen) for a in attrs.fields(attrs.resolve_types(tp)))
    return False


_input_converter = _make_converter(fast=False, inputs=True)


def structure_input(data: Any, cl: type[T]) -> T:
    """Like `structure`, for arguments a caller passes in: money fields take `Decimal`, `int`,
    decimal strings and noise-free floats, and refuse NaN, infinities and more than 6 decimals
    (`money.to_decimal`), so bad amounts fail before anything is sent."""
    return _input_converter.structure(data, cl)


def structure(data: Any, cl: type[T]) -> T:
    """JSON-shaped data → model; raises cattrs' ClassValidationError with a path on bad data."""
    return converter.structure(data, cl)


def unstructure(obj: Any) -> Any:
    """Model → JSON-shaped data with wire key names; unset optional fields are omitted."""
    return converter.unstructure(obj)
