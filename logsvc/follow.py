"""The follow rules: how the bytes of a stream file become events, for EVERY reader of them.

The ingester, every live tail and every read of bytes the index has not reached yet use these
functions, so an event has the same boundaries, text and id however (and whenever) it is read:

- `FileFollow.look` is the one implementation of file identity: on every look (not only when the
  size changed) a new inode, a size below what was read or changed head bytes (copytruncate, a
  rewrite to any size) -> the file is new and is read from 0;
- a line longer than `LINE_CAP` bytes is one event of its first `LINE_CAP` bytes (cut, and said so
  when read); its end is found `SCAN_CHUNK` bytes at a time, so what follows it is never hidden and
  no reader holds the whole line;
- a partial last line is held until its newline arrives, or taken as it is after
  `PARTIAL_LINE_GRACE` seconds of silence, once: the first follower to take it records it and
  every reader follows the record (stamps.read_events, which every reader goes through); the
  newline that later ends such a line is skipped, other bytes are the next event;
- an event whose last line could still take continuation lines (an open traceback) is held for
  `CONTINUATION_GRACE` seconds.

Below ingest, query and tail; imports only lines.py and model.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from logsvc import lines
from logsvc.model import ID_HEAD_BYTES, LogEvent, new_event

# A longer line is kept as its first LINE_CAP bytes (the rest is skipped). Four bytes per character
# and then some: the kept text always exceeds query.MAX_MESSAGE characters, so make_event cuts it
# with its marker and `truncated: true` however the line is encoded.
LINE_CAP = 4 * 1024 * 1024 + 4
SCAN_CHUNK = 1024 * 1024  # how much of an over-long line is looked at at once when seeking its end
HEAD_BYTES = ID_HEAD_BYTES
MARK_BYTES = 32
# An mtime this recent is not trusted to stand for the bytes: the kernel stamps a write's mtime
# before it copies the bytes (a look between the two sees the new time with the old bytes), and a
# second write within the clock's tick keeps the same time. Until it is older, every look reads the
# last bytes taken again, so an in-place rewrite is noticed however a look races it.
MTIME_SETTLE_NS = 2_000_000_000
CONTINUATION_GRACE = 0.25
PARTIAL_LINE_GRACE = 2.0
MAX_MESSAGE = 1_048_576  # longer events are cut here, with a marker (see truncate_message)


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
    mark: bytes = b""  # the last bytes taken: an in-place rewrite past the head shows here
    # where `mark` ends (-1: at `end`). Not always `end`: skipping the newline that ends a line
    # taken as it was moves `end` one byte past the bytes taken, and the mark must stay theirs
    mark_end: int = -1
    mtime_ns: int = -1
    seen_size: int = -1
    changed_at: float = 0.0
    generation: int = 0  # bumped on every reset: anything keyed by an older value is stale

    def look(self, fd: int, fst: os.stat_result, now: float) -> bool:
        """Compare the open file with what was read; on a new file, restart at byte 0. True if reset.

        Every look: inode, size (not below what was read) and head bytes. When the modification
        time moved, or is too recent to trust (MTIME_SETTLE_NS), also the last bytes taken (bytes now reading as zero are a hole retention
        punched, which keeps the file).
        """
        size = fst.st_size
        reset = size < self.end or (self.ino and fst.st_ino != self.ino)
        if not reset and self.head and os.pread(fd, len(self.head), 0) != self.head:
            reset = True
        if not reset and self.mark and fst.st_mtime_ns != self.mtime_ns:
            at = self.mark_end if self.mark_end >= 0 else self.end
            if at < len(self.mark):  # a position the mark cannot end at (a damaged checkpoint)
                reset = True
            else:
                now_mark = os.pread(fd, len(self.mark), at - len(self.mark))
                # a byte that differs and is not zero: rewritten (a punched hole reads as zeros)
                reset = len(now_mark) < len(self.mark) or any(
                    x and x != y for x, y in zip(now_mark, self.mark, strict=True)
                )
        if reset:
            self.head, self.mark, self.end, self.seen_size = b"", b"", 0, -1
            self.mark_end = -1
            self.generation += 1
        elif not self.head and self.end:  # adopting a position (a cursor): the file as it is now
            self.head = os.pread(fd, min(HEAD_BYTES, self.end), 0)
            self.mark = os.pread(
                fd, min(MARK_BYTES, self.end), self.end - min(MARK_BYTES, self.end)
            )
            self.mark_end = self.end
        self.ino = fst.st_ino
        settled = time.time_ns() - fst.st_mtime_ns >= MTIME_SETTLE_NS
        self.mtime_ns = fst.st_mtime_ns if settled else -1  # -1: check the mark again next look
        if size != self.seen_size:
            self.seen_size, self.changed_at = size, now
        return bool(reset)

    def took(self, fd: int, consumed: int, data: bytes | None = None) -> None:
        """`consumed` more bytes were taken as events; the head grows to cover them (up to
        HEAD_BYTES) and the mark becomes their last bytes.

        `data` is what was read from `end` on, the bytes the events were made of: head and mark are
        taken from it, not read again. Read again, a rewrite that came between the read and this call
        would become what the follower knows, and no later look could tell it from the bytes taken.
        Without `data` (bytes passed over unread, as retention's), they are read from the file.
        """
        start = self.end
        self.end += consumed

        def span(lo: int, hi: int) -> bytes:  # bytes [lo, hi) as they were taken
            if data is None:
                return os.pread(fd, hi - lo, lo)
            a, b = max(lo, start), min(hi, start + len(data))
            if a >= b:
                return os.pread(fd, hi - lo, lo)
            before = os.pread(fd, a - lo, lo) if lo < a else b""  # a skipped newline
            after = os.pread(fd, hi - b, b) if b < hi else b""  # the rest of an over-long line
            return before + data[a - start : b - start] + after

        if len(self.head) < HEAD_BYTES and self.end > len(self.head):
            self.head += span(len(self.head), min(HEAD_BYTES, self.end))
        if consumed:
            self.mark = span(self.end - min(MARK_BYTES, self.end), self.end)
            self.mark_end = self.end

    def identity(self) -> bytes:
        """What event ids fold in (model.make_event_id): the inode and the head bytes."""
        return file_identity(self.ino, self.head)


def file_identity(ino: int, head: bytes) -> bytes:
    return ino.to_bytes(8, "little") + head[:HEAD_BYTES]


def read_new_events(
    fd: int, offset: int, size: int, quiet: float, max_read: int, *, partial: bool = True
) -> tuple[int, bytes, list, int]:
    """Read the complete events after `offset` of an open stream file, by the follow rules.

    Returns (start, data, events, consumed): `start` is where `data` begins (one past `offset` when
    the first byte is the newline ending a line already taken as it was), `events` are RawEvents
    relative to `data`, `consumed` the bytes they cover. Shared by the ingester and live tails so an
    event has the same boundaries (and id) however it is read. A line longer than `max_read` is
    read up to LINE_CAP + 1 bytes, so every reader sees a line over LINE_CAP the same way: one event of its first LINE_CAP bytes
    whose `end` (and `consumed`) reach past `data` to the line's newline. With `partial` False a
    line without its newline is never taken, however quiet the writer (a reader that follows
    another's decision: stamps.read_events).
    """
    offset, data = skip_taken_newline(
        fd, offset, os.pread(fd, min(size - offset, max_read), offset)
    )
    if b"\n" not in data and offset + len(data) < size and len(data) <= LINE_CAP:
        data = os.pread(fd, min(size - offset, LINE_CAP + 1), offset)  # a line longer than max_read
    partial_read = offset + len(data) < size
    if len(data) > LINE_CAP and b"\n" not in data[: LINE_CAP + 1]:
        return _long_line(fd, offset, size, data, quiet if partial else 0.0)
    events, consumed = lines.split_events(
        data, flush=quiet >= CONTINUATION_GRACE and not partial_read
    )
    if partial and consumed == 0 and not partial_read and quiet >= PARTIAL_LINE_GRACE and data:
        # a last line that never got its newline: take it as it is rather than lose it
        events, consumed = lines.split_taken(data), len(data)
    return offset, data, events, consumed


def _long_line(
    fd: int, offset: int, size: int, data: bytes, quiet: float
) -> tuple[int, bytes, list, int]:
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


def read_settled_events(
    fd: int, offset: int, size: int, max_read: int, read: Callable[..., tuple]
) -> tuple[int, bytes, list, int]:
    """The events after `offset` as a reader of bytes the index has not reached shows them.

    The same rules and return shape as `read_new_events`, as if the writer had gone quiet for the
    continuation grace (a query shows a traceback at the end of a file as it is now) but not for
    the partial-line grace (a line without its newline is never shown). A read that stops short of
    `size` holds its last event back for the next read; `consumed` is 0 only when nothing is left
    that can be shown yet. `read` stands for `read_new_events` with the stream's recorded cuts
    applied (stamps.read_events, which this layer cannot import): required, so no reader of
    unindexed bytes can skip them."""
    start, data, events, consumed = read(fd, offset, size, CONTINUATION_GRACE, max_read)
    if consumed == 0 and start + len(data) < size and b"\n" in data:
        # one event (a traceback) longer than max_read: shown cut at the read, rather than never
        events, consumed = lines.split_events(data, flush=True)
    return start, data, events, consumed


def skip_taken_newline(fd: int, offset: int, data: bytes) -> tuple[int, bytes]:
    """Drop a first newline that only ends a line already taken as it was (PARTIAL_LINE_GRACE),
    so it does not read as an empty event: (offset, data) past it."""
    if data[:1] == b"\n" and offset and os.pread(fd, 1, offset - 1) != b"\n":
        return offset + 1, data[1:]
    return offset, data


def make_event(
    group: str,
    stream: str,
    offset: int,
    end: int,
    text: str,
    ingestion_time: int,
    ident: bytes = b"",
    *,
    parsed: tuple[int | None, str] | None = None,
    fields: bool = True,
) -> LogEvent:
    """The one place an event's text becomes a LogEvent: fields parsed, an over-long message cut.
    `ident` is the file's identity (inode + head bytes, see model.make_event_id). `parsed`, the
    (time, message) `lines.time_and_message(text)` gave, is not computed again; with `fields=False`
    the event has no fields (a reader that returns only time and message skips the full parse)."""
    if parsed is None:
        p = lines.parse_event(text)
        stamp, message, found = p.timestamp, p.message, p.fields
    elif fields:
        p = lines.complete(text, *parsed)
        stamp, message, found = p.timestamp, p.message, p.fields
    else:
        (stamp, message), found = parsed, {}
    msg, cut = truncate_message(message, end - offset)
    if cut:
        found = dict(found, truncated=True)
    ts = stamp if stamp is not None else ingestion_time
    return new_event(group, stream, offset, ts, ingestion_time, msg, found, end, ident)


def truncate_message(message: str, event_bytes: int) -> tuple[str, bool]:
    """Messages over MAX_MESSAGE characters are cut, ending in a marker with the event's size.

    The size is the event's byte range in its file (which every reader knows), not what a read held:
    readers see only the first follow.LINE_CAP bytes of an over-long line, so a count of the
    characters cut would differ between read paths, and an event's message must not."""
    if len(message) <= MAX_MESSAGE:
        return message, False
    return message[
        :MAX_MESSAGE
    ] + f"\u2026[logsvc: cut; the whole event is {event_bytes:,} bytes]", True
