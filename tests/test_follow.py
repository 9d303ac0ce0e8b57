"""Following files from outside: identity (rotation, truncation, rewrites), event ids, the live
tail, over-long lines and bounded memory, against a real `logsvc serve` over real files.

Every test here writes the files the way the outside world does (`>>`, `mv`, `copytruncate`, an
in-place rewrite) and checks what REST, search and the SSE tail then say.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from logsvc.follow import FileFollow, read_new_events
from tests.conftest import HealthWatch, Server, start_server, wait_for

G = "/follow/app"


def path_of(server: Server, stream: str) -> Path:
    return server.store.ensure_stream(G, stream)


def append(server: Server, stream: str, lines: list[str]) -> Path:
    path = path_of(server, stream)
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


def events(server: Server, stream: str) -> list[dict]:
    out, token = [], None
    while True:
        page = server.json(
            "/api/v1/events",
            group=G,
            stream=stream,
            startFromHead="true",
            limit=10000,
            nextToken=token,
        )
        out += page["events"]
        token = page["nextToken"]
        if not token:
            return out


def messages(server: Server, stream: str) -> list[str]:
    return [e["message"] for e in events(server, stream)]


def search(server: Server, q: str) -> list[str]:
    return [e["message"] for e in server.json("/api/v1/search", group=G, q=q, limit=100)["events"]]


class SSE:
    """An SSE client on a background thread that keeps every frame as it came."""

    def __init__(self, url: str, headers: dict | None = None) -> None:
        self.resp = requests.get(url, stream=True, headers=headers or {}, timeout=60)
        assert self.resp.status_code == 200, self.resp.text
        self.events: list[dict] = []
        self.frame_sizes: list[int] = []
        self.notices: list[dict] = []
        self.comments = 0
        self.last_id: str | None = None
        self.ended: str | None = None  # why the stream stopped (said in failures), None while open
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        kind, data = "message", []
        try:
            for raw in self.resp.iter_lines(decode_unicode=True, chunk_size=65536):
                if raw == "":
                    if data:
                        body = "\n".join(data)
                        with self._lock:
                            if kind == "notice":
                                self.notices.append(json.loads(body))
                            else:
                                self.frame_sizes.append(len(body))
                                self.events += json.loads(body)["events"]
                    kind, data = "message", []
                elif raw.startswith(":"):
                    self.comments += 1
                elif raw.startswith("event:"):
                    kind = raw[6:].strip()
                elif raw.startswith("id:"):
                    self.last_id = raw[3:].strip()
                elif raw.startswith("data:"):
                    data.append(raw[5:].strip())
            self.ended = "the server ended the stream"
        except Exception as e:  # kept for the test that waits to report
            self.ended = repr(e)

    def messages(self) -> list[str]:
        with self._lock:
            return [e["message"] for e in self.events]

    def state(self) -> str:
        """What a failed wait should say: what was sent (long messages by length) and how it ended."""
        with self._lock:
            sent = [
                m if len(m) <= 40 else f"<{len(m)} chars>"
                for m in (e["message"] for e in self.events)
            ]
        return f"sent {sent}, {self.comments} comments, ended: {self.ended}"

    def close(self) -> None:
        self.resp.close()


def open_tail(server: Server, **params: str) -> SSE:
    server.store.ensure_stream(G, "anchor")  # the group must exist to be tailed
    q = "&".join(f"{k}={v}" for k, v in params.items())
    c = SSE(f"{server.url}/api/v1/tail?group={G}&heartbeat=1" + (f"&{q}" if q else ""))
    wait_for(lambda: c.comments, what="the tail's opening comment")
    return c


# ---- #10.1: a line that replaced another at the same offset -------------------------------------


def test_tail_after_copytruncate_sends_the_new_line_not_the_cached_old_one(server: Server) -> None:
    """The encoded-event cache was keyed by (stream, offset, end): a same-length line at the same
    offset after copytruncate went out as the old line's JSON. Ids must differ too."""
    tail = open_tail(server)
    path = append(server, "secrets", ["password=hunter2"])
    wait_for(lambda: tail.messages() == ["password=hunter2"], what="the first line")
    with open(path, "r+b") as f:
        f.truncate(0)
    with open(path, "ab") as f:
        f.write(b"password=XXXXXXX\n")  # same length, same offset
    wait_for(lambda: len(tail.messages()) >= 2, what="the replacing line")
    time.sleep(0.5)  # nothing else may follow
    assert tail.messages() == ["password=hunter2", "password=XXXXXXX"]
    assert tail.events[0]["eventId"] != tail.events[1]["eventId"]
    wait_for(
        lambda: messages(server, "secrets") == ["password=XXXXXXX"], what="REST shows the new line"
    )
    assert (
        events(server, "secrets")[0]["eventId"] == tail.events[1]["eventId"]
    )  # tail and REST agree
    tail.close()


