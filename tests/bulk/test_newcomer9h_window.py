"""Newcomer 9h #10: a server whose date is ahead refuses the oldest month as outside its
71-month window; the hint said "activate Descarga Masiva and run again", which is refused again
forever. It now names the server's window start, the command for the days still in it, and how
to leave the month out (as the "in the future" refusal does, `test_newcomer9g_clock_behind`)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from pathlib import Path

from gigstack_async._dates import add_months, today_mx
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.hints import with_journal
from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox.profiles import ServerProfile
from tests.bulk._support import results, run, world_of

JAN = m.MonthState("2021-01", date(2021, 1, 1), date(2021, 1, 31), "issued", "metadata")
WINDOW = "start_date: 2021-01-01 is older than the 71-month window (oldest 2021-01-02)"


def refused(state: m.MonthState, message: str) -> m.MonthState:
    sending = m.transition(state, m.Send(()))[0]
    return m.transition(sending, m.CreateRefused(message, None))[0]


def test_a_window_refusal_names_the_servers_window_start_and_the_command() -> None:
    state = refused(JAN, WINDOW)
    assert state.stage is m.Stage.REFUSED
    hint = state.hint or ""
    assert "activate" not in hint
    assert hint.startswith("the server's 71-month window starts at 2021-01-02")
    assert (
        "`gigstack-async sat download --from 2021-01-02 --to 2021-01-31 --rfc-type issued "
        "--type metadata --out <out>`" in hint
    )
    assert "leave 2021-01 out: start the range at the next month (`--from 2021-02`" in hint
    shown = with_journal(state.hint, "2021-01", "./imeta", out="./imeta")
    assert "--out ./imeta`" in (shown or "")


def test_a_window_start_after_the_month_only_says_to_leave_it_out() -> None:
    message = "start_date: 2021-01-01 is older than the 71-month window (oldest 2021-02-03)"
    hint = refused(JAN, message).hint or ""
    assert hint.startswith("the server's 71-month window starts at 2021-02-03, after this whole")
    assert "sat download --from" not in hint
    # the window's first day, never the next month (refused too: newcomer 9j F1c)
    assert "`--from 2021-02-03`" in hint


def test_a_window_refusal_without_its_date_still_is_no_activation() -> None:
    hint = refused(JAN, "fecha fuera de la ventana de 71 meses").hint or ""
    assert "activate" not in hint
    assert "outside gigstack's 71-month window" in hint


async def test_a_server_two_days_ahead_gets_the_window_hint(tmp_path: Path) -> None:
    ahead = ServerProfile(clock_offset_seconds=2 * 86400)
    oldest = add_months(today_mx(), -71)  # the client's own window check accepts it
    last = calendar.monthrange(oldest.year, oldest.month)[1]
    start, end = oldest.isoformat(), oldest.replace(day=last).isoformat()
    async with world_of(SandboxConfig(speed=3000, seed=5, profile=ahead)) as (sandbox, client):
        out = tmp_path / "win"
        month = next(iter(results(await run(client, out, start, end, rfc_type="issued")).values()))
        assert month.stage == "refused"
        assert "71-month window" in (month.error or "")
        assert "71-month window starts at" in (month.hint or "")
        assert "activate" not in (month.hint or "")
        window = add_months(today_mx() + timedelta(days=2), -71)  # the server's first day
        after = window if window.day != 1 else f"{window:%Y-%m}"
        first = add_months(oldest.replace(day=1), 1) if window <= date.fromisoformat(end) else None
        # the window's first day when the month is wholly before it (newcomer 9j F1c)
        start_at = after if first is None else f"{first:%Y-%m}"
        later = f'(start="{start_at}" in the same bulk() call)'
        assert later in (month.hint or "")  # Python's words, not --from
        assert not sandbox.state.download_requests  # nothing billed
