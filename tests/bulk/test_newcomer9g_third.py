"""Newcomer 9g #5: after 2 identical creates for a month, the hint still said `journal resend`.

SAT accepts only 2 requests with the same dates ever and answers a third with 5002, for good
(sat-domain.md). A month whose package expired twice (or was answered 5008 twice) was told
"Next: journal resend" each time; the third resend's create came back 5002. Now, once the
journal knows it sent 2 creates for exactly the month's dates, the hint points to other dates
(the month split into parts, each into its own folder), and `journal resend` refuses the third
identical create unless --force, with that risk spelled out.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore
from gigstack_async.cli import main
from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, ServerProfile
from tests.bulk._support import CREATE, JOURNAL, calls, month_results, world_of

MONTH = m.MonthState(
    key="2022-04",
    start=date(2022, 4, 1),
    end=date(2022, 4, 30),
    rfc_type="received",
    request_type="cfdi",
)


def sent(*ids: str, start: date = MONTH.start) -> m.MonthState:
    records = tuple(m.KnownRequest(i, start, MONTH.end, "received", "cfdi") for i in ids)
    return attrs.evolve(
        MONTH,
        stage=m.Stage.EXPIRED,
        request_id=ids[-1],
        known_ids=ids,
        records=records,
        creates=len(ids),
        hint="the package expired: `gigstack-async journal resend 2022-04` requests it again",
    )


def test_two_identical_creates_are_counted_from_the_records() -> None:
    assert m.identical_sent(sent("A", "B")) == ("A", "B")
    assert m.third_identical(sent("A")) is None
    # Other dates are other criteria: not counted against these.
    assert m.identical_sent(sent("A", "B", start=date(2022, 4, 2))) == ()
    # A record missing a field never counts.
    partial = attrs.evolve(sent("A", "B"), records=(m.KnownRequest("A"), m.KnownRequest("B")))
    assert m.identical_sent(partial) == ()


def test_the_resend_refuses_a_third_identical_create_unless_forced() -> None:
    state = sent("A", "B")
    with pytest.raises(m.TransitionError) as refused:
        m.transition(state, m.AllowResend())
    text = str(refused.value)
    assert "refused with SAT 5002" in text
    assert "A, B" in text
    assert "gigstack-async sat download --from 2022-04-01 --to 2022-04-15" in text
    assert "gigstack-async journal split 2022-04" in text
    assert "--force" in text
    forced, _ = m.transition(state, m.AllowResend(force=True))
    assert forced.stage is m.Stage.PLANNED
    # One identical create so far: a resend is still the way (the second of SAT's 2).
    once, _ = m.transition(sent("A"), m.AllowResend())
    assert once.stage is m.Stage.PLANNED


def test_a_hint_offering_a_resend_points_to_other_dates_after_two() -> None:
    # Any transition that leaves the month so settles its hint (here: a no-op observation).
    state, _ = m.transition(sent("A", "B"), m.Start())
    assert "journal resend 2022-04`" not in (state.hint or "")
    assert "refused with SAT 5002" in (state.hint or "")
    assert "gigstack-async journal split 2022-04" in (state.hint or "")
    once, _ = m.transition(sent("A"), m.Start())
    assert once.hint == sent("A").hint


@pytest.mark.parametrize("code", [5007, 5008])
async def test_expired_twice_then_the_hint_splits_and_resend_refuses(
    tmp_path: Path, code: int
) -> None:
    """The newcomer's sequence: the month's package expires twice (5007), or SAT says it was
    downloaded twice already (5008), twice; after the second, the hint names the split route
    and `journal resend` sends nothing more."""
    rule = SatCodeRule(code, "2022-04", times=2)
    config = SandboxConfig(speed=3000, seed=3, profile=ServerProfile(sat_codes=(rule,)))
    out = tmp_path / "exp"
    async with world_of(config) as (sandbox, client):
        first = (await month_results(client, out, "2022-04", "2022-04"))["2022-04"]
        stage = first.stage
        assert stage in ("expired", "sat-failed", "needs-attention")
        assert f"journal resend {out} 2022-04" in (first.hint or "")
        code = await asyncio.to_thread(main, ["journal", "resend", str(out), "2022-04", "--yes"])
        assert code == 0
        second = (await month_results(client, out, "2022-04", "2022-04"))["2022-04"]
        assert second.stage == stage
        assert calls(sandbox, CREATE) == 2
        hint = second.hint or ""
        assert f"journal resend {out} 2022-04`" not in hint  # was: the same resend again
        assert "refused with SAT 5002" in hint
        assert f"journal split {out} 2022-04" in hint
        # The resend refuses the third identical create: nothing changes, nothing is sent.
        code = await asyncio.to_thread(main, ["journal", "resend", str(out), "2022-04", "--yes"])
        assert code != 0
        again = (await month_results(client, out, "2022-04", "2022-04"))["2022-04"]
        assert again.stage == stage
        assert calls(sandbox, CREATE) == 2  # was: a third create, answered 5002


async def test_a_forced_third_resend_spells_out_the_risk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rule = SatCodeRule(5007, "2022-04", times=2)
    config = SandboxConfig(speed=3000, seed=3, profile=ServerProfile(sat_codes=(rule,)))
    out = tmp_path / "exp"
    async with world_of(config) as (_sandbox, client):
        await month_results(client, out, "2022-04", "2022-04")
        await asyncio.to_thread(main, ["journal", "resend", str(out), "2022-04", "--yes"])
        await month_results(client, out, "2022-04", "2022-04")
    capsys.readouterr()
    argv = ["journal", "resend", str(out), "2022-04", "--yes", "--force"]
    assert await asyncio.to_thread(main, argv) == 0
    printed = capsys.readouterr().out
    assert "--force: This journal already sent 2 requests for exactly" in printed
    assert "refused with SAT 5002" in printed
    assert f"journal split {out} 2022-04" in printed  # complete, with the folder
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2022-04").stage is m.Stage.PLANNED


def test_a_month_held_for_two_identical_requests_is_not_told_to_resend() -> None:
    from gigstack_async.bulk.duplicates import held_hint, holding

    held = m.hold(MONTH, ["R1", "R2"])
    hint = held_hint(held, holding(held, ()))
    assert "journal resend" not in hint
    assert "--allow-duplicates" not in hint
    assert "refused with SAT 5002" in hint
    assert "gigstack-async journal split 2022-04" in hint
    with pytest.raises(m.TransitionError, match="SAT 5002"):
        m.transition(held, m.AllowResend())
    allowed, _ = m.transition(held, m.AllowResend(force=True))
    assert allowed.identical_allowed


def test_a_needs_attention_hint_keeps_its_free_ways_and_drops_a_lone_resend() -> None:
    both = attrs.evolve(
        sent("A", "B"),
        stage=m.Stage.NEEDS_ATTENTION,
        hint="`gigstack-async journal adopt 2022-04 <id>` if it is there; else "
        "`gigstack-async journal resend 2022-04` (may be billed)",
    )
    kept, _ = m.transition(both, m.Start())
    # Adopt is still the way; the resend gives way to other dates (newcomer r2 N5).
    assert (kept.hint or "").startswith(
        "`gigstack-async journal adopt 2022-04 <id>` if it is there; else no resend: this "
        "journal already sent 2 requests"
    )
    assert "journal resend" not in (kept.hint or "")
    assert "gigstack-async journal split 2022-04" in (kept.hint or "")
    alone = attrs.evolve(
        both, hint="request the month again with `gigstack-async journal resend 2022-04`"
    )
    replaced, _ = m.transition(alone, m.Start())
    assert "journal resend 2022-04`" not in (replaced.hint or "")
    assert "gigstack-async journal split 2022-04" in (replaced.hint or "")
