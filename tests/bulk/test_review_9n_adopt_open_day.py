"""Review 9n #4 (n5_held_open_day.py): on 2026-11-30 folder B downloads November 2026 (its last
day, not over). Folder A holds November for B's request; following the printed `journal adopt`,
run, `journal retry-download`, run, A ended "done 56 56" with no open-day note, and on 12-01
the same command said nothing of MISSING DAYS while B did: CFDIs stamped later on 11-30 were
silently never fetched. A month that takes a request its own create did not make now derives
the open day from that request (`machine.taken_open_day`)."""

from __future__ import annotations

import asyncio
import re
import shlex
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import JOURNAL, keyed_cli, world_of

NOV = m.MonthState("2026-11", date(2026, 11, 1), date(2026, 11, 30), "received", "cfdi")
LAST, NEXT = date(2026, 11, 30), date(2026, 12, 1)
# 2026-11-30 18:00 in Mexico City (UTC-6) = 2026-12-01 00:00 UTC: a UTC reading says 12-01.
EVENING_MS = str(int(datetime(2026, 12, 1, 0, 0, tzinfo=UTC).timestamp() * 1000))
NEXT_NOON_MS = str(int(datetime(2026, 12, 1, 18, 0, tzinfo=UTC).timestamp() * 1000))


@pytest.mark.parametrize(
    ("created_at", "today", "expected"),
    [
        (EVENING_MS, NEXT, (LAST, False)),  # made on the last day, Mexico City's date
        (NEXT_NOON_MS, NEXT, (None, False)),  # surely made after the last day was over
        (NEXT_NOON_MS, LAST, (LAST, False)),  # taken on the last day: made no later
        (None, LAST, (LAST, False)),
        (None, NEXT, (LAST, True)),  # unknown never means "after"
        (None, None, (LAST, True)),
        ("123456", NEXT, (LAST, True)),  # unit unknown
        ("2026-12-01T03:00:00", NEXT, (LAST, False)),  # naive: read as UTC, still 11-30 in CDMX
        ("2026-12-01T09:00:00", NEXT, (None, False)),  # naive: 12-01 either way
        ("2026-11-20T12:00:00-06:00", NEXT, (date(2026, 11, 20), False)),
        ("2026-10-20T12:00:00-06:00", NEXT, (NOV.start, False)),  # never before the start
    ],
)
def test_taken_open_day(
    created_at: str | None, today: date | None, expected: tuple[date | None, bool]
) -> None:
    assert m.taken_open_day(NOV.start, NOV.end, created_at, today) == expected


def _held() -> m.MonthState:
    return m.hold(NOV, ["B1"], {"B1": ("completed", None)})


def _done(state: m.MonthState) -> m.MonthState:
    return attrs.evolve(state, stage=m.Stage.DONE, reason="every package extracted")


def _missing(state: m.MonthState) -> bool:
    note = m.plan_decision(state, NOV.start, NOV.end, today=NEXT).note
    return note is not None and note.startswith("MISSING DAYS") and "on 2026-11-30" in note


def test_a_held_month_adopted_on_its_last_day_names_it_missing_the_next_day() -> None:
    adopted, _ = m.transition(_held(), m.Adopt("B1", uncounted=True, today=LAST))
    assert (adopted.open_day, adopted.open_day_unproven) == (LAST, False)
    assert _missing(_done(adopted))  # before: "done", nothing missing


def test_an_adopt_the_next_day_is_open_until_the_history_shows_createdat() -> None:
    adopted, _ = m.transition(_held(), m.Adopt("B1", uncounted=True, today=NEXT))
    assert (adopted.open_day, adopted.open_day_unproven) == (LAST, True)
    assert _missing(_done(adopted))

    def listed(created_at: str) -> m.MonthState:
        seen = m.Seen("B1", "processing", "received", "cfdi", NOV.start, NOV.end)
        seen = attrs.evolve(seen, created_at=created_at)
        return m.transition(adopted, m.StatusSeen(seen))[0]

    made_then = listed(EVENING_MS)
    assert (made_then.open_day, made_then.open_day_unproven) == (LAST, False)
    assert _missing(_done(made_then))
    made_later = listed(NEXT_NOON_MS)
    assert (made_later.open_day, made_later.open_day_unproven) == (None, False)
    assert not _missing(_done(made_later))
    # The history's entry (where createdAt really comes from) does the same.
    entry = m.Seen("B1", "processing", "received", "cfdi", NOV.start, NOV.end)
    for created_at, day in ((EVENING_MS, LAST), (NEXT_NOON_MS, None)):
        history = m.HistorySeen((attrs.evolve(entry, created_at=created_at),))
        assert m.transition(adopted, history)[0].open_day == day
    unlisted = m.transition(adopted, m.HistorySeen((attrs.evolve(entry, id="X9"),)))[0]
    assert (unlisted.open_day, unlisted.open_day_unproven) == (LAST, True)


def test_adopting_another_request_drops_the_left_requests_open_day() -> None:
    sent, _ = m.transition(NOV, m.Send((), today=LAST))
    own, _ = m.transition(sent, m.Created("r1"))
    assert own.open_day == LAST
    other = m.Adopt("r2", created_at=NEXT_NOON_MS, today=NEXT)
    assert m.transition(own, other)[0].open_day is None
    # Its own last request adopted back (a record rebuilt from its log): the day it kept.
    for kept in (LAST, None):
        rebuilt = attrs.evolve(own, stage=m.Stage.NEEDS_ATTENTION, request_id=None, open_day=kept)
        back, _ = m.transition(rebuilt, m.Adopt("r1", today=NEXT))
        assert (back.open_day, back.open_day_unproven) == (kept, False)


