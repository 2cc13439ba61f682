"""Review 9o #5, #6, #7: a done month's check of its CFDIs, and a refill whose extraction fails.

#5: a CFDI SAT's own package holds in a form the check calls damaged (a NUL after the closing
tag) was flagged MISSING FILES from the second run on; the free route spent SAT's second
download and could not fix it. #6: the check caught only files cut short (the cheap look at a
file's end and UUID): a file zeroed at its head, in its middle, cut at its head or with a
flipped byte passed it. Now each extracted file's size and mtime are recorded with its package:
a file unchanged since is intact as served, without being read; one that changed is read in
full, and the package's own bytes are never damage. #7: a refill whose extraction failed (a
regular file named `damaged` in the month's folder) dropped `refill`, so the retry extracted
over the damaged copies and their bytes were lost.
"""

from __future__ import annotations

import asyncio
import io
import os
import zipfile
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path

import pytest

from gigstack_async.bulk import content
from gigstack_async.bulk import machine as m
from gigstack_async.cli import main
from gigstack_async.sandbox import SandboxConfig, packaging
from gigstack_async.sandbox import cfdi as sandbox_cfdi
from gigstack_async.sandbox.invoices import Invoice
from tests.bulk._support import CREATE, PACKAGE, calls, cfdi_text, month_results, world_of

UUIDS = tuple(f"{0xABCDEF00 + n:08x}-aaaa-4bbb-8ccc-dddddddddddd" for n in range(6))


def _recorded(folder: Path, names: list[str]) -> dict[str, content.Extraction]:
    return {name: content.extraction_of(folder / name) for name in names}


def _rewrite(path: Path, data: bytes) -> None:
    """Write `data` and make sure the mtime moves even on a coarse clock."""
    before = path.stat().st_mtime_ns
    path.write_bytes(data)
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def test_a_cfdi_changed_inside_is_lost_when_its_extraction_was_recorded(tmp_path: Path) -> None:
    names = [f"{u.upper()}.xml" for u in UUIDS]
    for uuid, name in zip(UUIDS, names, strict=True):
        (tmp_path / name).write_text(cfdi_text(uuid.upper()))
    recorded = _recorded(tmp_path, names)
    assert content.lost_files(tmp_path, names, recorded) == ()
    damage: dict[str, Callable[[bytes], bytes]] = {
        names[1]: lambda b: b"\0" * 45 + b[45:],  # head zeroed
        names[2]: lambda b: b[:60] + b"\0" * 40 + b[100:],  # middle zeroed
        names[3]: lambda b: b[80:],  # head cut off
        names[4]: lambda b: b.replace(b"Fecha=", b"Fexha=", 1),  # a flipped byte
    }
    for name, change in damage.items():
        path = tmp_path / name
        _rewrite(path, change(path.read_bytes()))
    # The cheap look alone (no record: an older journal) passes every one of them ...
    assert content.lost_files(tmp_path, names) == ()
    # ... the recorded size and mtime send each to the full check, which refuses them all.
    assert content.lost_files(tmp_path, names, recorded) == tuple(names[1:5])
    assert content.damaged_files(tmp_path, names, recorded) == tuple(names[1:5])
    # What a refill sets aside is read in full even without a record (its package's record
    # is dropped while it downloads again): else it could not extract over them.
    assert content.damaged_files(tmp_path, names) == tuple(names[1:5])
    # Touched but the same complete CFDI (e.g. put back from a backup): intact.
    os.utime(tmp_path / names[0], ns=(1, 1))
    assert content.lost_files(tmp_path, names[:1], recorded) == ()


