"""GigstackClient construction, options and connection lifecycle."""

from __future__ import annotations

import gc
import json
import logging
import math
import warnings
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gigstack_async import GigstackClient, InvalidParameterError, NotFoundError, Timeout
from gigstack_async.transports import Request, Response

DEFAULT_BASE = "https://api.gigstack.io/v2"
ACTIVATION_BODY = {
    "success": True,
    "data": {
        "status": "active",
        "planIncludesFeature": True,
        "isActivated": True,
        "pricing": {"perDownload": "$0.20 MXN", "addonMonthly": None},
    },
}


def ok(body: Any = ACTIVATION_BODY) -> Response:
    return Response(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GIGSTACK_API_KEY", raising=False)
    monkeypatch.delenv("GIGSTACK_BASE_URL", raising=False)


# ---------------------------------------------------------------------------- api key


@pytest.mark.usefixtures("no_env")
async def test_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, mock_client) -> None:
    monkeypatch.setenv("GIGSTACK_API_KEY", "sk_test_fromenv")
    client, transport = mock_client([ok()], api_key=None)
    await client.downloads.activation_status()
    assert transport.requests[0].headers["Authorization"] == "Bearer sk_test_fromenv"


@pytest.mark.usefixtures("no_env")
async def test_explicit_key_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, mock_client
) -> None:
    monkeypatch.setenv("GIGSTACK_API_KEY", "sk_test_fromenv")
    client, transport = mock_client([ok()], api_key="sk_test_explicit")
    await client.downloads.activation_status()
    assert transport.requests[0].headers["Authorization"] == "Bearer sk_test_explicit"


@pytest.mark.usefixtures("no_env")
@pytest.mark.parametrize("key", [None, "", "   ", "\n"])
def test_missing_or_blank_key_fails_at_construction(key: str | None) -> None:
    with pytest.raises(InvalidParameterError) as info:
        GigstackClient(key)
    assert info.value.field == "api_key"
    assert "api_key" in str(info.value)
    assert "GIGSTACK_API_KEY" in str(info.value)


