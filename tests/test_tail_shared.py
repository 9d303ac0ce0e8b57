"""Many tails in one worker share each round of reading (tail.py's steps) and the frames made from
it, yet every client still gets exactly the lines after its own place: its filter, its resumed
cursor, a rotation. One worker, so every client below is in the process that shares."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import Server, start_server, wait_for
from tests.test_follow import SSE

G = "/shared/app"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("tail-shared") / "data"
    data.mkdir()
    s = start_server(data, env={"LOGSVC_WORKERS": "1"})
    yield s
    s.stop()


def write(path: Path, lines: list[str]) -> None:
    with open(path, "ab") as f:
        f.write("".join(line + "\n" for line in lines).encode())


def tail(server: Server, cursor: str | None = None, **params: str) -> SSE:
    q = "".join(f"&{k}={v}" for k, v in params.items())
    c = SSE(
        f"{server.url}/api/v1/tail?group={G}&heartbeat=1{q}",
        headers={"Last-Event-ID": cursor} if cursor else None,
    )
    wait_for(lambda: c.comments, what="the tail's opening comment")
    return c


def test_tails_sharing_rounds_each_get_exactly_the_lines_after_their_own_place(
    server: Server,
) -> None:
    path = server.store.ensure_stream(G, "web")
    first = tail(server)
    before = [f"before {i}" for i in range(20)]
    write(path, before)
    wait_for(lambda: first.messages() == before and first.last_id, what="the first lines")
    cursor = first.last_id
    gap = [f"gap {i} ERROR" if i % 3 == 0 else f"gap {i}" for i in range(10)]
    write(path, gap)
    wait_for(lambda: first.messages() == before + gap, what="the gap lines")

    plain = [tail(server) for _ in range(4)]
    errors = [tail(server, q="ERROR") for _ in range(2)]
    resumed = [tail(server, cursor) for _ in range(2)]
    live = [f"live {i} ERROR" if i % 7 == 0 else f"live {i}" for i in range(400)]
    for k in range(0, len(live), 20):  # many small writes: many rounds to share
        write(path, live[k : k + 20])

    # the stream is replaced under every tail: each must start the new file from its first line
    incoming = path.with_name("incoming.tmp")
    rotated = [f"rotated {i} ERROR" if i % 2 else f"rotated {i}" for i in range(30)]
    wait_for(lambda: all(len(c.messages()) >= len(live) for c in plain), what="the live lines")
    incoming.write_bytes("".join(line + "\n" for line in rotated).encode())
    os.rename(incoming, path)

    def err(lines: list[str]) -> list[str]:
        return [m for m in lines if "ERROR" in m]

    want = {
        "first": (before + gap + live + rotated, [first]),
        "plain": (live + rotated, plain),
        "errors": (err(live + rotated), errors),
        "resumed": (gap + live + rotated, resumed),
    }
    for name, (lines, clients) in want.items():
        n = len(lines)
        for c in clients:
            wait_for(
                lambda c=c, n=n: len(c.messages()) >= n,
                timeout=15,
                what=f"every line at a {name} tail",
            )
    everyone = [first, *plain, *errors, *resumed]
    pings = [c.comments for c in everyone]
    for c, n in zip(everyone, pings, strict=True):  # a heartbeat: the tail went quiet after them
        wait_for(lambda c=c, n=n: c.comments > n, what="a heartbeat after the last lines")
    for name, (lines, clients) in want.items():
        for c in clients:
            assert c.messages() == lines, name
    closing = [threading.Thread(target=c.close) for c in everyone]  # each takes ~1 s
    for t in closing:
        t.start()
    for t in closing:
        t.join()


def _switches(pid: int) -> dict[str, int]:
    """Voluntary context switches of each thread of process `pid` (a thread sleeping and woken again
    is one), from /proc."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except OSError:  # the thread ended
            continue
        for line in text.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                out[task.name] = int(line.split()[1])
    return out


def test_tails_ride_the_round_that_reads_for_them_instead_of_waking_for_each(
    server: Server,
) -> None:
    """Sixteen tails of one stream: one thread reads each round and writes it to all their sockets;
    the other threads sleep through the rounds (they look around about once a second) instead of
    each waking for every round, and every client still gets every line once, in order."""
    path = server.store.ensure_stream(G, "ridden")
    write(path, ["opening line"])
    pid = requests.get(server.url + "/healthz", timeout=5).json()["pid"]
    clients = [tail(server, stream="ridden") for _ in range(16)]
    wait_for(lambda: all(c.comments for c in clients), what="every tail open")
    time.sleep(1.5)  # every tail has read its first round and stands where the others do
    before = _switches(pid)
    lines = []
    for k in range(60):  # a line every 20 ms: a round each
        batch = [f"ride {k} {j}" for j in range(3)]
        write(path, batch)
        lines += batch
        time.sleep(0.02)
    wait_for(
        lambda: all(len(c.messages()) >= len(lines) for c in clients),
        timeout=15,
        what="every line at every tail",
    )
    after = _switches(pid)
    for c in clients:
        assert c.messages() == lines
    rounds = min(len(c.frame_sizes) for c in clients)
    assert rounds >= 20, rounds  # the lines came in many rounds, not one
    woken = sorted(after[t] - before.get(t, 0) for t in after)
    busy = [n for n in woken if n >= rounds / 2]
    # the reading thread, the file watcher, the ingester, a few hand-overs: not sixteen tails
    assert len(busy) <= 8, (rounds, woken[-24:])
    for c in clients:
        c.close()


