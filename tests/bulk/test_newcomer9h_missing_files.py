"""Newcomer 9h #1 and #11: files deleted from a done month's folder.

#1: files deleted from a `done` month's folder (some, or the whole folder) went unnoticed: a
re-run reported "done 59 invoices, 59 files", `journal show` and `journal resend` said the files
were there, and `retry-download`, `adopt` and `keep` refused, although SAT had one of its two
downloads of the package left; the only way offered was `journal resend --force` (a new request,
possibly billed). Now every run checks a done month's recorded files against its folder (names
only) and reports MISSING FILES (not ok), with the free way first: `journal retry-download`
downloads the package once more (within SAT's two, never a third) and the next run extracts only
what is missing. `journal show` tells the same before any run.

#11: after a deleted journal, with 53 of SAT's 56 CFDIs in the folder, the hint offered
`journal keep` "if they are all there", and keep then refused; the hint now leads with the way
that works for the counts it knows.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import content
from gigstack_async.bulk import machine as m
from gigstack_async.cli import main
from gigstack_async.sandbox import SandboxConfig
from tests.bulk._support import (
    CREATE,
    JOURNAL,
    PACKAGE,
    calls,
    done_month,
    keyed_cli,
    month_results,
    world_of,
)

FILES = tuple(f"{n:08X}-0000-4000-8000-000000000000.xml" for n in range(5))
DONE = done_month("2024-03", FILES)


# ------------------------------------------------------------------ the machine


def test_a_done_month_whose_folder_lost_files_needs_attention_with_the_free_way_first() -> None:
    lost = FILES[:2]
    state, commands = m.transition(DONE, m.Start(on_disk=3, lost=lost))
    assert commands == ()  # nothing sent, nothing downloaded by itself
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert not state.ok  # was: done, 5 files, ok
    assert (state.reason or "").startswith(f"{m.MISSING_FILES}: ")
    assert "2 of the 5 file(s)" in (state.reason or "")
    hint = state.hint or ""
    assert hint.startswith("free first: `gigstack-async journal retry-download 2024-03`")
    assert "1 of SAT's 2 downloads left" in hint
    assert "journal resend 2024-03`" in hint  # the billed way, last, with its cost
    assert "possibly billed" in hint
    # A resend is refused without --force while the free way exists.
    assert m.free_way(state) is not None
    with pytest.raises(m.TransitionError):
        m.transition(state, m.AllowResend())
    # Put back: done again, nothing sent.
    back, commands = m.transition(state, m.Start(on_disk=5))
    assert (back.stage, commands) == (m.Stage.DONE, ())
    assert back.lost_files == ()


def test_retry_download_of_a_month_missing_files_fetches_its_package_once_more() -> None:
    missing = m.transition(DONE, m.Start(on_disk=0, lost=FILES))[0]
    allowed, commands = m.transition(missing, m.AllowDownload())
    assert commands == ()  # sent by the next run, never by the command
    assert (allowed.stage, allowed.refill, allowed.extracted) == (m.Stage.COMPLETED, True, ())
    assert allowed.granted == ()  # SAT's second download: nothing past its two
    begun, commands = m.transition(allowed, m.Start(on_disk=0))
    # The journal's own package, extracted before: fetched without checking the request again.
    assert commands == (m.FetchPackage("P1", 2),)
    # Staged then extracted: done, with the package's files.
    sending = m.transition(begun, m.PackageSending("P1"))[0]
    assert sending.downloads_of("P1") == 2
    staged = m.transition(sending, m.PackageStaged(m.StagedFile("P1", "/s/p1.zip", "ab", 9)))[0]
    done = m.transition(staged, m.Extracted("P1", FILES))[0]
    assert (done.stage, done.files, done.refill, done.lost_files) == (
        m.Stage.DONE,
        FILES,
        False,
        (),
    )


def test_a_refill_that_expired_leaves_no_unchecked_fetch_behind() -> None:
    missing = m.transition(DONE, m.Start(on_disk=0, lost=FILES))[0]
    allowed = m.transition(missing, m.AllowDownload())[0]
    begun = m.transition(allowed, m.Start(on_disk=0))[0]
    sending = m.transition(begun, m.PackageSending("P1"))[0]
    expired = m.transition(sending, m.PackageFailed("P1", "SAT 5007", code=5007, reached=True))[0]
    assert expired.stage is m.Stage.EXPIRED
    assert "journal resend 2024-03" in (expired.hint or "")  # the billed way, named
    assert not expired.refill  # a later request's packages are checked before any GET


def test_a_package_sat_served_twice_is_never_asked_a_third_time() -> None:
    spent = attrs.evolve(DONE, downloads=(("P1", 2),))
    state = m.transition(spent, m.Start(on_disk=4, lost=FILES[:1]))[0]
    assert state.stage is m.Stage.NEEDS_ATTENTION
    hint = state.hint or ""
    assert "retry-download" not in hint
    assert "both its downloads are spent" in hint
    assert "journal resend 2024-03`" in hint
    assert m.free_way(state) is None  # the resend is the way
    with pytest.raises(m.TransitionError, match="5008"):
        m.transition(state, m.AllowDownload())
    # One counted download that may not have reached SAT: one more, allowed by the user only.
    unsure = attrs.evolve(spent, unsure=(("P1", 1),))
    state = m.transition(unsure, m.Start(on_disk=4, lost=FILES[:1]))[0]
    allowed = m.transition(state, m.AllowDownload())[0]
    assert allowed.allowed_of("P1") == 3
    assert m.transition(allowed, m.Start(on_disk=4))[1] == (m.FetchPackage("P1", 3),)


def test_no_files_missing_leaves_a_done_month_alone() -> None:
    state, commands = m.transition(DONE, m.Start(on_disk=5))
    assert (state.stage, state.reason, state.hint, commands) == (DONE.stage, DONE.reason, None, ())
    assert m.files_missing(DONE, ()) is DONE


def test_the_hint_does_not_offer_keep_when_the_folder_holds_fewer_cfdis_than_sat_reported() -> None:
    # Newcomer 9h #11: 53 of SAT's 56 CFDIs in the folder of a month rebuilt after a lost journal.
    rebuilt = attrs.evolve(
        DONE,
        stage=m.Stage.NEEDS_ATTENTION,
        extracted=(),
        downloads=(),
        invoice_count=56,
        on_disk=53,
        cfdis_on_disk=53,
    )
    notice = m.files_notice(rebuilt)
    assert "if they are all there" not in notice  # was: keep first, then keep refused
    assert "3 are missing" in notice
    assert "journal keep 2024-03` refuses them until they are back" in notice
    # All there: keep is still the way (it checks them).
    full = attrs.evolve(rebuilt, on_disk=56, cfdis_on_disk=56)
    assert "if they are all there, `gigstack-async journal keep 2024-03`" in m.files_notice(full)


# ------------------------------------------------------------------ end to end


async def test_deleted_files_of_done_months_are_reported_and_brought_back_for_free(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The newcomer's steps: two months done; five files deleted from one, the other's whole
    folder removed; the same run again. Was: both "done" with files that are not there, and no
    command but a billed `journal resend --force` to get them back."""
    async with world_of(SandboxConfig(speed=3000, seed=9)) as (sandbox, client):
        out = tmp_path / "recv"
        first = await month_results(client, out, "2024-03", "2024-04")
        assert all(r.ok for r in first.values())
        creates, gets = calls(sandbox, CREATE), calls(sandbox, PACKAGE)
        march = sorted((out / "2024-03").iterdir())
        held = {key: len(r.files) for key, r in first.items()}
        assert all(held.values())
        for path in march[:5]:
            path.unlink()
        shutil.rmtree(out / "2024-04")

        again = await month_results(client, out, "2024-03", "2024-04")
        assert (calls(sandbox, CREATE), calls(sandbox, PACKAGE)) == (creates, gets)
        for key, lost in (("2024-03", 5), ("2024-04", held["2024-04"])):
            result = again[key]
            assert not result.ok  # was: done, with the files counted
            assert result.stage == "needs-attention"
            assert (result.error or "").startswith(f"{m.MISSING_FILES}: ")
            assert f"{lost} of the {held[key]} file(s)" in (result.error or "")
            assert len(result.files) == held[key] - lost  # was: every recorded file counted
            hint = result.hint or ""
            assert f"journal retry-download {out} {key}" in hint
            assert "1 of SAT's 2 downloads left" in hint
            assert hint.index("retry-download") < hint.index("journal resend")

        # `journal show` tells the same, and the resend without --force points to the free way.
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["journal", "show", str(out), "2024-04"]) == 0
        shown = capsys.readouterr().out
        assert m.MISSING_FILES in shown
        assert "retry-download" in shown
        assert await asyncio.to_thread(main, ["journal", "resend", str(out), "2024-04"]) != 0
        refused = capsys.readouterr()
        assert "retry-download" in refused.err + refused.out
        assert calls(sandbox, CREATE) == creates

        # The free way: one more GET of each package (SAT's second), the missing files back.
        for key in ("2024-03", "2024-04"):
            code = await asyncio.to_thread(
                main, ["journal", "retry-download", str(out), key, "--yes"]
            )
            assert code == 0
        assert calls(sandbox, PACKAGE) == gets  # the command sends nothing
        untouched = march[5]
        before = untouched.stat().st_mtime_ns
        back = await month_results(client, out, "2024-03", "2024-04")
        assert all(r.ok and r.stage == "done" for r in back.values())
        assert {key: len(r.files) for key, r in back.items()} == held
        assert len(list((out / "2024-03").iterdir())) == len(march)
        assert untouched.stat().st_mtime_ns == before  # a file still there is not rewritten
        assert calls(sandbox, CREATE) == creates  # nothing requested again
        assert calls(sandbox, PACKAGE) == gets + 2  # one GET per package, SAT's second

        # Lost again: SAT served each package twice, so no third GET; the billed way, named.
        shutil.rmtree(out / "2024-04")
        spent = await month_results(client, out, "2024-04", "2024-04")
        hint = spent["2024-04"].hint or ""
        assert "both its downloads are spent" in hint
        assert f"journal resend {out} 2024-04`" in hint
        code = await asyncio.to_thread(
            main, ["journal", "retry-download", str(out), "2024-04", "--yes"]
        )
        assert code != 0
        assert "5008" in capsys.readouterr().err
        assert (calls(sandbox, CREATE), calls(sandbox, PACKAGE)) == (creates, gets + 2)


