"""A realistic corpus for benchmarks (issue #12 item 1): logs as real writers produce them, no planted tokens.

Deterministic for a seed and a Python installation (the vocabulary comes from the stdlib's own
docstrings and comments, so a different Python version gives different words: `info.json` records
the version and a hash of the vocabulary). Written under bench/corpus/ (git-ignored).

Why: the synthetic corpus (corpus.py) has a 64-word vocabulary and planted tokens, the best case for
a block index. Real logs have thousands of distinct words with a long tail, message templates whose
popularity is skewed, ids that repeat a few times each, several line formats in one deployment, and
streams in which only some lines carry a timestamp. What each group holds:

- `/aws/lambda/checkout`   Python runtime, text format, as CloudWatch stores it (`<iso> <message>`):
  INIT_START on cold starts, START / END / REPORT (varied metrics, Init Duration on cold starts),
  `[LEVEL]\\t<iso>\\t<requestId>\\t<msg>`, logger.exception tracebacks joined with `\\r` (Lambda's
  convention), "Task timed out after N seconds".
- `/aws/lambda/catalog`    Node runtime, text format: `<iso>\\t<requestId>\\tINFO\\t<msg>`, and
  `ERROR\\tInvoke Error \\t{"errorType":…,"stack":[…]}` (an embedded JSON fragment).
- `/aws/lambda/orders`     Python runtime, AWS_LAMBDA_LOG_FORMAT=JSON: app lines with nested objects
  (`order.items`, `http.status`), errors with `errorType` / `stackTrace`, and the platform lines as
  JSON (`platform.initStart`, `platform.start`, `platform.report` with `record.metrics`).
- `/aws/lambda/thumbnails` Node runtime, JSON format (compact separators).
- `/sam/local/payments`    what `sam local` or any line-oriented writer leaves: runtime lines carry
  their own timestamp inside (`[INFO]\\t<iso>\\t…`), START / END / REPORT and bare print() lines carry
  none (they take the time logsvc reads them), tracebacks span several real lines (logsvc joins them
  into one event). Not in time order: the non-monotonic case.
- `/ec2/nginx/access`      common log format (`ip - user [dd/Mon/yyyy:HH:MM:SS +0000] "GET /path HTTP/1.1"
  status bytes`) behind the writer's `<iso> `.
- `/var/log/syslog`        sshd, CRON, systemd, kernel, dockerd and a datanode (HDFS block ids).

Event map: every multi-line event written with real newlines (only in `/sam/local/*`) is recorded in
`events.json` as {relative file path: [[first line number (1-based), line count], ...]}, so a
benchmark can turn `rg -n` output into events without using logsvc's own splitter.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import keyword
import os
import random
import re
import sysconfig
from datetime import UTC, datetime
from pathlib import Path

VERSION = 1  # bump when the output changes, so cached corpora are rebuilt
CORPUS_SEED = 11

# group -> (kind, share of the lines, streams)
GROUPS = {
    "/aws/lambda/checkout": ("py_text", 0.22, 24),
    "/aws/lambda/catalog": ("node_text", 0.16, 16),
    "/aws/lambda/orders": ("py_json", 0.18, 16),
    "/aws/lambda/thumbnails": ("node_json", 0.08, 8),
    "/sam/local/payments": ("sam", 0.08, 4),
    "/ec2/nginx/access": ("access", 0.16, 4),
    "/var/log/syslog": ("syslog", 0.12, 4),
}
LAMBDA_TEXT_GROUPS = ["/aws/lambda/checkout", "/aws/lambda/catalog"]
TIMESTAMPED_GROUPS = [
    g for g, v in GROUPS.items() if v[0] != "sam"
]  # every line starts with an ISO time
N_TEMPLATES = 3000
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
ERROR_TYPES = (
    "CardDeclined",
    "ConnectionResetError",
    "TimeoutError",
    "KeyError",
    "ValidationError",
    "ClientError",
    "ThrottlingException",
    "JSONDecodeError",
)
# error templates: the words users search for when something breaks (the README's "card declined")
ERRORS = (
    "card declined: insufficient funds",
    "card declined: do not honor, retry later",
    "connection reset by peer",
    "upstream request timeout after {n} ms",
    "could not acquire lock on {oid}",
    "ThrottlingException: Rate exceeded, retry {k} of 5",
    "validation failed for field {w}",
    "unexpected status 503 from inventory service",
)
PATHS = (
    "/api/v1/orders",
    "/api/v1/cart",
    "/api/v1/products",
    "/api/v1/users",
    "/healthz",
    "/static/app.js",
    "/static/style.css",
    "/api/v1/search",
    "/login",
    "/checkout",
    "/api/v1/payments",
    "/favicon.ico",
)
STATUS = (
    (200,) * 40
    + (201,) * 3
    + (204,) * 2
    + (301, 302, 304, 304, 400, 401, 403, 404, 404, 404, 429, 500, 502, 503)
)
METHODS = ("GET",) * 8 + ("POST", "POST", "PUT", "DELETE")

_DOC_RE = re.compile(r'"""(.*?)"""|#([^\n]*)', re.S)
_WORD_RE = re.compile(r"\b[a-z]{3,14}\b")


@functools.lru_cache(maxsize=2)
def vocabulary(limit: int = 12_000) -> list[tuple[str, int]]:
    """(word, count) from the docstrings and comments of the stdlib, most frequent first: natural
    English-ish technical vocabulary with a real long tail, and no network."""
    root = Path(sysconfig.get_paths()["stdlib"])
    counts: dict[str, int] = {}
    skip = set(keyword.kwlist) | {
        "self",
        "none",
        "true",
        "false",
        "def",
        "str",
        "int",
        "args",
        "kwargs",
    }
    files = sorted(p for p in root.glob("*.py")) + sorted(root.glob("*/*.py"))
    files = [p for p in files if "test" not in p.parts[-2] and "idlelib" not in str(p)][:600]
    for p in files:
        try:
            text = p.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for m in _DOC_RE.finditer(text):
            for w in _WORD_RE.findall(m.group(1) or m.group(2) or ""):
                if w not in skip:
                    counts[w] = counts.get(w, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


class Vocab:
    """Templates (fixed word sequences with slots) drawn from the vocabulary by its real frequency,
    used with a Zipf popularity: a few templates make most lines, thousands appear rarely."""

    def __init__(self, words: list[tuple[str, int]], seed: int) -> None:
        rng = random.Random(seed)
        self.words = [w for w, _ in words]
        cum, total = [], 0
        for _, c in words:
            total += c
            cum.append(total)
        # the tail of the vocabulary (the least frequent 20%) is kept out of templates: absent words
        n_used = int(len(self.words) * 0.8)
        self.absent = self.words[n_used:]
        cum = cum[:n_used]
        slots = ("{oid}", "{n}", "{ip}", "{user}", "{k}", "{ms}")
        self.templates: list[str] = []
        for _ in range(N_TEMPLATES):
            k = 3 + rng.getrandbits(3)
            ws = [self.words[bisect.bisect_left(cum, rng.random() * cum[-1])] for _ in range(k)]
            if rng.random() < 0.7:
                ws.insert(rng.randrange(1, len(ws) + 1), slots[rng.randrange(len(slots))])
            self.templates.append(" ".join(ws))
        zipf = [1 / (i + 1) ** 1.05 for i in range(N_TEMPLATES)]
        self.tcum, t = [], 0.0
        for z in zipf:
            t += z
            self.tcum.append(t)

    def template(self, rnd) -> int:
        return bisect.bisect_left(self.tcum, rnd() * self.tcum[-1])


_SECS: dict[int, str] = {}


def iso(ms: int) -> str:
    sec, frac = divmod(ms, 1000)
    head = _SECS.get(sec)
    if head is None:
        if len(_SECS) > 100_000:
            _SECS.clear()
        head = _SECS[sec] = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{head}.{frac:03d}Z"


def clf_time(ms: int) -> str:
    d = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{d.day:02d}/{MONTHS[d.month - 1]}/{d.year}:{d:%H:%M:%S} +0000"


def _uuid(bits: int) -> str:
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


class Gen:
    """One stream's generator: shared id pools (ids repeat a few times each across the corpus)."""

    def __init__(self, vocab: Vocab, seed: int, total_lines: int) -> None:
        self.v = vocab
        self.rng = random.Random(seed)
        self.bits = self.rng.getrandbits
        self.rnd = self.rng.random
        self.order_pool = max(1000, total_lines // 4)
        self.ip_pool = max(200, total_lines // 20)
        self.user_pool = max(100, total_lines // 50)
        self.used = [
            0
        ] * N_TEMPLATES  # template -> lines made from it (to pick a mid-frequency word)

    def oid(self) -> str:
        return f"ord-{self.bits(40) % self.order_pool * 7919 % 10_000_019:08d}"

    def ip(self) -> str:
        n = self.bits(32) % self.ip_pool * 2654435761 % (1 << 32)
        return f"{10 + (n >> 24) % 200}.{(n >> 16) & 255}.{(n >> 8) & 255}.{1 + (n & 255) % 254}"

    def user(self) -> str:
        return f"{self.v.words[self.bits(16) % 500]}{self.bits(32) % self.user_pool}"

    def msg(self) -> str:
        i = self.v.template(self.rnd)
        self.used[i] += 1
        t = self.v.templates[i]
        if "{" not in t:
            return t
        b = self.bits
        return (
            t.replace("{oid}", self.oid())
            .replace("{n}", str(b(10)))
            .replace("{ip}", self.ip())
            .replace("{user}", self.user())
            .replace("{k}", str(1 + b(3)))
            .replace("{ms}", f"{b(16) / 100:.2f}ms")
        )

    def error(self) -> str:
        e = ERRORS[self.bits(3)]
        return (
            e.replace("{n}", str(1000 + self.bits(12)))
            .replace("{oid}", self.oid())
            .replace("{k}", str(1 + self.bits(2)))
            .replace("{w}", self.v.words[self.bits(9)])
        )

    def frames(self) -> list[str]:
        out = []
        for _ in range(2 + self.bits(2)):
            mod = self.v.words[self.bits(10) % 400]
            out.append(
                f'  File "/var/task/{mod}.py", line {5 + self.bits(9)}, in {self.v.words[self.bits(10) % 400]}'
            )
            out.append(f"    {self.v.words[self.bits(8)]}({self.v.words[self.bits(8)]})")
        return out

    def report(
        self, rid: str, cold: bool, mem: int, json_fmt: bool, t: str
    ) -> tuple[str, str, str]:
        """(START, END, REPORT) lines' messages (or JSON records) for one invocation."""
        b = self.bits
        dur = (0.8 + b(20) / 900.0) if self.rnd() < 0.9 else 200 + b(14) / 3.0
        maxmem = min(mem, 45 + b(7) % 60 + (b(8) if self.rnd() < 0.1 else 0))
        init = 120 + b(16) / 97.0
        if json_fmt:
            m = f'"durationMs":{dur:.3f},"billedDurationMs":{int(dur) + 1},"memorySizeMB":{mem},"maxMemoryUsedMB":{maxmem}'
            if cold:
                m += f',"initDurationMs":{init:.3f}'
            return (
                f'{{"time":"{t}","type":"platform.start","record":{{"requestId":"{rid}","version":"$LATEST"}}}}',
                f'{{"time":"{t}","type":"platform.runtimeDone","record":{{"requestId":"{rid}","status":"success"}}}}',
                f'{{"time":"{t}","type":"platform.report","record":{{"requestId":"{rid}","metrics":{{{m}}},"status":"success"}}}}',
            )
        tail = f"\tInit Duration: {init:.2f} ms" if cold else ""
        return (
            f"START RequestId: {rid} Version: $LATEST",
            f"END RequestId: {rid}",
            f"REPORT RequestId: {rid}\tDuration: {dur:.2f} ms\tBilled Duration: {int(dur) + 1} ms\t"
            f"Memory Size: {mem} MB\tMax Memory Used: {maxmem} MB{tail}\t",
        )


LEVELS = ("INFO",) * 10 + ("DEBUG",) * 3 + ("WARNING",) * 2 + ("ERROR",)
NODE_LEVELS = ("INFO",) * 10 + ("DEBUG",) * 3 + ("WARN",) * 2 + ("ERROR",)


def _lambda_stream(
    kind: str, g: Gen, n_lines: int, ts: int, step: int, out: list[str], multi: list
) -> None:
    """Append `n_lines`-ish lines of one Lambda stream to `out` (strings ending in \\n)."""
    b, rnd = g.bits, g.rnd
    mem = (128, 256, 512, 1024)[b(2)]
    cold = True
    sam = kind == "sam"
    json_fmt = kind in ("py_json", "node_json")
    node = kind in ("node_text", "node_json")
    runtime = "nodejs:20.v25" if node else "python:3.12.v38"
    while len(out) < n_lines:
        rid = _uuid(b(128))
        t = iso(ts)
        pre = "" if sam else f"{t} "
        if cold:
            if json_fmt:
                out.append(
                    f'{pre}{{"time":"{t}","type":"platform.initStart","record":{{"initializationType":"on-demand",'
                    f'"phase":"init","runtimeVersion":"{runtime}","functionName":"fn{b(4)}"}}}}\n'
                )
            else:
                out.append(
                    f"{pre}INIT_START Runtime Version: {runtime}\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:{b(256):064x}\n"
                )
        start, end, report = g.report(rid, cold, mem, json_fmt, t)
        out.append(f"{pre}{start}\n")
        for _ in range(1 + b(3) % 7):
            ts += b(7)
            t = iso(ts)
            pre = "" if sam else f"{t} "
            r = rnd()
            if kind in ("py_text", "sam"):
                lvl = LEVELS[b(4)]
                if r < 0.025:
                    err = g.error()
                    et = ERROR_TYPES[b(3)]
                    tb = [
                        "Traceback (most recent call last):",
                        *g.frames(),
                        f"payments.{et}: {err}",
                    ]
                    if sam:
                        multi.append(
                            (len(out) + 1, 1 + len(tb))
                        )  # one list item per line in sam streams
                        out.append(f"[ERROR]\t{t}\t{rid}\tfailed to process {g.oid()}: {err}\n")
                        out.extend(line + "\n" for line in tb)
                    else:
                        out.append(
                            f"{pre}[ERROR]\t{t}\t{rid}\tfailed to process {g.oid()}: {err}\r"
                            + "\r".join(tb)
                            + "\n"
                        )
                elif sam and r < 0.12:
                    out.append(f"{g.msg()}\n")  # a bare print(): no timestamp, no level
                else:
                    out.append(f"{pre}[{lvl}]\t{t}\t{rid}\t{g.msg()}\n")
            elif kind == "node_text":
                if r < 0.02:
                    err = g.error()
                    et = ERROR_TYPES[b(3)]
                    out.append(
                        f'{pre}{t}\t{rid}\tERROR\tInvoke Error \t{{"errorType":"{et}","errorMessage":"{err}",'
                        f'"stack":["{et}: {err}","    at Runtime.handler (/var/task/index.js:{b(8)}:{b(5)})"]}}\n'
                    )
                else:
                    out.append(f"{pre}{t}\t{rid}\t{NODE_LEVELS[b(4)]}\t{g.msg()}\n")
            elif kind == "py_json":
                if r < 0.02:
                    err = g.error()
                    et = ERROR_TYPES[b(3)]
                    out.append(
                        f'{pre}{{"timestamp": "{t}", "level": "ERROR", "message": "failed to process order: {err}", '
                        f'"logger": "root", "requestId": "{rid}", "errorType": "{et}", "errorMessage": "{err}", '
                        f'"stackTrace": ["  File \\"/var/task/app.py\\", line {b(8)}, in handler\\n    charge(order)\\n"]}}\n'
                    )
                else:
                    status = STATUS[b(6) % len(STATUS)]
                    out.append(
                        f'{pre}{{"timestamp": "{t}", "level": "{LEVELS[b(4)]}", "message": "{g.msg()}", "logger": "root", '
                        f'"requestId": "{rid}", "order": {{"id": "{g.oid()}", "items": {1 + b(3)}, "total": {b(16) / 100}}}, '
                        f'"http": {{"method": "{METHODS[b(3) % len(METHODS)]}", "status": {status}, "latency": {b(10)}}}}}\n'
                    )
            else:  # node_json
                lvl = NODE_LEVELS[b(4)]
                out.append(
                    f'{pre}{{"timestamp":"{t}","level":"{lvl}","requestId":"{rid}","message":"{g.msg()}",'
                    f'"image":{{"key":"uploads/{g.user()}/{b(32):08x}.jpg","width":{64 * (1 + b(5))},"bytes":{b(20)}}}}}\n'
                )
        if kind in ("py_text", "node_text", "sam") and rnd() < 0.004:
            out.append(f"{pre}{t} {rid} Task timed out after 3.00 seconds\n")
        ts += 1 + b(6)
        t = iso(ts)
        pre = "" if sam else f"{t} "
        if not json_fmt:
            out.append(f"{pre}{end}\n")
        out.append(f"{pre}{report}\n")
        cold = rnd() < 0.01
        ts += int(step * (0.5 + rnd()))


def _access_stream(g: Gen, n_lines: int, ts: int, step: int, out: list[str]) -> None:
    b, v = g.bits, g.v.words
    while len(out) < n_lines:
        ts += int(step * (0.2 + 1.6 * g.rnd()))
        p = PATHS[b(4) % len(PATHS)]
        if p.startswith("/api/v1/") and g.rnd() < 0.6:
            p += f"/{g.oid()}" if g.rnd() < 0.5 else f"?q={v[b(12) % 3000]}&page={1 + b(3)}"
        st = STATUS[b(6) % len(STATUS)]
        size = 0 if st in (204, 304) else (b(10) if g.rnd() < 0.5 else b(16))
        user = "-" if g.rnd() < 0.8 else g.user()
        out.append(
            f'{iso(ts)} {g.ip()} - {user} [{clf_time(ts)}] "{METHODS[b(4) % len(METHODS)]} {p} HTTP/1.1" {st} {size}\n'
        )


def _syslog_stream(g: Gen, host: str, n_lines: int, ts: int, step: int, out: list[str]) -> None:
    b, rnd = g.bits, g.rnd
    while len(out) < n_lines:
        ts += int(step * (0.2 + 1.6 * rnd()))
        t = iso(ts)
        r = rnd()
        pid = 200 + b(15)
        if r < 0.15:
            if rnd() < 0.5:
                m = f"sshd[{pid}]: Accepted publickey for {g.user()} from {g.ip()} port {1024 + b(15)} ssh2: RSA SHA256:{b(64):016x}"
            else:
                m = f"sshd[{pid}]: Failed password for invalid user {g.user()} from {g.ip()} port {1024 + b(15)} ssh2"
        elif r < 0.25:
            m = f"CRON[{pid}]: (root) CMD (/usr/local/bin/{g.v.words[b(8)]}.sh --{g.v.words[b(8)]})"
        elif r < 0.4:
            m = f"systemd[1]: {('Started', 'Stopping', 'Reloading', 'Finished')[b(2)]} {g.v.words[b(9)]}.service - {g.msg()}."
        elif r < 0.5:
            m = f"kernel: [{b(20)}.{b(20):06d}] {g.msg()}"
        elif r < 0.7:
            blk = f"blk_{'-' if b(1) else ''}{b(62)}"
            m = (
                f"datanode[{pid}]: INFO dfs.DataNode$DataXceiver: Receiving block {blk} src: /{g.ip()}:{b(16)} "
                f"dest: /{g.ip()}:50010"
            )
        elif r < 0.72:
            m = f'dockerd[{pid}]: level=error msg="{g.error()}" container={b(48):012x}'
        else:
            m = f"{g.v.words[b(8)]}d[{pid}]: {g.msg()}"
        out.append(f"{t} {host} {m}\n")


def _write_stream(job: tuple) -> tuple[str, int, int, list]:
    vocab_words, seed, total, kind, s, n_lines, start_ms, end_ms, path, rel = job
    vocab = _VOCAB_CACHE.get(seed)
    if vocab is None:
        vocab = _VOCAB_CACHE[seed] = Vocab(vocab_words, seed)
    g = Gen(vocab, seed * 1_000_003 + s, total)
    ts = start_ms + g.bits(22) % 600_000
    step = max(1, (end_ms - ts) // max(1, n_lines))
    out: list[str] = []
    multi: list = []
    if kind == "access":
        _access_stream(g, n_lines, ts, step, out)
    elif kind == "syslog":
        _syslog_stream(g, f"ip-10-0-{s % 7}-{s}", n_lines, ts, step, out)
    else:
        # invocations average ~6 lines; the step is per invocation
        _lambda_stream(kind, g, n_lines, ts, step * 6, out, multi)
    data = "".join(out).encode()
    with open(path, "wb") as f:
        f.write(data)
    lines = data.count(b"\n")
    return rel, lines, len(data), multi, g.used


_VOCAB_CACHE: dict[int, Vocab] = {}


def generate(
    root: Path,
    total_lines: int,
    seed: int = CORPUS_SEED,
    end_ms: int = 1_795_000_000_000,
    span_hours: float = 72,
    procs: int | None = None,
) -> dict:
    """Write about `total_lines` lines under `root/groups` (logsvc's layout, through `Store`).
    Returns facts: lines, bytes, streams, start, end, streams_by_group, vocabulary facts, and the
    ids a benchmark may query (a request id from the middle of a stream; not planted, just chosen)."""
    from logsvc.store import Store

    root = Path(root)
    store = Store(root)
    words = vocabulary()
    start_ms = end_ms - int(span_hours * 3600_000)
    jobs = []
    by_group: dict[str, list[str]] = {}
    name_rng = random.Random(seed)
    s = 0
    for group, (kind, share, n_streams) in GROUPS.items():
        per = max(50, int(total_lines * share / n_streams))
        for i in range(n_streams):
            if kind in ("access", "syslog"):
                stream = f"ip-10-0-{i}-{name_rng.getrandbits(16)}"
            else:
                stream = f"2026/11/27/[$LATEST]{name_rng.getrandbits(128):032x}"
            path = store.ensure_stream(group, stream)
            rel = str(path.relative_to(root))
            by_group.setdefault(group, []).append(stream)
            jobs.append((words, seed, total_lines, kind, s, per, start_ms, end_ms, str(path), rel))
            s += 1
    procs = procs or min(len(jobs), os.cpu_count() or 1)
    if procs > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(procs) as pool:
            results = pool.map(_write_stream, jobs, chunksize=1)
    else:
        results = [_write_stream(j) for j in jobs]
    events = {rel: multi for rel, _, _, multi, _ in results if multi}
    (root / "events.json").write_text(json.dumps(events))
    vocab = Vocab(words, seed)
    # a request id users would paste: the 40th invocation of the 3rd checkout stream
    rid = None
    p = root / jobs[2][9]
    starts = [ln for ln in p.read_text().splitlines() if " START RequestId: " in ln]
    if starts:
        rid = starts[min(40, len(starts) - 1)].split("RequestId: ", 1)[1].split()[0]
    # a mid-frequency word: a template word never used outside templates (rank >= 3000), in ~0.5% of lines
    used = [sum(r[4][i] for r in results) for i in range(N_TEMPLATES)]
    per_word: dict[str, int] = {}
    rank = {w: i for i, (w, _) in enumerate(words)}
    for i, t in enumerate(vocab.templates):
        for w in set(t.split()):
            if rank.get(w, 0) >= 3000:
                per_word[w] = per_word.get(w, 0) + used[i]
    total = sum(r[1] for r in results)
    mid = (
        min(sorted(per_word), key=lambda w: abs(per_word[w] - total * 0.005)) if per_word else "the"
    )
    return {
        "kind": "realistic",
        "mid_word": mid,
        "mid_word_template_lines": per_word.get(mid),
        "lines": sum(r[1] for r in results),
        "events_multiline": sum(len(v) for v in events.values()),
        "bytes": sum(r[2] for r in results),
        "streams": len(jobs),
        "groups": len(GROUPS),
        "start": start_ms,
        "end": end_ms,
        "streams_by_group": by_group,
        "request_id": rid,
        "absent_word": vocab.absent[len(vocab.absent) // 2],
        "vocabulary": {
            "words": len(words),
            "templates": N_TEMPLATES,
            "python": sysconfig.get_python_version(),
            "sha256": hashlib.sha256("\n".join(w for w, _ in words).encode()).hexdigest()[:16],
        },
    }


if __name__ == "__main__":
    import sys

    info = generate(Path(sys.argv[1]), int(sys.argv[2]))
    print(json.dumps({k: v for k, v in info.items() if k != "streams_by_group"}, indent=1))
