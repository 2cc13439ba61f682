"""The bulk journal: every month's `MonthState` in one SQLite file (stdlib `sqlite3`, WAL).

- One transaction per transition: `put` writes the month's new state and a line of its log
  together, so the file always holds the state before or after a transition, never half.
  Transitions that guard money or packages are fsynced (`synchronous=FULL`); the rest survive
  a killed process and are made durable by the next fsynced one (see `put`).
- Never half-created: a new journal is created complete (tables and identity, committed and
  fsynced) under a temporary name in its folder, then renamed into place (`os.replace`). A
  file at the journal's path without its tables (0 bytes, say) was therefore emptied or
  truncated after a run created it, and is refused as damaged, never completed as new.
- Locked across processes: an exclusive lock on `<path>.lock`, symlinks resolved
  (`fcntl.flock` on Linux and macOS, `msvcrt.locking` on Windows) held while the store is
  open; the OS drops it when the process dies, so a killed run never leaves a stale lock.
- Bound to its identity: team, base URL, a fingerprint of the API key (a SHA-256 prefix, never
  the key), the RFC when known, `rfc_type` and `request_type`. Opening it under another
  identity raises `JournalMismatchError` before anything is sent.
- Schema-free state: a month is stored as the cattrs-unstructured `MonthState` (JSON text);
  the converter, not hand-written code, checks it on the way back.

Read it with `gigstack-async journal show <folder>`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NoReturn, Self
from urllib.parse import urlsplit, urlunsplit

import attrs
import cattrs

from gigstack_async._atomic import fsync_dir
from gigstack_async.bulk.hints import shell_quote
from gigstack_async.bulk.machine import (
    Asked,
    Counts,
    HeldRequest,
    MonthState,
    ReleasedRequest,
    Stage,
    recorded_holds,
)
from gigstack_async.bulk.taxpayer import RfcSource
from gigstack_async.errors import GigstackError

__all__ = [
    "FORMAT_VERSION",
    "Hold",
    "JournalCorruptError",
    "JournalDamagedError",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalStateError",
    "JournalStore",
    "LogLine",
    "StoreIdentity",
    "holds_no_journal",
    "refuse_emptied",
    "run_traces",
]

FORMAT_VERSION = 2
_DEFAULT_NAME = ".gigstack-journal.sqlite3"  # bulk.run.DEFAULT_JOURNAL (run imports store)
"""Version 1 was the JSON journal of gigstack-async ≤ 0.x; it is refused, not migrated."""


class JournalError(GigstackError):
    """A journal cannot be opened or cannot take the requested change."""


class JournalCorruptError(JournalError):
    """The file is not a journal this version can read."""


class JournalDamagedError(JournalCorruptError):
    """The journal file is damaged: SQLite cannot read it (truncated, overwritten), or some of
    its records cannot be read. Nothing was sent.

    `path` is the journal; `months` the keys (YYYY-MM) of the month records that cannot be read
    (empty when the damage is not in one month's record). The message says how to go on without
    billing anything again (`damaged_message`): `gigstack-async journal show` lists the request
    ids still readable in the file; moved aside, a new journal adopts them.
    """

    def __init__(self, message: str, *, path: Path, months: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.path = path
        self.months = months


class JournalMismatchError(JournalError):
    """The journal belongs to another team, key, base URL, RFC or kind of request."""


class JournalLockedError(JournalError):
    """Another process holds the journal's lock."""


class JournalStateError(JournalError):
    """The change does not fit the month's state (for example adopting into a finished month)."""


_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_base_url(url: str) -> str:
    """`url` as a journal compares it: scheme and host in lower case, the scheme's default port
    dropped, no trailing slash. `localhost` and `127.0.0.1` stay different (they may be
    different servers: a name can resolve anywhere)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.rstrip("/")
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path.rstrip("/"), parts.query, parts.fragment))


@attrs.frozen
class StoreIdentity:
    """Who a journal belongs to. `rfc` is None until the server told us.

    `team` is the `team=` the run gave (None: the key's home team); `home_team` is the key's
    home team when the key itself says so (the `team` claim of a JWT key, as gigstack's own CLI
    reads it), else None: then the SDK cannot tell whether a named team is the home team.
    """

    team: str | None
    base_url: str
    key_fingerprint: str
    rfc: str | None
    rfc_type: str
    request_type: str
    home_team: str | None = None

    def differences(self, other: StoreIdentity) -> list[str]:
        """What makes `other` (this run) a different owner than `self` (the journal's)."""
        out = []
        if not self._same_team(other):
            out.append(self._team_difference(other))
        if canonical_base_url(self.base_url) != canonical_base_url(other.base_url):
            shown = f"base_url {self.base_url!r}, this run has {other.base_url!r}"
            hosts = {urlsplit(u).hostname for u in (self.base_url, other.base_url)}
            if hosts == {"localhost", "127.0.0.1"}:
                shown += " (localhost and 127.0.0.1 count as different servers here)"
            out.append(shown)
        if self.key_fingerprint != other.key_fingerprint:
            out.append("a different API key")
        for name in ("rfc", "rfc_type", "request_type"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if name == "rfc" and (mine is None or theirs is None):
                continue  # unknown on one side is not a mismatch; learnt later
            if mine != theirs:
                out.append(f"{name} {mine!r}, this run has {theirs!r}")
        return out

    def _same_team(self, other: StoreIdentity) -> bool:
        if self.team == other.team:
            return True
        same_key = self.key_fingerprint == other.key_fingerprint
        # One key has one home team: a journal written before it was recorded learns it here.
        mine = self.team or self.home_team or (other.home_team if same_key else None)
        theirs = other.team or other.home_team or (self.home_team if same_key else None)
        return mine is not None and mine == theirs

    def _team_difference(self, other: StoreIdentity) -> str:
        def spell(identity: StoreIdentity) -> str:
            if identity.team is not None:
                return f"team {identity.team!r}"
            if identity.home_team is not None:
                return f"the key's home team {identity.home_team!r}"
            return "no team= (the key's home team)"

        shown = f"{spell(self)}, this run has {spell(other)}"
        if None in (self.team, other.team) and not (self.home_team or other.home_team):
            shown += (
                " (this API key does not say which team is its home team, so the SDK cannot "
                "tell whether they are the same: if they are, give team= as the journal's run did)"
            )
        return shown


@attrs.frozen
class LogLine:
    """One transition of one month, as recorded: why it moved."""

    seq: int
    key: str
    stage: Stage
    reason: str | None
    request_id: str | None = None
    """The month's request id after the transition (None: none yet, or a journal written
    before the log recorded it)."""
    counts: Counts | None = None
    """The month's creates and package downloads after the transition (None: a journal written
    before the log kept them, or unreadable: unknown, never zero)."""
    asked: Asked | None = None
    """The month's dates and SAT's count for its request after the transition (None: a
    journal written before the log kept them, or unreadable: unknown)."""
    sat_code: int | None = None
    """The month's SAT code after the transition (`MonthState.sat_code`), as a field: `journal
    repair` tells a 5002/5003 refusal by it, not by the reason's words (None: none, or a line
    written before the log kept it: the reason's text is read then, `machine.refusal_code`)."""
    holds: tuple[HeldRequest, ...] | None = None
    """The requests the month was held for after the transition (`MonthState.holds`, with
    `held_for` for its dates), so that `journal repair` rebuilds a held month held (review 9m
    #3). None: a line written before the log kept them (unknown)."""
    open_day: date | None = None
    """The month's `MonthState.open_day` after the transition: the day its request was sent
    on, when its dates end that day (review 9m #11: `journal repair` restores it, so a kept
    month still names the day MISSING DAYS). None: not open, or not logged (`open_day_logged`)."""
    open_day_logged: bool = False
    """The line kept `open_day` (False: a line written before the log kept it: unknown)."""
    released: tuple[ReleasedRequest, ...] | None = None
    """The requests the month had released after the transition (`MonthState.released`, with
    the SAT downloads it spent on their packages), so that `journal repair` rebuilds the
    release: its hint never offers a released id for the month, and the month that adopts it
    counts those downloads (`machine._carried`). None: a line written before the log kept
    them (unknown: repaired as before)."""


@attrs.frozen
class Hold:
    """A planned month the last run held (not sent): the account's history listed its exact
    request under an id this journal did not send. `reason` and `hint` as its `MonthResult`
    said them (folder-free: render with `bulk.hints.with_journal`). Recorded so that `journal
    show` says `held`; dropped once the month leaves `planned` (adopted, or sent)."""

    reason: str
    hint: str


_HOLD = "held "  # meta name prefix: one row per held month, `held 2024-03`

_converter = cattrs.Converter()
_converter.register_unstructure_hook(date, lambda d: d.isoformat())
_converter.register_structure_hook(date, lambda v, _t: date.fromisoformat(v))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS months (key TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL, stage TEXT NOT NULL, reason TEXT, request_id TEXT, counts TEXT
);
"""


def encode_state(state: MonthState) -> str:
    return json.dumps(_converter.unstructure(state), sort_keys=True)


def decode_state(text: str) -> MonthState:
    return _converter.structure(json.loads(text), MonthState)


_HELD_HERE: set[Path] = set()
"""The lock files this process holds (`_FileLock`): a lock refused while one of them is held
here is held by another run of this very process, not by another process (newcomer 9j F6)."""


class _FileLock:
    """An exclusive, non-blocking lock on a file, on POSIX and Windows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: IO[bytes] | None = None

    def acquire(self) -> None:
        handle = open(self.path, "a+b")  # noqa: SIM115 — held open for the store's lifetime
        try:
            if sys.platform == "win32":
                import msvcrt

                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            if self.path in _HELD_HERE:
                raise JournalLockedError(
                    f"{self.path} is locked: another task of this process (another `bulk()` "
                    "run, or a thread) is driving this journal. Wait for that run to finish, or "
                    "stop it (`await run.aclose()`); the lock is released when it ends."
                ) from None
            raise JournalLockedError(
                f"{self.path} is locked: another process is driving this journal. Wait for it "
                "to finish, or stop it; the lock is released when that process exits."
            ) from None
        self.handle = handle
        _HELD_HERE.add(self.path)

    def held_elsewhere(self) -> bool:
        """Whether another process holds the lock now. It is taken and dropped at once to tell:
        a run starting in that very instant is refused as locked (nothing sent)."""
        if not self.path.exists():
            return False
        try:
            self.acquire()
        except JournalLockedError:
            return True
        self.release()
        return False

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()  # closing drops flock / msvcrt locks
            self.handle = None
            _HELD_HERE.discard(self.path)


class JournalStore:
    """The journal of one bulk download folder. Open it with `JournalStore.open`.

    Not thread-safe: drive it from the event loop's thread. Every write commits before it
    returns; if it raises, nothing changed and the step it guards must not go ahead.
    """

    def __init__(
        self, path: Path, conn: sqlite3.Connection, lock: _FileLock, identity: StoreIdentity
    ) -> None:
        self.path = path
        self._conn = conn
        self._lock = lock
        self.identity = identity
        self._cache: dict[str, MonthState] = {}
        self._fsync = True
        self.damaged: dict[str, str] = {}
        """Month records that cannot be read, and why (only with `skip_damaged`)."""

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        identity: StoreIdentity,
        *,
        skip_damaged: bool = False,
        download_to: Path | None = None,
    ) -> JournalStore:
        """Open (or create) the journal at `path` for `identity`.

        With `skip_damaged`, month records that cannot be read are left out of the store and
        listed in `damaged` instead of raising (for `gigstack-async journal repair` only: a
        run must never go on without them).

        A new journal is created complete under a temporary name and renamed into place, so
        an existing file without the journal's tables (0 bytes, say) was emptied or truncated
        after a run created it (which may have sent, and billed, requests): it raises
        JournalDamagedError with the way on that bills nothing, and is left as found.
        `download_to` (the run's download folder) is only named in that message's evidence.

        Raises JournalLockedError (in use by another process), JournalCorruptError (not a
        journal, or the old JSON journal format; JournalDamagedError: damaged),
        JournalMismatchError (another identity).
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        _refuse_foreign_file(target, identity)
        # The lock (and SQLite) go by the real file: a symlink or another spelling of the same
        # journal must find the same lock, or two processes would drive one journal.
        real = target.resolve()
        lock = _FileLock(real.with_name(real.name + ".lock"))
        lock.acquire()
        conn: sqlite3.Connection | None = None
        try:
            # Under the lock (no other run is creating it now), before SQLite writes a byte:
            # an emptied journal is left exactly as found, for `journal show` to read.
            if not real.exists():
                _create_complete(real, identity)
            elif holds_no_journal(real):
                refuse_emptied(target, identity, download_to)
            conn = sqlite3.connect(real, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            with _transaction(conn):
                _create_schema(conn)
                stored = _read_identity(target, conn)
                if stored is None:
                    _write_meta(conn, identity)
                    effective = identity
                else:
                    problems = stored.differences(identity)
                    if problems:
                        raise JournalMismatchError(
                            mismatch_message(target, problems, stored=stored, run=identity)
                        )
                    effective = attrs.evolve(
                        stored,
                        rfc=stored.rfc or identity.rfc,
                        home_team=stored.home_team or identity.home_team,
                    )
                    if effective != stored:
                        _write_meta(conn, effective)
            store = cls(target, conn, lock, effective)
            store._load(skip_damaged=skip_damaged)
            return store
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            lock.release()
            raise JournalDamagedError(
                damaged_message(target, f"SQLite cannot read it ({exc})", identity), path=target
            ) from None
        except BaseException:
            if conn is not None:
                conn.close()
            lock.release()
            raise

    @classmethod
    def open_existing(
        cls, path: str | os.PathLike[str], *, skip_damaged: bool = False
    ) -> JournalStore:
        """Open an existing journal under the identity it records (to inspect or repair it).

        Raises JournalError when there is no journal at `path`, and as `open` otherwise.
        """
        target = Path(path)
        if not target.is_file():
            raise JournalError(f"no journal at {target}")
        _refuse_foreign_file(target)
        _refuse_unfinished(target)
        try:
            conn = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True)
            try:
                if not _has_tables(conn):
                    refuse_emptied(target, None, None)
                stored = _read_identity(target, conn)
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise JournalDamagedError(
                damaged_message(target, f"SQLite cannot read it ({exc})", None), path=target
            ) from None
        if stored is None:
            raise JournalCorruptError(f"{target} has no identity: not a bulk journal")
        return cls.open(target, stored, skip_damaged=skip_damaged)

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> JournalStore:
        """Open an existing journal to read it, even while a run drives it: no lock is taken
        and nothing is written (SQLite WAL: a reader sees the last committed state and blocks
        no writer). `in_use` says whether a run holds the journal now. Writing raises.

        Raises JournalError when there is no journal at `path`, JournalDamagedError when it is
        damaged, JournalCorruptError when it is no journal of this version.
        """
        target = Path(path)
        if not target.is_file():
            raise JournalError(f"no journal at {target}")
        _refuse_foreign_file(target)
        _refuse_unfinished(target)
        real = target.resolve()
        lock = _FileLock(real.with_name(real.name + ".lock"))
        conn = sqlite3.connect(f"{real.as_uri()}?mode=ro", uri=True, isolation_level=None)
        try:
            if not _has_tables(conn):
                refuse_emptied(target, None, None)
            stored = _read_identity(target, conn)
            if stored is None:
                raise JournalCorruptError(f"{target} has no identity: not a bulk journal")
            store = cls(target, conn, lock, stored)
            store._load()
            return store
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise JournalDamagedError(
                damaged_message(target, f"SQLite cannot read it ({exc})", None), path=target
            ) from None
        except BaseException:
            conn.close()
            raise

    @property
    def in_use(self) -> bool:
        """Whether another process (a running `sat download`) holds this journal's lock now.
        Always False for a store this process opened for writing (it holds the lock)."""
        return self._lock.handle is None and self._lock.held_elsewhere()

    def rebind(self, identity: StoreIdentity) -> None:
        """Record `identity`'s team, base URL and key as the journal's owner (a rotated API key,
        the same team spelled otherwise). Its kind of request and RFC never change here: those
        are a different journal, and a different RFC stays refused: here when `identity` names
        one, else when the next run reads another taxpayer's RFC in a package (see
        `bulk.taxpayer`; nothing of it is extracted)."""
        if None not in (identity.rfc, self.identity.rfc) and identity.rfc != self.identity.rfc:
            raise JournalMismatchError(
                f"{self.path} holds the CFDIs of RFC {self.identity.rfc}, not {identity.rfc}: "
                "a journal cannot be rebound to another taxpayer (use another folder)"
            )
        if (identity.rfc_type, identity.request_type) != (
            self.identity.rfc_type,
            self.identity.request_type,
        ):
            raise JournalMismatchError(
                f"{self.path} holds {self.identity.rfc_type} {self.identity.request_type} "
                "requests; a journal cannot be rebound to another kind of request"
            )
        new = attrs.evolve(
            self.identity,
            team=identity.team,
            base_url=identity.base_url,
            key_fingerprint=identity.key_fingerprint,
            home_team=identity.home_team,
        )
        with _transaction(self._conn):
            _write_meta(self._conn, new)
        self.identity = new

    @property
    def download_to(self) -> Path | None:
        """The folder this journal's months were extracted into (None: not recorded yet).

        Recorded relative to the journal when the journal is inside it (moving the whole
        folder keeps it valid), absolute otherwise.
        """
        row = self._conn.execute("SELECT value FROM meta WHERE name = 'download_to'").fetchone()
        if row is None:
            return None
        recorded = Path(json.loads(row[0]))
        return recorded if recorded.is_absolute() else self.path.resolve().parent / recorded

    def bind_download_to(self, folder: Path | None, *, record: bool = True) -> None:
        """Refuse a download folder other than the journal's, unless every file the journal
        lists is there (the folder was moved); then, with `record`, remember it. A journal that
        recorded no folder yet (older versions) belongs to the folder it sits in.

        Not re-extracted: a package's staged ZIP is deleted once extracted, so the files in the
        recorded folder are the only copy, and extracting again would spend SAT downloads
        (at most 2 per package, ever). Raises JournalMismatchError.
        """
        if folder is None:
            return  # nothing is downloaded by this run
        here = folder.resolve()
        journal_dir = self.path.resolve().parent
        recorded = self.download_to
        if recorded is not None and recorded.resolve() == here:
            return
        # A journal from before the folder was recorded, in this very folder (the default
        # layout): it is this folder's, even if the user moved some files away since. Only
        # this folder: an ancestor of it (even /) is another folder, checked by its files.
        inside = recorded is None and journal_dir == here
        missing = (
            []
            if inside
            else [
                f"{state.key}/{name}"
                for state in self.states()
                for name in state.files
                if not (here / state.key / name).is_file()
            ]
        )
        if missing:
            where = str(recorded) if recorded is not None else "the folder it was used with"
            raise JournalMismatchError(
                f"{self.path} records its months' files in {where}, not {here} ({len(missing)} "
                f"of them, e.g. {missing[0]}, are not there). Run with download_to (--out) "
                f"{where}, or move its month folders here first. They "
                "are not extracted again: the packages are no longer staged, and SAT serves a "
                "package at most twice. A new journal (another --journal file) starts over: "
                "every month is requested, and may be billed, again. This journal was left "
                "untouched."
            )
        if not record:
            return
        spelled = (
            os.path.relpath(here, journal_dir) if journal_dir.is_relative_to(here) else str(here)
        )
        with _transaction(self._conn):
            self._conn.execute(
                "INSERT INTO meta (name, value) VALUES ('download_to', ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (json.dumps(spelled),),
            )

    def _load(self, *, skip_damaged: bool = False) -> None:
        rows = self._conn.execute("SELECT key, state FROM months ORDER BY key").fetchall()
        cache: dict[str, MonthState] = {}
        bad: dict[str, str] = {}
        for key, text in rows:
            try:
                state = decode_state(text)
            except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
                bad[str(key)] = _first_line(exc)
                continue
            if state.key != key:
                bad[str(key)] = f"it holds the record of {state.key}"
                continue
            cache[key] = state
        if bad and skip_damaged:
            self.damaged = bad
        elif bad:
            what = "; ".join(f"month {key}: {why}" for key, why in bad.items())
            records = "a month's record" if len(bad) == 1 else f"{len(bad)} months' records"
            raise JournalDamagedError(
                damaged_message(
                    self.path, f"{records} cannot be read ({what})", self.identity, tuple(bad)
                ),
                path=self.path,
                months=tuple(bad),
            )
        self._cache = cache

    # ------------------------------------------------------------ lifecycle

    def forget(self) -> None:
        """Delete this journal's file (its `-wal` and `-shm` too), the lock still held: for a
        journal a run created and left with nothing (every month planned, no request id), that
        stopped on a refused key or a server that never answered: the next run, with the right
        key, then starts it afresh instead of meeting the wrong key's identity (newcomer 9h
        #2). `close` still follows."""
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()  # closing it again (`close`) does nothing
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                self.path.with_name(self.path.name + suffix).unlink()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<JournalStore {str(self.path)!r} {len(self._cache)} months>"

    # ------------------------------------------------------------ reads

    def keys(self) -> list[str]:
        return sorted(self._cache)

    def get(self, key: str) -> MonthState:
        """The month's state; KeyError when the journal has no such month."""
        return self._cache[key]

    def states(self) -> list[MonthState]:
        return [self._cache[k] for k in sorted(self._cache)]

    def log(self, key: str | None = None) -> list[LogLine]:
        """The recorded transitions, oldest first (of one month, or of all)."""
        return read_log(self._conn, key)

    # ------------------------------------------------------------ writes

    def ensure(self, months: Iterable[MonthState]) -> None:
        """Add months the journal does not have yet (as given); existing ones are kept."""
        new = [s for s in months if s.key not in self._cache]
        if not new:
            return
        with self._damage_is_typed(), _transaction(self._conn):
            for state in new:
                self._write(state)
        self._cache.update({s.key: s for s in new})

    def holds(self) -> dict[str, Hold]:
        """The months the last run held, still `planned` (see `Hold`); unreadable rows are
        left out (a hold is advice, never a reason to send or not)."""
        found: dict[str, Hold] = {}
        rows = self._conn.execute(
            "SELECT name, value FROM meta WHERE substr(name, 1, ?) = ?", (len(_HOLD), _HOLD)
        ).fetchall()
        for name, value in rows:
            key = str(name)[len(_HOLD) :]
            state = self._cache.get(key)
            if state is None or state.stage is not Stage.PLANNED or state.identical_allowed:
                continue  # sent, adopted, or allowed a resend (`journal resend`): not held
            with contextlib.suppress(ValueError, TypeError, cattrs.BaseValidationError):
                found[key] = _converter.structure(json.loads(value), Hold)
        return found

    def recorded_hold(self, key: str) -> Hold | None:
        """The hold recorded for month `key`, whatever its record says now (None: none, or
        unreadable): for `journal repair` of a held month whose record is damaged."""
        row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (_HOLD + key,)).fetchone()
        if row is None:
            return None
        try:
            return _converter.structure(json.loads(row[0]), Hold)
        except (ValueError, TypeError, cattrs.BaseValidationError):
            return None

    def record_hold(self, key: str, hold: Hold) -> None:
        """Record that this run held `key` (a planned month), replacing an older hold."""
        with self._damage_is_typed(), _transaction(self._conn):
            self._conn.execute(
                "INSERT INTO meta (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (_HOLD + key, json.dumps(_converter.unstructure(hold))),
            )

    def put(self, state: MonthState, *, fsync: bool = True) -> None:
        """Record a month's new state in one transaction.

        With `fsync` (the default) it is on disk, power loss included, when this returns: use it
        before anything that may bill or spend (a create, a package GET) or destroy (deleting
        a staged package). Without it the commit survives the process being killed (WAL) but
        a power cut may lose it; the SQLite WAL is sequential, so the next fsynced commit makes
        every earlier one durable too. Skipping the fsync keeps the event loop responsive for
        the many small transitions of polling.
        """
        old = self._cache.get(state.key)
        if old == state:
            return
        if fsync != self._fsync:
            self._conn.execute(f"PRAGMA synchronous={'FULL' if fsync else 'NORMAL'}")
            self._fsync = fsync
        with self._damage_is_typed(), _transaction(self._conn):
            self._write(state, old)
        self._cache[state.key] = state

    @contextlib.contextmanager
    def _damage_is_typed(self) -> Iterator[None]:
        """A journal found damaged while a run writes (SQLite: malformed, not a database)
        raises JournalDamagedError with the way on; nothing was recorded, so the step the
        write guards does not go ahead. Disk full, I/O errors and the like keep their own
        errors (OperationalError): the journal itself may be fine."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if type(exc) is not sqlite3.DatabaseError:
                raise
            raise JournalDamagedError(
                damaged_message(self.path, f"SQLite cannot read it ({exc})", self.identity),
                path=self.path,
            ) from None

    def sync(self) -> None:
        """Make every commit so far durable, power loss included: one fsynced commit.

        For a caller that recorded several transitions without `fsync` and must now act on
        them (deleting staged packages whose extraction they record). The commit bumps a
        counter in `meta`: a commit that rewrote a row unchanged would write no page, and so
        would sync nothing.
        """
        if not self._fsync:
            self._conn.execute("PRAGMA synchronous=FULL")
            self._fsync = True
        with _transaction(self._conn):
            self._conn.execute(
                "INSERT INTO meta (name, value) VALUES ('syncs', '1') ON CONFLICT(name) "
                "DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
            )

    def learn_rfc(self, rfc: str, source: RfcSource | None = None) -> None:
        """Record the RFC once the server told us (`source`: where it came from); a different
        one is a mismatch."""
        if self.identity.rfc == rfc:
            return
        if self.identity.rfc is not None:
            raise JournalMismatchError(
                f"{self.path} holds the CFDIs of RFC {self.identity.rfc}, not {rfc}"
            )
        self.set_rfc(rfc, source)

    @property
    def rfc_source(self) -> RfcSource | None:
        """Where the recorded RFC came from; None when there is none, or it was recorded before
        its source was kept (it may be wrong: `bulk.taxpayer.describe_source`)."""
        if self.identity.rfc is None:
            return None
        row = self._conn.execute("SELECT value FROM meta WHERE name = 'rfc_source'").fetchone()
        if row is None:
            return None
        try:
            return _converter.structure(json.loads(row[0]), RfcSource)
        except (ValueError, TypeError, cattrs.BaseValidationError):
            return None  # unreadable: said to be unknown, never trusted

    def set_rfc(self, rfc: str | None, source: RfcSource | None) -> None:
        """Record `rfc` (None: forget it, so the next package of a request the server vouched
        for teaches it again) and where it came from, in one transaction made durable (power
        loss included) before this returns. For `gigstack-async journal rfc`; the caller
        validates the RFC."""
        identity = attrs.evolve(self.identity, rfc=rfc)
        if not self._fsync:
            self._conn.execute("PRAGMA synchronous=FULL")
            self._fsync = True
        with _transaction(self._conn):
            _write_meta(self._conn, identity)
            if rfc is None or source is None:
                self._conn.execute("DELETE FROM meta WHERE name = 'rfc_source'")
            else:
                self._conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('rfc_source', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (json.dumps(_converter.unstructure(source)),),
                )
        self.identity = identity

    def _write(self, state: MonthState, old: MonthState | None = None) -> None:
        self._conn.execute(
            "INSERT INTO months (key, state) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET state = excluded.state",
            (state.key, encode_state(state)),
        )
        if state.stage is not Stage.PLANNED and (old is None or old.stage is Stage.PLANNED):
            # Adopted or sent: a hold recorded while it was planned no longer applies.
            self._conn.execute("DELETE FROM meta WHERE name = ?", (_HOLD + state.key,))
        # The log keeps every request id a month followed: if the month's record is ever lost
        # or damaged, its requests can still be adopted instead of billed again.
        # Its counts too (creates, package downloads): a record rebuilt from the log must never
        # take a spent SAT download, or a billed create, for zero.
        counts = Counts.of(state)
        if (
            old is None
            or old.stage is not state.stage
            or old.reason != state.reason
            or old.request_id != state.request_id
            or Counts.of(old) != counts
            or Asked.of(old) != Asked.of(state)
            or old.sat_code != state.sat_code
            or recorded_holds(old) != recorded_holds(state)
            or old.open_day != state.open_day
            or old.created_vouched != state.created_vouched
            or old.released != state.released
        ):
            self._conn.execute(
                "INSERT INTO log (key, stage, reason, request_id, counts) VALUES (?, ?, ?, ?, ?)",
                (
                    state.key,
                    state.stage.value,
                    state.reason,
                    state.request_id,
                    # Beside the counts, in the same column (older readers ignore them).
                    json.dumps(
                        _converter.unstructure(counts)
                        | _converter.unstructure(Asked.of(state))
                        | {"sat_code": state.sat_code}
                        | {"holds": _converter.unstructure(recorded_holds(state))}
                        | {"open_day": None if state.open_day is None else str(state.open_day)}
                        # The release, in the same line as the transition that made it: a
                        # record rebuilt from the log keeps it (review 9u #1, 9v #3).
                        | {"released": _converter.unstructure(state.released_marked())}
                    ),
                ),
            )


def mismatch_message(
    path: Path,
    problems: list[str],
    *,
    stored: StoreIdentity | None = None,
    run: StoreIdentity | None = None,
) -> str:
    """Why a journal refuses a run, and the way forward. Another kind of request (`stored`
    and `run` given, their rfc_type or request_type differ) is another job: another folder,
    never `journal rebind` (which keeps the journal's kind, so it could not help)."""
    if stored is not None and run is not None and _kind(stored) != _kind(run):
        return (
            f"{path} belongs to another run: {'; '.join(problems)}. It holds "
            f"{' '.join(_kind(stored))} requests, and this run asks for "
            f"{' '.join(_kind(run))}: another kind of request is another job, with its own "
            "journal. Use another --out folder (download_to) for it: that bills nothing twice, "
            "since a request of another kind is a different request for SAT, never one this "
            "journal sent. `gigstack-async journal rebind` cannot change a journal's kind. "
            "This journal was left untouched."
        )
    rebind = (
        "This journal was left untouched. If it is the same gigstack team (for example a "
        "rotated API key, or the same team or server written differently), `gigstack-async "
        f"journal rebind {shell_quote(str(path.parent if path.name == _DEFAULT_NAME else path))}`"
        " (given this run's API key, team and base URL) makes it yours without requesting "
        "anything again. Another folder (or --journal file) starts over instead: every month is "
        "requested, and may be billed, again."
    )
    if "a different API key" in problems:
        # Newcomer 9m #5: a mistyped key was answered "belongs to another run ... rebind".
        # r2 N10: said once, in lower case after "error: " (was "The API key differs ...
        # belongs to another run: a different API key").
        others = [p for p in problems if p != "a different API key"]
        also = f" (and it differs in {'; '.join(others)})" if others else ""
        return (
            f"the API key differs from the one {path} was made with{also}: a mistyped key, or "
            "the wrong one (another team's, or a test key for a live folder), is the likely "
            "cause, so check --api-key / GIGSTACK_API_KEY (in Python, the client's api_key) "
            f"first. {rebind}"
        )
    return f"{path} belongs to another run: {'; '.join(problems)}. {rebind}"


def _kind(identity: StoreIdentity) -> tuple[str, str]:
    return identity.rfc_type, identity.request_type


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _create_schema(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    columns = _log_columns(conn)
    if "request_id" not in columns:  # a journal from before the log kept request ids
        conn.execute("ALTER TABLE log ADD COLUMN request_id TEXT")
    if "counts" not in columns:  # ... or counts: its older lines read as unknown
        conn.execute("ALTER TABLE log ADD COLUMN counts TEXT")


def _log_columns(conn: sqlite3.Connection) -> set[str]:
    return {str(row[1]) for row in conn.execute("PRAGMA table_info(log)")}


def _counts(text: object) -> Counts | None:
    """A log line's counts; None when it has none or they cannot be read (unknown)."""
    if not isinstance(text, str):
        return None
    try:
        return _converter.structure(json.loads(text), Counts)
    except (ValueError, TypeError, cattrs.BaseValidationError):
        return None


def _asked(text: object) -> Asked | None:
    """A log line's dates and count; None when it has none (an older line) or they cannot be
    read."""
    if not isinstance(text, str):
        return None
    try:
        asked = _converter.structure(json.loads(text), Asked)
    except (ValueError, TypeError, cattrs.BaseValidationError):
        return None
    return None if asked.start is None or asked.end is None else asked


def _sat_code(text: object) -> int | None:
    """A log line's SAT code; None when it has none (an older line) or it cannot be read."""
    if not isinstance(text, str):
        return None
    try:
        code = json.loads(text).get("sat_code")
    except (ValueError, TypeError, AttributeError):
        return None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _log_holds(text: object) -> tuple[HeldRequest, ...] | None:
    """A log line's holds; None when it has none (an older line) or they cannot be read."""
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text).get("holds")
        if value is None:
            return None
        return _converter.structure(value, tuple[HeldRequest, ...])
    except (ValueError, TypeError, AttributeError, cattrs.BaseValidationError):
        return None


def _log_released(text: object) -> tuple[ReleasedRequest, ...] | None:
    """A log line's released requests; None when it has none (an older line) or they cannot
    be read (unknown)."""
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text).get("released")
        if value is None:
            return None
        if isinstance(value, list):
            # A line written before `foreign` was kept: whether the month had taken the request
            # from outside is unknown, so it counts as taken so (one GET), never as zero.
            value = [
                {**r, "foreign": r.get("foreign", True)} if isinstance(r, dict) else r
                for r in value
            ]
        return _converter.structure(value, tuple[ReleasedRequest, ...])
    except (ValueError, TypeError, AttributeError, cattrs.BaseValidationError):
        return None


def read_log(conn: sqlite3.Connection, key: str | None = None) -> list[LogLine]:
    """The `log` table's lines, oldest first (of one month, or of all). Works on a journal
    opened read-only, also one whose log predates its `request_id` or `counts` column."""
    columns = _log_columns(conn)
    ids = "request_id" if "request_id" in columns else "NULL"
    counts = "counts" if "counts" in columns else "NULL"
    sql = f"SELECT seq, key, stage, reason, {ids}, {counts} FROM log"
    rows = (
        conn.execute(sql + " WHERE key = ? ORDER BY seq", (key,))
        if key is not None
        else conn.execute(sql + " ORDER BY seq")
    ).fetchall()
    return [
        LogLine(
            seq,
            k,
            Stage(stage),
            reason,
            rid,
            _counts(n),
            _asked(n),
            _sat_code(n),
            _log_holds(n),
            *_open(n),
            _log_released(n),
        )
        for seq, k, stage, reason, rid, n in rows
    ]


def _open(text: object) -> tuple[date | None, bool]:
    """A log line's open day and whether it kept one (a line written before: unknown)."""
    if not isinstance(text, str):
        return None, False
    try:
        kept = json.loads(text)
    except ValueError:
        return None, False
    if not isinstance(kept, dict) or "open_day" not in kept:
        return None, False
    day = kept["open_day"]
    if day is None:
        return None, True
    try:
        return date.fromisoformat(str(day)), True
    except ValueError:
        return None, False


def damaged_message(
    path: Path, what: str, identity: StoreIdentity | None, months: tuple[str, ...] = ()
) -> str:
    """What a damaged journal's error says: what is damaged, and the way on that bills nothing
    again: only `months`' records damaged, `journal repair` rewrites them from the log; else a
    new journal adopting each month's request, read from what is left of this one."""
    journal = shell_quote(str(path.parent if path.name == _DEFAULT_NAME else path))
    if months:
        return (
            f"{path} cannot be read as a bulk journal, it is damaged: {what}. Nothing was sent. "
            "Do not just delete it: a new journal requests, and may bill, every month again. "
            f"To go on without billing anything: `gigstack-async journal repair {journal}` "
            f"rewrites only {', '.join(months)} from the journal's log, keeping every other "
            "month (a month the log lists as sent then needs you: `journal adopt` its logged "
            "request, nothing billed); `gigstack-async journal show "
            f"{journal}` shows what is left first. Then run the same command again"
        )
    kind = (
        f"--rfc-type {identity.rfc_type} --type {identity.request_type}"
        if identity is not None
        else "--rfc-type issued|received --type cfdi|metadata"
    )
    aside = shell_quote(f"{path}.damaged")
    return (
        f"{path} cannot be read as a bulk journal, it is damaged: {what}. Nothing was sent. "
        "Do not just delete it: a new journal requests, and may bill, every month again. "
        "To go on without billing anything: "
        f"`gigstack-async journal show {journal}` lists each month's request ids still "
        f"readable in it; move it aside (`mv {shell_quote(str(path))} {aside}`), then attach "
        "each month's request to a new journal, sending nothing: `gigstack-async journal adopt "
        f"{journal} YYYY-MM REQUEST_ID {kind} --yes` (a month with no id listed: find its "
        "request by its dates in `gigstack-async downloads history` or gigstack's dashboard), "
        "and run the same command again"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _write_meta(conn: sqlite3.Connection, identity: StoreIdentity) -> None:
    values: dict[str, Any] = {
        "format": "gigstack-async/bulk-journal",
        "version": FORMAT_VERSION,
        "identity": _converter.unstructure(identity),
    }
    for name, value in values.items():
        conn.execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, json.dumps(value)),
        )


