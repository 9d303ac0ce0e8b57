"""Runs compiled stages over rows: the pipeline, its memory bounds, and the shape of the results.

Owns the pipeline (commands.py compiles the stages, collectors.py holds rows between them).
Commands are of two kinds:

* **row commands** (`fields`, `filter`/`filterIndex`, `parse`, `unnest`, `unmask`, `display`)
  look at one row at a time and run as rows arrive (`Execution.add`);
* **list commands** (`sort`, `limit`, `dedup`, `stats`, `pattern`, `diff`) need the rows so far.
  The first one is the *sink* rows stream into; the ones after it run in `finish()` over the list.

Memory stays bounded: a sink of `sort`/`limit`/none keeps only the best `K` rows in a heap when
what follows allows it (K = the first `limit`, else the request's limit, when no command after
the sort can drop rows); `dedup` (also right after a `sort`) keeps one row per key; `stats` one
accumulator set per group; `pattern` one counter per distinct template. A `sort` whose order only
a later `stats`/`pattern` would see is dropped.

Decisions (AWS leaves them open; also listed in INSIGHTS_CONTRACT.md, "lang:"):

* Rows come newest first (`@timestamp` descending) unless sorted; ties keep arrival order.
  `sort key` without `asc`/`desc` is descending. Missing values sort last in both directions.
* Output columns: the last `display`; else, after a `stats`, its group keys then its values (plus
  fields made by later `fields`/`parse`); else the fields named by `fields`, `parse` and `unnest`,
  in order, after `@timestamp` and `@message` when no `fields` command names any. Rows that do not
  come from a `stats`/`pattern`/`diff` end with `@ptr` when the row has one. A missing or null
  value leaves the field out of that row.
* An unaliased expression's column is its text as written (`count(*)`, `bin(5m)`).
* `stats` rows are ordered by their group keys, left to right: time values (`bin`, `datefloor`)
  newest first, others ascending; a stats over no rows has no rows.
* `parse` that does not match leaves the row as it is (its fields absent); a row whose field
  to parse is missing is kept too. `unnest` of a missing value or an empty list yields no row;
  a value that is not a list yields one row holding it.
* A `filter`'s missing values make comparisons, `like` and `in` false (values.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import values
from .collectors import DedupKeeper, Grouper, Keeper, newest_first, order_key
from .commands import DIFF_COLUMNS, LIST_COMMANDS, PATTERN_COLUMNS, ROW_COMMANDS, Row, Stage
from .exprs import Closure, lookup_path
from .parser import Field
from .patterns import Clusterer, diff_rows, pattern_rows

# Row commands that never drop a row nor make more: a heap of the first K rows stays exact across them.
_PREFIX_SAFE = {"fields", "display", "unmask", "parse", "limit"}  # one row out per row in, in order
_KEEPS_ROWS = {"fields", "display", "parse", "unmask"}
DEFAULT_LIMIT = 10_000


# ---- output columns ---------------------------------------------------------------------------


@dataclass
class Columns:
    """What a result row shows, in order, and how each cell is read from a row."""

    names: list[str]
    getters: list[Closure]
    ptr: bool  # end each row with @ptr when it has one


def output_columns(stages: list[Stage]) -> Columns:
    displays = [s for s in stages if s.kind == "display"]
    aggregated = [i for i, s in enumerate(stages) if s.kind in ("stats", "pattern", "diff")]
    if displays:
        d = displays[-1]
        return _dedupe(d.columns, d.keys, ptr=not aggregated)
    names: list[str] = []
    items: list[Any] = []  # Field nodes for paths, else None
    start = 0
    if aggregated:
        last = stages[aggregated[-1]]
        base = {"stats": last.columns, "pattern": PATTERN_COLUMNS, "diff": DIFF_COLUMNS}[last.kind]
        names.extend(base)
        items.extend([None] * len(base))
        start = aggregated[-1] + 1
    elif not any(s.kind == "fields" for s in stages):
        names.extend(["@timestamp", "@message"])
        items.extend([None, None])
    for s in stages[start:]:
        if s.kind == "fields":
            for item in s.command.items:
                names.append(item.name)
                items.append(
                    item.expr if isinstance(item.expr, Field) and not item.aliased else None
                )
        elif s.kind in ("parse", "unnest"):
            names.extend(s.columns)
            items.extend([None] * len(s.columns))
    getters: list[Closure] = []
    for name, node in zip(names, items, strict=True):
        if node is not None and len(node.segments) > 1:
            getters.append(lambda row, env, n=node.name, s=node.segments: lookup_path(row, n, s))
        else:
            getters.append(lambda row, env, n=name: row.get(n))
    return _dedupe(names, getters, ptr=not aggregated)


def _dedupe(names: list[str], getters: list[Closure], *, ptr: bool) -> Columns:
    seen: set[str] = set()
    out_n, out_g = [], []
    for n, g in zip(names, getters, strict=True):
        if n not in seen:
            seen.add(n)
            out_n.append(n)
            out_g.append(g)
    return Columns(out_n, out_g, ptr and "@ptr" not in seen)


# ---- execution --------------------------------------------------------------------------------


class Execution:
    """One run of a plan: feed rows with `add`, read rows with `partial`/`finish`.

    Not thread-safe: one thread feeds rows and asks for results (the runner's worker thread),
    publishing `partial()` snapshots for readers.
    """

    def __init__(self, stages: list[Stage], columns: Columns, *, limit: int, ctx: Any) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.env = ctx
        self.limit = limit
        self.columns = columns
        self.matched = 0
        first = next((i for i, s in enumerate(stages) if s.kind in LIST_COMMANDS), len(stages))
        self.head = [s for s in stages[:first] if s.run is not None]
        self.sink = stages[first] if first < len(stages) else None
        self.rest = stages[first + 1 :]
        self.collector = self._collector()

    def _collector(self) -> Any:
        sink = self.sink
        kind = sink.kind if sink else None
        if kind == "stats":
            return Grouper(sink.stats)
        if kind == "pattern":
            return Clusterer()
        if kind == "dedup":
            return DedupKeeper(newest_first, sink.keys)
        if kind == "sort" and self.rest and self.rest[0].kind == "dedup":
            # `sort ... | dedup k` (AWS's own sample): keep the first row per key in sort order,
            # never every row.
            return DedupKeeper(order_key(sink.order, sink.time_order), self.rest.pop(0).keys)
        order = order_key(sink.order, sink.time_order) if kind == "sort" else newest_first
        return Keeper(order, self._heap_size())

    def _heap_size(self) -> int | None:
        """How many rows in sink order can ever reach the output (None: all may be needed)."""
        if self.sink is None:
            return self.limit
        if self.sink.kind == "limit":
            return min(self.sink.count, self.limit) if not self.rest else self.sink.count
        for s in self.rest:
            if s.kind == "limit":
                return s.count
            if s.kind not in _KEEPS_ROWS:
                return None
        return self.limit

    def _through(self, row: Row, stages: list[Stage], start: int = 0) -> list[Row]:
        env = self.env
        for i in range(start, len(stages)):
            out = stages[i].run(row, env)
            if out is None:
                return []
            if isinstance(out, list):
                rows: list[Row] = []
                for r in out:
                    rows.extend(self._through(r, stages, i + 1))
                return rows
            row = out
        return [row]

    def add(self, row: Row) -> None:
        """One event's row, in any order."""
        self.env.timestamp = row.get("@timestamp")
        rows = self._through(row, self.head) if self.head else [row]
        if not rows:
            return
        self.matched += len(rows)
        collector, env = self.collector, self.env
        if self.sink is not None and self.sink.kind == "pattern":
            text_of, f = values.text_of, self.sink.text
            for r in rows:
                text = text_of(f(r, env))
                if text is not None:
                    collector.add(text)
            return
        for r in rows:
            collector.add(r, env)

    def put_groups(self, groups: list[tuple[list, list]], matched: int) -> None:
        """The stats sink's groups computed elsewhere (the columnar path: insights/sql.py): each
        group's key values and its aggregates' results in slot order; `matched` rows reached it."""
        if not isinstance(self.collector, Grouper):
            raise ValueError("put_groups needs a query whose first list command is stats")
        for keys, results in groups:
            self.collector.put(keys, results)
        self.matched = matched

    def add_previous(self, row: Row) -> None:
        """A row of the previous period (diff only): clustered, never counted as matched."""
        if self.sink is None or self.sink.kind != "pattern":
            return
        self.env.timestamp = row.get("@timestamp")
        for r in self._through(row, self.head) if self.head else [row]:
            text = values.text_of(self.sink.text(r, self.env))
            if text is not None:
                self.collector.add(text, previous=True)

    def partial(self) -> list[list[tuple[str, str]]]:
        """The results so far (the same computation as `finish`; rows still to come are missing)."""
        return self.finish()

    def finish(self) -> list[list[tuple[str, str]]]:
        """Final rows, in order: each a list of (field, rendered value), absent values left out."""
        rows, rest = self._sink_rows()
        env = self.env
        for s in rest:
            rows = self._apply(s, rows)
        del rows[self.limit :]
        render, names, getters = values.render, self.columns.names, self.columns.getters
        out = []
        for row in rows:
            env.timestamp = row.get("@timestamp")
            cells = []
            for name, get in zip(names, getters, strict=True):
                text = render(get(row, env))
                if text is not None:
                    cells.append((name, text))
            if self.columns.ptr:
                ptr = row.get("@ptr")
                if ptr is not None:
                    cells.append(("@ptr", render(ptr)))
            out.append(cells)
        return out

    def _sink_rows(self) -> tuple[list[Row], list[Stage]]:
        c, rest = self.collector, self.rest
        if isinstance(c, Grouper):
            # only the first `limit` groups can be returned when nothing after the stats drops or
            # reorders rows (a later limit only keeps a prefix)
            keeps_order = all(s.kind in _PREFIX_SAFE for s in rest)
            return c.rows(self.env, self.limit if keeps_order else None), rest
        if isinstance(c, Clusterer):
            if rest and rest[0].kind == "diff":
                return diff_rows(c), rest[1:]
            return pattern_rows(c), rest
        rows = c.rows()
        if any(s.run is not None for s in rest):
            # Later commands write into rows; `partial()` may run them again on the same kept rows.
            rows = [row.copy() for row in rows]
        return rows, rest

    def _apply(self, s: Stage, rows: list[Row]) -> list[Row]:
        env = self.env
        if s.kind in ROW_COMMANDS:
            if s.run is None:
                return rows
            out: list[Row] = []
            for row in rows:
                env.timestamp = row.get("@timestamp")
                out.extend(self._through(row, [s]))
            return out
        if s.kind == "sort":
            key = order_key(s.order, s.time_order)
            keyed = []
            for row in rows:
                env.timestamp = row.get("@timestamp")
                keyed.append((key(row, env), row))
            keyed.sort(key=lambda kr: kr[0])
            return [row for _, row in keyed]
        if s.kind == "limit":
            return rows[: s.count]
        if s.kind == "dedup":
            keeper = DedupKeeper(lambda row, env: (), s.keys)
            for row in rows:
                keeper.add(row, env)
            return keeper.rows()
        if s.kind == "stats":
            grouper = Grouper(s.stats)
            for row in rows:
                env.timestamp = row.get("@timestamp")
                grouper.add(row, env)
            return grouper.rows(env)
        if s.kind == "pattern":
            clusterer = Clusterer()
            for row in rows:
                text = values.text_of(s.text(row, env))
                if text is not None:
                    clusterer.add(text)
            return pattern_rows(clusterer)
        raise AssertionError(
            f"no list step for {s.kind}"
        )  # diff only ever directly follows the pattern sink
