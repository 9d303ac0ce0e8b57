"""Reading events back: time ranges, several streams merged by time, filter patterns, paging.

Owns: search and read semantics (ordering, what a `nextToken` holds — its signed wire form is
paging.py's —, limits, interleaving). Uses the index
snapshot for candidate blocks and time bounds, reads the candidate bytes from the stream files
itself, and matches each event exactly with the filter pattern. Knows nothing of HTTP.

Order: events are ordered by (timestamp, stream key, byte offset) — a total order that does not
depend on how the files were cut into blocks, so a rebuilt index pages exactly as the old one.
Every piece waiting in the merge heap is keyed by a bound in that same order, so events sharing one
timestamp are emitted without first reading every piece that holds the timestamp, and a deep page
skips the pieces wholly before its token (`_behind`).

What is shown: only what visibility.py allows (retention cutoff, expired offsets, the file now at
the stream's path); `_Files` never returns bytes below a stream's expired offset. The time of bytes
not indexed yet comes from the stream's stamps (stamps.py), the same the ingester records.
"""

from __future__ import annotations

import bisect
import heapq
import os
import stat
import sys
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from logsvc import follow, limits, lines, paging, stamps, visibility
from logsvc.errors import InvalidParameter, NotFound
from logsvc.filterpattern import FilterPattern, compile_pattern
from logsvc.follow import make_event
from logsvc.index import NO_STAMP_MAX, NO_STAMP_MIN, Block, BlockIndex, Snapshot, is_word, word_mask
from logsvc.model import ID_HEAD_BYTES, LogEvent, stream_key
from logsvc.store import Store
from logsvc.tokens import fold
from logsvc.visibility import Source, block_is_current, visible

MAX_LIMIT = 10_000
# a page ends with a nextToken past this many bytes of events, each counted as AWS counts a
# FilterLogEvents / GetLogEvents response: its message in UTF-8 plus 26 bytes (`limits.event_bytes`)
MAX_PAGE_BYTES = 1_048_576
NEG_INF = -(2**62)
POS_INF = 2**62
LEVEL_SAMPLE = 50_000  # events a level histogram reads at most (newest first); see level_histogram
# The (time, level class) of the events of indexed chunks, kept so a refresh of the same range parses
# only what is new: 9 bytes per event plus ~300 per chunk, at most this many bytes per process.
LEVEL_CACHE_BYTES = 8 * 1024 * 1024
# The matches of indexed chunks for one filter pattern, kept so the later pages of a walk do not
# split and match again a chunk an earlier page read. A stream not in time order (lines without
# their own time take the time logsvc read them) has chunks whose times span the whole walk, and
# every page would otherwise read all of them again (issue #12's deep page). At most this many
# bytes per process, as the heap holds them (`_match_bytes`, `_holding_bytes`).
MATCH_CACHE_BYTES = 8 * 1024 * 1024
# a match's tuples and ints (its two strings are measured): (time, offset, end, text, (time,
# message), ingestion time) is 88 + 56 bytes of tuples and four 32-byte ints, plus its slot
MATCH_OVERHEAD = 280
ENTRY_OVERHEAD = 300  # a cache entry's key (a tuple of 7-8 items), its dict slot and value tuple
# chunks of a time-ordered block searched for a pattern's literals at a time; twice as many each time
# after (`_Merge._open_segment`): 4 chunks are ~256 lines
SEGMENT_CHUNKS = 4
__all__ = ["Page", "Reader", "Source", "iter_all"]


@dataclass
class Page:
    events: list[LogEvent]
    next_token: str | None
    next_key: tuple | None = None  # (timestamp, stream key, offset) the next page starts after


