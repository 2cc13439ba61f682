"""Review 9n #2: `--allow-duplicates` (`bulk(allow_duplicates=True)`) lifted the identical-request
guard for every held month, even one SAT itself would refuse: with the account already holding
SAT's 2 identical requests for August it sent a third (SAT 5002, billed attempt, month failed),
while `journal resend` of the same month was refused. It lifts the guard only; SAT's own limits
(2 identical requests ever, a 5003 for these dates) still hold the month, and its result says
why."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import CREATE, calls, month_results, world_of

AUGUST = {"start_date": "2024-08-01", "end_date": "2024-08-31", "rfc_type": "received"}


async def test_allow_duplicates_never_sends_a_third_identical_request(tmp_path: Path) -> None:
    async with world_of(SandboxConfig(speed=3000, seed=5)) as (sandbox, client):
        for _ in range(2):  # another folder's two identical requests (apart: not merged)
            await client.downloads.create_request(**AUGUST)
            await asyncio.sleep(1)
        made = calls(sandbox, CREATE)
        done = await month_results(
            client, tmp_path / "A", "2024-08", "2024-08", allow_duplicates=True
        )
        assert calls(sandbox, CREATE) == made  # nothing sent for August
        august = done["2024-08"]
        assert not august.ok
        assert "not sent despite allow_duplicates" in (august.error or "")
        assert "2 identical requests" in (august.error or "")


async def test_allow_duplicates_still_sends_past_one_identical_request(tmp_path: Path) -> None:
    async with world_of(SandboxConfig(speed=3000, seed=5)) as (sandbox, client):
        await client.downloads.create_request(**AUGUST)
        made = calls(sandbox, CREATE)
        done = await month_results(
            client, tmp_path / "A", "2024-08", "2024-08", allow_duplicates=True
        )
        assert calls(sandbox, CREATE) == made + 1
        assert done["2024-08"].ok
