"""Review 9n #3: a damaged CFDI in a done month's folder.

A CFDI of a done month cut to 100 bytes on disk (a disk error, a partial restore) went unnoticed:
the re-run said "done 34 34", `journal show` "every package extracted", and `journal retry-
download` was refused although SAT had one of its two downloads left. `content.lost_files`
checked only that a file of that name or UUID was there, while `journal keep` refuses such a
file (`content.damaged_cfdis`). Now a done month's check finds it too: MISSING FILES, with the
free `journal retry-download`, whose refill moves the damaged file to the month's `damaged/`
subfolder (kept, never deleted) and extracts the package's copy; an intact file is never
rewritten.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

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
    cfdi_text,
    done_month,
    keyed_cli,
    month_results,
    world_of,
)

UUIDS = tuple(f"{0xABCDEF00 + n:08x}-aaaa-4bbb-8ccc-dddddddddddd" for n in range(4))


def _folder(tmp_path: Path) -> tuple[Path, list[str]]:
    names = [f"{u.upper()}.xml" for u in UUIDS]
    for uuid, name in zip(UUIDS, names, strict=True):
        (tmp_path / name).write_text(cfdi_text(uuid.upper()))
    return tmp_path, names


def test_lost_files_finds_a_cfdi_cut_short_as_keep_does(tmp_path: Path) -> None:
    folder, names = _folder(tmp_path)
    assert content.lost_files(folder, names) == ()
    cut = folder / names[1]
    cut.write_bytes(cut.read_bytes()[:100])
    assert content.damaged_cfdis([cut]) == (names[1],)  # what `journal keep` refuses
    assert content.lost_files(folder, names) == (names[1],)  # was: () (the name is there)
    # Ends right but stamped with another UUID, or padded with zeros: damaged too.
    (folder / names[2]).write_text(cfdi_text(UUIDS[3]))
    zeroed = folder / names[3]
    zeroed.write_bytes(zeroed.read_bytes() + b"\0" * 64)
    assert content.lost_files(folder, names) == tuple(names[1:])


def test_an_intact_copy_under_another_case_or_a_cheap_look_miss_is_not_damaged(
    tmp_path: Path,
) -> None:
    folder, names = _folder(tmp_path)
    # A complete CFDI that the cheap look cannot vouch for (UTF-16) is read whole: intact.
    (folder / names[0]).write_text(cfdi_text(UUIDS[0]).replace("UTF-8", "UTF-16"), "utf-16")
    assert content.lost_files(folder, names) == ()
    # A damaged copy beside an intact one of the same UUID (another case): the CFDI is held.
    (folder / names[1].lower()).write_text(cfdi_text(UUIDS[1]))
    (folder / names[1]).write_bytes(b"<cfdi:Comprobante")
    assert content.lost_files(folder, names) == ()


def test_a_done_month_with_a_damaged_cfdi_says_missing_files_with_the_free_way() -> None:
    files = tuple(f"{u.upper()}.xml" for u in UUIDS)
    done = done_month("2024-08", files)
    state = m.transition(done, m.Start(on_disk=4, cfdis=4, lost=files[:1]))[0]
    assert (state.reason or "").startswith(f"{m.MISSING_FILES}: ")
    assert "damaged" in (state.reason or "")
    hint = state.hint or ""
    assert hint.startswith("free first: `gigstack-async journal retry-download 2024-08`")
    assert f"`{m.DAMAGED_DIR}/` subfolder" in hint


async def test_a_truncated_cfdi_of_a_done_month_is_found_and_brought_back_for_free(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The review's steps: August done; one XML cut to 100 bytes; the same run; `journal show`;
    `journal retry-download`; the run again. Was: done, every package extracted, and the
    retry-download refused."""
    async with world_of(SandboxConfig(speed=3000, seed=5)) as (sandbox, client):
        out = tmp_path / "A"
        first = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert first.ok
        total = len(first.files)
        folder = out / "2024-08"
        xmls = sorted(folder.glob("*.xml"))
        cut, other = xmls[0], xmls[1]
        good = cut.read_bytes()
        damaged = good[:100]
        cut.write_bytes(damaged)
        creates, gets = calls(sandbox, CREATE), calls(sandbox, PACKAGE)

        again = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert not again.ok  # was: done, 34 files
        assert (again.error or "").startswith(f"{m.MISSING_FILES}: ")
        assert f"1 of the {total} file(s)" in (again.error or "")
        assert cut.name in (again.error or "")
        assert len(again.files) == total - 1
        assert f"journal retry-download {out} 2024-08" in (again.hint or "")
        assert (calls(sandbox, CREATE), calls(sandbox, PACKAGE)) == (creates, gets)

        capsys.readouterr()
        assert await asyncio.to_thread(main, ["journal", "show", str(out), "2024-08"]) == 0
        shown = capsys.readouterr().out
        assert m.MISSING_FILES in shown  # was: "every package extracted"
        assert "retry-download" in shown

        code = await asyncio.to_thread(
            main, ["journal", "retry-download", str(out), "2024-08", "--yes"]
        )
        assert code == 0  # was: refused, "no download to allow"
        before = other.stat().st_mtime_ns
        back = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert back.ok
        assert back.stage == "done"
        assert len(back.files) == total
        assert cut.read_bytes() == good  # the package's copy
        assert (folder / m.DAMAGED_DIR / cut.name).read_bytes() == damaged  # kept, not lost
        assert other.stat().st_mtime_ns == before  # an intact file is never rewritten
        assert calls(sandbox, CREATE) == creates  # nothing requested again
        assert calls(sandbox, PACKAGE) == gets + 1  # SAT's second download, no third

        # A later run is done, and the damaged copy set aside is not counted as a file.
        later = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
        assert later.ok
        assert len(later.files) == total


