"""Review 9h #1 (c5_split_own.py intoA): after SAT 5002, the days the month's folder already
holds (its own part) are never asked for, or billed, again.

August was done for 08-15..08-31 only (MISSING DAYS); `journal resend --force` asked for the
whole month and SAT refused it with 5002. The second resend's refusal said "run `sat download`
with other dates" and named no folder, so the user ran 08-01..08-14 into the month's own
folder. The next full run forgot 08-15..08-31 (22 files on disk) and its MISSING DAYS hint
asked for them again: billed twice. Now the month keeps its own part through the re-plan, the
full run finds every day in its folder and ends ok, a re-plan of days the folder holds sends
nothing, and the resend refusal names another --out folder.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import MonthResult
from gigstack_async.bulk.store import JournalStore
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile
from tests.bulk._support import JOURNAL, month_results, world_of
from tests.bulk._support import keyed_cli as cli


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    # history_limit=1: the duplicate guard cannot see the earlier 08-15..31 request, so only the
    # journal stands between the hint and a second create for it (the review's HL=1).
    rule = SatCodeRule(5002, month="2024-08", whole_month=True)
    config = SandboxConfig(
        speed=3000, seed=5, profile=ServerProfile(sat_codes=(rule,)), history_limit=1
    )
    async with world_of(config) as both:
        yield both


async def run(client: GigstackClient, out: Path, start: str, end: str) -> dict[str, MonthResult]:
    return await month_results(client, out, start, end)


def august_creates(sandbox: Sandbox) -> list[str]:
    return [
        c.criteria or ""
        for c in sandbox.state.calls_to("createDownloadRequest")
        if "2024-08-" in (c.criteria or "")
    ]


async def refused_with_own_part(sandbox: Sandbox, client: GigstackClient, out: Path) -> list[str]:
    """b7's flow up to the 5002: August done for 08-15..31, resent for the whole month,
    refused. Returns the names of the files August holds."""
    assert (await run(client, out, "2024-08-15", "2024-09-15"))["2024-08"].ok
    own = sorted(p.name for p in (out / "2024-08").iterdir())
    assert "MISSING DAYS" in ((await run(client, out, "2024-08", "2024-09"))["2024-08"].error or "")
    resend = ("journal", "resend", out, "2024-08", "--force", "--yes")
    assert await asyncio.to_thread(cli, sandbox, *resend) == 0
    refused = (await run(client, out, "2024-08", "2024-09"))["2024-08"]
    assert refused.stage == "sat-failed"
    assert "5002" in (refused.error or "")
    return own


async def test_missing_days_downloaded_into_the_own_folder_complete_the_month(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, client = world
    out = tmp_path / "A"
    own = await refused_with_own_part(sandbox, client, out)

    # The second resend is refused, and the refusal names the way: another --out folder.
    capsys.readouterr()
    resend = ("journal", "resend", out, "2024-08", "--force", "--yes")
    assert await asyncio.to_thread(cli, sandbox, *resend) == 2
    err = capsys.readouterr().err
    assert f"already holds 2024-08-15..2024-08-31 ({len(own)} file(s)" in err
    assert f"--from 2024-08-01 --to 2024-08-14 --rfc-type received --out {out}-2024-08a" in err
    assert f"journal split {out} 2024-08 {out}-2024-08a" in err

    # What the user did anyway: the missing days into the month's own folder (accepted).
    part = (await run(client, out, "2024-08-01", "2024-08-14"))["2024-08"]
    assert part.ok
    held = sorted(p.name for p in (out / "2024-08").iterdir())
    assert set(own) < set(held)

    # Before: MISSING DAYS asking for 08-15..31 again (billed twice). Now: complete, ok.
    full = (await run(client, out, "2024-08", "2024-09"))["2024-08"]
    assert (full.stage, full.ok, full.error) == ("split", True, None)
    assert sorted(p.name for p in full.files) == held
    again = (await run(client, out, "2024-08", "2024-08"))["2024-08"]
    assert (again.stage, again.ok) == ("split", True)
    assert august_creates(sandbox) == [
        "received cfdi 2024-08-15..2024-08-31",
        "received cfdi 2024-08-01..2024-08-31",  # refused: 5002
        "received cfdi 2024-08-01..2024-08-14",
    ]
    with JournalStore.open_existing(out / JOURNAL) as store:
        august = store.get("2024-08")
    assert (august.start, august.end) == (date(2024, 8, 1), date(2024, 8, 31))
    assert "2024-08-15..2024-08-31 here by an earlier request" in (august.reason or "")


async def test_a_replan_asking_again_for_days_the_folder_holds_sends_nothing(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out = tmp_path / "A"
    own = await refused_with_own_part(sandbox, client, out)
    sent = august_creates(sandbox)

    overlapping = (await run(client, out, "2024-08-10", "2024-08-20"))["2024-08"]
    assert (overlapping.stage, overlapping.ok) == ("sat-failed", False)
    assert "asks again for 2024-08-15..2024-08-20" in (overlapping.error or "")
    assert "missing here: 2024-08-01..2024-08-14" in (overlapping.hint or "")
    assert august_creates(sandbox) == sent  # nothing billed twice
    assert sorted(p.name for p in (out / "2024-08").iterdir()) == own

    # The days the hint names are still accepted here (they hold no CFDI of the own part).
    assert (await run(client, out, "2024-08-01", "2024-08-14"))["2024-08"].ok
    assert (await run(client, out, "2024-08", "2024-08"))["2024-08"].ok


# ------------------------------------------------------------------ the pure machine

AUG = (date(2024, 8, 1), date(2024, 8, 31))
LATE = (date(2024, 8, 15), date(2024, 8, 31))
OWN = m.OwnPart(*LATE, ("a.xml", "b.xml"))
REFUSED = attrs.evolve(
    m.MonthState(key="2024-08", start=AUG[0], end=AUG[1], rfc_type="received", request_type="cfdi"),
    stage=m.Stage.SAT_FAILED,
    sat_code=5002,
    exhausted=(AUG,),
    own_part=OWN,
    creates=2,
)


def test_a_replan_after_5002_keeps_the_own_part() -> None:
    planned = m.replanned(REFUSED, date(2024, 8, 1), date(2024, 8, 14))
    assert (planned.stage, planned.own_part) == (m.Stage.PLANNED, OWN)
    done = attrs.evolve(
        planned,
        stage=m.Stage.DONE,
        request_id="B",
        extracted=(m.ExtractedPackage("p", ("c.xml",)),),
    )
    assert m.missing_days(done, *AUG) == ""
    assert m.missing_days_way(done, *AUG).startswith("nothing is missing here")
    complete = m.own_part_completes(done, *AUG)
    assert complete is not None
    assert (complete.stage, complete.start, complete.end, complete.ok) == (
        m.Stage.SPLIT,
        *AUG,
        True,
    )
    assert sorted(complete.files) == ["a.xml", "b.xml", "c.xml"]


def test_a_replan_that_misses_days_names_only_those() -> None:
    done = attrs.evolve(
        m.replanned(REFUSED, date(2024, 8, 1), date(2024, 8, 9)),
        stage=m.Stage.DONE,
        request_id="B",
    )
    assert m.own_part_completes(done, *AUG) is None
    assert m.missing_days(done, *AUG) == "2024-08-10..2024-08-14"
    assert (
        "--from 2024-08-10 --to 2024-08-14 --rfc-type received --out <out>-2024-08a"
        in m.missing_days_way(done, *AUG)
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [(8, 15), (1, 31), (15, 31), (20, 25), (31, 31)],
)
def test_a_replan_of_days_the_own_part_holds_is_not_planned(start: int, end: int) -> None:
    held = m.replanned(REFUSED, date(2024, 8, start), date(2024, 8, end))
    assert (held.stage, held.start, held.end, held.creates) == (m.Stage.SAT_FAILED, *AUG, 2)
    assert "nothing was sent" in (held.reason or "")
    assert "missing here: 2024-08-01..2024-08-14" in (held.hint or "")


# ------------------------------------------------------------------ review 9h #4: split checks disk


async def split_after_5002(
    sandbox: Sandbox, client: GigstackClient, tmp_path: Path
) -> tuple[Path, Path, list[str]]:
    """A refused with 5002 holding 08-15..31 (its own part), B done for 08-01..14."""
    out, part = tmp_path / "A", tmp_path / "B"
    own = await refused_with_own_part(sandbox, client, out)
    assert (await run(client, part, "2024-08-01", "2024-08-14"))["2024-08"].ok
    return out, part, own


async def test_split_names_the_own_part_and_checks_its_files(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, client = world
    out, part, own = await split_after_5002(sandbox, client, tmp_path)
    capsys.readouterr()
    assert await asyncio.to_thread(cli, sandbox, "journal", "split", out, "2024-08", part) == 0
    said = capsys.readouterr().out
    # Before: only B was listed; the user was never told A/2024-08 must keep its files.
    assert (
        f"{out.absolute()}/2024-08 (2024-08-15..2024-08-31, {len(own)} file(s), this folder's "
        "own request)"
    ) in said
    assert f"{part.absolute()}/2024-08 (2024-08-01..2024-08-14, " in said
    assert f"Keep the files in {out}/2024-08" in said
    assert f"cp -n -R {part.absolute()}/2024-08/." in said  # the copy names only the other part


@pytest.mark.parametrize("tamper", ["own gone", "own half", "own swapped", "part gone"])
async def test_split_refuses_a_folder_that_no_longer_holds_its_files(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: str,
) -> None:
    sandbox, client = world
    out, part, own = await split_after_5002(sandbox, client, tmp_path)
    mine, theirs = out / "2024-08", part / "2024-08"
    if tamper == "part gone":
        for f in theirs.iterdir():
            f.unlink()
    else:
        for name in own if tamper != "own half" else own[: len(own) // 2]:
            (mine / name).unlink()
    if tamper == "own swapped":  # as many files, but September's CFDIs
        for f in (out / "2024-09").iterdir():
            (mine / f.name).write_bytes(f.read_bytes())
    capsys.readouterr()
    split = ("journal", "split", out, "2024-08", part)
    assert await asyncio.to_thread(cli, sandbox, *split) == 2
    err = capsys.readouterr().err
    folder = theirs if tamper == "part gone" else mine
    assert f"{folder.absolute()} no longer holds" in err
    assert ("this folder's own request" in err) is (tamper != "part gone")
    assert "Nothing changed" in err
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-08").stage is m.Stage.SAT_FAILED  # before: split, runs "ok"
    assert await asyncio.to_thread(cli, sandbox, *split, "--force") == 0
    assert "missing there: --force" in capsys.readouterr().out
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-08").stage is m.Stage.SPLIT


async def test_split_of_a_replan_counts_the_own_part_and_its_files(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Review 9h #1, partly: A re-planned for 08-01..09 after the 5002 (own part 08-15..31 kept);
    # only 08-10..14 is missing, and a part with just those days completes the month.
    sandbox, client = world
    out, rest = tmp_path / "A", tmp_path / "C"
    own = await refused_with_own_part(sandbox, client, out)
    assert (await run(client, out, "2024-08-01", "2024-08-09"))["2024-08"].ok
    full = (await run(client, out, "2024-08", "2024-08"))["2024-08"]
    assert (full.error or "").endswith("missing here: 2024-08-10..2024-08-14")
    # bulk()'s texts in bulk() terms (newcomer 9f #3), into a sibling of its folder; the way
    # is the hint's (newcomer 9k #3).
    assert (
        "`client.downloads.bulk('2024-08-10', '2024-08-14', rfc_type='received', "
        f"download_to='{out}-2024-08a')`"
    ) in (full.hint or "")
    assert (await run(client, rest, "2024-08-10", "2024-08-14"))["2024-08"].ok
    capsys.readouterr()
    assert await asyncio.to_thread(cli, sandbox, "journal", "split", out, "2024-08", rest) == 0
    said = capsys.readouterr().out
    assert f"(2024-08-15..2024-08-31, {len(own)} file(s), this folder's own request)" in said
    assert "(2024-08-01..2024-08-09, " in said
    done = (await run(client, out, "2024-08", "2024-08"))["2024-08"]
    assert (done.stage, done.ok) == ("split", True)
    assert {p.name for p in done.files} == {p.name for p in (out / "2024-08").iterdir()}
    assert august_creates(sandbox) == [
        "received cfdi 2024-08-15..2024-08-31",
        "received cfdi 2024-08-01..2024-08-31",
        "received cfdi 2024-08-01..2024-08-09",
        "received cfdi 2024-08-10..2024-08-14",
    ]

    # The same split command again (a script run twice): was refused, "the parts do not cover
    # 2024-08's dates 2024-08-01..2024-08-31: 2024-08-01..2024-08-09, 2024-08-15..2024-08-31
    # missing" (the split record had forgotten the days its own folder holds).
    with JournalStore.open_existing(out / JOURNAL) as store:
        recorded = store.get("2024-08")
    capsys.readouterr()
    assert await asyncio.to_thread(cli, sandbox, "journal", "split", out, "2024-08", rest) == 0
    said = capsys.readouterr().out
    assert "2024-08 is already split with these parts: nothing changed, nothing was sent" in said
    assert f"(2024-08-15..2024-08-31, {len(own)} file(s), this folder's own request)" in said
    assert "(2024-08-01..2024-08-09, " in said
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-08") == recorded
        assert [(p.start, p.end) for p in recorded.split_own] == [
            (date(2024, 8, 15), date(2024, 8, 31)),
            (date(2024, 8, 1), date(2024, 8, 9)),
        ]
    # Another split that misses days is refused as before, naming only the days nothing holds.
    fewer = tmp_path / "D"
    assert (await run(client, fewer, "2024-08-10", "2024-08-12"))["2024-08"].ok
    capsys.readouterr()
    assert await asyncio.to_thread(cli, sandbox, "journal", "split", out, "2024-08", fewer) == 2
    assert "2024-08-13..2024-08-14 missing" in capsys.readouterr().err
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-08") == recorded
