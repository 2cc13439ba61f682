"""Fetching packages through the client: decoded, verified, extracted safely."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gigstack_async import GigstackClient, PollSchedule
from gigstack_async.cfdi import summarize_package
from gigstack_async.packages import CorruptPackageError, UnsafePackageError, iter_package
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.transports import MockTransport, Request, Response


@pytest.fixture
async def completed() -> AsyncIterator[tuple[Sandbox, GigstackClient, str]]:
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=5)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        created = await client.downloads.create_request(
            start_date="2025-05-01", end_date="2025-05-31", rfc_type="received"
        )
        await client.downloads.wait(created.request_id, poll=PollSchedule(initial=0.02))
        yield sandbox, client, created.request_id


async def test_fetch_package_gives_verified_zip_bytes(
    completed: tuple[Sandbox, GigstackClient, str],
) -> None:
    sandbox, client, request_id = completed
    status = await client.downloads.status(request_id)
    assert status.package_ids
    files = []
    for package_id in status.package_ids:
        files.extend(iter_package(await client.downloads.fetch_package(package_id)))
    summary = summarize_package(files)
    assert summary.uuids == {u.upper() for u in sandbox.state.ground_truth[request_id]}


async def test_extract_package_writes_every_cfdi(
    completed: tuple[Sandbox, GigstackClient, str], tmp_path: Path
) -> None:
    sandbox, client, request_id = completed
    status = await client.downloads.status(request_id)
    written: set[str] = set()
    for package_id in status.package_ids or []:
        result = await client.downloads.extract_package(package_id, tmp_path)
        written |= {f.path.stem for f in result.files}
    assert written == set(sandbox.state.ground_truth[request_id])
    assert {p.name for p in tmp_path.iterdir()} == {f"{u}.xml" for u in written}


def _package_response(zip_bytes: bytes) -> Response:
    content = base64.b64encode(zip_bytes).decode()
    body = f'{{"success": true, "data": {{"encoding": "base64", "content": "{content}"}}}}'
    return Response(200, {"Content-Type": "application/json"}, body.encode())


def _zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


async def test_a_zip_slip_package_writes_nothing(tmp_path: Path) -> None:
    def handler(request: Request) -> Response:
        return _package_response(_zip("../evil.xml", b"<x/>"))

    async with GigstackClient("sk_test_x", transport=MockTransport(handler)) as client:
        with pytest.raises(UnsafePackageError, match=r"\.\./evil\.xml"):
            await client.downloads.extract_package("p_01", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "evil.xml").exists()


async def test_a_corrupt_package_is_refused_before_use() -> None:
    good = bytearray(_zip("A.xml", b"<cfdi/>" * 50))
    good[40] ^= 0xFF  # inside the compressed data

    def handler(request: Request) -> Response:
        return _package_response(bytes(good))

    async with GigstackClient("sk_test_x", transport=MockTransport(handler)) as client:
        with pytest.raises(CorruptPackageError):
            await client.downloads.fetch_package("p_01")
