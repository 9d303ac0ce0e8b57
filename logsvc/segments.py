"""Merging the block index's segments in the background, so ingestion never waits for a merge.

Every index commit writes a new whoosh segment, and a search pays a term lookup per segment
(~90 µs a word each, measured at 1M lines), so segments must be merged. whoosh merges inside the
writer's commit, at ~26 µs a posting: at 10M lines one commit took 28 s, the ingester stood still,
and a third of its time went to merges. Here a merge runs in a child process (the other core),
writing a new segment into `<index>/merging/`; the ingester's next commit swaps it in for its
sources (`Merges.policy`, a whoosh merge policy) and carries over every document deleted from a
source since the merge began. So a commit stays as short as the flush of what it adds. Segments
too small to be worth a process (under INLINE_BYTES: a trickle of appends makes a tiny one a
commit) are merged inside the commit, as whoosh would.

Safety: a merged segment holds exactly its sources' live documents, in order, and is referenced
only once whoosh writes the TOC naming it (atomically, as any commit); its files move into the
index just before. A crash or a failed merge leaves files that no TOC names: whoosh removes them
at the next commit, and `merging/` is emptied when a writer starts. The block checkpoints live in
the documents, so a merge cannot lose or repeat an event.

Which segments merge (`pick`): tiers by size, `FACTOR` of the same tier become one, the smallest
tier first; the merged segment lands in the next tier, so each block is rewritten about
log_FACTOR(blocks) times and the segment count stays near (FACTOR - 1) per tier.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import subprocess
import sys
import threading
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("logsvc.index")

FACTOR = 6  # segments of one tier merged into one
MAX_AT_ONCE = 2 * FACTOR  # a tier that fell behind is caught up in bounded steps
RESULT = "result.pickle"
INDEX_NAME = "MAIN"  # whoosh's default name for an index's files: the block index's
# a merge of segments this small (their files) runs inside the commit, as whoosh's own would: a
# child process costs ~0.2 s of CPU to start, and a trickle of appends makes a tiny segment a commit
INLINE_BYTES = 256 * 1024
MERGE_MEMORY_MB = 32  # whoosh's posting pool in the child (it spills to disk past this)


def tier(docs: int) -> int:
    """0 for fewer than FACTOR documents, then one more for each factor of FACTOR."""
    t = 0
    while docs >= FACTOR:
        docs //= FACTOR
        t += 1
    return t


def pick(sizes: list[tuple[str, int]]) -> list[str]:
    """The segment ids to merge next, from (segment id, live documents) in index order; [] for none.

    The lowest tier holding FACTOR segments or more merges (its smallest MAX_AT_ONCE); segments
    with no live documents always go (a merge of them is free and drops their files).
    """
    empty = [sid for sid, n in sizes if n == 0]
    by_tier: dict[int, list[tuple[int, str]]] = {}
    for sid, n in sizes:
        if n:
            by_tier.setdefault(tier(n), []).append((n, sid))
    for t in sorted(by_tier):
        if len(by_tier[t]) >= FACTOR:
            chosen = {sid for _, sid in sorted(by_tier[t])[:MAX_AT_ONCE]}
            return [sid for sid, _ in sizes if sid in chosen or sid in empty]
    return empty if len(empty) > 1 or (empty and len(sizes) > 1) else []


@dataclass
class _Result:
    segment: object  # the merged whoosh segment
    # per source, in merge order: (segment id, documents then, docnums deleted then, sorted)
    sources: list[tuple[str, int, list[int]]]
    files: list[str]  # the merged segment's files, in `folder`
    folder: Path  # this merge's own folder under `merging/`

    @classmethod
    def load(cls, folder: Path) -> _Result:
        with open(folder / RESULT, "rb") as f:
            segment, sources, files = pickle.load(f)  # the child's, from the index's own TOC
        return cls(segment, sources, files, folder)


class Merges:
    """The writer's background merges: at most one running; its result waits for a commit."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)
        self.dir = self.index_dir / "merging"
        shutil.rmtree(self.dir, ignore_errors=True)  # a merge a dead writer left: no TOC names it
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen | None = None
        self._result: _Result | None = None
        self._running_ids: set[str] = set()  # the sources of the background merge under way
        self._runs = 0  # each merge writes into its own folder: merging/<pid>.<n>
        self._closed = False
        self.merged = 0  # merges swapped in (tests count them)

    def ready(self) -> bool:
        """Has a merge finished that the next commit would swap in?"""
        return self._result is not None

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float = 60.0) -> None:
        """Until the running merge (if any) has finished (tests, close)."""
        t = self._thread
        if t is not None:
            t.join(timeout)

    def start(self, segments: list) -> bool:
        """Start merging what `pick` chooses of `segments` (whoosh's, in index order) in the
        background, unless a merge is running or waiting, or the choice is small enough for the
        next commit to merge inline. True if one started."""
        with self._lock:
            if self._closed or self.running() or self._result is not None:
                return False
            ids = self._pick(segments)
            if not ids or self._bytes(ids) < INLINE_BYTES:
                return False
            self._running_ids = set(ids)
            self._thread = threading.Thread(
                target=self._run, args=(ids,), name="logsvc-index-merge", daemon=True
            )
            self._thread.start()
            return True

    def _pick(self, segments: list, leave: frozenset | set = frozenset()) -> list[str]:
        return pick(
            [
                (s.segment_id(), s.doc_count_all() - s.deleted_count())
                for s in segments
                if s.segment_id() not in leave
            ]
        )

    def _bytes(self, ids: list[str]) -> int:
        """The size of the segments' files (what a merge of them reads and writes)."""
        total = 0
        for name in os.listdir(self.index_dir):
            if name.partition(".")[0] in ids:
                try:
                    total += os.stat(self.index_dir / name).st_size
                except FileNotFoundError:
                    pass
        return total

    def _run(self, ids: list[str]) -> None:
        self._runs += 1
        folder = self.dir / f"{os.getpid()}.{self._runs}"
        shutil.rmtree(self.dir, ignore_errors=True)  # what an earlier merge of this writer left
        folder.mkdir(parents=True)
        try:
            with self._lock:
                if self._closed:
                    return
                # the child's output goes to a file, never into this process's memory
                with open(folder / "stderr", "wb") as errors:
                    self._proc = subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "logsvc.segments",
                            str(os.getpid()),
                            str(self.index_dir),
                            str(folder),
                            *ids,
                        ],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=errors,
                    )
            rc = self._proc.wait()
            if rc != 0:
                if not self._closed:
                    with open(folder / "stderr", "rb") as f:
                        f.seek(max(0, os.fstat(f.fileno()).st_size - 500))
                        tail = f.read().decode(errors="replace")
                    log.warning("an index merge failed (rc %s): %s", rc, tail)
                return
            result = _Result.load(folder)
            with self._lock:
                if not self._closed:
                    self._result = result
        except OSError as e:
            log.warning("an index merge failed: %s", e)
        finally:
            self._proc = None

    def policy(self, writer, segments: list) -> list:
        """whoosh merge policy for the writer's commit: swap in a finished background merge, then
        merge small segments inline (never the running merge's sources)."""
        segments = self._swap_in(segments)
        leave = self._running_ids if self.running() else set()
        ids = self._pick(segments, leave)
        if not ids or self._bytes(ids) >= INLINE_BYTES:
            return segments
        from whoosh.reading import SegmentReader

        for seg in segments:
            # a segment with no live document is simply left out of the TOC (added, it would make
            # the commit write an empty segment even when it adds nothing)
            if seg.segment_id() in ids and seg.doc_count_all() > seg.deleted_count():
                reader = SegmentReader(writer.storage, writer.schema, seg)
                try:
                    writer.add_reader(reader)  # its documents join the segment this commit writes
                finally:
                    reader.close()
        return [seg for seg in segments if seg.segment_id() not in ids]

    def _swap_in(self, segments: list) -> list:
        """`segments` with the finished merge (if any) in place of its sources, every deletion
        made since it began carried over; else unchanged."""
        with self._lock:
            result, self._result = self._result, None
        if result is None:
            return segments
        by_id = {s.segment_id(): s for s in segments}
        if any(sid not in by_id for sid, _, _ in result.sources):
            return segments  # a source left meanwhile (a rebuild): stale; whoosh drops its files
        merged = result.segment
        base = 0
        for sid, docs, gone in result.sources:
            then = set(gone)
            for d in by_id[sid].deleted_docs():
                if d not in then:
                    merged.delete_document(base + d - bisect_left(gone, d))
            base += docs - len(gone)
        if base != merged.doc_count_all():
            log.warning("an index merge does not match its sources; dropped")
            return segments
        for name in result.files:
            os.replace(result.folder / name, self.index_dir / name)
        shutil.rmtree(result.folder, ignore_errors=True)  # the rest: the child's own TOC and lock
        self.merged += 1
        sources = {sid for sid, _, _ in result.sources}
        out = []
        for s in segments:
            if s.segment_id() not in sources:
                out.append(s)
            elif merged not in out:
                out.append(merged)
        return out

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._result = None
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
        self.wait(30)
        shutil.rmtree(self.dir, ignore_errors=True)


