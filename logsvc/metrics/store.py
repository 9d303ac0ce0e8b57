"""What logsvc keeps for metrics beside the logs, under `<data>/metrics/`:

    put/<YYYY-MM-DD>.jsonl   PutMetricData, one line per (call, metric, minute): the minute's cell
    filters.json             the metric filter definitions (with the group's creation time)
    .lock                    flock around writes of both

Why only these: every other metric (metric filters, EMF, AWS/Lambda) is computed from the logs
when it is asked for (`read.py`), so nothing here has to agree with the index after a crash.
A day file is append-only and each line one `write` under the lock; files older than
`RETENTION_DAYS` (CloudWatch keeps one-minute data 15 days) are removed on the next put.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from logsvc import locks, safeio
from logsvc.metrics.points import Cell, MetricKey

RETENTION_DAYS = 15
DAY_MS = 86_400_000
FOLDER = "metrics"
PUT = "put"
FILTERS = "filters.json"
LOCK = ".lock"
MAX_FILTERS_BYTES = 16 << 20


MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant a day name can hold


def _day(ms: int) -> str:
    ms = min(max(0, ms), MAX_MS)
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d")


class MetricStore:
    """PutMetricData cells and metric filter definitions of one data directory. Thread-safe."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._cache: dict[str, tuple[tuple[int, int], list]] = {}
        self._mu = threading.Lock()

    # ---- PutMetricData -----------------------------------------------------------------------

    def append(self, rows: list[tuple[MetricKey, str, int, Cell]], now_ms: int) -> None:
        """Append (key, unit, minute ms, cell) rows to their day files; drop expired days."""
        by_day: dict[str, list[bytes]] = {}
        for (ns, name, dims), unit, minute, cell in rows:
            line = json.dumps(
                [ns, name, [list(d) for d in dims], unit, minute, cell.to_json()],
                separators=(",", ":"),
            )
            by_day.setdefault(_day(minute), []).append(line.encode() + b"\n")
        with locks.exclusive(self.root, FOLDER, LOCK):
            with safeio.under(self.root, FOLDER, PUT, create=True) as dfd:
                for day, lines in by_day.items():
                    fd = safeio.open_file(
                        dfd, f"{day}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND
                    )
                    try:
                        os.write(fd, b"".join(lines))
                    finally:
                        os.close(fd)
                oldest = _day(now_ms - RETENTION_DAYS * DAY_MS)
                for name in os.listdir(dfd):
                    if name.endswith(".jsonl") and name[:-6] < oldest:
                        safeio.remove(dfd, name)

    def cells(self, start_ms: int, end_ms: int) -> Iterator[tuple[MetricKey, str, int, Cell]]:
        """Every stored (key, unit, minute, cell) with a minute in [start, end)."""
        first, last = _day(start_ms), _day(end_ms)
        try:
            with safeio.under(self.root, FOLDER, PUT) as dfd:
                names = sorted(n for n in os.listdir(dfd) if n.endswith(".jsonl"))
                for name in names:
                    if not first <= name[:-6] <= last:
                        continue
                    for ns, mname, dims, unit, minute, raw in self._rows(dfd, name):
                        if start_ms <= minute < end_ms:
                            yield (ns, mname, dims), unit, minute, Cell.from_json(raw)
        except FileNotFoundError:
            return

    def _rows(self, dfd: int, name: str) -> list:
        """A day file's rows, parsed once per (inode, size): files only grow."""
        fd = safeio.open_file(dfd, name)
        try:
            st = os.fstat(fd)
            ident = (st.st_ino, st.st_size)
            with self._mu:
                hit = self._cache.get(name)
            if hit is not None and hit[0] == ident:
                return hit[1]
            data = safeio.read_fd(fd, st.st_size)
        finally:
            os.close(fd)
        rows = []
        for line in data.splitlines():
            try:
                ns, mname, dims, unit, minute, raw = json.loads(line)
                rows.append((ns, mname, tuple(tuple(d) for d in dims), unit, minute, raw))
            except (ValueError, TypeError):
                continue  # a torn line: skipped, the rest stays readable
        with self._mu:
            self._cache[name] = (ident, rows)
        return rows

    # ---- metric filter definitions -----------------------------------------------------------

    def filters(self) -> list[dict]:
        try:
            with safeio.under(self.root, FOLDER) as dfd:
                data = safeio.read_bytes(dfd, FILTERS, MAX_FILTERS_BYTES)
        except FileNotFoundError:
            return []
        try:
            doc = json.loads(data)
        except ValueError:
            return []
        return doc.get("filters", []) if isinstance(doc, dict) else []

    def update_filters(self, change) -> object:
        """Run `change(filters)` (it edits the list in place and returns a result) under the lock
        and save the list atomically; returns what `change` returned."""
        with locks.exclusive(self.root, FOLDER, LOCK):
            current = self.filters()
            result = change(current)
            with safeio.under(self.root, FOLDER, create=True) as dfd:
                safeio.write_atomic(
                    dfd, FILTERS, json.dumps({"filters": current}, separators=(",", ":")).encode()
                )
        return result


_STORES: dict[str, MetricStore] = {}
_STORES_MU = threading.Lock()


def for_root(root: Path | str) -> MetricStore:
    """The data directory's MetricStore, one per process (it caches parsed day files)."""
    key = str(root)
    with _STORES_MU:
        ms = _STORES.get(key)
        if ms is None:
            ms = _STORES[key] = MetricStore(key)
        return ms
