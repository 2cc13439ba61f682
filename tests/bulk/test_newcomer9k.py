"""Newcomer 9k: a held month adopted once the history forgot its request, and the Python texts.

#1: a month held for another folder's identical request (the plan printed its createdAt) that
the user adopted as the hint says ended done, not ok, with MISSING DAYS "whose createdAt was
never shown: it may have been made on <last day>", once the request had left the history's
newest 20, and its "Otherwise" route billed a one-day request. The hold now records the
createdAt the history showed (`HeldRequest.created_at`), and the adopt takes the open day from
it, as from a history listing it.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk import repair
from gigstack_async.bulk.engine import next_step
from gigstack_async.bulk.events import MonthResult, Submitted
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox.config import FaultConfig
from tests.bulk._support import (
    CREATE,
    JOURNAL,
    calls,
    download_argv,
    month_results,
    results,
    run,
    said_cli,
    short_history,
    world_of,
    xml_names,
)

OCT = m.MonthState("2026-10", date(2026, 10, 1), date(2026, 10, 31), "received", "cfdi")
IDENTITY = StoreIdentity(
    None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
)


def test_a_hold_records_the_created_at_the_history_showed_and_keeps_it() -> None:
    held = m.hold(OCT, ["R1"], {"R1": ("completed", None)}, {"R1": "2026-11-30T18:59:17Z"})
    assert m.held_created_at(held, "R1") == "2026-11-30T18:59:17Z"
    # Held again by a run whose history no longer lists it (no createdAt): kept.
    again = m.hold(held, ["R1"], {}, {})
    assert m.held_created_at(again, "R1") == "2026-11-30T18:59:17Z"
    assert m.held_created_at(again, "R2") is None


@pytest.mark.parametrize(
    ("created", "open_day", "unproven"),
    [
        ("2026-11-30T18:59:17Z", None, False),  # made after the month was over: complete
        ("2026-10-31T12:00:00-06:00", date(2026, 10, 31), False),  # on its last day: proven
        (None, date(2026, 10, 31), True),  # never shown: unknown never counts as after
    ],
)
def test_adopting_a_held_request_takes_its_open_day_from_the_hold(
    tmp_path: Path, created: str | None, open_day: date | None, unproven: bool
) -> None:
    with JournalStore.open(tmp_path / JOURNAL, IDENTITY) as store:
        store.put(m.hold(OCT, ["R1"], {"R1": ("completed", None)}, {"R1": created}))
        state, _ = repair.adopt(store, "2026-10", "R1", today=date(2026, 11, 30))
    assert (state.request_id, state.open_day, state.open_day_unproven) == (
        "R1",
        open_day,
        unproven,
    )


async def test_a_held_month_adopted_after_its_request_left_the_history_ends_ok(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The newcomer's run end to end: folder B downloads 2026-10; folder A is held for B's
    request (the plan shows its createdAt); other requests push it out of a 2-entry history;
    the printed `journal adopt`, the run that stops, `journal retry-download`, the run again:
    done and ok, no MISSING DAYS, no create sent (was: MISSING DAYS for 2026-10-31, and a
    billed one-day request offered)."""
    async with world_of(short_history(2)) as (sandbox, client):
        cli = said_cli(sandbox, capsys)

        def download(folder: str) -> tuple[int, str]:
            return cli(*download_argv("2026-10", tmp_path / folder, "received", "--type", "cfdi"))

        ran = asyncio.to_thread
        assert (await ran(download, "B"))[0] == 0
        (request,) = sandbox.state.download_requests
        rid = request.request_id
        code, held = await ran(download, "A")
        assert code != 0
        assert "held" in held
        assert "created 2026-11-30" in held  # the plan shows when it was made
        creates = calls(sandbox, CREATE)
        assert creates == 1

        for day in (1, 2):  # another job's requests: B's leaves the 2-entry history
            await client.downloads.create_request(
                start_date=f"2026-09-0{day}", end_date=f"2026-09-0{day}", rfc_type="issued"
            )
        assert rid not in {r.id for r in await client.downloads.history()}
        creates = calls(sandbox, CREATE)

        # The run's hold text still says when it was made, from the journal's record of it.
        code, again = await ran(download, "A")
        assert code != 0
        assert (
            "recorded by this journal when an earlier run held the month for it, created " in again
        )
        assert calls(sandbox, CREATE) == creates
        adopt = ("journal", "adopt", tmp_path / "A", "2026-10", rid)
        code, said = await ran(cli, *adopt, "--rfc-type", "received", "--type", "cfdi", "--yes")
        assert code == 0, said
        # Its last words name the whole way (newcomer 9k #5: only "run again").
        last = said[said.index(f"2026-10 now follows request {rid}.") :]
        assert "Run the same download again" in last
        # Made in folder B: one GET of its package by itself, SAT's 2nd (review 9u #3; was:
        # none until `journal retry-download`), and the way on if it fails, said before.
        assert "at most one GET of each package and never retries it" in said
        assert f"journal retry-download {tmp_path / 'A'} 2026-10`" in said
        code, done = await ran(download, "A")
        assert code == 0, done  # was: not ok, MISSING DAYS for 2026-10-31
        assert "MISSING DAYS" not in done
        assert "never shown" not in done
        assert xml_names(tmp_path / "A" / "2026-10") == xml_names(tmp_path / "B" / "2026-10")
        assert calls(sandbox, CREATE) == creates  # nothing sent, nothing billed
        with JournalStore.open_existing(tmp_path / "A" / JOURNAL) as store:
            state = store.get("2026-10")
        assert (state.stage, state.request_id, state.open_day) == (m.Stage.DONE, rid, None)


