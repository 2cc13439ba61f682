"""A create that never reached the server is sent again without the user; one that may have
reached it never is (the history cannot prove it absent).

Every attempt of the first create fails to connect (DNS, connection refused: `ConnectError`,
`request_sent` False), so gigstack cannot have seen it and nothing was billed: the run sends it
again by itself and the month ends done with one create on the server's own log. A read error
after the request left (`request_sent` True) may have been served: the month needs the user and
nothing is sent again, whatever the history shows.
"""

from __future__ import annotations

from pathlib import Path

from gigstack_async import GigstackClient
from gigstack_async.bulk.events import MonthWarning
from gigstack_async.sandbox import Sandbox, SandboxConfig
from gigstack_async.transports import AiohttpTransport, ConnectError, ReadError
from gigstack_async.transports.base import Request, Response
from tests.bulk._support import CREATE, calls, results, run

CREATE_PATH = "/invoices/download/request"


class FailingCreates:
    """The real transport, except that the first `times` create attempts raise `error`."""

    def __init__(self, inner: AiohttpTransport, error: type[Exception], times: int) -> None:
        self.inner = inner
        self.error = error
        self.left = times

    async def send(self, request: Request) -> Response:
        creating = request.method == "POST" and request.url.rstrip("/").endswith(CREATE_PATH)
        if creating and self.left > 0:
            self.left -= 1
            raise self.error("simulated")
        return await self.inner.send(request)

    def stream(self, request: Request):  # type: ignore[no-untyped-def]
        return self.inner.stream(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _one_month(
    tmp_path: Path, error: type[Exception], times: int
) -> tuple[str | None, int, str]:
    async with Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox:
        transport = FailingCreates(AiohttpTransport(), error, times)
        try:
            async with GigstackClient(
                sandbox.api_key, base_url=sandbox.base_url, transport=transport, max_retries=1
            ) as client:
                events = await run(client, tmp_path / "out")
        finally:
            await transport.aclose()  # a transport passed in belongs to the caller
        result = results(events)["2024-01"]
        return result.stage, calls(sandbox, CREATE), result.error or ""


async def test_a_create_that_never_connected_is_sent_again_by_the_run(tmp_path: Path) -> None:
    # 2 attempts per call (max_retries=1): the first call fails whole, the second is answered.
    stage, creates, error = await _one_month(tmp_path, ConnectError, times=2)
    assert stage == "done", error
    assert creates == 1  # the server saw one create: nothing billed twice


async def test_a_create_that_may_have_been_sent_is_never_sent_again(tmp_path: Path) -> None:
    stage, creates, error = await _one_month(tmp_path, ReadError, times=1)
    assert stage == "needs-attention", error
    assert "cannot tell whether it arrived" in error
    assert creates == 0  # the sandbox never saw it, yet a history proves nothing: not resent


async def test_a_create_that_never_connects_ends_the_month_and_says_so(tmp_path: Path) -> None:
    """Review 9r #1: every create refused at connect (the API down after the plan, a proxy only
    the caller's session knows) was sent again silently for minutes. Now each try warns, and
    after 3 the month ends, nothing billed, with the way on."""
    async with Sandbox(SandboxConfig(speed=3000, seed=11)) as sandbox:
        transport = FailingCreates(AiohttpTransport(), ConnectError, times=10_000)
        try:
            async with GigstackClient(
                sandbox.api_key, base_url=sandbox.base_url, transport=transport, max_retries=1
            ) as client:
                events = await run(client, tmp_path / "out", "2024-01", "2024-02")
        finally:
            await transport.aclose()
        assert calls(sandbox, CREATE) == 0
    warnings = [e for e in events if isinstance(e, MonthWarning)]
    assert {w.key for w in warnings} == {"2024-01", "2024-02"}
    assert all("never reached the server" in w.message for w in warnings)
    for result in results(events).values():
        assert not result.ok
        assert result.error is not None
        assert "never reached the server in 3 tries" in result.error
        assert "nothing was billed" in result.error
        assert result.hint is not None
        assert "run the same bulk() call again once the API can be reached" in result.hint
    assert transport.left == 10_000 - 2 * 3 * 2  # 2 months x 3 tries x 2 attempts each