class Reader:
    """Read side over the store and a block index. Safe to share between threads."""

    def __init__(self, store: Store, index: BlockIndex) -> None:
        self.store = store
        self.index = index
        self._levels = _LRU(LEVEL_CACHE_BYTES)  # chunk -> (times, classes)
        self._matches = _LRU(MATCH_CACHE_BYTES)  # (chunk, pattern) -> its matches (_Merge)

    # ---- sources -----------------------------------------------------------------------------

    def sources(
        self,
        groups: Iterable[str],
        streams: Iterable[str] = (),
        stream_prefix: str | None = None,
    ) -> list[Source]:
        """The streams to read (see visibility.py). :raises NotFound: for an unknown group or stream."""
        return visibility.sources(self.store, groups, streams, stream_prefix)

    def all_sources(self) -> list[Source]:
        return visibility.all_sources(self.store)

    # ---- events ------------------------------------------------------------------------------

    def read(
        self,
        sources: list[Source],
        *,
        start: int | None = None,
        end: int | None = None,
        limit: int = 100,
        forward: bool = False,
        pattern: FilterPattern | str | None = None,
        token: str | None = None,
        after: tuple | None = None,
        end_exclusive: bool = False,
        max_bytes: int = MAX_PAGE_BYTES,
        deadline: float | None = None,
        fields: bool = True,
    ) -> Page:
        """Events in [start, end] (end exclusive if asked), merged across `sources` by time.

        forward=False returns the newest `limit` events (ascending within the page) and a token for
        the page of older ones; forward=True the oldest, and a token for newer ones. The token is
        None when nothing is left. `after` is the same boundary as a raw key (`Page.next_key`), for
        callers that wrap it in tokens of their own (the CloudWatch API). `deadline` (monotonic seconds) ends a long scan early with a
        partial page and a token, as CloudWatch does. `fields=False` leaves
        `LogEvent.fields` empty, for callers that return only time and message (FilterLogEvents):
        the full parse is most of an event's cost.
        :raises InvalidParameter: for a bad token or limit.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidParameter(
                f"limit must be between 1 and {MAX_LIMIT}", field="limit", rule=f"1..{MAX_LIMIT}"
            )
        if isinstance(pattern, str) or pattern is None:
            pattern = compile_pattern(pattern or "")
        lo = NEG_INF if start is None else start
        hi = POS_INF if end is None else (end - 1 if end_exclusive else end)
        boundary = after
        fp = _fingerprint(lo, hi, pattern.text, forward)
        codec = paging.codec(self.store.root)
        if token:
            boundary = decode_token(codec, token, fp)
        query = _Query(lo, hi, pattern, limit, forward, boundary, max_bytes, deadline, fields)
        events, more_key = self._merge(sources, query)
        if not forward:
            events.reverse()
        next_token = encode_token(codec, fp, more_key) if more_key is not None else None
        return Page(events, next_token, more_key)

    def _merge(self, sources: list[Source], query: _Query) -> tuple[list[LogEvent], tuple | None]:
        snap = self.index.snapshot()  # holds a reference until released
        files = _Files(self.store)
        try:
            return _Merge(snap, files, query, self._matches).run(sources)
        finally:
            files.close()
            snap.release()

    def file_ident(self, src: Source) -> bytes:
        """The identity (inode + head bytes) of the file now at the stream's path, as events read
        now carry it (`LogEvent.ident`); b"" when there is no file."""
        files = _Files(self.store)
        try:
            return files.ident(src)
        finally:
            files.close()

    def events_at(self, src: Source, spans: Iterable[tuple[int, int, int]]) -> list[LogEvent]:
        """The visible events that start at these (offset, end, ingestion time) of one stream, read
        back from its file exactly as a scan makes them (the columnar path finds events by offset);
        a span that no longer holds one event is left out."""
        files = _Files(self.store)
        out: list[LogEvent] = []
        try:
            ident = files.ident(src)
            for off, end, ing in spans:
                if off < src.from_offset or end <= off:
                    continue
                at, _, evs = files.indexed_events(
                    src, off, end
                )  # an over-long line as every path reads it
                if at != off or len(evs) != 1 or evs[0].start != 0:
                    continue
                raw = evs[0]
                ev = make_event(src.group, src.stream, off, off + raw.end, raw.text, ing, ident)
                if visible(src, ev.timestamp, ev.offset):
                    out.append(ev)
        finally:
            files.close()
        return out

    def newest_first(self, sources: list[Source], **kw) -> Page:
        """Search order: newest first (the page itself is newest first too)."""
        page = self.read(sources, forward=False, **kw)
        page.events.reverse()
        return page

    def context(
        self, group: str, stream: str, event_id: str, before: int = 20, after: int = 20
    ) -> list[LogEvent]:
        """The event and up to before/after events around it in its own stream, in file order.

        :raises NotFound: if the event is not there.
        """
        src = visibility.source(self.store, group, stream)
        try:
            offset = int(event_id[:16])
        except ValueError:
            raise InvalidParameter(
                "eventId is not an event id from this server", field="eventId"
            ) from None
        snap = self.index.snapshot()  # holds a reference until released
        files = _Files(self.store)
        try:
            pieces = _stream_pieces(snap, src, files)
            idx = next((i for i, p in enumerate(pieces) if p[0] <= offset < p[1]), None)
            if idx is None:
                raise NotFound(f"no event {event_id} in log stream {stream!r}", field="eventId")
            evs: list[LogEvent] = []
            lo_i, hi_i = idx, idx
            evs = files.events(src, *pieces[idx])
            pos = next((i for i, e in enumerate(evs) if e.offset == offset), None)
            if pos is None:
                raise NotFound(f"no event {event_id} in log stream {stream!r}", field="eventId")
            while pos < before and lo_i > 0:
                lo_i -= 1
                more = files.events(src, *pieces[lo_i])
                evs = more + evs
                pos += len(more)
            while len(evs) - pos - 1 < after and hi_i + 1 < len(pieces):
                hi_i += 1
                evs = evs + files.events(src, *pieces[hi_i])
            return evs[max(0, pos - before) : pos + after + 1]
        finally:
            files.close()
            snap.release()

    def histogram(
        self,
        sources: list[Source],
        start: int,
        end: int,
        buckets: int,
        pattern: FilterPattern | None = None,
        deadline: float | None = None,
    ) -> tuple[int, list[int], bool]:
        """Visible event counts in `buckets` equal intervals of [start, end): (interval, counts, complete).

        Uses chunk counts when there is no pattern; with one, every match is read, until `deadline`
        (monotonic seconds), after which the counts so far are returned with complete=False.
        """
        interval = max(1, -(-(end - start) // buckets))
        counts = [0] * buckets
        if pattern is not None and not pattern.match_all:
            page_token = None
            while True:
                page = self.read(
                    sources,
                    start=start,
                    end=end,
                    end_exclusive=True,
                    limit=MAX_LIMIT,
                    forward=True,
                    pattern=pattern,
                    token=page_token,
                    deadline=deadline,
                )
                for ev in page.events:
                    counts[min(buckets - 1, (ev.timestamp - start) // interval)] += 1
                page_token = page.next_token
                if not page_token:
                    return interval, counts, True
                if deadline is not None and time.monotonic() > deadline:
                    return interval, counts, False
        snap = self.index.snapshot()  # holds a reference until released
        files = _Files(self.store)
        try:
            for src in sources:
                if deadline is not None and time.monotonic() > deadline:
                    return interval, counts, False
                for span in _spans(snap, files, src, start, end):
                    first, last = span.min_ts - start, span.max_ts - start
                    if (
                        span.ing is not None
                        and span.min_ts >= max(start, src.since)
                        and span.max_ts < end
                        and (first // interval == last // interval)
                    ):  # wholly inside one bucket and wholly visible: the index's count is exact
                        counts[first // interval] += span.count
                        continue
                    for ev in files.events(src, span.start, span.end, span.ingest_for()):
                        if start <= ev.timestamp < end:
                            counts[(ev.timestamp - start) // interval] += 1
            return interval, counts, True
        finally:
            files.close()
            snap.release()

    def level_histogram(
        self,
        sources: list[Source],
        start: int,
        end: int,
        buckets: int,
        pattern: FilterPattern | None = None,
        max_events: int = LEVEL_SAMPLE,
        deadline: float | None = None,
    ) -> tuple[list[dict[str, int] | None], int]:
        """Counts per `lines.LEVEL_CLASSES` in the same buckets as `histogram`, newest first.

        The chunk counts that make `histogram` fast carry no levels, so this parses events: at most
        `max_events`, until `deadline`, newest chunks first; buckets read whole get their counts,
        the others None. Without a pattern, each indexed chunk's (time, class) pairs are kept (an LRU
        of LEVEL_CACHE_BYTES), so a refresh parses only what is new and a longer range reuses the
        shorter one's work. Returns (per bucket counts or None, events parsed).
        """
        if pattern is not None and not pattern.match_all:
            return self._level_matches(sources, start, end, buckets, pattern, max_events, deadline)
        interval = max(1, -(-(end - start) // buckets))
        classes = lines.LEVEL_CLASSES
        counts = [[0] * len(classes) for _ in range(buckets)]
        pending = [0] * buckets  # pieces not yet counted that may hold events of each bucket
        snap = self.index.snapshot()  # holds a reference until released
        files = _Files(self.store)
        parsed = 0
        try:
            pieces = []  # (first bucket, last bucket, src, span, cache key)
            for src in sources:
                for span in _spans(snap, files, src, start, end):
                    if (
                        span.ing is None
                    ):  # not indexed yet: times unknown until read, and likely the newest
                        pieces.append((0, buckets - 1, src, span, None))
                        continue
                    first = (max(span.min_ts, start) - start) // interval
                    last = min(buckets - 1, (min(span.max_ts, end - 1) - start) // interval)
                    # a chunk all of whose events are visible reads back the same until its file changes
                    key = (
                        (src.path, files.ident(src), span.start, span.end)
                        if span.min_ts >= src.since
                        else None
                    )
                    pieces.append((first, last, src, span, key))
            pieces.sort(key=lambda p: -p[3].max_ts)
            for p in pieces:
                for j in range(p[0], p[1] + 1):
                    pending[j] += 1
            for first, last, src, span, key in pieces:
                if parsed >= max_events or (deadline is not None and time.monotonic() > deadline):
                    break
                got = None if key is None else self._levels.get(key)
                if got is None:
                    evs = files.events(src, span.start, span.end, span.ingest_for())
                    parsed += len(evs)
                    got = (
                        array("q", [ev.timestamp for ev in evs]),
                        bytes(classes.index(lines.level_class(ev.fields)) for ev in evs),
                    )
                    if key is not None:
                        self._levels.put(key, got, _level_entry_bytes(got))
                for ts, c in zip(*got, strict=True):
                    if start <= ts < end:
                        counts[(ts - start) // interval][c] += 1
                for j in range(first, last + 1):
                    pending[j] -= 1
            return [
                dict(zip(classes, counts[i], strict=True)) if pending[i] == 0 else None
                for i in range(buckets)
            ], parsed
        finally:
            files.close()
            snap.release()

    def _level_matches(self, sources, start, end, buckets, pattern, max_events, deadline):
        """level_histogram with a filter pattern: the newest matches, read through `read`."""
        interval = max(1, -(-(end - start) // buckets))
        counts = [dict.fromkeys(lines.LEVEL_CLASSES, 0) for _ in range(buckets)]
        read = 0
        token = None
        oldest = buckets  # buckets at or above this index are complete
        while True:
            page = self.read(
                sources,
                start=start,
                end=end,
                end_exclusive=True,
                limit=min(MAX_LIMIT, max_events - read),
                forward=False,
                pattern=pattern,
                token=token,
                deadline=deadline,
            )
            for ev in page.events:
                counts[min(buckets - 1, (ev.timestamp - start) // interval)][
                    lines.level_class(ev.fields)
                ] += 1
            read += len(page.events)
            token = page.next_token
            if not token:
                oldest = 0
                break
            if page.events:
                oldest = min(buckets - 1, (page.events[0].timestamp - start) // interval) + 1
            if read >= max_events or (deadline is not None and time.monotonic() > deadline):
                break
        return [counts[i] if i >= oldest else None for i in range(buckets)], read

    def stream_times(self, group: str, stream: str) -> tuple[int | None, int | None, int | None]:
        """(first event time, last event time, last ingestion time), including bytes not yet indexed."""
        first, last, last_ing, _ = self.stream_summary(
            visibility.source_unchecked(self.store, group, stream)
        )
        return first, last, last_ing

    def stream_summary(
        self, src: Source, read_tail: bool = True
    ) -> tuple[int | None, int | None, int | None, bool]:
        """(first, last event time, last ingestion time, exact) of the visible events of `src`.

        From the index's chunk bounds (no file read) plus, if `read_tail`, the last 64 KiB of bytes
        not indexed yet; without it the times cover only indexed events and `exact` is False when
        unindexed bytes exist.
        """
        snap = self.index.snapshot()  # holds a reference until released
        files = _Files(self.store)
        try:
            first = last = last_ing = None
            for b in files.blocks(snap, src):
                if b.max_ts < src.since or b.end <= src.from_offset:
                    continue
                if (
                    b.min_ts >= src.since and b.start >= src.from_offset
                ):  # wholly visible: its bounds do
                    first = b.min_ts if first is None else min(first, b.min_ts)
                    last = b.max_ts if last is None else max(last, b.max_ts)
                    last_ing = b.c_ing[-1] if last_ing is None else max(last_ing, b.c_ing[-1])
                    continue
                for i in range(len(b.c_start)):
                    if b.c_max[i] < src.since or b.c_start[i] < src.from_offset:
                        continue
                    first = b.c_min[i] if first is None else min(first, b.c_min[i])
                    last = b.c_max[i] if last is None else max(last, b.c_max[i])
                    last_ing = b.c_ing[i] if last_ing is None else max(last_ing, b.c_ing[i])
            blocks = files.blocks(snap, src)
            indexed_end = max(blocks[-1].end if blocks else 0, src.from_offset)
            size = files.size(src)
            if size <= indexed_end:
                return first, last, last_ing, True
            if not read_tail:
                return first, last, last_ing, False
            start = max(indexed_end, size - 65536)
            if start > indexed_end:  # land on a line start inside the last 64 KiB
                head = files.pread(src, start, min(size, start + 65536))
                nl = head.find(b"\n")
                start = start + nl + 1 if nl != -1 else size
            evs = files.events(src, start, size, None)
            if evs:
                last = max(
                    [last if last is not None else evs[0].timestamp] + [e.timestamp for e in evs]
                )
                last_ing = max(last_ing or 0, max(e.ingestion_time for e in evs))
                if first is None:
                    first = min(e.timestamp for e in evs)
            return first, last, last_ing, True
        finally:
            files.close()
            snap.release()

    def indexed_last_time(self, src: Source) -> int | None:
        """The newest event time the index holds for `src`, without touching its file (bounded listings)."""
        with self.index.snapshot() as snap:
            blocks = snap.stream_blocks(src.skey)
        return max((b.max_ts for b in blocks if b.max_ts >= src.since), default=None)

    def snapshot(self) -> Snapshot:
        return self.index.snapshot()


class _LRU:
    """A thread-safe least-recently-used map bounded by the bytes its callers say each value costs."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple):
        with self._lock:
            got = self._items.get(key)
            if got is None:
                return None
            self._items.move_to_end(key)
            return got[0]

    def put(self, key: tuple, value: object, size: int) -> None:
        if size > self.max_bytes // 4:
            return  # one value never pushes out most of the others
        with self._lock:
            if key in self._items:
                return
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, gone) = self._items.popitem(last=False)
                self._bytes -= gone


