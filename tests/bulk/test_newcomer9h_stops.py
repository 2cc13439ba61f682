"""Newcomer 9h #2: `bulk()` with a wrong API key, or a base URL nothing listens on, yielded
"still trying" warnings forever and kept sending calls that failed with 401. A 401/403 now stops
the run and raises the typed error from the iterator, a server that never answered raises
`APIConnectionError` after the client's own retries, and the journal resumes the same run with
the right key (`bulk.stops`, the rule the CLI's pre-flight shares)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk.stops import ends_run, server_answered
from gigstack_async.cli import main
from gigstack_async.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    DownloadInterruptedError,
    IncompleteResponseError,
    InternalServerError,
    OutcomeUnknownError,
    PermissionDeniedError,
)
from gigstack_async.resources.downloads import Downloads
from gigstack_async.sandbox import Sandbox
from tests.bulk._support import CREATE, HISTORY, calls, free_port, results, run

WRONG_KEY = "sk_test_wrong_0123456789abcdef"
LIMIT = 20.0  # seconds: the old code never ended (the test would hang until this)


async def test_a_wrong_key_raises_authentication_error_and_sends_no_create(
    world: tuple[Sandbox, GigstackClient], tmp_path: Path
) -> None:
    sandbox, good = world
    out = tmp_path / "cfdi"
    async with GigstackClient(WRONG_KEY, base_url=sandbox.base_url) as client:
        with pytest.raises(AuthenticationError) as raised:
            await asyncio.wait_for(run(client, out, "2024-01", "2024-02"), LIMIT)
    assert raised.value.status == 401
    assert WRONG_KEY not in str(raised.value)
    assert calls(sandbox, CREATE) == 0
    assert calls(sandbox, HISTORY) == 1  # stopped at the first refusal: no polling on
    # The same run with the right key resumes from the journal the stopped run left.
    months = results(await run(good, out, "2024-01", "2024-02"))
    assert {k: r.ok for k, r in months.items()} == {"2024-01": True, "2024-02": True}
    assert calls(sandbox, CREATE) == 2


async def test_an_unreachable_server_raises_api_connection_error(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/v2"
    async with GigstackClient("sk_test_x", base_url=nowhere, max_retries=1) as client:
        with pytest.raises(APIConnectionError):
            await asyncio.wait_for(run(client, tmp_path / "cfdi", "2024-01", "2024-01"), LIMIT)


async def test_a_401_mid_run_stops_every_create_and_the_run_resumes(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The key is revoked after the first month's create: the run raises, no create is sent
    after the 401, and a later run (a valid key) finishes both months with no second create of
    the first one."""
    sandbox, client = world
    downloads = client.downloads
    original_create = downloads.create_request
    original_history = downloads.history
    revoked = False
    refused = AuthenticationError("Invalid API key", status=401, code="unauthorized")

    async def create(**kw: Any) -> Any:
        nonlocal revoked
        if revoked:
            raise refused
        answer = await original_create(**kw)
        revoked = True
        return answer

    async def history(*args: Any, **kw: Any) -> Any:
        if revoked:
            raise refused
        return await original_history(*args, **kw)

    monkeypatch.setattr(downloads, "create_request", create)
    monkeypatch.setattr(downloads, "history", history)
    out = tmp_path / "cfdi"
    with pytest.raises(AuthenticationError):
        await asyncio.wait_for(run(client, out, "2024-01", "2024-03", concurrency=1), LIMIT)
    assert calls(sandbox, CREATE) == 1
    monkeypatch.undo()
    months = results(await run(client, out, "2024-01", "2024-03"))
    assert all(r.ok for r in months.values()), months
    assert calls(sandbox, CREATE) == 3  # one per month: the first was resumed, not resent


