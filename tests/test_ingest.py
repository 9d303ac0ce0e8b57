"""Ingestion: appends, partial lines, multi-line events, truncation, rotation, deletion, restarts.

These run the real Service in-process (watchdog, ingester, whoosh) over a temp data directory and
check what the reader returns, since "indexed" only matters through what queries answer.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from logsvc.config import Settings
from logsvc.index import BlockIndex
from logsvc.ingest import Ingester
from logsvc.service import Service
from logsvc.store import Store
from tests.conftest import wait_for

G = "/aws/lambda/ingest"


@pytest.fixture
def svc(settings: Settings):
    s = Service(settings).start()
    wait_for(lambda: s.is_writer, what="writer")
    yield s
    s.close()


def messages(svc: Service, group: str = G, **kw) -> list[str]:
    src = svc.reader.sources([group])
    return [e.message for e in svc.reader.read(src, limit=10000, forward=True, **kw).events]


def append(path: Path, data: str | bytes) -> None:
    with open(path, "ab") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def test_appended_lines_become_events_in_order(svc: Service, store: Store) -> None:
    path = store.ensure_stream(G, "s1")
    append(path, "".join(f"2026-01-01T00:00:{i % 60:02d}.000Z line {i}\n" for i in range(500)))
    assert svc.wait_indexed()
    got = messages(svc)
    assert len(got) == 500 and got[0] == "line 0"


def test_partial_last_line_is_held_until_complete(svc: Service, store: Store) -> None:
    path = store.ensure_stream(G, "s")
    append(path, "first\nsecond half-")
    wait_for(lambda: messages(svc) == ["first"] or None, what="first line only")
    append(path, "written\n")
    wait_for(lambda: messages(svc) == ["first", "second half-written"], what="joined line")


def test_line_without_newline_is_taken_after_grace(svc: Service, store: Store) -> None:
    path = store.ensure_stream(G, "s")
    append(path, "no newline ever")
    wait_for(
        lambda: _checkpoint(svc, _skey(G, "s")) is not None,
        timeout=10,
        what="indexed",
    )
    assert messages(svc) == ["no newline ever"]


def test_traceback_stays_one_event(svc: Service, store: Store) -> None:
    path = store.ensure_stream(G, "tb")
    append(
        path,
        "2026-01-01T00:00:00.000Z ERROR something failed\n"
        "Traceback (most recent call last):\n"
        '  File "app.py", line 3, in <module>\n'
        "    main()\n"
        "ValueError: bad\n"
        "2026-01-01T00:00:01.000Z next event\n",
    )
    wait_for(lambda: len(messages(svc)) == 2, what="2 events")
    first, second = messages(svc)
    assert first.startswith("ERROR something failed\nTraceback") and first.endswith(
        "ValueError: bad"
    )
    assert second == "next event"


def test_carriage_return_is_a_line_break_inside_one_event(svc: Service, store: Store) -> None:
    path = store.ensure_stream(G, "cr")
    append(path, "[ERROR] boom\rTraceback (most recent call last):\r  line\n")
    wait_for(lambda: messages(svc), what="event")
    assert messages(svc) == ["[ERROR] boom\nTraceback (most recent call last):\n  line"]


def test_invalid_utf8_is_replaced_not_dropped(svc: Service, store: Store) -> None:
    path = store.ensure_stream(G, "bin")
    append(path, b"ok \xff\xfe bytes\nnul \x00 inside\n")
    wait_for(lambda: len(messages(svc)) == 2, what="2 events")
    assert messages(svc) == ["ok \ufffd\ufffd bytes", "nul \x00 inside"]


def test_copytruncate_starts_the_stream_over(svc: Service, store: Store) -> None:
    path = store.ensure_stream(G, "ct")
    append(path, "old 1\nold 2\n")
    wait_for(lambda: len(messages(svc)) == 2, what="old lines")
    with open(path, "r+b") as f:
        f.truncate(0)
    append(path, "new 1\n")
    wait_for(lambda: messages(svc) == ["new 1"], what="only the new line")


def test_rewritten_head_is_detected_even_if_larger(svc: Service, store: Store) -> None:
    path = store.ensure_stream(G, "rw")
    append(path, "aaaa\n")
    wait_for(lambda: messages(svc) == ["aaaa"], what="first")
    # copytruncate followed by a fast writer: the file is already larger than the checkpoint
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(b"bbbbbbbb\ncccc\n")
    wait_for(lambda: messages(svc) == ["bbbbbbbb", "cccc"], what="new content")


def test_rotation_to_a_new_inode(svc: Service, store: Store) -> None:
    path = store.ensure_stream(G, "rot")
    append(path, "before rotation\n")
    wait_for(lambda: messages(svc) == ["before rotation"], what="first")
    os.rename(path, path.with_suffix(".log.1"))
    append(path, "after rotation\n")
    wait_for(lambda: messages(svc) == ["after rotation"], what="rotated")


def test_deleted_stream_disappears(svc: Service, store: Store) -> None:
    path = store.ensure_stream(G, "del")
    append(path, "here\n")
    wait_for(lambda: messages(svc) == ["here"], what="indexed")
    path.unlink()
    wait_for(lambda: _checkpoint(svc, _skey(G, "del")) is None, what="blocks dropped")
    assert svc.reader.sources([G]) == []


def test_symlinked_stream_file_is_not_followed(svc: Service, store: Store, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me\n")
    store.create_group(G)
    store.stream_file(G, "link").symlink_to(secret)
    append(store.ensure_stream(G, "real"), "real line\n")
    wait_for(lambda: messages(svc) == ["real line"], what="real line")
    time.sleep(0.3)
    assert all("do not read me" not in m for m in messages(svc))


def test_restart_neither_loses_nor_duplicates(settings: Settings, store: Store) -> None:
    path = store.ensure_stream(G, "restart")
    append(path, "".join(f"line {i}\n" for i in range(3000)))
    with Service(settings) as s:
        wait_for(lambda: s.is_writer, what="writer")
        assert s.wait_indexed()
    append(path, "".join(f"line {i}\n" for i in range(3000, 5000)))
    with Service(settings) as s:
        wait_for(lambda: s.is_writer, what="writer")
        assert s.wait_indexed()
        got = messages(s)
    assert got == [f"line {i}" for i in range(5000)]


def test_small_appends_are_merged_into_few_blocks(svc: Service, store: Store) -> None:
    path = store.ensure_stream(G, "trickle")
    for i in range(40):
        append(path, f"trickle {i}\n")
        svc.ingester.mark_dirty(str(path))
        wait_for(lambda i=i: len(messages(svc)) == i + 1, what=f"line {i}")

    def merged() -> bool:  # the merge of a stream's small trailing blocks lands at a later commit
        with svc.index.snapshot() as snap:
            return len(snap.stream_blocks(_skey(G, "trickle"))) < 8

    wait_for(merged, what="the trickle's small blocks merged")
    assert messages(svc) == [f"trickle {i}" for i in range(40)]


@contextmanager
def _live_service(settings: Settings, store: Store) -> Iterator[tuple[Service, Path]]:
    """The writer of a service committing every 0.25 s once caught up, caught up with the stream
    `live` (its `line 0`): the service and the stream's file."""
    live = dataclasses.replace(settings, live_commit_interval=0.25)
    path = store.ensure_stream(G, "live")
    append(path, "line 0\n")
    with Service(live).start() as svc:
        wait_for(lambda: svc.is_writer, what="writer")
        assert svc.wait_indexed()
        yield svc, path


