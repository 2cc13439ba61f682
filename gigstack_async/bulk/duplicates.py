"""Identical requests already in the account: a month another folder (or journal) requested.

A journal knows only its own requests. The same year run into a second `download_to` folder (a
new folder, a relative path run from another working directory, a deleted journal) would send,
and may bill, every month again, and spend one of SAT's two requests with identical criteria
(the third is refused with 5002, for good). Before a month's create is sent, the run looks in
the history it has just read for a request with the month's exact criteria that is not the
month's own (an id the journal recorded for another month, or one the month released, counts:
a mistaken adopt, or an id the server reused after its ids restarted); by default such a month
is held (not sent), with the way forward spelled out.

Pure: no I/O. The engine and the CLI's plan read the same function.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import attrs

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.created_at import created_at_text

__all__ = [
    "PriorRequest",
    "held_hint",
    "held_reason",
    "holding",
    "identical",
    "prior_requests",
    "untyped_match",
]

_DEAD = frozenset({"failed", "expired"})
"""Statuses whose request cannot be adopted usefully: no package to download."""


@attrs.frozen
class PriorRequest:
    """A request in the account's history with a month's exact criteria that is not the
    month's own request. `status` and `created_at` are as the history wrote them (None: not
    reported; `created_at`'s unit is a GUESS, so it is shown, never compared)."""

    key: str
    """The month, `YYYY-MM`."""
    request_id: str
    status: str | None = None
    created_at: str | None = None
    message: str | None = None
    """The history's `statusMessage` (why a request failed, e.g. SAT 5003)."""
    typed: bool = True
    """False: the history did not report its `requestType` (the docs do not list it), so it
    may be another kind of request for the same dates; never held for, only shown."""
    recorded: bool = False
    """True: not listed by this read of the history, but recorded in the journal when an
    earlier run held the month for it (`MonthState.held_for`): the history keeps only its
    newest 20 requests, so it may have left them. The month stays held for it."""

    @property
    def adoptable(self) -> bool:
        """Whether adopting it may give the month its CFDIs (not failed or expired)."""
        return self.status not in _DEAD

    def describe(self) -> str:
        if self.recorded:
            last = "its status now is not known here"
            if self.status is not None:
                said = f"{self.status}: {self.message}" if self.message else self.status
                last = f"{last}; it was {said} when last listed"
            made = f", created {created_at_text(self.created_at)}" if self.created_at else ""
            return (
                f"request {self.request_id} (recorded by this journal when an earlier run held "
                f"the month for it{made}; no longer among the history's newest entries, so "
                f"{last})"
            )
        details = [self.status or "status not reported"]
        if self.created_at:
            details.append(f"created {created_at_text(self.created_at)}")
        return f"request {self.request_id} ({', '.join(details)})"


def identical(state: m.MonthState, seen: m.Seen) -> bool:
    """Whether the history entry asks SAT for exactly the month's request: same start and end
    day, `rfcType` and `requestType`, each reported. A missing field never counts as a match
    (the docs do not list `requestType`: such an entry is never called identical)."""
    pairs = (
        (seen.rfc_type, state.rfc_type),
        (seen.request_type, state.request_type),
        (seen.start, state.start),
        (seen.end, state.end),
    )
    return all(theirs is not None and theirs == ours for theirs, ours in pairs)


def untyped_match(state: m.MonthState, seen: m.Seen) -> bool:
    """Same start and end day and `rfcType`, each reported, but no `requestType`: it may be
    the month's request, or another kind for the same dates. Never counted as identical."""
    return seen.request_type is None and identical(
        state, attrs.evolve(seen, request_type=state.request_type)
    )


def prior_requests(
    state: m.MonthState,
    entries: Iterable[m.Seen],
    *,
    untyped: bool = False,
) -> tuple[PriorRequest, ...]:
    """The entries identical to the month's request that are not the month's own request
    (`machine.own_request`: an id in its `known_ids` it did not release, listed as it was
    recorded). Any other id is counted, whatever the journal knows of it: another month's id
    (an entry with this month's criteria is not that month's request: a mistaken adopt, or an
    id the server reused after its ids restarted), and an id this month released.
    `untyped`: also those that would be identical but do not report `requestType`
    (`PriorRequest.typed` False)."""
    found = []
    for seen in entries:
        if identical(state, seen):
            typed = True
        elif untyped and untyped_match(state, seen):
            typed = False
        else:
            continue
        if m.own_request(state, seen):
            continue
        found.append(
            PriorRequest(state.key, seen.id, seen.status, seen.created_at, seen.message, typed)
        )
    # The requests an earlier run held the month for: it stays held for them once the history
    # no longer lists them (newcomer 9g #1). Not one the month took as its own since (adopted).
    # Those held for these very dates only (`machine.held_ids`: kept while the plan asked for
    # other dates, review 9m #2), with what the history said of them last (review 9m #4: a
    # 5003 is still known once the history no longer lists the request).
    listed = {p.request_id for p in found}
    for held in m.held_records(state):
        if held.id in listed or held.id in state.known_ids:
            continue
        found.append(
            PriorRequest(
                state.key,
                held.id,
                held.status,
                held.created_at,  # as the history showed it then (newcomer 9k #1)
                held.message,
                recorded=True,
            )
        )
    return tuple(found)


