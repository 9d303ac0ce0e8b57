"""The ingesting worker: it serves no new connections while another worker can, and every worker
reports its ingest state (service.py, serve.py; ARCHITECTURE.md "One writer, many readers")."""

from __future__ import annotations

import dataclasses
import gc
import os
import time
import uuid
from pathlib import Path

import pytest
import requests

from logsvc.board import Board
from logsvc.config import Settings
from logsvc.filterpattern import compile_pattern
from logsvc.index import BlockIndex, Snapshot
from logsvc.service import Service
from logsvc.store import Store
from tests.conftest import start_server, wait_for

G, S = "/aws/lambda/writer", "one"


def _health(url: str) -> dict:
    """/healthz on a connection of its own (so any worker that accepts may answer)."""
    with requests.Session() as s:
        return s.get(url + "/healthz", timeout=5, headers={"Connection": "close"}).json()


def test_the_ingesting_worker_takes_no_new_connections_and_others_report_its_state(
    data_dir: Path, write_lines
) -> None:
    server = start_server(data_dir)  # two workers (the default)
    try:
        writer = wait_for(lambda: _health(server.url).get("writerPid"), what="a writer")
        answers = [_health(server.url) for _ in range(30)]
        assert {a["pid"] for a in answers}.isdisjoint({writer}), answers
        assert not any(a["ingesting"] for a in answers)

        write_lines(G, S, [f"line {i}" for i in range(25)])
        got = wait_for(
            lambda: (h := _health(server.url))["eventsIngested"] == 25 and h, what="25 ingested"
        )
        assert got["writerPid"] == writer and got["ingestError"] is None
        found = requests.get(
            server.url + "/api/v1/search", params={"q": "line", "group": G}, timeout=10
        ).json()
        assert len(found["events"]) == 25
    finally:
        server.stop()


def test_a_single_worker_ingests_and_serves(data_dir: Path, write_lines) -> None:
    server = start_server(data_dir, "--workers", "1")
    try:
        writer = wait_for(lambda: _health(server.url).get("writerPid"), what="a writer")
        write_lines(G, S, ["only line"])
        got = wait_for(lambda: (h := _health(server.url))["eventsIngested"] == 1 and h)
        assert got["pid"] == writer and got["ingesting"]
    finally:
        server.stop()


def test_a_state_left_by_an_earlier_writer_is_not_reported(
    data_dir: Path, settings: Settings
) -> None:
    board = Board()
    board.publish({"pid": 4_000_000, "eventsIngested": 7, "ingestError": "disk full"})
    with Service(dataclasses.replace(settings, ingest=False), board=board) as svc:
        st = svc.status()
    assert st["writerPid"] is None
    assert st["eventsIngested"] is None and st["ingestError"] is None


def test_the_board_is_shared_with_a_forked_process() -> None:
    board = Board()
    assert board.read() is None
    board.publish({"pid": 1, "eventsIngested": 3})
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child publishes; the parent reads what it wrote
        try:
            board.publish({"pid": 2, "eventsIngested": 12345, "ingestError": "the disk is full"})
            os.write(w, b"1")
        finally:
            os._exit(0)
    os.read(r, 1)
    os.waitpid(pid, 0)
    assert board.read() == {"pid": 2, "eventsIngested": 12345, "ingestError": "the disk is full"}
    with pytest.raises(ValueError):
        board.publish({"x": "y" * 5000})


def test_a_writer_that_serves_no_reads_leaves_bloom_filters_on_disk_and_still_finds_all(
    settings: Settings, write_lines
) -> None:
    lines = [f"request {i} id-{i * 7919:08x}z" for i in range(3000)]  # ids: Bloom tokens
    write_lines(G, S, lines)
    with Service(dataclasses.replace(settings, block_lines=256), writer_reads=False) as svc:
        wait_for(lambda: svc.is_writer, what="the writer")
        assert svc.wait_indexed(timeout=30)
        with svc.index.snapshot() as snap:
            assert len(snap.blocks) >= 10 and all(b.bloom is None for b in snap.blocks)
        src = svc.reader.sources([G])
        want = "id-" + f"{1234 * 7919:08x}z"
        assert [e.message for e in svc.reader.read(src, pattern=want).events] == [lines[1234]]
    reader = BlockIndex(settings.data_dir / "index")  # any other process: the filters, as stored
    try:
        with reader.snapshot() as snap:
            assert all(b.bloom for b in snap.blocks)
            # the filters narrow there: a few of the 12 blocks, not every one
            assert len(snap.candidates(compile_pattern(want).token_query())) < len(snap.blocks)
    finally:
        reader.close()


def test_a_writer_that_serves_no_reads_keeps_no_blocks_between_its_uses(
    settings: Settings, write_lines
) -> None:
    """Its retention passes read the blocks; nothing may keep them between passes (at 10M lines
    they were 20 MB of its heap, every minute of the day)."""
    group = f"/aws/lambda/keep-{uuid.uuid4().hex[:8]}"  # whose blocks only this test makes
    old, new = (
        time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - d * 86400))
        for d in (40, 0)
    )
    write_lines(group, S, [f"{old if i < 1500 else new} request {i}" for i in range(3000)])
    store = Store(settings.data_dir)
    # each pass reads the blocks: the first half has expired
    store.update_group(group, retention_days=30)

    def held() -> list:
        gc.collect()
        return [
            o
            for o in gc.get_objects()
            if isinstance(o, Snapshot) and any(b.group == group for b in o.blocks)
        ]

    s = dataclasses.replace(settings, block_lines=256, retention_interval=0.3)
    with Service(s, writer_reads=False) as svc:
        wait_for(lambda: svc.is_writer, what="the writer")
        assert svc.wait_indexed(timeout=30)
        wait_for(lambda: store.retention(group)[1].get(S), what="a retention pass")
        time.sleep(1.0)  # a few more
        wait_for(lambda: not held(), timeout=5, what="no snapshot held between retention passes")
        with svc.index.snapshot() as snap:  # and each use still reads every block
            assert sum(b.lines for b in snap.blocks if b.group == group) == 3000
            assert any(o is snap for o in held())  # what `held` looks for, it finds


@pytest.mark.parametrize("char", ["d", "\U0001f600", "\x01"])  # 1 byte, a surrogate pair, escaped
def test_a_long_ingest_error_is_published_cut_and_publishing_goes_on(
    settings: Settings, char: str
) -> None:
    """An error quoting a long path (names are untrusted: any characters) must not stop the
    writer's state from reaching the others."""
    board = Board()
    with Service(settings, board=board) as svc:
        wait_for(lambda: svc.is_writer, what="the writer")
        svc.ingester.last_error = "cannot read /" + char * 10_000
        got = wait_for(lambda: (d := board.read()) and d["ingestError"] and d)
        assert got["ingestError"].startswith("cannot read /" + char * 3)
        assert len(got["ingestError"]) < 600
        svc.ingester.last_error = None
        wait_for(lambda: (d := board.read()) and d["ingestError"] is None, what="the error cleared")
