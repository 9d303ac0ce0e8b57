"""Follows stream files and turns new complete events into index blocks.

Owns: per-file following state (inode, head bytes, checkpoint offset), reading only complete
events, detecting truncation/rotation/deletion, building blocks (chunks, time bounds, tokens)
and committing them. Never writes a stream file, never knows the whoosh schema (index.py does).

Exactly-once: the checkpoint of a stream *is* the end offset of its last committed block, so it is
committed atomically with the blocks. After kill -9 the ingester restarts from the committed
checkpoints; bytes after them are read again and indexed once. Event ids are (stream, file
identity, offset): see model.make_event_id.

The follow rules (file identity, over-long lines, partial last lines, open tracebacks) are
follow.py's, shared with live tails and with reads of bytes the index has not reached yet.
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

from logsvc import blockterms, stamps
from logsvc.errors import LogsvcError, StorageError
from logsvc.follow import (
    CONTINUATION_GRACE,
    HEAD_BYTES,
    PARTIAL_LINE_GRACE,
    FileFollow,
)
from logsvc.index import (
    NO_STAMP_MAX,
    NO_STAMP_MIN,
    SIG_ALL,
    SIG_NONE,
    Block,
    BlockIndex,
    Snapshot,
    word_sig,
)
from logsvc.lines import event_time
from logsvc.model import stream_key
from logsvc.store import Store
from logsvc.tokens import index_tokens_bytes

log = logging.getLogger("logsvc.ingest")

CHUNK_EVENTS = 64
CHUNK_BYTES = 64 * 1024
BLOCK_BYTES = 2 * 1024 * 1024
MAX_READ = 4 * 1024 * 1024  # bytes one ingest step reads over all files (the next step reads on);
# a step holds ~3x this (bytes, decoded texts, tokens): 16 MB steps peaked 65 MB higher at 10M lines
# A deleted stream file stays in the trash at least this long, so every follower that looks at the
# path meanwhile (tails, subscription deliveries, `logsvc forward`) sees the file replaced rather than
# a file that merely went on (they know files by inode and first bytes; see Store.to_trash).
TRASH_GRACE_S = 60.0
MERGE_AFTER = 4  # trailing small blocks of a stream merged into one when there are this many


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
        commit_interval: float = 2.0,
        live_commit_interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        trash_grace: float = TRASH_GRACE_S,
    ) -> None:
        self.store = store
        self.trash_grace = trash_grace
        self.index = index
        self.terms = blockterms.Helper()  # blocks' words and Bloom filters, on the other core
        self.block_lines = block_lines
        self.commit_interval = commit_interval
        # caught up, what was read is committed once the last commit is this old, not at once: a
        # stream appended to every millisecond (a live tail's 2,000 lines/s) cost a whoosh commit
        # per write, in a process that also serves requests (settings: live_commit_interval)
        self.live_commit_interval = live_commit_interval
        self.clock = clock
        self._state: dict[str, _Followed] = {}
        self._dirty: set[str] = set()
        self._dirty_all = True
        self._dirty_lock = threading.Lock()
        self._wake = threading.Event()
        self._pending = 0  # events added since the last commit
        self._uncommitted: set[str] = set()
        self._last_commit = clock()
        # trash entries (Store.to_trash) whose streams were dropped: the index generation that
        # dropped them and when this process first saw them; emptied after `trash_grace` once
        # `derived_caught_up(generation)` says every other copy of the index's view (the columns)
        # has followed past it
        self._trashed: dict[str, tuple[int, float]] = {}
        self.derived_caught_up: Callable[[int], bool] = lambda generation: True
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
            st = _Followed(
                ino=last.ino,
                head=bytes.fromhex(last.head)[: last.end],
                end=last.end,
                group=last.group,
                stream=last.stream,
                skey=skey,
            )
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
        more = False
        stepped = float("-inf")
        while not stop.is_set():
            if not more:
                # Caught up: a live stream's writes gather for a moment into one block. A step per
                # write made a block per write, and the commit then merged dozens of them (a whoosh
                # deletion each): 50-100 ms holding the GIL of the worker serving the tails, four
                # times a second. Readers do not wait for this: unindexed bytes are read directly.
                rest = stepped + self.live_commit_interval / MERGE_AFTER - self.clock()
                if rest > 0 and stop.wait(rest):
                    break
            wait = CONTINUATION_GRACE if self.holding else 0.5
            if self._pending:  # a commit held back (live_commit_interval): wake up for it
                due = self._last_commit + self.live_commit_interval
                wait = min(wait, max(0.0, due - self.clock()))
            self._wake.wait(wait)
            self._wake.clear()
            try:
                stepped = self.clock()
                more = self.step()
                gap = self.commit_interval if more else self.live_commit_interval
                if (
                    self._pending and self.clock() - self._last_commit >= gap
                ) or self.index.merge_ready():
                    self.commit()
                if more:
                    self._wake.set()
                backoff = 0.1
                self.last_error = None
            except Exception as e:
                if not isinstance(e, StorageError | OSError):
                    log.exception("ingest step failed")
                self._recover(_describe(e))
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        try:
            if self._pending:
                self.commit()
        except Exception:
            log.exception("final commit failed")
            self.index.cancel()
        finally:
            self.close()

    def close(self) -> None:
        """Let the tokenising helpers go (`run` and `rebuild` do it when they end; a caller of
        `step` may, or leave it to the garbage collector)."""
        self.terms.close()

    def _recover(self, why: str) -> None:
        if self.last_error != why:
            log.error("ingest paused: %s (will retry)", why)
        self.last_error = why
        self.index.cancel()
        self._pending = 0
        self._uncommitted.clear()
        try:
            self._load()
        except Exception as e:
            log.warning("could not reload the index state: %s", e)
        with self._dirty_lock:
            self._dirty_all = True

    def commit(self) -> None:
        try:
            self.index.commit()
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EFBIG):
                raise StorageError(
                    "the disk holding the index is full; ingestion resumes when space returns"
                ) from e
            raise
        self.events_ingested += self._pending
        self._pending = 0
        self._last_commit = self.clock()
        self._uncommitted.clear()
        # whoosh cannot delete documents it has not committed yet, so merging waits for a commit
        for st in self._state.values():
            if len(st.tail) >= MERGE_AFTER:
                self._merge_tail(st, st.ino)

    def sweep_trash(self) -> None:
        """Drop what describes deleted stream files (Store.to_trash), then let their inodes go.

        The order is the point: the blocks go in a commit first, and the trash is emptied only after
        it (and after the columns followed it, and `trash_grace` later), so no file created later can
        get an inode that a block, a stamp or a column file still names.
        """
        entries = self.store.trash()
        if not entries:
            return
        fresh = [(name, inos) for name, inos in entries if name not in self._trashed]
        if fresh:
            gone = frozenset().union(*(inos for _, inos in fresh))
            for skey, st in list(self._state.items()):
                if st.ino in gone:
                    self._forget(skey)
            if self._pending:
                self.commit()
            generation = self.index.generation()
            for name, _ in fresh:
                self._trashed[name] = (generation, self.clock())
        now = self.clock()
        done = [
            name
            for name, _ in entries
            if now - self._trashed[name][1] >= self.trash_grace
            and self.derived_caught_up(self._trashed[name][0])
        ]
        if done:
            self.store.empty_trash(done)
        present = {name for name, _ in entries}
        self._trashed = {n: g for n, g in self._trashed.items() if n in present and n not in done}

    def step(self) -> bool:
        """Read what is new in changed files (all files on a rescan). True if more data is waiting."""
        self.sweep_trash()
        with self._dirty_lock:
            everything, self._dirty_all = self._dirty_all, False
            dirty, self._dirty = self._dirty, set()
        more = False
        budget = [
            MAX_READ
        ]  # shared by every file of this step; files past it wait for the next one
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
            start, data, events, consumed, times = stamps.read_followed(
                self.store, group, stream, fd, st, size, now, max(budget[0], 64 * 1024)
            )
            budget[0] -= len(data)
            st.end = start
            truncated_read = start + len(data) < size
            if not events:
                return truncated_read
            self._add_events(st, data, events, times, fst.st_ino)
            st.took(fd, consumed, data)
            return truncated_read
        finally:
            os.close(fd)

    # ---- building blocks ---------------------------------------------------------------------

    def _add_events(
        self, st: _Followed, data: bytes, events: list, ingest_for: IngestTimeFn, ino: int
    ) -> None:
        """Cut `events` (RawEvents relative to `data`, which starts at st.end) into blocks and add them."""
        base = st.end
        cuts = []
        i = 0
        n = len(events)
        while i < n:
            j = i
            size = 0
            while j < n and j - i < self.block_lines and (size < BLOCK_BYTES or j == i):
                size += events[j].end - events[j].start
                j += 1
            cuts.append((i, j))
            i = j
        # every block's terms are under way in the helper while the blocks are cut and added
        view = memoryview(data)
        pending = [self.terms.submit(view[events[i].start : events[j - 1].end]) for i, j in cuts]
        for (i, j), got in zip(cuts, pending, strict=True):
            block = self._make_block(st, data, events[i:j], base, ingest_for, ino)
            words, block.bloom = got()
            self.index.add_block(block, words)
            self._uncommitted.add(block.bid)
            self._pending += j - i
            if block.lines < self.block_lines:
                st.tail.append(block)
            else:
                st.tail = []

    def _make_block(
        self,
        st: _Followed,
        data: bytes,
        events: list,
        base: int,
        ingest_for: IngestTimeFn,
        ino: int,
    ) -> Block:
        c_start, c_min, c_max, c_ing, c_count = (array("q") for _ in range(5))
        c_smin, c_smax = array("q"), array("q")  # stamped events only (the time sketch, index.py)
        bare: list[list] = []  # per chunk, its events without a timestamp
        cur_ing = None
        cur_bytes = 0
        for ev in events:
            off = base + ev.start
            ing = ingest_for(off)
            ts = event_time(ev.text)
            if cur_ing != ing or c_count[-1] >= CHUNK_EVENTS or cur_bytes >= CHUNK_BYTES:
                c_start.append(off)
                first = ing if ts is None else ts
                c_min.append(first)
                c_max.append(first)
                c_ing.append(ing)
                c_count.append(0)
                c_smin.append(NO_STAMP_MIN)
                c_smax.append(NO_STAMP_MAX)
                bare.append([])
                cur_ing, cur_bytes = ing, 0
            if ts is None:
                ts = ing
                bare[-1].append(ev)
            else:
                if ts < c_smin[-1]:
                    c_smin[-1] = ts
                if ts > c_smax[-1]:
                    c_smax[-1] = ts
            if ts < c_min[-1]:
                c_min[-1] = ts
            if ts > c_max[-1]:
                c_max[-1] = ts
            c_count[-1] += 1
            cur_bytes += ev.end - ev.start
        sigs, masks = [], []
        for i, evs in enumerate(bare):
            if not evs or len(evs) == c_count[i]:  # no bare events, or only: nothing to tell apart
                sigs.append(SIG_ALL if evs else SIG_NONE)
                masks.append(b"")
            else:
                sigs.append(
                    word_sig(index_tokens_bytes(b"\n".join(data[e.start : e.end] for e in evs)))
                )
                masks.append(_bare_lines(data, c_start[i] - base, evs))
        start = base + events[0].start
        end = base + events[-1].end
        head = st.head if st.head else data[:HEAD_BYTES] if base == 0 else b""
        block = Block(
            st.group,
            st.stream,
            st.skey,
            start,
            end,
            ino,
            head.hex(),
            c_start,
            c_min,
            c_max,
            c_ing,
            c_count,
            lines=len(events),
            c_smin=c_smin,
            c_smax=c_smax,
            c_bare=bytes(1 if evs else 0 for evs in bare),
            c_sig=b"".join(sigs),
            c_lines=tuple(masks),
        )
        block.compact()
        return block

    def _merge_tail(self, st: _Followed, ino: int) -> None:
        """Merge the stream's trailing small blocks into one, keeping every chunk's times."""
        blocks = st.tail
        if blocks[-1].end - blocks[0].start > 2 * BLOCK_BYTES:
            st.tail = []  # an over-long line among them: merging would read it whole; leave them be
            return
        try:
            with self.store.open_stream(
                st.group, st.stream
            ) as f:  # the store's checks: no links, no foreign files
                if os.fstat(f.fileno()).st_ino != ino:
                    return  # replaced since the blocks were cut: the next look resets the stream
                f.seek(blocks[0].start)
                raw = f.read(blocks[-1].end - blocks[0].start)
        except (OSError, LogsvcError):
            return
        if len(raw) != blocks[-1].end - blocks[0].start:
            return
        merged = Block(
            st.group,
            st.stream,
            st.skey,
            blocks[0].start,
            blocks[-1].end,
            ino,
            blocks[0].head,
            array("q"),
            array("q"),
            array("q"),
            array("q"),
            array("q"),
            lines=sum(b.lines for b in blocks),
        )
        for b in blocks:
            merged.c_start.extend(b.c_start)
            merged.c_min.extend(b.c_min)
            merged.c_max.extend(b.c_max)
            merged.c_ing.extend(b.c_ing)
            merged.c_count.extend(b.c_count)
            self.index.delete_block(b)
        if all(b.c_smin is not None for b in blocks):  # else schema-1 blocks: no sketch to keep
            parts = [b.sketch() for b in blocks]
            merged.c_smin, merged.c_smax = array("q"), array("q")
            for smin, smax, *_ in parts:
                merged.c_smin.extend(smin)
                merged.c_smax.extend(smax)
            merged.c_bare = b"".join(p[2] for p in parts)
            merged.c_sig = b"".join(p[3] for p in parts)
            merged.c_lines = tuple(m for p in parts for m in p[4])
            merged.compact()
        merged.bounds()
        words, merged.bloom = blockterms.terms(raw)
        self.index.add_block(merged, words)
        self._uncommitted.add(merged.bid)
        self._pending += 1
        st.tail = [] if merged.lines >= self.block_lines else [merged]

    # ---- rebuild -----------------------------------------------------------------------------

    def rebuild(
        self, old: Snapshot | None, progress: Callable[[int, int], None] | None = None
    ) -> int:
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
                ingest_for = _old_ingest_times(
                    old_blocks, stamps.book(self.store).times(group, stream, fd, limit)
                )
                while st.end < limit:
                    # the follow rules, as if the writer had gone quiet: same events, same ids
                    start, data, events, consumed, _ = stamps.read_events(
                        self.store,
                        group,
                        stream,
                        fd,
                        st.end,
                        limit,
                        PARTIAL_LINE_GRACE,
                        MAX_READ,
                        decide=limit == fst.st_size,  # lines cut before are cut where they were
                    )
                    st.end = start
                    if not events:
                        break
                    self._add_events(st, data, events, ingest_for, fst.st_ino)
                    st.took(fd, consumed, data)
                    count += len(events)
                    done += consumed
                    if self._pending > 200_000:
                        self.commit()
                    if progress:
                        progress(done, total)
            finally:
                os.close(fd)
        self.commit()
        self.close()  # a rebuild is done with its tokenising helpers
        if progress:
            progress(total, total)
        return count


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


def _bare_lines(data: bytes, chunk_start: int, bare: list) -> bytes:
    """The chunk's line mask (index.Block.c_lines): bit j set when its line j (counted from
    `chunk_start` in `data`) belongs to one of the `bare` events (in file order). One pass over
    the chunk's bytes."""
    bits = line = 0
    pos = chunk_start
    for ev in bare:
        line += data.count(b"\n", pos, ev.start)
        n = data.count(b"\n", ev.start, ev.end)
        bits |= ((1 << n) - 1) << line
        line += n
        pos = ev.end
    return bits.to_bytes((bits.bit_length() + 7) // 8, "little")
