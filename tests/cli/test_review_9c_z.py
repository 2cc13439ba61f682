"""Hostile re-review 9c of issue 9: the CLI's journal texts, end to end through the console
script and the sandbox. Each test failed on the code the review read (integ 802ad06)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from gigstack_async.sandbox import Sandbox

from .conftest import SECRET_KEY

COMMAND = re.compile(r"`gigstack-async (journal [^`]+)`")


def download(out: Path, start: str, end: str, *extra: str) -> list[str]:
    return [
        "sat", "download", "--from", start, "--to", end, "--rfc-type", "received",
        "--out", str(out), "--poll-interval", "0.02", "--yes", *extra,
    ]  # fmt: skip


async def test_a_partial_months_next_step_runs_as_printed_and_says_the_whole_month_is_asked(
    sandbox: Sandbox, raw_cli, tmp_path: Path
) -> None:
    # Finding 7: the row printed `gigstack-async journal resend 'j x' 2024-04` (--force), with
    # --force outside the backticks: pasted, it was refused. Suspicion: the confirmation only
    # said "may be billed", not that the whole month (the days already there too) is asked.
    env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}
    out = tmp_path / "j x"
    first = await raw_cli(*download(out, "2024-04-01", "2024-04-15"), env=env, cwd=tmp_path)
    assert first.code == 0, first.stdout + first.stderr
    show = await raw_cli("journal", "show", str(out), env={**env, "COLUMNS": "400"}, cwd=tmp_path)
    assert show.code == 0, show.stderr
    text = " ".join(show.stdout.split())
    commands = [c for c in COMMAND.findall(text) if c.startswith("journal resend")]
    assert commands, text
    assert "--force" in commands[0]
    resend = await raw_cli(*shlex.split(commands[0]), "--yes", env=env, cwd=tmp_path)
    assert resend.code == 0, resend.stdout + resend.stderr
    prompt = " ".join(resend.stdout.split())
    assert "whole month" in prompt
    assert "already downloaded" in prompt
    assert "another --out folder" in prompt


async def test_activate_says_why_it_does_not_ask_despite_the_pricing(
    make_sandbox, raw_cli, tmp_path: Path
) -> None:
    # Suspicion (wording): "$0.20 MXN per download" was shown, then it activated unasked.
    sandbox: Sandbox = await make_sandbox(ready=False)
    env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}
    result = await raw_cli("downloads", "activate", env=env, cwd=tmp_path)
    assert result.code == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "needs_activation" in said
    assert "adds no charge" in said
    assert "Activated" in said