# ------------------------------------------------------------------ #2: the Python part call


def _missing_days_note() -> str:
    """The MISSING DAYS text of a done month whose adopted request's createdAt is unknown."""
    adopted, _ = m.transition(
        m.hold(OCT, ["R1"]), m.Adopt("R1", uncounted=True, today=date(2026, 11, 30))
    )
    done = attrs.evolve(adopted, stage=m.Stage.DONE, reason="every package extracted")
    return m.plan_decision(done, OCT.start, OCT.end, today=date(2026, 12, 1)).note or ""


@pytest.mark.parametrize(
    ("team", "client", "same"),
    [
        (
            "team_connected",
            "`client.with_options(team='team_connected').downloads.bulk('2026-10-31', ",
            "on a client with team='team_connected', as this run's",
        ),
        (
            None,
            "`client.downloads.bulk('2026-10-31', ",
            "on a client with no team= set, as this run's (the API key's own team)",
        ),
    ],
)
async def test_the_python_part_call_runs_on_the_same_team(
    tmp_path: Path, team: str | None, client: str, same: str
) -> None:
    """Newcomer 9k #2: "with the other arguments of your bulk() call" sent a `with_options(
    team=)` user's one-day part to the key's home team (billed); the call printed now names the
    run's team, and the text says it must run on a client of that team."""
    note = _missing_days_note()
    assert "e.g. --team" in note  # the CLI's own wording
    async with GigstackClient("sk_test_x", base_url="http://127.0.0.1:9/v2") as base:
        owner = base if team is None else base.with_options(team=team)
        bulk = owner.downloads.bulk(
            "2026-10", "2026-10", rfc_type="received", download_to=tmp_path / "cfdi"
        )
        shown = bulk._rendered(MonthResult("2026-10", "R1", "completed", error=note))
    assert isinstance(shown, MonthResult)
    text = shown.error or ""
    assert client in text
    assert same in text
    assert "--team" not in text


# ------------------------------------------------------------------ #3: every not-ok hint


def test_a_missing_days_note_splits_into_what_happened_and_the_next_step() -> None:
    note = _missing_days_note()
    error, hint = next_step(note, "2026-10")
    assert error.startswith("MISSING DAYS: requested for 2026-10-01..2026-10-31 by request R1")
    assert error.endswith("are not in its download")
    assert hint.startswith("If gigstack's dashboard shows when that request was made")
    assert "journal split 2026-10" in hint
    assert f"{error}. {hint}" == note  # nothing lost, nothing said twice
    # Any other text stays whole; its next step is the month's record.
    error, hint = next_step("it broke. Odd", "2026-10")
    assert (error, hint.split("`")[1]) == ("it broke. Odd", "gigstack-async journal show 2026-10")


