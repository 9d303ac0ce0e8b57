"""Which compiled queries DuckDB may answer over the columnar copy, and the SQL that does. Pure.

`plan_sql(plan)` gives a `SqlPlan`, or None when any cell could differ from the row engine's (the
runner then uses the row engine; ARCHITECTURE.md, "Fallback"). Two shapes map:

* **rows**: row commands, then at most `sort @timestamp` and `limit`. SQL picks the events (the
  filters, the order, the limit: the K rows the engine's heap would keep) and the runner feeds
  exactly those events, read back from the files, through the row engine: cells are the engine's
  by construction, and only the filter has to be exact.
* **stats**: filters, then one `stats` whose keys are columned fields or `bin(fixed period)` and
  whose aggregates read columned fields. SQL computes each group's aggregate *values*; the engine's
  own `Grouper` then evaluates the items, orders the groups and runs whatever follows (so sorting,
  limits, rendering stay the engine's). Values come back with the row engine's types: longs for
  counts, doubles for the Lambda metrics, `Timestamp` for `@timestamp`/`bin`, None when absent.

Columns are typed (schema.py): strings (`@message`, `@logStream`, `@type`, `@requestId`, X-Ray ids,
`level` and JSON fields whose every value is a string), doubles (the five Lambda metrics), epoch ms
(`@timestamp`, `@ingestionTime`). A JSON field's type is only known from the data, so a plan carries
`guards`: conditions no row may meet (a non-string value of that key) or the runner falls back.

Exactness rules, each checked by tests/test_insights_sql*.py:
* every predicate is two-valued (`coalesce(..., false)`): absent fields make `=`, `!=`, `like`, `in`
  and their negations false, as values.compare_op does;
* strings compare by code point (UTF-8 bytes in DuckDB); a string column is only compared with a
  non-numeric string literal by `< <= > >=` (two numeric strings would compare as numbers) and
  never with a number (numeric text is values.parse_number's grammar, not SQL's);
* `sum`/`avg` of doubles are exact: each double is split into an integer mantissa and a power of
  two in SQL, mantissas summed per exponent (HUGEINT), and Python rounds the exact total once —
  `math.fsum`'s answer, which is what aggregates.Sum gives; `pct` is nearest rank
  (`list_sort(list(x))[ceil(p/100*n)]`); `stddev` (Welford in arrival order) and string min/max
  (values.sort_key's numeric-text order) are left to the row engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from . import values as V
from .aggregates import lookup_aggregate
from .parser import Binary as BinaryNode
from .parser import Call, Field, In, ListLit, Literal, Logic, Match, Star, Unary

STR, DBL, TS = "str", "dbl", "ts"

# Insights field -> (SQL column, kind); `level` and JSON fields are added with a guard
COLUMN_FIELDS: dict[str, tuple[str, str]] = {
    "@message": ("msg", STR),
    "@logStream": ("stream", STR),
    "@type": ("type", STR),
    "@requestId": ("rid", STR),
    "@xrayTraceId": ("xtrace", STR),
    "@xraySegmentId": ("xseg", STR),
    "@duration": ("duration", DBL),
    "@billedDuration": ("billed", DBL),
    "@memorySize": ("memsize", DBL),
    "@maxMemoryUsed": ("maxmem", DBL),
    "@initDuration": ("initdur", DBL),
    "@timestamp": ("ts", TS),
    "@ingestionTime": ("ingest", TS),
}
_FIXED_UNITS = {"ms", "s", "m", "h", "d", "w"}
_MONDAY_MS = 4 * 86_400_000
_EXACT_INT = 2**53
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
# a superset of the strings values.parse_number reads as a number: Python's whitespace around
# characters of _INT_RE / _FLOAT_RE (RE2 syntax)
_PY_SPACE = "\\x{9}\\x{a}\\x{b}\\x{c}\\x{d}\\x{1c}\\x{1d}\\x{1e}\\x{1f}\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}\\x{2001}\\x{2002}\\x{2003}\\x{2004}\\x{2005}\\x{2006}\\x{2007}\\x{2008}\\x{2009}\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"
_MAYBE_NUMBER = f"[{_PY_SPACE}]*[-+0-9.eE]+[{_PY_SPACE}]*"
_HIT = (
    "FILTER (WHERE _hit)"  # aggregates read only the events the filters keep (stats_sql's `_hit`)
)
_SQL_OP = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


@dataclass
class Key:
    """A `stats ... by` key: its SQL and how a result becomes the engine's value."""

    sql: str
    kind: str  # STR, DBL, TS


