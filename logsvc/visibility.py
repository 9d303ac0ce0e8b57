"""Which events a read may show: the one decision every read path goes through.

An event of stream S in group G is visible when
- S is a stream of G now (its file exists; a deleted group or stream shows nothing, and the index's
  blocks of an older file under the same name are ignored: `block_is_current`),
- its bytes start at or after S's expired offset (the retention pass punches the bytes below it out
  of the file; they read back as NULs, so no reader may look there: `Source.from_offset`),
- its time is not older than G's retention cutoff (`Source.since`).

`sources` builds the `Source` of every stream a read covers, reading each group's retention once;
`visible` and `block_is_current` are the checks. Events (REST, search, context, histogram, export,
tail and its `since` replay, the CloudWatch operations) all read through these.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from logsvc import names
from logsvc.model import stream_key
from logsvc.store import Store

NEG_INF = -(2**62)


@dataclass(frozen=True, slots=True)
class Source:
    group: str
    stream: str
    skey: str
    path: str
    since: int = NEG_INF  # retention cutoff: older events are expired
    from_offset: int = 0  # bytes before this were reclaimed by the retention job (may be NULs)


def visible(src: Source, timestamp: int, offset: int) -> bool:
    """May an event of `src` with this time and start offset be shown?"""
    return offset >= src.from_offset and timestamp >= src.since


def block_is_current(block, ino: int, head: bytes | None = None) -> bool:
    """Does an index block describe the file now at the stream's path (not a deleted predecessor)?

    The inode tells a replaced file; `head` (the file's first bytes now) tells one truncated and
    rewritten in place (copytruncate) before the ingester looked again.
    """
    if block.ino and ino and block.ino != ino:
        return False
    if head is not None and block.head:
        want = bytes.fromhex(block.head)
        return head[: len(want)] == want
    return True


class _Retention:
    """Each group's (cutoff, expired offsets), read once per listing."""

    def __init__(self, store: Store, groups: Iterable[str] = ()) -> None:
        """`groups`: read now, all at once (`Store.retentions`); any other is read when asked."""
        self.store = store
        self._cache: dict[str, tuple[int, dict[str, int]]] = {}
        if groups:
            for g, (cutoff, expired) in store.retentions(groups).items():
                self._cache[g] = (NEG_INF if cutoff is None else cutoff, expired)

    def source(self, group: str, stream: str, path: str) -> Source:
        got = self._cache.get(group)
        if got is None:
            cutoff, expired = self.store.retention(group)
            got = self._cache[group] = (NEG_INF if cutoff is None else cutoff, expired)
        return Source(group, stream, stream_key(group, stream), path, got[0], got[1].get(stream, 0))


def sources(
    store: Store,
    groups: Iterable[str],
    streams: Iterable[str] = (),
    stream_prefix: str | None = None,
) -> list[Source]:
    """The sources of `streams` (or every stream, optionally by prefix) of each group.

    :raises NotFound: for an unknown group or a named stream that does not exist.
    """
    groups = list(dict.fromkeys(groups))
    for g in groups:
        names.validate_group(g)
    ret = _Retention(store, groups)  # every group's at once: the folders opened once, not per group
    streams = list(dict.fromkeys(streams))
    out: list[Source] = []
    for g in groups:
        if streams:
            for s in streams:
                names.validate_stream(s)
                store.get_stream(g, s)
                out.append(ret.source(g, s, str(store.stream_file(g, s))))
        else:
            for info in store.list_streams(g):
                if stream_prefix and not info.name.startswith(stream_prefix):
                    continue
                out.append(ret.source(g, info.name, info.path))
    return out


def all_sources(store: Store) -> list[Source]:
    """Every stream of every group a user made: internal groups (`names.hidden`) are left out."""
    files = [(g, s, p) for g, s, p in store.iter_stream_files() if not names.hidden(g)]
    ret = _Retention(store, dict.fromkeys(g for g, _, _ in files))
    return [ret.source(g, s, str(p)) for g, s, p in files]


def source(store: Store, group: str, stream: str) -> Source:
    """One existing stream. :raises NotFound:"""
    return sources(store, [group], [stream])[0]


def source_unchecked(store: Store, group: str, stream: str) -> Source:
    """The source of a stream the caller just listed (no existence check)."""
    return _Retention(store).source(group, stream, str(store.stream_file(group, stream)))


def listed_sources(store: Store, group: str, infos: Iterable) -> list[Source]:
    """The sources of streams the caller just listed (`Store.list_streams`), without listing again."""
    ret = _Retention(store)
    return [
        ret.source(group, i.name, i.path or str(store.stream_file(group, i.name))) for i in infos
    ]
