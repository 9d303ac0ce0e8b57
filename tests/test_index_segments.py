"""The index's segments are merged in the background and swapped in at a commit (segments.py).

What must hold: which segments merge (a pure policy, table-driven); a merge changes no answer and
loses no block; a block deleted while its segment was being merged stays deleted, and exactly it
(the docnums move in a merge); a merge that dies leaves the index as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from logsvc import segments
from logsvc.index import BlockIndex
from logsvc.ingest import Ingester
from logsvc.query import Reader
from logsvc.segments import FACTOR, pick, tier
from logsvc.store import Store
from tests.test_reads_merge import walk

G = "app"


@pytest.mark.parametrize(
    "docs, want",
    [
        (0, 0),
        (1, 0),
        (FACTOR - 1, 0),
        (FACTOR, 1),
        (FACTOR**2 - 1, 1),
        (FACTOR**2, 2),
        (FACTOR**3, 3),
    ],
)
def test_tiers(docs: int, want: int) -> None:
    assert tier(docs) == want


F = FACTOR
PICKS = [
    ("nothing to merge", [("a", 1)], []),
    ("one short of a tier", [(f"s{i}", 3) for i in range(F - 1)], []),
    ("a full tier, in index order", [(f"s{i}", 3) for i in range(F)], [f"s{i}" for i in range(F)]),
    (
        "the smallest full tier first",
        [("big", F**3)] + [(f"m{i}", F) for i in range(F)] + [(f"t{i}", 1) for i in range(F)],
        [f"t{i}" for i in range(F)],
    ),
    (
        "a tier that is not full waits; a full one above it goes",
        [(f"t{i}", 1) for i in range(F - 1)] + [(f"m{i}", F + i) for i in range(F)],
        [f"m{i}" for i in range(F)],
    ),
    (
        "a tier far behind merges its smallest 2×FACTOR",
        [(f"s{i}", 1 + i % 3) for i in range(3 * F)],
        [
            f"s{i}"
            for i in range(3 * F)
            if (1 + i % 3, f"s{i}") in sorted((1 + j % 3, f"s{j}") for j in range(3 * F))[: 2 * F]
        ],
    ),
    (
        "segments with no live document go with a merge",
        [("e", 0)] + [(f"s{i}", 2) for i in range(F)],
        ["e"] + [f"s{i}" for i in range(F)],
    ),
    ("empty segments alone go too", [("e1", 0), ("e2", 0), ("live", 40)], ["e1", "e2"]),
    ("one empty segment beside others goes", [("e", 0), ("live", 40)], ["e"]),
    ("a lone empty segment stays (nothing to merge it into)", [("e", 0)], []),
]


@pytest.mark.parametrize("why, sizes, want", PICKS, ids=[p[0] for p in PICKS])
def test_pick(why: str, sizes: list, want: list) -> None:
    assert pick(sizes) == want


@pytest.fixture
def background(monkeypatch) -> None:
    """Every merge in a child process (the tests' segments are small enough to merge inline)."""
    monkeypatch.setattr(segments, "INLINE_BYTES", 0)


def _segments(index: BlockIndex) -> list:
    return index.segments()


def _settle(index: BlockIndex) -> None:
    """Commit until no merge is running or waiting: as the ingester's loop does."""
    for _ in range(100):
        index.merges.wait()
        if index.merge_ready():
            index.commit()
        elif not index.merges.running():
            return
    raise AssertionError("merges never settled")


def _blocks(index: BlockIndex) -> list[tuple[str, int, int]]:
    with index.snapshot() as snap:
        return sorted((b.stream, b.start, b.end) for b in snap.blocks)


def _fill(store: Store, ingester: Ingester, streams, commits: int, first: int = 0) -> dict:
    """`commits` commits (each its own segment), each adding one block to every stream in
    `streams` (names): lines with a word shared by all and words of their own stream and commit."""
    lines: dict[str, list[str]] = {}
    for c in range(first, first + commits):
        for name in streams:
            path = store.ensure_stream(G, name)
            word = "stream" + chr(97 + int(name[1:]))
            new = [
                f"common {word} commit{chr(97 + c % 26)}{chr(97 + c // 26)} n{c}x{k}"
                for k in range(3)
            ]
            with open(path, "a", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in new))
            lines.setdefault(name, []).extend(new)
        ingester.mark_dirty(None)
        while ingester.step():
            pass
        ingester.commit()
    return lines


