"""Newcomer 9c #1, end to end: a package GET that failed before the server acted is not a spent
SAT download stated as fact, and following the hints never bills a month twice.

With the sandbox's before-phase faults (`500`, `502`, `drop`: the handler never runs, SAT
serves nothing) the old code counted each failed GET as spent; after the second it said "no
SAT download left: `journal resend`" and the user paid for a second create while the package
was still downloadable. Now the month says that its 2 counted downloads may not have reached
SAT and offers `journal retry-download` first: one more GET on the user's word, which costs
nothing even when SAT has served the package twice (SAT 5008).
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk.events import MonthResult
from gigstack_async.bulk.store import JournalStore, decode_state, encode_state
from gigstack_async.cli import main
from gigstack_async.sandbox import FaultConfig, Sandbox, SandboxConfig
from tests.bulk._support import CREATE, JOURNAL, PACKAGE, month_results, world_of

COMMAND = re.compile(r"`(gigstack-async journal [^`]+)`")


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    async with world_of(SandboxConfig(speed=3000, seed=11)) as both:
        yield both


async def run(
    client: GigstackClient, out: Path, start: str = "2024-11", end: str = "2024-11"
) -> dict[str, MonthResult]:
    return await month_results(client, out, start, end, concurrency=2, timeout=30)


def creates_in_the_log(sandbox: Sandbox) -> Counter[str]:
    """Create requests the server acted on, per month, from its request log (a create whose
    answer a fault lost counts too: `created` is recorded before the answer)."""
    months = {
        r.request_id: r.criteria.start_date.strftime("%Y-%m")
        for r in sandbox.state.download_requests
    }
    return Counter(months[call.created] for call in sandbox.state.calls_to(CREATE) if call.created)


def uuids_on_disk(folder: Path) -> set[str]:
    return {path.stem.upper() for path in folder.rglob("*.xml")}


def ground_truth(sandbox: Sandbox) -> set[str]:
    return {u.upper() for uuids in sandbox.state.ground_truth.values() for u in uuids}


def first_command(text: str | None) -> list[str]:
    found = COMMAND.search(text or "")
    assert found is not None, text
    return shlex.split(found.group(1))[1:]


async def test_two_500s_before_the_server_acted_end_with_the_package_not_a_second_create(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out = tmp_path / "chaos"
    sandbox.state.force_fault(PACKAGE, "500", times=1)
    first = (await run(client, out))["2024-11"]
    assert first.stage == "needs-attention"
    assert "at least 1 of 2 SAT downloads left" in (first.hint or "")

    sandbox.state.force_fault(PACKAGE, "502", times=1)
    second = (await run(client, out))["2024-11"]
    assert second.stage == "needs-attention"
    said = f"{second.error} {second.hint}"
    # Not stated as fact any more: the server never acted on either GET.
    assert "no SAT download left" not in said
    assert "2 downloads counted, 2 of them may not have reached SAT" in (second.error or "")
    # The no-cost way first, the billed one after it.
    hint = second.hint or ""
    retry = f"gigstack-async journal retry-download {out} 2024-11"
    resend = f"gigstack-async journal resend {out} 2024-11"
    assert retry in hint
    assert resend in hint
    assert hint.index(retry) < hint.index(resend)
    assert "bills nothing" in hint
    assert len(sandbox.state.calls_to(PACKAGE)) == 2

    # Running the same command again sends no third GET on its own.
    again = (await run(client, out))["2024-11"]
    assert again.stage == "needs-attention"
    assert len(sandbox.state.calls_to(PACKAGE)) == 2

    # Without a terminal the risk is shown and --yes is required; nothing is recorded.
    argv = first_command(second.hint)
    assert argv == ["journal", "retry-download", str(out), "2024-11"]
    assert await asyncio.to_thread(main, argv) == 2
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.get("2024-11").stage.value == "needs-attention"
        assert store.get("2024-11").granted == ()

    assert await asyncio.to_thread(main, [*argv, "--yes"]) == 0
    # Recorded durably before the command said so: another process reads it from the file.
    with sqlite3.connect(out / JOURNAL) as db:
        (text,) = db.execute("SELECT state FROM months WHERE key = '2024-11'").fetchone()
    recorded = json.loads(text)
    assert recorded["stage"] == "completed"
    assert [pid for pid, n in recorded["granted"] if n == 1]

    done = (await run(client, out))["2024-11"]
    assert done.ok, done.error
    assert len(sandbox.state.calls_to(PACKAGE)) == 3  # exactly the one allowed GET
    assert creates_in_the_log(sandbox) == Counter({"2024-11": 1})
    assert max(sandbox.state.downloads_per_package().values()) == 1  # SAT served it once
    assert uuids_on_disk(out) == ground_truth(sandbox)


async def test_a_year_with_package_faults_followed_by_the_hints_creates_each_month_once(
    tmp_path: Path,
) -> None:
    # The newcomer's setting: random faults, the user always runs the first command a hint
    # gives. Before-phase faults only (the server never acted), on package GETs only: nothing
    # here justifies a second create, so every month is created exactly once.
    faults = FaultConfig(
        operations=frozenset({PACKAGE}),
        error_500_rate=0.3,
        error_502_rate=0.15,
        drop_rate=0.1,
        seed=7,
    )
    out = tmp_path / "chaos"
    followed: Counter[str] = Counter()
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11, faults=faults)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        for _ in range(12):
            results = await run(client, out, "2024-01", "2024-12")
            if all(r.ok for r in results.values()):
                break
            for result in results.values():
                if result.ok or COMMAND.search(result.hint or "") is None:
                    continue  # "run the same command again"
                argv = first_command(result.hint)
                followed[argv[1]] += 1
                assert await asyncio.to_thread(main, [*argv, "--yes"]) == 0
        assert all(r.ok for r in results.values()), [r.error for r in results.values()]
        assert followed["retry-download"] >= 1  # the scenario did happen
        assert followed["resend"] == 0
        assert creates_in_the_log(sandbox) == Counter({f"2024-{m:02d}": 1 for m in range(1, 13)})
        assert max(sandbox.state.downloads_per_package().values()) == 1
        assert uuids_on_disk(out) == ground_truth(sandbox)


def test_an_older_journal_without_the_new_fields_reads_every_download_as_sure(
    tmp_path: Path,
) -> None:
    from datetime import date

    from gigstack_async.bulk import machine as m

    state = m.MonthState(
        "2024-11", date(2024, 11, 1), date(2024, 11, 30), "received", "cfdi",
        stage=m.Stage.NEEDS_ATTENTION, package_ids=("P1",), downloads=(("P1", 2),),
        unsure=(("P1", 1),), granted=(("P1", 1),), blocked_package="P1",
    )  # fmt: skip
    record = json.loads(encode_state(state))
    assert (record["unsure"], record["granted"], record["blocked_package"]) == (
        [["P1", 1]],
        [["P1", 1]],
        "P1",
    )
    for field in ("unsure", "granted", "blocked_package"):
        del record[field]
    old = decode_state(json.dumps(record))
    assert (old.unsure, old.granted, old.blocked_package) == ((), (), None)
    assert (old.sure_of("P1"), old.unsure_of("P1"), old.allowed_of("P1")) == (2, 0, 2)
    with pytest.raises(m.TransitionError):
        m.transition(old, m.AllowDownload())


@pytest.mark.parametrize(
    ("fault", "left"),
    [
        ("500", "(at least 1 of 2 SAT downloads left)"),  # before the server acted
        ("drop", "(at least 1 of 2 SAT downloads left)"),  # no answer at all
        ("after_502", "(at least 1 of 2 SAT downloads left)"),  # served, but we cannot tell
        ("after_truncate", "(1 of 2 SAT downloads left)"),  # a 200 broke off: surely served
    ],
)
async def test_what_a_failed_get_says_about_the_downloads_left(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, fault: str, left: str
) -> None:
    sandbox, client = world
    sandbox.state.force_fault(PACKAGE, fault, times=1)
    month = (await run(client, tmp_path / "cfdi"))["2024-11"]
    assert month.stage == "needs-attention"
    assert (month.hint or "").endswith(left)
    with JournalStore.open_existing(tmp_path / "cfdi" / JOURNAL) as store:
        state = store.get("2024-11")
    (package_id,) = state.package_ids or ()
    surely = 1 if fault == "after_truncate" else 0
    assert (state.sure_of(package_id), state.unsure_of(package_id)) == (surely, 1 - surely)


def test_only_bytes_of_a_2xx_answer_prove_a_failed_get_reached_sat() -> None:
    from gigstack_async.bulk.engine import package_served
    from gigstack_async.errors import (
        APIConnectionError,
        APIResponseValidationError,
        DownloadInterruptedError,
        InternalServerError,
        NotFoundError,
        OutcomeUnknownError,
    )
    from gigstack_async.packages import CorruptPackageError

    cases = [
        (DownloadInterruptedError("body broke off after 10 bytes", served=True), True),
        (DownloadInterruptedError("no response within 30 s"), False),
        (APIResponseValidationError("no data.content", status=200), True),
        (CorruptPackageError("bad CRC"), True),
        (InternalServerError("HTTP 500", status=500), False),
        (NotFoundError("HTTP 404", status=404), False),
        (OutcomeUnknownError("HTTP 502"), False),
        (APIConnectionError("connection refused"), False),
    ]
    assert [package_served(error) for error, _ in cases] == [served for _, served in cases]