def test_a_tail_waking_while_a_step_is_handed_to_it_stands_after_that_step() -> None:
    """The race behind a duplicate seen once under load (tests/test_load.py: one client got 20
    lines twice). A riding tail is handed a step another tail published (`_Rider.hand`) while its
    own thread wakes (`alight`, its heartbeat nap over). It must stand after the step being
    written to its client: standing at the one before, it sent that batch again and read the
    written one again. Forced here: the write blocks until the tail's own thread has woken."""
    from logsvc import tail

    writing, release = threading.Event(), threading.Event()
    written: list = []

    class Sink:
        def deliver(self, events, cursor) -> bool:
            if written:  # the second step: hold the write until the tail's thread has woken
                writing.set()
                release.wait(10)
            written.append(events)
            return True

    def published(events: list[str]) -> tail._Step:
        step = tail._Step()
        step.events = tail.Batch(events)
        return step

    rider = tail._Rider(Sink())
    first, second = published(["a"]), published(["b"])
    assert rider.board(first)
    (carried,) = first.close(True)  # written to the client; the rider is carried on
    handing = threading.Thread(target=rider.hand, args=(second, carried[1]))
    handing.start()
    assert writing.wait(10)
    stood: list = []
    waking = threading.Thread(target=lambda: stood.append(rider.alight()))
    waking.start()
    time.sleep(0.2)  # the tail's thread is awake now; the write is still under way
    release.set()
    handing.join(10)
    waking.join(10)
    assert written == [["a"], ["b"]]
    assert stood == [second]  # was [first]: "b" was sent, yet the tail stood before it


def test_a_riding_tail_sleeps_on_while_carriers_keep_writing_to_its_client() -> None:
    """A rider's heartbeat is for a quiet client: while other tails' rounds keep writing batches to
    its client it sleeps on (`_Rider.sleep`), and wakes for its heartbeat only once nothing was
    written to it for that long. Waking every rider for heartbeats in the middle of a burst stalled
    every client of the worker (200 tails at 2,000 lines/s: p99 100-230 ms instead of ~17)."""
    from logsvc import tail

    class Sink:
        def __init__(self) -> None:
            self.batches = 0

        def deliver(self, events, cursor) -> bool:
            self.batches += 1
            return True

    def published(k: int) -> tail._Step:
        step = tail._Step()
        step.events = tail.Batch([f"line {k}"])
        return step

    sink = Sink()
    rider = tail._Rider(sink)
    first = published(0)
    assert rider.board(first)
    stop = threading.Event()

    def carry() -> None:  # what a reading tail does with its riders, round after round
        ((r, ride),) = first.close(True)
        k = 1
        while not stop.is_set():
            time.sleep(0.02)
            step = published(k)
            r.move_to(step, ride)
            ((r, ride),) = step.close(True)
            k += 1

    heartbeat = 1.0
    woke: list[float] = []
    began = time.monotonic()
    sleeper = threading.Thread(
        target=lambda: (rider.sleep(heartbeat, began, None), woke.append(time.monotonic()))
    )
    carrier = threading.Thread(target=carry)
    sleeper.start()
    carrier.start()
    time.sleep(3 * heartbeat)  # three heartbeats' time of batches written to its client
    stop.set()
    carrier.join(5)
    quiet = time.monotonic()
    sleeper.join(5)
    assert sink.batches > 20
    assert woke and woke[0] >= quiet, (
        "the rider woke for a heartbeat while its client was being written to"
    )
    assert woke[0] - quiet <= heartbeat + 0.5  # ... and for its heartbeat once the writes stopped
    assert rider.alight() is not None

    # a rider nobody writes to wakes for its heartbeat, and at its tail's end if that comes first
    for hb, end, most in ((0.3, None, 0.3), (10.0, 0.3, 0.3)):
        quiet_rider = tail._Rider(Sink())
        assert quiet_rider.board(published(0))
        t0 = time.monotonic()
        quiet_rider.sleep(hb, t0, None if end is None else t0 + end)
        assert 0.8 * most - 0.01 <= time.monotonic() - t0 <= most + 0.5
