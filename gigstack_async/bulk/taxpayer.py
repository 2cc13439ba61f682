"""Whose CFDIs a staged package holds: the taxpayer's RFC, read from SAT's own documents.

A journal records the RFC it downloads for (`StoreIdentity.rfc`) so that a run under another
taxpayer (another team, or a journal rebound by mistake) never mixes two taxpayers' CFDIs in
one folder. The RFC is taken from the package itself, not from another API call: the SDK makes
no call that documents the team's RFC, while in every CFDI of a "received" request the
taxpayer is the receptor (`cfdi:Receptor/@Rfc`) and of an "issued" request the emisor
(`cfdi:Emisor/@Rfc`); a metadata package's rows name them in the `RfcReceptor` / `RfcEmisor`
columns. It is recorded only when the documents read agree: a package whose documents name
several RFCs on the taxpayer's side is not guessed from (None).
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

__all__ = ["package_rfc"]

SAMPLE = 20
"""Members read per package: enough to see disagreement, cheap for a package of thousands."""
_HEAD = 64 * 1024
"""Bytes read of each member: the Emisor and Receptor come right after the Comprobante."""

_XML_RFC = {
    "received": re.compile(rb"<(?:[\w.-]+:)?Receptor\b[^>]*?\bRfc\s*=\s*[\"']([^\"']+)[\"']"),
    "issued": re.compile(rb"<(?:[\w.-]+:)?Emisor\b[^>]*?\bRfc\s*=\s*[\"']([^\"']+)[\"']"),
}
_COLUMN = {"received": "RfcReceptor", "issued": "RfcEmisor"}


def package_rfc(path: Path, rfc_type: str) -> str | None:
    """The taxpayer's RFC in the staged package at `path` for `rfc_type` ("received" or
    "issued"), or None when its documents name none, or several. Reads at most `SAMPLE`
    members, 64 KiB of each. Raises OSError for an unreadable file."""
    pattern = _XML_RFC.get(rfc_type)
    if pattern is None:
        return None
    try:
        return _read(path, pattern, _COLUMN[rfc_type])
    except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError) as exc:
        # Encrypted, unsupported or damaged members: unreadable here, never guessed from;
        # extraction (which verifies the package) reports what is wrong with it.
        raise OSError(f"cannot read {path.name}: {exc}") from exc


def _read(path: Path, pattern: re.Pattern[bytes], column: str) -> str | None:
    found: set[str] = set()
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist()[:SAMPLE]:
            if info.is_dir():
                continue
            with archive.open(info) as member:
                head = member.read(_HEAD)
            if info.filename.lower().endswith(".xml"):
                match = pattern.search(head)
                if match:
                    found.add(match.group(1).decode("utf-8", "replace").strip().upper())
            else:
                found.update(_metadata_rfcs(head, column))
    return found.pop() if len(found) == 1 else None


def _metadata_rfcs(head: bytes, column: str) -> set[str]:
    lines = head.decode("utf-8", "replace").splitlines()
    if not lines or column not in lines[0].split("~"):
        return set()
    index = lines[0].split("~").index(column)
    rows = lines[1:-1] if len(lines) > 2 else lines[1:]  # the last line may be cut at 64 KiB
    return {
        cells[index].strip().upper()
        for cells in (row.split("~") for row in rows)
        if len(cells) > index and cells[index].strip()
    }
