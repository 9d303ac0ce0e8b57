"""insights/sql.py: which queries DuckDB answers over the columns, and that it answers exactly as the
row engine does. The differential tests run every query of the language tests (and the oracle's
cases) both ways over the same events — the row engine over `fields.event_row` rows in the reader's
order, DuckDB over `schema.event_columns` rows — and require equal cells (doubles to the bit: they
render as Java's shortest text, so a last-bit difference shows)."""

from __future__ import annotations

import math
import random

import pytest

from logsvc import colquery, lines, query
from logsvc.columns import schema
from logsvc.index import stream_key
from logsvc.insights import compile as compile_query
from logsvc.insights import sql as isql
from logsvc.insights.fields import event_row
from logsvc.insights.values import EvalContext, java_double_text
from tests import insights_cases as oracle
from tests import test_insights_language as lang

# ---- which queries map ------------------------------------------------------------------------

MAPS = [
    (
        "filter @type = 'REPORT' | stats avg(@duration), pct(@duration, 99), max(@maxMemoryUsed) by bin(5m)",
        "stats",
    ),
    ("stats count(*) by level, bin(1h)", "stats"),
    ('filter @requestId = "abc"', "rows"),
    ("fields @timestamp, @message | sort @timestamp desc | limit 20", "rows"),
    ("filter @message like /ERROR/ and not ispresent(@duration) | limit 5", "rows"),
    (
        "filter @duration > 100 or @logStream in ['a', 'b'] | stats count(*), sum(@billedDuration) by @logStream",
        "stats",
    ),
    (
        "filter @message =~ /time(d)?out/ | stats count_distinct(@requestId), earliest(@duration), latest(@timestamp)",
        "stats",
    ),
    ("fields concat(@type, 'x') as t | sort @timestamp asc", "rows"),
    ("limit 3 | sort @message", "rows"),
    ("stats min(@timestamp), sum(@timestamp), avg(@initDuration) by bin(1w)", "stats"),
    (
        "filter status = 'ok' | stats count(*) by region",
        "stats",
    ),  # JSON fields: guarded at run time
    (
        "parse @message '* * *' as a, b, c | stats count(*) by b",
        "stats",
    ),  # a glob parse: RE2 captures
    ("parse @message 'Duration: * ms' as d | filter d like '1' | limit 5", "rows"),
]
FALLS_BACK = [
    "parse @message /(?<a>\\S+)/ | stats count(*) by a",  # a regex parse: Python's syntax, not RE2's
    "parse @duration '*.*' as a, b | stats count(*) by a",  # a number parses in its rendered text
    "parse @message '* *' as @type, b | stats count(*) by b",  # writing a system field
    "fields @type as t | parse t '* *' as a, b | stats count(*) by a",  # parsing a computed field
    "stats stddev(@duration)",  # Welford in arrival order
    "stats max(@message)",  # numeric-text ordering of strings
    "stats count(*) by bin(1mo)",  # calendar units
    "filter @duration = '12.5' or @requestId > 5",  # a string column against a number
    "filter @requestId < '5'",  # numeric text compares as a number
    "fields @duration * 2 as d | filter d > 3",  # a filter on a computed field
    "sort @duration desc | limit 3",  # order by a column other than @timestamp
    "dedup @requestId",
    "filter @message like /(?<x>ab)/",  # DuckDB's RE2 spells named groups (?P<x>)
    "pattern @message",
    "filter strlen(@message) > 3",
    "stats count(*) by a.b",  # a dotted name may descend a structure
    "stats sum(status)",  # a JSON field's numbers
    "stats sum(1000 / @duration)",  # a column as the divisor may be zero
    "stats max(@duration * 0)",  # -0.0 and 0.0
    "stats max(@timestamp / 1000)",  # epoch ms: integer arithmetic
    "stats max(@duration + @billedDuration)",  # two columns
    "fields 1 as @timestamp | sort @timestamp desc",
    "filter @message like 'x' | sort @timestamp desc | filter @type = 'y' | limit 2",
]


@pytest.mark.parametrize(("text", "kind"), MAPS)
def test_maps(text: str, kind: str) -> None:
    sp = isql.plan_sql(compile_query(text))
    assert sp is not None and sp.kind == kind


@pytest.mark.parametrize("text", FALLS_BACK)
def test_falls_back(text: str) -> None:
    assert isql.plan_sql(compile_query(text)) is None


