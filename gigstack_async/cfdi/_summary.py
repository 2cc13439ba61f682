"""What a whole package holds: its kind and the set of invoice UUIDs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import attrs

from gigstack_async.cfdi._comprobante import parse_cfdi
from gigstack_async.cfdi._errors import CfdiError, CfdiParseError, MetadataParseError
from gigstack_async.cfdi._metadata import metadata_kind, parse_metadata

PackageKind = Literal["cfdi", "metadata", "empty"]


@attrs.frozen
class PackageSummary:
    """A package's kind, the UUIDs it covers, and the names of files that were neither.

    ``kind`` is "cfdi" (XML documents), "metadata" (TXT rows) or "empty" (nothing readable).
    """

    kind: PackageKind
    uuids: frozenset[str]
    ignored: tuple[str, ...] = ()

    @property
    def invoice_count(self) -> int:
        """Distinct invoices: a UUID seen twice counts once."""
        return len(self.uuids)


def summarize_package(files: Iterable[tuple[str, bytes]]) -> PackageSummary:
    """Read every CFDI XML or metadata TXT of a package and collect the UUIDs.

    ``_tercero.txt`` files add no UUIDs of their own. Raises `CfdiParseError` or
    `MetadataParseError` naming the file that cannot be read, or `CfdiError` if a package
    mixes XML documents and metadata.

    Example::

        summary = summarize_package(iter_package(zip_bytes))
        print(summary.kind, summary.invoice_count)
    """
    kinds: set[PackageKind] = set()
    uuids: set[str] = set()
    ignored: list[str] = []
    for name, content in files:
        if name.lower().endswith(".xml"):
            try:
                uuids.add(parse_cfdi(content).uuid)
            except CfdiParseError as exc:
                raise CfdiParseError(f"{name}: {exc}") from exc
            kinds.add("cfdi")
        elif kind := metadata_kind(content):
            if kind == "metadata":
                try:
                    uuids.update(row.uuid for row in parse_metadata(content))
                except MetadataParseError as exc:
                    raise MetadataParseError(f"{name}: {exc}") from exc
            kinds.add("metadata")
        else:
            ignored.append(name)
    if len(kinds) > 1:
        raise CfdiError("package mixes CFDI XML documents and metadata files")
    return PackageSummary(kinds.pop() if kinds else "empty", frozenset(uuids), tuple(ignored))
