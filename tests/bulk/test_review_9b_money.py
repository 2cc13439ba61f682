"""Regression tests for the second hostile review of issue 9 (findings 1, 2, 4, 5 and 11).

Each failed on the code it reviewed (main 44359aa). End to end against the sandbox over
127.0.0.1 like tests/bulk/test_review_fixes.py, and at the level of the month state machine
where the rule can be shown without a server.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date
from pathlib import Path
from typing import Any

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import MonthResult
from gigstack_async.bulk.store import JournalStore
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule, profile
from tests.bulk._support import (
    CREATE,
    PACKAGE,
    free_port,
    results,
    run,
    xml_names,
)

MONTHS = ("2024-01", "2024-02", "2024-03", "2024-04")
JAN = m.MonthState("2024-01", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi")


def billed(sandbox: Sandbox, *months: str) -> dict[str, int]:
    return {month: sandbox.state.billed_creates(month) for month in months}


def journal_of(out: Path) -> JournalStore:
    return JournalStore.open_existing(out / ".gigstack-journal.sqlite3")


def says(text: str | None, command: str) -> bool:
    """`command` is in `text`, allowing the journal folder between `journal <verb>` and the
    month (hints may name the folder)."""
    pattern = re.escape(command)
    for verb in ("adopt", "resend", "show"):
        pattern = pattern.replace(f"journal\\ {verb}\\ ", f"journal\\ {verb}\\ (?:\\S+\\ )?")
    return re.search(pattern, text or "") is not None


def seen(request_id: str, **kw: object) -> m.Seen:
    fields: dict[str, object] = {
        "status": "pending",
        "rfc_type": "received",
        "request_type": "cfdi",
        "start": date(2024, 1, 1),
        "end": date(2024, 1, 31),
    }
    fields.update(kw)
    return m.Seen(request_id, **fields)  # type: ignore[arg-type]


FEB = {"start": date(2024, 2, 1), "end": date(2024, 2, 29)}
DEC = {"start": date(2023, 12, 1), "end": date(2023, 12, 31)}


def lost_create(state: m.MonthState, before: tuple[str, ...]) -> m.MonthState:
    state, commands = m.transition(state, m.Send(before, generation=1))
    assert commands == (m.SendCreate(state.key),)
    state, _ = m.transition(state, m.CreateUnknown("502 Bad Gateway", generation=1))
    return state


# 1: a short history never proves absence -----------------------------------------------------


@pytest.mark.parametrize(("history_limit", "concurrency"), [(2, 1), (3, 1), (3, 4), (5, 1)])
async def test_a_short_history_never_bills_a_lost_create_twice(
    tmp_path: Path, history_limit: int, concurrency: int
) -> None:
    config = SandboxConfig(speed=3000, seed=11, history_limit=history_limit)
    out = tmp_path / "cfdi"
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        sandbox.state.force_fault(CREATE, "after_502", times=1)
        done = results(await run(client, out, "2024-01", "2024-04", concurrency=concurrency))
        assert billed(sandbox, *MONTHS) == dict.fromkeys(MONTHS, 1)
        if all(r.ok for r in done.values()):
            # A history taken before later creates pushed it out listed the lost create:
            # found and adopted (always so when the history holds the whole run).
            return
        assert history_limit < len(MONTHS)
        lost = next(k for k, r in done.items() if not r.ok)
        assert [k for k, r in done.items() if not r.ok] == [lost]
        attention = done[lost]
        assert attention.stage == "needs-attention"
        # The way out names the month, what to look for, and both commands.
        assert says(attention.hint, f"journal adopt {lost} <request id>")
        assert says(attention.hint, f"journal resend {lost}")
        assert "received cfdi" in (attention.hint or "")
        assert "cannot tell" in (attention.error or "")
        # Running the same command again sends nothing new: nothing proves the create absent.
        again = results(await run(client, out, "2024-01", "2024-04", concurrency=concurrency))
        assert again[lost].stage == "needs-attention"
        assert billed(sandbox, *MONTHS) == dict.fromkeys(MONTHS, 1)
        # The user follows the hint: the dashboard shows the request, adopted, downloaded.
        request = next(
            r
            for r in sandbox.state.download_requests
            if str(r.criteria.start_date).startswith(lost)
        )
        with journal_of(out) as store:
            state, _ = m.transition(store.get(lost), m.Adopt(request.request_id))
            store.put(state)
        final = results(await run(client, out, "2024-01", "2024-04"))
        others = {k: r for k, r in final.items() if k != lost}
        assert all(r.ok for r in others.values()), {k: r.error for k, r in others.items()}
        # Review 9n #4: adopted, its createdAt shown by no history (a short one no longer lists
        # it): the month's last day may have been open, so the month is done, not ok.
        adopted = final[lost]
        assert adopted.stage == "done"
        assert adopted.ok or "may have been made on" in " ".join((adopted.error or "").split())
        assert billed(sandbox, *MONTHS) == dict.fromkeys(MONTHS, 1)
        assert xml_names(out / lost) == sandbox.state.ground_truth[request.request_id]


def unproven(state: m.MonthState) -> bool:
    """`state` needs the user for its lost create, sends nothing, and says the history cannot
    tell (it never proves a create absent)."""
    return (
        state.stage is m.Stage.NEEDS_ATTENTION
        and state.unknown
        and not state.resend_allowed
        and "the history cannot tell whether it arrived" in (state.reason or "")
        and m.transition(state, m.Send(("h",), generation=3))[1] == ()
    )


def test_no_listing_proves_a_lost_create_absent() -> None:
    # Later creates of the run are listed, nothing older: a short history may have pushed the
    # lost create out (review 9b #1). Needs attention, never a resend.
    state = lost_create(JAN, before=())
    history: tuple[m.Seen, ...] = (seen("feb", **FEB),)
    after, commands = m.transition(state, m.HistorySeen(history, 2))
    assert unproven(after)
    assert commands == ()
    # An older request of another kind does not span the slot either (a filtered history).
    state = lost_create(JAN, before=("meta",))
    history = (seen("feb", **FEB), seen("meta", request_type="metadata", **DEC))
    after, _ = m.transition(state, m.HistorySeen(history, 2))
    assert unproven(after)
    # One of this kind that existed before the attempt and one created after it: this once
    # "proved" it absent and sent it again (billed twice when the history was kept by period
    # or listed it late: reviews 9l #1, 9p #1, 9q #1). It proves nothing.
    state = lost_create(JAN, before=("dec",))
    history = (seen("feb", **FEB), seen("dec", **DEC))
    after, commands = m.transition(state, m.HistorySeen(history, 2, expected=("feb",)))
    assert unproven(after)
    assert commands == ()
    # `journal resend` sends it once more; a history listing it adopts it instead.
    allowed, _ = m.transition(after, m.AllowResend())
    _, commands = m.transition(allowed, m.Send(("feb", "dec"), generation=3))
    assert commands == (m.SendCreate(JAN.key),)
    adopted, _ = m.transition(after, m.HistorySeen((seen("jan"), *history), 3))
    assert (adopted.stage, adopted.request_id) == (m.Stage.SUBMITTED, "jan")


def test_without_request_type_no_request_spans_the_slot() -> None:
    # Documented fields only: an older entry without requestType may be a metadata request;
    # one this journal created (formerly an anchor of the proof) proves nothing either.
    state = lost_create(JAN, before=("dec",))
    history = (seen("feb", request_type=None, **FEB), seen("dec", request_type=None, **DEC))
    after, _ = m.transition(state, m.HistorySeen(history, 2))
    assert unproven(after)
    after, _ = m.transition(state, m.HistorySeen(history, 2, expected=("dec", "feb")))
    assert unproven(after)


# 2: a reused id is another request, and no proof ---------------------------------------------


async def test_after_ids_restart_a_known_id_given_to_the_resent_create_is_not_billed_again(
    tmp_path: Path,
) -> None:
    port, out = free_port(), tmp_path / "cfdi"
    first_profile = attrs.evolve(
        profile("ids-restart"), sat_codes=(SatCodeRule(5011, month="2024-01", times=1),)
    )
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11, profile=first_profile), port=port) as s1,
        GigstackClient(s1.api_key, base_url=s1.base_url) as client,
    ):
        # Another request of this kind first, so the month's request is DM-000002.
        await client.downloads.create_request(
            start_date="2023-12-01", end_date="2023-12-31", rfc_type="received"
        )
        failed = results(await run(client, out))["2024-01"]
        assert (failed.stage, failed.request_id) == ("sat-failed", "DM-000002")
    with journal_of(out) as store:  # `gigstack-async journal resend 2024-01 --yes`
        state, _ = m.transition(store.get("2024-01"), m.AllowResend())
        store.put(state)
    second = SandboxConfig(speed=3000, seed=12, profile=profile("ids-restart"))
    async with (
        Sandbox(second, port=port) as s2,
        GigstackClient(s2.api_key, base_url=s2.base_url) as client,
    ):
        await client.downloads.create_request(
            start_date="2023-12-01", end_date="2023-12-31", rfc_type="received"
        )  # DM-000001 again: a request of this kind older than the month's attempt
        s2.state.force_fault(CREATE, "after_502", times=1)
        done = results(await run(client, out, "2024-01", "2024-02", concurrency=1))
        # The resent create was given DM-000002, an id the month knew from before the restart.
        assert [r.request_id for r in s2.state.download_requests] == [
            "DM-000001",
            "DM-000002",
            "DM-000003",
        ]
        assert billed(s2, "2024-01", "2024-02") == {"2024-01": 1, "2024-02": 1}
        jan = done["2024-01"]
        assert jan.stage == "needs-attention"
        assert "DM-000002" in (jan.error or "")
        assert says(jan.hint, "journal adopt 2024-01")


def test_a_known_id_listed_as_another_request_is_a_candidate_and_proves_nothing() -> None:
    old = attrs.evolve(
        JAN,
        stage=m.Stage.SAT_FAILED,
        request_id="DM-2",
        known_ids=("DM-2",),
        records=(
            m.KnownRequest(
                "DM-2", JAN.start, JAN.end, "received", "cfdi", "1700001000000", "failed"
            ),
        ),
    )
    state, _ = m.transition(old, m.AllowResend())
    state = lost_create(state, before=("DM-1",))
    history = (
        seen("DM-3", created_at="1700003000000", **FEB),
        seen("DM-2", created_at="1700002000000"),  # the lost create, under the old request's id
        seen("DM-1", created_at="1700001500000", **DEC),
    )
    after, _ = m.transition(state, m.HistorySeen(history, 2))
    assert after.stage is m.Stage.NEEDS_ATTENTION
    assert "DM-2" in (after.reason or "")
    assert after.request_id is None  # a reused id is never adopted without the user
    # The same id listed exactly as recorded is the old request: excluded, no candidate; the
    # create is simply not listed, which proves nothing (formerly: proven absent, sent again).
    same = (
        seen("DM-3", **FEB),
        seen("DM-1", created_at="1700001500000", **DEC),
        seen("DM-2", created_at="1700001000000", status="failed"),
    )
    after, _ = m.transition(state, m.HistorySeen(same, 2))
    assert unproven(after)
    assert "candidates" not in (after.reason or "")


def test_another_months_reused_id_makes_the_history_prove_nothing() -> None:
    state = lost_create(JAN, before=("DM-1",))
    feb = m.KnownRequest("DM-9", FEB["start"], FEB["end"], "received", "cfdi", "1700000500000")
    history = (
        seen("DM-3", **FEB),
        seen("DM-9", created_at="1700002500000", **DEC),  # February's old id, now another request
        seen("DM-1", created_at="1700001500000", **DEC),
    )
    listing = m.HistorySeen(history, 2)
    without = m.transition(state, listing)[0]  # without the records: not listed, no proof
    assert unproven(without)
    assert "restarted" not in (without.reason or "")
    after, _ = m.transition(state, attrs.evolve(listing, records=(feb,)))
    assert unproven(after)
    assert "restarted" in (after.reason or "")


def test_a_watched_request_listed_with_another_created_at_is_not_followed() -> None:
    watching = attrs.evolve(
        JAN,
        stage=m.Stage.SUBMITTED,
        request_id="DM-1",
        known_ids=("DM-1",),
        checked=True,
        records=(m.KnownRequest("DM-1", JAN.start, JAN.end, "received", "cfdi", "1000"),),
    )
    reused = seen("DM-1", status="completed", created_at="9000", package_ids=("P",))
    after, commands = m.transition(watching, m.HistorySeen((reused,), 2))
    assert after.stage is m.Stage.NEEDS_ATTENTION
    assert "restarted" in (after.reason or "")
    assert not any(isinstance(c, m.FetchPackage) for c in commands)


# 4: a CFDI month never extracts another kind of request -------------------------------------


async def _completed_month_then_ids_restart(
    tmp_path: Path, *, forget_records: bool
) -> tuple[MonthResult, Sandbox, str, Path]:
    """Run 1 leaves 2024-01 completed with its package still to fetch; run 2 meets a server
    whose DM-000001 is a received *metadata* request for the same dates (documented fields:
    the history omits requestType)."""
    port, out = free_port(), tmp_path / "cfdi"
    prof = profile("ids-restart", "documented-fields")
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11, profile=prof), port=port) as s1,
        GigstackClient(s1.api_key, base_url=s1.base_url) as client,
    ):
        s1.state.force_fault(PACKAGE, "after_truncate", times=1)
        first = results(await run(client, out))["2024-01"]
        assert (first.stage, first.request_id) == ("needs-attention", "DM-000001")
    if forget_records:
        # A journal written before requests were recorded (or a server that changed nothing
        # the history shows): only the package can tell.
        with journal_of(out) as store:
            store.put(attrs.evolve(store.get("2024-01"), records=()))
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=12, profile=prof), port=port) as s2,
        GigstackClient(s2.api_key, base_url=s2.base_url) as client,
    ):
        other = await client.downloads.create_request(
            start_date="2024-01-01",
            end_date="2024-01-31",
            rfc_type="received",
            request_type="metadata",
        )
        assert other.request_id == "DM-000001"
        s2.clock.advance(3600)
        again = results(await run(client, out, timeout=20))["2024-01"]
        return again, s2, other.request_id, out


async def test_a_cfdi_month_never_takes_a_metadata_request_under_its_old_id(
    tmp_path: Path,
) -> None:
    again, sandbox, _other, out = await _completed_month_then_ids_restart(
        tmp_path, forget_records=False
    )
    assert not again.ok
    assert again.stage == "needs-attention"
    assert "restarted" in (again.error or "")  # the history showed it: nothing downloaded
    assert not sandbox.state.calls_to(PACKAGE)
    assert not xml_names(out / "2024-01")


async def test_a_metadata_package_is_never_extracted_into_a_cfdi_month(tmp_path: Path) -> None:
    again, _sandbox, other, out = await _completed_month_then_ids_restart(
        tmp_path, forget_records=True
    )
    assert not again.ok
    assert again.stage == "needs-attention"
    assert "does not hold this month's CFDIs" in (again.error or "")
    assert "SAT metadata TXT" in (again.error or "")
    assert other in (again.error or "")
    assert says(again.hint, "journal adopt 2024-01")
    assert says(again.hint, "journal resend 2024-01")
    assert again.files == ()
    folder = out / "2024-01"
    assert not folder.exists() or not any(folder.iterdir())  # nothing extracted
    staging = out / ".gigstack-staging"
    assert not staging.exists() or not any(staging.iterdir())  # another request's: dropped


# 5: an adopted id is checked too ------------------------------------------------------------


async def test_an_adopted_id_out_of_the_history_is_checked_by_its_cfdis(tmp_path: Path) -> None:
    port, out = free_port(), tmp_path / "cfdi"
    prof = profile("ids-restart", "documented-fields")
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11, profile=prof), port=port) as s1,
        GigstackClient(s1.api_key, base_url=s1.base_url) as client,
    ):
        s1.state.force_fault(CREATE, "after_502", times=1)
        first = results(await run(client, out, timeout=5))["2024-01"]
        assert first.stage == "needs-attention"
    with journal_of(out) as store:  # the user adopts DM-000001, as the hint says
        state, _ = m.transition(store.get("2024-01"), m.Adopt("DM-000001"))
        store.put(state)
    second = SandboxConfig(speed=3000, seed=12, profile=profile("ids-restart"))
    async with (
        Sandbox(second, port=port) as s2,
        GigstackClient(s2.api_key, base_url=s2.base_url) as client,
    ):
        other = await client.downloads.create_request(
            start_date="2023-05-01", end_date="2023-05-31", rfc_type="issued", request_type="cfdi"
        )
        for n in range(20):  # 20 newer requests push DM-000001 out of the history
            month = f"{2022 - n // 12}-{n % 12 + 1:02d}"
            await client.downloads.create_request(
                start_date=f"{month}-01",
                end_date=f"{month}-28",
                rfc_type="issued",
                request_type="metadata",
            )
        s2.clock.advance(3600)
        again = results(await run(client, out, timeout=20))["2024-01"]
        assert not again.ok
        assert again.stage == "needs-attention"
        # Its status answer names the issued May 2023 request (newcomer 9g #2): nothing is
        # downloaded at all (before: its package was, and then its CFDIs refused it).
        assert "issued cfdi 2023-05-01..2023-05-31, not this month" in (again.error or "")
        assert other.request_id in (again.error or "")
        assert not s2.state.calls_to(PACKAGE)
        assert not xml_names(out / "2024-01")
        # The month does not trust that id again: the next run downloads nothing more.
        calls = len(s2.state.calls_to(PACKAGE))
        later = results(await run(client, out, timeout=5))["2024-01"]
        assert later.stage == "needs-attention"
        assert len(s2.state.calls_to(PACKAGE)) == calls


def test_a_rejected_package_leaves_the_month_needing_attention_and_drops_the_staged_copy() -> None:
    staged = m.StagedFile("P1", "/stage/2024-01-P1.zip", "a" * 64, 10)
    state = attrs.evolve(
        JAN,
        stage=m.Stage.STAGED,
        request_id="DM-1",
        confirmed_id="DM-1",
        checked=True,
        package_ids=("P1",),
        staged=(staged,),
    )
    after, commands = m.transition(state, m.ContentRejected("P1", "no CFDI XML, only P1.txt"))
    assert after.stage is m.Stage.NEEDS_ATTENTION
    assert after.resume_to is None
    assert (after.confirmed_id, after.checked, after.staged, after.extracted) == (
        None,
        False,
        (),
        (),
    )
    assert m.DeleteStaged(staged.path) in commands
    assert not any(isinstance(c, m.ExtractPackage) for c in commands)
    restarted, commands = m.transition(after, m.Start())
    assert restarted.stage is m.Stage.NEEDS_ATTENTION
    assert commands == ()


# 11: a 429 to a create stays "maybe processed"; the way out is exact --------------------------


async def test_rate_limited_creates_the_history_cannot_settle_say_exactly_what_to_do(
    tmp_path: Path,
) -> None:
    out = tmp_path / "cfdi"
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        sandbox.state.force_fault(CREATE, "429", times=3)
        first = results(await run(client, out, "2024-01", "2024-03", timeout=10))
        # Nothing reached the server, but nothing can prove it: no month is sent twice.
        assert sandbox.state.download_requests == []
        assert {r.stage for r in first.values()} == {"needs-attention"}
        jan = first["2024-01"]
        assert "429 rate limited, but gigstack may still have processed it" in (jan.error or "")
        assert "cannot tell whether it arrived" in (jan.error or "")
        hint = jan.hint or ""
        assert "look for a received cfdi request for 2024-01-01..2024-01-31" in hint
        assert says(
            hint,
            "`gigstack-async journal adopt 2024-01 <request id> --created-at <time the dashboard "
            "shows it was made>`",
        )
        assert says(hint, "if there is none, `gigstack-async journal resend 2024-01`")
        assert "which may be billed twice if the first request exists after all" in hint
        # Running again changes nothing and sends nothing.
        again = results(await run(client, out, "2024-01", "2024-03", timeout=10))
        assert {r.stage for r in again.values()} == {"needs-attention"}
        assert len(sandbox.state.calls_to(CREATE)) == 3
        # The user follows it: the dashboard is empty, so resend; each month billed once.
        with journal_of(out) as store:
            for key in ("2024-01", "2024-02", "2024-03"):
                state, _ = m.transition(store.get(key), m.AllowResend())
                store.put(state)
        final = results(await run(client, out, "2024-01", "2024-03", timeout=10))
        assert all(r.ok for r in final.values()), {k: r.error for k, r in final.items()}
        assert billed(sandbox, "2024-01", "2024-02", "2024-03") == {
            "2024-01": 1,
            "2024-02": 1,
            "2024-03": 1,
        }


async def _rate_limited_then_resent(
    client: GigstackClient, sandbox: Sandbox, out: Path
) -> dict[str, MonthResult]:
    """A request of the months' kind listed before their creates, January's and February's
    creates answered 429 (concurrency 1): the run that once proved them absent (a request
    older and one newer listed) and sent them again by itself. Now they need the user, are
    never sent by a re-run, and `journal resend` sends each once: the final run's results."""
    await client.downloads.create_request(
        start_date="2023-12-01", end_date="2023-12-31", rfc_type="received"
    )
    sandbox.state.force_fault(CREATE, "429", times=2)
    months = ("2024-01", "2024-02", "2024-03")
    for _ in range(2):  # the run, then the same command again: nothing more is sent
        done = results(await run(client, out, "2024-01", "2024-03", concurrency=1, timeout=30))
        assert {k: r.stage for k, r in done.items()} == {
            "2024-01": "needs-attention",
            "2024-02": "needs-attention",
            "2024-03": "done",
        }
        for key in ("2024-01", "2024-02"):
            assert "cannot tell whether it arrived" in (done[key].error or "")
            assert says(done[key].hint, f"journal resend {key}")
        assert billed(sandbox, *months) == {"2024-01": 0, "2024-02": 0, "2024-03": 1}
        assert len(sandbox.state.calls_to(CREATE)) == 1 + 2 + 1
    with journal_of(out) as store:  # `gigstack-async journal resend 2024-01 / 2024-02 --yes`
        for key in ("2024-01", "2024-02"):
            state, _ = m.transition(store.get(key), m.AllowResend())
            store.put(state)
    final = results(await run(client, out, "2024-01", "2024-03", concurrency=1, timeout=30))
    assert billed(sandbox, *months) == dict.fromkeys(months, 1)
    assert len(sandbox.state.calls_to(CREATE)) == 1 + 2 + 1 + 2  # each resent exactly once
    return final


