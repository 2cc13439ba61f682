"""Package decoding, verification and safe extraction, on ZIPs built (and broken) right here."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pytest

from gigstack_async._atomic import write_atomic
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
    iter_package,
    verify_package,
)

UUID_A = "E7215E3B-2DC5-4A40-AB10-C902FF9258DF"
UUID_B = "129C4D12-1415-4ACE-BE12-34E71C4EAB4E"
XML_A = f'<cfdi:Comprobante UUID="{UUID_A}"/>'.encode()
XML_B = f'<cfdi:Comprobante UUID="{UUID_B}"/>'.encode() * 50


# --- building and breaking ZIPs -----------------------------------------------------------------

Entry = tuple[str | zipfile.ZipInfo, bytes]


def make_zip(*entries: Entry, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


class _Unseekable:
    """A write-only stream: zipfile then writes data descriptors after each member."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: bytes) -> int:
        self.data += chunk
        return len(chunk)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def make_streamed_zip(*entries: tuple[str, bytes]) -> bytes:
    sink = _Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return bytes(sink.data)


# Field offsets in a central directory record (PK\1\2) and a local header (PK\3\4).
_CENTRAL = {"crc": 16, "compress_size": 20, "file_size": 24, "name_length": 28, "name": 46}
_LOCAL = {"crc": 14, "compress_size": 18, "file_size": 22, "name_length": 26, "name": 30}


def _headers(data: bytes | bytearray, name: str) -> list[tuple[int, dict[str, int]]]:
    """Offsets of the central and local headers of member `name`."""
    raw = name.encode()
    found = []
    for signature, layout in ((b"PK\x01\x02", _CENTRAL), (b"PK\x03\x04", _LOCAL)):
        at = data.find(signature)
        while at >= 0:
            (length,) = struct.unpack_from("<H", data, at + layout["name_length"])
            start = at + layout["name"]
            if length == len(raw) and data[start : start + length] == raw:
                found.append((at, layout))
            at = data.find(signature, at + 1)
    assert len(found) == 2, f"expected one central and one local header for {name!r}"
    return found


def lie(data: bytes, name: str, **fields: int) -> bytes:
    """Rewrite header fields (file_size, compress_size, crc) of `name` in both headers."""
    patched = bytearray(data)
    for at, layout in _headers(data, name):
        for field, value in fields.items():
            struct.pack_into("<L", patched, at + layout[field], value)
    return bytes(patched)


def rename_in_local_header(data: bytes, name: str, new: str) -> bytes:
    patched = bytearray(data)
    for at, layout in _headers(data, name):
        if layout is _LOCAL:
            patched[at + layout["name"] : at + layout["name"] + len(new)] = new.encode()
    return bytes(patched)


def rename(data: bytes, name: str, new: bytes) -> bytes:
    """Give member `name` the raw name `new` (same length) in both headers."""
    patched = bytearray(data)
    for at, layout in _headers(data, name):
        patched[at + layout["name"] : at + layout["name"] + len(new)] = new
    return bytes(patched)


