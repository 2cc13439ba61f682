"""Figures, ratios and targets: what a scenario measured, in a JSON-friendly shape.

Every figure keeps all its per-round values; tables show the median and the min–max range.
Ratios are computed pairwise within one round (peers interleaved round by round), then
summarised the same way, so machine noise that hits a round hits every peer of it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Series:
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def low(self) -> float:
        return min(self.values) if self.values else float("nan")

    @property
    def high(self) -> float:
        return max(self.values) if self.values else float("nan")


def fmt_number(value: float, digits: int = 0) -> str:
    if value != value:  # NaN
        return "n/a"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def fmt_series(series: Series, digits: int = 0) -> str:
    """`median (min–max)`, or just the value when there is a single one."""
    if len(series.values) <= 1:
        return fmt_number(series.median, digits)
    return (
        f"{fmt_number(series.median, digits)} "
        f"({fmt_number(series.low, digits)}–{fmt_number(series.high, digits)})"
    )


@dataclass
class Figure:
    """One measured quantity of one peer, one value per round."""

    peer: str
    metric: str
    unit: str
    values: list[float]
    digits: int = 0

    @property
    def series(self) -> Series:
        return Series(self.values)


@dataclass
class Ratio:
    """A within-round ratio between two peers (or a derived per-run quantity)."""

    name: str
    values: list[float]
    target: str = ""
    met: bool | None = None
    digits: int = 2

    @property
    def series(self) -> Series:
        return Series(self.values)


@dataclass
class Target:
    """A stated goal and whether the median measurement meets it."""

    description: str
    measured: str
    met: bool
    ratio: bool = False
    """Judged on a ratio, which the ratio table already shows with its target."""


@dataclass
class ScenarioResult:
    key: str
    title: str
    setup: str
    peers: list[str]
    figures: list[Figure] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: str = ""
    seconds: float = 0.0

    def figure(self, peer: str, metric: str) -> Figure:
        for figure in self.figures:
            if figure.peer == peer and figure.metric == metric:
                return figure
        raise KeyError((peer, metric))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for figure, raw in zip(self.figures, data["figures"], strict=True):
            raw.update(median=figure.series.median, min=figure.series.low, max=figure.series.high)
        for ratio, raw in zip(self.ratios, data["ratios"], strict=True):
            raw.update(median=ratio.series.median, min=ratio.series.low, max=ratio.series.high)
        return data


def pairwise(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Round-by-round ratios (both sequences hold one value per round, in round order)."""
    return [a / b if b else float("nan") for a, b in zip(numerator, denominator, strict=True)]


def rotated(items: Sequence[str], round_index: int) -> list[str]:
    """Round-robin order: each peer goes first, second, ... equally often."""
    shift = round_index % len(items)
    return [*items[shift:], *items[:shift]]
