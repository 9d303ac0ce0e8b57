"""The JSON REST API under /api/v1, its SSE tail and /healthz.

Translates query strings into calls on the service's reader, tailer and store, and results into
JSON. Holds no logic of its own beyond parameter rules; never opens files or imports whoosh.

`/api/v1/groups` and `/api/v1/streams` answer `"skipped": N`: how many entries of the data
directory the listing left out because they could not be read (the server log names each once).
A group deleted while it is being listed is simply left out.
"""

from __future__ import annotations

import csv
import io
import json
import os
import select
import socket
import time
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from logsvc import facets, listing, names, paging, visibility
from logsvc.api.openapi import openapi_document
from logsvc.errors import InvalidParameter, LogsvcError, NotFound
from logsvc.filterpattern import compile_pattern
from logsvc.model import stream_key
from logsvc.query import LEVEL_SAMPLE, MAX_LIMIT, MAX_PAGE_BYTES, Reader, Source, iter_all
from logsvc.tail import decode_cursor, encode_cursor
from logsvc.timeargs import parse_bool, parse_time

bp = Blueprint("rest", __name__)
# Time a search or histogram may spend reading and matching before it answers: search with the
# events found so far and a nextToken, histogram with a 503 naming the limit.
SEARCH_BUDGET_S = 10.0
# Time the histogram's per-level counts may take (they read events; the totals use chunk counts).
LEVELS_BUDGET_S = 1.5


def service():
    return current_app.extensions["logsvc"]


# ---- parameters ----------------------------------------------------------------------------------


