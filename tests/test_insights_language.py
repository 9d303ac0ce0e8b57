"""The Logs Insights language: caret errors, every command and operator, AWS's Lambda samples.

Table-driven. Parser tables are (query, the text at fault, message); engine tables are (rows in,
query, rows out) with every expected row written by hand from the reference's semantics
(/work/shared/reference/logs-insights.md) and the decisions in logsvc/insights/engine.py: the
engine never computes its own oracle.
"""

from __future__ import annotations

import pytest

from logsvc import insights
from logsvc.insights import QueryError
from logsvc.insights.fields import event_row
from logsvc.insights.values import EvalContext, Timestamp
from logsvc.model import LogEvent

BASE = 1704067200000  # 2024-01-01 00:00:00.000 UTC


def at(minutes: float = 0, seconds: float = 0) -> Timestamp:
    return Timestamp(BASE + int(minutes * 60_000 + seconds * 1000))


def ctx() -> EvalContext:
    return EvalContext(None, BASE, BASE + 86_400_000, BASE + 86_400_000)


def run(
    query: str, rows: list[dict], *, limit: int = 10_000, previous: list[dict] = ()
) -> list[list[tuple]]:
    execution = insights.compile(query).start(limit=limit, ctx=ctx())
    for row in rows:
        execution.add(dict(row))
    for row in previous:
        execution.add_previous(dict(row))
    return execution.finish()


# ---- parse errors: (query, the characters at fault, message) ------------------------------------
# The fault is the first occurrence of that text in the query, or None for the end of the query.

ERRORS = [
    ("", (0, 1), "the query is empty"),
    ("fields", None, "expected a value, a field or a function, found the end of the query"),
    ("filter x = ", None, "expected a value, a field or a function, found the end of the query"),
    (
        "stats count(*) | anomaly",
        "anomaly",
        "the anomaly command is not supported by logsvc (anomaly detection needs AWS's trained models)",
    ),
    (
        "lookup t id as id",
        "lookup",
        "the lookup command is not supported by logsvc (lookup tables are not stored by logsvc)",
    ),
    ("fields x | addtotals", "addtotals", "the addtotals command is not supported by logsvc"),
    ("fields x | head 5", "head", "the head command is not supported by logsvc"),
    ("fields x | frobnicate y", "frobnicate", "unknown command 'frobnicate'"),
    ("fields foo(x)", "foo", "unknown function 'foo'"),
    ("fields abs(1, 2)", "abs(1, 2)", "function abs() takes 1 argument, not 2"),
    ("fields count(*)", "count", "count() is an aggregate function: use it in stats"),
    ("filter avg(x) > 1", "avg", "avg() is an aggregate function: use it in stats"),
    ("display max(x)", "max", "max() is an aggregate function: use it in stats"),
    ("stats sum(count(*))", "count", "count() cannot be nested inside another aggregate"),
    (
        "stats count(*) | stats count(*) | stats count(*)",
        (34, 48),
        "a query may have at most two stats commands",
    ),
    (
        "stats x",
        "x",
        "x must be inside an aggregate function such as count() or max(), or be a group key or an earlier alias of this stats",
    ),
    (
        "stats count(*) by x | fields @message",
        "@message",
        "@message does not exist after stats (its fields: count(*), x)",
    ),
    (
        "pattern @message | fields @message",
        (26, 34),  # the second @message
        "@message does not exist after pattern (its fields: @pattern, @ratio, @sampleCount, @severityLabel)",
    ),
    (
        "stats count(*) as n by x | sort n | stats sum(n)",
        "sort n",
        "sort must come after the second stats, not between the two",
    ),
    (
        "stats count(*) by bin(5m) | stats count(*) by bin(1h)",
        "bin(1h)",
        "bin() reads @timestamp, which a second stats no longer has",
    ),
    ("stats pct(x)", "pct(x)", "aggregate pct() takes 2 arguments, not 1"),
    ("stats count(*) by max(x)", "max", "max() is an aggregate: group by a field or bin() instead"),
    ("stats avg(*)", "avg(*)", "avg() needs a field or an expression, not '*'"),
    ("fields x | dedup x | sort x", "sort x", "only limit may follow dedup"),
    ("filter x = 'abc", "'abc", "expected ' to close the string"),
    ("filter @message like /abc", "/abc", "expected '/' to close the regular expression"),
    ("filter x like /(/", "/(/", "invalid regular expression: missing ): ("),
    ("stats count(*) by bin(5x)", "5x", "unknown time unit 'x' in '5x'"),
    ("filter x == 1", "==", "use '=' to compare"),
    ("filter x ~ 1", "~", "unexpected character '~'"),
    ("filter x not y", "y", "expected 'like' or 'in' after 'not', found 'y'"),
    ("filter x in 1", "1", "expected a list such as [1, 2] after 'in', found '1'"),
    ("fields (1 + 2", None, "expected ')' to close '(', found the end of the query"),
    ("fields x as", None, "expected a name after 'as', found the end of the query"),
    ("fields x y", "y", "expected '|' or the end of the query, found 'y'"),
    ("| fields x", "|", "expected a command, found '|'"),
    ("fields x |", None, "expected a command, found the end of the query"),
    ("fields x |\n# | filter y = 1\n", None, "expected a command, found the end of the query"),
    (
        'parse @message "* *" as a',
        '"* *" as a',
        "the parse pattern has 2 '*' but 1 name(s) follow 'as'",
    ),
    ('parse @message "abc" as a', '"abc"', "the parse pattern has no '*' to capture"),
    (
        "parse @message /(\\d+)/",
        "/(\\d+)/",
        "the parse regex has no named group to extract, such as (?<level>\\S+)",
    ),
    (
        "parse @message",
        None,
        "expected a quoted pattern with '*' or a /regex/ with (?<name>...) groups after parse, found the end of the query",
    ),
    (
        "fields @message | unnest x",
        None,
        "expected 'into' after the unnest field, found the end of the query",
    ),
    ("limit 0", "0", "expected a whole number of rows (1 or more) after limit, found '0'"),
    ("limit 2.5", "2.5", "expected a whole number of rows (1 or more) after limit, found '2.5'"),
    (
        "diff previousYear",
        "previousYear",
        "expected previousDay, previousWeek, previousMonth or '|' after diff, found 'previousYear'",
    ),
    ("stats count(*) | pattern @message", "pattern @message", "pattern cannot follow stats"),
    ("fields x | SOURCE logGroups()", "SOURCE", "SOURCE must be the first command of the query"),
    (
        "SOURCE logGroups(namePrefix: ['a','b','c','d','e','f'])",
        "['a','b','c','d','e','f']",
        "namePrefix takes 1 to 5 value(s)",
    ),
    (
        "SOURCE logGroups(prefix: ['a']) | fields x",
        "prefix",
        "expected namePrefix, accountIdentifiers or class, found 'prefix'",
    ),
    ("SOURCE logGroups()", None, "expected a command, found the end of the query"),
    ("filter `abc", "`abc", "expected '`' to close the quoted name"),
    ("fields 1 +", None, "expected a value, a field or a function, found the end of the query"),
    ("stats count(*, x)", "*", "'*' is only allowed as count(*)"),
    ("fields concat(*)", "*", "'*' is not an argument of concat()"),
    ("fields x and", None, "expected a value, a field or a function, found the end of the query"),
    # characters str.isdigit() takes that no number holds (Schemathesis found the 500s)
    ("fields x | filter x = ¹", "¹", "unexpected character '¹'"),
    (".¹", ".", "unexpected character '.'"),
]