async def test_after_a_deleted_journal_a_damaged_cfdi_leads_to_retry_download_not_keep(
    tmp_path: Path,
) -> None:
    """Newcomer 9h #11 with a damaged file instead of a deleted one: the folder holds as many
    files as SAT's count, one cut short. The hint says it is missing or damaged (keep would
    refuse it) and leads with `journal retry-download`, which then brings it back for free."""
    async with world_of(SandboxConfig(speed=3000, seed=7)) as (sandbox, client):
        out = tmp_path / "dclk"
        result = (await month_results(client, out, "2024-07", "2024-07"))["2024-07"]
        assert result.ok
        assert result.request_id is not None
        total = len(result.files)
        for path in out.glob(f"{JOURNAL}*"):
            path.unlink()
        cut = sorted((out / "2024-07").glob("*.xml"))[0]
        good = cut.read_bytes()
        cut.write_bytes(good[:100])
        creates, gets = calls(sandbox, CREATE), calls(sandbox, PACKAGE)
        adopt = ["journal", "adopt", out, "2024-07", result.request_id]
        assert (
            await asyncio.to_thread(
                keyed_cli, sandbox, *adopt, "--rfc-type", "received", "--type", "cfdi", "--yes"
            )
            == 0
        )

        stopped = (await month_results(client, out, "2024-07", "2024-07"))["2024-07"]
        hint = stopped.hint or ""
        assert "if they are all there" not in hint
        assert f"holds {total - 1} distinct of them: 1 is missing or damaged" in hint
        assert hint.index(f"journal retry-download {out} 2024-07") < hint.index("journal resend")

        code = await asyncio.to_thread(
            main, ["journal", "retry-download", str(out), "2024-07", "--yes"]
        )
        assert code == 0
        done = (await month_results(client, out, "2024-07", "2024-07"))["2024-07"]
        assert done.ok
        assert len(done.files) == total
        assert cut.read_bytes() == good
        assert (calls(sandbox, CREATE), calls(sandbox, PACKAGE)) == (creates, gets + 1)