def int_arg(name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(
            f"{name} must be an integer between {lo} and {hi}", field=name, rule=f"{lo}..{hi}"
        ) from None
    if not lo <= value <= hi:
        raise InvalidParameter(
            f"{name} must be between {lo} and {hi}", field=name, rule=f"{lo}..{hi}"
        )
    return value


def time_arg(name: str) -> int | None:
    """The query argument `name` as epoch ms (see `timeargs`), or None when absent or empty."""
    raw = request.args.get(name)
    return None if raw is None or raw == "" else parse_time(raw, name)


def bool_arg(name: str, default: bool, empty_ok: bool = True) -> bool:
    return parse_bool(request.args.get(name), name, default, empty_ok=empty_ok)


def pattern_arg(name: str = "q"):
    text = request.args.get(name, "")
    try:
        return compile_pattern(text)
    except InvalidParameter as e:
        e.field = name
        raise


def groups_arg(required: bool = True) -> list[str]:
    groups = request.args.getlist("group")
    if not groups and required:
        raise InvalidParameter("group is required", field="group", rule="1 or more log group names")
    for g in groups:
        names.validate_group(g, "group")
    return groups


def streams_arg() -> list[str]:
    streams = request.args.getlist("stream")
    for s in streams:
        names.validate_stream(s, "stream")
    return streams


def sources_arg(required: bool = True) -> list[Source]:
    reader: Reader = service().reader
    groups = groups_arg(required)
    if not groups:
        if "stream" in request.args:
            raise InvalidParameter(
                "stream needs a group: give group= too",
                field="stream",
                rule="stream requires group",
            )
        return reader.all_sources()
    return reader.sources(groups, streams_arg(), request.args.get("streamPrefix") or None)


def _codec():
    return paging.codec(service().store.root)


def _token_arg(kind: str, check) -> object:
    """The position in `nextToken` (None without one), if it is a `kind` token this server issued
    whose value passes `check`. :raises InvalidParameter: otherwise (400, field nextToken)."""
    raw = request.args.get("nextToken")
    if raw is None or raw == "":
        return None
    value = _codec().decode(kind, raw)
    if not check(value):
        raise InvalidParameter(paging.BAD_TOKEN, field="nextToken", rule=paging.RULE)
    return value


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok", **service().status()})


@bp.get("/api/v1/openapi.json")
def openapi():
    return jsonify(openapi_document())


GROUPS_STREAM_BUDGET = (
    1000  # streams per group listing whose files may be looked at for lastEventTime
)


@bp.get("/api/v1/groups")
def groups():
    """A page of groups. lastEventTime looks at the files of at most GROUPS_STREAM_BUDGET streams per
    request (a console refresh must not cost file reads for every stream of every group); beyond
    that it comes from the index alone and the group says lastEventTimeExact: false.
    Internal groups (`/logsvc/invocations`) are listed only with internal=true or a prefix that is
    their whole name."""
    svc = service()
    prefix = request.args.get("prefix", "")
    limit = int_arg("limit", 50, 1, 1000)
    asked = names.HIDDEN_GROUPS if bool_arg("internal", False, empty_ok=False) else (prefix,)
    after = _token_arg("rest-groups", lambda v: isinstance(v, str)) or ""
    skipped: list[str] = []
    page, more = listing.group_page(
        svc.store,
        after,
        limit,
        lambda n: n.startswith(prefix) and not names.hidden(n, asked),
        skipped,
    )
    out = []
    budget = GROUPS_STREAM_BUDGET
    partial = False
    for g in page:
        try:
            streams = svc.store.list_streams(g.name, skipped)
        except NotFound:
            continue  # deleted while we listed
        last = None
        exact = True
        for src in visibility.listed_sources(svc.store, g.name, streams):
            if budget > 0:
                _, lt, _, ok = svc.reader.stream_summary(src)
                budget -= 1
            else:  # over the budget: the index alone, no file operation
                lt, ok = svc.reader.indexed_last_time(src), False
            exact &= ok
            if lt is not None and (last is None or lt > last):
                last = lt
        partial |= not exact
        out.append(
            {
                "name": g.name,
                "creationTime": g.creation_time,
                "streamCount": len(streams),
                "storedBytes": sum(s.size for s in streams),
                "retentionInDays": g.retention_days,
                "lastEventTime": last,
                "lastEventTimeExact": exact,
                "tags": g.tags,
            }
        )
    token = _codec().encode("rest-groups", page[-1].name) if more else None
    body = {"groups": out, "nextToken": token, "skipped": len(skipped), "partial": partial}
    if partial:
        body["partialReason"] = (
            f"lastEventTime looked at the files of only {GROUPS_STREAM_BUDGET} streams; groups with"
            " lastEventTimeExact false show the newest event the index holds"
        )
    return jsonify(body)


@bp.get("/api/v1/streams")
def streams():
    svc = service()
    group = groups_arg()[0]
    order = request.args.get("orderBy", "lastEventTime")
    if order not in ("lastEventTime", "name"):
        raise InvalidParameter(
            "orderBy must be lastEventTime or name", field="orderBy", rule="lastEventTime|name"
        )
    limit = int_arg("limit", 100, 1, 1000)
    prefix = request.args.get("prefix", "")
    rows = []
    skipped: list[str] = []
    listed = [s for s in svc.store.list_streams(group, skipped) if s.name.startswith(prefix)]
    for s, src in zip(listed, visibility.listed_sources(svc.store, group, listed), strict=True):
        first, last, _, _ = svc.reader.stream_summary(src)
        rows.append(
            {
                "group": group,
                "name": s.name,
                "creationTime": s.creation_time,
                "storedBytes": s.size,
                "firstEventTime": first,
                "lastEventTime": last,
            }
        )
    if order == "lastEventTime":
        rows.sort(key=lambda r: (-(r["lastEventTime"] or 0), r["name"]))
    # an offset means something only in the listing it came from: the token carries that listing's terms
    terms = [group, order, prefix]
    after = _token_arg(
        "rest-streams",
        lambda v: (
            isinstance(v, list)
            and len(v) == 4
            and v[:3] == terms
            and isinstance(v[3], int)
            and not isinstance(v[3], bool)
            and v[3] > 0
        ),
    )
    offset = after[3] if after else 0
    page = rows[offset : offset + limit]
    token = (
        _codec().encode("rest-streams", [*terms, offset + limit])
        if offset + limit < len(rows)
        else None
    )
    return jsonify({"streams": page, "nextToken": token, "skipped": len(skipped)})


def _read_args() -> dict:
    start = time_arg("start")
    end = time_arg("end")
    if start is not None and end is not None and start > end:
        raise InvalidParameter("start must not be after end", field="start", rule="start <= end")
    return {
        "start": start,
        "end": end,
        "limit": int_arg("limit", 100, 1, MAX_LIMIT),
        "pattern": pattern_arg(),
        "token": request.args.get("nextToken") or None,
    }


@bp.get("/api/v1/events")
def events():
    svc = service()
    args = _read_args()
    forward = bool_arg("startFromHead", False)
    page = svc.reader.read(sources_arg(), forward=forward, **args)
    return jsonify(
        {"events": _with_highlights(page.events, args["pattern"]), "nextToken": page.next_token}
    )


def _with_highlights(events_: list, pattern) -> list[dict]:
    out = []
    for e in events_:
        d = e.to_json()
        if not pattern.match_all:
            d["highlights"] = pattern.highlights(e.message, matched=True)  # tuples: JSON arrays
        out.append(d)
    return out


@bp.get("/api/v1/search")
def search():
    svc = service()
    args = _read_args()
    pattern = args["pattern"]
    sources = sources_arg(required=False)
    page = svc.reader.newest_first(sources, deadline=time.monotonic() + SEARCH_BUDGET_S, **args)
    return jsonify({"events": _with_highlights(page.events, pattern), "nextToken": page.next_token})


@bp.get("/api/v1/events/context")
def context():
    svc = service()
    group = groups_arg()[0]
    stream = request.args.get("stream")
    names.validate_stream(stream, "stream")
    event_id = request.args.get("eventId", "")
    if not event_id:
        raise InvalidParameter("eventId is required", field="eventId")
    evs = svc.reader.context(
        group, stream, event_id, int_arg("before", 20, 0, 1000), int_arg("after", 20, 0, 1000)
    )
    return jsonify({"events": [e.to_json() for e in evs]})


@bp.get("/api/v1/histogram")
def histogram():
    svc = service()
    now = int(time.time() * 1000)
    end = time_arg("end") or now
    start = time_arg("start")
    if start is None:
        start = end - 3_600_000
    if start >= end:
        raise InvalidParameter("start must be before end", field="start", rule="start < end")
    buckets = int_arg("buckets", 60, 1, 1000)
    pattern = pattern_arg()
    levels = bool_arg("levels", False, empty_ok=False)  # checked before any work
    sources = sources_arg(required=False)
    interval, counts, complete = svc.reader.histogram(
        sources, start, end, buckets, pattern, deadline=time.monotonic() + SEARCH_BUDGET_S
    )
    body = {
        "interval": interval,
        "buckets": [{"start": start + i * interval, "count": c} for i, c in enumerate(counts)],
        "complete": complete,
    }
    if not complete:
        body["partialReason"] = (
            f"stopped counting after {SEARCH_BUDGET_S} s; counts are lower bounds"
        )
    if levels:
        per, read = svc.reader.level_histogram(
            sources, start, end, buckets, pattern, deadline=time.monotonic() + LEVELS_BUDGET_S
        )
        for b, lv in zip(body["buckets"], per, strict=True):
            if lv is not None:
                b["levels"] = lv
        body["levelsRead"] = read
        body["levelsComplete"] = all(lv is not None for lv in per)
        if not body["levelsComplete"]:
            body["levelsReason"] = (
                f"levels come from the newest {read} events (at most {LEVEL_SAMPLE}, within"
                f" {LEVELS_BUDGET_S} s); older buckets have no 'levels'"
            )
    return jsonify(body)


FACET_SAMPLE = 1000  # events a facets request reads by default (newest first); at most MAX_LIMIT
FACETS_BUDGET_S = 2.0
EXPORT_CHUNK = 64 * 1024  # characters an export response writes at a time


@bp.get("/api/v1/facets")
def facets_():
    """Top values of level, group, stream and the JSON keys seen, over the newest `sample` events of
    the view (groups, streams, time range, filter pattern); says how many it read and whether that
    was every match."""
    svc = service()
    args = _read_args()
    sample = int_arg("sample", FACET_SAMPLE, 1, MAX_LIMIT)
    sources = sources_arg(required=False)
    page = svc.reader.read(
        sources,
        start=args["start"],
        end=args["end"],
        limit=sample,
        forward=False,
        pattern=args["pattern"],
        deadline=time.monotonic() + FACETS_BUDGET_S,
    )
    body = facets.summarize(page.events, sampled=len(page.events), complete=page.next_token is None)
    body["sampleLimit"] = sample
    return jsonify(body)


@bp.get("/api/v1/export")
def export():
    svc = service()
    fmt = request.args.get("format", "ndjson")
    if fmt not in ("ndjson", "csv"):
        raise InvalidParameter("format must be ndjson or csv", field="format", rule="ndjson|csv")
    args = _read_args()
    sources = sources_arg(required=False)
    args.pop("token")
    args["limit"] = MAX_LIMIT
    newest = bool_arg("newestFirst", False)
    rows = iter_all(svc.reader, sources, forward=not newest, **args)

    def ndjson() -> Iterator[str]:
        encode = json.JSONEncoder(ensure_ascii=False).encode
        buf: list[str] = []
        size = 0
        for e in rows:
            line = encode(e.to_json()) + "\n"
            buf.append(line)
            size += len(line)
            if size >= EXPORT_CHUNK:  # one write (and one HTTP chunk) per ~64 KB, not per event
                yield "".join(buf)
                buf, size = [], 0
        yield "".join(buf)

    def as_csv() -> Iterator[str]:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["timestamp", "group", "stream", "eventId", "level", "requestId", "message"])
        for e in rows:
            w.writerow(
                [
                    e.timestamp,
                    e.group,
                    e.stream,
                    e.event_id,
                    e.fields.get("level", ""),
                    e.fields.get("requestId", ""),
                    e.message,
                ]
            )
            if buf.tell() >= EXPORT_CHUNK:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    body, mime, ext = (
        (ndjson(), "application/x-ndjson", "ndjson")
        if fmt == "ndjson"
        else (as_csv(), "text/csv", "csv")
    )
    resp = Response(stream_with_context(body), mimetype=mime)
    resp.headers["Content-Disposition"] = f'attachment; filename="logsvc-export.{ext}"'
    return resp


