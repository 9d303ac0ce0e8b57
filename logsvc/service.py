"""Lifecycle: wires store, watcher, index, ingester, reader, tailer and invoker; start() and close().

Owns: which process writes the index. Every process (each gunicorn worker, each test) creates a
Service and can read; the one that holds an exclusive lock on `<data>/index.lock` runs the
ingester. If that process dies, the lock is released and another takes over within a second.
Under gunicorn the writer publishes its ingest state on the server's `Board` (a few times a second),
so every worker answers /healthz with it: the writer itself serves no new connections (serve.py).
Contains no request logic.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import closing
from pathlib import Path

from logsvc import locks, safeio
from logsvc.board import Board
from logsvc.config import Settings
from logsvc.index import BlockIndex, IndexCorrupt, Snapshot, index_exists, settle_dirs
from logsvc.ingest import Ingester
from logsvc.invoker import create_invoker
from logsvc.invoker.invoke import StartServer
from logsvc.jobs import Jobs
from logsvc.query import Reader
from logsvc.store import Store
from logsvc.tail import Tailer
from logsvc.watch import Watcher

log = logging.getLogger("logsvc")

PUBLISH_EVERY = 0.2  # seconds between publications of the ingest state while it changes
# an ingest error (it may quote a path, in any characters) is cut to this on the board: 500
# characters are at most 3,000 bytes there (Board.publish), within its 4 KB with the other fields
PUBLISHED_ERROR_CHARS = 500


class IndexHandle:
    """The index as readers see it: opened lazily; empty until the writer has created it.

    In the ingesting process the handle holds the writer's own `BlockIndex` (see `set`). Reads
    share it but never close it: closing cancels the writer's uncommitted blocks while the
    ingester still counts them, a gap no read would ever fill. Only an index the handle opened
    itself for reading is dropped (and reopened later) when it turns out unreadable.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._index: BlockIndex | None = None
        self._writer_owned = (
            False  # is self._index the ingester's index? (then only set() replaces it)
        )
        self._lock = threading.Lock()
        self._warned = False

    def set(self, index: BlockIndex | None) -> None:
        """Install the writer's index (or None at shutdown); closes the one it replaces."""
        with self._lock:
            old, self._index = self._index, index
            self._writer_owned = index is not None
        if old is not None and old is not index:
            old.close()

    def get(self) -> BlockIndex | None:
        with self._lock:
            if self._index is None:
                try:
                    if index_exists(self.path):
                        safeio.refuse_links_under(self.path)  # whoosh opens its files by path
                        self._index = BlockIndex(self.path)
                        self._writer_owned = False
                except (IndexCorrupt, safeio.Refused) as e:
                    if not self._warned:
                        log.warning("index not readable yet (%s); reading stream files directly", e)
                        self._warned = True
            return self._index

    def snapshot(self) -> Snapshot:
        """The latest snapshot, with one reference the caller must release (`with` does it)."""
        idx = self.get()
        if idx is None:
            return Snapshot.empty()
        try:
            return idx.snapshot()
        except IndexCorrupt as e:
            if not self._warned:
                log.warning("%s; reading stream files directly until it is rebuilt", e)
                self._warned = True
            self._drop_unreadable(idx)
            return Snapshot.empty()

    def _drop_unreadable(self, idx: BlockIndex) -> None:
        """Forget a reader-opened index that failed (the next read reopens it); never the writer's."""
        with self._lock:
            if self._index is not idx or self._writer_owned:
                return
            self._index = None
        idx.close()

    def close(self) -> None:
        self.set(None)


