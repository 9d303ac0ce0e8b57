r"""Line formats: turns stream-file bytes into events, and event text into timestamp, message and fields. Pure.

Owns where one event ends and the next begins (indented and traceback continuation lines, Lambda's
"\r" convention), the leading-timestamp rule, the writers' line format (`format_line`) and the fields
of every line shape Lambda writes. Never does I/O, never knows which file or stream the bytes came
from, and never touches the index.

Events. A stream file holds one event per line. A line continues the previous event when it starts
with a space, a tab or Lambda's NO-BREAK SPACE, or when it belongs to a Python traceback (header,
chaining sentences, the closing `SomeError: msg`) or a Java trace (`Caused by: `). Inside a line,
"\r" is a line break of the event itself: that is how Lambda keeps a multi-line message in one
event on stdout (reference §2.5), and how `format_line` writes one. A message that has a "\r" of its
own is written *escaped* instead (`escape_message`): writer's timestamp, space, U+001E, then "\r\r"
for "\r" and "\r " for "\n"; `split_events` unescapes such lines, so every message a writer gives
`format_line` reads back byte for byte. Plain text essentially never has U+001E right after a
timestamp, so lines written with `>>` keep Lambda's convention.

Pipes. `format_line(..., pipe="stderr")` puts U+001F (UNIT SEPARATOR) right after the timestamp:
`<timestamp>` U+001F SPACE `<message>`, or `<timestamp>` U+001F U+001E `<escaped message>` (the U+001E
takes the space's place, so byte 25 is U+001E in every escaped line). Such an event has the field
`pipe: "stderr"`; every other line (stdout, PutLogEvents, `>>`) is written and read exactly as
before and has no `pipe` field. Why there: the byte after the timestamp already tells line shapes
apart (space: time cut; TAB: Node's verbatim line), so ordinary lines pay nothing to be read, no
message changes (one starting with U+001F needs no escape), `cut -d' ' -f2-` still gives a plain
stderr line's message, and an event's text keeps the mark (`<timestamp>` U+001F SPACE `<message>`)
for `time_and_message` and `parse_event`. Only format_timestamp's exact form followed by U+001F
marks stderr; U+001F anywhere else is plain text (and, like every control character, a word break).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from logsvc.errors import InvalidParameter

__all__ = [
    "ESCAPED",
    "STDERR",
    "FORMATS",
    "MAX_TIMESTAMP_MS",
    "MIN_TIMESTAMP_MS",
    "LineFormat",
    "ParsedEvent",
    "RawEvent",
    "detect_format",
    "escape_message",
    "format_line",
    "JSON_LEVEL_KEYS",
    "JsonFloat",
    "LEVEL_CLASSES",
    "find_json_object",
    "format_timestamp",
    "level_class",
    "load_json_object",
    "parse_event",
    "parse_timestamp",
    "split_events",
    "split_taken",
    "unescape_message",
]

MIN_TIMESTAMP_MS = 0  # 1970-01-01T00:00:00.000Z
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One event's bytes within the data given to `split_events`, and its decoded text."""

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """What an event's text says: its time (None: use ingestion time), message and fields."""

    timestamp: int | None
    message: str
    fields: dict[str, object]


# Frozen dataclasses build through object.__setattr__; filling the slots directly is about twice
# as fast, and these two are built once per line.
_new = object.__new__
_set_start, _set_end, _set_text = (
    RawEvent.start.__set__,
    RawEvent.end.__set__,
    RawEvent.text.__set__,
)  # type: ignore[attr-defined]
_set_ts, _set_message, _set_fields = (
    ParsedEvent.timestamp.__set__,  # type: ignore[attr-defined]
    ParsedEvent.message.__set__,  # type: ignore[attr-defined]
    ParsedEvent.fields.__set__,  # type: ignore[attr-defined]
)


def _raw_event(start: int, end: int, text: str) -> RawEvent:
    event = _new(RawEvent)
    _set_start(event, start)
    _set_end(event, end)
    _set_text(event, text)
    return event


def _parsed_event(timestamp: int | None, message: str, fields: dict[str, object]) -> ParsedEvent:
    event = _new(ParsedEvent)
    _set_ts(event, timestamp)
    _set_message(event, message)
    _set_fields(event, fields)
    return event


# --------------------------------------------------------------------------------------------
# Timestamps

