"""Newcomer 9j F1c (review 9q #5): a range starting at the 71-month edge, with the server's
clock ahead. Each refused month's hint said "start the range at the next month", which the
server refused again, month by month, although its refusal named the window's first day; and
the edge month, done for its days still in the window, was MISSING DAYS on every run ("accept
it as it is" had no command). The hint now names the window's first day, and `journal keep
--outside-window` records the days before it gone: the month then ends ok, saying the cut."""

from __future__ import annotations

import asyncio
import re
import shlex
from datetime import date, timedelta
from pathlib import Path

import attrs
import pytest

from gigstack_async._dates import add_months, today_mx
from gigstack_async.bulk import machine as m
from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox.config import LifecycleConfig
from gigstack_async.sandbox.profiles import RefuseCreates, ServerProfile
from tests.bulk._support import keyed_cli, world_of

DEC = m.MonthState("2020-12", date(2020, 12, 30), date(2020, 12, 31), "received", "cfdi")
FEB = m.MonthState("2021-02", date(2021, 2, 1), date(2021, 2, 28), "received", "cfdi")
OLDEST = "start_date: {} is older than the 71-month window (oldest 2021-02-09)"


def refused(state: m.MonthState, message: str, window: date | None = None) -> m.MonthState:
    sending = m.transition(state, m.Send(()))[0]
    told = (
        m.CreateRefused(message, 400) if window is None else m.CreateRefused(message, 400, window)
    )
    return m.transition(sending, told)[0]


def test_a_month_before_the_window_is_told_the_windows_first_day() -> None:
    hint = refused(DEC, OLDEST.format(DEC.start)).hint or ""
    assert "(`--from 2021-02-09` in the same command)" in hint
    assert "--from 2021-01" not in hint  # refused as well: the window starts later
    # a refusal naming no day: the day an earlier refusal of the journal named
    hint = refused(DEC, "fuera de la ventana de 71 meses", date(2021, 2, 9)).hint or ""
    assert "(`--from 2021-02-09` in the same command)" in hint
    # a window starting on a month's first day is that month
    hint = refused(DEC, "fuera de la ventana de 71 meses", date(2021, 2, 1)).hint or ""
    assert "(`--from 2021-02` in the same command)" in hint
    # an earlier refusal's day this month's start is not before says nothing: the next month
    hint = refused(FEB, "fuera de la ventana de 71 meses", date(2021, 1, 5)).hint or ""
    assert "(`--from 2021-03` in the same command)" in hint


def _edge_done() -> m.MonthState:
    gone = refused(FEB, OLDEST.format(FEB.start))
    assert gone.server_oldest == date(2021, 2, 9)
    return attrs.evolve(
        gone,
        stage=m.Stage.DONE,
        start=date(2021, 2, 9),
        invoice_count=2,
        extracted=(m.ExtractedPackage("P_01", ("A.xml", "B.xml")),),
    )


def test_the_days_before_the_window_are_recorded_gone_and_the_month_ends_ok() -> None:
    done = _edge_done()
    note = m.plan_decision(done, FEB.start, FEB.end).note or ""
    assert note.startswith("MISSING DAYS")
    assert "`gigstack-async journal keep 2021-02 --outside-window`" in note
    cut, commands = m.transition(done, m.CutOutsideWindow())
    assert commands == ()
    assert cut.window_cut == date(2021, 2, 9)
    assert m.cut_days(cut) == (date(2021, 2, 1), date(2021, 2, 8))
    decision = m.plan_decision(cut, FEB.start, FEB.end)
    assert decision.note is None
    assert decision.create is m.PlanCreate.NO
    assert decision.shown is not None
    assert decision.shown.ok
    assert (decision.shown.start, decision.shown.end) == (FEB.start, FEB.end)
    assert decision.shown.files == ("A.xml", "B.xml")
    assert m.cut_days(decision.shown, decision.shown.start) == (FEB.start, date(2021, 2, 8))
    # a create for those days again (a resend) ends the word: its answer says whether
    planned = attrs.evolve(cut, stage=m.Stage.PLANNED, start=FEB.start, resend_allowed=True)
    assert m.transition(planned, m.Send(()))[0].window_cut is None
    # days the window still has stay missing: never hidden by the cut
    later = m.plan_decision(cut, FEB.start, date(2021, 3, 5))
    assert later.shown is None