# ---- #10.2: a rewrite that keeps the size -----------------------------------------------------


@pytest.mark.parametrize("same_head", [False, True])
def test_rewrite_to_the_same_size_is_noticed_by_search_and_tail(
    server: Server, same_head: bool
) -> None:
    """An in-place rewrite keeps the size: only the bytes show it (the head; or, when a long first
    line stays, the last bytes read). Search (the block's words and Bloom filter) and the tail
    must see the new content, not the old."""
    header = (
        ["# a constant header line, longer than the 64 head bytes a file is known by"]
        if same_head
        else []
    )
    path = append(server, "rw", [*header, "order q7xk2 accepted alpha"])
    wait_for(
        lambda: search(server, "q7xk2") == ["order q7xk2 accepted alpha"],
        what="the old line searchable",
    )
    tail = open_tail(server)
    with open(path, "r+b") as f:  # truncate + rewrite to the same size, between two looks
        f.write("".join(line + "\n" for line in [*header, "order z9wm4 rejected bravo"]).encode())
    wait_for(
        lambda: search(server, "z9wm4") == ["order z9wm4 rejected bravo"],
        timeout=15,
        what="the new word found",
    )
    assert search(server, "q7xk2") == []
    assert messages(server, "rw") == [*header, "order z9wm4 rejected bravo"]
    wait_for(
        lambda: tail.messages() == [*header, "order z9wm4 rejected bravo"],
        timeout=15,
        what="the tail delivers it",
    )
    tail.close()


# ---- #17.8: the tail after rotation and truncation ----------------------------------------------


@pytest.mark.parametrize(
    "how", ["mv_over", "mv_over_same_size", "truncate_and_grow", "truncate_and_shrink"]
)
def test_tail_follows_rotation_and_truncation_like_the_index(server: Server, how: str) -> None:
    """The tail sends each old line once and then exactly the new file's lines, as REST reads it,
    whether the new file is larger, smaller or exactly as large as the old one."""
    stream = f"rot-{how}"
    tail = open_tail(server)
    old = [f"old line {i:03d} of the first file" for i in range(100)]
    path = append(server, stream, old)
    wait_for(lambda: tail.messages() == old, what="the old lines")
    if how.startswith("mv_over"):
        new = [f"new {i:03d}" for i in range(50)]
        if how == "mv_over_same_size":
            new = [f"new line {i:03d} of the other file" for i in range(100)]
        tmp = path.with_name("incoming.tmp")
        tmp.write_text("".join(line + "\n" for line in new))
        os.rename(tmp, path)
    else:
        new = [f"regrown line number {i:04d} after truncation, a little longer" for i in range(150)]
        if how == "truncate_and_shrink":
            new = [f"s{i}" for i in range(60)]
        with open(path, "r+b") as f:
            f.truncate(0)
        with open(path, "ab") as f:
            f.write("".join(line + "\n" for line in new).encode())
    wait_for(lambda: messages(server, stream) == new, timeout=15, what="REST reads the new file")
    wait_for(
        lambda: len(tail.messages()) >= len(old) + len(new),
        timeout=15,
        what="the tail sends the new file",
    )
    time.sleep(0.5)  # and nothing more
    assert tail.messages() == old + new
    tail.close()


