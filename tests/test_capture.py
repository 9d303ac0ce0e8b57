"""`logsvc run`: any process's stdout/stderr lines land in a new stream as they come; exit status passes through."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from logsvc.store import Store
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[1]


def logsvc(data_dir: Path, *args: str, **kw) -> subprocess.Popen:  # noqa: ANN003
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGSVC_")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.Popen(
        [sys.executable, "-m", "logsvc", "--data-dir", str(data_dir), "run", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw,
    )


def events(store: Store, group: str) -> list[tuple[str, str, str]]:
    out = []
    for s in store.list_streams(group):
        for line in store.stream_file(group, s.name).read_text().split("\n"):
            if line:
                ts, _, msg = line.partition(" ")
                out.append((s.name, ts, msg))
    return out


def test_run_captures_stdout_and_stderr_and_returns_the_exit_status(data_dir: Path):
    p = logsvc(data_dir, "--group", "/local/job", "--", sys.executable, "-c",
               "import sys; print('out one'); print('err one', file=sys.stderr); print('ünïcode\\r'); sys.exit(7)")
    out, err = p.communicate(timeout=30)
    assert p.returncode == 7
    assert "out one" in out  # echoed to the terminal too
    m = re.search(r"logsvc: writing to log group /local/job, stream (\S+)", err)
    assert m and re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[run\][0-9a-f]{32}", m.group(1))
    got = events(Store(data_dir), "/local/job")
    assert {s for s, _, _ in got} == {m.group(1)}
    assert sorted(msg for _, _, msg in got) == ["err one", "out one", "ünïcode"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ts) for _, ts, _ in got)


def test_lines_arrive_while_the_command_runs(data_dir: Path):
    script = "import time\nprint('first', flush=True)\ntime.sleep(30)\n"
    p = logsvc(data_dir, "-q", "--group", "/local/live", "--stream", "s1", "--", sys.executable, "-c", script)
    try:
        store = Store(data_dir)
        wait_for(lambda: store.stream_file("/local/live", "s1").exists() and b"first" in store.stream_file("/local/live", "s1").read_bytes(),
                 timeout=15, what="the first line while the command still runs")
        assert p.poll() is None
        p.send_signal(signal.SIGTERM)  # forwarded to the command
        p.communicate(timeout=15)
        assert p.returncode == 128 + signal.SIGTERM
    finally:
        if p.poll() is None:
            p.kill()


def test_missing_command_exits_127_and_bad_group_is_refused(data_dir: Path):
    p = logsvc(data_dir, "-q", "--group", "/local/x", "--", "no-such-command-xyz")
    _, err = p.communicate(timeout=30)
    assert p.returncode == 127 and "logsvc: error: command not found: no-such-command-xyz" in err
    p = logsvc(data_dir, "-q", "--group", "bad group!", "--", "true")
    _, err = p.communicate(timeout=30)
    assert p.returncode == 1 and "logsvc: error: group contains ' '" in err


def test_long_output_is_complete_and_in_order(data_dir: Path):
    start = time.monotonic()
    p = logsvc(data_dir, "-q", "--group", "/local/bulk", "--stream", "b", "--", sys.executable, "-c",
               "for i in range(20000): print(f'line {i}')")
    p.communicate(timeout=60)
    assert p.returncode == 0
    lines = [m for _, _, m in events(Store(data_dir), "/local/bulk")]
    assert lines == [f"line {i}" for i in range(20000)]
    assert time.monotonic() - start < 30
