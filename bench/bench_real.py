"""The headline search table (issue #12 items 1, 2, 7): the queries users type, over the realistic corpus.

Each query is timed over HTTP against the running server and, in the same run, its baseline on the
same files (rg, or what a shell user would do, labelled for what it is). Every query's COUNT is
checked too: logsvc's matches (every page followed to the end, untimed) against rg's matching lines
turned into events. How multi-line events are counted: one line is one event, except in the
`/sam/local/*` streams, where tracebacks span several lines; there the corpus generator's own event
map (`events.json`, written by corpus_real.py while it wrote the lines, not by logsvc) turns each
matching line number into the event it belongs to, and an event counts once however many of its
lines match. An exclusion (`A -B`) is the events matching A minus the events matching B.

Never edits logsvc; never asserts on a timing. Returns `Figure`s (bench_core) plus the count checks.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from pathlib import Path

import bench_core
import corpus_real
from bench_core import Figure, Http, pct, q, sh, time_shell

REAL_VERSION = corpus_real.VERSION


def ensure_corpus(label: str, log=print) -> tuple[Path, dict]:
    """bench/corpus/real-<label>/ with groups/, events.json and info.json; generated once."""
    import shutil

    root = bench_core.BENCH / "corpus" / f"real-{label}"
    info_path = root / "info.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("version") == REAL_VERSION:
            log(
                f"[real {label}] reusing corpus {root} ({info['lines']:,} lines, {info['bytes'] / 1e6:.0f} MB)"
            )
            return root, info
    if root.exists():
        shutil.rmtree(root)
    t = time.perf_counter()
    info = corpus_real.generate(
        root, bench_core.SIZES[label], end_ms=bench_core.END_MS, span_hours=bench_core.SPAN_HOURS
    )
    info["gen_seconds"] = time.perf_counter() - t
    info["version"] = REAL_VERSION
    info_path.write_text(json.dumps(info, indent=1))
    log(
        f"[real {label}] generated {info['lines']:,} lines ({info['bytes'] / 1e6:.0f} MB) in {info['gen_seconds']:.1f} s"
    )
    return root, info


# ---- counting: rg lines -> events ----------------------------------------------------------------


class Events:
    """(file, line number) -> event key, from the generator's map of multi-line events."""

    def __init__(self, data: Path, corpus_root: Path) -> None:
        self.data = data
        self.map: dict[str, dict[int, int]] = {}
        for rel, spans in json.loads((corpus_root / "events.json").read_text()).items():
            m = self.map.setdefault(rel, {})
            for first, n in spans:
                for k in range(first, first + n):
                    m[k] = first

    def rg_events(
        self, args: list[str], scope: list[Path], lo: str | None = None, hi: str | None = None
    ) -> tuple[set, list]:
        """(set of events with a matching line, the event of each matching line) for `rg -n -H ARGS SCOPE`."""
        p = subprocess.run(
            ["rg", "-u", "-n", "-H", "--no-heading", *args, "--", *map(str, scope)],
            capture_output=True,
            env={**os.environ, "LC_ALL": "C"},
        )
        if p.returncode not in (0, 1):
            raise RuntimeError(f"rg {args} failed: {p.stderr.decode()[-300:]}")
        out: set = set()
        n: list = []
        prefix = str(self.data) + "/"
        for line in p.stdout.split(b"\n"):
            if not line:
                continue
            path, lno, text = line.split(b":", 2)
            if lo is not None and not (lo.encode() <= text[:24] <= hi.encode()):
                continue
            rel = (
                path.decode()[len(prefix) :] if path.decode().startswith(prefix) else path.decode()
            )
            k = int(lno)
            key = (rel, self.map.get(rel, {}).get(k, k))
            out.add(key)
            n.append(key)
        return out, n


def walk(http: Http, path: str, params: list, deadline_s: float = 300) -> tuple[int, int, float]:
    """Follow nextToken to the end with pages of 10,000: (events, pages, seconds)."""
    t = time.perf_counter()
    n = pages = 0
    token = None
    while True:
        st, body = http.get(path, params + ([("nextToken", token)] if token else []))
        if st != 200:
            raise RuntimeError(f"HTTP {st} walking {path}: {str(body)[:300]}")
        n += len(body.get("events", []))
        pages += 1
        token = body.get("nextToken")
        if not token:
            return n, pages, time.perf_counter() - t
        if time.perf_counter() - t > deadline_s:
            raise RuntimeError(
                f"walk of {path} {params} not finished after {deadline_s} s ({n} events)"
            )