@dataclass
class Agg:
    """One aggregate slot of the stats, in the engine's slot order.

    how: "count" (long), "value" (the column's value as its kind), "sum"/"avg" (exact sums: see
    `exact_total`), "first" (a struct's `v`, from earliest/latest); `sql` is the select expression
    (None for sum/avg of doubles, computed from the mantissa sums)."""

    name: str
    how: str
    kind: str
    sql: str | None
    column: str | None = None  # the column summed exactly (sum/avg of doubles)
    count_sql: str | None = None  # avg: how many values


@dataclass
class SqlPlan:
    kind: str  # "rows" | "stats"
    where: str  # a two-valued SQL condition over the event relation
    params: list[Any]
    guards: list[str] = field(default_factory=list)  # conditions no row may meet, else fall back
    # rows
    ascending: bool = False  # sort @timestamp asc
    count: int | None = (
        None  # the number of rows the engine's heap keeps (None: the request's limit)
    )
    capped: bool = True  # the heap keeps at most the request's limit too
    # stats
    keys: list[Key] = field(default_factory=list)
    aggs: list[Agg] = field(default_factory=list)
    derived: list[list[str]] = field(default_factory=list)  # `parse`: columns added, step by step
    cut: bool = False  # stats: only the first `limit` groups in key order can be returned (cut_sql)

    def over(self, relation: str) -> str:
        """`relation` with the columns `parse` derives (one subquery per step: each reads the last)."""
        for step in self.derived:
            relation = f"(SELECT *, {', '.join(step)} FROM {relation})"
        return relation

    def totals_sql(self, relation: str) -> tuple[str, list[Any]]:
        """One scan of a rows query: events scanned, their bytes, each guard's hits, events matched."""
        cols = ["count(*)", 'coalesce(sum("end" - off), 0)'] + [
            f"count_if({g})" for g in self.guards
        ]
        cols.append(f"count_if({self.where})")
        return f"SELECT {', '.join(cols)} FROM {self.over(relation)}", list(self.params)

    def rows_sql(self, relation: str, limit: int) -> tuple[str, list[Any]]:
        """The picked events as (sidx, off, end, ingest), in the order the engine keeps them."""
        k = limit if self.count is None else min(self.count, limit) if self.capped else self.count
        direction = "ASC" if self.ascending else "DESC"
        sql = (
            f'SELECT sidx, off, "end", ingest FROM {self.over(relation)} WHERE {self.where} '
            f"ORDER BY ts {direction}, srank DESC, off DESC LIMIT {int(k)}"
        )
        return sql, list(self.params)

    def stats_sql(self, relation: str) -> tuple[str, list[Any]]:
        """The whole stats in one scan: a row per group of matching events (`_hit`), keys then each
        aggregate's select (sum/avg of doubles: see sums_sql), plus one row for the events the
        filters drop; every row carries its events' count, bytes and guard hits (the statistics)."""
        keys = [f"CASE WHEN _hit THEN {k.sql} END AS k{i}" for i, k in enumerate(self.keys)]
        cols = ["_hit", "count(*) AS n_all", 'coalesce(sum("end" - off), 0) AS b_all']
        cols += [f"count_if({g}) AS g{i}" for i, g in enumerate(self.guards)]
        cols.append("count(*) FILTER (WHERE _hit) AS n_rows")
        for i, a in enumerate(self.aggs):
            if a.sql is not None:
                cols.append(f"{a.sql} AS a{i}")
            if a.count_sql is not None:
                cols.append(f"{a.count_sql} AS c{i}")
        scan = f"(SELECT *, ({self.where}) AS _hit FROM {self.over(relation)})"
        group = ", ".join(["_hit"] + [f"k{i}" for i in range(len(self.keys))])
        sql = f"SELECT {', '.join(keys + cols)} FROM {scan} GROUP BY {group}"
        return sql, list(self.params)

    def cut_sql(self, table: str, limit: int) -> str:
        """The groups of `table` (stats_sql's result) that may be among the first `limit` in
        values.sort_key order of the one text key: every key that might spell a number (numbers
        sort first; Python decides which do), the first `limit` of the others by code point
        (DuckDB compares strings by their UTF-8 bytes, which is code point order), and NULL."""
        maybe = f"regexp_full_match(k0, '{_MAYBE_NUMBER}')"
        return (
            f"SELECT * FROM {table} WHERE NOT _hit OR k0 IS NULL OR {maybe} "
            f"UNION ALL (SELECT * FROM {table} WHERE _hit AND k0 IS NOT NULL AND NOT {maybe} "
            f"ORDER BY k0 LIMIT {int(limit)})"
        )

    def sums_sql(self, relation: str, column: str) -> tuple[str, list[Any]]:
        """Per group and power of two: the sum of the integer mantissas of `column` (exact, HUGEINT).

        x = m * 2^s with s = floor(log2|x|) - 53 (at least -1074): m is an integer below 2^55 even
        when log2 is off by one near a power of two, and x / 2^s is exact."""
        keys = [f"{k.sql} AS k{i}" for i, k in enumerate(self.keys)]
        s = f"greatest(CAST(floor(log2(abs({column}))) AS INTEGER) - 53, -1074)"
        inner = (
            f"SELECT {', '.join(keys + [f'{s} AS s', f'{column} AS x'])} FROM {self.over(relation)} "
            f"WHERE ({self.where}) AND {column} IS NOT NULL AND {column} <> 0"
        )
        names = [f"k{i}" for i in range(len(self.keys))]
        sql = (
            f"SELECT {', '.join(names + ['s', 'sum(CAST(x / pow(2.0, s) AS BIGINT)) AS m'])} "
            f"FROM ({inner}) GROUP BY {', '.join(names + ['s'])}"
        )
        return sql, list(self.params)