_EPOCH = datetime(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_HEAD_CACHE: dict[str, int | None] = {}
_HEAD_CACHE_MAX = 4096
_DAY_CACHE: dict[str, int | None] = {}
_MISS = object()
# What may follow "YYYY-MM-DDTHH:MM:SS": a fraction (".123", ",123" as Python's asctime writes it)
# and a zone ("Z", "+01:00", "+0100").
_TAIL_RE = re.compile(r"(?:[.,]([0-9]+))?(?:[Zz]|([+-])([0-9]{2}):?([0-9]{2}))?")


def _head_seconds(head: str) -> int | None:
    """Epoch seconds of "YYYY-MM-DD?HH:MM:SS" (shape already checked), None if not a real time.

    Cached: a stream repeats the same second many times, and a dict hit is cheaper than parsing.
    """
    try:
        return _HEAD_CACHE[head]
    except KeyError:
        pass
    secs = None
    day = _day_seconds(head[:10])
    hms = head[11:13] + head[14:16] + head[17:19]
    if day is not None and hms.isascii() and hms.isdigit():
        hour, minute, second = int(head[11:13]), int(head[14:16]), int(head[17:19])
        if hour < 24 and minute < 60 and second < 60:
            secs = day + hour * 3600 + minute * 60 + second
    if len(_HEAD_CACHE) >= _HEAD_CACHE_MAX:
        _HEAD_CACHE.clear()
    _HEAD_CACHE[head] = secs
    return secs


def _day_seconds(ymd: str) -> int | None:
    """Epoch seconds of "YYYY-MM-DD"'s midnight, None if not a real date. Cached apart from whole
    seconds: a day of logs has 86,400 of those but one date (real logs missed the seconds cache
    on 44% of lines and paid for a calendar lookup each time)."""
    try:
        return _DAY_CACHE[ymd]
    except KeyError:
        pass
    digits = ymd[:4] + ymd[5:7] + ymd[8:10]
    secs = None
    if digits.isascii() and digits.isdigit():
        try:
            secs = (
                date(int(ymd[:4]), int(ymd[5:7]), int(ymd[8:10])).toordinal() - _EPOCH_ORDINAL
            ) * 86400
        except ValueError:  # month 13, February 30, year 0
            pass
    if len(_DAY_CACHE) >= _HEAD_CACHE_MAX:
        _DAY_CACHE.clear()
    _DAY_CACHE[ymd] = secs
    return secs


def _leading_timestamp(text: str) -> tuple[int, int] | None:
    """(epoch ms, end index) of the timestamp that opens `text`, or None.

    The timestamp must not run into a letter or digit ("1234 items", "2026-01-01T00:00:00abc" are
    not timestamps) and must lie in 1970..9999.
    """
    head = text[:19]
    secs = _HEAD_CACHE.get(head, _MISS)  # a hit means "shape checked" and skips the checks below
    if (
        secs is _MISS
        and len(head) == 19
        and head[4] == "-"
        and head[7] == "-"
        and head[13] == ":"
        and head[16] == ":"
        and head[10] in "Tt "
    ):
        secs = _head_seconds(head)
    if secs is None:
        return None
    if secs is not _MISS:
        if (
            text[19:20] == "."
            and text[23:24] == "Z"
            and text[20:23].isdigit()
            and text[20:23].isascii()
        ):
            ms, end = (
                secs * 1000 + int(text[20:23]),
                24,
            )  # fast path: what format_line, Lambda and Node write
        else:
            m = _TAIL_RE.match(text, 19)
            end = m.end()
            frac, sign, off_h, off_m = m.groups()
            ms = secs * 1000
            if frac:
                ms += int(frac[:3].ljust(3, "0"))
            if sign:
                hours, minutes = int(off_h), int(off_m)
                if hours > 23 or minutes > 59:
                    return None
                offset = (hours * 60 + minutes) * 60_000
                ms += -offset if sign == "+" else offset
    elif len(text) >= 13 and text[:13].isdigit() and text[:13].isascii():
        ms, end = int(text[:13]), 13
    else:
        return None
    if end < len(text) and text[end].isalnum():
        return None
    if not MIN_TIMESTAMP_MS <= ms <= MAX_TIMESTAMP_MS:
        return None
    return ms, end


def parse_timestamp(text: str) -> int | None:
    """Epoch ms of a whole string that is an ISO-8601 time or 13-digit epoch ms, else None.

    Accepts "2026-11-27T21:46:35Z", ".123Z", ".123456Z" (truncated to ms), "+01:00" / "+0100"
    offsets, a space instead of "T", and naive times (read as UTC). Times outside 1970..9999 are None.
    """
    lead = _leading_timestamp(text)
    if lead is None or lead[1] != len(text):
        return None
    return lead[0]


@lru_cache(maxsize=1024)
def _second_prefix(secs: int) -> str:
    return (_EPOCH + timedelta(seconds=secs)).isoformat(timespec="seconds")


def format_timestamp(timestamp_ms: int) -> str:
    """ISO-8601 UTC with milliseconds, e.g. "2026-11-27T21:46:35.123Z": the form stream files carry.

    :raises InvalidParameter: if the time is not an int within 1970..9999.
    """
    if (
        not isinstance(timestamp_ms, int)
        or isinstance(timestamp_ms, bool)
        or not MIN_TIMESTAMP_MS <= timestamp_ms <= MAX_TIMESTAMP_MS
    ):
        raise InvalidParameter(
            f"timestamp {timestamp_ms!r} is not a time logsvc can store",
            field="timestamp",
            rule=f"integer epoch milliseconds in {MIN_TIMESTAMP_MS}..{MAX_TIMESTAMP_MS} (1970..9999 UTC)",
            hint="pass milliseconds since 1970-01-01T00:00:00Z, e.g. int(time.time() * 1000)",
        )
    secs, ms = divmod(timestamp_ms, 1000)
    return f"{_second_prefix(secs)}.{ms:03d}Z"


ESCAPED = "\x1e"  # U+001E RECORD SEPARATOR after the writer's timestamp and space: an escaped line
STDERR = (
    "\x1f"  # U+001F UNIT SEPARATOR right after the writer's timestamp: an event written to stderr
)
_PIPES = ("stdout", "stderr")


def escape_message(message: str) -> str:
    r"""The message as a line of the stream file carries it (after "<timestamp> "); see `unescape_message`.

    A message without "\r" is written in Lambda's convention, byte for byte as before: each "\n" as
    "\r", plus one extra "\r" when it ends with a line break (a line ending "\r\n" is read as a CRLF
    line end). A message with a "\r" of its own (or one starting with U+001E) cannot be told apart
    from that convention, so it is *escaped*: U+001E, then the message with "\r" as "\r\r" and "\n"
    as "\r " (CR SPACE). Every other character is kept as it is, so grep, the literal pre-filter and
    the index's tokens (CR, SPACE and U+001E all separate words) see the same text either way.
    """
    if "\r" in message or message.startswith(ESCAPED):
        return ESCAPED + message.replace("\r", "\r\r").replace("\n", "\r ")
    if "\n" in message:
        message = message.replace("\n", "\r")
        if message.endswith("\r"):
            message += "\r"
    return message


_UNESCAPE_RE = re.compile("\r[\r ]?")


def _unescape_pair(m: re.Match) -> str:
    return "\r" if m[0] == "\r\r" else "\n"


def unescape_message(body: str) -> str:
    r"""The message of an escaped line, given what follows its U+001E: "\r\r" is "\r", "\r " is "\n".

    A "\r" followed by anything else (a hand-edited file) is read as Lambda's line break.
    """
    return _UNESCAPE_RE.sub(_unescape_pair, body) if "\r" in body else body


def format_line(timestamp_ms: int, message: str, pipe: str | None = None) -> bytes:
    r"""The stream-file line for one event: b"<ISO-8601 UTC ms>Z <message>\n", always one line.

    The message is written by `escape_message`, so every message reads back exactly as it was given,
    including "\r", "\r\n" and a trailing line break. Lone surrogates (possible from JSON "\ud800"
    escapes) cannot be UTF-8 and are written as "?". `pipe="stderr"` marks the line with U+001F
    after the timestamp (see "Pipes" in the module docstring); None and "stdout" write no mark.

    :raises InvalidParameter: if the time is not an int within 1970..9999, or the pipe is unknown.
    """
    body = escape_message(message)
    if pipe is None or pipe == "stdout":
        sep = " "
    elif pipe == "stderr":
        sep = STDERR if body[:1] == ESCAPED else STDERR + " "
    else:
        raise InvalidParameter(
            f"pipe {pipe!r} is not one logsvc records",
            field="pipe",
            rule=f"None or one of {_PIPES}",
        )
    return f"{format_timestamp(timestamp_ms)}{sep}{body}\n".encode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# Splitting bytes into events

_TB_HEADER = b"Traceback (most recent call last):"
_CHAIN_HEADERS = (
    b"During handling of the above exception, another exception occurred:",
    b"The above exception was the direct cause of the following exception:",
)
_TB_HEADERS = (_TB_HEADER, *_CHAIN_HEADERS)
# The last line of a Python traceback: "ValueError: boom", "botocore.exceptions.ClientError: ...",
# or a bare "KeyboardInterrupt".
_CLOSE_RE = re.compile(rb"[A-Za-z_][A-Za-z0-9_.]*(?::|\r?$)")
_NBSP = b"\xc2\xa0"  # Lambda's Python runtime replaces a traceback's leading spaces with U+00A0
# First bytes that may start a continuation line; any other line starts a new event at once.
_MAYBE_CONTINUES = frozenset(b" \t\xc2TDC}]XR")
_LETTER_STARTS = (*_TB_HEADERS, b"Caused by: ", b"XRAY TraceId: ", b"Runtime.")
_BY_LETTER = frozenset(b"TDCXR")
_PLATFORM_PREFIXES = (
    "START RequestId: ",
    "END RequestId: ",
    "REPORT RequestId: ",
    "INIT_START ",
    "INIT_REPORT ",
)

# Where the open event stands in a Python traceback.
_NONE = 0  # not in a traceback
_HEADER = 1  # after "Traceback ..." or a chaining sentence: frames must follow
_FRAMES = 2  # after an indented frame line: more frames or the closing line must follow
_CLOSED = 3  # after "SomeError: msg": a blank line then a chaining sentence may still follow
_PENDING = 4  # closed, then only blank lines up to the end of the data: they may belong to a chain


def _is_blank(line: bytes) -> bool:
    return not line or line == b"\r"


def _is_platform_line(line: bytes) -> bool:
    """Is this a Lambda START/END/REPORT/INIT_* line (possibly after a format_line timestamp)?"""
    head = line[:96].decode("utf-8", "replace")
    if head[:1].isdigit():
        lead = _leading_timestamp(head)
        if lead is not None:
            head = head[lead[1] + (2 if head.startswith(STDERR, lead[1]) else 1) :]
    return head.startswith(_PLATFORM_PREFIXES)


def _is_json_line(line: bytes) -> bool:
    """Is this line one whole JSON object (possibly after a timestamp)? A structured logger wrote it
    complete, with any traceback inside it, so a traceback after it is a new event."""
    if not line.rstrip(b"\r").endswith(b"}"):
        return False
    if line[:1].isdigit():
        lead = _leading_timestamp(line[:40].decode("ascii", "replace"))
        if lead is None:
            return False
        line = line[lead[1] + (2 if line[lead[1] : lead[1] + 1] == b"\x1f" else 1) :]
    return line.startswith(b"{")


def _continues(
    lines: list[bytes], i: int, first: bytes | None, state: int, flush: bool
) -> tuple[bool, int]:
    """Does lines[i] join the open event (whose first line is `first`)? Returns (join, next state)."""
    line = lines[i]
    if first is None:  # nothing in `data` to join
        return False, (_HEADER if line.startswith(_TB_HEADERS) else _NONE)
    if _is_blank(line):
        # Python separates chained tracebacks by blank lines; keep them in the event.
        if state == _HEADER or state == _PENDING:
            return True, state
        if state == _CLOSED:
            j, n = i + 1, len(lines)
            while j < n and j <= i + 2 and _is_blank(lines[j]):
                j += 1
            if j == n:
                return (False, _NONE) if flush else (True, _PENDING)
            if lines[j].startswith(_CHAIN_HEADERS):
                return True, _CLOSED
        return False, _NONE
    b0 = line[0]
    if b0 == 32 or b0 == 9 or line.startswith(_NBSP):
        return True, (_FRAMES if state == _HEADER or state == _FRAMES else _NONE)
    if line.startswith(_TB_HEADERS):
        # logging.exception writes the header right after its message line; after a Lambda
        # platform line or a whole JSON object line it can only be a new, uncaught traceback.
        return (not _is_platform_line(first) and not _is_json_line(first)), _HEADER
    if (state == _HEADER or state == _FRAMES) and _CLOSE_RE.match(line):
        return True, _CLOSED
    if line.startswith(b"Caused by: "):
        return True, _NONE
    if b0 in b"}]":  # the closing bracket of pretty-printed JSON whose body was indented
        return (first[:1] in (b"{", b"[") and lines[i - 1][:1] in (b" ", b"\t")), _NONE
    if line.startswith(b"XRAY TraceId: "):  # tracing suffix of a REPORT event (reference §2.1)
        return first.startswith(b"REPORT RequestId: "), _NONE
    if (
        line.startswith(b"Runtime.") and b" " not in line
    ):  # "RequestId: <id> Error: ...\nRuntime.ExitError"
        return first.startswith(b"RequestId: "), _NONE
    return False, _NONE


def _tail_continues(tail: bytes) -> bool:
    """Will a partial last line (its start given) join the event before it once complete?"""
    if not tail:
        return False
    if tail[0] in (32, 9) or tail.startswith(_NBSP) or tail.startswith(b"Caused by: "):
        return True
    return any(tail.startswith(h) or h.startswith(tail) for h in _TB_HEADERS)


# An escaped line: format_timestamp's exact form (24 bytes), a space (stdout) or the stderr mark, U+001E
# (see escape_message); byte 25 is U+001E either way, so split_events' one check finds both.
_ESCAPED_LINE_RE = re.compile(
    rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z[ \x1f]\x1e"
)


def _text(raw: bytes) -> str:
    """An event's text from its bytes: an escaped first line is unescaped (its time and separator kept,
    so a stderr mark stays in the text), the rest read by `_decode`."""
    if raw[25:26] == b"\x1e" and _ESCAPED_LINE_RE.match(raw):
        first, nl, rest = raw.partition(b"\n")
        head = (
            raw[:25].decode() if raw[24] == 32 else raw[:24].decode() + STDERR + " "
        )  # the text's form of the mark
        text = head + unescape_message(first[26:].decode("utf-8", "replace"))
        return text + "\n" + _decode(rest) if nl else text
    return _decode(raw) if b"\r" in raw else raw.decode("utf-8", "replace")


def _decode(raw: bytes) -> str:
    if b"\r" in raw:
        # A CR before LF is a line end; any other CR is a line break inside the event.
        raw = raw.replace(b"\r\n", b"\n")
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        raw = raw.replace(b"\r", b"\n")
    return raw.decode("utf-8", "replace")


def split_events(
    data: bytes, *, flush: bool = False, need: tuple[bytes, ...] = ()
) -> tuple[list[RawEvent], int]:
    r"""Split complete lines into events; returns (events, bytes consumed).

    `data` starts at a line boundary. A partial last line is never consumed. Continuation lines
    (indented, Python traceback, Java `Caused by:`) join the previous event; a traceback header
    starts a new event when nothing precedes it in `data` or it follows a Lambda platform line or a
    line that is one whole JSON object.

    Unless `flush`, the last event is held back (not returned, not consumed) while it may still
    grow: it ends inside a traceback (after its header, a chaining sentence or an indented frame),
    or after a closed traceback followed only by blank lines (a chained traceback may follow), or
    the partial last line already shows it will continue (indented, or a traceback header).
    Callers pass `flush=True` once the writer has gone quiet. With `need`, only the events whose
    bytes hold every one of those byte strings are returned (a search's literals: the others are
    never decoded); boundaries and the bytes consumed are the same.
    """
    complete = data.rfind(b"\n") + 1
    if not complete:
        return [], 0
    lines = data[: complete - 1].split(b"\n")
    events: list[RawEvent] = []
    emit = events.append
    start = -1  # byte offset of the open event's first line; -1: none yet
    first = 0  # index in `lines` of the open event's first line
    state = _NONE
    pos = 0  # byte offset of lines[i]
    maybe_continues, by_letter, letter_starts = _MAYBE_CONTINUES, _BY_LETTER, _LETTER_STARTS
    for i, line in enumerate(lines):
        if (
            state
            or not line
            or (
                line[0] in maybe_continues
                and (line[0] not in by_letter or line.startswith(letter_starts))
            )
        ):
            join, state = _continues(lines, i, lines[first] if start >= 0 else None, state, flush)
        else:
            join = False
        if not join:
            if start >= 0:
                raw = data[start : pos - 1]
                if not need or all(n in raw for n in need):
                    # the hot path: a plain line without CR is decoded here
                    emit(
                        _raw_event(
                            start,
                            pos,
                            _text(raw)
                            if raw[25:26] == b"\x1e" or b"\r" in raw
                            else raw.decode("utf-8", "replace"),
                        )
                    )
            start = pos
            first = i
        pos += len(line) + 1
    if not flush and (
        state == _HEADER
        or state == _FRAMES
        or state == _PENDING
        or _tail_continues(data[complete : complete + 80])
    ):
        return events, start
    raw = data[start : complete - 1]
    if not need or all(n in raw for n in need):
        emit(_raw_event(start, complete, _text(raw)))
    return events, complete


def split_taken(data: bytes, *, need: tuple[bytes, ...] = ()) -> list[RawEvent]:
    """The events of bytes already taken, all of them: `split_events(data, flush=True)`, except
    that a last line without its newline (taken as it was after the writer went quiet, follow.py)
    is an event too, and that event ends where the bytes end. Not one past: the byte after it may
    arrive later and belongs to the next event, so an end past it would take that byte into this
    event (its text and its id) for every reader that looks after it arrived."""
    if not data or data.endswith(b"\n"):
        return split_events(data, flush=True, need=need)[0]
    events = split_events(data + b"\n", flush=True, need=need)[0]
    if events and events[-1].end > len(data):
        last = events[-1]
        events[-1] = _raw_event(last.start, len(data), last.text)
    return events


def lines_holding(data: bytes, need: tuple[bytes, ...]) -> list[RawEvent]:
    """`split_events(data, flush=True, need=need)[0]` for `data` whose every line is one event (the
    caller knows: a chunk with as many events as lines), found from the hits of the first needed
    string instead of a walk over every line: a mid-frequency word's chunk is split at C speed."""
    first, rest = need[0], need[1:]
    out: list[RawEvent] = []
    pos = data.find(first)
    while pos >= 0:
        start = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos)
        if end < 0:
            break
        raw = data[start:end]
        if not rest or all(n in raw for n in rest):
            out.append(_raw_event(start, end + 1, _text(raw)))
        pos = data.find(first, end + 1)
    return out


