"""The index under concurrency: snapshots vs refreshes, readers vs the writer, reindex vs kill -9.

Real parts throughout (a whoosh index in a temp dir, the real Ingester, Reader and Service). Races
are forced at one seam each — a hook right after a step, a fault injected once — and the assertions
are on what a reader gets: the candidate blocks, the events, the directories left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from logsvc.config import Settings
from logsvc.filterpattern import compile_pattern
from logsvc.index import BlockIndex, Snapshot, stream_key
from logsvc.ingest import Ingester
from logsvc.query import Reader
from logsvc.service import Service
from logsvc.store import Store
from tests.conftest import wait_for

G = "/test/index"
S = "s"
SKEY = stream_key(G, S)


def _append(path: Path, lines: list[str]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def _lines(words: list[str], second: int = 0) -> list[str]:
    return [
        f"2026-01-01T00:00:{second:02d}.{i:03d}Z event {w} number{i}" for i, w in enumerate(words)
    ]


def _ingest(ing: Ingester) -> None:
    """Index everything complete in the files and commit (what one turn of the ingester loop does)."""
    ing.mark_dirty(None)
    while ing.step():
        pass
    ing.commit()


def _oracle(path: Path, snap_blocks: list, word: bytes) -> set[int]:
    """Start offsets of the blocks whose bytes actually contain `word` (case-folded)."""
    data = path.read_bytes().lower()
    return {b.start for b in snap_blocks if word in data[b.start : b.end]}


class _HookedIndex(BlockIndex):
    """A reading worker's BlockIndex that runs `after_handout` once, right after snapshot() returns:
    the moment between handing a snapshot out and its caller using it."""

    after_handout = None

    def snapshot(self) -> Snapshot:
        snap = super().snapshot()
        hook, self.after_handout = self.after_handout, None
        if hook is not None:
            hook()
        return snap


def test_refresh_between_handout_and_use_does_not_turn_a_search_into_a_full_scan(
    store: Store, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """#10.9: a refresh (commit + another thread's snapshot()) right after a query got its snapshot
    must not close the reader under it; before, the closed reader's error was swallowed and the
    query silently used every block as a candidate."""
    path = store.ensure_stream(G, S)
    _append(path, _lines(["alpha", "plain", "beta", "plain", "plain", "plain"]))
    writer = BlockIndex(data_dir / "index")
    ing = Ingester(store, writer, block_lines=2)
    _ingest(ing)

    reading = _HookedIndex(data_dir / "index")
    reader = Reader(store, reading)
    seen: list[tuple[Snapshot, set[int] | None]] = []
    original = Snapshot.candidates

    def spy(self: Snapshot, query, skeys=None, reuse=False):
        out = original(self, query, skeys, reuse)
        seen.append((self, out))
        return out

    monkeypatch.setattr(Snapshot, "candidates", spy)

    def refresh() -> None:
        _append(path, _lines(["gamma", "plain"], second=1))
        _ingest(ing)
        # another request thread refreshes the cache (and releases what it took)
        t = threading.Thread(target=lambda: reading.snapshot().release())
        t.start()
        t.join()

    reading.after_handout = refresh
    page = reader.read(reader.sources([G]), pattern="alpha", limit=100, forward=True)

    assert [e.message for e in page.events] == ["event alpha number0"]
    assert len(seen) == 1
    snap, cands = seen[0]
    assert cands is not None
    got = {snap.by_docnum[d].start for d in cands}
    assert got == _oracle(path, snap.blocks, b"alpha") == {0}
    reading.close()
    writer.close()


def test_term_lookup_on_a_released_snapshot_raises_instead_of_scanning(
    data_dir: Path, store: Store
) -> None:
    """#10.9: a read-path error is never answered with "every block"; misuse must be loud."""
    path = store.ensure_stream(G, S)
    _append(path, _lines(["alpha", "plain", "beta", "plain"]))
    idx = BlockIndex(data_dir / "index")
    _ingest(Ingester(store, idx, block_lines=2))
    snap = idx.snapshot()
    snap._reader.close()  # a fault: the whoosh reader closed behind the snapshot's back
    try:
        result = snap.candidates(("tok", "alpha"))
    except Exception:
        pass
    else:
        pytest.fail(
            f"candidates on a closed reader answered {result} (all {len(snap.blocks)} blocks)"
        )
    idx.close()


def _commit_after_opening(index: BlockIndex, commit) -> None:
    """Right after the reading worker opens its next whoosh reader, another process (here: the
    writer's own BlockIndex) commits, before the snapshot learns its generation."""
    open_reader = index._open_reader

    def racing():
        index._open_reader = open_reader  # once
        r = open_reader()
        commit()
        return r

    index._open_reader = racing


