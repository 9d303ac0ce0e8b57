"""Subscription filters against a real server with boto3: the API's validation and limits, and
delivery to a project function that records every event it receives (decoded here, as a handler
would): exactly the matching events, once each, whichever way they were written, and exactly once
across a kill -9 of the server mid-delivery."""

from __future__ import annotations

import base64
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from tests.conftest import start_server, wait_for
from tests.helpers_aws import aws_client, put_events, write_project

HANDLERS = """
import json, os, time

def sink(event, context):
    # a slow mode for the crash test: say an invocation began, then take a while before recording
    if os.path.exists(os.environ["SLOW"]):
        with open(os.environ["STARTED"], "a") as f:
            f.write(context.aws_request_id + "\\n")
        time.sleep(0.6)
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps({"requestId": context.aws_request_id, "event": event}) + "\\n")

def flaky(event, context):
    # fails the first attempt of every request: Lambda's async retry must bring the batch again
    seen = os.environ["SEEN"]
    ids = open(seen).read().split() if os.path.exists(seen) else []
    if context.aws_request_id not in ids:
        with open(seen, "a") as f:
            f.write(context.aws_request_id + "\\n")
        raise RuntimeError("first attempt fails")
    with open(os.environ["FLAKY_OUT"], "a") as f:
        f.write(json.dumps({"requestId": context.aws_request_id, "event": event}) + "\\n")

def chatty(event, context):
    print("ERROR from chatty " + event.get("n", ""))
    print("all fine here")
"""

PROJECT = """
[invoker]
idle_timeout = 60

[functions.sink]
handler = "handlers.sink"
code = "fns"
environment = {{ OUT = "{out}/sink.jsonl", SLOW = "{out}/slow", STARTED = "{out}/started" }}
logs = [{{ log_group = "/app/declared", filter_pattern = "ERROR", filter_name = "declared-errors" }}]

[functions.flaky]
handler = "handlers.flaky"
code = "fns"
max_retries = 1
retry_delays = [0.1, 0.1]
environment = {{ SEEN = "{out}/flaky-seen", FLAKY_OUT = "{out}/flaky.jsonl" }}

[functions.chatty]
handler = "handlers.chatty"
code = "fns"
"""

ERROR_PATTERN = '{ $.level = "ERROR" }'


def make_project(root: Path) -> tuple[Path, Path]:
    out = root / "out"
    out.mkdir()
    return write_project(root, HANDLERS, PROJECT.format(out=out)), out


def logs_client(url: str):
    return aws_client("logs", url, retries={"mode": "standard", "max_attempts": 1})


def fn_arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:000000000000:function:{name}"


def subscribe(logs, group: str, stream: str, name: str, pattern: str, function: str) -> None:
    """A new group with one stream, and a subscription filter on the group to `function`."""
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_subscription_filter(
        logGroupName=group, filterName=name, filterPattern=pattern, destinationArn=fn_arn(function)
    )


def received(out: Path, name: str = "sink.jsonl") -> list[dict]:
    """Every invocation the sink recorded, with awslogs.data decoded."""
    try:
        text = (out / name).read_text()
    except FileNotFoundError:
        return []
    rows = []
    # a handler appends one line per invocation; a read while it writes sees a part of the last
    lines = text.split("\n")[:-1]  # every line the sink has finished (the rest is being written)
    for line in lines:
        rec = json.loads(line)
        data = rec["event"]["awslogs"]["data"]
        rec["doc"] = json.loads(gzip.decompress(base64.b64decode(data)))
        rec["payloadBytes"] = len(json.dumps(rec["event"]).encode())
        rows.append(rec)
    return rows


def data_events(out: Path, group: str) -> list[dict]:
    return [
        e
        for r in received(out)
        if r["doc"]["messageType"] == "DATA_MESSAGE" and r["doc"]["logGroup"] == group
        for e in r["doc"]["logEvents"]
    ]


def producer_events(n: int = 1000) -> tuple[list[str], list[str]]:
    """1,000 messages of which 137 are JSON errors; the rest are JSON infos and text lines that
    say ERROR but are not JSON (a JSON pattern must not match them)."""
    errors = set(range(0, 137 * 7, 7))
    messages = []
    for i in range(n):
        if i in errors:
            messages.append(json.dumps({"level": "ERROR", "n": i, "msg": f"failed order {i}"}))
        elif i % 5 == 1:
            messages.append(f"plain text ERROR line {i}")
        else:
            messages.append(json.dumps({"level": "INFO", "n": i}))
    expected = [m for i, m in enumerate(messages) if i in errors]
    assert len(expected) == 137
    return messages, expected


