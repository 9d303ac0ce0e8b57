"""An event's time never changes once served (issue #10.4).

A line without a timestamp of its own gets "the time logsvc read it": decided once, by the first
process that reads its bytes, recorded in the stream's stamps (stamps.py), and the same in a read of
unindexed bytes, in the index, after `logsvc reindex` and in a live tail. The file's modification
time is not that time: it moves with every append and can lag (coarse clocks, `cp -p`, `touch`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import boto3
import requests

from logsvc import stamps
from logsvc.config import Settings
from logsvc.index import BlockIndex
from logsvc.ingest import Ingester
from logsvc.query import Reader
from logsvc.reindex import reindex
from logsvc.store import Store
from tests.conftest import start_server, wait_for

G, S = "app", "s"


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def _set_mtime(path: Path, ms: int) -> None:
    os.utime(path, ns=(ms * 1_000_000, ms * 1_000_000))


def _evidence(data_dir: Path) -> str:
    """What a failure needs to be understood: the stamps sidecar's records and the index's chunks."""
    out = []
    for p in sorted((data_dir / "stamps").rglob("*.stamps")):
        raw = p.read_bytes()[stamps.HEADER.size :]
        recs = list(stamps.REC.iter_unpack(raw[: len(raw) // stamps.REC.size * stamps.REC.size]))
        out.append(f"stamps {p.name}: (end, ms) {recs}")
    index = BlockIndex(data_dir / "index")
    try:
        with index.snapshot() as snap:
            for b in snap.blocks:
                out.append(
                    f"block [{b.start},{b.end}) chunks {list(b.c_start)} ing {list(b.c_ing)}"
                    f" min {list(b.c_min)} max {list(b.c_max)}"
                )
    finally:
        index.close()
    return "; ".join(out)


def _read(reader: Reader) -> list:
    return reader.read(reader.sources([G]), forward=True, limit=1000).events


def test_unstamped_time_is_decided_once_before_and_after_indexing_and_reindex(
    data_dir: Path,
) -> None:
    store = Store(data_dir)
    path = store.ensure_stream(G, S)
    _append(path, "first, no timestamp\n")
    index = BlockIndex(data_dir / "index")
    reader = Reader(store, index)
    first = _read(reader)[0]
    assert first.timestamp == first.ingestion_time

    _append(path, "second, no timestamp\n")
    _set_mtime(path, first.timestamp + 3_600_000)  # the file's time moves on; the event's must not
    again = _read(reader)
    assert (again[0].timestamp, again[0].ingestion_time, again[0].event_id) == (
        first.timestamp,
        first.ingestion_time,
        first.event_id,
    )
    assert again[1].timestamp >= first.timestamp

    Ingester(store, index).rebuild(None)  # now served from the index
    indexed = _read(reader)
    assert [(e.event_id, e.timestamp, e.ingestion_time) for e in indexed] == [
        (e.event_id, e.timestamp, e.ingestion_time) for e in again
    ]
    index.close()

    shutil.rmtree(data_dir / "index")  # a lost index: reindex cannot copy the times from it
    reindex(Settings(data_dir=data_dir))
    index = BlockIndex(data_dir / "index")
    try:
        rebuilt = _read(Reader(store, index))
        assert [(e.event_id, e.timestamp, e.ingestion_time) for e in rebuilt] == [
            (e.event_id, e.timestamp, e.ingestion_time) for e in again
        ]
    finally:
        index.close()


def test_unstamped_line_never_sorts_before_lines_written_before_it(data_dir: Path) -> None:
    """A writer stamps a line with its clock; an unstamped line written after it must not come first,
    and no event's ingestionTime is earlier than the time its writer gave it."""
    store = Store(data_dir)
    path = store.ensure_stream(G, S)
    t = int(time.time() * 1000)
    store.append_events(G, S, [(t, "stamped by its writer")])
    _append(path, "unstamped, written after it\n")
    _set_mtime(path, t - 5_000)  # a file time that lags the writer's clock
    index = BlockIndex(data_dir / "index")
    try:
        reader = Reader(store, index)
        for _ in range(2):  # from the file, then from the index
            evs = _read(reader)
            assert [e.message for e in evs] == [
                "stamped by its writer",
                "unstamped, written after it",
            ]
            assert evs[1].timestamp >= evs[0].timestamp
            assert all(e.ingestion_time >= e.timestamp for e in evs), [
                (e.timestamp, e.ingestion_time) for e in evs
            ]
            Ingester(store, index).rebuild(None)
    finally:
        index.close()


