"""Newcomer walk 10 F10: after `journal split`, the summary showed "2024-03 ... split 69 0" and a
Total of files without the month's, with no pointer to the part folders that hold its CFDIs.
`MonthResult.parts` names them; the CLI's summary prints a line for the month."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile
from tests.bulk._support import keyed_cli, world_of
from tests.bulk.test_review_9n_split_parts import run, split_month


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    profile = ServerProfile(sat_codes=(SatCodeRule(5003, month="2024-03", times=1),))
    async with world_of(SandboxConfig(speed=3000, seed=7, profile=profile)) as both:
        yield both


async def test_the_summary_of_a_split_month_names_its_part_folders(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, client = world
    out, part_a, part_b = await split_month(sandbox, client, tmp_path)
    result = (await run(client, out))["2024-03"]
    assert result.stage == "split"
    assert result.parts == (part_a.absolute(), part_b.absolute())
    # Any other month names none.
    assert (await run(client, out, "2024-04", "2024-04"))["2024-04"].parts == ()

    monkeypatch.chdir(tmp_path)
    argv = [
        "sat", "download", "--from", "2024-03", "--to", "2024-03", "--rfc-type", "received",
        "--out", "cfdi", "--poll-interval", "0.05", "--yes",
    ]  # fmt: skip
    capsys.readouterr()
    assert await asyncio.to_thread(keyed_cli, sandbox, *argv) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert (
        "2024-03: split: downloaded in parts into cfdi-2024-03a, cfdi-2024-03b "
        "(`gigstack-async journal show cfdi 2024-03` says which days each holds)" in said
    )
