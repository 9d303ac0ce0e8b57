"""Synthetic Lambda-style corpora for benchmarks: many groups and streams, mixed formats, planted rare tokens.

Deterministic for a given seed, so every run measures the same bytes. Not committed output: corpora are
written under bench/corpus/ (git-ignored) or a directory you name.

What a corpus holds: `streams` stream files spread over 10 `/aws/lambda/<fn>` groups, each a run of
Lambda invocations (INIT_START on a cold start, START, 2-9 lines of Python-runtime text, JSON lines or
bare text with a Python traceback now and then, END, REPORT), with high-cardinality request ids, order
ids, users and IPs, time-ordered over `span_hours` ending at `end_ms`. Planted, for benchmarks that
need a known answer:

- RARE_TOKENS: one line each, in the middle of streams 0, 1, 2 (`saw <tok> in payload`);
- LAST_TOKEN: the very last line of the last stream (ingest is complete once this is indexed);
- FATAL_JSON: JSON lines whose `level` is `FATAL` (a rare value; JSON-pattern benchmark), 3 of them;
- CRITICAL_TEXT: Python-runtime lines at level `[CRITICAL]` (delimited-pattern benchmark), 3 of them.

Why it is written the way it is: generating 10M lines must take well under a minute on two cores, so
each line costs a few `getrandbits` calls and one f-string (no `random.choice`/`randint`, no
`json.dumps`, no datetime per line), files are written in ~1 MB chunks, and streams are generated in
a process pool (each stream has its own seed, so the bytes do not depend on the number of workers).
"""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime
from pathlib import Path

FUNCTIONS = [
    "orders",
    "payments",
    "inventory",
    "shipping",
    "emails",
    "auth",
    "search",
    "reports",
    "thumbnails",
    "webhooks",
]
WORDS = (
    "processing order request user cart item payment charge refund inventory reserve release shipment label "
    "email sent queued retry timeout connection database query cache hit miss validated parsed received "
    "completed started failed warning customer account session token product price total discount "
    "batch worker handler lookup update insert delete fetch store upload download render notify audit "
    "schedule invoice ledger export import sync region zone backup gateway"
).split()
assert len(WORDS) == 64, len(WORDS)
RARE_TOKENS = ["zebracorn42", "quasarflux7", "moonbeam-omega"]
LAST_TOKEN = "omegasentinel99"
FATAL_JSON = "ledger mismatch detected"
CRITICAL_TEXT = "disk quota exhausted on /mnt/data"
PLANT_COUNT = 3  # FATAL_JSON and CRITICAL_TEXT lines each
DAY_MS = 24 * 3600 * 1000

_SECS: dict[int, str] = {}


def iso(ms: int) -> str:
    """ISO-8601 UTC with milliseconds, as logsvc writes it ("2026-11-27T21:46:35.123Z")."""
    sec, frac = divmod(ms, 1000)
    head = _SECS.get(sec)
    if head is None:
        if len(_SECS) > 100_000:
            _SECS.clear()
        head = _SECS[sec] = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{head}.{frac:03d}Z"


