"""Newcomer 9j F1: a bulk run's create answer was lost (a 502 after the server made it); the
month needed attention and the user adopted the request from the dashboard, as the hint said.
The history never listed it with a `createdAt` (lagging, short, ordered by period), so the
next run ended the month done with MISSING DAYS "made elsewhere, whose createdAt was never
shown: it may have been made on <last day>", and the only way it printed without a dashboard
time was a new, billed, one-day request. The journal knew when it sent that lost create (our
clock, long after the month's end) and never said so. Now the note offers that time as a
runnable `journal adopt ... --created-at <time>` (the user's vouch, never taken as proof by
itself: the adopted request may have been made elsewhere); following it ends the month.

Also F1: `journal show` said "Run the same command again after 2024-02-29 (tomorrow or later)"
on 2026-11-30: "tomorrow or later" now only while that day is today."""

from __future__ import annotations

import asyncio
import re
import shlex
from datetime import UTC, date, datetime
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.hints import open_day_hint
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.cli import main
from tests.bulk._support import (
    CREATE,
    JOURNAL,
    NEVER_LISTED,
    PACKAGE,
    adopt_lost_create,
    calls,
    done_month,
    world_of,
    xml_names,
)

FEB = m.MonthState("2024-02", date(2024, 2, 1), date(2024, 2, 29), "received", "cfdi")
LATER = date(2026, 11, 30)
SENT = datetime(2026, 11, 30, 19, 37, 16, 500_000, tzinfo=UTC).timestamp()
SENT_TEXT = "2026-11-30T19:37:16+00:00"
VOUCH = re.compile(r"`gigstack-async (journal adopt [^`]* --created-at [^`<]*)`")


def _lost(state: m.MonthState = FEB, sent_at: float | None = SENT, **send: object) -> m.MonthState:
    """`state` sent (its send time on our clock `sent_at`), then its create's answer lost."""
    sent, _ = m.transition(state, m.Send((), sent_at=sent_at, **send))  # type: ignore[arg-type]
    lost, _ = m.transition(sent, m.CreateUnknown("HTTP 502", exists=False))
    return lost


def _adopted_done(state: m.MonthState, request_id: str = "R1") -> m.MonthState:
    """`state` once the user adopted `request_id` (no createdAt shown) the next day, finished."""
    stopped = attrs.evolve(state, stage=m.Stage.NEEDS_ATTENTION, hint="look in the dashboard")
    adopted, _ = m.transition(stopped, m.Adopt(request_id, today=LATER))
    assert (adopted.open_day, adopted.open_day_unproven) == (FEB.end, True)
    extracted = (m.ExtractedPackage(f"{request_id}_01", ("a.xml",)),)
    return attrs.evolve(adopted, stage=m.Stage.DONE, extracted=extracted)


def _note(state: m.MonthState) -> str:
    return " ".join((m.plan_decision(state, FEB.start, FEB.end, today=LATER).note or "").split())


def test_the_note_offers_the_journals_own_send_time_and_following_it_ends_the_month() -> None:
    done = _adopted_done(_lost())
    assert done.create_sent_at == SENT  # kept through the adopt
    note = _note(done)
    assert note.startswith("MISSING DAYS")
    assert f"sent its own create for 2024-02 at {SENT_TEXT} (our clock)" in note
    assert "adopted after this journal's own create" in note  # not "made elsewhere" alone
    (command,) = VOUCH.findall(note)
    assert command == f"journal adopt 2024-02 R1 --created-at {SENT_TEXT}"
    # Before the billed one-day request, with what it does; the dashboard way still named.
    assert note.index(command) < note.index("--from 2024-02-29 --to 2024-02-29")
    assert "the month is complete" in note
    assert "--created-at <time shown in the dashboard>" in note
    # Followed as printed: the CLI reads the time as is (`vouch_created_at`), and the month
    # is complete, nothing else changed.
    vouched = m.vouch_created_at(command.rsplit(" ", 1)[1])
    after, commands = m.transition(done, m.Adopt("R1", today=LATER, vouched_created_at=vouched))
    assert commands == ()
    assert (after.stage, after.open_day, after.open_day_unproven) == (m.Stage.DONE, None, False)
    assert after.extracted == done.extracted
    assert m.plan_decision(after, FEB.start, FEB.end, today=LATER).note is None


def test_the_send_time_is_never_taken_as_proof_by_itself() -> None:
    # Adopted without --created-at: still unproven, whatever the journal's send time says.
    done = _adopted_done(_lost())
    assert "MISSING DAYS" in _note(done)
    # A request the history listed before the create was sent is surely not that create.
    listed_before = attrs.evolve(done, history_before=("R1", "X2"))
    assert "--created-at 2026" not in _note(listed_before)
    assert "--created-at <time shown in the dashboard>" in _note(listed_before)


