"""Ingest with and without Insights' column builder: lines/s, the builder's lag and CPU, the copy's size.

    python bench/columns_ingest.py --events 1000000 [--workdir /tmp/colbench]

For each mode (LOGSVC_COLUMNS off, then on) a fresh data directory (stream files hard-linked from one
generated corpus, bench/corpus.py) and a real `logsvc serve --port 0`; ingest time = server start
until /healthz's eventsIngested reaches the corpus's line count; with columns on, the builder's lag =
from then until the manifest covers every stream to its file's end, then until compaction has left
one file per group and day. Never asserts on a timing; prints one JSON line per mode.
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


def start(data: Path, columns: bool) -> tuple[subprocess.Popen, str, float]:
    env = dict(
        os.environ,
        LOGSVC_DATA_DIR=str(data),
        LOGSVC_COLUMNS="on" if columns else "off",
        LOGSVC_LOG_LEVEL="warning",
        PYTHONPATH=str(REPO),
    )
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "logsvc", "serve", "--port", "0"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    for line in proc.stdout:  # type: ignore[union-attr]
        if "serving http" in line:
            return proc, line.split("serving ", 1)[1].split()[0].rstrip("/"), t0
    raise RuntimeError("server did not start")


def builder_pids(root_pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (
                    b"logsvc.columns.builder" in (d / "cmdline").read_bytes()
                    and os.getpgid(int(d.name)) == root_pid
                ):
                    out.append(int(d.name))
            except OSError:
                pass
    return out


def cpu_seconds(pid: int) -> float:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def covered_all(data: Path) -> bool:
    from logsvc.columns import store as cstore
    from logsvc.store import Store

    snap = cstore.snapshot(data)
    for group, stream, path in Store(data).iter_stream_files():
        c = snap.covered(group, stream)
        if c is None or c[1] < path.stat().st_size:
            return False
    return True


def run(corpus_root: Path, work: Path, lines: int, raw: int, columns: bool) -> dict:
    from logsvc.columns import store as cstore

    data = work / ("on" if columns else "off")
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(corpus_root / "groups"), str(data / "groups")], check=True)
    proc, url, t0 = start(data, columns)
    out: dict = {
        "columns": columns,
        "lines": lines,
        "raw_bytes": raw,
        "load_start": os.getloadavg()[0],
    }
    try:
        bpid = None
        bcpu = 0.0
        while True:
            n = requests.get(url + "/healthz", timeout=10).json().get("eventsIngested") or 0
            if columns and bpid is None:
                pids = builder_pids(proc.pid)
                bpid = pids[0] if pids else None
            if bpid:
                bcpu = max(bcpu, cpu_seconds(bpid))
            if n >= lines:
                break
            time.sleep(0.1)
        t_index = time.monotonic() - t0
        out["ingest_s"] = round(t_index, 2)
        out["lines_per_s"] = round(lines / t_index)
        if columns:
            while not covered_all(data):
                bcpu = max(bcpu, cpu_seconds(bpid)) if bpid else bcpu
                time.sleep(0.1)
            out["covered_after_s"] = round(time.monotonic() - t0, 2)
            out["builder_lag_s"] = round(time.monotonic() - t0 - t_index, 2)
            out["files_when_covered"] = len(cstore.snapshot(data).entries)
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                snap = cstore.snapshot(data)
                if len(snap.entries) == len({(e.group, e.day) for e in snap.entries}):
                    break
                bcpu = max(bcpu, cpu_seconds(bpid)) if bpid else bcpu
                time.sleep(0.2)
            out["compacted_after_s"] = round(time.monotonic() - t0, 2)
            bcpu = max(bcpu, cpu_seconds(bpid)) if bpid else bcpu
            snap = cstore.snapshot(data)
            out["files"] = len(snap.entries)
            out["rows"] = sum(e.rows for e in snap.entries)
            size = sum((data / "columns" / e.name).stat().st_size for e in snap.entries)
            out["columns_bytes"] = size
            out["columns_x_raw"] = round(size / raw, 3)
            out["builder_cpu_s"] = round(bcpu, 1)
            out["builder_cpu_us_per_event"] = round(bcpu / lines * 1e6, 1)
        out["load_end"] = os.getloadavg()[0]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--workdir", default="/tmp/colbench")
    ap.add_argument("--modes", default="off,on")
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
        info = corpus.generate(
            corpus_root, args.events, streams=200, seed=7, end_ms=END_MS, span_hours=72
        )
        info = {"lines": info["lines"], "bytes": info["bytes"]}
        info_path.write_text(json.dumps(info))
    for mode in args.modes.split(","):
        print(
            json.dumps(run(corpus_root, work, info["lines"], info["bytes"], mode == "on")),
            flush=True,
        )


if __name__ == "__main__":
    main()
