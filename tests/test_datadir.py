"""The data directory is a closed box (issue #17): bad entries, symlinks, leftovers, permissions.

Every test plants something real in a temp data directory (a file with an invalid name, a
symlink, a stale folder) and talks to a real `logsvc serve` through requests, boto3 or the CLI.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from logsvc import names
from tests.conftest import ROOT, HealthWatch, Server, healthy, start_server, wait_for

LONG = (
    "s" * 300
)  # a stream name whose file segment is hashed, so its full name lives in `<seg>.name`


def logs_client(server: Server):
    return boto3.client("logs", endpoint_url=server.url, region_name="us-east-1")


def gdir(data: Path, group: str) -> Path:
    return data / "groups" / names.encode_segment(group)


def outside_file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "outside" / "secret.txt"
    p.parent.mkdir(exist_ok=True)
    p.write_text(text)
    return p


def ok(server: Server, path: str, **params) -> dict:
    r = server.get(path, **params)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


def messages(server: Server, group: str) -> list[str]:
    return [e["message"] for e in ok(server, "/api/v1/events", group=group, limit=1000)["events"]]


def start_no_writer_wait(data: Path) -> Server:
    """`logsvc serve` without waiting for a writer (for data directories that must not get one)."""
    env = dict(
        os.environ,
        LOGSVC_DATA_DIR=str(data),
        LOGSVC_COMMIT_INTERVAL="0.05",
        LOGSVC_LIVE_COMMIT_INTERVAL="0.05",
        LOGSVC_RESCAN_INTERVAL="0.5",
        LOGSVC_THREADS="8",
        LOGSVC_LOG_LEVEL="warning",
        PYTHONUNBUFFERED="1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "logsvc", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=str(data.parent),
        text=True,
        start_new_session=True,
    )
    server = Server("", data, proc, env)
    threading.Thread(target=lambda: server.stderr_lines.extend(proc.stderr), daemon=True).start()  # type: ignore[arg-type]
    for line in proc.stdout:  # type: ignore[union-attr]
        if "serving http" in line:
            server.url = line.split("serving ", 1)[1].split()[0].rstrip("/")
            break
    assert server.url, "server did not start"
    wait_for(lambda: healthy(server.url), timeout=30, what="healthz")
    return server


@pytest.fixture
def live(data_dir: Path) -> Iterator[Server]:
    s = start_server(data_dir)
    yield s
    s.stop()


# ---- item 3: a name that is not valid Unicode ------------------------------------------------------------


def test_create_log_stream_refuses_a_lone_surrogate_and_nothing_breaks(live: Server) -> None:
    """CreateLogStream("\\ud800") once made every listing, read and the ingester fail."""
    with HealthWatch(live.url) as watch:  # the server keeps answering throughout
        cw = logs_client(live)
        cw.create_log_group(logGroupName="/u/g")
        cw.create_log_stream(logGroupName="/u/g", logStreamName="good")
        with pytest.raises(ClientError) as e:
            cw.create_log_stream(logGroupName="/u/g", logStreamName="\ud800")
        assert e.value.response["Error"]["Code"] == "InvalidParameterException"
        with pytest.raises(ClientError) as e:
            cw.put_log_events(
                logGroupName="/u/g",
                logStreamName="x\udfffy",
                logEvents=[{"timestamp": 1, "message": "m"}],
            )
        assert e.value.response["Error"]["Code"] == "InvalidParameterException"
        cw.put_log_events(
            logGroupName="/u/g",
            logStreamName="good",
            logEvents=[{"timestamp": int(time.time() * 1000), "message": "still fine"}],
        )
        assert [
            s["logStreamName"] for s in cw.describe_log_streams(logGroupName="/u/g")["logStreams"]
        ] == ["good"]
        wait_for(lambda: messages(live, "/u/g") == ["still fine"], what="the event")
        assert [g["name"] for g in ok(live, "/api/v1/groups")["groups"]] == ["/u/g"]
        ok(live, "/api/v1/streams", group="/u/g")
        wait_for(
            lambda: len(ok(live, "/api/v1/search", q="still")["events"]) == 1,
            what="the ingester indexing it",
        )
    watch.assert_healthy()


@pytest.mark.parametrize("planted", ["~ED~A0~80.log", "bad~~" + "0" * 32 + ".log"])
def test_a_file_with_an_invalid_name_is_skipped_and_reported(live: Server, planted: str) -> None:
    """A stream file on disk whose name is not valid Unicode fails neither listings nor the ingester."""
    with HealthWatch(live.url) as watch:  # the server keeps answering throughout
        cw = logs_client(live)
        cw.create_log_group(logGroupName="/u/g")
        cw.create_log_stream(logGroupName="/u/g", logStreamName="before")
        g = gdir(live.data_dir, "/u/g")
        (g / planted).write_bytes(b"planted line\n")
        if planted.startswith("bad~~"):
            (g / planted.replace(".log", ".name")).write_bytes(b"\xed\xa0\x80 not utf-8")
        cw.create_log_stream(logGroupName="/u/g", logStreamName="after")
        now = int(time.time() * 1000)
        for s in ("before", "after"):
            cw.put_log_events(
                logGroupName="/u/g",
                logStreamName=s,
                logEvents=[{"timestamp": now, "message": f"from {s}"}],
            )
        wait_for(
            lambda: sorted(messages(live, "/u/g")) == ["from after", "from before"],
            what="both good streams",
        )
        groups = ok(live, "/api/v1/groups")
        assert [x["name"] for x in groups["groups"]] == ["/u/g"] and groups["skipped"] == 1
        streams = ok(live, "/api/v1/streams", group="/u/g")
        assert (
            sorted(s["name"] for s in streams["streams"]) == ["after", "before"]
            and streams["skipped"] == 1
        )
        assert sorted(
            s["logStreamName"] for s in cw.describe_log_streams(logGroupName="/u/g")["logStreams"]
        ) == ["after", "before"]
        wait_for(
            lambda: len(ok(live, "/api/v1/search", q="from")["events"]) == 2,
            what="the ingester indexing both",
        )
        assert ok(live, "/api/v1/search", q="planted")["events"] == []
        ok(live, "/api/v1/histogram", group="/u/g")
        r = live.get("/api/v1/export", group="/u/g")
        assert r.status_code == 200 and "from after" in r.text
        assert any("skipping groups/" in line for line in live.stderr_lines), live.stderr_lines
    watch.assert_healthy()


# ---- items 5 and 6: symlinks are never followed ---------------------------------------------------------


def test_a_name_file_symlink_is_not_written_through(live: Server, tmp_path: Path) -> None:
    """A planted `<hash>.name` symlink plus CreateLogStream(long name) overwrote the link's target."""
    with HealthWatch(live.url) as watch:  # the server keeps answering throughout
        secret = outside_file(tmp_path, "do not overwrite\n")
        cw = logs_client(live)
        cw.create_log_group(logGroupName="/u/g")
        seg = names.encode_segment(LONG)
        os.symlink(secret, gdir(live.data_dir, "/u/g") / (seg + ".name"))
        try:
            cw.create_log_stream(logGroupName="/u/g", logStreamName=LONG)
        except ClientError:
            pass  # refusing is fine too; writing through the link is not
        assert secret.read_text() == "do not overwrite\n"
    watch.assert_healthy()


