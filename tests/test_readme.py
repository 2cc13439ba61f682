"""README.md's code runs, verbatim, as a user would run it — against the sandbox over loopback."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gigstack_async import GigstackClient
from gigstack_async.cli.app import build_parser
from gigstack_async.cli.commands.sandbox import config_from_args
from gigstack_async.sandbox import Sandbox

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- readme-test: (?P<name>[\w-]+) -->\s*```python\n(?P<code>.*?)```", re.S)
PYTEST_CONFIG = re.compile(r"<!-- readme-test: pytest-config -->\s*```toml\n(?P<toml>.*?)```", re.S)


def readme_blocks() -> dict[str, str]:
    return {m["name"]: m["code"] for m in BLOCK.finditer(README.read_text(encoding="utf-8"))}


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    # Exactly what the README's `python -m gigstack_async.sandbox` serves (its default speed and
    # preloaded invoices, nothing prepared by the test): a newcomer's examples must print real
    # output against it, within seconds.
    args = build_parser().parse_args(["sandbox", "--port", "0", "--seed", "3"])
    async with Sandbox(config_from_args(args)) as running:
        yield running


def _home_team(sandbox: Sandbox) -> Any:
    """The team the README's key acts on (the sandbox also has a connected team of its own)."""
    key = next(k for k in sandbox.config.api_keys if k.key == sandbox.api_key)
    return sandbox.state.team(key.home_team)


async def run_python(
    args: list[str], sandbox: Sandbox, cwd: Path, timeout: float = 60
) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "GIGSTACK_API_KEY": sandbox.api_key,
        "GIGSTACK_BASE_URL": sandbox.base_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def test_every_python_block_of_the_readme_is_tested() -> None:
    blocks = readme_blocks()
    assert set(blocks) == {
        "quickstart",
        "one-invoice",
        "bulk",
        "one-request",
        "pytest-plugin",
        "money",
        "webhook-aiohttp",
        "webhook-asgi",
        "webhook-sat-synced",
        "core-invoice",
        "core-payment",
        "core-lists",
        "webhook-fastapi",
        "logging",
    }
    fenced = README.read_text(encoding="utf-8").count("```python")
    assert fenced == len(blocks)  # every Python block runs


async def test_quickstart(sandbox: Sandbox, tmp_path: Path) -> None:
    code, out, err = await run_python(["-c", readme_blocks()["quickstart"]], sandbox, tmp_path)
    assert code == 0, err
    listed = {line.split()[0] for line in out.splitlines()}
    received = {
        uuid
        for team in [_home_team(sandbox)]
        for uuid, record in team.sat_invoices.items()
        if record.invoice.direction == "received"
    }
    assert listed == received
    assert len(listed) > 10


