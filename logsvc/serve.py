"""Serving under gunicorn: worker model, binding, and one Service per worker.

Why gthread with many threads: every SSE tail holds a thread for as long as it is open, and the
measurements (ARCHITECTURE.md) show 2 workers x 16 threads hold only 32 tails. The ingesting worker
takes no new connections (`LogsvcWorker._steps_back`), so with the default 2 workers one serves
them all: 512 threads hold 400 tails at ~8 MB of address space (not RSS) a thread, made as they are
needed; tails are capped at `max_tail_clients` per worker, below the thread count, so a plain
request always finds a thread.
"""

from __future__ import annotations

import errno
import gc
import logging
import socket
import sys
import threading
import time

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import TConn, ThreadWorker

from logsvc.board import Board
from logsvc.children import keep_pandas_out
from logsvc.config import Settings

log = logging.getLogger("logsvc")

_service = None  # this worker's Service, closed in worker_exit


SOCKET_TIMEOUT = 30.0  # seconds a client may stall a single send or receive
HEADER_DEADLINE = (
    2.0  # seconds a new connection has to deliver its request headers (loopback: microseconds)
)


class _TimedConn(TConn):
    """A connection whose socket gives up on a client that stops sending or reading."""

    def init(self) -> None:
        super().init()
        self.sock.settimeout(SOCKET_TIMEOUT)


class LogsvcWorker(ThreadWorker):
    """gthread, plus a deadline for request headers.

    gthread reads a request's headers in a worker thread with no overall deadline, so clients
    that send a byte every few seconds (slow loris) could hold every thread. A reaper shuts down
    connections that have not delivered their headers within HEADER_DEADLINE. SSE streams are not
    affected: their headers arrived long ago.
    """

    def init_process(self) -> None:
        self._awaiting: dict[TConn, float] = {}
        threading.Thread(target=self._reap, name="logsvc-header-deadline", daemon=True).start()
        super().init_process()

    def _steps_back(self) -> bool:
        """Does this worker leave new connections to the others? The one that ingests does, when
        there are others: its index commits hold this process's GIL for tens of milliseconds, which
        is what a live tail's latency and a search's p99 were waiting on (ARCHITECTURE.md, Live tail)."""
        return not writer_serves(self.cfg.workers) and _service is not None and _service.elected

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and not self._steps_back())

    def accept(self, listener) -> None:
        if self._steps_back():  # elected since the loop last looked: another worker takes it
            self.set_accept_enabled(False)
            return
        try:
            client_sock, client_addr = listener.accept()
            self.nr_conns += 1
            client_sock.setblocking(True)
            conn = _TimedConn(self.cfg, client_sock, client_addr, listener.getsockname())
            self._awaiting[conn] = time.monotonic()
            self.enqueue_req(conn)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise

    def handle_request(self, req, conn):
        self._awaiting.pop(conn, None)
        if self._steps_back():
            req.must_close = True  # a connection made before the election is not kept alive here
        return super().handle_request(req, conn)

    def _reap(self) -> None:
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            for conn, since in list(self._awaiting.items()):
                if now - since > HEADER_DEADLINE:
                    self._awaiting.pop(conn, None)
                    try:
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass


def writer_serves(workers: int) -> bool:
    """Does the ingesting worker serve requests? Only when it is the only worker."""
    return workers <= 1


def _limit_malloc_arenas() -> None:
    """glibc gives each thread that allocates its own arena; with hundreds of threads a worker's
    RSS balloons. Two arenas keep memory flat (Linux only; elsewhere nothing happens)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


class LogsvcApplication(BaseApplication):
    def __init__(self, settings: Settings, announce=None) -> None:
        self.settings = settings
        self.announce = announce or print_address
        self.board = Board()  # mapped here, in the master: every worker forked later shares it
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        host = f"[{s.host}]" if ":" in s.host else s.host
        cfg = {
            "bind": [f"{host}:{s.port}"],
            "workers": s.workers,
            "worker_class": "logsvc.serve.LogsvcWorker",
            "threads": s.threads,
            # a few idle keep-alive connections beyond the threads; tails are capped below the
            # thread count (max_tail_clients) so a plain request always finds a free thread
            "worker_connections": s.threads + 64,
            "control_socket_disable": True,
            # gthread workers send heartbeats from their main loop, so open SSE streams never trip this
            "timeout": 60,
            "graceful_timeout": 5,
            "keepalive": 5,
            # 0 lets the application see long URLs (up to gunicorn's 1 MB cap) and answer 400 itself
            "limit_request_line": 0,
            "limit_request_field_size": 16384,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": s.log_level,
            "proc_name": "logsvc",
            "when_ready": self._when_ready,
            "worker_exit": _worker_exit,
            "post_worker_init": _freeze_startup_objects,
        }
        for key, value in cfg.items():
            self.cfg.set(key, value)

    def _when_ready(self, server) -> None:
        host, port = server.LISTENERS[0].sock.getsockname()[:2]
        self.announce(self.settings, host, port)

    def load(self):
        global _service
        from logsvc.api.internal import InternalServer
        from logsvc.app import create_app
        from logsvc.service import Service

        _service = Service(
            self.settings,
            invoker_server=InternalServer,
            board=self.board,
            writer_reads=writer_serves(self.settings.workers),
        ).start()
        return create_app(_service)


def print_address(settings: Settings, host: str, port: int) -> None:
    """Where logsvc listens (stdout) and, off loopback, which Host names it answers (stderr).

    The default announcement; `logsvc demo` prints it and then its own line."""
    shown = f"[{host}]" if ":" in host else host
    print(f"logsvc: serving http://{shown}:{port}/  (data: {settings.data_dir})", flush=True)
    if host not in ("127.0.0.1", "::1", "localhost"):
        print(
            "logsvc: answering to localhost, IP addresses"
            + (f" and {settings.allowed_hosts}" if settings.allowed_hosts else "")
            + "; other Host names get 403 (add yours with --allowed-hosts)",
            file=sys.stderr,
            flush=True,
        )
        if not settings.token:
            print(
                "logsvc: warning: listening beyond this machine without --token",
                file=sys.stderr,
                flush=True,
            )
        public = _public_routes(settings)
        if public:
            print(
                f"logsvc: warning: listening beyond this machine with public HTTP routes (no token needed): {', '.join(public)}",
                file=sys.stderr,
                flush=True,
            )


def _public_routes(settings: Settings) -> list[str]:
    """The project's routes declared `public = true` (they pass the auth gate without the token)."""
    if settings.project is None:
        return []
    try:
        from logsvc.invoker.functions import load_project

        project = load_project(settings.project, settings.data_dir)
    except Exception:
        return []
    return [f"{r.method} /http{r.path}" for r in project.routes if r.public]


def _freeze_startup_objects(worker) -> None:
    """Move what a worker holds once started (modules, the app, the service) out of the cyclic
    GC's sight: they live as long as the worker, and a full collection walked all of them again
    each time a query or a page allocated enough (two such passes were 150 ms of a 700 ms Insights
    `stats` over 129k groups)."""
    gc.freeze()


def _worker_exit(server, worker) -> None:
    if _service is not None:
        _service.close()


def serve(settings: Settings, announce=None) -> None:
    """Run gunicorn in the foreground until interrupted."""
    _limit_malloc_arenas()
    keep_pandas_out()
    LogsvcApplication(settings, announce).run()
