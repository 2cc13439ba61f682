"""Machine-readable output: JSON Lines with the API's own field names, and CSV."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from gigstack_async import _json
from gigstack_async._convert import unstructure
from gigstack_async.money import format_decimal


def json_line(obj: Any) -> str:
    """One model as a compact JSON object, keys as on the wire, amounts with their exact digits."""
    return _json.dumps(unstructure(obj)).decode("utf-8")


def write_jsonl(objs: Iterable[Any]) -> None:
    sys.stdout.writelines(json_line(obj) + "\n" for obj in objs)
    sys.stdout.flush()


class CsvWriter:
    """CSV on stdout with a fixed header; `write` takes one page of rows at a time.

    The header is written with the first page (even an empty one), not before: a command that
    fails before any answer leaves stdout empty.
    """

    def __init__(self, fields: Sequence[tuple[str, Callable[[Any], object]]]) -> None:
        self._fields = fields
        self._writer = csv.writer(sys.stdout, lineterminator="\n")
        self._header_written = False

    def write(self, objs: Iterable[Any]) -> None:
        if not self._header_written:
            self._writer.writerow([name for name, _ in self._fields])
            self._header_written = True
        for obj in objs:
            self._writer.writerow([_cell(get(obj)) for _, get in self._fields])
        sys.stdout.flush()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_decimal(value)  # the digits the API sent: "1160.10", never "1E+2"
    # Enums (StrEnum) print as their value; an unknown one still carries the raw string.
    return getattr(value, "value", value)