# ---- the cases -----------------------------------------------------------------------------------


def cases(info: dict, data: Path) -> list[dict]:
    from logsvc import names

    gdir = data / "groups"

    def gpath(g: str) -> Path:
        return gdir / names.encode_segment(g)

    checkout, nginx, sam, orders = (
        "/aws/lambda/checkout",
        "/ec2/nginx/access",
        "/sam/local/payments",
        "/aws/lambda/orders",
    )
    sam_stream = info["streams_by_group"][sam][0]
    sam_file = gpath(sam) / (names.encode_segment(sam_stream) + ".log")
    end = info["end"]
    lo, hi = bench_core.iso(end - 48 * 3600_000), bench_core.iso(end - 24 * 3600_000)
    rid, mid, absent = info["request_id"], info["mid_word"], info["absent_word"]
    G = [gdir]
    top = "| sort | tail -n 100"
    TOP = (
        "| sort | tail -n 100"  # labels: the command without its paths (`G` = every group's files)
    )
    bytes_gt_1000 = "(100[1-9]|10[1-9][0-9]|1[1-9][0-9]{2}|[2-9][0-9]{3}|[1-9][0-9]{4,})"
    clf = f"^[^ ]+ [^ ]+ [^ ]+ [^ ]+ (.* )?4[^ ]* {bytes_gt_1000}$"
    level_rx, status_rx = q('"level": ?"ERROR"'), q('"status": 503[,}]')
    return [
        dict(
            name='README: `"card declined" -retry`',
            params=[("q", '"card declined" -retry')],
            base=f"rg -uF --no-filename {q('card declined')} {q(str(gdir))} | rg -vw retry {top}",
            base_label="rg -F 'card declined' G | rg -vw retry " + TOP,
            check=dict(pos=["-F", "card declined"], neg=["-w", "retry"], scope=G),
        ),
        dict(
            name="a request id (pasted from a REPORT line)",
            params=[("q", rid)],
            base=f"rg -uF --no-filename {rid} {q(str(gdir))} {top}",
            base_label="rg -F <id> G " + TOP,
            check=dict(pos=["-F", rid], scope=G),
        ),
        dict(
            name='error phrase `"connection reset by peer"`',
            params=[("q", '"connection reset by peer"')],
            base=f"rg -uF --no-filename {q('connection reset by peer')} {q(str(gdir))} {top}",
            base_label="rg -F 'connection reset by peer' G " + TOP,
            check=dict(pos=["-F", "connection reset by peer"], scope=G),
        ),
        dict(
            name=f"mid-frequency word `{mid}`",
            params=[("q", mid)],
            base=f"rg -uw --no-filename {mid} {q(str(gdir))} {top}",
            base_label=f"rg -w {mid} G " + TOP,
            check=dict(pos=["-w", mid], scope=G),
        ),
        dict(
            name=f"absent word `{absent}`",
            params=[("q", absent)],
            base=f"rg -uw --no-filename {absent} {q(str(gdir))} {top}",
            base_label=f"rg -w {absent} G " + TOP,
            check=dict(pos=["-w", absent], scope=G),
        ),
        dict(
            name="exclusion `ERROR -retry`",
            params=[("q", "ERROR -retry")],
            base=f"rg -uw --no-filename ERROR {q(str(gdir))} | rg -vw retry {top}",
            base_label="rg -w ERROR G | rg -vw retry " + TOP,
            check=dict(pos=["-w", "ERROR"], neg=["-w", "retry"], scope=G),
        ),
        dict(
            name='README JSON: `{ $.level = "ERROR" }`',
            params=[("q", '{ $.level = "ERROR" }')],
            base=f"rg -u --no-filename {level_rx} {q(str(gdir))} {top}",
            base_label='rg \'"level": ?"ERROR"\' G ' + TOP,
            check=dict(pos=["-e", '"level": ?"ERROR"'], scope=G),
        ),
        dict(
            name="nested JSON: `{ $.http.status = 503 }` (orders)",
            params=[("q", "{ $.http.status = 503 }"), ("group", orders)],
            base=f"rg -u --no-filename {status_rx} {q(str(gpath(orders)))} {top}",
            base_label="rg '\"status\": 503[,}]' orders/ " + TOP,
            check=dict(pos=["-e", '"status": 503[,}]'], scope=[gpath(orders)]),
        ),
        dict(
            name="README delimited: `[ip, user, ..., status=4*, bytes>1000]` (nginx)",
            params=[("q", "[ip, user, ..., status=4*, bytes>1000]"), ("group", nginx)],
            base=f"rg -u --no-filename -e {q(clf)} {q(str(gpath(nginx)))} {top}",
            base_label="rg -e <a regex for the same fields> nginx/ " + TOP,
            check=dict(pos=["-e", clf], scope=[gpath(nginx)]),
        ),
        dict(
            name="`ERROR` in one group, 24 h range (48 h..24 h before the end)",
            params=[
                ("q", "ERROR"),
                ("group", checkout),
                ("start", end - 48 * 3600_000),
                ("end", end - 24 * 3600_000),
            ],
            base=f"rg -uw --no-filename ERROR {q(str(gpath(checkout)))} | awk -v lo={lo} -v hi={hi} '$1 >= lo && $1 <= hi' {top}",
            base_label="rg -w ERROR checkout/ | awk '$1 >= lo && $1 <= hi' " + TOP,
            check=dict(pos=["-w", "ERROR"], scope=[gpath(checkout)], lo=lo, hi=hi),
        ),
        dict(
            name="newest 100 of a stream not in time order (sam local)",
            path="/api/v1/events",
            params=[("group", sam), ("stream", sam_stream), ("limit", 100)],
            base=f"tail -n 100 {q(str(sam_file))}",
            base_label="tail -n 100 <file>: the last 100 LINES in file order, NOT the same answer (not in time order)",
        ),
        dict(
            name="deep page: page 50 of `ERROR` (100 a page), including the walk there",
            params=[("q", "ERROR")],
            deep=50,
            base=f"rg -uw --no-filename ERROR {q(str(gdir))} | sort | tail -n 5000 | head -n 100",
            base_label="rg -w ERROR G | sort | tail -n 5000 | head -n 100",
        ),
    ]