def _read_identity(path: Path, conn: sqlite3.Connection) -> StoreIdentity | None:
    meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    if not meta:
        if conn.execute("SELECT count(*) FROM months").fetchone()[0]:
            raise JournalDamagedError(
                damaged_message(path, "it holds months but no identity", None), path=path
            )
        return None
    try:
        version = json.loads(meta["version"])
        if version != FORMAT_VERSION:
            newer = " (written by a newer gigstack-async: upgrade)" if version > 2 else ""
            raise JournalCorruptError(f"{path}: unsupported journal version {version}{newer}")
        return _converter.structure(json.loads(meta["identity"]), StoreIdentity)
    except (KeyError, ValueError, TypeError, cattrs.BaseValidationError) as exc:
        raise JournalDamagedError(
            damaged_message(path, f"its identity cannot be read ({_first_line(exc)})", None),
            path=path,
        ) from None


def _has_tables(conn: sqlite3.Connection) -> bool:
    """Whether the journal's tables exist. A journal is created with them and its identity
    before it is renamed into place (`_create_complete`), so a journal without them is damaged."""
    row = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    return bool(row[0])


_MONTH_FOLDER = re.compile(r"\d{4}-\d{2}")
_STAGING = ".gigstack-staging"  # bulk.engine.STAGING_DIR (engine imports store)


