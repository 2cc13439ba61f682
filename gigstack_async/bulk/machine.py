"""One month of a bulk download as an explicit state machine: pure, no I/O, no clock.

`transition(state, observation)` returns the month's next `MonthState` and the `Command`s the
engine must perform. The engine persists the new state (one store transaction) BEFORE it
performs the commands, so a crash at any point resumes from a state that already accounts for
every request that may have been sent: the intent to create is recorded before the create, and
each package download is counted before the GET.

```
                 Send                Created
   planned ───────────▶ submitting ─────────▶ submitted ──▶ processing ──▶ completed
     ▲  ▲                 │   │ CreateUnknown                                  │ FetchPackage
     │  │ Start           │   └──▶ (outcome unknown: reconcile with history)   ▼
     │  └──── refused ◀───┘ 4xx      adopt ─▶ submitted                       staged
     │                                  · ambiguous ─▶ needs-attention          │ Extracted
     │                                                                          ▼
     └── AllowResend (user) ── expired · sat-failed · needs-attention          done
                                                     empty (SAT 5004, or a count of 0)
```

Rules the machine enforces (tests/bulk/test_machine_model.py checks them on random runs):

- A month is created at most once unless the user explicitly allowed a resend. A create whose
  outcome is unknown is adopted when the history lists exactly one request that fits it, and
  otherwise needs the user: a history that does not list a request never proves it absent
  (the docs do not say which requests it keeps, nor in what order: reviews 9l, 9p, 9q).
- A known request id listed with other attributes (`MonthState.records`) is another request
  under a restarted id: never dropped as "known", never followed.
- A staged package whose files are not the month's (kind, issue dates) is never extracted.
- Reconciling an unknown outcome never compares our clock with the server's: only request ids
  seen before the create, dates, `rfcType` and `requestType` count, and a missing field never
  counts as a match. Request ids the month already knew are never adopted again.
- A package is downloaded at most twice (SAT's limit); the third attempt is refused before it is
  sent, once the engine found no complete staged copy on disk (`FindStaged`: a run killed
  after staging, before the journal heard). A package download is never repeated within a run.
  Each counted download is unsure until something shows it reached SAT (package bytes, SAT's
  5007/5008): when the two counted are not both sure, the month says so and offers the user one
  more GET (`AllowDownload`, `journal retry-download`: SAT answers a spent package with 5008,
  which bills nothing) before a billed resend. One extra GET per confirmation, never by itself.
- Downloads this journal never counted (a request adopted into a month it had no record of, a
  record rebuilt from a log without counts: `uncounted`) are unknown, never zero: each package
  of that request counts as SAT's two downloads, both unsure. A request taken from outside the
  journal (`foreign`: gigstack's duplicate answer, SAT 5005's active request or an adopt into a
  month that never sent anything, naming an id no month knows) was maybe downloaded where it was
  made: each package counts one download, unsure, so the month sends at most one GET of it by
  itself, never retried (`_taken`). A month whose folder holds files
  it did not extract says so before any resend (`files_notice`); `KeepFiles` ends it done.
- "Completed" with no count and no package ids is unknown, never zero: the status is asked; if
  still unknown the month needs attention.
- Every month ends a run `done`, `empty`, failed with a reason, or needing attention with a
  way forward (`hint`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

import attrs

from gigstack_async._dates import MEXICO_CITY
from gigstack_async.bulk.created_at import created_at_instant

__all__ = [
    "DAMAGED_DIR",
    "DOWNLOAD_BUDGET",
    "HISTORY_WINDOW",
    "KEPT",
    "MISSING_FILES",
    "Adopt",
    "AllowDownload",
    "AllowResend",
    "Command",
    "ContentRejected",
    "Counts",
    "CreateNotSent",
    "CreateRefused",
    "CreateUnknown",
    "Created",
    "DeleteStaged",
    "ExtractFailed",
    "ExtractPackage",
    "Extracted",
    "FetchPackage",
    "FetchStatus",
    "FindStaged",
    "HeldRequest",
    "HistorySeen",
    "KeepFiles",
    "KnownRequest",
    "MonthState",
    "Observation",
    "OwnPart",
    "PackageFailed",
    "PackageSending",
    "PackageStaged",
    "PartTrouble",
    "PlanCreate",
    "PlanDecision",
    "PollFailed",
    "ReleasedRequest",
    "SatRefuses",
    "Seen",
    "Send",
    "SendCreate",
    "SplitElsewhere",
    "Stage",
    "StagedLost",
    "StagedMissing",
    "Start",
    "StatusSeen",
    "Warn",
    "allowed_packages",
    "beyond_count",
    "count_source",
    "counted_downloads",
    "earlier_files",
    "files_missing",
    "files_notice",
    "held_created_at",
    "held_from_log",
    "held_ids",
    "held_records",
    "hold",
    "identical_limit_reached",
    "identical_requests",
    "identical_sent",
    "limit_split",
    "listed_before_create",
    "logged_creates",
    "made_elsewhere",
    "open_day_note",
    "open_day_own",
    "open_day_split",
    "other_dates_way",
    "own_part_holds",
    "own_request",
    "parts_missing",
    "plan_decision",
    "recorded_holds",
    "refill_packages",
    "sat_code",
    "sat_refuses",
    "says_duplicate",
    "status_criteria",
    "taken_open_day",
    "teaches_rfc",
    "third_identical",
    "transition",
    "vouch_created_at",
    "vouched_created_at",
]

HISTORY_WINDOW = 20
"""The history lists only the most recent 20 requests (FACT-docs)."""
DOWNLOAD_BUDGET = 2
"""SAT serves each package at most twice (FACT: SAT 5008 after that)."""
POLL_WARN_AFTER = 3
"""Consecutive polling failures of one month before a warning is raised."""
FREE_RETRIES_PER_RUN = 6
"""Package downloads per run that may fail without spending SAT's budget before giving up."""
CHECK_MISSES = 3
"""Histories that may omit a journaled (unchecked) request before the month needs attention."""
POLL_GIVE_UP = 5
"""Consecutive 'not found' answers for a month's request before it needs attention."""
STATUS_TRIES = 3
"""Status calls per run for a completed month without package ids before it needs attention."""

_SAT_CODE = re.compile(r"\b(50(?:0[0-9]|1[0-9]))\b")


# SAT's authentication codes (300 invalid user, 302/303 seal, 304/305 certificate revoked,
# expired or invalid: the FIEL, or a CSD sent instead) and gigstack's own words for a FIEL or a
# SAT registration it lacks. How gigstack words a request that failed for them is NOT FOUND:
# any of these counts.
_FIEL_REASON = re.compile(
    r"\bSAT\W{0,3}30[0-5]\b|\bFIEL\b|e\.firma|\bcertificad|not registered|no registrad",
    re.IGNORECASE,
)


def fiel_reason(message: str | None) -> bool:
    """Whether SAT (or gigstack) failed a request for the taxpayer's FIEL (e.firma) or its
    registration with SAT: something only the user can fix, at gigstack."""
    return message is not None and _FIEL_REASON.search(message) is not None


def sat_code(*texts: str | int | None) -> int | None:
    """The first SAT code (5000–5019) found in error codes or messages, else None."""
    for text in texts:
        if text is None:
            continue
        found = _SAT_CODE.search(str(text))
        if found:
            return int(found.group(1))
    return None


class Stage(StrEnum):
    PLANNED = "planned"
    SUBMITTING = "submitting"
    """Intent recorded; the create request is in flight, or its outcome is unknown."""
    REFUSED = "refused"
    """The server refused the create (4xx): nothing billed, resent by the next run."""
    SUBMITTED = "submitted"
    DUPLICATE = "duplicate"
    """SAT answered 5005 (Solicitud duplicada: an identical request is active): nothing is
    sent again by itself; the month looks for that request in the history (`_find_duplicate`)."""
    PROCESSING = "processing"
    COMPLETED = "completed"
    STAGED = "staged"
    """Every package is on disk (the staged ZIP is the durable copy); extraction pending."""
    DONE = "done"
    EMPTY = "empty"
    SAT_FAILED = "sat-failed"
    EXPIRED = "expired"
    NEEDS_ATTENTION = "needs-attention"
    SPLIT = "split"
    """SAT answered 5003 (too many CFDIs for one request) or 5002 (its limit of requests for
    those dates) and the user downloaded the month in shorter parts elsewhere
    (`gigstack-async journal split`): finished, its CFDIs are there."""


SETTLED = frozenset(
    {
        Stage.DONE,
        Stage.EMPTY,
        Stage.SAT_FAILED,
        Stage.EXPIRED,
        Stage.NEEDS_ATTENTION,
        Stage.REFUSED,
        Stage.SPLIT,
    }
)
"""Stages in which a month has nothing left to do in this run."""

RESENDABLE = frozenset(
    {Stage.EXPIRED, Stage.SAT_FAILED, Stage.NEEDS_ATTENTION, Stage.REFUSED, Stage.DUPLICATE}
)


@attrs.frozen
class StagedFile:
    package_id: str
    path: str
    sha256: str
    size: int


@attrs.frozen
class ExtractedPackage:
    package_id: str
    files: tuple[str, ...]
    stamps: tuple[tuple[int, int], ...] = ()
    """Each of `files`' size (bytes) and mtime (ns) right after extraction, in order (review
    9o #5, #6): a run takes a CFDI whose size and mtime are unchanged as intact without reading
    it, and reads one that changed whole. Empty (a journal written before, files `journal keep`
    recorded, an own part), or not one per file: each run looks at the bytes as before."""
    served_damaged: tuple[tuple[str, str], ...] = ()
    """(name, SHA-256 hex) of the CFDIs among `files` that the package itself held in a form
    the content check calls damaged (e.g. a NUL after the closing tag, review 9o #5): a copy
    with those very bytes is the package's own, never counted as damaged."""


@attrs.frozen
class OwnPart:
    """Dates an earlier request of the month downloaded into its folder (the month was done or
    empty for them), kept when `journal resend --force` asked for the plan's wider dates
    (MISSING DAYS): if SAT refuses those with 5002, these days are already here and count as a
    part for `journal split` (review 9g #4). `files`: the names extracted for them."""

    start: date
    end: date
    files: tuple[str, ...] = ()
    invoice_count: int | None = None
    """The CFDIs SAT reported for those dates (None: unknown, e.g. a journal written before)."""
    missing: int = 0
    """CFDIs SAT reported for those dates that the folder no longer held when `journal repair`
    rebuilt the part from its log (`files` are then the folder's files, not the extraction's):
    a part missing some never completes the month (`own_part_completes`, `journal split`
    without --force; review 9k #2)."""


@attrs.frozen
class KnownRequest:
    """What the journal saw of one of its request ids: a request listed under that id with
    other dates, types or `createdAt`, or back to pending after it had finished, is another
    request (the server's ids restarted). None: not seen yet."""

    id: str
    start: date | None = None
    end: date | None = None
    rfc_type: str | None = None
    request_type: str | None = None
    created_at: str | None = None
    """`createdAt` exactly as the server wrote it (its unit is a GUESS: compared as text)."""
    final: str | None = None
    """The last finished status seen (completed, failed, expired)."""


@attrs.frozen
class HeldRequest:
    """An identical request a run held a `planned` month for (`hold`), with the dates it was
    identical to (`start..end`: the month's dates then) and what the history said of it last
    (`status`, and `message`: its `statusMessage`, e.g. SAT 5003; None: never reported). Kept
    when the plan asks the month for other dates, and consulted again whenever the month's
    dates are these again (`held_ids`: review 9m #2, a run of other dates that sent nothing
    dropped the hold, and the next plain run billed the month again); what was learnt stays
    once the history no longer lists it (review 9m #4: its 5003 was forgotten)."""

    id: str
    start: date
    end: date
    status: str | None = None
    message: str | None = None
    created_at: str | None = None
    """Its `createdAt` exactly as the history wrote it when a run held the month for it (None:
    not reported, or a journal written before). The server's word, kept once the history's
    newest 20 no longer list it: a month that adopts the request takes its open day from it
    (`held_created_at`; newcomer 9k #1: "createdAt was never shown", a MISSING DAYS and a
    billed one-day request for a request made months after the month was over)."""


@attrs.frozen
class ReleasedRequest:
    """A request id this month had and is known not to be its own: its package did not hold
    the month's CFDIs (`ContentRejected`), or the user adopted another id for the month (one
    request per month). Another month may adopt it (`journal adopt`) without --ids-restarted.
    `downloads`: the SAT downloads this month spent on its packages, carried to the month that
    adopts it (SAT counts per package, whichever month asked). `unsure`: how many of those may
    not have reached SAT (`MonthState.unsure`), carried too: a count carried as sure would stop
    the adopting month from asking SAT once more, and send the user to a billed resend.
    `foreign`: the request was not proven this journal's own (`MonthState.foreign`): the month
    that takes it counts it so too, one GET of each package not counted yet (review 9w: counted
    0, SAT's 3rd GET). A log line written before it was kept reads True (`store`: unknown is
    never zero)."""

    id: str
    downloads: tuple[tuple[str, int], ...] = ()
    unsure: tuple[tuple[str, int], ...] = ()
    foreign: bool = False


@attrs.frozen
class MonthState:
    """Everything the journal knows about one month. Never mutated: transitions return anew."""

    key: str
    start: date
    end: date
    rfc_type: str
    request_type: str
    stage: Stage = Stage.PLANNED
    request_id: str | None = None
    duplicate: bool = False
    known_ids: tuple[str, ...] = ()
    """Every request id this month ever had; none is adopted again automatically."""
    records: tuple[KnownRequest, ...] = ()
    """What was seen of `known_ids` (to tell a request from another one under a reused id)."""
    creates: int = 0
    """Create requests sent (or about to be) for this month, over all runs, that may have
    reached the server: counted by `Send` before the create leaves, and given back by
    `CreateNotSent` (no attempt connected, nothing billed)."""
    resend_allowed: bool = True
    """A create may be sent from `planned`; False until the user allows it (`journal resend`)."""
    exists: bool = False
    """The last create surely reached the server (a 2xx whose body was unreadable)."""
    history_before: tuple[str, ...] | None = None
    """Request ids the history listed before the last create was sent."""
    unknown: bool = False
    """The last create's outcome is unknown and must be reconciled with a later history."""
    need_generation: int = 0
    """Reconcile only with a history whose call started after this generation."""
    unknown_cause: str | None = None
    """Why the last create's outcome is unknown (a 5xx, a 429, a lost answer, a killed run)."""
    create_sent_at: float | None = None
    """Our clock (epoch seconds) when the month's last create was sent (`Send.sent_at`), kept
    only while no answer to it came: its outcome unknown (a 5xx, a lost or unreadable answer, a
    killed run), also once the user adopted a request for the month. None once the server
    answered it (`Created`, `CreateRefused`), or when not known. Never a proof of anything: the
    adopted request may have been made elsewhere. The open-day note offers it as the time to
    vouch for when the adopted request is that create (`_open_day_note`, newcomer 9j F1)."""
    sat_state: str | None = None
    invoice_count: int | None = None
    package_ids: tuple[str, ...] | None = None
    """None: unknown (the server did not say). `()` is an explicit empty list."""
    status_asked: bool = False
    """The status was asked in this run (reset by `Start`: a failed or lost call is retried)."""
    checked: bool = False
    """This run saw `request_id`'s dates and type match the month (a history entry, our own
    create answer, or the user's `journal adopt`). Reset by `Start`: request ids may restart
    between runs, and a status answer carries no dates or type, so it never proves fit. No
    package is fetched and no status answer adopted while False."""
    confirmed_id: str | None = None
    """The request id the user confirmed with `journal adopt` (checked at every `Start`)."""
    typed: bool = False
    """This run saw that `request_id` is the month's kind of request: our own create answer, a
    history entry whose requestType is ours or whose `createdAt` is the one recorded for it,
    or the user's `journal adopt` just before the run (of a candidate the journal saw with a
    `createdAt`: only once a history lists it with that `createdAt`, `_seen_as_candidate`).
    Without it a month is never concluded empty (no package to check: unknown is not zero).
    Reset by `Start`."""
    vouched: bool = False
    """`journal adopt` since the last `Start`: the next run takes the user's word (`typed`)."""
    server_vouched: str | None = None
    """The request id the server itself vouched for as this month's: our own create answer, or
    a history entry listing it with the month's dates and rfcType (`_checks`). Never set by the
    user's `journal adopt` alone (it clears it). Only a package of such a request teaches the
    journal its taxpayer's RFC (`teaches_rfc`): a request only the user vouched for may be
    another taxpayer's or the other direction's, and a wrong RFC would refuse every later month
    (review 9e #1). Kept across runs: its packages were fetched while it was checked."""
    misses: int = 0
    """Histories in this run that did not list the unchecked `request_id`."""
    listed: str | None = None
    """The request id a history entry listed in this run with the month's dates and rfcType
    (`_checks`). The history is documented and the status body is not: a status answer never
    overrules what that entry showed (review 9m #8). Reset by `Start`."""
    downloads: tuple[tuple[str, int], ...] = ()
    """(package id, downloads sent) — at most DOWNLOAD_BUDGET each, ever."""
    staged: tuple[StagedFile, ...] = ()
    extracted: tuple[ExtractedPackage, ...] = ()
    want_files: bool = True
    failed_this_run: tuple[str, ...] = ()
    """Packages whose download failed in this run: never retried before the next `Start`."""
    poll_failures: int = 0
    free_failures: int = 0
    """Package downloads that failed without spending SAT's budget, in this run."""
    reason: str | None = None
    """Why the month is in its stage (shown by `gigstack-async journal show`)."""
    hint: str | None = None
    """The way forward, for stages that need the user."""
    resume_to: Stage | None = None
    """For needs-attention that the next run can continue by itself."""
    sat_code: int | None = None
    exhausted: tuple[tuple[date, date], ...] = ()
    """(start, end) of every request SAT refused with 5002 (its limit of requests for those
    criteria): never sent again, whichever dates the month was tried with since."""
    released: tuple[ReleasedRequest, ...] = ()
    """Request ids this month had that are known not to be its own (see `ReleasedRequest`):
    still in `known_ids` (never adopted again by this month automatically)."""
    expired: tuple[str, ...] = ()
    """Request ids of the month whose packages are gone: SAT answered a GET of one of them with
    5007, or the server reported the request expired (`_expired`; SAT keeps packages 72 h).
    Like a request whose package SAT served twice, such a request cannot finish the month:
    never offered for `journal adopt` again, and a resend the server answers with it needs
    other dates (`spent_requests`; review h1 #1). `journal repair` rebuilds it from the log's
    expired lines (`engine.held_month`)."""

    def released_marked(self) -> tuple[ReleasedRequest, ...]:
        """`released`, each marked `foreign` when the month took it so (a release recorded
        before `ReleasedRequest.foreign` was kept says it only in `foreign`)."""
        return tuple(
            attrs.evolve(r, foreign=True) if r.id in self.foreign and not r.foreign else r
            for r in self.released
        )

    def released_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.released)

    unsure: tuple[tuple[str, int], ...] = ()
    """(package id, how many of its counted `downloads` may not have reached SAT): counted when
    the GET left, their outcome unknown (a 5xx, a lost connection or a timeout before any byte,
    a killed run). A package not listed: every counted download surely reached SAT (journals
    written before this field read so: the conservative reading, no extra GET offered)."""
    granted: tuple[tuple[str, int], ...] = ()
    """(package id, GETs beyond SAT's two that the user allowed with `journal retry-download`,
    one per confirmation): sent only while a counted download may not have reached SAT."""
    uncounted: tuple[str, ...] = ()
    """Request ids whose package downloads this journal did not count: adopted into a month the
    journal had no record of (a new journal after a damaged one, a deleted journal), or rebuilt
    by `journal repair` from a log that kept no counts. Unknown is never zero: a package of such
    a request that has no count yet counts as SAT's two downloads, both unsure
    (`_with_unknown_counts`), so no GET is sent without `journal retry-download` (free: SAT
    answers a spent package with 5008), and `creates` is only a lower bound."""
    foreign: tuple[str, ...] = ()
    """Request ids taken from outside this journal (`_taken`, `made_elsewhere`): made by another
    folder, another machine or gigstack's dashboard, named by gigstack's `duplicate: true`
    answer, SAT 5005's active request or `journal adopt` of an id the month never had.
    How many of SAT's 2 downloads of their packages were spent there is unknown, never zero:
    each package with no count yet counts one, unsure (`_with_unknown_counts`), so the month
    sends at most one GET of it by itself and never retries it; the next needs `journal
    retry-download` (free: SAT answers 5008 for a package served twice; review 9u #3). The log
    keeps them as `uncounted` (`Counts.of`): a record rebuilt from it assumes both spent.
    Also any request whose origin is not proven to be this month's own create (review 9w):
    one the user adopted that the month never had, and one taken from the history for a create
    whose outcome is unknown (`_reconcile`): it may be another folder's (`unproven`)."""
    unproven: tuple[str, ...] = ()
    """The `foreign` ids taken for this month's own create whose answer was lost, or adopted by
    the user after the month sent one (review 9w): it may be that create or another's; the
    texts say so (`_made_outside`) instead of "made outside this journal"."""
    from_history: tuple[str, ...] = ()
    """The `unproven` ids taken from the history for this month's own create whose answer was
    lost (`_reconcile`: its one matching request, made after the create was sent), not
    adopted by the user: very likely that create, counted as another's only to be safe; the
    texts say so (`_made_outside`; r2 N2: "it may have been made outside this journal" read as
    alarming to a single-folder user)."""
    counts_lost: bool = False
    """The month's record was lost with its counts (rebuilt by `journal repair` or held from a
    log that kept none, or from files in its folder): any request adopted for it is
    `uncounted`, and `creates` is a lower bound."""
    on_disk: int = 0
    """Files in the month's folder when this run started (`Start.on_disk`): files there that
    the month did not extract (`files`) were extracted by an earlier record of it."""
    cfdis_on_disk: int = 0
    """Distinct CFDIs among them (`Start.cfdis`)."""
    staged_copies: int = 0
    """Staged ZIPs named for the month on disk when this run started (`Start.staged_copies`):
    an earlier record's package may be there, extracted again at no cost (review 9i #4)."""
    unextracted: bool = False
    """An earlier record of the month staged a package that was never recorded extracted (its
    log says so, or a staged copy was on disk when the record was rebuilt): the files in its
    folder may be only part of its CFDIs, so `journal keep` is not offered for them."""
    dates_unproven: bool = False
    """The month was rebuilt (`unrecorded`) from a log that kept no dates for its request (an
    older journal): its dates are the plan's, not proven to be its request's. Until a history
    lists the adopted request with its dates (`records`), the adopt stop never offers `journal
    keep` and keep refuses: it would record the whole month with files that may cover only part
    of it (review 9j #2)."""
    blocked_package: str | None = None
    """The package the month stopped at (needs-attention) because its count is full while a
    counted download may not have reached SAT: what `journal retry-download` allows one more
    GET of. Cleared by every other way into needs-attention, and by that allowance."""
    own_part: OwnPart | None = None
    """Set by a resend of a month done (or empty) for fewer days than the new request's: those
    days are already in the folder (`OwnPart`). Used only once SAT refuses the new dates with
    5002: the hint then names only the missing days, and `journal split` counts it. Kept when
    a plan then asks for other dates (`replanned`, which refuses dates overlapping it): once
    that request is done, its days and these cover the plan's together (`own_part_completes`,
    `missing_days`; review 9h #1)."""
    split_own: tuple[OwnPart, ...] = ()
    """Set when the month is recorded `split` with days its own folder holds: each range of
    them (its own part, and the dates its request was done for when a split or a run completed
    the wider dates SAT refused with 5002), with the files extracted for it. `journal split`
    named again with the same parts counts them again: the same split, nothing changed. Empty
    in a journal written before (loaded as is; a split of it names its own part when kept)."""
    open_day: date | None = None
    """The day (Mexico City) the month's last create was sent on, when its dates end that day
    (`Send.today`): the day was not over, so CFDIs stamped later that day, or certified late at
    SAT, may be missing from its package (newcomer 9g #4). A run on a later day of the same
    dates names that day MISSING DAYS (`plan_decision`); a new create clears it.

    A month that takes a request its own create did not make (`journal adopt`, gigstack's
    duplicate match, SAT 5005's active request, `journal keep` of an adopted month) gets the
    day that request may have been made on (`taken_open_day`, review 9n #4): its `createdAt`,
    or the day it was taken when that is no later than the month's last day."""
    open_day_unproven: bool = False
    """`open_day` is the month's last day only because the taken request's `createdAt` was
    unknown (`taken_open_day`): unknown never means "after" the day was over. The first
    history or status that lists the request with a readable `createdAt` sets the day from it
    (cleared when it was surely made after the last day)."""
    created_vouched: tuple[str, str] | None = None
    """(request id, `createdAt`) the user vouched for with `journal adopt --created-at` (ISO
    8601 with its offset), read from gigstack's dashboard: the open day comes from it
    (`taken_open_day`) while the month follows that request (`vouched_created_at`). The first
    history or status that lists the request with a readable `createdAt` wins over it (the
    server is the better witness; `_proven_open_day`). None: nothing vouched."""
    split_parts: tuple[str, ...] = ()
    """The journals of the parts elsewhere that `journal split` recorded the month with
    (`SplitElsewhere.parts`; relative to this journal's folder when possible, absolute in older
    journals: review 9o #4): each run and `journal show` read them (never write them) to check
    the parts still hold the files they record (`parts_missing`; review 9n #5).
    Empty in a journal written before (nothing to check)."""
    split_for: str | None = None
    """Set when a month held for another folder's identical request SAT refused with 5003 is
    recorded `split` (`SplitElsewhere.refused_elsewhere`: that request, as the history listed
    it): the same split named again says so again without reading the history."""
    held_for: tuple[str, ...] = ()
    """The identical requests (ids, as the history listed them) a run held this `planned` month
    for (`duplicates.prior_requests`; `hold`): the month stays held for them even once they
    leave the history's newest-20 window (newcomer 9g #1: a plain re-run then sent, and billed,
    it). Kept once a create is sent (`--allow-duplicates`, or a `journal resend`): they still
    count against SAT's 2 identical requests with the month's own (`identical_requests`,
    review 9m #5), and a month planned again for the same dates is held for them again. A plan
    of other dates (other criteria) holds the month only for the `holds` of those dates; back
    to these dates, it is held for these again (`held_ids`)."""
    holds: tuple[HeldRequest, ...] = ()
    """Every request a run held the month for, keyed to the dates it was identical to, with
    what was learnt of it (`HeldRequest`): `held_ids` reads those of the month's dates. A
    create sent keeps them: they count against SAT's 2 identical requests (review 9m #5).
    Empty in a journal written before (its `held_for` counts for the month's recorded dates)."""
    identical_allowed: bool = False
    """The user allowed a create for this held month although the account has an identical
    request (`journal resend` of a held month, `AllowResend`): the next run sends it, as
    `--allow-duplicates` does for every month. Cleared once the create is sent."""

    lost_files: tuple[str, ...] = ()
    """Files of a done month's recorded extraction that its folder no longer held intact when
    this run started (`Start.lost`: gone, or a CFDI damaged, as `content.lost_files` finds
    them): the month then needs attention, MISSING FILES (`_files_missing`; newcomer 9h #1)."""
    refill: bool = False
    """The user allowed downloading again the packages that held a done month's missing files
    (`journal retry-download`, `_allow_refill`): the journal's own package ids, extracted
    before, so they are fetched without checking the request again, and extracted without
    overwriting a file the folder still holds. Cleared when the month is done again."""
    refill_set_aside: tuple[ExtractedPackage, ...] = ()
    """The extraction records `_allow_refill` set aside (those of the packages downloaded
    again): put back when SAT refuses the refill (5008), so the month is MISSING FILES again
    and a run that finds the files back in its folder reports it done (newcomer 10 F2).
    Empty unless `refill`."""
    resend_for: tuple[date, date] | None = None
    """The dates `journal resend` allowed a new create for (`_allow_resend`): the user's
    explicit word to ask exactly them again (a done or empty month refreshed), so
    `own_done_covers` never blocks a create for these dates, only for another range the
    month's own part holds. None:
    no resend was allowed."""
    server_future: date | None = None
    """The first day the server refused as "in the future" for this month (its date behind
    this computer's; `_refused`): a MISSING DAYS from there on waits for the server's
    midnight, never a resend (newcomer 9i F0). None: never refused so."""
    server_oldest: date | None = None
    """The first day of the server's 71-month window when it refused this month's start as
    older (`_refused`): days before it can no longer be downloaded, so MISSING DAYS never
    offers a (billed) route to them (newcomer 9i F0b). None: never refused so."""
    window_refused: date | None = None
    """The latest start of this month the server refused as older than its 71-month window
    (`_refused`), whether or not its refusal named the window's first day: every day up to it
    is known to be outside the window, so no hint of the journal offers a start up to it
    (newcomer 9j F1c). None: never refused so."""
    window_cut: date | None = None
    """The user's word, once the server refused the month's first days as outside its 71-month
    window (`server_oldest`), that its days before this one are gone (`journal keep
    --outside-window`, `CutOutsideWindow`): a plan asking for them finds the month complete
    without them, and its result says which days were cut (`cut_days`; newcomer 9j F1c: the
    month was MISSING DAYS, not ok, on every run). None: not accepted."""

    @property
    def settled(self) -> bool:
        if self.stage is Stage.COMPLETED and not self.want_files:
            return True
        return self.stage in SETTLED

    @property
    def ok(self) -> bool:
        return self.stage in (Stage.DONE, Stage.EMPTY, Stage.SPLIT) or (
            self.stage is Stage.COMPLETED and not self.want_files
        )

    def downloads_of(self, package_id: str) -> int:
        return max((n for pid, n in self.downloads if pid == package_id), default=0)

    def unsure_of(self, package_id: str) -> int:
        """Counted downloads of the package that may not have reached SAT (at most all)."""
        unsure = max((n for pid, n in self.unsure if pid == package_id), default=0)
        return min(unsure, self.downloads_of(package_id))

    def sure_of(self, package_id: str) -> int:
        """Counted downloads of the package that surely reached SAT."""
        return self.downloads_of(package_id) - self.unsure_of(package_id)

    def allowed_of(self, package_id: str) -> int:
        """GETs of the package the machine sends: SAT's two, plus one per user confirmation."""
        granted = max((n for pid, n in self.granted if pid == package_id), default=0)
        return DOWNLOAD_BUDGET + granted

    @property
    def creates_known(self) -> bool:
        """Whether `creates` counts every create sent for the month (False: a lower bound)."""
        return not self.uncounted and not self.counts_lost

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(name for p in self.extracted for name in p.files)

    @property
    def pending_packages(self) -> tuple[str, ...]:
        done = {p.package_id for p in self.extracted} | {s.package_id for s in self.staged}
        return tuple(p for p in self.package_ids or () if p not in done)


@attrs.frozen
class Counts:
    """What a month has spent, as the journal's log keeps it with every transition (so that
    `journal repair` can rebuild a lost record without taking unknown for zero)."""

    creates: int = 0
    downloads: tuple[tuple[str, int], ...] = ()
    unsure: tuple[tuple[str, int], ...] = ()
    granted: tuple[tuple[str, int], ...] = ()
    uncounted: tuple[str, ...] = ()

    @classmethod
    def of(cls, state: MonthState) -> Counts:
        # A foreign request's single allowed GET is not in the log: rebuilt, it is uncounted.
        uncounted = (*state.uncounted, *(i for i in state.foreign if i not in state.uncounted))
        return cls(state.creates, state.downloads, state.unsure, state.granted, uncounted)


@attrs.frozen
class Asked:
    """The month's dates and SAT's count of its request's CFDIs, as the journal's log keeps
    them with every transition (beside `Counts`), so that `journal repair` rebuilds a lost
    record with the dates it was requested for and a count `journal keep` can check the
    folder against (review 9i #3). None: unknown (a log written before it kept them)."""

    start: date | None = None
    end: date | None = None
    invoice_count: int | None = None

    @classmethod
    def of(cls, state: MonthState) -> Asked:
        return cls(state.start, state.end, state.invoice_count)


# ------------------------------------------------------------------ observations


@attrs.frozen
class Seen:
    """A request as the server reported it (history entry or status). None: not reported."""

    id: str
    status: str | None = None
    rfc_type: str | None = None
    request_type: str | None = None
    start: date | None = None
    end: date | None = None
    invoice_count: int | None = None
    package_ids: tuple[str, ...] | None = None
    message: str | None = None
    created_at: str | None = None
    """`createdAt` as the server wrote it, as text (history entries only)."""


@attrs.frozen
class Start:
    """A run begins for this month (it is in the plan the user saw)."""

    want_files: bool = True
    on_disk: int = 0
    """Files the month's folder holds now (0: none, or no download folder)."""
    cfdis: int = 0
    """Distinct CFDIs (`<UUID>.xml`; metadata: rows) among them, as `journal keep` counts."""
    staged_copies: int = 0
    """Staged ZIPs named for the month in the staging folder now (`<YYYY-MM>-*.zip`)."""
    lost: tuple[str, ...] = ()
    """Files of a done month's recorded extraction (`MonthState.files`) the folder no longer
    holds intact (`content.lost_files`: gone, or a CFDI damaged on disk)."""


@attrs.frozen
class Send:
    """The engine may send the create now; `history_ids` is its latest history snapshot."""

    history_ids: tuple[str, ...] | None
    generation: int = 0
    today: date | None = None
    """Today in Mexico City as the create leaves (None: not known). A month whose dates end on
    it is requested before its last day is over (`MonthState.open_day`)."""
    sent_at: float | None = None
    """Our clock (epoch seconds) as the create leaves (`MonthState.create_sent_at`); None: not
    known."""


@attrs.frozen
class Created:
    request_id: str
    duplicate: bool = False
    today: date | None = None
    """Today in Mexico City as the answer came (None: not known): a `duplicate` request (not
    this create's) may have been made on any day up to it (`taken_open_day`)."""
    created_at: str | None = None
    """A `duplicate` request's `createdAt` as the latest history listed it (None: unknown)."""
    released: tuple[ReleasedRequest, ...] = ()
    """As `HistorySeen.released`: a `duplicate` answer naming a request another month released
    takes its SAT downloads too (review 9t #1: it was the one way that did not)."""
    journal_ids: tuple[tuple[str, str], ...] = ()
    """As `HistorySeen.journal_ids` (month key, request id; released ids left out): a month
    that has the `duplicate` request now makes this one need the user (`_owners`; review 9u
    #2: both downloaded it, SAT's 3rd GET), and a request no month of the journal knows is
    taken from outside it (`_taken`)."""


