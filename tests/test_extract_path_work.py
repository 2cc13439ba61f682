"""Extraction resolves and creates each folder once, not once per member (counted, not timed).

SAT packages hold thousands of CFDIs in one folder; resolving a path lstat()s each of its
components, so per-member resolves and mkdirs were most of the syscalls of an extraction.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from gigstack_async.packages import (
    ExtractConflictError,
    UnsafePackageError,
    extract_package,
    extract_staged,
)


def package(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            archive.writestr(name, f"<cfdi>{name}</cfdi>".encode())
    return buffer.getvalue()


def count_path_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = {"resolve": 0, "mkdir": 0, "lstat": 0}
    for method in counts:
        real = getattr(Path, method)

        def counted(self: Path, *args: object, _real=real, _name=method, **kw: object) -> object:
            counts[_name] += 1
            return _real(self, *args, **kw)

        monkeypatch.setattr(Path, method, counted)
    return counts


def test_a_flat_package_resolves_and_makes_its_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"{n:04d}.xml" for n in range(60)]
    staged = tmp_path / "p.zip"
    staged.write_bytes(package(names))
    counts = count_path_calls(monkeypatch)

    result = extract_staged(staged, tmp_path / "out")

    assert sorted(f.name for f in result.files) == names
    assert all(
        (tmp_path / "out" / name).read_bytes() == f"<cfdi>{name}</cfdi>".encode() for name in names
    )
    assert counts["resolve"] <= 2  # the destination, and its one member folder
    assert counts["mkdir"] <= 2
    assert counts["lstat"] == 0  # a listing of the (new) folder says no member is there yet


def test_re_extracting_checks_only_the_members_already_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"{n:04d}.xml" for n in range(20)]
    staged = tmp_path / "p.zip"
    staged.write_bytes(package(names))
    out = tmp_path / "out"
    extract_staged(staged, out)
    (out / names[0]).unlink()
    (out / names[1]).write_bytes(b"torn")
    counts = count_path_calls(monkeypatch)

    result = extract_staged(staged, out)

    written = {f.name for f in result.files if f.written}
    assert written == {names[0], names[1]}  # the missing one and the torn one, nothing else
    assert (out / names[1]).read_bytes() == f"<cfdi>{names[1]}</cfdi>".encode()
    assert counts["lstat"] == 19  # each member the listing holds; none for the missing one
    (out / names[2]).write_bytes(b"other")
    with pytest.raises(ExtractConflictError):
        extract_package(package(names), out)


def test_a_name_that_differs_only_in_case_is_still_checked_by_the_filesystem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "ABC.XML").write_bytes(b"someone else's")
    counts = count_path_calls(monkeypatch)

    extract_package(package(["abc.xml"]), out)

    # On a case-insensitive filesystem these are one file: ask it (lstat) instead of
    # trusting the listing, so a conflict is still raised there.
    assert counts["lstat"] == 1


def test_nested_folders_are_each_resolved_once_and_symlinks_out_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"{folder}/{n}.xml" for folder in ("a", "b", "a/c") for n in range(10)]
    counts = count_path_calls(monkeypatch)

    result = extract_package(package(names), tmp_path / "out")

    assert len(result.files) == 30
    assert counts["resolve"] <= 1 + 3
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "a").symlink_to(outside)
    with pytest.raises(UnsafePackageError, match="outside"):
        extract_package(package(names), tmp_path / "linked")
    assert list(outside.iterdir()) == []
