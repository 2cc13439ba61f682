"""Newcomer 9d #2: after SAT 5002, following "run the month with other dates" lost a day.

SAT refused August's whole-month request with 5002 (its limit of requests for those dates is
exhausted, for good). The user ran 2024-08-01..2024-08-30 into the same folder as the hint
said; the next full run reported August `done`, "ok", exit 0, with no MISSING DAYS, and the
`journal resend --force` that `journal show` suggested billed 2024-08-01..2024-08-30 again.
Now: the month is never ok while days of the plan are missing, resend never asks for dates
SAT refused or for the same days again, and the 5002 hint leads to the whole month (parts in
their own folders, then `journal split`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import MonthResult
from gigstack_async.bulk.repair import record
from gigstack_async.bulk.store import JournalStore
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile
from tests.bulk._support import CREATE, JOURNAL, calls, month_results, world_of
from tests.bulk._support import keyed_cli as cli


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    # As `--sat-code 2024-08:5002`: SAT refuses August's whole-month request, other dates pass.
    rule = SatCodeRule(5002, month="2024-08", whole_month=True)
    async with world_of(
        SandboxConfig(speed=3000, seed=9, profile=ServerProfile(sat_codes=(rule,)))
    ) as both:
        yield both


async def run(
    client: GigstackClient, out: Path, start: str = "2024-07", end: str = "2024-08"
) -> dict[str, MonthResult]:
    return await month_results(client, out, start, end)


def creates(sandbox: Sandbox) -> int:
    return calls(sandbox, CREATE)


async def test_other_dates_into_the_same_folder_never_end_ok_without_the_missing_days(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, client = world
    out = tmp_path / "d"
    first = await run(client, out)
    assert (first["2024-08"].stage, first["2024-07"].stage) == ("sat-failed", "done")
    hint = first["2024-08"].hint or ""
    assert "each into its own download_to= folder" in hint  # Python's words for --out
    assert f"`gigstack-async journal split {out} 2024-08 {out}-2024-08a {out}-2024-08b`" in hint
    # bulk()'s hint in bulk() terms, complete (newcomer 9f #3: CLI syntax with `<folder a>`).
    assert (
        "e.g. `client.downloads.bulk('2024-08-01', '2024-08-16', rfc_type='received', "
        f"download_to='{out}-2024-08a')` and `client.downloads.bulk('2024-08-17', '2024-08-31', "
        f"rfc_type='received', download_to='{out}-2024-08b')` (on a client with no team= set, as "
        "this run's (the API key's own team), with the other arguments of your bulk() call)"
    ) in hint
    assert "the month then says MISSING DAYS" in hint  # the same folder is not the way

    # What the newcomer did: other dates, the same folder.
    part = await run(client, out, "2024-08-01", "2024-08-30")
    assert part["2024-08"].stage == "done"

    # Before: `2024-08 … done`, "6 ok", exit 0. Now: not ok, the missing day named.
    again = await run(client, out)
    august = again["2024-08"]
    assert august.stage == "done"
    assert not august.ok
    # What is missing in `error`, the way in `hint` (newcomer 9k #3: `hint` was empty).
    assert august.error == (
        "MISSING DAYS: requested earlier for 2024-08-01..2024-08-30; SAT 5002 refused the "
        "plan's 2024-08-01..2024-08-31 earlier (its limit of requests for these dates is "
        "exhausted): they are never sent again. missing here: 2024-08-31"
    )
    assert august.hint == (
        "Download that range "
        "into its own download_to= folder (`client.downloads.bulk('2024-08-31', '2024-08-31', "
        f"rfc_type='received', download_to='{out}-2024-08a')`, on a client with no team= set, as "
        "this run's (the API key's own team), with the other arguments of your "
        "bulk() call; other dates for SAT: a new request, possibly billed); once done, "
        f"`gigstack-async journal split {out} 2024-08 {out}-2024-08a` records the month as "
        "complete (runs of this folder then end ok)"
    )
    assert again["2024-07"].ok

    # The CLI run of the same plan exits not ok and prints MISSING DAYS.
    capsys.readouterr()
    argv = ["sat", "download", "--from", "2024-07", "--to", "2024-08", "--rfc-type", "received"]
    code = await asyncio.to_thread(cli, sandbox, *argv, "--out", out, "--yes")
    assert code == 1
    assert "MISSING DAYS" in capsys.readouterr().out

    # `journal show` no longer suggests a resend that can only bill the same days again ...
    assert await asyncio.to_thread(cli, sandbox, "journal", "show", out, "2024-08") == 0
    shown = capsys.readouterr().out
    assert "missing here: 2024-08-31" in shown
    assert "journal resend --force" not in shown
    # ... and the resend is refused: the plan's whole month is exhausted (SAT 5002).
    sent = creates(sandbox)
    code = await asyncio.to_thread(
        cli, sandbox, "journal", "resend", out, "2024-08", "--force", "--yes"
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "SAT 5002 says its limit of requests for 2024-08-01..2024-08-31 is exhausted" in err
    assert "missing here: 2024-08-31" in err
    assert (await run(client, out))["2024-08"].error is not None
    assert creates(sandbox) == sent  # nothing sent: neither 01..31 (refused) nor 01..30 again

    # The way the error names: the missing day into its own folder, then `journal split`.
    rest = tmp_path / "d-08-31"
    assert (await run(client, rest, "2024-08-31", "2024-08-31"))["2024-08"].ok
    capsys.readouterr()
    assert await asyncio.to_thread(cli, sandbox, "journal", "split", out, "2024-08", rest) == 0
    assert "2024-08 is now split" in capsys.readouterr().out
    sent = creates(sandbox)
    final = await run(client, out)
    assert (final["2024-08"].stage, final["2024-08"].ok, final["2024-08"].error) == (
        "split",
        True,
        None,
    )
    assert creates(sandbox) == sent
    with JournalStore.open_existing(out / JOURNAL) as store:
        august_state = store.get("2024-08")
    assert (str(august_state.start), str(august_state.end)) == ("2024-08-01", "2024-08-31")
    assert len(august_state.files) == len(part["2024-08"].files) > 0  # its own stay here


async def test_a_resent_month_whose_plan_dates_sat_refused_sends_nothing(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # The old route (`journal resend --force` from Python, or a journal from before): the month
    # is planned with its old 01..30 while the plan shows 01..31. Neither is sent.
    sandbox, client = world
    out = tmp_path / "d"
    await run(client, out)
    await run(client, out, "2024-08-01", "2024-08-30")
    with JournalStore.open_existing(out / JOURNAL) as store:
        state = store.get("2024-08")
        record(store, *m.transition(state, m.AllowResend(force=True)))
    sent = creates(sandbox)
    again = await run(client, out)
    august = again["2024-08"]
    assert (august.stage, august.ok) == ("sat-failed", False)
    assert august.error is not None
    assert "SAT 5002 refused 2024-08-01..2024-08-31 earlier" in august.error
    assert creates(sandbox) == sent  # before: 01..30 was billed again


async def test_the_5002_hint_leads_to_the_whole_month(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, client = world
    out, part_a, part_b = tmp_path / "cfdi", tmp_path / "cfdi-08a", tmp_path / "cfdi-08b"
    first = await run(client, out, "2024-08", "2024-08")
    hint = first["2024-08"].hint or ""
    # The hint's own example ranges, each into its own folder.
    assert (
        f"bulk('2024-08-01', '2024-08-16', rfc_type='received', download_to='{out}-2024-08a')"
        in hint
    )
    assert (
        f"bulk('2024-08-17', '2024-08-31', rfc_type='received', download_to='{out}-2024-08b')"
        in hint
    )
    a = await run(client, part_a, "2024-08-01", "2024-08-16")
    b = await run(client, part_b, "2024-08-17", "2024-08-31")
    assert a["2024-08"].stage == b["2024-08"].stage == "done"
    capsys.readouterr()
    code = await asyncio.to_thread(cli, sandbox, "journal", "split", out, "2024-08", part_a, part_b)
    assert code == 0
    assert "2024-08 is now split" in capsys.readouterr().out
    sent = creates(sandbox)
    again = await run(client, out, "2024-08", "2024-08")
    assert (again["2024-08"].stage, again["2024-08"].ok) == ("split", True)
    assert creates(sandbox) == sent


async def test_a_missing_days_resend_refused_with_5002_keeps_the_days_on_disk_as_a_part(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    """Review 9g #4 (b7_missing_days.py): August was done for 08-15..08-31 only (MISSING DAYS);
    the printed `journal resend --force` asked for the whole month, SAT refused it with 5002,
    and the month forgot the 22 files it had: the hint asked for 08-01..16 and 08-17..31 (billed
    again, the days on disk included) and `journal split` refused a part with 08-01..08-14."""
    sandbox, client = world
    out, part = tmp_path / "A", tmp_path / "B"
    first = await run(client, out, "2024-08-15", "2024-09-15")
    assert first["2024-08"].ok
    on_disk = sorted(p.name for p in (out / "2024-08").iterdir())
    assert on_disk

    missing = (await run(client, out, "2024-08", "2024-09"))["2024-08"]
    assert "MISSING DAYS" in (missing.error or "")
    assert f"journal resend {out} 2024-08 --force" in (missing.hint or "")  # newcomer 9k #3
    assert (
        await asyncio.to_thread(
            cli, sandbox, "journal", "resend", out, "2024-08", "--force", "--yes"
        )
        == 0
    )

    refused = (await run(client, out, "2024-08", "2024-09"))["2024-08"]
    assert (refused.stage, refused.error and "5002" in refused.error) == ("sat-failed", True)
    hint = refused.hint or ""
    assert f"already holds 2024-08-15..2024-08-31 ({len(on_disk)} file(s)" in hint
    assert (
        f"bulk('2024-08-01', '2024-08-14', rfc_type='received', download_to='{out}-2024-08a')"
        in hint
    )
    assert "'2024-08-17'" not in hint  # the days on disk are never asked again
    assert "'2024-08-16'" not in hint
    assert f"`gigstack-async journal split {out} 2024-08 {out}-2024-08a`" in hint
    assert sorted(p.name for p in (out / "2024-08").iterdir()) == on_disk

    # Following the hint: only the missing days, into their own folder, then split.
    assert (await run(client, part, "2024-08-01", "2024-08-14"))["2024-08"].ok
    assert await asyncio.to_thread(cli, sandbox, "journal", "split", out, "2024-08", part) == 0
    final = await run(client, out, "2024-08", "2024-09")
    assert final["2024-08"].ok, final  # (September still says MISSING DAYS: not resent)
    assert final["2024-08"].stage == "split"
    assert len(final["2024-08"].files) == len(on_disk)
    # Every August create the server saw: the first part, the refused whole month, the
    # missing days. Never the days on disk again.
    asked = [
        c.criteria
        for c in sandbox.state.calls_to("createDownloadRequest")
        if "2024-08-" in (c.criteria or "")
    ]
    assert asked == [
        "received cfdi 2024-08-15..2024-08-31",
        "received cfdi 2024-08-01..2024-08-31",
        "received cfdi 2024-08-01..2024-08-14",
    ]
