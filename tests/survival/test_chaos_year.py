"""Group 1 — a chaos year: twelve months downloaded while the sandbox fails a third of all calls.

Fault decisions are seeded per (seed, operation, n-th call of that operation), so the fate of the
k-th create request or the k-th package download is fixed by the seed whatever the interleaving:
the counts recorded for those two operations are reproducible. How many history polls happen
(and so how many of them fail) depends on timing; they are survived but not written down.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from gigstack_async import GigstackClient, MonthResult, PollSchedule
from gigstack_async.bulk.events import BulkEvent, Submitted
from gigstack_async.bulk.store import JournalStore
from gigstack_async.cfdi import parse_cfdi
from gigstack_async.sandbox import FaultConfig, Sandbox, SandboxConfig
from gigstack_async.sandbox.profiles import profile

GROUP = 1
YEAR = ("2024-01", "2024-12")
MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
FAST_POLL = PollSchedule(initial=0.02, factor=1.5, maximum=0.1, jitter=0.0)
SEEDS = (3, 11, 29)
# Each seed also runs against a server that disagrees with the SDK's guesses (issue 9): its
# clock, the unit of `createdAt`, restarting ids, a filtered history, only documented fields.
PROFILES = {
    3: ("clock-ahead", "created-at-seconds"),
    11: ("clock-behind", "created-at-naive-mx", "ids-restart", "cfdi-only-history"),
    29: ("documented-fields", "created-at-iso"),
}
# A package download that failed after it may have been served is never retried in the run
# (review finding 6): each such failure costs a run of "run the same command again".
MAX_RUNS = 10

# The mix, decided before the handler runs (the server did nothing): 20 % 5xx, 5 % 429
# with Retry-After, 5 % dropped connections; plus, of the calls that do reach the handler, 10 %
# whose answer is lost afterwards (the server acted: the billed "did it go through?" case); and
# 0-50 ms of real latency on 30 % of calls.
CHAOS = {
    "error_500_rate": 0.07,
    "error_502_rate": 0.06,
    "error_503_rate": 0.07,
    "rate_limit_rate": 0.05,
    "retry_after_seconds": 1,
    "drop_rate": 0.05,
    "after_drop_rate": 0.04,
    "after_truncate_rate": 0.03,
    "after_502_rate": 0.03,
    "latency_rate": 0.3,
    "latency_seconds": (0.0, 0.05),
}
CREATE = "createDownloadRequest"
PACKAGE = "downloadPackage"


def chaos_sandbox(seed: int) -> Sandbox:
    # package_size=10: several packages per month, so the package path takes many faults too.
    faults = FaultConfig(seed=seed, **CHAOS)  # type: ignore[arg-type]
    disagreeing = profile(*PROFILES[seed])
    return Sandbox(
        SandboxConfig(seed=seed, speed=3000, package_size=10, faults=faults, profile=disagreeing)
    )


async def run_once(
    client: GigstackClient, out: Path, journal: Path, **kwargs: object
) -> list[BulkEvent]:
    run = client.downloads.bulk(
        *YEAR,
        rfc_type="received",
        download_to=out,
        journal=journal,
        poll=FAST_POLL,
        **kwargs,  # type: ignore[arg-type]
    )
    async with run:
        return [event async for event in run]


def handler_ran(sandbox: Sandbox, operation: str) -> int:
    """Calls of `operation` whose handler ran (no fault, or a fault after the handler)."""
    return sum(
        1
        for call in sandbox.state.calls_to(operation)
        if call.fault is None or call.fault.startswith("after_")
    )


def faults_on(sandbox: Sandbox, operation: str) -> Counter[str]:
    return Counter(f.kind for f in sandbox.state.injected_faults if f.operation_id == operation)


@pytest.mark.parametrize("seed", SEEDS)
async def test_chaos_year(
    seed: int,
    tmp_path: Path,
    make_client: Callable[..., GigstackClient],
    find_leftovers: Callable[[Path], list[Path]],
    figures,
) -> None:
    out, journal = tmp_path / "cfdi", tmp_path / "journal.json"
    async with chaos_sandbox(seed) as sandbox:
        client = make_client(sandbox, max_retries=8)
        results: dict[str, MonthResult] = {}
        events: list[BulkEvent] = []
        runs = 0
        for _ in range(MAX_RUNS):
            run_events = await run_once(client, out, journal)
            runs += 1
            events += run_events
            if runs == 1:
                # A run never stops early for one month's trouble (a polling failure, a lost
                # package): the first run already ends every month with a result.
                first = {e.key for e in run_events if isinstance(e, MonthResult)}
                assert first == set(MONTHS), sorted(set(MONTHS) - first)
            results.update({e.key: e for e in run_events if isinstance(e, MonthResult)})
            if all(r.ok for r in results.values()) and len(results) == 12:
                break
            _user_follows_the_hint(sandbox, journal)

        # Every month completes, except where SAT's budget of 2 downloads per package was
        # really spent on deliveries the faults destroyed (the server's counter proves it): such
        # a month needs attention, with a way forward, and no third download was ever sent.
        assert sorted(results) == MONTHS
        served = sandbox.state.downloads_per_package()
        assert max(served.values(), default=0) <= 2
        exhausted = {k for k, r in results.items() if not r.ok}
        # Without `requestType` in the history (documented fields only) a lost create answer
        # cannot be told from a metadata request for the same dates: the month waits for the
        # user (`journal adopt`) instead of being billed twice.
        ambiguous_allowed = True  # the user is asked (see _user_follows_the_hint)
        for key in exhausted:
            result = results[key]
            assert result.stage == "needs-attention", (key, result.error)
            assert result.error is not None
            if ambiguous_allowed and "history cannot tell" in result.error:
                assert "journal adopt" in (result.hint or "")
                continue
            assert "no SAT download left" in result.error
            assert "gigstack-async journal resend" in (result.hint or "")
        # A package GET answered 5xx or cut off may have been served by SAT: the journal counts
        # it (review finding 6), so months may run out of downloads the server did not record.
        # Each exhausted month has a package whose two downloads really left the client, and
        # no package was ever sent a third time.
        counts = _journal_downloads(journal)
        assert all(n <= 2 for per_month in counts.values() for n in per_month.values())
        for key in exhausted:
            if "no SAT download left" in (results[key].error or ""):
                assert 2 in counts[key].values(), (key, counts[key])
        package_gets = sandbox.state.calls_to(PACKAGE)
        refunded = sum(1 for c in package_gets if c.status == 429)
        assert sum(n for per in counts.values() for n in per.values()) >= len(package_gets) - (
            refunded
        )
        # (The server's own counter may show fewer: its 5xx came before the handler, which a
        # client cannot tell from a gateway error after SAT served the package.)

        # Each month was created exactly once, and no create request that the server handled
        # was ever sent again (a blind retry would show up here even when the server answers
        # it as a duplicate).
        state = sandbox.state
        created = Counter(
            (str(r.criteria.start_date), str(r.criteria.end_date)) for r in state.download_requests
        )
        assert len(created) == 12
        assert set(created.values()) == {1}
        assert handler_ran(sandbox, CREATE) == 12
        assert [c.subject for c in state.charges] == [r.request_id for r in state.download_requests]
        assert not [e for e in events if isinstance(e, Submitted) and e.duplicate]

        # The UUIDs written are exactly the ground truth, each once, each where it belongs.
        expected = {
            f"{r.criteria.start_date:%Y-%m}/{uuid}.xml"
            for r in state.download_requests
            if f"{r.criteria.start_date:%Y-%m}" not in exhausted
            for uuid in r.uuids
        }
        written = sorted(
            p.relative_to(out).as_posix()
            for p in out.rglob("*")
            if p.is_file() and p.relative_to(out).parts[0] not in {*exhausted, ".gigstack-staging"}
        )
        assert len(written) == len(set(written))
        assert set(written) == expected
        stems = [Path(name).stem for name in written]
        assert len(stems) == len(set(stems))  # no UUID in two months
        for name in written:
            assert parse_cfdi((out / name).read_bytes()).uuid == Path(name).stem
        assert sum(r.invoice_count or 0 for k, r in results.items() if k not in exhausted) == len(
            expected
        )

        # Nothing partial: no temp, hidden or empty file; the journal says every month is done.
        # (an exhausted month keeps its staged packages: the durable copies of spent downloads)
        assert [p for p in find_leftovers(out) if ".gigstack-staging" not in p.parts] == []
        assert not list(tmp_path.glob(".*.tmp"))
        with JournalStore.open_existing(journal) as reopened:
            stages = {s.key: s.stage.value for s in reopened.states()}
            assert {v for k, v in stages.items() if k not in exhausted} <= {"done", "empty"}
            assert not any(s.staged for s in reopened.states() if s.key not in exhausted)

        # The faults really happened, on the money path and the package path.
        create_faults, package_faults = faults_on(sandbox, CREATE), faults_on(sandbox, PACKAGE)
        assert sum(create_faults.values()) >= 2
        assert sum(package_faults.values()) >= 5
        assert len(state.fault_counts()) >= 4  # several kinds, not one

        create_calls = len(state.calls_to(CREATE))
        package_calls = len(state.calls_to(PACKAGE))
        deterministic_faults = sum(create_faults.values()) + sum(package_faults.values())
        figures.row(
            GROUP,
            "Per seed (create and package figures are fixed by the seed)",
            f"seed {seed:02d}",
            **{
                "server disagreeing": sandbox.config.profile.describe(),
                "months completed": f"{sum(r.ok for r in results.values())}/12",
                "runs": runs,
                "requests created (server)": len(state.download_requests),
                "create calls": create_calls,
                "create faults": _kinds(create_faults),
                "package calls": package_calls,
                "package faults": _kinds(package_faults),
                "UUIDs verified": len(expected),
            },
        )
        # Measured, not implied: a faulted package GET counts as recovered only if the same
        # package was delivered later (it can be less than the faults: a spent budget).
        calls = state.calls
        recovered = sum(
            1
            for i, call in enumerate(calls)
            if call.fault is not None
            and call.operation_id == PACKAGE
            and any(
                later.path == call.path and later.fault is None and later.status == 200
                for later in calls[i + 1 :]
            )
        )
        figures.add(GROUP, "Faults injected", deterministic_faults)
        figures.add(GROUP, "Faulted package downloads delivered later", recovered)
        figures.add(GROUP, "Bulk runs used (all seeds)", runs)
        figures.add(GROUP, "Files verified", len(expected))
        figures.add(GROUP, "Months completed", len(results))
        figures.add(GROUP, "Create requests sent", create_calls)
        figures.add(GROUP, "Create requests handled by the server", handler_ran(sandbox, CREATE))


def _kinds(counts: Counter[str]) -> str:
    return ", ".join(f"{kind}×{n}" for kind, n in sorted(counts.items())) or "none"


async def test_transient_create_refusals_never_bill_twice(
    tmp_path: Path, make_client: Callable[..., GigstackClient]
) -> None:
    async with Sandbox(SandboxConfig(seed=5, speed=3000)) as sandbox:
        # Three 503s in a row before the handler: nothing is created, and the history proves it.
        sandbox.state.force_fault(CREATE, "503", times=3)
        client = make_client(sandbox)
        run = client.downloads.bulk(
            "2024-01",
            "2024-01",
            rfc_type="received",
            download_to=tmp_path / "cfdi",
            journal=tmp_path / "journal.json",
            poll=FAST_POLL,
            concurrency=1,
        )
        async with run:
            results = [e async for e in run if isinstance(e, MonthResult)]
        # Nothing newer than the attempt shows in the history, so it cannot prove the create
        # absent (it may lag): the month waits for the user, who finds nothing and resends.
        assert len(sandbox.state.download_requests) == 0
        assert [r.stage for r in results] == ["needs-attention"], [r.error for r in results]
        assert f"journal resend {tmp_path / 'journal.json'} 2024-01" in (results[0].hint or "")
        for _ in range(3):  # each of the three 503s costs the user one look at the dashboard
            _user_follows_the_hint(sandbox, tmp_path / "journal.json")
            again = client.downloads.bulk(
                "2024-01", "2024-01", rfc_type="received", download_to=tmp_path / "cfdi",
                journal=tmp_path / "journal.json", poll=FAST_POLL, concurrency=1,
            )  # fmt: skip
            async with again:
                results = [e async for e in again if isinstance(e, MonthResult)]
            if results[0].ok:
                break
        assert len(sandbox.state.download_requests) == 1  # never double-billed
        assert [r.ok for r in results] == [True], [r.error for r in results]


def _user_follows_the_hint(sandbox: Sandbox, journal: Path) -> None:
    """What `journal show` asks of the user when the history cannot tell: look the month up in
    gigstack's dashboard (here: the sandbox's own records), then `journal adopt` or `resend`."""
    from gigstack_async.bulk import machine as m

    with JournalStore.open_existing(journal) as store:
        for state in store.states():
            if state.stage is not m.Stage.NEEDS_ATTENTION or not state.unknown:
                continue
            mine = [
                r.request_id
                for r in sandbox.state.download_requests
                if (r.criteria.start_date, r.criteria.end_date) == (state.start, state.end)
                and r.criteria.request_type == state.request_type
                and r.request_id not in state.known_ids
            ]
            obs: m.Observation = m.Adopt(mine[-1]) if mine else m.AllowResend()
            store.put(m.transition(state, obs)[0])


def _journal_downloads(journal: Path) -> dict[str, dict[str, int]]:
    """Package downloads the journal counted, per month and package."""
    import json
    import sqlite3

    with contextlib.closing(sqlite3.connect(journal)) as db:
        rows = db.execute("select state from months").fetchall()
    states = [json.loads(text) for (text,) in rows]
    return {s["key"]: dict(s["downloads"]) for s in states}
