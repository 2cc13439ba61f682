"""Newcomer 9g #2 and #3: a journaled request the 20-entry history no longer lists is checked
through its status answer, when that answer carries the month's criteria.

Three outcomes, each playable by the sandbox: the answer carries all four criteria, equal to the
month's (checked, downloaded); one differs (the server's ids restarted: another request under
the same id, nothing downloaded); one is missing (`documented-fields`: unknown is no match, the
month needs the user as before). Missing never counts as a match.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.machine import Stage
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import profile
from tests.bulk._support import (
    CREATE,
    PACKAGE,
    STATUS,
    free_port,
    results,
    run,
    world_of,
    xml_names,
)

JAN = (date(2024, 1, 1), date(2024, 1, 31))


def month(**changes: object) -> m.MonthState:
    state = m.MonthState(
        "2024-01", *JAN, "received", "cfdi", stage=Stage.SUBMITTED, request_id="r1",
        known_ids=("r1",),
    )  # fmt: skip
    return attrs.evolve(state, **changes)  # type: ignore[arg-type]


def status(**fields: object) -> m.Seen:
    """A status answer for r1 with the month's four criteria (`fields` change any)."""
    seen = m.Seen(
        "r1", status="completed", rfc_type="received", request_type="cfdi", start=JAN[0],
        end=JAN[1], invoice_count=3, package_ids=("p1",),
    )  # fmt: skip
    return attrs.evolve(seen, **fields)  # type: ignore[arg-type]


OUT_OF_WINDOW = m.HistorySeen(
    (m.Seen("r9", status="pending", rfc_type="received", request_type="cfdi"),)
)


# ------------------------------------------------------------------ the machine


def test_an_unlisted_unchecked_request_asks_its_status_once_per_run() -> None:
    state, commands = m.transition(m.transition(month(), m.Start())[0], OUT_OF_WINDOW)
    assert (state.stage, state.checked, commands) == (
        Stage.SUBMITTED,
        False,
        (m.FetchStatus("r1"),),
    )
    again, commands = m.transition(state, OUT_OF_WINDOW)
    assert (again.misses, commands) == (2, ())  # asked once, not at every history


def test_a_status_answer_with_the_months_criteria_checks_it_as_a_history_entry_would() -> None:
    state = m.transition(m.transition(month(), m.Start())[0], OUT_OF_WINDOW)[0]
    new, commands = m.transition(state, m.StatusSeen(status()))
    assert (new.stage, new.checked, new.typed) == (Stage.COMPLETED, True, True)
    assert commands == (m.FetchPackage("p1", 1),)
    assert new.server_vouched == "r1"  # the server's own word on the request's criteria
    assert any(r.id == "r1" and r.start == JAN[0] and r.end == JAN[1] for r in new.records)


@pytest.mark.parametrize(
    "differs",
    [
        {"rfc_type": "issued"},
        {"request_type": "metadata"},
        {"start": date(2023, 5, 1), "end": date(2023, 5, 31)},
        {"end": date(2024, 1, 30), "request_type": None},  # one differs, another missing
    ],
)
def test_a_status_answer_with_other_criteria_is_another_request(differs: dict[str, object]) -> None:
    state = m.transition(m.transition(month(), m.Start())[0], OUT_OF_WINDOW)[0]
    new, commands = m.transition(state, m.StatusSeen(status(**differs)))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert not any(isinstance(c, m.FetchPackage) for c in commands)
    assert "journal resend 2024-01" in (new.hint or "")
    assert new.server_vouched is None


@pytest.mark.parametrize("missing", ["rfc_type", "request_type", "start", "end"])
def test_a_status_answer_missing_a_criterion_checks_nothing(missing: str) -> None:
    state = m.transition(m.transition(month(), m.Start())[0], OUT_OF_WINDOW)[0]
    new, commands = m.transition(state, m.StatusSeen(status(**{missing: None})))
    assert (new, commands) == (state, ())
    for _ in range(m.CHECK_MISSES - 1):  # then the history decides, as before
        new, commands = m.transition(new, OUT_OF_WINDOW)
    assert (new.stage, new.checked) == (Stage.NEEDS_ATTENTION, False)
    assert "cannot be checked" in (new.reason or "")
    assert not any(isinstance(c, m.FetchPackage) for c in commands)


def test_a_checked_months_status_with_other_criteria_downloads_nothing() -> None:
    state = month(stage=Stage.PROCESSING, checked=True)
    new, commands = m.transition(state, m.StatusSeen(status(rfc_type="issued")))
    assert new.stage is Stage.NEEDS_ATTENTION
    assert commands == (m.Warn(f"2024-01: {new.reason}"),)  # visible, nothing fetched


