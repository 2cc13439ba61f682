"""`gigstack-async journal show|adopt|resend|retry-download|keep|rebind|rfc|repair|split`: read and
repair a bulk download's journal.

These commands change only the journal file. Nothing is sent to the API, except by `rebind`:
it reads the status of a few of the journal's requests (a GET, never a create) to check that
the new API key sees them; `adopt` reads the API key, team and base URL only to record who a
new journal belongs to. The next `sat download` with the same folder acts on what they record.
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from gigstack_async import _validation
from gigstack_async._dates import today_mx
from gigstack_async.bulk import content, owner, repair
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import HELD, file_names, files_in, staged_copies
from gigstack_async.bulk.hints import (
    RUN_AGAIN,
    RUN_AGAIN_SENTENCE,
    open_day_hint,
    shell_quote,
    with_journal,
)
from gigstack_async.bulk.run import DEFAULT_JOURNAL, journal_identity
from gigstack_async.bulk.salvage import holds_journal_bytes
from gigstack_async.bulk.store import (
    Hold,
    JournalDamagedError,
    JournalStateError,
    JournalStore,
    file_head,
    sqlite_head,
)
from gigstack_async.bulk.taxpayer import RfcSource, describe_source
from gigstack_async.cli import exitcodes
from gigstack_async.cli.commands.journal_damaged import show_damaged
from gigstack_async.cli.commands.journal_repair import register_repair
from gigstack_async.cli.context import Context
from gigstack_async.cli.exitcodes import UsageError
from gigstack_async.cli.parser import PROG, command_parser, group_parser
from gigstack_async.cli.resume_command import resume_command
from gigstack_async.cli.runner import run_command
from gigstack_async.cli.tables import Col, print_table
from gigstack_async.cli.ui import Ui
from gigstack_async.client import BASE_URL_ENV, GigstackClient
from gigstack_async.errors import InvalidParameterError

EPILOG = f"""\
examples:
  {PROG} journal show ./cfdi
  {PROG} journal show ./cfdi 2024-03
  {PROG} journal adopt ./cfdi 2024-03 3F2A9C1B-0C4D-4E8F-9A1B-2C3D4E5F6A7B
  {PROG} journal adopt ./new 2024-03 3F2A9C1B-0C4D-4E8F-9A1B-2C3D4E5F6A7B --rfc-type received
  {PROG} journal adopt ./cfdi 2024-03 <request id> --created-at 2024-04-01T09:30
  {PROG} journal resend ./cfdi 2024-03
  {PROG} journal retry-download ./cfdi 2024-03
  {PROG} journal keep ./cfdi 2024-03
  GIGSTACK_API_KEY=<new key> {PROG} journal rebind ./cfdi
  {PROG} journal rfc ./cfdi --forget
  {PROG} journal repair ./cfdi
  {PROG} journal split ./cfdi 2024-03 ./cfdi-2024-03a ./cfdi-2024-03b

