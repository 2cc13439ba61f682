"""`gigstack-async demo` and `gigstack-async sandbox`: the simulator run by the CLI itself."""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

import aiohttp

from gigstack_async.sandbox import DEFAULT_API_KEY


async def test_demo_downloads_a_year_of_received_cfdis(raw_cli, tmp_path: Path) -> None:
    # Faster than the default (x20) so the suite stays quick; the code path is the same.
    result = await raw_cli("demo", "--out", "year", "--speed", "300", cwd=tmp_path)

    assert result.code == 0, result.stderr
    assert "no account or API key needed" in result.stdout
    base_url = re.search(r"http://127\.0\.0\.1:\d+/v2", result.stdout)
    assert base_url is not None
    assert "12 monthly requests, received cfdi" in result.stdout
    folders = sorted(p for p in (tmp_path / "year").iterdir() if p.is_dir())
    assert len(folders) == 12
    year = folders[0].name[:4]
    assert [f.name for f in folders] == [f"{year}-{m:02d}" for m in range(1, 13)]
    files = list((tmp_path / "year").glob("*/*.xml"))
    assert all(any(f.parent.iterdir()) for f in folders)
    assert f"Total: 12 months, 12 ok, 0 not ok; {len(files)} invoices; {len(files)} files" in (
        result.stdout
    )
    assert f"Output folder: {(tmp_path / 'year').resolve()}" in result.stdout


async def test_sandbox_serves_until_ctrl_c(spawn_cli) -> None:
    process = await spawn_cli("sandbox", "--port", "0", "--speed", "0")
    try:
        first = (await process.stdout.readline()).decode()
        base_url = first.rsplit(" at ", 1)[1].strip()
        key_line = (await process.stdout.readline()).decode()
        assert DEFAULT_API_KEY in key_line  # the sandbox's own public test key
        headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.get(f"{base_url}/invoices/download/schedule/history") as response,
        ):
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, stderr
        assert "sandbox stopped" in stdout.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.wait(), 30)


async def test_sandbox_plays_the_chosen_server_profile(spawn_cli) -> None:
    process = await spawn_cli(
        "sandbox",
        "--port", "0",
        "--speed", "0",
        "--profile", "created-at-seconds",
        "--profile", "ids-restart",
        "--clock-offset", "-2",
        "--preload-months", "0",  # an empty history, ids from DM-000001
    )  # fmt: skip
    try:
        base_url = (await process.stdout.readline()).decode().rsplit(" at ", 1)[1].strip()
        lines = [(await process.stdout.readline()).decode() for _ in range(3)]
        assert "Server profile: created-at-seconds, ids-restart, clock offset -2 s" in lines[2]
        headers = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
        body = {"start_date": "2024-01-01", "end_date": "2024-01-31", "rfc_type": "issued"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(f"{base_url}/invoices/download/request", json=body) as response:
                created = (await response.json())["data"]
            async with http.get(f"{base_url}/invoices/download/schedule/history") as response:
                (item,) = (await response.json())["data"]["history"]
        assert created["request_id"] == "DM-000001"
        assert isinstance(item["createdAt"], int)
        assert item["createdAt"] < 10**11  # seconds, not milliseconds
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, stderr
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.wait(), 30)


async def test_sandbox_refuses_an_unknown_profile(raw_cli) -> None:
    result = await raw_cli("sandbox", "--profile", "nope")

    assert result.code == 2
    assert "unknown sandbox profile 'nope'" in result.stderr
