"""logsvc.insights.fields: message -> fields, table-driven; plus the Row's laziness and write rules."""

from __future__ import annotations

import json

import pytest

from logsvc import lines, query
from logsvc.insights import fields
from logsvc.insights.fields import MAX_JSON_FIELDS, Row, event_row, message_fields
from logsvc.insights.values import Timestamp
from logsvc.model import LogEvent

ID = "1e5c8abd-3d36-461b-8c0f-a56b952715b3"
LAMBDA = "/aws/lambda/orders"
ACCOUNT = "123456789012"
T0 = 1764547200000  # 2025-12-01T00:00:00.000Z

# (name, group, message, expected discovered fields: every non-system field, in order)
CASES = [
    (
        "start",
        LAMBDA,
        f"START RequestId: {ID} Version: $LATEST",
        {"@type": "START", "@requestId": ID},
    ),
    ("end", LAMBDA, f"END RequestId: {ID}", {"@type": "END", "@requestId": ID}),
    (
        "report warm",
        LAMBDA,
        f"REPORT RequestId: {ID}\tDuration: 14.97 ms\tBilled Duration: 15 ms\tMemory Size: 128 MB\tMax Memory Used: 67 MB\t",
        {
            "@type": "REPORT",
            "@requestId": ID,
            "@duration": 14.97,
            "@billedDuration": 15.0,
            "@memorySize": 128_000_000.0,
            "@maxMemoryUsed": 67_000_000.0,
        },
    ),
    (
        "report cold + timeout",
        LAMBDA,
        f"REPORT RequestId: {ID}\tDuration: 3000.00 ms\tBilled Duration: 3068 ms\tMemory Size: 128 MB\tMax Memory Used: 35 MB\tInit Duration: 67.49 ms\tStatus: timeout",
        {
            "@type": "REPORT",
            "@requestId": ID,
            "@duration": 3000.0,
            "@billedDuration": 3068.0,
            "@memorySize": 128_000_000.0,
            "@maxMemoryUsed": 35_000_000.0,
            "@initDuration": 67.49,
        },
    ),
    (
        "report with X-Ray",
        LAMBDA,
        f"REPORT RequestId: {ID}\tDuration: 2.31 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 109 MB\t\n"
        "XRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1\tSegmentId: 07f5xmpl2d1f6f85\tSampled: false\t",
        {
            "@type": "REPORT",
            "@requestId": ID,
            "@duration": 2.31,
            "@billedDuration": 3.0,
            "@memorySize": 128_000_000.0,
            "@maxMemoryUsed": 109_000_000.0,
            "@xrayTraceId": "1-5e34a614-10bdxmplf1fb44f07bc535a1",
            "@xraySegmentId": "07f5xmpl2d1f6f85",
        },
    ),
    (
        "report in another group",
        "sam-local",
        f"REPORT RequestId: {ID}\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t",
        {
            "@type": "REPORT",
            "@requestId": ID,
            "@duration": 1.0,
            "@billedDuration": 1.0,
            "@memorySize": 3_008_000_000.0,
            "@maxMemoryUsed": 3_008_000_000.0,
        },
    ),
    (
        "init start: no @type",
        LAMBDA,
        "INIT_START Runtime Version: python:3.13.v60\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:6b9e",
        {},
    ),
    (
        "init report: no @type",
        LAMBDA,
        "INIT_REPORT Init Duration: 1236.04 ms\tPhase: init\tStatus: timeout",
        {},
    ),
    (
        "python runtime line",
        LAMBDA,
        f"[INFO]\t2025-12-01T00:00:00.000Z\t{ID}\tprocessing order 42",
        {"@requestId": ID},
    ),
    ("python init line: no id", LAMBDA, "[WARNING]\t2025-12-01T00:00:00.000Z\t\tcold cache", {}),
    (
        "node runtime line",
        LAMBDA,
        f"2025-12-01T00:00:00.000Z\t{ID}\tINFO\thello",
        {"@requestId": ID},
    ),
    (
        "node init: undefined id",
        LAMBDA,
        "2025-12-01T00:00:00.000Z\tundefined\tINFO\tLoading function",
        {},
    ),
    (
        "crash",
        LAMBDA,
        f"RequestId: {ID} Error: Runtime exited with error: signal: killed\nRuntime.ExitError",
        {"@requestId": ID},
    ),
    ("timeout line", LAMBDA, f"{ID} Task timed out after 3.00 seconds", {"@requestId": ID}),
    ("plain text", "app", "GET /index.html 200", {}),
    (
        "JSON flat",
        "app",
        '{"level": "INFO", "status": 200, "latency": 0.25, "ok": true, "bad": false, "user": null}',
        {"level": "INFO", "status": 200, "latency": 0.25, "ok": True, "bad": False},
    ),
    (
        "JSON nested + arrays",
        "app",
        '{"req": {"path": "/a", "hdr": {"ua": "curl"}}, "tags": ["x", "y"], "items": [{"id": 1}, {"id": 2, "q": [3]}]}',
        {
            "req.path": "/a",
            "req.hdr.ua": "curl",
            "tags.0": "x",
            "tags.1": "y",
            "items.0.id": 1,
            "items.1.id": 2,
            "items.1.q.0": 3,
        },
    ),
    (
        "JSON empty containers give nothing",
        "app",
        '{"a": {}, "b": [], "c": [[]], "d": 1}',
        {"d": 1},
    ),
    (
        "JSON @ key doubled, top level only",
        "app",
        '{"@timestamp": "2025-01-01", "@example.com": 1, "x": {"@y": 2}}',
        {"@@timestamp": "2025-01-01", "@@example.com": 1, "x.@y": 2},
    ),
    ("JSON dotted key kept", "app", '{"user.id": "u1"}', {"user.id": "u1"}),
    ("JSON leading blanks", "app", '  {"a": 1}', {"a": 1}),
    ("JSON array message: not an object", "app", "[1, 2]", {}),
    ("broken JSON", "app", '{"a": 1', {}),
    (
        "embedded JSON in a Lambda line",
        LAMBDA,
        f'[INFO]\t2025-12-01T00:00:00.000Z\t{ID}\tpayload {{"order": {{"id": 7}}}} tail {{"z": 1}}',
        {"@requestId": ID, "order.id": 7},
    ),
    (
        "embedded JSON in a Lambda group's print line",
        LAMBDA,
        'got {"a": [1, {"b": 2}]}',
        {"a.0": 1, "a.1.b": 2},
    ),
    ("embedded JSON skips a non-JSON brace", LAMBDA, "dict {'a': 1} then {\"b\": 2}", {"b": 2}),
    ("no embedded JSON outside Lambda", "app", 'got {"a": 1}', {}),
    (
        "Lambda JSON log format: plain keys, no @ fields",
        LAMBDA,
        f'{{"timestamp": "2025-12-01T00:00:00Z", "level": "INFO", "message": "hi", "requestId": "{ID}"}}',
        {"timestamp": "2025-12-01T00:00:00Z", "level": "INFO", "message": "hi", "requestId": ID},
    ),
    (
        "platform.report JSON: plain keys",
        LAMBDA,
        '{"time":"2025-12-01T00:00:00.012Z","type":"platform.report","record":{"requestId":"r1","metrics":{"durationMs":11.642,"memorySizeMB":128}}}',
        {
            "time": "2025-12-01T00:00:00.012Z",
            "type": "platform.report",
            "record.requestId": "r1",
            "record.metrics.durationMs": 11.642,
            "record.metrics.memorySizeMB": 128,
        },
    ),
]


