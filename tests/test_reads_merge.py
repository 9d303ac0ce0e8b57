"""Two rules of the read merge (`query._Merge`) that no other test could break.

- A page holds at most 1 MiB counted as CloudWatch counts it (each message's UTF-8 bytes plus
  26), and the token after a page cut by that budget resumes with no event lost or repeated.
- A source whose first visible byte is an event boundary inside an indexed chunk (the columnar
  path hands the Reader its not-yet-columned tail that way, colquery.py) shows the chunk's events
  from that byte on, in every direction and across pages.
"""

from __future__ import annotations

import dataclasses
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import boto3
from botocore.config import Config

from logsvc.index import BlockIndex
from logsvc.ingest import Ingester
from logsvc.query import Reader
from logsvc.store import Store
from tests.conftest import start_server


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def walk(reader: Reader, src: list, pattern: str, forward: bool, limit: int, **kw) -> list:
    """Every page of a read (`kw`: start, end), followed to the end, in time order."""
    got, token = [], None
    while True:
        page = reader.read(src, forward=forward, limit=limit, pattern=pattern, token=token, **kw)
        got = got + page.events if forward else page.events + got
        token = page.next_token
        if not token:
            return got


PAGE_BUDGET = (
    1_048_576  # AWS: "the sum of all event messages in UTF-8, plus 26 bytes for each log event"
)


def test_a_page_stops_at_one_mib_and_its_token_resumes_with_nothing_lost(data_dir: Path) -> None:
    n, size = 2_500, 1_000
    per_page = PAGE_BUDGET // (size + 26)  # 1,022 events fit; one more would pass the budget
    messages = [f"{i:06d} " + "x" * (size - 7) for i in range(n)]
    server = start_server(data_dir)
    try:
        logs = boto3.client(
            "logs",
            endpoint_url=server.url,
            region_name="us-east-1",
            config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )
        logs.create_log_group(logGroupName="/big")
        logs.create_log_stream(logGroupName="/big", logStreamName="s")
        t0 = int(time.time() * 1000) - 10 * n
        for at in range(0, n, 1_000):  # a put is itself capped at 1 MiB
            logs.put_log_events(
                logGroupName="/big",
                logStreamName="s",
                logEvents=[
                    {"timestamp": t0 + i, "message": messages[i]}
                    for i in range(at, min(n, at + 1_000))
                ],
            )
        sizes, got, token = [], [], None
        kw = {"logGroupName": "/big", "logStreamName": "s", "startFromHead": True}
        while True:
            page = logs.get_log_events(**kw, **({"nextToken": token} if token else {}))
            if not page["events"]:
                break
            sizes.append(len(page["events"]))
            got += [e["message"] for e in page["events"]]
            token = page["nextForwardToken"]
        assert sizes == [per_page, per_page, n - 2 * per_page]
        assert got == messages
    finally:
        server.stop()


def test_a_pages_budget_counts_the_messages_utf8_bytes_not_their_characters(
    data_dir: Path, write_lines: Callable[..., Path]
) -> None:
    """AWS counts a message's UTF-8 bytes: 2,500 messages of 503 characters and 999 bytes each fit
    1,023 to a page (counted as characters, 1,982 would: a page of ~2 MB)."""
    n, body = 2_500, "\u00e9" * 496  # é: two bytes in UTF-8
    messages = [f"{i:06d} {body}" for i in range(n)]
    assert {len(m.encode()) for m in messages} == {999}
    per_page = PAGE_BUDGET // (999 + 26)
    write_lines("g", "s", [f"{iso_ms(1_714_521_600_000 + i)} {m}" for i, m in enumerate(messages)])
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(Store(data_dir), index).rebuild(None)
        reader = Reader(Store(data_dir), index)
        src = reader.sources(["g"])
        for forward in (True, False):
            sizes, got, token = [], [], None
            while True:
                page = reader.read(src, forward=forward, limit=10_000, token=token)
                sizes.append(len(page.events))
                got += [e.message for e in page.events]
                token = page.next_token
                if not token:
                    break
            assert sizes == [per_page, per_page, n - 2 * per_page]
            # each once (a backward page lists its own events oldest first)
            assert sorted(got) == messages
    finally:
        index.close()


