"""Subscription delivery under load: 5,000 matching events/s into one function, and ingestion beside it.

Runs a real `logsvc serve --project` over a fresh data directory twice: once with a subscription
filter `{ $.level = "ERROR" }` from the group to a function that counts what it receives, once
without (the baseline). A writer appends JSON error lines, each carrying its write time, to one
stream file at `--rate` events/s for `--seconds`. Reports: events delivered and their delivery lag
(write -> the handler saw it; p50 / p99 / max over events), invocations and batch sizes, and how
long the ingester took to index everything after the writer stopped, with and without delivery.

    python bench/subscriptions.py --rate 5000 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

HANDLER = """
import base64, gzip, json, os, time

def count(event, context):
    now = time.time() * 1000
    doc = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    if doc["messageType"] != "DATA_MESSAGE":
        return
    lags = [now - json.loads(e["message"])["t"] for e in doc["logEvents"]]
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps({"n": len(lags), "lags": lags}) + "\\n")
"""

PROJECT = """
[functions.counter]
handler = "handlers.count"
code = "fns"
timeout = 30
environment = {{ OUT = "{out}" }}
"""

GROUP, STREAM = "/bench/subs", "load"


def serve(root: Path, project: Path) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, LOGSVC_DATA_DIR=str(root / "data"), LOGSVC_LOG_LEVEL="warning")
    proc = subprocess.Popen(
        [sys.executable, "-m", "logsvc", "serve", "--port", "0", "--project", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
        start_new_session=True,
    )
    for line in proc.stdout:  # type: ignore[union-attr]
        if "serving http" in line:
            url = line.split("serving ", 1)[1].split()[0].rstrip("/")
            break
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=2).json().get("writerPid"):
                return proc, url
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise SystemExit("server did not start")


def ingested(url: str) -> int:
    """eventsIngested as the writer reports it (any worker answers with it once it is published)."""
    for _ in range(20):
        v = requests.get(url + "/healthz", timeout=5).json().get("eventsIngested")
        if v is not None:
            return v
    return -1


def run(subscribe: bool, rate: int, seconds: float) -> dict:
    root = Path(tempfile.mkdtemp(prefix="bench-subs-"))
    (root / "fns").mkdir()
    (root / "fns" / "handlers.py").write_text(HANDLER)
    out = root / "received.jsonl"
    project = root / "logsvc.toml"
    project.write_text(PROJECT.format(out=out))
    proc, url = serve(root, project)
    try:
        import boto3

        logs = boto3.client(
            "logs",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
        if subscribe:
            logs.put_subscription_filter(
                logGroupName=GROUP,
                filterName="errors",
                filterPattern='{ $.level = "ERROR" }',
                destinationArn="arn:aws:lambda:us-east-1:000000000000:function:counter",
            )
            time.sleep(1.0)  # the control message warms the container
        from logsvc.store import Store

        path = Store(root / "data").stream_file(GROUP, STREAM)
        base = ingested(url)
        tick = 0.01
        per_tick = max(1, int(rate * tick))
        written = 0
        t0 = time.monotonic()
        with open(path, "ab", buffering=0) as f:
            while time.monotonic() - t0 < seconds:
                now = time.time() * 1000
                block = "".join(
                    json.dumps({"level": "ERROR", "t": now, "i": written + k}) + "\n"
                    for k in range(per_tick)
                )
                f.write(block.encode())
                written += per_tick
                due = t0 + (written / per_tick) * tick
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        wrote_s = time.monotonic() - t0
        stop = time.monotonic()
        ingest_done = None
        while time.monotonic() - stop < 60:
            if ingested(url) - base >= written:
                ingest_done = time.monotonic() - stop
                break
            time.sleep(0.05)
        result = {
            "subscribed": subscribe,
            "written": written,
            "writeRate": round(written / wrote_s),
            "ingestCatchUpS": None if ingest_done is None else round(ingest_done, 2),
        }
        if subscribe:

            def rows() -> list[dict]:
                try:
                    return [json.loads(x) for x in out.read_text().splitlines()]
                except FileNotFoundError:
                    return []

            while time.monotonic() - stop < 60 and sum(r["n"] for r in rows()) < written:
                time.sleep(0.1)
            delivered_s = time.monotonic() - stop
            got = rows()
            lags = sorted(x for r in got for x in r["lags"])
            sizes = [r["n"] for r in got]
            result.update(
                {
                    "delivered": len(lags),
                    "lastDeliveredAfterWriterStopS": round(delivered_s, 2),
                    "invocations": len(got),
                    "batchMean": round(sum(sizes) / max(1, len(sizes))),
                    "batchMax": max(sizes, default=0),
                    "lagP50ms": round(lags[len(lags) // 2]) if lags else None,
                    "lagP99ms": round(lags[int(len(lags) * 0.99)]) if lags else None,
                    "lagMaxMs": round(lags[-1]) if lags else None,
                }
            )
        return result
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    for subscribe in (False, True):
        print(json.dumps(run(subscribe, args.rate, args.seconds)), flush=True)


if __name__ == "__main__":
    main()