# --------------------------------------------------------------------------------------------
# Formats: recognising a line shape and pulling out its fields

Match = tuple[int | None, dict[str, object]]  # (timestamp or None, fields)


@dataclass(frozen=True, slots=True)
class LineFormat:
    """One line shape: its name, who writes it, how to recognise it, and real sample lines.

    `first_chars` are the characters a matching message can start with: `parse_event` only tries
    the formats registered for the message's first character. `match(text)` returns
    (timestamp or None, fields) or None when the text is not of this shape.
    """

    name: str
    description: str
    first_chars: str
    match: Callable[[str], Match | None]
    samples: tuple[str, ...]


_LEVELS = "INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL|TRACE|FATAL"
_LEVEL_PREFIX_RE = re.compile(rf"\[({_LEVELS})\]|({_LEVELS})(?!\w)")
_NODE_LEVELS = frozenset(("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"))
_END_RE = re.compile(r"END RequestId: (\S+)")
_INIT_START_RE = re.compile(r"INIT_START Runtime Version: (\S+)")
_CRASH_RE = re.compile(r"RequestId: (\S+) (?:Error: |Process exited)")
# "Key Words: value" pairs of REPORT / INIT_REPORT. Key words need a lower-case letter so the unit
# "MB" of a space-separated (doc-rendered) line is not read as part of the next key.
_KV_RE = re.compile(r"([A-Z][a-z][A-Za-z]*(?: [A-Z][a-z][A-Za-z]*)*): (\S+)")
_REPORT_KEYS: dict[str, tuple[str, Callable[[str], object]]] = {
    "RequestId": ("requestId", str),
    "Duration": ("duration", float),
    "Billed Duration": ("billedDuration", int),
    "Memory Size": ("memorySize", int),
    "Max Memory Used": ("maxMemoryUsed", int),
    "Init Duration": ("initDuration", float),
    "Status": ("status", str),
    "Error Type": ("errorType", str),
}


