"""Newcomer 9g #1: a `held` month was forgotten, then sent (and billed) by a plain re-run.

A month is held (not sent) when the account's history lists its exact request under an id the
journal did not send (another folder's download). The held check read only the live history,
which lists the newest 20 requests: once other downloads pushed the holding request out of it,
the same command sent the month again (billed, and one of SAT's 2 identical requests spent),
with no --allow-duplicates and no word that the month had been held. Now the journal records the
requests a month was held for (`MonthState.held_for`), and every run (and the plan preview, by
the same rule: `duplicates.holding`) holds it for them until the user adopts one, allows a
resend (`journal resend`) or passes --allow-duplicates.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.duplicates import held_hint, holding, prior_requests
from gigstack_async.bulk.reach import history_reach
from gigstack_async.cli import main
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import CREATE, calls, keyed_cli, month_results, world_of

MONTH = m.MonthState(
    key="2024-01",
    start=date(2024, 1, 1),
    end=date(2024, 1, 31),
    rfc_type="received",
    request_type="cfdi",
)
SAME = m.Seen("R1", "completed", "received", "cfdi", date(2024, 1, 1), date(2024, 1, 31))


# ------------------------------------------------------------------ the machine


def test_a_month_held_once_stays_held_when_the_history_no_longer_lists_the_request() -> None:
    held = m.hold(MONTH, [SAME.id])
    assert held.held_for == ("R1",)
    assert held.stage is m.Stage.PLANNED
    # The history's newest 20 no longer list R1 (was: nothing held it, and the run sent it).
    priors = holding(held, ())
    assert [p.request_id for p in priors] == ["R1"]
    assert priors[0].recorded
    assert "R1" in priors[0].describe()
    # Listed again: one prior, the history's (status and all), not twice.
    listed = holding(held, (SAME,))
    assert [(p.request_id, p.recorded, p.status) for p in listed] == [("R1", False, "completed")]
    # Its hint names every way out: adopt, resend (this month only), --allow-duplicates.
    hint = held_hint(held, priors)
    assert "gigstack-async journal adopt 2024-01 R1" in hint
    assert "gigstack-async journal resend 2024-01" in hint
    assert "--allow-duplicates" in hint


def test_hold_adds_ids_and_leaves_other_stages_alone() -> None:
    held = m.hold(m.hold(MONTH, ["R1"]), ["R1", "R2"])
    assert held.held_for == ("R1", "R2")
    submitted = attrs.evolve(MONTH, stage=m.Stage.SUBMITTED, request_id="A")
    assert m.hold(submitted, ["R1"]) is submitted


def test_the_ways_out_release_the_hold() -> None:
    held = m.hold(MONTH, ["R1"])
    # `journal resend` of a held month: allowed for this month, sent by the next run.
    allowed, commands = m.transition(held, m.AllowResend())
    assert commands == ()
    assert allowed.identical_allowed
    assert holding(allowed, (SAME,)) == ()
    assert m.hold(allowed, ["R1"]) is allowed  # never held again before it is sent
    # Sent (a resend, or --allow-duplicates): the allowance is used up; R1 is kept, as it
    # still counts against SAT's 2 identical requests with the month's own (review 9m #5).
    sent, commands = m.transition(allowed, m.Send(history_ids=(), generation=0))
    assert any(isinstance(c, m.SendCreate) for c in commands)
    assert (sent.held_for, sent.identical_allowed) == (("R1",), False)
    # Adopted: the request is the month's own, not a reason to hold it.
    adopted = attrs.evolve(held, known_ids=("R1",))
    assert prior_requests(adopted, ()) == ()


def test_the_plan_rule_keeps_the_hold_for_the_same_dates_only() -> None:
    held = m.hold(MONTH, ["R1"])
    same = m.plan_decision(held, held.start, held.end)
    assert same.create is m.PlanCreate.YES  # a create goes, unless the held check holds it
    assert holding(same.state or held, ()) != ()
    # Other dates are other criteria: R1 is not identical to them.
    other = m.plan_decision(held, date(2024, 1, 1), date(2024, 1, 15))
    assert other.state is not None
    assert other.state.held_for == ()
    assert holding(other.state, ()) == ()


# ------------------------------------------------------------------ end to end


async def test_held_months_are_not_sent_once_their_requests_leave_the_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The newcomer's sequence: another folder's requests hold two months; more than 20 other
    requests push those out of the history; the same run again sends nothing."""
    config = SandboxConfig(speed=3000, seed=9)
    async with world_of(config) as (sandbox, client):
        first = await month_results(client, tmp_path / "elsewhere", "2024-01", "2024-02")
        assert all(r.ok for r in first.values())
        out = tmp_path / "cfdi"
        held = await month_results(client, out, "2024-01", "2024-02")
        assert {r.stage for r in held.values()} == {"held"}
        creates = calls(sandbox, CREATE)

        # 21 other requests (another job, issued CFDIs): the history's newest 20 are theirs.
        for n in range(21):
            year, month = divmod(n, 12)
            await client.downloads.create_request(
                start_date=date(2022 + year, month + 1, 1),
                end_date=date(2022 + year, month + 1, 28),
                rfc_type="issued",
            )
        listed = {r.id for r in await client.downloads.history()}
        assert not listed & {r.request_id for r in first.values()}
        creates = calls(sandbox, CREATE)

        # The plan preview agrees with the run: both months still held, under their requests.
        bulk = client.downloads.bulk("2024-01", "2024-02", rfc_type="received", download_to=out)
        found = await bulk.identical_requests()
        assert {k: [p.request_id for p in v] for k, v in found.items()} == {
            k: [r.request_id] for k, r in first.items()
        }
        assert bulk.history_reach is not None
        assert bulk.history_reach.unchecked == ()  # nothing to send: nothing unchecked

        again = await month_results(client, out, "2024-01", "2024-02")
        assert calls(sandbox, CREATE) == creates  # was: 2 more creates, billed
        for key, result in again.items():
            assert result.stage == "held"
            assert first[key].request_id in (result.error or "")
            assert f"journal resend {shlex.quote(str(out))} {key}" in (result.hint or "")

        # `journal resend` lets one month go (it may be billed): the next run sends only it.
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["journal", "show", str(out)]) == 0
        shown = capsys.readouterr().out
        assert "stays held for that request" in shown
        code = await asyncio.to_thread(main, ["journal", "resend", str(out), "2024-01", "--yes"])
        assert code == 0
        assert "was held, not sent" in capsys.readouterr().out  # the risk names the request
        assert await asyncio.to_thread(main, ["journal", "show", str(out), "2024-01"]) == 0
        one = capsys.readouterr().out
        assert re.search(r"^2024-01\s+planned\s", one, re.MULTILINE)  # no longer `held`
        last = await month_results(client, out, "2024-01", "2024-02")
        assert calls(sandbox, CREATE) == creates + 1
        assert last["2024-01"].ok
        assert last["2024-02"].stage == "held"
        assert keyed_cli(sandbox, "journal", "show", str(out)) == 0