def _count_check(case: dict, http: Http, ev: Events, log=print) -> dict:
    chk = case.get("check")
    if not chk:
        return {}
    params = [(k, v) for k, v in case["params"] if k != "limit"] + [("limit", 10_000)]
    n_logsvc, pages, secs = walk(http, case.get("path", "/api/v1/search"), params)
    pos, per_line = ev.rg_events(chk["pos"], chk["scope"], chk.get("lo"), chk.get("hi"))
    if chk.get("neg"):
        neg, _ = ev.rg_events(chk["neg"], chk["scope"])
        pos -= neg
    lines = sum(1 for k in per_line if k in pos)  # matching lines of the events that count
    return {
        "logsvc": n_logsvc,
        "rg_events": len(pos),
        "rg_lines": lines,
        "equal": n_logsvc == len(pos),
        "pages": pages,
    }


def bench_search(
    server, info: dict, data: Path, corpus_root: Path, errors: list[str], reps: int = 20, log=print
) -> list[Figure]:
    http = Http(server.port)
    ev = Events(data, corpus_root)
    figs = []
    for case in cases(info, data):
        path = case.get("path", "/api/v1/search")
        base_params = list(case["params"])
        if not any(k == "limit" for k, _ in base_params):
            base_params.append(("limit", 100))
        note: list[str] = []
        try:
            walk_ms = 0.0
            params = base_params
            if case.get("deep"):
                walk_times = []
                deep = case["deep"]
                for _ in range(3):
                    t = time.perf_counter()
                    params = base_params
                    for page_no in range(deep - 1):
                        st, body = http.get(path, params)
                        if st != 200:
                            raise RuntimeError(
                                f"deep page walk: HTTP {st} at page {page_no + 1}: {str(body)[:300]}"
                            )
                        if not body.get(
                            "nextToken"
                        ):  # a small corpus has fewer pages: time the last one
                            deep = page_no + 1
                            break
                        params = base_params + [("nextToken", body["nextToken"])]
                    walk_times.append((time.perf_counter() - t) * 1000)
                walk_ms = statistics.median(walk_times)
                if deep < case["deep"]:
                    note.append(
                        f"only {deep} pages exist at this size: page {deep}, the last, is timed (its walk includes it once)"
                    )
                note.append(
                    f"walking pages 1-{deep - 1}: {walk_ms:.0f} ms (median of 3), added to the page's p50 and p99"
                )
            st, body = http.get(path, params)
            if st != 200:
                raise RuntimeError(f"HTTP {st}: {str(body)[:400]}")
            count = len(body.get("events", []))
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                st, _b = http.get(path, params)
                times.append((time.perf_counter() - t) * 1000)
                if st != 200:
                    raise RuntimeError(f"HTTP {st}")
            p50, p99 = statistics.median(times) + walk_ms, pct(times, 99) + walk_ms
            counts = _count_check(case, http, ev, log)
        except Exception as e:
            log(f"    {case['name']}: ERROR {e}")
            errors.append(f"real search {case['name']}: {type(e).__name__}: {str(e)[:500]}")
            figs.append(
                Figure(
                    "search (realistic)", case["name"], None, "ms", note=f"error: {str(e)[:300]}"
                )
            )
            continue
        alts: dict[str, float | None] = {}
        try:
            ts, out = time_shell(case["base"])
            alts["baseline"] = statistics.median(ts)
            note.append(
                f"baseline printed {len([x for x in out.splitlines() if x])} lines ({len(ts)} runs)"
            )
        except RuntimeError as e:
            errors.append(f"real search {case['name']} / baseline: {e}")
            alts["baseline"] = None
        note.insert(0, f"logsvc's page held {count} events")
        if counts:
            note.append(
                f"all matches: logsvc {counts['logsvc']:,} events ({counts['pages']} pages of ≤ 10,000), "
                f"rg {counts['rg_lines']:,} lines = {counts['rg_events']:,} events"
            )
        f = Figure(
            "search (realistic)",
            case["name"],
            p50,
            "ms",
            alts=alts,
            p99=p99,
            note="; ".join(note),
            reps=len(times),
        )
        f.baseline = case["base_label"]  # type: ignore[attr-defined]
        f.baseline_cmd = case["base"]  # type: ignore[attr-defined]
        f.counts = counts  # type: ignore[attr-defined]
        figs.append(f)
        log(
            f"    {case['name']}: p50 {p50:.1f} ms | baseline {alts.get('baseline') or float('nan'):.1f} ms | counts {counts}"
        )
    http.close()
    return figs


