"""A package whose CFDIs name another taxpayer is checked once more before the month is refused:
is it still the copy that was staged? (`engine._not_staged_copy`.)

A copy replaced after `extract` compared its SHA-256 (while the content scan read it: a package
staged by an earlier run, not read as it was staged) is a lost copy, downloaded again while
SAT's budget allows; the copy that was staged is refused as another taxpayer's
(tests/bulk/test_review_9c_z.py). The re-check reads the recorded copy's SHA-256 only,
without inflating the package again; without a record it verifies the whole package.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import engine
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore
from gigstack_async.packages import DEFAULT_LIMITS
from gigstack_async.sandbox import Sandbox
from tests.bulk._support import JOURNAL, PACKAGE, results, run

TAXPAYER = "EKU9003173C9"  # the receptor of the sandbox's received CFDIs
OTHER = "IIA040805DZ4"


def _cfdi(emisor: str, receptor: str) -> str:
    return (
        '<?xml version="1.0"?><cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4">'
        f'<cfdi:Emisor Rfc="{emisor}" Nombre="E"/><cfdi:Receptor Nombre="R" Rfc="{receptor}"/>'
        "</cfdi:Comprobante>"
    )


def _write_zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def _foreign(path: Path) -> Path:
    return _write_zip(path, {"FOREIGN-0000.xml": _cfdi("AAA010101AAA", OTHER)})


async def test_a_copy_replaced_while_it_was_scanned_is_downloaded_again_not_refused(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    assert results(await run(client, out))["2024-01"].ok  # the journal learns its RFC

    scan, verify = engine.scan_package, engine.verify_staged
    verified: list[Path] = []
    swapped: list[Path] = []

    def replace_then_scan(path: Path, **kw: object) -> object:
        if not swapped:  # after extract's SHA-256 check, before the scan reads the copy
            swapped.append(_foreign(path))
        return scan(path, **kw)  # type: ignore[arg-type]

    def counted_verify(path: Path, *args: object) -> object:
        verified.append(path)
        return verify(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "scan_package", replace_then_scan)
    monkeypatch.setattr(engine, "verify_staged", counted_verify)
    # The package is read from its staged copy, as one staged by an earlier run is: what the
    # staging pass read (bulk.readings) is of the bytes whose SHA-256 was compared.
    monkeypatch.setattr(engine.Readings, "take", lambda self, *a, **kw: None)
    before = len(sandbox.state.calls_to(PACKAGE))

    done = results(await run(client, out, "2024-02", "2024-02"))["2024-02"]

    assert swapped
    assert done.ok, done.error  # a lost copy, not another taxpayer's request
    assert done.files
    assert not (out / "2024-02" / "FOREIGN-0000.xml").exists()
    assert len(sandbox.state.calls_to(PACKAGE)) - before == 2  # downloaded again (1 of 2 left)
    assert not verified  # told by its SHA-256: the package was not inflated a second time
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.identity.rfc == TAXPAYER


async def test_a_copy_replaced_after_its_reading_is_caught_by_extraction_sha256(
    tmp_path: Path, world: tuple[Sandbox, GigstackClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The usual path: the content check is the reading made as the package was staged, of the
    # bytes whose SHA-256 was recorded. A copy replaced after that reading (another
    # taxpayer's ZIP) is refused by extraction's SHA-256 check: a lost copy, downloaded again.
    sandbox, client = world
    out = tmp_path / "cfdi"
    extract, scan = engine._extract_stamped, engine.scan_package
    swapped: list[Path] = []
    scanned: list[Path] = []

    def replace_then_extract(path: Path, *args: object, **kw: object) -> object:
        if not swapped:
            swapped.append(_foreign(path))
        return extract(path, *args, **kw)  # type: ignore[arg-type]

    def counted_scan(path: Path, **kw: object) -> object:
        scanned.append(path)
        return scan(path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_extract_stamped", replace_then_extract)
    monkeypatch.setattr(engine, "scan_package", counted_scan)

    done = results(await run(client, out, "2024-02", "2024-02"))["2024-02"]

    assert swapped
    assert done.ok, done.error
    assert done.files
    assert not (out / "2024-02" / "FOREIGN-0000.xml").exists()
    assert len(sandbox.state.calls_to(PACKAGE)) == 2  # downloaded again (1 of 2 left)
    assert not scanned  # both copies were judged by the reading made as they were staged


def _staged(path: Path, sha256: str) -> m.StagedFile:
    return m.StagedFile("P1", str(path), sha256, path.stat().st_size)


def test_the_recorded_copy_is_told_by_its_sha256(tmp_path: Path) -> None:
    path = _foreign(tmp_path / "p.zip")
    sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    assert not engine._not_staged_copy(path, [_staged(path, sha256)], DEFAULT_LIMITS)
    assert engine._not_staged_copy(path, [_staged(path, "0" * 64)], DEFAULT_LIMITS)
    record = _staged(path, sha256)
    path.unlink()
    assert engine._not_staged_copy(path, [record], DEFAULT_LIMITS)  # gone: not the copy


def test_without_a_record_the_whole_package_is_verified(tmp_path: Path) -> None:
    path = _write_zip(tmp_path / "p.zip", {"a.xml": _cfdi("AAA010101AAA", OTHER) * 50})
    assert not engine._not_staged_copy(path, [], DEFAULT_LIMITS)
    data = bytearray(path.read_bytes())
    middle = data.index(b"a.xml") + 40  # inside the deflated member: its CRC fails
    data[middle : middle + 20] = b"\xff" * 20
    path.write_bytes(bytes(data))
    assert engine._not_staged_copy(path, [], DEFAULT_LIMITS)
    assert engine._not_staged_copy(tmp_path / "gone.zip", [], DEFAULT_LIMITS)
