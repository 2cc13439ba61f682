"""Is this API key (team, base URL) the account a journal's requests belong to?

`gigstack-async journal rebind` carries a journal over to a new API key: every month, request
id and file is kept. Under another company's key the next run would watch request ids the key
cannot see, every month would need attention, and a `journal resend` would bill that company
and download its CFDIs into this folder. So before rebinding:

1. `team_conflict`: the journal's team against this run's, when both are known (a `team=`
   given, or the key's JWT `team` claim: `_pipeline.home_team_of`). No request is sent.
2. `check_requests`: the status of request ids the journal knows (a GET, never a create;
   FACT-docs call it "SAT status of one request" and name no charge for it, while creates and
   `/invoice/{uuid}` are documented as billed). A key that sees one of them is the same
   account. That the status answers 404 for another account's request is a GUESS (the docs do
   not say); the sandbox scopes it by team. A 404 for every id asked is taken as "another
   account" and refused; an id the key sees proves the account is the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import attrs

from gigstack_async.errors import NotFoundError

if TYPE_CHECKING:
    from gigstack_async.bulk.store import JournalStore, StoreIdentity
    from gigstack_async.resources.downloads import Downloads

__all__ = ["CHECKED_IDS", "OwnerCheck", "check_requests", "known_request_ids", "team_conflict"]

CHECKED_IDS = 3
"""Request ids asked at most (one the key sees is enough; each one asked is one GET)."""


@attrs.frozen
class OwnerCheck:
    """What the free read found. `seen`: the id this key sees (same account); `missing`: ids
    answered 404; `verdict`: same (one seen), other (every id asked is 404), unchecked (the
    journal knows no request id)."""

    verdict: Literal["same", "other", "unchecked"]
    seen: str | None = None
    missing: tuple[str, ...] = ()


def _team(identity: StoreIdentity) -> str | None:
    return identity.team or identity.home_team


def team_conflict(stored: StoreIdentity, new: StoreIdentity) -> str | None:
    """Why `new` is another team than the journal's, when both teams are known; else None."""
    mine, theirs = _team(stored), _team(new)
    if mine is None or theirs is None or mine == theirs:
        return None
    how = "team=" if new.team is not None else "the API key's own team (its JWT `team` claim)"
    return f"the journal's requests belong to team {mine!r}, and this run acts on {how} {theirs!r}"


def known_request_ids(store: JournalStore) -> list[str]:
    """Request ids the journal knows, the months' current requests first (latest month first),
    then the others; each once."""
    states = list(reversed(store.states()))
    ordered = [s.request_id for s in states if s.request_id is not None]
    ordered += [i for s in states for i in s.known_ids]
    return list(dict.fromkeys(ordered))


async def check_requests(
    downloads: Downloads, request_ids: list[str], *, limit: int = CHECKED_IDS
) -> OwnerCheck:
    """Ask the status of up to `limit` of `request_ids` until this key sees one.

    Raises the GigstackError of any answer but 404 (the check could not be made: nothing may
    be concluded from it).
    """
    if not request_ids:
        return OwnerCheck("unchecked")
    missing: list[str] = []
    for request_id in request_ids[:limit]:
        try:
            await downloads.status(request_id)
        except NotFoundError:
            missing.append(request_id)
            continue
        return OwnerCheck("same", seen=request_id, missing=tuple(missing))
    return OwnerCheck("other", missing=tuple(missing))