def _span(query: str, fault: object) -> tuple[int, int]:
    if fault is None:
        return len(query), len(query) + 1
    if isinstance(fault, tuple):
        return fault
    start = query.index(fault)
    return start, start + len(fault)


@pytest.mark.parametrize(
    ("query", "fault", "message"), ERRORS, ids=[e[0] or "<empty>" for e in ERRORS]
)
def test_query_errors(query: str, fault: object, message: str) -> None:
    with pytest.raises(QueryError) as info:
        insights.compile(query)
    assert info.value.message == message
    assert (info.value.start, info.value.end) == _span(query, fault)


DEEP = [
    (
        "fields " + "(" * 41 + "1" + ")" * 41,
        (47, 48),
        "the expression nests more than 40 levels deep",
    ),
    (
        "fields " + "abs(" * 41 + "1" + ")" * 41,
        (170, 171),
        "the expression nests more than 40 levels deep",
    ),
    ("fields " + "-" * 41 + "x", (47, 48), "the expression nests more than 40 levels deep"),
    ("fields " + "+".join(["1"] * 101), (7, 208), "the expression nests more than 100 levels deep"),
]


@pytest.mark.parametrize(
    ("query", "span", "message"), DEEP, ids=["parens", "calls", "minus", "sum"]
)
def test_nesting_is_bounded(query: str, span: tuple[int, int], message: str) -> None:
    with pytest.raises(QueryError) as info:
        insights.compile(query)
    assert (info.value.message, info.value.start, info.value.end) == (message, *span)


def test_a_number_past_what_int_converts_is_a_float() -> None:
    """int() refuses more than 4,300 digits (a 500 before): such a number reads as the float it
    is (inf, which is no number in a result, as 1e400 already was)."""
    big = run("fields " + "1" * 5000 + " > 1 as a, " + "1" * 5000 + " as b | limit 1", WEB)
    assert big == run("fields 1e400 > 1 as a, 1e400 as b | limit 1", WEB) == [[("a", "0")]]


def test_the_deepest_allowed_expressions_run() -> None:
    assert run("fields " + "(" * 40 + "1" + ")" * 40 + " as a | limit 1", WEB) == [[("a", "1")]]
    assert run("fields " + "+".join(["1"] * 100) + " as a | limit 1", WEB) == [[("a", "100")]]
    # and/or chains are flat: hundreds of alternatives are one level
    alternatives = " or ".join(f"latency = {n}" for n in range(1000, 100, -1))
    assert run(f"filter {alternatives} | fields latency", WEB) == [[("latency", "300")]]
    everything = " and ".join(f"latency != {n}" for n in range(1000, 1, -1))
    assert run(f"filter {everything} | fields latency", WEB) == []


_FUZZ_PARTS = (
    "fields filter stats sort limit parse dedup unnest into unmask pattern diff display filterIndex SOURCE logGroups "
    "( ) [ ] , | as by asc desc and or not like in =~ = != < > <= >= + - * / ^ % x @message @timestamp a.b.0 `q-r` "
    "'s' \"t*u\" /re/ /(?<n>\\d+)/ 5m 1 2.5 count count(*) avg(x) bin(5m) pct(x,50) abs concat jsonParse ispresent "
    "#c\n : namePrefix previousDay strlen(@message)"
).split(" ")


def test_random_token_soup_gives_rows_or_a_query_error() -> None:
    import random

    rng = random.Random(11)
    rows = [
        {"@timestamp": at(0, i), "@message": f"m {i} x", "x": i, "a.b.0": i % 3, "q-r": "z"}
        for i in range(12)
    ]
    for _ in range(3000):
        query = " ".join(rng.choice(_FUZZ_PARTS) for _ in range(rng.randint(1, 10)))
        try:
            plan = insights.compile(query)
        except QueryError as e:
            assert 0 <= e.start < e.end <= len(query) + 1, query
            continue
        execution = plan.start(limit=5, ctx=ctx())
        for row in rows:
            execution.add(dict(row))
            execution.add_previous(dict(row))
        assert len(execution.finish()) <= 5, query


def test_caret_points_at_the_offending_line_and_characters() -> None:
    text = "fields x\n| frobnicate y"
    with pytest.raises(QueryError) as info:
        insights.compile(text)
    assert info.value.caret(text) == (
        "| frobnicate y\n  ^^^^^^^^^^\nunknown command 'frobnicate' at line 2, column 3"
    )


def test_query_error_is_an_invalid_parameter() -> None:
    from logsvc.errors import InvalidParameter

    with pytest.raises(InvalidParameter):
        insights.compile("fields")