def put_messages(logs, group: str, stream: str, messages: list[str], per_call: int = 100) -> float:
    """PutLogEvents in calls of `per_call`, timestamps rising from now; returns the time the last
    call returned."""
    now = int(time.time() * 1000)
    for k in range(0, len(messages), per_call):
        chunk = messages[k : k + per_call]
        put_events(logs, group, stream, [(now + k + j, m) for j, m in enumerate(chunk)])
    return time.monotonic()


def control_messages(out: Path) -> list[dict]:
    return [r["doc"] for r in received(out) if r["doc"]["messageType"] == "CONTROL_MESSAGE"]


class Env:
    """The module's server (the crash test, last, replaces it with its restart) and the folder
    the functions record into; unpacks as (server, out)."""

    def __init__(self, root: Path) -> None:
        self.project, self.out = make_project(root)
        self.data = root / "data"
        self.server = start_server(self.data, "--project", str(self.project))

    def __iter__(self):
        return iter((self.server, self.out))


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    e = Env(tmp_path_factory.mktemp("subs"))
    yield e
    e.server.stop()


def error_code(excinfo) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


def test_the_api_validates_limits_and_refuses_loops(env) -> None:
    server, _ = env
    logs = logs_client(server.url)
    group = "/app/api-shapes"
    logs.create_log_group(logGroupName=group)
    logs.put_subscription_filter(
        logGroupName=group, filterName="b", filterPattern="", destinationArn=fn_arn("sink")
    )
    logs.put_subscription_filter(
        logGroupName=group, filterName="a", filterPattern="ERROR", destinationArn=fn_arn("sink")
    )
    # updating one of the two by name is allowed (moto gets this wrong)
    logs.put_subscription_filter(
        logGroupName=group, filterName="a", filterPattern="WARN", destinationArn=fn_arn("sink")
    )
    got = logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
    assert [f["filterName"] for f in got] == ["a", "b"]
    assert got[0]["filterPattern"] == "WARN"
    assert got[0]["destinationArn"] == fn_arn("sink")
    assert got[0]["distribution"] == "ByLogStream"
    assert got[0]["logGroupName"] == group
    assert abs(got[0]["creationTime"] - time.time() * 1000) < 60_000
    page = logs.describe_subscription_filters(logGroupName=group, limit=1)
    assert [f["filterName"] for f in page["subscriptionFilters"]] == ["a"]
    rest = logs.describe_subscription_filters(logGroupName=group, nextToken=page["nextToken"])
    assert [f["filterName"] for f in rest["subscriptionFilters"]] == ["b"]

    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(
            logGroupName=group, filterName="c", filterPattern="", destinationArn=fn_arn("sink")
        )
    assert error_code(e) == ("LimitExceededException", "Resource limit exceeded.")

    logs.delete_subscription_filter(logGroupName=group, filterName="b")
    with pytest.raises(ClientError) as e:
        logs.delete_subscription_filter(logGroupName=group, filterName="b")
    assert error_code(e) == (
        "ResourceNotFoundException",
        "The specified subscription filter does not exist.",
    )
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(
            logGroupName=group,
            filterName="bad",
            filterPattern='{ $.level = "ERROR" ',
            destinationArn=fn_arn("sink"),
        )
    assert error_code(e) == ("InvalidParameterException", "Invalid subscription filter pattern")
    with pytest.raises(ClientError) as e:  # changes what is delivered: refused, not ignored
        logs.put_subscription_filter(
            logGroupName=group,
            filterName="a",
            filterPattern="",
            destinationArn=fn_arn("sink"),
            emitSystemFields=["@aws.region"],
        )
    assert (
        error_code(e)[0] == "InvalidParameterException" and "emitSystemFields" in error_code(e)[1]
    )
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(
            logGroupName=group, filterName="x", filterPattern="", destinationArn=fn_arn("nope")
        )
    assert error_code(e)[0] == "InvalidParameterException"
    assert "Could not execute the lambda function" in error_code(e)[1]
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(
            logGroupName="/app/missing",
            filterName="x",
            filterPattern="",
            destinationArn=fn_arn("sink"),
        )
    assert error_code(e)[0] == "ResourceNotFoundException"
    # a function's own group feeding it is refused, naming the cycle
    _ensure_group(logs, "/aws/lambda/sink")
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(
            logGroupName="/aws/lambda/sink",
            filterName="self",
            filterPattern="",
            destinationArn=fn_arn("sink"),
        )
    code, message = error_code(e)
    assert code == "InvalidParameterException"
    assert "/aws/lambda/sink -> sink -> /aws/lambda/sink" in message
    # the project file's filter is listed and cannot be removed through the API
    _ensure_group(logs, "/app/declared")
    declared = logs.describe_subscription_filters(logGroupName="/app/declared")
    assert [f["filterName"] for f in declared["subscriptionFilters"]] == ["declared-errors"]
    with pytest.raises(ClientError) as e:
        logs.delete_subscription_filter(logGroupName="/app/declared", filterName="declared-errors")
    assert error_code(e)[0] == "InvalidOperationException"