def test_commit_while_a_reader_opens_is_seen_by_the_next_snapshot(
    store: Store, data_dir: Path
) -> None:
    """#17.17: a commit landing between opening the reader and reading the generation must not
    label old content with the new generation (the worker then kept it until the next commit)."""
    path = store.ensure_stream(G, S)
    _append(path, _lines(["alpha", "plain"]))
    writer = BlockIndex(data_dir / "index")
    ing = Ingester(store, writer, block_lines=2)
    _ingest(ing)

    reading = BlockIndex(data_dir / "index")

    def commit_more() -> None:
        _append(path, _lines(["gamma", "plain"], second=1))
        _ingest(ing)

    _commit_after_opening(reading, commit_more)
    first = reading.snapshot()
    assert (
        first.checkpoint(SKEY).end < path.stat().st_size
    )  # the race happened: the file grew after the open
    # no commit after the racing one: the next snapshot must show it anyway
    later = reading.snapshot()
    assert later.checkpoint(SKEY).end == path.stat().st_size
    assert later.candidates(("tok", "gamma")) == {
        b.docnum for b in later.blocks if b.start >= first.checkpoint(SKEY).end
    }
    first.release()
    later.release()
    reading.close()
    writer.close()


def test_reader_error_in_the_ingesting_process_keeps_the_writers_uncommitted_blocks(
    settings: Settings,
) -> None:
    """#10.10: a request thread whose snapshot fails must not close the BlockIndex the ingester
    writes through: that cancelled its uncommitted blocks while it still counted them, leaving
    a gap between the last committed block and the next one that no read ever filled."""
    svc = Service(settings.with_(ingest=False))
    try:
        writer = svc.open_index_for_writing()
        svc.index.set(writer)
        ing = Ingester(svc.store, writer, block_lines=2)
        path = svc.store.ensure_stream(G, S)
        first = _lines([f"first{i}" for i in range(6)])
        _append(path, first)
        ing.mark_dirty(None)
        while ing.step():
            pass  # blocks written, not committed yet

        ix = writer._ix
        real = ix.latest_generation

        def failing_once():
            ix.latest_generation = real
            raise OSError(24, "injected: too many open files while listing the index")

        ix.latest_generation = failing_once
        # a request thread reads while the fault is armed: it still gets every event (from the files)
        page = svc.reader.read(svc.reader.sources([G]), limit=100, forward=True)
        assert [e.message.split()[1] for e in page.events] == [f"first{i}" for i in range(6)]
        assert ix.latest_generation == real  # the fault fired

        ing.commit()
        second = _lines([f"second{i}" for i in range(4)], second=1)
        _append(path, second)
        _ingest(ing)

        page = svc.reader.read(svc.reader.sources([G]), limit=100, forward=True)
        want = [f"first{i}" for i in range(6)] + [f"second{i}" for i in range(4)]
        assert [e.message.split()[1] for e in page.events] == want
        fresh = BlockIndex(svc.index_dir)  # what a restarted server would load
        with fresh.snapshot() as snap:
            blocks = snap.stream_blocks(SKEY)
        assert blocks[0].start == 0 and all(
            a.end == b.start for a, b in zip(blocks, blocks[1:], strict=False)
        )
        assert blocks[-1].end == path.stat().st_size
        fresh.close()
    finally:
        svc.close()


# ---- the index directory's lifecycle: index.new / index.old after a killed reindex --------------


def _fill(store: Store, streams: int, lines_each: int) -> None:
    for n in range(streams):
        path = store.ensure_stream(G, f"big{n}")
        with open(path, "w", encoding="utf-8") as f:
            for i in range(lines_each):
                f.write(
                    f"2026-01-01T00:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z "
                    f"request r{n}x{i} took {i % 997}ms path /api/v{i % 7}/items/{i}\n"
                )


def _env(data_dir: Path) -> dict:
    env = dict(os.environ)
    env.update(
        {"LOGSVC_DATA_DIR": str(data_dir), "LOGSVC_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"}
    )
    return env


def test_killed_reindex_leaves_no_index_new_after_the_next_start(
    settings: Settings, store: Store
) -> None:
    """#17.13: `kill -9` during `logsvc reindex` leaves a half-built index.new; the next writer to
    start (server or reindex) removes it, and the live index still answers."""
    _fill(store, streams=4, lines_each=20_000)
    with Service(settings) as svc:
        assert svc.wait_indexed(timeout=120)
    root = settings.data_dir
    proc = subprocess.Popen(
        [sys.executable, "-m", "logsvc", "reindex"],
        env=_env(root),
        cwd=str(root.parent),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: any((root / "index.new").glob("*.toc")) or None,
            timeout=60,
            interval=0.005,
            what="reindex writing index.new",
        )
        time.sleep(0.3)  # into the build, before its first commit
        assert proc.poll() is None, "reindex finished before it could be killed: give it more data"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert (root / "index.new").exists()  # what the kill leaves behind

    with Service(settings) as svc:
        wait_for(lambda: svc.is_writer, what="writer")
        assert not (root / "index.new").exists()
        assert svc.wait_indexed(timeout=60)
        page = svc.reader.read(
            svc.reader.sources([G], [f"big{3}"]), pattern="r3x12345", limit=10, forward=True
        )
        assert [e.message.split()[1] for e in page.events] == ["r3x12345"]


