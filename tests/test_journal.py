"""The bulk journal store: SQLite, one transaction per transition, locked, bound to its owner."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk import store as store_module
from gigstack_async.bulk.store import (
    JournalCorruptError,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    JournalStore,
    StoreIdentity,
)

# Another identity, or another API key (r2 N10: said once, "the API key differs ...").
ANOTHER_RUN = r"belongs to another run|the API key differs"

IDENTITY = StoreIdentity(
    team=None,
    base_url="http://127.0.0.1:9/v2",
    key_fingerprint="1234abcd1234abcd",
    rfc=None,
    rfc_type="received",
    request_type="cfdi",
)
JAN = m.MonthState("2024-01", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi")
FEB = m.MonthState("2024-02", date(2024, 2, 1), date(2024, 2, 29), "received", "cfdi")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


def rich_state() -> m.MonthState:
    return attrs.evolve(
        JAN,
        stage=m.Stage.STAGED,
        request_id="req-1",
        known_ids=("old-0", "req-1"),
        creates=2,
        history_before=("x", "y"),
        sat_state="completed",
        invoice_count=3,
        package_ids=("P1", "P2"),
        downloads=(("P1", 1), ("P2", 2)),
        staged=(m.StagedFile("P2", "/s/P2.zip", "b" * 64, 10),),
        extracted=(m.ExtractedPackage("P1", ("A.xml", "B.xml")),),
        reason="why",
        hint="what next",
        resume_to=m.Stage.COMPLETED,
        sat_code=5004,
    )


def test_every_field_of_a_month_survives_a_reopen(path: Path) -> None:
    with JournalStore.open(path, IDENTITY) as store:
        store.ensure([JAN, FEB])
        store.put(rich_state())
    with JournalStore.open(path, IDENTITY) as store:
        assert store.get("2024-01") == rich_state()
        assert store.get("2024-02") == FEB
        assert store.keys() == ["2024-01", "2024-02"]
    assert path.read_bytes()[:16] == b"SQLite format 3\0"


def test_a_split_record_written_before_split_own_still_loads(path: Path) -> None:
    own = m.OwnPart(date(2024, 1, 16), date(2024, 1, 31), ("A.xml",), 1)
    split = attrs.evolve(JAN, stage=m.Stage.SPLIT, sat_code=5003, own_part=own, split_own=(own,))
    with JournalStore.open(path, IDENTITY) as store:
        store.put(split)
    with JournalStore.open(path, IDENTITY) as store:
        assert store.get("2024-01") == split  # the split's own days survive a reopen
    with sqlite3.connect(path) as conn:  # as an older version wrote it: no split_own
        (text,) = conn.execute("SELECT state FROM months").fetchone()
        older = json.loads(text)
        del older["split_own"]
        conn.execute("UPDATE months SET state = ?", (json.dumps(older),))
    conn.close()
    with JournalStore.open(path, IDENTITY) as store:
        assert store.get("2024-01") == attrs.evolve(split, split_own=())


def test_ensure_keeps_recorded_months(path: Path) -> None:
    with JournalStore.open(path, IDENTITY) as store:
        store.ensure([JAN])
        store.put(attrs.evolve(JAN, stage=m.Stage.SUBMITTED, request_id="r"))
        store.ensure([JAN, FEB])  # a new plan listing January again changes nothing
        assert store.get("2024-01").request_id == "r"


def test_each_transition_is_logged_with_its_reason(path: Path) -> None:
    with JournalStore.open(path, IDENTITY) as store:
        store.ensure([JAN])
        store.put(attrs.evolve(JAN, stage=m.Stage.SUBMITTING, reason=None))
        store.put(attrs.evolve(JAN, stage=m.Stage.SUBMITTED, reason="created"))
        store.put(attrs.evolve(JAN, stage=m.Stage.SUBMITTED, reason="created", poll_failures=1))
        assert [(line.stage, line.reason) for line in store.log("2024-01")] == [
            (m.Stage.PLANNED, None),
            (m.Stage.SUBMITTING, None),
            (m.Stage.SUBMITTED, "created"),
        ]


def test_a_failed_write_changes_nothing_on_disk_or_in_memory(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with JournalStore.open(path, IDENTITY) as store:
        store.ensure([JAN])

        def broken(*args: object) -> str:
            raise OSError("disk full")

        monkeypatch.setattr(store_module, "encode_state", broken)
        with pytest.raises(OSError, match="disk full"):
            store.put(attrs.evolve(JAN, stage=m.Stage.SUBMITTING))
        assert store.get("2024-01") == JAN
    monkeypatch.undo()
    with JournalStore.open(path, IDENTITY) as store:
        assert store.get("2024-01") == JAN


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"team": "team_other"}, "team"),
        ({"base_url": "https://api.gigstack.io/v2"}, "base_url"),
        ({"key_fingerprint": "ffffffffffffffff"}, "the API key differs"),
        ({"rfc_type": "issued"}, "rfc_type"),
        ({"request_type": "metadata"}, "request_type"),
    ],
)
def test_another_identity_is_refused_and_the_key_is_never_shown(
    path: Path, change: dict[str, str], shown: str
) -> None:
    JournalStore.open(path, IDENTITY).close()
    with pytest.raises(JournalMismatchError, match=ANOTHER_RUN) as caught:
        JournalStore.open(path, attrs.evolve(IDENTITY, **change))
    assert shown in str(caught.value)
    assert "ffffffffffffffff" not in str(caught.value)
    JournalStore.open(path, IDENTITY).close()  # the refusal left it usable


def test_the_rfc_is_learnt_once_and_then_enforced(path: Path) -> None:
    with JournalStore.open(path, IDENTITY) as store:
        store.learn_rfc("AAA010101AAA")
    with JournalStore.open(path, IDENTITY) as store:  # unknown now: not a mismatch
        assert store.identity.rfc == "AAA010101AAA"
        with pytest.raises(JournalMismatchError, match="RFC"):
            store.learn_rfc("BBB010101BBB")
    with pytest.raises(JournalMismatchError, match="rfc"):
        JournalStore.open(path, attrs.evolve(IDENTITY, rfc="BBB010101BBB"))


def test_a_second_opener_is_locked_out_until_the_first_closes(path: Path) -> None:
    first = JournalStore.open(path, IDENTITY)
    with pytest.raises(JournalLockedError, match="another task of this process"):
        JournalStore.open(path, IDENTITY)
    first.close()
    JournalStore.open(path, IDENTITY).close()


def test_a_killed_process_releases_the_lock(path: Path) -> None:
    code = (
        "import os, sys; from gigstack_async.bulk.store import JournalStore;"
        "from tests.test_journal import IDENTITY;"
        f"JournalStore.open({str(path)!r}, IDENTITY); os._exit(9)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent.parent)
    assert done.returncode == 9
    with JournalStore.open_existing(path) as store:
        assert store.identity == IDENTITY


def test_the_old_json_journal_is_refused_with_a_way_forward(path: Path) -> None:
    path.write_text('{"format": "gigstack-async/bulk-journal", "version": 1}', encoding="utf-8")
    with pytest.raises(JournalCorruptError, match="older gigstack-async") as caught:
        JournalStore.open(path, IDENTITY)
    assert "journal adopt" in str(caught.value)
    assert path.read_text(encoding="utf-8").startswith("{")  # left untouched


@pytest.mark.parametrize("content", [b"\x00\x01garbage" * 10, b"SQLite format 3\x00" + b"x" * 200])
def test_a_file_that_is_not_a_journal_is_refused(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    with pytest.raises(JournalCorruptError, match="cannot be read as a bulk journal"):
        JournalStore.open(path, IDENTITY)


def test_a_newer_version_is_refused(path: Path) -> None:
    JournalStore.open(path, IDENTITY).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '3' WHERE name = 'version'")
    conn.close()
    with pytest.raises(JournalCorruptError, match="newer gigstack-async"):
        JournalStore.open(path, IDENTITY)


def test_a_damaged_month_record_is_reported(path: Path) -> None:
    with JournalStore.open(path, IDENTITY) as store:
        store.ensure([JAN])
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE months SET state = '{\"key\": 3}'")
    conn.close()
    with pytest.raises(JournalCorruptError, match="a month's record"):
        JournalStore.open(path, IDENTITY)


def test_open_existing_needs_a_file(path: Path) -> None:
    with pytest.raises(JournalError, match="no journal"):
        JournalStore.open_existing(path)