def test_a_chunk_cut_by_the_first_visible_byte_shows_its_events_from_there(
    data_dir: Path, write_lines: Callable[..., Path]
) -> None:
    lines = [f"2024-05-01T00:00:{i // 10:02d}.{i % 10:03d}Z event {i:03d}" for i in range(200)]
    write_lines("g", "s", lines)
    offsets = [sum(len(line) + 1 for line in lines[:i]) for i in range(len(lines))]
    cut = offsets[100]
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(Store(data_dir), index).rebuild(None)
        reader = Reader(Store(data_dir), index)
        with index.snapshot() as snap:
            blocks = snap.stream_blocks(reader.sources(["g"])[0].skey)
        assert any(
            b.c_start[i] < cut < b.chunk_end(i) for b in blocks for i in range(len(b.c_start))
        ), "the cut must fall inside an indexed chunk"
        src = dataclasses.replace(reader.sources(["g"])[0], from_offset=cut)
        want = [f"event {i:03d}" for i in range(100, 200)]
        for forward in (True, False):
            assert [
                e.message for e in reader.read([src], forward=forward, limit=1_000).events
            ] == want
            got, token = [], None
            while True:  # small pages: each one starts inside or after the cut chunk
                page = reader.read([src], forward=forward, limit=7, token=token)
                got = got + page.events if forward else page.events + got
                token = page.next_token
                if not token:
                    break
            assert [e.message for e in got] == want
            assert [e.offset for e in got] == offsets[100:]
    finally:
        index.close()


def test_a_cut_chunk_of_multi_line_events_is_split_by_its_events_not_its_lines(
    data_dir: Path, write_lines: Callable[..., Path]
) -> None:
    """A chunk with as many lines as events is split line by line (`lines.lines_holding`). Cut by
    the first visible byte, a chunk that holds a two-line event can have as many lines left as it
    has events in all: it must still be split by its events."""
    events = [f"2024-05-01T00:00:0{i}.000Z event {i}" for i in range(10)]
    events[2] += "\n  at charge() needle"  # an indented line continues event 2
    write_lines("g", "s", events)
    cut = len(events[0]) + 1  # 10 lines from here on: as many as the chunk's 10 events
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(Store(data_dir), index).rebuild(None)
        reader = Reader(Store(data_dir), index)
        src = dataclasses.replace(reader.sources(["g"])[0], from_offset=cut)
        for pattern in ("needle", '"at charge"'):
            got = reader.read([src], forward=True, pattern=pattern).events
            assert [e.message for e in got] == ["event 2\n  at charge() needle"]
        whole = reader.read(reader.sources(["g"]), forward=True, pattern="event").events
        assert [e.message for e in whole] == [e.split(" ", 1)[1] for e in events]
    finally:
        index.close()


def test_reads_without_fields_serve_the_same_ids_times_and_messages(
    data_dir: Path, write_lines: Callable[..., Path]
) -> None:
    """FilterLogEvents and GetLogEvents read with fields=False (no full parse): for every line
    format's samples, and lines with and without a leading time, the ids, times, ingestion times
    and messages are the ones the fully parsed read serves, with and without a pattern."""
    from logsvc.lines import FORMATS

    texts = [s for f in FORMATS for s in f.samples]
    texts += [
        "2024-05-01T00:00:01.000Z plain timestamped line",
        "2024-05-01T00:00:02.000Z\tabc-123\tINFO\tnode style",
        "1234 starts with digits but no time",
        "no time at all",
    ]
    write_lines("g", "s", [t.replace("\n", " ") for t in texts])
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(Store(data_dir), index).rebuild(None)
        reader = Reader(Store(data_dir), index)
        src = reader.sources(["g"])
        for pattern in ("", "time", "INFO"):
            full = reader.read(src, forward=True, limit=1_000, pattern=pattern).events
            bare = reader.read(src, forward=True, limit=1_000, pattern=pattern, fields=False).events
            assert len(full) >= (len(texts) if not pattern else 1)
            assert [(e.event_id, e.timestamp, e.ingestion_time, e.message) for e in bare] == [
                (e.event_id, e.timestamp, e.ingestion_time, e.message) for e in full
            ], pattern
    finally:
        index.close()