@pytest.mark.usefixtures("no_env")
@pytest.mark.parametrize("key", ["sk_test abc", "sk_test\nX-Evil: 1", "sk_test\tabc", "sk\x00abc"])
def test_key_with_inner_whitespace_or_control_characters_is_rejected(key: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        GigstackClient(key)
    assert info.value.field == "api_key"


@pytest.mark.usefixtures("no_env")
async def test_surrounding_newline_is_never_sent(monkeypatch: pytest.MonkeyPatch, mock_client):
    # A key read from a file often ends in "\n": it must not reach the header as is.
    monkeypatch.setenv("GIGSTACK_API_KEY", "sk_test_fromfile\n")
    client, transport = mock_client([ok()], api_key=None)
    await client.downloads.activation_status()
    assert transport.requests[0].headers["Authorization"] == "Bearer sk_test_fromfile"


def test_non_string_key_raises_type_error() -> None:
    with pytest.raises(TypeError, match="api_key"):
        GigstackClient(12345)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- base url


@pytest.mark.parametrize(
    "url",
    [
        "api.gigstack.io/v2",
        "ftp://api.gigstack.io/v2",
        "https://",
        "https:///v2",
        "https://api.gigstack.io/v2?team=x",
        "https://api.gigstack.io/v2#frag",
    ],
)
def test_bad_base_url_is_rejected(url: str, api_key: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        GigstackClient(api_key, base_url=url)
    assert info.value.field == "base_url"


@pytest.mark.usefixtures("no_env")
async def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch, mock_client) -> None:
    monkeypatch.setenv("GIGSTACK_BASE_URL", "http://127.0.0.1:9/v2/")
    client, transport = mock_client([ok()])
    assert client.base_url == "http://127.0.0.1:9/v2"
    await client.downloads.activation_status()
    assert transport.requests[0].url == "http://127.0.0.1:9/v2/invoices/download/activate/status"


@pytest.mark.usefixtures("no_env")
async def test_default_base_url_and_explicit_wins_over_env(
    monkeypatch: pytest.MonkeyPatch, mock_client
) -> None:
    client, _ = mock_client([])
    assert client.base_url == DEFAULT_BASE
    monkeypatch.setenv("GIGSTACK_BASE_URL", "http://127.0.0.1:9/v2")
    client, _ = mock_client([], base_url="https://staging.example.com/v2/")
    assert client.base_url == "https://staging.example.com/v2"


@pytest.mark.usefixtures("no_env")
def test_bad_base_url_from_environment_is_rejected(
    monkeypatch: pytest.MonkeyPatch, api_key: str
) -> None:
    monkeypatch.setenv("GIGSTACK_BASE_URL", "api.gigstack.io")
    with pytest.raises(InvalidParameterError, match="base_url"):
        GigstackClient(api_key)


# ---------------------------------------------------------------------------- timeouts


def _finite(timeout: Timeout) -> bool:
    values = (timeout.connect, timeout.read, timeout.total)
    return all(isinstance(v, int | float) and math.isfinite(v) and v > 0 for v in values)


def test_default_timeouts_are_never_unlimited(api_key: str) -> None:
    assert _finite(Timeout())
    client = GigstackClient(api_key)
    assert _finite(client.timeout)


def test_a_number_is_the_total_deadline(api_key: str) -> None:
    client = GigstackClient(api_key, timeout=30)
    assert client.timeout.total == 30
    assert _finite(client.timeout)
    assert client.timeout.connect <= 30
    assert client.timeout.read <= 30


def test_a_timeout_object_is_kept(api_key: str) -> None:
    custom = Timeout(connect=1, read=2, total=3)
    assert GigstackClient(api_key, timeout=custom).timeout == custom


@pytest.mark.parametrize("value", [0, -1, True, "30"])
def test_bad_timeout_is_rejected(value: Any, api_key: str) -> None:
    with pytest.raises((InvalidParameterError, TypeError), match="timeout"):
        GigstackClient(api_key, timeout=value)


@pytest.mark.parametrize("make", [lambda: float("nan"), lambda: Timeout(total=float("nan"))])
def test_nan_timeout_is_rejected_at_construction(make: Any, api_key: str) -> None:
    with pytest.raises(ValueError, match=r"timeout|total"):
        GigstackClient(api_key, timeout=make())


@pytest.mark.parametrize("field", ["connect", "read", "total"])
def test_timeout_parts_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Timeout(**{field: 0})


async def test_requests_carry_finite_socket_timeouts(api_key: str, fake_http: Any) -> None:
    fake_http.get(DEFAULT_BASE + "/invoices/download/activate/status", payload=ACTIVATION_BODY)
    async with GigstackClient(api_key) as client:
        await client.downloads.activation_status()
    ((call,),) = fake_http.requests.values()
    timeout: aiohttp.ClientTimeout = call.kwargs["timeout"]
    for value in (timeout.sock_connect, timeout.sock_read):
        assert value is not None
        assert math.isfinite(value)


# ---------------------------------------------------------------------------- counts, exclusivity


@pytest.mark.parametrize("field", ["max_retries", "max_in_flight"])
@pytest.mark.parametrize("value", [True, "2", 1.5, None])
def test_counts_must_be_ints(field: str, value: Any, api_key: str) -> None:
    with pytest.raises(TypeError, match=field):
        GigstackClient(api_key, **{field: value})


@pytest.mark.parametrize(("field", "value"), [("max_retries", -1), ("max_in_flight", 0)])
def test_counts_out_of_range(field: str, value: int, api_key: str) -> None:
    with pytest.raises(InvalidParameterError) as info:
        GigstackClient(api_key, **{field: value})
    assert info.value.field == field


def test_max_retries_zero_is_allowed(api_key: str) -> None:
    assert GigstackClient(api_key, max_retries=0).max_retries == 0


@pytest.mark.parametrize("team", ["", "   ", 5])
def test_bad_team_is_rejected(team: Any, api_key: str) -> None:
    with pytest.raises(InvalidParameterError, match="team"):
        GigstackClient(api_key, team=team)


async def test_session_and_transport_together_are_rejected(api_key: str, mock_client) -> None:
    _, transport = mock_client([])
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidParameterError, match="session"):
            GigstackClient(api_key, session=session, transport=transport)