def run_traces(path: Path, download_to: Path | None = None) -> list[str]:
    """What a run leaves next to its journal, found at `path`'s folder and in `download_to`:
    a `-wal` file holding commits, the staging folder of packages, month folders (YYYY-MM)
    holding anything. Evidence for the message of an emptied journal (`refuse_emptied`), never
    what decides it: a run that only submitted months leaves none of them. Only looked at,
    never changed."""
    found: list[str] = []
    wal = path.with_name(path.name + "-wal")
    with contextlib.suppress(OSError):
        if wal.stat().st_size > 0:
            found.append(f"{wal} (its log of recent commits)")
    folders = dict.fromkeys(p.resolve() for p in (path.parent, download_to) if p is not None)
    for folder in folders:
        with contextlib.suppress(OSError):
            if (folder / _STAGING).exists():
                found.append(str(folder / _STAGING))
            months = sorted(
                entry.name
                for entry in folder.iterdir()
                if _MONTH_FOLDER.fullmatch(entry.name)
                and entry.is_dir()
                and any(True for _ in entry.iterdir())
            )
            if months:
                shown = ", ".join(months[:3]) + (", …" if len(months) > 3 else "")
                found.append(f"{len(months)} month folder(s) with files in {folder} ({shown})")
    return found


def holds_no_journal(path: Path) -> bool:
    """Whether the file at `path` exists but holds no journal yet (0 bytes, or SQLite without
    the journal's tables): emptied or truncated after a run created it (a journal is renamed
    into place complete), so damaged (see `refuse_emptied`). False for a missing file, a
    journal, and a file SQLite cannot read (damaged)."""
    if not path.is_file():
        return False
    if path.stat().st_size == 0:
        return True
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        return not _has_tables(conn)
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def refuse_emptied(
    path: Path, identity: StoreIdentity | None, download_to: Path | None
) -> NoReturn:
    """Raise JournalDamagedError for `path`, an existing file without the journal's tables.

    A journal is created complete under a temporary name and renamed into place
    (`_create_complete`), so such a file was emptied or truncated after a run created it. That
    run may have sent, and been billed for, requests (one that only submitted months and
    stopped leaves nothing else behind): completing it as new could bill them again. What else
    of a run is found (`run_traces`) is named as evidence."""
    traces = run_traces(path, download_to)
    size = path.stat().st_size if path.exists() else 0
    what = f"it holds no journal ({size} bytes, no tables)"
    if traces:
        what += f", yet a run has used it: {'; '.join(traces)}"
    what += (
        ". A journal is created complete and renamed into place, so this one was emptied or "
        "truncated after a run created it, and that run may have sent requests"
    )
    raise JournalDamagedError(damaged_message(path, what, identity), path=path)


