"""SAT 5005 (Solicitud duplicada) end to end, against a sandbox that reports it each plausible way.

SAT answers 5005 when an identical request is still active. How gigstack passes that on is a
GUESS, so the sandbox plays both (`SatCodeRule.duplicate_as`): the create refused with 400, or a
request created that ends `failed` with 5005. Either way the month must follow the active
request (never send the same request again on every run, each send possibly billed), or need
the user with a way forward. Creates are counted in the sandbox's request log: every POST the
client sent, refused or not.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk.events import MonthResult
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import GUESS_HISTORY_FIELDS, SatCodeRule, ServerProfile
from tests.bulk._support import CREATE, calls, month_results, world_of

COMMAND = re.compile(r"`(gigstack-async journal (?:adopt|resend) [^`]+)`")
JAN = (date(2024, 1, 1), date(2024, 1, 31))


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    async with world_of(SandboxConfig(speed=3000, seed=5, preloaded_months=0)) as both:
        yield both


def play(sandbox: Sandbox, how: str, *, times: int | None = 1, **knobs: object) -> None:
    """From now on SAT answers January's creates with 5005, reported `how`."""
    rule = SatCodeRule(5005, month="2024-01", times=times, duplicate_as=how)  # type: ignore[arg-type]
    sandbox.state.profile = ServerProfile(sat_codes=(rule,), **knobs)  # type: ignore[arg-type]


async def run(client: GigstackClient, out: Path, *, allow_duplicates: bool = False) -> MonthResult:
    found = await month_results(client, out, "2024-01", "2024-01", timeout=30,
                                allow_duplicates=allow_duplicates)  # fmt: skip
    return found["2024-01"]


def creates(sandbox: Sandbox) -> int:
    """Create requests the client sent (the request log: refused ones too)."""
    return calls(sandbox, CREATE)


async def elsewhere(client: GigstackClient) -> str:
    """January's request made before the run, from gigstack's dashboard or another folder:
    active, and listed in the history."""
    made = await client.downloads.create_request(
        start_date=JAN[0], end_date=JAN[1], rfc_type="received", request_type="cfdi"
    )
    return made.request_id


def names(result: MonthResult) -> set[str]:
    return {path.name for path in result.files}


def uuids(sandbox: Sandbox, request_id: str) -> set[str]:
    return {f"{uuid}.xml".lower() for uuid in sandbox.state.ground_truth[request_id]}


def lower(files: set[str]) -> set[str]:
    return {name.lower() for name in files}


@pytest.mark.parametrize("how", ["refused", "failed"])
async def test_the_active_identical_request_is_followed_not_sent_again(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, how: str
) -> None:
    sandbox, client = world
    active = await elsewhere(client)
    play(sandbox, how)
    out = tmp_path / "cfdi"
    # The history lists the identical request: by default the month is held, nothing sent.
    held = await run(client, out)
    assert held.stage == "held"
    assert active in (held.hint or "")
    assert creates(sandbox) == 1
    # The user sends it anyway: SAT answers 5005, and the month follows the active request.
    month = await run(client, out, allow_duplicates=True)

    assert (month.stage, month.request_id, month.error) == ("done", active, None)
    assert month.files
    assert lower(names(month)) == uuids(sandbox, active)  # the active request's CFDIs
    assert creates(sandbox) == 2  # the one made elsewhere, and the run's single try
    again = await run(client, out)
    assert (again.stage, again.request_id, again.resumed) == ("done", active, True)
    assert creates(sandbox) == 2  # the next run sends nothing


async def test_not_found_needs_the_user_and_is_never_sent_again_by_itself(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The newcomer's finding: a month answered 5005 was sent again on every run. Here the
    # active request is not in gigstack at all (made outside it with the same FIEL).
    sandbox, client = world
    play(sandbox, "refused")
    out = tmp_path / "my cfdi"

    month = await run(client, out)

    assert month.stage == "needs-attention"
    hint = month.hint or ""
    assert "SAT 5005 (Solicitud duplicada)" in (month.error or "")
    assert "`gigstack-async downloads history`" in hint
    folder = shlex.quote(str(out))
    assert f"`gigstack-async journal adopt {folder} 2024-01 <request id>`" in hint
    assert creates(sandbox) == 1
    for _ in range(2):
        assert (await run(client, out)).stage == "needs-attention"
    assert creates(sandbox) == 1  # looked in the history again; sent nothing

    # The user saw the other request finish and confirms a resend, as the hint says.
    resend = next(c for c in COMMAND.findall(hint) if " resend " in c)
    assert resend == f"gigstack-async journal resend {folder} 2024-01"
    capsys.readouterr()
    assert await asyncio.to_thread(main, [*shlex.split(resend)[1:], "--yes"]) == 0
    risk = capsys.readouterr().out
    assert "SAT answered 5005 (Solicitud duplicada) for 2024-01" in risk
    assert "resend only once it has finished" in risk
    done = await run(client, out)
    assert done.stage == "done"
    assert done.files
    assert creates(sandbox) == 2


@pytest.mark.parametrize("how", ["refused", "failed"])
async def test_a_history_without_request_types_is_no_match_but_named(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, how: str
) -> None:
    # A documented history has no requestType: the entry may be the month's metadata request.
    # It is named for the user, never followed by itself.
    sandbox, client = world
    active = await elsewhere(client)
    play(sandbox, how, omit_fields=GUESS_HISTORY_FIELDS)
    out = tmp_path / "cfdi"

    month = await run(client, out)

    assert month.stage == "needs-attention"
    assert f"{active} may (listed without its dates, rfcType or requestType" in (month.error or "")
    assert not month.files
    sent = creates(sandbox)
    assert sent == 2
    adopt = f"gigstack-async journal adopt {out} 2024-01 {active} --yes"
    assert await asyncio.to_thread(main, shlex.split(adopt)[1:]) == 0
    done = await run(client, out)
    assert (done.stage, done.request_id) == ("done", active)
    assert lower(names(done)) == uuids(sandbox, active)
    assert creates(sandbox) == sent


def test_the_sandbox_cli_plays_each_way_of_reporting_5005() -> None:
    # `gigstack-async sandbox --sat-code 2024-01:5005:1 --sat-5005 failed`: what a walk types.
    from gigstack_async.cli.app import build_parser
    from gigstack_async.cli.commands.sandbox import config_from_args

    for how, phase in (("match", "create"), ("refused", "submit"), ("failed", "submit")):
        argv = ["sandbox", "--sat-code", "2024-01:5005:1", "--sat-code", "2024-02:5007"]
        args = build_parser().parse_args([*argv, "--sat-5005", how])
        duplicate, gone = config_from_args(args).profile.sat_codes
        assert (duplicate.code, duplicate.times, duplicate.duplicate_as) == (5005, 1, how)
        assert duplicate.phase == phase
        assert (gone.code, gone.duplicate_as, gone.phase) == (5007, "match", "download")
