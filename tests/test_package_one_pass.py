"""A staged package is inflated once for verifying (with its reading) and once for writing.

`verify_staged(inspect=...)` hands each member's bytes to an inspector in the verifying pass
(bulk() reads the CFDIs' dates and RFCs there), and `extract_staged` of bytes verified in this
process skips a second verifying pass. Neither may weaken a check: a damaged member is refused
whatever the inspector read, and bytes that changed are refused before anything is written.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from gigstack_async import packages
from gigstack_async.packages import (
    DEFAULT_LIMITS,
    CorruptPackageError,
    PackageLimits,
    extract_staged,
    verify_staged,
)
from tests.test_packages import make_zip

MEMBERS = {f"{i:02d}.xml": (b"<cfdi:Comprobante n='%d'/>" % i) * (i + 1) for i in range(5)}


def _staged(tmp_path: Path, members: dict[str, bytes] = MEMBERS) -> Path:
    path = tmp_path / "p.zip"
    path.write_bytes(make_zip(*members.items()))
    return path


def _crc_broken(members: dict[str, bytes], name: str) -> bytes:
    """A stored ZIP whose member `name` has one byte flipped after its CRC was computed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    raw = bytearray(buffer.getvalue())
    at = raw.index(members[name])
    raw[at] ^= 0x01
    return bytes(raw)


def test_the_inspector_sees_every_member_in_zip_order_with_its_bytes(tmp_path: Path) -> None:
    seen: dict[str, bytes] = {}

    def inspect(name: str, chunks: Iterator[bytes]) -> None:
        seen[name] = b"".join(chunks)

    manifest = verify_staged(_staged(tmp_path), inspect=inspect)

    assert list(seen) == list(MEMBERS)
    assert seen == MEMBERS
    assert [m.sha256 for m in manifest.members] == [
        hashlib.sha256(data).hexdigest() for data in MEMBERS.values()
    ]


def test_what_the_inspector_leaves_unread_is_verified_all_the_same(tmp_path: Path) -> None:
    path = tmp_path / "p.zip"
    path.write_bytes(_crc_broken(MEMBERS, "03.xml"))
    firsts: list[bytes] = []

    def inspect(name: str, chunks: Iterator[bytes]) -> None:
        firsts.append(next(chunks)[:5])  # reads the head only, as bulk()'s reading does

    with pytest.raises(CorruptPackageError, match=re.escape("'03.xml' fails its CRC-32")):
        verify_staged(path, inspect=inspect)
    # 03's head was read; the rest of it was checked by the verification itself, which
    # stopped there.
    assert firsts == [b"<cfdi", b"<cfdi", b"<cfdi", b"=cfdi"]


def test_the_package_error_wins_over_an_inspector_that_swallows_it(tmp_path: Path) -> None:
    path = tmp_path / "p.zip"
    path.write_bytes(_crc_broken(MEMBERS, "01.xml"))

    def inspect(name: str, chunks: Iterator[bytes]) -> None:
        try:
            for _chunk in chunks:
                pass
        except CorruptPackageError:
            pass  # an inspector must not be able to hide a damaged package

    with pytest.raises(CorruptPackageError, match=re.escape("'01.xml'")):
        verify_staged(path, inspect=inspect)


def test_an_inspector_error_is_raised_after_the_whole_package_was_verified(
    tmp_path: Path,
) -> None:
    calls: list[str] = []

    def inspect(name: str, chunks: Iterator[bytes]) -> None:
        calls.append(name)
        raise KeyError(name)

    with pytest.raises(KeyError, match=re.escape("00.xml")):
        verify_staged(_staged(tmp_path), inspect=inspect)
    assert calls == ["00.xml"]  # not asked again once it failed

    path = tmp_path / "bad.zip"
    path.write_bytes(_crc_broken(MEMBERS, "04.xml"))
    with pytest.raises(CorruptPackageError):  # the package's own error comes first
        verify_staged(path, inspect=inspect)


def test_extracting_bytes_verified_here_skips_the_second_verifying_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _staged(tmp_path)
    manifest = verify_staged(path)
    passes: list[int] = []
    real = packages._manifest

    def counted(*args: object, **kwargs: object) -> packages.PackageManifest:
        passes.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(packages, "_manifest", counted)

    result = extract_staged(path, tmp_path / "out", expected_sha256=manifest.sha256)

    assert passes == []
    assert {f.name: f.path.read_bytes() for f in result.files} == MEMBERS
    assert [f.sha256 for f in result.files] == [m.sha256 for m in manifest.members]
    # Taken once: the next extraction of the same bytes verifies them again.
    extract_staged(path, tmp_path / "again", expected_sha256=manifest.sha256)
    assert passes == [1]


def test_remembered_bytes_that_changed_on_disk_are_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    path = _staged(tmp_path)
    manifest = verify_staged(path)
    path.write_bytes(make_zip(("00.xml", b"<other/>")))

    with pytest.raises(CorruptPackageError, match="changed on disk"):
        extract_staged(path, tmp_path / "out", expected_sha256=manifest.sha256)
    assert not (tmp_path / "out").exists()


def test_what_was_verified_under_other_limits_is_verified_again(
    tmp_path: Path,
) -> None:
    path = _staged(tmp_path)
    manifest = verify_staged(path)  # the default limits
    tight = PackageLimits(max_member_bytes=50)

    with pytest.raises(packages.PackageTooLargeError):
        extract_staged(path, tmp_path / "out", limits=tight, expected_sha256=manifest.sha256)
    assert not (tmp_path / "out").exists()