def test_the_cut_is_refused_unless_the_server_refused_those_days() -> None:
    done = _edge_done()
    never = attrs.evolve(done, server_oldest=None, window_refused=None)
    with pytest.raises(m.TransitionError, match="never refused"):
        m.transition(never, m.CutOutsideWindow())
    inside = attrs.evolve(done, start=date(2021, 2, 12))  # 02-09..02-11 are in the window
    with pytest.raises(m.TransitionError, match=r"2021-02-09\.\.2021-02-11 are missing too"):
        m.transition(inside, m.CutOutsideWindow())
    whole = attrs.evolve(done, start=FEB.start)
    with pytest.raises(m.TransitionError, match="nothing to accept"):
        m.transition(whole, m.CutOutsideWindow())
    with pytest.raises(m.TransitionError, match="not done"):
        m.transition(refused(FEB, OLDEST.format(FEB.start)), m.CutOutsideWindow())
    # no MISSING DAYS note offers a command that would be refused
    note = m.plan_decision(inside, FEB.start, FEB.end).note or ""
    assert "--outside-window" not in note


async def test_following_the_printed_commands_ends_ok_without_a_refused_resend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ahead = ServerProfile(clock_offset_seconds=40 * 86400)
    start = add_months(today_mx(), -71)  # the earliest the CLI's own check accepts
    window = add_months(today_mx() + timedelta(days=40), -71)  # the server's, 40 days ahead
    if window.day == 1 or (window.year, window.month) == (start.year, start.month):
        pytest.skip("the server's window starts on a month's first day, or in the first month")
    edge = f"{window:%Y-%m}"
    out = tmp_path / "g6"
    kind = ("--rfc-type", "received", "--out", out)
    # Real time (a fast clock would move the window a day in seconds): SAT is quick instead.
    quick = LifecycleConfig(pending_seconds=0.1, accepted_seconds=0.1, processing_seconds=0.2)
    config = SandboxConfig(speed=1, seed=5, profile=ahead, lifecycle=quick)
    async with world_of(config) as (sandbox, _):

        async def cli(*argv: object) -> tuple[int, str]:
            capsys.readouterr()
            code = await asyncio.to_thread(keyed_cli, sandbox, *argv)
            captured = capsys.readouterr()
            return code, captured.out + captured.err

        def refusals() -> int:
            return sum(1 for c in sandbox.state.calls if c.status == 400)

        whole = ("sat", "download", "--from", start, "--to", edge, *kind, "--yes")
        code, told = await cli(*whole)
        assert code != 0
        first = re.search(rf"\[ *[\d.]+s\] {start:%Y-%m} +error +(.*)", told)
        assert first is not None
        offered = re.search(r"\(`--from (\S+)` in the same command\)", first[1])
        assert offered is not None
        assert offered[1] == str(window)
        before = refusals()
        code, told = await cli(
            "sat", "download", "--from", offered[1], "--to", edge, *kind, "--yes"
        )
        assert code == 0, told
        assert refusals() == before  # nothing the server refuses was sent again
        # The whole range again: the edge month's missing days, and the command that ends it.
        code, told = await cli(*whole)
        assert code != 0
        keep = re.search(r"`(gigstack-async journal keep [^`]*--outside-window)`", told)
        assert keep is not None
        argv = shlex.split(keep[1])[1:]
        assert argv == ["journal", "keep", str(out), edge, "--outside-window"]
        code, shown = await cli("journal", "show", out)
        assert keep[1] in shown  # its next step too
        code, told = await cli(*argv)  # no terminal: it asks for --yes, nothing changed
        assert code != 0
        assert "--yes" in told
        creates = len(sandbox.state.download_requests)
        code, told = await cli(*argv, "--yes")
        assert code == 0, told
        code, told = await cli("sat", "download", "--from", edge, "--to", edge, *kind, "--yes")
        assert code == 0, told
        cut = f"without {window.replace(day=1)}..{window - timedelta(days=1)}"
        assert cut in told
        assert "1 ok, 0 not ok" in told
        assert len(sandbox.state.download_requests) == creates  # nothing billed
        code, shown = await cli("journal", "show", out)
        assert f"{window.replace(day=1)}..{window - timedelta(days=1)} are outside" in shown


