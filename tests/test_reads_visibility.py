"""Every read path shows the same events: none older than the group's retention, none from bytes the
retention pass punched out of the file (they read back as NULs), none of a deleted stream's file.

Issue #10.3: `context` returned NULs from a punched hole and the histogram counted expired events,
while `Reader.read` hid them; one decision (visibility.py) now serves every path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests

from logsvc import paging
from logsvc.index import BlockIndex, stream_key
from logsvc.ingest import Ingester
from logsvc.query import Reader
from logsvc.store import Store
from logsvc.tail import encode_cursor
from tests.conftest import Server, start_server, wait_for

G, S = "/app/expiring", "web-1"
DAY = 86_400_000
OLD, YOUNG = 400, 50


@pytest.fixture(scope="module")
def expired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, int]]:
    """A stream whose first 400 events are 3 days old in a group kept 1 day, after the retention pass
    has recorded the expired offset and punched the old bytes out; then 50 events from now."""
    data = tmp_path_factory.mktemp("vis") / "data"
    data.mkdir()
    store = Store(data)
    store.create_group(G)
    store.create_stream(G, S)
    now = int(time.time() * 1000)
    store.append_events(
        G, S, [(now - 3 * DAY + i, f"old event {i:05d} " + "x" * 60) for i in range(OLD)]
    )
    store.append_events(G, S, [(now + i, f"young event {i:03d}") for i in range(YOUNG)])
    server = start_server(data, env={"LOGSVC_RETENTION_INTERVAL": "0.3"})
    try:
        wait_for(
            lambda: (
                len(server.json("/api/v1/events", group=G, limit=1000)["events"]) == OLD + YOUNG
            ),
            what="all events indexed",
        )
        store.update_group(G, retention_days=1)
        wait_for(
            lambda: store.retention(G)[1].get(S, 0) > 8192, what="the expired bytes punched out"
        )
        yield server, now
    finally:
        server.stop()


def _assert_only_young(events: list[dict]) -> None:
    messages = [e["message"] for e in events]
    assert all("\x00" not in m for m in messages), "bytes from a punched hole were served"
    assert [m for m in messages if not m.startswith("young event")] == []


def test_context_shows_no_expired_event_and_no_hole(expired: tuple[Server, int]) -> None:
    """The first young event has nothing visible before it, however far back context looks."""
    server, _ = expired
    first = server.json("/api/v1/events", group=G, startFromHead="true", limit=1)["events"][0]
    assert first["message"] == "young event 000"
    got = server.json(
        "/api/v1/events/context", group=G, stream=S, eventId=first["eventId"], before=500, after=5
    )
    _assert_only_young(got["events"])
    assert [e["message"] for e in got["events"]] == [f"young event {i:03d}" for i in range(6)]


def test_context_of_an_expired_event_is_not_found(expired: tuple[Server, int]) -> None:
    """An id from before the expired offset names bytes that are gone."""
    server, _ = expired
    r = server.get(
        "/api/v1/events/context", group=G, stream=S, eventId="0000000000000000" + "0" * 16
    )
    assert r.status_code == 404, r.text


def test_histogram_counts_only_visible_events(expired: tuple[Server, int]) -> None:
    server, now = expired
    for q in ("", "event"):
        got = server.json(
            "/api/v1/histogram",
            group=G,
            start=now - 4 * DAY,
            end=now + 60_000,
            buckets=4,
            q=q,
            levels="true",
        )
        assert sum(b["count"] for b in got["buckets"]) == YOUNG, (q, got)
        # the per-level counts (parsed from the files, not the chunk counts) skip expired events too
        assert (
            got["levelsComplete"]
            and sum(sum(b["levels"].values()) for b in got["buckets"]) == YOUNG
        ), (q, got)


def test_events_search_and_export_hide_expired(expired: tuple[Server, int]) -> None:
    server, now = expired
    _assert_only_young(server.json("/api/v1/events", group=G, limit=1000)["events"])
    _assert_only_young(
        server.json("/api/v1/search", group=G, q="event", start=now - 4 * DAY, limit=1000)["events"]
    )
    r = server.get("/api/v1/export", group=G, start=now - 4 * DAY)
    assert r.status_code == 200
    rows = [json.loads(line) for line in r.text.splitlines()]
    assert len(rows) == YOUNG
    _assert_only_young(rows)


def test_cloudwatch_reads_hide_expired(expired: tuple[Server, int]) -> None:
    server, now = expired
    logs = boto3.client("logs", endpoint_url=server.url, region_name="us-east-1")
    got = logs.get_log_events(logGroupName=G, logStreamName=S, startFromHead=True, limit=10_000)[
        "events"
    ]
    _assert_only_young(got)
    assert len(got) == YOUNG
    got = logs.filter_log_events(logGroupName=G, startTime=now - 4 * DAY)["events"]
    _assert_only_young(got)
    assert len(got) == YOUNG


def _tail_events(server: Server, headers: dict, want: int, **params) -> list[dict]:
    out: list[dict] = []
    with requests.get(
        server.url + "/api/v1/tail",
        params={"group": G, "heartbeat": 1, **params},
        headers=headers,
        stream=True,
        timeout=10,
    ) as r:
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 10
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                out.extend(json.loads(line[6:])["events"])
            if len(out) >= want or time.monotonic() > deadline:
                break
    return out


def test_tail_from_a_cursor_below_the_expired_offset_skips_the_hole(
    expired: tuple[Server, int],
) -> None:
    """A cursor from before the retention pass resumes at the first byte still kept."""
    server, _ = expired
    cursor = encode_cursor(
        paging.codec(server.data_dir), {stream_key(G, S): 0}
    )  # as issued at byte 0
    got = _tail_events(server, {"Last-Event-ID": cursor}, YOUNG)
    _assert_only_young(got)
    assert len(got) == YOUNG


def test_tail_since_replays_only_visible(expired: tuple[Server, int]) -> None:
    server, now = expired
    got = _tail_events(server, {}, YOUNG, since=str(now - 4 * DAY))
    _assert_only_young(got)
    assert len(got) == YOUNG


def test_a_recreated_stream_shows_nothing_of_the_deleted_file(data_dir: Path) -> None:
    """The index still holds the deleted file's blocks until the ingester notices; reads must not
    cut the new file's bytes at the old file's chunk boundaries."""
    store = Store(data_dir)
    path = store.ensure_stream("g", "s")
    path.write_text("".join(f"o{i}\n" for i in range(300)))
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(store, index).rebuild(None)
        store.delete_stream("g", "s")
        path = store.ensure_stream("g", "s")
        line = "new file " + "n" * 300
        path.write_text(line + "\n")
        reader = Reader(store, index)
        got = reader.read(reader.sources(["g"]), forward=True, limit=1000).events
        assert [e.message for e in got] == [line]
        assert [e.message for e in reader.context("g", "s", got[0].event_id)] == [line]
    finally:
        index.close()


def test_reads_ignore_blocks_of_a_file_rewritten_in_place_before_the_ingester_looked(
    data_dir: Path,
) -> None:
    """copytruncate keeps the inode: the blocks' head bytes, not only the inode, tell the old file."""
    store = Store(data_dir)
    path = store.ensure_stream("g", "s")
    path.write_text("".join(f"after m2-{i}\n" for i in range(10)))
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(store, index).rebuild(None)
        ino = path.stat().st_ino
        with open(path, "r+") as f:  # truncate and write longer content, same inode
            f.truncate(0)
            f.write("".join(f"later m3-{i} padding padding padding\n" for i in range(200)))
        assert path.stat().st_ino == ino
        reader = Reader(store, index)
        got = reader.read(reader.sources(["g"]), forward=True, limit=1000).events
        assert [e.message for e in got] == [
            f"later m3-{i} padding padding padding" for i in range(200)
        ]
    finally:
        index.close()


