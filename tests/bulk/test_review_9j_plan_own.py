"""Review 9j #4 (d14_plan_noyes.py): after SAT refused the whole month with 5002 or 5003 while
its folder held 08-15..31 from an earlier request (its own part, kept by `journal resend
--force`), the user's original partial command (08-15..31, or 08-16..31) ended sat-failed on
every run: "asks again for ..., which the folder already holds ... missing here: 2024-08-01..
2024-08-14". Its days are all in the folder: it ends ok, nothing sent, and the month's record
still says what the whole month needs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gigstack_async.bulk import content
from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile
from tests.bulk._support import keyed_cli, month_results, world_of, xml_names

FAST = ("--rfc-type", "received", "--poll-interval", "0.02")


@pytest.mark.parametrize("code", [5002, 5003])
async def test_the_original_partial_command_ends_ok_and_sends_nothing(
    code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rule = SatCodeRule(code, month="2024-08", whole_month=True)
    config = SandboxConfig(speed=3000, seed=5, profile=ServerProfile(sat_codes=(rule,)))
    out = tmp_path / "A"
    async with world_of(config) as (sandbox, client):
        assert (await month_results(client, out, "2024-08-15", "2024-08-31"))["2024-08"].ok
        own = xml_names(out / "2024-08")
        assert len(own) == 22
        assert not (await month_results(client, out, "2024-08", "2024-08"))["2024-08"].ok
        resend = ("journal", "resend", out, "2024-08", "--force", "--yes")
        assert await asyncio.to_thread(keyed_cli, sandbox, *resend) == 0
        refused = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert (refused.stage, refused.ok) == ("sat-failed", False)
        creates = len(sandbox.state.calls_to("createDownloadRequest"))
        capsys.readouterr()

        # bulk(): the original dates, and days within them, are all in the folder.
        # Review 9k #4: only the plan's days' CFDIs (08-16..31 leaves 08-15's out).
        heads = content.cfdi_heads(sorted((out / "2024-08").iterdir()))
        late = {Path(h.name).stem.upper() for h in heads if h.day and h.day.day >= 16}
        assert late < own
        for start, count, files in (("2024-08-15", 22, own), ("2024-08-16", None, late)):
            again = (await month_results(client, out, start, "2024-08-31"))["2024-08"]
            assert (again.ok, again.stage, again.error) == (True, "done", None)
            assert {p.stem.upper() for p in again.files} == files
            assert again.invoice_count == count
        # The CLI: the original command exits 0 (twice: every run of it).
        plan = ("sat", "download", "--from", "2024-08-15", "--to", "2024-08-31", "--out", out)
        for _ in range(2):
            assert await asyncio.to_thread(keyed_cli, sandbox, *plan, *FAST) == 0
        printed = capsys.readouterr().out
        assert "1 ok, 0 not ok; 22 invoices; 22 files" in printed
        assert "asks again" not in printed
        assert len(sandbox.state.calls_to("createDownloadRequest")) == creates  # nothing sent

        # The whole month is still what SAT refused, with the way to its missing days.
        whole = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert (whole.stage, whole.ok) == ("sat-failed", False)
        assert whole.error is not None
        assert f"SAT {code}" in whole.error
        assert "2024-08-01..2024-08-14" in (whole.hint or "")
        assert len(sandbox.state.calls_to("createDownloadRequest")) == creates
