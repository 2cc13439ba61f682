"""A 429 to a package download: the rule, proved against both readings of it.

Whether gigstack's 429 can come *after* a package GET went through to SAT (and spent one of
its two downloads) is not documented (GUESS). The SDK counts a 429 as an unsure download, like
a 5xx (`machine.PackageFailed.rate_limited`): the next GET waits the Retry-After and goes in
the same run only while it is within SAT's two; a third GET needs the user's `journal
retry-download` (free: SAT answers 5008 if it already served the package twice). Whichever
reading is true, no GET goes past SAT's two without the user's word:

- the 429 came from a limiter in front of the API (sandbox fault "429"): nothing was spent;
  after two 429s the month stops and `retry-download` allows the GET that fetches it;
- the 429 came after SAT served the package (sandbox fault "after_429"): SAT's two are spent
  by the two GETs, and nothing more is sent without the user (review 9g finding 2 sent a
  third on its own).

Run against the real sandbox over 127.0.0.1, like tests/bulk/test_scenarios.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import engine, repair
from gigstack_async.bulk.events import BulkEvent, MonthResult
from gigstack_async.bulk.store import JournalStore
from gigstack_async.bulk.watch import PollSchedule
from gigstack_async.errors import RateLimitError
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.config import FaultConfig

FAST = PollSchedule(initial=0.02, factor=1.5, maximum=0.1, jitter=0.0)
PACKAGE = "downloadPackage"
JOURNAL = ".gigstack-journal.sqlite3"


async def run(client: GigstackClient, out: Path) -> MonthResult:
    bulk = client.downloads.bulk(
        "2024-01", "2024-01", rfc_type="received", download_to=out, poll=FAST, timeout=20
    )
    async with bulk:
        events: list[BulkEvent] = [event async for event in bulk]
    (result,) = [e for e in events if isinstance(e, MonthResult)]
    return result


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    config = SandboxConfig(speed=3000, seed=11, faults=FaultConfig(retry_after_seconds=0))
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        yield sandbox, client


def files_on_disk(out: Path) -> set[str]:
    return {f.stem.upper() for f in (out / "2024-01").glob("*.xml")}


def ground_truth(sandbox: Sandbox) -> set[str]:
    (uuids,) = sandbox.state.ground_truth.values()  # the month's one request
    assert uuids
    return {uuid.upper() for uuid in uuids}


def statuses(sandbox: Sandbox) -> list[int]:
    return [call.status for call in sandbox.state.calls_to(PACKAGE)]


def allow_one_more_get(out: Path) -> None:
    """What `gigstack-async journal retry-download <out> 2024-01 --yes` records."""
    with JournalStore.open_existing(out / JOURNAL) as store:
        repair.record(store, *repair.allow_download(store, "2024-01"))


async def test_one_429_in_front_of_the_api_is_retried_after_its_retry_after_in_the_run(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    sandbox.state.force_fault(PACKAGE, "429", times=1)
    result = await run(client, out)
    assert result.ok, result
    assert statuses(sandbox) == [429, 200]  # the second GET is still within SAT's two
    assert max(sandbox.state.downloads_per_package().values()) == 1  # one SAT download spent
    assert files_on_disk(out) == ground_truth(sandbox)


async def test_two_429s_in_front_of_the_api_stop_until_the_user_allows_one_more_get(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    sandbox.state.force_fault(PACKAGE, "429", times=2)
    result = await run(client, out)
    assert result.stage == "needs-attention"
    assert "2 downloads counted, 2 of them may not have reached SAT" in (result.error or "")
    assert f"journal retry-download {out} 2024-01" in (result.hint or "")
    assert statuses(sandbox) == [429, 429]
    again = await run(client, out)  # the same command again sends nothing on its own
    assert again.stage == "needs-attention"
    assert statuses(sandbox) == [429, 429]

    allow_one_more_get(out)
    done = await run(client, out)
    assert done.ok, done
    assert statuses(sandbox) == [429, 429, 200]  # exactly the one allowed GET
    assert max(sandbox.state.downloads_per_package().values()) == 1
    assert files_on_disk(out) == ground_truth(sandbox)


@pytest.mark.parametrize(
    ("faults", "served"),
    [
        (("after_429", "after_429"), [429, 429]),
        (("after_429", "after_truncate"), [429, 200]),
    ],
)
async def test_429s_after_sat_served_never_get_past_sats_two_without_the_user(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    faults: tuple[str, ...],
    served: list[int],
) -> None:
    """Review 9g #2 (b5_after429.py): the old rule gave each 429 back, so a third GET left on
    its own (statuses [429, 429, 400] in one call, or [429, 200] then 400 on the next run)."""
    sandbox, client = world
    out = tmp_path / "cfdi"
    for fault in faults:
        sandbox.state.force_fault(PACKAGE, fault, times=1)
    result = await run(client, out)
    assert result.stage == "needs-attention"
    assert f"journal retry-download {out} 2024-01" in (result.hint or "")
    assert statuses(sandbox) == served
    assert max(sandbox.state.downloads_per_package().values()) == 2  # SAT served both
    for _ in range(2):  # the same command again: no third GET without the user's word
        again = await run(client, out)
        assert again.stage == "needs-attention"
        assert statuses(sandbox) == served

    # The user's word allows one GET; SAT refuses it with 5008 (free), and the month says so.
    allow_one_more_get(out)
    refused = await run(client, out)
    assert refused.stage == "needs-attention"
    assert "5008" in (refused.error or "")
    assert f"journal resend {out} 2024-01" in (refused.hint or "")
    assert statuses(sandbox) == [*served, 400]
    assert max(sandbox.state.downloads_per_package().values()) == 2


async def test_the_next_package_get_waits_the_429s_retry_after(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, client = world
    asked: list[tuple[int, object]] = []
    real = engine.resubmit_delay

    def spy(attempt: int, error: object) -> float:
        asked.append((attempt, error))
        return real(attempt, error)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "resubmit_delay", spy)
    sandbox.state.force_fault(PACKAGE, "429", times=1)
    result = await run(client, tmp_path / "cfdi")
    assert result.ok, result
    (attempt, error), *_ = asked
    assert attempt == 0
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 0  # what the server asked for, not our own backoff
