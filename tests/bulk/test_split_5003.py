"""Newcomer 9c #9: following the 5003 "split" advice left the month failing in the main folder.

SAT 5003 (too many CFDIs for one request): the hint said to run shorter ranges, each into its
own --out folder. Done so, the year folder still reported `2024-03 sat-failed`, every rerun
exited 1, and nothing said how to finish or merge. `journal split FOLDER MONTH PART...` checks
the parts' journals (same kind, the month finished in each, every day covered) and records the
month as `split`: runs of the folder end ok, `journal show` says where its CFDIs are, nothing
is sent, and the refused dates are never requested again.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import MonthResult
from gigstack_async.bulk.parts import recorded_path
from gigstack_async.bulk.repair import _uncovered, missing_now, record
from gigstack_async.bulk.store import JournalStore
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile
from tests.bulk._support import CREATE, FAST, JOURNAL, calls, keyed_cli, month_results, world_of

SPLIT = re.compile(r"`(gigstack-async journal split [^`]+)`")


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    profile = ServerProfile(sat_codes=(SatCodeRule(5003, month="2024-03", times=1),))
    async with world_of(SandboxConfig(speed=3000, seed=7, profile=profile)) as both:
        yield both


async def run(
    client: GigstackClient, out: Path, start: str = "2024-02", end: str = "2024-03"
) -> dict[str, MonthResult]:
    return await month_results(client, out, start, end)


def cli(*argv: object) -> int:
    return main([str(a) for a in argv])


@pytest.mark.parametrize(
    ("ranges", "gaps"),
    [
        ([(1, 15), (16, 31)], []),
        ([(16, 31), (1, 15)], []),
        ([(1, 15)], [(16, 31)]),
        ([(1, 10), (20, 31)], [(11, 19)]),
        ([(2, 31)], [(1, 1)]),
        ([(1, 20), (5, 31)], []),  # overlapping parts
        ([], [(1, 31)]),
    ],
)
def test_uncovered_days(ranges: list[tuple[int, int]], gaps: list[tuple[int, int]]) -> None:
    def day(n: int) -> date:
        return date(2024, 3, n)

    found = _uncovered(day(1), day(31), [(day(a), day(b)) for a, b in ranges])
    assert found == [(day(a), day(b)) for a, b in gaps]


async def test_a_5003_month_downloaded_in_parts_finishes_the_folder(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    # The part folders the hint names (newcomer 9e #4: it printed `<part folder>`).
    part_a, part_b = tmp_path / "cfdi-2024-03a", tmp_path / "cfdi-2024-03b"
    first = await run(client, out)
    assert first["2024-03"].stage == "sat-failed"
    hint = first["2024-03"].hint or ""
    printed = SPLIT.search(hint)
    assert printed is not None
    assert printed.group(1) == f"gigstack-async journal split {out} 2024-03 {part_a} {part_b}"
    # A Python caller is shown the bulk() calls that download the parts.
    assert (
        f"`client.downloads.bulk('2024-03-01', '2024-03-15', rfc_type='received', "
        f"download_to={str(part_a)!r})` and `client.downloads.bulk('2024-03-16', '2024-03-31', "
        f"rfc_type='received', download_to={str(part_b)!r})` (on a client with no team= set, as "
        "this run's (the API key's own team), with the other arguments of your bulk() call)"
    ) in hint

    # The advice: shorter ranges, each into its own folder (new dates: not held, not 5002).
    a = await run(client, part_a, "2024-03-01", "2024-03-15")
    b = await run(client, part_b, "2024-03-16", "2024-03-31")
    assert a["2024-03"].stage == b["2024-03"].stage == "done"
    assert len(a["2024-03"].files) + len(b["2024-03"].files) > 0

    # Before: the year folder failed for good (every rerun exit 1).
    assert not (await run(client, out))["2024-03"].ok

    # One part only: refused, with the days that are missing; nothing changed.
    capsys.readouterr()
    assert await asyncio.to_thread(cli, "journal", "split", out, "2024-03", part_a) == 2
    assert "2024-03-16..2024-03-31 missing" in capsys.readouterr().err
    # A month that is not SAT 5003 is refused too.
    assert await asyncio.to_thread(cli, "journal", "split", out, "2024-02", part_a, part_b) == 2
    assert "only a month SAT refused with 5003" in capsys.readouterr().err

    argv = shlex.split(printed.group(1))[1:]
    assert await asyncio.to_thread(cli, *argv) == 0
    said = capsys.readouterr().out
    assert "2024-03 is now split" in said
    assert f"{part_a.absolute() / '2024-03'} (2024-03-01..2024-03-15" in said
    assert "cp -n -R" in said

    creates = calls(sandbox, CREATE)
    again = await run(client, out)
    assert again["2024-03"].stage == "split"
    assert all(r.ok for r in again.values())  # every rerun of the year exits 0 now
    assert calls(sandbox, CREATE) == creates  # nothing sent, nothing billed

    capsys.readouterr()
    assert await asyncio.to_thread(cli, "journal", "show", out) == 0
    shown = capsys.readouterr().out
    assert "split" in shown
    assert "cfdi-2024-03b" in shown  # where its CFDIs are (the table may wrap the path)
    # The refused dates are never requested again: resend refuses a split month, even --force.
    code = await asyncio.to_thread(cli, "journal", "resend", out, "2024-03", "--force", "--yes")
    assert code == 2
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-03").stage.value == "split"


async def test_a_part_of_another_kind_or_unfinished_is_refused(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _sandbox, client = world
    out, issued = tmp_path / "cfdi", tmp_path / "issued"
    await run(client, out, "2024-03", "2024-03")
    bulk = client.downloads.bulk(
        "2024-03", "2024-03", rfc_type="issued", download_to=issued, poll=FAST
    )
    async with bulk:
        [event async for event in bulk]
    capsys.readouterr()
    assert await asyncio.to_thread(cli, "journal", "split", out, "2024-03", issued) == 2
    # Review 9f #5: the part's value first ("its journal has"), then this journal's.
    err = capsys.readouterr().err
    assert f"{issued} is not a part of this download" in err
    assert "its journal has rfc_type 'issued', this journal has 'received'" in err
    assert await asyncio.to_thread(cli, "journal", "split", out, "2024-03", out) == 2
    assert "is this journal" in capsys.readouterr().err
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-03").stage.value == "sat-failed"


@pytest.fixture
async def whole_month_5003() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    profile = ServerProfile(sat_codes=(SatCodeRule(5003, month="2024-03", whole_month=True),))
    async with world_of(SandboxConfig(speed=3000, seed=11, profile=profile)) as both:
        yield both


async def test_a_month_held_by_another_folders_5003_follows_the_split_advice_to_the_end(
    whole_month_5003: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Review 9f #3: folder A's March ends 5003; folder B's March is held with the split advice.
    # Was: `journal split B 2024-03 Ba Bb` refused "2024-03 is planned", and B stayed held.
    sandbox, client = whole_month_5003
    a, b, part_a, part_b = (tmp_path / n for n in ("A", "B", "B-2024-03a", "B-2024-03b"))
    assert (await run(client, a, "2024-03", "2024-03"))["2024-03"].stage == "sat-failed"
    held = (await run(client, b, "2024-03", "2024-03"))["2024-03"]
    assert held.stage == "held"
    printed = SPLIT.search(held.hint or "")
    assert printed is not None, held.hint
    assert printed.group(1) == f"gigstack-async journal split {b} 2024-03 {part_a} {part_b}"
    assert f"('2024-03-16', '2024-03-31', rfc_type='received', download_to={str(part_b)!r})`" in (
        held.hint or ""
    )

    assert (await run(client, part_a, "2024-03-01", "2024-03-15"))["2024-03"].stage == "done"
    assert (await run(client, part_b, "2024-03-16", "2024-03-31"))["2024-03"].stage == "done"
    creates = calls(sandbox, CREATE)

    capsys.readouterr()
    argv = shlex.split(printed.group(1))[1:]
    code = await asyncio.to_thread(keyed_cli, sandbox, *argv)
    assert code == 0, capsys.readouterr().err
    said = capsys.readouterr().out
    assert "2024-03 is now split" in said
    assert f"{part_b.absolute() / '2024-03'} (2024-03-16..2024-03-31" in said

    again = await run(client, b, "2024-03", "2024-03")
    assert again["2024-03"].stage == "split"
    assert again["2024-03"].ok
    assert calls(sandbox, CREATE) == creates  # nothing sent, nothing billed
    assert sandbox.state.billed_creates("2024-03") == 3  # A's refused one and the two parts
    with JournalStore.open_existing(b / JOURNAL) as store:
        reason = store.get("2024-03").reason or ""
    first = sandbox.state.calls_to(CREATE)[0].created
    assert f"request {first}: SAT 5003" in reason
    assert "which this journal did not send" in reason
    # The same split again: was recorded anew as "downloaded partly here, partly elsewhere"
    # (nothing is here; the request that held it no longer named).
    capsys.readouterr()
    assert await asyncio.to_thread(keyed_cli, sandbox, *argv) == 0
    assert "2024-03 is already split with these parts: nothing changed" in capsys.readouterr().out
    with JournalStore.open_existing(b / JOURNAL) as store:
        assert store.get("2024-03").reason == reason
    assert calls(sandbox, CREATE) == creates


async def test_a_planned_month_no_5003_refused_is_not_split(
    whole_month_5003: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The history is the evidence: a month merely planned here (nobody's 5003) is refused.
    sandbox, client = whole_month_5003
    out, part_a, part_b = tmp_path / "cfdi", tmp_path / "a", tmp_path / "b"
    await run(client, part_a, "2024-02-01", "2024-02-15")
    await run(client, part_b, "2024-02-16", "2024-02-29")
    bulk = client.downloads.bulk(
        "2024-02", "2024-02", rfc_type="received", download_to=out, poll=FAST, timeout=0.0001
    )
    async with bulk:
        [event async for event in bulk]  # the month is planned in the journal
    with JournalStore.open_existing(out / JOURNAL) as store:
        if store.get("2024-02").stage.value != "planned":
            pytest.skip("the run sent the month before its deadline")
    # No API key: the history cannot be read, and the message says why it is needed.
    monkeypatch.delenv("GIGSTACK_API_KEY", raising=False)
    capsys.readouterr()
    code = await asyncio.to_thread(cli, "journal", "split", out, "2024-02", part_a, part_b)
    assert code == 2
    assert "read from the download history, which needs an API key" in capsys.readouterr().err
    code = await asyncio.to_thread(
        keyed_cli, sandbox, "journal", "split", out, "2024-02", part_a, part_b
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "2024-02 is planned" in err
    assert "the history shows none for 2024-02-01..2024-02-29" in err


async def test_a_part_completed_without_its_files_is_refused(
    whole_month_5003: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Review 9f #4: the second half run with `journal=` and no download folder is `completed`
    # with 0 files. Was: the split was recorded and 16..31's CFDIs were on no disk.
    _sandbox, client = whole_month_5003
    out, part_a, journal_b = tmp_path / "A", tmp_path / "Aa", tmp_path / "b.sqlite3"
    assert (await run(client, out, "2024-03", "2024-03"))["2024-03"].stage == "sat-failed"
    assert (await run(client, part_a, "2024-03-01", "2024-03-15"))["2024-03"].stage == "done"
    bulk = client.downloads.bulk(
        "2024-03-16", "2024-03-31", rfc_type="received", journal=journal_b, poll=FAST
    )
    async with bulk:
        events = [event async for event in bulk]
    (result,) = [e for e in events if isinstance(e, MonthResult)]
    assert result.stage == "completed"
    assert result.ok  # a metadata-only run is fine by itself...
    capsys.readouterr()
    code = await asyncio.to_thread(cli, "journal", "split", out, "2024-03", part_a, journal_b)
    assert code == 2  # ...but holds none of the month's CFDIs
    err = capsys.readouterr().err
    assert f"2024-03 is completed in {journal_b} but its CFDIs were never downloaded" in err
    assert "Nothing changed." in err
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-03").stage.value == "sat-failed"


MARCH = m.MonthState(
    key="2024-03",
    start=date(2024, 3, 1),
    end=date(2024, 3, 31),
    rfc_type="received",
    request_type="cfdi",
)
REFUSED = "request X1: SAT 5003: Tope máximo"


@pytest.mark.parametrize(
    ("state", "refused", "split"),
    [
        (MARCH, REFUSED, True),  # held for another folder's 5003
        (MARCH, None, False),  # planned, nobody's 5003: not a split month
        # a create whose outcome is not settled: a request may be in flight
        (attrs.evolve(MARCH, resend_allowed=False), REFUSED, False),
        (attrs.evolve(MARCH, stage=m.Stage.SUBMITTED, request_id="R"), REFUSED, False),
        (attrs.evolve(MARCH, stage=m.Stage.SAT_FAILED, sat_code=5003), None, True),
        # SAT 5002 for this journal: its dates are never sent again, parts finish it too
        (attrs.evolve(MARCH, stage=m.Stage.SAT_FAILED, sat_code=5002), REFUSED, True),
        (attrs.evolve(MARCH, stage=m.Stage.SAT_FAILED, sat_code=5005), None, False),
    ],
    ids=["held-5003", "planned", "unsettled", "submitted", "own-5003", "own-5002", "own-5005"],
)
def test_which_months_may_be_split(state: m.MonthState, refused: str | None, split: bool) -> None:
    observation = m.SplitElsewhere("/parts", refused_elsewhere=refused)
    if not split:
        with pytest.raises(m.TransitionError, match="only a month SAT refused with 5003"):
            m.transition(state, observation)
        return
    new, commands = m.transition(state, observation)
    assert new.stage is m.Stage.SPLIT
    assert commands == ()
    assert "/parts" in (new.reason or "")
    assert (REFUSED in (new.reason or "")) is (state.stage is m.Stage.PLANNED)


# -- Review h1 #3: a part requested on its own last day (open day) ---------------------------

OCT_LAST, NOV_FIRST = date(2026, 10, 31), date(2026, 11, 1)


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> Callable[[date], None]:
    """Pins Mexico City's "today" for the client's plan, checks, run and hints."""
    import gigstack_async._validation as validation
    import gigstack_async.bulk.engine as engine
    import gigstack_async.bulk.plan as plan

    def pin(day: date) -> None:
        for module in (plan, validation, engine):
            monkeypatch.setattr(module, "today_mx", lambda now=None: day)

    return pin


@pytest.fixture
async def october_5003() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    profile = ServerProfile(sat_codes=(SatCodeRule(5003, month="2026-10", whole_month=True),))
    async with world_of(SandboxConfig(speed=3000, seed=3, profile=profile)) as both:
        yield both


async def _october_in_parts_on_its_last_day(
    client: GigstackClient, out: Path, part_a: Path, part_b: Path
) -> None:
    """October refused with 5003 on 10-31, its halves run as printed that same day: the second
    half (10-16..10-31) is requested on its own last day, before that day was over."""
    assert (await run(client, out, "2026-10", "2026-10"))["2026-10"].stage == "sat-failed"
    assert (await run(client, part_a, "2026-10-01", "2026-10-15"))["2026-10"].ok
    b = (await run(client, part_b, "2026-10-16", "2026-10-31"))["2026-10"]
    assert b.ok
    assert b.open_day == OCT_LAST


async def test_a_part_requested_on_its_own_last_day_is_not_split_until_it_is_complete(
    october_5003: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    today: Callable[[date], None],
) -> None:
    """Was: `journal split` took the part requested on 10-31 before that day was over, and the
    month was `split`, ok for good, without the CFDIs stamped later on 10-31. Now the split is
    refused naming the part and the day, until that part is complete (its own MISSING DAYS
    route); then it is taken, and the month ends ok."""
    sandbox, client = october_5003
    out, part_a, part_b = tmp_path / "A", tmp_path / "A-2026-10a", tmp_path / "A-2026-10b"
    today(OCT_LAST)
    await _october_in_parts_on_its_last_day(client, out, part_a, part_b)
    argv = ("journal", "split", out, "2026-10", part_a, part_b)
    for day in (OCT_LAST, NOV_FIRST):  # on that day, and once it is over
        today(day)
        capsys.readouterr()
        assert await asyncio.to_thread(cli, *argv) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert f"2026-10 in {part_b} was requested on 2026-10-31, before that day was over" in err
        assert f"Run that part's `sat download` again (`--out {part_b}`) once 2026-10-31" in err
        assert "MISSING DAYS, with the way to request them" in err
        assert "Nothing changed." in err
        with JournalStore.open_readonly(out / JOURNAL) as store:
            assert store.get("2026-10").stage is m.Stage.SAT_FAILED
    # The part's own run, the next day, says MISSING DAYS and how to get them: done so.
    b = (await run(client, part_b, "2026-10-16", "2026-10-31"))["2026-10"]
    assert not b.ok
    assert (b.error or "").startswith("MISSING DAYS")
    day_folder = Path(f"{part_b}-2026-10a")
    assert f"download_to='{day_folder}'" in (b.hint or "")
    assert f"journal split {part_b} 2026-10 {day_folder}`" in (b.hint or "")
    assert (await run(client, day_folder, "2026-10-31", "2026-10-31"))["2026-10"].ok
    assert await asyncio.to_thread(cli, "journal", "split", part_b, "2026-10", day_folder) == 0
    # The part is complete now: the month's split takes it, and its runs end ok.
    capsys.readouterr()
    assert await asyncio.to_thread(cli, *argv) == 0
    assert "2026-10 is now split" in capsys.readouterr().out
    creates = calls(sandbox, CREATE)
    again = (await run(client, out, "2026-10", "2026-10"))["2026-10"]
    assert again.stage == "split"
    assert again.ok
    assert again.open_day is None  # its parts hold that day: no "run again tomorrow"
    assert calls(sandbox, CREATE) == creates


async def test_a_split_recorded_with_an_open_day_part_is_not_reported_ok(
    october_5003: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    today: Callable[[date], None],
) -> None:
    """A journal written before the fix recorded October split with a part requested on its
    own last day: was `split`, 1 ok, on that day and every later one, while the part's own run
    said MISSING DAYS. Now each run checks that part: MISSING DAYS, naming it and the day, with
    the part's way; nothing is sent. Once the part is complete, the month is ok."""
    sandbox, client = october_5003
    out, part_a, part_b = tmp_path / "A", tmp_path / "A-2026-10a", tmp_path / "A-2026-10b"
    today(OCT_LAST)
    await _october_in_parts_on_its_last_day(client, out, part_a, part_b)
    with JournalStore.open_existing(out / JOURNAL) as store:  # as the old `journal split` did
        state = store.get("2026-10")
        parts = tuple(recorded_path(p / JOURNAL, store.path) for p in (part_a, part_b))
        split, _ = m.transition(state, m.SplitElsewhere(f"{part_a}, {part_b}", parts=parts))
        record(store, split, ())
    creates = calls(sandbox, CREATE)
    for day in (OCT_LAST, NOV_FIRST):
        today(day)
        month = (await run(client, out, "2026-10", "2026-10"))["2026-10"]
        assert not month.ok
        error = month.error or ""
        assert error.startswith("MISSING DAYS: downloaded in parts elsewhere, but")
        assert f"2026-10 in the part folder {part_b} was requested on 2026-10-31" in error
        assert f"run that part's `sat download` again (`--out {part_b}`)" in (month.hint or "")
        with JournalStore.open_readonly(out / JOURNAL) as store:
            shown = missing_now(store, "2026-10")  # `journal show` says the same
            assert shown.stage is m.Stage.NEEDS_ATTENTION
            assert store.get("2026-10").stage is m.Stage.SPLIT  # the split stays recorded
    assert calls(sandbox, CREATE) == creates  # nothing sent, nothing billed
    # The part's MISSING DAYS route, then the month's run: ok.
    day_folder = Path(f"{part_b}-2026-10a")
    assert (await run(client, day_folder, "2026-10-31", "2026-10-31"))["2026-10"].ok
    assert await asyncio.to_thread(cli, "journal", "split", part_b, "2026-10", day_folder) == 0
    assert (await run(client, out, "2026-10", "2026-10"))["2026-10"].ok
