"""The base of the generated catalog enums (gigstack_async/catalogs.py).

A catalog enum is an open StrEnum: every documented code is a member with its `description`,
provenance (`source`) and free-form `attributes`; a code the SDK does not know still converts
(`TaxRegime("699")` is a pseudo-member whose `is_known` is False), because SAT adds codes and
"unknown" must never mean "invalid" in data the API sends back. Input checks that must refuse
unknown codes ask `Catalog.known(code)`.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

C = TypeVar("C", bound="CatalogEnum")


@attrs.frozen
class CatalogRow:
    """One documented code of a catalog."""

    code: str
    description: str
    source: str | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class CatalogInfo:
    """Where a catalog comes from: its docs page, provenance and notes."""

    name: str
    docs: str | None
    source: str | None
    note: str | None


_ROWS: dict[type, dict[str, CatalogRow]] = {}
_INFO: dict[type, CatalogInfo] = {}


def register(cls: type[C], info: CatalogInfo, rows: tuple[CatalogRow, ...]) -> type[C]:
    """Attach the rows and the catalog's provenance to a generated enum."""
    _ROWS[cls] = {row.code: row for row in rows}
    _INFO[cls] = info
    return cls


@functools.cache
def _unknown(cls: type[C], code: str) -> C:
    member = str.__new__(cls, code)
    member._name_ = "UNKNOWN"
    member._value_ = code
    return member


class CatalogEnum(enum.StrEnum):
    """A SAT / gigstack catalog: documented codes as members, unknown codes kept (open)."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str) and value:
            return _unknown(cls, value)
        return None

    @property
    def row(self) -> CatalogRow | None:
        """The documented row of this code (None for a code the SDK does not know)."""
        return _ROWS.get(type(self), {}).get(self._value_)

    @property
    def description(self) -> str:
        row = self.row
        return row.description if row is not None else ""

    @property
    def attributes(self) -> Mapping[str, Any]:
        row = self.row
        return row.attributes if row is not None else {}

    @property
    def source(self) -> str | None:
        row = self.row
        return row.source if row is not None else None

    @property
    def is_known(self) -> bool:
        return self._value_ in type(self)._value2member_map_

    @classmethod
    def known(cls, code: object) -> bool:
        """True when `code` (a member or its string) is a documented code of this catalog."""
        value = code.value if isinstance(code, enum.Enum) else code
        return isinstance(value, str) and value in cls._value2member_map_

    @classmethod
    def rows(cls) -> tuple[CatalogRow, ...]:
        return tuple(_ROWS.get(cls, {}).values())

    @classmethod
    def info(cls) -> CatalogInfo:
        return _INFO[cls]
