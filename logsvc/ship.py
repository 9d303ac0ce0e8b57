"""`logsvc forward`: mirror chosen groups to a CloudWatch Logs endpoint, exactly once.

Owns: choosing the streams (group name globs), reading their new events by the follow rules
(`follow.py`, the ingester's), keeping only visible ones (`visibility.py`), cutting them into
PutLogEvents batches within AWS's limits, sending them with backoff, the forwarder's own durable
checkpoints and its status file. Never writes a stream file or the index; the destination is any
CloudWatch Logs endpoint boto3 can reach (real AWS, another logsvc, moto).

Exactly once: per destination, `<data>/forward/<id>/checkpoint.json` holds each stream's position
(file identity as `FileFollow` keeps it, and the end offset of the last acknowledged batch). A batch
is sent as: record it as *pending* (fsynced), PutLogEvents, then commit the new position with the
pending record cleared (fsynced, atomic rename). After kill -9 between the send and the commit the
pending record is still there; CloudWatch has no idempotency key, so the forwarder asks the
destination whether the batch landed (`landed`: the batch's (timestamp, message) pairs in its time
range at the destination, against the same pairs the stream held before the batch) and commits or
resends accordingly. The same check settles a send whose outcome is unknown (a read timeout, a
connection dropped after the request went out, a 5xx).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import random
import stat
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logsvc import limits, locks, names, safeio, stamps
from logsvc.errors import ConfigError, InvalidParameter, LogsvcError
from logsvc.follow import PARTIAL_LINE_GRACE, FileFollow, make_event
from logsvc.store import Store
from logsvc.visibility import Source, listed_sources, visible

log = logging.getLogger("logsvc.forward")

READ_BYTES = 2 * 1024 * 1024  # stream bytes read per batch at most (a batch is at most 1 MiB)
FOLDER = "forward"
EMPTY_PAGES = 5  # empty GetLogEvents pages in a row that end a landed check's scan
STATUS_EVERY = 0.1  # seconds between status file writes while streams are behind

# The outcome is known: nothing was stored, resending cannot duplicate.
RETRY_SAFE = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "LimitExceededException",
        "InvalidSequenceTokenException",  # sequence tokens are ignored today; older endpoints
    }
)


# ---- configuration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForwardConfig:
    """Where to send and what: `endpoint` is "aws" (boto3's own endpoint, credential chain and
    region) or a URL; `groups` are glob patterns (`*`, `?`, `[...]`) over group names."""

    endpoint: str
    groups: tuple[str, ...]
    region: str | None = None
    prefix: str = ""  # prepended to every group name at the destination
    batch_events: int = limits.MAX_BATCH_EVENTS
    interval: float = 1.0  # seconds between looks at the files when nothing is new

    @property
    def dest_id(self) -> str:
        """The folder of this destination's checkpoints: the same endpoint, region and prefix
        always find the same checkpoints; another destination starts from byte 0."""
        key = json.dumps([self.endpoint.rstrip("/"), self.region or "", self.prefix])
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        where = (
            self.endpoint if self.endpoint != "aws" else f"aws ({self.region or 'default region'})"
        )
        return where + (f" prefix {self.prefix!r}" if self.prefix else "")


FORWARD_KEYS = {
    "endpoint": str,
    "region": str,
    "groups": list,
    "prefix": str,
    "batch_events": int,
    "interval": float,
}


def section_from_project(path: Path | str | None) -> dict[str, Any]:
    """The `[forward]` table of a logsvc.toml ({} when there is no file or no table).

    :raises ConfigError: naming the file, the key and the rule it breaks.
    """
    if path is None or not os.path.exists(path):
        return {}
    try:
        doc = tomllib.loads(Path(path).read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(
            f"{path}: not valid TOML: {e}", field="project", rule="TOML 1.0"
        ) from None
    sec = doc.get("forward", {})
    if not isinstance(sec, dict):
        raise ConfigError(f"{path}: forward: must be a table", field="forward", rule="a table")
    out: dict[str, Any] = {}
    for key, value in sec.items():
        kind = FORWARD_KEYS.get(key)
        if kind is None:
            raise ConfigError(
                f"{path}: forward.{key}: unknown key; allowed: {', '.join(sorted(FORWARD_KEYS))}",
                field=f"forward.{key}",
                rule="a known key",
            )
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if kind is list:
            ok = ok and all(isinstance(v, str) for v in value)
        if not ok:
            want = "a list of strings" if kind is list else f"a {kind.__name__}"
            raise ConfigError(
                f"{path}: forward.{key}: must be {want} (got {value!r})",
                field=f"forward.{key}",
                rule=want,
            )
        out[key] = value
    return out


def make_config(values: dict[str, Any]) -> ForwardConfig:
    """Check the merged flags and `[forward]` values. :raises ConfigError: naming the field."""
    endpoint = values.get("endpoint")
    if not endpoint:
        raise ConfigError(
            "forward needs a destination: --endpoint aws, or --endpoint URL (or endpoint in [forward])",
            field="endpoint",
            rule="aws or an http(s) URL",
        )
    if endpoint != "aws" and not endpoint.startswith(("http://", "https://")):
        raise ConfigError(
            f"endpoint {endpoint!r} must be 'aws' or an http(s) URL",
            field="endpoint",
            rule="aws or an http(s) URL",
        )
    groups = tuple(values.get("groups") or ())
    if not groups:
        raise ConfigError(
            "forward needs at least one group pattern (--group '/aws/lambda/*', or groups in [forward])",
            field="groups",
            rule="at least one pattern",
        )
    batch = int(values.get("batch_events") or limits.MAX_BATCH_EVENTS)
    if not 1 <= batch <= limits.MAX_BATCH_EVENTS:
        raise ConfigError(
            f"batch_events {batch} must be between 1 and {limits.MAX_BATCH_EVENTS} (AWS's limit)",
            field="batch_events",
            rule=f"1..{limits.MAX_BATCH_EVENTS}",
        )
    interval = float(values.get("interval") or 1.0)
    if not 0.01 <= interval <= 3600:
        raise ConfigError(
            f"interval {interval} must be between 0.01 and 3600 seconds",
            field="interval",
            rule="0.01..3600",
        )
    prefix = values.get("prefix") or ""
    if prefix:
        try:
            names.validate_group(prefix + "x")
        except InvalidParameter as e:
            raise ConfigError(
                f"prefix {prefix!r}: {e.message}", field="prefix", rule=e.rule
            ) from None
    return ForwardConfig(
        endpoint=endpoint,
        groups=groups,
        region=values.get("region") or None,
        prefix=prefix,
        batch_events=batch,
        interval=interval,
    )


def matches(patterns: tuple[str, ...], group: str) -> bool:
    """Is `group` chosen? Internal groups (`/logsvc/invocations`) only when a pattern is their name."""
    if names.hidden(group, patterns):
        return False
    return any(fnmatch.fnmatchcase(group, p) for p in patterns)


# ---- the destination -----------------------------------------------------------------------------

_SESSION: Any = None


class Destination:
    """A CloudWatch Logs client with the forwarder's error rules. botocore's own retries are off:
    the forwarder decides when a resend is safe (see the module docstring)."""

    def __init__(self, cfg: ForwardConfig, client: Any = None) -> None:
        self.cfg = cfg
        self.client = client if client is not None else self._make_client()
        self._ensured: set[tuple[str, str]] = set()

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        conf = Config(
            retries={"total_max_attempts": 1},
            connect_timeout=5,
            read_timeout=30,
            user_agent_extra="logsvc-forward",
        )
        kw: dict[str, Any] = {"config": conf}
        if self.cfg.endpoint != "aws":
            kw["endpoint_url"] = self.cfg.endpoint
        global _SESSION
        if _SESSION is None:  # one per process: building a session loads botocore's models
            _SESSION = boto3.session.Session()
        session = _SESSION
        region = self.cfg.region or session.region_name
        if region is None and self.cfg.endpoint != "aws":
            region = "us-east-1"  # another logsvc or moto: any region signs
        return session.client("logs", region_name=region, **kw)

    def name(self, group: str) -> str:
        return self.cfg.prefix + group

    def ensure(self, group: str, stream: str) -> None:
        """Create the group and stream at the destination (ResourceAlreadyExists is fine)."""
        if (group, stream) in self._ensured:
            return
        for call, kw in (
            (self.client.create_log_group, {"logGroupName": self.name(group)}),
            (
                self.client.create_log_stream,
                {"logGroupName": self.name(group), "logStreamName": stream},
            ),
        ):
            try:
                call(**kw)
            except Exception as e:
                if error_code(e) != "ResourceAlreadyExistsException":
                    raise
        self._ensured.add((group, stream))

    def forget(self, group: str, stream: str) -> None:
        """The destination lost the group or stream: create it again before the next put."""
        self._ensured.discard((group, stream))

    def put(self, group: str, stream: str, events: list[dict]) -> dict:
        return self.client.put_log_events(
            logGroupName=self.name(group), logStreamName=stream, logEvents=events
        )

    def counts(self, group: str, stream: str, lo: int, hi: int, keys: set) -> Counter:
        """How often each (timestamp, message) of `keys` is at the destination in [lo, hi].

        Pages until GetLogEvents hands back the token it was given (its end of the range); AWS
        may answer empty pages before that, so an empty page alone ends it only after a few."""
        got: Counter = Counter()
        token = None
        empty = 0
        while True:
            kw: dict[str, Any] = {
                "logGroupName": self.name(group),
                "logStreamName": stream,
                "startTime": lo,
                "endTime": hi + 1,
                "startFromHead": True,
            }
            if token:
                kw["nextToken"] = token
            try:
                page = self.client.get_log_events(**kw)
            except Exception as e:
                if error_code(e) == "ResourceNotFoundException":
                    return got
                raise
            for ev in page.get("events", []):
                k = (ev["timestamp"], ev["message"])
                if k in keys:
                    got[k] += 1
            nxt = page.get("nextForwardToken")
            empty = 0 if page.get("events") else empty + 1
            if not nxt or nxt == token or empty >= EMPTY_PAGES:
                return got
            token = nxt


def error_code(e: BaseException) -> str:
    """AWS's error code of a botocore ClientError, else the exception's class name."""
    resp = getattr(e, "response", None)
    if isinstance(resp, dict):
        return str(resp.get("Error", {}).get("Code") or type(e).__name__)
    return type(e).__name__


def outcome_known(e: BaseException) -> bool | None:
    """Was nothing stored (True: resend), maybe stored (None: check first), or is it a refusal a
    resend will not fix (False)?"""
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(e, ConnectTimeoutError | EndpointConnectionError) and not isinstance(
        e, ConnectionClosedError
    ):
        return True  # never connected
    if isinstance(e, ReadTimeoutError | ConnectionClosedError):
        return None
    code = error_code(e)
    if code in RETRY_SAFE:
        return True
    status = (getattr(e, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    if isinstance(status, int) and status >= 500 or code in ("InternalFailure", "InternalError"):
        return None
    if type(e).__module__.startswith(("botocore", "urllib3")) and not hasattr(e, "response"):
        return None  # some other transport failure: the request may have gone out
    return False


# ---- reading batches -----------------------------------------------------------------------------


@dataclass
class Batch:
    """Consecutive events of one stream in [start, end), ready for PutLogEvents."""

    start: int
    end: int
    events: list[dict]  # {"timestamp", "message"}, sorted by timestamp (stable)
    skipped: int = 0  # empty messages (PutLogEvents needs at least one character)
    truncated: int = 0  # messages cut to AWS's per-event size
    # the bytes from `start` on as they were read (FileFollow.took keeps the file's identity from
    # them: a rewrite while the batch was in flight is then noticed, not taken as what was sent)
    raw: bytes | None = None

    def keys(self) -> Counter:
        return Counter((e["timestamp"], e["message"]) for e in self.events)


def wire_message(message: str) -> tuple[str, bool]:
    """The message as sent: cut to AWS's per-event limit (UTF-8 bytes + 26), on a character boundary."""
    raw = message.encode("utf-8", "replace")
    room = limits.MAX_EVENT_BYTES - limits.EVENT_OVERHEAD
    if len(raw) <= room:
        return message, False
    return raw[:room].decode("utf-8", "ignore"), True