def test_resumed_tail_starts_a_replaced_file_from_its_first_line(server: Server) -> None:
    """Last-Event-ID carries the file's identity: after copytruncate and a regrowth past the old
    offset while the client was away, the resumed tail sends the new file whole, not its middle."""
    tail = open_tail(server)
    old = [f"first file line {i}" for i in range(10)]
    path = append(server, "resume", old)
    wait_for(lambda: tail.messages() == old and tail.last_id, what="the old lines and a cursor")
    last_id = tail.last_id
    tail.close()
    with open(path, "r+b") as f:
        f.truncate(0)
    new = [f"second file, a longer line number {i:02d}" for i in range(30)]
    with open(path, "ab") as f:
        f.write("".join(line + "\n" for line in new).encode())
    back = SSE(
        f"{server.url}/api/v1/tail?group={G}&heartbeat=1", headers={"Last-Event-ID": last_id}
    )
    wait_for(lambda: len(back.messages()) >= 30, timeout=15, what="the new file")
    time.sleep(0.5)
    assert back.messages() == new
    back.close()


# ---- event ids: unique across the life of a stream name, stable across restarts ----------------


def test_event_ids_are_unique_across_truncation_and_stable_across_restart_and_reindex(
    data_dir: Path,
) -> None:
    server = start_server(data_dir)
    try:
        path = append(server, "ids", ["first life 1", "first life 2"])
        wait_for(lambda: len(events(server, "ids")) == 2, what="first life")
        first = [e["eventId"] for e in events(server, "ids")]
        with open(path, "r+b") as f:
            f.truncate(0)
        with open(path, "ab") as f:
            f.write(b"second life 1\nsecond life 2\n")
        wait_for(
            lambda: messages(server, "ids") == ["second life 1", "second life 2"],
            what="second life",
        )
        second = [e["eventId"] for e in events(server, "ids")]
        assert not set(first) & set(second)
        assert all(len(i) == 32 and i[:16].isdigit() for i in second)  # the id shape is unchanged
        ctx = server.json(
            "/api/v1/events/context", group=G, stream="ids", eventId=second[1], before=1, after=0
        )
        assert [e["message"] for e in ctx["events"]] == ["second life 1", "second life 2"]
        server.stop(9)
        server = start_server(data_dir)
        # right after the restart the index may still describe the first life (reads trust its
        # blocks until the ingester's first look resets them); once it has looked, the ids are back
        wait_for(
            lambda: [e["eventId"] for e in events(server, "ids")] == second,
            what="the same ids after kill -9",
        )
        server.stop()
        _reindex(data_dir)
        server = start_server(data_dir)
        wait_for(
            lambda: [e["eventId"] for e in events(server, "ids")] == second,
            what="the same ids after reindex",
        )
    finally:
        server.stop()