# ---- bulk retrieval: every match of a common term ------------------------------------------------


def bench_bulk(
    server, info: dict, data: Path, corpus_root: Path, errors: list[str], log=print, reps: int = 5
) -> list[Figure]:
    """All matches of `INFO` in one group: REST paging, FilterLogEvents paging (boto3), NDJSON export,
    each end to end, beside rg printing every matching line of the group's files."""
    import boto3

    from logsvc import names

    group, term = "/aws/lambda/checkout", "INFO"
    gpath = data / "groups" / names.encode_segment(group)
    ev = Events(data, corpus_root)
    want, per_line = ev.rg_events(["-w", term], [gpath])
    lines = len(per_line)
    rg_cmd = f"rg -uw --no-filename {term} {q(str(gpath))}"
    ts, _out = time_shell(rg_cmd)
    rg_ms = statistics.median(ts)
    http = Http(server.port)
    client = boto3.client(
        "logs",
        endpoint_url=f"http://127.0.0.1:{server.port}",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )

    def rest() -> int:
        return walk(http, "/api/v1/search", [("q", term), ("group", group), ("limit", 10_000)])[0]

    def cw() -> int:
        n, kw = 0, {"logGroupName": group, "filterPattern": term}
        while True:
            r = client.filter_log_events(**kw)
            n += len(r["events"])
            if not r.get("nextToken"):
                return n
            kw["nextToken"] = r["nextToken"]

    def export() -> int:
        import http.client
        import urllib.parse

        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        c.request(
            "GET",
            "/api/v1/export?"
            + urllib.parse.urlencode({"q": term, "group": group, "format": "ndjson"}),
        )
        r = c.getresponse()
        n = 0
        for line in r:
            if line.strip():
                n += 1
        c.close()
        return n

    figs = []
    for name, fn in (
        ("REST /api/v1/search, limit=10000, every page", rest),
        ("CloudWatch FilterLogEvents (boto3), every page", cw),
        ("REST /api/v1/export NDJSON (one streamed response)", export),
    ):
        try:
            n = fn()
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t) * 1000)
        except Exception as e:
            errors.append(f"bulk {name}: {type(e).__name__}: {str(e)[:400]}")
            figs.append(
                Figure(
                    "bulk retrieval (realistic)",
                    f"all `{term}` of {group}: {name}",
                    None,
                    "ms",
                    note=f"error: {e}",
                )
            )
            continue
        f = Figure(
            "bulk retrieval (realistic)",
            f"all `{term}` of {group}: {name}",
            statistics.median(times),
            "ms",
            alts={"baseline": rg_ms},
            p99=pct(times, 99),
            reps=len(times),
            target="within 2× of rg (#12)",
            met=rg_ms / statistics.median(times) >= 0.5,
            note=f"logsvc {n:,} events; rg {lines:,} lines = {len(want):,} events; {reps} timed walks",
        )
        f.baseline = f"rg -w {term} <group dir> (prints every matching line)"  # type: ignore[attr-defined]
        f.baseline_cmd = rg_cmd  # type: ignore[attr-defined]
        f.counts = {"logsvc": n, "rg_events": len(want), "rg_lines": lines, "equal": n == len(want)}  # type: ignore[attr-defined]
        figs.append(f)
        log(
            f"    bulk {name}: p50 {f.value:.0f} ms vs rg {rg_ms:.0f} ms; {n} vs {len(want)} events"
        )
    http.close()
    return figs