async def test_after_a_deleted_journal_with_files_missing_the_hint_leads_with_retry_download(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Newcomer 9h #11: journal deleted, 3 of the month's files deleted, its request adopted
    into a new journal, the same run. Was: "if they are all there, `journal keep`", which then
    refused ("some are missing"); `journal retry-download` is what works."""
    async with world_of(SandboxConfig(speed=3000, seed=7)) as (sandbox, client):
        out = tmp_path / "dclk"
        first = await month_results(client, out, "2024-07", "2024-07")
        result = first["2024-07"]
        assert result.ok
        assert result.request_id is not None
        total = len(result.files)
        assert total > 3
        for path in out.glob(f"{JOURNAL}*"):
            path.unlink()
        for path in sorted((out / "2024-07").iterdir())[:3]:
            path.unlink()
        creates, gets = calls(sandbox, CREATE), calls(sandbox, PACKAGE)
        adopt = ["journal", "adopt", str(out), "2024-07", result.request_id]
        argv = [*adopt, "--rfc-type", "received", "--type", "cfdi", "--yes"]
        assert await asyncio.to_thread(keyed_cli, sandbox, *argv) == 0

        stopped = (await month_results(client, out, "2024-07", "2024-07"))["2024-07"]
        assert stopped.stage == "needs-attention"
        hint = stopped.hint or ""
        assert "if they are all there" not in hint  # was: keep first, then keep refused
        assert "3 are missing" in hint
        assert hint.index(f"journal retry-download {out} 2024-07") < hint.index("journal resend")
        assert (calls(sandbox, CREATE), calls(sandbox, PACKAGE)) == (creates, gets)

        code = await asyncio.to_thread(
            main, ["journal", "retry-download", str(out), "2024-07", "--yes"]
        )
        assert code == 0
        done = (await month_results(client, out, "2024-07", "2024-07"))["2024-07"]
        assert done.ok
        assert len(done.files) == total
        assert calls(sandbox, CREATE) == creates  # no create
        assert calls(sandbox, PACKAGE) == gets + 1  # SAT's second download, no third


def test_lost_files_finds_a_member_kept_in_a_subfolder(tmp_path: Path) -> None:
    # A package member in a folder is extracted there: it is not lost (no false MISSING FILES).
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("x")
    assert content.lost_files(tmp_path, ["sub/a.txt", "sub/b.txt"]) == ("sub/b.txt",)


async def test_files_copied_back_after_a_5008_refill_finish_the_month_for_free(
    tmp_path: Path,
) -> None:
    """Newcomer 10 F2: another folder's request adopted and downloaded here (SAT's 2nd GET), a
    file deleted, `journal retry-download`, and the run's GET answered 5008 (served twice). Was:
    a hint claiming the journal lost the month's record, keep "would refuse them" and a paid
    resend; with the file copied back the month stayed needs-attention for good."""
    async with world_of(SandboxConfig(speed=3000, seed=9)) as (sandbox, client):
        there, here = tmp_path / "cfdi", tmp_path / "cfdi-py"
        made = (await month_results(client, there, "2024-03", "2024-03"))["2024-03"]
        assert made.ok
        assert made.request_id is not None
        held = (await month_results(client, here, "2024-03", "2024-03"))["2024-03"]
        assert held.stage == "held"
        adopt = ["journal", "adopt", str(here), "2024-03", made.request_id]
        argv = [*adopt, "--rfc-type", "received", "--type", "cfdi", "--yes"]
        assert await asyncio.to_thread(keyed_cli, sandbox, *argv) == 0
        done = (await month_results(client, here, "2024-03", "2024-03"))["2024-03"]
        assert done.ok, done.error
        gone = sorted((here / "2024-03").iterdir())[0]
        gone.unlink()
        missing = (await month_results(client, here, "2024-03", "2024-03"))["2024-03"]
        assert m.MISSING_FILES in (missing.error or "")
        code = await asyncio.to_thread(
            main, ["journal", "retry-download", str(here), "2024-03", "--yes"]
        )
        assert code == 0
        refused = (await month_results(client, here, "2024-03", "2024-03"))["2024-03"]
        assert refused.stage == "needs-attention"
        assert "SAT 5008" in (refused.error or "")
        assert m.MISSING_FILES in (refused.error or "")
        hint = refused.hint or ""
        assert "lost the month's record" not in hint
        assert f"copy them from the folder where request {made.request_id} was made" in hint
        assert hint.index("put them back") < hint.index("journal resend")
        creates, gets = calls(sandbox, CREATE), calls(sandbox, PACKAGE)

        shutil.copy2(there / "2024-03" / gone.name, gone)
        back = (await month_results(client, here, "2024-03", "2024-03"))["2024-03"]
        assert (back.ok, back.stage) == (True, "done"), back.error
        assert len(back.files) == len(done.files)
        assert (calls(sandbox, CREATE), calls(sandbox, PACKAGE)) == (creates, gets)
