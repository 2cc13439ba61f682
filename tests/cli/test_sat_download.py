"""`gigstack-async sat download` end to end: the console script against the in-process sandbox."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gigstack_async.cli.runner import STILL_STOPPING, STOPPING
from gigstack_async.sandbox import LifecycleConfig, Sandbox
from gigstack_async.sandbox.routing import route_of

from .conftest import (
    SECRET_KEY,
    default_sigint,
    ignore_sigint,
    run_cli,
    sandbox_config,
    start_cli,
)

MONTHS = ("2025-01", "2025-03")
KEYS = ["2025-01", "2025-02", "2025-03"]


def download_args(out: Path, *extra: str) -> list[str]:
    return [
        "sat",
        "download",
        "--from",
        MONTHS[0],
        "--to",
        MONTHS[1],
        "--rfc-type",
        "received",
        "--type",
        "cfdi",
        "--out",
        str(out),
        "--poll-interval",
        "0.02",
        "--yes",
        *extra,
    ]


def expected_files(sandbox: Sandbox) -> dict[str, set[str]]:
    """Month → the UUIDs the sandbox put in that month's packages."""
    return {
        f"{r.criteria.start_date:%Y-%m}": {uuid.upper() for uuid in r.uuids}
        for r in sandbox.state.download_requests
    }


def files_on_disk(out: Path) -> dict[str, set[str]]:
    return {
        folder.name: {path.stem.upper() for path in folder.glob("*.xml")}
        for folder in sorted(out.iterdir())
        if folder.is_dir()
    }


def creations(sandbox: Sandbox) -> Counter[str]:
    return Counter(f"{r.criteria.start_date:%Y-%m}" for r in sandbox.state.download_requests)