def _setup(data_dir: Path) -> tuple[Store, BlockIndex, Ingester, Reader]:
    store = Store(data_dir)
    store.create_group(G)
    index = BlockIndex(data_dir / "index")
    # blocks of 3 lines: each append of _fill is a whole block (no merging of a stream's tail)
    return store, index, Ingester(store, index, block_lines=3), Reader(store, index)


def _messages(reader: Reader, pattern: str) -> list[str]:
    return sorted(e.message for e in walk(reader, reader.sources([G]), pattern, True, 7))


def test_merges_run_in_the_background_and_change_no_answer(background, data_dir: Path) -> None:
    store, index, ingester, reader = _setup(data_dir)
    try:
        lines = _fill(store, ingester, ["s0", "s1", "s2"], commits=2 * F + 2)
        _settle(index)
        assert index.merges.merged >= 2
        assert len(_segments(index)) < F
        assert list((data_dir / "index" / "merging").glob("*")) == []  # nothing left behind
        everything = sorted(line for v in lines.values() for line in v)
        assert len(_blocks(index)) == 3 * (2 * F + 2)
        assert _messages(reader, "common") == everything
        assert _messages(reader, "streamb") == sorted(lines["s1"])
        assert _messages(reader, "commitca") == sorted(
            line for v in lines.values() for line in v if " commitca " in line
        )
    finally:
        index.close()


def test_a_block_deleted_while_its_segment_merges_stays_deleted(background, data_dir: Path) -> None:
    """Deletions before the merge began (left out of it: later documents move down) and during it
    (carried over at the swap, at their docnums in the merged segment) drop exactly those blocks."""
    store, index, ingester, reader = _setup(data_dir)
    names = ["s0", "s1", "s2", "s3"]

    def per_commit() -> list[list]:
        """Each commit's blocks (one per stream) in the order of its segment's documents."""
        with index.snapshot() as snap:
            blocks = sorted(snap.blocks, key=lambda b: b.docnum)
        firsts = sorted({b.start for b in blocks})
        return [[b for b in blocks if b.start == start] for start in firsts]

    try:
        lines = _fill(store, ingester, names, commits=F - 1)
        early = [docs[0] for docs in per_commit()]
        for b in early:
            index.delete_block(b)  # before the merge: the first document of each segment
        index.commit()
        assert not index.merges.running() and not index.merge_ready()  # F - 1 segments
        last = _fill(store, ingester, names, commits=1, first=F - 1)  # the F-th segment
        index.merges.wait()
        assert index.merge_ready()  # the merge is done; no commit has swapped it in yet
        before = _blocks(index)
        assert len(before) == 3 * (F - 1) + 4
        commits = per_commit()
        gone = [docs[-2] for docs in commits]  # during the merge: one block of each segment
        for b in gone:
            index.delete_block(b)
        index.commit()  # swaps the merge in, carrying the deletions over
        assert index.merges.merged == 1
        assert len(_segments(index)) == 1
        dropped = {(b.stream, b.start, b.end) for b in gone}
        assert _blocks(index) == [b for b in before if b not in dropped]
        # a stream none of whose blocks went reads whole through the merged segment's postings
        untouched = sorted(set(names) - {b.stream for b in early + gone})
        assert untouched, "every stream lost a block: the test's deletions no longer spread"
        name = untouched[0]
        word = "stream" + chr(97 + int(name[1:]))
        assert _messages(reader, word) == sorted(lines[name] + last[name])
    finally:
        index.close()