def _ensure_group(logs, group: str) -> bool:
    try:
        logs.create_log_group(logGroupName=group)
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    return True


def test_putlogevents_errors_reach_the_function_once_each_within_2s(env) -> None:
    server, out = env
    logs = logs_client(server.url)
    group, stream = "/app/orders", "producer-1"
    before = len(control_messages(out))
    subscribe(logs, group, stream, "errors", ERROR_PATTERN, "sink")
    # AWS sends a CONTROL_MESSAGE when a subscription is created
    wait_for(lambda: len(control_messages(out)) > before, timeout=10, what="control message")
    ctl = control_messages(out)[-1]
    assert ctl["owner"] == "CloudwatchLogs" and ctl["logEvents"][0]["message"].startswith(
        "CWL CONTROL MESSAGE"
    )

    messages, expected = producer_events()
    last_write = put_messages(logs, group, stream, messages)
    wait_for(lambda: len(data_events(out, group)) >= 137, timeout=10, what="137 events")
    took = time.monotonic() - last_write
    assert took < 2.0, f"the last event arrived {took:.2f} s after the last write"

    got = data_events(out, group)
    assert sorted(e["message"] for e in got) == sorted(expected)
    assert len({e["id"] for e in got}) == 137
    batches = [
        r
        for r in received(out)
        if r["doc"]["messageType"] == "DATA_MESSAGE" and r["doc"]["logGroup"] == group
    ]
    for r in batches:
        doc = r["doc"]
        assert doc["logStream"] == stream and doc["subscriptionFilters"] == ["errors"]
        assert doc["owner"] == "000000000000"
        assert 1 <= len(doc["logEvents"]) <= 10_000 and r["payloadBytes"] <= 1_048_576
        assert all(isinstance(e["timestamp"], int) for e in doc["logEvents"])
    # the ids and timestamps are FilterLogEvents' own
    page = logs.filter_log_events(logGroupName=group, filterPattern=ERROR_PATTERN)
    assert {(e["eventId"], e["timestamp"], e["message"]) for e in page["events"]} == {
        (e["id"], e["timestamp"], e["message"]) for e in got
    }

    # the invocations record the trigger as "log group G -> function F"
    def triggers_of_group() -> list[dict]:
        recs = requests.get(
            server.url + "/api/v1/invocations",
            params={"function": "sink", "limit": 1000},
            timeout=10,
        ).json()["invocations"]
        return [r["trigger"] for r in recs if r["trigger"].get("logGroup") == group]

    # a record is written after its handler returns: wait until the records cover every event
    wait_for(
        lambda: sum(t.get("batchSize", 0) for t in triggers_of_group()) >= 137,
        timeout=10,
        what="the invocation records of 137 events",
    )
    triggers = triggers_of_group()
    assert triggers and all(t["type"] == "logs" and t["filterName"] == "errors" for t in triggers)
    assert {t["source"] for t in triggers} == {f"log group {group} -> function sink"}
    assert sum(t.get("batchSize", 0) for t in triggers) == 137
    fns = requests.get(server.url + "/api/v1/functions", timeout=10).json()["functions"]
    sink = next(f for f in fns if f["name"] == "sink")
    assert {"logGroup": group, "filterName": "errors", "filterPattern": ERROR_PATTERN} in sink[
        "logs"
    ]
    time.sleep(0.5)  # nothing more arrives
    assert len(data_events(out, group)) == 137


