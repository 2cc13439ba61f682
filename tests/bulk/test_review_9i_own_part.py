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
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import MonthResult
from gigstack_async.bulk.hints import shell_quote, with_journal
from gigstack_async.bulk.store import JournalStore
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile
from tests.bulk._support import JOURNAL, keyed_cli, month_results, world_of, xml_names

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

    # The printed split again (run twice): was refused, "the parts do not cover ...
    # 2024-08-15..2024-08-31 missing"; now the same split, nothing changed.
    assert await cli(sandbox, *shlex.split(commands[1])) == 0
    said = capsys.readouterr().out
    assert "2024-08 is already split with these parts: nothing changed" in said
    assert "(2024-08-15..2024-08-31, 22 file(s), this folder's own request)" in said
    same = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
    assert (same.stage, same.ok, same.invoice_count) == ("split", True, len(own | part))
    assert len(august_creates(sandbox)) == 3
    # A split recorded before `split_own` existed (its record lacks it) is the same split too.
    with JournalStore.open_existing(out / JOURNAL) as store:
        recorded = store.get("2024-08")
        store.put(attrs.evolve(recorded, split_own=()))
    assert await cli(sandbox, *shlex.split(commands[1])) == 0
    assert "already split with these parts: nothing changed" in capsys.readouterr().out

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


# ------------------------------------------------------------------ a plan and the own part

AUG = (date(2024, 8, 1), date(2024, 8, 31))
OWN = m.OwnPart(date(2024, 8, 15), date(2024, 8, 31), ("a.xml", "b.xml"), 2)
# Done for 08-01..14 in its folder after SAT 5002 refused the whole month; 08-15..31 are its
# own part (an earlier request's, in the same folder).
DONE_EARLY = attrs.evolve(
    m.MonthState("2024-08", date(2024, 8, 1), date(2024, 8, 14), "received", "cfdi"),
    stage=m.Stage.DONE,
    request_id="r3",
    invoice_count=3,
    exhausted=(AUG,),
    own_part=OWN,
    extracted=(m.ExtractedPackage("p3", ("c.xml", "d.xml", "e.xml")),),
)


@pytest.mark.parametrize(
    "dates",
    [
        (date(2024, 8, 15), date(2024, 8, 31)),  # the own part's days alone
        (date(2024, 8, 10), date(2024, 8, 31)),  # some of the request's, all the own part's
        (date(2024, 8, 2), date(2024, 8, 20)),
    ],
)
def test_a_plan_whose_days_the_own_part_holds_misses_none(dates: tuple[date, date]) -> None:
    # Review 9i #6 (d2_replan.py partial|partres): MISSING DAYS "were not requested" and a
    # printed `journal resend --force` that was then refused ("nothing is missing here").
    decision = m.plan_decision(DONE_EARLY, *dates)
    assert decision == m.PlanDecision(
        None,
        f"the plan's {dates[0]}..{dates[1]} are all in the month's folder: requested earlier "
        "for 2024-08-01..2024-08-14, and 2024-08-15..2024-08-31 by an earlier request (2 "
        "file(s)); nothing was sent",
        m.PlanCreate.NO,
    )
    assert not decision.note.startswith("MISSING DAYS")  # type: ignore[union-attr]
    # Without the own part the same plan does miss days.
    bare = m.plan_decision(attrs.evolve(DONE_EARLY, own_part=None), *dates)
    assert (bare.note or "").startswith("MISSING DAYS")


def test_the_own_part_completes_the_month_only_with_its_files_on_disk() -> None:
    # Review 9i #5 (d2_replan.py delA / delA2): recorded `split`, ok, with 12 of 34 on disk.
    complete = m.plan_decision(DONE_EARLY, *AUG)
    assert complete.state is not None
    assert (complete.state.stage, complete.state.invoice_count) == (m.Stage.SPLIT, 5)
    lost = m.plan_decision(DONE_EARLY, *AUG, lost=("b.xml", "d.xml"))
    assert lost == m.PlanDecision(
        None,
        "MISSING FILES: 2024-08-01..2024-08-31 would be complete with 2024-08-01..2024-08-14 "
        "(request r3) and 2024-08-15..2024-08-31 (an earlier request), both in the month's "
        "folder, but it no longer holds 2 of their 5 file(s), e.g. b.xml: not recorded "
        "complete. Put them back and run the same command again; if they are gone, download "
        "the days they were for into another --out folder, then `gigstack-async journal split "
        "2024-08 <that folder> --force` records the month with them",
        m.PlanCreate.NO,
    )


def test_a_refused_replan_leaves_no_stale_reason_for_the_months_own_dates() -> None:
    # Review 9i #6 (d2_replan.py overlap): the full-month run still said "the plan's
    # 2024-08-01..2024-08-20 asks again for ...".
    refused = attrs.evolve(
        DONE_EARLY,
        start=AUG[0],
        end=AUG[1],
        stage=m.Stage.SAT_FAILED,
        sat_code=5002,
        request_id=None,
        extracted=(),
        reason="SAT 5002: the limit of requests for these dates is exhausted (agotadas)",
    )
    held = m.replanned(refused, date(2024, 8, 1), date(2024, 8, 20))
    assert (held.reason or "").startswith("the plan's 2024-08-01..2024-08-20 asks again")
    again = m.plan_decision(held, *AUG)
    assert again.state == attrs.evolve(
        held,
        reason="SAT 5002: the limit of requests for these dates is exhausted",
        hint=m._5002_hint(held, *AUG),
    )
    assert (again.note, again.create) == (None, m.PlanCreate.NO)
    assert m.plan_decision(refused, *AUG).state is None  # its own reason: kept as it is


async def test_a_run_never_counts_the_month_complete_with_its_own_parts_files_gone(
    tmp_path: Path,
) -> None:
    rule = SatCodeRule(5002, month="2024-08", whole_month=True)
    config = SandboxConfig(speed=3000, seed=5, profile=ServerProfile(sat_codes=(rule,)))
    async with world_of(config) as (sandbox, client):
        out = tmp_path / "A"
        assert (await month_results(client, out, "2024-08-15", "2024-08-31"))["2024-08"].ok
        await month_results(client, out, "2024-08", "2024-08")  # MISSING DAYS
        assert await cli(sandbox, "journal", "resend", out, "2024-08", "--force", "--yes") == 0
        assert (await month_results(client, out, "2024-08", "2024-08"))["2024-08"].stage == (
            "sat-failed"  # 5002: 08-15..31 stay as its own part
        )
        assert (await month_results(client, out, "2024-08-01", "2024-08-14"))["2024-08"].ok
        own = sorted((out / "2024-08").glob("*.xml"))[:5]
        saved = {path: path.read_bytes() for path in own}
        for path in own:
            path.unlink()

        full = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert (full.stage, full.ok) == ("done", False)  # before: split, ok
        assert (full.error or "").startswith("MISSING FILES: 2024-08-01..2024-08-31 would be")
        assert "no longer holds 5 of their 34 file(s)" in (full.error or "")
        for path in own:  # put back: complete (whole CFDIs: a damaged one is missing, 9n #3)
            path.write_bytes(saved[path])
        again = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert (again.stage, again.ok, again.invoice_count) == ("split", True, 34)