def test_json_fields_carry_guards() -> None:
    sp = isql.plan_sql(compile_query("filter status = 'ok' | stats count(*) by level"))
    assert sp is not None and len(sp.guards) == 1  # one condition over both keys read
    assert "'status'" in sp.guards[0] and "'level'" in sp.guards[0]


# ---- the two engines over the same events ---------------------------------------------------

_INGESTED = 1764547200000


def _oracle_events() -> list:
    out = []
    for (group, stream), text in oracle.stream_files().items():
        raw, _ = lines.split_events(text.encode(), flush=True)
        out += [
            query.make_event(group, stream, r.start, r.end, r.text, _INGESTED, b"\x01" * 8)
            for r in raw
        ]
    return out


class Both:
    """The same events for the row engine (in the reader's order) and DuckDB (a registered table)."""

    def __init__(self, events: list) -> None:
        import pyarrow as pa

        keys = sorted({(e.group, e.stream) for e in events})
        self.sidx = {k: i for i, k in enumerate(keys)}
        skeys = {k: stream_key(*k) for k in keys}
        rank = {k: r for r, k in enumerate(sorted(keys, key=lambda k: skeys[k]))}
        # the reader's order, newest first: (timestamp, stream key, offset) descending
        self.events = sorted(
            events, key=lambda e: (e.timestamp, skeys[(e.group, e.stream)], e.offset), reverse=True
        )
        self.by_pos = {(self.sidx[(e.group, e.stream)], e.offset): e for e in events}
        table = schema.arrow_table([schema.event_columns(e) for e in events])
        table = table.append_column(
            "sidx", pa.array([self.sidx[(e.group, e.stream)] for e in events], pa.int64())
        )
        table = table.append_column(
            "srank", pa.array([rank[(e.group, e.stream)] for e in events], pa.int64())
        )
        self.table = table

    def row_engine(self, text: str, events: list, lo: int, hi: int, limit: int) -> list:
        plan = compile_query(text)
        run = plan.start(limit=limit, ctx=EvalContext(None, lo, hi, hi))
        for e in events:
            run.add(self._row(e, plan))
        return run.finish()

    def _row(self, e, plan):
        ptr = None if plan.is_stats else f"p{self.sidx[(e.group, e.stream)]}:{e.offset}"
        return event_row(e, account=oracle.ACCOUNT, ptr=ptr)

    def columnar(self, text: str, groups: tuple, lo: int, hi: int, limit: int) -> list | None:
        plan = compile_query(text)
        sp = isql.plan_sql(plan, oracle.ACCOUNT)
        if sp is None:
            return None
        with colquery.session() as cur:
            cur.register("evs", self.table)
            names = ", ".join(f"'{g}'" for g in groups)
            rel = f"(SELECT * FROM evs WHERE grp IN ({names}) AND ts BETWEEN {lo} AND {hi})"
            got = colquery.answer(cur, sp, rel, limit)
        if got is None:
            return None  # a guard: the row engine answers
        run = plan.start(limit=limit, ctx=EvalContext(None, lo, hi, hi))
        if sp.kind == "rows":
            picked = [self.by_pos[(s, off)] for s, off, _, _ in got.picks]
            assert len({id(e) for e in picked}) == len(picked)
            for e in [e for e in self.events if any(e is p for p in picked)]:
                run.add(self._row(e, plan))
        else:
            run.put_groups(got.groups, got.matched)
        return run.finish()

    def compare(self, text: str, groups: tuple, lo: int, hi: int, limit: int = 10_000) -> bool:
        """Both answers, which must be equal; False when the query did not map."""
        events = [e for e in self.events if e.group in groups and lo <= e.timestamp <= hi]
        want = self.row_engine(text, events, lo, hi, limit)
        got = self.columnar(text, groups, lo, hi, limit)
        if got is None:
            return False
        assert got == want, text
        return True


@pytest.fixture(scope="module")
def both() -> Both:
    return Both(_oracle_events())


def _oracle_queries() -> list:
    out = []
    for c in oracle.CASES:
        plan = compile_query(c.query)
        groups = c.groups or tuple(
            g
            for g in oracle.GROUPS
            if plan.source and any(g.startswith(p) for p in plan.source.name_prefixes)
        )
        out.append(pytest.param(c.query, groups, c.start * 1000, c.end * 1000 + 999, id=c.name))
    return out


def _language_queries() -> list[str]:
    out = []
    for entry in lang.ENGINE:
        text = entry.values[0] if hasattr(entry, "values") else entry[0]
        if text not in out:
            out.append(text)
    return out


