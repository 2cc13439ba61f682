"""Review 9r #2 (money): folder B's create got a 503 before the server made it. B's hint said
to look in the dashboard for a request with the month's dates and adopt it; the only one was
folder A's, which B's own history snapshot listed BEFORE B sent its create
(`MonthState.history_before`), so it cannot be B's lost create. Adopting it (rc 0, no warning)
spent SAT's 2nd and last download of A's package. Now the hint names such requests as not that
create, and `journal adopt` of one warns before its yes (still allowed: the user may want it)."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.cli import main
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import CREATE, PACKAGE, calls, lost_create_beside, world_of

JAN = m.MonthState("2023-01", date(2023, 1, 1), date(2023, 1, 31), "received", "cfdi")
ENTRY = m.Seen("A1", "completed", "received", "cfdi", JAN.start, JAN.end, 3, ("A1_01",))


def _lost(before: tuple[str, ...]) -> m.MonthState:
    sent, _ = m.transition(JAN, m.Send(history_ids=before, generation=1))
    lost, _ = m.transition(sent, m.CreateUnknown("HTTP 503", exists=False))
    return lost


def test_the_hint_names_a_request_listed_before_the_create_as_not_it() -> None:
    state, commands = m.transition(_lost(("A1",)), m.HistorySeen((ENTRY,), generation=5))
    assert commands == ()
    assert (state.stage, state.unknown, state.request_id) == (m.Stage.NEEDS_ATTENTION, True, None)
    hint = state.hint or ""
    assert "Not A1: listed before this create was sent" in hint  # before: not named at all
    assert "spends SAT's downloads" in hint
    assert "if there is no other, `gigstack-async journal resend 2023-01`" in hint
    assert m.listed_before_create(state, "A1")
    assert not m.listed_before_create(state, "B7")
    # Another month's dates listed before: not named (not a request the dashboard search finds).
    feb = attrs.evolve(ENTRY, start=date(2023, 2, 1), end=date(2023, 2, 28))
    other, _ = m.transition(_lost(("A1",)), m.HistorySeen((feb,), generation=5))
    assert "Not A1" not in (other.hint or "")
    assert "if there is none, `gigstack-async journal resend 2023-01`" in (other.hint or "")


def test_a_request_first_listed_after_the_create_is_not_said_to_be_another() -> None:
    # Listed after the create only: it may be that create, adopted from the history as before.
    state, _ = m.transition(_lost(()), m.HistorySeen((ENTRY,), generation=5))
    assert (state.stage, state.request_id) == (m.Stage.COMPLETED, "A1")
    assert not m.listed_before_create(_lost(()), "A1")
    # Once the outcome is known (answered), nothing is "listed before an unknown create".
    answered, _ = m.transition(m.transition(JAN, m.Send(history_ids=("A1",)))[0], m.Created("B1"))
    assert not m.listed_before_create(answered, "A1")


async def test_adopting_another_folders_request_after_a_lost_create_warns_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with world_of(SandboxConfig(speed=3000, seed=5, preloaded_months=0)) as (sb, client):
        rid, b, stopped = await lost_create_beside(client, sb, tmp_path)
        assert stopped.stage == "needs-attention"
        assert f"Not {rid}: listed before this create was sent" in (stopped.hint or "")
        capsys.readouterr()
        argv = ["journal", "adopt", str(b), "2023-01", rid, "--yes"]
        assert await asyncio.to_thread(main, argv) == 0  # still allowed: the user may want it
        said = " ".join(capsys.readouterr().out.split())
    assert f"Warning: request {rid} was listed in the history before this journal sent" in said
    assert "so it cannot be that create" in said
    assert said.index("Warning:") < said.index("now follows request")
    assert f"journal resend {b} 2023-01" in said
    assert calls(sb, CREATE) == 2  # A's, and B's refused by the 503: nothing sent by adopt
    assert calls(sb, PACKAGE) == 1
