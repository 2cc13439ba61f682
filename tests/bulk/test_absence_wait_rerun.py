"""A run stopped while a lost create waits out its absence grace (`machine.ABSENCE_GRACE`) told
the user to "re-run with the same journal to keep watching", but a re-run that sends nothing
could never finish the wait: its proof needs a request created after the lost create listed in
the history, and a run knew the order of its own creates only, so the month ended
needs-attention (dashboard, `journal resend`) however long the user waited (closing note 5).
The witnesses a waiting history listed are now journaled (`MonthState.later_ids`): the re-run
waits until the grace ends (bounded by its timeout), reads the history, and resends."""

from __future__ import annotations

from pathlib import Path

import attrs

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from gigstack_async.bulk.store import decode_state, encode_state
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import CREATE, by_creation, results, run, world_of
from tests.bulk.test_absence_grace import FAILED_AT, GRACE, PROVEN, feb, history, lost
from tests.bulk.test_full_history_e2e import MONTHS, made_before
from tests.bulk.test_lost_create_lag_e2e import older


def waiting_then_restarted() -> m.MonthState:
    """January waiting out the grace (February's r9, created after it, listed), then the run
    stopped and a later run started from the journal."""
    waiting, _ = m.transition(lost(), history(FAILED_AT + 5))
    assert waiting.stage is Stage.SUBMITTING
    assert waiting.later_ids == ("r9",)
    resumed, _ = m.transition(decode_state(encode_state(waiting)), m.Start())
    assert resumed.later_ids == ("r9",)
    return resumed


def rerun_history(read_at: float, *entries: m.Seen) -> m.HistorySeen:
    """A history of a run that sent no create of its own (`later` empty)."""
    return attrs.evolve(
        history(read_at),
        entries=by_creation(entries or (feb("r9"), feb("h1"))),
        generation=1,
        later=(),
    )


def test_a_rerun_that_sends_nothing_finishes_the_wait() -> None:
    resumed = waiting_then_restarted()
    early, commands = m.transition(resumed, rerun_history(FAILED_AT + GRACE - 1))
    assert (early.stage, early.unknown, early.resend_allowed) == (Stage.SUBMITTING, True, False)
    assert early.reason is not None
    assert early.reason.startswith("waiting until ")
    assert all(not isinstance(c, m.SendCreate) for c in commands)
    proven, _ = m.transition(early, rerun_history(FAILED_AT + GRACE))
    assert (proven.stage, proven.reason, proven.resend_allowed) == (Stage.PLANNED, PROVEN, True)
    assert proven.later_ids == ()
    _, commands = m.transition(proven, m.Send(("h1", "r9"), generation=2, seq=1))
    assert commands == (m.SendCreate("2024-01"),)


def test_a_witness_the_history_no_longer_lists_proves_nothing() -> None:
    new, _ = m.transition(waiting_then_restarted(), rerun_history(FAILED_AT + GRACE, feb("h1")))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert "may be lagging" in (new.reason or "") or "omits" in (new.reason or "")


def test_the_next_create_forgets_the_witnesses() -> None:
    proven, _ = m.transition(waiting_then_restarted(), rerun_history(FAILED_AT + GRACE))
    # a journal that still had them (written by a run killed between the two) is not trusted
    stale = attrs.evolve(proven, later_ids=("r9",))
    sent, _ = m.transition(stale, m.Send(("h1", "r9"), generation=2, seq=1))
    assert (sent.stage, sent.later_ids) == (Stage.SUBMITTING, ())


async def test_the_same_command_again_waits_out_the_grace_and_resends(tmp_path: Path) -> None:
    # January's create failed with a 502 before gigstack acted (nothing made); February's was
    # made after it. The first run stops (timeout) inside the grace.
    grace = 1.5
    async with world_of(SandboxConfig(speed=3000, seed=11)) as (sandbox, client):
        await made_before(sandbox, client, older(1))
        sandbox.state.force_fault(CREATE, "502", times=1)
        out = tmp_path / "cfdi"
        first = results(
            await run(client, out, *MONTHS, concurrency=1, absence_grace=grace, timeout=0.5)
        )
        assert first["2024-01"].stage == "submitting"
        assert "(waiting until " in (first["2024-01"].error or "")
        assert "re-run with the same journal" in (first["2024-01"].error or "")
        assert first["2024-02"].ok

        # The same command, which has nothing else to send: it waits, then resends January.
        again = results(await run(client, out, *MONTHS, concurrency=1, absence_grace=grace))
        assert again["2024-01"].ok, again["2024-01"].error
        assert again["2024-02"].ok
        assert [sandbox.state.billed_creates(k) for k in MONTHS] == [1, 1]
        assert len(sandbox.state.calls_to(CREATE)) == 1 + 3
