"""Newcomer findings on issue 9, end to end through the console script and the sandbox."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from gigstack_async.sandbox import Sandbox
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile

from .conftest import SECRET_KEY

COMMAND = re.compile(r"`gigstack-async (journal [^`]+)`")


def download(out: Path, *extra: str, month: str = "2025-01") -> list[str]:
    return [
        "sat", "download", "--from", month, "--to", month, "--rfc-type", "received",
        "--out", str(out), "--poll-interval", "0.02", "--yes", *extra,
    ]  # fmt: skip


async def test_the_summary_uses_the_stage_names_and_a_hint_that_runs_as_printed(
    make_sandbox, raw_cli, tmp_path: Path
) -> None:
    # Findings 1 and 7: the summary said "failed" where journal show said "expired", and its
    # "Next:" command left out the folder.
    rule = SatCodeRule(5007, month="2025-01", times=1)
    sandbox: Sandbox = await make_sandbox(profile=ServerProfile(sat_codes=(rule,)))
    env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}
    out = tmp_path / "cfdi"
    first = await raw_cli(*download(out), env=env, cwd=tmp_path)
    assert first.code == 1, first.stderr
    summary = " ".join(first.stdout.split("Summary", 1)[1].split())
    assert "expired" in summary
    assert "failed" not in summary
    assert f"gigstack-async journal resend {out} 2025-01" in summary
    found = COMMAND.search(summary)
    assert found is not None
    resend = await raw_cli(*shlex.split(found.group(1)), "-y", env=env, cwd=tmp_path)
    assert resend.code == 0, resend.stderr
    second = await raw_cli(*download(out), env=env, cwd=tmp_path)
    assert second.code == 0, second.stdout
    assert " done " in second.stdout.split("Summary", 1)[1]


async def test_another_runs_journal_is_refused_before_it_is_called_resuming(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    # Finding 11: "Journal: ... (exists: resuming where it stopped)" came before the refusal.
    out = tmp_path / "meta"
    assert (await cli(*download(out, "--type", "metadata"))).code == 0
    again = await cli(*download(out, "--type", "cfdi"))
    assert again.code == 2
    assert "belongs to another run" in again.stderr
    assert "resuming where it stopped" not in again.stdout


async def test_downloads_activate_turns_descarga_masiva_on(
    make_sandbox, raw_cli, tmp_path: Path
) -> None:
    # Finding 13: the `refused` hint says "activate Descarga Masiva"; the CLI had no command.
    sandbox: Sandbox = await make_sandbox(ready=False)
    env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}
    first = await raw_cli("downloads", "activate", env=env, cwd=tmp_path)
    assert first.code == 0, first.stderr
    assert "status: needs_activation" in first.stdout
    assert "Activated" in first.stdout
    again = await raw_cli("downloads", "activate", env=env, cwd=tmp_path)
    assert again.code == 0, again.stderr
    assert "status: active" in again.stdout
    assert "nothing was sent" in again.stdout
    assert len(sandbox.state.calls_to("activateDownloads")) == 1


async def test_log_requests_shows_the_id_a_create_made_even_when_its_answer_was_lost(
    sandbox: Sandbox,
) -> None:
    # Finding 5: the log said `POST ... -> 502 [injected after_502]` but not the id created,
    # which `journal adopt` needs; the sandbox has no dashboard.
    import aiohttp

    from gigstack_async.cli.commands.sandbox import _request_line

    sandbox.state.force_fault("createDownloadRequest", "after_502")
    body = {
        "start_date": "2025-01-01",
        "end_date": "2025-01-31",
        "rfc_type": "received",
        "request_type": "cfdi",
    }
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(f"{sandbox.base_url}/invoices/download/request", json=body) as reply,
    ):
        assert reply.status == 502
    created = sandbox.state.download_requests[-1].request_id
    line = _request_line(sandbox.state.calls_to("createDownloadRequest")[0])
    assert f"request id {created}" in line
    assert "[injected after_502]" in line


def test_sat_code_takes_times(tmp_path: Path) -> None:
    # Finding 12: `--sat-code` fired forever, so a resend or a split could never succeed.
    from gigstack_async.cli.app import build_parser
    from gigstack_async.cli.commands.sandbox import profile_from_args

    args = build_parser().parse_args(
        ["sandbox", "--sat-code", "2025-03:5007:1", "--sat-code", "2025-04:5003"]
    )
    assert profile_from_args(args).sat_codes == (
        SatCodeRule(5007, "2025-03", times=1, whole_month=True),
        SatCodeRule(5003, "2025-04", whole_month=True),
    )
    for bad in ("2025-03:5007:0", "2025-03:5007:x", "2025-03"):
        with pytest.raises(ValueError, match=r"times|YYYY-MM:CODE"):
            profile_from_args(build_parser().parse_args(["sandbox", "--sat-code", bad]))
