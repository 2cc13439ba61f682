"""A damaged, edited or deleted journal never bills a month again on its own, and says how to go
on without billing (review 9e #2); `journal show` reads while a run holds the journal (#4).

Store and CLI cases run in process; the runs go against the sandbox on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import content, engine, repair
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import MonthResult
from gigstack_async.bulk.salvage import salvage
from gigstack_async.bulk.store import JournalDamagedError, JournalStore, StoreIdentity
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from tests.bulk._support import (
    CREATE,
    FAST,
    JOURNAL,
    PACKAGE,
    cfdi_text,
    month_results,
    sandbox_env,
    world_of,
)
from tests.bulk._support import calls as _calls

IDENTITY = StoreIdentity(
    None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
)


def _month(key: str, last: int, **changes: object) -> m.MonthState:
    year, month = (int(p) for p in key.split("-"))
    state = m.MonthState(key, date(year, month, 1), date(year, month, last), "received", "cfdi")
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


JAN = _month("2024-01", 31)
FEB = _month("2024-02", 29)
MAR = _month("2024-03", 31)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """A finished journal: 2024-01 and 2024-02 done (DM-1, DM-2), 2024-03 resent after DM-3
    expired (it follows no request now)."""
    folder = tmp_path / "cfdi"
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        store.ensure([JAN, FEB, MAR])
        for state, rid in ((JAN, "DM-1"), (FEB, "DM-2"), (MAR, "DM-3")):
            sent = attrs.evolve(state, stage=m.Stage.SUBMITTING, creates=1)
            store.put(sent)
            store.put(attrs.evolve(sent, stage=m.Stage.SUBMITTED, request_id=rid, known_ids=(rid,)))
            store.put(attrs.evolve(store.get(state.key), stage=m.Stage.DONE, reason="all"))
        resent, _ = m.transition(
            attrs.evolve(store.get("2024-03"), stage=m.Stage.EXPIRED), m.AllowResend()
        )
        store.put(resent)
    return folder


def _sql(path: Path, statement: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(statement)
    conn.close()


# ------------------------------------------------------------------ typed errors


def test_a_damaged_month_record_names_the_month_and_the_way_that_bills_nothing(out: Path) -> None:
    _sql(out / JOURNAL, "UPDATE months SET state = '{broken' WHERE key = '2024-02'")
    with pytest.raises(JournalDamagedError) as caught:
        JournalStore.open(out / JOURNAL, IDENTITY).close()
    error = caught.value
    assert error.months == ("2024-02",)
    assert error.path == out / JOURNAL
    text = str(error)
    assert "month 2024-02" in text
    assert f"gigstack-async journal show {out}" in text
    assert f"gigstack-async journal repair {out}` rewrites only 2024-02" in text
    assert "bill" in text


def test_a_file_damage_names_the_new_journal_route(out: Path) -> None:
    with open(out / JOURNAL, "r+b") as handle:
        handle.write(b"GARBAGEGARBAGEGARBAGE")
    with pytest.raises(JournalDamagedError) as caught:
        JournalStore.open(out / JOURNAL, IDENTITY).close()
    text = str(caught.value)
    assert f"gigstack-async journal show {out}" in text
    assert f"mv {out / JOURNAL} {out / JOURNAL}.damaged" in text
    assert f"journal adopt {out} YYYY-MM REQUEST_ID --rfc-type received --type cfdi" in text


@pytest.mark.parametrize("damage", ["truncated", "garbage header"])
def test_a_file_sqlite_cannot_read_is_damaged_with_the_way_on(out: Path, damage: str) -> None:
    path = out / JOURNAL
    if damage == "truncated":
        with open(path, "r+b") as handle:
            handle.truncate(1000)
    else:
        with open(path, "r+b") as handle:
            handle.write(b"GARBAGEGARBAGEGARBAGE")
    with pytest.raises(JournalDamagedError) as caught:
        JournalStore.open(path, IDENTITY).close()
    assert caught.value.months == ()
    assert "journal adopt" in str(caught.value)
    assert "--rfc-type received" in str(caught.value)  # the run's own kind, ready to copy


# ------------------------------------------------------------------ the log keeps request ids


def test_the_log_records_each_months_request_id(out: Path) -> None:
    with JournalStore.open_readonly(out / JOURNAL) as store:
        ids = [line.request_id for line in store.log("2024-03")]
    assert ids == [None, None, "DM-3", "DM-3", None]  # planned, sending, sent, done, resent


def test_a_journal_whose_log_predates_request_ids_opens_and_gains_them(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL
    JournalStore.open(path, IDENTITY).close()
    _sql(path, "DROP TABLE log")
    _sql(path, "CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, "
               "stage TEXT NOT NULL, reason TEXT)")  # fmt: skip
    _sql(path, "INSERT INTO log (key, stage, reason) VALUES ('2024-01', 'planned', NULL)")
    with JournalStore.open_readonly(path) as store:
        assert [line.request_id for line in store.log()] == [None]
    with JournalStore.open(path, IDENTITY) as store:
        store.ensure([JAN])
        store.put(attrs.evolve(JAN, stage=m.Stage.SUBMITTED, request_id="DM-9"))
        assert [line.request_id for line in store.log()] == [None, None, "DM-9"]


# ------------------------------------------------------------------ salvage


def test_salvage_reads_a_damaged_months_ids_from_the_log(out: Path) -> None:
    _sql(out / JOURNAL, "UPDATE months SET state = '{broken' WHERE key = '2024-02'")
    found = {month.key: month for month in salvage(out / JOURNAL).months}
    assert found["2024-01"].request_id == "DM-1"
    assert found["2024-02"].request_id == "DM-2"
    assert found["2024-02"].sources == ("log",)
    assert found["2024-02"].stage == "done"
    # A resent month follows no request: its old, expired id is listed but not to adopt.
    assert found["2024-03"].request_id is None
    assert found["2024-03"].request_ids == ("DM-3",)


def test_salvage_reads_ids_from_the_bytes_when_sqlite_cannot(out: Path) -> None:
    with open(out / JOURNAL, "r+b") as handle:
        handle.write(b"GARBAGEGARBAGEGARBAGE")
    found = salvage(out / JOURNAL)
    assert found.identity is None
    assert found.kind == ("received", "cfdi")
    assert {m.key: m.request_id for m in found.months} == {
        "2024-01": "DM-1",
        "2024-02": "DM-2",
        "2024-03": None,
    }
    assert found.problems


# ------------------------------------------------------------------ journal show


def test_show_on_a_damaged_journal_lists_the_ids_and_the_commands(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sql(out / JOURNAL, "UPDATE months SET state = '{broken' WHERE key = '2024-02'")
    assert main(["journal", "show", str(out)]) == 2
    text = capsys.readouterr().out
    assert "DAMAGED" in text
    assert "month 2024-02" in text
    for key, rid in (("2024-01", "DM-1"), ("2024-02", "DM-2")):
        assert f"journal adopt {out} {key} {rid} --rfc-type received --type cfdi --yes" in text
    # 2024-03 was resent: it follows no request, so nothing is offered to adopt for it.
    assert not any("journal adopt" in line and " 2024-03 " in line for line in text.splitlines())
    assert f"mv {out / JOURNAL} {out / JOURNAL}.damaged" in text


def test_show_of_the_moved_aside_journal_adopts_into_the_folder_without_another_mv(
    out: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Newcomer 9e #3: after step 1's mv, `journal show <folder>/<journal>.damaged` printed
    # adopts into the .damaged file and a step "mv ….damaged ….damaged.damaged".
    monkeypatch.setenv("GIGSTACK_API_KEY", "sk_test_route")
    monkeypatch.setenv("GIGSTACK_BASE_URL", "http://127.0.0.1:9/v2")
    with open(out / JOURNAL, "r+b") as handle:
        handle.write(b"GARBAGEGARBAGEGARBAGE")
    assert main(["journal", "show", str(out)]) == 2
    before = capsys.readouterr().out
    assert f"journal show {out / JOURNAL}.damaged` lists them again" in before
    shutil.move(out / JOURNAL, out / f"{JOURNAL}.damaged")
    assert main(["journal", "show", str(out / f"{JOURNAL}.damaged")]) == 2
    text = capsys.readouterr().out
    assert "mv " not in text
    assert ".damaged.damaged" not in text
    commands = [
        line.split()[2:] for line in text.splitlines()
        if line.strip().startswith("gigstack-async journal adopt")
    ]  # fmt: skip
    assert [words[1] for words in commands] == [str(out), str(out)]
    for words in commands:
        assert main(["journal", *words]) == 0
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert {s.key: s.request_id for s in store.states()} == {
            "2024-01": "DM-1",
            "2024-02": "DM-2",
        }


def test_the_printed_route_carries_every_request_over_without_sending(
    out: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIGSTACK_API_KEY", "sk_test_route")
    monkeypatch.setenv("GIGSTACK_BASE_URL", "http://127.0.0.1:9/v2")
    with open(out / JOURNAL, "r+b") as handle:
        handle.write(b"GARBAGEGARBAGEGARBAGE")
    assert main(["journal", "show", str(out)]) == 2
    commands = [
        line.split()[2:] for line in capsys.readouterr().out.splitlines()
        if line.strip().startswith("gigstack-async journal adopt")
    ]  # fmt: skip
    assert len(commands) == 2
    shutil.move(out / JOURNAL, out / f"{JOURNAL}.damaged")
    for words in commands:
        assert main(["journal", *words]) == 0
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert {s.key: s.request_id for s in store.states()} == {
            "2024-01": "DM-1",
            "2024-02": "DM-2",
        }
        assert all(s.stage is m.Stage.SUBMITTED and s.creates == 0 for s in store.states())


def test_show_works_while_a_run_holds_the_journal(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The lock is per open file: held here, it is held against `show` as another process's.
    with JournalStore.open_existing(out / JOURNAL) as running:
        running.put(attrs.evolve(running.get("2024-03"), stage=m.Stage.SUBMITTING, creates=2))
        assert main(["journal", "show", str(out)]) == 0
        text = capsys.readouterr().out
        assert "a `sat download` is running on this journal now" in text
        assert "submitting" in text  # what the run committed last
        assert "the running `sat download` drives it" in text
        running.put(attrs.evolve(running.get("2024-03"), stage=m.Stage.SUBMITTED))
    assert main(["journal", "show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "is running" not in text
    assert "run the same command again" in text


# ------------------------------------------------------------------ runs against the sandbox


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    async with world_of(SandboxConfig(speed=3000, seed=4)) as both:
        yield both


async def _run(client: GigstackClient, out: Path) -> dict[str, MonthResult]:
    return await month_results(client, out, "2024-01", "2024-03")


def _creates(sandbox: Sandbox) -> dict[str, int]:
    return {k: sandbox.state.billed_creates(k) for k in ("2024-01", "2024-02", "2024-03")}


async def test_a_deleted_month_record_the_log_lists_is_not_billed_again(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    first = await _run(client, out)
    assert all(r.stage == "done" for r in first.values())
    feb_id = first["2024-02"].request_id
    shutil.rmtree(out / "2024-02")  # not even the folder's files give it away
    _sql(out / JOURNAL, "DELETE FROM months WHERE key = '2024-02'")
    again = await _run(client, out)
    assert _creates(sandbox) == {"2024-01": 1, "2024-02": 1, "2024-03": 1}
    feb = again["2024-02"]
    assert feb.stage == "needs-attention"
    assert f"journal adopt {out} 2024-02 {feb_id}" in (feb.hint or "")
    assert "sent before" in (feb.error or "")
    # The way out the hint names: adopt the logged id; the month is downloaded, not billed.
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-02").creates == 1
        repair.record(store, *repair.adopt(store, "2024-02", str(feb_id)))
    sandbox.clock.advance(60)
    last = await _run(client, out)
    assert last["2024-02"].stage == "done", last["2024-02"].error
    assert _creates(sandbox) == {"2024-01": 1, "2024-02": 1, "2024-03": 1}


async def test_a_deleted_journal_does_not_bill_months_the_folder_already_holds(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    first = await _run(client, out)
    shutil.rmtree(out / "2024-03")  # this one's files are gone: only the history has it
    for name in (JOURNAL, f"{JOURNAL}-wal", f"{JOURNAL}-shm"):
        (out / name).unlink(missing_ok=True)
    again = await _run(client, out)
    assert _creates(sandbox) == {"2024-01": 1, "2024-02": 1, "2024-03": 1}
    for key in ("2024-01", "2024-02"):
        assert again[key].stage == "needs-attention"
        assert "already holds" in (again[key].error or "")
        assert f"journal adopt {out} {key} <request id>" in (again[key].hint or "")
        # Newcomer 12 #2: a journal kept elsewhere (`--journal`) looks the same from here.
        assert "or the folder's journal kept elsewhere with --journal?" in (again[key].error or "")
        assert (
            "if this folder's download was given --journal FILE, run it with that --journal "
            "again (this journal is then not needed); otherwise find its request"
        ) in " ".join((again[key].hint or "").split())
    # Its exact request is still in the account's history: held, not billed again.
    assert again["2024-03"].stage == "held"
    assert str(first["2024-03"].request_id) in (again["2024-03"].hint or "")


# ------------------------------------------------------------------ journal repair


def test_repair_rewrites_only_the_damaged_month_from_its_log(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sql(out / JOURNAL, "UPDATE months SET state = '{broken' WHERE key = '2024-02'")
    assert main(["journal", "repair", str(out), "--yes"]) == 0
    assert "2024-02: record unreadable" in capsys.readouterr().out
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-01").stage is m.Stage.DONE  # kept: not downloaded again
        feb = store.get("2024-02")
        assert feb.stage is m.Stage.NEEDS_ATTENTION
        assert feb.known_ids == ("DM-2",)
        assert feb.creates == 1
        assert not feb.resend_allowed  # never sent again on its own
        assert "journal adopt 2024-02 DM-2" in (feb.hint or "")
        new, _ = repair.adopt(store, "2024-02", "DM-2")
        assert new.stage is m.Stage.SUBMITTED


def test_repair_plans_again_a_damaged_month_that_was_never_sent(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL
    with JournalStore.open(path, IDENTITY) as store:
        store.ensure([JAN])
    _sql(path, "UPDATE months SET state = '[]' WHERE key = '2024-01'")
    assert main(["journal", "repair", str(path), "--yes"]) == 0
    with JournalStore.open_existing(path) as store:
        assert store.get("2024-01").stage is m.Stage.PLANNED
        assert store.get("2024-01").resend_allowed


def test_repair_asks_first_and_leaves_a_healthy_journal_alone(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "repair", str(out)]) == 0
    assert "nothing to repair" in capsys.readouterr().out
    _sql(out / JOURNAL, "UPDATE months SET state = '{broken' WHERE key = '2024-02'")
    assert main(["journal", "repair", str(out)]) == 2  # no terminal, no --yes
    assert "--yes" in capsys.readouterr().err
    with pytest.raises(JournalDamagedError):
        JournalStore.open_existing(out / JOURNAL).close()


def test_repair_refuses_a_file_sqlite_cannot_read_with_the_way_on(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open(out / JOURNAL, "r+b") as handle:
        handle.write(b"GARBAGEGARBAGEGARBAGE")
    assert main(["journal", "repair", str(out), "--yes"]) == 2
    assert "journal show" in capsys.readouterr().err


class _Malformed:
    """A connection whose file went bad under a running store: every write fails as SQLite
    fails on a damaged page."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql.startswith("INSERT"):
            raise sqlite3.DatabaseError("database disk image is malformed")
        return self.conn.execute(sql, *args)

    def close(self) -> None:
        self.conn.close()


