"""The columnar path through the real runner (jobs.py) over real stream files, index and reader:
events in the columns and bytes appended after them are counted exactly once, a deleted and
recreated stream's old rows are not counted, and every answer equals the row engine's.

The column store (helper "columns": `logsvc.columns.store`) is not on this branch yet, so the test's
`Snapshot` stands in for it with the contract's API (files, covered) over Parquet files written with
`schema.arrow_table([schema.event_columns(ev) ...])`.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from logsvc import colquery
from logsvc.columns import schema
from logsvc.config import Settings
from logsvc.index import BlockIndex
from logsvc.ingest import Ingester
from logsvc.jobs import Jobs
from logsvc.query import Reader, iter_all
from logsvc.store import Store

G = "/aws/lambda/fn"
A, B = "2025/12/01/[$LATEST]aaaa", "2025/12/01/[$LATEST]bbbb"
T0 = 1764547200000  # 2025-12-01


class Snapshot:
    """Stand-in for `columns.store.snapshot(root)`: the contract's API over files the test wrote."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self.cover: dict[tuple[str, str], tuple[str, int]] = {}
        self.calls = 0

    def files(self, groups, start_ms, end_ms):
        self.calls += 1
        return list(self.paths)

    def covered(self, group: str, stream: str):
        return self.cover.get((group, stream))


def _lines(stream: str, n: int, start: int = 0) -> str:
    out = []
    for i in range(start, start + n):
        t = T0 + i * 1000 + (7 if stream == B else 0)
        d = (i * 37 % 1000) / 100 + 0.01
        out.append(
            f"{_iso(t)} REPORT RequestId: {stream[-4:]}-{i:04d}\tDuration: {d:.2f} ms\tBilled Duration: "
            f"{int(d) + 1} ms\tMemory Size: 128 MB\tMax Memory Used: {40 + i % 9} MB\t\n"
        )
    return "".join(out)


def _iso(ms: int) -> str:
    import time

    s, m = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{m:03d}Z"


@pytest.fixture
def world(data_dir: Path, settings: Settings):
    store = Store(data_dir)
    store.create_group(G)
    pa_ = store.ensure_stream(G, A)
    pb = store.ensure_stream(G, B)
    pa_.write_text(_lines(A, 30))
    pb.write_text(_lines(B, 20))
    index = BlockIndex(data_dir / "index")
    Ingester(store, index).rebuild(None)
    reader = Reader(store, index)
    snap = Snapshot()
    # the columns: A's first 20 events and all of B's, as the builder would write them
    events = list(iter_all(reader, reader.sources([G]), forward=True, limit=1000))
    a_events = [e for e in events if e.stream == A][:20]
    b_events = [e for e in events if e.stream == B]
    out = data_dir / "cols.parquet"
    pq.write_table(
        schema.arrow_table([schema.event_columns(e) for e in a_events + b_events]),
        out,
        compression="zstd",
    )
    snap.paths.append(out)
    snap.cover[(G, A)] = (a_events[-1].ident.hex(), a_events[-1].end)
    snap.cover[(G, B)] = (b_events[-1].ident.hex(), b_events[-1].end)
    # bytes appended after the columns were made: not covered, read from the file
    with open(pa_, "a") as f:
        f.write(_lines(A, 5, start=30))
    columns_on = Jobs(
        store,
        reader,
        settings,
        columnar=colquery.Columnar(store.root, reader, snapshot=lambda root: snap),
    )
    row_engine = Jobs(store, reader, settings.with_(columns=False))
    assert row_engine.columnar is None
    yield store, reader, snap, columns_on, row_engine
    columns_on.close()
    row_engine.close()
    index.close()


def _run(jobs: Jobs, text: str, limit: int = 10_000) -> tuple[dict, list]:
    st = jobs.start(text, [G], T0 - 1000, T0 + 86_400_000, limit, wait=60)
    assert st["status"] == "Complete", st
    return jobs.results(st["queryId"])


def _cells(rows: list) -> list:
    return [[(f, v) for f, v in r if f != "@ptr"] for r in rows]


QUERIES = [
    "stats count(*) as n, sum(@duration) as s, avg(@duration) as a, pct(@duration, 90) as p by @logStream",
    "filter @duration > 5 | stats count(*), max(@maxMemoryUsed), earliest(@duration), latest(@timestamp) by bin(10s)",
    "filter @duration > 5 | fields @requestId, @duration | limit 7",
    "filter @requestId like 'aaaa-003' | sort @timestamp asc",
    "stats count(*) by bin(1m)",
]


@pytest.mark.parametrize("text", QUERIES)
def test_columns_and_appended_bytes_answer_as_the_row_engine(world, text: str) -> None:
    store, reader, snap, columns_on, row_engine = world
    st1, got = _run(columns_on, text)
    st2, want = _run(row_engine, text)
    assert snap.calls >= 1  # the columnar path ran (a query that maps reads the snapshot)
    assert _cells(got) == _cells(want)
    assert [[f for f, _ in r] for r in got] == [[f for f, _ in r] for r in want]
    for k in ("recordsMatched", "recordsScanned"):
        assert st1["statistics"][k] == st2["statistics"][k], k


def test_every_event_is_counted_once(world) -> None:
    store, reader, snap, columns_on, row_engine = world
    _, rows = _run(columns_on, "stats count(*) as n by @logStream")
    assert sorted(_cells(rows)) == [
        [("@logStream", A), ("n", "35")],
        [("@logStream", B), ("n", "20")],
    ]


def test_a_recreated_streams_old_rows_are_not_counted(world) -> None:
    store, reader, snap, columns_on, row_engine = world
    store.delete_stream(G, B)
    store.ensure_stream(G, B).write_text(_lines(B, 3, start=500))
    _, rows = _run(columns_on, "stats count(*) as n, max(@duration) as m by @logStream")
    _, want = _run(row_engine, "stats count(*) as n, max(@duration) as m by @logStream")
    assert dict((r[0][1], r[1][1]) for r in _cells(rows)) == {A: "35", B: "3"}
    assert _cells(rows) == _cells(want)


def test_pointers_of_columnar_rows_lead_to_their_events(world) -> None:
    store, reader, snap, columns_on, row_engine = world
    _, rows = _run(columns_on, "filter @duration > 9 | fields @requestId")
    assert rows
    for r in rows:
        cells = dict(r)
        record = columns_on.log_record(cells["@ptr"])
        assert record["@requestId"] == cells["@requestId"]


def test_duckdb_memory_is_bounded_and_a_query_past_it_runs_the_row_engine(
    world, settings: Settings, caplog
) -> None:
    """DuckDB's own default is 80% of the machine's memory, spilling into the working directory;
    `insights_memory` bounds it per process and spills under the data directory. A query that does
    not fit is answered by the row engine, with the same rows."""
    store, reader, snap, columns_on, row_engine = world
    text = QUERIES[0]
    _, want = _run(row_engine, text)
    tiny = Jobs(
        store,
        reader,
        settings.with_(insights_memory=1),
        columnar=None,
    )
    tiny.columnar = colquery.Columnar(
        store.root, reader, snapshot=lambda root: snap, memory=tiny.settings.insights_memory
    )
    try:
        calls = snap.calls
        with caplog.at_level("WARNING", logger="logsvc.colquery"):
            _, got = _run(tiny, text)
        assert snap.calls > calls  # the columnar path was tried ...
        assert "OutOfMemory" in caplog.text  # ... and DuckDB refused past its bound
        assert _cells(got) == _cells(want)
    finally:
        tiny.close()
    assert (store.root / "tmp" / "duckdb").is_dir()  # spills go under the data directory
