"""Descarga Masiva prerequisites: a blank team walks activate → FIEL → register → schedule."""

from __future__ import annotations

import aiohttp
import attrs
import pytest

from gigstack_async.sandbox import ApiKeyConfig, Sandbox, SandboxConfig, TeamConfig

FIEL = "invoices/download/fiel"


def fiel_form(**fields: str) -> aiohttp.FormData:
    """The FIEL multipart body; a field given as "" is left out."""
    form = aiohttp.FormData()
    files = {"cert": ("fiel.cer", b"\x30\x82cert-der"), "key": ("fiel.key", b"\x30\x82key-der")}
    for name, (filename, content) in files.items():
        if fields.pop(name, None) != "":
            form.add_field(name, content, filename=filename)
    for name, value in {"password": "s3cret", **fields}.items():
        if value != "":
            form.add_field(name, value)
    return form


@pytest.fixture
async def blank(start_sandbox, config: SandboxConfig):
    return await start_sandbox(attrs.evolve(config, ready=False))


async def test_ready_team_has_every_prerequisite(api) -> None:
    status = await api.get("invoices/download/activate/status")
    schedule = await api.get("invoices/download/schedule")

    assert status.data["status"] == "active"
    assert status.data["isActivated"] is True
    assert schedule.data["fiel_uploaded"] is True
    assert schedule.data["registered"] is True
    assert (await api.create("2025-05-01", "2025-05-31")).status == 200


async def test_blank_team_walks_the_whole_setup(blank) -> None:
    sandbox, api = blank

    status = await api.get("invoices/download/activate/status")
    assert status.data == {
        "status": "needs_activation",
        "planIncludesFeature": True,
        "isActivated": False,
        "pricing": {"perDownload": "$0.20 MXN", "addonMonthly": None},
    }
    refused = await api.create("2025-05-01", "2025-05-31")
    assert (refused.status, refused.error_code) == (400, "business_rule_violation")
    assert refused.body["error"]["details"] == ["activation"]
    assert "activate" in refused.body["message"]

    activated = await api.post("invoices/download/activate")
    assert activated.data == {"type": "included"}
    refused = await api.create("2025-05-01", "2025-05-31")
    assert refused.body["error"]["details"] == ["fiel_uploaded"]

    uploaded = await api.post(FIEL, data=fiel_form())
    assert uploaded.status == 200
    assert uploaded.data["rfc"] == "EKU9003173C9"
    assert uploaded.data["registered"] is False
    refused = await api.create("2025-05-01", "2025-05-31")
    assert refused.body["error"]["details"] == ["registered"]

    registered = await api.post(
        "invoices/download/register",
        json={"phone": "+5215512345678", "sync_start_date": "2020-01-01"},
    )
    assert registered.status == 200
    assert registered.data["registered"] is True
    saved = await api.put(
        "invoices/download/schedule",
        json={"enabled": True, "time": "07:30", "download_types": ["received"], "days_back": 5},
    )
    assert saved.data["downloadTypes"] == ["received"]

    schedule = await api.get("invoices/download/schedule")
    assert schedule.data["schedule"]["enabled"] is True
    assert schedule.data["schedule"]["time"] == "07:30"
    assert schedule.data["sync_start_date"] == "2020-01-01"
    created = await api.create("2025-05-01", "2025-05-31")
    assert created.status == 200
    assert len(sandbox.state.download_requests) == 1


async def test_fiel_with_start_date_and_phone_also_registers(blank) -> None:
    _, api = blank
    await api.post("invoices/download/activate")

    uploaded = await api.post(
        FIEL, data=fiel_form(sync_start_date="2021-01-01", phone="+5215512345678")
    )

    assert uploaded.data["registered"] is True
    assert uploaded.data["sync_start_date"] == "2021-01-01"
    assert isinstance(uploaded.data["registered_at"], int)
    assert (await api.create("2025-05-01", "2025-05-31")).status == 200


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"cert": ""}, "cert"),
        ({"key": ""}, "key"),
        ({"password": ""}, "password"),
        ({"sync_start_date": "2019-01-01"}, "sync_start_date"),  # beyond 71 months
        ({"sync_start_date": "2025-06-16"}, "sync_start_date"),  # tomorrow in Mexico City
        ({"sync_start_date": "01/01/2024"}, "sync_start_date"),
        ({"phone": "5512345678"}, "phone"),
    ],
)
async def test_fiel_upload_validation_names_the_field(blank, fields, field: str) -> None:
    _, api = blank

    reply = await api.post(FIEL, data=fiel_form(**fields))

    assert (reply.status, reply.error_code) == (400, "validation_failed")
    assert reply.body["error"]["details"] == [field]


async def test_fiel_requires_multipart(blank) -> None:
    _, api = blank

    reply = await api.post(FIEL, json={"cert": "x", "key": "y", "password": "z"})

    assert reply.status == 400


async def test_register_and_schedule_need_the_fiel(blank) -> None:
    _, api = blank
    body = {"phone": "+5215512345678", "sync_start_date": "2021-01-01"}

    register = await api.post("invoices/download/register", json=body)
    schedule = await api.put("invoices/download/schedule", json={"enabled": True})
    sync = await api.post("invoices/download/enable-sync", json={})

    for reply in (register, schedule, sync):
        assert (reply.status, reply.error_code) == (400, "business_rule_violation")
        assert reply.body["error"]["details"] == ["fiel_uploaded"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "enabled"),
        ({"enabled": "yes"}, "enabled"),
        ({"enabled": True, "time": "25:00"}, "time"),
        ({"enabled": True, "days_back": 0}, "days_back"),
        ({"enabled": True, "days_back": 91}, "days_back"),
        ({"enabled": True, "download_types": ["sent"]}, "download_types"),
    ],
)
async def test_schedule_validation(api, body, field: str) -> None:
    reply = await api.put("invoices/download/schedule", json=body)

    assert reply.status == 400
    assert reply.body["error"]["details"] == [field]


async def test_deactivate_blocks_new_requests_until_reactivated(api) -> None:
    first = await api.post("invoices/download/deactivate")
    again = await api.post("invoices/download/deactivate")
    refused = await api.create("2025-05-01", "2025-05-31")
    await api.post("invoices/download/activate")

    assert first.status == again.status == 200
    assert refused.body["error"]["details"] == ["activation"]
    assert (await api.create("2025-05-01", "2025-05-31")).status == 200


async def test_free_plan_cannot_activate(start_sandbox, config: SandboxConfig) -> None:
    teams = (TeamConfig("team_sandbox", "EKU9003173C9", "ESCUELA KEMPER URGATE", plan="free"),)
    keys = (ApiKeyConfig(config.api_key, "team_sandbox"),)
    custom = attrs.evolve(config, ready=False, teams=teams, api_keys=keys)
    _, api = await start_sandbox(custom)

    status = await api.get("invoices/download/activate/status")
    refused = await api.post("invoices/download/activate")

    assert status.data["status"] == "needs_upgrade"
    assert status.data["planIncludesFeature"] is False
    assert (refused.status, refused.error_code) == (403, "insufficient_permissions")


async def test_debug_reports_the_setup(api, sandbox: Sandbox) -> None:
    await api.create("2025-05-01", "2025-05-31")

    reply = await api.get("invoices/download/debug")

    assert reply.data["fiel"]["uploaded"] is True
    assert reply.data["registration"]["registered"] is True
    assert reply.data["requests"] == {"total": 1, "active": 1}
