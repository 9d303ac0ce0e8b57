"""Every metric logsvc knows, as per-minute cells, computed when asked for.

Sources, joined here and nowhere else:

* PutMetricData: the cells `MetricStore` kept.
* Metric filters: the filter's group read through `Reader.read` with its pattern (so the index
  narrows the blocks as for FilterLogEvents), one sample per matching event at its event time,
  only events ingested at or after the filter's creation (AWS's filters are not retroactive).
  `defaultValue` fills minutes that had events but no match.
* EMF: every visible group read with the word `CloudWatchMetrics`, samples from `emf.samples`.
* AWS/Lambda: the invoker's records (`/logsvc/invocations`), one sample per attempt at its start.

Why at query time (measured, see ARCHITECTURE.md "Metrics"): the answer is a pure function of
the files, so it is exactly once by construction across restarts, kill -9 and reindex, with no
checkpoint to keep beside the index's; a read over a minute-range costs what a FilterLogEvents
over it costs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from logsvc import names
from logsvc.errors import InvalidParameter, NotFound
from logsvc.filterpattern import FilterPattern, compile_pattern
from logsvc.metrics import emf
from logsvc.metrics.filters import transform
from logsvc.metrics.points import Cell, MetricKey, floor_minute, metric_key
from logsvc.metrics.store import MetricStore
from logsvc.model import LogEvent
from logsvc.query import MAX_LIMIT, Reader, iter_all

LAMBDA_NS = "AWS/Lambda"
LAMBDA_SLACK_MS = 16 * 60_000  # a record is written at its end; functions run at most 15 min
EMF_SLACK_MS = 5 * 60_000  # an EMF line's own Timestamp may differ a little from its event's
INVOKED = ("success", "error", "timeout", "crash")
FAILED = ("error", "timeout", "crash")
LAMBDA_UNITS = {
    "Invocations": "Count",
    "Errors": "Count",
    "Throttles": "Count",
    "Duration": "Milliseconds",
    "ConcurrentExecutions": "Count",
}

Cells = dict[MetricKey, dict[int, Cell]]


class Collected:
    """Cells by metric and minute, with each metric's unit."""

    def __init__(self) -> None:
        self.cells: Cells = {}
        self.units: dict[MetricKey, str] = {}
        # where the log lines behind a metric are: {"group", "pattern"} (none for PutMetricData)
        self.sources: dict[MetricKey, dict[str, str]] = {}

    def add(self, key: MetricKey, t_ms: int, value: float, unit: str = "None") -> None:
        minute = floor_minute(t_ms)
        row = self.cells.setdefault(key, {})
        cell = row.get(minute)
        if cell is None:
            cell = row[minute] = Cell()
        cell.add(value)
        self.units.setdefault(key, unit)

    def source(self, key: MetricKey, group: str, pattern: str) -> None:
        self.sources.setdefault(key, {"group": group, "pattern": pattern})

    def merge(self, key: MetricKey, minute: int, cell: Cell, unit: str) -> None:
        row = self.cells.setdefault(key, {})
        if minute in row:
            row[minute].merge(cell)
        else:
            row[minute] = cell
        self.units.setdefault(key, unit)


