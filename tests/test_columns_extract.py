"""The fast extractor gives exactly `schema.event_columns`' rows: every line format's samples, shapes
near the fast path's edges, and a generated Lambda corpus (bench/corpus.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from logsvc import lines
from logsvc.columns import extract as X
from logsvc.columns import schema
from logsvc.follow import make_event

ROOT = Path(__file__).resolve().parents[1]
RID = "8f5e3f7c-9b1a-4c2d-8e3f-0123456789ab"
TS = "2026-11-27T10:00:00.123Z"
IDENT = (1234).to_bytes(8, "little") + b"h" * 64

EDGE = [
    f"START RequestId: {RID} Version: $LATEST",
    f'START RequestId: {RID} Version: {{"a":1}}',
    f"START RequestId: {RID}",
    f"END RequestId: {RID}",
    f"END RequestId: {RID} trailing",
    f"REPORT RequestId: {RID}\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 67 MB\t",
    f"REPORT RequestId: {RID}\tDuration: 2 ms\tBilled Duration: 2 ms\tMemory Size: 1024 MB\tMax Memory Used: 99 MB\t"
    "Init Duration: 250.50 ms\t",
    f"REPORT RequestId: {RID}\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 1 MB\t"
    "\nXRAY TraceId: 1-5e1b4151-5ac6c58dc39a5c3b6a4b2d0f\tSegmentId: 6f2e4d3c2b1a0f9e\tSampled: true\t",
    f"REPORT RequestId: {RID}\tDuration: 1 ms\tStatus: timeout",
    f"[INFO]\t{TS}\t{RID}\tprocessed order 17",
    f'[ERROR]\t{TS}\t{RID}\tfailed: {{"code": 5}}',
    f"[VERYLONGLEVEL]\t{TS}\t{RID}\tx",
    f"[INFO]\t2026-13-27T10:00:00.123Z\t{RID}\tbad month",
    f"[INFO]\t{TS}\t\tempty id",
    f"{TS} plain message after a timestamp",
    f"{TS} {TS} START RequestId: {RID} Version: 1",
    f'{TS} {{"level": "warn", "n": 1.50, "big": 1e999, "@t": 3, "a": {{"b": [1, {{"c": null}}]}}}}',
    '{"level": "info", "msg": "ok", "i": 12, "f": 0.5, "t": true, "e": {}, "l": []}',
    '{"level": 5}',
    '{"level": "\\ud800 lone", "k\\udfff": "x"}',
    "{not json",
    "{}",
    "[1, 2]",
    "plain text line",
    "2026 starts with a digit",
    f"{RID} Task timed out after 3.00 seconds",
    "INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: arn:aws:lambda:::runtime:abc",
    'embedded json: {"a": 1}',
    'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\nValueError: boom',
    "\u00e9t\u00e9 \u2603 non-ascii",
    "x" * (1_048_576 + 10),
]


def _exact_rows(group: str, stream: str, data: bytes, ingest: int) -> list[dict]:
    evs, _ = lines.split_events(data, flush=True)
    return [
        schema.event_columns(make_event(group, stream, e.start, e.end, e.text, ingest, IDENT))
        for e in evs
    ]


def _fast_rows(group: str, stream: str, data: bytes, ingest: int) -> tuple[list[dict], int]:
    evs, _ = lines.split_events(data, flush=True)
    cols = X.new_columns()
    slow = X.extract(cols, group, stream, IDENT.hex(), 0, evs, lambda _off: ingest)
    return X.rows(cols), slow


def _data(texts: list[str]) -> bytes:
    return b"".join(
        lines.format_line(1_796_000_000_000 + i, t)
        if not t[:1].isdigit()
        else (t.replace("\n", "\r") + "\n").encode()
        for i, t in enumerate(texts)
    )


@pytest.mark.parametrize("group", ["/aws/lambda/orders", "app/plain"])
def test_every_format_sample_gives_the_exact_row(group: str) -> None:
    texts = [s for fmt in lines.FORMATS for s in fmt.samples]
    assert len(texts) > 20
    # as written by logsvc (timestamp prefix, escaped) and as raw lines a program appends
    for data in (_data(texts), "".join(t.replace("\n", "\r") + "\n" for t in texts).encode()):
        fast, _ = _fast_rows(group, "s", data, 1_796_000_000_500)
        exact = _exact_rows(group, "s", data, 1_796_000_000_500)
        assert len(fast) == len(exact) > 0
        for f, e in zip(fast, exact, strict=True):
            assert f == e


@pytest.mark.parametrize("group", ["/aws/lambda/orders", "app/plain"])
def test_edge_shapes_give_the_exact_row(group: str) -> None:
    for data in (_data(EDGE), "".join(t.replace("\n", "\r") + "\n" for t in EDGE).encode()):
        fast, slow = _fast_rows(group, "s", data, 1_796_000_000_500)
        exact = _exact_rows(group, "s", data, 1_796_000_000_500)
        assert len(fast) == len(exact) >= len(EDGE) - 1
        for f, e in zip(fast, exact, strict=True):
            assert f == e, (f["msg"][:80], {k: (f[k], e[k]) for k in f if f[k] != e[k]})
        assert 0 < slow < len(fast)  # both paths ran


def test_a_generated_lambda_corpus_gives_the_exact_rows(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import corpus

    info = corpus.generate(tmp_path, 12_000, streams=6, end_ms=1_796_256_000_000, procs=1)
    from logsvc.store import Store

    total = slow_total = 0
    for group, stream, path in Store(tmp_path).iter_stream_files():
        data = path.read_bytes()
        fast, slow = _fast_rows(group, stream, data, 1_796_256_000_001)
        exact = _exact_rows(group, stream, data, 1_796_256_000_001)
        assert len(fast) == len(exact)
        for f, e in zip(fast, exact, strict=True):
            assert f == e, (f["msg"][:80], {k: (f[k], e[k]) for k in f if f[k] != e[k]})
        total += len(fast)
        slow_total += slow
    assert total >= info["lines"] * 0.5
    assert slow_total < total * 0.05, (slow_total, total)  # the fast path settles most events


def test_lone_surrogates_are_stored_losslessly_in_fj(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    data = b'{"level": "\\ud800 lone", "k\\udfff": "x", "n": 1}\n{"level": "ok"}\n'
    fast, _ = _fast_rows("g", "s", data, 5)
    cols = {c: [r[c] for r in fast] for c in schema.NAMES}
    X.storable(cols)
    path = tmp_path / "t.parquet"
    pq.write_table(schema.arrow_table(X.rows(cols)), path)
    back = pq.read_table(path).to_pylist()
    assert (
        json.loads(back[0]["fj"])
        == json.loads(fast[0]["fj"])
        == {"level": "\ud800 lone", "k\udfff": "x", "n": 1}
    )
    assert back[0]["level"] == "\ufffd lone"
    assert X.surrogate_escaped(back[0]["fj"]) and not X.surrogate_escaped(back[1]["fj"])
    assert back[1] == fast[1]