def test_a_name_file_symlink_is_not_read(live: Server, tmp_path: Path) -> None:
    """A `.name` symlink showed a secret file's contents as a stream name (REST and DescribeLogStreams)."""
    secret = outside_file(tmp_path, "TOPSECRET-name")
    cw = logs_client(live)
    cw.create_log_group(logGroupName="/u/g")
    cw.create_log_stream(logGroupName="/u/g", logStreamName="visible")
    g = gdir(live.data_dir, "/u/g")
    seg = "x~~" + "1" * 32
    (g / (seg + ".log")).write_bytes(b"")
    os.symlink(secret, g / (seg + ".name"))
    r = live.get("/api/v1/streams", group="/u/g")
    assert r.status_code == 200 and "TOPSECRET" not in r.text
    assert [s["name"] for s in r.json()["streams"]] == ["visible"] and r.json()["skipped"] == 1
    described = cw.describe_log_streams(logGroupName="/u/g")["logStreams"]
    assert [s["logStreamName"] for s in described] == ["visible"]


def test_a_group_json_symlink_is_neither_read_nor_written(live: Server, tmp_path: Path) -> None:
    """A `group.json` symlink showed an outside JSON file as tags, and metadata writes followed it."""
    outside = outside_file(tmp_path, json.dumps({"name": "/u/g", "tags": {"stolen": "TOPSECRET"}}))
    cw = logs_client(live)
    cw.create_log_group(logGroupName="/u/g")
    meta = gdir(live.data_dir, "/u/g") / "group.json"
    meta.unlink()
    os.symlink(outside, meta)
    r = live.get("/api/v1/groups")
    assert r.status_code == 200 and "TOPSECRET" not in r.text
    assert "TOPSECRET" not in json.dumps(cw.list_tags_log_group(logGroupName="/u/g"))
    cw.put_retention_policy(logGroupName="/u/g", retentionInDays=7)
    assert json.loads(outside.read_text()) == {"name": "/u/g", "tags": {"stolen": "TOPSECRET"}}


