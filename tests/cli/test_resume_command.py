"""Newcomer 11: `journal show` says "run the same command again" without the command. It now
writes it out from the journal, and only when one command plans exactly the journal's months."""

from __future__ import annotations

import shlex
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async._dates import month_end
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import Hold, JournalStore, StoreIdentity
from gigstack_async.cli.commands import journal as journal_cli
from gigstack_async.cli.context import Context
from gigstack_async.cli.redact import Redactor
from gigstack_async.cli.resume_command import resume_command
from gigstack_async.cli.ui import Ui
from gigstack_async.sandbox import Sandbox

from ._support import creates as _creates
from ._support import download_argv as _download

JOURNAL = ".gigstack-journal.sqlite3"

_IDENTITY = StoreIdentity(
    team=None,
    base_url="https://api.gigstack.io/v2",
    key_fingerprint="f" * 16,
    rfc=None,
    rfc_type="received",
    request_type="cfdi",
)


def _month(key: str, start: date | None = None, end: date | None = None) -> m.MonthState:
    first = date.fromisoformat(f"{key}-01")
    return m.MonthState(key, start or first, end or month_end(first), "received", "cfdi")


def _command(tmp_path: Path, *months: m.MonthState, **identity: object) -> str | None:
    out = tmp_path / "cfdi"
    out.mkdir(parents=True, exist_ok=True)
    with JournalStore.open(
        out / JOURNAL, attrs.evolve(_IDENTITY, **identity), download_to=out
    ) as store:
        for month in months:
            store.put(month)
        return resume_command(store, store.path, out)


def test_whole_months_are_written_as_months(tmp_path: Path) -> None:
    command = _command(tmp_path, _month("2024-11"), _month("2024-12"), _month("2025-01"))
    assert command == (
        "gigstack-async sat download --from 2024-11 --to 2025-01 --rfc-type received "
        f"--out {tmp_path / 'cfdi'}"
    )


def test_edges_inside_a_month_are_days_and_other_settings_are_kept(tmp_path: Path) -> None:
    command = _command(
        tmp_path,
        _month("2024-03", start=date(2024, 3, 15)),
        _month("2024-04", end=date(2024, 4, 10)),
        request_type="metadata",
        base_url="http://127.0.0.1:8080/v2",
        team="team_b",
    )
    assert command is not None
    assert shlex.split(command)[1:] == [
        "sat", "download", "--from", "2024-03-15", "--to", "2024-04-10",
        "--rfc-type", "received", "--type", "metadata", "--out", str(tmp_path / "cfdi"),
        "--base-url", "http://127.0.0.1:8080/v2", "--team", "team_b",
    ]  # fmt: skip


def test_no_command_spans_a_gap_or_a_month_cut_inside_the_period(tmp_path: Path) -> None:
    # Months from two runs of other periods: 2024-01 and 2024-03. A command from 2024-01 to
    # 2024-03 would plan, and may bill, 2024-02, which the journal never had.
    assert _command(tmp_path, _month("2024-01"), _month("2024-03")) is None
    # A month in the middle requested for fewer days (a part): no single --from/--to gives it.
    cut = _month("2024-06", end=date(2024, 6, 15))
    assert _command(tmp_path / "b", _month("2024-05"), cut, _month("2024-07")) is None


def _printed(stdout: str) -> list[str] | None:
    """The command `journal show` printed on the line after its "The same download" line."""
    lines = stdout.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("The same download, for this journal"):
            return shlex.split(lines[number + 1])
    return None


async def test_the_command_journal_show_prints_resumes_the_same_months(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    out = tmp_path / "cfdi"
    # Stopped at once: nothing submitted, both months planned in the journal.
    stopped = await cli(*_download(out, "--yes", "--timeout", "0.001"))
    assert stopped.code != 0, stopped.stdout + stopped.stderr
    shown = await cli("journal", "show", str(out))
    assert shown.code == 0, shown.stderr
    argv = _printed(shown.stdout)
    assert argv is not None, shown.stdout
    assert argv[:3] == ["gigstack-async", "sat", "download"]
    assert argv[argv.index("--from") + 1] == "2025-01"
    assert argv[argv.index("--to") + 1] == "2025-02"
    assert argv[argv.index("--out") + 1] == str(out)
    # Not gigstack's own server: written out, whatever GIGSTACK_BASE_URL the command runs with.
    assert argv[argv.index("--base-url") + 1] == sandbox.base_url
    assert "--journal" not in argv
    before = _creates(sandbox)
    again = await cli(*argv[1:], "--poll-interval", "0.02", "--yes")
    assert again.code == 0, again.stdout + again.stderr
    assert _creates(sandbox) - before == 2  # its two months, nothing else
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "2025-01",
        "2025-02",
    ]
    # Every month finished: nothing to go on with, no command.
    done = await cli("journal", "show", str(out))
    assert "The same download" not in done.stdout


async def test_a_journal_kept_elsewhere_resumes_into_its_own_download_folder(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    # Review 12 #1: `journal show Y` of a journal put in Y (`--journal Y/...`) by a download
    # into X printed `--out Y`: run, it extracted into Y and rebound the journal to it.
    out, elsewhere = tmp_path / "X", tmp_path / "-Y"
    journal = elsewhere / JOURNAL
    stopped = await cli(*_download(out, "--journal", str(journal), "--yes", "--timeout", "0.001"))
    assert stopped.code != 0, stopped.stdout + stopped.stderr
    missing = await cli("journal", "show", str(out))
    assert missing.code == 2
    assert "if its `sat download` was given --journal FILE, give that file" in missing.stderr
    shown = await cli("journal", "show", str(elsewhere))
    argv = _printed(shown.stdout)
    assert argv is not None, shown.stdout
    assert argv[argv.index("--out") + 1] == str(out)
    assert argv[argv.index("--journal") + 1] == str(journal)
    again = await cli(*argv[1:], "--poll-interval", "0.02", "--yes")
    assert again.code == 0, again.stdout + again.stderr
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "2025-01",
        "2025-02",
    ]
    # Nothing extracted beside the journal (its lock file aside).
    assert not [p for p in elsewhere.iterdir() if not p.name.startswith(JOURNAL)]


