"""The parts of a split month, checked on disk (review 9n #5, review 9o #1-#4).

`journal split` records a month SAT refused as downloaded in parts, each another `sat download`
folder with its own journal (`MonthState.split_parts`), and the days its own folder holds
(`MonthState.split_own`). Each run, and `journal show`, check them again as `journal split`
did: its own folder still holds the files recorded for its own days; each part's journal
(read-only: no lock is taken, nothing is written, a run driving a part goes on) is still a part
of this download (same kind of request, team, base URL, RFC when both know it) with the month
finished there and its folder holding the files its journal records (`content.lost_files`, as
for a done month); a part itself split is checked the same way, its parts in turn; and the
parts still cover every day of the month. Anything else leaves the month MISSING FILES
(`machine.parts_missing`), naming what is wrong and the way back.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import attrs

from gigstack_async.bulk import content
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.hints import shell_quote
from gigstack_async.bulk.store import JournalError, JournalStore, StoreIdentity

_DEFAULT_NAME = ".gigstack-journal.sqlite3"  # bulk.run.DEFAULT_JOURNAL (run imports engine)
_DEPTH = 8
"""Parts split again, and their parts: checked this deep (a deeper chain is named, not read)."""


@attrs.frozen
class Home:
    """The journal a split month is recorded in, as its parts are checked against it: its
    path (relative part paths are read from its folder), its download folder (the month's own
    days are there) and its identity (each part's must match, as `journal split` checked)."""

    journal: Path
    download_to: Path | None = None
    identity: StoreIdentity | None = None
    own_days: bool = True
    """Whether the month's own days are checked (False: no journal named, its folder unknown)."""

    @property
    def folder(self) -> Path:
        """The folder the journal's commands name (the journal file's own when not default)."""
        journal = self.journal.absolute()
        return journal.parent if journal.name == _DEFAULT_NAME else journal


def home_of(store: JournalStore) -> Home:
    """`store` as `part_troubles` reads it (read on the store's own thread: SQLite)."""
    return Home(store.path, store.download_to, store.identity)


def recorded_path(part_journal: Path, journal: Path) -> str:
    """How `journal` records the journal of a part (review 9o #4): relative to `journal`'s
    folder when possible, so moving the whole tree (the folder with its parts) keeps it valid;
    absolute otherwise."""
    target = part_journal.absolute()
    try:
        return os.path.relpath(target, journal.absolute().parent)
    except ValueError:  # another drive (Windows): no relative path
        return str(target)


def part_journal(recorded: str, journal: Path) -> Path:
    """The path of a part's journal recorded by `journal` (`recorded_path`; older journals
    recorded absolute paths, read as they are)."""
    path = Path(recorded)
    if path.is_absolute():
        return path
    return Path(os.path.normpath(journal.absolute().parent / path))


def part_folders(state: m.MonthState, journal: Path) -> tuple[Path, ...]:
    """Where split month `state`'s parts elsewhere are (`split_parts`, recorded by `journal`):
    each part's download folder when its journal is that folder's default one, else the
    journal file itself. Absolute; () for a month that is not split. Reads nothing."""
    if state.stage is not m.Stage.SPLIT:
        return ()
    return tuple(_shown(part_journal(r, journal).absolute()) for r in state.split_parts)


def part_troubles(state: m.MonthState, home: Home | None = None) -> tuple[m.PartTrouble, ...]:
    """What is wrong with split month `state` recorded in `home`'s journal: its own days'
    files (`split_own`) gone from `home`'s download folder, and each part elsewhere
    (`split_parts`) whose journal is gone, unreadable, no longer this download's or no longer
    finished for the month, whose folder lost files, or, split itself, whose own parts have
    trouble; then days no part covers any more. () when all is well, and for a month that is not
    split. `home` None: only the parts elsewhere (absolute records), nothing compared. Reads
    journals and folders only (names, no file is read); raises nothing."""
    if state.stage is not m.Stage.SPLIT:
        return ()
    return _troubles(state, home or Home(Path(_DEFAULT_NAME), own_days=False), frozenset(), 0)


def _troubles(
    state: m.MonthState, home: Home, seen: frozenset[Path], depth: int
) -> tuple[m.PartTrouble, ...]:
    seen = seen | {home.journal.absolute()}
    troubles: list[m.PartTrouble] = []
    found: list[tuple[m.MonthState | None, Path]] = []
    for recorded in state.split_parts:
        journal = part_journal(recorded, home.journal)
        trouble, theirs = _trouble(state, home, journal, seen, depth)
        if trouble is not None:
            troubles.append(trouble)
        found.append((theirs, journal))
    own = _own_parts(state)
    elsewhere = [(t.start, t.end) for t, _ in found if t is not None]
    own_trouble = _own_trouble(state, home, own, elsewhere)
    if own_trouble is not None:
        troubles.insert(0, own_trouble)
    if not troubles and state.split_parts:
        ranges = [*((p.start, p.end) for p in own), *elsewhere]
        gaps = m.uncovered(state.start, state.end, ranges)
        if gaps:
            troubles.append(_gap_trouble(state, home, gaps, found))
    return tuple(troubles)


def _own_parts(state: m.MonthState) -> tuple[m.OwnPart, ...]:
    """The days the month's own folder holds as parts of its split (a journal written before
    `split_own` names its own part when it kept one)."""
    if state.split_own:
        return state.split_own
    kept = m.own_part_of(state, state.start, state.end)
    return () if kept is None else (kept,)


def _own_trouble(
    state: m.MonthState,
    home: Home,
    own: Sequence[m.OwnPart],
    elsewhere: Sequence[tuple[date, date]],
) -> m.PartTrouble | None:
    """The month's own days whose files its folder no longer holds (review 9o #1), as
    `journal split` checked them; not when parts elsewhere now hold those days (a split named
    again with a new folder for them)."""
    # A journal that recorded no folder (older versions) belongs to the folder it sits in.
    where = home.download_to or (home.folder if home.journal.name == _DEFAULT_NAME else None)
    if where is None or not own or not home.own_days:
        return None
    key = state.key
    folder = where.absolute() / key
    short: list[tuple[m.OwnPart, tuple[str, ...]]] = []
    for part in own:
        lost = content.lost_files(folder, part.files)
        if lost and m.uncovered(part.start, part.end, elsewhere):
            short.append((part, lost))
    if not short:
        return None
    days = ", ".join(f"{p.start}..{p.end}" for p, _ in short)
    recorded = sum(len(p.files) for p, _ in short)
    lost_all = [name for _, lost in short for name in lost]
    what = (
        f"this folder's own part of {key} ({folder}) is gone (the journal records {recorded} "
        f"file(s) there for {days})"
        if not folder.exists()
        else f"this folder's own part of {key} ({folder}) no longer holds {len(lost_all)} of the "
        f"{recorded} file(s) the journal records there for {days} (e.g. {lost_all[0]})"
    )
    first, last = short[0][0].start, short[-1][0].end
    others = " ".join(shell_quote(str(_shown(j))) for j in _recorded_journals(state, home))
    again = (
        f"put them back (from a backup) and run the same command again; if they are gone, "
        f"download those days again into a new --out folder (`gigstack-async sat download "
        f"--from {first} --to {last} --rfc-type {state.rfc_type} --type {state.request_type} "
        "--out <new folder> --allow-duplicates`: a new request, possibly billed; it is "
        "identical to a request this folder's journal made for those days, and SAT accepts 2 "
        "identical requests, ever), then `gigstack-async journal "
        f"split {shell_quote(str(home.folder))} {key} <new folder>"
        + (f" {others}" if others else "")
        + " --force` records the month with it (nothing is sent)"
    )
    return m.PartTrouble(what, again)


def _recorded_journals(state: m.MonthState, home: Home) -> list[Path]:
    return [part_journal(r, home.journal) for r in state.split_parts]


def _shown(journal: Path) -> Path:
    """A part's folder as commands name it (its journal file when not the default name)."""
    return journal.parent if journal.name == _DEFAULT_NAME else journal


def _moved_way(state: m.MonthState, home: Home) -> str:
    """The free way when a part folder is not where it was recorded (review 9o #4)."""
    named = " ".join(
        shell_quote(str(_shown(j))) if j.is_file() else f"<new path of {_shown(j).name}>"
        for j in _recorded_journals(state, home)
    )
    return (
        f"if a part folder (or this one) was moved or renamed, `gigstack-async journal split "
        f"{shell_quote(str(home.folder))} {state.key} {named}` records the parts where they are "
        "now (free: nothing is sent)"
    )


def _gap_trouble(
    state: m.MonthState,
    home: Home,
    gaps: Sequence[tuple[date, date]],
    found: Sequence[tuple[m.MonthState | None, Path]],
) -> m.PartTrouble:
    shown = ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in gaps)
    now = ", ".join(f"{_shown(j)} {t.start}..{t.end}" for t, j in found if t is not None)
    return m.PartTrouble(
        f"the parts no longer cover {state.key}'s days {shown} (their journals now record "
        f"{now}: a part folder replaced by another download?)",
        f"put the part folders back (from a backup) and run this folder's download again; if "
        f"they are gone, download those days into a new --out folder (`gigstack-async sat "
        f"download` with their dates and kind), then `gigstack-async journal split "
        f"{shell_quote(str(home.folder))} {state.key} <every part folder>` records the month "
        "with it",
    )


