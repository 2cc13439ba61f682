"""Whose CFDIs a staged package holds: the taxpayer's RFC, read from SAT's own documents.

A journal records the RFC it downloads for (`StoreIdentity.rfc`) so that a run under another
taxpayer (another team, or a journal rebound by mistake) never mixes two taxpayers' CFDIs in
one folder. The RFC is taken from the package itself, not from another API call: the SDK makes
no call that documents the team's RFC, while in every CFDI of a "received" request the
taxpayer is the receptor (`cfdi:Receptor/@Rfc`) and of an "issued" request the emisor
(`cfdi:Emisor/@Rfc`); a metadata package's rows name them in the `RfcReceptor` / `RfcEmisor`
columns. It is recorded only when every document read names the same RFC on the taxpayer's side
(`bulk.content.scan_package` reads them all, with the XML parser and under PackageLimits); a
package whose documents name several is another request's and is never learnt from.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from gigstack_async.bulk.content import scan_package
from gigstack_async.errors import GigstackError

__all__ = ["package_rfc"]


def package_rfc(path: Path, rfc_type: str) -> str | None:
    """The taxpayer's RFC in the staged package at `path` for `rfc_type` ("received" or
    "issued"), or None when its documents name none, or several. Raises OSError for an
    unreadable package."""
    try:
        scan = scan_package(path, request_type="any", start=None, end=None, rfc_type=rfc_type)
    except (GigstackError, zipfile.BadZipFile, zlib.error, ValueError, EOFError) as exc:
        # Encrypted, unsupported, damaged or oversized: never guessed from; extraction (which
        # verifies the package) reports what is wrong with it.
        raise OSError(f"cannot read {path.name}: {exc}") from exc
    return scan.rfc if rfc_type in ("received", "issued") else None
