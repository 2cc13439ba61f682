"""The `sat download` command that resumes a journal, written out from what the journal records.

`journal show` tells a month that is not finished to "run the same command again"; days or
weeks later, the user may not have that command (newcomer 11). The journal records the months'
dates, the rfc type and request type, the download folder, the base URL and the team, which
is all that command needs, except the API key (never recorded: it comes from
GIGSTACK_API_KEY or --api-key).

Only a command that plans exactly the journal's months is written: the months must follow one
another, and each must be whole except the first's start and the last's end (the dates of a
`--from`/`--to` that did not fall on a month's edge). A journal that grew from runs of other
periods has none: a command spanning the gaps would plan, and may bill, months it never had.

Example::

    resume_command(store, Path("cfdi/.gigstack-journal.sqlite3"), Path("cfdi"))
    # 'gigstack-async sat download --from 2024-01 --to 2024-12 --rfc-type received --out cfdi'
"""

from __future__ import annotations

import itertools
import os
from datetime import date
from pathlib import Path

from gigstack_async._config import DEFAULT_BASE_URL
from gigstack_async._dates import add_months, month_end, month_start
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.hints import shell_quote
from gigstack_async.bulk.run import DEFAULT_JOURNAL
from gigstack_async.bulk.store import JournalStore, canonical_base_url


def resume_command(
    store: JournalStore, journal: Path, out: Path, *, environment_base_url: str | None = None
) -> str | None:
    """`gigstack-async sat download ...` for the journal at `journal` downloading into `out`;
    None when no single command plans exactly the journal's months (see the module).

    `--base-url` is written for any server but gigstack's own, and for gigstack's own too when
    `environment_base_url` (the GIGSTACK_BASE_URL the command would run with) is another."""
    states = sorted(store.states(), key=lambda state: state.key)
    if not states or not _one_period(states):
        return None
    identity = store.identity
    words = [
        "sat",
        "download",
        "--from",
        _edge(states[0].start, first=True),
        "--to",
        _edge(states[-1].end, first=False),
        "--rfc-type",
        identity.rfc_type,
    ]
    if identity.request_type != "cfdi":
        words += ["--type", identity.request_type]
    words += ["--out", _operand(out)]
    if _resolved(journal) != _resolved(out / DEFAULT_JOURNAL):
        words += ["--journal", _operand(journal)]
    server = canonical_base_url(identity.base_url)
    if server != canonical_base_url(DEFAULT_BASE_URL) or (
        environment_base_url and server != canonical_base_url(environment_base_url)
    ):
        words += ["--base-url", identity.base_url]
    if identity.team:
        words += ["--team", identity.team]
    return " ".join(["gigstack-async", *(shell_quote(word) for word in words)])


def _one_period(states: list[m.MonthState]) -> bool:
    """Consecutive months, whole but for the first's start and the last's end."""
    firsts = [date.fromisoformat(f"{state.key}-01") for state in states]
    for before, after in itertools.pairwise(firsts):
        if add_months(before, 1) != after:
            return False
    for index, (state, first) in enumerate(zip(states, firsts, strict=True)):
        last = month_end(first)
        if state.start != first and index != 0:
            return False
        if state.end != last and index != len(states) - 1:
            return False
        if not first <= state.start <= state.end <= last:
            return False
    return True


def _edge(day: date, *, first: bool) -> str:
    """`YYYY-MM` when `day` is its month's first (`first`) or last day, else `YYYY-MM-DD`."""
    if day == (month_start(day) if first else month_end(day)):
        return f"{day.year}-{day.month:02d}"
    return day.isoformat()


def _operand(path: Path) -> str:
    """`path` as an option's value: `./-x`, not `-x`, which argparse would read as an option."""
    text = str(path)
    return f".{os.sep}{text}" if text.startswith("-") else text


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()
