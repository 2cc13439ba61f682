"""What the end-to-end bulk tests share: a fast poll schedule, one bulk run collected into its
events, the months' results, a free loopback port, and a child process that runs one month and
can be killed at the moment a review named (`run_child`). The CLI with what it printed
(`said_cli`, `download_argv`), and the setups several tests start from: a lost create adopted
from the dashboard (`adopt_lost_create`), another folder's request beside a lost create
(`lost_create_beside`), a short history (`short_history`).

The `world` fixture (a sandbox and a client on 127.0.0.1) is in tests/bulk/conftest.py.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import attrs
import pytest

from gigstack_async import GigstackClient
from gigstack_async.bulk import machine as m
from gigstack_async.bulk.events import BulkEvent, MonthResult
from gigstack_async.bulk.watch import PollSchedule
from gigstack_async.cli import main
from gigstack_async.sandbox import Sandbox, SandboxConfig, ServerProfile

FAST = PollSchedule(initial=0.02, factor=1.5, maximum=0.1, jitter=0.0)
CREATE = "createDownloadRequest"
HISTORY = "getDownloadHistory"
STATUS = "getDownloadRequestStatus"
PACKAGE = "downloadPackage"
JOURNAL = ".gigstack-journal.sqlite3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(
    client: GigstackClient, out: Path, start: str = "2024-01", end: str = "2024-01", **kw: object
) -> list[BulkEvent]:
    """Every event of one `downloads.bulk` run into `out` (received CFDIs and poll `FAST` unless
    `rfc_type=` / `poll=` say otherwise)."""
    kw.setdefault("poll", FAST)
    kw.setdefault("rfc_type", "received")
    bulk = client.downloads.bulk(start, end, download_to=out, **kw)  # type: ignore[arg-type]
    async with bulk:
        return [event async for event in bulk]


def results(events: list[BulkEvent]) -> dict[str, MonthResult]:
    return {e.key: e for e in events if isinstance(e, MonthResult)}


async def month_results(
    client: GigstackClient, out: Path, start: str, end: str, **kw: object
) -> dict[str, MonthResult]:
    """`results` of one `run`: each month's outcome by its key."""
    return results(await run(client, out, start, end, **kw))


@asynccontextmanager
async def world_of(config: SandboxConfig) -> AsyncIterator[tuple[Sandbox, GigstackClient]]:
    """A running sandbox with `config` and a client of it on 127.0.0.1 (the `world` fixtures)."""
    async with (
        Sandbox(config) as sandbox,
        GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client,
    ):
        yield sandbox, client


def keyed_cli(sandbox: Sandbox, *argv: object) -> int:
    """The CLI with the sandbox's API key and base URL, then `argv`: its exit code."""
    return main(["--api-key", sandbox.api_key, "--base-url", sandbox.base_url, *map(str, argv)])


Cli = Callable[..., tuple[int, str]]
"""`said_cli`'s CLI: argv in, (exit code, what it printed) out."""


def said_cli(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> Cli:
    """`keyed_cli` that also returns what that one call printed: stdout then stderr, white space
    folded to single spaces (a wrapped line reads as one)."""

    def cli(*argv: object) -> tuple[int, str]:
        capsys.readouterr()
        code = keyed_cli(sandbox, *argv)
        said = capsys.readouterr()
        return code, " ".join((said.out + said.err).split())

    return cli


def download_argv(key: str, out: Path, rfc_type: str = "received", *extra: object) -> list[object]:
    """The CLI's `sat download` of month `key` ("2024-02") into `out`, polling every 0.05 s,
    with `extra` options, and --yes (tests are not a terminal)."""
    argv: list[object] = ["sat", "download", "--from", key, "--to", key, "--rfc-type", rfc_type]
    return [*argv, "--out", out, "--poll-interval", "0.05", *extra, "--yes"]


def sandbox_env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    """GIGSTACK_API_KEY and GIGSTACK_BASE_URL name the sandbox (for a CLI run without flags)."""
    monkeypatch.setenv("GIGSTACK_API_KEY", sandbox.api_key)
    monkeypatch.setenv("GIGSTACK_BASE_URL", sandbox.base_url)


def short_history(limit: int) -> SandboxConfig:
    """A sandbox whose clock starts on 2026-11-30 at 16:00 UTC and whose history lists only
    its newest `limit` requests: a request leaves it as soon as `limit` others are made
    (newcomer 9k, review 9n #4)."""
    start = datetime(2026, 11, 30, 16, tzinfo=UTC)
    return SandboxConfig(speed=3000, seed=5, start=start, history_limit=limit)


NEVER_LISTED = SandboxConfig(speed=3000, seed=5, profile=ServerProfile(lost_create_lag=1e9))
"""A sandbox whose history never lists a request whose create's answer was lost."""


class LostCreateAdopted(NamedTuple):
    """What `adopt_lost_create` leaves: the CLI, the month's download, what its failed run
    printed and the adopted request's id."""

    cli: Cli
    download: Callable[[], tuple[int, str]]
    said: str
    request_id: str


async def adopt_lost_create(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], out: Path, key: str, rfc_type: str
) -> LostCreateAdopted:
    """Newcomers 9j and 9l: `sat download` of month `key` into `out` (a 60 s timeout) gets its
    create answered 502 after the server made it, so the run fails; the user then adopts the
    server's only request (the dashboard's stand-in) with `journal adopt`. The CLI runs in a
    thread (it has its own event loop); `download` runs the same command again."""
    cli = said_cli(sandbox, capsys)

    def download() -> tuple[int, str]:
        return cli(*download_argv(key, out, rfc_type, "--timeout", "60"))

    sandbox.state.force_fault(CREATE, "after_502", times=1)
    code, said = await asyncio.to_thread(download)
    assert code != 0
    (request,) = sandbox.state.download_requests
    rid = request.request_id
    assert (await asyncio.to_thread(cli, "journal", "adopt", out, key, rid, "--yes"))[0] == 0
    return LostCreateAdopted(cli, download, said, rid)


