"""Live tail: "what is new since cursor C, matching P", as a generator. No transport.

Owns: cursors (per-stream byte offsets; signed on the wire by paging.py), following files directly (not through the index, so a
line reaches a tail client in about a millisecond in every worker process) and resuming from a
cursor with no gap and no duplicate. SSE framing lives in api/rest.py, terminal printing in cli.py.

Tails of one process at the same place (sources, pattern, positions) share each round: the first
to get there reads, filters and sorts the new events once and publishes them as a step, with the
cursor after them; the others wait for it and take the same Batch, so the transport frames it once.
A tail whose client takes direct writes rides (`_Rider`): its thread sleeps while the reading tail
writes each batch to its socket and carries it on to the next round.

Event boundaries follow exactly the ingester's rules (held tracebacks, over-long lines; a line
without its newline is taken once, where the first to take it recorded it: stamps.read_events) and file identity is the ingester's `FileFollow` (rotation, truncation, a
rewritten head: the new file is read from byte 0), so an event has the same id whether it arrived
by tail or by search. Memory is bounded in bytes: each feed holds a share of FEED_BYTES and is
dropped when no tail asks for it, batches hold about BATCH_BYTES, the JSON cache JSON_CACHE_BYTES,
the published steps STEP_BYTES.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import random
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from logsvc import paging, stamps
from logsvc.errors import InvalidParameter, LimitExceeded
from logsvc.filterpattern import FilterPattern
from logsvc.follow import (
    CONTINUATION_GRACE,
    HEAD_BYTES,
    FileFollow,
    file_identity,
    make_event,
)
from logsvc.model import LogEvent
from logsvc.store import Store
from logsvc.visibility import Source, visible
from logsvc.watch import Watcher

log = logging.getLogger("logsvc.tail")

READ_CHUNK = 1024 * 1024
MAX_BATCH = 1000  # events in one batch ...
BATCH_BYTES = (
    1024 * 1024
)  # ... and about this many message bytes (a single larger event goes alone)
FEED_BYTES = 4 * 1024 * 1024  # the events all feeds of a process hold together
FEED_MIN_BYTES = 64 * 1024  # what one feed may keep however many feeds there are
FEED_IDLE = 10.0  # seconds after which a feed no tail has asked for is dropped
JSON_CACHE_BYTES = 8 * 1024 * 1024  # encoded events shared by this process's tails
JSON_CACHE_ITEM = 64 * 1024  # larger events are encoded per send, never cached
STEP_BYTES = 1024 * 1024  # the steps (batches shared by tails at the same place) of a process
STEP_COUNT = 4096  # ... and at most this many of them
# A tail reads again at most this often: a writer appending every millisecond costs one round
# (a look at the file, a parse, a write to every client's socket) per ROUND_GAP, not one per write.
# A line waits at most this much longer, and only while lines come faster than this.
ROUND_GAP = 0.005
STEP_WAIT = 1.0  # seconds a tail waits for the step another tail is reading before reading alone


def event_bytes(e: LogEvent) -> int:
    """What an event costs to hold (message, its JSON when encoded, a fixed allowance for the rest)."""
    return len(e.message) + len(getattr(e, "json", "")) + 256


@dataclass(frozen=True, slots=True)
class TailEvent(LogEvent):
    """An event as a feed holds it: with its JSON, encoded once by the feed that read it, so the
    tails that send it take the text as it is (no per-client encoding, lookup or lock)."""

    json: str = ""


def _encoded(e: LogEvent) -> TailEvent:
    text = json.dumps(e.to_json(), ensure_ascii=False)
    return TailEvent(
        e.group,
        e.stream,
        e.offset,
        e.timestamp,
        e.ingestion_time,
        e.message,
        e.fields,
        e.end,
        e.ident,
        text if len(text) <= JSON_CACHE_ITEM else "",
    )


def encode_cursor(codec: paging.Codec, offsets: dict[str, int]) -> str:
    """The SSE `id:` (signed: a client resumes only where it was): offsets per stream, with the
    file's identity where known (`[offset, hash]`), so a resumed tail whose file was replaced
    meanwhile starts the new file at byte 0 instead of mid-way."""
    idents = getattr(offsets, "idents", {})
    return codec.encode(
        "tail", {k: [v, idents[k]] if k in idents else v for k, v in offsets.items()}
    )


def decode_cursor(codec: paging.Codec, text: str, field: str = "Last-Event-ID") -> dict[str, int]:
    """:raises InvalidParameter: for anything that is not a cursor this server wrote."""
    message = f"{field} is not a tail cursor from this server"
    data = codec.decode("tail", text, field=field, message=message)
    if not isinstance(data, dict):
        raise InvalidParameter(message, field=field, rule=paging.RULE)
    out = _Cursor()
    for k, v in data.items():
        if isinstance(v, list) and len(v) == 2 and isinstance(v[1], str):
            out.idents[k] = v[1]
            v = v[0]
        if not (isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            raise InvalidParameter(message, field=field, rule=paging.RULE)
        out[k] = v
    return out


def ident_hash(ident: bytes, offset: int) -> str:
    """A short hash of a file's identity as it stood at `offset` (model.make_event_id's rule)."""
    import hashlib

    return hashlib.blake2b(ident[: 8 + min(HEAD_BYTES, offset)], digest_size=6).hexdigest()


class _Cursor(dict):
    """Offsets per stream key, plus the feed generation each offset belongs to (this process only)
    and the identity hash of the file each offset was in (sent in Last-Event-ID)."""

    def __init__(self) -> None:
        super().__init__()
        self.gens: dict[str, int] = {}
        self.idents: dict[str, str] = {}


@dataclass
class _Pos:
    """One client's place in one stream: a byte offset in the file of feed generation `gen`."""

    offset: int
    gen: int | None = None  # None: not yet seen by the feed (taken as the feed's current file)
    want: str | None = None  # identity hash from a resumed cursor, checked once against the file
    feed: _Feed | None = None  # held (counted in feed.refs) until the tail ends
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
        self._swept = 0.0
        self._json: OrderedDict[tuple, str] = OrderedDict()
        self._json_bytes = 0
        self._json_lock = threading.Lock()
        self._sources: dict[tuple, tuple[float, list[Source]]] = {}
        self._steps: dict[tuple, _Step] = {}  # oldest first; read without the lock
        self._steps_bytes = 0
        self._steps_lock = threading.Lock()

    def end_cursor(self, sources: list[Source]) -> dict[str, int]:
        """A cursor at the current end of every source (tail from now).

        Each stream's feed looks at its file now, and the cursor remembers the feed's generation:
        a file replaced between this call and the tail's first read (a rewrite to the same size
        included) is then seen as new, not adopted as what the cursor pointed into.
        """
        out = _Cursor()
        for s in sources:
            try:
                size = os.stat(s.path).st_size
            except OSError:
                size = 0
            feed = self._feed_for(s.path, size)
            with feed.lock:
                self._advance(s, feed)
                f = feed.f
                out[s.skey] = off = min(size, f.seen_size) if f.seen_size >= 0 else size
                out.gens[s.skey] = f.generation
                if f.ino and off <= f.end and len(f.head) >= min(HEAD_BYTES, off):
                    out.idents[s.skey] = ident_hash(f.identity(), off)
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
        sink: Sink | None = None,
    ) -> TailSession:
        """An iterator of (events, cursor) batches as lines arrive; ([], cursor) as a heartbeat.

        Streams that appear after the tail started are read from their first byte. The slot is
        taken now and given back by `close()` (or when the iterator ends). With a `sink`, a batch
        another tail read for this one (a step) may be handed to `sink.deliver` by that tail's
        thread before this one wakes; the batch is still yielded afterwards, as the same object.
        :raises LimitExceeded: when this process already serves `max_clients` tails.
        """
        with self._lock:
            if self._clients >= self.max_clients:
                raise LimitExceeded(
                    f"this server already has {self.max_clients} open tails; close one or raise --max-tail-clients",
                    field="tail",
                )
            self._clients += 1
        gens = getattr(cursor, "gens", {})
        idents = getattr(cursor, "idents", {})
        return TailSession(
            self._follow(
                list_sources,
                dict(cursor),
                gens,
                idents,
                pattern,
                heartbeat,
                stop,
                max_seconds,
                sink,
            ),
            self._release,
        )

    def shared_sources(
        self, key: tuple, list_sources: Callable[[], list[Source]], ttl: float = 1.0
    ) -> list[Source]:
        """`list_sources()` shared by every tail of the same groups/streams for `ttl` seconds."""
        now = time.monotonic()
        hit = self._sources.get(key)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
        got = list_sources()
        if len(self._sources) > 256:  # lists nobody asked for lately
            for k in [k for k, v in list(self._sources.items()) if now - v[0] >= ttl]:
                self._sources.pop(k, None)
        self._sources[key] = (now, got)
        return got

    def _release(self) -> None:
        with self._lock:
            self._clients -= 1

    @property
    def clients(self) -> int:
        return self._clients

    def _follow(
        self, list_sources, cursor, gens, idents, pattern, heartbeat, stop, max_seconds, sink
    ):
        pos: dict[str, _Pos] = {k: _Pos(v, gens.get(k), idents.get(k)) for k, v in cursor.items()}
        last_yield = time.monotonic()
        began = last_yield
        try:
            yield from self._rounds(
                list_sources, pos, pattern, heartbeat, stop, max_seconds, began, sink
            )
        finally:
            with self._lock:
                for p in pos.values():
                    if p.feed is not None:
                        p.feed.refs -= 1
                        p.feed = None

    def _rounds(self, list_sources, pos, pattern, heartbeat, stop, max_seconds, began, sink):
        sources: list[Source] = []
        listed = _Sources(())
        listed_at = 0.0
        checked = -1  # watcher version up to which every source has been read
        last_yield = began
        pat = (pattern.kind, pattern.text)
        # the step this tail claimed and found nothing for yet: it waits for the news as the
        # leader, and the tails that come to the same place sleep on the step, not on the watcher
        leading: tuple | None = None
        rider = _Rider(sink) if sink is not None else None
        carry: list[tuple[_Rider, int]] = []  # other tails riding the steps this one publishes
        carry_key = None  # where they stand: the step there takes them on
        read_at = 0.0  # when this tail's last round began reading
        behind = False  # that round stopped at a full batch: read on at once (catching up)
        try:
            while stop is None or not stop.is_set():
                now = time.monotonic()
                if max_seconds is not None and now - began > max_seconds:
                    return
                if now - listed_at > 1.0:
                    sources = list_sources()
                    listed = _Sources(tuple(sources))
                    listed_at = now
                    checked = -1  # new streams: read everything once
                key = _step_key(listed, pat, pos)
                step = mine = None
                if leading is not None:
                    if leading[0] == key and not leading[1].closed:
                        mine = leading[1]
                    else:  # moved elsewhere, or the step was pushed out
                        self._drop_step(*leading)
                    leading = None
                if key is not None and mine is None:
                    step = self._steps.get(key)
                    if step is None:
                        mine = _Step()
                        step = self._steps.setdefault(key, mine)
                    if carry:
                        carry, carry_key = _pass_on(carry, step if key == carry_key else None, key)
                    if step is not mine:
                        if rider is not None and rider.board(step):
                            # asleep while other tails' rounds carry it, step after step; a reader
                            # that cannot take it on wakes it, so it wakes itself only for its
                            # heartbeat, when nothing was written to its client for that long
                            end = None if max_seconds is None else began + max_seconds
                            rider.sleep(heartbeat, last_yield, end)
                            took = rider.alight()
                        else:
                            step.ready.wait(STEP_WAIT)
                            took = step if step.ok else None
                        if took is not None:
                            for k, (offset, gen) in took.after.items():
                                p = pos[k]
                                p.offset, p.gen, p.pending = offset, gen, True
                            if took.events or time.monotonic() - last_yield > heartbeat:
                                yield took.events, took.cursor
                                last_yield = time.monotonic()
                            continue
                        mine = None  # not published (yet): this round reads for this tail alone
                elif carry:
                    carry, carry_key = _pass_on(carry, None, key)
                gap = ROUND_GAP - (time.monotonic() - read_at)
                if gap > 0 and not behind:
                    time.sleep(gap)  # batch what comes meanwhile into this round
                read_at, behind = time.monotonic(), False
                try:
                    batch: list[LogEvent] = []
                    room = BATCH_BYTES
                    holding = False
                    seen, checked = checked, self.watcher.version
                    for src in sources:
                        p = pos.get(src.skey)
                        if p is None:
                            p = pos[src.skey] = _Pos(0)
                        elif (
                            not p.pending
                            and seen >= 0
                            and not self.watcher.changed_since(src.path, seen)
                        ):
                            continue  # nothing happened to this file: skip the system calls
                        gen = p.gen
                        got, held = self._read_new(src, p, room, checked)
                        if gen != p.gen:
                            mine = self._drop_step(key, mine)  # a new file: not a step to share
                        p.pending = held
                        holding |= held
                        got = [e for e in got if visible(src, e.timestamp, e.offset)]
                        batch.extend(got)
                        room -= sum(event_bytes(e) for e in got)
                        if len(batch) >= MAX_BATCH or room <= 0:
                            break
                    if len(batch) >= MAX_BATCH or room <= 0:
                        checked = seen  # stopped early: look at every source again next round
                        behind = True
                    matched: list[LogEvent] = Batch()
                    cursor = None
                    if batch:
                        batch.sort(key=lambda e: (e.timestamp, e.offset))
                        matched = Batch(
                            batch
                            if pattern.match_all
                            else [e for e in batch if pattern.matches(e.message)]
                        )
                        cursor = _cursor_of(pos)
                    if mine is not None:
                        carried = self._finish_step(key, mine, matched, cursor, pos)
                        if carried is not None:
                            mine = None
                            if sink is not None and (not matched or sink.deliver(matched, cursor)):
                                carry += carried
                                carry_key = _step_key(listed, pat, pos)
                            else:  # this thread may block on its own client: not theirs to wait for
                                _pass_on(carried, None, None)
                        elif not batch and _step_key(listed, pat, pos) == key:
                            leading, mine = (key, mine), None  # nothing here yet: wait for it
                finally:
                    self._drop_step(key, mine)  # not published: let the waiters read alone
                if batch:
                    if matched or time.monotonic() - last_yield > heartbeat:
                        yield matched, cursor
                        last_yield = time.monotonic()
                    continue  # there may be more right away
                if time.monotonic() - last_yield >= heartbeat:
                    yield [], _cursor_of(pos)
                    last_yield = time.monotonic()
                wait = CONTINUATION_GRACE if holding else min(heartbeat, 1.0)
                # only a change after this round's reads began wakes it (not the ones they covered)
                self.watcher.wait_change(checked, wait)
        finally:
            if leading is not None:
                self._drop_step(*leading)
            _pass_on(carry, None, None)

    def _finish_step(
        self, key, step: _Step, events: Batch, cursor, pos: dict[str, _Pos]
    ) -> list[tuple[_Rider, int]] | None:
        """Publish what one round from the positions `key` names gave, for the tails that are at
        the same positions (or get there); the riders to take on to the next step. None: the round
        moved nowhere, which is not a step (the caller keeps or drops it)."""
        after = {k: (p.offset, p.gen) for k, p in pos.items()}
        if cursor is None or all(after[k] == (o, g) for k, g, o in key[2]):
            return None
        step.events, step.cursor, step.after = events, cursor, after
        # events (and the frames the transport makes of them), the key and the positions after
        step.size = 2 * sum(event_bytes(e) for e in events) + 512 + 256 * len(after)
        with self._steps_lock:
            if self._steps.get(key) is step:
                self._steps_bytes += step.size
            else:  # pushed out while it was read: its waiters may still take it
                step.size = 0
            while (self._steps_bytes > STEP_BYTES or len(self._steps) > STEP_COUNT) and self._steps:
                old_key = next(iter(self._steps))
                old = self._steps.pop(old_key)
                self._steps_bytes -= old.size
                old.close(False)  # anyone still waiting on an unfinished step reads alone
        return step.close(True)

    def _drop_step(self, key, step: _Step | None) -> None:
        """Withdraw a step this tail claimed but will not publish (its waiters read alone)."""
        if step is not None:
            with self._steps_lock:
                if self._steps.get(key) is step:
                    del self._steps[key]
                    self._steps_bytes -= step.size
            step.close(False)
        return None

    def _feed_for(self, path: str, start: int, ref: bool = False) -> _Feed:
        """The stream's feed (made at `start` if there is none); `ref`: the caller holds it until
        `_unref`. Feeds no tail holds and none has asked for in FEED_IDLE seconds are dropped."""
        now = time.monotonic()
        with self._lock:
            feed = self._feeds.get(path)
            if feed is None:
                feed = self._feeds[path] = _Feed(start)
            feed.used = now
            if ref:
                feed.refs += 1
            if now - self._swept > 1.0:
                self._swept = now
                for k in [
                    k for k, f in self._feeds.items() if not f.refs and now - f.used > FEED_IDLE
                ]:
                    del self._feeds[k]
            cap = max(FEED_MIN_BYTES, FEED_BYTES // len(self._feeds))
        feed.cap = cap
        return feed

    def _read_new(
        self, src: Source, p: _Pos, room: int, version: int = -1
    ) -> tuple[list[LogEvent], bool]:
        """New events for one client (about `room` bytes at most): from the stream's shared feed
        when the client is within it, else read for this client alone.

        Every tail of this process shares one feed per stream file, so a line appended to a stream
        followed by 50 clients is read, parsed and JSON-encoded once, not 50 times. The feed alone
        checks the file's identity, and looks at the file only when the watcher reported a change
        after its last look (`version`: the watcher's version the client woke for) or bytes are
        still held: the first client to wake looks for all, the others take what it read without
        a system call. A client whose generation is older than the feed's was reading a file that
        has since been replaced, and starts over at byte 0 of the new one.
        """
        if p.offset < src.from_offset:
            p.offset = src.from_offset  # bytes below were punched out by retention (visibility.py)
        if p.feed is None:
            p.feed = self._feed_for(src.path, p.offset, ref=True)
        feed = p.feed
        feed.used = time.monotonic()
        with feed.lock:
            f = feed.f
            if p.gen is None:
                p.gen = f.generation
            if feed.looked < version or version < 0 or f.end < f.seen_size:
                start, new = self._advance(src, feed)
            else:
                start, new = f.end, []  # the feed looked after the change this client woke for
            if p.want is not None:  # resumed: is this still the file the cursor's offset was in?
                if p.offset <= f.end and len(f.head) >= min(HEAD_BYTES, p.offset):
                    if ident_hash(f.identity(), p.offset) != p.want:
                        p.offset = 0
                p.want = None
            if p.gen != f.generation or (p.offset > f.end and f.seen_size < p.offset):
                p.offset, p.gen = (
                    0,
                    f.generation,
                )  # rotated, truncated or rewritten: the new file is the stream
            if new and p.offset == start:
                out = new
            elif feed.lo <= p.offset <= f.end:
                out = feed.events[bisect.bisect_left(feed.offsets, p.offset) :]
            else:
                return self._read_alone(src, p, feed, room)
            if not out:
                p.offset = max(p.offset, f.end)
                return [], f.end < f.seen_size
            fitted = _fit(out, room)
            p.offset = f.end if len(fitted) == len(out) else fitted[-1].end
            return fitted, p.offset < f.seen_size

    def _advance(self, src: Source, feed: _Feed) -> tuple[int, list[LogEvent]]:
        """Look at the file (identity first) and read what is new after the feed's end into it.
        Returns (offset the new events start at, the new events)."""
        f = feed.f
        looked = self.watcher.version  # before the look: a change after it is seen next time
        try:
            fd = os.open(src.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return f.end, []
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return f.end, []
            feed.looked = looked
            now = time.monotonic()
            if f.look(fd, st, now):
                feed.clear()
            if st.st_size <= f.end:
                return f.end, []
            start, data, evs, consumed, times = stamps.read_followed(
                self.store, src.group, src.stream, fd, f, st.st_size, now, READ_CHUNK
            )
            f.end = start
            f.took(fd, consumed, data)
            ident = f.identity()
            out = [
                _encoded(
                    make_event(
                        src.group,
                        src.stream,
                        start + r.start,
                        start + r.end,
                        r.text,
                        times(start + r.start),
                        ident,
                    )
                )
                for r in evs
            ]
            if out:
                feed.add(out)
            return start, out
        finally:
            os.close(fd)

    def _read_alone(
        self, src: Source, p: _Pos, feed: _Feed, room: int
    ) -> tuple[list[LogEvent], bool]:
        """A client behind the feed's window reads the file itself (the feed has just checked it)."""
        try:
            fd = os.open(src.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return [], False
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size <= p.offset:
                return [], False
            quiet = time.monotonic() - feed.f.changed_at
            start, data, evs, consumed, times = stamps.read_events(
                self.store,
                src.group,
                src.stream,
                fd,
                p.offset,
                st.st_size,
                quiet,
                READ_CHUNK,
                decide=True,
            )
            ident = file_identity(st.st_ino, os.pread(fd, HEAD_BYTES, 0))
            out = [
                make_event(
                    src.group,
                    src.stream,
                    start + r.start,
                    start + r.end,
                    r.text,
                    times(start + r.start),
                    ident,
                )
                for r in evs
            ]
            fitted = _fit(out, room)
            p.offset = start + consumed if len(fitted) == len(out) else fitted[-1].end
            return fitted, p.offset < st.st_size
        finally:
            os.close(fd)

    def json_of(self, event: LogEvent) -> str:
        """The event's JSON, encoded once per process however many tails send it.

        Keyed by the event id, which folds in the file's identity, so a line that replaced another
        at the same offset (copytruncate) never gets the old line's JSON. Bounded in bytes.
        """
        text = getattr(event, "json", "")
        if text:
            return text  # encoded by its feed
        key = (event.event_id, event.end, event.timestamp, event.ingestion_time)
        with self._json_lock:
            text = self._json.get(key)
            if text is not None:
                self._json.move_to_end(key)
                return text
        text = json.dumps(event.to_json(), ensure_ascii=False)
        if len(text) <= JSON_CACHE_ITEM:
            with self._json_lock:
                if key not in self._json:
                    self._json[key] = text
                    self._json_bytes += len(text)
                    while self._json_bytes > JSON_CACHE_BYTES and self._json:
                        _, old = self._json.popitem(last=False)
                        self._json_bytes -= len(old)
        return text


def _cursor_of(pos: dict[str, _Pos]) -> _Cursor:
    """The positions as a cursor, each with its file's identity where the feed knows it."""
    out = _Cursor()
    for k, p in pos.items():
        out[k] = p.offset
        feed = p.feed
        if feed is not None and p.gen == feed.f.generation and p.want is None:
            f = feed.f
            if p.offset <= f.end and f.ino and len(f.head) >= min(HEAD_BYTES, p.offset):
                out.idents[k] = ident_hash(f.identity(), p.offset)
    return out


class Batch(list):
    """The events one round of a tail yields. Tails of this process at the same place take the same
    Batch object, so the transport may keep what it made of it in `frames` (made once, sent to all)."""

    __slots__ = ("frames",)

    def __init__(self, events=()) -> None:
        super().__init__(events)
        self.frames = None


class _Step:
    """One round of a tail from given positions (sources, pattern, per-stream file generation and
    offset), published for every other tail of the process at the same positions: the first tail
    there reads, filters and frames the events once; the others wait for it (`ready`, or riding it:
    `_Rider`) and take the same events, cursor and positions after. Events between two offsets of
    one file generation never change, so a step is the same whenever a tail takes it; only steps
    that moved are kept."""

    __slots__ = ("ready", "ok", "events", "cursor", "after", "size", "lock", "riders", "closed")

    def __init__(self) -> None:
        self.ready = threading.Event()
        self.ok = False
        self.events: Batch = Batch()
        self.cursor = None
        self.after: dict[str, tuple[int, int | None]] = {}
        self.size = 0
        self.lock = threading.Lock()
        self.riders: list[_Rider] = []
        self.closed = False

    def attach(self, rider: _Rider) -> bool:
        """Have the step handed to `rider` when it is published (False: too late for that)."""
        with self.lock:
            if not self.closed:
                self.riders.append(rider)
            return not self.closed

    def detach(self, rider: _Rider) -> bool:
        """Take `rider` back (False: the step is being handed to it now; wait for `ready`)."""
        with self.lock:
            if not self.closed:
                self.riders.remove(rider)
            return not self.closed

    def close(self, publish: bool) -> list[tuple[_Rider, int]]:
        """Publish (hand the batch to every rider, then wake the waiters) or give up (wake the
        riders: they read alone). The riders that may ride on to the publisher's next step."""
        with self.lock:
            if self.closed:
                return []
            self.closed = True
            riders, self.riders = self.riders, []
        if publish:
            self.ok = True
        on: list[tuple[_Rider, int]] = []
        for r in riders:
            if not publish:
                r.stranded(self)
            elif (ride := r.take(self)) is not None:
                on.append((r, ride))
        self.ready.set()
        return on


class Sink(Protocol):
    """Where a transport takes a batch for its client while that client's thread is asleep: one
    thread writes a step to every client riding it, instead of waking each to write its own (the
    write must not block; what it could not write the client's own thread sends)."""

    def deliver(self, events: Batch, cursor) -> bool:
        """Write the batch; False if the socket did not take all of it (the rest waits for the
        client's own thread, so nothing more may be delivered before it)."""
        ...


class _Rider:
    """A tail asleep while other tails' rounds carry it. Attached to a step (`board`), it is handed
    the batch when the step is published (its sink writes it) and passed on, by the tail that read
    the step, to that tail's next step from the same place (`_pass_on`): 50 tails of one stream
    are one reading thread and 49 writes a round, not 50 threads woken for each round. Its own
    thread wakes (`wake`) when the ride ends: a step given up, a write its socket did not take
    whole (its client gone, or slow), a reader moving somewhere this tail may not follow (new
    streams listed); and for a heartbeat once nothing was written to its client for that long
    (`sleep`). `last` is the last step it was handed: its positions are where the tail stands."""

    __slots__ = ("sink", "lock", "handing", "wake", "at", "last", "off", "ride", "sent")

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.lock = threading.Lock()
        # held while a step is written to the sink and becomes `last`: alighting waits for it, so
        # the tail never stands at the step before one its client was just sent (it would send
        # that one again, and read the one sent again too)
        self.handing = threading.Lock()
        self.wake = threading.Event()
        self.at: _Step | None = None  # the step it waits on
        self.last: _Step | None = None
        self.off = True  # its own thread is awake: nothing may hand it on
        self.ride = 0  # counts boardings: a carrier holding it from an earlier ride lets it be
        self.sent = 0.0  # when a carrier last wrote a batch to its client (monotonic)

    def board(self, step: _Step) -> bool:
        """Start riding at `step` (False: it is closed; take it as it is)."""
        with self.lock:
            self.wake.clear()
            self.last = None
            self.ride += 1
            if not step.attach(self):
                return False
            self.at, self.off = step, False
            return True

    def sleep(self, heartbeat: float, since: float, end: float | None) -> None:
        """Sleep while riding: until woken (the ride ended), the tail's `end`, or a heartbeat is due,
        `heartbeat` seconds after the later of `since` (the tail's own last write) and the last
        batch a carrier wrote to its client. While carriers keep writing, it sleeps on: 200 riders
        of a live stream waking for heartbeats nobody needed cost every client a 100-200 ms stall.
        It wakes up to a fifth early, at random, so tails that boarded together do not wake in the
        same instant (25 threads waking together held the GIL from the one writing the lines)."""
        early = heartbeat * (0.8 + 0.2 * random.random())
        base = max(since, self.sent)
        while True:
            due = base + early if end is None else min(base + early, end)
            if self.wake.wait(max(0.0, due - time.monotonic())):
                return
            if self.sent <= base or (end is not None and time.monotonic() >= end):
                return
            base = self.sent

    def alight(self) -> _Step | None:
        """Stop riding: the last step handed to it (None: none), after any being handed right now."""
        with self.lock:
            self.off = True
            at, self.at = self.at, None
        if at is not None and not at.detach(self):
            at.ready.wait()  # being published: its riders are handed the batch first
        with self.handing:  # a step handed on (`hand`) right now is written first
            return self.last

    def take(self, step: _Step) -> int | None:
        """`step` is published: write its batch. The ride to carry on (None: it ends here)."""
        with self.handing:
            return self._take(step)

    def _take(self, step: _Step) -> int | None:
        whole = True
        if step.events:
            try:
                whole = self.sink.deliver(step.events, step.cursor)
            except Exception:  # not delivered: the rider stands before it and reads it alone
                log.exception("tail sink failed")
                self.stranded(step)
                return None
        if step.events and whole:
            self.sent = time.monotonic()
        with self.lock:
            self.last, self.at = step, None
            if self.off or not whole:
                self.wake.set()
                return None
            return self.ride

    def hand(self, step: _Step, ride: int) -> bool:
        """`take` a step published without it (another tail read it first), while it is carried:
        True if it rides on. Checked and written under `handing`: its own thread, waking between
        the two, waits for the write rather than taking the step before it as where it stands."""
        with self.handing:
            with self.lock:
                if self.off or ride != self.ride or self.at is not None:
                    return False
            return self._take(step) == ride

    def stranded(self, step: _Step) -> None:
        """`step` was given up while the rider waited on it: wake it to read alone."""
        with self.lock:
            if self.at is step:
                self.at = None
                self.wake.set()

    def move_to(self, step: _Step | None, ride: int) -> None:
        """Ride on at `step`, the next one from where the last left it; wake if there is none or it
        is too late (unless this ride already ended: its thread is awake)."""
        with self.lock:
            if self.off or ride != self.ride or self.at is not None:
                return
            if step is not None and step.attach(self):
                self.at = step
                return
            self.wake.set()


def _pass_on(
    riders: list[tuple[_Rider, int]], step: _Step | None, key: tuple | None
) -> tuple[list[tuple[_Rider, int]], tuple | None]:
    """Take the riders of a published step on to `step` (at `key`), the next one from the positions
    after it; None: there is none this tail may take them to, and they wake. A step another tail
    already published there is handed to them as it is, and they stay carried to the one after it
    (waking them all together at once cost every client of the worker a spike). What is left to
    carry, and where it stands."""
    if step is not None and key is not None and step.closed and step.ok:
        on = [(r, ride) for r, ride in riders if r.hand(step, ride)]
        return on, (key[0], key[1], frozenset((k, g, o) for k, (o, g) in step.after.items()))
    for r, ride in riders:
        r.move_to(step, ride)
    return [], None


class _Sources:
    """A listed tuple of sources as part of a step key, its hash computed once."""

    __slots__ = ("items", "_hash")

    def __init__(self, items: tuple) -> None:
        self.items = items
        self._hash = hash(items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        return isinstance(other, _Sources) and (
            self.items is other.items or self.items == other.items
        )


def _step_key(listed: _Sources, pat: tuple, pos: dict[str, _Pos]) -> tuple | None:
    """Where a tail stands, as a step key; None while any position is not yet settled (a stream
    not read yet, a resumed cursor still to check against its file)."""
    if not listed.items:
        return None
    for s in listed.items:
        p = pos.get(s.skey)
        if p is None or p.feed is None or p.gen is None or p.want is not None:
            return None
    for p in pos.values():
        if p.feed is None or p.gen is None or p.want is not None:
            return None
    return (listed, pat, frozenset((k, p.gen, p.offset) for k, p in pos.items()))


def _fit(events: list[LogEvent], room: int) -> list[LogEvent]:
    """The longest prefix of `events` within `room` bytes (at least one event)."""
    used = 0
    for i, e in enumerate(events):
        used += event_bytes(e)
        if used > room and i:
            return events[:i]
    return events


class _Feed:
    """The recent events of one stream file, shared by every tail in this process (bounded in
    bytes by `cap`, its share of FEED_BYTES; clients further behind read the file themselves)."""

    def __init__(self, start: int) -> None:
        self.lock = threading.Lock()
        self.refs = 0  # tails holding this feed: it is not dropped while any does
        self.f = FileFollow(end=start)  # begins where its first client is, not at byte 0
        self.events: list[LogEvent] = []
        self.offsets: list[int] = []
        self.bytes = 0
        self.lo = start  # events before this offset are not held
        self.cap = FEED_MIN_BYTES
        self.used = time.monotonic()
        self.looked = -1  # the watcher's version just before the last look at the file

    def add(self, evs: list[LogEvent]) -> None:
        self.events.extend(evs)
        self.offsets.extend(e.offset for e in evs)
        self.bytes += sum(event_bytes(e) for e in evs)
        if self.bytes > self.cap:
            drop, freed = 0, 0
            while drop < len(self.events) and self.bytes - freed > self.cap // 2:
                freed += event_bytes(self.events[drop])
                drop += 1
            self.lo = self.offsets[drop] if drop < len(self.offsets) else self.f.end
            del self.events[:drop]
            del self.offsets[:drop]
            self.bytes -= freed

    def clear(self) -> None:
        """The file was replaced: nothing held describes it any more."""
        self.events, self.offsets, self.bytes, self.lo = [], [], 0, 0


class TailSession:
    """Wraps a tail generator so its slot is released exactly once, even if it never started."""

    def __init__(self, gen: Iterator, release: Callable[[], None]) -> None:
        self._gen = gen
        self._release = release
        self._closed = False

    def __iter__(self) -> TailSession:
        return self

    def __next__(self):
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
