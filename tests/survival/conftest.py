"""The survival suite (issue: prove it survives): shared fixtures, and docs/reliability.md.

Tests record what they did through the `figures` fixture (faults injected, requests survived,
bad inputs tried, files verified...). At the end of a run that covered the whole test suite
(`make test`), with every survival test passed or a known bug xfailed, `docs/reliability.md` is
written from those figures and the outcome of every survival test. Nothing in it depends on the
clock or on timing, so a rerun with the same seeds writes the same file; figures that DO depend
on timing (how often a poll happened to hit a fault) are asserted but never written down.

Set GIGSTACK_RELIABILITY_DOC=1 to write the file after a partial run too (say
`pytest tests/survival`), or =0 to never write it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from gigstack_async import GigstackClient, Timeout
from gigstack_async._config import RetryPolicy
from gigstack_async.sandbox import Sandbox

SURVIVAL = Path(__file__).resolve().parent
TESTS = SURVIVAL.parent
REPO = TESTS.parent
DOC = REPO / "docs" / "reliability.md"

GROUPS: dict[int, tuple[str, str, str]] = {
    1: (
        "Chaos year",
        "test_chaos_year.py",
        "A 12-month bulk download (`downloads.bulk`, concurrency 4) against the sandbox while it "
        "injects seeded faults into every operation, each seed against a server that "
        "disagrees with the SDK's guesses (column 'server disagreeing': clock, createdAt unit, "
        "omitted fields, restarting ids, filtered history). Asserted: the first run ends every "
        "month with a result, and every month that is not done prints its way out; re-running "
        "with the same journal and doing what it prints (`journal adopt` of the request the "
        "dashboard shows, `journal retry-download` when a package's two counted downloads may "
        "not both have reached SAT, `journal resend` when SAT's two downloads of a package were "
        "spent on deliveries the faults destroyed) every month ends done, except where SAT's "
        "limit of identical requests answers a resend with 5002 (its printed way out: other "
        "dates); SAT served no package a third time, no package was requested more than twice "
        "plus the extra GETs the user allowed, and no month was created more than once plus "
        "the resends the user confirmed; "
        "the UUIDs written are exactly the sandbox's ground truth, each once, each in its "
        "month's folder and each file a parseable CFDI carrying that UUID; no temp or partial "
        "file remains. A journaled request the 20-entry history no longer lists is checked by "
        "its status answer only when that answer carries all four criteria (dates, rfc_type, "
        "request_type) equal to the month's; one that differs is another request under a "
        "restarted id, and one that is missing proves nothing (the month needs the user): "
        "`tests/bulk/test_newcomer9g_status_check.py` plays all three against the sandbox "
        "(profiles agree, ids-restart, documented-fields), and a 24-month run stopped by its "
        "timeout, pushed out of the history and run again ends every month done, each "
        "created once.",
    ),
    2: (
        "Crash and resume",
        "test_crash_resume.py",
        "`gigstack-async sat download` runs as a subprocess and is SIGKILLed at seeded points: "
        "right after the server handled its n-th request but before the answer left (the "
        "'did my billed request go through?' window) and at seeded moments in between, each "
        "seed against a disagreeing server (column 'server disagreeing'). After "
        "every kill the journal must load; the rerun with the same journal must finish with "
        "byte-identical files to an uninterrupted reference run, and no month may be created "
        "twice or even re-sent after the server handled it.",
    ),
    3: (
        "Cancellation",
        "test_cancellation.py",
        "Every public coroutine and async generator is cancelled while its request is held "
        "inside the server (and while backing off between retries). Asserted: CancelledError "
        "propagates, no task is left pending, every connection is back in the pool (the next "
        "call goes through a pool of one connection and an in-flight limit of one), the bulk "
        "journal's lock is released, and no 'Unclosed' warning or log appears.",
    ),
    4: (
        "Bad input",
        "test_bad_input.py",
        "A table of bad inputs across the public API and the CLI. Each must raise a specific "
        "exception (`InvalidParameterError` naming the argument and rule, or `TypeError`) or "
        "exit with a specific code and a one-line message; the sandbox confirms that not one "
        "request was sent.",
    ),
    5: (
        "Hostile server data",
        "test_hostile_server.py",
        "A loopback server answers with malformed JSON, wrong content types, empty, huge and "
        "truncated bodies, unknown enum values, missing and extra fields, `success: false` with "
        "200, proxy HTML pages, endless or stalled bodies and looping cursors. Each call must "
        "end, within a hang guard, in a typed `GigstackError` with a readable message or in a "
        "tolerant parse; never a bare KeyError/TypeError/RecursionError.",
    ),
    6: (
        "Hostile packages",
        "test_hostile_packages.py",
        "Crafted SAT packages: zip slip, absolute and drive paths, symlink entries, zip bombs "
        "(ratio, member and total caps, lying headers), CRC and truncation damage, base64 that "
        "is not a ZIP. Each is refused with a specific `PackageError` naming the member, "
        "nothing is written inside or outside the target folder; served by the sandbox inside "
        "a bulk run, only that month fails, and a rerun recovers it.",
    ),
    7: (
        "Secrets",
        "test_secrets_guard.py",
        "One suite-wide guard (tests/conftest.py): in every test of the suite the SDK logs at "
        "DEBUG, and every log record, every SDK exception (text, repr, attributes, chain), every "
        "exception caught by `pytest.raises` or failing a test, every client/pipeline/request "
        "repr and every subprocess (CLI) output is scanned for every known API key. The tests "
        "here prove each channel catches a planted leak.",
    ),
    8: (
        "Fuzzing from the spec",
        "test_fuzz_spec.py",
        "schemathesis generates requests for every operation of the bundled spec (`openapi/`) "
        "(valid and invalid data, derandomized, bounded examples) against the sandbox. Every "
        "response must be below 500, have the documented content type, and match the spec "
        "exactly (schemathesis' schema check plus the repository's closed-object validator "
        "from tests/contract).",
    ),
}

FULL_HISTORY = (
    "## What a download history proves",
    "",
    "Not a survival group: no figures. A history that does not list a create whose outcome is "
    "unknown (a 5xx, a 429, a lost answer, a run killed while it was in flight) proves nothing, "
    'full or not: the docs say "last 20, newest first" without saying newest by what '
    "(creation, period, last change), how soon a new request is listed, or whether the list is "
    "filtered. Such a create is adopted when the history lists exactly one request that fits "
    "it; otherwise the month needs the user (`journal adopt` after a look at gigstack's "
    "dashboard, or `journal resend`, see the README), and nothing is sent for it until then. "
    "Earlier versions proved an absence from the history's order (a create made after the lost "
    "one listed above an older request of its kind, read after a grace on our clock); each "
    "hostile review found a server that breaks that reading, and the month was billed twice: "
    "review 9l (a full history kept by last change that looked kept by creation), review 9p #1 "
    "(a 4- or 5-entry history kept by period behind requests for later periods made earlier) "
    "and review 9q #1 (a 2-entry history kept by period with an earlier request for "
    "2024-01-15..2024-01-31 listed above the whole month's create, which it cut off). "
    "`tests/bulk/test_full_history_e2e.py` runs a create dropped before the server acted and "
    "one made then answered 502 behind 20 earlier requests under each sandbox profile (`agree`, "
    "`clock-ahead`, `clock-behind`, `created-at-seconds`, `created-at-iso`, "
    "`created-at-naive-mx`, `documented-fields`, `cfdi-only-history`, `ids-restart`, "
    "`history-by-period`, `history-by-update`, a 5-entry history and combinations): the "
    "dropped create needs the user and is never sent again, the made one is adopted or needs "
    "the user, and January is billed at most once. The same file plays 4-, 5- and 10-entry "
    "histories kept by period and by last change behind such requests, through a single run "
    "and through a re-run, and `tests/bulk/test_review_9q_period_anchor.py` replays review 9q "
    "#1: January's create is never sent again. The model test "
    "(`tests/bulk/test_machine_model.py`) plays the three orders with full histories.",
)

LATE_RECORDS = (
    "## A lost create listed late",
    "",
    "Not a survival group: no figures. A create gigstack made but whose answer was lost (a "
    "gateway 502 while it still writes the request, a dropped connection) can be listed in the "
    "history late, after a later create's record (review 9l #1). No wait on our clock makes a "
    "history that does not list it a proof: the 600 s grace that used to (`absence_grace`) is "
    "gone, since a record later than it was sent again and billed twice unless gigstack "
    "deduplicates identical active requests (a GUESS). While the record lags, the month needs "
    "the user and each run sends nothing for it; a run once the history lists it adopts it. "
    "`tests/bulk/test_lost_create_lag_e2e.py` plays it with the sandbox's `lost_create_lag` "
    "(the lost create hidden for an hour of simulated time): it needs the user while hidden, "
    "the same command again sends nothing, a re-run once it is listed adopts it, and `journal "
    "adopt` of the id the dashboard shows works while it is still hidden. The survival groups "
    "above inject create faults against a sandbox that lists every record at once: a month "
    "whose create's outcome was unknown is adopted or needs the user, and is created once "
    "(plus the resends the user confirmed when nothing had been made).",
)

# Figures summed across groups into the summary table, in this order.
SUMMARY = (
    "Faults injected",
    "Faulted package downloads delivered later",
    "Bulk runs used (all seeds)",
    "Processes SIGKILLed",
    "Journal reloads after a kill",
    "Cancellations",
    "Bad inputs tried",
    "Hostile responses tried",
    "Hostile packages refused",
    "Files verified",
    "Fuzz requests",
    "Tests guarded against key leaks",
)


class Figures:
    """What the survival tests did, counted by the tests themselves."""

    def __init__(self) -> None:
        self.scalars: dict[int, dict[str, int]] = {g: {} for g in GROUPS}
        self.tables: dict[int, dict[str, dict[str, dict[str, object]]]] = {g: {} for g in GROUPS}

    def add(self, group: int, label: str, amount: int = 1) -> None:
        values = self.scalars[group]
        values[label] = values.get(label, 0) + amount

    def row(self, group: int, table: str, key: str, **columns: object) -> None:
        self.tables[group].setdefault(table, {})[key] = columns


class _Outcomes:
    def __init__(self) -> None:
        self.results: dict[str, tuple[str, str]] = {}  # nodeid -> (outcome, xfail reason)
        self.collected: list[str] = []
        self.deselected = False
        self.all_test_files = False


_FIGURES = pytest.StashKey[Figures]()
_OUTCOMES = pytest.StashKey[_Outcomes]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_FIGURES] = Figures()
    config.stash[_OUTCOMES] = _Outcomes()


def _in_survival(nodeid_or_path: str | Path) -> bool:
    path = Path(str(nodeid_or_path).split("::")[0])
    if not path.is_absolute():
        path = REPO / path
    return SURVIVAL in path.parents


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        items[0].config.stash[_OUTCOMES].deselected = True


def pytest_collection_finish(session: pytest.Session) -> None:
    outcomes = session.config.stash[_OUTCOMES]
    outcomes.collected = [item.nodeid for item in session.items if _in_survival(item.path)]
    collected_files = {Path(item.path).resolve() for item in session.items}
    every_file = {path.resolve() for path in TESTS.rglob("test_*.py")}
    outcomes.all_test_files = every_file <= collected_files


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report: pytest.TestReport = yield
    if _in_survival(item.path):
        results = item.config.stash[_OUTCOMES].results
        outcome, reason = results.get(item.nodeid, ("passed", ""))
        if hasattr(report, "wasxfail"):
            outcome = "xpassed" if report.passed else "xfailed"
            reason = report.wasxfail
        elif report.failed:
            outcome = "failed"
        elif report.skipped:
            outcome = "skipped"
        if outcome != "passed" or item.nodeid not in results:
            results[item.nodeid] = (outcome, reason)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    outcomes = config.stash[_OUTCOMES]
    figures = config.stash[_FIGURES]
    wanted = os.environ.get("GIGSTACK_RELIABILITY_DOC", "")
    if wanted == "0" or not outcomes.collected:
        return
    full_run = outcomes.all_test_files and not outcomes.deselected
    if not (full_run or wanted == "1"):
        return
    bad = [
        nodeid
        for nodeid in outcomes.collected
        if outcomes.results.get(nodeid, ("missing", ""))[0] not in ("passed", "xfailed")
    ]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if bad:
        if reporter is not None:
            reporter.write_line(
                f"docs/reliability.md not written: {len(bad)} survival test(s) did not pass"
            )
        return
    guard = config.pluginmanager.get_plugin("gigstack-secret-guard")
    if guard is not None and full_run:
        figures.add(7, "Tests guarded against key leaks", int(guard.stats["tests guarded"]))
    DOC.write_text(render(figures, outcomes, full_run=full_run), encoding="utf-8")
    if reporter is not None:
        reporter.write_line(f"wrote {DOC.relative_to(REPO)}")


def _cell(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def render(figures: Figures, outcomes: _Outcomes, *, full_run: bool) -> str:
    """The Markdown report; deterministic for deterministic figures."""
    lines = [
        "# Reliability: what is tested, and the figures",
        "",
        "<!-- Generated by tests/survival/conftest.py at the end of `make test`. Do not edit:",
        "     run `make test` (the whole suite) to regenerate it. -->",
        "",
        "`make test` runs the survival suite in `tests/survival/` and a suite-wide secrets guard "
        "(`tests/conftest.py`). Every number below was counted by those tests during the run "
        "that wrote this file; nothing here is typed by hand. Everything runs on loopback "
        "against the bundled sandbox, with seeded faults, so a rerun writes the same file. "
        "Counts that depend on timing (how many polls happened to hit a fault) are asserted "
        "by the tests but not listed.",
        "",
        "## Summary",
        "",
        "| Figure | Count |",
        "|---|---:|",
    ]
    for label in SUMMARY:
        total = sum(values.get(label, 0) for values in figures.scalars.values())
        if total or label != "Tests guarded against key leaks" or full_run:
            lines.append(f"| {label} | {_cell(total)} |")
    by_group = _tests_by_group(outcomes)
    known = [t for tests in by_group.values() for t in tests if t[1] == "xfailed"]
    passed = sum(1 for tests in by_group.values() for t in tests if t[1] == "passed")
    lines.append(f"| Survival tests passed | {passed} |")
    lines.append(f"| Known bugs pinned by strict xfail tests | {len(known)} |")
    lines.append("")
    for group, (title, module, description) in GROUPS.items():
        lines += [f"## {group}. {title}", "", f"`tests/survival/{module}`. {description}", ""]
        scalars = figures.scalars[group]
        if scalars:
            lines += ["| Figure | Count |", "|---|---:|"]
            lines += [f"| {label} | {_cell(scalars[label])} |" for label in scalars]
            lines.append("")
        for table, rows in figures.tables[group].items():
            columns = list(next(iter(rows.values())))
            lines += [f"**{table}**", ""]
            lines.append("| " + " | ".join(["case", *columns]) + " |")
            lines.append("|" + "---|" * (len(columns) + 1))
            for key in sorted(rows):
                cells = [_cell(rows[key].get(c, "")) for c in columns]
                lines.append("| " + " | ".join([key, *cells]) + " |")
            lines.append("")
        tests = by_group.get(group, [])
        functions: dict[str, list[str]] = {}
        for name, outcome, _reason in tests:
            functions.setdefault(name.partition("[")[0], []).append(outcome)
        lines += ["| Test | Cases | Passed | Known bugs (strict xfail) |", "|---|---:|---:|---:|"]
        for function, results in functions.items():
            passed, xfailed = results.count("passed"), results.count("xfailed")
            lines.append(f"| `{function}` | {len(results)} | {passed} | {xfailed} |")
        lines.append("")
        bugs = [(name, reason) for name, outcome, reason in tests if outcome == "xfailed"]
        if bugs:
            lines += [
                "Known bugs, each pinned by a strict xfail test (it fails the run once fixed, "
                "so the marker must then go):",
                "",
            ]
            lines += [f"- `{name}`: {reason}" for name, reason in bugs]
            lines.append("")
    lines += [*FULL_HISTORY, "", *LATE_RECORDS, ""]
    return "\n".join(lines).rstrip() + "\n"


def _tests_by_group(outcomes: _Outcomes) -> dict[int, list[tuple[str, str, str]]]:
    modules = {module: group for group, (_, module, _) in GROUPS.items()}
    grouped: dict[int, list[tuple[str, str, str]]] = {}
    for nodeid in sorted(outcomes.collected):
        path, _, name = nodeid.partition("::")
        group = modules.get(Path(path).name)
        if group is None:
            continue
        outcome, reason = outcomes.results.get(nodeid, ("missing", ""))
        grouped.setdefault(group, []).append((name, outcome, reason))
    return grouped


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """Record what a test did: `figures.add(group, label, n)`, `figures.row(...)`."""
    return request.config.stash[_FIGURES]


def fast_retries(client: GigstackClient, max_retries: int) -> GigstackClient:
    """More retries, shorter backoff: the one private setting the survival suite touches.

    The client's real retry loop runs unchanged (and `Retry-After` is honoured as sent); only
    the exponential backoff starts at 20 ms instead of 0.5 s, so chaos runs take seconds.
    """
    pipeline = client._pipeline
    assert isinstance(pipeline.retry, RetryPolicy), "the pipeline's retry policy moved"
    pipeline.retry = RetryPolicy(max_retries=max_retries, backoff_base=0.02, backoff_cap=0.25)
    return client


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., GigstackClient]]:
    """`make_client(sandbox, max_retries=8, **kwargs)`: a client bound to a sandbox, closed at
    teardown, with fast backoff."""
    clients: list[GigstackClient] = []

    def make(sandbox: Sandbox, *, max_retries: int = 8, **kwargs: Any) -> GigstackClient:
        kwargs.setdefault("timeout", Timeout(connect=5, read=10, total=120))
        client = GigstackClient(sandbox.api_key, base_url=sandbox.base_url, **kwargs)
        clients.append(fast_retries(client, max_retries))
        return client

    yield make
    for client in clients:
        await client.aclose()


def leftovers(folder: Path) -> list[Path]:
    """Temp files (`.<name>.<hex>.tmp`), other hidden files and empty files under `folder`."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and (
            path.name.startswith(".") or path.suffix == ".tmp" or path.stat().st_size == 0
        ):
            found.append(path)
    return sorted(found)


@pytest.fixture
def find_leftovers() -> Callable[[Path], list[Path]]:
    return leftovers
