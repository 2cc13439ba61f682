"""Review 9p finding 2: `downloads package ID --out DIR` staged in the bulk's staging folder,
under a temp name the bulk clears, so a `sat download --out DIR` starting while the package
streamed deleted the in-flight download: a spent download lost, rc 4 with no word that it was
spent. It now stages in its own folder, says "may have been spent" on any failure once the
GET left, says nothing of the kind for a 404 (nothing was served), and leaves no empty folder."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path
from typing import Any, BinaryIO

import pytest

import gigstack_async.resources.downloads as downloads_module
from gigstack_async.bulk.engine import STAGING_DIR
from gigstack_async.cli.commands.downloads_package import PACKAGE_STAGING_DIR
from gigstack_async.sandbox import Sandbox, SandboxConfig
from tests.bulk._support import PACKAGE, calls, keyed_cli, world_of

LIMIT = 30.0


def uuids(folder: Path) -> set[str]:
    return {path.stem.upper() for path in folder.glob("*.xml")}


async def cli(sandbox: Sandbox, *argv: object) -> int:
    return await asyncio.wait_for(asyncio.to_thread(keyed_cli, sandbox, *argv), LIMIT)


async def january_package(sandbox: Sandbox, client: object) -> tuple[str, set[str]]:
    created = await client.downloads.create_request(  # type: ignore[attr-defined]
        start_date="2024-01-01", end_date="2024-01-31", rfc_type="received"
    )
    await client.downloads.wait(created.request_id, timeout=LIMIT)  # type: ignore[attr-defined]
    (request,) = [r for r in sandbox.state.download_requests if r.criteria.start_date.month == 1]
    ((package_id, invoices),) = request.packages()
    return package_id, {i.uuid.upper() for i in invoices}


async def test_a_sat_download_starting_mid_stream_does_not_delete_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with world_of(SandboxConfig(speed=3000, seed=5)) as (sandbox, client):
        out = tmp_path / "A"
        bulk = (
            "sat", "download", "--from", "2024-07", "--to", "2024-07", "--rfc-type",
            "received", "--out", out, "--poll-interval", "0.05", "--yes",
        )  # fmt: skip
        assert await cli(sandbox, *bulk) == 0
        package_id, expected = await january_package(sandbox, client)
        original = downloads_module._seal
        raced: list[int] = []

        def racing(fh: BinaryIO, tmp: Path, target: Path, limits: Any, inspect: Any) -> Any:
            # The body has arrived, not yet fsynced or renamed: a `sat download --out A` starts
            # now (cron, another terminal) and clears stale temp files in its staging folder.
            if not raced:
                raced.append(keyed_cli(sandbox, *bulk))
            return original(fh, tmp, target, limits, inspect)

        monkeypatch.setattr(downloads_module, "_seal", racing)
        capsys.readouterr()
        code = await cli(sandbox, "downloads", "package", package_id, "--out", out, "-y")
        said = capsys.readouterr()
        assert raced == [0]
        assert code == 0, said.err
        assert sandbox.state.downloads_per_package()[package_id] == 1
        assert expected <= uuids(out)
        assert not (out / PACKAGE_STAGING_DIR).exists()
        assert PACKAGE_STAGING_DIR != STAGING_DIR


async def test_a_failure_after_the_get_left_says_the_download_may_have_been_spent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with world_of(SandboxConfig(speed=3000, seed=5)) as (sandbox, client):
        package_id, _ = await january_package(sandbox, client)

        def disk_full(fh: BinaryIO, tmp: Path, target: Path, limits: Any, inspect: Any) -> Any:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(downloads_module, "_seal", disk_full)
        capsys.readouterr()
        folder = tmp_path / "x"
        assert await cli(sandbox, "downloads", "package", package_id, "--out", folder, "-y") == 4
        said = capsys.readouterr()
        assert sandbox.state.downloads_per_package()[package_id] == 1
        assert "may have been spent" in said.err
        assert not (folder / PACKAGE_STAGING_DIR).exists()  # no empty folder left behind


async def test_an_unknown_package_id_is_not_said_to_have_spent_a_download(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with world_of(SandboxConfig(speed=3000, seed=5)) as (sandbox, _client):
        folder = tmp_path / "x"
        code = await cli(
            sandbox, "downloads", "package", "00000000-0000-4000-8000-000000000000_01",
            "--out", folder, "-y",
        )  # fmt: skip
        said = capsys.readouterr()
        assert code == 4
        assert calls(sandbox, PACKAGE) == 1
        assert "404" in said.err
        assert "may have" not in said.err  # a 404 answers that nothing was served
        assert not (folder / PACKAGE_STAGING_DIR).exists()  # a failed GET leaves no folder
