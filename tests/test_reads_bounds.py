"""Reads whose cost is bounded and say so when a bound cuts them (issues #10.12, #17.14).

- A deep page of a stream whose events share one timestamp starts at its token, not at the first
  event of that timestamp (export pages through such a stream; it re-read it from the start per page).
- The group listing reads at most a fixed number of streams' unindexed bytes per request and marks
  the groups whose lastEventTime it took from the index alone.
- A histogram with a pattern stops at its deadline and says its counts are incomplete.
- Group pages list the right groups exactly once.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3

from logsvc import ingest, listing
from logsvc.filterpattern import compile_pattern
from logsvc.index import BlockIndex
from logsvc.ingest import Ingester
from logsvc.query import Reader, iter_all
from logsvc.store import Store
from tests.conftest import Server, wait_for

N_SAME = 20_000


def _rchar() -> int:
    """Bytes this process has read through read()/pread() so far (Linux)."""
    with open("/proc/self/io", encoding="ascii") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("rchar:"))


def test_deep_pages_of_one_timestamp_do_not_reread_earlier_pages(data_dir: Path) -> None:
    store = Store(data_dir)
    store.create_group("g")
    store.create_stream("g", "s")
    t = int(time.time() * 1000)
    store.append_events(
        "g", "s", [(t, f"same millisecond {i:06d} " + "p" * 60) for i in range(N_SAME)]
    )
    size = store.get_stream("g", "s").size
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(store, index).rebuild(None)
        reader = Reader(store, index)
        sources = reader.sources(["g"])
        for forward in (True, False):
            seen: list[int] = []
            token = None
            read_per_page = []
            while True:
                before = _rchar()
                page = reader.read(sources, forward=forward, limit=1000, token=token)
                read_per_page.append(_rchar() - before)
                seen.extend(e.offset for e in page.events)
                token = page.next_token
                if not token:
                    break
            assert len(seen) == N_SAME and len(set(seen)) == N_SAME
            # a page of 1,000 events is ~5% of the file; the last page must not read the other 95% again
            assert max(read_per_page[1:]) < size / 5, (forward, size, read_per_page)
    finally:
        index.close()


def test_group_listing_reads_a_bounded_number_of_streams_and_says_so(server: Server) -> None:
    store = server.store
    store.create_group("many")
    gdir = store.group_dir("many")
    n = 1000 + 20  # api/rest.py GROUPS_STREAM_BUDGET + 20
    for i in range(n):
        (gdir / f"s{i:05d}.log").write_text("2026-11-27T21:46:35.123Z hello\n")
    store.create_group("a-few")
    store.create_stream("a-few", "one")
    stamped = int(datetime(2026, 11, 27, 21, 46, 35, 123_000, tzinfo=UTC).timestamp() * 1000)
    wait_for(
        lambda: server.json("/api/v1/groups")["groups"][1]["lastEventTime"] == stamped,
        timeout=60,
        what="the streams indexed",
    )
    got = server.json("/api/v1/groups")
    by_name = {g["name"]: g for g in got["groups"]}
    assert by_name["many"]["streamCount"] == n
    assert (
        by_name["many"]["lastEventTimeExact"] is False
    )  # the last 20 streams: from the index alone
    assert got["partial"] is True and "lastEventTime" in got["partialReason"]
    assert by_name["a-few"]["lastEventTimeExact"] is True  # listed first, within the budget


def test_histogram_with_a_pattern_stops_at_its_deadline(data_dir: Path) -> None:
    store = Store(data_dir)
    store.create_group("g")
    store.create_stream("g", "s")
    t = int(time.time() * 1000)
    store.append_events("g", "s", [(t + i, f"match {i}") for i in range(30_000)])
    index = BlockIndex(data_dir / "index")
    try:
        Ingester(store, index).rebuild(None)
        reader = Reader(store, index)
        src = reader.sources(["g"])
        pattern = compile_pattern("match")
        _, counts, complete = reader.histogram(src, t, t + 30_000, 3, pattern)
        assert complete is True and counts == [10_000, 10_000, 10_000]
        _, counts, complete = reader.histogram(
            src, t, t + 30_000, 3, pattern, deadline=time.monotonic() - 1
        )
        assert complete is False and sum(counts) < 30_000
    finally:
        index.close()


def test_group_pages_list_every_group_once(server: Server) -> None:
    store = server.store
    made = sorted([f"/p/{i:04d}" for i in range(120)] + ["other", "/p/" + "x" * 300])
    for name in made:
        store.create_group(name)
    got: list[str] = []
    token = None
    while True:
        params = {"prefix": "/p/", "limit": 25, **({"nextToken": token} if token else {})}
        body = server.json("/api/v1/groups", **params)
        got.extend(g["name"] for g in body["groups"])
        token = body["nextToken"]
        if not token:
            break
    assert got == [n for n in made if n.startswith("/p/")]
    logs = boto3.client("logs", endpoint_url=server.url, region_name="us-east-1")
    names = [
        g["logGroupName"]
        for page in logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix="/p/", PaginationConfig={"PageSize": 7}
        )
        for g in page["logGroups"]
    ]
    assert names == got
    assert json.dumps(names).count("other") == 0


class _CountingStore(Store):
    """The real store, counting how often a group's metadata is read."""

    gets = 0

    def get_group(self, group: str):
        self.gets += 1
        return super().get_group(group)


def test_paging_all_groups_reads_each_group_once_not_once_per_page(data_dir: Path) -> None:
    """#17.14: paging 10,000 groups re-read every group for every page (34 s)."""
    store = _CountingStore(data_dir)
    names = [f"/aws/lambda/fn-{i:04d}" for i in range(600)]
    for name in names:
        store.create_group(name)
    store.gets = 0
    seen: list[str] = []
    after = None
    more = True
    while more:
        page, more = listing.group_page(store, after, 50)
        seen += [g.name for g in page]
        after = page[-1].name if page else None
    assert seen == sorted(names)
    assert store.gets == len(
        names
    )  # each group's metadata once over all 12 pages, not once per page


def test_one_ingest_step_reads_at_most_its_budget_over_all_files(
    data_dir: Path, monkeypatch
) -> None:
    """#10.11: the rescan's read budget was never spent, so one step read every file whole."""
    budget = 256 * 1024
    monkeypatch.setattr(ingest, "MAX_READ", budget)
    store = Store(data_dir)
    sizes = {}
    for s in range(5):
        path = store.ensure_stream("g", f"s{s}")
        path.write_text("".join(f"line {s}-{i} " + "x" * 180 + "\n" for i in range(1000)))
        sizes[f"s{s}"] = path.stat().st_size
    index = BlockIndex(data_dir / "index")
    try:
        ing = Ingester(store, index)
        ing.mark_dirty(None)
        more = ing.step()
        read = sum(st.end for st in ing._state.values())
        assert more
        assert 0 < read <= budget + 64 * 1024, read  # a file past the budget reads at least 64 KiB
        for _ in range(100):  # the next steps read on; nothing is lost or read twice
            if not ing.step():
                break
        ing.commit()
        reader = Reader(store, index)
        got = [e.message for e in iter_all(reader, reader.sources(["g"]))]
        assert sorted(got) == sorted(
            f"line {s}-{i} " + "x" * 180 for s in range(5) for i in range(1000)
        )
    finally:
        index.close()