JOURNAL (first) is the download folder, the --out of `sat download` (its {DEFAULT_JOURNAL}),
or the journal file itself when --journal put it elsewhere.
exit codes: 0 ok; 2 invalid input (no journal, unknown month, a change that does not fit the
month's state, an adopt/resend/retry-download/keep/rebind not confirmed, or a rebind to another
account), or a damaged journal: `show` then prints what is left of it (each month's request ids)
and how to go on without billing again. `show` reads without locking: it works while `sat
download` runs on the folder."""

RESEND_RISK = (
    "{creates} A new download request for {key} will be sent by the next run (`sat download` "
    "or `bulk()`), with that run's dates for the month (recorded so far: {start} to {end}). "
    "It may be billed again, and SAT accepts only 2 requests with the same dates ever. Do "
    "this only if the earlier request was never created, expired (SAT keeps packages 72 h), "
    "failed, covered fewer days than you need, or its packages can no longer be downloaded "
    "(SAT 5008: each already downloaded twice); if you can find it in `{prog} downloads "
    "history` or gigstack's dashboard, adopt it instead."
)

RESEND_FILES_THERE = (
    " {key}'s folder {folder} already holds {files} file(s) that an earlier run extracted "
    "(before this journal lost the month's record{count}): if they are all of the month's "
    "CFDIs, nothing needs to be sent: `{prog} journal keep {journal} {key}` records the month "
    "done with them instead. Resend only if some are missing: the new request may be billed "
    "although those files are already on disk."
)


def creates_sent(state: m.MonthState) -> str:
    """How many create requests the journal sent for the month, as `journal resend` and `journal
    show` say it: unknown (a lower bound) when the month's record was lost or rebuilt."""
    if state.creates_known:
        return f"This journal has sent {state.creates} create request(s) for {state.key} so far."
    return (
        f"How many create requests were sent for {state.key} is unknown (at least "
        f"{_at_least(state)}): the month's record was lost or rebuilt, or its request was "
        "adopted into this journal."
    )


def _at_least(state: m.MonthState) -> int:
    """Creates surely sent for a month whose count is unknown: each request it knows was one."""
    return max(state.creates, len(state.known_ids))


def _earlier_files(store: JournalStore, state: m.MonthState) -> tuple[int, Path | None]:
    """Files in the month's folder now that this record of it did not extract."""
    if store.download_to is None:
        return 0, None
    folder = store.download_to / state.key
    return max(0, files_in(folder) - len(state.files)), folder


RESEND_PARTIAL_THERE = (
    " {key}'s folder {folder} already holds {files} file(s) that an earlier run extracted "
    "(before this journal lost the month's record{count}), but that run staged the month's "
    "package and never recorded it extracted: they may be only part of its CFDIs. If its "
    "request is in `{prog} downloads history` or gigstack's dashboard, `{prog} journal adopt "
    "{journal} {key} <request id>` instead bills nothing (a staged copy on disk is extracted "
    "again without downloading)."
)

RESEND_WHOLE_MONTH = (
    " {key} is already downloaded for {start} to {end} ({files} file(s)): SAT cannot be asked "
    "for the missing days alone in this journal (one request per month), so the new request "
    "asks for the whole month of the next run's plan again, those days included. If gigstack "
    "bills per downloaded XML, the CFDIs already downloaded are billed again. To pay only for "
    "the missing days, download them with `sat download` into another --out folder instead."
)

RESEND_DUPLICATE = (
    " SAT answered 5005 (Solicitud duplicada) for {key}: an identical request was active. "
    "While it is, SAT refuses the new one the same way (or gigstack may bill a request that "
    "fails with 5005), so resend only once it has finished; if you find it, `{prog} journal "
    "adopt {journal} {key} <request id>` instead and nothing new is sent."
)

REBIND_RISK = (
    "The journal {path} was made by another run: {problems}. Rebinding records this command's "
    "API key, team and base URL as its owner; the months it holds, their request ids and the "
    "files already downloaded are kept, and nothing is requested again. It is for the same "
    "gigstack team and taxpayer (RFC), for example after rotating the API key. The "
    "alternative, a new folder, requests every month again and each request may be billed."
)
REBIND_CHECKED = (
    "Checked: this API key, team and base URL see the journal's request {request_id} (its "
    "status was read; nothing was created), so it is the same account."
)
REBIND_UNCHECKED = (
    "Nothing could be checked: the journal knows no request id yet, so whether this API key "
    "is the same account as the journal's cannot be told. Under another company's key the "
    "next `sat download` requests (and bills) every month for that company, into this folder."
)

RETRY_RISK = (
    "{key} stopped at package {package_id}: {counted}. SAT serves a package at most twice, "
    "and a download that failed before any byte of it arrived may never have reached SAT, so "
    "SAT may serve it once more. This allows exactly one more download of {package_id}, sent "
    "by the next run (`sat download` or `bulk()`) with this folder; nothing else is sent "
    "again. It bills nothing: if SAT already served the package twice, it answers 5008 and "
    "the month then needs `{prog} journal resend` (a new request, may be billed). The risk: "
    "if this download fails too after SAT served it, it may be the package's last one."
)
RETRY_AGAIN_RISK = (
    "{key} stopped at package {package_id}: {counted}. SAT serves a package at most twice, so "
    "this download may be its third, which SAT refuses with 5008 (it bills nothing); the month "
    "then needs `{prog} journal resend` (a new request, may be billed). This allows exactly "
    "one more download of {package_id}, sent by the next run (`sat download` or `bulk()`) with "
    "this folder; nothing else is sent again."
)
"""`RETRY_RISK` once a download beyond SAT's two was already sent (newcomer 9j F6: "SAT may
serve it once more" was said again after that one failed too)."""

ADOPT_TRUST = (
    "Confirming says that request {request_id} is {key}'s: {rfc_type} {request_type} CFDIs, "
    "{start} to {end}. Once confirmed, the next run (`sat download` or `bulk()`) {action}"
)
# What bulk.machine and the engine do with an adopted id: the history checks it when it lists
# it; otherwise its package is checked by content (bulk.content) before anything is extracted.
ADOPT_WAITING = (
    "watches it: if the server's history lists it with other dates or type, the month stops "
    "and nothing is downloaded; if the history does not list it (it shows only the newest "
    "requests), its package is downloaded and checked before anything is extracted (the kind "
    "of file, every issue date within the month ± 1 day, one taxpayer on the request's "
    "side): one that fails is not extracted. A request for part of the month passes that "
    "check: when the history does not list it, you vouch for its dates."
)
ADOPT_LISTED_BEFORE = (
    "Warning: request {request_id} was listed in the history before this journal sent "
    "{key}'s create, whose outcome is unknown, so it cannot be that create: it is another "
    "request (another folder's or tool's). Adopting it downloads its package(s) into this "
    "folder and spends SAT's downloads of them (2 per package, shared with whoever made it). "
    "If the dashboard shows no other request for {key}'s dates and type, `{prog} journal "
    "resend {journal} {key}` sends it again instead (a new request, may be billed)."
)
"""Said before the yes of `journal adopt` of an id `machine.listed_before_create` names."""
ADOPT_COMPLETED = (
    "downloads its remaining packages: SAT already completed it, so the history is not asked "
    "again, but each package is checked before anything is extracted (the kind of file, every "
    "issue date within the month ± 1 day, one taxpayer on the request's side): one that "
    "fails is not extracted. A request for part of the month passes that check: you vouch "
    "for its dates."
)

ADOPT_FILES_THERE = (
    "{key}'s folder {folder} already holds {files} file(s) that an earlier run extracted. The "
    "next run asks the request's status first (free): if the folder already holds at least "
    "the CFDIs SAT reports for it, it downloads nothing and offers `{prog} journal keep "
    "{journal} {key}` (which checks them); otherwise it downloads the request's packages "
    "again, each download spending one of SAT's 2 per package (maybe its last)."
)

ADOPT_STAGED_THERE = (
    "{key}'s folder {folder} already holds {files} file(s) that an earlier run extracted, and "
    "a staged copy of a package of {key} is on disk: the next run extracts it again without "
    "downloading it when it is the request's."
)

ADOPT_DROPS = (
    "{key} holds packages of the request it leaves, staged but not extracted: {paths}. "
    "Adopting removes them (each spent one of SAT's 2 downloads of its package)."
)

MONTH_ARG = re.compile(r"\d{4}-\d{2}")

COLUMNS = (
    Col("month", no_wrap=True),
    Col("state", no_wrap=True),  # "needs-at / tention" is no word the README explains
    Col("request id", no_wrap=True),
    Col("CFDIs", "right"),
    Col("files", "right"),
    Col("why"),
    Col("next step"),
)
TABLE = 5
"""`journal show` draws the short cells (`COLUMNS[:TABLE]`) as a table; each month's why and
next step go below it, whole, with the commands to copy on lines of their own (newcomer 9m
#3: a ~45-character "next step" column folded them over 4 lines, and without a terminal every
row was padded to the longest reason, ~900 characters)."""

_COMMAND = re.compile(r"`((?:gigstack-async|cp|mv) [^`]+)`")
NO_RETRY = "no-retry"
"""`_row`'s last cell for a month `journal retry-download` refuses now (`show_rows`)."""


def show_rows(ui: Ui, rows: list[list[str]]) -> None:
    """`rows` (`_row`'s cells) as `journal show` prints them: see `TABLE`."""
    print_table(ui, COLUMNS[:TABLE], [row[:TABLE] for row in rows])
    blank = True
    for row in rows:
        why, step = row[TABLE], row[TABLE + 1]
        if not step:
            if why:  # nothing to do: one line
                if blank:
                    ui.out()
                ui.out(f"{row[0]}: {row[1]}, {why}")
                blank = False
            continue
        ui.out()
        ui.out(f"{row[0]}: {row[1]}")
        if why:
            ui.out(f"  why: {why}")
        ui.out(f"  next step: {step}")
        # A retry-download the month refuses now is only the step after another (newcomer r2
        # N3: a held month's "if that GET fails, ..."): not a command to copy.
        refused = len(row) > TABLE + 2 and row[TABLE + 2] == NO_RETRY
        for command in dict.fromkeys(_COMMAND.findall(step)):
            if refused and " journal retry-download " in command:
                continue
            ui.out(f"    {command}")
        blank = True


def register(commands: Any) -> None:
    journal = group_parser(
        commands, "journal", help="read and repair a bulk download's journal", epilog=EPILOG
    )
    show = command_parser(
        journal,
        "show",
        help="each month's state and why",
        description="Show each month of a bulk download: its state, request id, CFDIs, files "
        "written, why it is in that state and what to do next (below the table, in full, each "
        "command to copy on a line of its own). When running the download again is a "
        "month's next step, the `sat download` command that goes on with it, written out from "
        "the journal (its dates, kind, --out, --journal, --base-url and --team; not the API "
        "key), when one command plans exactly the journal's months. With MONTH, also its "
        "history. "
        "Read-only: it works while a `sat download` runs on the folder (it says so). On a "
        "damaged journal it shows what is left (each month's request ids, from its records, "
        "its log and the file's bytes) and the commands that go on without billing again.",
        epilog=EPILOG,
        client=False,
    )
    _journal_arg(show)
    show.add_argument("month", metavar="MONTH", nargs="?", help="one month, YYYY-MM")
    show.set_defaults(func=run_show, usage=show.format_usage().strip())

    adopt = command_parser(
        journal,
        "adopt",
        help="attach a download request you found to a month",
        description="Record REQUEST_ID as MONTH's download request (for example one you found "
        "in `downloads history` or gigstack's dashboard after an unknown outcome). The next "
        "`sat download` watches and downloads it. When the history lists the request, its "
        "dates and type are checked against the month there (other dates or type: nothing is "
        "downloaded); when it does not (it shows only the newest requests), or SAT already "
        "completed it, its package is downloaded and checked before anything is extracted: "
        "CFDI XML for a CFDI month, the metadata TXT for a metadata month, every issue date "
        "within the month's dates (± 1 day); a package that fails is not extracted and the "
        "month needs attention again. What the journal saw of the id before (a request "
        "listed under it before the server's ids restarted) is replaced by your word. A "
        "request for part of the month cannot be told by its files (its dates are inside the "
        "month): when the history does not list it, you vouch for its dates. An id another "
        "month of the journal knows is refused, unless that month released it (its package "
        "held other dates' CFDIs, or the history or its status showed other dates or type, or "
        "you adopted another id for it: so a swapped adopt is undone by adopting each id into "
        "its own month; the SAT downloads spent on its packages go along, and a package it "
        "downloaded and kept is extracted from that copy, with no download), or "
        "--ids-restarted and that month no longer follows it. A month the journal does not "
        "have yet is added (the dates `sat download` would plan for it); with no journal in "
        "the folder yet, --rfc-type (and --type) start one for this API "
        "key, team and base URL (for example to carry over the requests of an older "
        "gigstack-async's JSON journal without creating them again). A request that may have "
        "been made before the month's last day was over (its createdAt that day or earlier, "
        "adopted by then, or its createdAt never shown: unknown never counts as after) leaves "
        "that day MISSING DAYS once it is over, as the month's own request would; when "
        "gigstack's dashboard shows when the request was made, --created-at vouches for it "
        "(also for the month's request adopted again, even once done: only that is "
        "recorded). An id the month never had (also one adopted after its create lost its "
        "answer: it may be another folder's) has one of each package's 2 SAT downloads "
        "assumed spent (both, in a month new to this journal): the next run sends at most "
        "one GET of each, never retried, and `journal retry-download` allows one more "
        "(free). Asks for confirmation (--yes when not in a "
        "terminal). Nothing is sent.",
        epilog=EPILOG,
    )
    _journal_arg(adopt)
    adopt.add_argument("month", metavar="MONTH", help="the month, YYYY-MM")
    # Optional to argparse only so that `journal adopt MONTH ID` (no folder) gets the
    # folder-first message instead of "REQUEST_ID is required"; run_adopt requires it.
    adopt.add_argument("request_id", metavar="REQUEST_ID", nargs="?", help="the request's id")
    _yes_arg(adopt, "confirm without asking (for scripts)")
    adopt.add_argument(
        "--rfc-type",
        choices=("received", "issued"),
        help="for a new journal: CFDIs the company received or issued (as `sat download`)",
    )
    adopt.add_argument(
        "--type",
        dest="request_type",
        choices=("cfdi", "metadata"),
        help="for a new journal: cfdi or metadata (default: cfdi)",
    )
    adopt.add_argument(
        "--ids-restarted",
        action="store_true",
        help="the server's request ids restarted: adopt an id another month of the journal "
        "had before (that month keeps its files; one still following the id is refused)",
    )
    adopt.add_argument(
        "--created-at",
        metavar="TIME",
        help="when the request was made, as gigstack's dashboard shows it (or, when the "
        "request you adopted is this folder's own create whose answer was lost, the time "
        "that create was sent, which the MISSING DAYS error prints): an ISO date or "
        "date and time (2024-09-02T10:15 is Mexico City time; an offset such as -06:00 or Z "
        "is honoured). Made after the month's last day: that day is not MISSING DAYS; on or "
        "before it: that day is. You vouch for it: a later history or status that lists the "
        "request (while a run still follows it) with a readable createdAt which disagrees "
        "wins over it (the server is the "
        "better witness). Refused when unreadable, in the future, before the month's first "
        "day, or when the journal already knows when the request was made. Logged, so "
        "`journal repair` keeps the day. Adopting the month's request again with it changes "
        "nothing else (no download counted again, no file forgotten)",
    )
    _finish(adopt, "adopt", run_adopt, "JOURNAL MONTH REQUEST_ID")

    resend = command_parser(
        journal,
        "resend",
        help="allow a month to be requested again (may be billed)",
        description="Mark MONTH safe to send again: the next `sat download` creates a new "
        "download request for it. The risk (and how many create requests the journal already "
        "sent for the month) is shown and must be confirmed (--yes when not in a terminal). A "
        "month that is done or empty is refused unless --force: its files are already there "
        "and a new request may be billed (use it when the month misses days, MISSING DAYS); "
        "the next run asks for its plan's dates, and dates SAT refused with 5002 are never "
        "asked again. So is a month a plain re-run can still finish for free (its package "
        "staged, or SAT downloads left, or `journal retry-download` possible), and one this "
        "journal already sent 2 requests for with exactly its dates (SAT refuses a third with "
        "5002, for good: the refusal gives other dates to split it into). A `held` month (the "
        "account already has its exact request) is allowed to be sent by the next run.",
        epilog=EPILOG,
        client=False,
    )
    _month_args(resend, "confirm the risk without asking (for scripts)")
    resend.add_argument(
        "--force",
        action="store_true",
        help="also for a month that is done or empty, or that a re-run could still finish "
        "(a new request for it may be billed)",
    )
    _finish(resend, "resend", run_resend)

    retry = command_parser(
        journal,
        "retry-download",
        help="allow one more download of a package that may not have reached SAT, or that "
        "held a done month's missing files (no cost)",
        description="Allow exactly one more GET of the package MONTH stopped at: its counted "
        "downloads are full (SAT serves a package at most twice) but at least one of them "
        "failed before any byte arrived (a 5xx, a lost connection, a timeout, a killed run), "
        "so it may never have reached SAT. The next `sat download` with this folder sends that "
        "one GET. It bills nothing: if SAT already served the package twice it answers 5008 "
        "and the month then needs `journal resend` (a new request, may be billed). Refused for "
        "a month that did not stop at such a package, or whose package SAT surely served "
        "twice. For a request whose downloads this journal never counted (a month adopted into "
        "a new journal, or rebuilt from a log without counts), one more GET of each of its "
        "packages assumed spent. For a request made outside this journal (another folder's, "
        "taken through gigstack's duplicate answer, SAT 5005 or an adopt of an id the month "
        "never had, or one not proven to be the month's own create: adopted or taken from the "
        "history after the create lost its answer), whose single GET of a package failed, one "
        "more GET of it. For a "
        "done month whose folder lost files (MISSING FILES), one "
        "more GET of each package that held them, within SAT's two downloads: the next run "
        "extracts it again and writes only the missing files (a damaged CFDI is first moved to "
        "the month's damaged/ subfolder, kept; a file still there intact is never "
        "overwritten). The risk is shown and must be confirmed (--yes when not in a "
        "terminal). Nothing is sent now.",
        epilog=EPILOG,
        client=False,
    )
    _month_args(retry, "confirm without asking (for scripts)")
    _finish(retry, "retry-download", run_retry_download)

    keep = command_parser(
        journal,
        "keep",
        help="record a month done with the files already in its folder (nothing is sent)",
        description="Record MONTH done with the files an earlier run extracted into its folder "
        "(<download folder>/MONTH) before this journal lost the month's record (a damaged, "
        "repaired or deleted journal): for a month that needs attention or expired because "
        "SAT's downloads of its package are spent (or unknown) while its folder already holds "
        "its CFDIs. Compare them with the request in gigstack's dashboard first (its number of "
        "CFDIs); a resend would request, and may bill, the month again. The files are listed "
        "and must be confirmed (--yes when not in a terminal). Refused, nothing changed, when "
        "the folder holds fewer CFDIs (distinct <UUID>.xml files; metadata: rows) than SAT "
        "reported for the request, more (the others are another request's or another "
        "taxpayer's: move them out), SAT's count is unknown (no request adopted, or none "
        "reported), or it holds files another "
        "request's (the check a run makes of a package: issue dates within the month ± 1 day, "
        "the kind of file, one taxpayer on the request's side), unless --force. When nothing "
        "shows the dates of the month's request (it left the history and the journal kept "
        "none), they are proven from the files: CFDIs of the month issued on its first and on "
        "its last day; otherwise --force records it on your word. A <UUID>.xml file that is "
        "not a complete CFDI (truncated or damaged: each is read to its stamp's UUID) is "
        "refused even with --force; the refusal names the free `journal retry-download` when "
        "SAT may still serve the package. Nothing is sent or downloaded. --empty records the "
        "month empty instead, for a completed request the server gave no package ids and no "
        "count for, once gigstack's dashboard or support says it found no CFDIs. "
        "--outside-window records instead that the month's first days are gone: the server "
        "refused them as older than its 71-month window (its refusal names the window's first "
        "day) and the days still in the window are done; runs of the whole month then end ok "
        "and say the days cut.",
        epilog=EPILOG,
        client=False,
    )
    _month_args(keep)
    keep.add_argument(
        "--force",
        action="store_true",
        help="keep them although the folder holds fewer (or more) CFDIs than SAT reported "
        "for the request, SAT's count is unknown, files the content check finds are not the "
        "month's (issue dates within the month ± 1 day, the kind of file, one taxpayer on the "
        "request's side), or the request's dates cannot be proven (check them in gigstack's "
        "dashboard first); those facts are restated before the confirmation",
    )
    keep.add_argument(
        "--empty",
        action="store_true",
        help="record the month empty instead: its request completed but the server gave no "
        "package ids and no count, and gigstack's dashboard (Descarga Masiva) or support says "
        "it found no CFDIs. Refused when its folder holds any file, SAT's count is known and "
        "above 0, or the server named a package",
    )
    keep.add_argument(
        "--outside-window",
        action="store_true",
        help="record instead that the month's days before the server's 71-month window are "
        "gone (SAT no longer has them): for a month done for the days still in the window "
        "whose earlier days the server refused as too old. Refused when the server never "
        "refused them so, when days inside the window are missing too, or when the month "
        "is not done",
    )
    _yes_arg(keep, "confirm without asking (for scripts)")
    _finish(keep, "keep", run_keep)

    rebind = command_parser(
        journal,
        "rebind",
        help="make a journal yours after an API key rotation (nothing is requested again)",
        description="Record this command's API key, team and base URL (--api-key/--team/"
        "--base-url or the environment) as the journal's owner, keeping every month, request "
        "id and file: for a rotated API key of the same team, or the same team or server "
        "written differently. First it checks that they are the journal's account: a team "
        "other than the journal's (a --team, or the key's own team when the key names it) is "
        "refused, and the status of up to 3 of the journal's requests is read (a GET: nothing "
        "is created, and gigstack documents no charge for it): a key that sees none of them "
        "is another account and is refused (use another --out folder for that key's "
        "downloads). A journal that knows no "
        "request id yet cannot be checked: --unchecked is then required. The risk is shown "
        "and must be confirmed (--yes when not in a terminal).",
        epilog=EPILOG,
    )
    _journal_arg(rebind)
    _yes_arg(rebind, "confirm the risk without asking (for scripts)")
    rebind.add_argument(
        "--unchecked",
        action="store_true",
        help="rebind a journal that knows no request id yet (nothing can be checked)",
    )
    rebind.set_defaults(func=run_rebind, usage=rebind.format_usage().strip())
    _register_rfc(journal)

    register_repair(journal, EPILOG)

    # Its own module (imports this one's helpers): a month SAT refused with 5003, finished.
    from gigstack_async.cli.commands import journal_split

    journal_split.register(journal)


def _journal_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "journal", metavar="JOURNAL", type=Path, help="the download folder or the journal file"
    )


