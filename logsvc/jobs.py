"""Logs Insights queries as background jobs every gunicorn worker can see, stop and read.

Owns: a query's life (Scheduled -> Running -> Complete | Failed | Cancelled | Timeout), where it
runs (a thread pool of the worker that received StartQuery, never the request thread), its state
and results under `<data>/queries/` (through safeio, so any worker answers GetQueryResults,
StopQuery and DescribeQueries for any query), the concurrency limit, the timeout, how long and how
many bytes of results are kept, `@ptr` pointers and what GetLogRecord returns for them, and saved
query definitions. Events come from `query.Reader` (visibility decided there); rows from
`insights.fields.event_row`; the language is `insights.compile`. Never speaks HTTP or AWS
(`cloudwatch/queries.py` and `api/insights.py` translate) and never parses the language.

Layout (all 0700/0600, written by `safeio.write_atomic`):

    <data>/queries/.lock                flock: the active count, definitions, marking dead queries
    <data>/queries/active/<id>          one empty file per Scheduled/Running query (the concurrency count)
    <data>/queries/q/<id>.json          the query: text, groups, range, limit, status, statistics,
                                        owner (host, pid, process start), heartbeat, error
    <data>/queries/q/<id>.rows.json     the rows of a finished query (also Cancelled/Timeout: what it had)
    <data>/queries/q/<id>.partial.json  rows so far while Running (replaced about once a second)
    <data>/queries/q/<id>.stop          StopQuery's request, from any worker
    <data>/queries/definitions.json     saved queries (PutQueryDefinition, the console)

Only the owning process writes a query's `.json` while it lives (its runner thread and its
monitor thread, serialised by the job's lock). Any worker may add `.stop`, and may mark a query
`Failed` once its owner is gone: same host and the pid is dead or is another process now (start
time from /proc), or, for an owner on another host, no heartbeat for STALE_S. So a query whose
worker was killed with -9 reads as Failed at the next look, never Running forever.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from logsvc import colquery, insights, paging, safeio
from logsvc.config import Settings
from logsvc.errors import InvalidParameter, LimitExceeded, LogsvcError, NotFound
from logsvc.insights import fields as ifields
from logsvc.insights import sql as isql
from logsvc.insights import values as ivalues
from logsvc.model import make_event_id
from logsvc.query import MAX_LIMIT, Reader
from logsvc.store import Store
from logsvc.tokens import TOKEN_RE

log = logging.getLogger("logsvc.jobs")

STATUSES = ("Scheduled", "Running", "Complete", "Failed", "Cancelled", "Timeout")
TERMINAL = frozenset({"Complete", "Failed", "Cancelled", "Timeout"})
ACCOUNT_ID = "000000000000"
DEFAULT_LIMIT = 10_000
MAX_QUERY_LIMIT = (
    100_000  # botocore 1.43's EventsLimitStartQuery: 1..100,000 (AWS docs: "up to 100,000")
)
MAX_QUERY_CHARS = 10_000
HEARTBEAT_S = 0.5  # the monitor writes progress (statistics, partial rows) this often
CHECK_EVERY = 256  # events between looks at stop / timeout / progress
PAGE_S = 0.25  # a read page returns at least this often, so a selective scan still looks at stop
PARTIAL_S = 1.0  # partial rows are recomputed at most this often
PARTIAL_ROWS = (
    1000  # rows shown while Running (the first of the engine's order); all of them at the end
)
PARTIAL_BYTES = (
    1024 * 1024
)  # the partial rows file holds at most this (rows past it wait for the end)
STALE_S = 30.0  # an owner on another host with no heartbeat this long is gone
SWEEP_S = 60.0  # expired queries are swept at most this often per process
MAX_KEPT = 10_000  # finished queries kept (beyond this the oldest go, whatever their age)
MAX_DEFINITIONS = 1000  # AWS: 1,000 saved queries per account and region
PTR_KIND = "insights-ptr"
_PTR_MARK = "\x00ptr\x00"  # + "<source index>:<offset>:<end>": a pointer inside the engine, signed when rows leave the runner
_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STATE_RE = re.compile(r"([0-9a-f-]{36})\.json")


class MalformedQuery(InvalidParameter):
    """The query text does not compile: `start`/`end` are character offsets into it."""

    code = "MalformedQuery"

    def __init__(self, message: str, start: int, end: int, caret: str = "") -> None:
        super().__init__(
            message, field="query", rule="Logs Insights query syntax", hint=caret or None
        )
        self.position = start
        self.end = end
        self.caret = caret


def compile_query(text: str):
    """`insights.compile`, with its QueryError as MalformedQuery."""
    try:
        return insights.compile(text)
    except insights.QueryError as e:
        try:
            caret = e.caret(text)
        except Exception:
            caret = ""
        raise MalformedQuery(e.message, e.start, e.end, caret) from None
    except (
        RecursionError,
        ValueError,
        OverflowError,
    ) as e:  # e.g. a 5,000-digit number, 3,000 nested parentheses
        log.warning("Insights: compiling a %d-character query failed: %r", len(text), e)
        raise MalformedQuery(
            f"logsvc cannot compile this query ({type(e).__name__}: {str(e)[:200]})", 0, len(text)
        ) from None


# ---- who owns a query ----------------------------------------------------------------------------


def _proc_start(pid: int) -> int | None:
    """The start time of process `pid` (clock ticks after boot), or None if there is none.

    A zombie counts as none: a killed worker whose parent died with it stays a zombie until init
    reaps it (never, under an init that does not reap), and it runs no query.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    try:
        fields = stat[stat.rindex(b")") + 2 :].split()
        return None if fields[0] in (b"Z", b"X") else int(fields[19])
    except (ValueError, IndexError):
        return None


