"""Process each event id once: a "seen ids" store and the helper that runs a handler once.

gigstack retries deliveries and may send duplicates (FACT-CLI: "receivers can cause real or
duplicate effects even in test mode"; the docs advise deduplicating by event id). The protocol is
claim → run → complete, and a failed run releases its claim so the next delivery runs again:

    claim(id)    "claimed"     this caller runs the handler
                 "done"        it already ran to completion: skip
                 "in_progress" another caller holds a live claim: skip for now (the sender
                               retries; by then it is done or released)
    complete(id) the handler succeeded: the id is done for good (until `ttl` expires it)
    release(id)  the handler failed: forget the claim

A claim older than `lease` seconds is considered abandoned (its process died) and can be taken
over, so a crash never blocks an event forever. Every claim carries its owner's `token` (a
random string `run_once` makes per run): `complete` and `release` act only on the caller's own
claim, so a stale worker whose lease expired can never drop the live claim of the worker that
took over (which would let a third delivery run the handler concurrently).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import secrets
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Literal, Protocol, TypeVar, runtime_checkable

from gigstack_async.errors import InvalidParameterError

Claim = Literal["claimed", "done", "in_progress"]
T = TypeVar("T")

DEFAULT_LEASE = 300.0
"""Seconds a claim is honoured before another worker may take it over."""


def check_lease(lease: float) -> float:
    """`lease` as a float; `InvalidParameterError` unless it is a finite number > 0 (a lease of
    0 or less would let every duplicate delivery take the claim over at once)."""
    if isinstance(lease, bool) or not isinstance(lease, int | float):
        raise InvalidParameterError("lease", "must be a number of seconds")
    if not (math.isfinite(lease) and lease > 0):
        raise InvalidParameterError("lease", "must be a finite number of seconds > 0")
    return float(lease)


@runtime_checkable
class SeenEventStore(Protocol):
    """Where processed event ids are remembered (implement it over Redis, Postgres, …)."""

    async def claim(self, event_id: str, *, lease: float = DEFAULT_LEASE, token: str = "") -> Claim:
        """Atomically claim `event_id` for processing, owned by `token` (see the module)."""
        ...

    async def complete(self, event_id: str, *, token: str = "") -> None:
        """Mark `event_id` processed, unless another owner's live claim holds it now."""
        ...

    async def release(self, event_id: str, *, token: str = "") -> None:
        """Drop the claim owned by `token` (a failed run), so a later delivery runs it again;
        a claim owned by anyone else is left alone."""
        ...


class InMemorySeenEventStore:
    """A process-local store (one worker; lost on restart). Thread- and task-safe.

    `max_done`: how many completed ids to remember (oldest forgotten first).
    """

    def __init__(self, *, max_done: int = 100_000, clock: Callable[[], float] = time.monotonic):
        self._lock = threading.Lock()
        self._claims: dict[str, tuple[float, str]] = {}  # id -> (lease deadline, owner token)
        self._done: dict[str, None] = {}  # insertion-ordered set
        self._max_done = max_done
        self._clock = clock

    async def claim(self, event_id: str, *, lease: float = DEFAULT_LEASE, token: str = "") -> Claim:
        lease = check_lease(lease)
        with self._lock:
            if event_id in self._done:
                return "done"
            now = self._clock()
            held = self._claims.get(event_id)
            if held is not None and held[0] > now:
                return "in_progress"
            self._claims[event_id] = (now + lease, token)
            return "claimed"

    async def complete(self, event_id: str, *, token: str = "") -> None:
        with self._lock:
            held = self._claims.get(event_id)
            if held is not None and held[1] != token and held[0] > self._clock():
                return  # another worker's live claim: it completes (or releases) its own
            self._claims.pop(event_id, None)
            self._done[event_id] = None
            while len(self._done) > self._max_done:
                del self._done[next(iter(self._done))]

    async def release(self, event_id: str, *, token: str = "") -> None:
        with self._lock:
            held = self._claims.get(event_id)
            if held is not None and held[1] == token:
                del self._claims[event_id]

    def is_done(self, event_id: str) -> bool:
        """Whether `event_id` was processed."""
        with self._lock:
            return event_id in self._done


_SCHEMA = """
CREATE TABLE IF NOT EXISTS gigstack_seen_events (
    event_id     TEXT PRIMARY KEY,
    state        TEXT NOT NULL CHECK (state IN ('processing', 'done')),
    lease_until  REAL NOT NULL,
    updated_at   REAL NOT NULL,
    owner        TEXT NOT NULL DEFAULT ''
)
"""


