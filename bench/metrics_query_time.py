"""Design measurement for issue #13 item 2: can metric filters be computed when asked for?

    python bench/metrics_query_time.py [--events 200000] [--minutes 60] [--repeat 3]

Writes one stream file of `--events` lines spread over `--minutes` minutes (1 in 50 an `ERROR`
line, 1 in 5 a JSON line with a latency), starts a real `logsvc serve` over it, waits until the
index has it all, puts two metric filters (count `ERROR`, sum `$.latency`; created before the
file so every line counts) and times boto3 `get_metric_data` (both metrics, 60 s periods, the
whole span) against `filter_log_events` for the same ERROR lines, each `--repeat` times. Prints
the figures and the 1-minute load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import start_server, wait_for


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        srv = start_server(data)
        try:
            run(srv, data, a)
        finally:
            srv.stop()


def run(srv, data: Path, a) -> None:
    kw = dict(
        endpoint_url=srv.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    logs, cw = boto3.client("logs", **kw), boto3.client("cloudwatch", **kw)
    group = "/bench/metrics"
    logs.create_log_group(logGroupName=group)
    for name, pattern, value in (("err", "ERROR", "1"), ("lat", "{ $.latency = * }", "$.latency")):
        logs.put_metric_filter(
            logGroupName=group,
            filterName=name,
            filterPattern=pattern,
            metricTransformations=[
                {"metricName": name, "metricNamespace": "B", "metricValue": value}
            ],
        )
    end = int(time.time() * 1000) // 60_000 * 60_000
    start = end - a.minutes * 60_000
    step = (end - start) / a.events
    out = []
    for i in range(a.events):
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((start + i * step) / 1000))
        t += f".{int(start + i * step) % 1000:03d}Z"
        if i % 50 == 0:
            msg = f"ERROR request {i} failed with code {i % 7}"
        elif i % 5 == 0:
            msg = json.dumps({"path": f"/p/{i % 13}", "latency": i % 97})
        else:
            msg = f"INFO handled request {i} in {i % 31} ms user=u{i % 1000}"
        out.append(f"{t} {msg}\n")
    t0 = time.monotonic()
    path = srv.store.ensure_stream(group, "s")
    with open(path, "a") as fh:
        fh.write("".join(out))
    size = path.stat().st_size
    wait_for(
        lambda: (requests_health(srv).get("eventsIngested") or 0) >= a.events,
        timeout=600,
        interval=0.5,
        what="the index to catch up",
    )
    print(f"{a.events} events, {size / 1e6:.1f} MB, indexed in {time.monotonic() - t0:.1f} s")
    q = [
        {
            "Id": n,
            "MetricStat": {
                "Metric": {"Namespace": "B", "MetricName": n},
                "Period": 60,
                "Stat": "Sum",
            },
        }
        for n in ("err", "lat")
    ]
    times, ftimes = [], []
    for _ in range(a.repeat):
        t1 = time.monotonic()
        res = cw.get_metric_data(MetricDataQueries=q, StartTime=start / 1000, EndTime=end / 1000)
        times.append(time.monotonic() - t1)
        t1 = time.monotonic()
        n, token = 0, None
        while True:
            page = logs.filter_log_events(
                logGroupName=group,
                filterPattern="ERROR",
                startTime=start,
                endTime=end,
                **({"nextToken": token} if token else {}),
            )
            n += len(page["events"])
            token = page.get("nextToken")
            if not token:
                break
        ftimes.append(time.monotonic() - t1)
    errs = sum(res["MetricDataResults"][0]["Values"])
    print(
        f"get_metric_data (ERROR count + $.latency sum, {a.minutes} periods): median {statistics.median(times) * 1000:.0f} ms, ERROR total {errs:.0f}"
    )
    print(
        f"filter_log_events ERROR (all pages, {n} events): median {statistics.median(ftimes) * 1000:.0f} ms"
    )
    print(f"load average (1 min): {os.getloadavg()[0]:.2f}")


def requests_health(srv) -> dict:
    import requests

    return requests.get(srv.url + "/healthz", timeout=5).json()


if __name__ == "__main__":
    main()
