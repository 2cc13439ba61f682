"""`--help` at every level, `--version`, `python -m gigstack_async`, one-line usage errors.

Help and usage errors come from argparse before any I/O, so most are checked in-process through
`main()` (starting a Python per help page would slow the suite for nothing); the console script
and the module entry point themselves are run as real subprocesses.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

from gigstack_async import __version__
from gigstack_async.cli import main

COMMANDS = [
    [],
    ["sat"],
    ["sat", "download"],
    ["sat", "invoices"],
    ["sat", "invoices", "list"],
    ["downloads"],
    ["downloads", "status"],
    ["downloads", "history"],
    ["downloads", "package"],
    ["journal"],
    ["journal", "show"],
    ["journal", "adopt"],
    ["journal", "resend"],
    ["sandbox"],
    ["demo"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_examples(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])

    out, err = capsys.readouterr()
    assert exit_info.value.code == 0
    assert out.startswith(f"usage: gigstack-async {' '.join(command)}".rstrip())
    assert "examples:" in out
    assert err == ""


async def test_console_script_and_module_entry_point(raw_cli) -> None:
    script, module = await asyncio.gather(
        raw_cli("--help"),
        raw_cli("--version", command=[sys.executable, "-m", "gigstack_async"]),
    )

    assert script.code == 0
    for code in ("0", "1", "2", "3", "4", "5", "130"):
        assert f"\n  {code} " in script.stdout  # every exit code is documented
    assert module.code == 0
    assert module.stdout.strip() == f"gigstack-async {__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["sat"],
        ["nope"],
        ["sat", "download", "--from", "2025-01"],
        ["sat", "invoices", "list", "--format", "xml"],
        ["sandbox", "--port", "70000"],
        ["demo", "--speed", "0"],
    ],
    ids=" ".join,
)
def test_usage_errors_are_one_line_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ")
    assert "--help" in err


@pytest.fixture
def dead_api(monkeypatch: pytest.MonkeyPatch, secret_key: str) -> None:
    """A key, and a base URL where nothing listens: any request would end in exit 5, so exit 2
    proves that nothing was sent."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("GIGSTACK_API_KEY", secret_key)
    monkeypatch.setenv("GIGSTACK_BASE_URL", f"http://127.0.0.1:{port}/v2")


DOWNLOAD = ["sat", "download", "--from", "2025-01", "--to", "2025-03", "--rfc-type", "received"]


@pytest.mark.parametrize(
    ("argv", "mentions"),
    [
        ([*DOWNLOAD, "--concurrency", "0", "--yes"], "--concurrency"),
        ([*DOWNLOAD, "--poll-interval", "-1", "--yes"], "--poll-interval"),
        ([*DOWNLOAD, "--timeout", "0", "--yes"], "--timeout"),
        # removed with the absence proof: a script still passing it is refused, not ignored
        ([*DOWNLOAD, "--absence-grace", "600", "--yes"], "--absence-grace"),
        ([*DOWNLOAD, "--type", "pdf", "--yes"], "--type"),
        (DOWNLOAD, "--yes"),  # stdin is not a terminal, so only --yes may confirm
        (["sat", "invoices", "list", "--issuer-rfc", "NOT-AN-RFC"], "--issuer-rfc"),
        (["sat", "invoices", "list", "--from", "2024-02-30"], "--from"),
        (["sat", "invoices", "list", "--limit", "500"], "--limit"),
        (["downloads", "history", "--base-url", "ftp://example.com"], "--base-url"),
    ],
)
@pytest.mark.usefixtures("dead_api")
def test_invalid_values_exit_2_before_anything_is_sent(
    argv: list[str], mentions: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if argv[:2] == ["sat", "download"]:
        argv = [*argv, "--out", str(tmp_path / "cfdi")]

    code = main(argv)

    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ")
    assert mentions in err
    assert "sk_test_" not in err
    assert not (tmp_path / "cfdi").exists()  # not even the journal was created


def test_missing_key_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GIGSTACK_API_KEY", raising=False)

    assert main(["downloads", "history"]) == 2

    assert capsys.readouterr().err == "error: no API key: pass --api-key or set GIGSTACK_API_KEY\n"
