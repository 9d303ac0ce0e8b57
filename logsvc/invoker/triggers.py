"""Triggers: outside changes turned into the event shapes AWS sends, then into invocations.

Owns three sources: HTTP routes (API Gateway HTTP API, payload format 2.0, invoked synchronously),
bucket directories watched with watchdog (S3 notification records, invoked asynchronously) and
small local tables whose changes feed DynamoDB-Streams-shaped batches to consumers (batch size,
batching window, retries, bisection, in order). Tables persist as JSON-lines change logs under
`<data>/tables/`; checkpoints say what each consumer has processed. Never writes log streams
(the invoker and containers do) and never touches the index.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import stat
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logsvc import safeio
from logsvc.errors import InvalidParameter, NotFound, StorageError
from logsvc.invoker.containers import TooManyRequests
from logsvc.invoker.functions import BucketTrigger, HttpRoute, Table, TableTrigger

log = logging.getLogger("logsvc.invoker")

REGION = "us-east-1"
ACCOUNT = "000000000000"


# ---- HTTP (API Gateway HTTP API, payload 2.0) ---------------------------------------------------------


@dataclass(frozen=True)
class _CompiledRoute:
    route: HttpRoute
    regex: re.Pattern[str]
    specificity: tuple[int, int, int]


class Router:
    """Matches `METHOD /path` to a route the way API Gateway prefers: the most specific route wins."""

    def __init__(self, routes: tuple[HttpRoute, ...] | list[HttpRoute]) -> None:
        compiled = []
        for r in routes:
            parts, static, params, greedy = [], 0, 0, 0
            for seg in r.path.strip("/").split("/") if r.path.strip("/") else []:
                if seg.startswith("{") and seg.endswith("+}"):
                    parts.append(f"(?P<{seg[1:-2]}>.+)")
                    greedy += 1
                elif seg.startswith("{"):
                    parts.append(f"(?P<{seg[1:-1]}>[^/]+)")
                    params += 1
                else:
                    parts.append(re.escape(seg))
                    static += 1
            regex = re.compile("/" + "/".join(parts) + "/?")
            compiled.append(_CompiledRoute(r, regex, (greedy, -static, params)))
        compiled.sort(key=lambda c: (c.specificity, c.route.method == "ANY"))
        self.routes = compiled

    def match(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        for c in self.routes:
            if c.route.method not in (method, "ANY"):
                continue
            m = c.regex.fullmatch(path)
            if m:
                return c.route, {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
        return None


def http_event(
    route: HttpRoute,
    params: dict[str, str],
    method: str,
    path: str,
    raw_query: str,
    headers: dict[str, str],
    body: bytes,
    source_ip: str,
) -> dict[str, Any]:
    """The payload-2.0 event API Gateway HTTP APIs send (lower-case headers, comma-joined duplicates)."""
    lower: dict[str, str] = {}
    for k, v in headers.items():
        k = k.lower()
        lower[k] = f"{lower[k]},{v}" if k in lower else v
    cookies = [c.strip() for c in lower.pop("cookie", "").split(";") if c.strip()]
    query: dict[str, str] = {}
    for k, v in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        query[k] = f"{query[k]},{v}" if k in query else v
    is_text = _is_text(lower.get("content-type", ""))
    now = time.time()
    route_key = f"{route.method if route.method != 'ANY' else 'ANY'} {route.path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": lower,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "logsvc",
            "domainName": lower.get("host", "localhost"),
            "domainPrefix": lower.get("host", "localhost").split(".")[0].split(":")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lower.get("user-agent", ""),
            },
            "requestId": base64.urlsafe_b64encode(os.urandom(9)).decode(),
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": bool(body) and not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if body:
        event["body"] = body.decode("utf-8", "replace") if is_text else base64.b64encode(body).decode()
    return event


def _is_text(content_type: str) -> bool:
    ct = content_type.split(";")[0].strip().lower()
    return (
        not ct
        or ct.startswith("text/")
        or ct in ("application/json", "application/xml", "application/x-www-form-urlencoded", "application/javascript")
        or ct.endswith("+json")
        or ct.endswith("+xml")
    )


def http_response(body: bytes, failed: bool) -> tuple[int, list[tuple[str, str]], bytes]:
    """Map a function's result to the HTTP response API Gateway (payload 2.0) would send.

    A dict with `statusCode` is used as given; any other valid JSON is the body of a 200
    `application/json` response (a string is sent as-is). Errors become 502, as on AWS.
    """
    if failed:
        return 502, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}'
    try:
        result = json.loads(body)
    except ValueError:
        return 502, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}'
    if not (isinstance(result, dict) and "statusCode" in result):
        text = result if isinstance(result, str) else json.dumps(result)
        return 200, [("Content-Type", "application/json")], text.encode()
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        return 502, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}'
    headers: list[tuple[str, str]] = []
    for k, v in (result.get("headers") or {}).items():
        headers.append((str(k), str(v)))
    for k, vs in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(k), str(v)) for v in vs)
    for cookie in result.get("cookies") or []:
        headers.append(("Set-Cookie", str(cookie)))
    raw = result.get("body")
    if raw is None:
        data = b""
    elif not isinstance(raw, str):
        data = json.dumps(raw).encode()
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw)
        except ValueError:
            return 502, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}'
    else:
        data = raw.encode()
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return status, headers, data


# ---- buckets (S3 notifications) -----------------------------------------------------------------------


def bucket_object(root: Path, path: Path) -> tuple[int, str] | None:
    """(size, eTag) of a bucket object, or None when `path` is not a regular file inside `root`.

    A bucket object is a regular file reached without any symlink (a link could point anywhere on
    the machine); it is hashed in 1 MiB pieces, so a 1 GB object costs 1 MiB of memory, not 1 GB.
    """
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    if os.path.realpath(path) != os.path.join(os.path.realpath(root), *rel.parts):
        return None  # a directory on the way is a symlink
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb", buffering=0) as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        digest = hashlib.md5()  # noqa: S324 - S3's eTag, not security
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return st.st_size, digest.hexdigest()


def s3_record(bucket: str, key: str, event_name: str, facts: tuple[int, str] | None, sequencer: str) -> dict[str, Any]:
    """One S3 notification record; delete records carry no size or eTag, as on S3."""
    obj: dict[str, Any] = {"key": urllib.parse.quote_plus(key, safe="/"), "sequencer": sequencer}
    if event_name.startswith("ObjectCreated") and facts is not None:
        obj = {"key": obj["key"], "size": facts[0], "eTag": facts[1], "sequencer": sequencer}
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:LOGSVC"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": os.urandom(8).hex().upper(), "x-amz-id-2": base64.b64encode(os.urandom(24)).decode()},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "logsvc",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "LOGSVC"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


class _BucketHandler:
    """watchdog handler for one bucket directory.

    Close-after-write is a Put. A rename inside the bucket is a Copy of the new key plus a Delete of
    the old one (S3 has no rename). A file that appears without a close-after-write (moved in from
    elsewhere, or written before the watch on a new subdirectory existed) becomes a Put once its
    mtime has been still for a moment.
    """

    SETTLE = 0.3

    def __init__(self, triggers: Triggers, bucket: str, root: Path) -> None:
        self.triggers, self.bucket, self.root = triggers, bucket, root
        self._pending: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()

    def dispatch(self, event: Any) -> None:
        kind = event.event_type
        src = os.fsdecode(event.src_path)
        if event.is_directory:
            if kind == "created":  # files written before the new directory's watch existed
                for dirpath, _, files in os.walk(src):
                    for name in files:
                        self._settle_later(os.path.join(dirpath, name))
            return
        if kind == "created":
            self._settle_later(src)
        elif kind == "closed":
            self._cancel(src)
            self._emit(src, "ObjectCreated:Put")
        elif kind == "deleted":
            self._cancel(src)
            self._emit(src, "ObjectRemoved:Delete")
        elif kind == "moved":
            self._cancel(src)
            if self._key(src) is not None:
                self._emit(src, "ObjectRemoved:Delete")
            self._emit(os.fsdecode(event.dest_path), "ObjectCreated:Copy")

    def _settle_later(self, path: str) -> None:
        with self._lock:
            if path in self._pending:
                return
            timer = threading.Timer(self.SETTLE, self._settled, (path,))
            timer.daemon = True
            self._pending[path] = timer
        timer.start()

    def _settled(self, path: str) -> None:
        try:
            still = time.time() - os.stat(path).st_mtime >= self.SETTLE
        except OSError:
            self._cancel(path)
            return
        with self._lock:
            if path not in self._pending:
                return
            if not still:
                timer = threading.Timer(self.SETTLE, self._settled, (path,))
                timer.daemon = True
                self._pending[path] = timer
                timer.start()
                return
            del self._pending[path]
        self._emit(path, "ObjectCreated:Put")

    def _cancel(self, path: str) -> None:
        with self._lock:
            timer = self._pending.pop(path, None)
        if timer is not None:
            timer.cancel()

    def close(self) -> None:
        with self._lock:
            timers, self._pending = list(self._pending.values()), {}
        for t in timers:
            t.cancel()

    def _key(self, path: str | bytes) -> str | None:
        p = Path(os.fsdecode(path))
        try:
            rel = p.relative_to(self.root)
        except ValueError:
            return None
        return rel.as_posix()

    def _emit(self, path: str | bytes, event_name: str) -> None:
        key = self._key(path)
        if key is None:
            return
        facts = None
        if event_name.startswith("ObjectCreated"):
            facts = bucket_object(self.root, Path(os.fsdecode(path)))
            if facts is None:
                return  # a symlink, a FIFO, a device: not an object
        self.triggers.bucket_event(self.bucket, key, event_name, facts)


# ---- tables (DynamoDB Streams) ----------------------------------------------------------------------


def to_attr(value: Any) -> dict[str, Any]:
    """Plain JSON -> DynamoDB's typed AttributeValue JSON."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": json.dumps(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [to_attr(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {k: to_attr(v) for k, v in value.items()}}
    raise InvalidParameter(f"cannot store a {type(value).__name__} in a table item", field="item")