def holding(state: m.MonthState, entries: Iterable[m.Seen]) -> tuple[PriorRequest, ...]:
    """The identical requests that hold month `state` (not sent) when a run reaches it: those
    of `prior_requests` with every field reported, listed by `entries` or recorded by an
    earlier hold; none when the user allowed it anyway (`MonthState.identical_allowed`). The
    one rule the engine (before a create) and the plan preview read; `--allow-duplicates`
    lets every month go on top of it."""
    if state.identical_allowed:
        return ()
    return tuple(p for p in prior_requests(state, entries) if p.typed)


def held_reason(state: m.MonthState, priors: tuple[PriorRequest, ...], folder: Path | None) -> str:
    """Why the month was not sent: which request(s) the account already has, and the cost.
    One sentence ending with a period: `bulk()` callers print it beside the hint (newcomer 10
    F4: "...identical criteria, ever if that request is the one you want here")."""
    where = "" if folder is None else f" (this run's folder: {folder})"
    found = " and ".join(p.describe() for p in priors)
    limit = (
        "SAT accepts only 2 requests with identical criteria, ever, and the account already has 2"
        if len(priors) >= 2
        else "A new request may be billed, and SAT accepts only 2 requests with identical "
        "criteria, ever"
    )
    return (
        f"not sent: the account already has {found} for the same dates "
        f"({state.start}..{state.end}) and type ({state.rfc_type} {state.request_type}), which "
        f"this journal did not send{where}: another folder's download? {limit}."
    )


def held_hint(state: m.MonthState, priors: tuple[PriorRequest, ...]) -> str:
    """The safe ways forward for a held month (the journal commands are rendered with the
    folder by `bulk.hints.with_journal`): the free one first, adopting the request (newcomer 10
    F4: it came buried), each request named once, in its command; the billed ones last. The
    CLI's words (`sat download`, --out, "the same command"): a `bulk()` run renders them as its
    own (`run._for_python`)."""
    kind = f"--rfc-type {state.rfc_type} --type {state.request_type}"
    usable = [p for p in priors if p.adoptable]
    one_day = m.one_day_5003(state)
    if one_day is not None and any(m.sat_code(p.message) == 5003 for p in priors):
        return (
            f"SAT answered 5003 (too many CFDIs for one request) for {state.start} to the "
            f"request already in the account. {one_day}"
        )
    if any(m.sat_code(p.message) == 5003 for p in priors):
        # The same dates again would be billed and refused again.
        return (
            "SAT answered 5003 (too many CFDIs for one request) for these dates: do not request "
            f"them again; split the period: run {state.start}..{state.end} as shorter ranges, "
            "each into its own --out folder (another folder may have done so already: name its "
            f"part folders instead), e.g. in two halves: {m.split_commands(state)} (it reads "
            "the history, which must still list that request; runs of this folder then end ok)"
        )
    if usable:
        which = (
            "if that request is the one you want here"
            if len(priors) == 1
            else "if one of them is the one you want here"
        )
        commands = " or ".join(
            f"`gigstack-async journal adopt {state.key} {p.request_id} {kind}`" for p in usable
        )
        safe = (
            f"Free first: {which}, {commands} attaches it to this folder without sending "
            "anything, and the next run downloads it (one GET of each package: one of SAT's 2 "
            "is assumed spent where it was made; if that GET fails, `gigstack-async journal "
            f"retry-download {state.key}` allows one more, free). Or use the folder that "
            "already has it"
        )
    else:
        safe = (
            f"{'That request' if len(priors) == 1 else 'None of them'} can no longer be "
            "downloaded (failed or expired): use the folder that has its files, if any"
        )
    known = {p.request_id for p in priors if p.typed} | set(m.identical_requests(state))
    if len(known) >= 2:
        # SAT's limit for these dates is spent: a new one (resend, --allow-duplicates) would be
        # refused with 5002, for good (newcomer 9g #5); the month's own earlier creates for
        # them count too (review 9m #5).
        return (
            f"{safe}. A new request for these dates would be refused with SAT 5002 for good "
            f"(and may be billed). {m.other_dates_way(state)}"
        )
    them = "that request" if len(priors) == 1 else "them"
    return (
        f"{safe}. To send a new request for these dates anyway (it may be billed, and uses one "
        f"of SAT's 2): `gigstack-async journal resend {state.key}` for this month only, or run "
        "the same command again with --allow-duplicates (every held month). Until then the "
        f"month stays held for {them}, even once the history no longer lists "
        f"{'it' if len(priors) == 1 else 'them'}"
    )
