"""API keys and the `team` query parameter."""

from __future__ import annotations

import attrs
import pytest

from gigstack_async.sandbox import ApiKeyConfig, Sandbox, SandboxConfig

STATUS = "invoices/download/activate/status"


async def test_missing_key_is_401_with_the_error_envelope(anonymous, sandbox: Sandbox) -> None:
    reply = await anonymous.get(STATUS)

    assert reply.status == 401
    assert reply.body["success"] is False
    assert reply.error_code == "unauthorized"
    assert "Authorization" in reply.body["message"]
    assert sandbox.state.calls[-1].status == 401


@pytest.mark.parametrize(
    "header",
    ["Bearer sk_test_wrong", "Basic abc", "Bearer", "sk_test_sandbox_4b1d3c9e7a2f4e68"],
)
async def test_wrong_or_malformed_key_is_401(anonymous, header: str) -> None:
    reply = await anonymous.get(STATUS, headers={"Authorization": header})

    assert reply.status == 401
    assert reply.error_code == "unauthorized"


async def test_error_messages_never_echo_the_key(anonymous) -> None:
    reply = await anonymous.get(STATUS, headers={"Authorization": "Bearer sk_test_secret_value"})

    assert "sk_test_secret_value" not in str(reply.body)


async def test_home_team_is_used_without_team_parameter(api, sandbox: Sandbox) -> None:
    reply = await api.get(STATUS)

    assert reply.status == 200
    assert reply.data["status"] == "active"
    assert sandbox.state.calls[-1].team == "team_sandbox"


async def test_connected_team_has_its_own_state(api, sandbox: Sandbox) -> None:
    created = await api.create("2025-05-01", "2025-05-31", team="team_connected")
    home = await api.get("invoices/download/schedule/history")
    connected = await api.get(
        "invoices/download/schedule/history", params={"team": "team_connected"}
    )

    assert created.status == 200
    assert home.data["history"] == []
    assert [item["id"] for item in connected.data["history"]] == [created.data["request_id"]]
    assert sandbox.state.download_requests[0].team_id == "team_connected"


@pytest.mark.parametrize("team", ["team_foreign", "team_that_does_not_exist"])
async def test_unconnected_team_is_403(api, sandbox: Sandbox, team: str) -> None:
    reply = await api.get(STATUS, params={"team": team})

    assert reply.status == 403
    assert reply.error_code == "forbidden"
    assert team in reply.body["message"]
    assert sandbox.state.calls[-1].status == 403


async def test_a_second_key_sees_its_own_home_team(start_sandbox, config: SandboxConfig) -> None:
    keys = (*config.api_keys, ApiKeyConfig("sk_test_foreign_key", "team_foreign"))
    custom = attrs.evolve(config, api_keys=keys)
    _, first = await start_sandbox(custom)
    _, second = await start_sandbox(custom, api_key="sk_test_foreign_key")

    reply = await second.create("2025-05-01", "2025-05-31")
    assert reply.status == 200
    assert (await first.get("invoices/download/schedule/history")).data["history"] == []


async def test_unknown_route_gets_the_error_envelope(api) -> None:
    reply = await api.get(
        "invoices/nope/nothing/here"
    )  # /invoices/{id} exists (DELETE) since issue 11

    assert reply.status == 404
    assert reply.error_code == "resource_not_found"


async def test_every_call_is_recorded_with_route_and_operation(api, sandbox: Sandbox) -> None:
    await api.get("invoices/download/status/NOPE")
    await api.get(STATUS)

    first, second = sandbox.state.calls
    assert (first.method, first.route, first.operation_id, first.status) == (
        "GET",
        "/invoices/download/status/{requestId}",
        "getDownloadRequestStatus",
        404,
    )
    assert (second.operation_id, second.status) == ("getDownloadActivationStatus", 200)
    assert len(sandbox.state.calls_to("getDownloadActivationStatus")) == 1
