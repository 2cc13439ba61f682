"""Group 6 — hostile packages: crafted ZIPs are refused whole, and nothing escapes the folder.

Part one feeds each crafted package to `decode_package` / `verify_package` /
`extract_package` directly: the specific `PackageError` subclass, a message naming the member,
no file written anywhere (the destination is not even created) and the rest of the disk
untouched. Part two makes the sandbox serve such packages for one month inside a real bulk run:
only that month fails, with a clear error, nothing is written outside the output folder or left
half-written inside it, and a rerun with the same journal recovers the month once the server
sends a good package.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import stat
import struct
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gigstack_async import GigstackClient, MonthResult, PollSchedule
from gigstack_async.packages import (
    CorruptPackageError,
    ExtractConflictError,
    PackageDecodeError,
    PackageError,
    PackageLimits,
    PackageTooLargeError,
    UnsafePackageError,
    decode_package,
    extract_package,
    verify_package,
)
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.routing import route_of, state_of

GROUP = 6
XML = b'<?xml version="1.0" encoding="UTF-8"?><cfdi:Comprobante/>'
GOOD = "6741A863-04BE-49FE-BB76-E1657AB6B7EA.xml"
SMALL = PackageLimits(max_members=10, max_member_bytes=512 * 1024, max_total_bytes=1024 * 1024)


# ---------------------------------------------------------------------------- crafting ZIPs


def _info(name: str, *, mode: int | None = None, method: int = zipfile.ZIP_DEFLATED) -> Any:
    info = zipfile.ZipInfo(name, (2024, 1, 31, 12, 0, 0))
    info.compress_type = method
    if mode is not None:
        info.external_attr = mode << 16
    return info


def make_zip(*members: tuple[Any, bytes]) -> bytes:
    buffer = io.BytesIO()
    with (
        warnings.catch_warnings(),  # zipfile warns about duplicate names: we want them
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        warnings.simplefilter("ignore", UserWarning)
        for member, content in members:
            archive.writestr(member if isinstance(member, zipfile.ZipInfo) else _info(member),
                             content)  # fmt: skip
    return buffer.getvalue()


def _patch(data: bytes, index: int, *, local: int, central: int, fmt: str, value: Any) -> bytes:
    """Overwrite one field of member `index` in its local and its central header."""
    out = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local_at = archive.infolist()[index].header_offset
    central_at = -1
    for _ in range(index + 1):
        central_at = data.index(b"PK\x01\x02", central_at + 1)
    struct.pack_into(fmt, out, local_at + local, value)
    struct.pack_into(fmt, out, central_at + central, value)
    return bytes(out)


def lying_size(data: bytes, index: int, size: int) -> bytes:
    return _patch(data, index, local=22, central=24, fmt="<L", value=size)


def wrong_crc(data: bytes, index: int) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        crc = archive.infolist()[index].CRC
    return _patch(data, index, local=14, central=16, fmt="<L", value=crc ^ 0xDEADBEEF)


def flag_bits(data: bytes, index: int, flags: int) -> bytes:
    return _patch(data, index, local=6, central=8, fmt="<H", value=flags)


def local_name(data: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new)
    at = data.index(b"PK\x03\x04")
    name_at = data.index(old, at)
    return data[:name_at] + new + data[name_at + len(new) :]


def bomb(size: int) -> bytes:
    return b"\0" * size


@dataclass(frozen=True)
class Hostile:
    build: Callable[[], bytes | str]  # ZIP bytes, or the base64 text of a package
    error: type[PackageError]
    member: str | None  # the member the error must name (None: a whole-package problem)
    pattern: str
    limits: PackageLimits | None = None


HOSTILE: dict[str, Hostile] = {
    "zip slip ../": Hostile(lambda: make_zip(("../evil.xml", XML)), UnsafePackageError,
                            "../evil.xml", r"'\.\.'"),
    "zip slip into a sibling month": Hostile(
        lambda: make_zip((GOOD, XML), ("../2024-02/EVIL.xml", XML)), UnsafePackageError,
        "../2024-02/EVIL.xml", r"'\.\.'"),
    "zip slip a/../../": Hostile(lambda: make_zip(("a/../../evil.xml", XML)), UnsafePackageError,
                                 "a/../../evil.xml", r"'\.\.'"),
    "deep zip slip": Hostile(lambda: make_zip(("../../../../../../tmp/evil.xml", XML)),
                             UnsafePackageError, "../../../../../../tmp/evil.xml", r"'\.\.'"),
    "absolute path": Hostile(lambda: make_zip(("/tmp/evil.xml", XML)), UnsafePackageError,
                             "/tmp/evil.xml", "absolute"),
    "drive letter": Hostile(lambda: make_zip(("C:/evil.xml", XML)), UnsafePackageError,
                            "C:/evil.xml", "drive letter"),
    "backslash traversal": Hostile(lambda: make_zip(("..\\evil.xml", XML)), UnsafePackageError,
                                   "..\\evil.xml", "backslash"),
    "NUL in a name": Hostile(
        lambda: make_zip(("good.xmlX.exe", XML)).replace(b"good.xmlX.exe", b"good.xml\0.exe"),
        UnsafePackageError, "good.xml\0.exe", "NUL"),
    "reserved Windows name": Hostile(lambda: make_zip(("CON.xml", XML)), UnsafePackageError,
                                     "CON.xml", "reserved"),
    "symlink entry": Hostile(
        lambda: make_zip((_info("link.xml", mode=stat.S_IFLNK | 0o777), b"/etc/passwd")),
        UnsafePackageError, "link.xml", "symbolic link"),
    "symlink folder then a file through it": Hostile(
        lambda: make_zip((_info("d", mode=stat.S_IFLNK | 0o777), b".."), ("d/evil.xml", XML)),
        UnsafePackageError, "d", "symbolic link"),
    "FIFO entry": Hostile(lambda: make_zip((_info("pipe.xml", mode=stat.S_IFIFO | 0o644), b"")),
                          UnsafePackageError, "pipe.xml", "not a regular file"),
    "duplicate names": Hostile(lambda: make_zip((GOOD, XML), (GOOD, XML + b" ")),
                               UnsafePackageError, GOOD, "twice"),
    "names differing only in case": Hostile(
        lambda: make_zip((GOOD, XML), (GOOD.lower(), XML)), UnsafePackageError, GOOD.lower(),
        "collide"),
    "file used as a folder": Hostile(lambda: make_zip(("x", XML), ("x/y.xml", XML)),
                                     UnsafePackageError, "x", "folder"),
    "zip bomb by ratio (20 MB of zeros)": Hostile(
        lambda: make_zip(("bomb.xml", bomb(20 * 1024 * 1024))), PackageTooLargeError,
        "bomb.xml", "max_ratio"),
    "zip bomb with a lying header": Hostile(
        lambda: lying_size(make_zip(("liar.xml", bomb(20 * 1024 * 1024))), 0, 1000),
        PackageTooLargeError, "liar.xml", "expands to at least"),
    "member over the member cap": Hostile(
        lambda: make_zip(("big.xml", hashlib.sha256(b"x").digest() * 20_000)),
        PackageTooLargeError, "big.xml", "max_member_bytes", SMALL),
    "members over the total cap": Hostile(
        lambda: make_zip(*((f"{i}.xml", _noise(i, 300 * 1024)) for i in range(4))),
        PackageTooLargeError, None, "max_total_bytes", SMALL),
    "too many members": Hostile(lambda: make_zip(*((f"{i}.xml", XML) for i in range(11))),
                                PackageTooLargeError, None, "max_members", SMALL),
    "corrupt CRC": Hostile(lambda: wrong_crc(make_zip((GOOD, XML)), 0), CorruptPackageError,
                           GOOD, "CRC-32"),
    "second member corrupt (all or nothing)": Hostile(
        lambda: wrong_crc(make_zip((GOOD, XML), ("second.xml", XML * 3)), 1),
        CorruptPackageError, "second.xml", "CRC-32"),
    "truncated ZIP": Hostile(lambda: make_zip((GOOD, XML * 50))[:-30], CorruptPackageError,
                             None, "truncated"),
    "local name differs from the listed one": Hostile(
        lambda: local_name(make_zip(("safe.xml", XML)), b"safe.xml", b"../e.xml"),
        CorruptPackageError, "safe.xml", "local header"),
    "encrypted member": Hostile(lambda: flag_bits(make_zip((GOOD, XML)), 0, 0x1),
                                PackageDecodeError, GOOD, "encrypted"),
    "bzip2 member": Hostile(lambda: make_zip((_info(GOOD, method=zipfile.ZIP_BZIP2), XML)),
                            PackageDecodeError, GOOD, "compression method"),
    "base64 of text, not a ZIP": Hostile(lambda: base64.b64encode(b"hello, not a zip").decode(),
                                         PackageDecodeError, None, "not a ZIP"),
    "base64 of a PDF": Hostile(lambda: base64.b64encode(b"%PDF-1.7\n%\xe2\xe3").decode(),
                               PackageDecodeError, None, "not a ZIP"),
    "not base64 at all": Hostile(lambda: "UEsDBB!!!!<html>", PackageDecodeError, None,
                                 "not valid base64"),
    "base64 with junk in the middle": Hostile(
        lambda: (lambda b: b[:8] + "\u00e9\u00e9" + b[8:])(base64.b64encode(make_zip((GOOD, XML)))
                                                          .decode()),
        PackageDecodeError, None, "not valid base64"),
}  # fmt: skip


def _noise(seed: int, size: int) -> bytes:
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else b"<dir>")
        for p in sorted(root.rglob("*"))
        if not p.is_symlink()
    }


def _decode_or_bytes(built: bytes | str) -> bytes:
    return decode_package(built) if isinstance(built, str) else built


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_package_is_refused_and_nothing_is_written(
    name: str, tmp_path: Path, figures
) -> None:
    case = HOSTILE[name]
    built = case.build()
    # A "victim" tree around the destination: nothing in it may change.
    (tmp_path / "2024-02").mkdir()
    (tmp_path / "2024-02" / "keep.xml").write_bytes(b"untouched")
    (tmp_path / "tmp").mkdir()
    before = _snapshot(tmp_path)
    dest = tmp_path / "out" / "2024-01"
    limits = case.limits or PackageLimits()

    with pytest.raises(case.error) as caught:
        extract_package(_decode_or_bytes(built), dest, limits)
    error = caught.value
    assert error.member == case.member
    message = str(error)
    assert re.search(case.pattern, message), message
    if case.member is not None:
        assert repr(case.member) in message  # the member is named, quoted
    assert not (tmp_path / "out").exists()  # not even the destination was created
    assert _snapshot(tmp_path) == before  # nothing written, moved or removed anywhere
    assert not list(Path("/tmp").glob("evil.xml"))

    if not isinstance(built, str):  # the in-memory check refuses it the same way
        with pytest.raises(case.error):
            verify_package(built, limits)
    figures.add(GROUP, "Hostile packages refused", 1)


def test_a_symlinked_folder_in_the_destination_does_not_lead_out(tmp_path: Path, figures) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePackageError, match="outside") as caught:
        extract_package(make_zip(("sub/evil.xml", XML)), dest)
    assert caught.value.member == "sub/evil.xml"
    assert list(outside.iterdir()) == []
    figures.add(GROUP, "Hostile packages refused", 1)


def test_a_symlinked_file_in_the_destination_is_not_followed(tmp_path: Path, figures) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / GOOD).symlink_to(victim)
    with pytest.raises(ExtractConflictError, match="not a regular file"):
        extract_package(make_zip((GOOD, XML)), dest, overwrite=True)
    assert victim.read_bytes() == b"precious"
    figures.add(GROUP, "Hostile packages refused", 1)


# ---------------------------------------------------------------------------- inside a bulk run

SERVED = (
    "zip slip into a sibling month",
    "deep zip slip",
    "symlink entry",
    "zip bomb with a lying header",
    "second member corrupt (all or nothing)",
    "base64 of text, not a ZIP",
)


class PackageSwap:
    """Sandbox middleware: every package of the request for `month` is replaced by `content`."""

    def __init__(self, month: str) -> None:
        self.month = month
        self.content: str | None = None
        self.served = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        route = route_of(request)
        package_id = request.match_info.get("packageId", "").upper()
        if route is not None and route.operation_id == "downloadPackage" and self.content:
            owner = next(
                (
                    r
                    for r in state_of(request).download_requests
                    if package_id.startswith(r.request_id + "_")
                ),
                None,
            )
            if owner is not None and f"{owner.criteria.start_date:%Y-%m}" == self.month:
                self.served += 1
                data = {"package_id": package_id, "encoding": "base64", "content": self.content}
                return web.json_response({"success": True, "data": data})
        response: web.StreamResponse = await handler(request)
        return response


@pytest.mark.parametrize("name", SERVED)
async def test_a_hostile_package_fails_only_its_month_and_a_rerun_recovers(
    name: str,
    tmp_path: Path,
    make_client: Callable[..., GigstackClient],
    find_leftovers: Callable[[Path], list[Path]],
    figures,
) -> None:
    case = HOSTILE[name]
    built = case.build()
    content = built if isinstance(built, str) else base64.b64encode(built).decode()
    swap = PackageSwap("2024-01")
    swap.content = content
    sandbox = Sandbox(SandboxConfig(seed=6, speed=3000))
    sandbox.app.middlewares.insert(0, swap.middleware)
    root = tmp_path / "work"
    out, journal = root / "cfdi", root / "journal.json"
    root.mkdir()
    before_outside = _snapshot(tmp_path)
    poll = PollSchedule(initial=0.02, maximum=0.1, jitter=0.0)
    async with sandbox:
        client = make_client(sandbox)

        async def run() -> dict[str, MonthResult]:
            bulk = client.downloads.bulk("2024-01", "2024-03", rfc_type="received",
                                         download_to=out, journal=journal, poll=poll)  # fmt: skip
            async with bulk:
                return {e.key: e async for e in bulk if isinstance(e, MonthResult)}

        # The hostile package is served for January's request.
        first = await run()
        assert swap.served >= 1
        assert sorted(first) == ["2024-01", "2024-02", "2024-03"]
        assert first["2024-02"].ok
        assert first["2024-03"].ok
        failed = first["2024-01"]
        assert not failed.ok
        assert failed.error is not None
        assert re.search(case.pattern, failed.error), failed.error
        january = out / "2024-01"
        assert not january.exists() or list(january.iterdir()) == []  # nothing partial
        assert find_leftovers(out) == []
        # Nothing outside the output folder: the tree around it is exactly as before.
        after = {k: v for k, v in _snapshot(tmp_path).items() if not k.startswith("work/")}
        assert after == {k: v for k, v in before_outside.items() if not k.startswith("work/")}
        assert not (out / "2024-02" / "EVIL.xml").exists()

        # The server behaves again: the same journal finishes January, nothing is re-created.
        swap.content = None
        second = await run()
        assert all(r.ok for r in second.values()), {k: r.error for k, r in second.items()}
        truth = {uuid for r in sandbox.state.download_requests for uuid in r.uuids}
        written = {p.stem for p in out.rglob("*.xml")}
        assert written == truth
        assert len(sandbox.state.download_requests) == 3
        assert find_leftovers(out) == []
    figures.add(GROUP, "Hostile packages served in a bulk run", 1)
    figures.add(GROUP, "Files verified", len(truth))


def test_every_hostile_kind_is_covered() -> None:
    kinds = {case.error for case in HOSTILE.values()}
    expected = {UnsafePackageError, PackageTooLargeError, CorruptPackageError, PackageDecodeError}
    assert expected <= kinds
    assert len(HOSTILE) >= 25
