"""Real CloudWatch clients against a real `logsvc serve`: watchtower, the aws CLI (v1), awslogs,
`aws logs tail [--follow]`'s loop, and StartLiveTail's event stream through boto3.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import Server, start_server, wait_for

AWS_BIN = str(Path(sys.executable).with_name("aws"))
AWSLOGS_BIN = str(Path(sys.executable).with_name("awslogs"))


@pytest.fixture(scope="module")
def cw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("cwc") / "data"
    data.mkdir()
    s = start_server(data)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def logs(cw: Server):
    return boto3.client("logs", endpoint_url=cw.url, region_name="us-east-1")


def now_ms() -> int:
    return int(time.time() * 1000)


def unique(prefix: str = "/clients/") -> str:
    return prefix + uuid.uuid4().hex[:10]


def cli_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
    )
    env.update(extra)
    return env


# ---- watchtower: 10,000 records, exactly once ----------------------------------------------------


def test_watchtower_ships_10000_records_exactly_once(cw: Server, logs) -> None:
    import watchtower

    group = unique("/watchtower/")
    # The stream exists before the first record: watchtower creates a missing stream after its first
    # PutLogEvents fails and drops every record logged while it does (its emit() returns early while
    # `creating_log_stream` is set). Under load, logging 10,000 records outlasts the first 1 s batch,
    # and those records never reach the server.
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="app")
    handler = watchtower.CloudWatchLogHandler(
        log_group_name=group,
        log_stream_name="app",
        boto3_client=logs,
        send_interval=1,
        use_queues=True,
    )
    logger = logging.getLogger("watchtower-test-" + group)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    # watchtower retries a failed PutLogEvents after warning about it; under this suite's
    # `filterwarnings = error` that warning would raise in its sender thread and drop the batch, a
    # mode no user runs it in. Record its warnings instead, and show them if a record is missing.
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        try:
            for i in range(10_000):
                logger.info("record %05d of the watchtower run", i)
        finally:
            handler.flush()
            handler.close()
            logger.removeHandler(handler)
    told = [str(w.message) for w in said if issubclass(w.category, watchtower.WatchtowerWarning)]
    expected = [f"record {i:05d} of the watchtower run" for i in range(10_000)]

    # GetLogEvents, forward from the head until the token stops changing
    got, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = logs.get_log_events(
            logGroupName=group, logStreamName="app", startFromHead=True, **kw
        )
        got += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert sorted(got) == expected, (  # all, exactly once
        f"watchtower said {told[:5]}; the server said {cw.stderr_lines[-20:]}"
    )
    # the REST API the web console reads
    rest, token = [], None
    while True:
        params = {
            "group": group,
            "startFromHead": "true",
            "limit": "10000",
            **({"nextToken": token} if token else {}),
        }
        body = requests.get(cw.url + "/api/v1/events", params=params, timeout=30).json()
        rest += [e["message"] for e in body["events"]]
        token = body.get("nextToken")
        if not token:
            break
    assert sorted(rest) == expected
    assert (
        len(
            {
                e["eventId"]
                for e in logs.filter_log_events(logGroupName=group, limit=10_000)["events"]
            }
        )
        == 10_000
    )


# ---- the aws CLI (v1) ----------------------------------------------------------------------------


def aws(cw: Server, *args: str) -> dict | None:
    r = subprocess.run(
        [
            AWS_BIN,
            "logs",
            *args,
            "--endpoint-url",
            cw.url,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if r.stdout.strip() else None


def test_aws_cli_round_trip_and_json_filter(cw: Server) -> None:
    group = unique("/cli/")
    aws(cw, "create-log-group", "--log-group-name", group)
    aws(cw, "create-log-stream", "--log-group-name", group, "--log-stream-name", "app")
    t = now_ms()
    lines = [
        json.dumps({"level": "ERROR", "msg": "payment failed", "id": 1}),
        json.dumps({"level": "INFO", "msg": "ok"}),
        "ERROR not json at all",
        json.dumps({"level": "WARN", "nested": {"level": "ERROR"}}),
        json.dumps({"level": "ERROR", "msg": "second", "id": 2}),
    ]
    events = [{"timestamp": t + i, "message": m} for i, m in enumerate(lines)]
    aws(
        cw,
        "put-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        "app",
        "--log-events",
        json.dumps(events),
    )
    out = aws(
        cw,
        "filter-log-events",
        "--log-group-name",
        group,
        "--filter-pattern",
        '{ $.level = "ERROR" }',
    )
    assert [e["message"] for e in out["events"]] == [lines[0], lines[4]]
    got = aws(
        cw,
        "get-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        "app",
        "--start-from-head",
    )
    assert [e["message"] for e in got["events"]] == lines
    assert (
        aws(cw, "describe-log-groups", "--log-group-name-prefix", group)["logGroups"][0][
            "logGroupName"
        ]
        == group
    )
    assert (
        aws(cw, "describe-log-streams", "--log-group-name", group)["logStreams"][0]["logStreamName"]
        == "app"
    )
    r = subprocess.run(
        [AWS_BIN, "logs", "create-log-group", "--log-group-name", group, "--endpoint-url", cw.url],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert r.returncode != 0
    assert (
        "ResourceAlreadyExistsException" in r.stderr
        and "The specified log group already exists" in r.stderr
    )


def test_endpoint_from_environment_variable(cw: Server) -> None:
    """`AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` is the variable botocore reads for this service."""
    r = subprocess.run(
        [AWS_BIN, "logs", "describe-log-groups", "--region", "us-east-1", "--max-items", "1"],
        capture_output=True,
        text=True,
        env=cli_env(AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=cw.url),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "logGroups" in json.loads(r.stdout)


# ---- awslogs ---------------------------------------------------------------------------------------


def test_awslogs_get(cw: Server, logs) -> None:
    group = unique("/awslogs/")
    logs.create_log_group(logGroupName=group)
    for s in ("a", "b"):
        logs.create_log_stream(logGroupName=group, logStreamName=s)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=s,
            logEvents=[
                {"timestamp": now_ms() - 60_000 + i, "message": f"{s} line {i}"} for i in range(3)
            ],
        )
    r = subprocess.run(
        [
            AWSLOGS_BIN,
            "get",
            group,
            "ALL",
            "--start",
            "1h",
            "--aws-endpoint-url",
            cw.url,
            "--aws-region",
            "us-east-1",
            "--color",
            "never",
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert sorted(line.split(None, 2)[2] for line in out) == sorted(
        f"{s} line {i}" for s in "ab" for i in range(3)
    )
    assert all(line.startswith(group) for line in out)
    r = subprocess.run(
        [
            AWSLOGS_BIN,
            "get",
            group,
            "a",
            "--start",
            "1h",
            "-G",
            "-S",
            "-f",
            "line -2",
            "--aws-endpoint-url",
            cw.url,
            "--aws-region",
            "us-east-1",
            "--color",
            "never",
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == ["a line 0", "a line 1"]


# ---- `aws logs tail`: its paging and its --follow loop (CLI v2's tail.py, reproduced) ---------------


class TailFollow:
    """aws-cli v2 `awscli/customizations/logs/tail.py` --follow, with the sleep made short."""

    def __init__(self, client, group: str, start: int, sleep: float = 0.2, **kw) -> None:
        self.client, self.group, self.start, self.sleep, self.kw = client, group, start, sleep, kw
        self.calls = 0
        self.out: list[dict] = []
        self.stop = threading.Event()

    def run(self) -> None:
        seen_at: dict[int, set[str]] = {}
        kw = {"logGroupName": self.group, "interleaved": True, "startTime": self.start, **self.kw}
        while not self.stop.is_set():
            resp = self.client.filter_log_events(**kw)
            self.calls += 1
            for e in resp["events"]:
                ids = seen_at.setdefault(e["timestamp"], set())
                if e["eventId"] in ids:
                    continue
                ids.add(e["eventId"])
                self.out.append(e)
            if seen_at:
                newest = max(seen_at)
                seen_at = {newest: seen_at[newest]}
            if "nextToken" in resp:
                kw["nextToken"] = resp["nextToken"]
                continue
            kw.pop("nextToken", None)
            if seen_at:
                kw["startTime"] = max(seen_at)
            self.stop.wait(self.sleep)


def test_aws_logs_tail_without_follow_pages_until_no_token(logs) -> None:
    group = unique("/tail/")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now_ms() - 1000, "message": f"m{i}"} for i in range(25)],
    )
    pages = list(
        logs.get_paginator("filter_log_events").paginate(
            logGroupName=group,
            interleaved=True,
            startTime=now_ms() - 600_000,
            PaginationConfig={"PageSize": 10},
        )
    )
    assert [e["message"] for p in pages for e in p["events"]] == [f"m{i}" for i in range(25)]


def test_aws_logs_tail_follow_loop(logs) -> None:
    group = unique("/tail/")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms() - 5000
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": t, "message": "before"}]
    )
    tail = TailFollow(logs, group, start=t - 600_000, filterPattern="-noise")
    th = threading.Thread(target=tail.run, daemon=True)
    th.start()
    try:
        wait_for(lambda: [e["message"] for e in tail.out] == ["before"], what="the first poll")
        # same millisecond as the newest event seen: the inclusive re-read must not drop or repeat it
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[
                {"timestamp": t, "message": "same ms"},
                {"timestamp": t + 1, "message": "noise"},
                {"timestamp": t + 2, "message": "after"},
            ],
        )
        wait_for(lambda: len(tail.out) >= 3, what="the follow loop to pick up new events")
        time.sleep(0.6)
        calls_before = tail.calls
        time.sleep(1.0)
        assert tail.calls - calls_before <= 7  # it sleeps between polls: no nextToken at the end
    finally:
        tail.stop.set()
        th.join(5)
    assert [e["message"] for e in tail.out] == ["before", "same ms", "after"]


# ---- StartLiveTail -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(cw: Server):
    # botocore prepends the model's "streaming-"/"stream-" host prefix even to a custom endpoint
    return boto3.client(
        "logs",
        endpoint_url=cw.url,
        region_name="us-east-1",
        config=Config(inject_host_prefix=False),
    )


class LiveReader:
    def __init__(self, response: dict) -> None:
        self.stream = response["responseStream"]
        self.frames: list[dict] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for frame in self.stream:
                self.frames.append(frame)
        except Exception as e:
            self.frames.append({"error": e})

    def updates(self) -> list[dict]:
        return [f["sessionUpdate"] for f in self.frames if "sessionUpdate" in f]

    def messages(self) -> list[str]:
        return [r["message"] for u in self.updates() for r in u["sessionResults"]]

    def close(self) -> None:
        self.stream.close()


def test_start_live_tail_streams_only_new_matching_events(
    cw: Server, logs, live, write_lines_cw
) -> None:
    group = unique("/live/")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="app-1")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="app-1",
        logEvents=[{"timestamp": now_ms(), "message": "ERROR old"}],
    )
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    reader = LiveReader(
        live.start_live_tail(logGroupIdentifiers=[arn], logEventFilterPattern="ERROR")
    )
    try:
        wait_for(lambda: any("sessionStart" in f for f in reader.frames), what="sessionStart")
        start = next(f["sessionStart"] for f in reader.frames if "sessionStart" in f)
        assert start["logGroupIdentifiers"] == [arn] and start["logEventFilterPattern"] == "ERROR"
        logs.put_log_events(
            logGroupName=group,
            logStreamName="app-1",
            logEvents=[
                {"timestamp": now_ms(), "message": "ERROR new one"},
                {"timestamp": now_ms(), "message": "INFO skipped"},
            ],
        )
        write_lines_cw(group, "by-hand", ["ERROR written to a new stream file"])
        wait_for(lambda: len(reader.messages()) >= 2, timeout=10, what="live tail updates")
        n = len(reader.updates())
        began = time.monotonic()
        # one a second even when nothing happens: two more come within the wait, and not at once
        wait_for(lambda: len(reader.updates()) >= n + 2, timeout=8, what="two more (empty) updates")
        assert time.monotonic() - began >= 0.9
    finally:
        reader.close()
    assert sorted(reader.messages()) == ["ERROR new one", "ERROR written to a new stream file"]
    ups = reader.updates()
    result = next(r for u in ups for r in u["sessionResults"] if r["message"] == "ERROR new one")
    assert result["logGroupIdentifier"] == arn and result["logStreamName"] == "app-1"
    assert set(result) == {
        "logStreamName",
        "logGroupIdentifier",
        "message",
        "timestamp",
        "ingestionTime",
    }


@pytest.fixture
def write_lines_cw(cw: Server):
    store = cw.store

    def write(group: str, stream: str, lines: list[str]) -> None:
        path = store.ensure_stream(group, stream)
        with open(path, "a", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))

    return write


def test_start_live_tail_stream_prefixes(logs, live) -> None:
    group = unique("/live/")
    logs.create_log_group(logGroupName=group)
    for s in ("web-1", "job-1"):
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    reader = LiveReader(
        live.start_live_tail(logGroupIdentifiers=[group], logStreamNamePrefixes=["web-"])
    )
    try:
        wait_for(lambda: any("sessionStart" in f for f in reader.frames), what="sessionStart")
        for s in ("web-1", "job-1"):
            logs.put_log_events(
                logGroupName=group,
                logStreamName=s,
                logEvents=[{"timestamp": now_ms(), "message": f"from {s}"}],
            )
        wait_for(lambda: reader.messages(), timeout=10, what="an update")
        time.sleep(1.2)
    finally:
        reader.close()
    assert reader.messages() == ["from web-1"]


def test_start_live_tail_validation(logs, live) -> None:
    group = unique("/live/")
    logs.create_log_group(logGroupName=group)
    cases = [
        (
            {"logGroupIdentifiers": [group] * 11},
            "InvalidParameterException",
            "1 validation error detected: Value at 'logGroupIdentifiers' failed to satisfy constraint: "
            "Member must have length less than or equal to 10",
        ),
        (
            {"logGroupIdentifiers": ["/no/such"]},
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        ),
        (
            {
                "logGroupIdentifiers": [group],
                "logStreamNames": ["a"],
                "logStreamNamePrefixes": ["a"],
            },
            "InvalidParameterException",
            None,
        ),
        (
            {"logGroupIdentifiers": [group, group + "x"], "logStreamNames": ["a"]},
            "InvalidParameterException",
            None,
        ),
        (
            {"logGroupIdentifiers": [group], "logEventFilterPattern": "{ $.a = "},
            "InvalidParameterException",
            None,
        ),
    ]
    logs.create_log_group(logGroupName=group + "x")
    for kw, code, message in cases:
        with pytest.raises(ClientError) as exc:
            live.start_live_tail(**kw)
        err = exc.value.response["Error"]
        assert err["Code"] == code, kw
        if message:
            assert err["Message"] == message


def test_start_live_tail_frames_on_the_wire(cw: Server, logs) -> None:
    """Raw bytes: initial-response first (botocore requires it), valid CRCs, JSON payloads."""
    from logsvc.cloudwatch.eventstream import decode_frames

    group = unique("/live/")
    logs.create_log_group(logGroupName=group)
    r = requests.post(
        cw.url + "/",
        data=json.dumps({"logGroupIdentifiers": [group]}),
        stream=True,
        timeout=10,
        headers={
            "X-Amz-Target": "Logs_20140328.StartLiveTail",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    assert r.headers["Content-Type"] == "application/vnd.amazon.eventstream"
    data = b""
    began = time.monotonic()
    for chunk in r.iter_content(chunk_size=None):
        data += chunk
        if time.monotonic() - began > 1.5:
            break
    r.close()
    frames = decode_frames(data)
    kinds = [h[":event-type"] for h, _ in frames]
    assert kinds[:3] == ["initial-response", "sessionStart", "sessionUpdate"]
    assert frames[0][1] == b""
    assert json.loads(frames[2][1]) == {"sessionMetadata": {"sampled": False}, "sessionResults": []}