def exact_total(parts: list[tuple[int, int]]) -> tuple[int, bool]:
    """(the exact sum scaled by 2^1074, whether there was any) from (s, mantissa sum) pairs."""
    total = 0
    for s, m in parts:
        total += int(m) << (int(s) + 1074)
    return total, bool(parts)


def rounded_sum(scaled: int) -> float | None:
    """The exact sum `scaled / 2^1074` rounded once (math.fsum's answer); None past the double range."""
    try:
        return V.bounded(scaled / (1 << 1074))
    except OverflowError:
        return None


class _NoMap(Exception):
    pass


class _Fields:
    """What a field name reads in SQL, collecting the guards JSON fields need."""

    def __init__(self, assigned: set[str], account: str | None = None) -> None:
        self.assigned = assigned
        self.account = account
        self.computed: dict[str, tuple[str, str]] = {}  # fields a `parse` wrote: their SQL
        self.derived: list[list[str]] = []  # the columns `parse` adds (SqlPlan.derived)
        self.guarded: list[str] = []  # JSON keys read: no row may hold a non-text value there

    @property
    def guards(self) -> list[str]:
        """At most one condition for every key read: one count in the scan, not one per key (three
        list_contains counts were ~40% of a `parse … as a, b, c | stats` scan)."""
        if not self.guarded:
            return []
        names = ", ".join(_sql_text(n) for n in self.guarded)
        return [f"coalesce(list_has_any(ns, [{names}]), false)"]

    def column(self, node: Any) -> tuple[str, str]:
        if not isinstance(node, Field) or node.name in self.assigned:
            raise _NoMap
        got = self.computed.get(node.name) or COLUMN_FIELDS.get(node.name)
        if got is not None:
            return got
        name = node.name
        if name == "@log" and self.account is not None:  # fields.event_row's `account:group`
            return f"({_sql_text(self.account + ':')} || grp)", STR
        if (
            len(node.segments) != 1
            or name[:1] == "@"
            or not name
            or len(name) > 200
            or any(c in name for c in '"\\.[]\x00')
            or not name.isprintable()
        ):
            raise _NoMap
        path = f'$."{name}"'
        if name not in self.guarded:
            self.guarded.append(name)
        if name == "level":
            return "level", STR
        return f"json_extract_string(fj, '{path}')", STR


def _number_literal(node: Any) -> int | float | None:
    if (
        isinstance(node, Literal)
        and node.kind == "number"
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, Unary) and node.op == "-":
        n = _number_literal(node.operand)
        return None if n is None else -n
    return None


