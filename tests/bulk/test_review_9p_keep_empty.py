"""Review 9p finding 3: a truly empty month on a server that gives no counts and no package
ids (`--profile no-counts`, no CFDIs) ended needs-attention forever: `journal keep` refused
(nothing to keep), re-runs ended rc 1, and only a billed resend remained. `journal keep MONTH
--empty` records it empty on the user's confirmed word, refused when any fact is against it,
and the needs-attention hint names it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import profile
from tests.bulk._support import JOURNAL, keyed_cli, world_of

LIMIT = 30.0
MONTH = "2024-08"
CREATE = "createDownloadRequest"


async def cli(sandbox: Sandbox, *argv: object) -> int:
    return await asyncio.wait_for(asyncio.to_thread(keyed_cli, sandbox, *argv), LIMIT)


def creates(sandbox: Sandbox) -> int:
    return len(sandbox.state.download_requests)


def empty_world() -> SandboxConfig:
    return SandboxConfig(
        speed=3000, seed=5, invoices_per_month=(0, 0), profile=profile("no-counts")
    )


def bulk(out: Path) -> tuple[object, ...]:
    return (
        "sat", "download", "--from", MONTH, "--to", MONTH, "--rfc-type", "received",
        "--out", out, "--poll-interval", "0.05", "--yes",
    )  # fmt: skip


async def test_an_empty_month_without_counts_is_recorded_empty_once_the_user_confirms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with world_of(empty_world()) as (sandbox, _client):
        out = tmp_path / "A"
        assert await cli(sandbox, *bulk(out)) == 1
        with JournalStore.open_readonly(out / JOURNAL) as store:
            before = store.get(MONTH)
        assert before.stage is m.Stage.NEEDS_ATTENTION
        assert before.invoice_count is None  # unknown, never taken as zero by itself
        assert f"journal keep {MONTH} --empty" in (before.hint or "")
        billed = creates(sandbox)
        capsys.readouterr()

        # Plain keep still refuses (nothing to keep) but names the way on.
        assert await cli(sandbox, "journal", "keep", out, MONTH, "--yes") == 2
        assert f"journal keep {out} {MONTH} --empty" in " ".join(capsys.readouterr().err.split())
        # Without --yes and no terminal: nothing is recorded.
        assert await cli(sandbox, "journal", "keep", out, MONTH, "--empty") == 2
        with JournalStore.open_readonly(out / JOURNAL) as store:
            assert store.get(MONTH).stage is m.Stage.NEEDS_ATTENTION

        assert await cli(sandbox, "journal", "keep", out, MONTH, "--empty", "--yes") == 0
        said = capsys.readouterr()
        assert "Check it first in gigstack's dashboard" in " ".join(said.out.split())
        with JournalStore.open_readonly(out / JOURNAL) as store:
            after = store.get(MONTH)
        assert after.stage is m.Stage.EMPTY
        assert "journal keep --empty" in (after.reason or "")
        # The month is finished: a re-run ends 0 and requests nothing again.
        assert await cli(sandbox, *bulk(out)) == 0
        assert creates(sandbox) == billed
        with JournalStore.open_readonly(out / JOURNAL) as store:
            assert store.get(MONTH).stage is m.Stage.EMPTY


async def test_keep_empty_is_refused_when_the_folder_holds_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with world_of(empty_world()) as (sandbox, _client):
        out = tmp_path / "A"
        assert await cli(sandbox, *bulk(out)) == 1
        (out / MONTH).mkdir(parents=True, exist_ok=True)
        (out / MONTH / "3F2A9C1B-0C4D-4E8F-9A1B-2C3D4E5F6A7B.xml").write_text("<x/>")
        capsys.readouterr()
        assert await cli(sandbox, "journal", "keep", out, MONTH, "--empty", "--yes") == 2
        assert "not recorded empty" in capsys.readouterr().err
        with JournalStore.open_readonly(out / JOURNAL) as store:
            assert store.get(MONTH).stage is m.Stage.NEEDS_ATTENTION


async def test_the_machine_refuses_keep_empty_against_any_fact(tmp_path: Path) -> None:
    async with world_of(empty_world()) as (sandbox, _client):
        out = tmp_path / "A"
        assert await cli(sandbox, *bulk(out)) == 1
        with JournalStore.open_readonly(out / JOURNAL) as store:
            state = store.get(MONTH)
    empty = m.KeepFiles((), empty=True)
    new, commands = m.transition(state, empty)
    assert new.stage is m.Stage.EMPTY
    assert commands == ()
    refused = [
        (state, m.KeepFiles(("A.xml",), empty=True)),  # a file in the folder
        (attrs.evolve(state, invoice_count=3), empty),  # SAT's count known and > 0
        (attrs.evolve(state, package_ids=("P_01",)), empty),  # the server named a package
        (attrs.evolve(state, stage=m.Stage.PROCESSING), empty),  # not a completed request
        (new, empty),  # already empty
    ]
    for before, obs in refused:
        with pytest.raises(m.TransitionError):
            m.transition(before, obs)
    # Without --empty the old refusal stands: nothing to keep.
    with pytest.raises(m.TransitionError, match="nothing to keep"):
        m.transition(state, m.KeepFiles(()))