# ---------------------------------------------------------------------------- with_options


async def test_with_options_shares_the_transport_and_leaves_the_original_alone(
    mock_client,
) -> None:
    client, transport = mock_client([ok(), ok()], timeout=100, max_retries=2)
    other = client.with_options(team="team_other", timeout=5, max_retries=4)

    assert (other.team, other.timeout.total, other.max_retries) == ("team_other", 5, 4)
    assert (client.team, client.timeout.total, client.max_retries) == (None, 100, 2)

    await other.downloads.activation_status()
    await client.downloads.activation_status()
    first, second = transport.requests  # both went through the one transport
    assert first.params == (("team", "team_other"),)
    assert second.params == ()
    assert first.headers["Authorization"] == second.headers["Authorization"]


async def test_with_options_validates(mock_client) -> None:
    client, _ = mock_client([])
    with pytest.raises(InvalidParameterError, match="team"):
        client.with_options(team="")
    with pytest.raises(InvalidParameterError, match="timeout"):
        client.with_options(timeout=-1)
    with pytest.raises(InvalidParameterError, match="max_retries"):
        client.with_options(max_retries=-1)


async def test_closing_a_clone_keeps_the_original_usable(api_key: str, fake_http: Any) -> None:
    url = DEFAULT_BASE + "/invoices/download/activate/status"
    fake_http.get(url, payload=ACTIVATION_BODY)
    fake_http.get(url, payload=ACTIVATION_BODY)
    async with GigstackClient(api_key) as client:
        await client.downloads.activation_status()
        clone = client.with_options(max_retries=0)
        await clone.aclose()
        status = await client.downloads.activation_status()
    assert status.is_activated is True


# ---------------------------------------------------------------------------- lifecycle


async def test_async_with_closes_the_session_it_created(
    monkeypatch: pytest.MonkeyPatch, api_key: str, fake_http: Any
) -> None:
    created: list[aiohttp.ClientSession] = []
    real_session = aiohttp.ClientSession

    def recording_session(*args: Any, **kwargs: Any) -> aiohttp.ClientSession:
        session = real_session(*args, **kwargs)
        created.append(session)
        return session

    monkeypatch.setattr(aiohttp, "ClientSession", recording_session)
    fake_http.get(DEFAULT_BASE + "/invoices/download/activate/status", payload=ACTIVATION_BODY)
    async with GigstackClient(api_key) as client:
        await client.downloads.activation_status()
        (session,) = created
        assert not session.closed
    assert session.closed


async def test_aclose_before_any_request_is_harmless(api_key: str) -> None:
    client = GigstackClient(api_key)
    await client.aclose()
    await client.aclose()


def _count_requests(counter: list[str]) -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    async def on_start(session: Any, context: Any, params: Any) -> None:
        counter.append(str(params.url))

    trace.on_request_start.append(on_start)
    return trace


async def test_user_session_is_used_and_never_closed(serve, api_key: str) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", "none"))
        return web.json_response(ACTIVATION_BODY)

    app = web.Application()
    app.router.add_get("/v2/invoices/download/activate/status", handler)
    base = await serve(app)

    through_session: list[str] = []
    async with aiohttp.ClientSession(trace_configs=[_count_requests(through_session)]) as session:
        async with GigstackClient(api_key, base_url=base + "/v2", session=session) as client:
            status = await client.downloads.activation_status()
        assert status.is_activated is True
        assert through_session == [base + "/v2/invoices/download/activate/status"]
        assert seen == [f"Bearer {api_key}"]  # our request, through their session
        assert not session.closed  # the client did not close what it did not open
        async with session.get(base + "/v2/invoices/download/activate/status") as response:
            assert response.status == 200  # and the caller can keep using it