def _write_live(svc: Service, path: Path, seconds: float = 1.0) -> int:
    """Append `line 1`, `line 2`, ... every ~2 ms for `seconds`, as a live function does; the
    number of lines the stream then holds (with its `line 0`)."""
    n, t0 = 1, time.monotonic()
    while time.monotonic() - t0 < seconds:
        append(path, f"line {n}\n")
        svc.ingester.mark_dirty(str(path))
        n += 1
        time.sleep(0.002)
    return n


def test_a_stream_written_every_few_ms_is_committed_a_few_times_a_second(
    settings: Settings, store: Store
) -> None:
    """A live stream (a write every ~2 ms for a second) is committed about every
    live_commit_interval, not once per write: each whoosh commit ran in the process that serves
    the tails. Nothing waits for the commits: the last line is searchable at once."""
    with _live_service(settings, store) as (svc, path):
        with svc.index.snapshot() as snap:
            before = snap.generation
        n = _write_live(svc, path)
        assert messages(svc, pattern=f'"line {n - 1}"') == [f"line {n - 1}"]
        assert svc.wait_indexed()
        with svc.index.snapshot() as snap:
            commits = snap.generation - before
        assert n > 100
        assert 1 <= commits <= 1.0 / 0.25 + 4, (commits, n)
        assert messages(svc) == [f"line {i}" for i in range(n)]


