"""Whose CFDIs a staged package holds: the taxpayer's RFC, read from SAT's own documents.

A journal records the RFC it downloads for (`StoreIdentity.rfc`) so that a run under another
taxpayer (another team, or a journal rebound by mistake) never mixes two taxpayers' CFDIs in
one folder. The RFC is taken from the package itself, not from another API call: the SDK makes
no call that documents the team's RFC, while in every CFDI of a "received" request the
taxpayer is the receptor (`cfdi:Receptor/@Rfc`) and of an "issued" request the emisor
(`cfdi:Emisor/@Rfc`); a metadata package's rows name them in the `RfcReceptor` / `RfcEmisor`
columns. It is recorded only when every document read names the same RFC on the taxpayer's side
(`bulk.content.scan_package` reads them all, with the XML parser and under PackageLimits); a
package whose documents name several is another request's and is never learnt from. Nor is a
package of a request only the user vouched for (`journal adopt` of an id the history does not
list): an issued request for one day with one receiver passes the content check, and its
receiver's RFC would then refuse every later month (review 9e #1). Where the RFC came from is
recorded with it (`RfcSource`) and said whenever a package is refused for it.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import attrs

from gigstack_async.bulk.content import scan_package
from gigstack_async.errors import GigstackError

__all__ = ["RfcSource", "describe_source", "mismatch", "package_rfc"]


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


@attrs.frozen
class RfcSource:
    """Where a journal's RFC came from (`JournalStore.rfc_source`).

    `how`: "server", a package of `month`'s request `request_id`, which the server vouched for
    as the month's (our create's answer, or its history listing it with the month's dates and
    rfcType: `bulk.machine.teaches_rfc`); "user", set with `gigstack-async journal rfc --set`.
    A journal whose RFC has no recorded source learnt it before the source was kept, possibly
    from a request only the user vouched for (`journal adopt`): it may be wrong.
    """

    how: str
    month: str | None = None
    request_id: str | None = None

    def describe(self) -> str:
        if self.how == "user":
            return "set by you with `gigstack-async journal rfc --set`"
        return (
            f"learnt from {self.month}'s request {self.request_id}, which the server vouched "
            "for as that month's: its create answer, or its history with the month's dates "
            "and type"
        )


def describe_source(source: RfcSource | None) -> str:
    """How `journal show`, `journal rfc` and a refused package say where the RFC came from."""
    if source is not None:
        return source.describe()
    return (
        "learnt from the first package extracted, by a gigstack-async that did not record "
        "which request it came from: possibly one only you vouched for (`journal adopt`), so "
        "it may be wrong"
    )


def mismatch(
    key: str,
    rfc_type: str,
    found: str,
    recorded: str,
    source: RfcSource | None,
    *,
    server_vouched: bool,
    request_id: str | None,
) -> tuple[str, str]:
    """The reason and hint of a month whose package names taxpayer `found` while the journal
    records `recorded`. Nothing was extracted and the package stays staged, so the hint names
    the free ways out first (the RFC corrected, another request adopted: the staged copy is
    extracted, or dropped, without a download) and the billed one (a resend) last. It states
    another taxpayer only as a likelihood: one of the two requests may not be what it seems."""
    side = "received by" if rfc_type == "received" else "issued by"
    origin = describe_source(source)
    reason = (
        f"its CFDIs were {side} RFC {found}, but this journal records RFC {recorded} as its "
        f"taxpayer ({origin})"
    )
    fix_rfc = (
        f"if {found} is the taxpayer's RFC, `gigstack-async journal rfc --set {found}` and run "
        "the same command again: the staged package is extracted without downloading it again"
    )
    adopt = (
        f"find the month's {rfc_type} request in gigstack's dashboard (by its dates and type) "
        f"and `gigstack-async journal adopt {key} <request id>` (nothing is billed)"
    )
    resend = (
        f"only if it is not there, `gigstack-async journal resend {key}` (a new request may "
        "be billed)"
    )
    if not server_vouched:
        reason += (
            f". This month's request {request_id} was adopted on your word and the server's "
            f"history did not list it with this month's dates and type: it may not be the "
            f"month's {rfc_type} request (the other direction's, or for other dates)"
        )
        hint = f"{adopt}; {fix_rfc}; {resend}"
    elif source is not None and source.how == "server":
        reason += (
            ": the API key or team of this run may be another taxpayer's (a journal rebound by "
            "mistake), or one of the two requests is not what the server said"
        )
        hint = (
            f"{fix_rfc}; if the journal was rebound to another team by mistake, "
            "`gigstack-async journal rebind` it back with the original API key and team, then "
            f"`gigstack-async journal resend {key}` (this month's request is the other team's: "
            "a new one is sent for the journal's team, and may be billed); a download for "
            "another taxpayer needs its own --out folder"
        )
    else:
        reason += (
            ": the server vouched for this month's request, so the recorded RFC may be the "
            "wrong one, or this run's API key or team may be another taxpayer's"
        )
        hint = (
            f"{fix_rfc} (or `gigstack-async journal rfc --forget`: the next package of a "
            "request the server vouched for teaches it again); if the journal was rebound to "
            "another team by mistake, `gigstack-async journal rebind` it back with the original "
            f"API key and team, then `gigstack-async journal resend {key}` (may be billed)"
        )
    return f"{reason}. Nothing was extracted (the package stays staged)", hint
