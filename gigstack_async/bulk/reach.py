"""How far back the account's download history reaches: the months of a plan that could not be
checked for an identical request made before it.

Before a month is created, the run looks in the history for a request with the month's exact
criteria (`bulk.duplicates`): one found holds the month. But the history lists only the newest
requests (20, FACT-docs; "not paginated": no documented way to read further back, so none is
tried), and a shorter or type-filtered history is a disagreement the sandbox plays
(`SandboxConfig.history_limit`, `ServerProfile.history_request_types`). A month whose earlier
request has left the history would be sent, and may be billed, again: such months are named
before anything is sent, never silently passed as "no identical request".

What is known, and what is not:

- Whatever its length, a history of the newest N requests lists every request made after the
  oldest one it lists. So it covers the time since its oldest `createdAt`, and nothing before.
- Whether it lists every request the account ever made is proven only by an empty history
  with no request of this journal missing (any window lists the newest request there is). A
  non-empty one never proves it: per the docs fewer than 20 entries are all there are, but a
  shorter window is not ruled out (unknown never means none); the text says which case it is.
- `createdAt`'s unit is a GUESS (`bulk.created_at`): epoch s or ms, ISO with an offset, or a
  wall time without one (read as its latest possible instant, UTC-12). One that cannot be read
  gives no reach; when none can, how far back the history reaches is unknown, and every month
  is unchecked. The oldest readable one bounds the reach conservatively (the true oldest entry
  is no newer).
- A request for a month cannot have been made before the month began (SAT and this SDK refuse
  a period that starts in the future, and a request made earlier could hold none of its CFDIs):
  a month that began after the reach (with 14 hours' margin for time zones) is checked.

Pure: no I/O, no clock. `BulkDownload.identical_requests()` (the CLI's plan) and the engine
(before its first create) read the same function.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

import attrs

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.created_at import created_at_instant, created_at_text

__all__ = ["HistoryReach", "history_reach", "month_ranges"]

_TIME_ZONE_MARGIN = timedelta(hours=14)
"""The widest UTC offset: a month's first day begins no earlier than this before its UTC day."""
_NAIVE_LATEST = timedelta(hours=12)
"""A wall time without an offset is at most this after the same digits read as UTC (UTC-12)."""


