"""The column builder: a process of its own (the second core) that follows the index's committed
blocks and keeps the columnar copy (store.py) level with them.

Started and stopped by the process that holds the ingest lock (service.py), run as
`python -m logsvc.columns.builder <parent pid>`; it dies with that process (PR_SET_PDEATHSIG) and
holds `<data>/columns.lock`, so there is never more than one. It reads only what a whoosh commit
made durable: for each stream, the chunks of the index's blocks past the stream's covered offset,
split and timed exactly as query.py reads indexed chunks (so a row equals the event the Reader
returns), rows made by extract.py. One round writes one Parquet file per (group, UTC day) touched,
fsyncs it, then swaps the manifest with the files and the new coverage together: exactly once
across `kill -9`. It runs a commit (or more) behind the ingester; queries read the rest from the
files themselves.

Resets: a stream whose file identity (inode + first 64 bytes) or last covered bytes (`mark`)
changed, whose index blocks no longer describe the file at its path, or that left the index, loses
its coverage in the next manifest; its rows stay until compaction drops them (readers filter by
identity). If the file comes back with the very same identity (rewritten in place), the files still
holding rows of it are rewritten without them first, so a row is never listed twice.

Compaction (size-tiered, per group and day): files of similar size (the same power of 4 in rows)
are merged when there are 4 of them, and every file of a day that ended over an hour ago becomes
one; merging drops rows no coverage vouches for. Retention: files whose newest row is older than
their group's retention are unlisted; a deleted group's files too. Unlisted files are removed after
`store.RETIRE_GRACE_MS` (queries already reading them finish), files no manifest lists at start.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from logsvc import lines, locks, retention
from logsvc.children import die_with_parent, keep_pandas_out
from logsvc.columns import extract, schema
from logsvc.columns import store as cstore
from logsvc.config import Settings, resolve
from logsvc.index import LIVE, BlockIndex, IndexCorrupt, index_exists
from logsvc.model import ID_HEAD_BYTES, retention_cutoff
from logsvc.store import Store
from logsvc.visibility import block_is_current

log = logging.getLogger("logsvc.columns")

ROUND_BYTES = (
    4 * 1024 * 1024
)  # stream bytes one round reads (the next round goes on): ~25k events, bounds memory
MARK_BYTES = 32
MERGE_FANOUT = 4
CLOSED_AFTER_MS = 3600 * 1000  # a day this long over gets its files merged into one
MERGE_MEMORY = "128MB"  # DuckDB's limit while compacting; the sort spills beyond it
SLICE_BYTES = 24 * 1024 * 1024  # text a compaction sorts at a time (cut by time: `_slices`)
ROW_OVERHEAD = 160  # bytes a row holds besides its message and JSON text (the slice estimate)
SPILL_DIR = "columns.spill"  # under the data directory, removed after each merge
POLL = 0.2
NICE = 10


class Builder:
    """One data directory's builder. `round()` does one unit of work; `run()` loops until stopped."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = Path(settings.data_dir)
        self.store = Store(self.root)
        self.writer = cstore.Writer(self.root)
        self.index: BlockIndex | None = None
        self.rows_written = 0
        self.slow_events = 0
        self._last_retention = 0.0
        self._held: dict[
            tuple[str, str], tuple
        ] = {}  # streams rewritten under unchanged index blocks

    # ---- the loop ----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        removed = self.writer.collect_garbage()
        if removed:
            log.info("removed %d column files no manifest lists", removed)
        backoff = POLL
        failing = ""  # why the last round failed: said once, not once per retry
        while not stop.is_set():
            try:
                more = self.round()
                backoff = POLL
                if failing:
                    log.info("column building resumed")
                    failing = ""
            except OSError as e:
                # a full disk or a vanished file is the machine's state, not a bug: one line, no traceback
                why = (
                    "the disk holding the data directory is full; columns resume when space returns"
                    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
                    else f"{type(e).__name__}: {e}"
                )
                if why != failing:
                    log.error("column building paused: %s (will retry)", why)
                    failing = why
                more = False
                backoff = min(backoff * 2, 5.0)
            except Exception:
                if failing != "bug":
                    log.exception("column build round failed (will retry)")
                    failing = "bug"
                more = False
                backoff = min(backoff * 2, 5.0)
            if not more:
                stop.wait(backoff)

    def close(self) -> None:
        """Close the index this builder reads (its snapshot holds the index's files open)."""
        if self.index is not None:
            self.index.close()
            self.index = None

    def _open_index(self) -> BlockIndex | None:
        if self.index is None:
            path = self.root / LIVE
            if not index_exists(path):
                return None
            try:
                self.index = BlockIndex(path)
            except IndexCorrupt as e:
                log.warning("index not readable (%s); columns wait", e)
                return None
        return self.index

    def round(self, now_ms: int | None = None) -> bool:
        """Follow the index once: new rows, resets, retention, compaction. True if more is waiting."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        index = self._open_index()
        if index is None:
            return False
        with index.snapshot() as isnap:
            by_stream = dict(isnap.by_stream)
            generation = isnap.generation
        snap = self.writer.copy()
        changed = self._forget_gone(snap, by_stream, now_ms)
        tasks, more = self._plan(snap, by_stream)
        if any(t["purge"] for t in tasks):
            self._purge(snap, [t for t in tasks if t["purge"]], now_ms)
            changed = True
        if tasks:
            self._build(snap, tasks)
            changed = True
        if time.monotonic() - self._last_retention >= self.settings.retention_interval:
            self._last_retention = time.monotonic()
            changed |= self._retention(snap, now_ms)
        if not more:
            changed |= self._compact(snap, now_ms)
        if self.writer.expire_retired(now_ms):
            snap.retired = [r for r in snap.retired if r[1] > now_ms]
            changed = True
        if changed or snap.generation != generation:
            snap.generation = generation
            self.writer.commit(snap)
        return more

    # ---- what to read ------------------------------------------------------------------------

    def _forget_gone(self, snap: cstore.Snapshot, by_stream: dict, now_ms: int) -> bool:
        """Drop the coverage of streams that left the index, and everything of deleted groups."""
        from logsvc.index import stream_key

        changed = False
        groups = set(self.store.group_names())
        gone_files = [e.name for e in snap.entries if e.group not in groups]
        if gone_files:
            self.writer.retire(snap, gone_files, now_ms)
            changed = True
        for group in list(snap.streams):
            if group not in groups:
                del snap.streams[group]
                changed = True
                continue
            for stream in list(snap.streams[group]):
                if stream_key(group, stream) not in by_stream:
                    del snap.streams[group][stream]
                    changed = True
            if not snap.streams[group]:
                del snap.streams[group]
        return changed

    def _plan(self, snap: cstore.Snapshot, by_stream: dict) -> tuple[list[dict], bool]:
        """Per stream, the committed chunks not covered yet (at most ROUND_BYTES in all)."""
        budget = ROUND_BYTES
        tasks = []
        more = False
        for blocks in by_stream.values():
            group, stream = blocks[0].group, blocks[0].stream
            if budget <= 0:
                more = True
                break
            task = self._stream_task(snap, group, stream, blocks, budget)
            if task is None:
                continue
            if task["chunks"]:
                budget -= task["chunks"][-1][1] - task["chunks"][0][0]
                tasks.append(task)
                more |= task["partial"]
        return tasks, more

    def _stream_task(
        self, snap: cstore.Snapshot, group: str, stream: str, blocks: list, budget: int
    ) -> dict | None:
        path = self.store.stream_file(group, stream)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return self._drop(snap, group, stream)
        try:
            st = os.fstat(fd)
            head = os.pread(fd, ID_HEAD_BYTES, 0)
            cov = snap.streams.get(group, {}).get(stream)
            if (
                len(head) < ID_HEAD_BYTES
            ):  # the identity events get is not final yet: leave it to the reader
                return self._drop(snap, group, stream)
            if not (
                block_is_current(blocks[0], st.st_ino, head)
                and block_is_current(blocks[-1], st.st_ino, head)
                and blocks[-1].end <= st.st_size + 1
            ):
                return self._drop(snap, group, stream)  # the index still describes an older file
            ident = (st.st_ino.to_bytes(8, "little") + head).hex()
            chunks = [
                (b.c_start[i], b.chunk_end(i), b.c_ing[i])
                for b in blocks
                for i in range(len(b.c_start))
            ]
            # where a covered end may lie: a chunk's start or end (an unterminated last line taken as
            # it was leaves a one-byte gap, its newline, before the next block)
            starts = {c[0] for c in chunks} | {c[1] for c in chunks}
            purge = False
            sig = _signature(blocks)
            if cov is not None:
                end, mark = int(cov[1]), bytes.fromhex(cov[2])
                mark_at = int(cov[3]) if len(cov) > 3 else end - len(mark)
                now_mark = os.pread(fd, len(mark), mark_at)
                rewritten = len(now_mark) != len(mark) or any(
                    x and x != y for x, y in zip(now_mark, mark, strict=True)
                )
                if cov[0] != ident or end not in starts or rewritten:
                    log.info(
                        "columns: %s %s was rewritten or replaced: coverage dropped", group, stream
                    )
                    self._drop(snap, group, stream)
                    cov = None
                    if rewritten and cov is None and end in starts:
                        # bytes changed under blocks the index still holds: wait until the ingester
                        # has re-read the file (its blocks change) before covering it again
                        self._held[(group, stream)] = sig
            if cov is None and (group, stream) in self._held:
                if self._held[(group, stream)] == sig:
                    return None
                del self._held[(group, stream)]
            if cov is None:
                _, expired = self.store.retention(group)
                start = expired.get(stream, 0)
                key = (stream, cstore.ident_key(ident))
                purge = any(e.group == group and key in e.keys for e in snap.entries)
            else:
                start = int(cov[1])
            todo = [c for c in chunks if c[0] >= start]
            if not todo:
                return None
            taken = []
            for c in todo:
                if taken and c[1] - taken[0][0] > budget:
                    break
                taken.append(c)
            return {
                "group": group,
                "stream": stream,
                "ident": ident,
                "chunks": taken,
                "purge": purge,
                "partial": len(taken) < len(todo),
                "path": str(path),
            }
        finally:
            os.close(fd)

    @staticmethod
    def _drop(snap: cstore.Snapshot, group: str, stream: str) -> None:
        if snap.streams.get(group, {}).pop(stream, None) is not None and not snap.streams[group]:
            del snap.streams[group]
        return None

    # ---- writing rows ------------------------------------------------------------------------

    def _build(self, snap: cstore.Snapshot, tasks: list[dict]) -> None:
        cols_by_group: dict[str, dict[str, list]] = defaultdict(extract.new_columns)
        for t in tasks:
            cols = cols_by_group[t["group"]]
            chunks = t["chunks"]
            lo, hi = chunks[0][0], chunks[-1][1]
            try:
                fd = os.open(t["path"], os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                data = os.pread(fd, hi - lo, lo)
                if len(data) < hi - lo - 1:
                    continue  # the file shrank under us: the next round sees the reset
                for a, b, ing in chunks:
                    # the ingester took an unterminated last line as an event: so does the reader
                    evs = lines.split_taken(data[a - lo : b - lo])
                    self.slow_events += extract.extract(
                        cols, t["group"], t["stream"], t["ident"], a, evs, lambda _o, v=ing: v
                    )
                # the last bytes read (a block of an old index may end one past the file's end)
                real_end = lo + len(data)
                mark_at = max(0, real_end - MARK_BYTES)
                mark = os.pread(fd, real_end - mark_at, mark_at)
            finally:
                os.close(fd)
            snap.streams.setdefault(t["group"], {})[t["stream"]] = [
                t["ident"],
                hi,
                mark.hex(),
                mark_at,
            ]
        for group, cols in cols_by_group.items():
            if cols["ts"]:
                self._write_group(snap, group, cols)

    def _write_group(self, snap: cstore.Snapshot, group: str, cols: dict[str, list]) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        extract.storable(cols)
        schema_ = schema.arrow_schema()
        table = pa.table(
            {c: pa.array(cols[c], type=schema_.field(c).type) for c in schema.NAMES}, schema=schema_
        )
        self.rows_written += table.num_rows
        days = pc.divide(table.column("ts"), cstore.DAY_MS)
        distinct = pc.unique(days).to_pylist()
        for d in distinct:
            part = table.filter(pc.equal(days, d)) if len(distinct) > 1 else table
            day = cstore.day_of(d * cstore.DAY_MS)
            name = self.writer.new_name(snap, group, day)
            self.writer.write_table(part, name)
            snap.entries.append(cstore.entry_for(name, group, day, part))

    # ---- purge, retention, compaction --------------------------------------------------------

    def _purge(self, snap: cstore.Snapshot, tasks: list[dict], now_ms: int) -> None:
        """Rewrite the files holding rows of an identity about to be covered again, without them."""
        drop: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for t in tasks:
            drop[t["group"]].add((t["stream"], t["ident"]))
        for e in list(snap.entries):
            pairs = drop.get(e.group)
            if not pairs or not any((s, cstore.ident_key(i)) in e.keys for s, i in pairs):
                continue
            self._rewrite(snap, [e], e.group, e.day, now_ms, exclude=pairs)

    def _retention(self, snap: cstore.Snapshot, now_ms: int) -> bool:
        cutoffs = {
            g.name: retention_cutoff(g.retention_days, now_ms)
            for g in retention.with_policy(self.store)
        }
        old = [e.name for e in snap.entries if e.group in cutoffs and e.max_ts < cutoffs[e.group]]
        if old:
            self.writer.retire(snap, old, now_ms)
        return bool(old)

    def _compact(self, snap: cstore.Snapshot, now_ms: int) -> bool:
        by_day: dict[tuple[str, str], list[cstore.FileEntry]] = defaultdict(list)
        for e in snap.entries:
            by_day[(e.group, e.day)].append(e)
        done = False
        for (group, day), entries in by_day.items():
            if len(entries) < 2:
                continue
            closed = day != "other" and _day_end_ms(day) + CLOSED_AFTER_MS < now_ms
            if closed:
                self._rewrite(snap, entries, group, day, now_ms)
                done = True
                continue
            tiers: dict[int, list[cstore.FileEntry]] = defaultdict(list)
            for e in entries:
                tiers[_tier(e.rows)].append(e)
            for same in tiers.values():
                if len(same) >= MERGE_FANOUT:
                    self._rewrite(snap, same, group, day, now_ms)
                    done = True
                    break  # one merge per (group, day) a round keeps rounds short
        return done

    def _rewrite(
        self,
        snap: cstore.Snapshot,
        entries: list[cstore.FileEntry],
        group: str,
        day: str,
        now_ms: int,
        exclude: set[tuple[str, str]] = frozenset(),
    ) -> None:
        """Merge `entries` into one file of the rows still vouched for (coverage), sorted by time.

        DuckDB streams the merge with a memory limit, spilling the sort to `<data>/columns.spill`: a
        day of a busy group can be far larger than memory, and the builder's memory is bounded."""
        import duckdb

        cov = snap.streams.get(group, {})
        live = [(s, c[0], int(c[1])) for s, c in cov.items() if (s, c[0]) not in exclude]
        self.writer.retire(snap, [e.name for e in entries], now_ms)
        if not live:
            return
        name = self.writer.new_name(snap, group, day)
        out = self.writer.directory / name
        spill = self.root / SPILL_DIR
        if spill.is_symlink():  # never spill through a link planted in the data directory
            spill.unlink()
        shutil.rmtree(spill, ignore_errors=True)
        con = duckdb.connect(
            config={
                "memory_limit": MERGE_MEMORY,
                "threads": 1,
                "temp_directory": str(spill),
                "preserve_insertion_order": False,
            }
        )
        try:
            con.execute("CREATE TEMP TABLE live (stream VARCHAR, ident VARCHAR, cov BIGINT)")
            con.executemany("INSERT INTO live VALUES (?, ?, ?)", live)
            paths = [str(self.writer.directory / e.name) for e in entries]
            cols = ", ".join(f'x."{c}"' for c in schema.NAMES)
            rows_sql = (
                f"SELECT {cols} FROM read_parquet(?) x JOIN live l ON x.stream = l.stream "
                f"AND x.ident = l.ident WHERE x.off < l.cov"
            )
            arrow = schema.arrow_schema()
            cuts = self._slices(con, rows_sql, paths)

            def sorted_slices():
                for lo, hi in zip([None, *cuts], [*cuts, None], strict=True):
                    where = " AND ".join(
                        ([f"ts >= {int(lo)}"] if lo is not None else [])
                        + ([f"ts < {int(hi)}"] if hi is not None else [])
                    )
                    if lo is None and where:
                        where = f"({where} OR ts IS NULL)"  # no row is left out of every slice
                    q = f"SELECT * FROM ({rows_sql}) WHERE {where or 'true'} ORDER BY ts, stream, off"
                    yield con.sql(q, params=[paths]).to_arrow_table().cast(arrow)

            self.writer.write_tables(sorted_slices(), name, zstd_level=cstore.COMPACTED_ZSTD_LEVEL)
            rows, lo, hi = con.execute(
                "SELECT count(*), min(ts), max(ts) FROM read_parquet(?)", [str(out)]
            ).fetchone()
            pairs = con.execute(
                "SELECT stream, ident, min(off), max(off) FROM read_parquet(?) GROUP BY 1, 2",
                [str(out)],
            ).fetchall()
        finally:
            con.close()
            shutil.rmtree(spill, ignore_errors=True)
        if not rows:
            out.unlink(missing_ok=True)
            return
        spans = cstore.file_spans(pairs)
        keys = tuple(sorted({(st, k) for st, k, _, _ in spans}))
        snap.entries.append(
            cstore.FileEntry(name, group, day, int(rows), int(lo), int(hi), keys, spans)
        )

    @staticmethod
    def _slices(con, rows_sql: str, paths: list[str]) -> list[int]:
        """Times that cut the merge into slices of about SLICE_BYTES each, sorted one at a time: one
        sort of a busy group's day (10M-line corpus: 24 MB of Parquet) ran out of MERGE_MEMORY."""
        total, n = con.execute(
            f"SELECT coalesce(sum(strlen(msg) + coalesce(strlen(fj), 0) + {ROW_OVERHEAD}), 0), "
            f"count(*) FROM ({rows_sql})",
            [paths],
        ).fetchall()[0]  # fetched to the end: the connection runs the next query
        k = min(int(total) // SLICE_BYTES + 1, max(int(n), 1))
        if k <= 1:
            return []
        qs = ", ".join(str(i / k) for i in range(1, k))
        (cuts,) = con.execute(
            f"SELECT quantile_disc(ts, [{qs}]) FROM ({rows_sql})", [paths]
        ).fetchall()[0]
        return sorted(set(int(c) for c in cuts))


def _signature(blocks: list) -> tuple:
    """What changes when the ingester re-reads a stream: its blocks' ranges and chunk times."""
    return tuple((b.start, b.end, b.lines, tuple(b.c_ing)) for b in blocks)


def _tier(rows: int) -> int:
    t = 0
    while rows >= 4:
        rows //= 4
        t += 1
    return t


def _day_end_ms(day: str) -> int:
    from datetime import UTC, datetime

    return (
        int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)
        + cstore.DAY_MS
    )


