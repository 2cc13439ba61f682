"""Scenario 5: a year of SAT downloads as 12 concurrent monthly requests against the sandbox.

The sandbox runs in its own process (`benchmarks.sandbox_process`); its simulated clock runs
`SPEED`× real time, and its lifecycle (no jitter) completes every request `L` real seconds after
it is created. `client.downloads.bulk(...)` with a fast
`PollSchedule` must finish in about L (the months run concurrently), not 12 × L, and poll with
ONE history call per tick however many months are open.

Ticks are counted by wrapping `gigstack_async.bulk.engine._Run.tick` (the engine's one poll
per tick) in this process; HTTP calls are what the sandbox recorded (`sandbox.state.calls`,
read from its process at the end of each run).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import gigstack_async.bulk.engine as engine
from benchmarks.harness import Context
from benchmarks.sandbox_process import SandboxProcess
from benchmarks.stats import Figure, Ratio, ScenarioResult, Target
from gigstack_async import BulkEvent, GigstackClient, MonthResult, PollSchedule, StateChanged

KEY = "fanout"
TITLE = "5. Fan-out: a year of Descarga Masiva against the sandbox"
PEER = "gigstack_async `downloads.bulk`"
SPEED = 100.0
WALL_LIMIT = 1.15  # issue 9: a year of concurrent months within 15 % of one month
POLL = PollSchedule(initial=0.05, factor=1.5, maximum=0.1, jitter=0.0)
POLLING_OPERATIONS = ("getDownloadHistory", "getDownloadRequestStatus")


class TickCounter:
    """Wraps the engine's polling round (`_Run.tick`: one per tick) and the client's `history`
    and `status` methods, to count the polling calls each tick makes."""

    def __init__(self, client: GigstackClient) -> None:
        self.downloads = client.downloads
        self.polling_calls: list[int] = []
        self.watched: list[int] = []
        self._in_tick = 0
        self._original: Callable[..., Awaitable[Any]] = engine._Run.tick

    def _counted(self, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._in_tick += 1
            return await method(*args, **kwargs)

        return wrapper

    def _tick(self) -> Callable[..., Awaitable[Any]]:
        counter = self

        async def tick(run: Any) -> Any:
            watched = len([k for k in run.keys if k not in run.reported and run._watched(k)])
            counter._in_tick = 0
            try:
                return await counter._original(run)
            finally:
                if counter._in_tick:  # a round with nothing to watch sends nothing
                    counter.polling_calls.append(counter._in_tick)
                    counter.watched.append(watched)

        return tick

    def __enter__(self) -> TickCounter:
        setattr(engine._Run, "tick", self._tick())  # noqa: B010
        # Instance attributes shadow the methods for this client only.
        for name in ("history", "status"):
            setattr(self.downloads, name, self._counted(getattr(self.downloads, name)))
        return self

    def __exit__(self, *exc_info: object) -> None:
        setattr(engine._Run, "tick", self._original)  # noqa: B010
        for name in ("history", "status"):
            delattr(self.downloads, name)


class TailProbe:
    """Where the time after polling goes: package requests, extraction (in threads) and the
    fsyncs inside it. Wraps `engine.extract_staged`, `os.fsync` and `downloads.fetch_package_to`
    in this process for the duration of one run; the durations are summed over concurrent work."""

    def __init__(self, client: GigstackClient) -> None:
        self.downloads = client.downloads
        self.lock = threading.Lock()
        self.package_seconds = 0.0
        self.extract_seconds = 0.0
        self.fsync_seconds = 0.0
        self.fsync_calls = 0
        self._extract: Callable[..., Any] = getattr(engine, "extract_staged")  # noqa: B009
        self._fsync = os.fsync

    def _timed_extract(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self._extract(*args, **kwargs)
        finally:
            with self.lock:
                self.extract_seconds += time.perf_counter() - started

    def _timed_fsync(self, fd: Any) -> None:
        started = time.perf_counter()
        try:
            self._fsync(fd)
        finally:
            with self.lock:
                self.fsync_seconds += time.perf_counter() - started
                self.fsync_calls += 1

    def _timed_package(
        self, method: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                self.package_seconds += time.perf_counter() - started

        return wrapper

    def __enter__(self) -> TailProbe:
        setattr(engine, "extract_staged", self._timed_extract)  # noqa: B010
        os.fsync = self._timed_fsync
        fetch = self._timed_package(self.downloads.fetch_package_to)
        setattr(self.downloads, "fetch_package_to", fetch)  # noqa: B010
        return self

    def __exit__(self, *exc_info: object) -> None:
        setattr(engine, "extract_staged", self._extract)  # noqa: B010
        os.fsync = self._fsync
        delattr(self.downloads, "fetch_package_to")


async def one_run(sandbox: SandboxProcess, year: int, months: int, scratch: Path) -> dict[str, Any]:
    """One bulk download of `months` months of `year` against a running sandbox.

    `scratch` is a new, empty folder for this run's files. They are deleted only after every
    round (see `run`): on ext4, a file created soon after many were deleted nearby costs a
    scan past the recently freed inodes, so a cleanup between rounds would slow the next
    round's extraction with work a user's download never has.
    """
    calls_before = len(sandbox.calls())
    async with GigstackClient(sandbox.api_key, base_url=sandbox.base_url) as client:
        run = client.downloads.bulk(
            f"{year}-01",
            f"{year}-{months:02d}",
            rfc_type="received",
            download_to=Path(scratch) / "cfdi",
            poll=POLL,
        )
        events: list[BulkEvent] = []
        last_completed = 0.0
        with TickCounter(client) as ticks, TailProbe(client) as tail:
            started = time.perf_counter()
            async with run:
                async for event in run:
                    events.append(event)
                    if isinstance(event, StateChanged) and event.state == "completed":
                        last_completed = time.perf_counter() - started
            wall = time.perf_counter() - started
    calls = Counter(operation for operation, _status in sandbox.calls()[calls_before:])
    results = [event for event in events if isinstance(event, MonthResult)]
    floor = file_creation_floor(results, Path(scratch) / "floor")
    polling = calls["getDownloadHistory"] + calls["getDownloadRequestStatus"]
    return {
        "wall": wall,
        "last_completed": last_completed,
        "months_ok": sum(1 for result in results if result.ok),
        "months": len(results),
        "ticks": len(ticks.polling_calls),
        "max_polling_calls_per_tick": max(ticks.polling_calls, default=0),
        "server_polling_calls_per_tick": polling / len(ticks.polling_calls)
        if ticks.polling_calls
        else float("nan"),
        "max_months_per_tick": max(ticks.watched, default=0),
        # Engine-independent: however the engine counts its own rounds, the server sees at
        # most one polling call per poll interval (POLL.initial is the shortest) while polling.
        "server_polling_budget": last_completed / POLL.initial + 2,
        "server_polling_calls": polling,
        "history_calls": calls["getDownloadHistory"],
        "status_calls": calls["getDownloadRequestStatus"],
        "create_calls": calls["createDownloadRequest"],
        "package_calls": calls["downloadPackage"],
        "files": sum(len(result.files) for result in results),
        "package_seconds": tail.package_seconds,
        "extract_seconds": tail.extract_seconds,
        "fsync_seconds": tail.fsync_seconds,
        "fsync_calls": tail.fsync_calls,
        "file_floor": floor,
    }


def file_creation_floor(results: list[MonthResult], folder: Path) -> float:
    """Seconds to write the run's CFDI files again, the same sizes in the same number of new
    month folders on the same disk, with nothing but `os.open`/`os.write`/`os.close` (no temp
    name, no rename, no fsync, no verification): the disk's own share of the download tail,
    measured right after the run so that both see the filesystem in the same state."""
    sizes = [[path.stat().st_size for path in result.files] for result in results]
    blob = b"x" * max((size for month in sizes for size in month), default=0)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    started = time.perf_counter()
    for index, month in enumerate(sizes):
        month_folder = folder / f"{index:02d}"
        month_folder.mkdir(parents=True)
        for number, size in enumerate(month):
            fd = os.open(month_folder / f"{number:06d}.xml", flags, 0o666)
            try:
                os.write(fd, blob[:size])
            finally:
                os.close(fd)
    return time.perf_counter() - started


async def run(ctx: Context) -> ScenarioResult:
    sizes = ctx.sizes
    latency = sizes.fanout_latency
    runs: dict[int, list[dict[str, Any]]] = {months: [] for months in sizes.fanout_months}
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as outputs:
        for round_ in range(sizes.fanout_rounds):
            # One fresh sandbox per round; each month count downloads a different year, so no
            # request of one run is a duplicate of another's.
            with SandboxProcess(latency, SPEED) as sandbox:
                for offset, months in enumerate(sizes.fanout_months):
                    scratch = Path(outputs) / f"round-{round_}-{months}"
                    scratch.mkdir()
                    runs[months].append(await one_run(sandbox, 2024 - offset, months, scratch))

    peers = [f"{PEER}, {months} months" for months in sizes.fanout_months]
    result = ScenarioResult(
        key=KEY,
        title=TITLE,
        setup=(
            "The sandbox (`gigstack_async.sandbox`) in its own process (it builds the ZIP "
            "packages: that CPU must not land on the client's event loop; like SAT, it generates "
            "each request's packages once, while the request is processing, and serves that file "
            "on every download), a fresh one per round, "
            f"simulated clock at {SPEED:g}× real time; lifecycle "
            f"pending → accepted → processing → completed in {latency * SPEED:g} simulated s "
            f"(10 % / 20 % / 70 %), jitter 0, so every request completes L = {latency:g} s "
            "(real) after it is created. `client.downloads.bulk('YYYY-01', 'YYYY-MM', "
            "rfc_type='received', download_to=tmp)` with `PollSchedule(initial=0.05, "
            "factor=1.5, maximum=0.1, jitter=0)` and the default concurrency (4), packages "
            f"downloaded and extracted. {sizes.fanout_rounds} run(s) per month count, each into "
            "a new empty folder; every run's files are deleted only after the last round (on "
            "ext4, creating files soon after hundreds were deleted nearby costs a scan past the "
            "freed inodes: a cleanup between rounds slowed the next round's extraction, a cost "
            "of the harness, not of a user's download). Wall: from "
            "the first iteration to the last event; `last completed` is when the last "
            "`StateChanged(completed)` arrived (polling done), the rest is downloading and "
            "extracting packages. Polling calls per tick: counted in the client per tick, and "
            "checked against the sandbox's own call log (history + status calls ÷ ticks)."
        ),
        peers=peers,
    )
    for months, label in zip(sizes.fanout_months, peers, strict=True):
        rows = runs[months]

        def values(key: str, rows: list[dict[str, Any]] = rows) -> list[float]:
            return [float(row[key]) for row in rows]

        result.figures += [
            Figure(label, "wall time", "s", values("wall"), digits=2),
            Figure(label, "wall ÷ L", "×", [w / latency for w in values("wall")], digits=2),
            Figure(
                label,
                "last completed ÷ L",
                "×",
                [w / latency for w in values("last_completed")],
                digits=2,
            ),
            Figure(
                label,
                "download tail",
                "s",
                [w - c for w, c in zip(values("wall"), values("last_completed"), strict=True)],
                digits=2,
            ),
            Figure(label, "months completed", "months", values("months_ok")),
            Figure(label, "ticks", "ticks", values("ticks")),
            Figure(
                label, "most months polled in one tick", "months", values("max_months_per_tick")
            ),
            Figure(label, "getDownloadHistory calls", "calls", values("history_calls")),
            Figure(label, "getDownloadRequestStatus calls", "calls", values("status_calls")),
            Figure(
                label,
                "polling calls per tick (max)",
                "calls",
                values("max_polling_calls_per_tick"),
            ),
            Figure(
                label,
                "sandbox polling calls ÷ ticks",
                "calls",
                values("server_polling_calls_per_tick"),
                digits=2,
            ),
            Figure(label, "createDownloadRequest calls", "calls", values("create_calls")),
            Figure(label, "downloadPackage calls", "calls", values("package_calls")),
            Figure(label, "CFDI files written", "files", values("files")),
            Figure(label, "package requests, summed", "s", values("package_seconds"), digits=2),
            Figure(
                label,
                "extract_package, summed over threads",
                "s",
                values("extract_seconds"),
                digits=2,
            ),
            Figure(
                label,
                "the same files written plainly (disk floor)",
                "s",
                values("file_floor"),
                digits=2,
            ),
            Figure(label, "os.fsync calls", "", values("fsync_calls")),
            Figure(label, "os.fsync, summed over threads", "s", values("fsync_seconds"), digits=2),
        ]
    main = sizes.fanout_months[0]
    wall_ratio = Ratio(
        f"wall ÷ L, {main} months",
        [row["wall"] / latency for row in runs[main]],
        target=f"≤ {WALL_LIMIT}",
    )
    wall_ratio.met = wall_ratio.series.median <= WALL_LIMIT
    sequential = Ratio(
        f"wall ÷ ({main} × L), {main} months (1/{main} would be perfectly concurrent)",
        [row["wall"] / (main * latency) for row in runs[main]],
    )
    polling_done = Ratio(
        f"last completed ÷ L, {main} months (polling alone, before package downloads)",
        [row["last_completed"] / latency for row in runs[main]],
    )
    result.ratios += [wall_ratio, polling_done, sequential]
    result.notes.append(
        "The download tail is a fixed cost that depends on the package sizes and the disk, not "
        "on L: real SAT requests take minutes to hours, so there it vanishes; with a toy L of "
        "seconds it shows."
    )
    if not wall_ratio.met:
        result.details = explain(runs[main], latency, main)
    worst_tick = max(row["max_polling_calls_per_tick"] for rows in runs.values() for row in rows)
    server_ratio = max(
        row["server_polling_calls_per_tick"] for rows in runs.values() for row in rows
    )
    complete = all(row["months_ok"] == row["months"] for rows in runs.values() for row in rows)
    over_budget = [
        (row["server_polling_calls"], row["server_polling_budget"])
        for rows in runs.values()
        for row in rows
        if row["server_polling_calls"] > row["server_polling_budget"]
    ]
    most = max(
        row["server_polling_calls"] / row["server_polling_budget"]
        for rows in runs.values()
        for row in rows
    )
    result.targets += [
        Target(
            f"{main} months: wall ≤ {WALL_LIMIT} × L (L = {latency:g} s)",
            f"{wall_ratio.series.median:.2f} × L (median; max {wall_ratio.series.high:.2f})",
            bool(wall_ratio.met),
            ratio=True,
        ),
        Target(
            "one polling HTTP call per tick, whatever the number of months",
            f"max {worst_tick} per tick (sandbox log: {server_ratio:.2f} per tick) over "
            + ", ".join(f"{m} months" for m in sizes.fanout_months),
            worst_tick == 1 and abs(server_ratio - 1.0) < 1e-9,
        ),
        Target(
            "at the server, at most one polling call per poll interval while polling "
            "(counted in the sandbox's log, not by the engine's own idea of a tick)",
            f"highest use of that budget: {most:.0%}"
            + (f"; over budget: {over_budget}" if over_budget else ""),
            not over_budget,
        ),
        Target("every month completed and downloaded", "yes" if complete else "no", complete),
    ]
    return result


def explain(rows: list[dict[str, Any]], latency: float, months: int) -> str:
    """Why the whole run takes longer than L: the timeline after polling, from the probes."""

    def median(key: str) -> float:
        return statistics.median(float(row[key]) for row in rows)

    tail = statistics.median(row["wall"] - row["last_completed"] for row in rows)
    fsync_calls = median("fsync_calls")
    return "\n".join(
        [
            "#### Why: the run's timeline",
            "",
            f"- Polling is done (the last `StateChanged(completed)`) at "
            f"{median('last_completed') / latency:.2f} × L: the {months} requests run "
            "concurrently and one history call per tick sees them all complete.",
            f"- Then {tail:.2f} s of package work, all of it after the last completion because "
            "every request completes at the same instant here (jitter 0): "
            f"{months} package requests ({median('package_seconds'):.2f} s summed, "
            f"{int(median('files'))} CFDIs, streamed to staged ZIPs), and `extract_staged` in "
            f"worker threads ({median('extract_seconds'):.2f} s summed), of which "
            f"{median('fsync_seconds'):.2f} s is {fsync_calls:,.0f} `os.fsync` calls "
            "(the staged ZIP is the durable copy, so extracted files are not fsynced one by one).",
            f"- The disk's own share: writing the same {int(median('files'))} files again with "
            "plain `os.open`/`os.write`/`os.close` into new folders on the same disk, right "
            f"after each run, takes {median('file_floor'):.2f} s (median; "
            f"{min(float(row['file_floor']) for row in rows):.2f}–"
            f"{max(float(row['file_floor']) for row in rows):.2f}): the tail minus that floor "
            "is the SDK's own package work (requests, verification, reading, journal).",
            (
                f"- Measured to the last completion, the run is within {WALL_LIMIT} × L "
                f"({median('last_completed') / latency:.2f} × L); the whole run misses it by the "
                f"download tail ({tail:.2f} s)."
                if median("last_completed") / latency <= WALL_LIMIT
                else f"- Even polling alone (to the last completion) takes over {WALL_LIMIT} × L."
            ),
        ]
    )
