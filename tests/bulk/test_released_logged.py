"""The journal's log keeps each month's releases, and `journal repair` rebuilds them.

A month releases a request id when its package proved another month's (or the user adopted
another id for it). The log kept no `released`, so `journal repair` of that month forgot it:
- review 9u #1: the month whose request it is could adopt it only with `--ids-restarted`;
- review 9v #3: the repaired month's hint named the released id for its own `journal adopt`,
  and following it spent the package's last SAT download on the wrong month.

Both replays follow the printed hints and count package GETs on the sandbox's own log.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.salvage import salvage
from gigstack_async.bulk.store import JournalStore, read_log
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import ServerProfile
from tests.bulk._support import CREATE, JOURNAL, PACKAGE, calls, keyed_cli

AUG, SEP = "2024-08", "2024-09"
LOST = ServerProfile(
    lost_create_lag=1e6, omit_fields=frozenset({"status.start_date", "status.end_date"})
)


def _download(out: Path) -> tuple[object, ...]:
    return (
        *("sat", "download", "--from", AUG, "--to", SEP, "--rfc-type", "received"),
        *("--out", out, "--yes", "--timeout", "5", "--poll-interval", "0.05"),
    )


async def _released_then_repaired(sandbox: Sandbox, out: Path) -> dict[str, str]:
    """Both creates' answers lost; September's request S adopted into August by mistake;
    August GETs S_01 (SAT's 1st) and releases S; then August's record is damaged and
    repaired from the log."""
    sandbox.state.force_fault(CREATE, "after_truncate", 2)
    await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
    ids = {f"{r.criteria.start_date:%Y-%m}": r.request_id for r in sandbox.state.download_requests}
    assert main(["journal", "adopt", str(out), AUG, ids[SEP], "--yes"]) == 0
    await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
    assert calls(sandbox, PACKAGE) == 1
    with JournalStore.open_readonly(out / JOURNAL) as store:
        assert store.get(AUG).released_ids() == (ids[SEP],)
    with sqlite3.connect(out / JOURNAL) as db:
        db.execute("UPDATE months SET state = '{\"garbage' WHERE key = ?", (AUG,))
    db.close()
    assert main(["journal", "repair", str(out), "--yes"]) == 0
    return ids


async def test_repair_keeps_the_release_and_its_spent_download(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """9u #1 / closing 7: the repaired August still released S with the download it spent on
    S_01, so September adopts S at once (no --ids-restarted) and counts that download: after
    its own GET breaks off (SAT's 2nd) it stops at 2 GETs.

    Review 9w #7: S was adopted into August after August's create lost its answer, so it was
    not proven August's own: August counted one download unsure before its GET, and the
    release carries that (`foreign`): September needs the user's word for its GET."""
    out = tmp_path / "cli"
    async with Sandbox(SandboxConfig(speed=3000, seed=11, profile=LOST)) as sandbox:
        ids = await _released_then_repaired(sandbox, out)
        s = ids[SEP]
        with JournalStore.open_readonly(out / JOURNAL) as store:
            aug = store.get(AUG)
        assert aug.released == (
            m.ReleasedRequest(s, ((f"{s}_01", 2),), ((f"{s}_01", 1),), foreign=True),
        )
        capsys.readouterr()
        assert main(["journal", "adopt", str(out), SEP, s, "--yes"]) == 0  # was refused
        with JournalStore.open_readonly(out / JOURNAL) as store:
            assert store.get(SEP).downloads_of(f"{s}_01") == 2
        for _ in range(3):
            await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        assert calls(sandbox, PACKAGE) == 1  # SAT's 1st (August); none without the user
        assert main(["journal", "retry-download", str(out), SEP, "--yes"]) == 0
        await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        assert calls(sandbox, PACKAGE) == 2  # SAT's 2nd (September), the user's word
        assert sandbox.state.downloads_per_package()[f"{s}_01"] == 2
        assert calls(sandbox, CREATE) == 2  # nothing billed again


async def test_repaired_hint_never_offers_a_released_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """9v #3: August's repaired hint named S for `journal adopt 2024-08`. Now it names no id
    for August and says S is released; following it (S adopted for September, its real
    month) September is done with SAT's 2nd GET of S_01."""
    out = tmp_path / "cli"
    async with Sandbox(SandboxConfig(speed=3000, seed=11, profile=LOST)) as sandbox:
        ids = await _released_then_repaired(sandbox, out)
        s = ids[SEP]
        capsys.readouterr()
        main(["journal", "show", str(out), AUG])
        shown = " ".join(capsys.readouterr().out.split())
        assert not re.search(rf"journal adopt \S+ {AUG} {s}", shown), shown
        assert f"Released from {AUG} (known not to be its own): {s}" in shown
        # Adopting it back anyway (not the hint's way) is said to spend its downloads again.
        assert main(["journal", "adopt", str(out), AUG, s]) != 0  # no terminal: not confirmed
        said = " ".join(capsys.readouterr().out.split())
        assert f"Warning: {AUG} released request {s}, known not to be its own" in said
        assert f"{s}_01: 2 of 2" in said
        assert main(["journal", "adopt", str(out), SEP, s, "--yes"]) == 0
        # August's count of S_01 is unsure (review 9w #7): the user allows September's GET.
        await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        assert main(["journal", "retry-download", str(out), SEP, "--yes"]) == 0
        await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        with JournalStore.open_readonly(out / JOURNAL) as store:
            assert store.get(SEP).stage is m.Stage.DONE
            assert store.get(AUG).stage is m.Stage.NEEDS_ATTENTION
        assert calls(sandbox, PACKAGE) == 2
        assert calls(sandbox, CREATE) == 2


async def test_an_old_log_without_releases_repairs_as_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A journal written before the log kept releases: its lines read as unknown (None), and
    repair rebuilds the month as it did (its last id offered, nothing released)."""
    out = tmp_path / "cli"
    async with Sandbox(SandboxConfig(speed=3000, seed=11, profile=LOST)) as sandbox:
        sandbox.state.force_fault(CREATE, "after_truncate", 2)
        await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        ids = {
            f"{r.criteria.start_date:%Y-%m}": r.request_id for r in sandbox.state.download_requests
        }
        assert main(["journal", "adopt", str(out), AUG, ids[SEP], "--yes"]) == 0
        await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        with sqlite3.connect(out / JOURNAL) as db:
            for seq, text in db.execute("SELECT seq, counts FROM log").fetchall():
                kept = json.loads(text)
                kept.pop("released", None)
                db.execute("UPDATE log SET counts = ? WHERE seq = ?", (json.dumps(kept), seq))
            db.execute("UPDATE months SET state = '{\"garbage' WHERE key = ?", (AUG,))
        db.close()
        with sqlite3.connect(out / JOURNAL) as db:
            assert all(line.released is None for line in read_log(db))
        db.close()
        capsys.readouterr()
        assert main(["journal", "repair", str(out), "--yes"]) == 0
        with JournalStore.open_readonly(out / JOURNAL) as store:
            aug = store.get(AUG)
        assert aug.released == ()
        assert aug.stage is m.Stage.NEEDS_ATTENTION
        assert f"journal adopt {AUG} {ids[SEP]}" in (aug.hint or "")


async def test_salvage_never_offers_a_released_id(tmp_path: Path) -> None:
    """9v #3, the salvage route (a journal SQLite cannot use as one): August's record and its
    log both say it released S, so the printed adopt commands never attach S to August."""
    out = tmp_path / "cli"
    async with Sandbox(SandboxConfig(speed=3000, seed=11, profile=LOST)) as sandbox:
        sandbox.state.force_fault(CREATE, "after_truncate", 2)
        await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        ids = {
            f"{r.criteria.start_date:%Y-%m}": r.request_id for r in sandbox.state.download_requests
        }
        assert main(["journal", "adopt", str(out), AUG, ids[SEP], "--yes"]) == 0
        await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
    aug = next(month for month in salvage(out / JOURNAL).months if month.key == AUG)
    assert aug.request_ids == (ids[SEP],)
    assert aug.request_id is None  # was S: "journal adopt ... 2024-08 S"
    with sqlite3.connect(out / JOURNAL) as db:
        db.execute("UPDATE months SET state = '{\"garbage' WHERE key = ?", (AUG,))
    db.close()
    aug = next(month for month in salvage(out / JOURNAL).months if month.key == AUG)
    assert aug.request_id is None  # from the log alone
    assert aug.sent