# ---- plans -------------------------------------------------------------------------------------


def test_plan_flags() -> None:
    plan = insights.compile(
        "SOURCE logGroups(namePrefix: ['/aws/lambda', \"app\"], class: ['STANDARD']) | fields @message"
    )
    assert plan.source == insights.SourceSpec(("/aws/lambda", "app"), (), "STANDARD")
    assert not plan.is_stats and not plan.needs_previous and plan.previous is None
    assert plan.columns == ["@message"]
    assert insights.compile("fields @message").source is None
    stats = insights.compile("filter @type = 'REPORT' | stats count(*) by bin(5m)")
    assert stats.is_stats and stats.columns == ["bin(5m)", "count(*)"]
    assert insights.compile("pattern @message | diff previousDay").previous == "day"
    diff = insights.compile("diff")
    assert diff.needs_previous and diff.previous == "period" and diff.is_stats


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ('filter @message like "user 42 failed"', ["42"]),
        ('filter @message like " ERROR " and @message like /x/', ["ERROR"]),
        ('filter @message like "ERROR"', []),  # may be part of a longer word: promises nothing
        ('filter @message not like " ERROR "', []),
        ('filter @message like " a " or @message like " b "', []),
        ('fields x as @message | filter @message like " a "', []),
        ('filter x like " a "', []),
        ('filter @message like " a b "', ["a", "b"]),
        ('filter @requestId = "c31d2e4f-0a1b-4c2d-8e3f-5a6b7c8d9e01"', ["0a1b", "4c2d", "8e3f"]),
        ('filter "c31d2e4f-0a1b-4c2d" = @requestId and @type = "REPORT"', ["0a1b"]),
        ('filter user.name = "Ann Lee" and level = "ERROR"', ["Ann", "Lee", "ERROR"]),
        (
            'filter status = "200" or level = "ERROR"',
            [],
        ),  # numbers may be written otherwise; or promises nothing
        ('filter path = "/a/b" and q = "x\\"y" and u = "é"', []),  # characters JSON may escape
        ('filter @logStream = "web-1"', []),  # not from the message
        (
            'parse @message "* *" as level, rest | filter level = "ERROR"',
            [],
        ),  # written by a command
        ('fields jsonParse(@message) as js | filter js.level = "ERROR"', []),
        ('fields @timestamp, level | filter level = "ERROR"', ["ERROR"]),
        ('fields "x" as level | filter level = "ERROR"', []),
        ('filter level != "ERROR" and not level = "INFO"', []),
        ('stats count(*) as n by x | filter x like " a "', []),
    ],
)
def test_literal_terms(query: str, terms: list[str]) -> None:
    assert insights.compile(query).literal_terms == terms


# ---- the engine --------------------------------------------------------------------------------

WEB = [
    {
        "@timestamp": at(0, 1),
        "@message": "GET /a 200 12",
        "status": 200,
        "path": "/a",
        "latency": 12,
    },
    {
        "@timestamp": at(1),
        "@message": "GET /b 500 300",
        "status": 500,
        "path": "/b",
        "latency": 300,
    },
    {
        "@timestamp": at(2, 30),
        "@message": "POST /a 404 40",
        "status": 404,
        "path": "/a",
        "latency": 40,
    },
    {"@timestamp": at(6), "@message": "GET /a 200 8", "status": 200, "path": "/a", "latency": 8},
]
T1, T2, T3, T4 = (
    "2024-01-01 00:00:01.000",
    "2024-01-01 00:01:00.000",
    "2024-01-01 00:02:30.000",
    "2024-01-01 00:06:00.000",
)
M1, M2, M3, M4 = (r["@message"] for r in WEB)

