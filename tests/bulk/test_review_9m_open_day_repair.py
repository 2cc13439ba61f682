"""Review 9m #11 (m10_open_day_repair.py): November done on 2026-11-30 (its open day), its
record damaged; on 12-01 `journal repair`, then the printed `journal keep`. Before: every later
run said "done 56/56", exit 0, with no MISSING DAYS: CFDIs stamped later on the 30th were never
fetched. The log now keeps the open day and repair restores it."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import held_month
from gigstack_async.bulk.store import JournalStore, LogLine, StoreIdentity
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import JOURNAL, keyed_cli, results, run, world_of

NOV = m.MonthState("2026-11", date(2026, 11, 1), date(2026, 11, 30), "received", "cfdi")
LAST, NEXT = date(2026, 11, 30), date(2026, 12, 1)
IDENTITY = StoreIdentity(None, "http://127.0.0.1:1", "k", None, "received", "cfdi")


def _done_on(today: date) -> m.MonthState:
    state, _ = m.transition(NOV, m.Send((), today=today))
    state, _ = m.transition(state, m.Created("r1"))
    return attrs.evolve(
        state, stage=m.Stage.DONE, reason="every package extracted", invoice_count=2
    )


@pytest.mark.parametrize("sent", [LAST, NEXT])
def test_the_log_keeps_the_open_day_and_a_rebuilt_month_restores_it(
    tmp_path: Path, sent: date
) -> None:
    with JournalStore.open(tmp_path / JOURNAL, IDENTITY) as store:
        store.ensure([NOV])
        for state in (m.transition(NOV, m.Send((), today=sent))[0], _done_on(sent)):
            store.put(state)
        lines = store.log(NOV.key)
    assert lines[-1].open_day_logged
    assert lines[-1].open_day == (LAST if sent == LAST else None)
    held = held_month(NOV, lines, None, today=NEXT)
    assert held is not None
    assert held.open_day == (LAST if sent == LAST else None)
    # `journal keep` of its files, then the next day's run names the day MISSING DAYS.
    kept, _ = m.transition(held, m.KeepFiles(("a.xml",), vouched=True))
    note = m.plan_decision(kept, NOV.start, NOV.end, today=NEXT).note
    assert (note is not None and note.startswith("MISSING DAYS")) == (sent == LAST)


def test_a_log_that_kept_no_open_day_takes_dates_ending_today_as_open() -> None:
    # Any request of the journal was sent by today: dates ending today or later were sent
    # before their last day was over. Ending earlier, the log cannot tell: none.
    asked = m.Asked(NOV.start, NOV.end, 2)
    lines = [LogLine(1, NOV.key, m.Stage.DONE, "done", "r1", m.Counts(1), asked)]
    today = held_month(NOV, lines, None, today=LAST)
    assert today is not None
    assert today.open_day == LAST
    later = held_month(NOV, lines, None, today=NEXT)
    assert later is not None
    assert later.open_day is None


def _today(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    import gigstack_async._validation as validation
    import gigstack_async.bulk.engine as engine
    import gigstack_async.bulk.plan as plan
    import gigstack_async.cli.commands.journal_repair as journal_repair

    for module in (plan, validation, engine, journal_repair):
        monkeypatch.setattr(module, "today_mx", lambda now=None: day)


async def test_repair_then_keep_still_names_the_open_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "A"
    config = SandboxConfig(speed=3000, seed=5, start=datetime(2026, 11, 30, 16, tzinfo=UTC))
    async with world_of(config) as (sandbox, client):
        _today(monkeypatch, LAST)
        first = results(await run(client, out, "2026-11", "2026-11"))["2026-11"]
        assert (first.ok, first.open_day) == (True, LAST)
        db = sqlite3.connect(out / JOURNAL)
        db.execute("UPDATE months SET state = '{\"garbage' WHERE key = '2026-11'")
        db.commit()
        db.close()
        _today(monkeypatch, NEXT)
        capsys.readouterr()
        assert await asyncio.to_thread(keyed_cli, sandbox, "journal", "repair", out, "--yes") == 0
        assert "sent on 2026-11-30, before that day" in " ".join(capsys.readouterr().out.split())
        stopped = results(await run(client, out, "2026-11", "2026-11"))["2026-11"]
        assert f"journal keep {out} 2026-11" in (stopped.hint or "")
        keep = ("journal", "keep", out, "2026-11", "--yes")
        assert await asyncio.to_thread(keyed_cli, sandbox, *keep) == 0
        later = results(await run(client, out, "2026-11", "2026-11"))["2026-11"]
        assert not later.ok  # before: ok, 56/56, and the rest of 11-30 never fetched
        assert "MISSING DAYS" in (later.error or "")
        assert "on 2026-11-30, before that day was over" in (later.error or "")
        assert len(sandbox.state.calls_to("createDownloadRequest")) == 1  # nothing sent