class MetricReader:
    """Reads metrics for a time range from every source (module docstring)."""

    def __init__(self, reader: Reader, mstore: MetricStore) -> None:
        self.reader = reader
        self.mstore = mstore

    def collect(
        self, start_ms: int, end_ms: int, namespace: str | None = None, name: str | None = None
    ) -> Collected:
        """Cells of every metric (of `namespace` / `name` when given) in [start, end)."""
        out = Collected()

        def wanted(ns: str, mname: str | None = None) -> bool:
            return (namespace is None or ns == namespace) and (
                name is None or mname is None or mname == name
            )

        for key, unit, minute, cell in self.mstore.cells(start_ms, end_ms):
            if wanted(key[0], key[1]):
                out.merge(key, minute, cell, unit)
        for f in self.mstore.filters():
            t = f["metricTransformations"][0]
            if wanted(t["metricNamespace"], t["metricName"]) and self._live(f):
                self._filter(f, start_ms, end_ms, out)
        if namespace is None or not namespace.startswith("AWS/"):
            self._emf(start_ms, end_ms, out, wanted)
        if wanted(LAMBDA_NS):
            self._lambda(start_ms, end_ms, out, name)
        return out

    def _live(self, f: dict) -> bool:
        """Is the filter's group still the one it was put on (not deleted, not created again)?"""
        try:
            g = self.reader.store.get_group(f["logGroupName"])
        except (NotFound, InvalidParameter):
            return False
        return g.creation_time == f.get("groupCreated")

    # ---- sources -----------------------------------------------------------------------------

    def _events(
        self, groups: list[str] | None, start: int, end: int, pattern: FilterPattern | None
    ) -> Iterator[LogEvent]:
        try:
            sources = self.reader.all_sources() if groups is None else self.reader.sources(groups)
        except (NotFound, InvalidParameter):
            return
        yield from iter_all(
            self.reader,
            sources,
            start=start,
            end=end,
            end_exclusive=True,
            limit=MAX_LIMIT,
            forward=True,
            pattern=pattern,
            max_bytes=1 << 24,
            fields=False,  # metrics need time, message and ingestion time only
        )

    def _filter(self, f: dict, start: int, end: int, out: Collected) -> None:
        """One metric filter's samples (module docstring)."""
        t = f["metricTransformations"][0]
        pattern = compile_pattern(f["filterPattern"])
        created = f["creationTime"]
        default = t.get("defaultValue")
        unit = t.get("unit", "None")
        seen: set[int] = set()
        hit: set[int] = set()
        fixed_key = metric_key(t["metricNamespace"], t["metricName"], ())
        scan_all = default is not None  # minutes without a match need to know events came
        for ev in self._events([f["logGroupName"]], start, end, None if scan_all else pattern):
            if ev.ingestion_time < created:
                continue
            minute = floor_minute(ev.timestamp)
            if scan_all:
                seen.add(minute)
                if not pattern.matches(ev.message):
                    continue
            got = transform(pattern, t, ev.message)
            if got is not None:
                out.add(got[0], ev.timestamp, got[1], unit)
                out.source(got[0], f["logGroupName"], f["filterPattern"])
                hit.add(minute)
        for minute in seen - hit:
            out.add(fixed_key, minute, float(default), unit)
            out.source(fixed_key, f["logGroupName"], f["filterPattern"])

    def _emf(self, start: int, end: int, out: Collected, wanted) -> None:
        pattern = compile_pattern(emf.MARKER)
        for ev in self._events(None, start - EMF_SLACK_MS, end + EMF_SLACK_MS, pattern):
            for key, ts, value, unit in emf.samples(ev.message, ev.timestamp):
                if start <= ts < end and wanted(key[0], key[1]):
                    out.add(key, ts, value, unit)
                    out.source(key, ev.group, f'{emf.MARKER} "{key[1]}"')

    def _lambda(self, start: int, end: int, out: Collected, name: str | None) -> None:
        """AWS/Lambda per function (dimension FunctionName) and over all functions (no dimension),
        as Lambda publishes them: Invocations and Errors (0 or 1) per invoked attempt, Duration
        in ms, Throttles per throttled attempt, ConcurrentExecutions the most running at once in
        each minute."""
        spans: dict[str, list[tuple[int, int]]] = {}
        records = self._events(
            [names.INVOCATIONS_GROUP], start - LAMBDA_SLACK_MS, end + LAMBDA_SLACK_MS, None
        )
        for ev in records:
            rec = _record(ev.message)
            if rec is None:
                continue
            fn, status, t0 = rec["function"], rec["status"], rec["start"]
            t1 = rec.get("end") if isinstance(rec.get("end"), int) else t0
            if status in INVOKED:
                spans.setdefault(fn, []).append((t0, max(t0, t1)))
            if not start <= t0 < end:
                continue
            samples: list[tuple[str, float]] = []
            if status in INVOKED:
                samples += [("Invocations", 1.0), ("Errors", 1.0 if status in FAILED else 0.0)]
                dur = rec.get("durationMs")
                if isinstance(dur, int | float) and not isinstance(dur, bool):
                    samples.append(("Duration", float(dur)))
            elif status == "throttled":
                samples.append(("Throttles", 1.0))
            group = rec.get("logGroup") if isinstance(rec.get("logGroup"), str) else None
            for metric, value in samples:
                if name is None or name == metric:
                    for dims in ((("FunctionName", fn),), ()):
                        key = metric_key(LAMBDA_NS, metric, dims)
                        out.add(key, t0, value, LAMBDA_UNITS[metric])
                        if dims and group:
                            out.source(key, group, "")  # the function's lines in that period
        if name is None or name == "ConcurrentExecutions":
            everyone = [s for v in spans.values() for s in v]
            for fn, fspans in [*spans.items(), (None, everyone)]:
                dims = () if fn is None else (("FunctionName", fn),)
                key = metric_key(LAMBDA_NS, "ConcurrentExecutions", dims)
                for minute, most in concurrency(fspans).items():
                    if start <= minute < end:
                        out.add(key, minute, float(most), "Count")


def _record(message: str) -> dict | None:
    try:
        rec = json.loads(message)
    except ValueError:
        return None
    if not (
        isinstance(rec, dict)
        and isinstance(rec.get("function"), str)
        and isinstance(rec.get("status"), str)
        and isinstance(rec.get("start"), int)
    ):
        return None
    return rec


def concurrency(spans: list[tuple[int, int]]) -> dict[int, int]:
    """Minute -> the most [start, end] spans running at one moment in it (an instant counts)."""
    edges = sorted([(a, 0) for a, _ in spans] + [(b, 1) for _, b in spans])  # starts first
    most: dict[int, int] = {}
    running = 0
    prev = None
    for t, kind in edges:
        if prev is not None and running > 0:
            for m in range(floor_minute(prev), floor_minute(t) + 1, 60_000):
                most[m] = max(most.get(m, 0), running)
        running += 1 if kind == 0 else -1
        if running > 0:
            m = floor_minute(t)
            most[m] = max(most.get(m, 0), running)
        prev = t
    return most
