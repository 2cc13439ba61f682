"""Read what is inside SAT packages: CFDI XML documents and metadata TXT files.

Pure functions over bytes, usually fed by `gigstack_async.packages.iter_package`::

    from gigstack_async.cfdi import parse_cfdi, read_metadata, summarize_package
    from gigstack_async.packages import iter_package

    summary = summarize_package(iter_package(zip_bytes))
    if summary.kind == "cfdi":
        invoices = [parse_cfdi(xml) for name, xml in iter_package(zip_bytes)]
    else:
        rows = read_metadata(iter_package(zip_bytes))
        table = list(rows)  # rows.skipped: what could not be read, and why
"""

from gigstack_async.cfdi._comprobante import CFDI_33_NS, CFDI_40_NS, TFD_NS, CfdiSummary, parse_cfdi
from gigstack_async.cfdi._errors import CfdiError, CfdiParseError, MetadataParseError
from gigstack_async.cfdi._metadata import (
    Estatus,
    MetadataRow,
    MetadataRows,
    RecodedLine,
    metadata_kind,
    parse_metadata,
    read_metadata,
)
from gigstack_async.cfdi._skipped import SkippedItem
from gigstack_async.cfdi._summary import PackageKind, PackageSummary, summarize_package

__all__ = [
    "CFDI_33_NS",
    "CFDI_40_NS",
    "TFD_NS",
    "CfdiError",
    "CfdiParseError",
    "CfdiSummary",
    "Estatus",
    "MetadataParseError",
    "MetadataRow",
    "MetadataRows",
    "PackageKind",
    "PackageSummary",
    "RecodedLine",
    "SkippedItem",
    "metadata_kind",
    "parse_cfdi",
    "parse_metadata",
    "read_metadata",
    "summarize_package",
]
