"""Review 9i #1, #5, #6 and newcomer 9f #3, #7b: a month whose folder already holds some of its
days (its own part, kept through `journal resend --force`) is never asked for them again, is
counted whole once split, and its texts say what is true.

#1 (d9_5003_ownpart.py): August done for 08-15..31 (22 files), the whole month resent, and SAT
answered 5003. The printed commands asked for 08-01..15 and 08-16..31: copied exactly, August
ended with 4 creates and 22 of the parts' 34 CFDIs were already in the folder. Now the hint asks
only for 08-01..14 and `journal split` counts the folder's days (3 creates, no CFDI twice).
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk.events import MonthResult
from gigstack_async.bulk.hints import shell_quote, with_journal
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile
from tests.bulk._support import keyed_cli, month_results, world_of, xml_names

COMMAND = re.compile(r"`gigstack-async ((?:sat download|journal split) [^`]*)`")


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    rule = SatCodeRule(5003, month="2024-08", whole_month=True)
    config = SandboxConfig(speed=3000, seed=5, profile=ServerProfile(sat_codes=(rule,)))
    async with world_of(config) as both:
        yield both


def august_creates(sandbox: Sandbox) -> list[str]:
    return [
        c.criteria or ""
        for c in sandbox.state.calls_to("createDownloadRequest")
        if "2024-08-" in (c.criteria or "")
    ]


async def cli(sandbox: Sandbox, *argv: object) -> int:
    return await asyncio.to_thread(keyed_cli, sandbox, *argv)


async def refused_5003_with_own_part(
    sandbox: Sandbox, client: GigstackClient, out: Path
) -> MonthResult:
    """August done for 08-15..31 into `out`, resent for the whole month: SAT 5003."""
    assert (await month_results(client, out, "2024-08-15", "2024-08-31"))["2024-08"].ok
    assert "MISSING DAYS" in (
        (await month_results(client, out, "2024-08", "2024-08"))["2024-08"].error or ""
    )
    assert await cli(sandbox, "journal", "resend", out, "2024-08", "--force", "--yes") == 0
    refused = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
    assert (refused.stage, refused.ok) == ("sat-failed", False)
    return refused


async def test_the_5003_commands_copied_exactly_never_ask_for_the_folders_days_again(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, client = world
    monkeypatch.chdir(tmp_path)
    out = Path("A")
    refused = await refused_5003_with_own_part(sandbox, client, out)
    own = xml_names(out / "2024-08")
    assert len(own) == 22
    # bulk()'s hint in bulk() terms: only the days the folder misses.
    assert (
        "`client.downloads.bulk('2024-08-01', '2024-08-14', rfc_type='received', "
        "download_to='A-2024-08a')`" in (refused.hint or "")
    )

    # The CLI's: before, --from 2024-08-01 --to 2024-08-15 and --from 2024-08-16 --to 2024-08-31.
    capsys.readouterr()
    month = ("--from", "2024-08", "--to", "2024-08", "--rfc-type", "received", "--out", out)
    fast = ("--poll-interval", "0.02", "--yes")
    assert await cli(sandbox, "sat", "download", *month, *fast) == 1
    printed = capsys.readouterr().out
    assert "already holds 2024-08-15..2024-08-31 (22 file(s)" in printed
    commands = list(dict.fromkeys(COMMAND.findall(printed)))
    assert commands == [
        "sat download --from 2024-08-01 --to 2024-08-14 --rfc-type received --out A-2024-08a",
        "journal split A 2024-08 A-2024-08a",
    ]
    # The resend refusal names the same commands (it asked for the halves too).
    assert await cli(sandbox, "journal", "resend", out, "2024-08") == 2
    refusal = capsys.readouterr().err
    assert "only the days its folder does not hold (2024-08-15..2024-08-31 is there)" in refusal
    assert "--from 2024-08-01 --to 2024-08-14 --rfc-type received --out A-2024-08a" in refusal

    # Copied as printed: the part, then the split (which counts the folder's own days).
    for command in commands:
        extra = fast if command.startswith("sat") else ()
        assert await cli(sandbox, *shlex.split(command), *extra) == 0
    split = capsys.readouterr().out
    assert "(2024-08-15..2024-08-31, 22 file(s), this folder's own request)" in split

    again = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
    assert (again.stage, again.ok, again.error) == ("split", True, None)
    part = xml_names(Path("A-2024-08a") / "2024-08")
    assert len(part) == 12
    assert not part & own  # no CFDI downloaded twice
    # The month's count is its parts' together (before: 0, left out of the totals).
    assert again.invoice_count == len(own | part)
    assert august_creates(sandbox) == [
        "received cfdi 2024-08-15..2024-08-31",
        "received cfdi 2024-08-01..2024-08-31",  # refused: 5003
        "received cfdi 2024-08-01..2024-08-14",
    ]
    # A resend of the split month is refused the same way with --force or without (before:
    # "pass --force only if ...", then --force refused with "only expired, failed ...").
    capsys.readouterr()
    for force in ((), ("--force",)):
        assert await cli(sandbox, "journal", "resend", out, "2024-08", *force, "--yes") == 2
        refusal = capsys.readouterr().err
        assert "2024-08 is split: SAT 5003 (too many CFDIs for one request)" in refusal
        assert "never requested again, with --force or not" in refusal
        assert "pass --force" not in refusal
    assert len(august_creates(sandbox)) == 3

    # Files equal the server's ground truth: every CFDI of the requests that delivered.
    delivered = [c.created for c in sandbox.state.calls_to("createDownloadRequest")]
    truth = set().union(*(sandbox.state.ground_truth.get(rid or "", ()) for rid in delivered))
    assert {u.upper() for u in truth} == own | part


# ------------------------------------------------------------------ SAT 5002: commands to paste


async def test_the_5002_commands_copied_exactly_download_the_month(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Newcomer 9f #3: the 5002 hint printed `--out <folder a>` with no --rfc-type ("(with this
    run's --rfc-type and --type)"): pasted, argparse refused it. Now each command is complete,
    into a sibling of the run's folder, as the 5003 hint's."""
    rule = SatCodeRule(5002, month="2024-08", whole_month=True)
    config = SandboxConfig(speed=3000, seed=5, profile=ServerProfile(sat_codes=(rule,)))
    monkeypatch.chdir(tmp_path)
    async with world_of(config) as (sandbox, client):
        month = ("--from", "2024-08", "--to", "2024-08", "--rfc-type", "issued", "--type")
        fast = ("--poll-interval", "0.02", "--yes")
        assert await cli(sandbox, "sat", "download", *month, "metadata", "--out", "m", *fast) == 1
        commands = list(dict.fromkeys(COMMAND.findall(capsys.readouterr().out)))
        assert commands == [
            "sat download --from 2024-08-01 --to 2024-08-16 --rfc-type issued --type metadata "
            "--out m-2024-08a",
            "sat download --from 2024-08-17 --to 2024-08-31 --rfc-type issued --type metadata "
            "--out m-2024-08b",
            "journal split m 2024-08 m-2024-08a m-2024-08b",
        ]
        for command in commands:
            extra = fast if command.startswith("sat") else ()
            assert await cli(sandbox, *shlex.split(command), *extra) == 0
        kind = {"rfc_type": "issued", "request_type": "metadata"}
        again = (await month_results(client, Path("m"), "2024-08", "2024-08", **kind))["2024-08"]
        assert (again.stage, again.ok) == ("split", True)


def test_part_folders_of_out_dot_are_visible_siblings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 9i #6 (d1_5003_cli.py OUT .): `--out .` named the parts `.-2024-03a`, hidden
    folders inside the download folder. Now they are siblings named after the folder."""
    (tmp_path / "cfdi" / "sub").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "cfdi")
    text = "`gigstack-async sat download --out <out>-2024-03a`"
    sibling = str(tmp_path / "cfdi-2024-03a")
    for out in (".", "./", "sub/..", "../cfdi/."):
        assert with_journal(text, "2024-03", out, out=out) == (
            f"`gigstack-async sat download --out {shell_quote(sibling)}`"
        )
    # A folder named as such keeps the name the user gave it.
    assert with_journal(text, "2024-03", "dl/", out="dl/") == (
        "`gigstack-async sat download --out dl-2024-03a`"
    )
