"""Follows stream files and turns new complete events into index blocks.

Owns: per-file following state (inode, head bytes, checkpoint offset), reading only complete
events, detecting truncation/rotation/deletion, building blocks (chunks, time bounds, tokens)
and committing them. Never writes a stream file, never knows the whoosh schema (index.py does).

Exactly-once: the checkpoint of a stream *is* the end offset of its last committed block, so it is
committed atomically with the blocks. After kill -9 the ingester restarts from the committed
checkpoints; bytes after them are read again and indexed once. Event ids are (stream, file
identity, offset): see model.make_event_id.

Rules worth knowing (also in ARCHITECTURE.md):
- `FileFollow.look` is the one implementation of file identity, used by the ingester and every
  live tail: on every look (not only when the size changed) a new inode, a size below what was
  read or changed head bytes (copytruncate, a rewrite to any size) → the file is new: the stream's
  blocks are dropped and it is read from 0;
- a line longer than `LINE_CAP` bytes is one event of its first `LINE_CAP` bytes (cut, and said
  so when read); the reader skips to its newline in bounded memory, so what follows is never hidden;
- a partial last line is held until its newline arrives, or ingested as it is after
  `PARTIAL_LINE_GRACE` seconds of silence (a writer that never ends its last line loses nothing);
- an event whose last line could still take continuation lines (an open traceback) is held for
  `CONTINUATION_GRACE` seconds;
- symlinks and other non-regular files are never followed.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from logsvc import lines, stamps
from logsvc.errors import StorageError
from logsvc.index import Block, BlockIndex, Snapshot, build_bloom, split_terms, stream_key
from logsvc.lines import event_time
from logsvc.model import ID_HEAD_BYTES
from logsvc.store import Store
from logsvc.tokens import index_tokens_bytes

log = logging.getLogger("logsvc.ingest")

CHUNK_EVENTS = 64
CHUNK_BYTES = 64 * 1024
BLOCK_BYTES = 2 * 1024 * 1024
MAX_READ = 16 * 1024 * 1024  # bytes one ingest step reads over all files (the next step reads on)
# A longer line is kept as its first LINE_CAP bytes (the rest is skipped). Four bytes per character
# and then some: the kept text always exceeds query.MAX_MESSAGE characters, so make_event cuts it
# with its marker and `truncated: true` however the line is encoded.
LINE_CAP = 4 * 1024 * 1024 + 4
SCAN_CHUNK = 1024 * 1024  # how much of an over-long line is looked at at once when seeking its end
HEAD_BYTES = ID_HEAD_BYTES
MARK_BYTES = 32
MERGE_AFTER = 4  # trailing small blocks of a stream merged into one when there are this many
CONTINUATION_GRACE = 0.25
PARTIAL_LINE_GRACE = 2.0


@dataclass
class FileFollow:
    """What a follower knows of one stream file: which file it is, and how far it has read.

    `look` is the one implementation of the file-identity rules, shared by the ingester and every
    live tail so they never disagree on what the stream is. It runs on every look, not only when the
    size changed: a rewrite to the same size shows only in the head bytes.
    """

    ino: int = 0
    head: bytes = b""  # the file's first min(HEAD_BYTES, end) bytes, as they were read
    end: int = 0  # bytes consumed (every complete event before this offset has been taken)
    mark: bytes = b""  # the last bytes taken (before `end`): an in-place rewrite past the head shows here
    mtime_ns: int = -1
    seen_size: int = -1
    changed_at: float = 0.0
    generation: int = 0  # bumped on every reset: anything keyed by an older value is stale

    def look(self, fd: int, fst: os.stat_result, now: float) -> bool:
        """Compare the open file with what was read; on a new file, restart at byte 0. True if reset.

        Every look: inode, size (not below what was read) and head bytes. When the modification
        time moved, also the last bytes taken (bytes now reading as zero are a hole retention
        punched, which keeps the file).
        """
        size = fst.st_size
        reset = size < self.end or (self.ino and fst.st_ino != self.ino)
        if not reset and self.head and os.pread(fd, len(self.head), 0) != self.head:
            reset = True
        if not reset and self.mark and fst.st_mtime_ns != self.mtime_ns:
            now_mark = os.pread(fd, len(self.mark), self.end - len(self.mark))
            # a byte that differs and is not zero: rewritten (a punched hole reads as zeros)
            reset = len(now_mark) < len(self.mark) or any(x and x != y for x, y in zip(now_mark, self.mark, strict=True))
        if reset:
            self.head, self.mark, self.end, self.seen_size = b"", b"", 0, -1
            self.generation += 1
        elif not self.head and self.end:  # adopting a position (a cursor): the file as it is now
            self.head = os.pread(fd, min(HEAD_BYTES, self.end), 0)
            self.mark = os.pread(fd, min(MARK_BYTES, self.end), self.end - min(MARK_BYTES, self.end))
        self.ino, self.mtime_ns = fst.st_ino, fst.st_mtime_ns
        if size != self.seen_size:
            self.seen_size, self.changed_at = size, now
        return bool(reset)

    def took(self, fd: int, consumed: int) -> None:
        """`consumed` more bytes were taken as events; the head grows to cover them (up to HEAD_BYTES)."""
        self.end += consumed
        if len(self.head) < HEAD_BYTES and self.end > len(self.head):
            self.head = os.pread(fd, min(HEAD_BYTES, self.end), 0)
        if consumed:
            self.mark = os.pread(fd, min(MARK_BYTES, self.end), self.end - min(MARK_BYTES, self.end))

    def identity(self) -> bytes:
        """What event ids fold in (model.make_event_id): the inode and the head bytes."""
        return file_identity(self.ino, self.head)


def file_identity(ino: int, head: bytes) -> bytes:
    return ino.to_bytes(8, "little") + head[:HEAD_BYTES]


@dataclass
class _Followed(FileFollow):
    group: str = ""
    stream: str = ""
    skey: str = ""
    tail: list[Block] = field(default_factory=list)  # trailing blocks smaller than block_lines


IngestTimeFn = Callable[[int], int]


class Ingester:
    """Keeps the index level with the stream files. Only one process may run it (see service.py)."""

    def __init__(
        self,
        store: Store,
        index: BlockIndex,
        *,
        block_lines: int = 2048,
        commit_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.index = index
        self.block_lines = block_lines
        self.commit_interval = commit_interval
        self.clock = clock
        self._state: dict[str, _Followed] = {}
        self._dirty: set[str] = set()
        self._dirty_all = True
        self._dirty_lock = threading.Lock()
        self._wake = threading.Event()
        self._pending = 0  # events added since the last commit
        self._uncommitted: set[str] = set()
        self._last_commit = clock()
        self.events_ingested = 0
        self.holding = False
        self.last_error: str | None = None
        self._load()

    # ---- state -------------------------------------------------------------------------------

    def _load(self) -> None:
        with self.index.snapshot() as snap:
            by_stream = snap.by_stream
        self._state.clear()
        for skey, blocks in by_stream.items():
            last = blocks[-1]
            st = _Followed(ino=last.ino, head=bytes.fromhex(last.head)[: last.end], end=last.end,
                           group=last.group, stream=last.stream, skey=skey)
            for b in reversed(blocks):
                if b.lines >= self.block_lines:
                    break
                st.tail.insert(0, b)
            self._state[skey] = st

    def mark_dirty(self, path: str | None) -> None:
        """Watcher callback: `path` changed, or None for "check everything"."""
        with self._dirty_lock:
            if path is None:
                self._dirty_all = True
            elif path.endswith(".log"):
                self._dirty.add(path)
            else:
                return
        self._wake.set()

    # ---- the loop ----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Ingest until `stop` is set. Errors are logged and retried; the loop never dies."""
        backoff = 0.1
        while not stop.is_set():
            self._wake.wait(CONTINUATION_GRACE if self.holding else 0.5)
            self._wake.clear()
            try:
                more = self.step()
                if self._pending and (more is False or self.clock() - self._last_commit >= self.commit_interval):
                    self.commit()
                if more:
                    self._wake.set()
                backoff = 0.1
                self.last_error = None
            except Exception as e:  # noqa: BLE001 - keep ingesting; say why it failed
                if not isinstance(e, StorageError | OSError):
                    log.exception("ingest step failed")
                self._recover(_describe(e))
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        try:
            if self._pending:
                self.commit()
        except Exception:  # noqa: BLE001
            log.exception("final commit failed")
            self.index.cancel()

    def _recover(self, why: str) -> None:
        if self.last_error != why:
            log.error("ingest paused: %s (will retry)", why)
        self.last_error = why
        self.index.cancel()
        self._pending = 0
        self._uncommitted.clear()
        try:
            self._load()
        except Exception as e:  # noqa: BLE001 - the next round tries again
            log.warning("could not reload the index state: %s", e)
        with self._dirty_lock:
            self._dirty_all = True

    def commit(self) -> None:
        try:
            self.index.commit()
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EFBIG):
                raise StorageError("the disk holding the index is full; ingestion resumes when space returns") from e
            raise
        self.events_ingested += self._pending
        self._pending = 0
        self._last_commit = self.clock()
        self._uncommitted.clear()
        # whoosh cannot delete documents it has not committed yet, so merging waits for a commit
        for st in self._state.values():
            if len(st.tail) >= MERGE_AFTER:
                self._merge_tail(st, st.ino)

    def step(self) -> bool:
        """Read what is new in changed files (all files on a rescan). True if more data is waiting."""
        with self._dirty_lock:
            everything, self._dirty_all = self._dirty_all, False
            dirty, self._dirty = self._dirty, set()
        more = False
        budget = [MAX_READ]  # shared by every file of this step; files past it wait for the next one
        if everything:
            seen = set()
            deferred = False
            for group, stream, path in self.store.iter_stream_files():
                skey = stream_key(group, stream)
                seen.add(skey)
                if budget[0] <= 0:
                    deferred = True
                    continue
                more |= self._follow(group, stream, skey, path, budget)
            for skey in [k for k in self._state if k not in seen]:
                self._forget(skey)
            if deferred:
                with self._dirty_lock:
                    self._dirty_all = True
                more = True
        else:
            for p in dirty:
                if budget[0] <= 0:
                    with self._dirty_lock:
                        self._dirty.add(p)
                    more = True
                    continue
                located = self.store.locate(p)
                if located is None:
                    continue
                group, stream = located
                skey = stream_key(group, stream)
                if not os.path.lexists(p):
                    if skey in self._state:
                        self._forget(skey)
                    continue
                more |= self._follow(group, stream, skey, Path(p), budget)
        # held-back events (open tracebacks, unterminated lines) need another look after their grace
        held = [st for st in self._state.values() if st.seen_size > st.end]
        self.holding = bool(held)
        if held:
            with self._dirty_lock:
                for st in held:
                    self._dirty.add(str(self.store.stream_file(st.group, st.stream)))
        return more

    def _forget(self, skey: str) -> None:
        st = self._state.pop(skey, None)
        if st is not None:
            st.tail = []
        self._drop_blocks(skey)

    def _drop_blocks(self, skey: str) -> None:
        if self._uncommitted:
            self.commit()  # whoosh deletes only committed documents: make this stream's new blocks deletable
        self.index.delete_stream(skey)
        self._pending += 1

    def _follow(self, group: str, stream: str, skey: str, path: Path, budget: list[int]) -> bool:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as e:
            if e.errno == errno.ELOOP:
                log.warning("refusing to follow %s: it is a symlink", path)
            if skey in self._state:
                self._forget(skey)
            return False
        try:
            fst = os.fstat(fd)
            if not stat.S_ISREG(fst.st_mode):
                if skey in self._state:
                    self._forget(skey)
                return False
            st = self._state.get(skey)
            if st is None:
                st = self._state[skey] = _Followed(group=group, stream=stream, skey=skey)
            now = self.clock()
            size = fst.st_size
            if st.look(fd, fst, now):
                st.tail = []
                self._drop_blocks(skey)
            if size <= st.end:
                return False
            start, data, events, consumed = read_new_events(fd, st.end, size, now - st.changed_at, max(budget[0], 64 * 1024))
            budget[0] -= len(data)
            st.end = start
            truncated_read = start + len(data) < size
            if not events:
                return truncated_read
            times = stamps.book(self.store).times(group, stream, fd, start + len(data))
            self._add_events(st, data, events, times, fst.st_ino)
            st.took(fd, consumed)
            return truncated_read
        finally:
            os.close(fd)

    # ---- building blocks ---------------------------------------------------------------------

    def _add_events(
        self, st: _Followed, data: bytes, events: list, ingest_for: IngestTimeFn, ino: int
    ) -> None:
        """Cut `events` (RawEvents relative to `data`, which starts at st.end) into blocks and add them."""
        base = st.end
        i = 0
        n = len(events)
        while i < n:
            j = i
            size = 0
            while j < n and j - i < self.block_lines and (size < BLOCK_BYTES or j == i):
                size += events[j].end - events[j].start
                j += 1
            block = self._make_block(st, data, events[i:j], base, ingest_for, ino)
            self.index.add_block(block, self._words(data[events[i].start : events[j - 1].end], block))
            self._uncommitted.add(block.bid)
            self._pending += j - i
            if block.lines < self.block_lines:
                st.tail.append(block)
            else:
                st.tail = []
            i = j

    def _words(self, raw: bytes, block: Block) -> list[str]:
        words, other = split_terms(index_tokens_bytes(raw))
        block.bloom = build_bloom(other)
        return words

    def _make_block(
        self, st: _Followed, data: bytes, events: list, base: int, ingest_for: IngestTimeFn, ino: int
    ) -> Block:
        c_start, c_min, c_max, c_ing, c_count = (array("q") for _ in range(5))
        cur_ing = None
        cur_bytes = 0
        for ev in events:
            off = base + ev.start
            ing = ingest_for(off)
            ts = event_time(ev.text)
            if ts is None:
                ts = ing
            if cur_ing != ing or c_count[-1] >= CHUNK_EVENTS or cur_bytes >= CHUNK_BYTES:
                c_start.append(off)
                c_min.append(ts)
                c_max.append(ts)
                c_ing.append(ing)
                c_count.append(0)
                cur_ing, cur_bytes = ing, 0
            if ts < c_min[-1]:
                c_min[-1] = ts
            if ts > c_max[-1]:
                c_max[-1] = ts
            c_count[-1] += 1
            cur_bytes += ev.end - ev.start
        start = base + events[0].start
        end = base + events[-1].end
        head = st.head if st.head else data[:HEAD_BYTES] if base == 0 else b""
        return Block(
            st.group, st.stream, st.skey, start, end, ino, head.hex(), c_start, c_min, c_max, c_ing, c_count,
            lines=len(events),
        )

    def _merge_tail(self, st: _Followed, ino: int) -> None:
        """Merge the stream's trailing small blocks into one, keeping every chunk's times."""
        blocks = st.tail
        if blocks[-1].end - blocks[0].start > 2 * BLOCK_BYTES:
            st.tail = []  # an over-long line among them: merging would read it whole; leave them be
            return
        path = self.store.stream_file(st.group, st.stream)
        try:
            with open(path, "rb", buffering=0) as f:
                f.seek(blocks[0].start)
                raw = f.read(blocks[-1].end - blocks[0].start)
        except OSError:
            return
        if len(raw) != blocks[-1].end - blocks[0].start:
            return
        merged = Block(
            st.group, st.stream, st.skey, blocks[0].start, blocks[-1].end, ino, blocks[0].head,
            array("q"), array("q"), array("q"), array("q"), array("q"), lines=sum(b.lines for b in blocks),
        )
        for b in blocks:
            merged.c_start.extend(b.c_start)
            merged.c_min.extend(b.c_min)
            merged.c_max.extend(b.c_max)
            merged.c_ing.extend(b.c_ing)
            merged.c_count.extend(b.c_count)
            self.index.delete_block(b)
        merged.bounds()
        self.index.add_block(merged, self._words(raw, merged))
        self._uncommitted.add(merged.bid)
        self._pending += 1
        st.tail = [] if merged.lines >= self.block_lines else [merged]

    # ---- rebuild -----------------------------------------------------------------------------

    def rebuild(self, old: Snapshot | None, progress: Callable[[int, int], None] | None = None) -> int:
        """Index every stream file from byte 0 into this (empty) index.

        `old`, if readable, supplies the ingestion times it had recorded, so the rebuilt index
        answers exactly as the old one (those times are the one thing the files do not hold).
        Returns the number of events indexed.
        """
        files = list(self.store.iter_stream_files())
        total = sum(os.stat(p).st_size for _, _, p in files if os.path.exists(p))
        done = 0
        count = 0
        for group, stream, path in files:
            skey = stream_key(group, stream)
            old_blocks = old.stream_blocks(skey) if old is not None else []
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                fst = os.fstat(fd)
                st = self._state[skey] = _Followed(
                    ino=fst.st_ino, seen_size=fst.st_size, group=group, stream=stream, skey=skey
                )
                limit = old_blocks[-1].end if old_blocks else fst.st_size
                ingest_for = _old_ingest_times(old_blocks, stamps.book(self.store).times(group, stream, fd, limit))
                while st.end < limit:
                    # the follow rules, as if the writer had gone quiet: same events, same ids
                    start, data, events, consumed = read_new_events(fd, st.end, limit, PARTIAL_LINE_GRACE, MAX_READ)
                    st.end = start
                    if not events:
                        break
                    self._add_events(st, data, events, ingest_for, fst.st_ino)
                    st.took(fd, consumed)
                    count += len(events)
                    done += consumed
                    if self._pending > 200_000:
                        self.commit()
                    if progress:
                        progress(done, total)
            finally:
                os.close(fd)
        self.commit()
        if progress:
            progress(total, total)
        return count


