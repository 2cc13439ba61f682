"""`client.downloads` (Descarga Masiva SAT): the exact requests sent through the real aiohttp
transport, the values returned, and arguments refused before any request."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gigstack_async import (
    ActivationState,
    DownloadRequest,
    DownloadRequestState,
    GigstackClient,
    InvalidParameterError,
    RequestType,
    RfcType,
)
from gigstack_async._dates import add_months, month_end, month_start, today_mx
from gigstack_async._generated.models import (
    ActivateEnvelope,
    ActivationStatus,
    DownloadRequestCreated,
    DownloadRequestStatus,
    Fiel,
    MessageEnvelope,
    Package,
    Schedule,
)

BASE = "https://api.gigstack.io/v2"
UUID = "6741A863-04BE-49FE-BB76-E1657AB6B7EA"
TODAY = today_mx()
LAST_MONTH = month_start(add_months(TODAY, -1))
RECENT = TODAY - timedelta(days=30)
# Fake but DER-shaped (ASN.1 SEQUENCE) FIEL files.
CER = bytes.fromhex("308204d2308203baa003020102") + b"\x01" * 64
KEY = bytes.fromhex("308205013040") + b"\x02" * 64
PEM = b"-----BEGIN CERTIFICATE-----\nMIIE0jCCA7qgAwIBAgIU\n-----END CERTIFICATE-----\n"


@pytest.fixture
def mocked(fake_http: Any) -> Any:
    return fake_http


def sent(mocked: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """Every request the fake HTTP layer saw: (method, URL with query, kwargs), in order."""
    return list(mocked.sent())


def url(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(BASE + path) + r"(\?.*)?$")


HISTORY_ITEM = {
    "id": "req_8f2c",
    "rfcType": "received",
    "startDate": "2024-01-01",
    "endDate": "2024-01-31",
    "status": "completed",
    "invoiceCount": 152,
    "processedCount": 152,
    "statusMessage": "Solicitud Aceptada",
    "source": "manual",
    "owner": "user_1",
    "latestIssueDate": "2024-01-31",
    "earliestIssueDate": "2024-01-02",
    "createdAt": 1706745600000,
    "completedAt": 1706749200000,
}

Call = Callable[[GigstackClient], Awaitable[Any]]

# name → (call, method, path, response body, expected JSON body or None)
OPERATIONS: dict[str, tuple[Call, str, str, dict[str, Any], Any]] = {
    "activation_status": (
        lambda c: c.downloads.activation_status(),
        "GET",
        "/invoices/download/activate/status",
        {
            "success": True,
            "data": {
                "status": "needs_activation",
                "planIncludesFeature": True,
                "isActivated": False,
                "pricing": {"perDownload": "$0.20 MXN", "addonMonthly": None},
            },
        },
        None,
    ),
    "activate": (
        lambda c: c.downloads.activate(),
        "POST",
        "/invoices/download/activate",
        {"success": True, "message": "Descarga Masiva activada", "data": {"type": "included"}},
        None,
    ),
    "deactivate": (
        lambda c: c.downloads.deactivate(),
        "POST",
        "/invoices/download/deactivate",
        {"success": True, "message": "Descarga Masiva desactivada"},
        None,
    ),
    "register": (
        lambda c: c.downloads.register(
            phone="+52 1 55 1234-5678",
            sync_start_date=RECENT,
            legal_name="ESCUELA KEMPER URGATE",
            max_monthly_invoices=5000,
        ),
        "POST",
        "/invoices/download/register",
        {"success": True, "data": {"registered": True}},
        {
            "phone": "+5215512345678",
            "sync_start_date": RECENT.isoformat(),
            "legal_name": "ESCUELA KEMPER URGATE",
            "max_monthly_invoices": 5000,
        },
    ),
    "schedule": (
        lambda c: c.downloads.schedule(),
        "GET",
        "/invoices/download/schedule",
        {
            "success": True,
            "data": {
                "fiel_uploaded": True,
                "registered": True,
                "sat_completed": False,
                "sync_start_date": "2024-01-01",
                "schedule": {
                    "enabled": True,
                    "time": "07:30",
                    "downloadTypes": ["issued", "received"],
                    "daysBack": 30,
                    "lastRunAt": 1706745600000,
                    "lastRunStatus": "ok",
                },
                "prodigia": {"synced": True, "sync_from": "2024-01-01", "monthly_cap": 10000},
            },
        },
        None,
    ),
    "save_schedule": (
        lambda c: c.downloads.save_schedule(
            enabled=True, time="07:30", download_types=["issued", RfcType.RECEIVED], days_back=30
        ),
        "PUT",
        "/invoices/download/schedule",
        {"success": True, "data": {"enabled": True}},
        {
            "enabled": True,
            "time": "07:30",
            "download_types": ["issued", "received"],
            "days_back": 30,
        },
    ),
    "history": (
        lambda c: c.downloads.history(),
        "GET",
        "/invoices/download/schedule/history",
        {"success": True, "data": {"history": [HISTORY_ITEM]}},
        None,
    ),
    "create_request": (
        lambda c: c.downloads.create_request(
            start_date=LAST_MONTH, end_date=month_end(LAST_MONTH), rfc_type="received"
        ),
        "POST",
        "/invoices/download/request",
        {
            "success": True,
            "data": {"request_id": "req_9a1", "duplicate": True, "status": "pending"},
        },
        {
            "start_date": LAST_MONTH.isoformat(),
            "end_date": month_end(LAST_MONTH).isoformat(),
            "rfc_type": "received",
            "request_type": "cfdi",
        },
    ),
    "status": (
        lambda c: c.downloads.status("req_9a1"),
        "GET",
        "/invoices/download/status/req_9a1",
        {
            "success": True,
            "data": {
                "request_id": "req_9a1",
                "status": "completed",
                "invoice_count": 152,
                "package_ids": ["PKG_1_01", "PKG_1_02"],
            },
        },
        None,
    ),
    "package": (
        lambda c: c.downloads.package("PKG_1_01"),
        "GET",
        "/invoices/download/package/PKG_1_01",
        {
            "success": True,
            "data": {"package_id": "PKG_1_01", "encoding": "base64", "content": "UEsFBgAAAAA="},
        },
        None,
    ),
    "invoice_from_sat": (
        lambda c: c.downloads.invoice_from_sat(UUID.lower()),
        "GET",
        f"/invoices/download/invoice/{UUID.lower()}",  # the caller's case, as gigstack sends it
        {"success": True, "data": {"uuid": UUID, "xml": "<cfdi:Comprobante Version='4.0'/>"}},
        None,
    ),
    "debug": (
        lambda c: c.downloads.debug(),
        "GET",
        "/invoices/download/debug",
        {"success": True, "data": {"fiel": {"valid": True}, "sat": {"reachable": True}}},
        None,
    ),
    "enable_sync": (
        lambda c: c.downloads.enable_sync(),
        "POST",
        "/invoices/download/enable-sync",
        {"success": True, "data": {"sync": "enabled"}},
        {},
    ),
}


@pytest.mark.parametrize("team", [None, "team_42"])
@pytest.mark.parametrize("name", OPERATIONS)
async def test_request_on_the_wire(mocked, api_key: str, name: str, team: str | None) -> None:
    call, method, path, body, expected_json = OPERATIONS[name]
    mocked.add(url(path), method=method, payload=body)
    async with GigstackClient(api_key, team=team) as client:
        await call(client)
    ((sent_method, sent_url, kwargs),) = sent(mocked)
    assert sent_method == method
    assert sent_url == BASE + path + ("" if team is None else f"?team={team}")
    assert kwargs["params"] == ([] if team is None else [("team", team)])
    assert kwargs["headers"]["Authorization"] == f"Bearer {api_key}"
    assert kwargs["json"] == expected_json
    assert kwargs["data"] is None


async def _result(mocked: Any, api_key: str, name: str) -> Any:
    call, method, path, body, _ = OPERATIONS[name]
    mocked.add(url(path), method=method, payload=body)
    async with GigstackClient(api_key) as client:
        return await call(client)


async def test_activation_status_value(mocked, api_key: str) -> None:
    result = await _result(mocked, api_key, "activation_status")
    assert isinstance(result, ActivationStatus)
    assert result.status is ActivationState.NEEDS_ACTIVATION
    assert (result.plan_includes_feature, result.is_activated) == (True, False)
    assert result.pricing is not None
    assert (result.pricing.per_download, result.pricing.addon_monthly) == ("$0.20 MXN", None)


async def test_activate_and_deactivate_values(mocked, api_key: str) -> None:
    activated = await _result(mocked, api_key, "activate")
    assert isinstance(activated, ActivateEnvelope)
    assert activated.data is not None
    assert activated.data.type == "included"
    deactivated = await _result(mocked, api_key, "deactivate")
    assert isinstance(deactivated, MessageEnvelope)
    assert deactivated.message == "Descarga Masiva desactivada"


async def test_schedule_value(mocked, api_key: str) -> None:
    result = await _result(mocked, api_key, "schedule")
    assert isinstance(result, Schedule)
    assert (result.fiel_uploaded, result.registered, result.sat_completed) == (True, True, False)
    assert result.schedule is not None
    assert result.schedule.download_types == [RfcType.ISSUED, RfcType.RECEIVED]
    assert (result.schedule.days_back, result.schedule.last_run_at) == (30, 1706745600000)
    assert result.prodigia is not None
    assert result.prodigia.monthly_cap == 10000


async def test_history_value(mocked, api_key: str) -> None:
    (entry,) = await _result(mocked, api_key, "history")
    assert isinstance(entry, DownloadRequest)
    assert entry.id == "req_8f2c"
    assert entry.rfc_type is RfcType.RECEIVED
    assert entry.status is DownloadRequestState.COMPLETED
    assert (entry.invoice_count, entry.processed_count) == (152, 152)
    assert (entry.start_date, entry.end_date) == ("2024-01-01", "2024-01-31")
    assert entry.status_message == "Solicitud Aceptada"
    assert entry.completed_at == 1706749200000


async def test_empty_history(mocked, api_key: str) -> None:
    mocked.get(url("/invoices/download/schedule/history"), payload={"success": True, "data": {}})
    async with GigstackClient(api_key) as client:
        assert await client.downloads.history() == []


async def test_create_request_value(mocked, api_key: str) -> None:
    result = await _result(mocked, api_key, "create_request")
    assert result == DownloadRequestCreated(
        request_id="req_9a1", duplicate=True, status=DownloadRequestState.PENDING
    )


async def test_create_request_metadata_and_enums(mocked, api_key: str) -> None:
    mocked.post(url("/invoices/download/request"), payload=OPERATIONS["create_request"][3])
    async with GigstackClient(api_key) as client:
        await client.downloads.create_request(
            start_date=LAST_MONTH.isoformat(),
            end_date=LAST_MONTH,  # a one-day range is valid
            rfc_type=RfcType.ISSUED,
            request_type=RequestType.METADATA,
        )
    ((_, _, kwargs),) = sent(mocked)
    assert kwargs["json"] == {
        "start_date": LAST_MONTH.isoformat(),
        "end_date": LAST_MONTH.isoformat(),
        "rfc_type": "issued",
        "request_type": "metadata",
    }


async def test_status_package_and_invoice_values(mocked, api_key: str) -> None:
    status = await _result(mocked, api_key, "status")
    assert isinstance(status, DownloadRequestStatus)
    assert status.status is DownloadRequestState.COMPLETED
    assert status.package_ids == ["PKG_1_01", "PKG_1_02"]
    package = await _result(mocked, api_key, "package")
    assert package == Package(content="UEsFBgAAAAA=", package_id="PKG_1_01", encoding="base64")
    assert await _result(mocked, api_key, "invoice_from_sat") == {
        "uuid": UUID,
        "xml": "<cfdi:Comprobante Version='4.0'/>",
    }


async def test_dict_returning_operations(mocked, api_key: str) -> None:
    assert await _result(mocked, api_key, "register") == {"registered": True}
    assert await _result(mocked, api_key, "save_schedule") == {"enabled": True}
    assert await _result(mocked, api_key, "debug") == {
        "fiel": {"valid": True},
        "sat": {"reachable": True},
    }
    assert await _result(mocked, api_key, "enable_sync") == {"sync": "enabled"}


async def test_register_omits_unset_optionals(mocked, api_key: str) -> None:
    mocked.post(url("/invoices/download/register"), payload={"success": True})
    async with GigstackClient(api_key) as client:
        assert await client.downloads.register(phone="+525512345678", sync_start_date=RECENT) == {}
    ((_, _, kwargs),) = sent(mocked)
    assert kwargs["json"] == {"phone": "+525512345678", "sync_start_date": RECENT.isoformat()}


SAVED_SCHEDULE = {
    "success": True,
    "data": {
        "schedule": {
            "enabled": True,
            "time": "05:15",
            "downloadTypes": ["received"],
            "daysBack": 7,
        }
    },
}


async def test_save_schedule_fills_left_out_fields_from_the_saved_schedule(
    mocked, api_key: str
) -> None:
    # gigstack's client always sends all four documented fields; a partial PUT could reset the
    # rest on the server. Left-out fields keep their saved values.
    mocked.get(url("/invoices/download/schedule"), payload=SAVED_SCHEDULE)
    mocked.put(url("/invoices/download/schedule"), payload={"success": True})
    async with GigstackClient(api_key) as client:
        assert await client.downloads.save_schedule(enabled=False, days_back=30) == {}
    calls = sent(mocked)
    assert [method for method, _, _ in calls] == ["GET", "PUT"]
    assert calls[1][2]["json"] == {
        "enabled": False,
        "time": "05:15",
        "download_types": ["received"],
        "days_back": 30,
    }


async def test_save_schedule_with_every_field_reads_nothing_first(mocked, api_key: str) -> None:
    mocked.put(url("/invoices/download/schedule"), payload={"success": True})
    async with GigstackClient(api_key) as client:
        await client.downloads.save_schedule(
            enabled=True, time="07:30", download_types=["issued"], days_back=3
        )
    assert [method for method, _, _ in sent(mocked)] == ["PUT"]


@pytest.mark.parametrize("missing", ["time", "downloadTypes", "daysBack"])
async def test_save_schedule_refuses_to_guess_a_field_the_server_does_not_hold(
    mocked, api_key: str, missing: str
) -> None:
    saved = dict(SAVED_SCHEDULE["data"]["schedule"])  # type: ignore[index]
    saved[missing] = None
    mocked.get(url("/invoices/download/schedule"), payload={"data": {"schedule": saved}})
    async with GigstackClient(api_key) as client:
        with pytest.raises(InvalidParameterError) as info:
            await client.downloads.save_schedule(enabled=True)
    field = {"time": "time", "downloadTypes": "download_types", "daysBack": "days_back"}[missing]
    assert info.value.field == field
    assert [method for method, _, _ in sent(mocked)] == ["GET"]  # no partial PUT was sent


async def test_path_parameters_are_escaped(mocked, api_key: str) -> None:
    mocked.get(url("/invoices/download/status/req%2F1%3Fx"), payload={"success": True, "data": {}})
    async with GigstackClient(api_key) as client:
        await client.downloads.status("req/1?x")
    ((_, sent_url, _),) = sent(mocked)
    assert sent_url == BASE + "/invoices/download/status/req%2F1%3Fx"


# ---------------------------------------------------------------------------- FIEL upload


FIEL_RESPONSE = {
    "success": True,
    "message": "FIEL guardada",
    "data": {
        "rfc": "EKU9003173C9",
        "expires_at": 1861920000000,
        "expires_at_readable": "2029-01-01",
        "serial_number": "00001000000504465028",
        "sync_start_date": RECENT.isoformat(),
        "phone": "+5215512345678",
        "registered": True,
        "registered_at": 1706745600000,
    },
}


@pytest.fixture
async def fiel_server(serve) -> tuple[str, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        parts: dict[str, Any] = {}
        for name, value in form.items():
            if isinstance(value, web.FileField):
                parts[name] = (value.filename, value.content_type, value.file.read())
            else:
                parts[name] = value
        received.append(
            {
                "method": request.method,
                "path": request.path,
                "query": list(request.query.items()),
                "authorization": request.headers.get("Authorization"),
                "content_type": request.content_type,
                "parts": parts,
            }
        )
        return web.json_response(FIEL_RESPONSE)

    app = web.Application()
    app.router.add_post("/v2/invoices/download/fiel", handler)
    return await serve(app) + "/v2", received


@pytest.mark.parametrize("as_path", [False, True], ids=["bytes", "paths"])
async def test_upload_fiel_multipart(fiel_server, tmp_path: Path, api_key: str, as_path: bool):
    base, received = fiel_server
    cert: Any = CER
    key: Any = KEY
    if as_path:
        (tmp_path / "empresa.cer").write_bytes(CER)
        (tmp_path / "empresa.key").write_bytes(KEY)
        cert, key = tmp_path / "empresa.cer", str(tmp_path / "empresa.key")
    async with GigstackClient(api_key, base_url=base, team="team_42") as client:
        fiel = await client.downloads.upload_fiel(
            cert=cert,
            key=key,
            password=" contraseña con espacios ",
            sync_start_date=RECENT,
            phone="+52 1 55 1234 5678",
        )
    assert isinstance(fiel, Fiel)
    assert (fiel.rfc, fiel.registered, fiel.expires_at) == ("EKU9003173C9", True, 1861920000000)
    (request,) = received
    assert request["method"] == "POST"
    assert request["query"] == [("team", "team_42")]
    assert request["authorization"] == f"Bearer {api_key}"
    assert request["content_type"] == "multipart/form-data"
    assert request["parts"] == {
        "cert": ("fiel.cer", "application/octet-stream", CER),
        "key": ("fiel.key", "application/octet-stream", KEY),
        "password": " contraseña con espacios ",  # sent exactly as given
        "sync_start_date": RECENT.isoformat(),
        "phone": "+5215512345678",
    }


async def test_upload_fiel_without_optionals(fiel_server, api_key: str) -> None:
    base, received = fiel_server
    async with GigstackClient(api_key, base_url=base) as client:
        await client.downloads.upload_fiel(cert=bytearray(CER), key=KEY, password="s3creta")
    (request,) = received
    assert request["query"] == []
    assert set(request["parts"]) == {"cert", "key", "password"}


# ---------------------------------------------------------------------------- refused arguments


BadCall = Callable[[GigstackClient, Path], Awaitable[Any]]
OLD = add_months(TODAY, -72)


def _resolve(kw: dict[str, Any], tmp: Path) -> dict[str, Any]:
    # A callable value is a file name inside the test's tmp dir (see the fiel_files fixture).
    return {k: (tmp / v()) if callable(v) else v for k, v in kw.items()}


def fiel(**kw: Any) -> BadCall:
    base = {"cert": CER, "key": KEY, "password": "s3creta"}
    return lambda c, tmp: c.downloads.upload_fiel(**{**base, **_resolve(kw, tmp)})


def create(**kw: Any) -> BadCall:
    base = {"start_date": LAST_MONTH, "end_date": month_end(LAST_MONTH), "rfc_type": "received"}
    return lambda c, tmp: c.downloads.create_request(**{**base, **kw})


def schedule(**kw: Any) -> BadCall:
    return lambda c, tmp: c.downloads.save_schedule(**{"enabled": True, **kw})


def register(**kw: Any) -> BadCall:
    base = {"phone": "+5215512345678", "sync_start_date": RECENT}
    return lambda c, tmp: c.downloads.register(**{**base, **kw})


INVALID = InvalidParameterError
D = LAST_MONTH
BAD_CALLS: list[tuple[str, BadCall, type[Exception], str]] = [
    # create_request: dates, one-month range, 71-month window, enums
    (
        "range over a month",
        create(start_date="2024-01-15", end_date="2024-02-15"),
        INVALID,
        "end_date",
    ),
    ("end before start", create(start_date=D, end_date=D - timedelta(days=1)), INVALID, "end_date"),
    (
        "future end",
        # +2, not +1: TODAY is read when the module is imported, and a run that crosses
        # Mexico City's midnight would make TODAY + 1 today (it failed a CI run that way).
        create(start_date=TODAY, end_date=TODAY + timedelta(days=2)),
        INVALID,
        "end_date",
    ),
    ("start over 71 months back", create(start_date=OLD, end_date=OLD), INVALID, "start_date"),
    ("bad start string", create(start_date="2024/01/01"), INVALID, "start_date"),
    ("datetime start", create(start_date=datetime(2024, 1, 1)), TypeError, "start_date"),
    ("bad rfc_type", create(rfc_type="both"), INVALID, "rfc_type"),
    ("rfc_type not str", create(rfc_type=1), TypeError, "rfc_type"),
    ("bad request_type", create(request_type="xml"), INVALID, "request_type"),
    # save_schedule
    ("time 25:00", schedule(time="25:00"), INVALID, "time"),
    ("time 7:30", schedule(time="7:30"), INVALID, "time"),
    ("time with seconds", schedule(time="07:30:00"), INVALID, "time"),
    ("days_back 0", schedule(days_back=0), INVALID, "days_back"),
    ("days_back 91", schedule(days_back=91), INVALID, "days_back"),
    ("days_back True", schedule(days_back=True), TypeError, "days_back"),
    ("bad download type", schedule(download_types=["both"]), INVALID, "download_types"),
    ("no download types", schedule(download_types=[]), INVALID, "download_types"),
    ("enabled not bool", schedule(enabled="yes"), TypeError, "enabled"),
    # upload_fiel
    ("empty cert bytes", fiel(cert=b""), INVALID, "cert"),
    ("empty cert file", fiel(cert=lambda: "empty.cer"), INVALID, "cert"),
    ("PEM key bytes", fiel(key=PEM), INVALID, "key"),
    ("PEM cert file", fiel(cert=lambda: "fiel.pem"), INVALID, "cert"),
    ("not DER", fiel(key=b"hello world"), INVALID, "key"),
    ("missing file", fiel(cert=lambda: "nope.cer"), INVALID, "cert"),
    ("huge file", fiel(cert=lambda: "huge.cer"), INVALID, "cert"),
    ("cert of wrong type", fiel(cert=123), TypeError, "cert"),
    ("blank password", fiel(password="  "), INVALID, "password"),
    (
        "future sync start",
        fiel(sync_start_date=TODAY + timedelta(days=2)),  # +2: see "future end"
        INVALID,
        "sync_start_date",
    ),
    ("sync start over 71 months", fiel(sync_start_date=OLD), INVALID, "sync_start_date"),
    ("bad phone", fiel(phone="5512345678"), INVALID, "phone"),
    # register
    ("register US phone", register(phone="+1 555 123 4567"), INVALID, "phone"),
    (
        "register future start",
        register(sync_start_date=TODAY + timedelta(days=3)),
        INVALID,
        "sync_start_date",
    ),
    ("register empty name", register(legal_name=""), INVALID, "legal_name"),
    ("register cap 0", register(max_monthly_invoices=0), INVALID, "max_monthly_invoices"),
    # ids
    ("empty request id", lambda c, tmp: c.downloads.status(""), INVALID, "request_id"),
    ("request id None", lambda c, tmp: c.downloads.status(None), TypeError, "request_id"),
    ("blank package id", lambda c, tmp: c.downloads.package("  "), INVALID, "package_id"),
    ("bad uuid", lambda c, tmp: c.downloads.invoice_from_sat("6741A863"), INVALID, "uuid"),
]


@pytest.fixture
def fiel_files(tmp_path: Path) -> Path:
    (tmp_path / "empty.cer").write_bytes(b"")
    (tmp_path / "fiel.pem").write_bytes(PEM)
    (tmp_path / "huge.cer").write_bytes(b"\x30" + b"\x00" * (200 * 1024))
    return tmp_path


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [case[1:] for case in BAD_CALLS],
    ids=[case[0] for case in BAD_CALLS],
)
async def test_bad_arguments_never_reach_the_network(
    mock_client, fiel_files: Path, call: BadCall, error: type[Exception], field: str
) -> None:
    client, transport = mock_client([])
    with pytest.raises(error) as info:
        await call(client, fiel_files)
    assert field in str(info.value)
    if error is InvalidParameterError:
        assert info.value.field == field
        assert isinstance(info.value, ValueError)
    assert transport.requests == []


async def test_bad_arguments_reach_no_aiohttp_request(mocked, api_key: str, fiel_files: Path):
    async with GigstackClient(api_key) as client:
        for _, call, error, _ in BAD_CALLS:
            with pytest.raises(error):
                await call(client, fiel_files)
    assert sent(mocked) == []
