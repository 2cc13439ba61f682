"""SAT generates a request's packages once, while it processes it; downloads serve that file."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import attrs
import pytest

from gigstack_async.sandbox import LifecycleConfig, Sandbox, SandboxConfig, packaging

# Accepted 0.05 s (real) after creation at speed 1000, then processing for ~11 real days: a
# request that stays in `processing` for the whole test.
SLOW_SAT = LifecycleConfig(
    pending_seconds=20, accepted_seconds=30, processing_seconds=1e9, jitter=0.0
)


def count_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    built: list[str] = []
    real = packaging.build_package

    def counted(package_id: str, *args: Any, **kwargs: Any) -> bytes:
        built.append(package_id)
        return real(package_id, *args, **kwargs)

    monkeypatch.setattr(packaging, "build_package", counted)
    return built


async def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_every_download_of_a_package_serves_the_file_generated_once(
    api, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = count_builds(monkeypatch)
    created = await api.create("2025-04-01", "2025-04-30")
    sandbox.clock.advance(sandbox.config.lifecycle.longest_completion_seconds)
    status = await api.get(f"invoices/download/status/{created.data['request_id']}")
    (package_id,) = status.data["package_ids"]

    first = await api.get(f"invoices/download/package/{package_id}")
    second = await api.get(f"invoices/download/package/{package_id}")

    assert first.status == second.status == 200
    assert first.data["content"] == second.data["content"]
    assert base64.b64decode(first.data["content"]).startswith(b"PK\x03\x04")
    assert built == [package_id]  # frozen clock: built by the first download, then kept
    assert sandbox.state.downloads_per_package()[package_id] == 2  # both downloads counted
    third = await api.get(f"invoices/download/package/{package_id}")
    assert third.status == 400
    assert "5008" in third.body["message"]


async def test_packages_are_generated_while_sat_processes_the_request(
    start_sandbox, config: SandboxConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = count_builds(monkeypatch)
    sandbox, api = await start_sandbox(attrs.evolve(config, speed=1000.0, lifecycle=SLOW_SAT))
    created = await api.create("2025-04-01", "2025-04-30")
    request = sandbox.state.download_requests[-1]
    assert request.request_id == created.data["request_id"]
    package_ids = [package_id for package_id, _ in request.packages()]

    await wait_until(lambda: set(request.archives) == set(package_ids))

    status = await api.get(f"invoices/download/status/{request.request_id}")
    assert status.data["status"] == "processing"  # generated before SAT reports completion
    assert built == package_ids
    assert "downloadPackage" not in [call.operation_id for call in sandbox.state.calls]
    sandbox.clock.advance((request.timeline.finished_ms - sandbox.clock.now_ms()) / 1000 + 1)
    reply = await api.get(f"invoices/download/package/{package_ids[0]}")
    assert reply.status == 200
    assert base64.b64decode(reply.data["content"]) == request.archives[package_ids[0]]
    assert built == package_ids  # the download built nothing more


async def test_a_stopped_sandbox_generates_nothing_more(
    start_sandbox, config: SandboxConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = count_builds(monkeypatch)
    slower = attrs.evolve(SLOW_SAT, pending_seconds=500)  # processing 0.53 s after creation
    sandbox, api = await start_sandbox(attrs.evolve(config, speed=1000.0, lifecycle=slower))
    await api.create("2025-04-01", "2025-04-30")
    await sandbox.stop()
    await asyncio.sleep(1.0)
    assert built == []
    assert sandbox.state.download_requests[-1].archives == {}