@bp.get("/api/v1/tail")
def tail():
    svc = service()
    pattern = pattern_arg()
    since = time_arg("since")
    heartbeat = int_arg("heartbeat", 15, 1, 60)
    groups = groups_arg()
    streams = streams_arg()
    cursor_field = "Last-Event-ID" if request.headers.get("Last-Event-ID") else "cursor"
    last_id = request.headers.get("Last-Event-ID") or request.args.get("cursor")
    codec = _codec()
    reader: Reader = svc.reader
    sources = reader.sources(groups, streams)

    def list_sources() -> list[Source]:
        def fresh() -> list[Source]:
            try:
                return reader.sources(groups, streams)
            except LogsvcError:
                return []

        return svc.tailer.shared_sources((tuple(groups), tuple(streams)), fresh)

    replay: list = []
    replay_cut = False
    if last_id:
        cursor = decode_cursor(codec, last_id, cursor_field)
    else:
        cursor = svc.tailer.end_cursor(sources)
        if since is not None:
            # the newest MAX_LIMIT events / MAX_PAGE_BYTES since `since`; a cut is said (see below)
            page = reader.read(
                sources, start=since, limit=MAX_LIMIT, forward=False, pattern=pattern
            )
            replay = [e for e in page.events if e.offset < cursor.get(_skey(e), 0)]
            replay_cut = page.next_token is not None
    # takes a tail slot now, so a full server answers 503 rather than a broken stream
    sock = request.environ.get("gunicorn.socket")
    sink = _DirectSink.for_request(sock, codec, svc.tailer.json_of)
    follow = svc.tailer.follow(
        list_sources, cursor, pattern, heartbeat=heartbeat, stop=_ClientGone(sock), sink=sink
    )
    _no_delay(sock)

    def frames() -> Iterator[str]:
        try:
            yield f"retry: 1000\n: logsvc tail of {len(sources)} streams\n\n"
            if replay_cut:
                note = {
                    "replayTruncated": True,
                    "replayed": len(replay),
                    "oldestReplayed": replay[0].timestamp if replay else None,
                    "message": f"since= replays at most the newest {MAX_LIMIT} events or {MAX_PAGE_BYTES} bytes; "
                    "older events were not sent (read them with /api/v1/events)",
                }
                yield f"event: notice\ndata: {json.dumps(note)}\n\n"
            if replay:
                yield from _frames(codec, replay, cursor, svc.tailer.json_of)
            for events_, cur in follow:
                if sink is not None and sink.sent(events_):
                    continue  # another tail's thread wrote it (the rest, if any, just now)
                if events_:
                    yield from _shared_frames(codec, events_, cur, svc.tailer.json_of)
                else:
                    yield f"id: {encode_cursor(codec, cur)}\n: ping\n\n"
        finally:
            follow.close()

    resp = Response(stream_with_context(frames()), mimetype="text/event-stream")
    if replay_cut:
        resp.headers["X-Logsvc-Replay-Truncated"] = str(len(replay))
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp


