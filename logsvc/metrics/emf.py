"""The Embedded Metric Format: a JSON log line whose `_aws.CloudWatchMetrics` directive turns
members of the same object into metrics, as CloudWatch Logs extracts them. Pure.

    {"_aws": {"Timestamp": 1700000000000, "CloudWatchMetrics": [{"Namespace": "Shop",
       "Dimensions": [["env", "service"]], "Metrics": [{"Name": "Orders", "Unit": "Count"}]}]},
     "env": "test", "service": "orders", "Orders": [2.0, 3.0]}

Rules (AWS's specification): each dimension set is its own metric (an empty set `[]` is the
metric without dimensions); a dimension's value is the root member of that name and must be a
string; a metric's value is the root member named by `Name`, a number or an array of up to 100
numbers (each one sample); the time is `_aws.Timestamp` (epoch ms), else the event's. A line
that breaks a rule is still a log line, it just yields no metric (CloudWatch does the same).
"""

from __future__ import annotations

import json
import math

from logsvc.metrics.points import MetricKey, metric_key

MARKER = "CloudWatchMetrics"  # a word every EMF line holds: the index narrows reads with it
MAX_VALUES = 100
MAX_DIMENSIONS = 30


def samples(message: str, event_ms: int) -> list[tuple[MetricKey, int, float, str]]:
    """(key, time ms, value, unit) of every sample an EMF line carries; [] for any other line."""
    if MARKER not in message or not message.lstrip().startswith("{"):
        return []
    try:
        doc = json.loads(message)
    except ValueError:
        return []
    aws = doc.get("_aws") if isinstance(doc, dict) else None
    if not isinstance(aws, dict) or not isinstance(aws.get(MARKER), list):
        return []
    ts = aws.get("Timestamp", event_ms)
    if not isinstance(ts, int) or isinstance(ts, bool) or ts < 0:
        return []
    out: list[tuple[MetricKey, int, float, str]] = []
    for directive in aws[MARKER]:
        if not isinstance(directive, dict):
            continue
        ns = directive.get("Namespace")
        dim_sets = directive.get("Dimensions", [[]])
        metrics = directive.get("Metrics")
        if not isinstance(ns, str) or not ns or ns.startswith("AWS/"):
            continue
        if not isinstance(dim_sets, list) or not isinstance(metrics, list):
            continue
        keys_dims: list[list[tuple[str, str]]] = []
        for dset in dim_sets or [[]]:
            if not isinstance(dset, list) or len(dset) > MAX_DIMENSIONS:
                continue
            vals = [(d, doc.get(d)) for d in dset if isinstance(d, str)]
            if len(vals) != len(dset) or not all(isinstance(v, str) for _, v in vals):
                continue  # a dimension without a string value: no metric for that set
            keys_dims.append(vals)  # type: ignore[arg-type]
        for m in metrics:
            if not isinstance(m, dict) or not isinstance(m.get("Name"), str):
                continue
            name = m["Name"]
            unit = m.get("Unit") if isinstance(m.get("Unit"), str) else "None"
            raw = doc.get(name)
            values = raw if isinstance(raw, list) else [raw]
            nums = [
                float(v)
                for v in values[:MAX_VALUES]
                if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            ]
            if len(nums) != len(values[:MAX_VALUES]):
                continue  # a value that is not a number: this metric is skipped
            for dims in keys_dims:
                key = metric_key(ns, name, dims)
                out.extend((key, ts, v, unit) for v in nums)
    return out