@attrs.frozen
class HistoryReach:
    """What one read of the history could check: the months to send that an identical request
    made before the history's reach could still exist for (`unchecked`), and why."""

    listed: int
    """Entries the history listed."""
    window: int
    """The documented number of entries the history keeps (20)."""
    since: datetime | None
    """How far back the history reaches, in UTC (timezone-aware): every request made after this
    instant is in it. The instant the oldest readable `createdAt` it listed names (one without
    an offset: its latest possible instant, UTC-12; see `bulk.created_at`). None: no `createdAt`
    it listed could be read (or it listed nothing). `since_raw` is that `createdAt` as sent
    (newcomer 9j F3: this was raw epoch-ms text, whose unit a caller had to guess)."""
    complete: bool
    """Proven to list every request the account has made (an empty history, nothing of this
    journal missing): no month is unchecked."""
    why: str
    """Why requests made before `since` may be missing from it ("" when `complete`)."""
    unchecked: tuple[str, ...] = ()
    """The months (`YYYY-MM`, of those asked about) an identical request of which may have
    been made before the history's reach: sending one may bill it again."""
    recorded: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Of `unchecked`, the months this journal already recorded request ids for (its own
    earlier requests of the month: refused, released, or allowed a resend), with those ids:
    named in the warning, so the user need not look them up."""
    since_raw: str | None = None
    """The `createdAt` `since` was read from, exactly as the history wrote it (its unit is a
    GUESS: epoch ms or s, ISO 8601 with or without an offset); None with `since`."""
    resent: tuple[str, ...] = ()
    """Of `unchecked`, the months the user allowed again with `gigstack-async journal resend`:
    sent as the user chose, named apart ("resent by you"; newcomer 10 F3: such a month was
    told to the user as one of "its own earlier requests ..., none of which it sends again")."""
    omits: bool = False
    """The history omits a request id this journal knows: it is short or filtered."""

    @property
    def warning(self) -> str | None:
        """The text to show before anything is sent; None when every month was checked."""
        return self.text()

    def text(self, example: str = "") -> str | None:
        """`warning`, with `example` (e.g. the CLI's `journal adopt` command, starting ", e.g.")
        right after the sentence that offers `journal adopt` (left out when every unchecked
        month is one the user resent: nothing to adopt). None when every month was checked."""
        if not self.unchecked:
            return None
        if self.since is None:
            reach = "how far back it reaches is unknown (no `createdAt` it lists can be read)"
            before = "for a request made before the history's oldest entry"
            when = "before the history's oldest entry"
        else:
            reach = f"made since {created_at_text(self.since_raw or self.since.isoformat())}"
            before = "for an identical request made before then"
            when = "before then"
        resent = set(self.resent)
        others = [key for key in self.unchecked if key not in resent]
        ids = dict(self.recorded)
        parts = [f"{self.why}, {reach}: "]
        if others:
            count = len(others)
            plural = "s" if count != 1 else ""
            months = f"{month_ranges(others)} ({count} month{plural} of this plan)"
            adopt = "`gigstack-async journal adopt`"
            if self.short:
                # Fewer entries than the documented window and none of this journal's missing:
                # per the docs, everything there is (newcomer 10 F8: every first run of a new
                # folder was told its whole year "may be ... billed, again", to adopt from
                # "that folder"). The months stay named: a shorter window is not ruled out.
                parts.append(
                    f"{months} could not be checked {before}; per the docs there is none. Only "
                    f"if you requested one of them elsewhere (another folder or tool) {when} "
                    f"would sending it bill it again: then do not send it, {adopt} that request "
                    f"instead (nothing is billed){example}, or use the folder that has it."
                )
            else:
                parts.append(
                    f"{months} could not be checked {before}, and may be requested, and billed, "
                    "again. If you downloaded them elsewhere (another folder or tool), do not "
                    f"send them: {adopt} their requests instead (nothing is billed){example}, "
                    "or use the folder that has them."
                )
            known = [(key, ids[key]) for key in others if key in ids]
            if known:
                listed = "; ".join(f"{key}: {', '.join(i)}" for key, i in known)
                parts.append(
                    f" This journal already recorded request(s) for {len(known)} of them "
                    f"({listed}): this run sends a new request for each instead "
                    "(`gigstack-async journal show` says what became of the earlier ones)."
                )
        if resent:
            keys = [key for key in self.unchecked if key in resent]
            earlier = "; ".join(f"{key}: {', '.join(ids[key])}" for key in keys if key in ids)
            was = f"; earlier request(s) {earlier}" if earlier else ""
            parts.append(
                f"{'' if not others else ' '}{month_ranges(keys)} (resent by you with "
                f"`gigstack-async journal resend`{was}) could not be checked "
                f"{'either' if others else before}: sent as you allowed (a new request, may be "
                "billed)."
            )
        return "".join(parts)

    @property
    def short(self) -> bool:
        """Fewer entries than the documented window, none of this journal's missing: all there
        is per the docs (a shorter window is not ruled out)."""
        return not self.complete and self.listed < self.window and not self.omits


def history_reach(
    entries: Sequence[m.Seen],
    months: Iterable[tuple[str, date]],
    *,
    journal_ids: Iterable[str] = (),
    recorded: Mapping[str, Sequence[str]] | None = None,
    resent: Iterable[str] = (),
    window: int = m.HISTORY_WINDOW,
) -> HistoryReach:
    """Which of `months` ((key, first day) of the months a run may send) an identical request
    made before the reach of `entries` (one read of the history) could exist for.
    `journal_ids`: request ids this journal knows; one a history shorter than `window` omits
    shows it is short or filtered (a full one simply lists only its newest). `recorded`: the
    request ids this journal recorded for each month (`MonthState.known_ids`), named for the
    unchecked months that have some. `resent`: the months the user allowed again with
    `journal resend` (`MonthState.resend_for`), named apart."""
    listed = {seen.id for seen in entries}
    missing = any(i not in listed for i in journal_ids)
    count = len(entries)
    if count == 0 and not missing:
        return HistoryReach(0, window, None, complete=True, why="")
    raw: str | None = None
    bound: datetime | None = None
    for seen in entries:
        latest = _latest_instant(seen.created_at)
        if latest is not None and (bound is None or latest < bound):
            bound, raw = latest, seen.created_at
    if count >= window:
        # Full: requests this journal made before its newest `window` have simply left it
        # (newcomer 9g #1: it was called "short or filtered").
        why = f"the account's history lists only its {count} newest requests" + (
            " (older ones, some this journal made among them, have left it)" if missing else ""
        )
    elif missing:
        why = (
            f"the account's history lists {count} request{'s' if count != 1 else ''} but "
            "omits some this journal made: it is short or filtered"
        )
    else:
        why = (
            f"the account's history lists {count} request{'s' if count != 1 else ''} (the "
            f"docs say it keeps the newest {window}, so these may be all there are; a shorter "
            "history is not ruled out)"
        )
    unchecked = tuple(
        key
        for key, first in months
        if bound is None or datetime.combine(first, time(), UTC) - _TIME_ZONE_MARGIN <= bound
    )
    ids = recorded or {}
    named = tuple((key, tuple(ids[key])) for key in unchecked if ids.get(key))
    again = set(resent)
    return HistoryReach(
        count,
        window,
        bound,
        complete=False,
        why=why,
        unchecked=unchecked,
        recorded=named,
        since_raw=raw,
        resent=tuple(key for key in unchecked if key in again),
        omits=missing,
    )


def _latest_instant(created_at: str | None) -> datetime | None:
    """The latest UTC instant `created_at` may name; None when it cannot be read."""
    instant = created_at_instant(created_at)
    if instant is not None or created_at is None:
        return instant
    try:
        wall = datetime.fromisoformat(created_at.strip())
    except ValueError:
        return None
    if wall.tzinfo is not None:
        return None  # created_at_instant reads every ISO time with an offset in range
    try:
        return wall.replace(tzinfo=UTC) + _NAIVE_LATEST
    except OverflowError:  # a naive time in 9999's last hours: unreadable, never a crash
        return None


def month_ranges(keys: Iterable[str]) -> str:
    """`YYYY-MM` months as consecutive runs: "2023-01..2023-10, 2023-12".

    >>> month_ranges(["2023-03", "2023-01", "2023-02", "2023-05"])
    '2023-01..2023-03, 2023-05'
    """
    ordinals = sorted({int(k[:4]) * 12 + int(k[5:7]) - 1 for k in keys})
    runs: list[tuple[int, int]] = []
    for n in ordinals:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))

    def text(n: int) -> str:
        return f"{n // 12:04d}-{n % 12 + 1:02d}"

    return ", ".join(text(a) if a == b else f"{text(a)}..{text(b)}" for a, b in runs)
