"""Review 9m #2, #3, #4: a month held for another folder's identical request R lost its hold.

#2: a run of other dates for the month that sent nothing (ended by --timeout, or its create
refused with a 4xx) recorded the month with no hold; once R left the history's newest 20, the
original command billed the month again. Holds are now keyed to R's dates
(`MonthState.holds`) and consulted whenever the month's dates are R's again (`held_ids`).
#3: `journal repair` of a held month rebuilt it planned and sendable; the log now keeps the
holds, and repair restores them (an older log: needs-attention with the held hint).
#4: what the history said of R (its SAT 5003) was forgotten once R left the history: the hint
switched to "adopt R, or journal resend", and the resend billed the 5003 again. It is kept
with the hold, so the split hint persists and `journal resend` is refused without --force.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.duplicates import held_hint, holding, prior_requests
from gigstack_async.bulk.engine import held_month
from gigstack_async.bulk.store import LogLine
from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox.config import FaultConfig
from gigstack_async.sandbox.profiles import RefuseCreates, SatCodeRule, ServerProfile
from tests.bulk._support import CREATE, HISTORY, JOURNAL, calls, keyed_cli, world_of

MONTH = m.MonthState(
    key="2024-08",
    start=date(2024, 8, 1),
    end=date(2024, 8, 31),
    rfc_type="received",
    request_type="cfdi",
)
PART = (date(2024, 8, 1), date(2024, 8, 20))
REFUSED_5003 = "SAT 5003: Tope máximo de resultados excedido; divide el periodo"


# ------------------------------------------------------------------ #2, the machine


def test_a_plan_of_other_dates_keeps_the_hold_for_the_held_dates() -> None:
    held = m.hold(MONTH, ["R"])
    other = m.plan_decision(held, *PART).state
    assert other is not None
    assert other.held_for == ()  # R is not identical to 08-01..20
    assert holding(other, ()) == ()
    back = m.plan_decision(other, MONTH.start, MONTH.end).state or other
    assert m.held_ids(back) == ("R",)  # was: () and the next run sent it
    assert [p.request_id for p in holding(back, ())] == ["R"]


def test_a_refused_create_for_other_dates_keeps_the_hold() -> None:
    """A 4xx billed nothing: the month back at R's dates is held for R again."""
    other = m.plan_decision(m.hold(MONTH, ["R"]), *PART).state
    assert other is not None
    begun, _ = m.transition(other, m.Start())
    sent, commands = m.transition(begun, m.Send(history_ids=()))
    assert any(isinstance(c, m.SendCreate) for c in commands)
    refused, _ = m.transition(sent, m.CreateRefused("deactivated", 400))
    assert refused.stage is m.Stage.REFUSED
    back = m.plan_decision(refused, MONTH.start, MONTH.end)
    assert back.state is not None
    assert [p.request_id for p in holding(back.state, ())] == ["R"]


def test_a_create_sent_for_the_held_dates_keeps_their_holds_counted() -> None:
    # Review 9m #5 (merged with #2): once the user allows a create for held dates, the
    # requests it was held for still count against SAT's 2 identical requests for them.
    held = m.hold(m.hold(MONTH, ["R"]), ["R"])
    part = m.plan_decision(held, *PART).state
    assert part is not None
    part = m.hold(part, ["P"])  # held for another request of 08-01..20 too
    allowed, _ = m.transition(part, m.AllowResend())
    begun, _ = m.transition(allowed, m.Start())
    sent, _ = m.transition(begun, m.Send(history_ids=()))
    assert [(h.id, h.start, h.end) for h in sent.holds] == [
        ("R", MONTH.start, MONTH.end),
        ("P", *PART),
    ]
    assert "P" in m.identical_requests(sent)
    assert "R" not in m.identical_requests(sent)  # R is for other dates (the whole month)


# ------------------------------------------------------------------ #3, the machine and log


def test_the_log_keeps_the_holds_and_a_rebuilt_month_is_held_again(tmp_path: Path) -> None:
    held = m.hold(MONTH, ["R"], {"R": ("completed", None)})
    line = LogLine(1, MONTH.key, m.Stage.PLANNED, None, holds=held.holds)
    fresh = _fresh(MONTH)
    rebuilt = held_month(fresh, [line], None)
    assert rebuilt is not None  # was: None, and repair planned it sendable
    assert rebuilt.stage is m.Stage.PLANNED
    assert m.held_ids(rebuilt) == ("R",)
    assert [p.request_id for p in holding(rebuilt, ())] == ["R"]
    assert "held, not sent" in (rebuilt.reason or "")
    # Held while the plan asked for other dates: rebuilt with those, R's hold kept for later.
    other = m.plan_decision(held, *PART).state
    assert other is not None
    asked = m.Asked(*PART)
    lines = [LogLine(2, MONTH.key, m.Stage.PLANNED, None, asked=asked, holds=other.holds)]
    rebuilt = held_month(fresh, lines, None)
    assert rebuilt is not None
    assert (rebuilt.start, rebuilt.end) == PART
    assert holding(rebuilt, ()) == ()
    back = m.plan_decision(rebuilt, MONTH.start, MONTH.end).state
    assert back is not None
    assert m.held_ids(back) == ("R",)