def read_new_events(fd: int, offset: int, size: int, quiet: float, max_read: int) -> tuple[int, bytes, list, int]:
    """Read the complete events after `offset` of an open stream file, by the follow rules.

    Returns (start, data, events, consumed): `start` is where `data` begins (one past `offset` when
    the first byte is the newline ending a line already taken as it was), `events` are RawEvents
    relative to `data`, `consumed` the bytes they cover. Shared by the ingester and live tails so an
    event has the same boundaries (and id) however it is read. A line longer than `max_read` is
    read up to LINE_CAP + 1 bytes, so every reader sees a line over LINE_CAP the same way: one event of its first LINE_CAP bytes
    whose `end` (and `consumed`) reach past `data` to the line's newline.
    """
    data = os.pread(fd, min(size - offset, max_read), offset)
    if data[:1] == b"\n" and offset and os.pread(fd, 1, offset - 1) != b"\n":
        offset += 1  # the newline ending a line we already took as it was (see PARTIAL_LINE_GRACE)
        data = data[1:]
    if b"\n" not in data and offset + len(data) < size and len(data) <= LINE_CAP:
        data = os.pread(fd, min(size - offset, LINE_CAP + 1), offset)  # a line longer than max_read
    partial_read = offset + len(data) < size
    if len(data) > LINE_CAP and b"\n" not in data[: LINE_CAP + 1]:
        return _long_line(fd, offset, size, data, quiet)
    events, consumed = lines.split_events(data, flush=quiet >= CONTINUATION_GRACE and not partial_read)
    if consumed == 0 and not partial_read and quiet >= PARTIAL_LINE_GRACE and data:
        # a last line that never got its newline: take it as it is rather than lose it
        events, consumed = lines.split_events(data + b"\n", flush=True)
        consumed = min(consumed, len(data))
    return offset, data, events, consumed