EXTRA = [
    "stats count(*) by @log, bin(1d)",
    "filter @log like 'checkout' | stats count(*) as n by @log, @logStream",
    'filter @type = "REPORT" | stats max(@memorySize / 1000 / 1000) as provisonedMemoryMB, '
    "min(@maxMemoryUsed / 1000 / 1000) as smallestMemoryRequestMB, avg(@maxMemoryUsed / 1000 / 1000) as avgMemoryUsedMB, "
    "max(@maxMemoryUsed / 1000 / 1000) as maxMemoryUsedMB, provisonedMemoryMB - maxMemoryUsedMB as overProvisionedMB",
    "stats avg(@duration * 3), sum(@duration + 0.1), pct(@duration / 3, 50), max(1 - @billedDuration), "
    "min(2.5 * @duration), count(@initDuration - 1) by @logStream",
    "stats sum(@duration"
    + " * 9007199254740992" * 20
    + "), max(@maxMemoryUsed"
    + " * 9007199254740992" * 19
    + "), "
    "count(@duration" + " * 9007199254740992" * 20 + ")",  # past the double range: absent
    "parse @message '* * *' as a, b, c | stats count(*) by b",
    "parse @message '*' as whole | stats count(*) by whole | sort whole asc | limit 5",
    "parse @message 'Duration: * ms' as d | stats count(*) by d | limit 20",
    "parse @message '[*]*(*)' as a, b, c | stats count(*) by a, c",
    "parse @message '**' as a, b | stats count(*) by b | limit 5",
    "parse @message '*(*) ?.+$ |*' as a, b, c | stats count(*) by a",
    "parse @message 'REPORT RequestId: *\tDuration' as rid | filter ispresent(rid) | stats count(*) by rid | limit 5",
    "parse @message '\"*\":' as key | stats count(*) by key",
    "parse @message '* *' as level, rest | stats count(*) by level",  # a JSON key of the same name when no match
    "parse @message 'Traceback*\n*' as a, b | stats count(*) by b",
    "parse @message '* *' as a, b | filter a = 'START' | fields b | limit 3",
    "parse @requestId '*-*' as head, tail | stats count(*) by head | limit 4",
    "filter @type = 'REPORT' | stats avg(@duration), pct(@duration, 99), max(@maxMemoryUsed) by bin(5m)",
    "filter @type = 'REPORT' | stats sum(@billedDuration), avg(@maxMemoryUsed), min(@duration), count(@initDuration) by @logStream",
    "stats count(*) by level, bin(1h)",
    "stats count(*), count(level), count_distinct(@requestId) by @type",
    "filter @type in ['START', 'END'] or @message like 'Traceback' | stats count(*) by @logStream, bin(1m)",
    "filter not (@type = 'REPORT') and @message like /(?i)error/",
    "filter @message =~ /^\\[(INFO|ERROR)\\]/ | fields @timestamp, @requestId, level",
    "filter @duration >= 100 and @duration < '500.5' | fields @duration, @billedDuration * 2 as twice",
    "filter @maxMemoryUsed > 50000000 | sort @timestamp asc | limit 3",
    "filter @requestId != 'x' | limit 4 | sort @message asc",
    "filter ispresent(@initDuration) | stats earliest(@initDuration), latest(@duration), earliest(@timestamp), "
    "latest(@timestamp), pct(@duration, 50), pct(@timestamp, 90), percentile(@duration, 0), pct(@duration, 100)",
    "stats sum(@timestamp), avg(@timestamp), min(@ingestionTime), max(@timestamp) by bin(30m)",
    "stats count(*) as n, sum(@duration) / count(*) as mean by @type | sort n desc | limit 3",
    "stats count(*) by bin(1w), bin(1d), bin(15s)",
    "filter level = 'ERROR' or level = 'WARN' | stats count(*) by @logStream",
    "filter not ispresent(level) and @type != 'REPORT' | fields @message",
    "filter @logStream not in ['x'] and @message not like 'START' | display @message, @type",
    "filter @timestamp > 0 | fields @timestamp, @ingestionTime | limit 7",
    "filter @duration = 'abc' | stats count(*)",
    "filter @xrayTraceId like '1-' | fields @xraySegmentId",
    "fields @message | sort @timestamp desc | limit 2 | display @message",
]


@pytest.mark.parametrize(("text", "groups", "lo", "hi"), _oracle_queries())
def test_oracle_cases_both_ways(both: Both, text: str, groups: tuple, lo: int, hi: int) -> None:
    both.compare(text, groups, lo, hi)


