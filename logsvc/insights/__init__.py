"""CloudWatch Logs Insights query language: compile a query once, then run it over rows. Pure.

Owns the language (issue #11): scanner.py (tokens), parser.py (grammar -> AST), exprs.py
(expressions -> closures, function resolution), commands.py (commands -> stages, the rules between
commands), collectors.py (row order, heaps, dedup, stats groups), engine.py (the pipeline run and
the output shape), patterns.py (`pattern`/`diff` clustering), terms.py (words a query promises,
for candidate blocks), errors.py (QueryError with character offsets).
values.py, functions.py and aggregates.py hold the value model and the function library;
fields.py decides what a field of an event is. Never imports query/index/store/flask; the runner
(`logsvc/jobs.py`) reads events and feeds rows::

    plan = insights.compile(text)                     # QueryError at the offending characters
    run = plan.start(limit=10_000, ctx=EvalContext(None, start_ms, end_ms, now_ms))
    for event in events: run.add(fields.event_row(event, account=..., ptr=...))
    rows = run.finish()                               # [[(field, value), ...], ...]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import terms
from .commands import Stage, compile_stages
from .engine import DEFAULT_LIMIT, Columns, Execution, output_columns
from .errors import QueryError
from .parser import Query, SourceSpec, parse

__all__ = ["DEFAULT_LIMIT", "Execution", "Plan", "QueryError", "SourceSpec", "compile"]


@dataclass
class Plan:
    """A compiled query. Immutable once made; `start()` any number of times (each run is separate)."""

    text: str
    source: SourceSpec | None
    is_stats: bool  # rows come from stats/pattern/diff: no @ptr
    needs_previous: bool  # diff: the runner also feeds the previous period with add_previous()
    previous: (
        str | None
    )  # diff's period: "period" (the same length just before), "day", "week", "month"
    literal_terms: list[
        str
    ]  # tokens every matching @message contains (case as written): for candidate blocks
    columns: list[str]  # the output columns as far as the query fixes them (before @ptr)
    query: Query = field(repr=False)
    stages: list[Stage] = field(repr=False)
    _columns: Columns = field(repr=False)

    def start(self, *, limit: int = DEFAULT_LIMIT, ctx: object) -> Execution:
        """A fresh run: rows are capped at `limit`; `ctx` is a values.EvalContext for the query's window."""
        return Execution(self.stages, self._columns, limit=limit, ctx=ctx)


def compile(text: str) -> Plan:
    """Parse and check `text`.

    :raises QueryError: the query breaks the grammar, or names a command, function or argument
        logsvc does not implement; `start`/`end` point at it.
    """
    query = parse(text)
    stages = compile_stages(query)
    columns = output_columns(stages)
    kinds = [s.kind for s in stages]
    diff = next((s for s in stages if s.kind == "diff"), None)
    return Plan(
        text=text,
        source=query.source,
        is_stats=any(k in ("stats", "pattern", "diff") for k in kinds),
        needs_previous=diff is not None,
        previous=(diff.command.modifier or "period") if diff else None,
        literal_terms=terms.literal_terms(stages),
        columns=list(columns.names),
        query=query,
        stages=stages,
        _columns=columns,
    )