def _fresh(state: m.MonthState) -> m.MonthState:
    return m.MonthState(state.key, state.start, state.end, state.rfc_type, state.request_type)


# ------------------------------------------------------------------ #4, the machine


def test_a_held_months_5003_is_kept_once_the_request_leaves_the_history() -> None:
    held = m.hold(MONTH, ["R"], {"R": ("failed", REFUSED_5003)})
    again = m.hold(held, ["R"])  # a later run: R no longer listed, nothing new learnt
    (prior,) = prior_requests(again, ())
    assert prior.recorded
    assert m.sat_code(prior.message) == 5003  # was: None
    hint = held_hint(again, (prior,))
    assert "do not request them again" in hint
    assert "journal resend" not in hint
    with pytest.raises(m.TransitionError, match="5003"):
        m.transition(again, m.AllowResend())
    forced, _ = m.transition(again, m.AllowResend(force=True))
    assert forced.identical_allowed


# ------------------------------------------------------------------ the CLI, end to end


def _download(out: Path, start: str, end: str, *extra: str) -> tuple[str, ...]:
    return (
        "sat",
        "download",
        "--from",
        start,
        "--to",
        end,
        "--rfc-type",
        "received",
        "--out",
        str(out),
        "--poll-interval",
        "0.05",
        "--yes",
        *extra,
    )


def _billed(sandbox: object, month: str) -> int:
    """Creates the server billed (200) for the whole of `month` (`YYYY-MM`) exactly."""
    start = date.fromisoformat(f"{month}-01")
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1) - timedelta(days=1)
    whole = f"received cfdi {start}..{end}"
    log = sandbox.state.calls_to(CREATE)  # type: ignore[attr-defined]
    return sum(1 for c in log if c.criteria == whole and c.status == 200)


@pytest.mark.parametrize("mode", ["timeout", "refuse"])
async def test_a_run_of_other_dates_that_sent_nothing_keeps_the_hold(
    tmp_path: Path, mode: str
) -> None:
    """Review 9m m1: A holds August for R; a run of 08-01..20 into A ends before sending
    (--timeout 0.001) or its create is refused (4xx); R leaves the history; the original
    command again must not bill August (was: a 2nd August create)."""
    # Every history answer takes 0.3 s (real time): the --timeout 0.1 run ends before its
    # create could leave (the engine sends none before it has read the history).
    slow = FaultConfig(operations={HISTORY}, latency_rate=1.0, latency_seconds=(0.3, 0.3))
    config = SandboxConfig(speed=3000, seed=5, history_limit=1, faults=slow)
    async with world_of(config) as (sb, client):
        await client.downloads.create_request(
            start_date="2024-08-01", end_date="2024-08-31", rfc_type="received"
        )
        out = tmp_path / "A"
        assert await asyncio.to_thread(keyed_cli, sb, *_download(out, "2024-08", "2024-08")) == 1
        if mode == "refuse":
            sb.state.profile = ServerProfile(refuse_creates=RefuseCreates(times=1))
            await asyncio.to_thread(keyed_cli, sb, *_download(out, "2024-08-01", "2024-08-20"))
            sb.state.profile = ServerProfile()
        else:
            argv = _download(out, "2024-08-01", "2024-08-20", "--timeout", "0.1")
            await asyncio.to_thread(keyed_cli, sb, *argv)
        assert calls(sb, CREATE) == (2 if mode == "refuse" else 1)  # nothing billed
        assert _billed(sb, "2024-08") == 1
        other = _download(tmp_path / "C", "2024-09", "2024-09")
        assert await asyncio.to_thread(keyed_cli, sb, *other) == 0  # R leaves the history
        creates = calls(sb, CREATE)
        assert await asyncio.to_thread(keyed_cli, sb, *_download(out, "2024-08", "2024-08")) == 1
        assert calls(sb, CREATE) == creates  # was: August billed a 2nd time
        assert _billed(sb, "2024-08") == 1


