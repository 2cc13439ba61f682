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