def test_a_live_streams_writes_are_gathered_into_a_few_blocks(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write every ~2 ms for a second: a step per write cut a block per write, and each commit
    then merged dozens of them (a whoosh deletion each) in the worker serving the tails, 50-100 ms
    at a time. Caught up, the ingester steps at most every live_commit_interval / MERGE_AFTER, so a
    commit interval holds a few blocks. Nothing waits for it: the last line is searchable at once."""
    with _live_service(settings, store) as (svc, path):
        cut: list[int] = []
        add_block = svc.ingester.index.add_block

        def counted(block, words):
            cut.append(block.lines)
            return add_block(block, words)

        monkeypatch.setattr(svc.ingester.index, "add_block", counted)
        n = _write_live(svc, path)
        assert messages(svc, pattern=f'"line {n - 1}"') == [f"line {n - 1}"]
        assert svc.wait_indexed()
        assert n > 100
        # 1 s / (0.25 s / 4) steps, each a block, and a merge of each commit's blocks: ~20 (was 361)
        assert 1 <= len(cut) <= 40, (len(cut), n, cut)
        assert messages(svc) == [f"line {i}" for i in range(n)]


def test_rebuild_answers_exactly_as_before(
    settings: Settings, store: Store, data_dir: Path
) -> None:
    for s in range(3):
        path = store.ensure_stream(G, f"r{s}")
        for i in range(
            30
        ):  # timestamp-less lines: their times come from ingestion, kept by the rebuild
            append(path, f"plain line {s}-{i} token{i}\n")
            if i % 10 == 0:
                time.sleep(0.02)
        append(path, "".join(f"2026-01-01T00:00:{i:02d}.000Z stamped {s}-{i}\n" for i in range(50)))
    with Service(settings) as svc:
        wait_for(lambda: svc.is_writer, what="writer")
        assert svc.wait_indexed()
        src = svc.reader.sources([G])
        before = [e.to_json() for e in svc.reader.read(src, limit=10000, forward=True).events]
        before_q = [e.event_id for e in svc.reader.read(src, limit=10000, pattern="token7").events]
    from logsvc.reindex import reindex

    assert reindex(settings) == len(before)
    with Service(settings.with_(ingest=False)) as svc:
        src = svc.reader.sources([G])
        after = [e.to_json() for e in svc.reader.read(src, limit=10000, forward=True).events]
        after_q = [e.event_id for e in svc.reader.read(src, limit=10000, pattern="token7").events]
    assert after == before
    assert after_q == before_q and before_q


def test_damaged_index_is_rebuilt_at_start(
    settings: Settings, store: Store, data_dir: Path, caplog
) -> None:
    path = store.ensure_stream(G, "dmg")
    append(path, "".join(f"line {i}\n" for i in range(100)))
    with Service(settings) as s:
        wait_for(lambda: s.is_writer, what="writer")
        assert s.wait_indexed()
    for f in (data_dir / "index").iterdir():
        if f.suffix in (".toc", ".seg"):
            f.write_bytes(b"garbage")
    with Service(settings) as s:
        wait_for(lambda: s.is_writer, what="writer")
        assert s.wait_indexed()
        assert messages(s) == [f"line {i}" for i in range(100)]
    assert "damaged" in caplog.text


def test_ingester_alone_builds_blocks_with_time_bounds(store: Store, tmp_path: Path) -> None:
    path = store.ensure_stream(G, "direct")
    append(path, "".join(f"2026-01-01T00:00:{i:02d}.000Z e{i}\n" for i in range(60)))
    index = BlockIndex(tmp_path / "ix")
    ing = Ingester(store, index, block_lines=16)
    ing.step()
    ing.commit()
    with index.snapshot() as snap:
        blocks = snap.stream_blocks(_skey(G, "direct"))
    assert [b.lines for b in blocks] == [16, 16, 16, 12]
    assert blocks[0].min_ts == 1767225600000 and blocks[-1].max_ts == 1767225659000
    assert blocks[-1].end == path.stat().st_size
    index.close()


def _checkpoint(svc: Service, skey: str):
    """The stream's last indexed block, with the snapshot released (it holds index files open)."""
    with svc.index.snapshot() as snap:
        return snap.checkpoint(skey)


def _skey(group: str, stream: str) -> str:
    from logsvc.index import stream_key

    return stream_key(group, stream)


@pytest.mark.parametrize("term", ["42", "7", "123z", "27t21", "payload", "x9"])
def test_every_token_is_found_whether_indexed_or_not(svc: Service, store: Store, term: str) -> None:
    path = store.ensure_stream(G, "tokens")
    append(path, "".join(f"2026-01-01T00:00:00.000Z filler {i}\n" for i in range(3000)))
    append(path, f"2026-01-01T00:00:01.000Z needle {term} here\n")
    assert svc.wait_indexed()
    hits = svc.reader.read(svc.reader.sources([G]), limit=10, pattern=term).events
    assert f"needle {term} here" in [e.message for e in hits]


def _helpers() -> set[int]:
    """This process's children that are the ingester's tokenising helper (logsvc.blockterms)."""
    out = set()
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        with open(f"/proc/{os.getpid()}/task/{task}/children") as f:
            for pid in f.read().split():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as c:
                        if b"logsvc.blockterms" in c.read():
                            out.add(int(pid))
                except OSError:
                    pass
    return out


def _big_blocks(path: Path, tag: str, blocks: int) -> list[str]:
    """Append `blocks` x 2,048 lines (~150 KB a block: big enough for the helper), each block with
    one line holding a word and an id found nowhere else; returns those lines."""
    planted = []
    for b in range(blocks):
        body = [
            f"2026-01-01T00:00:00.000Z filler line {i} of block {b} " + "x" * 40
            for i in range(2047)
        ]
        planted.append(f"needle{tag}word{chr(97 + b)} id-{tag}{b}7f3a9c")
        body.insert(1000, "2026-01-01T00:00:00.000Z " + planted[-1])
        append(path, "".join(line + "\n" for line in body))
    return planted


def test_big_blocks_are_tokenised_in_the_helpers_and_every_term_is_found(
    svc: Service, store: Store
) -> None:
    before = _helpers()
    path = store.ensure_stream(G, "big")
    planted = _big_blocks(path, "h", 3)
    assert svc.wait_indexed(timeout=30)
    # the blocks alternate between two helpers (one left the ingester waiting for it)
    assert len(_helpers() - before) == 2, "blocks of ~150 KB were not tokenised by two helpers"
    src = svc.reader.sources([G])
    for line in planted:
        word, rid = line.split()
        for term in (word, rid):  # a whoosh word and a Bloom token: both from the helper
            assert [e.message for e in svc.reader.read(src, pattern=term).events] == [line]


def test_a_helper_killed_while_ingesting_loses_nothing(svc: Service, store: Store) -> None:
    before = _helpers()
    path = store.ensure_stream(G, "killed")
    first = _big_blocks(path, "a", 1)
    assert svc.wait_indexed(timeout=30)
    for pid in _helpers() - before:
        os.kill(pid, 9)
    more = _big_blocks(path, "b", 2)
    assert svc.wait_indexed(timeout=30)
    src = svc.reader.sources([G])
    for line in first + more:
        assert [e.message for e in svc.reader.read(src, pattern=line.split()[1]).events] == [line]
    assert len(svc.reader.read(src, limit=10_000, forward=True).events) == 3 * 2048


def test_the_helper_takes_views_of_one_read_as_a_step_hands_them_over(caplog) -> None:
    """A step hands its blocks over as views of the one buffer it read (no copy of its bytes): a big
    block goes to a helper, a small one is tokenised inline, and each answer is `terms` of exactly
    that block's bytes, whatever the buffer holds around it."""
    from logsvc import blockterms

    lines = [f"2026-01-01T00:00:00.000Z line {i} word{i % 997} id-{i:08x}\n" for i in range(12_000)]
    data = "".join(lines).encode()
    third = len(data) // 3
    spans = [(0, third), (third, third + 500), (third + 500, len(data))]  # big, small (inline), big
    view = memoryview(data)
    helper = blockterms.Helper()
    try:
        pending = [helper.submit(view[a:b]) for a, b in spans]
        got = [p() for p in pending]
    finally:
        helper.close()
    assert 500 < blockterms.INLINE_BYTES < third
    for (a, b), (words, bloom) in zip(spans, got, strict=True):
        want_words, want_bloom = blockterms.terms(data[a:b])
        assert sorted(words) == sorted(want_words) and bloom == want_bloom
    assert not [r.message for r in caplog.records if "helper" in r.message]  # not done inline


def test_the_helper_answers_blocks_whose_terms_overflow_a_pipe(caplog) -> None:
    """Hostile text: 2 MB blocks of distinct words and ids, whose answers are far bigger than a pipe
    holds, submitted all at once as a step does: every answer comes back, as `terms` gives it."""
    import random
    import threading

    from logsvc import blockterms

    rnd = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    raws = [
        " ".join(
            "".join(rnd.choices(letters, k=12)) + f" id{rnd.getrandbits(48):x}"
            for _ in range(80_000)
        ).encode()
        for _ in range(4)
    ]
    helper = blockterms.Helper()
    got: list = []
    try:
        pending = [helper.submit(raw) for raw in raws]
        t = threading.Thread(target=lambda: got.extend(p() for p in pending), daemon=True)
        t.start()
        t.join(60)
        assert not t.is_alive(), "the helper's answers never came (a pipe deadlock?)"
    finally:
        helper.close()
    for raw, (words, bloom) in zip(raws, got, strict=True):
        want_words, want_bloom = blockterms.terms(raw)
        assert sorted(words) == sorted(want_words) and bloom == want_bloom
        assert len(bloom) > 128 * 1024  # bigger than a pipe's buffer: the case being tested
    assert not [r.message for r in caplog.records if "helper" in r.message]  # not done inline