def test_a_cfdi_the_package_served_damaged_is_its_own_never_lost(tmp_path: Path) -> None:
    name = f"{UUIDS[0].upper()}.xml"
    path = tmp_path / name
    served = cfdi_text(UUIDS[0].upper()).encode() + b"\x00"  # SAT's own form of it
    path.write_bytes(served)
    assert content.damaged_cfdis([path]) == (name,)  # what `journal keep` refuses
    recorded = _recorded(tmp_path, [name])
    assert recorded[name].served_sha256 is not None
    assert content.lost_files(tmp_path, [name]) == (name,)  # old journal: flagged
    assert content.lost_files(tmp_path, [name], recorded) == ()  # unchanged: as served
    os.utime(path, ns=(1, 1))  # touched: read in full, damaged, but the package's own bytes
    assert content.lost_files(tmp_path, [name], recorded) == ()
    assert content.damaged_files(tmp_path, [name], recorded) == ()  # never set aside
    _rewrite(path, served[:100])  # really damaged now
    assert content.lost_files(tmp_path, [name], recorded) == (name,)


def test_recorded_extractions_leave_out_a_package_recorded_without_stamps() -> None:
    old = m.ExtractedPackage("P1", ("a.xml", "b.xml"))
    new = m.ExtractedPackage("P2", ("c.xml",), ((10, 20),), (("c.xml", "ff"),))
    odd = m.ExtractedPackage("P3", ("d.xml", "e.xml"), ((1, 2),))  # not one per file
    found = content.recorded_extractions([old, new, odd])
    assert found == {"c.xml": content.Extraction(10, 20, "ff")}


def _refilling() -> m.MonthState:
    files = tuple(f"{u.upper()}.xml" for u in UUIDS[:2])
    return m.MonthState(
        key="2024-08",
        start=date(2024, 8, 1),
        end=date(2024, 8, 31),
        rfc_type="received",
        request_type="cfdi",
        stage=m.Stage.STAGED,
        request_id="R1",
        known_ids=("R1",),
        invoice_count=2,
        package_ids=("P1",),
        downloads=(("P1", 2),),
        staged=(m.StagedFile("P1", "/stage/2024-08-P1.zip", "00", 10),),
        lost_files=files[:1],
        refill=True,
        reason="the user allowed downloading package P1 once more",
    )


def test_a_refill_whose_extraction_failed_keeps_refill_and_its_lost_files() -> None:
    failed, _ = m.transition(_refilling(), m.ExtractFailed("P1", "File exists: 'damaged'"))
    assert failed.stage is m.Stage.NEEDS_ATTENTION
    assert failed.refill  # was: False, so the retry overwrote the damaged copies
    assert failed.lost_files == _refilling().lost_files
    again, commands = m.transition(failed, m.Start())
    assert again.stage is m.Stage.STAGED
    assert again.refill
    assert again.lost_files == _refilling().lost_files
    assert any(isinstance(c, m.ExtractPackage) for c in commands)


def _nul_after_the_first_cfdi(monkeypatch: pytest.MonkeyPatch) -> None:
    """SAT's package holds its first CFDI with a NUL after the closing tag (review 9o #5)."""
    original = sandbox_cfdi.build_package

    def build(
        package_id: str,
        request_type: str,
        invoices: Sequence[Invoice],
        generated_at: datetime,
    ) -> bytes:
        if request_type == "metadata":
            return original(package_id, request_type, invoices, generated_at)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
            for n, invoice in enumerate(invoices):
                xml = sandbox_cfdi.render_cfdi(invoice).encode()
                info = zipfile.ZipInfo(f"{invoice.uuid}.xml", (2024, 9, 1, 0, 0, 0))
                archive.writestr(info, xml + b"\x00" if n == 0 else xml)
        return buf.getvalue()

    monkeypatch.setattr(packaging, "build_package", build)