def test_an_index_lock_symlink_is_not_truncated(data_dir: Path, tmp_path: Path) -> None:
    """A `<data>/index.lock` symlink made the server truncate its target and write a pid into it."""
    secret = outside_file(tmp_path, "precious contents\n")
    os.symlink(secret, data_dir / "index.lock")
    server = start_no_writer_wait(data_dir)
    try:
        wait_for(
            lambda: any("index.lock" in line for line in server.stderr_lines),
            timeout=15,
            what="the refusal logged",
        )
        time.sleep(1.5)  # > the 1 s writer election retry
        assert secret.read_text() == "precious contents\n"
        assert requests.get(server.url + "/healthz", timeout=5).json()["writerPid"] is None
    finally:
        server.stop()


def test_an_index_folder_symlink_is_not_written_through(data_dir: Path, tmp_path: Path) -> None:
    """whoosh writes its index by path: a `<data>/index` symlink must not get it writing elsewhere."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, data_dir / "index")
    server = start_server(data_dir)
    try:
        path = server.store.ensure_stream("/u/g", "s")
        with open(path, "a") as f:
            f.write("indexed here\n")
        wait_for(
            lambda: len(ok(server, "/api/v1/search", q="indexed")["events"]) == 1, what="indexed"
        )
    finally:
        server.stop()
    assert list(elsewhere.iterdir()) == []
    assert (data_dir / "index").is_dir() and not (data_dir / "index").is_symlink()


def test_a_group_folder_symlink_error_does_not_echo_the_data_directory(
    live: Server, tmp_path: Path
) -> None:
    """Error messages name the entry relative to the data directory, never its absolute path."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (live.data_dir / "groups").mkdir(exist_ok=True)
    os.symlink(elsewhere, gdir(live.data_dir, "/u/linked"))
    r = live.get("/api/v1/events", group="/u/linked")
    assert r.status_code in (400, 404), r.text
    assert str(live.data_dir) not in r.text and str(live.data_dir.resolve()) not in r.text
    with pytest.raises(ClientError) as e:
        logs_client(live).put_log_events(
            logGroupName="/u/linked",
            logStreamName="s",
            logEvents=[{"timestamp": 1, "message": "m"}],
        )
    assert str(live.data_dir.resolve()) not in str(e.value.response)
    assert list(elsewhere.iterdir()) == []


# ---- item 10: one inconsistent group folder ------------------------------------------------------------