def wire_events(
    group: str, stream: str, src: Source, start: int, raws: list, times: Callable[[int], int]
):
    """Each raw event (relative to `start`) as PutLogEvents takes it: ({"timestamp", "message"},
    cut) for a visible event with a message, None for one not visible, "" for an empty one."""
    for raw in raws:
        off = start + raw.start
        ev = make_event(group, stream, off, start + raw.end, raw.text, times(off))
        if not visible(src, ev.timestamp, off):
            yield None
            continue
        msg, cut = wire_message(ev.message)
        yield ({"timestamp": ev.timestamp, "message": msg}, cut) if msg else ""


def cut_batch(
    group: str,
    stream: str,
    src: Source,
    start: int,
    raws: list,
    times: Callable[[int], int],
    max_events: int,
) -> tuple[Batch, int]:
    """Take events from `raws` (RawEvents relative to `start`) while the batch stays within AWS's
    limits (events, bytes, 24 h span). Returns the batch and how many raws it covers."""
    out: list[dict] = []
    size = 0
    lo = hi = 0
    skipped = truncated = taken = 0
    for got in wire_events(group, stream, src, start, raws, times):
        if got == "":
            skipped += 1
        elif got is not None:
            ev, cut = got
            ts = ev["timestamp"]
            n = limits.event_bytes(ev["message"])
            nlo, nhi = (min(lo, ts), max(hi, ts)) if out else (ts, ts)
            if out and (
                len(out) >= max_events
                or size + n > limits.MAX_BATCH_BYTES
                or nhi - nlo > limits.MAX_SPAN_MS
            ):
                break
            out.append(ev)
            size, lo, hi = size + n, nlo, nhi
            truncated += cut
        taken += 1
    out.sort(key=lambda e: e["timestamp"])
    end = start + raws[taken - 1].end if taken else start
    return Batch(start, end, out, skipped, truncated), taken


