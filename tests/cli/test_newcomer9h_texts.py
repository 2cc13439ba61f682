"""Newcomer 9h #5, #7, #8 and #9 as the CLI user reads them.

#5: the summary said `needs-attention` for a month whose package download failed, `journal show`
said `completed` (after a later, interrupted run had continued it): at each point the two must
name the month's stage alike.
#7: a count SAT never reported is `-` everywhere: after Ctrl-C the journal's 0 of a month SAT was
still processing made "0 invoices in 44 months".
#8: a resumed run printed `submitted ..., resumed from the journal` for every finished month.
#9: the adopt of a request made elsewhere says when `journal retry-download` works; a start too
old names the first whole month accepted.

In-process against the sandbox on 127.0.0.1 (`keyed_cli`), requests counted in its own log.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async._dates import add_months, today_mx
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.cli import main
from gigstack_async.cli.download import DownloadJob, print_stopped_summary
from gigstack_async.cli.progress import Board
from gigstack_async.cli.redact import Redactor
from gigstack_async.cli.ui import Ui
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import CREATE, JOURNAL, PACKAGE, calls, keyed_cli, world_of

IDENTITY = StoreIdentity(
    None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
)


def argv(out: Path, *extra: str) -> list[str]:
    return [
        "sat", "download", "--from", "2024-01", "--to", "2024-02", "--rfc-type", "received",
        "--out", str(out), "--poll-interval", "0.02", "--yes", *extra,
    ]  # fmt: skip


def summary_states(text: str) -> dict[str, str]:
    """month -> state column of the `sat download` summary (plain text)."""
    rows = text.split("\nSummary\n", 1)[1].splitlines()[1:]
    return {row.split()[0]: row.split()[2] for row in rows if row[:4].isdigit()}


def shown_states(text: str) -> dict[str, str]:
    """month -> state column of `journal show`'s table (its "YYYY-MM: ..." lines below the
    table carry each month's why and next step: newcomer 9m #3)."""
    return {
        line.split()[0]: line.split()[1]
        for line in text.splitlines()
        if line[:4].isdigit() and not line.split()[0].endswith(":")
    }


# ------------------------------------------------- #5 and #8: a failed package, then resumed


async def test_summary_and_journal_show_agree_and_a_resumed_run_prints_what_happens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cfdi"
    async with world_of(SandboxConfig(speed=3000, seed=11)) as (sandbox, _):
        sandbox.state.force_fault(PACKAGE, "503", times=1)
        assert await asyncio.to_thread(keyed_cli, sandbox, *argv(out)) == 1
        first = capsys.readouterr().out
        assert await asyncio.to_thread(main, ["journal", "show", str(out)]) == 0
        shown = capsys.readouterr().out
        states = summary_states(first)
        assert sorted(states.values()) == ["done", "needs-attention"]
        assert shown_states(shown) == states  # #5: the same word in both

        # Stopped before the package GET (as Ctrl-C or --timeout would): both say `completed`.
        assert await asyncio.to_thread(keyed_cli, sandbox, *argv(out, "--timeout", "0.001")) == 1
        stopped = capsys.readouterr().out
        assert await asyncio.to_thread(main, ["journal", "show", str(out)]) == 0
        assert shown_states(capsys.readouterr().out) == summary_states(stopped)

        creates = calls(sandbox, CREATE)
        assert await asyncio.to_thread(keyed_cli, sandbox, *argv(out)) == 0
        resumed = capsys.readouterr().out
    assert calls(sandbox, CREATE) == creates  # nothing sent again
    assert set(summary_states(resumed).values()) == {"done"}
    progress = resumed.split("\nSummary\n", 1)[0].splitlines()
    lines = {key: [line for line in progress if f"] {key}  " in line] for key in states}
    (done_before,) = (key for key, state in states.items() if state == "done")
    (continued,) = (key for key, state in states.items() if state != "done")
    # #8: a month finished before this run prints one line, its result; never "submitted".
    assert len(lines[done_before]) == 1, lines[done_before]
    assert " done " in lines[done_before][0]
    assert lines[done_before][0].endswith("files, resumed from the journal")
    # A month this run drives still says which request it goes on with, first.
    assert " submitted " in lines[continued][0]
    assert "resumed from the journal" in lines[continued][0]
    assert any(" done " in line for line in lines[continued][1:])