STALL_S = 180  # an eventsIngested that holds this long: the ingester is stuck, not pausing


def bench_ingest_real(
    server, t0: float, info: dict, data: Path, corpus_root: Path, log=print
) -> list[Figure]:
    """Server start -> the writer's eventsIngested reaches the corpus's event count (its lines minus
    the continuation lines of the generator's multi-line events). A count that holds for STALL_S
    ends the wait: the figure then counts only the events indexed (a pause of the ingester, as a
    28 s index merge at 10M once was, is part of the time, never a reason to stop the clock)."""
    spans = json.loads((corpus_root / "events.json").read_text())
    expected = info["lines"] - sum(n - 1 for v in spans.values() for _, n in v)
    http = Http(server.port)
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + max(300, info["lines"] / 2000)
    how = "eventsIngested reached the corpus's event count"
    while time.monotonic() < deadline:
        st, body = http.get("/healthz", fresh=True)
        n = (body or {}).get("eventsIngested") if st == 200 else None
        if n is not None and n != last:
            last, since = n, time.monotonic()
        if n is not None and n >= expected:
            break
        if n and time.monotonic() - since >= STALL_S:
            how = f"eventsIngested stopped at {n:,} of {expected:,} (held {STALL_S} s): the figure counts those"
            break
        time.sleep(0.1)
    else:
        raise RuntimeError(f"ingest not complete: eventsIngested {last}, expected {expected}")
    done = time.perf_counter() - (time.monotonic() - since)  # when the count last changed
    secs = done - t0
    rate = info["lines"] * min(1.0, last / expected) / secs
    http.close()
    derived = derived_bytes(data, info["bytes"], log)
    return [
        Figure(
            "ingest (realistic)",
            "lines/s, server start -> every event indexed",
            rate,
            "lines/s",
            target="≥ 80,000 at 10M (#12)",
            met=rate >= 80_000 and last >= expected if info["label"] == "10M" else None,
            note=f"{last:,} events ({info['lines']:,} lines; tracebacks of the sam streams are one event each) in {secs:.1f} s; {how}",
        ),
        Figure(
            "ingest (realistic)",
            "derived data (index + columns + stamps, once the columns cover every event) / raw size",
            derived["live"] / info["bytes"],
            "x",
            target="≤ 0.3 (#12)",
            met=derived["live"] / info["bytes"] <= 0.3,
            note=derived["note"],
        ),
    ]


