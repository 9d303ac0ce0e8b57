"""`logsvc demo`: serve the examples project and drive it with a small load generator.

Owns choosing the demo project (examples/logsvc.toml), starting the load generator beside the
server, and the generator's traffic mix (checkouts logging JSON, fan-out jobs, web requests, pub/sub, bucket
uploads, table writes, an always-failing function) and the metric filters it puts on checkout's group. The generator is a separate process that only uses the
public HTTP API and the bucket directory, like a user would. Never touches the index.

If the examples are not on disk (an installed wheel without them), it falls back to writing
synthetic Lambda-style lines through the store so there is still something to look at.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "logsvc.toml"


def run_demo(settings: Any, check: Any = None) -> None:
    """Serve logsvc with the examples project and keep logs flowing until interrupted.

    `check(settings)` runs before anything binds or starts (the CLI's configuration checks).
    """
    from logsvc.serve import print_address, serve

    project = settings.project or (EXAMPLES if EXAMPLES.is_file() else None)
    settings = settings.with_(project=Path(project) if project else None)
    if check is not None:
        check(settings)
    os.environ.update(settings.to_env())  # workers and `logsvc` commands in other shells agree
    started: list[subprocess.Popen] = []

    def announce(s: Any, host: str, port: int) -> None:
        print_address(s, host, port)
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}"
        mode = "examples" if project else "synthetic"
        print(f"logsvc: demo load generator running ({mode}); open {url}/ to watch", flush=True)
        # A separate process, not a thread: gunicorn forks workers from this process right after.
        started.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sys; from logsvc.demo import main; main(sys.argv[1:])",
                    url,
                    str(settings.data_dir),
                    mode,
                    str(os.getpid()),
                ],
            )
        )

    try:
        serve(settings, announce)
    finally:
        for p in started:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


def main(argv: list[str]) -> None:
    """Entry point of the generator process: `url data_dir mode parent_pid`."""
    url, data_dir, mode, parent = argv[0], Path(argv[1]), argv[2], int(argv[3])
    stop = threading.Event()

    def watch_parent() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=watch_parent, daemon=True).start()
    if mode == "synthetic":
        synthetic_load(data_dir, stop)
    else:
        LoadGenerator(url, data_dir, stop).run()


class LoadGenerator:
    """A few requests a second across every example, with the occasional error."""

    def __init__(self, url: str, data_dir: Path, stop: threading.Event) -> None:
        self.url, self.data_dir, self.stop = url.rstrip("/"), data_dir, stop
        self.rng = random.Random()
        self.items: list[str] = []
        self.metric_filters = False  # put on checkout's group once it exists

    def _call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        data = (
            None
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (urllib.error.URLError, OSError):
            return 0, b""

    def invoke(self, name: str, payload: Any, event: bool = False) -> None:
        headers = {"X-Amz-Invocation-Type": "Event" if event else "RequestResponse"}
        self._call("POST", f"/2015-03-31/functions/{name}/invocations", payload, headers)

    def web(self) -> None:
        r = self.rng.random()
        if r < 0.3:
            self._call(
                "GET", f"/http/hello?name={self.rng.choice(['ada', 'grace', 'linus', 'barbara'])}"
            )
        elif r < 0.55 or not self.items:
            status, body = self._call(
                "POST",
                "/http/items",
                {
                    "name": self.rng.choice(["widget", "gadget", "gizmo"]),
                    "qty": self.rng.randint(1, 9),
                },
            )
            if status == 201:
                self.items.append(json.loads(body)["id"])
                self.items = self.items[-50:]
        elif r < 0.85:
            self._call("GET", f"/http/items/{self.rng.choice(self.items)}")
        elif r < 0.95:
            self._call("GET", f"/http/items/{uuid.uuid4().hex[:8]}")  # a 404 from the function
        else:
            self._call(
                "POST", "/http/items", b"{oops", {"Content-Type": "application/json"}
            )  # a warning

    def upload(self) -> None:
        incoming = self.data_dir / "buckets" / "uploads" / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        words = ["log", "event", "stream", "group", "lambda", "retry", "batch", "index"]
        text = "\n".join(
            " ".join(self.rng.choices(words, k=self.rng.randint(3, 12)))
            for _ in range(self.rng.randint(1, 20))
        )
        (
            incoming / f"report-{time.strftime('%H%M%S')}-{self.rng.randint(0, 999):03d}.txt"
        ).write_text(text + "\n")

    def checkout(self) -> None:
        card = (
            "4000000000000002" if self.rng.random() < 0.25 else "4242424242424242"
        )  # ...0002 is declined
        self.invoke(
            "orders",
            {
                "order": f"ord-{uuid.uuid4().hex[:10]}",
                "card": card,
                "total": round(self.rng.uniform(5, 500), 2),
            },
        )
        if not self.metric_filters:
            self.put_metric_filters()

    def put_metric_filters(self) -> None:
        """Metric filters on checkout's log group, through the CloudWatch API as a user would:
        declined cards counted and payment latency summed (the console's Metrics view charts
        them). Tried after each checkout until the group exists."""
        filters = [
            ("declined", '{ $.level = "ERROR" }', "Declined", "1", "Count"),
            (
                "latency",
                '{ $.message = "payment captured" }',
                "PaymentLatency",
                "$.latency",
                "Milliseconds",
            ),
        ]
        ok = True
        for name, pattern, metric, value, unit in filters:
            status, _ = self._call(
                "POST",
                "/",
                {
                    "logGroupName": "/aws/lambda/orders",
                    "filterName": name,
                    "filterPattern": pattern,
                    "metricTransformations": [
                        {
                            "metricName": metric,
                            "metricNamespace": "Checkout",
                            "metricValue": value,
                            "unit": unit,
                        }
                    ],
                },
                {
                    "X-Amz-Target": "Logs_20140328.PutMetricFilter",
                    "Content-Type": "application/x-amz-json-1.1",
                },
            )
            ok = ok and status == 200
        self.metric_filters = ok

    def table_writes(self) -> None:
        n = self.rng.randint(1, 25)
        items = [
            {
                "id": f"ord-{uuid.uuid4().hex[:10]}",
                "total": round(self.rng.uniform(5, 500), 2),
                "status": "new",
            }
            for _ in range(n)
        ]
        self._call(
            "POST",
            "/api/v1/tables/orders/items",
            {"items": items},
            {"Content-Type": "application/json"},
        )

    def run(self) -> None:
        schedule = [  # (every seconds, action)
            (0.7, self.web),
            (
                6.0,
                lambda: self.invoke(
                    "splitter",
                    {
                        "numbers": list(range(1, self.rng.randint(20, 200))),
                        "parts": self.rng.randint(3, 6),
                    },
                ),
            ),
            (
                4.0,
                lambda: self.invoke(
                    "publisher",
                    {
                        "topic": "orders",
                        "message": {
                            "order": self.rng.randint(1000, 9999),
                            "email": "dev@example.com",
                        },
                    },
                ),
            ),
            (5.0, self.upload),
            (2.5, self.table_writes),
            (1.5, self.checkout),
            (
                20.0,
                lambda: self.invoke("flaky", {"order": self.rng.randint(1000, 9999)}, event=True),
            ),
        ]
        due = [time.monotonic() + self.rng.uniform(0.5, 2.0) for _ in schedule]
        while not self.stop.is_set():
            now = time.monotonic()
            for i, (every, action) in enumerate(schedule):
                if now >= due[i]:
                    due[i] = now + every * self.rng.uniform(0.6, 1.4)
                    try:
                        action()
                    except Exception as e:
                        print(f"logsvc demo: {e}", file=sys.stderr)
            self.stop.wait(max(0.05, min(due) - time.monotonic()))


def synthetic_load(data_dir: Path, stop: threading.Event) -> None:
    """Lambda-shaped lines written through the store, for when the examples are not available."""
    from logsvc.store import Store

    store = Store(data_dir)
    rng = random.Random()
    stream = time.strftime("%Y/%m/%d/", time.gmtime()) + "[$LATEST]" + uuid.uuid4().hex
    group = "/aws/lambda/demo"
    store.ensure_stream(group, stream)
    while not stop.wait(rng.uniform(0.3, 1.2)):
        rid = str(uuid.uuid4())
        now = int(time.time() * 1000)
        duration = rng.uniform(1, 300)
        lines = [
            (now, f"START RequestId: {rid} Version: $LATEST"),
            (
                now,
                f"[INFO]\t{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}.{now % 1000:03d}Z\t{rid}\tprocessing order {rng.randint(1, 9999)}",
            ),
            (now + int(duration), f"END RequestId: {rid}"),
            (
                now + int(duration),
                f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\tBilled Duration: {int(duration) + 1} ms"
                f"\tMemory Size: 128 MB\tMax Memory Used: {rng.randint(30, 60)} MB",
            ),
        ]
        store.append_events(group, stream, lines)