ENGINE = [
    # default columns, newest first
    (
        "filter status = 200",
        WEB,
        [[("@timestamp", T4), ("@message", M4)], [("@timestamp", T1), ("@message", M1)]],
    ),
    (
        "limit 2",
        WEB,
        [[("@timestamp", T4), ("@message", M4)], [("@timestamp", T3), ("@message", M3)]],
    ),
    # fields / sort / limit
    (
        "fields @timestamp, path | sort @timestamp asc | limit 2",
        WEB,
        [[("@timestamp", T1), ("path", "/a")], [("@timestamp", T2), ("path", "/b")]],
    ),
    (
        "fields path, latency | sort latency desc",
        WEB,
        [
            [("path", "/b"), ("latency", "300")],
            [("path", "/a"), ("latency", "40")],
            [("path", "/a"), ("latency", "12")],
            [("path", "/a"), ("latency", "8")],
        ],
    ),
    (
        "fields latency | sort latency",
        WEB,  # no direction: descending
        [[("latency", "300")], [("latency", "40")], [("latency", "12")], [("latency", "8")]],
    ),
    (
        "fields path, latency | sort path asc, latency desc",
        WEB,
        [
            [("path", "/a"), ("latency", "40")],
            [("path", "/a"), ("latency", "12")],
            [("path", "/a"), ("latency", "8")],
            [("path", "/b"), ("latency", "300")],
        ],
    ),
    ("fields path | fields status | limit 1", WEB, [[("path", "/a"), ("status", "200")]]),
    ("display path | display status | limit 1", WEB, [[("status", "200")]]),
    (
        "fields path, status | sort status desc | limit 2 | sort status asc",
        WEB,
        [[("path", "/a"), ("status", "404")], [("path", "/b"), ("status", "500")]],
    ),
    # arithmetic, unary minus, precedence
    (
        'fields latency * 2 + 1 as a, latency / 8 as b, latency % 7 as c, 2 ^ 3 as d, -latency as e | filter path = "/b"',
        WEB,
        [[("a", "601"), ("b", "37.5"), ("c", "6"), ("d", "8"), ("e", "-300")]],
    ),
    (
        "fields 1 + 2 * 3 as a, (1 + 2) * 3 as b, 2 ^ 3 ^ 2 as c, -2 ^ 2 as d, 10 - 4 - 3 as e, -7 % 3 as f | limit 1",
        WEB,
        [[("a", "7"), ("b", "9"), ("c", "512"), ("d", "-4"), ("e", "3"), ("f", "-1")]],
    ),
    (
        "fields latency / 0 as z, path + 1 as p | limit 1",
        WEB,
        [[]],
    ),  # no result: both cells left out
    (
        "fields 1.5 * 2 as a, .5 + 1e1 as b, 2.5e-1 as c, 007 as d | limit 1",
        WEB,
        [
            [("a", "3.0"), ("b", "10.5"), ("c", "0.25"), ("d", "7")]
        ],  # double * long is a double; 007 a long
    ),
    # comparisons and boolean operators
    (
        'filter (status >= 400 and latency < 100) or path = "/b" | fields path, status',
        WEB,
        [[("path", "/a"), ("status", "404")], [("path", "/b"), ("status", "500")]],
    ),
    ("filter not (status = 200) | fields status", WEB, [[("status", "404")], [("status", "500")]]),
    ("filter not status = 200 | fields status", WEB, [[("status", "404")], [("status", "500")]]),
    ("filter status != 200 | fields status", WEB, [[("status", "404")], [("status", "500")]]),
    (
        "filter latency > 12 and latency <= 300 | fields latency",
        WEB,
        [[("latency", "40")], [("latency", "300")]],
    ),
    (
        "filter latency < 12 or latency >= 300 | fields latency",
        WEB,
        [[("latency", "8")], [("latency", "300")]],
    ),
    (
        "filter status in [404, 500] | fields status",
        WEB,
        [[("status", "404")], [("status", "500")]],
    ),
    ('filter path not in ["/a"] | fields path', WEB, [[("path", "/b")]]),
    ("filter missing = 1 or missing != 1 or missing in [1] or missing not in [1]", WEB, []),
    # like, not like, =~, strings and regexes
    (
        'filter @message like "GET" | fields @message',
        WEB,
        [[("@message", M4)], [("@message", M2)], [("@message", M1)]],
    ),
    ("filter @message not like 'GET'", WEB, [[("@timestamp", T3), ("@message", M3)]]),
    (
        "filter @message =~ /^(GET|POST) \\/a/ | fields @message",
        WEB,
        [[("@message", M4)], [("@message", M3)], [("@message", M1)]],
    ),
    ("filter @message like /(?i)get \\/B/ | fields path", WEB, [[("path", "/b")]]),
    ("filter @message not like /GET/ | fields path", WEB, [[("path", "/a")]]),
    (
        "filter @message like 'GET /b' | fields \"a\\\"b\" as q, 'c\\'d' as r, 'tab\\there' as t",
        WEB,
        [[("q", 'a"b'), ("r", "c'd"), ("t", "tab\there")]],
    ),
    ("filter status like '50' | fields status", WEB, [[("status", "500")]]),
    # parse: glob and regex; field defaults to @message; no match keeps the row
    (
        'parse @message "* * * *" as method, p, code, ms | filter code = 404 | display method, p, ms',
        WEB,
        [[("method", "POST"), ("p", "/a"), ("ms", "40")]],
    ),
    (
        'parse "GET *" as rest | filter ispresent(rest) | fields rest',
        WEB,
        [[("rest", "/a 200 8")], [("rest", "/b 500 300")], [("rest", "/a 200 12")]],
    ),
    (
        'parse @message "POST * *" as u, rest | fields @message, u',
        WEB,
        [
            [("@message", M4)],
            [("u", "/a"), ("rest", "404 40"), ("@message", M3)],
            [("@message", M2)],
            [("@message", M1)],
        ],
    ),
    (
        "parse @message /(?<verb>[A-Z]+) (?<url>\\S+) (?<code>\\d+)/ | stats count(*) by verb",
        WEB,
        [[("verb", "GET"), ("count(*)", "3")], [("verb", "POST"), ("count(*)", "1")]],
    ),
    (
        "parse /(?<code>\\d{3}) (?<ms>\\d+)$/ | filter code >= 404 | fields code, ms",
        WEB,
        [[("code", "404"), ("ms", "40")], [("code", "500"), ("ms", "300")]],
    ),
    (
        'parse @message "* *" as verb, rest | filter latency = 8',
        WEB,  # parse without fields: its names show
        [[("@timestamp", T4), ("@message", M4), ("verb", "GET"), ("rest", "/a 200 8")]],
    ),
    # stats
    (
        "stats count(*) as n by path",
        WEB,
        [[("path", "/a"), ("n", "3")], [("path", "/b"), ("n", "1")]],
    ),
    (
        "stats count() by bin(5m)",
        WEB,
        [
            [("bin(5m)", "2024-01-01 00:05:00.000"), ("count()", "1")],
            [("bin(5m)", "2024-01-01 00:00:00.000"), ("count()", "3")],
        ],
    ),
    (
        "stats count(*) as n by bin(1m) as t | sort t asc",
        WEB,
        [
            [("t", "2024-01-01 00:00:00.000"), ("n", "1")],
            [("t", "2024-01-01 00:01:00.000"), ("n", "1")],
            [("t", "2024-01-01 00:02:00.000"), ("n", "1")],
            [("t", "2024-01-01 00:06:00.000"), ("n", "1")],
        ],
    ),
    (
        "stats avg(latency), max(latency), min(latency), sum(latency) by path",
        WEB,
        [
            [
                ("path", "/a"),
                ("avg(latency)", "20.0"),  # avg is always a double; max/min/sum of longs stay longs
                ("max(latency)", "40"),
                ("min(latency)", "8"),
                ("sum(latency)", "60"),
            ],
            [
                ("path", "/b"),
                ("avg(latency)", "300.0"),
                ("max(latency)", "300"),
                ("min(latency)", "300"),
                ("sum(latency)", "300"),
            ],
        ],
    ),
    (
        "stats sum(latency) as s, count(*) as c, s / c as mean by path",
        WEB,
        [
            [
                ("path", "/a"),
                ("s", "60"),
                ("c", "3"),
                ("mean", "20.0"),
            ],  # `/` always gives a double
            [("path", "/b"), ("s", "300"), ("c", "1"), ("mean", "300.0")],
        ],
    ),
    (
        "stats count(*) as n by path as p, status",
        WEB,
        [
            [("p", "/a"), ("status", "200"), ("n", "2")],
            [("p", "/a"), ("status", "404"), ("n", "1")],
            [("p", "/b"), ("status", "500"), ("n", "1")],
        ],
    ),
    (
        "stats count(*) as n by path, bin(5m) | stats max(n) as peak, sum(n) as total",
        WEB,
        [[("peak", "2"), ("total", "4")]],
    ),
    ("stats count(*) as n by path | sort n asc | limit 1", WEB, [[("path", "/b"), ("n", "1")]]),
    (
        "stats count(*) as n by path | filter n > 1 | fields n * 10 as n10",
        WEB,
        [[("path", "/a"), ("n", "3"), ("n10", "30")]],
    ),
    ("stats count(*) as n by path | display n", WEB, [[("n", "3")], [("n", "1")]]),
    (
        "stats pct(latency, 50) as p50, pct(latency, 100) as p100, count_distinct(path) as paths",
        WEB,
        [[("p50", "12"), ("p100", "300"), ("paths", "2")]],
    ),
    (
        "stats earliest(latency) as first, latest(latency) as last, sortsFirst(path) as a, sortsLast(path) as b",
        WEB,
        [[("first", "12"), ("last", "8"), ("a", "/a"), ("b", "/b")]],
    ),
    ("STATS Count(*) AS n BY path | SORT n DESC | LIMIT 1", WEB, [[("path", "/a"), ("n", "3")]]),
    ("filter status = 999 | stats count(*)", WEB, []),
    (
        "stats max(@timestamp) as last by path",
        WEB,
        [[("path", "/a"), ("last", T4)], [("path", "/b"), ("last", T2)]],
    ),
    (
        "stats max(@timestamp) as @timestamp by path | stats count(*) by bin(5m)",
        WEB,
        [
            [("bin(5m)", "2024-01-01 00:05:00.000"), ("count(*)", "1")],
            [("bin(5m)", "2024-01-01 00:00:00.000"), ("count(*)", "1")],
        ],
    ),
    (
        "FIELDS strlen(@message) AS message_length | STATS sum(message_length)/1024/1024 as logs_mb BY bin(5m) "
        "| STATS max(logs_mb) AS peak, min(logs_mb) AS low, avg(logs_mb) AS mean",
        WEB,
        [
            [
                ("peak", "3.910064697265625E-5"),
                ("low", "1.1444091796875E-5"),
                ("mean", "2.5272369384765625E-5"),
            ]
        ],  # doubles: Java's text
    ),
    (
        'parse @message "* *" as verb, rest | display verb = "GET" as isGet | limit 2',
        WEB,
        [[("isGet", "1")], [("isGet", "0")]],
    ),
    (
        'filter path not in ["foo", "bar", 1] and status in [200, "404"] | fields status',
        WEB,
        [[("status", "200")], [("status", "404")], [("status", "200")]],
    ),
    # dedup, unmask, filterIndex, comments, case
    (
        "fields path, status | dedup path",
        WEB,
        [[("path", "/a"), ("status", "200")], [("path", "/b"), ("status", "500")]],
    ),
    (
        "fields path, status | sort status asc | dedup path | limit 5",
        WEB,
        [[("path", "/a"), ("status", "200")], [("path", "/b"), ("status", "500")]],
    ),
    (
        "fields path, status | dedup path, status",
        WEB,
        [
            [("path", "/a"), ("status", "200")],
            [("path", "/a"), ("status", "404")],
            [("path", "/b"), ("status", "500")],
        ],
    ),
    ("unmask | fields path | limit 1", WEB, [[("path", "/a")]]),
    ("fields @message | unmask(@message) | limit 1", WEB, [[("@message", M4)]]),
    ('filterIndex path = "/b" | fields path', WEB, [[("path", "/b")]]),
    ('fields path # the path\n# | filter path = "/b"\n| limit 1', WEB, [[("path", "/a")]]),
    (
        "FILTER status = 500 | FIELDS path, ToUpper(path) AS up | SORT path ASC | LIMIT 5",
        WEB,
        [[("path", "/b"), ("up", "/B")]],
    ),
    (
        "fields concat(path, '-', status) as opStatus | sort opStatus asc | limit 2",
        WEB,
        [[("opStatus", "/a-200")], [("opStatus", "/a-200")]],
    ),
    (
        "fields ispresent(latency) as has, ispresent(nope) as hasNot | limit 1",
        WEB,
        [[("has", "1"), ("hasNot", "0")]],
    ),
]