# ---------------------------------------------------- #7: unknown counts after Ctrl-C


def _journal(folder: Path) -> None:
    """2024-01 done (29 CFDIs); 2024-02 processing, with the 0 an older run kept while SAT was
    still counting; 2024-03 submitted, no count."""
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        store.bind_download_to(folder)
        months = [
            m.MonthState(key, date(2024, n, 1), date(2024, n, last), "received", "cfdi")
            for key, n, last in (("2024-01", 1, 31), ("2024-02", 2, 29), ("2024-03", 3, 31))
        ]
        store.ensure(months)
        for state, rid in zip(months, ("R-1", "R-2", "R-3"), strict=True):
            sent = attrs.evolve(state, stage=m.Stage.SUBMITTING, creates=1)
            store.put(sent)
            store.put(attrs.evolve(sent, stage=m.Stage.SUBMITTED, request_id=rid, known_ids=(rid,)))
        store.put(
            attrs.evolve(
                store.get("2024-01"), stage=m.Stage.DONE, invoice_count=29, sat_state="completed"
            )
        )
        store.put(
            attrs.evolve(
                store.get("2024-02"),
                stage=m.Stage.PROCESSING,
                invoice_count=0,
                sat_state="processing",
            )
        )


def test_after_ctrl_c_a_count_sat_never_reported_is_unknown_not_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cfdi"
    _journal(out)
    board = Board(("2024-01", "2024-02", "2024-03"), clock=lambda: 0.0)
    job = DownloadJob("2024-01", "2024-03", "received", "cfdi", out, out / JOURNAL)
    print_stopped_summary(Ui(Redactor()), board, job)
    said = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in said.splitlines() if line[:4].isdigit()}
    assert rows["2024-01"][2:4] == ["done", "29"]
    assert rows["2024-02"][2:4] == ["processing", "-"]  # was 0
    assert rows["2024-03"][2:4] == ["submitted", "-"]
    # Was "29 invoices in 2 months, 1 month's count unknown".
    assert "29 invoices in 1 month, 2 months' count unknown" in said

    assert main(["journal", "show", str(out)]) == 0
    shown = {
        line.split()[0]: line.split()
        for line in capsys.readouterr().out.splitlines()
        if line[:4].isdigit()
    }
    assert shown["2024-01"][1:4] == ["done", "R-1", "29"]
    assert shown["2024-02"][1:4] == ["processing", "R-2", "-"]
    assert shown["2024-03"][1:4] == ["submitted", "R-3", "-"]


# ---------------------------------------------------------------------- #9: the texts


def test_adopting_a_request_made_elsewhere_says_when_retry_download_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cfdi"
    code = main(
        [
            *("--api-key", "sk_test_texts_9h", "--base-url", "http://127.0.0.1:9/v2"),
            *("journal", "adopt", str(out), "2024-03", "R-ELSEWHERE"),
            *("--rfc-type", "received", "--type", "cfdi", "--yes"),
        ]
    )
    assert code == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "both of SAT's 2 are assumed spent" in said
    # Was: "the next run stops before downloading any of them; then `journal retry-download`",
    # which the newcomer ran at once and was refused.
    run_first = said.index("Next: run the download once")
    retry = said.index(f"Only then does `gigstack-async journal retry-download {out} 2024-03`")
    assert run_first < retry
    assert "before that run it is refused" in said
    assert "one more run downloads them" in said


def test_a_start_too_old_names_the_first_whole_month_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    floor = add_months(today_mx(), -71)
    whole = floor if floor.day == 1 else add_months(floor.replace(day=1), 1)
    code = main(
        [
            *("--api-key", "sk_test_texts_9h", "--base-url", "http://127.0.0.1:9/v2"),
            *("sat", "download", "--from", "2019-01", "--to", f"{whole:%Y-%m}"),
            *("--rfc-type", "issued", "--out", "never-made", "--yes"),
        ]
    )
    assert code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"--from: must be on or after {floor.isoformat()}" in err
    assert f"the first whole month it accepts is {whole:%Y-%m}" in err
    assert not Path("never-made").exists()
