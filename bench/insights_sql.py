"""Q1-Q4 (ARCHITECTURE.md, "Insights: the columnar copy") through the runner (jobs.py), columnar
path vs row engine, over a bench/corpus.py corpus. The column store is not on this branch yet: the
columns are written here with `schema.event_columns` (one Parquet file per group) and a stand-in
snapshot covers every stream to its end.

    python bench/insights_sql.py --events 1000000 [--dir /tmp/sqlbench] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

Q1 = 'filter @type = "REPORT" | stats avg(@duration), pct(@duration, 99), max(@maxMemoryUsed) by bin(5m)'
Q2 = "stats count(*) by level, bin(1h)"
Q3 = 'filter @requestId = "{rid}"'
Q4 = 'parse @message "* * *" as a, b, c | stats count(*) by b'


class Snap:
    def __init__(self, paths: dict, cover: dict) -> None:
        self.paths, self.cover = paths, cover

    def files(self, groups, start_ms, end_ms):
        return [self.paths[g] for g in groups if g in self.paths]

    def covered(self, group: str, stream: str):
        return self.cover.get((group, stream))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--row-engine", action="store_true", help="also time the row engine (slow)")
    args = ap.parse_args()
    import corpus as gen
    import pyarrow.parquet as pq

    from logsvc import colquery
    from logsvc.columns import schema
    from logsvc.config import Settings
    from logsvc.index import BlockIndex
    from logsvc.ingest import Ingester
    from logsvc.jobs import Jobs
    from logsvc.query import Reader, iter_all
    from logsvc.store import Store

    root = args.dir or Path(tempfile.mkdtemp(prefix="sqlbench-"))
    t = time.perf_counter()
    info = gen.generate(root, args.events, streams=200)
    print(
        f"corpus: {info['lines']} lines, {info['bytes'] / 1e6:.1f} MB, {time.perf_counter() - t:.1f} s",
        flush=True,
    )
    store = Store(root)
    index = BlockIndex(root / "index")
    t = time.perf_counter()
    Ingester(store, index).rebuild(None)
    print(f"index: {time.perf_counter() - t:.1f} s", flush=True)
    reader = Reader(store, index)
    groups = sorted(info["streams_by_group"])
    t = time.perf_counter()
    paths, cover, rid = {}, {}, None
    for g in groups:
        rows, last = [], {}
        for ev in iter_all(reader, reader.sources([g]), forward=True, limit=10_000):
            r = schema.event_columns(ev)
            rows.append(r)
            last[ev.stream] = (r["ident"], ev.end)
            if rid is None and r["rid"]:
                rid = r["rid"]
        p = root / f"cols-{len(paths)}.parquet"
        pq.write_table(schema.arrow_table(rows), p, compression="zstd", row_group_size=128 * 1024)
        paths[g] = p
        cover.update({(g, s): v for s, v in last.items()})
    print(f"columns (exact extractor): {time.perf_counter() - t:.1f} s", flush=True)
    settings = Settings(data_dir=root)
    snap = Snap(paths, cover)
    col = Jobs(
        store,
        reader,
        settings,
        columnar=colquery.Columnar(store.root, reader, snapshot=lambda r: snap),
    )
    rowe = Jobs(store, reader, settings.with_(columns=False))
    lo, hi = info["start"] - 1000, info["end"] + 1000
    for name, q in (("Q1", Q1), ("Q2", Q2), ("Q3", Q3.format(rid=rid)), ("Q4", Q4)):
        times, rows = [], None
        for _ in range(args.repeat):
            t = time.perf_counter()
            st = col.start(q, groups, lo, hi, 10_000, wait=3600)
            times.append((time.perf_counter() - t) * 1000)
            rows = col.results(st["queryId"])[1]
        line = f"{name} columnar: median {statistics.median(times):.0f} ms ({min(times):.0f}-{max(times):.0f}), {len(rows)} rows"
        if args.row_engine:
            t = time.perf_counter()
            st = rowe.start(q, groups, lo, hi, 10_000, wait=3600)
            ms = (time.perf_counter() - t) * 1000
            want = rowe.results(st["queryId"])[1]
            same = [[c for c in r if c[0] != "@ptr"] for r in rows] == [
                [c for c in r if c[0] != "@ptr"] for r in want
            ]
            line += f"; row engine {ms:.0f} ms; equal cells: {same}"
        print(line, flush=True)
    col.close()
    rowe.close()
    index.close()


if __name__ == "__main__":
    main()
