"""Newcomer walk 9c (items 3, 10, 11): what a user reads of the sandbox log, `downloads status`,
the run summary, the confirmation, a truncated reply and a half-created journal."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from gigstack_async.cli.commands.sandbox import _request_line
from gigstack_async.sandbox import Sandbox
from gigstack_async.sandbox.profiles import PROFILES

from .conftest import SECRET_KEY

BODY = {
    "start_date": "2025-02-01",
    "end_date": "2025-02-28",
    "rfc_type": "received",
    "request_type": "cfdi",
}


async def _create(sandbox: Sandbox, body: dict[str, str] = BODY) -> int:
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(f"{sandbox.base_url}/invoices/download/request", json=body) as reply,
    ):
        return reply.status


async def test_the_log_line_of_a_lost_create_names_its_dates_and_types(sandbox: Sandbox) -> None:
    # Item 3: the hint says to find a lost request "by its dates and type, not its id", and the
    # README points at --log-requests for that, but its create line showed only the id.
    sandbox.state.force_fault("createDownloadRequest", "after_502")
    assert await _create(sandbox) == 502
    created = sandbox.state.download_requests[-1].request_id
    line = _request_line(sandbox.state.calls_to("createDownloadRequest")[0])
    assert f"request id {created} for received cfdi 2025-02-01..2025-02-28" in line
    assert line.endswith("[injected after_502]")


async def test_the_log_line_of_a_refused_create_still_says_what_it_asked_for(
    make_sandbox,
) -> None:
    sandbox: Sandbox = await make_sandbox(profile=PROFILES["refused-create"])
    status = await _create(sandbox, {**BODY, "request_type": "metadata"})
    assert 400 <= status < 500
    line = _request_line(sandbox.state.calls_to("createDownloadRequest")[0])
    assert "request id" not in line
    assert "(asked for received metadata 2025-02-01..2025-02-28)" in line
