"""The `logsvc` command, run as a subprocess against a real server: output, errors and exit codes."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from logsvc.lines import format_timestamp
from tests.conftest import Server, wait_for

G = "/aws/lambda/cli"


def logsvc(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "logsvc", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def cli_env(server: Server) -> dict:
    return dict(server.env, LOGSVC_URL=server.url)


def test_path_groups_streams_search_and_tail(server: Server) -> None:
    env = cli_env(server)
    path = logsvc("path", G, "2026/11/27/[$LATEST]abc", env=env).stdout.strip()
    assert Path(path).is_file() and Path(path).parent.parent == server.data_dir / "groups"
    with open(path, "a") as f:
        f.write(
            "2026-11-27T10:00:00.000Z hello from the cli\n2026-11-27T10:00:01.000Z ERROR boom\n"
        )
    wait_for(lambda: "boom" in logsvc("search", "boom", env=env).stdout, what="search hit")
    groups = logsvc("groups", env=env)
    assert groups.returncode == 0
    assert groups.stdout.splitlines()[0].split() == ["GROUP", "STREAMS", "BYTES", "LAST", "EVENT"]
    assert G in groups.stdout and "2026-11-27T10:00:01.000Z" in groups.stdout
    assert "2026/11/27/[$LATEST]abc" in logsvc("streams", G, env=env).stdout
    out = logsvc("tail", G, "--since", "1000d", "--format", "short", env=env).stdout
    assert out.splitlines() == [
        "2026-11-27T10:00:00.000Z hello from the cli",
        "2026-11-27T10:00:01.000Z ERROR boom",
    ]
    filtered = logsvc("tail", G, "--since", "1000d", "--filter", "ERROR", env=env).stdout
    assert filtered.strip().endswith(f"{G} 2026/11/27/[$LATEST]abc ERROR boom")


def _lines_of(proc: subprocess.Popen, pipe: str) -> queue.Queue:
    """A queue of the lines a process writes, so a test waits with a timeout instead of blocking."""
    q: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in getattr(proc, pipe):
            q.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return q


def test_tail_follow_prints_new_lines(server: Server) -> None:
    env = cli_env(server)
    path = logsvc("path", G, "live", env=env).stdout.strip()
    proc = subprocess.Popen(
        [sys.executable, "-m", "logsvc", "tail", G, "-f", "--format", "short"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        out = _lines_of(proc, "stdout")
        stamp = format_timestamp(int(time.time() * 1000))
        with open(
            path, "a"
        ) as f:  # within --since's 10 minutes: replayed if written before the tail began
            f.write(f"{stamp} followed line\n")
        assert out.get(timeout=30).strip() == f"{stamp} followed line"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_tail_follow_says_on_stderr_when_the_since_replay_was_cut(server: Server) -> None:
    env = cli_env(server)
    path = logsvc("path", G, "many", env=env).stdout.strip()
    now = int(time.time() * 1000)
    with open(path, "a") as f:
        f.write(
            "".join(
                f"{format_timestamp(now - 60_000 + i)} replay {i:05d} {'p' * 1000}\n"
                for i in range(1500)
            )
        )
    wait_for(
        lambda: "replay 01499" in logsvc("search", "01499", env=env).stdout,
        what="the lines indexed",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "logsvc", "tail", G, "-f", "--since", "10m", "--format", "short"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        err = _lines_of(proc, "stderr")
        assert "older events were not sent" in err.get(timeout=30)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stderr.close()


def test_errors_are_one_line_with_a_hint_and_an_exit_code(server: Server) -> None:
    env = cli_env(server)
    r = logsvc("streams", "/no/such/group", env=env)
    assert r.returncode == 3
    assert r.stderr == (
        "logsvc: error: no log group '/no/such/group'\n"
        "logsvc: hint: Run 'logsvc groups' to list groups.\n"
    )
    r = logsvc("search", "%(bad)%", env=env)
    assert (
        r.returncode == 1 and r.stderr.startswith("logsvc: error: ") and "Traceback" not in r.stderr
    )
    r = logsvc("path", "bad group", "s", env=env)
    assert r.returncode == 1
    assert r.stderr.startswith("logsvc: error: group contains ' '")


def test_unreachable_server_says_how_to_start_one(tmp_path: Path) -> None:
    env = dict(os.environ, LOGSVC_URL="http://127.0.0.1:9", LOGSVC_DATA_DIR=str(tmp_path))
    r = logsvc("groups", env=env)
    assert r.returncode == 4
    assert r.stderr.splitlines()[0].startswith(
        "logsvc: error: cannot reach logsvc at http://127.0.0.1:9"
    )
    assert r.stderr.splitlines()[1] == (
        "logsvc: hint: Start it with 'logsvc serve', or point --url / LOGSVC_URL at a running server."
    )


def test_reindex_refuses_while_serving_and_works_when_stopped(server: Server) -> None:
    env = cli_env(server)
    path = logsvc("path", G, "r", env=env).stdout.strip()
    with open(path, "a") as f:
        f.write("".join(f"line {i}\n" for i in range(100)))
    wait_for(lambda: "line 42" in logsvc("search", '"line 42"', env=env).stdout, what="indexed")
    r = logsvc("reindex", env=env)
    assert r.returncode == 1 and "a logsvc server is ingesting" in r.stderr
    server.stop()
    r = logsvc("reindex", env=env)
    assert r.returncode == 0, r.stderr
    assert "reindexed 100 events" in r.stderr


def test_python_m_and_version() -> None:
    r = logsvc("--version")
    assert r.returncode == 0 and r.stdout.startswith("logsvc, version ")


def test_the_serving_master_imports_only_what_it_runs() -> None:
    """`logsvc serve` is the gunicorn master for as long as the server runs: it imports the CLI and
    gunicorn (and maps the workers' shared board), not the invoker, Insights, the filter patterns or
    the web app (each worker does)."""
    code = (
        "import sys, logsvc.cli, logsvc.serve\n"
        "heavy = ('flask', 'whoosh', 'pyarrow', 'duckdb', 'watchdog', 'boto3')\n"
        "print(sorted(m for m in sys.modules if m.startswith('logsvc.') or m in heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(
        [
            "logsvc.board",
            "logsvc.children",
            "logsvc.cli",
            "logsvc.config",
            "logsvc.errors",
            "logsvc.serve",
        ]
    )


def test_every_command_is_listed_and_runs_its_help() -> None:
    """The producers' commands load when asked for (cli._Group.LAZY), and help lists them all."""
    out = subprocess.run(
        [sys.executable, "-m", "logsvc", "--help"], capture_output=True, text=True, check=True
    ).stdout
    listed = out.split("Commands:")[1].split()
    for command in ("invoke", "functions", "table", "run", "serve", "search", "tail"):
        assert command in listed, command
        help_ = subprocess.run(
            [sys.executable, "-m", "logsvc", command, "--help"], capture_output=True, text=True
        )
        assert help_.returncode == 0 and "Usage:" in help_.stdout, (command, help_.stderr)
