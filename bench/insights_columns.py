"""Design study for issue #11 item 7: which engine should hold Logs Insights' columnar copy?

    python bench/insights_columns.py [--events 1000000] [--repeat 3] [--block-lines 2048]

Generates (or reuses) a Lambda corpus with `bench/corpus.py` (START/END/REPORT with varied metrics,
Python runtime lines with levels and request ids, JSON lines, tracebacks) under
`bench/corpus/insights-<events>/`, extracts per event the fields Insights uses exactly as
`logsvc/insights/fields.py` decides them (timestamp, ingestion time, group/stream, byte offset and
length, @type, @requestId, the REPORT metrics, the JSON `level` key and the flattened JSON keys as
one JSON text column; the message text stays in the stream files), writes each candidate copy, and
times the four target queries end to end per candidate (opening the data included, libraries
already imported), plus build cost and size relative to the raw files:

  (a) Parquet (pyarrow, zstd) queried with DuckDB, at three file granularities: one file per index
      block, one per group+day, one compacted file;
  (b) the same Parquet read with pyarrow and computed with pyarrow.compute (+ NumPy for pct);
  (c) NumPy arrays, one .npy per column per group, opened with mmap;
  (d) DuckDB over the raw stream files (read_text + string/regex/JSON functions): the baseline a
      user would reach for;
  (e) logsvc's row engine (`logsvc.insights` + `fields.event_row`) in-process over the same events.

Every candidate's answer is checked against the row engine's (e). The parse query needs the message
text: the columnar candidates read it from the stream files (one C-level regex per file, the same
leftmost non-greedy glob rule as `commands._glob_matcher`), DuckDB baseline reads it with read_text.
`--probe LIB` (used internally) measures import time and RSS of a library in a fresh interpreter.
Every figure carries the 1-minute load average at the time it was taken (the machine is shared).
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from logsvc import lines, names
from logsvc.insights import fields as F

HERE = Path(__file__).resolve().parent
ACCOUNT = "123456789012"
END_MS = (
    1_796_256_000_000  # 2026-12-02T00:00:00Z: a fixed end, so a corpus is the same bytes every time
)
Q1 = 'filter @type = "REPORT" | stats avg(@duration), pct(@duration, 99), max(@maxMemoryUsed) by bin(5m)'
Q2 = "stats count(*) by level, bin(1h)"
Q3 = 'filter @requestId = "{rid}"'
Q4 = 'parse @message "* * *" as a, b, c | stats count(*) by b'
COLS = (
    "ts",
    "ingest",
    "grp",
    "stream",
    "off",
    "len",
    "type",
    "rid",
    "duration",
    "billed",
    "memsize",
    "maxmem",
    "initdur",
    "level",
    "json",
)
METRICS = (
    ("@duration", "duration"),
    ("@billedDuration", "billed"),
    ("@memorySize", "memsize"),
    ("@maxMemoryUsed", "maxmem"),
    ("@initDuration", "initdur"),
)


def load() -> float:
    return os.getloadavg()[0]


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """(median ms, load average at the end, last result) over `repeat` runs."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), load(), out


# ---------------------------------------------------------------------------------------------
# corpus and extraction


def corpus(root: Path, events: int) -> dict:
    info_path = root / "corpus.json"
    if info_path.exists():
        return json.loads(info_path.read_text())
    sys.path.insert(0, str(HERE))
    import corpus as gen  # bench/corpus.py

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    info = gen.generate(root, events, streams=200, end_ms=END_MS)
    info = {k: v for k, v in info.items() if k != "planted"}
    info_path.write_text(json.dumps(info))
    return info


def stream_files(root: Path, info: dict) -> list[tuple[str, str, Path]]:
    out = []
    for group, streams in sorted(info["streams_by_group"].items()):
        for stream in streams:
            out.append(
                (
                    group,
                    stream,
                    root
                    / "groups"
                    / names.encode_segment(group)
                    / (names.encode_segment(stream) + ".log"),
                )
            )
    return out


