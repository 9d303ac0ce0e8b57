"""Invocation overhead: warm p50/p99 (Invoke -> response, no-op handler) and cold start.

    python bench/bench_invoke.py [--calls 1000] [--cold 20]

Serves a throwaway project with the real `logsvc serve` (gunicorn, 2 workers, so about half the
calls are forwarded from the non-owner worker to the owner) when the full app can be imported,
and otherwise with the invoker's own loopback server. Measures over one keep-alive HTTP
connection (http.client), i.e. the server's overhead, and also with boto3's lambda client.
Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def write_project(root: Path, cold: int) -> Path:
    (root / "fns").mkdir()
    (root / "fns" / "h.py").write_text("def noop(event, context):\n    return None\n")
    parts = [
        "[invoker]\nidle_timeout = 600\n",
        '[functions.noop]\nhandler = "h.noop"\ncode = "fns"\n',
    ]
    for i in range(cold):
        parts.append(f'[functions.cold{i}]\nhandler = "h.noop"\ncode = "fns"\n')
    path = root / "logsvc.toml"
    path.write_text("\n".join(parts))
    return path


def start(root: Path, project: Path, inprocess: bool = False) -> tuple[str, object]:
    data = root / "data"
    data.mkdir()
    try:
        if inprocess:
            raise ImportError
        import logsvc.app
        import logsvc.service  # noqa: F401

        full = True
    except ImportError:
        full = False
    if full:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LOGSVC_LOG_LEVEL": "warning"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "logsvc",
                "--data-dir",
                str(data),
                "serve",
                "--port",
                "0",
                "--project",
                str(project),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            start_new_session=True,
        )
        for line in proc.stdout:  # type: ignore[union-attr]
            if "serving http" in line:
                url = line.split("serving ", 1)[1].split()[0].rstrip("/")
                break
        else:
            raise SystemExit("logsvc serve exited early")
        for _ in range(200):
            try:
                conn = http.client.HTTPConnection(
                    urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
                )
                conn.request("GET", "/2015-03-31/functions/")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        time.sleep(1.5)  # let one worker win the invoker lock
        return url, proc
    from logsvc.api.internal import InternalServer
    from logsvc.config import Settings
    from logsvc.invoker import create_invoker
    from logsvc.store import Store

    inv = create_invoker(
        Settings(data_dir=data, project=project), Store(data), InternalServer
    ).start()
    return inv.internal_url, inv


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--cold", type=int, default=20)
    ap.add_argument(
        "--inprocess", action="store_true", help="use the invoker's loopback server, not gunicorn"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url, handle = start(root, write_project(root, args.cold), args.inprocess)
        parts = urllib.parse.urlsplit(url)
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port)

            def invoke(name: str) -> float:
                t0 = time.perf_counter()
                conn.request("POST", f"/2015-03-31/functions/{name}/invocations", body=b"{}")
                resp = conn.getresponse()
                resp.read()
                assert resp.status == 200, resp.status
                return (time.perf_counter() - t0) * 1000

            for _ in range(50):
                invoke("noop")
            warm = [invoke("noop") for _ in range(args.calls)]
            cold = [invoke(f"cold{i}") for i in range(args.cold)]

            import boto3
            from botocore.config import Config

            lam = boto3.client(
                "lambda",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id="x",
                aws_secret_access_key="y",
                config=Config(retries={"max_attempts": 1}),
            )
            for _ in range(20):
                lam.invoke(FunctionName="noop", Payload=b"{}")
            boto: list[float] = []
            for _ in range(min(args.calls, 300)):
                t0 = time.perf_counter()
                lam.invoke(FunctionName="noop", Payload=b"{}")["Payload"].read()
                boto.append((time.perf_counter() - t0) * 1000)

            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port)
            inits = []
            for i in range(args.cold):  # filter by function: the warm calls' records come first
                conn.request("GET", f"/api/v1/invocations?function=cold{i}")
                recs = json.loads(conn.getresponse().read())["invocations"]
                inits += [r["initDurationMs"] for r in recs if r.get("coldStart")]
        finally:
            if isinstance(handle, subprocess.Popen):
                os.killpg(handle.pid, 15)
                handle.wait(timeout=15)
            else:
                handle.close()  # type: ignore[attr-defined]
    server = (
        "logsvc serve (gunicorn, 2 workers)"
        if isinstance(handle, subprocess.Popen)
        else "invoker loopback server (in-process)"
    )
    p50 = statistics.median(warm)
    print(f"server: {server}; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}\n")
    print("| measure | p50 | p99 | n |")
    print("|---|---|---|---|")
    print(
        f"| warm invoke, no-op handler (http.client keep-alive) | {p50:.2f} ms | {percentile(warm, 99):.2f} ms | {len(warm)} |"
    )
    print(
        f"| warm invoke, no-op handler (boto3 lambda client) | {statistics.median(boto):.2f} ms | {percentile(boto, 99):.2f} ms | {len(boto)} |"
    )
    print(
        f"| cold invoke (new container: python start + bootstrap + handler import) | {statistics.median(cold):.2f} ms | {percentile(cold, 99):.2f} ms | {len(cold)} |"
    )
    print(
        f"| cold start overhead (cold p50 - warm p50) | {statistics.median(cold) - p50:.2f} ms | | |"
    )
    if inits:
        print(
            f"| Init Duration reported in REPORT | {statistics.median(inits):.2f} ms | {percentile(inits, 99):.2f} ms | {len(inits)} |"
        )


if __name__ == "__main__":
    main()
