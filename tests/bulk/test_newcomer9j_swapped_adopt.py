"""Newcomer 9j F0: two months' lost creates adopted with each other's request ids
(`journal adopt ./cli2 2024-08 <Sep's id>`, `journal adopt ./cli2 2024-09 <Aug's id>`).

(a) A run proved from the history that each adopted id is for the other month's dates, yet
undoing the swap as `journal adopt --help` says ("a swapped adopt is undone by adopting each id
into its own month") was circular: each adopt was refused with "adopt <the other month>'s own
request first". A month whose request the history (or its status, or its package) proved is
not its own releases it, so each undo adopt is accepted at once, in either order, with no
package downloaded in between.

(b) When nothing showed it before (a status answer without the request's dates, a history
that does not list it), each month downloads the other's package whole and its content check
proves it is not its own; that package is still dropped (keeping it by request id was
withdrawn after review 9s: after an ids restart it was taken for another request).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.config import FaultConfig
from gigstack_async.sandbox.profiles import ServerProfile
from tests.bulk._support import CREATE, PACKAGE, calls, keyed_cli

AUGUST, SEPTEMBER = "2024-08", "2024-09"


def _download(out: Path) -> tuple[object, ...]:
    return (
        "sat", "download", "--from", AUGUST, "--to", SEPTEMBER, "--rfc-type", "received",
        "--out", out, "--yes", "--timeout", "5", "--poll-interval", "0.05",
    )  # fmt: skip


def _ids_by_month(sandbox: Sandbox) -> dict[str, str]:
    """The sandbox's own record of each create (the dashboard a user reads): month → id."""
    return {f"{r.criteria.start_date:%Y-%m}": r.request_id for r in sandbox.state.download_requests}


def _listed_now(sandbox: Sandbox) -> None:
    """The lost creates' records finished being written: the history lists them from now on."""
    for request in sandbox.state.download_requests:
        request.listed_from_ms = 0


def _adopt(out: Path, key: str, request_id: str) -> int:
    return main(["journal", "adopt", str(out), key, request_id, "--yes"])


async def _swapped(sandbox: Sandbox, out: Path) -> dict[str, str]:
    """Both months' creates lost, then adopted with each other's ids (the mistake)."""
    assert await asyncio.to_thread(keyed_cli, sandbox, *_download(out)) == 1
    ids = _ids_by_month(sandbox)
    assert set(ids) == {AUGUST, SEPTEMBER}
    assert _adopt(out, AUGUST, ids[SEPTEMBER]) == 0
    assert _adopt(out, SEPTEMBER, ids[AUGUST]) == 0
    return ids


def _world(*omit: str) -> SandboxConfig:
    # Every create's answer is cut short after the server made it, and the history lists it
    # only much later: each month needs attention and the user adopts from the dashboard.
    faults = FaultConfig(operations=frozenset({CREATE}), after_truncate_rate=1.0, seed=3)
    profile = ServerProfile(lost_create_lag=1e6, omit_fields=frozenset(omit))
    return SandboxConfig(speed=3000, seed=11, faults=faults, profile=profile)


@pytest.mark.parametrize("first", [AUGUST, SEPTEMBER])
async def test_a_swap_the_history_proved_is_undone_in_either_order_without_a_download(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], first: str
) -> None:
    out = tmp_path / "cli2"
    async with Sandbox(_world()) as sandbox:
        ids = await _swapped(sandbox, out)
        _listed_now(sandbox)
        # The next run: the history lists each adopted id with the other month's dates.
        capsys.readouterr()
        assert await asyncio.to_thread(keyed_cli, sandbox, *_download(out)) == 1
        text = capsys.readouterr().out
        assert f"request {ids[AUGUST]} is for received cfdi 2024-08-01..2024-08-31" in text
        assert f"request {ids[SEPTEMBER]} is for received cfdi 2024-09-01..2024-09-30" in text
        assert calls(sandbox, PACKAGE) == 0  # nothing downloaded for a wrong month
        # Undone as `journal adopt --help` prints it, in either order; was: each refused
        # "adopt <the other month>'s own request ... first" (circular).
        second = SEPTEMBER if first == AUGUST else AUGUST
        assert _adopt(out, first, ids[first]) == 0, capsys.readouterr()
        assert _adopt(out, second, ids[second]) == 0, capsys.readouterr()
        assert calls(sandbox, PACKAGE) == 0  # free: no download before the undo
        capsys.readouterr()
        # (Its exit code is F1's: an adopted request whose createdAt the journal never saw
        # leaves the last day MISSING DAYS; each month is downloaded whole nonetheless.)
        await asyncio.to_thread(keyed_cli, sandbox, *_download(out))
        summary = capsys.readouterr().out.split("Summary", 1)[1]
        assert calls(sandbox, CREATE) == 2  # no new (billed) request
        assert calls(sandbox, PACKAGE) == 2  # one GET per month's own package
    for key in (AUGUST, SEPTEMBER):
        assert f"{key}  {ids[key]}  done" in summary
        assert any((out / key).glob("*.xml"))