async def test_rate_limited_creates_the_history_does_not_list_are_sent_only_when_resent(
    tmp_path: Path,
) -> None:
    out = tmp_path / "cfdi"
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        final = await _rate_limited_then_resent(client, sandbox, out)
        assert all(r.ok for r in final.values()), {k: r.error for k, r in final.items()}


@pytest.mark.parametrize("create_seconds", [0.3, 1.0])
async def test_rate_limited_creates_on_a_slow_network_are_sent_only_when_resent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, create_seconds: float
) -> None:
    """The same runs with every create taking `create_seconds` (a slow network): history reads
    (every 20-100 ms) land between the 429 and the next create. The month needs the user, and
    the run still ends by itself (it once waited for the next create to prove it absent, then
    sent it again); each month billed once."""
    out = tmp_path / "cfdi"
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        create = client.downloads.create_request

        async def slow_create(**kw: Any) -> Any:
            await asyncio.sleep(create_seconds)
            return await create(**kw)

        monkeypatch.setattr(client.downloads, "create_request", slow_create)
        final = await _rate_limited_then_resent(client, sandbox, out)
        assert {k: (r.stage, r.error) for k, r in final.items()} == {
            "2024-01": ("done", None),
            "2024-02": ("done", None),
            "2024-03": ("done", None),
        }