# The same pairs as Lambda writes them: one per TAB-separated field.
_TAB_KV_RE = re.compile(r"(?:^|\t)(?:REPORT |INIT_REPORT )?([^\t:]+): (\S+)")


def _key_values(text: str, fields: dict[str, object]) -> dict[str, object]:
    """Fields of REPORT / INIT_REPORT "Key: value unit" pairs, TAB-separated (or spaces, as docs render them)."""
    get = _REPORT_KEYS.get
    for key, value in (_TAB_KV_RE if "\t" in text else _KV_RE).findall(text):
        spec = get(key)
        if spec is not None:
            try:
                fields[spec[0]] = spec[1](value)
            except ValueError:
                pass
    return fields


def _match_start(text: str) -> Match | None:
    if not text.startswith("START RequestId: "):
        return None
    words = text.split(None, 5)  # START RequestId: <id> Version: <v>; RIE may use a TAB
    if len(words) < 3:
        return None
    fields: dict[str, object] = {"type": "START", "requestId": words[2]}
    if len(words) >= 5 and words[3] == "Version:":
        fields["version"] = words[4]
    return None, fields


def _match_end(text: str) -> Match | None:
    m = _END_RE.match(text)
    return None if m is None else (None, {"type": "END", "requestId": m[1]})


def _match_report(text: str) -> Match | None:
    if not text.startswith("REPORT RequestId: "):
        return None
    return None, _key_values(text, {"type": "REPORT"})


