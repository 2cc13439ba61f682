"""A re-run never turns a lost create into a second create on its own.

Before, a run stopped while a lost create waited out its absence grace journaled the requests
it saw created after it (`MonthState.later_ids`), so that the same command again, which sent
nothing of its own, could finish the wait and "prove" the create absent: January was sent again
(closing note 5). A history that does not list a request proves nothing (reviews 9l, 9p, 9q),
so now the first run already leaves the month to the user, the same command again sends
nothing for it (it still adopts the create if the history lists it by then), and only
`journal resend` makes the next run send it, exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import attrs

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from gigstack_async.bulk.store import decode_state, encode_state
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import CREATE, keyed_cli, results, run, world_of
from tests.bulk.test_absence_grace import CANNOT_TELL, feb, history, lost, needs_the_user
from tests.bulk.test_full_history_e2e import MONTHS, made_before
from tests.bulk.test_lost_create_lag_e2e import older


def left_then_restarted() -> m.MonthState:
    """January left to the user by a history that used to prove it absent (February's r9,
    created after it, listed), then a later run started from the journal."""
    left, _ = m.transition(lost(), history())
    assert left.stage is Stage.NEEDS_ATTENTION
    resumed, _ = m.transition(decode_state(encode_state(left)), m.Start())
    assert (resumed.unknown, resumed.resend_allowed) == (True, False)
    return resumed


def test_a_rerun_that_sends_nothing_leaves_it_to_the_user() -> None:
    resumed = left_then_restarted()
    # the re-run's histories (it made no create of its own), read however late
    for generation in (1, 2):
        new, commands = m.transition(resumed, attrs.evolve(history(), generation=generation))
        needs_the_user(new, commands)
        resumed = new
    _, commands = m.transition(resumed, m.Send(("h1", "r9"), generation=3))
    assert commands == ()


def test_a_rerun_whose_history_lists_only_the_older_request_still_needs_the_user() -> None:
    # Before: "may be lagging" (February's witness gone); the verdict is the same as for any
    # history that does not list the create.
    new, commands = m.transition(
        left_then_restarted(), attrs.evolve(history(feb("h1")), generation=1)
    )
    needs_the_user(new, commands)


async def test_the_same_command_again_sends_nothing_until_journal_resend(tmp_path: Path) -> None:
    # January's create failed with a 502 before gigstack acted (nothing made); February's was
    # made after it, then listed above the older request: the history that used to prove
    # January absent.
    async with world_of(SandboxConfig(speed=3000, seed=11)) as (sandbox, client):
        await made_before(sandbox, client, older(1))
        sandbox.state.force_fault(CREATE, "502", times=1)
        out = tmp_path / "cfdi"
        first = results(await run(client, out, *MONTHS, concurrency=1, timeout=30))
        assert first["2024-01"].stage == "needs-attention", first["2024-01"].error
        assert CANNOT_TELL in (first["2024-01"].error or "")
        assert "journal resend" in (first["2024-01"].hint or "")
        assert first["2024-02"].ok
        assert len(sandbox.state.calls_to(CREATE)) == 1 + 2

        # The same command again, which has nothing else to send: January is not sent.
        again = results(await run(client, out, *MONTHS, concurrency=1, timeout=30))
        assert again["2024-01"].stage == "needs-attention", again["2024-01"].error
        assert CANNOT_TELL in (again["2024-01"].error or "")
        assert again["2024-02"].ok
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [0, 1]
        assert len(sandbox.state.calls_to(CREATE)) == 1 + 2

        # The user looked in the dashboard, found nothing, and allowed the resend.
        code = await asyncio.to_thread(
            keyed_cli, sandbox, "journal", "resend", out, "2024-01", "--yes"
        )
        assert code == 0
        resent = results(await run(client, out, *MONTHS, concurrency=1, timeout=30))
        assert resent["2024-01"].ok, resent["2024-01"].error
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [1, 1]
        assert len(sandbox.state.calls_to(CREATE)) == 1 + 3  # January sent again once

        # ... and only once: the same command after that sends nothing more.
        await run(client, out, *MONTHS, concurrency=1, timeout=30)
        assert len(sandbox.state.calls_to(CREATE)) == 1 + 3
