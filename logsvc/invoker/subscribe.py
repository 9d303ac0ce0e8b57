"""Subscription delivery: a log group's matching events go to a function as CloudWatch Logs sends them.

Owns, for every subscription filter (the API's, kept by `logsvc/subscriptions.py`, and the project
file's `logs` triggers): following the group's stream files by the follow rules (the ingester's and
the tail's `follow.read_new_events`, `make_event` and stamps, so an event has the id and time every
reader gives it), matching the filter pattern (`filterpattern`, the one matcher), batching per
stream, the payload (`{"awslogs": {"data": base64(gzip(JSON))}}`), the CONTROL_MESSAGE sent when a
filter is first seen, Event invocations through `Invoker.invoke_event` (its retries, event age and
destinations), and a durable checkpoint per (filter, stream) advanced only once the invocation is
done with. Because it reads the files, every way in is covered: `>>`, PutLogEvents, functions'
own lines, `logsvc run`. Never writes log streams and never touches the index.

Batching (AWS documents none; these are logsvc's): a batch holds the events of one stream, at most
MAX_BATCH_EVENTS events and MAX_BATCH_BYTES of (message bytes + 26): one PutLogEvents call's
limits (`limits.py`); an event waits at most BATCH_WINDOW for others to join it. A payload over
Lambda's 1 MB async limit (incompressible messages) is split in halves; one event alone is sent as
it is.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logsvc import safeio, stamps
from logsvc.errors import InvalidParameter, LogsvcError
from logsvc.filterpattern import compile_pattern
from logsvc.follow import FileFollow, make_event
from logsvc.invoker.functions import ACCOUNT
from logsvc.limits import MAX_BATCH_BYTES, MAX_BATCH_EVENTS, event_bytes
from logsvc.model import LogEvent
from logsvc.subscriptions import (
    FOLDER,
    SubscriptionBook,
    SubscriptionFilter,
    check_no_loop,
    declared_filters,
    line_start_at_end,
)

log = logging.getLogger("logsvc.invoker")

POLL = 0.1  # seconds between looks at a filter's streams when nothing is waiting
BATCH_WINDOW = 0.25  # the longest an event waits for others of its stream to join its batch
MAX_PAYLOAD = 1_048_576  # Lambda's limit on an asynchronous (Event) invocation's payload
READ_CHUNK = 1 << 20  # bytes of a stream read at once
PENDING_LIMIT = 16 << 20  # matches one filter holds across its streams; past it, reads wait
FILTERS_REFRESH = 0.5  # seconds between looks at the filter definitions
IDLE_CHECKPOINT = 1.0  # unmatched bytes are checkpointed past at most once a second
CHECKPOINTS = "checkpoints"
CONTROL_TEXT = "CWL CONTROL MESSAGE: Checking health of destination Lambda function."


def encode_payload(doc: dict[str, Any]) -> bytes:
    """The Lambda event for one CloudWatch Logs message: compact JSON, gzipped, base64."""
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    data = base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii")
    return json.dumps({"awslogs": {"data": data}}).encode()


def data_message(flt: SubscriptionFilter, stream: str, events: list[LogEvent]) -> dict[str, Any]:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": flt.group,
        "logStream": stream,
        "subscriptionFilters": [flt.name],
        "logEvents": [
            {"id": e.event_id, "timestamp": e.timestamp, "message": e.message} for e in events
        ],
    }


def control_message() -> dict[str, Any]:
    return {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": int(time.time() * 1000), "message": CONTROL_TEXT}],
    }


class Deliveries:
    """Every subscription filter of the data directory and the project: one thread per filter,
    started and stopped as filters come and go (run by the invoker's owner, so once per machine)."""

    def __init__(self, invoker: Any, data_dir: Path) -> None:
        self.invoker = invoker
        self.data_dir = data_dir
        self.book = SubscriptionBook(data_dir)
        self.declared = declared_filters(invoker.project)
        self.running: dict[str, FilterDelivery] = {}
        self.skipped: set[str] = set()  # ids of filters left out because they close a loop
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="subscriptions", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self._refresh()
            except Exception:
                log.exception("subscriptions: reading the filters failed")
            self.stop.wait(FILTERS_REFRESH)

    def _refresh(self) -> None:
        wanted = {f.id: f for f in self._without_loops([*self.declared, *self.book.all()])}
        for fid in [k for k in self.running if k not in wanted]:
            self.running.pop(fid).close(forget=True)
        for fid, flt in wanted.items():
            d = self.running.get(fid)
            if d is None:
                d = self.running[fid] = FilterDelivery(self, flt)
                d.thread.start()
            elif d.flt != flt:
                d.update(flt)

    def _without_loops(self, filters: list[SubscriptionFilter]) -> list[SubscriptionFilter]:
        """Every filter but one that would close a loop with those before it (Put refuses loops;
        this covers a project file edited after the API's filters were made). Said once, in the
        invoker's own stream."""
        kept: list[SubscriptionFilter] = []
        for f in filters:
            try:
                check_no_loop([(k.group, k.function) for k in [*kept, f]])
            except InvalidParameter as e:
                if f.id not in self.skipped:
                    self.skipped.add(f.id)
                    self.invoker.system_line(
                        f"Subscription filter {f.name} of {f.group} is not delivered: {e.message}"
                    )
                continue
            kept.append(f)
        return kept

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for d in self.running.values():  # every filter stops at once, then each is waited for
            d.stop.set()
        for d in self.running.values():
            d.close()


@dataclass
class _Stream:
    """What one filter knows of one stream: how far it has read, and matches not delivered yet."""

    follow: FileFollow
    events: list[LogEvent] = field(default_factory=list)
    size: int = 0  # bytes of `events` by CloudWatch's rule
    upto: int = 0  # every byte before this has been read (the events after `saved` are pending)
    since: float = 0.0  # when the oldest pending event was read
    saved: int = -1  # the offset the durable checkpoint holds
    saved_at: float = 0.0


class FilterDelivery:
    """One filter: follow its group's streams, batch matches per stream, invoke, checkpoint."""

    def __init__(self, owner: Deliveries, flt: SubscriptionFilter) -> None:
        self.owner = owner
        self.invoker = owner.invoker
        self.store = owner.invoker.store
        self.flt = flt
        self.pattern = compile_pattern(flt.pattern)
        self.streams: dict[str, _Stream] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"subscription-{flt.group}-{flt.name}", daemon=True
        )

    def update(self, flt: SubscriptionFilter) -> None:
        """PutSubscriptionFilter on an existing name: the new pattern applies from here on."""
        self.pattern = compile_pattern(flt.pattern)
        self.flt = flt

    def close(self, *, forget: bool = False) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        if forget:  # the filter was deleted: its checkpoints go too
            try:
                with safeio.under(self.owner.data_dir, FOLDER, CHECKPOINTS) as dfd:
                    os.unlink(self._checkpoint_name(), dir_fd=dfd)
            except OSError:
                pass

    # ---- checkpoints --------------------------------------------------------------------------

    def _checkpoint_name(self) -> str:
        return f"{self.flt.id}.json"

    def _load(self) -> dict[str, Any] | None:
        try:
            with safeio.under(self.owner.data_dir, FOLDER, CHECKPOINTS) as dfd:
                return json.loads(safeio.read_bytes(dfd, self._checkpoint_name(), 16 << 20))
        except (OSError, ValueError):
            return None

    def _save(self) -> None:
        streams = {}
        for name, s in self.streams.items():
            f = s.follow
            streams[name] = {"ino": f.ino, "head": f.head[: max(s.saved, 0)].hex(), "end": s.saved}
        data = json.dumps({"filter": self.flt.id, "streams": streams}).encode()
        with safeio.under(self.owner.data_dir, FOLDER, CHECKPOINTS, create=True) as dfd:
            safeio.write_atomic(dfd, self._checkpoint_name(), data)

    def _begin(self) -> bool:
        """Restore the checkpoints; on first sight send the CONTROL_MESSAGE and start at the
        filter's recorded stream ends (or the ends now, for a filter of the project file).
        False if stopped first."""
        doc = self._load()
        if doc is not None:
            for name, st in (doc.get("streams") or {}).items():
                f = FileFollow(ino=st["ino"], head=bytes.fromhex(st["head"]), end=st["end"])
                self.streams[name] = _Stream(f, upto=st["end"], saved=st["end"])
            return True
        starts = self.flt.starts
        if starts is None:  # taken before the control message: lines written meanwhile count
            try:
                listed = self.store.list_streams(self.flt.group)
            except LogsvcError:
                listed = []
            starts = {s.name: line_start_at_end(s.path, s.size) for s in listed}
        if not self._invoke(control_message(), {"messageType": "CONTROL_MESSAGE"}):
            return False
        for name, off in starts.items():
            # a FileFollow with only an end adopts the file as it is at the first look
            self.streams[name] = _Stream(FileFollow(end=off), upto=off, saved=off)
        self._save()
        return True

    # ---- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            if not self._begin():
                return
            while not self.stop.is_set():
                busy = self._round()
                if not busy:
                    self.stop.wait(POLL)
        except Exception:
            log.exception("subscription %s on %s stopped", self.flt.name, self.flt.group)

    def _round(self) -> bool:
        """Read every stream once and deliver what is due. True if more is waiting already."""
        try:
            listed = self.store.list_streams(self.flt.group)
        except LogsvcError:
            return False  # no such group (yet): nothing to deliver
        busy = False
        gone = [
            name
            for name in set(self.streams) - {info.name for info in listed}
            if not self._exists(name)
        ]
        for name in gone:  # a deleted stream: a new one under its name starts at byte 0
            del self.streams[name]
        if gone:
            self._save()
        held = sum(x.size for x in self.streams.values())
        for info in listed:
            if self.stop.is_set():
                return False
            s = self.streams.get(info.name)
            if s is None:
                s = self.streams[info.name] = _Stream(FileFollow(), saved=0)
            if (
                s.size < MAX_BATCH_BYTES
                and len(s.events) < MAX_BATCH_EVENTS
                and held < PENDING_LIMIT
            ):
                was = s.size
                busy |= self._read(info.name, info.path, s)
                held += s.size - was
            was = s.size
            busy |= self._due(info.name, s)
            held += s.size - was
        return busy

    def _exists(self, stream: str) -> bool:
        try:
            return self.store.stream_file(self.flt.group, stream).exists()
        except LogsvcError:
            return False

    def _read(self, stream: str, path: str, s: _Stream) -> bool:
        """Read what is new in one stream file; keep the matches. True if bytes are left unread."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return False
            f = s.follow
            now = time.monotonic()
            if f.look(fd, st, now):  # a new file under the name: its bytes are all new
                s.events, s.size, s.upto, s.saved = [], 0, 0, 0
            if st.st_size <= f.end:
                return False
            start, data, raws, consumed, times = stamps.read_followed(
                self.store, self.flt.group, stream, fd, f, st.st_size, now, READ_CHUNK
            )
            f.end = start
            f.took(fd, consumed, data)
            if raws:
                ident = f.identity()
                for r in raws:
                    e = make_event(
                        self.flt.group,
                        stream,
                        start + r.start,
                        start + r.end,
                        r.text,
                        times(start + r.start),
                        ident,
                    )
                    if self.pattern.match_all or self.pattern.matches(e.message):
                        if not s.events:
                            s.since = now
                        s.events.append(e)
                        s.size += event_bytes(e.message)
            s.upto = f.end
            return consumed > 0 and f.end < st.st_size
        finally:
            os.close(fd)

    def _due(self, stream: str, s: _Stream) -> bool:
        """Deliver the stream's pending events if a batch is full or the oldest has waited
        BATCH_WINDOW; checkpoint past unmatched bytes now and then. True if it delivered."""
        now = time.monotonic()
        if not s.events:
            if s.upto > s.saved and now - s.saved_at >= IDLE_CHECKPOINT:
                s.saved, s.saved_at = s.upto, now
                self._save()
            return False
        full = len(s.events) >= MAX_BATCH_EVENTS or s.size >= MAX_BATCH_BYTES
        if not full and now - s.since < BATCH_WINDOW:
            return False
        while s.events and not self.stop.is_set():
            batch, size = [], 0
            for e in s.events:
                n = event_bytes(e.message)
                if batch and (len(batch) >= MAX_BATCH_EVENTS or size + n > MAX_BATCH_BYTES):
                    break
                batch.append(e)
                size += n
            if not self._deliver(stream, batch):
                return False  # stopping: the checkpoint stays before this batch
            del s.events[: len(batch)]
            s.size -= size
            s.saved = s.upto if not s.events else batch[-1].end
            s.saved_at = time.monotonic()
            self._save()
        return True

    def _deliver(self, stream: str, batch: list[LogEvent]) -> bool:
        """One batch, split while its payload passes Lambda's limit. False if stopped first."""
        doc = data_message(self.flt, stream, batch)
        payload = encode_payload(doc)
        if len(payload) > MAX_PAYLOAD and len(batch) > 1:
            mid = len(batch) // 2
            return self._deliver(stream, batch[:mid]) and self._deliver(stream, batch[mid:])
        trigger = {
            "logStream": stream,
            "batchSize": len(batch),
            "firstEventId": batch[0].event_id,
            "lastEventId": batch[-1].event_id,
        }
        return self._invoke(doc, trigger, payload)

    def _invoke(self, doc: dict, extra: dict, payload: bytes | None = None) -> bool:
        """An Event invocation carried to its end (retries and all). False if stopped first."""
        trigger = {
            "type": "logs",
            "logGroup": self.flt.group,
            "filterName": self.flt.name,
            "source": f"log group {self.flt.group} -> function {self.flt.function}",
            **extra,
        }
        while not self.stop.is_set():
            try:
                done = self.invoker.invoke_event(
                    self.flt.function,
                    payload if payload is not None else encode_payload(doc),
                    trigger=trigger,
                    stop=self.stop,
                )
                return done is not None
            except LogsvcError as e:  # the function left the project: wait for it to come back
                log.warning("subscription %s on %s: %s", self.flt.name, self.flt.group, e)
                self.stop.wait(5.0)
        return False
