"""`journal retry-download` answered "n" at the terminal: nothing is recorded, "Nothing
changed." is said and the exit code is 2; "y" records the allowance (both of its routes: a
package counted spent, and a done month whose folder lost files). The confirmation each
journal command shares (`_record_confirmed`)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore
from gigstack_async.cli import main
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import JOURNAL, PACKAGE, calls, month_results, world_of


def _answering(monkeypatch: pytest.MonkeyPatch, answer: str) -> list[str]:
    asked: list[str] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or answer)
    return asked


def _state(out: Path, key: str) -> m.MonthState:
    with JournalStore.open_existing(out / JOURNAL) as store:
        return store.get(key)


async def _declined_then_confirmed(
    out: Path,
    key: str,
    question: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> m.MonthState:
    before = _state(out, key)
    argv = ["journal", "retry-download", str(out), key]
    asked = _answering(monkeypatch, "n")
    capsys.readouterr()
    assert await asyncio.to_thread(main, argv) == 2
    assert asked == [f"{question} [y/N] "]
    assert "Nothing changed." in capsys.readouterr().err
    assert _state(out, key) == before  # nothing recorded
    _answering(monkeypatch, "y")
    assert await asyncio.to_thread(main, argv) == 0
    assert "once more" in capsys.readouterr().out
    after = _state(out, key)
    assert after != before
    return after


async def test_a_declined_retry_download_of_a_spent_package_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with world_of(SandboxConfig(speed=3000, seed=11)) as (sandbox, client):
        out = tmp_path / "chaos"
        for fault in ("500", "502"):  # two package GETs counted, the server never acted
            sandbox.state.force_fault(PACKAGE, fault, times=1)
            await month_results(client, out, "2024-11", "2024-11", timeout=30)
        package_id = _state(out, "2024-11").blocked_package
        assert package_id is not None
        after = await _declined_then_confirmed(
            out,
            "2024-11",
            f"Allow one more download of {package_id} for 2024-11?",
            monkeypatch,
            capsys,
        )
        assert after.granted
        assert calls(sandbox, PACKAGE) == 2  # the command sends nothing


async def test_a_declined_retry_download_of_missing_files_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with world_of(SandboxConfig(speed=3000, seed=9)) as (sandbox, client):
        out = tmp_path / "recv"
        assert (await month_results(client, out, "2024-03", "2024-03"))["2024-03"].ok
        gets = calls(sandbox, PACKAGE)
        shutil.rmtree(out / "2024-03")
        lost = (await month_results(client, out, "2024-03", "2024-03"))["2024-03"]
        assert (lost.error or "").startswith(m.MISSING_FILES)
        packages = m.refill_packages(_state(out, "2024-03"))
        after = await _declined_then_confirmed(
            out,
            "2024-03",
            f"Allow downloading {', '.join(packages)} once more for 2024-03?",
            monkeypatch,
            capsys,
        )
        assert after.refill
        assert calls(sandbox, PACKAGE) == gets