def _long_line(fd: int, offset: int, size: int, data: bytes, quiet: float) -> tuple[int, bytes, list, int]:
    """A line longer than LINE_CAP at `offset`: one event of its first LINE_CAP bytes, ending at its
    newline (found SCAN_CHUNK bytes at a time, never holding the line), or at the end of a file gone
    quiet. The message says it was cut (see LINE_CAP)."""
    pos = offset + LINE_CAP
    nl = -1
    while pos < size:
        piece = os.pread(fd, min(SCAN_CHUNK, size - pos), pos)
        if not piece:
            break
        i = piece.find(b"\n")
        if i >= 0:
            nl = pos + i
            break
        pos += len(piece)
    if nl < 0 and quiet < PARTIAL_LINE_GRACE:
        return offset, b"", [], 0  # the line is still being written
    end = nl + 1 if nl >= 0 else size
    kept = data[:LINE_CAP]
    text = lines.split_events(kept + b"\n", flush=True)[0][0].text
    event = lines.RawEvent(0, end - offset, text)
    return offset, kept, [event], end - offset
def _describe(e: Exception) -> str:
    if isinstance(e, StorageError):
        return e.message
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "the disk holding the data directory is full; ingestion resumes when space returns"
    return f"{type(e).__name__}: {e}"


def _old_ingest_times(blocks: list[Block], fallback: IngestTimeFn) -> IngestTimeFn:
    """offset -> ingestion time, from the chunks of an old index (what was served), else `fallback`
    (the stream's stamps, stamps.py)."""
    starts: list[int] = []
    times: list[int] = []
    for b in blocks:
        starts.extend(b.c_start)
        times.extend(b.c_ing)
    if not starts:
        return fallback
    import bisect

    def ingest_for(offset: int) -> int:
        i = bisect.bisect_right(starts, offset) - 1
        return times[i] if i >= 0 else fallback(offset)

    return ingest_for