def _yes_arg(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help=text)


def _month_args(parser: argparse.ArgumentParser, yes: str | None = None) -> None:
    """JOURNAL, then MONTH (optional to argparse: the command says what is missing), then
    --yes with help `yes` (none when None: the command adds its own later)."""
    _journal_arg(parser)
    parser.add_argument("month", metavar="MONTH", nargs="?", help="the month, YYYY-MM")
    if yes is not None:
        _yes_arg(parser, yes)


def _finish(
    parser: argparse.ArgumentParser,
    name: str,
    func: Callable[[argparse.Namespace, Context], int],
    operands: str = "JOURNAL MONTH",
) -> None:
    """The usage line `gigstack journal NAME [options] OPERANDS`, and the command's runner."""
    parser.usage = f"{PROG} journal {name} [options] {operands}"
    parser.set_defaults(func=func, usage=parser.format_usage().strip())


def _folder_first(args: argparse.Namespace) -> UsageError:
    words = " ".join(str(w) for w in (args.journal, getattr(args, "month", None)) if w)
    return UsageError(
        f"no journal at {args.journal}: that is a month; the journal's folder (the --out of "
        f"`sat download`) comes first, e.g. `{PROG} journal {args.journal_command} ./cfdi "
        f"{words}`. {args.usage.strip()}"
    )


def _open(args: argparse.Namespace, *, read_only: bool = False) -> JournalStore:
    path: Path = args.journal
    target = path / DEFAULT_JOURNAL if path.is_dir() else path
    if not target.exists():
        if MONTH_ARG.fullmatch(str(path)):
            raise _folder_first(args)
        # A download whose journal was put elsewhere (`--journal FILE`) keeps none in its
        # folder (newcomer 12 #2: this said only "no journal at").
        elsewhere = (
            f" (if its `sat download` was given --journal FILE, give that file: `{PROG} journal "
            f"{args.journal_command} FILE`)"
            if target.name == DEFAULT_JOURNAL or not path.exists()
            else ""
        )
        raise UsageError(f"no journal at {target}{elsewhere}")
    if not target.name.startswith(DEFAULT_JOURNAL) and not _journal_like(target):
        # Newcomer 13 #3: any other file (an XML, a typo) read as a DAMAGED journal, with a
        # recovery that would start a journal in its folder. One named as the folder's own
        # journal (or moved aside as the damage steps say), or holding a journal's records,
        # is still read as damaged: that is what it was.
        raise UsageError(
            f"{target} is not a bulk journal (not an SQLite database); give the download "
            f"folder (the --out of `sat download`) or the journal file itself (its `--journal "
            f"FILE`; by default {DEFAULT_JOURNAL} in the download folder)"
        )
    if read_only:  # no lock: readable while a `sat download` drives it
        return JournalStore.open_readonly(target)
    return JournalStore.open_existing(target)


def _journal_like(path: Path) -> bool:
    """Whether the file at `path` may be a journal, whole or damaged: a regular file (never a
    pipe or a device, which are not opened: review 13b #2, a pipe blocked here) that starts as
    an SQLite database does, is empty (a journal truncated to 0 bytes counts as damaged, not as
    another file), or still holds a journal's month records or kind in its bytes (a journal
    kept with --journal FILE whose first bytes were overwritten), read with flat memory.
    Unreadable: True (opening it says why)."""
    if not path.is_file():
        return False
    try:
        head = file_head(path)
    except OSError:
        return True
    return sqlite_head(head) or holds_journal_bytes(path)


def _required(args: argparse.Namespace, value: str | None, name: str) -> str:
    if value is None:
        if MONTH_ARG.fullmatch(str(args.journal)) and not args.journal.exists():
            raise _folder_first(args)
        raise UsageError(f"the following arguments are required: {name}. {args.usage.strip()}")
    return value


def _confirm(ctx: Context, question: str, *, yes: bool, what: str) -> bool:
    if yes:
        return True
    if ctx.ui.stdout_closed:
        # The risk printed above reached no one: nobody can have agreed to it.
        raise UsageError(
            f"{what}: stdout was closed before the risk could be shown; nothing changed"
        )
    if not sys.stdin.isatty():
        # Hints print these commands without --yes (the confirmation is the point): say how
        # to run this one again once the text above was read (newcomer 9e #7).
        raise UsageError(
            f"{what}: without a terminal nothing can be confirmed, so nothing changed. Having "
            f"read the above, pass --yes (-y) to confirm: {ctx.again_with('--yes')}"
        )
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def _record_confirmed(
    ctx: Context,
    store: JournalStore,
    new: m.MonthState,
    commands: tuple[m.Command, ...],
    question: str,
    *,
    yes: bool,
    what: str,
) -> list[Path] | None:
    """Once the user confirms `question` (`_confirm`: --yes, or y at a terminal), records `new`
    and runs its `commands` (`repair.record`): the staged files removed. None when declined:
    "Nothing changed." is said and nothing is recorded."""
    if not _confirm(ctx, question, yes=yes, what=what):
        ctx.ui.err("Nothing changed.")
        return None
    return repair.record(store, new, commands)


def _month(store: JournalStore, key: str) -> m.MonthState:
    try:
        return store.get(key)
    except KeyError:
        raise UsageError(
            f"{key} is not in the journal (it has {', '.join(store.keys()) or 'no months'})"
        ) from None


def _whole_month(state: m.MonthState) -> tuple[date, date]:
    """The first and last day of the month's calendar month."""
    year, month = (int(part) for part in state.key.split("-"))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _partial(state: m.MonthState) -> bool:
    """A finished month whose request covered fewer days than its calendar month."""
    return state.ok and (state.start, state.end) != _whole_month(state)