def to_image(item: dict[str, Any]) -> dict[str, Any]:
    return {k: to_attr(v) for k, v in item.items()}


_SEQ_RE = re.compile(rb'\{"seq": (\d+),')


class LocalTable:
    """A key-value table whose every change is a stream record. State = replay of its change log."""

    def __init__(self, table: Table, directory: Path) -> None:
        self.table = table
        self.directory = directory
        self.path = directory / f"{table.name}.jsonl"
        self.items: dict[str, dict[str, Any]] = {}
        self.seq = 0
        self.lock = threading.Lock()
        self.consumers: list[StreamConsumer] = []
        self.stream_label = time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime())
        with self._dir(create=True):
            pass
        self._replay()

    def _dir(self, create: bool = False):  # noqa: ANN202 - a context manager yielding a folder descriptor
        """`<data>/tables` as a descriptor: files in it are opened through safeio (no symlinks)."""
        return safeio.under(self.directory.parent, self.directory.name, create=create)

    def _changes(self, after: int = 0) -> Any:
        """The change log from disk, one change at a time (no history is held in memory); changes
        numbered `after` or lower are skipped by their leading `{"seq": N` without parsing them."""
        try:
            with self._dir() as dfd:
                fd = safeio.open_file(dfd, self.path.name)
        except FileNotFoundError:
            return
        except safeio.Refused as e:
            log.error("table %s: not reading tables/%s: %s", self.table.name, self.path.name, e.strerror)
            return
        with open(fd, "rb") as f:
            for line in f:
                m = _SEQ_RE.match(line)
                if m is not None and int(m.group(1)) <= after or not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    continue

    def _replay(self) -> None:
        for ch in self._changes():
            self._apply(ch)
            self.seq = max(self.seq, ch["seq"])

    def changes_after(self, seq: int) -> Any:
        """Changes with a sequence number above `seq`, read back from the change log (a consumer behind)."""
        return (ch for ch in self._changes(seq) if ch["seq"] > seq)

    def _apply(self, ch: dict[str, Any]) -> None:
        k = json.dumps(ch["keys"], sort_keys=True)
        if ch["eventName"] == "REMOVE":
            self.items.pop(k, None)
        else:
            self.items[k] = ch["new"]

    @property
    def stream_arn(self) -> str:
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.table.name}/stream/{self.stream_label}"

    def write(self, ops: list[tuple[str, dict[str, Any], dict[str, Any] | None]]) -> list[dict[str, Any]]:
        """Apply ("put", key, item) / ("delete", key, None) operations atomically, in order."""
        out: list[dict[str, Any]] = []
        with self.lock:
            staged = dict(self.items)
            for op, keys, item in ops:
                k = json.dumps(keys, sort_keys=True)
                old = staged.get(k)
                if op == "delete":
                    if old is None:
                        continue
                    name, new = "REMOVE", None
                    staged.pop(k)
                else:
                    name, new = ("MODIFY" if old is not None else "INSERT"), item
                    staged[k] = item
                self.seq += 1
                out.append({"seq": self.seq, "ts": time.time(), "eventName": name, "keys": keys, "new": new, "old": old})
            if out:
                data = b"".join(json.dumps(ch).encode() + b"\n" for ch in out)
                try:
                    with self._dir() as dfd:
                        fd = safeio.open_file(dfd, self.path.name, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                except safeio.Refused as e:
                    raise StorageError(f"table {self.table.name!r}: tables/{e.strerror}") from None
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
                self.items = staged
                for c in self.consumers:
                    c.offer(out)
        return out

    def put(self, items: list[dict[str, Any]]) -> int:
        """:raises InvalidParameter: for an item without the key attributes."""
        ops = []
        for item in items:
            if not isinstance(item, dict):
                raise InvalidParameter("each item must be a JSON object", field="item")
            to_image(item)
            ops.append(("put", self.table.key_of(item), item))
        return len(self.write(ops))

    def update(self, key: dict[str, Any], set_: dict[str, Any], remove: list[str]) -> dict[str, Any]:
        """Merge `set_` into the item (creating it) and drop `remove` attributes. :raises InvalidParameter:"""
        keys = self.table.key_of(key)
        with self.lock:
            current = dict(self.items.get(json.dumps(keys, sort_keys=True)) or keys)
        current.update(set_ or {})
        for name in remove or []:
            if name in keys:
                raise InvalidParameter(f"cannot remove key attribute {name!r}", field="remove")
            current.pop(name, None)
        self.write([("put", keys, current)])
        return current

    def delete(self, key: dict[str, Any]) -> bool:
        return bool(self.write([("delete", self.table.key_of(key), None)]))

    def scan(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.items.values())


PENDING_BYTES = 8 * 1024 * 1024  # changes a table consumer holds in memory; the rest waits in the change log


def _change_size(ch: dict[str, Any]) -> int:
    return len(json.dumps(ch, separators=(",", ":"))) + 64


class StreamConsumer:
    """One event source mapping: delivers a table's changes to a function in ordered batches."""

    def __init__(self, triggers: Triggers, table: LocalTable, trigger: TableTrigger, directory: Path) -> None:
        self.triggers = triggers
        self.table = table
        self.trigger = trigger
        self.directory = directory
        self.checkpoint_path = directory / f"{table.table.name}.{trigger.function}.checkpoint"
        # pending holds at most PENDING_BYTES of changes; past that the consumer is `behind` and
        # refills from the table's change log on disk (files are the truth), oldest first.
        self.pending: deque[tuple[float, dict[str, Any], int]] = deque()
        self.pending_bytes = 0
        self.behind = False
        self.cond = threading.Condition()
        self.stop = threading.Event()
        try:
            with safeio.under(self.directory.parent, self.directory.name) as dfd:
                done = int(safeio.read_bytes(dfd, self.checkpoint_path.name, 64).strip())
        except (OSError, ValueError):
            done = table.seq  # a new mapping starts at LATEST
            self._checkpoint(done)
        self.last_seq = done  # the newest change taken into pending
        self.behind = table.seq > done
        self.thread = threading.Thread(
            target=self._run, name=f"stream-{table.table.name}-{trigger.function}", daemon=True
        )

    def offer(self, changes: list[dict[str, Any]]) -> None:
        """New changes (called under the table's lock): kept in memory unless that passes the bound."""
        now = time.monotonic()
        with self.cond:
            if not self.behind:  # when behind, they are on disk and the refill reads them in order
                self._take(changes, now)
            self.cond.notify()

    def _take(self, changes: Iterable[dict[str, Any]], now: float) -> None:
        """Hold changes in order until the byte bound; past it the consumer is `behind`."""
        for ch in changes:
            size = _change_size(ch)
            if self.pending and self.pending_bytes + size > PENDING_BYTES:
                self.behind = True
                return
            self.pending.append((now, ch, size))
            self.pending_bytes += size
            self.last_seq = ch["seq"]

    def _refill(self) -> None:
        """Take changes after `last_seq` from the change log until the bound (under the table's lock,
        so no write lands half-read or is offered meanwhile)."""
        now = time.monotonic()
        with self.table.lock, self.cond:
            self.behind = False
            self._take(self.table.changes_after(self.last_seq), now)

    def _checkpoint(self, seq: int) -> None:
        with safeio.under(self.directory.parent, self.directory.name) as dfd:
            safeio.write_atomic(dfd, self.checkpoint_path.name, str(seq).encode())

    def _run(self) -> None:
        t = self.trigger
        while not self.stop.is_set():
            if self.behind and len(self.pending) < t.batch_size:
                self._refill()
            with self.cond:
                while not self.pending and not self.behind and not self.stop.is_set():
                    self.cond.wait()
                if not self.pending:
                    continue
                if self.stop.is_set():
                    return
                # Batching window: wait for a full batch or until the oldest record has waited long enough.
                while len(self.pending) < t.batch_size and not self.behind and not self.stop.is_set():
                    remaining = self.pending[0][0] + t.batching_window - time.monotonic()
                    if remaining <= 0:
                        break
                    self.cond.wait(remaining)
                batch = [ch for _, ch, _ in list(itertools_islice(self.pending, t.batch_size))]
            try:
                self._deliver(batch)
            except Exception:  # noqa: BLE001 - keep the mapping alive whatever one batch does
                log.exception("table stream %s -> %s failed", self.table.table.name, t.function)
                self.stop.wait(t.retry_delay)
                continue
            with self.cond:
                for _ in batch:
                    self.pending_bytes -= self.pending.popleft()[2]
            self._checkpoint(batch[-1]["seq"])

    def record(self, ch: dict[str, Any]) -> dict[str, Any]:
        view = self.table.table.stream_view_type
        keys = to_image(ch["keys"])
        ddb: dict[str, Any] = {"ApproximateCreationDateTime": int(ch["ts"]), "Keys": keys}
        if ch.get("new") is not None and view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            ddb["NewImage"] = to_image(ch["new"])
        if ch.get("old") is not None and view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            ddb["OldImage"] = to_image(ch["old"])
        ddb["SequenceNumber"] = str(10**20 + ch["seq"])
        ddb["SizeBytes"] = len(json.dumps(ddb))
        ddb["StreamViewType"] = view
        return {
            "eventID": hashlib.md5(f"{self.table.table.name}:{ch['seq']}".encode()).hexdigest(),
            "eventName": ch["eventName"],
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": ddb,
            "eventSourceARN": self.table.stream_arn,
        }

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        """Deliver one batch: retry, bisect and hand over to on_failure as configured, never reordering."""
        t = self.trigger
        work: deque[list[dict[str, Any]]] = deque([batch])
        while work and not self.stop.is_set():
            part = work.popleft()
            attempts = 0
            while not self.stop.is_set():
                ok, failed_from = self._invoke(part)
                if ok:
                    break
                if failed_from is not None and failed_from > 0:
                    part = part[failed_from:]  # checkpoint at the lowest failed item (ReportBatchItemFailures)
                attempts += 1
                if t.bisect_on_error and len(part) > 1:
                    mid = len(part) // 2
                    work.appendleft(part[mid:])
                    work.appendleft(part[:mid])
                    break
                if 0 <= t.max_retries < attempts:
                    self._give_up(part, attempts)
                    break
                self.stop.wait(t.retry_delay)

    def _invoke(self, part: list[dict[str, Any]]) -> tuple[bool, int | None]:
        t = self.trigger
        records = [self.record(ch) for ch in part]
        payload = json.dumps({"Records": records}).encode()
        trigger = {
            "type": "table",
            "table": self.table.table.name,
            "batchSize": len(part),
            "firstSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
            "lastSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
        }
        fn = self.triggers.invoker.function(t.function)
        while not self.stop.is_set():
            try:
                outcome = self.triggers.invoker.invoke_sync(t.function, payload, trigger=trigger, wait=fn.timeout + 5)
                break
            except TooManyRequests:
                continue
        else:
            return False, None
        if outcome.status != "success":
            return False, None
        if not t.report_batch_item_failures:
            return True, None
        try:
            failures = (json.loads(outcome.body) or {}).get("batchItemFailures") or []
        except (ValueError, AttributeError):
            return True, None
        if not failures:
            return True, None
        seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
        try:
            idx = min(seqs.index(f["itemIdentifier"]) for f in failures)
        except (ValueError, KeyError, TypeError):
            return False, None  # a bad identifier fails the whole batch, as on AWS
        return False, idx

    def _give_up(self, part: list[dict[str, Any]], attempts: int) -> None:
        t = self.trigger
        self.triggers.invoker._system_line(  # noqa: SLF001 - one system stream for the whole invoker
            f"Table stream {self.table.table.name} -> {t.function}: gave up on {len(part)} record(s) "
            f"(sequence {part[0]['seq']}..{part[-1]['seq']}) after {attempts} attempt(s)"
        )
        if not t.on_failure:
            return
        first, last = self.record(part[0]), self.record(part[-1])
        info = {
            "requestContext": {
                "requestId": str(__import__("uuid").uuid4()),
                "functionArn": self.triggers.invoker.function(t.function).arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "DDBStreamBatchInfo": {
                "shardId": "shardId-00000000000000000000-00000000",
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(part[0]["ts"])),
                "approximateArrivalOfLastRecord": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(part[-1]["ts"])),
                "batchSize": len(part),
                "streamArn": self.table.stream_arn,
            },
        }
        try:
            self.triggers.invoker.invoke_async(
                t.on_failure, json.dumps(info).encode(),
                trigger={"type": "destination", "source": t.function, "condition": "RetryAttemptsExhausted"},
            )
        except TooManyRequests as e:
            log.warning("table %s: dropped the on-failure record for %s: %s", self.table.table.name, t.on_failure, e.message)

    def close(self) -> None:
        self.stop.set()
        with self.cond:
            self.cond.notify_all()
        self.thread.join(timeout=5)