def test_the_memory_of_verified_packages_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packages, "_REMEMBERED_BYTES", 3)
    monkeypatch.setattr(packages, "_entry_cost", lambda entry: 1)
    memory = packages._Verified()

    def manifest(sha: str, count: int) -> tuple[list[packages._Entry], packages.PackageManifest]:
        entries = [packages._Entry(f"{i}", zipfile.ZipInfo(f"{i}"), 0) for i in range(count)]
        return entries, packages.PackageManifest((), 0, sha)

    for sha, count in (("a", 2), ("b", 1), ("c", 2), ("d", 4)):
        memory.keep(DEFAULT_LIMITS, *manifest(sha, count))

    assert memory.take("a", DEFAULT_LIMITS) is None  # forgotten first: the oldest
    assert memory.take("d", DEFAULT_LIMITS) is None  # never kept: over the bound alone
    assert memory.take("b", DEFAULT_LIMITS) is not None
    assert memory.take("c", DEFAULT_LIMITS) is not None
    assert memory.take("c", DEFAULT_LIMITS) is None  # taken once


def test_a_member_that_no_longer_matches_its_verified_entry_is_refused(tmp_path: Path) -> None:
    # The bytes are read again for writing; if they differ from what was verified (the file
    # changed after its SHA-256 was checked), the size or CRC-32 check refuses them.
    data = make_zip(("a.xml", b"<a>" + b"x" * 500 + b"</a>"))
    with packages._Blob(data) as blob:
        entry = packages._entries(blob, DEFAULT_LIMITS)[0]
        assert packages._whole_member(blob, entry) == b"<a>" + b"x" * 500 + b"</a>"
        other_crc = attrs.evolve(entry, info=_with(entry.info, CRC=entry.info.CRC ^ 1))
        with pytest.raises(CorruptPackageError, match=re.escape("'a.xml' fails its CRC-32")):
            packages._whole_member(blob, other_crc)
        longer = attrs.evolve(entry, info=_with(entry.info, file_size=entry.info.file_size - 1))
        with pytest.raises(CorruptPackageError, match="is 507 bytes but its header declares 506"):
            packages._whole_member(blob, longer)
        cut = attrs.evolve(
            entry, info=_with(entry.info, compress_size=entry.info.compress_size - 3)
        )
        with pytest.raises(CorruptPackageError, match=re.escape("'a.xml'")):
            packages._whole_member(blob, cut)


def test_a_member_read_again_in_one_piece_is_checked_as_strictly_as_streamed() -> None:
    # What `_whole_member` refuses, by member name: the cases only a file changed after its
    # verification can reach (the verifying pass refused them all first).
    text = b"<a>" + b"x" * 500 + b"</a>"
    data = make_zip(("a.xml", text), ("b.xml", b"<b/>"))
    with packages._Blob(data) as blob:
        entry = packages._entries(blob, DEFAULT_LIMITS)[0]
        size = entry.info.file_size

        def refused(match: str, **changes: int) -> None:
            changed = attrs.evolve(entry, info=_with(entry.info, **changes))
            with pytest.raises(CorruptPackageError, match=match) as caught:
                packages._whole_member(blob, changed)
            assert caught.value.member == "a.xml"

        # Declared 2 bytes short: the inflate stops at the declared size + 1, not at the end.
        refused(f"'a.xml' does not inflate to the {size - 2} bytes its header declares$",
                file_size=size - 2)  # fmt: skip
        # Bytes after the end of the deflate data (the next member's header).
        refused("'a.xml' does not inflate", compress_size=entry.info.compress_size + 3)
        beyond = blob.size - entry.data_offset + 1
        refused("'a.xml' is truncated: its data runs past the end of the package$",
                compress_size=beyond)  # fmt: skip
    broken = bytearray(data)
    broken[entry.data_offset : entry.data_offset + 4] = b"\xff\xff\xff\xff"
    with packages._Blob(bytes(broken)) as blob, pytest.raises(CorruptPackageError) as caught:
        packages._whole_member(blob, entry)
    assert re.search(r"'a\.xml' has bad deflate data: Error -?\d", str(caught.value))
    assert caught.value.member == "a.xml"


def _with(info: zipfile.ZipInfo, **changes: int) -> zipfile.ZipInfo:
    copy = zipfile.ZipInfo(info.filename)
    for name in ("compress_type", "CRC", "compress_size", "file_size", "header_offset"):
        setattr(copy, name, getattr(info, name))
    for name, value in changes.items():
        setattr(copy, name, value)
    return copy


def test_remembering_is_bounded_by_what_the_entries_hold() -> None:
    entry = packages._Entry("a.xml", zipfile.ZipInfo("a.xml"), 0)
    entry.info.extra = b"x" * 60_000
    entry.info.comment = b"y" * 60_000
    assert packages._entry_cost(entry) >= 120_000  # a padded central directory counts


def test_a_small_member_padded_to_a_large_compressed_size_is_streamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packages, "_ONE_PIECE", 1024)
    whole: list[str] = []
    real = packages._whole_member

    def counted(blob: packages._Blob, entry: packages._Entry) -> bytes:
        whole.append(entry.name)
        return real(blob, entry)

    monkeypatch.setattr(packages, "_whole_member", counted)
    # 1 KB that deflate cannot shrink: within the bound inflated, over it compressed.
    data = {"small.xml": b"<a/>", "noise.xml": random.Random(1).randbytes(1024)}
    path = _staged(tmp_path, data)
    with zipfile.ZipFile(path) as archive:
        noise = archive.getinfo("noise.xml")
    assert noise.file_size <= 1024 < noise.compress_size

    result = extract_staged(path, tmp_path / "out")

    assert whole == ["small.xml"]  # the other is over the bound compressed: streamed
    assert {f.name: f.path.read_bytes() for f in result.files} == data
