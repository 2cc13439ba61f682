"""Review 9u #3: a request made outside this journal, taken by a month, with SAT's package
GETs counted on the sandbox's own log.

Folder X requests September and its GET of the package breaks off (SAT's 1st download). Folder
Y's run holds September for X's identical request; the user resends it in Y, and SAT answers
5005: gigstack either names X's request (`duplicate: true`) or refuses, and the run finds the
active request in the history. Either way Y takes a request no month of its journal knows:
how many downloads X spent is unknown, so Y sends ONE GET of the package (SAT's 2nd here),
which breaks off too, and then waits for the user's free `journal retry-download`. Before, Y
counted 0 and its next run sent SAT's 3rd GET (5008), and a 4th was possible.

`journal adopt` of X's request into a month that never sent anything follows the same rule:
one GET by itself (before, none until `journal retry-download`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import attrs
import pytest

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import SatCodeRule
from tests.bulk._support import CREATE, JOURNAL, PACKAGE, calls, keyed_cli

SEP = "2024-09"


def _download(out: Path) -> tuple[object, ...]:
    return (
        *("sat", "download", "--from", SEP, "--to", SEP, "--rfc-type", "received"),
        *("--out", out, "--yes", "--timeout", "5", "--poll-interval", "0.05"),
    )


def _month(out: Path) -> m.MonthState:
    with JournalStore.open_existing(out / JOURNAL) as store:
        return store.get(SEP)


async def _made_in_x(sandbox: Sandbox, x: Path) -> str:
    """X's request, whose package GET broke off once (SAT's 1st download of it)."""
    sandbox.state.force_fault(PACKAGE, "after_truncate", 1)
    await asyncio.to_thread(keyed_cli, sandbox, *_download(x))
    assert calls(sandbox, PACKAGE) == 1
    (request,) = sandbox.state.download_requests
    return request.request_id


@pytest.mark.parametrize("duplicate_as", ["match", "refused"])
async def test_a_request_made_in_another_folder_gets_one_get_then_the_users_word(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], duplicate_as: str
) -> None:
    x, y = tmp_path / "x", tmp_path / "y"
    async with Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox:
        request_id = await _made_in_x(sandbox, x)
        rule = SatCodeRule(5005, month=SEP, whole_month=True, duplicate_as=duplicate_as)  # type: ignore[arg-type]
        sandbox.state.profile = attrs.evolve(sandbox.state.profile, sat_codes=(rule,))
        await asyncio.to_thread(keyed_cli, sandbox, *_download(y))
        assert calls(sandbox, CREATE) == 1  # held for X's request
        assert main(["journal", "resend", str(y), SEP, "--yes"]) == 0
        sandbox.state.force_fault(PACKAGE, "after_truncate", 1)
        capsys.readouterr()
        await asyncio.to_thread(keyed_cli, sandbox, *_download(y))
        out = capsys.readouterr().out
        assert _month(y).request_id == request_id
        assert calls(sandbox, PACKAGE) == 2  # Y's one GET: SAT's 2nd
        for _ in range(2):
            await asyncio.to_thread(keyed_cli, sandbox, *_download(y))
        package_calls = calls(sandbox, PACKAGE)
        downloads = dict(sandbox.state.downloads_per_package())
    assert package_calls == 2, downloads  # before: 3, SAT's 3rd GET (5008)
    assert "made outside this journal" in out
    assert "journal retry-download" in out
    state = _month(y)
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert state.blocked_package == f"{request_id}_01"
    assert state.hint is not None
    assert f"journal retry-download {SEP}" in state.hint
    main(["journal", "show", str(y), SEP])
    shown = capsys.readouterr().out
    assert "1 assumed spent where the request was made" in shown


async def test_a_request_made_in_another_folder_downloads_with_its_one_get(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """X spent one of SAT's 2: Y's single GET is SAT's 2nd, gets the package, and the month is
    done with nothing more (SAT's log: 2 GETs, 1 create)."""
    x, y = tmp_path / "x", tmp_path / "y"
    async with Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox:
        await _made_in_x(sandbox, x)
        rule = SatCodeRule(5005, month=SEP, whole_month=True, duplicate_as="match")
        sandbox.state.profile = attrs.evolve(sandbox.state.profile, sat_codes=(rule,))
        await asyncio.to_thread(keyed_cli, sandbox, *_download(y))
        assert main(["journal", "resend", str(y), SEP, "--yes"]) == 0
        assert await asyncio.to_thread(keyed_cli, sandbox, *_download(y)) == 0
        assert (calls(sandbox, PACKAGE), calls(sandbox, CREATE)) == (2, 2)
    assert _month(y).stage is m.Stage.DONE


async def test_journal_adopt_of_a_request_made_in_another_folder_gets_one_get(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same rule for `journal adopt` into Y's held month: one GET by itself (SAT's 2nd
    here), which downloads the package. Before, none until `journal retry-download`."""
    x, y = tmp_path / "x", tmp_path / "y"
    async with Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox:
        request_id = await _made_in_x(sandbox, x)
        await asyncio.to_thread(keyed_cli, sandbox, *_download(y))  # held for X's request
        capsys.readouterr()
        assert main(["journal", "adopt", str(y), SEP, request_id, "--yes"]) == 0
        said = capsys.readouterr().out
        assert await asyncio.to_thread(keyed_cli, sandbox, *_download(y)) == 0
        assert (calls(sandbox, PACKAGE), calls(sandbox, CREATE)) == (2, 1)
    state = _month(y)
    assert (state.stage, state.foreign) == (m.Stage.DONE, (request_id,))
    assert "one of SAT's 2 is assumed spent" in said
    assert "at most one GET of each package" in said


async def test_a_request_another_folder_downloaded_twice_costs_one_refused_get(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """X spent both of SAT's downloads: Y's single GET is SAT's 3rd, refused with 5008 (it
    bills nothing), and nothing more is sent; the month says where the request was made."""
    x, y = tmp_path / "x", tmp_path / "y"
    async with Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox:
        await _made_in_x(sandbox, x)
        sandbox.state.force_fault(PACKAGE, "after_truncate", 1)
        await asyncio.to_thread(keyed_cli, sandbox, *_download(x))
        assert calls(sandbox, PACKAGE) == 2  # X spent both
        rule = SatCodeRule(5005, month=SEP, whole_month=True, duplicate_as="match")
        sandbox.state.profile = attrs.evolve(sandbox.state.profile, sat_codes=(rule,))
        await asyncio.to_thread(keyed_cli, sandbox, *_download(y))
        assert main(["journal", "resend", str(y), SEP, "--yes"]) == 0
        for _ in range(3):
            await asyncio.to_thread(keyed_cli, sandbox, *_download(y))
        assert calls(sandbox, PACKAGE) == 3  # Y's one GET, refused: never a 4th
    state = _month(y)
    assert state.stage is m.Stage.NEEDS_ATTENTION
    assert state.reason is not None
    assert "SAT 5008" in state.reason
    assert "made outside this journal" in state.reason
