"""The copy's files and manifest, driven round by round (a real index over real files, the builder's
rounds run here): a crash between writing files and swapping the manifest — while building and
while compacting — leaves the listed copy as it was, the next builder removes the unlisted files
and converges; a day long over is one file; the Snapshot API prunes by group and time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from logsvc.columns import builder as B
from logsvc.columns import store as cstore
from logsvc.config import Settings
from logsvc.index import BlockIndex
from logsvc.ingest import Ingester
from logsvc.store import Store
from tests.test_columns_build import G1, G2, NOW, append, converged, lambda_lines

DAY = cstore.DAY_MS


class Killed(Exception):
    """Stands for kill -9 at the manifest swap: the process stops before the rename."""


_BUILDERS: list[B.Builder] = []


def builder(settings: Settings) -> B.Builder:
    """A builder, closed when the test ends (as a process exiting would close it)."""
    _BUILDERS.append(B.Builder(settings))
    return _BUILDERS[-1]


@pytest.fixture(autouse=True)
def _close_builders():
    yield
    while _BUILDERS:
        _BUILDERS.pop().close()


@pytest.fixture
def world(data_dir: Path):
    store = Store(data_dir)
    paths = [
        store.ensure_stream(G1, "s1"),
        store.ensure_stream(G1, "s2"),
        store.ensure_stream(G2, "w"),
    ]
    index = BlockIndex(data_dir / "index")
    ing = Ingester(store, index, block_lines=256)
    yield store, paths, ing
    index.close()


def ingest(ing: Ingester) -> None:
    ing.mark_dirty(None)
    while ing.step():
        pass
    ing.commit()


def settle(b: B.Builder) -> None:
    for _ in range(1000):
        if not b.round():
            break
    b.round()


def three_hourly_rounds(data_dir: Path, paths, ing: Ingester, day: int, n: int, tag: str):
    """Three builder rounds an hour apart on `day`, each after `n` new lines per stream; "today" is
    that day, so no closing merge happens yet. Returns the builder."""
    b = builder(Settings(data_dir=data_dir))
    for k in range(3):
        for p in paths:
            append(p, lambda_lines(n, day + 3600_000 * (k + 1), f"{tag}{k}"))
        ingest(ing)
        b.round(now_ms=day + 3600_000 * (k + 1) + 1000)
    return b


def on_disk(data_dir: Path) -> set[str]:
    return {n for n in os.listdir(data_dir / "columns") if n.endswith(".parquet")}


def listed(data_dir: Path) -> set[str]:
    snap = cstore.snapshot(data_dir)
    return {e.name for e in snap.entries} | {r[0] for r in snap.retired}


def test_a_crash_before_the_manifest_swap_leaves_garbage_only(
    data_dir: Path, world, monkeypatch
) -> None:
    store, paths, ing = world
    for p in paths:
        append(p, lambda_lines(500, NOW - 7200_000, p.stem))
    ingest(ing)
    settings = Settings(data_dir=data_dir)
    settle(builder(settings))
    assert converged(data_dir) is True
    before = cstore.snapshot(data_dir).to_json()

    for p in paths:
        append(p, lambda_lines(300, NOW - 3600_000, "more" + p.stem))
    ingest(ing)

    def killed(self, snap):
        raise Killed

    monkeypatch.setattr(cstore.Writer, "commit", killed)
    b = builder(settings)
    with pytest.raises(Killed):
        b.round()
    assert cstore.snapshot(data_dir).to_json() == before  # the listed copy is unchanged
    assert on_disk(data_dir) - listed(data_dir)  # the written files are garbage
    monkeypatch.undo()

    b = builder(settings)  # the restarted builder
    assert b.writer.collect_garbage() > 0
    assert on_disk(data_dir) <= listed(data_dir)
    settle(b)
    assert converged(data_dir) is True


def test_a_crash_during_compaction_keeps_the_inputs_listed(
    data_dir: Path, world, monkeypatch
) -> None:
    store, paths, ing = world
    settings = Settings(data_dir=data_dir)
    b = builder(settings)
    for k in range(B.MERGE_FANOUT - 1):  # files of one size tier, one round each: no merge yet
        append(paths[0], lambda_lines(100, NOW - 600_000 + k * 1000, f"r{k}"))
        ingest(ing)
        settle(b)
    entries = [e for e in cstore.snapshot(data_dir).entries if e.group == G1]
    assert len(entries) == B.MERGE_FANOUT - 1
    append(paths[0], lambda_lines(100, NOW - 500_000, "last"))
    ingest(ing)
    # the round that writes the last file of the tier also merges the tier; it dies at the swap
    seen = []

    def killed(self, snap):
        seen.append(len(snap.retired))
        raise Killed

    monkeypatch.setattr(cstore.Writer, "commit", killed)
    with pytest.raises(Killed):
        b.round()
    assert seen and seen[0] >= B.MERGE_FANOUT  # it was compacting
    assert {e.name for e in cstore.snapshot(data_dir).entries} >= {e.name for e in entries}
    monkeypatch.undo()
    b = builder(settings)
    b.writer.collect_garbage()
    settle(b)
    assert converged(data_dir) is True
    g1 = [e for e in cstore.snapshot(data_dir).entries if e.group == G1]
    assert len(g1) == 1 and g1[0].rows == 400
    assert (
        len(cstore.snapshot(data_dir).retired) >= B.MERGE_FANOUT
    )  # inputs kept for running queries


def test_a_day_long_over_is_one_file_and_the_api_prunes(data_dir: Path, world) -> None:
    store, paths, ing = world
    old_day = (NOW // DAY - 3) * DAY
    b = three_hourly_rounds(data_dir, paths, ing, old_day, 50, "d")
    assert len([e for e in cstore.snapshot(data_dir).entries if e.group == G1]) == 3
    settle(b)  # now: the day is long over
    snap = cstore.snapshot(data_dir)
    per = {(e.group, e.day) for e in snap.entries}
    assert len(snap.entries) == len(per) == 2
    assert converged(data_dir) is True
    day_name = cstore.day_of(old_day)
    assert [p.name for p in snap.files([G1], old_day, old_day + DAY - 1)] == [
        e.name for e in snap.entries if e.group == G1
    ]
    assert day_name in snap.files([G1], old_day, old_day + DAY - 1)[0].name
    assert snap.files([G1], old_day + DAY, old_day + 2 * DAY) == []
    assert snap.files(["no/such"], 0, 2**62) == []
    ident, end = snap.covered(G1, "s1")
    st = paths[0].stat()
    assert end == st.st_size and int.from_bytes(bytes.fromhex(ident)[:8], "little") == st.st_ino
    assert snap.covered(G1, "nope") is None


def test_a_merge_larger_than_its_memory_sorts_slice_by_slice(
    data_dir: Path, world, monkeypatch
) -> None:
    """A day's merge is sorted in slices cut by time (one sort of a busy day ran out of DuckDB's
    memory at 10M lines): every row once, in (ts, stream, off) order, in full row groups."""
    import pyarrow.parquet as pq

    store, paths, ing = world
    old_day = (NOW // DAY - 3) * DAY
    b = three_hourly_rounds(data_dir, paths, ing, old_day, 60, "s")
    before = cstore.snapshot(data_dir)
    want = set()
    for e in before.entries:
        if e.group == G1:
            t = pq.read_table(data_dir / "columns" / e.name, columns=["stream", "off", "ts"])
            want |= set(
                zip(*(t.column(c).to_pylist() for c in ("stream", "off", "ts")), strict=True)
            )
    monkeypatch.setattr(B, "SLICE_BYTES", 4096)  # many slices
    monkeypatch.setattr(cstore, "ROW_GROUP", 50)  # row groups that span slices
    settle(b)
    (merged,) = [e for e in cstore.snapshot(data_dir).entries if e.group == G1]
    f = pq.ParquetFile(data_dir / "columns" / merged.name)
    t = f.read(columns=["stream", "off", "ts"])
    got = list(zip(*(t.column(c).to_pylist() for c in ("stream", "off", "ts")), strict=True))
    assert len(want) > 300 and len(got) == len(want) and set(got) == want
    assert got == sorted(got, key=lambda r: (r[2], r[0], r[1]))
    sizes = [f.metadata.row_group(i).num_rows for i in range(f.metadata.num_row_groups)]
    assert len(sizes) > 2 and all(n == 50 for n in sizes[:-1]) and 0 < sizes[-1] <= 50


def test_a_columns_symlink_is_not_written_through(data_dir: Path, world, tmp_path: Path) -> None:
    """pyarrow writes by path: a `<data>/columns` symlink must not get the builder writing elsewhere."""
    store, paths, ing = world
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, data_dir / "columns")
    append(paths[0], lambda_lines(100, NOW - 600_000, "x"))
    ingest(ing)
    settle(builder(Settings(data_dir=data_dir)))
    assert list(elsewhere.iterdir()) == []
    assert (data_dir / "columns").is_dir() and not (data_dir / "columns").is_symlink()
    assert converged(data_dir) is True
    cstore.discard(data_dir)
    assert not (data_dir / "columns").exists() and not (data_dir / cstore.RETIRED_DIR).exists()


def test_an_unterminated_line_taken_as_it_was_keeps_the_coverage(data_dir: Path, caplog) -> None:
    """The ingester takes a last line without its newline after a grace; the newline arriving later
    leaves a one-byte gap before the next block. The coverage goes on after it, never restarts."""
    store = Store(data_dir)
    path = store.ensure_stream(G1, "s1")
    now = [1000.0]
    index = BlockIndex(data_dir / "index")
    try:
        ing = Ingester(store, index, clock=lambda: now[0])
        append(
            path, lambda_lines(50, NOW - 600_000, "a") + "2026-12-01T00:00:00.000Z no newline yet"
        )
        ingest(ing)
        now[0] += 10  # the writer went quiet: the partial line is taken as it is
        ingest(ing)
        b = builder(Settings(data_dir=data_dir))
        settle(b)
        # the index's block ends where the taken line's bytes end: so does the coverage
        assert cstore.snapshot(data_dir).covered(G1, "s1")[1] == path.stat().st_size
        assert converged(data_dir) is True
        append(path, "\n" + lambda_lines(50, NOW - 500_000, "b"))
        ingest(ing)
        with caplog.at_level("INFO", logger="logsvc.columns"):
            settle(b)
        assert "coverage dropped" not in caplog.text
        assert cstore.snapshot(data_dir).covered(G1, "s1")[1] == path.stat().st_size
        assert converged(data_dir) is True
    finally:
        index.close()
