"""`logsvc export` end to end: the real CLI over a real server's data directory, its partitions read
by DuckDB and by ClickHouse (chDB, in process) directly, compared with what the test wrote (the
oracle), with FilterLogEvents (the same events, ids and bytes) and with logsvc's own Insights
queries through boto3. The corpus: two groups, several streams, three UTC days, Lambda START /
REPORT / runtime lines, JSON lines with levels; events expired by a retention set after the
columnar copy held them, a stream deleted after it was copied, and events written through
PutLogEvents after the copy caught up (the tail the export reads past the copy).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from click.testing import CliRunner

from logsvc import lines
from logsvc.cli import main
from logsvc.columns import store as cstore
from tests.conftest import Server, start_server, wait_for

NOW = int(time.time() * 1000)
HOUR, DAY = 3_600_000, 86_400_000
A, B = "/aws/lambda/orders", "app/web"
RID = "8f5e3f7c-9b1a-4c2d-8e3f-{:012d}"
LEVELS = ("INFO", "WARN", "ERROR")
SINCE, UNTIL = NOW - 3 * DAY, NOW + HOUR
ODD = [
    "unicode: héllo wörld — 日本語 🚀",
    "tabs\tin\tthe\tmiddle\t",
    "quotes \"double\" and 'single' and \\backslash\\",
    'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n'
    "    raise ValueError('bad')\nValueError: bad",
    "carriage\r\nreturn and a trailing newline\n",
    '{"level": "ERROR", "odd": "json line with \\u00e9 and \\t", "n": 1.50}',
    '{"lone": "\\ud800x"}',  # a JSON escape of a lone surrogate: no UTF-8 can hold the value
]
# written to a file as is: not UTF-8 (and long enough for the copy to cover: 64 bytes at least)
RAW = b"invalid \xff\xfe bytes, a cut \xc3 and more words to pass the 64 bytes a copy needs"
TERMINAL = {"Complete", "Failed", "Cancelled", "Timeout"}


def _message(i: int) -> str:
    """Event i's message: a deterministic mix of Lambda's lines and JSON lines."""
    kind = i % 5
    rid = RID.format(i)
    if kind == 0:
        return f"START RequestId: {rid} Version: $LATEST"
    if kind == 1:
        return f"[ERROR]\t2026-11-27T10:00:00.123Z\t{rid}\truntime line {i}"
    if kind == 2:
        return json.dumps({"level": LEVELS[i % 3], "i": i, "user": {"id": f"u{i % 7}"}})
    if kind == 3:  # durations in quarters: every sum is exact in any order
        return (
            f"REPORT RequestId: {rid}\tDuration: {i % 400}.{(i % 4) * 25:02d} ms\t"
            f"Billed Duration: {i % 400 + 1} ms\tMemory Size: 128 MB\tMax Memory Used: {60 + i % 9} MB\t"
        )
    return f"plain line {i} with a word"


def _duration(i: int) -> float | None:
    return (i % 400) + (i % 4) * 0.25 if i % 5 == 3 else None


def _level(i: int) -> str | None:
    return LEVELS[i % 3] if i % 5 == 2 else None


class Corpus:
    """What the test wrote, and which of it must be visible."""

    def __init__(self) -> None:
        self.visible: list[tuple[str, str, int, str]] = []  # (group, stream, ts, message)
        self.hidden_marks = ("EXPIRED-", "DELETED-")
        self.durations: list[float] = []
        self.levels: Counter = Counter()

    def add(self, group: str, stream: str, ts: int, i: int) -> str:
        msg = _message(i)
        self.visible.append((group, stream, ts, msg))
        if _duration(i) is not None:
            self.durations.append(_duration(i))
        if _level(i):
            self.levels[_level(i)] += 1
        return msg

    def per_group_day(self) -> Counter:
        return Counter((g, ts // DAY) for g, _, ts, _ in self.visible)


def _write(store, group: str, stream: str, rows: list[tuple[int, str]]) -> None:
    path = store.ensure_stream(group, stream)
    with open(path, "ab") as f:
        f.write(b"".join(lines.format_line(ts, m) for ts, m in rows))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Corpus, object]]:
    data = tmp_path_factory.mktemp("export") / "data"
    data.mkdir()
    corpus = Corpus()
    srv = start_server(data)
    try:
        store = srv.store
        i = 0
        for s in range(3):  # A: three streams over 50 h (three UTC days at least)
            rows = []
            for n in range(700):
                ts = NOW - 50 * HOUR + n * (49 * HOUR // 700) + s
                rows.append((ts, corpus.add(A, f"2026/12/01/[$LATEST]{s:04x}", ts, i)))
                i += 1
            _write(store, A, f"2026/12/01/[$LATEST]{s:04x}", rows)
        _write(  # deleted below, after the copy holds it
            store,
            A,
            "doomed",
            [(NOW - 30 * HOUR + n * 60_000, f"DELETED-{n} {_message(n)}") for n in range(200)],
        )
        for s in range(2):  # B: 300 visible events in the last 20 h, 100 expired ones 30-40 h old
            rows = [
                (NOW - 40 * HOUR + n * 360_000, f"EXPIRED-{n} {_message(n)}") for n in range(100)
            ]
            for n in range(300):
                ts = NOW - 20 * HOUR + n * 228_000 + s
                rows.append((ts, corpus.add(B, f"web-{s}", ts, i)))
                i += 1
            _write(store, B, f"web-{s}", rows)

        def copied() -> bool:  # the columnar copy covers every stream file to its end
            snap = cstore.snapshot(data)
            return all(
                (c := snap.covered(g, s)) is not None and c[1] == p.stat().st_size
                for g, s, p in store.iter_stream_files()
            )

        _write(store, A, "raw", [])
        with open(store.stream_file(A, "raw"), "ab") as f:
            f.write(lines.format_line(NOW - 2 * HOUR, "x")[:-2] + RAW + b"\n")
        corpus.visible.append((A, "raw", NOW - 2 * HOUR, RAW.decode("utf-8", "replace")))
        wait_for(copied, timeout=60, interval=0.1, what="the columnar copy")
        logs = boto3.client(
            "logs",
            endpoint_url=srv.url,
            region_name="us-east-1",
            config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )
        logs.put_retention_policy(logGroupName=B, retentionInDays=1)
        logs.delete_log_stream(logGroupName=A, logStreamName="doomed")
        logs.create_log_stream(logGroupName=A, logStreamName="put")
        put = [(NOW - HOUR + n * 1000, m) for n, m in enumerate(ODD)]
        put += [(NOW - HOUR + 10_000 + n, None) for n in range(50)]
        events = []
        for ts, m in put:
            if m is None:
                m = corpus.add(A, "put", ts, i)
                i += 1
            else:
                corpus.visible.append((A, "put", ts, m))
            events.append({"timestamp": ts, "message": m})
        logs.put_log_events(logGroupName=A, logStreamName="put", logEvents=events)
        corpus.levels["ERROR"] += 1  # the odd JSON line's level
        yield srv, corpus, logs
    finally:
        srv.stop()


def _exports(jobs: dict[str, tuple[Path, list[str]]]) -> dict[str, subprocess.CompletedProcess]:
    """Run `logsvc --data-dir D export ARGS` for each job at once (the real CLI, in processes)."""
    procs = {
        k: subprocess.Popen(
            [sys.executable, "-m", "logsvc", "--data-dir", str(d), "export", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for k, (d, args) in jobs.items()
    }
    out = {}
    for k, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        out[k] = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    return out


@pytest.fixture(scope="module")
def exported(world, tmp_path_factory) -> dict[str, Path]:
    """Two exports of both groups by the real CLI, at once: Parquet of the served data directory
    (groups by a pattern and a name), and NDJSON of a bare copy of it (its stream files and metadata
    only: no index, no columnar copy, so every row comes through the Reader)."""
    srv, _, _ = world
    out = tmp_path_factory.mktemp("exports")
    bare = out / "bare-data"
    bare.mkdir()
    shutil.copytree(srv.data_dir / "groups", bare / "groups")
    span = ["--since", str(SINCE), "--until", str(UNTIL)]
    jobs = {
        "parquet": (srv.data_dir, ["--group", "/aws/lambda/*", "--group", B, *span]),
        "ndjson": (bare, ["--format=ndjson", "--group", A, "--group", B, *span]),
    }
    for k, (_, args) in jobs.items():
        args += ["--to", str(out / k)]
    for k, r in _exports(jobs).items():
        assert r.returncode == 0, (k, r.stderr)
        assert "exported" in r.stderr
    assert not (bare / "columns").exists() and not (bare / "index").exists()
    return {k: out / k for k in jobs}


def _duck(sql: str) -> list[tuple]:
    import duckdb

    with duckdb.connect() as con:
        return con.execute(sql).fetchall()


def _ch(sql: str) -> list[list]:
    import chdb

    return json.loads(chdb.query(sql, "JSONCompact").bytes())["data"]


def _insights(logs, groups: list[str], query: str) -> list[dict[str, str]]:
    qid = logs.start_query(
        logGroupNames=groups, startTime=SINCE // 1000, endTime=UNTIL // 1000, queryString=query
    )["queryId"]
    deadline = time.monotonic() + 60
    while True:
        r = logs.get_query_results(queryId=qid)
        if r["status"] in TERMINAL or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r["status"] == "Complete", r
    return [{c["field"]: c["value"] for c in row} for row in r["results"]]


def test_partitions_are_hive_style_by_group_and_day(world, exported) -> None:
    _, corpus, _ = world
    root = exported["parquet"]
    want = {
        (g, time.strftime("%Y-%m-%d", time.gmtime(d * 86_400))): n
        for (g, d), n in corpus.per_group_day().items()
    }
    assert len({d for _, d in want}) >= 3
    got = {}
    for p in root.glob("group=*/day=*/*"):
        assert p.name == "part-00000.parquet", p
        got[(p.parent.parent.name, p.parent.name)] = p
    assert set(got) == {("group=" + g.replace("/", "%2F"), f"day={d}") for g, d in want}, (
        "one partition per (group, day) with events, names percent-encoded"
    )
    marker = json.loads((root / "_logsvc_export.json").read_text())
    assert marker["state"] == "complete" and marker["events"] == len(corpus.visible)
    assert sorted(marker["groups"]) == sorted([A, B])
    nd = exported["ndjson"]
    assert sorted(p.relative_to(nd).parent for p in nd.glob("group=*/day=*/*")) == sorted(
        p.relative_to(root).parent for p in got.values()
    ), "NDJSON: one file per partition too"


def test_same_events_ids_and_bytes_as_filterlogevents(world, exported) -> None:
    _, corpus, logs = world
    fle = set()
    for g in (A, B):
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=g, startTime=SINCE, endTime=UNTIL
        ):
            fle |= {
                (
                    g,
                    e["logStreamName"],
                    e["eventId"],
                    e["timestamp"],
                    e["ingestionTime"],
                    e["message"],
                )
                for e in page["events"]
            }
    assert len(fle) == len(corpus.visible)
    assert {(g, s, t, m) for g, s, _, t, _, m in fle} == set(corpus.visible)
    parquet = set(
        _duck(
            "SELECT log_group, log_stream, event_id, timestamp_ms, ingestion_time_ms, message "
            f"FROM read_parquet('{exported['parquet']}/**/*.parquet')"
        )
    )
    assert parquet == fle
    # the bare copy's files have other inodes: its ids keep the offset (16 digits), not the hash,
    # and its ingestion times are decided anew
    ndjson = set()
    for r in _ndjson(exported["ndjson"]):
        ts = r["timestamp_ms"]
        assert r["timestamp"] == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts // 1000)) + (
            f".{ts % 1000:03d}Z"
        )
        ndjson.add((r["log_group"], r["log_stream"], r["event_id"][:16], ts, r["message"]))
    assert ndjson == {(g, s, i[:16], t, m) for g, s, i, t, _, m in fle}


def _ndjson(root: Path) -> list[dict]:
    return [
        json.loads(line)
        for p in root.glob("group=*/day=*/*.ndjson")
        for line in p.read_text(encoding="utf-8").splitlines()
    ]


def test_odd_messages_round_trip_byte_for_byte(world, exported) -> None:
    want = sorted(m.encode() for m in ODD)
    q = f"SELECT message FROM {{}} WHERE log_stream = 'put' AND timestamp_ms < {NOW - HOUR + 10_000}"
    duck = sorted(
        m.encode()
        for (m,) in _duck(q.format(f"read_parquet('{exported['parquet']}/**/*.parquet')"))
    )
    ch = sorted(
        m.encode() for (m,) in _ch(q.format(f"file('{exported['parquet']}/**/*.parquet', Parquet)"))
    )
    nd = sorted(
        r["message"].encode()
        for p in exported["ndjson"].glob("**/*.ndjson")
        for r in map(json.loads, p.read_text(encoding="utf-8").splitlines())
        if r["log_stream"] == "put" and r["timestamp_ms"] < NOW - HOUR + 10_000
    )
    assert duck == want and ch == want and nd == want
    (fields,) = _duck(
        f"SELECT fields FROM read_parquet('{exported['parquet']}/**/*.parquet') WHERE message LIKE '%odd%'"
    )[0]
    assert fields == {"level": "ERROR", "odd": "json line with é and \t", "n": "1.5"}
    # a lone surrogate: `fields_json` keeps its escape, `fields` has U+FFFD
    assert _duck(
        f"SELECT fields, fields_json FROM read_parquet('{exported['parquet']}/**/*.parquet') "
        "WHERE message LIKE '%lone%'"
    ) == [({"lone": "\ufffdx"}, '{"lone":"\\ud800x"}')]
    # bytes that are not UTF-8 read as U+FFFD, as FilterLogEvents returns them
    assert _duck(
        f"SELECT message FROM read_parquet('{exported['parquet']}/**/*.parquet') "
        "WHERE log_stream = 'raw'"
    ) == [(RAW.decode("utf-8", "replace"),)]
    assert RAW.decode("utf-8", "replace").count("\ufffd") == 3


def test_expired_and_deleted_events_never_exported(world, exported) -> None:
    src = f"read_parquet('{exported['parquet']}/**/*.parquet')"
    for mark in ("EXPIRED-", "DELETED-"):
        assert _duck(f"SELECT count(*) FROM {src} WHERE message LIKE '%{mark}%'") == [(0,)]
        ((n,),) = _ch(
            f"SELECT count() FROM file('{exported['parquet']}/**/*.parquet', Parquet) "
            f"WHERE message LIKE '%{mark}%'"
        )
        assert int(n) == 0
        for p in exported["ndjson"].glob("**/*.ndjson"):
            assert mark not in p.read_text(encoding="utf-8")
    assert _duck(f"SELECT count(*) FROM {src} WHERE log_stream = 'doomed'") == [(0,)]


def test_duckdb_and_clickhouse_agree_with_insights(world, exported) -> None:
    """The issue's questions, asked of both engines over the partitions and of logsvc's Insights."""
    _, corpus, logs = world
    glob = f"{exported['parquet']}/**/*.parquet"
    duck_src = f"read_parquet('{glob}', hive_partitioning = true)"
    ch_src = f"file('{glob}', Parquet)"
    # count per level
    want_levels = dict(corpus.levels)
    q = "SELECT level, count(*) FROM {} WHERE level IS NOT NULL GROUP BY level"
    assert dict(_duck(q.format(duck_src))) == want_levels
    assert {k: int(v) for k, v in _ch(q.format(ch_src))} == want_levels
    rows = _insights(logs, [A, B], "filter ispresent(level) | stats count(*) as n by level")
    assert {r["level"]: int(r["n"]) for r in rows} == want_levels
    # count, sum and average of @duration over REPORT lines
    n, s = len(corpus.durations), sum(corpus.durations)
    q = "SELECT count(*), sum(duration_ms), avg(duration_ms) FROM {} WHERE type = 'REPORT'"
    (dn, ds, da) = _duck(q.format(duck_src))[0]
    (cn, cs, ca) = _ch(q.format(ch_src))[0]
    (r,) = _insights(
        logs,
        [A, B],
        'filter @type = "REPORT" | stats count(*) as n, sum(@duration) as s, avg(@duration) as a',
    )
    assert (dn, ds) == (n, s) and (int(cn), float(cs)) == (n, s)
    assert (int(r["n"]), float(r["s"])) == (n, s)
    assert da == pytest.approx(s / n, rel=1e-12) and float(ca) == pytest.approx(s / n, rel=1e-12)
    assert float(r["a"]) == pytest.approx(s / n, rel=1e-12)
    # count per group per day (DuckDB and Spark decode the partition's group; ClickHouse keeps it
    # encoded, so it groups by the `log_group` column)
    want_days = {
        (g, time.strftime("%Y-%m-%d", time.gmtime(d * 86_400))): c
        for (g, d), c in corpus.per_group_day().items()
    }
    duck = _duck(f'SELECT "group", CAST(day AS VARCHAR), count(*) FROM {duck_src} GROUP BY ALL')
    assert {(g, d): c for g, d, c in duck} == want_days
    ch = _ch(
        f"SELECT log_group, toString(day), count() FROM {ch_src} GROUP BY ALL "
        "SETTINGS use_hive_partitioning = 1"
    )
    assert {(g, d): int(c) for g, d, c in ch} == want_days
    rows = _insights(logs, [A, B], "stats count(*) as n by @log, bin(1d) as day")
    assert {(r["@log"].split(":", 1)[1], r["day"][:10]): int(r["n"]) for r in rows} == want_days


def test_the_copy_and_the_reader_export_the_same_rows(exported) -> None:
    """The bare copy (rows read only through the Reader) exports, as NDJSON, the same rows the
    served directory exports as Parquet (rows from the columnar copy): every field."""
    keys = ("log_group", "log_stream", "timestamp_ms", "message", "type", "level", "request_id")
    keys += ("duration_ms", "billed_duration_ms", "memory_size_mb", "max_memory_used_mb")
    keys += ("init_duration_ms", "xray_trace_id", "xray_segment_id")
    con_rows = _duck(
        f"SELECT {', '.join(keys)}, left(event_id, 16), fields_json "
        f"FROM read_parquet('{exported['parquet']}/**/*.parquet')"
    )
    parquet = {}
    for *vals, off, fj in con_rows:
        fields = json.loads(fj) if fj else None
        if fields == {"lone": "\ud800x"}:
            fields = {
                "lone": "\ufffdx"
            }  # NDJSON's `fields` is `fields` (U+FFFD), not the JSON text
        parquet[(vals[0], vals[1], off)] = (*vals, fields)
    nd = {
        (r["log_group"], r["log_stream"], r["event_id"][:16]): (
            *(r[k] for k in keys),
            r["fields"],
        )
        for r in _ndjson(exported["ndjson"])
    }
    assert len(nd) == len(parquet) > 2000
    assert nd == parquet


def _cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output  # stdout and stderr as a terminal shows them


def test_bad_arguments_name_the_flag(world, tmp_path) -> None:
    srv, _, _ = world
    d = ["--data-dir", str(srv.data_dir), "export"]
    to = ["--to", str(tmp_path / "x")]
    cases = [
        ([*d, "--group", A, "--since", "yesterday", *to], 2, "--since"),
        ([*d, "--group", A, "--since", "1d", "--until", "2d", *to], 2, "--since is after --until"),
        ([*d, "--group", A, "--since", "1d", "--format", "csv", *to], 2, "'--format'"),
        ([*d, "--group", A, "--since", "1d"], 2, "'--to'"),
        ([*d, "--since", "1d", *to], 2, "'--group'"),
        ([*d, "--group", A, *to], 2, "'--since'"),
        ([*d, "--group", "/no/such", "--since", "1d", *to], 3, "--group '/no/such'"),
        ([*d, "--group", "nothing*", "--since", "1d", *to], 3, "--group 'nothing*' matches no"),
        ([*d, "--group", "bad name!", "--since", "1d", *to], 2, "--group"),
        (["--data-dir", str(tmp_path / "none"), *d[2:], "--group", A, "--since", "1d", *to], 2,
         "--data-dir"),
    ]  # fmt: skip
    for args, code, words in cases:
        got, out = _cli(*args)
        assert (got, words in out) == (code, True), (args, out)
    assert not (tmp_path / "x").exists(), "nothing is written when the arguments are wrong"
    assert not (tmp_path / "none").exists()


def test_an_existing_folder_is_refused_or_overwritten_explicitly(world, tmp_path) -> None:
    srv, _, _ = world
    base = ["--data-dir", str(srv.data_dir), "export", "--group", B, "--since", str(SINCE)]
    base += ["--until", str(UNTIL), "--format", "ndjson"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, out = _cli(*base, "--to", str(mine))
    assert code == 2 and "--to" in out and "--overwrite" in out
    code, out = _cli(*base, "--to", str(mine), "--overwrite")
    assert code == 2 and "not a logsvc export" in out and "notes.txt" in out
    assert (mine / "notes.txt").read_text() == "keep me"
    afile = tmp_path / "afile"
    afile.write_text("")
    code, out = _cli(*base, "--to", str(afile))
    assert code == 2 and "--to" in out and "not a folder" in out
    to = tmp_path / "again"
    assert _cli(*base, "--to", str(to))[0] == 0
    first = sorted(p.relative_to(to) for p in to.rglob("*"))
    assert _cli(*base, "--to", str(to))[0] == 2  # refused: not empty
    stale = to / "group=stale" / "day=2000-01-01"
    stale.mkdir(parents=True)
    (stale / "part-00000.ndjson").write_text("{}\n")
    code, out = _cli(*base, "--to", str(to), "--overwrite")
    assert code == 0, out
    assert sorted(p.relative_to(to) for p in to.rglob("*")) == first, "the old export is replaced"
