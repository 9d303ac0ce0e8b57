"""Helpers shared by the console benchmarks: start a real `logsvc serve`, launch Debian's Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

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


class Server:
    """`python -m logsvc serve --port 0` over a data directory, stopped on exit."""

    def __init__(self, data_dir: Path, env: dict | None = None) -> None:
        full = dict(
            os.environ,
            LOGSVC_DATA_DIR=str(data_dir),
            PYTHONUNBUFFERED="1",
            LOGSVC_LOG_LEVEL="warning",
        )
        full["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
        )
        full.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "logsvc", "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full,
            text=True,
            start_new_session=True,
        )
        self.stderr: list[str] = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        self.url = ""
        deadline = time.monotonic() + 30
        for line in self.proc.stdout:  # "serving http://127.0.0.1:PORT"
            if "serving http" in line:
                self.url = line.split("serving ", 1)[1].split()[0].rstrip("/")
                break
            if time.monotonic() > deadline:
                break
        if not self.url:
            self.stop()
            raise SystemExit(
                f"logsvc did not start (rc={self.proc.poll()})\n{''.join(self.stderr)}"
            )
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=2).json().get("writerPid"):
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
