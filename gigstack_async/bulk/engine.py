"""The monthly fan-out: performs what the month state machine (`bulk.machine`) decides.

The engine holds no rules of its own about money or packages. For each month it feeds an
observation to `machine.transition`, writes the new state to the journal (one transaction),
and only then performs the returned commands: a create request, a status call, a package
download to the staging folder, a look for a package already staged, an extraction, a staged
file's removal, a warning.

What the engine owns is scheduling:
- only the months of the plan the user saw are driven (other months in the journal are left
  alone);
- one history call per polling tick for every watched month; a status call only for a request
  missing from it; one month's polling failure never stops the others;
- past `timeout` nothing new is sent (no create, no package download), in-flight calls finish,
  and every month gets its `MonthResult`;
- the run ends as soon as every month is settled, without waiting for another poll interval;
- a planned month whose exact request the latest history lists under an id the journal never
  saw (another folder's run) is held, not sent, unless `allow_duplicates` (`bulk.duplicates`);
  the months sent that the history does not reach back to are named once, before the first
  create (a WARNING; `bulk.reach`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
import re
import sqlite3
import time
import zipfile
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import attrs

from gigstack_async import _departure, _send_window
from gigstack_async._atomic import remove_stale_temp_files
from gigstack_async._dates import MEXICO_CITY, parse_date, today_mx
from gigstack_async._generated.models import (
    DownloadRequest,
    DownloadRequestCreated,
    DownloadRequestStatus,
    RequestType,
    RfcType,
)
from gigstack_async.bulk import content
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.content import PackageScan, scan_package
from gigstack_async.bulk.duplicates import held_hint, held_reason, holding
from gigstack_async.bulk.events import (
    BulkEvent,
    MonthFailed,
    MonthResult,
    MonthWarning,
    PackageDownloaded,
    StateChanged,
    Submitted,
)
from gigstack_async.bulk.hints import open_day_hint, submitting_texts
from gigstack_async.bulk.parts import home_of, part_folders, part_troubles
from gigstack_async.bulk.plan import DownloadPlan, MonthSlot
from gigstack_async.bulk.reach import HistoryReach, history_reach
from gigstack_async.bulk.readings import Reading, Readings
from gigstack_async.bulk.stops import ends_run, server_answered
from gigstack_async.bulk.store import Hold, JournalStore, LogLine
from gigstack_async.bulk.taxpayer import RfcSource
from gigstack_async.bulk.taxpayer import mismatch as taxpayer_mismatch
from gigstack_async.bulk.watch import PollSchedule
from gigstack_async.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BilledResponseValidationError,
    DownloadInterruptedError,
    GigstackError,
    IncompleteResponseError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    SendWindowClosedError,
)
from gigstack_async.packages import (
    DEFAULT_LIMITS,
    CorruptPackageError,
    ExtractedFile,
    ExtractResult,
    PackageDecodeError,
    PackageError,
    PackageLimits,
    StagedPackage,
    extract_staged,
    verify_staged,
)

if TYPE_CHECKING:
    from gigstack_async.resources.downloads import Downloads

logger = logging.getLogger("gigstack_async")

T = TypeVar("T")

HISTORY_WINDOW = m.HISTORY_WINDOW
# Creates for one month in one run (a create gigstack refused before billing may go again).
MAX_SUBMISSIONS_PER_RUN = 8
# Creates of one month in one run that never got as far as a connection before it ends.
NEVER_SENT_PER_RUN = 3
RESUBMIT_BACKOFF_CAP = 30.0
STAGING_DIR = ".gigstack-staging"
HELD = "held"
"""`MonthResult.stage` of a month not sent because the account already has its exact request
(`BulkOptions.allow_duplicates`); in the journal it stays planned."""
# Extractions at once (across months). Each is mostly file creation (kernel work that
# contends on the filesystem's journal) and Python under the GIL: more at once only slow
# each other and the event loop's downloads (measured in the fan-out scenario).
EXTRACTIONS_AT_ONCE = 2


def resubmit_delay(attempt: int, error: GigstackError | None) -> float:
    """Seconds to wait before sending a month's create again in the same run.

    The server's Retry-After wins (a 429 means: not now); else capped, jittered exponential.
    """
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        return min(error.retry_after, RESUBMIT_BACKOFF_CAP)
    return min(0.5 * 2.0**attempt, RESUBMIT_BACKOFF_CAP) * (1 - 0.25 * random.random())


@attrs.frozen
class BulkOptions:
    concurrency: int = 4
    poll: PollSchedule = attrs.field(factory=PollSchedule)
    timeout: float | None = None
    download_to: Path | None = None
    package_limits: PackageLimits = DEFAULT_LIMITS
    allow_duplicates: bool = False
    """Send a month even when the account's history shows an identical request that this
    journal did not send (see `bulk.duplicates`); by default such a month is held."""
    clock: Callable[[], float] = time.time
    """Our clock in epoch seconds: only to record when a create leaves, which a hint may offer
    the user to vouch for (`MonthState.create_sent_at`); never compared with the server's."""


def definitely_not_created(error: GigstackError) -> bool:
    """Only a 4xx refusal (not 408/429) proves that a create request created nothing."""
    return (
        isinstance(error, APIStatusError)
        and 400 <= error.status < 500
        and (error.status not in (408, 429))
    )


def error_sat_code(error: GigstackError) -> int | None:
    if isinstance(error, APIStatusError):
        return m.sat_code(error.code, error.message, *error.details)
    return m.sat_code(str(error))


# ------------------------------------------------------------------ server records -> Seen


def _day(text: str | None) -> object:
    # History dates are GUESS YYYY-MM-DD; a full ISO datetime is read by its date part. An
    # unreadable one is "not reported" (None), which never counts as a match.
    if not text:
        return None
    try:
        return parse_date(text.strip()[:10])
    except ValueError:
        return None


def seen_from_history(entry: DownloadRequest) -> m.Seen:
    start, end = _day(entry.start_date), _day(entry.end_date)
    return m.Seen(
        id=entry.id,
        status=None if entry.status is None else entry.status.value,
        rfc_type=None if entry.rfc_type is None else entry.rfc_type.value,
        request_type=None if entry.request_type is None else entry.request_type.value,
        start=start,  # type: ignore[arg-type]
        end=end,  # type: ignore[arg-type]
        invoice_count=entry.invoice_count,
        package_ids=None if entry.package_ids is None else tuple(entry.package_ids),
        message=entry.status_message,
        # Compared as text only, to tell two requests under one id apart (its unit is a GUESS).
        created_at=None if entry.created_at is None else str(entry.created_at),
    )


def seen_from_status(request_id: str, status: DownloadRequestStatus) -> m.StatusSeen:
    # The status body is NOT FOUND; its criteria (GUESS names and formats) are read when
    # present, normalised (`status_enum`, `status_days`). The machine lets them prove a match
    # or a clear mismatch only (`machine.status_criteria`); a value that does not normalise is
    # None (unknown), which is never a mismatch, and never a match.
    seen = m.Seen(
        id=request_id,
        status=None if status.status is None else status.status.value,
        rfc_type=status_enum(status.rfc_type, RfcType),
        request_type=status_enum(status.request_type, RequestType),
        invoice_count=status.invoice_count,
        package_ids=None if status.package_ids is None else tuple(status.package_ids),
        message=status.status_message,
    )
    return m.StatusSeen(
        seen, starts=status_days(status.start_date), ends=status_days(status.end_date)
    )


def status_enum(text: object, kind: type[RfcType] | type[RequestType]) -> str | None:
    """A status answer's rfc_type / request_type in our form ("CFDI" -> "cfdi"), or None
    when it is not one of the values we know (unknown, never a mismatch)."""
    if not isinstance(text, str):
        return None
    value = text.strip().lower()
    return value if value in {v.value for v in kind} else None


def status_days(text: object) -> tuple[date, ...]:
    """The dates a status answer's date may mean (its format is a GUESS): an ISO date; a
    datetime's date part, and for an instant with an offset ("...Z") its Mexico City date too
    (SAT's dates are Mexico City's: 2024-09-01T05:59:59Z is 2024-08-31 there). `()`: not a
    readable date (unknown)."""
    if not isinstance(text, str) or not text.strip():
        return ()
    text = text.strip()
    try:
        return (parse_date(text),)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return ()
    days = [moment.date()]
    if moment.utcoffset() is not None:
        days.append(moment.astimezone(MEXICO_CITY).date())
    return tuple(dict.fromkeys(days))


def initial_state(slot: MonthSlot) -> m.MonthState:
    return m.MonthState(
        key=slot.key,
        start=slot.start_date,
        end=slot.end_date,
        rfc_type=slot.rfc_type.value,
        request_type=slot.request_type.value,
    )


def merge_plan(
    store: JournalStore,
    plan: DownloadPlan,
    download_to: Path | None = None,
    shown: dict[str, m.MonthState] | None = None,
    opened: dict[str, date] | None = None,
) -> dict[str, str]:
    """Add the plan's new months and take up the recorded ones as `machine.plan_decision`
    says (the rule the plan preview and `BulkDownload.may_create` read too); returns its
    notes, for months whose recorded dates are kept. A month with an own part (days an earlier
    request downloaded into its folder) is told which of its files the folder in
    `download_to` no longer holds (None: not checked), so it is never counted complete
    with files that are gone (review 9i #5). `shown` receives the months this run reports
    other than recorded (`PlanDecision.shown`: the plan's days all in the folder); `opened`
    the months whose note is the open-day one, with the plan's today (`PlanDecision.opened`)."""
    notes: dict[str, str] = {}
    fresh = []
    for slot in plan.slots:
        try:
            state = store.get(slot.key)
        except KeyError:
            fresh.append(initial_state(slot))
            continue
        lost: tuple[str, ...] = ()
        if state.own_part is not None and download_to is not None:
            names = (*state.own_part.files, *state.files)
            lost = content.lost_files(
                download_to / slot.key, names, content.recorded_extractions(state.extracted)
            )
        decision = m.plan_decision(
            state, slot.start_date, slot.end_date, lost=lost, today=plan.today
        )
        if decision.state is not None:
            store.put(decision.state)
        if decision.note is not None:
            notes[slot.key] = decision.note
        if decision.opened is not None and opened is not None:
            opened[slot.key] = decision.opened
        if decision.shown is not None and shown is not None:
            shown[slot.key] = _of_the_plan(decision.shown, state, download_to)
    store.ensure(fresh)
    return notes


