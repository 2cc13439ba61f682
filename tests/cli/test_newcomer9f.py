"""Newcomer walk 9f (items 2, 5, 6, 7a, 7c): what a user reads of the summary in a narrow
terminal, after Ctrl-C, in a confirmation preview nobody confirmed, when every month is held,
and in the sandbox banner."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.cli import main
from gigstack_async.cli.app import build_parser
from gigstack_async.cli.commands.sandbox import _profile_label
from gigstack_async.cli.confirm import confirmed
from gigstack_async.cli.redact import Redactor
from gigstack_async.cli.ui import Ui

JOURNAL = ".gigstack-journal.sqlite3"
IDENTITY = StoreIdentity(
    None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
)
UUID_A = "6F1E2D3C-0000-4000-8000-00000000000A"


def _journal(folder: Path) -> None:
    """2024-01 done (DM-1); 2024-02 needs attention after SAT 5008 (DM-2, count unknown)."""
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        store.bind_download_to(folder)
        months = [
            m.MonthState(key, date(2024, n, 1), date(2024, n, last), "received", "cfdi")
            for key, n, last in (("2024-01", 1, 31), ("2024-02", 2, 29))
        ]
        store.ensure(months)
        for state, rid in zip(months, ("DM-1", "DM-2"), strict=True):
            sent = attrs.evolve(state, stage=m.Stage.SUBMITTING, creates=1)
            store.put(sent)
            store.put(attrs.evolve(sent, stage=m.Stage.SUBMITTED, request_id=rid, known_ids=(rid,)))
        store.put(attrs.evolve(store.get("2024-01"), stage=m.Stage.DONE, reason="all"))
        store.put(
            attrs.evolve(
                store.get("2024-02"),
                stage=m.Stage.NEEDS_ATTENTION,
                reason="5008",
                invoice_count=None,
            )
        )


# ---------------------------------------------------------------- item 6: previews


def test_keep_force_preview_without_a_terminal_does_not_read_as_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The newcomer read "2022-01 is recorded done with them ... Kept with --force although ..."
    # and then "nothing changed": the preview said the change had happened.
    out = tmp_path / "cfdi"
    _journal(out)
    (out / "2024-02").mkdir(parents=True)
    (out / "2024-02" / f"{UUID_A}.xml").write_text("<cfdi/>")
    with JournalStore.open_readonly(out / JOURNAL) as store:
        before = store.get("2024-02")

    assert main(["journal", "keep", str(out), "2024-02", "--force"]) == 2  # no terminal

    said = capsys.readouterr()
    assert "nothing changed" in said.err
    assert "is recorded done with them" not in said.out
    assert "Kept with --force" not in said.out
    assert "2024-02 would then be recorded done with them" in said.out
    assert "With --force it would be kept although SAT's count of CFDIs is unknown" in said.out
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get("2024-02") == before
    # Confirmed: the text after the change says it happened.
    assert main(["journal", "keep", str(out), "2024-02", "--force", "--yes"]) == 0
    assert "2024-02 is done with the 1 file(s)" in capsys.readouterr().out


def test_repair_preview_without_a_terminal_says_would_become(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cfdi"
    _journal(out)
    conn = sqlite3.connect(out / JOURNAL)
    with conn:
        conn.execute("UPDATE months SET state = '{broken' WHERE key = '2024-02'")
    conn.close()

    assert main(["journal", "repair", str(out)]) == 2  # no terminal: refused

    said = capsys.readouterr()
    assert "nothing changed" in said.err
    assert "; becomes needs-attention" not in said.out
    assert "2024-02: record unreadable" in said.out
    assert "would become needs-attention once you confirm" in said.out


def test_adopt_preview_is_conditional(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cfdi"
    _journal(out)
    assert main(["journal", "adopt", str(out), "2024-02", "DM-9"]) == 2  # no terminal
    said = capsys.readouterr()
    assert "You confirm that request DM-9" not in said.out
    assert "Confirming says that request DM-9 is 2024-02's" in said.out
    assert "Once confirmed, the next run" in said.out


# ----------------------------------------------------- item 7a: every month held, new folder


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        (
            2,
            "No new download request to submit: 2 months held (the account already has their "
            "request, not sent from this folder; see above).",
        ),
    ],
)
async def test_every_month_held_in_a_new_folder_is_not_called_the_journal_s(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], held: int, expected: str
) -> None:
    out = tmp_path / "new"
    async with GigstackClient(api_key="sk_test_x", base_url="http://127.0.0.1:9/v2") as client:
        run = client.downloads.bulk(
            "2025-01", "2025-02", rfc_type="received", download_to=out,
            journal=out / JOURNAL,
        )  # fmt: skip
        assert run.may_create() == ["2025-01", "2025-02"]  # the journal has none of them
        assert confirmed(run, yes=False, held=held, ui=Ui(Redactor()))
    said = capsys.readouterr().out
    assert "the journal has every month's request" not in said
    assert said.strip() == expected


def test_nothing_new_names_held_and_journaled_months_apart() -> None:
    from gigstack_async.cli.confirm import _nothing_new

    assert _nothing_new(1, 3) == (
        "1 month held (the account already has its request, not sent from this folder; see "
        "above), 3 months already requested from this folder's journal (not sent again)"
    )
    assert _nothing_new(0, 2) == (
        "2 months already requested from this folder's journal (not sent again)"
    )


# ------------------------------------------------------------ item 7c: the sandbox banner


def test_the_banner_names_the_injected_fault_rates() -> None:
    args = build_parser().parse_args(
        ["sandbox", "--fault-rate", "0.15", "--after-fault-rate", "0.05", "--failure-rate", "0.1"]
    )
    label = _profile_label(args)
    assert "--fault-rate 0.15" in label
    assert "--after-fault-rate 0.05" in label
    assert "--failure-rate 0.1" in label
    assert _profile_label(build_parser().parse_args(["sandbox"])) == ""