def test_the_rule() -> None:
    refused = AuthenticationError("no", status=401)
    forbidden = PermissionDeniedError("no", status=403)
    down = APIConnectionError("refused")
    assert ends_run(refused, answered=True)
    assert ends_run(forbidden, answered=True)
    # Review 9n #1: a 403 about one request (its status, a package) fails only that month; a
    # 401 is the key's, whatever the call.
    assert not ends_run(forbidden, answered=True, one_request=True)
    assert ends_run(refused, answered=True, one_request=True)
    assert ends_run(down, answered=False)
    assert ends_run(APITimeoutError("slow"), answered=False)
    # Once the server has answered, a lost connection is transient: resumable, warned about.
    assert not ends_run(down, answered=True)
    for answer in (
        InternalServerError("oops", status=502),
        IncompleteResponseError("cut"),
        OutcomeUnknownError("lost", status=502),
    ):
        assert server_answered(answer)
        assert not ends_run(answer, answered=False)
    assert not server_answered(OutcomeUnknownError("lost"))
    # A GET or create that may have reached the server says nothing of the base URL (a chaos
    # run's dropped package GET stopped it, then spun).
    assert not ends_run(DownloadInterruptedError("dropped"), answered=False)
    assert not ends_run(OutcomeUnknownError("lost"), answered=False)


async def test_the_cli_stopped_by_a_401_mid_run_prints_the_summary_and_exits_3(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox, _client = world
    original = Downloads.create_request
    sent = 0

    async def create(self: Downloads, **kw: Any) -> Any:
        nonlocal sent
        sent += 1
        if sent > 1:  # the key is revoked after the first create
            raise AuthenticationError("Invalid API key", status=401, code="unauthorized")
        return await original(self, **kw)

    monkeypatch.setattr(Downloads, "create_request", create)
    out = tmp_path / "cfdi"
    argv = [
        "--api-key", sandbox.api_key, "--base-url", sandbox.base_url,
        "sat", "download", "--from", "2024-01", "--to", "2024-03", "--concurrency", "1",
        "--rfc-type", "received", "--out", str(out), "--poll-interval", "0.05", "--yes",
    ]  # fmt: skip
    code = await asyncio.wait_for(asyncio.to_thread(main, argv), LIMIT)
    captured = capsys.readouterr()
    assert code == 3
    assert "Summary" in captured.out
    assert "error: HTTP 401" in captured.err
    assert sandbox.api_key not in captured.out + captured.err
    assert calls(sandbox, CREATE) == 1


async def test_a_lost_connection_after_an_answer_stays_transient(
    world: tuple[Sandbox, GigstackClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once the server has answered, a connection failure is what it was before: the run goes
    on (here until its timeout), every month gets its result, and nothing raises."""
    sandbox, client = world
    downloads = client.downloads
    original = downloads.history
    answered = 0

    async def history(*args: Any, **kw: Any) -> Any:
        nonlocal answered
        if answered:
            raise APIConnectionError("connection refused")
        answered += 1
        return await original(*args, **kw)

    monkeypatch.setattr(downloads, "history", history)
    months = results(await asyncio.wait_for(run(client, tmp_path / "c", timeout=1.0), LIMIT))
    assert set(months) == {"2024-01"}
    assert calls(sandbox, CREATE) == 1


async def test_a_403_about_one_request_fails_only_its_month(tmp_path: Path) -> None:
    """Review 9n #1: the status call of one journaled request answered 403 (another team's id,
    say: a GUESS, as is 404) and every run raised "check --api-key / --team"; the other months,
    completed at SAT, were never downloaded."""
    from gigstack_async.sandbox import SandboxConfig
    from gigstack_async.sandbox.profiles import profile
    from tests.bulk._support import world_of

    config = SandboxConfig(speed=3000, seed=5, profile=profile("documented-fields"))
    async with world_of(config) as (_sandbox, client):
        downloads = client.downloads
        original = downloads.status
        forbidden: set[str] = set()

        async def status(request_id: str, *args: Any, **kwargs: Any) -> Any:
            if not forbidden:
                forbidden.add(request_id)  # the first request whose status is asked
            if request_id in forbidden:
                raise PermissionDeniedError("Forbidden", status=403, code="forbidden")
            return await original(request_id, *args, **kwargs)

        downloads.status = status  # type: ignore[method-assign]
        done = results(
            await asyncio.wait_for(run(client, tmp_path / "A", "2024-01", "2024-03"), LIMIT)
        )
    assert forbidden, "the documented-fields history makes the run ask each request's status"
    assert sum(result.ok for result in done.values()) == 2
    assert [key for key, result in done.items() if not result.ok] == [
        key for key, result in done.items() if result.request_id in forbidden
    ]