def _uuid(bits: int) -> str:
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _stream_lines(seed: int, s: int, per_stream: int, start_ms: int, end_ms: int) -> list[str]:
    """Every line of stream `s` ("<iso> <message>\\n" strings), deterministic in (seed, s)."""
    rng = random.Random(seed * 1_000_003 + s)
    bits = rng.getrandbits
    rnd = rng.random
    W = WORDS
    TEXT_LEVELS = ("INFO", "INFO", "INFO", "WARNING", "DEBUG", "INFO", "INFO", "INFO")
    JSON_LEVELS = ("INFO", "INFO", "DEBUG", "WARN", "ERROR", "INFO", "INFO", "DEBUG")
    out: list[str] = []
    append = out.append
    ts = start_ms + bits(22) % 3_600_000
    # invocations average ~7.5 lines; spread them evenly over the span
    step = max(1, (end_ms - ts) // max(1, per_stream + 1))
    cold = True
    n = 0
    while n < per_stream:
        rid = _uuid(bits(128))
        stamp = iso(ts)
        if cold:
            append(
                f"{stamp} INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:{bits(256):064x}\n"
            )
            n += 1
        append(f"{stamp} START RequestId: {rid} Version: $LATEST\n")
        k = 2 + bits(3) % 8
        for _ in range(k):
            ts += bits(6) % 41
            stamp = iso(ts)
            kind = rnd()
            order = f"ord-{1 + bits(24) % 10_000_000:07d}"
            if kind < 0.45:
                msg = " ".join([W[bits(6)] for _ in range(4 + bits(4) % 9)])
                append(
                    f"{stamp} [{TEXT_LEVELS[bits(3)]}]\t{stamp}\t{rid}\t{msg} {order} user={1 + bits(17) % 99999}\n"
                )
            elif kind < 0.85:
                msg = " ".join([W[bits(6)] for _ in range(3 + bits(3) % 6)])
                amount = (100 + bits(16)) / 100
                ip = f"10.{bits(8)}.{bits(8)}.{1 + bits(8) % 254}"
                append(
                    f'{stamp} {{"timestamp": "{stamp}", "level": "{JSON_LEVELS[bits(3)]}", "requestId": "{rid}", '
                    f'"message": "{msg}", "orderId": "{order}", "amount": {amount}, "ip": "{ip}"}}\n'
                )
            elif kind < 0.97:
                msg = " ".join([W[bits(6)] for _ in range(3 + bits(3))])
                append(f"{stamp} {msg} latency_ms={1 + bits(10) % 900}\n")
            else:
                append(
                    f"{stamp} [ERROR]\t{stamp}\t{rid}\tfailed to process {order}\rTraceback (most recent call last):\r"
                    f'  File "/var/task/app.py", line {10 + bits(9) % 291}, in handler\r    charge(order)\r'
                    f"ValueError: card declined for {order}\n"
                )
        n += k
        ts += 1 + bits(6) % 50
        stamp = iso(ts)
        dur = 0.5 + bits(20) / 1166.0
        init = f"\tInit Duration: {80 + bits(16) / 81.0:.2f} ms" if cold else ""
        append(f"{stamp} END RequestId: {rid}\n")
        append(
            f"{stamp} REPORT RequestId: {rid}\tDuration: {dur:.2f} ms\tBilled Duration: {int(dur) + 1} ms\t"
            f"Memory Size: 128 MB\tMax Memory Used: {40 + bits(7) % 89} MB{init}\n"
        )
        n += 3
        cold = False
        # never backwards: lines of a stream are in time order (CloudWatch's PutLogEvents requires it)
        ts = max(ts, min(ts + int(step * (k + 3) * (0.5 + rnd())), end_ms))
    return out


def _plant(lines: list[str], at: float, make) -> None:
    """Insert the line `make(ts)` at fraction `at` of `lines`, with the time of the line before it."""
    i = max(1, min(len(lines), int(len(lines) * at)))
    prev = lines[i - 1]
    stamp = prev[: prev.index(" ")]
    lines.insert(i, make(stamp))


def _write_stream(job: tuple) -> tuple[int, int]:
    seed, s, streams, per_stream, start_ms, end_ms, path = job
    lines = _stream_lines(seed, s, per_stream, start_ms, end_ms)
    if s < len(RARE_TOKENS):
        tok = RARE_TOKENS[s]
        _plant(lines, 0.5, lambda st, tok=tok: f"{st} [WARNING]\t{st}\t-\tsaw {tok} in payload\n")
    for j in range(PLANT_COUNT):
        if s == (streams * (j + 1)) // (PLANT_COUNT + 1):
            _plant(
                lines,
                0.3 + 0.2 * j,
                lambda st, j=j: (
                    f'{st} {{"timestamp": "{st}", "level": "FATAL", "requestId": "fatal-{j}", '
                    f'"message": "{FATAL_JSON}", "orderId": "ord-fatal{j}", "amount": 0.0, "ip": "10.0.0.{j + 1}"}}\n'
                ),
            )
        if s == (streams * (j + 1)) // (PLANT_COUNT + 1) + 1:
            _plant(
                lines,
                0.4 + 0.2 * j,
                lambda st, j=j: f"{st} [CRITICAL]\t{st}\tcrit-{j}\t{CRITICAL_TEXT}\n",
            )
    if s == streams - 1:
        last = lines[-1]
        st = last[: last.index(" ")]
        lines.append(f"{st} [WARNING]\t{st}\t-\tlast line carries {LAST_TOKEN}\n")
    nbytes = 0
    with open(path, "ab", buffering=0) as f:
        for i in range(0, len(lines), 8192):
            data = "".join(lines[i : i + 8192]).encode()
            nbytes += len(data)
            f.write(data)
    return len(lines), nbytes


def generate(
    root: Path,
    total_lines: int,
    streams: int = 200,
    seed: int = 7,
    end_ms: int | None = None,
    span_hours: float = 24,
    procs: int | None = None,
) -> dict:
    """Write about `total_lines` lines across `streams` stream files under `root/groups` (logsvc's
    layout; groups and streams are created through `Store`), spanning the `span_hours` before `end_ms`.
    Returns facts about the corpus: lines, bytes, streams, planted {token: (group, stream)}, start, end,
    and `streams_by_group` {group: [stream, ...]}."""
    from logsvc.store import Store

    store = Store(Path(root))
    end_ms = end_ms or int(datetime.now(UTC).timestamp() * 1000)
    start_ms = end_ms - int(span_hours * 3600 * 1000)
    per_stream = total_lines // streams
    name_rng = random.Random(seed)
    jobs = []
    planted: dict[str, tuple[str, str]] = {}
    by_group: dict[str, list[str]] = {}
    for s in range(streams):
        group = f"/aws/lambda/{FUNCTIONS[s % len(FUNCTIONS)]}"
        stream = f"2026/11/27/[$LATEST]{name_rng.getrandbits(128):032x}"
        path = store.ensure_stream(group, stream)
        by_group.setdefault(group, []).append(stream)
        jobs.append((seed, s, streams, per_stream, start_ms, end_ms, str(path)))
        if s < len(RARE_TOKENS):
            planted[RARE_TOKENS[s]] = (group, stream)
        if s == streams - 1:
            planted[LAST_TOKEN] = (group, stream)
    procs = procs or min(len(jobs), os.cpu_count() or 1)
    if procs > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(procs) as pool:
            results = pool.map(_write_stream, jobs, chunksize=1)
    else:
        results = [_write_stream(j) for j in jobs]
    written = sum(r[0] for r in results)
    raw_bytes = sum(r[1] for r in results)
    return {
        "lines": written,
        "bytes": raw_bytes,
        "streams": streams,
        "planted": planted,
        "start": start_ms,
        "end": end_ms,
        "streams_by_group": by_group,
    }


if __name__ == "__main__":
    import sys

    info = generate(Path(sys.argv[1]), int(sys.argv[2]))
    print(json.dumps({k: v for k, v in info.items() if k not in ("planted", "streams_by_group")}))