def _row(
    state: m.MonthState,
    journal: str,
    *,
    running: bool = False,
    hold: Hold | None = None,
    out: str | None = None,
) -> list[str]:
    # Unknown is "-", as in the `sat download` summary; never blank or 0 (newcomer 9h #7).
    count = "-" if state.invoice_count is None else str(state.invoice_count)
    if state.invoice_count == 0 and not (state.ok or state.sat_state == "completed"):
        count = "-"  # an older journal's 0, kept while SAT was still counting
    why = state.reason or ""
    again = "the running `sat download` drives it" if running else "run the same command again"
    step = state.hint or (again if not state.settled else "")
    stage = state.stage.value
    if hold is not None:
        # Still planned: the last run held it (the account already has its exact request).
        stage, step = HELD, hold.hint
        why = (
            f"{hold.reason} (found by the last run; the month stays held for that request, "
            "listed in the history or not, until it is adopted, allowed a resend or sent with "
            "--allow-duplicates)"
        )
    done = state.stage in (m.Stage.DONE, m.Stage.EMPTY)
    if done and state.open_day is not None and not state.hint:
        # Sent on the day its dates end (newcomer 9h #3): complete only once that day is over.
        # Not a split month: its parts hold the day (newcomer 9j F1: said after the split).
        made = (
            "adopted after this journal's own create lost its answer"
            if state.create_sent_at is not None
            else "made elsewhere"
        )
        why = (
            f"{why}; its request ({made}, createdAt never shown) may have been made "
            f"on {state.open_day}, before that day was over"
            if state.open_day_unproven
            else f"{why}; requested on {state.open_day}, before that day was over"
        )
        today = today_mx()
        # Once the day is over, the run's own MISSING DAYS text: its ways, the free
        # `--created-at` first (newcomer 9j F1: "after 2024-02-29 (tomorrow or later)" on
        # 2026-11-30, and no way named).
        note = m.plan_decision(state, state.start, state.end, today=today).note or ""
        step = (
            note
            if note.startswith("MISSING DAYS")
            else open_day_hint(state.open_day, today, unproven=state.open_day_unproven)
        )
    vouched = m.vouched_created_at(state)
    if vouched is not None:
        why = (
            f"{why}; its request's createdAt {vouched} is your word (`journal adopt "
            "--created-at`): a listing of it with another createdAt wins"
        )
    if _partial(state):
        # The run that planned more days said MISSING DAYS; the journal must not look finished.
        why = f"{why}; covers {state.start}..{state.end} only, not the whole month"
        # Newcomer 11 #7: a part downloaded on purpose (after SAT's 5003 for the whole month)
        # was told to resend the whole month, the request SAT had refused (and billed).
        step = (
            "the month's other days are not in this journal. A part downloaded on purpose (the "
            "month split after SAT's 5003, say) is finished here: `journal split` run on the "
            "month's own folder, naming this folder and the other parts, records it there. "
            "Otherwise download the other days with `sat download` into another --out folder; "
            "`gigstack-async journal resend --force` asks for the whole month again (a new "
            "request, possibly billed; never after a 5003 for those dates: SAT refuses it again)"
        )
        if _whole_month(state) in state.exhausted:
            step = m.missing_days_way(state, *_whole_month(state))
        gone = _window_gone(state)
        if gone is not None:
            why, step = why + gone[0], gone[1]
    return [
        state.key,
        stage,
        state.request_id or "",
        count,
        # MISSING FILES: only the files its folder still holds (newcomer 9h #1).
        str(len(set(state.files) - set(state.lost_files))),
        with_journal(why, state.key, journal, out=out) or "",
        with_journal(step, state.key, journal, out=out) or "",
        "" if hold is None and _retry_applies(state) else NO_RETRY,
    ]


def _retry_applies(state: m.MonthState) -> bool:
    """Whether `journal retry-download` accepts month `state` now (as `repair.allow_download`
    takes it: the state `repair.missing_now` gives)."""
    try:
        m.transition(state, m.AllowDownload())
    except m.TransitionError:
        return False
    return True


_STAGE_WHY = {
    m.Stage.STAGED: "every package is on disk (staged); extracting them is next",
    m.Stage.PROCESSING: "SAT is processing the request",
}
"""What a History line says for a stage the month entered with its previous line's reason."""


def _downloads_used(state: m.MonthState) -> list[str]:
    """Per package: downloads counted of those the machine sends (SAT's 2, plus one per
    `journal retry-download`), and how many of them may not have reached SAT. Past SAT's 2,
    whose extra GETs the user allowed, said so (newcomer 10 F5: "4 of 4" read as SAT's own
    limit, which the README gives as 2)."""
    shown = []
    uncounted = state.request_id in state.uncounted
    for pid, used in state.downloads:
        allowed = state.allowed_of(pid)
        notes = []
        if allowed > m.DOWNLOAD_BUDGET:
            count = f"{used}"
            notes.append(
                f"SAT allows {m.DOWNLOAD_BUDGET}; {allowed - m.DOWNLOAD_BUDGET} more allowed by "
                "you with `gigstack-async journal retry-download`"
            )
        else:
            count = f"{used} of {allowed}"
        unsure = state.unsure_of(pid)
        if uncounted and unsure >= min(used, m.DOWNLOAD_BUDGET):
            notes.append("SAT's 2 assumed spent: this journal did not count them")
        elif state.request_id in state.foreign and used <= m.DOWNLOAD_BUDGET:
            # Review 9u #3: made outside the journal, one of SAT's 2 is assumed spent there.
            notes.append(
                # r2 N2: a lost create's request is very likely its own: counted spent
                # elsewhere only to be safe (was "where the request may have been made").
                f"1 counted as spent elsewhere to be safe (the request taken for the create "
                f"whose answer was lost, very likely it); {used - 1} sent here"
                if state.request_id in state.unproven and state.request_id in state.from_history
                else "1 assumed spent where the request may have been made (not proven this "
                f"month's own create), outside this journal; {used - 1} sent here"
                if state.request_id in state.unproven
                else f"1 assumed spent where the request was made, outside this journal; "
                f"{used - 1} sent here"
            )
        elif unsure and used > m.DOWNLOAD_BUDGET:
            # Newcomer 9j F6: "3 of 3 (3 may not have reached SAT)" invited yet another GET.
            notes.append(f"{unsure} unconfirmed: SAT may already have served it twice")
        elif unsure:
            notes.append(f"{unsure} may not have reached SAT")
        shown.append(f"{pid}: {count}" + (f" ({'; '.join(notes)})" if notes else ""))
    return shown


def run_show(args: argparse.Namespace, ctx: Context) -> int:
    journal = str(args.journal)
    try:
        opened = _open(args, read_only=True)
    except JournalDamagedError as error:
        return show_damaged(args, ctx, error)
    with opened as store:
        running = store.in_use
        if running:
            ctx.ui.out(
                "Note: a `sat download` is running on this journal now; this is its state at "
                "this moment, and it may change while you read it."
            )
        identity = store.identity
        rfc = (
            f"{identity.rfc} ({describe_source(store.rfc_source)})"
            if identity.rfc is not None
            else "not known yet (read from the first package of a request the server vouched for)"
        )
        ctx.ui.out(
            f"Journal {store.path}: {identity.rfc_type} {identity.request_type}, "
            f"{identity.base_url}"
            + (f", team {identity.team}" if identity.team else "")
            + f", RFC {rfc}"
        )
        holds = store.holds()
        # Part folders a hint names go beside the download folder (`<out>-2024-03a`).
        where = store.download_to
        out = journal if Path(journal).is_dir() or where is None else str(where)
        if args.month is None:
            rows = [
                _row(
                    repair.missing_now(store, state.key),
                    journal,
                    running=running,
                    hold=holds.get(state.key),
                    out=out,
                )
                for state in store.states()
            ]
            show_rows(ctx.ui, rows)
            _say_resume(ctx, store, holds, running=running)
            return exitcodes.OK
        state = _month(store, args.month)
        state = repair.missing_now(store, state.key)  # a folder that lost files says so
        hold = holds.get(state.key)
        show_rows(ctx.ui, [_row(state, journal, running=running, hold=hold, out=out)])
        details = [
            ["dates", f"{state.start} to {state.end}"],
            [
                "create requests sent",
                str(state.creates)
                if state.creates_known
                else f"unknown (at least {_at_least(state)})",
            ],
            ["request ids known", ", ".join(state.known_ids)],
            # The month's own requests whose package SAT answered 5007 (review r2 H1): never
            # adopted again, and never "not this month's".
            *(
                [["expired (package gone, not to adopt)", ", ".join(state.expired)]]
                if state.expired
                else []
            ),
            # Known not to be the month's: another month may `journal adopt` them.
            ["released (not this month's)", ", ".join(state.released_ids())],
            ["outcome unknown", "yes" if state.unknown else "no"],
            ["packages", ", ".join(state.package_ids or ()) or "unknown"],
            ["SAT downloads used", ", ".join(_downloads_used(state))],
            ["staged", ", ".join(s.path for s in state.staged)],
        ]
        print_table(ctx.ui, (Col("field"), Col("value")), details, header=False)
        # The journal records no time per transition: `#` is its order (numbered across all
        # months), not a timestamp; `downloads history` has the server's times.
        ctx.ui.out(
            "History: # is the journal's transition number, numbered across every month of the "
            "journal (so it skips other months' lines), oldest first (no time is kept)"
        )
        ctx.ui.out(f"  {'#':>5}  {'state':<16} why")
        shown: tuple[object, ...] = ()
        for line in store.log(state.key):
            # A line written only because a count moved (a package GET) repeats the one before.
            if (line.stage, line.reason, line.request_id) == shown:
                continue
            why = line.reason or ""
            if shown and line.reason == shown[1] and line.stage in _STAGE_WHY:
                # The reason carried over into a new stage (newcomer 10, minor: `completed` and
                # `staged` both read "SAT completed the request"): say what the stage means.
                why = _STAGE_WHY[line.stage]
            shown = (line.stage, line.reason, line.request_id)
            # Its commands name the folder, as the month's own why and next step (review r2 H2).
            why = with_journal(why, state.key, journal, out=out) or ""
            ctx.ui.out(f"  {line.seq:>5}  {line.stage.value:<16} {why}")
        if _goes_on(state, hold):
            _say_resume(ctx, store, holds, running=running)
    return exitcodes.OK


def _say_resume(
    ctx: Context, store: JournalStore, holds: dict[str, Hold], *, running: bool
) -> None:
    """Where a month's next step is running the download again, that `sat download` command,
    written out from the journal on a line of its own (newcomer 11: days later, the user may
    not have it); a month whose end is not its month's last day says how to ask for more."""
    if running or not any(_goes_on(state, holds.get(state.key)) for state in store.states()):
        return
    folder = store.download_to
    if folder is None:  # a `bulk()` journal that extracts nothing: no `sat download` does that
        return
    command = resume_command(
        store,
        Path(os.path.abspath(store.path)),
        folder,
        environment_base_url=os.environ.get(BASE_URL_ENV),
    )
    if command is None:
        return
    ctx.ui.out(
        "The same download, for this journal (the API key from GIGSTACK_API_KEY or "
        "--api-key; it asks before sending anything that may be billed):"
    )
    ctx.ui.out(f"  {command}")
    first = min(store.states(), key=lambda state: state.key)
    if first.start != _whole_month(first)[0]:
        # Review 13 #2: a later run that asked for the whole month showed its first days as
        # MISSING DAYS; this command, from the journal's dates, plans only the days requested.
        ctx.ui.out(
            f"Its --from is {first.start}, the first day this journal's requests cover. If the "
            f"download asked for {first.key} from an earlier day, give that --from instead: "
            "the days before are then shown as MISSING DAYS, with how to ask for them."
        )
    last = max(store.states(), key=lambda state: state.key)
    if last.end != _whole_month(last)[1]:
        ctx.ui.out(
            f"Its --to is {last.end}, the last day this journal's requests cover. If the "
            "download asked for more (a --to after the day it ran: the plan stops at that "
            "day), give that --to instead: the later days are asked for then."
        )


_RUN_AGAIN_WORDS = ("run the same command again", "run the same download again")


def _goes_on(state: m.MonthState, hold: Hold | None) -> bool:
    """Whether running the download again is this month's next step (a held month's is
    adopting or resending its request, which the command does not do)."""
    if hold is not None:
        return False
    if not state.settled:
        return True
    return any(words in (state.hint or "") for words in _RUN_AGAIN_WORDS)


