"""The column builder converges: with a real server on real files, the rows the columnar copy vouches
for (listed files, the stream's covered identity, below its covered offset, visible) are exactly
`schema.event_columns` of the events the Reader returns, after appends, a rotation, a rewrite in
place, a deleted stream, retention, kill -9 (of the builder and of the whole server, while it writes
and compacts) and a reindex."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from logsvc import lines
from logsvc.columns import schema
from logsvc.columns import store as cstore
from logsvc.config import Settings
from logsvc.query import iter_all
from logsvc.service import Service
from logsvc.store import Store
from logsvc.visibility import visible
from tests.conftest import start_server, wait_for
from tests.helpers_faults import server_pids

NOW = int(time.time() * 1000)
G1, G2 = "/aws/lambda/orders", "app/web"
RID = "8f5e3f7c-9b1a-4c2d-8e3f-0123456789ab"


def _key(r: dict) -> tuple:
    return (r["grp"], r["stream"], r["off"])


def expected_rows(data_dir: Path) -> list[dict]:
    """The reference: event_columns of every event the Reader returns (its own index snapshot)."""
    with Service(Settings(data_dir=data_dir, ingest=False)) as svc:
        srcs = svc.reader.all_sources()
        events = list(iter_all(svc.reader, srcs, limit=10_000, forward=True)) if srcs else []
    return sorted((schema.event_columns(e) for e in events), key=_key)


def column_rows(data_dir: Path) -> tuple[list[dict], cstore.Snapshot]:
    """What the copy vouches for, read the way the query side must: covered identity, below the
    covered offset, visible; every such row listed once."""
    snap = cstore.snapshot(data_dir)
    with Service(Settings(data_dir=data_dir, ingest=False)) as svc:
        srcs = {(s.group, s.stream): s for s in svc.reader.all_sources()}
    groups = {g for g, _ in srcs}
    rows = []
    for f in snap.files(groups, -(2**62), 2**62):
        rows += pq.read_table(f).to_pylist()
    seen = Counter((r["grp"], r["stream"], r["ident"], r["off"]) for r in rows)
    assert max(seen.values(), default=1) == 1, [k for k, n in seen.items() if n > 1][:3]
    out = []
    for r in rows:
        cov = snap.covered(r["grp"], r["stream"])
        src = srcs.get((r["grp"], r["stream"]))
        if (
            cov
            and src
            and r["ident"] == cov[0]
            and r["off"] < cov[1]
            and visible(src, r["ts"], r["off"])
        ):
            out.append(r)
    return sorted(out, key=_key), snap


def converged(data_dir: Path) -> bool | str:
    """True when the copy vouches for exactly the Reader's events and covers every one of them."""
    want = expected_rows(data_dir)
    got, _ = column_rows(data_dir)
    if got == want:
        return True
    w = {_key(r): r for r in want}
    g = {_key(r): r for r in got}
    diff = [k for k in w.keys() | g.keys() if w.get(k) != g.get(k)]
    return f"{len(want)} events, {len(got)} rows, {len(diff)} differ, e.g. {sorted(diff)[:2]}"


