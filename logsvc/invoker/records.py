"""Invocation records: one JSON line per invocation attempt in the `/logsvc/invocations` log group.

Owns the record's fields, writing them through the store (files are the truth, so the index and
the console see them like any other log) and answering "which invocations match" by reading
that stream back. Never runs functions and never knows about HTTP.

Record fields: requestId, function, attempt, status (success | error | timeout | crash | throttled |
expired), invocationType, trigger ({"type": api | http | bucket | table | async-retry | destination |
cli, ...}), event (the payload, cut at 8 KB), parentRequestId, logGroup, logStream, start, end
(ms), durationMs, billedDurationMs, initDurationMs, coldStart, maxMemoryUsedMB, errorType.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from logsvc import lines, names, paging
from logsvc.errors import InvalidParameter, NotFound

GROUP = names.INVOCATIONS_GROUP  # hidden from listings by default (names.hidden)
STREAM = "records"
EVENT_LIMIT = 8192
STATUSES = ("success", "error", "timeout", "crash", "throttled", "expired")


# Headers whose values are credentials: a record (served by /api/v1/invocations, searchable as a
# log) keeps that they were sent, never what they were.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
        "x-amz-security-token",
        "x-logsvc-forwarded",
    }
)
REDACTED = "[redacted]"
# the same headers inside the first bytes of an event too big to parse for a record
_SECRET_VALUE_RE = re.compile(
    rb'("(?:'
    + b"|".join(re.escape(h.encode()) for h in sorted(SECRET_HEADERS))
    + rb')"\s*:\s*)"(?:[^"\\]|\\.)*"?',
    re.IGNORECASE,
)


def redact(event: Any) -> Any:
    """An HTTP trigger event with credential headers and cookies replaced by REDACTED."""
    if not isinstance(event, dict):
        return event
    headers = event.get("headers")
    if isinstance(headers, dict):
        event = {
            **event,
            "headers": {
                k: (REDACTED if str(k).lower() in SECRET_HEADERS else v) for k, v in headers.items()
            },
        }
    if isinstance(event.get("cookies"), list):
        event = {**event, "cookies": [REDACTED for _ in event["cookies"]]}
    return event


def compact_event(payload: bytes | str | None) -> Any:
    """The trigger event as stored in a record: parsed JSON (credentials redacted), or a note when it is too big."""
    if payload is None:
        return None
    raw = payload.encode() if isinstance(payload, str) else payload
    if len(raw) > EVENT_LIMIT:
        head = _SECRET_VALUE_RE.sub(rb'\1"' + REDACTED.encode() + rb'"', raw[:512])
        return {"_truncated": True, "bytes": len(raw), "head": head.decode("utf-8", "replace")}
    try:
        return redact(json.loads(raw))
    except ValueError:
        return raw.decode("utf-8", "replace")


class RecordLog:
    """Appends records and reads them back with filters. Thread-safe."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._ready = False
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self.store.ensure_stream(GROUP, STREAM)
                    self._ready = True

    def append(self, record: dict[str, Any]) -> None:
        self._ensure()
        ts = int(record.get("end") or record.get("start") or time.time() * 1000)
        self.store.append_events(GROUP, STREAM, [(ts, json.dumps(record, separators=(",", ":")))])

    def iter_records(self, start_offset: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
        """(byte offset after the line, record) for every record from `start_offset` on."""
        try:
            f = self.store.open_stream(GROUP, STREAM)
        except NotFound:
            return
        with f:
            f.seek(start_offset)
            offset = start_offset
            for line in f:
                offset += len(line)
                if not line.endswith(b"\n"):
                    break  # a line still being written; it will be complete next time
                for ev in lines.split_events(line, flush=True)[0]:  # the one reader of stream lines
                    try:
                        rec = json.loads(lines.time_and_message(ev.text)[1])
                    except ValueError:
                        continue
                    if isinstance(rec, dict):
                        yield offset, rec

    def query(
        self,
        *,
        function: str | None = None,
        status: str | None = None,
        start: int | None = None,
        end: int | None = None,
        parent: str | None = None,
        request_id: str | None = None,
        limit: int = 100,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        """Records matching every given filter, oldest first, with a `nextToken` while more remain.

        :raises InvalidParameter: for a bad limit, status or token.
        """
        if not 1 <= limit <= 1000:
            raise InvalidParameter(
                "limit must be between 1 and 1000", field="limit", rule="1..1000"
            )
        if status is not None and status not in STATUSES:
            raise InvalidParameter(
                f"status must be one of {', '.join(STATUSES)}",
                field="status",
                rule="|".join(STATUSES),
            )
        codec = paging.codec(self.store.root)
        offset = decode_token(codec, next_token) if next_token else 0
        out: list[dict[str, Any]] = []
        token = None
        last_pos = offset
        for pos, rec in self.iter_records(offset):
            if function is not None and rec.get("function") != function:
                continue
            if status is not None and rec.get("status") != status:
                continue
            if parent is not None and rec.get("parentRequestId") != parent:
                continue
            if request_id is not None and rec.get("requestId") != request_id:
                continue
            t = rec.get("start") or 0
            if start is not None and t < start:
                continue
            if end is not None and t >= end:
                continue
            if len(out) == limit:
                token = encode_token(codec, last_pos)
                break
            out.append(rec)
            last_pos = pos
        return {"invocations": out, "nextToken": token}


def encode_token(codec: paging.Codec, offset: int) -> str:
    return codec.encode("invocations", offset)


def decode_token(codec: paging.Codec, token: str) -> int:
    """:raises InvalidParameter: if the token was not made by `encode_token`."""
    offset = codec.decode("invocations", token, message="nextToken is not one this server issued")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidParameter(
            "nextToken is not one this server issued", field="nextToken", rule=paging.RULE
        )
    return offset
