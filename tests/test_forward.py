"""`logsvc forward` (issue #16 item 1): groups mirrored to a CloudWatch Logs endpoint exactly once.

Destinations are a moto server (standing in for AWS) and a second real logsvc server, read back
with boto3. The kill -9 test runs the real `logsvc forward` command as a subprocess; the crash
window between an acknowledged PutLogEvents and the checkpoint write is hit on purpose in-process
(a destination that stores the batch, then dies). Rejections and throttling use a small proxy
in front of moto where moto does not behave like AWS.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ReadTimeoutError
from click.testing import CliRunner

from logsvc import ship
from logsvc.cli import main
from logsvc.invoker.functions import parse_project
from logsvc.store import Store
from tests.conftest import start_server, wait_for
from tests.helpers_aws import aws_client

DAY = 86_400_000


@pytest.fixture(scope="module")
def moto_url():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def logsvc_dest(tmp_path_factory):
    """A second real logsvc: the destination of some tests, the source whose /healthz is read."""
    data = tmp_path_factory.mktemp("dest") / "data"
    data.mkdir()
    s = start_server(data)
    yield s
    s.stop(signal.SIGKILL)  # its whole process group; a graceful stop would cost seconds here


@pytest.fixture
def dest_url(request, moto_url, logsvc_dest):
    return moto_url if request.param == "moto" else logsvc_dest.url


def read_back(url: str, group: str, stream: str) -> list[str]:
    """Every message of a destination stream, oldest first, through GetLogEvents' paging."""
    c = aws_client("logs", url)
    out, token = [], None
    while True:
        kw = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kw["nextToken"] = token
        page = c.get_log_events(**kw)
        out += [e["message"] for e in page["events"]]
        if not page["events"] or page["nextForwardToken"] == token:
            return out
        token = page["nextForwardToken"]


def write_corpus(root: Path, groups: int, streams: int, per_stream: int, tag: str) -> dict:
    """Events with increasing timestamps in groups `<tag>-g<i>`; returns {(group, stream): msgs}."""
    store = Store(root)
    now = int(time.time() * 1000) - 3_600_000
    want = {}
    for g in range(groups):
        group = f"{tag}-g{g}"
        store.create_group(group)
        for s in range(streams):
            stream = f"s{s}"
            store.create_stream(group, stream)
            msgs = [
                f"{tag} {group} {stream} event {i} " + "x" * (i % 50) for i in range(per_stream)
            ]
            for lo in range(0, per_stream, 5000):
                chunk = msgs[lo : lo + 5000]
                store.append_events(group, stream, [(now + lo + i, m) for i, m in enumerate(chunk)])
            want[(group, stream)] = msgs
    return want


def drain(fwd: ship.Forwarder) -> None:
    """Step the forwarder in this thread until a step has nothing left to do."""
    while fwd.step():
        pass


@contextlib.contextmanager
def proxied(upstream: str, **options) -> Iterator[_Proxy]:
    """A `_Proxy` in front of `upstream` for one block, shut down and closed after it."""
    proxy = _Proxy(upstream, **options)
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()


def forward_cmd(src: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "logsvc", "forward", "--data-dir", str(src), *args]


def status_of(src: Path, url: str) -> dict:
    got = [s for s in ship.statuses(src) if s["endpoint"] == url]
    return got[0] if got else {}