def _match_bytes(found: tuple[tuple, ...]) -> int:
    """What a chunk's matches hold in the heap: its text and message strings as they are (a
    non-ASCII text takes 2-4 bytes a character) and the tuples and ints around them. It counted
    the text's characters and 120 bytes, a third of what a match holds: the 8 MB cache held ~20."""
    size = sys.getsizeof
    return ENTRY_OVERHEAD + sum(MATCH_OVERHEAD + size(m[3]) + size(m[4][1]) for m in found)


def _holding_bytes(got: tuple[frozenset[int], frozenset[int]]) -> int:
    """What `_chunks_holding`'s answer holds: two frozensets (216 bytes empty) in a tuple, and
    the entry."""
    size = sys.getsizeof
    return ENTRY_OVERHEAD + size(got) + size(got[0]) + size(got[1])


def _level_entry_bytes(got: tuple[array, bytes]) -> int:
    return ENTRY_OVERHEAD + 9 * len(got[1])  # a time (8) and a level class (1) per event


def _stream_pieces(snap: Snapshot, src: Source, files: _Files) -> list[tuple]:
    """The stream's visible byte ranges in file order: its chunks, then the bytes not indexed yet."""
    pieces = []
    blocks = files.blocks(snap, src)
    for b in blocks:
        for i in range(len(b.c_start)):
            if b.c_start[i] >= src.from_offset:
                pieces.append((b.c_start[i], b.chunk_end(i), (lambda _o, v=b.c_ing[i]: v)))
    tail = max(blocks[-1].end if blocks else 0, src.from_offset)
    size = files.size(src)
    if size > tail:
        pieces.append((tail, size, None))
    return pieces


@dataclass(frozen=True, slots=True)
class _Span:
    """Bytes [start, end) of one stream that a histogram counts: an indexed chunk (its time bounds,
    event count and ingestion time) or, with `ing` None, bytes the index has not reached (times
    unknown: bounds NEG_INF..POS_INF)."""

    start: int
    end: int
    min_ts: int = NEG_INF
    max_ts: int = POS_INF
    count: int = 0
    ing: int | None = None

    def ingest_for(self) -> stamps.TimeFn | None:
        """The `_Files.events` argument: the chunk's ingestion time, or None (read the stamps)."""
        return None if self.ing is None else (lambda _o, v=self.ing: v)


def _spans(snap: Snapshot, files: _Files, src: Source, start: int, end: int) -> Iterator[_Span]:
    """The chunks of `src` that may hold visible events in [start, end), in file order, then its bytes
    not indexed yet. The one walk both histograms count over."""
    lo = max(start, src.since)
    blocks = files.blocks(snap, src)
    for b in blocks:
        if b.max_ts < lo or b.min_ts >= end or b.end <= src.from_offset:
            continue
        for i in range(len(b.c_start)):
            if b.c_max[i] < lo or b.c_min[i] >= end or b.c_start[i] < src.from_offset:
                continue
            yield _Span(
                b.c_start[i], b.chunk_end(i), b.c_min[i], b.c_max[i], b.c_count[i], b.c_ing[i]
            )
    tail = max(blocks[-1].end if blocks else 0, src.from_offset)
    size = files.size(src)
    if size > tail:
        yield _Span(tail, size)


def _frontier(next_key: int, forward: bool) -> tuple:
    """A paging boundary just before time `next_key` (forward) or just after `-next_key` (backward)."""
    if forward:
        return (next_key - 1, "\U0010ffff", 2**62)
    return (1 - next_key, "", -1)


def _key(ev: LogEvent) -> tuple:
    return (ev.timestamp, stream_key(ev.group, ev.stream), ev.offset)


def _behind(
    boundary: tuple | None, forward: bool, skey: str, min_ts: int, max_ts: int, start: int, end: int
) -> bool:
    """Is every event of a piece (times in [min_ts, max_ts], offsets in [start, end)) on the side of
    `boundary` that earlier pages returned? Lets a deep page skip, not re-parse, the events before it
    (a stream whose events share one timestamp would otherwise be re-read from its start per page)."""
    if boundary is None:
        return False
    b_ts, b_skey, b_off = boundary
    if forward:
        if max_ts != b_ts:
            return max_ts < b_ts
        return skey < b_skey or (skey == b_skey and end <= b_off + 1)
    if min_ts != b_ts:
        return min_ts > b_ts
    return skey > b_skey or (skey == b_skey and start >= b_off)


