"""Retention: reclaims the disk space of events older than their group's retentionInDays.

Owns: deciding, per stream, the byte offset before which every event is expired, recording it
(`Store.set_expired_offset`) and then having the store punch those bytes out of the file
(`Store.punch_hole`: the store owns every write to a stream file). Never rewrites or
truncates a stream file and never touches the index: offsets and event ids stay stable, the
ingester keeps appending, and readers skip the hole because they read the recorded offset
(visibility.py `Source.from_offset`). Reads hide expired events on their own (visibility.py), so
this job only frees storage; AWS likewise deletes expired events lazily.

Why punch holes (fallocate FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) and not rewrite files:
the file keeps its inode, size and first bytes, so the ingester's rotation check (inode + head
hash) still sees the same file, and appends from other processes never race with a copy.
"""

from __future__ import annotations

import errno
import logging

from logsvc.errors import LogsvcError
from logsvc.model import retention_cutoff, stream_key

log = logging.getLogger("logsvc.retention")

PAGE = 4096
HEAD_KEPT = (
    4096  # the ingester hashes the file's first bytes to tell a rewritten file from an appended one
)
_unsupported_warned = False


def expired_offset(blocks: list, cutoff: int) -> int:
    """The largest chunk start before which every chunk's newest event is older than `cutoff`.

    Chunks are walked in file order and the walk stops at the first chunk holding anything
    younger, so an out-of-order old line after a young one is kept (safe, never lost early).
    """
    offset = 0
    for b in sorted(blocks, key=lambda b: b.start):
        if b.start != offset and offset != 0:
            return offset  # a gap in the index: stop before it
        for i in range(len(b.c_start)):
            if b.c_max[i] >= cutoff:
                return b.c_start[i]
        offset = b.end
    return offset


def with_policy(store) -> list:
    """The groups a retention pass has work in (those with a retention policy)."""
    return [g for g in store.list_groups() if g.retention_days]


def enforce(store, snapshot, now_ms: int, groups: list) -> int:
    """One retention pass over `groups` (`with_policy`: the caller reads the blocks only when there
    are any); returns the bytes freed."""
    global _unsupported_warned
    freed = 0
    for group in groups:
        cutoff = retention_cutoff(group.retention_days, now_ms)
        _, done = store.retention(group.name)
        try:
            streams = store.list_streams(group.name)
        except LogsvcError:
            continue
        for info in streams:
            blocks = snapshot.stream_blocks(stream_key(group.name, info.name))
            if not blocks:
                continue
            if any(b.ino != info.ino for b in blocks):
                continue  # the index still describes an older file under this name
            offset = expired_offset(blocks, cutoff)
            if offset <= done.get(info.name, 0):
                continue
            # record first, punch second: from this moment no reader looks below `offset`
            store.set_expired_offset(group.name, info.name, offset)
            try:
                freed += store.punch_hole(
                    group.name, info.name, HEAD_KEPT, offset // PAGE * PAGE, info.ino
                )
            except OSError as e:
                if e.errno in (errno.EOPNOTSUPP, errno.ENOSYS) and not _unsupported_warned:
                    _unsupported_warned = True
                    log.warning(
                        "this file system cannot punch holes; expired events are hidden but keep their space"
                    )
                elif e.errno not in (errno.EOPNOTSUPP, errno.ENOSYS):
                    log.warning(
                        "could not reclaim expired bytes of %s / %s: %s", group.name, info.name, e
                    )
    return freed
