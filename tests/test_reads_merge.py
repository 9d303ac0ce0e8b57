"""Two rules of the read merge (`query._Merge`) that no other test could break.

- A page holds at most 1 MiB counted as CloudWatch counts it (each message plus 26 bytes), and the
  token after a page cut by that budget resumes with no event lost or repeated.
- A source whose first visible byte is an event boundary inside an indexed chunk (the columnar
  path hands the Reader its not-yet-columned tail that way, colquery.py) shows the chunk's events
  from that byte on, in every direction and across pages.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import boto3
from botocore.config import Config

from logsvc.index import BlockIndex
from logsvc.ingest import Ingester
from logsvc.query import Reader
from logsvc.store import Store
from tests.conftest import start_server

PAGE_BUDGET = (
    1_048_576  # AWS: "the sum of all event messages in UTF-8, plus 26 bytes for each log event"
)


def test_a_page_stops_at_one_mib_and_its_token_resumes_with_nothing_lost(data_dir: Path) -> None:
    n, size = 2_500, 1_000
    per_page = PAGE_BUDGET // (size + 26)  # 1,022 events fit; one more would pass the budget
    messages = [f"{i:06d} " + "x" * (size - 7) for i in range(n)]
    server = start_server(data_dir)
    try:
        logs = boto3.client(
            "logs",
            endpoint_url=server.url,
            region_name="us-east-1",
            config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )
        logs.create_log_group(logGroupName="/big")
        logs.create_log_stream(logGroupName="/big", logStreamName="s")
        t0 = int(time.time() * 1000) - 10 * n
        for at in range(0, n, 1_000):  # a put is itself capped at 1 MiB
            logs.put_log_events(
                logGroupName="/big",
                logStreamName="s",
                logEvents=[
                    {"timestamp": t0 + i, "message": messages[i]}
                    for i in range(at, min(n, at + 1_000))
                ],
            )
        sizes, got, token = [], [], None
        kw = {"logGroupName": "/big", "logStreamName": "s", "startFromHead": True}
        while True:
            page = logs.get_log_events(**kw, **({"nextToken": token} if token else {}))
            if not page["events"]:
                break
            sizes.append(len(page["events"]))
            got += [e["message"] for e in page["events"]]
            token = page["nextForwardToken"]
        assert sizes == [per_page, per_page, n - 2 * per_page]
        assert got == messages
    finally:
        server.stop()


def test_a_chunk_cut_by_the_first_visible_byte_shows_its_events_from_there(
    data_dir: Path, write_lines: Callable[..., Path]
) -> None:
    lines = [f"2024-05-01T00:00:{i // 10:02d}.{i % 10:03d}Z event {i:03d}" for i in range(200)]
    write_lines("g", "s", lines)
    offsets = [sum(len(line) + 1 for line in lines[:i]) for i in range(len(lines))]
    cut = offsets[100]
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(Store(data_dir), index).rebuild(None)
        reader = Reader(Store(data_dir), index)
        with index.snapshot() as snap:
            blocks = snap.stream_blocks(reader.sources(["g"])[0].skey)
        assert any(
            b.c_start[i] < cut < b.chunk_end(i) for b in blocks for i in range(len(b.c_start))
        ), "the cut must fall inside an indexed chunk"
        src = dataclasses.replace(reader.sources(["g"])[0], from_offset=cut)
        want = [f"event {i:03d}" for i in range(100, 200)]
        for forward in (True, False):
            assert [
                e.message for e in reader.read([src], forward=forward, limit=1_000).events
            ] == want
            got, token = [], None
            while True:  # small pages: each one starts inside or after the cut chunk
                page = reader.read([src], forward=forward, limit=7, token=token)
                got = got + page.events if forward else page.events + got
                token = page.next_token
                if not token:
                    break
            assert [e.message for e in got] == want
            assert [e.offset for e in got] == offsets[100:]
    finally:
        index.close()


def test_reads_without_fields_serve_the_same_ids_times_and_messages(
    data_dir: Path, write_lines: Callable[..., Path]
) -> None:
    """FilterLogEvents and GetLogEvents read with fields=False (no full parse): for every line
    format's samples, and lines with and without a leading time, the ids, times, ingestion times
    and messages are the ones the fully parsed read serves, with and without a pattern."""
    from logsvc.lines import FORMATS

    texts = [s for f in FORMATS for s in f.samples]
    texts += [
        "2024-05-01T00:00:01.000Z plain timestamped line",
        "2024-05-01T00:00:02.000Z\tabc-123\tINFO\tnode style",
        "1234 starts with digits but no time",
        "no time at all",
    ]
    write_lines("g", "s", [t.replace("\n", " ") for t in texts])
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(Store(data_dir), index).rebuild(None)
        reader = Reader(Store(data_dir), index)
        src = reader.sources(["g"])
        for pattern in ("", "time", "INFO"):
            full = reader.read(src, forward=True, limit=1_000, pattern=pattern).events
            bare = reader.read(src, forward=True, limit=1_000, pattern=pattern, fields=False).events
            assert len(full) >= (len(texts) if not pattern else 1)
            assert [(e.event_id, e.timestamp, e.ingestion_time, e.message) for e in bare] == [
                (e.event_id, e.timestamp, e.ingestion_time, e.message) for e in full
            ], pattern
    finally:
        index.close()
