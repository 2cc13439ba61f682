"""Newcomer 13 #3: `journal show` of an ordinary file (a typo, an XML) called it a DAMAGED
journal and printed a recovery that would start a new journal in the file's folder. A file that
is no journal is now refused as such; a journal, even damaged and kept under any name, is still
read as damaged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gigstack_async.cli import main
from tests.cli.test_newcomer9f import JOURNAL, _journal


def test_a_file_that_is_no_journal_is_refused_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "invoice.xml"
    afile.write_text('<?xml version="1.0"?><cfdi:Comprobante/>')
    assert main(["journal", "show", str(afile)]) == 2
    said = capsys.readouterr()
    assert f"{afile} is not a bulk journal (not an SQLite database)" in said.err
    assert "DAMAGED" not in said.out + said.err  # before: a recovery for a journal never there
    assert "journal adopt" not in said.out + said.err
    assert sorted(tmp_path.iterdir()) == [afile]  # nothing made beside it


def test_a_journal_under_another_name_is_still_read_as_damaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIGSTACK_API_KEY", "sk_test_route")
    out = tmp_path / "cfdi"
    out.mkdir()
    _journal(out)
    kept = tmp_path / "mine.db"  # as `sat download --journal mine.db` keeps it
    shutil.move(out / JOURNAL, kept)
    with open(kept, "r+b") as handle:
        handle.write(b"GARBAGEGARBAGEGARBAGE")  # its first bytes overwritten
    assert main(["journal", "show", str(kept)]) == 2
    said = capsys.readouterr().out
    assert f"Journal {kept} is DAMAGED" in said
    assert "DM-1" in said  # what is left of it, to adopt from


def test_a_pipe_is_refused_without_being_opened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Review 13b #2: reading the first bytes of a named pipe blocked `journal show` forever.
    import os
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    codes: list[int] = []
    worker = threading.Thread(target=lambda: codes.append(main(["journal", "show", str(fifo)])))
    worker.daemon = True
    worker.start()
    worker.join(20)
    assert codes == [2]
    assert f"{fifo} is not a bulk journal" in capsys.readouterr().err


def test_journal_records_are_found_across_the_read_boundary(tmp_path: Path) -> None:
    from gigstack_async.bulk.salvage import holds_journal_bytes

    kind = b'"rfc_type": "received", "request_type": "cfdi"'
    for at in ((1 << 20) - 10, (1 << 20) - len(kind), (1 << 20), 3 << 20):
        path = tmp_path / f"junk-{at}"
        path.write_bytes(b"\x00" * at + kind + b"\x00" * 100)
        assert holds_journal_bytes(path), at
    plain = tmp_path / "plain"
    plain.write_bytes(b"\x00" * (2 << 20))
    assert not holds_journal_bytes(plain)
