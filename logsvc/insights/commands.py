"""Turns the parsed commands into stages: checks the rules between commands, compiles each one.

Owns what each command does to a row (`fields`, `filter`, `parse` with its glob matcher, `unnest`)
and the rules that span commands: at most two `stats` and nothing sorted or limited between them,
only `limit` after `dedup`, `diff` right after `pattern`, no field used after a `stats` that it
dropped, the last `display` wins. `engine.py` runs the stages; `exprs.py` compiles expressions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from . import values
from .aggregates import lookup_aggregate
from .errors import QueryError
from .exprs import AggregateSlot, Closure, Scope, compile_expr, compile_regex
from .parser import Call, Command, Field, Query

ROW_COMMANDS = {
    "fields",
    "display",
    "filter",
    "parse",
    "unnest",
    "unmask",
}  # filterIndex runs as filter
LIST_COMMANDS = {"sort", "limit", "dedup", "stats", "pattern", "diff"}
MAX_STATS = 2
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

Row = Any  # a MutableMapping[str, Value]: fields.Row for events, dict for rows a command makes


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
    items: list[
        tuple[str, Closure]
    ]  # evaluated over a scratch row holding keys, aggregates, aliases
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
            if (
                len(cmd.keys) == 1
                and isinstance(cmd.keys[0][0], Field)
                and cmd.keys[0][0].name == "@timestamp"
            ):
                stage.time_order = (
                    "desc" if cmd.keys[0][1] else "asc"
                )  # the common case, without sort_key
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