def _compare(op: str, col: str, kind: str, lit: Any, params: list) -> str:
    """`field op literal` as a two-valued SQL condition, or _NoMap."""
    if isinstance(lit, Literal) and lit.kind == "string" and isinstance(lit.value, str):
        text = lit.value
        if kind == STR:
            if op not in ("=", "!=") and V.parse_number(text) is not None:
                raise _NoMap  # two numeric strings compare as numbers
            params.append(text)
            return f"coalesce({col} {_SQL_OP[op]} ?, false)"
        n = V.parse_number(text)
        if n is None:
            return "false"  # a number and a non-numeric string are not comparable
        return _compare_number(op, col, kind, n, params)
    n = _number_literal(lit)
    if n is None or kind == STR:
        raise _NoMap
    return _compare_number(op, col, kind, n, params)


def _compare_number(op: str, col: str, kind: str, n: int | float, params: list) -> str:
    if isinstance(n, float) and not math.isfinite(n):
        raise _NoMap
    if kind == TS and isinstance(n, int):
        if not -(2**63) < n < 2**63:
            raise _NoMap
        params.append(n)
        return f"coalesce({col} {_SQL_OP[op]} CAST(? AS BIGINT), false)"
    if abs(n) > _EXACT_INT:
        raise _NoMap  # the column (or literal) would be rounded to a double to compare
    params.append(float(n))
    return f"coalesce({col} {_SQL_OP[op]} CAST(? AS DOUBLE), false)"


def _condition(node: Any, fields: _Fields, params: list) -> str:
    """A filter expression as a two-valued SQL condition with the engine's truth, or _NoMap."""
    if isinstance(node, Logic):
        parts = [_condition(x, fields, params) for x in node.operands]
        joiner = " AND " if node.op == "and" else " OR "
        return "(" + joiner.join(parts) + ")"
    if isinstance(node, Unary) and node.op == "not":
        return f"(NOT {_condition(node.operand, fields, params)})"
    if isinstance(node, BinaryNode) and node.op in _SQL_OP:
        if isinstance(node.left, Field):
            col, kind = fields.column(node.left)
            return _compare(node.op, col, kind, node.right, params)
        if isinstance(node.right, Field):
            col, kind = fields.column(node.right)
            return _compare(_FLIP[node.op], col, kind, node.left, params)
        raise _NoMap
    if isinstance(node, In) and isinstance(node.items, ListLit) and node.items.items:
        col, kind = fields.column(node.left)
        terms = [_compare("=", col, kind, item, params) for item in node.items.items]
        hit = "(" + " OR ".join(terms) + ")"
        return f"({col} IS NOT NULL AND {'NOT ' if node.negate else ''}{hit})"
    if (
        isinstance(node, Match)
        and isinstance(node.right, Literal)
        and node.right.kind in ("string", "regex")
    ):
        col, kind = fields.column(node.left)
        if kind != STR:
            raise _NoMap  # numbers match in their rendered (Java) text
        pattern = node.right.value
        if not isinstance(pattern, str):
            raise _NoMap
        if node.right.kind == "regex":
            if "(?<" in pattern or "\x00" in pattern:
                raise _NoMap  # DuckDB's RE2 takes only (?P<name>...)
            params.append(pattern)
            test = f"regexp_matches({col}, ?)"
        else:
            params.append(pattern)
            test = f"contains({col}, ?)"
        return f"coalesce({'NOT ' if node.negate else ''}{test}, false)"
    if isinstance(node, Call) and node.name.lower() == "ispresent" and len(node.args) == 1:
        col, _ = fields.column(node.args[0])
        return f"({col} IS NOT NULL)"
    raise _NoMap


def _assigned_by(stage: Any) -> set[str]:
    """Names a `fields` command computes (a later filter reading them does not read the columns)."""
    cmd = stage.command
    if stage.kind == "fields":
        return {i.name for i in cmd.items if not (isinstance(i.expr, Field) and not i.aliased)}
    return set()


def _sql_text(text: str) -> str:
    """`text` as a SQL string literal."""
    if "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise _NoMap  # DuckDB strings hold neither
    return "'" + text.replace("'", "''") + "'"


