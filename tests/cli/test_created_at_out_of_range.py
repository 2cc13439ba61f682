"""`gigstack-async downloads history` and `sat download` with an out-of-range `createdAt`
(review 9l #4: `error: unexpected OverflowError: date value out of range`, exit 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gigstack_async import GigstackClient
from gigstack_async.sandbox import Sandbox, routes_downloads

from ._support import download_argv as _download
from .conftest import SECRET_KEY

WEIRD = "9999-12-31T23:59:59-14:00"


@pytest.fixture
async def weird_request(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """One request made before the run, listed with an out-of-range createdAt (the sandbox
    runs in this process: the CLI subprocess reads its history over 127.0.0.1)."""
    original = routes_downloads.history_item

    def item(request: Any, now_ms: int, state: Any) -> Any:
        body = original(request, now_ms, state)
        if str(request.criteria.start_date).startswith("2023-"):
            body = {**body, "createdAt": WEIRD}
        return body

    monkeypatch.setattr(routes_downloads, "history_item", item)
    async with GigstackClient(api_key=SECRET_KEY, base_url=sandbox.base_url) as client:
        await client.downloads.create_request(
            start_date="2023-05-01", end_date="2023-05-31", rfc_type="received"
        )


@pytest.mark.usefixtures("weird_request")
async def test_downloads_history_shows_it_as_sent(cli: Any) -> None:
    result = await cli("downloads", "history")
    assert result.code == 0, result.stderr
    assert f"{WEIRD} (out of range)" in result.stdout
    assert "OverflowError" not in result.stderr


@pytest.mark.usefixtures("weird_request")
async def test_sat_download_runs_past_it(cli: Any, tmp_path: Path) -> None:
    result = await cli(*_download(tmp_path / "cfdi", "--yes", last="2025-01"))
    assert result.code == 0, result.stderr
    assert "OverflowError" not in result.stderr
    assert " done " in result.stdout.split("Summary", 1)[1]