def test_no_send_time_is_offered_once_the_server_answered_the_create() -> None:
    sent, _ = m.transition(FEB, m.Send((), sent_at=SENT))
    assert sent.create_sent_at == SENT
    # gigstack's identical request (not this create): answered, so no own send time.
    duplicate, _ = m.transition(sent, m.Created("D1", duplicate=True, today=LATER))
    assert duplicate.create_sent_at is None
    assert duplicate.open_day_unproven
    assert "our clock" not in _note(attrs.evolve(duplicate, stage=m.Stage.DONE))
    refused, _ = m.transition(sent, m.CreateRefused("bad request", code=None))
    assert refused.create_sent_at is None
    # Not known (a Send without it, an older journal): the dashboard way only.
    assert "our clock" not in _note(_adopted_done(_lost(sent_at=None)))


def test_a_create_sent_before_the_month_was_over_names_its_days() -> None:
    """Sent on 2024-02-20 (Mexico City), lost, adopted later: if it is that create, the days
    from the 20th on are the missing ones; the vouch says so before it is followed."""
    early = datetime(2024, 2, 20, 18, 0, tzinfo=UTC).timestamp()
    done = _adopted_done(_lost(sent_at=early, today=date(2024, 2, 20)))
    note = _note(done)
    assert "--created-at 2024-02-20T18:00:00+00:00" in note
    assert "2024-02-20..2024-02-29 are then the MISSING DAYS" in note
    vouched = m.vouch_created_at("2024-02-20T18:00:00+00:00")
    after, _ = m.transition(done, m.Adopt("R1", today=LATER, vouched_created_at=vouched))
    assert (after.open_day, after.open_day_unproven) == (date(2024, 2, 20), False)


def test_tomorrow_or_later_only_while_the_open_day_is_today() -> None:
    day = date(2024, 2, 29)
    assert "after 2024-02-29 (tomorrow or later)" in open_day_hint(day, day)
    assert "tomorrow or later" in open_day_hint(day)  # no clock: as before
    past = open_day_hint(day, LATER)
    assert "tomorrow" not in past
    assert "2024-02-29 is over: run the same command again" in past


async def test_following_the_printed_created_at_ends_the_month_without_missing_days(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end on 127.0.0.1: the create's answer lost (a 502 after the server made it),
    the history never listing it (a lagging record); the request adopted as the hint says;
    the next run done with MISSING DAYS offering our send time; `journal show` names the same
    way (not "tomorrow or later" for a day long over); the printed command, run as printed
    (plus --yes, not a terminal), and the next run ends the month ok: nothing created or
    downloaded again."""
    out = tmp_path / "cfdi"
    async with world_of(NEVER_LISTED) as (sandbox, _client):
        cli, download, said, rid = await adopt_lost_create(
            sandbox, capsys, out, "2024-02", "received"
        )
        assert "journal adopt" in said
        ran = asyncio.to_thread
        code, said = await ran(download)
        assert code != 0
        assert "MISSING DAYS" in said
        commands = VOUCH.findall(said)
        assert commands, said  # before: only `--created-at <time shown in the dashboard>`
        command = commands[0]
        assert command.startswith(f"journal adopt {out} 2024-02 {rid} --created-at 20")
        files = xml_names(out / "2024-02")
        assert files
        spent = (calls(sandbox, CREATE), calls(sandbox, PACKAGE))
        assert spent == (1, 1)

        code, shown = await ran(cli, "journal", "show", out, "2024-02")
        assert code == 0
        assert "tomorrow or later" not in shown  # before: said on a day long after 2024-02-29
        assert command in shown

        argv = shlex.split(command)
        assert (await ran(cli, *argv, "--yes"))[0] == 0
        code, said = await ran(download)
        assert code == 0, said
        assert "MISSING DAYS" not in said
        assert xml_names(out / "2024-02") == files
        assert (calls(sandbox, CREATE), calls(sandbox, PACKAGE)) == spent
        code, shown = await ran(cli, "journal", "show", out, "2024-02")
        assert "MISSING DAYS" not in shown
        assert "before that day was over" not in shown


@pytest.mark.parametrize("stage", [m.Stage.SPLIT, m.Stage.DONE])
def test_journal_show_names_the_open_day_for_a_done_month_only(
    tmp_path: Path, stage: m.Stage, capsys: pytest.CaptureFixture[str]
) -> None:
    """F1's last step: after `journal split` recorded the month with the open day's part, its
    Next column still said "requested on 2024-02-29 before that day was over … Run the same
    command again after 2024-02-29 (tomorrow or later)". A split month's parts hold the day;
    a done one names it, as over, with the run's MISSING DAYS ways."""
    folder = tmp_path / "cfdi"
    identity = StoreIdentity(
        None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
    )
    month = attrs.evolve(done_month("2024-02", ("a.xml",)), stage=stage, open_day=FEB.end)
    with JournalStore.open(folder / JOURNAL, identity) as store:
        store.ensure([month])
    capsys.readouterr()
    assert main(["journal", "show", str(folder)]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "tomorrow or later" not in shown
    assert ("before that day was over" in shown) is (stage is m.Stage.DONE)
    if stage is m.Stage.DONE:
        assert "MISSING DAYS: requested for 2024-02-01..2024-02-29 on 2024-02-29" in shown
