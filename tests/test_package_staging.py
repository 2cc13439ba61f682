"""Streaming a package to disk (`fetch_package_to`) and extracting from the staged copy.

A package download is a limited resource (SAT serves each package twice), so these tests pin
down: the envelope is decoded as it streams, a broken download is never retried and leaves
nothing at the destination, and extraction from the staged ZIP is idempotent.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gigstack_async import GigstackClient, PollSchedule
from gigstack_async._package_stream import EnvelopeError, EnvelopeScanner
from gigstack_async.errors import (
    APIResponseValidationError,
    APIStatusError,
    BadRequestError,
    DownloadInterruptedError,
    InternalServerError,
    NotFoundError,
)
from gigstack_async.packages import (
    CorruptPackageError,
    ExtractConflictError,
    PackageDecodeError,
    UnsafePackageError,
    extract_staged,
    verify_staged,
)
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.transports import ConnectError, MockTransport, Request, Response

# ---------------------------------------------------------------- helpers


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _envelope(zip_bytes: bytes, *, escape_slashes: bool = False, **extra: object) -> bytes:
    content = base64.b64encode(zip_bytes).decode()
    if escape_slashes:
        content = content.replace("/", "\\/")
    data = {"package_id": "P_01", "encoding": "base64", **extra}
    head = json.dumps({"success": True, "data": data})[:-2]  # open: add content last
    return f'{head}, "content": "{content}"}}}}'.encode()


def _temps(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


ZIP = _zip({f"{i:04d}.xml": (b"<cfdi:Comprobante/>" * 40 + bytes([i])) for i in range(30)})


@pytest.fixture
async def completed() -> AsyncIterator[tuple[Sandbox, GigstackClient, str]]:
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        created = await client.downloads.create_request(
            start_date="2025-05-01", end_date="2025-05-31", rfc_type="issued"
        )
        await client.downloads.wait(created.request_id, poll=PollSchedule(initial=0.02))
        status = await client.downloads.status(created.request_id)
        assert status.package_ids
        yield sandbox, client, status.package_ids[0]


# ---------------------------------------------------------------- fetch_package_to, real HTTP


async def test_fetch_package_to_stages_a_verified_zip(completed, tmp_path: Path) -> None:
    sandbox, client, package_id = completed
    dest = tmp_path / "stage" / f"{package_id}.zip"

    staged = await client.downloads.fetch_package_to(package_id, dest)

    data = dest.read_bytes()
    assert staged.path == dest
    assert staged.size == len(data)
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    with zipfile.ZipFile(dest) as archive:
        uuids = {Path(name).stem for name in archive.namelist()}
    request_id = package_id.rsplit("_", 1)[0]
    assert uuids == set(sandbox.state.ground_truth[request_id])
    assert _temps(dest.parent) == []
    assert sandbox.state.downloads_per_package()[package_id] == 1


@pytest.mark.parametrize(("fault", "served"), [("after_truncate", True), ("after_drop", False)])
async def test_a_broken_package_download_is_not_retried_and_leaves_nothing(
    completed, tmp_path: Path, fault: str, served: bool
) -> None:
    sandbox, client, package_id = completed
    sandbox.state.force_fault("downloadPackage", fault)
    dest = tmp_path / "p.zip"

    with pytest.raises(DownloadInterruptedError, match="not retried") as info:
        await client.downloads.fetch_package_to(package_id, dest)
    # A 200 cut short was served; a connection dropped before any answer cannot tell.
    assert info.value.served is served

    assert len(sandbox.state.calls_to("downloadPackage")) == 1  # one attempt, no retry
    assert sandbox.state.downloads_per_package()[package_id] == 1  # SAT counted it
    assert not dest.exists()
    assert os.listdir(tmp_path) == []  # no temp file either


async def test_the_bytes_api_does_not_retry_a_truncated_package_either(completed) -> None:
    # Regression: a truncated 200 used to be retried twice, spending SAT's whole budget (5008).
    sandbox, client, package_id = completed
    sandbox.state.force_fault("downloadPackage", "after_truncate")

    with pytest.raises(DownloadInterruptedError):
        await client.downloads.fetch_package(package_id)

    assert len(sandbox.state.calls_to("downloadPackage")) == 1
    data = await client.downloads.fetch_package(package_id)  # the one download left
    assert data.startswith(b"PK")
    with pytest.raises(BadRequestError, match="5008"):
        await client.downloads.fetch_package(package_id)


async def test_a_truncated_200_keeps_the_old_staged_copy(completed, tmp_path: Path) -> None:
    sandbox, client, package_id = completed
    dest = tmp_path / "p.zip"
    first = await client.downloads.fetch_package_to(package_id, dest)
    sandbox.state.force_fault("downloadPackage", "after_truncate")

    with pytest.raises(DownloadInterruptedError):
        await client.downloads.fetch_package_to(package_id, dest)

    assert hashlib.sha256(dest.read_bytes()).hexdigest() == first.sha256
    assert _temps(tmp_path) == []


async def test_sat_download_limit_and_expiry_are_typed_errors(completed, tmp_path: Path) -> None:
    sandbox, client, package_id = completed
    for n in range(2):
        await client.downloads.fetch_package_to(package_id, tmp_path / f"{n}.zip")

    with pytest.raises(BadRequestError, match="5008"):
        await client.downloads.fetch_package_to(package_id, tmp_path / "third.zip")
    sandbox.clock.advance(73 * 3600)
    with pytest.raises(NotFoundError, match="5007"):
        await client.downloads.fetch_package_to(package_id, tmp_path / "late.zip")

    assert sorted(os.listdir(tmp_path)) == ["0.zip", "1.zip"]


@pytest.mark.parametrize("kind", ["503", "502", "429"])
async def test_no_error_status_is_retried_for_a_package(completed, tmp_path, kind) -> None:
    sandbox, client, package_id = completed
    sandbox.state.force_fault("downloadPackage", kind)

    with pytest.raises(APIStatusError):
        await client.downloads.fetch_package_to(package_id, tmp_path / "p.zip")
    sandbox.state.force_fault("downloadPackage", kind)
    with pytest.raises(APIStatusError):
        await client.downloads.fetch_package(package_id)  # the bytes API honours it too

    assert len(sandbox.state.calls_to("downloadPackage")) == 2


# ---------------------------------------------------------------- fetch_package_to, mock transport


def _client(handler) -> GigstackClient:
    return GigstackClient("sk_test_x", transport=MockTransport(handler))


async def test_mock_transport_streams_too(tmp_path: Path) -> None:
    async with _client(lambda request: Response(200, {}, _envelope(ZIP))) as client:
        staged = await client.downloads.fetch_package_to("P_01", tmp_path / "p.zip")
    assert (tmp_path / "p.zip").read_bytes() == ZIP
    assert staged.size == len(ZIP)


async def test_a_transport_without_stream_falls_back_to_send(tmp_path: Path) -> None:
    class Plain:
        async def send(self, request: Request) -> Response:
            return Response(200, {}, _envelope(ZIP, escape_slashes=True))

        async def aclose(self) -> None:
            return None

    async with GigstackClient("sk_test_x", transport=Plain()) as client:
        await client.downloads.fetch_package_to("P_01", tmp_path / "p.zip")
    assert (tmp_path / "p.zip").read_bytes() == ZIP


async def test_a_connect_error_is_retried_because_nothing_was_sent(tmp_path: Path) -> None:
    calls = []

    def handler(request: Request) -> Response:
        calls.append(request)
        if len(calls) == 1:
            raise ConnectError("refused")
        return Response(200, {}, _envelope(ZIP))

    async with GigstackClient(
        "sk_test_x", transport=MockTransport(handler), max_retries=2
    ) as client:
        await client.downloads.fetch_package_to("P_01", tmp_path / "p.zip")
    assert len(calls) == 2
    assert calls[0].resend_safe is False  # aiohttp must not silently resend it either


async def test_a_500_is_not_retried(tmp_path: Path) -> None:
    calls = []

    def handler(request: Request) -> Response:
        calls.append(request)
        return Response(500, {}, b'{"success": false, "error": {"code": "internal_server_error"}}')

    async with _client(handler) as client:
        with pytest.raises(InternalServerError):
            await client.downloads.fetch_package_to("P_01", tmp_path / "p.zip")
    assert len(calls) == 1
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (_envelope(_zip({"../evil.xml": b"x"})), UnsafePackageError),
        (_envelope(ZIP[:-30]), CorruptPackageError),
        (_envelope(ZIP).replace(b'"base64"', b'"hex"'), PackageDecodeError),
        (_envelope(ZIP).replace(b'", "content": "UEs', b'", "content": "U*s'), PackageDecodeError),
        (b'{"success": true, "data": {"encoding": "base64"}}', APIResponseValidationError),
        (b'{"success": false, "message": "no", "error": "forbidden"}', APIStatusError),
        (b"<html>bad gateway</html>", APIResponseValidationError),
        (_envelope(ZIP)[:-40], DownloadInterruptedError),  # a 200 cut short, no Content-Length
    ],
)
async def test_bad_package_answers_leave_nothing(tmp_path: Path, body: bytes, error) -> None:
    async with _client(lambda request: Response(200, {}, body)) as client:
        with pytest.raises(error) as info:
            await client.downloads.fetch_package_to("P_01", tmp_path / "p.zip")
    assert os.listdir(tmp_path) == []
    if isinstance(info.value, DownloadInterruptedError):
        assert info.value.served is True  # a 200 whose body ended early: SAT served it


async def test_dest_must_be_a_file_path(tmp_path: Path) -> None:
    calls = []
    async with _client(lambda request: calls.append(request) or Response(200, {})) as client:
        with pytest.raises(ValueError, match="folder"):
            await client.downloads.fetch_package_to("P_01", tmp_path)
    assert calls == []  # refused before anything was sent


# ---------------------------------------------------------------- the envelope scanner


def _scan(body: bytes, cuts: list[int]) -> tuple[bytes, object]:
    out = bytearray()
    scanner = EnvelopeScanner(out.extend)
    at = 0
    for cut in [*sorted(cuts), len(body)]:
        scanner.feed(body[at:cut])
        at = cut
    return bytes(out), scanner.close()


@settings(max_examples=60, deadline=None)
@given(
    payload=st.binary(min_size=0, max_size=3000),
    cuts=st.lists(st.integers(min_value=0, max_value=6000), max_size=12),
    escape=st.booleans(),
    extra=st.dictionaries(
        st.sampled_from(["message", "note", "x"]),
        st.text(alphabet='ab"\\{}[],: \u00e9', max_size=20),
        max_size=3,
    ),
)
def test_scanner_decodes_any_chunking(payload, cuts, escape, extra) -> None:
    body = _envelope(payload, escape_slashes=escape, nested={"content": "not it"}, **extra)
    cuts = [c % (len(body) + 1) for c in cuts]

    decoded, rest = _scan(body, cuts)

    assert decoded == payload
    assert rest["data"]["content"] == ""  # type: ignore[index]
    assert rest["data"]["nested"] == {"content": "not it"}  # type: ignore[index]
    for key, value in extra.items():
        assert rest["data"][key] == value  # type: ignore[index]


def test_scanner_refuses_every_truncation() -> None:
    body = _envelope(b"\x00\x01binary payload" * 20)
    for end in random.Random(3).sample(range(len(body)), 120):
        with pytest.raises((EnvelopeError, PackageDecodeError)):
            _scan(body[:end], [end // 2])


def test_scanner_accepts_unicode_escapes_of_base64_characters() -> None:
    body = _envelope(b"hi?>").replace(b"aGk/Pg==", b"aGk\\u002fPg\\u003d=")
    assert _scan(body, [])[0] == b"hi?>"


def test_scanner_refuses_a_second_content() -> None:
    body = _envelope(b"a")[:-2] + b', "content": "YQ=="}}'
    with pytest.raises(EnvelopeError, match="twice"):
        _scan(body, [])


# ---------------------------------------------------------------- extract_staged


def _staged(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "stage.zip"
    path.write_bytes(_zip(members))
    return path


MEMBERS = {f"{n}.xml": f"<cfdi n='{n}'/>".encode() * 100 for n in range(8)}


def test_extract_staged_twice_gives_the_same_files(tmp_path: Path) -> None:
    staged = _staged(tmp_path, MEMBERS)
    out = tmp_path / "out"

    first = extract_staged(staged, out)
    second = extract_staged(staged, out)

    assert {p.name: p.read_bytes() for p in out.iterdir()} == MEMBERS
    assert all(f.written for f in first.files)
    assert not any(f.written for f in second.files)
    assert [(f.name, f.sha256) for f in first.files] == [(f.name, f.sha256) for f in second.files]


def test_extract_staged_repairs_a_partial_extraction(tmp_path: Path) -> None:
    staged = _staged(tmp_path, MEMBERS)
    out = tmp_path / "out"
    extract_staged(staged, out)
    # What a crash without per-file fsync can leave: a missing file, an empty one, a torn one
    # and a temp file of the killed writer.
    (out / "0.xml").unlink()
    (out / "1.xml").write_bytes(b"")
    (out / "2.xml").write_bytes(MEMBERS["2.xml"][:10])
    (out / ".3.xml.0123456789abcdef.tmp").write_bytes(b"half")

    again = extract_staged(staged, out)

    assert {p.name: p.read_bytes() for p in out.iterdir()} == MEMBERS
    assert {f.name for f in again.files if f.written} == {"0.xml", "1.xml", "2.xml"}


def test_extract_staged_can_refuse_to_overwrite(tmp_path: Path) -> None:
    staged = _staged(tmp_path, MEMBERS)
    out = tmp_path / "out"
    out.mkdir()
    (out / "1.xml").write_bytes(b"someone else's file")

    with pytest.raises(ExtractConflictError):
        extract_staged(staged, out, overwrite=False)
    assert os.listdir(out) == ["1.xml"]


def test_extract_staged_does_not_fsync_each_file(tmp_path: Path, monkeypatch) -> None:
    staged = _staged(tmp_path, MEMBERS)
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real(fd))

    extract_staged(staged, tmp_path / "out")

    assert synced == []


def test_a_bad_staged_zip_writes_nothing(tmp_path: Path) -> None:
    data = bytearray(_zip(MEMBERS))
    data[60] ^= 0xFF
    staged = tmp_path / "bad.zip"
    staged.write_bytes(bytes(data))

    with pytest.raises(CorruptPackageError):
        extract_staged(staged, tmp_path / "out")
    with pytest.raises(CorruptPackageError):
        verify_staged(staged)
    assert not (tmp_path / "out").exists()


def test_staged_and_in_memory_verification_agree(tmp_path: Path) -> None:
    from gigstack_async.packages import verify_package

    staged = _staged(tmp_path, MEMBERS)

    assert verify_staged(staged) == verify_package(staged.read_bytes())


async def test_the_aiohttp_transport_hands_out_bounded_chunks(completed) -> None:
    from gigstack_async.transports import AiohttpTransport, StreamingTransport
    from gigstack_async.transports.base import STREAM_CHUNK

    sandbox, _, package_id = completed
    transport = AiohttpTransport()
    assert isinstance(transport, StreamingTransport)
    request = Request(
        "GET",
        f"{sandbox.base_url}/invoices/download/package/{package_id}",
        headers={"Authorization": f"Bearer {sandbox.api_key}"},
    )
    try:
        async with transport.stream(request) as response:
            sizes = [len(chunk) async for chunk in response.chunks()]
    finally:
        await transport.aclose()
    assert response.status == 200
    assert sum(sizes) == int(response.headers["Content-Length"])
    assert max(sizes) <= STREAM_CHUNK


async def test_cancelling_a_package_download_leaves_nothing(tmp_path: Path) -> None:
    import asyncio

    started = asyncio.Event()

    async def handler(request: Request) -> Response:
        started.set()
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async with _client(handler) as client:
        task = asyncio.create_task(client.downloads.fetch_package_to("P_01", tmp_path / "p.zip"))
        await started.wait()
        assert _temps(tmp_path)  # the staging file exists while the download runs
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert os.listdir(tmp_path) == []


def test_disk_full_mid_extraction_then_a_rerun_completes(tmp_path: Path, monkeypatch) -> None:
    from gigstack_async import packages

    staged = _staged(tmp_path, MEMBERS)
    out = tmp_path / "out"
    real = packages.write_atomic
    writes = []

    def failing(path, data, **kwargs):  # type: ignore[no-untyped-def]
        writes.append(path)
        if len(writes) == 4:
            for _ in data:  # consume, as a real write would, then fail
                pass
            raise OSError(28, "No space left on device")
        real(path, data, **kwargs)

    monkeypatch.setattr(packages, "write_atomic", failing)
    with pytest.raises(OSError, match="No space"):
        extract_staged(staged, out)
    assert sorted(p.name for p in out.iterdir()) == ["0.xml", "1.xml", "2.xml"]  # complete ones
    monkeypatch.setattr(packages, "write_atomic", real)

    result = extract_staged(staged, out)

    assert {p.name: p.read_bytes() for p in out.iterdir()} == MEMBERS
    assert sum(f.written for f in result.files) == len(MEMBERS) - 3


def test_a_staged_package_whose_sha256_changed_on_disk_is_refused_before_writing(
    tmp_path: Path,
) -> None:
    staged = tmp_path / "p.zip"
    staged.write_bytes(_zip({"A.xml": b"<a/>"}))
    recorded = hashlib.sha256(staged.read_bytes()).hexdigest()
    # The hash recorded at staging time is accepted in either case of hex digits.
    result = extract_staged(staged, tmp_path / "ok", expected_sha256=recorded.upper())
    assert (tmp_path / "ok" / "A.xml").read_bytes() == b"<a/>"
    assert result.package_sha256 == recorded
    staged.write_bytes(_zip({"B.xml": b"<b/>"}))  # replaced on disk since it was staged
    actual = hashlib.sha256(staged.read_bytes()).hexdigest()
    with pytest.raises(CorruptPackageError) as info:
        extract_staged(staged, tmp_path / "changed", expected_sha256=recorded)
    assert str(info.value) == (
        f"the staged package's SHA-256 is {actual}, not the {recorded} recorded when it was "
        "staged: it changed on disk"
    )
    assert not (tmp_path / "changed").exists()  # nothing written


def test_a_member_whose_name_matches_another_file_only_ignoring_case_is_written(
    tmp_path: Path,
) -> None:
    # The folder listing says "may hold" (names compared ignoring case); on a case-sensitive
    # filesystem the exact file is still absent, so it must be written.
    folder = tmp_path / "cfdi"
    folder.mkdir()
    (folder / "ABC.XML").write_bytes(b"<other/>")
    if (folder / "abc.xml").exists():
        pytest.skip("case-insensitive filesystem")
    staged = tmp_path / "p.zip"
    staged.write_bytes(_zip({"abc.xml": b"<mine/>"}))
    extract_staged(staged, folder)
    assert (folder / "abc.xml").read_bytes() == b"<mine/>"
    assert (folder / "ABC.XML").read_bytes() == b"<other/>"


def test_stream_staged_yields_every_member_in_pieces_under_the_limits(tmp_path: Path) -> None:
    from gigstack_async.packages import PackageLimits, PackageTooLargeError, stream_staged

    big = bytes(range(256)) * 600  # 150 KiB: more than one 64 KiB piece
    staged = tmp_path / "p.zip"
    staged.write_bytes(_zip({"a.xml": b"<a/>", "dir/b.txt": big}))
    seen = {name: [len(c) for c in chunks] for name, chunks in stream_staged(str(staged))}
    assert list(seen) == ["a.xml", "dir/b.txt"]  # ZIP order
    assert seen["a.xml"] == [4]
    assert sum(seen["dir/b.txt"]) == len(big)
    assert max(seen["dir/b.txt"]) <= 64 * 1024
    assert len(seen["dir/b.txt"]) > 1
    # The run's limits apply: a member larger than allowed is refused, not read into memory.
    tight = PackageLimits(max_member_bytes=1024)

    def read_all() -> None:
        for _name, chunks in stream_staged(staged, tight):
            for _ in chunks:
                pass

    with pytest.raises(PackageTooLargeError):
        read_all()
    # Unsafe names are refused before the first item, as extraction would.
    unsafe = tmp_path / "u.zip"
    unsafe.write_bytes(_zip({"../evil.xml": b"<x/>"}))
    with pytest.raises(UnsafePackageError):
        next(iter(stream_staged(unsafe)))