async def test_download_writes_every_month_and_a_rerun_resumes(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    out = tmp_path / "cfdi"
    result = await cli(*download_args(out))

    assert result.code == 0, result.stderr
    assert "3 monthly requests, received cfdi, 2025-01-01 to 2025-03-31" in result.stdout
    assert sorted(creations(sandbox)) == KEYS
    assert files_on_disk(out) == expected_files(sandbox)
    assert all(expected_files(sandbox).values())  # the seed gives every month some CFDIs
    total = sum(len(uuids) for uuids in expected_files(sandbox).values())
    assert "Summary" in result.stdout
    assert f"Total: 3 months, 3 ok, 0 not ok; {total} invoices; {total} files" in result.stdout
    assert f"Output folder: {out.resolve()}" in result.stdout
    for request in sandbox.state.download_requests:
        assert request.request_id in result.stdout  # the summary names every request
    assert (out / ".gigstack-journal.sqlite3").exists()
    creates = len(sandbox.state.calls_to("createDownloadRequest"))

    again = await cli(*download_args(out))

    assert again.code == 0, again.stderr
    assert "resuming" in again.stdout
    assert len(sandbox.state.calls_to("createDownloadRequest")) == creates
    assert f"Total: 3 months, 3 ok, 0 not ok; {total} invoices; {total} files" in again.stdout
    assert files_on_disk(out) == expected_files(sandbox)


INVALID = [
    ({"--from": "2024-13"}, "--from"),
    ({"--rfc-type": "sent"}, "--rfc-type"),
    ({"--from": "2025-05", "--to": "2025-02"}, "--to"),
]  # more invalid values are checked in-process in test_help.py


def changed(args: list[str], change: dict[str, str | None]) -> list[str]:
    args = list(args)
    for flag, value in change.items():
        if flag not in args:
            args += [flag, value or ""]
        elif value is None:
            args.remove(flag)
        else:
            args[args.index(flag) + 1] = value
    return args


async def test_invalid_input_exits_2_with_one_line_and_sends_nothing(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    args = download_args(tmp_path / "cfdi")
    results = await asyncio.gather(*(cli(*changed(args, change)) for change, _ in INVALID))

    for (change, mentions), result in zip(INVALID, results, strict=True):
        assert result.code == 2, change
        assert len(result.err_lines) == 1, result.stderr
        assert result.err_lines[0].startswith("error: ")
        assert mentions in result.err_lines[0]
        assert "Traceback" not in result.stderr
    assert sandbox.state.calls == []


async def test_wrong_key_exits_3_before_anything_is_submitted(
    sandbox: Sandbox, cli, tmp_path: Path, wrong_key: str
) -> None:
    result = await cli(*download_args(tmp_path / "cfdi"), "--api-key", wrong_key)

    assert result.code == 3
    assert result.err_lines[-1].startswith("error: HTTP 401")
    assert sandbox.state.calls_to("createDownloadRequest") == []


async def test_failed_months_are_summarised_and_exit_1(
    make_sandbox, raw_cli, secret_key: str, tmp_path: Path
) -> None:
    failing = await make_sandbox(lifecycle=LifecycleConfig(failure_rate=1.0))
    env = {"GIGSTACK_API_KEY": secret_key, "GIGSTACK_BASE_URL": failing.base_url}

    result = await raw_cli(*download_args(tmp_path / "cfdi"), env=env, cwd=tmp_path)

    assert result.code == 1
    assert "Total: 3 months, 0 ok, 3 not ok" in result.stdout
    summary = result.stdout.split("Summary", 1)[1]
    assert summary.count("failed") >= 3
    assert "SAT request failed" in summary


async def test_timeout_reports_unfinished_months_and_exit_1(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    sandbox.clock.speed = 0  # SAT never finishes
    result = await cli(*download_args(tmp_path / "cfdi", "--timeout", "0.2"))

    assert result.code == 1
    summary = result.stdout.split("Summary", 1)[1]
    # The journal's word for the state, as `journal show` prints it (not "unfinished").
    assert "unfinished" not in summary
    rows = [line.split() for line in summary.splitlines() if line.startswith("2025-")]
    assert len(rows) == 3
    assert all("submitted" in row for row in rows), summary
    show = await cli("journal", "show", str(tmp_path / "cfdi"))
    assert show.stdout.count(" submitted ") == 3, show.stdout
    assert (
        "still pending after 0.2 s. Next: run the same command again (nothing is sent twice)"
        in (" ".join(summary.split()))
    )
    assert "Total: 3 months, 0 ok, 3 not ok" in summary


@pytest.fixture(params=["SIGINT default", "SIGINT ignored"])
def parent_sigint(request: pytest.FixtureRequest) -> Iterator[None]:
    """The suite may run with SIGINT ignored (started in the background): the child must still
    get its Ctrl-C."""
    if request.param == "SIGINT default":
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("parent_sigint")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
async def test_ctrl_c_cancels_exits_130_and_a_rerun_resumes(
    sandbox: Sandbox, spawn_cli, cli, tmp_path: Path, stop: signal.Signals
) -> None:
    sandbox.clock.speed = 0  # every month stays pending until we let time run
    out = tmp_path / "cfdi"
    await _stop_after_the_submits_then_resume(
        await spawn_cli(*download_args(out)), stop, sandbox, cli, out
    )


async def test_sigterm_stops_a_run_whose_ctrl_c_is_ignored(
    sandbox: Sandbox, api_env: dict[str, str], cli, tmp_path: Path
) -> None:
    # Newcomer 12 #1: a script's background job (`gigstack-async sat download ... &`) starts
    # with SIGINT ignored; SIGTERM was passed on as SIGINT, ignored too, and the run went on to
    # the end (a package GET spent, exit 0). It must stop as Ctrl-C does.
    sandbox.clock.speed = 0  # every month stays pending until we let time run
    out = tmp_path / "cfdi"
    process = await start_cli(
        *download_args(out), env=api_env, cwd=tmp_path, preexec_fn=ignore_sigint
    )
    try:
        await _stop_after_the_submits_then_resume(process, signal.SIGTERM, sandbox, cli, out)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _stop_after_the_submits_then_resume(
    process: asyncio.subprocess.Process,
    stop: signal.Signals,
    sandbox: Sandbox,
    cli: Any,
    out: Path,
) -> None:
    """Send `stop` once every month is submitted: exit 130 with the summary and how to resume;
    then a rerun finishes every month, none submitted twice."""
    assert process.stdout is not None
    submitted = 0
    while submitted < len(KEYS):
        line = (await process.stdout.readline()).decode()
        assert line, "the CLI ended before submitting every month"
        submitted += " submitted " in line
    process.send_signal(stop)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 130, stderr.decode()
    assert "interrupted" in stderr.decode()
    assert "run the same command again to resume" in stderr.decode()
    assert "Traceback" not in stderr.decode()
    # README: a stopped run "ends with a summary ... an in-progress stage such as `submitted`".
    summary = stdout.decode().split("Summary", 1)[1]
    assert all(f"{key}  " in summary for key in KEYS), summary

    sandbox.clock.speed = 3000
    again = await cli(*download_args(out))

    assert again.code == 0, again.stderr
    assert creations(sandbox) == Counter(dict.fromkeys(KEYS, 1))  # nothing submitted twice
    assert files_on_disk(out) == expected_files(sandbox)


def holding_packages(
    held: asyncio.Event, release: asyncio.Event, *, first_only: bool = False
) -> Sandbox:
    """A sandbox whose package downloads (only the first: `first_only`) wait for `release`
    before the server serves them; `held` is set as one arrives."""

    @web.middleware
    async def hold(request: web.Request, handler: Any) -> web.StreamResponse:
        route = route_of(request)
        package = route is not None and route.operation_id == "downloadPackage"
        if package and not (first_only and held.is_set()):
            held.set()
            await release.wait()
        response: web.StreamResponse = await handler(request)
        return response

    sandbox = Sandbox(sandbox_config())
    sandbox.app.middlewares.insert(0, hold)
    return sandbox


@pytest.mark.parametrize(
    "stop",
    [signal.SIGTERM, signal.SIGINT],
    ids=["SIGTERM twice, Ctrl-C ignored", "Ctrl-C twice"],
)
async def test_a_stopping_run_waits_for_and_records_a_package_download(
    tmp_path: Path, stop: signal.Signals
) -> None:
    # Review 12b #1: SIGTERM with SIGINT ignored raised KeyboardInterrupt out of the event loop;
    # asyncio.run then cancelled every task, the package GET in flight too: the package SAT had
    # served was recorded as not received and downloaded again by the next run (one of SAT's 2
    # downloads spent for nothing). It must stop as Ctrl-C does: wait for it and record it.
    # Review 13 #1: a second Ctrl-C did just that (asyncio.run's own handling of it).
    held = asyncio.Event()
    release = asyncio.Event()
    async with holding_packages(held, release, first_only=True) as sandbox:
        env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}
        out = tmp_path / "cfdi"
        ignored = ignore_sigint if stop is signal.SIGTERM else default_sigint
        process = await start_cli(*download_args(out), env=env, cwd=tmp_path, preexec_fn=ignored)
        try:
            await asyncio.wait_for(held.wait(), 60)
            process.send_signal(stop)
            await asyncio.sleep(0.5)
            process.send_signal(stop)  # a second one changes nothing (review 12b #2, 13 #1)
            await asyncio.sleep(0.3)
            release.set()  # the server answers the held GET: the stopping run must record it
            stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        finally:
            release.set()
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 130, stderr.decode()
        assert "Traceback" not in stderr.decode()
        assert "run the same command again to resume" in stderr.decode()
        assert "Summary" in stdout.decode()

        again = await run_cli(*download_args(out), env=env, cwd=tmp_path)
        assert again.code == 0, again.stderr
        served = sandbox.state.calls_to("downloadPackage")
        packages = {call.path for call in served}
        assert len(served) == len(packages)  # no package downloaded twice
        assert creations(sandbox) == Counter(dict.fromkeys(KEYS, 1))
        assert files_on_disk(out) == expected_files(sandbox)
        said = " ".join(stderr.decode().split())
        assert STOPPING in said  # at once, not after the wait (review 13c #1)
        if stop is signal.SIGINT:  # what quitting costs, and how to quit at once
            assert STILL_STOPPING in said


async def test_a_third_ctrl_c_quits_at_once(tmp_path: Path) -> None:
    # The way out of a run that waits too long (review 13 #1 kept one): the third Ctrl-C quits
    # without waiting for the package download on its way, exit 130 with the summary.
    held = asyncio.Event()
    release = asyncio.Event()
    async with holding_packages(held, release) as sandbox:
        env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}
        out = tmp_path / "cfdi"
        process = await start_cli(*download_args(out), env=env, cwd=tmp_path)
        try:
            await asyncio.wait_for(held.wait(), 60)
            for _ in range(3):
                process.send_signal(signal.SIGINT)
                await asyncio.sleep(0.3)
            stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
        finally:
            release.set()
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 130, stderr.decode()
    assert STOPPING in " ".join(stderr.decode().split())
    assert STILL_STOPPING in " ".join(stderr.decode().split())
    assert "interrupted" in stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert "Summary" in stdout.decode()


async def test_live_display_with_rich_on_a_terminal(sandbox: Sandbox, cli, tmp_path: Path) -> None:
    # rich honours these: the pipe is treated as an interactive terminal.
    terminal = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "120"}
    result = await cli(*download_args(tmp_path / "cfdi"), env=terminal)

    assert result.code == 0, result.stderr
    assert "\x1b[" in result.stdout  # drawn with terminal control sequences
    assert "Summary" in result.stdout
    assert files_on_disk(tmp_path / "cfdi") == expected_files(sandbox)


