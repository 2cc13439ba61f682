"""Newcomer 9g #8: `journal retry-download` printed a command without its folder.

Confirming a retry-download of an adopted held month printed "`gigstack-async journal
retry-download 2025-01` checks it for free": copied as shown, `2025-01` is read as the journal
folder. Every command a journal command prints must be complete and copyable: here, each names
the folder before the month.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from pathlib import Path

import pytest

from gigstack_async.cli import main
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import PACKAGE, month_results, world_of

# A journal command as printed: its subcommand and the words up to the closing backquote.
JOURNAL_COMMAND = re.compile(
    r"`gigstack-async journal (adopt|resend|retry-download|keep|show|split) ([^`]*)`"
)


def journal_commands(text: str) -> list[tuple[str, list[str]]]:
    return [(name, shlex.split(rest)) for name, rest in JOURNAL_COMMAND.findall(text)]


async def test_retry_download_prints_its_commands_with_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "iss25cli"
    async with world_of(SandboxConfig(speed=3000, seed=8)) as (sandbox, client):
        first = await month_results(client, tmp_path / "elsewhere", "2025-01", "2025-01")
        request_id = first["2025-01"].request_id
        assert request_id is not None
        held = await month_results(client, out, "2025-01", "2025-01")
        assert held["2025-01"].stage == "held"
        adopt = ["journal", "adopt", str(out), "2025-01", request_id]
        adopt += ["--rfc-type", "received", "--type", "cfdi", "--yes"]
        assert await asyncio.to_thread(main, adopt) == 0
        # Made elsewhere: one GET by itself (review 9u #3); it breaks off, so the month waits.
        sandbox.state.force_fault(PACKAGE, "after_truncate", 1)
        waiting = await month_results(client, out, "2025-01", "2025-01")
        assert waiting["2025-01"].stage == "needs-attention"
        capsys.readouterr()
        retry = ["journal", "retry-download", str(out), "2025-01", "--yes"]
        assert await asyncio.to_thread(main, retry) == 0
    printed = capsys.readouterr().out
    found = journal_commands(printed)
    assert any(name == "resend" for name, _ in found), printed
    # Made outside this journal: the GET allowed may be SAT's third (review 9u #3).
    assert "this download may be its third, which SAT refuses with 5008" in printed
    for name, words in found:
        # Was: `gigstack-async journal retry-download 2025-01` (no folder).
        assert words[:2] == [str(out), "2025-01"], (name, words)