def test_the_console_shows_the_log_group_as_the_trigger(env, browser) -> None:
    """In Chromium: the Invocations view and the causal trace name a subscription's delivery
    "log group G → function F" (the records of the test above)."""
    from playwright.sync_api import expect

    server, _out = env
    group = "/app/orders"
    recs = requests.get(
        server.url + "/api/v1/invocations", params={"function": "sink", "limit": 1000}, timeout=10
    ).json()["invocations"]
    rid = next(r["requestId"] for r in recs if r["trigger"].get("logGroup") == group)
    label = f"log group {group} \u2192 function sink"
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(server.url + "/#/invocations?function=sink")
        row = page.locator(f'tr.inv[data-request-id="{rid}"]')
        expect(row).to_contain_text(label)
        row.get_by_role("link", name=rid).click()
        expect(page.locator(".trace-head")).to_contain_text(f"via {label}")
    finally:
        page.close()


def test_file_appends_and_function_output_are_delivered_too(env) -> None:
    server, out = env
    logs = logs_client(server.url)
    group, stream = "/app/files", "appended"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    path = server.store.stream_file(group, stream)
    path.write_bytes(b"2026-01-01T00:00:00.000Z ERROR written before the filter\n")
    logs.put_subscription_filter(
        logGroupName=group, filterName="words", filterPattern="ERROR", destinationArn=fn_arn("sink")
    )
    with open(path, "ab") as f:  # a writer that is not logsvc: `>>` on the stream file
        f.write(b"ERROR one\nnothing to see\nthen ERROR two\nERRORS are not the word\n")
    wait_for(lambda: len(data_events(out, group)) >= 2, timeout=10, what="appended errors")
    assert sorted(e["message"] for e in data_events(out, group)) == ["ERROR one", "then ERROR two"]

    # `logsvc run`: a command's stdout and stderr, timestamped into a stream of the group
    _ensure_group(logs, "/app/run")
    logs.put_subscription_filter(
        logGroupName="/app/run",
        filterName="run",
        filterPattern="ERROR",
        destinationArn=fn_arn("sink"),
    )
    code = "import sys; print('ERROR on stdout'); print('ok'); print('ERROR on stderr', file=sys.stderr)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGSVC_")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "logsvc",
            "--data-dir",
            str(server.data_dir),
            "run",
            "--group",
            "/app/run",
            "--",
            sys.executable,
            "-c",
            code,
        ],
        env=env,
        capture_output=True,
        timeout=30,
        check=True,
    )
    wait_for(lambda: len(data_events(out, "/app/run")) >= 2, timeout=10, what="run's lines")
    assert sorted(e["message"] for e in data_events(out, "/app/run")) == [
        "ERROR on stderr",
        "ERROR on stdout",
    ]

    # a simulated function's own lines, through its log group
    _ensure_group(logs, "/aws/lambda/chatty")
    logs.put_subscription_filter(
        logGroupName="/aws/lambda/chatty",
        filterName="chatty-errors",
        filterPattern="ERROR",
        destinationArn=fn_arn("sink"),
    )
    lam = aws_client("lambda", server.url)
    lam.invoke(FunctionName="chatty", Payload=json.dumps({"n": "42"}).encode())
    wait_for(
        lambda: data_events(out, "/aws/lambda/chatty"), timeout=10, what="the function's ERROR line"
    )
    got = data_events(out, "/aws/lambda/chatty")
    assert [e["message"] for e in got] == ["ERROR from chatty 42\n"] or [
        e["message"].rstrip("\n") for e in got
    ] == ["ERROR from chatty 42"]

    # sink already reads chatty's group: chatty reading sink's group would close a loop of two
    _ensure_group(logs, "/aws/lambda/sink")
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(
            logGroupName="/aws/lambda/sink",
            filterName="back",
            filterPattern="ERROR",
            destinationArn=fn_arn("chatty"),
        )
    assert error_code(e)[0] == "InvalidParameterException"
    assert (
        "/aws/lambda/sink -> chatty -> /aws/lambda/chatty -> sink -> /aws/lambda/sink"
        in (error_code(e)[1])
    )

    # the project file's subscription delivers too
    _ensure_group(logs, "/app/declared")
    logs.create_log_stream(logGroupName="/app/declared", logStreamName="s")
    put_messages(logs, "/app/declared", "s", ["ERROR declared", "fine"])
    wait_for(lambda: data_events(out, "/app/declared"), timeout=10, what="declared delivery")
    assert [e["message"] for e in data_events(out, "/app/declared")] == ["ERROR declared"]


