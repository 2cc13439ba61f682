"""`journal repair` of a month whose log ends in SAT 5002/5003 (or the split after it) must not
lead the user to bill days twice (review 9j #1): the rebuilt month is sat-failed with the refused
request's dates, its exhausted dates and the folder's own part, never adopt/keep/resend."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import held_month
from gigstack_async.bulk.store import LogLine

KEY = "2024-08"
OWN = m.Asked(date(2024, 8, 15), date(2024, 8, 31), 22)
WHOLE = m.Asked(date(2024, 8, 1), date(2024, 8, 31), None)
R1, R2 = "12EEACA0", "1F7BDF3A"


def _base() -> m.MonthState:
    return m.MonthState(KEY, date(2024, 8, 1), date(2024, 8, 31), "received", "cfdi")


def _log(code: int, *, split: bool, asked: bool = True) -> list[LogLine]:
    c1 = m.Counts(1, ((R1 + "_01", 1),))
    c2 = m.Counts(2, ((R1 + "_01", 1),))
    own = OWN if asked else None
    whole = WHOLE if asked else None
    lines = [
        LogLine(1, KEY, m.Stage.PLANNED, None, None, m.Counts(), own),
        LogLine(2, KEY, m.Stage.SUBMITTING, None, None, c1, own),
        LogLine(3, KEY, m.Stage.SUBMITTED, "created", R1, c1, own),
        LogLine(4, KEY, m.Stage.DONE, "every package extracted", R1, c1, own),
        LogLine(5, KEY, m.Stage.PLANNED, "the user allowed a new create request", None, c1, whole),
        LogLine(6, KEY, m.Stage.SUBMITTING, None, None, c2, whole),
        LogLine(7, KEY, m.Stage.SUBMITTED, "created", R2, c2, whole),
        LogLine(8, KEY, m.Stage.SAT_FAILED, f"SAT request failed: SAT {code}: no", R2, c2, whole),
    ]
    if split:
        lines.append(
            LogLine(9, KEY, m.Stage.SPLIT, "the other days in parts elsewhere: /x/A-2024-08a", R2)
        )
    return lines


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "A" / KEY
    folder.mkdir(parents=True)
    for i in range(22):
        (folder / f"{i:08d}-0000-0000-0000-000000000000.xml").write_text("<x/>")
    return folder


def _offers_billing(text: str) -> bool:
    return any(f"journal {cmd} " in text for cmd in ("adopt", "keep", "resend"))


def test_split_5003_month_is_restored_with_its_own_part(tmp_path: Path) -> None:
    state = held_month(_base(), _log(5003, split=True), _folder(tmp_path))
    assert state is not None
    assert state.stage is m.Stage.SAT_FAILED
    assert state.sat_code == 5003
    assert (state.start, state.end) == (WHOLE.start, WHOLE.end)
    assert state.request_id == R2
    assert state.own_part is not None
    assert (state.own_part.start, state.own_part.end) == (OWN.start, OWN.end)
    assert state.own_part.invoice_count == 22
    assert len(state.own_part.files) == 22
    text = f"{state.reason} {state.hint}"
    assert not _offers_billing(text)
    assert "--from 2024-08-01 --to 2024-08-14" in text  # only the days the folder lacks
    assert "2024-08-15" not in text.split("Download only", 1)[1].split("never")[0]
    assert f"journal split {KEY}" in text
    assert "A-2024-08a" in text


def test_5002_month_keeps_its_exhausted_dates_and_own_part(tmp_path: Path) -> None:
    state = held_month(_base(), _log(5002, split=False), _folder(tmp_path))
    assert state is not None
    assert state.stage is m.Stage.SAT_FAILED
    assert state.sat_code == 5002
    assert (WHOLE.start, WHOLE.end) in state.exhausted
    assert state.own_part is not None
    assert state.own_part.start == OWN.start
    text = f"{state.reason} {state.hint}"
    assert not _offers_billing(text)
    assert "missing here: 2024-08-01..2024-08-14" in text


def test_old_log_without_dates_stops_with_the_split_way(tmp_path: Path) -> None:
    state = held_month(_base(), _log(5003, split=True, asked=False), _folder(tmp_path))
    assert state is not None
    assert state.stage is m.Stage.SAT_FAILED
    assert state.own_part is None
    text = f"{state.reason} {state.hint}"
    assert not _offers_billing(text)
    assert f"journal split {KEY} <part folders>" in text
    assert "nothing is sent" in text


def test_a_month_done_after_the_refusal_is_not_taken_for_refused(tmp_path: Path) -> None:
    lines = _log(5002, split=False)
    lines.append(LogLine(9, KEY, m.Stage.DONE, "every package extracted", R1, None, OWN))
    state = held_month(_base(), lines, _folder(tmp_path))
    assert state is not None
    # Review 9k #1: the whole log counts, not its end: done for the days its log shows done,
    # the refused dates kept exhausted (never sent again), nothing refused about it.
    assert state.stage is m.Stage.DONE
    assert state.sat_code is None
    assert (state.start, state.end) == (OWN.start, OWN.end)
    assert (WHOLE.start, WHOLE.end) in state.exhausted


def test_the_adopted_request_s_own_dates_not_the_last_line_s(tmp_path: Path) -> None:
    """Review 9j #2: the log's last line is a resend of the whole month (planned, then its
    create's outcome unknown); the hint offers to adopt R1, which asked for 08-15..31 only."""
    lines = _log(5002, split=False)[:6]
    state = held_month(_base(), lines, _folder(tmp_path))
    assert state is not None
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert f"journal adopt {KEY} {R1}" in (state.hint or "")
    assert (state.start, state.end) == (OWN.start, OWN.end)
    assert state.invoice_count == 22


