"""Repairs of a bulk journal by the user (`gigstack-async journal adopt|resend|retry-download`),
in Python.

Nothing here sends a request: it records the machine's transition for the user's word and
performs what that asks of the disk (removing staged ZIPs the month no longer refers to).

```python
from gigstack_async.bulk.repair import adopt, record
with JournalStore.open_existing("cfdi/.gigstack-journal.sqlite3") as store:
    new, commands = adopt(store, "2024-03", "3F2A9C1B-...")  # checked, not recorded yet
    record(store, new, commands)
```
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import attrs

from gigstack_async.bulk import content
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import STAGING_DIR, initial_state
from gigstack_async.bulk.parts import (
    home_of,
    part_troubles,
    recorded_path,
    requested_on_open_day,
)
from gigstack_async.bulk.plan import plan_months
from gigstack_async.bulk.store import JournalStateError, JournalStore
from gigstack_async.errors import InvalidParameterError

_DEFAULT_NAME = ".gigstack-journal.sqlite3"  # bulk.run.DEFAULT_JOURNAL (run imports engine)

__all__ = [
    "SplitPart",
    "adopt",
    "allow_download",
    "apply",
    "new_month",
    "record",
    "split",
    "staged_paths",
]


def new_month(store: JournalStore, key: str) -> m.MonthState:
    """Month `key` (YYYY-MM) as the journal would add it, planned and unsent, with the dates
    `sat download` would plan for it (the whole month, its end clipped to today in Mexico City)
    and the journal's kind of request. Not recorded.

    Raises InvalidParameterError for a month no request could cover (as `plan_months`).
    """
    identity = store.identity
    (slot,) = plan_months(
        key, key, rfc_type=identity.rfc_type, request_type=identity.request_type
    ).slots
    return initial_state(slot)


def adopt(
    store: JournalStore,
    key: str,
    request_id: str,
    *,
    ids_restarted: bool = False,
    today: date | None = None,
    created_at: str | datetime | None = None,
) -> tuple[m.MonthState, tuple[m.Command, ...]]:
    """Month `key`'s state once it follows `request_id`, and the commands that go with it (the
    removal of a staged package of the request it leaves). Not recorded: pass both to `record`.

    A month the journal does not have yet is added (`new_month`) when recorded; for it, this
    journal never counted the downloads of its request's packages, so each counts as SAT's
    two, both unsure (`MonthState.uncounted`): the next run sends no GET of them until
    `journal retry-download` (free: SAT answers a spent package with 5008). A month that
    never had `request_id` (`machine.made_elsewhere`: a `held` month, or one whose create
    lost its answer: the id may be that create or another folder's) adopting an id no month
    of the journal knows, or one a month released that it had taken so, takes a request not
    proven its own (`MonthState.foreign`): how many downloads
    were spent where it was made is unknown, so the run sends at most one GET of each package
    and never retries it (the next needs `journal retry-download`), as for gigstack's
    duplicate answer or SAT 5005's active request naming such an id. The user's word
    replaces what the journal saw of `request_id` before (its record from before a restart).

    Raises JournalStateError when the month's state refuses it, or when another month of this
    journal already knows `request_id` (it may hold that month's CFDIs; adopting it would
    download its packages a second time under another month, spending SAT's 2 downloads per
    package), unless that month released it (`MonthState.released`: its CFDIs proved it is not
    that month's, or the user adopted another id for that month; the SAT downloads it spent
    on its packages are carried over), or `ids_restarted` (the user saw in gigstack's
    dashboard that the server's ids restarted and the id now names this month's request) and
    that month no longer follows it (done, empty, or on another request). A month still
    following the id it never released is always refused.

    `today` (Mexico City; None: unknown): the month may have been requested before its last
    day was over when adopted on or before it, or when the request's `createdAt` (as a history
    showed it to the journal; unknown until a run lists it) is (`machine.taken_open_day`).

    `created_at`: the request's creation time as gigstack's dashboard shows it, which the
    user vouches for (`journal adopt --created-at`): an ISO 8601 date or date and time (or a
    `datetime`); without an offset, Mexico City's wall time. The open day then comes from it
    (made after the month's last day: none), and it is logged, so `journal repair` keeps that
    day. The month's own request adopted again with it, even once done, only records it (no
    download counted again, no file forgotten). A listing of the request with a readable
    `createdAt` that disagrees wins over it (the server is the better witness): one already
    seen refuses it, a later one replaces it. Raises InvalidParameterError when it cannot be
    read; JournalStateError when it is after `today` + 1 day, before the month's first day,
    contradicted by a `createdAt` the journal saw, or the open day is already proven (the
    month's own create). Nothing is recorded then.
    """
    recorded = key in store.keys()  # noqa: SIM118
    state = store.get(key) if recorded else new_month(store, key)
    # A month the journal has no record of (a new journal after a damaged one, a deleted
    # journal, a request made elsewhere): its packages' downloads were not counted here.
    uncounted = not recorded
    carried: tuple[tuple[str, int], ...] = ()
    doubted: tuple[tuple[str, int], ...] = ()
    released_foreign = False
    for other in store.states():
        if other.key == key or request_id not in other.known_ids:
            continue
        released = [r for r in other.released_marked() if r.id == request_id]
        if released:
            # Known not to be that month's (its CFDIs were not, or the user adopted another id
            # for it): free to adopt here; the SAT downloads it spent on the packages go along.
            carried += released[0].downloads
            doubted += released[0].unsure
            # That month had taken it from outside: still unknown here (review 9w).
            released_foreign = released_foreign or released[0].foreign
            uncounted = uncounted or request_id in other.uncounted
            continue
        following = other.request_id == request_id and other.stage not in (
            m.Stage.DONE,
            m.Stage.EMPTY,
        )
        if ids_restarted and not following:
            # That month keeps its files. The id may name another request now, or the same
            # one (a release a `journal repair` forgot): the journal cannot tell, so the SAT
            # downloads that month counted of its packages (`<id>_NN`) go along, unknown never
            # zero (review 9u #1: skipped, the month sent SAT's 3rd GET); at worst its first
            # GET waits for the free `journal retry-download`.
            prefix = f"{request_id}_"
            carried += tuple((p, n) for p, n in other.downloads if p.startswith(prefix))
            doubted += tuple((p, n) for p, n in other.unsure if p.startswith(prefix))
            continue
        raise JournalStateError(_taken(request_id, key, state, other, following=following))
    # Newcomer 9f #1: a held month (recorded, never sent) adopting another folder's request
    # downloaded its packages at once, spending SAT's last download. Made outside the journal:
    # one GET of each package, as for gigstack's duplicate answer (`MonthState.foreign`).
    journal_ids = (i for other in store.states() if other.key != key for i in other.known_ids)
    # An id the month had (its create's own answer) stays proven its own: what the releasing
    # month spent on it is carried, never its doubt about where it was made.
    foreign = m.made_elsewhere(state, journal_ids, request_id) or (
        released_foreign and request_id not in state.known_ids
    )
    vouched = _vouched_text(created_at)
    try:
        created = _server_created_at(store, state, request_id, ids_restarted=ids_restarted)
        observed = m.Adopt(
            request_id,
            carried,
            doubted,
            uncounted=uncounted,
            foreign=foreign,
            today=today,
            created_at=created,
            vouched_created_at=vouched,
        )
        return m.transition(state, observed)
    except m.TransitionError as error:
        raise JournalStateError(str(error)) from None


def _server_created_at(
    store: JournalStore, state: m.MonthState, request_id: str, *, ids_restarted: bool
) -> str | None:
    """The `createdAt` the server showed this journal of `request_id` (never the user's vouch,
    never our clock): month `state`'s record of it, or the hold a run recorded when the history
    listed it as the month's identical request (`machine.held_created_at`; newcomer 9k #1: a
    held month adopted once the history's newest 20 no longer listed it read "createdAt was
    never shown"); else another month's record or hold of it, unless the server's ids
    restarted (`ids_restarted`: the id may name another request there). None: never shown."""
    mine = next((r.created_at for r in state.records if r.id == request_id and r.created_at), None)
    if mine is not None:
        return mine
    held = m.held_created_at(state, request_id)
    if held is not None or ids_restarted:
        return held
    for other in store.states():
        if other.key == state.key:
            continue
        seen = next(
            (r.created_at for r in other.records if r.id == request_id and r.created_at), None
        )
        seen = seen or m.held_created_at(other, request_id)
        if seen is not None:
            return seen
    return None


def _vouched_text(created_at: str | datetime | None) -> str | None:
    """`adopt`'s `created_at` as `machine.Adopt.vouched_created_at` takes it (ISO 8601 with an
    offset; a naive time is Mexico City's)."""
    if created_at is None:
        return None
    if isinstance(created_at, datetime):
        created_at = created_at.isoformat()
    try:
        return m.vouch_created_at(created_at)
    except ValueError:
        raise InvalidParameterError(
            "created_at",
            "an ISO 8601 date or date and time, e.g. 2024-09-02T10:15 (Mexico City) or "
            "2024-09-02T16:15Z",
            created_at,
        ) from None


def _taken(
    request_id: str, key: str, state: m.MonthState, other: m.MonthState, *, following: bool
) -> str:
    """Why `request_id`, which `other` knows and never released, is refused for `key`."""
    current = other.request_id == request_id
    if following:
        held = f"its current request; {other.key} is {other.stage.value}"
        way = (
            f"two months never share one request. If it is {key}'s, adopt {other.key}'s own "
            f"request for {other.key} first: a month releases the id it leaves that way, and "
            f"one whose CFDIs proved it is not its own releases it too"
        )
        # A swap half proven (newcomer 9j F0): the id this month released may be the other's.
        mine = [i for i in state.released_ids() if i != request_id]
        if mine:
            way += (
                f" ({key} released request {mine[-1]}, known not to be its own: if it is "
                f"{other.key}'s, `journal adopt` it for {other.key} first, then adopt "
                f"{request_id} for {key} again)"
            )
    else:
        held = f"{other.key} is {other.stage.value} with it" if current else f"{other.key} had it"
        way = (
            "if the server's request ids restarted and gigstack's dashboard lists "
            f"{request_id} with {key}'s dates and type, run the command again with "
            f"--ids-restarted ({other.key} keeps its files)"
        )
    return (
        f"request {request_id} is {other.key}'s in this journal ({held}), and nothing showed "
        f"it is not {other.key}'s. Adopting "
        f"it for {key} would have two months download its packages, both spending their SAT "
        f"downloads (at most 2 per package, whichever month asks), for CFDIs that are "
        f"{other.key}'s as far as this journal knows (a package of other dates is not "
        f"extracted into {key}). Find {key}'s "
        "own request in `gigstack-async downloads history` or gigstack's dashboard (its dates "
        f"are {state.start}..{state.end}); {way}. Nothing changed."
    )


def allow_download(
    store: JournalStore, key: str, package_id: str | None = None
) -> tuple[m.MonthState, tuple[m.Command, ...]]:
    """Month `key`'s state once the user allows one more GET of the package it stopped at
    (`gigstack-async journal retry-download`): its counted downloads are full, but not all of
    them surely reached SAT. Not recorded: pass both to `record` (durably, before anything is
    printed as done). The next run sends exactly that one GET; if SAT served the package twice
    already, SAT answers 5008 (nothing billed) and the month then needs `journal resend`.

    Raises JournalStateError for a month not in the journal, one that did not stop at such a
    package, or one whose package SAT surely served twice (then only a resend helps).
    """
    if key not in store.keys():  # noqa: SIM118
        raise JournalStateError(
            f"{key} is not in the journal (it has {', '.join(store.keys()) or 'no months'})"
        )
    try:
        return m.transition(missing_now(store, key), m.AllowDownload(package_id))
    except m.TransitionError as error:
        raise JournalStateError(str(error)) from None


def missing_now(store: JournalStore, key: str) -> m.MonthState:
    """Month `key` as recorded, or, when it is done and its folder no longer holds some of
    the files extracted for it intact, as the next run takes it up: MISSING FILES (gone, or a
    CFDI damaged; newcomer 9h #1, review 9n #3); so too a split month whose parts elsewhere
    lost files their journals record (`bulk.parts`, read-only; review 9n #5). Not recorded."""
    state = store.get(key)
    if state.stage is m.Stage.SPLIT:
        # Its parts elsewhere, checked as a run checks them (review 9n #5).
        return m.parts_missing(state, part_troubles(state, home_of(store)))
    where = store.download_to
    if state.stage is not m.Stage.DONE or where is None or not state.files:
        return state
    recorded = content.recorded_extractions(state.extracted)
    return m.files_missing(state, content.lost_files(where / key, state.files, recorded))


def record(store: JournalStore, new: m.MonthState, commands: tuple[m.Command, ...]) -> list[Path]:
    """Record `new` (one transaction), then remove the staged ZIPs `commands` drop. Returns the
    files removed. Nothing is sent."""
    store.put(new)
    removed = []
    for command in commands:
        if isinstance(command, m.DeleteStaged):
            for path in staged_paths(store, command.path):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed


def apply(store: JournalStore, state: m.MonthState, obs: m.Observation) -> list[Path]:
    """Record the month's transition for `obs` and perform what it asks of the disk."""
    try:
        new, commands = m.transition(state, obs)
    except m.TransitionError as error:
        raise JournalStateError(str(error)) from None
    return record(store, new, commands)


def staged_paths(store: JournalStore, recorded: str) -> list[Path]:
    """Where a staged file is: in the journal's download folder's staging folder (by name, so
    a folder moved since, or a relative path recorded by a run in another working folder, is
    found), or as recorded when absolute."""
    paths = []
    if store.download_to is not None:
        paths.append(store.download_to / STAGING_DIR / Path(recorded).name)
    if Path(recorded).is_absolute() and Path(recorded) not in paths:
        paths.append(Path(recorded))
    return paths


@attrs.frozen
class SplitPart:
    """One part of a month downloaded elsewhere: its journal, dates, files and where they are."""

    journal: Path
    start: date
    end: date
    files: int
    folder: Path | None
    """Where the part's CFDIs of the month are (`<download folder>/<YYYY-MM>`), None when its
    journal downloaded nothing (no download folder)."""
    own: bool = False
    """The month's own part: days this journal's own requests downloaded into its folder."""
    lost: tuple[str, ...] = ()
    """Files its journal records for the month that its folder no longer holds (`journal
    split --force` records the split anyway)."""
    invoice_count: int | None = None
    """The CFDIs its journal's request reported for the month (None: unknown)."""
    short: int = 0
    """CFDIs of the month's own part that its folder no longer held when `journal repair`
    rebuilt it from the log (`OwnPart.missing`): refused as `lost` is (review 9k #2)."""

    def describe(self) -> str:
        where = self.folder if self.folder is not None else f"the journal {self.journal}"
        mine = ", this folder's own request" if self.own else ""
        return f"{where} ({self.start}..{self.end}, {self.files} file(s){mine})"


def lost_files(folder: Path | None, names: Sequence[str]) -> tuple[str, ...]:
    """The files `names` (a month's recorded extraction) that `folder` no longer holds
    (`content.lost_files`: CFDIs by UUID, other files by name; a run checks the same)."""
    return content.lost_files(folder, names)


def split(
    store: JournalStore,
    key: str,
    parts: Sequence[str | Path],
    *,
    refused_elsewhere: str | None = None,
    force: bool = False,
) -> tuple[m.MonthState, tuple[SplitPart, ...]]:
    """Month `key`'s state once it is recorded as downloaded in `parts` (download folders or
    journal files of `sat download` runs over shorter ranges), with what was found in each.
    Not recorded: pass the state to `record`. Nothing is sent.

    Checked first, else JournalStateError: the month is SAT 5003 (too many CFDIs for one
    request) or 5002 (its limit of requests for those dates), `sat-failed`, in this journal (or
    already split: the parts are named again, and the days its own folder holds count as the
    split recorded them, `MonthState.split_own`: the same parts give the same state), or done
    (or empty) for fewer days than the plan's whole month, which SAT refused with 5002
    (MISSING DAYS: its own dates count as a part, and
    the month takes the whole month's; so do the dates it had been done for when a `journal
    resend --force` of it was refused with 5002 or 5003, `MonthState.own_part`), or it is
    planned and `refused_elsewhere` names another folder's identical request SAT refused with
    5003 (what held it; `m.SplitElsewhere`), or the account already has SAT's 2 identical
    requests for its dates (`m.limit_split`: its own creates, or those it was held for); each
    part is another journal of the same kind of
    request (rfc_type, request_type), team, base URL and RFC (when both know it); its month `key` is
    finished there with its files extracted (`done`), `empty`, or itself split (a month
    `completed` by a run without a download folder holds no file); together they cover every day
    of the month's dates. The month's CFDI count becomes the parts' together (unknown when
    one part's is).

    Each part's files, and the month's own part's, are checked on disk (`lost_files`): a part
    whose folder no longer holds the files its journal records is refused unless `force`
    (review 9h #4). The parts returned name the month's own part(s) first (`SplitPart.own`).
    """
    state = store.get(key)
    start, end = state.start, state.end
    here = None if store.download_to is None else store.download_to.absolute() / key
    own: list[SplitPart] = []
    done = state.stage in (m.Stage.DONE, m.Stage.EMPTY)
    whole = new_month(store, key) if done else state
    # A part of a month (fewer days than the whole month, none refused with 5002) requested on
    # its own last day is split so too: its MISSING DAYS route names this (review h1 #3).
    open_day = (
        done
        and m.open_day_split(state)
        and (
            (whole.start, whole.end) == (start, end)
            or (whole.start, whole.end) not in state.exhausted
        )
    )
    if open_day:
        opened = m.open_day_own(state)
        # Requested on its last day (MISSING DAYS): its request holds the days before that
        # one complete; the parts must cover the rest (review 9m #7).
        if opened is not None:
            own.append(SplitPart(store.path, *opened, len(state.files), here, True))
    elif done:
        # MISSING DAYS after SAT 5002: the month's own request covers part of the plan's dates,
        # and so does its own part (an earlier request's days, kept through the 5002).
        start, end = whole.start, whole.end
        kept = m.own_part_of(state, start, end)
        if kept is not None:
            own.append(SplitPart(store.path, kept.start, kept.end, len(kept.files), here, True))
        own.append(SplitPart(store.path, state.start, state.end, len(state.files), here, True))
    elif state.stage is m.Stage.SAT_FAILED and state.sat_code in (5002, 5003):
        # A resend of such a month refused with 5002 or 5003: the days it had still count as a
        # part (the 5003 hint asks only for the others: review 9i #1).
        kept = m.own_part_of(state, state.start, state.end)
        if kept is not None:
            own.append(SplitPart(store.path, kept.start, kept.end, len(kept.files), here, True))
    elif m.limit_split(state) or m.spent_requests(state):
        # SAT's 2 identical requests for its dates are spent (review 9m #1): the days its
        # folder already holds from an earlier request count as a part, as after a 5002.
        kept = m.own_part_of(state, state.start, state.end)
        if kept is not None:
            own.append(SplitPart(store.path, kept.start, kept.end, len(kept.files), here, True))
    elif state.stage is m.Stage.SPLIT:
        # Named again: the days its folder holds count as they did (a journal written before
        # `split_own` names its own part when it kept one).
        kept = m.own_part_of(state, start, end)
        parts_here = state.split_own or (() if kept is None else (kept,))
        own.extend(
            SplitPart(store.path, p.start, p.end, len(p.files), here, True) for p in parts_here
        )
    own = [
        attrs.evolve(p, lost=lost_files(here, _own_files(state, p)), short=_short(state, p))
        for p in own
    ]
    try:  # the month's own state first: its refusal says more than any part's
        m.transition(state, m.SplitElsewhere("", start, end, refused_elsewhere))
    except m.TransitionError as error:
        raise JournalStateError(str(error)) from None
    found: list[SplitPart] = []
    mine = store.path.resolve()
    for part in parts:
        target = Path(part)
        target = target / _DEFAULT_NAME if target.is_dir() else target
        if target.resolve() == mine:
            raise JournalStateError(f"{part} is this journal, not a part downloaded elsewhere")
        with JournalStore.open_existing(target) as other:
            # The part's values first ("its journal has ..."), then this journal's.
            problems = [
                p for p in other.identity.differences(store.identity) if p != "a different API key"
            ]
            if problems:
                raise JournalStateError(
                    f"{part} is not a part of this download: its journal has "
                    + "; ".join(problems).replace("this run has", "this journal has")
                )
            try:
                theirs = other.get(key)
            except KeyError:
                raise JournalStateError(
                    f"{part} has no {key} (it has {', '.join(other.keys()) or 'no months'})"
                ) from None
            if theirs.stage is m.Stage.COMPLETED and not theirs.want_files:
                raise JournalStateError(
                    f"{key} is completed in {part} but its CFDIs were never downloaded (a run "
                    "without a download folder): run that part's dates again with their own "
                    "--out folder (Python: download_to=) until the month is done, then split "
                    "with that folder"
                )
            if theirs.stage not in (m.Stage.DONE, m.Stage.EMPTY, m.Stage.SPLIT):
                raise JournalStateError(
                    f"{key} is {theirs.stage.value} in {part}, not finished: run its "
                    "`sat download` command again until it is done, then split"
                )
            if open_day and theirs.open_day is not None and theirs.open_day >= theirs.end:
                # Requested before its own last day was over: it misses the same CFDIs.
                raise JournalStateError(
                    f"{key} in {part} was requested on {theirs.open_day}, before that day was "
                    f"over, as {key} here was: it may miss the same CFDIs. Once that day is "
                    "over, download it into a new --out folder and split with that folder"
                )
            if theirs.stage in (m.Stage.DONE, m.Stage.EMPTY) and m.open_day_split(theirs):
                # Requested on its own last day before it was over (review h1 #3: the split
                # was ok for good without the CFDIs stamped later that day).
                raise JournalStateError(open_day_part(key, part, theirs))
            folder = None if other.download_to is None else other.download_to.absolute() / key
            lost = lost_files(folder, theirs.files)
            found.append(
                SplitPart(
                    target,
                    theirs.start,
                    theirs.end,
                    len(theirs.files),
                    folder,
                    lost=lost,
                    invoice_count=theirs.invoice_count,
                )
            )
    missing = m.uncovered(start, end, [(p.start, p.end) for p in [*own, *found]])
    if missing:
        gaps = ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in missing)
        raise JournalStateError(
            f"the parts do not cover {key}'s dates {start}..{end}: {gaps} "
            "missing. Download those days too (another `sat download` with its own --out "
            "folder), then split with every part"
        )
    gone = [p for p in [*own, *found] if p.lost or p.short]
    if gone and not force:
        raise JournalStateError(
            "; ".join(
                (
                    f"{p.folder} no longer holds {len(p.lost)} of the {p.files} file(s) its "
                    f"journal records for {key} ({p.start}..{p.end}"
                    + (", this folder's own request" if p.own else "")
                    + f"), e.g. {p.lost[0]}"
                )
                if p.lost
                else (
                    f"{p.folder} holds {p.files} file(s) of {key}'s {p.start}..{p.end} (this "
                    f"folder's own request), {p.short} fewer than the CFDIs SAT reported for "
                    "those days as the journal's log kept them (files lost before `journal "
                    "repair` rebuilt the month)"
                )
                for p in gone
            )
            + ". Put them back and split again. If they are gone, download those days into "
            "another --out folder and split with that folder too, with --force (it records the "
            "split although these files are missing)"
        )
    where = ", ".join(p.describe() for p in found)
    counts = [p.invoice_count for p in found]
    count = None if None in counts else sum(n for n in counts if n is not None)
    try:
        new, _ = m.transition(
            state,
            m.SplitElsewhere(
                where,
                start,
                end,
                refused_elsewhere,
                invoice_count=count,
                # Each run checks them again, read-only (`bulk.parts`; review 9n #5), found from
                # this journal's folder (relative when possible: review 9o #4).
                parts=tuple(recorded_path(p.journal, store.path) for p in found),
            ),
        )
    except m.TransitionError as error:
        raise JournalStateError(str(error)) from None
    return new, (*own, *found)


