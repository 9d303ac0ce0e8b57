"""The columnar copy on disk: Parquet files under `<data>/columns/` and the manifest that lists them.

Layout: `<data>/columns/manifest.json` and `<data>/columns/<serial>.<group hash>.<yyyy-mm-dd>.parquet`.
Files are immutable; a file holds rows of ONE log group and ONE UTC day (of @timestamp), so a query
window prunes files by name and retention deletes whole files. The manifest is the only truth:
  files    every live file: name, group, day, rows, min/max ts, and the (stream, ident) pairs in it
  streams  per group and stream: [ident hex, end offset, mark hex, mark offset] — every event of
           that file identity with off < end is in the listed files exactly once
           (`Snapshot.covered`); `mark` (the last bytes read before `end`, at `mark offset`) tells
           the builder a file rewritten in place
  retired  files no longer listed, kept until a deadline so queries that took an older snapshot
           can finish reading them; then deleted
It is replaced atomically (`safeio.write_atomic`) after the files it lists are written and
fsynced, so after `kill -9` a file is either listed or garbage (deleted when the builder starts).
Only the builder process (builder.py, holding `<data>/columns.lock`, `locks.COLUMNS`) writes here;
every process reads through `snapshot()`. pyarrow is imported only by the writing functions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from logsvc import locks, safeio

log = logging.getLogger("logsvc.columns")

DIR = "columns"
RETIRED_DIR = "columns.old"  # what `discard` renames the copy to before removing it
MANIFEST = "manifest.json"
VERSION = 2  # 2: the `ns` column (schema.py)
DAY_MS = 86_400_000
RETIRE_GRACE_MS = (
    10 * 60 * 1000
)  # a replaced file stays readable this long for queries already running
# offsets and times rise within a stream: stored as deltas they take ~10% less of the copy than
# dictionary-encoded (measured over the 1M realistic corpus: 52.4 -> 46.9 MB); DuckDB reads both
DELTA_COLUMNS = ("off", "end", "ts", "ingest")
ROW_GROUP = 128 * 1024  # large row groups: small ones made Q1/Q2 ~2x slower (ARCHITECTURE.md)
# zstd level of a compacted file (what stays): 11% smaller than zstd's default level (1) for ~2.3x
# the write time (1M realistic corpus's columns: 29.9 -> 26.7 MB), in the builder's own process
COMPACTED_ZSTD_LEVEL = 9
# zstd level of a round's small files (until a compaction replaces them): 2-4% smaller than the
# default level for 10-20% more write time (two 10M day files cut in rounds' sizes; the whole 10M
# copy before compaction 443 -> 428 MB); level 5 takes 2.5x the time, 9 4.3x, for files that a
# compaction rewrites within minutes
ROUND_ZSTD_LEVEL = 3


def group_hash(group: str) -> str:
    return hashlib.blake2b(group.encode(), digest_size=6).hexdigest()


def ident_key(ident_hex: str) -> str:
    """A short fingerprint of a file identity, for the manifest's per-file (stream, ident) pairs."""
    return hashlib.blake2b(ident_hex.encode(), digest_size=6).hexdigest()


def day_of(ts_ms: int) -> str:
    return (
        datetime.fromtimestamp(ts_ms // 1000, UTC).strftime("%Y-%m-%d")
        if 0 <= ts_ms < 253402300800000
        else "other"
    )


@dataclass(frozen=True, slots=True)
class FileEntry:
    name: str
    group: str
    day: str
    rows: int
    min_ts: int
    max_ts: int
    keys: tuple[tuple[str, str], ...]  # (stream, ident_key) pairs with rows in the file
    # (stream, ident_key, least off, greatest off) of those pairs: a query can tell a file whose
    # every row is visible, and read it without the visibility join (colquery.relation)
    spans: tuple[tuple[str, str, int, int], ...] = ()

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "group": self.group,
            "day": self.day,
            "rows": self.rows,
            "min_ts": self.min_ts,
            "max_ts": self.max_ts,
            "keys": [list(k) for k in self.keys],
            "spans": [list(x) for x in self.spans],
        }

    @classmethod
    def from_json(cls, d: dict) -> FileEntry:
        return cls(
            d["name"],
            d["group"],
            d["day"],
            int(d["rows"]),
            int(d["min_ts"]),
            int(d["max_ts"]),
            tuple((k[0], k[1]) for k in d.get("keys", ())),
            tuple((x[0], x[1], int(x[2]), int(x[3])) for x in d.get("spans", ())),
        )