def derived_bytes(data: Path, raw: int, log=print, wait_s: float = 600.0) -> dict:
    """What logsvc keeps beside the stream files, measured once the columnar copy (built by a second
    process, behind the index) covers every byte: measured any earlier, the copy is partly missing
    and the figure flatters. Files the builder retired (a compaction's inputs, deleted 10 minutes
    later) and Insights results (a cache bounded by insights_results_bytes) are reported apart."""
    from logsvc.columns import store as cstore

    total = sum(p.stat().st_size for p in (data / "groups").rglob("*") if p.is_file())
    deadline = time.monotonic() + wait_s
    covered = 0
    while time.monotonic() < deadline:
        snap = cstore.snapshot(data)
        covered = sum(c[1] for g in (snap.streams or {}).values() for c in g.values())
        if covered >= total * 0.999:
            break
        time.sleep(1.0)
    snap = cstore.snapshot(data)
    retired_names = {r[0] for r in snap.retired}
    cols = data / "columns"
    retired = sum((cols / n).stat().st_blocks * 512 for n in retired_names if (cols / n).exists())
    results = bench_core.dir_bytes(data / "queries") if (data / "queries").exists() else 0
    every = sum(
        bench_core.dir_bytes(p) for p in data.iterdir() if p.is_dir() and p.name != "groups"
    )
    live = every - retired - results
    parts = {
        p.name: bench_core.dir_bytes(p)
        for p in data.iterdir()
        if p.is_dir() and p.name not in ("groups", "queries")
    }
    parts["columns"] = parts.get("columns", 0) - retired
    shown = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sorted(parts.items()) if v)
    note = (
        f"{live / 1e6:.1f} MB of {raw / 1e6:.1f} MB ({shown}); columns covered "
        f"{covered / max(total, 1):.1%} of the stream bytes; not counted: {retired / 1e6:.1f} MB of "
        f"retired column files (deleted 10 min after a compaction), {results / 1e6:.1f} MB of "
        "Insights results"
    )
    log(f"  derived: {note}")
    return {"live": live, "note": note}


def fmt_counts(c: dict) -> str:
    if not c:
        return "—"
    mark = "=" if c["equal"] else "**≠**"
    return f"{c['logsvc']:,} {mark} {c['rg_events']:,}" + (
        f" ({c['rg_lines']:,} lines)" if c["rg_lines"] != c["rg_events"] else ""
    )


__all__ = [
    "bench_bulk",
    "bench_ingest_real",
    "bench_search",
    "cases",
    "ensure_corpus",
    "fmt_counts",
    "sh",
]


# ---- cold cache ----------------------------------------------------------------------------------


def cold_cache_support(data: Path) -> tuple[bool, str]:
    """Can this run evict the benchmark's own files from the page cache? (posix_fadvise DONTNEED on
    each file logsvc and rg read: it touches only this run's files, never the whole machine's cache,
    which other work on a shared machine relies on.) Verified with util-linux `fincore`."""
    import shutil

    if not hasattr(os, "posix_fadvise"):
        return False, "os.posix_fadvise is not available on this platform"
    probe = next((p for p in (data / "groups").rglob("*.log")), None)
    if probe is None:
        return False, "no stream file to probe"
    evict([probe])
    if shutil.which("fincore"):
        out = subprocess.run(
            ["fincore", "--bytes", "--noheadings", "--output", "RES", str(probe)],
            capture_output=True,
            text=True,
        ).stdout.strip()
        if out and out != "0":
            return (
                False,
                f"posix_fadvise(DONTNEED) left {out} bytes of {probe.name} resident (fincore): eviction does not work here",
            )
        return (
            True,
            "posix_fadvise(DONTNEED) on this run's files, checked with fincore (a VM's host may still cache the disk)",
        )
    return True, "posix_fadvise(DONTNEED) on this run's files (not verified: no fincore)"


def evict(paths) -> None:
    for p in paths:
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fdatasync(fd)  # dirty pages cannot be dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
        finally:
            os.close(fd)