@pytest.mark.parametrize(("query", "rows", "expected"), ENGINE, ids=[c[0] for c in ENGINE])
def test_engine(query: str, rows: list[dict], expected: list[list[tuple]]) -> None:
    assert run(query, rows) == expected


# ---- fields: dotted paths, backticks, maps and lists, nulls -------------------------------------

DOC = [
    {
        "@timestamp": at(0),
        "@message": '{"items":[1,2]}',
        "foo-bar": "x",
        "a.b.0": 5,
        "server": "s1",
        "level": None,
    },
    {
        "@timestamp": at(1),
        "@message": '{"items":[3],"user":{"id":"u1","user.id":"dotted"}}',
        "server": None,
    },
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "fields `foo-bar`, a.b.0 | filter ispresent(`foo-bar`)",
            [[("foo-bar", "x"), ("a.b.0", "5")]],
        ),
        (
            "fields jsonParse(@message) as js | unnest js.items into item | display item",
            [[("item", "3")], [("item", "1")], [("item", "2")]],
        ),
        (
            "fields jsonParse(@message) as js | display js.user.id, js.user.`user.id`, js.items[0]",
            [
                [("js.user.id", "u1"), ("js.user.user.id", "dotted"), ("js.items[0]", "3")],
                [("js.items[0]", "1")],
            ],
        ),
        ("fields jsonParse(@message) as js | unnest js.nothing into x | display x", []),
        (
            "fields server | dedup server",
            [[], [("server", "s1")]],
        ),  # a null key is never a duplicate
        (
            "fields level, server | filter server = 's1'",
            [[("server", "s1")]],
        ),  # null values leave the cell out
        ("stats count(server) as c, count(*) as n", [[("c", "1"), ("n", "2")]]),
    ],
)
def test_fields_and_structures(query: str, expected: list[list[tuple]]) -> None:
    assert run(query, DOC) == expected


