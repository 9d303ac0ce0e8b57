"""Local tables: key-value items whose every change is a DynamoDB-Streams-shaped record.

Owns a table's change log (`<data>/tables/<name>.jsonl`, JSON lines, opened through safeio), its
state (the replay of that log), atomic batches of writes, and the plain JSON <-> AttributeValue
mapping. Hands new changes to its consumers (streams.py); never invokes functions itself.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from logsvc import safeio
from logsvc.errors import InvalidParameter, StorageError
from logsvc.invoker.functions import ACCOUNT, REGION, Table

log = logging.getLogger("logsvc.invoker")


class ChangeSink(Protocol):
    """Whoever takes a table's new changes (a stream consumer), called under the table's lock."""

    def offer(self, changes: list[dict[str, Any]]) -> None: ...


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
        self.consumers: list[ChangeSink] = []
        self.stream_label = time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime())
        with self._dir(create=True):
            pass
        self._replay()

    def _dir(self, create: bool = False):
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
            log.error(
                "table %s: not reading tables/%s: %s", self.table.name, self.path.name, e.strerror
            )
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

    def write(
        self, ops: list[tuple[str, dict[str, Any], dict[str, Any] | None]]
    ) -> list[dict[str, Any]]:
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
                out.append(
                    {
                        "seq": self.seq,
                        "ts": time.time(),
                        "eventName": name,
                        "keys": keys,
                        "new": new,
                        "old": old,
                    }
                )
            if out:
                data = b"".join(json.dumps(ch).encode() + b"\n" for ch in out)
                try:
                    with self._dir() as dfd:
                        fd = safeio.open_file(
                            dfd, self.path.name, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                        )
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

    def update(
        self, key: dict[str, Any], set_: dict[str, Any], remove: list[str]
    ) -> dict[str, Any]:
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
