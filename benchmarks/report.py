"""BENCHMARKS.md and the JSON records, from the scenarios' results."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.peers import PYDANTIC_FLAGS, Peers
from benchmarks.stats import Figure, ScenarioResult, fmt_series

PACKAGES = (
    "aiohttp",
    "attrs",
    "cattrs",
    "httpx",
    "pydantic",
    "pydantic-core",
    "openapi-python-client",
    "datamodel-code-generator",
    "gigstack-async",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def environment(seconds: float, quick: bool) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "packages": versions(),
        "seconds": round(seconds, 1),
        "quick": quick,
    }


def write_json(path: Path, env: dict[str, Any], results: list[ScenarioResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"environment": env, "scenarios": [result.to_json() for result in results]}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _verdict(met: bool | None) -> str:
    if met is None:
        return ""
    return "**MET**" if met else "**MISSED**"


def _metrics(figures: list[Figure]) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for figure in figures:
        if (figure.metric, figure.unit) not in seen:
            seen.append((figure.metric, figure.unit))
    return seen


def _peers(figures: list[Figure]) -> list[str]:
    seen: list[str] = []
    for figure in figures:
        if figure.peer not in seen:
            seen.append(figure.peer)
    return seen


def _label(metric: str, unit: str) -> str:
    return metric if not unit or unit.lower() in metric.lower() else f"{metric} ({unit})"


def _cell(figures: list[Figure], peer: str, metric: str) -> str:
    for figure in figures:
        if figure.peer == peer and figure.metric == metric:
            return fmt_series(figure.series, figure.digits)
    return "—"


def figures_table(result: ScenarioResult) -> str:
    metrics = _metrics(result.figures)
    peers = _peers(result.figures)
    lines: list[str] = []
    if len(metrics) > 5:  # many metrics, few peers: one row per metric
        lines.append("| Figure | " + " | ".join(peers) + " |")
        lines.append("|---|" + "---:|" * len(peers))
        for metric, unit in metrics:
            cells = [_cell(result.figures, peer, metric) for peer in peers]
            lines.append(f"| {_label(metric, unit)} | " + " | ".join(cells) + " |")
    else:
        header = [_label(metric, unit) for metric, unit in metrics]
        lines.append("| Peer | " + " | ".join(header) + " |")
        lines.append("|---|" + "---:|" * len(metrics))
        for peer in peers:
            cells = [_cell(result.figures, peer, metric) for metric, _unit in metrics]
            lines.append(f"| {peer} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratios_table(result: ScenarioResult) -> str:
    if not result.ratios:
        return ""
    lines = [
        "| Ratio (within each round) | median (min–max) | Target | Result |",
        "|---|---:|---|---|",
    ]
    for ratio in result.ratios:
        lines.append(
            f"| {ratio.name} | {fmt_series(ratio.series, ratio.digits)} | "
            f"{ratio.target or '—'} | {_verdict(ratio.met) or '—'} |"
        )
    return "\n".join(lines)


def targets_table(result: ScenarioResult) -> str:
    """The targets not already judged in the ratio table."""
    rows = [target for target in result.targets if not target.ratio]
    if not rows:
        return ""
    lines = ["| Target | Measured | Result |", "|---|---|---|"]
    for target in rows:
        lines.append(f"| {target.description} | {target.measured} | {_verdict(target.met)} |")
    return "\n".join(lines)


def markdown(env: dict[str, Any], peers: Peers, results: list[ScenarioResult]) -> str:
    out: list[str] = ["# Benchmarks", ""]
    if env["quick"]:
        out += ["> **Quick run (smoke-test sizes): the numbers below mean nothing.**", ""]
    out += [
        f"Latest `make bench` run: {env['date']}, {env['seconds']:.0f} s in total. "
        "Regenerate with `make bench` (`.venv/bin/python -m benchmarks`); "
        "`tests/test_bench_smoke.py` runs the same code with tiny sizes. The code lives in "
        "[`benchmarks/`](benchmarks/).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {env['cpu_model']}, {env['cpu_count']} logical CPUs |",
        f"| OS | {env['platform']} |",
        f"| Python | {env['python']} |",
    ]
    for package, version in env["packages"].items():
        out.append(f"| {package} | {version} |")
    out += ["", "## Summary", "", "| Scenario | Target | Measured | Result |", "|---|---|---|---|"]
    for result in results:
        for target in result.targets:
            out.append(
                f"| {result.title.split(':')[0]} | {target.description} | {target.measured} | "
                f"{_verdict(target.met)} |"
            )
    out += [
        "",
        "## Method",
        "",
        "- Every HTTP scenario talks to a server on 127.0.0.1 started by the benchmark: a minimal "
        "`aiohttp.web` app (`benchmarks/server.py`) serving canned, realistic SAT invoices "
        "(SatInvoice / SatInvoiceList exactly as in `openapi/gigstack.yaml`, pages of 100 with "
        "`has_more`/`next` cursors) from bytes built at startup, **in its own process**, so its "
        "CPU is not the client's. The fan-out scenario uses `gigstack_async.sandbox`, also in "
        "its own process.",
        "- Client CPU is `time.process_time()` of the client process; throughput is wall time "
        "(`time.perf_counter()`).",
        "- Each figure is the median of repeated rounds with the min–max range in brackets. "
        "Peers are interleaved (order rotated) round by round, finer where noted, and every "
        "ratio is computed pairwise within a round, then summarised: this VM shares its host, "
        "and a burst of noise then hits all peers of a round alike.",
        "- Peers are generated at bench time into `.bench/` (git-ignored), offline, from the "
        "local spec, cached by spec hash and generator versions:",
        "  - **openapi-python-client**: `openapi-python-client generate --path "
        "openapi/gigstack.yaml --meta none --config <post_hooks: []>` (the post hooks only run "
        "a `ruff` found on PATH to reformat). It generated the whole **unmodified** spec "
        "(oneOf unions, nullable allOf refs, the multipart FIEL upload): "
        + (
            "no warnings."
            if not peers.opc_warnings
            else "warnings: " + "; ".join(f"`{w}`" for w in peers.opc_warnings) + "."
        ),
        "  - **pydantic v2**: `datamodel-codegen` with `" + " ".join(PYDANTIC_FLAGS) + "` "
        "(the naming flags of `codegen/models.py`)"
        + (
            "."
            if not peers.pydantic_warnings
            else "; it said: " + "; ".join(f"`{w}`" for w in peers.pydantic_warnings) + "."
        ),
        "",
    ]
    for result in results:
        out += [f"## {result.title}", "", result.setup, "", figures_table(result), ""]
        ratios = ratios_table(result)
        if ratios:
            out += [ratios, ""]
        targets = targets_table(result)
        if targets:
            out += [targets, ""]
        for note in result.notes:
            out.append(f"- {note}")
        if result.notes:
            out.append("")
        if result.details:
            out += [result.details, ""]
    return "\n".join(out).rstrip() + "\n"