def test_a_failing_function_gets_the_batch_again_by_lambdas_async_retry(env) -> None:
    server, out = env
    logs = logs_client(server.url)
    group = "/app/retry"
    subscribe(logs, group, "s", "all", "", "flaky")
    wait_for(lambda: (out / "flaky-seen").exists(), timeout=10, what="the control message")
    put_messages(logs, group, "s", ["one", "two"])

    def data() -> list[dict]:
        return [
            r["doc"]
            for r in received(out, "flaky.jsonl")
            if r["doc"]["messageType"] == "DATA_MESSAGE"
        ]

    wait_for(lambda: sum(len(d["logEvents"]) for d in data()) >= 2, timeout=10, what="retry")
    assert sorted(e["message"] for d in data() for e in d["logEvents"]) == ["one", "two"]

    def attempts() -> dict[str, list]:
        recs = requests.get(
            server.url + "/api/v1/invocations",
            params={"function": "flaky", "limit": 1000},
            timeout=10,
        ).json()["invocations"]
        by_id: dict[str, list] = {}
        for r in recs:
            if r["trigger"].get("logGroup") == group and "logStream" in r["trigger"]:
                by_id.setdefault(r["requestId"], []).append(
                    (r["attempt"], r["status"], r["invocationType"])
                )
        return by_id

    # The record of an attempt is written after its handler returns: wait for both records.
    wait_for(lambda: any(len(v) >= 2 for v in attempts().values()), timeout=10, what="two records")
    by_id = attempts()
    assert by_id and all(
        sorted(v) == [(1, "error", "Event"), (2, "success", "Event")] for v in by_id.values()
    ), by_id


def test_batches_keep_to_10000_events_and_1_mib(env) -> None:
    server, out = env
    logs = logs_client(server.url)
    group = "/app/big"
    subscribe(logs, group, "s", "all", "", "sink")
    big = ["x" * 600_000 + f" big {i}" for i in range(3)]  # two do not fit in 1 MiB
    small = [f"event {i}" for i in range(12_000)]
    put_messages(logs, group, "s", small, per_call=10_000)
    for m in big:
        put_messages(logs, group, "s", [m])
    wait_for(lambda: len(data_events(out, group)) >= 12_003, timeout=15, what="12,003 events")
    batches = [
        r
        for r in received(out)
        if r["doc"]["messageType"] == "DATA_MESSAGE" and r["doc"]["logGroup"] == group
    ]
    sizes = [sum(len(e["message"].encode()) + 26 for e in r["doc"]["logEvents"]) for r in batches]
    assert all(len(r["doc"]["logEvents"]) <= 10_000 for r in batches)
    assert all(size <= 1_048_576 for size in sizes) and len(batches) >= 4
    assert all(r["payloadBytes"] <= 1_048_576 for r in batches)
    got = [e["message"] for e in data_events(out, group)]
    assert got == small + big  # in the stream's order, once each


def test_kill_9_mid_delivery_then_restart_delivers_exactly_once(env: Env) -> None:
    """Last in the module: it kills the module's server and leaves the restarted one."""
    out = env.out
    logs = logs_client(env.server.url)
    group, stream = "/app/crash", "producer"
    before = len(control_messages(out))
    subscribe(logs, group, stream, "errors", ERROR_PATTERN, "sink")
    wait_for(lambda: len(control_messages(out)) > before, timeout=10, what="control message")
    messages, expected = producer_events()
    first = sum(1 for m in messages[:500] if m in expected)
    put_messages(logs, group, stream, messages[:500])
    wait_for(lambda: len(data_events(out, group)) >= first, timeout=10, what="first half")
    (out / "slow").write_text("")
    try:
        put_messages(logs, group, stream, messages[500:])
        # an invocation has begun and sleeps before recording: kill -9 the server now
        wait_for(lambda: (out / "started").exists(), timeout=10, what="an invocation in flight")
        env.server.stop(signal.SIGKILL)
        # its container goes with it: the batch in flight is never recorded by the old run
        time.sleep(0.8)  # longer than the handler's sleep
        assert len(data_events(out, group)) == first
        controls = len(control_messages(out))
    finally:
        env.server.stop(signal.SIGKILL)
        (out / "slow").unlink()
    env.server = start_server(env.data, "--project", str(env.project))
    wait_for(lambda: len(data_events(out, group)) >= 137, timeout=15, what="all 137")
    time.sleep(0.5)
    got = data_events(out, group)
    assert len(got) == 137, "an event was delivered twice"
    assert sorted(e["message"] for e in got) == sorted(expected)
    assert len({e["id"] for e in got}) == 137
    assert len(control_messages(out)) == controls  # not sent again for known filters
