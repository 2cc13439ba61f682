"""Review 9d (engineer w): a confirmed adopt replaces the journal's record of the id (#1), and
the cross-month refusal of adopt has a way through after the server's ids restarted."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk import repair
from gigstack_async.bulk.store import JournalStateError, JournalStore, StoreIdentity

JAN = (date(2024, 1, 1), date(2024, 1, 31))
OLD = m.KnownRequest(
    "DM-000001", *JAN, "received", "cfdi", created_at="1700000000000", final="completed"
)


def _seen(created_at: str) -> m.Seen:
    return m.Seen("DM-000001", "processing", "received", "cfdi", *JAN, created_at=created_at)


def _attention() -> m.MonthState:
    """2024-01 after the restart: its request DM-000001 was listed with another createdAt."""
    return m.MonthState(
        "2024-01",
        *JAN,
        "received",
        "cfdi",
        stage=m.Stage.NEEDS_ATTENTION,
        request_id="DM-000001",
        known_ids=("DM-000001",),
        records=(OLD,),
        checked=True,
        typed=True,
        reason="the server's request DM-000001 is listed with createdAt ...",
    )


@pytest.mark.parametrize("current", [True, False], ids=["own-id", "other-id"])
def test_a_confirmed_adopt_replaces_the_record_of_the_id(current: bool) -> None:
    state = _attention()
    if not current:
        state = m.MonthState(
            "2024-01",
            *JAN,
            "received",
            "cfdi",
            stage=m.Stage.NEEDS_ATTENTION,
            request_id="DM-000009",
            known_ids=("DM-000009", "DM-000001"),
            records=(OLD, m.KnownRequest("DM-000009")),
        )
    adopted, _ = m.transition(state, m.Adopt("DM-000001"))
    assert all(r.id != "DM-000001" for r in adopted.records)
    # The next history lists the id with the new server's createdAt: followed, not flagged.
    after, commands = m.transition(adopted, m.HistorySeen((_seen("1800000000000"),)))
    assert after.stage is not m.Stage.NEEDS_ATTENTION, after.reason
    assert not any(isinstance(c, m.Warn) for c in commands)
    assert next(r for r in after.records if r.id == "DM-000001").created_at == "1800000000000"


def _store(tmp_path: Path) -> JournalStore:
    identity = StoreIdentity(None, "http://127.0.0.1:9/v2", "k", None, "received", "cfdi")
    return JournalStore.open(tmp_path / "journal.sqlite3", identity)


def test_adopting_an_id_another_month_had_before_a_restart(tmp_path: Path) -> None:
    done = m.MonthState(
        "2023-12",
        date(2023, 12, 1),
        date(2023, 12, 31),
        "received",
        "cfdi",
        stage=m.Stage.DONE,
        request_id="DM-000002",
        known_ids=("DM-000002",),
        extracted=(m.ExtractedPackage("DM-000002_01", ("A.xml",)),),
    )
    with _store(tmp_path) as store:
        store.ensure([done, _attention()])
        with pytest.raises(JournalStateError, match="--ids-restarted"):
            repair.adopt(store, "2024-01", "DM-000002")
        new, commands = repair.adopt(store, "2024-01", "DM-000002", ids_restarted=True)
        assert new.request_id == "DM-000002"
        repair.record(store, new, commands)
        assert store.get("2023-12") == done  # the other month keeps its files and records


def test_a_month_still_following_the_id_is_never_shared(tmp_path: Path) -> None:
    waiting = m.MonthState(
        "2024-02",
        date(2024, 2, 1),
        date(2024, 2, 29),
        "received",
        "cfdi",
        stage=m.Stage.SUBMITTED,
        request_id="DM-000002",
        known_ids=("DM-000002",),
    )
    with _store(tmp_path) as store:
        store.ensure([waiting, _attention()])
        with pytest.raises(JournalStateError, match="its current request"):
            repair.adopt(store, "2024-01", "DM-000002", ids_restarted=True)