def test_damage_found_while_a_run_writes_is_typed_and_records_nothing(out: Path) -> None:
    with JournalStore.open_existing(out / JOURNAL) as store:
        store._conn = _Malformed(store._conn)  # type: ignore[assignment]
        before = store.get("2024-03")
        with pytest.raises(JournalDamagedError, match="journal show"):
            store.put(attrs.evolve(before, stage=m.Stage.SUBMITTING, creates=1))
        assert store.get("2024-03") == before  # the create it guards must not go ahead


async def test_a_journal_kept_elsewhere_does_not_judge_the_folder_by_its_files(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    # journal= outside the folder: the folder may hold another journal's months (e.g. the
    # issued CFDIs of the same dates), so its files prove nothing about this journal's.
    sandbox, client = world
    out = tmp_path / "cfdi"
    await _run(client, out)
    bulk = client.downloads.bulk("2024-01", "2024-01", rfc_type="issued", download_to=out,
                                 journal=tmp_path / "issued.sqlite3", poll=FAST)  # fmt: skip
    async with bulk:
        found = [e async for e in bulk if isinstance(e, MonthResult)]
    assert [(r.key, r.stage) for r in found] == [("2024-01", "done")]
    assert sandbox.state.billed_creates("2024-01", rfc_type="issued") == 1


# ------------------------------------------------------------------ counts survive damage
# Review 9f #2: `journal repair` and the salvage route kept each month's request but not how many
# times SAT served its packages: the next run sent a third GET nobody confirmed (SAT 5008), then
# the hint's `journal resend` billed the month again while its folder held every file.


async def _run_two(client: GigstackClient, out: Path) -> dict[str, MonthResult]:
    return await month_results(client, out, "2024-10", "2024-11")


def _xml(folder: Path) -> int:
    return sum(1 for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))