def _parse_stage(stage: Any, fields: _Fields) -> None:
    """A glob `parse` as columns derived step by step, the successive finds of
    commands._glob_matcher in SQL: the first literal's first occurrence (`strpos`), then each next
    literal's first occurrence after the previous one; each name is `CASE WHEN every literal was
    found THEN the text between ELSE the field's value before`, as a row `parse` does not match is
    left as it was. Positions count code points in DuckDB as in Python. (RE2 with lazy captures
    took ~15 µs a row; these finds are what the row engine does too.)"""
    cmd = stage.command
    if cmd.glob is None:
        raise _NoMap  # a regex: Python's syntax, not RE2's
    names = [n for n, _, _ in cmd.names]
    if len(set(names)) != len(names) or any(n[:1] == "@" for n in names):
        raise _NoMap
    source = cmd.expr or Field("@message", ("@message",), cmd.start, cmd.end)
    col, kind = fields.column(source)
    if kind != STR:
        raise _NoMap  # numbers parse in their rendered (Java) text
    befores = [fields.column(Field(n, (n,), cmd.start, cmd.end))[0] for n in names]
    pieces = cmd.glob.split("*")
    j = len(fields.derived)
    src, b, e = f"_p{j}_src", f"_p{j}_b", f"_p{j}_e"  # text; where literal i begins, ends (1-based)
    steps = [[f"{col} AS {src}"]]
    if pieces[0]:
        steps.append([f"nullif(strpos({src}, {_sql_text(pieces[0])}), 0) AS {b}0"])
    else:
        steps.append([f"CASE WHEN {src} IS NOT NULL THEN 1 END AS {b}0"])
    steps.append([f"{b}0 + {len(pieces[0])} AS {e}0"])
    for i, lit in enumerate(pieces[1:], 1):
        if not lit and i == len(pieces) - 1:
            break  # a trailing '*' takes the rest of the text
        if lit:
            found = f"nullif(strpos(substring({src}, {e}{i - 1}), {_sql_text(lit)}), 0)"
            steps.append([f"{e}{i - 1} - 1 + {found} AS {b}{i}"])
        else:
            steps.append([f"{e}{i - 1} AS {b}{i}"])
        steps.append([f"{b}{i} + {len(lit)} AS {e}{i}"])
    last = len(pieces) - 1
    ok = f"{e}{last} IS NOT NULL" if pieces[-1] else f"{e}{last - 1} IS NOT NULL"
    made = []
    for k, before in enumerate(befores, 1):
        text = (
            f"substring({src}, {e}{k - 1}, {b}{k} - {e}{k - 1})"
            if k < last or pieces[-1]
            else f"substring({src}, {e}{k - 1})"
        )
        made.append(f"CASE WHEN {ok} THEN {text} ELSE {before} END AS _p{j}_{k}")
    steps.append(made)
    fields.derived.extend(steps)
    for k, name in enumerate(names, 1):
        fields.computed[name] = (f"_p{j}_{k}", STR)


def _bin_key(node: Call) -> Key:
    if (
        len(node.args) != 1
        or not isinstance(node.args[0], Literal)
        or node.args[0].kind != "period"
    ):
        raise _NoMap
    p = node.args[0].value
    if not isinstance(p, V.Period) or p.unit not in _FIXED_UNITS:
        raise _NoMap  # months, quarters, years follow the calendar
    span = int(p.ms)
    base = f"(ts - {_MONDAY_MS})" if p.unit == "w" else "ts"
    sql = f"CASE WHEN ts BETWEEN {V.MIN_MS} AND {V.MAX_MS} THEN ts - ((({base} % {span}) + {span}) % {span}) END"
    return Key(sql, TS)


def _numeric(node: Any, fields: _Fields) -> tuple[str, str]:
    """Arithmetic on a double column with number literals (`@memorySize / 1000 / 1000`) as SQL
    doubles: IEEE operations in the same order give values.arith's floats bit for bit. A result
    that is not finite is absent, as arith's `bounded` makes it (DuckDB gives inf); checking the
    last step is enough, since with a literal as the other operand (never a column divisor) a step
    that is not finite leaves every later one not finite."""
    raw = _arith(node, fields)
    return (raw if isinstance(node, Field) else f"(CASE WHEN isfinite({raw}) THEN {raw} END)"), DBL


