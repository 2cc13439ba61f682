"""Review 11: what extraction's clearing of stale temp files and its folder resolving may touch.

1. A linked folder in the destination that leads out of it: the package is refused before
   anything outside is touched (the clearing of `write_atomic` temp files ran first, through
   the link, and deleted a file of that pattern outside).
2. A symlink loop in the destination is a typed refusal, not a RuntimeError.
3. A member named like a temp file is refused: the next extraction into its folder would have
   deleted it as stale.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gigstack_async.packages import (
    ExtractConflictError,
    UnsafePackageError,
    extract_package,
    extract_staged,
)
from tests.test_packages import make_zip


def _staged(tmp_path: Path, data: bytes, name: str = "p.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_link_out_of_the_destination_is_refused_before_anything_outside_is_touched(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    theirs = outside / ".precious.db.0123456789abcdef.tmp"  # write_atomic's pattern, not ours
    theirs.write_bytes(b"not yours")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "sub").symlink_to(outside)
    package = _staged(tmp_path, make_zip(("sub/a.xml", b"<x/>")))

    with pytest.raises(UnsafePackageError, match="outside"):
        extract_staged(package, dest)

    assert theirs.read_bytes() == b"not yours"
    assert sorted(p.name for p in outside.iterdir()) == [theirs.name]


def test_stale_temp_files_are_still_cleared_in_a_member_folder_inside(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    (dest / "sub").mkdir(parents=True)
    stale = dest / "sub" / ".a.xml.0123456789abcdef.tmp"
    stale.write_bytes(b"torn")
    top_stale = dest / ".b.xml.fedcba9876543210.tmp"
    top_stale.write_bytes(b"torn")
    package = _staged(tmp_path, make_zip(("sub/a.xml", b"<x/>"), ("b.xml", b"<y/>")))

    extract_staged(package, dest)

    assert not stale.exists()
    assert not top_stale.exists()
    assert (dest / "sub" / "a.xml").read_bytes() == b"<x/>"


@pytest.mark.parametrize("durable", [False, True], ids=["staged", "package"])
def test_a_symlink_loop_in_the_destination_is_a_typed_refusal(
    tmp_path: Path, durable: bool
) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "l1").symlink_to("l2")
    (dest / "l2").symlink_to("l1")
    data = make_zip(("l1/a.xml", b"<x/>"))
    package = _staged(tmp_path, data)

    def extract() -> object:
        return extract_package(data, dest) if durable else extract_staged(package, dest)

    with pytest.raises(ExtractConflictError, match="symbolic link loop") as caught:
        extract()
    assert caught.value.member == "l1/a.xml"


@pytest.mark.parametrize(
    "name",
    [
        ".notes.0123456789abcdef.tmp",
        "sub/.a.xml.0123456789abcdef.tmp",
        "a/b/.c.0123456789abcdef.tmp",
    ],
)
def test_a_member_named_like_a_temp_file_is_refused(tmp_path: Path, name: str) -> None:
    data = make_zip((name, b"member"), ("A.xml", b"<a/>"))
    refusal = r"^member '.+' is named like an interrupted extraction's temporary file \("
    with pytest.raises(UnsafePackageError, match=refusal) as caught:
        extract_package(data, tmp_path / "out")
    assert caught.value.member == name
    assert not (tmp_path / "out" / "A.xml").exists()  # refused before anything is written


def test_a_member_merely_ending_in_tmp_is_extracted(tmp_path: Path) -> None:
    data = make_zip((".notes.tmp", b"a"), ("x.0123456789abcdef.tmp", b"b"))
    extract_package(data, tmp_path / "out")
    assert (tmp_path / "out" / ".notes.tmp").read_bytes() == b"a"
    assert (tmp_path / "out" / "x.0123456789abcdef.tmp").read_bytes() == b"b"


def test_a_member_with_a_long_non_ascii_name_is_extracted(tmp_path: Path) -> None:
    # Review 11 finding 4: a 254-byte UTF-8 member name hit ENAMETOOLONG on the temp file
    # `write_atomic` names after it (its stem was capped in characters, not bytes).
    name = "😀" * 62 + ".xml"  # 252 bytes; 64 of these characters are 256
    assert len(name.encode()) == 252
    package = _staged(tmp_path, make_zip((name, b"<x/>"), ("a.xml", b"<a/>")))
    dest = tmp_path / "out"

    result = extract_staged(package, dest)

    assert sorted(f.name for f in result.files) == sorted([name, "a.xml"])
    assert (dest / name).read_bytes() == b"<x/>"
    assert sorted(p.name for p in dest.iterdir()) == sorted([name, "a.xml"])