def run_adopt(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.ui.changing_state():  # `-y | head -1` must not lose the adoption
        return _adopt(args, ctx)


def _adopt(args: argparse.Namespace, ctx: Context) -> int:
    request_id = _required(args, args.request_id, "REQUEST_ID").strip()
    if not request_id:
        raise UsageError("REQUEST_ID must not be empty")
    if not MONTH_ARG.fullmatch(args.month):
        raise UsageError(f"MONTH must be YYYY-MM, got {args.month!r}. {args.usage.strip()}")
    vouched = None
    if args.created_at is not None:
        try:
            vouched = m.vouch_created_at(args.created_at)
        except ValueError:
            raise UsageError(
                f"--created-at must be an ISO date or date and time, e.g. 2024-09-02T10:15 "
                f"(Mexico City time) or 2024-09-02T16:15Z, got {args.created_at!r}. "
                f"{args.usage.strip()}"
            ) from None
    with _open_or_create(args, ctx) as store:
        try:
            new, commands = repair.adopt(
                store,
                args.month,
                request_id,
                ids_restarted=args.ids_restarted,
                today=today_mx(),
                created_at=vouched,
            )
        except JournalStateError as error:  # its way on names the folder, to run as printed
            raise JournalStateError(
                with_journal(str(error), args.month, str(args.journal)) or str(error)
            ) from None
        state = store.get(args.month) if args.month in store.keys() else new  # noqa: SIM118
        action = ADOPT_COMPLETED if new.stage is m.Stage.COMPLETED else ADOPT_WAITING
        # Its own request adopted again once finished: only the vouched createdAt changes.
        only_vouch = vouched is not None and state.stage in _FINISHED
        if vouched is not None:
            ctx.ui.out(_vouch_effect(new, request_id, vouched))
        if only_vouch:
            if not _confirm(
                ctx,
                f"Record that {request_id} was made at {vouched}?",
                yes=args.yes,
                what="--created-at trusts your word",
            ):
                ctx.ui.err("Nothing changed.")
                return exitcodes.USAGE
            repair.record(store, new, commands)
            ctx.ui.out(
                f"{state.key} keeps request {request_id}, its files and its counts; only its "
                f"createdAt was recorded. {RUN_AGAIN_SENTENCE}"
            )
            return exitcodes.OK
        ctx.ui.out(
            ADOPT_TRUST.format(
                request_id=request_id,
                key=state.key,
                rfc_type=state.rfc_type,
                request_type=state.request_type,
                start=state.start,
                end=state.end,
                action=action,
            )
        )
        if m.listed_before_create(state, request_id):
            # Review 9r #2: the only request the dashboard showed was another folder's; adopting
            # it spent its package's last SAT download. Allowed (the user may want it).
            ctx.ui.out(
                ADOPT_LISTED_BEFORE.format(
                    request_id=request_id,
                    key=state.key,
                    prog=PROG,
                    journal=shell_quote(str(args.journal)),
                )
            )
        released = next((r for r in state.released if r.id == request_id), None)
        if released is not None:
            # Review 9v #3: the month released it (its package held other CFDIs, or the history
            # or a status showed other dates or type): taking it back spends SAT's downloads of
            # its package(s) again, for CFDIs known not to be this month's.
            spent = ", ".join(f"{p}: {n} of 2" for p, n in released.downloads) or "none yet"
            ctx.ui.out(
                f"Warning: {state.key} released request {request_id}, known not to be its own "
                "(its package held another month's CFDIs, or the server showed other dates or "
                f"type; SAT downloads this month spent on it: {spent}). Adopting it back "
                "downloads its package(s) again, spending SAT's downloads (2 per package, "
                "shared with the month whose request it is). If its CFDIs are another month's "
                f"of this journal, adopt it there instead: `{PROG} journal adopt "
                f"{shell_quote(str(args.journal))} <that month> {request_id}`."
            )
        if request_id in new.uncounted:
            # Newcomer 9f #1: made elsewhere (a held month, a new journal): its downloads were
            # counted there, if at all; said before the yes, as the run will act on it.
            ctx.ui.out(
                f"This journal did not count the downloads of {request_id}'s packages (made "
                "elsewhere: another folder or tool), so both of SAT's 2 are assumed spent. "
                "Next: run the download once (the same `sat download` for this folder): it "
                "reads the request's packages (free) and stops before downloading any of them. "
                f"Only then does `{PROG} journal retry-download "
                f"{shell_quote(str(args.journal))} {state.key}` allow one more GET of each (it "
                "bills nothing: SAT answers 5008 for a package already served twice; before "
                "that run it is refused: the month has not stopped at a package yet), and one "
                "more run "
                "downloads them."
            )
        elif request_id in new.foreign:
            # Review 9u #3: made outside the journal, as gigstack's duplicate answer can name.
            ctx.ui.out(
                f"This journal did not count the downloads of {request_id}'s packages ("
                + (
                    # Review 9w #7: after a lost create, the id may be that create or another's.
                    "not proven to be this month's own create: it may have been made "
                    if request_id in new.unproven
                    else "made "
                )
                + "elsewhere: another folder, another machine or gigstack's dashboard, which may "
                "have downloaded them already), so one of SAT's 2 is assumed spent: the next "
                "run sends at most one GET of each package and never retries it. If that GET "
                f"fails, `{PROG} journal retry-download {shell_quote(str(args.journal))} "
                f"{state.key}` allows one more (it bills nothing: SAT answers 5008 for a "
                "package already served twice)."
            )
        earlier, folder = _earlier_files(store, state)
        if earlier:
            # Newcomer 9e #1: adopting a month whose files are on disk spent each package's
            # last SAT download to extract them again. Never `keep --force` ready-made: the
            # run checks the folder against SAT's count first (review 9i #3).
            copies = staged_copies(store.download_to, state.key)
            ctx.ui.out(
                (ADOPT_STAGED_THERE if copies else ADOPT_FILES_THERE).format(
                    key=state.key,
                    folder=folder,
                    files=earlier,
                    prog=PROG,
                    journal=shell_quote(str(args.journal)),
                )
            )
        dropped = [c.path for c in commands if isinstance(c, m.DeleteStaged)]
        if dropped:
            # Each staged package spent one of SAT's 2 downloads: say so before the yes.
            ctx.ui.out(ADOPT_DROPS.format(key=state.key, paths=", ".join(dropped)))
        removed = _record_confirmed(
            ctx,
            store,
            new,
            commands,
            f"Adopt {request_id} for {state.key}?",
            yes=args.yes,
            what="adopt trusts your word",
        )
        if removed is None:
            return exitcodes.USAGE
        for path in removed:
            ctx.ui.out(f"Removed {path}: the left request's staged package, not extracted.")
        then = RUN_AGAIN_SENTENCE
        if request_id in new.uncounted:
            # Newcomer 9k #5: "run again" alone, and `retry-download` refused until then.
            then = (
                f"{then[:-1]}: it stops before the packages (both SAT downloads assumed spent); "
                f"then `{PROG} journal retry-download {shell_quote(str(args.journal))} "
                f"{state.key}` (refused before that run), then run once more."
            )
        ctx.ui.out(f"{state.key} now follows request {request_id}. {then}")
    return exitcodes.OK


_FINISHED = frozenset({m.Stage.DONE, m.Stage.EMPTY, m.Stage.STAGED})
"""Stages `journal adopt` refuses, but for the month's own request with --created-at."""


def _vouch_effect(new: m.MonthState, request_id: str, vouched: str) -> str:
    """What --created-at `vouched` does to month `new` (the adopt's outcome), said before the
    confirmation."""
    made = m.created_day(vouched)
    if new.open_day is None:
        effect = f"made after {new.end} was over: that day is not MISSING DAYS"
    else:
        effect = (
            f"made on {made}, on or before {new.end}: {new.open_day}..{new.end} may miss CFDIs "
            "stamped later, and are named MISSING DAYS once over"
        )
    return (
        f"--created-at: you vouch that request {request_id} was made at {vouched} ({made} in "
        f"Mexico City), {effect}. A history or status that lists it with a readable createdAt "
        "which disagrees wins over your word."
    )


@contextlib.contextmanager
def _open_or_create(args: argparse.Namespace, ctx: Context) -> Iterator[JournalStore]:
    """The journal, or a new one for the folder (an upgrade from the JSON journal, or requests
    made elsewhere): its owner is this command's API key, team and base URL, its kind of
    request --rfc-type and --type. Nothing is sent. A month is added without a create."""
    path: Path = args.journal
    target = path / DEFAULT_JOURNAL if path.is_dir() or not path.suffix else path
    if target.exists() or MONTH_ARG.fullmatch(str(path)):
        if args.rfc_type is not None or args.request_type is not None:
            store = _open(args)
            kind = (store.identity.rfc_type, store.identity.request_type)
            wanted = (args.rfc_type or kind[0], args.request_type or kind[1])
            if wanted != kind:
                store.close()
                raise UsageError(
                    f"{store.path} holds {kind[0]} {kind[1]} requests, not {wanted[0]} "
                    f"{wanted[1]}: use another folder for those"
                )
            with store:
                yield store
            return
        with _open(args) as store:
            yield store
        return
    if args.rfc_type is None:
        raise UsageError(
            f"no journal at {target}. To start one without sending anything, give the "
            "requests' kind: --rfc-type issued|received (and --type cfdi|metadata); the "
            "journal is created for this API key, team and base URL. "
            f"{args.usage.strip()}"
        )
    client = ctx.client(args)
    try:
        identity = journal_identity(client._pipeline, args.rfc_type, args.request_type or "cfdi")
    finally:
        run_command(client.aclose())
    folder = target.parent if target.name == DEFAULT_JOURNAL else None
    with JournalStore.open(target, identity) as store:
        store.bind_download_to(folder)
        ctx.ui.out(
            f"New journal {target}: {identity.rfc_type} {identity.request_type} requests"
            + (f" downloaded into {folder}" if folder is not None else "")
            + ". Nothing was sent."
        )
        yield store


def run_resend(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.ui.changing_state():  # `-y | head -1` must not lose the resend
        return _resend(args, ctx)


def _resend(args: argparse.Namespace, ctx: Context) -> int:
    key = _required(args, args.month, "MONTH")
    with _open(args) as store:
        state = _month(store, key)
        state = repair.missing_now(store, key)  # never "holds N file(s)" that are gone
        if state.stage is m.Stage.SPLIT:
            # Never sent again, --force or not: it said "pass --force only if ..." and then
            # refused --force (review 9i #6).
            raise UsageError(
                f"{key} is split: {state.reason or 'downloaded in parts'}. A split month is "
                "never requested again, with --force or not (its days are downloaded in its "
                "parts, and SAT refused the whole month's request). Nothing changed"
            )
        if state.ok and not args.force:
            where = f" in {args.journal / key}" if args.journal.is_dir() else ""
            raise UsageError(
                f"{key} is {state.stage.value}: it holds {len(state.files)} extracted file(s)"
                f"{where} from request {state.request_id or '(none)'}, and this journal sent "
                + (
                    f"{state.creates}"
                    if state.creates_known
                    else f"an unknown number (at least {_at_least(state)}) of"
                )
                + " create request(s) for it. A resend asks SAT for the month again "
                "and the new request may be billed; pass --force only if the month misses days "
                "(MISSING DAYS)"
            )
        one_day = m.one_day_5003(state)
        if state.stage is m.Stage.SAT_FAILED and state.sat_code == 5003 and one_day is not None:
            if not args.force:
                # One day: no split exists, so none is offered (it would repeat the request).
                raise UsageError(
                    f"{key}: "
                    + (with_journal(one_day, key, str(args.journal)) or one_day)
                    + ". Pass --force only if SAT's answer has changed"
                )
        elif state.stage is m.Stage.SAT_FAILED and state.sat_code == 5003 and not args.force:
            way = with_journal(m.split_commands(state), key, str(args.journal))
            own = m.own_part_of(state, state.start, state.end)
            parts = (
                "e.g. in two halves"
                if own is None
                else f"only the days its folder does not hold ({own.start}..{own.end} is there)"
            )
            raise UsageError(
                f"{key}: SAT answered 5003 (too many CFDIs for one request) for "
                f"{state.start}..{state.end}: the same request would be billed and refused "
                f"again. Split the period instead, each part into its own --out folder, {parts}: "
                f"{way}; pass --force only if SAT's answer has changed"
            )
        try:
            whole = repair.new_month(store, key)
        except InvalidParameterError:
            whole = state
        if state.ok and (whole.start, whole.end) in state.exhausted:
            # The next run would plan the whole month, which SAT refused with 5002: a resend
            # could only ask for the recorded, already downloaded dates again (billed again).
            way = m.missing_days_way(state, whole.start, whole.end)
            raise UsageError(
                f"{key}: SAT 5002 says its limit of requests for {whole.start}..{whole.end} is "
                f"exhausted, so a resend cannot ask for the whole month; {key} covers "
                f"{state.start}..{state.end}. "
                + (with_journal(way, key, str(args.journal)) or way)
                + ". Nothing changed"
            )
        try:  # refused (SAT 5002 for these dates) before any warning is printed
            new, commands = m.transition(state, m.AllowResend(force=args.force))
        except m.TransitionError as error:
            # Its way on (5002: `journal split`) names this folder, as every hint does.
            raise UsageError(with_journal(str(error), key, str(args.journal)) or "") from None
        risk = RESEND_RISK.format(
            key=state.key, start=state.start, end=state.end, prog=PROG, creates=creates_sent(state)
        )
        earlier, folder = _earlier_files(store, state)
        if earlier:
            count = f"; {m.count_source(state)}" if state.invoice_count is not None else ""
            partial = state.unextracted or staged_copies(store.download_to, state.key)
            risk += (RESEND_PARTIAL_THERE if partial else RESEND_FILES_THERE).format(
                key=state.key,
                folder=folder,
                files=earlier,
                count=count,
                prog=PROG,
                journal=shell_quote(str(args.journal)),
            )
        if state.sat_code == 5005 and state.stage in (m.Stage.DUPLICATE, m.Stage.NEEDS_ATTENTION):
            risk += RESEND_DUPLICATE.format(
                key=state.key, prog=PROG, journal=shell_quote(str(args.journal))
            )
        third = m.third_identical(state)
        if third is not None:
            # Only --force gets here (`AllowResend` refuses it otherwise, a done month's too:
            # review 9m #7): the risk by name, in the confirmation.
            said = with_journal(third, key, str(args.journal)) or third
            risk += f" --force: {said[0].upper()}{said[1:]}."
        if state.stage is m.Stage.PLANNED and state.held_for:
            # A held month: the account already has its exact request (another folder's).
            risk += (
                f" {state.key} was held, not sent, because the account already has "
                f"{len(state.held_for)} identical request(s) ({', '.join(state.held_for)}), "
                "which this journal did not send: this new request counts against SAT's 2 "
                "with them."
            )
        if state.ok:
            risk += RESEND_WHOLE_MONTH.format(
                key=state.key, start=state.start, end=state.end, files=len(state.files)
            )
        ctx.ui.out(risk)
        removed = _record_confirmed(
            ctx,
            store,
            new,
            commands,
            f"Allow a new request for {state.key}?",
            yes=args.yes,
            what="resend may be billed",
        )
        if removed is None:
            return exitcodes.USAGE
        for path in removed:
            ctx.ui.out(f"Removed {path}: the earlier request's staged package, not extracted.")
        ctx.ui.out(
            f"{state.key} will be requested again by the next run (`sat download` or `bulk()`)."
        )
    return exitcodes.OK


def run_retry_download(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.ui.changing_state():  # `-y | head -1` must not lose the allowance
        return _retry_download(args, ctx)


def _retry_download(args: argparse.Namespace, ctx: Context) -> int:
    key = _required(args, args.month, "MONTH")
    with _open(args) as store:
        state = _month(store, key)
        state = repair.missing_now(store, key)  # MISSING FILES: the folder lost some
        hold = store.holds().get(key)
        if hold is not None:
            # Newcomer r2 N3: "2026-09 is planned: ... see journal show", a loop back.
            raise JournalStateError(_retry_held(state, str(args.journal)))
        left = m.downloads_left(state)
        if left is not None:
            # Newcomer r2 N3: not "error: ... no download to allow" for a month whose hint
            # says to run again: nothing to allow, and nothing wrong.
            pending, n, unsure = left
            ctx.ui.out(
                f"Not needed: {key}'s package {pending} has {'at least ' if unsure else ''}"
                f"{n} of SAT's {m.DOWNLOAD_BUDGET} downloads left, so a plain re-run downloads "
                f"it: {RUN_AGAIN}. Nothing changed."
            )
            return exitcodes.OK
        # Refused (not stopped at such a package, or surely spent) before any text is shown.
        try:
            new, commands = repair.allow_download(store, key)
        except JournalStateError as error:  # its hints name the folder, to run as printed
            raise JournalStateError(
                with_journal(str(error), key, str(args.journal)) or str(error)
            ) from None
        if new.refill:
            return _refill(args, ctx, store, state, new, commands)
        package_id = state.blocked_package
        assert package_id is not None  # allow_download refuses a month without one
        # A request made outside this journal (review 9u #3): where it was made, SAT's 2 may
        # have been spent, so this one more GET may be its third, as after an extra GET.
        again = (
            state.downloads_of(package_id) > m.DOWNLOAD_BUDGET or state.request_id in state.foreign
        )
        risk = (RETRY_AGAIN_RISK if again else RETRY_RISK).format(
            key=key,
            package_id=package_id,
            counted=m.counted_downloads(state, package_id),
            prog=PROG,
        )
        # The machine's texts name no folder: every command printed runs as shown (newcomer
        # 9g #8: `journal retry-download 2025-01` would have read the month as the folder).
        ctx.ui.out(with_journal(risk, key, str(args.journal)) or risk)
        others = m.allowed_packages(state)[1:]
        if others:
            ctx.ui.out(
                f"This journal never counted the downloads of request {state.request_id}'s "
                f"packages, so this also allows one more download of each of its {len(others)} "
                f"other package(s) assumed spent ({', '.join(others)}): each bills nothing, "
                "SAT answers 5008 if it already served that package twice."
            )
        question = f"Allow one more download of {package_id} for {key}?"
        what = "retry-download uses one more SAT download"
        if _record_confirmed(ctx, store, new, commands, question, yes=args.yes, what=what) is None:
            return exitcodes.USAGE
        allowed = m.allowed_packages(state)
        ctx.ui.out(
            f"{key} may download package{'s' if len(allowed) > 1 else ''} {', '.join(allowed)} "
            f"once more: {RUN_AGAIN}."
        )
    return exitcodes.OK


def _retry_held(state: m.MonthState, journal: str) -> str:
    """Why `journal retry-download` refuses a held month (newcomer r2 N3): no request of its
    own yet, so no package; its way on, runnable as printed."""
    ids = m.held_ids(state)
    adopt = (
        f"`gigstack-async journal adopt {state.key} {ids[0]}`"
        if len(ids) == 1
        else f"`gigstack-async journal adopt {state.key} <request id>` (one of {', '.join(ids)})"
        if ids
        else f"`gigstack-async journal adopt {state.key} <request id>` (the request it is held "
        "for, named by its next step)"
    )
    text = (
        f"{state.key} is held: not sent, it has no request of its own, so there is no package "
        f"download to allow. To use the account's request it is held for, {adopt} attaches "
        "it (nothing is sent); retry-download applies only once a download of its package "
        "fails. Nothing changed"
    )
    return with_journal(text, state.key, journal) or text


REFILL_RISK = (
    "{key} is missing {lost} of the {files} file(s) extracted for it (MISSING FILES). This "
    "allows downloading package {packages} once more ({counted}), sent by the next run (`sat "
    "download` or `bulk()`) with this folder: it extracts the package again and writes only the "
    "files the folder no longer holds intact (a damaged CFDI is first moved to {key}/damaged/, "
    "kept; an intact file still there is never overwritten). Nothing is "
    "requested again and nothing is billed. SAT keeps a package 72 h and serves it at most "
    "twice: if it answers 5008 (served twice), the month stays MISSING FILES: put the files "
    "back (from a backup, or the folder where its request was made) and the next run finds "
    "them; if they are gone, or it answers 5007 (expired), the month needs `{prog} journal "
    "resend {key}` (a new request, may be billed)."
)


def _used(state: m.MonthState, package_id: str) -> str:
    used = state.downloads_of(package_id)
    if used < m.DOWNLOAD_BUDGET:
        return f"{used} of SAT's {m.DOWNLOAD_BUDGET} downloads of it used"
    return m.counted_downloads(state, package_id)


def _refill(
    args: argparse.Namespace,
    ctx: Context,
    store: JournalStore,
    state: m.MonthState,
    new: m.MonthState,
    commands: tuple[m.Command, ...],
) -> int:
    """`journal retry-download` of a done month whose folder lost files (newcomer 9h #1)."""
    key = state.key
    packages = m.refill_packages(state)
    risk = REFILL_RISK.format(
        key=key,
        lost=len(state.lost_files),
        files=len(state.files),
        packages=", ".join(packages),
        counted="; ".join(_used(state, p) for p in packages),
        prog=PROG,
    )
    ctx.ui.out(with_journal(risk, key, str(args.journal)) or risk)
    question = f"Allow downloading {', '.join(packages)} once more for {key}?"
    what = "retry-download uses one of SAT's downloads"
    if _record_confirmed(ctx, store, new, commands, question, yes=args.yes, what=what) is None:
        return exitcodes.USAGE
    ctx.ui.out(
        f"{key} may download package{'s' if len(packages) > 1 else ''} {', '.join(packages)} "
        f"once more for its missing files: {RUN_AGAIN}."
    )
    return exitcodes.OK


KEEP_RISK = (
    "Confirming says that the {files} file(s) in {folder}, extracted by an earlier run, are "
    "every CFDI of {key} ({start} to {end}){count}: {listed}. {key} would then be recorded done "
    "with them: nothing would be sent or downloaded, and later runs would not download it "
    "again. If some are missing, `{prog} journal resend {key} --force` requests the month "
    "again (may be billed)."
)
KEEP_SHOWN = 5
"""How many file names `journal keep` lists (then how many more there are)."""


def _damaged(state: m.MonthState, folder: Path, names: list[str]) -> tuple[str, ...]:
    """The `<UUID>.xml` files in `folder` that are not complete CFDIs (`content.damaged_cfdis`);
    () for a metadata month, or when a file cannot be read (`_keep_doubts` says so)."""
    if state.request_type != "cfdi":
        return ()
    try:
        return content.damaged_cfdis(folder / name for name in names)
    except OSError:
        return ()


def _keep_doubts(
    store: JournalStore, state: m.MonthState, folder: Path, names: list[str]
) -> tuple[list[str], str | None]:
    """Why the files in `folder` may not be `state`'s CFDIs: fewer distinct CFDIs (`<UUID>.xml`
    names; metadata: rows of distinct files) than SAT reported for the request, SAT's count
    unknown (nothing to check them against), or the check a run makes of a package before
    extracting it (`bulk.content`: issue dates within the month ± 1 day, the kind of file, one
    taxpayer on the request's side), made on the files. Empty when nothing speaks against them."""
    doubts = []
    unit = "CFDIs" if state.request_type == "cfdi" else "rows"
    try:
        if state.request_type == "cfdi":
            found = len(content.cfdi_uuids(names))
            held = f"{found} distinct CFDI(s) (files named <UUID>.xml)"
        else:
            found = content.metadata_rows(folder / name for name in names)
            held = f"{found} metadata row(s) (a copied file counted once)"
    except OSError as exc:
        doubts.append(f"a file cannot be read ({exc})")
    else:
        if state.invoice_count is None:
            # Unknown is not "enough": nothing can tell that these are all of the month's.
            why = (
                f"no request is recorded for {state.key}"
                + (
                    # Adopting it first would download its packages again (newcomer 9e #1).
                    " since its record was lost" if state.known_ids else ": adopt its request first"
                )
                if state.request_id is None
                else f"SAT never reported it for request {state.request_id}"
            )
            doubts.append(
                f"SAT's count of {unit} is unknown ({why}), so the folder's {held} cannot be "
                "checked against it"
            )
        elif found < state.invoice_count:
            doubts.append(f"it holds {held}, but {m.count_source(state, unit)}: some are missing")
        elif extra := m.beyond_count(state, found):
            doubts.append(
                f"it holds {held}, {extra} more than {m.count_source(state, unit)}: SAT's count "
                f"is every CFDI of the request, so at least {extra} of them are another "
                "request's or another taxpayer's (a folder restored or copied from another "
                f"download?). Move the files that are not {state.key}'s out of {folder} "
                "(their issue dates and RFCs tell them apart) and keep again; with --force all "
                f"{found} would be recorded as {state.key}'s CFDIs, the foreign ones included"
            )
    try:
        scan = content.scan_files(
            (folder / name for name in names),
            request_type=state.request_type,
            start=state.start,
            end=state.end,
            rfc_type=state.rfc_type,
            journal_rfc=store.identity.rfc,
        )
    except OSError as exc:
        doubts.append(f"a file cannot be read ({exc})")
        return doubts, None
    if scan.mismatch is not None:
        doubts.append(f"they are not {state.key}'s request: {scan.mismatch}")
    return doubts, scan.rfc


def _dated_files(
    store: JournalStore, state: m.MonthState, folder: Path, names: list[str]
) -> tuple[date, date] | None:
    """(earliest, latest) issue date of the CFDIs in `folder` (`m.KeepFiles.dated`) when they
    are all the month's request's: every `<UUID>.xml` a readable CFDI issued within the month's
    dates, naming one taxpayer on the request's side (the journal's RFC when it knows it), and
    at least as many distinct CFDIs as SAT reported. None otherwise (or a metadata month, or a
    file that cannot be read): nothing proven (review 9k #3)."""
    count = state.invoice_count
    uuids = content.cfdi_uuids(names)
    if state.request_type != "cfdi" or count is None or count <= 0 or len(uuids) < count:
        return None
    xml = [n for n in names if content.cfdi_uuids([n])]
    try:
        heads = content.cfdi_heads((folder / n for n in xml), rfc_type=state.rfc_type)
    except OSError:
        return None
    days = [h.day for h in heads]
    rfcs = {h.rfc for h in heads}
    known = store.identity.rfc
    if (
        not heads
        or not all(h.cfdi for h in heads)
        or any(d is None or not state.start <= d <= state.end for d in days)
        or len(rfcs) != 1
        or None in rfcs
        or (known is not None and rfcs != {known})
    ):
        return None
    dated = [d for d in days if d is not None]
    return min(dated), max(dated)


def _keep_way_on(store: JournalStore, key: str) -> str:
    """The way on after a refused keep, the free one first: one more SAT download of the
    package when SAT may still serve it (`journal retry-download`), else a new request."""
    state = store.get(key)
    logged = [i for i in state.known_ids if i not in state.released_ids()]
    if state.invoice_count is None and state.request_id is None and logged:
        # Its record was lost: adopting the logged request costs nothing while the folder
        # holds its CFDIs, and its run offers this keep checked (review 9i #3); never one it
        # released (review 9v #3: another month's package).
        return (
            f"`{PROG} journal adopt {key} {logged[-1]}` first (nothing billed): the "
            "next run asks the request's status (free) and, if the folder holds every CFDI SAT "
            f"reports, stops before downloading and this keep can check them; `{PROG} journal "
            f"show {key}` shows the month"
        )
    try:
        repair.allow_download(store, key)
    except JournalStateError:
        free = ""
    else:
        free = (
            f"`{PROG} journal retry-download {key}` allows one more download of its package "
            "(bills nothing; SAT answers 5008 if it already served it twice); "
        )
    return (
        f"{free}`{PROG} journal resend {key} --force` requests the month again (may be "
        f"billed); `{PROG} journal show {key}` shows the month"
    )


def run_keep(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.ui.changing_state():  # `-y | head -1` must not lose the change
        return _keep(args, ctx)


def _keep(args: argparse.Namespace, ctx: Context) -> int:
    key = _required(args, args.month, "MONTH")
    journal = str(args.journal)
    with _open(args) as store:
        state = _month(store, key)
        if store.download_to is None:
            raise UsageError(
                f"{store.path} downloads into no folder: there are no files of {key} to keep"
            )
        folder = store.download_to / key
        names = list(file_names(folder))
        if args.empty and args.outside_window:
            raise UsageError("--empty and --outside-window record different things: pick one")
        if args.empty:
            return _keep_empty(args, ctx, store, state, names)
        if args.outside_window:
            return _keep_outside_window(args, ctx, store, state)
        unchecked = m.dates_unchecked(state)
        # Nothing shows the request's dates: its files' own dates may (review 9k #3).
        dated = _dated_files(store, state, folder, names) if unchecked else None
        damaged = _damaged(state, folder, names)
        keep = m.KeepFiles(
            tuple(names),
            dated=dated,
            vouched=bool(args.force),
            today=today_mx(),
            damaged=damaged,
        )
        try:  # refused (wrong stage, nothing of its own to keep) before any text is shown
            new, commands = m.transition(state, keep)
        except m.TransitionError as error:
            text = str(error)
            if damaged and text.startswith(f"{key} is not kept"):
                # The free way first: SAT's remaining download extracts them again (9m #10).
                text += (
                    ". Restore them from a copy of the folder, or have the next run extract "
                    "the month's package again over them: " + _keep_way_on(store, key)
                )
            elif text.endswith("nothing to keep") and _may_be_empty(state):
                text += (
                    f". If gigstack's dashboard (Descarga Masiva) or support says request "
                    f"{state.request_id} found no CFDIs, `{PROG} journal keep {journal} {key} "
                    "--empty` records the month empty (nothing is sent)"
                )
            raise UsageError(with_journal(text, key, journal) or "") from None
        doubts, rfc = _keep_doubts(store, state, folder, names)
        if doubts and not args.force:
            raise UsageError(
                f"{key} is not kept, nothing changed: the files in {folder} do not look like "
                f"every CFDI of {key}'s request: {'; '.join(doubts)}. "
                + (with_journal(_keep_way_on(store, key), key, journal) or "")
                + ". --force would record the month done with these files anyway (nothing "
                "downloaded again: any CFDI missing from them stays missing): use it only after "
                f"you have checked, in gigstack's dashboard (Descarga Masiva), that they are "
                f"every CFDI of {key} for {state.start}..{state.end}."
            )
        kept = new.extracted[-1].files
        count = f"; {m.count_source(state)}" if state.invoice_count is not None else ""
        listed = ", ".join(kept[:KEEP_SHOWN]) + (
            f" and {len(kept) - KEEP_SHOWN} more" if len(kept) > KEEP_SHOWN else ""
        )
        text = KEEP_RISK.format(
            files=len(kept),
            folder=folder,
            key=key,
            start=state.start,
            end=state.end,
            count=count,
            listed=listed,
            prog=PROG,
        )
        ctx.ui.out(with_journal(text, key, journal) or text)
        if unchecked and m.dates_from_files(state, dated):
            ctx.ui.out(
                f"The dates of request {state.request_id} were checked from the files, not "
                f"from the account's history (which no longer lists it): its {len(kept)} "
                f"file(s) hold CFDIs issued on {state.start} and on {state.end}, every one "
                f"within {state.start}..{state.end}, of the month's kind, and at least the "
                f"{state.invoice_count} SAT reported."
            )
        elif unchecked:
            seen = (
                f"its files' CFDIs were issued {dated[0]}..{dated[1]}"
                if dated is not None
                else "its files do not prove them"
            )
            ctx.ui.out(
                f"With --force you vouch for the dates of request {state.request_id}: neither "
                f"the account's history nor the files can show them ({seen}). Check them in "
                f"gigstack's dashboard (Descarga Masiva) first: if that request was for fewer "
                f"days than {state.start}..{state.end}, the other days' CFDIs were never "
                f"requested and {key} would be recorded done without them."
            )
        if rfc is not None and store.identity.rfc is None:
            # No call tells the team's RFC (`bulk.taxpayer`): the user is the only check.
            side = "received by" if state.rfc_type == "received" else "issued by"
            ctx.ui.out(
                f"Their CFDIs were {side} RFC {rfc}. This journal does not know its taxpayer's "
                f"RFC yet, so nothing can check that {rfc} is the team's: if it is not, these "
                "are another company's CFDIs, do not keep them."
            )
        if doubts:  # --force: the facts against them, restated before the confirmation
            # A preview: nothing is kept until the confirmation (newcomer 9f #6).
            ctx.ui.out(f"With --force it would be kept although {'; '.join(doubts)}.")
        question, what = f"Record {key} done with these files?", "journal keep"
        if _record_confirmed(ctx, store, new, commands, question, yes=args.yes, what=what) is None:
            return exitcodes.USAGE
        ctx.ui.out(f"{key} is done with the {len(kept)} file(s) in {folder}.")
    return exitcodes.OK


def _may_be_empty(state: m.MonthState) -> bool:
    """A month `journal keep --empty` may record (review 9p #3): its transition accepts it."""
    try:
        m.transition(state, m.KeepFiles((), empty=True))
    except m.TransitionError:
        return False
    return True


def _keep_empty(
    args: argparse.Namespace,
    ctx: Context,
    store: JournalStore,
    state: m.MonthState,
    names: list[str],
) -> int:
    """`journal keep MONTH --empty` (review 9p #3): the user's word, once confirmed, that the
    month's completed request found no CFDIs (the server gave no package ids nor a count)."""
    key = state.key
    keep = m.KeepFiles(tuple(names), today=today_mx(), empty=True)
    try:
        new, commands = m.transition(state, keep)
    except m.TransitionError as error:
        raise UsageError(with_journal(str(error), key, str(args.journal)) or "") from None
    ctx.ui.out(
        f"{key} would be recorded empty: request {state.request_id} found no CFDIs, on your "
        "word (the server gave no package ids and no count). Check it first in gigstack's "
        "dashboard (Descarga Masiva) or with gigstack support: if the request did find CFDIs, "
        f"they are never downloaded for {key}. Nothing is sent or downloaded."
    )
    question, what = f"Record {key} empty?", "journal keep --empty"
    if _record_confirmed(ctx, store, new, commands, question, yes=args.yes, what=what) is None:
        return exitcodes.USAGE
    ctx.ui.out(f"{key} is empty: no CFDIs, as you confirmed.")
    return exitcodes.OK


def _keep_outside_window(
    args: argparse.Namespace, ctx: Context, store: JournalStore, state: m.MonthState
) -> int:
    """`journal keep MONTH --outside-window` (newcomer 9j F1c): the user's word, once
    confirmed, that the month's days before the server's 71-month window are gone; only when
    the server's refusal showed they are (`machine.CutOutsideWindow`). Nothing is sent."""
    key = state.key
    try:
        new, commands = m.transition(state, m.CutOutsideWindow())
    except m.TransitionError as error:
        raise UsageError(with_journal(str(error), key, str(args.journal)) or "") from None
    first, last = m.cut_days(new) or (new.start, new.start)
    ctx.ui.out(
        f"{key} would be recorded done without {first}..{last}: the server refused them as "
        f"older than its 71-month window (its refusal said the window starts at "
        f"{new.server_oldest}), so SAT can no longer give their CFDIs. The month keeps its "
        f"{len(new.files)} file(s) for {new.start}..{new.end}; runs asking for the whole month "
        "then end ok and say the days cut. If the server's clock was wrong when it refused "
        "them, those days may still exist at SAT: they are then never downloaded into this "
        "folder. Nothing is sent or downloaded."
    )
    question, what = f"Record {key} done without {first}..{last}?", "journal keep --outside-window"
    if _record_confirmed(ctx, store, new, commands, question, yes=args.yes, what=what) is None:
        return exitcodes.USAGE
    ctx.ui.out(f"{key} is done without {first}..{last} (outside SAT's 71-month window).")
    return exitcodes.OK


def _window_gone(state: m.MonthState) -> tuple[str, str] | None:
    """(why, step) for a month done for fewer days than its month when those missing are before
    the server's 71-month window (newcomer 9j F1c): recorded gone, or the command that records
    it. None otherwise."""
    first, last = _whole_month(state)
    gaps = m.uncovered(first, last, m.held_here(state, first, last))
    cut = m.cut_days(state)
    if gaps and cut is not None and all(b <= cut[1] for _, b in gaps):
        why = (
            f"; {cut[0]}..{cut[1]} are outside SAT's 71-month window (the server refused "
            "them): recorded gone with `journal keep --outside-window`"
        )
        return why, ""
    oldest = state.server_oldest
    if not gaps or oldest is None or any(b >= oldest for _, b in gaps):
        return None
    try:
        m.transition(state, m.CutOutsideWindow())
    except m.TransitionError:
        return None
    step = (
        f"the days before {oldest} are outside SAT's 71-month window (the server refused them) "
        f"and can no longer be downloaded: `gigstack-async journal keep {state.key} "
        "--outside-window` records that they are gone (nothing is sent or billed)"
    )
    return "", step


def run_rebind(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.ui.changing_state():  # `-y | head -1` must not lose the rebind
        return _rebind(args, ctx)


def _rebind(args: argparse.Namespace, ctx: Context) -> int:
    with _open(args) as store:
        client = ctx.client(args)
        stored = store.identity
        new = journal_identity(client._pipeline, stored.rfc_type, stored.request_type)
        problems = stored.differences(new)
        conflict = owner.team_conflict(stored, new) if problems else None
        ids = owner.known_request_ids(store)
        # Only a GET of request statuses, and only when a changed owner could be another account.
        check = run_command(_checked(client, ids if problems and conflict is None else None))
        if not problems:
            ctx.ui.out(f"{store.path} already belongs to this API key, team and base URL.")
            return exitcodes.OK
        if conflict is not None or (check is not None and check.verdict == "other"):
            raise UsageError(_another_account(store.path, conflict, check))
        assert check is not None
        ctx.ui.out(REBIND_RISK.format(path=store.path, problems="; ".join(problems)))
        if check.verdict == "same":
            ctx.ui.out(REBIND_CHECKED.format(request_id=check.seen))
        else:
            ctx.ui.out(REBIND_UNCHECKED)
            if not args.unchecked:
                raise UsageError(
                    "rebind: nothing could be checked; pass --unchecked to rebind anyway. "
                    "Nothing changed."
                )
        if stored.rfc is not None:
            ctx.ui.out(
                f"It holds the CFDIs of RFC {stored.rfc}: a package of another RFC is refused "
                "before extraction (the month then needs attention)."
            )
        question = "Make this journal belong to this API key, team and URL?"
        if not _confirm(ctx, question, yes=args.yes, what="rebind"):
            ctx.ui.err("Nothing changed.")
            return exitcodes.USAGE
        store.rebind(new)
        ctx.ui.out(
            f"{store.path} now belongs to this API key, team and base URL. Run the same "
            "download again with them (the `sat download` command, or the `bulk()` call): it "
            "resumes where the journal stopped."
        )
    return exitcodes.OK


# ------------------------------------------------------------------ journal rfc

RFC_DESCRIPTION = (
    "Show the RFC this journal records as its taxpayer's and where it came from; with --forget "
    "or --set, change it. A run learns the RFC from the first package of a request the server "
    "vouched for (its create answer, or its history listing it with the month's dates and "
    "type), and refuses, before extracting anything, a package whose CFDIs name another "
    "taxpayer on the request's side. A wrong RFC (for example one recorded by an older "
    "gigstack-async from a request adopted by mistake) refuses every later month: forget or "
    "correct it here. The refused months keep their package staged, so the next `sat "
    "download` extracts it without downloading it again. Asks for confirmation (--yes when "
    "not in a terminal). Nothing is sent to the API."
)


def _register_rfc(journal: Any) -> None:
    rfc = command_parser(
        journal,
        "rfc",
        help="show, forget or correct the taxpayer's RFC the journal records (nothing is sent)",
        description=RFC_DESCRIPTION,
        epilog=EPILOG,
        client=False,
    )
    _journal_arg(rfc)
    change = rfc.add_mutually_exclusive_group()
    change.add_argument(
        "--forget",
        action="store_true",
        help="forget the recorded RFC: the next package of a request the server vouched for "
        "teaches it again",
    )
    change.add_argument(
        "--set", dest="set_rfc", metavar="RFC", help="record RFC as the taxpayer's (validated)"
    )
    _yes_arg(rfc, "confirm without asking (for scripts)")
    rfc.set_defaults(func=run_rfc, usage=rfc.format_usage().strip())


def run_rfc(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.ui.changing_state():  # `-y | head -1` must not lose the change
        return _rfc(args, ctx)


def _rfc(args: argparse.Namespace, ctx: Context) -> int:
    new: str | None = None
    if args.set_rfc is not None:
        try:  # validated before the journal is even opened: nothing is written for a typo
            new = _validation.rfc("RFC", args.set_rfc)
        except InvalidParameterError as error:
            raise UsageError(f"--set {args.set_rfc!r}: {error}") from None
    with _open(args) as store:
        recorded = store.identity.rfc
        if recorded is None:
            ctx.ui.out(
                f"{store.path} records no RFC yet: the next package of a request the server "
                "vouched for teaches it."
            )
        else:
            ctx.ui.out(
                f"{store.path} records RFC {recorded} as its taxpayer's, "
                f"{describe_source(store.rfc_source)}."
            )
        if not args.forget and new is None:
            return exitcodes.OK
        if args.forget and recorded is None:
            ctx.ui.out("Nothing to forget; nothing changed.")
            return exitcodes.OK
        staged = _staged_again(store)
        ctx.ui.out(
            (
                "Forgetting it: the next `sat download` learns the RFC again from the first "
                "package of a request the server vouched for, and until then extracts packages "
                "without comparing their taxpayer."
                if args.forget
                else f"Recording {new} as the taxpayer's RFC: from the next `sat download` on, "
                f"a package whose CFDIs name another RFC on the {store.identity.rfc_type} side "
                "is not extracted."
            )
            + " "
            + staged
        )
        question = "Forget the recorded RFC?" if args.forget else f"Record RFC {new}?"
        if not _confirm(ctx, question, yes=args.yes, what="journal rfc"):
            ctx.ui.err("Nothing changed.")
            return exitcodes.USAGE
        store.set_rfc(new, None if new is None else RfcSource("user"))
        ctx.ui.out(
            f"{store.path} now records "
            + ("no RFC" if new is None else f"RFC {new}")
            + f". {RUN_AGAIN_SENTENCE}"
        )
    return exitcodes.OK


def _staged_again(store: JournalStore) -> str:
    """What the next run does with months that stopped at extraction (a package refused for its
    RFC among them): their staged copies, when still on disk, are extracted without a new
    download; a copy that is gone costs one of SAT's 2 downloads of its package, if left."""
    waiting = [
        s
        for s in store.states()
        if s.stage is m.Stage.NEEDS_ATTENTION and s.resume_to is m.Stage.STAGED
    ]
    if not waiting:
        return "No month is waiting at extraction."
    kept = [s.key for s in waiting if all(Path(f.path).is_file() for f in s.staged)]
    gone = [s.key for s in waiting if s.key not in kept]
    text = ""
    if kept:
        text += (
            f"{', '.join(kept)}: stopped before extraction with the package staged on disk; the "
            "next run checks it again and extracts it without downloading it again."
        )
    if gone:
        text += (
            f"{' ' if text else ''}{', '.join(gone)}: stopped before extraction, but a staged "
            "copy is no longer on disk: the next run downloads it again while SAT allows (2 "
            "downloads per package), else the month needs `journal resend` (may be billed)."
        )
    return text


async def _checked(client: GigstackClient, ids: list[str] | None) -> owner.OwnerCheck | None:
    async with client:
        return None if ids is None else await owner.check_requests(client.downloads, ids)


def _another_account(path: Path, conflict: str | None, check: owner.OwnerCheck | None) -> str:
    if conflict is not None:
        why = conflict
    else:
        assert check is not None
        asked = ", ".join(check.missing)
        why = (
            f"this API key, team and base URL cannot see the journal's requests (the server "
            f"answered 'not found' for {asked})"
        )
    return (
        f"{path} belongs to another account: {why}. Rebinding would watch another company's "
        "requests under this key, and a `journal resend` would bill this key's company and "
        "download its CFDIs into this folder. Nothing changed. For this API key's own "
        "downloads use another --out folder; for this journal, use the API key, team and "
        "base URL that made its requests (`journal show` names its team and server)."
    )
