"""The journal is fsynced before what bills, spends or destroys, and not for anything else.

Each fsynced commit blocks the event loop for a disk flush (0.2 ms on a quiet disk, tens of ms
on a busy one), so the fan-out's package tail pays for every unneeded one. Counted, not timed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import MonthResult
from gigstack_async.bulk.store import JournalStore
from gigstack_async.bulk.watch import PollSchedule
from gigstack_async.sandbox import Sandbox, SandboxConfig

FAST = PollSchedule(initial=0.02, factor=1.5, maximum=0.1, jitter=0.0)


async def test_a_month_syncs_the_journal_before_its_create_its_package_get_and_the_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: Counter[str] = Counter()
    real_put = JournalStore.put

    def put(self: JournalStore, state: m.MonthState, *, fsync: bool = True) -> None:
        old = self.get(state.key) if state.key in self.keys() else None
        if fsync and old != state:
            synced[_why(old, state)] += 1
        real_put(self, state, fsync=fsync)

    monkeypatch.setattr(JournalStore, "put", put)
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        bulk = client.downloads.bulk(
            "2024-01", "2024-03", rfc_type="received", download_to=tmp_path / "cfdi", poll=FAST
        )
        async with bulk:
            results = [e async for e in bulk if isinstance(e, MonthResult)]
        packages = len(sandbox.state.downloads_per_package())

    assert [r.ok for r in results] == [True] * 3
    assert packages == 3
    # One durable commit per create (intent), per package GET (its count) and per staged
    # package deleted after extraction: nothing for polling, completion or staging.
    assert synced == {"submitting": 3, "package GET counted": 3, "extracted": 3}


def _why(old: m.MonthState | None, new: m.MonthState) -> str:
    if old is not None and new.downloads != old.downloads:
        return "package GET counted"
    if old is not None and len(new.extracted) > len(old.extracted):
        return "extracted"
    return new.stage.value
