"""Review 9j #3 (d19_split_repair_keepforce.py, d11): `journal keep`'s refusal printed
`journal keep ... --force` ready-made (followed, August ended "ok" with 22 of its 34 CFDIs), and
its texts said "SAT reported 34 CFDIs for request None" for a record rebuilt from its log; the
run's hint named the request SAT refused with 5003 for 34, the split parts' total. The refusal
now says what --force would do and that the user must check first; each count names its source.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.cli import main
from tests.bulk._support import cfdi_text

JOURNAL = ".gigstack-journal.sqlite3"
IDENTITY = StoreIdentity(
    None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
)
REFUSED_5003 = "1F7BDF3A-8E8D-49D3-AC6B-F3F8F591604D"
UUIDS = ("6F1E2D3C-0000-4000-8000-00000000000A", "6F1E2D3C-0000-4000-8000-00000000000B")
LOGGED = (
    "the journal's log last recorded 34 CFDIs for 2024-08 (SAT's count for the month, or the "
    "total of its split parts; no request of it is recorded now, so it is not one request's "
    "count)"
)
READY_FORCE = re.compile(r"`[^`]*journal keep[^`]*--force[^`]*`")

AUGUST = m.MonthState(
    "2024-08",
    date(2024, 8, 1),
    date(2024, 8, 31),
    "received",
    "cfdi",
    stage=m.Stage.NEEDS_ATTENTION,
    known_ids=("12EEACA0-2961-4A33-9F78-8C8EC25766E3", REFUSED_5003),
    invoice_count=34,
    creates=3,
    reason="rebuilt from its log",
)


def _journal(folder: Path, state: m.MonthState) -> None:
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        store.bind_download_to(folder)
        store.ensure([state])
        store.put(state)
    (folder / state.key).mkdir(parents=True)
    for uuid in UUIDS:
        (folder / state.key / f"{uuid}.xml").write_text(cfdi_text(uuid, f"{state.key}-10"))


def test_the_keep_refusal_prints_no_ready_made_force_and_no_request_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "A"
    _journal(out, AUGUST)
    assert main(["journal", "keep", str(out), "2024-08", "--yes"]) == 2
    said = capsys.readouterr().err
    assert "is not kept, nothing changed" in said
    assert "request None" not in said
    assert f"it holds 2 distinct CFDI(s) (files named <UUID>.xml), but {LOGGED}" in said
    # Was: "... `gigstack-async journal keep A 2024-08 --force` keeps them."
    assert not READY_FORCE.search(said)
    assert (
        "--force would record the month done with these files anyway (nothing downloaded "
        "again: any CFDI missing from them stays missing): use it only after you have checked, "
        "in gigstack's dashboard (Descarga Masiva), that they are every CFDI of 2024-08 for "
        "2024-08-01..2024-08-31."
    ) in " ".join(said.split())
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2024-08") == AUGUST  # nothing changed


def test_the_keep_force_confirmation_names_the_counts_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "A"
    _journal(out, AUGUST)
    assert main(["journal", "keep", str(out), "2024-08", "--force"]) == 2  # no terminal
    said = " ".join(capsys.readouterr().out.split())
    assert "request None" not in said
    assert f"every CFDI of 2024-08 (2024-08-01 to 2024-08-31); {LOGGED}:" in said
    assert "With --force it would be kept although it holds 2 distinct CFDI(s)" in said


@pytest.mark.parametrize(
    ("changes", "source"),
    [
        ({"request_id": "R1"}, "SAT reported 34 CFDIs for request R1"),
        ({}, LOGGED),
        ({"stage": m.Stage.SPLIT}, "SAT's counts of the month's split parts add up to 34 CFDIs"),
    ],
)
def test_each_count_names_its_source(changes: dict[str, object], source: str) -> None:
    assert m.count_source(attrs.evolve(AUGUST, **changes)) == source  # type: ignore[arg-type]


def test_the_runs_hint_never_names_a_request_for_a_count_not_its_own() -> None:
    # Was: "SAT reported 34 CFDIs for request 1F7BDF3A-..." (SAT refused it with 5003; 34 is
    # the parts' total, from the log).
    notice = m.files_notice(attrs.evolve(AUGUST, on_disk=22, cfdis_on_disk=22))
    assert REFUSED_5003 not in notice
    # 22 of 34: keep would refuse them, and the notice says so (newcomer 9h #11).
    assert f"; {LOGGED}, and it holds 22 distinct of them: 12 are missing" in notice
    full = m.files_notice(attrs.evolve(AUGUST, on_disk=34, cfdis_on_disk=34))
    assert REFUSED_5003 not in full
    assert f"; {LOGGED}): if they are all there" in full
