"""`logsvc run`: any process's stdout/stderr lines land in a new stream as they come; exit status passes through."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from logsvc.store import Store
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[1]


def logsvc(data_dir: Path, *args: str, **kw) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGSVC_")}
    env["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    return subprocess.Popen(
        [sys.executable, "-m", "logsvc", "--data-dir", str(data_dir), "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,
    )


def events(store: Store, group: str) -> list[tuple[str, str, str]]:
    """(stream, timestamp, message) of each line; a stderr line's U+001F mark is left on its timestamp."""
    out = []
    for s in store.list_streams(group):
        for line in store.stream_file(group, s.name).read_text().split("\n"):
            if line:
                ts, _, msg = line.partition(" ")
                out.append((s.name, ts, msg))
    return out


def test_run_captures_stdout_and_stderr_and_returns_the_exit_status(data_dir: Path):
    p = logsvc(
        data_dir,
        "--group",
        "/local/job",
        "--",
        sys.executable,
        "-c",
        "import sys; print('out one'); print('err one', file=sys.stderr); print('ünïcode\\r'); sys.exit(7)",
    )
    out, err = p.communicate(timeout=30)
    assert p.returncode == 7
    assert "out one" in out  # echoed to the terminal too
    m = re.search(r"logsvc: writing to log group /local/job, stream (\S+)", err)
    assert m and re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[run\][0-9a-f]{32}", m.group(1))
    got = events(Store(data_dir), "/local/job")
    assert {s for s, _, _ in got} == {m.group(1)}
    assert sorted((msg, ts[-1]) for _, ts, msg in got) == [
        ("err one", "\x1f"),
        ("out one", "Z"),
        ("ünïcode", "Z"),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\x1f?", ts) for _, ts, _ in got)


def test_lines_arrive_while_the_command_runs(data_dir: Path):
    script = "import time\nprint('first', flush=True)\ntime.sleep(30)\n"
    p = logsvc(
        data_dir,
        "-q",
        "--group",
        "/local/live",
        "--stream",
        "s1",
        "--",
        sys.executable,
        "-c",
        script,
    )
    try:
        store = Store(data_dir)
        wait_for(
            lambda: (
                store.stream_file("/local/live", "s1").exists()
                and b"first" in store.stream_file("/local/live", "s1").read_bytes()
            ),
            timeout=15,
            what="the first line while the command still runs",
        )
        assert p.poll() is None
        p.send_signal(signal.SIGTERM)  # forwarded to the command
        p.communicate(timeout=15)
        assert p.returncode == 128 + signal.SIGTERM
    finally:
        if p.poll() is None:
            p.kill()


def test_missing_command_exits_127_and_bad_group_is_refused(data_dir: Path):
    p = logsvc(data_dir, "-q", "--group", "/local/x", "--", "no-such-command-xyz")
    _, err = p.communicate(timeout=30)
    assert p.returncode == 127 and "logsvc: error: command not found: no-such-command-xyz" in err
    p = logsvc(data_dir, "-q", "--group", "bad group!", "--", "true")
    _, err = p.communicate(timeout=30)
    assert p.returncode == 1 and "logsvc: error: group contains ' '" in err


def test_long_output_is_complete_and_in_order(data_dir: Path):
    start = time.monotonic()
    p = logsvc(
        data_dir,
        "-q",
        "--group",
        "/local/bulk",
        "--stream",
        "b",
        "--",
        sys.executable,
        "-c",
        "for i in range(20000): print(f'line {i}')",
    )
    p.communicate(timeout=60)
    assert p.returncode == 0
    lines = [m for _, _, m in events(Store(data_dir), "/local/bulk")]
    assert lines == [f"line {i}" for i in range(20000)]
    assert time.monotonic() - start < 30


# The command writes to stdout and stderr in turn, each write read by logsvc before the next
# (FIONREAD on the pipe reaches 0), so the order between the pipes is defined.
PIPES_SCRIPT = r"""
import fcntl, os, struct, sys, termios, time
def drained(fd):
    end = time.monotonic() + 10
    while time.monotonic() < end and struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]:
        time.sleep(0.001)
def say(fd, text):
    os.write(fd, text.encode())
    drained(fd)
say(1, "starting job 7\n")
say(2, "warning: cache cold\n")
say(1, '{"level": "INFO", "msg": "charging", "order": 42}\n')
say(2, "Traceback (most recent call last):\n  File \"job.py\", line 3, in <module>\n    charge()\nKeyError: 'amount'\n")
say(1, "\x1fstarts with U+001F on stdout\n")
say(2, "err with \x1f inside and \x1e too\n")
say(1, "done\n")
sys.exit(3)
"""
PIPES_WRITTEN = [
    ("starting job 7", "stdout"),
    ("warning: cache cold", "stderr"),
    ('{"level": "INFO", "msg": "charging", "order": 42}', "stdout"),
    (
        "Traceback (most recent call last):\n  File \"job.py\", line 3, in <module>\n    charge()\nKeyError: 'amount'",
        "stderr",
    ),
    ("\x1fstarts with U+001F on stdout", "stdout"),
    ("err with \x1f inside and \x1e too", "stderr"),
    ("done", "stdout"),
]


def test_run_keeps_each_events_pipe_through_every_read_path(server) -> None:
    """Issue 15: `logsvc run` keeps the order and the pipe; REST `fields.pipe` is "stderr" on stderr
    events only, messages are byte-exact everywhere, Insights filters on `@pipe`, patterns are unaffected."""
    import boto3
    import requests

    group = "/local/pipes"
    p = logsvc(
        server.data_dir,
        "-q",
        "--group",
        group,
        "--stream",
        "s",
        "--",
        sys.executable,
        "-c",
        PIPES_SCRIPT,
    )
    p.communicate(timeout=60)
    assert p.returncode == 3

    def all_events() -> list[dict]:
        got = server.json("/api/v1/events", group=group, start="1h", startFromHead="true")["events"]
        return got if len(got) >= len(PIPES_WRITTEN) else []

    events_ = wait_for(all_events, timeout=20, what="every event over REST")
    assert [(e["message"], e["fields"].get("pipe", "stdout")) for e in events_] == PIPES_WRITTEN
    assert all("pipe" not in e["fields"] for e in events_ if e["fields"].get("pipe") != "stderr")
    assert events_[2]["fields"]["level"] == "INFO"  # a stdout JSON line still parses as JSON

    # filter patterns match the message, not the mark
    found = server.json("/api/v1/search", q='"cache cold"', group=group, start="1h")["events"]
    assert [(e["message"], e["fields"]["pipe"]) for e in found] == [
        ("warning: cache cold", "stderr")
    ]
    found = server.json("/api/v1/search", q="KeyError", group=group, start="1h")["events"]
    assert [e["message"] for e in found] == [PIPES_WRITTEN[3][0]]
    found = server.json("/api/v1/search", q="{ $.order = 42 }", group=group, start="1h")["events"]
    assert [e["message"] for e in found] == [PIPES_WRITTEN[2][0]]

    # CloudWatch: AWS's shapes, the same messages byte for byte
    logs = boto3.client("logs", endpoint_url=server.url, region_name="us-east-1")
    got = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in got] == [m for m, _ in PIPES_WRITTEN]
    assert all(set(e) == {"timestamp", "message", "ingestionTime"} for e in got)
    got = logs.filter_log_events(logGroupName=group, filterPattern="inside")["events"]
    assert [e["message"] for e in got] == [PIPES_WRITTEN[5][0]]

    # Logs Insights: @pipe
    def insights(query: str) -> list[dict]:
        r = requests.get(
            server.url + "/api/v1/insights",
            params={"q": query, "group": group, "since": "1h", "wait": 10},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        qid = r.json()["queryId"]
        body = wait_for(
            lambda: (
                (b := server.json(f"/api/v1/insights/{qid}"))["status"]
                not in ("Scheduled", "Running")
                and b
            ),
            timeout=60,
            what=f"query {qid}",
        )
        assert body["status"] == "Complete", body
        return [{c["field"]: c["value"] for c in row} for row in body["results"]]

    rows = insights('filter @pipe = "stderr" | fields @message, @pipe | sort @timestamp asc')
    assert [(r["@message"], r["@pipe"]) for r in rows] == [
        w for w in PIPES_WRITTEN if w[1] == "stderr"
    ]
    rows = insights("stats count(*) as n by @pipe | sort n desc")
    assert [(r.get("@pipe"), r["n"]) for r in rows] == [(None, "4"), ("stderr", "3")]
