"""Notices that stream files changed: inotify through watchdog, plus a periodic rescan.

Owns: the watchdog observer and the safety-net timer. Tells subscribers "something under the
data directory changed" (with the path when inotify knows it). Never reads file contents.

The rescan is not optional: under flat-out writes inotify's queue overflows and watchdog sends
no catch-up event (see ARCHITECTURE.md, "File events").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger("logsvc.watch")


class Watcher(FileSystemEventHandler):
    """One per process. `version` increases on every change; `wait_change` blocks until it does."""

    def __init__(self, root: Path, rescan_interval: float = 2.0) -> None:
        self.root = root
        self.rescan_interval = rescan_interval
        self.version = 0
        self.full_version = 0  # bumped by rescans and notify(): "anything may have changed"
        self.path_version: dict[str, int] = {}  # path -> version of its last inotify event
        self._cond = threading.Condition()
        self._subscribers: list[Callable[[str | None], None]] = []
        self._observer: Observer | None = None
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self.polling_only = False

    def subscribe(self, callback: Callable[[str | None], None]) -> None:
        """`callback(path)` on each change; `path` is None for a rescan tick (check everything)."""
        self._subscribers.append(callback)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            obs = Observer()
            obs.daemon = True
            obs.schedule(self, str(self.root), recursive=True)
            obs.start()
            self._observer = obs
        except OSError as e:  # e.g. inotify watch or instance limits
            log.warning(
                "file events unavailable (%s); falling back to polling every %.1fs",
                e,
                self.rescan_interval,
            )
            self.polling_only = True
        self._timer = threading.Thread(target=self._tick, name="logsvc-rescan", daemon=True)
        self._timer.start()

    def stop(self) -> None:
        self._stop.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        if self._timer is not None:
            self._timer.join(timeout=5)
        with self._cond:
            self.version += 1
            self._cond.notify_all()

    def _tick(self) -> None:
        while not self._stop.wait(
            self.rescan_interval if not self.polling_only else min(self.rescan_interval, 0.25)
        ):
            self._changed(None)

    def on_any_event(self, event: FileSystemEvent) -> None:
        path = event.src_path if isinstance(event.src_path, str) else event.src_path.decode()
        if event.event_type in ("opened", "closed_no_write"):
            return
        self._changed(path)
        dest = getattr(event, "dest_path", None)
        if dest:
            self._changed(dest if isinstance(dest, str) else dest.decode())

    def notify(self) -> None:
        """Announce a change made by this process (PutLogEvents) without waiting for inotify."""
        self._changed(None)

    def _changed(self, path: str | None) -> None:
        for cb in self._subscribers:
            try:
                cb(path)
            except Exception:
                log.exception("watch subscriber failed")
        with self._cond:
            self.version += 1
            if path is None:
                self.full_version = self.version
            else:
                if len(self.path_version) > 100_000:
                    self.path_version.clear()
                    self.full_version = self.version
                self.path_version[path] = self.version
            self._cond.notify_all()

    def changed_since(self, path: str, seen: int) -> bool:
        """Might `path` have changed after version `seen`? (Cheap: no system call.)"""
        return self.full_version > seen or self.path_version.get(path, 0) > seen

    def wait_change(self, seen: int, timeout: float) -> int:
        """Block until `version` differs from `seen` or `timeout` passes; returns the current version."""
        with self._cond:
            if self.version == seen and not self._stop.is_set():
                self._cond.wait(timeout)
            return self.version