async def test_a_cfdi_sat_serves_with_a_trailing_nul_never_asks_for_a_refill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The review's steps: two runs of August whose package holds one CFDI with a trailing NUL.
    Was: the second run said MISSING FILES and offered `journal retry-download`, which spent
    SAT's second download and left the same bytes; then only a billed resend."""
    _nul_after_the_first_cfdi(monkeypatch)
    async with world_of(SandboxConfig(speed=3000, seed=5)) as (sandbox, client):
        out = tmp_path / "A"
        first = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert first.ok
        quirky = [p for p in (out / "2024-08").glob("*.xml") if p.read_bytes().endswith(b"\0")]
        assert len(quirky) == 1
        assert content.damaged_cfdis(quirky) == (quirky[0].name,)  # keep's check refuses it
        gets = calls(sandbox, PACKAGE)
        for _ in range(2):
            again = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
            assert again.ok, again.error  # was: MISSING FILES, retry-download offered
            assert len(again.files) == len(first.files)
        assert calls(sandbox, PACKAGE) == gets  # SAT's second download kept
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["journal", "show", str(out), "2024-08"]) == 0
        assert m.MISSING_FILES not in capsys.readouterr().out  # `journal show` reads the same


async def test_a_byte_flipped_in_a_done_months_cfdi_is_missing_files(tmp_path: Path) -> None:
    """Review 9o #6 end to end: the same size, one byte changed. Was: done, every file."""
    async with world_of(SandboxConfig(speed=3000, seed=5)) as (sandbox, client):
        out = tmp_path / "A"
        first = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert first.ok
        flipped = sorted((out / "2024-08").glob("*.xml"))[3]
        data = flipped.read_bytes()
        _rewrite(flipped, data.replace(b"Fecha=", b"Fexha=", 1))
        assert flipped.stat().st_size == len(data)
        again = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert not again.ok
        assert (again.error or "").startswith(f"{m.MISSING_FILES}: ")
        assert flipped.name in (again.error or "")
        assert calls(sandbox, CREATE) == 1
        # The free way brings it back: the changed copy is set aside (the cheap look alone
        # would have passed it, and the refill would have refused to write over it).
        code = await asyncio.to_thread(
            main, ["journal", "retry-download", str(out), "2024-08", "--yes"]
        )
        assert code == 0
        back = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert back.ok, back.error
        assert flipped.read_bytes() == data
        changed = data.replace(b"Fecha=", b"Fexha=", 1)
        assert (out / "2024-08" / m.DAMAGED_DIR / flipped.name).read_bytes() == changed


async def test_a_refill_that_cannot_set_damaged_files_aside_loses_none_of_them(
    tmp_path: Path,
) -> None:
    """Review 9o #7's steps: two CFDIs cut short, a regular file named `damaged` in the month's
    folder, `journal retry-download`, a run (cannot make the `damaged/` subfolder), the file
    moved away, a run. Was: the second run extracted over both damaged copies (refill gone)."""
    async with world_of(SandboxConfig(speed=3000, seed=5)) as (sandbox, client):
        out = tmp_path / "A"
        first = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert first.ok
        folder = out / "2024-08"
        xmls = sorted(folder.glob("*.xml"))
        good = {p.name: p.read_bytes() for p in xmls[:2]}
        cut = {p.name: p.read_bytes()[:100] for p in xmls[:2]}
        for p in xmls[:2]:
            p.write_bytes(cut[p.name])
        (folder / m.DAMAGED_DIR).write_bytes(b"user notes")
        stopped = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert (stopped.error or "").startswith(m.MISSING_FILES)
        code = await asyncio.to_thread(
            main, ["journal", "retry-download", str(out), "2024-08", "--yes"]
        )
        assert code == 0
        failed = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert not failed.ok
        assert "cannot extract package" in (failed.error or "")
        assert f"{folder / m.DAMAGED_DIR} is a file, not a folder" in (failed.error or "")
        for name, data in cut.items():
            assert (folder / name).read_bytes() == data  # nothing written over them yet
        notes = folder / m.DAMAGED_DIR
        notes.rename(folder / "notes.txt")  # the user fixes the folder
        gets = calls(sandbox, PACKAGE)
        back = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert back.ok, back.error
        for name, data in cut.items():
            assert (folder / name).read_bytes() == good[name]  # the package's copy
            assert (folder / m.DAMAGED_DIR / name).read_bytes() == data  # was: gone
        assert calls(sandbox, PACKAGE) == gets  # extracted from the staged copy again
