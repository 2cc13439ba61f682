"""Shared, generic fixtures: a fake API key, MockTransport-backed clients, a sleep recorder and
loopback aiohttp.web servers. Nothing here talks to the real network.

Also the suite-wide secrets guard (at the end): every test runs with the SDK's DEBUG log on and
fails if a known API key shows up in a log record, an exception, a repr or a subprocess output."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import subprocess
import traceback
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import settings
from yarl import URL

from gigstack_async import GigstackClient
from gigstack_async import _pipeline as pipeline_module
from gigstack_async import client as _client_module
from gigstack_async.errors import GigstackError
from gigstack_async.sandbox import DEFAULT_API_KEY
from gigstack_async.transports import MockTransport, Request, Response

# Hypothesis profiles. `ci` (CI=true, as `.ci/run` sets it): derandomized, so one commit gets
# one verdict and a CI failure replays locally with `CI=true make pytest`. `fuzz` (`make fuzz`):
# a fresh random search, several times larger, where new counterexamples are looked for.
# `floor` (`make test-floor`): derandomized and smaller, since that run proves the oldest
# aiohttp/attrs/cattrs work, not the depth of the search (the `ci` run beside it searches).
# Anywhere else: Hypothesis's default random search.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("floor", derandomize=True, database=None, max_examples=20)
settings.register_profile("fuzz", max_examples=1000, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default")
)

FAKE_API_KEY = "sk_test_Zq7SECRETvalue4Kp9x"


@pytest.fixture
def api_key() -> str:
    """A recognisable fake key: tests grep for it to prove it never leaks."""
    return FAKE_API_KEY


Script = Callable[[Request], Any] | Sequence[Response | BaseException]


def _as_handler(script: Script) -> Callable[[Request], Any]:
    if callable(script):
        return script
    queue = list(script)

    def handler(request: Request) -> Response:
        assert queue, f"unexpected extra request {request.method} {request.url}"
        item = queue.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    return handler


@pytest.fixture
async def mock_client(
    api_key: str,
) -> AsyncIterator[Callable[..., tuple[GigstackClient, MockTransport]]]:
    """`mock_client(script, **client_kwargs)` → (client, transport).

    `script` is a handler `(Request) -> Response` (sync or async, may raise) or a list of
    Responses/exceptions answered in order (an extra request fails the test).
    """
    clients: list[GigstackClient] = []

    def make(script: Script, **kwargs: Any) -> tuple[GigstackClient, MockTransport]:
        transport = MockTransport(_as_handler(script))
        kwargs.setdefault("api_key", api_key)
        client = GigstackClient(transport=transport, **kwargs)
        clients.append(client)
        return client, transport

    yield make
    for client in clients:
        await client.aclose()


class _RecordingAsyncio:
    """Stands in for the `asyncio` module inside the pipeline: sleeps are recorded, not waited."""

    def __init__(self, delays: list[float]) -> None:
        self._delays = delays

    async def sleep(self, delay: float, result: Any = None) -> Any:
        self._delays.append(delay)
        await asyncio.sleep(0)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff/Retry-After delays the pipeline asked for, in order; nothing really sleeps."""
    delays: list[float] = []
    monkeypatch.setattr(pipeline_module, "asyncio", _RecordingAsyncio(delays))
    return delays


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    """`await serve(app)` starts `app` on 127.0.0.1 and returns its base URL (no trailing /)."""
    servers: list[TestServer] = []

    async def start(app: web.Application) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