def bench_cold(server, info: dict, data: Path, errors: list[str], log=print) -> list[Figure]:
    """First query after this run's files (stream files, index, every derived file) left the page
    cache, for logsvc and for rg alike. The server's own heap (block tables it holds) stays warm."""
    ok, how = cold_cache_support(data)
    if not ok:
        log(f"    cold cache: not measured: {how}")
        return [
            Figure(
                "cold cache (realistic)",
                "cold-cache figures",
                None,
                "ms",
                note=f"not measured: {how}",
            )
        ]
    files = [Path(dp) / f for dp, _, fs in os.walk(data) for f in fs]
    http = Http(server.port)
    figs = []
    for case in cases(info, data)[1:5]:  # request id, error phrase, mid-frequency word, absent word
        params = list(case["params"]) + [("limit", 100)]
        evict(files)
        t = time.perf_counter()
        st, _ = http.get(case.get("path", "/api/v1/search"), params)
        v = (time.perf_counter() - t) * 1000
        evict(files)
        try:
            dt, _out = sh(case["base"])
            base = dt * 1000
        except RuntimeError as e:
            errors.append(f"cold {case['name']}: {e}")
            base = None
        f = Figure(
            "cold cache (realistic)",
            f"{case['name']}, first run after eviction",
            v if st == 200 else None,
            "ms",
            alts={"baseline": base},
            note=how,
            reps=1,
        )
        f.baseline = case["base_label"]  # type: ignore[attr-defined]
        figs.append(f)
        log(
            f"    cold {case['name']}: logsvc {v:.0f} ms, baseline {base if base is None else round(base)} ms"
        )
    http.close()
    return figs


# ---- one size ------------------------------------------------------------------------------------


def run_size(
    label: str,
    out_dir: Path,
    log=print,
    keep: bool = False,
    insights: bool = True,
    moto: bool = True,
    cold: bool = True,
    tail_counts: tuple[int, ...] = (1, 10, 50),
) -> dict:
    """The realistic corpus at one size against a fresh `logsvc serve`: ingest, the headline queries,
    bulk retrieval, live tail (its own group, beside the corpus), Insights (with DuckDB and moto), cold
    cache. Same result shape as bench_core.run_size."""
    import shutil

    result: dict = {"label": label, "figures": [], "errors": [], "load": []}
    corpus_root, info = ensure_corpus(label, log)
    info = {**info, "label": label}
    result["info"] = info
    data = bench_core.fresh_data_dir(corpus_root, out_dir / f"real-{label}" / "data")
    server = bench_core.Server(data, out_dir / f"real-{label}")
    result["load"].append(os.getloadavg()[0])
    try:
        t0 = server.start()
        log(f"[real {label}] server up on port {server.port}; ingesting")
        phases = [
            ("ingest", lambda: bench_ingest_real(server, t0, info, data, corpus_root, log)),
            (
                "search",
                lambda: bench_search(server, info, data, corpus_root, result["errors"], log=log),
            ),
            (
                "bulk",
                lambda: bench_bulk(server, info, data, corpus_root, result["errors"], log=log),
            ),
        ]
        if tail_counts:
            phases.append(
                ("tail", lambda: bench_core.bench_tail(server, data, tail_counts, log=log))
            )
        if insights:
            import bench_insights

            phases.append(
                (
                    "insights",
                    lambda: bench_insights.bench_insights(
                        server.port, info, data, result["errors"], log=log, moto=moto
                    ),
                )
            )
        if cold:
            phases.append(
                ("cold", lambda: bench_cold(server, info, data, result["errors"], log=log))
            )
        for name, fn in phases:
            result["load"].append(os.getloadavg()[0])
            try:
                server.phase_peak()
                server.helpers_peak()
                result["figures"] += fn()
                peak = server.phase_peak() / 1e6
                helpers = server.helpers_peak() / 1e6
                result["figures"].append(
                    Figure(
                        "server (realistic)",
                        f"peak RSS during {name} (master + workers)",
                        peak,
                        "MB",
                        target="≤ 250 MB (#12)",
                        met=peak <= 250,
                        note=f"not counted: the processes the workers start (column builder,"
                        f" index merges, the ingester's tokenising helpers) peaked at"
                        f" {helpers:,.0f} MB together in this phase",
                    )
                )
            except Exception as e:
                import traceback

                log(f"[real {label}] {name} phase failed: {e}")
                result["errors"].append(
                    f"{name}: {type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"
                )
                if name == "ingest":
                    break
        errs = server.errors()
        if errs:
            result["server_log_errors"] = errs[-3000:]
    finally:
        server.stop()
        result["load"].append(os.getloadavg()[0])
        if not keep:
            shutil.rmtree(data, ignore_errors=True)
    return result