@attrs.frozen
class CreateRefused:
    """A 4xx other than 408/429: the server created nothing."""

    message: str
    code: int | None = None
    window_start: date | None = None
    """The first day of the server's 71-month window as earlier refusals of this journal named
    it (the latest `MonthState.server_oldest` of its months; None: none did): a window hint
    whose own refusal names no day never offers a start already known to be refused."""
    window_refused: date | None = None
    """The latest start earlier refusals of this journal refused as outside the window (the
    latest `MonthState.window_refused` of its months; None: none): a hint knowing no window
    start offers a month after it, never one the server already refused."""


@attrs.frozen
class CreateNotSent:
    """No attempt of the create got as far as a connection (DNS, connection refused, a connect
    timeout: `APIConnectionError.request_sent` False): the server cannot have seen it, so
    nothing was billed and the month may be sent again without the user."""

    message: str


@attrs.frozen
class CreateUnknown:
    """The create may or may not have reached the server (5xx, timeout, lost connection)."""

    message: str
    generation: int = 0
    """The newest history generation started when the failure was seen."""
    exists: bool = False
    """A 2xx answered (its body unreadable): the request surely exists; never resent."""


@attrs.frozen
class HistorySeen:
    entries: tuple[Seen, ...]
    generation: int = 1
    window: int = HISTORY_WINDOW
    expected: tuple[str, ...] = ()
    """Request ids the journal knows or this run created: a month looking for SAT's active
    duplicate (5005) never takes one of them (another month's request)."""
    records: tuple[KnownRequest, ...] = ()
    """What the journal saw of the requests of every month of the plan: an entry listed with
    other attributes under one of those ids shows that the server's ids restarted (named in
    the reason of a month whose create was lost)."""
    lists_journal: bool = True
    """The history lists at least one request id the journal knows (of any month of the plan)
    or this run created. False: none at all, so the API key, team or base URL may be another
    account's (after a `journal rebind` to a wrong key): the hint says so before any resend."""
    journal_ids: tuple[tuple[str, str], ...] = ()
    """(month key, request id) of every request id every month of the journal knows (not only
    the plan's): a month looking for SAT's active duplicate (5005) never takes another's."""
    released: tuple[ReleasedRequest, ...] = ()
    """Every request some month of the journal released, with the SAT downloads it spent on
    its packages: a month that takes one of them from the history (its lost create found, SAT
    5005's active request) counts them too, as `journal adopt` does (`Adopt.downloads`;
    review 9s B: it counted only its own and sent SAT's 3rd GET)."""


@attrs.frozen
class StatusSeen:
    seen: Seen
    starts: tuple[date, ...] | None = None
    """The dates the answer's start date may mean (`engine.status_days`: its format is a GUESS;
    an instant reads as its date part and its Mexico City date). `()`: not readable (unknown).
    None: `seen.start` as given."""
    ends: tuple[date, ...] | None = None
    """The same for its end date."""


@attrs.frozen
class PollFailed:
    message: str
    not_found: bool = False


@attrs.frozen
class PackageSending:
    """The engine is about to send the package GET: counted (durably) before it leaves."""

    package_id: str


@attrs.frozen
class PackageStaged:
    file: StagedFile


@attrs.frozen
class PackageFailed:
    package_id: str
    message: str
    code: int | None = None
    sent: bool = True
    """False only when the GET never left (a connect failure) or was refused before anything
    was served (a 401: the key refused): given back. Any other answer, a 5xx or
    a 429 included, may come after SAT served the package (a gateway error, or a limiter
    behind the API, in front of a served download): counted, unsure (`reached` False)."""
    rate_limited: bool = False
    """The answer was a 429. Whether gigstack's limiter answers before or after SAT is not
    documented (GUESS), so the GET counts as an unsure download like a 5xx; the next GET (the
    engine waits the 429's Retry-After first) goes in this run only while SAT's budget has
    room for it: never a third GET without `journal retry-download`."""
    reached: bool = False
    """The GET surely reached SAT: package bytes were served (a 2xx, even truncated or not a
    valid package). False: its outcome is unknown (a 5xx, a connection lost or a timeout
    before any byte): counted, but it may not have spent SAT's budget. A SAT code (5007,
    5008) proves it reached SAT whatever this says."""


@attrs.frozen
class StagedMissing:
    """`FindStaged` found no complete, verified staged file of the package on disk."""

    package_id: str


@attrs.frozen
class StagedLost:
    """The staged copy cannot be extracted from: gone, damaged, or not the bytes recorded when
    it was staged (its SHA-256). It is dropped (and removed): the package counts as not staged."""

    package_id: str
    message: str


@attrs.frozen
class Extracted:
    package_id: str
    files: tuple[str, ...]
    stamps: tuple[tuple[int, int], ...] = ()
    """`ExtractedPackage.stamps`, as the engine read them right after extracting."""
    served_damaged: tuple[tuple[str, str], ...] = ()
    """`ExtractedPackage.served_damaged`."""


@attrs.frozen
class ContentRejected:
    """A staged package does not hold this month's CFDIs (checked before extraction: the kind
    of file, and every issue date inside the month's dates ± 1 day). `found` says what it
    holds."""

    package_id: str
    found: str


@attrs.frozen
class ExtractFailed:
    package_id: str
    message: str
    hint: str | None = None
    """The way forward when it is not "free space or fix the folder" (the default)."""


@attrs.frozen
class Adopt:
    """The user says this request id is the month's request (`gigstack-async journal adopt`)."""

    request_id: str
    downloads: tuple[tuple[str, int], ...] = ()
    """SAT downloads other months of the journal already spent on this request's packages
    (they released it: `ReleasedRequest.downloads`); counted here too. A package listed more
    than once (several months released the request) counts its largest count, once."""
    unsure: tuple[tuple[str, int], ...] = ()
    """How many of `downloads` may not have reached SAT (`ReleasedRequest.unsure`); the largest
    doubt listed for a package holds."""
    uncounted: bool = False
    """This journal did not count the downloads of the request's packages (the month was not in
    it: see `MonthState.uncounted`): each counts as spent until SAT shows otherwise."""
    foreign: bool = False
    """The request is not proven this journal's own (`made_elsewhere`: the month never had
    the id, no month knows it, or one that released it had taken it so): one GET of each
    package, as `MonthState.foreign` says; after the month sent a create, also `unproven`.
    `uncounted` (or a month whose counts were lost) wins: both assumed spent."""
    today: date | None = None
    """Today in Mexico City as the user adopts (None: not known): the request was made on or
    before it, so a month whose dates end no earlier may have been requested before its last
    day was over (`taken_open_day`)."""
    created_at: str | None = None
    """The request's `createdAt` as the journal saw it (None: unknown, never "after")."""
    vouched_created_at: str | None = None
    """`journal adopt --created-at`: the request's creation time as the user read it in
    gigstack's dashboard, ISO 8601 with an offset (`vouch_created_at` makes one). The open day
    comes from it; refused when the server's `createdAt` (`created_at`, or the month's record)
    is readable and says otherwise, when on a Mexico City day before the month's first, or
    after `today` + 1 (clock skew), or when the month's own request already has a proven open
    day. The month's own request adopted again with it, even once done, only records it:
    nothing else changes (no download counted again, no file forgotten)."""


@attrs.frozen
class AllowResend:
    """A new create may be sent: the user accepts it may be billed (`gigstack-async journal
    resend`), or the plan asks a month SAT refused with 5002/5003 for other dates (`start`,
    `end`: new criteria for SAT, taken by the month)."""

    start: date | None = None
    end: date | None = None
    force: bool = False
    """Resend even a month a plain re-run can still finish for free (`free_way`)."""


@attrs.frozen
class AllowDownload:
    """The user allows one more GET of the package the month stopped at, whose counted
    downloads are not all sure to have reached SAT (`gigstack-async journal retry-download`).
    If SAT served it twice already, it answers 5008: nothing is billed, and the month then
    needs a resend. `package_id`: that package, checked (None: whichever it stopped at)."""

    package_id: str | None = None


@attrs.frozen
class SplitElsewhere:
    """The user downloaded a month SAT refused with 5003 or 5002 in shorter parts, elsewhere, and
    `gigstack-async journal split` checked that those parts cover its dates and are done;
    `where` says where its CFDIs are (shown by `journal show`).

    Also a month done (or empty) for fewer days than the plan's, whose plan dates SAT refused
    with 5002 (MISSING DAYS that no resend can fetch): `start`..`end` are then those plan dates,
    which the month's own request and the parts cover together, and the month takes them."""

    where: str
    start: date | None = None
    end: date | None = None
    refused_elsewhere: str | None = None
    """A request with the month's exact criteria that SAT refused with 5003, which this
    journal did not send (another folder's, seen in the history by `journal split`): a month
    held for it (`planned`, nothing in flight) is split too. Sending it would be refused
    again, so the parts are its only way to finish."""
    invoice_count: int | None = None
    """The CFDIs of the month's days in the parts elsewhere, together (each part's journal's
    count); None when a part's is unknown. The split month's count adds its own parts' to it:
    unknown stays unknown, never 0."""
    parts: tuple[str, ...] = ()
    """The parts' journals (relative to this journal's folder when possible, else absolute):
    recorded as `MonthState.split_parts` (kept as they were when none are given)."""


def _total(*counts: int | None) -> int | None:
    """The sum of CFDI counts, None (unknown) when one of them is."""
    known = [n for n in counts if n is not None]
    return sum(known) if len(known) == len(counts) else None


@attrs.frozen
class KeepFiles:
    """The user checked that the files already in the month's folder, extracted by an earlier
    run (before the journal lost the month's record), are the month's CFDIs, and keeps them
    (`gigstack-async journal keep`): the month is done with them, nothing is downloaded or
    sent. `files`: their names (those the month did not extract itself)."""

    files: tuple[str, ...]
    dated: tuple[date, date] | None = None
    """(earliest, latest) issue date of the files' CFDIs, when `journal keep` read every one
    of them as a CFDI of the month's dates, of its kind (the taxpayer on the request's side)
    and at least as many as SAT reported (`content.cfdi_heads`); None: not checked or not so.
    A request whose dates nothing else shows (`dates_unchecked`) is proven to be the whole
    month's when they are its first and last day (review 9k #3)."""
    vouched: bool = False
    """`journal keep --force`: the user checked the request's dates in gigstack's dashboard
    (after a confirmation that spells out the risk)."""
    today: date | None = None
    """Today in Mexico City as the user keeps them (None: not known): for a month whose
    request was taken, not sent by its own create (`taken_open_day`)."""
    damaged: tuple[str, ...] = ()
    """Files named `<UUID>.xml` that are not a complete CFDI (`content.damaged_cfdis`:
    truncated, damaged, or another UUID inside): never kept, even with --force (review 9m
    #10): a lost CFDI recorded as the month's would close its free re-download."""
    empty: bool = False
    """`journal keep --empty`: the user checked in gigstack's dashboard (or with support) that
    the month's completed request found no CFDIs, where the server gave no package ids and
    SAT's count is unknown (review 9p #3): the month ends empty. Refused when its folder holds
    any file, SAT's count is known and > 0, or the server named a package."""


KEPT = "(kept)"
"""`ExtractedPackage.package_id` of the files `KeepFiles` recorded (no package of its own)."""
OWN_PART = "(own part)"
"""`ExtractedPackage.package_id` of an `OwnPart`'s files once `journal split` counted it."""


@attrs.frozen
class CutOutsideWindow:
    """The user accepts that the month's days before the server's 71-month window, which the
    server refused (`MonthState.server_oldest`), are gone: the month, done for the days still
    in the window, ends ok without them (`gigstack-async journal keep --outside-window`).
    Nothing is sent or downloaded; refused unless its missing first days are all before that
    window start (`_cut_outside_window`)."""


Observation = (
    Start
    | Send
    | Created
    | CreateRefused
    | CreateNotSent
    | CreateUnknown
    | HistorySeen
    | StatusSeen
    | PollFailed
    | PackageSending
    | PackageStaged
    | PackageFailed
    | StagedMissing
    | StagedLost
    | Extracted
    | ExtractFailed
    | ContentRejected
    | Adopt
    | AllowResend
    | AllowDownload
    | SplitElsewhere
    | KeepFiles
    | CutOutsideWindow
)

# ------------------------------------------------------------------ commands


@attrs.frozen
class SendCreate:
    key: str


@attrs.frozen
class FetchStatus:
    request_id: str


@attrs.frozen
class FetchPackage:
    package_id: str
    attempt: int
    """1 or 2: which of SAT's two downloads this one spends (3 or more only after the user's
    `journal retry-download`)."""


@attrs.frozen
class FindStaged:
    """Look for a complete staged file of the package (a run killed after the package was
    staged, before the journal recorded it); answer `PackageStaged` or `StagedMissing`."""

    package_id: str


@attrs.frozen
class ExtractPackage:
    package_id: str
    path: str


@attrs.frozen
class DeleteStaged:
    path: str


@attrs.frozen
class Warn:
    message: str


Command = (
    SendCreate | FetchStatus | FetchPackage | FindStaged | ExtractPackage | DeleteStaged | Warn
)

Result = tuple[MonthState, tuple[Command, ...]]

_ACTIVE = frozenset({Stage.SUBMITTED, Stage.PROCESSING})
_WAITING = frozenset({Stage.SUBMITTED, Stage.PROCESSING, Stage.COMPLETED})


class TransitionError(ValueError):
    """A user action that does not fit the month's state (the message says why)."""


# ------------------------------------------------------------------ transitions


def transition(state: MonthState, obs: Observation) -> Result:
    """The month's next state and the commands to perform. Pure: no I/O, no clock."""
    new, commands = _transition(state, obs)
    return _refill_ends(_no_third_identical(new)), commands


def _refill_ends(state: MonthState) -> MonthState:
    """`refill` (fetch without checking the request) holds only while the month downloads its
    own packages again: any other way out of completed or staged (expired, SAT 5008, another
    request adopted or resent) ends it, so a later request's packages are never fetched
    unchecked. An extraction of a staged package that failed (a file named `damaged` in the
    folder, disk full) keeps it, so the retry of that package still moves the damaged copies
    aside and never overwrites them (review 9o #7)."""
    failed = state.stage is Stage.NEEDS_ATTENTION and state.resume_to is Stage.STAGED
    if state.refill and state.stage not in (Stage.COMPLETED, Stage.STAGED) and not failed:
        return _evolve(state, refill=False, refill_set_aside=())
    if state.refill_set_aside and not state.refill:
        return _evolve(state, refill_set_aside=())
    return state


def identical_sent(state: MonthState) -> tuple[str, ...]:
    """The requests month `state` had (its `known_ids`: created by this journal, or adopted)
    recorded with exactly its dates, `rfc_type` and `request_type`, each known: SAT accepts
    only 2 requests with the same dates ever, and answers a third with 5002, for good
    (sat-domain.md: reported by third-party SAT clients, not in SAT's own documents; whether
    another request type for the same dates counts too is unsettled, so only the same type is
    counted: a lower bound). An answer gigstack marked `duplicate` is not recorded (no new
    request); a record missing a field never counts."""
    ours = (state.start, state.end, state.rfc_type, state.request_type)
    return tuple(
        r.id
        for r in state.records
        if r.id in state.known_ids and (r.start, r.end, r.rfc_type, r.request_type) == ours
    )


_SAT_IDENTICAL_LIMIT = 2
"""Requests SAT accepts with the same criteria, ever (the third: 5002)."""


def identical_requests(state: MonthState) -> tuple[str, ...]:
    """The identical requests the account is known to have for month `state`'s recorded dates:
    this journal's (`identical_sent`) and the other folders' it was held for (`held_for`,
    recorded for these dates: review 9m #5, a held month resent once already had 2)."""
    ids = identical_sent(state)
    for request_id in held_ids(state):
        ids = _add(ids, request_id)
    return ids


def identical_limit_reached(state: MonthState) -> bool:
    """Whether the account already has SAT's 2 identical requests for month `state`'s recorded
    dates (`identical_requests`): a third would be refused with 5002, so the month is only
    downloaded with other dates, in parts (`journal split` accepts it: review 9m #1)."""
    return len(identical_requests(state)) >= _SAT_IDENTICAL_LIMIT


@attrs.frozen
class SatRefuses:
    """Why SAT itself would refuse a new request for a held month's dates (`sat_refuses`)."""

    code: int
    """5003: a request the month is held for got it (too many CFDIs for one request); 5002:
    the account already has SAT's 2 identical requests (a third is refused with 5002)."""
    request_ids: tuple[str, ...]
    """The requests that say so: those SAT answered 5003, or the identical ones."""


def sat_refuses(state: MonthState) -> SatRefuses | None:
    """Why SAT would refuse a new request for month `state`'s recorded dates whatever the user
    allows (`journal resend` of a held month without --force, and `allow_duplicates`, which
    lifts the identical-request guard only: review 9n #2): a request it is held for at these
    dates got SAT 5003 (the same request is billed and refused again, listed in the history
    or not: review 9m #4), else the account already has SAT's 2 identical requests
    (`identical_limit_reached`, its own creates counted: review 9m #5). None: neither."""
    refused = tuple(h.id for h in held_records(state) if sat_code(h.message) == 5003)
    if refused:
        return SatRefuses(5003, refused)
    known = identical_requests(state)
    if len(known) >= _SAT_IDENTICAL_LIMIT:
        return SatRefuses(5002, known)
    return None


def third_identical(state: MonthState) -> str | None:
    """Why a new request for month `state`'s recorded dates would be SAT's third identical one
    (refused with 5002, for good), and the way on (other dates, each range into its own
    folder: `_other_dates_way`); None while this journal knows of fewer than 2 (its own and
    those the month was held for)."""
    known = identical_requests(state)
    if len(known) < _SAT_IDENTICAL_LIMIT:
        return None
    sent = identical_sent(state)
    held = [r for r in known if r not in sent]
    if not held:
        who = f"this journal already sent {len(sent)} requests"
    elif not sent:
        who = f"the account already has {len(held)} requests (another folder's)"
    else:
        who = (
            f"the account already has {len(known)} requests ({len(sent)} sent by this journal, "
            f"{len(held)} another folder's it was held for)"
        )
    return (
        f"{who} for exactly {state.start}..{state.end} "
        f"({', '.join(known)}), and SAT accepts only {_SAT_IDENTICAL_LIMIT} requests with the "
        "same dates ever: a third (as a resend would send) would be refused with SAT 5002, "
        "for good "
        "(and may be billed). " + _other_dates_way(state, state.start, state.end)
    )


_OTHER_WAYS = re.compile(r"gigstack-async journal (?:adopt|retry-download|keep)\b")
_RESEND_HINT = re.compile(r"gigstack-async journal resend(?: \d{4}-\d{2})?(?![\w -]*--force)")


def _no_third_identical(state: MonthState) -> MonthState:
    """A month whose hint offers `journal resend` after this journal already sent 2 requests
    for exactly its dates (newcomer 9g #5: expired twice, or 5008 twice, and the hint still
    said resend; the resend's create came back 5002): the hint points to other dates instead,
    split into parts (`third_identical`)."""
    if state.stage not in (Stage.EXPIRED, Stage.SAT_FAILED, Stage.NEEDS_ATTENTION):
        return state
    if state.hint is None or not _RESEND_HINT.search(state.hint):
        return state
    if state.stage is Stage.SAT_FAILED and state.sat_code in (5002, 5003):
        return state  # their own hints split the period already
    third = third_identical(state)
    if third is None or third in state.hint:
        return state
    if state.stage is Stage.NEEDS_ATTENTION and _OTHER_WAYS.search(state.hint):
        # Its other ways (adopt, retry-download, keep) still hold: the resend is the one
        # that fails. Its clause gives way to other dates (newcomer r2 N5: "only if that
        # fails, `journal resend` ... But ... a resend would be refused").
        clause = re.compile(
            rf"`gigstack-async journal resend {re.escape(state.key)}`[^`;.]*(?=[;.]|$)"
        )
        hint = clause.sub(lambda _found: f"no resend: {third}", state.hint, count=1)
        if _RESEND_HINT.search(hint) is None:
            return _evolve(state, hint=hint)
        return _evolve(state, hint=f"{state.hint}. But {third}")
    return _evolve(state, hint=third[0].upper() + third[1:])


def _transition(state: MonthState, obs: Observation) -> Result:
    match obs:
        case Start():
            return _start(state, obs)
        case Send():
            return _send(state, obs)
        case Created():
            created = state.stage is Stage.SUBMITTING
            if created:  # answered: the month's request is not a lost create
                state = _evolve(state, create_sent_at=None)
            spent = _spent_duplicate(state, obs)
            if spent is not None:
                return spent, ()
            return _server_vouch(_created(state, obs), (Seen(obs.request_id),), created=created)
        case CreateRefused():
            if state.stage is Stage.SUBMITTING:
                state = _evolve(state, create_sent_at=None)  # answered: nothing was created
            if state.stage is Stage.SUBMITTING and says_duplicate(obs.code, obs.message):
                return _duplicate(state, obs.message, state.need_generation), ()
            return _refused(state, obs)
        case CreateNotSent():
            if state.stage is not Stage.SUBMITTING:
                return state, ()
            reason = (
                f"the create request never reached the server ({obs.message}); nothing was "
                "billed, so it is sent again"
            )
            # Not one of the creates sent: the server never saw it (`journal show` counted it).
            planned = _evolve(
                state,
                stage=Stage.PLANNED,
                creates=max(0, state.creates - 1),
                resend_allowed=True,
                reason=reason,
                hint=None,
            )
            return planned, (Warn(f"{state.key}: {reason}"),)
        case CreateUnknown():
            if state.stage is not Stage.SUBMITTING:
                return state, ()
            reason = (
                f"outcome of the create request is unknown ({obs.message})"
                if not obs.exists
                else f"the create request was accepted but its answer is unreadable ({obs.message})"
            )
            return _evolve(
                state,
                unknown=True,
                exists=obs.exists,
                need_generation=obs.generation,
                reason=reason,
                unknown_cause=reason,
            ), ()
        case HistorySeen():
            return _server_vouch(_history(state, obs), obs.entries)
        case StatusSeen():
            seen = status_criteria(state, obs)
            result = _status(state, seen)
            fits = _fits(state, seen) is True
            return _server_vouch(result, (seen,) if fits else ())
        case PollFailed():
            if state.stage is Stage.DUPLICATE:
                return _duplicate_poll_failed(state, obs)
            return _poll_failed(state, obs)
        case PackageSending():
            return _sending(state, obs)
        case PackageStaged():
            return _staged(state, obs)
        case PackageFailed():
            return _package_failed(state, obs)
        case StagedMissing():
            return _staged_missing(state, obs)
        case StagedLost():
            return _staged_lost(state, obs)
        case Extracted():
            return _extracted(state, obs)
        case ExtractFailed():
            if state.stage is not Stage.STAGED:
                return state, ()
            return _attention(
                state,
                f"cannot extract package {obs.package_id}: {obs.message}",
                obs.hint
                or "free space or fix the folder, then run the same command again: the package "
                "is staged on disk and is extracted again without downloading it",
                resume_to=Stage.STAGED,
            ), ()
        case ContentRejected():
            return _unvouch(state, _content_rejected(state, obs))
        case Adopt():
            return _unvouch(state, _adopt(state, obs), always=True)
        case AllowResend():
            return _unvouch(state, _allow_resend(state, obs), always=True)
        case AllowDownload():
            return _allow_download(state, obs)
        case SplitElsewhere():
            split, commands = _split_elsewhere(state, obs)
            if obs.parts and split.stage is Stage.SPLIT:
                split = _evolve(split, split_parts=obs.parts)
            return split, commands
        case KeepFiles():
            return _keep_files(state, obs)
        case CutOutsideWindow():
            return _cut_outside_window(state), ()
    raise TypeError(f"unknown observation {obs!r}")  # pragma: no cover


def teaches_rfc(state: MonthState) -> bool:
    """Whether a package of the month's request may teach the journal its taxpayer's RFC: the
    server vouched for the request (`MonthState.server_vouched`), not only the user."""
    return state.request_id is not None and state.server_vouched == state.request_id


def _server_vouch(result: Result, entries: Iterable[Seen], *, created: bool = False) -> Result:
    """`result` with `server_vouched` set when the server vouched for the month's request in
    this observation: our create (in flight: `created`) was answered with it, or a history
    entry lists it
    with the month's dates and rfcType and nothing recorded of the id contradicts it."""
    state, commands = result
    rid = state.request_id
    if rid is None or not state.checked or state.server_vouched == rid:
        return result
    if created:  # our create's answer: the server made (or matched) the month's request
        vouched = state.stage is Stage.SUBMITTED and any(s.id == rid for s in entries)
    else:  # a history entry, for a month still waiting for its request (or just adopted)
        record = next((r for r in state.records if r.id == rid), None)
        vouched = state.stage in _WAITING and any(
            s.id == rid and _checks(state, s) and (record is None or _differs(record, s) is None)
            for s in entries
        )
    return (_evolve(state, server_vouched=rid), commands) if vouched else result


def _unvouch(old: MonthState, result: Result, *, always: bool = False) -> Result:
    """`result` without the server's word for a request the user replaced or confirmed (the
    user's word is not the server's), or that its package proved is not the month's."""
    state, commands = result
    if state.server_vouched is None or (state == old and not always):
        return result
    return _evolve(state, server_vouched=None), commands


def _evolve(state: MonthState, **changes: object) -> MonthState:
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


def _attention(
    state: MonthState, reason: str, hint: str, *, resume_to: Stage | None = None
) -> MonthState:
    return _evolve(
        state,
        stage=Stage.NEEDS_ATTENTION,
        reason=reason,
        hint=hint,
        resume_to=resume_to,
        blocked_package=None,
    )


def unrecorded(
    state: MonthState,
    *,
    known_ids: tuple[str, ...],
    creates: int,
    reason: str,
    hint: str,
    counts: Counts | None = None,
    on_disk: int = 0,
    asked: Asked | None = None,
    unextracted: bool = False,
    staged_copies: int = 0,
    open_day: date | None = None,
    released: tuple[ReleasedRequest, ...] = (),
    expired: tuple[str, ...] = (),
    candidate: str | None = None,
    given_back: bool = False,
    note: str = "",
) -> MonthState:
    """`state` (a month as the plan would add it) for a month the journal has no record of
    although it may have been requested before: its log lists it as sent (the record was lost
    or deleted), or its folder already holds files (a deleted or new journal). It needs the
    user, never an automatic create: `journal keep` (the files already in its folder, nothing
    sent), `journal adopt` (its request, nothing billed, but its packages are downloaded again)
    or `journal resend` (a new request, may be billed) go on from here.

    `counts`: the month's counts as its log kept them; None: unknown, so every id in
    `known_ids` is `uncounted` and so is any request adopted for it (`counts_lost`).
    `on_disk`: files in the month's folder now; when there are some, `hint` follows the
    notice that they are there and `journal keep` (`files_notice`), so that no one spends the
    package's last SAT download to extract files already on disk (newcomer 9e #1).
    `asked`: the month's dates and SAT's count as its log kept them (None: unknown): the month
    takes those dates (a request for part of the plan's shows MISSING DAYS, never "done" for
    the whole month) and the count, which `journal keep` checks the folder against.
    `unextracted`: its log shows a package staged and never extracted; `staged_copies`: staged
    ZIPs named for the month on disk. Either way its folder may hold only part of its CFDIs:
    `journal keep` is not offered (review 9i #4). `open_day`: the day its request was sent on
    when its dates end that day (`MonthState.open_day`, as the log kept it): kept, so a later
    run still names that day MISSING DAYS (review 9m #11). `released`: the requests its log
    shows it released (`ReleasedRequest`, with the SAT downloads it spent on their packages):
    kept, so that the month never takes one back by itself and the month that adopts one
    counts those downloads (review 9u #1, 9v #3). `expired`: the requests its log shows expired
    (`MonthState.expired`). `candidate`: the request `hint` offers to adopt; when it cannot
    finish the month (`unusable`: its log counts a package SAT served twice, or it expired),
    adopting it downloads nothing: the hint offers a resend instead, or, when `given_back`
    (its log shows a create sent after it that brought no new request: the server answered
    with it, or SAT 5005, the state `_spent_duplicate` and `_spent_5005` leave), the other
    dates' way (`_spent_way`), never the same dates again (review h1 #2). `note`: said after
    the hint either way."""
    proven = asked is not None and asked.start is not None and asked.end is not None
    if asked is not None and asked.start is not None and asked.end is not None:
        state = _evolve(state, start=asked.start, end=asked.end, invoice_count=asked.invoice_count)
    held = _evolve(
        state,
        open_day=open_day,
        on_disk=on_disk,
        unextracted=unextracted or staged_copies > 0,
        staged_copies=staged_copies,
        known_ids=known_ids,
        dates_unproven=not proven,
        released=released,
        expired=expired,
    )
    hint = _spent_hint(held, hint)
    if counts is None:
        rebuilt = _evolve(
            _attention(held, reason, hint),
            creates=creates,
            resend_allowed=False,
            uncounted=known_ids,
            counts_lost=True,
        )
    else:
        rebuilt = _evolve(
            _attention(held, reason, hint),
            creates=max(creates, counts.creates),
            resend_allowed=False,
            downloads=counts.downloads,
            unsure=counts.unsure,
            granted=counts.granted,
            uncounted=counts.uncounted,
        )
    if candidate is not None and candidate in spent_requests(rebuilt):
        why = f"{reason}. Its request {candidate} cannot finish it: " + _why_unusable(
            rebuilt, candidate
        )
        if given_back:
            rebuilt = _evolve(
                rebuilt,
                reason=f"{why} (adopting it again downloads nothing), and the log shows the "
                "server answered a new create for its dates with it",
                hint=_spent_way(rebuilt),
            )
        else:
            rebuilt = _no_third_identical(
                _evolve(
                    rebuilt,
                    reason=f"{why} (adopting it again downloads nothing)",
                    hint=_spent_hint(
                        rebuilt,
                        f"request the month again with `gigstack-async journal resend "
                        f"{state.key}` (a new request may be billed)",
                    ),
                )
            )
    return _evolve(rebuilt, hint=f"{rebuilt.hint}{note}") if note else rebuilt


def held_from_log(state: MonthState, holds: Sequence[HeldRequest]) -> MonthState:
    """`state` (a month as the plan would add it, never sent) rebuilt from a log whose last
    holds were `holds` (`journal repair`; review 9m #3: the rebuilt month was planned and
    sendable, and once the request left the history the next run billed it again): planned,
    held for those of its dates (`held_ids`), the others kept for a plan that asks for theirs.
    The next run holds it again, listed in the history or not. Pure."""
    rebuilt = _evolve(state, holds=tuple(holds), held_for=())
    ids = held_ids(rebuilt)
    if not ids:
        return rebuilt
    return _evolve(
        rebuilt,
        held_for=ids,
        reason=f"its record was rebuilt from its log: held, not sent, for the identical "
        f"request(s) {', '.join(ids)} the account already has (another folder's?); the next "
        "run holds it again, listed in the history or not",
    )


@attrs.frozen
class Logged:
    """One line of a month's log as `journal repair` reads it (`store.LogLine`, without the
    store): the stage it moved to, why, its request id, its dates and count (None: unknown, a
    log written before it kept them) and its SAT code (None: none, or not kept)."""

    stage: Stage
    reason: str | None = None
    request_id: str | None = None
    asked: Asked | None = None
    sat_code: int | None = None


REFUSAL_CODES = frozenset({5002, 5003})
"""SAT's answers that refuse a request's dates for good (5002: their limit of requests; 5003:
too many CFDIs for one request): a month rebuilt from a log that shows one never asks for
those dates again."""


def refusal_code(line: Logged) -> int | None:
    """5002 or 5003 when `line` records SAT refusing the month's request so, else None: read
    from the line's SAT code (`MonthState.sat_code`, kept by the log since review 9k), or, for
    a line written before that, from its reason by `sat_code`, the very parser that derived the
    code when the line was written (`_sat_failed` reads SAT's message with it, and `_refused`
    writes "SAT 5002: ..."/"SAT 5003: ...")."""
    if line.stage is not Stage.SAT_FAILED:
        return None
    code = line.sat_code if line.sat_code is not None else sat_code(line.reason)
    return code if code in REFUSAL_CODES else None


def _dates(line: Logged) -> tuple[date, date] | None:
    a = line.asked
    return None if a is None or a.start is None or a.end is None else (a.start, a.end)