def test_a_merge_that_dies_leaves_the_index_as_it_was(
    background, data_dir: Path, monkeypatch
) -> None:
    store, index, ingester, reader = _setup(data_dir)
    try:
        python = segments.sys.executable
        monkeypatch.setattr(segments.sys, "executable", "/bin/false")  # the child dies at once
        lines = _fill(store, ingester, ["s0", "s1"], commits=F)
        index.merges.wait()
        assert not index.merge_ready()
        monkeypatch.setattr(segments.sys, "executable", python)
        before = _blocks(index)
        assert len(_segments(index)) == F
        index.commit()
        assert _blocks(index) == before
        assert _messages(reader, "common") == sorted(line for v in lines.values() for line in v)
        # the next commit starts it again, and this time it lands
        more = _fill(store, ingester, ["s0", "s1"], commits=1, first=F)
        _settle(index)
        assert index.merges.merged >= 1
        assert _messages(reader, "common") == sorted(
            line for v in (lines, more) for k in v for line in v[k]
        )
    finally:
        index.close()


def test_a_writer_starting_over_drops_what_a_dead_merge_left(data_dir: Path) -> None:
    left = data_dir / "index" / "merging"
    left.mkdir(parents=True)
    (left / "MAIN_deadbeef.seg").write_bytes(b"half a segment")
    store, index, ingester, _ = _setup(data_dir)
    try:
        _fill(store, ingester, ["s0"], commits=1)
        assert not (left / "MAIN_deadbeef.seg").exists()
    finally:
        index.close()


def test_small_segments_merge_inside_the_commit_without_a_child(data_dir: Path) -> None:
    """A trickle of appends makes a tiny segment each commit: merged as whoosh would, inline."""
    store, index, ingester, reader = _setup(data_dir)
    try:
        lines = _fill(store, ingester, ["s0", "s1"], commits=3 * F)
        assert not index.merges.running() and not index.merge_ready()
        assert index.merges.merged == 0  # no background merge
        assert len(_segments(index)) <= F  # of 3 * F commits: a full tier merges at the next one
        assert len(_blocks(index)) == 2 * 3 * F
        assert _messages(reader, "common") == sorted(line for v in lines.values() for line in v)
    finally:
        index.close()


def test_a_segment_whose_blocks_all_went_leaves_without_an_empty_one(data_dir: Path) -> None:
    """Merging a segment of deleted blocks only adds nothing: the commit drops it and, when it adds
    no block of its own, writes no segment (an empty one would be merged again at every commit)."""
    store, index, ingester, _ = _setup(data_dir)
    try:
        _fill(store, ingester, ["s0", "s1"], commits=3)
        assert len(_segments(index)) == 3
        with index.snapshot() as snap:
            first = [b for b in snap.blocks if b.start == 0]
        for b in first:  # the whole first segment
            index.delete_block(b)
        index.commit()
        segs = _segments(index)
        assert len(segs) == 2
        assert all(s.doc_count_all() > s.deleted_count() for s in segs)
        assert len(_blocks(index)) == 4
    finally:
        index.close()


def test_a_merge_child_whose_writer_is_gone_does_nothing(data_dir: Path) -> None:
    """The child dies with the writer that started it (PR_SET_PDEATHSIG); one started for a writer
    already gone exits at once, writing nothing into a data directory another writer may own."""
    import subprocess
    import sys

    store, index, ingester, _ = _setup(data_dir)
    try:
        _fill(store, ingester, ["s0"], commits=2)
        ids = [s.segment_id() for s in _segments(index)]
    finally:
        index.close()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    out = data_dir / "out"
    out.mkdir()
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "logsvc.segments",
            str(gone.pid),
            str(data_dir / "index"),
            str(out),
            *ids,
        ],
        capture_output=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    assert list(out.iterdir()) == []
