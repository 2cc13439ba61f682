"""Model-based test of the month state machine against a fake server that disagrees with us.

Hypothesis drives `transition` and a small in-memory gigstack/SAT through random interleavings:
creates that are lost before or after the server acted, refused creates, history calls that
lag, crashes that drop everything in flight and restart from the persisted state (at any
transition), truncated package downloads, a full disk, SAT 5004/5003/5002/5007/5008, noise
requests from other tools, and server profiles (documented fields only, a history of 20, 3, 2
or 1 entries, which fill up: full histories, kept newest by creation, by period or by last
status change, which the docs leave open; duplicate detection on or off), and a server whose
request ids restart onto ids
the journal knows (review 9b #2: its old requests are gone; packages, named by SAT, are not
reused; a package of another request is refused by its content before extraction).
Invariants, checked after every step:

- the server created each month at most once, plus once per resend the user explicitly allowed;
- SAT never served a package more than twice, and no package was ever requested (GET) more than
  twice, plus once per extra GET the user allowed (`journal retry-download`), which is offered
  only while a counted download may not have reached SAT (a GET lost before or after the
  server acted);
- a finished month's files equal the server's ground truth;
and at the end every month is done, empty, failed with a reason, or needs attention with a
way forward.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from gigstack_async.bulk import machine as m
from gigstack_async.bulk.store import JournalStore, StoreIdentity

MONTHS = {
    "2024-01": (date(2024, 1, 1), date(2024, 1, 31)),
    "2024-02": (date(2024, 2, 1), date(2024, 2, 29)),
    "2024-03": (date(2024, 3, 1), date(2024, 3, 31)),
}
IDENTITY = StoreIdentity(
    team="team_model",
    base_url="https://fake.invalid/v2",
    key_fingerprint="0" * 16,
    rfc=None,
    rfc_type="received",
    request_type="cfdi",
)


@attrs.define
class Req:
    id: str
    rfc_type: str
    request_type: str
    start: date
    end: date
    ours: bool
    created_at: str = ""
    status: str = "pending"
    packages: dict[str, frozenset[str]] = attrs.field(factory=dict)
    message: str | None = None
    fails_with: str | None = None
    """SAT's answer that fails the request once it is processed (5005 reported as a failure)."""
    changed: int = 0
    """The server's instant of its last status change (a history kept by `updated`)."""
    visible_from: float = 0.0
    """Real time (s) from which the history lists it: a create answered 502 while gigstack
    still writes it shows up late, after later creates (review 9l #1)."""