def _sig_test(tq: tuple | None) -> Callable[[int], bool]:
    """A test of a bare-word signature (index.py's time sketch): False only when no event with those
    words can match `tq` (a token that is not a word cannot be ruled out, so it passes)."""
    if tq is None:
        return lambda _sig: True

    def build(q: tuple) -> Callable[[int], bool]:
        if q[0] == "pre":  # the signature holds whole words only
            return lambda _sig: True
        if q[0] == "tok":
            tok = fold(q[1])
            if not is_word(tok):
                return lambda _sig: True
            mask = word_mask(tok.encode("ascii"))
            return lambda sig: sig & mask == mask
        parts = [build(p) for p in q[1]]
        if q[0] == "and":
            return lambda sig: all(p(sig) for p in parts)
        return lambda sig: any(p(sig) for p in parts)

    return build(tq)


def _has_stamped(b: Block, i: int) -> bool:
    _ing, smin, smax = b.parts(i)
    return smin <= smax


def _has_all(data: bytes, literals: list[bytes]) -> bool:
    return all(lit in data for lit in literals)


def _chunks_holding(
    data: bytes, base: int, b: Block, literals: list[bytes]
) -> tuple[frozenset[int], frozenset[int]]:
    """The block's chunks (indexes) whose bytes hold every literal, and of those the chunks mixing
    bare and stamped events (`Block.c_lines`) where every literal has a hit on a line of a bare
    event (elsewhere their bare events cannot match); `data` is the block read at `base`. A literal
    is searched once per chunk, or until a hit on a bare line in a mixed chunk: after that the
    search jumps to the next chunk, so a literal on every line costs one find per chunk."""
    starts, end, masks = b.c_start, b.end, b.c_lines
    keep: set[int] | None = None
    bare: set[int] | None = None
    for lit in literals:
        found: set[int] = set()
        found_bare: set[int] = set()
        ci = cpos = cline = -1  # newlines counted in chunk ci up to cpos: hits only move forward
        pos = data.find(lit)
        while pos >= 0:
            at = base + pos
            i = bisect.bisect_right(starts, at) - 1
            nxt = starts[i + 1] if i + 1 < len(starts) else end
            if at + len(lit) > nxt:  # across two chunks: a match never spans two events
                pos = data.find(lit, pos + 1)
                continue
            found.add(i)
            mask = masks[i] if masks else b""
            if mask and i not in found_bare:
                if starts[i] < base:  # a chunk cut by the first visible byte: lines unknown
                    found_bare.add(i)
                else:
                    if i != ci:
                        ci, cpos, cline = i, starts[i] - base, 0
                    cline += data.count(b"\n", cpos, pos)
                    cpos = pos
                    line = cline
                    if line >> 3 < len(mask) and mask[line >> 3] >> (line & 7) & 1:
                        found_bare.add(i)
                    else:
                        pos = data.find(lit, pos + 1)
                        continue
            pos = data.find(lit, nxt - base)
        keep = found if keep is None else keep & found
        bare = found_bare if bare is None else bare & found_bare
        if not keep:
            return frozenset(), frozenset()
    return frozenset(keep or ()), frozenset(bare or ())


def _raw_match(q: tuple, raw: bytes) -> bool:
    """Does `raw` (already ASCII-lower-cased) contain the query's tokens as substrings?

    A superset test: cheap (bytes.find, no parsing), and never rejects a real match.
    """
    kind = q[0]
    if kind in ("tok", "pre"):
        return fold(q[1]).encode("utf-8") in raw
    if kind == "and":
        return all(_raw_match(p, raw) for p in q[1])
    return any(_raw_match(p, raw) for p in q[1])


FIRST = (
    NEG_INF,
)  # the heap key of unindexed bytes: their times are unknown, so they are read first


def _piece_key(forward: bool, skey: str, min_ts: int, max_ts: int, start: int, end: int) -> tuple:
    """A bound, in the events' own heap order, that no event of the piece can come before.

    Not just its time: events that share one timestamp are ordered by stream and offset, so a
    buffered event is emitted as soon as every unread piece is past it in that order, rather than
    after every piece holding its timestamp has been read.
    """
    if forward:
        return (min_ts, skey, start)
    return (-max_ts, _desc(skey), -end)


_DESC = str.maketrans("0123456789abcdef", "fedcba9876543210")


def _desc(skey: str) -> str:
    """A stream key that sorts in reverse, for newest-first heap keys: stream keys are lower-case hex
    of one length (`model.stream_key`), so each digit's complement reverses their order, and the
    heap compares plain strings (an object with `__lt__` cost a Python call per comparison)."""
    return skey.translate(_DESC)


class _Pending:
    """An event that matched but is not returned yet: fully parsed (fields) only if it is."""

    __slots__ = ("src", "key", "text", "ing", "end", "ident", "parsed", "fields")

    def __init__(
        self,
        src: Source,
        key: tuple,
        text: str,
        ing: int,
        end: int,
        ident: bytes,
        parsed: tuple[int | None, str],
        fields: bool,
    ) -> None:
        self.src, self.key, self.text, self.ing, self.end = src, key, text, ing, end
        self.ident, self.parsed, self.fields = ident, parsed, fields  # parsed: (time, message)

    def __lt__(self, other: _Pending) -> bool:  # heap ties never get here: keys are unique
        return False

    def event(self) -> LogEvent:
        return make_event(
            self.src.group,
            self.src.stream,
            self.key[2],
            self.end,
            self.text,
            self.ing,
            self.ident,
            parsed=self.parsed,
            fields=self.fields,
        )


# ---- the merge ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Query:
    """One read as `Reader.read` resolved it: times in [lo, hi], the key the page starts after (None
    on a first page) and the page's budgets (events, bytes, a monotonic deadline)."""

    lo: int
    hi: int
    pattern: FilterPattern
    limit: int
    forward: bool
    boundary: tuple | None
    max_bytes: int
    deadline: float | None
    fields: bool = True  # False: events carry no parsed fields (a caller that never shows them)


class _BlockPiece(NamedTuple):
    """An index block, split into its chunks when it reaches the top of the heap. In a stream in
    time order (`Snapshot.time_order`) it also carries the stream's blocks and the index of the one
    to queue when it is opened (`_Merge._queue_next`). (The pieces are named tuples: a page may
    queue every candidate block, and a frozen dataclass costs ~8x more to make.)"""

    src: Source
    block: Block
    blocks: list[Block] | None = None
    nxt: int = -1
    # a block whose chunks are in time order, searched for literals a segment at a time: the chunk
    # this piece's segment starts from (-1: the block was not opened yet) and its width in chunks
    seg: int = -1
    width: int = 0
    # a block out of time order whose bare and stamped events are searched apart (`_split_parts`):
    # "bare" or "stamped", and the chunks either part has searched already (shared by the two)
    part: str = ""
    done: set[int] | None = None


class _ChunkPiece(NamedTuple):
    """Bytes [start, end) of one indexed chunk (up to 64 events), all taken in at time `ing`."""

    src: Source
    start: int
    end: int
    ing: int
    count: int = 0  # events in the chunk as the ingester cut it (0: unknown)
    # in a block whose chunks are in time order: (block, index, keep, bare hits) of the chunk to
    # queue when this one is read (`_Merge._queue_chunk`)
    after: tuple | None = None


class _TailPiece(NamedTuple):
    """Bytes [start, end) the index has not reached: their times are unknown until read, so the piece
    sorts first (FIRST) and is read a TAIL_SLICE at a time."""

    src: Source
    start: int
    end: int


