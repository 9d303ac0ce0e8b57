"""The console's JS heap under a 1,000 lines/s live tail for 60 s (issue 5: must stay under 150 MB).

Starts a real `logsvc serve` over a temp data directory (or uses --url), appends Lambda-style lines
to one stream file at the given rate, keeps the events view following it, and samples the page's
JS heap through the Chrome DevTools protocol (Performance.getMetrics: JSHeapUsedSize) after a
forced GC, so the figure is live memory, not garbage not yet collected.

    python bench/bench_console_heap.py [--rate 1000] [--seconds 60] [--url http://127.0.0.1:PORT --data-dir D]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from pathlib import Path

from _console import Server, launch
from playwright.sync_api import sync_playwright

from logsvc.store import Store

GROUP = "/bench/console-heap"
STREAM = "2024/01/01/[$LATEST]0123456789abcdef"


def writer(
    path: Path, rate: int, seconds: float, stop: threading.Event, counter: list[int]
) -> None:
    """Append `rate` lines per second in 20 ms batches, like a busy function."""
    tick = 0.02
    per_tick = max(1, round(rate * tick))
    start = time.monotonic()
    n = 0
    with open(path, "a", encoding="utf-8") as f:
        while not stop.is_set() and time.monotonic() - start < seconds:
            lines = []
            for _ in range(per_tick):
                rid = uuid.UUID(int=n).hex
                if n % 5 == 0:
                    lines.append(
                        json.dumps(
                            {
                                "level": "info",
                                "requestId": rid,
                                "message": "order processed",
                                "n": n,
                                "items": [1, 2, 3],
                            }
                        )
                    )
                elif n % 50 == 7:
                    lines.append(
                        f"[ERROR]\t2024-01-01T00:00:00.000Z\t{rid}\tTraceback (most recent call last):\r  File \"/var/task/app.py\", line 9, in handler\r    raise ValueError('bad input')\rValueError: bad input"
                    )
                else:
                    lines.append(
                        f"[INFO]\t2024-01-01T00:00:00.000Z\t{rid}\tline {n} \x1b[32mok\x1b[0m user=u{n % 97} path=/orders/{n}"
                    )
                n += 1
            f.write("".join(line + "\n" for line in lines))
            f.flush()
            counter[0] = n
            next_tick = start + (n / per_tick) * tick
            time.sleep(max(0.0, next_tick - time.monotonic()))


def heap_mb(cdp) -> float:
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics["JSHeapUsedSize"] / 1e6


def run(url: str, data_dir: Path, rate: int, seconds: float) -> dict:
    path = Store(data_dir).ensure_stream(GROUP, STREAM)
    path.write_text("bench start\n")
    samples: list[tuple[float, float, int]] = []
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.goto(f"{url}/#/events?group={GROUP}")
        page.wait_for_function(
            "window.__logsvc.state() && window.__logsvc.state().tail === 'live'", timeout=30000
        )
        base = heap_mb(cdp)
        stop = threading.Event()
        counter = [0]
        t = threading.Thread(target=writer, args=(path, rate, seconds, stop, counter), daemon=True)
        t0 = time.monotonic()
        t.start()
        try:
            while t.is_alive():
                time.sleep(5)
                st = page.evaluate("window.__logsvc.state()")
                mb = heap_mb(cdp)
                samples.append((time.monotonic() - t0, mb, st["loaded"]))
                print(
                    f"  t={samples[-1][0]:5.1f}s written={counter[0]:>7} in page={st['loaded']:>7} heap={mb:6.1f} MB following={st['following']}",
                    flush=True,
                )
        finally:
            stop.set()
            t.join()
        time.sleep(2)  # let the tail drain
        st = page.evaluate("window.__logsvc.state()")
        final = heap_mb(cdp)
        browser.close()
    peak = max([s[1] for s in samples] + [final])
    return {
        "rate": rate,
        "seconds": seconds,
        "written": counter[0],
        "inPage": st["loaded"],
        "following": st["following"],
        "heapBaselineMB": round(base, 1),
        "heapPeakMB": round(peak, 1),
        "heapFinalMB": round(final, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=int, default=1000, help="lines per second")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--url", help="use a running server instead of starting one (needs --data-dir)")
    ap.add_argument("--data-dir", type=Path)
    args = ap.parse_args()
    if args.url:
        if not args.data_dir:
            ap.error("--url needs --data-dir (the writer appends to a stream file there)")
        result = run(args.url.rstrip("/"), args.data_dir, args.rate, args.seconds)
    else:
        with tempfile.TemporaryDirectory() as tmp, Server(Path(tmp)) as server:
            result = run(server.url, Path(tmp), args.rate, args.seconds)
    print(json.dumps(result))
    verdict = "PASS" if result["heapPeakMB"] < 150 else "FAIL"
    print(
        f"console JS heap under {args.rate} lines/s for {args.seconds:g} s: peak {result['heapPeakMB']} MB "
        f"(baseline {result['heapBaselineMB']} MB, final {result['heapFinalMB']} MB, "
        f"{result['inPage']} events held of {result['written']} written) -> {verdict} (target < 150 MB)"
    )


if __name__ == "__main__":
    main()
