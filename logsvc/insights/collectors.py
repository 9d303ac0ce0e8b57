"""Where rows gather between commands: in an order, one per key, or one accumulator set per group.

Owns row order (`order_key`: each key in its direction, missing values last either way; newest
first by default) and the bounded collections the engine streams rows into: `Keeper` (the best K
rows in a heap, or all), `DedupKeeper` (the first row per key), `Grouper` (stats).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from . import values
from .commands import Row, StatsSpec
from .exprs import Closure


class _Desc:
    """Reverses the order of a sort key, for descending keys inside one tuple."""

    __slots__ = ("k",)

    def __init__(self, k: tuple) -> None:
        self.k = k

    def __lt__(self, other: _Desc) -> bool:
        return other.k < self.k

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.k == other.k


_MISSING_LAST = (1,)


def order_key(
    order: list[tuple[Closure, bool]], time_order: str | None = None
) -> Callable[[Row, Any], tuple]:
    """A key function for rows: each sort key in its direction, missing values last either way."""
    sort_key = values.sort_key
    if not order or time_order == "desc":  # the default: newest first
        return newest_first
    if time_order == "asc":
        return oldest_first

    def key(row: Row, env: Any) -> tuple:
        out = []
        for f, desc in order:
            v = f(row, env)
            if v is None:
                out.append(_MISSING_LAST)
            else:
                k = sort_key(v)
                out.append((0, _Desc(k)) if desc else (0, k))
        return tuple(out)

    return key


def newest_first(row: Row, env: Any) -> tuple:
    ts = row.get("@timestamp")
    n = values.to_number(ts)
    return ((0, -n),) if n is not None else (_MISSING_LAST,)


def oldest_first(row: Row, env: Any) -> tuple:
    n = values.to_number(row.get("@timestamp"))
    return ((0, n),) if n is not None else (_MISSING_LAST,)


class _Entry:
    """A kept row in the heap; the heap's top is the worst entry (largest key, latest arrival)."""

    __slots__ = ("key", "row")

    def __init__(self, key: tuple, row: Row) -> None:
        self.key = key
        self.row = row

    def __lt__(self, other: _Entry) -> bool:
        return other.key < self.key


class Keeper:
    """Rows in an order, keeping only the best `k` when `k` is set (a bounded heap)."""

    def __init__(self, key: Callable[[Row, Any], tuple], k: int | None) -> None:
        self.key = key
        self.k = k
        self.entries: list[_Entry] = []
        self.seq = 0

    def add(self, row: Row, env: Any) -> None:
        self.seq += 1
        # rows arrive newest first; oldest-first ties go in written order, i.e. the reverse of arrival
        entry = _Entry(
            (self.key(row, env), -self.seq if self.key is oldest_first else self.seq), row
        )
        if self.k is None:
            self.entries.append(entry)
        elif len(self.entries) < self.k:
            heapq.heappush(self.entries, entry)
        elif entry.key < self.entries[0].key:
            heapq.heapreplace(self.entries, entry)

    def rows(self) -> list[Row]:
        return [e.row for e in sorted(self.entries, key=lambda e: e.key)]


class DedupKeeper:
    """The first row (in the order) per distinct key; rows with a missing key are all kept."""

    def __init__(self, order: Callable[[Row, Any], tuple], keys: list[Closure]) -> None:
        self.order = order
        self.keys = keys
        self.best: dict[tuple, _Entry] = {}
        self.nulls: list[_Entry] = []
        self.seq = 0

    def add(self, row: Row, env: Any) -> None:
        self.seq += 1
        entry = _Entry((self.order(row, env), self.seq), row)
        vals = [f(row, env) for f in self.keys]
        if any(v is None for v in vals):
            self.nulls.append(entry)
            return
        k = tuple(_hashable(v) for v in vals)
        old = self.best.get(k)
        if old is None or entry.key < old.key:
            self.best[k] = entry

    def rows(self) -> list[Row]:
        entries = list(self.best.values()) + self.nulls
        return [e.row for e in sorted(entries, key=lambda e: e.key)]


def _hashable(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return ("json", values.render(v))
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


class Grouper:
    """`stats`: one set of accumulators per group key."""

    def __init__(self, spec: StatsSpec) -> None:
        self.spec = spec
        self.groups: dict[tuple, tuple[list, list]] = {}

    def add(self, row: Row, env: Any) -> None:
        spec = self.spec
        keys = [f(row, env) for f in spec.by]
        hk = tuple(v if type(v) is str else _hashable(v) for v in keys)
        group = self.groups.get(hk)
        if group is None:
            group = self.groups[hk] = (keys, [slot.make() for slot in spec.slots])
        t = row.get("@timestamp")
        if type(t) is not values.Timestamp:  # after a stats (None: earliest/latest skip the row)
            t = values.to_number(t)
            t = int(t) if t is not None else None
        for slot, acc in zip(spec.slots, group[1], strict=True):
            if slot.args:
                acc.add(t, *[f(row, env) for f in slot.args])
            else:
                acc.add(t)

    def put(self, keys: list, results: list) -> None:
        """A group whose aggregates were computed elsewhere (the columnar path, insights/sql.py):
        its key values and each slot's result, in slot order."""
        self.groups[("\0put", len(self.groups))] = (keys, [_Fixed(v) for v in results])

    def rows(self, env: Any, first: int | None = None) -> list[dict]:
        """Every group's row in key order; only the `first` ones when the caller keeps no more
        (129k groups of a `stats … by` cost seconds to evaluate and sort in full)."""
        spec = self.spec
        out = []
        # each group's order key once: for the cut and for the final sort
        keyed = [(tuple(_group_order(v) for v in g[0]), g) for g in self.groups.values()]
        if first is not None and len(keyed) > first:
            keyed = heapq.nsmallest(first, keyed, key=itemgetter(0))
        keyed.sort(key=itemgetter(0))
        for _, (keys, accs) in keyed:
            scratch: dict[str, Any] = dict(zip(spec.by_names, keys, strict=True))
            row = dict(scratch)
            for slot, acc in zip(spec.slots, accs, strict=True):
                scratch[slot.name] = acc.result()
            env.timestamp = None
            for name, f in spec.items:
                v = f(scratch, env)
                scratch[name] = v
                row[name] = v
            out.append(row)
        return out


class _Fixed:
    """An accumulator that already holds its result (Grouper.put)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


def _group_order(v: Any) -> Any:
    if v is None:
        return _MISSING_LAST
    k = values.sort_key(v)
    # Times sort apart from other values, so a _Desc is only ever compared with another _Desc.
    return (0, 0, _Desc(k)) if isinstance(v, values.Timestamp) else (0, 1, k)
