"""A 429 to a package download: the rule, proved against both readings of it.

Whether gigstack's 429 can come *after* a package GET went through to SAT (and spent one of
its two downloads) is not documented (GUESS). The SDK gives the download back on a 429 and
tries again after the Retry-After (`machine.PackageFailed.sent`). That rule is never worse
than counting the 429 as spent, whichever reading is true:

- the 429 came from a limiter in front of the API (sandbox fault "429"): nothing was spent,
  and the package is fetched with SAT's budget intact;
- the 429 came after SAT served the package (sandbox fault "after_429"): SAT itself refuses
  a third download (5008), which costs nothing, and the month ends exactly where the
  counting rule would have put it: needs attention, with `journal resend` as the way out.

Run against the real sandbox over 127.0.0.1, like tests/bulk/test_scenarios.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import engine
from gigstack_async.bulk.events import BulkEvent, MonthResult
from gigstack_async.bulk.watch import PollSchedule
from gigstack_async.errors import RateLimitError
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.config import FaultConfig

FAST = PollSchedule(initial=0.02, factor=1.5, maximum=0.1, jitter=0.0)
PACKAGE = "downloadPackage"


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


async def test_a_429_in_front_of_the_api_spends_nothing_and_the_package_arrives(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    sandbox.state.force_fault(PACKAGE, "429", times=3)
    result = await run(client, out)
    assert result.ok, result
    assert len(sandbox.state.calls_to(PACKAGE)) == 4  # three refused, the fourth served
    assert max(sandbox.state.downloads_per_package().values()) == 1  # one SAT download spent
    assert files_on_disk(out) == ground_truth(sandbox)


async def test_a_429_after_sat_served_ends_where_counting_it_would_and_never_beyond_two(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    sandbox.state.force_fault(PACKAGE, "after_429", times=2)  # SAT served twice, answers lost
    result = await run(client, out)
    assert result.stage == "needs-attention"
    assert "5008" in (result.error or "")
    assert f"journal resend {out} 2024-01" in (result.hint or "")
    assert max(sandbox.state.downloads_per_package().values()) == 2  # SAT never served a third
    # The third GET was refused by SAT (5008) at no cost; nothing more is sent on the next run.
    sent = len(sandbox.state.calls_to(PACKAGE))
    again = await run(client, out)
    assert again.stage == "needs-attention"
    assert f"journal resend {out} 2024-01" in (again.hint or "")
    assert len(sandbox.state.calls_to(PACKAGE)) == sent
    assert max(sandbox.state.downloads_per_package().values()) == 2


async def test_one_429_after_sat_served_still_leaves_a_good_copy(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    sandbox.state.force_fault(PACKAGE, "after_429", times=1)
    result = await run(client, out)
    assert result.ok, result
    assert max(sandbox.state.downloads_per_package().values()) == 2
    assert files_on_disk(out) == ground_truth(sandbox)


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