def _arith(node: Any, fields: _Fields) -> str:
    """The unchecked SQL of `_numeric`: a column as the divisor (it may be zero), a zero factor
    (-0.0 and 0.0 tie in min/max), a literal past 2^53 and anything but doubles are the row engine's."""
    if isinstance(node, Field):
        col, kind = fields.column(node)
        if kind != DBL:
            raise _NoMap  # epoch ms are integers: their arithmetic is exact in Python, not in doubles
        return col
    if not isinstance(node, BinaryNode) or node.op not in ("+", "-", "*", "/"):
        raise _NoMap
    left_n, right_n = _number_literal(node.left), _number_literal(node.right)
    if (left_n is None) == (right_n is None):
        raise _NoMap  # two columns, or two literals (a constant)
    n = left_n if left_n is not None else right_n
    if isinstance(n, float) and not math.isfinite(n) or abs(n) > _EXACT_INT:
        raise _NoMap
    if (node.op == "/" and (right_n is None or right_n == 0)) or (node.op == "*" and n == 0):
        raise _NoMap
    lit = f"CAST('{float(n)!r}' AS DOUBLE)"
    other = _arith(node.right if left_n is not None else node.left, fields)
    return f"({lit} {node.op} {other})" if left_n is not None else f"({other} {node.op} {lit})"


def _aggregates(stats_cmd: Any, slots: list, fields: _Fields, params: list) -> list[Agg]:
    """Each aggregate call of the stats items, in the order exprs.compile_expr made the slots."""
    calls: list[Call] = []

    def walk(node: Any) -> None:
        if isinstance(node, Call) and lookup_aggregate(node.name) is not None:
            calls.append(node)
            return
        for name in getattr(node, "__slots__", ()):
            v = getattr(node, name)
            if isinstance(v, tuple):
                for x in v:
                    walk(x)
            elif hasattr(v, "start") and not isinstance(v, (str, int)):
                walk(v)

    for item in stats_cmd.items:
        walk(item.expr)
    if len(calls) != len(slots):
        raise _NoMap
    out: list[Agg] = []
    for call, slot in zip(calls, slots, strict=True):
        if lookup_aggregate(call.name) is not slot.aggregate:
            raise _NoMap
        out.append(_aggregate(call, slot, fields, params))
    return out


def _aggregate(call: Call, slot: Any, fields: _Fields, params: list) -> Agg:
    name = slot.aggregate.name.lower()
    args = [a for a in call.args if not isinstance(a, Star)]
    if name == "count" and not args:
        return Agg(name, "count", TS, f"count(*) {_HIT}")
    if not args:
        raise _NoMap
    col, kind = (
        _numeric(args[0], fields) if isinstance(args[0], BinaryNode) else fields.column(args[0])
    )
    if name == "count":
        return Agg(name, "count", kind, f"count({col}) {_HIT}")
    if name == "count_distinct":
        if kind == DBL:
            raise _NoMap  # -0.0 and 0.0 render apart; SQL's distinct merges them
        return Agg(name, "count", kind, f"count(DISTINCT {col}) {_HIT}")
    if kind == STR:
        raise _NoMap  # numeric text and sort_key's order are the row engine's
    if name in ("sum", "avg"):
        if kind == TS:
            return Agg(name, name, kind, f"sum({col}) {_HIT}", None, f"count({col}) {_HIT}")
        return Agg(name, name, kind, None, col, f"count({col}) {_HIT}")
    if name in ("min", "max", "sortsfirst", "sortslast"):
        return Agg(
            name,
            "value",
            kind,
            f"{'min' if name in ('min', 'sortsfirst') else 'max'}({col}) {_HIT}",
        )
    if name in ("pct", "percentile"):
        p = V.to_number(slot.consts[0]) if slot.consts else None
        if p is None:
            raise _NoMap
        frac = (
            float(p) / 100.0
        )  # aggregates.Percentile: ceil(p / 100.0 * n), the same two operations
        sql = (
            f"list_sort(list({col}) FILTER (WHERE _hit AND {col} IS NOT NULL))"
            f"[CAST(greatest(1, ceil({frac!r} * count({col}) {_HIT})) AS BIGINT)]"
        )
        return Agg(name, "value", kind, sql)
    if name in ("earliest", "latest"):
        fn = "min" if name == "earliest" else "max"
        return Agg(
            name,
            "first",
            kind,
            f"{fn}(struct_pack(t := ts, v := {col})) FILTER (WHERE _hit AND {col} IS NOT NULL)",
        )
    raise _NoMap  # stddev (Welford, in arrival order) and anything new