async def test_no_unclosed_session_is_left_behind(
    api_key: str, caplog: pytest.LogCaptureFixture, fake_http: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        url = DEFAULT_BASE + "/invoices/download/activate/status"
        fake_http.get(url, payload=ACTIVATION_BODY)
        async with GigstackClient(api_key) as client:
            await client.downloads.activation_status()
        del client
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert "Unclosed" not in caplog.text


async def test_repr_shows_settings_only(mock_client) -> None:
    client, _ = mock_client([], team="team_1")
    assert repr(client) == f"GigstackClient(base_url={DEFAULT_BASE!r}, team='team_1')"


async def test_mock_transport_requests_are_recorded(mock_client) -> None:
    client, transport = mock_client([ok()])
    await client.downloads.activation_status()
    (request,) = transport.requests
    assert isinstance(request, Request)
    assert request.method == "GET"


# ------------------------------------------------------------------ generated namespaces


def test_every_namespace_of_the_spec_is_a_client_attribute(api_key: str) -> None:
    from codegen.spec import load_bundle, operations
    from gigstack_async.resources import Downloads, Invoices, Retentions, SatInvoices

    client = GigstackClient(api_key=api_key)
    for _path, _method, op in operations(load_bundle()):
        target: object = client
        for part in op["x-gigstack-resource"].split("."):
            target = getattr(target, part)
        assert callable(getattr(target, op["x-gigstack-method"])), op["operationId"]
    for name, cls in {
        "sat_invoices": SatInvoices,
        "downloads": Downloads,
        "invoices": Invoices,
        "retentions": Retentions,
    }.items():
        assert type(getattr(client, name)) is cls  # the hand-written subclass, not the base
    for name in ("clients", "services", "payments", "receipts", "teams", "users", "webhooks"):
        assert hasattr(client, name)
    for sub in ("income", "egress", "drafts", "payment_complements"):
        assert hasattr(client.invoices, sub)


async def test_with_options_rebinds_the_generated_namespaces(mock_client) -> None:
    import json as _json

    from gigstack_async.transports.base import Response

    answer = Response(200, {}, _json.dumps({"data": [], "has_more": False}).encode())
    client, transport = mock_client(lambda request: answer)
    other = client.with_options(team="team_other")
    assert other.clients is not client.clients
    await other.clients.list(limit=5)
    await client.clients.list(limit=5)
    params = [dict(request.params) for request in transport.requests]
    assert params[0]["team"] == "team_other"
    assert "team" not in params[1]
    assert params[0]["limit"] == "5"


# ---------------------------------------------------------------------------- base URL hint


def _no_route(request: Request) -> Response:
    body = {"success": False, "error": f"No route for {request.url.split('/', 3)[3]}"}
    return Response(404, {"Content-Type": "application/json"}, json.dumps(body).encode())


async def test_a_404_from_a_base_url_without_v2_suggests_it(mock_client) -> None:
    client, _ = mock_client(_no_route, base_url="http://127.0.0.1:8765")

    with pytest.raises(NotFoundError) as caught:
        await client.downloads.history()

    # Before: "No route for invoices/download/schedule/history" and nothing else.
    assert str(caught.value).endswith(
        "(the base URL has no /v2: did you mean http://127.0.0.1:8765/v2 ?)"
    )
    assert caught.value.status == 404


async def test_a_404_from_a_v2_base_url_has_no_hint(mock_client) -> None:
    client, _ = mock_client(_no_route, base_url="http://127.0.0.1:8765/v2/")

    with pytest.raises(NotFoundError) as caught:
        await client.downloads.history()

    assert "/v2" not in str(caught.value).partition("No route for")[0]
    assert "did you mean" not in str(caught.value)
