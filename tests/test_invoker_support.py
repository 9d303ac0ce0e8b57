"""Helpers shared by the invoker, capture and examples tests (no tests here).

`serve_project` starts the real `logsvc serve --project` (gunicorn, 2 workers) from conftest. While
the rest of the app cannot be imported yet (the core is landing in parallel), it falls back to
the invoker's own loopback server in this process, which serves the same blueprint.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logsvc.config import Settings
from logsvc.store import Store


def full_app_available() -> bool:
    try:
        importlib.import_module("logsvc.app")
        importlib.import_module("logsvc.service")
    except ImportError:
        return False
    return True


@dataclass
class ProjectServer:
    url: str
    data_dir: Path
    env: dict = field(default_factory=dict)
    real: Any = None
    invoker: Any = None

    @property
    def store(self) -> Store:
        return Store(self.data_dir)

    def stop(self) -> None:
        if self.real is not None:
            self.real.stop()
        if self.invoker is not None:
            self.invoker.close()


def serve_project(data_dir: Path, project: Path, *, keys: tuple[str, str] | None = None) -> ProjectServer:
    if full_app_available():
        from tests.conftest import start_server

        extra = ["--aws-access-key-id", keys[0], "--aws-secret-access-key", keys[1]] if keys else []
        real = start_server(data_dir, "--project", str(project), *extra)
        return ProjectServer(real.url, data_dir, real.env, real=real)
    from logsvc.invoker import create_invoker

    settings = Settings(data_dir=data_dir, project=project, port=0)
    if keys:
        settings = settings.with_(aws_access_key_id=keys[0], aws_secret_access_key=keys[1])
    inv = create_invoker(settings, Store(data_dir)).start()
    assert inv.owner
    env = dict(os.environ)
    env["LOGSVC_DATA_DIR"] = str(data_dir)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return ProjectServer(inv.internal_url, data_dir, env, invoker=inv)