async def test_without_rich_output_is_plain_and_suggests_installing_it(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    hide_rich = "import sys; sys.modules['rich'] = None; from gigstack_async.cli import main; "
    command = [sys.executable, "-c", hide_rich + "sys.exit(main())"]
    terminal = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"}
    result = await cli(*download_args(tmp_path / "cfdi"), env=terminal, command=command)

    assert result.code == 0, result.stderr
    assert 'pip install "gigstack-async[cli]"' in result.stderr
    assert "\x1b[" not in result.stdout
    assert " submitted " in result.stdout
    assert " done " in result.stdout
    assert files_on_disk(tmp_path / "cfdi") == expected_files(sandbox)


async def test_a_warning_is_printed_once(sandbox: Sandbox, cli, tmp_path: Path) -> None:
    # Review finding 11: each warning used to appear as an event line and again as a raw log
    # line from Python's last-resort handler.
    import attrs

    from gigstack_async.bulk import machine as m
    from gigstack_async.bulk.store import JournalStore

    out = tmp_path / "cfdi"
    assert (await cli(*download_args(out))).code == 0
    with JournalStore.open_existing(out / ".gigstack-journal.sqlite3") as store:
        stale = attrs.evolve(
            store.get("2025-01"), stage=m.Stage.SUBMITTED, request_id="gone-404",
            known_ids=("gone-404",), extracted=(), confirmed_id=None,
        )  # fmt: skip
        store.put(stale)
    result = await cli(*download_args(out))
    both = result.stdout + result.stderr
    assert result.code != 0
    assert both.count("2025-01: request gone-404 is not in the server's history") == 1, both


async def test_a_5xx_to_the_pre_flight_read_warns_and_the_run_goes_on(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    # The pipeline's retries (2) are spent on the pre-flight history read; the run itself
    # polls the history again and every month still finishes.
    sandbox.state.force_fault("getDownloadHistory", "503", times=3)
    result = await cli(*download_args(tmp_path / "cfdi"))

    assert result.code == 0, result.err_lines
    assert any("pre-flight read of the history failed" in line for line in result.err_lines)
    assert files_on_disk(tmp_path / "cfdi") == expected_files(sandbox)