def test_crash_between_the_swap_renames_keeps_the_rebuilt_index(
    settings: Settings, store: Store
) -> None:
    """#17.13: a reindex killed after renaming index -> index.old but before index.new -> index
    leaves a complete index.new: the next start puts it in place, keeping the ingestion times of
    lines without a timestamp (only the index holds them), and removes index.old."""
    path = store.ensure_stream(G, S)
    _append(path, ["no timestamp here", "nor here"])
    with Service(settings) as svc:
        assert svc.wait_indexed()
        before = [
            (e.message, e.ingestion_time)
            for e in svc.reader.read(svc.reader.sources([G]), forward=True).events
        ]
    assert len(before) == 2
    root = settings.data_dir
    shutil.copytree(root / "index", root / "index.new")  # the complete rebuilt index (same content)
    os.rename(root / "index", root / "index.old")  # the first rename of the swap; then the kill
    later = time.time() + 3600  # a re-ingest from the files would stamp this mtime on both lines
    os.utime(path, (later, later))

    with Service(settings) as svc:
        wait_for(lambda: svc.is_writer, what="writer")
        assert svc.wait_indexed()
        after = [
            (e.message, e.ingestion_time)
            for e in svc.reader.read(svc.reader.sources([G]), forward=True).events
        ]
        assert (root / "index").is_dir()
        assert not (root / "index.new").exists() and not (root / "index.old").exists()
    assert after == before


def test_reindex_after_a_crash_between_the_renames_keeps_ingestion_times(
    settings: Settings, store: Store
) -> None:
    """#17.13: the next `reindex` settles the interrupted swap first, so it copies the ingestion
    times from the rebuilt index instead of finding no index and falling back to file times."""
    from logsvc.reindex import reindex

    path = store.ensure_stream(G, S)
    _append(path, ["no timestamp here", "nor here"])
    with Service(settings) as svc:
        assert svc.wait_indexed()
        before = [
            (e.message, e.ingestion_time)
            for e in svc.reader.read(svc.reader.sources([G]), forward=True).events
        ]
    root = settings.data_dir
    shutil.copytree(root / "index", root / "index.new")
    os.rename(root / "index", root / "index.old")
    later = time.time() + 3600
    os.utime(path, (later, later))

    assert reindex(settings) == 2
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("index")) == [
        "index",
        "index.lock",
    ]
    svc = Service(settings.with_(ingest=False))
    try:
        after = [
            (e.message, e.ingestion_time)
            for e in svc.reader.read(svc.reader.sources([G]), forward=True).events
        ]
    finally:
        svc.close()
    assert after == before


