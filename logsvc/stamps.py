"""When logsvc first read each byte of a stream file: every event's ingestionTime, and the time of a line
that carries no timestamp of its own.

The stream files do not hold that time and the index is derived (rebuildable), so it is decided
once, by whichever process reads new bytes first (a tail in any gunicorn worker, a search over
unindexed bytes, the ingester), and recorded durably in a small append-only sidecar per stream:

    <data>/stamps/<group segment>/<stream segment>.stamps
        header (96 bytes): magic, the stream file's inode, its first (up to 64) bytes, a generation
        records (16 bytes each): (end offset, epoch ms) — bytes [previous end, end) were first read then

Everyone derives times from it, so an event's time is the same in a tail, in a search before and
after indexing, and after `logsvc reindex`. A record's time is never earlier than the previous
record's (monotonic), so an unstamped line never sorts ahead of the lines written before it, and
the time is taken after the bytes were written, so ingestionTime is never earlier than a writer's own
timestamp taken when it wrote. Times are rounded *up* to a 10 ms grid (`STEP_MS`) and reads on the
same grid point are coalesced into one record, so the sidecar grows by at most 16 bytes per 10 ms in
which a stream got new bytes (≤ 1.6 KB/s for a stream written without pause).

A stream file that is replaced (new inode), truncated below the covered end or rewritten at its head
starts a fresh sidecar: a reset file never inherits the old file's times. The sidecar is written
under an `flock` and opened through `safeio` (no link followed, 0600). It is not fsynced: it survives any process crash, and
a machine crash can lose only the stamps of bytes that were read in the last seconds.
"""

from __future__ import annotations

import bisect
import fcntl
import os
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

from logsvc import names, safeio
from logsvc.store import Store

MAGIC = b"LSTAMP1\0"
HEAD = 64
HEADER = struct.Struct("<8sQB64sQ7x")  # magic, inode, head length, head, generation; 96 bytes
REC = struct.Struct("<qq")  # end offset, epoch ms
# sidecar paths a process keeps, one per stream it reads: two names of <= 512 characters and a
# path of two <= 200-character segments, so at most ~8 MB however long the names; ~300 KB typically
PATHS_CACHED = 1024

TimeFn = Callable[[int], int]


STEP_MS = (
    10  # stamps are taken on a 10 ms grid, rounded up: at most one record per 10 ms per stream
)