_HOST = socket.gethostname()


def _owner() -> dict:
    pid = os.getpid()
    return {"host": _HOST, "pid": pid, "since": _proc_start(pid)}


def owner_alive(owner: dict | None, heartbeat_ms: int | None, now_ms: int) -> bool:
    if not owner:
        return False
    if owner.get("host") != _HOST:  # another machine or container: only its heartbeat says
        return heartbeat_ms is not None and now_ms - heartbeat_ms < STALE_S * 1000
    pid = owner.get("pid")
    return (
        isinstance(pid, int)
        and _proc_start(pid) is not None
        and _proc_start(pid) == owner.get("since")
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


# ---- one query in the process that runs it -------------------------------------------------------


@dataclass
class Stats:
    records_matched: int = 0
    records_scanned: int = 0
    bytes_scanned: int = 0
    groups_scanned: int = 0

    def to_json(self) -> dict:
        return {
            "recordsMatched": float(self.records_matched),
            "recordsScanned": float(self.records_scanned),
            "estimatedRecordsSkipped": 0.0,
            "bytesScanned": float(self.bytes_scanned),
            "estimatedBytesSkipped": 0.0,
            "logGroupsScanned": float(self.groups_scanned),
        }


class _Stop(Exception):
    def __init__(self, status: str, error: str | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.error = error


@dataclass
class _Job:
    state: dict
    plan: Any
    stats: Stats = field(default_factory=Stats)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    partial: list | None = None  # rendered rows so far (written by the monitor)
    partial_written: bool = True
    partial_at: float = 0.0
    execution: Any = None
    sources: list = field(
        default_factory=list
    )  # (group, stream) of each source: unsigned pointers index it
    idents: dict = field(
        default_factory=dict
    )  # source index -> its file's identity (model.make_event_id)

    @property
    def id(self) -> str:
        return self.state["queryId"]


# ---- the jobs ------------------------------------------------------------------------------------


class Jobs:
    """The Insights queries of a data directory, as this process sees and runs them."""

    def __init__(
        self,
        store: Store,
        reader: Reader,
        settings: Settings,
        columnar: colquery.Columnar | None = None,
    ) -> None:
        self.store = store
        self.reader = reader
        self.settings = settings
        # the columnar path (LOGSVC_COLUMNS): queries that map to SQL run in DuckDB over the columns
        self.columnar = (
            columnar
            if columnar is not None
            else (
                colquery.Columnar(store.root, reader, memory=settings.insights_memory)
                if settings.columns
                else None
            )
        )
        self.root = store.root
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._monitor: threading.Thread | None = None
        self._closing = threading.Event()
        self._last_sweep = 0.0

    # ---- files ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _dir(self, *parts: str) -> Iterator[int]:
        with safeio.under(self.root, "queries", *parts, create=True) as fd:
            yield fd

    @contextlib.contextmanager
    def _flock(self) -> Iterator[None]:
        with self._dir() as qfd:
            fd = safeio.open_file(qfd, ".lock", os.O_CREAT | os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _write_json(self, name: str, value: Any, *parts: str) -> int:
        data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
        with self._dir(*parts) as fd:
            safeio.write_atomic(fd, name, data)
        return len(data)

    def _read_json(self, name: str, *parts: str, limit: int = 1 << 20) -> Any:
        with self._dir(*parts) as fd:
            try:
                data = safeio.read_bytes(fd, name, limit)
            except FileNotFoundError:
                return None
        try:
            return json.loads(data)
        except ValueError:
            log.warning("queries/%s is not valid JSON; ignoring it", "/".join((*parts, name)))
            return None

    def _exists(self, name: str, *parts: str) -> bool:
        with self._dir(*parts) as fd:
            try:
                os.stat(name, dir_fd=fd, follow_symlinks=False)
                return True
            except FileNotFoundError:
                return False

    def _touch(self, name: str, *parts: str) -> None:
        with self._dir(*parts) as fd:
            os.close(safeio.open_file(fd, name, os.O_CREAT | os.O_WRONLY))

    def _unlink(self, name: str, *parts: str) -> None:
        with self._dir(*parts) as fd:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=fd)

    def _rows_limit(self) -> int:
        return max(1, self.settings.insights_results_bytes // 4)

    # ---- lifecycle -----------------------------------------------------------------------------

    def _ensure_threads(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.settings.insights_threads, thread_name_prefix="logsvc-insights"
                )
                self._monitor = threading.Thread(
                    target=self._monitor_loop, name="logsvc-insights-monitor", daemon=True
                )
                self._monitor.start()
            return self._pool

    def close(self) -> None:
        """Stop this process's queries: each ends as Failed (its worker is going away)."""
        self._closing.set()
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop.set()
        for job in jobs:
            job.done.wait(2.0)
        for job in jobs:
            if not job.done.is_set():
                self._finish(job, "Failed", None, "the worker running this query shut down")
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._monitor is not None:
            self._monitor.join(2.0)

    # ---- starting ------------------------------------------------------------------------------

    def start(
        self,
        text: str,
        groups: list[str],
        start_ms: int,
        end_ms: int,
        limit: int | None = None,
        *,
        plan: Any = None,
        account: str = ACCOUNT_ID,
        language: str = "CWLI",
        wait: float = 0.0,
    ) -> dict:
        """Schedule a query over `groups` (every group must exist) for events in [start_ms, end_ms].

        `plan` is the compiled `text` when the caller already compiled it (to read SOURCE).
        Waits up to `wait` seconds for it to finish; returns its state.
        :raises MalformedQuery: :raises NotFound: (a group) :raises LimitExceeded: (too many queries)
        :raises InvalidParameter:
        """
        if plan is None:
            plan = compile_query(text)
        limit = DEFAULT_LIMIT if limit is None else limit
        if not 1 <= limit <= MAX_QUERY_LIMIT:
            raise InvalidParameter(
                f"limit must be between 1 and {MAX_QUERY_LIMIT}",
                field="limit",
                rule=f"1..{MAX_QUERY_LIMIT}",
            )
        if end_ms < start_ms:
            raise InvalidParameter(
                "the end of the time range is before its start",
                field="endTime",
                rule="startTime <= endTime",
            )
        groups = list(dict.fromkeys(groups))
        if not groups:
            raise InvalidParameter(
                "a query needs at least one log group", field="groups", rule="1 or more log groups"
            )
        for g in groups:
            self.store.get_group(g)  # NotFound / InvalidParameter
        self._sweep()
        now = _now_ms()
        qid = str(uuid.uuid4())
        state = {
            "queryId": qid,
            "queryString": text,
            "queryLanguage": language,
            "groups": groups,
            "account": account,
            "start": start_ms,
            "end": end_ms,
            "limit": limit,
            "status": "Scheduled",
            "createTime": now,
            "startedTime": None,
            "endedTime": None,
            "statistics": Stats().to_json(),
            "error": None,
            "owner": _owner(),
            "heartbeat": now,
            "rowCount": None,
        }
        job = _Job(state, plan)
        with self._flock():
            active = self._active_ids()
            if len(active) >= self.settings.insights_max_queries:
                raise LimitExceeded(
                    f"{len(active)} Logs Insights queries are already scheduled or running; the limit is "
                    f"{self.settings.insights_max_queries}",
                    field="queryString",
                    rule=f"at most {self.settings.insights_max_queries} concurrent queries",
                    hint="Wait for one to finish or stop one (StopQuery); the limit is LOGSVC_INSIGHTS_MAX_QUERIES.",
                )
            self._write_json(f"{qid}.json", state, "q")
            self._touch(qid, "active")
        with self._lock:
            self._jobs[qid] = job
        try:
            self._ensure_threads().submit(self._run, job)
        except RuntimeError:  # the pool is shut down: this worker is exiting
            self._finish(
                job,
                "Failed",
                None,
                "the worker that received this query is shutting down; start it again",
            )
        if wait > 0:
            job.done.wait(wait)
        with job.lock:
            return dict(job.state)

    def _active_ids(self) -> list[str]:
        """Ids of Scheduled/Running queries whose owner lives; the dead are marked Failed (holding the flock)."""
        with self._dir("active") as fd:
            names = [n for n in os.listdir(fd) if _ID_RE.fullmatch(n)]
        out = []
        now = _now_ms()
        for qid in names:
            # a stopped query is Cancelled for every reader already (its runner ends in a moment): not counted
            stopped = self._exists(f"{qid}.stop", "q")
            if qid in self._jobs:
                if not stopped:
                    out.append(qid)
                continue
            st = self._read_json(f"{qid}.json", "q")
            if st is None or st.get("status") in TERMINAL:
                self._unlink(qid, "active")
                continue
            if not owner_alive(st.get("owner"), st.get("heartbeat"), now):
                self._mark_dead(st)
                continue
            if not stopped:
                out.append(qid)
        return out

    def _mark_dead(self, st: dict) -> dict:
        """A query whose owner is gone: Failed (or Cancelled if it was asked to stop). Call holding the flock."""
        stopped = self._exists(f"{st['queryId']}.stop", "q")
        st = dict(st)
        st["status"] = "Cancelled" if stopped else "Failed"
        owner = st.get("owner") or {}
        if not stopped:
            st["error"] = (
                f"the worker running this query (pid {owner.get('pid')}) ended before it finished"
            )
        st["endedTime"] = _now_ms()
        self._write_json(f"{st['queryId']}.json", st, "q")
        self._unlink(st["queryId"], "active")
        log.warning(
            "Insights query %s: %s", st["queryId"], st.get("error") or "stopped; its worker is gone"
        )
        return st

    # ---- running -------------------------------------------------------------------------------

    def _run(self, job: _Job) -> None:
        try:
            self._execute(job)
        except _Stop as s:
            self._finish(job, s.status, self._partial_rows(job), s.error)
        except LogsvcError as e:
            self._finish(job, "Failed", None, e.message)
        except Exception as e:
            log.exception("Insights query %s failed", job.id)
            self._finish(
                job,
                "Failed",
                None,
                f"logsvc hit an unexpected error ({type(e).__name__}); its log has the details",
            )

    def _check(self, job: _Job, execution: Any = None) -> None:
        """Between events: stop, timeout and progress."""
        if self._closing.is_set():
            raise _Stop("Failed", "the worker running this query shut down")
        if job.stop.is_set() or self._exists(f"{job.id}.stop", "q"):
            raise _Stop("Cancelled")
        started = job.state["startedTime"] or job.state["createTime"]
        if _now_ms() - started > self.settings.insights_timeout * 1000:
            raise _Stop(
                "Timeout",
                f"the query ran longer than {self.settings.insights_timeout:g} s (LOGSVC_INSIGHTS_TIMEOUT)",
            )
        if execution is not None:
            job.stats.records_matched = execution.matched
            now = time.monotonic()
            if now - job.partial_at >= PARTIAL_S:
                job.partial_at = now
                rows = self._render(job, execution.partial()[:PARTIAL_ROWS])
                with job.lock:
                    job.partial, job.partial_written = rows, False

    def _execute(self, job: _Job) -> None:
        self._check(job)
        with job.lock:
            job.state["status"] = "Running"
            job.state["startedTime"] = _now_ms()
            self._write_state(job)
        st = job.state
        plan = job.plan
        ctx = ivalues.EvalContext(
            timestamp=None,
            query_start_ms=st["start"],
            query_end_ms=st["end"],
            now_ms=st["createTime"],
        )
        execution = job.execution = plan.start(limit=st["limit"], ctx=ctx)
        sources = self.reader.sources(st["groups"])
        job.stats.groups_scanned = len(st["groups"])
        pattern = literal_pattern(getattr(plan, "literal_terms", None) or [])
        want_ptr = not getattr(plan, "is_stats", False)
        account = st["account"]
        src_index = {(s.group, s.stream): i for i, s in enumerate(sources)}
        job.sources = [(s.group, s.stream) for s in sources]
        idents = job.idents

        def feed(lo: int, hi: int, add: Any) -> None:
            n = 0
            for ev in self._events(job, sources, lo, hi, pattern):
                if (
                    want_ptr
                ):  # the event id (a hash) is made only for the rows returned, when signing
                    i = src_index[(ev.group, ev.stream)]
                    if i not in idents:
                        idents[i] = ev.ident
                    ptr = f"{_PTR_MARK}{i}:{ev.offset}:{ev.end}"
                else:
                    ptr = None
                add(ifields.event_row(ev, account=account, ptr=ptr))
                job.stats.records_scanned += 1
                job.stats.bytes_scanned += (
                    ev.end - ev.offset
                )  # the event's bytes in its file: what was read
                n += 1
                if n % CHECK_EVERY == 0:
                    self._check(job, execution)

        if not self._columnar(job, plan, sources, execution, account, want_ptr, src_index):
            if getattr(plan, "needs_previous", False):
                feed(
                    *previous_window(st["start"], st["end"], getattr(plan, "previous", None)),
                    execution.add_previous,
                )
            feed(st["start"], st["end"], execution.add)
        self._check(job)
        job.stats.records_matched = execution.matched
        rows = self._render(job, execution.finish())
        job.stats.records_matched = execution.matched
        self._finish(job, "Complete", rows, None)

    def _columnar(
        self,
        job: _Job,
        plan: Any,
        sources: list,
        execution: Any,
        account: str,
        want_ptr: bool,
        src_index: dict,
    ) -> bool:
        """The query answered from the columns by DuckDB (colquery.py), when it maps to SQL
        (insights/sql.py) and LOGSVC_COLUMNS is on; False: the caller runs the row engine. A stop or
        timeout interrupts DuckDB and ends the query here as it would in the row engine."""
        if self.columnar is None or not isinstance(plan, insights.Plan):
            return False
        sp = isql.plan_sql(plan, account)
        if sp is None:
            return False
        if sp.kind == "rows" and getattr(plan, "literal_terms", None):
            # words every match contains: the block index's candidate blocks find them faster than a
            # column scan, and that cost does not grow with the corpus (ARCHITECTURE.md, Insights)
            return False
        st = job.state

        def should_stop() -> bool:
            try:
                self._check(job)
            except _Stop:
                return True
            return False

        got = self.columnar.run(sp, sources, st["start"], st["end"], st["limit"], should_stop)
        self._check(job)
        if got is None:
            return False
        if got.kind == "stats":
            execution.put_groups(got.groups, got.matched)
        else:
            by_source: dict[int, list] = {}
            for sidx, off, end, ing in got.picks:
                by_source.setdefault(sidx, []).append((off, end, ing))
            events = []
            for sidx, spans in by_source.items():
                events += self.reader.events_at(sources[sidx], spans)
            if len(events) != len(got.picks):
                log.warning(
                    "Insights query %s: %d of %d picked events are gone; running the row engine",
                    job.id,
                    len(got.picks) - len(events),
                    len(got.picks),
                )
                return False
            keys = {(s.group, s.stream): s.skey for s in sources}
            events.sort(
                key=lambda e: (e.timestamp, keys[(e.group, e.stream)], e.offset), reverse=True
            )  # the reader's order
            idents = job.idents
            for ev in events:
                ptr = None
                if want_ptr:
                    i = src_index[(ev.group, ev.stream)]
                    idents.setdefault(i, ev.ident)
                    ptr = f"{_PTR_MARK}{i}:{ev.offset}:{ev.end}"
                execution.add(ifields.event_row(ev, account=account, ptr=ptr))
            execution.matched = (
                got.matched
            )  # every event the filters pass, not only the picked ones
        job.stats.records_scanned = got.scanned
        job.stats.bytes_scanned = got.bytes
        return True

    def _events(self, job: _Job, sources: list, lo: int, hi: int, pattern: str) -> Iterator:
        """Every visible event of `sources` in [lo, hi], newest first, in pages that return at least
        every PAGE_S (so stop and timeout are looked at while a selective scan finds nothing)."""
        token = None
        while True:
            self._check(job)
            page = self.reader.read(
                sources,
                start=lo,
                end=hi,
                limit=MAX_LIMIT,
                forward=False,
                pattern=pattern,
                token=token,
                deadline=time.monotonic() + PAGE_S,
            )
            yield from reversed(page.events)
            token = page.next_token
            if not token:
                return

    def _partial_rows(self, job: _Job) -> list | None:
        """What a stopped query had: the engine's rows so far (or the last partial rows)."""
        if job.execution is not None:
            try:
                return self._render(job, job.execution.partial())
            except Exception:
                log.exception("Insights query %s: partial rows failed", job.id)
        with job.lock:
            return job.partial

    def _render(self, job: _Job, rows: list) -> list:
        """Engine rows -> [[field, value], ...] with every pointer signed for GetLogRecord."""
        codec = paging.codec(self.root)
        out = []
        for row in rows:
            cells = []
            for f, v in row:
                if isinstance(v, str) and v.startswith(_PTR_MARK):
                    v = self._sign_ptr(codec, job, v)
                cells.append([f, v])
            out.append(cells)
        return out

    @staticmethod
    def _sign_ptr(codec: paging.Codec, job: _Job, raw: str) -> str:
        try:
            idx, offset, end = (int(x) for x in raw[len(_PTR_MARK) :].split(":"))
            group, stream = job.sources[idx]
        except (ValueError, IndexError):
            return raw
        event_id = make_event_id(group, stream, offset, job.idents.get(idx, b""), end)
        return codec.encode(PTR_KIND, [group, stream, event_id])

    def _write_state(self, job: _Job) -> None:
        """Write the job's state (call holding job.lock); a state another worker already ended stays ended."""
        job.state["statistics"] = job.stats.to_json()
        job.state["heartbeat"] = _now_ms()
        self._write_json(f"{job.id}.json", job.state, "q")

    def _finish(self, job: _Job, status: str, rows: list | None, error: str | None) -> None:
        with job.lock:
            if job.done.is_set():
                return
            rows = rows or []
            size = 0
            try:
                size = self._write_json(f"{job.id}.rows.json", rows, "q")
            except OSError as e:
                status, error, rows = "Failed", f"cannot store the results: {e.strerror or e}", []
            if size > self._rows_limit():
                self._write_json(f"{job.id}.rows.json", [], "q")
                status, rows = "Failed", []
                error = (
                    f"the results are {size} bytes, over the {self._rows_limit()} bytes one query may keep "
                    "(a quarter of LOGSVC_INSIGHTS_RESULTS_BYTES); narrow the query or add a limit"
                )
            job.state.update(status=status, error=error, endedTime=_now_ms(), rowCount=len(rows))
            self._write_state(job)
            self._unlink(f"{job.id}.partial.json", "q")
            self._unlink(job.id, "active")
            job.done.set()
        with self._lock:
            self._jobs.pop(job.id, None)

    def _monitor_loop(self) -> None:
        """Heartbeats, statistics and partial rows of this process's live queries."""
        while not self._closing.wait(HEARTBEAT_S):
            with self._lock:
                jobs = list(self._jobs.values())
            for job in jobs:
                try:
                    with job.lock:
                        if job.done.is_set():
                            continue
                        self._write_state(job)
                        if not job.partial_written and job.partial is not None:
                            self._write_json(
                                f"{job.id}.partial.json", _cut(job.partial, PARTIAL_BYTES), "q"
                            )
                            job.partial_written = True
                except OSError as e:  # disk full: the next beat tries again
                    log.warning("Insights query %s: cannot record progress: %s", job.id, e)

    # ---- reading -------------------------------------------------------------------------------

    def info(self, qid: str) -> dict:
        """The query's state as every worker sees it (a dead owner's query reads as Failed).

        :raises NotFound:
        """
        if not isinstance(qid, str) or not _ID_RE.fullmatch(qid):
            raise NotFound(f"no Logs Insights query {qid!r}", field="queryId")
        job = self._jobs.get(qid)
        if job is not None:
            with job.lock:
                st = dict(job.state)
                st["statistics"] = job.stats.to_json()
            if st["status"] not in TERMINAL and (
                job.stop.is_set() or self._exists(f"{qid}.stop", "q")
            ):
                st["status"] = "Cancelled"  # its runner ends it within a moment
            return st
        st = self._read_json(f"{qid}.json", "q")
        if st is None:
            raise NotFound(f"no Logs Insights query {qid!r}", field="queryId")
        return self._settled(st)

    def _settled(self, st: dict) -> dict:
        if st.get("status") in TERMINAL:
            return st
        if not owner_alive(st.get("owner"), st.get("heartbeat"), _now_ms()):
            with self._flock():
                cur = self._read_json(f"{st['queryId']}.json", "q") or st
                if cur.get("status") in TERMINAL:
                    return cur
                return self._mark_dead(cur)
        if self._exists(f"{st['queryId']}.stop", "q"):
            return {**st, "status": "Cancelled"}  # its runner ends it within a moment
        return st

    def results(self, qid: str) -> tuple[dict, list]:
        """(state, rows): the final rows once it ended, the rows so far while it runs."""
        st = self.info(qid)
        if st["status"] in TERMINAL:
            rows = self._read_json(f"{qid}.rows.json", "q", limit=self._rows_limit() + 1)
            if rows is None and st["status"] != "Complete":
                rows = self._read_json(f"{qid}.partial.json", "q", limit=PARTIAL_BYTES * 2)
            return st, rows or []
        job = self._jobs.get(qid)
        if job is not None:
            with job.lock:
                return st, list(job.partial or [])
        return st, self._read_json(f"{qid}.partial.json", "q", limit=PARTIAL_BYTES * 2) or []

    def wait(self, qid: str, timeout: float) -> dict:
        """The state once the query ended or `timeout` seconds passed."""
        deadline = time.monotonic() + timeout
        job = self._jobs.get(qid)
        if job is not None:
            job.done.wait(max(0.0, timeout))
            return self.info(qid)
        while True:
            st = self.info(qid)
            if st["status"] in TERMINAL or time.monotonic() >= deadline:
                return st
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def stop(self, qid: str, wait: float = 1.0) -> dict:
        """Ask the query to stop (from any worker); it ends as Cancelled.

        :raises NotFound: :raises InvalidParameter: if it has already ended.
        """
        st = self.info(qid)
        if st["status"] in TERMINAL:
            raise InvalidParameter(
                f"query {qid} is not running: it ended as {st['status']}",
                field="queryId",
                rule="a Scheduled or Running query",
            )
        self._touch(f"{qid}.stop", "q")
        job = self._jobs.get(qid)
        if job is not None:
            job.stop.set()
            job.done.wait(wait)
            return self.info(qid)
        deadline = (
            time.monotonic() + wait
        )  # its runner is in another worker: give it a moment to record the end
        while time.monotonic() < deadline:
            recorded = self._read_json(f"{qid}.json", "q")
            if recorded is None or recorded.get("status") in TERMINAL:
                break
            time.sleep(0.02)
        return self.info(qid)

    def list(self, group: str | None = None, status: str | None = None) -> list[dict]:
        """Known queries, newest first."""
        with self._dir("q") as fd:
            names = [m.group(1) for n in os.listdir(fd) if (m := _STATE_RE.fullmatch(n))]
        out = []
        for qid in names:
            try:
                st = self.info(qid)
            except (NotFound, OSError):
                continue
            if group is not None and group not in st.get("groups", ()):
                continue
            if status is not None and st.get("status") != status:
                continue
            out.append(st)
        out.sort(key=lambda s: (-s.get("createTime", 0), s["queryId"]))
        return out

    # ---- keeping results bounded ---------------------------------------------------------------

    def _sweep(self) -> None:
        """Drop finished queries past insights_retention, then the oldest while the results pass
        insights_results_bytes or more than MAX_KEPT are kept. At most once per SWEEP_S (or half the
        retention) per process, when a query starts."""
        now = time.monotonic()
        if now - self._last_sweep < min(SWEEP_S, self.settings.insights_retention / 2):
            return
        self._last_sweep = now
        cutoff = _now_ms() - int(self.settings.insights_retention * 1000)
        finished = []
        with self._dir("q") as fd:
            for name in os.listdir(fd):
                m = _STATE_RE.fullmatch(name)
                if not m:
                    continue
                st = self._read_json(name, "q")
                if not st or st.get("status") not in TERMINAL:
                    continue
                try:
                    size = os.stat(
                        f"{m.group(1)}.rows.json", dir_fd=fd, follow_symlinks=False
                    ).st_size
                except FileNotFoundError:
                    size = 0
                finished.append(
                    (st.get("endedTime") or st.get("createTime") or 0, m.group(1), size)
                )
        finished.sort()
        total = sum(f[2] for f in finished)
        count = len(finished)
        for ended, qid, size in finished:
            if (
                ended >= cutoff
                and total <= self.settings.insights_results_bytes
                and count <= MAX_KEPT
            ):
                break
            for suffix in (".rows.json", ".partial.json", ".stop", ".json"):
                self._unlink(qid + suffix, "q")
            total -= size
            count -= 1

    # ---- @ptr and GetLogRecord -----------------------------------------------------------------

    def log_record(self, ptr: str, account: str = ACCOUNT_ID) -> dict[str, str]:
        """Every field of the event `ptr` points at, as strings (times as epoch-ms strings).

        :raises InvalidParameter: for a pointer this server did not issue.
        :raises NotFound: when the event is gone (its stream deleted, expired by retention).
        """
        data = paging.codec(self.root).decode(
            PTR_KIND,
            ptr,
            field="logRecordPointer",
            message="The specified logRecordPointer is invalid.",
        )
        if not (
            isinstance(data, list) and len(data) == 3 and all(isinstance(x, str) for x in data)
        ):
            raise InvalidParameter(
                "The specified logRecordPointer is invalid.", field="logRecordPointer"
            )
        group, stream, event_id = data
        events = self.reader.context(group, stream, event_id, 0, 0)
        ev = next((e for e in events if e.event_id == event_id), None)
        if ev is None:
            raise NotFound(
                "the event this pointer names is no longer there", field="logRecordPointer"
            )
        return record_fields(ev, account)

    # ---- GetLogGroupFields ---------------------------------------------------------------------

    def group_fields(
        self,
        group: str,
        start_ms: int | None,
        end_ms: int | None,
        sample: int = 1000,
        account: str = ACCOUNT_ID,
    ) -> list[tuple[str, int]]:
        """(field, percent of the sampled events that have it), most common first, from the newest
        `sample` events of `group` in [start_ms, end_ms]. :raises NotFound:"""
        self.store.get_group(group)
        sources = self.reader.sources([group])
        page = self.reader.read(
            sources, start=start_ms, end=end_ms, limit=min(sample, MAX_LIMIT), forward=False
        )
        return [
            (f["name"], f["percent"])
            for f in ifields.log_group_fields(page.events, account=account)
        ]

    # ---- saved queries -------------------------------------------------------------------------

    def _definitions(self) -> list[dict]:
        data = self._read_json("definitions.json", limit=64 << 20)
        return list(data.get("definitions", [])) if isinstance(data, dict) else []

    def put_definition(
        self,
        *,
        name: str,
        query: str,
        groups: list[str] | None = None,
        definition_id: str | None = None,
        parameters: list[dict] | None = None,
        language: str = "CWLI",
        client_token: str | None = None,
    ) -> str:
        """Create (no id) or wholly replace (id) a saved query; returns its id.

        :raises NotFound: an id that does not exist. :raises LimitExceeded: past MAX_DEFINITIONS.
        """
        with self._flock():
            defs = self._definitions()
            if client_token:
                same = next((d for d in defs if d.get("clientToken") == client_token), None)
                if same is not None:  # a retried call: the first one did it
                    return same["queryDefinitionId"]
            record = {
                "queryDefinitionId": definition_id or str(uuid.uuid4()),
                "name": name,
                "queryString": query,
                "lastModified": _now_ms(),
                "logGroupNames": list(groups or []),
                "parameters": list(parameters or []),
                "queryLanguage": language,
                "clientToken": client_token,
            }
            if definition_id is not None:
                idx = next(
                    (i for i, d in enumerate(defs) if d.get("queryDefinitionId") == definition_id),
                    None,
                )
                if idx is None:
                    raise NotFound(f"no saved query {definition_id!r}", field="queryDefinitionId")
                defs[idx] = record
            else:
                if len(defs) >= MAX_DEFINITIONS:
                    raise LimitExceeded(
                        f"at most {MAX_DEFINITIONS} saved queries are kept",
                        field="name",
                        rule=f"<= {MAX_DEFINITIONS} query definitions",
                    )
                defs.append(record)
            self._write_json("definitions.json", {"definitions": defs})
            return record["queryDefinitionId"]

    def definitions(self, prefix: str | None = None, language: str | None = None) -> list[dict]:
        """Saved queries, by name (then id)."""
        out = [
            d
            for d in self._definitions()
            if (not prefix or d.get("name", "").startswith(prefix))
            and (language is None or d.get("queryLanguage", "CWLI") == language)
        ]
        return sorted(out, key=lambda d: (d.get("name", ""), d.get("queryDefinitionId", "")))

    def delete_definition(self, definition_id: str) -> None:
        """:raises NotFound:"""
        with self._flock():
            defs = self._definitions()
            kept = [d for d in defs if d.get("queryDefinitionId") != definition_id]
            if len(kept) == len(defs):
                raise NotFound(f"no saved query {definition_id!r}", field="queryDefinitionId")
            self._write_json("definitions.json", {"definitions": kept})


def previous_window(start: int, end: int, kind: str | None) -> tuple[int, int]:
    """`diff`'s other period: the same length just before (`diff`), or this window a day, a week or a
    calendar month earlier (`diff previousDay|previousWeek|previousMonth`)."""
    if kind == "day":
        return start - 86_400_000, end - 86_400_000
    if kind == "week":
        return start - 7 * 86_400_000, end - 7 * 86_400_000
    if kind == "month":
        return _month_back(start), _month_back(end)
    return start - (end - start + 1), start - 1


def _month_back(ms: int) -> int:
    """The same time of day, one calendar month earlier (the 31st becomes the month's last day)."""
    import calendar
    from datetime import UTC, datetime

    t = datetime.fromtimestamp(ms / 1000, UTC)
    year, month = (t.year, t.month - 1) if t.month > 1 else (t.year - 1, 12)
    day = min(t.day, calendar.monthrange(year, month)[1])
    return int(t.replace(year=year, month=month, day=day).timestamp() * 1000)


def _cut(rows: list, limit: int) -> list:
    """The first rows whose JSON fits in `limit` bytes (partial rows are approximate anyway)."""
    out, size = [], 2
    for r in rows:
        size += len(json.dumps(r, ensure_ascii=False)) + 1
        if size > limit:
            break
        out.append(r)
    return out


def literal_pattern(terms: list[str]) -> str:
    """A filter pattern that every event whose @message holds all `terms` matches (Plan.literal_terms:
    whole tokens, case as written): the reader then reads only candidate blocks and chunks, as for
    FilterLogEvents. A token is a bare word (token-aligned, case-sensitive, and the index's postings
    or Bloom filters narrow the blocks); anything else would be a phrase (a plain substring)."""
    parts: list[str] = []
    size = 0
    for t in terms:
        if not isinstance(t, str) or not t.strip() or "\n" in t or "\r" in t:
            continue
        if TOKEN_RE.fullmatch(t):
            phrase = t
        else:
            phrase = '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if (
            size + len(phrase) + 1 > 1000
        ):  # the pattern's 1,024-character cap; fewer terms still match a superset
            break
        parts.append(phrase)
        size += len(phrase) + 1
    return " ".join(parts)


def record_fields(ev: Any, account: str = ACCOUNT_ID) -> dict[str, str]:
    """GetLogRecord's map: every field of the event, times as epoch-ms strings (fields.py decides)."""
    return ifields.log_record(ev, account=account)