def segments_of(storage, indexname: str) -> list:
    """whoosh's segments of the index's latest commit, in index order."""
    from whoosh.index import TOC

    return TOC.read(storage, indexname).segments


def _merge(index_dir: str, out_dir: str, ids: list[str]) -> None:
    """The child: merge segments `ids` of the index at `index_dir` into one, written to `out_dir`.

    The merged segment is written as the one segment of a fresh index in `out_dir` (whoosh's public
    writer: add each source's live documents, commit without merging); only its files move on."""
    from whoosh.filedb.filestore import FileStorage
    from whoosh.index import TOC
    from whoosh.reading import SegmentReader

    storage = FileStorage(index_dir)
    toc = TOC.read(storage, INDEX_NAME)
    by_id = {s.segment_id(): s for s in toc.segments}
    if any(i not in by_id for i in ids):
        raise SystemExit(f"segments {ids} are no longer all in the index")
    out = FileStorage(out_dir)
    target = out.create_index(toc.schema, indexname=INDEX_NAME)
    w = target.writer(limitmb=MERGE_MEMORY_MB)
    sources = []
    try:
        for i in ids:
            seg = by_id[i]
            sources.append((i, seg.doc_count_all(), sorted(seg.deleted_docs())))
            r = SegmentReader(storage, toc.schema, seg)
            try:
                w.add_reader(r)
            finally:
                r.close()
    except BaseException:
        w.cancel()
        raise
    w.commit(merge=False)
    (merged,) = segments_of(out, INDEX_NAME)
    files = sorted(n for n in os.listdir(out_dir) if n.partition(".")[0] == merged.segment_id())
    target.close()
    tmp = Path(out_dir) / (RESULT + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump((merged, sources, files), f)
    os.replace(tmp, Path(out_dir) / RESULT)


if __name__ == "__main__":
    from logsvc.children import die_with_parent

    die_with_parent(int(sys.argv[1]))
    _merge(sys.argv[2], sys.argv[3], sys.argv[4:])
