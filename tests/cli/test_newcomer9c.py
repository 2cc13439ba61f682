"""Newcomer walk 9c (items 3, 10, 11): what a user reads of the sandbox log, `downloads status`,
the run summary, the confirmation, a truncated reply and a journal without tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from gigstack_async.cli.commands.sandbox import _request_line
from gigstack_async.sandbox import Sandbox
from gigstack_async.sandbox.profiles import PROFILES, ServerProfile

from ._support import creates as _creates
from ._support import download_argv as _download
from .conftest import SECRET_KEY

BODY = {
    "start_date": "2025-02-01",
    "end_date": "2025-02-28",
    "rfc_type": "received",
    "request_type": "cfdi",
}


async def _create(sandbox: Sandbox, body: dict[str, str] = BODY) -> int:
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(f"{sandbox.base_url}/invoices/download/request", json=body) as reply,
    ):
        return reply.status


async def _new_request(sandbox: Sandbox, body: dict[str, str] = BODY) -> str:
    """One download request the sandbox accepted: its id."""
    assert await _create(sandbox, body) == 200
    return sandbox.state.download_requests[-1].request_id


async def _status(raw_cli: Any, sandbox: Sandbox, request_id: str, cwd: Path) -> str:
    """What `downloads status REQUEST_ID` printed (it must exit 0)."""
    env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}
    shown = await raw_cli("downloads", "status", request_id, env=env, cwd=cwd)
    assert shown.code == 0, shown.stderr
    return str(shown.stdout)


async def test_the_log_line_of_a_lost_create_names_its_dates_and_types(sandbox: Sandbox) -> None:
    # Item 3: the hint says to find a lost request "by its dates and type, not its id", and the
    # README points at --log-requests for that, but its create line showed only the id.
    sandbox.state.force_fault("createDownloadRequest", "after_502")
    assert await _create(sandbox) == 502
    created = sandbox.state.download_requests[-1].request_id
    line = _request_line(sandbox.state.calls_to("createDownloadRequest")[0])
    assert f"request id {created} for received cfdi 2025-02-01..2025-02-28" in line
    assert line.endswith("[injected after_502]")


async def test_the_log_line_of_a_refused_create_still_says_what_it_asked_for(
    make_sandbox,
) -> None:
    sandbox: Sandbox = await make_sandbox(profile=PROFILES["refused-create"])
    status = await _create(sandbox, {**BODY, "request_type": "metadata"})
    assert 400 <= status < 500
    line = _request_line(sandbox.state.calls_to("createDownloadRequest")[0])
    assert "request id" not in line
    assert "(asked for received metadata 2025-02-01..2025-02-28)" in line


def _field(stdout: str, name: str) -> str:
    for line in stdout.splitlines():
        words = line.split()
        label = name.split()
        if words[: len(label)] == label:
            return " ".join(words[len(label) :])
    raise AssertionError(f"no {name!r} row in:\n{stdout}")


async def test_downloads_status_shows_the_requests_dates_and_type(
    make_sandbox, raw_cli, tmp_path: Path
) -> None:
    # Item 3: `downloads status ID` showed no dates, so a request could not be matched to a
    # month by its dates and type.
    sandbox: Sandbox = await make_sandbox()
    request_id = await _new_request(sandbox, {**BODY, "request_type": "metadata"})
    shown = await _status(raw_cli, sandbox, request_id, tmp_path)
    assert _field(shown, "rfc type") == "received"
    assert _field(shown, "type") == "metadata"
    assert _field(shown, "from") == "2025-02-01"
    assert _field(shown, "to") == "2025-02-28"
    assert "criteria" not in shown  # all from the status answer


async def test_downloads_status_without_criteria_reads_the_history_or_says_unknown(
    make_sandbox, raw_cli, tmp_path: Path
) -> None:
    # The real status body is undocumented: without its criteria the history's entry is used
    # (documented: dates and rfcType; requestType left out here), and what neither names is
    # "unknown", never a guess.
    sandbox: Sandbox = await make_sandbox(profile=PROFILES["documented-fields"])
    request_id = await _new_request(sandbox)
    listed = await _status(raw_cli, sandbox, request_id, tmp_path)
    assert _field(listed, "rfc type") == "received"
    assert _field(listed, "type") == "unknown"
    assert _field(listed, "from") == "2025-02-01"
    assert _field(listed, "to") == "2025-02-28"
    assert "partly from the history" in listed
    # Once the request is not listed (a history of metadata requests only), nothing is known.
    sandbox.state.profile = sandbox.state.profile.combine(
        ServerProfile(history_request_types=frozenset({"metadata"}))
    )
    unlisted = await _status(raw_cli, sandbox, request_id, tmp_path)
    for name in ("rfc type", "type", "from", "to"):
        assert _field(unlisted, name) == "unknown", name


async def test_the_summary_total_does_not_count_unknown_invoice_counts_as_zero(
    make_sandbox, raw_cli, tmp_path: Path
) -> None:
    # Item 10: under documented fields the summary said "2 ok; N invoices" although one
    # month's count was unknown: it had added 0 for it.
    sandbox: Sandbox = await make_sandbox(profile=PROFILES["no-counts"])
    env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}
    out = tmp_path / "cfdi"
    run = await raw_cli(
        "sat", "download", "--from", "2025-01", "--to", "2025-02", "--rfc-type", "received",
        "--out", str(out), "--poll-interval", "0.02", "--yes", env=env, cwd=tmp_path,
    )  # fmt: skip
    total = next(line for line in run.stdout.splitlines() if line.startswith("Total:"))
    assert total.startswith("Total: 2 months, 2 ok, 0 not ok; invoice count unknown; "), total


def test_the_total_names_the_months_whose_count_is_unknown() -> None:
    from gigstack_async.bulk.events import MonthResult
    from gigstack_async.cli.progress import Board
    from gigstack_async.cli.summary import _invoices

    board = Board(["2025-01", "2025-02", "2025-03"], clock=lambda: 0.0)
    for key, count in (("2025-01", 120), ("2025-02", None), ("2025-03", 69)):
        board.apply(MonthResult(key, request_id="R", state="completed", invoice_count=count))
    assert _invoices(board, board.totals()[2]) == (
        "189 invoices in 2 months, 1 month's count unknown"
    )
    board.apply(MonthResult("2025-02", request_id="R", state="completed", invoice_count=0))
    assert _invoices(board, board.totals()[2]) == "189 invoices"


async def test_a_resumed_run_with_nothing_to_send_asks_nothing(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    # Item 11a: on resume the prompt said "Submit up to 4 download requests?" when none would
    # be sent; without a terminal it even refused to go on without --yes.
    out = tmp_path / "cfdi"
    assert (await cli(*_download(out, "--yes"))).code == 0
    creates = _creates(sandbox)
    again = await cli(*_download(out))  # no --yes, stdin is not a terminal
    assert again.code == 0, again.stderr
    assert "No new download request to submit" in again.stdout
    assert _creates(sandbox) == creates


async def test_the_prompt_counts_only_the_months_that_may_be_sent(
    sandbox: Sandbox, cli, tmp_path: Path, monkeypatch
) -> None:
    import sys

    from gigstack_async import GigstackClient
    from gigstack_async.cli.confirm import confirmed

    out = tmp_path / "cfdi"
    assert (await cli(*_download(out, "--yes"))).code == 0
    asked: list[str] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "n")
    async with GigstackClient(api_key=SECRET_KEY, base_url=sandbox.base_url) as client:
        run = client.downloads.bulk(
            "2025-01", "2025-04", rfc_type="received", download_to=out,
            journal=out / ".gigstack-journal.sqlite3",
        )  # fmt: skip
        assert run.may_create() == ["2025-03", "2025-04"]
        assert not confirmed(run, yes=False)
    assert asked == [
        "Submit up to 2 download requests (2 months already in the journal: not sent again)? "
        "Each new one may be billed. [y/N] "
    ]


async def test_a_truncated_reply_is_not_called_unreachable(sandbox: Sandbox, cli) -> None:
    # Item 11b: a body cut short on every attempt ended with "cannot reach the API" (exit 5),
    # although the API had answered each time.
    sandbox.state.force_fault("getDownloadHistory", "after_truncate", times=10)
    result = await cli("downloads", "history")
    assert result.code == 4, result.stderr
    assert "answered, but its reply broke off" in result.stderr
    assert "cannot reach" not in result.stderr
    assert len(sandbox.state.calls_to("getDownloadHistory")) > 1  # still retried (a read)


async def test_a_truncated_pre_flight_read_does_not_end_the_run(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    # The newcomer's run ended at the pre-flight history read; the run's own polling retries.
    sandbox.state.force_fault("getDownloadHistory", "after_truncate", times=3)
    result = await cli(*_download(tmp_path / "cfdi", "--yes", last="2025-01"))
    assert result.code == 0, result.stderr
    assert "warning: the pre-flight read of the history failed" in result.stderr
    assert " done " in result.stdout.split("Summary", 1)[1]


async def test_journal_show_of_a_table_less_journal_says_what_happened(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    # Item 11c: a kill while the journal was being created left a SQLite file without tables,
    # and `journal show` said "cannot be read as a bulk journal: no such table: meta".
    import sqlite3

    out = tmp_path / "cfdi"
    out.mkdir()
    journal = out / ".gigstack-journal.sqlite3"
    conn = sqlite3.connect(journal)
    conn.execute("PRAGMA journal_mode=WAL")  # what open() writes before its first transaction
    conn.close()
    for _ in range(2):  # also once emptied to 0 bytes (killed before SQLite wrote a page)
        shown = await cli("journal", "show", str(out))
        assert shown.code == 2, shown.stderr
        # Review 9g #1: journals are renamed into place complete, so this is damage.
        assert "DAMAGED" in shown.stdout + shown.stderr
        assert "no such table" not in shown.stderr
        journal.write_bytes(b"")
    # The run refuses it too, sending nothing: it never "completes" a journal.
    rerun = await cli(*_download(out, "--yes", last="2025-01"))
    assert rerun.code == 2, rerun.stdout + rerun.stderr
    assert "it is damaged" in rerun.stderr
    assert not sandbox.state.calls_to("createDownloadRequest")


def test_a_command_line_sat_code_matches_only_whole_month_requests() -> None:
    # Item 11f: `--sat-code M:5003` fired for ANY dates in that month, so the documented
    # recovery (split the period) could not be shown to work.
    from datetime import date

    from gigstack_async.cli.app import build_parser
    from gigstack_async.cli.commands.sandbox import profile_from_args

    args = build_parser().parse_args(["sandbox", "--sat-code", "2024-02:5003"])
    (rule,) = profile_from_args(args).sat_codes
    assert rule.matches(date(2024, 2, 1), "received", "cfdi", date(2024, 2, 29))
    assert not rule.matches(date(2024, 2, 1), "received", "cfdi", date(2024, 2, 15))
    assert not rule.matches(date(2024, 2, 16), "received", "cfdi", date(2024, 2, 29))
    assert not rule.matches(date(2024, 3, 1), "received", "cfdi", date(2024, 3, 31))


async def test_after_5003_the_split_halves_succeed_under_the_same_sat_code(
    make_sandbox, raw_cli, tmp_path: Path
) -> None:
    from gigstack_async.cli.app import build_parser
    from gigstack_async.cli.commands.sandbox import profile_from_args

    args = build_parser().parse_args(["sandbox", "--sat-code", "2025-03:5003"])
    sandbox: Sandbox = await make_sandbox(profile=profile_from_args(args))
    env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": sandbox.base_url}
    whole = await raw_cli(
        *_download(tmp_path / "cfdi", "--yes", first="2025-03", last="2025-03"),
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert whole.code == 1
    assert "5003" in whole.stdout
    for part, (first, last) in enumerate(
        (("2025-03-01", "2025-03-15"), ("2025-03-16", "2025-03-31"))
    ):
        half = await raw_cli(
            *_download(tmp_path / f"half{part}", "--yes", first=first, last=last),
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert half.code == 0, half.stdout


async def test_python_gets_error_and_hint_apart_and_in_its_own_terms(
    make_sandbox, raw_cli, tmp_path: Path
) -> None:
    # Item 11d: MonthResult.error ended with "Next: <hint>", so printing error and hint (as the
    # README does) showed the hint twice; and the hint told a Python caller about --out.
    from gigstack_async import GigstackClient, MonthFailed, MonthResult, PollSchedule
    from gigstack_async.sandbox.profiles import SatCodeRule

    rule = SatCodeRule(5003, month="2025-01")
    sandbox: Sandbox = await make_sandbox(profile=ServerProfile(sat_codes=(rule,)))
    async with GigstackClient(api_key=SECRET_KEY, base_url=sandbox.base_url) as client:
        run = client.downloads.bulk(
            "2025-01", "2025-01", rfc_type="received", download_to=tmp_path / "py",
            poll=PollSchedule(initial=0.02, maximum=0.05),
        )  # fmt: skip
        async with run:
            events = [event async for event in run]
    (result,) = [e for e in events if isinstance(e, MonthResult)]
    (failed,) = [e for e in events if isinstance(e, MonthFailed)]
    assert result.stage == "sat-failed"
    assert "SAT 5003: Tope máximo" in (result.error or "")
    assert "Next:" not in (result.error or "")
    assert "split the period" not in (result.error or "")
    assert (failed.error, failed.hint) == (result.error, result.hint)
    assert "each into its own download_to= folder" in (result.hint or "")
    assert "--out" not in (result.hint or "")
    # The CLI prints both, the hint once, in its own terms. Its own sandbox: in the first, the
    # Python run's request got 5003 and holds the month even with --allow-duplicates (review
    # 9n #2: SAT would refuse the same dates again).
    fresh: Sandbox = await make_sandbox(profile=ServerProfile(sat_codes=(rule,)))
    env = {"GIGSTACK_API_KEY": SECRET_KEY, "GIGSTACK_BASE_URL": fresh.base_url}
    cli_run = await raw_cli(
        *_download(tmp_path / "cli", "--yes", first="2025-01", last="2025-01"),
        env=env, cwd=tmp_path,
    )  # fmt: skip
    summary = " ".join(cli_run.stdout.split("Summary", 1)[1].split())
    assert summary.count("split the period") == 1
    assert "SAT 5003: Tope máximo de resultados excedido" in summary
    assert "divide el periodo en solicitudes menores. Next: split the period" in summary
    assert "each into its own --out folder" in summary
