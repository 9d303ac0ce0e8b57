"""Faults with real processes: kill -9, a damaged index, rotation, symlinks, 10,000 files, a full disk.

Each test is bounded in time. The CI variant is short; `LOGSVC_FULL_TESTS=1` runs the long one
(10 kill rounds instead of 3, longer writes). The invariant is always the same: every complete
line in the stream files is served by /api/v1/events exactly once.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from logsvc.store import Store
from tests.conftest import Server, start_server, wait_for
from tests.helpers_faults import (
    FULL,
    StreamWriters,
    all_events,
    diff_marks,
    wait_all_served,
)

ROUNDS = 10 if FULL else 3
G = "/aws/lambda/faults"


def _sitecustomize(where: Path, code: str) -> dict:
    """Environment for a server whose every Python process first runs `code` (via sitecustomize)."""
    d = where / "sitecustom"
    d.mkdir(exist_ok=True)
    (d / "sitecustomize.py").write_text(code)
    return {"PYTHONPATH": os.pathsep.join([str(d), str(Path(__file__).resolve().parents[1])])}


def _assert_exactly_once(files, served, what: str) -> None:
    d = diff_marks(files, served)
    assert sum(files.values()) > 0
    assert d["lost"] == d["duplicated"] == d["unknown"] == 0, (
        f"{what}: {d} (file lines {sum(files.values())}, served {sum(served.values())})"
    )


def _put_log_events_client(url: str):
    """A boto3 logs client if this server speaks the CloudWatch API, else None."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "logs",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, read_timeout=20, connect_timeout=5),
    )
    try:
        client.describe_log_groups(limit=1)
    except Exception:
        return None
    return client


class PutLogEventsWriter:
    """Calls PutLogEvents in batches against whatever server is current; counts what was acknowledged."""

    def __init__(self, group: str, stream: str) -> None:
        self.group, self.stream = group, stream
        self.url: str | None = None
        self.acked: list[str] = []
        self.maybe: list[str] = []  # sent while the server died: stored or not, never twice
        self._stop = threading.Event()
        self._t: threading.Thread | None = None
        self.seq = 0

    def start(self) -> PutLogEventsWriter:
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self) -> None:
        client = None
        client_url = None
        while not self._stop.is_set():
            url = self.url
            if url is None:
                time.sleep(0.05)
                continue
            if client_url != url:
                client = _put_log_events_client(url)
                client_url = url
                if client is None:
                    time.sleep(0.2)
                    client_url = None
                    continue
                try:
                    client.create_log_group(logGroupName=self.group)
                except Exception:
                    pass
                try:
                    client.create_log_stream(logGroupName=self.group, logStreamName=self.stream)
                except Exception:
                    pass
            now = int(time.time() * 1000)
            batch = []
            for _ in range(50):
                batch.append(f"cw m9999-{self.seq} put batch")
                self.seq += 1
            try:
                client.put_log_events(
                    logGroupName=self.group,
                    logStreamName=self.stream,
                    logEvents=[{"timestamp": now, "message": m} for m in batch],
                )
                self.acked += batch
            except Exception:
                self.maybe += batch
                client_url = None
                time.sleep(0.1)
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        if self._t:
            self._t.join(20)