# ---- the process -------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parent = int(argv[0]) if argv else os.getppid()
    die_with_parent(parent)
    keep_pandas_out()
    # below the ingester: on a busy machine the columns lag (queries read the rest from the files)
    # rather than ingestion slowing down
    with contextlib.suppress(OSError):
        os.nice(NICE)
    settings = resolve()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="logsvc columns [%(process)d] %(levelname)s %(message)s",
    )
    stop = _Stop(parent)
    # a handler only sets a flag: Event.set() there can deadlock on the lock the interrupted wait holds
    signal.signal(signal.SIGTERM, stop.signalled)
    signal.signal(signal.SIGINT, stop.signalled)
    while not stop.is_set():
        with locks.held(settings.data_dir, *locks.COLUMNS) as ok:
            if ok:
                with contextlib.closing(Builder(settings)) as builder:
                    builder.run(stop)
                return 0
        stop.wait(1.0)  # another builder still holds the lock (its parent is going away)
    return 0


class _Stop(threading.Event):
    """Set by SIGTERM/SIGINT (a plain flag) or when the parent is gone (where PR_SET_PDEATHSIG does
    not exist); waits in short sleeps that a signal interrupts."""

    def __init__(self, parent: int) -> None:
        super().__init__()
        self._parent = parent
        self._flag = False

    def signalled(self, *_: object) -> None:
        self._flag = True

    def is_set(self) -> bool:
        return self._flag or os.getppid() != self._parent

    def wait(self, timeout: float | None = None) -> bool:
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while not self.is_set() and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        return self.is_set()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