def _reindex(data_dir: Path) -> None:
    """`logsvc reindex` over the data directory, as a user runs it (the server stopped)."""
    env = dict(os.environ, LOGSVC_DATA_DIR=str(data_dir))
    subprocess.run(
        [sys.executable, "-m", "logsvc", "reindex"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


# ---- #17.4: lines longer than any buffer ------------------------------------------------------


@pytest.mark.parametrize("terminated", [True, False])
def test_a_20_mb_line_is_one_cut_event_and_hides_nothing_after_it(
    data_dir: Path, terminated: bool
) -> None:
    """A 20 MB line is ingested as one event whose message says it was cut; the lines after it are
    visible in REST, search and the tail; the ingester goes idle; restart keeps it so."""
    server = start_server(data_dir)
    try:
        watch = HealthWatch(server.url).__enter__()  # the server keeps answering throughout
        tail = open_tail(server)
        path = append(server, "huge", ["before the giant"])
        giant = b"G" * (20 * 1024 * 1024)
        with open(path, "ab") as f:
            f.write(giant + (b"\n" if terminated else b""))
        if (
            not terminated
        ):  # the writer goes quiet mid-line: the line is taken as it is, then more lines
            wait_for(
                lambda: len(events(server, "huge")) == 2,
                timeout=20,
                what="the unterminated giant taken",
            )
            with open(path, "ab") as f:
                f.write(b"\n")
        append(server, "huge", ["after tok1x9", "after tok2x9"])
        want = ["before the giant", "<giant>", "after tok1x9", "after tok2x9"]

        def shape() -> list[str]:
            return [("<giant>" if len(m) > 1000 else m) for m in messages(server, "huge")]

        wait_for(lambda: shape() == want, timeout=30, what="every line, the giant cut")
        evs = events(server, "huge")
        assert len(evs) == 4, [(e["eventId"], e["message"][:40], len(e["message"])) for e in evs]
        giant_ev = evs[1]
        assert giant_ev["fields"].get("truncated") is True
        assert "[logsvc: cut; the whole event is " in giant_ev["message"][-80:]
        assert len(giant_ev["message"]) < 1_100_000
        assert search(server, "tok2x9") == ["after tok2x9"]
        try:
            wait_for(lambda: len(tail.messages()) == 4, timeout=30, what="the tail sends all four")
        except AssertionError as e:
            raise AssertionError(f"{e}: the tail {tail.state()}") from None
        got = tail.events
        assert [e["message"] for e in got[:1] + got[2:]] == [
            "before the giant",
            "after tok1x9",
            "after tok2x9",
        ]
        assert (
            got[1]["fields"].get("truncated") is True and got[1]["eventId"] == giant_ev["eventId"]
        )
        tail.close()
        # the ingester is idle, not spinning on the line: its process uses little CPU over 2 s
        assert _cpu_seconds(server, 2.0) < 1.0
        watch.__exit__()
        watch.assert_healthy()
        server.stop()
        server = start_server(data_dir)
        wait_for(lambda: shape() == want, timeout=30, what="the same after a restart")
    finally:
        server.stop()


# ---- a line without its newline: taken once, by one reader's clock, followed by every reader ----


def test_a_line_taken_without_its_newline_stays_that_event_for_every_reader(
    data_dir: Path,
) -> None:
    """The writer goes quiet mid-line: after the grace the line is an event as it is. The rest of
    the line, written later, is the next event, for REST, the live tail, a tail resumed from before
    it, search, and after `logsvc reindex`: the served event keeps its id and its text (it became
    "partiala" with another id once the next byte arrived, and "partialabc" after a reindex)."""
    server = start_server(data_dir)
    try:
        tail = open_tail(server)
        path = append(server, "quiet", ["first"])
        wait_for(lambda: tail.messages() == ["first"] and tail.last_id, what="first, a cursor")
        after_first = tail.last_id
        with open(path, "ab") as f:
            f.write(b"partial")  # no newline: the writer went quiet mid-line
        wait_for(lambda: messages(server, "quiet") == ["first", "partial"], what="taken as it is")
        served = events(server, "quiet")
        wait_for(lambda: tail.messages() == ["first", "partial"], what="the tail takes it too")
        with open(path, "ab") as f:
            f.write(b"abc\nlast\n")  # the rest of the line, then a line
        want = ["first", "partial", "abc", "last"]
        wait_for(lambda: messages(server, "quiet") == want, what="the rest is the next event")
        evs = events(server, "quiet")
        assert [e["eventId"] for e in evs[:2]] == [e["eventId"] for e in served]
        assert len({e["eventId"] for e in evs}) == 4
        wait_for(lambda: tail.messages() == want, what="the live tail: the same four")
        assert [e["eventId"] for e in tail.events] == [e["eventId"] for e in evs]
        back = SSE(
            f"{server.url}/api/v1/tail?group={G}&heartbeat=1",
            headers={"Last-Event-ID": after_first},
        )
        wait_for(lambda: len(back.messages()) >= 3, what="a tail resumed before the line")
        time.sleep(0.3)
        assert back.messages() == want[1:]
        assert [e["eventId"] for e in back.events] == [e["eventId"] for e in evs[1:]]
        assert search(server, "partial") == ["partial"]
        tail.close()
        back.close()
        server.stop()
        _reindex(data_dir)
        server = start_server(data_dir)
        wait_for(lambda: len(events(server, "quiet")) >= 3, what="the reindexed stream")
        assert [(e["eventId"], e["message"]) for e in events(server, "quiet")] == [
            (e["eventId"], e["message"]) for e in evs
        ]
    finally:
        server.stop()


def test_the_newline_ending_a_taken_line_is_not_a_rewrite(server: Server) -> None:
    """A line is taken without its newline; its newline comes alone, and the tail looks then
    (skipping it moves the tail's position one byte past the bytes it last took); more lines
    follow. The tail goes on, it does not take the file for rewritten and send it again from its
    first line (the cause of the flaky 20 MB test: its tail sent 'before the giant' twice)."""
    tail = open_tail(server)
    path = append(server, "skip", ["first"])
    with open(path, "ab") as f:
        f.write(b"partial")
    wait_for(lambda: tail.messages() == ["first", "partial"], what="the line taken as it is")
    with open(path, "ab") as f:
        f.write(b"\n")  # its newline, alone
    time.sleep(1.0)  # the tail looks (woken by the write) and skips it
    append(server, "skip", ["after"])
    wait_for(lambda: "after" in tail.messages(), what="the line after it")
    time.sleep(0.5)
    assert tail.messages() == ["first", "partial", "after"]
    assert messages(server, "skip") == ["first", "partial", "after"]
    tail.close()


def test_a_line_without_its_newline_is_taken_once_and_every_reader_follows(data_dir: Path) -> None:
    """stamps.read_events: a reader of bytes already taken (decide=False: a search, a re-read) never
    takes an unterminated line on its own clock, however quiet the writer; a follower's take
    (decide=True) waits for the grace, is recorded, refused if the file grew meanwhile, and bounds
    every later read of those bytes by any reader, deciding or not, the line's rest included."""
    from logsvc import stamps
    from logsvc.store import Store

    store = Store(data_dir)
    path = store.ensure_stream(G, "cut")
    path.write_bytes(b"one\ntwo")
    fd = os.open(path, os.O_RDONLY)
    try:

        def read(offset: int, decide: bool, quiet: float = 60.0) -> list[tuple[int, int, str]]:
            size = os.fstat(fd).st_size
            start, _, evs, _, _ = stamps.read_events(
                store, G, "cut", fd, offset, size, quiet, 1 << 20, decide=decide
            )
            return [(start + r.start, start + r.end, r.text) for r in evs]

        assert read(0, decide=False) == [(0, 4, "one")]
        assert read(4, decide=False) == []  # a tail waits for the ingester, however quiet
        assert read(4, decide=True, quiet=0.5) == []  # the ingester waits for the grace
        with open(path, "ab") as f:
            f.write(b"x")  # grows between the ingester's read and its record: not taken
        assert stamps.book(store).cut(G, "cut", fd, 4, 7) is False
        assert read(4, decide=True) == [(4, 8, "twox")]  # ends where the bytes end, not past
        assert read(4, decide=False) == [(4, 8, "twox")]  # recorded: every reader takes it
        with open(path, "ab") as f:
            f.write(b"yz\nthree\n")
        assert read(0, decide=False) == [(0, 4, "one")]  # bounded at the cut line's start
        assert read(4, decide=False) == [(4, 8, "twox")]  # the cut line, not "twoxyz"
        assert read(4, decide=True) == [(4, 8, "twox")]  # another follower: the same
        assert read(8, decide=False) == [(8, 11, "yz"), (11, 17, "three")]
        assert read(8, decide=True) == [(8, 11, "yz"), (11, 17, "three")]
    finally:
        os.close(fd)


def _cpu_seconds(server: Server, over: float) -> float:
    """CPU seconds (user + system) the server's process group uses over `over` seconds."""

    def total() -> float:
        ticks = 0
        for pid in _group_pids(server):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    before = total()
    time.sleep(over)
    return total() - before


def _group_pids(server: Server) -> list[int]:
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == server.proc.pid:  # process group id
            pids.append(int(d))
    return pids


def _rss_mb(server: Server) -> float:
    total = 0
    for pid in _group_pids(server):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


# ---- #17.18 and #10.11: bytes, not counts ------------------------------------------------------


def test_sse_frames_are_bounded_in_bytes(server: Server) -> None:
    """Ten streams with eight 256 KB messages each arrive at once: no frame may hold them all."""
    tail = open_tail(server)
    big = "m" * (256 * 1024)
    for s in range(10):
        append(server, f"big{s}", [f"{s}-{i} {big}" for i in range(8)])
    wait_for(lambda: len(tail.messages()) == 80, timeout=30, what="all 80 big events")
    assert sorted(m.split(" ", 1)[0] for m in tail.messages()) == sorted(
        f"{s}-{i}" for s in range(10) for i in range(8)
    )
    assert max(tail.frame_sizes) < 1_400_000, tail.frame_sizes
    tail.close()


def test_tailing_200_streams_of_256_kb_messages_keeps_rss_flat(data_dir: Path) -> None:
    """One tail of a group of 200 streams; rounds of one 256 KB message per stream. The server's
    memory must level off (feeds and caches are bounded in bytes), not grow with each round."""
    # The tail's feeds and caches are what this pins: without the columns builder, whose process
    # (pyarrow's and DuckDB's allocators, a 128 MB merge limit) would add its own swings to the group.
    server = start_server(data_dir, env={"LOGSVC_WORKERS": "1", "LOGSVC_COLUMNS": "off"})
    try:
        streams = [f"s{i:03d}" for i in range(200)]
        for s in streams:
            append(server, s, ["start"])
        tail = open_tail(server)
        body = "r" * (256 * 1024)
        samples = []
        for rnd in range(4):
            for s in streams:
                append(server, s, [f"{rnd} {s} {body}"])
            wait_for(
                lambda n=(rnd + 1) * 200: len(tail.events) >= n, timeout=40, what=f"round {rnd}"
            )
            samples.append(_rss_mb(server))
        tail.close()
        # rounds 2–4 add 150 MB of messages; a bounded server stays within a few MB of round 1
        assert samples[-1] - samples[0] < 40, samples
    finally:
        server.stop()


# ---- #10.12: since= says when it cuts ----------------------------------------------------------


def test_tail_since_says_when_the_replay_was_cut(server: Server) -> None:
    from logsvc.lines import format_timestamp

    now = int(time.time() * 1000)
    lines = [
        f"{format_timestamp(now - 60_000 + i)} replay {i:05d} " + "p" * 1000 for i in range(1500)
    ]
    append(server, "many", lines)
    wait_for(lambda: len(events(server, "many")) == 1500, timeout=20, what="1500 events")
    r = requests.get(
        f"{server.url}/api/v1/tail",
        params={"group": G, "since": "10m", "heartbeat": 1},
        stream=True,
        timeout=30,
    )
    assert r.status_code == 200
    got = int(r.headers["X-Logsvc-Replay-Truncated"])
    assert 0 < got < 1500
    kind = None
    for raw in r.iter_lines(decode_unicode=True):
        if raw.startswith("event:"):
            kind = raw[6:].strip()
        elif raw.startswith("data:") and kind == "notice":
            note = json.loads(raw[5:])
            assert note["replayTruncated"] is True and note["replayed"] == got
            break
        elif raw.startswith("data:"):
            raise AssertionError("events came before the notice that the replay was cut")
    r.close()
    # a replay that fits is not flagged
    r = requests.get(
        f"{server.url}/api/v1/tail",
        params={"group": G, "since": "10m", "q": "00007"},
        stream=True,
        timeout=30,
    )
    assert "X-Logsvc-Replay-Truncated" not in r.headers
    r.close()


_HEADER = b"# a constant header line, longer than the 64 head bytes a file is known by\n"
_OLD, _NEW = _HEADER + b"order q7xk2 accepted alpha\n", _HEADER + b"order z9wm4 rejected bravo\n"


@contextlib.contextmanager
def _followed(tmp_path: Path) -> Iterator[tuple[Path, int, FileFollow]]:
    """A stream file holding _OLD, open, and a FileFollow that has looked at it once."""
    path = tmp_path / "s.log"
    path.write_bytes(_OLD)
    fd = os.open(path, os.O_RDONLY)
    try:
        ff = FileFollow()
        assert not ff.look(fd, os.fstat(fd), 0.0)
        yield path, fd, ff
    finally:
        os.close(fd)


def _rewrite(path: Path) -> None:
    with open(path, "r+b") as f:  # in place: same size, same head
        f.write(_NEW)


def test_a_rewrite_is_noticed_when_a_look_saw_its_mtime_before_its_bytes(tmp_path: Path) -> None:
    """The kernel stamps a write's mtime before it copies the bytes, and two writes within one clock
    tick share a time. A look that saw the new mtime with the old bytes must not take that mtime as
    checked: the next look, with the rewrite's bytes in place and the same mtime, still resets.
    (Once, in CI, a same-size rewrite stayed unnoticed by search for 15 s.)"""
    with _followed(tmp_path) as (path, fd, ff):
        ff.took(fd, len(_OLD))
        stamp = time.time_ns()
        os.utime(path, ns=(stamp, stamp))  # the write's mtime is in place, its bytes are not yet
        assert not ff.look(fd, os.fstat(fd), 1.0)
        _rewrite(path)  # the bytes land, with the same time
        os.utime(path, ns=(stamp, stamp))
        assert ff.look(fd, os.fstat(fd), 2.0)  # noticed: read from byte 0 again
        assert ff.end == 0


def test_a_rewrite_between_the_read_and_the_take_is_noticed(tmp_path: Path) -> None:
    """The follower's head and mark describe the bytes its events were made of. Taken from the file
    again after the read, they described a rewrite that landed in between, and no later look could
    tell it from what was taken: the old line stayed indexed and the new one was never read (in the
    full suite, a same-size rewrite unnoticed by search for 15 s, again)."""
    with _followed(tmp_path) as (path, fd, ff):
        start, data, events, consumed = read_new_events(fd, ff.end, len(_OLD), 10.0, 1 << 20)
        assert data == _OLD and len(events) == 2
        _rewrite(path)  # after the read, before the take
        ff.end = start
        ff.took(fd, consumed, data)
        assert ff.look(fd, os.fstat(fd), 1.0)  # noticed: read from byte 0 again
        assert ff.end == 0


def test_a_mark_position_no_mark_can_end_at_resets_instead_of_failing(tmp_path: Path) -> None:
    """A follower whose mark position was restored damaged (before the mark's own length) cannot
    check its mark: the look starts the file over, it does not fail every look from then on."""
    with _followed(tmp_path) as (path, fd, ff):
        ff.took(fd, len(_OLD))
        ff.mark_end = 3
        os.utime(path, ns=(1, 1))  # a new modification time: the look checks the mark
        assert ff.look(fd, os.fstat(fd), 1.0)
        assert ff.end == 0 and ff.mark_end == -1