def open_day_part(key: str, part: str | Path, theirs: m.MonthState) -> str:
    """Why part `part`, whose month `key` (`theirs`) is done on its open day
    (`machine.open_day_split`), is not taken by `journal split`."""
    day = theirs.open_day
    when = requested_on_open_day(theirs)
    return (
        f"{key} in {part} {when} (Mexico City): CFDIs stamped later that day, or certified late "
        f"at SAT, are not in it, so it does not hold {day} complete. Run that part's "
        f"`sat download` again (`--out {part}`) once {day} is over (Python: the same `bulk()` "
        "call, download_to= that folder): it then names that day's missing CFDIs as MISSING "
        "DAYS, with the way to request them; once that part is complete, split with it again"
    )


def _short(state: m.MonthState, part: SplitPart) -> int:
    """`OwnPart.missing` of the month's own part `part` (0 for its request's own days)."""
    kept = state.own_part
    if kept is not None and (kept.start, kept.end) == (part.start, part.end):
        return kept.missing
    return 0


def _own_files(state: m.MonthState, part: SplitPart) -> tuple[str, ...]:
    """The files the month's own `part` extracted into its folder (as its record says)."""
    kept = state.own_part
    if kept is not None and (kept.start, kept.end) == (part.start, part.end):
        return kept.files
    return tuple(name for e in state.extracted if e.package_id != m.OWN_PART for name in e.files)


_uncovered = m.uncovered  # kept under its old name for callers
