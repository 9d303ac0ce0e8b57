"""Shapes that cross module boundaries. Frozen dataclasses; no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One event as every reader returns it.

    `event_id` is derived from the stream and the byte offset of the event's first line, so
    reading the same bytes again (after a crash, or a reindex) yields the same id.
    """

    group: str
    stream: str
    offset: int
    timestamp: int
    ingestion_time: int
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    end: int = 0

    @property
    def event_id(self) -> str:
        return make_event_id(self.group, self.stream, self.offset)

    def to_json(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "group": self.group,
            "stream": self.stream,
            "timestamp": self.timestamp,
            "ingestionTime": self.ingestion_time,
            "message": self.message,
            "fields": self.fields,
        }


def make_event_id(group: str, stream: str, offset: int) -> str:
    """A stable, opaque id: a hash of the stream identity plus the byte offset.

    The offset comes first (zero-padded) so ids of one stream sort in file order.
    """
    import hashlib

    digest = hashlib.blake2b(f"{group}\0{stream}".encode(), digest_size=8).hexdigest()
    return f"{offset:016d}{digest}"


@dataclass(frozen=True, slots=True)
class GroupInfo:
    name: str
    creation_time: int
    retention_days: int | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamInfo:
    group: str
    name: str
    creation_time: int
    size: int
    mtime_ms: int
    path: str = ""
