"""A create gigstack made but whose answer was lost, listed in the history late (after the next
create's), end to end (review 9l #1).

The sandbox plays it with `ServerProfile.lost_create_lag`: the record shows up that many
simulated seconds after it was made. Before the grace (`bulk(absence_grace=)`), every history
showed February's create and an older request but not January's, and "proved" January never
arrived: it was sent again (billed twice where gigstack does not deduplicate, a GUESS). Now
a history proves an absence only `absence_grace` seconds (our clock) after the failed answer.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from gigstack_async import MonthResult, MonthWarning
from gigstack_async.errors import InvalidParameterError
from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox.profiles import ServerProfile
from tests.bulk._support import CREATE, results, run, world_of
from tests.bulk.test_full_history_e2e import MONTHS, creates_of, made_before

SPEED = 60  # simulated seconds per real second
LAG = 30.0  # simulated seconds: 0.5 s of real time


def older(count: int) -> list[tuple[date, date, str]]:
    """`count` earlier received-CFDI requests of 2023 (anchors: older than the run)."""
    return [
        (date(2023, m, 1), date(2023, m + 1, 1) - timedelta(days=1), "received")
        for m in range(1, count + 1)
    ]


@pytest.mark.parametrize("prior", [1, 20], ids=["short-history", "full-history"])
async def test_a_lost_create_listed_late_within_the_grace_is_adopted_not_resent(
    tmp_path: Path, prior: int
) -> None:
    config = SandboxConfig(speed=SPEED, seed=11, profile=ServerProfile(lost_create_lag=LAG))
    async with world_of(config) as (sandbox, client):
        await made_before(sandbox, client, older(min(prior, 10)) * (1 + (prior > 10)))
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        events = await run(
            client, tmp_path / "cfdi", *MONTHS, concurrency=1, absence_grace=3.0, timeout=60
        )
        done = results(events)

        assert creates_of(sandbox, "2024-01") == 1  # made once, never sent again
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [1, 1]
        assert len(sandbox.state.calls_to(CREATE)) == prior + 2
        assert done["2024-02"].ok
        january = done["2024-01"]
        if prior == 1:
            assert (january.ok, january.stage) == (True, "done"), january.error
        else:  # a full history proves nothing: adopted if listed in time, else the user's
            assert january.stage in ("done", "needs-attention"), january.error
        if prior == 1:  # a short history would have proven it absent: the wait was shown
            waits = [e for e in events if isinstance(e, MonthWarning) and e.key == "2024-01"]
            assert waits, events
            assert "before resending: a lost create can appear late" in waits[0].message


async def test_a_record_later_than_the_grace_is_the_residual_risk(tmp_path: Path) -> None:
    # Shown so that the test above can fail: with a grace shorter than the lag January is
    # "proven" absent and sent again; the sandbox then answers it as a duplicate of the
    # request still active (gigstack's deduplication: a GUESS), which is all that keeps the
    # bill at 1 here.
    config = SandboxConfig(speed=SPEED, seed=11, profile=ServerProfile(lost_create_lag=LAG))
    async with world_of(config) as (sandbox, client):
        await made_before(sandbox, client, older(1))
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        await run(client, tmp_path / "cfdi", *MONTHS, concurrency=1, absence_grace=0.05)

        assert len(sandbox.state.calls_to(CREATE)) == 1 + 3  # January sent again


async def test_a_run_stopped_during_the_wait_says_why_and_sends_nothing(tmp_path: Path) -> None:
    # 502 before gigstack acted: nothing made. The run stops (timeout) inside the grace: the
    # month says why, and nothing was sent again. The next run goes on from the journaled
    # time and February's journaled witness (tests/bulk/test_absence_wait_rerun.py): stopped
    # again inside the grace, it sends nothing either.
    config = SandboxConfig(speed=3000, seed=11)
    async with world_of(config) as (sandbox, client):
        await made_before(sandbox, client, older(1))
        sandbox.state.force_fault(CREATE, "502", times=1)
        out = tmp_path / "cfdi"
        first = results(
            await run(client, out, *MONTHS, concurrency=1, absence_grace=30.0, timeout=0.7)
        )
        january = first["2024-01"]
        assert january.stage == "submitting"
        assert "(waiting until " in (january.error or ""), january.error
        assert "before resending: a lost create can appear late" in (january.error or "")
        assert first["2024-02"].ok
        assert len(sandbox.state.calls_to(CREATE)) == 1 + 2

        events = await run(client, out, *MONTHS, concurrency=1, absence_grace=30.0, timeout=0.5)
        again = results(events)
        # The resumed wait is said as the run starts, not only in its result (review 9q #4: a
        # re-run without --timeout printed nothing about the month for the whole wait).
        said = [
            n
            for n, e in enumerate(events)
            if isinstance(e, MonthWarning) and e.key == "2024-01" and "waiting until " in e.message
        ]
        ended = [
            n for n, e in enumerate(events) if isinstance(e, MonthResult) and e.key == "2024-01"
        ]
        assert said, events
        assert said[0] < ended[0], events
        assert again["2024-01"].stage == "submitting", again["2024-01"].error
        assert "(waiting until " in (again["2024-01"].error or "")
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [0, 1]
        assert len(sandbox.state.calls_to(CREATE)) == 1 + 2  # January never sent again


@pytest.mark.parametrize("grace", [0, -1, float("nan"), float("inf")])
async def test_a_grace_that_is_not_a_positive_number_is_refused_before_anything_is_sent(
    grace: float,
) -> None:
    async with world_of(SandboxConfig(speed=3000, seed=11)) as (sandbox, client):
        with pytest.raises(InvalidParameterError, match="absence_grace"):
            client.downloads.bulk("2024-01", "2024-01", rfc_type="received", absence_grace=grace)
        assert sandbox.state.calls_to(CREATE) == []