def _merged(ranges: Sequence[tuple[date, date]]) -> list[tuple[date, date]]:
    """`ranges` merged where they overlap or touch, sorted."""
    out: list[tuple[date, date]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _files_of(
    files: Sequence[str], days: Mapping[str, date | None] | None, a: date, b: date, *, rest: bool
) -> tuple[str, ...]:
    """The names among `files` whose CFDI is dated `a..b` (`days`), with the undated ones when
    `rest`; every name when `days` is None (not read)."""
    if days is None:
        return tuple(files)
    return tuple(
        n for n in files if ((d := days.get(n)) is not None and a <= d <= b) or (d is None and rest)
    )


def _short(state: MonthState, names: Sequence[str], count: int | None) -> int:
    """How many CFDIs fewer than SAT's `count` the names hold (0: unknown, metadata, or not)."""
    if count is None or state.request_type != "cfdi":
        return 0
    return max(0, count - sum(1 for n in names if n.lower().endswith(".xml")))


def _own_from_log(
    state: MonthState,
    done: Sequence[Logged],
    refused: tuple[date, date],
    files: Sequence[str],
    days: Mapping[str, date | None] | None,
    *,
    avoid: tuple[date, date] | None = None,
    rest: bool,
) -> OwnPart | None:
    """The folder's own part as the log proves it: the union of the days `done` requests (done
    or empty lines) downloaded for fewer days than `refused`, within them and clear of `avoid`
    (a later request's own days), as one range (the latest logged one's, when they do not join
    up); its files (those dated in it, `days`) and the count the log kept for it."""
    ranges: list[tuple[tuple[date, date], int | None]] = []
    for line in done:
        got = _dates(line)
        if (
            got is None
            or not refused[0] <= got[0] <= got[1] <= refused[1]
            or got == refused
            or (avoid is not None and not (got[1] < avoid[0] or avoid[1] < got[0]))
        ):
            continue
        ranges.append((got, None if line.asked is None else line.asked.invoice_count))
    if not ranges:
        return None
    groups = _merged([r for r, _ in ranges])
    last = ranges[-1][0]
    a, b = next(g for g in groups if g[0] <= last[0] <= g[1])
    inside = {r: n for r, n in ranges if a <= r[0] <= r[1] <= b}  # the latest count of each
    counts = list(inside.values())
    count = None if None in counts else sum(n for n in counts if n is not None)
    names = _files_of(files, days, a, b, rest=rest)
    return OwnPart(a, b, names, count, _short(state, names, count))


def logged_creates(held: MonthState, lines: Sequence[Logged]) -> MonthState:
    """`held` (a month rebuilt from its log: `unrecorded`, `refused_from_log`) with a record of
    each request its log shows this journal created (an id first logged right after a
    `submitting` line), with the dates that line sent and the journal's kind of request, so
    that SAT's 2 identical requests are still counted (`identical_sent`) once `journal repair`
    rebuilt the month (review 9m #6: the third went out, refused with 5002 for good). An id
    adopted, or found only later, is not recorded (its dates may be the plan's guess): a lower
    bound, as `identical_sent` is. Its hint then drops a resend that would be the third."""
    records = held.records
    first: set[str] = set()
    before: Logged | None = None
    for line in lines:
        rid = line.request_id
        if rid is not None and rid not in first:
            first.add(rid)
            dates = None if before is None else (_dates(before) or _dates(line))
            if (
                before is not None
                and before.stage is Stage.SUBMITTING
                and dates is not None
                and rid in held.known_ids
                and all(r.id != rid for r in records)
            ):
                records = (*records, KnownRequest(rid, *dates, held.rfc_type, held.request_type))
        before = line
    if records == held.records:
        return held
    return _no_third_identical(_evolve(held, records=records))


def refused_from_log(
    held: MonthState,
    lines: Sequence[Logged],
    files: tuple[str, ...],
    days: Mapping[str, date | None] | None = None,
) -> MonthState | None:
    """`held` (a month rebuilt by `unrecorded` from its log) as its WHOLE log proves it stands
    once SAT refused a request of it with 5002 or 5003 anywhere in it (`refusal_code`), so that
    adopting, resending or keeping never leads the user to bill days again (review 9j #1, 9k
    #1). None when the log shows no such refusal.

    Every range refused with 5002 is `exhausted`. The folder's own part is the union of the
    requests logged done (or empty) for fewer days than the refused ones, before or after the
    refusal (`_own_from_log`): its files are those of the folder's files (`files`) whose CFDI is
    dated in it (`days`, name -> issue date; None: not read, every file), its count the log's,
    and what the folder lacks of that count (`OwnPart.missing`: files lost before the repair
    are never taken for the part's; review 9k #2).

    - The log ends with the refusal (or its split, or a plan not sent yet): the month is
      `sat-failed` with SAT's code, the refused dates and that own part. A split is not
      restored (its parts are not logged): `journal split` records it again.
    - A request for fewer days was done after it (a re-plan of the missing days into the same
      folder, which the 5002/5003 hints allow): the month is done for it, with the days logged
      done before as its own part, as the run that did it left it; with 5002, when both cover
      the refused dates and the folder holds their counts, `split` at once (`own_part_completes`,
      as a run of the whole month records it without a repair).
    - Another request is under way after it: `held` (adopt its request) with the exhausted
      dates and the own part, so that nothing later asks for those days again.
    - The requests logged done before it hold every refused day (a re-plan, then the whole
      month asked again and refused): as a request done after it (the latest of them).

    A log that kept no dates for the refused request cannot prove which days the folder holds:
    the month stops there, with a hint naming `journal split`, and nothing is sent for it."""
    tail = [line for line in lines if line.stage is not Stage.NEEDS_ATTENTION]
    at = next((i for i in range(len(tail) - 1, -1, -1) if refusal_code(tail[i]) is not None), None)
    if at is None:
        return None
    refusal = tail[at]
    code = refusal_code(refusal)
    exhausted: tuple[tuple[date, date], ...] = held.exhausted
    for line in tail:
        got = _dates(line)
        if refusal_code(line) == 5002 and got is not None:
            exhausted = _add_dates(exhausted, *got)
    after = tail[at + 1 :]
    later = [line for line in after if line.stage not in (Stage.PLANNED, Stage.SPLIT)]
    refused = _dates(refusal)
    if later:
        return _after_refusal(held, tail[:at], later, refused, exhausted, files, days)
    split_reason = next((line.reason for line in after if line.stage is Stage.SPLIT), None)
    key = held.key
    redo = (
        f" It had been split (the log says: {split_reason}); `gigstack-async journal split "
        f"{key} <part folders>` records that again, with the part folders named there."
        if split_reason
        else ""
    )
    if refused is None:
        return _evolve(
            held,
            stage=Stage.SAT_FAILED,
            sat_code=code,
            exhausted=exhausted,
            reason=f"its record was rebuilt from its log: SAT refused its request with {code} "
            "(the log kept no dates, so which days its folder holds cannot be proven)",
            hint=f"nothing is sent for {key}: never adopt, resend or keep it (its days would be "
            "billed again). Download the days its folder does not hold into other --out "
            f"folders, then `gigstack-async journal split {key} <part folders>`." + redo,
            resume_to=None,
        )
    done = [line for line in tail[:at] if line.stage in (Stage.DONE, Stage.EMPTY)]
    inside = [
        i
        for i, line in enumerate(tail[:at])
        if line in done
        and (got := _dates(line)) is not None
        and refused[0] <= got[0] <= got[1] <= refused[1]
        and got != refused
    ]
    ranges = [d for i in inside if (d := _dates(tail[i])) is not None]
    if inside and not uncovered(*refused, ranges):
        # Requests logged done for fewer days hold every refused day (a re-plan, then the
        # whole month asked again and refused): the folder holds the month, as after one.
        last = inside[-1]
        return _after_refusal(held, tail[:last], [tail[last]], refused, exhausted, files, days)
    own = _own_from_log(held, done, refused, files, days, rest=True)
    state = _evolve(
        held,
        stage=Stage.SAT_FAILED,
        sat_code=code,
        request_id=refusal.request_id,
        start=refused[0],
        end=refused[1],
        invoice_count=None,
        exhausted=exhausted,
        own_part=own,
        resume_to=None,
    )
    why = (
        "SAT 5002: the limit of requests for these dates is exhausted"
        if code == 5002
        else "SAT 5003: too many CFDIs for one request"
    )
    hint = _5002_hint(state, state.start, state.end) if code == 5002 else _split_hint(state)
    return _evolve(
        state,
        reason=f"{why} (its record was rebuilt from its log; nothing is sent for it)"
        + _missing_note(own),
        hint=hint + redo,
    )


def _missing_note(own: OwnPart | None) -> str:
    if own is None or not own.missing:
        return ""
    return (
        f". Its folder no longer holds {own.missing} of the {own.invoice_count} CFDIs its log "
        f"kept for {own.start}..{own.end} (an earlier request's): put them back; `journal "
        "split` refuses the month without them (--force records it anyway)"
    )


def _after_refusal(
    held: MonthState,
    before: Sequence[Logged],
    later: Sequence[Logged],
    refused: tuple[date, date] | None,
    exhausted: tuple[tuple[date, date], ...],
    files: tuple[str, ...],
    days: Mapping[str, date | None] | None,
) -> MonthState:
    """`refused_from_log` for a log whose refusal was followed by another request."""
    held = _evolve(held, exhausted=exhausted)
    last = later[-1]
    got = _dates(last)
    done_before = [line for line in before if line.stage in (Stage.DONE, Stage.EMPTY)]
    partial = (
        refused is not None
        and got is not None
        and refused[0] <= got[0] <= got[1] <= refused[1]
        and got != refused
    )
    if refused is None or got is None or not partial:
        return held  # its request's own log lines decide (adopt it); nothing refused is lost
    own = _own_from_log(held, done_before, refused, files, days, avoid=got, rest=False)
    if last.stage not in (Stage.DONE, Stage.EMPTY):
        # Its request is under way: adopt it (`held`), the days logged done kept as own part.
        return _evolve(held, own_part=own)
    mine = _files_of(files, days, got[0], got[1], rest=True)
    count = None if last.asked is None else last.asked.invoice_count
    if _short(held, mine, count):
        return _evolve(held, own_part=own)  # files of its request are gone: `held` says so
    state = _evolve(
        held,
        stage=last.stage,
        request_id=last.request_id,
        start=got[0],
        end=got[1],
        invoice_count=count,
        extracted=(ExtractedPackage(KEPT, mine),) if mine else (),
        own_part=own,
        sat_code=None,
        resume_to=None,
        dates_unproven=False,
        reason=f"its record was rebuilt from its log: {got[0]}..{got[1]} downloaded here by "
        f"request {last.request_id} ({len(mine)} file(s)); SAT refused {refused[0]}.."
        f"{refused[1]}: nothing is sent for it" + _missing_note(own),
        hint=None,
    )
    complete = own_part_completes(state, *refused)
    return complete if complete is not None else state


def staged_not_extracted(stages: Sequence[Stage]) -> bool:
    """Whether a month's logged stages (oldest first) end with a package staged and never
    recorded extracted: a run killed while extracting, or before it (review 9i #4). A new
    request (planned, submitting, submitted) or a finished month ends it."""
    pending = False
    for stage in stages:
        if stage is Stage.STAGED:
            pending = True
        elif stage in (
            Stage.DONE,
            Stage.EMPTY,
            Stage.SPLIT,
            Stage.PLANNED,
            Stage.SUBMITTING,
            Stage.SUBMITTED,
        ):
            pending = False
    return pending


def _seen_as_candidate(state: MonthState) -> bool:
    """The adopted request is a candidate the journal saw in a history, with its `createdAt`
    (`_reconcile`): the user's word is about that request. If the server's ids restart before
    the next run, the id names another request, and a status answer carries no dates, type or
    `createdAt` to show it: that run takes its kind (`typed`, so a 0 count reads "empty") only
    from a history listing the id with the recorded `createdAt` (`_history`). Not listed, a 0
    count needs the user again; a second `journal adopt` of the month's own id drops the record
    (the user's word beats it), and the run after it takes that word."""
    rid = state.request_id
    return rid is not None and any(r.id == rid and r.created_at for r in state.records)


_PROVEN_BY_OLD_RULE = "the history proved the last create never arrived"


def _start(state: MonthState, obs: Start) -> Result:
    state = _evolve(
        state,
        want_files=obs.want_files,
        on_disk=obs.on_disk,
        cfdis_on_disk=obs.cfdis,
        staged_copies=obs.staged_copies,
        failed_this_run=(),
        poll_failures=0,
        free_failures=0,
        status_asked=False,
        misses=0,
        listed=None,
        checked=state.request_id is not None and state.request_id == state.confirmed_id,
        typed=state.vouched and not _seen_as_candidate(state),
        vouched=False,
    )
    stage = state.stage
    if stage is Stage.SUBMITTING:
        # A create may have been sent by a run that died: only a later history can tell.
        cause = state.unknown_cause or "a run stopped while the create request was in flight"
        return _evolve(state, unknown=True, need_generation=0, unknown_cause=cause), ()
    if stage is Stage.REFUSED:
        return _evolve(state, stage=Stage.PLANNED, resend_allowed=True), ()
    if stage is Stage.PLANNED and state.resend_allowed and state.reason == _PROVEN_BY_OLD_RULE:
        # Journaled by a version that read a history as proof that the last create never
        # arrived (reviews 9p #1, 9q #1 billed twice on such proofs): it may exist after all.
        return _evolve(
            state,
            stage=Stage.SUBMITTING,
            resend_allowed=False,
            unknown=True,
            need_generation=0,
            unknown_cause="an earlier version of this SDK took a history that did not list the "
            "last create as proof that it never arrived; no history proves that",
        ), ()
    if stage is Stage.NEEDS_ATTENTION and state.unknown:
        # Generations and create numbers restart with each run: any history of this run
        # started after that create, and any create of this run came after it.
        return _evolve(state, need_generation=0), ()
    if stage is Stage.NEEDS_ATTENTION and state.resume_to is not None:
        state = _evolve(state, stage=state.resume_to, resume_to=None, hint=None)
        stage = state.stage
    if stage is Stage.DUPLICATE:
        # Generations restart with each run: any history of this run will do.
        return _evolve(state, need_generation=0, reason=_LOOKING_AGAIN), ()
    if stage is Stage.COMPLETED:
        return _next_package(state)
    if stage is Stage.STAGED:
        return state, _extract_commands(state)
    if stage is Stage.DONE and obs.lost and state.want_files:
        return _files_missing(state, obs.lost), ()
    if stage is Stage.DONE and state.lost_files:
        # The user put them back: done as it was.
        return _evolve(
            state, lost_files=(), reason="every file extracted for it is in its folder again"
        ), ()
    return state, ()


def refill_packages(state: MonthState) -> tuple[str, ...]:
    """The packages of the month's request that held files its folder lost (`lost_files`):
    the ones `journal retry-download` downloads again. Files `journal keep` recorded came from
    the request's packages without saying which: all of them."""
    lost = set(state.lost_files)
    found: list[str] = []
    for e in state.extracted:
        if not lost & set(e.files):
            continue
        ids: tuple[str, ...] = (e.package_id,) if e.package_id not in (KEPT, OWN_PART) else ()
        if e.package_id == KEPT:
            ids = state.package_ids or ()
        found.extend(p for p in ids if p not in found)
    return tuple(found)


def files_missing(state: MonthState, lost: Sequence[str]) -> MonthState:
    """Month `state` as a run that finds its folder without `lost` takes it up (`Start.lost`):
    MISSING FILES when it is done and some are gone; `state` otherwise. `journal show` and
    `journal retry-download` read the folder now, before any run (they tell the same)."""
    if state.stage is not Stage.DONE or not lost:
        return state
    return _files_missing(state, lost)


@attrs.frozen
class PartTrouble:
    """A part elsewhere of a split month that no longer holds what its journal recorded, as
    `bulk.parts.part_troubles` found it (reading the part's journal, never writing it)."""

    problem: str
    """What is wrong, naming the part folder (its month folder gone, files missing, its
    journal gone or unreadable, or the month no longer finished there)."""
    way: str
    """How to get the part back: its own journal's commands, with the part folder in them."""
    days: bool = False
    """The part holds its files but misses days' CFDIs: requested on its own last day before
    that day was over (`open_day_split`; review h1 #3). MISSING DAYS, not MISSING FILES."""


def parts_missing(state: MonthState, troubles: Sequence[PartTrouble]) -> MonthState:
    """Month `state`, recorded `split`, as a run (or `journal show`) reports it once its parts
    elsewhere are checked: needs attention, MISSING FILES, when `troubles` names any (review 9n
    #5: "split, 34 invoices" with a part folder gone), MISSING DAYS when each is a part missing
    days (`PartTrouble.days`: requested on its own last day; review h1 #3); `state` otherwise.
    Not recorded: the split stays the journal's, so a fixed part, or a `journal split` naming
    another folder for it, makes the month complete again. Pure."""
    if state.stage is not Stage.SPLIT or not troubles:
        return state
    label = "MISSING DAYS" if all(t.days for t in troubles) else MISSING_FILES
    return _attention(
        state,
        f"{label}: downloaded in parts elsewhere, but "
        + "; ".join(t.problem for t in troubles)
        + ": not reported complete",
        "; ".join(dict.fromkeys(t.way for t in troubles)),  # each way once (review 9o #4)
        resume_to=Stage.SPLIT,
    )


def _files_missing(state: MonthState, lost: Sequence[str]) -> MonthState:
    """Month `state`, done, once its folder no longer holds `lost` of the files extracted for
    it: needs attention, MISSING FILES, never reported done with files that are not there
    (newcomer 9h #1). Nothing is sent: the way back is the user's (`_missing_files_hint`)."""
    state = _evolve(state, lost_files=tuple(lost))
    return _attention(
        state,
        f"{MISSING_FILES}: its folder ({state.key}/ in the download folder) no longer holds "
        f"{len(lost)} of the {len(state.files)} file(s) extracted for it intact (gone, or a CFDI "
        "damaged on disk: changed since it was extracted and no longer a complete CFDI, e.g. "
        f"cut short or overwritten; e.g. {lost[0]}): not reported done",
        _missing_files_hint(state),
        resume_to=Stage.DONE,
    )


def _missing_files_hint(state: MonthState) -> str:
    key = state.key
    back = "put them back (from a backup) and run the same command again"
    resend = (
        f"`gigstack-async journal resend {key}` requests the month again (a new "
        "request, possibly billed; SAT accepts two identical requests, ever)"
    )
    packages = refill_packages(state)
    if not packages or state.request_id is None:
        return f"{back}; if they are gone, {resend}"
    spent = [p for p in packages if _spent(state, p)]
    if spent:
        return (
            f"SAT already served package {', '.join(spent)} twice (both its downloads are "
            f"spent), so it cannot be downloaded again: {back}; if they are gone, {resend}"
        )
    left = min(state.allowed_of(p) - state.downloads_of(p) for p in packages)
    sure = max(state.sure_of(p) for p in packages)
    extra = any(state.downloads_of(p) > DOWNLOAD_BUDGET for p in packages)
    if left > 0:
        budget = f"{left} of SAT's {DOWNLOAD_BUDGET} downloads left"
    elif state.request_id in state.foreign and not extra:
        # r2 N2: the true reason (was "a counted download may not have reached SAT" after
        # the package's one GET was a clean 200), and how many are left, as README promises.
        budget = (
            f"{DOWNLOAD_BUDGET - sure} of SAT's {DOWNLOAD_BUDGET} downloads left, unless the "
            f"one counted as spent elsewhere was ({_assumed_elsewhere(state)}; if it was, SAT "
            "answers 5008, which bills nothing)"
        )
    elif extra:
        # Newcomer 9j F6: a retry-download already sent told nothing; the next may be a third.
        budget = (
            "a counted download may not have reached SAT, but after more than SAT's "
            f"{DOWNLOAD_BUDGET} downloads this one may be its third, refused with 5008"
        )
    else:
        budget = (
            f"at most {DOWNLOAD_BUDGET - sure} of SAT's {DOWNLOAD_BUDGET} downloads left: a "
            "counted download may not have reached SAT, so SAT may serve it once more"
        )
    return (
        f"free first: `gigstack-async journal retry-download {key}` allows downloading package "
        f"{', '.join(packages)} once more ({budget}; nothing is requested again), and the next "
        "run extracts the missing files again (a damaged one is first moved to the month's "
        f"`{DAMAGED_DIR}/` subfolder; an intact file still there is never overwritten); or "
        f"{back}. SAT keeps a package 72 h: if it answers 5007 (expired), or "
        f"5008 (served twice) and they cannot be put back, only {resend}"
    )


def _spent(state: MonthState, package_id: str) -> bool:
    """SAT surely served the package as often as the machine may ask for it."""
    return state.downloads_of(package_id) >= state.allowed_of(
        package_id
    ) and not _may_have_one_left(state, package_id)


def own_done_covers(state: MonthState, start: date, end: date) -> OwnPart | None:
    """The month's own part when it holds every day of `start..end`: days this journal's own
    earlier request downloaded into the month's folder (done, its files recorded). A create
    for them would bill them again and spend SAT's 2nd identical request, whatever resend
    (--force) was allowed since: that allowance is for the dates the user was shown (the
    plan's wider ones), never for an already downloaded range (newcomer 9i F0, F0b). The one
    rule `_send` and the plan (`_plan_step`) read. None otherwise."""
    own = state.own_part
    if own is None or own.missing or state.stage is Stage.SPLIT:
        return None
    if state.resend_for == (start, end):
        return None  # exactly the dates the user's `journal resend` allowed (a refresh)
    return own if own.start <= start <= end <= own.end else None


def _own_done_again(state: MonthState, own: OwnPart) -> MonthState:
    """Month `state`, asked for dates its own part holds (`own_done_covers`): done for that
    part's dates with its files, as it was before the resend; nothing sent."""
    return _evolve(
        state,
        stage=Stage.DONE,
        start=own.start,
        end=own.end,
        request_id=None,
        resend_allowed=False,
        identical_allowed=False,
        sat_code=None,
        invoice_count=own.invoice_count,
        extracted=(ExtractedPackage(OWN_PART, own.files),),
        reason=f"{own.start}..{own.end} were downloaded into the month's folder by this "
        f"journal's own earlier request ({len(own.files)} file(s)): {_BILLED_TWICE}",
        hint=None,
    )


def _send(state: MonthState, obs: Send) -> Result:
    if state.stage is not Stage.PLANNED or not state.resend_allowed:
        return state, ()
    if obs.history_ids is None:
        return state, ()  # without a "before" snapshot an unknown outcome could not be settled
    own = own_done_covers(state, state.start, state.end)
    if own is not None:  # never billed twice for days this journal already downloaded
        return _own_done_again(state, own), ()
    if (state.start, state.end) in state.exhausted:
        # SAT 5002 refused these dates for good: never sent again, however the month got here.
        return exhausted_again(state, state.start, state.end), ()
    return _evolve(
        state,
        stage=Stage.SUBMITTING,
        open_day=obs.today if obs.today is not None and state.end >= obs.today else None,
        open_day_unproven=False,
        creates=state.creates + 1,
        resend_allowed=False,
        history_before=obs.history_ids,
        exists=False,
        unknown=False,
        unknown_cause=None,
        create_sent_at=obs.sent_at,
        need_generation=obs.generation,
        reason=None,
        hint=None,
        identical_allowed=False,
        # A create asking for days recorded gone from SAT's window again ends that word: its
        # answer says whether they are (`journal keep --outside-window` records it anew).
        window_cut=None
        if state.window_cut is not None and state.start < state.window_cut
        else state.window_cut,
    ), (SendCreate(state.key),)


def _created(state: MonthState, obs: Created) -> Result:
    if state.stage is not Stage.SUBMITTING:
        return state, ()
    known = state.known_ids
    if obs.request_id in known and obs.request_id != state.request_id:
        # gigstack says "duplicate" of a request this month already gave up on: never adopt it.
        return _attention(
            state,
            f"the server answered with request {obs.request_id}, which this month already had "
            "and left",
            "check it with `gigstack-async journal show`; adopt it explicitly with "
            f"`gigstack-async journal adopt {state.key} {obs.request_id}` if it is right",
        ), ()
    ours = Seen(obs.request_id, None, state.rfc_type, state.request_type, state.start, state.end)
    followed_by = _owners(state, obs.journal_ids).get(obs.request_id, ())
    if obs.duplicate and followed_by:
        others = ", ".join(followed_by)
        return _attention(
            state,
            f"gigstack answered that an identical request exists, {obs.request_id}, and "
            f"{others} of this journal follows it: a request is downloaded for one month, so "
            "nothing was downloaded for this one (nothing new was created)",
            f"if {obs.request_id} is this month's (its dates and type are {state.start}.."
            f"{state.end}), give {others} its own request first (`gigstack-async journal "
            f"adopt {followed_by[0]} <its request id>`), then `gigstack-async journal adopt "
            f"{state.key} {obs.request_id}`",
        ), ()
    if obs.duplicate:
        # gigstack's identical request, not this create: made on some day up to now, maybe
        # one another month of the journal released after downloading its packages, or one
        # made outside the journal (one GET of each package: review 9u #3).
        state = _with_taken_open_day(state, obs.created_at, obs.today)
        state = _taken(state, obs.request_id, obs.journal_ids, obs.released)
    return _evolve(
        state,
        stage=Stage.SUBMITTED,
        request_id=obs.request_id,
        duplicate=obs.duplicate,
        known_ids=_add(known, obs.request_id),
        records=_remember(state.records, ours) if not obs.duplicate else state.records,
        unknown=False,
        checked=True,
        typed=True,
        misses=0,
        reason="gigstack accepted the create request"
        if not obs.duplicate
        else "gigstack matched an identical request",
        hint=None,
    ), ()


def _refused(state: MonthState, obs: CreateRefused) -> Result:
    if state.stage is not Stage.SUBMITTING:
        return state, ()
    if obs.code == 5002:
        return _evolve(
            state,
            stage=Stage.SAT_FAILED,
            sat_code=5002,
            exhausted=_add_dates(state.exhausted, state.start, state.end),
            unknown=False,
            reason=f"SAT 5002: the limit of requests for these dates is exhausted ({obs.message})",
            hint=_5002_hint(state, state.start, state.end),
        ), ()
    if obs.code == 5003:
        return _evolve(
            state,
            stage=Stage.SAT_FAILED,
            sat_code=5003,
            unknown=False,
            reason=f"SAT 5003: too many CFDIs for one request ({obs.message})",
            hint=_split_hint(state),
        ), ()
    future, oldest = state.server_future, state.server_oldest
    refused_start = state.window_refused
    if _FUTURE.search(obs.message):
        said = _server_today(obs.message)
        future = max(state.start, said + timedelta(days=1)) if said is not None else state.end
    elif _WINDOW.search(obs.message):
        oldest = _window_oldest(obs.message) or _known_oldest(state, obs.window_start) or oldest
        refused_start = max(state.start, refused_start or state.start)
    return _evolve(
        state,
        stage=Stage.REFUSED,
        unknown=False,
        resend_allowed=True,
        server_future=future,
        server_oldest=oldest,
        window_refused=refused_start,
        reason=f"the server refused the create, nothing was billed: {obs.message}",
        hint=_REFUSED_FIEL
        if fiel_reason(obs.message)
        else _future_hint(state, obs.message)
        if _FUTURE.search(obs.message)
        else _window_hint(state, obs.message, obs.window_start, obs.window_refused)
        if _WINDOW.search(obs.message)
        else _REFUSED,
    ), ()


# How gigstack words a date it counts as future is NOT FOUND: English or Spanish, any of them.
_FUTURE = re.compile(r"\bin the future\b|\bfutur[oa]s?\b|\bfuture date\b", re.IGNORECASE)
_SERVER_TODAY = re.compile(r"\btoday is (\d{4}-\d{2}-\d{2})\b")


def _kind_options(state: MonthState) -> str:
    """Month `state`'s `--rfc-type X [--type Y]`, as a printed `sat download` needs them."""
    return f"--rfc-type {state.rfc_type}" + (
        f" --type {state.request_type}" if state.request_type != "cfdi" else ""
    )


def _said_date(pattern: re.Pattern[str], message: str) -> date | None:
    """The ISO date `pattern`'s first group finds in a server's `message`, else None (also
    for one that is no date, e.g. 2021-02-30)."""
    said = pattern.search(message)
    try:
        return None if said is None else date.fromisoformat(said.group(1))
    except ValueError:
        return None


def _server_today(message: str) -> date | None:
    """The server's "today" when its refusal names it (the sandbox's words; gigstack's are NOT
    FOUND), else None."""
    return _said_date(_SERVER_TODAY, message)


def _future_hint(state: MonthState, message: str) -> str:
    """The way on when the server refused the month's dates as future ones (newcomer 9g #6):
    the plan stops at this computer's "today" in Mexico City, so the server's date is behind
    (its clock, or its idea of the time zone). Re-sending now is refused again; activating
    anything is beside the point. The days up to the server's today (its message says which,
    else yesterday) can be asked for now; the rest after the server's midnight."""
    last = min(state.end - timedelta(days=1), _server_today(message) or state.end)
    later = (
        f"run the same command again after the server's midnight (Mexico City): {state.end} "
        "is then a past day for it too"
    )
    if last < state.start:
        return f"the server's date is behind this computer's (nothing was billed): {later}"
    if own_done_covers(state, state.start, last) is not None:
        # Those days are already in the folder (newcomer 9i F0): never offered again.
        return (
            f"the server's date is behind this computer's, so it counts {state.end} as a "
            f"future day (nothing was billed); {state.start}..{last} are already in the "
            f"month's folder (downloaded by this journal's own earlier request), which keeps "
            f"them: nothing to do now; {later}"
        )
    kind = _kind_options(state)
    return (
        f"the server's date is behind this computer's, so it counts {state.end} as a future "
        "day (nothing was billed). End the range yesterday: `gigstack-async sat download "
        f"--from {state.start} --to {last} {kind} --out {OUT}` (with the other options you ran "
        "with, e.g. --team; the month is then requested for those days, and a later run of the "
        f"whole month names the days left out as MISSING DAYS); or {later}"
    )


# How gigstack words a start older than its 71-month window is NOT FOUND (the sandbox says
# "is older than the 71-month window (oldest 2021-01-02)"): English or Spanish, read permissively.
_WINDOW = re.compile(
    r"\b71[- ]?(?:month|mes)|\b(?:month|download) window\b|\bventana\b", re.IGNORECASE
)
_OLDEST = re.compile(r"\boldest (\d{4}-\d{2}-\d{2})\b")


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _window_oldest(message: str) -> date | None:
    """The first day of the server's window when its refusal names it, else None."""
    return _said_date(_OLDEST, message)


def _known_oldest(state: MonthState, known: date | None) -> date | None:
    """`known` (the window start an earlier refusal of the journal named) when it says month
    `state`'s start, just refused, is outside the window; None when it does not (a stale or
    contradicting day is never offered)."""
    return known if known is not None and known > state.start else None


def _window_start_option(oldest: date) -> str:
    """`--from` for the window's first day: the month alone when that is its first day."""
    return f"{oldest:%Y-%m}" if oldest.day == 1 else str(oldest)


def _window_hint(
    state: MonthState, message: str, known: date | None = None, refused: date | None = None
) -> str:
    """The way on when the server refused the month's start as older than its 71-month window
    (newcomer 9h #10): the plan checked the window with this computer's date, so the server's
    date is ahead (or the month left the window since). Sending the same dates again is refused
    again, and activating anything is beside the point: only a later start can be asked for.

    The window's first day is the refusal's own (`_window_oldest`), else the one an earlier
    refusal of the journal named (`known`, when later than this month's start): a month wholly
    before it is left out by starting the range there, never at the next month, which the
    server then refuses as well, month by month (newcomer 9j F1c). Neither known: the month
    after the latest start the journal's refusals put outside the window (`refused`: this
    month's or a later one's; the refusal says nothing more)."""
    oldest = _window_oldest(message) or _known_oldest(state, known)
    kind = _kind_options(state)
    later = _next_month(state.start).strftime("%Y-%m")
    drop = (
        f"leave {state.key} out: start the range at the next month (`--from {later}` in the "
        "same command)"
    )
    if oldest is None:
        after = _next_month(max(state.start, refused or state.start)).strftime("%Y-%m")
        if after != later:
            drop = (
                f"leave {state.key} out: start the range at {after} (`--from {after}` in the "
                "same command; this journal's earlier refusals put the months before it "
                "outside the window too)"
            )
        return (
            f"the server counts {state.start} as outside gigstack's 71-month window (its date "
            "is ahead of this computer's, or the month has just left the window); nothing was "
            f"billed, and the same dates are refused again: {drop}"
        )
    if oldest <= state.end and own_done_covers(state, oldest, state.end) is not None:
        # The days still in the window are already in the folder (newcomer 9i F0b).
        gone = _evolve(state, stage=Stage.REFUSED, server_oldest=oldest)
        try:
            transition(gone, CutOutsideWindow())
        except TransitionError:
            accept = "accept the month as it is"
        else:
            accept = (
                f"record that they are gone: `gigstack-async journal keep {state.key} "
                "--outside-window` (nothing is sent or billed; runs of the whole month then "
                "end ok and say the days cut)"
            )
        return (
            f"the server's 71-month window starts at {oldest}, so it refuses {state.start} "
            f"(nothing was billed); {oldest}..{state.end} are already in the month's folder "
            "(downloaded by this journal's own earlier request), which keeps them. The days "
            f"before {oldest} can no longer be downloaded: {drop}, or {accept}"
        )
    if oldest > state.end:
        return (
            f"the server's 71-month window starts at {oldest}, after this whole month (nothing "
            f"was billed; the same dates are refused again, and so is every day before "
            f"{oldest}): leave {state.key} out: start the range at the window's first day "
            f"(`--from {_window_start_option(oldest)}` in the same command)"
        )
    return (
        f"the server's 71-month window starts at {oldest} (its date is ahead of this "
        f"computer's, or the month has just left the window), so it refuses {state.start}: "
        "nothing was billed, and the same dates are refused again. Ask for the days still in "
        f"the window: `gigstack-async sat download --from {oldest} --to {state.end} {kind} "
        f"--out {OUT}` (with the other options you ran with, e.g. --team); or {drop}. The "
        f"days before {oldest} can no longer be downloaded"
    )


_REFUSED = (
    "fix the cause (for example activate Descarga Masiva: `gigstack-async downloads activate`) "
    "and run the same command again: refused months are sent again"
)
_REFUSED_FIEL = (
    "gigstack needs the taxpayer's FIEL (e.firma) and its registration with SAT: upload a valid "
    "FIEL and register the business in gigstack (its dashboard, or the SDK's "
    "`client.downloads.upload_fiel()` / `register()`), then run the same command again: "
    "refused months are sent again"
)


# ------------------------------------------------------------------ SAT 5005


def spent_packages(state: MonthState, request_id: str) -> tuple[str, ...]:
    """Packages of `request_id` (`<id>_NN`, SAT's documented form) that SAT surely served to
    this month twice, its limit (`MonthState.sure_of`): no GET of them is sent again, and no
    `journal retry-download` is offered for them. Pure."""
    prefix = f"{request_id}_"
    return tuple(
        pid
        for pid, _n in state.downloads
        if pid.startswith(prefix) and state.sure_of(pid) >= DOWNLOAD_BUDGET
    )


def unusable(state: MonthState, request_id: str) -> bool:
    """Whether `request_id` can no longer finish the month: SAT surely served one of its
    packages twice (`spent_packages`), or its packages are gone (`MonthState.expired`: SAT
    5007, or the request reported expired). Adopting it again downloads nothing. Pure."""
    return request_id in state.expired or bool(spent_packages(state, request_id))


def spent_requests(state: MonthState) -> tuple[str, ...]:
    """The month's earlier requests that cannot finish it, when it waits for the user with no
    request (`_spent_duplicate`, `_spent_5005`: the server gave one of them back for its
    dates): each has a package SAT surely served twice, or its packages expired (`unusable`).
    `journal split` takes such a month (its hint printed other dates in parts). Empty: not
    such a month. Pure."""
    if state.stage is not Stage.NEEDS_ATTENTION or state.request_id is not None or state.unknown:
        return ()
    return tuple(i for i in state.known_ids if i not in state.released_ids() and unusable(state, i))


def _whose(state: MonthState, request_id: str) -> str:
    """What the month's earlier request `request_id` is, as the spent texts name it: its own
    create, or one it took from outside this journal (`foreign`; review h1 #4)."""
    if request_id in state.unproven and request_id in state.from_history:
        return (
            "the request this month had earlier (taken for its create, whose answer was lost: "
            "very likely that create)"
        )
    if request_id in state.unproven:
        return (
            "the request this month had earlier (not proven to be its own create: it may have "
            "been made by another folder, another machine or gigstack's dashboard)"
        )
    if request_id in state.foreign:
        return (
            "a request this month took earlier from outside this journal (made by another "
            "folder, another machine or gigstack's dashboard)"
        )
    if request_id == state.request_id:
        return "this month's own request"
    return "this month's own earlier request"


def _why_unusable(state: MonthState, request_id: str, *, named: bool = True) -> str:
    """Why `request_id` (`unusable`) cannot finish the month: expired, or served twice."""
    if request_id in state.expired:
        return (
            "its package(s) expired (SAT answered 5007 for it, or reported it expired: SAT keeps "
            "packages 72 h)"
        )
    spent = f" {', '.join(spent_packages(state, request_id))}" if named else ""
    return f"SAT already served its package(s){spent} twice, its limit"


def _spent_split_reason(state: MonthState, where: str) -> str:
    """Why a month `spent_requests` names is recorded split (`journal split`)."""
    ids = spent_requests(state)
    gone = [i for i in ids if i in state.expired]
    if not gone:
        # Taken from outside this journal (review h1 #4): not called its own.
        own = "" if any(i in state.foreign for i in ids) else " own"
        return (
            f"its{own} request {', '.join(ids)} is finished with its package(s) spent (SAT "
            "serves each twice), and the server answers its dates with it again: downloaded "
            f"in parts elsewhere; its CFDIs are in {where}"
        )
    spent = [i for i in ids if i not in gone]
    also = (
        f", and {', '.join(spent)} with its package(s) spent (SAT serves each twice)"
        if spent
        else ""
    )
    return (
        f"its request {', '.join(gone)} is finished with its package(s) expired (SAT keeps "
        f"them 72 h){also}, and the server answers its dates with it again: downloaded in "
        f"parts elsewhere; its CFDIs are in {where}"
    )


def _spent_way(state: MonthState) -> str:
    """The way on for a month whose own earlier, finished request is all the server gives for
    its dates: other dates (a new request for SAT and gigstack), never that request again."""
    return _spent_hint(state, _other_dates_way(state, state.start, state.end))


def _spent_duplicate(state: MonthState, obs: Created) -> MonthState | None:
    """A new create answered `duplicate: true` with a request this month already had and left,
    one of whose packages SAT already served it twice (review 9v #4), or whose packages expired
    (SAT 5007; review h1 #1): adopting it again downloads nothing, and a resend of the same
    dates gets the same answer, so the month looped (resend, duplicate, adopt, spent, resend).
    It needs the user with the way that works: other dates. None: not that case (`_created`
    decides)."""
    if state.stage is not Stage.SUBMITTING or not obs.duplicate:
        return None
    if obs.request_id not in state.known_ids or obs.request_id == state.request_id:
        return None
    if obs.request_id in state.released_ids():
        return None  # known not to be its own: another month's (`_created` names who has it)
    if not unusable(state, obs.request_id):
        return None
    return _evolve(
        _attention(
            state,
            f"gigstack answered the new create request with {obs.request_id} (`duplicate`: an "
            f"identical request exists, nothing new was made), {_whose(state, obs.request_id)}, "
            f"and {_why_unusable(state, obs.request_id)}: {obs.request_id} cannot finish the "
            "month (adopting it again downloads nothing), and a resend of the same dates is "
            "answered with it again",
            _spent_way(state),
        ),
        unknown=False,
    )


def _spent_5005(old: MonthState, obs: HistorySeen, result: Result) -> Result:
    """`result` (`_find_duplicate`'s) when SAT 5005's active request is not found and every
    request the history lists with the month's exact dates and type is one this month already
    had, finished, with a package SAT already served it twice (review 9v #4) or expired
    (review h1 #1), or failed or expired as the history says (such as the month's own request
    that ended failed with 5005: review h1 #4): by SAT's docs 5005 means an *active* identical
    request, so either one gigstack does not list is active (a later run looks again), or SAT
    counts the finished one; a resend of the same dates may then be answered 5005 again, for
    ever. The way that works either way: other dates."""
    state, commands = result
    if state.stage is not Stage.NEEDS_ATTENTION or state.resume_to is not Stage.DUPLICATE:
        return result
    exact = [s for s in obs.entries if _fits(old, s) is True]
    own = set(old.known_ids) - set(old.released_ids())
    # Finished as the history says: an unreported status may be SAT's active request.
    if not exact or any(s.id not in own or s.status not in _FINAL for s in exact):
        return result
    left = list(dict.fromkeys(s.id for s in exact if unusable(old, s.id)))
    dead = list(dict.fromkeys(s.id for s in exact if s.id not in left and s.status in _DEAD))
    if not left or len(left) + len(dead) != len({s.id for s in exact}):
        return result
    plain = not dead and all(
        i not in old.expired and i not in old.foreign and i != old.request_id for i in left
    )
    if plain:
        said = (
            f"The only identical request the history lists, {', '.join(left)}, is this "
            "month's own, finished, and SAT already served its package(s) twice, its limit: it "
            "cannot finish the month"
        )
    else:
        status = {s.id: s.status for s in exact}
        each = [f"{i}, {_whose(old, i)}, finished: {_why_unusable(old, i)}" for i in left]
        each += [f"{i}, {_whose(old, i)}, {status[i]} as the history says" for i in dead]
        said = (
            "None of the identical requests the history lists can finish the month ("
            + "; ".join(each)
            + ")"
        )
    return _evolve(
        state,
        reason=f"{state.reason}. {said}, and a resend of the same dates may be answered 5005 again",
        hint=_spent_way(state) + ". Meanwhile each run looks for the active request again and "
        "sends nothing",
    ), commands


_DEAD = frozenset({"failed", "expired"})
"""Statuses of a request that cannot be SAT's active duplicate any more."""
_LIVE = frozenset({"pending", "accepted", "processing"})


# SAT's words for 5005, in case gigstack passes them on without the number (NOT FOUND how it
# words it): read permissively, since the other reading (a plain refusal) is resent every run.
_DUPLICATE_WORDS = re.compile(
    r"solicitud(?:es)?\s+duplicada|duplicate\s+(?:download\s+)?request", re.I
)


def says_duplicate(code: int | None, message: str | None) -> bool:
    """Whether SAT answered 5005 (Solicitud duplicada): its code, or its words with no code."""
    if code is not None:
        return code == 5005
    return message is not None and _DUPLICATE_WORDS.search(message) is not None


def _duplicate(state: MonthState, message: str, generation: int) -> MonthState:
    """SAT 5005 (Solicitud duplicada): an identical request is active, so SAT made no new one.

    How gigstack reports it is a GUESS, so both ways land here: a refused create, or a request
    that ends `failed` with 5005 in its message. Sending again would be refused again (or
    billed): the month looks for that active request in the next history whose call started
    after `generation` (`_find_duplicate`), and a new create needs the user's word."""
    return _evolve(
        state,
        stage=Stage.DUPLICATE,
        sat_code=5005,
        unknown=False,
        resend_allowed=False,
        need_generation=generation,
        poll_failures=0,
        resume_to=None,
        reason="SAT 5005 (Solicitud duplicada): an identical request is already active, so "
        f"SAT made no new one ({message}); looking for it in the history",
        hint=None,
    )


def _find_duplicate(state: MonthState, obs: HistorySeen) -> Result:
    """Follow the active identical request SAT 5005 means, if the history shows which one.

    Only an entry whose dates, rfcType and requestType are all reported and equal to the
    month's counts (a missing field never matches), not failed or expired, and whose id no
    month of the journal knows: this month's earlier requests were left on purpose, and another
    month's id holds that month's CFDIs. Several such entries: the one still pending or
    processing, if exactly one is. Anything else needs the user, with what was seen."""
    if obs.generation <= state.need_generation:
        return state, ()  # this history may predate the create SAT refused
    owners = _owners(state, obs.journal_ids)
    for rid in obs.expected:
        owners.setdefault(rid, ("another month",))
    live = [s for s in obs.entries if s.status not in _DEAD]
    exact = [s for s in live if _fits(state, s) is True]
    mine = [s for s in exact if s.id in state.known_ids]
    theirs = [s for s in exact if s.id in owners and s.id not in state.known_ids]
    free = [s for s in exact if s not in mine and s not in theirs]
    if len(free) > 1:
        active = [s for s in free if s.status in _LIVE]
        free = active if len(active) == 1 else free
    if len(free) == 1:
        match = free[0]
        adopted = _evolve(
            # SAT's active identical request existed when this month's create was refused:
            # made no later than that create (its open day), maybe before the last day.
            _with_taken_open_day(
                _taken(state, match.id, obs.journal_ids, obs.released), match.created_at, None
            ),
            stage=Stage.SUBMITTED,
            request_id=match.id,
            duplicate=True,
            known_ids=_add(state.known_ids, match.id),
            records=_remember(state.records, match),
            checked=True,
            typed=True,
            misses=0,
            poll_failures=0,
            sat_code=None,
            sat_state=None,
            invoice_count=None,
            package_ids=None,
            status_asked=False,
            resume_to=None,
            reason=f"SAT 5005: following {match.id}, the active identical request the history "
            "lists",
            hint=None,
        )
        return _observe_request(adopted, match, asked=False)
    maybe = [s for s in live if _fits(state, s) is None]
    seen: list[str] = []
    if free:
        seen.append(f"{', '.join(s.id for s in free)} all match it")
    seen += [f"{s.id} matches it, but this month had it before and left it" for s in mine]
    seen += [
        f"{s.id} matches it, but it is {' and '.join(owners[s.id])}'s in this journal"
        for s in theirs
    ]
    if maybe:
        seen.append(
            f"{', '.join(s.id for s in maybe)} may (listed without its dates, rfcType or "
            "requestType, which never counts as a match)"
        )
    found = "; ".join(seen) if seen else f"none of its {len(obs.entries)} entries matches it"
    kind = f"{state.rfc_type} {state.request_type} request for {state.start}..{state.end}"
    return _evolve(
        _attention(
            state,
            f"SAT 5005 (Solicitud duplicada): an identical {kind} is already active, and the "
            f"history does not show which one it is ({found}); nothing was sent again",
            f"find the active {kind} in `gigstack-async downloads history` or gigstack's "
            "dashboard (Descarga Masiva), by its dates and type, and `gigstack-async journal "
            f"adopt {state.key} <request id>` (add --ids-restarted if another month had that "
            "id): the month follows it, checked against the history or by its CFDIs before "
            "anything is extracted. If gigstack does not list it (made outside gigstack with "
            "the same FIEL), it stays active until SAT has finished it (usually within hours): "
            "run the same command again later, each run looks for it in the history again and "
            "sends nothing; `gigstack-async downloads history` shows whether an identical "
            "request is still pending, and `gigstack-async downloads status <request id>` "
            "the state of one whose id you know. Once none is active, `gigstack-async journal "
            f"resend {state.key}` (a new request, may be billed)",
            resume_to=Stage.DUPLICATE,
        ),
        need_generation=0,
    ), ()


_LOOKING_AGAIN = (
    "SAT 5005 (Solicitud duplicada): an identical request is already active; looking for it in "
    "the history again"
)


def _duplicate_poll_failed(state: MonthState, obs: PollFailed) -> Result:
    """The history a month looking for SAT's duplicate needs could not be read: it waits (a
    warning after a few failures in a row), then needs the user rather than hang."""
    failures = state.poll_failures + 1
    state = _evolve(state, poll_failures=failures)
    if failures >= POLL_GIVE_UP:
        return _evolve(
            _attention(
                state,
                f"SAT 5005 (Solicitud duplicada): an identical request is already active, but "
                f"the history could not be read to find it ({failures} times: {obs.message})",
                "run the same command again later: it looks for the request again (nothing is "
                f"sent), or `gigstack-async journal adopt {state.key} <request id>` if you know "
                "it",
                resume_to=Stage.DUPLICATE,
            ),
            need_generation=0,
        ), ()
    if failures == POLL_WARN_AFTER:
        return state, (
            Warn(
                f"{state.key}: reading the history to find SAT's active duplicate failed "
                f"{failures} times in a row ({obs.message}); the other months go on"
            ),
        )
    return state, ()


# ------------------------------------------------------------------ reconciliation


def _fits(state: MonthState, seen: Seen) -> bool | None:
    """True: every field present and equal. False: a present field differs. None: missing."""
    pairs = (
        (seen.rfc_type, state.rfc_type),
        (seen.request_type, state.request_type),
        (seen.start, state.start),
        (seen.end, state.end),
    )
    if any(theirs is not None and theirs != ours for theirs, ours in pairs):
        return False
    if any(theirs is None for theirs, _ in pairs):
        return None
    return True


def _history(state: MonthState, obs: HistorySeen) -> Result:
    if state.stage is Stage.DUPLICATE:
        return _spent_5005(state, obs, _find_duplicate(state, obs))
    if state.unknown and state.stage in (Stage.SUBMITTING, Stage.NEEDS_ATTENTION):
        if obs.generation <= state.need_generation:
            return state, ()  # this history may predate the create: wait for a later one
        return _reconcile(state, obs)
    if state.stage in (Stage.DONE, Stage.EMPTY):
        return _finished_listed(state, obs), ()
    if state.stage not in _WAITING or state.request_id is None:
        return state, ()
    for seen in obs.entries:
        if seen.id == state.request_id:
            state = _evolve(state, poll_failures=0) if state.poll_failures else state
            record = next((r for r in state.records if r.id == seen.id), None)
            differs = None if record is None else _differs(record, seen)
            if differs is not None:
                return _another_request(state, seen, f"is listed with {differs}")
            if _fits(state, seen) is not False and (state.checked or _checks(state, seen)):
                same = (
                    record is not None
                    and record.created_at in (seen.created_at,)
                    and bool(seen.created_at)
                )
                typed = state.typed or same or seen.request_type == state.request_type
                # A `createdAt` later vouches for the month's kind (`typed`): it is recorded
                # only from an entry this run knows is the month's request. Untyped, the entry
                # may be another request under a restarted id (a metadata one, its count 0).
                kept = seen if typed else attrs.evolve(seen, created_at=None)
                listed = seen.id if _checks(state, seen) else state.listed
                state = _evolve(
                    state, records=_remember(state.records, kept), typed=typed, listed=listed
                )
            if _fits(state, seen) is False:
                return _not_this_month(state, seen)
            if not state.checked:
                if not _checks(state, seen):
                    return _unchecked(
                        state,
                        f"the history lists request {seen.id} without the dates and types "
                        "needed to check it against this month",
                    )
                state = _evolve(state, checked=True, misses=0)
                if state.stage is Stage.COMPLETED:
                    state, _ = _observe_request(state, seen, asked=False)
                    return _next_package(state)
            return _observe_request(state, seen, asked=False)
    request_id = state.request_id
    assert request_id is not None
    if not state.checked:
        # A journaled id the history does not list: it may be out of the window, or the
        # server's ids may have restarted. Its status is asked once per run: an answer that
        # carries the month's dates and both types checks it (`_status`); one that leaves any
        # of them out proves nothing, and the month waits for the history as before.
        misses = state.misses + 1
        ask = (FetchStatus(request_id),) if misses == 1 else ()
        if misses < CHECK_MISSES:
            return _evolve(state, misses=misses), ask
        return _unchecked(
            _evolve(state, misses=misses),
            f"request {state.request_id} is not in the server's history (it lists only the "
            "newest requests: an older one has left it, or the server's ids restarted), so its "
            "dates and type cannot be checked against this month, as every new run does "
            "before downloading",
            stranger=not obs.lists_journal,
            rolled=len(obs.entries) >= obs.window,
        )
    if state.stage is Stage.COMPLETED:
        return state, ()
    return state, (FetchStatus(request_id),)  # fell out of the 20-entry window


def _another_request(state: MonthState, seen: Seen, how: str) -> Result:
    """The month's request id names another request now (the server's ids restarted)."""
    return _attention(
        state,
        f"the server's request {seen.id} {how}: it is another request under the same id (the "
        "server's request ids restarted)",
        "nothing was downloaded; find the month's request in gigstack's dashboard, then "
        f"`gigstack-async journal adopt {state.key} <id>`, or `gigstack-async journal resend "
        f"{state.key}` if it is not there (a new request may be billed)",
    ), (Warn(f"{state.key}: request {seen.id} now names another request"),)


def _not_this_month(state: MonthState, seen: Seen) -> Result:
    """The month's request id is reported with criteria that are not the month's (`_fits`
    False): only some of its days (MISSING DAYS), or another request under a reused id."""
    part = _part_of_month(state, seen)
    if part is not None:
        return _attention(state, *part), ()
    # Other dates or another type: the id is known not to be the month's request, so the month
    # releases it (newcomer 9j F0: a swapped adopt is undone by adopting each id into its own
    # month, free and in either order; before, each was refused while the other month held it).
    return _evolve(
        _attention(
            state,
            f"the server's request {seen.id} is for {_seen_criteria(seen)}, not this month "
            "(request ids may have been reused)",
            "nothing was downloaded; find the right request with `gigstack-async "
            "downloads history` or gigstack's dashboard, then `gigstack-async journal "
            f"adopt {state.key} <id>` or "
            f"`gigstack-async journal resend {state.key}`. Request {seen.id} is released "
            f"from {state.key}: if it is another month's of this journal, adopt it there "
            f"(`journal adopt` with that month and {seen.id})",
        ),
        released=_release(state),
    ), ()


def _seen_criteria(seen: Seen) -> str:
    """What `seen` reports of its criteria, for a text: `received cfdi 2024-08-01..2024-08-31`,
    each field the server did not report said so (newcomer 9j F6: a missing request type left
    "received  2024-08-01..2024-08-31", a double space)."""
    rfc = seen.rfc_type or "(rfc type not reported)"
    kind = seen.request_type or "(request type not reported)"
    if seen.start is None and seen.end is None:
        dates = "(dates not reported)"
    else:
        dates = f"{seen.start or '(start not reported)'}..{seen.end or '(end not reported)'}"
    return f"{rfc} {kind} {dates}"


def status_criteria(state: MonthState, obs: StatusSeen) -> Seen:
    """The status answer's criteria in the month's terms (review 9m #8: the status body is NOT
    FOUND, so its formats are a GUESS). A date that may mean the month's own (`obs.starts`)
    is the month's; one that can only mean another date is that date (a clear mismatch); an
    unreadable one is None (unknown: never a mismatch). Enum values arrive normalised
    (`engine.status_enum`: lower case, or None when not a value we know)."""

    def resolve(readings: tuple[date, ...] | None, given: date | None, ours: date) -> date | None:
        if readings is None:
            return given
        if ours in readings:
            return ours
        return readings[0] if readings else None

    seen = obs.seen
    return attrs.evolve(
        seen,
        start=resolve(obs.starts, seen.start, state.start),
        end=resolve(obs.ends, seen.end, state.end),
    )


def _status(state: MonthState, seen: Seen) -> Result:
    """The status answer for the month's request (asked when the history does not list it).

    The status body is NOT FOUND in the docs; the criteria it may carry (dates, rfc_type,
    request_type: GUESS names) are used as a history entry's would be, with one rule stricter:
    only an answer carrying ALL of them, each able to mean the month's (`status_criteria`: its
    formats are a GUESS, read permissively), checks an unchecked request
    (a history entry may omit requestType, a status answer may not). A present field that
    differs shows another request under the same id (ids restarted): nothing is downloaded.
    A missing one proves nothing: an unchecked month waits for the history as before (and
    needs the user once `CHECK_MISSES` histories omitted it)."""
    if state.stage not in _WAITING or seen.id != state.request_id:
        return state, ()
    listed = next((r for r in state.records if r.id == seen.id), None)
    shown = seen
    if listed is not None and state.listed == seen.id:
        # The (documented) history listed this request with the month's criteria in this run:
        # a GUESS body never overrules what that entry showed (review 9m #8); a criterion the
        # entry left out (requestType) is still the status answer's to tell.
        seen = attrs.evolve(
            seen,
            rfc_type=None if listed.rfc_type is not None else seen.rfc_type,
            request_type=None if listed.request_type is not None else seen.request_type,
            start=None if listed.start is not None else seen.start,
            end=None if listed.end is not None else seen.end,
        )
        # The user reads the request as the entry showed it, never "None..None".
        shown = attrs.evolve(
            seen,
            rfc_type=listed.rfc_type or seen.rfc_type,
            start=listed.start or seen.start,
            end=listed.end or seen.end,
        )
    fit = _fits(state, seen)
    if fit is False:
        other, _ = _not_this_month(state, shown)
        return other, (Warn(f"{state.key}: {other.reason}"),)
    if fit is True:
        record = next((r for r in state.records if r.id == seen.id), None)
        criteria = attrs.evolve(seen, status=None)  # a status answer shows no createdAt
        differs = None if record is None else _differs(record, criteria)
        if differs is not None:
            return _another_request(state, seen, f"is reported with {differs}")
        state = _evolve(
            state,
            records=_remember(state.records, criteria),
            typed=True,
            checked=True,
            misses=0 if not state.checked else state.misses,
        )
    elif not state.checked:
        return state, ()  # unknown is no match: the history may still check it this run
    return _observe_request(_evolve(state, poll_failures=0), seen, asked=True)


def _part_of_month(state: MonthState, seen: Seen) -> tuple[str, str] | None:
    """(reason, hint) when `seen`, listed under the month's request id, is the month's kind of
    request for only some of its days (adopted after its record was lost, review 9i #3):
    MISSING DAYS, not a reused id. None otherwise."""
    if (
        seen.start is None
        or seen.end is None
        or seen.rfc_type != state.rfc_type
        or (seen.request_type is not None and seen.request_type != state.request_type)
        or seen.start < state.start
        or seen.end > state.end
    ):
        return None
    days = _days(uncovered(state.start, state.end, [(seen.start, seen.end)]))
    return (
        f"MISSING DAYS: request {seen.id} is {state.key}'s {state.rfc_type} "
        f"{state.request_type} request for {seen.start}..{seen.end} only; the month is "
        f"{state.start}..{state.end}, so it leaves out {days}. Nothing was downloaded",
        f"its days' CFDIs may already be in the month's folder; the month's other days need a "
        f"new request: `gigstack-async journal resend {state.key}` asks for "
        f"{state.start}..{state.end} (a new request, may be billed)",
    )


def _checks(state: MonthState, seen: Seen) -> bool:
    """A journaled request fits the month: dates and rfcType present and equal, requestType
    equal or not reported (documented histories omit it: GUESS that it is our type then)."""
    return (
        seen.start == state.start
        and seen.end == state.end
        and seen.rfc_type == state.rfc_type
        and seen.request_type in (None, state.request_type)
    )


_STRANGER = (
    "the server's history lists none of this journal's requests: if the API key, team or base "
    "URL changed since they were made (a new key, a `gigstack-async journal rebind`), this may "
    "be another account, and a resend would bill it and download its CFDIs here. Run with the "
    "ones that made them (`gigstack-async journal show` names the journal's team and server) "
    "and resend nothing until then. If they are the same, "
)


_ROLLED = (
    "the server's history lists none of this journal's requests: most often they have simply "
    "left its newest-{window} window (other downloads since). "
)
_ROLLED_TAIL = (
    ". Less often, the API key, team or base URL changed since they were made (a new key, a "
    "`gigstack-async journal rebind`): then this may be another account, and a resend would "
    "bill it and download its CFDIs here; check the journal's team and server (`gigstack-async "
    "journal show`) before any resend"
)


def _unchecked(
    state: MonthState, reason: str, *, stranger: bool = False, rolled: bool = False
) -> Result:
    """`stranger`: the history lists none of the journal's requests. `rolled`: it is full (as
    long as its window), so they most likely left it (newcomer 9h #6: a routine rollover led
    with "this may be another account"); a shorter one is less explained by a rollover, and
    the other-account warning leads."""
    lead, tail = "", ""
    if stranger and rolled:
        lead, tail = _ROLLED.format(window=HISTORY_WINDOW), _ROLLED_TAIL
    elif stranger:
        lead = _STRANGER
    attention = _attention(
        state,
        f"{reason}; nothing was downloaded",
        lead + f"open the request {state.request_id} in gigstack's dashboard: if it is for "
        f"{state.rfc_type} {state.request_type} {state.start}..{state.end}, confirm it with "
        f"`gigstack-async journal adopt {state.key} {state.request_id}` and run the same command "
        f"again; if not, `gigstack-async journal resend {state.key}` (a new request may be billed)"
        + tail,
        resume_to=state.stage,
    )
    return attention, (Warn(f"{state.key}: {reason}"),)


def _reconcile(state: MonthState, obs: HistorySeen) -> Result:
    mine = {r.id: r for r in state.records}
    # A known id listed with other attributes is another request under a reused id: not our
    # old request (never silently dropped as "known"), and never adopted without the user.
    reused = [
        s
        for s in obs.entries
        if s.id in state.known_ids and s.id in mine and _differs(mine[s.id], s)
    ]
    excluded = set(state.known_ids) - {s.id for s in reused}
    before = set(state.history_before or ())
    new = [s for s in obs.entries if s.id not in excluded and s.id not in before]
    verdicts = [(s, _fits(state, s)) for s in new if s not in reused]
    matches = [s for s, fit in verdicts if fit is True]
    maybe = [s for s, fit in verdicts if fit is None]
    maybe += [s for s in reused if _fits(state, s) is not False]
    # A known id the "before" snapshot did not list, listed now, with nothing recorded that
    # shows it is the old request (a createdAt or a finished status to compare): our old
    # request would have been in the snapshot, so this may be the lost create under a reused
    # id (ids restarted). It is never adopted silently.
    maybe += [
        s
        for s in obs.entries
        if s.id in excluded
        and s.id not in before
        and not (s.id in mine and (mine[s.id].created_at or mine[s.id].final))
        and _fits(state, s) is not False
    ]
    # A request another month of the journal follows (not released) is never taken here: one
    # request is downloaded for one month (review 9v #1: both months downloaded it, SAT's 3rd
    # GET). It stays a candidate the user may sort out.
    owners = {rid: " and ".join(keys) for rid, keys in _owners(state, obs.journal_ids).items()}
    theirs = [s for s in [*matches, *maybe] if s.id in owners]
    if len(matches) == 1 and not maybe and not theirs:
        match = matches[0]
        # Nothing proves it is the lost create rather than another folder's request made
        # after it (review 9w #12: counted 0, SAT's 3rd GET): taken as from outside.
        taken = _taken(state, match.id, obs.journal_ids, obs.released)
        if match.id in taken.foreign:
            taken = _evolve(
                taken,
                unproven=_add(taken.unproven, match.id),
                from_history=_add(taken.from_history, match.id),
            )
        adopted = _evolve(
            taken,
            stage=Stage.SUBMITTED,
            request_id=match.id,
            known_ids=_add(state.known_ids, match.id),
            records=_remember(state.records, match),
            unknown=False,
            checked=True,
            typed=True,
            misses=0,
            reason="adopted from the history after an unknown outcome",
            hint=None,
            resume_to=None,
        )
        return _observe_request(adopted, match, asked=False)
    candidates = [*matches, *maybe]
    gap = _unproven(state, obs, candidates)
    if theirs:
        gap += "; " + "; ".join(
            f"{s.id} is followed by {owners[s.id]} of this journal: if it is this month's, "
            f"adopt another request for {owners[s.id]} first"
            for s in theirs
        )
    # What each candidate looks like now: the user may adopt one, and if the server's ids
    # restart before the next run, its id listed with another `createdAt` shows it.
    records = state.records
    for seen in candidates:
        records = _remember(records, seen)
    state = _evolve(state, records=records)
    kind = f"{state.rfc_type} {state.request_type} request for {state.start}..{state.end}"
    article = "an" if state.rfc_type[:1] in "aeiou" else "a"  # "an issued", "a received"
    # What the package check reads: a metadata month is checked by its rows, not by CFDIs.
    contents = "CFDIs" if state.request_type == "cfdi" else "metadata"
    cause = f"{state.unknown_cause}; " if state.unknown_cause else ""
    if candidates:
        listed = ", ".join(s.id for s in candidates)
        # r2 N4: the ids in the step itself, each with its own adopt command, singular or
        # plural (was "look each of them up (`journal show` lists what is known)", which
        # `journal show` itself printed, and "each" for one candidate).
        adopts = " or ".join(
            f"`gigstack-async journal adopt {state.key} {s.id}`" for s in candidates
        )
        found = (
            f"candidate {listed}: if gigstack's dashboard (Descarga Masiva) shows it as "
            f"{article} {kind}, {adopts}"
            if len(candidates) == 1
            else f"candidates {listed}: if gigstack's dashboard (Descarga Masiva) shows one of "
            f"them as {article} {kind}, adopt that one: {adopts}"
        ) + (
            f" (it is checked against the history, or by its {contents} before anything is "
            "extracted)"
        )
        reason = (
            f"{cause}a create request may have been billed but the history cannot tell which "
            f"request it is ({'candidate' if len(candidates) == 1 else 'candidates'}: "
            f"{listed}; {gap})"
        )
    else:
        # Only when something seen says the server's ids restarted does the hint lead with it
        # (newcomer 9l #6a: the rare case led every lost create's hint); `journal adopt`
        # itself names --ids-restarted when the id is another month's.
        restarted = (
            ", by its dates and type, not its id: after the server's request ids restarted it "
            "may carry an id this journal already knows (`gigstack-async journal show "
            f"{state.key}`)"
            if _restart_evidence(state, obs) is not None
            else ""
        )
        flag = "add --ids-restarted if another month had that id; " if restarted else ""
        # With the createdAt the dashboard shows, as optional, in the same step (newcomer 9m
        # #1: adopted without it, a request the history never listed ended MISSING DAYS and
        # cost a second adopt); never this journal's own send time, which is not its createdAt.
        # The free step leads (newcomer 10 F1: the dashboard lags like the history, and a
        # user who looked too early was told to resend and paid twice): a later history that
        # lists it alone adopts it, this run's or the next one's.
        found = (
            f"{_LISTED_LATE} If it stays unlisted, open gigstack's dashboard (Descarga Masiva) "
            f"and look for {article} {kind}{restarted}. If there is one, `gigstack-async "
            f"journal adopt {state.key} "
            f"<request id> --created-at <time the dashboard shows it was made>` ({flag}it is "
            f"checked against the history, or by its {contents} before anything is extracted; "
            "--created-at is optional: without it, a request the history never lists may "
            "leave the month's last day in doubt, MISSING DAYS)"
        )
        reason = (
            f"{cause}a create request may have been billed but the history cannot tell "
            f"whether it arrived ({gap})"
        )
    # Requests that fit, listed before the create was sent: surely not it (review 9r #2: the
    # dashboard showed only another folder's, and adopting it spent its package's last
    # SAT download).
    others = [
        s.id
        for s in obs.entries
        if s.id in before and s.id not in state.known_ids and _fits(state, s) is True
    ]
    if others:
        them = "it" if len(others) == 1 else "any of them"
        found = (
            f"{found}. Not {', '.join(others)}: listed before this create was sent, so "
            f"{'it is' if len(others) == 1 else 'each is'} another request (another folder's "
            f"or tool's), not that create; adopting {them} downloads that request's "
            "package(s) and spends SAT's downloads of them (2 per package, shared with whoever "
            "made it)"
        )
    # The month's own requests whose packages expired (SAT 5007; review r2 H1): the dashboard
    # shows them, and an adopt of one only asks SAT for a package that is gone.
    gone = [i for i in state.known_ids if i in state.expired and i not in state.released_ids()]
    if gone:
        found = (
            f"{found}. Not {', '.join(gone)}: "
            + (
                "this month's own earlier request"
                if len(gone) == 1
                else "this month's own earlier requests"
            )
            + ", whose package(s) expired (SAT answered 5007 for it, or reported it expired: SAT "
            "keeps packages 72 h): adopting it downloads nothing"
        )
    none = "no other" if others or gone else "none"
    return _evolve(
        _attention(
            state,
            reason,
            f"{found}; if there is {none}, `gigstack-async journal resend {state.key}` sends "
            "it again: a new request, which may be billed twice if the first request "
            "exists after all (the dashboard, like the history, may show it late). Until then "
            "nothing is sent for this month",
        ),
        unknown=True,
    ), ()


_LISTED_LATE = (
    "run the same command again later: a request the history lists late is adopted by itself "
    "(nothing is sent)."
)
"""The first step after a lost create no candidate fits (`_reconcile`): free."""


def listed_before_create(state: MonthState, request_id: str) -> bool:
    """Whether `request_id` was listed by the history before month `state`'s last create was
    sent while that create's outcome is unknown (`history_before`): it cannot be that create,
    so adopting it takes another request (another folder's or tool's; review 9r #2). Pure."""
    return state.unknown and request_id in (state.history_before or ())


def _unproven(state: MonthState, obs: HistorySeen, candidates: list[Seen]) -> str:
    """Why the history leaves the unknown create's fate to the user (always: a history that
    does not list a request never proves it absent).

    Earlier versions proved a lost create absent when it "would have been listed" between a
    request made after it and one made before it. Each hostile review found a history that
    breaks that reading (reviews 9l #1, 9p #1, 9q #1): the docs say "last 20, newest first"
    without saying newest by what (creation, period or last change: a GUESS), how soon a new
    request is listed, or whether the list is filtered, so a short history kept by period, or
    one that lists a 502'd create late, hid a request that existed and the month was billed
    twice. Unknown is not absent: the user looks in gigstack's dashboard (free) and either
    adopts the request or resends with the risk spelled out."""
    if state.exists:
        return "the create was answered 2xx, so it exists"
    if candidates:
        return "it could be the create" if len(candidates) == 1 else "each could be the create"
    restarted = _restart_evidence(state, obs)
    if restarted is not None:
        return f"the server's request ids restarted ({restarted}), so the history proves nothing"
    return _NOT_LISTED.format(count=len(obs.entries))


_NOT_LISTED = (
    "the history ({count} entries) does not list it, and that proves nothing: gigstack may "
    'still be writing it, and the docs do not say which requests the history keeps ("last 20, '
    'newest first", newest by what is not said), so it may be listed late, below others, or '
    "not at all"
)


def _differs(record: KnownRequest, seen: Seen) -> str | None:
    """How `seen` shows it is not the request `record` describes; None: nothing contradicts."""
    pairs = (
        ("start", record.start, seen.start),
        ("end", record.end, seen.end),
        ("rfcType", record.rfc_type, seen.rfc_type),
        ("requestType", record.request_type, seen.request_type),
        ("createdAt", record.created_at, seen.created_at),
    )
    for name, ours, theirs in pairs:
        if ours is not None and theirs is not None and ours != theirs:
            return f"{name} {theirs}, not {ours}"
    if record.final in _FINAL and seen.status in ("pending", "accepted", "processing"):
        return f"status {seen.status} after it was {record.final}"
    return None


_FINAL = frozenset({"completed", "failed", "expired"})


def own_request(state: MonthState, seen: Seen) -> bool:
    """Whether `seen` is one of the month's own requests: an id in its `known_ids`, or a
    candidate it recorded (shown to the user after an unknown create outcome, who then chose
    between adopting it and a resend), that it did not release (a mistaken adopt that was
    replaced, a package that held other CFDIs), listed with nothing that contradicts what the
    month recorded of it (other dates, types or `createdAt`, or pending again after it had
    finished: another request under a reused id). Another month's id, or an id the month only
    released, is never its own, whatever the journal knows of it."""
    if seen.id in state.released_ids():
        return False
    record = next((r for r in state.records if r.id == seen.id), None)
    if record is None:
        return seen.id in state.known_ids
    return _differs(record, seen) is None


def _restart_evidence(state: MonthState, obs: HistorySeen) -> str | None:
    """A request of this journal listed with other attributes: the server reuses ids."""
    records: dict[str, list[KnownRequest]] = {}
    for record in (*state.records, *obs.records):
        records.setdefault(record.id, []).append(record)
    for seen in obs.entries:
        for record in records.get(seen.id, ()):
            differs = _differs(record, seen)
            if differs is not None:
                return f"request {seen.id} is listed with {differs}"
    return None


def _remember(records: tuple[KnownRequest, ...], seen: Seen) -> tuple[KnownRequest, ...]:
    """`records` with what `seen` shows of its request (fields already known are kept)."""
    old = next((r for r in records if r.id == seen.id), KnownRequest(seen.id))
    new = KnownRequest(
        seen.id,
        start=old.start if old.start is not None else seen.start,
        end=old.end if old.end is not None else seen.end,
        rfc_type=old.rfc_type if old.rfc_type is not None else seen.rfc_type,
        request_type=old.request_type if old.request_type is not None else seen.request_type,
        created_at=old.created_at if old.created_at is not None else seen.created_at,
        final=seen.status if seen.status in _FINAL else old.final,
    )
    if new == old and old in records:
        return records
    return (*[r for r in records if r.id != seen.id], new)


# ------------------------------------------------------------------ watching


def _observe_request(state: MonthState, seen: Seen, *, asked: bool) -> Result:
    state = _proven_open_day(state, seen)
    changes: dict[str, object] = {"status_asked": state.status_asked or asked}
    counting = seen.status in ("pending", "accepted", "processing")
    if seen.invoice_count is not None and (seen.invoice_count or not counting):
        # While SAT is still counting, a 0 is "not counted yet" (newcomer 9h #7: a history
        # read while processing left a done month with "0 invoices" beside its 29 files).
        changes["invoice_count"] = seen.invoice_count
    if seen.package_ids is not None and (seen.package_ids or state.package_ids is None):
        changes["package_ids"] = seen.package_ids
    if seen.status is not None:
        changes["sat_state"] = seen.status
    state = _evolve(state, **changes)
    status = seen.status
    if state.stage is Stage.COMPLETED:
        # Package commands come only from entering `completed` or from the status answer we
        # asked for: a routine poll must never start a second download of the same package.
        if asked and status == "failed":
            # A completed request never fails afterwards: the id names another request now
            # (the server's ids restarted). Waiting would never end.
            return _attention(
                state,
                f"request {seen.id} had completed, but its status now reports failed "
                f"({seen.message or 'no reason'}): the id names another request (the server's "
                "request ids may have restarted); nothing more was downloaded",
                f"find the month's request in gigstack's dashboard, then `gigstack-async "
                f"journal adopt {state.key} <id>`, or `gigstack-async journal resend "
                f"{state.key}` if it is not there (a new request may be billed)",
            ), ()
        if asked and status == "expired":
            return _expired(
                state, f"SAT reports the request expired ({seen.message or 'no reason'})"
            )
        return _next_package(state) if asked and status in (None, "completed") else (state, ())
    if status in ("pending", "accepted"):
        return _evolve(state, stage=Stage.SUBMITTED), ()
    if status == "processing":
        return _evolve(state, stage=Stage.PROCESSING), ()
    if status == "completed":
        state = _evolve(state, stage=Stage.COMPLETED, reason="SAT completed the request")
        return _next_package(state)
    if status == "failed":
        return _sat_failed(state, seen.message), ()
    if status == "expired":
        return _expired(state, f"SAT reports the request expired ({seen.message or 'no reason'})")
    return state, ()  # not reported, or a state this SDK does not know yet: keep watching


def _sat_failed(state: MonthState, message: str | None) -> MonthState:
    code = sat_code(message)
    text = message or "no reason given"
    if says_duplicate(code, message):
        return _duplicate(state, text, 0)
    if code == 5004 and not state.typed:
        return _untyped_empty(state, f"SAT 5004 ({text})", Stage.SUBMITTED)
    if code == 5004:
        return _evolve(
            state,
            stage=Stage.EMPTY,
            sat_code=code,
            invoice_count=0,
            reason=f"SAT 5004: no CFDIs in the period ({text})",
            hint=None,
        )
    hint = "SAT refused the request; see the reason. `gigstack-async journal resend` sends it again"
    if code == 5003:
        hint = _split_hint(state)
    elif code == 5002:
        hint = _5002_hint(state, state.start, state.end)
        state = _evolve(state, exhausted=_add_dates(state.exhausted, state.start, state.end))
    elif code == 5011:
        hint = "SAT's daily download limit was reached: `gigstack-async journal resend` tomorrow"
    elif code is None and fiel_reason(message):
        hint = (
            "SAT refused the taxpayer's FIEL (e.firma) or its registration with SAT: upload a "
            "valid FIEL and register the business in gigstack (its dashboard, or the SDK's "
            "`client.downloads.upload_fiel()` / `register()`); then `gigstack-async journal "
            "resend` and run the same command again (a new request, which may be billed)"
        )
    return _evolve(
        state,
        stage=Stage.SAT_FAILED,
        sat_code=code,
        reason=f"SAT request failed: {text}",
        hint=hint,
    )


OUT = "<out>"
"""Stands for the run's download folder (`--out`) in a hint's part folders (`<out>-2024-03a`):
the machine knows no folder; `bulk.hints.with_journal` writes the folder in."""


def _halves(start: date, end: date) -> list[tuple[date, date]]:
    """`start..end` in two halves (the second the longer one), or itself when one day."""
    days = (end - start).days + 1
    if days < 2:
        return [(start, end)]
    middle = start + timedelta(days=days // 2 - 1)
    return [(start, middle), (middle + timedelta(days=1), end)]


def split_halves(state: MonthState) -> tuple[tuple[date, date, str], ...]:
    """The parts of the month's dates to download elsewhere after SAT 5003, each with the part
    folder a hint names for it (`<out>-2024-03a`, `<out>-2024-03b`, ...: siblings of the run's
    folder): the month in two halves (one part when it is a single day), or, when its folder
    already holds some of its days (`own_part`, kept through a `journal resend --force`), only
    the days it misses: a range no longer than half the refused dates as it is, a longer one in
    two halves (review 9i #1: asking for the folder's days again bills them twice)."""
    own = own_part_of(state, state.start, state.end)
    if own is None:
        ranges = _halves(state.start, state.end)
    else:
        days = (state.end - state.start).days + 1
        ranges = []
        for a, b in uncovered(state.start, state.end, [(own.start, own.end)]):
            short = (b - a).days + 1 <= days - days // 2
            ranges.extend([(a, b)] if short else _halves(a, b))
    return tuple((a, b, f"{OUT}-{state.key}{chr(ord('a') + i)}") for i, (a, b) in enumerate(ranges))


def part_commands(
    state: MonthState, ranges: Sequence[tuple[date, date]]
) -> tuple[str, tuple[str, ...]]:
    """The `sat download` of each range of month `state`'s, complete as the user types it
    (its --rfc-type and --type), each into its own part folder (`<out>-2024-03a`, ...: siblings
    of the run's folder, written in by `bulk.hints.with_journal`; a `bulk()` caller reads them
    as `bulk()` calls), and those folders (newcomer 9f #3: `<folder a>` and no --rfc-type could
    not be pasted)."""
    kind = _kind_options(state)
    folders = tuple(f"{OUT}-{state.key}{chr(ord('a') + i)}" for i in range(len(ranges)))
    runs = " and ".join(
        f"`gigstack-async sat download --from {a} --to {b} {kind} --out {folder}`"
        for (a, b), folder in zip(ranges, folders, strict=True)
    )
    return runs, folders


def split_commands(state: MonthState) -> str:
    """The `sat download` of each part of the month (`split_halves`), each into its own folder,
    then the `journal split` that records them: commands to copy once rendered with the folder
    (`bulk.hints.with_journal`)."""
    parts = split_halves(state)
    runs, _ = part_commands(state, [(a, b) for a, b, _ in parts])
    each = "each is" if len(parts) > 1 else "it is"
    own = "" if own_part_of(state, state.start, state.end) is None else ", with this folder's,"
    return (
        f"{runs} (with the other options you ran with, e.g. --team); once {each} done, "
        f"`gigstack-async journal split {state.key} {' '.join(f for _, _, f in parts)}` checks "
        f"that they{own} cover the month and records where its CFDIs are"
    )


def one_day_5003(state: MonthState) -> str | None:
    """What to do once SAT refused month `state`'s period with 5003 (too many CFDIs for one
    request) when that period is one day (a month clipped to one day, or a part `--from D --to
    D`), or None when it is longer: dates cannot split one day (the API asks for whole days),
    so no split is offered: it would repeat the very request SAT refused (billed, refused
    again). The ways that exist: a metadata request for that day (SAT's cap for metadata is
    higher: reported as 1,000,000 rows against 200,000 XML, sourced outside SAT's documents),
    into its own folder (a journal holds one kind of request), and gigstack's support or SAT.
    A metadata month's 5003 has only the last."""
    if state.start != state.end:
        return None
    day = state.start
    refused = (
        f"SAT refuses {day} as too large for one request (5003: too many CFDIs for one "
        "request), and one day cannot be split by dates (a request asks for whole days): do "
        "not request it again (it would be billed and refused again)"
    )
    way = _metadata_day_way(state, day, "SAT's metadata: UUID, RFCs, dates, total, status")
    if way is None:
        return f"{refused}. Ask gigstack's support (or SAT) how to get that day's metadata"
    return (
        f"{refused}. {way}, which SAT caps higher per request (reported as 1,000,000 rows "
        "against 200,000 XML); it is a new request and may be billed. For that day's XML, ask "
        "gigstack's support (or SAT)"
    )


def _metadata_day_way(state: MonthState, day: date, about: str) -> str | None:
    """The way on for one `day` SAT refused that dates cannot split (a request asks for whole
    days): a metadata request for that day, the command to copy (its own --out folder, as a
    journal holds one kind of request), `about` it in brackets. None for a metadata month
    (only gigstack's support or SAT are left). One text for `one_day_5003` and the one-day
    5002 (`_one_day_5002`)."""
    if state.request_type == "metadata":
        return None
    run, _ = part_commands(_evolve(state, request_type="metadata"), [(day, day)])
    return (
        f"What can be done: {run} (with the other options you ran with, e.g. --team; its own "
        "--out folder, as a journal holds one kind of request) lists that day's CFDIs without "
        f"their XML ({about})"
    )


def _split_hint(state: MonthState) -> str:
    one_day = one_day_5003(state)
    if one_day is not None:
        return one_day
    own = own_part_of(state, state.start, state.end)
    if own is None:
        return (
            f"split the period: run {state.start}..{state.end} as shorter ranges, each into its "
            "own --out folder (a journal holds one request per month), e.g. in two halves: "
            f"{split_commands(state)} (runs of this folder then end ok)"
        )
    missing = uncovered(state.start, state.end, [(own.start, own.end)])
    return (
        f"split the period: the month's folder already holds {own.start}..{own.end} "
        f"({len(own.files)} file(s), from its earlier request), which counts as a part: never "
        f"request those days again (billed twice). Download only {_days(missing)}, into other "
        "--out folders (a journal holds one request per month; a range longer than half the "
        f"month in two halves): {split_commands(state)} (runs of this folder then end ok)"
    )


def dates_unchecked(state: MonthState) -> bool:
    """Whether the month's dates are the plan's guess for a request whose own dates nothing has
    shown (`dates_unproven`, a request adopted, and no history listed it with its dates)."""
    rid = state.request_id
    return (
        rid is not None
        and state.dates_unproven
        and not any(
            r.id == rid and r.start is not None and r.end is not None for r in state.records
        )
    )


def _unchecked_dates_note(state: MonthState) -> str:
    return (
        f"the dates of request {state.request_id} cannot be checked (the account's history "
        "does not list it and the journal's log kept none): the folder's files may cover only "
        f"part of {state.start}..{state.end}, so `journal keep` records the month with them "
        "only once their CFDIs' own dates prove the request's (some issued on its first and "
        "on its last day), or on your word (--force)"
    )


def dates_from_files(state: MonthState, dated: tuple[date, date] | None) -> bool:
    """Whether the files' CFDIs (`KeepFiles.dated`) prove the month's request was for its whole
    dates: issued on its first and on its last day (a request's dates are one range)."""
    return dated is not None and dated == (state.start, state.end)


def _keep_empty(state: MonthState, obs: KeepFiles) -> Result:
    """`KeepFiles(empty=True)`: the user's word that a completed request with no package ids
    and no known count found no CFDIs (review 9p #3); every fact against it refuses."""
    if (
        state.stage is not Stage.NEEDS_ATTENTION
        or state.staged
        or state.resume_to is not Stage.COMPLETED
        or state.request_id is None
    ):
        raise TransitionError(
            f"{state.key} is {state.stage.value}: only a month whose completed request needs "
            "attention (no package ids, no package staged) can be recorded empty; nothing changed"
        )
    if state.invoice_count:
        raise TransitionError(
            f"{state.key} is not recorded empty, nothing changed: SAT reported "
            f"{state.invoice_count} CFDI(s) for request {state.request_id}"
        )
    if state.package_ids or state.extracted:
        raise TransitionError(
            f"{state.key} is not recorded empty, nothing changed: the server named package(s) "
            f"of request {state.request_id} ({', '.join(state.package_ids or ())})"
        )
    files = sorted({*obs.files, *state.files})
    if files:
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        raise TransitionError(
            f"{state.key} is not recorded empty, nothing changed: its folder holds "
            f"{len(files)} file(s) ({shown}); `gigstack-async journal keep {state.key}` keeps "
            "files that are the month's CFDIs"
        )
    return _evolve(
        state,
        stage=Stage.EMPTY,
        unknown=False,
        resume_to=None,
        blocked_package=None,
        reason=f"the user confirmed (journal keep --empty) that request {state.request_id} "
        "found no CFDIs: the server gave no package ids and no count (nothing was sent or "
        "downloaded)",
        hint=None,
    ), ()


def _keep_files(state: MonthState, obs: KeepFiles) -> Result:
    if obs.empty:
        return _keep_empty(state, obs)
    keepable = state.stage in (Stage.NEEDS_ATTENTION, Stage.EXPIRED) and not state.staged
    damaged = [name for name in obs.damaged if name not in state.files]
    if keepable and damaged:
        shown = ", ".join(damaged[:5]) + (
            f" and {len(damaged) - 5} more" if len(damaged) > 5 else ""
        )
        raise TransitionError(
            f"{state.key} is not kept, nothing changed: {len(damaged)} file(s) in its folder "
            f"are not complete CFDIs (truncated or damaged: {shown}); kept, they would be "
            "recorded as the month's CFDIs and never downloaded again, so they are refused even "
            "with --force"
        )
    unchecked = dates_unchecked(state)
    proven = unchecked and dates_from_files(state, obs.dated)
    if unchecked and not proven and not obs.vouched:
        seen = (
            f"its files' CFDIs were issued {obs.dated[0]}..{obs.dated[1]}, not on both the "
            "first and the last day"
            if obs.dated is not None
            else "its files do not prove them (each a CFDI of the month and of its kind, at "
            "least as many as SAT reported)"
        )
        raise TransitionError(
            f"{state.key}: {_unchecked_dates_note(state)}, and {seen}. Nothing changed. Check "
            f"request {state.request_id}'s dates in gigstack's dashboard (Descarga Masiva): if "
            f"they are {state.start}..{state.end}, `gigstack-async journal keep {state.key} "
            "--force` records the month with these files (it asks you to confirm; nothing is "
            "sent or downloaded). If they are fewer days, keep --force is wrong: the other "
            f"days' CFDIs were never requested, and `gigstack-async journal resend {state.key} "
            "--force` requests the month again (a new request, possibly billed)"
        )
    if state.stage not in (Stage.NEEDS_ATTENTION, Stage.EXPIRED) or state.staged:
        raise TransitionError(
            f"{state.key} is {state.stage.value}"
            + (" with a package staged on disk (the next run extracts it)" if state.staged else "")
            + ": only a month that needs attention or expired, with no package staged, keeps "
            "the files already in its folder"
        )
    mine = set(state.files)
    files = tuple(name for name in obs.files if name not in mine)
    if not files:
        raise TransitionError(
            f"{state.key}'s folder holds no file it did not extract itself: nothing to keep"
        )
    kept = ExtractedPackage(KEPT, files)
    how = ""
    if proven:
        how = (
            f"; request {state.request_id}'s dates were checked from the files (their CFDIs "
            f"were issued {state.start}..{state.end}), not from the account's history"
        )
    elif unchecked:
        how = (
            f"; the user vouched (--force) that request {state.request_id} was for "
            f"{state.start}..{state.end}: neither the history nor the files could show it"
        )
    if state.request_id is not None and taken(state):
        # The files are a taken request's (an adopt made before this journal derived its
        # open day, or one kept the day its dates end): the same open day as an adopt.
        created = next((r.created_at for r in state.records if r.id == state.request_id), None)
        if created_day(created) is None:
            created = vouched_created_at(state) or created
        state = _with_taken_open_day(state, created, obs.today)
    return _evolve(
        state,
        stage=Stage.DONE,
        extracted=(*[e for e in state.extracted if e.package_id != KEPT], kept),
        unknown=False,
        resume_to=None,
        blocked_package=None,
        dates_unproven=state.dates_unproven and not unchecked,
        reason=f"the user kept the {len(files)} file(s) an earlier run extracted into its "
        "folder as the month's CFDIs (nothing was downloaded or sent for them)" + how,
        hint=None,
    ), ()


def beyond_count(state: MonthState, cfdis: int) -> int:
    """How many of `cfdis` distinct CFDIs in the month's folder are more than SAT reported for
    its request (0: not more, or SAT's count unknown). SAT's count is every CFDI the request
    matched: extra files are another request's or another taxpayer's (review 9m #9: a folder
    restored from another company's download passed `journal keep` with twice the count)."""
    count = state.invoice_count
    return 0 if count is None or cfdis <= count else cfdis - count


def _split_elsewhere(state: MonthState, obs: SplitElsewhere) -> Result:
    if state.stage is Stage.SPLIT:  # parts named again: its own days as recorded
        requested = [p for p in state.split_own if p != state.own_part]
        # A journal written before `split_own` kept the own part of a 5002/5003 split.
        kept = own_part_of(state, state.start, state.end)
        if requested and open_day_split(state):
            reason = _open_day_split_reason(state, obs.where)
        elif requested:
            kept = state.own_part if state.own_part in state.split_own else None
            reason = _wider_reason(requested[0], kept, state.start, state.end, obs.where)
        elif kept is not None and state.sat_code in (5002, 5003):
            reason = _own_split_reason(state, kept, obs.where)
        elif obs.refused_elsewhere is None and state.split_for is not None:
            reason = _split_reason(state, attrs.evolve(obs, refused_elsewhere=state.split_for))
        elif state.sat_code not in (5002, 5003) and identical_limit_reached(state):
            reason = _limit_split_reason(state, kept, obs.where)
        else:
            reason = _split_reason(state, obs)
        return _evolve(state, reason=reason), ()
    wider = (
        obs.start is not None
        and obs.end is not None
        and (obs.start, obs.end)
        != (
            state.start,
            state.end,
        )
    )
    if wider and obs.start is not None and obs.end is not None:
        if (
            state.stage not in (Stage.DONE, Stage.EMPTY)
            or (obs.start, obs.end) not in state.exhausted
            or not obs.start <= state.start <= state.end <= obs.end
        ):
            raise TransitionError(
                f"{state.key} is {state.stage.value} for {state.start}..{state.end}: only a "
                "month done for fewer days than dates SAT refused with 5002 "
                f"({obs.start}..{obs.end}) is completed by parts downloaded elsewhere"
            )
        own = own_part_of(state, obs.start, obs.end)
        extracted = state.extracted
        count = _total(state.invoice_count, obs.invoice_count)
        if own is not None:  # an earlier request's days, kept through the 5002 (review 9h #1)
            extracted = _with_own_part(state, own)
            count = _total(count, own.invoice_count)
        asked = _request_part(state)
        return _evolve(
            state,
            stage=Stage.SPLIT,
            start=obs.start,
            end=obs.end,
            extracted=extracted,
            invoice_count=count,
            split_own=(asked,) if own is None else (own, asked),
            reason=_wider_reason(asked, own, obs.start, obs.end, obs.where),
            hint=None,
        ), ()
    if state.stage in (Stage.DONE, Stage.EMPTY) and open_day_split(state):
        # Requested before its last day was over: the parts hold that day again, complete
        # (review 9m #7). Its own request's days are a part; the open day's CFDIs may be in
        # both, so the count is unknown (never a sum counting them twice), unless the parts
        # found none: then it is its own request's (newcomer 9k #5: `-` with 6 and 0 known).
        asked = _request_part(state)
        return _evolve(
            state,
            stage=Stage.SPLIT,
            invoice_count=state.invoice_count if obs.invoice_count == 0 else None,
            split_own=(asked,),
            reason=_open_day_split_reason(state, obs.where),
            hint=None,
        ), ()
    held = state.stage is Stage.PLANNED and state.resend_allowed
    if held and obs.refused_elsewhere is not None:
        # Held for another folder's identical request SAT refused with 5003: never sent from
        # here (nothing in flight), and sending it would only be refused again.
        return _evolve(
            state,
            stage=Stage.SPLIT,
            invoice_count=obs.invoice_count,
            split_for=obs.refused_elsewhere,
            reason=_split_reason(state, obs),
            hint=None,
        ), ()
    own = own_part_of(state, state.start, state.end)
    if state.stage is Stage.SAT_FAILED and state.sat_code in (5002, 5003) and own is not None:
        # A resend of a month done for fewer days ended in 5002 or 5003: its own days count as
        # a part (review 9i #1: the 5003 hint asks only for the others).
        extracted = _with_own_part(state, own)
        return _evolve(
            state,
            stage=Stage.SPLIT,
            extracted=extracted,
            invoice_count=_total(own.invoice_count, obs.invoice_count),
            split_own=(own,),
            reason=_own_split_reason(state, own, obs.where),
            hint=None,
        ), ()
    limited = limit_split(state)
    if limited or spent_requests(state):
        # SAT's 2 identical requests for these dates are spent (this journal's, or those it
        # was held for), or its own finished request, its packages spent, is all the server
        # gives for them (review 9v #4): the other-dates route its hint printed ends here
        # (review 9m #1).
        extracted = state.extracted
        count = obs.invoice_count
        if own is not None:
            extracted = _with_own_part(state, own)
            count = _total(own.invoice_count, count)
        return _evolve(
            state,
            stage=Stage.SPLIT,
            extracted=extracted,
            invoice_count=count,
            split_own=() if own is None else (own,),
            resume_to=None,
            reason=_limit_split_reason(state, own, obs.where)
            if limited
            else _spent_split_reason(state, obs.where),
            hint=None,
        ), ()
    if state.stage is not Stage.SAT_FAILED or state.sat_code not in (5002, 5003):
        raise TransitionError(
            f"{state.key} is {state.stage.value}"
            + (f" (SAT {state.sat_code})" if state.sat_code else "")
            + ": only a month SAT refused with 5003 (too many CFDIs for one request) or 5002 "
            "(its limit of requests for these dates), or whose 2 identical requests SAT "
            "accepts are spent, is downloaded in parts elsewhere"
            + (
                ", or a month not sent yet whose identical request (another folder's) the "
                "history shows refused with 5003; the history shows none for "
                f"{state.start}..{state.end}"
                if held
                else ""
            )
        )
    return _evolve(
        state,
        stage=Stage.SPLIT,
        invoice_count=obs.invoice_count,
        reason=_split_reason(state, obs),
        hint=None,
    ), ()


def open_day_split(state: MonthState) -> bool:
    """Whether month `state` was requested on the day its dates end (`open_day`, MISSING DAYS
    on a later day) for its recorded dates: `journal split` then takes parts covering the open
    day(s) (`open_day`..`end`), its own request's earlier days counting as a part."""
    day = state.open_day
    return day is not None and state.start <= day <= state.end


def open_day_own(state: MonthState) -> tuple[date, date] | None:
    """The days month `state`'s own request surely holds complete when it was requested on
    its last day (`open_day_split`): its dates before the open day; None when it has none."""
    day = state.open_day
    if day is None or day <= state.start:
        return None
    return state.start, day - timedelta(days=1)


def created_day(created_at: str | int | None) -> date | None:
    """The earliest day (Mexico City) a request whose `createdAt` is `created_at` may have been
    made on; None when it cannot be told (its unit is a GUESS: `created_at_instant`). An ISO
    time without an offset may be Mexico City's wall time or UTC: the earlier of both days."""
    instant = created_at_instant(created_at)
    if instant is not None:
        return instant.astimezone(MEXICO_CITY).date()
    if not isinstance(created_at, str):
        return None
    try:
        naive = datetime.fromisoformat(created_at.strip())
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return None  # out of range (`created_at_instant`)
    try:
        as_utc = naive.replace(tzinfo=UTC).astimezone(MEXICO_CITY).date()
    except (OverflowError, ValueError):
        return naive.date()
    return min(naive.date(), as_utc)


def taken_open_day(
    start: date, end: date, created_at: str | int | None, today: date | None
) -> tuple[date | None, bool]:
    """(`MonthState.open_day`, `open_day_unproven`) for a month of `start..end` that takes a
    request its own create did not make (review 9n #4): it may have been requested before the
    last day was over when its `createdAt` falls on or before `end` (Mexico City, as `Send`
    reads today), when it is taken `today` on or before `end` (it was made no later), or when
    neither is known: unknown never means "after". The day is the earliest of those, no earlier
    than `start`; with nothing known, `end` and unproven (`MonthState.open_day_unproven`).
    (None, False): surely made after `end` was over. Pure."""
    made = created_day(created_at)
    if made is None and (today is None or today > end):
        return end, True
    days = [d for d in (made, today) if d is not None and d <= end]
    return (max(start, min(days)), False) if days else (None, False)


def taken(state: MonthState) -> bool:
    """Whether month `state` follows a request its own create did not make: adopted by the
    user (`confirmed_id`), or gigstack's or SAT's identical one (`duplicate`)."""
    return state.request_id is not None and (
        state.confirmed_id == state.request_id or state.duplicate
    )


def _with_taken_open_day(
    state: MonthState, created_at: str | int | None, today: date | None
) -> MonthState:
    """Month `state` once it takes a request its create did not make, which it follows along
    with its own create's open day (`Send`): the earlier of both days. A proven day (the
    month's own, sent on or before its last day) bounds an unproven one: the taken request
    was made no later than it."""
    day, unproven = taken_open_day(state.start, state.end, created_at, today)
    own = state.open_day
    if own is not None and not state.open_day_unproven:
        day = own if day is None or unproven else min(own, day)
        unproven = False
    return _evolve(state, open_day=day, open_day_unproven=unproven)


def _proven_open_day(state: MonthState, seen: Seen) -> MonthState:
    """Month `state`, whose open day was unknown (`open_day_unproven`), once a listing of its
    request shows a readable `createdAt`: the day from it (None when made after the last
    day). Anything else is returned as is, and so is a month not `typed`: its entry may be
    another request under a restarted id (as `_history` keeps no `createdAt` from it). A day
    the user vouched for (`MonthState.created_vouched`) gives way to it the same way: the
    server is the better witness."""
    vouched = vouched_created_at(state) is not None
    if not (state.open_day_unproven or vouched) or seen.id != state.request_id:
        return state
    if not state.typed:
        return state
    day, unproven = taken_open_day(state.start, state.end, seen.created_at, None)
    if unproven:
        return state
    return _evolve(state, open_day=day, open_day_unproven=False, created_vouched=None)


def _finished_listed(state: MonthState, obs: HistorySeen) -> MonthState:
    """A done or empty month whose open day is unproven (`open_day_unproven`: the request it
    adopted never showed a `createdAt` while the month ran), once a history lists that request
    once, completed, with the month's own dates and kinds (all four present and equal:
    `_fits`) and nothing a record of it says otherwise: the day from its `createdAt`
    (`_proven_open_day`). Left: a server whose ids restarted listing, under this id, another
    completed request for exactly these dates and kinds (review 13b #3a). Newcomer
    13 #1: a month adopted by hand, completed before the history listed its request, kept its
    MISSING DAYS on every later run although the history then showed it was made two years
    after the month. Anything else is returned as is; nothing is sent either way. Pure."""
    if not state.open_day_unproven or state.request_id is None:
        return state
    listed = [seen for seen in obs.entries if seen.id == state.request_id]
    if len(listed) != 1:
        return state  # unlisted, or one id for several requests (reused ids): nothing proven
    seen = listed[0]
    if _fits(state, seen) is not True or seen.status != "completed":
        return state  # not surely the request the month downloaded, finished
    record = next((r for r in state.records if r.id == seen.id), None)
    if record is not None and _differs(record, seen) is not None:
        return state  # the id may name another request now: it proves nothing
    # Its requestType is the month's (`_fits`): `typed` for this run, as `_history` takes such
    # an entry of a month it waits for (`Start` reset it).
    settled = _proven_open_day(_evolve(state, typed=True), seen)
    return state if settled.open_day_unproven else settled


def _open_day_split_reason(state: MonthState, where: str) -> str:
    # An unproven day is only "may have been" (newcomer 9k #5: stated as fact after a split).
    when = (
        f"possibly on {state.open_day} (its request's createdAt was never shown: unknown "
        "never counts as after)"
        if state.open_day_unproven
        else f"on {state.open_day}, before that day was over"
    )
    return (
        f"requested here for {state.start}..{state.end} {when}; "
        f"{_days([(state.open_day or state.end, state.end)])} downloaded again in "
        f"parts elsewhere, complete: {where}"
    )


_LIMIT_SPLIT_STAGES = frozenset(
    {Stage.PLANNED, Stage.EXPIRED, Stage.SAT_FAILED, Stage.NEEDS_ATTENTION, Stage.REFUSED}
)


def limit_split(state: MonthState) -> bool:
    """Whether `journal split` takes month `state` because the account already has SAT's 2
    identical requests for its dates (`identical_limit_reached`) and none of them is the
    month's live request (it is planned, expired, failed, refused or needs attention): its
    hint prints other dates in parts, then the split (review 9m #1). Its folder's own days
    (`own_part_of`) count as a part."""
    if state.stage is Stage.SAT_FAILED and state.sat_code in (5002, 5003):
        return False  # split as SAT's refusal, with its own reason
    return state.stage in _LIMIT_SPLIT_STAGES and identical_limit_reached(state)


def _limit_split_reason(state: MonthState, own: OwnPart | None, where: str) -> str:
    here = (
        ""
        if own is None
        else (
            f"{own.start}..{own.end} downloaded here by an earlier request ({len(own.files)} "
            "file(s)), the other days "
        )
    )
    return (
        f"SAT accepts only {_SAT_IDENTICAL_LIMIT} requests for exactly {state.start}..{state.end} "
        f"and the account has them ({', '.join(identical_requests(state))}): {here}downloaded "
        f"in parts elsewhere; its CFDIs are in {where}"
    )


def _request_part(state: MonthState) -> OwnPart:
    """The days month `state`'s request downloaded into its folder (done or empty), as a part
    of a split: its dates, the files it extracted (not its own part's) and SAT's count."""
    files = tuple(n for e in state.extracted if e.package_id != OWN_PART for n in e.files)
    return OwnPart(state.start, state.end, files, state.invoice_count)


def _wider_reason(asked: OwnPart, own: OwnPart | None, start: date, end: date, where: str) -> str:
    """A month done for `asked`'s days (and `own`'s, an earlier request's), split for the
    wider `start..end` SAT refused with 5002."""
    also = (
        ""
        if own is None
        else (f" and {own.start}..{own.end} by an earlier request ({len(own.files)} file(s))")
    )
    return (
        f"requested here for {asked.start}..{asked.end}{also} (SAT 5002 refused "
        f"{start}..{end}); the other days downloaded in parts elsewhere: {where}"
    )


def _own_split_reason(state: MonthState, own: OwnPart, where: str) -> str:
    """A month SAT refused with 5002 or 5003 whose folder holds `own`'s days, split."""
    why = (
        "its limit of requests for these dates"
        if state.sat_code == 5002
        else "too many CFDIs for one request"
    )
    return (
        f"SAT {state.sat_code} ({why}) for {state.start}..{state.end}: "
        f"{own.start}..{own.end} downloaded here by an earlier request ({len(own.files)} "
        f"file(s)), the other days in parts elsewhere: {where}"
    )


def _split_reason(state: MonthState, obs: SplitElsewhere) -> str:
    if obs.refused_elsewhere is not None and state.stage is not Stage.SAT_FAILED:
        return (
            f"SAT 5003 (too many CFDIs for one request) for {state.start}..{state.end} "
            f"({obs.refused_elsewhere}, which this journal did not send): downloaded in parts "
            f"elsewhere; its CFDIs are in {obs.where}"
        )
    if state.sat_code not in (5002, 5003):  # a done month completed by parts (MISSING DAYS)
        return f"{state.start}..{state.end} downloaded partly here, partly elsewhere: {obs.where}"
    why = (
        "its limit of requests for these dates"
        if state.sat_code == 5002
        else "too many CFDIs for one request"
    )
    return (
        f"SAT {state.sat_code} ({why}) for {state.start}..{state.end}: downloaded "
        f"in parts elsewhere; its CFDIs are in {obs.where}"
    )


def _two_ranges(state: MonthState, start: date, end: date) -> tuple[str, tuple[str, ...]]:
    """`start..end` as two ranges (the first ends in its middle), as `part_commands`."""
    middle = start + (end - start) // 2
    return part_commands(state, [(start, middle), (middle + timedelta(days=1), end)])


def _one_day_5002(state: MonthState, day: date) -> str:
    """The ways on once SAT refused one day with 5002: no other dates exist within it (the
    halves were that day again and a range ending before it starts)."""
    head = (
        f"one day cannot be split by dates (a request asks for whole days), so no other dates "
        f"of {day} exist"
    )
    way = _metadata_day_way(
        state,
        day,
        "another kind of request: whether SAT's limit counts it with this one is not "
        "documented; a new request, may be billed",
    )
    if way is None:
        return f"{head}: ask gigstack's support (or SAT) how to get that day's metadata"
    return f"{head}. {way}; for that day's XML, ask gigstack's support (or SAT)"


def limit_5002_hint(state: MonthState, start: date, end: date) -> str:
    """What to do once SAT refused month `state`'s `start..end` with 5002 (its limit of requests
    for those dates is exhausted, for good)."""
    if start == end:
        return (
            f"SAT's limit of requests for {start} is exhausted: that day is never sent again, "
            "and " + _one_day_5002(state, start)
        )
    runs, folders = _two_ranges(state, start, end)
    return (
        f"SAT's limit of requests for {start}..{end} is exhausted: these dates are never sent "
        "again. To download the month anyway, run it as shorter ranges (other dates are new "
        "criteria for SAT: new requests, possibly billed), each into its own --out folder, "
        f"e.g. {runs} (with the other options you ran with, e.g. --team); once both are done, "
        f"`gigstack-async journal split {state.key} {' '.join(folders)}` records where its "
        "CFDIs are (runs of this folder then end ok). Other dates run into this folder download "
        "only those days: the month then says MISSING DAYS"
    )


def _with_own_part(state: MonthState, own: OwnPart) -> tuple[ExtractedPackage, ...]:
    """Month `state`'s extracted packages with `own` (its own part: days an earlier request
    downloaded into its folder) as the one `OWN_PART` entry, replacing any it had: its files
    are then the month's as a split or as done for those days."""
    return (
        *[e for e in state.extracted if e.package_id != OWN_PART],
        ExtractedPackage(OWN_PART, own.files),
    )


def own_part_of(state: MonthState, start: date, end: date) -> OwnPart | None:
    """The month's `own_part` when it lies within `start..end` and misses some of its days."""
    own = state.own_part
    if (
        own is None
        or not start <= own.start <= own.end <= end
        or (own.start, own.end)
        == (
            start,
            end,
        )
    ):
        return None
    return own


def _5002_hint(state: MonthState, start: date, end: date) -> str:
    """`limit_5002_hint`, or, when the month's folder already holds some of those days
    (`own_part`), the way to the missing days only (review 9g #4)."""
    own = own_part_of(state, start, end)
    if own is None:
        return limit_5002_hint(state, start, end)
    return (
        f"SAT's limit of requests for {start}..{end} is exhausted: these dates are never sent "
        f"again. The month's folder already holds {own.start}..{own.end} ({len(own.files)} "
        "file(s), from its earlier request), which counts as a part; "
        + missing_days_way(_evolve(state, start=own.start, end=own.end), start, end)
    )


def uncovered(
    start: date, end: date, ranges: Sequence[tuple[date, date]]
) -> list[tuple[date, date]]:
    """The days of `start..end` (inclusive) that no range covers, as inclusive ranges."""
    gaps = []
    day = start
    for first, last in sorted(ranges):
        if last < day:
            continue
        if first > day:
            gaps.append((day, min(first - timedelta(days=1), end)))
        day = max(day, last + timedelta(days=1))
        if day > end:
            break
    if day <= end:
        gaps.append((day, end))
    return [(a, b) for a, b in gaps if a <= b]


def held_here(state: MonthState, start: date, end: date) -> list[tuple[date, date]]:
    """The dates of `start..end` the month's folder holds: its request's (`state.start..
    state.end`) and, when it lies within them, its own part (`own_part`: the days an earlier
    request of the month downloaded there before a 5002; review 9h #1)."""
    held = [(state.start, state.end)]
    own = own_part_of(state, start, end)
    if own is not None:
        held.append((own.start, own.end))
    return held


def _days(ranges: Sequence[tuple[date, date]]) -> str:
    return " and ".join(f"{a}..{b}" if a != b else str(a) for a, b in ranges)


def missing_days(state: MonthState, start: date, end: date) -> str:
    """The days of `start..end` that neither the month's request (`state.start..state.end`)
    nor its own part covers, e.g. "2024-08-31" or "2024-08-01..2024-08-09 and 2024-08-31"."""
    return _days(uncovered(start, end, held_here(state, start, end)))


def missing_days_way(state: MonthState, start: date, end: date) -> str:
    """The way to the days of the plan's `start..end`, which SAT refused with 5002, that the
    month's request and its own part miss (a resend cannot ask for the plan's dates again):
    each missing range into its own folder, then `journal split` completes the month."""
    ranges = uncovered(start, end, held_here(state, start, end))
    if not ranges:  # its own part holds the rest: a run of the plan records it complete
        return (
            f"nothing is missing here: the month's folder holds every day of {start}..{end} "
            "(an earlier request's days included); a `sat download` of the whole month records "
            "it complete and sends nothing"
        )
    runs, folders = part_commands(state, ranges)
    return (
        f"missing here: {_days(ranges)}. Download "
        f"{'that range' if len(ranges) == 1 else 'each range'} into its own --out folder "
        f"({runs}, with the other options you ran with, e.g. --team; other dates for SAT: a new "
        f"request, possibly billed); once done, `gigstack-async journal split {state.key} "
        f"{' '.join(folders)}` records the month as complete (runs of this folder then end ok)"
    )


def own_part_overlap(state: MonthState, start: date, end: date) -> OwnPart | None:
    """The month's own part (days an earlier request downloaded into its folder, kept through
    a 5002) when the dates `start..end` ask for some of those days again: a new request for
    them would bill them twice (review 9h #1). None otherwise."""
    own = state.own_part
    if own is None or state.stage is Stage.SPLIT or end < own.start or own.end < start:
        return None
    return own


def replanned(state: MonthState, start: date, end: date) -> MonthState:
    """Month `state`, which SAT refused with 5003 or 5002, once a plan asks for other dates
    `start..end` (new criteria for SAT): planned for them, its own part kept (those days stay
    in its folder and count with the new request's), or, when they ask again for days its own
    part already holds, not planned: the state says so and nothing is sent (review 9h #1)."""
    own = own_part_overlap(state, start, end)
    if own is None:
        return transition(state, AllowResend(start, end))[0]
    overlap = (max(start, own.start), min(end, own.end))
    return _evolve(
        state,
        reason=f"the plan's {start}..{end} asks again for {_days([overlap])}, which the "
        f"month's folder already holds ({len(own.files)} file(s) from its earlier request): "
        f"{_BILLED_TWICE}",
        hint=missing_days_way(_evolve(state, start=own.start, end=own.end), state.start, state.end),
    )


_BILLED_TWICE = "nothing was sent (those CFDIs would be billed twice)"
"""How `replanned`'s refusal of a plan ends: that reason is the plan's, not the month's own."""


def _own_reason_again(state: MonthState) -> MonthState | None:
    """Month `state`, SAT-failed, planned again for its own dates after `replanned` refused
    another plan: its own SAT reason and hint back (review 9i #6: the refused plan's reason
    stayed). None when its reason is its own already."""
    if state.stage is not Stage.SAT_FAILED or not (state.reason or "").endswith(_BILLED_TWICE):
        return None
    if state.sat_code == 5003:
        return _evolve(
            state, reason="SAT 5003: too many CFDIs for one request", hint=_split_hint(state)
        )
    return _evolve(
        state,
        reason="SAT 5002: the limit of requests for these dates is exhausted",
        hint=_5002_hint(state, state.start, state.end),
    )


def own_part_completes(state: MonthState, start: date, end: date) -> MonthState | None:
    """Month `state`, done (or empty) for other dates after SAT refused the plan's `start..end`
    with 5002, when its request and its own part (in the same folder) cover every day of them:
    the month is complete, in two parts both here (`split`, as `journal split` would record
    it, and its own part's files counted). None otherwise (review 9h #1)."""
    own = own_part_of(state, start, end)
    if (
        state.stage not in (Stage.DONE, Stage.EMPTY)
        or (start, end) not in state.exhausted
        or own is None
        or own.missing
        or uncovered(start, end, held_here(state, start, end))
    ):
        return None
    extracted = _with_own_part(state, own)
    return _evolve(
        state,
        stage=Stage.SPLIT,
        start=start,
        end=end,
        extracted=extracted,
        invoice_count=_total(state.invoice_count, own.invoice_count),
        split_own=(own, _request_part(state)),
        reason=f"SAT 5002 (its limit of requests for these dates) for {start}..{end}: "
        f"{state.start}..{state.end} downloaded here by request {state.request_id} "
        f"({len(state.files)} file(s)), {own.start}..{own.end} here by an earlier request "
        f"({len(own.files)} file(s))",
        hint=None,
    )


MISSING_FILES = "MISSING FILES"
DAMAGED_DIR = "damaged"
"""The subfolder of a month's folder where a refill (`journal retry-download`) moves a damaged
CFDI before it extracts the package's copy (review 9n #3): kept, never deleted."""
"""How a plan's note starts when the month's folder lost files it is counted complete with."""


def _files_lost_note(state: MonthState, start: date, end: date, lost: Sequence[str]) -> str:
    own = state.own_part
    assert own is not None  # only a month its own part completes gets here
    return (
        f"{MISSING_FILES}: {start}..{end} would be complete with {state.start}..{state.end} "
        f"(request {state.request_id}) and {own.start}..{own.end} (an earlier request), both "
        f"in the month's folder, but it no longer holds {len(lost)} of their "
        f"{len(own.files) + len(state.files)} file(s), e.g. {lost[0]}: not recorded complete. "
        "Put them back and run the same command again; if they are gone, download the days "
        "they were for into another --out folder, then `gigstack-async journal split "
        f"{state.key} <that folder> --force` records the month with them"
    )


def _own_files_lost_note(shown: MonthState, lost: Sequence[str]) -> str:
    return (
        f"{MISSING_FILES}: the plan's {shown.start}..{shown.end} are all days an earlier "
        "request downloaded into the month's folder, but it no longer holds "
        f"{len(lost)} of their {len(shown.files)} file(s), e.g. {lost[0]}: not reported "
        "complete. Put them back and run the same command again"
    )


def exhausted_again(state: MonthState, start: date, end: date) -> MonthState:
    """`state` (planned or refused: nothing sent for its dates) once a plan asks for `start..
    end`, dates SAT refused with 5002 before: SAT-failed for them again, and nothing is sent
    (the recorded dates are not the plan the user saw, and the plan's would be refused)."""
    if state.stage not in (Stage.PLANNED, Stage.REFUSED) or (start, end) not in state.exhausted:
        raise TransitionError(
            f"{state.key} is {state.stage.value} for {state.start}..{state.end}: only a month "
            "not sent yet is planned again for dates SAT refused with 5002"
        )
    return _evolve(
        state,
        start=start,
        end=end,
        stage=Stage.SAT_FAILED,
        sat_code=5002,
        resend_allowed=False,
        unknown=False,
        reason=f"SAT 5002 refused {start}..{end} earlier (its limit of requests for these "
        "dates is exhausted): nothing was sent again",
        hint=_5002_hint(state, start, end),
    )


class PlanCreate(StrEnum):
    """Whether a run of a plan sends a create request (possibly billed) for a recorded month."""

    NO = "no"
    YES = "yes"
    """A create goes (unless the account's history lists the month's exact request under
    another id: the run holds it, `bulk.duplicates`)."""


@attrs.frozen
class PlanDecision:
    """What a run of a plan does with a month the journal recorded (`plan_decision`)."""

    state: MonthState | None
    """The month as the run takes it up; None: the recorded state, unchanged."""
    note: str | None
    """Why the recorded dates are kept although the plan asks for others (its result says
    so); None: nothing to say."""
    create: PlanCreate
    shown: MonthState | None = None
    """The month as this run's result reports it when that differs from its record: the plan
    asks only for days an earlier request downloaded into its folder (`own_part_holds`); not
    recorded (a run of the recorded dates still says what they need). None: as recorded."""
    opened: date | None = None
    """Set (to the plan's today) when `note` is the open-day MISSING DAYS note
    (`open_day_note`): read from the record before the run's history, it is read again from
    the month's state when the run reports it, since that history may list the request's
    `createdAt` and settle the day (review 9r #3). None: any other note, or none."""


def open_day_note(state: MonthState, today: date) -> str | None:
    """The MISSING DAYS note of month `state` for its own dates, as `plan_decision` gives it
    on `today` (Mexico City): None when its open day is settled (its request listed with a
    `createdAt` after its last day, `_proven_open_day`) or it has none. Pure."""
    return _open_day_note(state, state.start, state.end, today)


def own_part_holds(state: MonthState, start: date, end: date) -> MonthState | None:
    """Month `state`, SAT-failed (5002 or 5003) for other dates with an own part (days an
    earlier request downloaded into its folder), as a run of a plan asking only for days of
    that own part reports it: done, its own part's files, nothing sent (review 9j #4: the
    original partial command failed on every run). Its count only when the plan asks for
    exactly the own part's dates. None otherwise."""
    own = state.own_part
    if (
        state.stage is not Stage.SAT_FAILED
        or state.sat_code not in (5002, 5003)
        or own is None
        or own.missing
        or not own.start <= start <= end <= own.end
        or (start, end) == (state.start, state.end)
    ):
        return None
    return _evolve(
        state,
        stage=Stage.DONE,
        start=start,
        end=end,
        request_id=None,
        sat_code=None,
        invoice_count=own.invoice_count if (start, end) == (own.start, own.end) else None,
        extracted=(ExtractedPackage(OWN_PART, own.files),),
        reason=f"the plan's {start}..{end} are all in the month's folder: {own.start}..{own.end} "
        f"downloaded there by an earlier request ({len(own.files)} file(s)); nothing was sent "
        f"(SAT {state.sat_code} refused this journal's later request for {state.start}.."
        f"{state.end}: a run of those dates says what they need)",
        hint=None,
    )


def plan_decision(
    state: MonthState,
    start: date,
    end: date,
    *,
    lost: Sequence[str] = (),
    today: date | None = None,
) -> PlanDecision:
    """What a run of a plan asking month `state` for `start..end` does with it: the one rule
    the run (`engine.merge_plan`), its plan preview (`BulkDownload.identical_requests`) and
    the confirmation's count (`BulkDownload.may_create`) read, so they never disagree.

    A month with no billed request (never sent, allowed a resend, or refused by
    gigstack) takes the plan's dates: a resend asks for what the plan shows. A month SAT
    refused with 5003 ("split the period") or 5002 (the limit for these criteria) takes the
    plan's new, different dates (new criteria, and the plan the user saw is the new request),
    unless they ask again for days its own part holds (`replanned`: nothing sent). Dates SAT
    refused with 5002 are never sent again (`exhausted_again`; a month done for other dates
    whose own part holds the rest is complete: `own_part_completes`). A month already sent
    keeps the dates it was requested with (the request exists and may have been billed):
    "run the same command again" resumes it even when its end was clipped to an earlier
    "today". When those dates miss days of the plan's, the note says so and the month's result
    is not ok (`gigstack-async journal resend` asks for the plan's dates); days its own part
    holds in its folder are not missing (review 9i #6).

    `lost`: the files of the month's own part and request that its folder no longer holds (the
    run looks, `content.lost_files`; the machine does no I/O): a month missing some is never
    recorded complete by its own part (as `journal split` refuses it without --force); the
    note says which (review 9i #5). The preview and the count pass none: the create decided
    is the same either way (none).

    A month SAT refused for other dates whose own part holds every day of the plan's is
    `shown` done by this run (`own_part_holds`), its record kept; unless its folder lost some
    of those files (`lost`: the note says which, and the run is not ok).

    `today` (the plan's, Mexico City; None: not checked, as the preview and the count pass):
    a month requested on the day its dates end (`MonthState.open_day`) and planned again for
    the same dates on a later day says that day is MISSING DAYS (newcomer 9g #4): CFDIs stamped
    later that day may not be in its package. Nothing is sent for it by itself.

    `create` follows what `Start` and then `Send` do with the month's new state. Pure."""
    opened = None if today is None else _open_day_note(state, start, end, today)
    if opened is not None:  # sent for these very dates: kept as recorded, nothing sent
        return PlanDecision(None, opened, PlanCreate.NO, opened=today)
    shown = own_part_holds(state, start, end)
    if shown is not None:
        gone = [name for name in shown.files if name in lost]
        if gone:
            return PlanDecision(
                _own_reason_again(state), _own_files_lost_note(shown, gone), PlanCreate.NO
            )
        return PlanDecision(_own_reason_again(state), shown.reason, PlanCreate.NO, shown)
    cut = window_cut_holds(state, start, end)
    if cut is not None:  # its missing days are gone from SAT's window, as the user accepted
        return PlanDecision(None, None, PlanCreate.NO, cut)
    decided, note = _plan_step(state, start, end, lost)
    whole = None if decided is not None else _own_part_shown(state, start, end, lost, note)
    begun = transition(decided or state, Start())[0]
    if (begun.start, begun.end) in begun.exhausted:
        create = PlanCreate.NO  # `_send` refuses dates SAT refused with 5002, however reached
    elif begun.stage is Stage.PLANNED and begun.resend_allowed:
        create = PlanCreate.YES
    else:
        create = PlanCreate.NO
    return PlanDecision(decided, note, create, whole)


def _own_part_shown(
    state: MonthState, start: date, end: date, lost: Sequence[str], note: str | None
) -> MonthState | None:
    """Month `state`, done (or empty) for part of the plan's `start..end` while its own part
    (an earlier request's days, same folder) holds the rest, as this run reports it: the plan's
    dates with both requests' files and counts (review 9k #4: "done, 12 invoices, 12 files"
    for a folder holding all 34). Not recorded. None unless the plan's dates are exactly both
    ranges together, and when its folder lost some of those files or the own part is short."""
    own = state.own_part if state.stage in (Stage.DONE, Stage.EMPTY) else None
    if (
        own is None
        or own.missing
        or (start, end) == (state.start, state.end)
        or min(state.start, own.start) != start
        or max(state.end, own.end) != end
        or uncovered(start, end, [(state.start, state.end), (own.start, own.end)])
        or any(name in lost for name in (*own.files, *state.files))
    ):
        return None
    return _evolve(
        state,
        start=start,
        end=end,
        extracted=_with_own_part(state, own),
        invoice_count=_total(state.invoice_count, own.invoice_count),
        reason=note,
    )


_OPEN_DAY_STAGES = frozenset(
    {Stage.SUBMITTED, Stage.PROCESSING, Stage.COMPLETED, Stage.STAGED, Stage.DONE, Stage.EMPTY}
)
"""Stages whose request may end with the month's files (or none): the ones a later day's run
tells about the open day. A failed, expired or split month has its own way already."""


def _open_day_note(state: MonthState, start: date, end: date, today: date) -> str | None:
    """MISSING DAYS for a month sent on the day its dates end (`open_day`), once that day is
    over (`today` later) and the plan asks for the same dates: the way is the one a month
    clipped to an earlier day has (a resend of the plan's dates, the user's choice)."""
    day = state.open_day
    if (
        day is None
        or today <= day
        or (state.start, state.end) != (start, end)
        or state.stage not in _OPEN_DAY_STAGES
    ):
        return None
    # Only the open day(s), into their own folder, then `journal split`: other criteria for
    # SAT than the month's, so never its 2nd (or a 5002 third) identical request, and never
    # the days already downloaded again (review 9m #7).
    runs, folders = part_commands(state, [(day, state.end)])
    done = state.stage in (Stage.DONE, Stage.EMPTY)
    vouch = (
        "If gigstack's dashboard shows when that request was made, `gigstack-async journal "
        f"adopt {state.key} {state.request_id} --created-at <time shown in the dashboard>` "
        "records it (nothing sent or billed; made after that day: the month is complete). "
        "Otherwise: "
        if state.open_day_unproven
        else ""
    )
    own = own_send_vouch(state)
    if own is not None:
        # This journal's own create lost its answer (newcomer 9j F1): its send time, on our
        # clock, is what the user may vouch for if the adopted request is that create.
        vouch = f"{own} Otherwise: "
    go = "download" if done else "once it has finished, download"
    made = (
        "adopted after this journal's own create for these dates lost its answer (it may "
        "be that create or one made elsewhere)"
        if state.create_sent_at is not None
        else "made elsewhere"
    )
    when = (
        f"requested for {state.start}..{state.end} by request {state.request_id}, {made}, "
        "whose createdAt was never shown: it may have been made on "
        f"{day}, before that day was over (unknown never counts as after)"
        if state.open_day_unproven
        else f"requested for {state.start}..{state.end} on {day}, before that day was over"
    )
    return (
        f"MISSING DAYS: {when}: CFDIs stamped later on {day}, or certified late at SAT, are not "
        f"in its download. {vouch}{go if vouch else go[:1].upper() + go[1:]} "
        f"{_days([(day, state.end)])} again into its own --out folder ({runs}, with the other "
        "options you ran with, e.g. --team; other dates for SAT than the month's request: a "
        f"new request, possibly billed); once done, `gigstack-async journal split {state.key} "
        f"{' '.join(folders)}` records the month with them (runs of this folder then end ok)"
    )


def sent_at_text(sent_at: float) -> str:
    """`sent_at` (epoch seconds, our clock) as `journal adopt --created-at` takes it as is: ISO
    8601 in UTC with its offset, cut to the second (never later than the instant itself).

    >>> sent_at_text(1796067436.9)
    '2026-11-30T19:37:16+00:00'
    """
    return datetime.fromtimestamp(int(sent_at), UTC).isoformat()


def own_send_vouch(state: MonthState) -> str | None:
    """What month `state` says of its own lost create's send time (`create_sent_at`) while its
    open day is unproven (`open_day_unproven`: the request it follows, adopted once that
    create's answer was lost, never showed a `createdAt`): that time, and the `journal adopt
    --created-at` that vouches for it, runnable as printed (`vouch_created_at` reads it as is),
    and what it then does. Only the user's word: the adopted request may have been made
    elsewhere, so the send time is never taken as its `createdAt` by itself (newcomer 9j F1).
    None when there is no such time, the open day is proven, or the request was listed before
    that create was sent (`history_before`: surely not it)."""
    sent = state.create_sent_at
    rid = state.request_id
    if sent is None or rid is None or not state.open_day_unproven:
        return None
    if rid in (state.history_before or ()):
        return None
    try:
        at = sent_at_text(sent)
    except (OverflowError, OSError, ValueError):
        return None
    made = created_day(at)
    if made is None or made < state.start:
        return None  # `journal adopt` would refuse it (`_check_vouch`)
    if made > state.end:
        then = f"made after {state.end} was over: the month is complete"
    else:
        then = (
            f"made on {made}, before {state.end} was over: "
            f"{_days([(max(made, state.start), state.end)])} are then the MISSING DAYS"
        )
    return (
        f"This journal sent its own create for {state.key} at {at} (our clock) and its answer "
        f"was lost: if the request you adopted is that one, `gigstack-async journal adopt "
        f"{state.key} {rid} --created-at {at}` records that time (nothing sent or billed; "
        f"{then}). Do not if it may have been made elsewhere (then only the time gigstack's "
        "dashboard shows, `--created-at <time shown in the dashboard>`)."
    )


def _not_allowed(state: MonthState) -> MonthState:
    """Month `state`, planned but not allowed to send a create (`resend_allowed` False: no
    transition leaves a month there; a hand-edited or damaged journal does), as a run takes it
    up: needs-attention, nothing sent. Left planned, `Send` refuses it and no other observation
    moves it: the run waited for it forever. A create may have gone before (the record cannot
    say), so sending on a guess could bill the month twice: the user decides."""
    return _attention(
        state,
        f"the journal records {state.key} as planned for {state.start}..{state.end} but not "
        "allowed to send a create request (its record says one may have gone already, which "
        "no run leaves a planned month saying: a hand-edited or damaged journal?): nothing "
        "was sent",
        "look for the month's request in the account's history (`gigstack-async downloads "
        "history`, or the dashboard): if it is there, `gigstack-async journal adopt "
        f"{state.key} <request id>` attaches it without sending anything; if it is not, "
        f"`gigstack-async journal resend {state.key}` allows one new create request (it may "
        "be billed)",
    )


def _plan_step(
    state: MonthState, start: date, end: date, lost: Sequence[str]
) -> tuple[MonthState | None, str | None]:
    if state.stage is Stage.PLANNED and not state.resend_allowed:
        # The rule below would keep it planned, and no create goes: the run would wait for it.
        return _not_allowed(state), None
    if (state.start, state.end) == (start, end):
        return _own_reason_again(state), None
    if (start, end) in state.exhausted:
        # SAT 5002 refused these very dates before (the month was tried with others since).
        if state.stage in (Stage.PLANNED, Stage.REFUSED):
            # Nothing sent for the recorded dates yet, and the plan the user saw asks for the
            # refused ones: neither is sent (only the plan shown may be billed).
            return exhausted_again(state, start, end), None
        complete = own_part_completes(state, start, end)
        if complete is not None and lost:
            return None, _files_lost_note(state, start, end, lost)
        if complete is not None:
            # Its request and its own part (both in its folder) hold every day: complete.
            return complete, None
        missing = start < state.start or end > state.end
        way = missing_days_way(state, start, end)
        return None, (
            ("MISSING DAYS: " if missing else "")
            + f"requested earlier for {state.start}..{state.end}; SAT 5002 refused "
            f"the plan's {start}..{end} earlier (its limit of requests "
            "for these dates is exhausted): they are never sent again"
            + (f". {way}" if missing else "")
        )
    if state.stage is Stage.SAT_FAILED and state.sat_code in (5002, 5003):
        # SAT refused these criteria (5002: their limit; 5003: too many CFDIs): other dates are
        # new criteria, and the plan the user saw asks for them.
        # Not when they ask again for days its folder already holds (`replanned`).
        return replanned(state, start, end), None
    own = own_done_covers(state, start, end)
    if state.stage in (Stage.PLANNED, Stage.REFUSED) and own is not None:
        # The plan asks only for days this journal's own request already downloaded here (a
        # refusal's sub-range hint after a resend --force, newcomer 9i F0): nothing is sent.
        return _own_done_again(state, own), None
    if state.stage in (Stage.PLANNED, Stage.REFUSED):
        # Nothing billed for the recorded dates (never sent, or refused), or a resend the user
        # allowed: the request to come is the one the plan shows. Other dates are other
        # criteria: the requests it was held for are not identical to it (nor is an allowance
        # for them).
        # Those held for these dates are kept (`holds`), never dropped by a plan that sent
        # nothing: back to them, the month is held for them again (review 9m #2).
        records = recorded_holds(state)
        return _evolve(
            state,
            start=start,
            end=end,
            # A plan of other dates is not the user's resend: it ends that word (newcomer 9i
            # F0: resend, the whole month refused, then the sub-range its own part holds).
            resend_for=state.resend_for if state.resend_for == (start, end) else None,
            holds=records,
            held_for=tuple(h.id for h in records if (h.start, h.end) == (start, end)),
            identical_allowed=False,
        ), None
    # --force: a done or empty month needs it (`journal resend` refuses it otherwise).
    resend = f"`gigstack-async journal resend {state.key} --force` asks for the plan's dates"
    try:
        transition(state, AllowResend())
    except TransitionError:
        resend = f"once it has finished, {resend}"
    own = state.own_part if state.stage in (Stage.DONE, Stage.EMPTY) else None
    held = [(state.start, state.end)] + ([] if own is None else [(own.start, own.end)])
    gaps = uncovered(start, end, held)
    refused = _server_refused_way(state, gaps)
    if refused is not None:
        return (
            None,
            f"MISSING DAYS: requested earlier for {state.start}..{state.end} only; {refused}",
        )
    if gaps:
        return None, (
            f"MISSING DAYS: requested earlier for {state.start}..{state.end} only; the plan "
            f"says {start}..{end}, and the other days' CFDIs were not "
            f"requested. {resend} (a new request, possibly billed)"
        )
    if own is not None and (start < state.start or end > state.end):
        # The other days are its own part's, in the same folder (review 9i #6: MISSING DAYS
        # and a `--force` that `journal resend` then refused).
        return None, (
            f"the plan's {start}..{end} are all in the month's folder: requested earlier for "
            f"{state.start}..{state.end}, and {own.start}..{own.end} by an earlier request "
            f"({len(own.files)} file(s)); nothing was sent"
        )
    return None, (
        f"requested earlier for {state.start}..{state.end}; kept (the plan now says "
        f"{start}..{end}: {resend}, possibly billed)"
    )


def _server_refused_way(state: MonthState, gaps: Sequence[tuple[date, date]]) -> str | None:
    """The way to a month's missing days `gaps` when the server itself refused them (`_refused`
    recorded it): never a resend (it would be refused again, and its refusal's sub-range hint
    led to the same dates billed twice: newcomer 9i F0, F0b). None: not all refused so."""
    if not gaps:
        return None
    days = _days(gaps)
    future, oldest = state.server_future, state.server_oldest
    if oldest is not None and all(b < oldest for _, b in gaps):
        later = _next_month(state.start).strftime("%Y-%m")
        try:
            transition(state, CutOutsideWindow())
        except TransitionError:
            accept = (
                "accept it as it is (nothing to send or bill): once the month is done for "
                f"every day from {oldest}, `gigstack-async journal keep {state.key} "
                "--outside-window` records that they are gone"
            )
        else:  # newcomer 9j F1c: "accept it" had no command, and the month was never ok
            accept = (
                f"record that they are gone: `gigstack-async journal keep {state.key} "
                "--outside-window` (nothing is sent or billed; runs of the whole month then "
                "end ok and say the days cut)"
            )
        return (
            f"the server refused {days} as outside its 71-month window (it starts at "
            f"{oldest}): those days can no longer be downloaded. End the month with `--from "
            f"{later}` in the same command, or {accept}"
        )
    if future is not None and all(a >= future for a, _ in gaps):
        return (
            f"the server refused {days} as future days (its date is behind this computer's): "
            "run the same command again after the server's midnight (Mexico City), tomorrow; "
            "the month's folder keeps what it has. Then download those days into their own "
            f"--out folder ({part_commands(state, gaps)[0]}) and `gigstack-async journal split "
            f"{state.key} {' '.join(part_commands(state, gaps)[1])}` (a new request, possibly "
            "billed; never the days already here)"
        )
    return None


def _month_bounds(state: MonthState) -> tuple[date, date]:
    """The first and last day of month `state`'s calendar month (its key)."""
    year, month = (int(part) for part in state.key.split("-"))
    return date(year, month, 1), _next_month(date(year, month, 1)) - timedelta(days=1)


def _cut_outside_window(state: MonthState) -> MonthState:
    """`CutOutsideWindow`: month `state` done (or empty) for the days of its month still in the
    server's 71-month window, with the days before it accepted as gone (`window_cut`). A month
    refused after a resend whose own part holds those days is done with them again (as the
    plan of those days makes it, `_own_done_again`). Refused (TransitionError) when the server
    never refused the month as outside its window, when no day before the window's start is
    missing, or when days within the window are missing too (they can still be downloaded)."""
    oldest = state.server_oldest
    first, last = _month_bounds(state)
    if oldest is None and state.window_refused is not None:
        raise TransitionError(
            f"{state.key} is not recorded, nothing changed: the server refused "
            f"{state.window_refused} as outside its 71-month window without naming the "
            "window's first day, so nothing shows that every day the month misses is outside "
            "it (some may still be downloadable)"
        )
    if oldest is None:
        raise TransitionError(
            f"{state.key} is not recorded, nothing changed: the server never refused its days "
            "as outside its 71-month window (this journal holds no such refusal for it), so "
            "the days it misses may still be downloadable"
        )
    own = own_done_covers(state, min(oldest, last), last) if oldest <= last else None
    shown = state
    if state.stage is Stage.REFUSED and own is not None:
        shown = _own_done_again(state, own)
    if shown.stage not in (Stage.DONE, Stage.EMPTY):
        raise TransitionError(
            f"{state.key} is not recorded, nothing changed: it is {state.stage.value}, not "
            "done: download the days still in the server's window first (its refusal's "
            "hint says how, `gigstack-async journal show`)"
        )
    held = held_here(shown, first, last)
    gone = uncovered(first, min(oldest - timedelta(days=1), last), held)
    if not gone:
        raise TransitionError(
            f"{state.key} is not recorded, nothing changed: no day of it before {oldest} (the "
            "first day of the server's 71-month window, as its refusal said) is missing here: "
            "nothing to accept"
        )
    inside = uncovered(max(first, oldest), shown.start - timedelta(days=1), held)
    if inside:
        raise TransitionError(
            f"{state.key} is not recorded, nothing changed: {_days(inside)} are missing too, "
            f"and the server's window starts at {oldest}: those days can still be downloaded "
            f"(`gigstack-async journal show {state.key}` says how)"
        )
    return _evolve(shown, window_cut=oldest)


def cut_days(state: MonthState, start: date | None = None) -> tuple[date, date] | None:
    """The days of month `state` from `start` (default: its month's first day) that it is
    complete without, accepted as outside the server's 71-month window (`window_cut`); None:
    none, or the month is not ok."""
    if state.window_cut is None or not state.ok:
        return None
    first = _month_bounds(state)[0] if start is None else start
    if first >= state.window_cut:
        return None
    return first, state.window_cut - timedelta(days=1)


def window_cut_holds(state: MonthState, start: date, end: date) -> MonthState | None:
    """Month `state`, done for the days still in the server's window with the days before it
    accepted as gone (`window_cut`), as a run of a plan asking for `start..end` reports it: done
    for the plan's dates, its files and count, nothing sent (newcomer 9j F1c: MISSING DAYS, not
    ok, on every run). None unless every day of the plan's its folder lacks is before the cut."""
    cut = state.window_cut
    if cut is None or state.stage not in (Stage.DONE, Stage.EMPTY):
        return None
    held = held_here(state, start, end)
    gaps = uncovered(start, end, held)
    if not gaps or any(b >= cut for _, b in gaps):
        return None
    own = own_part_of(state, start, end)
    if own is not None and own.missing:
        return None
    if own is not None and (own.start, own.end) == (state.start, state.end):
        own = None  # done with its own part's days (`_own_done_again`): counted already
    return _evolve(
        state,
        start=start,
        end=end,
        extracted=state.extracted if own is None else _with_own_part(state, own),
        invoice_count=state.invoice_count
        if own is None
        else _total(state.invoice_count, own.invoice_count),
    )


def _untyped_empty(state: MonthState, what: str, resume_to: Stage) -> MonthState:
    kind = f"{state.rfc_type} {state.request_type} request for {state.start}..{state.end}"
    return _attention(
        state,
        f"request {state.request_id} reports {what}, but this run could not confirm it is the "
        f"month's {kind} (the history does not show its requestType, or not at all, and "
        "request ids may restart): a month is never reported empty on a guess",
        f"open request {state.request_id} in gigstack's dashboard: if it is the {kind}, "
        f"`gigstack-async journal adopt {state.key} {state.request_id}` and run the same "
        f"command again; if not, `gigstack-async journal resend {state.key}` (a new request "
        "may be billed)",
        resume_to=resume_to,
    )


def _expired(state: MonthState, reason: str) -> Result:
    gone = state.expired if state.request_id is None else _add(state.expired, state.request_id)
    return _evolve(
        state,
        stage=Stage.EXPIRED,
        expired=gone,
        reason=reason,
        hint="SAT keeps packages 72 h; request the month again with `gigstack-async journal "
        f"resend {state.key}` (a new request may be billed)",
    ), ()


def _with_unknown_counts(state: MonthState) -> MonthState:
    """`state` with each package of an `uncounted` request that has no count yet counted as
    SAT's two downloads, both unsure: they may have been spent by a run this journal did not
    record, so the next GET needs the user's `journal retry-download`. A `foreign` request's
    (made outside the journal) counts one, unsure: one GET by itself, then the same."""
    if state.request_id in state.uncounted:
        assumed = DOWNLOAD_BUDGET
    elif state.request_id in state.foreign:
        assumed = DOWNLOAD_BUDGET - 1
    else:
        return state
    if not state.package_ids:
        return state
    fresh = [p for p in state.package_ids if p not in {pid for pid, _ in state.downloads}]
    if not fresh:
        return state
    downloads, unsure = state.downloads, _unsure_now(state)
    for package_id in fresh:
        downloads = _count(downloads, package_id, assumed)
        unsure = _count(unsure, package_id, assumed)
    return _evolve(state, downloads=downloads, unsure=unsure)


def _next_package(state: MonthState) -> Result:
    if state.stage is not Stage.COMPLETED or not state.want_files:
        return state, ()
    if not state.checked and not state.refill:
        # An unchecked request's packages may be another request's CFDIs; a refill's are the
        # journal's own package ids, extracted for this month before.
        return state, ()
    state = _with_unknown_counts(state)
    ids = state.package_ids
    if not ids:
        if state.invoice_count == 0:
            if not state.typed:
                return _untyped_empty(state, "no CFDIs", Stage.COMPLETED), ()
            return _evolve(state, stage=Stage.EMPTY, reason="SAT found no CFDIs"), ()
        if not state.status_asked and state.request_id is not None:
            return _evolve(state, status_asked=True), (FetchStatus(state.request_id),)
        count = "an unknown number of" if state.invoice_count is None else state.invoice_count
        return _attention(
            state,
            f"SAT completed the request with {count} CFDIs but the server gave no package ids",
            "run the same command again later; if it persists, contact gigstack support with "
            f"request {state.request_id} for its package ids, then `gigstack-async downloads "
            f"package <package id> --out {OUT}/{state.key}` fetches each into the month's "
            "folder (one of SAT's 2 downloads of it; the journal does not record it)"
            # Newcomer 9i F2: the way out after that was never printed.
            + (
                f"; once that folder holds all {count} CFDIs, `gigstack-async journal keep "
                f"{state.key}` checks them against SAT's count and records the month done "
                "(nothing is sent)"
                if state.invoice_count is not None
                else ""
            )
            + (
                ". If gigstack's dashboard (Descarga Masiva) or support says the request found "
                f"no CFDIs, `gigstack-async journal keep {state.key} --empty` records the month "
                "empty (nothing is sent)"
                if state.invoice_count is None
                else ""
            ),
            resume_to=Stage.COMPLETED,
        ), ()
    pending = state.pending_packages
    if _on_disk_already(state) and dates_unchecked(state) and not state.status_asked:
        # Its status may carry its dates (`_status` records them): asked once per run.
        assert state.request_id is not None
        return _evolve(state, status_asked=True), (FetchStatus(state.request_id),)
    if _on_disk_already(state) and dates_unchecked(state):
        return _attention(
            state,
            f"the month's folder already holds {state.cfdis_on_disk} distinct CFDI(s), at least "
            f"the {state.invoice_count} SAT reports for request {state.request_id}: nothing was "
            f"downloaded; but {_unchecked_dates_note(state)}",
            f"`gigstack-async journal keep {state.key}` checks the request's dates from the "
            "files themselves (their CFDIs' issue dates, their kind and number) and records the "
            "month with them if they prove it (nothing is sent or downloaded); if they cannot, "
            "it says how to record them once you have checked the dates in gigstack's dashboard "
            "(Descarga Masiva). A run that finds the request in the account's history checks "
            "its dates itself",
            resume_to=Stage.COMPLETED,
        ), ()
    if _on_disk_already(state):
        # Newcomer 9e #1 checked (review 9i #3): downloading would spend a SAT download of each
        # package to extract CFDIs already on disk; `journal keep` checks them against the count.
        return _attention(
            state,
            f"the month's folder already holds {state.cfdis_on_disk} distinct CFDI(s), at least "
            f"the {state.invoice_count} SAT reports for request {state.request_id}: nothing was "
            f"downloaded (that would spend one of SAT's {DOWNLOAD_BUDGET} downloads of each of "
            "its packages to extract them again)",
            f"`gigstack-async journal keep {state.key}` records the month done with them (it "
            "checks them first: their number and their content; nothing is sent); if it refuses "
            f"them, it says the way on",
            resume_to=Stage.COMPLETED,
        ), ()
    if not pending:
        if state.staged:
            return _evolve(state, stage=Stage.STAGED), _extract_commands(state)
        return _evolve(
            state, stage=Stage.DONE, reason="every package extracted", refill=False, lost_files=()
        ), ()
    package_id = pending[0]
    if package_id in state.failed_this_run:
        return state, ()
    used = state.downloads_of(package_id)
    if used >= state.allowed_of(package_id):
        # The last download may have been staged by a run killed before the journal heard:
        # look on disk before refusing (the answer is `PackageStaged` or `StagedMissing`).
        return state, (FindStaged(package_id),)
    # Counted only by `PackageSending`, right before the GET leaves: a run killed while the
    # download waits for a free slot has not spent anything.
    return state, (FetchPackage(package_id, used + 1),)


def _on_disk_already(state: MonthState) -> bool:
    """The user adopted the month's request (`journal adopt`) into a folder that already holds
    at least as many distinct CFDIs as SAT reports for it, none of them extracted by this
    record and no staged copy of the month on disk (that one is extracted for free)."""
    count = state.invoice_count
    return (
        not state.refill
        and state.request_id is not None
        and state.request_id == state.confirmed_id
        and not state.extracted
        and not state.staged
        and state.own_part is None
        and state.staged_copies == 0
        and earlier_files(state) > 0
        and count is not None
        and count > 0
        and state.cfdis_on_disk >= count
    )


def _sending(state: MonthState, obs: PackageSending) -> Result:
    used = state.downloads_of(obs.package_id)
    if state.stage is not Stage.COMPLETED or used >= state.allowed_of(obs.package_id):
        return state, ()  # the engine sees no new count and does not send
    # Unsure until its outcome shows it reached SAT (a run killed now never hears).
    return _evolve(
        state,
        downloads=_count(state.downloads, obs.package_id, +1),
        unsure=_count(_unsure_now(state), obs.package_id, +1),
    ), ()


def _unsure_now(state: MonthState) -> tuple[tuple[str, int], ...]:
    """`state.unsure` capped at each package's count (an older journal lists none)."""
    return tuple((pid, state.unsure_of(pid)) for pid, _ in state.unsure)


def _surely_reached(state: MonthState, package_id: str) -> MonthState:
    """One of the package's unsure downloads is known to have reached SAT."""
    if not state.unsure_of(package_id):
        return state
    return _evolve(state, unsure=_count(_unsure_now(state), package_id, -1))


def _count(
    downloads: tuple[tuple[str, int], ...], package_id: str, delta: int
) -> tuple[tuple[str, int], ...]:
    """`downloads` with `package_id`'s count moved by `delta`: one entry per package."""
    counts: dict[str, int] = {}
    for pid, n in downloads:
        counts[pid] = max(counts.get(pid, 0), n)  # older journals may hold duplicate entries
    counts[package_id] = max(0, counts.get(package_id, 0) + delta)
    return tuple(counts.items())


def _staged(state: MonthState, obs: PackageStaged) -> Result:
    if state.stage is not Stage.COMPLETED:
        return state, ()
    staged = (*[s for s in state.staged if s.package_id != obs.file.package_id], obs.file)
    state = _evolve(_surely_reached(state, obs.file.package_id), staged=staged)
    if state.pending_packages:
        return _next_package(state)
    return _evolve(state, stage=Stage.STAGED), _extract_commands(state)


def _staged_missing(state: MonthState, obs: StagedMissing) -> Result:
    used = state.downloads_of(obs.package_id)
    if state.stage is not Stage.COMPLETED or used < state.allowed_of(obs.package_id):
        return state, ()
    if _may_have_one_left(state, obs.package_id):
        return _blocked(
            state,
            obs.package_id,
            f"package {obs.package_id}: {counted_downloads(state, obs.package_id)}, and no "
            "complete copy is staged on disk; SAT serves a package at most twice, so no more "
            "download is sent without your word",
        ), ()
    return _attention(
        state,
        f"package {obs.package_id} was already downloaded {used} times and no complete copy is "
        "staged on disk; SAT serves a package at most twice, so a third download was not sent",
        _spent_hint(
            state,
            f"request the month again with `gigstack-async journal resend {state.key}` "
            "(a new request may be billed)",
        ),
    ), ()


def _staged_lost(state: MonthState, obs: StagedLost) -> Result:
    lost = [s for s in state.staged if s.package_id == obs.package_id]
    if state.stage is not Stage.STAGED or not lost:
        return state, ()
    # Back to `completed` without it: a download left is spent on it; with none left,
    # `FindStaged` looks once more and the month needs attention (`_staged_missing`).
    state = _evolve(
        state,
        stage=Stage.COMPLETED,
        staged=tuple(s for s in state.staged if s.package_id != obs.package_id),
        reason=f"the staged copy of package {obs.package_id} is unusable: {obs.message}",
    )
    new, commands = _next_package(state)
    return new, (DeleteStaged(lost[0].path), *commands)


def may_need_staged(state: MonthState, package_id: str) -> bool:
    """Whether a staged copy of `package_id` under the month's name may still be the month's
    (a run keeps it; `False`: an orphan it may delete). Kept: a recorded staged file, a package
    of the month's request not extracted yet, and any package of a month not finished whose
    request's packages are unknown (`package_ids` None): a month rebuilt by `journal repair`,
    held without a record, or adopted and not asked yet. Its ZIP may be the only copy of the
    package, whose next GET would spend SAT's second download (review 9i #2). Not kept for a
    month that is to send a new create (planned, submitting, refused): its packages will be a
    new request's."""
    if any(s.package_id == package_id for s in state.staged):
        return True
    if state.package_ids is None:
        # Not once finished, nor for a new create (planned, submitting: a resend gave up the
        # request whose package it was).
        return state.stage not in (
            Stage.DONE,
            Stage.EMPTY,
            Stage.SPLIT,
            Stage.PLANNED,
            Stage.SUBMITTING,
            Stage.REFUSED,
        )
    done = {p.package_id for p in state.extracted}
    return package_id in state.package_ids and package_id not in done


def _extract_commands(state: MonthState) -> tuple[Command, ...]:
    # One at a time: extractions into the same folder clear each other's temp files.
    return tuple(ExtractPackage(s.package_id, s.path) for s in state.staged[:1])


def _package_failed(state: MonthState, obs: PackageFailed) -> Result:
    if state.stage is not Stage.COMPLETED:
        return state, ()
    if not obs.sent and obs.code not in (5007, 5008):
        # The GET never left (see PackageFailed.sent): give the download back and try again,
        # a few times per run.
        state = _evolve(
            state,
            downloads=_count(state.downloads, obs.package_id, -1),
            unsure=_count(_unsure_now(state), obs.package_id, -1)
            if state.unsure_of(obs.package_id)
            else state.unsure,
        )
        if state.free_failures < FREE_RETRIES_PER_RUN:
            return _next_package(_evolve(state, free_failures=state.free_failures + 1))
    elif obs.code == 5008:
        # SAT says the package's downloads are spent: none of them is unsure any more.
        state = _evolve(state, unsure=tuple((p, n) for p, n in state.unsure if p != obs.package_id))
    elif obs.reached or obs.code == 5007:
        state = _surely_reached(state, obs.package_id)
    if obs.code == 5007:
        return _expired(state, f"SAT 5007: package {obs.package_id} no longer exists")
    if obs.code == 5008:
        foreign = state.request_id in state.foreign
        elsewhere = (
            # r2 N2: SAT's 5008 says the request taken for a lost create was not it after all.
            f" (request {state.request_id} was taken for this month's create, whose answer was "
            "lost, but SAT says it was downloaded twice, so it was made elsewhere after all "
            "(another folder, another machine or gigstack's dashboard): there it was "
            "downloaded twice, and its files may be in that folder)"
            if foreign and _lost_creates_own(state)
            else f" ({_made_outside(state)}: there it was downloaded twice, and its files may "
            "be in that folder)"
            if foreign
            else ""
        )
        refused = (
            f"SAT 5008: package {obs.package_id} was already downloaded the maximum times"
            + elsewhere
        )
        if state.refill:
            return _refill_refused(state, refused), ()
        # Newcomer 10 F2 (c): where the files may be, before the paid resend.
        copy = (
            "copy the month's files from the folder where request "
            f"{state.request_id} was made (another folder or machine), if it still holds them, "
            f"into {OUT}/{state.key}/, then `gigstack-async journal keep {state.key}` records "
            "them (it checks them first; nothing is sent). Only if they are not there, "
            if foreign
            else ""
        )
        return _attention(
            state,
            refused,
            _spent_hint(
                state,
                f"{copy}request the month again with `gigstack-async journal resend "
                f"{state.key}` (a new request may be billed)",
            ),
        ), ()
    left = state.allowed_of(obs.package_id) - state.downloads_of(obs.package_id)
    if left <= 0 and _may_have_one_left(state, obs.package_id):
        return _blocked(
            _evolve(state, failed_this_run=_add(state.failed_this_run, obs.package_id)),
            obs.package_id,
            f"downloading package {obs.package_id} failed: {obs.message}; "
            f"{counted_downloads(state, obs.package_id)}",
        ), ()
    if (
        obs.rate_limited
        and obs.sent
        and left > 0
        and obs.code is None
        and state.free_failures < FREE_RETRIES_PER_RUN
    ):
        # A 429 asks for "not now": the next GET (after its Retry-After) is still within
        # SAT's two, so it goes in this run; the 429 stays counted, unsure.
        return _next_package(_evolve(state, free_failures=state.free_failures + 1))
    # "At least": a download whose outcome is unknown may have left SAT's budget untouched.
    at_least = "at least " if state.unsure_of(obs.package_id) else ""
    hint = (
        f"run the same command again to download it once more ({at_least}{left} of "
        f"{DOWNLOAD_BUDGET} SAT downloads left)"
        if left > 0
        else _spent_hint(
            state,
            f"no SAT download left: `gigstack-async journal resend {state.key}` requests the "
            "month again (a new request may be billed)",
        )
    )
    return _attention(
        _evolve(state, failed_this_run=_add(state.failed_this_run, obs.package_id)),
        f"downloading package {obs.package_id} failed: {obs.message}",
        hint,
        resume_to=Stage.COMPLETED if left > 0 else None,
    ), ()


def _refill_refused(state: MonthState, refused: str) -> MonthState:
    """A refill (`journal retry-download` of a month MISSING FILES) that SAT refused, `refused`
    saying how (5008: served twice): the month is MISSING FILES again, its extraction records
    back (`refill_set_aside`), so a run that finds the files back in its folder reports it done,
    sending nothing (newcomer 10 F2: it stayed needs-attention after the files were put back,
    and its hint read as if the journal had lost the month's record)."""
    back = {e.package_id for e in state.extracted}
    restored = _evolve(
        state,
        extracted=(
            *state.extracted,
            *(e for e in state.refill_set_aside if e.package_id not in back),
        ),
        refill=False,
        refill_set_aside=(),
        blocked_package=None,
        failed_this_run=(),
    )
    missing = _files_missing(restored, restored.lost_files)
    source = (
        f"; copy them from the folder where request {state.request_id} was made if it "
        "still holds them"
        if state.request_id in state.foreign
        else ""
    )
    return _evolve(
        missing,
        # MISSING FILES first, as every such reason (`engine.next_step` reads it so).
        reason=f"{missing.reason}; the download allowed for them was refused: {refused}",
        hint="put them back (from a backup) and run the same command again: it checks the "
        f"folder again and reports the month done once they are all there (nothing is sent or "
        f"downloaded){source}. Only if they are gone, `gigstack-async journal resend "
        f"{state.key}` requests the month again (a new request, possibly billed; SAT accepts "
        "two identical requests, ever)",
    )


def _blocked(state: MonthState, package_id: str, reason: str) -> MonthState:
    """Needs attention at `package_id`: its count is full, not surely spent (see AllowDownload)."""
    stopped = _attention(state, reason, _retry_hint(state, package_id))
    return _evolve(stopped, blocked_package=package_id)


def _may_have_one_left(state: MonthState, package_id: str) -> bool:
    """For a package whose count is full (at least SAT's two): fewer than two of them surely
    reached SAT, so at least one is unsure."""
    return state.sure_of(package_id) < DOWNLOAD_BUDGET


_MADE_OUTSIDE = (
    "request {request_id} was made outside this journal (by another folder, another machine or "
    "gigstack's dashboard), which may already have downloaded its packages: how many of SAT's "
    "2 downloads it spent is unknown"
)


_NOT_PROVEN_OWN = (
    "request {request_id} is not proven to be this month's own create (adopted after a create "
    "whose answer was lost): it may have been made outside this journal (by another folder, "
    "another machine or gigstack's dashboard), which may already have downloaded its "
    "packages: how many of SAT's 2 downloads were spent is unknown"
)


_LOST_CREATES_OWN = (
    "the create's answer was lost; request {request_id}, the history's one matching request, "
    "made after it was sent, is very likely it; to be safe one of SAT's 2 downloads of its "
    "package is counted as spent elsewhere"
)
"""r2 N2: a single-folder user's own create, its answer lost and its request taken from the
history, read "it may have been made outside this journal (by another folder, …)"."""


def _lost_creates_own(state: MonthState) -> bool:
    """Whether the month's request is the one taken from the history for its own create whose
    answer was lost (`MonthState.from_history`): very likely that create."""
    return state.request_id in state.unproven and state.request_id in state.from_history


def _made_outside(state: MonthState) -> str:
    """Where the month's `foreign` request may have been made, as its texts say it."""
    if _lost_creates_own(state):
        text = _LOST_CREATES_OWN
    else:
        text = _NOT_PROVEN_OWN if state.request_id in state.unproven else _MADE_OUTSIDE
    return text.format(request_id=state.request_id)


def _assumed_elsewhere(state: MonthState) -> str:
    """Why one of SAT's 2 downloads of the month's `foreign` request's packages counts as spent
    elsewhere: the reason the budget texts give (r2 N2: not "a counted download may not have
    reached SAT" after a clean 200)."""
    if _lost_creates_own(state):
        return (
            f"request {state.request_id}, taken for the create whose answer was lost, is very "
            "likely that create, so it probably was not"
        )
    if state.request_id in state.unproven:
        return (
            f"request {state.request_id}, adopted after a create whose answer was lost, may "
            "have been made outside this journal, which may already have downloaded its packages"
        )
    return (
        f"request {state.request_id} was made outside this journal, which may already have "
        "downloaded its packages"
    )


def counted_downloads(state: MonthState, package_id: str) -> str:
    """ "2 downloads counted, 1 of them may not have reached SAT (…)": the package's count as
    `journal show` and `journal retry-download` say it; for a request this journal never
    counted (`MonthState.uncounted`), "both of SAT's downloads assumed spent: …" and the free
    command that checks it."""
    used, unsure = state.downloads_of(package_id), state.unsure_of(package_id)
    extra = used - DOWNLOAD_BUDGET
    if state.request_id in state.uncounted:
        # Not "2 counted, 2 may not have reached SAT": this journal sent none of them (newcomer
        # 9e #6). It just cannot know, and the way to know costs nothing.
        if extra > 0:
            # Newcomer 9j F6: not "checks it for free" again once that check told nothing.
            return (
                f"both of SAT's downloads assumed spent, and {extra} more sent after `journal "
                "retry-download`: this journal did not count the request's downloads (the "
                "month's record was lost or rebuilt, or the request was made elsewhere and "
                "adopted), and no byte of the package arrived since (an error, a lost answer or "
                "a stopped run, which may come before SAT serves a package or after it), so "
                "whether SAT already served it twice is still unknown"
            )
        return (
            "both of SAT's downloads assumed spent: this journal did not count the "
            "request's downloads (the month's record was lost or rebuilt, or the request was "
            "made elsewhere and adopted: into a new journal, or a held month), so it cannot tell "
            "how many SAT served; `gigstack-async "
            f"journal retry-download {state.key}` checks it for free (one more download: if SAT "
            "already served the package twice it answers 5008, which bills nothing)"
        )
    if state.request_id in state.foreign and extra <= 0:
        # Review 9u #3: not "1 counted, 1 may not have reached SAT": it was never sent here.
        ours = max(0, used - (DOWNLOAD_BUDGET - 1))
        # Newcomer 10 F2 (a): only while the package is still to get; not once that GET
        # brought it (extracted, staged, or downloaded again for files gone missing since).
        brought = (
            package_id not in state.pending_packages
            or state.refill
            or any(e.package_id == package_id for e in state.refill_set_aside)
        )
        said = (
            # r2 N2: the counting is said once (was "one ... assumed spent ...: request X is
            # not proven ... how many of SAT's 2 downloads were spent is unknown").
            f"{_made_outside(state)}, and {ours} sent here"
            if _lost_creates_own(state)
            else f"one of SAT's {DOWNLOAD_BUDGET} downloads assumed spent and {ours} sent here: "
            f"{_made_outside(state)}"
        )
        return (
            f"{said}, so this journal sends at most one GET of each of its packages by itself"
            + (
                "; that GET brought no complete package, so SAT may already have served it twice"
                if ours and not brought
                else ""
            )
        )
    if extra > 0:
        # Newcomer 9j F6: "3 downloads counted, 3 of them may not have reached SAT" read as if
        # none had, after the user's extra GET failed too. An error without a byte of the
        # package (a gateway's 5xx, a dropped answer) also comes after SAT served it.
        sure = used - unsure
        confirmed = "none surely reached SAT" if sure == 0 else f"{sure} surely reached SAT"
        return (
            f"{used} downloads counted ({extra} more than SAT's {DOWNLOAD_BUDGET}, allowed with "
            f"`journal retry-download`), {confirmed}: for {unsure} no byte of the package "
            "arrived (an error, a lost answer or a stopped run), which may come before SAT "
            "serves a package or after it, so SAT may already have served it twice"
        )
    return (
        f"{used} download{'s' if used != 1 else ''} counted, {unsure} of them may not have "
        "reached SAT (no byte of the package arrived: an error, a lost answer or a stopped run)"
    )


def earlier_files(state: MonthState) -> int:
    """Files in the month's folder that this record of the month did not extract (an earlier
    record of it did, before the journal lost it): 0 when there are none."""
    own = 0 if state.own_part is None or state.stage is Stage.SPLIT else len(state.own_part.files)
    return max(0, state.on_disk - len(state.files) - own)


def files_notice(state: MonthState) -> str:
    """What a hint says first when the month's folder already holds files it did not extract
    in this record: they may be every CFDI of the month, so a billed resend may not be needed.
    Empty when there are none.

    `journal keep` is offered only as the checked command (never with --force: the user's
    comparison is no check, review 9i #3), and only when SAT's count is known to check it
    against; never when an earlier record staged the month's package and did not finish
    extracting it (`unextracted`, `staged_copies`: the folder may hold part of it, and a staged
    copy is extracted again for free, review 9i #4). Without SAT's count, the way to a checked
    keep is `journal adopt`: its run asks the request's status first (free) and stops with
    `journal keep` when the folder already holds that many CFDIs (`_on_disk_already`)."""
    found = earlier_files(state)
    if not found:
        return ""
    key = state.key
    held = (
        # Newcomer 10 F2 (b): a refill's files were set aside, not lost with a record.
        f"the month's folder still holds {found} file(s) extracted for it before "
        f"{len(state.lost_files)} went missing (MISSING FILES"
        if state.refill
        else f"the month's folder already holds {found} file(s) extracted by an earlier run "
        "(before this journal lost the month's record"
    )
    if state.unextracted or state.staged_copies:
        copy = (
            "; its staged copy is still on disk and is extracted again without downloading"
            if state.staged_copies
            else ""
        )
        return (
            f"{held}), but that run staged the month's package and never recorded it extracted"
            f"{copy}: they may be only part of its CFDIs, so do not keep them; "
        )
    count = state.invoice_count
    if count is not None and 0 < state.cfdis_on_disk < count:
        # Newcomer 9h #11: "if they are all there, keep" with 53 of 56, and keep refused. (0:
        # not counted, e.g. a record rebuilt without a run: the files may all be there.)
        gone = count - state.cfdis_on_disk
        return (
            f"{held}; {count_source(state)}, and it holds {state.cfdis_on_disk} distinct of "
            f"them: {gone} {'is' if gone == 1 else 'are'} missing or damaged, so `gigstack-async "
            f"journal keep {key}` refuses them until {'it is' if gone == 1 else 'they are'} "
            "back). "
        )
    if count is not None:
        return (
            f"{held}; {count_source(state)}): if they are "
            f"all there, `gigstack-async journal keep {key}` records the month done with them "
            "(it checks them against that count first; nothing is sent). Only if some are "
            "missing, "
        )
    if state.request_id is None:
        return (
            f"{held}; SAT's count of its CFDIs is unknown here, so nothing can check them yet): "
            "adopting its request may download its packages again (each download spends one of "
            "SAT's 2): the next run asks the request's status first (free) and, only if SAT "
            "reports a count and the folder holds at least that many CFDIs, stops and offers the "
            "checked `journal keep` instead. First, "
        )
    return (
        f"{held}; SAT reported no count for request {state.request_id}, so nothing can check "
        "them): compare them with the request in gigstack's dashboard (Descarga Masiva); "
        f"`gigstack-async journal keep {key}` says what it cannot check. Only if some are "
        "missing, "
    )


def count_source(state: MonthState, unit: str = "CFDIs") -> str:
    """The month's count (`invoice_count`, known) with where it comes from, as texts name it:
    SAT's report for its request, the total of its split parts, or, with no request recorded
    (a record rebuilt from its log), the count its log kept, which no request is named for
    (review 9j #3: "SAT reported 34 CFDIs for request None", and a request SAT refused with
    5003 named for its parts' total)."""
    count = state.invoice_count
    if state.stage is Stage.SPLIT:
        return f"SAT's counts of the month's split parts add up to {count} {unit}"
    if state.request_id is None:
        return (
            f"the journal's log last recorded {count} {unit} for {state.key} (SAT's count for "
            "the month, or the total of its split parts; no request of it is recorded now, so "
            "it is not one request's count)"
        )
    return f"SAT reported {count} {unit} for request {state.request_id}"


def _spent_hint(state: MonthState, resend: str) -> str:
    """`resend` (the way to a billed resend), after the folder's files when it holds some."""
    return _after_notice(files_notice(state), resend)


def _after_notice(notice: str, text: str) -> str:
    """`text` after `files_notice`'s `notice`: a new sentence when the notice ends one
    (newcomer 10 F2: "...would refuse them). request the month again")."""
    if notice.endswith(". "):
        return notice + text[:1].upper() + text[1:]
    return notice + text


def _retry_hint(state: MonthState, package_id: str) -> str:
    third = third_identical(state)
    if third is not None:
        # Newcomer r2 N5: the account has SAT's 2 identical requests, so a resend would be
        # refused (5002): never offered, the free retry first, then other dates in parts.
        after = f"if that fails, no resend: {third}"
        if state.downloads_of(package_id) > DOWNLOAD_BUDGET:
            head = (
                f"one more download of package {package_id} bills nothing but may be SAT's "
                "third, which SAT refuses with 5008: `gigstack-async journal retry-download "
                f"{state.key}` allows it (then run the same command again); "
            )
        else:
            head = (
                f"SAT may serve package {package_id} once more: first `gigstack-async journal "
                f"retry-download {state.key}` (it allows one more download, then run the same "
                "command again; if SAT already served it twice it answers 5008, which bills "
                "nothing); "
            )
        return _after_notice(files_notice(state), head + after)
    if state.downloads_of(package_id) > DOWNLOAD_BUDGET:
        # Newcomer 9j F6: after the user's extra GET failed too, "SAT may serve it once more"
        # was offered again as if likely. Still free to try (the machine allows it), but each
        # further GET may be SAT's third, refused for good; then only a new request helps.
        return _after_notice(
            files_notice(state),
            f"one more download of package {package_id} bills nothing but may be SAT's third, "
            "which SAT refuses with 5008: `gigstack-async journal retry-download "
            f"{state.key}` allows it (then run the same command again); once SAT answers 5008, "
            "or to stop trying, the way on is a new request: `gigstack-async journal resend "
            f"{state.key}` requests the month again (it may be billed)",
        )
    return _after_notice(
        files_notice(state),
        f"SAT may serve package {package_id} once more: first `gigstack-async journal "
        f"retry-download {state.key}` (it allows one more download, then run the same command "
        "again; if SAT already served it twice it answers 5008, which bills nothing); only if "
        f"that fails, `gigstack-async journal resend {state.key}` requests the month again (a "
        "new request may be billed)",
    )


def _extracted(state: MonthState, obs: Extracted) -> Result:
    if state.stage is not Stage.STAGED:
        return state, ()
    staged = [s for s in state.staged if s.package_id == obs.package_id]
    if not staged:
        return state, ()
    extracted = (
        *[e for e in state.extracted if e.package_id != obs.package_id],
        ExtractedPackage(obs.package_id, obs.files, obs.stamps, obs.served_damaged),
    )
    rest = tuple(s for s in state.staged if s.package_id != obs.package_id)
    state = _evolve(state, extracted=extracted, staged=rest)
    commands: tuple[Command, ...] = (DeleteStaged(staged[0].path),)
    if rest:
        commands += _extract_commands(state)
    else:
        state = _evolve(
            state,
            stage=Stage.DONE,
            reason="every package extracted",
            hint=None,
            refill=False,
            lost_files=(),
        )
    return state, commands


def _content_rejected(state: MonthState, obs: ContentRejected) -> Result:
    if state.stage is not Stage.STAGED or not any(
        s.package_id == obs.package_id for s in state.staged
    ):
        return state, ()
    # Every package of that request is another request's: none is extracted or kept.
    reason = (
        f"package {obs.package_id} of request {state.request_id} does not hold this month's "
        f"CFDIs ({obs.found}), so request {state.request_id} is not the month's "
        f"{state.rfc_type} {state.request_type} request for {state.start}..{state.end} (the "
        "server's request ids may have restarted, or another request's id was adopted); "
        "nothing was extracted"
    )
    hint = (
        "find the month's request in gigstack's dashboard (Descarga Masiva, by its dates and "
        f"type) and `gigstack-async journal adopt {state.key} <request id>`; if it is not "
        f"there, `gigstack-async journal resend {state.key}` (a new request may be billed)"
    )
    if state.extracted:
        # Packages of the same request extracted before this one was checked passed their own
        # check, but the request is in doubt now: the user must know their files are there.
        earlier = ", ".join(p.package_id for p in state.extracted)
        reason += (
            f" from it, but the {len(state.files)} files of its package(s) {earlier}, "
            "extracted earlier, are in the month's folder"
        )
        hint = (
            f"check the files of package(s) {earlier} in the month's folder and remove those "
            f"that are not the month's; then {hint}"
        )
    # The request is released from this month: the month whose CFDIs it holds may adopt it
    # (no "gigstack-async" before `journal adopt`: `bulk.hints` would put this month in it).
    hint += (
        f". Request {state.request_id} is released from {state.key}: if its CFDIs are another "
        "month's of this journal, adopt it there (`journal adopt` with that month and "
        f"{state.request_id})"
    )
    return _evolve(
        _attention(state, reason, hint),
        staged=(),
        checked=False,
        confirmed_id=None,
        released=_release(state),
    ), (
        *(DeleteStaged(s.path) for s in state.staged),
        Warn(f"{state.key}: {reason}"),
    )


def _poll_failed(state: MonthState, obs: PollFailed) -> Result:
    if state.stage not in _WAITING:
        return state, ()
    failures = state.poll_failures + 1
    state = _evolve(state, poll_failures=failures)
    if state.stage is Stage.COMPLETED and state.status_asked and state.request_id is not None:
        # The status call a completed month without package ids depends on failed: ask again
        # (the engine backs off by `poll_failures`), a few times per run.
        if failures < STATUS_TRIES:
            return state, (FetchStatus(state.request_id),)
        return _attention(
            state,
            f"SAT completed the request but asking its status failed {failures} times "
            f"({obs.message})",
            "run the same command again later: the status is asked again",
            resume_to=Stage.COMPLETED,
        ), ()
    if obs.not_found and failures >= POLL_GIVE_UP:
        # The server keeps saying the request does not exist (a journal from another server,
        # or ids that restarted): waiting longer cannot help.
        return _attention(
            state,
            f"the server answered 'not found' for request {state.request_id} {failures} times "
            f"in a row ({obs.message})",
            f"if you find the month's request in gigstack's dashboard, `gigstack-async journal "
            f"adopt {state.key} <request id>`; else `gigstack-async journal resend {state.key}` "
            "(a new request may be billed)",
        ), (Warn(f"{state.key}: request {state.request_id} not found; the month needs attention"),)
    if failures == POLL_WARN_AFTER:
        return state, (
            Warn(
                f"{state.key}: polling request {state.request_id} failed {failures} times in a "
                f"row ({obs.message}); the other months go on"
            ),
        )
    return state, ()


# ------------------------------------------------------------------ user actions


def made_elsewhere(state: MonthState, journal_ids: Iterable[str], request_id: str) -> bool:
    """Whether `request_id`, adopted for `state`, may have been made outside this journal: the
    month never had it (a `held` month, a month new to the journal, or one whose create lost
    its answer), and no month of the journal knows the id (`journal_ids`: every month's
    `known_ids`; one another month released carries its counts along). Its package downloads
    were counted elsewhere, if at all (another folder's run, another tool): unknown, never
    zero, so the adopt is `Adopt.foreign`: one GET of each package, never retried, then the
    free `journal retry-download`, as for gigstack's duplicate answer or SAT 5005's active
    request naming such an id (`_taken`; review 9u #3). A month the journal had no record of
    is `Adopt.uncounted` instead (its own earlier record may have spent both).

    A month that sent a create and never had this id is no different (review 9w #7): the
    request adopted after a create lost its answer may be that create or another folder's,
    which may have spent both downloads; only an id the month had (its create's own answer,
    `known_ids`) is proven its own."""
    return request_id not in state.known_ids and request_id not in set(journal_ids)


def _owners(
    state: MonthState, journal_ids: Iterable[tuple[str, str]]
) -> dict[str, tuple[str, ...]]:
    """Request id -> the other months of the journal that have it and did not release it
    (`HistorySeen.journal_ids`, `Created.journal_ids`). One request is downloaded for one
    month: this month never takes one of them by itself (reviews 9u #2, 9v #1)."""
    owners: dict[str, tuple[str, ...]] = {}
    for key, request_id in journal_ids:
        if key != state.key:
            owners[request_id] = _add(owners.get(request_id, ()), key)
    return owners


def _carried(
    state: MonthState,
    spent: Sequence[tuple[str, int]],
    doubted: Sequence[tuple[str, int]],
) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    """`state`'s (downloads, unsure) counting too the SAT downloads other months spent on the
    packages of a request it now takes (`spent`, `doubted`: one entry per month that released
    it; `bulk.repair` joins their lists). The same package listed twice is the same SAT
    downloads, and the larger doubt holds."""
    downloads, unsure = state.downloads, state.unsure
    carried: dict[str, int] = {}
    carried_unsure: dict[str, int] = {}
    for package_id, count in spent:
        carried[package_id] = max(count, carried.get(package_id, count))
    for package_id, count in doubted:
        carried_unsure[package_id] = max(count, carried_unsure.get(package_id, count))
    for package_id, count in carried.items():
        # The larger count holds: SAT counts each package's downloads, whichever month asked.
        more = max(0, count - state.downloads_of(package_id))
        if more:
            downloads = _count(downloads, package_id, more)
            # As sure as they were where they were counted: never surer.
            doubt = min(more, carried_unsure.get(package_id, 0))
            if doubt:
                unsure = _count(unsure, package_id, doubt)
    return downloads, unsure


def _taking_released(
    state: MonthState, request_id: str, released: Sequence[ReleasedRequest]
) -> MonthState:
    """`state` counting the SAT downloads other months spent on `request_id`'s packages, when
    some month released it (`HistorySeen.released`, `Created.released`)."""
    spent = [c for r in released if r.id == request_id for c in r.downloads]
    doubted = [c for r in released if r.id == request_id for c in r.unsure]
    if not spent:
        return state
    downloads, unsure = _carried(state, spent, doubted)
    return _evolve(state, downloads=downloads, unsure=unsure)


def _taken(
    state: MonthState,
    request_id: str,
    journal_ids: Iterable[tuple[str, str]],
    released: Sequence[ReleasedRequest],
) -> MonthState:
    """`state` taking `request_id`, which its own create did not make (gigstack's duplicate
    answer, SAT 5005's active request), with what the journal knows of its downloads: those
    other months spent when one released it (`_taking_released`); none when this month or
    another knows it (each counts its own); and, for a request no month of the journal knows
    (made by another folder, another machine or the dashboard), unknown: `foreign`, one GET of
    each package (`_with_unknown_counts`; review 9u #3: counted 0, it sent SAT's 3rd GET).
    `journal adopt` follows the same rule (`made_elsewhere`, `Adopt.foreign`), and as there a
    month whose own counts were lost (`counts_lost`) takes any request `uncounted`: its lost
    record may have spent both downloads."""
    if state.counts_lost:
        state = _evolve(state, uncounted=_add(state.uncounted, request_id))
    if any(r.id == request_id for r in released):
        state = _taking_released(state, request_id, released)
        if not any(r.id == request_id and r.foreign for r in released):
            return state
        # The month that released it had taken it from outside: still unknown (review 9w).
        return _evolve(state, foreign=_add(state.foreign, request_id))
    known = request_id in state.known_ids or request_id in _owners(state, journal_ids)
    if known or request_id in state.uncounted:
        return state
    return _evolve(state, foreign=_add(state.foreign, request_id))


def _adopt(state: MonthState, obs: Adopt) -> Result:
    vouched = obs.vouched_created_at
    if vouched is not None:
        _check_vouch(state, obs, vouched)
        if obs.request_id == state.request_id and state.stage in _VOUCH_ONLY:
            # Only the vouch: the month keeps its files, counts and stage.
            return _vouched(state, vouched), ()
        if state.stage in _VOUCH_ONLY:
            raise TransitionError(
                f"{state.key} is {state.stage.value} with request {state.request_id or '(none)'}"
                f", not {obs.request_id}: --created-at vouches only for the request a finished "
                "month follows (`journal show` names it). Nothing changed"
            )
    if state.stage in (Stage.DONE, Stage.EMPTY, Stage.STAGED):
        raise TransitionError(f"{state.key} is {state.stage.value}: nothing to adopt")
    if obs.request_id in state.expired:
        raise TransitionError(_adopt_expired(state, obs.request_id))
    if state.stage is Stage.SUBMITTING and not state.unknown:
        raise TransitionError(f"{state.key} has a create request in flight")
    confirm = state.stage in _WAITING or (
        state.stage is Stage.NEEDS_ATTENTION and state.resume_to is not None
    )
    # The user's word beats what the journal saw of this id before (review 9d #1): after the
    # server's ids restart, the stored record is the old request's and would flag the id forever.
    # A record of an id the month never had is a candidate's, seen when the month needed the
    # user (`_reconcile`): kept, so an id reused before the next run is caught by its createdAt.
    records = tuple(
        r for r in state.records if r.id != obs.request_id or r.id not in state.known_ids
    )
    # The user's word that the month's request is this one: the id it leaves is not its own
    # (another month may adopt it), and this id is no longer released.
    released = state.released if obs.request_id == state.request_id else _release(state)
    released = tuple(r for r in released if r.id != obs.request_id)
    uncounted = state.uncounted
    if obs.uncounted or state.counts_lost:
        uncounted = _add(uncounted, obs.request_id)
    foreign, not_own = state.foreign, state.unproven
    if obs.foreign and obs.request_id not in uncounted:
        foreign = _add(foreign, obs.request_id)
        if state.creates:
            # It may be the month's own lost create, or another's (review 9w #7).
            not_own = _add(not_own, obs.request_id)
    downloads, unsure = _carried(state, obs.downloads, obs.unsure)
    if obs.request_id == state.request_id and confirm:
        # The user confirms the month's own request (checked in gigstack's dashboard).
        resumed = state.resume_to if state.stage is Stage.NEEDS_ATTENTION else None
        return _evolve(
            state if vouched is None else _vouched(state, vouched),
            records=records,
            released=released,
            downloads=downloads,
            unsure=unsure,
            uncounted=uncounted,
            foreign=foreign,
            unproven=not_own,
            stage=resumed or state.stage,
            resume_to=None,
            confirmed_id=obs.request_id,
            checked=True,
            typed=True,
            vouched=True,
            reason=f"request {obs.request_id} confirmed by the user",
            hint=None,
        ), ()
    # Another request than the month's own: its open day is that request's, whatever the
    # month's left request had (review 9n #4). The month's last request (a record rebuilt
    # from its log, adopted back for free) keeps the open day the journal or its log kept.
    if vouched is not None:
        created = obs.created_at if created_day(obs.created_at) is not None else vouched
        day, unproven = taken_open_day(state.start, state.end, created, obs.today)
    elif state.known_ids and state.known_ids[-1] == obs.request_id:
        day, unproven = state.open_day, state.open_day_unproven
    else:
        day, unproven = taken_open_day(state.start, state.end, obs.created_at, obs.today)
    return _evolve(
        state,
        open_day=day,
        open_day_unproven=unproven,
        created_vouched=None if vouched is None else (obs.request_id, vouched),
        records=records,
        released=released,
        downloads=downloads,
        unsure=unsure,
        uncounted=uncounted,
        foreign=foreign,
        unproven=not_own,
        stage=Stage.SUBMITTED,
        confirmed_id=obs.request_id,
        checked=True,
        typed=True,
        vouched=True,
        request_id=obs.request_id,
        known_ids=_add(state.known_ids, obs.request_id),
        unknown=False,
        resume_to=None,
        sat_state=None,
        invoice_count=None,
        package_ids=None,
        status_asked=False,
        staged=(),
        extracted=(),
        reason=f"request {obs.request_id} adopted by the user",
        hint=None,
    ), tuple(DeleteStaged(s.path) for s in state.staged)  # the left request's: never extracted


def _adopt_expired(state: MonthState, request_id: str) -> str:
    """Why `journal adopt` refuses `request_id`, a request month `state` knows expired (SAT
    5007: its package is gone; review r2 H1), and the way on instead: a resend, or, once the
    account has SAT's 2 identical requests, other dates in parts (`journal split`)."""
    third = third_identical(state)
    way = (
        f"Instead: {third[0].upper()}{third[1:]}"
        if third is not None
        else f"Instead, `gigstack-async journal resend {state.key}` requests the month again "
        "(a new request, may be billed)"
    )
    return (
        f"request {request_id} is {_whose(state, request_id)}, and "
        f"{_why_unusable(state, request_id)}: adopting it downloads nothing (SAT would answer "
        f"5007 again). Nothing changed. {way}"
    )


_VOUCH_ONLY = frozenset({Stage.DONE, Stage.EMPTY, Stage.STAGED})
"""Stages a month's own request is adopted again in only to vouch for its `createdAt`."""


def vouched_created_at(state: MonthState) -> str | None:
    """The `createdAt` the user vouched for the month's current request (`journal adopt
    --created-at`; `MonthState.created_vouched`), None when none was or it names another."""
    vouched = state.created_vouched
    return vouched[1] if vouched is not None and vouched[0] == state.request_id else None


def vouch_created_at(text: str) -> str:
    """`text`, a request's creation time as read in gigstack's dashboard (ISO 8601 date, or
    date and time; without an offset, Mexico City's wall time; with one, honoured), as the
    ISO 8601 time with its offset that `Adopt.vouched_created_at` takes. A date alone is its
    first minute. Pure.

    Raises ValueError for anything else, or an instant outside the years 1..9999.

    >>> vouch_created_at("2024-09-02T10:15")
    '2024-09-02T10:15:00-06:00'
    >>> vouch_created_at("2024-09-02 16:15Z")
    '2024-09-02T16:15:00+00:00'
    """
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or time: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=MEXICO_CITY)
    if created_at_instant(parsed.isoformat()) is None:
        raise ValueError(f"out of range: {text!r}")
    return parsed.isoformat()


def _check_vouch(state: MonthState, obs: Adopt, vouched: str) -> None:
    """Refuse a vouched `createdAt` (`Adopt.vouched_created_at`) that cannot be the request's,
    before anything changes."""
    made = created_day(vouched) if created_at_instant(vouched) is not None else None
    if made is None:
        raise TransitionError(f"--created-at {vouched!r} is not an ISO 8601 time with an offset")
    if obs.today is not None and made > obs.today + timedelta(days=1):
        raise TransitionError(
            f"--created-at {vouched} is in the future (today is {obs.today} in Mexico City). "
            "Nothing changed"
        )
    if made < state.start:
        raise TransitionError(
            f"--created-at {vouched} is before {state.key}'s first day, {state.start}: no "
            "request for its dates was made then. Nothing changed"
        )
    listed = obs.created_at
    if created_day(listed) is None:
        listed = next((r.created_at for r in state.records if r.id == obs.request_id), None)
    if created_day(listed) is None:
        return
    if taken_open_day(state.start, state.end, listed, None) != taken_open_day(
        state.start, state.end, vouched, None
    ):
        raise TransitionError(
            f"the account's history listed request {obs.request_id} with createdAt {listed}, "
            f"which --created-at {vouched} contradicts: the server is the better witness, the "
            "journal goes by its createdAt. Nothing changed"
        )


def _vouched(state: MonthState, vouched: str) -> MonthState:
    """Month `state`, following the request the user vouched `createdAt` `vouched` for (it is
    already its request): that request's open day (`taken_open_day`) replaces an unproven one
    or an earlier vouch's. Nothing else changes.

    Raises TransitionError when the open day is already proven (the month's own create sent
    it, a listing showed its `createdAt`, it was adopted by its last day, or a repair rebuilt
    it from the log, which keeps the day but not the vouch): the better witness stands."""
    if not (state.open_day_unproven or vouched_created_at(state) is not None):
        raise TransitionError(
            f"the journal already goes by a proven day for when {state.key}'s request "
            f"{state.request_id} was made (its own create sent it, the account's history "
            "showed its createdAt, it was adopted on or before the month's last day, or "
            "`journal repair` rebuilt the month from its log): --created-at cannot change "
            "that. Nothing changed"
        )
    day, unproven = taken_open_day(state.start, state.end, vouched, None)
    return _evolve(
        state,
        open_day=day,
        open_day_unproven=unproven,
        created_vouched=(state.request_id or "", vouched),
    )


def hold(
    state: MonthState,
    request_ids: Sequence[str],
    learnt: Mapping[str, tuple[str | None, str | None]] | None = None,
    created: Mapping[str, str | None] | None = None,
) -> MonthState:
    """Month `state` (`planned`) held, not sent, for the identical requests `request_ids` the
    account already has: recorded (`MonthState.held_for`, added to those it already had, and
    `MonthState.holds`, keyed to the month's dates), so every later run holds it for them too,
    listed in the history or not, until the user adopts one, allows a resend (`journal
    resend`) or passes --allow-duplicates. `learnt`: (status, statusMessage) of those the
    history listed now (a None keeps what an earlier hold learnt: SAT's 5003 stays known once
    the history no longer lists the request). `created`: their `createdAt` as the history
    wrote it (a None keeps what an earlier hold recorded: `HeldRequest.created_at`). Any other
    stage, or a month the user allowed to be sent anyway, is returned as is. Pure."""
    if state.stage is not Stage.PLANNED or state.identical_allowed:
        return state
    ids = state.held_for
    holds = list(recorded_holds(state))
    for request_id in request_ids:
        ids = _add(ids, request_id)
        status, message = (learnt or {}).get(request_id, (None, None))
        created_at = (created or {}).get(request_id)
        at = next(
            (
                i
                for i, h in enumerate(holds)
                if h.id == request_id and (h.start, h.end) == (state.start, state.end)
            ),
            None,
        )
        if at is None:
            holds.append(
                HeldRequest(request_id, state.start, state.end, status, message, created_at)
            )
        else:
            old = holds[at]
            holds[at] = attrs.evolve(
                old,
                status=status if status is not None else old.status,
                message=message if message is not None else old.message,
                created_at=created_at if created_at is not None else old.created_at,
            )
    return _evolve(state, held_for=ids, holds=tuple(holds))


def recorded_holds(state: MonthState) -> tuple[HeldRequest, ...]:
    """Every hold of month `state`, whatever its dates: `state.holds`, with every id of
    `held_for` that has none for the month's dates recorded for them (a journal written before
    `holds` existed kept only the ids)."""
    holds = state.holds
    for request_id in state.held_for:
        if not any(
            h.id == request_id and (h.start, h.end) == (state.start, state.end) for h in holds
        ):
            holds = (*holds, HeldRequest(request_id, state.start, state.end))
    return holds


def held_created_at(state: MonthState, request_id: str) -> str | None:
    """The `createdAt` a history showed of `request_id` when a run held month `state` for it
    (`HeldRequest.created_at`, whatever dates it was held at: the same request); None when no
    hold recorded one."""
    return next(
        (h.created_at for h in recorded_holds(state) if h.id == request_id and h.created_at),
        None,
    )


def held_records(state: MonthState) -> tuple[HeldRequest, ...]:
    """What was recorded of the requests month `state` is held for at its current dates
    (`held_ids`), in that order."""
    return tuple(h for h in recorded_holds(state) if (h.start, h.end) == (state.start, state.end))


def held_ids(state: MonthState) -> tuple[str, ...]:
    """The identical requests month `state` is held for at its current dates: `held_for`, and
    every recorded hold of exactly these dates (`MonthState.holds`), kept while the plan asked
    the month for other dates (review 9m #2)."""
    return tuple(h.id for h in held_records(state))


def _allow_resend(state: MonthState, obs: AllowResend) -> Result:
    held = held_ids(state)
    if state.stage is Stage.PLANNED and held and obs.start is None:
        # A held month (never sent from this journal): the user's word that a new request
        # for the same dates may be sent although the account has an identical one.
        refuses = None if obs.force else sat_refuses(state)
        if refuses is not None and refuses.code == 5003:
            # SAT refused these very dates (too many CFDIs): the same request would be billed
            # and refused again, listed in the history or not (review 9m #4).
            one_day = one_day_5003(state)
            split_way = (
                one_day
                if one_day is not None
                else "split the period instead, each part into its own --out folder, e.g. in "
                f"two halves: {split_commands(state)}"
            )
            raise TransitionError(
                f"{state.key}: SAT answered 5003 (too many CFDIs for one request) for "
                f"{state.start}..{state.end} to the request the month is held for "
                f"({', '.join(refuses.request_ids)}): the same request would be billed and "
                "refused again. "
                f"{split_way[0].upper()}{split_way[1:]}; pass --force only if SAT's answer has "
                "changed"
            )
        if refuses is not None:  # SAT's 2 identical requests, its own earlier creates counted
            known = refuses.request_ids
            raise TransitionError(
                f"{state.key}: the account already has {len(known)} requests for "
                f"exactly {state.start}..{state.end} ({', '.join(known)}), and SAT "
                f"accepts only {_SAT_IDENTICAL_LIMIT} with the same dates ever: a third would "
                "be refused with SAT 5002, for good (and may be billed). "
                + _other_dates_way(state, state.start, state.end)
                + ". Pass --force only if you know SAT would accept it"
            )
        return _evolve(
            state,
            identical_allowed=True,
            reason="the user allowed a new create request although the account has an "
            f"identical one ({', '.join(held)})",
            hint=None,
        ), ()
    # done/empty too: a month requested for fewer days than the plan's (a clipped "today")
    # is asked again for the plan's dates only on the user's explicit word.
    resendable = (
        state.stage in RESENDABLE
        or state.stage in (Stage.DONE, Stage.EMPTY)
        or (state.stage is Stage.SUBMITTING and state.unknown)
    )
    if not resendable:
        raise TransitionError(
            f"{state.key} is {state.stage.value}: only expired, failed, refused or "
            "needs-attention months can be sent again"
        )
    third = None
    if not obs.force and obs.start is None:
        # A done month too (review 9m #7: the open day's resend of the same dates).
        third = third_identical(state)
    if third is not None:
        # Never a blind third identical create (newcomer 9g #5): SAT refuses it with 5002.
        raise TransitionError(
            f"{state.key}: {third}. Pass --force only if you know SAT would accept a third "
            "request for these dates (it may be billed, and SAT's answer 5002 is for good)"
        )
    way = None if obs.force else free_way(state)
    if way is not None:
        raise TransitionError(
            f"{state.key} can still finish without a new request: {way}. A resend sends a "
            "new create request (it may be billed) and gives up the one the month has; pass "
            "--force only if that request is wrong"
        )
    start, end = obs.start or state.start, obs.end or state.end
    redated = (start, end) != (state.start, state.end)
    own_part = state.own_part
    if state.stage in (Stage.DONE, Stage.EMPTY):
        # Its days are in the folder: a 5002 for the wider dates must not ask for them again.
        own_part = OwnPart(state.start, state.end, state.files, state.invoice_count)
    if (start, end) in state.exhausted or (
        state.stage is Stage.SAT_FAILED and state.sat_code == 5002 and not redated
    ):
        raise TransitionError(
            f"{state.key}: SAT 5002 says its limit of requests for {start}..{end} "
            "is exhausted, so a resend with these dates would be refused. "
            + _other_dates_way(state, start, end)
        )
    return _evolve(
        state,
        start=start,
        end=end,
        stage=Stage.PLANNED,
        request_id=None,
        duplicate=False,
        resend_allowed=True,
        resend_for=(start, end),
        unknown=False,
        resume_to=None,
        sat_state=None,
        invoice_count=None,
        package_ids=None,
        status_asked=False,
        staged=(),
        extracted=(),
        sat_code=None,
        own_part=own_part,
        reason=f"the plan asks for new dates {start}..{end}: a new request"
        if redated
        else "the user allowed a new create request",
        hint=None,
    ), tuple(DeleteStaged(s.path) for s in state.staged)  # the old request's: never extracted


def _other_dates_way(state: MonthState, start: date, end: date) -> str:
    """After a 5002 for `start..end`: the month's other dates, each into another --out folder
    (this folder's journal holds one request per month), then `journal split` (review 9h #1)."""
    own = own_part_of(state, start, end)
    if own is not None:
        return (
            f"The month's folder already holds {own.start}..{own.end} ({len(own.files)} "
            "file(s), from its earlier request); "
            + missing_days_way(_evolve(state, start=own.start, end=own.end), start, end)
        )
    if start == end:
        way = _one_day_5002(state, start)
        return way[0].upper() + way[1:]
    runs, folders = _two_ranges(state, start, end)
    return (
        "Run `sat download` for this month with other dates instead, each range into another "
        f"--out folder (e.g. {runs}, with the other options you ran with, e.g. --team), then "
        f"`gigstack-async journal split {state.key} {' '.join(folders)}`: a plan with "
        "different dates is a new request for SAT (it may be billed)"
    )


def other_dates_way(state: MonthState) -> str:
    """How to download month `state` once SAT accepts no more requests for its recorded dates:
    other dates, each range into another folder, then `journal split` (`_other_dates_way`)."""
    return _other_dates_way(state, state.start, state.end)


def free_way(state: MonthState) -> str | None:
    """How a month that needs attention can still finish on its current request, sending no
    new create (nothing billed), or None. A staged package is extracted again by a re-run; a
    package whose SAT downloads are not spent is downloaded again by a re-run; one whose
    counted downloads may not all have reached SAT gets one more GET by `journal retry-
    download`."""
    if state.stage is not Stage.NEEDS_ATTENTION:
        return None
    again = "run the same command again"
    if state.resume_to is Stage.DONE and state.lost_files:
        packages = refill_packages(state)
        if (
            packages
            and state.request_id is not None
            and not any(_spent(state, p) for p in packages)
        ):
            return (
                f"`gigstack-async journal retry-download {state.key}` downloads package "
                f"{', '.join(packages)} once more for the files missing from its folder (free: "
                f"nothing is requested again), then {again}"
            )
        return None
    if state.resume_to is Stage.STAGED:
        return f"{again}: its package is staged on disk and is extracted without downloading it"
    if state.resume_to is Stage.COMPLETED and _on_disk_already(state):
        # Runs stop before downloading (review 9k #3: "it downloads the package again" was
        # false): the folder holds the request's CFDIs; keep records them, sending nothing.
        return (
            f"`gigstack-async journal keep {state.key}` records it with the CFDIs its folder "
            "already holds (checked first; nothing is sent or downloaded)"
        )
    if state.resume_to is Stage.COMPLETED:
        pending = state.pending_packages
        lefts = [state.allowed_of(p) - state.downloads_of(p) for p in pending]
        if state.package_ids is None:
            return f"{again}: the request's status is asked again for its packages"
        if pending and all(left > 0 for left in lefts):
            return (
                f"{again}: it downloads the request's package again ({min(lefts)} of "
                f"{DOWNLOAD_BUDGET} SAT downloads left)"
            )
    package_id = state.blocked_package
    if (
        package_id is not None
        and package_id in state.pending_packages
        and _may_have_one_left(state, package_id)
    ):
        return (
            f"`gigstack-async journal retry-download {state.key}` allows one more download of "
            f"package {package_id} (free: SAT answers 5008 if it served it twice), then {again}"
        )
    return None


def _release(state: MonthState) -> tuple[ReleasedRequest, ...]:
    """`state.released` with its current request added, and the SAT downloads spent on that
    request's packages (`package_ids` are the current request's)."""
    if state.request_id is None:
        return state.released
    packages = set(state.package_ids or ())
    spent = tuple((pid, n) for pid, n in state.downloads if pid in packages and n > 0)
    unsure = tuple((pid, n) for pid, n in state.unsure if pid in packages and n > 0)
    return (
        *[r for r in state.released if r.id != state.request_id],
        ReleasedRequest(state.request_id, spent, unsure, state.request_id in state.foreign),
    )


def _allow_download(state: MonthState, obs: AllowDownload) -> Result:
    if state.stage is Stage.NEEDS_ATTENTION and state.resume_to is Stage.DONE and state.lost_files:
        return _allow_refill(state, obs)
    package_id = state.blocked_package
    # Only a month that stopped at that package: one that needs attention for another reason
    # (its request in doubt, its content not the month's) gets no GET.
    if (
        state.stage is not Stage.NEEDS_ATTENTION
        or package_id is None
        or package_id not in state.pending_packages
        or state.downloads_of(package_id) < state.allowed_of(package_id)
        or obs.package_id not in (None, package_id)
    ):
        not_needed = retry_not_needed(state)
        if not_needed is not None:
            raise TransitionError(not_needed)
        raise TransitionError(
            f"{state.key} is {state.stage.value}"
            + (f" ({state.reason})" if state.reason else "")
            + ": it did not stop at a package SAT may still serve, so there is no download to "
            f"allow (see `gigstack-async journal show {state.key}`)"
        )
    if not _may_have_one_left(state, package_id):
        raise TransitionError(
            f"{state.key}: package {package_id} was downloaded {state.downloads_of(package_id)} "
            "times and SAT surely served it twice (it sent bytes, or answered 5008), so one more "
            "download would only be refused with SAT 5008. `gigstack-async journal resend "
            f"{state.key}` requests the month again (a new request may be billed)"
        )
    granted = state.granted
    for allowed in allowed_packages(state):
        # Exactly one GET past what is counted: a count carried from another month (a released
        # request) may already be past SAT's two.
        granted = _count(
            granted, allowed, state.downloads_of(allowed) + 1 - state.allowed_of(allowed)
        )
    return _evolve(
        state,
        stage=Stage.COMPLETED,
        granted=granted,
        blocked_package=None,
        failed_this_run=(),
        reason=f"the user allowed one more download of package {package_id} "
        f"({counted_downloads(state, package_id)})",
        hint=None,
    ), ()


def downloads_left(state: MonthState) -> tuple[str, int, bool] | None:
    """(package, SAT downloads left, whether "at least") when a plain re-run of month `state`
    downloads its request's next package within SAT's 2 (newcomer r2 N3): it needs attention
    only because a package GET failed with a download left (its hint: run the same command
    again), every pending package with one left. None: not such a month."""
    if state.stage is not Stage.NEEDS_ATTENTION or state.resume_to is not Stage.COMPLETED:
        return None
    if state.unknown or state.hint is None or _OTHER_WAYS.search(state.hint):
        return None  # in doubt for another reason: its hint names the way (adopt, keep)
    pending = state.pending_packages
    if state.package_ids is None or not pending:
        return None
    # Within SAT's 2 (and what the journal sends by itself), never a GET the user allowed.
    lefts = [
        (min(state.allowed_of(p), DOWNLOAD_BUDGET) - state.downloads_of(p), p) for p in pending
    ]
    left, package_id = min(lefts)
    if left <= 0:
        return None
    return package_id, left, any(state.unsure_of(p) for p in pending)


def retry_not_needed(state: MonthState) -> str | None:
    """Why `journal retry-download` is not needed for month `state` (`downloads_left`): a
    plain re-run downloads its package; None when that is not so."""
    left = downloads_left(state)
    if left is None:
        return None
    package_id, n, unsure = left
    return (
        f"{state.key} needs no `journal retry-download`: its package {package_id} has "
        f"{'at least ' if unsure else ''}{n} of SAT's {DOWNLOAD_BUDGET} downloads left, so a "
        "plain re-run downloads it: run the same command again"
    )


def _allow_refill(state: MonthState, obs: AllowDownload) -> Result:
    """A done month whose folder lost files (MISSING FILES): its packages that held them are
    downloaded once more by the next run and extracted again (newcomer 9h #1). Within SAT's
    two downloads each, or one more when a counted one may not have reached SAT; never a
    package SAT surely served twice (a third download is only refused, 5008)."""
    key = state.key
    packages = refill_packages(state)
    resend = (
        f"`gigstack-async journal resend {key}` requests the month again (a new "
        "request, possibly billed)"
    )
    if not packages or state.request_id is None:
        raise TransitionError(
            f"{key}: its missing files were not extracted from a package this journal knows, "
            f"so there is no download to allow: put them back and run the same command again; "
            f"if they are gone, {resend}"
        )
    if obs.package_id not in (None, *packages):
        raise TransitionError(
            f"{key}: its missing files are in package {', '.join(packages)}, not {obs.package_id}"
        )
    spent = [p for p in packages if _spent(state, p)]
    if spent:
        raise TransitionError(
            f"{key}: SAT already served package {', '.join(spent)} twice (its counted "
            "downloads all surely reached SAT), so one more download would only be refused "
            f"with SAT 5008: put the missing files back and run the same command again; if "
            f"they are gone, {resend}"
        )
    granted = state.granted
    for p in packages:
        if state.downloads_of(p) >= state.allowed_of(p):
            granted = _count(granted, p, state.downloads_of(p) + 1 - state.allowed_of(p))
    again = set(packages)
    drop_kept = bool(state.package_ids) and again >= set(state.package_ids or ())

    def dropped(e: ExtractedPackage) -> bool:
        return e.package_id in again or (drop_kept and e.package_id == KEPT)

    return _evolve(
        state,
        stage=Stage.COMPLETED,
        resume_to=None,
        refill=True,
        extracted=tuple(e for e in state.extracted if not dropped(e)),
        refill_set_aside=tuple(e for e in state.extracted if dropped(e)),
        granted=granted,
        blocked_package=None,
        failed_this_run=(),
        reason=f"the user allowed downloading package {', '.join(packages)} once more for the "
        f"{len(state.lost_files)} file(s) missing from its folder",
        hint=None,
    ), ()


def allowed_packages(state: MonthState) -> tuple[str, ...]:
    """The packages one `AllowDownload` allows one more GET of: the one the month stopped at,
    and, for a request whose downloads this journal never counted (`uncounted`), every other
    pending package of it whose count is full and not surely spent (each was only assumed
    spent: one confirmation covers them, one GET each, rather than one run per package)."""
    blocked = state.blocked_package
    if blocked is None:
        return ()
    if state.request_id not in state.uncounted:
        return (blocked,)
    others = tuple(
        p
        for p in state.pending_packages
        if p != blocked
        and state.downloads_of(p) >= state.allowed_of(p)
        and _may_have_one_left(state, p)
    )
    return (blocked, *others)


def _add_dates(
    ranges: tuple[tuple[date, date], ...], start: date, end: date
) -> tuple[tuple[date, date], ...]:
    return ranges if (start, end) in ranges else (*ranges, (start, end))


def _add(items: Iterable[str], item: str) -> tuple[str, ...]:
    items = tuple(items)
    return items if item in items else (*items, item)
