"""Live tail: "what is new since cursor C, matching P", as a generator. No transport.

Owns: cursors (per-stream byte offsets), following files directly (not through the index, so a
line reaches a tail client in about a millisecond in every worker process) and resuming from a
cursor with no gap and no duplicate. SSE framing lives in api/rest.py, terminal printing in cli.py.

Event boundaries follow exactly the ingester's rules (held tracebacks, unterminated last lines),
so an event has the same id whether it arrived by tail or by search.
"""

from __future__ import annotations

import base64
import bisect
import json
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from logsvc import stamps
from logsvc.errors import InvalidParameter, LimitExceeded
from logsvc.filterpattern import FilterPattern
from logsvc.ingest import CONTINUATION_GRACE, read_new_events
from logsvc.model import LogEvent
from logsvc.query import Source, make_event
from logsvc.store import Store
from logsvc.visibility import visible
from logsvc.watch import Watcher

READ_CHUNK = 1024 * 1024
MAX_BATCH = 1000


def encode_cursor(offsets: dict[str, int]) -> str:
    raw = json.dumps(offsets, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> dict[str, int]:
    """:raises InvalidParameter: for anything that is not a cursor this server wrote."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in data.items()):
            raise ValueError
        return data
    except (ValueError, TypeError):
        raise InvalidParameter("Last-Event-ID is not a tail cursor from this server", field="Last-Event-ID") from None


@dataclass
class _Pos:
    offset: int
    ino: int = 0
    size_seen: int = -1
    changed_at: float = 0.0
    pending: bool = True  # unread bytes (or a held event) remain: read again without a file event


class Tailer:
    """Per-process tail machinery; every open tail is a generator from `follow`."""

    def __init__(self, store: Store, watcher: Watcher, max_clients: int = 200) -> None:
        self.store = store
        self.watcher = watcher
        self.max_clients = max_clients
        self._clients = 0
        self._lock = threading.Lock()
        self._feeds: dict[str, _Feed] = {}
        self._json: dict[tuple, str] = {}
        self._sources: dict[tuple, tuple[float, list[Source]]] = {}

    def end_cursor(self, sources: list[Source]) -> dict[str, int]:
        """A cursor at the current end of every source (tail from now)."""
        out = {}
        for s in sources:
            try:
                out[s.skey] = os.stat(s.path).st_size
            except OSError:
                out[s.skey] = 0
        return out

    def follow(
        self,
        list_sources: Callable[[], list[Source]],
        cursor: dict[str, int],
        pattern: FilterPattern,
        *,
        heartbeat: float = 15.0,
        stop: threading.Event | None = None,
        max_seconds: float | None = None,
    ) -> TailSession:
        """An iterator of (events, cursor) batches as lines arrive; ([], cursor) as a heartbeat.

        Streams that appear after the tail started are read from their first byte. The slot is
        taken now and given back by `close()` (or when the iterator ends).
        :raises LimitExceeded: when this process already serves `max_clients` tails.
        """
        with self._lock:
            if self._clients >= self.max_clients:
                raise LimitExceeded(
                    f"this server already has {self.max_clients} open tails; close one or raise --max-tail-clients",
                    field="tail",
                )
            self._clients += 1
        return TailSession(self._follow(list_sources, dict(cursor), pattern, heartbeat, stop, max_seconds), self._release)

    def shared_sources(self, key: tuple, list_sources: Callable[[], list[Source]], ttl: float = 1.0) -> list[Source]:
        """`list_sources()` shared by every tail of the same groups/streams for `ttl` seconds."""
        now = time.monotonic()
        hit = self._sources.get(key)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
        got = list_sources()
        self._sources[key] = (now, got)
        return got

    def _release(self) -> None:
        with self._lock:
            self._clients -= 1

    @property
    def clients(self) -> int:
        return self._clients

    def _follow(self, list_sources, cursor, pattern, heartbeat, stop, max_seconds):  # noqa: ANN001, ANN202
        pos: dict[str, _Pos] = {k: _Pos(v) for k, v in cursor.items()}
        sources: list[Source] = []
        listed_at = 0.0
        version = -1
        checked = -1  # watcher version up to which every source has been read
        last_yield = time.monotonic()
        began = last_yield
        while stop is None or not stop.is_set():
            now = time.monotonic()
            if max_seconds is not None and now - began > max_seconds:
                return
            if now - listed_at > 1.0:
                sources = list_sources()
                listed_at = now
                checked = -1  # new streams: read everything once
            batch: list[LogEvent] = []
            holding = False
            seen, checked = checked, self.watcher.version
            for src in sources:
                p = pos.get(src.skey)
                if p is None:
                    p = pos[src.skey] = _Pos(0)
                elif not p.pending and seen >= 0 and not self.watcher.changed_since(src.path, seen):
                    continue  # nothing happened to this file: skip the system calls
                got, held = self._read_new(src, p)
                p.pending = held
                holding |= held
                batch.extend(e for e in got if visible(src, e.timestamp, e.offset))
                if len(batch) >= MAX_BATCH:
                    break
            if len(batch) >= MAX_BATCH:
                checked = seen  # stopped early: look at every source again next round
            if batch:
                batch.sort(key=lambda e: (e.timestamp, e.offset))
                matched = batch if pattern.match_all else [e for e in batch if pattern.matches(e.message)]
                cursor = {k: v.offset for k, v in pos.items()}
                if matched or time.monotonic() - last_yield > heartbeat:
                    yield matched, cursor
                    last_yield = time.monotonic()
                continue  # there may be more right away
            if time.monotonic() - last_yield >= heartbeat:
                yield [], {k: v.offset for k, v in pos.items()}
                last_yield = time.monotonic()
            wait = CONTINUATION_GRACE if holding else min(heartbeat, 1.0)
            version = self.watcher.wait_change(version, wait)

    def _read_new(self, src: Source, p: _Pos) -> tuple[list[LogEvent], bool]:
        """New events for one client: from the stream's shared feed when the client is within it.

        Every tail of this process shares one feed per stream file, so a line appended to a stream
        followed by 50 clients is read and parsed once, not 50 times.
        """
        feed = self._feeds.get(src.path)
        if feed is None:
            feed = self._feeds.setdefault(src.path, _Feed(p.offset))
        with feed.lock:
            self._advance(src, feed.pos, feed)
            fp = feed.pos
            if p.ino and fp.ino and p.ino != fp.ino:
                p.offset = 0  # rotated: the new file is the stream now
            if p.offset > fp.offset and fp.size_seen < p.offset:
                p.offset = 0  # truncated below this client's position
            if p.offset >= feed.lo and p.offset <= fp.offset:
                i = bisect.bisect_left(feed.offsets, p.offset)
                out = feed.events[i:]
                p.offset, p.ino = fp.offset, fp.ino
                return out, fp.pending
        return self._advance(src, p, None)  # a client behind the shared window reads for itself

    def _advance(self, src: Source, p: _Pos, feed: _Feed | None) -> tuple[list[LogEvent], bool]:
        """Read what is new after p.offset (the ingester's event rules); append to `feed` if given."""
        try:
            fd = os.open(src.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return [], False
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return [], False
            now = time.monotonic()
            if st.st_size != p.size_seen:
                if p.ino and (st.st_ino != p.ino or st.st_size < p.offset):
                    p.offset = 0  # rotated or truncated: the new content is the stream now
                    if feed is not None:
                        feed.reset()
                p.ino = st.st_ino
                p.size_seen, p.changed_at = st.st_size, now
            if not p.ino:
                p.ino = st.st_ino
            if p.offset < src.from_offset:
                p.offset = src.from_offset  # bytes below were punched out by retention (visibility.py)
            if st.st_size <= p.offset:
                p.pending = False
                return [], False
            p.offset, data, evs, consumed = read_new_events(fd, p.offset, st.st_size, now - p.changed_at, READ_CHUNK)
            times = stamps.book(self.store).times(src.group, src.stream, fd, p.offset + len(data)) if evs else None
            out = [
                make_event(src.group, src.stream, p.offset + raw.start, p.offset + raw.end, raw.text,
                           times(p.offset + raw.start))
                for raw in evs
            ]
            p.offset += consumed
            p.pending = p.offset < st.st_size
            if feed is not None and out:
                feed.add(out)
            return out, p.pending
        finally:
            os.close(fd)

    def json_of(self, event: LogEvent) -> str:
        """The event's JSON, encoded once per process however many tails send it."""
        key = (event.group, event.stream, event.offset, event.end)
        text = self._json.get(key)
        if text is None:
            if len(self._json) > 50_000:
                self._json.clear()
            text = self._json[key] = json.dumps(event.to_json(), ensure_ascii=False)
        return text


class _Feed:
    """The recent events of one stream file, shared by every tail in this process (bounded)."""

    MAX = 4_000  # events per stream; a client further behind reads the file itself

    def __init__(self, start: int) -> None:
        self.lock = threading.Lock()
        self.pos = _Pos(start)  # begins where its first client is, not at byte 0
        self.events: list[LogEvent] = []
        self.offsets: list[int] = []
        self.lo = start  # events before this offset are not held

    def add(self, evs: list[LogEvent]) -> None:
        self.events.extend(evs)
        self.offsets.extend(e.offset for e in evs)
        if len(self.events) > self.MAX:
            drop = len(self.events) - self.MAX // 2
            self.lo = self.offsets[drop]
            del self.events[:drop]
            del self.offsets[:drop]

    def reset(self) -> None:
        self.events, self.offsets, self.lo = [], [], 0


class TailSession:
    """Wraps a tail generator so its slot is released exactly once, even if it never started."""

    def __init__(self, gen: Iterator, release: Callable[[], None]) -> None:
        self._gen = gen
        self._release = release
        self._closed = False

    def __iter__(self) -> TailSession:
        return self

    def __next__(self):  # noqa: ANN204
        try:
            return next(self._gen)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._gen.close()
            self._release()
