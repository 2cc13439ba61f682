"""cProfile summaries for BENCHMARKS.md: the functions that explain a missed target."""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.peers import ROOT

_LAYERS = (
    ("cattrs generated", "cattrs-generated structure hooks"),
    ("attrs generated", "attrs-generated __init__"),
    ("/gigstack_async/_convert.py", "gigstack_async/_convert.py hooks"),
    ("/gigstack_async/", "gigstack_async (rest)"),
    ("/cattrs/", "cattrs library"),
    ("/aiohttp/", "aiohttp / yarl / multidict"),
    ("/yarl/", "aiohttp / yarl / multidict"),
    ("/multidict/", "aiohttp / yarl / multidict"),
    ("/asyncio/", "asyncio event loop"),
    ("/json/", "json"),
)


def profile(function: Callable[[], Any], repeat: int) -> pstats.Stats:
    """Run `function` `repeat` times under cProfile."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        function()
    profiler.disable()
    return pstats.Stats(profiler)


def _where(filename: str, name: str) -> str:
    text = filename
    for prefix in (str(ROOT) + "/", str(Path(pstats.__file__).parent) + "/"):
        text = text.replace(prefix, "")
    if "site-packages/" in text:
        text = text.split("site-packages/", 1)[1]
    return f"{text}:{name}" if text != "~" else name


def _layer(filename: str) -> str:
    for needle, layer in _LAYERS:
        if needle in filename:
            return layer
    return "builtins (isinstance, dict.get, ...)" if filename == "~" else "other"


def _entries(stats: pstats.Stats) -> dict[Any, Any]:
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return table


def top_functions(stats: pstats.Stats, *, per: float, unit: str, limit: int = 12) -> str:
    """A fixed-width table of the functions with the most own time, per `unit`."""
    rows = sorted(_entries(stats).items(), key=lambda item: item[1][2], reverse=True)[:limit]
    lines = [f"{'calls/' + unit:>12} {'own µs/' + unit:>12} {'total µs/' + unit:>14}  function"]
    for (filename, _line, name), (_cc, calls, own, total, _callers) in rows:
        lines.append(
            f"{calls / per:12.1f} {own / per * 1e6:12.2f} {total / per * 1e6:14.2f}  "
            f"{_where(filename, name)}"
        )
    return "\n".join(lines)


def by_layer(stats: pstats.Stats, *, per: float) -> list[tuple[str, float, float]]:
    """(layer, own µs per unit, function calls per unit), largest first."""
    own: dict[str, float] = {}
    calls: dict[str, float] = {}
    for (filename, _line, _name), (_cc, ncalls, tottime, _ct, _callers) in _entries(stats).items():
        layer = _layer(filename)
        own[layer] = own.get(layer, 0.0) + tottime
        calls[layer] = calls.get(layer, 0.0) + ncalls
    rows = [(layer, own[layer] / per * 1e6, calls[layer] / per) for layer in own]
    return sorted(rows, key=lambda row: row[1], reverse=True)


def layer_table(stats: pstats.Stats, *, per: float, unit: str) -> str:
    rows = by_layer(stats, per=per)
    total = sum(row[1] for row in rows) or 1.0
    lines = [f"| layer | own µs per {unit} (profiled) | share | function calls per {unit} |"]
    lines.append("|---|---:|---:|---:|")
    for layer, micros, calls in rows:
        if micros / total < 0.005:
            continue
        lines.append(f"| {layer} | {micros:,.1f} | {micros / total:.0%} | {calls:,.1f} |")
    return "\n".join(lines)


def total_calls(stats: pstats.Stats) -> int:
    return sum(entry[1] for entry in _entries(stats).values())


def compare_layers(stats: dict[str, pstats.Stats], *, per: float, unit: str) -> str:
    """One column per profiled peer: own time per `unit` by layer, and the difference."""
    names = list(stats)
    tables = {name: {row[0]: row[1] for row in by_layer(stats[name], per=per)} for name in names}
    layers = sorted(
        {layer for table in tables.values() for layer in table},
        key=lambda layer: -max(table.get(layer, 0.0) for table in tables.values()),
    )
    header = "| layer | " + " | ".join(f"{name} (µs/{unit})" for name in names)
    lines = [header + (" | difference |" if len(names) == 2 else " |")]
    lines.append("|---|" + "---:|" * (len(names) + (1 if len(names) == 2 else 0)))
    totals = dict.fromkeys(names, 0.0)
    for layer in layers:
        cells = [tables[name].get(layer, 0.0) for name in names]
        for name, value in zip(names, cells, strict=True):
            totals[name] += value
        if max(cells) < 0.5:
            continue
        row = f"| {layer} | " + " | ".join(f"{value:,.1f}" for value in cells)
        if len(names) == 2:
            row += f" | {cells[1] - cells[0]:+,.1f}"
        lines.append(row + " |")
    total_cells = [totals[name] for name in names]
    row = "| **total (profiled)** | " + " | ".join(f"{value:,.1f}" for value in total_cells)
    if len(names) == 2:
        row += f" | {total_cells[1] - total_cells[0]:+,.1f}"
    lines.append(row + " |")
    return "\n".join(lines)
