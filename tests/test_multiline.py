"""One multi-line rule for every way in (issue 15): a shell `>>`, `logsvc run`, PutLogEvents.

The rule is `lines.split_events` (table-driven in tests/test_lines.py): indented lines and a Python
traceback join the event before them, except that a traceback after a whole JSON object line (or a
Lambda platform line) is an event of its own. These tests send the same output through each way in
and read the events back through the real server.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import boto3

from logsvc.store import Store
from tests.conftest import Server, wait_for
from tests.test_capture import logsvc

JSON_LINE = '{"level": "INFO", "message": "charging", "order": 42}'
TRACEBACK = textwrap.dedent("""\
    Traceback (most recent call last):
      File "app.py", line 3, in <module>
        charge()
    KeyError: 'amount\'""")


def read_events(server: Server, group: str, count: int) -> list[dict]:
    def got() -> list[dict]:
        events = server.json("/api/v1/events", group=group, start="1h", startFromHead="true")[
            "events"
        ]
        return events if len(events) >= count else []

    return wait_for(got, timeout=20, what=f"{count} events in {group}")  # type: ignore[return-value]


def assert_json_then_traceback(server: Server, group: str) -> None:
    events = read_events(server, group, 2)
    assert [e["message"].rstrip("\n") for e in events] == [JSON_LINE, TRACEBACK], events
    found = server.json("/api/v1/search", q="{ $.order = 42 }", group=group, start="1h")["events"]
    assert [e["message"] for e in found] == [JSON_LINE]  # the JSON line still parses as JSON


def test_shell_append_keeps_a_traceback_off_the_json_line_before_it(server: Server) -> None:
    path = server.store.ensure_stream("/ml/file", "s")
    with open(path, "a") as f:  # what `>>` does
        f.write(JSON_LINE + "\n" + TRACEBACK + "\n")
    assert_json_then_traceback(server, "/ml/file")


def test_logsvc_run_makes_a_traceback_one_event_and_keeps_it_off_the_json_line(
    server: Server,
) -> None:
    script = f"import sys\nprint({JSON_LINE!r}, flush=True)\nsys.stderr.write({TRACEBACK + chr(10)!r})\nsys.exit(1)\n"
    p = logsvc(
        server.data_dir,
        "-q",
        "--group",
        "/ml/run",
        "--stream",
        "s",
        "--",
        sys.executable,
        "-c",
        script,
    )
    p.communicate(timeout=30)
    assert p.returncode == 1
    assert_json_then_traceback(server, "/ml/run")


def test_logsvc_run_real_uncaught_exception_is_one_event(data_dir: Path) -> None:
    p = logsvc(
        data_dir,
        "-q",
        "--group",
        "/ml/crash",
        "--stream",
        "s",
        "--",
        sys.executable,
        "-c",
        "print('starting', flush=True)\ndef charge():\n    return {}['amount']\ncharge()\n",
    )
    p.communicate(timeout=30)
    assert p.returncode == 1
    from logsvc import lines

    raw = Store(data_dir).stream_file("/ml/crash", "s").read_bytes()
    events, _ = lines.split_events(raw, flush=True)
    messages = [lines.time_and_message(e.text)[1] for e in events]
    assert len(messages) == 2, messages
    assert messages[0] == "starting"
    assert messages[1].startswith("Traceback (most recent call last):\n") and messages[1].endswith(
        "KeyError: 'amount'"
    )


ORDERED = textwrap.dedent("""\
    import fcntl, os, sys, termios, time, struct
    def drained(fd):  # wait until logsvc has read what we wrote (FIONREAD on the pipe), deadline 10 s
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\\0\\0\\0\\0"))[0] == 0:
                return
            time.sleep(0.001)
    for i in range(6):
        fd = 1 if i % 2 == 0 else 2
        os.write(fd, f"line {i} on {'stdout' if fd == 1 else 'stderr'}\\n".encode())
        drained(fd)
    """)


def test_logsvc_run_keeps_the_order_stdout_and_stderr_were_written_in(data_dir: Path) -> None:
    p = logsvc(
        data_dir, "-q", "--group", "/ml/order", "--stream", "s", "--", sys.executable, "-c", ORDERED
    )
    p.communicate(timeout=60)
    assert p.returncode == 0
    text = Store(data_dir).stream_file("/ml/order", "s").read_text()
    got = [line.split(" ", 1)[1] for line in text.splitlines()]
    assert got == [f"line {i} on {'stdout' if i % 2 == 0 else 'stderr'}" for i in range(6)]


def test_put_log_events_keeps_each_event_as_sent(server: Server) -> None:
    logs = boto3.client("logs", endpoint_url=server.url, region_name="us-east-1")
    logs.create_log_group(logGroupName="/ml/put")
    logs.create_log_stream(logGroupName="/ml/put", logStreamName="s")
    import time

    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="/ml/put",
        logStreamName="s",
        logEvents=[
            {"timestamp": now, "message": JSON_LINE},
            {"timestamp": now, "message": TRACEBACK},
        ],
    )
    assert_json_then_traceback(server, "/ml/put")
    assert json.loads(read_events(server, "/ml/put", 2)[0]["message"])["order"] == 42
