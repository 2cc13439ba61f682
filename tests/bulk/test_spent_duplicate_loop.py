"""Review 9v #4: a month whose own request is finished and whose package SAT already served
twice is sent again (`journal resend`, as its hint said), and the server answers with that
very request: gigstack `duplicate: true`, or SAT 5005 with the history listing only it.

Before, the printed way looped: `journal adopt` it (nothing to download: "resend"), resend,
the same answer, adopt... each resend a create that may be billed. Now the month needs the
user with the way that works: the month's days under other dates (two ranges, each into its
own folder, then `journal split`). Each replay follows the printed commands literally and
counts creates and package GETs on the sandbox's own log.

How gigstack reports 5005 is a GUESS (`SatCodeRule.duplicate_as`): both ways are played. By
SAT's docs 5005 means an *active* identical request; the sandbox here answers it for the
month's whole dates whatever the request's state, the worst reading.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile
from tests.bulk._support import CREATE, JOURNAL, PACKAGE, calls, keyed_cli

AUG = "2024-08"
COMMAND = re.compile(r"`(gigstack-async (?:journal|sat) [^`]+)`")


def _download(out: Path) -> tuple[object, ...]:
    return (
        *("sat", "download", "--from", AUG, "--to", AUG, "--rfc-type", "received"),
        *("--out", out, "--yes", "--timeout", "5", "--poll-interval", "0.05"),
    )


def _printed(out: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    main(["journal", "show", str(out), AUG])
    return COMMAND.findall(" ".join(capsys.readouterr().out.split()))


@pytest.mark.parametrize("how", ["match", "refused"])
async def test_a_spent_request_given_back_for_a_resend_needs_other_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    out = tmp_path / "cli"
    async with Sandbox(SandboxConfig(speed=3000, seed=11, profile=ServerProfile())) as sandbox:
        # Both of SAT's downloads of August's package break off: "resend" is its way.
        sandbox.state.force_fault(PACKAGE, "after_truncate", 2)
        for _ in range(2):
            await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        (request,) = sandbox.state.download_requests
        first = request.request_id
        assert calls(sandbox, PACKAGE) == 2
        resend = _printed(out, capsys)
        assert resend == [f"gigstack-async journal resend {out} {AUG}"]
        rule = SatCodeRule(5005, month=AUG, whole_month=True, duplicate_as=how)  # type: ignore[arg-type]
        sandbox.state.profile = attrs.evolve(sandbox.state.profile, sat_codes=(rule,))
        assert main([*shlex.split(resend[0])[1:], "--yes"]) == 0
        await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        assert calls(sandbox, CREATE) == 2
        with JournalStore.open_readonly(out / JOURNAL) as store:
            state = store.get(AUG)
        assert state.stage is m.Stage.NEEDS_ATTENTION
        assert f"{first}" in (state.reason or "")
        assert "cannot finish the month" in (state.reason or "")
        printed = _printed(out, capsys)
        # Never the loop's way: adopting the spent request again, or the same resend.
        assert not [c for c in printed if " journal adopt " in c or " journal resend " in c]
        runs = [c for c in printed if c.startswith("gigstack-async sat download")]
        (split,) = [c for c in printed if c.startswith("gigstack-async journal split")]
        assert len(runs) == 2
        # Following it: the month's days under other dates, then `journal split`.
        for run in runs:
            argv = [*shlex.split(run)[1:], "--yes", "--timeout", "5", "--poll-interval", "0.05"]
            assert await asyncio.to_thread(keyed_cli, sandbox, *argv) == 0
        assert main(shlex.split(split)[1:]) == 0
        assert await asyncio.to_thread(keyed_cli, sandbox, *_download(out)) == 0
        with JournalStore.open_readonly(out / JOURNAL) as store:
            assert store.get(AUG).stage is m.Stage.SPLIT
        assert calls(sandbox, CREATE) == 4  # the resend, then the two other ranges: no loop
        assert max(sandbox.state.downloads_per_package().values()) <= 2
