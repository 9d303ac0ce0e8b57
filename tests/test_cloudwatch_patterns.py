"""Every documented filter-pattern example (reference §3 acceptance vectors), end to end through
FilterLogEvents on a real server with boto3. The pure module's own tests live in test_filterpattern.py.

Each row names the messages that must match and the ones that must not; other messages in the
group are left out of the assertion (the documentation does not say).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server, start_server

U = {
    "U1": "[ERROR 400] BAD REQUEST",
    "U2": "[ERROR 401] UNAUTHORIZED REQUEST",
    "U3": "[ERROR 419] MISSING ARGUMENTS",
    "U4": "[ERROR 420] INVALID ARGUMENTS",
    "U5": "[ERROR 500] INTERNAL SERVER ERROR",
    "U6": "[SUCCESS 200] AUTHORIZED REQUEST",
    "U7": "[INFO] REQUEST FAILED",
    "U8": "[WARN] UNAUTHORIZED REQUEST",
    "U9": "[ERROR] 400 BAD REQUEST",
}
R = {
    "hat": "hat x",
    "cat": "cat x",
    "that": "that",
    "color": "color",
    "colour": "colour",
    "colr": "colr",
    "abc": "abc",
    "abbc": "abbc",
    "ac": "ac",
    "a:b": "a:b",
    "ab": "ab",
    "ip": "10.10.0.1",
    "notip": "10010,051",
}
J = {
    "J1": json.dumps(
        {
            "eventType": "UpdateTrail",
            "sourceIPAddress": "111.111.111.111",
            "arrayKey": ["value", "another value"],
            "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
            "SomeObject": None,
            "cluster.name": "c",
        },
        separators=(",", ":"),
    ),
    "J2": json.dumps(
        {
            "user": {"id": 1, "email": "John.Stiles@example.com"},
            "users": [
                {"id": 2, "email": "John.Doe@example.com"},
                {"id": 3, "email": "Jane.Doe@example.com"},
            ],
            "actions": ["GET", "PUT", "DELETE"],
            "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
        },
        separators=(",", ":"),
    ),
    "latency": '{"latency":50}',
    "number": '{"number":[1000]}',
    "flag": '{"flag":true}',
    "text": "hello world",
}
D = {
    "D1": '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534',
    "L1": "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200",
    "L2": "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310",
    "L3": "WARNING 09/25/2014 12:00:02 Invalid user request",
    "L4": "ERROR 09/25/2014 12:00:02 Failed to process request",
}
GROUPS = {"/fp/unstructured": U, "/fp/regex": R, "/fp/json": J, "/fp/delimited": D}

# (group, pattern, must match, must not match)
CASES = [
    ("/fp/unstructured", "ERROR", "U1 U2 U3 U4 U5", "U6 U7"),
    ("/fp/unstructured", "ERROR ARGUMENTS", "U3 U4", "U1 U2"),
    ("/fp/unstructured", "?ERROR ?ARGUMENTS", "U1 U2 U3 U4", "U6 U7"),
    ("/fp/unstructured", "?ERROR ?ARGUMENTS REQUEST", "U7 U8 U9", "U3 U4"),
    ("/fp/unstructured", '"INTERNAL SERVER ERROR"', "U5", "U1"),
    ("/fp/unstructured", "ERROR -ARGUMENTS", "U1 U2", "U3 U4"),
    ("/fp/unstructured", '" "', " ".join(U), ""),
    ("/fp/unstructured", "", " ".join(U), ""),
    ("/fp/unstructured", "error", "", "U1"),
    ("/fp/unstructured", "%AUTHORIZED%", "U2 U6", "U1"),
    ("/fp/regex", "%^[hc]at%", "hat cat", "that"),
    ("/fp/regex", "%colou?r%", "color colour", "colr"),
    ("/fp/regex", "%ab+c%", "abc abbc", "ac"),
    ("/fp/regex", r"%\x3A%", "a:b", "ab"),
    ("/fp/regex", r"%10\.10\.0\.1%", "ip", "notip"),
    ("/fp/json", '{ $.eventType = "UpdateTrail" }', "J1", ""),
    ("/fp/json", '{ $.eventType = "DeleteTrail" }', "", "J1"),
    ("/fp/json", "{ $.sourceIPAddress != 123.123.* }", "J1", ""),
    ("/fp/json", '{ $.arrayKey[0] = "value" }', "J1", ""),
    ("/fp/json", "{ $.objectList[1].id = 2 }", "J1", ""),
    ("/fp/json", "{ $.eventType = %Trail% }", "J1", ""),
    ("/fp/json", "{ $.arrayKey[*] = %val.{2}% }", "J1", ""),
    ("/fp/json", r"{ $.* = %111\.111\.111\.1[0-9]{1,2}% }", "J1", ""),
    ("/fp/json", "{ $.['cluster.name'] = \"c\" }", "J1", ""),
    ("/fp/json", "{ $.SomeObject IS NULL }", "J1", ""),
    ("/fp/json", "{ $.SomeOtherObject NOT EXISTS }", "J1", ""),
    ("/fp/json", "{ $.SomeObject NOT EXISTS }", "", "J1"),
    ("/fp/json", '{ $.arrayKey = "value" }', "", "J1"),
    ("/fp/json", '{ $.objectList[0] = "a" }', "", "J1"),
    ("/fp/json", '{ $.eventType = "*" && $.sourceIPAddress != 123.123.* }', "J1", ""),
    ("/fp/json", '{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', "J2", ""),
    (
        "/fp/json",
        '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch" && $.actions[2] = "nonmatch" }',
        "J2",
        "",
    ),
    (
        "/fp/json",
        '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch") && $.actions[2] = "nonmatch" }',
        "",
        "J2",
    ),
    (
        "/fp/json",
        '{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }',
        "",
        "J2",
    ),
    ("/fp/json", "{ $.latency = * }", "latency", ""),
    ("/fp/json", "{ $.latency < 50 }", "", "latency"),
    ("/fp/json", "{ $.latency <= 50 }", "latency", ""),
    ("/fp/json", "{ $.number[0] = 1e+3 }", "number", ""),
    ("/fp/json", "{ $.flag IS TRUE }", "flag", ""),
    ("/fp/json", "{ $.flag IS FALSE }", "", "flag"),
    ("/fp/json", '{ $.eventType = "UpdateTrail" }', "", "text"),
    (
        "/fp/delimited",
        "[ip, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
        "D1",
        "",
    ),
    (
        "/fp/delimited",
        r"[ip=%127\.0\.0\.[1-9]%, user, username, timestamp, request =*.html*, status_code = 4*, bytes]",
        "D1",
        "",
    ),
    ("/fp/delimited", "[..., request =*.html*, status_code = 4*, bytes]", "D1", ""),
    (
        "/fp/delimited",
        "[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]",
        "D1",
        "",
    ),
    (
        "/fp/delimited",
        "[ip, server, username, timestamp, request, status_code, bytes > 1000]",
        "D1",
        "",
    ),
    (
        "/fp/delimited",
        "[ip, server, username, timestamp, request, status_code, bytes > 2000]",
        "",
        "D1",
    ),
    ("/fp/delimited", "[..., status_code = 5*, bytes]", "", "D1"),
    ("/fp/delimited", "[w1=ERROR, w2]", "L4", "L1 L2 L3"),
    ("/fp/delimited", "[w1=ERROR || w1=WARNING, w2]", "L3 L4", "L1 L2"),
    ("/fp/delimited", "[w1!=ERROR && w1!=WARNING, w2]", "L1 L2", "L3 L4"),
    (
        "/fp/delimited",
        "[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]",
        "L1",
        "L2",
    ),
    (
        "/fp/delimited",
        "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, response_time]",
        "L2",
        "L1",
    ),
]


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    data = tmp_path_factory.mktemp("fp") / "data"
    data.mkdir()
    server: Server = start_server(data)
    client = boto3.client("logs", endpoint_url=server.url, region_name="us-east-1")
    t = int(time.time() * 1000) - 60_000
    for group, messages in GROUPS.items():
        client.create_log_group(logGroupName=group)
        client.create_log_stream(logGroupName=group, logStreamName="s")
        client.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(messages.values())],
        )
    yield client
    server.stop()


@pytest.mark.parametrize(
    "group, pattern, match, no_match",
    CASES,
    ids=[f"{g[4:]}:{p or '<empty>'}" for g, p, _, _ in CASES],
)
def test_documented_example(logs, group: str, pattern: str, match: str, no_match: str) -> None:
    messages = GROUPS[group]
    events = logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
    got = {m for m in (e["message"] for e in events)}
    for key in match.split():
        assert messages[key] in got, f"{pattern!r} should match {key}: {messages[key]!r}"
    for key in no_match.split():
        assert messages[key] not in got, f"{pattern!r} should not match {key}: {messages[key]!r}"


@pytest.mark.parametrize("pattern", ["%something!%", "%(a)%", '{ $.a = "x"', "[a, b", '"unclosed'])
def test_rejected_patterns_are_invalid_parameter(logs, pattern: str) -> None:
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName="/fp/regex", filterPattern=pattern)
    err = exc.value.response["Error"]
    assert err["Code"] == "InvalidParameterException"
    assert "column" in err["Message"]