def test_a_walk_over_streams_out_of_time_order_matches_the_sorted_lines(
    data_dir: Path, write_lines: Callable[..., Path]
) -> None:
    """Streams whose lines are not in time order have chunks whose times span the whole walk, so
    the later pages of a walk reuse the chunk matches an earlier page found (query.MATCH_CACHE_BYTES).
    The walk still serves exactly the matching lines sorted by time, in both directions, and what
    a page may show (retention, reclaimed bytes) is still decided per page, after the reuse."""
    rng = random.Random(7)
    base = 1_714_521_600_000  # 2024-05-01T00:00:00Z
    written: dict[str, list[tuple[int, str]]] = {}
    for stream in ("a", "b"):
        times = rng.sample(range(0, 3_600_000, 7), 400)  # unique, shuffled: no time order
        rows = [
            (base + t, f"{stream} {i:03d} {'needle' if i % 3 == 0 else 'hay'} {'x' * (i % 40)}")
            for i, t in enumerate(times)
        ]
        write_lines("g", stream, [f"{iso_ms(ts)} {msg}" for ts, msg in rows])
        written[stream] = rows
    want = sorted((ts, msg) for rows in written.values() for ts, msg in rows if " needle " in msg)
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(Store(data_dir), index).rebuild(None)
        reader = Reader(Store(data_dir), index)
        src = reader.sources(["g"])

        def walk(sources: list, forward: bool, first_pages: int = 10**6) -> list:
            got, token, pages = [], None, 0
            while pages < first_pages:
                page = reader.read(sources, forward=forward, limit=9, pattern="needle", token=token)
                got = got + page.events if forward else page.events + got
                token, pages = page.next_token, pages + 1
                if not token:
                    break
            return [(e.timestamp, e.message) for e in got], token

        for forward in (True, False):
            for _ in range(2):  # the second walk reads every page after the first from the reuse
                assert walk(src, forward)[0] == want
        # retention moves between pages: the pages after it show nothing older than its cutoff
        cutoff = want[len(want) // 2][0]
        head, token = walk(src, False, first_pages=3)
        later = [dataclasses.replace(s, since=cutoff) for s in src]
        rest = []
        while token:
            page = reader.read(later, limit=9, pattern="needle", token=token)
            rest = page.events + rest
            token = page.next_token
        assert [(e.timestamp, e.message) for e in rest] == [
            (ts, m) for ts, m in want[: len(want) - len(head)] if ts >= cutoff
        ]
    finally:
        index.close()


def test_a_walk_over_one_chunk_blocks_with_a_one_word_pattern(
    data_dir: Path, write_lines: Callable[..., Path]
) -> None:
    """A block of one chunk has the chunk's byte range, and a one-word pattern's literal is the
    pattern's text: the block's list of chunks holding the word and the chunk's matches are two
    things to reuse under two keys. (Under one key, page 2 of `ERROR` over the 10M corpus got a
    set of chunk numbers as matches: HTTP 500; the other way round a page skips a chunk.)"""
    store = Store(data_dir)
    path = store.ensure_stream("g", "s")
    base = 1_714_521_600_000
    index = BlockIndex(data_dir / "index")
    try:
        ing = Ingester(store, index)
        want = []
        for k in range(12):  # twelve blocks of one chunk each: a commit after every few lines
            rows = [
                (base + k * 1000 + i, f"{k:02d}.{i} {'ERROR' if i % 2 else 'INFO'} x")
                for i in range(6)
            ]
            with open(path, "a") as f:
                f.write("".join(f"{iso_ms(ts)} {msg}\n" for ts, msg in rows))
            ing.mark_dirty(None)
            while ing.step():
                pass
            ing.commit()
            want += [(ts, msg) for ts, msg in rows if " ERROR " in msg]
        reader = Reader(store, index)
        src = reader.sources(["g"])
        for forward in (True, False):
            for _ in range(2):  # the second walk reads its later pages from the reuse
                got = walk(reader, src, "ERROR", forward, 2)
                assert [(e.timestamp, e.message) for e in got] == want
    finally:
        index.close()


def test_a_walk_over_a_stream_mixing_stamped_and_bare_lines(
    data_dir: Path, write_lines: Callable[..., Path]
) -> None:
    """`sam local` output: the runtime's lines carry old timestamps, START/END/REPORT none (they take
    the time logsvc read them: now). Each chunk's time sketch (index.py) keeps the two apart, so a
    page past the bare lines' times does not read every chunk again, and a pattern no bare line can
    hold skips their time. Every walk still serves exactly the matching lines in time order: the
    stamped ones by their written times, then the bare ones in the order they were written (each
    round of them was taken in after the one before). Rounds are ingested one by one, so chunks
    get different ingestion times and the stream's small trailing blocks are merged."""
    rng = random.Random(11)
    base = (
        1_714_521_600_000  # 2024-05-01T00:00:00Z: every stamped line is older than every bare one
    )
    # unique and ascending, as a runtime writes them: a chunk's stamped part spans minutes, its bare
    # part (taken in now) is days later
    stamped_times = iter(sorted(rng.sample(range(0, 86_400_000, 3), 2_000)))
    store = Store(data_dir)
    index = BlockIndex(data_dir / "index")
    stamped: list[tuple[int, str]] = []  # (written time, message) of every stamped line
    bare: list[str] = []  # bare lines in the order written
    try:
        ing = Ingester(store, index)
        for rnd in range(8):
            sam, app = [], []  # events (a multi-line one as one string)
            for i in range(40):
                rid = f"r{rnd}-{i:02d}"
                level = "ERROR" if i % 3 == 0 else "INFO"
                ts = base + next(stamped_times)
                run = f"[{level}]\t{iso_ms(ts)}\t{rid}\tcharge {'failed' if level == 'ERROR' else 'ok'}"
                if level == "ERROR":  # logging.exception: the traceback joins the stamped event
                    run += (
                        '\nTraceback (most recent call last):\n  File "pay.py", line 9, in charge'
                    )
                    run += "\nValueError: card declined"
                report = f"REPORT RequestId: {rid}\tDuration: {i}.5 ms"
                after = [f"END RequestId: {rid}"]
                if rnd == 5 and i == 9:  # the one bare event holding the word ERROR, right after
                    report += "\tstatus ERROR"  # a stamped multi-line one (no END line)
                    after = []
                if rnd == 3 and i == 5:  # an uncaught exception: a bare multi-line event
                    after.append(
                        'Traceback (most recent call last):\n  File "pay.py", line 3, in <module>'
                        "\nRuntimeError: card declined at import"
                    )
                if rnd == 6 and i == 10:  # a bare print after stamped lines holding the word
                    after.insert(0, "payment declined by the bank")
                after.append(report)
                sam += [f"START RequestId: {rid} Version: $LATEST", run, *after]
                stamped.append((ts, run))
                bare += [sam[-2 - len(after)], *after]
                ats = base + next(stamped_times)
                status = "status ERROR" if i % 4 == 0 else "INFO"
                app.append(f"{iso_ms(ats)} app {rid} {status} step")
                stamped.append((ats, app[-1]))
            write_lines("g", "sam", sam)
            write_lines("g", "app", app)
            ing.mark_dirty(None)
            while ing.step():
                pass
            ing.commit()
            time.sleep(0.03)  # the next round's bare lines are read at a later time
        reader = Reader(store, index)
        src = reader.sources(["g"])

        def message_of(line: str) -> str:
            return line.split(" ", 1)[1] if line[:1].isdigit() else line

        def want(word: str) -> list[str]:
            old = [message_of(m) for ts, m in sorted(stamped) if word in m]
            return old + [m for m in bare if word in m]

        cases = [("ERROR", "ERROR"), ("REPORT", "REPORT"), ("", "")]
        cases += [('"card declined"', "card declined"), ('"status ERROR"', "status ERROR")]
        cases += [("declined", "declined")]
        for pattern, word in cases:
            for forward in (False, True):
                for _ in range(2):  # the second walk reads its later pages from the reuse
                    got = walk(reader, src, pattern, forward, 7)
                    assert [e.message for e in got] == want(word), (pattern, forward)
                    times = [e.timestamp for e in got]
                    assert times == sorted(times)
                    written = {message_of(m): ts for ts, m in stamped}
                    for e in got:  # a stamped line keeps the time written on it
                        assert written.get(e.message, e.timestamp) == e.timestamp
        # the bare ERROR line of round 5 sorts after every stamped line, among its round's bare lines
        newest = reader.read(src, limit=1, pattern="ERROR").events
        assert newest[0].message == "REPORT RequestId: r5-09\tDuration: 9.5 ms\tstatus ERROR"
    finally:
        index.close()


def test_a_block_stored_without_a_time_sketch_is_read_as_spanning_its_bounds() -> None:
    """An index written before chunks had a time sketch (schema 1) is read, not rebuilt: each chunk
    may hold bare events at its ingestion time and stamped ones anywhere in its bounds."""
    from array import array

    from logsvc.index import Block

    def q(*v: int) -> array:
        return array("q", v)

    old = Block("g", "s", "g/s", 0, 200, 1, "", q(0, 100), q(5, 50), q(40, 90), q(40, 90), q(3, 4))
    stored = old.to_stored()
    assert stored[0] == 1 and len(stored) == 14
    back = Block.from_stored(stored, 0)
    assert [back.parts(i) for i in range(2)] == [(40, 5, 40), (90, 50, 90)]
    assert back.sig(0) == -1 and (back.s_min, back.s_max) == (5, 90)


def test_a_json_pattern_finds_values_however_the_json_spells_them(data_dir: Path) -> None:
    """A JSON pattern's reads skip events (and whole chunks) whose bytes cannot hold its value
    (`FilterPattern.need`): every spelling of 503 that equals it is still found, one line or
    several (a stream file writes a message's line breaks escaped), among lines that only nearly
    hold it, read newest first and oldest first, a few a page."""
    from logsvc.lines import format_line

    store = Store(data_dir)
    path = store.ensure_stream("g", "s")
    base = 1_714_521_600_000
    found = [
        '{"http": {"status": 503}}',
        '{"http": {"status": 5.03e2}, "id": "1e5c8abd"}',
        '{"http": {"status": "503"}}',
        '{"http": {"status": 50300e-2}}',
        '{"http": {"status": "\\u0035\\u0030\\u0033"}}',
        '{"http":\n  {"status":\n   5.03E+2}}',
        '{"http": {"status": 502.99999999999999}}',
    ]
    near = [
        '{"http": {"status": 200}, "note": "503 elsewhere"}',
        '{"http": {"status": 5030}}',
        '{"http": {"status": -503}}',
        '{"http": {"status": "5.03e3"}}',
        '{"http": {"code": 503}}',
        "status 503 http",
    ]
    rnd = random.Random(5)
    rows = []
    for i in range(600):
        if i % 40 == 7:
            rows.append((base + i, found[(i // 40) % len(found)], True))
        elif i % 9 == 0:
            rows.append((base + i, rnd.choice(near), False))
        else:
            rows.append(
                (base + i, f'{{"http": {{"status": {rnd.choice((200, 404, 500))}}}}}', False)
            )
    with open(path, "ab") as f:
        f.write(b"".join(format_line(ts, msg) for ts, msg, _ in rows))
    index = BlockIndex(data_dir / "index")
    try:
        ing = Ingester(store, index)
        ing.mark_dirty(None)
        while ing.step():
            pass
        ing.commit()
        want = [(ts, msg) for ts, msg, ok in rows if ok]
        assert len(want) == 15
        reader = Reader(store, index)
        src = reader.sources(["g"])
        for forward in (True, False):
            got = walk(reader, src, "{ $.http.status = 503 }", forward, 4)
            assert [(e.timestamp, e.message) for e in got] == want
    finally:
        index.close()


def test_a_phrase_in_blocks_of_many_chunks_is_found_segment_by_segment(
    data_dir: Path, write_lines: Callable[..., Path]
) -> None:
    """A time-ordered block is searched for a pattern's literals a few chunks at a time from the end
    a page starts at (`_Merge._open_segment`), the rest of the block queued behind. Three streams of
    full 2,048-line blocks (32 chunks), the phrase on a random 3% of lines and its words apart on
    others: every walk, both directions, small and large pages, a time range, and a source cut
    inside a segment, returns exactly the lines the generator put the phrase on."""
    rnd = random.Random(12)
    t0 = 1_714_521_600_000  # 2024-05-01
    n, streams = 4_500, ("a", "b", "c")
    want: dict[str, list[tuple[int, str]]] = {s: [] for s in streams}
    offsets: dict[str, list[int]] = {s: [] for s in streams}
    for s_i, s in enumerate(streams):
        lines, at = [], 0
        for i in range(n):
            ms = t0 + i * 1_000 + s_i * 300
            r = rnd.random()
            if r < 0.03:
                text = f"payment {s}{i} failed: card declined by the bank"
                want[s].append((ms, text))
            elif r < 0.5:
                text = f"card {s}{i} was not declined today"  # both words, never the phrase
            else:
                text = f"request {s}{i} served"
            line = f"{iso_ms(ms)} {text}"
            lines.append(line)
            offsets[s].append(at)
            at += len(line) + 1
        write_lines("g", s, lines)
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(Store(data_dir), index).rebuild(None)
        reader = Reader(Store(data_dir), index)
        srcs = reader.sources(["g"])
        with index.snapshot() as snap:
            blocks = [b for src in srcs for b in snap.stream_blocks(src.skey)]
        assert max(len(b.c_start) for b in blocks) >= 30 and all(b.chunks_ordered for b in blocks)
        every = sorted(x for s in streams for x in want[s])
        for forward in (True, False):
            for limit in (7, 1_000):
                got = walk(reader, srcs, '"card declined"', forward, limit)
                assert [(e.timestamp, e.message) for e in got] == every
            lo, hi = t0 + 1_000_500, t0 + 3_200_700  # inside the first block and the second
            got = walk(reader, srcs, '"card declined"', forward, 5, start=lo, end=hi)
            assert [(e.timestamp, e.message) for e in got] == [x for x in every if lo <= x[0] <= hi]
            # a source whose first visible byte is an event boundary in the middle of a segment
            cut = offsets["b"][1_500 + 37]
            src_b = next(src for src in srcs if src.stream == "b")
            cut_src = dataclasses.replace(src_b, from_offset=cut)
            got = walk(reader, [cut_src], '"card declined"', forward, 3)
            assert [e.message for e in got] == [
                text for ms, text in want["b"] if ms >= t0 + (1_500 + 37) * 1_000
            ]
    finally:
        index.close()


def test_a_stream_whose_only_candidate_is_its_first_block_beside_a_common_word(
    data_dir: Path,
) -> None:
    """A common word has many candidate blocks, so which streams hold one is worked out per stream
    (`query._streams_of`), not per candidate; a stream whose one candidate block is its first (or
    its last) must still be read, in both directions and on every page."""
    store = Store(data_dir)
    base = 1_714_521_600_000
    busy, first, last = (store.ensure_stream("g", n) for n in ("busy", "first", "last"))
    rows = {
        busy: [(base + i * 10, f"busy {i} {'alarm' if i % 3 else 'calm'}") for i in range(400)],
        first: [
            (base + i * 10 + 1, f"first {i} {'alarm' if i < 2 else 'calm'}") for i in range(80)
        ],
        last: [
            (base + i * 10 + 2, f"last {i} {'alarm' if i >= 78 else 'calm'}") for i in range(80)
        ],
    }
    for path, lines in rows.items():
        path.write_text("".join(f"{iso_ms(ts)} {msg}\n" for ts, msg in lines))
    index = BlockIndex(data_dir / "index")
    try:
        ing = Ingester(store, index, block_lines=8)
        ing.mark_dirty(None)
        while ing.step():
            pass
        ing.commit()
        with index.snapshot() as snap:
            blocks = len(snap.blocks)
        assert blocks >= 60  # 50 busy blocks hold `alarm`: more candidates than 4 per stream
        want = sorted(
            (ts, msg) for lines in rows.values() for ts, msg in lines if msg.endswith("alarm")
        )
        reader = Reader(store, index)
        src = reader.sources(["g"])
        for forward in (True, False):
            for limit in (7, 1000):
                got = walk(reader, src, "alarm", forward, limit)
                assert [(e.timestamp, e.message) for e in got] == want
    finally:
        index.close()


def _heap_bytes(value: object, seen: set[int]) -> int:
    """What `value` holds in the heap: it and every tuple, frozenset, str and int inside it."""
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, tuple | frozenset):
        size += sum(_heap_bytes(v, seen) for v in value)
    return size


def test_the_match_cache_counts_what_its_entries_hold(
    data_dir: Path, write_lines: Callable[..., Path]
) -> None:
    """The cache of chunk matches is bounded by what its entries hold in the heap, not by their
    text alone: each entry's counted size is at least what it holds (non-ASCII text included)."""
    rng = random.Random(3)
    base = 1_714_521_600_000
    for stream in ("a", "b"):
        times = rng.sample(range(0, 3_600_000, 7), 300)  # out of time order: reuse across pages
        write_lines(
            "g",
            stream,
            [
                f"{iso_ms(base + t)} {stream} {i} {'needle' if i % 2 else 'hay'} "
                + ("zürich ✓ " if i % 5 == 0 else "")
                + "x" * (i % 90)
                for i, t in enumerate(times)
            ],
        )
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(Store(data_dir), index).rebuild(None)
        reader = Reader(Store(data_dir), index)
        src = reader.sources(["g"])
        for pattern in ("needle", '"needle x"', "zürich"):
            assert walk(reader, src, pattern, forward=False, limit=7)
        entries = list(reader._matches._items.values())
        assert len(entries) > 10
        for value, counted in entries:
            assert counted >= _heap_bytes(value, set()), value
    finally:
        index.close()
