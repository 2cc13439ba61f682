"""`gigstack-async downloads package PACKAGE_ID --out DIR` (newcomer 9g #7): with a server that
gives no package ids (`--profile no-package-ids`) every month of `sat download` ends
needs-attention, and a CLI user had no way to fetch a package by the id gigstack support gives
(Python had `fetch_package_to`). The command stages the package, extracts it atomically, spends
exactly one of SAT's 2 downloads per GET, asks first, and leaves the journal alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gigstack_async.bulk.engine import STAGING_DIR
from gigstack_async.bulk.store import JournalStore
from gigstack_async.cli.commands.downloads_package import PACKAGE_STAGING_DIR, staged_path
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import profile
from tests.bulk._support import JOURNAL, PACKAGE, calls, keyed_cli, world_of

LIMIT = 30.0
MONTH = "2024-01"


def uuids(folder: Path) -> set[str]:
    return {path.stem.upper() for path in folder.rglob("*.xml") if STAGING_DIR not in path.parts}


def package_of(sandbox: Sandbox) -> tuple[str, set[str]]:
    """What gigstack support would tell: the month's package id, and the CFDIs it holds."""
    (request,) = [r for r in sandbox.state.download_requests if r.criteria.start_date.month == 1]
    ((package_id, invoices),) = request.packages()
    return package_id, {i.uuid.upper() for i in invoices}


async def cli(sandbox: Sandbox, *argv: object) -> int:
    return await asyncio.wait_for(asyncio.to_thread(keyed_cli, sandbox, *argv), LIMIT)


async def test_a_month_without_package_ids_is_fetched_by_the_id_support_gives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = SandboxConfig(speed=3000, seed=11, profile=profile("no-package-ids", "no-counts"))
    async with world_of(config) as (sandbox, _client):
        out = tmp_path / "cfdi"
        code = await cli(
            sandbox, "sat", "download", "--from", MONTH, "--to", MONTH, "--rfc-type",
            "received", "--out", out, "--poll-interval", "0.05", "--yes",
        )  # fmt: skip
        assert code == 1  # needs attention: no package ids
        with JournalStore.open_readonly(out / JOURNAL) as store:
            before = store.get(MONTH)
        assert before.stage.value == "needs-attention"
        assert "`gigstack-async downloads package <package id>" in (before.hint or "")
        assert calls(sandbox, PACKAGE) == 0
        capsys.readouterr()

        package_id, expected = package_of(sandbox)
        folder = out / MONTH
        # Without a terminal and without --yes: the risk is shown, nothing is sent.
        assert await cli(sandbox, "downloads", "package", package_id, "--out", folder) == 2
        said = capsys.readouterr()
        assert "spends one of SAT's 2 downloads" in " ".join(said.out.split())
        assert "pass --yes" in said.err
        assert calls(sandbox, PACKAGE) == 0

        assert await cli(sandbox, "downloads", "package", package_id, "--out", folder, "-y") == 0
        said = capsys.readouterr()
        assert calls(sandbox, PACKAGE) == 1
        assert sandbox.state.downloads_per_package()[package_id] == 1
        assert uuids(folder) == expected
        assert expected
        assert f"{len(expected)} new" in said.out
        assert not (folder / PACKAGE_STAGING_DIR).exists()  # the staged copy is gone
        assert sandbox.api_key not in said.out + said.err
        # The journal is not touched: the month still says what it said.
        with JournalStore.open_readonly(out / JOURNAL) as store:
            assert store.get(MONTH) == before


async def test_a_staged_copy_is_extracted_without_downloading_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The package arrived but a file in --out has other content: nothing is written, the
    package stays staged, and once the file is moved the same command extracts it for free."""
    async with world_of(SandboxConfig(speed=3000, seed=11)) as (sandbox, client):
        created = await client.downloads.create_request(
            start_date="2024-01-01", end_date="2024-01-31", rfc_type="received"
        )
        await client.downloads.wait(created.request_id, timeout=LIMIT)
        package_id, expected = package_of(sandbox)
        folder = tmp_path / "jan"
        folder.mkdir()
        clash = folder / f"{sorted(expected)[0]}.xml"
        clash.write_text("mine")

        assert await cli(sandbox, "downloads", "package", package_id, "--out", folder, "-y") == 4
        said = capsys.readouterr()
        assert "stays staged" in said.err
        assert clash.read_text() == "mine"  # never replaced
        assert uuids(folder) == {clash.stem.upper()}  # nothing else written
        assert staged_path(folder, package_id).is_file()
        assert calls(sandbox, PACKAGE) == 1

        clash.unlink()
        assert await cli(sandbox, "downloads", "package", package_id, "--out", folder) == 0
        said = capsys.readouterr()
        assert "nothing is downloaded" in said.out  # no --yes needed: nothing is spent
        assert calls(sandbox, PACKAGE) == 1
        assert uuids(folder) == expected
        assert not (folder / PACKAGE_STAGING_DIR).exists()


@pytest.mark.parametrize("bad", ["", "..", "."])
async def test_a_bad_package_id_is_refused_before_anything_is_sent(
    tmp_path: Path, bad: str
) -> None:
    async with world_of(SandboxConfig(speed=3000, seed=11)) as (sandbox, _client):
        code = await cli(sandbox, "downloads", "package", bad, "--out", tmp_path, "--yes")
        assert code == 2
        assert calls(sandbox, PACKAGE) == 0


def test_two_ids_never_share_a_staged_copy(tmp_path: Path) -> None:
    # the file name replaces characters it cannot hold: "a/b" and "a_b" must not collide
    assert staged_path(tmp_path, "a/b") != staged_path(tmp_path, "a_b")
    assert staged_path(tmp_path, "a_b").name == "package-a_b.zip"
    assert staged_path(tmp_path, "a/b").parent == tmp_path / PACKAGE_STAGING_DIR


async def test_each_run_spends_one_download_and_a_third_is_refused_by_sat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with world_of(SandboxConfig(speed=3000, seed=11)) as (sandbox, client):
        created = await client.downloads.create_request(
            start_date="2024-01-01", end_date="2024-01-31", rfc_type="received"
        )
        await client.downloads.wait(created.request_id, timeout=LIMIT)
        package_id, expected = package_of(sandbox)
        for n in (1, 2):
            folder = tmp_path / f"copy{n}"
            assert (
                await cli(sandbox, "downloads", "package", package_id, "--out", folder, "-y") == 0
            )
            assert uuids(folder) == expected
            assert sandbox.state.downloads_per_package()[package_id] == n
        capsys.readouterr()
        third = tmp_path / "copy3"
        assert await cli(sandbox, "downloads", "package", package_id, "--out", third, "-y") == 4
        said = capsys.readouterr()
        assert "5008" in said.err
        assert "no download of it is left" in said.err
        assert uuids(third) == set()
        assert not staged_path(third, package_id).exists()  # no temp file left behind