def _of_the_plan(
    shown: m.MonthState, state: m.MonthState, download_to: Path | None
) -> m.MonthState:
    """`shown` (a plan's days all in the month's folder, `m.PlanDecision.shown`) with only the
    files of the plan's days when it asks for fewer than its own part's (review 9k #4: a plan
    of 08-16..31 counted 08-15's CFDIs): each CFDI told by its issue date; a file that is not a
    readable CFDI stays (not evidence either way)."""
    own = state.own_part
    if (
        own is None
        or download_to is None
        or (shown.start, shown.end) == (own.start, own.end)
        or shown.stage not in (m.Stage.DONE, m.Stage.EMPTY)
    ):
        return shown
    folder = download_to / state.key
    try:
        heads = content.cfdi_heads(
            [folder / n for n in shown.files if (folder / n).is_file()], rfc_type=state.rfc_type
        )
    except OSError:
        return shown
    outside = {h.name for h in heads if h.day is not None and not shown.start <= h.day <= shown.end}
    if not outside:
        return shown
    extracted = tuple(
        m.ExtractedPackage(e.package_id, tuple(n for n in e.files if n not in outside))
        for e in shown.extracted
    )
    return attrs.evolve(shown, extracted=extracted)


def hold_unrecorded(store: JournalStore, plan: DownloadPlan, download_to: Path | None) -> None:
    """Record as needing the user the plan's months the journal has no record of but that may
    have been requested, and billed, before: its log lists a create for them (their record was
    lost: a damaged or edited journal), or their folder in `download_to` already holds files
    (a deleted journal in a folder that was downloaded into; None: not checked). Never created
    again on a guess."""
    held = []
    for slot in plan.slots:
        if slot.key in store.keys():  # noqa: SIM118 — keys() is a method, not a dict
            continue
        folder = None if download_to is None else download_to / slot.key
        state = held_month(initial_state(slot), store.log(slot.key), folder, today=plan.today)
        if state is not None:
            held.append(state)
    store.ensure(held)


def _duplicate_refused(held: m.MonthState) -> str | None:
    """Why SAT itself would refuse a new request for held month `held`'s dates whatever the
    user allows: a request it was held for got SAT 5003 (too many CFDIs), or the account
    already has SAT's 2 identical requests (`machine.sat_refuses`, as `journal resend`);
    None: neither."""
    refuses = m.sat_refuses(held)
    if refuses is None:
        return None
    if refuses.code == 5003:
        return "SAT answered 5003 (too many CFDIs for one request) for these dates"
    return (
        "the account already has SAT's 2 identical requests for these dates (a third is "
        "refused with 5002)"
    )


def held_month(
    state: m.MonthState, lines: list[LogLine], folder: Path | None, *, today: date | None = None
) -> m.MonthState | None:
    """`state` (a month the journal has no record of, as the plan would add it) as needing the
    user when `lines` (its log) list a create or `folder` (its files' folder) holds files;
    None when nothing says it was ever requested.

    Its dates and SAT's count are those the log kept for the request its hint offers to adopt
    (`_asked_of`); a log showing SAT 5002/5003 anywhere is rebuilt from the whole of it, the
    folder's files told apart by their CFDIs' issue dates (`m.refused_from_log`).
    Its creates and package downloads are the log's last line's (`LogLine.counts`); a log that
    kept none (an older journal), or files with no log, leave them unknown: every request id is
    `uncounted`, so its packages count as spent (never zero), and the folder's files are
    counted (`on_disk`) so that no hint steers to a billed resend without saying they are there.
    """
    key = state.key
    sent = [line for line in lines if line.stage is not m.Stage.PLANNED]
    ids = tuple(dict.fromkeys(line.request_id for line in lines if line.request_id))
    creates = sum(line.stage is m.Stage.SUBMITTING for line in lines)
    files = files_in(folder)
    released = _released_logged(lines)
    gone = {r.id for r in released}
    # The id its hint offers to adopt: never one its log shows it released (review 9v #3: the
    # hint named the request whose package proved another month's, and following it spent
    # that package's last SAT download on the wrong month).
    candidate = next((i for i in reversed(ids) if i not in gone), None)
    note = ""
    if sent:
        shown = f"request id(s) {', '.join(ids)}" if ids else "its request id was not logged"
        if gone:
            shown += f"; released, not its own: {', '.join(r.id for r in released)}"
        reason = (
            f"this journal has no record of {key}, but its log shows it was sent before "
            f"({shown}; last logged state {sent[-1].stage.value}): the record was lost, and a "
            "new create could bill the month again"
        )
        if candidate is not None:
            hint = (
                "check the request in `gigstack-async downloads history` or gigstack's "
                f"dashboard (the month's dates and type), then `gigstack-async journal adopt "
                f"{key} {candidate}` (nothing billed); if it is not there, `gigstack-async "
                f"journal resend {key}` (a new request, may be billed)"
            )
        else:
            hint = (
                "find the month's request in `gigstack-async downloads history` or gigstack's "
                f"dashboard (its dates and type) and `gigstack-async journal adopt {key} "
                f"<request id>` (nothing billed); if it is not there, `gigstack-async journal "
                f"resend {key}` (a new request, may be billed)"
            )
        if gone:
            # No "gigstack-async" before `journal adopt`: `bulk.hints` would put this month in it.
            note = (
                f". Released from {key} (known not to be its own): "
                f"{', '.join(sorted(gone))}; if one holds another month's CFDIs of this "
                "journal, adopt it there (`journal adopt` with that month and the id)"
            )
    elif files:
        reason = (
            f"{folder} already holds {files} file(s), but this journal has no record of {key} "
            "(a deleted or new journal, or the folder's journal kept elsewhere with --journal?): "
            "the month may have been requested, and billed, already"
        )
        hint = (
            "if this folder's download was given --journal FILE, run it with that --journal "
            "again (this journal is then not needed); otherwise "
            "find its request in `gigstack-async downloads history` or gigstack's dashboard by "
            f"its dates and `gigstack-async journal adopt {key} <request id>` (nothing "
            f"billed); or `gigstack-async journal resend {key}` to request it again (may be "
            "billed)"
        )
    else:
        # Never sent: planned again, held as its log last said (review 9m #3).
        holds = _holds_logged(lines)
        if holds:
            asked = _asked_of(lines, None)
            if asked is not None and asked.start is not None and asked.end is not None:
                state = attrs.evolve(state, start=asked.start, end=asked.end)
            return m.held_from_log(state, holds)
        return None
    counts = lines[-1].counts if lines else None
    asked = _asked_of(lines, candidate)
    if candidate is None and gone and asked is not None:
        # Every id it had is released: their count is another request's, never the month's.
        asked = attrs.evolve(asked, invoice_count=None)
    held = m.unrecorded(
        state,
        known_ids=ids,
        creates=creates,
        reason=reason,
        hint=hint,
        counts=counts,
        on_disk=files,
        asked=asked,
        unextracted=m.staged_not_extracted([line.stage for line in lines]),
        staged_copies=staged_copies(None if folder is None else folder.parent, key),
        open_day=_open_day_of(lines, candidate, asked, today),
        released=released,
        # Its requests whose packages expired (SAT 5007, or reported expired: `_expired`
        # logs the request's id with the stage), never offered again (review h1 #2).
        expired=tuple(
            dict.fromkeys(
                line.request_id
                for line in lines
                if line.stage is m.Stage.EXPIRED and line.request_id is not None
            )
        ),
        candidate=candidate,
        given_back=_given_back(lines, candidate),
        note=note,
    )
    logged = [
        m.Logged(line.stage, line.reason, line.request_id, line.asked, line.sat_code)
        for line in lines
    ]
    names = file_names(folder)
    days = None
    if folder is not None and any(m.refusal_code(line) is not None for line in logged):
        # Which request's days each file is of (its CFDI's issue date): read only for a log
        # that shows a 5002/5003, where the folder may hold several requests' days.
        heads = content.cfdi_heads([folder / n for n in names], rfc_type=state.rfc_type)
        days = {h.name: h.day for h in heads}
    # Its own creates keep counting against SAT's 2 identical requests (review 9m #6).
    rebuilt = m.logged_creates(m.refused_from_log(held, logged, names, days) or held, logged)
    holds = _holds_logged(lines)
    # What it was held for stays known (a resend of these dates is held for them again).
    return attrs.evolve(rebuilt, holds=holds) if holds else rebuilt


def _given_back(lines: list[LogLine], request_id: str | None) -> bool:
    """Whether the log shows a create sent after month's request `request_id` (its last line
    with it) that brought no new request id: the server answered it with a request the month
    had (gigstack's `duplicate`), or SAT 5005, or its answer was lost (review h1 #2)."""
    if request_id is None:
        return False
    last = max((i for i, line in enumerate(lines) if line.request_id == request_id), default=-1)
    return any(line.stage is m.Stage.SUBMITTING for line in lines[last + 1 :])


def _released_logged(lines: list[LogLine]) -> tuple[m.ReleasedRequest, ...]:
    """The releases the month's last line that kept them recorded (none: nothing released, or
    a log written before it kept them: repaired as before)."""
    return next((line.released for line in reversed(lines) if line.released is not None), ())


def _holds_logged(lines: list[LogLine]) -> tuple[m.HeldRequest, ...]:
    """The holds the month's last line that kept them recorded (none: never held, or a log
    written before it kept them)."""
    return next((line.holds for line in reversed(lines) if line.holds is not None), ())


def _open_day_of(
    lines: list[LogLine], request_id: str | None, asked: m.Asked | None, today: date | None
) -> date | None:
    """The open day (`MonthState.open_day`) the log kept for `request_id`'s month (review 9m
    #11). A log written before it kept one: when the logged dates end `today` or later (Mexico
    City), the request was sent before that day was over (any request of the journal was sent
    by today), so that end is its open day; otherwise unknown, taken as none (the log keeps no
    create time to tell)."""
    mine = [line for line in lines if request_id is None or line.request_id == request_id]
    logged = next((line for line in reversed(mine) if line.open_day_logged), None)
    if logged is not None:
        return logged.open_day
    end = None if asked is None else asked.end
    return end if end is not None and today is not None and end >= today else None


