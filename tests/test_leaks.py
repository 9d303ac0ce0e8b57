"""No file descriptor or thread outlives what opened it (Datasette's test_fd_leak idea: count /proc).

A leak shows only after days of a dev server running (tails opened and closed, workers restarted by
gunicorn's max_requests): "too many open files". Counted here: the process's own fds and threads
around Service.start()/close(), and a real server worker's fds and threads around rounds of requests
on every surface, tails included. A first round warms up what is opened once per process (the pool
of request threads, the index searcher, lazy imports); later rounds must not add to it.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import requests

from logsvc.config import Settings
from logsvc.service import Service
from tests.conftest import start_server, wait_for


def _fds(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _worker_fds(pid: int) -> int:
    """fds other than the index's segment files (the searcher holds as many as the index has segments
    now, which merges change); an old segment still held after a merge shows as '(deleted)'."""
    links = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            continue
    stale = [link for link in links if "/index/" in link and link.endswith("(deleted)")]
    assert not stale, f"index files held after they were merged away: {stale}"
    return sum("/index/" not in link for link in links)


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_service_start_close_leaves_no_fd_or_thread(data_dir: Path, write_lines) -> None:
    write_lines("/leak/g", "s", [f"2026-11-27T10:00:{i:02d}.000Z line {i}" for i in range(20)])
    settings = Settings(
        data_dir=data_dir, port=0, commit_interval=0.05, live_commit_interval=0.05, rescan_interval=0.5, threads=4
    )

    def cycle() -> None:
        service = Service(settings).start()
        try:
            wait_for(lambda: service.is_writer, what="the service to become the writer")
            assert service.wait_indexed(10)
            assert (
                len(service.reader.read(service.reader.all_sources(), limit=5).events) == 5
            )  # opens a searcher
        finally:
            service.close()

    cycle()  # warm-up: lazy imports and process-wide singletons
    fds, threads = _fds(), threading.active_count()
    for _ in range(3):
        cycle()
    # a closed service's threads have been joined; stragglers would show as a higher count
    wait_for(
        lambda: threading.active_count() <= threads, timeout=10, what=f"threads back to {threads}"
    )
    assert _fds() <= fds, sorted(os.listdir("/proc/self/fd"))


def _round(url: str) -> None:
    """One request of each kind a client makes, tails opened and dropped included."""
    for path, params in (
        ("/api/v1/groups", {}),
        ("/api/v1/events", {"group": "/leak/g"}),
        ("/api/v1/search", {"q": "line"}),
        ("/api/v1/histogram", {"group": "/leak/g"}),
        ("/api/v1/export", {"group": "/leak/g"}),
        ("/api/v1/streams", {"group": "/nope"}),
        ("/api/v1/nope", {}),
        ("/", {}),
        ("/static/app.js", {}),
    ):
        with requests.get(url + path, params=params, timeout=10) as r:
            assert r.status_code in (200, 404), (path, r.status_code)
    with requests.post(
        url + "/",
        headers={
            "X-Amz-Target": "Logs_20140328.FilterLogEvents",
            "Content-Type": "application/x-amz-json-1.1",
        },
        data=json.dumps({"logGroupName": "/leak/g"}),
        timeout=10,
    ) as r:
        assert r.status_code == 200, r.text[:200]
    for _ in range(3):  # a client that reads one frame and goes away
        with requests.get(
            url + "/api/v1/tail",
            params={"group": "/leak/g", "since": "0", "heartbeat": "1"},
            stream=True,
            timeout=10,
        ) as r:
            assert r.status_code == 200
            next(r.iter_lines())


def test_served_requests_leave_no_fd_or_thread_in_the_worker(data_dir: Path, write_lines) -> None:
    write_lines("/leak/g", "s", [f"2026-11-27T10:00:{i:02d}.000Z line {i}" for i in range(20)])
    server = start_server(data_dir, env={"LOGSVC_WORKERS": "1", "LOGSVC_THREADS": "8"})
    try:
        pid = requests.get(server.url + "/healthz", timeout=5).json()["writerPid"]
        wait_for(
            lambda: (
                len(
                    requests.get(
                        server.url + "/api/v1/events", params={"group": "/leak/g"}, timeout=5
                    ).json()["events"]
                )
                == 20
            ),
            what="indexed",
        )
        _round(server.url)
        _fill_the_request_pool(server.url, 8)
        # the dropped tails are noticed at their next heartbeat; then the count settles
        fds = wait_for(lambda: _settled(pid), timeout=15, what="the worker's fd count to settle")
        threads = _threads(pid)
        for _ in range(5):
            _round(server.url)
        wait_for(
            lambda: _worker_fds(pid) <= fds, timeout=15, what=f"the worker's fds back to {fds}"
        )
        wait_for(
            lambda: _threads(pid) <= threads,
            timeout=15,
            what=f"the worker's threads back to {threads}",
        )
    finally:
        server.stop()


def _fill_the_request_pool(url: str, threads: int) -> None:
    """gunicorn's request threads start on demand up to --threads: hold that many tails at once so the
    pool is whole before counting (its growth is by design, not a leak)."""
    held = [
        requests.get(
            url + "/api/v1/tail",
            params={"group": "/leak/g", "heartbeat": "1"},
            stream=True,
            timeout=10,
        )
        for _ in range(threads)
    ]
    try:
        assert [r.status_code for r in held] == [200] * threads
    finally:
        for r in held:
            r.close()


def _settled(pid: int) -> int | None:
    """The fd count when two looks a heartbeat apart agree, else None."""
    before = _worker_fds(pid)
    threading.Event().wait(1.2)
    return before if _worker_fds(pid) == before else None
