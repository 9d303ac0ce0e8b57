"""kill -9 the server while a writer appends; after a restart every line is there exactly once."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from tests.conftest import start_server, wait_for

G = "/aws/lambda/crash"
N = 100_000


def count_events(server, group: str) -> list[str]:
    out, token = [], None
    while True:
        page = server.json(
            "/api/v1/events", group=group, startFromHead="true", limit=10000, nextToken=token
        )
        out += [e["message"] for e in page["events"]]
        token = page["nextToken"]
        if not token:
            return out


def test_kill_9_while_appending_loses_and_duplicates_nothing(data_dir: Path) -> None:
    server = start_server(data_dir)
    path = server.store.ensure_stream(G, "writer")
    done = threading.Event()

    def writer() -> None:
        with open(path, "a", encoding="utf-8") as f:
            for i in range(0, N, 500):
                f.write("".join(f"line {j} payload-{j}\n" for j in range(i, i + 500)))
                f.flush()
                time.sleep(0.002)
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    # let the ingester get some of it committed, then kill everything mid-stream
    wait_for(
        lambda: (data_dir / "index").exists() and path.stat().st_size > 1_000_000,
        what="some progress",
    )
    server.stop(signal.SIGKILL)
    t.join()
    assert done.is_set()
    server = start_server(data_dir)
    try:
        wait_for(lambda: len(count_events(server, G)) >= N, timeout=60, what="all lines")
        got = count_events(server, G)
        assert got == [f"line {j} payload-{j}" for j in range(N)]
        hit = server.json("/api/v1/search", q="payload-77777")["events"]
        assert [e["message"] for e in hit] == ["line 77777 payload-77777"]
    finally:
        server.stop()
