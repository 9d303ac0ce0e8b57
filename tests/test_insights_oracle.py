"""tests/insights_cases.py (the independent oracle) run through the engine in-process: compile ->
Execution over `fields.event_row` rows read from the oracle's stream files. The HTTP/boto3 end-to-end
run of the same cases belongs to the wire's tests; this one is fast and pins the engine + fields.

Skipped until the language (branch insights-lang) is merged into the branch under test.
"""

from __future__ import annotations

from collections import Counter

import pytest

import logsvc.insights as insights
from logsvc import lines, query
from logsvc.insights.fields import event_row
from tests import insights_cases as oracle

pytestmark = pytest.mark.skipif(
    not hasattr(insights, "compile"), reason="the language (insights-lang) is not merged here"
)

_INGESTED = 1764547200000  # any ingestion time: no case reads it


def _events() -> list:
    out = []
    for (group, stream), text in oracle.stream_files().items():
        raw, _ = lines.split_events(text.encode(), flush=True)
        out += [query.make_event(group, stream, r.start, r.end, r.text, _INGESTED) for r in raw]
    return out


EVENTS = _events() if hasattr(insights, "compile") else []


def _run(case: oracle.Case) -> list[list[tuple[str, str]]]:
    from logsvc.insights.values import EvalContext

    plan = insights.compile(case.query)
    groups = case.groups
    if not groups:
        assert plan.source is not None, "a case without groups needs SOURCE"
        groups = tuple(
            g for g in oracle.GROUPS if any(g.startswith(p) for p in plan.source.name_prefixes)
        )
    lo, hi = case.start * 1000, case.end * 1000 + 999  # seconds, both ends inclusive
    run = plan.start(limit=10_000, ctx=EvalContext(None, lo, hi, hi))
    for n, e in enumerate(EVENTS):
        if e.group in groups and lo <= e.timestamp <= hi:
            run.add(event_row(e, account=oracle.ACCOUNT, ptr=f"ptr-{n}"))
    return run.finish()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in oracle.CASES])
def test_case(case: oracle.Case) -> None:
    rows = _run(case)
    if case.check == "pattern_counts":
        assert sorted((int(dict(r)["@sampleCount"]) for r in rows), reverse=True) == case.expected
        return
    got = []
    for r in rows:
        fields = [f for f, _ in r]
        if case.ptr is True:
            assert fields and fields[-1] == "@ptr" and r[-1][1], f"row without a trailing @ptr: {r}"
        if case.ptr is False:
            assert "@ptr" not in fields, r
        got.append([(f, v) for f, v in r if f != "@ptr"])
    want = [list(r) for r in case.expected]
    if case.ordered:
        assert got == want, case.note
    else:
        assert Counter(map(tuple, got)) == Counter(map(tuple, want)), case.note


@pytest.mark.parametrize(
    ("name", "text", "offsets", "word"), oracle.MALFORMED, ids=[m[0] for m in oracle.MALFORMED]
)
def test_malformed(name: str, text: str, offsets: tuple[int, ...], word: str) -> None:
    with pytest.raises(insights.QueryError) as info:
        insights.compile(text)
    assert info.value.start in offsets, (info.value.start, info.value.message)
    assert word in info.value.message
