"""System calls per CFDI when a staged package is verified, scanned and extracted (counted,
not timed: `make bench` times the fan-out).

Each system call releases the GIL, and the thread that made it must win it back from the event
loop and the other extraction before it goes on. A SAT month is thousands of small files, so
per-member reads and per-file buffered-file setup (fstat, seek, isatty) made the extraction of
the fan-out's last packages wait on the GIL far longer than it worked.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gigstack_async import GigstackClient, PollSchedule, _atomic, packages
from gigstack_async._atomic import write_atomic
from gigstack_async.bulk import content
from gigstack_async.packages import extract_staged, stream_staged, verify_staged
from gigstack_async.sandbox import Sandbox, SandboxConfig


def package(count: int, size: int = 300) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for n in range(count):
            archive.writestr(f"{n:05d}.xml", (f"<cfdi n='{n}'>" + "x" * size).encode())
    return buffer.getvalue()


class CountingFile:
    """A binary file that counts the reads and seeks made through it."""

    def __init__(self, raw: Any, counts: dict[str, int]) -> None:
        self._raw = raw
        self._counts = counts

    def read(self, *args: Any) -> bytes:
        self._counts["read"] += 1
        data: bytes = self._raw.read(*args)
        return data

    def seek(self, *args: Any) -> int:
        self._counts["seek"] += 1
        where: int = self._raw.seek(*args)
        return where

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def __enter__(self) -> CountingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._raw.close()


def count_package_reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = {"read": 0, "seek": 0}
    real_open = Path.open

    def counted_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        raw = real_open(self, *args, **kwargs)
        return CountingFile(raw, counts) if self.suffix == ".zip" else raw

    monkeypatch.setattr(Path, "open", counted_open)
    return counts


def test_a_pass_over_a_staged_package_reads_it_in_a_few_large_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = tmp_path / "p.zip"
    staged.write_bytes(package(400))
    assert staged.stat().st_size < 256 * 1024  # one window
    counts = count_package_reads(monkeypatch)

    manifest = verify_staged(staged)
    read_by_verify = dict(counts)
    result = extract_staged(staged, tmp_path / "out")

    assert len(manifest.members) == len(result.files) == 400
    assert (tmp_path / "out" / "00399.xml").read_bytes().startswith(b"<cfdi n='399'>")
    # The central directory (zipfile's own few reads) and one window of the file per pass;
    # reading each local header and each member on its own took 2 reads and 2 seeks per member.
    assert read_by_verify["read"] <= 10
    assert counts["read"] <= 20
    assert counts["seek"] <= 20


def test_a_package_larger_than_the_window_is_read_window_by_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packages, "_WINDOW", 4096)
    bodies = {f"{n:05d}.xml": os.urandom(1500) for n in range(200)}  # incompressible
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in bodies.items():
            archive.writestr(name, body)
    data = buffer.getvalue()
    staged = tmp_path / "p.zip"
    staged.write_bytes(data)
    assert len(data) > 4 * packages._CHUNK

    members = {name: b"".join(chunks) for name, chunks in stream_staged(staged)}

    assert members == bodies
    with packages._Blob(path=staged) as blob:
        pieces = list(blob.chunks(0, blob.size))
        assert b"".join(pieces) == data
        # Memory stays bounded, however large the package: a window, or one asked-for piece.
        assert len(blob._window) <= packages._CHUNK
        assert blob.read(100, 10) == data[100:110]
        assert len(blob._window) <= 4096


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=3000),
    window=st.integers(min_value=1, max_value=700),
    reads=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=3200), st.integers(min_value=0, max_value=900)
        ),
        max_size=30,
    ),
)
def test_windowed_reads_give_the_bytes_of_the_file(
    tmp_path_factory: pytest.TempPathFactory,
    size: int,
    window: int,
    reads: list[tuple[int, int]],
) -> None:
    data = bytes((n * 7 + n // 251) % 256 for n in range(size))
    path = tmp_path_factory.mktemp("blob") / "p.zip"
    path.write_bytes(data)
    saved = packages._WINDOW
    packages._WINDOW = window
    try:
        with packages._Blob(path=path) as on_disk, packages._Blob(data) as in_memory:
            for offset, count in reads:
                expected = data[offset : offset + count]
                assert on_disk.read(offset, count) == expected
                assert in_memory.read(offset, count) == expected
    finally:
        packages._WINDOW = saved


def test_write_atomic_writes_through_the_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_file_object(*args: object, **kwargs: object) -> None:
        raise AssertionError("write_atomic opened a buffered file object (fstat, seek, isatty)")

    monkeypatch.setattr(_atomic, "open", no_file_object, raising=False)

    write_atomic(tmp_path / "a.xml", b"<a/>", sync_dir=False, durable=False)
    write_atomic(tmp_path / "b.xml", [b"<b>", b"", b"</b>"])

    assert (tmp_path / "a.xml").read_bytes() == b"<a/>"
    assert (tmp_path / "b.xml").read_bytes() == b"<b></b>"


def test_short_writes_still_write_every_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = 0

    def short_write(fd: int, data: Any) -> int:
        nonlocal calls
        calls += 1
        return real_write(fd, bytes(data)[:3])  # os.write may write less than it was given

    monkeypatch.setattr(_atomic.os, "write", short_write)
    payload = bytes(range(256)) * 4

    write_atomic(tmp_path / "c.bin", [payload[:500], memoryview(payload[500:])])

    assert (tmp_path / "c.bin").read_bytes() == payload
    assert calls >= len(payload) // 3


def test_a_write_that_fails_leaves_no_temp_and_no_open_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    real_open = os.open

    def spy_open(path: Any, flags: int, *args: Any) -> int:
        fd = real_open(path, flags, *args)
        opened.append(fd)
        return fd

    def full(fd: int, data: Any) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_atomic.os, "open", spy_open)
    monkeypatch.setattr(_atomic.os, "write", full)

    with pytest.raises(OSError, match="No space"):
        write_atomic(tmp_path / "d.xml", b"<d/>")

    assert list(tmp_path.iterdir()) == []
    (fd,) = opened
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.fstat(fd)  # closed


def test_reading_an_extracted_file_uses_the_descriptor_and_closes_it(tmp_path: Path) -> None:
    path = tmp_path / "f.xml"
    data = os.urandom(3 * content._CHUNK + 5)
    path.write_bytes(data)

    assert b"".join(content._read_chunks(path)) == data
    chunks = content._read_chunks(path)
    first = next(chunks)
    fd_count = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else None
    chunks.close()  # a reader that stops early (the XML head is enough) closes the file now

    assert first == data[: content._CHUNK]
    if fd_count is not None:
        assert len(os.listdir("/proc/self/fd")) == fd_count - 1
    with pytest.raises(IsADirectoryError):
        list(content._read_chunks(tmp_path))


async def test_a_package_download_makes_two_trips_to_worker_threads_besides_its_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One trip to create the temp file, one to fsync, verify and rename it (plus one per
    piece of the body written): each trip waits for a free worker, then for the event loop."""
    async with (
        Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        created = await client.downloads.create_request(
            start_date="2025-05-01", end_date="2025-05-31", rfc_type="issued"
        )
        await client.downloads.wait(created.request_id, poll=PollSchedule(initial=0.02))
        (package_id, *_) = (await client.downloads.status(created.request_id)).package_ids
        trips: list[str] = []
        real_to_thread = asyncio.to_thread

        async def counted(func: Any, /, *args: Any, **kwargs: Any) -> Any:
            trips.append(getattr(func, "__name__", repr(func)))
            return await real_to_thread(func, *args, **kwargs)

        monkeypatch.setattr(asyncio, "to_thread", counted)
        dest = tmp_path / "stage" / f"{package_id}.zip"

        staged = await client.downloads.fetch_package_to(package_id, dest)

    assert staged.sha256 == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert [trip for trip in trips if trip != "writelines"] == ["_open_staging", "_seal"]
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no temp file left


def _cfdi_xml(receptor: str, fecha: str, sello: int) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" Version="4.0" '
        f'Fecha="{fecha}" Sello="{"A" * sello}">'
        '<cfdi:Emisor Rfc="EKU9003173C9" Nombre="E"/>'
        f'<cfdi:Receptor Rfc="{receptor}" Nombre="R"/>'
        "<cfdi:Conceptos/></cfdi:Comprobante>"
    )