def _streams_of(snap: Snapshot, cands: set[int], sources: list[Source]) -> set[str]:
    """The stream keys of `sources` that have a candidate block: from the candidates when they are
    few (a rare word), else by looking for one candidate among each stream's blocks (a common word:
    usually its first block), so a page costs the number of streams, not of candidate blocks."""
    if len(cands) <= 4 * len(sources):
        by_docnum = snap.by_docnum
        return {by_docnum[d].skey for d in cands}
    return {
        src.skey for src in sources if any(b.docnum in cands for b in snap.stream_blocks(src.skey))
    }


class _Merge:
    """One page of `Reader.read`: pieces (blocks → chunks → events) come off a heap in `_piece_key`
    order; matched events wait in a second heap until no unread piece can hold an earlier one.

    Every block, chunk and event passes the same test (`_wanted`: in range, visible, past the page's
    boundary) before it is read or kept, so the three levels cannot disagree.
    """

    def __init__(self, snap: Snapshot, files: _Files, query: _Query, matches: _LRU) -> None:
        self.snap, self.files, self.q = snap, files, query
        # a page after the first reuses the chunk matches of the pages before it (MATCH_CACHE_BYTES);
        # a first page always reads, so a repeated search measures and costs what a new one does
        self.matches = matches
        self.reuse = query.boundary is not None
        self.forward, self.boundary = forward, boundary = query.forward, query.boundary
        pattern = query.pattern
        self.tq = None if pattern.match_all else pattern.token_query()
        self.texts = list(getattr(pattern, "literals", ()))  # text every match contains
        self._need_data: bytes | None = None  # the read `_need_within` last worked out, and for it:
        self._need_got: tuple[Callable[[str], bool] | None, tuple[bytes, ...]] = (None, ())
        self.literals = [lit.encode("utf-8") for lit in self.texts]
        self.cands: set[int] | None = None  # candidate block docnums; None: every block
        self.cand_streams: set[str] | None = None  # the streams of `cands`
        self.bare_may_match = _sig_test(self.tq)  # may bare events with this word signature match?
        # where this page began: a page cut by its deadline must end past it (see _stop_at_deadline)
        if boundary is not None:
            self.began = boundary
        else:
            self.began = _frontier(query.lo, True) if forward else _frontier(-query.hi, False)
        # nothing on the far side of the boundary's time can be on this page
        self.lo = max(query.lo, boundary[0]) if boundary is not None and forward else query.lo
        self.hi = min(query.hi, boundary[0]) if boundary is not None and not forward else query.hi
        self.pieces: list[
            tuple[tuple, int, _BlockPiece | _ChunkPiece | _TailPiece]
        ] = []  # (key, seq, piece)
        self.seq = 0  # breaks ties between equal keys in the order pieces were queued
        self.ready: list[tuple[tuple, _Pending]] = []  # matched events, in the events' heap order
        self.result: list[LogEvent] = []
        self.used = 0  # bytes of `result` as the page budget counts them

    def run(self, sources: list[Source]) -> tuple[list[LogEvent], tuple | None]:
        """The page's events (in heap order) and the key the next page starts after (None: no more)."""
        if self.tq is not None:
            self.cands = self.snap.candidates(self.tq, {s.skey for s in sources}, self.reuse)
        if self.cands is not None:  # streams without a candidate block queue only their tails
            self.cand_streams = _streams_of(self.snap, self.cands, sources)
        for src in sources:
            self._seed(src)
        heapq.heapify(self.pieces)
        limit, deadline = self.q.limit, self.q.deadline
        while len(self.result) < limit:
            next_key = self.pieces[0][0] if self.pieces else None
            if self._emit_ready(next_key):
                return self.result, _key(self.result[-1])  # the byte budget ended the page
            if len(self.result) >= limit or not self.pieces:
                break
            if deadline is not None and time.monotonic() > deadline:
                stop = self._stop_at_deadline(next_key)
                if stop is not None:
                    return self.result, stop
            _, _, piece = heapq.heappop(self.pieces)
            match piece:
                case _BlockPiece():
                    self._open_block(piece)
                case _ChunkPiece():
                    self._read_chunk(piece)
                case _TailPiece():
                    self._read_tail(piece)
        if len(self.result) >= limit and (self.ready or self.pieces):
            return self.result, _key(self.result[-1])
        return self.result, None

    def _wanted(self, src: Source, min_ts: int, max_ts: int, start: int, end: int) -> bool:
        """May a piece with times in [min_ts, max_ts] and bytes [start, end) hold an event of this page:
        one in [lo, hi], visible (its newest time and last byte pass `visibility.visible`), not on an
        earlier page (`_behind`)? An event is the piece of its one time and first byte."""
        return (
            max_ts >= self.lo
            and min_ts <= self.hi
            and visible(src, max_ts, end - 1)
            and (
                self.boundary is None
                or not _behind(self.boundary, self.forward, src.skey, min_ts, max_ts, start, end)
            )
        )

    def _bounds(
        self,
        src: Source,
        bare: tuple[int, int] | None,
        smin: int,
        smax: int,
        start: int,
        end: int,
    ) -> tuple[int, int] | None:
        """The time bounds of a block's or chunk's events that may be on this page, from its sketch
        (index.py): its bare events' times (None when they cannot match) and its stamped events'
        bounds (smin > smax: none); None when neither part is `_wanted`. A `sam local` chunk whose
        bare events were ingested "now" and whose stamped ones are days old is read when the page
        reaches the part that can match, not on every page because its bounds span both."""
        lo, hi = POS_INF, NEG_INF
        if bare is not None and self._wanted(src, bare[0], bare[1], start, end):
            lo, hi = bare
        if smin <= smax and self._wanted(src, smin, smax, start, end):
            lo, hi = min(lo, smin), max(hi, smax)
        return (lo, hi) if lo <= hi else None

    def _push(
        self, key: tuple, piece: _BlockPiece | _ChunkPiece | _TailPiece, seeding: bool = False
    ) -> None:
        entry = (key, self.seq, piece)
        self.seq += 1
        if seeding:
            self.pieces.append(entry)  # heapified once, after every stream is seeded
        else:
            heapq.heappush(self.pieces, entry)

    def _seed(self, src: Source) -> None:
        """Queue the stream's candidate blocks that may hold events of this page, then its bytes the
        index has not reached (unknown times: read first). A stream in time order queues only the
        first block this page would read; each block queues the next when it is opened, so a deep
        page does not weigh every block of every stream to read a few."""
        blocks = self.files.blocks(self.snap, src)
        if self.cand_streams is not None and src.skey not in self.cand_streams:
            blocks_wanted = []  # no block of the stream may match: a rare word weighs none of them
        else:
            blocks_wanted = blocks
        order = self.snap.time_order(src.skey) if blocks_wanted else None
        if order is not None:
            mins, maxs = order
            if self.forward:
                first = bisect.bisect_left(maxs, max(self.lo, src.since))
            else:
                first = bisect.bisect_right(mins, self.hi) - 1
            self._queue_next(src, blocks, first, seeding=True)
        else:
            for b in blocks_wanted:
                key = self._block_key(src, b)
                if key is not None:
                    self._push(key, _BlockPiece(src, b), seeding=True)
        tail_start = max(blocks[-1].end if blocks else 0, src.from_offset)
        size = self.files.size(src)
        if size > tail_start:
            self._push(FIRST, _TailPiece(src, tail_start, size), seeding=True)

    def _block_key(self, src: Source, b: Block) -> tuple | None:
        """The heap key of a block that may hold events of this page (a candidate, `_bounds`)."""
        if self.cands is not None and b.docnum not in self.cands:
            return None
        bare = (b.u_min, b.u_max) if b.u_min <= b.u_max and self.bare_may_match(b.u_sig) else None
        bounds = self._bounds(src, bare, b.s_min, b.s_max, b.start, b.end)
        if bounds is None:
            return None
        return _piece_key(self.forward, src.skey, *bounds, b.start, b.end)

    def _queue_next(self, src: Source, blocks: list[Block], i: int, seeding: bool = False) -> None:
        """Queue the first block from `i` on (forward: i, i+1, ...; backward: i, i-1, ...) of a stream
        in time order that may hold events of this page; it queues the one after it when opened.
        Every block after it holds only later (forward) or earlier events, so none can come first."""
        step = 1 if self.forward else -1
        lo, hi = max(self.lo, src.since), self.hi
        while 0 <= i < len(blocks):
            b = blocks[i]
            if (b.min_ts > hi) if self.forward else (b.max_ts < lo):
                return  # this block and every one after it are past the page's range
            key = self._block_key(src, b)
            if key is not None:
                self._push(key, _BlockPiece(src, b, blocks, i + step), seeding)
                return
            i += step

    def _open_block(self, piece: _BlockPiece) -> None:
        """Queue the block's chunks that may hold events of this page. With literals in the pattern,
        one read of the block and a bytes.find per literal and chunk keep only the chunks that hold
        every literal: a phrase's few chunks are read and split, not the whole block's (issue #12).
        A block whose chunks are in time order is searched a segment at a time instead, from the
        end the page starts at (`_open_segment`)."""
        src, b = piece.src, piece.block
        if piece.blocks is not None and piece.seg < 0:
            self._queue_next(src, piece.blocks, piece.nxt)
        if b.chunks_ordered:
            if self.literals:
                self._open_segment(piece)
            else:
                self._queue_chunk(src, b, self._first_chunk(src, b), None, None)
            return
        if piece.part:
            self._open_part(piece)
            return
        keep = bare_hits = None
        if self.literals:
            if self._split_parts(piece):
                return
            keep, bare_hits = self._holding(src, b, b.start, b.end)
            if not keep:
                return
        for i in range(len(b.c_start)):
            if keep is None or i in keep:
                key = self._chunk_key(src, b, i, keep, bare_hits)
                if key is not None:
                    self._push(
                        key,
                        _ChunkPiece(src, b.c_start[i], b.chunk_end(i), b.c_ing[i], b.c_count[i]),
                    )

    def _split_parts(self, piece: _BlockPiece) -> bool:
        """Queue a block that mixes bare and stamped events as two pieces, one per part, each at its
        own place in the heap; True if it did. A `sam local` block's bare events were all read
        "now", newer than every stamped event: a newest page searched each whole block (~200 KB)
        for the few chunks whose bare words may match, and now searches only those chunks."""
        src, b = piece.src, piece.block
        if b.u_min > b.u_max or b.s_min > b.s_max:
            return False
        done: set[int] = set()
        bare = (b.u_min, b.u_max) if self.bare_may_match(b.u_sig) else None
        for part, bounds in (
            ("bare", self._bounds(src, bare, NO_STAMP_MIN, NO_STAMP_MAX, b.start, b.end)),
            ("stamped", self._bounds(src, None, b.s_min, b.s_max, b.start, b.end)),
        ):
            if bounds is not None:
                key = _piece_key(self.forward, src.skey, *bounds, b.start, b.end)
                self._push(key, _BlockPiece(src, b, part=part, done=done))
        return True

    def _open_part(self, piece: _BlockPiece) -> None:
        """Search the chunks of one part of a split block (`_split_parts`) that the other part has
        not searched: "bare", those whose bare events' signature may match; "stamped", those with
        stamped events. A chunk holding the literals is queued whole (both its parts, as
        `_chunk_key` weighs them) and, searched, it is done for the other part too."""
        src, b, done = piece.src, piece.block, piece.done
        assert done is not None
        n = len(b.c_start)
        if piece.part == "bare":
            want = [
                i
                for i in range(n)
                if i not in done and b.parts(i)[0] is not None and self.bare_may_match(b.sig(i))
            ]
        else:
            want = [i for i in range(n) if i not in done and _has_stamped(b, i)]
        runs: list[list[int]] = []
        for i in want:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        for run in runs:
            keep, bare_hits = self._holding(src, b, b.c_start[run[0]], b.chunk_end(run[-1]))
            done.update(run)
            for i in run:
                if i in keep:
                    key = self._chunk_key(src, b, i, keep, bare_hits)
                    if key is not None:
                        self._push(
                            key,
                            _ChunkPiece(
                                src, b.c_start[i], b.chunk_end(i), b.c_ing[i], b.c_count[i]
                            ),
                        )

    def _holding(
        self, src: Source, b: Block, start: int, end: int
    ) -> tuple[frozenset[int], frozenset[int]]:
        """`_chunks_holding` for bytes [start, end) of `b` (whole chunks), reused by later pages."""
        # tagged: a one-chunk block has the chunk's range, and a one-word pattern its text
        key = ("chunks", src.skey, self.files.ident(src), src.from_offset, start, end)
        key += tuple(self.texts)
        got = self.matches.get(key) if self.reuse else None
        if got is None:
            data = self.files.pread(src, start, end)
            got = _chunks_holding(data, max(start, src.from_offset), b, self.literals)
            self.matches.put(key, got, _holding_bytes(got))
        return got

    def _first_chunk(self, src: Source, b: Block) -> int:
        """The chunk of a time-ordered block this page reads first (found by bisection)."""
        if self.forward:
            return bisect.bisect_left(b.c_max, max(self.lo, src.since))
        return bisect.bisect_right(b.c_min, self.hi) - 1

    def _open_segment(self, piece: _BlockPiece) -> None:
        """Search the next segment of a time-ordered block for the literals and queue its first chunk
        holding them; the rest of the block waits on the heap as a piece of its own. A newest page
        of a phrase in every stream reads each stream's newest chunks, not its whole newest block
        (~300 KB a stream): SEGMENT_CHUNKS chunks first, twice as many each time after."""
        src, b = piece.src, piece.block
        n = len(b.c_start)
        first = piece.seg if piece.seg >= 0 else self._first_chunk(src, b)
        if not 0 <= first < n:
            return
        width = piece.width or SEGMENT_CHUNKS
        if self.forward:
            lo_i, hi_i = first, min(n, first + width)
        else:
            lo_i, hi_i = max(0, first - width + 1), first + 1
        keep, bare_hits = self._holding(src, b, b.c_start[lo_i], b.chunk_end(hi_i - 1))
        self._queue_chunk(src, b, first, keep, bare_hits, (lo_i, hi_i, width))

    def _queue_rest(self, src: Source, b: Block, i: int, width: int) -> None:
        """Queue chunks i, i±1, ... of a time-ordered block as one piece, searched when it comes up."""
        step = 1 if self.forward else -1
        while 0 <= i < len(b.c_start):
            key = self._chunk_key(src, b, i, None, None)
            if key is not None:
                self._push(key, _BlockPiece(src, b, None, -1, i, width * 2))
                return
            if (b.c_min[i] > self.hi) if self.forward else (b.c_max[i] < max(self.lo, src.since)):
                return
            i += step

    def _chunk_key(
        self, src: Source, b: Block, i: int, keep: frozenset | None, bare_hits: frozenset | None
    ) -> tuple | None:
        """The heap key of chunk i of `b` if it may hold events of this page (`_bounds`), else None.
        A chunk may straddle from_offset when that is an event boundary inside it (the columns'
        covered end, colquery.py): its events from there on are read."""
        start, end = b.c_start[i], b.chunk_end(i)
        ing, smin, smax = b.parts(i)
        bare = None
        if ing is not None and self.bare_may_match(b.sig(i)):
            mixed = b.c_lines and b.c_lines[i]
            if keep is None or not mixed or i in bare_hits:  # type: ignore[operator]
                bare = (ing, ing)
        bounds = self._bounds(src, bare, smin, smax, start, end)
        if bounds is None:
            return None
        return _piece_key(self.forward, src.skey, *bounds, start, end)

    def _queue_chunk(
        self,
        src: Source,
        b: Block,
        i: int,
        keep: frozenset | None,
        bare_hits: frozenset | None,
        seg: tuple[int, int, int] | None = None,
    ) -> None:
        """Queue the first chunk of `b` from `i` on (forward: i, i+1, ...; backward: i, i-1, ...)
        that may hold events of this page, in a block whose chunks are in time order; reading it
        queues the one after it (as `_queue_next` does for blocks). `seg` (first, end, width): the
        chunks `keep` speaks for; past them the rest of the block is queued (`_queue_rest`)."""
        step = 1 if self.forward else -1
        lo, hi = max(self.lo, src.since), self.hi
        c_min, c_max, n = b.c_min, b.c_max, len(b.c_start)
        while 0 <= i < n:
            if (c_min[i] > hi) if self.forward else (c_max[i] < lo):
                return
            if seg is not None and not seg[0] <= i < seg[1]:
                self._queue_rest(src, b, i, seg[2])
                return
            if keep is None or i in keep:
                key = self._chunk_key(src, b, i, keep, bare_hits)
                if key is not None:
                    piece = _ChunkPiece(src, b.c_start[i], b.chunk_end(i), b.c_ing[i], b.c_count[i])
                    self._push(key, piece._replace(after=(b, i + step, keep, bare_hits, seg)))
                    return
            i += step

    def _read_chunk(self, piece: _ChunkPiece) -> None:
        src = piece.src
        if piece.after is not None:
            self._queue_chunk(src, *piece.after)
        ident = self.files.ident(src)
        # the file's identity and expired offset are in the key: a rewritten or trimmed file is new
        key = ("matches", src.skey, ident, src.from_offset, piece.start, piece.end)
        key += (self.q.pattern.text,)
        found = self.matches.get(key) if self.reuse else None
        if found is None:
            start, data, raws = self.files.indexed_events(
                src,
                piece.start,
                piece.end,
                self._may_match,
                tuple(self.literals),
                piece.count,
                self._chunk_need,
            )
            found = self._matches(start, data, raws, lambda _off, ing=piece.ing: ing)
            self.matches.put(key, found, _match_bytes(found))
        self._keep(src, ident, found)

    def _read_tail(self, piece: _TailPiece) -> None:
        """Read one slice of unindexed bytes; the rest of a big backlog goes back on the heap."""
        src = piece.src
        start, data, raws, consumed = self.files.tail_events(src, piece.start, piece.end)
        if consumed and start + consumed < piece.end:
            self._push(FIRST, _TailPiece(src, start + consumed, piece.end))
        found = self._matches(start, data, raws, self.files.times(src, start + len(data)))
        self._keep(src, self.files.ident(src), found)

    def _matches(
        self, start: int, data: bytes, raws: list[lines.RawEvent], ing_at: stamps.TimeFn
    ) -> tuple[tuple, ...]:
        """The events of `data` (read at `start`) that match the pattern, whatever page they are on:
        (time, offset, end, text, (time or None, message), ingestion time) each; `ing_at` gives the
        ingestion time at an offset."""
        if not raws or not self._may_match(data):
            return ()
        pattern, texts = self.q.pattern, self.texts
        need = self._need_within(data)[0]
        found = []
        for raw in raws:
            if texts and not all(t in raw.text for t in texts):
                continue  # no time parsed for an event that cannot match
            if need is not None and not need(raw.text):
                continue
            parsed = ts, message = lines.time_and_message(raw.text)
            if not pattern.match_all and not pattern.matches(message):
                continue
            off = start + raw.start
            ing = ing_at(off)
            found.append((ing if ts is None else ts, off, start + raw.end, raw.text, parsed, ing))
        return tuple(found)

    def _keep(self, src: Source, ident: bytes, found: tuple[tuple, ...]) -> None:
        """Queue the matches that are on this page (`_wanted`)."""
        if not found:
            return
        forward, fields, skey, ready = self.forward, self.q.fields, src.skey, self.ready
        dkey = _desc(skey)
        first, last = min(f[0] for f in found), max(f[0] for f in found)
        b = self.boundary
        every = (  # each event is wanted: skip the per-event test (a bulk read's common case)
            first >= self.lo
            and last <= self.hi
            and visible(src, first, found[0][1])  # found is in file order: the lowest offset
            and (b is None or (first > b[0] if forward else last < b[0]))
        )
        for ts, off, end, text, parsed, ing in found:
            if not every and not self._wanted(src, ts, ts, off, off + 1):
                continue
            k = (ts, skey, off)
            pending = _Pending(src, k, text, ing, end, ident, parsed, fields)
            heapq.heappush(ready, (k if forward else (-ts, dkey, -off), pending))

    def _may_match(self, data: bytes) -> bool:
        """Can `data` hold a match? Bytes that lack the pattern's literals or tokens are never split
        into events, parsed or matched."""
        if self.literals and not _has_all(data, self.literals):
            return False
        if self.q.pattern.need is not None and not _has_all(data, self._need_within(data)[1]):
            return False
        return self.tq is None or _raw_match(self.tq, data.lower())

    def _need_within(self, data: bytes) -> tuple[Callable[[str], bool] | None, tuple[bytes, ...]]:
        """The pattern's `need` for the events of this read of `data` (a JSON pattern's cheap test,
        and the bytes every event passing it holds), worked out once per read."""
        need = self.q.pattern.need
        if need is None:
            return None, ()
        if self._need_data is not data:
            self._need_data, self._need_got = data, need.within(data)
        return self._need_got

    def _chunk_need(self, data: bytes) -> tuple[bytes, ...]:
        return self._need_within(data)[1]

    def _emit_ready(self, next_key: tuple | None) -> bool:
        """Move the waiting events that no unread piece can precede onto the page, until it is full;
        True when the page's byte budget ends it first."""
        ready, result = self.ready, self.result
        while ready and (next_key is None or ready[0][0] < next_key):
            ev = heapq.heappop(ready)[1].event()
            size = limits.event_bytes(ev.message)
            if result and self.used + size > self.q.max_bytes:
                return True
            result.append(ev)
            self.used += size
            if len(result) >= self.q.limit:
                break
        return False

    def _stop_at_deadline(self, next_key: tuple) -> tuple | None:
        """Where a page past its deadline ends, or None to read on. After its last event if it has
        one; with nothing matched yet, an empty page whose token resumes after everything read so far
        (every unread event lies at or past next_key, so at or past its time), as CloudWatch does,
        once that point is past where this page began (so paging always advances)."""
        if self.result:
            return _key(self.result[-1])
        if next_key[0] in (NEG_INF, POS_INF):
            return None
        frontier = _frontier(next_key[0], self.forward)
        if (frontier > self.began) if self.forward else (frontier < self.began):
            return frontier
        return None