def test_the_server_is_written_when_the_environment_would_reach_another(tmp_path: Path) -> None:
    # Review 12 #5: a production journal read with GIGSTACK_BASE_URL set to a sandbox printed
    # no --base-url; run in that environment, the command reached the sandbox and was refused.
    out = tmp_path / "cfdi"
    out.mkdir()
    with JournalStore.open(out / JOURNAL, _IDENTITY, download_to=out) as store:
        store.put(_month("2024-01"))
        sandbox = "http://127.0.0.1:9/v2"
        pinned = resume_command(store, store.path, out, environment_base_url=sandbox)
        plain = resume_command(store, store.path, out, environment_base_url=None)
    assert pinned is not None
    assert plain is not None
    assert pinned.endswith("--base-url https://api.gigstack.io/v2")
    assert "--base-url" not in plain


def test_a_folder_named_like_an_option_is_written_as_a_path(tmp_path: Path) -> None:
    # Review 12 #6: `--out -dash` is read by argparse as an option without its value.
    with JournalStore.open(tmp_path / "j.sqlite3", _IDENTITY, download_to=tmp_path) as store:
        store.put(_month("2024-01"))
        command = resume_command(store, Path("-j.sqlite3"), Path("-dash"))
    assert command is not None
    argv = shlex.split(command)
    assert argv[argv.index("--out") + 1] == "./-dash"
    assert argv[argv.index("--journal") + 1] == "./-j.sqlite3"


def _said(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *months: m.MonthState,
    holds: dict[str, Hold] | None = None,
) -> str:
    """What `journal show` adds below its table for a journal of these months (`holds`: the
    months the last run held)."""
    out = tmp_path / "cfdi"
    out.mkdir(parents=True, exist_ok=True)
    with JournalStore.open(out / JOURNAL, _IDENTITY, download_to=out) as store:
        store.bind_download_to(out)  # as a `sat download` records it
        for month in months:
            store.put(month)
        journal_cli._say_resume(
            Context(Ui(Redactor()), Redactor()), store, holds or {}, running=False
        )
    return capsys.readouterr().out


def test_the_command_is_written_only_where_running_again_is_a_months_next_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Review 12 #3: needs-attention months whose next step is "run the same command again
    # later" got no command, and held months (adopt or resend next) got one.
    monkeypatch.delenv("GIGSTACK_BASE_URL", raising=False)
    later = attrs.evolve(
        _month("2024-01"),
        stage=m.Stage.NEEDS_ATTENTION,
        hint="run the same command again later: a request the history lists late is adopted",
    )
    assert "sat download --from 2024-01 --to 2024-01" in _said(tmp_path / "a", capsys, later)
    adopt = attrs.evolve(later, hint="`gigstack-async journal adopt 2024-01 <id>`")
    assert _said(tmp_path / "b", capsys, adopt) == ""
    held = _month("2024-02")  # planned, and held by the last run
    done = attrs.evolve(_month("2024-01"), stage=m.Stage.DONE)
    holds = {"2024-02": Hold("held", "adopt it")}
    assert _said(tmp_path / "c", capsys, done, held, holds=holds) == ""
    assert "The same download" in _said(tmp_path / "d", capsys, _month("2024-03"))


def test_a_journal_that_records_no_download_folder_gets_no_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Review 12 #2: a `bulk()` journal without download_to (nothing extracted) printed the
    # journal file as --out; no `sat download` makes such a journal.
    with JournalStore.open(tmp_path / "j.sqlite3", _IDENTITY) as store:
        store.put(_month("2024-01"))
        journal_cli._say_resume(Context(Ui(Redactor()), Redactor()), store, {}, running=False)
    assert capsys.readouterr().out == ""


def test_a_last_month_cut_short_says_how_to_ask_for_its_other_days(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Review 12 #4: a month clipped to the day of the run froze --to at that day, and nothing
    # said the rest of the period was never asked for.
    monkeypatch.delenv("GIGSTACK_BASE_URL", raising=False)
    said = " ".join(_said(tmp_path, capsys, _month("2026-12", end=date(2026, 12, 1))).split())
    assert "--to 2026-12-01" in said
    assert (
        "Its --to is 2026-12-01, the last day this journal's requests cover. If the download "
        "asked for more (a --to after the day it ran: the plan stops at that day), give that "
        "--to instead" in said
    )


def test_a_first_month_begun_late_says_how_to_ask_for_its_first_days(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Review 13 #2: a journal whose January was requested from the 15th (an earlier run's
    # --from), then planned whole by a later run (its first days MISSING DAYS): the printed
    # command began at the 15th, and running it said "3 ok" with January 1-14 never asked for.
    monkeypatch.delenv("GIGSTACK_BASE_URL", raising=False)
    january = _month("2025-01", start=date(2025, 1, 15))
    said = " ".join(_said(tmp_path, capsys, january, _month("2025-02")).split())
    assert "--from 2025-01-15" in said
    assert (
        "Its --from is 2025-01-15, the first day this journal's requests cover. If the "
        "download asked for 2025-01 from an earlier day, give that --from instead: the days "
        "before are then shown as MISSING DAYS, with how to ask for them." in said
    )
    whole = " ".join(_said(tmp_path / "b", capsys, _month("2025-01")).split())
    assert "Its --from" not in whole
