"""The parts elsewhere of a split month, checked on disk (review 9n #5).

`journal split` records a month SAT refused as downloaded in parts, each another `sat download`
folder with its own journal (`MonthState.split_parts`). Each run, and `journal show`, read those
journals (read-only: no lock is taken, nothing is written, a run driving a part goes on) and
check each part still holds the files its journal records for the month, the way a done
month's folder is checked (`content.lost_files`): a part whose files are gone leaves the month
MISSING FILES (`machine.parts_missing`), naming the part folder and its own journal's way back.
"""

from __future__ import annotations

from pathlib import Path

from gigstack_async.bulk import content
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.hints import shell_quote
from gigstack_async.bulk.store import JournalError, JournalStore

_DEFAULT_NAME = ".gigstack-journal.sqlite3"  # bulk.run.DEFAULT_JOURNAL (run imports engine)


def part_troubles(state: m.MonthState) -> tuple[m.PartTrouble, ...]:
    """What is wrong with each part of split month `state` (`MonthState.split_parts`), in the
    order recorded: () when every part's journal still records the month finished and its
    folder holds every file recorded for it, and for a month that is not split. Reads the
    parts' journals and folders only (names, no file is read); raises nothing."""
    if state.stage is not m.Stage.SPLIT:
        return ()
    return tuple(trouble for journal in state.split_parts if (trouble := _trouble(state, journal)))


def _trouble(state: m.MonthState, recorded: str) -> m.PartTrouble | None:
    key = state.key
    journal = Path(recorded)
    part = journal.parent if journal.name == _DEFAULT_NAME else journal
    typed = shell_quote(str(part))
    show = f"`gigstack-async journal show {typed} {key}` says what its journal knows"
    again = (
        f"download that part's days again into a new --out folder (`gigstack-async sat "
        "download` with its dates and kind), then `gigstack-async journal split "
        f"{key} <that folder> <the other parts>` records the month with it"
    )
    if not journal.is_file():
        gone = "is gone" if not part.exists() else f"no longer holds its journal ({journal.name})"
        return m.PartTrouble(
            f"the part folder {part} {gone}",
            f"put the part folder back (from a backup) and run this folder's download again; if it "
            f"is gone, {again}",
        )
    try:
        with JournalStore.open_readonly(journal) as other:
            where = other.download_to
            theirs = other.get(key) if key in other.keys() else None  # noqa: SIM118
    except (JournalError, OSError) as error:
        return m.PartTrouble(
            f"the journal of the part folder {part} cannot be read ({error})",
            f"{show}; if it cannot be mended, {again}",
        )
    if theirs is None:
        return m.PartTrouble(f"the journal of the part folder {part} no longer has {key}", again)
    done = theirs.stage in (m.Stage.DONE, m.Stage.SPLIT) or (
        theirs.stage is m.Stage.NEEDS_ATTENTION and theirs.resume_to is m.Stage.DONE
    )
    if theirs.stage is m.Stage.EMPTY:
        return None
    if not done:
        return m.PartTrouble(
            f"{key} is {theirs.stage.value} in the part folder {part}, no longer finished",
            f"{show} and how to finish it; run that part's `sat download` again (`--out "
            f"{typed}`) until it is done, then run this folder's download again",
        )
    folder = None if where is None else where.absolute() / key
    # The check a run of the part makes of its own done month (`Start.lost`), so a part's
    # files count as a done month's do.
    lost = content.lost_files(folder, theirs.files)
    if not lost:
        return None
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
    return m.PartTrouble(what, way)
