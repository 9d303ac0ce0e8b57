"""Serving under gunicorn: worker model, binding, and one Service per worker.

Why gthread with many threads: every SSE tail holds a thread for as long as it is open, and the
measurements (ARCHITECTURE.md) show 2 workers x 16 threads hold only 32 tails. 2 workers x 256
threads hold 400 tails at ~8 MB of address space (not RSS) a thread; tails are capped at
`max_tail_clients` per worker, below the thread count, so a plain request always finds a thread.
"""

from __future__ import annotations

import logging
import sys

from gunicorn.app.base import BaseApplication

from logsvc.config import Settings

log = logging.getLogger("logsvc")

_service = None  # this worker's Service, closed in worker_exit


class LogsvcApplication(BaseApplication):
    def __init__(self, settings: Settings, announce=None) -> None:  # noqa: ANN001
        self.settings = settings
        self.announce = announce or _announce
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        host = f"[{s.host}]" if ":" in s.host else s.host
        cfg = {
            "bind": [f"{host}:{s.port}"],
            "workers": s.workers,
            "worker_class": "gthread",
            "threads": s.threads,
            # a few idle keep-alive connections beyond the threads; tails are capped below the
            # thread count (max_tail_clients) so a plain request always finds a free thread
            "worker_connections": s.threads + 64,
            "control_socket_disable": True,
            # gthread workers send heartbeats from their main loop, so open SSE streams never trip this
            "timeout": 60,
            "graceful_timeout": 5,
            "keepalive": 5,
            "limit_request_line": 16384,
            "limit_request_field_size": 16384,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": s.log_level,
            "proc_name": "logsvc",
            "when_ready": self._when_ready,
            "worker_exit": _worker_exit,
        }
        for key, value in cfg.items():
            self.cfg.set(key, value)

    def _when_ready(self, server) -> None:  # noqa: ANN001
        host, port = server.LISTENERS[0].sock.getsockname()[:2]
        self.announce(self.settings, host, port)

    def load(self):  # noqa: ANN201
        global _service
        from logsvc.app import create_app
        from logsvc.service import Service

        _service = Service(self.settings).start()
        return create_app(_service)


def _announce(settings: Settings, host: str, port: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    print(f"logsvc: serving http://{shown}:{port}/  (data: {settings.data_dir})", flush=True)
    if host not in ("127.0.0.1", "::1", "localhost") and not settings.token:
        print("logsvc: warning: listening beyond this machine without --token", file=sys.stderr, flush=True)


def _worker_exit(server, worker) -> None:  # noqa: ANN001
    if _service is not None:
        _service.close()


def serve(settings: Settings, announce=None) -> None:  # noqa: ANN001
    """Run gunicorn in the foreground until interrupted."""
    LogsvcApplication(settings, announce).run()