def test_a_truncated_file_does_not_inherit_the_old_times(data_dir: Path) -> None:
    store = Store(data_dir)
    path = store.ensure_stream(G, S)
    _append(path, "before truncation\n")
    index = BlockIndex(data_dir / "index")
    try:
        reader = Reader(store, index)
        old = _read(reader)[0]
        wait_for(lambda: time.time() * 1000 > old.timestamp + 5, what="the clock to move on")
        with open(path, "w", encoding="utf-8") as f:
            f.write("after truncation, another head\n")
        new = _read(reader)
        assert [e.message for e in new] == ["after truncation, another head"]
        assert new[0].timestamp > old.timestamp
    finally:
        index.close()


def test_tail_search_and_cloudwatch_agree_on_an_unstamped_line(data_dir: Path) -> None:
    """The tail (which reads the file ~1 ms after the append, before the ingester commits) decides the
    time; search, the index and GetLogEvents show the same one, also after a server restart."""
    store = Store(data_dir)
    path = store.ensure_stream(G, S)
    server = start_server(data_dir)
    try:
        with requests.get(
            server.url + "/api/v1/tail",
            params={"group": G, "heartbeat": 1},
            stream=True,
            timeout=10,
        ) as r:
            lines_ = r.iter_lines(decode_unicode=True)
            next(lines_)
            _append(path, "unstamped via tail\n")
            tailed = None
            for line in lines_:
                if line.startswith("data: "):
                    tailed = json.loads(line[6:])["events"][0]
                    break
        assert tailed is not None and tailed["message"] == "unstamped via tail"
        _set_mtime(path, tailed["timestamp"] + 60_000)
        _append(path, "another\n")
        wait_for(
            lambda: len(server.json("/api/v1/events", group=G)["events"]) == 2, what="both lines"
        )

        def same_everywhere() -> None:
            rest = server.json("/api/v1/events", group=G, startFromHead="true")["events"]
            logs = boto3.client("logs", endpoint_url=server.url, region_name="us-east-1")
            gle = logs.get_log_events(logGroupName=G, logStreamName=S, startFromHead=True)["events"]
            seen = {
                "rest": [(e["message"], e["timestamp"], e["ingestionTime"]) for e in rest],
                "GetLogEvents": [(e["message"], e["timestamp"], e["ingestionTime"]) for e in gle],
            }
            first = ("unstamped via tail", tailed["timestamp"], tailed["ingestionTime"])
            agree = (
                rest[0]["eventId"] == tailed["eventId"]
                and seen["rest"][0] == first
                and seen["rest"] == seen["GetLogEvents"]
            )
            # the evidence is gathered (index opened, sidecar read) only when they disagree
            assert agree, f"{seen}; tail {first}; {_evidence(data_dir)}"

        same_everywhere()
        server.stop()
        subprocess.run(
            [sys.executable, "-m", "logsvc", "reindex"],
            check=True,
            capture_output=True,
            env={**server.env},
            timeout=60,
        )
        server = start_server(data_dir)
        same_everywhere()
    finally:
        server.stop()


def test_stamps_stay_small_however_often_new_bytes_are_read(data_dir: Path) -> None:
    """One record per 10 ms grid point at most, even when every single line is read on its own."""
    store = Store(data_dir)
    path = store.ensure_stream(G, S)
    index = BlockIndex(data_dir / "index")
    try:
        reader = Reader(store, index)
        began = time.monotonic()
        for i in range(300):
            _append(path, f"line {i}\n")
            assert len(reader.read(reader.sources([G]), limit=1).events) == 1
        elapsed_ms = (time.monotonic() - began) * 1000
    finally:
        index.close()
    sidecars = list((data_dir / "stamps").rglob("*.stamps"))
    assert len(sidecars) == 1
    records = (sidecars[0].stat().st_size - 96) // 16
    assert 1 <= records <= elapsed_ms / 10 + 2, (records, elapsed_ms)