def test_language_and_extra_queries_both_ways(both: Both) -> None:
    lo, hi = oracle.FULL[0] * 1000, oracle.FULL[1] * 1000 + 999
    mapped = []
    for text in _language_queries() + EXTRA:
        try:
            compile_query(text)
        except Exception:
            continue
        for limit in (10_000, 3):
            if both.compare(text, oracle.GROUPS, lo, hi, limit):
                mapped.append(text)
    assert len(set(mapped)) >= 25, sorted(set(mapped))
    assert set(EXTRA) - {"filter status = 'ok' | stats count(*) by region"} <= set(mapped) | {
        t for t in EXTRA if isql.plan_sql(compile_query(t), oracle.ACCOUNT) is None
    }
    assert {t for t in EXTRA if "@log," in t} <= set(mapped)  # `account:group` in SQL


def test_most_oracle_cases_that_map_are_answered_by_duckdb(both: Both) -> None:
    """Not vacuous: DuckDB answers (no guard fell back) a good share of the oracle's cases."""
    mapped = [p for p in _oracle_queries() if isql.plan_sql(compile_query(p.values[0])) is not None]
    answered = [p.id for p in mapped if both.compare(*p.values)]
    assert len(answered) >= 10, answered
    # a JSON field with a number in some event: the guard sends it to the row engine
    assert not both.compare(
        "filter ispresent(attempt) | fields attempt", (oracle.G_CHECKOUT,), *_FULL
    )


_FULL = (oracle.FULL[0] * 1000, oracle.FULL[1] * 1000 + 999)


def _report_events(n: int, seed: int) -> list:
    """REPORT lines with durations of every magnitude Lambda prints, plus runtime lines."""
    rnd = random.Random(seed)
    out = []
    base = 1764547200000
    text = []
    for i in range(n):
        t = base + rnd.randrange(0, 3_600_000)
        d = round(
            rnd.choice([rnd.uniform(0, 2), rnd.uniform(0, 900_000), rnd.lognormvariate(3, 2)]), 2
        )
        b = math.ceil(d)
        mem = rnd.choice([128, 256, 1024, 10240])
        used = rnd.randrange(30, mem)
        msg = (
            f"REPORT RequestId: {i:08x}-0000-4000-8000-000000000000\tDuration: {d:.2f} ms\tBilled Duration: {b} ms\t"
            f"Memory Size: {mem} MB\tMax Memory Used: {used} MB\t"
        )
        text.append((t, msg))
    group, stream = "/aws/lambda/sums", "2025/12/01/[$LATEST]abc"
    data = "".join(f"{oracle.iso(t)} {m}\n" for t, m in sorted(text)).encode()
    raw, _ = lines.split_events(data, flush=True)
    out += [
        query.make_event(group, stream, r.start, r.end, r.text, _INGESTED, b"\x02" * 8) for r in raw
    ]
    return out


def test_sums_and_averages_are_bit_equal_over_many_values() -> None:
    events = _report_events(12_000, 7)  # > 4096 per group: the row engine folds its partial sums
    both = Both(events)
    lo, hi = events[0].timestamp - 10**7, events[0].timestamp + 10**8
    groups = ("/aws/lambda/sums",)
    for text in (
        "stats avg(@duration), sum(@duration), avg(@billedDuration), sum(@maxMemoryUsed)",
        "stats avg(@duration), sum(@duration), pct(@duration, 99.9), count(*) by bin(5m)",
        "stats avg(@duration) as a, sum(@duration) as s by bin(1h) | sort a desc",
    ):
        assert both.compare(text, groups, lo, hi), text
    # the row engine's sums are math.fsum's over every value, however many folds it made
    durations = [
        v for e in events if (v := event_row(e, account="0", ptr=None).get("@duration")) is not None
    ]
    got = both.row_engine("stats sum(@duration) as s", both.events, lo, hi, 10)
    assert got == [[("s", java_double_text(math.fsum(durations)))]]


def test_exact_total_rounds_once() -> None:
    rnd = random.Random(3)
    xs = [
        rnd.choice([1e300, -1e300, 1.0, 1e-300, 3.5e-320, 0.1, -0.3]) * rnd.random()
        for _ in range(5000)
    ]
    import pyarrow as pa

    with colquery.session() as cur:
        cur.register("xs", pa.table({"x": pa.array(xs, pa.float64())}))
        sp = isql.SqlPlan("stats", "true", [])
        q, params = sp.sums_sql("xs", "x")
        parts = cur.execute(q, params).fetchall()
    total, _ = isql.exact_total([(s, m) for s, m in parts])
    assert isql.rounded_sum(total) == math.fsum(xs)
