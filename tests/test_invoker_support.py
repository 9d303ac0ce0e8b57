"""Helpers shared by the invoker, capture and examples tests (no tests here).

`serve_project` starts the real `logsvc serve --project` (gunicorn, 2 workers) from conftest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logsvc.store import Store
from tests.conftest import start_server


@dataclass
class ProjectServer:
    url: str
    data_dir: Path
    env: dict = field(default_factory=dict)
    real: Any = None

    @property
    def store(self) -> Store:
        return Store(self.data_dir)

    def stop(self) -> None:
        self.real.stop()


def serve_project(
    data_dir: Path, project: Path, *, keys: tuple[str, str] | None = None
) -> ProjectServer:
    extra = ["--aws-access-key-id", keys[0], "--aws-secret-access-key", keys[1]] if keys else []
    real = start_server(data_dir, "--project", str(project), *extra)
    return ProjectServer(real.url, data_dir, real.env, real=real)
