"""Notices that stream files changed: inotify, read by one thread, plus a periodic rescan.

Owns: the inotify reader and the safety-net timer. Tells subscribers "something under the
data directory changed" (with the path when inotify knows it). Never reads file contents.

The rescan is not optional: under flat-out writes inotify's queue overflows, and a directory made
before its watch was added has files no event announced (see ARCHITECTURE.md, "File events").

Why not watchdog's observer: each event crossed four Python threads (its inotify reader, move-event
grouper, emitter and dispatcher) and several queues before reaching a tail; at 2,000 appends a second
that was two thirds of a worker's Python time with one tail open, and each hop waited for the GIL.
Here one thread reads whatever inotify has queued in one read and announces each path once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import select
import struct
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("logsvc.watch")

_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF = 0x400, 0x800
_IN_Q_OVERFLOW, _IN_IGNORED, _IN_ONLYDIR, _IN_ISDIR = 0x4000, 0x8000, 0x01000000, 0x40000000
_MASK = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
)
_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)


class Inotify:
    """inotify(7) over a directory tree: a watch on every directory, new ones added as they appear.

    :raises OSError: when inotify is unavailable (no libc symbol, instance or watch limits).
    """

    def __init__(self, root: Path) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._add_watch = libc.inotify_add_watch
        self._add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"inotify_init1: {os.strerror(e)}")
        self.fd = fd
        self._dirs: dict[int, str] = {}
        self._wake_r, self._wake_w = os.pipe()
        try:
            self._add_tree(str(root), strict=True)
        except OSError:
            self.close()
            raise

    def _add_tree(self, top: str, strict: bool = False) -> None:
        for dirpath, _, _ in os.walk(top):
            wd = self._add_watch(self.fd, os.fsencode(dirpath), _MASK | _IN_ONLYDIR)
            if wd >= 0:
                self._dirs[wd] = dirpath
                continue
            e = ctypes.get_errno()
            if e in (errno.ENOENT, errno.ENOTDIR):
                continue  # gone meanwhile
            if strict:
                raise OSError(e, f"inotify_add_watch {dirpath}: {os.strerror(e)}")
            log.warning(
                "cannot watch %s (%s); changes there are seen by the rescan",
                dirpath,
                os.strerror(e),
            )

    def read(self, timeout: float | None = None) -> tuple[set[str], bool] | None:
        """Wait for events; returns (paths that changed, whether anything may have changed unseen),
        or None once `close` was called."""
        poll = select.poll()  # not select(): a worker's descriptors may number over 1,024
        poll.register(self.fd, select.POLLIN)
        poll.register(self._wake_r, select.POLLIN)
        try:
            ready = poll.poll(None if timeout is None else timeout * 1000)
        except OSError:
            return None
        if any(fd == self._wake_r for fd, _ in ready):
            return None
        paths: set[str] = set()
        full = False
        while True:
            try:
                data = os.read(self.fd, 256 * 1024)
            except BlockingIOError:
                break
            except OSError:
                return None
            i = 0
            while i + _HEADER.size <= len(data):
                wd, mask, _, n = _HEADER.unpack_from(data, i)
                name = data[i + _HEADER.size : i + _HEADER.size + n].rstrip(b"\0")
                i += _HEADER.size + n
                if mask & _IN_Q_OVERFLOW:
                    full = True
                    continue
                if mask & _IN_IGNORED:
                    self._dirs.pop(wd, None)
                    continue
                d = self._dirs.get(wd)
                if d is None:
                    continue
                path = os.path.join(d, os.fsdecode(name)) if name else d
                paths.add(path)
                if mask & _IN_ISDIR and mask & (_IN_CREATE | _IN_MOVED_TO):
                    self._add_tree(path)
                    full = True  # files made in it before its watch existed
        return paths, full

    def close(self) -> None:
        """Wake a pending `read` (it returns None) and release the descriptors."""
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    def release(self) -> None:
        for fd in (self.fd, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass


class Watcher:
    """One per process. `version` increases on every change; `wait_change` blocks until it does."""

    def __init__(self, root: Path, rescan_interval: float = 2.0) -> None:
        self.root = root
        self.rescan_interval = rescan_interval
        self.version = 0
        self.full_version = 0  # bumped by rescans and notify(): "anything may have changed"
        self.path_version: dict[str, int] = {}  # path -> version of its last inotify event
        self._cond = threading.Condition()
        self._subscribers: list[Callable[[str | None], None]] = []
        self._inotify: Inotify | None = None
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self.polling_only = False

    def subscribe(self, callback: Callable[[str | None], None]) -> None:
        """`callback(path)` on each change; `path` is None for a rescan tick (check everything)."""
        self._subscribers.append(callback)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._inotify = Inotify(self.root)
            self._reader = threading.Thread(
                target=self._read, args=(self._inotify,), name="logsvc-inotify", daemon=True
            )
            self._reader.start()
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
        if self._inotify is not None:
            self._inotify.close()
            if self._reader is not None:
                self._reader.join(timeout=5)
            self._inotify.release()
            self._inotify = None
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

    def _read(self, ino: Inotify) -> None:
        """The reader thread: each read's paths are announced once however many events named them."""
        while not self._stop.is_set():
            got = ino.read()
            if got is None:
                return
            paths, full = got
            for path in paths:
                self._changed(path)
            if full:
                self._changed(None)

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