def test_kill_9_whole_server_while_50_streams_append(data_dir: Path) -> None:
    """kill -9 the gunicorn process group at random moments; every line is served exactly once."""
    rnd = random.Random(int(os.environ.get("LOGSVC_FAULT_SEED", "7")))
    writers = StreamWriters(data_dir, G, n_streams=50, rate=5000).start()
    cw = PutLogEventsWriter("/cw/faults", "batches").start()
    kills = []
    try:
        for _ in range(ROUNDS):
            server = start_server(data_dir)
            cw.url = server.url
            delay = rnd.uniform(0.2, 2.5)
            time.sleep(delay)
            server.stop(signal.SIGKILL)
            cw.url = None
            kills.append(round(delay, 2))
        server = start_server(data_dir)
        acked_before = len(cw.acked)
        cw.url = server.url
        wait_for(
            lambda: len(cw.acked) > acked_before,
            timeout=30,
            what="a PutLogEvents batch acked by the last server",
        )
    finally:
        writers.stop()
        cw.stop()
    try:
        files, served, _ = wait_all_served(server.url, G, writers.paths, timeout=120)
        _assert_exactly_once(files, served, f"after {ROUNDS} kill -9 rounds at {kills}s")
        assert sum(files.values()) == writers.written
        assert cw.acked, (
            "no PutLogEvents batch was acknowledged: the CloudWatch side was not exercised"
        )
        got = [e["message"] for e in all_events(server.url, "/cw/faults")]
        counts = {m: got.count(m) for m in set(got)}
        assert all(n == 1 for n in counts.values()), "PutLogEvents batch stored twice"
        missing = [m for m in cw.acked if m not in counts]
        assert not missing, (
            f"{len(missing)} acknowledged PutLogEvents messages lost, e.g. {missing[:3]}"
        )
        mark = next(iter(files))
        hits = requests.get(
            server.url + "/api/v1/search", params={"q": mark, "group": G}, timeout=30
        ).json()["events"]
        assert len([e for e in hits if mark in e["message"].split()]) == 1
        print(
            f"\nkill -9 server: {ROUNDS} rounds at {kills}s, {sum(files.values())} lines, "
            f"{len(cw.acked)} PutLogEvents acked, 0 lost, 0 duplicated"
        )
    finally:
        server.stop()


def test_kill_9_only_the_ingesting_worker(data_dir: Path) -> None:
    """kill -9 just the worker holding the index lock; another worker takes over; nothing lost or doubled."""
    rnd = random.Random(11)
    server = start_server(data_dir)
    writers = StreamWriters(data_dir, G, n_streams=50, rate=5000).start()
    killed = []
    try:
        for _ in range(ROUNDS):
            pid = wait_for(
                lambda: requests.get(server.url + "/healthz", timeout=5).json().get("writerPid"),
                timeout=30,
                what="an ingesting worker",
            )
            time.sleep(rnd.uniform(0.2, 2.0))
            os.kill(int(pid), signal.SIGKILL)
            killed.append(pid)
            # the new writer must be a different, live process
            wait_for(
                lambda pid=pid: (
                    (w := requests.get(server.url + "/healthz", timeout=5).json().get("writerPid"))
                    and w != pid
                ),
                timeout=30,
                what="a new ingesting worker",
            )
        time.sleep(0.5)
        writers.stop()
        files, served, _ = wait_all_served(server.url, G, writers.paths, timeout=120)
        _assert_exactly_once(files, served, f"after killing ingesting workers {killed}")
        assert server.proc.poll() is None, "the arbiter died with its worker"
        print(
            f"\nkill -9 ingesting worker: {len(killed)} rounds, {sum(files.values())} lines, 0 lost, 0 duplicated"
        )
    finally:
        writers.stop()
        server.stop()


# ---- the index ---------------------------------------------------------------------------------


def _snapshot_answers(url: str) -> dict:
    return {
        "events": [(e["eventId"], e["timestamp"], e["message"]) for e in all_events(url, G)],
        "search": requests.get(
            url + "/api/v1/search", params={"q": "ERROR", "group": G, "limit": 50}, timeout=30
        ).json()["events"],
        "streams": requests.get(url + "/api/v1/streams", params={"group": G}, timeout=30).json()[
            "streams"
        ],
    }