def _refuse_unfinished(path: Path) -> None:
    """For reading an existing journal: one that holds no journal is damaged (emptied after a
    run created it), said before SQLite opens it (SQLite drops the `-wal` of an empty file,
    whose bytes `journal show` may still read request ids from)."""
    if holds_no_journal(path):
        refuse_emptied(path, None, None)


def _creating_name(real: Path) -> Path:
    """The temporary name a new journal is created under, in its own folder (so the rename
    cannot cross filesystems). Hidden, and never read as a journal."""
    return real.with_name(f".{real.name}.creating")


def _remove_creating(tmp: Path) -> None:
    """Remove what a run stopped while creating a journal left under its temporary name: it
    never held a month (it had not been renamed into place), so nothing is lost."""
    for name in (tmp.name, tmp.name + "-wal", tmp.name + "-shm", tmp.name + "-journal"):
        with contextlib.suppress(FileNotFoundError):
            (tmp.parent / name).unlink()


def _create_complete(real: Path, identity: StoreIdentity) -> None:
    """Create the journal at `real` (which does not exist; the caller holds its lock) complete:
    tables and identity committed under a temporary name, checkpointed into the main file,
    fsynced, then renamed into place and the folder fsynced. A kill at any point leaves
    either no file at `real` or a complete journal, never a half-created one."""
    tmp = _creating_name(real)
    _remove_creating(tmp)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            with _transaction(conn):
                _create_schema(conn)
                _write_meta(conn, identity)
            # Into the main file: its -wal is not renamed with it.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        fd = os.open(tmp, os.O_RDWR | getattr(os, "O_BINARY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, real)
    except BaseException:
        _remove_creating(tmp)
        raise
    _remove_creating(tmp)  # an empty -wal/-shm SQLite may leave under the temporary name
    fsync_dir(real.parent)