def _match_init_start(text: str) -> Match | None:
    m = _INIT_START_RE.match(text)
    return None if m is None else (None, {"type": "INIT_START", "runtimeVersion": m[1]})


def _match_init_report(text: str) -> Match | None:
    if not text.startswith("INIT_REPORT "):
        return None
    return None, _key_values(text, {"type": "INIT_REPORT"})


def _match_crash(text: str) -> Match | None:
    m = _CRASH_RE.match(text)
    return None if m is None else (None, {"requestId": m[1]})


def _match_timeout(text: str) -> Match | None:
    if not text.startswith(" Task timed out after ", 36):
        return None
    return None, {"requestId": text[:36]}


def _match_python_runtime(text: str) -> Match | None:
    # [LEVEL]\t<ts>\t<requestId>\t<message>; tabs found by index so the message is never copied
    t1 = text.find("]\t", 2, 12)
    if t1 < 0:
        return None
    level = text[1:t1]
    t2 = text.find("\t", t1 + 2)
    if t2 < 0 or not level.isalpha() or not level.isupper():
        return None
    ts = parse_timestamp(text[t1 + 2 : t2])
    if ts is None:
        return None
    t3 = text.find("\t", t2 + 1)
    request_id = text[t2 + 1 : t3] if t3 >= 0 else text[t2 + 1 :]
    return ts, ({"level": level, "requestId": request_id} if request_id else {"level": level})


def _node_fields(text: str, t1: int) -> dict[str, object] | None:
    """Fields of "<ts>\t<requestId>\t<LEVEL>\t<message>" whose timestamp ends at the TAB at `t1`.

    Tabs are found by index so the message is never copied.
    """
    t2 = text.find("\t", t1 + 1)
    if t2 < 0:
        return None
    t3 = text.find("\t", t2 + 1, t2 + 8)
    level = text[t2 + 1 : t3] if t3 >= 0 else text[t2 + 1 :]
    if level not in _NODE_LEVELS:
        return None
    request_id = text[t1 + 1 : t2]
    if request_id and request_id != "undefined":  # init-phase lines carry "undefined"
        return {"level": level, "requestId": request_id}
    return {"level": level}


def _match_node_runtime(text: str) -> Match | None:
    lead = _leading_timestamp(text)
    if lead is None or not text.startswith("\t", lead[1]):
        return None
    fields = _node_fields(text, lead[1])
    return None if fields is None else (lead[0], fields)