# ---- the forwarder -------------------------------------------------------------------------------


@dataclass
class _Stream(FileFollow):
    group: str = ""
    stream: str = ""
    fail_until: float = 0.0  # a refused batch waits before it is tried again
    fail_count: int = 0

    def record(self) -> dict:
        return {
            "group": self.group,
            "stream": self.stream,
            "ino": self.ino,
            "head": self.head.hex(),
            "end": self.end,
            "mark": self.mark.hex(),
            "markEnd": self.mark_end,
        }


TOTALS = ("events", "batches", "tooOld", "tooNew", "expired", "skippedEmpty", "truncated")


@dataclass
class Counters:
    """What this run did beyond the committed totals (retries and errors are not checkpointed)."""

    retries: int = 0
    throttled: int = 0
    recovered: int = 0  # pending batches found landed after an unclean stop
    resent: int = 0  # pending batches found missing and sent again
    last_error: str | None = None
    last_error_at: int | None = None
    last_batch_at: int | None = None
    lag_bytes: int = 0
    behind: int = 0
    streams: int = 0


class Busy(ConfigError):
    """Another forwarder holds this destination's checkpoints."""


class Forwarder:
    """Follows the chosen streams and sends their events to one destination, one batch at a time."""

    def __init__(
        self,
        store: Store,
        cfg: ForwardConfig,
        dest: Destination | None = None,
        *,
        settle: float | None = None,
    ) -> None:
        self.store = store
        self.cfg = cfg
        self.dest = dest if dest is not None else Destination(cfg)
        # AWS's GetLogEvents may lag a write by a moment: wait before asking whether a batch landed
        self.settle = settle if settle is not None else (5.0 if cfg.endpoint == "aws" else 0.0)
        self.dir = (FOLDER, cfg.dest_id)
        self._stop = threading.Event()
        with safeio.under(store.root, *self.dir, create=True):
            pass  # the lock file's folder
        self._lock_fd = locks.try_hold(store.root, *self.dir, ".lock")
        if self._lock_fd is None:
            pid = locks.holder(store.root, *self.dir, ".lock")
            raise Busy(
                f"another forwarder (pid {pid}) is sending to {cfg.label}",
                field="endpoint",
                rule="one forwarder per destination",
            )
        self.streams: dict[str, _Stream] = {}
        self.totals: dict[str, int] = dict.fromkeys(TOTALS, 0)
        self.pending: dict[str, dict] = {}  # stream key -> the batch sent but not yet committed
        self.run_counts = Counters()
        self.started_at = int(time.time() * 1000)
        self._last_status = 0.0
        try:
            self._load()
        except BaseException:
            locks.release(self._lock_fd)
            self._lock_fd = None
            raise

    # ---- checkpoints ---------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            with safeio.under(self.store.root, *self.dir) as dfd:
                raw = safeio.read_bytes(dfd, "checkpoint.json", 64 << 20)
        except FileNotFoundError:
            return
        if not raw:
            return
        try:
            self._parse(raw)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            where = "/".join((str(self.store.root), *self.dir, "checkpoint.json"))
            raise ConfigError(
                f"the forward checkpoint {where} is damaged ({type(e).__name__}: {e}); move it "
                "aside to forward these groups from their start (what was sent is sent again)",
                field="checkpoint",
                rule="written by logsvc forward: JSON with each stream's ino, head, end and mark",
            ) from e

    def _parse(self, raw: bytes) -> None:
        doc = json.loads(raw)
        for skey, r in doc.get("streams", {}).items():
            mark, end, ino = bytes.fromhex(r["mark"]), r["end"], r["ino"]
            if not all(type(v) is int and v >= 0 for v in (ino, end)):
                raise ValueError(f"{skey}: ino and end must be whole numbers >= 0")
            mark_end = int(r.get("markEnd", -1))  # a checkpoint written before: at `end`
            if mark_end >= 0 and not len(mark) <= mark_end <= end:
                log.warning(
                    "checkpoint of %s: markEnd %d is not where its mark can end", skey, mark_end
                )
                mark_end = -1  # as a checkpoint without it: the mark ends at `end`
            self.streams[skey] = _Stream(
                ino=ino,
                head=bytes.fromhex(r["head"]),
                end=end,
                mark=mark,
                mark_end=mark_end,
                group=r["group"],
                stream=r["stream"],
            )
        self.totals.update({k: int(v) for k, v in doc.get("totals", {}).items() if k in TOTALS})
        # a batch pending at start: the last run stopped between its send and its commit
        self.pending = {k: dict(p, unsure=True) for k, p in (doc.get("pending") or {}).items()}

    def _write(self) -> None:
        doc = {
            "destination": self.cfg.label,
            "streams": {k: s.record() for k, s in self.streams.items() if s.end or s.ino},
            "totals": self.totals,
            "pending": self.pending,
        }
        data = json.dumps(doc, separators=(",", ":")).encode()
        with safeio.under(self.store.root, *self.dir, create=True) as dfd:
            safeio.write_atomic(dfd, "checkpoint.json", data, durable=True)

    def checkpoint(self) -> dict:
        """The committed state as stored."""
        with safeio.under(self.store.root, *self.dir) as dfd:
            return json.loads(safeio.read_bytes(dfd, "checkpoint.json", 64 << 20))

    def commit(self, skey: str, batch: Batch, fd: int, rejected: Counter) -> None:
        """The batch was acknowledged: move the stream past it and clear its pending record, in one
        durable write. Only after this returns is the next batch of the stream read."""
        st = self.streams[skey]
        st.end = batch.start
        st.took(fd, batch.end - batch.start, batch.raw)
        self.totals["events"] += len(batch.events) - sum(rejected.values())
        self.totals["batches"] += 1
        self.totals["skippedEmpty"] += batch.skipped
        self.totals["truncated"] += batch.truncated
        for k, v in rejected.items():
            self.totals[k] += v
        self.pending.pop(skey, None)
        self._write()

    # ---- the loop ------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        if self._lock_fd is not None:
            self.write_status(final=True)
            locks.release(self._lock_fd)
            self._lock_fd = None

    def run(self) -> None:
        """Forward until `stop()`. Errors are reported in the status and retried; the loop never dies."""
        try:
            while not self._stop.is_set():
                try:
                    more = self.step()
                except Exception as e:  # a listing or disk failure: report, wait, look again
                    self._error(e)
                    more = False
                self.write_status()
                if not more:
                    self._stop.wait(self.cfg.interval)
        finally:
            self.close()

    def step(self) -> bool:
        """One look at every chosen stream; at most one batch per stream. True if more is waiting."""
        more = False
        lag = behind = count = 0
        seen: set[str] = set()
        existing = self.store.group_names()
        for group in existing:
            if not matches(self.cfg.groups, group):
                continue
            try:
                infos = self.store.list_streams(group)
            except LogsvcError:
                continue  # deleted while we listed
            for src in listed_sources(self.store, group, infos):
                if self._stop.is_set():
                    return False
                seen.add(src.skey)
                count += 1
                left, sent = self._one(src)
                if left > 0:
                    lag += left
                    behind += 1
                    more = more or sent
        groups = set(existing)
        for skey, st in list(self.streams.items()):
            if skey in seen or (st.group in groups and not matches(self.cfg.groups, st.group)):
                continue  # kept: a group left out for now resumes where it stopped
            del self.streams[skey]  # the stream is gone; a new file under its name starts at 0
            self.pending.pop(skey, None)
        c = self.run_counts
        c.lag_bytes, c.behind, c.streams = lag, behind, count
        return more

    def _open(self, src: Source) -> int | None:
        try:
            fd = os.open(src.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        return fd

    def _one(self, src: Source) -> tuple[int, bool]:
        """Send the stream's next batch if it has one: (bytes still unsent, whether it sent one)."""
        st = self.streams.get(src.skey)
        if st is None:
            st = self.streams[src.skey] = _Stream(group=src.group, stream=src.stream)
        if st.fail_until > time.monotonic():
            return 1, False  # still behind, waiting before a refused batch is tried again
        fd = self._open(src)
        if fd is None:
            return 0, False
        try:
            fst = os.fstat(fd)
            reset = st.look(fd, fst, time.monotonic())
            p = self.pending.get(src.skey)
            if p is not None and (reset or st.end != p["at"]):
                self.pending.pop(src.skey)  # the file changed under the batch: it is read anew
                p = None
            if reset:
                log.info("%s/%s: a new file; forwarding it from byte 0", src.group, src.stream)
            if st.end < src.from_offset:  # expired by retention before it was sent: never visible
                st.took(fd, src.from_offset - st.end)
            size = fst.st_size
            if p is not None:
                batch = self._reread(fd, src, p["start"], p["end"])
            elif size <= st.end:
                return 0, False
            else:
                batch = self._read(fd, src, st, size)
            if batch is None:  # a partial last line or an open traceback: held for its grace
                return size - st.end, False
            if not batch.events:
                self.commit(src.skey, batch, fd, Counter())
            elif not self._send(src, st, batch, fd, bool(p and p.get("unsure"))):
                return max(1, size - st.end), False
            st.fail_count = 0
            return size - st.end, True
        finally:
            os.close(fd)

    def _read(self, fd: int, src: Source, st: _Stream, size: int) -> Batch | None:
        start, data, raws, consumed, times = stamps.read_followed(
            self.store, src.group, src.stream, fd, st, size, time.monotonic(), READ_BYTES
        )
        if not raws:
            return None
        batch, taken = cut_batch(
            src.group, src.stream, src, start, raws, times, self.cfg.batch_events
        )
        if taken == len(raws):
            batch.end = start + consumed  # a skipped newline or an over-long line's tail
        batch.raw = data[: batch.end - start]
        return batch

    def _reread(self, fd: int, src: Source, start: int, end: int) -> Batch:
        """The events of [start, end) exactly as they were cut into the pending batch."""
        at, data, raws, _, times = stamps.read_events(
            self.store, src.group, src.stream, fd, start, end, PARTIAL_LINE_GRACE, end - start
        )
        batch, _ = cut_batch(src.group, src.stream, src, at, raws, times, max(1, len(raws)))
        batch.start, batch.end = start, end
        batch.raw = (b"\n" if at > start else b"") + data  # at > start: it skipped a taken newline
        return batch

    def _send(self, src: Source, st: _Stream, batch: Batch, fd: int, unsure: bool) -> bool:
        """PutLogEvents with backoff, then commit. `unsure`: an earlier send of this batch may have
        landed, so the destination is asked first. False if the stream must wait (stop, refusal)."""
        self.pending[src.skey] = {
            "group": src.group,
            "stream": src.stream,
            "at": st.end,
            "start": batch.start,
            "end": batch.end,
            "events": len(batch.events),
            "unsure": unsure,
        }
        self._write()  # the intent is durable before anything can reach the destination
        attempt = 0
        while not self._stop.is_set():
            try:
                if unsure:
                    if self.settle and attempt == 0:
                        self._stop.wait(self.settle)
                    if self._landed(src, batch):
                        self.run_counts.recovered += 1
                        log.info(
                            "%s/%s: a batch sent before (outcome unknown) had landed; not resending",
                            src.group,
                            src.stream,
                        )
                        self._committed(src, batch, fd, {})
                        return True
                    self.run_counts.resent += 1
                    unsure = False
                    self.pending[src.skey]["unsure"] = False
                    self._write()
                self.dest.ensure(src.group, src.stream)
                resp = self.dest.put(src.group, src.stream, batch.events)
            except Exception as e:
                known = outcome_known(e)
                if error_code(e) == "DataAlreadyAcceptedException":  # an older endpoint's "landed"
                    self.run_counts.recovered += 1
                    self._committed(src, batch, fd, {})
                    return True
                if error_code(e) == "ResourceNotFoundException":
                    self.dest.forget(src.group, src.stream)
                    known = True  # the put found no stream: nothing stored; create and resend
                self._error(e)
                if known is None and not unsure:
                    unsure = True
                    self.pending[src.skey]["unsure"] = True
                    self._write()
                if known is False:
                    # a refusal a resend will not fix (access, a bad batch): the stream waits and
                    # says why; other streams go on. Its pending record stays as it is.
                    st.fail_count += 1
                    st.fail_until = time.monotonic() + min(300.0, 2.0**st.fail_count)
                    return False
                if error_code(e) in ("ThrottlingException", "Throttling"):
                    self.run_counts.throttled += 1
                self.run_counts.retries += 1
                self.write_status()
                self._stop.wait(backoff(attempt))
                attempt += 1
                continue
            self._committed(src, batch, fd, resp.get("rejectedLogEventsInfo") or {})
            return True
        return False

    def _committed(self, src: Source, batch: Batch, fd: int, info: dict) -> None:
        rejected = rejected_counts(info, batch.events, int(time.time() * 1000))
        if rejected:
            log.warning(
                "%s/%s: the destination rejected %s of a batch of %d (from %d ms)",
                src.group,
                src.stream,
                ", ".join(f"{v} {k}" for k, v in sorted(rejected.items())),
                len(batch.events),
                batch.events[0]["timestamp"],
            )
        self.commit(src.skey, batch, fd, rejected)
        self.run_counts.last_batch_at = int(time.time() * 1000)

    # ---- did a batch land? ---------------------------------------------------------------------

    def _landed(self, src: Source, batch: Batch) -> bool:
        """Did this batch reach the destination? PutLogEvents stores all of a batch or none of it
        (less what it rejects), so one of its (timestamp, message) pairs found there more often
        than the stream held it before the batch proves the call succeeded."""
        keys = batch.keys()
        lo = min(k[0] for k in keys)
        hi = max(k[0] for k in keys)
        there = self.dest.counts(src.group, src.stream, lo, hi, set(keys))
        if not there:
            return False
        before = self._prior(src, batch.start, lo, hi, set(keys))
        return any(there[k] > before[k] for k in keys)

    def _prior(self, src: Source, upto: int, lo: int, hi: int, keys: set) -> Counter:
        """How often each key occurs among the stream's visible events before `upto` (sent before)."""
        got: Counter = Counter()
        fd = self._open(src)
        if fd is None:
            return got
        try:
            pos = src.from_offset
            times = stamps.book(self.store).times(src.group, src.stream, fd, upto)
            while pos < upto:
                at, _, raws, consumed, _ = stamps.read_events(
                    self.store, src.group, src.stream, fd, pos, upto, PARTIAL_LINE_GRACE, READ_BYTES
                )
                if not consumed:
                    break
                for w in wire_events(src.group, src.stream, src, at, raws, times):
                    if w:
                        k = (w[0]["timestamp"], w[0]["message"])
                        if lo <= k[0] <= hi and k in keys:
                            got[k] += 1
                pos = at + consumed
        finally:
            os.close(fd)
        return got

    # ---- status --------------------------------------------------------------------------------

    def _error(self, e: BaseException) -> None:
        text = f"{error_code(e)}: {e}"[:500]
        if text != self.run_counts.last_error:
            log.warning("forward: %s", text)
        self.run_counts.last_error = text
        self.run_counts.last_error_at = int(time.time() * 1000)

    def status(self) -> dict:
        c = self.run_counts
        return {
            "destination": self.cfg.label,
            "endpoint": self.cfg.endpoint,
            "groups": list(self.cfg.groups),
            "pid": os.getpid(),
            "startedAt": self.started_at,
            "updatedAt": int(time.time() * 1000),
            "streams": c.streams,
            "eventsForwarded": self.totals["events"],
            "batches": self.totals["batches"],
            "rejected": {k: self.totals[k] for k in ("tooOld", "tooNew", "expired")},
            "skippedEmpty": self.totals["skippedEmpty"],
            "truncated": self.totals["truncated"],
            "lagBytes": c.lag_bytes,
            "streamsBehind": c.behind,
            "caughtUp": c.behind == 0 and not self.pending,
            "retries": c.retries,
            "throttled": c.throttled,
            "recovered": c.recovered,
            "resent": c.resent,
            "lastBatchAt": c.last_batch_at,
            "lastError": c.last_error,
            "lastErrorAt": c.last_error_at,
        }

    def write_status(self, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last_status < STATUS_EVERY and self.run_counts.behind:
            return
        self._last_status = now
        doc = self.status()
        doc["stopped"] = final
        try:
            with safeio.under(self.store.root, *self.dir, create=True) as dfd:
                safeio.write_atomic(dfd, "status.json", json.dumps(doc).encode())
        except OSError as e:
            log.warning("could not write the forward status: %s", e)


def backoff(attempt: int, base: float = 0.05, cap: float = 20.0) -> float:
    """Full jitter: a random wait up to base * 2**attempt (capped), so many forwarders spread out."""
    return random.uniform(0, min(cap, base * 2**attempt))


def rejected_counts(info: dict, events: list[dict], now_ms: int) -> Counter:
    """How many events of the batch the destination refused, by reason.

    AWS: `tooOldLogEventEndIndex` and `expiredLogEventEndIndex` are exclusive ends (one too-old
    event gives 1), `tooNewLogEventStartIndex` an inclusive start. moto reports the index of the
    *last* too-old and too-new event instead, so when the destination says some were refused, the
    count is never below the events outside AWS's window (14 days back, 2 hours ahead) by this clock.
    """
    out: Counter = Counter()
    n = len(events)
    if "tooOldLogEventEndIndex" in info:
        by_clock = sum(1 for e in events if e["timestamp"] < now_ms - limits.TOO_OLD_MS)
        out["tooOld"] = min(n, max(int(info["tooOldLogEventEndIndex"]), by_clock, 1))
    if "expiredLogEventEndIndex" in info:
        out["expired"] = max(0, min(n, int(info["expiredLogEventEndIndex"])) - out["tooOld"])
    if "tooNewLogEventStartIndex" in info:
        by_clock = sum(1 for e in events if e["timestamp"] > now_ms + limits.TOO_NEW_MS)
        out["tooNew"] = min(n, max(n - int(info["tooNewLogEventStartIndex"]), by_clock, 1))
    return +out


# ---- status for /healthz and the CLI -------------------------------------------------------------


def statuses(root: Path | str) -> list[dict]:
    """Every destination's last status under `<data>/forward`, with `running` (its lock is held)."""
    out = []
    try:
        with safeio.under(root, FOLDER) as dfd:
            ids = sorted(e.name for e in os.scandir(dfd) if e.is_dir(follow_symlinks=False))
    except OSError:
        return out
    for dest_id in ids:
        try:
            with safeio.under(root, FOLDER, dest_id) as dfd:
                doc = json.loads(safeio.read_bytes(dfd, "status.json") or b"{}")
        except (OSError, ValueError):
            continue
        if not doc:
            continue
        pid = locks.holder(root, FOLDER, dest_id, ".lock")
        doc["running"] = pid is not None
        doc["id"] = dest_id
        err, ok = doc.get("lastErrorAt"), doc.get("lastBatchAt")
        doc["failing"] = bool(doc["running"] and err and (ok is None or err > ok))
        if doc["running"]:
            doc["lagSeconds"] = lag_seconds(doc)
        out.append(doc)
    return out


PRIVATE_STATUS = ("destination", "endpoint", "groups", "lastError", "pid")


def public_status(doc: dict) -> dict:
    """A status without where the logs go, which groups, error texts or the pid (for a server
    whose /healthz must not tell them without the token); `failing` still says an error is current."""
    return {k: v for k, v in doc.items() if k not in PRIVATE_STATUS}


def lag_seconds(doc: dict) -> float | None:
    """Seconds since the forwarder was last level with the files (0 when it is)."""
    if doc.get("caughtUp"):
        return 0.0
    last = doc.get("lastBatchAt") or doc.get("startedAt")
    return None if last is None else max(0.0, round(time.time() - last / 1000, 1))


__all__ = [
    "Batch",
    "Busy",
    "Destination",
    "ForwardConfig",
    "Forwarder",
    "make_config",
    "section_from_project",
    "statuses",
]