def _adopted_unproven(asked: m.Asked | None) -> m.MonthState:
    """A month rebuilt from a log (`asked`: what it kept of the dates), its request R1 adopted
    and completed with a count of 22, the folder holding 22 CFDIs, no history listing R1."""
    held = m.unrecorded(
        _base(),
        known_ids=(R1,),
        creates=1,
        reason="lost",
        hint="adopt it",
        counts=None,
        on_disk=22,
        asked=asked,
    )
    return attrs.evolve(
        held,
        stage=m.Stage.COMPLETED,
        request_id=R1,
        confirmed_id=R1,
        checked=True,
        invoice_count=22,
        package_ids=(R1 + "_01",),
        resume_to=None,
    )


def test_unproven_dates_never_record_the_whole_month_from_the_adopt_stop() -> None:
    """Review 9j #2 (old log, short history): the adopt stop offered `journal keep`, which
    recorded 08-01..31 done with the 22 files of a request for 08-15..31."""
    state, commands = m.transition(_adopted_unproven(None), m.Start(on_disk=22, cfdis=22))
    assert commands == (m.FetchStatus(R1),)  # its dates may be in its status (newcomer 9g #3)
    # ... a status answer without them (documented-fields): nothing proven, nothing fetched
    state, commands = m.transition(state, m.StatusSeen(m.Seen(R1, status="completed")))
    assert commands == ()
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert "cannot be checked" in (state.reason or "")
    names = tuple(f"{i}.xml" for i in range(22))
    with pytest.raises(m.TransitionError, match="cannot be checked"):
        m.transition(state, m.KeepFiles(names))
    # Review 9k #3: the files' own dates of a request for 08-15..31 prove nothing of 08-01..14:
    # still refused, and the refusal names the way that bills nothing (--force, on the user's
    # word after checking the dashboard), never a resend.
    with pytest.raises(m.TransitionError, match=r"2024-08-15\.\.2024-08-31") as refused:
        m.transition(state, m.KeepFiles(names, dated=(date(2024, 8, 15), date(2024, 8, 31))))
    text = str(refused.value)
    assert f"journal keep {KEY} --force" in text
    # A resend only for the case it is right for (the request was for fewer days), after it.
    assert text.index("If they are fewer days") < text.index("journal resend")


def test_unproven_dates_are_proven_by_cfdis_issued_on_the_month_s_first_and_last_day() -> None:
    """Review 9k #3: the history no longer lists the adopted request and no log kept its
    dates; its CFDIs, issued on 08-01 and on 08-31, prove it was for the whole month. The run
    asks its status first (newcomer 9g #3): here the answer names no dates (a GUESS either way),
    so only the files can prove them."""
    asked, commands = m.transition(_adopted_unproven(None), m.Start(on_disk=22, cfdis=22))
    assert commands == (m.FetchStatus(R1),)
    blind = m.Seen(R1, status="completed", invoice_count=22, package_ids=(R1 + "_01",))
    state, _ = m.transition(asked, m.StatusSeen(blind))
    assert f"journal keep {KEY}" in (state.hint or "")
    assert "resend" not in (m.free_way(state) or "resend")
    assert "downloads the request's package again" not in (m.free_way(state) or "")
    names = tuple(f"{i}.xml" for i in range(22))
    kept, commands = m.transition(
        state, m.KeepFiles(names, dated=(date(2024, 8, 1), date(2024, 8, 31)))
    )
    assert commands == ()
    assert kept.stage is m.Stage.DONE
    assert "checked from the files" in (kept.reason or "")
    vouched, _ = m.transition(state, m.KeepFiles(names, vouched=True))
    assert vouched.stage is m.Stage.DONE
    assert "vouched (--force)" in (vouched.reason or "")


def test_dates_kept_by_the_log_still_offer_the_checked_keep() -> None:
    state, _ = m.transition(_adopted_unproven(OWN), m.Start(on_disk=22, cfdis=22))
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert f"journal keep {KEY}" in (state.hint or "")
    kept, _ = m.transition(state, m.KeepFiles(tuple(f"{i}.xml" for i in range(22))))
    assert kept.stage is m.Stage.DONE
    assert (kept.start, kept.end) == (OWN.start, OWN.end)


def test_adopt_text_without_a_count_never_promises_no_download() -> None:
    held = m.unrecorded(
        _base(), known_ids=(R1,), creates=1, reason="lost", hint="adopt it", on_disk=22
    )
    assert "downloads nothing" not in (held.hint or "")
    assert "may download its packages again" in (held.hint or "")