def _stop(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    proc.stderr.close()


def kill9_run(
    tmp_path: Path, urls: list[str], groups: int, streams: int, per_stream: int, batch: int
) -> dict[str, dict]:
    """Forward the same groups to every destination with the real command (one process each, with
    checkpoints of its own), kill -9 each a quarter of the way, restart them, check exactly once.

    Each destination is reached through a proxy that holds every PutLogEvents 50 ms while the first
    run goes, so the kill lands part of the way through however fast the machine is (unslowed, a
    quiet forwarder sent all 600 events between two looks at its status); the restart keeps the
    same endpoint URL (its checkpoints are per endpoint) with the delay off."""
    with contextlib.ExitStack() as stack:
        proxies = [stack.enter_context(proxied(u, faults=0, delay=0.05)) for u in urls]
        return _kill9_run(tmp_path, proxies, groups, streams, per_stream, batch)


def _kill9_run(
    tmp_path: Path, proxies: list, groups: int, streams: int, per_stream: int, batch: int
) -> dict[str, dict]:
    urls = [p.url for p in proxies]
    src = tmp_path / "src"
    src.mkdir()
    tag = f"k{os.getpid()}{int(time.time() * 1000) % 100000}"
    want = write_corpus(src, groups, streams, per_stream, tag)
    total = groups * streams * per_stream
    env = dict(os.environ, LOGSVC_LOG_LEVEL="warning")
    first = []
    for i, url in enumerate(urls):
        # the first run takes its settings from [forward] in logsvc.toml, the second from flags
        project = tmp_path / f"logsvc{i}.toml"
        project.write_text(
            f'[forward]\nendpoint = "{url}"\ngroups = ["{tag}-*"]\nbatch_events = {batch}\n'
            "interval = 0.05\n"
        )
        cmd = forward_cmd(src, "--project", str(project))
        first.append(subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True))
    at_kill: dict[str, dict] = {}

    def kill_past_a_quarter() -> bool:
        for url, proc in zip(urls, first, strict=True):
            if url not in at_kill and status_of(src, url).get("eventsForwarded", 0) >= total // 4:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
                at_kill[url] = status_of(src, url)
        return len(at_kill) == len(urls)

    try:
        wait_for(kill_past_a_quarter, timeout=60, what="a quarter of the events forwarded")
    finally:
        for proc in first:
            _stop(proc, signal.SIGKILL)
    for st in at_kill.values():
        assert st["running"] is False and st["stopped"] is False  # killed, not stopped
        assert 0 < st["eventsForwarded"] < total, "the kill must land halfway"
    for p in proxies:
        p.delay = 0.0
    flags = ["--group", f"{tag}-*", "--batch-events", str(batch), "--interval", "0.05"]
    second = [
        subprocess.Popen(
            forward_cmd(src, "--endpoint", url, *flags), env=env, stderr=subprocess.PIPE, text=True
        )
        for url in urls
    ]
    try:
        done = [
            wait_for(
                lambda url=url: (s := status_of(src, url)).get("caughtUp") and s["running"] and s,
                timeout=240,
                what=f"the restarted forwarder to {url} to catch up",
            )
            for url in urls
        ]
        text = CliRunner().invoke(main, ["forward", "--data-dir", str(src), "--status"]).output
    finally:
        for proc in second:
            _stop(proc, signal.SIGTERM)
    for url, st in zip(urls, done, strict=True):
        after = status_of(src, url)  # SIGTERM: a clean stop, the lock released
        assert after["stopped"] is True and after["running"] is False
        assert st["eventsForwarded"] == total
        assert f"{url}: running, {total} events in " in text
        for (group, stream), msgs in want.items():
            got = read_back(url, group, stream)
            assert len(got) == len(msgs), (url, group, stream, len(got), len(msgs))
            assert got == msgs  # once each, in order
    return at_kill


def test_kill9_halfway_then_restart_forwards_each_event_once_in_order(
    tmp_path, moto_url, logsvc_dest
):
    """To moto (for AWS) and to a second logsvc at once, each from its own checkpoints."""
    kill9_run(tmp_path, [moto_url, logsvc_dest.url], 2, 2, 150, batch=30)


@pytest.mark.slow
def test_done_means_100k_events_in_20_streams_across_kill9(tmp_path, moto_url, logsvc_dest):
    at_kill = kill9_run(tmp_path, [moto_url, logsvc_dest.url], 4, 5, 5000, batch=2500)
    print({url: st["eventsForwarded"] for url, st in at_kill.items()})  # shown with -s


class _RewriteWhileSending(ship.Destination):
    """The first PutLogEvents lands just after the source file was rewritten in place."""

    def __init__(self, cfg, path: Path, rewrite: bytes) -> None:
        super().__init__(cfg)
        self.path, self.rewrite, self.calls = path, rewrite, 0

    def put(self, group, stream, events):
        self.calls += 1
        if self.calls == 1:
            with open(self.path, "r+b") as f:
                f.write(self.rewrite)
        return super().put(group, stream, events)


