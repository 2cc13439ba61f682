"""Does a staged package hold the month's CFDIs? Checked before anything is extracted.

A request id the journal trusts may name another request: the server's ids may restart (the
sandbox's `ids-restart` profile), a history may omit `requestType` (documented fields only),
and a user may adopt a mistyped id. The package itself says what it is, so before a month
extracts it the engine asks `package_mismatch`:

- a CFDI month's package holds CFDI XML, and every `cfdi:Comprobante/@Fecha` is present and
  inside the month's dates;
- a metadata month's package holds SAT's metadata TXT, and every row's `FechaEmision` is present
  and inside the month's dates.

"Inside" allows one day either side: `Fecha` is Mexico City wall time while a period may have
been read in another zone. A missing or unreadable date never counts as a match (issue 9,
item 8). Reads each XML's first bytes only (the root element), so memory stays flat.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

from gigstack_async.cfdi import read_metadata

__all__ = ["package_mismatch"]

_SLACK = timedelta(days=1)
_HEAD = 16 * 1024
"""Bytes read first from each XML: the root element, certificate included, fits."""
_MAX_HEAD = 256 * 1024
_FECHA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Comprobante\b[^>]*?\sFecha\s*=\s*[\"']([^\"']*)[\"']")
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})")


def package_mismatch(path: Path, *, request_type: str, start: date, end: date) -> str | None:
    """None when the staged ZIP at `path` holds `request_type` files issued in start..end
    (± 1 day); else what it holds instead, in words for the month's reason.

    Raises `zipfile.BadZipFile` or `OSError` for a package that cannot be read (extraction
    reports those).
    """
    with zipfile.ZipFile(path) as package:
        members = [info for info in package.infolist() if not info.is_dir()]
        xml = [info for info in members if info.filename.lower().endswith(".xml")]
        other = [info.filename for info in members if info not in xml]
        if request_type == "metadata":
            if xml:
                return f"{len(xml)} CFDI XML files (e.g. {xml[0].filename}), not metadata TXT"
            files = [(info.filename, package.read(info)) for info in members]
            dates = [row.fecha_emision for row in read_metadata(files)]
            if not dates:
                return f"no metadata rows (files: {_names(other)})"
            return _outside((None if d is None else d.date() for d in dates), start, end)
        if not xml:
            return f"no CFDI XML, only {_names(other)} (metadata?)"
        if other:
            return f"files that are not CFDI XML: {_names(other)}"
        return _outside((_fecha(package, info) for info in xml), start, end)


def _fecha(package: zipfile.ZipFile, info: zipfile.ZipInfo) -> date | None:
    with package.open(info) as member:
        head = member.read(_HEAD)
        found = _FECHA.search(head)
        if found is None and len(head) == _HEAD:
            head += member.read(_MAX_HEAD - _HEAD)
            found = _FECHA.search(head)
    if found is None:
        return None
    day = _DAY.match(found.group(1).decode("ascii", "replace").strip())
    try:
        return None if day is None else date.fromisoformat(day.group(1))
    except ValueError:
        return None


def _outside(days: Iterable[date | None], start: date, end: date) -> str | None:
    seen: list[date] = []
    missing = 0
    for day in days:
        if day is None:
            missing += 1
        else:
            seen.append(day)
    if missing:
        return f"{missing} of {missing + len(seen)} files without a readable issue date"
    outside = [d for d in seen if not start - _SLACK <= d <= end + _SLACK]
    if outside:
        return (
            f"{len(outside)} of {len(seen)} issued {min(outside)}..{max(outside)}, outside "
            f"{start}..{end}"
        )
    return None


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return f"{shown} and {len(names) - 3} more" if len(names) > 3 else shown or "nothing"