def test_a_month_is_never_empty_on_a_request_this_run_could_not_type() -> None:
    # Resumed (Start resets `typed`): the history lists the journaled id for the month's dates
    # without requestType and with another createdAt than none recorded: it may be a metadata
    # request under a restarted id. A count of 0 is then unknown, not an empty month.
    resumed = attrs.evolve(
        JAN,
        stage=m.Stage.SUBMITTED,
        request_id="DM-1",
        known_ids=("DM-1",),
        records=(m.KnownRequest("DM-1", JAN.start, JAN.end, "received", "cfdi"),),
        typed=True,
    )
    state, _ = m.transition(resumed, m.Start())
    listed = seen("DM-1", status="completed", request_type=None, created_at="77",
                  invoice_count=0, package_ids=())  # fmt: skip
    state, _ = m.transition(state, m.HistorySeen((listed,), 2))
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert "never reported empty on a guess" in (state.reason or "")
    assert "journal adopt 2024-01 DM-1" in (state.hint or "")
    # The user confirms it in the dashboard: the next run takes their word.
    state, _ = m.transition(state, m.Adopt("DM-1"))
    state, _ = m.transition(state, m.Start())
    state, _ = m.transition(state, m.HistorySeen((listed,), 2))
    assert state.stage is m.Stage.EMPTY
    # With requestType listed as ours, no confirmation is needed.
    state, _ = m.transition(resumed, m.Start())
    state, _ = m.transition(state, m.HistorySeen((attrs.evolve(listed, request_type="cfdi"),), 2))
    assert state.stage is m.Stage.EMPTY