@pytest.mark.parametrize("indexed_before", [False, True])
def test_a_line_longer_than_a_read_slice_hides_nothing_after_it_in_bytes_not_indexed_yet(
    data_dir: Path, indexed_before: bool
) -> None:
    """Reads of bytes the index has not reached follow the ingester's rules (follow.py): a 20 MB line
    is one cut event and the lines after it are there. (A read used to stop at the first 4 MiB
    slice without a newline: only the events before the giant line came back.)"""
    store = Store(data_dir)
    path = store.ensure_stream("g", "s")
    path.write_bytes(b"before the giant\n")
    index = BlockIndex(data_dir / "index")
    try:
        ingester = Ingester(store, index)
        if indexed_before:  # the index covers the first line only; the rest is new bytes
            _ingest_all(ingester)
        with open(path, "ab") as f:
            f.write(b"G" * (20 * 1024 * 1024) + b"\nafter tok1x9\nafter tok2x9\n")
        reader = Reader(store, index)

        def read_all() -> list:
            got, token = [], None
            while True:
                page = reader.read(reader.sources(["g"]), forward=True, limit=10000, token=token)
                got += page.events
                token = page.next_token
                if not token:
                    return got

        got = read_all()
        assert [("<giant>" if len(e.message) > 1000 else e.message) for e in got] == [
            "before the giant",
            "<giant>",
            "after tok1x9",
            "after tok2x9",
        ]
        assert got[1].fields.get("truncated") is True
        assert got[1].message.endswith("[logsvc: cut; the whole event is 20,971,521 bytes]")
        assert got[2].offset == 17 + 20 * 1024 * 1024 + 1
        # the same events (ids, times, messages, fields) once the ingester has indexed them
        _ingest_all(ingester)
        again = read_all()
        assert [(e.event_id, e.timestamp, e.message, e.fields) for e in again] == [
            (e.event_id, e.timestamp, e.message, e.fields) for e in got
        ]
    finally:
        index.close()


def _ingest_all(ingester: Ingester) -> None:
    """Ingest steps until nothing is left (the follow rules' graces passed), then commit."""
    ticks = iter(range(0, 10**9, 10))
    ingester.clock = lambda: float(next(ticks))  # ten seconds between looks: every grace has passed
    ingester.mark_dirty(None)
    for _ in range(100):
        if not ingester.step():
            break
    ingester.commit()
