"""The machine's hints made typeable: the journal's folder (and month) put into every
`gigstack-async journal show|adopt|resend|retry-download|keep|rebind|rfc|split` command.

The state machine (`bulk.machine`) is pure and knows neither where its journal lives nor how
the user named it, so its texts say `gigstack-async journal adopt 2024-03 <id>`. Whatever shows
a text to the user (`MonthResult`, the CLI's summary, `journal show`) renders it with the
folder, or the journal file when it is not the folder's default: a command copied from a hint
then runs as printed: an argument is quoted for the shell of the platform running it
(`shell_quote`).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from datetime import date
from pathlib import Path

from gigstack_async.bulk.machine import OUT, MonthState

_COMMAND = re.compile(
    r"(?P<command>gigstack-async journal (?:show|adopt|resend|retry-download|keep|split))"
    # Not a command naming its folder already (a split month's part, `bulk.parts`: an
    # absolute path, maybe quoted).
    r"(?! ['\"/\\]| [A-Za-z]:[\\/])"
    r"(?P<month> \d{4}-\d{2}(?![\w-]))?"
)

# Commands of the whole journal: only the folder is inserted.
_REBIND = re.compile(r"gigstack-async journal (?P<command>rebind|rfc)(?= |`|$)")


def shell_quote(argument: str, platform: str | None = None) -> str:
    """`argument` written so that the shell of `platform` (default: this one, `sys.platform`)
    passes it as one word: POSIX single quotes (`shlex.quote`) everywhere but Windows, whose
    cmd.exe does not know single quotes: there double quotes, as Python itself joins a command
    line (`subprocess.list2cmdline`; PowerShell reads the same form for a path)."""
    if (platform or sys.platform) == "win32":
        return subprocess.list2cmdline([argument])
    return shlex.quote(argument)


RUN_AGAIN = "run the same download again (the `sat download` command, or the `bulk()` call)"
"""What the journal commands say to do next: the folder may have been made by either."""
RUN_AGAIN_SENTENCE = "R" + RUN_AGAIN[1:] + "."


def open_day_hint(day: date, today: date | None = None, *, unproven: bool = False) -> str:
    """The hint of a finished month whose request was sent on `day`, the day its dates end,
    before that day was over (`MonthState.open_day`; newcomer 9h #3: only `open_day` said so,
    and the summary and `journal show` read as complete). `today`: Mexico City's date as the
    plan reads it (`today_mx`); "tomorrow or later" only while `day` is today (or `today` is
    not known): on a later day it is over (newcomer 9j F1: "after 2024-02-29 (tomorrow or
    later)" on 2026-11-30). `unproven`: the request's createdAt was never shown
    (`MonthState.open_day_unproven`): it only may have been made that day (newcomer 9l #1:
    "requested on 2024-05-31" for a request this journal sent years later)."""
    head = (
        f"its request's createdAt was never shown: it may have been made on {day}, before "
        "that day was over (Mexico City): CFDIs stamped later that day, or certified late at "
        "SAT, may not be in it. "
        if unproven
        else f"requested on {day} before that day was over (Mexico City): CFDIs stamped later "
        "that day, or certified late at SAT, are not in it. "
    )
    if today is not None and today > day:
        return (
            f"{head}{day} is over: run the same command again: it names that day's missing "
            "CFDIs as MISSING DAYS, with the way to request them"
        )
    return (
        f"{head}Run the same command again after {day} (tomorrow or later): it names that "
        "day's missing CFDIs as MISSING DAYS, with the way to request them"
    )


def submitting_texts(state: MonthState) -> tuple[str, str]:
    """(what happened, what to do) for month `state` left `submitting` by a run that stopped
    (`--timeout`, Ctrl-C): its create left with no answer, so it may have been billed, and the
    next run looks for it in the history before anything else (`machine._start`; newcomer 10
    F5: the summary said only "submitting ... nothing is sent twice"). The hint's `journal
    show` names no folder: render it (`render`) as every machine hint."""
    cause = state.unknown_cause or "the run stopped while it was in flight"
    return (
        f"a create request may have been billed, its outcome unknown ({cause})",
        "run the same command again: it looks for that create in the account's history first "
        "and adopts it when listed; nothing is sent again for this month unless you choose to "
        "(if the history cannot tell, its result says what to check). `gigstack-async journal "
        f"show {state.key}` prints the month's record",
    )


# A part folder a hint names beside the run's download folder (`bulk.machine.OUT`).
_PART = re.compile(re.escape(OUT) + r"(?P<suffix>(?:-\d{4}-\d{2}[a-z])?)")


def _sibling_base(folder: str) -> str:
    """`folder` (as the user gave it) as the start of a sibling folder's name: as given, less a
    trailing separator, or, when its last part names no folder (`.`, `..`, `/`, `A/.`), the
    folder's resolved path: `--out .` gave the hidden `.-2024-03a` inside it (review 9i #6)."""
    base = folder.rstrip("/\\") or folder
    last = base.replace("\\", "/").rsplit("/", 1)[-1]
    if last in ("", ".", ".."):
        return str(Path(base).resolve())
    return base


def with_journal(
    text: str | None,
    month: str,
    journal: str | None,
    *,
    platform: str | None = None,
    out: str | None = None,
) -> str | None:
    """`text` with `journal` (a folder or file, as the user gave it) inserted into each journal
    command, and `month` where a command names none; each part folder a hint names beside the
    download folder (`<out>-2024-03a`) written beside `out` (the download folder as the user
    gave it; default: `journal`, which is the folder unless the journal lives elsewhere). Journal
    commands are unchanged when `journal` is None (a run without a journal file has nothing
    these commands could open). Paths are quoted for `platform`'s shell (`shell_quote`)."""
    if text is None:
        return text
    beside = out if out is not None else journal
    if beside is not None:
        base = _sibling_base(beside)
        text = _PART.sub(lambda found: shell_quote(base + found.group("suffix"), platform), text)
    if journal is None:
        return text
    folder = shell_quote(journal, platform)

    def render(found: re.Match[str]) -> str:
        key = (found.group("month") or "").strip() or month
        return f"{found.group('command')} {folder} {key}"

    # A function, not a template: a Windows folder's backslashes are not escapes.
    return _REBIND.sub(
        lambda found: f"gigstack-async journal {found.group('command')} {folder}",
        _COMMAND.sub(render, text),
    )