class _CannedResponse:
    """The part of an aiohttp response that AiohttpTransport reads: status, headers, body."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = headers
        self.content_length = len(body)
        self.content = self
        self._body = body

    async def iter_chunked(self, size: int) -> AsyncIterator[bytes]:
        for start in range(0, len(self._body), size):
            yield self._body[start : start + size]

    async def read(self) -> bytes:
        return self._body

    async def __aenter__(self) -> _CannedResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class FakeHttp:
    """Canned answers for `aiohttp.ClientSession.request`, with aioresponses' API subset
    (`get`/`post`/`add`, `.requests[(METHOD, URL)] -> [call.kwargs]`).

    It replaces aioresponses, whose 0.7.9 cannot build a response on aiohttp >= 3.14
    (pnuckowski/aioresponses#289): it patches only the one call the SDK's transport makes, and
    builds no aiohttp object, so it works on every aiohttp the SDK supports. Each reply answers
    one request; an unmatched request fails like a refused connection.
    """

    def __init__(self) -> None:
        self._replies: list[tuple[str, str | re.Pattern[str], _CannedResponse]] = []
        self.requests: dict[tuple[str, URL], list[SimpleNamespace]] = {}

    def add(
        self,
        url: str | re.Pattern[str],
        method: str = "GET",
        *,
        status: int = 200,
        payload: Any = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        reply_headers = dict(headers or {})
        if payload is not None:
            body = json.dumps(payload).encode()
            reply_headers.setdefault("Content-Type", "application/json")
        self._replies.append((method.upper(), url, _CannedResponse(status, body, reply_headers)))

    def sent(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Every request seen: (method, URL with query, kwargs), in order. A JSON body (which
        the transport encodes itself, exact Decimal digits) shows as `json`, decoded."""
        seen = []
        for (method, url), calls in self.requests.items():
            for call in calls:
                shown = dict(call.kwargs)
                data = shown.get("data")
                headers = shown.get("headers") or {}
                if isinstance(data, bytes) and headers.get("Content-Type") == "application/json":
                    shown["json"], shown["data"] = json.loads(data), None
                else:
                    shown.setdefault("json", None)
                seen.append((method, str(url), shown))
        return seen

    def get(self, url: str | re.Pattern[str], **kwargs: Any) -> None:
        self.add(url, "GET", **kwargs)

    def post(self, url: str | re.Pattern[str], **kwargs: Any) -> None:
        self.add(url, "POST", **kwargs)

    def put(self, url: str | re.Pattern[str], **kwargs: Any) -> None:
        self.add(url, "PUT", **kwargs)

    def delete(self, url: str | re.Pattern[str], **kwargs: Any) -> None:
        self.add(url, "DELETE", **kwargs)

    def request(self, method: str, url: Any, **kwargs: Any) -> _CannedResponse:
        full = URL(str(url))
        if kwargs.get("params"):
            full = full.update_query(kwargs["params"])
        self.requests.setdefault((method.upper(), full), []).append(SimpleNamespace(kwargs=kwargs))
        for index, (reply_method, pattern, response) in enumerate(self._replies):
            matches = (
                pattern.match(str(full)) is not None
                if isinstance(pattern, re.Pattern)
                else URL(pattern) == full
            )
            if reply_method == method.upper() and matches:
                del self._replies[index]
                return response
        raise aiohttp.ClientConnectionError(f"Connection refused: {method} {full}")


@pytest.fixture
def fake_http(monkeypatch: pytest.MonkeyPatch) -> FakeHttp:
    """Answers every `aiohttp.ClientSession.request` of the test from canned replies."""
    fake = FakeHttp()

    def request(_session: aiohttp.ClientSession, method: str, url: Any, **kwargs: Any) -> Any:
        return fake.request(method, url, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "request", request)
    return fake


# ============================================================================ the secrets guard
#
# Suite-wide (issue group 7): in EVERY test, with the `gigstack_async` logger at DEBUG, no known
# API key may appear in any log record, in the text, repr or attributes of any exception the SDK
# builds or a test catches or fails with, in the repr of a client, pipeline or request, or in
# the output of any subprocess (the CLI). It is wired here with hooks and an autouse fixture, so
# a new test cannot opt out by forgetting something. tests/survival/test_secrets_guard.py proves
# each channel really catches a leak.
#
# Known keys: the fake key above, the sandbox's default key, every key any test hands to
# GigstackClient (or that the client reads from GIGSTACK_API_KEY), every key passed to a
# subprocess (GIGSTACK_API_KEY in its environment, --api-key in its argv), and any key a test
# registers with the `register_secret` fixture.

SECRET_GUARD_PLUGIN = "gigstack-secret-guard"
_MIN_SECRET_LENGTH = 8  # shorter strings would match ordinary text
# Commands that run a sandbox print the sandbox's own public test key on purpose (that is how a
# user learns it): in their output, and only there, that one key is not a leak. Matched against
# whole argv items (`python -m gigstack_async.sandbox`, `gigstack-async sandbox|demo`).
_SANDBOX_COMMANDS = ("gigstack_async.sandbox", "sandbox", "demo")


def _masked(secret: str) -> str:
    return f"{secret[:7]}…({len(secret)} chars)"


class SecretGuard:
    """Every text the SDK or a test shows the world, and the keys that must not be in it."""

    def __init__(self) -> None:
        self.secrets: set[str] = {FAKE_API_KEY, DEFAULT_API_KEY}
        self.leaks: list[str] = []
        self.stats: Counter[str] = Counter()
        self._errors: list[weakref.ref[BaseException]] = []
        self._outputs: list[tuple[tuple[str, ...], bytearray]] = []
        self._objects: list[weakref.ref[object]] = []
        self._undo: list[Callable[[], None]] = []

    # ---------------------------------------------------------------- keys and scanning

    def register(self, secret: object) -> None:
        if isinstance(secret, str) and len(secret.strip()) >= _MIN_SECRET_LENGTH:
            self.secrets.add(secret.strip())

    def find(self, text: str, *, exempt: Iterable[str] = ()) -> list[str]:
        """The known keys that occur in `text` (a key split by a newline does not count)."""
        skip = set(exempt)
        return [s for s in sorted(self.secrets) if s not in skip and s in text]

    def scan(self, where: str, texts: Iterable[str], *, exempt: Iterable[str] = ()) -> None:
        exempt = tuple(exempt)
        self.stats[where] += 1
        for text in texts:
            for secret in self.find(text, exempt=exempt):
                # Never print the key itself: the report would leak it.
                self.leaks.append(f"{where}: API key {_masked(secret)} found")

    def scan_exception(self, where: str, error: BaseException) -> None:
        seen: list[BaseException] = []
        current: BaseException | None = error
        while current is not None and not any(current is s for s in seen):
            seen.append(current)
            texts = [str(current), repr(current), repr(current.args)]
            texts.append(self._attributes(f"{where} ({type(current).__name__})", current))
            texts.extend(getattr(current, "__notes__", ()))
            self.scan(f"{where} ({type(current).__name__})", texts)
            current = current.__cause__ or current.__context__

    def _attributes(self, where: str, error: BaseException) -> str:
        """Every attribute of `error` as text: `vars()` when it has a __dict__, else its slots.
        An attribute whose repr raises is reported, never skipped quietly."""
        names: list[str] = list(getattr(error, "__dict__", {}))
        for klass in type(error).__mro__:
            slots = klass.__dict__.get("__slots__", ())
            names.extend([slots] if isinstance(slots, str) else slots)
        parts = []
        for name in dict.fromkeys(names):
            try:
                parts.append(f"{name}={getattr(error, name)!r}")
            except AttributeError:
                continue  # an unset slot holds nothing
            except Exception as exc:
                self.leaks.append(
                    f"{where}: attribute {name!r} could not be rendered to check for the key "
                    f"({type(exc).__name__})"
                )
        return ", ".join(parts)

    def scan_record(self, record: logging.LogRecord) -> None:
        texts = [str(record.msg), repr(record.args)]
        try:
            texts.append(record.getMessage())
        except Exception as exc:  # a record that cannot be rendered cannot be checked: say so
            self.leaks.append(
                f"log record {record.name}: message could not be rendered to check for the key "
                f"({type(exc).__name__})"
            )
        if record.exc_info and record.exc_info[1] is not None:
            texts.append("".join(traceback.format_exception(record.exc_info[1])))
        if record.exc_text:
            texts.append(record.exc_text)
        if record.stack_info:
            texts.append(record.stack_info)
        self.scan(f"log record {record.name}:{record.levelname}", texts)

    # ---------------------------------------------------------------- per test

    def track_error(self, error: BaseException) -> None:
        self.scan(f"exception {type(error).__name__}", [str(error), repr(error)])
        if len(self._errors) < 50_000:
            self._errors.append(weakref.ref(error))

    def track_object(self, obj: object) -> None:
        if len(self._objects) < 50_000:
            self._objects.append(weakref.ref(obj))

    def track_output(self, argv: tuple[str, ...], data: bytes) -> None:
        for known_argv, buffer in self._outputs:
            if known_argv is argv:
                buffer.extend(data)
                return
        self._outputs.append((argv, bytearray(data)))

    def _flush(self) -> None:
        """Scan what is still alive from this test: exception chains, reprs, subprocess output."""
        for ref in self._errors:
            error = ref()
            if error is not None:
                self.scan_exception("exception", error)
        for ref in self._objects:
            obj = ref()
            if obj is not None:
                self.scan(f"repr of {type(obj).__name__}", [repr(obj), str(obj)])
        for argv, buffer in self._outputs:
            serves_sandbox = any(command in argv for command in _SANDBOX_COMMANDS)
            text = buffer.decode("utf-8", errors="replace")
            exempt = [DEFAULT_API_KEY] if serves_sandbox else []
            self.scan("subprocess output", [text], exempt=exempt)
        self._errors.clear()
        self._objects.clear()
        self._outputs.clear()

    def finish_test(self) -> list[str]:
        """Return (and forget) every leak found during the test."""
        self._flush()
        leaks, self.leaks = self.leaks, []
        self.stats["tests guarded"] += 1
        return leaks

    @contextlib.contextmanager
    def expect_leaks(self) -> Iterator[list[str]]:
        """For the guard's own tests: collect the leaks found inside, and do not fail for them."""
        before = len(self.leaks)
        found: list[str] = []
        try:
            yield found
        finally:
            self._flush()
            found.extend(self.leaks[before:])
            del self.leaks[before:]

    # ---------------------------------------------------------------- wiring

    def install(self) -> None:
        guard = self

        class _Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                guard.scan_record(record)

        handler = _Handler(level=0)
        root = logging.getLogger()
        root.addHandler(handler)
        self._undo.append(lambda: root.removeHandler(handler))

        # Every SDK exception, at construction (its text) and at the end of the test (its
        # chain: a `raise ... from aiohttp_error` would carry the request headers along).
        original_init = GigstackError.__init__

        def init(self: GigstackError, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            guard.track_error(self)

        GigstackError.__init__ = init  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(GigstackError, "__init__", original_init))

        # Every exception a test catches with pytest.raises, whatever its type (TypeError too).
        raises_type = type(pytest.raises(LookupError, match="any"))
        original_exit = raises_type.__exit__

        def exit_(self: Any, exc_type: Any, exc: Any, tb: Any) -> Any:
            if exc is not None:
                guard.scan_exception("exception caught by pytest.raises", exc)
            return original_exit(self, exc_type, exc, tb)

        raises_type.__exit__ = exit_  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(raises_type, "__exit__", original_exit))

        # Every key a client is given (also read from the environment), and every client,
        # pipeline and request, whose reprs are checked at the end of the test.
        original_check = _client_module._check_api_key

        def check_api_key(api_key: str | None) -> str:
            guard.register(api_key)
            result = original_check(api_key)
            guard.register(result)
            return result

        _client_module._check_api_key = check_api_key
        self._undo.append(lambda: setattr(_client_module, "_check_api_key", original_check))

        original_client_init = GigstackClient.__init__

        def client_init(self: GigstackClient, *args: Any, **kwargs: Any) -> None:
            original_client_init(self, *args, **kwargs)
            guard.track_object(self)
            guard.track_object(self._pipeline)

        GigstackClient.__init__ = client_init  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(GigstackClient, "__init__", original_client_init))

        pipeline_type = pipeline_module.Pipeline
        original_build = pipeline_type.build_request

        def build_request(self: Any, *args: Any, **kwargs: Any) -> Any:
            request = original_build(self, *args, **kwargs)
            guard.scan("repr of Request", [repr(request), str(request)])
            return request

        pipeline_type.build_request = build_request  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(pipeline_type, "build_request", original_build))

        self._install_subprocess_hooks()

    def _install_subprocess_hooks(self) -> None:
        guard = self
        original_exec = asyncio.create_subprocess_exec

        async def create_subprocess_exec(*args: Any, **kwargs: Any) -> Any:
            argv = tuple(str(a) for a in args)
            env = kwargs.get("env") or {}
            guard.register(env.get("GIGSTACK_API_KEY"))
            for index, arg in enumerate(argv):
                if arg == "--api-key" and index + 1 < len(argv):
                    guard.register(argv[index + 1])
                elif arg.startswith("--api-key="):
                    guard.register(arg.partition("=")[2])
            process = await original_exec(*args, **kwargs)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    _tap(stream, argv, guard)
            return process

        for module in (asyncio, asyncio.subprocess):
            module.create_subprocess_exec = create_subprocess_exec  # type: ignore[assignment]
            self._undo.append(lambda m=module: setattr(m, "create_subprocess_exec", original_exec))

        original_communicate = subprocess.Popen.communicate

        def communicate(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> Any:
            out, err = original_communicate(self, *args, **kwargs)
            args_ = self.args if isinstance(self.args, list | tuple) else [self.args]
            argv = tuple(str(a) for a in args_)
            for data in (out, err):
                if data:
                    guard.track_output(argv, data if isinstance(data, bytes) else data.encode())
            return out, err

        subprocess.Popen.communicate = communicate  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(subprocess.Popen, "communicate", original_communicate))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()


