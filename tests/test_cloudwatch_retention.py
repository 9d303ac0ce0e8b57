"""Retention end to end: PutRetentionPolicy hides expired events from every read path at once, and
the retention pass (logsvc/retention.py) punches their bytes out of the stream file."""

from __future__ import annotations

import json
import os
import time
from array import array
from pathlib import Path

import boto3

from logsvc.index import Block
from logsvc.lines import format_line
from logsvc.retention import expired_offset
from tests.conftest import start_server, wait_for

DAY = 86_400_000


def _block(start: int, chunks: list[tuple[int, int]], end: int) -> Block:
    """chunks: (start offset, max time)."""
    return Block(
        "g",
        "s",
        "k",
        start,
        end,
        1,
        "h",
        array("q", [c[0] for c in chunks]),
        array("q", [0] * len(chunks)),
        array("q", [c[1] for c in chunks]),
        array("q", [0] * len(chunks)),
        array("q", [1] * len(chunks)),
    )


def test_expired_offset_stops_at_the_first_young_chunk() -> None:
    blocks = [
        _block(0, [(0, 10), (100, 20)], 200),
        _block(200, [(200, 30), (300, 99), (400, 5)], 500),
    ]
    assert expired_offset(blocks, 25) == 200
    assert expired_offset(blocks, 31) == 300
    assert expired_offset(blocks, 5) == 0
    assert (
        expired_offset(blocks[:1], 1000) == 200
    )  # everything indexed is expired: up to the indexed end


def test_retention_hides_then_reclaims(data_dir: Path) -> None:
    now = int(time.time() * 1000)
    store_path = None
    server = start_server(data_dir, env={"LOGSVC_RETENTION_INTERVAL": "0.3"})
    try:
        logs = boto3.client("logs", endpoint_url=server.url, region_name="us-east-1")
        store = server.store
        store_path = store.ensure_stream("/ret", "s")
        old = b"".join(
            format_line(now - 40 * DAY + i, f"old event {i} " + "x" * 200) for i in range(4000)
        )
        new = b"".join(format_line(now - 1000 + i, f"new event {i}") for i in range(50))
        with open(store_path, "ab") as f:
            f.write(old + new)
        size = os.stat(store_path).st_size
        with open(store_path, "rb") as f:
            head = f.read(4096)

        def count() -> int:
            return sum(
                len(p["events"])
                for p in logs.get_paginator("filter_log_events").paginate(logGroupName="/ret")
            )

        wait_for(lambda: count() == 4050, timeout=20, what="ingestion of 4050 events")
        blocks_before = os.stat(store_path).st_blocks
        logs.put_retention_policy(logGroupName="/ret", retentionInDays=7)
        # hidden at once, on every read path
        assert count() == 50
        got = logs.get_log_events(logGroupName="/ret", logStreamName="s", startFromHead=True)[
            "events"
        ]
        assert [e["message"] for e in got] == [f"new event {i}" for i in range(50)]
        rest = server.json("/api/v1/events", group="/ret", startFromHead="true", limit="10000")
        assert len(rest["events"]) == 50
        # reclaimed by the next retention pass
        wait_for(
            lambda: os.stat(store_path).st_blocks < blocks_before // 4,
            timeout=10,
            what="hole punching",
        )
        st = os.stat(store_path)
        assert st.st_size == size  # offsets and event ids stay stable
        with open(store_path, "rb") as f:
            assert f.read(4096) == head  # the ingester's head check still matches
        meta = json.loads((store_path.parent / "group.json").read_text())
        assert 4096 < meta["expired"]["s"] <= len(old)
        ids_before = [e["eventId"] for e in logs.filter_log_events(logGroupName="/ret")["events"]]
        # the stream keeps working after the hole
        logs.put_log_events(
            logGroupName="/ret",
            logStreamName="s",
            logEvents=[{"timestamp": int(time.time() * 1000), "message": "later"}],
        )
        wait_for(lambda: count() == 51, timeout=10, what="the new event")
        after = logs.filter_log_events(logGroupName="/ret")["events"]
        assert [e["eventId"] for e in after][:50] == ids_before
        assert after[-1]["message"] == "later"
        assert "old event" not in json.dumps(server.json("/api/v1/search", group="/ret", q="old"))
    finally:
        server.stop()
    # and after a restart, nothing old comes back
    server = start_server(data_dir)
    try:
        logs = boto3.client("logs", endpoint_url=server.url, region_name="us-east-1")
        events = logs.filter_log_events(logGroupName="/ret")["events"]
        assert len(events) == 51 and all("old event" not in e["message"] for e in events)
    finally:
        server.stop()