async def test_a_done_month_with_missing_days_carries_its_next_step_in_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Newcomer 9k #3: a done month whose adopted request's createdAt was never shown ended
    with its whole way forward in `error` and `hint` empty (the CLI summary had no `Next:`)."""
    async with world_of(short_history(1)) as (sandbox, client):
        cli = said_cli(sandbox, capsys)
        ran = asyncio.to_thread
        first = await month_results(client, tmp_path / "B", "2026-10", "2026-10")
        rid = first["2026-10"].request_id
        assert rid is not None
        await client.downloads.create_request(
            start_date="2026-09-01", end_date="2026-09-02", rfc_type="issued"
        )  # B's request leaves the 1-entry history: its createdAt is never shown to A
        out = tmp_path / "A"
        adopt = ("journal", "adopt", out, "2026-10", rid, "--rfc-type", "received", "--yes")
        assert (await ran(cli, *adopt))[0] == 0
        await month_results(client, out, "2026-10", "2026-10")  # stops: downloads uncounted
        assert (await ran(cli, "journal", "retry-download", out, "2026-10", "--yes"))[0] == 0
        creates = calls(sandbox, CREATE)
        done = (await month_results(client, out, "2026-10", "2026-10"))["2026-10"]
        assert done.stage == "done"
        assert not done.ok
        assert (done.error or "").startswith("MISSING DAYS")
        assert "--created-at" not in (done.error or "")  # the way forward is the hint's
        hint = done.hint or ""  # was: empty
        assert hint.startswith("If gigstack's dashboard shows when that request was made")
        assert f"journal adopt {out} 2026-10 {rid} --created-at" in hint
        assert calls(sandbox, CREATE) == creates
        # The CLI summary shows it as the month's next step.
        code, said = await ran(cli, *download_argv("2026-10", out))
        assert code != 0
        assert "Next: If gigstack's dashboard shows when that request was made" in said


# ------------------------------------------------------------------ #5: wording


async def test_a_lost_create_found_in_the_same_run_is_not_resumed_from_the_journal(
    tmp_path: Path,
) -> None:
    """Newcomer 9k #5: a first run whose create lost its answer, then found it in the history,
    printed "submitted …, resumed from the journal" (the journal had nothing before)."""
    faults = FaultConfig(after_502_rate=1.0, operations=frozenset({CREATE}))
    async with world_of(SandboxConfig(speed=3000, seed=5, faults=faults)) as (sandbox, client):
        events = await run(client, tmp_path / "cfdi", "2024-01", "2024-01")
        submitted = [e for e in events if isinstance(e, Submitted)]
        assert [e.resumed for e in submitted] == [False]  # was: True
        assert results(events)["2024-01"].ok
        assert calls(sandbox, CREATE) == 1


def _open_day_done(unproven: bool) -> m.MonthState:
    return attrs.evolve(
        OCT,
        stage=m.Stage.DONE,
        request_id="R1",
        known_ids=("R1",),
        package_ids=("P1",),
        extracted=(m.ExtractedPackage("P1", ("a.xml", "b.xml")),),
        invoice_count=6,
        open_day=OCT.end,
        open_day_unproven=unproven,
        reason="every package extracted",
    )


@pytest.mark.parametrize(("part", "count"), [(0, 6), (3, None), (None, None)])
def test_an_open_day_split_whose_part_is_empty_counts_its_own_request(
    part: int | None, count: int | None
) -> None:
    """Newcomer 9k #5: `CFDIs -` for a split month whose request reported 6 and whose part
    found none; a part with CFDIs may repeat the open day's, so that sum stays unknown."""
    split, _ = m.transition(_open_day_done(False), m.SplitElsewhere("P", invoice_count=part))
    assert (split.stage, split.invoice_count) == (m.Stage.SPLIT, count)


def test_an_open_day_split_says_an_unproven_day_only_may_have_been() -> None:
    """Newcomer 9k #5: after the split, `journal show` stated "requested … on 2026-10-31,
    before that day was over" as fact, for a request whose createdAt was never shown."""
    split, _ = m.transition(_open_day_done(True), m.SplitElsewhere("P", invoice_count=0))
    assert split.reason is not None
    assert "possibly on 2026-10-31 (its request's createdAt was never shown" in split.reason
    assert "before that day was over" not in split.reason
    proven, _ = m.transition(_open_day_done(False), m.SplitElsewhere("P", invoice_count=0))
    assert "on 2026-10-31, before that day was over" in (proven.reason or "")
