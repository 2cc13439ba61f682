"""`python -m gigstack_async.sandbox` serves, prints its URL and key, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }


CLI_SCRIPT = Path(sys.executable).parent / "gigstack-async"
ENTRY_POINTS = {
    "module": [sys.executable, "-m", "gigstack_async.sandbox"],
    "cli": [str(CLI_SCRIPT), "sandbox"] if CLI_SCRIPT.exists() else [sys.executable, "-m",
            "gigstack_async", "sandbox"],
}  # fmt: skip


async def _start(command: list[str], *args: str) -> tuple[asyncio.subprocess.Process, list[str]]:
    """Start a sandbox process; returns it and its banner (up to the GIGSTACK_API_KEY line)."""
    process = await asyncio.create_subprocess_exec(
        *command, *args, cwd=REPO, env=_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    banner: list[str] = []
    while not banner or "GIGSTACK_API_KEY=" not in banner[-1]:
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert line, f"the sandbox ended early: {banner}"
        banner.append(line.rstrip("\n"))
    return process, banner


async def _stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    try:
        process.terminate()
        code = await asyncio.wait_for(process.wait(), 10)
        out, _ = await process.communicate()
        return code, out.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _url_and_key(banner: list[str]) -> tuple[str, int, str]:
    url = re.search(r"http://127\.0\.0\.1:(\d+)/v2", banner[0])
    key = re.search(r"API key: (\S+)", banner[1])
    assert url, banner
    assert key, banner
    return url.group(0), int(url.group(1)), key.group(1)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_module_serves_and_prints_url_and_key(entry: str) -> None:
    port = free_port()
    process, banner = await _start(ENTRY_POINTS[entry], "--port", str(port), "--seed", "3")
    try:
        base_url, served_port, key = _url_and_key(banner)
        assert served_port == port
        headers = {"Authorization": f"Bearer {key}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(f"{base_url}/invoices/download/activate/status") as reply:
                assert reply.status == 200
                assert (await reply.json())["data"]["status"] == "active"
            # A fresh sandbox has SAT invoices to list (3 preloaded months, both directions).
            async with session.get(f"{base_url}/invoices/sat", params={"limit": "100"}) as reply:
                invoices = (await reply.json())["data"]
            assert {invoice["direction"] for invoice in invoices} == {"received", "issued"}
    finally:
        code, rest = await _stop(process)
    assert code == 0
    assert rest.strip() == "sandbox stopped after 2 requests"


async def test_both_entry_points_have_one_default_and_one_banner() -> None:
    banners = []
    for command in ENTRY_POINTS.values():
        process, banner = await _start(command, "--port", "0")
        await _stop(process)
        _, port, _ = _url_and_key(banner)
        banners.append([line.replace(f":{port}/", ":PORT/") for line in banner])
    module, cli = banners
    assert module == cli
    # The default speed makes SAT's ~155 simulated seconds take ~3 s of real time.
    assert "simulated time x60, 3 months of SAT invoices preloaded" in module[2]


async def test_a_port_in_use_suggests_port_0_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            *ENTRY_POINTS["module"], "--port", str(port), cwd=REPO, env=_env(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 30)
    # Before: exit 4 with "error while attempting to bind on address ...: address already in use".
    assert process.returncode == 2
    assert out == b""
    assert err.decode().strip() == (
        f"error: --port {port}: the port is already in use (another sandbox?); stop it, pick "
        "another port, or pass --port 0 for any free one"
    )


async def test_log_requests_prints_method_path_and_status_never_the_key() -> None:
    process, banner = await _start(ENTRY_POINTS["module"], "--port", "0", "--log-requests")
    base_url, _, key = _url_and_key(banner)
    assert process.stdout is not None
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as session:
            async with session.get(f"{base_url}/invoices/sat", params={"limit": "2"}) as reply:
                assert reply.status == 200
            async with session.get(f"{base_url}/invoices/download/status/NOPE") as reply:
                assert reply.status == 404
        lines = [
            (await asyncio.wait_for(process.stdout.readline(), 10)).decode().strip()
            for _ in range(2)
        ]
    finally:
        _, rest = await _stop(process)
    assert lines == [
        "GET /v2/invoices/sat?limit=2 -> 200",
        "GET /v2/invoices/download/status/NOPE -> 404",
    ]
    assert key not in "\n".join(lines) + rest


def test_the_package_docstring_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import gigstack_async.sandbox as module

    assert module.__doc__ is not None
    example = module.__doc__.split("::\n", 1)[1].split("From a shell")[0]
    exec(compile(textwrap.dedent(example), "gigstack_async.sandbox docstring", "exec"), {})

    status, count, *_ = capsys.readouterr().out.split()
    assert status == "completed"
    assert int(count) > 0
