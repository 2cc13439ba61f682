"""Newcomer 9d, items 9 and 10: the command-line sandbox as a newcomer uses it.

9. `--sat-5005 match` (the default) answered a create with 400 although its help promised
   `duplicate: true`: it answers duplicate: true only when the sandbox has an earlier identical
   request (else gigstack cannot name it), and the help now says so.
10. The command-line sandbox had one API key, so `journal rebind` could not be tried from the
   CLI (`--extra-keys` adds a rotated key of the same team and one of another account), and
   `--log-requests` named no dates for a create an injected fault stopped before the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.cli import main
from gigstack_async.cli.app import build_parser
from gigstack_async.cli.commands.sandbox import (
    OTHER_ACCOUNT_API_KEY,
    ROTATED_API_KEY,
    _request_line,
    banner,
    config_from_args,
)
from gigstack_async.errors import APIConnectionError, APIStatusError, BadRequestError
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.sandbox.config import DEFAULT_API_KEY
from tests.bulk._support import CREATE, month_results, world_of


def sandbox_config(*argv: str) -> SandboxConfig:
    return config_from_args(build_parser().parse_args(["sandbox", *argv]))


@pytest.fixture
async def world() -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    config = sandbox_config("--extra-keys", "--sat-code", "2024-05:5005", "--seed", "3")
    async with world_of(attrs.evolve(config, speed=3000)) as both:
        yield both


# ------------------------------------------------------------------ item 9: --sat-5005 match


def test_the_sat_5005_help_says_what_match_does_without_an_earlier_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["sandbox", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "match answers duplicate: true with the earlier identical request, or refuses the "
        "create with 400 SAT 5005 when the sandbox has none (the active one was made outside "
        "gigstack: nothing to match; default)"
    ) in text


async def test_sat_5005_match_answers_duplicate_with_an_earlier_request_else_400(
    world: tuple[Sandbox, GigstackClient],
) -> None:
    sandbox, client = world
    # No earlier identical request in the sandbox: refused with 400 SAT 5005 (nothing billed).
    with pytest.raises(BadRequestError, match="SAT 5005") as refused:
        await client.downloads.create_request(
            start_date="2024-05-01", end_date="2024-05-31", rfc_type="received"
        )
    assert refused.value.status == 400
    assert sandbox.state.billed_creates("2024-05") == 0
    # With an earlier identical request (made before the rule, as `--sat-code` plays it from
    # the start): duplicate: true with that request, as the help says.
    profile = sandbox.state.profile
    sandbox.state.profile = attrs.evolve(profile, sat_codes=())
    first = await client.downloads.create_request(
        start_date="2024-05-01", end_date="2024-05-31", rfc_type="received"
    )
    sandbox.state.profile = profile
    again = await client.downloads.create_request(
        start_date="2024-05-01", end_date="2024-05-31", rfc_type="received"
    )
    assert (again.request_id, again.duplicate) == (first.request_id, True)


# ------------------------------------------------------------------ item 10: keys and the log


def test_extra_keys_add_a_rotated_key_and_another_accounts_and_print_them() -> None:
    plain = sandbox_config()
    assert [k.key for k in plain.api_keys] == [DEFAULT_API_KEY]
    config = sandbox_config("--extra-keys")
    keys = {k.key: k for k in config.api_keys}
    assert list(keys) == [DEFAULT_API_KEY, ROTATED_API_KEY, OTHER_ACCOUNT_API_KEY]
    assert keys[ROTATED_API_KEY].home_team == keys[DEFAULT_API_KEY].home_team == "team_sandbox"
    assert keys[ROTATED_API_KEY].connected_teams == keys[DEFAULT_API_KEY].connected_teams
    assert keys[OTHER_ACCOUNT_API_KEY].home_team == "team_foreign"
    lines = banner("http://127.0.0.1:1/v2", DEFAULT_API_KEY, config, log_requests=False)
    assert (
        f"Rotated key of the same team (to try `gigstack-async journal rebind`): {ROTATED_API_KEY}"
    ) in lines
    assert (
        "Key of another account (team_foreign, another RFC; rebind refuses it): "
        f"{OTHER_ACCOUNT_API_KEY}"
    ) in lines
    plain_lines = banner("http://127.0.0.1:1/v2", DEFAULT_API_KEY, plain, log_requests=False)
    assert not any(ROTATED_API_KEY in line for line in plain_lines)


async def test_journal_rebind_can_be_tried_with_the_extra_keys(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, client = world
    out = tmp_path / "cfdi"
    done = await month_results(client, out, "2024-01", "2024-01")
    assert [r.ok for r in done.values()] == [True]

    def rebind(key: str) -> int:
        base = ["--api-key", key, "--base-url", sandbox.base_url]
        return main([*base, "journal", "rebind", str(out), "--yes"])

    capsys.readouterr()
    assert await asyncio.to_thread(rebind, OTHER_ACCOUNT_API_KEY) == 2  # another account
    assert await asyncio.to_thread(rebind, ROTATED_API_KEY) == 0  # a rotated key: checked
    assert "now belongs to this API key" in capsys.readouterr().out


async def test_the_request_log_names_the_dates_of_a_create_a_fault_stopped(
    world: tuple[Sandbox, GigstackClient],
) -> None:
    sandbox, client = world
    sandbox.state.force_fault(CREATE, "503")
    with pytest.raises((APIStatusError, APIConnectionError)):
        await client.downloads.create_request(
            start_date="2024-03-01", end_date="2024-03-31", rfc_type="issued"
        )
    (record,) = [c for c in sandbox.state.calls if c.operation_id == CREATE]
    assert _request_line(record) == (
        "POST /v2/invoices/download/request -> 503  (asked for issued cfdi "
        "2024-03-01..2024-03-31)  [injected 503]"
    )
    assert sandbox.state.billed_creates("2024-03") == 0
