"""FilterLogEvents through boto3: logsvc's CloudWatch endpoint beside moto in-process, same events.

Owns the CloudWatch comparison of `bench/run`: every line of the corpus is put into moto (same
groups, same streams, same messages, in order) in a child process, so moto's memory and CPU do not
weigh on the server; then the same FilterLogEvents calls (one group, a selective pattern, every page
followed until there is no nextToken) are timed against both. moto rejects events older than 14
days, so its copies are shifted in time by a constant; no time range is used, so both answer the
same question.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench_core import Figure, pct

GROUP = "/aws/lambda/orders"
PATTERNS = ["zebracorn42", '"ledger mismatch detected"']
CREDS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}


def _client(endpoint: str | None = None):
    import boto3

    return boto3.client("logs", endpoint_url=endpoint, **CREDS)


def filter_all(client, group: str, pattern: str) -> list[dict]:
    """Every matching event, following nextToken as a CloudWatch client must."""
    out: list[dict] = []
    kw = {"logGroupName": group, "filterPattern": pattern}
    while True:
        resp = client.filter_log_events(**kw)
        out += resp.get("events", [])
        token = resp.get("nextToken")
        if not token:
            return out
        kw["nextToken"] = token


def time_calls(fn, reps: int, budget: float) -> list[float]:
    fn()
    times: list[float] = []
    spent = 0.0
    while len(times) < reps and (len(times) < 5 or spent < budget):
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        times.append(dt * 1000)
        spent += dt
    return times


def _read_events(data: Path) -> dict[tuple[str, str], list[tuple[int, str]]]:
    """(group, stream) -> [(timestamp ms, message)] read straight from the stream files."""
    from logsvc import lines
    from logsvc.store import Store

    store = Store(data)
    out: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for group, stream, _path in store.iter_stream_files():
        if group.startswith("/bench/"):
            continue
        with store.open_stream(group, stream) as f:
            events, _ = lines.split_events(f.read(), flush=True)  # the one reader of stream lines
        evs = [lines.time_and_message(ev.text) for ev in events]
        evs = [(ts or 0, message) for ts, message in evs]
        evs.sort(key=lambda e: e[0])  # stable: PutLogEvents needs time order within a batch
        out[(group, stream)] = evs
    return out


def _moto_child(data: str, patterns: list[str], reps: int, conn) -> None:
    try:
        from moto import mock_aws

        t = time.perf_counter()
        streams = _read_events(Path(data))
        newest = max(evs[-1][0] for evs in streams.values() if evs)
        shift = int(time.time() * 1000) - 60_000 - newest
        n = sum(len(v) for v in streams.values())
        with mock_aws():
            c = _client()
            made = set()
            for (group, stream), evs in streams.items():
                if group not in made:
                    c.create_log_group(logGroupName=group)
                    made.add(group)
                c.create_log_stream(logGroupName=group, logStreamName=stream)
                batch: list[dict] = []
                size = 0
                for ts, msg in evs:
                    if len(batch) == 10_000 or size + len(msg) + 26 > 1_000_000:
                        c.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
                        batch, size = [], 0
                    batch.append({"timestamp": ts + shift, "message": msg})
                    size += len(msg.encode()) + 26
                if batch:
                    c.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
            load = time.perf_counter() - t
            res = {"events_loaded": n, "load_seconds": load, "patterns": {}}
            for p in patterns:
                found = filter_all(c, GROUP, p)
                times = time_calls(lambda p=p: filter_all(c, GROUP, p), reps, budget=60)
                res["patterns"][p] = {"times": times, "count": len(found)}
        conn.send(res)
    except Exception as e:
        import traceback

        conn.send({"error": f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"})


def bench_filter_vs_moto(
    endpoint: str, data: Path, info: dict, log=print, reps: int = 20
) -> list[Figure]:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    log(f"    moto: loading {info['lines']:,} events into moto in a child process ...")
    proc = ctx.Process(target=_moto_child, args=(str(data), PATTERNS, reps, child), daemon=True)
    proc.start()
    # wait for moto before timing logsvc: running both at once would share the two cores
    moto = (
        parent.recv() if parent.poll(1800) else {"error": "moto child gave no result within 30 min"}
    )
    proc.join(10)
    if "error" in moto:
        raise RuntimeError(f"moto: {moto['error']}")
    log(f"    moto: {moto['events_loaded']:,} events loaded in {moto['load_seconds']:.0f} s")
    c = _client(endpoint)
    figs = []
    for p in PATTERNS:
        found = filter_all(c, GROUP, p)
        times = time_calls(lambda p=p: filter_all(c, GROUP, p), reps, budget=1e9)
        m = moto["patterns"][p]
        p50, mp50 = statistics.median(times), statistics.median(m["times"])
        r = mp50 / p50
        note = (
            f"FilterLogEvents(logGroupName={GROUP}, filterPattern={p}) following nextToken to the end; "
            f"logsvc {len(found)} events, moto {m['count']} events; moto holds all {moto['events_loaded']:,} corpus events "
            f"(loaded in {moto['load_seconds']:.0f} s; {len(m['times'])} timed calls); boto3 client in both"
        )
        figs.append(
            Figure(
                "cloudwatch",
                f"FilterLogEvents `{p}` (boto3) vs moto",
                p50,
                "ms",
                alts={"moto": mp50},
                p99=pct(times, 99),
                target="≥ 100× faster than moto at 1M events (#6)",
                met=r >= 100,
                note=note,
                reps=len(times),
            )
        )
        log(
            f"    FilterLogEvents {p}: logsvc p50 {p50:.1f} ms, moto p50 {mp50:.0f} ms ({r:.0f}×) | {note}"
        )
    return figs