def requested_on_open_day(theirs: m.MonthState) -> str:
    """How a part done on its open day (`theirs.open_day`) was requested: on that day, or
    maybe on it (its request's `createdAt` never shown)."""
    day = theirs.open_day
    if theirs.open_day_unproven:
        return (
            f"may have been requested on {day}, before that day was over (its request's "
            "createdAt was never shown)"
        )
    return f"was requested on {day}, before that day was over"


def open_day_trouble(key: str, part: Path, theirs: m.MonthState) -> m.PartTrouble:
    """Part `part` whose month `key` (`theirs`) is done on its open day
    (`machine.open_day_split`): its CFDIs stamped later that day are not in it."""
    day = theirs.open_day
    when = requested_on_open_day(theirs)
    return m.PartTrouble(
        f"{key} in the part folder {part} {when}: CFDIs stamped later that day, or certified "
        "late at SAT, are not in it",
        f"run that part's `sat download` again (`--out {shell_quote(str(part))}`) once {day} "
        "is over: it then names that day's missing CFDIs as MISSING DAYS, with the way to "
        "request them; once that part is complete, run this folder's download again",
        days=True,
    )


def _trouble(
    state: m.MonthState, home: Home, journal: Path, seen: frozenset[Path], depth: int
) -> tuple[m.PartTrouble | None, m.MonthState | None]:
    """What is wrong with the part whose journal is `journal`, and its month there when it
    counts as a part (for the days the parts cover)."""
    key = state.key
    part = _shown(journal)
    typed = shell_quote(str(part))
    show = f"`gigstack-async journal show {typed} {key}` says what its journal knows"
    again = (
        f"download that part's days again into a new --out folder (`gigstack-async sat "
        "download` with its dates and kind), then `gigstack-async journal split "
        f"{shell_quote(str(home.folder))} {key} <that folder> <the other parts>` records the "
        "month with it"
    )
    if not journal.is_file():
        gone = "is gone" if not part.exists() else f"no longer holds its journal ({journal.name})"
        return m.PartTrouble(
            f"the part folder {part} {gone}",
            f"{_moved_way(state, home)}; else put the part folder back (from a backup) and run "
            f"this folder's download again; if it is gone, {again}",
        ), None
    if journal.absolute() in seen or depth >= _DEPTH:
        return m.PartTrouble(
            f"the part folder {part} is split with parts that lead back to this download"
            if journal.absolute() in seen
            else f"the part folder {part} is split in parts more than {_DEPTH} deep",
            again,
        ), None
    try:
        with JournalStore.open_readonly(journal) as other:
            where = other.download_to
            identity = other.identity
            theirs = other.get(key) if key in other.keys() else None  # noqa: SIM118
    except (JournalError, OSError) as error:
        return m.PartTrouble(
            f"the journal of the part folder {part} cannot be read ({error})",
            f"{show}; if it cannot be mended, {again}",
        ), None
    if home.identity is not None:
        # As `journal split` checked it (a rotated API key is the same owner).
        problems = [p for p in identity.differences(home.identity) if p != "a different API key"]
        if problems:
            return m.PartTrouble(
                f"the part folder {part} is no longer a part of this download (replaced by "
                "another?): its journal has "
                + "; ".join(problems).replace("this run has", "this journal has"),
                f"put the part folder back (from a backup) and run this folder's download "
                f"again; if it is gone, {again}",
            ), None
    if theirs is None:
        return m.PartTrouble(
            f"the journal of the part folder {part} no longer has {key}", again
        ), None
    done = theirs.stage in (m.Stage.DONE, m.Stage.SPLIT) or (
        theirs.stage is m.Stage.NEEDS_ATTENTION and theirs.resume_to is m.Stage.DONE
    )
    if theirs.stage in (m.Stage.DONE, m.Stage.EMPTY) and m.open_day_split(theirs):
        # Requested on its own last day before it was over (review h1 #3: a split recorded
        # with it, before `journal split` refused such a part, was ok for good): the part's
        # own run says MISSING DAYS once that day is over, and so does this month.
        return open_day_trouble(key, part, theirs), theirs
    if theirs.stage is m.Stage.EMPTY:
        return None, theirs
    if not done:
        return m.PartTrouble(
            f"{key} is {theirs.stage.value} in the part folder {part}, no longer finished",
            f"{show} and how to finish it; run that part's `sat download` again (`--out "
            f"{typed}`) until it is done, then run this folder's download again",
        ), None
    if theirs.stage is m.Stage.SPLIT:
        # A part split itself (review 9o #2): its own days and its parts, checked as this
        # month's are, each named inside this part.
        nested = _troubles(theirs, Home(journal, where, identity), seen, depth + 1)
        if not nested:
            return None, theirs
        return m.PartTrouble(
            f"the part folder {part}, itself split: " + "; ".join(t.problem for t in nested),
            "; ".join(dict.fromkeys(t.way for t in nested)),
            days=all(t.days for t in nested),
        ), theirs
    folder = None if where is None else where.absolute() / key
    # The check a run of the part makes of its own done month (`Start.lost`), so a part's
    # files count as a done month's do.
    lost = content.lost_files(folder, theirs.files, content.recorded_extractions(theirs.extracted))
    if not lost:
        return None, theirs
    what = (
        f"the part's month folder {folder} is gone (its journal records {len(theirs.files)} "
        f"file(s) there for {key})"
        if folder is not None and not folder.exists()
        else f"the part's month folder {folder} no longer holds {len(lost)} of the "
        f"{len(theirs.files)} file(s) its journal records for {key} (e.g. {lost[0]})"
    )
    # As the part's next run takes it up (a month stopped at MISSING FILES is done again
    # first): whether its own journal has a free way back.
    try:
        missing, _ = m.transition(theirs, m.Start(want_files=True, lost=lost))
    except m.TransitionError:
        missing = theirs
    free = m.free_way(missing) is not None
    way = (
        f"`gigstack-async journal retry-download {typed} {key}` downloads the part's package "
        f"once more (free: nothing is requested again), then run that part's `sat download` "
        f"again (`--out {typed}`), then this folder's download again"
        if free
        else f"the part's own journal says how to get them back: {show}; then run this "
        "folder's download again"
    )
    return m.PartTrouble(what, way), theirs