def _no_delay(sock: socket.socket | None) -> None:
    """Send each SSE frame as soon as it is written. Nagle's algorithm may hold a small frame back
    until the previous one is acknowledged, and a tail client sends nothing an ACK could ride on
    (its ACKs are delayed), so a frame could wait for the client's delayed-ACK timer."""
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


class _ClientGone:
    """`is_set()` once the tail's client has closed its connection: the tail looks about once a
    second, so its slot comes back within a second or two instead of at the next heartbeat's write."""

    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock

    def is_set(self) -> bool:
        if self.sock is None:
            return False
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            return bool(readable) and self.sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True


def _skey(e) -> str:
    return stream_key(e.group, e.stream)


FRAME_BYTES = (
    1024 * 1024
)  # an SSE frame holds events up to about this size (one larger event goes alone)


def _frames(codec: paging.Codec, events_: list, cursor: dict | None, encode) -> Iterator[str]:
    """`events_` as SSE frames of at most ~FRAME_BYTES each; only the last carries the cursor, so
    a client that resumes never skips an event it did not receive."""
    part: list[str] = []
    size = 0
    for e in events_:
        text = encode(e)
        if part and size + len(text) > FRAME_BYTES:
            yield _frame(codec, part, None)
            part, size = [], 0
        part.append(text)
        size += len(text) + 2
    yield _frame(codec, part, cursor)


