"""Newcomer 9i F0: following the printed hints (server clock one day behind), the same dates
were requested, and billed, twice in one folder: the "in the future" refusal's sub-range, the
MISSING DAYS resend --force, the refusal again, the same sub-range again. A create is never
sent for days this journal's own earlier request already downloaded (`own_done_covers`)."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from pathlib import Path

import attrs
import pytest

from gigstack_async._dates import add_months, today_mx
from gigstack_async.bulk import machine as m
from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox.profiles import ServerProfile
from tests.bulk._support import keyed_cli, world_of

NOV = m.MonthState("2026-11", date(2026, 11, 1), date(2026, 11, 30), "issued", "cfdi")
FUTURE = "end_date: 2026-11-30 is in the future (today is 2026-11-29 in Mexico City)"


def test_a_resend_never_bills_the_own_parts_days_again() -> None:
    own = m.OwnPart(date(2026, 11, 1), date(2026, 11, 29), ("A.xml", "B.xml"), 2)
    refused = attrs.evolve(NOV, stage=m.Stage.REFUSED, resend_allowed=True, own_part=own, creates=1)
    # the refusal's sub-range hint, run again: nothing planned, the month done as it was
    decision = m.plan_decision(refused, date(2026, 11, 1), date(2026, 11, 29))
    assert decision.create is m.PlanCreate.NO
    assert decision.state is not None
    assert decision.state.stage is m.Stage.DONE
    assert (decision.state.start, decision.state.end) == (own.start, own.end)
    assert decision.state.files == own.files
    # however the month got planned for them, `Send` sends nothing
    planned = attrs.evolve(
        refused, stage=m.Stage.PLANNED, start=own.start, end=own.end, resend_allowed=True
    )
    new, commands = m.transition(planned, m.Send(()))
    assert commands == ()
    assert new.stage is m.Stage.DONE
    assert new.creates == 1
    # the plan's whole month (the dates the resend was allowed for) still goes
    assert m.plan_decision(refused, NOV.start, NOV.end).create is m.PlanCreate.YES
    # an own part the folder lost CFDIs of (`missing`) never stops a create
    short = attrs.evolve(planned, own_part=attrs.evolve(own, missing=1))
    assert m.transition(short, m.Send(()))[1] == (m.SendCreate("2026-11"),)


async def test_f0_following_the_hints_bills_the_dates_once(tmp_path: Path) -> None:
    today = today_mx()
    if today.day == 1:
        pytest.skip("the server's today is last month's: no sub-range to offer")
    behind = ServerProfile(clock_offset_seconds=-86400)
    key = f"{today:%Y-%m}"
    first, last = today.replace(day=1), today - timedelta(days=1)
    out = tmp_path / "cfdi"
    async with world_of(SandboxConfig(speed=3000, seed=5, profile=behind)) as (sandbox, _):

        async def cli(*argv: object) -> int:
            return await asyncio.to_thread(keyed_cli, sandbox, *argv)

        whole = ("sat", "download", "--from", key, "--to", key, "--rfc-type", "issued")
        part = ("sat", "download", "--from", first, "--to", last, "--rfc-type", "issued")
        await cli(*whole, "--out", out, "--yes")  # refused: today is a future day for it
        assert await cli(*part, "--out", out, "--yes") == 0
        await cli(*whole, "--out", out, "--yes")  # MISSING DAYS
        await cli("journal", "resend", out, key, "--force", "--yes")
        await cli(*whole, "--out", out, "--yes")  # refused again
        await cli(*part, "--out", out, "--yes")  # the same sub-range hint, followed
        same = [
            r
            for r in sandbox.state.download_requests
            if (r.criteria.start_date, r.criteria.end_date) == (first, last)
        ]
        assert len(same) == 1


def test_missing_days_the_server_refused_never_offer_a_resend() -> None:
    sending = m.transition(NOV, m.Send(()))[0]
    refused = m.transition(sending, m.CreateRefused(FUTURE, 400))[0]
    assert refused.server_future == date(2026, 11, 30)
    done = attrs.evolve(refused, stage=m.Stage.DONE, end=date(2026, 11, 29))
    note = m.plan_decision(done, NOV.start, NOV.end).note or ""
    assert note.startswith("MISSING DAYS")
    assert "journal resend" not in note
    assert "after the server's midnight" in note
    feb = m.MonthState("2021-02", date(2021, 2, 1), date(2021, 2, 28), "received", "cfdi")
    window = "start_date: 2021-02-01 is older than the 71-month window (oldest 2021-02-28)"
    gone = m.transition(m.transition(feb, m.Send(()))[0], m.CreateRefused(window, 400))[0]
    assert gone.server_oldest == date(2021, 2, 28)
    done = attrs.evolve(gone, stage=m.Stage.DONE, start=date(2021, 2, 28))
    note = m.plan_decision(done, feb.start, feb.end).note or ""
    assert "journal resend" not in note
    assert "can no longer be downloaded" in note
    assert "`--from 2021-03`" in note
    # the refusal after a resend --force offers no range the folder already has
    own = m.OwnPart(date(2021, 2, 28), date(2021, 2, 28), ("A.xml",), 1)
    again = attrs.evolve(feb, own_part=own, resend_allowed=True, stage=m.Stage.PLANNED)
    hint = m.transition(m.transition(again, m.Send(()))[0], m.CreateRefused(window, 400))[0].hint
    assert "--from 2021-02-28" not in (hint or "")
    assert "already in the month's folder" in (hint or "")


async def test_f0b_following_the_window_hints_bills_the_day_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ahead = ServerProfile(clock_offset_seconds=5184000)  # 60 days ahead
    first = add_months(add_months(today_mx(), -71).replace(day=1), 1)
    span = ("--from", f"{first:%Y-%m}", "--to", f"{add_months(first, 2):%Y-%m}")
    out = tmp_path / "cfdi"
    async with world_of(SandboxConfig(speed=3000, seed=5, profile=ahead)) as (sandbox, _):

        async def cli(*argv: object) -> str:
            capsys.readouterr()
            await asyncio.to_thread(keyed_cli, sandbox, *argv)
            captured = capsys.readouterr()
            return captured.out + captured.err

        told = await cli("sat", "download", *span, "--rfc-type", "received", "--out", out, "--yes")
        offered = re.search(r"--from (\d{4}-\d{2}-\d{2}) --to (\d{4}-\d{2}-\d{2})", told)
        if offered is None:
            pytest.skip("the server's window starts on a month's first day: no part to offer")
        part = ("--from", offered[1], "--to", offered[2])
        key = offered[1][:7]
        await cli("sat", "download", *part, "--rfc-type", "received", "--out", out, "--yes")
        told = await cli("sat", "download", *span, "--rfc-type", "received", "--out", out, "--yes")
        assert f"journal resend {out} {key}" not in told
        assert "can no longer be downloaded" in told
        await cli("journal", "resend", out, key, "--force", "--yes")
        await cli("sat", "download", *span, "--rfc-type", "received", "--out", out, "--yes")
        await cli("sat", "download", *part, "--rfc-type", "received", "--out", out, "--yes")
        days = (date.fromisoformat(offered[1]), date.fromisoformat(offered[2]))
        same = [
            r
            for r in sandbox.state.download_requests
            if (r.criteria.start_date, r.criteria.end_date) == days
        ]
        assert len(same) == 1
