"""Review 9i #2-#4: a damaged month record repaired (or a journal lost) must neither delete the
month's staged package nor offer `journal keep --force` for a folder that may be incomplete."""

from __future__ import annotations

import re
import shlex
import sqlite3
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.engine import _safe
from gigstack_async.bulk.events import MonthResult
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from tests.bulk._support import (
    JOURNAL,
    PACKAGE,
    calls,
    month_results,
    run_child,
    sandbox_env,
    world_of,
    xml_names,
)


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    async with world_of(SandboxConfig(speed=3000, seed=11)) as both:
        yield both


def _damage(out: Path, key: str) -> None:
    with sqlite3.connect(out / JOURNAL) as db:
        db.execute("UPDATE months SET state = '{\"garbage' WHERE key = ?", (key,))
    db.close()


def _staged(out: Path) -> list[str]:
    staging = out / ".gigstack-staging"
    return sorted(p.name for p in staging.iterdir()) if staging.is_dir() else []


async def test_a_repaired_month_keeps_its_staged_package_and_adopt_extracts_it_without_a_get(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, client = world
    sandbox_env(monkeypatch, sandbox)
    out = tmp_path / "cfdi"
    # Killed right after the package was staged (1 GET), before the journal heard of it.
    assert await run_child(tmp_path, sandbox, out, "die-after-staging") != 0
    (zip_name,) = _staged(out)
    assert calls(sandbox, PACKAGE) == 1
    _damage(out, "2024-01")
    assert main(["journal", "repair", str(out), "--yes"]) == 0
    first = (await month_results(client, out, "2024-01", "2024-01"))["2024-01"]
    assert first.stage == "needs-attention"
    # The run kept the ZIP: it is the only copy, and the next GET would be SAT's second.
    assert _staged(out) == [zip_name]
    rid = str(first.error).split("request id(s) ")[1].split(";")[0]
    assert main(["journal", "adopt", str(out), "2024-01", rid, "--yes"]) == 0
    done = (await month_results(client, out, "2024-01", "2024-01"))["2024-01"]
    assert done.stage == "done", done.error
    assert calls(sandbox, PACKAGE) == 1  # extracted from the staged copy: no second download
    assert len(xml_names(out / "2024-01")) == done.invoice_count > 0
    assert _staged(out) == []


def _month(**changes: object) -> m.MonthState:
    return attrs.evolve(  # type: ignore[misc]
        m.MonthState("2024-01", date(2024, 1, 1), date(2024, 1, 31), "received", "cfdi"),
        **changes,
    )


def test_a_staged_copy_is_kept_while_the_months_packages_are_unknown() -> None:
    # Rebuilt by `journal repair`: a download counted, the request's packages unknown.
    repaired = _month(stage=m.Stage.NEEDS_ATTENTION, downloads=(("R_01", 1),))
    assert m.may_need_staged(repaired, "R_01")
    extracted = (m.ExtractedPackage("R_01", ("a.xml",)),)
    assert not m.may_need_staged(
        _month(stage=m.Stage.DONE, package_ids=("R_01",), extracted=extracted), "R_01"
    )
    assert not m.may_need_staged(_month(stage=m.Stage.DONE), "R_01")  # finished: an orphan
    assert m.may_need_staged(_month(stage=m.Stage.SUBMITTED, downloads=(("R_01", 1),)), "R_01")
    for stage in (m.Stage.PLANNED, m.Stage.SUBMITTING):  # resent: a new request's packages
        assert not m.may_need_staged(_month(stage=stage, downloads=(("R_01", 1),)), "R_01")
    waiting = _month(stage=m.Stage.COMPLETED, package_ids=("S_01",), downloads=(("R_01", 1),))
    assert m.may_need_staged(waiting, "S_01")
    assert not m.may_need_staged(waiting, "R_01")  # a package of a request it left


def _commands(result: MonthResult) -> list[str]:
    return re.findall(r"`gigstack-async (journal [^`]*)`", f"{result.hint} {result.error}")


@pytest.fixture
async def august() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    async with world_of(SandboxConfig(speed=3000, seed=5)) as both:
        yield both


async def test_a_repaired_month_requested_for_some_days_is_kept_for_those_days_only(
    august: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, client = august
    sandbox_env(monkeypatch, sandbox)
    out = tmp_path / "A"
    part = (await month_results(client, out, "2024-08-15", "2024-08-31"))["2024-08"]
    assert part.stage == "done"
    files = len(xml_names(out / "2024-08"))
    _damage(out, "2024-08")
    assert main(["journal", "repair", str(out), "--yes"]) == 0
    whole = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
    assert whole.stage == "needs-attention"
    # Old code: `journal keep ... --force` first, which recorded all of August done.
    assert "--force" not in (whole.hint or "")
    (keep,) = [c for c in _commands(whole) if c.startswith("journal keep")]
    assert keep == f"journal keep {out} 2024-08"
    assert main([*shlex.split(keep), "--yes"]) == 0  # checked against the logged count
    after = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
    assert after.stage == "done"
    assert (after.error or "").startswith(
        "MISSING DAYS: requested earlier for 2024-08-15..2024-08-31 only"
    )
    assert len(xml_names(out / "2024-08")) == files
    assert calls(sandbox, PACKAGE) == 1


async def test_an_older_repaired_log_adopting_a_request_for_some_days_says_missing_days(
    august: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, client = august
    sandbox_env(monkeypatch, sandbox)
    out = tmp_path / "A"
    part = (await month_results(client, out, "2024-08-15", "2024-08-31"))["2024-08"]
    with sqlite3.connect(out / JOURNAL) as db:
        db.execute("UPDATE log SET counts = NULL")  # a journal from before the log kept dates
    db.close()
    _damage(out, "2024-08")
    assert main(["journal", "repair", str(out), "--yes"]) == 0
    held = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
    assert "--force" not in (held.hint or "")
    # No count to check keep against: adopt first; its run offers keep only once checked.
    assert "stops and offers the checked `journal keep` instead" in (held.hint or "")
    capsys.readouterr()
    assert main(["journal", "keep", str(out), "2024-08", "--yes"]) == 2  # nothing to check
    refused = " ".join(capsys.readouterr().err.split())
    assert f"`gigstack-async journal adopt {out} 2024-08 {part.request_id}` first" in refused
    assert main(["journal", "adopt", str(out), "2024-08", str(part.request_id), "--yes"]) == 0
    after = (await month_results(client, out, "2024-08", "2024-08"))["2024-08"]
    assert after.stage == "needs-attention"
    # Old code: "not this month (request ids may have been reused)".
    assert (after.error or "").startswith(
        f"MISSING DAYS: request {part.request_id} is 2024-08's received cfdi request for "
        "2024-08-15..2024-08-31 only; the month is 2024-08-01..2024-08-31, so it leaves out "
        "2024-08-01..2024-08-14"
    )
    assert calls(sandbox, PACKAGE) == 1


async def test_a_half_extracted_folder_with_its_staged_copy_is_never_offered_keep(
    august: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, client = august
    sandbox_env(monkeypatch, sandbox)
    out = tmp_path / "A"
    jan = (await month_results(client, out, "2024-01", "2024-01"))["2024-01"]
    rid = str(jan.request_id)
    # As a run killed halfway through extracting leaves it: the staged ZIP, half the files.
    staging = out / ".gigstack-staging"
    staging.mkdir()
    package = f"{rid}_01"
    await client.downloads.fetch_package_to(package, staging / f"2024-01-{_safe(package)}.zip")
    names = sorted((out / "2024-01").glob("*.xml"))
    for name in names[: len(names) // 2]:
        name.unlink()
    for path in out.glob(".gigstack-journal*"):
        path.unlink()
    spent = calls(sandbox, PACKAGE)
    held = (await month_results(client, out, "2024-01", "2024-01"))["2024-01"]
    assert held.stage == "needs-attention"
    # Old code: `journal keep ... --force` first, then done with half of the CFDIs.
    assert not [c for c in _commands(held) if c.startswith("journal keep")]
    assert "so do not keep them" in (held.hint or "")
    (adopt,) = [c for c in _commands(held) if c.startswith("journal adopt")]
    assert main([*shlex.split(adopt.replace("<request id>", rid)), "--yes"]) == 0
    done = (await month_results(client, out, "2024-01", "2024-01"))["2024-01"]
    assert done.stage == "done", done.error
    assert len(xml_names(out / "2024-01")) == jan.invoice_count == len(names)
    assert calls(sandbox, PACKAGE) == spent  # extracted from the staged copy


def test_the_log_says_whether_a_staged_package_was_left_unextracted() -> None:
    s = m.Stage
    assert m.staged_not_extracted([s.SUBMITTED, s.COMPLETED, s.STAGED])
    assert m.staged_not_extracted([s.COMPLETED, s.STAGED, s.NEEDS_ATTENTION])  # cannot extract
    assert not m.staged_not_extracted([s.COMPLETED, s.STAGED, s.DONE])
    assert not m.staged_not_extracted([s.STAGED, s.NEEDS_ATTENTION, s.PLANNED, s.SUBMITTING])
    assert not m.staged_not_extracted([])


def test_the_files_notice_never_prints_keep_force() -> None:
    for count in (None, 5):
        for request_id in (None, "R1"):
            state = _month(
                stage=m.Stage.NEEDS_ATTENTION,
                on_disk=3,
                invoice_count=count,
                request_id=request_id,
                known_ids=("R1",),
            )
            notice = m.files_notice(state)
            assert notice.startswith("the month's folder already holds 3 file(s)")
            assert "--force" not in notice
            # Ready to run only when SAT's count lets keep check them; else adopt leads there.
            ready = "`gigstack-async journal keep 2024-01`" in notice
            assert ready is (count is not None or request_id is not None)
            for half in ({"unextracted": True}, {"staged_copies": 1}):
                partial = m.files_notice(attrs.evolve(state, **half))  # type: ignore[misc]
                assert "journal keep" not in partial
                assert "so do not keep them; " in partial
