"""A metric filter's transformation of one matched event. Pure.

`metricValue` is a number (`"1"` counts) or a reference to a field the pattern names: `$.path`
for JSON patterns, `$name` for space-delimited ones; `dimensions` map names to such references.
An event whose value is not a number, or lacks a dimension's field, publishes nothing (a
metric cannot carry a missing dimension value).
"""

from __future__ import annotations

import math

from logsvc.filterpattern import FilterPattern
from logsvc.metrics.points import MetricKey, metric_key


def number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def is_reference(text: str) -> bool:
    return text.startswith("$")


def transform(pattern: FilterPattern, t: dict, message: str) -> tuple[MetricKey, float] | None:
    """(metric key, value) a matched `message` publishes under transformation `t`, or None."""
    raw = t["metricValue"]
    if is_reference(raw):
        text = pattern.reference(message, raw)
        value = None if text is None else number(text)
    else:
        value = number(raw)
    if value is None:
        return None
    dims: list[tuple[str, str]] = []
    for name, ref in (t.get("dimensions") or {}).items():
        text = pattern.reference(message, ref) if is_reference(ref) else ref
        if text is None or text == "":
            return None
        dims.append((name, text))
    return metric_key(t["metricNamespace"], t["metricName"], dims), value