def _asked_of(lines: list[LogLine], request_id: str | None) -> m.Asked | None:
    """The dates and count the log kept for `request_id` (the request a rebuilt month's hint
    offers to adopt), from that request's own lines: a later line (a resend planned, or its
    create refused) has other dates, and adopting the request then must show MISSING DAYS,
    never the later line's whole month (review 9j #2). No request id: the last line's."""
    if request_id is None:
        return lines[-1].asked if lines else None
    return next(
        (line.asked for line in reversed(lines) if line.request_id == request_id and line.asked),
        None,
    )


def file_names(folder: Path | None) -> tuple[str, ...]:
    """The names of the files in a month's folder (not our hidden temp files), sorted."""
    return content.visible_files(folder)


def staged_copies(download_to: Path | None, key: str) -> int:
    """Staged ZIPs named for month `key` in `download_to`'s staging folder (complete ones:
    a download in progress has a hidden temporary name)."""
    if download_to is None:
        return 0
    staging = download_to / STAGING_DIR
    return sum(1 for f in staging.glob(f"{key}-*.zip") if f.is_file()) if staging.is_dir() else 0


def held_cfdis(folder: Path | None, request_type: str, *, whole: bool = False) -> int:
    """Distinct CFDIs in a month's folder as `journal keep` counts them: `<UUID>.xml` names
    (a copy under another name counts once); metadata: rows of distinct files. 0 when it
    cannot be read. `whole`: only the CFDIs read to their end (`content.damaged_cfdis`: a
    truncated file is no CFDI, review 9m #10), for a month that may stop before downloading
    because its folder holds them (`machine._on_disk_already`)."""
    names = file_names(folder)
    if folder is None or not names:
        return 0
    try:
        if request_type == "cfdi":
            damaged = content.damaged_cfdis(folder / n for n in names) if whole else ()
            return len(content.cfdi_uuids(n for n in names if n not in damaged))
        return content.metadata_rows(folder / name for name in names)
    except OSError:
        return 0


def set_aside_damaged(
    folder: Path,
    names: Sequence[str],
    recorded: Mapping[str, content.Extraction] | None = None,
) -> list[Path]:
    """Move the damaged CFDIs among `names` in `folder` (`content.damaged_files`, with the
    month's `recorded` extractions: a file as the package served it stays) to its
    `machine.DAMAGED_DIR` subfolder, under their own name (`<name>.1`, `.2`, ... when that
    is taken): nothing is deleted. Returns where they went. Raises `OSError`."""
    moved = []
    for name in content.damaged_files(folder, names, recorded):
        aside = folder / m.DAMAGED_DIR
        if aside.exists() and not aside.is_dir():
            # Review 9o #7: said plainly; the month keeps `refill`, nothing is written.
            raise NotADirectoryError(
                f"{aside} is a file, not a folder: a damaged CFDI is moved to that subfolder "
                "before the package's copy is extracted; rename or move that file"
            )
        aside.mkdir(exist_ok=True)
        target = aside / name
        n = 0
        while target.exists():
            n += 1
            target = aside / f"{name}.{n}"
        (folder / name).rename(target)
        moved.append(target)
    return moved


def _extractions(
    files: Sequence[ExtractedFile], whole: Mapping[str, bool] | None = None
) -> list[content.Extraction]:
    """Each extracted file as it is now. `whole`: what the staging pass saw of each
    `<UUID>.xml` member (`Reading.whole`); a file whose bytes looked whole there, or that is
    no CFDI by its name, is only stat'ed (it holds the member's bytes: their CRC-32 was
    checked as they were written), any other is read (`content.extraction_of`)."""
    found = []
    for f in files:
        if content.cfdi_uuid_of(f.path.name) is None or (whole or {}).get(f.name, False):
            stat = os.stat(f.path)
            found.append(content.Extraction(stat.st_size, stat.st_mtime_ns))
        else:
            found.append(content.extraction_of(f.path))
    return found


def _extract_stamped(
    path: Path,
    folder: Path,
    *,
    limits: PackageLimits,
    expected_sha256: str | None,
    overwrite: bool,
    whole: Mapping[str, bool] | None = None,
) -> tuple[ExtractResult, list[content.Extraction]]:
    """`extract_staged`, then each file as extraction left it (review 9o #5, #6: later runs
    read only the ones that changed since; a file the package itself holds damaged is its
    own), in one trip to a worker thread. No stamps ([]) when the files cannot be read: each
    run then looks at the bytes, as for an older journal."""
    result = extract_staged(
        path, folder, limits=limits, expected_sha256=expected_sha256, overwrite=overwrite
    )
    try:
        seen = _extractions(result.files, whole)
    except OSError:
        seen = []
    return result, seen


def _done_with_files(state: m.MonthState) -> bool:
    """A month recorded done (or stopped at MISSING FILES) with files extracted for it: each
    run checks its folder still holds them."""
    done = state.stage is m.Stage.DONE or (
        state.stage is m.Stage.NEEDS_ATTENTION and state.resume_to is m.Stage.DONE
    )
    return done and bool(state.files)


def files_in(folder: Path | None) -> int:
    """Files a run extracted into a month's folder (not our hidden temp files)."""
    return len(file_names(folder))


# ------------------------------------------------------------------ one run


