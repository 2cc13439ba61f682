"""Newcomer 9g #6: a server whose date is behind refuses a month ending today as a future one;
the hint said "activate Descarga Masiva". It now says the server's date is behind and gives the
command that ends the range on a day the server accepts, or to retry after its midnight."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from gigstack_async._dates import today_mx
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.hints import with_journal
from gigstack_async.sandbox import SandboxConfig
from gigstack_async.sandbox.profiles import ServerProfile
from tests.bulk._support import CREATE, results, run, world_of

NOV = m.MonthState("2026-11", date(2026, 11, 1), date(2026, 11, 30), "issued", "cfdi")
FUTURE = "end_date: 2026-11-30 is in the future (today is 2026-11-29 in Mexico City)"


def refused(state: m.MonthState, message: str) -> m.MonthState:
    sending = m.transition(state, m.Send(()))[0]
    return m.transition(sending, m.CreateRefused(message, 400))[0]


def test_a_future_end_refusal_says_the_servers_date_is_behind() -> None:
    state = refused(NOV, FUTURE)
    assert state.stage is m.Stage.REFUSED
    assert "activate" not in (state.hint or "")
    assert (state.hint or "").startswith(
        "the server's date is behind this computer's, so it counts 2026-11-30 as a future day "
        "(nothing was billed). End the range yesterday: `gigstack-async sat download --from "
        "2026-11-01 --to 2026-11-29 --rfc-type issued --out <out>`"
    )
    assert "after the server's midnight (Mexico City)" in (state.hint or "")
    # written for the folder the run used, as the part folders are
    shown = with_journal(state.hint, "2026-11", "./ck", out="./ck")
    assert "--to 2026-11-29 --rfc-type issued --out ./ck`" in (shown or "")


def test_the_servers_stated_today_bounds_the_command_and_metadata_says_its_type() -> None:
    message = "end_date: 2026-11-30 is in the future (today is 2026-11-27 in Mexico City)"
    state = refused(m.MonthState("2026-11", *NOV_DATES, "received", "metadata"), message)
    assert "--to 2026-11-27 --rfc-type received --type metadata --out <out>" in (state.hint or "")


NOV_DATES = (date(2026, 11, 1), date(2026, 11, 30))


def test_a_month_that_starts_on_the_servers_future_day_only_waits() -> None:
    one_day = m.MonthState("2026-11", date(2026, 11, 30), date(2026, 11, 30), "issued", "cfdi")
    state = refused(one_day, FUTURE)
    assert state.hint == (
        "the server's date is behind this computer's (nothing was billed): run the same command "
        "again after the server's midnight (Mexico City): 2026-11-30 is then a past day for it "
        "too"
    )


def test_other_refusals_keep_their_hint() -> None:
    state = refused(NOV, "Descarga Masiva is not active for this team (status needs_activation)")
    assert "downloads activate" in (state.hint or "")


async def test_a_server_two_days_behind_gets_the_clock_hint(tmp_path: Path) -> None:
    behind = ServerProfile(clock_offset_seconds=-2 * 86400)
    key = today_mx().strftime("%Y-%m")
    async with world_of(SandboxConfig(speed=3000, seed=5, profile=behind)) as (sandbox, client):
        out = tmp_path / "ck"
        month = results(await run(client, out, key, key, rfc_type="issued"))[key]
        assert month.stage == "refused"
        assert "server's date is behind" in (month.hint or "")
        assert "activate" not in (month.hint or "")
        assert "after the server's midnight" in (month.hint or "")
        assert not sandbox.state.download_requests  # nothing billed
        assert all(c.status >= 400 for c in sandbox.state.calls_to(CREATE))
