"""Newcomer walk 10 F5: a month a `--timeout` stopped in `submitting`, its create's outcome
unknown (a 502 after the server acted), was summarised "still submitting after 1.0 s; re-run
... nothing is sent twice": that a create may have been billed showed only in `journal show`.
Its result now says so, and how it resolves: the next run looks for that create in the
account's history first."""

from __future__ import annotations

from pathlib import Path

from gigstack_async.bulk.watch import PollSchedule
from tests.bulk._support import CREATE, NEVER_LISTED, results, run, world_of

# The next history read comes long after the 1 s timeout: the month stays `submitting`.
SLOW = PollSchedule(initial=5, factor=1.0, maximum=5, jitter=0.0)


async def test_a_month_stopped_submitting_says_a_create_may_have_been_billed(
    tmp_path: Path,
) -> None:
    async with world_of(NEVER_LISTED) as (sandbox, client):
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        out = tmp_path / "A"
        result = results(await run(client, out, timeout=1, poll=SLOW))["2024-01"]
        assert result.stage == "submitting"
        assert not result.ok
        error, hint = result.error or "", result.hint or ""
        assert error.startswith(
            "still submitting after 1.0 s: a create request may have been billed, its outcome "
            "unknown (outcome of the create request is unknown (POST "
        )
        assert "nothing is sent twice" not in error
        assert hint.startswith(
            "run the same bulk() call again: it looks for that create in the account's "
            "history first and adopts it when listed; nothing is sent again for this month "
            "unless you choose to"
        )
        assert f"`gigstack-async journal show {out} 2024-01`" in hint
        assert len(sandbox.state.download_requests) == 1


async def test_a_month_stopped_submitted_says_what_in_error_and_the_step_in_hint(
    tmp_path: Path,
) -> None:
    # r2 N7: error "still submitted after 1.0 s; re-run with the same journal ... (run the
    # same command again ...)" held the next step, and the hint was only "journal show
    # prints the month's record".
    async with world_of(NEVER_LISTED) as (sandbox, client):
        sandbox.clock.speed = 0  # SAT never finishes
        result = results(await run(client, tmp_path / "A", timeout=1))["2024-01"]
        assert result.stage == "submitted"
        assert result.error == "still pending after 1.0 s"  # SAT's state, as polled
        assert result.hint == "run the same bulk() call again (nothing is sent twice)"
