"""Runs a parsed query over rows: the commands, their order, and the shape of the results.

Owns the pipeline. Commands are of two kinds:

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

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from . import values
from .aggregates import lookup_aggregate
from .errors import QueryError
from .exprs import AggregateSlot, Closure, Scope, compile_expr, compile_regex, lookup_path
from .parser import Call, Command, Field, Query
from .patterns import Clusterer, diff_rows, pattern_rows

ROW_COMMANDS = {"fields", "display", "filter", "parse", "unnest", "unmask"}  # filterIndex runs as filter
LIST_COMMANDS = {"sort", "limit", "dedup", "stats", "pattern", "diff"}
# Row commands that never drop a row nor make more: a heap of the first K rows stays exact across them.
_KEEPS_ROWS = {"fields", "display", "parse", "unmask"}
MAX_STATS = 2
DEFAULT_LIMIT = 10_000

Row = Any  # a MutableMapping[str, Value]: fields.Row for events, dict for rows a command makes


# ---- compiled commands --------------------------------------------------------------------------


@dataclass
class Stage:
    """One command ready to run: `kind` is its keyword; the other members depend on it."""

    kind: str
    command: Command
    run: Callable[[Row, Any], Iterable[Row] | Row | None] | None = None  # row commands
    order: list[tuple[Closure, bool]] = field(default_factory=list)  # sort
    count: int = 0  # limit
    keys: list[Closure] = field(default_factory=list)  # dedup, stats by
    stats: StatsSpec | None = None
    text: Closure | None = None  # pattern
    columns: list[str] = field(default_factory=list)  # the fields this command adds to the output
    time_order: str | None = None  # sort: "asc"/"desc" when the one key is @timestamp


@dataclass
class StatsSpec:
    by_names: list[str]
    by: list[Closure]
    items: list[tuple[str, Closure]]  # evaluated over a scratch row holding keys, aggregates, aliases
    slots: list[AggregateSlot]


def _fields_stage(cmd: Command, scope: Scope) -> Stage:
    assigns: list[tuple[str, Closure]] = []
    for item in cmd.items:
        f = compile_expr(item.expr, scope)
        if not (isinstance(item.expr, Field) and not item.aliased):
            assigns.append((item.name, f))

    def run(row: Row, env: Any) -> Row:
        for name, f in assigns:
            row[name] = f(row, env)  # None reads as absent; render leaves it out
        return row

    return Stage("fields", cmd, run=run if assigns else None, columns=[i.name for i in cmd.items])


def _filter_stage(cmd: Command, scope: Scope) -> Stage:
    f = compile_expr(cmd.expr, scope)
    truthy = values.truthy

    def run(row: Row, env: Any) -> Row | None:
        return row if truthy(f(row, env)) else None

    return Stage("filter", cmd, run=run)


def _parse_stage(cmd: Command, scope: Scope) -> Stage:
    source = cmd.expr or Field("@message", ("@message",), cmd.start, cmd.end)
    get = compile_expr(source, scope)
    if cmd.glob is not None:
        names = [n for n, _, _ in cmd.names]
        match = _glob_matcher(cmd.glob.split("*"))
    else:
        rx = compile_regex(cmd.regex)
        if not rx.groupindex:
            raise QueryError(
                "the parse regex has no named group to extract, such as (?<level>\\S+)",
                cmd.regex.start,
                cmd.regex.end,
            )
        names = list(rx.groupindex)
        groups = [rx.groupindex[n] for n in names]

        def match(text: str) -> list[str | None] | None:
            m = rx.search(text)
            return None if m is None else [m.group(g) for g in groups]

    text_of = values.text_of

    def run(row: Row, env: Any) -> Row:
        text = text_of(get(row, env))
        if text is None:
            return row
        found = match(text)
        if found is not None:
            for name, v in zip(names, found, strict=True):
                if v is not None:
                    row[name] = v
        return row

    return Stage("parse", cmd, run=run, columns=names)


def _glob_matcher(pieces: list[str]) -> Callable[[str], list[str] | None]:
    """A `parse` glob as successive `str.find`s: each `*` takes the text up to the next literal's
    first occurrence (the last one, when the pattern ends with `*`, the rest of the text); the first
    literal may sit anywhere. That is the leftmost, non-greedy match a regex would give (the first
    literal's first occurrence is the only start worth trying: a later one leaves less room), at
    the cost of a few C-level searches instead of a regex engine per row.
    """
    first, middle, last = pieces[0], pieces[1:-1], pieces[-1]

    def match(text: str) -> list[str] | None:
        pos = text.find(first)
        if pos < 0:
            return None
        pos += len(first)
        out = []
        for lit in middle:
            nxt = text.find(lit, pos)
            if nxt < 0:
                return None
            out.append(text[pos:nxt])
            pos = nxt + len(lit)
        if last:
            nxt = text.find(last, pos)
            if nxt < 0:
                return None
            out.append(text[pos:nxt])
        else:
            out.append(text[pos:])
        return out

    return match


def _unnest_stage(cmd: Command, scope: Scope) -> Stage:
    get = compile_expr(cmd.expr, scope)
    into = cmd.names[0][0]

    def run(row: Row, env: Any) -> list[Row]:
        v = get(row, env)
        if v is None:
            return []
        items = v if isinstance(v, list) else [v]
        out = []
        for item in items:
            new = row.copy()
            new[into] = item
            out.append(new)
        return out

    return Stage("unnest", cmd, run=run, columns=[into])


def _stats_spec(cmd: Command, scope: Scope) -> StatsSpec:
    by_names, by = [], []
    for item in cmd.by:
        if isinstance(item.expr, Call) and lookup_aggregate(item.expr.name) is not None:
            raise QueryError(
                f"{item.expr.name}() is an aggregate: group by a field or bin() instead",
                item.expr.start,
                item.expr.name_end,
            )
        by.append(compile_expr(item.expr, scope))
        by_names.append(item.name)
    slots: list[AggregateSlot] = []
    post = set(by_names)
    items = []
    for item in cmd.items:
        item_scope = replace(scope, aggregates=slots, post=set(post))
        before = len(slots)
        f = compile_expr(item.expr, item_scope)
        if len(slots) == before and not _uses_names(item.expr):
            raise QueryError(
                "each stats value needs an aggregate function such as count(*), avg(x) or max(x)",
                item.expr.start,
                item.expr.end,
            )
        items.append((item.name, f))
        post.add(item.name)
    return StatsSpec(by_names, by, items, slots)


def _uses_names(node: Any) -> bool:
    """Whether an expression reads any field (then, inside stats, an earlier alias: checked already)."""
    if isinstance(node, Field):
        return True
    return any(_uses_names(v) for k, v in _children(node))


def _children(node: Any) -> list[tuple[str, Any]]:
    out = []
    for name in getattr(node, "__slots__", ()):
        v = getattr(node, name)
        if hasattr(v, "start") and hasattr(v, "end") and not isinstance(v, (str, int)):
            out.append((name, v))
        elif isinstance(v, tuple):
            out.extend((name, x) for x in v if hasattr(x, "start"))
    return out


def compile_stages(query: Query) -> list[Stage]:
    """The commands of `query`, checked and compiled, in order.

    :raises QueryError: a rule between commands is broken, or an expression is invalid.
    """
    stages: list[Stage] = []
    scope = Scope()
    commands = query.commands
    stats_seen = 0
    for i, cmd in enumerate(commands):
        kind = "filter" if cmd.keyword == "filterindex" else cmd.keyword
        if i > 0 and commands[i - 1].keyword == "dedup" and kind != "limit":
            raise QueryError("only limit may follow dedup", cmd.start, cmd.end)
        if kind == "fields":
            stages.append(_fields_stage(cmd, scope))
            _learn(scope, [it.name for it in cmd.items])
        elif kind == "display":
            for item in cmd.items:
                compile_expr(item.expr, scope)
            stages.append(Stage("display", cmd))
        elif kind == "filter":
            stages.append(_filter_stage(cmd, scope))
        elif kind == "parse":
            stage = _parse_stage(cmd, scope)
            stages.append(stage)
            _learn(scope, stage.columns)
        elif kind == "unnest":
            stage = _unnest_stage(cmd, scope)
            stages.append(stage)
            _learn(scope, stage.columns)
        elif kind == "unmask":
            stages.append(Stage("unmask", cmd))
        elif kind == "sort":
            order = [(compile_expr(expr, scope), desc) for expr, desc, _ in cmd.keys]
            stage = Stage("sort", cmd, order=order)
            if len(cmd.keys) == 1 and isinstance(cmd.keys[0][0], Field) and cmd.keys[0][0].name == "@timestamp":
                stage.time_order = "desc" if cmd.keys[0][1] else "asc"  # the common case, without sort_key
            stages.append(stage)
        elif kind == "limit":
            stages.append(Stage("limit", cmd, count=cmd.count))
        elif kind == "dedup":
            keys = [compile_expr(item.expr, scope) for item in cmd.items]
            stages.append(Stage("dedup", cmd, keys=keys))
        elif kind == "stats":
            stats_seen += 1
            if stats_seen > MAX_STATS:
                raise QueryError("a query may have at most two stats commands", cmd.start, cmd.end)
            if stats_seen == 2:
                first = max(j for j, s in enumerate(stages) if s.kind == "stats")
                for s in stages[first + 1 :]:
                    if s.kind in ("sort", "limit"):
                        raise QueryError(
                            f"{s.kind} must come after the second stats, not between the two",
                            s.command.start,
                            s.command.end,
                        )
            spec = _stats_spec(cmd, scope)
            columns = spec.by_names + [name for name, _ in spec.items]
            stages.append(Stage("stats", cmd, stats=spec, columns=columns))
            scope = Scope(known=set(columns), bin_allowed="@timestamp" in columns)
        elif kind == "pattern":
            if stats_seen:
                raise QueryError("pattern cannot follow stats", cmd.start, cmd.end)
            stages.append(Stage("pattern", cmd, text=compile_expr(cmd.expr, scope)))
            scope = Scope(known=set(PATTERN_COLUMNS), known_after="pattern", bin_allowed=False)
        elif kind == "diff":
            _check_diff(stages, cmd)
            if not any(s.kind == "pattern" for s in stages):
                at = Field("@message", ("@message",), cmd.start, cmd.end)
                stages.append(Stage("pattern", cmd, text=compile_expr(at, scope)))
            stages.append(Stage("diff", cmd))
            scope = Scope(known=set(DIFF_COLUMNS), known_after="diff", bin_allowed=False)
        else:  # pragma: no cover - the parser only makes the commands above
            raise QueryError(f"unknown command {cmd.keyword!r}", cmd.start, cmd.end)
    _final_display(stages, scope)
    return _drop_unneeded_sorts(stages)


def _drop_unneeded_sorts(stages: list[Stage]) -> list[Stage]:
    """Without the sorts whose order nothing sees: a `sort` followed (past row commands only) by
    `stats` or `pattern`, which do not depend on row order. Keeps the stats the sink, so memory
    stays bounded by groups instead of holding every row for a sort."""
    out = []
    for i, s in enumerate(stages):
        if s.kind == "sort":
            nxt = next((t for t in stages[i + 1 :] if t.kind in LIST_COMMANDS), None)
            if nxt is not None and nxt.kind in ("stats", "pattern"):
                continue
        out.append(s)
    return out


def _check_diff(stages: list[Stage], cmd: Command) -> None:
    lists = [s for s in stages if s.kind in LIST_COMMANDS]
    if any(s.kind == "diff" for s in stages):
        raise QueryError("a query may have one diff", cmd.start, cmd.end)
    if lists and (lists[0].kind != "pattern" or stages[-1].kind != "pattern"):
        raise QueryError(
            "diff compares patterns: it must follow pattern directly, or stand after row commands only",
            cmd.start,
            cmd.end,
        )


def _final_display(stages: list[Stage], scope: Scope) -> None:
    """The last display decides the columns; compile its expressions against the final rows."""
    displays = [s for s in stages if s.kind == "display"]
    if not displays:
        return
    last = displays[-1]
    last.keys = [compile_expr(item.expr, scope) for item in last.command.items]
    last.columns = [item.name for item in last.command.items]


def _learn(scope: Scope, names: list[str]) -> None:
    if scope.known is not None:
        scope.known.update(names)


# ---- ordering ----------------------------------------------------------------------------------


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


def order_key(order: list[tuple[Closure, bool]], time_order: str | None = None) -> Callable[[Row, Any], tuple]:
    """A key function for rows: each sort key in its direction, missing values last either way."""
    sort_key = values.sort_key
    if not order or time_order == "desc":  # the default: newest first
        return _newest_first
    if time_order == "asc":
        return _oldest_first

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


def _newest_first(row: Row, env: Any) -> tuple:
    ts = row.get("@timestamp")
    n = values.to_number(ts)
    return ((0, -n),) if n is not None else (_MISSING_LAST,)


def _oldest_first(row: Row, env: Any) -> tuple:
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
        entry = _Entry((self.key(row, env), self.seq), row)
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


# ---- stats ----------------------------------------------------------------------------------


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

    def rows(self, env: Any) -> list[dict]:
        spec = self.spec
        out = []
        for keys, accs in self.groups.values():
            scratch: dict[str, Any] = dict(zip(spec.by_names, keys, strict=True))
            row = dict(scratch)
            for slot, acc in zip(spec.slots, accs, strict=True):
                scratch[slot.name] = acc.result()
            env.timestamp = None
            for name, f in spec.items:
                v = f(scratch, env)
                scratch[name] = v
                row[name] = v
            out.append((keys, row))
        out.sort(key=lambda kr: tuple(_group_order(v) for v in kr[0]))
        return [row for _, row in out]


def _group_order(v: Any) -> Any:
    if v is None:
        return _MISSING_LAST
    k = values.sort_key(v)
    # Times sort apart from other values, so a _Desc is only ever compared with another _Desc.
    return (0, 0, _Desc(k)) if isinstance(v, values.Timestamp) else (0, 1, k)


# ---- output columns ---------------------------------------------------------------------------

PATTERN_COLUMNS = ["@pattern", "@ratio", "@sampleCount", "@severityLabel"]
DIFF_COLUMNS = [
    "@pattern",
    "@ratio",
    "@sampleCount",
    "@previousSampleCount",
    "@change",
    "@changeDescription",
    "@severityLabel",
]


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
                items.append(item.expr if isinstance(item.expr, Field) and not item.aliased else None)
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
            return DedupKeeper(_newest_first, sink.keys)
        if kind == "sort" and self.rest and self.rest[0].kind == "dedup":
            # `sort ... | dedup k` (AWS's own sample): keep the first row per key in sort order,
            # never every row.
            return DedupKeeper(order_key(sink.order, sink.time_order), self.rest.pop(0).keys)
        order = order_key(sink.order, sink.time_order) if kind == "sort" else _newest_first
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
            return c.rows(self.env), rest
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
        raise AssertionError(f"no list step for {s.kind}")  # diff only ever directly follows the pattern sink