class Snapshot:
    """One manifest, as read at one moment: immutable; the query side's whole view of the copy."""

    def __init__(self, directory: Path, data: dict | None) -> None:
        data = data or {}
        self.directory = directory
        self.serial = int(data.get("serial", 0))
        self.generation = int(data.get("generation", -1))  # the index generation last followed
        self.entries: list[FileEntry] = [FileEntry.from_json(d) for d in data.get("files", ())]
        self.streams: dict[str, dict[str, list]] = {
            g: dict(s) for g, s in (data.get("streams") or {}).items()
        }
        self.retired: list[list] = [list(r) for r in data.get("retired", ())]

    def files(self, groups: Iterable[str], start_ms: int, end_ms: int) -> list[Path]:
        """Parquet files that may hold rows of these groups with ts in [start_ms, end_ms]."""
        want = set(groups)
        return [
            self.directory / e.name
            for e in self.entries
            if e.group in want and e.max_ts >= start_ms and e.min_ts <= end_ms
        ]

    def covered(self, group: str, stream: str) -> tuple[str, int] | None:
        """(ident hex, end offset): every event of that file identity with off < end is in `files()`
        exactly once; None: nothing of this stream is covered (read it all from the file)."""
        c = self.streams.get(group, {}).get(stream)
        return (c[0], int(c[1])) if c else None

    def to_json(self) -> dict:
        return {
            "version": VERSION,
            "serial": self.serial,
            "generation": self.generation,
            "files": [e.to_json() for e in self.entries],
            "streams": self.streams,
            "retired": self.retired,
        }


_cache_lock = threading.Lock()
_cache: dict[str, tuple[tuple[int, int, int], Snapshot]] = {}


def snapshot(root: Path | str) -> Snapshot:
    """The copy's current manifest under the data directory `root` (empty if there is none). One
    stat when it has not changed since the last call in this process (it is replaced, never edited,
    so a new inode means new content); never waits for the builder."""
    directory = Path(root) / DIR
    path = directory / MANIFEST
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return Snapshot(directory, None)
    key = (st.st_ino, st.st_mtime_ns, st.st_size)
    with _cache_lock:
        hit = _cache.get(str(directory))
        if hit is not None and hit[0] == key:
            return hit[1]
    try:
        with safeio.folder(None, directory) as dfd:
            data = json.loads(safeio.read_bytes(dfd, MANIFEST, 256 << 20))
        if data.get("version") != VERSION:
            raise ValueError(f"manifest version {data.get('version')!r}")
        snap = Snapshot(directory, data)
    except (OSError, ValueError) as e:
        log.warning("columns manifest unreadable (%s): queries read the stream files", e)
        return Snapshot(directory, None)
    with _cache_lock:
        _cache.clear()  # one data directory per process in practice: keep one entry
        _cache[str(directory)] = (key, snap)
    return snap


def discard(root: Path | str) -> None:
    """Drop the whole copy (`logsvc reindex`: the builder rebuilds it from the new index). A rename
    first, so a kill never leaves a manifest listing removed files; the builder removes leftovers."""
    root = Path(root)
    with locks.held(root, *locks.COLUMNS, wait=30.0) as ok:
        if not ok:
            raise RuntimeError("the column builder still runs")
        with safeio.folder(None, root) as rfd:
            safeio.remove(rfd, RETIRED_DIR)
            with contextlib.suppress(FileNotFoundError):
                os.rename(DIR, RETIRED_DIR, src_dir_fd=rfd, dst_dir_fd=rfd)
            safeio.remove(rfd, RETIRED_DIR)  # never follows a symlink


# ---- writing (the builder process only, holding the lock) --------------------------------------


