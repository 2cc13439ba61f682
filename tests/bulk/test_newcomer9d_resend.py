"""Newcomer 9d #3: `journal resend --yes` was accepted for a month whose package still had SAT
downloads left ("run the same command again … at least 1 of 2 SAT downloads left"): a billed
create where a plain re-run would have finished the month for free. It is refused without
--force now, and the refusal names the free way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from tests.bulk._support import JOURNAL, month_results, world_of


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    async with world_of(SandboxConfig(speed=3000, seed=4)) as both:
        yield both


async def test_resend_names_the_free_rerun_and_needs_force(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sandbox, client = world
    out = tmp_path / "fBi"
    (done,) = (await month_results(client, out, "2024-03", "2024-03", rfc_type="issued")).values()
    assert done.ok
    # As the newcomer's month stood: its package's first download failed, one left.
    with JournalStore.open_existing(out / JOURNAL) as store:
        state = store.get("2024-03")
        (package,) = state.package_ids or ()
        store.put(
            attrs.evolve(
                state,
                stage=m.Stage.NEEDS_ATTENTION,
                resume_to=m.Stage.COMPLETED,
                extracted=(),
                downloads=((package, 1),),
                reason=f"downloading package {package} failed: HTTP 503",
            )
        )
    capsys.readouterr()
    argv = ["journal", "resend", str(out), "2024-03", "--yes"]
    assert await asyncio.to_thread(main, argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "2024-03 can still finish without a new request: run the same command again: it "
        "downloads the request's package again (1 of 2 SAT downloads left)"
    ) in err
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-03").stage is m.Stage.NEEDS_ATTENTION  # nothing changed
    assert await asyncio.to_thread(main, [*argv, "--force"]) == 0
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-03").stage is m.Stage.PLANNED
