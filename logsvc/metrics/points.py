"""Per-minute cells of a metric and the statistics CloudWatch computes over periods. Pure.

Why cells: CloudWatch keeps one-minute resolution; a cell holds what every statistic needs
(sum, count, min, max) plus the raw values with their counts while they are few, so `pNN` stays
exact for what logsvc computes from logs (a statistic set from PutMetricData has no values, and
percentiles are then not available for that minute, as in CloudWatch).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MINUTE_MS = 60_000
MAX_VALUES = 10_000  # distinct values a cell keeps for percentiles; beyond, percentiles are off
UNITS = (  # CloudWatch's StandardUnit
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
)
STATS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PCT_RE = re.compile(r"p(\d{1,2}(?:\.\d{1,10})?|100)")

# (namespace, metric name, sorted ((dimension name, value), ...))
MetricKey = tuple[str, str, tuple[tuple[str, str], ...]]


def metric_key(namespace: str, name: str, dims: Iterable[tuple[str, str]]) -> MetricKey:
    return (namespace, name, tuple(sorted(dims)))


@dataclass
class Cell:
    """What is known of one metric over one stretch of time (a minute, or a period of them)."""

    total: float = 0.0
    count: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf
    values: dict[float, float] | None = field(default_factory=dict)  # None: percentiles unknown

    def add(self, value: float, count: float = 1.0) -> None:
        self.total += value * count
        self.count += count
        self.lo = min(self.lo, value)
        self.hi = max(self.hi, value)
        if self.values is not None:
            self.values[value] = self.values.get(value, 0.0) + count
            if len(self.values) > MAX_VALUES:
                self.values = None

    def add_set(self, count: float, total: float, lo: float, hi: float) -> None:
        """A statistic set (PutMetricData's StatisticValues): no single values are known."""
        self.total += total
        self.count += count
        self.lo = min(self.lo, lo)
        self.hi = max(self.hi, hi)
        self.values = None

    def merge(self, other: Cell) -> None:
        self.total += other.total
        self.count += other.count
        self.lo = min(self.lo, other.lo)
        self.hi = max(self.hi, other.hi)
        if self.values is None or other.values is None:
            self.values = None
        else:
            for v, c in other.values.items():
                self.values[v] = self.values.get(v, 0.0) + c
            if len(self.values) > MAX_VALUES:
                self.values = None

    def to_json(self) -> list:
        vals = None if self.values is None else [[v, c] for v, c in self.values.items()]
        return [self.total, self.count, self.lo, self.hi, vals]

    @classmethod
    def from_json(cls, raw: list) -> Cell:
        total, count, lo, hi, vals = raw
        return cls(
            float(total),
            float(count),
            float(lo),
            float(hi),
            None if vals is None else {float(v): float(c) for v, c in vals},
        )


def valid_stat(stat: str) -> bool:
    """Sum, Average, Minimum, Maximum, SampleCount or a percentile pNN / pNN.N (0 < N <= 100)."""
    if stat in STATS:
        return True
    m = _PCT_RE.fullmatch(stat)
    return bool(m) and 0 < float(m.group(1)) <= 100


def statistic(cell: Cell, stat: str) -> float | None:
    """The statistic of a cell; None when it has no samples or the percentile is unknown."""
    if cell.count <= 0:
        return None
    if stat == "Sum":
        return cell.total
    if stat == "SampleCount":
        return cell.count
    if stat == "Average":
        return cell.total / cell.count
    if stat == "Minimum":
        return cell.lo
    if stat == "Maximum":
        return cell.hi
    m = _PCT_RE.fullmatch(stat)
    if not m or cell.values is None:
        return None
    return percentile(cell.values, float(m.group(1)))


def percentile(values: dict[float, float], p: float) -> float:
    """Nearest rank over (value, count) pairs: the smallest value with at least p% at or below it."""
    total = sum(values.values())
    rank = max(1.0, math.ceil(p / 100.0 * total - 1e-9))
    seen = 0.0
    for v in sorted(values):
        seen += values[v]
        if seen >= rank:
            return v
    return max(values)


def floor_minute(ms: int) -> int:
    return ms - ms % MINUTE_MS


def periods(cells: dict[int, Cell], start_ms: int, end_ms: int, period_s: int) -> dict[int, Cell]:
    """Minute cells folded into periods of `period_s` from `start_ms` (rounded down to a minute):
    bucket start -> cell, only for buckets in [start, end) that hold samples."""
    step = period_s * 1000
    base = floor_minute(start_ms)
    out: dict[int, Cell] = {}
    for t, cell in cells.items():
        if t < base or t >= end_ms:
            continue
        b = base + (t - base) // step * step
        acc = out.get(b)
        if acc is None:
            acc = out[b] = Cell()
        acc.merge(cell)
    return out
