"""Load: SSE tail clients + file appends + PutLogEvents batches + searches, against a real server.

    python bench/load.py                 # the full run: 60 s, 50 tails, 2,000 lines/s, 5 searches/s
    python bench/load.py --seconds 15    # what tests/test_load.py runs in CI

Checks while it runs: zero HTTP errors; every tail client receives every line written (files and
PutLogEvents) exactly once; searches find a marker written a few seconds earlier; the server's
RSS (gunicorn arbiter + workers, from /proc every second) stays flat. Prints the RSS curve.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.helpers_faults import StreamWriters, file_marks, rss_kb, server_pids  # noqa: E402

GROUP = "/load/app"
MARK = re.compile(rb"\bm(\d+)-(\d+)\b")


class TailClient(threading.Thread):
    """One SSE client; counts markers in the raw stream (no JSON parsing, so 50 of them stay cheap)."""

    def __init__(self, url: str, group: str) -> None:
        super().__init__(daemon=True)
        self.url, self.group = url, group
        self.marks: Counter = Counter()
        self.count = 0
        self.errors: list[str] = []
        self.connected = threading.Event()
        self._halt = threading.Event()
        self._resp = None

    def run(self) -> None:
        try:
            r = requests.get(
                self.url + "/api/v1/tail",
                params={"group": self.group, "heartbeat": "1"},
                stream=True,
                timeout=30,
            )
            self._resp = r
            if r.status_code != 200:
                self.errors.append(f"tail HTTP {r.status_code}: {r.text[:200]}")
                return
            self.connected.set()
            buf = b""
            for chunk in r.iter_content(chunk_size=65536):
                if self._halt.is_set():
                    break
                buf += chunk
                cut = buf.rfind(b"\n\n")
                if cut < 0:
                    continue
                done, buf = buf[: cut + 2], buf[cut + 2 :]
                for line in done.split(b"\n"):
                    if line.startswith(b"data:"):
                        for m in MARK.finditer(line):
                            self.marks[m.group(0).decode()] += 1
                            self.count += 1
        except Exception as e:
            if not self._halt.is_set():
                self.errors.append(f"{type(e).__name__}: {e}")

    def stop(self) -> None:
        self._halt.set()
        if self._resp is not None:
            self._resp.close()


class PutBatches(threading.Thread):
    def __init__(self, url: str, group: str, per_second: int = 10, batch: int = 20) -> None:
        super().__init__(daemon=True)
        import boto3
        from botocore.config import Config

        self.client = boto3.client(
            "logs",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}, read_timeout=20),
        )
        self.group, self.per_second, self.batch = group, per_second, batch
        self.sent: list[str] = []
        self.errors: list[str] = []
        self.available = True
        self._halt = threading.Event()

    def prepare(self) -> bool:
        try:
            self.client.create_log_stream(logGroupName=self.group, logStreamName="cw-batches")
        except Exception as e:
            if "ResourceAlreadyExists" not in str(e):
                self.available = False
                self.errors.append(f"CloudWatch API unavailable: {e}")
        return self.available

    def run(self) -> None:
        seq = 0
        while not self._halt.is_set():
            t0 = time.monotonic()
            msgs = [f"cw m9000-{seq + i} batch" for i in range(self.batch)]
            try:
                self.client.put_log_events(
                    logGroupName=self.group,
                    logStreamName="cw-batches",
                    logEvents=[{"timestamp": int(time.time() * 1000), "message": m} for m in msgs],
                )
                self.sent += [f"m9000-{seq + i}" for i in range(self.batch)]
            except Exception as e:
                self.errors.append(f"{type(e).__name__}: {e}")
            seq += self.batch
            self._halt.wait(max(0.0, 1 / self.per_second - (time.monotonic() - t0)))

    def stop(self) -> None:
        self._halt.set()


class Searcher(threading.Thread):
    def __init__(self, url: str, group: str, writers: StreamWriters, per_second: int = 5) -> None:
        super().__init__(daemon=True)
        self.url, self.group, self.writers, self.per_second = url, group, writers, per_second
        self.errors: list[str] = []
        self.latencies: list[float] = []
        self.misses: list[str] = []
        self._halt = threading.Event()

    def run(self) -> None:
        rnd = random.Random(5)
        while not self._halt.is_set():
            t0 = time.monotonic()
            i = rnd.randrange(len(self.writers.paths))
            n = self.writers.seq[i] - 400  # written a while ago (200 lines/s per stream => ~2 s)
            if n > 0:
                mark = f"m{i}-{rnd.randrange(n)}"
                try:
                    r = requests.get(
                        self.url + "/api/v1/search",
                        params={"q": mark, "group": self.group, "limit": 10},
                        timeout=30,
                    )
                    self.latencies.append(time.monotonic() - t0)
                    if r.status_code != 200:
                        self.errors.append(f"search HTTP {r.status_code}: {r.text[:200]}")
                    elif not any(mark in e["message"].split() for e in r.json()["events"]):
                        self.misses.append(mark)
                except Exception as e:
                    self.errors.append(f"{type(e).__name__}: {e}")
            self._halt.wait(max(0.0, 1 / self.per_second - (time.monotonic() - t0)))

    def stop(self) -> None:
        self._halt.set()


def run(
    url: str,
    data_dir: Path,
    server_pid: int,
    *,
    seconds: float = 60,
    clients: int = 50,
    rate: int = 2000,
    searches: int = 5,
    put: bool = True,
    settle: float = 60,
    out=print,
) -> dict:
    writers = StreamWriters(
        data_dir, GROUP, n_streams=10, rate=rate
    )  # creates the group and streams
    time.sleep(1.0)
    tails = [TailClient(url, GROUP) for _ in range(clients)]
    for t in tails:
        t.start()
    for t in tails:
        t.connected.wait(15)
    putter = PutBatches(url, GROUP) if put else None
    if putter is not None and not putter.prepare():
        out(f"PutLogEvents part skipped: {putter.errors[-1]}")
        putter = None
    rss: list[tuple[float, int]] = []
    stop_rss = threading.Event()

    def sample() -> None:
        t0 = time.monotonic()
        while not stop_rss.is_set():
            rss.append((round(time.monotonic() - t0, 1), rss_kb(server_pids(server_pid)) // 1024))
            stop_rss.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    searcher = Searcher(url, GROUP, writers, searches)
    started = time.monotonic()
    writers.start()
    if putter is not None:
        putter.start()
    searcher.start()
    time.sleep(seconds)
    writers.stop()
    if putter is not None:
        putter.stop()
        putter.join(30)
    searcher.stop()
    searcher.join(30)
    elapsed = time.monotonic() - started
    expected = file_marks(writers.paths)
    if putter is not None:
        expected.update(putter.sent)
    total = sum(expected.values())
    waited = time.monotonic()
    deadline = waited + settle
    while time.monotonic() < deadline:
        if all(t.count >= total or t.errors for t in tails):
            break
        time.sleep(0.5)
    catch_up = time.monotonic() - waited
    stop_rss.set()
    sampler.join(5)
    for t in tails:
        t.stop()
    for t in tails:
        t.join(10)
    lost = [sum(1 for k in expected if k not in t.marks) for t in tails]
    dup = [sum(1 for k, n in t.marks.items() if n > 1) for t in tails]
    errors = (
        [e for t in tails for e in t.errors] + searcher.errors + (putter.errors if putter else [])
    )
    mb = [m for _, m in rss]
    steady = mb[len(mb) // 4 :] or mb
    lat = sorted(searcher.latencies)
    result = {
        "seconds": round(elapsed, 1),
        "tail_clients": clients,
        "lines_written": writers.written,
        "lines_per_second": round(writers.written / elapsed),
        "put_log_events": len(putter.sent) if putter else None,
        "searches": len(lat),
        "search_p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
        "search_p95_ms": round(lat[int(len(lat) * 0.95)] * 1000, 1) if lat else None,
        "search_misses": len(searcher.misses),
        "errors": len(errors),
        "error_sample": errors[:5],
        "lines_lost_per_client_max": max(lost) if lost else 0,
        "duplicates_per_client_max": max(dup) if dup else 0,
        # which lines: a batch of PutLogEvents, one stream's writes, or one round of every stream
        "duplicate_sample": sorted({k for t in tails for k, n in t.marks.items() if n > 1})[:10],
        "lost_sample": sorted({k for t in tails for k in expected if k not in t.marks})[:10],
        "clients_complete": sum(1 for t in tails if t.marks == expected),
        "tail_catch_up_s_after_writers_stopped": round(catch_up, 1),
        "rss_mb_curve": mb,
        "rss_mb_first_quarter_max": max(mb[: max(1, len(mb) // 4)]) if mb else None,
        "rss_mb_steady_min": min(steady) if steady else None,
        "rss_mb_steady_max": max(steady) if steady else None,
    }
    out("RSS (MB, all server processes, 1/s): " + " ".join(map(str, mb)))
    out(json.dumps({k: v for k, v in result.items() if k != "rss_mb_curve"}, indent=2))
    return result


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--searches", type=int, default=5)
    ap.add_argument("--no-put", action="store_true")
    args = ap.parse_args()
    from tests.conftest import start_server

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        server = start_server(
            data_dir, env={"LOGSVC_THREADS": "128", "LOGSVC_LOG_LEVEL": "warning"}
        )
        try:
            res = run(
                server.url,
                data_dir,
                server.proc.pid,
                seconds=args.seconds,
                clients=args.clients,
                rate=args.rate,
                searches=args.searches,
                put=not args.no_put,
            )
        finally:
            server.stop()
    ok = (
        res["errors"] == 0
        and res["lines_lost_per_client_max"] == 0
        and res["duplicates_per_client_max"] == 0
    )
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
