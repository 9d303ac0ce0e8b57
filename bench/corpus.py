"""Synthetic Lambda-style corpora for benchmarks: many groups and streams, mixed formats, planted rare tokens.

Deterministic for a given seed, so every run measures the same bytes. Not committed output: corpora are
written under bench/corpus/ (git-ignored) or a directory you name.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path

FUNCTIONS = ["orders", "payments", "inventory", "shipping", "emails", "auth", "search", "reports", "thumbnails", "webhooks"]
WORDS = (
    "processing order request user cart item payment charge refund inventory reserve release shipment label "
    "email sent queued retry timeout connection database query cache hit miss validated parsed received "
    "completed started failed warning customer account session token product price total discount"
).split()
RARE_TOKENS = ["zebracorn42", "quasarflux7", "moonbeam-omega"]


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def invocation_lines(rng: random.Random, ts: int, cold: bool) -> list[tuple[int, str]]:
    rid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    out: list[tuple[int, str]] = []
    if cold:
        out.append((ts, "INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:" + f"{rng.getrandbits(256):064x}"))
    out.append((ts, f"START RequestId: {rid} Version: $LATEST"))
    n = rng.randint(2, 9)
    for _ in range(n):
        ts += rng.randint(0, 40)
        kind = rng.random()
        order = f"ord-{rng.randint(1, 10**7):07d}"
        if kind < 0.45:
            level = rng.choice(["INFO", "INFO", "INFO", "WARNING", "DEBUG"])
            msg = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12)))
            out.append((ts, f"[{level}]\t{iso(ts)}\t{rid}\t{msg} {order} user={rng.randint(1, 99999)}"))
        elif kind < 0.85:
            doc = {
                "timestamp": iso(ts),
                "level": rng.choice(["INFO", "INFO", "DEBUG", "WARN", "ERROR"]),
                "requestId": rid,
                "message": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))),
                "orderId": order,
                "amount": round(rng.uniform(1, 500), 2),
                "ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            }
            out.append((ts, json.dumps(doc)))
        elif kind < 0.97:
            out.append((ts, f"{' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 10)))} latency_ms={rng.randint(1, 900)}"))
        else:
            out.append(
                (
                    ts,
                    f"[ERROR]\t{iso(ts)}\t{rid}\tfailed to process {order}\rTraceback (most recent call last):\r"
                    f'  File "/var/task/app.py", line {rng.randint(10, 300)}, in handler\r    charge(order)\r'
                    f"ValueError: card declined for {order}",
                )
            )
    ts += rng.randint(1, 50)
    dur = rng.uniform(0.5, 900)
    out.append((ts, f"END RequestId: {rid}"))
    init = f"\tInit Duration: {rng.uniform(80, 900):.2f} ms" if cold else ""
    out.append(
        (ts, f"REPORT RequestId: {rid}\tDuration: {dur:.2f} ms\tBilled Duration: {int(dur) + 1} ms\tMemory Size: 128 MB\tMax Memory Used: {rng.randint(40, 128)} MB{init}")
    )
    return out


def generate(root: Path, total_lines: int, streams: int = 200, seed: int = 7, end_ms: int | None = None) -> dict:
    """Write `total_lines` lines across `streams` stream files under `root/groups` (logsvc's layout,
    written through `Store`), spanning the 24 hours before `end_ms`. Returns facts about the corpus."""
    from logsvc.lines import format_line
    from logsvc.store import Store

    rng = random.Random(seed)
    store = Store(root)
    end_ms = end_ms or int(datetime.now(UTC).timestamp() * 1000)
    start_ms = end_ms - 24 * 3600 * 1000
    per_stream = total_lines // streams
    planted: dict[str, tuple[str, str]] = {}
    written = 0
    raw_bytes = 0
    for s in range(streams):
        fn = FUNCTIONS[s % len(FUNCTIONS)]
        group = f"/aws/lambda/{fn}"
        stream = f"2026/11/27/[$LATEST]{rng.getrandbits(128):032x}"
        path = store.ensure_stream(group, stream)
        buf: list[bytes] = []
        n = 0
        ts = start_ms + rng.randint(0, 3_600_000)
        step = max(1, (end_ms - ts) // max(1, per_stream + 1))
        cold = True
        while n < per_stream:
            inv = invocation_lines(rng, ts, cold)
            for t, msg in inv:
                buf.append(format_line(min(t, end_ms), msg))
                n += 1
            cold = False
            ts = min(ts + int(step * len(inv) * rng.uniform(0.5, 1.5)), end_ms)
            if len(buf) > 5000:
                data = b"".join(buf)
                raw_bytes += len(data)
                with open(path, "ab") as f:
                    f.write(data)
                buf.clear()
        if s < len(RARE_TOKENS):
            tok = RARE_TOKENS[s]
            buf.insert(len(buf) // 2, format_line(ts, f"[WARNING]\t{iso(ts)}\t-\tsaw {tok} in payload"))
            planted[tok] = (group, stream)
            n += 1
        data = b"".join(buf)
        raw_bytes += len(data)
        with open(path, "ab") as f:
            f.write(data)
        written += n
    return {"lines": written, "bytes": raw_bytes, "streams": streams, "planted": planted, "start": start_ms, "end": end_ms}


if __name__ == "__main__":
    import sys

    info = generate(Path(sys.argv[1]), int(sys.argv[2]))
    print(json.dumps({k: v for k, v in info.items() if k != "planted"}))
