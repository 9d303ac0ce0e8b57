"""Running a Logs Insights query over the columnar copy with DuckDB (issue #11 item 7, the query side).

Owns the DuckDB connection (one per process, a cursor per query, closed when idle), the relation
a query reads and turning DuckDB's answer back into the row engine's terms. `insights/sql.py`
decides whether and how a query maps; `jobs.py` decides when to use this and feeds the result to
the engine.

The relation `ev` is every event the row reader would show for the query, exactly once:
* the Parquet rows a column snapshot lists (`logsvc.columns.store.snapshot`), joined to a small table
  of the current sources (visibility.py's decision: the stream exists now, the file identity it has
  now, its retention cutoff `since` and expired offset, the query window), and only below the offset
  the snapshot says it covers for that identity;
* the tail: each source's bytes past that offset (all of them when nothing is covered), read by the
  reader (`query.Reader`) and turned into rows with `schema.event_columns`, registered and UNIONed.
Rows carry `sidx` (the source's index: `@ptr`s and reading events back) and `srank` (the rank of
its stream key: the reader's order among equal timestamps is (timestamp, stream key, offset)).

Anything unexpected (a DuckDB error, a guard that fails, too big a tail) returns None: the caller runs
the row engine, which is always right.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logsvc import safeio
from logsvc.columns import schema
from logsvc.insights import sql as isql
from logsvc.query import Reader, iter_all
from logsvc.visibility import Source

log = logging.getLogger("logsvc.colquery")

MAX_TAIL_BYTES = (
    32 * 1024 * 1024
)  # bytes not columned yet a query turns into rows; more: the row engine
POLL_S = 0.05  # how often a running query looks at stop / timeout

# A connection nobody has used for this long is closed. DuckDB keeps a query's working memory in
# the connection after the query ends: a process that ran `parse @message ... | stats count(*) by b`
# over 10M lines stayed at 442 MB until its connection closed (216 MB after). Connecting again
# costs a burst's first query ~30-50 ms.
IDLE_CLOSE_S = 10.0
MAX_CONNECTIONS = 4  # a server has one per process; in-process tests make one per data dir


@dataclass(eq=False)
class _Conn:
    con: Any
    users: int = 0  # sessions open on it now
    uses: int = 0  # sessions ever opened: an idle timer set before the last one is stale
    timer: threading.Timer | None = None


_CONS: dict[tuple[str, int], _Conn] = {}
_CON_LOCK = threading.Lock()


def _connect(temp_dir: Path | None, memory: int) -> Any:
    """DuckDB's own default is 80% of the machine's memory and spilling to `.tmp` in the working
    directory; here it is `memory` bytes per process, spilling under the data directory."""
    import duckdb

    config: dict[str, Any] = {"threads": 2, "memory_limit": f"{max(memory, 1)}B"}
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        safeio.refuse_links_under(temp_dir.parent)  # DuckDB writes by path
        config["temp_directory"] = str(temp_dir)
    else:
        config["temp_directory"] = ""  # no spilling at all rather than into the cwd
    return duckdb.connect(config=config)


@contextmanager
def session(
    temp_dir: Path | None = None, memory: int = 512 * 1024 * 1024, idle_s: float = IDLE_CLOSE_S
) -> Iterator[Any]:
    """A cursor on this process's DuckDB connection for one query (or one export), closed after.

    One connection per (temp_dir, memory), made on first use (~50 ms; a cursor ~0.1 ms) and closed
    once no session has used it for `idle_s` seconds, which gives its memory back."""
    key = (str(temp_dir or ""), memory)
    with _CON_LOCK:
        conn = _CONS.get(key)
        if conn is None:
            if len(_CONS) >= MAX_CONNECTIONS:
                old_key = next(iter(_CONS))
                old = _CONS.pop(old_key)
                if not old.users:  # one in use is closed by its last session instead
                    old.con.close()
            conn = _CONS[key] = _Conn(_connect(temp_dir, memory))
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        conn.users += 1
        conn.uses += 1
        cur = conn.con.cursor()
    try:
        yield cur
    finally:
        cur.close()
        _release(key, conn, idle_s)


def _release(key: tuple[str, int], conn: _Conn, idle_s: float) -> None:
    with _CON_LOCK:
        conn.users -= 1
        if conn.users:
            return
        if _CONS.get(key) is not conn:  # dropped for another while in use: nobody else has it
            conn.con.close()
            return
        conn.timer = threading.Timer(idle_s, _close_idle, (key, conn, conn.uses))
        conn.timer.daemon = True
        conn.timer.start()


def _close_idle(key: tuple[str, int], conn: _Conn, uses: int) -> None:
    """Close `conn` if no session opened on it since its idle timer was set."""
    with _CON_LOCK:
        if conn.users or conn.uses != uses or _CONS.get(key) is not conn:
            return
        del _CONS[key]
        conn.con.close()


def store_snapshot(root: Path) -> Any:
    """The columns' snapshot (helper "columns": `logsvc.columns.store.snapshot`), or None when this
    build has no column store."""
    try:
        from logsvc.columns import store as cstore
    except ImportError:
        return None
    return cstore.snapshot(root)


@dataclass
class Answer:
    """What DuckDB answered: picked events (rows queries) or the stats groups, and the statistics."""

    kind: str
    picks: list[tuple[int, int, int, int]] = field(
        default_factory=list
    )  # (sidx, off, end, ingest), engine order
    groups: list[tuple[list, list]] = field(default_factory=list)  # (key values, aggregate results)
    matched: int = 0
    scanned: int = 0
    bytes: int = 0


class _Interrupted(Exception):
    pass


def relation(
    cur: Any,
    sources: list[Source],
    idents: list[bytes],
    snap: Any,
    reader: Reader,
    lo: int,
    hi: int,
    ordered: bool = True,
    read_tail: bool = True,
) -> str | None:
    """Register this query's sources and tail on `cur`; the SQL of the `ev` relation, or None when
    the tail is too big to be worth it. `ordered=False` (a stats query: no @ptr, no reader order)
    reads a file whose every row is visible (`whole_files`) without the visibility join, with
    `sidx`/`srank` 0. `read_tail=False` leaves the tail out (the caller reads the sources past
    `covered_ends` itself: `logsvc export`, whose tail may be larger than a query's bound)."""
    import pyarrow as pa

    covered = covered_ends(snap, sources, idents)
    tail_bytes = 0
    for src, end in zip(sources, covered, strict=True):
        try:
            size = Path(src.path).stat().st_size
        except OSError:
            size = 0
        tail_bytes += max(0, size - max(end, src.from_offset))
    if read_tail and tail_bytes > MAX_TAIL_BYTES:
        return None
    order = sorted(range(len(sources)), key=lambda i: sources[i].skey)
    srank = [0] * len(sources)
    for r, i in enumerate(order):
        srank[i] = r
    src_table = pa.table(
        {
            "grp": pa.array([s.group for s in sources], pa.string()),
            "stream": pa.array([s.stream for s in sources], pa.string()),
            "ident": pa.array([i.hex() for i in idents], pa.string()),
            "from_off": pa.array([s.from_offset for s in sources], pa.int64()),
            "cov": pa.array(covered, pa.int64()),
            "lo": pa.array([max(lo, s.since) for s in sources], pa.int64()),
            "sidx": pa.array(list(range(len(sources))), pa.int64()),
            "srank": pa.array(srank, pa.int64()),
        }
    )
    tails = [
        dataclasses.replace(s, from_offset=max(s.from_offset, c))
        for s, c in zip(sources, covered, strict=True)
    ]
    rows = (
        [
            schema.event_columns(ev)
            for ev in iter_all(reader, tails, start=lo, end=hi, limit=10_000, forward=True)
        ]
        if read_tail
        else []
    )
    tag = uuid.uuid4().hex
    cur.register(f"src_{tag}", src_table)
    cur.register(f"tail_{tag}", schema.arrow_table(rows))
    cols = ", ".join(f'x."{c}"' for c in schema.NAMES)
    parts = [
        f"SELECT {cols}, s.sidx, s.srank FROM tail_{tag} x JOIN src_{tag} s ON x.grp = s.grp AND x.stream = s.stream"
    ]
    files = (
        snap.files(list(dict.fromkeys(s.group for s in sources)), lo, hi)
        if snap is not None
        else []
    )
    if files and not ordered:
        whole = whole_files(snap, sources, idents, covered, lo, hi)
        if whole:
            files = [p for p in files if p not in whole]
            paths = ", ".join("'" + str(p).replace("'", "''") + "'" for p in whole)
            parts.append(f"SELECT {cols}, 0 AS sidx, 0 AS srank FROM read_parquet([{paths}]) x")
    if files:
        paths = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
        parts.append(
            f"SELECT {cols}, s.sidx, s.srank FROM read_parquet([{paths}]) x JOIN src_{tag} s "
            f"ON x.grp = s.grp AND x.stream = s.stream AND x.ident = s.ident "
            f"WHERE x.off >= s.from_off AND x.off < s.cov AND x.ts >= s.lo AND x.ts <= {int(hi)}"
        )
    return "(" + " UNION ALL ".join(parts) + ")"


def covered_ends(snap: Any, sources: list[Source], idents: list[bytes]) -> list[int]:
    """Per source, the offset below which the column files hold its events (the snapshot's covered
    end when the file still has the identity it covers, else 0): the tail starts there."""
    out = []
    for src, ident in zip(sources, idents, strict=True):
        cov = snap.covered(src.group, src.stream) if snap is not None else None
        out.append(cov[1] if cov is not None and cov[0] == ident.hex() and ident else 0)
    return out


def whole_files(
    snap: Any, sources: list[Source], idents: list[bytes], covered: list[int], lo: int, hi: int
) -> set[Path]:
    """Column files every row of which the visibility join would keep: each (stream, identity) in
    the file is a current source with that identity, its rows lie below the covered end and at or
    past the source's first visible offset, and the file's times lie inside every such source's
    window. A manifest entry without spans (or a stand-in snapshot) never qualifies."""
    from logsvc.columns import store as cstore

    by_key = {(s.group, s.stream): i for i, s in enumerate(sources)}
    keys = [cstore.ident_key(i.hex()) if i else None for i in idents]
    out: set[Path] = set()
    for e in getattr(snap, "entries", ()):
        spans = getattr(e, "spans", ())
        if not spans or e.max_ts > hi or e.min_ts < lo:
            continue
        for stream, ikey, first, last in spans:
            i = by_key.get((e.group, stream))
            if (
                i is None
                or keys[i] != ikey
                or last >= covered[i]
                or first < sources[i].from_offset
                or e.min_ts < sources[i].since
            ):
                break
        else:
            out.add(snap.directory / e.name)
    return out


def answer(cur: Any, sp: isql.SqlPlan, rel: str, limit: int, stats: bool = True) -> Answer | None:
    """Run `sp` over the relation `rel` on `cur`; None when a guard says the columns cannot answer.

    Each scan of `rel` costs the visibility join again, so the statistics, the guards and the
    answer share scans: a stats query is one scan (plus one per double summed exactly), a rows
    query two (the totals, then the picks)."""
    out = Answer(sp.kind)
    if sp.kind == "rows":
        q, params = sp.totals_sql(rel)
        n, b, *hits, matched = cur.execute(q, params).fetchone()
        if any(hits):
            return None
        if stats:
            out.scanned, out.bytes = int(n), int(b)
        out.matched = int(matched)
        q, params = sp.rows_sql(rel, limit)
        out.picks = [
            (int(a), int(b), int(c), int(d)) for a, b, c, d in cur.execute(q, params).fetchall()
        ]
        return out
    q, params = sp.stats_sql(rel)
    nk, ng = len(sp.keys), len(sp.guards)
    # row: k0..k(nk-1), _hit, n_all, b_all, g0..g(ng-1), n_rows, aggregates...
    if (
        sp.cut
    ):  # only groups that may be among the first `limit` reach Python (129k of Q4 took seconds)
        table = f"groups_{uuid.uuid4().hex}"
        cur.execute(f"CREATE TEMP TABLE {table} AS {q}", params)
        try:
            sums = ", ".join(
                ["sum(n_all)", "sum(b_all)"]
                + [f"sum(g{i})" for i in range(ng)]
                + ["sum(n_rows) FILTER (WHERE _hit)"]
            )
            n, b, *hits, matched = cur.execute(f"SELECT {sums} FROM {table}").fetchone()
            found = [] if any(hits) else cur.execute(sp.cut_sql(table, limit)).fetchall()
        finally:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        if any(hits):
            return None
        totals = (int(n or 0), int(b or 0), int(matched or 0))
    else:
        found = cur.execute(q, params).fetchall()
        if any(row[nk + 3 + i] for row in found for i in range(ng)):
            return None
        totals = (
            sum(int(row[nk + 1]) for row in found),
            sum(int(row[nk + 2]) for row in found),
            sum(int(row[nk + 3 + ng]) for row in found if row[nk]),
        )
    if stats:
        out.scanned, out.bytes = totals[0], totals[1]
    at_n = nk + 3 + ng  # n_rows, then the aggregates
    if all(
        a.how == "count" and a.count_sql is None for a in sp.aggs
    ):  # counts only: values as they come
        plain = [k.kind == isql.STR for k in sp.keys]
        for row in found:
            n_rows = row[at_n]
            if not row[nk] or not n_rows:
                continue
            keys = (
                list(row[:nk])
                if all(plain)
                else [isql.decode(k.kind, v) for k, v in zip(sp.keys, row, strict=False)]
            )
            out.groups.append((keys, list(row[at_n + 1 :])))
        out.matched = totals[2]
        return out
    main = [row[:nk] + row[at_n:] for row in found if row[nk]]
    sums: dict[str, dict[tuple, list]] = {}
    for a in sp.aggs:
        if a.column is not None and a.column not in sums:
            q, params = sp.sums_sql(rel, a.column)
            per: dict[tuple, list] = {}
            for row in cur.execute(q, params).fetchall():
                per.setdefault(tuple(row[:nk]), []).append((row[nk], row[nk + 1]))
            sums[a.column] = per
    for row in main:
        key_raw = tuple(row[:nk])
        keys = [isql.decode(k.kind, v) for k, v in zip(sp.keys, key_raw, strict=True)]
        at = nk
        n_rows = int(row[at])
        at += 1
        if not n_rows:
            continue  # SQL's one row of an aggregate over nothing: the engine has no group
        results = []
        for a in sp.aggs:
            v = count = None
            if a.sql is not None:
                v = row[at]
                at += 1
            if a.count_sql is not None:
                count = int(row[at])
                at += 1
            results.append(
                _result(a, v, count, sums.get(a.column, {}).get(key_raw, []) if a.column else None)
            )
        out.groups.append((keys, results))
    out.matched = totals[2]
    return out


def _result(a: isql.Agg, v: Any, count: int | None, parts: list | None) -> Any:
    """One aggregate's value as the row engine's accumulator gives it (aggregates.py)."""
    if a.how == "count":
        return int(v)
    if a.how == "value":
        return isql.decode(a.kind, v)
    if a.how == "first":
        return None if v is None else isql.decode(a.kind, v["v"])
    # sum / avg
    if not count:
        return None
    if a.column is not None:  # doubles: the exact total, rounded once (math.fsum)
        total, _ = isql.exact_total(parts or [])
        s = isql.rounded_sum(total)
    else:  # longs (epoch ms): an exact integer sum
        s = isql.V.bounded(int(v))
    if a.how == "sum" or s is None:
        return s
    return isql.V.bounded(float(s / count))


class Columnar:
    """The columnar path of one process: the snapshot, the relation, DuckDB, stop/timeout."""

    def __init__(
        self,
        root: Path,
        reader: Reader,
        snapshot: Callable[[Path], Any] = store_snapshot,
        memory: int = 512 * 1024 * 1024,
        idle_s: float = IDLE_CLOSE_S,
    ) -> None:
        self.root = root
        self.reader = reader
        self.snapshot = snapshot
        self.memory = memory
        self.idle_s = idle_s  # DuckDB's connection closes after this long unused

    def run(
        self,
        sp: isql.SqlPlan,
        sources: list[Source],
        lo: int,
        hi: int,
        limit: int,
        should_stop: Callable[[], bool],
    ) -> Answer | None:
        """DuckDB's answer, or None (the caller runs the row engine). :raises _Interrupted: never —
        a stop/timeout interrupts DuckDB and returns None after `should_stop()` turned true; the
        caller's own check then ends the query."""
        snap = self.snapshot(self.root)
        if snap is None:
            return None
        idents = [self.reader.file_ident(s) for s in sources]
        with contextlib.ExitStack() as stack:
            try:
                cur = stack.enter_context(
                    session(self.root / "tmp" / "duckdb", self.memory, self.idle_s)
                )
            except Exception as e:  # a refused temp folder, DuckDB refusing the settings
                log.warning(
                    "Insights: no DuckDB (%s: %s); running the row engine", type(e).__name__, e
                )
                return None
            return self._run(cur, sp, sources, idents, snap, lo, hi, limit, should_stop)

    def _run(
        self,
        cur: Any,
        sp: isql.SqlPlan,
        sources: list[Source],
        idents: list[bytes],
        snap: Any,
        lo: int,
        hi: int,
        limit: int,
        should_stop: Callable[[], bool],
    ) -> Answer | None:
        done = threading.Event()

        def watch() -> None:
            while not done.wait(POLL_S):
                if should_stop():
                    cur.interrupt()
                    return

        watcher = threading.Thread(target=watch, name="logsvc-colquery-watch", daemon=True)
        watcher.start()
        try:
            rel = relation(
                cur, sources, idents, snap, self.reader, lo, hi, ordered=sp.kind == "rows"
            )
            if rel is None:
                return None
            got = answer(cur, sp, rel, limit)
            if got is not None and got.kind == "rows":
                got.picks = [p for p in got.picks if 0 <= p[0] < len(sources)]
            return got
        except Exception as e:
            if not should_stop():
                log.warning(
                    "Insights: the columnar path failed (%s: %s); running the row engine",
                    type(e).__name__,
                    str(e)[:300],
                )
            return None
        finally:
            done.set()
