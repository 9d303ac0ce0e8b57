"""The volume histogram stacked by level (issue #15): `levels=true` counts each bucket's events per
level class, from a bounded sample of the newest events, and says which buckets it covered.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from logsvc.index import BlockIndex
from logsvc.ingest import Ingester
from logsvc.query import Reader
from logsvc.store import Store
from tests.conftest import Server, wait_for

G = "/aws/lambda/levels"
ID = "1e5c8abd-3d36-461b-8c0f-a56b952715b3"
T0 = 1_714_564_800_000  # 2024-05-01T12:00:00Z, the range start; two buckets of 60 s


def write(server: Server, lines: list[str]) -> None:
    path = server.store.ensure_stream(G, "s")
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def levels(**kw: int) -> dict[str, int]:
    return {k: kw.get(k, 0) for k in ("error", "warn", "info", "debug", "other")}


def test_levels_per_bucket_from_every_line_shape(server: Server) -> None:
    t1 = T0 + 60_000
    write(
        server,
        [
            f"{T0 + 1} " + json.dumps({"level": "ERROR", "message": "boom"}),
            f"{T0 + 2} " + json.dumps({"log_level": "warning", "message": "hmm"}),
            f"{T0 + 3} [ERROR]\t2024-05-01T12:00:00.003Z\t{ID}\tpython says no",
            f"{T0 + 4} START RequestId: {ID} Version: $LATEST",
            f"{T0 + 5} just text",
            f"{t1 + 1} " + json.dumps({"level": "info", "message": "ok"}),
            f"{t1 + 2} " + json.dumps({"severity": "DEBUG", "message": "dbg"}),
            f"{t1 + 3} " + json.dumps({"level": "INFO", "message": "ok again"}),
        ],
    )
    wait_for(lambda: len(server.json("/api/v1/events", group=G)["events"]) == 8, what="indexed")
    body = server.json(
        "/api/v1/histogram", group=G, start=T0, end=T0 + 120_000, buckets=2, levels="true"
    )
    assert [b["count"] for b in body["buckets"]] == [5, 3]
    assert [b["levels"] for b in body["buckets"]] == [
        levels(error=2, warn=1, other=2),
        levels(info=2, debug=1),
    ]
    assert body["levelsComplete"] is True and body["levelsRead"] == 8
    # with a filter pattern, only the matches are counted
    body = server.json(
        "/api/v1/histogram", group=G, start=T0, end=T0 + 120_000, buckets=2, levels="true", q="ok"
    )
    assert [b["count"] for b in body["buckets"]] == [0, 2]
    assert [b["levels"] for b in body["buckets"]] == [levels(), levels(info=2)]
    # without levels=true the answer is as before; a bad value is a 400 naming the field
    assert (
        "levels"
        not in server.json("/api/v1/histogram", group=G, start=T0, end=T0 + 120_000, buckets=2)[
            "buckets"
        ][0]
    )
    r = server.get("/api/v1/histogram", group=G, levels="maybe")
    assert r.status_code == 400 and r.json()["error"]["field"] == "levels"


def test_level_sample_is_bounded_and_covers_the_newest_buckets_whole(data_dir: Path) -> None:
    store = Store(data_dir)
    store.create_group("g")
    store.create_stream("g", "s")
    t = int(time.time() * 1000) - 100_000
    # 10 buckets of 10 s, 100 events each, alternating ERROR / INFO
    store.append_events(
        "g",
        "s",
        [
            (t + i * 100, json.dumps({"level": "ERROR" if i % 2 else "INFO", "n": i}))
            for i in range(1000)
        ],
    )
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(store, index).rebuild(None)
        reader = Reader(store, index)
        src = reader.sources(["g"])
        per, read = reader.level_histogram(src, t, t + 100_000, 10, max_events=250)
        # it stops after the chunk that took it past 250 events, newest first: the buckets it read
        # whole are a suffix holding the newest two at least, each exact; the oldest has no counts
        assert 250 <= read < 1000
        done = [p is not None for p in per]
        assert done == sorted(done) and done[8] and done[9] and not done[0], done
        assert all(p == levels(error=50, info=50) for p in per if p is not None)
        per, read = reader.level_histogram(src, t, t + 100_000, 10)
        assert all(p == levels(error=50, info=50) for p in per)
        # the counts of whole chunks are kept: the same range again parses nothing, and answers the same
        again, parsed = reader.level_histogram(src, t, t + 100_000, 10)
        assert again == per and parsed == 0
        # a new event (not indexed yet) is parsed, the rest comes from what was kept
        store.append_events("g", "s", [(t + 99_990, json.dumps({"level": "WARN"}))])
        fresh, parsed = reader.level_histogram(src, t, t + 100_000, 10)
        assert (
            fresh[9] == levels(error=50, info=50, warn=1) and fresh[:9] == per[:9] and parsed == 1
        )
    finally:
        index.close()
