"""Helpers for fault and load tests: steady multi-stream writers, reading everything back, exactly-once checks."""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from pathlib import Path

import requests

from logsvc.store import Store

FULL = os.environ.get("LOGSVC_FULL_TESTS") == "1"  # read at import: conftest clears LOGSVC_* later
MARK_RE = re.compile(r"\bm(\d+)-(\d+)\b")


def all_events(url: str, group: str, *, timeout: float = 60, **params) -> list[dict]:
    """Every event of a group, paging /api/v1/events from the head."""
    out: list[dict] = []
    token = None
    while True:
        q = {"group": group, "startFromHead": "true", "limit": 10000, **params}
        if token:
            q["nextToken"] = token
        r = requests.get(url + "/api/v1/events", params=q, timeout=timeout)
        assert r.status_code == 200, (r.status_code, r.text[:500])
        page = r.json()
        out += page["events"]
        token = page.get("nextToken")
        if not token or not page["events"]:
            return out


def file_marks(paths: list[Path]) -> Counter:
    """Marker -> count over the stream files' complete lines (what must be served exactly once)."""
    c: Counter = Counter()
    for p in paths:
        data = p.read_bytes()
        for m in MARK_RE.finditer(data.decode("utf-8", "replace")):
            c[m.group(0)] += 1
    return c


def event_marks(events: list[dict]) -> Counter:
    c: Counter = Counter()
    for e in events:
        for m in MARK_RE.finditer(e["message"]):
            c[m.group(0)] += 1
    return c


def diff_marks(files: Counter, served: Counter) -> dict:
    lost = sorted(k for k in files if k not in served)
    dup = sorted(k for k, n in served.items() if n > files.get(k, 0))
    extra = sorted(k for k in served if k not in files)
    return {
        "lost": len(lost),
        "duplicated": len(dup),
        "unknown": len(extra),
        "lost_sample": lost[:5],
        "dup_sample": dup[:5],
        "unknown_sample": extra[:5],
    }


class StreamWriters:
    """Appends marked lines to `n_streams` stream files at about `rate` lines/s, one write() per batch.

    Every line carries a unique marker `m<stream>-<seq>`; half the streams start lines with an ISO
    timestamp, half without (ingestion time), so both time rules are exercised.
    """

    def __init__(
        self, data_dir: Path, group: str, n_streams: int = 50, rate: int = 5000, tick: float = 0.02
    ) -> None:
        self.store = Store(data_dir)
        self.group = group
        self.paths = [self.store.ensure_stream(group, f"s{i:03d}") for i in range(n_streams)]
        self.rate = rate
        self.tick = tick
        self.seq = [0] * n_streams
        self.written = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    def _line(self, i: int) -> str:
        n = self.seq[i]
        self.seq[i] += 1
        mark = f"m{i}-{n}"
        if i % 2:
            return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}.{int(time.time() * 1000) % 1000:03d}Z req {mark} payload-{n * 7919 % 100003}\n"
        return f"INFO {mark} user=u{n % 97} took {n % 1000}ms\n"

    def _run(self) -> None:
        fds = [os.open(p, os.O_WRONLY | os.O_APPEND) for p in self.paths]
        try:
            per_tick = max(1, int(self.rate * self.tick))
            k = 0
            next_at = time.monotonic()
            while not self._stop.is_set():
                batches: dict[int, list[str]] = {}
                for _ in range(per_tick):
                    i = k % len(fds)
                    k += 1
                    batches.setdefault(i, []).append(self._line(i))
                for i, ls in batches.items():
                    os.write(fds[i], "".join(ls).encode())
                self.written += per_tick
                next_at += self.tick
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        except BaseException as e:
            self.errors.append(e)
        finally:
            for fd in fds:
                os.close(fd)

    def start(self) -> StreamWriters:
        self._thread = threading.Thread(target=self._run, name="stream-writers", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        assert not self.errors, self.errors


def wait_all_served(
    url: str, group: str, paths: list[Path], timeout: float = 90
) -> tuple[Counter, Counter, list[dict]]:
    """Wait until the API serves as many marked events as the files hold; return (files, served, events)."""
    files = file_marks(paths)
    deadline = time.monotonic() + timeout
    events: list[dict] = []
    served: Counter = Counter()
    while time.monotonic() < deadline:
        try:
            events = all_events(url, group)
        except (requests.RequestException, AssertionError):
            time.sleep(0.5)
            continue
        served = event_marks(events)
        if sum(served.values()) >= sum(files.values()) and set(served) >= set(files):
            break
        time.sleep(0.5)
    return files, served, events


def server_pids(root_pid: int) -> list[int]:
    """The server's process tree (gunicorn arbiter and workers)."""
    out = [root_pid]
    i = 0
    while i < len(out):
        try:
            kids = Path(f"/proc/{out[i]}/task/{out[i]}/children").read_text().split()
        except OSError:
            kids = []
        out += [int(k) for k in kids]
        i += 1
    return out


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total
