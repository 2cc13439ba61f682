"""Review 9q #1, OPEN (a known bug, xfailed strictly so a fix shows): a short history kept
newest by period, with an earlier request of the month's kind for a later part of the month
(2024-01-15..2024-01-31, e.g. a part the SDK itself printed), lists February's create (made
after January's), then that request (made before it), and cuts January's whole-month create
off below them. `_order_gap` reads the span from February down to the anchor as creation
order and proves January absent: its made-then-lost create is sent again and billed twice.
See docs/reliability.md ("Full history") and docs/architecture.md."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gigstack_async.sandbox import SandboxConfig, profile
from tests.bulk._support import CREATE, run, world_of
from tests.bulk.test_full_history_e2e import made_before


@pytest.mark.xfail(strict=True, reason="review 9q #1: open, January is billed twice")
async def test_a_short_history_by_period_with_a_later_part_anchor_never_resends(
    tmp_path: Path,
) -> None:
    config = SandboxConfig(
        speed=3000, seed=11, history_limit=2, profile=profile("history-by-period")
    )
    async with world_of(config) as (sandbox, client):
        await made_before(sandbox, client, [(date(2024, 1, 15), date(2024, 1, 31), "received")])
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        await run(client, tmp_path / "cfdi", "2024-01", "2024-02", concurrency=1, absence_grace=0.5)
        assert sandbox.state.billed_creates("2024-01") == 1
