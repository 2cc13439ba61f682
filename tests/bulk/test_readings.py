"""A package is read for its content in the pass that verifies it as it is staged
(`bulk.readings`): the verdict must be `scan_package`'s, asked for the same bytes and month,
with the journal's RFC as it is when the month extracts (another month may have learnt it).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import content, engine
from gigstack_async.bulk.content import scan_package
from gigstack_async.bulk.readings import Reading, Readings
from gigstack_async.packages import extract_staged, verify_staged
from gigstack_async.sandbox import Sandbox
from tests.bulk._support import PACKAGE, cfdi_text, results, run
from tests.bulk.test_package_content import HEADER, cfdi, package, row, xml

JAN = (date(2024, 1, 1), date(2024, 1, 31))
ME = "EKU9003173C9"

PACKAGES: dict[str, dict[str, bytes]] = {
    "fits": {"a.xml": cfdi("AAA010101AAA", ME), "b.xml": cfdi("BBB010101BBB", ME)},
    "outside": {"a.xml": xml("2023-11-02T10:00:00"), "b.xml": xml("2024-01-10T10:00:00")},
    "issued": {f"{i}.xml": cfdi(ME, f"CLI01010{i}AA{i}") for i in range(3)},
    "one receiver": {"a.xml": cfdi(ME, "CLI010101AA1"), "b.xml": cfdi(ME, "CLI010101AA1")},
    "metadata": {
        "m.txt": "\n".join(
            [HEADER, row("6F0A1B2C-3D4E-5F60-7A8B-9C0D1E2F3A4B", "2024-01-15 10:00:00"), ""]
        ).encode()
    },
    "empty": {},
    "not a cfdi": {"readme.txt": b"hello", "x.xml": b"<other/>"},
}


@pytest.mark.parametrize("kind", sorted(PACKAGES))
@pytest.mark.parametrize("request_type", ["cfdi", "metadata"])
@pytest.mark.parametrize("rfc_type", ["received", "issued"])
@pytest.mark.parametrize("journal_rfc", [None, ME])
def test_the_staging_reading_says_what_scan_package_says(
    tmp_path: Path, kind: str, request_type: str, rfc_type: str, journal_rfc: str | None
) -> None:
    path = package(tmp_path, PACKAGES[kind])
    readings = Readings()
    reading = Reading(start=JAN[0], end=JAN[1], rfc_type=rfc_type)
    manifest = verify_staged(path, inspect=reading)
    readings.keep("P1", manifest.sha256, reading)

    taken = readings.take("P1", manifest.sha256.upper(), *JAN, rfc_type)
    assert taken is not None
    read = taken.verdict(request_type=request_type, journal_rfc=journal_rfc)

    expected = scan_package(
        path,
        request_type=request_type,
        start=JAN[0],
        end=JAN[1],
        rfc_type=rfc_type,
        journal_rfc=journal_rfc,
    )
    assert read == expected


def _kept(tmp_path: Path) -> tuple[Readings, str]:
    path = package(tmp_path, PACKAGES["issued"])
    readings = Readings()
    reading = Reading(start=JAN[0], end=JAN[1], rfc_type="received")
    sha256 = verify_staged(path, inspect=reading).sha256
    readings.keep("P1", sha256, reading)
    return readings, sha256


def _ask(readings: Readings, sha256: str, end: date = JAN[1], rfc_type: str = "received") -> object:
    reading = readings.take("P1", sha256, JAN[0], end, rfc_type)
    return None if reading is None else reading.verdict(request_type="cfdi", journal_rfc=None)


def test_a_reading_is_given_once_and_only_for_the_bytes_and_month_it_read(
    tmp_path: Path,
) -> None:
    readings, sha256 = _kept(tmp_path)
    assert _ask(readings, "0" * 64) is None  # other bytes: the package is read again
    assert _ask(readings, sha256, rfc_type="issued") is None  # read for another side
    readings, sha256 = _kept(tmp_path)
    assert _ask(readings, sha256, end=date(2024, 1, 15)) is None  # other dates
    readings, sha256 = _kept(tmp_path)
    first = _ask(readings, sha256)
    assert first is not None
    assert "3 RFCs as receptor" in str(first)
    assert _ask(readings, sha256) is None  # taken: a second extraction reads the package


def test_a_reading_that_failed_gives_no_verdict_and_does_not_fail_the_staging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = package(tmp_path, PACKAGES["issued"])
    readings = Readings()
    reading = Reading(start=JAN[0], end=JAN[1], rfc_type="received")

    def broken(name: str, chunks: object) -> None:
        raise RuntimeError("a bug in the reader")

    monkeypatch.setattr(reading, "reader", broken)
    manifest = verify_staged(path, inspect=reading)  # staged all the same
    readings.keep("P1", manifest.sha256, reading)

    assert reading.broken
    assert _ask(readings, manifest.sha256) is None  # never a verdict from a partial reading


async def test_a_fresh_download_is_not_inflated_again_to_be_read(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, client = world
    scanned: list[Path] = []
    scan = engine.scan_package

    def counted(path: Path, **kw: object) -> object:
        scanned.append(path)
        return scan(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "scan_package", counted)

    month = results(await run(client, tmp_path / "cfdi"))["2024-01"]

    assert month.ok, month.error
    assert month.files
    assert len(sandbox.state.calls_to(PACKAGE)) == 1
    assert scanned == []  # the staging pass read it


# --- what extraction records of each file, told by the staging pass (no read-back) -------------

UUIDS = tuple(f"{0xABCDEF00 + n:08x}-aaaa-4bbb-8ccc-dddddddddddd" for n in range(4))


def _served(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A package as SAT might serve it: whole CFDIs, one cut short, one whose bytes lack its
    UUID, one in a folder, and a file that is no CFDI."""
    whole = [cfdi_text(u.upper()).encode() for u in UUIDS]
    members = {
        f"{UUIDS[0].upper()}.xml": whole[0],
        f"{UUIDS[1].upper()}.xml": whole[1][:-40],  # cut short
        f"{UUIDS[2]}.xml": whole[2].replace(UUIDS[2].upper().encode(), b"X" * 36),
        f"sub/{UUIDS[3].upper()}.xml": whole[3],
        "notes.txt": b"not a CFDI",
    }
    return package(tmp_path, members), members


def test_the_staging_pass_tells_which_cfdis_look_whole(tmp_path: Path) -> None:
    path, members = _served(tmp_path)
    reading = Reading(start=JAN[0], end=JAN[1], rfc_type="received")
    verify_staged(path, inspect=reading)
    names = list(members)

    assert reading.whole == {names[0]: True, names[1]: False, names[2]: False, names[3]: True}


def test_stamps_from_the_staging_pass_equal_stamps_read_from_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _members = _served(tmp_path)
    reading = Reading(start=JAN[0], end=JAN[1], rfc_type="received")
    verify_staged(path, inspect=reading)
    files = extract_staged(path, tmp_path / "out").files
    read_back = [content.extraction_of(f.path) for f in files]
    assert [e.served_sha256 is not None for e in read_back] == [False, True, True, False, False]
    opened: list[str] = []
    real = content.extraction_of

    def counted(path: Path) -> content.Extraction:
        opened.append(path.name)
        return real(path)

    monkeypatch.setattr(content, "extraction_of", counted)

    assert engine._extractions(files, reading.whole) == read_back
    # Only the CFDIs that did not look whole were read again.
    assert opened == [f"{UUIDS[1].upper()}.xml", f"{UUIDS[2]}.xml"]
    opened.clear()
    assert engine._extractions(files) == read_back  # no reading: every CFDI is read
    assert len(opened) == 4
