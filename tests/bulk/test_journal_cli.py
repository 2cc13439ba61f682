"""`gigstack-async journal show|adopt|resend` on a real journal file (nothing is sent)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.cli import main

IDENTITY = StoreIdentity(
    None, "http://127.0.0.1:9/v2", "1234abcd1234abcd", None, "received", "cfdi"
)
JAN = m.MonthState("2024-01", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi")
FEB = m.MonthState("2024-02", date(2024, 2, 1), date(2024, 2, 29), "received", "cfdi")
JOURNAL = ".gigstack-journal.sqlite3"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "cfdi"
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        unknown = attrs.evolve(
            JAN,
            stage=m.Stage.NEEDS_ATTENTION,
            unknown=True,
            creates=1,
            reason="a create request may have been billed but the history cannot tell",
            hint="gigstack-async journal adopt 2024-01 <request id>",
        )
        store.ensure([unknown, attrs.evolve(FEB, stage=m.Stage.DONE, reason="every package")])
    return folder


def state(out: Path, key: str) -> m.MonthState:
    with JournalStore.open_existing(out / JOURNAL) as store:
        return store.get(key)


def test_show_lists_every_month_with_its_reason_and_next_step(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "show", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2024-01" in text
    assert "needs-attention" in text
    assert "journal adopt" in text
    assert "done" in text


def test_show_one_month_gives_its_history(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["journal", "show", str(out / JOURNAL), "2024-01"]) == 0
    text = capsys.readouterr().out
    assert "create requests sent" in text
    assert "History:" in text


def test_adopt_attaches_a_request_the_user_found(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "adopt", str(out), "2024-01", "REQ-42", "-y"]) == 0
    adopted = state(out, "2024-01")
    assert (adopted.stage, adopted.request_id, adopted.unknown) == (
        m.Stage.SUBMITTED,
        "REQ-42",
        False,
    )
    said = " ".join(capsys.readouterr().out.split())
    assert "received cfdi CFDIs, 2024-01-01 to 2024-01-31" in said
    # What the next run really does (review 9b #5): the history when it lists the request,
    # else the package's own CFDIs, before anything is extracted.
    assert "if the server's history lists it with other dates or type, the month stops" in said
    assert "its package is downloaded and checked before anything is extracted" in said


def test_adopt_into_a_finished_month_is_refused(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "adopt", str(out), "2024-02", "REQ-42", "--yes"]) == 2
    assert "nothing to adopt" in capsys.readouterr().err
    assert state(out, "2024-02").stage is m.Stage.DONE


def test_resend_spells_out_the_risk_and_needs_a_confirmation(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No terminal and no --yes: refused, nothing changed.
    assert main(["journal", "resend", str(out), "2024-01"]) == 2
    captured = capsys.readouterr()
    assert "may be billed again" in captured.out
    assert "--yes" in captured.err
    assert state(out, "2024-01").stage is m.Stage.NEEDS_ATTENTION

    assert main(["journal", "resend", str(out), "2024-01", "--yes"]) == 0
    allowed = state(out, "2024-01")
    assert (allowed.stage, allowed.resend_allowed) == (m.Stage.PLANNED, True)


def test_unknown_month_and_missing_journal_are_usage_errors(
    out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "show", str(out), "2023-12"]) == 2
    assert "not in the journal" in capsys.readouterr().err
    assert main(["journal", "show", str(tmp_path / "nowhere")]) == 2
    assert "no journal" in capsys.readouterr().err


# Newcomer findings on issue 9 ---------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["journal", "show", "2024-01"],
        ["journal", "adopt", "2024-01", "REQ-42"],
        ["journal", "resend", "2024-01", "-y"],
        ["journal", "retry-download", "2024-01", "-y"],
    ],
)
def test_a_month_where_the_folder_belongs_says_the_folder_comes_first(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Finding 1: `journal show 2025-02` said only "no journal at 2025-02"; adopt and resend
    # said "REQUEST_ID/MONTH is required".
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "comes first" in err
    assert f"gigstack-async journal {argv[1]} ./cfdi 2024-01" in err
    assert "usage: gigstack-async journal" in err
    assert "JOURNAL " in err


def test_show_renders_the_folder_into_every_next_step(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Finding 1: the next-step column said `journal adopt 2024-01 <request id>`, which fails.
    assert main(["journal", "show", str(out)]) == 0
    text = capsys.readouterr().out.replace("\n", " ")
    assert f"journal adopt {out} 2024-01 <request id>" in " ".join(text.split())


def test_show_history_has_a_header_that_says_what_the_number_is(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Finding 5: the History rows' first column had no header, unit or time.
    assert main(["journal", "show", str(out), "2024-01"]) == 0
    text = capsys.readouterr().out
    assert "# is the journal's transition number" in text
    assert "(no time is kept)" in text


def test_a_done_month_with_fewer_days_is_not_shown_as_finished(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Finding 6: a MISSING DAYS month was shown `done ... every package extracted`, no next step.
    folder = tmp_path / "split"
    half = attrs.evolve(
        m.MonthState("2024-04", date(2024, 4, 1), date(2024, 4, 15), "received", "cfdi"),
        stage=m.Stage.DONE,
        reason="every package extracted",
    )
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        store.ensure([half])
    assert main(["journal", "show", str(folder)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "covers 2024-04-01..2024-04-15 only" in text
    assert "another --out folder" in text
    # Newcomer 11 #7: a part kept on purpose (a split after 5003) is led to `journal split`
    # first, and the whole-month resend says SAT refuses it again after a 5003.
    assert text.index("`journal split` run on the month's own folder") < text.index(
        "journal resend"
    )
    assert "never after a 5003 for those dates" in text


def test_resend_of_a_done_month_needs_force_and_says_what_it_holds(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Finding 8: `journal resend` on a done month was accepted with the generic risk text and
    # the next run billed a new request for a month that already had its files.
    with JournalStore.open_existing(out / JOURNAL) as store:
        store.put(attrs.evolve(store.get("2024-02"), creates=3, request_id="REQ-7"))
    assert main(["journal", "resend", str(out), "2024-02", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "2024-02 is done" in err
    assert "sent 3 create request(s)" in err
    assert "--force" in err
    assert state(out, "2024-02").stage is m.Stage.DONE

    assert main(["journal", "resend", str(out), "2024-02", "--yes", "--force"]) == 0
    assert "has sent 3 create request(s) for 2024-02" in capsys.readouterr().out
    assert state(out, "2024-02").stage is m.Stage.PLANNED


def test_resend_and_adopt_take_dash_y(out: Path) -> None:
    # Finding 9: `-y` worked for `sat download` only.
    assert main(["journal", "resend", str(out), "2024-01", "-y"]) == 0
    assert state(out, "2024-01").stage is m.Stage.PLANNED
    assert main(["journal", "adopt", str(out), "2024-01", "REQ-42", "-y"]) == 0
    assert state(out, "2024-01").request_id == "REQ-42"


def test_adopt_without_a_terminal_needs_yes(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["journal", "adopt", str(out), "2024-01", "REQ-42"]) == 2
    assert "--yes" in capsys.readouterr().err
    assert state(out, "2024-01").request_id is None


def test_adopt_of_a_completed_month_says_it_downloads_unchecked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Finding 4: adopt said the next run "checks the request's dates and type" and then
    # downloaded a request the history did not list, with no check.
    folder = tmp_path / "na"
    waiting = attrs.evolve(
        JAN,
        stage=m.Stage.NEEDS_ATTENTION,
        request_id="REQ-9",
        known_ids=("REQ-9",),
        package_ids=("P1",),
        resume_to=m.Stage.COMPLETED,
        reason="not in the history",
    )
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        store.ensure([waiting])
    assert main(["journal", "adopt", str(folder), "2024-01", "REQ-9", "-y"]) == 0
    text = capsys.readouterr().out
    assert "checks the request's dates" not in text
    assert "SAT already completed it, so the history is not asked again" in text
    assert "each package is checked before anything is extracted" in text
    assert "you vouch for its dates" in text  # review 9d #2: a half month passes the check
    assert state(folder, "2024-01").stage is m.Stage.COMPLETED


def test_adopt_of_another_request_says_the_staged_package_goes_before_the_confirmation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # journal adopt of another id removes the left request's staged ZIP (review 9c): a package
    # that spent SAT's downloads; the user reads it before saying yes, not after.
    folder = tmp_path / "staged"
    zip_path = folder / ".gigstack-staging" / "P1.zip"
    zip_path.parent.mkdir(parents=True)
    zip_path.write_bytes(b"PK")
    stuck = attrs.evolve(
        JAN,
        stage=m.Stage.NEEDS_ATTENTION,
        request_id="REQ-1",
        known_ids=("REQ-1",),
        package_ids=("P1",),
        downloads=(("P1", 1),),
        staged=(m.StagedFile("P1", str(zip_path), "a" * 64, 2),),
        resume_to=m.Stage.STAGED,
        reason="cannot extract package P1: disk full",
    )
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        store.ensure([stuck])
    assert main(["journal", "adopt", str(folder), "2024-01", "REQ-2"]) == 2  # no terminal
    said = " ".join(capsys.readouterr().out.split())
    assert (
        f"2024-01 holds packages of the request it leaves, staged but not extracted: {zip_path}. "
        "Adopting removes them (each spent one of SAT's 2 downloads of its package)."
    ) in said
    assert zip_path.exists()  # nothing happened without the yes
    assert main(["journal", "adopt", str(folder), "2024-01", "REQ-2", "-y"]) == 0
    assert not zip_path.exists()
    assert state(folder, "2024-01").request_id == "REQ-2"


def _closed_stdout(*argv: str) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI with its stdout's reader already gone, as `... | head -1` leaves it once
    `head` has its line: every write to stdout fails with a broken pipe."""
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the child starts: its first write breaks
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "gigstack_async", *argv],
            stdin=subprocess.DEVNULL,
            stdout=writer,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(writer)
    _out, err = child.communicate(timeout=60)
    return subprocess.CompletedProcess(child.args, child.returncode, b"", err)