def test_an_adopted_request_out_of_the_history_gets_its_dates_from_its_status() -> None:
    """Newcomer 9g #3: a deleted journal, the month's files all there, the adopted request out
    of the history: its dates were never checkable, so `journal keep` was refused forever."""
    held = month(
        stage=Stage.COMPLETED, checked=True, confirmed_id="r1", dates_unproven=True,
        package_ids=("p1",), invoice_count=3, uncounted=("r1",),
    )  # fmt: skip
    state, commands = m.transition(held, m.Start(on_disk=3, cfdis=3))
    assert commands == (m.FetchStatus("r1"),)
    assert m.dates_unchecked(state)
    new, commands = m.transition(state, m.StatusSeen(status()))
    assert not m.dates_unchecked(new)
    assert (new.stage, commands) == (Stage.NEEDS_ATTENTION, ())
    assert "journal keep 2024-01" in (new.hint or "")  # ... which now keeps them
    kept, _ = m.transition(new, m.KeepFiles(("a.xml", "b.xml", "c.xml")))
    assert kept.stage is Stage.DONE
    # Without the dates in the answer: the dates stay unchecked, as before (asked once).
    blind, commands = m.transition(state, m.StatusSeen(status(start=None, end=None)))
    assert m.dates_unchecked(blind)
    assert blind.stage is Stage.NEEDS_ATTENTION
    assert commands == ()
    with pytest.raises(m.TransitionError, match="cannot be checked"):
        m.transition(blind, m.KeepFiles(("a.xml",)))
    # Other days under that id: MISSING DAYS, never kept as the whole month.
    part, _ = m.transition(state, m.StatusSeen(status(end=date(2024, 1, 15))))
    assert part.stage is Stage.NEEDS_ATTENTION
    assert "MISSING DAYS" in (part.reason or "")


# ------------------------------------------------------------------ against the sandbox


def creates(sandbox: Sandbox) -> Counter[str]:
    return Counter(
        f"{r.criteria.rfc_type}:{r.criteria.start_date:%Y-%m}"
        for r in sandbox.state.download_requests
    )


async def push_out(client: GigstackClient, count: int) -> None:
    """`count` other requests (issued metadata) push the journal's out of the 20-entry window."""
    for n in range(count):
        key = f"{2022 - n // 12}-{n % 12 + 1:02d}"
        await client.downloads.create_request(
            start_date=f"{key}-01", end_date=f"{key}-28", rfc_type="issued",
            request_type="metadata",
        )  # fmt: skip


@pytest.mark.parametrize(
    ("names", "ok"),
    [
        (("agree",), True),  # the status carries the criteria: checked
        (("documented-fields",), False),  # it carries none: unknown, the user decides
    ],
)
async def test_a_resumed_month_out_of_the_history_is_checked_by_its_status(
    tmp_path: Path, names: tuple[str, ...], ok: bool
) -> None:
    out = tmp_path / "cfdi"
    config = SandboxConfig(speed=0, seed=21, profile=profile(*names))
    async with world_of(config) as (sandbox, client):
        first = results(await run(client, out, timeout=0.5))["2024-01"]
        assert first.stage == "submitted"
        await push_out(client, 20)
        sandbox.clock.advance(3600)
        again = results(await run(client, out, timeout=10))["2024-01"]
        assert again.ok is ok, again.error
        assert creates(sandbox)["received:2024-01"] == 1  # never billed twice
        assert len(sandbox.state.calls_to(STATUS)) >= 1
        if ok:
            assert xml_names(out / "2024-01")
        else:
            assert again.stage == "needs-attention"
            assert "cannot be checked" in (again.error or "")
            assert not sandbox.state.calls_to(PACKAGE)