def _open_fds_under(path: Path) -> int:
    """File descriptors this process holds on files under `path` (whoosh readers hold segments)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(path)):
                n += 1
        except OSError:
            pass
    return n


def test_every_read_path_releases_the_snapshot_it_takes(settings: Settings) -> None:
    """Snapshots are handed out holding a reference, so a path that forgets to release one leaks
    a whoosh reader (open segment files) at every refresh. After every read path has run across
    many commits and both indexes are closed, nothing under the index directory stays open."""
    svc = Service(settings.with_(ingest=False))
    writer = BlockIndex(svc.index_dir)
    ing = Ingester(svc.store, writer, block_lines=2)
    path = svc.store.ensure_stream(G, S)
    try:
        for round_ in range(6):
            _append(path, _lines([f"alpha{round_}", "plain", "beta", "plain"], second=round_))
            _ingest(ing)
            src = svc.reader.sources([G])
            page = svc.reader.read(src, pattern="beta", limit=100, forward=True)
            assert len(page.events) == round_ + 1
            svc.reader.read(src, limit=100)
            svc.reader.context(G, S, page.events[0].event_id, before=2, after=2)
            svc.reader.histogram(src, 0, 2**41, 4)
            svc.reader.histogram(src, 0, 2**41, 4, pattern=compile_pattern("beta"))
            assert svc.reader.stream_times(G, S)[0] is not None
            with svc.index.snapshot() as snap:
                assert snap.checkpoint(SKEY).end == path.stat().st_size
        assert _open_fds_under(svc.index_dir) > 0  # readers were open: the check below has teeth
    finally:
        writer.close()
        svc.close()
    assert _open_fds_under(svc.index_dir) == 0


def test_searches_racing_commits_get_exact_candidates_and_every_event(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unforced version of the races above: request threads search while the writer appends and
    commits as fast as it can. Every candidate set equals the oracle for the snapshot it came
    from (no full scan, no miss), no search fails, and each search sees a gapless prefix."""
    svc = Service(settings.with_(ingest=False))
    writer = svc.open_index_for_writing()
    svc.index.set(writer)  # the ingesting worker: readers share the writer's index
    ing = Ingester(svc.store, writer, block_lines=4)
    path = svc.store.ensure_stream(G, S)
    original = Snapshot.candidates
    problems: list[str] = []
    searches = 0

    def checked(self: Snapshot, query, skeys=None, reuse=False):
        out = original(self, query, skeys, reuse)
        data = path.read_bytes().lower()
        want = {
            b.docnum
            for b in self.blocks
            if b" " + query[1].encode() + b" " in data[b.start : b.end]
        }
        if out != want:
            problems.append(
                f"gen {self.generation}: candidates {sorted(out or [])} != oracle {sorted(want)}"
            )
        return out

    monkeypatch.setattr(Snapshot, "candidates", checked)
    done = threading.Event()

    def search() -> None:
        nonlocal searches
        while not done.is_set():
            try:
                evs = svc.reader.read(
                    svc.reader.sources([G]), pattern="needle", limit=10_000, forward=True
                ).events
                got = [int(e.message.split()[-1]) for e in evs]
                if got != list(range(len(got))):
                    problems.append(f"gap: {got[:5]}...")
                searches += 1
            except Exception as e:
                problems.append(repr(e))

    threads = [threading.Thread(target=search) for _ in range(3)]
    for t in threads:
        t.start()
    n = rounds = 0
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            lines = [f"2026-01-01T00:00:00.000Z plain filler {rounds}.{k}" for k in range(3)]
            if rounds % 2 == 0:  # rarer than blocks, so that candidates are a strict subset of them
                lines.append(f"2026-01-01T00:00:00.000Z found needle {n}")
                n += 1
            _append(path, lines)
            rounds += 1
            _ingest(ing)
    finally:
        done.set()
        for t in threads:
            t.join()
    try:
        final = svc.reader.read(
            svc.reader.sources([G]), pattern="needle", limit=10_000, forward=True
        ).events
        assert [int(e.message.split()[-1]) for e in final] == list(range(n))
        with svc.index.snapshot() as snap:  # the oracle had teeth: many blocks hold no needle
            assert len(snap.blocks) > 1.5 * len(snap.candidates(("tok", "needle")))
    finally:
        svc.close()
    assert problems == []
    assert searches > 10 and rounds > 10


def test_threads_sharing_one_snapshot_get_the_same_candidates_as_one_thread(
    store: Store, data_dir: Path
) -> None:
    """Request threads share the cached snapshot and so its whoosh reader, whose postings share
    one file object (seek, then read): unserialised lookups read each other's blocks. That used to
    be swallowed into a full scan; now it must simply not happen."""
    path = store.ensure_stream(G, S)
    words = [f"w{chr(97 + i)}{chr(97 + j)}" for i in range(8) for j in range(8)]
    lines = [
        f"2026-01-01T00:00:00.000Z {words[i % 64]} {words[(i * 7) % 64]} {words[(i * 13) % 64]}"
        for i in range(4000)
    ]
    writer = BlockIndex(data_dir / "index")
    ing = Ingester(store, writer, block_lines=8)
    for part in range(4):  # several segments
        _append(path, lines[part * 1000 : (part + 1) * 1000])
        _ingest(ing)
    reading = BlockIndex(data_dir / "index")
    snap = reading.snapshot()
    want = {w: snap.candidates(("tok", w)) for w in words}
    assert all(0 < len(c) < len(snap.blocks) for c in want.values())
    problems: list[str] = []

    def lookups(seed: int) -> None:
        order = words[seed:] + words[:seed]
        for _ in range(6):
            for w in order:
                try:
                    got = snap.candidates(("tok", w))
                except Exception as e:
                    problems.append(f"{w}: {e!r}")
                    continue
                if got != want[w]:
                    problems.append(f"{w}: {len(got)} candidates, want {len(want[w])}")

    threads = [threading.Thread(target=lookups, args=(k * 16,)) for k in range(4)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(
        1e-6
    )  # switch threads as often as the interpreter can: races show at once
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert problems == []
    snap.release()
    reading.close()
    writer.close()