async def _served_twice(sandbox: Sandbox, client: GigstackClient, out: Path) -> None:
    """Both months done, every package served twice by SAT (the first GET broke off)."""
    sandbox.state.force_fault(PACKAGE, "after_truncate", times=2)
    await _run_two(client, out)
    done = await _run_two(client, out)
    assert all(r.stage == "done" for r in done.values())
    assert set(sandbox.state.downloads_per_package().values()) == {2}
    assert (_calls(sandbox, CREATE), _calls(sandbox, PACKAGE)) == (2, 4)


@pytest.mark.parametrize("log", ["with counts", "older, without counts"])
async def test_repair_keeps_what_sat_served_and_the_hints_never_bill_a_month_on_disk(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    log: str,
) -> None:
    sandbox, client = world
    sandbox_env(monkeypatch, sandbox)
    out = tmp_path / "cfdi"
    await _served_twice(sandbox, client, out)
    if log != "with counts":
        _sql(out / JOURNAL, "UPDATE log SET counts = NULL")  # a journal from before the counts
    _sql(out / JOURNAL, "UPDATE months SET state = '{broken' WHERE key = '2024-11'")
    assert main(["journal", "repair", str(out), "--yes"]) == 0
    with JournalStore.open_existing(out / JOURNAL) as store:
        nov = store.get("2024-11")
        rid = str(nov.known_ids[-1])
        assert nov.creates_known is (log == "with counts")
        if log == "with counts":  # restored from the log: 2 served, both sure
            assert (nov.creates, nov.downloads, nov.uncounted) == (1, ((f"{rid}_01", 2),), ())
            assert nov.sure_of(f"{rid}_01") == 2
    assert main(["journal", "adopt", str(out), "2024-11", rid, "--yes"]) == 0
    capsys.readouterr()
    after = (await _run_two(client, out))["2024-11"]
    # No third GET nobody confirmed, nothing billed.
    assert (_calls(sandbox, CREATE), _calls(sandbox, PACKAGE)) == (2, 4)
    assert after.stage == "needs-attention"
    hint = after.hint or ""
    files = _xml(out / "2024-11")
    assert files == after.invoice_count > 0  # every CFDI of the month is on disk
    # Review 9i #3: the run read the request's status (free) and, the folder holding SAT's
    # count, stopped before any GET with the checked keep (never --force), counts or not.
    assert (after.error or "").startswith(
        f"the month's folder already holds {files} distinct CFDI(s), at least the {files} SAT "
        f"reports for request {rid}: nothing was downloaded"
    )
    assert hint.startswith(f"`gigstack-async journal keep {out} 2024-11` records the month done")
    assert "--force" not in hint
    # Review 9k #3: a plain resend is refused while keep is free, and names it (it said "run
    # the same command again: it downloads the package again", which runs never do here).
    assert main(["journal", "resend", str(out), "2024-11", "--yes"]) == 2
    refused = capsys.readouterr().err
    assert "journal keep" in refused
    assert "downloads the request's package again" not in refused
    # The resend's confirmation states the files on disk before anything is allowed.
    assert main(["journal", "resend", str(out), "2024-11", "--force"]) == 2  # no terminal
    text = capsys.readouterr().out
    assert f"{out / '2024-11'} already holds {files} file(s)" in text
    assert f"`gigstack-async journal keep {out} 2024-11` records the month done" in text
    if log == "with counts":
        assert "This journal has sent 1 create request(s) for 2024-11" in text
    else:
        assert "How many create requests were sent for 2024-11 is unknown (at least 1)" in text
        assert "sent 0 create" not in text
    # The way the hint offers first: keep the files; the month is done and nothing more is sent.
    assert f"journal keep {out} 2024-11" in hint
    assert main(["journal", "keep", str(out), "2024-11", "--yes"]) == 0
    assert f"the {files} file(s) in {out / '2024-11'}" in capsys.readouterr().out
    last = await _run_two(client, out)
    assert all(r.stage == "done" for r in last.values())
    assert (_calls(sandbox, CREATE), _calls(sandbox, PACKAGE)) == (2, 4)


