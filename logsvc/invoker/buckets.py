"""Buckets: folders watched with watchdog, their changes turned into S3 notification records.

Owns the bucket observer (one per owning invoker), what counts as an object (a regular file reached
without symlinks), the S3 record shape and its sequencer, and invoking the matching functions
asynchronously. Never reads an object beyond hashing it for the eTag; never writes log streams.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import stat
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from watchdog.observers import Observer

from logsvc import safeio
from logsvc.invoker.containers import TooManyRequests
from logsvc.invoker.functions import REGION, BucketTrigger, Project

log = logging.getLogger("logsvc.invoker")


def bucket_object(root: Path, path: Path) -> tuple[int, str] | None:
    """(size, eTag) of a bucket object, or None when `path` is not a regular file inside `root`.

    A bucket object is a regular file reached without any symlink (a link could point anywhere on
    the machine); it is hashed in 1 MiB pieces, so a 1 GB object costs 1 MiB of memory, not 1 GB.
    """
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    if os.path.realpath(path) != os.path.join(os.path.realpath(root), *rel.parts):
        return None  # a directory on the way is a symlink
    try:
        fd = os.open(
            path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        )
    except OSError:
        return None
    with os.fdopen(fd, "rb", buffering=0) as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        digest = hashlib.md5()
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return st.st_size, digest.hexdigest()


def s3_record(
    bucket: str, key: str, event_name: str, facts: tuple[int, str] | None, sequencer: str
) -> dict[str, Any]:
    """One S3 notification record; delete records carry no size or eTag, as on S3."""
    obj: dict[str, Any] = {"key": urllib.parse.quote_plus(key, safe="/"), "sequencer": sequencer}
    if event_name.startswith("ObjectCreated") and facts is not None:
        obj = {"key": obj["key"], "size": facts[0], "eTag": facts[1], "sequencer": sequencer}
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        + f".{int(time.time() * 1000) % 1000:03d}Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:LOGSVC"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": os.urandom(8).hex().upper(),
            "x-amz-id-2": base64.b64encode(os.urandom(24)).decode(),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "logsvc",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "LOGSVC"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


class _BucketHandler:
    """watchdog handler for one bucket directory.

    Close-after-write is a Put. A rename inside the bucket is a Copy of the new key plus a Delete of
    the old one (S3 has no rename). A file that appears without a close-after-write (moved in from
    elsewhere, or written before the watch on a new subdirectory existed) becomes a Put once its
    mtime has been still for a moment.
    """

    SETTLE = 0.3

    def __init__(self, buckets: Buckets, bucket: str, root: Path) -> None:
        self.buckets, self.bucket, self.root = buckets, bucket, root
        self._pending: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()

    def dispatch(self, event: Any) -> None:
        kind = event.event_type
        src = os.fsdecode(event.src_path)
        if event.is_directory:
            if kind == "created":  # files written before the new directory's watch existed
                for dirpath, _, files in os.walk(src):
                    for name in files:
                        self._settle_later(os.path.join(dirpath, name))
            return
        if kind == "created":
            self._settle_later(src)
        elif kind == "closed":
            self._cancel(src)
            self._emit(src, "ObjectCreated:Put")
        elif kind == "deleted":
            self._cancel(src)
            self._emit(src, "ObjectRemoved:Delete")
        elif kind == "moved":
            self._cancel(src)
            if self._key(src) is not None:
                self._emit(src, "ObjectRemoved:Delete")
            self._emit(os.fsdecode(event.dest_path), "ObjectCreated:Copy")

    def _settle_later(self, path: str) -> None:
        with self._lock:
            if path in self._pending:
                return
            timer = threading.Timer(self.SETTLE, self._settled, (path,))
            timer.daemon = True
            self._pending[path] = timer
        timer.start()

    def _settled(self, path: str) -> None:
        try:
            still = time.time() - os.stat(path).st_mtime >= self.SETTLE
        except OSError:
            self._cancel(path)
            return
        with self._lock:
            if path not in self._pending:
                return
            if not still:
                timer = threading.Timer(self.SETTLE, self._settled, (path,))
                timer.daemon = True
                self._pending[path] = timer
                timer.start()
                return
            del self._pending[path]
        self._emit(path, "ObjectCreated:Put")

    def _cancel(self, path: str) -> None:
        with self._lock:
            timer = self._pending.pop(path, None)
        if timer is not None:
            timer.cancel()

    def close(self) -> None:
        with self._lock:
            timers, self._pending = list(self._pending.values()), {}
        for t in timers:
            t.cancel()

    def _key(self, path: str | bytes) -> str | None:
        p = Path(os.fsdecode(path))
        try:
            rel = p.relative_to(self.root)
        except ValueError:
            return None
        return rel.as_posix()

    def _emit(self, path: str | bytes, event_name: str) -> None:
        key = self._key(path)
        if key is None:
            return
        facts = None
        if event_name.startswith("ObjectCreated"):
            facts = bucket_object(self.root, Path(os.fsdecode(path)))
            if facts is None:
                return  # a symlink, a FIFO, a device: not an object
        self.buckets.event(self.bucket, key, event_name, facts)


class Buckets:
    """The project's buckets: one watchdog observer over every bucket folder, run by the owner."""

    def __init__(self, invoker: Any, data_dir: Path) -> None:
        self.invoker = invoker
        self.project: Project = invoker.project
        self.data_dir = data_dir
        self._observer: Any = None
        self._handlers: list[_BucketHandler] = []
        self._seq = 0
        self._seq_lock = threading.Lock()

    def start(self) -> None:
        if not self.project.buckets:
            return
        self._observer = Observer()
        for bucket in self.project.buckets.values():
            self._make_bucket_dir(bucket.path)
            handler = _BucketHandler(self, bucket.name, bucket.path.resolve())
            self._handlers.append(handler)
            self._observer.schedule(handler, str(bucket.path.resolve()), recursive=True)
        self._observer.daemon = True
        self._observer.start()

    def _make_bucket_dir(self, path: Path) -> None:
        """Create a bucket's folder; one under the data directory is made without following symlinks."""
        where = Path(os.path.abspath(path))
        for base in (Path(os.path.abspath(self.invoker.settings.data_dir)), self.data_dir):
            if where.is_relative_to(base):
                rel = where.relative_to(base)
                break
        else:
            path.mkdir(
                parents=True, exist_ok=True
            )  # the project put it elsewhere: the user's folder
            return
        with safeio.under(self.data_dir, *rel.parts, create=True):
            pass

    def close(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        for h in self._handlers:
            h.close()

    def event(self, bucket: str, key: str, event_name: str, facts: tuple[int, str] | None) -> int:
        """Invoke (async) every function whose notification matches; returns how many."""
        triggers: list[BucketTrigger] = [
            t
            for t in self.project.bucket_triggers
            if t.bucket == bucket and t.matches(key, event_name)
        ]
        if not triggers:
            return 0
        with self._seq_lock:
            self._seq += 1
            sequencer = f"{time.time_ns() // 1000:014X}{self._seq:04X}"
        record = s3_record(bucket, key, event_name, facts, sequencer)
        payload = json.dumps({"Records": [record]}).encode()
        for t in triggers:
            try:
                self.invoker.invoke_async(
                    t.function,
                    payload,
                    trigger={
                        "type": "bucket",
                        "bucket": bucket,
                        "key": key,
                        "eventName": event_name,
                    },
                )
            except TooManyRequests as e:
                log.warning(
                    "bucket %s: dropped the %s event for %s: %s", bucket, event_name, key, e.message
                )
        return len(triggers)
