"""Issue #16's "Done means" at scale: `logsvc export`'s partitions read by DuckDB and by ClickHouse
(chDB, in process) give the same counts and sums as logsvc's own Insights queries.

    python bench/export_engines.py --events 1000000 [--workdir /tmp/exportbench]

A bench/corpus.py Lambda corpus (10 `/aws/lambda/*` groups, 200 streams, 72 h over 4 UTC days) is
written once per size, hard-linked into a fresh data directory and served by a real `logsvc serve`;
once every event is indexed and the columnar copy covers every stream, the real CLI exports every
group to Parquet, then three questions are asked of each side:

  levels   count per JSON `level`        Insights: filter ispresent(level) | stats count(*) by level
  report   count, sum, avg of @duration  Insights: filter @type = "REPORT" | stats count(*), sum, avg
  days     count per group per UTC day   Insights: stats count(*) by bin(1d), one query per group
                                         (`by @log, bin(1d)` over all groups is not mapped to SQL:
                                         36 s at 50k events in the row engine)

Counts must be equal; sums and averages are compared exactly and to 1e-9 relative (DuckDB's and
ClickHouse's float sums depend on the order they add in; Insights sums exactly). Prints one JSON line
(timings of the export and every query, sizes, the load average, each answer's agreement) and exits
1 if the answers disagree. Never asserts on a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

END_MS = 1_795_000_000_000
SPAN_HOURS = 72
TERMINAL = {"Complete", "Failed", "Cancelled", "Timeout"}
INSIGHTS = {
    "levels": "filter ispresent(level) | stats count(*) as n by level",
    "report": 'filter @type = "REPORT" | stats count(*) as n, sum(@duration) as s, avg(@duration) as a',
    "days": "stats count(*) as n by bin(1d) as day",  # one query per group: @log keys run the row engine
}
SQL = {
    "duckdb": {
        "levels": "SELECT level, count(*) FROM {src} WHERE level IS NOT NULL GROUP BY level",
        "report": "SELECT count(*), sum(duration_ms), avg(duration_ms) FROM {src} WHERE type = 'REPORT'",
        "days": "SELECT log_group, CAST(day AS VARCHAR), count(*) FROM {src} GROUP BY ALL",
    },
    "clickhouse": {
        "levels": "SELECT level, count() FROM {src} WHERE level IS NOT NULL GROUP BY level",
        "report": "SELECT count(), sum(duration_ms), avg(duration_ms) FROM {src} WHERE type = 'REPORT'",
        "days": "SELECT log_group, toString(day), count() FROM {src} GROUP BY ALL "
        "SETTINGS use_hive_partitioning = 1",
    },
}


def start(data: Path) -> tuple[subprocess.Popen, str]:
    env = dict(
        os.environ, LOGSVC_DATA_DIR=str(data), LOGSVC_LOG_LEVEL="warning", PYTHONPATH=str(REPO)
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "logsvc", "serve", "--port", "0"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    for line in proc.stdout:  # type: ignore[union-attr]
        if "serving http" in line:
            return proc, line.split("serving ", 1)[1].split()[0].rstrip("/")
    raise RuntimeError("server did not start")


def covered_all(data: Path) -> bool:
    from logsvc.columns import store as cstore
    from logsvc.store import Store

    snap = cstore.snapshot(data)
    for group, stream, path in Store(data).iter_stream_files():
        c = snap.covered(group, stream)
        if c is None or c[1] < path.stat().st_size:
            return False
    return True


def timed(f):
    t = time.perf_counter()
    out = f()
    return out, round((time.perf_counter() - t) * 1000, 1)


def insights(logs, groups: list[str], lo: int, hi: int, query: str) -> list[dict]:
    qid = logs.start_query(
        logGroupNames=groups, startTime=lo // 1000, endTime=hi // 1000 + 1, queryString=query
    )["queryId"]
    while True:
        r = logs.get_query_results(queryId=qid)
        if r["status"] in TERMINAL:
            break
        time.sleep(0.01)
    if r["status"] != "Complete":
        raise RuntimeError(f"Insights query ended {r['status']}: {query}")
    return [{c["field"]: c["value"] for c in row} for row in r["results"]]


def normalise(kind: str, rows) -> object:
    """Each side's answer as {key: value} / (n, sum, avg), numbers as Python ints and floats."""
    if kind == "levels":
        return {k: int(v) for k, v in rows}
    if kind == "report":
        n, s, a = rows[0]
        return (int(n), float(s), float(a))
    return {(g, d): int(n) for g, d, n in rows}


def agree(a: object, b: object) -> tuple[bool, bool]:
    """(equal within 1e-9 relative, bit-equal)."""
    if isinstance(a, tuple):
        close = a[0] == b[0] and all(
            abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1) for x, y in zip(a[1:], b[1:], strict=True)
        )
        return close, a == b
    return a == b, a == b