def _now_ms() -> int:
    """Now, rounded up to the stamp grid: never earlier than the moment the bytes were read."""
    return -(-time.time_ns() // (STEP_MS * 1_000_000)) * STEP_MS


class _Table:
    __slots__ = ("ends", "gen", "head", "ino", "key", "ms")

    def __init__(self, ino: int, head: bytes, gen: int = 0) -> None:
        self.ino, self.head, self.gen = ino, head, gen
        self.ends: list[int] = []
        self.ms: list[int] = []
        self.key: tuple = ()

    def covered(self) -> int:
        return self.ends[-1] if self.ends else 0

    def at(self, offset: int) -> int:
        i = bisect.bisect_right(self.ends, offset)
        return self.ms[i] if i < len(self.ms) else (self.ms[-1] if self.ms else _now_ms())


class StampBook:
    """The stamps of one data directory, cached per process. Thread-safe."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dir = store.root / "stamps"
        self._tables: dict[str, _Table] = {}
        self._paths: dict[tuple[str, str], tuple[Path, str]] = {}
        self._lock = threading.Lock()

    def path(self, group: str, stream: str) -> Path:
        return self._where(group, stream)[0]

    def _where(self, group: str, stream: str) -> tuple[Path, str]:
        """The sidecar's path and its text (the table's key), from the names alone: every open of
        it goes through safeio, so finding it needs no look at the file system — a tail asks for
        every round it reads."""
        hit = self._paths.get((group, stream))
        if hit is None:
            names.validate_group(group)
            names.validate_stream(stream)
            path = self.dir / names.encode_segment(group) / (names.encode_segment(stream) + ".stamps")
            if len(self._paths) >= PATHS_CACHED:
                self._paths.clear()
            hit = self._paths[(group, stream)] = (path, str(path))
        return hit

    def times(self, group: str, stream: str, fd: int, upto: int) -> TimeFn:
        """offset -> epoch ms at which logsvc first read that byte of the open stream file `fd`, for
        offsets below `upto`. Bytes below `upto` that nobody has read yet are stamped now."""
        path, key = self._where(group, stream)
        fst = os.fstat(fd)
        t = self._tables.get(key)
        if t is not None and t.ino == fst.st_ino and upto <= t.covered() <= fst.st_size:
            try:
                sst = os.stat(path, follow_symlinks=False)
                if (sst.st_ino, sst.st_size, sst.st_mtime_ns) == t.key:
                    return t.at
            except OSError:
                pass
        try:
            t = self._sync(path, fd, fst, upto)
        except OSError:
            # a read-only data directory: whatever is recorded, else the file's modification time
            t = _Table(fst.st_ino, b"")
            t.ends, t.ms = [max(upto, 1)], [int(fst.st_mtime * 1000)]
            return t.at
        self._tables[key] = t
        return t.at

    def drop_cached(self, path: Path) -> None:
        """Forget this process's copy of a sidecar that was just removed (`forget`)."""
        self._tables.pop(str(path), None)

    def _sync(self, path: Path, fd: int, fst: os.stat_result, upto: int) -> _Table:
        # through safeio: no link followed at any level, private modes, a regular file of ours
        with safeio.under(self.store.root, "stamps", path.parent.name, create=True) as dfd:
            sfd = safeio.open_file(dfd, path.name, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(sfd, fcntl.LOCK_EX)
            t = self._load(sfd, path)
            fresh = (
                t is None
                or t.ino != fst.st_ino
                or t.covered() > fst.st_size
                or (bool(t.head) and os.pread(fd, len(t.head), 0) != t.head)
            )
            if fresh:
                os.ftruncate(sfd, 0)  # another file under this name: it inherits nothing
                t = _Table(fst.st_ino, b"", int.from_bytes(os.urandom(8), "little"))
            if upto > t.covered():
                now = max(_now_ms(), t.ms[-1] if t.ms else 0)
                if t.ms and t.ms[-1] == now:
                    t.ends[-1] = upto  # first read on the same grid point: one record
                else:
                    t.ends.append(upto)
                    t.ms.append(now)
                os.pwrite(sfd, REC.pack(upto, now), HEADER.size + (len(t.ends) - 1) * REC.size)
            if fresh or len(t.head) < min(HEAD, t.covered()):
                t.head = os.pread(fd, min(HEAD, t.covered()), 0)
                os.pwrite(sfd, HEADER.pack(MAGIC, t.ino, len(t.head), t.head, t.gen), 0)
            sst = os.fstat(sfd)
            t.key = (sst.st_ino, sst.st_size, sst.st_mtime_ns)
            return t
        finally:
            os.close(sfd)  # releases the flock

    def _load(self, sfd: int, path: Path) -> _Table | None:
        """The sidecar's table, reading only what was added since this process last read it."""
        raw = os.pread(sfd, HEADER.size, 0)
        if len(raw) < HEADER.size:
            return None
        magic, ino, hlen, head, gen = HEADER.unpack(raw)
        if magic != MAGIC or hlen > HEAD:
            return None
        size = os.fstat(sfd).st_size
        n = (size - HEADER.size) // REC.size
        old = self._tables.get(str(path))
        t = _Table(ino, head[:hlen], gen)
        start = 0
        if old is not None and old.gen == gen and old.ino == ino and 0 < len(old.ends) <= n:
            t.ends, t.ms = (
                old.ends[:-1],
                old.ms[:-1],
            )  # the last record may have been extended since
            start = len(t.ends)
        data = os.pread(sfd, (n - start) * REC.size, HEADER.size + start * REC.size)
        for end, ms in REC.iter_unpack(data[: (len(data) // REC.size) * REC.size]):
            t.ends.append(end)
            t.ms.append(ms)
        return t


def forget(store: Store, group: str, stream: str | None = None) -> None:
    """Remove the stamps of a deleted stream (or of every stream of a deleted group), so a stream
    created again under the name starts afresh even if the file system reuses the inode."""
    b = book(store)
    if stream is not None:
        paths = [b.path(group, stream)]
    else:
        gdir = b.dir / store.group_dir(group).name
        paths = list(gdir.glob("*.stamps")) if gdir.is_dir() and not gdir.is_symlink() else []
    for p in paths:
        try:
            with safeio.under(store.root, "stamps", p.parent.name) as dfd:
                safeio.remove(dfd, p.name)
        except OSError:
            pass  # no stamps folder for it: nothing to forget
        b.drop_cached(p)


_books: dict[str, StampBook] = {}
_books_lock = threading.Lock()


def book(store: Store) -> StampBook:
    """This process's StampBook for `store`'s data directory."""
    key = str(store.root)
    got = _books.get(key)
    if got is None:
        with _books_lock:
            got = _books.setdefault(key, StampBook(store))
    return got
