"""Newcomer 9e: what a user who read only the README and the CLI's hints ran into.

#1: after `journal repair`, a month whose log shows it done and whose folder holds its files was
told to `journal adopt` its request, never that the files are there and `journal keep` records
them: following the hint spent each package's last SAT download to extract files already on
disk.
#5: held months' warnings and journal texts that assumed `sat download` (see below).
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.hints import with_journal
from gigstack_async.bulk.store import JournalStore
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile
from tests.bulk._support import (
    CREATE,
    JOURNAL,
    PACKAGE,
    calls,
    month_results,
    sandbox_env,
    world_of,
)


def _damage(journal: Path, key: str) -> None:
    conn = sqlite3.connect(journal)
    with conn:
        conn.execute("UPDATE months SET state = '{broken' WHERE key = ?", (key,))
    conn.close()


def _files(folder: Path) -> int:
    return sum(1 for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))


@pytest.mark.parametrize("log", ["with counts", "older, without counts"])
async def test_a_repaired_month_with_its_files_on_disk_leads_with_journal_keep(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    log: str,
) -> None:
    sandbox, client = world
    sandbox_env(monkeypatch, sandbox)
    out = tmp_path / "cfdi"
    first = await month_results(client, out, "2024-10", "2024-11")
    assert [r.stage for r in first.values()] == ["done", "done"]
    spent = (calls(sandbox, CREATE), calls(sandbox, PACKAGE))
    files = _files(out / "2024-11")
    assert files > 0
    if log != "with counts":
        conn = sqlite3.connect(out / JOURNAL)
        with conn:
            conn.execute("UPDATE log SET counts = NULL")  # a journal from before the counts
        conn.close()
    _damage(out / JOURNAL, "2024-11")
    assert main(["journal", "repair", str(out), "--yes"]) == 0
    notice = f"the month's folder already holds {files} file(s) extracted by an earlier run"
    with JournalStore.open_existing(out / JOURNAL) as store:
        hint = store.get("2024-11").hint or ""
    # The files and `journal keep` first; adopting (which downloads the packages again) after.
    assert hint.startswith(notice), hint
    assert hint.index("journal keep") < hint.index("journal adopt 2024-11")
    capsys.readouterr()
    assert main(["journal", "show", str(out)]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert f"already holds {files} file(s)" in shown
    # The next run says the same, and sends nothing for the month.
    after = (await month_results(client, out, "2024-10", "2024-11"))["2024-11"]
    assert after.stage == "needs-attention"
    assert (after.hint or "").startswith(notice)
    # Never `keep --force` ready-made (review 9i #3): with the log's count keep is checked; an
    # older log kept none, and the way to a checked keep is adopt (the run asks the status).
    assert "--force" not in (after.hint or "")
    if log == "with counts":
        assert f"`gigstack-async journal keep {out} 2024-11` records the month done" in (
            after.hint or ""
        )
    else:
        assert "stops and offers the checked `journal keep` instead" in (after.hint or "")
    assert (calls(sandbox, CREATE), calls(sandbox, PACKAGE)) == spent
    with JournalStore.open_existing(out / JOURNAL) as store:
        rid = store.get("2024-11").known_ids[-1]
    capsys.readouterr()
    assert main(["journal", "adopt", str(out), "2024-11", rid]) == 2  # no terminal, no --yes
    said = " ".join(capsys.readouterr().out.split())
    assert f"{out / '2024-11'} already holds {files} file(s)" in said
    assert "The next run asks the request's status first (free)" in said
    assert "--force" not in said
    if log != "with counts":
        # Followed: the run reads the status and stops with the checked keep, no GET.
        assert main(["journal", "adopt", str(out), "2024-11", rid, "--yes"]) == 0
        stopped = (await month_results(client, out, "2024-10", "2024-11"))["2024-11"]
        assert (stopped.hint or "").startswith(f"`gigstack-async journal keep {out} 2024-11`")
        assert (calls(sandbox, CREATE), calls(sandbox, PACKAGE)) == spent
    # Followed as printed (checked: no --force), the month is done with its files.
    assert main(["journal", "keep", str(out), "2024-11", "--yes"]) == 0
    last = await month_results(client, out, "2024-10", "2024-11")
    assert [r.stage for r in last.values()] == ["done", "done"]
    assert (calls(sandbox, CREATE), calls(sandbox, PACKAGE)) == spent
    assert _files(out / "2024-11") == files


# #5: a Python `bulk()` into a second folder logged every held month's long error as a WARNING
# (12 lines for a year, repeating `MonthResult.error`), and `journal adopt` on that folder said
# "Run the same `sat download` again", a command that folder was never made with.


async def test_held_months_log_one_short_warning_and_adopt_speaks_to_bulk_too(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox, client = world
    sandbox_env(monkeypatch, sandbox)
    first = await month_results(client, tmp_path / "cfdi", "2024-01", "2024-03")
    assert {r.stage for r in first.values()} == {"done"}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gigstack_async"):
        held = await month_results(client, tmp_path / "cfdi-py", "2024-01", "2024-03")
    assert {r.stage for r in held.values()} == {"held"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(
        f"bulk download to {tmp_path / 'cfdi-py'}: 3 month(s) held, not sent: 2024-01, 2024-02, "
        "2024-03 ("
    )
    assert all((r.error or "")[:60] not in warnings[0] for r in held.values())
    # The result still carries the whole story.
    jan = held["2024-01"]
    assert "journal adopt" in (jan.hint or "")
    adopt = re.search(r"`gigstack-async (journal adopt [^`]+)`", jan.hint or "")
    assert adopt is not None
    capsys.readouterr()
    assert main([*shlex.split(adopt.group(1)), "--yes"]) == 0
    said = capsys.readouterr().out
    # Made in another folder: one GET of each package by itself, then retry-download if it
    # fails (review 9u #3; before, none until retry-download: newcomer 9k #5's two steps).
    assert "the next run sends at most one GET of each package and never retries it" in said
    assert "Run the same download again (the `sat download` command, or the `bulk()` call)." in said
    assert "Run the same `sat download` again" not in said
    assert "the next run (`sat download` or `bulk()`)" in said


# #6: after adopting into a new journal, "2 downloads counted, 2 of them may not have reached SAT
# (this journal did not count ...)": this journal sent none of them.


async def test_a_request_adopted_into_a_new_journal_says_plainly_its_downloads_were_not_counted(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, client = world
    sandbox_env(monkeypatch, sandbox)
    out = tmp_path / "cfdi"
    first = (await month_results(client, out, "2024-10", "2024-10"))["2024-10"]
    assert first.stage == "done"
    rid = str(first.request_id)
    (out / JOURNAL).rename(tmp_path / "old-journal")  # the journal is gone: a new one
    # Its files gone too: with them on disk the run stops with the checked `journal keep`
    # before any package is counted (review 9i #3, tests/bulk/test_review_9i_repair.py).
    shutil.rmtree(out / "2024-10")
    argv = ["journal", "adopt", str(out), "2024-10", rid, "--rfc-type", "received", "--yes"]
    assert await asyncio.to_thread(main, argv) == 0  # a new journal: it reads the team
    spent = calls(sandbox, PACKAGE)
    after = (await month_results(client, out, "2024-10", "2024-10"))["2024-10"]
    assert after.stage == "needs-attention"
    error = after.error or ""
    assert "both of SAT's downloads assumed spent: this journal did not count" in error
    assert f"`gigstack-async journal retry-download {out} 2024-10` checks it for free" in error
    assert "may not have reached SAT" not in error
    assert calls(sandbox, PACKAGE) == spent  # nothing sent on the assumption
    capsys.readouterr()
    assert main(["journal", "show", str(out), "2024-10"]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "2 of 2 (SAT's 2 assumed spent: this journal did not count them)" in shown


# #7: after `journal split` and the `cp` it prints, the folder's summary left the copied files out
# of the month's files and the totals.


async def test_a_split_month_counts_the_files_the_printed_cp_put_in_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = ServerProfile(sat_codes=(SatCodeRule(5003, month="2024-03", times=1),))
    async with world_of(SandboxConfig(speed=3000, seed=7, profile=profile)) as (sandbox, client):
        out, part_a, part_b = (tmp_path / n for n in ("cfdi", "cfdi-2024-03a", "cfdi-2024-03b"))
        assert (await month_results(client, out, "2024-03", "2024-03"))["2024-03"].stage == (
            "sat-failed"
        )
        halves = (("2024-03-01", "2024-03-15", part_a), ("2024-03-16", "2024-03-31", part_b))
        for start, end, part in halves:
            assert (await month_results(client, part, start, end))["2024-03"].stage == "done"
        capsys.readouterr()
        split = ["journal", "split", str(out), "2024-03", str(part_a), str(part_b)]
        assert main(split) == 0
        copy = re.search(r"(mkdir -p .+ && cp -n -R .+)$", capsys.readouterr().out, re.M)
        assert copy is not None
        done = await asyncio.create_subprocess_shell(copy.group(1))
        assert await done.wait() == 0
        copied = _files(out / "2024-03")
        assert copied == _files(part_a / "2024-03") + _files(part_b / "2024-03") > 0
        again = (await month_results(client, out, "2024-03", "2024-03"))["2024-03"]
        assert again.stage == "split"
        assert len(again.files) == copied
        assert {f.parent for f in again.files} == {out / "2024-03"}
        assert calls(sandbox, PACKAGE) == 2  # counting them downloads nothing


# ------------------------------------------------------------------ the pure pieces


def _state(start: date, end: date, request_type: str = "cfdi") -> m.MonthState:
    return m.MonthState(start.strftime("%Y-%m"), start, end, "issued", request_type)


def test_a_month_splits_in_two_halves_and_a_single_day_does_not() -> None:
    feb = _state(date(2024, 2, 1), date(2024, 2, 29))
    assert m.split_halves(feb) == (
        (date(2024, 2, 1), date(2024, 2, 14), "<out>-2024-02a"),
        (date(2024, 2, 15), date(2024, 2, 29), "<out>-2024-02b"),
    )
    two = _state(date(2024, 2, 1), date(2024, 2, 2))
    assert [(a.day, b.day) for a, b, _ in m.split_halves(two)] == [(1, 1), (2, 2)]
    one = _state(date(2024, 2, 1), date(2024, 2, 1))
    assert m.split_halves(one) == ((date(2024, 2, 1), date(2024, 2, 1), "<out>-2024-02a"),)
    meta = m.split_commands(_state(date(2024, 2, 1), date(2024, 2, 29), "metadata"))
    assert meta.startswith(
        "`gigstack-async sat download --from 2024-02-01 --to 2024-02-14 --rfc-type issued "
        "--type metadata --out <out>-2024-02a` and "
    )
    assert meta.endswith(
        "`gigstack-async journal split 2024-02 <out>-2024-02a <out>-2024-02b` checks that they "
        "cover the month and records where its CFDIs are"
    )


@pytest.mark.parametrize(
    ("journal", "out", "platform", "expected"),
    [
        ("cfdi", None, "linux", "--out cfdi-2024-02a; journal split cfdi 2024-02 cfdi-2024-02a"),
        ("cfdi/", None, "linux", "--out cfdi-2024-02a; journal split cfdi/ 2024-02 cfdi-2024-02a"),
        (
            "j.sqlite3",
            "my dir",
            "linux",
            "--out 'my dir-2024-02a'; journal split j.sqlite3 2024-02 'my dir-2024-02a'",
        ),
        (
            None,
            "C:\\cfdi\\",
            "win32",
            "--out C:\\cfdi-2024-02a; journal split 2024-02 C:\\cfdi-2024-02a",
        ),
        (None, None, "linux", "--out <out>-2024-02a; journal split 2024-02 <out>-2024-02a"),
    ],
)
def test_part_folders_are_written_beside_the_download_folder(
    journal: str | None, out: str | None, platform: str, expected: str
) -> None:
    text = "--out <out>-2024-02a; gigstack-async journal split 2024-02 <out>-2024-02a"
    shown = with_journal(text, "2024-02", journal, platform=platform, out=out) or ""
    assert shown == expected.replace("journal split", "gigstack-async journal split")


def test_an_unrecorded_month_with_files_on_disk_leads_with_them() -> None:
    base = _state(date(2024, 2, 1), date(2024, 2, 29))
    kw: dict[str, object] = {"known_ids": ("R1",), "creates": 1, "reason": "why", "hint": "way"}
    plain = m.unrecorded(base, **kw)  # type: ignore[arg-type]
    assert (plain.stage, plain.reason, plain.hint, plain.on_disk) == (
        m.Stage.NEEDS_ATTENTION,
        "why",
        "way",
        0,
    )
    held = m.unrecorded(base, **kw, on_disk=4)  # type: ignore[arg-type]
    assert held.on_disk == 4
    assert held.reason == "why"
    assert held.hint == m.files_notice(held) + "way"
    assert held.hint.startswith("the month's folder already holds 4 file(s)")
    # Review 9i #3: never --force ready-made; without SAT's count, adopt leads to a checked keep.
    assert "--force" not in held.hint
    assert "stops and offers the checked `journal keep` instead. First, way" in held.hint
    counted = m.unrecorded(base, **kw, counts=m.Counts(1), on_disk=4)  # type: ignore[arg-type]
    assert (counted.hint, counted.reason, counted.on_disk) == (held.hint, "why", 4)