def _event(group: str, message: str) -> LogEvent:
    return query.make_event(
        group, "2025/12/01/[$LATEST]abc", 0, 1, lines.format_line(T0, message).decode()[:-1], T0 + 5
    )


@pytest.mark.parametrize(("name", "group", "message", "expected"), CASES, ids=[c[0] for c in CASES])
def test_discovered_fields(name: str, group: str, message: str, expected: dict) -> None:
    row = event_row(_event(group, message), account=ACCOUNT, ptr="PTR")
    got = {k: row[k] for k in row.field_names() if k not in fields.SYSTEM_FIELDS}
    assert got == expected
    assert list(got) == list(expected)  # document order
    for k, v in expected.items():
        assert type(got[k]) is type(v) or (type(v) is float and isinstance(got[k], float)), k
    # the same answer eagerly, and from an event built without parsed fields
    assert message_fields(message, group=group) == expected
    bare = LogEvent(group, "s", 0, T0, T0, message, {})
    assert {
        k: v
        for k, v in event_row(bare, account=ACCOUNT, ptr=None).items()
        if k not in fields.SYSTEM_FIELDS
    } == expected


def test_system_fields() -> None:
    ev = _event("/aws/lambda/orders", "hello")
    row = event_row(ev, account=ACCOUNT, ptr="PTR")
    assert row["@message"] == "hello"
    assert row["@logStream"] == "2025/12/01/[$LATEST]abc"
    assert row["@log"] == "123456789012:/aws/lambda/orders"
    assert row["@ptr"] == "PTR"
    assert row["@timestamp"] == T0 and isinstance(row["@timestamp"], Timestamp)
    assert row["@ingestionTime"] == T0 + 5 and isinstance(row["@ingestionTime"], Timestamp)
    assert row.field_names() == [
        "@timestamp",
        "@message",
        "@logStream",
        "@log",
        "@ptr",
        "@ingestionTime",
    ]
    assert "@ptr" not in event_row(ev, account=ACCOUNT, ptr=None)


