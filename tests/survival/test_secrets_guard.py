"""Group 7 — secrets: the suite-wide guard in tests/conftest.py catches a leak on every channel.

The guard itself runs around EVERY test of the suite (autouse fixture + hooks): the SDK logs at
DEBUG, and every log record, SDK exception, exception caught by `pytest.raises` or failing a
test, client/pipeline/request repr and subprocess output is scanned for every known API key.
These tests plant a leak on each channel and check the guard reports it (and only then discard
it, so that they pass); if a channel were unplugged, its test here would fail.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from gigstack_async import GigstackClient, GigstackError, InvalidParameterError
from gigstack_async.sandbox import DEFAULT_API_KEY, Sandbox, SandboxConfig
from gigstack_async.transports import Request

GROUP = 7


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxConfig(seed=7, speed=3000)) as running:
        yield running


def _proved(figures: Any, found: list[str], channel: str) -> None:
    assert found, f"the guard missed a key leaked through {channel}"
    assert all("…" in leak for leak in found)  # reports never repeat the key itself
    figures.add(GROUP, "Leak channels proven", 1)


def test_debug_logging_is_on_in_every_test(secret_guard: Any, figures) -> None:
    assert logging.getLogger("gigstack_async").isEnabledFor(logging.DEBUG)
    assert DEFAULT_API_KEY in secret_guard.secrets  # the sandbox's key is always known
    figures.add(GROUP, "Leak channels proven", 0)


async def test_the_sdk_debug_log_is_scanned_and_clean(
    sandbox: Sandbox, secret_guard: Any, caplog: pytest.LogCaptureFixture, figures
) -> None:
    before = secret_guard.stats["log record gigstack_async:DEBUG"]
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        await client.downloads.history()
    assert any(r.name == "gigstack_async" and r.levelno == logging.DEBUG for r in caplog.records)
    assert secret_guard.stats["log record gigstack_async:DEBUG"] > before  # seen by the guard
    assert secret_guard.leaks == []  # and clean


def test_a_key_in_a_log_record_is_caught(api_key: str, secret_guard: Any, figures) -> None:
    with secret_guard.expect_leaks() as found:
        logging.getLogger("gigstack_async.bulk").debug("sending with %s", api_key)
    _proved(figures, found, "a log record's arguments")
    with secret_guard.expect_leaks() as found:
        try:
            raise ValueError(f"Authorization: Bearer {DEFAULT_API_KEY}")
        except ValueError:
            logging.getLogger("gigstack_async").exception("failed")
    _proved(figures, found, "a logged traceback")


def test_a_key_in_an_sdk_exception_is_caught(api_key: str, secret_guard: Any, figures) -> None:
    with secret_guard.expect_leaks() as found:
        GigstackError(f"request failed for {api_key}")
    _proved(figures, found, "an SDK exception's message")
    with secret_guard.expect_leaks() as found:
        error = InvalidParameterError("api_key", "looks wrong", api_key)  # the key as `.value`
        assert api_key not in str(error)
    _proved(figures, found, "an SDK exception's attributes")


def test_a_key_in_an_exception_chain_is_caught(api_key: str, secret_guard: Any, figures) -> None:
    with secret_guard.expect_leaks() as found:
        try:
            try:
                raise ConnectionError(f"headers={{'Authorization': 'Bearer {api_key}'}}")
            except ConnectionError as cause:
                raise GigstackError("connection failed") from cause
        except GigstackError as error:
            kept = error  # alive at the end of the test, with its __cause__
    assert kept.__cause__ is not None
    _proved(figures, found, "the __cause__ of an SDK exception")


def test_a_key_in_any_exception_caught_by_pytest_raises_is_caught(
    api_key: str, secret_guard: Any, figures
) -> None:
    with secret_guard.expect_leaks() as found, pytest.raises(TypeError, match="bad"):
        raise TypeError(f"bad key {api_key}")
    _proved(figures, found, "an exception caught by pytest.raises")


def test_a_key_in_a_request_repr_is_caught(
    api_key: str, secret_guard: Any, monkeypatch: pytest.MonkeyPatch, figures
) -> None:
    client = GigstackClient(api_key)
    from gigstack_async._generated import operations as ops

    # Were the headers ever shown in Request's repr again, every call would be caught:
    monkeypatch.setattr(Request, "__repr__", lambda self: f"Request(headers={self.headers})")
    with secret_guard.expect_leaks() as found:
        client._pipeline.build_request(ops.GET_DOWNLOAD_HISTORY)
    _proved(figures, found, "a Request repr")
    monkeypatch.undo()
    assert api_key not in repr(client._pipeline.build_request(ops.GET_DOWNLOAD_HISTORY))


def test_keys_given_to_any_client_become_known(secret_guard: Any, figures) -> None:
    fresh = "sk_live_OnlyThisTestKnowsMe93"
    assert fresh not in secret_guard.secrets
    GigstackClient(fresh)  # never sends anything
    assert fresh in secret_guard.secrets
    with secret_guard.expect_leaks() as found:
        logging.getLogger("gigstack_async").info("key=%s", fresh)
    _proved(figures, found, "a key some test gave a client")


def test_registered_keys_are_guarded_too(register_secret: Any, secret_guard: Any, figures) -> None:
    register_secret("team-token-ABCDEF123456")
    with secret_guard.expect_leaks() as found:
        GigstackError("token team-token-ABCDEF123456 rejected")
    _proved(figures, found, "a key a test registered")


async def test_a_key_in_cli_output_is_caught(secret_guard: Any, figures) -> None:
    key = "sk_test_SubprocessOnlyKey55"
    code = "import os; print('key:', os.environ['GIGSTACK_API_KEY'])"
    with secret_guard.expect_leaks() as found:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            stdout=asyncio.subprocess.PIPE,
            env={"GIGSTACK_API_KEY": key, "PATH": ""},
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert key.encode() in out
    _proved(figures, found, "an asyncio subprocess's output (key from its environment)")


def test_a_key_in_blocking_subprocess_output_is_caught(secret_guard: Any, figures) -> None:
    with secret_guard.expect_leaks() as found:
        completed = subprocess.run(
            [sys.executable, "-c", f"print({DEFAULT_API_KEY!r})"],
            capture_output=True,
            check=True,
            timeout=60,
        )
    assert completed.stdout
    _proved(figures, found, "a subprocess.run output")


async def test_a_sandbox_printing_its_own_key_is_not_a_leak(secret_guard: Any) -> None:
    """`gigstack-async sandbox` / `python -m gigstack_async.sandbox` print the test key on
    purpose: that is how a user learns it. Only there, only that key, is exempt."""
    with secret_guard.expect_leaks() as found:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            f"print({DEFAULT_API_KEY!r})",
            "sandbox",
            stdout=asyncio.subprocess.PIPE,
        )
        await asyncio.wait_for(process.communicate(), 60)
    assert found == []


@attrs.frozen
class _Leaky:
    key: str


def test_reprs_of_clients_are_checked_at_the_end_of_each_test(
    api_key: str, secret_guard: Any, figures
) -> None:
    client = GigstackClient(api_key, team="team_x")
    leaky = _Leaky(api_key)  # alive when the guard looks (at the end of the test)
    with secret_guard.expect_leaks() as found:
        secret_guard.track_object(leaky)
    _proved(figures, found, "the repr of a tracked object")
    with secret_guard.expect_leaks() as found:
        secret_guard.track_object(client)
        secret_guard.track_object(client._pipeline)
    assert found == []  # and the real ones are clean


def test_an_attribute_that_cannot_be_rendered_is_reported_not_skipped(
    api_key: str, secret_guard: Any
) -> None:
    class Slotted(Exception):
        __slots__ = ("detail", "hidden")

    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    error = Slotted("failed")
    error.detail = f"Bearer {api_key}"  # a slot, so vars() would not see it
    secret_guard.scan_exception("planted", error)
    assert any("API key" in leak for leak in secret_guard.leaks)
    secret_guard.leaks.clear()

    error.detail = Unprintable()
    secret_guard.scan_exception("planted", error)
    assert secret_guard.leaks == [
        "planted (Slotted): attribute 'detail' could not be rendered to check for the key "
        "(RuntimeError)"
    ]
    secret_guard.leaks.clear()


def test_a_log_record_that_cannot_be_rendered_is_reported(secret_guard: Any) -> None:
    record = logging.LogRecord(
        "gigstack_async", logging.DEBUG, __file__, 1, "%d items", ("x",), None
    )
    secret_guard.scan_record(record)
    assert secret_guard.leaks == [
        "log record gigstack_async: message could not be rendered to check for the key (TypeError)"
    ]
    secret_guard.leaks.clear()