class SqliteSeenEventStore:
    """A store in a SQLite file (stdlib `sqlite3`), shared by every process that opens it.

    WAL journal, `BEGIN IMMEDIATE` claims (one writer at a time, `busy_timeout` waits), so several
    worker processes behind one load balancer never run an event twice. The store keeps one
    connection, used from worker threads (one at a time), so the event loop never blocks on the
    file; `close()` it at shutdown. `synchronous`: SQLite's `PRAGMA synchronous`; the default
    `FULL` keeps a completed id across a power loss, `NORMAL` is several times faster and only
    risks re-running the last events after a power loss (never after a process crash). `ttl`
    (seconds, None = forever) lets `purge()` forget old completed ids. Uses wall-clock time,
    which every process on the host shares.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = 30.0,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        ttl: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if str(path) == ":memory:":
            raise InvalidParameterError(
                "path", "must be a file: ':memory:' is private to one connection"
            )
        if synchronous not in ("FULL", "NORMAL"):
            raise InvalidParameterError("synchronous", "must be 'FULL' or 'NORMAL'")
        self.path = Path(path)
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self._connection.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute(f"PRAGMA synchronous={synchronous}")
        self._connection.execute(_SCHEMA)
        columns = {
            row[1] for row in self._connection.execute("PRAGMA table_info(gigstack_seen_events)")
        }
        if "owner" not in columns:  # a file made before claims had owners
            self._connection.execute(
                "ALTER TABLE gigstack_seen_events ADD COLUMN owner TEXT NOT NULL DEFAULT ''"
            )

    def __repr__(self) -> str:
        return f"SqliteSeenEventStore({str(self.path)!r})"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._connection is None:
                raise RuntimeError("the SqliteSeenEventStore is closed")
            yield self._connection

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _claim(self, event_id: str, lease: float, token: str) -> Claim:
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                now = self._clock()
                row = connection.execute(
                    "SELECT state, lease_until FROM gigstack_seen_events WHERE event_id = ?",
                    (event_id,),
                ).fetchone()
                if row is not None and row[0] == "done":
                    answer: Claim = "done"
                elif row is not None and row[1] > now:
                    answer = "in_progress"
                else:
                    connection.execute(
                        "INSERT INTO gigstack_seen_events "
                        "(event_id, state, lease_until, updated_at, owner) "
                        "VALUES (?, 'processing', ?, ?, ?) "
                        "ON CONFLICT(event_id) DO UPDATE SET state = 'processing', "
                        "lease_until = excluded.lease_until, updated_at = excluded.updated_at, "
                        "owner = excluded.owner",
                        (event_id, now + lease, now, token),
                    )
                    answer = "claimed"
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            return answer

    def _complete(self, event_id: str, token: str) -> None:
        now = self._clock()
        with self._connect() as connection:
            # Not over another owner's live claim (its lease has not run out).
            connection.execute(
                "INSERT INTO gigstack_seen_events "
                "(event_id, state, lease_until, updated_at, owner) VALUES (?, 'done', 0, ?, ?) "
                "ON CONFLICT(event_id) DO UPDATE SET state = 'done', "
                "updated_at = excluded.updated_at, owner = excluded.owner "
                "WHERE state = 'processing' AND (owner = excluded.owner OR lease_until <= ?)",
                (event_id, now, token, now),
            )

    def _release(self, event_id: str, token: str) -> None:
        with self._connect() as connection:
            connection.execute(
                "DELETE FROM gigstack_seen_events "
                "WHERE event_id = ? AND state = 'processing' AND owner = ?",
                (event_id, token),
            )

    async def claim(self, event_id: str, *, lease: float = DEFAULT_LEASE, token: str = "") -> Claim:
        return await asyncio.to_thread(self._claim, event_id, check_lease(lease), token)

    async def complete(self, event_id: str, *, token: str = "") -> None:
        await asyncio.to_thread(self._complete, event_id, token)

    async def release(self, event_id: str, *, token: str = "") -> None:
        await asyncio.to_thread(self._release, event_id, token)

    async def purge(self) -> int:
        """Forget completed ids older than `ttl`; returns how many (0 when `ttl` is None)."""
        if self._ttl is None:
            return 0
        cutoff = self._clock() - self._ttl

        def run() -> int:
            with self._connect() as connection:
                cursor = connection.execute(
                    "DELETE FROM gigstack_seen_events WHERE state = 'done' AND updated_at < ?",
                    (cutoff,),
                )
                return cursor.rowcount

        return await asyncio.to_thread(run)


class Outcome(enum.StrEnum):
    """What `run_once` did."""

    PROCESSED = "processed"
    """The handler ran and succeeded."""
    DUPLICATE = "duplicate"
    """The id was already processed: the handler did not run."""
    IN_PROGRESS = "in_progress"
    """Another delivery of the same id is being processed right now: the handler did not run."""


async def run_once(
    store: SeenEventStore,
    event_id: str,
    handler: Callable[[], Awaitable[object]],
    *,
    lease: float = DEFAULT_LEASE,
) -> Outcome:
    """Run `handler()` unless `event_id` was (or is being) processed; exactly once per id.

    The id is claimed first, under a fresh owner token; on success it is marked done; if the
    handler raises (or is cancelled) this run's claim is released and the exception propagates,
    so a retried delivery runs the handler again. Set `lease` (seconds, > 0) longer than the
    handler can take: a run outliving its lease may overlap with a retry that took it over.
    Raises `InvalidParameterError` for a bad `lease`.
    """
    lease = check_lease(lease)
    token = secrets.token_hex(16)
    claim = await store.claim(event_id, lease=lease, token=token)
    if claim == "done":
        return Outcome.DUPLICATE
    if claim == "in_progress":
        return Outcome.IN_PROGRESS
    try:
        await handler()
    except BaseException:
        # Shielded: a cancelled handler must still give its claim back.
        await asyncio.shield(store.release(event_id, token=token))
        raise
    await asyncio.shield(store.complete(event_id, token=token))
    return Outcome.PROCESSED