async def test_journal_repair_of_a_held_month_keeps_the_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 9m m6: A holds August for R; its row is damaged; `journal repair`; R leaves the
    history; the same command must not bill August (was: rebuilt planned, billed again)."""
    async with world_of(SandboxConfig(speed=3000, seed=5, history_limit=1)) as (sb, client):
        await client.downloads.create_request(
            start_date="2024-08-01", end_date="2024-08-31", rfc_type="received"
        )
        out = tmp_path / "A"
        assert await asyncio.to_thread(keyed_cli, sb, *_download(out, "2024-08", "2024-08")) == 1
        db = sqlite3.connect(out / JOURNAL)
        db.execute("UPDATE months SET state = '{\"garbage' WHERE key = '2024-08'")
        db.commit()
        db.close()
        capsys.readouterr()
        assert await asyncio.to_thread(keyed_cli, sb, "journal", "repair", out, "--yes") == 0
        said = capsys.readouterr().out
        assert "would become planned once you confirm: its record was rebuilt" in said
        assert "held, not sent" in said  # was: "never sent: the next run requests it"
        other = _download(tmp_path / "C", "2024-09", "2024-09")
        assert await asyncio.to_thread(keyed_cli, sb, *other) == 0  # R leaves the history
        creates = calls(sb, CREATE)
        assert await asyncio.to_thread(keyed_cli, sb, *_download(out, "2024-08", "2024-08")) == 1
        assert calls(sb, CREATE) == creates  # was: August billed a 2nd time
        assert _billed(sb, "2024-08") == 1


async def test_journal_repair_of_an_older_held_month_needs_the_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A log written before it kept holds: the recorded hold makes the rebuilt month
    needs-attention with the held hint, never planned and sendable."""
    async with world_of(SandboxConfig(speed=3000, seed=5, history_limit=1)) as (sb, client):
        await client.downloads.create_request(
            start_date="2024-08-01", end_date="2024-08-31", rfc_type="received"
        )
        out = tmp_path / "A"
        assert await asyncio.to_thread(keyed_cli, sb, *_download(out, "2024-08", "2024-08")) == 1
        db = sqlite3.connect(out / JOURNAL)
        db.execute("UPDATE months SET state = '{\"garbage' WHERE key = '2024-08'")
        # As an older journal wrote its log: counts, dates and SAT code, no holds.
        db.execute("UPDATE log SET counts = json_remove(counts, '$.holds')")
        db.commit()
        db.close()
        capsys.readouterr()
        assert await asyncio.to_thread(keyed_cli, sb, "journal", "repair", out, "--yes") == 0
        said = capsys.readouterr().out
        assert "would become needs-attention" in said
        assert "journal adopt" in said or "the last run held it" in said
        other = _download(tmp_path / "C", "2024-09", "2024-09")
        assert await asyncio.to_thread(keyed_cli, sb, *other) == 0
        creates = calls(sb, CREATE)
        await asyncio.to_thread(keyed_cli, sb, *_download(out, "2024-08", "2024-08"))
        assert calls(sb, CREATE) == creates
        assert _billed(sb, "2024-08") == 1


async def test_a_held_months_5003_survives_the_request_leaving_the_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review 9m m4: R (August) got SAT 5003; A is held for it; R leaves the history. The hint
    still says split, and `journal resend` is refused (was: accepted, August billed and
    refused with 5003 again)."""
    profile = ServerProfile(sat_codes=(SatCodeRule(5003, month="2024-08", whole_month=True),))
    config = SandboxConfig(speed=3000, seed=5, profile=profile, history_limit=1)
    async with world_of(config) as (sb, client):
        await client.downloads.create_request(
            start_date="2024-08-01", end_date="2024-08-31", rfc_type="received"
        )
        await asyncio.sleep(1)  # SAT's answer (5003) reaches the history
        out = tmp_path / "A"
        assert await asyncio.to_thread(keyed_cli, sb, *_download(out, "2024-08", "2024-08")) == 1
        other = _download(tmp_path / "C", "2024-09", "2024-09")
        assert await asyncio.to_thread(keyed_cli, sb, *other) == 0  # R leaves the history
        capsys.readouterr()
        assert await asyncio.to_thread(keyed_cli, sb, *_download(out, "2024-08", "2024-08")) == 1
        said = capsys.readouterr().out
        assert "do not request them again" in said  # was: "adopt R ... or journal resend"
        assert "journal resend" not in said  # neither the result nor the plan offers it
        creates = calls(sb, CREATE)
        resend = ("journal", "resend", out, "2024-08", "--yes")
        assert await asyncio.to_thread(keyed_cli, sb, *resend) == 2
        assert "5003" in capsys.readouterr().err
        await asyncio.to_thread(keyed_cli, sb, *_download(out, "2024-08", "2024-08"))
        assert calls(sb, CREATE) == creates  # was: August billed again, 5003 again
        assert _billed(sb, "2024-08") == 1