def test_a_rewrite_while_a_batch_is_in_flight_is_forwarded_too(tmp_path, moto_url):
    """The forwarder knows the file by the bytes it sent, not by the file read again at the
    acknowledgment: an in-place rewrite (same size, same head) during the send is a new file,
    forwarded from its first byte, not taken for what was sent."""
    src = tmp_path / "src"
    store = Store(src)
    group = f"rw{int(time.time() * 1000) % 100000}-g"
    store.create_group(group)
    store.create_stream(group, "s")
    header = "# a constant header line, longer than the 64 head bytes a file is known by"
    path = store.stream_file(group, "s")
    path.write_bytes(f"{header}\norder q7xk2 accepted alpha\n".encode())
    cfg = ship.make_config({"endpoint": moto_url, "groups": [group]})
    dest = _RewriteWhileSending(cfg, path, f"{header}\norder z9wm4 rejected bravo\n".encode())
    fwd = ship.Forwarder(store, cfg, dest)
    drain(fwd)  # sends the first batch; the rewrite lands during it
    drain(fwd)  # the next look: a new file, forwarded from byte 0
    fwd.close()
    assert dest.calls == 2
    assert read_back(moto_url, group, "s") == [
        header,
        "order q7xk2 accepted alpha",
        header,
        "order z9wm4 rejected bravo",
    ]


class _StoreThenDie(ship.Destination):
    """PutLogEvents reaches the destination, then the process 'dies' (or the answer is lost)."""

    def __init__(self, cfg, on_call: int, how: str) -> None:
        super().__init__(cfg)
        self.calls, self.on_call, self.how = 0, on_call, how

    def put(self, group, stream, events):
        self.calls += 1
        if self.calls != self.on_call:
            return super().put(group, stream, events)
        if self.how == "die-before-send":
            raise SystemExit("killed before the request went out")
        super().put(group, stream, events)
        if self.how == "die-after-ack":
            raise SystemExit("killed after the destination stored the batch")
        raise ReadTimeoutError(endpoint_url=self.cfg.endpoint)  # stored, answer lost


@pytest.mark.parametrize("how", ["die-after-ack", "die-before-send", "answer-lost"])
def test_the_window_between_an_acknowledged_batch_and_its_checkpoint(tmp_path, moto_url, how):
    """The outcome of the batch in flight is settled by asking the destination, not by resending."""
    src = tmp_path / "src"
    tag = f"w{how[:5]}{int(time.time() * 1000) % 100000}"
    want = write_corpus(src, 1, 1, 150, tag)
    cfg = ship.make_config({"endpoint": moto_url, "groups": [f"{tag}-*"], "batch_events": 50})
    store = Store(src)
    fwd = ship.Forwarder(store, cfg, _StoreThenDie(cfg, on_call=2, how=how))
    if how == "answer-lost":
        drain(fwd)
        assert fwd.run_counts.recovered == 1 and fwd.run_counts.resent == 0
    else:
        with pytest.raises(SystemExit):
            drain(fwd)
        pending = fwd.checkpoint()["pending"]
        assert len(pending) == 1  # the record of the batch in flight survived the "crash"
        fwd.close()
        fwd = ship.Forwarder(store, cfg)
        drain(fwd)
        landed = how == "die-after-ack"
        assert (fwd.run_counts.recovered, fwd.run_counts.resent) == (int(landed), int(not landed))
    assert fwd.checkpoint()["pending"] == {}
    assert fwd.status()["eventsForwarded"] == 150
    fwd.close()
    for (group, stream), msgs in want.items():
        assert read_back(moto_url, group, stream) == msgs