def wait_converged(data_dir: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = converged(data_dir)
        if last is True:
            return
        time.sleep(0.2)
    raise AssertionError(f"columns did not converge within {timeout}s: {last}")


def lambda_lines(n: int, start_ms: int, tag: str) -> str:
    out = []
    for i in range(n):
        ts = start_ms + i
        kind = i % 5
        if kind == 0:
            msg = f"START RequestId: {RID} Version: $LATEST"
        elif kind == 1:
            msg = f"[INFO]\t2026-11-27T10:00:00.123Z\t{RID}\t{tag} processed {i}"
        elif kind == 2:
            msg = f'{{"level": "info", "tag": "{tag}", "i": {i}, "f": 1.50}}'
        elif kind == 3:
            msg = (
                f"REPORT RequestId: {RID}\tDuration: {i}.25 ms\tBilled Duration: {i + 1} ms\tMemory Size: 128 MB\t"
                f"Max Memory Used: 67 MB\t"
            )
        else:
            msg = f"{tag} plain line {i} with\nsecond line"
        out.append(lines.format_line(ts, msg).decode())
    return "".join(out)


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def builder_pid(server) -> int | None:
    """The server's column builder (a child of a worker's thread, so not in server_pids' walk)."""
    tree = set(server_pids(server.proc.pid))
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat_ = (d / "stat").read_text()
            ppid = int(stat_.rsplit(")", 1)[1].split()[1])
            state = stat_.rsplit(")", 1)[1].split()[0]
            if (
                ppid in tree
                and state != "Z"
                and b"logsvc.columns.builder" in (d / "cmdline").read_bytes()
            ):
                return int(d.name)
        except (OSError, ValueError, IndexError):
            pass
    return None


@pytest.fixture
def streams(data_dir: Path) -> dict[str, Path]:
    store = Store(data_dir)
    paths = {
        "a": store.ensure_stream(G1, "2026/11/27/[$LATEST]aaaa"),
        "b": store.ensure_stream(G1, "2026/11/27/[$LATEST]bbbb"),
        "c": store.ensure_stream(G2, "web-1"),
    }
    for name, p in paths.items():
        append(p, lambda_lines(300, NOW - 3_600_000, name))
    return paths


def test_columns_follow_appends_rotation_rewrite_and_deletion(
    data_dir: Path, streams: dict[str, Path]
) -> None:
    server = start_server(data_dir)
    try:
        wait_converged(data_dir)
        # appends, many small commits: several files per group and day, merged by compaction
        for k in range(12):
            for name, p in streams.items():
                append(p, lambda_lines(40, NOW - 1_800_000 + k * 100, f"{name}{k}"))
            time.sleep(
                0.1
            )  # pacing the writer (not a synchronisation): commits land in separate rounds
        wait_converged(data_dir)
        snap = cstore.snapshot(data_dir)
        assert snap.covered(G1, "2026/11/27/[$LATEST]aaaa")[1] == streams["a"].stat().st_size
        # rotation: the file moves away, a new one takes its name (new inode)
        os.rename(streams["a"], streams["a"].with_suffix(".rotated"))
        append(streams["a"], lambda_lines(50, NOW - 600_000, "rotated"))
        # rewrite in place (same inode, new content)
        with open(streams["b"], "w", encoding="utf-8") as f:
            f.write(lambda_lines(70, NOW - 500_000, "rewritten"))
        wait_converged(data_dir)
        ident_b = cstore.snapshot(data_dir).covered(G1, "2026/11/27/[$LATEST]bbbb")[0]
        assert int.from_bytes(bytes.fromhex(ident_b)[:8], "little") == streams["b"].stat().st_ino
        # deletion of a stream: nothing of it is vouched for any more
        Store(data_dir).delete_stream(G2, "web-1")
        wait_for(
            lambda: cstore.snapshot(data_dir).covered(G2, "web-1") is None,
            timeout=30,
            what="coverage dropped",
        )
        wait_converged(data_dir)
        # compaction kept the number of files per group and day small
        per_day = Counter((e.group, e.day) for e in cstore.snapshot(data_dir).entries)
        assert max(per_day.values()) <= 8, per_day
        assert _orphan_builders(data_dir)  # (the check below can see a builder)
    finally:
        server.stop()
    wait_for(
        lambda: not _orphan_builders(data_dir),
        timeout=20,
        what="the builder stopped with its server",
    )


def test_a_rewrite_with_the_same_identity_never_lists_a_row_twice(
    data_dir: Path, streams: dict[str, Path]
) -> None:
    server = start_server(data_dir)
    try:
        wait_converged(data_dir)
        # same inode, same first 64 bytes, different bytes after them: the same identity again
        text = streams["c"].read_text()
        first = text.splitlines(keepends=True)[0]
        with open(streams["c"], "r+", encoding="utf-8") as f:
            f.truncate(0)
            f.write(first + lambda_lines(20, NOW - 100_000, "same-head"))
        wait_converged(
            data_dir
        )  # column_rows asserts every (grp, stream, ident, off) is listed once
    finally:
        server.stop()


def test_retention_unlists_whole_old_days(data_dir: Path) -> None:
    store = Store(data_dir)
    store.create_group("old/app")
    store.update_group("old/app", retention_days=1)
    p = store.ensure_stream("old/app", "s")
    append(
        p, lambda_lines(100, NOW - 4 * cstore.DAY_MS, "old") + lambda_lines(100, NOW - 1000, "new")
    )
    server = start_server(data_dir, env={"LOGSVC_RETENTION_INTERVAL": "0.5"})
    try:
        cutoff = NOW - cstore.DAY_MS
        wait_for(
            lambda: (
                cstore.snapshot(data_dir).entries
                and all(e.max_ts >= cutoff for e in cstore.snapshot(data_dir).entries)
            ),
            timeout=60,
            what="the old day's file unlisted",
        )
        wait_converged(data_dir)
        assert all(e.day >= cstore.day_of(cutoff) for e in cstore.snapshot(data_dir).entries)
    finally:
        server.stop()


def test_kill_9_of_the_builder_and_of_the_server_while_writing_and_compacting(
    data_dir: Path, streams: dict[str, Path]
) -> None:
    server = start_server(data_dir)
    try:
        wait_converged(data_dir)
        # the state a kill between file write and manifest swap leaves: a complete file nobody lists
        listed = cstore.snapshot(data_dir).entries[0].name
        shutil.copy(
            data_dir / "columns" / listed,
            data_dir / "columns" / "9999999999.orphan.2026-01-01.parquet",
        )
        kills = 0
        last = None
        for k in range(8):
            for name, p in streams.items():
                append(p, lambda_lines(60, NOW - 1_000_000 + k * 100, f"k{name}{k}"))
            pid = wait_for(
                lambda old=last: (p := builder_pid(server)) != old and p,
                timeout=30,
                what="a new builder process",
            )
            time.sleep(
                0.15 * (k % 4)
            )  # vary where the kill lands: start, writing, compacting (not a synchronisation)
            os.kill(pid, signal.SIGKILL)
            last = pid
            kills += 1
        wait_converged(data_dir)
        assert not (data_dir / "columns" / "9999999999.orphan.2026-01-01.parquet").exists()
        # the whole server, while the builder works
        for name, p in streams.items():
            append(p, lambda_lines(200, NOW - 900_000, f"z{name}"))
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=15)
        wait_for(
            lambda: builder_pid(server) is None and not _orphan_builders(data_dir),
            timeout=15,
            what="the builder died with its server",
        )
        server.stop()
        server = start_server(data_dir)
        wait_converged(data_dir)
        listed = {e.name for e in cstore.snapshot(data_dir).entries} | {
            r[0] for r in cstore.snapshot(data_dir).retired
        }
        on_disk = {n for n in os.listdir(data_dir / "columns") if n.endswith(".parquet")}
        assert on_disk <= listed, on_disk - listed
        assert kills == 8
    finally:
        server.stop()