def itertools_islice(seq: deque, n: int) -> list:
    out = []
    for x in seq:
        if len(out) == n:
            break
        out.append(x)
    return out


# ---- wiring -------------------------------------------------------------------------------------------


class Triggers:
    """All triggers of one project, run by the owning invoker process."""

    def __init__(self, invoker: Any) -> None:
        self.invoker = invoker
        project = invoker.project
        self.router = Router(project.routes)
        self.data_dir = Path(invoker.settings.data_dir).resolve()
        self.tables: dict[str, LocalTable] = {}
        self.consumers: list[StreamConsumer] = []
        self._observer: Any = None
        self._handlers: list[_BucketHandler] = []
        self._seq = 0
        self._seq_lock = threading.Lock()

    def start(self) -> None:
        project = self.invoker.project
        tdir = self.data_dir / "tables"
        for name, table in project.tables.items():
            self.tables[name] = LocalTable(table, tdir)
        for trig in project.table_triggers:
            lt = self.tables[trig.table]
            consumer = StreamConsumer(self, lt, trig, tdir)
            lt.consumers.append(consumer)
            self.consumers.append(consumer)
            consumer.thread.start()
        if project.buckets:
            from watchdog.observers import Observer

            self._observer = Observer()
            for bucket in project.buckets.values():
                self._make_bucket_dir(bucket.path)
                handler = _BucketHandler(self, bucket.name, bucket.path.resolve())
                self._handlers.append(handler)
                self._observer.schedule(handler, str(bucket.path.resolve()), recursive=True)
            self._observer.daemon = True
            self._observer.start()

    def _make_bucket_dir(self, path: Path) -> None:
        """Create a bucket's folder; one under the data directory is made without following symlinks."""
        where = Path(os.path.abspath(path))
        for base in (Path(os.path.abspath(self.invoker.settings.data_dir)), self.data_dir):
            if where.is_relative_to(base):
                rel = where.relative_to(base)
                break
        else:
            path.mkdir(parents=True, exist_ok=True)  # the project put it elsewhere: the user's folder
            return
        with safeio.under(self.data_dir, *rel.parts, create=True):
            pass

    def close(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        for h in self._handlers:
            h.close()
        for c in self.consumers:
            c.close()

    # -- buckets --

    def bucket_event(self, bucket: str, key: str, event_name: str, facts: tuple[int, str] | None) -> int:
        """Invoke (async) every function whose notification matches; returns how many."""
        triggers: list[BucketTrigger] = [
            t for t in self.invoker.project.bucket_triggers if t.bucket == bucket and t.matches(key, event_name)
        ]
        if not triggers:
            return 0
        with self._seq_lock:
            self._seq += 1
            sequencer = f"{time.time_ns() // 1000:014X}{self._seq:04X}"
        record = s3_record(bucket, key, event_name, facts, sequencer)
        payload = json.dumps({"Records": [record]}).encode()
        for t in triggers:
            try:
                self.invoker.invoke_async(
                    t.function, payload, trigger={"type": "bucket", "bucket": bucket, "key": key, "eventName": event_name}
                )
            except TooManyRequests as e:
                log.warning("bucket %s: dropped the %s event for %s: %s", bucket, event_name, key, e.message)
        return len(triggers)

    # -- tables --

    def table(self, name: str) -> LocalTable:
        """:raises NotFound:"""
        try:
            return self.tables[name]
        except KeyError:
            raise NotFound(
                f"no table {name!r} in {self.invoker.project.path}", field="table",
                hint="Tables are declared under [tables.NAME] or by a function's table trigger.",
            ) from None