async def test_the_salvage_route_counts_spent_downloads_as_unknown_never_zero(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, client = world
    sandbox_env(monkeypatch, sandbox)
    out = tmp_path / "cfdi"
    await _served_twice(sandbox, client, out)
    journal = out / JOURNAL
    data = bytearray(journal.read_bytes())
    data[100:4096] = b"\0" * (4096 - 100)  # its first page overwritten: SQLite cannot read it
    journal.write_bytes(bytes(data))
    assert main(["journal", "show", str(out)]) == 2
    # Follow `journal show`'s numbered steps literally: move it aside, adopt each month.
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    adopts = [line.split()[2:] for line in lines if line.startswith("gigstack-async journal adopt")]
    assert len(adopts) == 2
    shutil.move(journal, out / f"{JOURNAL}.damaged")
    for words in adopts:  # the first creates the new journal: it asks the server who we are
        assert await asyncio.to_thread(main, ["journal", *words]) == 0
    results = await _run_two(client, out)
    # Old code: a third GET of each package (SAT 5008), then `journal resend` billed them again.
    assert (_calls(sandbox, CREATE), _calls(sandbox, PACKAGE)) == (2, 4)
    for key in ("2024-10", "2024-11"):
        result, files = results[key], _xml(out / key)
        assert files == result.invoice_count > 0
        assert result.stage == "needs-attention"
        # Review 9i #3: the run read the status (free) and stopped with the checked keep.
        assert (result.error or "").startswith(
            f"the month's folder already holds {files} distinct CFDI(s), at least the {files} "
        )
        assert (result.hint or "").startswith(f"`gigstack-async journal keep {out} {key}`")
    capsys.readouterr()
    assert main(["journal", "show", str(out), "2024-10"]) == 0
    assert "unknown (at least 1)" in capsys.readouterr().out
    assert main(["journal", "resend", str(out), "2024-10", "--force"]) == 2  # no --yes
    text = capsys.readouterr().out
    assert "How many create requests were sent for 2024-10 is unknown (at least 1)" in text
    assert "already holds" in text
    assert "sent 0 create" not in text
    for key in ("2024-10", "2024-11"):
        assert main(["journal", "keep", str(out), key, "--yes"]) == 0
    last = await _run_two(client, out)
    assert all(r.stage == "done" for r in last.values())
    assert (_calls(sandbox, CREATE), _calls(sandbox, PACKAGE)) == (2, 4)


def test_the_log_keeps_counts_with_every_change_and_show_does_not_repeat_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / JOURNAL
    done = _month("2024-01", 31, stage=m.Stage.COMPLETED, request_id="DM-1", known_ids=("DM-1",),
                  creates=1, reason="SAT completed the request")  # fmt: skip
    with JournalStore.open(path, IDENTITY) as store:
        store.ensure([done])
        store.put(attrs.evolve(done, downloads=(("P1", 1),), unsure=(("P1", 1),)))  # GET left
        store.put(attrs.evolve(done, downloads=(("P1", 1),), unsure=(("P1", 0),)))  # bytes came
    with JournalStore.open_readonly(path) as store:
        counts = [line.counts for line in store.log("2024-01")]
    assert counts == [
        m.Counts(1),
        m.Counts(1, (("P1", 1),), (("P1", 1),)),
        m.Counts(1, (("P1", 1),), (("P1", 0),)),
    ]
    assert main(["journal", "show", str(path), "2024-01"]) == 0
    history = capsys.readouterr().out.split("History:", 1)[1]
    assert history.count("SAT completed the request") == 1


def test_a_log_from_before_counts_reads_them_as_unknown(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL
    JournalStore.open(path, IDENTITY).close()
    _sql(path, "DROP TABLE log")
    _sql(path, "CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, "
               "stage TEXT NOT NULL, reason TEXT, request_id TEXT)")  # fmt: skip
    _sql(path, "INSERT INTO log (key, stage, request_id) VALUES ('2024-01', 'done', 'DM-1')")
    with JournalStore.open_readonly(path) as store:  # read-only: the column is not there
        assert [line.counts for line in store.log()] == [None]
    with JournalStore.open(path, IDENTITY) as store:  # opened to write: it gains the column
        store.ensure([JAN])
        assert [line.counts for line in store.log()] == [None, m.Counts()]
    # The month rebuilt from the old line: its counts are unknown, never zero.
    held = engine.held_month(JAN, [line for line in read_lines(path) if line.seq == 1], None)
    assert held is not None
    assert (held.uncounted, held.counts_lost, held.creates_known) == (("DM-1",), True, False)


def read_lines(path: Path) -> list[Any]:
    with JournalStore.open_readonly(path) as store:
        return list(store.log("2024-01"))


def test_keep_refuses_a_month_that_does_not_need_it_and_asks_first(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with JournalStore.open(out / JOURNAL, IDENTITY) as store:
        store.bind_download_to(out)
        feb = attrs.evolve(
            store.get("2024-02"), stage=m.Stage.NEEDS_ATTENTION, reason="5008", invoice_count=1
        )
        store.put(feb)
    (out / "2024-02").mkdir(parents=True)
    (out / "2024-02" / f"{UUID_A}.xml").write_text(cfdi_text(UUID_A))
    (out / "2024-02" / ".A.xml.tmp").write_text("")  # our own temp files are never kept
    assert main(["journal", "keep", str(out), "2024-01", "--yes"]) == 2
    assert "2024-01 is done: only a month that needs attention" in capsys.readouterr().err
    assert main(["journal", "keep", str(out), "2024-02"]) == 2  # no terminal, no --yes
    assert "--yes" in capsys.readouterr().err
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2024-02") == feb
    assert main(["journal", "keep", str(out), "2024-02", "--yes"]) == 0
    assert f"the 1 file(s) in {out / '2024-02'}" in capsys.readouterr().out
    with JournalStore.open_readonly(out / JOURNAL) as store:
        kept = store.get("2024-02")
    assert (kept.stage, kept.files) == (m.Stage.DONE, (f"{UUID_A}.xml",))


UUID_A = "6F1E2D3C-0000-4000-8000-00000000000A"


@pytest.mark.parametrize("extra", ["pdf", "copy", "case"])
def test_keep_counts_distinct_cfdis_not_files(
    out: Path, capsys: pytest.CaptureFixture[str], extra: str
) -> None:
    # Review 9h #2: a PDF beside each XML, or a "… copy.xml" of each, made up SAT's count,
    # so keep of half the month's CFDIs passed without --force.
    with JournalStore.open(out / JOURNAL, IDENTITY) as store:
        store.bind_download_to(out)
        feb = attrs.evolve(
            store.get("2024-02"), stage=m.Stage.NEEDS_ATTENTION, reason="5008", invoice_count=2
        )
        store.put(feb)
    folder = out / "2024-02"
    folder.mkdir(parents=True)
    (folder / f"{UUID_A}.xml").write_text(cfdi_text(UUID_A))
    twin = {"pdf": f"{UUID_A}.pdf", "copy": f"{UUID_A} copy.xml", "case": f"{UUID_A.lower()}.XML"}
    (folder / twin[extra]).write_text(cfdi_text(UUID_A))
    assert main(["journal", "keep", str(out), "2024-02", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "it holds 1 distinct CFDI(s) (files named <UUID>.xml), but SAT reported 2 CFDIs" in err
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2024-02") == feb
    (folder / "6f1e2d3c-0000-4000-8000-00000000000b.xml").write_text(
        cfdi_text("6f1e2d3c-0000-4000-8000-00000000000b")
    )
    assert main(["journal", "keep", str(out), "2024-02", "--yes"]) == 0


@pytest.mark.parametrize("request_id", [None, "DM-2"])
def test_keep_with_sat_count_unknown_says_so_and_needs_force(
    out: Path, capsys: pytest.CaptureFixture[str], request_id: str | None
) -> None:
    # Review 9h #3: with no request (journal deleted, keep before adopt) or no count reported,
    # nothing checked the number of files, and the confirmation did not say so.
    with JournalStore.open(out / JOURNAL, IDENTITY) as store:
        store.bind_download_to(out)
        feb = attrs.evolve(
            store.get("2024-02"),
            stage=m.Stage.NEEDS_ATTENTION,
            reason="5008",
            request_id=request_id,
            invoice_count=None,
        )
        store.put(feb)
    (out / "2024-02").mkdir(parents=True)
    (out / "2024-02" / f"{UUID_A}.xml").write_text(cfdi_text(UUID_A))
    assert main(["journal", "keep", str(out), "2024-02", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "2024-02 is not kept, nothing changed" in err
    assert "SAT's count of CFDIs is unknown" in err
    assert "cannot be checked against it" in err
    assert ("no request is recorded" in err) == (request_id is None)
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2024-02") == feb
    assert main(["journal", "keep", str(out), "2024-02", "--force", "--yes"]) == 0
    assert (
        "With --force it would be kept although SAT's count of CFDIs is unknown"
        in capsys.readouterr().out
    )
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2024-02").stage == m.Stage.DONE


# ------------------------------------------ a journal emptied after a submit-only run (9g #1)


async def test_a_zero_byte_journal_after_a_submit_only_run_bills_nothing_again(
    tmp_path: Path,
) -> None:
    # Review 9g #1: a run submitted every month and stopped on its timeout before any package,
    # so the folder held only the journal and its lock. Emptied to 0 bytes, the journal was
    # taken for one "left half-created, which sent nothing", and with a short history the
    # months were created (billed) again.
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=5, history_limit=2)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        out = tmp_path / "cfdi"
        bulk = client.downloads.bulk("2024-01", "2024-04", rfc_type="received",
                                     download_to=out, poll=FAST, timeout=0.03)  # fmt: skip
        async with bulk:
            [event async for event in bulk]
        billed = _creates(sandbox)
        assert billed  # it did submit
        assert sorted(p.name for p in out.iterdir()) == [JOURNAL, f"{JOURNAL}.lock"]
        (out / JOURNAL).write_bytes(b"")
        again = client.downloads.bulk("2024-01", "2024-04", rfc_type="received",
                                      download_to=out, poll=FAST, timeout=3)  # fmt: skip
        with pytest.raises(JournalDamagedError) as caught:
            async with again:
                [event async for event in again]
        assert _creates(sandbox) == billed  # nothing billed again
        assert "emptied or truncated" in str(caught.value)
        assert f"journal adopt {out}" in str(caught.value)
        assert (out / JOURNAL).read_bytes() == b""  # left as found


def test_a_journal_is_created_complete_under_a_temporary_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kill before the rename leaves no file at the journal's path (never a half-created
    # one), and the temporary file it leaves is removed by the next create.
    import os

    folder = tmp_path / "cfdi"
    folder.mkdir()
    journal = folder / JOURNAL
    real_replace = os.replace

    def killed(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        JournalStore.open(journal, IDENTITY)
    assert not journal.exists()
    monkeypatch.setattr(os, "replace", real_replace)
    stale = folder / f".{JOURNAL}.creating"
    stale.write_bytes(b"")  # as a kill of the process itself would leave it
    (folder / f".{JOURNAL}.creating-wal").write_bytes(b"\0" * 32)
    with JournalStore.open(journal, IDENTITY) as store:
        assert store.identity == IDENTITY
        store.ensure([JAN])
    assert not stale.exists()
    assert not (folder / f".{JOURNAL}.creating-wal").exists()
    with JournalStore.open_readonly(journal) as store:
        assert store.keys() == ["2024-01"]


# --------------------------------- journal keep of files that are not the month's (9g #3)


@pytest.mark.parametrize("damage", ["partial", "wrong"])
async def test_keep_refuses_missing_or_another_months_files_and_leaves_the_free_route(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    damage: str,
) -> None:
    # Review 9g #3: keep recorded January done with half its files, or with February's 41
    # files; then `journal show` said done, retry-download was refused, and the printed
    # commands lacked the folder.
    sandbox, client = world
    sandbox_env(monkeypatch, sandbox)
    out = tmp_path / "cfdi"
    first = await _run(client, out)
    jan = sorted((out / "2024-01").glob("*.xml"))
    reported = first["2024-01"].invoice_count
    assert reported == len(jan) > 2
    if damage == "partial":
        for file in jan[: len(jan) // 2]:
            file.unlink()
    else:
        for file in jan:
            file.unlink()
        for file in sorted((out / "2024-02").glob("*.xml"))[: len(jan)]:
            (out / "2024-01" / file.name).write_bytes(file.read_bytes())
    for name in (JOURNAL, f"{JOURNAL}-wal", f"{JOURNAL}-shm"):
        (out / name).unlink(missing_ok=True)
    await _run(client, out)  # a new journal: January needs its request adopted
    rid = str(first["2024-01"].request_id)
    assert main(["journal", "adopt", str(out), "2024-01", rid, "--yes"]) == 0
    jan_after = (await _run(client, out))["2024-01"]
    assert f"journal keep {out} 2024-01" in (jan_after.hint or "")
    capsys.readouterr()
    with JournalStore.open_readonly(out / JOURNAL) as store:
        before = store.get("2024-01")
    assert main(["journal", "keep", str(out), "2024-01", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "2024-01 is not kept, nothing changed" in err
    if damage == "partial":
        held = f"it holds {len(jan) - len(jan) // 2} distinct CFDI(s) (files named <UUID>.xml)"
        assert f"{held}, but SAT reported {reported}" in err
    else:
        assert "outside 2024-01-01..2024-01-31" in err
    # Every command it prints runs as printed: the folder is in each.
    assert f"journal retry-download {out} 2024-01`" in err
    assert f"journal resend {out} 2024-01 --force`" in err
    assert f"journal show {out} 2024-01`" in err
    # Never a ready-made `keep --force` (review 9j #3): what it would do, once checked.
    assert f"journal keep {out} 2024-01 --force`" not in err
    assert "--force would record the month done with these files anyway" in err
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2024-01") == before
    # The free route stays open: one more GET of the package SAT served only once.
    gets = _calls(sandbox, PACKAGE)
    assert main(["journal", "retry-download", str(out), "2024-01", "--yes"]) == 0
    again = (await _run(client, out))["2024-01"]
    assert _calls(sandbox, PACKAGE) == gets + 1
    assert again.stage == "done", again.error
    assert len(list((out / "2024-01").glob("*.xml"))) >= reported


async def test_keep_with_force_restates_the_facts_and_lists_the_files(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, client = world
    sandbox_env(monkeypatch, sandbox)
    out = tmp_path / "cfdi"
    first = await _run(client, out)
    jan = sorted((out / "2024-01").glob("*.xml"))
    jan[0].unlink()
    for name in (JOURNAL, f"{JOURNAL}-wal", f"{JOURNAL}-shm"):
        (out / name).unlink(missing_ok=True)
    await _run(client, out)  # a new journal: January needs its request adopted
    rid = str(first["2024-01"].request_id)
    assert main(["journal", "adopt", str(out), "2024-01", rid, "--yes"]) == 0
    await _run(client, out)
    capsys.readouterr()
    assert main(["journal", "keep", str(out), "2024-01", "--force", "--yes"]) == 0
    text = capsys.readouterr().out
    assert (
        f"With --force it would be kept although it holds {len(jan) - 1} distinct CFDI(s)" in text
    )
    assert f"{jan[1].name}, " in text
    assert f"and {len(jan) - 1 - 5} more" in text
    assert f"journal resend {out} 2024-01 --force" in text
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2024-01").stage == m.Stage.DONE


def test_metadata_rows_count_each_file_once_and_skip_what_is_not_metadata(tmp_path: Path) -> None:
    # `journal keep` of a metadata month compares rows, not files, with SAT's count: a copy of
    # a TXT adds no rows, a PDF or CFDI beside it none, a name continued on a new line none.
    header = "Uuid~RfcEmisor~NombreEmisor~RfcReceptor~FechaEmision\r\n"
    row = "{}~AAA010101AAA~Uno~XAXX010101000~2024-02-0{} 10:00:00\r\n"
    one = tmp_path / "a.txt"
    one.write_text(header + row.format(UUID_A, 1) + row.format(UUID_A[:-1] + "B", 2) + "más\r\n")
    (tmp_path / "a copy.txt").write_bytes(one.read_bytes())
    other = tmp_path / "b.txt"
    other.write_text(header + row.format(UUID_A[:-1] + "C", 3))
    (tmp_path / "a.pdf").write_bytes(b"%PDF-1.4\n" + row.format(UUID_A, 1).encode())
    names = ["a.txt", "a copy.txt", "b.txt", "a.pdf"]
    assert content.metadata_rows(tmp_path / name for name in names) == 3
    assert content.cfdi_uuids([f"{UUID_A}.xml", f"{UUID_A.lower()}.XML", "x copy.xml"]) == {
        UUID_A.lower()
    }