def test_a_stream_deleted_and_created_again_before_the_ingester_looks_is_a_new_file(
    data_dir: Path,
) -> None:
    """Delete a stream (or its group), create it again and append, all before the ingester looks:
    unlinked, the new file could get the deleted one's inode and, with the same first line, pass
    for it (its first event served with the old time and id, CI runs 73 and 127). The deleted file
    waits in the trash until the ingester dropped its blocks, so the new one is read afresh."""
    store = Store(data_dir)
    store.create_group(G)
    index = BlockIndex(data_dir / "index")
    ingester = Ingester(store, index, trash_grace=0)
    reader = Reader(store, index)

    def ingest() -> None:
        ingester.mark_dirty(None)
        ingester.step()
        ingester.commit()

    try:
        for how in ("stream", "group", "stream"):
            store.create_stream(G, S)
            _append(store.stream_file(G, S), "same words\n")
            ingest()
            old = _read(reader)
            assert [e.message for e in old] == ["same words"]
            wait_for(lambda o=old: time.time() * 1000 > o[0].ingestion_time + 20, what="time")
            if how == "stream":
                store.delete_stream(G, S)  # as DeleteLogStream does
                stamps.forget(store, G, S)
            else:
                store.delete_group(G)  # as DeleteLogGroup does
                stamps.forget(store, G)
                store.create_group(G)
            store.create_stream(G, S)
            _append(store.stream_file(G, S), "same words\nline two\n")
            ingest()
            new = _read(reader)
            assert [e.message for e in new] == ["same words", "line two"], _evidence(data_dir)
            assert new[0].ingestion_time > old[0].ingestion_time, _evidence(data_dir)
            assert new[0].event_id != old[0].event_id
            assert store.trash() == []  # dropped and committed: the deleted file is let go
            store.delete_stream(G, S)
            ingest()
    finally:
        index.close()


def test_the_trash_waits_for_the_columns_and_for_its_grace(data_dir: Path) -> None:
    """The deleted file's inode stays taken until every derived copy (the columns) has followed the
    index past the commit that dropped it, and for a grace in which followers see it replaced."""
    store = Store(data_dir)
    store.create_group(G)
    index = BlockIndex(data_dir / "index")
    now = [1000.0]
    ingester = Ingester(store, index, clock=lambda: now[0], trash_grace=60)
    followed = [-1]
    ingester.derived_caught_up = lambda generation: followed[0] >= generation
    try:
        _append(store.ensure_stream(G, S), "a line\n")
        ingester.step()
        ingester.commit()
        store.delete_stream(G, S)
        ingester.step()
        held = store.trash()
        assert len(held) == 1 and held[0][1], held
        assert _read(Reader(store, index)) == []  # the blocks are gone already
        with index.snapshot() as snap:
            followed[0] = snap.generation
        now[0] += 59
        ingester.step()
        assert store.trash() == held  # the columns followed; the grace is not over
        now[0] += 1
        ingester.step()
        assert store.trash() == []
    finally:
        index.close()


def test_a_stream_deleted_and_created_again_gets_new_times(data_dir: Path) -> None:
    store = Store(data_dir)
    store.create_group(G)
    server = start_server(data_dir)
    try:
        logs = boto3.client("logs", endpoint_url=server.url, region_name="us-east-1")
        logs.create_log_stream(logGroupName=G, logStreamName=S)
        _append(store.stream_file(G, S), "same words\n")
        first = wait_for(lambda: server.json("/api/v1/events", group=G)["events"], what="the line")[
            0
        ]
        logs.delete_log_stream(logGroupName=G, logStreamName=S)
        wait_for(
            lambda: time.time() * 1000 > first["ingestionTime"] + 20, what="the clock to move on"
        )
        logs.create_log_stream(logGroupName=G, logStreamName=S)
        _append(store.stream_file(G, S), "same words\n")
        again = wait_for(
            lambda: server.json("/api/v1/events", group=G)["events"], what="the line again"
        )[0]
        assert again["message"] == "same words"
        assert (
            again["ingestionTime"] > first["ingestionTime"]
            and again["timestamp"] > first["timestamp"]
        )
    finally:
        server.stop()