def extract(files: list[tuple[str, str, Path]], block_lines: int) -> list[dict]:
    """Blocks of column lists: what the ingester would add per block. Fields come from
    lines.parse_event + fields.message_fields, the functions the row engine uses."""
    blocks = []
    dumps = json.dumps
    for group, stream, path in files:
        data = path.read_bytes()
        events, _ = lines.split_events(data, flush=True)
        for i in range(0, len(events), block_lines):
            cols: dict[str, list] = {c: [] for c in COLS}
            a = {c: cols[c].append for c in COLS}
            chunk_max = 0
            for j, ev in enumerate(events[i : i + block_lines]):
                pe = lines.parse_event(ev.text)
                ts = pe.timestamp if pe.timestamp is not None else chunk_max
                if (
                    j % 64 == 0
                ):  # ingestion time: one stamp per 64-event chunk (the block index's grain)
                    chunk_max = -(-(ts + 250) // 10) * 10
                mf = F.message_fields(pe.message, group=group, parsed=pe.fields)
                a["ts"](ts)
                a["ingest"](max(chunk_max, ts))
                a["grp"](group)
                a["stream"](stream)
                a["off"](ev.start)
                a["len"](ev.end - ev.start - 1)
                a["type"](mf.get("@type"))
                a["rid"](mf.get("@requestId"))
                for name, col in METRICS:
                    v = mf.get(name)
                    a[col](float(v) if v is not None else None)
                jf = {k: v for k, v in mf.items() if k[:1] != "@" or k[:2] == "@@"}
                lv = jf.get("level")
                a["level"](lv if isinstance(lv, str) else None)
                a["json"](dumps(jf, separators=(",", ":")) if jf else None)
            blocks.append({"group": group, "stream": stream, "path": str(path), "cols": cols})
    return blocks


_REPORT_RX = re.compile(
    r"REPORT RequestId: ([0-9a-f-]{36})\tDuration: ([0-9.]+) ms\tBilled Duration: ([0-9]+) ms\t"
    r"Memory Size: ([0-9]+) MB\tMax Memory Used: ([0-9]+) MB(?:\tInit Duration: ([0-9.]+) ms)?\t?\Z"
)
_STARTEND_RX = re.compile(r"(?:START|END) RequestId: ([0-9a-f-]{36})(?: Version: \S+)?\Z")
_RUNTIME_RX = re.compile(
    r"\[[A-Z]+\]\t[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z\t([^\t]+)\t"
)


def extract_fast(
    files: list[tuple[str, str, Path]], block_lines: int, sink=None
) -> tuple[list[dict], int]:
    """The same columns as `extract`, the way an ingester would make them: the common Lambda shapes
    by one anchored regex each, JSON decoded once (the message text itself is the JSON column),
    anything else through `lines._dispatch`, and only what none of these settles through the slow,
    exact path (`parse_event` + `fields.message_fields`). Returns (blocks, events that took the
    slow path); with `sink`, each block goes to sink(block) instead and is not kept (an ingester's
    heap: one block at a time, so the cyclic GC does not walk a million kept rows)."""
    blocks = []
    slow = 0
    loads, flatten = json.loads, F.flatten_json
    report_m, startend_m, runtime_m = _REPORT_RX.match, _STARTEND_RX.match, _RUNTIME_RX.match
    time_and_message, dispatch = lines.time_and_message, lines._dispatch
    for group, stream, path in files:
        data = path.read_bytes()
        events, _ = lines.split_events(data, flush=True)
        for i in range(0, len(events), block_lines):
            cols: dict[str, list] = {c: [] for c in COLS}
            (
                a_ts,
                a_ing,
                a_grp,
                a_st,
                a_off,
                a_len,
                a_type,
                a_rid,
                a_dur,
                a_bill,
                a_mem,
                a_max,
                a_init,
                a_lvl,
                a_json,
            ) = (cols[c].append for c in COLS)
            chunk_max = 0
            for j, ev in enumerate(events[i : i + block_lines]):
                ts, msg = time_and_message(ev.text)  # the ingester computes this already
                if ts is None:
                    ts = chunk_max
                if j % 64 == 0:
                    chunk_max = -(-(ts + 250) // 10) * 10
                a_ts(ts)
                a_ing(max(chunk_max, ts))
                a_grp(group)
                a_st(stream)
                a_off(ev.start)
                a_len(ev.end - ev.start - 1)
                kind = rid = lvl = js = None
                dur = bill = mem = mx = init = None
                c0 = msg[:1]
                m = None
                if c0 == "{":
                    try:
                        doc = loads(msg)
                    except ValueError:
                        doc = None
                    if type(doc) is dict:
                        jf = flatten(doc)
                        lv = jf.get("level")
                        lvl = lv if isinstance(lv, str) else None
                        js = msg if jf else None
                        m = True
                elif c0 == "R":
                    m = report_m(msg)
                    if m is not None:
                        kind, rid = "REPORT", m[1]
                        dur, bill, mem, mx = (
                            float(m[2]),
                            float(m[3]),
                            float(m[4]) * F.MB,
                            float(m[5]) * F.MB,
                        )
                        init = float(m[6]) if m[6] else None
                elif c0 == "S" or c0 == "E":
                    m = startend_m(msg)
                    if m is not None:
                        kind, rid = ("START" if c0 == "S" else "END"), m[1]
                elif c0 == "[":
                    m = runtime_m(msg)
                    if m is not None and "{" not in msg:
                        rid = m[1]
                    else:
                        m = None
                if m is None:
                    if "{" in msg or dispatch(msg)[2]:
                        slow += 1
                        mf = F.message_fields(msg, group=group)
                        kind, rid = mf.get("@type"), mf.get("@requestId")
                        dur, bill, mem, mx, init = (
                            None if mf.get(n) is None else float(mf[n]) for n, _ in METRICS
                        )
                        jf = {k: v for k, v in mf.items() if k[:1] != "@" or k[:2] == "@@"}
                        lv = jf.get("level")
                        lvl = lv if isinstance(lv, str) else None
                        js = json.dumps(jf, separators=(",", ":")) if jf else None
                a_type(kind)
                a_rid(rid)
                a_dur(dur)
                a_bill(bill)
                a_mem(mem)
                a_max(mx)
                a_init(init)
                a_lvl(lvl)
                a_json(js)
            block = {"group": group, "stream": stream, "path": str(path), "cols": cols}
            if sink is None:
                blocks.append(block)
            else:
                sink(block)
    return blocks, slow


def streaming_and_exact(files: list[tuple[str, str, Path]], block_lines: int, root: Path) -> tuple:
    """(fast extraction streamed, + Parquet per block streamed, exact extraction, same columns?) in seconds."""
    t = time.perf_counter()
    extract_fast(files, block_lines, sink=lambda b: None)
    stream_s = time.perf_counter() - t
    tmp = root / "columns-stream"
    counter = iter(range(1 << 30))
    t = time.perf_counter()
    extract_fast(
        files,
        block_lines,
        sink=lambda b: write_parquet(arrow_table(b["cols"]), tmp / f"{next(counter):06d}.parquet"),
    )
    stream_w_s = time.perf_counter() - t
    shutil.rmtree(tmp)
    print(
        f"streaming, one block at a time: + fast extraction {stream_s:.1f} s; + Parquet per block {stream_w_s:.1f} s; "
        f"load {load():.2f}",
        flush=True,
    )
    t = time.perf_counter()
    exact = extract(files, block_lines)
    ext_s = time.perf_counter() - t
    total = sum(len(b["cols"]["ts"]) for b in exact)
    print(
        f"extract, exact path (parse_event + fields.message_fields): {total:,} events in {len(exact)} blocks, "
        f"{ext_s:.1f} s = {ext_s / total * 1e6:.2f} us/event; load {load():.2f}",
        flush=True,
    )
    fast, _ = extract_fast(files, block_lines)
    same = all(
        b["cols"][c] == e["cols"][c]
        for b, e in zip(fast, exact, strict=True)
        for c in COLS
        if c != "json"
    )
    return stream_s, stream_w_s, ext_s, same


# ---------------------------------------------------------------------------------------------
# builds


def arrow_table(cols: dict):
    import pyarrow as pa

    f64 = pa.float64()
    return pa.table(
        {
            "ts": pa.array(cols["ts"], pa.int64()),
            "ingest": pa.array(cols["ingest"], pa.int64()),
            "grp": pa.array(cols["grp"], pa.string()),
            "stream": pa.array(cols["stream"], pa.string()),
            "off": pa.array(cols["off"], pa.int64()),
            "len": pa.array(cols["len"], pa.int32()),
            "type": pa.array(cols["type"], pa.string()),
            "rid": pa.array(cols["rid"], pa.string()),
            **{c: pa.array(cols[c], f64) for _, c in METRICS},
            "level": pa.array(cols["level"], pa.string()),
            "json": pa.array(cols["json"], pa.string()),
        }
    )


def write_parquet(table, path: Path, row_group: int = 131072) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", row_group_size=row_group)


def build_parquet_blocks(blocks: list[dict], out: Path) -> list[Path]:
    paths = []
    for n, b in enumerate(blocks):
        p = out / names.encode_segment(b["group"]) / f"{n:06d}.parquet"
        write_parquet(arrow_table(b["cols"]), p)
        b.setdefault("pq", str(p))
        paths.append(p)
    return paths


def rechunk(blocks: list[dict], n: int) -> list[dict]:
    """The blocks cut into pieces of `n` events (what small appends make before merging)."""
    out = []
    for b in blocks:
        cols = b["cols"]
        for i in range(0, len(cols["ts"]), n):
            out.append({**b, "cols": {c: v[i : i + n] for c, v in cols.items()}})
    return out


def build_parquet_partitions(
    blocks: list[dict], out: Path, *, single: bool, row_group: int = 131072
) -> list[Path]:
    """Group+day files (or one file), concatenated from the blocks' columns: what compaction makes."""
    parts: dict[tuple, dict[str, list]] = {}
    for b in blocks:
        cols = b["cols"]
        days = [t // 86_400_000 for t in cols["ts"]]
        for day in sorted(set(days)):
            key = ("all", 0) if single else (b["group"], day)
            dst = parts.setdefault(key, {c: [] for c in COLS})
            idx = [i for i, d in enumerate(days) if d == day]
            for c in COLS:
                src = cols[c]
                dst[c].extend(src[i] for i in idx)
    paths = []
    for (group, day), cols in sorted(parts.items()):
        p = out / (names.encode_segment(group) if not single else "all") / f"{day}.parquet"
        write_parquet(arrow_table(cols), p, row_group)
        paths.append(p)
    return paths


def build_numpy(blocks: list[dict], out: Path) -> list[Path]:
    """One .npy per column per group; strings as fixed-width bytes or uint8 codes + a dictionary."""
    import numpy as np

    by_group: dict[str, list[dict]] = {}
    for b in blocks:
        by_group.setdefault(b["group"], []).append(b)
    paths = []
    for group, bs in sorted(by_group.items()):
        d = out / names.encode_segment(group)
        d.mkdir(parents=True, exist_ok=True)
        cat = {c: [v for b in bs for v in b["cols"][c]] for c in COLS}
        dicts = {}
        arrays = {
            "ts": np.array(cat["ts"], np.int64),
            "ingest": np.array(cat["ingest"], np.int64),
            "off": np.array(cat["off"], np.int64),
            "len": np.array(cat["len"], np.int32),
            "rid": np.array([(r or "").encode() for r in cat["rid"]], "S36"),
        }
        for c in ("stream", "type", "level"):
            vocab = sorted({v for v in cat[c] if v is not None})
            code = {v: i + 1 for i, v in enumerate(vocab)}  # 0 = absent
            arrays[c] = np.array([code.get(v, 0) for v in cat[c]], np.uint16)
            dicts[c] = vocab
        for _, c in METRICS:
            arrays[c] = np.array([np.nan if v is None else v for v in cat[c]], np.float64)
        for c, arr in arrays.items():
            np.save(d / f"{c}.npy", arr)
            paths.append(d / f"{c}.npy")
        (d / "dicts.json").write_text(json.dumps({"group": group, **dicts}))
        paths.append(d / "dicts.json")
    return paths


def size_of(paths: list[Path]) -> int:
    return sum(os.path.getsize(p) for p in paths)


# ---------------------------------------------------------------------------------------------
# answers in one normal form, for checking every candidate against the row engine


def iso_bin(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"
    )


def norm_q1(rows) -> dict:  # (bin ms, avg, p99, max)
    return {iso_bin(int(b)): (float(a), float(p), float(m)) for b, a, p, m in rows}


def norm_q2(rows) -> dict:  # (level, bin ms, count)
    return {(lv, iso_bin(int(b))): int(n) for lv, b, n in rows}


def norm_q3(rows) -> list:  # (ts, message)
    return sorted((int(t), m) for t, m in rows)


def norm_q4(rows) -> dict:  # (b, count)
    return {b: int(n) for b, n in rows}


def same_answer(got, truth) -> bool:
    """Equal, or, when the row engine's answer stopped at the 10,000-row cap, equal on its rows."""
    if isinstance(truth, dict) and len(truth) == 10_000 and len(got) >= len(truth):
        return all(got.get(k) == v for k, v in truth.items())
    if isinstance(truth, dict) and truth and isinstance(next(iter(truth.values())), tuple):
        # Q1: avg may differ in its last bits (the order of the summation); pct and max are values seen
        return got.keys() == truth.keys() and all(
            math.isclose(got[k][0], v[0], rel_tol=1e-12) and got[k][1:] == v[1:]
            for k, v in truth.items()
        )
    return got == truth


def read_messages(hits) -> list[tuple[int, str]]:
    """(ts, message) of events given by (ts, path, offset, length): what a filter-only query returns
    beside its columns (the message text stays in the stream files)."""
    out = []
    fds: dict[str, int] = {}
    try:
        for ts, path, off, ln in hits:
            fd = fds.get(path)
            if fd is None:
                fd = fds[path] = os.open(path, os.O_RDONLY)
            text = lines.split_events(os.pread(fd, ln + 1, off), flush=True)[0][0].text
            out.append((ts, lines.parse_event(text).message))
    finally:
        for fd in fds.values():
            os.close(fd)
    return out


# the glob "* * *" on a message: a = up to the first space, b = up to the next, c = the rest (also
# across the CRs that are line breaks inside an event); applied to "<timestamp> <message>" lines.
_Q4_RX = re.compile(rb"^[^ \n]+ [^ \n]* ([^ \n]*) ", re.M)


def q4_from_files(paths: list[str]) -> list[tuple[str, int]]:
    counts: collections.Counter = collections.Counter()
    for p in paths:
        with open(p, "rb") as f:
            counts.update(_Q4_RX.findall(f.read()))
    return [(b.decode("utf-8", "replace"), n) for b, n in counts.items()]


def q4_split(paths: list[str]) -> list[tuple[str, int]]:
    """The same glob, translated to `bytes.split` (its literals are single spaces): a Python loop per line."""
    counts: collections.Counter = collections.Counter()
    for p in paths:
        with open(p, "rb") as f:
            for line in f.read().split(b"\n"):
                parts = line.split(b" ", 3)
                if len(parts) == 4:
                    counts[parts[2]] += 1
    return [(b.decode("utf-8", "replace"), n) for b, n in counts.items()]


def q4_events(files: list[tuple[str, str, Path]]) -> list[tuple[str, int]]:
    """The exact path: events split by `lines.split_events`, messages by `time_and_message`, the
    glob by the row engine's own `commands._glob_matcher`; no rows, no expressions."""
    from logsvc.insights.commands import _glob_matcher

    match = _glob_matcher("* * *".split("*"))
    counts: collections.Counter = collections.Counter()
    tm = lines.time_and_message
    for _, _, path in files:
        for ev in lines.split_events(path.read_bytes(), flush=True)[0]:
            m = match(tm(ev.text)[1])
            if m is not None:
                counts[m[1]] += 1
    return list(counts.items())


def build_messages(files: list[tuple[str, str, Path]], out: Path) -> list[Path]:
    """One Parquet file per group holding (stream, off, msg): the message text as the events hold it."""
    import pyarrow as pa

    by_group: dict[str, list] = {}
    for group, stream, path in files:
        by_group.setdefault(group, []).append((stream, path))
    paths = []
    tm = lines.time_and_message
    for group, items in sorted(by_group.items()):
        st, off, msg = [], [], []
        for stream, path in items:
            for ev in lines.split_events(path.read_bytes(), flush=True)[0]:
                st.append(stream)
                off.append(ev.start)
                msg.append(tm(ev.text)[1])
        p = out / f"{names.encode_segment(group)}.parquet"
        write_parquet(
            pa.table(
                {
                    "stream": pa.array(st, pa.string()),
                    "off": pa.array(off, pa.int64()),
                    "msg": pa.array(msg, pa.string()),
                }
            ),
            p,
        )
        paths.append(p)
    return paths


def q4_messages(paths: list[Path]) -> list[tuple[str, int]]:
    src = "read_parquet([" + ",".join(f"'{p}'" for p in paths) + "])"
    rows = (
        duck()
        .execute(f"""SELECT split_part(msg, ' ', 2) AS b, count(*) FROM {src}
                              WHERE regexp_matches(msg, '^[^ ]* [^ ]* ') GROUP BY b""")
        .fetchall()
    )
    return rows


def q4_missing(paths: list[str], total: int, rows) -> list:
    """The row engine groups events whose message does not match under an absent b."""
    matched = sum(n for _, n in rows)
    return [*rows, (None, total - matched)] if total > matched else list(rows)


# ---------------------------------------------------------------------------------------------
# candidates


def nearest_rank(values, p: float) -> float:
    s = sorted(values)
    return s[max(1, math.ceil(p / 100 * len(s))) - 1]


_CON = None


def duck():
    """A cursor on the process's one DuckDB connection: `duckdb.connect()` costs ~30 ms, a cursor
    ~0.1 ms, so a worker would open the connection once (measured separately as `connect`)."""
    global _CON
    import duckdb

    if _CON is None:
        _CON = duckdb.connect()
    return _CON.cursor()


class Duck:
    """(a) DuckDB over Parquet files; `files` is the list of files of one granularity."""

    def __init__(self, files: list[Path], raw_paths: list[str], total: int) -> None:
        self.src = "read_parquet([" + ",".join(f"'{p}'" for p in files) + "])"
        self.files = files
        self.raw_paths = raw_paths
        self.total = total

    def q1(self):
        con = duck()
        rows = con.execute(f"""
            SELECT ts // 300000 * 300000 AS b, avg(duration),
                   list_sort(list(duration))[greatest(1, ceil(0.99 * count(duration)))::BIGINT],
                   max(maxmem)
            FROM {self.src} WHERE type = 'REPORT' GROUP BY b""").fetchall()
        con.close()
        return rows

    def q2(self):
        con = duck()
        rows = con.execute(
            f"SELECT level, ts // 3600000 * 3600000 AS b, count(*) FROM {self.src} GROUP BY ALL"
        ).fetchall()
        con.close()
        return rows

    def q3(self, rid: str, files: list[Path] | None = None, where: str = ""):
        src = (
            self.src
            if files is None
            else "read_parquet([" + ",".join(f"'{p}'" for p in files) + "])"
        )
        con = duck()
        hits = con.execute(
            f"""SELECT ts, grp, stream, off, len FROM {src} WHERE rid = ? {where}
                               ORDER BY ts DESC LIMIT 10000""",
            [rid],
        ).fetchall()
        con.close()
        return read_messages([(t, RAW[(g, s)], o, n) for t, g, s, o, n in hits])

    def q4(self):
        return q4_missing(self.raw_paths, self.total, q4_from_files(self.raw_paths))


class Arrow:
    """(b) the same Parquet, read with pyarrow.parquet and computed with pyarrow.compute."""

    def __init__(self, files: list[Path], raw_paths: list[str], total: int) -> None:
        self.files = [str(p) for p in files]
        self.raw_paths = raw_paths
        self.total = total

    def read(self, columns, filters=None):
        import pyarrow.parquet as pq

        return pq.read_table(self.files, columns=columns, filters=filters)

    def q1(self):
        import numpy as np
        import pyarrow.compute as pc

        t = self.read(["ts", "type", "duration", "maxmem"], filters=[("type", "=", "REPORT")])
        b = pc.multiply(pc.divide(t["ts"], 300000), 300000)
        t = t.append_column("b", b)
        agg = t.group_by("b").aggregate([("duration", "mean"), ("maxmem", "max")])
        # pct: sort by (bin, duration), take the nearest rank inside each bin's run
        order = pc.sort_indices(t, [("b", "ascending"), ("duration", "ascending")])
        bs = t["b"].take(order).to_numpy()
        ds = t["duration"].take(order).to_numpy()
        starts = np.flatnonzero(np.r_[True, bs[1:] != bs[:-1]])
        ends = np.r_[starts[1:], len(bs)]
        p99 = {
            int(bs[s]): ds[s + max(1, int(np.ceil(0.99 * (e - s)))) - 1]
            for s, e in zip(starts, ends, strict=True)
        }
        return [
            (b, a, p99[b], m)
            for b, a, m in zip(
                agg["b"].to_pylist(),
                agg["duration_mean"].to_pylist(),
                agg["maxmem_max"].to_pylist(),
                strict=True,
            )
        ]

    def q2(self):
        import pyarrow.compute as pc

        t = self.read(["ts", "level"])
        t = t.append_column("b", pc.multiply(pc.divide(t["ts"], 3600000), 3600000))
        agg = t.group_by(["level", "b"]).aggregate([([], "count_all")])
        return list(
            zip(
                agg["level"].to_pylist(),
                agg["b"].to_pylist(),
                agg["count_all"].to_pylist(),
                strict=True,
            )
        )

    def q3(self, rid: str):
        t = self.read(["ts", "grp", "stream", "off", "len", "rid"], filters=[("rid", "=", rid)])
        hits = sorted(
            zip(*(t[c].to_pylist() for c in ("ts", "grp", "stream", "off", "len")), strict=True),
            reverse=True,
        )
        return read_messages([(ts, RAW[(g, s)], o, n) for ts, g, s, o, n in hits[:10000]])

    def q4(self):
        return q4_missing(self.raw_paths, self.total, q4_from_files(self.raw_paths))


class Numpy:
    """(c) NumPy arrays, one .npy per column per group, opened with mmap."""

    def __init__(self, root: Path, raw_paths: list[str], total: int) -> None:
        self.dirs = sorted(p for p in root.iterdir() if p.is_dir())
        self.raw_paths = raw_paths
        self.total = total

    def cols(self, d: Path, *names_):
        import numpy as np

        return [np.load(d / f"{c}.npy", mmap_mode="r") for c in names_]

    def q1(self):
        import numpy as np

        bins, durs, mems = [], [], []
        for d in self.dirs:
            dicts = json.loads((d / "dicts.json").read_text())
            code = dicts["type"].index("REPORT") + 1
            ts, typ, dur, mem = self.cols(d, "ts", "type", "duration", "maxmem")
            m = np.asarray(typ) == code
            bins.append(np.asarray(ts)[m] // 300000 * 300000)
            durs.append(np.asarray(dur)[m])
            mems.append(np.asarray(mem)[m])
        b, du, me = np.concatenate(bins), np.concatenate(durs), np.concatenate(mems)
        order = np.lexsort((du, b))
        b, du, me = b[order], du[order], me[order]
        starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        ends = np.r_[starts[1:], len(b)]
        sums = np.add.reduceat(du, starts)
        maxes = np.maximum.reduceat(me, starts)
        n = ends - starts
        p99 = du[starts + np.maximum(1, np.ceil(0.99 * n).astype(np.int64)) - 1]
        return list(
            zip(b[starts].tolist(), (sums / n).tolist(), p99.tolist(), maxes.tolist(), strict=True)
        )

    def q2(self):
        import numpy as np

        counts: collections.Counter = collections.Counter()
        for d in self.dirs:
            dicts = json.loads((d / "dicts.json").read_text())
            vocab = [None, *dicts["level"]]
            ts, lv = self.cols(d, "ts", "level")
            key = (np.asarray(ts) // 3600000) * 64 + np.asarray(lv)
            uniq, n = np.unique(key, return_counts=True)
            for k, c in zip(uniq.tolist(), n.tolist(), strict=True):
                counts[(vocab[k % 64], k // 64 * 3600000)] += c
        return [(lv, b, n) for (lv, b), n in counts.items()]

    def q3(self, rid: str):
        import numpy as np

        want = rid.encode()
        hits = []
        for d in self.dirs:
            (r,) = self.cols(d, "rid")
            idx = np.flatnonzero(np.asarray(r) == want)
            if len(idx):
                dicts = json.loads((d / "dicts.json").read_text())
                ts, st, off, ln = self.cols(d, "ts", "stream", "off", "len")
                for i in idx.tolist():
                    hits.append(
                        (
                            int(ts[i]),
                            RAW[(dicts["group"], dicts["stream"][st[i] - 1])],
                            int(off[i]),
                            int(ln[i]),
                        )
                    )
        hits.sort(reverse=True)
        return read_messages(hits[:10000])

    def q4(self):
        return q4_missing(self.raw_paths, self.total, q4_from_files(self.raw_paths))


class DuckRaw:
    """(d) DuckDB over the raw stream files: what a user would write without logsvc."""

    def __init__(self, root: Path) -> None:
        self.glob = str(root / "groups" / "*" / "*.log")
        # one row per line ("<iso timestamp> <message>"): read_text + split on LF (read_csv would split on the CRs)
        self.lines = f"(SELECT unnest(string_split(rtrim(content, chr(10)), chr(10))) AS line FROM read_text('{self.glob}'))"

    def run(self, sql: str, params=()):
        con = duck()
        rows = con.execute(sql, list(params)).fetchall()
        con.close()
        return rows

    def q1(self):
        return self.run(f"""
            WITH r AS (
              SELECT epoch_ms(CAST(left(line, 23) AS TIMESTAMP)) AS ts,
                     CAST(regexp_extract(line, '\\tDuration: ([0-9.]+) ms', 1) AS DOUBLE) AS duration,
                     CAST(regexp_extract(line, 'Max Memory Used: ([0-9]+) MB', 1) AS DOUBLE) * 1e6 AS maxmem
              FROM {self.lines} WHERE substr(line, 26, 7) = 'REPORT ')
            SELECT ts // 300000 * 300000 AS b, avg(duration),
                   list_sort(list(duration))[greatest(1, ceil(0.99 * count(duration)))::BIGINT], max(maxmem)
            FROM r GROUP BY b""")

    def q2(self):
        return self.run(f"""
            SELECT CASE WHEN substr(line, 26, 1) = '{{' THEN json_extract_string(substr(line, 26), '$.level') END AS level,
                   epoch_ms(CAST(left(line, 23) AS TIMESTAMP)) // 3600000 * 3600000 AS b, count(*)
            FROM {self.lines} GROUP BY ALL""")

    def q3(self, rid: str):
        rows = self.run(
            f"""
            SELECT epoch_ms(CAST(left(line, 23) AS TIMESTAMP)), substr(line, 26) FROM {self.lines}
            WHERE contains(line, ?) AND regexp_matches(substr(line, 26),
                  '^(?:(?:START|END|REPORT) RequestId: ' || ? || '|\\[[A-Z]+\\]\\t[^\\t]+\\t' || ? || '\\t)')""",
            (rid, rid, rid),
        )
        return [(t, m.replace("\r", "\n")) for t, m in rows]

    def q4(self):
        return self.run(f"""
            SELECT CASE WHEN regexp_matches(line, '^[^ ]+ [^ ]* [^ ]* ') THEN split_part(line, ' ', 3) END AS b, count(*)
            FROM {self.lines} GROUP BY ALL""")


class Rows:
    """(e) the row engine, in-process: read the files, split and parse events, feed rows."""

    def __init__(self, files: list[tuple[str, str, Path]], window: tuple[int, int]) -> None:
        self.files = files
        self.window = window

    def run(self, text: str):
        from logsvc import insights
        from logsvc.insights.values import EvalContext
        from logsvc.model import LogEvent

        plan = insights.compile(text)
        run = plan.start(
            limit=10_000, ctx=EvalContext(None, self.window[0], self.window[1], END_MS)
        )
        add, event_row = run.add, F.event_row
        for group, stream, path in self.files:
            data = path.read_bytes()
            for ev in lines.split_events(data, flush=True)[0]:
                pe = lines.parse_event(ev.text)
                e = LogEvent(
                    group,
                    stream,
                    ev.start,
                    pe.timestamp or 0,
                    pe.timestamp or 0,
                    pe.message,
                    pe.fields,
                    ev.end,
                )
                add(event_row(e, account=ACCOUNT, ptr=None))
        return run.finish()

    def q1(self):
        out = []
        for r in self.run(Q1):
            d = dict(r)
            ms = int(
                datetime.strptime(d["bin(5m)"], "%Y-%m-%d %H:%M:%S.%f")
                .replace(tzinfo=UTC)
                .timestamp()
                * 1000
            )
            out.append((ms, d["avg(@duration)"], d["pct(@duration, 99)"], d["max(@maxMemoryUsed)"]))
        return out

    def q2(self):
        out = []
        for r in self.run(Q2):
            d = dict(r)
            ms = int(
                datetime.strptime(d["bin(1h)"], "%Y-%m-%d %H:%M:%S.%f")
                .replace(tzinfo=UTC)
                .timestamp()
                * 1000
            )
            out.append((d.get("level"), ms, d["count(*)"]))
        return out

    def q3(self, rid: str):
        out = []
        for r in self.run(Q3.format(rid=rid)):
            d = dict(r)
            ms = int(
                datetime.strptime(d["@timestamp"], "%Y-%m-%d %H:%M:%S.%f")
                .replace(tzinfo=UTC)
                .timestamp()
                * 1000
            )
            out.append((ms, d["@message"]))
        return out

    def q4(self):
        return [(dict(r).get("b"), dict(r)["count(*)"]) for r in self.run(Q4)]


RAW: dict[tuple[str, str], str] = {}  # (group, stream) -> path of the stream file


# ---------------------------------------------------------------------------------------------
# import time and RSS of a library in a fresh interpreter


def probe(lib: str, pq_dir: str) -> None:
    def rss() -> tuple[int, int]:
        st = Path("/proc/self/status").read_text()
        get = lambda k: int(re.search(k + r":\s+(\d+)", st)[1]) // 1024  # noqa: E731
        return get("VmRSS"), get("VmHWM")

    base = rss()[0]
    t = time.perf_counter()
    if lib == "duckdb":
        import duckdb  # noqa: F401
    elif lib == "pyarrow":
        import pyarrow.compute
        import pyarrow.parquet  # noqa: F401
    elif lib == "numpy":
        import numpy  # noqa: F401
    imp = (time.perf_counter() - t) * 1000
    after_import = rss()[0]
    t = time.perf_counter()
    if lib == "duckdb":
        duck()
    connect = (time.perf_counter() - t) * 1000
    files = sorted(Path(pq_dir).rglob("*.parquet"))
    if lib == "duckdb":
        d = Duck(files, [], 0)
        d.q1()
        d.q2()
    elif lib == "pyarrow":
        a = Arrow(files, [], 0)
        a.q1()
        a.q2()
    now, peak = rss()
    print(
        json.dumps(
            {
                "lib": lib,
                "import_ms": round(imp, 1),
                "connect_ms": round(connect, 1),
                "rss_base": base,
                "rss_import": after_import,
                "rss_after_q": now,
                "hwm": peak,
            }
        )
    )


# ---------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--row-repeat", type=int, default=1, help="repeats for the (slow) row engine")
    ap.add_argument("--block-lines", type=int, default=2048)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument(
        "--skip-rows", action="store_true", help="skip the row engine (e) and the answer check"
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="for large corpora: only the fast extractor, Parquet per group+day read by DuckDB, the msg "
        "column and the raw-file baseline (once); no row engine",
    )
    ap.add_argument("--probe", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--probe-dir", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        probe(args.probe, args.probe_dir)
        return
    root = args.dir or HERE / "corpus" / f"insights-{args.events}"
    t = time.perf_counter()
    info = corpus(root, args.events)
    print(
        f"corpus: {info['lines']:,} lines, {info['bytes'] / 1e6:.1f} MB, {info['streams']} streams "
        f"({time.perf_counter() - t:.1f} s); load {load():.2f}",
        flush=True,
    )
    files = stream_files(root, info)
    for g, s, p in files:
        RAW[(g, s)] = str(p)
    raw_paths = [str(p) for _, _, p in files]
    raw_bytes = info["bytes"]

    import duckdb
    import numpy
    import pyarrow

    print(
        f"duckdb {duckdb.__version__}, pyarrow {pyarrow.__version__}, numpy {numpy.__version__}; "
        f"Python {sys.version.split()[0]}; {os.cpu_count()} cores",
        flush=True,
    )

    nan = float("nan")
    base_s = stream_s = stream_w_s = ext_s = nan
    same: object = "-"
    if args.quick:
        args.skip_rows = True
    t = time.perf_counter()
    for _, _, path in (
        [] if args.quick else files
    ):  # what the ingester pays already: split events, event times
        for ev in lines.split_events(path.read_bytes(), flush=True)[0]:
            lines.time_and_message(ev.text)
    if not args.quick:
        base_s = time.perf_counter() - t
        stream_s, stream_w_s, ext_s, same = streaming_and_exact(files, args.block_lines, root)
    t = time.perf_counter()
    blocks, slow = extract_fast(files, args.block_lines)
    fast_s = time.perf_counter() - t
    total = sum(len(b["cols"]["ts"]) for b in blocks)
    print(
        f"extract, fast path: {fast_s:.1f} s = {fast_s / total * 1e6:.2f} us/event, {slow:,} events took the exact "
        f"path; columns equal to the exact path's (json aside): {same}; load {load():.2f}",
        flush=True,
    )
    builds = {}
    out = root / "columns"
    if out.exists():
        shutil.rmtree(out)
    for name, fn in (
        ("parquet per block", lambda: build_parquet_blocks(blocks, out / "pq-block")),
        (
            "parquet per 256-event block",
            lambda: build_parquet_blocks(rechunk(blocks, 256), out / "pq-small"),
        ),
        (
            "parquet per group+day",
            lambda: build_parquet_partitions(blocks, out / "pq-day", single=False),
        ),
        (
            "parquet per group+day, a row group per 2,048 rows",
            lambda: build_parquet_partitions(
                blocks, out / "pq-day-rg", single=False, row_group=2048
            ),
        ),
        ("parquet one file", lambda: build_parquet_partitions(blocks, out / "pq-one", single=True)),
        ("numpy per group", lambda: build_numpy(blocks, out / "npy")),
    ):
        if args.quick and name != "parquet per group+day":
            continue

        t = time.perf_counter()
        paths = fn()
        s = time.perf_counter() - t
        size = size_of(paths)
        builds[name] = {
            "files": len(paths),
            "write_s": s,
            "write_us_per_event": s / total * 1e6,
            "bytes": size,
            "ratio": size / raw_bytes,
            "load": load(),
            "paths": paths,
        }
        print(
            f"build {name}: {len(paths)} files, write {s:.1f} s ({s / total * 1e6:.2f} us/event), "
            f"{size / 1e6:.1f} MB = {size / raw_bytes:.3f}x raw; load {load():.2f}",
            flush=True,
        )
    # size without the JSON text column (what promoting JSON keys to typed columns would leave)
    import pyarrow.parquet as pq

    no_json = out / "pq-day-nojson"
    for p in builds["parquet per group+day"]["paths"]:
        t_ = pq.read_table(p).drop_columns(["json"])
        dst = no_json / p.relative_to(out / "pq-day")
        write_parquet(t_, dst)
    nj = size_of(list(no_json.rglob("*.parquet")))
    builds["parquet per group+day, no json column"] = {"bytes": nj, "ratio": nj / raw_bytes}
    print(
        f"size parquet per group+day without the json column: {nj / 1e6:.1f} MB = {nj / raw_bytes:.3f}x raw",
        flush=True,
    )

    # the alternative the brief rules out by default: the message text in the copy too (size vs Q4)
    t = time.perf_counter()
    msg_paths = build_messages(files, out / "pq-msg")
    msg_s = time.perf_counter() - t
    ms_size = size_of(msg_paths)
    builds["message text column alone, per group (zstd)"] = {
        "files": len(msg_paths),
        "write_s": msg_s,
        "write_us_per_event": msg_s / total * 1e6,
        "bytes": ms_size,
        "ratio": ms_size / raw_bytes,
    }
    print(
        f"build message column: {ms_size / 1e6:.1f} MB = {ms_size / raw_bytes:.3f}x raw; load {load():.2f}",
        flush=True,
    )

    # a request id to look for: an invocation in the middle of a middle stream
    mid = blocks[len(blocks) // 2]["cols"]
    rid = next(r for r in mid["rid"][len(mid["rid"]) // 2 :] if r)
    rid_blocks = [Path(b["pq"]) for b in blocks if rid in b["cols"]["rid"] and "pq" in b]
    # the candidate blocks the block index would give, as a predicate row-group statistics can prune by
    cand = [
        (b["stream"], b["cols"]["off"][0], b["cols"]["off"][-1])
        for b in blocks
        if rid in b["cols"]["rid"]
    ]
    cand_sql = (
        "AND ("
        + " OR ".join(f"(stream = '{s_}' AND off BETWEEN {lo} AND {hi})" for s_, lo, hi in cand)
        + ")"
    )
    index_bytes = (
        sum(f.stat().st_size for f in (root / "index").rglob("*") if f.is_file())
        if (root / "index").exists()
        else 0
    )
    window = (min(min(b["cols"]["ts"]) for b in blocks), max(max(b["cols"]["ts"]) for b in blocks))
    blocks.clear()

    cands = (
        {
            "(a) DuckDB, Parquet per group+day": Duck(
                builds["parquet per group+day"]["paths"], raw_paths, total
            ),
            "(d) DuckDB read_text over raw files": DuckRaw(root),
        }
        if args.quick
        else {
            "(a) DuckDB, Parquet per block": Duck(
                builds["parquet per block"]["paths"], raw_paths, total
            ),
            "(a) DuckDB, Parquet per 256-event block": Duck(
                builds["parquet per 256-event block"]["paths"], raw_paths, total
            ),
            "(a) DuckDB, Parquet per group+day": Duck(
                builds["parquet per group+day"]["paths"], raw_paths, total
            ),
            "(a) DuckDB, Parquet per group+day, a row group per 2,048 rows": Duck(
                builds["parquet per group+day, a row group per 2,048 rows"]["paths"],
                raw_paths,
                total,
            ),
            "(a) DuckDB, Parquet one file": Duck(
                builds["parquet one file"]["paths"], raw_paths, total
            ),
            "(b) pyarrow.compute, Parquet per group+day": Arrow(
                builds["parquet per group+day"]["paths"], raw_paths, total
            ),
            "(b) pyarrow.compute, Parquet per block": Arrow(
                builds["parquet per block"]["paths"], raw_paths, total
            ),
            "(c) NumPy mmap per group": Numpy(out / "npy", raw_paths, total),
            "(d) DuckDB read_text over raw files": DuckRaw(root),
        }
    )
    if args.quick:  # Q4 from the msg column (reading the files in Python is measured below)
        cands["(a) DuckDB, Parquet per group+day"].q4 = lambda: q4_messages(msg_paths)
    if not args.skip_rows:
        cands["(e) row engine (logsvc.insights)"] = Rows(files, window)
    truth: dict = {}
    table = {}
    norms = {"q1": norm_q1, "q2": norm_q2, "q3": norm_q3, "q4": norm_q4}
    for name, c in cands.items():
        rep = (
            args.row_repeat
            if name.startswith("(e)") or (args.quick and name.startswith("(d)"))
            else args.repeat
        )
        row = {}
        for q in ("q1", "q2", "q3", "q4"):
            fn = (lambda c=c: c.q3(rid)) if q == "q3" else getattr(c, q)
            ms, ld, ans = timed(fn, rep)
            row[q] = (ms, ld)
            got = norms[q](ans)
            if name.startswith("(e)"):
                truth[q] = got
            print(f"{name} {q}: {ms:,.1f} ms (load {ld:.2f}); {len(got)} answer rows", flush=True)
            row[q + "_ans"] = got
        table[name] = row
        if "a row group per" in name:
            ms, ld, ans = timed(lambda c=c: c.q3(rid, None, cand_sql), args.repeat)
            row["q3_candidate"] = (ms, ld)
            print(
                f"{name} q3 with the candidate blocks as a predicate: {ms:,.1f} ms (load {ld:.2f})",
                flush=True,
            )
        if name.startswith("(a) DuckDB, Parquet per block"):
            ms, ld, ans = timed(lambda c=c: c.q3(rid, rid_blocks), args.repeat)
            row["q3_candidate"] = (ms, ld)
            print(
                f"{name} q3 over the {len(rid_blocks)} candidate block file(s) only: {ms:,.1f} ms (load {ld:.2f})",
                flush=True,
            )
    q4_paths = {}
    for name, fn in (
        (
            "DuckDB over a message column in Parquet (not kept by default)",
            lambda: q4_messages(msg_paths),
        ),
        ("regex over each file's bytes (re.findall)", lambda: q4_from_files(raw_paths)),
        ("bytes.split per line", lambda: q4_split(raw_paths)),
        (
            "split_events + time_and_message + the row engine's glob matcher",
            lambda: q4_events(files),
        ),
    ):
        if args.quick and name.startswith(("regex", "split_events")):
            continue
        ms, ld, ans = timed(fn, args.repeat)
        ok = same_answer(norm_q4(q4_missing(raw_paths, total, ans)), truth["q4"]) if truth else "-"
        q4_paths[name] = (ms, ld, ok)
        print(f"Q4 path {name}: {ms:,.1f} ms (load {ld:.2f}); same as (e): {ok}", flush=True)
    if truth:
        for name, row in table.items():
            bad = [q for q in truth if not same_answer(row[q + "_ans"], truth[q])]
            exact_avg = all(
                row["q1_ans"].get(k, (None,))[0] == v[0] for k, v in truth["q1"].items()
            )
            row["check"] = ("same as (e)" if not bad else "DIFFERS: " + ",".join(bad)) + (
                "" if exact_avg or "q1" in bad else " (Q1 avg equal to 1e-12, not in every bit)"
            )
            if bad:
                for q in bad:
                    a, b = row[q + "_ans"], truth[q]
                    if isinstance(a, dict):
                        diff = [
                            (k, a.get(k), b.get(k))
                            for k in sorted(set(a) | set(b), key=str)
                            if a.get(k) != b.get(k)
                        ][:5]
                    else:
                        diff = (
                            [x for x in a if x not in b][:3]
                            + ["|"]
                            + [x for x in b if x not in a][:3]
                        )
                    print(f"  {name} {q} differs: {diff}", flush=True)
    # library import time and RSS, each in a fresh interpreter
    probes = {}
    for lib in ("numpy", "pyarrow", "duckdb"):
        r = subprocess.run(
            [sys.executable, __file__, "--probe", lib, "--probe-dir", str(out / "pq-day")],
            capture_output=True,
            text=True,
            check=True,
        )
        probes[lib] = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"probe {lib}: {probes[lib]}; load {load():.2f}", flush=True)

    print()
    print(
        f"## {info['lines']:,} events, {raw_bytes / 1e6:.1f} MB raw, {info['streams']} streams; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; medians of {args.repeat} (row engine: {args.row_repeat})"
    )
    print()
    print(
        "| candidate | Q1 REPORT stats | Q2 count by level, bin | Q3 one @requestId | Q4 parse + stats | answers |"
    )
    print("|---|---|---|---|---|---|")
    for name, row in table.items():
        cells = [f"{row[q][0]:,.1f} ms (ld {row[q][1]:.1f})" for q in ("q1", "q2", "q3", "q4")]
        if "q3_candidate" in row:
            cells[2] += f"; {row['q3_candidate'][0]:,.1f} ms given the candidate block"
        print(f"| {name} | " + " | ".join(cells) + f" | {row.get('check', '-')} |")
    print()
    print("| Q4's message text, read from the stream files by | ms | same answer as (e) |")
    print("|---|---|---|")
    for name, (ms, ld, ok) in q4_paths.items():
        print(f"| {name} | {ms:,.1f} (ld {ld:.1f}) | {ok} |")
    print()
    n_ = info["lines"]
    print(
        f"ingest increment, streaming one block at a time (what the ingester would add per event): split + event time "
        f"{base_s / n_ * 1e6:.2f} us (paid already); fast extraction +{(stream_s - base_s) / n_ * 1e6:.2f} us; "
        f"extraction + Parquet per block +{(stream_w_s - base_s) / n_ * 1e6:.2f} us"
    )
    print(
        f"extract per event: exact path {ext_s / total * 1e6:.2f} us, fast path {fast_s / total * 1e6:.2f} us, "
        f"of which split + event time (paid by the ingester already) {base_s / total * 1e6:.2f} us "
        f"({slow:,} events through the exact path; same columns: {same})"
    )
    print("| copy | files | write us/event | size | x raw |")
    print("|---|---|---|---|---|")
    for name, b in builds.items():
        print(
            f"| {name} | {b.get('files', '-')} | {b.get('write_us_per_event', 0):.2f} | {b['bytes'] / 1e6:.1f} MB | {b['ratio']:.3f} |"
        )
    if index_bytes:
        print(f"block index: {index_bytes / 1e6:.1f} MB")
    print()
    print(
        "| library | import ms | connect ms | RSS after import (MB) | RSS after Q1+Q2 (MB) | peak (MB) |"
    )
    print("|---|---|---|---|---|---|")
    for lib, p in probes.items():
        print(
            f"| {lib} | {p['import_ms']} | {p['connect_ms'] if lib == 'duckdb' else '-'} | +{p['rss_import'] - p['rss_base']} "
            f"| +{p['rss_after_q'] - p['rss_base']} | {p['hwm']} |"
        )


if __name__ == "__main__":
    main()
