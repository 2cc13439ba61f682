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

Review h1: the same for a request whose package SAT answered 5007 (expired: it is gone, as
unusable as one served twice), for a month whose record `journal repair` rebuilt from its log,
and for 5005 reported as a request that ends `failed`.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import sqlite3
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
        # The resend, then the two other ranges: no loop.
        await _split_as_printed(sandbox, out, _printed(out, capsys), creates=4)


async def _split_as_printed(
    sandbox: Sandbox, out: Path, printed: list[str], *, creates: int
) -> None:
    """Never the loop's way (adopt, resend): the month's days under other dates, run as
    printed, then `journal split`; the month ends split, with `creates` creates in all."""
    assert not [c for c in printed if " journal adopt " in c or " journal resend " in c]
    runs = [c for c in printed if c.startswith("gigstack-async sat download")]
    (split,) = [c for c in printed if c.startswith("gigstack-async journal split")]
    assert len(runs) == 2
    for run in runs:
        argv = [*shlex.split(run)[1:], "--yes", "--timeout", "5", "--poll-interval", "0.05"]
        assert await asyncio.to_thread(keyed_cli, sandbox, *argv) == 0
    assert main(shlex.split(split)[1:]) == 0
    assert await asyncio.to_thread(keyed_cli, sandbox, *_download(out)) == 0
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get(AUG).stage is m.Stage.SPLIT
    assert calls(sandbox, CREATE) == creates
    assert max(sandbox.state.downloads_per_package().values()) <= 2


def _reason(out: Path) -> str:
    with JournalStore.open_readonly(out / JOURNAL) as store:
        state = store.get(AUG)
    assert state.stage is m.Stage.NEEDS_ATTENTION
    return state.reason or ""


@pytest.mark.parametrize("how", ["match", "refused"])
async def test_an_expired_request_given_back_for_a_resend_needs_other_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    """Review h1 #1: the month's package answered SAT 5007 (gone), its hint said resend, and
    the server answered the resend with that request. Before, refused: adopt/resend for ever
    (one more create each round); match: `journal adopt` of the expired request (a GET known
    to fail), then resend, and a text saying SAT served it twice."""
    out = tmp_path / "cli"
    gone = SatCodeRule(5007, month=AUG, whole_month=True)
    profile = ServerProfile(sat_codes=(gone,))
    async with Sandbox(SandboxConfig(speed=3000, seed=11, profile=profile)) as sandbox:
        await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        (request,) = sandbox.state.download_requests
        resend = _printed(out, capsys)
        assert resend == [f"gigstack-async journal resend {out} {AUG}"]
        rule = SatCodeRule(5005, month=AUG, whole_month=True, duplicate_as=how)  # type: ignore[arg-type]
        sandbox.state.profile = attrs.evolve(sandbox.state.profile, sat_codes=(gone, rule))
        assert main([*shlex.split(resend[0])[1:], "--yes"]) == 0
        await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        assert calls(sandbox, CREATE) == 2
        assert calls(sandbox, PACKAGE) == 1  # the 5007 only: never a GET of it again
        reason = _reason(out)
        assert request.request_id in reason
        assert "expired" in reason
        assert "twice" not in reason  # SAT never served it: it answered 5007
        await _split_as_printed(sandbox, out, _printed(out, capsys), creates=4)


@pytest.mark.parametrize("how", ["match", "refused"])
async def test_a_repaired_month_keeps_the_spent_request_guard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    """Review h1 #2: the guard above fired, then the month's record was damaged and `journal
    repair` rebuilt it from the log. Before, the rebuilt month offered `journal adopt` of the
    spent request (nothing to download) and `journal resend` (one more create, answered with
    it again)."""
    out = tmp_path / "cli"
    async with Sandbox(SandboxConfig(speed=3000, seed=11, profile=ServerProfile())) as sandbox:
        sandbox.state.force_fault(PACKAGE, "after_truncate", 2)
        for _ in range(2):
            await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        rule = SatCodeRule(5005, month=AUG, whole_month=True, duplicate_as=how)  # type: ignore[arg-type]
        sandbox.state.profile = attrs.evolve(sandbox.state.profile, sat_codes=(rule,))
        assert main(["journal", "resend", str(out), AUG, "--yes"]) == 0
        await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        assert "cannot finish the month" in _reason(out)
        db = sqlite3.connect(out / JOURNAL)
        db.execute("UPDATE months SET state = '{broken' WHERE key = ?", (AUG,))
        db.commit()
        db.close()
        assert main(["journal", "repair", str(out), "--yes"]) == 0
        assert "cannot finish it" in _reason(out)
        await _split_as_printed(sandbox, out, _printed(out, capsys), creates=4)


async def test_5005_reported_failed_after_a_spent_request_needs_other_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review h1 #4: the resend's request ends `failed` with 5005 and the history lists it and
    the month's spent request. Before, `journal adopt <request id>` (none to adopt) and
    `journal resend` (always refused: 2 identical requests sent) were printed."""
    out = tmp_path / "cli"
    async with Sandbox(SandboxConfig(speed=3000, seed=11, profile=ServerProfile())) as sandbox:
        sandbox.state.force_fault(PACKAGE, "after_truncate", 2)
        for _ in range(2):
            await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        rule = SatCodeRule(5005, month=AUG, whole_month=True, duplicate_as="failed")
        sandbox.state.profile = attrs.evolve(sandbox.state.profile, sat_codes=(rule,))
        assert main(["journal", "resend", str(out), AUG, "--yes"]) == 0
        await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        assert "None of the identical requests the history lists can finish" in _reason(out)
        await _split_as_printed(sandbox, out, _printed(out, capsys), creates=4)
