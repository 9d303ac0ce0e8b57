"""Where the server's time goes: py-spy over the real gunicorn workers during ingest, search and tail.

    python bench/profile_server.py 1M [--seconds 20]

Starts `logsvc serve` over a fresh copy of a cached corpus (see bench_core), then runs py-spy
`record --format raw` over the master and workers for each path while the benchmark drives it:
ingest (from server start), search (the slow search cases in a loop) and tail (50 SSE clients and a
2,000 lines/s writer). Prints, per path, the functions with the most samples on top of the stack
(self time) and the most samples anywhere in the stack (inclusive), from logsvc's own frames.
Output files land in bench/out/profile/<path>.txt (collapsed stacks, for flame graphs).
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_core  # noqa: E402

FRAME = re.compile(r"^(.*) \((.*?):(\d+)\)$")


def record(pids: list[int], seconds: float, out: Path) -> list[subprocess.Popen]:
    """One py-spy per process (master and each worker), sampling 200 Hz without pausing it."""
    return [
        subprocess.Popen(
            [
                "py-spy",
                "record",
                "--format",
                "raw",
                "--rate",
                "200",
                "--duration",
                str(int(seconds)),
                "--nonblocking",
                "-o",
                f"{out}.{pid}",
                "--pid",
                str(pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]


def summarize(files: list[Path], top: int = 15) -> str:
    self_c: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    total = 0
    for f in files:
        if not f.exists():
            continue
        for line in f.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not n.isdigit():
                continue
            n = int(n)
            frames = [fr for fr in stack.split(";") if fr]
            if not frames:
                continue
            # idle threads (waiting in select/poll/accept, condition waits) are not CPU time
            leaf = frames[-1]
            if any(
                w in leaf
                for w in (
                    "wait (threading.py",
                    "select (selectors.py",
                    "_worker (concurrent",
                    "accept (",
                    "sleep",
                )
            ):
                continue
            total += n
            self_c[_short(leaf)] += n
            seen = set()
            for fr in frames:
                s = _short(fr)
                if s not in seen and (
                    "logsvc/" in fr
                    or "whoosh" in fr
                    or "json" in fr
                    or "flask" in fr
                    or "werkzeug" in fr
                ):
                    seen.add(s)
                    incl[s] += n
    if not total:
        return "  (no busy samples)\n"
    out = [f"  busy samples: {total}"]
    out.append("  self (top of stack):")
    out += [f"    {100 * c / total:5.1f}%  {name}" for name, c in self_c.most_common(top)]
    out.append("  inclusive (logsvc / whoosh / json / flask frames):")
    out += [f"    {100 * c / total:5.1f}%  {name}" for name, c in incl.most_common(top)]
    return "\n".join(out) + "\n"


def _short(frame: str) -> str:
    m = FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    fn, path, line = m.groups()
    path = path.split("site-packages/")[-1].split("/work/main/")[-1].split("lib/python3.11/")[-1]
    return f"{fn} ({path}:{line})"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("size", default="1M", nargs="?")
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    out = BENCH / "out" / "profile"
    out.mkdir(parents=True, exist_ok=True)
    for f in out.glob("*"):
        f.unlink()
    root, info = bench_core.ensure_corpus(args.size)
    info = {**info, "label": args.size}
    data = bench_core.fresh_data_dir(root, BENCH / "out" / "profile-data")
    server = bench_core.Server(data, out)
    report = []
    try:
        t0 = server.start()
        time.sleep(0.5)
        procs = record(server.pids(), args.seconds, out / "ingest")
        bench_core.bench_ingest(server, t0, info, data)
        for p in procs:
            p.wait()
        report.append(
            f"ingest ({args.size}, first {args.seconds:.0f} s after start):\n"
            + summarize(list(out.glob("ingest.*")))
        )

        procs = record(server.pids(), args.seconds, out / "search")
        http = bench_core.Http(server.port)
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            for q in ('"payment charge refund"', "ERROR -declined", "timeout"):
                http.get("/api/v1/search", {"q": q, "limit": 100})
            http.get("/api/v1/events", {"group": "/aws/lambda/orders", "limit": 100})
        for p in procs:
            p.wait()
        report.append(
            "search (phrase, exclusion, common term, newest 100 in a loop):\n"
            + summarize(list(out.glob("search.*")))
        )

        procs_holder: list = []

        def later() -> None:
            time.sleep(4)
            procs_holder.extend(record(server.pids(), min(args.seconds, 8), out / "tail"))

        threading.Thread(target=later, daemon=True).start()
        bench_core.bench_tail(server, data, counts=(50,))
        for p in procs_holder:
            p.wait()
        report.append(
            "tail (50 SSE clients, 2,000 lines/s):\n" + summarize(list(out.glob("tail.*")))
        )
    finally:
        server.stop()
    text = "\n".join(report)
    print(text)
    (out / "summary.txt").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
