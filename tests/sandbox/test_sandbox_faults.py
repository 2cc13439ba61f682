"""Fault injection: seeded and reproducible, restricted by operation, before or after the handler.

Faults are exercised on POST where the client must see the disconnect: aiohttp's client silently
retries an idempotent request (GET, PUT) once when the server drops a connection.
"""

from __future__ import annotations

import aiohttp
import attrs
import pytest

from gigstack_async.sandbox import FaultConfig, Sandbox, SandboxConfig

STATUS = "invoices/download/activate/status"
BODY = {"start_date": "2025-04-01", "end_date": "2025-04-30", "rfc_type": "issued"}


async def test_same_seed_same_faults(start_sandbox, config: SandboxConfig) -> None:
    faults = FaultConfig(
        seed=42, error_500_rate=0.1, error_502_rate=0.1, error_503_rate=0.1, rate_limit_rate=0.1
    )
    runs = []
    for seed in (42, 42, 43):
        sandbox, api = await start_sandbox(
            attrs.evolve(config, faults=attrs.evolve(faults, seed=seed))
        )
        runs.append([(await api.get(STATUS)).status for _ in range(40)])
        assert sum(sandbox.state.fault_counts().values()) == sum(s != 200 for s in runs[-1])

    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert {200, 500, 502, 503, 429} <= set(runs[0])


async def test_decisions_do_not_depend_on_other_operations(
    start_sandbox, config: SandboxConfig
) -> None:
    faults = FaultConfig(seed=9, error_503_rate=0.5)
    _, quiet = await start_sandbox(attrs.evolve(config, faults=faults))
    _, busy = await start_sandbox(attrs.evolve(config, faults=faults))

    alone = [(await quiet.get(STATUS)).status for _ in range(20)]
    interleaved = []
    for _ in range(20):
        await busy.get("invoices/download/schedule")
        interleaved.append((await busy.get(STATUS)).status)

    assert alone == interleaved


async def test_error_faults_use_the_error_envelope_and_retry_after(
    start_sandbox, config: SandboxConfig
) -> None:
    faults = FaultConfig(rate_limit_rate=1.0, retry_after_seconds=7)
    sandbox, api = await start_sandbox(attrs.evolve(config, faults=faults))

    reply = await api.get(STATUS)

    assert reply.status == 429
    assert reply.headers["Retry-After"] == "7"
    assert reply.error_code == "rate_limit_exceeded"
    assert sandbox.state.injected_faults[0].kind == "429"
    assert sandbox.state.calls[0].fault == "429"


async def test_faults_can_be_restricted_to_operations(start_sandbox, config: SandboxConfig) -> None:
    faults = FaultConfig(error_500_rate=1.0, operations={"getDownloadHistory"})
    _, api = await start_sandbox(attrs.evolve(config, faults=faults))

    assert (await api.get(STATUS)).status == 200
    assert (await api.get("invoices/download/schedule/history")).status == 500


async def test_drop_before_the_handler_creates_nothing(api, sandbox: Sandbox) -> None:
    sandbox.state.force_fault("createDownloadRequest", "drop")

    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.post("invoices/download/request", json=BODY)

    assert sandbox.state.download_requests == []
    assert sandbox.state.charges == []
    call = sandbox.state.calls[-1]
    assert (call.operation_id, call.status, call.fault) == ("createDownloadRequest", None, "drop")
    assert sandbox.state.fault_counts() == {"drop": 1}


async def test_lost_response_after_the_handler_still_creates_the_request(
    api, sandbox: Sandbox
) -> None:
    sandbox.state.force_fault("createDownloadRequest", "after_drop")

    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.post("invoices/download/request", json=BODY)

    (created,) = sandbox.state.download_requests
    assert len(sandbox.state.charges) == 1
    assert sandbox.state.injected_faults[0].phase == "after"
    # How a careful client reconciles: the history shows it, and resubmitting is a duplicate.
    history = (await api.get("invoices/download/schedule/history")).data["history"]
    assert [item["id"] for item in history] == [created.request_id]
    again = await api.post("invoices/download/request", json=BODY)
    assert again.data == {"request_id": created.request_id, "duplicate": True, "status": "pending"}
    assert len(sandbox.state.charges) == 1


async def test_truncated_body_after_the_handler(api, sandbox: Sandbox) -> None:
    sandbox.state.force_fault("createDownloadRequest", "after_truncate")

    with pytest.raises(aiohttp.ClientPayloadError):
        await api.post("invoices/download/request", json=BODY)

    assert len(sandbox.state.download_requests) == 1
    assert sandbox.state.calls[-1].status == 200
    assert sandbox.state.calls[-1].fault == "after_truncate"


async def test_gateway_error_after_the_handler(api, sandbox: Sandbox) -> None:
    sandbox.state.force_fault("createDownloadRequest", "after_502")

    reply = await api.post("invoices/download/request", json=BODY)

    assert (reply.status, reply.error_code) == (502, "external_service_error")
    assert len(sandbox.state.download_requests) == 1


async def test_before_errors_have_no_side_effect(api, sandbox: Sandbox) -> None:
    sandbox.state.force_fault("createDownloadRequest", "503", times=2)

    replies = [await api.post("invoices/download/request", json=BODY) for _ in range(3)]

    assert [reply.status for reply in replies] == [503, 503, 200]
    assert len(sandbox.state.download_requests) == 1
    assert replies[2].data["duplicate"] is False


async def test_after_rate_loses_answers_but_keeps_effects(
    start_sandbox, config: SandboxConfig
) -> None:
    faults = FaultConfig(after_drop_rate=1.0, operations={"createDownloadRequest"})
    sandbox, api = await start_sandbox(attrs.evolve(config, faults=faults))

    for day in (1, 2, 3):
        body = {**BODY, "start_date": f"2025-04-0{day}", "end_date": f"2025-04-0{day}"}
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await api.post("invoices/download/request", json=body)

    assert len(sandbox.state.download_requests) == 3
    assert sandbox.state.fault_counts() == {"after_drop": 3}
    assert (await api.get("invoices/download/schedule/history")).status == 200


async def test_latency_does_not_change_answers(start_sandbox, config: SandboxConfig) -> None:
    faults = FaultConfig(latency_rate=1.0, latency_seconds=(0.001, 0.002))
    sandbox, api = await start_sandbox(attrs.evolve(config, faults=faults))

    assert (await api.get(STATUS)).status == 200
    assert sandbox.state.injected_faults == []


def test_fault_config_is_validated() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultConfig(error_500_rate=1.5)
    with pytest.raises(ValueError, match="sum"):
        FaultConfig(error_500_rate=0.6, drop_rate=0.6)


async def test_forcing_an_unknown_fault_kind_fails_loudly(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        sandbox.state.force_fault("createDownloadRequest", "boom")