class _Run:
    def __init__(
        self,
        downloads: Downloads,
        store: JournalStore,
        plan: DownloadPlan,
        options: BulkOptions,
    ) -> None:
        self.downloads = downloads
        self.store = store
        self.options = options
        self.keys = [slot.key for slot in plan.slots]
        self.today = plan.today  # Mexico City's date the plan read (`open_day_note`)
        self.events: asyncio.Queue[BulkEvent | None] = asyncio.Queue()
        self.limit = asyncio.Semaphore(options.concurrency)
        self.changed = asyncio.Event()
        self.reported: set[str] = set()
        self.announced: set[str] = set()
        self.resumed: set[str] = set()
        # Month -> the request an earlier run made that this run continues (newcomer 9m #2:
        # `MonthResult.resumed` said False for one an interrupted run created and this one
        # finished, while the CLI printed "resumed from the journal" for it).
        self.continued: dict[str, str] = {}
        self.generation = 0
        self.history_ids: tuple[str, ...] | None = None
        self.history_failures = 0  # history reads failed in a row before this run's first one
        self.history_noted: set[str] = set()
        self.history_created: tuple[tuple[str, str], ...] = ()
        self.history_entries: tuple[m.Seen, ...] = ()
        self.busy: dict[str, int] = dict.fromkeys(self.keys, 0)
        self.sent_this_run: dict[str, int] = dict.fromkeys(self.keys, 0)
        self.never_sent: dict[str, int] = dict.fromkeys(self.keys, 0)
        self.last_error: dict[str, GigstackError] = {}
        self.stopping = False
        self.stop = asyncio.Event()
        # When `timeout=` ends the run, on the event loop's clock (`now`), the one clock every
        # check of it reads: the main loop, and each create, package GET and status call right
        # before it leaves (review 9w #10: a call queued for a slot went out past it).
        self.deadline: float | None = None
        self.cancelled = False
        self.created_ids: set[str] = set()
        # A package GET that never left, or was answered 429: how many times in this run, and
        # the last error (a 429's Retry-After paces the next GET).
        self.package_failures: dict[str, tuple[int, GigstackError]] = {}
        self.readings = Readings()  # what staging read of each package (bulk.readings)
        self.notes: dict[str, str] = {}
        # Months whose plan's days are all in the folder while the record is not ok: reported
        # as `machine.plan_decision` shows them (their record, unchanged, stays the journal's).
        self.shown: dict[str, m.MonthState] = {}
        # Months whose note is the open-day MISSING DAYS one, with the plan's today: read again
        # from the month's state when reported (this run's history may have settled the day).
        self.opened: dict[str, date] = {}
        self.tasks: asyncio.TaskGroup | None = None
        # Absolute: `journal resend` (maybe run from another folder) finds what it must delete.
        self.staging = (
            None if options.download_to is None else options.download_to.absolute() / STAGING_DIR
        )
        self.deletable: list[Path] = []
        self.extracting = asyncio.Semaphore(EXTRACTIONS_AT_ONCE)
        # The fsynced commit the package GETs made ready together wait for (`_durable`).
        self.sync_waiter: asyncio.Future[None] | None = None
        self.reach_checked = False
        self.on_reach: Callable[[HistoryReach], None] | None = None
        # The server has answered a call of this run (an HTTP status, any): from then on a
        # connection failure is transient (`bulk.stops`).
        self.answered = False
        # What stops the run and is raised from it once in-flight calls are recorded: a 401/403,
        # or no answer at all from the server (`bulk.stops.ends_run`).
        self.fatal: GigstackError | None = None
        # Every log line of this run names its folder (newcomer 9j F2: several `bulk()` runs in
        # one process logged identical-looking WARNINGs), in the text and as `extra=` fields.
        folder = options.download_to
        self.log_name = f"bulk download to {folder}" if folder else f"bulk journal {store.path}"
        self.log_extra = {
            "download_to": None if folder is None else str(folder),
            "journal": str(store.path),
        }

    def log(self, level: int, message: str, *args: object) -> None:
        """Log `message` (%-style with `args`) on the `gigstack_async` logger, led by this run's
        folder (`bulk download to <download_to>: ...`, or its journal without one) and with
        `extra` fields `download_to` (None without one) and `journal` (the journal's path)."""
        logger.log(level, "%s: " + message, self.log_name, *args, extra=self.log_extra)

    # ---------------------------------------------------------------- the machine

    def feed(self, key: str, obs: m.Observation) -> None:
        """Transition the month, persist it, then perform its commands."""
        old = self.store.get(key)
        new, commands = m.transition(old, obs)
        # Durable (fsynced) before anything that may bill, spend SAT's budget or delete a
        # staged package; the rest survives a killed process, and recovery after a power cut
        # goes through the history and the staging folder. A `FetchPackage` spends nothing by
        # itself: its GET leaves only after `PackageSending` is durable (the WAL is sequential,
        # so that commit makes this one durable too). `PackageSending` is committed here and
        # made durable by `fetch` (`_durable`): the GETs made ready together share one fsync.
        # A staged package whose extraction is recorded is deleted only once that record is
        # durable, but the record need not be fsynced on its own: deletions wait for the next
        # fsynced commit (the next package GET's, or `_delete_staged` at the end of the run).
        # Nor need `PackageStaged`: a record lost to a power cut costs no download, because
        # the staged file is found by name on disk first (`fetch`, and `FindStaged` when the
        # budget is spent).
        guarded = isinstance(obs, m.Send) or any(isinstance(c, m.SendCreate) for c in commands)
        self.store.put(new, fsync=guarded)
        if guarded:
            self._delete_staged(synced=True)
        self.announce(old, new)
        for command in commands:
            self.perform(key, command)
        self.changed.set()

    def perform(self, key: str, command: m.Command) -> None:
        match command:
            case m.SendCreate():
                self.spawn(key, self.create(key))
            case m.FetchStatus(request_id=request_id):
                self.spawn(key, self.status(key, request_id))
            case m.FetchPackage(package_id=package_id):
                self.spawn(key, self.fetch(key, package_id))
            case m.FindStaged(package_id=package_id):
                self.spawn(key, self.find_staged(key, package_id))
            case m.ExtractPackage(package_id=package_id, path=path):
                self.spawn(key, self.extract(key, package_id, self._staged_file(path)))
            case m.DeleteStaged(path=path):
                self.deletable.append(self._staged_file(path))  # once the journal is synced
            case m.Warn(message=message):
                self.log(logging.WARNING, "%s", message)
                self.emit(MonthWarning(key, message))

    def spawn(self, key: str, work: Awaitable[None]) -> None:
        if self.tasks is None or self.cancelled:
            # Shutting down: the next run's Start derives this command again from the journal.
            if asyncio.iscoroutine(work):
                work.close()
            return
        self.busy[key] += 1

        async def tracked() -> None:
            try:
                await work
            finally:
                self.busy[key] -= 1
                self.changed.set()

        self.tasks.create_task(tracked())

    def heard(self, error: GigstackError | None, *, one_request: bool = False) -> None:
        """Note how a call of the run ended (None: answered); a failure that ends the whole run
        (`bulk.stops.ends_run`: a 401, a 403 on a call about the account, or a server that never
        answered) stops it: nothing new is sent, and the run raises it once the calls in flight
        are journaled. `one_request`: the call was about one request (status, package)."""
        if error is None:
            self.answered = True
            return
        if isinstance(error, SendWindowClosedError):
            self.past_deadline()  # not sent: says nothing of the server or the key
            return
        if self.fatal is None and ends_run(error, answered=self.answered, one_request=one_request):
            self.log(logging.ERROR, "the bulk run stops: %s", error)
            self.fatal = error
            self.stopping = True
            self.stop.set()
        if server_answered(error):
            self.answered = True

    def now(self) -> float:
        """The run's clock (the event loop's, seconds): what `deadline` is on."""
        return asyncio.get_running_loop().time()

    def past_deadline(self) -> bool:
        """Whether the run is stopping: its deadline passed (noted here, so every task sees it
        at once), or a failure ended it. Checked by every call that would send something new,
        right before it leaves, not only by the main loop between ticks: a create or package
        GET waiting for a concurrency slot while the loop sits in a slow history read must
        not leave after the deadline (review 9w #10)."""
        if not self.stopping and self.deadline is not None and self.now() >= self.deadline:
            self.stopping = True
            self.stop.set()
        return self.stopping

    # ---------------------------------------------------------------- events

    def emit(self, event: BulkEvent) -> None:
        self.events.put_nowait(event)

    def announce(self, old: m.MonthState, new: m.MonthState) -> None:
        if new.request_id and new.request_id != old.request_id and new.key not in self.announced:
            self.announced.add(new.key)
            # Resumed: an earlier run's create whose answer was lost. One this run sent and
            # found in the history is this run's (newcomer 9k #5: "resumed from the journal"
            # on a first run).
            resumed = (
                old.stage is m.Stage.SUBMITTING
                and old.unknown
                and not self.sent_this_run.get(new.key, 0)
            )
            if resumed:
                self.continued[new.key] = new.request_id
            self.emit(Submitted(new.key, new.request_id, new.duplicate, resumed=resumed))
        if new.sat_state != old.sat_state and new.sat_state and new.request_id:
            self.emit(StateChanged(new.key, new.request_id, new.sat_state, new.invoice_count))

    def finish(
        self,
        state: m.MonthState,
        *,
        error: str | None = None,
        hint: str | None = None,
        stage: str | None = None,
    ) -> None:
        if state.key in self.reported:
            return
        self.reported.add(state.key)
        view = self.shown.get(state.key)
        if view is not None and error is None and (state.stage is m.Stage.SAT_FAILED or state.ok):
            # The record is SAT-failed, or done for part of the plan's days with its own part
            # holding the rest (`m.PlanDecision.shown`): this plan's days are all here. Or
            # split with a part elsewhere that lost files (`m.parts_missing`): not complete.
            state = view
        note = self.notes.get(state.key)
        today = self.opened.get(state.key)
        if note is not None and today is not None:
            # Written from the record before this run's history: that history may have listed
            # the adopted request's `createdAt` after the month was over (review 9r #3).
            note = m.open_day_note(state, today)
        elif note is None and state.open_day is not None:
            # Finished in this run from a stage the plan had no open-day note for (newcomer
            # 9l #1: needs-attention after a broken package download): the note the next run's
            # plan gives the same state, so one state has one verdict (done and ok here, then
            # MISSING DAYS with nothing sent, before).
            note = m.open_day_note(state, self.today)
        if (
            error is None
            and state.ok
            and note
            and note.startswith(("MISSING DAYS", m.MISSING_FILES))
        ):
            error = note  # never "ok" with days of the plan missing
            note = None
        if error is None and not state.ok:
            error = _explain(state)
        if (
            error is None
            and state.stage in (m.Stage.DONE, m.Stage.EMPTY)  # split: its parts hold the day
            and state.open_day is not None
            and hint is None
        ):
            hint = open_day_hint(  # complete once that day is over
                state.open_day, today_mx(), unproven=state.open_day_unproven
            )
        if error is not None:
            if note:
                error = f"{error} ({note})"
            if not (hint or state.hint):
                # Never a month that is not ok without its next step in `hint` (newcomer 9k
                # #3: a done month's MISSING DAYS had its whole way forward in `error`).
                error, hint = next_step(error, state.key)
            # The same hint as the MonthResult's (a held month's is not the state's own).
            shown = hint or state.hint
            self.emit(MonthFailed(state.key, error, hint=shown))
        folder = None if self.options.download_to is None else self.options.download_to / state.key
        gone = set(state.lost_files) if state.resume_to is m.Stage.DONE else set()
        # A month with MISSING FILES lists only the files its folder still holds (newcomer 9h
        # #1: "59 files" for a folder that was gone).
        names = [name for name in state.files if name not in gone]
        files = tuple(folder / name for name in names) if folder is not None else ()
        if state.stage is m.Stage.SPLIT and folder is not None and folder.is_dir():
            # Downloaded in parts elsewhere: what `journal split`'s printed `cp` put here is the
            # month's files in this folder too (newcomer 9e #7: the totals left them out).
            mine = set(files)
            files += tuple(
                sorted(
                    f
                    for f in folder.iterdir()
                    if f.is_file() and not f.name.startswith(".") and f not in mine
                )
            )
        sat_state = state.sat_state
        if state.ok:
            sat_state = "completed"
        elif state.stage is m.Stage.SAT_FAILED:
            sat_state = "failed"
        elif state.stage is m.Stage.EXPIRED:
            sat_state = "expired"
        self.emit(
            MonthResult(
                state.key,
                request_id=state.request_id,
                state=sat_state,
                invoice_count=state.invoice_count,
                files=files,
                error=error,
                duplicate=state.duplicate,
                resumed=state.key in self.resumed
                or (
                    state.request_id is not None
                    and self.continued.get(state.key) == state.request_id
                ),
                stage=stage or state.stage.value,
                hint=hint or state.hint,
                # Split: its parts hold that day, checked each run (`bulk.parts`; review h1
                # #3: "run the same command again tomorrow" on a split month, ok for good).
                open_day=None if state.stage is m.Stage.SPLIT else state.open_day,
                window_cut=m.cut_days(state, state.start),
                parts=part_folders(state, self.store.path),
            )
        )

    def report_settled(self) -> None:
        for key in self.keys:
            state = self.store.get(key)
            if state.settled and self.busy[key] == 0 and key not in self.reported:
                self.finish(state)

    # ---------------------------------------------------------------- commands

    async def create(self, key: str) -> None:
        state = self.store.get(key)
        with _departure.watch() as departure:
            # Its own task (the departure is in its context): a stopping run waits for the
            # answer of a create already on its way and records it (review 13b #1: the run
            # stopped at once, and a create gigstack made was left an unknown outcome, which a
            # history that lags leaves to `journal resend`, a second bill).
            task = asyncio.ensure_future(
                self.downloads.create_request(
                    start_date=state.start,
                    end_date=state.end,
                    rfc_type=state.rfc_type,
                    request_type=state.request_type,
                )
            )
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():  # this run stops
                await self._create_stopped(key, task, departure)
            elif departure.never_left:  # the call itself was cancelled, before it left
                self._create_not_sent(key)
            raise
        except Exception:  # the call's own error: `_record_create` reads it
            pass
        self._record_create(key, task)

    async def _create_stopped(
        self,
        key: str,
        task: asyncio.Future[DownloadRequestCreated],
        departure: _departure.Departure,
    ) -> None:
        """The run was cancelled (Ctrl-C, `break`) while month `key`'s create was in `task`:
        one that cannot have left this machine is cancelled (nothing billed: the month is
        planned again); one on its way is waited for and its answer recorded. Cancelled again
        meanwhile, it leaves the month as it is (`submitting`: the next run reconciles)."""
        if not task.done() and departure.never_left:
            task.cancel()  # it lands where the call waits: a slot, a connection
        else:
            self.cancelled = True
        await asyncio.wait([task])
        if task.cancelled():
            if departure.never_left:
                self._create_not_sent(key)
            return
        self._record_create(key, task)

    def _create_not_sent(self, key: str) -> None:
        """Month `key`'s create was cancelled before a byte of it left this machine: no server
        saw it, nothing billed; the month is planned again."""
        self.feed(key, m.CreateNotSent("cancelled before it left this machine"))

    def _record_create(self, key: str, task: asyncio.Future[DownloadRequestCreated]) -> None:
        """What month `key`'s finished create `task` answered, fed to the machine."""
        try:
            created = task.result()
        except BilledResponseValidationError as error:
            self.heard(None)
            # A 2xx: it went through. Its id, when readable, is as good as a clean answer.
            request_id = (error.data or {}).get("request_id")
            if isinstance(request_id, str) and request_id.strip():
                duplicate = (error.data or {}).get("duplicate") is True
                if not duplicate:
                    self.created_ids.add(request_id)
                self.feed(key, self._created(key, request_id, duplicate=duplicate))
            else:
                # A 2xx without a readable id: the request exists. Never resent; adopted only
                # by an exact history match, else the month needs attention.
                self.feed(key, m.CreateUnknown(str(error), self.generation, exists=True))
            return
        except GigstackError as error:
            self.heard(error)
            self.last_error[key] = error
            if definitely_not_created(error):
                # The window start other months' refusals named: this month's hint never
                # offers a start the server already refused (newcomer 9j F1c).
                states = self.store.states()
                known = [s.server_oldest for s in states if s.server_oldest]
                before = [s.window_refused for s in states if s.window_refused]
                refused = m.CreateRefused(
                    str(error),
                    error_sat_code(error),
                    window_start=max(known, default=None),
                    window_refused=max(before, default=None),
                )
                self.feed(key, refused)
            elif isinstance(error, SendWindowClosedError) and not error.request_sent:
                # Queued for the client's in-flight limit until after the deadline: not sent,
                # nothing billed; the month stays planned and the next run sends it.
                self.feed(key, m.CreateNotSent(str(error)))
            elif isinstance(error, APIConnectionError) and not error.request_sent:
                # Every attempt failed to connect: the server never saw it, nothing billed.
                self.log(
                    logging.INFO, "create request for %s never reached the server (%s)", key, error
                )
                self.feed(key, m.CreateNotSent(str(error)))
                self.never_sent[key] += 1
                if self.never_sent[key] >= NEVER_SENT_PER_RUN:
                    # The server cannot be reached for creates (it went down, or a proxy only
                    # the caller's session knows): end the month now, nothing billed, rather
                    # than retry silently until MAX_SUBMISSIONS_PER_RUN.
                    self.finish(
                        self.store.get(key),
                        error=f"the create request never reached the server in "
                        f"{self.never_sent[key]} tries ({error}); nothing was billed",
                        hint="run the same command again once the API can be reached (billed "
                        "calls use their own connection, not a session= passed to the client: "
                        "a proxy only that session knows is not used)",
                    )
            else:
                self.log(logging.INFO, "create request for %s: outcome unknown (%s)", key, error)
                message = str(error)
                if isinstance(error, RateLimitError):
                    # Not read as "refused": a wrong guess bills twice (a package GET is
                    # different: SAT's own 5008 stops a third download at no cost).
                    message = f"429 rate limited, but gigstack may still have processed it: {error}"
                self.feed(key, m.CreateUnknown(message, self.generation))
            return
        self.heard(None)
        if not created.duplicate:
            self.created_ids.add(created.request_id)
        self.feed(key, self._created(key, created.request_id, duplicate=bool(created.duplicate)))

    def _created(self, key: str, request_id: str, *, duplicate: bool) -> m.Created:
        """The create's answer as the machine takes it: a `duplicate` (gigstack's identical
        request, not this create's) with today and its `createdAt` as the latest history
        listed it, so its open day is derived as for an adopt (review 9n #4)."""
        if not duplicate:
            return m.Created(request_id)
        created = dict(self.history_created).get(request_id)
        states = self.store.states()
        released = tuple(r for s in states for r in s.released_marked() if r.id == request_id)
        # Another month that follows it, or knows it without having released it (a release a
        # `journal repair` forgot: review 9v #2a), may download it: never taken here too.
        return m.Created(
            request_id,
            True,
            today=today_mx(),
            created_at=created,
            released=released,
            journal_ids=self._journal_ids(),
        )

    def _journal_ids(self) -> tuple[tuple[str, str], ...]:
        """(month key, request id) of every id every month of the journal knows, the plan's
        or not, except those it released (known not to be its request): the machine's
        `_owners` reads from them who else has a request, and `_taken` whether it was made
        outside this journal."""
        return tuple(
            (s.key, i)
            for s in self.store.states()
            for i in s.known_ids
            if i not in s.released_ids()
        )

    def _queue_orphan_staged(self) -> None:
        """Queue for deletion this journal's staged ZIPs that no month refers to any more: a
        damaged or unrecorded copy left by a killed run whose month was since resent, adopted
        elsewhere or finished. Kept: every ZIP the month may still need (`m.may_need_staged`):
        a recorded staged file, a package of a month not extracted yet (a run killed after
        staging, before the journal heard, left it there for `FindStaged`), and any package of
        an unfinished month whose packages are unknown (rebuilt by `journal repair`). Only
        names this journal's downloads produced are touched: the staging folder may be shared
        with another journal's run."""
        assert self.staging is not None
        ours: set[str] = set()
        wanted: set[str] = set()
        for state in self.store.states():
            for pid, _ in state.downloads:
                name = f"{state.key}-{_safe(pid)}.zip"
                ours.add(name)
                if m.may_need_staged(state, pid):
                    wanted.add(name)
            wanted.update(Path(f.path).name for f in state.staged)
        for name in sorted(ours - wanted):
            path = self.staging / name
            if path.is_file() and path not in self.deletable:
                self.deletable.append(path)

    def _staged_file(self, recorded: str) -> Path:
        """Where a recorded staged file is now: in this run's staging folder by its name (the
        download folder, journal inside, may have been moved since it was recorded), else as
        recorded."""
        if self.staging is not None:
            here = self.staging / Path(recorded).name
            if here.is_file() or not Path(recorded).is_file():
                return here
        return Path(recorded)

    def _staged_path(self, key: str, package_id: str) -> Path:
        assert self.staging is not None
        return self.staging / f"{key}-{_safe(package_id)}.zip"

    async def _staged_on_disk(self, key: str, package_id: str) -> m.StagedFile | None:
        """A complete, verified staged file of the package, else None.

        A run killed after the package was staged but before the journal said so leaves it:
        the staged file is renamed into place only once complete.
        """
        dest = self._staged_path(key, package_id)
        if not await asyncio.to_thread(dest.is_file):
            return None
        try:
            manifest = await asyncio.to_thread(verify_staged, dest, self.options.package_limits)
            size = (await asyncio.to_thread(dest.stat)).st_size
        except (GigstackError, OSError):
            return None  # not usable: as if it were not there
        return m.StagedFile(package_id, str(dest), manifest.sha256, size)

    async def find_staged(self, key: str, package_id: str) -> None:
        found = await self._staged_on_disk(key, package_id)
        if found is None:
            self.feed(key, m.StagedMissing(package_id))
        else:
            self.feed(key, m.PackageStaged(found))

    async def fetch(self, key: str, package_id: str) -> None:
        dest = self._staged_path(key, package_id)
        found = await self._staged_on_disk(key, package_id)
        if found is not None:
            self.feed(key, m.PackageStaged(found))
            return
        failed = self.package_failures.get(package_id)
        if failed is not None:
            # A 429's Retry-After wins: sending again sooner would only be refused again.
            failures, last_error = failed
            await self._pause(resubmit_delay(failures - 1, last_error))
        await self.limit.acquire()
        held = True

        def release() -> None:
            # The slot bounds HTTP requests: it is freed as soon as the body has arrived, so
            # the next GET need not wait for this one's fsyncs and verification.
            nonlocal held
            if held:
                held = False
                self.limit.release()

        try:
            # Checked with the slot held (review 9w #10).
            if self.past_deadline():
                return  # past the deadline: not sent, not counted; the next run fetches it
            before = self.store.get(key).downloads_of(package_id)
            self.feed(key, m.PackageSending(package_id))  # counted before the GET leaves
            if self.store.get(key).downloads_of(package_id) <= before:
                return  # the machine refused it (SAT's budget, or the month moved on)
            try:
                await self._durable()  # the count is on disk before the GET leaves
            except asyncio.CancelledError:
                # Not sent: the download is given back (the next run may GET it).
                self.cancelled = True
                self.feed(
                    key,
                    m.PackageFailed(package_id, "cancelled before it was sent", sent=False),
                )
                raise
            # A deadline passing during that fsync is the pipeline's to check (the run's send
            # window): the GET then never leaves and its count is given back.
            state = self.store.get(key)
            reading = Reading(start=state.start, end=state.end, rfc_type=state.rfc_type)
            task = asyncio.ensure_future(
                self.downloads.fetch_package_to(
                    package_id,
                    dest,
                    limits=self.options.package_limits,
                    on_received=release,
                    inspect=reading,
                )
            )
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                # A download in flight may already have been served: wait for it and record
                # it, or the next run would spend SAT's budget again.
                self.cancelled = True
                await asyncio.wait([task])
                self._record_fetch(key, package_id, task, reading)
                raise
            except (GigstackError, OSError):
                pass
            self._record_fetch(key, package_id, task, reading)
        finally:
            release()

    async def _durable(self) -> None:
        """Return once every journal commit made so far is on disk, power loss included.

        The package GETs made ready together (the months one history call saw complete, or
        slots freed by answers that arrived together) share one fsynced commit, instead of each
        blocking the event loop for its own fsync, in turn, before the first GET may leave
        (tens of ms each on a busy disk). The fsync runs two turns of the loop after the first
        caller asks, so the fetches woken with it have recorded their counts by then.
        """
        waiter = self.sync_waiter
        if waiter is None:
            loop = asyncio.get_running_loop()
            waiter = self.sync_waiter = loop.create_future()
            loop.call_soon(loop.call_soon, self._sync_now, waiter)
        await asyncio.shield(waiter)  # one waiter cancelled does not cancel the others

    def _sync_now(self, waiter: asyncio.Future[None]) -> None:
        self.sync_waiter = None
        # Retrieved even when every fetch waiting on it was cancelled (no "never retrieved").
        waiter.add_done_callback(lambda done: done.cancelled() or done.exception())
        if self.tasks is None:  # the run is over: its fetches were cancelled, none waits
            waiter.cancel()
            return
        try:
            self.store.sync()
        except Exception as error:  # the GETs waiting on it do not leave
            if not waiter.done():
                waiter.set_exception(error)
            return
        if not waiter.done():
            waiter.set_result(None)
        try:
            self._delete_staged(synced=True)
        except OSError as error:
            # Kept, not lost: the next run deletes them (`_sweep_staged`).
            self.log(logging.WARNING, "staged packages kept until the next run: %s", error)

    def _record_fetch(
        self,
        key: str,
        package_id: str,
        task: asyncio.Future[StagedPackage],
        reading: Reading | None = None,
    ) -> None:
        if task.cancelled():
            self.feed(key, m.PackageFailed(package_id, "cancelled while downloading"))
            return
        error = task.exception()
        if isinstance(error, GigstackError):
            self.heard(error, one_request=True)
            # Free only when the GET never left (a connect failure the pipeline retried to
            # exhaustion) or was refused before anything was served: a 401 is gigstack refusing
            # the key, never an answer after SAT acted. A 5xx may come from a gateway after SAT
            # served the package, and a 429 or 403 from a limiter or a signed link behind the
            # API (GUESS): counted, unsure (review 9g finding 2).
            never_sent = isinstance(error, AuthenticationError) or (
                isinstance(error, APIConnectionError)
                and not isinstance(
                    error, DownloadInterruptedError | OutcomeUnknownError | IncompleteResponseError
                )
            )
            rate_limited = isinstance(error, RateLimitError)
            spent = not never_sent
            if never_sent or rate_limited:
                failures = self.package_failures.get(package_id, (0, error))[0]
                self.package_failures[package_id] = (failures + 1, error)
            self.feed(
                key,
                m.PackageFailed(
                    package_id,
                    str(error),
                    error_sat_code(error),
                    sent=spent,
                    rate_limited=rate_limited,
                    reached=package_served(error),
                ),
            )
        elif isinstance(error, OSError):  # disk full while staging: the download was spent
            self.feed(key, m.PackageFailed(package_id, f"cannot stage the package: {error}"))
        elif error is not None:
            raise error
        else:
            self.heard(None)
            staged = task.result()
            if reading is not None:
                self.readings.keep(package_id, staged.sha256, reading)
            self.feed(
                key,
                m.PackageStaged(
                    m.StagedFile(package_id, str(staged.path), staged.sha256, staged.size)
                ),
            )

    async def extract(self, key: str, package_id: str, path: Path) -> None:
        assert self.options.download_to is not None
        folder = self.options.download_to / key
        state = self.store.get(key)
        recorded = [f for f in state.staged if f.package_id == package_id]
        # First: are these the bytes that were downloaded? A copy that changed on disk says
        # nothing about the request, so it is StagedLost (downloaded again while SAT's budget
        # allows), never ContentRejected (which drops the request and advises a resend).
        if recorded:
            changed = await _finish_even_if_cancelled(
                asyncio.to_thread(_staged_changed, path, recorded[0].sha256)
            )
            if changed is not None:
                self.feed(key, _discard(path, m.StagedLost(package_id, f"{path}: {changed}")))
                return
        # The package says what it is: another request's CFDIs (a reused or mistyped request
        # id) are never extracted into the month (review 9b #4, #5). Only positive evidence
        # refuses (bulk.content); the same reading yields the taxpayer's RFC. The pass that
        # verified the package as it was staged read it (bulk.readings); a package staged by
        # an earlier run is read here, under the same limits. Not folded into extraction's
        # own pass: a damaged member further in (extraction verifies everything first) must
        # not turn a content refusal into a lost copy.
        reading = (
            self.readings.take(
                package_id, recorded[0].sha256, state.start, state.end, state.rfc_type
            )
            if recorded
            else None
        )
        if reading is not None:
            scan: PackageScan | None = reading.verdict(
                request_type=state.request_type, journal_rfc=self.store.identity.rfc
            )
        else:
            scan = await self._scan_staged(state, path)
        if scan is not None and scan.mismatch is not None:
            self.feed(key, m.ContentRejected(package_id, scan.mismatch))
            return
        refused = await self._check_taxpayer(key, package_id, path, scan)
        if refused is not None:
            self.feed(key, refused)
            return
        try:
            if state.refill and state.lost_files:
                # A damaged CFDI (review 9n #3) is moved aside, never deleted, so the package's
                # copy can take its place; an intact file is never overwritten.
                await _finish_even_if_cancelled(
                    asyncio.to_thread(
                        set_aside_damaged,
                        folder,
                        state.lost_files,
                        content.recorded_extractions(state.extracted),
                    )
                )
            async with self.extracting:
                result, seen = await _finish_even_if_cancelled(
                    asyncio.to_thread(
                        _extract_stamped,
                        path,
                        folder,
                        limits=self.options.package_limits,
                        expected_sha256=recorded[0].sha256 if recorded else None,
                        # A refill never replaces a file the folder still holds (newcomer 9h #1).
                        overwrite=not state.refill,
                        whole=None if reading is None else reading.whole,
                    )
                )
        except (FileNotFoundError, CorruptPackageError, PackageDecodeError) as error:
            # Not the bytes that were staged (gone, damaged, replaced): extracting it again
            # cannot help; the machine drops it and downloads again if SAT's budget allows.
            self.feed(key, _discard(path, m.StagedLost(package_id, f"{path}: {error}")))
            return
        except (GigstackError, OSError) as error:
            self.feed(key, m.ExtractFailed(package_id, str(error)))
            return
        names = tuple(f.name for f in result.files)
        stamps = tuple((e.size, e.mtime_ns) for e in seen)
        served = tuple(
            (name, e.served_sha256)
            for name, e in zip(names, seen, strict=False)
            if e.served_sha256 is not None
        )
        staged = [f for f in self.store.get(key).staged if f.package_id == package_id]
        size = staged[0].size if staged else 0
        self.feed(key, m.Extracted(package_id, names, stamps, served))
        self.emit(PackageDownloaded(key, package_id, tuple(f.path for f in result.files), size))

    async def _scan_staged(self, state: m.MonthState, path: Path) -> PackageScan | None:
        """`scan_package` on the staged ZIP at `path`; None when it cannot be read (extraction
        then says why, and writes nothing)."""
        try:
            return await _finish_even_if_cancelled(
                asyncio.to_thread(
                    scan_package,
                    path,
                    request_type=state.request_type,
                    start=state.start,
                    end=state.end,
                    rfc_type=state.rfc_type,
                    journal_rfc=self.store.identity.rfc,
                    limits=self.options.package_limits,
                )
            )
        except (zipfile.BadZipFile, OSError, ValueError, GigstackError):
            return None

    async def _check_taxpayer(
        self, key: str, package_id: str, path: Path, scan: PackageScan | None
    ) -> m.Observation | None:
        """Learn the journal's RFC from the package's documents (`bulk.content` read them all,
        and refused a package whose documents name several taxpayers) when the server vouched
        for the month's request (`machine.teaches_rfc`), or refuse a package of another
        taxpayer before anything is extracted (it stays staged)."""
        state = self.store.get(key)
        rfc = None if scan is None else scan.rfc  # unreadable: never learnt from
        if rfc is None:
            return None
        vouched = m.teaches_rfc(state)
        recorded = self.store.identity.rfc
        if recorded is None:
            if vouched:
                source = RfcSource("server", key, state.request_id)
                self.store.learn_rfc(rfc, source)
            # A request only the user vouched for teaches nothing (review 9e #1): an issued
            # request with one receiver passes the content check of a received month.
            return None
        if recorded == rfc:
            return None
        staged = [f for f in state.staged if f.package_id == package_id]
        replaced = await asyncio.to_thread(
            _not_staged_copy, path, staged, self.options.package_limits
        )
        if replaced:  # not the package that was downloaded: another copy may be right
            return _discard(
                path, m.StagedLost(package_id, f"{path}: not the bytes that were staged")
            )
        reason, hint = taxpayer_mismatch(
            key,
            state.rfc_type,
            rfc,
            recorded,
            self.store.rfc_source,
            server_vouched=vouched,
            request_id=state.request_id,
        )
        return m.ExtractFailed(package_id, reason, hint=hint)

    async def status(self, key: str, request_id: str) -> None:
        failures = self.store.get(key).poll_failures
        if failures:
            # A retried status call backs off (capped, jittered): never a tight loop.
            await self._pause(resubmit_delay(failures - 1, None))
        if self.past_deadline():
            return
        try:
            answer = await self.downloads.status(request_id)
        except SendWindowClosedError as error:
            self.heard(error)  # not sent: the deadline passed; not a polling failure
            return
        except GigstackError as error:
            self.heard(error, one_request=True)
            self.feed(key, m.PollFailed(str(error), not_found=isinstance(error, NotFoundError)))
            return
        self.heard(None)
        self.feed(key, seen_from_status(request_id, answer))

    # ---------------------------------------------------------------- the loop

    async def tick(self) -> None:
        """One history call for every month still watched (or reconciling)."""
        watched = [k for k in self.keys if k not in self.reported and self._watched(k)]
        if not watched and self.history_ids is not None:
            return
        self.generation += 1
        generation = self.generation
        try:
            history = await self.downloads.history()
        except SendWindowClosedError as error:
            self.heard(error)  # not sent: the deadline passed; not a polling failure
            return
        except GigstackError as error:
            self.heard(error)
            self.log(logging.INFO, "polling the history failed, will retry: %s", error)
            for key in watched:
                self.feed(key, m.PollFailed(f"history: {error}"))
            if self.history_ids is None:
                self._history_unread(error)
            return
        self.heard(None)
        for key in self.history_noted:
            self.notes.pop(key, None)
        self.history_noted.clear()
        self.history_ids = tuple(entry.id for entry in history)
        entries = tuple(seen_from_history(entry) for entry in history)
        self.history_entries = entries
        self.history_created = tuple(
            (seen.id, seen.created_at) for seen in entries if seen.created_at is not None
        )
        # Every request this journal knows for the plan's months: a history that omits one of
        # them is short or filtered.
        known = {i for k in self.keys for i in self.store.get(k).known_ids} | self.created_ids
        expected = tuple(sorted(known))
        # What was seen of those requests: one listed with other attributes shows reused ids.
        # A month's record of an id it released (not its request) says nothing of that id now.
        records = tuple(
            r
            for state in (self.store.get(k) for k in self.keys)
            for r in state.records
            if r.id not in state.released_ids()
        )
        # Every month's ids, the plan's or not: SAT's active duplicate (5005) is never another's
        # (an id a month released is known not to be its request: not counted).
        journal_ids = self._journal_ids()
        released = tuple(r for s in self.store.states() for r in s.released_marked())
        for key in watched:
            self.feed(
                key,
                m.HistorySeen(
                    entries,
                    generation,
                    expected=expected,
                    records=records,
                    lists_journal=any(seen.id in known for seen in entries),
                    journal_ids=journal_ids,
                    released=released,
                ),
            )

    def _history_unread(self, error: GigstackError) -> None:
        """This run has read no history yet (each read already retried by the client's retry
        policy): no create is sent without one, because the history is what proves a month was
        not created already (a create billed by an earlier run whose answer was lost). The
        months waiting to be sent keep waiting, and say why: in their result if the run ends
        first, and as a warning once it keeps failing."""
        self.history_failures += 1
        waiting = [
            key
            for key in self.keys
            if key not in self.reported and self.store.get(key).stage is m.Stage.PLANNED
        ]
        for key in waiting:
            if key not in self.notes:
                self.notes[key] = f"the download history could not be read: {error}"
                self.history_noted.add(key)
        if self.history_failures == m.POLL_WARN_AFTER:
            text = (
                f"reading the download history failed {self.history_failures} times in a row "
                f"({error}); no download request is sent until it can be read (it is what keeps "
                "a month from being billed twice); still trying"
            )
            self.log(logging.WARNING, "%s", text)
            for key in waiting:
                self.emit(MonthWarning(key, text))

    def _watched(self, key: str) -> bool:
        state = self.store.get(key)
        if state.stage in (m.Stage.SUBMITTED, m.Stage.PROCESSING):
            return self.busy[key] == 0  # a status call in flight answers for it
        if (
            state.stage is m.Stage.COMPLETED
            and not state.checked
            and not state.refill
            and state.want_files
        ):
            return self.busy[key] == 0  # its request must be checked before any download
        if state.stage is m.Stage.DUPLICATE:
            return True  # SAT 5005: the history shows which request is the active duplicate
        if state.stage in (m.Stage.DONE, m.Stage.EMPTY):
            # Its open day unproven: the run's first history (read before any create, so no
            # call of its own) may list its request's `createdAt` (`machine._finished_listed`).
            return state.open_day_unproven
        # An unknown outcome is reconciled by every history; one that already needs attention
        # once per run (before it is reported): a history that lagged may show it now.
        return state.stage in (m.Stage.SUBMITTING, m.Stage.NEEDS_ATTENTION) and state.unknown

    async def send_planned(self) -> None:
        if self.stopping or self.history_ids is None:
            return
        held = []
        sending: list[tuple[str, date]] = []
        for key in self.keys:
            state = self.store.get(key)
            if key in self.reported or self.busy[key] or state.stage is not m.Stage.PLANNED:
                continue
            if not state.resend_allowed:
                continue
            # Only a month a create goes for is held (the rule the plan preview reads): dates
            # SAT refused with 5002 go on to `Send`, which fails them again and sends nothing.
            going = m.plan_decision(state, state.start, state.end).create is m.PlanCreate.YES
            if going and self.hold_identical(state):
                held.append(key)
                continue
            if self.sent_this_run[key] >= MAX_SUBMISSIONS_PER_RUN:
                self.finish(
                    state,
                    error=f"not created after {MAX_SUBMISSIONS_PER_RUN} attempts; run the same "
                    "command again to try again",
                )
                continue
            if going and not self.reach_checked:
                sending.append((key, state.start))
            self.spawn(key, self._send(key))
        if sending:
            self.check_reach(sending)
        if held:
            # One line for them all: each month's `MonthResult` carries its request and the
            # ways forward (newcomer 9e #5: a held year logged 12 long warnings).
            self.log(
                logging.WARNING,
                "%d month(s) held, not sent: %s (the account's history already lists their "
                "exact requests under ids this journal did not send; each month's result says "
                "which request and how to adopt it)",
                len(held),
                ", ".join(held),
            )

    def check_reach(self, sending: list[tuple[str, date]]) -> None:
        """Once per run, as its first creates leave: name the months being sent that the
        history just read could not be checked for an identical request made before its reach
        (`bulk.reach`; newcomer 9f #1: a month whose earlier request had left the 20-entry
        history was billed again in silence). A WARNING; `on_reach` hears it all."""
        self.reach_checked = True
        journal_ids = (i for s in self.store.states() for i in s.known_ids)
        recorded = {key: self.store.get(key).known_ids for key, _ in sending}
        resent = (key for key, _ in sending if self.store.get(key).resend_for is not None)
        reach = history_reach(
            self.history_entries,
            sending,
            journal_ids=journal_ids,
            recorded=recorded,
            resent=resent,
        )
        if reach.warning is not None:
            self.log(logging.WARNING, "%s", reach.warning)
        if self.on_reach is not None:
            self.on_reach(reach)

    def hold_identical(self, state: m.MonthState) -> bool:
        """Hold (do not send) a month whose exact request the account's latest history lists
        under an id that is not the month's own: another folder's download, most likely. Its
        result says which request and the safe ways forward. The month stays `planned`, so
        the next run checks again (an adopt or `allow_duplicates` lets it go); the hold is
        recorded beside it for `journal show` (`JournalStore.record_hold`)."""
        if self.sent_this_run[state.key]:
            return False  # a month this run sent already: the history now lists its own create
        # Only the month's own requests are exempt: an identical entry under any other id the
        # journal knows (another month's, one this month released, a reused id) is held for.
        # The one rule the plan preview reads too (`duplicates.holding`): the history's
        # identical entries, and those an earlier run held the month for (the history keeps
        # only its newest 20: newcomer 9g #1, a held month was sent once they left it).
        priors = holding(state, self.history_entries)
        if not priors:
            return False
        # What the history said of each (a 5003 stays known once it no longer lists it).
        learnt = {p.request_id: (p.status, p.message) for p in priors if not p.recorded}
        # And its createdAt: the server's word on when it was made, which an adopt of it
        # takes its open day from once the history no longer lists it (newcomer 9k #1).
        created = {p.request_id: p.created_at for p in priors if not p.recorded}
        held = m.hold(state, [p.request_id for p in priors], learnt, created)
        refused = _duplicate_refused(held)
        if self.options.allow_duplicates and refused is None:
            return False
        folder = self.options.download_to
        reason = held_reason(state, priors, None if folder is None else folder.absolute())
        if self.options.allow_duplicates:
            # --allow-duplicates lifts the identical-request guard, never SAT's own refusals
            # (review 9n #2: a third identical request, or the dates SAT refused with 5003).
            reason = f"{reason.rstrip('.')}; not sent despite allow_duplicates: {refused}."
        # What happened in `error`, what to do in `hint`, never one inside the other: the CLI
        # joins them as "<error>. Next: <hint>" (`cli.progress.next_step`).
        hint = held_hint(state, priors)
        self.store.put(held)  # held for them by every later run, listed or not
        self.store.record_hold(state.key, Hold(reason, hint))  # for `journal show`
        self.finish(held, error=reason, hint=hint, stage=HELD)
        return True

    async def _send(self, key: str) -> None:
        attempt = self.sent_this_run[key]
        if attempt:
            # This run sent the month before (that create was refused): wait before the next.
            await self._pause(resubmit_delay(attempt - 1, self.last_error.get(key)))
        async with self.limit:
            # The deadline is checked here, with the slot held, right before the create leaves:
            # a month not sent stays planned, and its result says it was not requested
            # (nothing billed), as for the months the loop never reached.
            if self.past_deadline() or self.history_ids is None:
                return
            state = self.store.get(key)
            if state.stage is not m.Stage.PLANNED:
                return
            self.sent_this_run[key] += 1
            send = m.Send(
                self.history_ids,
                self.generation,
                today=today_mx(),  # a month ending today is requested before its day is over
                sent_at=self.options.clock(),  # kept while its answer never comes
            )
            new, commands = m.transition(state, send)
            self.store.put(new)  # the intent is durable before the create is sent
            self.announce(state, new)
            if any(isinstance(c, m.SendCreate) for c in commands):
                await self.create(key)

    async def run(self) -> None:
        timeout = self.options.timeout
        self.deadline = None if timeout is None else self.now() + timeout
        # The client's own queue (`max_in_flight`) and retries (a 429's Retry-After) lie
        # between the engine's deadline checks and the wire: the pipeline checks the deadline
        # there too, for every call of the run's tasks (review h2 #1, #2).
        with _send_window.send_before(self.deadline):
            await self._run_tasks()

    async def _run_tasks(self) -> None:
        timeout = self.options.timeout
        async with asyncio.TaskGroup() as tasks:
            self.tasks = tasks
            want_files = self.options.download_to is not None
            if self.options.download_to is not None:
                # We hold the journal's lock, so no writer is running: temp files a killed run
                # left behind are ours to clear.
                for key in self.keys:
                    remove_stale_temp_files(self.options.download_to / key)
                if self.staging is not None:
                    remove_stale_temp_files(self.staging)
                self._sweep_staged()
                await asyncio.to_thread(self._queue_orphan_staged)
                self._delete_staged(synced=False)
            for key in sorted(self.keys, key=self._risk):
                before = self.store.get(key)
                if before.request_id and before.stage is not m.Stage.PLANNED:
                    self.announced.add(key)
                    self.continued[key] = before.request_id
                    self.emit(Submitted(key, before.request_id, before.duplicate, resumed=True))
                folder = None if self.options.download_to is None else self.options.download_to
                on_disk = 0 if folder is None else files_in(folder / key)
                start = m.Start(want_files=want_files, on_disk=on_disk)
                noted = self.notes.get(key, "").startswith(m.MISSING_FILES)
                if folder is not None and _done_with_files(before) and not noted:
                    # Gone, or a CFDI damaged (newcomer 9h #1: a done month whose files were
                    # deleted was reported done with them; review 9n #3: one cut short was
                    # too): the machine says MISSING FILES. Not when the
                    # plan's note says so already (its own part's way, review 9i #5).
                    lost = await asyncio.to_thread(
                        content.lost_files,
                        folder / key,
                        before.files,
                        content.recorded_extractions(before.extracted),
                    )
                    start = attrs.evolve(start, lost=lost)
                if before.stage is m.Stage.SPLIT:
                    # Its own days' files and its parts elsewhere, read-only (review 9n #5, 9o
                    # #1-#3): one that lost its files, or no longer this download's, makes this
                    # run report the month MISSING FILES; the split stays recorded.
                    home = home_of(self.store)
                    troubles = await asyncio.to_thread(part_troubles, before, home)
                    if troubles:
                        self.shown[key] = m.parts_missing(before, troubles)
                if folder is not None and on_disk:
                    kind = before.request_type
                    start = attrs.evolve(
                        start,
                        cfdis=await asyncio.to_thread(
                            held_cfdis,
                            folder / key,
                            kind,
                            # Read whole only where no extraction of this record vouches.
                            whole=not before.extracted and not before.settled,
                        ),
                        staged_copies=staged_copies(folder, key),
                    )
                self.feed(key, start)
                after = self.store.get(key)
                if before.settled and after.settled:
                    self.resumed.add(key)
            delays = self.options.poll.delays()
            next_tick = self.now()
            while True:
                if not self.past_deadline():
                    # Ticks follow the poll schedule only: a task that wakes the loop (a
                    # status answer, a settled month) never buys an early history call.
                    if self.now() >= next_tick:
                        await self.tick()
                        next_tick = self.now() + next(delays)
                    # A history read that outlasted the deadline: nothing new is sent.
                    if not self.past_deadline():
                        await self.send_planned()
                if self.fatal is None:  # a refusal by a 401 is no month's result
                    self.report_settled()
                if all(k in self.reported for k in self.keys):
                    break
                if self.stopping:
                    if not any(self.busy.values()):
                        break
                    await self._wait_change(None)  # let in-flight calls finish
                    continue
                delay = max(0.0, next_tick - self.now())
                if self.deadline is not None:
                    delay = max(0.0, min(delay, self.deadline - self.now()))
                await self._wait_change(delay)
        self.tasks = None
        try:
            self._delete_staged(synced=False)
        except (sqlite3.Error, OSError) as error:
            # Kept, not lost: the next run syncs and deletes them first. The months' results
            # (below) matter more than tidying up.
            self.log(logging.WARNING, "staged packages kept until the next run: %s", error)
        if self.staging is not None:
            with contextlib.suppress(OSError):
                self.staging.rmdir()  # only when empty: staged packages wait for the next run
        if self.fatal is not None:
            # Every month is journaled as it stands: the same run with the right key (or base
            # URL) resumes it.
            raise self.fatal
        for key in self.keys:
            state = self.store.get(key)
            if key not in self.reported:
                shown = state.sat_state or state.stage.value
                if state.stage is m.Stage.SUBMITTING:
                    # Newcomer 10 F5: "nothing is sent twice" hid that a create may already
                    # be billed (only `journal show` said so). A create that left and got no
                    # answer is looked for in the next run's history first (`_start`).
                    what, step = submitting_texts(state)
                    self.finish(
                        state, error=f"still submitting after {timeout} s: {what}", hint=step
                    )
                    continue
                # r2 N7: what happened in `error`, the next step in `hint` (was both in
                # `error`, and the hint only "journal show prints the month's record").
                self.finish(
                    state,
                    error=f"still {shown} after {timeout} s",
                    hint="run the same command again (nothing is sent twice)",
                )

    def _delete_staged(self, *, synced: bool) -> None:
        """Delete the staged packages whose extraction is recorded; unless the caller just
        made a durable commit (`synced`), first make the journal durable (one fsync)."""
        if not self.deletable:
            return
        if not synced:
            self.store.sync()
        deletable, self.deletable = self.deletable, []
        for path in deletable:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _sweep_staged(self) -> None:
        """Queue the staged packages a killed run left behind after recording their
        extraction (their deletion waited for a sync that never came)."""
        if self.staging is None or not self.staging.is_dir():
            return
        months = self.store.keys()  # every month of the journal, not only this plan's
        for key in months:
            for package in self.store.get(key).extracted:
                path = self.staging / f"{key}-{_safe(package.package_id)}.zip"
                if path.is_file():
                    self.deletable.append(path)

    async def _pause(self, seconds: float) -> None:
        """A backoff that ends early at the run's deadline (nothing is sent after it)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)

    def _risk(self, key: str) -> int:
        """Packages already downloaded once go last: a crash early in the run (the most likely
        moment for the next one) then hits a package with its whole budget left."""
        state = self.store.get(key)
        return max((state.downloads_of(p) for p in state.pending_packages), default=0)

    async def _wait_change(self, delay: float | None) -> None:
        """Sleep until the next tick, or until a task settles something (no idle wait at the
        end of a run)."""
        self.changed.clear()
        # Stopped by a fatal error the settled months are not reported: waiting on them would
        # never yield to the calls in flight.
        if self.fatal is None and any(
            self.store.get(k).settled and k not in self.reported and not self.busy[k]
            for k in self.keys
        ):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), delay)

    async def drive(self) -> None:
        try:
            await self.run()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            self.events.put_nowait(None)


def _staged_changed(path: Path, sha256: str) -> str | None:
    """Why the staged ZIP at `path` is not the bytes whose SHA-256 was recorded when it was
    staged (gone, or changed on disk); None: it is, or it cannot be read (extraction says why).
    """
    try:
        actual = _sha256_of(path)
    except FileNotFoundError as error:
        return str(error)
    except OSError:
        return None
    if actual != sha256.lower():
        return (
            f"its SHA-256 is {actual}, not the {sha256} recorded when it was staged: it "
            "changed on disk"
        )
    return None


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 16):
            digest.update(chunk)
    return digest.hexdigest()


def _not_staged_copy(path: Path, recorded: list[m.StagedFile], limits: PackageLimits) -> bool:
    """Whether the package at `path` is not a usable copy of the one that was staged.

    With a record, its SHA-256 alone decides: the recorded hash is of bytes `verify_staged`
    passed when they were staged (and the content scan just read their entries under this
    run's limits), so inflating them again would find nothing more. `extract` compared the
    hash before the scan; this read (no inflating) catches a copy replaced while the scan read
    it. Without a record (dropped after the extraction was ordered) there is no hash to
    compare: only a full verification tells whether the copy is usable.
    """
    if recorded:
        try:
            return _sha256_of(path) != recorded[0].sha256
        except OSError:
            return True
    try:
        verify_staged(path, limits)
    except (GigstackError, OSError):
        return True
    return False


def _discard(path: Path, lost: m.StagedLost) -> m.StagedLost:
    """Remove an unusable staged copy now, not once the journal is synced (`DeleteStaged`):
    `fetch` would otherwise find it on disk (a valid ZIP with other bytes) and stage it again.
    Losing the record that it was dropped is harmless: the next run finds no copy again."""
    with contextlib.suppress(OSError):
        path.unlink()
    return lost


_STEP = re.compile(r"(?<!e\.g)(?<!i\.e)\.\s+(?=[A-Z`])")
"""Where a text's first sentence ends (`next_step`): a full stop, then a capital or a command."""


def next_step(error: str, key: str) -> tuple[str, str]:
    """(what happened, what to do) of `error`, the text of a month that is not ok and has no
    hint of its own: a MISSING DAYS (or MISSING FILES) note names what is missing in its first
    sentence, then the ways forward. Any other text is kept whole, and the way forward is
    `journal show` (`bulk.hints` names the journal in it), which prints the month's record
    and why it is not ok."""
    found = _STEP.search(error) if error.startswith(("MISSING DAYS", m.MISSING_FILES)) else None
    if found is not None and error[found.end() :].strip():
        return error[: found.start()], error[found.end() :]
    return error, (
        f"`gigstack-async journal show {key}` prints the month's record and why it is not complete"
    )


def _explain(state: m.MonthState) -> str:
    # What happened only: what to do is the result's `hint` (the CLI prints it as "Next:").
    return state.reason or state.stage.value


def package_served(error: GigstackError) -> bool:
    """A failed package GET surely reached SAT: bytes of its 2xx answer arrived (a body that
    broke off, or one that is not a valid package). A 4xx/5xx without a SAT code, or no answer
    at all, may have come before SAT acted (the sandbox's before-phase faults do exactly that):
    counted, but unsure (`MonthState.unsure`)."""
    if isinstance(error, DownloadInterruptedError):
        return error.served
    return isinstance(error, APIResponseValidationError | PackageError)


def _safe(package_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in package_id)[:120]


async def _finish_even_if_cancelled(work: Awaitable[T]) -> T:
    """Await `work`; if cancelled meanwhile, let it finish before re-raising the cancellation.

    A download or an extraction cannot be interrupted without losing what it cost: returning
    early would leave a spent download unrecorded, or files appearing after the caller believes
    the run has stopped.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


async def run_bulk(
    downloads: Downloads,
    store: JournalStore,
    plan: DownloadPlan,
    options: BulkOptions,
    on_reach: Callable[[HistoryReach], None] | None = None,
) -> AsyncGenerator[BulkEvent, None]:
    """Drive every month of `plan` (and only those); yield events as they happen. `on_reach`
    hears how far back the history reached before the run's first create (`bulk.reach`)."""
    run = _Run(downloads, store, plan, options)
    run.on_reach = on_reach
    run.notes = merge_plan(store, plan, options.download_to, run.shown, run.opened)
    driver = asyncio.create_task(run.drive())
    try:
        while (event := await run.events.get()) is not None:
            yield event
        await driver  # re-raise what ended the run, if anything
    finally:
        if not driver.done():
            # Nothing new may start while the cancellation unwinds (no create, no download).
            run.stopping = run.cancelled = True
            run.stop.set()
            driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await driver
