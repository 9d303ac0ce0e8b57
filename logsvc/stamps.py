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

The sidecar also records the one other thing about a stream's bytes that the file does not hold:
where a line was taken WITHOUT its newline (the writer went quiet mid-line: follow.py's partial-line
grace). A record (-end, start) says bytes [start, end) are one event, taken as they were. Whether
and when a line is taken so is a matter of timing, so it is decided once: by the first follower of
the live file to take it (the ingester, a tail, a subscription, `forward`), which records it under the
sidecar's lock before it takes it, and every reader after it follows the record through
`read_events`, so the bytes that arrive after it ("rest of the line\n") are the next event for
everyone, now and after `logsvc reindex`.

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

from logsvc import follow, names, safeio
from logsvc.store import Store

MAGIC = b"LSTAMP1\0"
HEAD = 64
HEADER = struct.Struct("<8sQB64sQ7x")  # magic, inode, head length, head, generation; 96 bytes
# a record: (end offset, epoch ms); or a cut, (-end, start): a line taken without its newline
REC = struct.Struct("<qq")
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
    __slots__ = ("cuts", "ends", "gen", "head", "ino", "key", "ms", "n", "open_last")

    def __init__(self, ino: int, head: bytes, gen: int = 0) -> None:
        self.ino, self.head, self.gen = ino, head, gen
        self.ends: list[int] = []
        self.ms: list[int] = []
        self.cuts: list[tuple[int, int]] = []  # (end, start) of lines taken as they were
        self.n = 0  # records in the sidecar
        self.open_last = False  # the last record is ends[-1]'s (a later read may extend it)
        self.key: tuple = ()

    def covered(self) -> int:
        return self.ends[-1] if self.ends else 0

    def at(self, offset: int) -> int:
        i = bisect.bisect_right(self.ends, offset)
        return self.ms[i] if i < len(self.ms) else (self.ms[-1] if self.ms else _now_ms())

    def cut_after(self, offset: int) -> tuple[int, int] | None:
        """The first line taken as it was that ends past `offset`: (start, end), or None."""
        if not self.cuts:
            return None
        i = bisect.bisect_right(self.cuts, (offset, 2**63))
        return (self.cuts[i][1], self.cuts[i][0]) if i < len(self.cuts) else None


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
            path = (
                self.dir / names.encode_segment(group) / (names.encode_segment(stream) + ".stamps")
            )
            if len(self._paths) >= PATHS_CACHED:
                self._paths.clear()
            hit = self._paths[(group, stream)] = (path, str(path))
        return hit

    def times(self, group: str, stream: str, fd: int, upto: int) -> TimeFn:
        """offset -> epoch ms at which logsvc first read that byte of the open stream file `fd`, for
        offsets below `upto`. Bytes below `upto` that nobody has read yet are stamped now."""
        return self._table(group, stream, fd, upto).at

    def _table(self, group: str, stream: str, fd: int, upto: int, check: bool = False) -> _Table:
        """The stream's table, stamped up to `upto`; `check`: compare its head with the file's
        first (the cached copy is otherwise trusted while the sidecar is unchanged)."""
        path, key = self._where(group, stream)
        fst = os.fstat(fd)
        t = self._tables.get(key)
        if check and t is not None and os.pread(fd, len(t.head), 0) != t.head:
            t = None  # rewritten under the same inode and size: the sync below starts afresh
        if t is not None and t.ino == fst.st_ino and upto <= t.covered() <= fst.st_size:
            try:
                sst = os.stat(path, follow_symlinks=False)
                if (sst.st_ino, sst.st_size, sst.st_mtime_ns) == t.key:
                    return t
            except OSError:
                pass
        try:
            t = self._sync(path, fd, fst, upto)
        except OSError:
            # a read-only data directory: whatever is recorded, else the file's modification time
            t = _Table(fst.st_ino, b"")
            t.ends, t.ms = [max(upto, 1)], [int(fst.st_mtime * 1000)]
            return t
        self._tables[key] = t
        return t

    def cut(self, group: str, stream: str, fd: int, start: int, end: int) -> bool:
        """Record that bytes [start, end) of the open stream file, its last bytes, are one event
        taken without its newline. False (nothing recorded) if the file has grown past `end`
        meanwhile: the line may have been ended since, and the caller reads again."""
        path, key = self._where(group, stream)
        with safeio.under(self.store.root, "stamps", path.parent.name, create=True) as dfd:
            sfd = safeio.open_file(dfd, path.name, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(sfd, fcntl.LOCK_EX)
            # under the lock: a reader that read past `end` stamps past it under this lock too, so
            # either it came first (the size says so here) or it finds this record when it stamps;
            # a second decider of the same line finds the record and adds none
            fst = os.fstat(fd)
            t = self._sync_locked(sfd, path, fd, fst, end)
            if fst.st_size != end or t.covered() != end:
                return False
            if not t.cuts or t.cuts[-1][0] < end:
                t.cuts.append((end, start))
                os.pwrite(sfd, REC.pack(-end, start), HEADER.size + t.n * REC.size)
                t.n += 1
                t.open_last = False
                sst = os.fstat(sfd)
                t.key = (sst.st_ino, sst.st_size, sst.st_mtime_ns)
            self._tables[key] = t
            return True
        finally:
            os.close(sfd)

    def drop_cached(self, path: Path) -> None:
        """Forget this process's copy of a sidecar that was just removed (`forget`)."""
        self._tables.pop(str(path), None)

    def _sync(self, path: Path, fd: int, fst: os.stat_result, upto: int) -> _Table:
        # through safeio: no link followed at any level, private modes, a regular file of ours
        with safeio.under(self.store.root, "stamps", path.parent.name, create=True) as dfd:
            sfd = safeio.open_file(dfd, path.name, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(sfd, fcntl.LOCK_EX)
            return self._sync_locked(sfd, path, fd, fst, upto)
        finally:
            os.close(sfd)  # releases the flock

    def _sync_locked(self, sfd: int, path: Path, fd: int, fst: os.stat_result, upto: int) -> _Table:
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
            if t.ms and t.ms[-1] == now and t.open_last:
                t.ends[-1] = upto  # first read on the same grid point: one record
                at = t.n - 1
            else:
                t.ends.append(upto)
                t.ms.append(now)
                at, t.n, t.open_last = t.n, t.n + 1, True
            os.pwrite(sfd, REC.pack(upto, now), HEADER.size + at * REC.size)
        if fresh or len(t.head) < min(HEAD, t.covered()):
            t.head = os.pread(fd, min(HEAD, t.covered()), 0)
            os.pwrite(sfd, HEADER.pack(MAGIC, t.ino, len(t.head), t.head, t.gen), 0)
        sst = os.fstat(sfd)
        t.key = (sst.st_ino, sst.st_size, sst.st_mtime_ns)
        return t

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
        if old is not None and old.gen == gen and old.ino == ino and 0 < old.n <= n:
            t.cuts = list(old.cuts)
            if old.open_last:  # the last record may have been extended since: read it again
                t.ends, t.ms, start = old.ends[:-1], old.ms[:-1], old.n - 1
            else:
                t.ends, t.ms, start = list(old.ends), list(old.ms), old.n
        data = os.pread(sfd, (n - start) * REC.size, HEADER.size + start * REC.size)
        for end, ms in REC.iter_unpack(data[: (len(data) // REC.size) * REC.size]):
            if end < 0:
                t.cuts.append((-end, ms))
                t.open_last = False
            else:
                t.ends.append(end)
                t.ms.append(ms)
                t.open_last = True
        t.n = start + len(data) // REC.size
        return t


def read_events(
    store: Store,
    group: str,
    stream: str,
    fd: int,
    offset: int,
    size: int,
    quiet: float,
    max_read: int,
    *,
    decide: bool = False,
) -> tuple[int, bytes, list, int, TimeFn]:
    """`follow.read_new_events` as every reader of a stream must call it: with the stream's recorded
    cuts (lines taken without their newline), and the times of what was read.

    Returns (start, data, events, consumed, times). A reader that `decide`s (one following the live
    file: the ingester, a tail, a subscription, `forward`) may take a line without its newline by
    its own clock, and records it (`cut`) before taking it, unless one is recorded already; every
    reader takes such a line exactly where it was recorded, and a reader of bytes already taken (a
    search, a re-read) never takes one the record does not hold. Timing decides such a line, so two
    readers deciding alone could cut it differently.
    """
    b = book(store)
    start, data, evs, consumed = follow.read_new_events(
        fd, offset, size, quiet, max_read, partial=decide
    )
    # after the read: a cut recorded before this read past it is in the table (stamping past the
    # covered end takes the sidecar's lock, which `cut` holds while it checks the size)
    t = b._table(group, stream, fd, start + len(data) if evs else 0)
    c = t.cut_after(offset)
    if c is not None:  # rare: make sure the record is of this file, not of one it replaced
        t = b._table(group, stream, fd, start + len(data) if evs else 0, check=True)
        c = t.cut_after(offset)
    bound = None
    if c is not None:
        lo, hi = c
        if offset < lo and (start + consumed > lo or (not consumed and size >= hi)):
            bound = lo  # the whole events before the cut line, as they were taken
        elif lo <= offset and start + consumed != hi and size >= hi:
            bound = hi  # the cut line itself
    elif decide and evs and _taken_as_is(fd, start, data, consumed):
        try:
            recorded = b.cut(group, stream, fd, start + evs[-1].start, start + consumed)
        except OSError:  # a read-only data directory: nobody can record it, so it is taken as is
            recorded = True
        if not recorded:
            return start, b"", [], 0, t.at  # the line may have ended meanwhile: read again
    if bound is not None:
        start, data, evs, consumed = follow.read_new_events(
            fd, offset, bound, float("inf"), max_read
        )
        if evs:
            t = b._table(group, stream, fd, start + len(data))
    return start, data, evs, consumed, t.at


def read_followed(
    store: Store,
    group: str,
    stream: str,
    fd: int,
    ff: follow.FileFollow,
    size: int,
    now: float,
    max_read: int,
) -> tuple[int, bytes, list, int, TimeFn]:
    """What is new after a follower's position (`ff.end`), read as a follower of the live file
    reads it (the ingester, a tail, a subscription, `forward`): `read_events`, deciding, with the
    quiet time since the follower last saw the file change (`now` on its clock)."""
    return read_events(
        store, group, stream, fd, ff.end, size, now - ff.changed_at, max_read, decide=True
    )


def _taken_as_is(fd: int, start: int, data: bytes, consumed: int) -> bool:
    """Did this read take its last event without a newline (the writer went quiet mid-line)?"""
    last = (
        data[consumed - 1 : consumed]
        if consumed <= len(data)
        else os.pread(fd, 1, start + consumed - 1)
    )
    return bool(consumed) and last != b"\n"


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
