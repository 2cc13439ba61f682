"""Package verification and extraction, rule by rule, with the exact refusal a user reads
(issue 13: each test kills mutants that survived tests/test_packages.py).

Boundaries of every cap (at the cap passes, one over fails), each name rule, each entry type,
the end-record checks, the member each error names, and the overwrite and durability rules.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import os
import stat
import struct
import tracemalloc
import unicodedata
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from gigstack_async import packages as packages_module
from gigstack_async.packages import (
    DEFAULT_LIMITS,
    CorruptPackageError,
    ExtractConflictError,
    PackageDecodeError,
    PackageError,
    PackageLimits,
    PackageTooLargeError,
    UnsafePackageError,
    decode_package,
    extract_package,
    extract_staged,
    iter_package,
    verify_package,
    verify_staged,
)
from tests.test_packages import lie, make_zip, special

XML = b"<cfdi:Comprobante/>" * 10  # 190 bytes
SHA = hashlib.sha256(XML).hexdigest()


def stored(*entries: tuple[str | zipfile.ZipInfo, bytes]) -> bytes:
    return make_zip(*entries, compression=zipfile.ZIP_STORED)


def refusal(data: bytes, limits: PackageLimits = DEFAULT_LIMITS) -> PackageError:
    with pytest.raises(PackageError) as info:
        verify_package(data, limits)
    return info.value


# --- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a\x1f.xml", "contains a NUL or control character"),
        ("a\x7f.xml", "contains a NUL or control character"),
        ("a\n.xml", "contains a NUL or control character"),
        ("a\\b.xml", "contains a backslash, a path separator on Windows"),
        ("/a.xml", "is an absolute path"),
        ("a:b.xml", "contains ':', a drive letter or an NTFS stream on Windows"),
        ("a/../b.xml", "contains '..', which would leave the destination folder"),
        ("..", "contains '..', which would leave the destination folder"),
        ("a//b.xml", "contains an empty or '.' path component"),
        ("./a.xml", "contains an empty or '.' path component"),
        ("a/./b.xml", "contains an empty or '.' path component"),
        ("a./b.xml", "has a component ending in '.' or ' ', which Windows drops"),
        ("a.xml.", "has a component ending in '.' or ' ', which Windows drops"),
        ("a /b.xml", "has a component ending in '.' or ' ', which Windows drops"),
        ("con.xml", "uses a reserved Windows device name"),
        ("sub/NUL", "uses a reserved Windows device name"),
        ("aux.tar.gz", "uses a reserved Windows device name"),
        ("Com1.xml", "uses a reserved Windows device name"),
        ("lpt9.xml", "uses a reserved Windows device name"),
        ("prn", "uses a reserved Windows device name"),
    ],
)
def test_unsafe_names_are_refused_with_their_rule(name: str, problem: str) -> None:
    error = refusal(stored((name, XML)))
    assert type(error) is UnsafePackageError
    assert str(error) == f"member {name!r} {problem}"
    assert error.member == name


@pytest.mark.parametrize(
    "name",
    ["console.xml", "com0.xml", "com10.xml", "lpt.xml", "a.b/c d.xml", "x/.hidden", "ñandú.xml"],
)
def test_ordinary_names_are_accepted(name: str) -> None:
    manifest = verify_package(stored((name, XML)))
    assert [m.name for m in manifest.members] == [name]


def test_a_folder_entry_is_checked_without_its_slash() -> None:
    assert verify_package(stored(("a/", b""), ("a/b.xml", XML))).members[0].name == "a/b.xml"
    error = refusal(stored(("../", b"")))
    assert str(error) == "member '../' contains '..', which would leave the destination folder"


def test_names_differing_only_in_unicode_form_collide() -> None:
    composed = unicodedata.normalize("NFC", "é.xml")
    decomposed = unicodedata.normalize("NFD", "é.xml")
    error = refusal(stored((composed, XML), (decomposed, XML)))
    assert type(error) is UnsafePackageError
    assert str(error) == (
        f"member {decomposed!r} and {composed!r} collide: names must differ by more than case "
        "or Unicode form"
    )
    assert error.member == decomposed


def test_a_duplicate_names_the_member() -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = stored(("a.xml", XML), ("a.xml", XML))
    error = refusal(data)
    assert str(error) == "member 'a.xml' appears twice"
    assert error.member == "a.xml"


@pytest.mark.parametrize(
    "entries",
    [[("a", XML), ("a/b.xml", XML)], [("a/b.xml", XML), ("A", XML)], [("x/", b""), ("X", XML)]],
)
def test_a_file_used_as_a_folder_names_both(entries: list[tuple[str, bytes]]) -> None:
    error = refusal(stored(*entries))
    assert type(error) is UnsafePackageError
    file = next(n for n, _ in entries if n.upper() in ("A", "X"))
    assert str(error).startswith(f"member {file!r} is a file but ")
    assert str(error).endswith(" uses it as a folder")
    assert error.member == file


def test_folders_and_files_sharing_a_prefix_are_fine() -> None:
    data = stored(("ab", XML), ("a/b.xml", XML), ("a/", b""), ("a/c/", b""))
    assert [m.name for m in verify_package(data).members] == ["ab", "a/b.xml"]


# --- entry types --------------------------------------------------------------------------------


def test_entry_types() -> None:
    link = refusal(stored((special("a.xml", stat.S_IFLNK | 0o777), b"x")))
    assert str(link) == "member 'a.xml' is a symbolic link"
    assert link.member == "a.xml"
    device = refusal(stored((special("a.xml", stat.S_IFCHR | 0o644), b"")))
    assert str(device) == f"member 'a.xml' is not a regular file (mode {stat.S_IFCHR:#o})"
    assert device.member == "a.xml"
    dos_folder = zipfile.ZipInfo("a.xml")
    dos_folder.external_attr = 0x10
    error = refusal(stored((dos_folder, b"x")))
    assert str(error) == "member 'a.xml' is not a regular file (mode 0o0)"
    regular = verify_package(stored((special("a.xml", stat.S_IFREG | 0o644), XML)))
    assert regular.members[0].size == len(XML)
    plain_mode = verify_package(stored((special("b.xml", 0o644), XML)))
    assert plain_mode.members[0].name == "b.xml"


def test_folder_entries() -> None:
    good = verify_package(stored((special("d/", stat.S_IFDIR | 0o755), b""), ("d/a.xml", XML)))
    assert [m.name for m in good.members] == ["d/a.xml"]
    plain = verify_package(stored((special("d/", 0), b"")))
    assert plain.members == ()
    odd = refusal(stored((special("d/", stat.S_IFLNK | 0o777), b"")))
    assert type(odd) is UnsafePackageError
    assert str(odd) == f"member 'd/' is a folder with mode {stat.S_IFLNK:#o}"
    assert odd.member == "d/"
    full = refusal(lie(stored(("d/", b"")), "d/", file_size=5))
    assert type(full) is CorruptPackageError
    assert str(full) == "folder 'd/' declares content"
    assert full.member == "d/"


def test_an_encrypted_member_is_refused() -> None:
    data = bytearray(stored(("a.xml", XML)))
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        (flags,) = struct.unpack_from("<H", data, at + flag_at)
        struct.pack_into("<H", data, at + flag_at, flags | 0x1)
    error = refusal(bytes(data))
    assert type(error) is PackageDecodeError
    assert str(error) == "member 'a.xml' is encrypted"
    assert error.member == "a.xml"


def test_an_unsupported_method_names_the_member() -> None:
    error = refusal(make_zip(("a.xml", XML), compression=zipfile.ZIP_LZMA))
    assert str(error) == (
        "member 'a.xml' uses compression method 14; only stored and deflate are accepted"
    )
    assert error.member == "a.xml"


def test_a_utf8_name_is_matched_against_its_local_header() -> None:
    data = make_zip(("año/ñ.xml", XML))
    assert dict(iter_package(data)) == {"año/ñ.xml": XML}


def test_a_renamed_local_header_names_both() -> None:
    data = bytearray(stored(("a.xml", XML)))
    at = data.find(b"PK\x03\x04")
    data[at + 30 : at + 35] = b"b.xml"
    error = refusal(bytes(data))
    assert str(error) == "member 'a.xml' is called 'b.xml' in its local header"
    assert error.member == "a.xml"


def test_a_missing_local_header_is_corrupt() -> None:
    data = bytearray(stored(("a.xml", XML)))
    data[0:4] = b"XX\x03\x04"
    data = b"PK\x03\x04" + bytes(data[4:])  # keep the signature check at the start happy
    patched = bytearray(data)
    central = patched.find(b"PK\x01\x02")
    struct.pack_into("<L", patched, central + 42, 5)  # the local header offset, now wrong
    error = refusal(bytes(patched))
    assert type(error) is CorruptPackageError
    assert str(error) == "member 'a.xml' has no local header at 5"
    assert error.member == "a.xml"


def test_data_running_exactly_to_the_end_is_not_truncated() -> None:
    # A member whose data ends exactly where the package ends: the central directory is read
    # from a blob whose size makes start + compress_size == size.
    data = stored(("a.xml", XML))
    assert verify_package(data).members[0].size == len(XML)
    error = refusal(lie(data, "a.xml", compress_size=len(data)))
    assert type(error) is CorruptPackageError
    assert str(error) == ("member 'a.xml' is truncated: its data runs past the end of the package")
    assert error.member == "a.xml"


# --- caps at their boundaries -------------------------------------------------------------------


def test_max_members_is_inclusive() -> None:
    data = stored(("a.xml", XML), ("b.xml", XML))
    assert len(verify_package(data, PackageLimits(max_members=2)).members) == 2
    error = refusal(data, PackageLimits(max_members=1))
    assert type(error) is PackageTooLargeError
    assert str(error) == "package declares 2 members, over max_members=1"


def test_a_central_directory_holding_more_than_declared_is_counted() -> None:
    data = bytearray(stored(("a.xml", XML), ("b.xml", XML), ("c.xml", XML)))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<2H", data, end + 8, 1, 1)  # the end record now says 1 entry
    error = refusal(bytes(data), PackageLimits(max_members=2))
    assert type(error) is PackageTooLargeError
    assert str(error) == "package holds 3 members, over max_members=2"
    assert len(verify_package(bytes(data), PackageLimits(max_members=3)).members) == 3


def test_max_member_bytes_is_inclusive() -> None:
    data = stored(("a.xml", XML))
    assert verify_package(data, PackageLimits(max_member_bytes=len(XML))).members[0].sha256 == SHA
    error = refusal(data, PackageLimits(max_member_bytes=len(XML) - 1))
    assert str(error) == f"member 'a.xml' declares {len(XML)} bytes, over max_member_bytes=189"
    assert error.member == "a.xml"


def test_max_member_bytes_is_checked_on_inflated_bytes() -> None:
    data = lie(stored(("a.xml", XML)), "a.xml", file_size=10)
    error = refusal(data, PackageLimits(max_member_bytes=100))
    assert type(error) is PackageTooLargeError
    assert str(error) == "member 'a.xml' expands to at least 190 bytes, over max_member_bytes=100"


def test_max_total_bytes_is_inclusive() -> None:
    data = stored(("a.xml", XML), ("b.xml", XML))
    limits = PackageLimits(max_total_bytes=2 * len(XML))
    assert verify_package(data, limits).total_size == 2 * len(XML)
    error = refusal(data, PackageLimits(max_total_bytes=2 * len(XML) - 1))
    assert type(error) is PackageTooLargeError
    assert str(error) == "package declares 380 bytes in total, over max_total_bytes=379"
    assert getattr(error, "member", "unset") is None


def _ratio_zip(size: int) -> tuple[bytes, int]:
    data = make_zip(("a.xml", bytes(size)))
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("a.xml")
    return data, info.compress_size


def test_the_member_ratio_applies_only_above_the_floor_and_is_inclusive() -> None:
    data, compressed = _ratio_zip(20_000)
    ratio = 20_000 / compressed
    lax_total = {"max_total_bytes": 10**9}
    # At the floor: any ratio passes. One byte under the floor: the ratio applies.
    at_floor = PackageLimits(max_ratio=1, ratio_floor_bytes=20_000, **lax_total)
    assert verify_package(data, at_floor).total_size == 20_000
    # Exactly at the ratio passes (whole-package ratio disabled by a huge ratio on the total).
    exact = PackageLimits(max_ratio=ratio, ratio_floor_bytes=19_999)
    with pytest.raises(PackageTooLargeError) as info:
        verify_package(data, PackageLimits(max_ratio=ratio * 0.999, ratio_floor_bytes=19_999))
    assert str(info.value).startswith(f"member 'a.xml' declares 20000 bytes from {compressed} ")
    assert str(info.value).endswith(f"over max_ratio={ratio * 0.999:g}")
    assert info.value.member == "a.xml"
    # The package-wide ratio uses the whole ZIP's size, which is larger: exact passes.
    assert verify_package(data, exact).total_size == 20_000


def test_the_package_ratio_is_inclusive_and_applies_only_above_the_floor() -> None:
    # Two members under the floor each (no member ratio), 30,000 bytes together (above it).
    data = make_zip(("a.xml", bytes(15_000)), ("b.xml", bytes(15_000)))
    whole = len(data)
    ratio = 30_000 / whole
    if ratio * whole < 30_000:
        ratio = math.nextafter(ratio, math.inf)
    assert verify_package(data, PackageLimits(max_ratio=ratio, ratio_floor_bytes=19_999))
    under = PackageLimits(max_ratio=ratio * 0.999, ratio_floor_bytes=19_999)
    error = refusal(data, under)
    assert str(error) == (
        f"package declares 30000 bytes from {whole} bytes of ZIP, over max_ratio={ratio * 0.999:g}"
    )
    floor = PackageLimits(max_ratio=1, ratio_floor_bytes=30_000)
    assert verify_package(data, floor).total_size == 30_000


def test_a_zero_compressed_size_counts_as_one_byte() -> None:
    # An empty member stored as zero bytes of deflate data whose header claims 50 bytes: the
    # ratio is computed against one byte, not zero (no division by zero, no free pass).
    data = lie(make_zip(("a.xml", b"")), "a.xml", compress_size=0, file_size=50)
    error = refusal(data, PackageLimits(max_ratio=49, ratio_floor_bytes=0))
    assert str(error) == "member 'a.xml' declares 50 bytes from 0 compressed, over max_ratio=49"
    error = refusal(data, PackageLimits(max_ratio=50, ratio_floor_bytes=0, max_total_bytes=10**6))
    assert type(error) is CorruptPackageError  # the ratio passes; the size then mismatches
    assert str(error) == "member 'a.xml' is 0 bytes but its header declares 50"


def test_inflated_bytes_are_charged_to_the_package_budget() -> None:
    data = lie(stored(("a.xml", XML), ("b.xml", XML)), "b.xml", file_size=1)
    error = refusal(data, PackageLimits(max_total_bytes=300))
    assert type(error) is PackageTooLargeError
    assert str(error) == "package expands to at least 380 bytes in total, over max_total_bytes=300"


# --- CRC and sizes ------------------------------------------------------------------------------


def test_a_crc_mismatch_shows_both_values() -> None:
    data = lie(stored(("a.xml", XML)), "a.xml", crc=0x1234)
    error = refusal(data)
    crc = zipfile.crc32(XML) if hasattr(zipfile, "crc32") else __import__("zlib").crc32(XML)
    assert str(error) == f"member 'a.xml' fails its CRC-32 check (stored 00001234, got {crc:08x})"
    assert error.member == "a.xml"


def test_a_short_member_names_both_sizes() -> None:
    data = lie(stored(("a.xml", XML)), "a.xml", file_size=len(XML) + 5)
    error = refusal(data)
    assert str(error) == "member 'a.xml' is 190 bytes but its header declares 195"
    assert error.member == "a.xml"


def test_a_large_member_inflates_across_many_chunks() -> None:
    content = os.urandom(300_000) + bytes(300_000)
    data = make_zip(("a.xml", content))
    assert dict(iter_package(data)) == {"a.xml": content}
    manifest = verify_package(data)
    assert manifest.members[0].sha256 == hashlib.sha256(content).hexdigest()


def test_a_deflate_member_with_garbage_names_it() -> None:
    data = lie(make_zip(("a.xml", XML), ("b.xml", XML)), "a.xml", compress_size=1)
    error = refusal(data)
    assert type(error) is CorruptPackageError
    assert error.member == "a.xml"
    assert str(error).startswith("member 'a.xml' ")


def test_bad_deflate_data_is_reported() -> None:
    data = bytearray(make_zip(("a.xml", XML)))
    at = data.find(b"PK\x03\x04") + 30 + len("a.xml")
    data[at] = 0xFF  # an invalid deflate block type
    error = refusal(bytes(data))
    assert type(error) is CorruptPackageError
    assert str(error).startswith("member 'a.xml' has bad deflate data: ")
    assert error.member == "a.xml"


# --- end records --------------------------------------------------------------------------------


def test_an_end_record_after_the_longest_comment_is_found() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.xml", XML)
        archive.comment = b"c" * 0xFFFF
    assert verify_package(buffer.getvalue()).members[0].sha256 == SHA


def test_an_end_record_cut_in_the_middle_is_truncated() -> None:
    data = stored(("a.xml", XML))
    error = refusal(data[:-5])
    assert type(error) is CorruptPackageError
    assert str(error) == "ZIP is truncated: its end-of-central-directory record is missing"


def test_an_empty_zip_is_an_empty_package() -> None:
    empty = base64.b64decode("UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==")
    assert verify_package(empty).members == ()
    assert decode_package("  UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==\n", encoding="BASE64") == empty


def test_not_a_zip_shows_its_first_bytes() -> None:
    error = refusal(b"%PDF-1.7 and more")
    assert str(error) == "not a ZIP file (it starts with b'%PDF-1.7')"


def test_0xffff_members_without_a_zip64_locator_is_the_classic_count() -> None:
    data = bytearray(stored(("a.xml", XML)))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<2H", data, end + 8, 0xFFFF, 0xFFFF)
    error = refusal(bytes(data), PackageLimits(max_members=0xFFFE))
    assert str(error) == "package declares 65535 members, over max_members=65534"


def test_a_zip64_locator_pointing_nowhere_is_corrupt() -> None:
    from tests.test_packages import _zip64_with_three_members

    data = bytearray(_zip64_with_three_members())
    record = data.rfind(b"PK\x06\x06")
    data[record : record + 4] = b"XXXX"
    error = refusal(bytes(data))
    assert type(error) is CorruptPackageError
    assert str(error) == "ZIP is damaged: its zip64 end-of-central-directory is missing"


def test_an_unreadable_central_directory_is_corrupt() -> None:
    data = bytearray(stored(("a.xml", XML)))
    central = data.find(b"PK\x01\x02")
    data[central : central + 4] = b"XXXX"
    error = refusal(bytes(data))
    assert type(error) is CorruptPackageError
    assert str(error).startswith("unreadable ZIP central directory: ")


# --- decoding -----------------------------------------------------------------------------------


def test_decode_refusals_say_why() -> None:
    with pytest.raises(PackageDecodeError) as info:
        decode_package("UEsFBgAA", encoding="hex")
    assert str(info.value) == "unsupported package encoding 'hex'; expected 'base64'"
    with pytest.raises(PackageDecodeError) as info:
        decode_package("UEs!")
    assert str(info.value).startswith("package content is not valid base64: ")
    assert isinstance(info.value.__cause__, ValueError)


# --- staged packages: the same checks, read from disk -------------------------------------------


def test_verify_staged_reads_the_file_in_pieces(tmp_path: Path) -> None:
    content = os.urandom(200_000)
    data = make_zip(("a.xml", content), ("b.xml", XML))
    path = tmp_path / "p.zip"
    path.write_bytes(data)
    manifest = verify_staged(path)
    assert manifest == verify_package(data)
    assert manifest.sha256 == hashlib.sha256(data).hexdigest()
    assert manifest.members[0].sha256 == hashlib.sha256(content).hexdigest()
    path.write_bytes(stored(("../a.xml", XML)))
    with pytest.raises(UnsafePackageError):
        verify_staged(str(path))


def test_verify_staged_catches_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "p.zip"
    path.write_bytes(make_zip(("a.xml", os.urandom(100_000)))[:-30])
    with pytest.raises(CorruptPackageError, match="truncated"):
        verify_staged(path)


def test_a_huge_staged_file_is_checked_in_bounded_memory(tmp_path: Path) -> None:
    """verify_staged promises memory bounded whatever the package's size: looking for the end
    record reads only the last 64 KiB + 22 bytes. A 1 GiB staged file (sparse: it costs no disk
    or time) whose end was never written is refused as truncated, with well under 1 MiB of
    allocations at the peak (asking the file for more bytes than that reserves them all)."""
    path = tmp_path / "big.zip"
    with path.open("wb") as file:
        file.write(stored(("a.xml", XML))[:-22])  # everything but the end record
        file.truncate(1 << 30)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptPackageError) as info:
            verify_staged(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value) == "ZIP is truncated: its end-of-central-directory record is missing"
    assert peak < 1 << 20


def test_extract_staged_overwrites_by_default_and_clears_stale_temp_files(tmp_path: Path) -> None:
    zip_path = tmp_path / "p.zip"
    zip_path.write_bytes(stored(("d/a.xml", XML), ("b.xml", XML)))
    out = tmp_path / "out"
    (out / "d").mkdir(parents=True)
    (out / "d" / "a.xml").write_bytes(b"torn")
    (out / "b.xml").write_bytes(XML)
    result = extract_staged(zip_path, out)
    assert [(f.name, f.written) for f in result.files] == [("d/a.xml", True), ("b.xml", False)]
    assert (out / "d" / "a.xml").read_bytes() == XML
    assert result.dest_dir == out.resolve()
    (out / "d" / "a.xml").write_bytes(b"torn")
    with pytest.raises(ExtractConflictError):
        extract_staged(zip_path, out, overwrite=False)


def test_extract_staged_applies_its_limits(tmp_path: Path) -> None:
    zip_path = tmp_path / "p.zip"
    zip_path.write_bytes(stored(("a.xml", XML)))
    with pytest.raises(PackageTooLargeError):
        extract_staged(zip_path, tmp_path / "out", limits=PackageLimits(max_member_bytes=10))
    assert not (tmp_path / "out").exists()


def test_extract_staged_does_not_fsync_but_extract_package_syncs_each_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    monkeypatch.setattr(packages_module, "fsync_dir", lambda p: synced.append(Path(p)))
    data = stored(("x/a.xml", XML), ("x/b.xml", XML), ("y/c.xml", XML), ("d.xml", XML))
    zip_path = tmp_path / "p.zip"
    zip_path.write_bytes(data)
    extract_staged(zip_path, tmp_path / "staged")
    assert synced == []
    out = tmp_path / "out"
    extract_package(data, out)
    root = out.resolve()
    assert synced == sorted([root, root / "x", root / "y"])
    synced.clear()
    extract_package(data, out)  # nothing to write: nothing to sync
    assert synced == []


def test_extract_writes_through_write_atomic_durably_or_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bool, bool]] = []
    real = packages_module.write_atomic

    def spy(path: Path, chunks: object, *, sync_dir: bool, durable: bool) -> None:
        calls.append((sync_dir, durable))
        real(path, chunks, sync_dir=sync_dir, durable=durable)  # type: ignore[arg-type]

    monkeypatch.setattr(packages_module, "write_atomic", spy)
    data = stored(("a.xml", XML))
    extract_package(data, tmp_path / "a")
    zip_path = tmp_path / "p.zip"
    zip_path.write_bytes(data)
    extract_staged(zip_path, tmp_path / "b")
    assert calls == [(False, True), (False, False)]


# --- the destination ----------------------------------------------------------------------------


def test_a_file_in_the_way_of_a_folder_is_a_conflict(tmp_path: Path) -> None:
    (tmp_path / "d").write_bytes(b"a file")
    with pytest.raises(ExtractConflictError) as info:
        extract_package(stored(("d/a.xml", XML)), tmp_path)
    assert (
        str(info.value)
        == f"a file in {tmp_path.resolve()} is in the way of member 'd/a.xml''s folder"
    )
    assert info.value.member == "d/a.xml"
    assert (tmp_path / "d").read_bytes() == b"a file"


def test_a_symlink_where_a_member_goes_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_bytes(XML)
    (tmp_path / "a.xml").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ExtractConflictError) as info:
        extract_package(stored(("a.xml", XML)), tmp_path, overwrite=True)
    path = tmp_path.resolve() / "a.xml"
    assert str(info.value) == f"{path} exists and is not a regular file"
    assert info.value.member == "a.xml"


def test_a_same_size_file_with_other_bytes_is_a_conflict(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_bytes(b"x" * len(XML))
    with pytest.raises(ExtractConflictError) as info:
        extract_package(stored(("a.xml", XML)), tmp_path)
    path = tmp_path.resolve() / "a.xml"
    assert str(info.value) == (
        f"{path} already exists with other content; pass overwrite=True to replace it"
    )
    assert info.value.member == "a.xml"


def test_a_large_existing_identical_file_is_hashed_whole(tmp_path: Path) -> None:
    content = os.urandom(200_000)
    (tmp_path / "a.xml").write_bytes(content[:-1] + bytes([content[-1] ^ 1]))  # never equal
    data = make_zip(("a.xml", content))
    with pytest.raises(ExtractConflictError):
        extract_package(data, tmp_path)
    (tmp_path / "a.xml").write_bytes(content)
    assert [f.written for f in extract_package(data, tmp_path).files] == [False]


def test_outside_the_destination_names_both_folders(tmp_path: Path) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "sub").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePackageError) as info:
        extract_package(stored(("sub/a.xml", XML)), dest)
    assert str(info.value) == (
        f"member 'sub/a.xml' would be written to {outside.resolve()}, outside {dest.resolve()}"
    )
    assert info.value.member == "sub/a.xml"


def test_extracted_files_report_path_size_hash_and_written(tmp_path: Path) -> None:
    result = extract_package(stored(("d/a.xml", XML)), tmp_path / "out")
    (file,) = result.files
    assert file.path == (tmp_path / "out").resolve() / "d" / "a.xml"
    assert (file.name, file.size, file.sha256, file.written) == ("d/a.xml", len(XML), SHA, True)


# --- bounded inflating --------------------------------------------------------------------------


@pytest.mark.parametrize("bound", [7, 1000, 64 * 1024])
def test_inflating_never_produces_more_than_one_chunk_per_step(
    monkeypatch: pytest.MonkeyPatch, bound: int
) -> None:
    # With a tiny bound, long matches are cut mid-copy: the input is used up while zlib still
    # holds output, which must be drained in bounded steps, not taken for a truncated stream.
    monkeypatch.setattr(packages_module, "_CHUNK", bound)
    content = bytes(300_000) + os.urandom(3000) + b"ab" * 50_000
    data = make_zip(("a.xml", content))
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("a.xml")
    start = data.find(b"PK\x03\x04") + 30 + len("a.xml")
    raw = data[start : start + info.compress_size]
    pieces = [raw[at : at + bound] for at in range(0, len(raw), bound)]
    chunks = list(packages_module._inflate(iter(pieces), "a.xml"))
    assert b"".join(chunks) == content
    assert max(len(c) for c in chunks) <= bound
    assert dict(iter_package(data)) == {"a.xml": content}


def test_bytes_after_the_deflate_data_name_the_member() -> None:
    data = lie(make_zip(("a.xml", XML), ("b.xml", XML * 5)), "a.xml", compress_size=60)
    error = refusal(data)
    assert str(error) == "member 'a.xml' has bytes after the end of its deflate data"
    assert error.member == "a.xml"


def test_extract_creates_missing_parent_folders(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "c"
    result = extract_package(stored(("x.xml", XML)), out)
    assert (out / "x.xml").read_bytes() == XML
    assert result.dest_dir == out.resolve()
    zip_path = tmp_path / "p.zip"
    zip_path.write_bytes(stored(("x.xml", XML)))
    assert extract_staged(zip_path, tmp_path / "d" / "e").files[0].written


# --- the container, byte by byte ----------------------------------------------------------------


def test_blob_reads_nothing_past_the_end_or_for_no_size(tmp_path: Path) -> None:
    path = tmp_path / "b"
    path.write_bytes(b"abc")
    with packages_module._Blob(b"abc") as memory, packages_module._Blob(path=path) as file:
        for blob in (memory, file):
            assert blob.read(0, 2) == b"ab"
            assert blob.read(1, 10) == b"bc"
            assert blob.read(3, 5) == b""
            assert blob.read(1, 0) == b""
            assert blob.read(1, -1) == b""


def test_an_end_record_one_byte_beyond_the_comment_limit_is_truncated() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.xml", XML)
        archive.comment = b"c" * 0xFFFF
    error = refusal(buffer.getvalue() + b"x")
    assert str(error) == "ZIP is truncated: its end-of-central-directory record is missing"


def test_the_last_end_signature_is_the_end_record() -> None:
    # A member's bytes may contain the end signature; the real record is the last one.
    fake = b"PK\x05\x06" + struct.pack("<4H2LH", 0, 0, 9999, 9999, 0, 0, 0)
    data = stored(("a.bin", fake))
    manifest = verify_package(data, PackageLimits(max_members=5))
    assert [m.name for m in manifest.members] == ["a.bin"]


def test_a_staged_end_record_claiming_zip64_without_a_locator(tmp_path: Path) -> None:
    path = tmp_path / "p.zip"
    path.write_bytes(b"PK\x05\x06" + struct.pack("<4H2LH", 0, 0, 0xFFFF, 0xFFFF, 0, 0, 0))
    assert verify_staged(path).members == ()
    error = refusal(path.read_bytes(), PackageLimits(max_members=10))
    assert str(error) == "package declares 65535 members, over max_members=10"


def test_a_file_used_as_a_folder_names_the_member_that_uses_it() -> None:
    cases = [
        ([("a", XML), ("a/b.xml", XML)], "member 'a' is a file but 'a/b.xml' uses it as a folder"),
        ([("x/", b""), ("X", XML)], "member 'X' is a file but 'x/' uses it as a folder"),
        (
            [("a/b", XML), ("a/b/c.xml", XML)],
            "member 'a/b' is a file but 'a/b/c.xml' uses it as a folder",
        ),
    ]
    for entries, message in cases:
        assert str(refusal(stored(*entries))) == message


def test_a_cp437_name_is_matched_against_its_local_header() -> None:
    # Without the UTF-8 flag, names are cp437: byte 0x82 is 'é'.
    data = packages_module_rename(stored(("e.xml", XML)), b"e.xml", b"\x82.xml")
    assert dict(iter_package(data)) == {"é.xml": XML}


def test_an_undecodable_local_name_is_a_mismatch_not_a_crash() -> None:
    data = bytearray(make_zip(("ñ.xml", XML)))  # non-ASCII: written with the UTF-8 flag
    local = data.find(b"PK\x03\x04") + 30
    data[local : local + 2] = b"\xff\xfe"  # 'ñ' in the local header: invalid UTF-8
    error = refusal(bytes(data))
    assert type(error) is CorruptPackageError
    assert str(error) == "member 'ñ.xml' is called '\ufffd\ufffd.xml' in its local header"


def test_a_local_extra_field_is_skipped() -> None:
    info = zipfile.ZipInfo("a.xml")
    info.extra = struct.pack("<2H", 0x9999, 4) + b"abcd"
    data = stored((info, XML))
    assert dict(iter_package(data)) == {"a.xml": XML}


def test_a_bare_slash_entry_has_an_empty_name() -> None:
    data = packages_module_rename(stored(("d/", b"")), b"d/", b"//")
    error = refusal(data)
    assert str(error) == "member '//' is an absolute path"
    only = packages_module_rename(stored(("d", XML)), b"d", b"/")
    assert str(refusal(only)) == "member '/' has an empty name"


def test_a_read_only_msdos_file_is_a_regular_file() -> None:
    info = zipfile.ZipInfo("a.xml")
    info.external_attr = 0x01  # MS-DOS read-only
    assert verify_package(stored((info, XML))).members[0].size == len(XML)
    archived = zipfile.ZipInfo("b.xml")
    archived.external_attr = 0x20  # MS-DOS archive bit
    assert verify_package(stored((archived, XML))).members[0].size == len(XML)


def packages_module_rename(data: bytes, old: bytes, new: bytes) -> bytes:
    """Rename a member in both headers (same length), keeping its flags."""
    assert len(old) == len(new)
    patched = bytearray(data)
    for signature, name_at in ((b"PK\x03\x04", 30), (b"PK\x01\x02", 46)):
        at = patched.find(signature)
        assert patched[at + name_at : at + name_at + len(old)] == old
        patched[at + name_at : at + name_at + len(new)] = new
    return bytes(patched)


def test_names_with_spaces_land_in_their_own_folders(tmp_path: Path) -> None:
    data = stored(("a b/c d.xml", XML))
    result = extract_package(data, tmp_path / "out")
    assert result.files[0].path == (tmp_path / "out").resolve() / "a b" / "c d.xml"
    assert (tmp_path / "out" / "a b" / "c d.xml").read_bytes() == XML
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a b"]


def test_extract_staged_clears_stale_temp_files_in_folders_with_spaces(tmp_path: Path) -> None:
    zip_path = tmp_path / "p.zip"
    zip_path.write_bytes(stored(("a b/c d.xml", XML)))
    out = tmp_path / "out"
    (out / "a b").mkdir(parents=True)
    stale = out / "a b" / ".c d.xml.0123456789abcdef.tmp"
    stale.write_bytes(b"half")
    extract_staged(zip_path, out)
    assert sorted(p.name for p in (out / "a b").iterdir()) == ["c d.xml"]


def test_data_reaching_exactly_the_end_of_the_package_is_not_truncated() -> None:
    # The header claims the data runs up to the package's last byte: not truncated (it fits),
    # but then the bytes read are the wrong size.
    data = stored(("a.xml", XML))
    start = 30 + len("a.xml")
    error = refusal(lie(data, "a.xml", compress_size=len(data) - start))
    assert type(error) is CorruptPackageError
    assert str(error) == f"member 'a.xml' is {len(data) - start} bytes but its header declares 190"
    error = refusal(lie(data, "a.xml", compress_size=len(data) - start + 1))
    assert str(error) == "member 'a.xml' is truncated: its data runs past the end of the package"


def test_an_existing_file_is_hashed_in_bounded_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = os.urandom(200_000)
    data = make_zip(("a.xml", content))
    extract_package(data, tmp_path)
    sizes: list[object] = []
    real_open = Path.open

    class Reader:
        def __init__(self, fh: Any) -> None:
            self._fh = fh

        def read(self, size: Any = -1) -> bytes:
            sizes.append(size)
            return self._fh.read(size)  # type: ignore[no-any-return]

        def __enter__(self) -> Reader:
            return self

        def __exit__(self, *exc: object) -> None:
            self._fh.close()

    def spy(self: Path, *args: Any, **kwargs: Any) -> Any:
        return Reader(real_open(self, *args, **kwargs))

    monkeypatch.setattr(Path, "open", spy)
    assert [f.written for f in extract_package(data, tmp_path).files] == [False]
    assert sizes
    assert all(isinstance(n, int) and 0 < n <= 64 * 1024 for n in sizes)


@pytest.mark.parametrize("bound", [1, 7, 64])
def test_output_zlib_still_holds_after_the_last_input_is_drained_in_bounded_steps(
    monkeypatch: pytest.MonkeyPatch, bound: int
) -> None:
    # A long run of one byte ends in a long match whose copy is cut by the bound after the
    # last input byte was read: zlib still holds output. It must be drained, in bounded steps,
    # and must not be taken for a stream that ends early.
    monkeypatch.setattr(packages_module, "_CHUNK", bound)
    content = b"abc" + b"x" * 5000
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = deflate.compress(content) + deflate.flush()
    chunks = list(packages_module._inflate(iter([raw]), "a.xml"))
    assert b"".join(chunks) == content
    assert max(len(c) for c in chunks) <= bound


def test_a_trailing_no_break_space_is_part_of_the_name() -> None:
    # Only the folder slash is stripped before names are compared: 'f.xml\xa0' is another file
    # than 'f.xml', and a file 'd\xa0' is not the folder 'd'.
    names = [m.name for m in verify_package(stored(("f.xml", XML), ("f.xml\xa0", XML))).members]
    assert names == ["f.xml", "f.xml\xa0"]
    names = [m.name for m in verify_package(stored(("d\xa0", XML), ("d/x", XML))).members]
    assert names == ["d\xa0", "d/x"]