def test_json_numbers_keep_their_text() -> None:
    row = event_row(_event("app", '{"p": 1.50, "e": 1e3, "i": 10}'), account=ACCOUNT, ptr=None)
    assert row["p"] == 1.5 and row["p"].text == "1.50"
    assert row["e"] == 1000.0 and row["e"].text == "1e3"
    assert row["i"] == 10 and type(row["i"]) is int


def test_json_field_limit() -> None:
    doc = {f"k{i}": i for i in range(MAX_JSON_FIELDS + 50)}
    row = event_row(_event("app", json.dumps(doc)), account=ACCOUNT, ptr=None)
    names = [k for k in row.field_names() if k not in fields.SYSTEM_FIELDS]
    assert names == [f"k{i}" for i in range(MAX_JSON_FIELDS)]


def test_deep_json_does_not_recurse() -> None:
    deep = '{"a": ' * 500 + "1" + "}" * 500
    got = message_fields(deep)
    assert got == {"a." * 499 + "a": 1}


def test_lazy_message_only_never_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_json, real_parse = lines.load_json_object, lines.parse_event
    monkeypatch.setattr(lines, "load_json_object", lambda t: calls.append("json") or real_json(t))
    monkeypatch.setattr(lines, "parse_event", lambda t: calls.append("parse") or real_parse(t))
    ev = LogEvent("app", "s", 0, T0, T0, '{"a": 1}', {})
    row = event_row(ev, account=ACCOUNT, ptr=None)
    assert row["@message"] == '{"a": 1}' and row.get("@timestamp") == T0
    assert "@message" in row
    assert calls == []
    assert row.get("@requestId") is None  # Lambda stage: a JSON message needs no parse_event
    assert calls == []
    assert row.get("a") == 1
    assert calls == ["json"]
    assert row.get("missing") is None and "missing" not in row
    assert calls == ["json"]  # parsed once


def test_no_brace_no_json_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(lines, "load_json_object", lambda t: calls.append("json"))
    row = event_row(LogEvent("app", "s", 0, T0, T0, "plain text", {}), account=ACCOUNT, ptr=None)
    assert row.get("level") is None
    assert calls == []


