"""What crosses the wire comes back exactly: messages byte for byte (#10.5), and paging tokens only
as this server issued them (#10.6, #17.12). A real `logsvc serve` over a temp data dir, real clients.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Server, start_server, wait_for

TARGET = "Logs_20140328."
BAD_TOKEN = ("InvalidParameterException", "The specified nextToken is invalid.")

# Messages a file format could mangle: its line break (\r), CRLF, trailing breaks, its escape
# character, text that looks like an escape, a leading timestamp, traceback-shaped text.
HOSTILE = [
    "carriage\rreturn",
    "crlf\r\nline",
    "ends with crlf\r\n",
    "lf\nonly",
    "ends with lf\n",
    "\r",
    "\n",
    "\r\n",
    "\r\r\n\n",
    "lone \\ backslash",
    "\\",
    "\\r\\n looks escaped \\\\",
    "\\\r",
    "\x1e starts with RS",
    "\x1e\r",
    " leading space\r",
    "tab\t\r\ttab",
    "2026-11-27T21:46:35.123Z \x1e inner timestamp\r",
    "Traceback (most recent call last):\r  File x\rValueError: v",
    "é ✓ \U0001f600\r",
    '{"a": "b\\r"}\r\n',
    "  indented\r\n  twice",
]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("wire") / "data"
    data.mkdir()
    s = start_server(data)
    yield s
    s.stop()


def client(url: str):
    return boto3.client(
        "logs",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def logs(srv: Server):
    return client(srv.url)


def new_stream(logs) -> tuple[str, str]:
    group, stream = "/wire/" + uuid.uuid4().hex[:10], "s"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    return group, stream


def put(logs, group: str, stream: str, messages: list[str]) -> int:
    t0 = int(time.time() * 1000) - 60_000
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": t0 + i, "message": m} for i, m in enumerate(messages)],
    )
    return t0


class SSE:
    """Reads `/api/v1/tail` frames on a thread, splitting on blank lines only (a CR is data)."""

    def __init__(self, url: str, headers: dict | None = None) -> None:
        self.resp = requests.get(url, stream=True, headers=headers or {}, timeout=30)
        self.status = self.resp.status_code
        self.events: list[dict] = []
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        try:
            for chunk in self.resp.iter_content(chunk_size=None):
                buf += chunk
                while b"\n\n" in buf:
                    frame, buf = buf.split(b"\n\n", 1)
                    for line in frame.split(b"\n"):
                        if line.startswith(b"data:"):
                            self.events += json.loads(line[5:])["events"]
        except Exception:
            pass

    def close(self) -> None:
        self.resp.close()


# ---- #10.5: messages round-trip ------------------------------------------------------------------


def test_hostile_messages_come_back_byte_for_byte_on_every_surface(srv: Server, logs) -> None:
    """PutLogEvents → GetLogEvents, FilterLogEvents, REST events/search/export and the live tail."""
    group, stream = new_stream(logs)
    tail = SSE(f"{srv.url}/api/v1/tail?group={group}&heartbeat=1")
    assert tail.status == 200
    time.sleep(0.3)
    put(logs, group, stream, HOSTILE)

    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)[
        "events"
    ]
    assert [e["message"] for e in got] == HOSTILE
    filtered = logs.filter_log_events(logGroupName=group)["events"]
    assert [e["message"] for e in filtered] == HOSTILE
    # words around an escaped \r are words to the index and the filter language alike
    assert [
        e["message"]
        for e in logs.filter_log_events(logGroupName=group, filterPattern="return")["events"]
    ] == [HOSTILE[0]]
    assert [
        e["message"]
        for e in logs.filter_log_events(logGroupName=group, filterPattern="line")["events"]
    ] == [HOSTILE[1]]

    events = srv.json("/api/v1/events", group=group, startFromHead="true", limit=1000)["events"]
    assert [e["message"] for e in events] == HOSTILE
    found = srv.json("/api/v1/search", group=group, limit=1000)["events"]
    assert [e["message"] for e in found] == HOSTILE[::-1]
    nd = srv.get("/api/v1/export", group=group, format="ndjson")
    assert [
        json.loads(line)["message"]
        for line in nd.text.splitlines(keepends=False)
        if line.startswith("{")
    ] == HOSTILE
    rows = list(
        csv.reader(
            io.StringIO(
                srv.get("/api/v1/export", group=group, format="csv").content.decode(), newline=""
            )
        )
    )
    assert [r[-1] for r in rows[1:]] == HOSTILE

    wait_for(lambda: len(tail.events) >= len(HOSTILE), what="tailed events")
    tail.close()
    assert [e["message"] for e in tail.events] == HOSTILE


def test_plain_file_lines_keep_lambdas_cr_convention(srv: Server, logs) -> None:
    """A line written with `>>` uses \\r as a line break inside the event, as Lambda writes it."""
    group, stream = new_stream(logs)
    path = srv.store.stream_file(group, stream)
    with open(path, "ab") as f:
        f.write(b"2026-11-27T21:46:35.123Z first\rsecond\r\n")
    got = wait_for(
        lambda: logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)[
            "events"
        ]
    )
    assert [e["message"] for e in got] == ["first\nsecond"]


def test_aws_cli_writes_and_reads_messages_byte_for_byte(srv: Server, logs) -> None:
    """The aws CLI (v1) as the writer and the reader: its JSON output carries the message as sent."""
    group, stream = new_stream(logs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="k",
        AWS_SECRET_ACCESS_KEY="s",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
    )

    def aws(*args: str) -> dict:
        r = subprocess.run(
            [
                str(Path(sys.executable).with_name("aws")),
                "logs",
                *args,
                "--endpoint-url",
                srv.url,
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout) if r.stdout.strip() else {}

    t0 = int(time.time() * 1000) - 60_000
    events = [{"timestamp": t0 + i, "message": m} for i, m in enumerate(HOSTILE)]
    aws(
        "put-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        stream,
        "--log-events",
        json.dumps(events),
    )
    got = aws(
        "get-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        stream,
        "--start-from-head",
    )
    assert [e["message"] for e in got["events"]] == HOSTILE


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    messages=st.lists(
        st.text(min_size=1, max_size=60)
        | st.text(alphabet="\r\n \x1e\\a", min_size=1, max_size=12),
        min_size=1,
        max_size=6,
    )
)
def test_any_text_round_trips_through_boto3(logs, messages: list[str]) -> None:
    group, stream = new_stream(logs)
    put(logs, group, stream, messages)
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)[
        "events"
    ]
    assert [e["message"] for e in got] == messages


# ---- #10.6 / #17.12: one token codec, garbage refused ---------------------------------------------


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# Garbage, and tokens in the shapes the old base64 codecs accepted (a client could forge them).
GARBAGE = [
    "\x00\x01",
    "-1",
    b64("-1"),
    b64("1"),
    b64('"a"'),
    b64("inv1:0"),
    "garbage!",
    "v1.",
    "v1.x.y",
    "f/" + "0" * 56,
]


@pytest.fixture(scope="module")
def paged(srv: Server, logs) -> str:
    """A group with 3 streams, 5 events, and two more groups: something to page through."""
    group, _ = new_stream(logs)
    for name in ("t", "u"):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
    put(logs, group, "s", [f"event {i}" for i in range(5)])
    logs.create_log_group(logGroupName=group + "-b")
    logs.create_log_group(logGroupName=group + "-c")
    return group


@pytest.mark.parametrize("token", GARBAGE)
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/groups",
        "/api/v1/streams",
        "/api/v1/events",
        "/api/v1/search",
        "/api/v1/invocations",
    ],
)
def test_rest_refuses_tokens_it_did_not_issue(
    srv: Server, paged: str, path: str, token: str
) -> None:
    r = srv.get(path, group=paged, nextToken=token, limit=1)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    err = r.json()["error"]
    assert (err["code"], err["field"]) == ("InvalidParameter", "nextToken")
    assert err["message"] and err["rule"]


def test_rest_streams_token_minus_one_does_not_return_the_last_stream(
    srv: Server, paged: str
) -> None:
    for token in ("-1", b64("-1")):
        r = srv.get("/api/v1/streams", group=paged, nextToken=token)
        assert r.status_code == 400, r.text


def test_rest_tokens_are_not_interchangeable_or_editable(srv: Server, paged: str) -> None:
    groups = srv.json("/api/v1/groups", prefix=paged, limit=1)["nextToken"]
    streams = srv.json("/api/v1/streams", group=paged, limit=1, orderBy="name")["nextToken"]
    events = srv.json("/api/v1/events", group=paged, limit=2)["nextToken"]
    assert srv.get("/api/v1/streams", group=paged, nextToken=groups).status_code == 400
    assert srv.get("/api/v1/groups", nextToken=streams).status_code == 400
    assert srv.get("/api/v1/groups", nextToken=events).status_code == 400
    for tok in (groups, streams, events):
        i = len(tok) // 3  # inside the payload
        bent = tok[:i] + ("A" if tok[i] != "A" else "B") + tok[i + 1 :]
        for path in ("/api/v1/groups", "/api/v1/streams", "/api/v1/events"):
            assert srv.get(path, group=paged, nextToken=bent).status_code == 400


def test_rest_tokens_still_page(srv: Server, paged: str) -> None:
    names, token = [], None
    while True:
        page = srv.json(
            "/api/v1/streams",
            group=paged,
            limit=1,
            orderBy="name",
            **({"nextToken": token} if token else {}),
        )
        names += [s["name"] for s in page["streams"]]
        token = page["nextToken"]
        if not token:
            break
    assert names == ["s", "t", "u"]
    first = srv.json("/api/v1/streams", group=paged, limit=1, orderBy="name")["nextToken"]
    for other in ({"orderBy": "lastEventTime"}, {"prefix": "t"}, {"group": paged + "-b"}):
        r = srv.get(
            "/api/v1/streams",
            **{"group": paged, "limit": 1, "orderBy": "name", **other, "nextToken": first},
        )
        assert r.status_code == 400, other  # an offset into another listing would page wrongly
    page1 = srv.json("/api/v1/events", group=paged, limit=3, startFromHead="true")
    page2 = srv.json(
        "/api/v1/events", group=paged, limit=3, startFromHead="true", nextToken=page1["nextToken"]
    )
    assert [e["message"] for e in page1["events"] + page2["events"]] == [
        f"event {i}" for i in range(5)
    ]


@pytest.mark.parametrize(("header", "field"), [(True, "Last-Event-ID"), (False, "cursor")])
@pytest.mark.parametrize(
    "cursor", [b64("{}"), b64('{"0000000000000000": 0}'), "not a cursor", "v1.e30.x"]
)
def test_tail_refuses_cursors_it_did_not_issue(
    srv: Server, paged: str, header: bool, field: str, cursor: str
) -> None:
    url = f"{srv.url}/api/v1/tail?group={paged}&heartbeat=1"
    if header:
        r = requests.get(url, headers={"Last-Event-ID": cursor}, timeout=10, stream=True)
    else:
        r = requests.get(url, params={"cursor": cursor}, timeout=10, stream=True)
    try:
        assert r.status_code == 400
        assert r.json()["error"]["field"] == field
    finally:
        r.close()


def error_of(call, **kw) -> tuple[str, str]:
    with pytest.raises(ClientError) as exc:
        call(**kw)
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


@pytest.mark.parametrize("token", GARBAGE)
def test_cloudwatch_refuses_tokens_it_did_not_issue(logs, paged: str, token: str) -> None:
    assert error_of(logs.describe_log_groups, nextToken=token) == BAD_TOKEN
    assert error_of(logs.describe_log_streams, logGroupName=paged, nextToken=token) == BAD_TOKEN
    assert error_of(logs.filter_log_events, logGroupName=paged, nextToken=token) == BAD_TOKEN
    assert (
        error_of(logs.get_log_events, logGroupName=paged, logStreamName="s", nextToken=token)
        == BAD_TOKEN
    )


def test_cloudwatch_tokens_are_not_interchangeable(logs, paged: str) -> None:
    groups = logs.describe_log_groups(logGroupNamePrefix=paged, limit=1)["nextToken"]
    streams = logs.describe_log_streams(logGroupName=paged, limit=1)["nextToken"]
    filt = logs.filter_log_events(logGroupName=paged, limit=2)["nextToken"]
    fwd = logs.get_log_events(logGroupName=paged, logStreamName="s", startFromHead=True, limit=2)[
        "nextForwardToken"
    ]
    assert fwd.startswith("f/") and len(fwd) == 58
    assert error_of(logs.describe_log_streams, logGroupName=paged, nextToken=groups) == BAD_TOKEN
    assert error_of(logs.describe_log_groups, nextToken=streams) == BAD_TOKEN
    assert error_of(logs.describe_log_groups, nextToken=filt) == BAD_TOKEN
    assert (
        error_of(logs.get_log_events, logGroupName=paged, logStreamName="t", nextToken=fwd)
        == BAD_TOKEN
    )
    bent = (
        fwd[:30] + ("1" if fwd[30] != "1" else "2") + fwd[31:]
    )  # another offset, same check digits
    assert (
        error_of(logs.get_log_events, logGroupName=paged, logStreamName="s", nextToken=bent)
        == BAD_TOKEN
    )


def test_put_log_events_with_a_null_event_is_a_validation_error(srv: Server, paged: str) -> None:
    """#17.12: `"logEvents": [null]` was a 500."""
    for events, path in (
        ([None], "logEvents.1.member"),
        ([{"timestamp": 1, "message": "x"}, None], "logEvents.2.member"),
    ):
        r = requests.post(
            srv.url + "/",
            timeout=10,
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": TARGET + "PutLogEvents",
            },
            data=json.dumps({"logGroupName": paged, "logStreamName": "s", "logEvents": events}),
        )
        assert r.status_code == 400, r.text
        assert r.json() == {
            "__type": "InvalidParameterException",
            "message": f"1 validation error detected: Value null at '{path}' failed to satisfy constraint: Member must not be null",
        }