def test_a_damaged_mark_position_in_the_checkpoint_neither_stops_nor_resends(tmp_path, moto_url):
    """`markEnd` (where the last bytes sent end) read from a damaged checkpoint: a position the mark
    cannot end at is read as a checkpoint without it, so the forwarder goes on where it was."""
    src = tmp_path / "src"
    tag = f"dm{int(time.time() * 1000) % 100000}"
    want = write_corpus(src, 1, 1, 100, tag)
    cfg = ship.make_config({"endpoint": moto_url, "groups": [f"{tag}-*"], "batch_events": 50})
    store = Store(src)
    fwd = ship.Forwarder(store, cfg)
    drain(fwd)
    fwd.close()
    path = Path(store.root, *fwd.dir, "checkpoint.json")
    doc = json.loads(path.read_bytes())
    (rec,) = doc["streams"].values()
    assert len(rec["mark"]) > 8 and rec["markEnd"] == rec["end"]
    rec["markEnd"] = 3  # before the mark's own length: no mark can end there
    path.write_text(json.dumps(doc))
    (group, stream), msgs = want.popitem()
    later = [f"{tag} later {i}" for i in range(20)]
    stamp = int(time.time() * 1000)
    store.append_events(group, stream, [(stamp + i, m) for i, m in enumerate(later)])
    fwd = ship.Forwarder(store, cfg)
    drain(fwd)
    assert fwd.status()["eventsForwarded"] == 120  # totals carry over: 100 before, 20 now
    fwd.close()
    assert read_back(moto_url, group, stream) == msgs + later