async def test_one_invoice_example(sandbox: Sandbox, tmp_path: Path) -> None:
    code, out, err = await run_python(["-c", readme_blocks()["one-invoice"]], sandbox, tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert len([line for line in lines if "Vigente" in line]) == 5
    assert lines[-1].startswith("not found: 404")


async def test_download_a_year_example_is_short_and_works(sandbox: Sandbox, tmp_path: Path) -> None:
    block = readme_blocks()["bulk"]
    assert len([line for line in block.splitlines() if line.strip()]) <= 10
    code, out, err = await run_python(["-c", block], sandbox, tmp_path)
    assert code == 0, err
    months = [line.split()[:2] for line in out.splitlines()]
    assert sorted(months) == [[f"2025-{m:02d}", "done"] for m in range(1, 13)]
    written = {p.stem for p in (tmp_path / "cfdi").rglob("*.xml")}
    expected = {u for uuids in sandbox.state.ground_truth.values() for u in uuids}
    assert written <= expected
    assert len(written) == sum(int(line.split()[2]) for line in out.splitlines())
    assert (tmp_path / "cfdi" / ".gigstack-journal.sqlite3").exists()


async def test_one_request_example(sandbox: Sandbox, tmp_path: Path) -> None:
    code, out, err = await run_python(["-c", readme_blocks()["one-request"]], sandbox, tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].endswith(" new")
    assert any(line.startswith("completed") for line in lines)


async def test_pytest_plugin_example_with_the_readme_config(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    config = PYTEST_CONFIG.search(README.read_text(encoding="utf-8"))
    assert config is not None
    (tmp_path / "pyproject.toml").write_text(config["toml"])
    (tmp_path / "test_example.py").write_text(readme_blocks()["pytest-plugin"])
    code, out, err = await run_python(
        ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", "test_example.py"],
        sandbox,
        tmp_path,
        timeout=120,
    )
    assert code == 0, out + err
    assert "1 passed" in out
    assert "warning" not in (out + err).lower()  # no loop-scope (or any other) warning


async def test_money_example_sums_exactly(sandbox: Sandbox, tmp_path: Path) -> None:
    code, out, err = await run_python(["-c", readme_blocks()["money"]], sandbox, tmp_path)
    assert code == 0, err
    expected = sum(
        (
            record.invoice.total
            for team in [_home_team(sandbox)]
            for record in team.sat_invoices.values()
            if record.invoice.direction == "received" and record.invoice.currency == "MXN"
        ),
        Decimal(0),
    )
    assert expected > 0
    assert out == f"received MXN invoices: {expected}\n"


# -- webhooks: each example runs as a server; the sandbox delivers to it for real -------------


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _register_webhook(sandbox: Sandbox, url: str, events: list[str]) -> str:
    import aiohttp

    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(sandbox.base_url + "/webhooks", json={"url": url, "events": events}) as response,
    ):
        assert response.status == 200
        return str((await response.json())["data"]["signing_secret"])


async def serve_example(
    block: str, sandbox: Sandbox, cwd: Path, events: list[str], register_secret: Any
) -> tuple[asyncio.subprocess.Process, str]:
    """Start a README webhook server as a user would, with a webhook registered for it."""
    port = _free_port()
    secret = await _register_webhook(sandbox, f"http://127.0.0.1:{port}/webhooks/gigstack", events)
    register_secret(secret)
    env = {
        **os.environ,
        "GIGSTACK_API_KEY": sandbox.api_key,
        "GIGSTACK_BASE_URL": sandbox.base_url,
        "GIGSTACK_WEBHOOK_SECRET": secret,
        "PORT": str(port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        block,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    for _ in range(500):  # until it listens
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return process, secret
    process.kill()
    raise AssertionError("the example never started listening")


async def read_lines(process: asyncio.subprocess.Process, count: int) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    while len(lines) < count:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line, "the example exited early"
        text = line.decode().strip()
        # aiohttp's run_app banner ("======== Running on ... ========", "(Press CTRL+C ...)").
        if not text.startswith(("========", "(Press CTRL+C")):
            lines.append(text)
    return lines


async def stop(process: asyncio.subprocess.Process) -> str:
    import signal

    process.send_signal(signal.SIGINT)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    return stderr.decode()


async def emit(sandbox: Sandbox, kind: str, data: dict[str, Any]) -> str:
    import aiohttp

    headers = {"Authorization": f"Bearer {sandbox.api_key}"}
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(
            sandbox.base_url + "/sandbox/events", json={"type": kind, "data": data}
        ) as response,
    ):
        assert response.status == 200
        return str((await response.json())["data"]["id"])


@pytest.mark.parametrize("name", ["webhook-aiohttp", "webhook-asgi"])
async def test_webhook_receiver_examples(
    name: str, sandbox: Sandbox, tmp_path: Path, register_secret: Any
) -> None:
    process, _ = await serve_example(
        readme_blocks()[name], sandbox, tmp_path, ["payment.succeeded"], register_secret
    )
    try:
        event_id = await emit(sandbox, "payment.succeeded", {"id": "payment_1", "total": 1160})
        assert await read_lines(process, 1) == [f"payment.succeeded {event_id} PaymentObject"]
    finally:
        await stop(process)


async def test_react_to_new_sat_invoices_example(
    sandbox: Sandbox, tmp_path: Path, register_secret: Any
) -> None:
    process, _ = await serve_example(
        readme_blocks()["webhook-sat-synced"],
        sandbox,
        tmp_path,
        ["sat.invoice.synced"],
        register_secret,
    )
    try:
        async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client:
            await client.downloads.create_request(
                start_date="2025-04-01", end_date="2025-04-30", rfc_type="received"
            )
        team = sandbox.state.teams["team_sandbox"]
        request = team.requests[-1]
        for _ in range(500):  # the sandbox runs at 3000x: the request completes within ~0.1 s
            if request.announced:
                break
            await asyncio.sleep(0.02)
        received = {
            uuid
            for uuid, record in team.sat_invoices.items()
            if record.invoice.direction == "received"
        }
        assert request.uuids <= received
        lines = await read_lines(process, len(received))
        assert {line.split()[1] for line in lines} == received
        assert all(line.startswith("new ") for line in lines)
    finally:
        await stop(process)


async def test_core_invoice_example_stamps_once_and_fetches_the_files(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    code, out, err = await run_python(["-c", readme_blocks()["core-invoice"]], sandbox, tmp_path)
    assert code == 0, err
    assert out == "A 1 1160.00 b'%PDF-'\n"
    assert (tmp_path / "factura.xml").read_bytes().lstrip().startswith(b"<")
    assert len(sandbox.state.core.stamps) == 1


async def test_core_payment_example_sends_the_given_key(sandbox: Sandbox, tmp_path: Path) -> None:
    code, out, err = await run_python(["-c", readme_blocks()["core-payment"]], sandbox, tmp_path)
    assert code == 0, err
    assert out == "succeeded 500.00\n"
    assert len(sandbox.state.calls_to("registerPayment")) == 1


async def test_core_payment_example_can_run_twice_without_a_second_payment(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    block = readme_blocks()["core-payment"]
    first = await run_python(["-c", block], sandbox, tmp_path)
    second = await run_python(["-c", block], sandbox, tmp_path)

    assert first[:2] == (0, "succeeded 500.00\n"), first[2]
    # Before: the second run died with a ConflictError traceback.
    assert second[:2] == (0, "order-1042 is already registered; nothing was charged again\n")
    assert second[2] == ""
    assert len(sandbox.state.calls_to("registerPayment")) == 2
    assert len(sandbox.state.core.money_moves) == 1  # one payment, not two


async def test_logging_example_prints_the_sdk_s_debug_lines(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    call = (
        "\nimport asyncio\nfrom gigstack_async import GigstackClient\n\n\n"
        "async def main() -> None:\n"
        "    async with GigstackClient() as client:\n"
        "        await client.downloads.history()\n\n\nasyncio.run(main())\n"
    )
    code, _, err = await run_python(["-c", readme_blocks()["logging"] + call], sandbox, tmp_path)

    assert code == 0, err
    # Before: no handler, so nothing below WARNING was printed at all.
    assert re.search(
        r"^DEBUG gigstack_async: GET /invoices/download/schedule/history -> 200 ", err, re.M
    ), err
    assert sandbox.api_key not in err


def test_fastapi_example_routes_post_without_a_redirect_and_drains(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """FastAPI is not a test dependency: a stand-in records what the snippet asks of it, and the
    routed ASGI app is then driven with a signed POST, as uvicorn would."""
    import json
    import time
    import types

    from gigstack_async.webhooks import WebhookASGIApp, signature_headers

    class FastAPI:
        def __init__(self, lifespan: Any = None) -> None:
            self.lifespan = lifespan
            self.routes: list[tuple[str, Any, Any]] = []
            self.mounts: list[tuple[str, Any]] = []

        def add_route(self, path: str, route: Any, methods: Any = None) -> None:
            self.routes.append((path, route, methods))

        def mount(self, path: str, app: Any, name: str | None = None) -> None:
            self.mounts.append((path, app))

    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    monkeypatch.setitem(sys.modules, "fastapi", types.SimpleNamespace(FastAPI=FastAPI))
    monkeypatch.setenv("GIGSTACK_WEBHOOK_SECRET", secret)
    namespace: dict[str, Any] = {"__name__": "main"}
    exec(compile(readme_blocks()["webhook-fastapi"], "main.py", "exec"), namespace)

    app = namespace["app"]
    # Before: app.mount(...), which Starlette answers with a 307 for POST /webhooks/gigstack.
    assert app.mounts == []
    ((path, route, methods),) = app.routes
    assert (path, methods) == ("/webhooks/gigstack", ["POST"])
    assert isinstance(route, WebhookASGIApp)

    body = json.dumps(
        {"id": "evt_1", "type": "customer.created", "data": {"object": {"id": "c_1"}}}
    ).encode()
    headers = signature_headers(secret, "msg_1", int(time.time()), body)
    sent: list[dict[str, Any]] = []

    async def serve() -> None:
        async with app.lifespan(app):
            messages = [{"type": "http.request", "body": body, "more_body": False}]

            async def receive() -> dict[str, Any]:
                return messages.pop(0)

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            scope = {
                "type": "http",
                "method": "POST",
                "path": "/webhooks/gigstack",
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
            await route(scope, receive, send)

    asyncio.run(serve())
    assert sent[0]["status"] == 200
    assert capsys.readouterr().out == "customer.created evt_1 CustomerObject\n"


async def test_core_lists_example_pages_and_scopes_by_team(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    code, out, err = await run_python(["-c", readme_blocks()["core-lists"]], sandbox, tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert sorted(lines[:3]) == ["Ana", "Luis", "Sofía"]
    assert lines[3] == "['Sucursal Norte']"
    assert len(sandbox.state.calls_to("listClients")) >= 3  # 2 + 1 (+ the connected team's)


async def test_core_lists_example_prints_no_none_after_the_other_examples(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Newcomer 9 finding 14: run after the other examples (whose clients have a legal name but
    # no `name`), the example printed `None` for each of them.
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        await client.clients.create(legal_name="PUBLICO EN GENERAL", tax_id="XAXX010101000")
    code, out, err = await run_python(["-c", readme_blocks()["core-lists"]], sandbox, tmp_path)
    assert code == 0, err
    assert "None" not in out.splitlines()
    assert "PUBLICO EN GENERAL" in out


def test_the_readme_names_the_real_journal_and_folder_first_journal_commands() -> None:
    # Newcomer 9 findings 1, 7 and 10: the README named `.gigstack-journal.json`, journal
    # commands without their folder, and a vocabulary the CLI did not print.
    from gigstack_async.bulk import machine as m
    from gigstack_async.bulk.engine import HELD
    from gigstack_async.bulk.run import DEFAULT_JOURNAL
    from gigstack_async.cli.progress import FINAL_STAGES

    text = README.read_text(encoding="utf-8")
    assert f"cfdi/{DEFAULT_JOURNAL}" in text
    assert ".gigstack-journal.json" not in text
    for found in re.finditer(r"journal (show|adopt|resend) (\S+)", text):
        assert not re.fullmatch(r"`?\d{4}-\d{2}`?", found.group(2)), found.group(0)
    section = text.split("### When a month needs attention", 1)[1].split("One request at a time")[0]
    for stage in FINAL_STAGES:
        # `held` is the engine's (a month not sent: the account has its request), not a state
        assert stage == HELD or m.Stage(stage).value == stage
        assert f"`{stage}`" in section
    # Newcomer walk: "unfinished" in the summary vs "submitted" in `journal show`: one word.
    assert "unfinished" not in section
    assert "`submitted`" in section
    assert "its own folder" in section  # the 5003 split that works
