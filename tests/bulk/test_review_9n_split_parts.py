"""Review 9n #5: a split month whose part folder lost its files was still reported complete.

After `journal split` recorded a month as downloaded in part folders, `rm -rf <part>/2024-03`
went unnoticed by the original folder: its run ended ok ("split, 34 invoices") and `journal
show` said the CFDIs were in a folder that no longer existed; only the part's own journal said
MISSING FILES. Now each run, `journal show` and `bulk()` read every part's journal (read-only:
no lock, nothing written) and check its folder holds the files it records (`content.lost_files`,
as for a done month): a part that lost some, whose folder or journal is gone, or whose journal
cannot be read leaves the month MISSING FILES (not ok), naming the part folder and its own
`journal retry-download` route. The split stays recorded: once the part is whole again, the
month is complete again, with nothing sent.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import MonthResult
from gigstack_async.bulk.parts import part_troubles
from gigstack_async.bulk.store import JournalStore
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile
from tests.bulk._support import CREATE, JOURNAL, PACKAGE, calls, keyed_cli, month_results, world_of

RETRY = re.compile(r"`(gigstack-async journal retry-download [^`]+)`")


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    profile = ServerProfile(sat_codes=(SatCodeRule(5003, month="2024-03", times=1),))
    async with world_of(SandboxConfig(speed=3000, seed=7, profile=profile)) as both:
        yield both


async def run(
    client: GigstackClient, out: Path, start: str = "2024-03", end: str = "2024-03"
) -> dict[str, MonthResult]:
    return await month_results(client, out, start, end)


def cli(*argv: object) -> int:
    return main([str(a) for a in argv])


async def split_month(
    sandbox: Sandbox, client: GigstackClient, tmp_path: Path
) -> tuple[Path, Path, Path]:
    """2024-03 refused with SAT 5003 in `cfdi`, downloaded in two halves and split there."""
    out, part_a, part_b = tmp_path / "cfdi", tmp_path / "cfdi-2024-03a", tmp_path / "cfdi-2024-03b"
    assert (await run(client, out))["2024-03"].stage == "sat-failed"
    assert (await run(client, part_a, "2024-03-01", "2024-03-15"))["2024-03"].ok
    assert (await run(client, part_b, "2024-03-16", "2024-03-31"))["2024-03"].ok
    code = await asyncio.to_thread(cli, "journal", "split", out, "2024-03", part_a, part_b)
    assert code == 0
    assert (await run(client, out))["2024-03"].stage == "split"
    return out, part_a, part_b


async def test_a_part_folder_that_lost_its_files_is_not_reported_complete(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, client = world
    out, part_a, part_b = await split_month(sandbox, client, tmp_path)
    journal_a = part_a / JOURNAL
    before = journal_a.read_bytes()
    files_a = len(list((part_a / "2024-03").glob("*.xml")))
    assert files_a > 0
    shutil.rmtree(part_a / "2024-03")
    creates = calls(sandbox, CREATE)

    # Was: "split", ok (the CLI: rc 0), with the CFDIs "in" a folder that is gone.
    result = (await run(client, out))["2024-03"]
    assert not result.ok
    assert result.stage == "needs-attention"
    error = result.error or ""
    assert error.startswith(f"{m.MISSING_FILES}: ")
    assert f"{part_a.absolute() / '2024-03'} is gone" in error
    assert f"{files_a} file(s)" in error
    assert str(part_b) not in error  # the whole part is named, not the other one
    hint = result.hint or ""
    printed = RETRY.search(hint)
    assert printed is not None
    assert printed.group(1) == f"gigstack-async journal retry-download {part_a.absolute()} 2024-03"
    assert f"--out {part_a.absolute()}" in hint

    # Read-only: the part's journal is not written; the split stays recorded.
    assert journal_a.read_bytes() == before
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2024-03").stage is m.Stage.SPLIT

    # The CLI: not ok, and `journal show` says the same, before any run.
    capsys.readouterr()
    assert await asyncio.to_thread(keyed_cli, sandbox, "sat", "download", "--from", "2024-03",
                                   "--to", "2024-03", "--rfc-type", "received", "--out", out,
                                   "--poll-interval", "0.02", "--yes") == 1  # fmt: skip
    said = capsys.readouterr()
    assert "Traceback" not in said.out + said.err
    assert "MISSING FILES" in said.out
    assert f"journal retry-download {part_a.absolute()} 2024-03" in said.out
    assert await asyncio.to_thread(cli, "journal", "show", out, "2024-03") == 0
    shown = capsys.readouterr().out
    assert "needs-attention" in shown
    assert "MISSING FILES" in shown

    # The printed route: the part's own retry-download, the part's run, then this one.
    assert await asyncio.to_thread(cli, *shlex.split(printed.group(1))[1:], "--yes") == 0
    # Allowed but not downloaded yet: the part's month is no longer finished, and says so.
    waiting = (await run(client, out))["2024-03"]
    assert not waiting.ok
    assert f"2024-03 is completed in the part folder {part_a.absolute()}" in (waiting.error or "")
    assert f"--out {part_a.absolute()}" in (waiting.hint or "")
    packages = calls(sandbox, PACKAGE)
    assert (await run(client, part_a, "2024-03-01", "2024-03-15"))["2024-03"].ok
    assert calls(sandbox, PACKAGE) == packages + 1  # one GET of the part's package, again
    assert len(list((part_a / "2024-03").glob("*.xml"))) == files_a
    again = (await run(client, out))["2024-03"]
    assert again.ok
    assert again.stage == "split"
    assert calls(sandbox, CREATE) == creates  # nothing requested again, nothing billed


async def test_a_part_missing_some_files_or_gone_or_unreadable_is_named(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, client = world
    out, part_a, part_b = await split_month(sandbox, client, tmp_path)
    held = sorted((part_b / "2024-03").glob("*.xml"))
    held[0].unlink()

    result = (await run(client, out))["2024-03"]
    assert not result.ok
    assert f"no longer holds 1 of the {len(held)} file(s)" in (result.error or "")
    assert held[0].name in (result.error or "")
    assert f"journal retry-download {part_b.absolute()} 2024-03" in (result.hint or "")

    # Its journal locked by a run of the part: still read (no lock taken), nothing written.
    with JournalStore.open_existing(part_b / JOURNAL):
        assert not (await run(client, out))["2024-03"].ok

    # The part's journal unreadable: said so, with the way; no traceback.
    (part_b / JOURNAL).write_bytes(b"not a journal" * 100)
    result = (await run(client, out))["2024-03"]
    assert not result.ok
    assert f"the journal of the part folder {part_b.absolute()} cannot be read" in (
        result.error or ""
    )
    assert f"journal show {part_b.absolute()} 2024-03" in (result.hint or "")

    # The whole part folder gone (its journal with it).
    shutil.rmtree(part_b)
    result = (await run(client, out))["2024-03"]
    assert not result.ok
    assert f"the part folder {part_b.absolute()} is gone" in (result.error or "")
    assert "journal split" in (result.hint or "")
    capsys.readouterr()
    assert await asyncio.to_thread(cli, "journal", "show", out, "2024-03") == 0
    shown = capsys.readouterr()
    assert "is gone" in shown.out
    assert "Traceback" not in shown.out + shown.err

    # Its days downloaded again into new folders (other dates: the account has the lost
    # part's request already) and split with them: complete again.
    part_c, part_d = tmp_path / "cfdi-2024-03c", tmp_path / "cfdi-2024-03d"
    assert (await run(client, part_c, "2024-03-16", "2024-03-23"))["2024-03"].ok
    assert (await run(client, part_d, "2024-03-24", "2024-03-31"))["2024-03"].ok
    code = await asyncio.to_thread(cli, "journal", "split", out, "2024-03", part_a, part_c, part_d)
    assert code == 0
    assert (await run(client, out))["2024-03"].ok


def test_a_split_month_without_recorded_parts_or_with_whole_parts_is_unchanged() -> None:
    state = m.MonthState(
        key="2024-03",
        start=date(2024, 3, 1),
        end=date(2024, 3, 31),
        rfc_type="received",
        request_type="cfdi",
        stage=m.Stage.SPLIT,
        reason="downloaded in parts elsewhere",
    )
    # A journal written before `split_parts`: nothing to check.
    assert part_troubles(state) == ()
    assert m.parts_missing(state, ()) is state
    trouble = m.PartTrouble("the part folder /x is gone", "put it back")
    shown = m.parts_missing(state, (trouble,))
    assert shown.stage is m.Stage.NEEDS_ATTENTION
    assert not shown.ok
    assert shown.hint == "put it back"
    # Only a split month.
    done = m.MonthState(
        key="2024-03",
        start=date(2024, 3, 1),
        end=date(2024, 3, 31),
        rfc_type="received",
        request_type="cfdi",
        stage=m.Stage.DONE,
    )
    assert m.parts_missing(done, (trouble,)) is done
