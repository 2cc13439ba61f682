"""README.md's code runs, verbatim, as a user would run it — against the sandbox over loopback."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from gigstack_async import GigstackClient, MonthResult, PollSchedule
from gigstack_async.sandbox import Sandbox, SandboxConfig

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- readme-test: (?P<name>[\w-]+) -->\s*```python\n(?P<code>.*?)```", re.S)


def readme_blocks() -> dict[str, str]:
    return {m["name"]: m["code"] for m in BLOCK.finditer(README.read_text(encoding="utf-8"))}


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxConfig(speed=3000, seed=3)) as running:
        async with GigstackClient(running.api_key, base_url=running.base_url) as client:
            # Give the SAT invoice list something to show: one completed quarter.
            run = client.downloads.bulk(
                "2025-01", "2025-03", rfc_type="received", poll=PollSchedule(initial=0.02)
            )
            assert all([e.ok async for e in run if isinstance(e, MonthResult)])
        yield running


async def run_python(
    args: list[str], sandbox: Sandbox, cwd: Path, timeout: float = 60
) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "GIGSTACK_API_KEY": sandbox.api_key,
        "GIGSTACK_BASE_URL": sandbox.base_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def test_every_python_block_of_the_readme_is_tested() -> None:
    blocks = readme_blocks()
    assert set(blocks) == {
        "quickstart",
        "one-invoice",
        "bulk",
        "one-request",
        "pytest-plugin",
        "money",
    }
    fenced = README.read_text(encoding="utf-8").count("```python")
    unmarked_logging_example = 1
    assert fenced == len(blocks) + unmarked_logging_example


async def test_quickstart(sandbox: Sandbox, tmp_path: Path) -> None:
    code, out, err = await run_python(["-c", readme_blocks()["quickstart"]], sandbox, tmp_path)
    assert code == 0, err
    listed = {line.split()[0] for line in out.splitlines()}
    sat_invoices = {uuid for team in sandbox.state.teams.values() for uuid in team.sat_invoices}
    assert listed == sat_invoices
    assert len(listed) > 10


async def test_one_invoice_example(sandbox: Sandbox, tmp_path: Path) -> None:
    code, out, err = await run_python(["-c", readme_blocks()["one-invoice"]], sandbox, tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert len([line for line in lines if "Vigente" in line]) == 5
    assert lines[-1].startswith("not found: 404")


async def test_download_a_year_example_is_short_and_works(sandbox: Sandbox, tmp_path: Path) -> None:
    block = readme_blocks()["bulk"]
    assert len([line for line in block.splitlines() if line.strip()]) <= 10
    code, out, err = await run_python(["-c", block], sandbox, tmp_path)
    assert code == 0, err
    months = [line.split()[:2] for line in out.splitlines()]
    assert sorted(months) == [[f"2025-{m:02d}", "completed"] for m in range(1, 13)]
    written = {p.stem for p in (tmp_path / "cfdi").rglob("*.xml")}
    expected = {u for uuids in sandbox.state.ground_truth.values() for u in uuids}
    assert written <= expected
    assert len(written) == sum(int(line.split()[2]) for line in out.splitlines())
    assert (tmp_path / "cfdi" / ".gigstack-journal.sqlite3").exists()


async def test_one_request_example(sandbox: Sandbox, tmp_path: Path) -> None:
    code, out, err = await run_python(["-c", readme_blocks()["one-request"]], sandbox, tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].endswith(" new")
    assert any(line.startswith("completed") for line in lines)


async def test_pytest_plugin_example(sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(readme_blocks()["pytest-plugin"])
    code, out, err = await run_python(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        sandbox,
        tmp_path,
        timeout=120,
    )
    assert code == 0, out + err
    assert "1 passed" in out


async def test_money_example_sums_exactly(sandbox: Sandbox, tmp_path: Path) -> None:
    code, out, err = await run_python(["-c", readme_blocks()["money"]], sandbox, tmp_path)
    assert code == 0, err
    expected = sum(
        (
            record.invoice.total
            for team in sandbox.state.teams.values()
            for record in team.sat_invoices.values()
            if record.invoice.direction == "received" and record.invoice.currency == "MXN"
        ),
        Decimal(0),
    )
    assert expected > 0
    assert out == f"received MXN invoices: {expected}\n"