def test_gigstacks_duplicate_match_takes_the_matched_requests_open_day() -> None:
    sent, _ = m.transition(NOV, m.Send((), today=NEXT))
    assert sent.open_day is None  # this create: after the last day
    unknown, _ = m.transition(sent, m.Created("B1", duplicate=True, today=NEXT))
    assert (unknown.open_day, unknown.open_day_unproven) == (LAST, True)
    made, _ = m.transition(sent, m.Created("B1", True, today=NEXT, created_at=EVENING_MS))
    assert (made.open_day, made.open_day_unproven) == (LAST, False)
    later, _ = m.transition(sent, m.Created("B1", True, today=NEXT, created_at=NEXT_NOON_MS))
    assert later.open_day is None
    own, _ = m.transition(sent, m.Created("r1", today=NEXT))
    assert own.open_day is None  # its own create: the day it was sent decides


def test_keep_of_an_adopted_month_on_its_last_day_records_the_open_day() -> None:
    # An adopt recorded before this fix (no open day), kept on the month's last day.
    adopted, _ = m.transition(_held(), m.Adopt("B1", uncounted=True, today=NEXT))
    adopted = attrs.evolve(
        adopted,
        open_day=None,
        open_day_unproven=False,
        stage=m.Stage.NEEDS_ATTENTION,
        records=(m.KnownRequest("B1", created_at=NEXT_NOON_MS),),
    )
    kept, _ = m.transition(adopted, m.KeepFiles(("a.xml",), vouched=True, today=LAST))
    assert (kept.stage, kept.open_day) == (m.Stage.DONE, LAST)
    assert _missing(kept)
    after, _ = m.transition(adopted, m.KeepFiles(("a.xml",), vouched=True, today=NEXT))
    assert after.open_day is None  # createdAt shows it was made after the last day


def _today(monkeypatch: pytest.MonkeyPatch, day: date) -> None:
    import gigstack_async._validation as validation
    import gigstack_async.bulk.engine as engine
    import gigstack_async.bulk.plan as plan
    import gigstack_async.cli.commands.journal as journal
    import gigstack_async.cli.commands.journal_repair as journal_repair

    for module in (plan, validation, engine, journal, journal_repair):
        monkeypatch.setattr(module, "today_mx", lambda now=None: day, raising=False)


def _cli(sandbox: object, capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    capsys.readouterr()
    code = keyed_cli(sandbox, *argv)  # type: ignore[arg-type]
    return code, " ".join(capsys.readouterr().out.split())


async def test_the_printed_adopt_route_keeps_the_open_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = SandboxConfig(speed=3000, seed=5, start=datetime(2026, 11, 30, 16, tzinfo=UTC))
    async with world_of(config) as (sandbox, _client):
        _today(monkeypatch, LAST)

        def download(folder: str) -> tuple[int, str]:
            argv: list[object] = ["sat", "download", "--from", "2026-11", "--to", "2026-11"]
            argv += ["--rfc-type", "received", "--out", tmp_path / folder]
            return _cli(sandbox, capsys, *argv, "--poll-interval", "0.05", "--yes")

        ran = asyncio.to_thread
        assert (await ran(download, "B"))[0] == 0
        _, held = await ran(download, "A")
        adopt = re.findall(r"`gigstack-async (journal adopt [^`]*)`", held)
        assert adopt, held
        assert (await ran(_cli, sandbox, capsys, *shlex.split(adopt[0]), "--yes"))[0] == 0
        # Made in folder B: one GET of its package by itself (review 9u #3), SAT's 2nd.
        code, done = await ran(download, "A")
        assert code == 0
        assert "requested before 2026-11-30 was over" in done  # before: plain "done"

        _today(monkeypatch, NEXT)
        code, later = await ran(download, "A")
        assert code != 0  # before: 0, "done 56 56", the rest of 11-30 never fetched
        assert "MISSING DAYS: requested for 2026-11-01..2026-11-30 on 2026-11-30" in later
        assert "--from 2026-11-30 --to 2026-11-30" in later

        # `journal repair` of a damaged record keeps the open day (the log kept it).
        db = sqlite3.connect(tmp_path / "A" / JOURNAL)
        db.execute("UPDATE months SET state = '{\"garbage' WHERE key = '2026-11'")
        db.commit()
        db.close()
        repair = ("journal", "repair", tmp_path / "A", "--yes")
        assert (await ran(_cli, sandbox, capsys, *repair))[0] == 0
        await ran(download, "A")  # the rebuilt month stops: keep its files
        keep = ("journal", "keep", tmp_path / "A", "2026-11", "--yes")
        assert (await ran(_cli, sandbox, capsys, *keep))[0] == 0
        code, repaired = await ran(download, "A")
        assert code != 0
        assert "MISSING DAYS: requested for 2026-11-01..2026-11-30 on 2026-11-30" in repaired
        assert len(sandbox.state.calls_to("createDownloadRequest")) == 1  # B's only
