"""Newcomer findings on issue 9: every hint of a finished month runs as printed.

The machine's texts name no folder (it is pure); `BulkDownload` renders the journal's folder,
or its file when `journal=` put it elsewhere, into every `gigstack-async journal ...` command.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import sys
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import BulkEvent, MonthFailed, MonthResult, MonthWarning
from gigstack_async.bulk.hints import with_journal
from gigstack_async.cli import main
from gigstack_async.errors import APIConnectionError
from gigstack_async.sandbox import FaultConfig, Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import STATUS_CRITERIA_FIELDS, SatCodeRule, ServerProfile
from tests.bulk._support import FAST, run, world_of

COMMAND = re.compile(r"`(gigstack-async journal [^`]+)`")


@pytest.fixture
async def world(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    server_profile: ServerProfile = getattr(request, "param", ServerProfile())
    async with world_of(SandboxConfig(speed=3000, seed=11, profile=server_profile)) as both:
        yield both


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
    # `journal adopt FOLDER MONTH ID`; following it downloads the month. (A status answer that
    # names the request's criteria checks it with no adopt: tests/bulk/
    # test_newcomer9g_status_check.py; here it names none, as the docs show none.)
    config = SandboxConfig(
        speed=3000, seed=11, history_limit=2,
        profile=ServerProfile(omit_fields=STATUS_CRITERIA_FIELDS),
    )  # fmt: skip
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


@pytest.mark.parametrize(
    ("platform", "journal", "quoted"),
    [
        ("linux", "/home/ana/my cfdi", "'/home/ana/my cfdi'"),
        ("darwin", "/Users/ana/my cfdi", "'/Users/ana/my cfdi'"),
        ("win32", r"C:\Users\Ana\my cfdi", r'"C:\Users\Ana\my cfdi"'),
        ("win32", r"C:\cfdi", r"C:\cfdi"),
    ],
)
def test_hints_quote_the_folder_for_the_platforms_shell(
    platform: str, journal: str, quoted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Newcomer walk: hints single-quoted folders, which cmd.exe and PowerShell do not undo
    # ("'C:\Users\Ana\my cfdi'" is no folder there).
    monkeypatch.setattr("sys.platform", platform)  # the platform running the hint's shell
    text = with_journal("`gigstack-async journal resend 2024-01`", "2024-01", journal)
    assert text == f"`gigstack-async journal resend {quoted} 2024-01`"
    if platform == "win32":
        assert "'" not in (text or "")
    else:
        assert shlex.split(quoted) == [journal]


def test_a_folder_with_a_quote_survives_both_shells() -> None:
    posix = with_journal(
        "gigstack-async journal show", "2024-01", "/tmp/ana's cfdi", platform="linux"
    )
    assert shlex.split((posix or "").removeprefix("gigstack-async journal show ")) == [
        "/tmp/ana's cfdi",
        "2024-01",
    ]
    windows = with_journal(
        "gigstack-async journal show", "2024-01", r"C:\ana's cfdi", platform="win32"
    )
    assert windows == 'gigstack-async journal show "C:\\ana\'s cfdi" 2024-01'
    rebind = with_journal("`gigstack-async journal rebind`", "2024-01", r"C:\x y", platform="win32")
    assert rebind == '`gigstack-async journal rebind "C:\\x y"`'


async def test_activate_piped_into_head_still_activates() -> None:
    # Newcomer walk: `downloads activate | head -1` printed the status into a closed pipe and
    # the BrokenPipeError ended the command before the activation was sent (exit 0).
    async with Sandbox(SandboxConfig(speed=3000, seed=11, ready=False)) as sandbox:
        team = next(iter(sandbox.state.teams.values()))
        assert team.activation != "active"
        # stdout is a pipe whose reader is gone, as `| head -1` leaves it: every write breaks.
        reader, writer = os.pipe()
        os.close(reader)
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gigstack_async",
            "--api-key", sandbox.api_key, "--base-url", sandbox.base_url,
            "downloads", "activate",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=writer,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        os.close(writer)
        _out, err = await child.communicate()
        assert child.returncode == 0, err
        assert team.activation == "active"


@pytest.mark.parametrize(
    "world",
    [ServerProfile(sat_codes=(SatCodeRule(305, month="2024-01", times=1),))],
    indirect=True,
)
async def test_a_fiel_refusal_names_the_command_that_continues_after_the_fix(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # Newcomer walk: SAT refused the taxpayer's FIEL; the hint said what was wrong but no
    # command to go on with once the FIEL is fixed at gigstack.
    sandbox, client = world
    out = tmp_path / "my cfdi"
    month = result(await run(client, out))
    assert month.stage == "sat-failed"
    hint = month.hint or ""
    assert "FIEL (e.firma)" in hint
    assert "upload_fiel()" in hint
    command = COMMAND.search(hint)
    assert command is not None
    assert command.group(1) == f"gigstack-async journal resend {shlex.quote(str(out))} 2024-01"
    # Following it, as printed (the FIEL now fixed: SAT answered 305 once), finishes the month.
    argv = shlex.split(command.group(1))[1:]
    assert await asyncio.to_thread(main, [*argv, "--yes"]) == 0
    again = result(await run(client, out))
    assert again.stage == "done"
    assert again.files
    assert sandbox.state.billed_creates("2024-01") == 2  # the failed one and the resend


def test_the_sandbox_cli_plays_a_fiel_refusal() -> None:
    # `gigstack-async sandbox --sat-code 2024-01:305:1`: what the walk-through types.
    from gigstack_async.cli.app import build_parser
    from gigstack_async.cli.commands.sandbox import config_from_args

    args = build_parser().parse_args(["sandbox", "--sat-code", "2024-01:305:1"])
    (rule,) = config_from_args(args).profile.sat_codes
    assert (rule.code, rule.month, rule.times, rule.phase) == (305, "2024-01", 1, "verify")


def test_a_create_refused_for_the_fiel_says_what_to_fix() -> None:
    state = attrs.evolve(
        m.MonthState("2024-01", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi"),
        stage=m.Stage.SUBMITTING,
    )
    refused, _ = m.transition(
        state, m.CreateRefused("The business has no FIEL uploaded: POST /invoices/download/fiel")
    )
    assert refused.stage is m.Stage.REFUSED
    assert refused.resend_allowed
    assert "upload a valid FIEL" in (refused.hint or "")
    assert "run the same command again" in (refused.hint or "")


def _sat_download(sandbox: Sandbox, out: Path) -> int:
    return main(
        [
            "--api-key", sandbox.api_key, "--base-url", sandbox.base_url,
            "sat", "download", "--from", "2024-01", "--to", "2024-01",
            "--rfc-type", "received", "--out", str(out), "--poll-interval", "0.05", "--yes",
        ]
    )  # fmt: skip


@pytest.mark.parametrize(("kind", "times"), [("drop", 2), ("502", 3)])
async def test_a_transient_failure_of_the_preflight_read_is_retried(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, kind: str, times: int
) -> None:
    # Newcomer walk: the pre-flight history read (before any create) and a blip of the server.
    # A reset is retried by the client's retry policy (reads are safe to retry); a 5xx that
    # outlasts it lets the run go on, which sends no create before it has read the history.
    sandbox, _client = world
    sandbox.state.force_fault("getDownloadHistory", kind, times)
    out = tmp_path / "cfdi"
    assert await asyncio.to_thread(_sat_download, sandbox, out) == 0
    assert sandbox.state.billed_creates("2024-01") == 1
    assert list((out / "2024-01").glob("*.xml"))


async def test_an_unreachable_history_stops_the_run_before_anything_is_billed(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, _client = world
    sandbox.state.force_fault("getDownloadHistory", "drop", 10)  # outlasts the retries
    assert await asyncio.to_thread(_sat_download, sandbox, tmp_path / "cfdi") == 5
    err = " ".join(capsys.readouterr().err.split())
    assert "cannot reach the API" in err
    assert "nothing was requested" in err
    assert "run the same command again" in err
    assert sandbox.state.billed_creates("2024-01") == 0
    assert not sandbox.state.download_requests


async def test_a_run_that_cannot_read_the_history_creates_nothing_and_says_why(
    tmp_path: Path,
) -> None:
    # Below the CLI (no pre-flight): the run reads the history before any create. While it
    # cannot, nothing is created (the history is what proves a month was not created by an
    # earlier run), a warning says so, and the results name the cause instead of a silent wait.
    # A server that answers (here 502s) keeps the run polling; one that never answers ends it
    # (`test_a_server_that_never_answers_ends_the_run`, newcomer 9h #2).
    faults = FaultConfig(operations=frozenset({"getDownloadHistory"}), error_502_rate=1.0)
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11, faults=faults)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        events = await run(client, tmp_path / "cfdi", timeout=4.0)
        assert not sandbox.state.download_requests
    warnings = [e for e in events if isinstance(e, MonthWarning)]
    assert warnings
    assert "no download request is sent until it can be read" in warnings[0].message
    month = result(events)
    assert month.stage == "planned"
    assert "the download history could not be read" in (month.error or "")


async def test_a_server_that_never_answers_ends_the_run(tmp_path: Path) -> None:
    # Newcomer 9h #2: dropped connections before any answer used to poll forever ("still
    # trying"); the run raises the client's APIConnectionError instead, nothing created.
    faults = FaultConfig(operations=frozenset({"getDownloadHistory"}), drop_rate=1.0)
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11, faults=faults)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        with pytest.raises(APIConnectionError):
            await asyncio.wait_for(run(client, tmp_path / "cfdi"), 20)
        assert not sandbox.state.download_requests
