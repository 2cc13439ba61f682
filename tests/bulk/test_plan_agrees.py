"""The plan preview, the confirmation's count and the run agree on which months are sent.

`BulkDownload.identical_requests` (the plan preview: the months it would hold), `may_create`
(the count `sat download` asks to confirm) and the run (`engine.merge_plan`) each had their
own copy of "what does a run do with a recorded month and the plan's dates"; the copies had
drifted. A SAT-failed 5002 month whose plan asks again for days its own part holds sends
nothing (`machine.replanned`), and dates SAT refused with 5002 are never sent again
(`exhausted`), but the preview showed such months as held ("the account already has an
identical request ... These months are held") and the count included them. Now all three read
`machine.plan_decision`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.run import journal_identity
from gigstack_async.bulk.store import JournalStore
from gigstack_async.sandbox import Sandbox, SandboxConfig
from tests.bulk._support import JOURNAL, month_results, world_of
from tests.bulk._support import keyed_cli as cli

AUG = (date(2024, 8, 1), date(2024, 8, 31))
EARLY = (date(2024, 8, 1), date(2024, 8, 14))
LATE = (date(2024, 8, 15), date(2024, 8, 31))
AUGUST = m.MonthState(
    key="2024-08", start=AUG[0], end=AUG[1], rfc_type="received", request_type="cfdi"
)


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    async with world_of(SandboxConfig(speed=3000, seed=9)) as both:
        yield both


def record(client: GigstackClient, out: Path, state: m.MonthState) -> None:
    """A journal in `out` that recorded `state` for August (as earlier runs left it)."""
    out.mkdir()
    with JournalStore.open(
        out / JOURNAL, journal_identity(client._pipeline, "received", "cfdi")
    ) as s:
        s.bind_download_to(out)
        s.put(state)


async def elsewhere(client: GigstackClient, dates: tuple[date, date]) -> str:
    """The account's request for `dates` that another folder sent: identical to the plan's."""
    made = await client.downloads.create_request(
        start_date=dates[0], end_date=dates[1], rfc_type="received"
    )
    return made.request_id


def creates(sandbox: Sandbox) -> int:
    return len(sandbox.state.calls_to("createDownloadRequest"))


async def test_a_replan_of_days_the_own_part_holds_is_neither_held_nor_counted(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out = tmp_path / "A"
    own = m.OwnPart(*LATE, ("a.xml", "b.xml"))
    refused = attrs.evolve(
        AUGUST,
        stage=m.Stage.SAT_FAILED,
        sat_code=5002,
        exhausted=(AUG,),
        own_part=own,
        creates=2,
        reason="SAT 5002",
    )
    record(client, out, refused)
    await elsewhere(client, (date(2024, 8, 10), date(2024, 8, 20)))
    bulk = client.downloads.bulk("2024-08-10", "2024-08-20", rfc_type="received", download_to=out)
    # Was: (["2024-08"], {"2024-08": (the other folder's,)}), while the run sent nothing.
    assert (bulk.may_create(), await bulk.identical_requests()) == ([], {})
    result = (await month_results(client, out, "2024-08-10", "2024-08-20"))["2024-08"]
    assert (result.stage, result.ok) == ("sat-failed", False)
    assert "asks again for 2024-08-15..2024-08-20" in (result.error or "")
    assert creates(sandbox) == 1  # only the other folder's


async def test_the_cli_neither_shows_nor_asks_about_a_month_it_will_not_send(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same 5002 month, from `sat download` in a script (no terminal, no --yes).
    sandbox, client = world
    out = tmp_path / "A"
    own = m.OwnPart(*LATE, ("a.xml", "b.xml"))
    refused = attrs.evolve(
        AUGUST, stage=m.Stage.SAT_FAILED, sat_code=5002, exhausted=(AUG,), own_part=own
    )
    record(client, out, refused)
    await elsewhere(client, (date(2024, 8, 10), date(2024, 8, 20)))
    argv = ["sat", "download", "--from", "2024-08-10", "--to", "2024-08-20"]
    code = await asyncio.to_thread(cli, sandbox, *argv, "--rfc-type", "received", "--out", out)
    printed = capsys.readouterr()
    # Was: exit 2, "sat download may submit up to 1 download request that may be billed ...
    # pass --yes", after a plan saying the month is held. Nothing can be billed: it runs.
    assert "may submit" not in printed.err
    assert "identical request" not in printed.out
    assert "asks again for 2024-08-15..2024-08-20" in printed.out
    assert code == 1  # the month is not ok (sat-failed), and says why
    assert creates(sandbox) == 1


async def test_a_month_not_sent_yet_asked_for_exhausted_dates_is_neither_held_nor_counted(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # Replanned to 08-01..08-14 after SAT refused the whole month with 5002, interrupted before
    # its create; now the plan asks for the whole month again.
    sandbox, client = world
    out = tmp_path / "A"
    record(client, out, attrs.evolve(AUGUST, start=EARLY[0], end=EARLY[1], exhausted=(AUG,)))
    await elsewhere(client, AUG)
    bulk = client.downloads.bulk("2024-08", "2024-08", rfc_type="received", download_to=out)
    # Was: (["2024-08"], {"2024-08": (the other folder's,)}), while the run sent nothing.
    assert (bulk.may_create(), await bulk.identical_requests()) == ([], {})
    result = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
    assert (result.stage, result.ok) == ("sat-failed", False)
    assert "nothing was sent again" in (result.error or "")
    assert creates(sandbox) == 1


async def test_a_5003_month_asked_for_exhausted_dates_is_not_held(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # SAT refused the whole month with 5003 (too many CFDIs), and 08-01..08-14 with 5002 before.
    sandbox, client = world
    out = tmp_path / "A"
    split = attrs.evolve(
        AUGUST, stage=m.Stage.SAT_FAILED, sat_code=5003, exhausted=(EARLY,), creates=2
    )
    record(client, out, split)
    await elsewhere(client, EARLY)
    bulk = client.downloads.bulk("2024-08-01", "2024-08-14", rfc_type="received", download_to=out)
    assert bulk.may_create() == []
    assert await bulk.identical_requests() == {}  # was {"2024-08": (the other folder's,)}
    result = (await month_results(client, out, "2024-08-01", "2024-08-14"))["2024-08"]
    assert result.ok is False
    assert "SAT 5002 refused the plan's 2024-08-01..2024-08-14 earlier" in (result.error or "")
    assert creates(sandbox) == 1


async def test_a_month_the_plan_sends_is_held_and_counted_as_before(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # The same rule says yes: SAT refused the whole month with 5002 and the plan asks for other
    # days; the account already has that exact request (another folder's): held, not sent.
    sandbox, client = world
    out = tmp_path / "A"
    refused = attrs.evolve(
        AUGUST, stage=m.Stage.SAT_FAILED, sat_code=5002, exhausted=(AUG,), creates=2
    )
    record(client, out, refused)
    other = await elsewhere(client, EARLY)
    bulk = client.downloads.bulk("2024-08-01", "2024-08-14", rfc_type="received", download_to=out)
    assert bulk.may_create() == ["2024-08"]
    found = await bulk.identical_requests()
    assert {k: [p.request_id for p in v] for k, v in found.items()} == {"2024-08": [other]}
    result = (await month_results(client, out, "2024-08-01", "2024-08-14"))["2024-08"]
    assert result.stage == "held"
    assert creates(sandbox) == 1


async def test_a_planned_month_of_exhausted_dates_is_neither_held_nor_counted(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # Planned for the plan's own dates, which SAT refused with 5002 (however it got there):
    # `Send` fails it again and sends nothing, so the run no longer holds it either.
    sandbox, client = world
    out = tmp_path / "A"
    record(client, out, attrs.evolve(AUGUST, exhausted=(AUG,), creates=2))
    await elsewhere(client, AUG)
    bulk = client.downloads.bulk("2024-08", "2024-08", rfc_type="received", download_to=out)
    # Was: (["2024-08"], {"2024-08": (the other folder's,)}).
    assert (bulk.may_create(), await bulk.identical_requests()) == ([], {})
    result = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
    # Was held ("... run it again with --allow-duplicates", which could only fail again).
    assert (result.stage, result.ok) == ("sat-failed", False)
    assert "nothing was sent again" in (result.error or "")
    assert creates(sandbox) == 1


@pytest.mark.parametrize("dates", [AUG, EARLY])
async def test_a_planned_month_its_record_forbids_sending_ends_needing_attention(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    dates: tuple[date, date],
) -> None:
    # Planned, but its record says no create may be sent (`resend_allowed` False: a hand-edited
    # journal, or any state where the plan would send and the machine would not). The run
    # waited for the month to act, which it never did: it hung until killed.
    sandbox, client = world
    out = tmp_path / "A"
    record(client, out, attrs.evolve(AUGUST, resend_allowed=False, creates=1))
    bulk = client.downloads.bulk(f"{dates[0]}", f"{dates[1]}", rfc_type="received", download_to=out)
    assert bulk.may_create() == []
    run = month_results(client, out, f"{dates[0]}", f"{dates[1]}")
    result = (await asyncio.wait_for(run, timeout=20))["2024-08"]
    assert (result.stage, result.ok) == ("needs-attention", False)
    assert "not allowed to send a create request" in (result.error or "")
    assert f"journal resend {out} 2024-08" in (result.hint or "")
    assert creates(sandbox) == 0
    # The way forward it names works: the month is sent once the user allows it.
    resend = ("journal", "resend", out, "2024-08", "--yes")
    assert await asyncio.to_thread(cli, sandbox, *resend) == 0
    capsys.readouterr()
    again = await month_results(client, out, f"{dates[0]}", f"{dates[1]}")
    assert again["2024-08"].ok
    assert creates(sandbox) == 1