def _seed(data_dir: Path, n: int = 3000) -> None:
    store = Store(data_dir)
    for s in range(5):
        p = store.ensure_stream(G, f"seed-{s}")
        with open(p, "a", encoding="utf-8") as f:
            for i in range(n // 5):
                level = "ERROR" if i % 37 == 0 else "INFO"
                f.write(
                    f"2026-11-27T10:{i // 60 % 60:02d}:{i % 60:02d}.{s:03d}Z {level} m{s}-{i} request done\n"
                )


@pytest.mark.parametrize(
    "damage", ["deleted", "garbage_files", "truncated_segments", "toc_removed"]
)
def test_damaged_index_is_rebuilt_with_identical_answers(data_dir: Path, damage: str) -> None:
    _seed(data_dir)
    server = start_server(data_dir)
    try:
        wait_for(lambda: len(all_events(server.url, G)) == 3000, timeout=30, what="seed indexed")
        before = _snapshot_answers(server.url)
    finally:
        server.stop()
    index = data_dir / "index"
    assert index.is_dir()
    if damage == "deleted":
        shutil.rmtree(index)
    elif damage == "garbage_files":
        for f in index.iterdir():
            if f.is_file():
                f.write_bytes(os.urandom(max(16, f.stat().st_size)))
    elif damage == "truncated_segments":
        for f in index.iterdir():
            if f.is_file() and f.stat().st_size > 8:
                with open(f, "r+b") as fh:
                    fh.truncate(f.stat().st_size // 2)
    elif damage == "toc_removed":
        for f in index.glob("*.toc"):
            f.unlink()
    server = start_server(data_dir, env={"LOGSVC_LOG_LEVEL": "info"})
    try:
        wait_for(lambda: len(all_events(server.url, G)) == 3000, timeout=60, what="rebuilt index")
        after = _snapshot_answers(server.url)
        assert after["events"] == before["events"]
        assert after["search"] == before["search"]
        assert [(s["name"], s["firstEventTime"], s["lastEventTime"]) for s in after["streams"]] == [
            (s["name"], s["firstEventTime"], s["lastEventTime"]) for s in before["streams"]
        ]
        log = [
            line
            for line in server.stderr_lines
            if "index" in line and ("rebuild" in line or "building" in line)
        ]
        assert log, (
            "no clear log message about the rebuild:\n" + "".join(server.stderr_lines)[-3000:]
        )
    finally:
        server.stop()


# ---- following files -----------------------------------------------------------------------------


@pytest.fixture
def live(data_dir: Path):
    s = start_server(data_dir)
    yield s
    s.stop()


def _messages(server: Server, group: str = G, stream: str | None = None) -> list[str]:
    params = {"stream": stream} if stream else {}
    return [e["message"] for e in all_events(server.url, group, **params)]


def test_rotation_rename_and_new_file(live: Server) -> None:
    path = live.store.ensure_stream(G, "rot")
    with open(path, "a") as f:
        f.write("".join(f"old m1-{i}\n" for i in range(500)))
    wait_for(lambda: len(_messages(live, stream="rot")) == 500, what="first file indexed")
    os.rename(path, path.with_suffix(".log.1"))  # logrotate: rename, new file at the path
    with open(path, "a") as f:
        f.write("".join(f"new m2-{i}\n" for i in range(300)))
    wait_for(
        lambda: _messages(live, stream="rot") == [f"new m2-{i}" for i in range(300)],
        timeout=15,
        what="the new file is the stream; the renamed one is not a stream",
    )
    # and later appends keep coming
    with open(path, "a") as f:
        f.write("".join(f"new m2-{i}\n" for i in range(300, 400)))
    wait_for(
        lambda: _messages(live, stream="rot") == [f"new m2-{i}" for i in range(400)],
        timeout=15,
        what="appends after rotation",
    )


def test_copytruncate(live: Server) -> None:
    path = live.store.ensure_stream(G, "ct")
    with open(path, "a") as f:
        f.write("".join(f"before m1-{i}\n" for i in range(1000)))
    wait_for(lambda: len(_messages(live, stream="ct")) == 1000, what="indexed")
    shutil.copy(path, path.with_suffix(".log.1"))
    with open(path, "r+") as f:
        f.truncate(0)
    with open(path, "a") as f:
        f.write("".join(f"after m2-{i}\n" for i in range(10)))  # much shorter than before
    wait_for(
        lambda: _messages(live, stream="ct") == [f"after m2-{i}" for i in range(10)],
        timeout=15,
        what="truncated file re-read",
    )
    # copytruncate where the new content grows past the old checkpoint before the ingester looks
    with open(path, "r+") as f:
        f.truncate(0)
    with open(path, "a") as f:
        f.write("".join(f"later m3-{i} padding padding padding\n" for i in range(2000)))
    want = [f"later m3-{i} padding padding padding" for i in range(2000)]
    got: list[str] = []

    def rewritten() -> bool:
        got[:] = _messages(live, stream="ct")
        return got == want

    try:
        wait_for(rewritten, timeout=15, what="rewritten head detected")
    except (
        AssertionError
    ):  # say what was served instead (an intermittent failure, not yet explained)
        wrong = [(i, m) for i, m in enumerate(got) if i >= len(want) or m != want[i]][:5]
        raise AssertionError(
            f"served {len(got)} events, want {len(want)}; first differences: {wrong}"
        ) from None


def test_file_deleted_while_followed(live: Server) -> None:
    path = live.store.ensure_stream(G, "gone")
    keep = live.store.ensure_stream(G, "keep")
    with open(path, "a") as f, open(keep, "a") as k:
        f.write("doomed m1-0\n")
        k.write("kept m2-0\n")
    wait_for(lambda: len(_messages(live)) == 2, what="indexed")
    fh = open(path, "a")
    try:
        path.unlink()
        fh.write("written after unlink m1-1\n")
        fh.flush()
        wait_for(
            lambda: _messages(live) == ["kept m2-0"],
            timeout=15,
            what="deleted stream gone from reads",
        )
        assert (
            requests.get(
                live.url + "/api/v1/events", params={"group": G, "stream": "gone"}, timeout=10
            ).status_code
            == 404
        )
    finally:
        fh.close()
    # a new file at the same path starts the stream again
    with open(path, "a") as f:
        f.write("reborn m3-0\n")
    wait_for(lambda: "reborn m3-0" in _messages(live), timeout=15, what="recreated stream")


def test_stream_file_replaced_by_symlink_to_outside_is_refused(
    live: Server, tmp_path: Path
) -> None:
    secret = tmp_path / "outside-secret.txt"
    secret.write_text("TOPSECRET m9-0 password=hunter2\n")
    path = live.store.ensure_stream(G, "victim")
    with open(path, "a") as f:
        f.write("normal m1-0\n")
    wait_for(lambda: _messages(live) == ["normal m1-0"], what="indexed")
    path.unlink()
    os.symlink(secret, path)
    other = live.store.group_dir(G) / ("sneaky" + ".log")
    os.symlink(secret, other)
    time.sleep(2.0)  # > rescan interval
    assert all("TOPSECRET" not in m for m in _messages(live))
    for q in ("TOPSECRET", "hunter2"):
        hits = requests.get(live.url + "/api/v1/search", params={"q": q}, timeout=10).json()[
            "events"
        ]
        assert hits == []
    for stream in ("victim", "sneaky"):
        r = requests.get(
            live.url + "/api/v1/events", params={"group": G, "stream": stream}, timeout=10
        )
        assert r.status_code in (400, 404) and "TOPSECRET" not in r.text
    r = requests.get(
        live.url + "/api/v1/tail", params={"group": G, "stream": "victim"}, timeout=5, stream=True
    )
    assert r.status_code in (400, 404)
    r.close()
    assert "victim" not in [
        s["name"]
        for s in requests.get(live.url + "/api/v1/streams", params={"group": G}, timeout=10).json()[
            "streams"
        ]
    ]
    # writing through the store must not follow it either
    from logsvc.errors import LogsvcError

    with pytest.raises(LogsvcError):
        live.store.append_events(G, "victim", [(1, "through the link")])
    assert secret.read_text() == "TOPSECRET m9-0 password=hunter2\n"
    # a group directory replaced by a symlink is refused too
    outside_dir = tmp_path / "outside-dir"
    outside_dir.mkdir()
    gdir = live.store.group_dir("/evil/group")
    os.symlink(outside_dir, gdir)
    with pytest.raises(LogsvcError):
        live.store.ensure_stream("/evil/group", "s")
    assert list(outside_dir.iterdir()) == []


def test_writer_that_never_writes_a_final_newline(live: Server) -> None:
    path = live.store.ensure_stream(G, "nonl")
    with open(path, "a") as f:
        f.write("first m1-0\nsecond m1-1 without newline")
    wait_for(
        lambda: _messages(live, stream="nonl") == ["first m1-0", "second m1-1 without newline"],
        timeout=15,
        what="unterminated last line served after the grace period",
    )
    # the writer finishes its line later: the event must not appear twice nor be split
    with open(path, "a") as f:
        f.write("\nthird m1-2\n")
    wait_for(lambda: "third m1-2" in _messages(live, stream="nonl"), timeout=15, what="next line")
    msgs = _messages(live, stream="nonl")
    assert msgs.count("second m1-1 without newline") == 1, msgs
    assert msgs == ["first m1-0", "second m1-1 without newline", "third m1-2"], msgs


def test_many_stream_files(data_dir: Path) -> None:
    """10,000 stream files (1,000 in CI): all served; if inotify cannot watch them, polling with a warning."""
    n = 10_000 if FULL else 1_000
    store = Store(data_dir)
    groups = [f"/many/g{g}" for g in range(10)]
    for i in range(n):
        p = store.ensure_stream(groups[i % 10], f"s{i}")
        with open(p, "a") as f:
            f.write(f"hello m{i}-0\n")
    env = {}
    limits = Path("/proc/sys/fs/inotify/max_user_watches").read_text().strip()
    server = start_server(data_dir, env=env, timeout=120)
    try:

        def count() -> int:
            return sum(len(all_events(server.url, g)) for g in groups)

        wait_for(lambda: count() == n, timeout=120, interval=1.0, what=f"{n} files served")
        # and appends to a few of them (watched or polled) arrive
        for i in (0, n // 2, n - 1):
            with open(store.stream_file(groups[i % 10], f"s{i}"), "a") as f:
                f.write(f"again m{i}-1\n")
        wait_for(lambda: count() == n + 3, timeout=30, interval=0.5, what="appends to some of them")
        mode = requests.get(server.url + "/healthz", timeout=5).json().get("fileEvents")
        if mode == "polling":
            assert "polling" in "".join(server.stderr_lines), (
                "degraded to polling without a warning"
            )
        print(
            f"\n{n} stream files (max_user_watches={limits}): file events = {mode}, all served once"
        )
    finally:
        server.stop()


def test_inotify_limit_exceeded_degrades_to_polling_with_a_warning(data_dir: Path) -> None:
    """Simulate an exhausted inotify budget (the watcher cannot start): polling, a warning, nothing lost.

    Watches are per directory, so 10,000 stream files in a few groups never reach max_user_watches;
    what runs out in practice is max_user_instances (128 here, one per process), which fails
    inotify_init with EMFILE. The simulation makes that call fail in every server process.
    """
    env = _sitecustomize(
        data_dir.parent,
        "import errno\n"
        "import logsvc.watch as w\n"
        "def _fail(*a, **k):\n"
        "    raise OSError(errno.EMFILE, 'inotify instance limit reached')\n"
        "w.Inotify.__init__ = _fail\n",
    )
    server = start_server(data_dir, env=env)
    try:
        assert requests.get(server.url + "/healthz", timeout=5).json()["fileEvents"] == "polling"
        assert "polling" in "".join(server.stderr_lines)
        path = server.store.ensure_stream(G, "polled")
        with open(path, "a") as f:
            f.write("".join(f"p m1-{i}\n" for i in range(2000)))
        wait_for(lambda: len(_messages(server)) == 2000, timeout=20, what="polled lines")
        files, served, _ = wait_all_served(server.url, G, [path], timeout=10)
        _assert_exactly_once(files, served, "polling")
    finally:
        server.stop()


# ---- a full disk ---------------------------------------------------------------------------------


def _can_mount_tmpfs(where: Path) -> bool:
    where.mkdir(exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True
    )
    if r.returncode != 0:
        return False
    subprocess.run(["umount", str(where)], check=True)
    return True


def _writer_health(url: str) -> dict | None:
    """/healthz once a writer has published its ingest state (any worker reports it)."""
    h = requests.get(url + "/healthz", timeout=5).json()
    return h if h.get("eventsIngested") is not None else None


def _fill(path: Path, leave: int) -> None:
    """Create `path` taking all free space of its filesystem but `leave` bytes."""
    st = os.statvfs(path.parent)
    free = st.f_bavail * st.f_frsize
    with open(path, "wb") as f:
        chunk = b"\0" * (1 << 20)
        todo = max(0, free - leave)
        while todo > 0:
            try:
                todo -= f.write(chunk[: min(len(chunk), todo)])
            except OSError:
                break


def test_disk_full_while_ingesting_then_space_returns(tmp_path: Path) -> None:
    """Data dir on a small tmpfs that fills up while ingesting: clear error, still serving, stored data
    intact; when space is freed (no restart) ingestion resumes and every line is there exactly once."""
    mnt = tmp_path / "mnt"
    if not _can_mount_tmpfs(mnt):
        pytest.skip(
            "cannot mount a tmpfs here (not root); test_disk_full_under_rlimit covers the full disk"
        )
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mnt)], check=True)
    server = None
    try:
        data_dir = mnt / "data"
        data_dir.mkdir()
        _seed(data_dir, 1000)
        server = start_server(data_dir)
        wait_for(lambda: len(all_events(server.url, G)) == 1000, timeout=30, what="seed indexed")
        before = all_events(server.url, G)
        ballast = mnt / "ballast"
        _fill(ballast, leave=3 * 1024 * 1024)
        path = server.store.ensure_stream(G, "big")
        n = 0
        with open(
            path, "a"
        ) as f:  # ~2.7 MB of lines with unique tokens: the index cannot fit beside them
            while os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize > 400_000:
                f.write(
                    "".join(
                        f"2026-11-27T11:00:00.000Z INFO bigm{n + i} tok{os.urandom(6).hex()} {os.urandom(8).hex()}\n"
                        for i in range(1000)
                    )
                )
                f.flush()
                n += 1000
        _fill(mnt / "ballast2", leave=0)
        health = wait_for(
            lambda: (h := _writer_health(server.url)) and h.get("ingestError") and h,
            timeout=30,
            what="an ingest error in /healthz",
        )
        time.sleep(1.0)  # a few retries
        assert "Exception in thread" not in "".join(server.stderr_lines), (
            "the ingest thread died on the full disk:\n" + "".join(server.stderr_lines)[-3000:]
        )
        assert "full" in health["ingestError"], f"not a clear message: {health['ingestError']!r}"
        # still serving, and what was stored before is intact
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        assert all_events(server.url, G, stream="seed-0") == [
            e for e in before if e["stream"] == "seed-0"
        ]
        # a write API on a full disk: a clear error, not a 500 / InternalFailure (and not a silent success)
        from botocore.exceptions import ClientError

        cw = wait_for(lambda: _put_log_events_client(server.url), what="a CloudWatch client")
        with pytest.raises(ClientError) as refused:
            cw.create_log_group(logGroupName="/cw/full")
            cw.create_log_stream(logGroupName="/cw/full", logStreamName="s")
            cw.put_log_events(
                logGroupName="/cw/full",
                logStreamName="s",
                logEvents=[{"timestamp": int(time.time() * 1000), "message": "x" * 200_000}] * 4,
            )
        assert refused.value.response["Error"]["Code"] == "ServiceUnavailableException", (
            refused.value.response
        )
        assert "full" in refused.value.response["Error"]["Message"]
        # space returns: no restart
        ballast.unlink()
        (mnt / "ballast2").unlink()
        wait_for(
            lambda: len(all_events(server.url, G, stream="big")) == n,
            timeout=90,
            interval=1,
            what="ingestion resumed after space returned",
        )
        evs = all_events(server.url, G, stream="big")
        assert len({e["eventId"] for e in evs}) == n
        assert [e["message"].split()[1] for e in evs] == [f"bigm{i}" for i in range(n)]
        seeds = [e for e in all_events(server.url, G) if e["stream"] != "big"]
        assert [(e["eventId"], e["message"]) for e in seeds] == [
            (e["eventId"], e["message"]) for e in before
        ]
        log = "".join(server.stderr_lines)
        assert "Exception in thread" not in log, "a thread died on the full disk:\n" + log[-4000:]
        assert log.count("Traceback") <= 1, "a traceback per retry floods the log:\n" + log[-4000:]
    finally:
        if server is not None:
            server.stop()
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_under_rlimit(data_dir: Path, tmp_path: Path) -> None:
    """The index cannot grow (RLIMIT_FSIZE on every server process, so whoosh's writes fail with EFBIG
    as they would with ENOSPC): a clear error, the ingest thread keeps retrying, still serving, old
    data intact; after a restart without the limit everything is there exactly once."""
    _seed(data_dir, 1000)
    limit = 96 * 1024
    server = start_server(data_dir)
    try:
        wait_for(lambda: len(all_events(server.url, G)) == 1000, timeout=30, what="seed indexed")
        before = all_events(server.url, G)
    finally:
        server.stop()
    env = _sitecustomize(
        tmp_path,
        "import resource, signal\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n",
    )
    server = start_server(data_dir, env=env)
    n = 150_000 if FULL else 40_000
    try:
        path = server.store.ensure_stream(G, "big")
        with open(path, "a") as f:
            for i in range(0, n, 1000):
                f.write(
                    "".join(
                        f"2026-11-27T11:00:00.000Z INFO bigm{j} tok{os.urandom(6).hex()} {os.urandom(8).hex()}\n"
                        for j in range(i, i + 1000)
                    )
                )
        health = wait_for(
            lambda: (h := _writer_health(server.url)) and h.get("ingestError") and h,
            timeout=30,
            what="an ingest error in /healthz",
        )
        time.sleep(1.0)  # a few retries
        log = "".join(server.stderr_lines)
        assert "Exception in thread" not in log, (
            "the ingest thread died on the full disk:\n" + log[-3000:]
        )
        assert "full" in health["ingestError"] or "limit" in health["ingestError"], (
            f"not a clear message: {health['ingestError']!r}"
        )
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        assert all_events(server.url, G, stream="seed-0") == [
            e for e in before if e["stream"] == "seed-0"
        ]
    finally:
        server.stop()
    server = start_server(data_dir)  # space is back
    try:
        wait_for(
            lambda: len(all_events(server.url, G, stream="big")) == n,
            timeout=120,
            interval=1,
            what="resumed",
        )
        evs = all_events(server.url, G, stream="big")
        assert len({e["eventId"] for e in evs}) == n
        seeds = [e for e in all_events(server.url, G) if e["stream"] != "big"]
        assert [(e["eventId"], e["message"]) for e in seeds] == [
            (e["eventId"], e["message"]) for e in before
        ]
    finally:
        server.stop()


