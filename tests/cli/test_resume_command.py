"""Newcomer 11: `journal show` says "run the same command again" without the command. It now
writes it out from the journal, and only when one command plans exactly the journal's months."""

from __future__ import annotations

import shlex
from datetime import date
from pathlib import Path

import attrs

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.cli.resume_command import resume_command
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
    year, month = (int(part) for part in key.split("-"))
    first = date(year, month, 1)
    last = date(year + month // 12, month % 12 + 1, 1) - (date(2024, 1, 2) - date(2024, 1, 1))
    return m.MonthState(key, start or first, end or last, "received", "cfdi")


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


async def test_the_command_journal_show_prints_resumes_the_same_months(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    out = tmp_path / "cfdi"
    # Stopped at once: nothing submitted, both months planned in the journal.
    stopped = await cli(*_download(out, "--yes", "--timeout", "0.001"))
    assert stopped.code != 0, stopped.stdout + stopped.stderr
    shown = await cli("journal", "show", str(out))
    assert shown.code == 0, shown.stderr
    said = " ".join(shown.stdout.split())
    assert "The same command, for this journal: `gigstack-async sat download " in said
    command = said.split("The same command, for this journal: `", 1)[1].split("`", 1)[0]
    argv = shlex.split(command)
    assert argv[:2] == ["gigstack-async", "sat"]
    assert argv[argv.index("--from") + 1] == "2025-01"
    assert argv[argv.index("--to") + 1] == "2025-02"
    assert argv[argv.index("--base-url") + 1] == sandbox.base_url
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
    assert "The same command" not in done.stdout