@pytest.mark.parametrize(
    "damage",
    [
        lambda doc: b"{not json",
        lambda doc: json.dumps({**doc, "streams": {"k": {**doc["streams"]["k"], "end": "12"}}}),
        lambda doc: json.dumps({**doc, "streams": {"k": {**doc["streams"]["k"], "markEnd": "x"}}}),
        lambda doc: json.dumps({**doc, "streams": {"k": {"end": 5}}}),
    ],
)
def test_a_damaged_checkpoint_is_one_clear_error_and_frees_the_destination(tmp_path, damage):
    """`logsvc forward` over a checkpoint it cannot read says which file, what is wrong and what to
    do (exit 2, no traceback), and leaves no lock behind: the next forwarder can start."""
    url = "http://127.0.0.1:9"  # never reached: the checkpoint is read first
    cfg = ship.make_config({"endpoint": url, "groups": ["/g"]})
    store = Store(tmp_path)
    ship.Forwarder(store, cfg).close()  # makes the destination's folder
    good = {
        "streams": {
            "k": {"group": "/g", "stream": "s", "ino": 1, "head": "61", "end": 1, "mark": "61"}
        },
        "totals": {},
    }
    path = Path(store.root, ship.FOLDER, cfg.dest_id, "checkpoint.json")
    raw = damage(good)
    path.write_bytes(raw if isinstance(raw, bytes) else raw.encode())
    args = ["forward", "--data-dir", str(tmp_path), "--endpoint", url, "--group", "/g"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert "checkpoint" in r.output and "is damaged" in r.output and "move it aside" in r.output
    assert "Traceback" not in r.output
    path.write_text(json.dumps(good))  # mended: the destination is free to take
    ship.Forwarder(store, cfg).close()


def test_a_message_repeated_before_the_batch_is_not_taken_for_the_batch(tmp_path, moto_url):
    """The landed check counts what the stream sent before: the same (time, message) earlier in
    the stream is not proof that the batch in flight arrived."""
    src = tmp_path / "src"
    store = Store(src)
    tag = f"rep{int(time.time() * 1000) % 100000}"
    group = f"{tag}-g"
    store.create_group(group)
    store.create_stream(group, "s")
    ts = int(time.time() * 1000) - 60_000
    store.append_events(group, "s", [(ts, "same")] * 30)  # one batch of 10 sent, then more
    cfg = ship.make_config({"endpoint": moto_url, "groups": [group], "batch_events": 10})
    fwd = ship.Forwarder(store, cfg, _StoreThenDie(cfg, on_call=2, how="die-before-send"))
    with pytest.raises(SystemExit):
        drain(fwd)
    fwd.close()
    fwd = ship.Forwarder(store, cfg)
    drain(fwd)
    assert fwd.run_counts.resent == 1
    fwd.close()
    assert read_back(moto_url, group, "s") == ["same"] * 30


@pytest.mark.parametrize("dest_url", ["moto", "logsvc"], indirect=True)
def test_events_aws_refuses_are_reported_and_not_retried(tmp_path, dest_url):
    src = tmp_path / "src"
    store = Store(src)
    tag = f"old{int(time.time() * 1000) % 100000}"
    group = f"{tag}-g"
    store.create_group(group)
    store.create_stream(group, "s")
    now = int(time.time() * 1000)
    old = [(now - 20 * DAY + i, f"old {i}") for i in range(5)]
    fresh = [(now - 1000 + i, f"fresh {i}") for i in range(3)]
    future = [(now + 3 * 3_600_000 + i, f"future {i}") for i in range(2)]
    store.append_events(group, "s", old + fresh + future)
    cfg = ship.make_config({"endpoint": dest_url, "groups": [group]})
    fwd = ship.Forwarder(store, cfg)
    rounds = 0
    while fwd.step():
        rounds += 1
    assert rounds < 5  # refused events are counted, not sent again
    st = fwd.status()
    fwd.close()
    assert st["rejected"] == {"tooOld": 5, "tooNew": 2, "expired": 0}
    assert st["eventsForwarded"] == 3 and st["caughtUp"]
    assert read_back(dest_url, group, "s") == [m for _, m in fresh]
    assert fwd.checkpoint()["streams"].popitem()[1]["end"] == os.path.getsize(
        store.stream_file(group, "s")
    )


class _Proxy(http.server.ThreadingHTTPServer):
    """In front of moto: the first `faults` PutLogEvents get `mode`, the rest are relayed.

    Modes: "throttle" (AWS's ThrottlingException, nothing relayed), "drop-before" (the connection
    closes, nothing relayed), "drop-after" (relayed and stored, then the connection closes before
    the answer), "bad-token" (an older endpoint's InvalidSequenceTokenException, nothing relayed),
    "already-accepted" (relayed and stored, then answered DataAlreadyAcceptedException)."""

    ERRORS = {
        "throttle": "ThrottlingException",
        "bad-token": "InvalidSequenceTokenException",
        "already-accepted": "DataAlreadyAcceptedException",
    }

    def __init__(
        self, upstream: str, faults: int, mode: str = "throttle", delay: float = 0.0
    ) -> None:
        self.upstream, self.throttle, self.throttled, self.mode = upstream, faults, 0, mode
        self.delay = delay  # seconds each PutLogEvents is held before it is relayed
        self.put_times: list[float] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, status: int, out: bytes, ctype: str | None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype or "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def fault(self) -> None:
                if proxy.mode.startswith("drop"):
                    self.close_connection = True
                    return
                err = {"__type": proxy.ERRORS[proxy.mode], "message": proxy.mode}
                self.answer(400, json.dumps(err).encode(), None)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                faulty = self.headers.get("X-Amz-Target", "").endswith("PutLogEvents")
                if faulty:
                    proxy.put_times.append(time.monotonic())
                    if proxy.delay:
                        time.sleep(proxy.delay)
                    faulty = proxy.throttled < proxy.throttle
                    proxy.throttled += faulty
                stores = proxy.mode in ("drop-after", "already-accepted")
                if faulty and not stores:
                    return self.fault()
                req = urllib.request.Request(
                    proxy.upstream + self.path, data=body, method="POST", headers=dict(self.headers)
                )
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        status, out, ctype = r.status, r.read(), r.headers.get("Content-Type")
                except urllib.error.HTTPError as e:
                    status, out, ctype = e.code, e.read(), e.headers.get("Content-Type")
                if faulty:
                    return self.fault()
                self.answer(status, out, ctype)

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def test_throttling_is_survived_with_backoff(tmp_path, moto_url):
    with proxied(moto_url, faults=3) as proxy:
        src = tmp_path / "src"
        tag = f"thr{int(time.time() * 1000) % 100000}"
        want = write_corpus(src, 1, 1, 200, tag)
        cfg = ship.make_config({"endpoint": proxy.url, "groups": [f"{tag}-*"], "batch_events": 100})
        fwd = ship.Forwarder(Store(src), cfg)
        drain(fwd)
        st = fwd.status()
        fwd.close()
    assert st["throttled"] == 3 and st["retries"] == 3
    assert "ThrottlingException" in st["lastError"]
    assert st["eventsForwarded"] == 200
    gaps = [b - a for a, b in zip(proxy.put_times, proxy.put_times[1:4], strict=False)]
    assert sum(gaps) > 0.02  # waited between the throttled attempts (jittered exponential)
    for (group, stream), msgs in want.items():
        assert read_back(moto_url, group, stream) == msgs


def test_healthz_shows_a_forwarder_beside_the_server(logsvc_dest, moto_url):
    """The forwarder over a server's data directory reports through the server's /healthz."""
    store = logsvc_dest.store
    group = f"hz{int(time.time() * 1000) % 100000}"
    store.create_group(group)
    store.create_stream(group, "s")
    store.append_events(group, "s", [(int(time.time() * 1000), f"e{i}") for i in range(25)])
    cfg = ship.make_config({"endpoint": moto_url, "groups": [group], "prefix": "copy/"})
    fwd = ship.Forwarder(store, cfg)
    try:
        drain(fwd)
        fwd.write_status(final=False)
        hz = requests.get(logsvc_dest.url + "/healthz", timeout=5).json()
        mine = [f for f in hz["forward"] if f["groups"] == [group]]
        assert len(mine) == 1 and mine[0]["running"] is True
        assert mine[0]["eventsForwarded"] == 25 and mine[0]["lagBytes"] == 0
        assert mine[0]["lagSeconds"] == 0.0 and mine[0]["failing"] is False
        locked = ship.public_status(mine[0])  # what /healthz shows when a token locks the server
        assert not {"destination", "endpoint", "groups", "lastError", "pid"} & set(locked)
        assert locked["eventsForwarded"] == 25 and locked["failing"] is False
        with pytest.raises(ship.Busy):  # one forwarder per destination
            ship.Forwarder(store, cfg)
        store.append_events(group, "s", [(int(time.time() * 1000), "late")])
        fwd.step()
    finally:
        fwd.close()
    hz = requests.get(logsvc_dest.url + "/healthz", timeout=5).json()
    mine = [f for f in hz["forward"] if f["groups"] == [group]]
    assert mine[0]["running"] is False and mine[0]["eventsForwarded"] == 26
    assert read_back(moto_url, "copy/" + group, "s")[-1] == "late"


def test_forward_section_is_checked_and_accepted_by_the_project(tmp_path):
    path = tmp_path / "logsvc.toml"
    path.write_text('[forward]\nendpoint = "aws"\ngroups = ["/aws/lambda/*"]\n')
    parse_project({"forward": {"endpoint": "aws"}}, path)  # serve --project accepts the section
    assert ship.make_config(ship.section_from_project(path)).groups == ("/aws/lambda/*",)
    path.write_text('[forward]\nendpoint = "aws"\ngroup = ["x"]\n')
    r = CliRunner().invoke(main, ["forward", "--data-dir", str(tmp_path), "--project", str(path)])
    assert r.exit_code == 2 and "forward.group: unknown key" in r.output
    with pytest.raises(ship.ConfigError, match="must be 'aws' or an http"):
        ship.make_config({"endpoint": "ftp://x", "groups": ["a"]})
    with pytest.raises(ship.ConfigError, match="between 1 and 10000"):
        ship.make_config({"endpoint": "aws", "groups": ["a"], "batch_events": 10001})


def test_batches_stay_within_aws_limits(tmp_path, moto_url):
    """Bytes (26 per event), the 24 h span and order: a batch that breaks any is refused by AWS."""
    src = tmp_path / "src"
    store = Store(src)
    group = f"lim{int(time.time() * 1000) % 100000}"
    store.create_group(group)
    store.create_stream(group, "s")
    now = int(time.time() * 1000)
    big = "y" * 200_000
    events = [(now - 2 * DAY + i, f"{i} {big}") for i in range(6)]  # 1.2 MB: two batches
    events += [(now - DAY // 2 + 5, "b"), (now - DAY // 2, "a")]  # out of order in the file
    store.append_events(group, "s", events)
    sent = []

    class Recording(ship.Destination):
        def put(self, g, s, evs):
            sent.append(evs)
            return super().put(g, s, evs)

    cfg = ship.make_config({"endpoint": moto_url, "groups": [group]})
    fwd = ship.Forwarder(store, cfg, Recording(cfg))
    drain(fwd)
    fwd.close()
    for evs in sent:
        assert sum(len(e["message"].encode()) + 26 for e in evs) <= 1_048_576
        ts = [e["timestamp"] for e in evs]
        assert ts == sorted(ts) and ts[-1] - ts[0] <= DAY
    assert len(sent) >= 3 and sum(map(len, sent)) == 8
    assert read_back(moto_url, group, "s")[-2:] == ["a", "b"]


@pytest.mark.parametrize("mode", ["drop-before", "drop-after", "bad-token", "already-accepted"])
def test_a_dropped_connection_or_legacy_answer_never_duplicates(tmp_path, moto_url, mode):
    """A dropped connection leaves the outcome unknown: the forwarder asks the destination whether
    the batch landed, then resends (nothing stored) or commits (stored), never both. Endpoints
    that still use sequence tokens: a bad token is resent, "already accepted" is landed."""
    with proxied(moto_url, faults=2, mode=mode) as proxy:
        src = tmp_path / "src"
        tag = f"drop{mode[5:]}{int(time.time() * 1000) % 100000}"
        want = write_corpus(src, 1, 1, 120, tag)
        cfg = ship.make_config({"endpoint": proxy.url, "groups": [f"{tag}-*"], "batch_events": 40})
        fwd = ship.Forwarder(Store(src), cfg)
        drain(fwd)
        st = fwd.status()
        fwd.close()
    assert proxy.throttled == 2
    expected = {
        "drop-before": (2, 0, 2),
        "drop-after": (0, 2, 2),
        "bad-token": (0, 0, 2),
        "already-accepted": (0, 2, 0),
    }
    assert (st["resent"], st["recovered"], st["retries"]) == expected[mode]
    assert st["eventsForwarded"] == 120
    for (group, stream), msgs in want.items():
        assert read_back(moto_url, group, stream) == msgs


def test_only_visible_events_leave_and_expired_ones_are_counted(tmp_path, logsvc_dest):
    """Events past the source group's retention are not sent (reads do not show them); events past
    the destination group's retention are the destination's `expiredLogEventEndIndex`."""
    src = tmp_path / "src"
    store = Store(src)
    tag = f"vis{int(time.time() * 1000) % 100000}"
    now = int(time.time() * 1000)
    hidden, shown = f"{tag}-kept-1d", f"{tag}-dest-1d"
    for g in (hidden, shown):
        store.create_group(g)
        store.create_stream(g, "s")
        store.append_events(g, "s", [(now - 3 * DAY + i, f"3 days old {i}") for i in range(4)])
        store.append_events(g, "s", [(now - 1000, "recent")])
    store.update_group(hidden, retention_days=1)  # the old events are invisible at the source
    dest = aws_client("logs", logsvc_dest.url)
    dest.create_log_group(logGroupName=shown)
    dest.put_retention_policy(logGroupName=shown, retentionInDays=1)
    cfg = ship.make_config({"endpoint": logsvc_dest.url, "groups": [f"{tag}-*"]})
    fwd = ship.Forwarder(store, cfg)
    drain(fwd)
    st = fwd.status()
    fwd.close()
    assert st["rejected"] == {"tooOld": 0, "tooNew": 0, "expired": 4}
    assert st["eventsForwarded"] == 2
    assert read_back(logsvc_dest.url, hidden, "s") == ["recent"]
    assert read_back(logsvc_dest.url, shown, "s") == ["recent"]