def _orphan_builders(data_dir: Path) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                env = (d / "environ").read_bytes()
                if (
                    b"logsvc.columns.builder" in (d / "cmdline").read_bytes()
                    and str(data_dir).encode() in env
                ):
                    out.append(int(d.name))
            except OSError:
                pass
    return out


def test_reindex_rebuilds_the_columns(data_dir: Path, streams: dict[str, Path]) -> None:
    server = start_server(data_dir)
    try:
        wait_converged(data_dir)
    finally:
        server.stop()
    env = dict(os.environ, LOGSVC_DATA_DIR=str(data_dir))
    r = subprocess.run(
        [sys.executable, "-m", "logsvc", "reindex"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert not (data_dir / "columns").exists()
    server = start_server(data_dir)
    try:
        wait_converged(data_dir)
    finally:
        server.stop()


def test_columns_off_starts_no_builder(data_dir: Path, streams: dict[str, Path]) -> None:
    server = start_server(data_dir, env={"LOGSVC_COLUMNS": "off"})
    try:
        wait_for(lambda: server.json("/healthz").get("writerPid"), what="a writer")
        deadline = time.monotonic() + 3
        while (
            time.monotonic() < deadline
        ):  # the ingester indexes the files meanwhile; no builder appears
            assert builder_pid(server) is None
            time.sleep(0.2)
        assert not (data_dir / "columns" / "manifest.json").exists()
    finally:
        server.stop()


def test_a_stats_query_reads_whole_files_without_the_join_only_when_every_row_is_visible(
    data_dir: Path, streams: dict[str, Path]
) -> None:
    """colquery.whole_files: a file is read without the visibility join only when every row in it
    is visible. Counted against the Reader's own events for the same sources: all of them, with one
    stream gone (its rows sit in the same files), and with a retention cutoff inside the files."""
    import dataclasses

    from logsvc import colquery
    from logsvc.insights import compile as compile_query
    from logsvc.insights import sql as isql

    server = start_server(data_dir)
    try:
        wait_converged(data_dir)
    finally:
        server.stop()
    sp = isql.plan_sql(compile_query("stats count(*) as n"))
    lo, hi = NOW - 86_400_000, NOW + 60_000
    with Service(Settings(data_dir=data_dir, ingest=False)) as svc:
        reader = svc.reader
        everything = reader.sources([G1, G2])
        snap = cstore.snapshot(data_dir)
        assert all(e.spans for e in snap.entries)

        def columnar_count(sources: list) -> tuple[int, int]:
            idents = [reader.file_ident(s) for s in sources]
            covered = []
            for s, ident in zip(sources, idents, strict=True):
                cov = snap.covered(s.group, s.stream)
                covered.append(cov[1] if cov and cov[0] == ident.hex() else 0)
            whole = colquery.whole_files(snap, sources, idents, covered, lo, hi)
            got = colquery.Columnar(data_dir, reader).run(
                sp, sources, lo, hi, 10_000, lambda: False
            )
            assert got is not None and got.kind == "stats"
            return (got.groups[0][1][0] if got.groups else 0), len(whole)

        def reader_count(sources: list) -> int:
            return sum(
                1 for _ in iter_all(reader, sources, start=lo, end=hi, limit=10_000, forward=True)
            )

        n, whole = columnar_count(everything)
        assert whole == len(snap.entries)  # all visible: no file needs the join
        assert n == reader_count(everything) == 900
        without_b = [s for s in everything if not s.stream.endswith("bbbb")]
        n, whole = columnar_count(without_b)
        assert whole < len(snap.entries)  # b's rows share G1's files: those need the join
        assert n == reader_count(without_b) == 600
        cutoff = NOW - 3_600_000 + 150
        retained = [
            dataclasses.replace(s, since=cutoff) if s.group == G1 else s for s in everything
        ]
        n, _ = columnar_count(retained)
        assert n == reader_count(retained) == 2 * 150 + 300


def test_pandas_stays_out_of_the_server_and_the_builder(
    data_dir: Path, streams: dict[str, Path]
) -> None:
    """pyarrow imports pandas at its first array whenever pandas is installed (the test extras
    install it, for chDB): 0.3-1 s of CPU in every worker's first Insights query and in every
    builder. logsvc's own processes refuse the import (children.keep_pandas_out)."""
    import importlib.util

    import requests

    assert (
        importlib.util.find_spec("pandas") is not None
    )  # installed here, so pyarrow would load it
    server = start_server(data_dir)
    try:
        wait_converged(data_dir)
        r = requests.post(
            f"{server.url}/api/v1/insights",
            json={"query": "stats count(*) by @logStream", "groups": [G1], "since": "2d"},
            timeout=30,
        )
        assert r.status_code in (200, 201, 202), r.text
        pids = [*server_pids(server.proc.pid), builder_pid(server)]
        assert None not in pids
        for pid in pids:
            maps = Path(f"/proc/{pid}/maps").read_text()
            assert "pyarrow" in maps or pid != pids[-1]  # the builder did use pyarrow ...
            assert "/pandas/" not in maps, pid  # ... without pandas
    finally:
        server.stop()