def test_a_mismatched_hashed_group_folder_is_skipped(live: Server) -> None:
    """A `x~~…/group.json` naming another group made /api/v1/groups and `logsvc groups` answer 404."""
    cw = logs_client(live)
    cw.create_log_group(logGroupName="/u/good")
    bad = live.data_dir / "groups" / ("x~~" + "2" * 32)
    bad.mkdir()
    (bad / "group.json").write_text(json.dumps({"name": "/u/other", "creationTime": 1}))
    body = ok(live, "/api/v1/groups")
    assert [g["name"] for g in body["groups"]] == ["/u/good"] and body["skipped"] == 1
    assert [g["logGroupName"] for g in cw.describe_log_groups()["logGroups"]] == ["/u/good"]
    cli = subprocess.run(
        [sys.executable, "-m", "logsvc", "--url", live.url, "groups"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(ROOT),
        env=dict(os.environ, PYTHONPATH=os.environ.get("PYTHONPATH", "")),
    )
    assert cli.returncode == 0, cli.stderr
    assert "/u/good" in cli.stdout and "/u/other" not in cli.stdout
    assert "1 entries" in cli.stderr and "skipped" in cli.stderr


def test_deleting_groups_while_listing_never_fails_the_listing(live: Server) -> None:
    """Deleting a group mid-listing gave transient 404s."""
    cw = logs_client(live)
    stop = threading.Event()

    def churn() -> None:
        c = logs_client(live)
        i = 0
        while not stop.is_set():
            name = f"/churn/{i % 5}"
            try:
                c.create_log_group(logGroupName=name)
                for k in range(3):
                    c.create_log_stream(logGroupName=name, logStreamName=f"s{k}")
                c.delete_log_group(logGroupName=name)
            except ClientError:
                pass
            i += 1

    cw.create_log_group(logGroupName="/u/stays")
    threads = [threading.Thread(target=churn, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    statuses = []
    try:
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            statuses.append(live.get("/api/v1/groups").status_code)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert set(statuses) == {200}, sorted(set(statuses))


# ---- item 13: a killed reindex -----------------------------------------------------------------------------


def test_the_server_removes_what_a_killed_reindex_left(data_dir: Path) -> None:
    leftover = data_dir / "index.new"
    leftover.mkdir()
    (leftover / "_MAIN_1.toc").write_bytes(b"half-built")
    server = start_server(data_dir)
    try:
        wait_for(lambda: not leftover.exists(), what="index.new removed")
    finally:
        server.stop()


def test_reindex_killed_mid_way_leaves_nothing_behind_after_the_next_start(data_dir: Path) -> None:
    """Kill `logsvc reindex` while it builds; the next start cleans up and the index still answers."""
    from logsvc.store import Store

    path = Store(data_dir).ensure_stream("/u/g", "s")
    with open(path, "a") as f:
        f.write("".join(f"line {i} word{i % 7}\n" for i in range(200_000)))
    env = dict(os.environ, LOGSVC_DATA_DIR=str(data_dir))
    proc = subprocess.Popen(
        [sys.executable, "-m", "logsvc", "reindex"],
        env=env,
        cwd=str(data_dir.parent),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for(
        lambda: (data_dir / "index.new").exists(),
        timeout=30,
        interval=0.01,
        what="reindex to start building",
    )
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert (data_dir / "index.new").exists()  # the leftover this test is about
    server = start_server(data_dir)
    try:
        wait_for(lambda: not (data_dir / "index.new").exists(), what="index.new removed")
        wait_for(
            lambda: (
                len(ok(server, "/api/v1/search", q="word3", group="/u/g", limit=5)["events"]) == 5
            ),
            timeout=60,
            what="search answering",
        )
    finally:
        server.stop()


# ---- item 15: private by default ---------------------------------------------------------------------------


def test_what_logsvc_creates_is_private(tmp_path: Path) -> None:
    """The data directory, its folders and files are 0700/0600 (nobody else on the machine reads logs)."""
    data = tmp_path / "fresh-data"
    server = start_server(data)
    try:
        cw = logs_client(server)
        cw.create_log_group(logGroupName="/u/g")
        cw.create_log_stream(logGroupName="/u/g", logStreamName=LONG)
        cw.put_log_events(
            logGroupName="/u/g",
            logStreamName=LONG,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": "private"}],
        )
        wait_for(
            lambda: len(ok(server, "/api/v1/search", q="private")["events"]) == 1, what="indexed"
        )
    finally:
        server.stop()
    g = gdir(data, "/u/g")
    seg = names.encode_segment(LONG)
    folders = [data, data / "groups", g, data / "index"]
    files = [
        data / "index.lock",
        g / "group.json",
        g / ".lock",
        g / (seg + ".log"),
        g / (seg + ".name"),
    ]
    modes = {
        str(p.relative_to(data)): oct(stat.S_IMODE(p.lstat().st_mode)) for p in folders + files
    }
    assert modes == {str(p.relative_to(data)): "0o700" for p in folders} | {
        str(p.relative_to(data)): "0o600" for p in files
    }


# ---- item 5: the invoker's files -----------------------------------------------------------------------------


def test_invoker_files_are_not_written_through_symlinks(data_dir: Path, tmp_path: Path) -> None:
    """owner.json, a table's change log and a stream consumer's checkpoint never follow a planted symlink."""
    code = tmp_path / "fns"
    code.mkdir()
    (code / "handlers.py").write_text("def noop(event, context):\n    return None\n")
    project = tmp_path / "logsvc.toml"
    project.write_text(
        '[functions.noop]\nhandler = "handlers.noop"\ncode = "fns"\n'
        'table = [{ table = "kv", batch_size = 10 }]\n\n[tables.kv]\nkey = "id"\n'
    )
    targets = {}
    for rel in ("invoker/owner.json", "tables/kv.jsonl", "tables/kv.noop.checkpoint"):
        secret = tmp_path / "outside" / rel.replace("/", "_")
        secret.parent.mkdir(exist_ok=True)
        secret.write_text("untouched\n")
        (data_dir / rel).parent.mkdir(exist_ok=True)
        os.symlink(secret, data_dir / rel)
        targets[rel] = secret
    server = start_server(data_dir, "--project", str(project))
    try:
        wait_for(
            lambda: not (data_dir / "invoker" / "owner.json").is_symlink(),
            what="owner.json written",
        )
        r = requests.post(
            server.url + "/api/v1/tables/kv/items", json={"items": [{"id": "a"}]}, timeout=30
        )
        assert r.status_code >= 400 and str(data_dir.resolve()) not in r.text, r.text
    finally:
        server.stop()
    assert {rel: p.read_text() for rel, p in targets.items()} == {
        rel: "untouched\n" for rel in targets
    }