# ---- @ptr, limits, memory, matched ---------------------------------------------------------------


def test_ptr_ends_non_stats_rows_only() -> None:
    rows = [dict(r, **{"@ptr": f"p{i}"}) for i, r in enumerate(WEB)]
    assert run("fields path | limit 1", rows) == [[("path", "/a"), ("@ptr", "p3")]]
    assert run("limit 1", rows) == [[("@timestamp", T4), ("@message", M4), ("@ptr", "p3")]]
    assert run("fields @ptr, path | limit 1", rows) == [[("@ptr", "p3"), ("path", "/a")]]
    assert run("stats count(*) as n", rows) == [[("n", "4")]]
    assert run("display path | limit 1", rows) == [[("path", "/a"), ("@ptr", "p3")]]


def test_the_limit_argument_caps_every_query() -> None:
    assert run("fields latency", WEB, limit=2) == [[("latency", "8")], [("latency", "40")]]
    assert run("stats count(*) as n by path", WEB, limit=1) == [[("path", "/a"), ("n", "3")]]
    assert run("fields latency | limit 3", WEB, limit=2) == [
        [("latency", "8")],
        [("latency", "40")],
    ]


def test_rows_may_arrive_in_any_order() -> None:
    assert run("fields latency | limit 2", list(reversed(WEB))) == [
        [("latency", "8")],
        [("latency", "40")],
    ]


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("fields x", 5),  # the request's limit
        ("fields x | sort x asc | limit 3", 3),
        ("limit 4 | fields x", 4),
        ("sort x desc | fields x | limit 2 | filter x > 1", 2),
        ("fields x | sort x asc", 5),
    ],
)
def test_memory_is_bounded_by_the_limit(query: str, kept: int) -> None:
    execution = insights.compile(query).start(limit=5, ctx=ctx())
    for i in range(1000):
        execution.add({"@timestamp": at(0, i), "@message": "m", "x": i % 97})
        assert len(execution.collector.entries) <= kept
    assert len(execution.finish()) == min(kept, 5)


def test_sort_then_dedup_keeps_one_row_per_key() -> None:
    execution = insights.compile("fields x | sort x asc | dedup x").start(limit=100, ctx=ctx())
    for i in range(1000):
        execution.add({"@timestamp": at(0, i), "@message": "m", "x": i % 7})
    assert len(execution.collector.best) == 7
    assert execution.finish() == [[("x", str(i))] for i in range(7)]


def test_a_sort_before_stats_is_not_kept() -> None:
    execution = insights.compile(
        "sort latency asc | fields latency * 2 as d | stats sum(d) as s"
    ).start(limit=10, ctx=ctx())
    assert execution.sink.kind == "stats"
    for row in WEB:
        execution.add(dict(row))
    assert execution.finish() == [[("s", "720")]]


def test_sort_then_limit_keeps_the_right_rows() -> None:
    rows = [{"@timestamp": at(0, i), "@message": "m", "x": (i * 37) % 101} for i in range(101)]
    assert run("fields x | sort x asc | limit 3", rows) == [
        [("x", "0")],
        [("x", "1")],
        [("x", "2")],
    ]
    assert run("fields x | sort x desc | limit 2", rows) == [[("x", "100")], [("x", "99")]]
    assert run("fields x | limit 2", rows) == [
        [("x", str((100 * 37) % 101))],
        [("x", str((99 * 37) % 101))],
    ]


def test_matched_counts_rows_past_every_filter_so_far() -> None:
    execution = insights.compile("filter status = 200 | stats count(*)").start(limit=10, ctx=ctx())
    for row in WEB:
        execution.add(dict(row))
    assert execution.matched == 2
    assert execution.partial() == execution.finish() == [[("count(*)", "2")]]


def test_partial_results_do_not_change_the_final_ones() -> None:
    execution = insights.compile(
        "sort latency desc | fields latency + 1 as latency | limit 2"
    ).start(limit=10, ctx=ctx())
    for row in WEB[:2]:
        execution.add(dict(row))
    assert execution.partial() == [[("latency", "301")], [("latency", "13")]]
    assert execution.partial() == [[("latency", "301")], [("latency", "13")]]
    for row in WEB[2:]:
        execution.add(dict(row))
    assert execution.finish() == [[("latency", "301")], [("latency", "41")]]


def test_each_start_is_a_separate_run() -> None:
    plan = insights.compile("stats count(*) as n")
    first, second = plan.start(limit=10, ctx=ctx()), plan.start(limit=10, ctx=ctx())
    for row in WEB:
        first.add(dict(row))
    second.add(dict(WEB[0]))
    assert (first.finish(), second.finish()) == ([[("n", "4")]], [[("n", "1")]])


def test_missing_values_sort_last_in_both_directions() -> None:
    rows = [
        {"@timestamp": at(0, 1), "@message": "a", "x": 2},
        {"@timestamp": at(0, 2), "@message": "b"},
        {"@timestamp": at(0, 3), "@message": "c", "x": 1},
    ]
    assert run("fields @message | sort x asc", rows) == [
        [("@message", "c")],
        [("@message", "a")],
        [("@message", "b")],
    ]
    assert run("fields @message | sort x desc", rows) == [
        [("@message", "a")],
        [("@message", "c")],
        [("@message", "b")],
    ]


# ---- pattern and diff ---------------------------------------------------------------------------

LINES = [
    {"@timestamp": at(0, 1), "@message": "user 1 logged in"},
    {"@timestamp": at(0, 2), "@message": "user 22 logged in"},
    {"@timestamp": at(0, 3), "@message": "user 333 logged out"},
    {"@timestamp": at(0, 4), "@message": "ERROR disk full on /dev/sda1"},
]