def _json_timestamp(value: object) -> int | None:
    if isinstance(value, str):
        return parse_timestamp(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        ms = int(value)
        if MIN_TIMESTAMP_MS <= ms <= MAX_TIMESTAMP_MS:
            return ms
    return None


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_JSON_PLATFORM_TYPES = {
    "platform.initStart": "INIT_START",
    "platform.start": "START",
    "platform.report": "REPORT",
    "platform.initReport": "INIT_REPORT",
}
_JSON_METRICS = (
    ("durationMs", "duration", float),
    ("billedDurationMs", "billedDuration", int),
    ("memorySizeMB", "memorySize", int),
    ("maxMemoryUsedMB", "maxMemoryUsed", int),
    ("initDurationMs", "initDuration", float),
)


def _json_platform_fields(kind: str, record: object, fields: dict[str, object]) -> None:
    """Telemetry-API records (reference §2.4, §7) mapped to the fields of their text twins."""
    if kind in _JSON_PLATFORM_TYPES:
        fields["type"] = _JSON_PLATFORM_TYPES[kind]
    if not isinstance(record, dict):
        return
    for key, name in (
        ("requestId", "requestId"),
        ("version", "version"),
        ("runtimeVersion", "runtimeVersion"),
        ("errorType", "errorType"),
    ):
        value = record.get(key)
        if isinstance(value, str) and value:
            fields[name] = value
    status = record.get("status")
    if (
        isinstance(status, str) and status != "success"
    ):  # text REPORT lines carry Status only on failure
        fields["status"] = status
    metrics = record.get("metrics")
    if isinstance(metrics, dict):
        for key, name, conv in _JSON_METRICS:
            value = metrics.get(key)
            if _number(value):
                if kind == "platform.initReport" and key == "durationMs":
                    name, conv = "initDuration", float
                fields[name] = conv(value)


# Keys of a JSON line that name its level, first found wins: common loggers', then OpenTelemetry's
# `severityText` (the lines `POST /v1/logs` writes, cloudwatch/otlp.py). facets.py uses the same.
JSON_LEVEL_KEYS = ("level", "log_level", "severity", "levelname", "severityText")


def _match_json(text: str) -> Match | None:
    if not text.rstrip().endswith("}"):
        return None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    fields: dict[str, object] = {"json": True}
    ts = None
    for key in ("timestamp", "time", "@timestamp"):
        if key in obj:
            ts = _json_timestamp(obj[key])
            if ts is not None:
                break
    for key in JSON_LEVEL_KEYS:
        value = obj.get(key)
        if isinstance(value, str) and value.isalpha():
            fields["level"] = value.upper()
            break
    for key in ("requestId", "request_id", "awsRequestId"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            fields["requestId"] = value
            break
    value = obj.get("errorType")
    if isinstance(value, str) and value:
        fields["errorType"] = value
    kind = obj.get("type")
    if isinstance(kind, str) and kind.startswith("platform."):
        _json_platform_fields(kind, obj.get("record"), fields)
    return ts, fields


# --------------------------------------------------------------------------------------------
# JSON objects in messages: one reader for filter patterns' `{ $.x = ... }` and Insights' fields


class JsonFloat(float):
    """A JSON number with a fraction or exponent that remembers how it was written (`1.50`, `1e3`),
    so filter patterns' `= 1.50*`, highlighting and Insights' result cells see the text as written."""

    __slots__ = ("text",)

    def __new__(cls, text: str) -> JsonFloat:
        self = super().__new__(cls, text)
        self.text = text
        return self


# One decoder for all calls: `json.loads(parse_float=...)` would build a new decoder every time.
_JSON_DECODER = json.JSONDecoder(parse_float=JsonFloat)
_JSON_OBJECT_START = re.compile(r"[ \t\r\n]*\{").match


def load_json_object(text: str) -> dict | None:
    """The text as one JSON object, or None: only text that starts with `{` (after JSON's blanks)
    is parsed. Integers are ints, other numbers `JsonFloat`s; a duplicate key keeps its last value."""
    if not _JSON_OBJECT_START(text):
        return None
    try:
        doc = _JSON_DECODER.decode(text)
    except (ValueError, RecursionError):  # also covers ints past Python's 4300-digit limit
        return None
    return doc if type(doc) is dict else None


def find_json_object(text: str, *, tries: int = 4) -> dict | None:
    """The first JSON object embedded in the text (`<prefix> {"a": 1} <suffix>`), or None.

    Tries the first `tries` `{` positions (each a bounded attempt), so a line full of braces that
    are not JSON costs little."""
    at = text.find("{")
    while at >= 0 and tries > 0:
        try:
            doc, _end = _JSON_DECODER.raw_decode(text, at)
        except (ValueError, RecursionError):
            doc = None
        if type(doc) is dict:
            return doc
        tries -= 1
        at = text.find("{", at + 1)
    return None


def _match_level_prefix(text: str) -> Match | None:
    m = _LEVEL_PREFIX_RE.match(text)
    return None if m is None else (None, {"level": m[1] or m[2]})


def _match_timestamped(text: str) -> Match | None:
    lead = _leading_timestamp(text)
    return None if lead is None else (lead[0], {})


_ID = "1e5c8abd-3d36-461b-8c0f-a56b952715b3"  # the request id of the reference's START sample

LAMBDA_INIT_START = LineFormat(
    "lambda-init-start",
    "Lambda platform: a new execution environment's init phase began (reference §2.1).",
    "I",
    _match_init_start,
    (
        "INIT_START Runtime Version: python:3.13.v60\tRuntime Version ARN: arn:aws:lambda:ap-east-2::runtime:6b9e…99ca",
    ),
)
LAMBDA_START = LineFormat(
    "lambda-start",
    "Lambda platform: an invocation began (§2.1); RIE's concurrent mode separates with a TAB (§6).",
    "S",
    _match_start,
    (
        f"START RequestId: {_ID} Version: $LATEST",
        "START RequestId: 4725a167-21a7-5731-8d4e-0a1b2c3d4e5f Version: 5",
        f"START RequestId: {_ID}\tVersion: $LATEST",
    ),
)
LAMBDA_END = LineFormat(
    "lambda-end",
    "Lambda platform: an invocation ended (§2.1).",
    "E",
    _match_end,
    (f"END RequestId: {_ID}",),
)
LAMBDA_REPORT = LineFormat(
    "lambda-report",
    "Lambda platform: an invocation's duration, billing and memory, TAB-separated (§2.1).",
    "R",
    _match_report,
    (
        f"REPORT RequestId: {_ID}\tDuration: 3000.00 ms\tBilled Duration: 3068 ms\tMemory Size: 128 MB\tMax Memory Used: 35 MB\tInit Duration: 67.49 ms\tStatus: timeout",
        f"REPORT RequestId: {_ID}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 35 MB\tStatus: timeout",
        f"REPORT RequestId: {_ID}\tDuration: 2.31 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 109 MB\t",
        f"REPORT RequestId: {_ID}\tDuration: 812.43 ms\tBilled Duration: 813 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory",
        f"REPORT RequestId: {_ID}\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\tRestore Duration: 474.16 ms\tBilled Restore Duration: 75 ms",
        f"REPORT RequestId: {_ID}\tDuration: 2.31 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 109 MB\t\nXRAY TraceId: 1-5e34a614-10bdxmplf1fb44f07bc535a1\tSegmentId: 07f5xmpl2d1f6f85\tSampled: false\t",
        f"REPORT RequestId: {_ID}\tInit Duration: 0.32 ms\tDuration: 1.74 ms\tBilled Duration: 2 ms\tMemory Size: 3008 MB\tMax Memory Used: 3008 MB\t",
    ),
)
LAMBDA_INIT_REPORT = LineFormat(
    "lambda-init-report",
    "Lambda platform: an init phase that failed or timed out (§2.1).",
    "I",
    _match_init_report,
    (
        "INIT_REPORT Init Duration: 1236.04 ms\tPhase: init\tStatus: timeout",
        "INIT_REPORT Init Duration: 8.12 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.Unknown",
    ),
)
LAMBDA_CRASH = LineFormat(
    "lambda-runtime-crash",
    "Lambda platform: the runtime process died during an invocation (§2.1).",
    "R",
    _match_crash,
    (
        f"RequestId: {_ID} Error: Runtime exited with error: signal: killed\nRuntime.ExitError",
        f"RequestId: {_ID} Error: Runtime exited with error: exit status 1\nRuntime.ExitError",
        "RequestId: d783e9a0-6c5b-4f3e-9b2a-1c0d8e7f6a5b Process exited before completing request",
    ),
)
LAMBDA_TIMEOUT = LineFormat(
    "lambda-timeout",
    "Lambda platform, 2016-2023 and LocalStack: '<ts> <requestId> Task timed out after N seconds' (§2.1, §6).",
    "0123456789abcdef",
    _match_timeout,
    (
        "2023-10-20T16:28:17.840Z 4299ee26-0c9b-4f8e-a7d2-6b1e3f5a9c10 Task timed out after 31.01 seconds",
    ),
)
PYTHON_RUNTIME = LineFormat(
    "python-runtime",
    "Lambda Python runtime logging: '[LEVEL]\\t<ts>\\t<requestId>\\t<message>' (§2.2).",
    "[",
    _match_python_runtime,
    (
        "[INFO]\t2020-01-31T22:12:58.534Z\t1c8df7d3-xmpl-46da-9778-518e6eca8125\t## EVENT",
        "[WARNING]\t2020-01-31T22:12:58.534Z\t\tLAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code.",
        f"[ERROR]\t2026-11-27T21:46:35.123Z\t{_ID}\tpayment failed\nTraceback (most recent call last):\n  File \"/var/task/lambda_function.py\", line 36, in lambda_handler\n    result = charge(event)\nKeyError: 'amount'",
    ),
)
NODE_RUNTIME = LineFormat(
    "node-runtime",
    "Lambda Node.js runtime console: '<ts>\\t<requestId>\\t<LEVEL>\\t<message>' (§2.3).",
    "0123456789",
    _match_node_runtime,
    (
        '2019-06-05T19:30:03.173Z\t4ce9340a-b765-490f-ad8a-02ab3415e2bf\tINFO\tEVENT\n{\n  "key": "value"\n}',
        '2024-05-20T16:29:45.009Z\t4ce9340a-b765-490f-ad8a-02ab3415e2bf\tERROR\tInvoke Error \t{"errorType":"Error","errorMessage":"boom","stack":["Error: boom","    at Runtime.handler (file:///var/task/index.mjs:3:9)"]}',
        "2024-05-20T16:29:44.801Z\tundefined\tWARN\tinit: cache disabled",
    ),
)
JSON_LINE = LineFormat(
    "json",
    "A JSON object per line: Lambda's JSON log format, platform records and structured app logs (§2.4).",
    "{",
    _match_json,
    (
        f'{{"timestamp": "2024-01-01T12:00:00Z", "level": "INFO", "message": "order placed", "logger": "root", "requestId": "{_ID}"}}',
        f'{{"timestamp": "2024-01-01T12:00:01Z", "log_level": "ERROR", "errorMessage": "\'amount\'", "errorType": "KeyError", "requestId": "{_ID}", "stackTrace": ["  File \\"/var/task/lambda_function.py\\", line 36, in lambda_handler\\n    result = charge(event)\\n"]}}',
        '{"timestamp":"2024-05-20T16:29:45.009Z","level":"INFO","requestId":"4ce9340a-b765-490f-ad8a-02ab3415e2bf","message":"ENV {\\"a\\": 1}"}',
        '{"time":"2024-05-20T16:29:44.601Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","runtimeVersion":"nodejs:18.v28","runtimeVersionArn":"arn:aws:lambda:us-east-1::runtime:0cdcfbdefbc5e7d3343f73c2e2dd80b5d5a4e2a3a3f3b1c8b0e8d8c0f1e1a7b3","functionName":"orders","functionVersion":"$LATEST"}}',
        '{"time":"2024-05-20T16:29:44.775Z","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","status":"success","metrics":{"durationMs":173.778}}}',
        '{"time":"2024-05-20T16:29:44.999Z","type":"platform.start","record":{"requestId":"4ce9340a-b765-490f-ad8a-02ab3415e2bf","version":"$LATEST"}}',
        '{"time":"2024-05-20T16:29:45.012Z","type":"platform.report","record":{"requestId":"4ce9340a-b765-490f-ad8a-02ab3415e2bf","status":"success","metrics":{"durationMs":11.642,"billedDurationMs":12,"memorySizeMB":128,"maxMemoryUsedMB":67,"initDurationMs":174.055}}}',
    ),
)
LEVEL_PREFIX = LineFormat(
    "level-prefix",
    "A message opening with a level word or '[LEVEL]': Python's uncaught '[ERROR] Type: msg' (§2.2), basicConfig 'WARNING:root:msg'.",
    "[EWIDCTF",
    _match_level_prefix,
    (
        "[ERROR] ErrorType: Error message\nTraceback (most recent call last):\nline1\n\nline2",
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'lambda_function': No module named 'requests'",
        "[ERROR]",
        "WARNING:root:disk almost full",
        "ERROR something broke",
        "2026-11-27 21:46:35,123 INFO worker started",
    ),
)
TIMESTAMPED = LineFormat(
    "timestamped",
    "Any message after a leading timestamp: format_line's own output, or a timestamp then TAB.",
    "0123456789",
    _match_timestamped,
    (
        "2026-11-27T21:46:35.123Z order 42 shipped",
        "1764279995123 order 42 shipped",
        "2026-11-27T22:46:35+01:00\torder 42 shipped",
    ),
)

FORMATS: tuple[LineFormat, ...] = (
    LAMBDA_INIT_START,
    LAMBDA_START,
    LAMBDA_END,
    LAMBDA_REPORT,
    LAMBDA_INIT_REPORT,
    LAMBDA_CRASH,
    LAMBDA_TIMEOUT,
    PYTHON_RUNTIME,
    NODE_RUNTIME,
    JSON_LINE,
    LEVEL_PREFIX,
    TIMESTAMPED,
)

_BY_FIRST_CHAR: dict[str, tuple[LineFormat, ...]] = {}
for _fmt in FORMATS:
    for _ch in _fmt.first_chars:
        _BY_FIRST_CHAR[_ch] = (*_BY_FIRST_CHAR.get(_ch, ()), _fmt)
del _fmt, _ch


def _dispatch(text: str) -> tuple[LineFormat | None, int | None, dict[str, object]]:
    for fmt in _BY_FIRST_CHAR.get(text[:1], ()):
        m = fmt.match(text)
        if m is not None:
            return fmt, m[0], m[1]
    return None, None, {}


_STDERR_TEXT = "Z" + STDERR + " "


def _is_stderr(text: str, end: int) -> bool:
    """Does format_timestamp's exact form (ending at `end`) open `text`, then the stderr mark and a
    space (an event's text always has the space)? Asked only when no space follows the time, so
    ordinary lines never pay for it."""
    return end == 24 and text[23:26] == _STDERR_TEXT and text[19] == "." and text[10] == "T"


def _analyse(text: str) -> tuple[LineFormat | None, int | None, str, dict[str, object]]:
    """(format, timestamp, message, fields) of an event's text."""
    if "0" <= text[:1] <= "9":
        lead = _leading_timestamp(text)
        if lead is not None:
            ms, end = lead
            if text.startswith(" ", end):
                # The timestamp is the event time; the rest is the message, in any format.
                message = text[end + 1 :]
                fmt, _ts, fields = _dispatch(message)
                return fmt or TIMESTAMPED, ms, message, fields
            if _is_stderr(text, end):  # the same, written to stderr
                message = text[26:]
                fmt, _ts, fields = _dispatch(message)
                return fmt or TIMESTAMPED, ms, message, {**fields, "pipe": "stderr"}
            fields = _node_fields(text, end) if text.startswith("\t", end) else None
            return (
                (NODE_RUNTIME, ms, text, fields)
                if fields is not None
                else (TIMESTAMPED, ms, text, {})
            )
        # No timestamp, so of the formats for digits only a bare request id can still match.
        m = _match_timeout(text)
        return (LAMBDA_TIMEOUT, None, text, m[1]) if m is not None else (None, None, text, {})
    fmt, ts, fields = _dispatch(text)
    return fmt, ts, text, fields


# The classes a level falls in, for a volume chart stacked by level (the console's histogram) and its
# facets; the same grouping the console's event list colours rows by. Lambda's own lines (START,
# END, REPORT) and lines with no level are "other".
LEVEL_CLASSES = ("error", "warn", "info", "debug", "other")
_LEVEL_CLASS = {
    **dict.fromkeys(
        ("ERROR", "FATAL", "CRITICAL", "CRIT", "ALERT", "EMERG", "EMERGENCY", "PANIC", "SEVERE"),
        "error",
    ),
    **dict.fromkeys(("WARN", "WARNING"), "warn"),
    **dict.fromkeys(("INFO", "NOTICE"), "info"),
    **dict.fromkeys(("DEBUG", "TRACE", "FINE", "FINER", "FINEST"), "debug"),
}


def level_class(fields: dict[str, object]) -> str:
    """The LEVEL_CLASSES entry of an event's parsed fields."""
    level = fields.get("level")
    return _LEVEL_CLASS.get(level.upper(), "other") if isinstance(level, str) else "other"


def parse_event(text: str) -> ParsedEvent:
    """Timestamp, message and fields of one event's text (see the module docstring for the rules)."""
    _fmt, ts, message, fields = _analyse(text)
    return _parsed_event(ts, message, fields)


def time_and_message(text: str) -> tuple[int | None, str]:
    """(`parse_event(text).timestamp`, `.message`) without extracting fields: the read path's
    cheap first look, so only events that are actually returned pay for a full parse."""
    if "0" <= text[:1] <= "9":
        lead = _leading_timestamp(text)
        if lead is None:
            return None, text
        ms, end = lead
        if text.startswith(" ", end):
            return ms, text[end + 1 :]
        return ms, text[26:] if _is_stderr(text, end) else text
    return _dispatch(text)[1], text


def complete(text: str, ts: int | None, message: str) -> ParsedEvent:
    """`parse_event(text)`, given `time_and_message(text) == (ts, message)`: a leading timestamp the
    first look already cut off is not parsed again (every event a read returns took that look)."""
    cut = len(text) - len(message)
    if cut and ts is not None:  # "<timestamp> " or its stderr form opened the text
        fields = _dispatch(message)[2]
        if cut == 26 and _is_stderr(text, 24):
            fields = {**fields, "pipe": "stderr"}
        return _parsed_event(ts, message, fields)
    return parse_event(text)


def event_time(text: str) -> int | None:
    """`parse_event(text).timestamp`, computed only as far as needed: the ingester's hot path."""
    if "0" <= text[:1] <= "9":
        lead = _leading_timestamp(text)
        return lead[0] if lead is not None else None
    return _dispatch(text)[1]


def detect_format(text: str) -> LineFormat | None:
    """The format `parse_event` reads `text` with (the inner one after a leading timestamp), or None."""
    return _analyse(text)[0]