def test_a_refusal_naming_no_day_never_offers_a_month_the_journal_saw_refused() -> None:
    dateless = "fuera de la ventana de 71 meses"
    hint = refused(DEC, dateless).hint or ""
    assert "(`--from 2021-01` in the same command)" in hint  # nothing more is known
    told = m.CreateRefused(dateless, 400, window_refused=date(2021, 1, 1))
    hint = m.transition(m.transition(DEC, m.Send(()))[0], told)[0].hint or ""
    assert "(`--from 2021-02` in the same command" in hint
    assert "--from 2021-01" not in hint
    gone = refused(FEB, dateless)
    assert gone.window_refused == FEB.start
    assert gone.server_oldest is None  # a start refused is no window start
    done = attrs.evolve(gone, stage=m.Stage.DONE, start=date(2021, 2, 9))
    with pytest.raises(m.TransitionError, match="without naming the window's first day"):
        m.transition(done, m.CutOutsideWindow())


async def test_a_window_refusal_naming_no_day_is_not_followed_into_another(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A server whose window refusal names no day (gigstack's wording is NOT FOUND).
    words = RefuseCreates(
        times=100,
        months=frozenset({"2024-01", "2024-02"}),
        code="validation_failed",
        message="start_date is outside the 71-month download window",
    )
    config = SandboxConfig(speed=3000, seed=5, profile=ServerProfile(refuse_creates=words))
    out = tmp_path / "cfdi"
    async with world_of(config) as (sandbox, _):

        async def cli(*argv: object) -> str:
            capsys.readouterr()
            await asyncio.to_thread(keyed_cli, sandbox, *argv)
            captured = capsys.readouterr()
            return captured.out + captured.err

        span = ("--from", "2024-01", "--to", "2024-03", "--rfc-type", "received")
        await cli("sat", "download", *span, "--out", out, "--yes")
        told = await cli("sat", "download", *span, "--out", out, "--yes")
        first = re.search(r"\[ *[\d.]+s\] 2024-01 +error +(.*)", told)
        assert first is not None
        assert "(`--from 2024-03` in the same command" in first[1]  # 2024-02 was refused too
        assert "--from 2024-02" not in first[1]


def test_a_resend_refused_for_the_window_offers_the_cut_of_its_own_part() -> None:
    own = m.OwnPart(date(2021, 2, 9), date(2021, 2, 28), ("A.xml",), 1)
    again = attrs.evolve(FEB, own_part=own, resend_allowed=True, stage=m.Stage.PLANNED)
    gone = refused(again, OLDEST.format(FEB.start))
    assert gone.stage is m.Stage.REFUSED
    assert "`gigstack-async journal keep 2021-02 --outside-window`" in (gone.hint or "")
    cut = m.transition(gone, m.CutOutsideWindow())[0]
    assert cut.stage is m.Stage.DONE
    assert cut.files == ("A.xml",)
    assert cut.invoice_count == 1
    shown = m.plan_decision(cut, FEB.start, FEB.end).shown
    assert shown is not None
    assert shown.invoice_count == 1  # its own part counted once
    assert m.cut_days(shown, shown.start) == (FEB.start, date(2021, 2, 8))
