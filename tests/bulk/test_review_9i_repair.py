"""Review 9i #2-#4: a damaged month record repaired (or a journal lost) must neither delete the
month's staged package nor offer `journal keep --force` for a folder that may be incomplete."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
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
    waiting = _month(stage=m.Stage.COMPLETED, package_ids=("S_01",), downloads=(("R_01", 1),))
    assert m.may_need_staged(waiting, "S_01")
    assert not m.may_need_staged(waiting, "R_01")  # a package of a request it left
