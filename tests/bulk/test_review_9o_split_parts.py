"""Review 9o #1-#4: what the split-parts check (review 9n #5) still let through.

#1 a split month's own days (kept in its own folder, `split_own`) were never checked: `rm -rf
   A/2024-08` still ended "split, 34 invoices". #2 a part split itself was checked one level
   only (its own `files` are none). #3 whatever journal sat at a part's path passed: a part
   folder deleted and reused for issued CFDIs, or for fewer days. #4 moving the whole tree
   (the folder and its parts) said "part folder is gone", never printed the free `journal
   split` with the parts' new paths, and printed the way once per part.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile
from tests.bulk._support import CREATE, JOURNAL, calls, keyed_cli, month_results, world_of
from tests.bulk.test_review_9n_split_parts import cli, run, split_month


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    profile = ServerProfile(sat_codes=(SatCodeRule(5003, month="2024-03", times=1),))
    async with world_of(SandboxConfig(speed=3000, seed=7, profile=profile)) as both:
        yield both


@pytest.fixture
async def world_5002() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    profile = ServerProfile(sat_codes=(SatCodeRule(5002, month="2024-08", whole_month=True),))
    async with world_of(SandboxConfig(speed=3000, seed=5, profile=profile)) as both:
        yield both


@pytest.fixture
async def world_nested() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    # The month refused, and then its first half too: that half is split again.
    profile = ServerProfile(sat_codes=(SatCodeRule(5003, month="2024-03", times=2),))
    async with world_of(SandboxConfig(speed=3000, seed=7, profile=profile)) as both:
        yield both


async def test_a_split_months_own_days_lost_from_its_folder_are_missing_files(
    world_5002: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, client = world_5002
    out, part = tmp_path / "A", tmp_path / "B"
    assert (await run(client, out, "2024-08-15", "2024-08-31"))["2024-08"].ok
    assert (await run(client, out, "2024-08", "2024-08"))["2024-08"].error  # MISSING DAYS
    resend = ("journal", "resend", out, "2024-08", "--force", "--yes")
    assert await asyncio.to_thread(keyed_cli, sandbox, *resend) == 0
    assert (await run(client, out, "2024-08", "2024-08"))["2024-08"].stage == "sat-failed"  # 5002
    assert (await run(client, part, "2024-08-01", "2024-08-14"))["2024-08"].ok
    assert await asyncio.to_thread(cli, "journal", "split", out, "2024-08", part) == 0
    assert (await run(client, out, "2024-08", "2024-08"))["2024-08"].stage == "split"
    own = sorted((out / "2024-08").glob("*.xml"))
    assert own
    creates = calls(sandbox, CREATE)

    # Three of its own CFDIs cut short: was "split", ok.
    for cut in own[:3]:
        cut.write_bytes(cut.read_bytes()[:100])
    result = (await run(client, out, "2024-08", "2024-08"))["2024-08"]
    assert not result.ok
    assert (result.error or "").startswith(f"{m.MISSING_FILES}: ")
    assert f"no longer holds 3 of the {len(own)} file(s)" in (result.error or "")
    assert "2024-08-15..2024-08-31" in (result.error or "")

    # Its own folder gone: said by the run and by `journal show`, before any run.
    shutil.rmtree(out / "2024-08")
    result = (await run(client, out, "2024-08", "2024-08"))["2024-08"]
    assert not result.ok
    assert f"own part of 2024-08 ({out.absolute() / '2024-08'}) is gone" in (result.error or "")
    assert f"{len(own)} file(s)" in (result.error or "")
    capsys.readouterr()
    assert await asyncio.to_thread(cli, "journal", "show", out, "2024-08") == 0
    shown = capsys.readouterr().out
    assert "MISSING FILES" in shown
    assert "is gone" in shown

    # The printed way: those days again into a new folder, split with it (--force: the own
    # files are gone). Complete again; the split's own check then counts the new folder.
    hint = result.hint or ""
    assert "possibly billed" in hint
    assert "journal split" in hint
    assert "--force" in hint
    again = tmp_path / "C"
    # The same days as this folder's request (held as identical without it).
    assert "download_to='<new folder>', allow_duplicates=True)`" in hint
    new = await month_results(client, again, "2024-08-15", "2024-08-31", allow_duplicates=True)
    assert new["2024-08"].ok
    split = ("journal", "split", out, "2024-08", again, part, "--force")
    assert await asyncio.to_thread(cli, *split) == 0
    final = (await run(client, out, "2024-08", "2024-08"))["2024-08"]
    assert final.ok, final.error
    assert calls(sandbox, CREATE) == creates + 1  # only the new folder's request


async def test_a_part_split_again_is_checked_through_its_own_parts(
    world_nested: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    _sandbox, client = world_nested
    out, part_a, part_b = tmp_path / "cfdi", tmp_path / "cfdi-a", tmp_path / "cfdi-b"
    inner_a, inner_b = tmp_path / "cfdi-a-1", tmp_path / "cfdi-a-2"
    assert (await run(client, out))["2024-03"].stage == "sat-failed"
    assert (await run(client, part_a, "2024-03-01", "2024-03-15"))["2024-03"].stage == "sat-failed"
    assert (await run(client, inner_a, "2024-03-01", "2024-03-07"))["2024-03"].ok
    assert (await run(client, inner_b, "2024-03-08", "2024-03-15"))["2024-03"].ok
    code = await asyncio.to_thread(cli, "journal", "split", part_a, "2024-03", inner_a, inner_b)
    assert code == 0
    assert (await run(client, part_b, "2024-03-16", "2024-03-31"))["2024-03"].ok
    assert await asyncio.to_thread(cli, "journal", "split", out, "2024-03", part_a, part_b) == 0
    assert (await run(client, out))["2024-03"].ok

    # A part of the part loses its month folder: was "split", ok, for the first folder.
    shutil.rmtree(inner_a / "2024-03")
    result = (await run(client, out))["2024-03"]
    assert not result.ok
    error = result.error or ""
    assert f"the part folder {part_a.absolute()}, itself split" in error
    assert f"{inner_a.absolute() / '2024-03'} is gone" in error
    assert f"journal retry-download {inner_a.absolute()} 2024-03" in (result.hint or "")


async def test_a_part_folder_reused_for_another_download_is_not_a_part(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out, part_a, _ = await split_month(sandbox, client, tmp_path)
    keep = tmp_path / "keep-a"
    shutil.copytree(part_a, keep)

    # Deleted and reused for issued CFDIs of the same days: its journal is another kind.
    shutil.rmtree(part_a)
    issued = await month_results(client, part_a, "2024-03-01", "2024-03-15", rfc_type="issued")
    assert issued["2024-03"].ok
    result = (await run(client, out))["2024-03"]
    assert not result.ok
    assert f"the part folder {part_a.absolute()} is no longer a part of this download" in (
        result.error or ""
    )
    assert "rfc_type 'issued'" in (result.error or "")

    # Reused for fewer days: the parts no longer cover the month.
    shutil.rmtree(part_a)
    assert (await run(client, part_a, "2024-03-01", "2024-03-05"))["2024-03"].ok
    result = (await run(client, out))["2024-03"]
    assert not result.ok
    assert "the parts no longer cover 2024-03's days 2024-03-06..2024-03-15" in (result.error or "")

    # The part put back: complete again, nothing sent for it.
    shutil.rmtree(part_a)
    shutil.copytree(keep, part_a)
    assert (await run(client, out))["2024-03"].ok


async def test_a_moved_tree_stays_split_and_an_old_absolute_record_names_the_free_split(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
) -> None:
    sandbox, client = world
    tree = tmp_path / "tree"
    tree.mkdir()
    out, part_a, part_b = await split_month(sandbox, client, tree)
    creates = calls(sandbox, CREATE)

    # Recorded relative to the journal's folder: the whole tree moved, still complete.
    moved = tmp_path / "moved"
    tree.rename(moved)
    out, part_a, part_b = (moved / p.name for p in (out, part_a, part_b))
    assert (await run(client, out))["2024-03"].ok

    # A journal written before recorded absolute paths: the tree moved back leaves them
    # pointing at the old place. The free way is printed first, and once.
    with JournalStore.open_existing(out / JOURNAL) as store:
        state = store.get("2024-03")
        old = tuple(str(tmp_path / "gone-tree" / p.name / JOURNAL) for p in (part_a, part_b))
        store.put(attrs.evolve(state, split_parts=old))
    result = (await run(client, out))["2024-03"]
    assert not result.ok
    hint = result.hint or ""
    free = (
        f"`gigstack-async journal split {out.absolute()} 2024-03 <new path of {part_a.name}> "
        f"<new path of {part_b.name}>`"
    )
    assert hint.startswith(f"if a part folder (or this one) was moved or renamed, {free}")
    assert hint.count("moved or renamed") == 1
    assert hint.count("put the part folder back") == 1
    code = await asyncio.to_thread(cli, "journal", "split", out, "2024-03", part_a, part_b)
    assert code == 0
    assert (await run(client, out))["2024-03"].ok
    assert calls(sandbox, CREATE) == creates  # nothing requested again


async def test_parts_that_lead_back_to_the_month_are_named_not_read_forever(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out, part_a, _ = await split_month(sandbox, client, tmp_path)
    # A part whose month is recorded split with this folder as its part: a cycle.
    with JournalStore.open_existing(part_a / JOURNAL) as store:
        state = store.get("2024-03")
        back = (str((out / JOURNAL).absolute()),)
        store.put(attrs.evolve(state, stage=m.Stage.SPLIT, split_parts=back))
    result = (await run(client, out))["2024-03"]
    assert not result.ok
    assert "lead back to this download" in (result.error or "")