class FakeServer:
    """gigstack + SAT, reduced to what the month machine can observe."""

    def __init__(self, profile: dict[str, object], truth: dict[str, frozenset[str]]) -> None:
        self.profile = profile
        self.truth = truth  # month key -> CFDI uuids in that month
        self.requests: list[Req] = []  # oldest first
        self.gone: list[Req] = []  # requests of a server whose ids restarted
        self.ids = itertools.count(100)
        self.clock = itertools.count(1_700_000_000_000)
        self.epoch = 0
        self.downloads: Counter[str] = Counter()
        self.gets: Counter[str] = Counter()  # GETs that reached gigstack, served or not
        self.third_downloads: list[str] = []
        self.expired: set[str] = set()
        self.real = 0.0
        """Real time in seconds (late records show up by it)."""

    def history(self) -> tuple[m.Seen, ...]:
        """The newest `history_window` requests, newest first: by creation, period or last
        status change (`history_order`; ties: the most recently created first)."""
        window = int(self.profile["history_window"])  # type: ignore[call-overload]
        newest = [r for r in reversed(self.requests) if r.visible_from <= self.real]
        order = self.profile.get("history_order", "created")
        if order == "period":
            newest.sort(key=lambda r: (r.start, r.end), reverse=True)
        elif order == "updated":
            newest.sort(key=lambda r: r.changed, reverse=True)
        return tuple(self.seen(r, history=True) for r in newest[:window])

    def new_req(self, start: date, end: date, request_type: str, *, ours: bool) -> Req:
        now = next(self.clock)
        return Req(
            str(next(self.ids)), "received", request_type, start, end, ours, str(now), changed=now
        )

    def seen(self, req: Req, *, history: bool) -> m.Seen:
        documented = bool(self.profile["documented_only"])
        count = sum(len(u) for u in req.packages.values()) if req.status == "completed" else None
        return m.Seen(
            id=req.id,
            status=req.status,
            rfc_type=req.rfc_type if history else None,
            request_type=None if documented or not history else req.request_type,
            start=req.start if history else None,
            end=req.end if history else None,
            invoice_count=None if (documented and history) else count,
            package_ids=None
            if (documented and history) or req.status != "completed"
            else tuple(req.packages),
            message=req.message,
            created_at=req.created_at if history else None,
        )

    def create(
        self, key: str, *, ours: bool = True, request_type: str = "cfdi"
    ) -> tuple[str, bool]:
        start, end = MONTHS[key]
        if self.profile["dedupe"]:
            for req in self.requests:
                same = (req.start, req.end, req.request_type) == (start, end, request_type)
                if same and req.status not in ("failed", "expired"):
                    return req.id, True
        req = self.new_req(start, end, request_type, ours=ours)
        self.requests.append(req)
        return req.id, False

    def made_before(self, count: int, periods: str) -> None:
        """`count` finished requests of other periods, oldest first: before the months
        (`older`), after them (`newer`: a history kept by period then never lists the months),
        both, alternating (`mixed`), or growing parts of February, 2024-02-01..02-01+i
        (`february-parts`: kept by period, they rank between January and February, in the
        order they were made, so such a history looks like one kept by creation)."""
        for i in range(count):
            newer = periods == "newer" or (periods == "mixed" and i % 2 == 1)
            start = date(2024, 4 + i % 9, 1) if newer else date(2023, 1 + i % 12, 1)
            end = date(start.year + start.month // 12, start.month % 12 + 1, 1) - timedelta(days=1)
            if periods == "february-parts":
                start, end = date(2024, 2, 1), date(2024, 2, 1) + timedelta(days=i % 28)
            req = self.new_req(start, end, "cfdi", ours=False)
            req.status, req.changed = "completed", next(self.clock)
            self.requests.append(req)

    def create_failing(self, key: str, message: str) -> str:
        """A request of ours that SAT fails with `message` (no deduplication: gigstack passed
        it on to SAT)."""
        start, end = MONTHS[key]
        req = self.new_req(start, end, "cfdi", ours=True)
        req.fails_with = message
        self.requests.append(req)
        return req.id

    def live_identical(self, key: str) -> list[Req]:
        """The month's cfdi requests, anyone's, still active for SAT (what makes it say 5005)."""
        start, end = MONTHS[key]
        return [
            r
            for r in self.requests
            if (r.start, r.end, r.request_type) == (start, end, "cfdi")
            and r.status not in ("failed", "expired")
            and r.fails_with is None
        ]

    def advance(self, req: Req) -> None:
        before = req.status
        self._advance(req)
        if req.status != before:
            req.changed = next(self.clock)

    def _advance(self, req: Req) -> None:
        if req.status == "pending":
            req.status = "processing"
        elif req.status == "processing" and req.fails_with is not None:
            req.status, req.message = "failed", req.fails_with
        elif req.status == "processing":
            uuids = self.truth[self.month_of(req)] if req.request_type == "cfdi" else frozenset()
            if not uuids and self.profile["sat_5004"]:
                req.status, req.message = "failed", "SAT 5004: no se encontró información"
            else:
                req.status = "completed"
                ordered = sorted(uuids)
                half = len(ordered) // 2
                parts = [ordered[:half], ordered[half:]] if half else [ordered] if ordered else []
                # Named by SAT, whose ids do not restart with gigstack's.
                req.packages = {
                    f"P{self.epoch}.{req.id}-{i}": frozenset(p) for i, p in enumerate(parts)
                }

    def month_of(self, req: Req) -> str:
        return next(k for k, (s, e) in MONTHS.items() if (s, e) == (req.start, req.end))

    def fetch(self, package_id: str) -> frozenset[str] | int:
        """The package's uuids, or a SAT error code."""
        if self.downloads[package_id] >= m.DOWNLOAD_BUDGET:
            self.third_downloads.append(package_id)
            return 5008
        self.downloads[package_id] += 1
        if package_id in self.expired:
            return 5007
        for req in self.requests:
            if package_id in req.packages:
                return req.packages[package_id]
        if any(package_id in req.packages for req in self.gone):
            return 5007  # gone with the server whose ids restarted
        raise AssertionError(f"unknown package {package_id}")

    def restart_ids(self) -> None:
        """A new server state: the old requests are gone and ids start again from 100."""
        self.gone += self.requests
        self.requests = []
        self.ids = itertools.count(100)
        self.epoch += 1

    def billed_for(self, key: str) -> int:
        start, end = MONTHS[key]
        return sum(
            1
            for r in (*self.gone, *self.requests)
            if r.ours and (r.start, r.end) == (start, end) and r.request_type == "cfdi"
        )

    def ours_for(self, key: str) -> list[Req]:
        start, end = MONTHS[key]
        return [
            r
            for r in self.requests
            if r.ours and (r.start, r.end) == (start, end) and r.request_type == "cfdi"
        ]


# The model's crash is a close and reopen of a real journal, ~1,500 per run: on a disk each
# costs SQLite's fsyncs (checkpoint on close, FULL sync on open), ~30 of the test's ~40 s. In
# memory (tmpfs) the same SQL runs; only the flushes to a device are gone, and no power cut is
# modelled here (a killed process leaves the WAL either way).
_SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


LAG = 10.0
"""Seconds a late record may take to show up in the model's history (`record_lag`): the machine
has no clock and never waits for it (a history that does not list a create proves nothing)."""


class MonthMachineModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.queue: list[tuple[str, m.Command]] = []
        self.generation = 0
        self.allowed: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()  # extra GETs the user allowed, per package
        self.disk: dict[str, set[str]] = {k: set() for k in MONTHS}
        self.staged_data: dict[str, frozenset[str]] = {}
        self.tmp = Path(__import__("tempfile").mkdtemp(prefix="machine-model-", dir=_SCRATCH))
        self.store: JournalStore | None = None
        self.created: set[str] = set()
        self.stale: tuple[tuple[m.Seen, ...], int] | None = None
        self.told_5005: set[str] = set()

    @initialize(
        documented_only=st.booleans(),
        history_window=st.sampled_from([2, m.HISTORY_WINDOW, 3, 1]),
        history_order=st.sampled_from(["created", "period", "updated"]),
        dedupe=st.booleans(),
        sat_5004=st.booleans(),
        sizes=st.lists(st.integers(0, 3), min_size=3, max_size=3),
        fan=st.booleans(),
        outcomes=st.lists(
            st.sampled_from(["lost_after", "ok", "ok", "lost_before", "5005", "5005-failed"]),
            min_size=3,
            max_size=3,
        ),
        made_elsewhere=st.sampled_from([None, None, *MONTHS]),
        prior=st.sampled_from([0, 19, 20, 23]),
        prior_periods=st.sampled_from(["older", "newer", "mixed", "february-parts"]),
        record_lag=st.sampled_from([0.0, 4.0, LAG, 1000.0]),
    )
    def setup(
        self,
        documented_only: bool,
        history_window: int,
        dedupe: bool,
        sat_5004: bool,
        sizes: list[int],
        fan: bool,
        outcomes: list[str],
        made_elsewhere: str | None = None,
        history_order: str = "created",
        prior: int = 0,
        prior_periods: str = "older",
        record_lag: float = 0.0,
    ) -> None:
        truth = {
            key: frozenset(f"{key}-{i}" for i in range(n))
            for key, n in zip(MONTHS, sizes, strict=True)
        }
        profile: dict[str, object] = {
            "documented_only": documented_only,
            "history_window": history_window,
            "history_order": history_order,
            "dedupe": dedupe,
            "sat_5004": sat_5004,
            "record_lag": record_lag,
        }
        self.server = FakeServer(profile, truth)
        self.store = JournalStore.open(self.tmp / "journal.sqlite3", IDENTITY)
        self.store.ensure(
            [m.MonthState(key, s, e, "received", "cfdi") for key, (s, e) in MONTHS.items()]
        )
        # Requests the account made before (finished, received cfdi, other periods): with 19 or
        # more the history is full, or fills up with the run's first creates.
        self.server.made_before(prior, prior_periods)
        if made_elsewhere is not None:
            # That month's cfdi request was made from the dashboard: SAT may answer 5005.
            self.server.create(made_elsewhere, ours=False)
        self.restart()
        if fan:  # half the runs open the way the engine does: the whole fan-out first
            self.fan_out(outcomes)

    def teardown(self) -> None:
        try:
            if self.store is not None:
                try:
                    self.finish()
                finally:
                    self.store.close()
        finally:  # also when setup never ran: no empty folder is left behind
            __import__("shutil").rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------ plumbing

    def state(self, key: str) -> m.MonthState:
        assert self.store is not None
        return self.store.get(key)

    def feed(self, key: str, obs: m.Observation) -> None:
        assert self.store is not None
        old = self.state(key)
        new, commands = m.transition(old, obs)
        if old.stage is m.Stage.DUPLICATE and new.stage is m.Stage.NEEDS_ATTENTION:
            self.told_5005.add(key)  # the run's result tells the user (see `resolve`)
        # Persisted before any command runs. No fsync: the model's crash is a close and reopen
        # (what a killed process leaves: the WAL), and it keeps hundreds of examples fast.
        self.store.put(new, fsync=False)
        # Invariant (review #11): a package is fetched only for a request checked in this run.
        assert new.checked or not any(isinstance(c, m.FetchPackage) for c in commands), new
        self.queue.extend((key, c) for c in commands)

    def restart(self, *user: str) -> None:
        """A crash: everything in flight is lost; the next run starts from the store.

        The user follows the hints of the months `user` in between: `journal adopt|resend`
        take the journal's lock, so they never land inside a run."""
        assert self.store is not None
        self.store.close()
        self.store = JournalStore.open(self.tmp / "journal.sqlite3", IDENTITY)
        self.queue.clear()
        self.stale = None  # a history call in flight dies with the process
        for key in user:
            self.resolve(key)
        for key in MONTHS:
            self.feed(key, m.Start())

    def records(self) -> tuple[m.KnownRequest, ...]:
        """What the journal saw of every month's requests (as the engine passes it)."""
        return tuple(r for k in MONTHS for r in self.state(k).records)

    def history_ids(self) -> tuple[str, ...]:
        self.generation += 1
        return tuple(s.id for s in self.server.history())

    def pop(self, index: int, kind: type) -> tuple[str, m.Command] | None:
        matching = [i for i, (_k, c) in enumerate(self.queue) if isinstance(c, kind)]
        if not matching:
            return None
        return self.queue.pop(matching[index % len(matching)])

    # ------------------------------------------------------------ rules

    @rule(key=st.sampled_from(list(MONTHS)))
    def send(self, key: str) -> None:
        if self.state(key).stage is m.Stage.PLANNED:
            # The history call that gave "before" may answer late: keep it for `late_history`.
            self.generation += 1
            self.stale = (self.server.history(), self.generation)
            ids = tuple(s.id for s in self.stale[0])
            self.feed(key, m.Send(ids, self.generation))

    @rule()
    def late_history(self) -> None:
        """A history answer that was taken before the latest create arrives only now."""
        if self.stale is None:
            return
        entries, generation = self.stale
        expected = tuple({i for k in MONTHS for i in self.state(k).known_ids})
        for key in MONTHS:
            self.feed(
                key,
                m.HistorySeen(
                    entries,
                    generation,
                    expected=expected,
                    records=self.records(),
                ),
            )

    @rule(key=st.sampled_from(list(MONTHS)))
    def noise_burst(self, key: str) -> None:
        """Other tools create several requests at once (pushing older ones out of a short
        history)."""
        for other in MONTHS:
            self.server.create(other, ours=False, request_type="metadata")
        self.server.create(key, ours=False, request_type="metadata")

    @rule(
        index=st.integers(0, 5),
        outcome=st.sampled_from(
            [
                "ok",
                "ok",
                "lost_after",
                "lost_before",
                "unreadable",
                "not_sent",
                "refused",
                "5003",
                "5005",
                "5005-failed",
            ]
        ),
    )
    def perform_create(self, index: int, outcome: str) -> None:
        item = self.pop(index, m.SendCreate)
        if item is None:
            return
        key, _command = item
        self.create(key, outcome)

    @rule(
        outcomes=st.lists(
            st.sampled_from(["lost_after", "ok", "ok", "lost_before", "not_sent"]),
            min_size=3,
            max_size=3,
        )
    )
    def fan_out(self, outcomes: list[str]) -> None:
        """The engine's fan-out: every planned month is sent and answered before the next
        history call, so a short history may already have dropped an early lost create
        behind the later ones (review 9b #1)."""
        for key, outcome in zip(MONTHS, outcomes, strict=True):
            if self.state(key).stage is not m.Stage.PLANNED:
                continue
            self.send(key)
            queued = [
                i for i, (k, c) in enumerate(self.queue) if k == key and isinstance(c, m.SendCreate)
            ]
            if queued:
                self.queue.pop(queued[0])
                self.create(key, outcome)

    def create(self, key: str, outcome: str) -> None:
        if outcome == "ok":
            request_id, duplicate = self.server.create(key)
            if not duplicate:
                self.created.add(request_id)
            self.feed(key, m.Created(request_id, duplicate))
        elif outcome == "lost_after":
            request_id, duplicate = self.server.create(key)
            if not duplicate:  # gigstack still writes it: listed late (review 9l #1)
                lag = float(self.server.profile.get("record_lag", 0.0))  # type: ignore[arg-type]
                self.server.requests[-1].visible_from = self.server.real + lag
            self.feed(key, m.CreateUnknown("502 Bad Gateway", self.generation))
        elif outcome == "unreadable":  # a 2xx whose body cannot be read: it exists
            self.server.create(key)
            self.feed(key, m.CreateUnknown("2xx, body unreadable", self.generation, exists=True))
        elif outcome == "not_sent":  # every attempt failed to connect: the server saw nothing
            self.feed(key, m.CreateNotSent("cannot connect"))
        elif outcome == "lost_before":
            self.feed(key, m.CreateUnknown("connection reset", self.generation))
        elif outcome.startswith("5005") and not self.server.live_identical(key):
            self.create(key, "ok")  # SAT says 5005 only while an identical request is active
        elif outcome == "5005":  # gigstack refuses the create with SAT's code (a GUESS)
            self.feed(key, m.CreateRefused("HTTP 400: SAT 5005: Solicitud duplicada", 5005))
        elif outcome == "5005-failed":  # ... or creates it, and it fails (the other GUESS)
            request_id = self.server.create_failing(key, "SAT 5005: Solicitud duplicada")
            self.created.add(request_id)
            self.feed(key, m.Created(request_id))
        elif outcome == "refused":
            self.feed(key, m.CreateRefused("HTTP 403: Descarga Masiva is not active"))
        else:
            self.feed(key, m.CreateRefused("SAT 5003: demasiados CFDI", 5003))

    @rule(key=st.sampled_from(list(MONTHS)))
    def noise(self, key: str) -> None:
        """Another tool of the same team asks for the same dates' metadata."""
        self.server.create(key, ours=False, request_type="metadata")

    @rule(key=st.sampled_from(list(MONTHS)))
    def elsewhere(self, key: str) -> None:
        """The month's own cfdi request, made from gigstack's dashboard (SAT 5005 for ours)."""
        self.server.create(key, ours=False)

    @rule(steps=st.integers(0, 3))
    def tick(self, steps: int) -> None:
        for req in self.server.requests:
            for _ in range(steps):
                self.server.advance(req)
        self.generation += 1
        entries = self.server.history()
        # Every request id the journal knows (as the engine passes it).
        expected = tuple({i for k in MONTHS for i in self.state(k).known_ids})
        for key in MONTHS:
            self.feed(
                key,
                m.HistorySeen(
                    entries,
                    self.generation,
                    expected=expected,
                    records=self.records(),
                ),
            )

    @rule()
    def sat_finishes_everything(self) -> None:
        """SAT finishes every request, then a polling round sees it (reaches packages fast)."""
        self.tick(3)
        for _ in range(3):  # answer the status calls that round asked for
            self.perform_status(0, fail=False)

    @rule(index=st.integers(0, 5), fail=st.booleans())
    def perform_status(self, index: int, fail: bool) -> None:
        item = self.pop(index, m.FetchStatus)
        if item is None:
            return
        key, command = item
        assert isinstance(command, m.FetchStatus)
        req = next((r for r in self.server.requests if r.id == command.request_id), None)
        if fail or req is None:
            self.feed(key, m.PollFailed("HTTP 404", not_found=req is None))
        else:
            self.feed(key, m.StatusSeen(self.server.seen(req, history=False)))

    @rule(
        index=st.integers(0, 5),
        outcome=st.sampled_from(
            ["ok", "ok", "truncated", "unsent", "staged-then-killed", "lost_before", "lost_after"]
        ),
    )
    def perform_fetch(self, index: int, outcome: str) -> None:
        item = self.pop(index, m.FetchPackage)
        if item is None:
            return
        key, command = item
        assert isinstance(command, m.FetchPackage)
        if outcome == "unsent":
            return  # killed while the download waited for a slot: nothing counted, nothing sent
        before = self.state(key).downloads_of(command.package_id)
        self.feed(key, m.PackageSending(command.package_id))
        if self.state(key).downloads_of(command.package_id) <= before:
            return  # refused before sending
        state = self.state(key)
        self.server.gets[command.package_id] += 1
        if outcome == "lost_before":  # a 500 before the server acted: SAT served nothing
            self.feed(key, m.PackageFailed(command.package_id, "HTTP 500"))
            return
        got = self.server.fetch(command.package_id)
        owner = next((r for r in self.server.requests if command.package_id in r.packages), None)
        if owner is not None and (
            self.server.month_of(owner) != key or owner.request_type != "cfdi"
        ):
            # Only an id the user vouched for (`journal adopt`) that the history does not show
            # may name another request after ids restarted; its content refuses it below.
            assert state.confirmed_id == state.request_id, (key, owner, state)
        if isinstance(got, int):
            self.feed(key, m.PackageFailed(command.package_id, f"SAT {got}", code=got))
        elif outcome == "truncated":  # a 200 that broke off: SAT served it
            self.feed(key, m.PackageFailed(command.package_id, "truncated ZIP", reached=True))
        elif outcome == "lost_after":  # SAT served it, the answer was lost: unknown to us
            self.feed(key, m.PackageFailed(command.package_id, "HTTP 502"))
        else:
            path = f"{key}/{command.package_id}.zip"
            self.staged_data[path] = got
            if outcome == "staged-then-killed":
                self.restart()  # on disk, never recorded: the next run must find it
                return
            staged = m.StagedFile(command.package_id, path, "a" * 64, len(got))
            self.feed(key, m.PackageStaged(staged))

    @rule(index=st.integers(0, 5))
    def perform_find_staged(self, index: int) -> None:
        item = self.pop(index, m.FindStaged)
        if item is None:
            return
        key, command = item
        assert isinstance(command, m.FindStaged)
        path = f"{key}/{command.package_id}.zip"
        got = self.staged_data.get(path)
        if got is None:
            self.feed(key, m.StagedMissing(command.package_id))
        else:
            staged = m.StagedFile(command.package_id, path, "a" * 64, len(got))
            self.feed(key, m.PackageStaged(staged))

    @rule(index=st.integers(0, 5))
    def download_fails_then_crash(self, index: int) -> None:
        """A truncated package followed by a restart: the pattern that used to spend SAT's
        download budget (scenario 4)."""
        self.perform_fetch(index, "truncated")
        self.restart()

    @rule(index=st.integers(0, 5), disk_full=st.booleans())
    def perform_extract(self, index: int, disk_full: bool) -> None:
        item = self.pop(index, m.ExtractPackage)
        if item is None:
            return
        key, command = item
        assert isinstance(command, m.ExtractPackage)
        uuids = self.staged_data[command.path]  # the staged copy survives crashes
        if not uuids <= self.server.truth[key]:
            # bulk.content.package_mismatch: CFDIs issued outside the month.
            self.feed(key, m.ContentRejected(command.package_id, "issued outside the month"))
            return
        if disk_full:
            self.disk[key] |= set(sorted(uuids)[:1])  # a partial extraction
            self.feed(key, m.ExtractFailed(command.package_id, "No space left on device"))
        else:
            self.disk[key] |= uuids
            self.feed(key, m.Extracted(command.package_id, tuple(sorted(uuids))))

    @rule(index=st.integers(0, 5))
    def perform_housekeeping(self, index: int) -> None:
        for kind in (m.DeleteStaged, m.Warn):
            self.pop(index, kind)

    @rule(key=st.sampled_from(list(MONTHS)))
    def expire_packages(self, key: str) -> None:
        for req in self.server.ours_for(key):
            self.server.expired |= set(req.packages)

    @rule()
    def crash(self) -> None:
        self.restart()

    @rule(seconds=st.sampled_from([1.0, 4.0, LAG, 3 * LAG]))
    def time_passes(self, seconds: float) -> None:
        self.server.real += seconds

    @rule()
    def server_ids_restart(self) -> None:
        """The server's request ids restart: new requests reuse ids the journal knows.

        A new server state, met by a new run (the SDK trusts a create answer for the rest of
        the run that received it)."""
        self.server.restart_ids()
        self.restart()

    @precondition(lambda self: any(s.stage is m.Stage.NEEDS_ATTENTION for s in self._states()))
    @rule(key=st.sampled_from(list(MONTHS)))
    def user_follows_hint(self, key: str) -> None:
        """The run ends (or is stopped), the user follows the month's hint, and runs again."""
        self.restart(key)

    def _states(self) -> list[m.MonthState]:
        return [self.state(k) for k in MONTHS] if self.store is not None else []

    def resolve(self, key: str) -> None:
        """What a careful user does with `gigstack-async journal show`, `adopt` and `resend`."""
        state = self.state(key)
        looking = state.stage is m.Stage.DUPLICATE or (
            state.stage is m.Stage.NEEDS_ATTENTION and state.resume_to is m.Stage.DUPLICATE
        )
        if key in self.told_5005 and looking:
            # SAT 5005 and the history did not show which request (the last run said so; the
            # month waits to look again, or a crash left it looking): the user finds the active
            # one in the dashboard, or resends once there is none.
            self.told_5005.discard(key)
            live = self.server.live_identical(key)
            if live:
                self.feed(key, m.Adopt(live[-1].id))
            else:
                self.resend(key)
            return
        if (
            state.stage is m.Stage.NEEDS_ATTENTION
            and state.resume_to is not None
            and not (state.checked and state.typed)
            and state.request_id is not None
            and any(r.id == state.request_id for r in self.server.ours_for(key))
        ):
            # The journaled request fell out of the history: the user checks it in the
            # dashboard and confirms it.
            self.feed(key, m.Adopt(state.request_id))
            return
        if state.stage is m.Stage.NEEDS_ATTENTION and state.resume_to is not None:
            return  # "run the same command again" — a restart does it
        if state.stage is m.Stage.NEEDS_ATTENTION and state.blocked_package is not None:
            # The hint's first, free way: one more GET (`journal retry-download`), offered only
            # while a counted download may not have reached SAT.
            package_id = state.blocked_package
            assert state.unsure_of(package_id) > 0, state
            assert state.sure_of(package_id) < m.DOWNLOAD_BUDGET, state
            self.retries[package_id] += 1
            self.feed(key, m.AllowDownload())
            return
        if state.stage not in (m.Stage.NEEDS_ATTENTION, m.Stage.EXPIRED):
            return
        unknown_to_month = [r for r in self.server.ours_for(key) if r.id not in state.known_ids]
        if state.unknown and unknown_to_month:
            self.feed(key, m.Adopt(unknown_to_month[-1].id))
        elif state.unknown and state.stage is m.Stage.NEEDS_ATTENTION and self._in_flight(key):
            return
        else:
            self.resend(key)

    def resend(self, key: str) -> None:
        """`journal resend`. After 2 creates for exactly the month's dates it is refused (SAT
        answers a third identical request 5002, for good: newcomer 9g #5); this model's server
        accepts any number, so the user who read the refusal passes --force."""
        state = self.state(key)
        third = m.third_identical(state) is not None
        if third:
            with pytest.raises(m.TransitionError, match="SAT 5002"):
                m.transition(state, m.AllowResend())
        self.allowed[key] += 1
        self.feed(key, m.AllowResend(force=third))

    def _in_flight(self, key: str) -> bool:
        return any(k == key and isinstance(c, m.SendCreate) for k, c in self.queue)

    # ------------------------------------------------------------ invariants

    @invariant()
    def never_billed_twice(self) -> None:
        if self.store is None:
            return
        for key in MONTHS:
            created = self.server.billed_for(key)
            assert created <= 1 + self.allowed[key], (key, created, self.allowed[key])

    @invariant()
    def never_a_third_download(self) -> None:
        if self.store is None:
            return
        # SAT serves twice at most; every GET beyond two is one the user allowed.
        assert all(n <= m.DOWNLOAD_BUDGET for n in self.server.downloads.values())
        for package_id, gets in self.server.gets.items():
            assert gets <= m.DOWNLOAD_BUDGET + self.retries[package_id], (package_id, gets)
        for package_id in set(self.server.third_downloads):
            refused = self.server.third_downloads.count(package_id)
            assert refused <= self.retries[package_id], (package_id, refused)

    @invariant()
    def finished_months_hold_the_truth(self) -> None:
        if self.store is None:
            return
        for key in MONTHS:
            state = self.state(key)
            if state.stage is m.Stage.DONE:
                assert set(state.files) == self.server.truth[key]
                assert self.disk[key] >= self.server.truth[key]
            if state.stage is m.Stage.EMPTY:
                assert not self.server.truth[key]

    # ------------------------------------------------------------ the end

    def finish(self) -> None:
        """Let the server finish and the user run the command again until nothing is left."""
        for _ in range(60):
            states = self._states()
            if all(s.settled and s.stage is not m.Stage.NEEDS_ATTENTION for s in states) and all(
                s.stage is not m.Stage.EXPIRED for s in states
            ):
                break
            for req in self.server.requests:
                for _ in range(3):
                    self.server.advance(req)
            self.time_passes(LAG)  # late records show up
            self.restart(*MONTHS)
            for key in MONTHS:
                self.send(key)
            for _ in range(12):
                for _ in range(m.CHECK_MISSES):  # as many polls as a run makes
                    if not self.queue:
                        self.tick(0)
                if not self.queue:
                    break
                key, command = self.queue[0]
                if isinstance(command, m.SendCreate):
                    self.perform_create(0, "ok")
                elif isinstance(command, m.FetchStatus):
                    self.perform_status(0, fail=False)
                elif isinstance(command, m.FetchPackage):
                    self.perform_fetch(0, "ok")
                elif isinstance(command, m.ExtractPackage):
                    self.perform_extract(0, disk_full=False)
                elif isinstance(command, m.FindStaged):
                    self.perform_find_staged(0)
                else:
                    self.queue.pop(0)
            self.never_billed_twice()
            self.never_a_third_download()
            self.finished_months_hold_the_truth()
        for state in self._states():
            assert state.settled, state
            if state.stage is m.Stage.SAT_FAILED:
                assert state.reason, state
                assert state.hint, state
            if state.stage is m.Stage.NEEDS_ATTENTION:
                assert state.hint, state
            if state.stage is m.Stage.DONE:
                assert set(state.files) == self.server.truth[state.key]
                assert not state.staged


# Under `make mutate` (mutmut sets MUTANT_UNDER_TEST) each mutant of machine.py runs this test:
# a lighter, still derandomized search keeps the run to minutes, as in `make test-floor` (the
# `floor` profile: that run checks the oldest dependencies, the main run beside it searches);
# `make test` runs the full one (derandomized under CI, random elsewhere), `make fuzz` a larger
# random one (tests/conftest.py).
_LIGHT = (
    bool(os.environ.get("MUTANT_UNDER_TEST")) or os.environ.get("HYPOTHESIS_PROFILE") == "floor"
)
_PROFILE = settings.default
MonthMachineModel.TestCase.settings = settings(
    max_examples=40 if _LIGHT else max(300, _PROFILE.max_examples),
    stateful_step_count=25 if _LIGHT else 50,
    derandomize=_LIGHT or _PROFILE.derandomize,
    database=None if _LIGHT or _PROFILE.derandomize else _PROFILE.database,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMonthMachine = MonthMachineModel.TestCase


# Replays of the review 9b disagreements through the same model (random search finds them
# rarely: the whole fan-out must go out before the first history call).


@pytest.mark.parametrize("window", [1, 2, 3])
@pytest.mark.parametrize(
    "outcomes",
    [["lost_after", "ok", "ok"], ["lost_before", "ok", "ok"], ["ok", "lost_after", "ok"]],
)
def test_replay_a_short_history_behind_the_fan_out(window: int, outcomes: list[str]) -> None:
    model = MonthMachineModel()
    model.setup(
        documented_only=False,
        history_window=window,
        dedupe=False,
        sat_5004=False,
        sizes=[1, 1, 1],
        fan=True,
        outcomes=outcomes,
    )
    model.tick(0)
    model.never_billed_twice()
    model.teardown()  # runs until every month settles, checking the invariants


@pytest.mark.parametrize("order", ["created", "period", "updated"])
@pytest.mark.parametrize("prior_periods", ["older", "newer", "mixed", "february-parts"])
@pytest.mark.parametrize(
    "outcomes",
    [["lost_before", "ok", "ok"], ["lost_after", "ok", "ok"], ["ok", "lost_before", "lost_after"]],
)
@pytest.mark.parametrize("documented_only", [False, True])
def test_replay_a_lost_create_behind_a_full_history(
    order: str, prior_periods: str, outcomes: list[str], documented_only: bool
) -> None:
    """20 earlier requests keep the history full: whatever the history keeps the newest of,
    a lost create is never resent by the history (a full one proves nothing, review 9l), it
    is billed at most once plus the resends the user allowed, and every month settles."""
    model = MonthMachineModel()
    model.setup(
        documented_only=documented_only,
        history_window=m.HISTORY_WINDOW,
        dedupe=False,
        sat_5004=False,
        sizes=[1, 1, 1],
        fan=True,
        outcomes=outcomes,
        history_order=order,
        prior=20,
        prior_periods=prior_periods,
    )
    model.tick(0)
    model.never_billed_twice()
    if outcomes[0] in ("lost_before", "lost_after"):
        # a history never proves a create absent: January waits for the user, or is adopted
        state = model.state("2024-01")
        assert state.stage is not m.Stage.PLANNED, state
    model.teardown()  # runs until every month settles, checking the invariants
    assert model.server.billed_for("2024-01") <= 1 + model.allowed["2024-01"]


@pytest.mark.parametrize("documented_only", [False, True])
def test_replay_ids_restarting_onto_known_ids(documented_only: bool) -> None:
    model = MonthMachineModel()
    model.setup(
        documented_only=documented_only,
        history_window=m.HISTORY_WINDOW,
        dedupe=False,
        sat_5004=False,
        sizes=[2, 0, 1],
        fan=True,
        outcomes=["ok", "ok", "ok"],
    )
    model.tick(1)  # each month's createdAt is seen and recorded
    model.server_ids_restart()  # a new run meets a server whose ids start again
    model.noise_burst("2024-01")  # other requests now answer to the months' old ids
    model.tick(3)
    model.never_billed_twice()
    for key in MONTHS:
        assert model.state(key).stage is not m.Stage.DONE
    model.teardown()


# Replays of what the random `server_ids_restart` rule found (shrunk by hand from its traces).


def test_replay_ids_restart_before_any_history_never_makes_a_month_empty() -> None:
    """The months are created, the server's ids restart before any history was seen, and other
    tools' metadata requests take the old ids. Without `requestType` (documented fields only)
    the metadata request under 2024-03's old id shows the month's dates; its `createdAt`,
    first seen now, must not later vouch that it is the month's kind: it would make 2024-03
    `empty` on a metadata request's count of 0, while SAT holds one CFDI."""
    model = MonthMachineModel()
    model.setup(
        documented_only=True,
        history_window=m.HISTORY_WINDOW,
        dedupe=False,
        sat_5004=False,
        sizes=[0, 0, 1],
        fan=True,
        outcomes=["ok", "ok", "ok"],
    )
    model.server_ids_restart()
    model.noise_burst("2024-01")
    model.teardown()  # runs until every month settles, checking the invariants


def test_replay_a_completed_request_id_that_fails_after_ids_restart_never_hangs() -> None:
    """The months are created and a run sees them finish (2024-02 completed with one CFDI,
    the others SAT 5004); then the server's ids restart and metadata requests, which SAT
    answers 5004, take the old ids. 2024-02's request 101 "fails" after it had completed:
    that is another request under its id. It used to wait for packages forever
    (`completed`, never settled); it needs the user, and a resend gets its CFDI."""
    model = MonthMachineModel()
    model.setup(
        documented_only=True,
        history_window=m.HISTORY_WINDOW,
        dedupe=False,
        sat_5004=True,
        sizes=[0, 1, 0],
        fan=True,
        outcomes=["ok", "ok", "ok"],
    )
    model.crash()  # the next run cannot vouch for its requests' kind (documented fields only)
    model.tick(3)
    model.server_ids_restart()
    model.noise_burst("2024-03")
    model.teardown()  # runs until every month settles, checking the invariants


def test_replay_an_adopted_id_reused_before_the_next_run_never_makes_a_month_empty() -> None:
    """2024-02's create answered 502 after the server created it (101); the user finds 101 in
    the dashboard and adopts it; then the server's ids restart and 101 names a metadata
    request for February. The next run took the user's word for the new 101 and reported
    2024-02 empty on its count of 0, while SAT holds one CFDI. The candidate's `createdAt`
    seen when the month needed the user shows the id names another request now."""
    model = MonthMachineModel()
    model.setup(
        documented_only=True,
        history_window=m.HISTORY_WINDOW,
        dedupe=False,
        sat_5004=False,
        sizes=[0, 1, 0],
        fan=True,
        outcomes=["lost_after", "lost_after", "ok"],
    )
    model.late_history()  # 100 and 101 are candidates for both months: the user is asked
    model.user_follows_hint("2024-02")  # adopts 101
    model.server_ids_restart()
    model.noise_burst("2024-02")
    model.tick(0)
    model.teardown()  # runs until every month settles, checking the invariants


def test_replay_an_unknown_create_is_never_proven_absent_across_an_ids_restart() -> None:
    """2024-01 is created (100); 2024-02's create answers 502 after the server created it
    (101). Then the server's ids restart: another tool's metadata request for January is the
    new 100, and the next run's March create is the new 101. The history [101 March, 100
    January] looked like a proof that 2024-02's create never arrived: 100 was listed before it
    and one of this run's creates after it. It is not the 100 the snapshot listed (another
    `createdAt`), so nothing is proven: 2024-02 is not sent again (it was billed)."""
    model = MonthMachineModel()
    model.setup(
        documented_only=True,
        history_window=m.HISTORY_WINDOW,
        dedupe=False,
        sat_5004=False,
        sizes=[1, 1, 1],
        fan=False,
        outcomes=["ok", "ok", "ok"],
    )
    model.send("2024-01")
    model.perform_create(0, "ok")
    model.send("2024-02")
    model.perform_create(0, "lost_after")
    model.server_ids_restart()
    model.noise("2024-01")
    model.send("2024-03")
    model.perform_create(0, "ok")
    model.tick(0)
    model.never_billed_twice()
    assert model.state("2024-02").stage is not m.Stage.PLANNED
    model.teardown()  # runs until every month settles, checking the invariants


@pytest.mark.parametrize("outcome", ["5005", "5005-failed"])
@pytest.mark.parametrize("documented_only", [False, True])
def test_replay_sat_5005_for_a_request_made_elsewhere(outcome: str, documented_only: bool) -> None:
    """January's cfdi request was made from gigstack's dashboard; SAT answers the month's
    create 5005, as a refusal or as a failed request (both GUESSES). The month follows the
    active request (or the user adopts it when the history cannot show it) and gets its CFDIs;
    nothing is sent again without the user (`never_billed_twice`)."""
    model = MonthMachineModel()
    model.setup(
        documented_only=documented_only,
        history_window=m.HISTORY_WINDOW,
        dedupe=False,
        sat_5004=False,
        sizes=[2, 0, 1],
        fan=False,
        outcomes=["ok", "ok", "ok"],
    )
    model.elsewhere("2024-01")
    active = model.server.requests[-1].id
    model.send("2024-01")
    key, _command = model.queue.pop()
    assert key == "2024-01"
    model.create(key, outcome)
    model.tick(1)
    model.tick(3)
    assert model.server.billed_for("2024-01") == (1 if outcome == "5005-failed" else 0)
    model.never_billed_twice()
    model.teardown()  # runs until every month settles, checking the invariants
    state = model.state("2024-01")
    assert (state.stage, state.request_id) == (m.Stage.DONE, active)
    assert set(state.files) == model.server.truth["2024-01"]
    assert model.allowed["2024-01"] == 0  # never resent: the active request was followed
    assert state.creates == 1  # the create SAT answered 5005, and no other


@pytest.mark.parametrize(
    ("first", "second", "creates"),
    [
        ("lost_before", "lost_before", 1),  # the newcomer's case: SAT never served it
        ("lost_after", "lost_before", 1),
        ("lost_after", "lost_after", 2),  # SAT served it twice: 5008, then the resend
    ],
)
def test_replay_two_gets_lost_get_one_more_on_the_users_word(
    first: str, second: str, creates: int
) -> None:
    """Newcomer 9c #1: both GETs of 2024-01's package fail without a byte, before or after
    the server acted. The month stops and offers one more GET; the user allows it. If SAT
    served the package less than twice, that GET gets it and nothing is created again;
    otherwise SAT answers 5008 (nothing billed) and only then is the month resent."""
    model = MonthMachineModel()
    model.setup(
        documented_only=False,
        history_window=m.HISTORY_WINDOW,
        dedupe=False,
        sat_5004=False,
        sizes=[1, 0, 0],
        fan=True,
        outcomes=["ok", "ok", "ok"],
    )
    model.sat_finishes_everything()
    model.perform_fetch(0, first)
    model.restart()
    model.tick(0)  # the next run checks the request again, then fetches
    model.perform_fetch(0, second)
    state = model.state("2024-01")
    package_id = state.blocked_package
    assert package_id is not None, state
    assert state.stage is m.Stage.NEEDS_ATTENTION
    model.restart()
    model.tick(0)
    assert not any(isinstance(c, m.FetchPackage) for _k, c in model.queue)  # not by itself
    model.resolve("2024-01")
    assert model.retries[package_id] == 1
    model.teardown()  # runs until every month settles, checking the invariants
    assert model.server.gets[package_id] == 3
    assert model.server.billed_for("2024-01") == creates
    assert model.allowed["2024-01"] == creates - 1  # a resend only after SAT's 5008
    assert model.server.third_downloads == ([package_id] if creates == 2 else [])


def test_replay_an_adopted_id_restarted_under_noise_never_makes_a_month_empty() -> None:
    """Every create answers 502 after the server created it (100, 101, 102); a late history
    read shows them all, and the user adopts 2024-02's. Then the server's ids restart and
    other tools' metadata requests take the old ids: the new 101 is a metadata request for
    2024-01. SAT finishes everything; the documented history gives no request type and no
    invoice count, so the 0 of a request that is not the month's must never make 2024-02
    `empty` while SAT holds one CFDI for it."""
    model = MonthMachineModel()
    model.setup(
        documented_only=True,
        history_window=2,
        dedupe=False,
        sat_5004=False,
        sizes=[0, 1, 0],
        fan=False,
        outcomes=["lost_after"] * 3,
    )
    model.fan_out(["lost_after"] * 3)
    model.late_history()
    model.user_follows_hint("2024-02")
    model.server_ids_restart()
    model.noise_burst("2024-01")
    model.sat_finishes_everything()
    model.finished_months_hold_the_truth()
    model.teardown()  # runs until every month settles, checking the invariants


def test_replay_an_adopted_empty_month_settles_once_the_user_confirms_it() -> None:
    """CI's random search (2026-11-30): every create answers 502 after the server created it,
    SAT finishes each request with no CFDIs, and the documented history gives no request
    type, so no month may be reported empty on a guess. The user confirms 2024-01's own
    request (`journal adopt`, between runs: the journal is locked during one), and the next
    run must report the month empty, not ask for the same confirmation again forever."""
    model = MonthMachineModel()
    model.setup(
        documented_only=True,
        history_window=m.HISTORY_WINDOW,
        dedupe=False,
        sat_5004=False,
        sizes=[0, 0, 0],
        fan=True,
        outcomes=["lost_after"] * 3,
    )
    model.sat_finishes_everything()
    model.user_follows_hint("2024-01")
    model.tick(0)
    model.finish()
    try:
        assert [model.state(k).stage for k in MONTHS] == [m.Stage.EMPTY] * 3
        # One confirmation per month: the run after it took the user's word.
        assert all(model.server.billed_for(k) == 1 for k in MONTHS)
    finally:
        model.teardown()


@pytest.mark.parametrize("lag", [0.0, 4.0, LAG, LAG + 5, 1000.0])
def test_replay_a_lost_create_listed_late(lag: float) -> None:
    """January's create is made, answered 502, and listed only `lag` seconds later, after
    February's (review 9l #1). No history proves it absent, however long it lags (earlier
    versions resent it once a 600 s grace had passed): January is billed once, adopted from the
    history once listed, and needs the user meanwhile; the user adopts it from the dashboard."""
    model = MonthMachineModel()
    model.setup(
        documented_only=False,
        history_window=m.HISTORY_WINDOW,
        dedupe=False,
        sat_5004=False,
        sizes=[1, 1, 1],
        fan=True,
        outcomes=["lost_after", "ok", "ok"],
        prior=1,
        record_lag=lag,
    )
    for _ in range(8):
        model.tick(0)
        model.never_billed_twice()
        model.time_passes(2.0)
        model.send("2024-01")  # sends only a month in `planned`: never this one
        for index in range(3):
            model.perform_create(index, "ok")
    assert model.server.billed_for("2024-01") == 1
    state = model.state("2024-01")
    listed = lag <= 14.0  # the last history above was read 14 s in
    assert (state.stage is not m.Stage.NEEDS_ATTENTION) is listed, state
    model.teardown()
    assert model.allowed["2024-01"] == 0
    assert model.server.billed_for("2024-01") == 1