@pytest.mark.parametrize(
    ("argv", "changed"),
    [
        (
            ["resend", "{out}", "2024-01", "-y"],
            lambda s: s.stage is m.Stage.PLANNED and s.resend_allowed,
        ),
        (
            ["adopt", "{out}", "2024-01", "REQ-42", "-y"],
            lambda s: (s.stage, s.request_id) == (m.Stage.SUBMITTED, "REQ-42"),
        ),
    ],
    ids=["resend", "adopt"],
)
def test_a_repair_piped_into_head_is_still_recorded(
    out: Path, argv: list[str], changed: Callable[[m.MonthState], bool]
) -> None:
    # Newcomer walk: `journal resend ... -y | head -1` printed the risk into a closed pipe,
    # the BrokenPipeError ended the command before the journal changed, and it exited 0.
    done = _closed_stdout("journal", *(a.format(out=out) for a in argv))
    assert done.returncode == 0, done.stderr
    assert changed(state(out, "2024-01"))
    assert b"Traceback" not in done.stderr
    assert b"BrokenPipe" not in done.stderr


def test_a_rebind_piped_into_head_is_still_recorded(out: Path) -> None:
    done = _closed_stdout(
        "--api-key", "sk_test_rotated", "--base-url", IDENTITY.base_url,
        "journal", "rebind", str(out), "--unchecked", "-y",
    )  # fmt: skip  # the journal knows no request id: nothing to check the account by
    assert done.returncode == 0, done.stderr
    with JournalStore.open_existing(out / JOURNAL) as store:
        assert store.identity.key_fingerprint != IDENTITY.key_fingerprint


