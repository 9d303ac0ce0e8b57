"""Shared fixtures: a temp data directory, a real `logsvc serve` on an ephemeral port, clients.

The server is the real thing (gunicorn, its workers, the ingester) started as a subprocess, so
tests see exactly what a user sees. A failed start shows the server's own stderr.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from logsvc.config import Settings
from logsvc.store import Store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _clean_environ() -> Iterator[None]:
    """No LOGSVC_* or AWS_* variable from the developer's shell leaks into a test."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith(("LOGSVC_", "AWS_")):
            del os.environ[key]
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        port=0,
        commit_interval=0.05,
        live_commit_interval=0.05,
        rescan_interval=0.5,
        threads=32,
    )


@pytest.fixture
def store(data_dir: Path) -> Store:
    return Store(data_dir)


def wait_for(
    check: Callable[[], object],
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "condition",
) -> object:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


@dataclass
class Server:
    url: str
    data_dir: Path
    proc: subprocess.Popen
    env: dict
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return Store(self.data_dir)

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(self.url + path, params=params, timeout=30)

    def json(self, path: str, **params) -> dict:
        r = self.get(path, **params)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if any(
            "Traceback" in line for line in self.stderr_lines
        ):  # shown by pytest when the test failed
            print("server stderr (last 80 lines):\n" + "".join(self.stderr_lines[-80:]))
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


def start_server(
    data_dir: Path, *args: str, env: dict | None = None, timeout: float = 30.0
) -> Server:
    """Run `python -m logsvc serve --port 0` over `data_dir` and wait for its URL."""
    full_env = dict(os.environ)
    full_env.update(
        {
            "LOGSVC_DATA_DIR": str(data_dir),
            "LOGSVC_COMMIT_INTERVAL": "0.05",
            "LOGSVC_LIVE_COMMIT_INTERVAL": "0.05",
            "LOGSVC_RESCAN_INTERVAL": "0.5",
            "LOGSVC_THREADS": "32",
            "LOGSVC_LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
        }
    )
    full_env.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "logsvc", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=full_env,
        cwd=str(data_dir.parent),
        text=True,
        start_new_session=True,
    )
    server = Server("", data_dir, proc, full_env)

    def drain_stderr() -> None:
        for line in proc.stderr:  # type: ignore[union-attr]
            server.stderr_lines.append(line)

    threading.Thread(target=drain_stderr, daemon=True).start()
    url_box: list[str] = []

    def read_stdout() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            if "serving http" in line and not url_box:
                url_box.append(line.split("serving ", 1)[1].split()[0].rstrip("/"))

    threading.Thread(target=read_stdout, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not url_box:
        if proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise AssertionError(
                f"logsvc exited early (rc={proc.returncode})\nstderr:\n{''.join(server.stderr_lines)}"
            )
        time.sleep(0.02)
    server.url = url_box[0]
    wait_for(lambda: healthy(server.url), timeout=timeout, what="healthz")
    # one worker must have become the writer before tests rely on ingestion
    wait_for(lambda: _has_writer(server.url), timeout=timeout, what="an ingesting worker")
    return server


def healthy(url: str) -> bool:
    """/healthz answers 200 within 2 s."""
    try:
        return requests.get(url + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _has_writer(url: str) -> bool:
    return bool(requests.get(url + "/healthz", timeout=2).json().get("writerPid"))


@pytest.fixture
def server(data_dir: Path) -> Iterator[Server]:
    s = start_server(data_dir)
    yield s
    s.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright, one per test session (the console tests share it)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`)"
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def wait_for_console_state(page, test: str) -> dict:
    """The console's state (`window.__logsvc.state()`, as `s`) once the JavaScript expression
    `test` holds of it: a view renders after its hash changes, so wait for the new view's state."""
    page.wait_for_function(f"() => {{ const s = window.__logsvc.state(); return s && ({test}); }}")
    return page.evaluate("window.__logsvc.state()")


@pytest.fixture
def write_lines(data_dir: Path) -> Callable[..., Path]:
    """write_lines(group, stream, lines) appends text lines to a stream file, like a shell `>>`."""
    store = Store(data_dir)

    def write(group: str, stream: str, lines: list[str] | str) -> Path:
        path = store.ensure_stream(group, stream)
        text = lines if isinstance(lines, str) else "".join(line + "\n" for line in lines)
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
        return path

    return write


class HealthWatch:
    """Polls /healthz while hostile requests run; records every probe slower than 1 s or failing."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.failures: list[str] = []
        self.probes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                r = requests.get(self.url + "/healthz", timeout=1.0)
                if r.status_code != 200:
                    self.failures.append(f"healthz {r.status_code}")
            except requests.RequestException as e:
                self.failures.append(f"healthz no answer within 1 s: {type(e).__name__}")
            self.probes += 1
            self._stop.wait(max(0.0, 0.2 - (time.monotonic() - t0)))

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def assert_healthy(self) -> None:
        """Every probe answered 200 within 1 s, and there were probes at all."""
        assert self.probes >= 1 and self.failures == [], (self.probes, self.failures[:5])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full", action="store_true", help="also run tests marked slow (long Done-means sizes)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked slow run only with --full; without it they are deselected (not skipped), so
    the default suite stays within its time budget and reports no skips."""
    if config.getoption("--full"):
        return
    slow = [i for i in items if i.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [i for i in items if not i.get_closest_marker("slow")]