async def lost_create_beside(
    client: GigstackClient, sandbox: Sandbox, tmp_path: Path, key: str = "2023-01"
) -> tuple[str, Path, MonthResult]:
    """Review 9r: folder A (`tmp_path / "A"`) downloads month `key`; then folder B's create for
    the same dates gets a 503 before the server made it (`allow_duplicates`: A's request does
    not hold B). A's request id, folder B and B's result of that run."""
    a = results(await run(client, tmp_path / "A", key, key, timeout=20))
    rid = a[key].request_id
    assert rid is not None
    sandbox.state.force_fault(CREATE, "503", times=1)
    b = tmp_path / "B"
    stopped = results(await run(client, b, key, key, timeout=20, allow_duplicates=True))
    return rid, b, stopped[key]


def calls(sandbox: Sandbox, operation: str) -> int:
    """Calls of `operation` the server's own log recorded (not the SDK's report)."""
    return len(sandbox.state.calls_to(operation))


def xml_names(folder: Path) -> set[str]:
    return {f.stem.upper() for f in folder.glob("*.xml")} if folder.is_dir() else set()


# Runs 2024-01 into argv[2]; with "die-after-staging" the process dies (`os._exit(9)`) right
# after a package was staged (complete, verified, renamed into place) and before the journal
# recorded it.
CHILD = textwrap.dedent(
    """
    import asyncio, os, sys
    from gigstack_async import GigstackClient
    from gigstack_async.bulk import engine
    from gigstack_async.bulk.watch import PollSchedule

    if sys.argv[3] == "die-after-staging":
        original = engine._Run._record_fetch
        def record(self, key, package_id, task, *rest):
            if not task.cancelled() and task.exception() is None:
                os._exit(9)
            return original(self, key, package_id, task, *rest)
        engine._Run._record_fetch = record

    async def main():
        poll = PollSchedule(initial=0.02, factor=1.5, maximum=0.1, jitter=0.0)
        async with GigstackClient(os.environ["K"], base_url=sys.argv[1]) as client:
            bulk = client.downloads.bulk(
                "2024-01", "2024-01", rfc_type="received", download_to=sys.argv[2], poll=poll
            )
            async with bulk:
                async for event in bulk:
                    pass

    asyncio.run(main())
    """
)


async def run_child(tmp_path: Path, sandbox: Sandbox, out: Path, mode: str) -> int:
    """Run `CHILD` ("normal" or "die-after-staging") against `sandbox`; its exit code. A
    "normal" run must exit 0 (its output is the failure message)."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        sandbox.base_url,
        str(out),
        mode,
        env=dict(os.environ, K=sandbox.api_key),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    if mode == "normal":
        assert process.returncode == 0, output.decode()
    return process.returncode


def cfdi_text(uuid: str, day: str = "2024-02-10", receptor: str = "EKU9003173C9") -> str:
    """A complete CFDI 4.0 stamped with `uuid`, issued on `day` to `receptor` (what `journal
    keep` reads to its end: a file that is not one is refused, review 9m #10)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" '
        'xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital" Version="4.0" '
        f'Fecha="{day}T10:00:00"><cfdi:Emisor Rfc="CPX940417KBC"/>'
        f'<cfdi:Receptor Rfc="{receptor}"/><cfdi:Complemento>'
        f'<tfd:TimbreFiscalDigital Version="1.1" UUID="{uuid}"/>'
        "</cfdi:Complemento></cfdi:Comprobante>"
    )


SAT_5003 = "SAT 5003: Tope máximo de resultados excedido; divide el periodo"
"""How a history entry or a refused create reports SAT's 5003 (too many CFDIs for one request)."""


def received_month(key: str) -> m.MonthState:
    """Month `key` ("2024-08") of received CFDIs, planned for its whole dates (nothing sent)."""
    first = date.fromisoformat(f"{key}-01")
    end = (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)
    return m.MonthState(key=key, start=first, end=end, rfc_type="received", request_type="cfdi")


def done_month(key: str, files: tuple[str, ...]) -> m.MonthState:
    """Month `key` done by request R1 with package P1 (downloaded once) extracted as `files`,
    one CFDI per file (SAT's count)."""
    return attrs.evolve(
        received_month(key),
        stage=m.Stage.DONE,
        request_id="R1",
        known_ids=("R1",),
        invoice_count=len(files),
        package_ids=("P1",),
        downloads=(("P1", 1),),
        extracted=(m.ExtractedPackage("P1", files),),
        reason="every package extracted",
    )