def test_a_repair_whose_risk_could_not_be_shown_is_not_confirmed(out: Path) -> None:
    # Without -y the question would follow a risk that reached no one: nothing changes.
    done = _closed_stdout("journal", "resend", str(out), "2024-01")
    assert done.returncode == 2
    assert b"nothing changed" in done.stderr
    assert state(out, "2024-01").stage is m.Stage.NEEDS_ATTENTION


# Newcomer 9c #1: a package whose counted downloads may not have reached SAT -------------------


@pytest.fixture
def stopped(tmp_path: Path) -> Path:
    """2024-01 stopped at package P1: 2 downloads counted, 1 of them a 500 before any byte."""
    folder = tmp_path / "chaos"
    blocked = m.transition(
        attrs.evolve(
            JAN,
            stage=m.Stage.COMPLETED,
            request_id="R1",
            known_ids=("R1",),
            creates=1,
            checked=True,
            package_ids=("P1",),
            downloads=(("P1", 2),),
            unsure=(("P1", 1),),
        ),
        m.PackageFailed("P1", "HTTP 500 [internal_server_error]"),
    )[0]
    assert blocked.blocked_package == "P1"
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        store.ensure([blocked, attrs.evolve(FEB, stage=m.Stage.DONE, reason="every package")])
    return folder