def file_head(path: str | os.PathLike[str]) -> bytes:
    """The first 16 bytes of the file at `path` (fewer if it is shorter): what
    `sqlite_head` reads. Raises OSError."""
    with open(path, "rb") as handle:
        return handle.read(16)


def sqlite_head(head: bytes) -> bool:
    """Whether a file starting with `head` (`file_head`) may be a journal: SQLite's own
    header, or empty (a journal truncated to 0 bytes counts as damaged, not as another file)."""
    return not head or head.startswith(b"SQLite format 3\0")


def _refuse_foreign_file(path: Path, identity: StoreIdentity | None = None) -> None:
    """Refuse the old JSON journal, and anything else that is not SQLite, before touching it."""
    try:
        head = file_head(path)
    except FileNotFoundError:
        return
    if sqlite_head(head):
        return
    if head.lstrip().startswith(b"{"):
        raise JournalCorruptError(
            f"{path} cannot be read as a bulk journal: it looks like the JSON journal of "
            "an older gigstack-async, which this version cannot resume. Keep it (its "
            '"request_id" fields list the requests already billed), move it aside, and attach '
            "each of them without sending anything: `gigstack-async journal adopt "
            f"{shell_quote(str(path))} YYYY-MM REQUEST_ID --rfc-type issued|received` (the "
            "first one creates the new journal at this path), instead of creating them again."
        )
    raise JournalDamagedError(
        damaged_message(path, "it does not start as a SQLite database", identity), path=path
    )