def _shared_frames(codec: paging.Codec, events_: list, cursor: dict, encode) -> list[bytes]:
    """The frames of a batch as bytes, made once for every tail of this process that takes the same
    batch object (tail.Batch: tails at the same place share one), not once per client."""
    made = getattr(events_, "frames", None)
    if made is None:
        made = [f.encode() for f in _frames(codec, events_, cursor, encode)]
        try:
            events_.frames = made
        except AttributeError:  # a plain list: this tail's alone
            pass
    return made


class _DirectSink:
    """Writes a shared batch to this tail's socket from the thread that read it (tail.Sink).

    50 clients of one step were 50 threads each woken to write the same bytes, one after the other
    for the GIL; now the step's reader writes the frames to every riding client's socket at once
    (a write that does not block) and the clients' threads sleep on (tail._Rider). Used only where the
    bytes on the wire are known: gunicorn's plain socket under HTTP/1.1, where it sends the
    response chunked, so a frame is written as one more chunk exactly as gunicorn would."""

    def __init__(self, sock: socket.socket, codec: paging.Codec, encode) -> None:
        self.sock, self.codec, self.encode = sock, codec, encode
        self.batch = None  # the batch written (or begun) by another thread
        self.rest = b""  # what that write left for this tail's own thread

    @classmethod
    def for_request(cls, sock, codec: paging.Codec, encode) -> _DirectSink | None:
        if (
            type(sock) is not socket.socket
            or sock.gettimeout() is None  # a socket with a timeout is non-blocking underneath
            or request.method != "GET"
            or request.environ.get("SERVER_PROTOCOL") != "HTTP/1.1"
        ):
            return None
        return cls(sock, codec, encode)

    def deliver(self, events_, cursor) -> bool:
        data = b"".join(
            b"%X\r\n%s\r\n" % (len(f), f)
            for f in _shared_frames(self.codec, events_, cursor, self.encode)
        )
        try:
            n = os.write(self.sock.fileno(), data)  # never blocks (see for_request)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            n = 0  # the client is gone; this tail's own write says so
        self.batch, self.rest = events_, data[n:]
        return not self.rest

    def sent(self, events_) -> bool:
        """Was `events_` delivered here? Then send what is left of it (blocking, in this thread)."""
        if self.batch is not events_:
            return False
        rest, self.batch, self.rest = self.rest, None, b""
        if rest:
            self.sock.sendall(rest)
        return True


def _frame(codec: paging.Codec, encoded: list[str], cursor: dict | None) -> str:
    data = '{"events": [' + ", ".join(encoded) + "]}"
    head = f"id: {encode_cursor(codec, cursor)}\n" if cursor is not None else ""
    return f"{head}event: events\ndata: {data}\n\n"