TAIL_SLICE = 4 * 1024 * 1024
_GONE = (-1, 0, 0, b"")  # a stream file that is gone, or not a regular file


class _Files:
    """Open stream files for one query, and turning byte ranges into events.

    Never returns a byte below a source's expired offset (the retention pass punches those out; they
    read as NULs), and takes the time of bytes not indexed yet from the stream's stamps.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.stamps = stamps.book(store)
        self._files: dict[str, tuple[int, int, int, bytes]] = {}  # skey -> fd, inode, size, ident

    def _file(self, src: Source) -> tuple[int, int, int, bytes]:
        """The stream's file, opened once per query: (fd, inode, size, ident); fd -1 and the rest
        empty when it is gone or not a regular file.

        Its identity (inode, size, head) comes from the same descriptor (`fstat`, `pread`), so what
        the query sees of a file is one file even if the path is replaced meanwhile; O_NONBLOCK so
        a FIFO put in a stream's place is refused instead of blocking the open."""
        got = self._files.get(src.skey)
        if got is None:
            got = _GONE
            try:
                fd = os.open(src.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                pass
            else:
                st = os.fstat(fd)
                if stat.S_ISREG(st.st_mode):
                    ident = st.st_ino.to_bytes(8, "little") + os.pread(fd, ID_HEAD_BYTES, 0)
                    got = (fd, st.st_ino, st.st_size, ident)
                else:
                    os.close(fd)
            self._files[src.skey] = got
        return got

    def _open(self, src: Source) -> int | None:
        """The stream's open file (None: gone, or not a regular file)."""
        fd = self._file(src)[0]
        return fd if fd >= 0 else None

    def identity(self, src: Source) -> tuple[int, int]:
        """(inode, size) of the stream's file as this query sees it; (0, 0) if it is gone."""
        _fd, ino, size, _ident = self._file(src)
        return ino, size

    def size(self, src: Source) -> int:
        return self._file(src)[2]

    def blocks(self, snap: Snapshot, src: Source) -> list[Block]:
        """The index blocks of the file now at the stream's path (none of a deleted predecessor's)."""
        _fd, ino, size, ident = self._file(src)
        if not ino:
            return []
        blocks = snap.stream_blocks(src.skey)
        if not blocks:
            return blocks
        head = ident[8:]
        first, last = blocks[0], blocks[-1]
        if not (
            block_is_current(first, ino, head)
            and block_is_current(last, ino, head)
            and last.end <= size + 1
        ):  # +1: an unterminated last line taken as it was
            return []  # the index still describes an older file: read this one as unindexed bytes
        return blocks

    def pread(self, src: Source, start: int, end: int) -> bytes:
        start = max(start, src.from_offset)
        fd = self._open(src)
        if fd is None or end <= start:
            return b""
        return os.pread(fd, end - start, start)

    def ident(self, src: Source) -> bytes:
        """The open file's identity for event ids: inode + head bytes (model.make_event_id)."""
        return self._file(src)[3]

    def times(self, src: Source, upto: int) -> stamps.TimeFn:
        """offset -> the time logsvc first read that byte (stamps.py)."""
        fd = self._open(src)
        if fd is None:
            return lambda _off: 0
        return self.stamps.times(src.group, src.stream, fd, upto)

    def indexed_events(
        self,
        src: Source,
        start: int,
        end: int,
        may_match: Callable[[bytes], bool] | None = None,
        need: tuple[bytes, ...] = (),
        count: int = 0,
        need_in: Callable[[bytes], tuple[bytes, ...]] | None = None,
    ) -> tuple[int, bytes, list]:
        """The events the ingester took in [start, end): (start, data, RawEvents relative to start).
        With `need`, only the events holding every one of those strings (and of `need_in(data)`'s,
        strings that depend on the bytes read); `count`, the range's event count as the ingester
        cut it, lets a range of one-line events skip the line walk.

        Usually one read of the range. A range longer than follow.LINE_CAP may hold an over-long line:
        it is read by the follow rules, a slice at a time, so the line is its first LINE_CAP bytes here
        as in every other read path (and no read holds the whole line)."""
        if start < src.from_offset:
            count = 0  # a range cut by the first visible byte holds fewer events than counted
        start = max(start, src.from_offset)
        fd = self._open(src)
        if fd is None or end <= start:
            return start, b"", []
        if end - start <= follow.LINE_CAP:
            data = os.pread(fd, end - start, start)
            if may_match is not None and not may_match(data):
                return start, data, []  # nothing here can match: not split
            if need_in is not None:
                need = need + need_in(data)
            if need and count and data.endswith(b"\n") and data.count(b"\n") == count:
                return start, data, lines.lines_holding(data, need)  # every line is one event
            # the ingester took an unterminated last line (a chunk's last) as an event: so do we
            return start, data, lines.split_taken(data, need=need)
        pos, first, pieces, raws = start, None, [], []
        while pos < end:
            # a chunk's range, as the ingester cut it: no line in it was taken without its newline
            # but maybe its last, which ends where the range ends (so no cut record is needed)
            at, data, evs, consumed = follow.read_new_events(
                fd, pos, end, follow.PARTIAL_LINE_GRACE, TAIL_SLICE
            )
            if not consumed and evs == [] and at + len(data) < end and b"\n" in data:
                evs, consumed = lines.split_events(
                    data, flush=True
                )  # one event longer than a slice
            if first is None:
                first = at
            if not consumed:
                break
            pieces.append(data[:consumed])
            raws += [lines.RawEvent(at - first + r.start, at - first + r.end, r.text) for r in evs]
            pos = at + consumed
        return (start if first is None else first), b"".join(pieces), raws

    def _reader(self, src: Source) -> Callable[..., tuple]:
        """`follow.read_new_events` for this stream, its recorded cuts applied (stamps.py)."""

        def read(fd: int, offset: int, size: int, quiet: float, max_read: int) -> tuple:
            return stamps.read_events(
                self.store, src.group, src.stream, fd, offset, size, quiet, max_read
            )[:4]

        return read

    def tail_events(self, src: Source, start: int, end: int) -> tuple[int, bytes, list, int]:
        """Up to TAIL_SLICE unindexed bytes from `start` as events by the follow rules (an over-long line
        is the ingester's one cut event): (start, data, RawEvents, bytes consumed)."""
        start = max(start, src.from_offset)
        fd = self._open(src)
        if fd is None or end <= start:
            return start, b"", [], 0
        return follow.read_settled_events(fd, start, end, TAIL_SLICE, self._reader(src))

    def events(self, src: Source, start: int, end: int, ingest_for) -> list[LogEvent]:
        """The visible events in [start, end); `ingest_for` gives chunk times, None for unindexed bytes."""
        start = max(start, src.from_offset)
        fd = self._open(src)
        if fd is None or end <= start:
            return []
        if (
            ingest_for is None
        ):  # bytes the index has not reached: by the follow rules, a slice at a time
            evs = []
            pos = start
            while pos < end:
                at, data, raws, consumed = follow.read_settled_events(
                    fd, pos, end, TAIL_SLICE, self._reader(src)
                )
                if not consumed:
                    break
                evs += [
                    lines.RawEvent(at - start + r.start, at - start + r.end, r.text) for r in raws
                ]
                pos = at + consumed
            ingest_for = self.times(src, pos)
        else:
            start, _, evs = self.indexed_events(src, start, end)
        out = []
        for raw in evs:
            ev = make_event(
                src.group,
                src.stream,
                start + raw.start,
                start + raw.end,
                raw.text,
                ingest_for(start + raw.start),
                self.ident(src),
            )
            if visible(src, ev.timestamp, ev.offset):
                out.append(ev)
        return out

    def close(self) -> None:
        for fd, *_ in self._files.values():
            if fd >= 0:
                os.close(fd)
        self._files.clear()


# ---- tokens ------------------------------------------------------------------------------------


def _fingerprint(lo: int, hi: int, pattern: str, forward: bool) -> str:
    """Ties a token to its query's range, pattern and direction. Not to the set of streams: a stream
    that appears between two pages must not invalidate the token."""
    import hashlib

    return hashlib.blake2b(f"{lo}|{hi}|{pattern}|{forward}".encode(), digest_size=6).hexdigest()


def encode_token(codec: paging.Codec, fp: str, key: tuple) -> str:
    return codec.encode("events", [fp, key[0], key[1], key[2]])


def decode_token(codec: paging.Codec, token: str, fp: str) -> tuple:
    """:raises InvalidParameter: if the token is not one of ours or belongs to another query."""
    data = codec.decode("events", token)
    if not (
        isinstance(data, list)
        and len(data) == 4
        and isinstance(data[1], int)
        and isinstance(data[2], str)
        and isinstance(data[3], int)
    ):
        raise InvalidParameter(paging.BAD_TOKEN, field="nextToken", rule=paging.RULE)
    if data[0] != fp:
        raise InvalidParameter(
            "The specified nextToken is invalid: it belongs to a query with other parameters.",
            field="nextToken",
            rule="the same start, end, pattern and direction as the call that returned it",
        )
    return (data[1], data[2], data[3])


def iter_all(reader: Reader, sources: list[Source], **kw) -> Iterator[LogEvent]:
    """Every matching event, page by page (for exports with no row cap)."""
    token = None
    while True:
        page = reader.read(sources, token=token, **kw)
        yield from page.events
        token = page.next_token
        if not token:
            return
