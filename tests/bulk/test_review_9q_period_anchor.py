"""Review 9q #1 (regression test; it was an xfail while open): a short history kept newest by
period, with an earlier request of the month's kind for a later part of the month
(2024-01-15..2024-01-31, e.g. a part the SDK itself printed), lists February's create (made
after January's), then that request (made before it), and cuts January's whole-month create
off below them. The absence proof (`_order_gap`) read the span from February down to that
request as creation order and proved January absent: its made-then-lost create was sent again
and billed twice. No history proves a lost create absent now: January needs the user.
See docs/reliability.md ("Full history") and docs/architecture.md."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

from gigstack_async.sandbox import SandboxConfig, profile
from tests.bulk._support import CREATE, results, run, world_of
from tests.bulk.test_absence_grace import CANNOT_TELL
from tests.bulk.test_full_history_e2e import made_before


async def test_a_short_history_by_period_with_a_later_part_anchor_never_resends(
    tmp_path: Path,
) -> None:
    config = SandboxConfig(
        speed=3000, seed=11, history_limit=2, profile=profile("history-by-period")
    )
    async with world_of(config) as (sandbox, client):
        await made_before(sandbox, client, [(date(2024, 1, 15), date(2024, 1, 31), "received")])
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        history = client.downloads.history

        async def read_after_february(*args: Any, **kwargs: Any) -> Any:
            # The scenario reads the history once February's create is made (as it always is
            # on an idle machine). A loaded one read it between January's 502 and February's
            # create (CI run 30), listed January's create there and adopted it: right, but
            # not this scenario.
            if len(sandbox.state.calls_to(CREATE)) == 2:  # the part and January's create
                for _ in range(500):
                    if len(sandbox.state.calls_to(CREATE)) >= 3:
                        break
                    await asyncio.sleep(0.01)
            return await history(*args, **kwargs)

        setattr(client.downloads, "history", read_after_february)  # noqa: B010
        done = results(await run(client, tmp_path / "cfdi", "2024-01", "2024-02", concurrency=1))
        whole = [
            r
            for r in sandbox.state.download_requests
            if (r.criteria.start_date, r.criteria.end_date) == (date(2024, 1, 1), date(2024, 1, 31))
        ]
        assert len(whole) == 1  # January's create made once, never sent again
        # billed for January: the earlier 15..31 part (made before the run) and that one create
        # (the xfail asserted 1 here, which counted the part too and could never pass)
        assert sandbox.state.billed_creates("2024-01") == 1 + 1
        assert len(sandbox.state.calls_to(CREATE)) == 1 + 2
        # the history hides January's create: it is left to the user, not resent
        january = done["2024-01"]
        assert january.stage == "needs-attention", january.error
        assert CANNOT_TELL in (january.error or "")
        assert done["2024-02"].ok