class Service:
    """Everything one process needs. Tests build one directly; gunicorn builds one per worker."""

    def __init__(
        self,
        settings: Settings,
        *,
        invoker_server: StartServer | None = None,
        board: Board | None = None,
        writer_reads: bool = True,
    ) -> None:
        """`invoker_server` starts the invoker's loopback server (the API layer's, injected by serve.py);
        a project needs it. `board`: shared with the server's other processes (the ingest state).
        `writer_reads=False`: if this process becomes the writer it serves (almost) no reads, so its
        index leaves the Bloom filters on disk and keeps no snapshot between uses (`_writers_index`)."""
        self.settings = settings
        self.board = board
        self.writer_reads = writer_reads
        self.store = Store(settings.data_dir)
        self.index_dir = Path(settings.data_dir) / "index"
        self.index = IndexHandle(self.index_dir)
        self.reader = Reader(self.store, self.index)
        self.watcher = Watcher(self.store.groups_dir, settings.rescan_interval)
        self.tailer = Tailer(self.store, self.watcher, settings.max_tail_clients)
        self.invoker = create_invoker(settings, self.store, invoker_server)
        self.jobs = Jobs(
            self.store, self.reader, settings
        )  # Logs Insights queries (threads start with the first)
        self.ingester: Ingester | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock_fd: int | None = None
        self._lock_refused = False
        self.column_builder_pid: int | None = None
        self.started = False

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Service:
        self.watcher.start()
        if self.settings.ingest:
            t = threading.Thread(target=self._writer_election, name="logsvc-writer", daemon=True)
            t.start()
            self._threads.append(t)
        if self.invoker is not None:
            self.invoker.start()
        self.started = True
        return self

    def close(self) -> None:
        self._stop.set()
        self.jobs.close()
        if self.ingester is not None:
            self.ingester.mark_dirty(None)
        for t in self._threads:
            t.join(timeout=10)
        self._threads.clear()
        if self.invoker is not None:
            self.invoker.close()
        self.watcher.stop()
        self.index.close()
        if self._lock_fd is not None:
            locks.release(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the single writer ---------------------------------------------------------------------

    def _try_lock(self) -> bool:
        try:
            self._lock_fd = locks.try_hold(self.store.root, *locks.INDEX)
        except OSError as e:
            if not self._lock_refused:
                self._lock_refused = True
                log.error(
                    "cannot take index.lock in the data directory (%s); not ingesting until it is fixed",
                    e,
                )
            return False
        return self._lock_fd is not None

    def _writer_election(self) -> None:
        while not self._stop.is_set():
            if self._try_lock():
                break
            self._stop.wait(1.0)
        if self._stop.is_set():
            return
        index = self.open_index_for_writing()
        self.index.set(index)
        self.ingester = Ingester(
            self.store,
            index,
            block_lines=self.settings.block_lines,
            commit_interval=self.settings.commit_interval,
            live_commit_interval=self.settings.live_commit_interval,
        )
        if self.settings.columns:
            self.ingester.derived_caught_up = self._columns_followed
        self.watcher.subscribe(self.ingester.mark_dirty)
        log.info("this process (pid %d) ingests %s", os.getpid(), self.store.groups_dir)
        loops = [(self._retention_loop, "logsvc-retention")]
        if self.board is not None:
            loops.append((self._publish_loop, "logsvc-ingest-state"))
        for target, name in loops:
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        if self.settings.columns:
            t = threading.Thread(target=self._column_builder, name="logsvc-columns", daemon=True)
            t.start()
            self._threads.append(t)
        self.ingester.run(self._stop)

    def _retention_loop(self) -> None:
        from logsvc import retention

        def one_pass() -> None:  # its own frame: the loop's wait holds no snapshot (and its blocks)
            groups = retention.with_policy(self.store)
            if groups:  # else nothing to reclaim, and no reason to read the blocks
                with self.index.snapshot() as snap:
                    retention.enforce(self.store, snap, int(time.time() * 1000), groups)

        while not self._stop.wait(self.settings.retention_interval):
            try:
                one_pass()
            except Exception:
                log.exception("retention pass failed")

    def _ingest_state(self) -> dict:
        ing = self.ingester
        assert ing is not None
        return {"eventsIngested": ing.events_ingested, "ingestError": ing.last_error}

    def _publish_loop(self) -> None:
        """Put the ingest state on the board whenever it changed (at most every PUBLISH_EVERY)."""
        assert self.board is not None
        last = None
        while True:
            doc = {"pid": os.getpid(), **self._ingest_state()}
            error = doc["ingestError"]
            if error is not None and len(error) > PUBLISHED_ERROR_CHARS:  # the board holds 4 KB
                doc["ingestError"] = error[:PUBLISHED_ERROR_CHARS] + "…"
            if doc != last:
                self.board.publish(doc)
                last = doc
            if self._stop.wait(PUBLISH_EVERY):
                return

    def _published(self, writer: int | None) -> dict:
        """The ingest state the writer `writer` last published (nothing from an earlier writer)."""
        none = {"eventsIngested": None, "ingestError": None}
        doc = self.board.read() if self.board is not None and writer is not None else None
        if doc is None or doc.get("pid") != writer:
            return none
        return {k: doc.get(k) for k in none}

    def _column_builder(self) -> None:
        """Run Insights' column builder (logsvc/columns/builder.py) as a child process while this
        process ingests: restarted if it dies, stopped with the service (and, by the kernel, when
        this process dies)."""
        import subprocess
        import sys

        env = dict(os.environ, **self.settings.to_env())
        while not self._stop.is_set():
            proc = subprocess.Popen(
                [sys.executable, "-m", "logsvc.columns.builder", str(os.getpid())], env=env
            )
            self.column_builder_pid = proc.pid
            while proc.poll() is None and not self._stop.wait(0.2):
                pass
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                return
            log.warning("the column builder exited (rc %s); restarting it", proc.returncode)
            self._stop.wait(
                1.0
            )  # a builder that keeps failing costs one start a second, never more

    def _columns_followed(self, generation: int) -> bool:
        """Has the columnar copy followed the index to `generation` (or does it cover nothing)?"""
        from logsvc.columns import store as columns_store

        snap = columns_store.snapshot(self.store.root)
        return snap.generation >= generation or not snap.streams

    def _discard_columns(self) -> None:
        """The index is rebuilt from the files (its ingestion times may differ): so is Insights' copy."""
        from logsvc.columns import store as columns_store

        try:
            columns_store.discard(self.store.root)
        except (OSError, RuntimeError) as e:
            log.warning("could not drop the columnar copy (%s); it follows the rebuilt index", e)

    def open_index_for_writing(self) -> BlockIndex:
        """Open the index; a missing or damaged one is rebuilt from the stream files.

        Runs holding index.lock: first settles what a killed `reindex` left (index.new, index.old),
        and rebuilds an index that is, or holds, a symlink (whoosh would follow it) or foreign file.
        """
        settle_dirs(self.store.root)
        try:
            safeio.refuse_links_under(self.index_dir)
        except safeio.Refused as e:
            log.error("the index %s; rebuilding it from the stream files", e.strerror)
            with safeio.folder(None, self.store.root) as root:
                safeio.remove(root, "index")
            self._discard_columns()
        with safeio.folder(None, self.store.root) as root:
            os.close(safeio.open_dir(root, "index", create=True))
        if not index_exists(self.index_dir):
            with closing(
                self.store.iter_stream_files()
            ) as files:  # left after its first item: closed here
                if next(files, None) is not None:
                    log.warning("no index at %s; building it from the stream files", self.index_dir)
        try:
            return self._writers_index()
        except IndexCorrupt as e:
            log.error(
                "the index at %s is damaged (%s); rebuilding it from the stream files",
                self.index_dir,
                e,
            )
            BlockIndex.destroy(self.index_dir)
            self._discard_columns()
            return self._writers_index()

    def _writers_index(self) -> BlockIndex:
        """The index as the ingesting process opens it: a writer that serves no reads keeps
        neither the blocks' Bloom filters nor its snapshots (BlockIndex)."""
        return BlockIndex(
            self.index_dir, blooms=self.writer_reads, keep_snapshots=self.writer_reads
        )

    @property
    def is_writer(self) -> bool:
        return self.ingester is not None

    @property
    def elected(self) -> bool:
        """This process holds index.lock: it ingests, or is opening the index to. Other workers
        report it as the writer from then (`writerPid` is the lock's holder), so it steps back from
        new connections from then too (serve.py), not only once its ingester has started."""
        return self._lock_fd is not None

    def wait_indexed(self, timeout: float = 10.0) -> bool:
        """Block until the ingester has caught up with the files (tests and `reindex`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ing = self.ingester
            if ing is not None:
                behind = False
                with self.index.snapshot() as snap:
                    for group, stream, path in self.store.iter_stream_files():
                        from logsvc.model import stream_key

                        last = snap.checkpoint(stream_key(group, stream))
                        try:
                            size = path.stat().st_size
                        except OSError:
                            continue
                        if size and (last is None or last.end < size):
                            behind = True
                            break
                if not behind:
                    return True
                ing.mark_dirty(None)
            time.sleep(0.05)
        return False

    def writer_pid(self) -> int | None:
        """The pid of the process that ingests this data directory, if it is alive."""
        return locks.holder(self.store.root, *locks.INDEX)

    def status(self) -> dict:
        """This process (`pid`, `ingesting`) and the writer's state, whichever process answers."""
        writer = self.writer_pid()
        mine = self.ingester is not None
        return {
            "pid": os.getpid(),
            "writerPid": writer,
            "ingesting": mine,
            **(self._ingest_state() if mine else self._published(writer)),
            "fileEvents": "polling" if self.watcher.polling_only else "inotify",
            **self._forward_status(),
        }

    def _forward_status(self) -> dict:
        """`forward`: the status each `logsvc forward` over this data directory writes (ship.py).

        /healthz is open without the token, so a locked server shows only the numbers: where the
        logs go, which groups and the error texts stay behind the token."""
        from logsvc import ship

        got = ship.statuses(self.store.root)
        if got and (self.settings.token or self.settings.aws_access_key_id):
            got = [ship.public_status(doc) for doc in got]
        return {"forward": got} if got else {}