def test_show_says_how_many_downloads_may_not_have_reached_sat(
    stopped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "show", str(stopped), "2024-01"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "P1: 2 of 2 (1 may not have reached SAT)" in text
    assert "2 downloads counted, 1 of them may not have reached SAT" in text
    assert f"journal retry-download {stopped} 2024-01" in text


def test_retry_download_spells_out_the_cost_and_needs_a_confirmation(
    stopped: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "retry-download", str(stopped), "2024-01"]) == 2
    captured = capsys.readouterr()
    said = " ".join(captured.out.split())
    assert "exactly one more download of P1" in said
    assert "It bills nothing: if SAT already served the package twice, it answers 5008" in said
    assert "--yes" in captured.err
    assert state(stopped, "2024-01").granted == ()

    assert main(["journal", "retry-download", str(stopped), "2024-01", "--yes"]) == 0
    allowed = state(stopped, "2024-01")
    assert (allowed.stage, allowed.granted, allowed.blocked_package) == (
        m.Stage.COMPLETED,
        (("P1", 1),),
        None,
    )
    assert "may download package P1 once more" in capsys.readouterr().out
    # One GET per confirmation: a second one before the run is refused, nothing changes.
    assert main(["journal", "retry-download", str(stopped), "2024-01", "--yes"]) == 2
    assert "did not stop at a package SAT may still serve" in capsys.readouterr().err
    assert state(stopped, "2024-01") == allowed


@pytest.mark.parametrize(
    ("month", "error"),
    [
        ("2024-02", "2024-02 is done (every package): it did not stop at a package"),
        ("2023-12", "2023-12 is not in the journal"),
    ],
)
def test_retry_download_is_refused_where_it_cannot_help(
    stopped: Path, capsys: pytest.CaptureFixture[str], month: str, error: str
) -> None:
    assert main(["journal", "retry-download", str(stopped), month, "--yes"]) == 2
    assert error in capsys.readouterr().err
    assert state(stopped, "2024-02").stage is m.Stage.DONE


def test_journal_help_lists_retry_download(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["journal", "retry-download", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Allow exactly one more GET of the package MONTH stopped at" in text
    assert "It bills nothing" in text


def test_a_retry_download_piped_into_head_is_still_recorded(stopped: Path) -> None:
    done = _closed_stdout("journal", "retry-download", str(stopped), "2024-01", "-y")
    assert done.returncode == 0, done.stderr
    assert state(stopped, "2024-01").granted == (("P1", 1),)
    assert b"BrokenPipe" not in done.stderr


def test_show_history_names_each_stage_not_the_reason_before_it_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Newcomer 10 (minor): `completed` and then `staged` both read "SAT completed the request",
    # and the numbers jumped (1 -> 25) with nothing saying they count every month's lines.
    folder = tmp_path / "cfdi"
    month = m.MonthState("2024-05", date(2024, 5, 1), date(2024, 5, 31), "received", "cfdi")
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        store.ensure([month])
        done = attrs.evolve(month, request_id="R5", reason="SAT completed the request")
        store.put(attrs.evolve(done, stage=m.Stage.COMPLETED))
        store.put(attrs.evolve(done, stage=m.Stage.STAGED))
        store.put(attrs.evolve(done, stage=m.Stage.DONE, reason="every package extracted"))
    assert main(["journal", "show", str(folder), "2024-05"]) == 0
    text = capsys.readouterr().out
    history = text[text.index("History:") :]
    assert history.count("SAT completed the request") == 1
    staged = next(line for line in history.splitlines() if " staged " in line)
    assert "every package is on disk" in staged
    assert "numbered across every month of the journal" in history


def test_show_history_lines_name_the_folder_in_their_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Review r2 H2: a History line's reason (the month's reason when it was written) printed
    # `gigstack-async journal retry-download 2024-01` with no folder: run as shown, exit 2.
    folder = tmp_path / "cfdi"
    reason = (
        "package R_01: both of SAT's downloads assumed spent; `gigstack-async journal "
        "retry-download 2024-01` checks it for free"
    )
    with JournalStore.open(folder / JOURNAL, IDENTITY) as store:
        store.ensure([JAN])
        store.put(attrs.evolve(JAN, stage=m.Stage.NEEDS_ATTENTION, reason=reason))
        store.put(attrs.evolve(JAN, stage=m.Stage.NEEDS_ATTENTION, reason="later"))
    assert main(["journal", "show", str(folder), "2024-01"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"`gigstack-async journal retry-download {folder} 2024-01` checks it" in text
    assert "`gigstack-async journal retry-download 2024-01`" not in text