def flip_data_byte(data: bytes, name: str) -> bytes:
    """Flip one byte in the middle of a member's stored/compressed data."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    at = info.header_offset
    (name_length, extra_length) = struct.unpack_from("<2H", data, at + 26)
    start = at + 30 + name_length + extra_length
    patched = bytearray(data)
    patched[start + info.compress_size // 2] ^= 0xFF
    return bytes(patched)


def special(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix, so the high 16 bits of external_attr are a st_mode
    info.external_attr = mode << 16
    return info


def tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


ZEROS = bytes(200_000)  # deflates to a few hundred bytes: a cheap bomb


# --- good packages ------------------------------------------------------------------------------


@pytest.mark.parametrize("builder", [make_zip, make_streamed_zip])
def test_extract_writes_the_members_and_reports_their_hashes(
    tmp_path: Path, builder: Callable[..., bytes]
) -> None:
    data = builder((f"{UUID_A}.xml", XML_A), (f"{UUID_B}.xml", XML_B))

    result = extract_package(data, tmp_path / "out")

    assert (tmp_path / "out" / f"{UUID_A}.xml").read_bytes() == XML_A
    assert (tmp_path / "out" / f"{UUID_B}.xml").read_bytes() == XML_B
    assert tree(tmp_path / "out") == {f.path for f in result.files}  # no temp files left
    assert result.package_sha256 == hashlib.sha256(data).hexdigest()
    assert [(f.name, f.size, f.sha256, f.written) for f in result.files] == [
        (f"{UUID_A}.xml", len(XML_A), hashlib.sha256(XML_A).hexdigest(), True),
        (f"{UUID_B}.xml", len(XML_B), hashlib.sha256(XML_B).hexdigest(), True),
    ]


def test_manifest_and_iteration_describe_the_same_bytes() -> None:
    data = make_zip(("a.xml", XML_A), ("b.xml", b""), compression=zipfile.ZIP_STORED)

    manifest = verify_package(data)

    assert dict(iter_package(data)) == {"a.xml": XML_A, "b.xml": b""}
    assert [(m.name, m.size, m.sha256) for m in manifest.members] == [
        ("a.xml", len(XML_A), hashlib.sha256(XML_A).hexdigest()),
        ("b.xml", 0, hashlib.sha256(b"").hexdigest()),
    ]
    assert manifest.total_size == len(XML_A)
    assert manifest.sha256 == hashlib.sha256(data).hexdigest()


def test_an_empty_member_with_no_deflate_bytes_is_read() -> None:
    data = lie(make_zip(("a.xml", b"")), "a.xml", compress_size=0)

    assert dict(iter_package(data)) == {"a.xml": b""}


def test_decode_package_reads_the_api_content() -> None:
    data = make_zip(("a.xml", XML_A))
    content = base64.b64encode(data).decode() + "\n"

    assert decode_package(content, encoding="base64") == data
    assert decode_package(content.encode()) == data


def test_members_in_folders_are_extracted_inside_dest(tmp_path: Path) -> None:
    data = make_zip(("2024/01/a.xml", XML_A), ("2024/", b""))

    result = extract_package(data, tmp_path)

    assert (tmp_path / "2024" / "01" / "a.xml").read_bytes() == XML_A
    assert [f.name for f in result.files] == ["2024/01/a.xml"]


def test_re_extracting_the_same_package_changes_nothing(tmp_path: Path) -> None:
    data = make_zip(("a.xml", XML_A), ("b.xml", XML_B))
    extract_package(data, tmp_path)
    before = {p: p.stat().st_ino for p in tree(tmp_path)}

    again = extract_package(data, tmp_path)

    assert [f.written for f in again.files] == [False, False]
    assert {p: p.stat().st_ino for p in tree(tmp_path)} == before  # not even rewritten


def test_a_different_existing_file_is_kept_unless_overwrite(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(b"mine")
    data = make_zip(("a.xml", XML_A), ("b.xml", XML_B))

    with pytest.raises(ExtractConflictError, match="overwrite=True") as caught:
        extract_package(data, tmp_path)
    assert caught.value.member == "a.xml"
    assert (tmp_path / "a.xml").read_bytes() == b"mine"
    assert tree(tmp_path) == {tmp_path / "a.xml"}  # b.xml not written either

    result = extract_package(data, tmp_path, overwrite=True)
    assert (tmp_path / "a.xml").read_bytes() == XML_A
    assert [f.written for f in result.files] == [True, True]


def test_a_folder_where_a_member_goes_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "a.xml").mkdir()

    with pytest.raises(ExtractConflictError, match="not a regular file"):
        extract_package(make_zip(("a.xml", XML_A)), tmp_path, overwrite=True)


def test_a_symlinked_folder_in_dest_cannot_lead_outside(tmp_path: Path) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "sub").symlink_to(outside, target_is_directory=True)

    with pytest.raises(UnsafePackageError, match="outside"):
        extract_package(make_zip(("sub/a.xml", XML_A)), dest)
    assert list(outside.iterdir()) == []


def test_a_failed_write_leaves_complete_files_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real_fsync = os.fsync

    def fsync_then_fail(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the second member: as if the disk filled up
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_then_fail)

    with pytest.raises(OSError, match="No space"):
        extract_package(make_zip(("a.xml", XML_A), ("b.xml", XML_B)), tmp_path)
    assert tree(tmp_path) == {tmp_path / "a.xml"}
    assert (tmp_path / "a.xml").read_bytes() == XML_A


def test_write_atomic_keeps_the_old_file_when_the_new_content_fails(tmp_path: Path) -> None:
    target = tmp_path / "journal.json"
    write_atomic(target, b"old")

    def chunks() -> list[bytes]:
        raise RuntimeError("producer failed")

    with pytest.raises(RuntimeError):
        write_atomic(target, (chunk for chunk in chunks()))
    assert target.read_bytes() == b"old"
    assert tree(tmp_path) == {target}

    write_atomic(target, [b"new ", b"content"])
    assert target.read_bytes() == b"new content"


# --- refused packages: the specific error, and nothing written anywhere ------------------------


def _zip64_with_three_members() -> bytes:
    # Make zipfile write zip64 end records for 3 entries instead of 65535.
    with mock.patch.object(zipfile, "ZIP_FILECOUNT_LIMIT", 2):
        data = make_zip(("a.xml", b"a"), ("b.xml", b"b"), ("c.xml", b"c"))
    # As a writer of 65535+ entries would: the classic record says "see zip64".
    end = data.rfind(b"PK\x05\x06")
    return data[: end + 8] + struct.pack("<2H", 0xFFFF, 0xFFFF) + data[end + 12 :]


def _duplicate_names() -> bytes:
    with pytest.warns(UserWarning, match="Duplicate name"):
        return make_zip(("a.xml", XML_A), ("a.xml", b"evil"))


SMALL_RATIO = PackageLimits(max_ratio=20, ratio_floor_bytes=1000)
SMALL_TOTAL = PackageLimits(max_total_bytes=300_000, max_ratio=10_000)

BAD_PACKAGES: dict[str, tuple[Callable[[], bytes], PackageLimits, type[PackageError], str]] = {
    "zip slip": (
        lambda: make_zip(("../x.xml", XML_A)),
        PackageLimits(),
        UnsafePackageError,
        r"'\.\.'",
    ),
    "nested zip slip": (
        lambda: make_zip(("a/../../x.xml", XML_A)),
        PackageLimits(),
        UnsafePackageError,
        r"'\.\.'",
    ),
    "absolute path": (
        lambda: make_zip(("/etc/x.xml", XML_A)),
        PackageLimits(),
        UnsafePackageError,
        "absolute",
    ),
    "drive letter": (
        lambda: make_zip(("C:\\x.xml", XML_A)),
        PackageLimits(),
        UnsafePackageError,
        "backslash",
    ),
    "drive-relative": (
        lambda: make_zip(("C:x.xml", XML_A)),
        PackageLimits(),
        UnsafePackageError,
        "drive letter",
    ),
    "backslash traversal": (
        lambda: make_zip(("a\\..\\..\\x.xml", XML_A)),
        PackageLimits(),
        UnsafePackageError,
        "backslash",
    ),
    "NUL in name": (
        lambda: rename(make_zip(("a_.xml", XML_A)), "a_.xml", b"a\x00.xml"),
        PackageLimits(),
        UnsafePackageError,
        "NUL",
    ),
    "Windows device": (
        lambda: make_zip(("con.xml", XML_A)),
        PackageLimits(),
        UnsafePackageError,
        "device",
    ),
    "symlink": (
        lambda: make_zip((special("a.xml", stat.S_IFLNK | 0o777), b"/etc/passwd")),
        PackageLimits(),
        UnsafePackageError,
        "symbolic link",
    ),
    "fifo": (
        lambda: make_zip((special("a.xml", stat.S_IFIFO | 0o644), b"")),
        PackageLimits(),
        UnsafePackageError,
        "not a regular file",
    ),
    "duplicate name": (_duplicate_names, PackageLimits(), UnsafePackageError, "appears twice"),
    "names differing in case": (
        lambda: make_zip(("a.xml", XML_A), ("A.XML", XML_B)),
        PackageLimits(),
        UnsafePackageError,
        "'A.XML' and 'a.xml' collide",
    ),
    "file used as a folder": (
        lambda: make_zip(("a", XML_A), ("a/b.xml", XML_B)),
        PackageLimits(),
        UnsafePackageError,
        "as a folder",
    ),
    "local header names another file": (
        lambda: rename_in_local_header(make_zip(("a.xml", XML_A)), "a.xml", "b.xml"),
        PackageLimits(),
        CorruptPackageError,
        "local header",
    ),
    "bzip2": (
        lambda: make_zip(("a.xml", XML_A), compression=zipfile.ZIP_BZIP2),
        PackageLimits(),
        PackageDecodeError,
        "compression method 12",
    ),
    "too many members": (
        lambda: make_zip(("a.xml", b"a"), ("b.xml", b"b"), ("c.xml", b"c")),
        PackageLimits(max_members=2),
        PackageTooLargeError,
        "declares 3 members",
    ),
    "too many members (zip64)": (
        _zip64_with_three_members,
        PackageLimits(max_members=2),
        PackageTooLargeError,
        "declares 3 members",
    ),
    "member too large": (
        lambda: make_zip(("a.xml", XML_B)),
        PackageLimits(max_member_bytes=100),
        PackageTooLargeError,
        "declares .* max_member_bytes=100",
    ),
    "ratio bomb": (
        lambda: make_zip(("a.xml", ZEROS)),
        SMALL_RATIO,
        PackageTooLargeError,
        "'a.xml' declares .* max_ratio=20",
    ),
    "ratio bomb, lying header": (
        lambda: lie(make_zip(("a.xml", ZEROS)), "a.xml", file_size=100),
        SMALL_RATIO,
        PackageTooLargeError,
        "'a.xml' expands to at least .* max_ratio=20",
    ),
    "total bomb": (
        lambda: make_zip(("a.xml", ZEROS), ("b.xml", ZEROS)),
        SMALL_TOTAL,
        PackageTooLargeError,
        "package declares 400000 bytes .* max_total_bytes=300000",
    ),
    "total bomb, lying header": (
        lambda: lie(make_zip(("a.xml", ZEROS), ("b.xml", ZEROS)), "b.xml", file_size=10),
        SMALL_TOTAL,
        PackageTooLargeError,
        "package expands to at least .* max_total_bytes=300000",
    ),
    "CRC mismatch (stored)": (
        lambda: flip_data_byte(make_zip(("a.xml", XML_B), compression=zipfile.ZIP_STORED), "a.xml"),
        PackageLimits(),
        CorruptPackageError,
        "'a.xml' fails its CRC-32",
    ),
    "damaged deflate data": (
        lambda: flip_data_byte(make_zip(("a.xml", os.urandom(5000))), "a.xml"),
        PackageLimits(),
        CorruptPackageError,
        "'a.xml'",
    ),
    "size larger than content": (
        lambda: lie(
            make_zip(("a.xml", XML_A), compression=zipfile.ZIP_STORED),
            "a.xml",
            file_size=len(XML_A) + 1,
        ),
        PackageLimits(),
        CorruptPackageError,
        "header declares",
    ),
    "deflate data cut short": (
        lambda: lie(make_zip(("a.xml", XML_B)), "a.xml", compress_size=20),
        PackageLimits(),
        CorruptPackageError,
        "deflate data ends early",
    ),
    "bytes after the deflate data": (
        lambda: lie(make_zip(("a.xml", XML_A), ("b.xml", XML_B)), "a.xml", compress_size=70),
        PackageLimits(),
        CorruptPackageError,
        "bytes after the end of its deflate data",
    ),
    "truncated member": (
        lambda: lie(make_zip(("a.xml", XML_A)), "a.xml", compress_size=10_000),
        PackageLimits(),
        CorruptPackageError,
        "truncated",
    ),
    "truncated package": (
        lambda: make_zip(("a.xml", XML_A), ("b.xml", XML_B))[:-40],
        PackageLimits(),
        CorruptPackageError,
        "truncated",
    ),
    "not a ZIP": (lambda: b"%PDF-1.7 ...", PackageLimits(), PackageDecodeError, "not a ZIP"),
}


@pytest.mark.parametrize("case", BAD_PACKAGES, ids=str)
def test_a_bad_package_is_refused_and_nothing_is_written(tmp_path: Path, case: str) -> None:
    build, limits, error, message = BAD_PACKAGES[case]
    data = build()
    before = tree(tmp_path)

    with pytest.raises(error, match=message):
        extract_package(data, tmp_path / "out", limits)
    with pytest.raises(error, match=message):
        verify_package(data, limits)

    assert tree(tmp_path) == before  # no dest, no partial, no temp file, nothing outside


def test_a_lying_header_never_lets_a_bomb_through_iteration() -> None:
    data = lie(make_zip(("a.xml", ZEROS)), "a.xml", file_size=100)

    with pytest.raises(PackageTooLargeError):
        list(iter_package(data, SMALL_RATIO))


def test_zip64_end_records_are_read() -> None:
    assert dict(iter_package(_zip64_with_three_members())) == {
        "a.xml": b"a",
        "b.xml": b"b",
        "c.xml": b"c",
    }


@pytest.mark.parametrize(
    ("content", "encoding", "message"),
    [
        ("UEsDBA==!", "base64", "not valid base64"),
        ("UEsDB A==", "base64", "not valid base64"),
        ("ñandú", "base64", "not valid base64"),
        (base64.b64encode(b"<html>oops</html>").decode(), "base64", "not a ZIP"),
        ("UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==", "hex", "unsupported package encoding 'hex'"),
    ],
)
def test_decode_package_refuses_what_is_not_base64_of_a_zip(
    content: str, encoding: str, message: str
) -> None:
    with pytest.raises(PackageDecodeError, match=message):
        decode_package(content, encoding=encoding)


def test_decode_package_catches_a_download_cut_short() -> None:
    content = base64.b64encode(make_zip(("a.xml", XML_B))[:100]).decode()

    with pytest.raises(CorruptPackageError, match="truncated"):
        decode_package(content)


def test_limits_refuse_nonsense_values() -> None:
    with pytest.raises(ValueError, match="max_members"):
        PackageLimits(max_members=0)