def run(corpus_root: Path, work: Path, info: dict) -> dict:
    import boto3
    import chdb
    import duckdb
    from botocore.config import Config

    from logsvc.columns import store as cstore

    data = work / "data"
    out_dir = work / "export"
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(out_dir, ignore_errors=True)
    data.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(corpus_root / "groups"), str(data / "groups")], check=True)
    lo, hi = END_MS - SPAN_HOURS * 3_600_000 - 60_000, END_MS + 60_000
    res: dict = {
        "lines": info["lines"],
        "raw_bytes": info["bytes"],
        "load_start": os.getloadavg()[0],
    }
    t0 = time.monotonic()
    proc, url = start(data)
    try:
        deadline = time.monotonic() + 1800
        while (requests.get(url + "/healthz", timeout=10).json().get("eventsIngested") or 0) < info[
            "lines"
        ]:
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not index the corpus in 30 minutes")
            time.sleep(0.2)
        res["indexed_s"] = round(time.monotonic() - t0, 1)
        while not covered_all(data):
            if time.monotonic() > deadline:
                raise RuntimeError("the columnar copy did not cover the corpus in 30 minutes")
            time.sleep(0.2)
        res["columns_covered_s"] = round(time.monotonic() - t0, 1)
        while True:  # and compacted to one file per group and day (the steady state)
            snap = cstore.snapshot(data)
            if len(snap.entries) == len({(e.group, e.day) for e in snap.entries}):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the columnar copy was not compacted in 30 minutes")
            time.sleep(0.2)
        res["columns_compacted_s"] = round(time.monotonic() - t0, 1)
        res["load_export"] = os.getloadavg()[0]
        t = time.perf_counter()
        r = subprocess.run(
            [sys.executable, "-m", "logsvc", "--data-dir", str(data), "export", "--group", "/aws/lambda/*",
             "--since", str(lo), "--until", str(hi), "--to", str(out_dir)],
            env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
        )  # fmt: skip
        res["export_s"] = round(time.perf_counter() - t, 2)
        if r.returncode:
            raise RuntimeError(f"export failed: {r.stderr}")
        marker = json.loads((out_dir / "_logsvc_export.json").read_text())
        res["exported_events"] = marker["events"]
        res["export_bytes"] = marker["bytes"]
        res["export_x_raw"] = round(marker["bytes"] / info["bytes"], 3)
        res["partitions"] = len(marker["partitions"])
        res["export_events_per_s"] = round(marker["events"] / res["export_s"])
        groups = marker["groups"]
        logs = boto3.client(
            "logs", endpoint_url=url, region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",
            config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )  # fmt: skip
        answers: dict[str, dict] = {"insights": {}, "duckdb": {}, "clickhouse": {}}
        ms: dict[str, dict] = {k: {} for k in answers}
        for kind, q in INSIGHTS.items():
            if kind == "days":
                rows, ms["insights"][kind] = timed(
                    lambda q=q: [(g, insights(logs, [g], lo, hi, q)) for g in groups]
                )
            else:
                rows, ms["insights"][kind] = timed(lambda q=q: insights(logs, groups, lo, hi, q))
            if kind == "levels":
                answers["insights"][kind] = normalise(kind, [(r["level"], r["n"]) for r in rows])
            elif kind == "report":
                answers["insights"][kind] = normalise(
                    kind, [(rows[0]["n"], rows[0]["s"], rows[0]["a"])]
                )
            else:
                answers["insights"][kind] = normalise(
                    kind, [(g, r["day"][:10], r["n"]) for g, rs in rows for r in rs]
                )
        glob = f"{out_dir}/**/*.parquet"
        con = duckdb.connect()
        for kind, q in SQL["duckdb"].items():
            sql = q.format(src=f"read_parquet('{glob}', hive_partitioning = true)")
            rows, ms["duckdb"][kind] = timed(lambda sql=sql: con.execute(sql).fetchall())
            answers["duckdb"][kind] = normalise(kind, rows)
        for kind, q in SQL["clickhouse"].items():
            sql = q.format(src=f"file('{glob}', Parquet)")
            rows, ms["clickhouse"][kind] = timed(
                lambda sql=sql: json.loads(chdb.query(sql, "JSONCompact").bytes())["data"]
            )
            answers["clickhouse"][kind] = normalise(kind, rows)
        res["query_ms"] = ms
        res["agree"] = {}
        ok = True
        for engine in ("duckdb", "clickhouse"):
            for kind in INSIGHTS:
                close, exact = agree(answers[engine][kind], answers["insights"][kind])
                res["agree"][f"{engine}.{kind}"] = "exact" if exact else "1e-9" if close else "NO"
                ok &= close
        rep = answers["insights"]["report"]
        res["answers"] = {
            "levels": answers["insights"]["levels"],
            "report_n_sum_avg": {e: answers[e]["report"] for e in answers},
            "group_days": len(answers["insights"]["days"]),
            "events_by_days": sum(answers["insights"]["days"].values()),
        }
        res["ok"] = (
            ok and rep[0] > 0 and sum(answers["insights"]["days"].values()) == marker["events"]
        )
        res["load_end"] = os.getloadavg()[0]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--workdir", default="/tmp/exportbench")
    args = ap.parse_args()
    import corpus

    work = Path(args.workdir)
    corpus_root = work / f"corpus-{args.events}"
    info_path = corpus_root / "info.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
    else:
        shutil.rmtree(corpus_root, ignore_errors=True)
        corpus_root.mkdir(parents=True)
        got = corpus.generate(
            corpus_root, args.events, streams=200, seed=7, end_ms=END_MS, span_hours=SPAN_HOURS
        )
        info = {"lines": got["lines"], "bytes": got["bytes"]}
        info_path.write_text(json.dumps(info))
    res = run(corpus_root, work, info)
    print(json.dumps(res, default=str), flush=True)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
