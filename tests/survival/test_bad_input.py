"""Group 4 — bad input: a table of bad arguments to the public API and the CLI.

Each row must end in a specific exception (`InvalidParameterError`, a ValueError naming the
argument and the rule, or a `TypeError` naming the argument) or, for the CLI, exit code 2 with
a one-line `error:` message naming the option. After every row the sandbox confirms that not a
single request reached it: bad input is refused before anything is sent (or billed).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import os
import re
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from gigstack_async import GigstackClient, InvalidParameterError, PollSchedule
from gigstack_async.bulk.store import JournalStore, StoreIdentity
from gigstack_async.sandbox import ApiKeyConfig, Sandbox, SandboxConfig

GROUP = 4
UUID = "6741A863-04BE-49FE-BB76-E1657AB6B7EA"
DER = b"\x30\x82\x01\x0a" + b"\x01" * 64
CLI_KEY = "sk_test_BadInputKey4Rt8Wq2Lx"

Call = Callable[[GigstackClient, Path], Any]


def _fiel_files(tmp: Path) -> dict[str, Path]:
    files = {
        "der": tmp / "fiel.cer",
        "empty": tmp / "empty.key",
        "big": tmp / "big.cer",
        "pem": tmp / "fiel.pem",
        "text": tmp / "notes.key",
    }
    files["der"].write_bytes(DER)
    files["empty"].write_bytes(b"")
    files["big"].write_bytes(b"\x30" + b"\x00" * (64 * 1024 + 1))
    files["pem"].write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    files["text"].write_bytes(b"this is not a key")
    (tmp / "a-folder.cer").mkdir()
    return files


def fiel(**overrides: Any) -> Call:
    def call(client: GigstackClient, tmp: Path) -> Any:
        files = _fiel_files(tmp)
        kwargs: dict[str, Any] = {"cert": files["der"], "key": files["der"], "password": "s3cret"}
        for name, value in overrides.items():
            kwargs[name] = files.get(value, value) if isinstance(value, str) else value
        if kwargs.get("cert") == "FOLDER":
            kwargs["cert"] = tmp / "a-folder.cer"
        return client.downloads.upload_fiel(**kwargs)

    return call


def create(**overrides: Any) -> Call:
    kwargs = {"start_date": "2024-01-01", "end_date": "2024-01-31", "rfc_type": "received"}
    kwargs.update(overrides)
    return lambda client, _tmp: client.downloads.create_request(**kwargs)


def bulk(*args: Any, **overrides: Any) -> Call:
    kwargs: dict[str, Any] = {"rfc_type": "received"}
    kwargs.update(overrides)
    span = args or ("2024-01", "2024-12")
    return lambda client, tmp: client.downloads.bulk(*span, journal=tmp / "j.json", **kwargs)


def listing(**kwargs: Any) -> Call:
    return lambda client, _tmp: client.sat_invoices.list(**kwargs)


def new_client(*args: Any, **kwargs: Any) -> Call:
    def call(client: GigstackClient, _tmp: Path) -> Any:
        kwargs.setdefault("base_url", client.base_url)
        return GigstackClient(*args, **kwargs)

    return call


V, T = InvalidParameterError, TypeError
# id: (call, exception, field or None, regex the message must match)
API: dict[str, tuple[Call, type[Exception], str | None, str]] = {
    # download requests: dates, ranges, enums, types
    "create: month 13": (create(start_date="2024-13-01"), V, "start_date", "real date"),
    "create: Feb 30": (create(start_date="2024-02-30"), V, "start_date", "YYYY-MM-DD"),
    "create: end before start": (create(end_date="2023-12-31"), V, "end_date", "on or after"),
    "create: more than a month": (create(end_date="2024-02-15"), V, "end_date", "one month"),
    "create: end in the future": (
        create(start_date="2099-01-01", end_date="2099-01-31"), V, "end_date", "future",
    ),
    "create: older than 71 months": (
        create(start_date="2015-01-01", end_date="2015-01-31"), V, "start_date", "71 months",
    ),
    "create: rfc_type sent": (create(rfc_type="sent"), V, "rfc_type", "'issued', 'received'"),
    "create: request_type pdf": (create(request_type="pdf"), V, "request_type", "'cfdi'"),
    "create: datetime start": (
        create(start_date=datetime(2024, 1, 1)), T, None, "start_date.*datetime",
    ),
    "create: int start": (create(start_date=20240101), T, None, "start_date"),
    "create: rfc_type None": (create(rfc_type=None), T, None, "rfc_type"),
    # bulk plans (all raised when planning, before anything is sent)
    "bulk: reversed range": (bulk("2024-05", "2024-02"), V, "end", "on or after"),
    "bulk: month 1 without zero": (bulk("2024-1", "2024-12"), V, "start", "YYYY-MM"),
    "bulk: slash date": (bulk("2024/01", "2024-12"), V, "start", "YYYY-MM"),
    "bulk: concurrency 0": (bulk(concurrency=0), V, "concurrency", "between 1 and 64"),
    "bulk: concurrency 65": (bulk(concurrency=65), V, "concurrency", "between 1 and 64"),
    "bulk: concurrency str": (bulk(concurrency="4"), T, None, "concurrency"),
    "bulk: negative timeout": (bulk(timeout=-1), V, "timeout", "positive"),
    "bulk: rfc_type both": (bulk(rfc_type="both"), V, "rfc_type", "one of"),
    "bulk: past the window": (bulk("2015-01", "2015-12"), V, "start", "71 months"),
    # SAT invoice list filters, limits and enums
    "list: RFC too short": (listing(issuer_rfc="ABC"), V, "issuer_rfc", "RFC"),
    "list: RFC with month 13": (listing(receiver_rfc="EKU901332C9A"), V, "receiver_rfc", "RFC"),
    "list: limit 0": (listing(limit=0), V, "limit", "between 1 and 100"),
    "list: limit 101": (listing(limit=101), V, "limit", "between 1 and 100"),
    "list: limit True": (listing(limit=True), T, None, "limit"),
    "list: limit '10'": (listing(limit="10"), T, None, "limit"),
    "list: direction sideways": (listing(direction="sideways"), V, "direction", "one of"),
    "list: status Borrado": (listing(status="Borrado"), V, "status", "one of"),
    "list: invoice_type Z": (listing(invoice_type="Z"), V, "invoice_type", "one of"),
    "list: from after to": (listing(from_="2024-02-01", to="2024-01-01"), V, "to", "on or after"),
    "list: from 01/02/2024": (listing(from_="01/02/2024"), V, "from_", "YYYY-MM-DD"),
    "list: max_items 0": (listing(max_items=0), V, "max_items", "between"),
    # UUIDs and ids
    "get: not a UUID": (lambda c, _t: c.sat_invoices.get("not-a-uuid"), V, "uuid", "UUID"),
    "get: int": (lambda c, _t: c.sat_invoices.get(12345), T, None, "uuid"),
    "retry_xml (billed): empty": (lambda c, _t: c.sat_invoices.retry_xml(""), V, "uuid", "UUID"),
    "pdf: short UUID": (lambda c, _t: c.sat_invoices.pdf(UUID[:23]), V, "uuid", "UUID"),
    "invoice_from_sat (billed): junk": (
        lambda c, _t: c.downloads.invoice_from_sat("zzz"), V, "uuid", "UUID",
    ),
    "status: empty id": (lambda c, _t: c.downloads.status(""), V, "request_id", "empty"),
    "status: blank id": (lambda c, _t: c.downloads.status("   "), V, "request_id", "empty"),
    "package: empty id": (lambda c, _t: c.downloads.package(""), V, "package_id", "empty"),
    "watch: empty id": (lambda c, _t: c.downloads.watch(""), V, "request_id", "empty"),
    "watch: timeout 0": (lambda c, _t: c.downloads.watch("X", timeout=0), V, "timeout", "pos"),
    "wait: negative timeout": (
        lambda c, _t: c.downloads.wait("X", timeout=-5), V, "timeout", "positive",
    ),
    # FIEL files: unreadable, oversized, empty, wrong format, wrong types
    "fiel: missing file": (fiel(cert="/nonexistent/fiel.cer"), V, "cert", "cannot read"),
    "fiel: a folder": (fiel(cert="FOLDER"), V, "cert", "cannot read"),
    "fiel: oversized file": (fiel(cert="big"), V, "cert", "at most a few KB"),
    "fiel: oversized bytes": (fiel(key=b"\x30" * 70_000), V, "key", "at most a few KB"),
    "fiel: empty file": (fiel(key="empty"), V, "key", "empty"),
    "fiel: PEM text": (fiel(cert="pem"), V, "cert", "PEM"),
    "fiel: not DER": (fiel(key="text"), V, "key", "DER"),
    "fiel: int cert": (fiel(cert=123), T, None, "cert"),
    "fiel: empty password": (fiel(password=""), V, "password", "empty"),
    "fiel: future sync start": (fiel(sync_start_date="2099-01-01"), V, "sync_start_date", "fut"),
    "fiel: phone without +52": (fiel(phone="5512345678"), V, "phone", "E.164"),
    # setup calls
    "register: bad phone": (
        lambda c, _t: c.downloads.register(phone="123", sync_start_date="2025-01-01"),
        V, "phone", "E.164",
    ),
    "register: sync start too old": (
        lambda c, _t: c.downloads.register(phone="+5215512345678", sync_start_date="2015-01-01"),
        V, "sync_start_date", "71 months",
    ),
    "register: 0 invoices a month": (
        lambda c, _t: c.downloads.register(
            phone="+5215512345678", sync_start_date="2025-01-01", max_monthly_invoices=0
        ),
        V, "max_monthly_invoices", "between",
    ),
    "schedule: enabled 'yes'": (
        lambda c, _t: c.downloads.save_schedule(enabled="yes"), T, None, "enabled",
    ),
    "schedule: time 25:00": (
        lambda c, _t: c.downloads.save_schedule(enabled=True, time="25:00"), V, "time", "HH:mm",
    ),
    "schedule: days_back 91": (
        lambda c, _t: c.downloads.save_schedule(enabled=True, days_back=91), V, "days_back", "1",
    ),
    "schedule: no download types": (
        lambda c, _t: c.downloads.save_schedule(enabled=True, download_types=[]),
        V, "download_types", "empty",
    ),
    "schedule: download type sent": (
        lambda c, _t: c.downloads.save_schedule(enabled=True, download_types=["sent"]),
        V, "download_types", "one of",
    ),
    # the client itself: key, base URL, numbers
    "client: empty key": (new_client(""), V, "api_key", "missing"),
    "client: key with a space": (new_client("sk_test abc def"), V, "api_key", "whitespace"),
    "client: key not a str": (new_client(12345), T, None, "api_key"),
    "client: ftp base URL": (
        new_client(CLI_KEY, base_url="ftp://example.com"), V, "base_url", "http",
    ),
    "client: base URL without scheme": (
        new_client(CLI_KEY, base_url="api.gigstack.io/v2"), V, "base_url", "absolute",
    ),
    "client: base URL with query": (
        new_client(CLI_KEY, base_url="https://api.gigstack.io/v2?x=1"), V, "base_url", "query",
    ),
    "client: timeout -1": (new_client(CLI_KEY, timeout=-1), V, "timeout", "positive"),
    "client: timeout NaN": (new_client(CLI_KEY, timeout=math.nan), V, "timeout", "finite"),
    "client: max_retries -1": (new_client(CLI_KEY, max_retries=-1), V, "max_retries", "≥ 0"),
    "client: max_in_flight 0": (new_client(CLI_KEY, max_in_flight=0), V, "max_in_flight", "≥ 1"),
    "client: blank team": (new_client(CLI_KEY, team="  "), V, "team", "non-empty"),
    "with_options: blank team": (
        lambda c, _t: c.with_options(team=" "), V, "team", "non-empty",
    ),
}  # fmt: skip

# Bad input the SDK once let through: each row was a bug, now fixed and kept as a regression test.
API_BUGS: dict[str, tuple[Call, type[Exception], str | None, str, str]] = {
    "watch: timeout '5' (a str)": (
        lambda c, _t: c.downloads.watch("X", timeout="5"),
        T,
        "timeout",
        "timeout",
        "BUG: watch()/wait() check `timeout <= 0` without a type check: a str gives a bare "
        "TypeError \"'<=' not supported between 'str' and 'int'\" that does not name the argument",
    ),
    "watch: timeout NaN": (
        lambda c, _t: c.downloads.watch("X", timeout=math.nan),
        V,
        "timeout",
        "timeout",
        "BUG: watch()/wait() (and bulk()) accept timeout=nan, which silently means 'never time "
        "out' (every deadline comparison with NaN is False)",
    ),
    "bulk: timeout NaN": (
        bulk(timeout=math.nan),
        V,
        "timeout",
        "timeout",
        "BUG: bulk() accepts timeout=nan (`nan <= 0` is False), so the run never times out",
    ),
    "PollSchedule(initial=0)": (
        lambda c, _t: c.downloads.watch("X", poll=PollSchedule(initial=0)),
        V,
        "PollSchedule.initial",
        "initial",
        "BUG: PollSchedule validates nothing: initial=0 (or negative, NaN, factor<1, jitter>1) "
        "makes watch()/bulk() poll the history in a tight loop, hammering the API",
    ),
    "PollSchedule(initial=-1)": (
        lambda c, _t: c.downloads.bulk("2024-01", "2024-02", rfc_type="received",
                                       poll=PollSchedule(initial=-1, factor=0.5)),
        V,
        "PollSchedule.initial",
        "initial",
        "BUG: PollSchedule accepts negative delays (asyncio.sleep returns at once: a busy loop)",
    ),
}  # fmt: skip


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    key = ApiKeyConfig(CLI_KEY, "team_sandbox")
    async with Sandbox(SandboxConfig(seed=2, speed=3000, api_keys=(key,))) as running:
        yield running


async def _invoke(call: Call, client: GigstackClient, tmp: Path) -> None:
    result = call(client, tmp)
    if inspect.isawaitable(result):
        await result
    elif hasattr(result, "__anext__"):
        await result.__anext__()
    elif isinstance(result, GigstackClient):
        await result.aclose()


async def _check_row(
    sandbox: Sandbox,
    tmp_path: Path,
    call: Call,
    error: type[Exception],
    field: str | None,
    pattern: str,
) -> None:
    async with GigstackClient(CLI_KEY, base_url=sandbox.base_url) as client:
        with pytest.raises(error) as caught:
            await _invoke(call, client, tmp_path)
    message = str(caught.value)
    assert re.search(pattern, message), message
    assert len(message.splitlines()) == 1, message
    assert len(message) < 300, message
    if error is InvalidParameterError:
        assert caught.value.field == field  # type: ignore[attr-defined]
        assert message.startswith(f"{field}: ")
    elif error is TypeError:
        assert message.split(":")[0].strip() in pattern or re.search(pattern, message)
    assert sandbox.state.calls == []  # nothing was sent


@pytest.mark.parametrize("row", API)
async def test_bad_api_input_is_refused_before_sending(
    row: str, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figures
) -> None:
    call, error, field, pattern = API[row]
    monkeypatch.delenv("GIGSTACK_API_KEY", raising=False)
    await _check_row(sandbox, tmp_path, call, error, field, pattern)
    figures.add(GROUP, "Bad inputs tried", 1)
    figures.add(GROUP, "Public API rows", 1)


async def test_missing_key_is_refused_before_sending(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, figures
) -> None:
    monkeypatch.delenv("GIGSTACK_API_KEY", raising=False)
    with pytest.raises(InvalidParameterError, match="GIGSTACK_API_KEY") as caught:
        GigstackClient(base_url=sandbox.base_url)
    assert caught.value.field == "api_key"
    assert sandbox.state.calls == []
    figures.add(GROUP, "Bad inputs tried", 1)
    figures.add(GROUP, "Public API rows", 1)


@pytest.mark.parametrize(
    "row",
    [pytest.param(r) for r in API_BUGS],
)
async def test_bad_api_input_known_bugs(row: str, sandbox: Sandbox, tmp_path: Path) -> None:
    call, error, field, pattern, _reason = API_BUGS[row]
    # The same bar as every other row: the exact error class, one short line naming the
    # argument, nothing sent. A timeout means the call went on instead of refusing.
    await asyncio.wait_for(_check_row(sandbox, tmp_path, call, error, field, pattern), 5)


# ---------------------------------------------------------------------------- the CLI

DOWNLOAD = ["sat", "download", "--from", "2024-01", "--to", "2024-12", "--rfc-type", "received"]
# id: (argv, extra environment (None value = unset), regex for the one-line error)
CLI: dict[str, tuple[list[str], dict[str, str | None], str]] = {
    "download: --from 2024-13": (
        ["sat", "download", "--from", "2024-13", "--to", "2024-12", "--rfc-type", "received"],
        {}, r"--from: .*YYYY-MM",
    ),
    "download: reversed range": (
        ["sat", "download", "--from", "2024-05", "--to", "2024-02", "--rfc-type", "received"],
        {}, r"--to: must be on or after",
    ),
    "download: past the window": (
        ["sat", "download", "--from", "2015-01", "--to", "2015-12", "--rfc-type", "received"],
        {}, r"--from: .*71 months",
    ),
    "download: --rfc-type sent": (
        ["sat", "download", "--from", "2024-01", "--to", "2024-12", "--rfc-type", "sent"],
        {}, r"--rfc-type: invalid choice",
    ),
    "download: --type pdf": ([*DOWNLOAD, "--type", "pdf"], {}, r"--type: invalid choice"),
    "download: --concurrency 0": (
        [*DOWNLOAD, "--concurrency", "0"], {}, r"--concurrency: .*1 and 64",
    ),
    "download: --concurrency x": (
        [*DOWNLOAD, "--concurrency", "x"], {}, r"--concurrency: invalid int",
    ),
    "download: --poll-interval -1": ([*DOWNLOAD, "--poll-interval", "-1"], {}, r"--poll-interval"),
    "download: --timeout nan": ([*DOWNLOAD, "--timeout", "nan"], {}, r"--timeout: not a finite"),
    "download: no --yes without a terminal": (DOWNLOAD, {"_no_yes": ""}, r"--yes"),
    "download: no API key": (DOWNLOAD, {"GIGSTACK_API_KEY": None}, r"no API key"),
    "download: empty --api-key": (
        [*DOWNLOAD, "--api-key", ""], {"GIGSTACK_API_KEY": None}, r"no API key",
    ),
    "download: ftp base URL": ([*DOWNLOAD, "--base-url", "ftp://x"], {}, r"--base-url.*http"),
    "download: blank --team": ([*DOWNLOAD, "--team", " "], {}, r"--team: must be a non-empty"),
    "invoices: bad --issuer-rfc": (
        ["sat", "invoices", "list", "--issuer-rfc", "BAD"], {}, r"--issuer-rfc: must be an RFC",
    ),
    "invoices: --limit 500": (
        ["sat", "invoices", "list", "--limit", "500"], {}, r"--limit: must be between 1 and 100",
    ),
    "invoices: --direction sideways": (
        ["sat", "invoices", "list", "--direction", "sideways"], {}, r"--direction: invalid choice",
    ),
    "downloads status: blank id": (
        ["downloads", "status", "  "], {}, r"REQUEST_ID: must not be empty",
    ),
}  # fmt: skip


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "gigstack-async"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gigstack_async"]


async def run_cli(
    sandbox: Sandbox, argv: list[str], env_changes: dict[str, str | None], cwd: Path
) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIGSTACK_")}
    env.update(GIGSTACK_API_KEY=CLI_KEY, GIGSTACK_BASE_URL=sandbox.base_url, NO_COLOR="1")
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        elif not name.startswith("_"):
            env[name] = value
    args = list(argv)
    if args[:2] == ["sat", "download"]:
        args += ["--out", str(cwd / "out")]
        if "_no_yes" not in env_changes:
            args.append("--yes")
    process = await asyncio.create_subprocess_exec(
        *cli_command(),
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("row", CLI)
async def test_bad_cli_input_exits_2_before_sending(
    row: str, sandbox: Sandbox, tmp_path: Path, figures
) -> None:
    argv, env, pattern = CLI[row]
    code, _out, err = await run_cli(sandbox, argv, env, tmp_path)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in err
    assert sandbox.state.calls == []
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    figures.add(GROUP, "Bad inputs tried", 1)
    figures.add(GROUP, "CLI rows", 1)


def _corrupt_journal(path: Path) -> None:
    path.write_text("{not json", encoding="utf-8")


def _other_runs_journal(path: Path) -> None:
    identity = StoreIdentity(
        team=None,
        base_url="http://127.0.0.1:1/v2",
        key_fingerprint="0" * 16,
        rfc=None,
        rfc_type="issued",
        request_type="cfdi",
    )
    JournalStore.open(path, identity).close()


def _future_version_journal(path: Path) -> None:
    _other_runs_journal(path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE name = 'version'")
    conn.close()


JOURNALS = {
    "corrupt JSON": (_corrupt_journal, "cannot be read as a bulk journal"),
    "another run's journal": (_other_runs_journal, "belongs to another run"),
    "a newer format": (_future_version_journal, "unsupported journal version"),
}


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(
            r,
        )
        for r in JOURNALS
    ],
)
async def test_bad_journal_exits_2_before_sending(
    row: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    make, pattern = JOURNALS[row]
    journal = tmp_path / "journal.json"
    make(journal)
    code, _out, err = await run_cli(sandbox, [*DOWNLOAD, "--journal", str(journal)], {}, tmp_path)
    assert code == 2, err
    assert re.search(pattern, err), err
    assert sandbox.state.download_requests == []  # nothing billed, in any case
    assert sandbox.state.calls == []  # ...and nothing sent at all
