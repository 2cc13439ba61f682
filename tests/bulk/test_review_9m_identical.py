"""Review 9m: SAT accepts only 2 identical requests, and the routes printed around that limit.

#1 After 2 identical creates (expired twice, or 5008 twice) the hint prints the month's other
   dates in two parts, then `journal split`; following it billed both parts, then the split
   refused the month ("only a month SAT refused with 5003 or 5002"): a dead end that cost 4
   requests. The same for a month held for 2 identical requests (another folder's). `journal
   split` now takes a month whose 2 identical requests are spent, with the same checks.
#5 The third-identical guard counted only this journal's creates: a month held for R (another
   folder's) whose own resend expired had 2 identical requests, and `journal resend` still let
   a third go. The requests it is held for count with its own.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.duplicates import held_hint, holding
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


def sent(*ids: str, stage: m.Stage = m.Stage.EXPIRED) -> m.MonthState:
    records = tuple(m.KnownRequest(i, MONTH.start, MONTH.end, "received", "cfdi") for i in ids)
    return attrs.evolve(
        MONTH,
        stage=stage,
        request_id=ids[-1] if ids else None,
        known_ids=ids,
        records=records,
        creates=len(ids),
    )


# -- #1: the split takes a month whose 2 identical requests are spent ------------------------


@pytest.mark.parametrize("stage", [m.Stage.EXPIRED, m.Stage.NEEDS_ATTENTION, m.Stage.SAT_FAILED])
def test_split_takes_a_month_after_two_identical_creates(stage: m.Stage) -> None:
    state = sent("A", "B", stage=stage)
    new, commands = m.transition(state, m.SplitElsewhere("parts a and b", invoice_count=34))
    assert new.stage is m.Stage.SPLIT
    assert new.invoice_count == 34
    assert commands == ()
    assert "SAT accepts only 2 requests" in (new.reason or "")
    assert "A, B" in (new.reason or "")
    assert "parts a and b" in (new.reason or "")
    # Named again: the same reason (not a 5003 text for a month SAT never refused so).
    again, _ = m.transition(new, m.SplitElsewhere("parts a and b", invoice_count=34))
    assert again.reason == new.reason


def test_split_takes_a_month_held_for_two_identical_requests() -> None:
    held = m.hold(MONTH, ["R1", "R2"])
    new, _ = m.transition(held, m.SplitElsewhere("parts"))
    assert new.stage is m.Stage.SPLIT
    assert "R1, R2" in (new.reason or "")


def test_split_still_refuses_a_month_with_one_identical_request() -> None:
    for state in (sent("A"), m.hold(MONTH, ["R1"]), sent("A", "B", stage=m.Stage.PROCESSING)):
        with pytest.raises(m.TransitionError, match="downloaded in parts elsewhere"):
            m.transition(state, m.SplitElsewhere("parts"))


async def _parts(client: object, out: Path) -> None:
    """The two part downloads the hint prints, into the folders it names."""
    for start, end, suffix in (
        ("2022-04-01", "2022-04-15", "a"),
        ("2022-04-16", "2022-04-30", "b"),
    ):
        part = out.parent / f"{out.name}-2022-04{suffix}"
        results = await month_results(client, part, start, end)  # type: ignore[arg-type]
        assert results["2022-04"].stage == "done"


@pytest.mark.parametrize("code", [5007, 5008])
async def test_the_printed_split_route_ends_the_month_after_two_identical_creates(
    tmp_path: Path, code: int
) -> None:
    """The review's m11 (5007 twice) and m11b (5008 twice): follow the hint's part downloads
    and its `journal split`; the month ends split, and nothing else is ever sent."""
    rule = SatCodeRule(code, "2022-04", times=2)
    config = SandboxConfig(speed=3000, seed=3, profile=ServerProfile(sat_codes=(rule,)))
    out = tmp_path / "A"
    async with world_of(config) as (sandbox, client):
        await month_results(client, out, "2022-04", "2022-04")
        assert (
            await asyncio.to_thread(main, ["journal", "resend", str(out), "2022-04", "--yes"]) == 0
        )
        second = (await month_results(client, out, "2022-04", "2022-04"))["2022-04"]
        hint = second.hint or ""
        split = f"journal split {out} 2022-04 {out}-2022-04a {out}-2022-04b"
        assert split in hint
        await _parts(client, out)
        assert calls(sandbox, CREATE) == 4  # the 2 identical creates and the 2 parts
        argv = ["journal", "split", str(out), "2022-04", f"{out}-2022-04a", f"{out}-2022-04b"]
        assert await asyncio.to_thread(main, argv) == 0  # was: 2, "only a month SAT refused"
        final = (await month_results(client, out, "2022-04", "2022-04"))["2022-04"]
        assert final.stage == "split"
        assert calls(sandbox, CREATE) == 4
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2022-04").stage is m.Stage.SPLIT


async def test_split_checks_the_parts_of_a_limit_month_on_disk(tmp_path: Path) -> None:
    """The same checks as a 5002 month: a part that lost its files is refused without --force."""
    rule = SatCodeRule(5007, "2022-04", times=2)
    config = SandboxConfig(speed=3000, seed=3, profile=ServerProfile(sat_codes=(rule,)))
    out = tmp_path / "A"
    async with world_of(config) as (_sandbox, client):
        await month_results(client, out, "2022-04", "2022-04")
        await asyncio.to_thread(main, ["journal", "resend", str(out), "2022-04", "--yes"])
        await month_results(client, out, "2022-04", "2022-04")
        await _parts(client, out)
    lost = next((tmp_path / "A-2022-04a" / "2022-04").glob("*.xml"))
    lost.unlink()
    argv = ["journal", "split", str(out), "2022-04", f"{out}-2022-04a", f"{out}-2022-04b"]
    assert await asyncio.to_thread(main, argv) == 2
    argv_one = ["journal", "split", str(out), "2022-04", f"{out}-2022-04b"]
    assert await asyncio.to_thread(main, argv_one) == 2  # days no part covers
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2022-04").stage is m.Stage.EXPIRED


# -- #5: the requests a month was held for count against SAT's 2 ------------------------------


def test_held_requests_count_with_the_months_own_creates() -> None:
    # Held for R; resent once (its own create A expired); planned again and held for R again.
    planned = attrs.evolve(sent("A"), stage=m.Stage.PLANNED, request_id=None, resend_allowed=True)
    held = m.hold(planned, ["R"])
    assert m.identical_requests(held) == ("A", "R")
    with pytest.raises(m.TransitionError, match="SAT 5002") as refused:
        m.transition(held, m.AllowResend())  # was: allowed, a third identical create
    assert "A, R" in str(refused.value)
    forced, _ = m.transition(held, m.AllowResend(force=True))
    assert forced.identical_allowed
    # The held hint no longer offers a resend or --allow-duplicates.
    hint = held_hint(held, holding(held, ()))
    assert "journal resend" not in hint
    assert "--allow-duplicates" not in hint
    assert "refused with SAT 5002" in hint
    # One identical request only: the resend is still the way.
    once = m.hold(attrs.evolve(MONTH, resend_allowed=True), ["R"])
    allowed, _ = m.transition(once, m.AllowResend())
    assert allowed.identical_allowed


async def test_a_held_month_resent_once_is_not_resent_a_third_time(tmp_path: Path) -> None:
    """The review's m2: R (another folder's) has the month; A is held for R; the printed
    `journal resend` sends A's own (expired: 5007); the month is held for R again, and the next
    printed resend would be the third identical create. Now it is refused: 2 creates, ever."""
    rule = SatCodeRule(5007, "2022-04", times=3)
    config = SandboxConfig(speed=3000, seed=5, profile=ServerProfile(sat_codes=(rule,)))
    out = tmp_path / "A"
    async with world_of(config) as (sandbox, client):
        await client.downloads.create_request(
            start_date="2022-04-01", end_date="2022-04-30", rfc_type="received"
        )
        await asyncio.sleep(0.5)  # the sandbox's quick-duplicate window
        held = (await month_results(client, out, "2022-04", "2022-04"))["2022-04"]
        assert held.stage == "held"
        assert calls(sandbox, CREATE) == 1
        resend = ["journal", "resend", str(out), "2022-04", "--yes"]
        assert await asyncio.to_thread(main, resend) == 0
        expired = (await month_results(client, out, "2022-04", "2022-04"))["2022-04"]
        assert expired.stage == "expired"
        assert calls(sandbox, CREATE) == 2
        for _ in range(2):
            # Each printed step followed: the resend (refused once there are 2), then the run.
            await asyncio.to_thread(main, resend)
            last = (await month_results(client, out, "2022-04", "2022-04"))["2022-04"]
            assert f"journal resend {out} 2022-04`" not in (last.hint or "")
        assert calls(sandbox, CREATE) == 2  # was: 3, the third answered 5002 for good
        assert f"journal split {out} 2022-04" in (last.hint or "")


# -- #6: `journal repair` keeps counting the month's own identical creates --------------------


def _logged(stage: m.Stage, rid: str | None, start: date = MONTH.start) -> m.Logged:
    return m.Logged(stage, None, rid, m.Asked(start, MONTH.end, None))


def test_the_log_restores_the_records_of_the_months_own_creates() -> None:
    lines = [
        _logged(m.Stage.PLANNED, None),
        _logged(m.Stage.SUBMITTING, None),
        _logged(m.Stage.SUBMITTED, "A"),
        _logged(m.Stage.EXPIRED, "A"),
        _logged(m.Stage.PLANNED, None),
        _logged(m.Stage.SUBMITTING, None),
        _logged(m.Stage.SUBMITTED, "B"),
        _logged(m.Stage.EXPIRED, "B"),
    ]
    held = m.unrecorded(
        MONTH,
        known_ids=("A", "B"),
        creates=2,
        reason="rebuilt",
        hint="`gigstack-async journal adopt 2022-04 B` if listed; else "
        "`gigstack-async journal resend 2022-04` (may be billed)",
    )
    assert m.identical_sent(held) == ()  # what the repair had: the count was lost
    rebuilt = m.logged_creates(held, lines)
    assert m.identical_sent(rebuilt) == ("A", "B")
    assert "; else no resend: this journal already sent 2 requests" in (rebuilt.hint or "")
    assert "journal resend" not in (rebuilt.hint or "")
    with pytest.raises(m.TransitionError, match="SAT 5002"):
        m.transition(rebuilt, m.AllowResend())
    # An id adopted (not right after a create) is not recorded: its dates may be a guess.
    adopted = [*lines[:4], _logged(m.Stage.SUBMITTED, "B")]
    assert m.identical_sent(m.logged_creates(held, adopted)) == ("A",)
    # A create for other dates is another criteria.
    other = [*lines[:4], _logged(m.Stage.SUBMITTING, None, date(2022, 4, 2))]
    other += [_logged(m.Stage.SUBMITTED, "B", date(2022, 4, 2))]
    assert m.identical_sent(m.logged_creates(held, other)) == ("A",)


async def test_a_repaired_month_is_not_resent_a_third_time(tmp_path: Path) -> None:
    """The review's m7: 2 identical creates (5007 twice), the month's row damaged, `journal
    repair`; the printed resend used to send the third identical create (SAT 5002 for good)."""
    import sqlite3

    rule = SatCodeRule(5007, "2022-04", times=2)
    config = SandboxConfig(speed=3000, seed=5, profile=ServerProfile(sat_codes=(rule,)))
    out = tmp_path / "A"
    async with world_of(config) as (sandbox, client):
        await month_results(client, out, "2022-04", "2022-04")
        resend = ["journal", "resend", str(out), "2022-04", "--yes"]
        assert await asyncio.to_thread(main, resend) == 0
        await month_results(client, out, "2022-04", "2022-04")
        assert calls(sandbox, CREATE) == 2
        db = sqlite3.connect(out / JOURNAL)
        db.execute("UPDATE months SET state = '{\"garbage' WHERE key = '2022-04'")
        db.commit()
        db.close()
        assert await asyncio.to_thread(main, ["journal", "repair", str(out), "--yes"]) == 0
        for _ in range(2):
            again = (await month_results(client, out, "2022-04", "2022-04"))["2022-04"]
            assert "refused with SAT 5002" in (again.hint or "")
            assert await asyncio.to_thread(main, resend) != 0  # was: 0, then the third create
        await month_results(client, out, "2022-04", "2022-04")
        assert calls(sandbox, CREATE) == 2


# -- #7: the open day's MISSING DAYS asks for that day only, in parts -------------------------

NOV = m.MonthState("2026-11", date(2026, 11, 1), date(2026, 11, 30), "received", "cfdi")


def _done_twice_on_the_open_day() -> m.MonthState:
    records = tuple(m.KnownRequest(i, NOV.start, NOV.end, "received", "cfdi") for i in "AB")
    return attrs.evolve(
        NOV,
        stage=m.Stage.DONE,
        request_id="B",
        known_ids=("A", "B"),
        records=records,
        creates=2,
        open_day=NOV.end,
        invoice_count=56,
        extracted=(m.ExtractedPackage("B_01", ("x.xml",)),),
    )


def test_the_open_day_note_asks_for_that_day_into_its_own_folder() -> None:
    state = _done_twice_on_the_open_day()
    note = m.plan_decision(state, NOV.start, NOV.end, today=date(2026, 12, 1)).note or ""
    assert "journal resend" not in note  # was: `journal resend 2026-11 --force`: a third
    assert "--from 2026-11-30 --to 2026-11-30 --rfc-type received --out <out>-2026-11a" in note
    assert "`gigstack-async journal split 2026-11 <out>-2026-11a`" in note
    # A resend of a done month's same dates is the third identical one: refused unless forced.
    with pytest.raises(m.TransitionError, match="SAT 5002"):
        m.transition(state, m.AllowResend())
    # The split takes the month: its own request holds the days before the open day.
    assert m.open_day_own(state) == (NOV.start, date(2026, 11, 29))
    split, _ = m.transition(state, m.SplitElsewhere("/p (2026-11-30)"))
    assert split.stage is m.Stage.SPLIT
    assert split.invoice_count is None  # the open day's CFDIs may be in both: never summed
    assert "on 2026-11-30, before that day was over" in (split.reason or "")
    again, _ = m.transition(split, m.SplitElsewhere("/p (2026-11-30)"))
    assert again.reason == split.reason
    # A done month sent after its last day was over is not split so.
    with pytest.raises(m.TransitionError):
        m.transition(attrs.evolve(state, open_day=None), m.SplitElsewhere("/p"))


async def test_the_open_day_route_ends_split_without_a_third_identical_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The review's m8: November requested on 11-30, expired once, resent the same day (2
    identical creates), done. On 12-01 the printed way was `journal resend --force` for the
    whole month: the third identical create (5002). Now: the open day into its own folder,
    then `journal split`; the month ends split, 3 creates (the third for other dates)."""
    import gigstack_async._validation as validation
    import gigstack_async.bulk.engine as engine
    import gigstack_async.bulk.plan as plan

    def today(day: date) -> None:
        for module in (plan, validation, engine):
            monkeypatch.setattr(module, "today_mx", lambda now=None: day)

    rule = SatCodeRule(5007, "2026-11", times=1)
    config = SandboxConfig(speed=3000, seed=5, profile=ServerProfile(sat_codes=(rule,)))
    out = tmp_path / "A"
    part = tmp_path / "A-2026-11a"
    async with world_of(config) as (sandbox, client):
        today(date(2026, 11, 30))
        await month_results(client, out, "2026-11", "2026-11")
        resend = ["journal", "resend", str(out), "2026-11", "--yes"]
        assert await asyncio.to_thread(main, resend) == 0
        done = (await month_results(client, out, "2026-11", "2026-11"))["2026-11"]
        assert done.ok
        assert calls(sandbox, CREATE) == 2
        today(date(2026, 12, 1))
        missing = (await month_results(client, out, "2026-11", "2026-11"))["2026-11"]
        # What is missing in `error`, the way in `hint` (newcomer 9k #3).
        text = f"{missing.error} {missing.hint}"
        assert "MISSING DAYS" in (missing.error or "")
        assert "journal resend" not in text
        assert f"download_to='{part}'" in text
        assert f"journal split {out} 2026-11 {part}`" in text
        # --force says the 5002 risk in its confirmation (it was silent for a done month).
        capsys.readouterr()
        assert await asyncio.to_thread(main, resend) == 2  # refused: the third identical
        assert await asyncio.to_thread(main, [*resend[:-1], "--force"]) == 2  # not confirmed
        assert "--force: This journal already sent 2 requests" in capsys.readouterr().out
        day = (await month_results(client, part, "2026-11-30", "2026-11-30"))["2026-11"]
        assert day.ok
        assert calls(sandbox, CREATE) == 3  # for 11-30 only: other criteria
        argv = ["journal", "split", str(out), "2026-11", str(part)]
        assert await asyncio.to_thread(main, argv) == 0
        final = (await month_results(client, out, "2026-11", "2026-11"))["2026-11"]
        assert final.ok, final.error
        assert final.stage == "split"
        assert calls(sandbox, CREATE) == 3