def test_tokens_survive_a_restart_and_the_key_is_private(tmp_path) -> None:
    """Signed with a per-data-dir key: valid in every worker and after a restart, unforgeable."""
    data = tmp_path / "data"
    data.mkdir()
    s = start_server(data)
    try:
        logs = client(s.url)
        for g in ("/r/a", "/r/b", "/r/c"):
            logs.create_log_group(logGroupName=g)
        logs.create_log_stream(logGroupName="/r/a", logStreamName="s")
        put(logs, "/r/a", "s", ["one", "two", "three"])
        rest = s.json("/api/v1/groups", prefix="/r/", limit=1)["nextToken"]
        cw = logs.describe_log_groups(logGroupNamePrefix="/r/", limit=1)["nextToken"]
        fwd = logs.get_log_events(
            logGroupName="/r/a", logStreamName="s", startFromHead=True, limit=1
        )["nextForwardToken"]
        for _ in range(8):  # requests land on both workers
            assert [
                g["name"]
                for g in s.json("/api/v1/groups", prefix="/r/", limit=1, nextToken=rest)["groups"]
            ] == ["/r/b"]
    finally:
        s.stop()
    key = data / "paging.key"
    st_ = os.lstat(key)
    assert stat.S_ISREG(st_.st_mode) and stat.S_IMODE(st_.st_mode) == 0o600 and st_.st_size == 32
    assert not [
        p.name for p in data.iterdir() if p.name.startswith(".paging.key")
    ]  # no temp file left
    s = start_server(data)
    try:
        logs = client(s.url)
        assert [
            g["name"]
            for g in s.json("/api/v1/groups", prefix="/r/", limit=1, nextToken=rest)["groups"]
        ] == ["/r/b"]
        assert [
            g["logGroupName"]
            for g in logs.describe_log_groups(logGroupNamePrefix="/r/", limit=1, nextToken=cw)[
                "logGroups"
            ]
        ] == ["/r/b"]
        page = logs.get_log_events(
            logGroupName="/r/a", logStreamName="s", startFromHead=True, limit=1, nextToken=fwd
        )
        assert [e["message"] for e in page["events"]] == ["two"]
    finally:
        s.stop()
