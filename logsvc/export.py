"""`logsvc export`: the visible events of chosen groups and a time range, as files a distributed
engine (DuckDB, ClickHouse, Spark, Athena, ...) reads as they are. docs/engines.md is the user's
guide; ARCHITECTURE.md ("Export") says why the live columnar copy is not what engines read.

Layout (Hive-style, one partition per log group and UTC day of the event's timestamp):

    DIR/_logsvc_export.json                              what was exported (written last: "complete")
    DIR/group=<group, percent-encoded>/day=YYYY-MM-DD/part-00000.parquet   (or .ndjson)

Which events: exactly those FilterLogEvents returns for the group and range. The sources come from
`visibility.sources` (streams that exist now, their retention cutoff and expired offset); the rows
come from the columnar copy through `colquery.relation` (the same visibility join Insights uses)
for what the copy covers, and from the Reader (`query.iter_all`) past that, each event made into
its row by `schema.event_columns`. So nothing is parsed twice where the copy already holds it,
and what it does not hold yet is read the way every other read reads it.

Writes: each partition file is written under a hidden temp name in its own folder and renamed into
place (engines skip names starting with `.`); folders are opened one segment at a time without
following symlinks (`safeio`), so nothing is written outside DIR.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import json
import os
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from logsvc import __version__, colquery, names, safeio
from logsvc.columns import extract, schema
from logsvc.columns import store as cstore
from logsvc.config import Settings
from logsvc.errors import InvalidParameter, LogsvcError, NotFound
from logsvc.model import make_event_id
from logsvc.query import Reader, iter_all
from logsvc.service import IndexHandle
from logsvc.store import Store

FORMATS = ("parquet", "ndjson")
MARKER = "_logsvc_export.json"
SCHEMA_VERSION = 1
DAY_MS = 86_400_000
BATCH = 20_000  # tail events turned into one Arrow batch
MAX_SEGMENT = 200  # bytes of an encoded group name in a folder name (NAME_MAX is 255)
_GLOB = frozenset("*?[")  # never in a CloudWatch group name, so a --group holding one is a pattern

# (name, Parquet/DuckDB type, NDJSON form, meaning): the documented schema, in file order
COLUMNS: tuple[tuple[str, str, str, str], ...] = (
    ("timestamp", "TIMESTAMP WITH TIME ZONE", "ISO-8601 text, ms, Z", "the event's time (UTC)"),
    ("timestamp_ms", "BIGINT", "number", "the event's time, epoch milliseconds"),
    (
        "ingestion_time",
        "TIMESTAMP WITH TIME ZONE",
        "ISO-8601 text, ms, Z",
        "when logsvc first read it",
    ),
    ("ingestion_time_ms", "BIGINT", "number", "ingestion time, epoch milliseconds"),
    ("log_group", "VARCHAR", "text", "the log group's name"),
    ("log_stream", "VARCHAR", "text", "the log stream's name"),
    ("event_id", "VARCHAR", "text", "FilterLogEvents' eventId"),
    ("message", "VARCHAR", "text", "the message, exactly as FilterLogEvents returns it"),
    ("type", "VARCHAR", "text", "@type: START, END or REPORT (Lambda's lines), else null"),
    ("level", "VARCHAR", "text", "Insights' `level`: the JSON field `level` when it is text"),
    ("request_id", "VARCHAR", "text", "@requestId"),
    ("duration_ms", "DOUBLE", "number", "@duration (REPORT)"),
    ("billed_duration_ms", "DOUBLE", "number", "@billedDuration (REPORT)"),
    ("memory_size_mb", "DOUBLE", "number", "Memory Size in MB (REPORT; @memorySize / 1e6)"),
    ("max_memory_used_mb", "DOUBLE", "number", "Max Memory Used in MB (@maxMemoryUsed / 1e6)"),
    ("init_duration_ms", "DOUBLE", "number", "@initDuration (a cold start's REPORT)"),
    ("xray_trace_id", "VARCHAR", "text", "@xrayTraceId (REPORT with X-Ray)"),
    ("xray_segment_id", "VARCHAR", "text", "@xraySegmentId"),
    ("fields", "MAP(VARCHAR, VARCHAR)", "object", "flattened JSON fields (key = Insights' name)"),
    ("fields_json", "VARCHAR", "(not written)", "the same fields as JSON text, value types kept"),
)

# A lone surrogate in a JSON string cannot be UTF-8; `fields_json` keeps it as its \\uXXXX escape
# (schema.py), `fields` gets U+FFFD instead (DuckDB's JSON reader refuses the escape).
_FJ = (
    "CASE WHEN fj IS NULL OR json_valid(fj) THEN fj "
    "ELSE regexp_replace(fj, '\\\\u[dD][89a-fA-F][0-9a-fA-F]{2}', '\\\\ufffd', 'g') END"
)


def _ts(col: str) -> str:
    return f"to_timestamp(({col} // 1000)::DOUBLE) + to_milliseconds({col} % 1000)"


def _iso(col: str) -> str:
    return f"strftime(epoch_ms({col}), '%Y-%m-%dT%H:%M:%S.%gZ')"


_COMMON = (
    "ts AS timestamp_ms",
    "ingest AS ingestion_time_ms",
    "grp AS log_group",
    "stream AS log_stream",
    "event_id",
    "msg AS message",
    "type",
    "level",
    "rid AS request_id",
    "duration AS duration_ms",
    "billed AS billed_duration_ms",
    "memsize / 1e6 AS memory_size_mb",
    "maxmem / 1e6 AS max_memory_used_mb",
    "initdur AS init_duration_ms",
    "xtrace AS xray_trace_id",
    "xseg AS xray_segment_id",
)
PROJECTION = {
    "parquet": ", ".join(
        [f"{_ts('ts')} AS timestamp", _COMMON[0], f"{_ts('ingest')} AS ingestion_time"]
        + list(_COMMON[1:])
        + [
            f"CAST(TRY_CAST({_FJ} AS JSON) AS MAP(VARCHAR, VARCHAR)) AS fields",
            "fj AS fields_json",
        ]
    ),
    "ndjson": ", ".join(
        [f"{_iso('ts')} AS timestamp", _COMMON[0], f"{_iso('ingest')} AS ingestion_time"]
        + list(_COMMON[1:])
        + [f"TRY_CAST({_FJ} AS JSON) AS fields"]
    ),
}
COPY_OPTIONS = {"parquet": "FORMAT parquet, COMPRESSION zstd", "ndjson": "FORMAT json"}
SUFFIX = {"parquet": ".parquet", "ndjson": ".ndjson"}


@dataclass
class Result:
    events: int = 0
    bytes: int = 0
    groups: list[str] = field(default_factory=list)
    partitions: list[dict[str, Any]] = field(default_factory=list)  # path, group, day, rows


def partition_segment(group: str) -> str:
    """`group=<name>` with the name percent-encoded (`/` is %2F): Spark and DuckDB decode it back to
    the name; ClickHouse shows it encoded. A name whose encoding passes MAX_SEGMENT bytes keeps a
    prefix plus `~<hash>` (the `log_group` column always holds the whole name)."""
    enc = urllib.parse.quote(group, safe="-_.")
    if len(enc) > MAX_SEGMENT:
        cut = enc[: MAX_SEGMENT - 20]
        if "%" in cut[-2:]:  # never split a %XX escape
            cut = cut[: cut.rindex("%")]
        enc = f"{cut}~{hashlib.blake2b(group.encode(), digest_size=8).hexdigest()}"
    return f"group={enc}"


def select_groups(store: Store, wanted: Sequence[str]) -> list[str]:
    """The groups `--group` names: a name must exist; a glob pattern (`*`, `?`, `[...]`, which no
    group name holds) must match at least one group (internal groups only by their exact name)."""
    if not wanted:
        raise InvalidParameter("--group is required", field="--group", rule="at least one")
    every: list[str] | None = None
    out: list[str] = []
    for w in wanted:
        if _GLOB & set(w):
            if every is None:
                every = store.group_names()
            hits = [n for n in every if fnmatch.fnmatchcase(n, w) and not names.hidden(n)]
            if not hits:
                raise NotFound(f"--group {w!r} matches no log group", field="--group")
            out += hits
            continue
        names.validate_group(w, "--group")
        try:
            store.get_group(w)
        except NotFound:
            raise NotFound(f"--group {w!r}: no such log group", field="--group") from None
        out.append(w)
    return list(dict.fromkeys(out))


def check_range(since_ms: int, until_ms: int) -> None:
    if since_ms > until_ms:
        raise InvalidParameter(
            "--since is after --until", field="--since", rule="--since <= --until"
        )


def prepare(to: str | Path, overwrite: bool) -> int:
    """The export folder as a descriptor: created if absent; an existing one must be empty, or
    (with `overwrite`) hold a previous export and nothing else, which is removed first.
    :raises InvalidParameter: naming --to."""
    path = Path(to)
    if path.exists() and not path.is_dir():
        raise InvalidParameter(f"--to {to}: is a file, not a folder", field="--to")
    try:
        path.mkdir(parents=True, exist_ok=True, mode=safeio.DIR_MODE)
        dfd = safeio.open_dir(None, path)
    except OSError as e:
        raise InvalidParameter(
            f"--to {to}: cannot use it as the export folder ({e.strerror or e})", field="--to"
        ) from None
    entries = sorted(os.listdir(dfd))
    if not entries:
        return dfd
    if not overwrite:
        os.close(dfd)
        raise InvalidParameter(
            f"--to {to} is not empty; pass --overwrite to replace the export in it",
            field="--to",
            rule="an empty or new folder, or --overwrite",
        )
    foreign = [
        e
        for e in entries
        if e != MARKER and not e.startswith("group=") and not (e[:1] == "." and e.endswith(".tmp"))
    ]
    if MARKER not in entries or foreign:
        os.close(dfd)
        why = f"it holds {foreign[0]!r}" if foreign else f"it has no {MARKER}"
        raise InvalidParameter(
            f"--to {to} is not a logsvc export ({why}); --overwrite only replaces an export",
            field="--to",
        )
    for e in entries:
        if e != MARKER:
            safeio.remove(dfd, e)
    safeio.remove(dfd, MARKER)  # last: a kill before this leaves a folder --overwrite still takes
    return dfd


def _write_marker(dfd: int, info: dict) -> None:
    safeio.write_atomic(dfd, MARKER, (json.dumps(info, indent=1) + "\n").encode())


def _day(d: int) -> str:
    return datetime.fromtimestamp(d * 86_400, UTC).strftime("%Y-%m-%d")


class _Exporter:
    def __init__(self, settings: Settings, fmt: str, dfd: int) -> None:
        self.store = Store(settings.data_dir)
        self.index = IndexHandle(Path(settings.data_dir) / "index")
        self.reader = Reader(self.store, self.index)
        self.snap = cstore.snapshot(self.store.root)  # taken again per group (below)
        self._duck = contextlib.ExitStack()
        self.cur = self._duck.enter_context(
            colquery.session(self.store.root / "tmp" / "duckdb", settings.insights_memory)
        )
        self.fmt = fmt
        self.dfd = dfd
        self.cols = ", ".join(f'x."{c}"' for c in schema.NAMES)

    def close(self) -> None:
        self._duck.close()
        self.index.close()

    def group(self, group: str, lo: int, hi: int, result: Result) -> None:
        import pyarrow as pa

        sources = self.reader.sources([group])
        if not sources:
            return
        idents = [self.reader.file_ident(s) for s in sources]
        # a fresh manifest per group: files it lists stay readable for RETIRE_GRACE_MS after the
        # builder replaces them, so a long export never reads a snapshot older than one group's work
        self.snap = cstore.snapshot(self.store.root)
        covered = colquery.covered_ends(self.snap, sources, idents)
        tag = uuid.uuid4().hex
        # event ids of the columned rows: the hash part depends on the stream, its file identity
        # and the event's end up to the identity's head bytes (model.make_event_id)
        k = list(range(65))
        ids = pa.table(
            {
                "grp": pa.array([s.group for s in sources for _ in k], pa.string()),
                "stream": pa.array([s.stream for s in sources for _ in k], pa.string()),
                "k": pa.array(k * len(sources), pa.int64()),
                "h": pa.array(
                    [
                        make_event_id(s.group, s.stream, 0, i, e)[16:]
                        for s, i in zip(sources, idents, strict=True)
                        for e in k
                    ],
                    pa.string(),
                ),
            }
        )
        self.cur.register(f"ids_{tag}", ids)
        tail = f"tail_{tag}"
        empty = _tail_table([])
        self.cur.register(f"empty_{tag}", empty)
        self.cur.execute(f"CREATE TEMP TABLE {tail} AS SELECT * FROM empty_{tag}")
        try:
            tails = [
                dataclasses.replace(s, from_offset=max(s.from_offset, c))
                for s, c in zip(sources, covered, strict=True)
            ]
            batch: list = []
            for ev in iter_all(self.reader, tails, start=lo, end=hi, limit=10_000, forward=True):
                batch.append(ev)
                if len(batch) >= BATCH:
                    self._insert(tail, batch)
                    batch = []
            if batch:
                self._insert(tail, batch)
            days = {
                e.min_ts // DAY_MS
                for e in self.snap.entries
                if e.group == group and e.day != "other" and e.max_ts >= lo and e.min_ts <= hi
            }
            days.update(
                d
                for (d,) in self.cur.execute(
                    f"SELECT DISTINCT ts // {DAY_MS} FROM {tail}"
                ).fetchall()
            )
            for d in sorted(days):
                dlo, dhi = max(lo, d * DAY_MS), min(hi, (d + 1) * DAY_MS - 1)
                if dlo <= dhi:
                    self._partition(group, d, dlo, dhi, sources, idents, tag, result)
        finally:
            self.cur.execute(f"DROP TABLE IF EXISTS {tail}")
            self.cur.unregister(f"ids_{tag}")
            self.cur.unregister(f"empty_{tag}")

    def _insert(self, tail: str, events: list) -> None:
        name = f"batch_{uuid.uuid4().hex}"
        self.cur.register(name, _tail_table(events))
        try:
            self.cur.execute(f"INSERT INTO {tail} SELECT * FROM {name}")
        finally:
            self.cur.unregister(name)

    def _partition(self, group, d, dlo, dhi, sources, idents, tag, result: Result) -> None:
        rel = colquery.relation(
            self.cur,
            sources,
            idents,
            self.snap,
            self.reader,
            dlo,
            dhi,
            ordered=False,
            read_tail=False,
        )
        assert rel is not None  # only a tail read can refuse, and there is none here
        rows = (
            f"SELECT {self.cols}, lpad(CAST(x.off AS VARCHAR), 16, '0') || h.h AS event_id "
            f"FROM {rel} x JOIN ids_{tag} h "
            f'ON x.grp = h.grp AND x.stream = h.stream AND least(x."end", 64) = h.k '
            f"UNION ALL SELECT {self.cols}, x.event_id FROM tail_{tag} x "
            f"WHERE x.ts BETWEEN {int(dlo)} AND {int(dhi)}"
        )
        sql = f"SELECT {PROJECTION[self.fmt]} FROM ({rows}) ORDER BY ts, stream, off"
        gseg, dseg = partition_segment(group), f"day={_day(d)}"
        final = "part-00000" + SUFFIX[self.fmt]
        tmp = f".{final}.{os.getpid()}.tmp"
        gfd = safeio.open_dir(self.dfd, gseg, create=True)
        try:
            pfd = safeio.open_dir(gfd, dseg, create=True)
            try:
                # DuckDB writes by path: the folder's descriptor as the path, so no symlink swapped
                # in above it can redirect the write
                target = f"/proc/self/fd/{pfd}/{tmp}"
                (n,) = self.cur.execute(
                    f"COPY ({sql}) TO '{target}' ({COPY_OPTIONS[self.fmt]})"
                ).fetchone()
                if not n:
                    os.unlink(tmp, dir_fd=pfd)
                else:
                    fd = safeio.open_file(pfd, tmp, os.O_RDONLY)
                    try:
                        os.fchmod(fd, safeio.FILE_MODE)
                        os.fsync(fd)
                        size = os.fstat(fd).st_size
                    finally:
                        os.close(fd)
                    os.rename(tmp, final, src_dir_fd=pfd, dst_dir_fd=pfd)
                    os.fsync(pfd)
            finally:
                os.close(pfd)
            if not n:
                _rmdir_empty(gfd, dseg)
        finally:
            os.close(gfd)
        if not n:
            _rmdir_empty(self.dfd, gseg)
            return
        result.events += int(n)
        result.bytes += size
        result.partitions.append(
            {"path": f"{gseg}/{dseg}/{final}", "group": group, "day": _day(d), "rows": int(n)}
        )


def _rmdir_empty(parent: int, name: str) -> None:
    try:
        os.rmdir(name, dir_fd=parent)
    except OSError:
        pass  # not empty (another day of the group, or a file already there)


def _tail_table(events: list):  # -> pyarrow.Table: the column rows plus each event's id
    import pyarrow as pa

    rows = [schema.event_columns(ev) for ev in events]
    cols = {c: [r[c] for r in rows] for c in schema.NAMES}
    extract.storable(cols)  # a lone surrogate from JSON: written as the builder writes it
    arrow = schema.arrow_schema()
    table = pa.table(
        {c: pa.array(cols[c], type=arrow.field(c).type) for c in schema.NAMES}, schema=arrow
    )
    return table.append_column("event_id", pa.array([ev.event_id for ev in events], pa.string()))


def export(
    settings: Settings,
    groups: Sequence[str],
    since_ms: int,
    until_ms: int,
    fmt: str,
    to: str | Path,
    *,
    overwrite: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> Result:
    """Write the visible events of `groups` with since_ms <= timestamp <= until_ms under `to`.
    :raises InvalidParameter: :raises NotFound: naming the flag at fault."""
    if fmt not in FORMATS:
        raise InvalidParameter(f"--format must be one of {', '.join(FORMATS)}", field="--format")
    check_range(since_ms, until_ms)
    if not Path(settings.data_dir).is_dir():  # a Store would create it: a typo exports nothing
        raise InvalidParameter(
            f"--data-dir {settings.data_dir}: no such data directory", field="--data-dir"
        )
    store = Store(settings.data_dir)
    chosen = select_groups(store, groups)
    dfd = prepare(to, overwrite)
    result = Result(groups=chosen)
    info: dict[str, Any] = {
        "state": "writing",
        "logsvc": __version__,
        "schema_version": SCHEMA_VERSION,
        "format": fmt,
        "groups": chosen,
        "since_ms": since_ms,
        "until_ms": until_ms,
        "started": int(time.time() * 1000),
    }
    try:
        _write_marker(dfd, info)
        import duckdb

        ex = _Exporter(settings, fmt, dfd)
        try:
            for g in chosen:
                ex.group(g, since_ms, until_ms, result)
                if progress:
                    progress(g, result.events)
        except (duckdb.Error, OSError) as e:
            raise LogsvcError(
                f"the export stopped: {type(e).__name__}: {e}",
                hint=f"{to} holds a partial export ({MARKER} says 'writing'); "
                "run the command again with --overwrite",
            ) from e
        finally:
            ex.close()
        info.update(
            state="complete",
            finished=int(time.time() * 1000),
            events=result.events,
            bytes=result.bytes,
            columns=[
                {"name": n, "type": t if fmt == "parquet" else j}
                for n, t, j, _ in COLUMNS
                if fmt == "parquet" or n != "fields_json"
            ],
            partitions=result.partitions,
        )
        _write_marker(dfd, info)
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return result
