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


async def test_module_serves_and_prints_url_and_key() -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gigstack_async.sandbox", "--port", str(port), "--seed", "3",
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        second = (await asyncio.wait_for(process.stdout.readline(), 5)).decode()
        url = re.search(r"http://127\.0\.0\.1:(\d+)/v2", first)
        key = re.search(r"API key: (\S+)", second)
        assert url, first
        assert key, second
        assert int(url.group(1)) == port

        headers = {"Authorization": f"Bearer {key.group(1)}"}
        status_url = f"{url.group(0)}/invoices/download/activate/status"
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.get(status_url) as reply,
        ):
            assert reply.status == 200
            assert (await reply.json())["data"]["status"] == "active"

        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.communicate(), 30)


def test_the_package_docstring_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import gigstack_async.sandbox as module

    assert module.__doc__ is not None
    example = module.__doc__.split("::\n", 1)[1].split("From a shell")[0]
    exec(compile(textwrap.dedent(example), "gigstack_async.sandbox docstring", "exec"), {})

    status, count, *_ = capsys.readouterr().out.split()
    assert status == "completed"
    assert int(count) > 0
