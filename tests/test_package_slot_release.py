"""A package GET frees its request slot when its body has arrived, not after its fsyncs.

`fetch_package_to(on_received=...)` says when the HTTP exchange is over; bulk's concurrency
bound counts HTTP requests, so the next package GET need not wait for the previous one's
disk work (fsync, verification, rename).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import gigstack_async.resources.downloads as downloads_module
from gigstack_async import GigstackClient, PollSchedule
from gigstack_async.bulk.events import MonthResult
from gigstack_async.errors import DownloadInterruptedError
from gigstack_async.sandbox import Sandbox, SandboxConfig

FAST = PollSchedule(initial=0.02, factor=1.5, maximum=0.1, jitter=0.0)


async def test_on_received_runs_once_after_the_body_before_the_zip_is_in_place(
    tmp_path: Path,
) -> None:
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        created = await client.downloads.create_request(
            start_date="2025-05-01", end_date="2025-05-31", rfc_type="issued"
        )
        await client.downloads.wait(created.request_id, poll=FAST)
        (package_id,) = (await client.downloads.status(created.request_id)).package_ids or []
        dest = tmp_path / "p.zip"
        seen: list[bool] = []

        staged = await client.downloads.fetch_package_to(
            package_id, dest, on_received=lambda: seen.append(dest.exists())
        )

        assert seen == [False]  # called once, before the verified ZIP was renamed into place
        assert staged.path == dest
        assert dest.exists()

        sandbox.state.force_fault("downloadPackage", "after_truncate")
        with pytest.raises(DownloadInterruptedError):
            await client.downloads.fetch_package_to(
                package_id, tmp_path / "q.zip", on_received=lambda: seen.append(True)
            )
        assert seen == [False]  # a body that broke off never counts as received


async def test_bulk_starts_the_next_package_get_while_the_previous_one_is_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    streams: list[float] = []
    verified: list[float] = []
    real_stream = downloads_module.Downloads._stream_package
    real_verify = downloads_module.verify_staged

    async def stream(self: object, *args: object) -> None:
        streams.append(time.monotonic())
        await real_stream(self, *args)  # type: ignore[arg-type]

    def slow_verify(*args: object, **kwargs: object) -> object:
        time.sleep(0.3)  # a slow disk: the HTTP exchange is long over
        result = real_verify(*args, **kwargs)  # type: ignore[arg-type]
        verified.append(time.monotonic())
        return result

    monkeypatch.setattr(downloads_module.Downloads, "_stream_package", stream)
    monkeypatch.setattr(downloads_module, "verify_staged", slow_verify)
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        run = client.downloads.bulk(
            "2024-01",
            "2024-02",
            rfc_type="received",
            download_to=tmp_path / "cfdi",
            poll=FAST,
            concurrency=1,
        )
        async with run:
            results = [e async for e in run if isinstance(e, MonthResult)]
        await asyncio.sleep(0)

    assert [r.ok for r in results] == [True, True]
    assert len(streams) == 2
    assert streams[1] < verified[0]  # the second GET went while the first was verified
    assert sandbox.state.downloads_per_package().total() == 2
