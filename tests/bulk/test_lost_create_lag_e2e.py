"""A create gigstack made but whose answer was lost, listed in the history late (after the next
create's), end to end (review 9l #1).

The sandbox plays it with `ServerProfile.lost_create_lag`: the record shows up that many
simulated seconds after it was made. Before any fix, every history showed February's create and
an older request but not January's, and "proved" January never arrived: it was sent again
(billed twice where gigstack does not deduplicate, a GUESS). A grace on our clock
(`absence_grace`) only moved the line: a record later than the grace was still sent again. Now
a history that does not list a create never proves it absent: the month needs the user while
the record lags, and a re-run once it is listed adopts it. Nothing is sent twice, whatever the
lag.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import pytest

from gigstack_async import MonthWarning
from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox.profiles import ServerProfile
from tests.bulk._support import CREATE, keyed_cli, results, run, world_of
from tests.bulk.test_absence_grace import CANNOT_TELL
from tests.bulk.test_full_history_e2e import MONTHS, creates_of, made_before

SPEED = 60  # simulated seconds per real second
LAG = 3600.0  # simulated seconds: longer than any run here (an hour; the old grace was 600 s)


def older(count: int) -> list[tuple[date, date, str]]:
    """`count` earlier received-CFDI requests of 2023 (anchors: older than the run)."""
    return [
        (date(2023, m, 1), date(2023, m + 1, 1) - timedelta(days=1), "received")
        for m in range(1, count + 1)
    ]


@pytest.mark.parametrize("prior", [1, 20], ids=["short-history", "full-history"])
async def test_a_lost_create_listed_late_needs_the_user_then_a_rerun_adopts_it(
    tmp_path: Path, prior: int
) -> None:
    config = SandboxConfig(speed=SPEED, seed=11, profile=ServerProfile(lost_create_lag=LAG))
    async with world_of(config) as (sandbox, client):
        await made_before(sandbox, client, older(min(prior, 10)) * (1 + (prior > 10)))
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        out = tmp_path / "cfdi"
        events = await run(client, out, *MONTHS, concurrency=1, timeout=60)
        done = results(events)

        assert done["2024-02"].ok
        january = done["2024-01"]
        assert january.stage == "needs-attention", january.error
        assert CANNOT_TELL in (january.error or "")
        # no wait to outlast (there is none): nothing said of resending
        assert not any(
            isinstance(e, MonthWarning) and "before resending" in e.message for e in events
        )
        assert creates_of(sandbox, "2024-01") == 1  # made once, never sent again
        assert len(sandbox.state.calls_to(CREATE)) == prior + 2
        # Newcomer 10 F1: the free step leads (the dashboard lags like the history: a user who
        # looked too early was told to resend and paid twice); the paid resend comes last and
        # says it bills twice if the request exists after all.
        hint = january.hint or ""
        assert hint.startswith(
            "run the same bulk() call again later: a request the history lists late is "
            "adopted by itself (nothing is sent)"
        ), hint
        assert hint.index("journal adopt") < hint.index("journal resend"), hint
        assert "may be billed twice if the first request exists after all" in hint, hint
        assert "billed again only if the dashboard missed it" not in hint

        # The same command while the record still lags: nothing sent, still the user's.
        again = results(await run(client, out, *MONTHS, concurrency=1, timeout=60))
        assert again["2024-01"].stage == "needs-attention", again["2024-01"].error
        assert len(sandbox.state.calls_to(CREATE)) == prior + 2

        # Once the history lists it, the same command adopts it.
        sandbox.clock.advance(LAG)
        adopted = results(await run(client, out, *MONTHS, concurrency=1, timeout=60))["2024-01"]
        assert (adopted.ok, adopted.stage) == (True, "done"), adopted.error
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [1, 1]
        assert creates_of(sandbox, "2024-01") == 1
        assert len(sandbox.state.calls_to(CREATE)) == prior + 2


async def test_a_record_later_than_the_old_grace_is_adopted_from_the_dashboard(
    tmp_path: Path,
) -> None:
    # Before, the residual risk: a grace shorter than the lag "proved" January absent and sent
    # it again (only the sandbox's deduplication of an active request, a GUESS, kept the bill
    # at 1). Now the user finds it in the dashboard while the history still lags and adopts it
    # (free); the next run follows it: nothing is sent again.
    config = SandboxConfig(speed=SPEED, seed=11, profile=ServerProfile(lost_create_lag=LAG))
    async with world_of(config) as (sandbox, client):
        await made_before(sandbox, client, older(1))
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        out = tmp_path / "cfdi"
        first = results(await run(client, out, *MONTHS, concurrency=1, timeout=60))
        assert first["2024-01"].stage == "needs-attention", first["2024-01"].error
        made = [
            r.request_id
            for r in sandbox.state.download_requests
            if r.criteria.start_date == date(2024, 1, 1)
        ]
        assert len(made) == 1
        code = await asyncio.to_thread(
            keyed_cli, sandbox, "journal", "adopt", out, "2024-01", made[0], "--yes"
        )
        assert code == 0
        again = results(await run(client, out, *MONTHS, concurrency=1, timeout=60))
        assert again["2024-01"].stage == "done", again["2024-01"].error
        assert again["2024-01"].request_id == made[0]
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [1, 1]
        assert len(sandbox.state.calls_to(CREATE)) == 1 + 2  # January never sent again


async def test_a_create_dropped_before_gigstack_acted_says_why_at_once_and_sends_nothing(
    tmp_path: Path,
) -> None:
    # 502 before gigstack acted: nothing made. Before, the run waited out the grace (and said
    # "waiting until ..."), a stopped run's successor resumed the wait (review 9q #4: it had
    # to say so as it started). Now there is no wait: each run ends the month needing the user
    # and says why in its result; nothing is sent again.
    async with world_of(SandboxConfig(speed=3000, seed=11)) as (sandbox, client):
        await made_before(sandbox, client, older(1))
        sandbox.state.force_fault(CREATE, "502", times=1)
        out = tmp_path / "cfdi"
        for _ in range(2):
            events = await run(client, out, *MONTHS, concurrency=1, timeout=60)
            january = results(events)["2024-01"]
            assert january.stage == "needs-attention", january.error
            assert CANNOT_TELL in (january.error or "")
            assert "journal resend" in (january.hint or "")
            assert "waiting until" not in str(events)
            assert results(events)["2024-02"].ok
            assert [sandbox.state.billed_creates(k) for k in MONTHS] == [0, 1]
            assert len(sandbox.state.calls_to(CREATE)) == 1 + 2  # January never sent again