def test_written_fields_win_and_deletes_stick() -> None:
    row = event_row(_event("app", '{"level": "INFO", "n": 1}'), account=ACCOUNT, ptr=None)
    row["level"] = "mine"  # e.g. a parse/fields alias written before discovery
    assert row["level"] == "mine"
    assert row["n"] == 1
    del row["n"]
    assert row.get("n") is None and "n" not in row.field_names()
    row2 = event_row(_event("app", '{"n": 1}'), account=ACCOUNT, ptr=None)
    del row2["n"]  # deleting before discovery does not bring it back later
    assert row2.get("n") is None
    with pytest.raises(KeyError):
        row2["n"]


def test_copy_stays_lazy_and_independent() -> None:
    row = event_row(_event("app", '{"a": {"b": 2}}'), account=ACCOUNT, ptr=None)
    twin = row.copy()
    assert isinstance(twin, Row)
    twin["x"] = 1
    assert twin["a.b"] == 2 and row.get("x") is None and row["a.b"] == 2
    assert dict(row) == {k: row[k] for k in row.field_names()}


def test_row_of_and_bare_rows() -> None:
    r = Row.of({"count(*)": 3})
    assert r.get("count(*)") == 3 and r.get("x") is None and r.field_names() == ["count(*)"]
    bare = Row({"a": 1})  # made without event_row: nothing to discover, nothing breaks
    assert bare.get("b") is None and "b" not in bare and list(bare) == ["a"]


def test_samples_are_well_formed() -> None:
    from logsvc.insights.samples import SAMPLES, by_category

    names = [s.name for s in SAMPLES]
    assert len(names) == len(set(names))
    assert {s.category for s in SAMPLES} == {"lambda", "general", "json", "access"}
    lam = " ".join(s.query for s in by_category("lambda"))
    for text in (
        "bin(5m)",
        "provisonedMemoryMB",
        "@billedDuration desc",
        "ispresent(@initDuration)",
    ):
        assert text in lam


def test_samples_compile() -> None:
    import logsvc.insights as insights
    from logsvc.insights.samples import SAMPLES

    if not hasattr(insights, "compile"):
        pytest.skip("the language (branch insights-lang) is not merged here")
    for s in SAMPLES:
        insights.compile(s.query)  # raises QueryError naming the sample's problem


def test_oracle_data_loads_as_written() -> None:
    """tests/insights_cases.py's stream files read back as exactly its events (the data, not the expectations)."""
    from tests import insights_cases as oracle

    seen = []
    for (group, stream), text in oracle.stream_files().items():
        raw, used = lines.split_events(text.encode(), flush=True)
        assert used == len(text.encode())
        for r in raw:
            ev = query.make_event(group, stream, r.start, r.end, r.text, 0)
            seen.append(oracle.Event(group, stream, ev.timestamp, ev.message))
    assert sorted(seen, key=lambda e: (e.timestamp, e.group)) == sorted(
        oracle.EVENTS, key=lambda e: (e.timestamp, e.group)
    )
    assert len({e.timestamp for e in oracle.EVENTS}) == len(oracle.EVENTS)  # no ties
    names = [c.name for c in oracle.CASES]
    assert len(names) == len(set(names))
    for c in oracle.CASES:
        assert c.check in ("rows", "pattern_counts") and c.basis in (
            "observed",
            "documented",
            "assumed",
        )
        if c.check == "rows":
            assert all(f != "@ptr" for row in c.expected for f, _ in row), c.name
    for _name, q, offsets, _word in oracle.MALFORMED:
        assert all(0 <= o <= len(q) for o in offsets)


