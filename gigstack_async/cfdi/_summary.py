"""What a whole package holds: its kind and the set of invoice UUIDs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from gigstack_async.cfdi._comprobante import parse_cfdi
from gigstack_async.cfdi._errors import CfdiParseError
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
    ``ignored`` (with the reason in ``skipped``), never raised. No SAT package mixes XML
    documents and metadata: in a package with any CFDI, a metadata-looking TXT is a stray
    file, listed in ``ignored`` and its UUIDs not counted.

    Example::

        summary = summarize_package(iter_package(zip_bytes))
        print(summary.kind, summary.invoice_count)
        for item in summary.skipped:
            print("skipped", item)
    """
    first_seen: dict[str, str] = {}  # UUID -> the CFDI member it was first read from
    metadata_seen: dict[str, str] = {}  # UUID -> the metadata member it was first read from
    metadata_members: list[str] = []
    metadata_skipped: list[SkippedItem] = []
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
        elif (member_kind := metadata_kind(content)) is not None:
            metadata_members.append(name)
            if member_kind == "metadata":
                rows = parse_metadata(content, name=name)
                for row in rows:
                    metadata_seen.setdefault(row.uuid, name)
                metadata_skipped.extend(rows.skipped)
        else:
            ignore(name, "neither a CFDI XML nor a metadata TXT")
    kind: PackageKind = "empty"
    if first_seen:
        kind = "cfdi"
        for name in metadata_members:
            ignore(name, "a metadata TXT in a package of CFDI XML documents (not counted)")
    elif metadata_members:
        kind = "metadata"
        first_seen = metadata_seen
        skipped.extend(metadata_skipped)
    return PackageSummary(
        kind,
        frozenset(first_seen),
        tuple(item.source for item in skipped if item.line is None),
        tuple(skipped),
    )
