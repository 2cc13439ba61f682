"""Regression tests for the hostile re-review 9c of issue 9 (integ 802ad06): findings 1-6 and
the suspicions confirmed (staged sha256, orphan staged ZIPs, adopt's staged copy, the old
journal's ancestor check). Each failed on the code it reviewed.

End to end against the sandbox over 127.0.0.1, like tests/bulk/test_review_9b_y.py.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk.events import BulkEvent, MonthResult
from gigstack_async.bulk.store import mismatch_message
from gigstack_async.bulk.watch import PollSchedule
from gigstack_async.sandbox import Sandbox, SandboxConfig

FAST = PollSchedule(initial=0.02, factor=1.5, maximum=0.1, jitter=0.0)
PACKAGE = "downloadPackage"
CREATE = "createDownloadRequest"
JOURNAL = ".gigstack-journal.sqlite3"


async def run(
    client: GigstackClient, out: Path, start: str = "2024-01", end: str = "2024-01", **kw: object
) -> list[BulkEvent]:
    kw.setdefault("poll", FAST)
    bulk = client.downloads.bulk(
        start,
        end,
        rfc_type="received",
        download_to=out,
        **kw,  # type: ignore[arg-type]
    )
    async with bulk:
        return [event async for event in bulk]


def results(events: list[BulkEvent]) -> dict[str, MonthResult]:
    return {e.key: e for e in events if isinstance(e, MonthResult)}


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        yield sandbox, client


# 6 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("journal", "argument"),
    [
        ("my cfdi/.gigstack-journal.sqlite3", "my cfdi"),
        ("/tmp/x/my journal.sqlite3", "/tmp/x/my journal.sqlite3"),
    ],
)
def test_the_rebind_command_in_the_refusal_runs_as_printed(journal: str, argument: str) -> None:
    text = mismatch_message(Path(journal), ["a different API key"])
    command = text.split("`gigstack-async ", 1)[1].split("`", 1)[0]
    assert shlex.split(command) == ["journal", "rebind", argument]


_ = asyncio  # used by the end-to-end tests below
