"""CloudWatch Logs API against a real `logsvc serve`, through unmodified boto3 and raw HTTP.

One server per module (operations use their own group names), so the whole file runs in seconds.
The error shape `{"__type", "message"}` and AWS's recorded texts are pinned here.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import Server, start_server, wait_for

TARGET = "Logs_20140328."


@pytest.fixture(scope="module")
def cw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("cw") / "data"
    data.mkdir()
    s = start_server(data)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def logs(cw: Server):
    return boto3.client(
        "logs",
        endpoint_url=cw.url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def unique(prefix: str = "/test/") -> str:
    return prefix + uuid.uuid4().hex[:10]


def now_ms() -> int:
    return int(time.time() * 1000)


def make_stream(logs, lines: list[str] | None = None, t0: int | None = None) -> tuple[str, str]:
    group, stream = unique(), "s-" + uuid.uuid4().hex[:6]
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    if lines:
        t0 = now_ms() - len(lines) if t0 is None else t0
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": t0 + i, "message": m} for i, m in enumerate(lines)],
        )
    return group, stream


def error_of(call, **kw) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        call(**kw)
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def raw(
    cw: Server, op: str | None, body: bytes | str | dict, headers: dict | None = None
) -> requests.Response:
    h = {"Content-Type": "application/x-amz-json-1.1"}
    if op is not None:
        h["X-Amz-Target"] = TARGET + op
    h.update(headers or {})
    data = json.dumps(body) if isinstance(body, dict) else body
    return requests.post(cw.url + "/", data=data, headers=h, timeout=10)


def all_events(logs, group: str, **kw) -> list[dict]:
    out = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, **kw):
        out.extend(page["events"])
    return out


# ---- wire protocol and the error shape ------------------------------------------------------------


def test_error_shape_is_pinned(cw: Server) -> None:
    r = raw(cw, "DeleteLogGroup", {"logGroupName": "/no/such/group"})
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert r.headers["x-amzn-RequestId"]
    assert r.json() == {
        "__type": "ResourceNotFoundException",
        "message": "The specified log group does not exist.",
    }


def test_unsigned_signed_and_session_token_requests_are_accepted(cw: Server) -> None:
    group = unique()
    assert (
        raw(cw, "CreateLogGroup", {"logGroupName": group}).status_code == 200
    )  # no Authorization at all
    signed = boto3.client(
        "logs",
        endpoint_url=cw.url,
        region_name="eu-west-1",
        aws_access_key_id="AKID",
        aws_secret_access_key="s",
        aws_session_token="tok",
    )
    arn = signed.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    assert arn.startswith("arn:aws:logs:eu-west-1:")  # region from the SigV4 credential scope


def test_unknown_operation_is_named(cw: Server) -> None:
    r = raw(cw, "FrobnicateLogs", {})
    assert r.status_code == 400
    body = r.json()
    assert body["__type"] == "UnknownOperationException"
    assert "'FrobnicateLogs'" in body["message"]
    r = raw(cw, None, {}, {"X-Amz-Target": "DynamoDB_20120810.ListTables"})
    assert r.json()["__type"] == "UnknownOperationException"


@pytest.mark.parametrize(
    "body, code",
    [
        (b"{not json", "SerializationException"),
        (b"[1, 2]", "SerializationException"),
        ({"logGroupName": 7}, "SerializationException"),
        ({"logGroupName": "/a", "limit": "ten"}, "SerializationException"),
    ],
)
def test_malformed_bodies_are_serialization_errors(cw: Server, body, code: str) -> None:
    r = raw(
        cw,
        "DescribeLogStreams" if isinstance(body, dict) and "limit" in body else "CreateLogGroup",
        body,
    )
    assert r.status_code == 400
    assert r.json()["__type"] == code


def test_oversized_body_is_answered_in_the_cloudwatch_shape(cw: Server) -> None:
    r = raw(cw, "PutLogEvents", b'{"logGroupName": "' + b"x" * (9 * 1024 * 1024) + b'"}')
    assert r.status_code == 400
    assert r.json()["__type"] == "InvalidParameterException"


def test_get_on_root_is_still_the_console(cw: Server) -> None:
    assert requests.get(cw.url + "/", timeout=5).status_code == 200


# ---- validation: AWS's names and texts, never a 500 -----------------------------------------------


def test_validation_texts(logs) -> None:
    group, stream = make_stream(logs)
    cases = [
        (
            logs.filter_log_events,
            {"logGroupName": group, "limit": 10001},
            "InvalidParameterException",
            "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
            "Member must have value less than or equal to 10000",
        ),
        (
            logs.describe_log_groups,
            {"limit": 51},
            "InvalidParameterException",
            "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: "
            "Member must have value less than or equal to 50",
        ),
        (
            logs.create_log_group,
            {"logGroupName": "x" * 513},
            "InvalidParameterException",
            "Invalid LogGroup or LogStream, both must have length less than or equal to 512.",
        ),
        (
            logs.create_log_group,
            {"logGroupName": "bad name!"},
            "InvalidParameterException",
            "1 validation error detected: Value 'bad name!' at 'logGroupName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
        ),
        (
            logs.describe_log_groups,
            {"logGroupNamePrefix": "/a", "logGroupNamePattern": "a"},
            "InvalidParameterException",
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        ),
        (
            logs.describe_log_streams,
            {"logGroupName": group, "logGroupIdentifier": group},
            "ValidationException",
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        ),
        (
            logs.describe_log_streams,
            {"logGroupName": group, "orderBy": "Size"},
            "InvalidParameterException",
            "1 validation error detected: Value 'Size' at 'orderBy' failed to satisfy constraint: "
            "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
        ),
        (
            logs.describe_log_streams,
            {"logGroupName": group, "orderBy": "LastEventTime", "logStreamNamePrefix": "s"},
            "InvalidParameterException",
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ),
        (
            logs.get_log_events,
            {"logGroupName": group, "logStreamName": stream, "nextToken": "f/123"},
            "InvalidParameterException",
            "The specified nextToken is invalid.",
        ),
        (
            logs.filter_log_events,
            {"logGroupName": group, "nextToken": "garbage"},
            "InvalidParameterException",
            "The specified nextToken is invalid.",
        ),
        (
            logs.describe_log_groups,
            {"nextToken": "garbage!"},
            "InvalidParameterException",
            "The specified nextToken is invalid.",
        ),
        (
            logs.create_log_group,
            {"logGroupName": group},
            "ResourceAlreadyExistsException",
            "The specified log group already exists",
        ),
        (
            logs.create_log_stream,
            {"logGroupName": group, "logStreamName": stream},
            "ResourceAlreadyExistsException",
            "The specified log stream already exists",
        ),
        (
            logs.create_log_stream,
            {"logGroupName": "/nope", "logStreamName": "s"},
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        ),
        (
            logs.get_log_events,
            {"logGroupName": group, "logStreamName": "nope"},
            "ResourceNotFoundException",
            "The specified log stream does not exist.",
        ),
        (
            logs.delete_log_stream,
            {"logGroupName": group, "logStreamName": "nope"},
            "ResourceNotFoundException",
            "The specified log stream does not exist.",
        ),
        (
            logs.filter_log_events,
            {"logGroupName": "/nope"},
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        ),
        (
            logs.put_retention_policy,
            {"logGroupName": group, "retentionInDays": 2},
            "InvalidParameterException",
            "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy constraint: Member must satisfy "
            "enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, "
            "3288, 3653]",
        ),
        (
            logs.filter_log_events,
            {"logGroupName": group, "logStreamNames": ["a"], "logStreamNamePrefix": "a"},
            "InvalidParameterException",
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
        ),
    ]
    for call, kw, code, message in cases:
        assert error_of(call, **kw) == (code, message), kw


def test_filter_pattern_error_points_at_the_position(logs) -> None:
    group, _ = make_stream(logs, ["x"])
    code, message = error_of(
        logs.filter_log_events, logGroupName=group, filterPattern='{ $.level = "ERROR"'
    )
    assert code == "InvalidParameterException"
    assert "column" in message


def test_two_validation_errors_are_counted(cw: Server) -> None:
    r = raw(cw, "DescribeLogGroups", {"limit": 99, "logGroupNamePrefix": "x" * 600})
    body = r.json()
    assert body["__type"] == "InvalidParameterException"
    assert body["message"].startswith("2 validation errors detected: ")


# ---- groups, streams, retention, tags -------------------------------------------------------------


def test_describe_log_groups_prefix_pattern_and_paging(logs) -> None:
    base = unique("/paging/")
    made = [f"{base}/g{i:02d}" for i in range(7)]
    for g in made:
        logs.create_log_group(logGroupName=g)
    pages = list(
        logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=base, PaginationConfig={"PageSize": 3}
        )
    )
    assert [len(p["logGroups"]) for p in pages] == [3, 3, 1]
    got = [g["logGroupName"] for p in pages for g in p["logGroups"]]
    assert got == sorted(made)
    one = logs.describe_log_groups(logGroupNamePattern=base[-10:] + "/g03")["logGroups"]
    assert [g["logGroupName"] for g in one] == [f"{base}/g03"]
    g = one[0]
    assert g["arn"].endswith(f"log-group:{base}/g03:*") and g["logGroupArn"] == g["arn"][:-2]
    assert g["logGroupClass"] == "STANDARD" and "retentionInDays" not in g
    by_id = logs.describe_log_groups(logGroupIdentifiers=[g["logGroupArn"], made[5]])["logGroups"]
    assert [x["logGroupName"] for x in by_id] == [made[3], made[5]]


def test_retention_policy_round_trip(logs) -> None:
    group, _ = make_stream(logs)
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    assert (
        logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 7
    )
    logs.delete_retention_policy(logGroupName=group)
    assert (
        "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    )
    assert (
        error_of(logs.put_retention_policy, logGroupName="/nope", retentionInDays=1)[0]
        == "ResourceNotFoundException"
    )


def test_tags_new_and_legacy(logs) -> None:
    group = unique()
    logs.create_log_group(logGroupName=group, tags={"team": "core"})
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    logs.tag_resource(resourceArn=arn, tags={"env": "dev", "team": "web"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "web", "env": "dev"}
    logs.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"env": "dev"}
    logs.tag_log_group(logGroupName=group, tags={"a": "1"})
    logs.untag_log_group(logGroupName=group, tags=["env"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1"}
    code, _ = error_of(logs.tag_resource, resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    assert code == "TooManyTagsException"
    code, _ = error_of(logs.list_tags_for_resource, resourceArn=arn.replace(group, "/missing"))
    assert code == "ResourceNotFoundException"
    code, _ = error_of(logs.tag_resource, resourceArn=arn, tags={"bad\u0001key": "v"})
    assert code == "InvalidParameterException"


def test_streams_describe_order_and_paging(logs) -> None:
    group = unique()
    logs.create_log_group(logGroupName=group)
    t = now_ms() - 10_000
    for i, name in enumerate(["b", "a", "c", "d"]):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=name,
            logEvents=[{"timestamp": t + 1000 * i, "message": name}],
        )
    logs.create_log_stream(logGroupName=group, logStreamName="empty")

    def names(**kw) -> list[str]:
        pages = logs.get_paginator("describe_log_streams").paginate(
            logGroupName=group, PaginationConfig={"PageSize": 2}, **kw
        )
        return [s["logStreamName"] for p in pages for s in p["logStreams"]]

    assert names() == ["a", "b", "c", "d", "empty"]
    assert names(descending=True) == ["empty", "d", "c", "b", "a"]
    assert names(logStreamNamePrefix="c") == ["c"]
    wait_for(
        lambda: (
            "lastEventTimestamp"
            in logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="d")["logStreams"][
                0
            ]
        )
    )
    assert names(orderBy="LastEventTime", descending=True)[:4] == ["d", "c", "a", "b"]
    empty = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="empty")[
        "logStreams"
    ][0]
    assert set(empty) == {"logStreamName", "creationTime", "arn", "storedBytes"}
    full = logs.describe_log_streams(logGroupIdentifier=group, logStreamNamePrefix="a")[
        "logStreams"
    ][0]
    assert full["firstEventTimestamp"] == t + 1000 and full["lastEventTimestamp"] == t + 1000
    assert full["arn"].endswith(f":log-group:{group}:log-stream:a")


def test_delete_stream_and_group(logs) -> None:
    group, stream = make_stream(logs, ["one"])
    logs.delete_log_stream(logGroupName=group, logStreamName=stream)
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []
    logs.delete_log_group(logGroupName=group)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    assert error_of(logs.delete_log_group, logGroupName=group)[0] == "ResourceNotFoundException"


# ---- PutLogEvents ---------------------------------------------------------------------------------


def test_put_log_events_limits(cw: Server, logs) -> None:
    group, stream = make_stream(logs)
    t = now_ms()

    def put(events: list[dict]) -> dict:
        return logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    code, msg = error_of(put, events=[{"timestamp": t, "message": "x"}] * 10_001)
    assert (code, msg) == (
        "InvalidParameterException",
        "1 validation error detected: Value at 'logEvents' failed to satisfy "
        "constraint: Member must have length less than or equal to 10000",
    )
    # 1,048,576 bytes counting 26 per event: exactly at the limit is fine, one byte more is not
    n = 4
    body = (1_048_576 - 26 * n) // n
    ok = [{"timestamp": t, "message": "a" * body} for _ in range(n)]
    assert "rejectedLogEventsInfo" not in put(ok)
    ok[0] = {"timestamp": t, "message": "a" * (body + 1)}
    assert error_of(put, events=ok) == (
        "InvalidParameterException",
        "Upload too large: 1048577 bytes exceeds limit of 1048576",
    )
    code, msg = error_of(
        put, events=[{"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "a"}]
    )
    assert msg == "Log events in a single PutLogEvents request must be in chronological order."
    code, msg = error_of(
        put,
        events=[
            {"timestamp": t - 25 * 3_600_000, "message": "a"},
            {"timestamp": t, "message": "b"},
        ],
    )
    assert (
        msg
        == "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
    )
    # botocore refuses an empty message client-side; a raw client gets Coral's text
    r = raw(
        cw,
        "PutLogEvents",
        {
            "logGroupName": group,
            "logStreamName": stream,
            "logEvents": [{"timestamp": t, "message": ""}],
        },
    )
    assert r.json() == {
        "__type": "InvalidParameterException",
        "message": "1 validation error detected: Value '' at "
        "'logEvents.1.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1",
    }


def test_put_log_events_rejects_too_old_and_too_new_individually(logs) -> None:
    group, stream = make_stream(logs)
    t = now_ms()
    day = 86_400_000
    r = logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": t - 15 * day, "message": "too old 1"},
            {"timestamp": t - 15 * day + 1, "message": "too old 2"},
            {"timestamp": t - 1000, "message": "kept 1"},
            {"timestamp": t, "message": "kept 2"},
            {"timestamp": t + 3 * 3_600_000, "message": "too new"},
        ],
        sequenceToken="49542672486831074009579604567656788214806863282469607346",  # accepted, ignored
    )
    assert r["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 2,
        "tooNewLogEventStartIndex": 4,
    }
    assert len(r["nextSequenceToken"]) == 56
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)[
        "events"
    ]
    assert [e["message"] for e in got] == ["kept 1", "kept 2"]
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    r = logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": t - 2 * day, "message": "x"}],
    )
    assert r["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}


def test_put_log_events_unknown_stream(logs) -> None:
    group, _ = make_stream(logs)
    ev = [{"timestamp": now_ms(), "message": "x"}]
    assert error_of(
        logs.put_log_events, logGroupName=group, logStreamName="nope", logEvents=ev
    ) == ("ResourceNotFoundException", "The specified log stream does not exist.")
    assert error_of(
        logs.put_log_events, logGroupName="/nope", logStreamName="nope", logEvents=ev
    ) == ("ResourceNotFoundException", "The specified log group does not exist.")


def test_messages_round_trip_unicode_and_newlines(logs) -> None:
    msgs = [
        "caf\u00e9 \u2603 \U0001f600",
        'json {"a": [1, 2]}',
        "tab\tseparated",
        "line one\nline two",
    ]
    group, stream = make_stream(logs, msgs)
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)[
        "events"
    ]
    assert [e["message"] for e in got][:3] == msgs[:3]
    assert got[3]["message"].replace("\r", "\n") == msgs[3]


# ---- GetLogEvents ---------------------------------------------------------------------------------


def test_get_log_events_tokens(logs) -> None:
    t0 = now_ms() - 100_000
    group, stream = make_stream(logs, [f"m{i}" for i in range(25)], t0=t0)
    # forward from the head, until the token comes back unchanged
    token, seen = None, []
    kw = {"logGroupName": group, "logStreamName": stream, "limit": 10, "startFromHead": True}
    for _ in range(10):
        r = logs.get_log_events(**kw, **({"nextToken": token} if token else {}))
        seen += [e["message"] for e in r["events"]]
        if r["nextForwardToken"] == token:
            break
        token = r["nextForwardToken"]
    assert seen == [f"m{i}" for i in range(25)]
    assert token.startswith("f/") and len(token) == 58
    # new events appear behind a stable forward token
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": t0 + 50, "message": "late"}],
    )
    r = logs.get_log_events(**kw, nextToken=token)
    assert [e["message"] for e in r["events"]] == ["late"]
    # default: newest page first, then backwards
    r = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=10)
    assert [e["message"] for e in r["events"]] == [
        "m16",
        "m17",
        "m18",
        "m19",
        "m20",
        "m21",
        "m22",
        "m23",
        "m24",
        "late",
    ]
    back = logs.get_log_events(
        logGroupName=group, logStreamName=stream, limit=10, nextToken=r["nextBackwardToken"]
    )
    assert [e["message"] for e in back["events"]] == [f"m{i}" for i in range(6, 16)]
    fwd = logs.get_log_events(
        logGroupName=group, logStreamName=stream, limit=3, nextToken=back["nextForwardToken"]
    )
    assert [e["message"] for e in fwd["events"]] == ["m16", "m17", "m18"]


def test_get_log_events_time_range_end_exclusive(logs) -> None:
    t0 = now_ms() - 100_000
    group, stream = make_stream(logs, [f"m{i}" for i in range(10)], t0=t0)
    r = logs.get_log_events(
        logGroupName=group,
        logStreamName=stream,
        startTime=t0 + 2,
        endTime=t0 + 5,
        startFromHead=True,
    )
    assert [e["message"] for e in r["events"]] == ["m2", "m3", "m4"]
    r = logs.get_log_events(
        logGroupIdentifier=group, logStreamName=stream, startTime=t0 + 2, endTime=t0 + 5
    )
    assert [e["message"] for e in r["events"]] == ["m2", "m3", "m4"]


def test_get_log_events_empty_stream_tokens_then_poll(logs) -> None:
    group, stream = make_stream(logs)
    r = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    assert r["events"] == []
    token = r["nextForwardToken"]
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now_ms(), "message": "first"}],
    )
    r = logs.get_log_events(
        logGroupName=group, logStreamName=stream, startFromHead=True, nextToken=token
    )
    assert [e["message"] for e in r["events"]] == ["first"]


# ---- FilterLogEvents ------------------------------------------------------------------------------


def test_filter_log_events_pages_never_lose_events_sharing_a_millisecond(logs) -> None:
    group = unique()
    logs.create_log_group(logGroupName=group)
    t = now_ms() - 5000
    for s in ("a", "b", "c"):
        logs.create_log_stream(logGroupName=group, logStreamName=s)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=s,
            logEvents=[{"timestamp": t + (i // 10), "message": f"{s}{i}"} for i in range(40)],
        )
    pages = list(
        logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, PaginationConfig={"PageSize": 7}
        )
    )
    events = [e for p in pages for e in p["events"]]
    assert len(events) == 120
    assert len({e["eventId"] for e in events}) == 120
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert "nextToken" not in pages[-1]  # the end: no token, so `aws logs tail --follow` sleeps
    assert all(p["searchedLogStreams"] == [] for p in pages)


def test_filter_log_events_streams_prefix_time_and_pattern(logs) -> None:
    group = unique()
    logs.create_log_group(logGroupName=group)
    t = now_ms() - 5000
    for s in ("web-1", "web-2", "worker-1"):
        logs.create_log_stream(logGroupName=group, logStreamName=s)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=s,
            logEvents=[
                {"timestamp": t + i, "message": f"{'ERROR' if i % 2 else 'INFO'} {s} n={i}"}
                for i in range(6)
            ],
        )

    def msgs(**kw) -> list[str]:
        return [e["message"] for e in all_events(logs, group, **kw)]

    assert len(msgs()) == 18
    assert {m.split()[1] for m in msgs(logStreamNamePrefix="web-")} == {"web-1", "web-2"}
    assert {m.split()[1] for m in msgs(logStreamNames=["worker-1"])} == {"worker-1"}
    assert msgs(logStreamNames=["web-1"], startTime=t + 2, endTime=t + 4) == [
        "INFO web-1 n=2",
        "ERROR web-1 n=3",
        "INFO web-1 n=4",
    ]
    assert len(msgs(filterPattern="ERROR")) == 9
    assert msgs(filterPattern="ERROR -worker", logStreamNames=["worker-1"]) == []
    assert len(msgs(filterPattern="?web ?worker")) == 18


def test_filter_log_events_sees_hand_written_files_and_rest_sees_put_events(
    cw: Server, logs
) -> None:
    group = unique()
    store = cw.store
    path = store.ensure_stream(group, "by-hand")
    with open(path, "a", encoding="utf-8") as f:
        f.write("2026-01-01T00:00:00.000Z written by hand\n")
    logs.create_log_stream(logGroupName=group, logStreamName="by-api")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="by-api",
        logEvents=[{"timestamp": now_ms(), "message": "via PutLogEvents"}],
    )
    msgs = [e["message"] for e in all_events(logs, group)]
    assert msgs == ["written by hand", "via PutLogEvents"]
    rest = cw.json("/api/v1/events", group=group, startFromHead="true")
    assert [e["message"] for e in rest["events"]] == msgs
    assert "via PutLogEvents" in (Path(store.stream_file(group, "by-api")).read_text())


def test_filter_log_events_newest_first_needs_recent_start(cw: Server, logs) -> None:
    # startFromHead is newer than this botocore's model: speak the wire protocol directly
    group, _ = make_stream(logs, ["a", "b"])
    r = raw(cw, "FilterLogEvents", {"logGroupName": group, "startFromHead": False})
    assert r.json()["__type"] == "InvalidParameterException"
    body = {
        "logGroupName": group,
        "startFromHead": False,
        "startTime": 1_704_067_200_000,
        "limit": 1,
    }
    r = raw(cw, "FilterLogEvents", body).json()
    assert [e["message"] for e in r["events"]] == ["b"]
    r = raw(cw, "FilterLogEvents", {**body, "nextToken": r["nextToken"]}).json()
    assert [e["message"] for e in r["events"]] == ["a"]
    assert "nextToken" not in r


def test_json_filter_over_mixed_group_returns_exactly_errors(logs) -> None:
    lines = [
        json.dumps({"level": "ERROR", "msg": "boom", "n": 1}),
        json.dumps({"level": "INFO", "msg": "ok"}),
        "ERROR plain text is not JSON",
        json.dumps({"level": "ERROR", "msg": "again", "n": 2}),
        json.dumps({"level": "error"}),
        "[ERROR] 400 BAD REQUEST",
    ]
    group, _ = make_stream(logs, lines)
    got = [e["message"] for e in all_events(logs, group, filterPattern='{ $.level = "ERROR" }')]
    assert got == [lines[0], lines[3]]


def test_survives_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    s = start_server(data)
    try:
        c = boto3.client("logs", endpoint_url=s.url, region_name="us-east-1")
        c.create_log_group(logGroupName="/restart")
        c.create_log_stream(logGroupName="/restart", logStreamName="s")
        c.put_log_events(
            logGroupName="/restart",
            logStreamName="s",
            logEvents=[{"timestamp": now_ms(), "message": "persisted"}],
        )
        c.put_retention_policy(logGroupName="/restart", retentionInDays=30)
    finally:
        s.stop()
    s = start_server(data)
    try:
        c = boto3.client("logs", endpoint_url=s.url, region_name="us-east-1")
        assert c.describe_log_groups()["logGroups"][0]["retentionInDays"] == 30
        got = c.get_log_events(logGroupName="/restart", logStreamName="s")["events"]
        assert [e["message"] for e in got] == ["persisted"]
    finally:
        s.stop()


def test_sigv4_is_verified_when_keys_are_configured(tmp_path) -> None:
    import boto3
    import botocore
    from botocore.config import Config

    from tests.conftest import start_server

    data = tmp_path / "data"
    data.mkdir()
    s = start_server(
        data,
        env={"LOGSVC_AWS_ACCESS_KEY_ID": "AKIDLOCAL", "LOGSVC_AWS_SECRET_ACCESS_KEY": "s3cr3t"},
    )
    try:

        def client(key: str, secret: str):
            return boto3.client(
                "logs",
                endpoint_url=s.url,
                region_name="us-east-1",
                aws_access_key_id=key,
                aws_secret_access_key=secret,
                config=Config(retries={"max_attempts": 1}),
            )

        client("AKIDLOCAL", "s3cr3t").create_log_group(logGroupName="signed")
        for key, secret, code in [
            ("AKIDLOCAL", "wrong", "InvalidSignatureException"),
            ("OTHER", "s3cr3t", "UnrecognizedClientException"),
        ]:
            with pytest.raises(botocore.exceptions.ClientError) as e:
                client(key, secret).describe_log_groups()
            assert e.value.response["Error"]["Code"] == code
        assert [g.name for g in s.store.list_groups()] == ["signed"]
    finally:
        s.stop()