@pytest.mark.parametrize("sello", [0, 1000, 1023, 5000, 70000])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_the_scan_reads_a_cfdi_head_that_spans_several_parser_pieces(
    tmp_path: Path, sello: int, encoding: str
) -> None:
    """The scan feeds the XML parser a kilobyte at a time: a head longer than that (a long
    Sello, UTF-16, a head past the first 64 KiB read) is still read whole."""
    xml = _cfdi_xml("XAXX010101000", "2024-03-05T10:00:00", sello)
    if encoding == "utf-16":
        data = xml.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    else:
        data = xml.encode()
    other = _cfdi_xml("XEXX010101000", "2024-03-06T10:00:00", 10).encode()
    staged = tmp_path / "p.zip"
    with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("A.xml", data)
        archive.writestr("B.xml", other)

    scan = content.scan_package(
        staged, request_type="cfdi", start=date(2024, 3, 1), end=date(2024, 3, 31)
    )

    # Two receivers on the received side: only seen if both heads were read to the Receptor.
    assert scan.mismatch is not None
    assert "XAXX010101000" in scan.mismatch
    assert "XEXX010101000" in scan.mismatch
    one = content.scan_package(
        staged, request_type="cfdi", start=date(2024, 4, 1), end=date(2024, 4, 30)
    )
    assert one.mismatch is not None
    assert "2024-03-05..2024-03-06" in one.mismatch