def test_store_append_on_full_disk_leaves_no_half_line(tmp_path: Path) -> None:
    """Store.append_events under RLIMIT_FSIZE: StorageError, and the file ends on a line boundary."""
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "from logsvc.store import Store\n"
        "from logsvc.errors import StorageError\n"
        "s = Store(sys.argv[1]); p = s.ensure_stream('/g', 's')\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (10000, 10000))\n"
        "ok = 0\n"
        "try:\n"
        "    for i in range(1000):\n"
        "        s.append_events('/g', 's', [(1700000000000 + i, 'x' * 150 + str(i))]); ok += 1\n"
        "except StorageError as e:\n"
        "    print('ERR', ok, e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(Path(__file__).resolve().parents[1]),
    )
    assert out.stdout.startswith("ERR"), out.stdout + out.stderr
    ok = int(out.stdout.split()[1])
    assert "full" in out.stdout or "limit" in out.stdout
    data = (Store(tmp_path / "d").stream_file("/g", "s")).read_bytes()
    assert data.endswith(b"\n") and data.count(b"\n") == ok


# ---- concurrent writers --------------------------------------------------------------------------


def test_two_writers_on_one_file_never_interleave_within_a_write(live: Server) -> None:
    """Two processes append to the same stream with O_APPEND, one write() per line (<= PIPE_BUF).

    The rule (README/ARCHITECTURE): a line written by a single write() on a descriptor opened
    with O_APPEND on a local filesystem lands whole; logsvc's own writers (Store.append_events)
    additionally take an flock so a batch of any size lands whole.
    """
    path = live.store.ensure_stream(G, "shared")
    n = 5000 if not FULL else 50_000
    code = (
        "import os, sys\n"
        "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)\n"
        "w = sys.argv[2]\n"
        f"for i in range({n}):\n"
        "    line = f'writer {w} m{w}-{i} ' + (w * (i % 3000)) + '\\n'\n"
        "    assert len(line) <= 4096\n"
        "    os.write(fd, line.encode())\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), w]) for w in ("1", "2")]
    for p in procs:
        assert p.wait(60) == 0
    raw = path.read_text().splitlines()
    assert len(raw) == 2 * n
    for line in raw:
        parts = line.split(" ")
        w = parts[1]
        assert parts[0] == "writer" and (len(parts) == 3 or set(parts[3]) <= {w}), (
            f"interleaved: {line[:120]!r}"
        )
    files, served, _ = wait_all_served(live.url, G, [path], timeout=30)
    _assert_exactly_once(files, served, "two writers")


def test_store_appends_from_many_threads_and_processes_land_whole(tmp_path: Path) -> None:
    code = (
        "import sys, threading\n"
        "from logsvc.store import Store\n"
        "s = Store(sys.argv[1]); s.ensure_stream('/g', 's')\n"
        "w = sys.argv[2]\n"
        "def run(t):\n"
        "    for i in range(200):\n"
        "        s.append_events('/g', 's', [(1700000000000, f'{w}.{t}.{i}.{j} ' + 'y' * 9000) for j in range(5)])\n"
        "ts = [threading.Thread(target=run, args=(t,)) for t in range(4)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
    )
    root = str(Path(__file__).resolve().parents[1])
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "d"), w], cwd=root)
        for w in "ab"
    ]
    for p in procs:
        assert p.wait(60) == 0
    lines = Store(tmp_path / "d").stream_file("/g", "s").read_text().splitlines()
    assert len(lines) == 2 * 4 * 200 * 5
    for line in lines:
        ts, tag, ys = line.split(" ")
        assert ys == "y" * 9000, line[:80]
    # each batch of 5 is contiguous
    tags = [line.split(" ")[1] for line in lines]
    for k in range(0, len(tags), 5):
        assert len({t.rsplit(".", 1)[0] for t in tags[k : k + 5]}) == 1, tags[k : k + 5]