async def test_after_ids_restart_the_status_shows_another_request(tmp_path: Path) -> None:
    port, out = free_port(), tmp_path / "cfdi"
    first = SandboxConfig(speed=0, seed=11, profile=profile("ids-restart"))
    async with (
        Sandbox(first, port=port) as s1,
        GigstackClient(s1.api_key, base_url=s1.base_url) as client,
    ):
        assert results(await run(client, out, timeout=0.5))["2024-01"].stage == "submitted"
    second = SandboxConfig(speed=3000, seed=12, profile=profile("ids-restart"))
    async with (
        Sandbox(second, port=port) as s2,
        GigstackClient(s2.api_key, base_url=s2.base_url) as client,
    ):
        # DM-000001 now names an issued May 2023 request, out of the window behind 20 others.
        await client.downloads.create_request(
            start_date="2023-05-01", end_date="2023-05-31", rfc_type="issued", request_type="cfdi"
        )
        await push_out(client, 20)
        s2.clock.advance(3600)
        again = results(await run(client, out, timeout=10))["2024-01"]
        assert again.stage == "needs-attention"
        assert "2023-05-01..2023-05-31, not this month" in (again.error or "")
        assert len(s2.state.calls_to(STATUS)) == 1
        assert not s2.state.calls_to(PACKAGE)
        assert not xml_names(out / "2024-01")
        assert creates(s2)["received:2024-01"] == 0  # nothing sent for the month


async def test_24_months_stopped_by_the_timeout_then_pushed_out_all_finish_billed_once(
    tmp_path: Path,
) -> None:
    """Newcomer 9g #2 end to end: the first run stops (--timeout) before the end; other
    requests push its requests out of the 20-entry history; the same command again finishes
    every month, nothing billed twice (before: each month out of the window needed a manual
    `journal adopt`)."""
    out = tmp_path / "cfdi"
    async with world_of(SandboxConfig(speed=40, seed=7)) as (sandbox, client):
        events = await run(client, out, "2022-01", "2023-12", timeout=1.0)
        first = results(events)
        assert len(first) == 24
        assert not all(r.ok for r in first.values())  # stopped before the end
        sent = {k for k, r in first.items() if r.request_id}
        assert len(sent) > 4  # ... after sending requests that 20 newer ones push out
        await push_out(client, 20)
        sandbox.clock.advance(3600)
        again = results(await run(client, out, "2022-01", "2023-12", timeout=60))
        assert {k: r.stage for k, r in again.items() if not r.ok} == {}
        assert set(creates(sandbox)) >= {f"received:{k}" for k in again}
        assert max(v for k, v in creates(sandbox).items() if k.startswith("received")) == 1
        assert len(sandbox.state.calls_to(CREATE)) == 24 + 20
        assert all(xml_names(out / key) for key in again)
        # each month sent but not finished by the first run was out of the window: its status
        # checked it (before: each one needed a `journal adopt`)
        waiting = {k for k in sent if not first[k].ok}
        assert len(sandbox.state.calls_to(STATUS)) >= len(waiting) > 4


async def test_a_deleted_journal_adopted_out_of_the_history_keeps_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Newcomer 9g #3 end to end: the month done, the journal deleted, its request out of the
    history; adopted as the hint says, the next run reads the request's dates from its status
    and offers `journal keep`, which keeps the files (before: refused forever, "its dates
    cannot be checked"). Nothing is downloaded or created again."""
    import asyncio

    from gigstack_async.cli import main
    from tests.bulk._support import JOURNAL, sandbox_env

    out = tmp_path / "cfdi"
    async with world_of(SandboxConfig(speed=3000, seed=31)) as (sandbox, client):
        done = results(await run(client, out))["2024-01"]
        assert done.ok
        request_id = done.request_id
        await push_out(client, 20)
        for path in out.glob(JOURNAL + "*"):
            path.unlink()
        held = results(await run(client, out, timeout=10))["2024-01"]
        assert held.stage == "needs-attention"
        sandbox_env(monkeypatch, sandbox)
        argv = ["journal", "adopt", str(out), "2024-01", str(request_id), "--rfc-type", "received"]
        assert await asyncio.to_thread(main, [*argv, "--yes"]) == 0
        packages = len(sandbox.state.calls_to(PACKAGE))
        adopted = results(await run(client, out, timeout=10))["2024-01"]
        assert adopted.stage == "needs-attention"
        assert "cannot be checked" not in (adopted.error or "")
        assert f"journal keep {out} 2024-01" in (adopted.hint or "")
        keep = ["journal", "keep", str(out), "2024-01", "--yes"]
        assert await asyncio.to_thread(main, keep) == 0
        final = results(await run(client, out, timeout=10))["2024-01"]
        # Review 9n #4: adopted once its request left the history (createdAt never shown): it
        # may have been made on the month's last day, so the month is done, not ok.
        assert final.stage == "done", final.error
        assert "may have been made on 2024-01-31" in " ".join((final.error or "").split())
        assert len(sandbox.state.calls_to(PACKAGE)) == packages  # no SAT download spent
        assert creates(sandbox)["received:2024-01"] == 1
