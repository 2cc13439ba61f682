"""The exact wire, as gigstack's own client sends it: path segments, body-less POSTs, UUID case,
resumable listing cursors and Retry-After headers (issue 10 §2)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from gigstack_async import GigstackClient, InvalidParameterError
from gigstack_async._generated import operations as ops
from gigstack_async._operation import Operation
from gigstack_async._pipeline import encode_path_param, parse_retry_after
from gigstack_async.transports import Request, Response

UUID = "6741a863-04BE-49fe-BB76-e1657ab6b7ea"  # mixed case on purpose

ALL_OPERATIONS = [v for v in vars(ops).values() if isinstance(v, Operation)]
WITH_PATH_PARAMS = [op for op in ALL_OPERATIONS if op.path_params]


def ok(body: Any = None) -> Response:
    payload = {"success": True, "data": {}} if body is None else body
    return Response(200, {"Content-Type": "application/json"}, json.dumps(payload).encode())


# ---------------------------------------------------------------------------- path parameters


def test_the_table_has_path_parameters_to_check() -> None:
    # Guards the parametrisation below from silently checking nothing.
    assert {op.operation_id for op in WITH_PATH_PARAMS} >= {
        "getDownloadRequestStatus",
        "downloadPackage",
        "getSatInvoice",
    }


@pytest.mark.parametrize("op", WITH_PATH_PARAMS, ids=lambda op: op.operation_id)
@pytest.mark.parametrize("bad", ["", ".", "..", " ", " .. "])
async def test_every_path_parameter_refuses_dot_segments(
    mock_client, op: Operation, bad: str
) -> None:
    client, transport = mock_client([])
    params = dict.fromkeys(op.path_params, "ok")
    params[op.path_params[0]] = bad
    with pytest.raises(InvalidParameterError) as info:
        client._pipeline.build_request(op, path_params=params)
    assert "'.'" in str(info.value)
    assert transport.requests == []


@pytest.mark.parametrize("op", WITH_PATH_PARAMS, ids=lambda op: op.operation_id)
@pytest.mark.parametrize(
    ("given", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("../x", "..%2Fx"),
        ("%2E%2E", "%252E%252E"),
        ("q?x#y", "q%3Fx%23y"),
        ("...", "..."),
        ("Ab-Cd_01", "Ab-Cd_01"),
    ],
)
def test_every_path_parameter_is_one_percent_encoded_segment(
    op: Operation, given: str, segment: str
) -> None:
    assert encode_path_param(op.path_params[0], given) == segment


def test_path_parameter_errors_name_the_python_argument() -> None:
    with pytest.raises(InvalidParameterError) as info:
        encode_path_param("requestId", "..")
    assert info.value.field == "request_id"
    with pytest.raises(TypeError, match="package_id"):
        encode_path_param("packageId", 7)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.downloads.status(".."),
        lambda c: c.downloads.status("."),
        lambda c: c.downloads.package("."),
        lambda c: c.downloads.package(".."),
    ],
)
async def test_public_methods_refuse_dot_segments_before_sending(mock_client, call) -> None:
    client, transport = mock_client([])
    with pytest.raises(InvalidParameterError):
        await call(client)
    assert transport.requests == []


async def _recording_server(
    serve: Callable[[web.Application], Awaitable[str]], answer: dict[str, Any]
) -> tuple[str, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(
            {
                "method": request.method,
                "raw_path": request.raw_path,
                "content_type": request.headers.get("Content-Type"),
                "content_length": request.headers.get("Content-Length"),
                "body": await request.read(),
            }
        )
        return web.json_response(answer)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return await serve(app), seen


async def test_segments_reach_the_server_unresolved(serve, api_key: str) -> None:
    # Over the real transport: yarl must not turn an encoded segment back into a path.
    answer = {"success": True, "data": {"content": ""}}
    base, seen = await _recording_server(serve, answer)
    async with GigstackClient(api_key, base_url=base + "/v2") as client:
        await client.downloads.status("../../invoices/sat")
        await client.downloads.package("a b/c%2E")
    assert [s["raw_path"] for s in seen] == [
        "/v2/invoices/download/status/..%2F..%2Finvoices%2Fsat",
        "/v2/invoices/download/package/a%20b%2Fc%252E",
    ]


# ---------------------------------------------------------------------------- body-less POSTs

BODYLESS = {
    "activate": lambda c: c.downloads.activate(),
    "deactivate": lambda c: c.downloads.deactivate(),
    "retry_xml": lambda c: c.sat_invoices.retry_xml(UUID),
    "pdf": lambda c: c.sat_invoices.pdf(UUID),
}


@pytest.mark.parametrize("name", BODYLESS)
async def test_bodyless_posts_go_out_as_empty_json(serve, api_key: str, name: str) -> None:
    answer = {"success": True, "message": "ok", "data": {}, "pdf": "JVBERi0xLjQK"}
    base, seen = await _recording_server(serve, answer)
    async with GigstackClient(api_key, base_url=base + "/v2") as client:
        await BODYLESS[name](client)
    ((request,),) = [seen]
    assert request["method"] == "POST"
    assert request["content_type"] == "application/json"  # was application/octet-stream
    assert request["body"] == b""
    assert request["content_length"] in ("0", None)


@pytest.mark.parametrize(
    "op",
    [op for op in ALL_OPERATIONS if op.method in ("POST", "PUT", "PATCH") and op.body is None],
    ids=lambda op: op.operation_id,
)
def test_every_bodyless_write_declares_json(mock_client, op: Operation) -> None:
    client, _ = mock_client([])
    request = client._pipeline.build_request(op, path_params=dict.fromkeys(op.path_params, UUID))
    assert request.headers["Content-Type"] == "application/json"
    assert request.json is None


def test_gets_declare_no_content_type(mock_client) -> None:
    client, _ = mock_client([])
    request = client._pipeline.build_request(ops.GET_DOWNLOAD_HISTORY)
    assert "Content-Type" not in request.headers


# ---------------------------------------------------------------------------- UUID case

UUID_CALLS = {
    "get": (lambda c: c.sat_invoices.get(UUID), "/invoices/sat/{}"),
    "retry_xml": (lambda c: c.sat_invoices.retry_xml(UUID), "/invoices/sat/{}/retry-xml"),
    "pdf": (lambda c: c.sat_invoices.pdf(UUID), "/invoices/sat/{}/pdf"),
    "invoice_from_sat": (
        lambda c: c.downloads.invoice_from_sat(UUID),
        "/invoices/download/invoice/{}",
    ),
}


@pytest.mark.parametrize("name", UUID_CALLS)
async def test_uuids_in_paths_are_sent_as_given(mock_client, name: str) -> None:
    call, path = UUID_CALLS[name]
    body = {"success": True, "data": {"uuid": UUID}, "pdf": "JVBERi0xLjQK", "message": "ok"}
    client, transport = mock_client([ok(body)])
    await call(client)
    (request,) = transport.requests
    assert request.url.endswith(path.format(UUID))


# ---------------------------------------------------------------------------- listing cursor


async def test_list_starts_after_a_saved_cursor(mock_client) -> None:
    page1 = {"data": [], "has_more": True, "next": "CUR-2"}
    page2 = {"data": [], "has_more": False, "next": None}
    client, transport = mock_client([ok(page1), ok(page2)])
    pages = [p async for p in client.sat_invoices.list(starting_after="CUR-1").pages()]
    assert len(pages) == 2
    cursors = [dict(r.params).get("starting_after") for r in transport.requests]
    assert cursors == ["CUR-1", "CUR-2"]


async def test_list_without_a_cursor_sends_none(mock_client) -> None:
    client, transport = mock_client([ok({"data": [], "has_more": False})])
    await client.sat_invoices.list()
    assert "starting_after" not in dict(transport.requests[0].params)


@pytest.mark.parametrize("bad", ["", "  "])
def test_list_refuses_an_empty_cursor(mock_client, bad: str) -> None:
    client, _ = mock_client([])
    with pytest.raises(InvalidParameterError, match="starting_after"):
        client.sat_invoices.list(starting_after=bad)


# ---------------------------------------------------------------------------- Retry-After


def _headers(**headers: str) -> Response:
    return Response(429, {k.replace("_", "-"): v for k, v in headers.items()})


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "-5", "", "soon", "1e400"])
def test_an_invalid_retry_after_ms_leaves_retry_after_in_charge(bad: str) -> None:
    assert parse_retry_after(_headers(retry_after_ms=bad, Retry_After="4")) == 4.0


@pytest.mark.parametrize("bad", ["nan", "inf", "-1", "soon"])
def test_invalid_values_alone_mean_no_hint(bad: str) -> None:
    assert parse_retry_after(_headers(retry_after_ms=bad)) is None
    assert parse_retry_after(_headers(Retry_After=bad)) is None


async def test_retry_after_ms_nan_does_not_make_the_wait_zero(mock_client, sleeps) -> None:
    failure = Response(
        503,
        {"Content-Type": "application/json", "retry-after-ms": "nan", "Retry-After": "2"},
        b'{"success": false}',
    )
    client, _ = mock_client([failure, ok({"data": [], "has_more": False})])
    await client.sat_invoices.list()
    assert sleeps == [2.0]


async def test_request_shape_is_unchanged_for_queries(mock_client) -> None:
    client, transport = mock_client([ok({"data": [], "has_more": False})])
    await client.sat_invoices.list(direction="received", limit=5)
    (request,) = transport.requests
    assert isinstance(request, Request)
    assert dict(request.params) == {"direction": "received", "limit": "5"}