# ------------------------------------------------------------------ the plan's "Not checked"


def test_a_full_history_is_not_called_short_and_the_journals_ids_are_named() -> None:
    """The note said "it is short or filtered" when the history was simply full (20 entries),
    and did not name the requests the journal itself recorded for the months it lists."""
    full = tuple(
        m.Seen(f"N{i}", "completed", "issued", "cfdi", created_at="2024-06-01T00:00:00+00:00")
        for i in range(20)
    )
    months = [("2024-01", date(2024, 1, 1)), ("2024-02", date(2024, 2, 1))]
    reach = history_reach(full, months, journal_ids=("J1",), recorded={"2024-02": ("J1",)})
    assert reach.unchecked == ("2024-01", "2024-02")
    assert "short or filtered" not in reach.why  # was: "... it is short or filtered"
    assert "lists only its 20 newest requests" in reach.why
    assert "some this journal made among them, have left it" in reach.why
    assert reach.recorded == (("2024-02", ("J1",)),)
    assert "This journal already recorded request(s) for 1 of them (2024-02: J1)" in (
        reach.warning or ""
    )
    # A history shorter than the window that omits the journal's request: short or filtered.
    short = history_reach(full[:3], months, journal_ids=("J1",))
    assert "short or filtered" in short.why
    assert "already recorded" not in (short.warning or "")