def test_the_requests_a_month_was_held_for_still_count_once_it_is_sent() -> None:
    """A held month resent: R stays counted after the send, so once its own create expires the
    two identical requests (R and its own) are known, listed in the history or not."""
    held = m.hold(attrs.evolve(MONTH, resend_allowed=True), ["R"])
    allowed, _ = m.transition(held, m.AllowResend())
    sending, _ = m.transition(allowed, m.Send((), today=date(2026, 1, 1)))
    assert sending.held_for == ("R",)  # was: () at the send
    assert not sending.identical_allowed  # the user's word was for that one create
    created, _ = m.transition(sending, m.Created("A"))
    expired = attrs.evolve(
        created,
        stage=m.Stage.EXPIRED,
        hint="SAT keeps packages 72 h; `gigstack-async journal resend 2022-04`",
    )
    assert m.identical_requests(expired) == ("A", "R")
    with pytest.raises(m.TransitionError, match="SAT 5002"):
        m.transition(expired, m.AllowResend())
    settled, _ = m.transition(expired, m.Start())
    assert "journal resend 2022-04`" not in (settled.hint or "")
    assert "1 sent by this journal, 1 another folder's" in (settled.hint or "")


async def test_a_month_held_for_two_identical_requests_ends_split_by_its_printed_route(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review's m13: the account has 2 identical requests (another folder's); the held
    hint prints the parts and the split; the split refused a `planned` month (after both parts
    were billed). Now it is recorded, with no history read (no API key needed)."""
    config = SandboxConfig(speed=3000, seed=5)
    out = tmp_path / "A"
    async with world_of(config) as (sandbox, client):
        for _ in range(2):
            await client.downloads.create_request(
                start_date="2022-04-01", end_date="2022-04-30", rfc_type="received"
            )
            await asyncio.sleep(1)  # the sandbox dedupes a quick identical create
        held = (await month_results(client, out, "2022-04", "2022-04"))["2022-04"]
        assert held.stage == "held"
        hint = held.hint or held.error or ""
        assert f"journal split {out} 2022-04 {out}-2022-04a {out}-2022-04b" in hint
        await _parts(client, out)
        assert calls(sandbox, CREATE) == 4
        monkeypatch.delenv("GIGSTACK_API_KEY", raising=False)
        argv = ["journal", "split", str(out), "2022-04", f"{out}-2022-04a", f"{out}-2022-04b"]
        assert await asyncio.to_thread(main, argv) == 0  # was: 2, "2022-04 is planned"
        final = (await month_results(client, out, "2022-04", "2022-04"))["2022-04"]
        assert final.ok, final.error
        assert final.stage == "split"
        assert calls(sandbox, CREATE) == 4


async def test_an_open_day_part_requested_before_its_day_was_over_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The open day's part must hold that day complete: a part requested on that same day
    (before it was over) may miss the same CFDIs, so the split refuses it."""
    import gigstack_async._validation as validation
    import gigstack_async.bulk.engine as engine
    import gigstack_async.bulk.plan as plan

    for module in (plan, validation, engine):
        monkeypatch.setattr(module, "today_mx", lambda now=None: date(2026, 11, 30))
    out, part = tmp_path / "A", tmp_path / "A-2026-11a"
    async with world_of(SandboxConfig(speed=3000, seed=5)) as (_sandbox, client):
        assert (await month_results(client, out, "2026-11", "2026-11"))["2026-11"].ok
        assert (await month_results(client, part, "2026-11-30", "2026-11-30"))["2026-11"].ok
    argv = ["journal", "split", str(out), "2026-11", str(part)]
    assert await asyncio.to_thread(main, argv) == 2
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2026-11").stage is m.Stage.DONE
