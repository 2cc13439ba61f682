"""Messages a newcomer meets in the first hour: each says what is wrong and what to do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gigstack_async.sandbox import Sandbox

DOWNLOAD = ("sat", "download", "--rfc-type", "received", "--yes")


async def test_out_pointing_at_a_file_is_refused_before_anything_is_sent(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    existing = tmp_path / "invoices.csv"
    existing.write_text("not a folder")
    download, demo = await asyncio.gather(
        cli(*DOWNLOAD, "--from", "2025-01", "--to", "2025-02", "--out", str(existing)),
        cli("demo", "--out", str(existing)),
    )
    for result in (download, demo):
        assert result.code == 2
        assert result.err_lines == [
            f"error: --out: {existing} is a file, not a folder; give a folder (created if "
            "missing): files are written to DIR/YYYY-MM/<UUID>.xml"
        ]
    assert sandbox.state.calls == []
    assert existing.read_text() == "not a folder"


async def test_out_under_a_file_is_refused_before_anything_is_planned(
    sandbox: Sandbox, cli, tmp_path: Path
) -> None:
    existing = tmp_path / "afile"
    existing.write_text("not a folder")
    under = existing / "sub"
    download, demo, journal = await asyncio.gather(
        cli(*DOWNLOAD, "--from", "2025-01", "--to", "2025-02", "--out", str(under)),
        cli("demo", "--out", str(under)),
        cli(
            *DOWNLOAD,
            "--from", "2025-01", "--to", "2025-02",
            "--out", str(tmp_path / "ok"), "--journal", str(under / "j.json"),
        ),
    )  # fmt: skip
    for result in (download, demo):
        assert result.code == 2
        # Before: the plan was printed and the run failed later, inside the download.
        assert result.stdout == ""
        assert result.err_lines == [
            f"error: --out: {under} cannot be created: {existing} is a file, not a folder; "
            "give a path whose folders are folders"
        ]
    assert journal.code == 2
    assert journal.err_lines == [
        f"error: --journal: {under / 'j.json'} cannot be created: {existing} is a file, not a "
        "folder; give a path whose folders are folders"
    ]
    assert sandbox.state.calls == []
    assert not (tmp_path / "ok").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (*DOWNLOAD, "--out", "cfdi", "--from", "2024-05", "--to", "2024-03"),
            "error: --to: must be on or after --from (2024-05-01) (got '2024-03')",
        ),
        (
            ("sat", "invoices", "list", "--from", "2024-02-01", "--to", "2024-01-01"),
            "error: --to: must be on or after --from (2024-02-01) (got '2024-01-01')",
        ),
    ],
)
async def test_to_errors_name_the_from_option(
    sandbox: Sandbox, cli, args: tuple[str, ...], message: str
) -> None:
    result = await cli(*args)
    assert result.code == 2
    assert result.err_lines == [message]
    assert sandbox.state.calls == []


async def test_a_base_url_without_v2_gets_the_fix_suggested(sandbox: Sandbox, cli) -> None:
    root = sandbox.base_url.removesuffix("/v2")
    result = await cli("downloads", "history", "--base-url", root)
    hint = f"the base URL has no /v2: did you mean {root}/v2 ?"
    assert result.code == 4
    assert result.err_lines[0] == f"warning: {hint}"
    assert result.err_lines[-1].startswith("error: ")
    assert result.err_lines[-1].endswith(f"({hint})")
    assert "404" in result.err_lines[-1]


async def test_a_base_url_with_v2_gets_no_warning(sandbox: Sandbox, cli) -> None:
    result = await cli("downloads", "history", "--base-url", sandbox.base_url + "/")
    assert result.code == 0, result.stderr
    assert "warning" not in result.stderr


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A base URL whose server accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/v2"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_request_timeout_ends_a_call_to_a_silent_server(
    raw_cli, silent_server: str, secret_key: str
) -> None:
    started = time.monotonic()
    result = await raw_cli(
        "downloads", "history", "--request-timeout", "1",
        env={"GIGSTACK_API_KEY": secret_key, "GIGSTACK_BASE_URL": silent_server},
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.code == 5
    (line,) = result.err_lines
    assert line.startswith(f"error: timed out talking to the API at {silent_server}: ")
    assert line.endswith("(--request-timeout SECONDS sets how long to wait)")
    assert elapsed < 30  # without the option the SDK's default waits up to 300 s


async def test_request_timeout_must_be_a_positive_number(raw_cli) -> None:
    result = await raw_cli("downloads", "history", "--request-timeout", "0")
    assert result.code == 2
    assert result.err_lines[0].startswith("error: argument --request-timeout: must be greater")


async def test_a_second_demo_says_the_data_is_there_and_how_to_start_over(
    raw_cli, tmp_path: Path
) -> None:
    out = tmp_path / "demo-output"
    (out / "2025-03").mkdir(parents=True)
    for name in ("A", "B"):
        (out / "2025-03" / f"{name}.xml").write_text("<cfdi/>")
    result = await raw_cli("demo", "--out", str(out), cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{out} already holds 2 CFDIs from an earlier demo: the data is already downloaded.",
        f"To start over: rm -rf {out}   (or: gigstack-async demo --out ANOTHER_FOLDER)",
    ]
