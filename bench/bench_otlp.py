#!/usr/bin/env python3
"""OTLP/HTTP logs in (POST /v1/logs): records per second on a real server, protobuf and JSON.

    python3 bench/bench_otlp.py [--requests 40] [--batch 512]

One client posts `--requests` ExportLogsServiceRequests of `--batch` records each (512 is the SDK's
BatchLogRecordProcessor default), one after another, to a fresh `logsvc serve` (2 workers) over a
temp data directory; then measures how long until the last record is found by FilterLogEvents with
a `{ $.traceId = ... }` pattern. Records look like an instrumented web app's: a body, severity,
random trace/span ids, two attributes, a service.name resource. Not part of bench/run.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import requests
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

ROOT = Path(__file__).resolve().parents[1]


def make_request(n: int, base: int) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    attr = rl.resource.attributes.add()
    attr.key, attr.value.string_value = "service.name", "bench"
    sl = rl.scope_logs.add()
    sl.scope.name = "bench"
    now = time.time_ns()
    for i in range(n):
        r = sl.log_records.add()
        r.time_unix_nano = now + i
        r.severity_number, r.severity_text = 9, "INFO"
        r.body.string_value = f"request {base + i} handled in {i % 97} ms"
        r.trace_id, r.span_id = os.urandom(16), os.urandom(8)
        a = r.attributes.add()
        a.key, a.value.string_value = "http.route", "/orders/{id}"
        b = r.attributes.add()
        b.key, b.value.int_value = "http.status_code", 200
    return req


def as_json(req: ExportLogsServiceRequest) -> bytes:
    """The OTLP JSON mapping: protobuf's JSON with hex trace and span ids."""
    doc = json_format.MessageToDict(req)
    for rec in doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"]:
        rec["traceId"] = base64.b64decode(rec["traceId"]).hex()
        rec["spanId"] = base64.b64decode(rec["spanId"]).hex()
    return json.dumps(doc).encode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--batch", type=int, default=512)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-otlp-"))
    env = dict(
        os.environ,
        LOGSVC_DATA_DIR=str(tmp / "data"),
        LOGSVC_LOG_LEVEL="warning",
        PYTHONPATH=str(ROOT),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "logsvc", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        url = ""
        for line in proc.stdout:  # type: ignore[union-attr]
            if "serving http" in line:
                url = line.split("serving ", 1)[1].split()[0].rstrip("/")
                break
        while True:
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        logs = boto3.client(
            "logs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="b",
            aws_secret_access_key="b",
        )  # fmt: skip
        session = requests.Session()
        print(f"load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
        for kind, ctype in (("protobuf", "application/x-protobuf"), ("json", "application/json")):
            reqs = [make_request(args.batch, k * args.batch) for k in range(args.requests)]
            bodies = [r.SerializeToString() if kind == "protobuf" else as_json(r) for r in reqs]
            last_trace = reqs[-1].resource_logs[0].scope_logs[0].log_records[-1].trace_id.hex()
            group = f"/bench/{kind}"
            latencies = []
            t0 = time.perf_counter()
            for body in bodies:
                t1 = time.perf_counter()
                r = session.post(
                    url + "/v1/logs",
                    data=body,
                    headers={"Content-Type": ctype, "x-aws-log-group": group},
                )
                assert r.status_code == 200 and "partialSuccess" not in r.text, r.text
                latencies.append(time.perf_counter() - t1)
            posted = time.perf_counter()
            while not logs.filter_log_events(
                logGroupName=group, filterPattern=f'{{ $.traceId = "{last_trace}" }}'
            )["events"]:
                time.sleep(0.01)
            found = time.perf_counter()
            n = args.requests * args.batch
            latencies.sort()
            print(
                f"{kind:8} {n:,} records in {posted - t0:.2f} s = {n / (posted - t0):,.0f} records/s; "
                f"request p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
                f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms, "
                f"body {len(bodies[0]) / 1024:.0f} KiB; last record searchable "
                f"{(found - posted) * 1000:.0f} ms after its POST returned"
            )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


if __name__ == "__main__":
    main()