def test_pattern_clusters_messages_into_templates() -> None:
    expected = [
        [
            ("@pattern", "user <Number-1> logged <Token-2>"),
            ("@ratio", "0.75"),
            ("@sampleCount", "3"),
        ],
        [
            ("@pattern", "ERROR disk full on /dev/sda1"),
            ("@ratio", "0.25"),
            ("@sampleCount", "1"),
            ("@severityLabel", "Error"),
        ],
    ]
    assert run("pattern @message", LINES) == expected
    assert (
        run("pattern @message", list(reversed(LINES))) == expected
    )  # arrival order does not matter
    assert run("pattern @message | sort @sampleCount asc | limit 1", LINES) == [expected[1]]


def test_pattern_memory_is_bounded_by_distinct_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    from logsvc.insights import patterns

    monkeypatch.setattr(patterns, "MAX_TEMPLATES", 3)
    monkeypatch.setattr(patterns, "MAX_OVERFLOW", 1)
    execution = insights.compile("pattern @message").start(limit=10, ctx=ctx())
    for i in range(200):  # one-off words: every message would be its own template
        execution.add({"@timestamp": at(0, i), "@message": f"w{chr(97 + i % 26)}{i} x{i}y"})
    assert (
        len(execution.collector.templates) == 5
    )  # 3, then 1 first-word template, then the all-Token one
    assert sum(int(dict(r)["@sampleCount"]) for r in execution.finish()) == 200


def test_pattern_types_variables() -> None:
    rows = [
        {
            "@timestamp": at(0, 1),
            "@message": "2024-01-01T10:00:00Z WARN req 8f14e45f-ceea-467a-9575-6a4f5e6b7c8d from 10.0.0.1:443 took 0x1f",
        },
        {
            "@timestamp": at(0, 2),
            "@message": "2024-01-02T11:00:00.5Z WARN req 1b4e28ba-2fa1-11d2-883f-0016d3cca427 from 192.168.1.20:80 took 0xff",
        },
    ]
    assert run("pattern @message", rows) == [
        [
            ("@pattern", "<Time-1> WARN req <UUID-2> from <IP-3> took <Hex-4>"),
            ("@ratio", "1.0"),  # a ratio is a division: a double
            ("@sampleCount", "2"),
            ("@severityLabel", "Warning"),
        ],
    ]


def test_pattern_of_a_parsed_field() -> None:
    rows = [
        {"@timestamp": at(0, i), "@message": f"Failed to do: step {i} [INFO]"} for i in range(3)
    ]
    assert run(
        "filter @message like /Failed/ | parse @message 'Failed to do: *' as cause | pattern cause",
        rows,
    ) == [
        [
            ("@pattern", "step <Number-1> [INFO]"),
            ("@ratio", "1.0"),
            ("@sampleCount", "3"),
            ("@severityLabel", "Info"),
        ],
    ]


def test_diff_compares_with_the_previous_period() -> None:
    now = [
        {"@timestamp": at(0, 1), "@message": "user 1 logged in"},
        {"@timestamp": at(0, 2), "@message": "user 2 logged in"},
        {"@timestamp": at(0, 3), "@message": "job done"},
    ]
    before = [
        {"@timestamp": at(-1), "@message": "user 5 logged in"},
        {"@timestamp": at(-1), "@message": "ERROR boom"},
        {"@timestamp": at(-1), "@message": "job done"},
    ]
    expected = [
        [
            ("@pattern", "user <Number-1> logged in"),
            ("@ratio", "0.6666666666666666"),
            ("@sampleCount", "2"),
            ("@previousSampleCount", "1"),
            ("@change", "1"),
            ("@changeDescription", "increased"),
        ],
        [
            ("@pattern", "job done"),
            ("@ratio", "0.3333333333333333"),
            ("@sampleCount", "1"),
            ("@previousSampleCount", "1"),
            ("@change", "0"),
            ("@changeDescription", "unchanged"),
        ],
        [
            ("@pattern", "ERROR boom"),
            ("@ratio", "0.0"),
            ("@sampleCount", "0"),
            ("@previousSampleCount", "1"),
            ("@change", "-1"),
            ("@changeDescription", "gone"),
            ("@severityLabel", "Error"),
        ],
    ]
    assert run("pattern @message | diff", now, previous=before) == expected
    assert run("diff", now, previous=before) == expected
    assert run(
        "diff | filter @changeDescription = 'gone' | display @pattern", now, previous=before
    ) == [[("@pattern", "ERROR boom")]]


# ---- AWS's sample queries for Lambda (reference §7), over real Lambda lines ----------------------

GROUP = "/aws/lambda/orders"
STREAM = "2024/01/01/[$LATEST]0123456789abcdef"
LAMBDA = [
    (at(0, 10), "START RequestId: r1 Version: $LATEST"),
    (at(0, 11), "java.lang.NullPointerException: boom"),
    (at(0, 12), "END RequestId: r1"),
    (
        at(0, 12),
        "REPORT RequestId: r1\tDuration: 100.00 ms\tBilled Duration: 100 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 60 MB\tInit Duration: 200.00 ms\t",
    ),
    (
        at(7),
        "REPORT RequestId: r2\tDuration: 50.00 ms\tBilled Duration: 50 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\t",
    ),
    (at(30), "IllegalStateException thrown"),
    (
        at(70),
        "REPORT RequestId: r3\tDuration: 30.00 ms\tBilled Duration: 30 ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\t",
    ),
    (at(70, 1), "Exception: timeout"),
]


def lambda_run(query: str) -> list[list[tuple]]:
    execution = insights.compile(query).start(limit=10_000, ctx=ctx())
    for i, (ts, message) in enumerate(LAMBDA):
        event = LogEvent(
            group=GROUP,
            stream=STREAM,
            offset=i * 100,
            timestamp=ts,
            ingestion_time=ts + 5,
            message=message,
        )
        execution.add(event_row(event, account="123456789012", ptr=f"ptr{i}"))
    return as_numbers(execution.finish())