def plan_sql(plan: Any, account: str | None = None) -> SqlPlan | None:
    """The SQL form of a compiled `insights.Plan`, or None when it must run in the row engine.
    `account` makes `@log` (`account:group`) a column; without it a query reading @log does not map."""
    try:
        return _plan(plan, account)
    except _NoMap:
        return None


def _plan(plan: Any, account: str | None = None) -> SqlPlan:
    if getattr(plan, "needs_previous", False):
        raise _NoMap
    stages = plan.stages
    params: list[Any] = []
    conds: list[str] = []
    assigned: set[str] = set()
    fields = _Fields(assigned, account)
    i = 0
    while i < len(stages) and stages[i].kind in ("filter", "fields", "display", "parse", "unmask"):
        s = stages[i]
        if s.kind == "filter":
            conds.append(_condition(s.command.expr, fields, params))
        elif s.kind == "parse":
            _parse_stage(s, fields)
        else:
            assigned |= _assigned_by(s)
        i += 1
    if "@timestamp" in assigned:
        raise _NoMap
    where = " AND ".join(conds) if conds else "true"
    rest = stages[i:]
    if not rest or rest[0].kind in ("sort", "limit"):
        return _rows_plan(rest, where, params, fields)
    if rest[0].kind == "stats":
        if assigned:
            raise _NoMap  # a stats over a computed or parsed field
        sp = _stats_plan(rest[0], where, params, fields)
        # the engine keeps only the first `limit` groups by key when nothing after reorders or drops
        # rows (engine._PREFIX_SAFE): with one text key, SQL can cut to a superset of those
        sp.cut = (
            len(sp.keys) == 1
            and sp.keys[0].kind == STR
            and all(s.kind in ("fields", "display", "unmask", "parse", "limit") for s in rest[1:])
        )
        return sp
    raise _NoMap


def _rows_plan(rest: list, where: str, params: list, fields: _Fields) -> SqlPlan:
    """The engine's sink heap (engine.Execution._heap_size): which rows, in which order, survive."""
    if not rest:
        return SqlPlan("rows", where, params, fields.guards, derived=fields.derived)
    sink, after = rest[0], rest[1:]
    if sink.kind == "limit":  # newest first; whatever follows works on exactly these rows
        return SqlPlan(
            "rows",
            where,
            params,
            fields.guards,
            derived=fields.derived,
            count=sink.count,
            capped=not after,
        )
    if sink.time_order is None:
        raise _NoMap  # sorted by something the columns would have to order exactly
    ascending = sink.time_order == "asc"
    for s in after:
        if s.kind == "limit":
            return SqlPlan(
                "rows",
                where,
                params,
                fields.guards,
                derived=fields.derived,
                ascending=ascending,
                count=s.count,
                capped=False,
            )
        if s.kind not in ("fields", "display", "parse", "unmask"):
            raise _NoMap  # a later filter or dedup may need rows past the first K
    return SqlPlan(
        "rows", where, params, fields.guards, derived=fields.derived, ascending=ascending
    )


def _stats_plan(stage: Any, where: str, params: list, fields: _Fields) -> SqlPlan:
    spec = stage.stats
    keys: list[Key] = []
    for item in stage.command.by:
        node = item.expr
        if isinstance(node, Call) and node.name.lower() == "bin":
            keys.append(_bin_key(node))
        elif isinstance(node, Field):
            col, kind = fields.column(node)
            keys.append(Key(col, kind))
        else:
            raise _NoMap
    # aggregate args read the columns too: their params come after the WHERE's in select order,
    # so keep them apart (only literals in SQL text are used there: no params)
    agg_params: list[Any] = []
    aggs = _aggregates(stage.command, spec.slots, fields, agg_params)
    if agg_params:
        raise _NoMap
    return SqlPlan(
        "stats", where, params, fields.guards, derived=fields.derived, keys=keys, aggs=aggs
    )


def decode(kind: str, v: Any) -> Any:
    """A SQL result as the engine's value: Timestamp for epoch-ms columns, float for doubles."""
    if v is None:
        return None
    if kind == TS:
        return V.Timestamp(int(v))
    if kind == DBL:
        return V.bounded(float(v))
    return v


__all__ = ["Agg", "Key", "SqlPlan", "decode", "exact_total", "plan_sql", "rounded_sum"]