class Writer:
    """The builder's handle on the copy: writes files, swaps the manifest, removes garbage."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        with safeio.folder(None, self.root) as rfd:
            safeio.remove(rfd, RETIRED_DIR)  # a reindex's `discard` cut short
            try:
                os.close(safeio.open_dir(rfd, DIR, create=True))
                safeio.refuse_links_under(self.root / DIR)  # pyarrow writes by path
            except safeio.Refused as e:
                log.error("the columnar copy %s; rebuilding it", e.strerror)
                safeio.remove(rfd, DIR)
                os.close(safeio.open_dir(rfd, DIR, create=True))
        self.directory = self.root / DIR
        self.current = Snapshot(self.directory, None)
        try:
            with safeio.folder(None, self.directory) as dfd:
                data = json.loads(safeio.read_bytes(dfd, MANIFEST, 256 << 20))
            if data.get("version") == VERSION:
                self.current = Snapshot(self.directory, data)
            else:
                log.warning(
                    "columns manifest of version %r: rebuilding the copy", data.get("version")
                )
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as e:
            log.warning("columns manifest unreadable (%s): rebuilding the copy", e)

    def collect_garbage(self) -> int:
        """Delete files the manifest does not list (written, then killed before the swap). Start only."""
        keep = (
            {e.name for e in self.current.entries}
            | {r[0] for r in self.current.retired}
            | {MANIFEST}
        )
        n = 0
        for name in os.listdir(self.directory):
            if name not in keep:
                with contextlib.suppress(OSError):
                    os.unlink(self.directory / name)
                    n += 1
        return n

    def new_name(self, snap: Snapshot, group: str, day: str) -> str:
        """A name never used before: `snap` (the manifest to be written) records the serial."""
        snap.serial = max(snap.serial, self.current.serial) + 1
        self.current.serial = snap.serial  # a failed round's names are garbage; never reuse them
        return f"{snap.serial:010d}.{group_hash(group)}.{day}.parquet"

    def write_table(self, table, name: str) -> None:
        self.write_tables([table], name)

    def write_tables(self, tables, name: str, zstd_level: int = ROUND_ZSTD_LEVEL) -> None:
        """Write successive tables (one schema) as one file, in full ROW_GROUP row groups, holding
        at most one row group's rows beyond the table in hand; fsynced. `zstd_level`:
        ROUND_ZSTD_LEVEL for a round's file, COMPACTED_ZSTD_LEVEL for a file that stays."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.directory / name
        writer = pending = None
        try:
            for table in tables:
                if writer is None:
                    delta = [c for c in DELTA_COLUMNS if c in table.column_names]
                    writer = pq.ParquetWriter(
                        path,
                        table.schema,
                        compression="zstd",
                        compression_level=zstd_level,
                        use_dictionary=[c for c in table.column_names if c not in delta],
                        column_encoding=dict.fromkeys(delta, "DELTA_BINARY_PACKED"),
                    )
                pending = table if pending is None else pa.concat_tables([pending, table])
                full = pending.num_rows // ROW_GROUP * ROW_GROUP
                if full:
                    writer.write_table(pending.slice(0, full), row_group_size=ROW_GROUP)
                    pending = pending.slice(full)
            if writer is None:
                return
            if pending is not None and pending.num_rows:
                writer.write_table(pending, row_group_size=ROW_GROUP)
        finally:
            if writer is not None:
                writer.close()
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def commit(self, snap: Snapshot) -> None:
        """Make `snap` the manifest, atomically (its files are already written and fsynced)."""
        dfd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)  # the new files' names
            safeio.write_atomic(
                dfd, MANIFEST, json.dumps(snap.to_json(), separators=(",", ":")).encode()
            )
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self.current = snap

    def retire(self, snap: Snapshot, names: Iterable[str], now_ms: int) -> None:
        """Unlist `names` in `snap` (not yet committed); they are deleted after RETIRE_GRACE_MS."""
        names = set(names)
        snap.entries = [e for e in snap.entries if e.name not in names]
        snap.retired.extend([n, now_ms + RETIRE_GRACE_MS] for n in sorted(names))

    def expire_retired(self, now_ms: int) -> bool:
        """Delete retired files past their deadline; True if the manifest must be rewritten."""
        due = [r for r in self.current.retired if r[1] <= now_ms]
        if not due:
            return False
        for name, _ in due:
            with contextlib.suppress(OSError):
                os.unlink(self.directory / name)
        return True

    def copy(self) -> Snapshot:
        return Snapshot(self.directory, json.loads(json.dumps(self.current.to_json())))


def entry_for(name: str, group: str, day: str, table) -> FileEntry:
    import pyarrow.compute as pc

    pairs = (
        table.select(["stream", "ident", "off"])
        .group_by(["stream", "ident"])
        .aggregate([("off", "min"), ("off", "max")])
    )
    spans = file_spans(
        zip(
            pairs.column("stream").to_pylist(),
            pairs.column("ident").to_pylist(),
            pairs.column("off_min").to_pylist(),
            pairs.column("off_max").to_pylist(),
            strict=True,
        )
    )
    mm = pc.min_max(table.column("ts"))
    return FileEntry(
        name,
        group,
        day,
        table.num_rows,
        mm["min"].as_py(),
        mm["max"].as_py(),
        tuple(sorted({(s, k) for s, k, _, _ in spans})),
        spans,
    )


def file_spans(rows: Iterable[tuple[str, str, int, int]]) -> tuple[tuple[str, str, int, int], ...]:
    """FileEntry.spans from (stream, ident hex, least off, greatest off) rows."""
    return tuple(sorted((s, ident_key(i), int(lo), int(hi)) for s, i, lo, hi in rows))


def columns_size(root: Path | str) -> int:
    d = Path(root) / DIR
    try:
        return sum(p.stat().st_size for p in d.iterdir())
    except OSError:
        return 0