@pytest.mark.parametrize(
    ("line", "field", "cell"),
    [
        (
            f"REPORT RequestId: {ID}\tDuration: 14.97 ms\tBilled Duration: 15 ms\tMemory Size: 128 MB\tMax Memory Used: 67 MB\t",
            "@billedDuration",
            "15.0",
        ),
        (
            f"REPORT RequestId: {ID}\tDuration: 14.97 ms\tBilled Duration: 15 ms\tMemory Size: 128 MB\tMax Memory Used: 67 MB\t",
            "@duration",
            "14.97",
        ),
        (
            f"REPORT RequestId: {ID}\tDuration: 14.97 ms\tBilled Duration: 15 ms\tMemory Size: 128 MB\tMax Memory Used: 67 MB\t",
            "@memorySize",
            "1.28E8",
        ),
        (
            f"REPORT RequestId: {ID}\tDuration: 14.97 ms\tBilled Duration: 15 ms\tMemory Size: 128 MB\tMax Memory Used: 67 MB\t",
            "@maxMemoryUsed",
            "6.7E7",
        ),
        (
            f"REPORT RequestId: {ID}\tDuration: 5.93 ms\tBilled Duration: 6 ms\tMemory Size: 10240 MB\tMax Memory Used: 67 MB\tInit Duration: 145.69 ms\t",
            "@initDuration",
            "145.69",
        ),
        (
            f"REPORT RequestId: {ID}\tDuration: 5.93 ms\tBilled Duration: 6 ms\tMemory Size: 10240 MB\tMax Memory Used: 67 MB\tInit Duration: 145.69 ms\t",
            "@memorySize",
            "1.024E10",
        ),
    ],
)
def test_lambda_metrics_render_as_aws_does(line: str, field: str, cell: str) -> None:
    """Real GetQueryResults rows (oslabs-beta/Embr retrievedData2.js) show "15.0", "14.97", "1.28E8", "6.7E7", "145.69"."""
    from logsvc.insights.values import render

    value = event_row(_event(LAMBDA, line), account=ACCOUNT, ptr=None)[field]
    assert render(value) == cell
    assert (
        value == float(cell) and render(value * 1) != "" and type(value * 1) is float
    )  # arithmetic gives plain floats


def test_log_record() -> None:
    """GetLogRecord: every field as a string, timestamps as epoch-ms digits (reference §6.4)."""
    from logsvc.insights.fields import log_record

    ev = _event(
        LAMBDA,
        f"REPORT RequestId: {ID}\tDuration: 14.97 ms\tBilled Duration: 15 ms\tMemory Size: 128 MB\tMax Memory Used: 67 MB\t",
    )
    rec = log_record(ev, account=ACCOUNT)
    assert rec["@timestamp"] == str(T0) and rec["@ingestionTime"] == str(T0 + 5)
    assert (
        rec["@log"] == f"{ACCOUNT}:{LAMBDA}"
        and rec["@logStream"] == ev.stream
        and rec["@message"] == ev.message
    )
    assert (
        rec["@billedDuration"] == "15.0"
        and rec["@memorySize"] == "1.28E8"
        and rec["@type"] == "REPORT"
    )
    assert "@ptr" not in rec
    js = log_record(_event("app", '{"a": {"b": 1.50}, "n": null}'), account=ACCOUNT)
    assert (
        js["a.b"] == "1.5" and "n" not in js
    )  # a JSON number with a fraction is a double: Java's text of the value


def test_log_group_fields() -> None:
    from logsvc.insights.fields import log_group_fields

    evs = [
        _event("app", '{"a": 1, "b": 2}'),
        _event("app", '{"a": 3}'),
        _event("app", "plain"),
        _event("app", '{"a": 4}'),
    ]
    got = log_group_fields(evs, account=ACCOUNT)
    assert got[:5] == [
        {"name": n, "percent": 100}
        for n in ("@ingestionTime", "@log", "@logStream", "@message", "@timestamp")
    ]
    assert got[5:] == [{"name": "a", "percent": 75}, {"name": "b", "percent": 25}]
    assert log_group_fields([], account=ACCOUNT) == []
