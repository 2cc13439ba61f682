"""Newcomer findings on issue 9: every hint of a finished month runs as printed.

The machine's texts name no folder (it is pure); `BulkDownload` renders the journal's folder,
or its file when `journal=` put it elsewhere, into every `gigstack-async journal ...` command.
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
from gigstack_async.bulk.events import BulkEvent, MonthFailed, MonthResult
from gigstack_async.bulk.hints import with_journal
from gigstack_async.bulk.watch import PollSchedule
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile

FAST = PollSchedule(initial=0.02, factor=1.5, maximum=0.1, jitter=0.0)
COMMAND = re.compile(r"`(gigstack-async journal [^`]+)`")


@pytest.fixture
async def world(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    server_profile: ServerProfile = getattr(request, "param", ServerProfile())
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11, profile=server_profile)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        yield sandbox, client


async def run(client: GigstackClient, out: Path, **kw: object) -> list[BulkEvent]:
    bulk = client.downloads.bulk(
        "2024-01",
        "2024-01",
        rfc_type="received",
        download_to=out,
        poll=FAST,
        **kw,  # type: ignore[arg-type]
    )
    async with bulk:
        return [event async for event in bulk]


def result(events: list[BulkEvent]) -> MonthResult:
    return next(e for e in events if isinstance(e, MonthResult))


@pytest.mark.parametrize(
    "world",
    [ServerProfile(sat_codes=(SatCodeRule(5007, month="2024-01", times=1),))],
    indirect=True,
)
async def test_an_expired_months_hint_runs_as_printed(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # Finding 1: "`gigstack-async journal resend 2024-01`" failed: "no journal at 2024-01".
    _sandbox, client = world
    out = tmp_path / "my cfdi"
    events = await run(client, out)
    month = result(events)
    assert month.stage == "expired"
    rendered = f"gigstack-async journal resend {shlex.quote(str(out))} 2024-01"
    assert rendered in (month.hint or "")
    # newcomer 9c: the error says what happened, the hint what to do: never both in one.
    assert rendered not in (month.error or "")
    failed = next(e for e in events if isinstance(e, MonthFailed))
    assert rendered in (failed.hint or "")
    assert rendered not in failed.error
    argv = shlex.split(COMMAND.search(month.hint or "").group(1))[1:]  # type: ignore[union-attr]
    assert await asyncio.to_thread(main, [*argv, "--yes"]) == 0


@pytest.mark.parametrize(
    "world",
    [ServerProfile(sat_codes=(SatCodeRule(5007, month="2024-01", times=1),))],
    indirect=True,
)
async def test_a_custom_journal_path_is_what_the_hint_names(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    _sandbox, client = world
    journal = tmp_path / "elsewhere" / "j.sqlite3"
    journal.parent.mkdir()
    month = result(await run(client, tmp_path / "cfdi", journal=journal))
    assert f"gigstack-async journal resend {journal} 2024-01" in (month.hint or "")


@pytest.mark.parametrize(
    "world", [ServerProfile(sat_codes=(SatCodeRule(5011, month="2024-01"),))], indirect=True
)
async def test_the_5011_hint_names_the_folder_and_the_month(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # Finding 1: "`gigstack-async journal resend` tomorrow" named neither.
    _sandbox, client = world
    out = tmp_path / "cfdi"
    month = result(await run(client, out))
    assert month.stage == "sat-failed"
    assert f"`gigstack-async journal resend {out} 2024-01` tomorrow" in (month.hint or "")


@pytest.mark.parametrize(
    "world", [ServerProfile(sat_codes=(SatCodeRule(5003, month="2024-01"),))], indirect=True
)
async def test_the_5003_hint_says_each_part_goes_to_its_own_folder(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # Finding 6: splitting into the same folder ends in MISSING DAYS.
    _sandbox, client = world
    month = result(await run(client, tmp_path / "cfdi"))
    # newcomer 9c: a Python caller is told download_to=, the CLI --out (tests/cli).
    assert "each into its own download_to= folder" in (month.hint or "")


def test_rendering_keeps_ids_and_adds_a_missing_month() -> None:
    text = (
        "`gigstack-async journal adopt 2024-03 REQ-1` or `gigstack-async journal resend` or "
        "`gigstack-async journal show`"
    )
    assert with_journal(text, "2024-03", "./na1") == (
        "`gigstack-async journal adopt ./na1 2024-03 REQ-1` or "
        "`gigstack-async journal resend ./na1 2024-03` or "
        "`gigstack-async journal show ./na1 2024-03`"
    )
    assert with_journal(text, "2024-03", None) == text


# Pure machine texts (findings 2 and 3) ------------------------------------------------------


_JAN = m.MonthState("2025-01", date(2025, 1, 1), date(2025, 1, 31), "received", "cfdi")


def test_a_reused_request_id_points_to_the_servers_requests_not_the_journal() -> None:
    # Finding 2: the hint said "find the right request with `journal show`", which reads only
    # the local journal; the server's requests are in `downloads history`.
    state = attrs.evolve(
        _JAN, stage=m.Stage.SUBMITTED, request_id="DM-19", known_ids=("DM-19",), checked=True
    )
    other = m.Seen("DM-19", "completed", "issued", "cfdi", date(2025, 3, 1), date(2025, 3, 31))
    new, _ = m.transition(state, m.HistorySeen((other,)))
    assert new.stage is m.Stage.NEEDS_ATTENTION
    hint = with_journal(new.hint, new.key, "./na1") or ""
    assert "`gigstack-async downloads history`" in hint
    assert "journal show" not in hint
    assert "`gigstack-async journal adopt ./na1 2025-01 <id>`" in hint


def test_a_request_that_left_the_history_says_why_and_the_exact_adopt_command() -> None:
    # Finding 3: "run the same command again" after a failed package led, on the re-run, to
    # needs-attention whose reason only guessed "request ids may have restarted".
    state = attrs.evolve(
        _JAN,
        stage=m.Stage.COMPLETED,
        request_id="D9EE",
        known_ids=("D9EE",),
        package_ids=("D9EE_01",),
    )
    state, commands = m.transition(state, m.Start())
    assert commands == ()  # never downloaded unchecked
    others = tuple(m.Seen(f"X{i}") for i in range(2))
    for _ in range(m.CHECK_MISSES):
        state, _ = m.transition(state, m.HistorySeen(others, window=2))
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert "lists only the newest requests: an older one has left it" in (state.reason or "")
    hint = with_journal(state.hint, state.key, "./na1") or ""
    assert "`gigstack-async journal adopt ./na1 2025-01 D9EE`" in hint


async def test_a_failed_package_whose_request_left_the_history_is_adopted_as_printed(
    tmp_path: Path,
) -> None:
    # Finding 3, end to end: "run the same command again" after a failed package; the re-run
    # cannot check the request (a 2-entry history no longer lists it) and prints the exact
    # `journal adopt FOLDER MONTH ID`; following it downloads the month.
    config = SandboxConfig(speed=3000, seed=11, history_limit=2)
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        out = tmp_path / "na1"

        async def months() -> dict[str, MonthResult]:
            bulk = client.downloads.bulk(
                "2024-01", "2024-03", rfc_type="received", download_to=out, poll=FAST,
                concurrency=1, timeout=20,
            )  # fmt: skip
            async with bulk:
                return {e.key: e async for e in bulk if isinstance(e, MonthResult)}

        sandbox.state.force_fault("downloadPackage", "after_502", times=1)
        first = await months()
        failed = [r for r in first.values() if r.stage == "needs-attention"]
        assert len(failed) == 1
        key = failed[0].key
        assert "run the same bulk() call again" in (failed[0].hint or "")
        # Two newer requests (another script, another folder) push it out of the 2 newest.
        for month in ("2023-05", "2023-06"):
            await client.downloads.create_request(
                start_date=f"{month}-01", end_date=f"{month}-28", rfc_type="issued"
            )
        assert failed[0].request_id not in {e.id for e in await client.downloads.history()}
        second = (await months())[key]
        assert second.stage == "needs-attention"
        assert "lists only the newest requests" in (second.error or "")
        adopt = f"gigstack-async journal adopt {out} {key} {second.request_id}"
        assert adopt in (second.hint or "")
        argv = shlex.split(adopt)[1:]
        assert await asyncio.to_thread(main, [*argv, "-y"]) == 0
        third = (await months())[key]
        assert third.stage == "done", third.error
