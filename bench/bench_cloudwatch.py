"""FilterLogEvents with a selective pattern (a rare term): logsvc over HTTP vs moto, both through boto3.

Corpus: `bench/corpus.py` (1,000,000 Lambda-style events across 200 streams by default), moved into
one log group so a single FilterLogEvents call spans every stream. logsvc serves the files over
HTTP (`logsvc serve`, waited on until fully indexed); moto runs in-process (`mock_aws`) with the
same events put through boto3 in batches of up to 10,000 events / 1 MiB. Each side answers the
same rare-term calls; the script prints p50/p99 per side and the ratio of the medians.

    python bench/bench_cloudwatch.py                       # the full run (moto ingest takes minutes)
    python bench/bench_cloudwatch.py --lines 50000 --calls 20 --moto-calls 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
import requests

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(ROOT / "bench")):
    if p not in sys.path:  # run from a checkout without `pip install -e .`
        sys.path.insert(0, p)

from corpus import RARE_TOKENS, generate  # noqa: E402

from logsvc import lines as line_formats  # noqa: E402
from logsvc.store import Store  # noqa: E402

GROUP = "/bench/all"


def build_corpus(root: Path, total: int, streams: int) -> tuple[int, list[tuple[str, Path]]]:
    """Generate the corpus, then move every stream into GROUP (names keep their function)."""
    info = generate(root, total, streams)
    store = Store(root)
    store.create_group(GROUP, exist_ok=True)
    moved = []
    old_groups = set()
    for group, stream, path in list(store.iter_stream_files()):
        if group == GROUP:
            continue
        name = f"{group.rsplit('/', 1)[-1]}/{stream}"
        store.create_stream(GROUP, name)
        target = store.stream_file(GROUP, name)
        os.replace(path, target)
        moved.append((name, target))
        old_groups.add(group)
    for g in old_groups:
        store.delete_group(g)
    return info["lines"], moved


class Server:
    """`python -m logsvc serve --port 0` over the corpus, stopped on exit."""

    def __init__(self, data_dir: Path) -> None:
        env = dict(
            os.environ,
            LOGSVC_DATA_DIR=str(data_dir),
            PYTHONUNBUFFERED="1",
            LOGSVC_LOG_LEVEL="warning",
        )
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "logsvc", "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            start_new_session=True,
        )
        self.stderr: list[str] = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        self.url = ""
        for line in self.proc.stdout:
            if "serving http" in line:
                self.url = line.split("serving ", 1)[1].split()[0].rstrip("/")
                break
        if not self.url:
            self.stop()
            raise SystemExit(f"logsvc did not start\n{''.join(self.stderr)}")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def wait_indexed(self, events: int, timeout: float = 1800) -> float:
        """Until the ingesting worker reports every event indexed; returns the seconds it took."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            try:
                h = requests.get(self.url + "/healthz", timeout=5).json()
                if (h.get("eventsIngested") or 0) >= events:
                    return time.monotonic() - began
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.25)
        raise SystemExit(f"not indexed after {timeout}s\n{''.join(self.stderr)}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)


def read_events(path: Path) -> list[tuple[int, str]]:
    """(timestamp, message) of a stream file, exactly as logsvc splits and parses it."""
    data = path.read_bytes()
    raws, _ = line_formats.split_events(data, flush=True)
    out = []
    for raw in raws:
        p = line_formats.parse_event(raw.text)
        out.append((p.timestamp or 0, p.message))
    out.sort(key=lambda e: e[0])
    return out


def batches(events: list[tuple[int, str]]):
    batch, size = [], 0
    for ts, msg in events:
        n = len(msg.encode()) + 26
        if batch and (len(batch) == 10_000 or size + n > 1_048_576):
            yield batch
            batch, size = [], 0
        batch.append({"timestamp": ts, "message": msg})
        size += n
    if batch:
        yield batch


def timed(call, n: int) -> tuple[list[float], int]:
    times, found = [], 0
    for i in range(n):
        token = RARE_TOKENS[i % len(RARE_TOKENS)]
        t0 = time.perf_counter()
        found = call(token)
        times.append((time.perf_counter() - t0) * 1000)
    return times, found


def filter_all(client, token: str) -> int:
    """Every page of FilterLogEvents for the term (one page for a rare term)."""
    kw = {"logGroupName": GROUP, "filterPattern": token}
    n = 0
    while True:
        r = client.filter_log_events(**kw)
        n += len(r["events"])
        if "nextToken" not in r:
            return n
        kw["nextToken"] = r["nextToken"]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument(
        "--calls", type=int, default=50, help="timed logsvc calls (after 3 warm-up calls)"
    )
    ap.add_argument("--moto-calls", type=int, default=20, help="timed moto calls")
    ap.add_argument(
        "--dir", type=Path, help="corpus directory (default: a temp dir, removed afterwards)"
    )
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="bench-cw-") if args.dir is None else None
    root = Path(tmp.name) if tmp else args.dir
    t0 = time.monotonic()
    total, streams = build_corpus(root, args.lines, args.streams)
    print(
        f"corpus: {total:,} events in {len(streams)} streams of {GROUP} ({time.monotonic() - t0:.1f}s)",
        flush=True,
    )

    server = Server(root)
    try:
        took = server.wait_indexed(total)
        print(f"logsvc: indexed in {took:.1f}s at {server.url}", flush=True)
        client = boto3.client(
            "logs",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        for _ in range(3):
            filter_all(client, RARE_TOKENS[0])
        ours, ours_found = timed(lambda tok: filter_all(client, tok), args.calls)
    finally:
        server.stop()

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    from moto import mock_aws

    with mock_aws():
        moto = boto3.client("logs", region_name="us-east-1")
        moto.create_log_group(logGroupName=GROUP)
        t0 = time.monotonic()
        put = 0
        for name, path in streams:
            moto.create_log_stream(logGroupName=GROUP, logStreamName=name)
            for batch in batches(read_events(path)):
                moto.put_log_events(logGroupName=GROUP, logStreamName=name, logEvents=batch)
                put += len(batch)
        print(f"moto: {put:,} events put through boto3 in {time.monotonic() - t0:.1f}s", flush=True)
        filter_all(moto, RARE_TOKENS[0])
        theirs, theirs_found = timed(lambda tok: filter_all(moto, tok), args.moto_calls)

    if tmp:
        tmp.cleanup()
    print()
    print(f"FilterLogEvents, rare term, {total:,} events / {len(streams)} streams, one log group")
    print(
        f"  logsvc (HTTP, boto3): p50 {pct(ours, 0.5):8.1f} ms   p99 {pct(ours, 0.99):8.1f} ms   ({len(ours)} calls, "
        f"{ours_found} match)"
    )
    print(
        f"  moto (in-process)   : p50 {pct(theirs, 0.5):8.1f} ms   p99 {pct(theirs, 0.99):8.1f} ms   ({len(theirs)} calls, "
        f"{theirs_found} match)"
    )
    print(
        f"  ratio (moto p50 / logsvc p50): {statistics.median(theirs) / statistics.median(ours):.0f}x"
    )


if __name__ == "__main__":
    main()
