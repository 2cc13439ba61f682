"""Invoice files: bytes or streamed to a path, fetched without the API key, atomically written."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gigstack_async import GigstackClient
from gigstack_async.errors import APIResponseValidationError, APIStatusError, InvalidParameterError
from gigstack_async.transports.base import Request, Response

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 64
STORAGE = "https://storage.gigstack.test/invoices/invoice_1.pdf?sig=s3cr3t"


def _json(body: Any, status: int = 200) -> Response:
    return Response(status, {"content-type": "application/json"}, json.dumps(body).encode())


def _files_then(*answers: Response, pdf: str | None = STORAGE) -> Any:
    queue = [_json({"message": "ok", "data": {"pdf": pdf}}), *answers]

    def handler(request: Request) -> Response:
        return queue.pop(0)

    return handler


async def test_the_pdf_comes_as_bytes_without_the_api_key(mock_client, api_key) -> None:
    client, transport = mock_client(_files_then(Response(200, {}, PDF)))
    assert await client.invoices.download("invoice_1") == PDF
    files, download = transport.requests
    assert files.url.endswith("/invoices/invoice_1/files")
    assert ("file_type", "pdf") in files.params
    assert download.url == STORAGE
    assert "Authorization" not in download.headers  # never the key to the storage host
    assert api_key not in json.dumps(dict(download.headers))


async def test_a_path_receives_the_whole_file_or_nothing(mock_client, tmp_path: Path) -> None:
    client, _ = mock_client(_files_then(Response(200, {}, PDF)))
    target = tmp_path / "factura.pdf"
    assert await client.invoices.download("invoice_1", "pdf", to=target) == target
    assert target.read_bytes() == PDF
    assert [p.name for p in tmp_path.iterdir()] == ["factura.pdf"]

    client, _ = mock_client(_files_then(Response(404, {}, b'{"message": "gone"}')))
    with pytest.raises(APIStatusError):
        await client.invoices.download("invoice_1", to=tmp_path / "other.pdf")
    assert [p.name for p in tmp_path.iterdir()] == ["factura.pdf"]  # no partial file


async def test_redirects_are_followed_and_transient_errors_retried(mock_client, sleeps) -> None:
    moved = Response(302, {"Location": "https://cdn.gigstack.test/f.pdf"}, b"")
    client, transport = mock_client(
        _files_then(moved, Response(503, {}, b""), Response(200, {}, PDF))
    )
    assert await client.invoices.download("invoice_1") == PDF
    assert [r.url for r in transport.requests[1:]] == [
        STORAGE,
        "https://cdn.gigstack.test/f.pdf",
        "https://cdn.gigstack.test/f.pdf",
    ]


async def test_inline_base64_and_xml_answers_are_accepted(mock_client, tmp_path: Path) -> None:
    encoded = base64.b64encode(PDF).decode()
    client, transport = mock_client(_files_then(pdf=encoded))
    assert await client.retentions.download("ret_1") == PDF
    assert len(transport.requests) == 1
    xml = '<?xml version="1.0"?><retenciones:Retenciones/>'
    answer = _json({"data": {"xml": xml}})
    client, _ = mock_client([answer])
    path = await client.retentions.download("ret_1", "xml", to=tmp_path / "r.xml")
    assert path.read_text() == xml


async def test_no_file_offered_and_bad_arguments_are_clear_errors(mock_client) -> None:
    client, transport = mock_client(_files_then(pdf=None))
    with pytest.raises(APIResponseValidationError, match="no invoice pdf"):
        await client.invoices.download("invoice_1")
    with pytest.raises(InvalidParameterError, match="file_type"):
        await client.invoices.download("invoice_1", "zip")  # type: ignore[call-overload]
    with pytest.raises(InvalidParameterError, match="id"):
        await client.invoices.download("")
    assert len(transport.requests) == 1


async def test_the_aiohttp_transport_streams_to_disk(serve, api_key, tmp_path: Path) -> None:
    seen: list[str | None] = []

    async def files(request: web.Request) -> web.Response:
        url = f"{request.scheme}://{request.host}/storage/f.pdf"
        return web.json_response({"data": {"pdf": url}})

    async def storage(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Authorization"))
        response = web.StreamResponse()
        await response.prepare(request)
        for start in range(0, len(PDF), 1000):
            await response.write(PDF[start : start + 1000])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/v2/invoices/{id}/files", files)
    app.router.add_get("/storage/f.pdf", storage)
    base = await serve(app)
    async with GigstackClient(api_key=api_key, base_url=base + "/v2") as client:
        target = await client.invoices.download("invoice_1", to=tmp_path / "f.pdf")
        assert target.read_bytes() == PDF
        assert await client.invoices.download("invoice_1") == PDF
    assert seen == [None, None]  # same host, but outside base_url: no key
