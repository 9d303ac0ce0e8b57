"""Logs Insights through every way in, against a real `logsvc serve`: boto3 (StartQuery,
GetQueryResults, StopQuery, DescribeQueries, GetLogRecord, query definitions, GetLogGroupFields),
the aws CLI, raw HTTP for AWS's error shapes, the REST API and `logsvc query`.

Also the runner's promises (jobs.py): the concurrency limit, the timeout, Stop -> Cancelled within a
second, and a query whose worker is killed with -9 reading as Failed, never Running forever.
The rows a query returns are the engine's business (tests/test_insights_oracle.py checks them
against an independent oracle); here they only need to be the right rows of the right events.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from logsvc.store import Store
from tests.conftest import Server, start_server, wait_for

TARGET = "Logs_20140328."
AWS_BIN = str(Path(sys.executable).with_name("aws"))
TERMINAL = {"Complete", "Failed", "Cancelled", "Timeout"}
BIG = (
    150_000  # events of the "big" group: a scan of it runs for seconds, long enough to stop or kill
)
T0 = 1_796_000_000_000  # 2026-11-30T...: fixed event times for the big group


def _client(url: str):
    return boto3.client(
        "logs",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def cw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("insights") / "data"
    data.mkdir()
    s = start_server(data)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def logs(cw: Server):
    return _client(cw.url)


def unique(prefix: str = "/insights/") -> str:
    return prefix + uuid.uuid4().hex[:10]


def now_s() -> int:
    return int(time.time())


def make_group(
    logs, messages: list[str], t0: int | None = None, stream: str = "s1"
) -> tuple[str, int]:
    """A new group with one stream holding `messages` one ms apart, oldest first; (group, first time)."""
    group = unique()
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    t0 = int(time.time() * 1000) - 60_000 if t0 is None else t0
    if messages:
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": t0 + i, "message": m} for i, m in enumerate(messages)],
        )
    return group, t0


def run(
    logs, group: str | list[str], query: str, start: int | None = None, end: int | None = None, **kw
) -> dict:
    groups = {"logGroupNames": group} if isinstance(group, list) else {"logGroupName": group}
    qid = logs.start_query(
        startTime=now_s() - 3600 if start is None else start,
        endTime=now_s() + 60 if end is None else end,
        queryString=query,
        **groups,
        **kw,
    )["queryId"]
    return wait_done(logs, qid)


def wait_done(logs, qid: str, timeout: float = 60) -> dict:
    def done() -> dict | None:
        r = logs.get_query_results(queryId=qid)
        return r if r["status"] in TERMINAL else None

    r = wait_for(done, timeout=timeout, interval=0.1, what=f"query {qid} to end")
    r["queryId"] = qid
    return r


def rows(result: dict) -> list[dict]:
    return [{c["field"]: c["value"] for c in row} for row in result["results"]]


def error_of(call, **kw) -> tuple[str, str, dict]:
    with pytest.raises(ClientError) as exc:
        call(**kw)
    r = exc.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r


def raw(cw: Server, op: str, body: dict) -> requests.Response:
    return requests.post(
        cw.url + "/",
        data=json.dumps(body),
        timeout=30,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + op},
    )


@pytest.fixture(scope="module")
def big(cw: Server) -> str:
    """A group of BIG events written straight into its stream file (as `>>` would)."""
    group = "/insights/big"
    path = cw.store.ensure_stream(group, "app")
    with open(path, "w", encoding="utf-8") as f:
        for i in range(BIG):
            ms = T0 + i
            stamp = (
                time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
            )
            f.write(f"{stamp} INFO request {i} took {i % 97} ms path=/p/{i % 13}\n")
    return group


BIG_RANGE = {"start": T0 // 1000 - 1, "end": (T0 + BIG) // 1000 + 1}
# reads and works on every event of the big group: ~10x the engine time of a bare count, so a scan
# lasts seconds on an idle machine too (a bare count could end before a test looked at it)
SLOW_QUERY = (
    r"filter @message like /(?i)request \d+ took/ | parse @message /took (?<t>\d+) ms path=(?<p>\S+)/"
    " | stats count(*), avg(t), pct(t, 99), count_distinct(p) by @logStream"
)


def start_slow(logs, group: str) -> str:
    return logs.start_query(
        logGroupName=group,
        startTime=BIG_RANGE["start"],
        endTime=BIG_RANGE["end"],
        queryString=SLOW_QUERY,
    )["queryId"]


def rest_state(cw: Server, qid: str) -> dict:
    return cw.json(f"/api/v1/insights/{qid}")


# ---- StartQuery / GetQueryResults through boto3 ----------------------------------------------------


def test_boto3_query_returns_the_rows_newest_first_with_statistics(logs) -> None:
    group, t0 = make_group(logs, [f"event {i} status={200 if i % 3 else 500}" for i in range(20)])
    r = run(
        logs, group, "fields @timestamp, @message | filter @message like /status=500/ | limit 3"
    )
    assert r["status"] == "Complete"
    got = rows(r)
    assert [g["@message"] for g in got] == [
        "event 18 status=500",
        "event 15 status=500",
        "event 12 status=500",
    ]
    assert all(set(g) == {"@timestamp", "@message", "@ptr"} for g in got)
    stamp = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime((t0 + 18) // 1000))
        + f".{(t0 + 18) % 1000:03d}"
    )
    assert got[0]["@timestamp"] == stamp
    st = r["statistics"]
    assert (
        st["recordsScanned"] == 20.0
        and st["recordsMatched"] == 7.0
        and st["logGroupsScanned"] == 1.0
    )
    # bytes read: each event's line in its file, `<ISO time> <message>\n`, so its message + 26 bytes,
    # which is also the size CloudWatch counts an event at (PutLogEvents' batch size)
    assert st["bytesScanned"] == float(
        sum(len(f"event {i} status={200 if i % 3 else 500}") + 26 for i in range(20))
    )
    assert r["queryLanguage"] == "CWLI"


def test_limit_and_result_paging(logs) -> None:
    group, _ = make_group(logs, [f"line {i}" for i in range(30)])
    r = run(logs, group, "fields @message", limit=4)
    assert [g["@message"] for g in rows(r)] == ["line 29", "line 28", "line 27", "line 26"]
    assert r["statistics"]["recordsMatched"] == 30.0
    r = run(logs, group, "fields @message | limit 25")
    first = logs.get_query_results(queryId=r["queryId"], maxItems=10)
    second = logs.get_query_results(queryId=r["queryId"], maxItems=10, nextToken=first["nextToken"])
    third = logs.get_query_results(queryId=r["queryId"], maxItems=10, nextToken=second["nextToken"])
    paged = [g["@message"] for page in (first, second, third) for g in rows(page)]
    assert (
        paged == [g["@message"] for g in rows(r)] and len(paged) == 25 and "nextToken" not in third
    )
    assert (
        error_of(logs.get_query_results, queryId=r["queryId"], nextToken="v1.bogus")[0]
        == "InvalidParameterException"
    )


def test_time_range_is_inclusive_seconds(logs) -> None:
    t0 = (now_s() - 600) * 1000  # on a whole second
    group, _ = make_group(logs, [], t0)
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[
            {"timestamp": t0 - 1, "message": "before"},
            {"timestamp": t0, "message": "first ms"},
            {"timestamp": t0 + 10_000, "message": "last ms"},
            {"timestamp": t0 + 10_001, "message": "after"},
        ],
    )
    r = run(logs, group, "fields @message", start=t0 // 1000, end=t0 // 1000 + 10)
    assert [g["@message"] for g in rows(r)] == ["last ms", "first ms"]


def test_visibility_applies_retention_and_deleted_streams(cw: Server, logs) -> None:
    group = unique()
    now = int(time.time() * 1000)

    def iso(ms: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"

    for stream in ("keep", "gone"):
        path = cw.store.ensure_stream(group, stream)
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{iso(now - 3 * 86_400_000)} {stream} old\n{iso(now - 60_000)} {stream} new\n")
    q = "fields @message | sort @message asc"
    assert [r["@message"] for r in rows(run(logs, group, q, start=now // 1000 - 4 * 86400))] == [
        "gone new",
        "gone old",
        "keep new",
        "keep old",
    ]
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    logs.delete_log_stream(logGroupName=group, logStreamName="gone")
    assert [r["@message"] for r in rows(run(logs, group, q, start=now // 1000 - 4 * 86400))] == [
        "keep new"
    ]


def test_stats_rows_have_no_ptr_and_several_groups_merge(logs) -> None:
    a, _ = make_group(logs, ['{"level": "INFO"}', '{"level": "ERROR"}', '{"level": "INFO"}'])
    b, _ = make_group(logs, ['{"level": "INFO"}'])
    r = run(logs, [a, b], "stats count(*) as n by level | sort n desc")
    assert rows(r) == [{"level": "INFO", "n": "3"}, {"level": "ERROR", "n": "1"}]
    assert r["statistics"]["logGroupsScanned"] == 2.0
    r = logs.start_query(
        logGroupIdentifiers=[f"arn:aws:logs:us-east-1:000000000000:log-group:{a}", b],
        startTime=now_s() - 3600,
        endTime=now_s() + 60,
        queryString="stats count(*)",
    )
    assert rows(wait_done(logs, r["queryId"])) == [{"count(*)": "4"}]


def test_source_command_selects_groups_by_prefix(logs) -> None:
    prefix = unique("/src-") + "/"
    for name in ("a", "b"):
        logs.create_log_group(logGroupName=prefix + name)
        logs.create_log_stream(logGroupName=prefix + name, logStreamName="s")
        logs.put_log_events(
            logGroupName=prefix + name,
            logStreamName="s",
            logEvents=[{"timestamp": int(time.time() * 1000) - 1000, "message": f"from {name}"}],
        )
    qid = logs.start_query(
        startTime=now_s() - 3600,
        endTime=now_s() + 60,
        queryString=f"SOURCE logGroups(namePrefix: ['{prefix}']) | stats count(*) as n by @log | sort @log asc",
    )["queryId"]
    got = rows(wait_done(logs, qid))
    assert got == [
        {"@log": f"000000000000:{prefix}a", "n": "1"},
        {"@log": f"000000000000:{prefix}b", "n": "1"},
    ]


def test_get_log_record_resolves_ptr_to_every_field(logs) -> None:
    group, t0 = make_group(logs, ['{"user": {"id": 7, "name": "ann"}, "ok": true}', "plain line"])
    got = rows(run(logs, group, "fields @message | sort @timestamp asc"))
    rec = logs.get_log_record(logRecordPointer=got[0]["@ptr"])["logRecord"]
    assert rec["@message"] == '{"user": {"id": 7, "name": "ann"}, "ok": true}'
    assert rec["@timestamp"] == str(t0) and rec["@ingestionTime"].isdigit()
    assert rec["@log"] == f"000000000000:{group}" and rec["@logStream"] == "s1"
    assert rec["user.id"] == "7" and rec["user.name"] == "ann"
    assert (
        logs.get_log_record(logRecordPointer=got[1]["@ptr"])["logRecord"]["@message"]
        == "plain line"
    )
    code, _, _ = error_of(logs.get_log_record, logRecordPointer="not-a-pointer")
    assert code == "InvalidParameterException"
    tampered = got[0]["@ptr"][:-2] + ("AA" if not got[0]["@ptr"].endswith("AA") else "BB")
    assert (
        error_of(logs.get_log_record, logRecordPointer=tampered)[0] == "InvalidParameterException"
    )
    logs.delete_log_group(logGroupName=group)
    assert (
        error_of(logs.get_log_record, logRecordPointer=got[1]["@ptr"])[0]
        == "ResourceNotFoundException"
    )


def test_get_log_group_fields(logs) -> None:
    group, _ = make_group(logs, ['{"a": 1, "b": {"c": 2}}', '{"a": 3}', "text", "more text"])
    fields = {
        f["name"]: f["percent"]
        for f in logs.get_log_group_fields(logGroupName=group)["logGroupFields"]
    }
    assert fields["@message"] == 100 and fields["@timestamp"] == 100
    assert fields["a"] == 50 and fields["b.c"] == 25
    assert (
        logs.get_log_group_fields(logGroupName=group, time=now_s() - 86400 * 2)["logGroupFields"]
        == []
    )
    assert (
        error_of(logs.get_log_group_fields, logGroupName=unique())[0] == "ResourceNotFoundException"
    )


# ---- errors ----------------------------------------------------------------------------------------


def test_malformed_query_names_the_column(cw: Server, logs) -> None:
    group, _ = make_group(logs, ["x"])
    code, message, resp = error_of(
        logs.start_query,
        logGroupName=group,
        startTime=1,
        endTime=2,
        queryString="fields @message | frobnicate @message",
    )
    assert code == "MalformedQueryException" and "frobnicate" in message
    loc = resp["queryCompileError"]["location"]
    assert (loc["startCharOffset"], loc["endCharOffset"]) == (18, 28)
    assert resp["queryCompileError"]["message"] == message
    r = raw(
        cw,
        "StartQuery",
        {"logGroupName": group, "startTime": 1, "endTime": 2, "queryString": "stats count(*) by"},
    )
    body = r.json()
    assert r.status_code == 400 and body["__type"] == "MalformedQueryException"
    assert set(body["queryCompileError"]["location"]) == {"startCharOffset", "endCharOffset"}


def test_start_query_validation(cw: Server, logs) -> None:
    group, _ = make_group(logs, ["x"])
    base = {"startTime": 1, "endTime": 2, "queryString": "fields @message"}
    code, msg, _ = error_of(logs.start_query, logGroupName=unique(), **base)
    assert (code, msg) == ("ResourceNotFoundException", "The specified log group does not exist.")
    assert (
        error_of(logs.start_query, logGroupNames=[group, unique()], **base)[0]
        == "ResourceNotFoundException"
    )
    code, msg, _ = error_of(logs.start_query, logGroupName=group, logGroupNames=[group], **base)
    assert code == "InvalidParameterException" and "mutually exclusive" in msg
    code, msg, _ = error_of(logs.start_query, **base)
    assert code == "InvalidParameterException" and "SOURCE" in msg
    code, msg, _ = error_of(logs.start_query, logGroupName=group, queryLanguage="SQL", **base)
    assert code == "InvalidParameterException" and "CWLI" in msg
    code, msg, _ = error_of(
        logs.start_query, logGroupName=group, startTime=10, endTime=5, queryString="fields @message"
    )
    assert code == "InvalidParameterException"
    r = raw(cw, "StartQuery", {"logGroupName": group, **base, "limit": 100_001})
    assert r.status_code == 400 and r.json() == {
        "__type": "InvalidParameterException",
        "message": "1 validation error detected: Value '100001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 100000",
    }
    r = raw(cw, "StartQuery", {"logGroupName": group, **base, "queryString": "x" * 10_001})
    assert r.status_code == 400 and "queryString" in r.json()["message"]
    qid = logs.start_query(logGroupName=group, limit=100_000, **base)["queryId"]
    assert wait_done(logs, qid)["status"] == "Complete"


def test_unknown_query_ids(logs) -> None:
    for call in (logs.get_query_results, logs.stop_query):
        code, msg, _ = error_of(call, queryId=str(uuid.uuid4()))
        assert (code, msg) == ("ResourceNotFoundException", "The specified query does not exist.")
        assert error_of(call, queryId="../../paging.key")[0] == "ResourceNotFoundException"


# ---- DescribeQueries and saved queries ---------------------------------------------------------------


def test_describe_queries(logs) -> None:
    group, _ = make_group(logs, ["a", "b"])
    done = run(logs, group, "fields @message")
    queries = logs.describe_queries(logGroupName=group)["queries"]
    assert [q["queryId"] for q in queries] == [done["queryId"]]
    q = queries[0]
    assert (
        q["queryString"] == "fields @message"
        and q["status"] == "Complete"
        and q["logGroupName"] == group
    )
    assert (
        q["createTime"] > 0 and q["queryLanguage"] == "CWLI" and q["bytesScanned"] == 2.0 + 2 * 26
    )
    assert logs.describe_queries(logGroupName=group, status="Running")["queries"] == []
    assert any(
        x["queryId"] == done["queryId"] for x in logs.describe_queries(status="Complete")["queries"]
    )
    second = run(logs, group, "stats count(*)")
    page = logs.describe_queries(logGroupName=group, maxResults=1)
    assert [x["queryId"] for x in page["queries"]] == [second["queryId"]]  # newest first
    page2 = logs.describe_queries(logGroupName=group, maxResults=1, nextToken=page["nextToken"])
    assert [x["queryId"] for x in page2["queries"]] == [
        done["queryId"]
    ] and "nextToken" not in page2
    assert error_of(logs.describe_queries, logGroupName=unique())[0] == "ResourceNotFoundException"


def test_query_definitions(cw: Server, logs) -> None:
    name = "team/" + uuid.uuid4().hex[:8]
    did = logs.put_query_definition(
        name=name, queryString="fields @message | limit 5", logGroupNames=["/aws/lambda/a"]
    )["queryDefinitionId"]
    mine = logs.describe_query_definitions(queryDefinitionNamePrefix=name)["queryDefinitions"]
    assert len(mine) == 1 and mine[0]["queryDefinitionId"] == did and mine[0]["name"] == name
    assert mine[0]["queryString"] == "fields @message | limit 5" and mine[0]["logGroupNames"] == [
        "/aws/lambda/a"
    ]
    assert mine[0]["lastModified"] > 0
    # an update replaces the whole definition: omitted log groups become none
    assert (
        logs.put_query_definition(queryDefinitionId=did, name=name, queryString="stats count(*)")[
            "queryDefinitionId"
        ]
        == did
    )
    mine = logs.describe_query_definitions(queryDefinitionNamePrefix=name)["queryDefinitions"]
    assert mine[0]["queryString"] == "stats count(*)" and mine[0]["logGroupNames"] == []
    # the console sees the same saved queries
    assert any(
        d["id"] == did and d["query"] == "stats count(*)"
        for d in cw.json("/api/v1/insights/definitions")["definitions"]
    )
    # a retried call (same clientToken) does not save twice
    token = str(uuid.uuid4())
    first = logs.put_query_definition(
        name=name + "-x", queryString="fields @message", clientToken=token
    )["queryDefinitionId"]
    assert (
        logs.put_query_definition(
            name=name + "-x", queryString="fields @message", clientToken=token
        )["queryDefinitionId"]
        == first
    )
    assert (
        len(
            logs.describe_query_definitions(queryDefinitionNamePrefix=name + "-x")[
                "queryDefinitions"
            ]
        )
        == 1
    )
    assert logs.delete_query_definition(queryDefinitionId=did)["success"] is True
    assert (
        logs.describe_query_definitions(queryDefinitionNamePrefix=name + "/")["queryDefinitions"]
        == []
    )
    assert (
        error_of(logs.delete_query_definition, queryDefinitionId=did)[0]
        == "ResourceNotFoundException"
    )
    assert (
        error_of(logs.put_query_definition, queryDefinitionId=did, name="n", queryString="q")[0]
        == "ResourceNotFoundException"
    )


# ---- running: partial results, stop, kill --------------------------------------------------------------


def test_running_query_shows_progress_then_stop_cancels_it(cw: Server, logs, big: str) -> None:
    qid = start_slow(logs, big)
    r = wait_for(
        lambda: (
            (x := logs.get_query_results(queryId=qid))["statistics"]["recordsScanned"] > 0 and x
        ),
        timeout=30,
        what="statistics while running",
    )
    assert r["status"] in ("Scheduled", "Running"), r["status"]
    # partial rows while it runs (the engine's rows so far, about once a second), from any worker
    r = wait_for(
        lambda: (x := logs.get_query_results(queryId=qid))["results"] and x,
        timeout=30,
        what="partial rows",
    )
    assert (
        r["status"] == "Running"
        and rows(r)[0]["@logStream"] == "app"
        and 0 < int(rows(r)[0]["count(*)"]) < BIG
    )
    assert [
        q["status"]
        for q in logs.describe_queries(logGroupName=big)["queries"]
        if q["queryId"] == qid
    ] == ["Running"]
    assert logs.stop_query(queryId=qid)["success"] is True
    r = logs.get_query_results(queryId=qid)
    assert r["status"] == "Cancelled"  # at once, from any worker
    # the runner notices between slices of reading and records the end (no wall-clock bound: the wait's
    # timeout is the bound; a loaded machine took 2.2 s once)
    wait_for(
        lambda: rest_state(cw, qid)["endedTime"], timeout=15, what="the runner to record the end"
    )
    assert rest_state(cw, qid)["status"] == "Cancelled"
    code, msg, _ = error_of(logs.stop_query, queryId=qid)
    assert code == "InvalidParameterException" and "Cancelled" in msg


def test_killed_worker_leaves_its_query_failed_not_running(cw: Server, logs, big: str) -> None:
    qid = start_slow(logs, big)
    state = wait_for(
        lambda: (s := rest_state(cw, qid))["status"] == "Running" and s, timeout=30, what="Running"
    )
    pid = state["worker"]
    assert pid and pid != cw.proc.pid
    os.kill(pid, signal.SIGKILL)
    r = wait_for(
        lambda: (x := logs.get_query_results(queryId=qid))["status"] in TERMINAL and x,
        timeout=15,
        what="the killed worker's query to end",
    )
    assert r["status"] == "Failed"
    assert str(pid) in rest_state(cw, qid)["error"]
    assert [
        q["status"]
        for q in logs.describe_queries(logGroupName=big)["queries"]
        if q["queryId"] == qid
    ] == ["Failed"]
    # the server goes on: a new worker answers and runs queries
    group, _ = make_group(logs, ["after the kill"])
    assert rows(run(logs, group, "fields @message"))[0]["@message"] == "after the kill"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_restarted_server_reports_queries_of_the_old_one_ended(
    tmp_path: Path, cw: Server, big: str, sig: int
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    s = start_server(data)
    try:
        s.store.ensure_stream(big, "app").write_bytes(cw.store.stream_file(big, "app").read_bytes())
        logs = _client(s.url)
        qid = start_slow(logs, big)
        wait_for(lambda: rest_state(s, qid)["status"] == "Running", timeout=30, what="Running")
        s.stop(sig)  # the whole server: kill -9 (no goodbye) or a graceful stop
        s = start_server(data)
        r = _client(s.url).get_query_results(queryId=qid)
        assert r["status"] == "Failed"
        assert "ended" in rest_state(s, qid)["error"] or "shut down" in rest_state(s, qid)["error"]
    finally:
        s.stop()


def _server_with_big(tmp_path_factory: pytest.TempPathFactory, cw: Server, big: str, env: dict):
    """A server of its own over a copy of the big group."""
    data = tmp_path_factory.mktemp("insights-limits") / "data"
    data.mkdir()
    dst = Store(data).ensure_stream(big, "app")
    dst.write_bytes(cw.store.stream_file(big, "app").read_bytes())
    return start_server(data, env=env)


@pytest.fixture(scope="module")
def two_at_once(tmp_path_factory: pytest.TempPathFactory, cw: Server, big: str) -> Iterator[Server]:
    """2 queries at once; a timeout far beyond any test, so only a stop ends a query early."""
    s = _server_with_big(
        tmp_path_factory,
        cw,
        big,
        {"LOGSVC_INSIGHTS_MAX_QUERIES": "2", "LOGSVC_INSIGHTS_TIMEOUT": "600"},
    )
    yield s
    s.stop()


@pytest.fixture(scope="module")
def one_second(tmp_path_factory: pytest.TempPathFactory, cw: Server, big: str) -> Iterator[Server]:
    """Queries time out after 1 second: a scan of the big group lasts several even when idle."""
    s = _server_with_big(tmp_path_factory, cw, big, {"LOGSVC_INSIGHTS_TIMEOUT": "1"})
    yield s
    s.stop()


def test_the_concurrency_limit_answers_limit_exceeded_until_a_slot_is_free(
    two_at_once: Server, big: str
) -> None:
    logs = _client(two_at_once.url)
    first, second = start_slow(logs, big), start_slow(logs, big)
    code, msg, _ = error_of(
        logs.start_query, logGroupName=big, startTime=1, endTime=2, queryString="fields @message"
    )
    assert code == "LimitExceededException" and "2" in msg
    r = requests.post(
        two_at_once.url + "/api/v1/insights",
        json={"query": "fields @message", "groups": [big]},
        timeout=10,
    )
    assert r.status_code == 503 and r.json()["error"]["code"] == "LimitExceeded"
    assert logs.stop_query(queryId=first)["success"]
    third = start_slow(logs, big)  # a slot is free again
    for qid in (second, third):
        assert logs.stop_query(queryId=qid)["success"]
    for qid in (first, second, third):
        assert wait_done(logs, qid, timeout=30)["status"] == "Cancelled"


def test_a_query_past_its_timeout_ends_as_timeout(one_second: Server, big: str) -> None:
    logs = _client(one_second.url)
    qids = [start_slow(logs, big), start_slow(logs, big)]
    for qid in qids:
        assert wait_done(logs, qid, timeout=30)["status"] == "Timeout"
        assert "LOGSVC_INSIGHTS_TIMEOUT" in one_second.json(f"/api/v1/insights/{qid}")["error"]


def test_results_are_kept_for_a_bounded_time_and_size(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    s = start_server(
        data, env={"LOGSVC_INSIGHTS_RETENTION": "2", "LOGSVC_INSIGHTS_RESULTS_BYTES": "20000"}
    )
    try:
        logs = _client(s.url)
        group, _ = make_group(logs, [f"message number {i:04d} " + "x" * 40 for i in range(200)])
        big_rows = run(
            logs, group, "fields @message"
        )  # ~200 rows of ~200 bytes with @ptr: over 20000 / 4
        assert big_rows["status"] == "Failed" and big_rows["results"] == []
        assert (
            "LOGSVC_INSIGHTS_RESULTS_BYTES"
            in s.json(f"/api/v1/insights/{big_rows['queryId']}")["error"]
        )
        small = run(logs, group, "stats count(*)")
        assert rows(small) == [{"count(*)": "200"}]
        time.sleep(2.5)
        wait_for(
            lambda: (
                run(logs, group, "stats count(*)")
                and not any(
                    q["queryId"] == small["queryId"]
                    for q in logs.describe_queries(logGroupName=group)["queries"]
                )
            ),
            timeout=20,
            interval=0.5,
            what="the expired query to be dropped",
        )
        assert (
            error_of(logs.get_query_results, queryId=small["queryId"])[0]
            == "ResourceNotFoundException"
        )
    finally:
        s.stop()


# ---- the aws CLI -----------------------------------------------------------------------------------


def test_aws_cli_start_query_and_get_query_results(cw: Server, logs) -> None:
    group, _ = make_group(logs, ["cli one", "cli two ERROR", "cli three"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
    )

    def aws(*args: str) -> dict:
        p = subprocess.run(
            [AWS_BIN, "logs", *args, "--endpoint-url", cw.url, "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    qid = aws(
        "start-query",
        "--log-group-name",
        group,
        "--start-time",
        str(now_s() - 3600),
        "--end-time",
        str(now_s() + 60),
        "--query-string",
        "fields @timestamp, @message | filter @message like /ERROR/",
    )["queryId"]
    out = wait_for(
        lambda: (x := aws("get-query-results", "--query-id", qid))["status"] == "Complete" and x,
        timeout=30,
        interval=0.2,
        what="Complete",
    )
    assert [{c["field"]: c["value"] for c in row}["@message"] for row in out["results"]] == [
        "cli two ERROR"
    ]
    assert out["statistics"]["recordsMatched"] == 1.0
    p = subprocess.run(
        [
            AWS_BIN,
            "logs",
            "start-query",
            "--log-group-name",
            group,
            "--start-time",
            "1",
            "--end-time",
            "2",
            "--query-string",
            "stats count(*) by",
            "--endpoint-url",
            cw.url,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert p.returncode != 0 and "MalformedQueryException" in p.stderr


# ---- REST ------------------------------------------------------------------------------------------


def test_rest_start_poll_list_and_stop(cw: Server, logs, big: str) -> None:
    group, _ = make_group(
        logs,
        [
            '{"level": "INFO", "ms": 5}',
            '{"level": "ERROR", "ms": 50}',
            '{"level": "INFO", "ms": 7}',
        ],
    )
    r = requests.post(
        cw.url + "/api/v1/insights",
        json={
            "query": "stats count(*) as n, max(ms) by level | sort level asc",
            "groups": [group],
            "start": "1h",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    qid = r.json()["queryId"]
    body = wait_for(
        lambda: (b := rest_state(cw, qid))["status"] == "Complete" and b, what="Complete"
    )
    assert body["results"] == [
        [
            {"field": "level", "value": "ERROR"},
            {"field": "n", "value": "1"},
            {"field": "max(ms)", "value": "50"},
        ],
        [
            {"field": "level", "value": "INFO"},
            {"field": "n", "value": "2"},
            {"field": "max(ms)", "value": "7"},
        ],
    ]
    assert (
        body["statistics"]["recordsMatched"] == 3
        and body["groups"] == [group]
        and body["query"].startswith("stats")
    )
    listed = cw.json("/api/v1/insights", group=group)["queries"]
    assert [q["queryId"] for q in listed] == [qid] and "results" not in listed[0]
    # run-and-wait, for curl
    body = cw.json(
        "/api/v1/insights", q="filter level = 'ERROR' | fields ms", group=group, since="1h"
    )
    assert body["status"] == "Complete" and [
        [c["field"] for c in row] for row in body["results"]
    ] == [["ms", "@ptr"]]
    # stop over REST
    qid = requests.post(
        cw.url + "/api/v1/insights",
        json={"query": SLOW_QUERY, "groups": [big], "start": T0 - 1000, "end": T0 + BIG + 1000},
        timeout=30,
    ).json()["queryId"]
    r = requests.delete(cw.url + f"/api/v1/insights/{qid}", timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "Cancelled"
    assert requests.delete(cw.url + f"/api/v1/insights/{qid}", timeout=30).status_code == 400
    assert requests.get(cw.url + f"/api/v1/insights/{uuid.uuid4()}", timeout=30).status_code == 404


def test_rest_errors_check_fields_and_definitions(cw: Server, logs) -> None:
    group, _ = make_group(logs, ['{"user": "ann", "ms": 5}', "text"])
    r = requests.post(
        cw.url + "/api/v1/insights",
        json={"query": "fields @message | sort", "groups": [group]},
        timeout=30,
    )
    err = r.json()["error"]
    assert r.status_code == 400 and err["code"] == "MalformedQuery" and err["field"] == "query"
    assert isinstance(err["position"], int) and err["end"] >= err["position"] and "^" in err["hint"]
    r = requests.post(
        cw.url + "/api/v1/insights",
        json={"query": "fields @message", "groups": ["/nope/" + uuid.uuid4().hex]},
        timeout=30,
    )
    assert r.status_code == 404
    for bad in (
        {"query": "fields @message"},
        {"query": 5, "groups": [group]},
        {"query": "x", "groups": [group], "limit": 0},
        {"query": "fields @message", "groups": [group], "start": "yesterday-ish"},
        [1, 2],
    ):
        assert (
            requests.post(cw.url + "/api/v1/insights", json=bad, timeout=30).status_code == 400
        ), bad
    ok = requests.post(
        cw.url + "/api/v1/insights/check", json={"query": "fields @message | limit 3"}, timeout=30
    ).json()
    assert ok == {"ok": True}
    bad = requests.post(
        cw.url + "/api/v1/insights/check", json={"query": "fields @message | limit x"}, timeout=30
    ).json()
    assert (
        bad["ok"] is False
        and bad["error"]["start"] >= 17
        and bad["error"]["end"] > bad["error"]["start"]
    )
    fields = {
        f["name"]: f["percent"] for f in cw.json("/api/v1/insights/fields", group=group)["fields"]
    }
    assert fields["user"] == 50 and fields["@message"] == 100
    saved = requests.post(
        cw.url + "/api/v1/insights/definitions",
        json={"name": "mine", "query": "stats count(*)", "groups": [group]},
        timeout=30,
    ).json()
    assert saved["name"] == "mine" and saved["groups"] == [group]
    assert any(
        d["id"] == saved["id"]
        for d in cw.json("/api/v1/insights/definitions", prefix="mi")["definitions"]
    )
    assert (
        requests.delete(cw.url + f"/api/v1/insights/definitions/{saved['id']}", timeout=30).json()[
            "deleted"
        ]
        is True
    )
    assert (
        requests.delete(
            cw.url + f"/api/v1/insights/definitions/{saved['id']}", timeout=30
        ).status_code
        == 404
    )
    doc = cw.json("/api/v1/openapi.json")
    for p in (
        "/api/v1/insights",
        "/api/v1/insights/{queryId}",
        "/api/v1/insights/check",
        "/api/v1/insights/fields",
        "/api/v1/insights/definitions",
        "/api/v1/insights/definitions/{id}",
    ):
        assert p in doc["paths"]


# ---- the CLI ---------------------------------------------------------------------------------------


def _logsvc(cw: Server, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    return subprocess.run(
        [sys.executable, "-m", "logsvc", "--url", cw.url, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_cli_query_table_json_csv(cw: Server, logs) -> None:
    group, _ = make_group(
        logs, ['{"path": "/a", "ms": 5}', '{"path": "/b", "ms": 9}', '{"path": "/a", "ms": 7}']
    )
    q = "stats count(*) as n, sum(ms) as total by path | sort path asc"
    p = _logsvc(cw, "query", q, "--group", group, "--since", "1h")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["path  n  total", "/a    2  12", "/b    1  9"]
    p = _logsvc(cw, "query", q, "--group", group, "--output", "json")
    assert json.loads(p.stdout) == [
        {"path": "/a", "n": "2", "total": "12"},
        {"path": "/b", "n": "1", "total": "9"},
    ]
    p = _logsvc(cw, "query", q, "--group", group, "--output", "csv")
    assert p.stdout.splitlines() == ["path,n,total", "/a,2,12", "/b,1,9"]
    p = _logsvc(cw, "query", "fields @message | limit 1", "--group", group)
    assert p.returncode == 0 and "@ptr" not in p.stdout and p.stdout.splitlines()[0] == "@message"
    p = _logsvc(cw, "query", "stats count(*) by", "--group", group)
    assert p.returncode == 2 and "^" in p.stderr and "logsvc: error:" in p.stderr
    p = _logsvc(cw, "query", "fields @message", "--group", "/nope/" + uuid.uuid4().hex)
    assert p.returncode == 3 and "logsvc: error:" in p.stderr
