"""Table streams: one event source mapping delivers a table's changes to a function.

Owns ordered batches (batch size, batching window), retries, bisection on error, partial batch
failures (ReportBatchItemFailures), the on-failure record, checkpoints (`<table>.<function>.checkpoint`)
and the memory bound on changes waiting (past it, the change log on disk is read back). Never
writes a table (tables.py does) and never writes log streams except the invoker's system line.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from logsvc import safeio
from logsvc.invoker.containers import TooManyRequests
from logsvc.invoker.functions import REGION, TableTrigger
from logsvc.invoker.tables import LocalTable, to_image

log = logging.getLogger("logsvc.invoker")


PENDING_BYTES = (
    8 * 1024 * 1024
)  # changes a table consumer holds in memory; the rest waits in the change log


def _change_size(ch: dict[str, Any]) -> int:
    return len(json.dumps(ch, separators=(",", ":"))) + 64


class StreamConsumer:
    """One event source mapping: delivers a table's changes to a function in ordered batches."""

    def __init__(
        self, invoker: Any, table: LocalTable, trigger: TableTrigger, directory: Path
    ) -> None:
        self.invoker = invoker
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
                while (
                    len(self.pending) < t.batch_size and not self.behind and not self.stop.is_set()
                ):
                    remaining = self.pending[0][0] + t.batching_window - time.monotonic()
                    if remaining <= 0:
                        break
                    self.cond.wait(remaining)
                batch = [ch for _, ch, _ in list(itertools.islice(self.pending, t.batch_size))]
            try:
                self._deliver(batch)
            except Exception:
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
                    part = part[
                        failed_from:
                    ]  # checkpoint at the lowest failed item (ReportBatchItemFailures)
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
        fn = self.invoker.function(t.function)
        while not self.stop.is_set():
            try:
                outcome = self.invoker.invoke_sync(
                    t.function, payload, trigger=trigger, wait=fn.timeout + 5
                )
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
        self.invoker.system_line(
            f"Table stream {self.table.table.name} -> {t.function}: gave up on {len(part)} record(s) "
            f"(sequence {part[0]['seq']}..{part[-1]['seq']}) after {attempts} attempt(s)"
        )
        if not t.on_failure:
            return
        first, last = self.record(part[0]), self.record(part[-1])
        info = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.invoker.function(t.function).arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "DDBStreamBatchInfo": {
                "shardId": "shardId-00000000000000000000-00000000",
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(part[0]["ts"])
                ),
                "approximateArrivalOfLastRecord": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(part[-1]["ts"])
                ),
                "batchSize": len(part),
                "streamArn": self.table.stream_arn,
            },
        }
        try:
            self.invoker.invoke_async(
                t.on_failure,
                json.dumps(info).encode(),
                trigger={
                    "type": "destination",
                    "source": t.function,
                    "condition": "RetryAttemptsExhausted",
                },
            )
        except TooManyRequests as e:
            log.warning(
                "table %s: dropped the on-failure record for %s: %s",
                self.table.table.name,
                t.on_failure,
                e.message,
            )

    def close(self) -> None:
        self.stop.set()
        with self.cond:
            self.cond.notify_all()
        self.thread.join(timeout=5)
