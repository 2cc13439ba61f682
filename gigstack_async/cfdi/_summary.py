"""What a whole package holds: its kind and the set of invoice UUIDs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from gigstack_async.cfdi._comprobante import parse_cfdi
from gigstack_async.cfdi._errors import CfdiError, CfdiParseError
from gigstack_async.cfdi._metadata import metadata_kind, parse_metadata
from gigstack_async.cfdi._skipped import SkippedItem

PackageKind = Literal["cfdi", "metadata", "empty"]


@attrs.frozen
class PackageSummary:
    """A package's kind, the UUIDs it covers, and what was left out.

    ``kind`` is "cfdi" (XML documents), "metadata" (TXT rows) or "empty" (nothing readable).
    ``ignored`` names the members that were not counted (not a CFDI or metadata file, empty,
    unreadable, or a CFDI already seen under another name); ``skipped`` gives the reason for
    each of them and for each metadata record that could not be read.
    """

    kind: PackageKind
    uuids: frozenset[str]
    ignored: tuple[str, ...] = ()
    skipped: tuple[SkippedItem, ...] = ()

    @property
    def invoice_count(self) -> int:
        """Distinct invoices: a UUID seen twice counts once."""
        return len(self.uuids)


def summarize_package(files: Iterable[tuple[str, bytes]]) -> PackageSummary:
    """Read every CFDI XML or metadata TXT of a package and collect the UUIDs.

    ``_tercero.txt`` files add no UUIDs of their own. A member that is not a CFDI or metadata
    file, is empty, cannot be read, or repeats a CFDI under another name is listed in
    ``ignored`` (with the reason in ``skipped``), never raised. Raises `CfdiError` only if a
    package mixes XML documents and metadata, which no SAT package does.

    Example::

        summary = summarize_package(iter_package(zip_bytes))
        print(summary.kind, summary.invoice_count)
        for item in summary.skipped:
            print("skipped", item)
    """
    kinds: set[PackageKind] = set()
    first_seen: dict[str, str] = {}  # UUID -> the member it was first read from
    skipped: list[SkippedItem] = []

    def ignore(name: str, reason: str) -> None:
        skipped.append(SkippedItem(name, None, reason))

    for name, content in files:
        if not content.strip(b" \t\r\n\x00"):
            ignore(name, "empty")
        elif name.lower().endswith(".xml"):
            try:
                uuid = parse_cfdi(content).uuid
            except CfdiParseError as exc:
                ignore(name, f"not a readable CFDI: {exc}")
                continue
            if uuid in first_seen:
                ignore(name, f"the same CFDI ({uuid}) as {first_seen[uuid]}")
                continue
            first_seen[uuid] = name
            kinds.add("cfdi")
        elif kind := metadata_kind(content):
            if kind == "metadata":
                rows = parse_metadata(content, name=name)
                for row in rows:
                    first_seen.setdefault(row.uuid, name)
                skipped.extend(rows.skipped)
            kinds.add("metadata")
        else:
            ignore(name, "neither a CFDI XML nor a metadata TXT")
    if len(kinds) > 1:
        raise CfdiError("package mixes CFDI XML documents and metadata files")
    return PackageSummary(
        kinds.pop() if kinds else "empty",
        frozenset(first_seen),
        tuple(item.source for item in skipped if item.line is None),
        tuple(skipped),
    )