def as_numbers(rows: list[list[tuple]]) -> list[list[tuple]]:
    """Numeric cells as floats: these tests check the language (which rows, which columns, in which
    order, with which numbers); how a number renders (a double `30.0`, a long `30`: values.py's
    long/double model) is pinned by tests/test_insights_functions.py and the oracle
    (tests/insights_cases.py, run by tests/test_insights_oracle.py)."""
    out = []
    for row in rows:
        cells = []
        for name, value in row:
            try:
                cells.append((name, float(value)))
            except ValueError:
                cells.append((name, value))
        out.append(cells)
    return out


def test_lambda_latency_report() -> None:
    assert lambda_run(
        'filter @type = "REPORT"\n| stats avg(@duration), max(@duration), min(@duration) by bin(5m)'
    ) == [
        [
            ("bin(5m)", "2024-01-01 01:10:00.000"),
            ("avg(@duration)", 30),
            ("max(@duration)", 30),
            ("min(@duration)", 30),
        ],
        [
            ("bin(5m)", "2024-01-01 00:05:00.000"),
            ("avg(@duration)", 50),
            ("max(@duration)", 50),
            ("min(@duration)", 50),
        ],
        [
            ("bin(5m)", "2024-01-01 00:00:00.000"),
            ("avg(@duration)", 100),
            ("max(@duration)", 100),
            ("min(@duration)", 100),
        ],
    ]


def test_lambda_overprovisioned_memory() -> None:
    query = """filter @type = "REPORT"
    | stats max(@memorySize / 1000 / 1000) as provisonedMemoryMB,
            min(@maxMemoryUsed / 1000 / 1000) as smallestMemoryRequestMB,
            avg(@maxMemoryUsed / 1000 / 1000) as avgMemoryUsedMB,
            max(@maxMemoryUsed / 1000 / 1000) as maxMemoryUsedMB,
            provisonedMemoryMB - maxMemoryUsedMB as overProvisionedMB"""
    assert lambda_run(query) == [
        [
            ("provisonedMemoryMB", 128),
            ("smallestMemoryRequestMB", 60),
            ("avgMemoryUsedMB", 64.66666666666667),
            ("maxMemoryUsedMB", 70),
            ("overProvisionedMB", 58),
        ]
    ]


def test_lambda_most_recent_events() -> None:
    assert lambda_run("fields @timestamp, @message | sort @timestamp desc | limit 3") == [
        [
            ("@timestamp", "2024-01-01 01:10:01.000"),
            ("@message", "Exception: timeout"),
            ("@ptr", "ptr7"),
        ],
        [("@timestamp", "2024-01-01 01:10:00.000"), ("@message", LAMBDA[6][1]), ("@ptr", "ptr6")],
        [
            ("@timestamp", "2024-01-01 00:30:00.000"),
            ("@message", "IllegalStateException thrown"),
            ("@ptr", "ptr5"),
        ],
    ]


def test_lambda_exceptions_per_hour() -> None:
    query = "filter @message like /Exception/ | stats count(*) as exceptionCount by bin(1h) | sort exceptionCount desc"
    assert lambda_run(query) == [
        [("bin(1h)", "2024-01-01 00:00:00.000"), ("exceptionCount", 2)],
        [("bin(1h)", "2024-01-01 01:00:00.000"), ("exceptionCount", 1)],
    ]


def test_lambda_cold_starts() -> None:
    query = (
        'filter @type = "REPORT" and ispresent(@initDuration)\n'
        "| stats count(*) as coldStarts, avg(@initDuration), max(@initDuration) by bin(1h)"
    )
    assert lambda_run(query) == [
        [
            ("bin(1h)", "2024-01-01 00:00:00.000"),
            ("coldStarts", 1),
            ("avg(@initDuration)", 200),
            ("max(@initDuration)", 200),
        ],
    ]


def test_lambda_init_duration_parse_with_default_field() -> None:
    query = "filter @message like /Init Duration/ | parse 'Init Duration: * ms' as initDuration | stats max(initDuration), count() by bin(1d)"
    assert lambda_run(query) == [
        [("bin(1d)", "2024-01-01 00:00:00.000"), ("max(initDuration)", 200.00), ("count()", 1)]
    ]


def test_lambda_request_ids_and_types() -> None:
    assert lambda_run(
        "filter ispresent(@requestId) | stats count(*) as n by @type, @requestId"
    ) == [
        [("@type", "END"), ("@requestId", "r1"), ("n", 1)],
        [("@type", "REPORT"), ("@requestId", "r1"), ("n", 1)],
        [("@type", "REPORT"), ("@requestId", "r2"), ("n", 1)],
        [("@type", "REPORT"), ("@requestId", "r3"), ("n", 1)],
        [("@type", "START"), ("@requestId", "r1"), ("n", 1)],
    ]


def test_dedup_sample_latest_event_per_server() -> None:
    messages = [
        (at(0, 1), '{"server": "a", "severity": "INFO", "message": "a1"}'),
        (at(0, 2), '{"server": "b", "severity": "WARN", "message": "b1"}'),
        (at(0, 3), '{"server": "a", "severity": "ERROR", "message": "a2"}'),
    ]
    execution = insights.compile(
        "fields @timestamp, server, severity, message | sort @timestamp desc | dedup server"
    ).start(limit=100, ctx=ctx())
    for i, (ts, message) in enumerate(messages):
        event = LogEvent(
            group="app", stream="s", offset=i, timestamp=ts, ingestion_time=ts, message=message
        )
        execution.add(event_row(event, account="1", ptr=None))
    assert execution.finish() == [
        [
            ("@timestamp", "2024-01-01 00:00:03.000"),
            ("server", "a"),
            ("severity", "ERROR"),
            ("message", "a2"),
        ],
        [
            ("@timestamp", "2024-01-01 00:00:02.000"),
            ("server", "b"),
            ("severity", "WARN"),
            ("message", "b1"),
        ],
    ]