def _tap(stream: asyncio.StreamReader, argv: tuple[str, ...], guard: SecretGuard) -> None:
    """Record everything read from a subprocess pipe, however the test reads it."""
    for name in ("read", "readline", "readexactly", "readuntil"):
        original = getattr(stream, name)

        async def tapped(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            data = await __original(*args, **kwargs)
            guard.track_output(argv, data)
            return data

        setattr(stream, name, tapped)


def pytest_configure(config: pytest.Config) -> None:
    guard = SecretGuard()
    guard.install()
    config.pluginmanager.register(guard, SECRET_GUARD_PLUGIN)


def pytest_unconfigure(config: pytest.Config) -> None:
    guard = config.pluginmanager.get_plugin(SECRET_GUARD_PLUGIN)
    if isinstance(guard, SecretGuard):
        guard.uninstall()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    guard = item.config.pluginmanager.get_plugin(SECRET_GUARD_PLUGIN)
    if isinstance(guard, SecretGuard) and call.excinfo is not None:
        guard.scan_exception(f"exception failing {call.when}", call.excinfo.value)
    return report


@pytest.fixture
def secret_guard(request: pytest.FixtureRequest) -> SecretGuard:
    guard = request.config.pluginmanager.get_plugin(SECRET_GUARD_PLUGIN)
    assert isinstance(guard, SecretGuard), "the secrets guard is not installed"
    return guard


@pytest.fixture
def register_secret(secret_guard: SecretGuard) -> Callable[[str], None]:
    """`register_secret(key)`: one more key that must never show up anywhere."""
    return secret_guard.register


@pytest.fixture(autouse=True)
def _no_secret_leaks(secret_guard: SecretGuard) -> Iterator[None]:
    """Every test runs with the SDK's DEBUG log on and is checked for leaked keys at the end."""
    logger = logging.getLogger("gigstack_async")
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.setLevel(previous)
        leaks = secret_guard.finish_test()
        if leaks:
            pytest.fail("an API key leaked:\n" + "\n".join(sorted(set(leaks))), pytrace=False)
