"""Configuration errors stop `logsvc serve`/`demo` before they bind: one line on stderr naming the
file or setting and the rule, exit status 2, nothing announced on stdout, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def run(
    *args: str, env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    full = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "logsvc", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        timeout=60,
    )


def assert_one_line(r: subprocess.CompletedProcess, *words: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == "", r.stdout  # nothing announced: no "serving http://..."
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("logsvc: error: "), lines
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_broken_project_file_is_one_line_and_exit_2(tmp_path: Path, command: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[functions.delta]\ncode = "."\n')
    r = run("--data-dir", str(tmp_path / "data"), command, "--port", "0", "--project", str(bad))
    assert_one_line(r, "bad.toml", "functions.delta.handler", "is required")


def test_a_project_file_that_is_not_toml_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "logsvc.toml").write_text("[functions.x\n")  # picked up from the working directory
    r = run("--data-dir", str(tmp_path / "data"), "serve", "--port", "0", cwd=tmp_path)
    assert_one_line(r, "logsvc.toml", "not valid TOML")


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("LOGSVC_PORT", "abc", "port must be a whole number"),
        ("LOGSVC_PORT", "70000", "port must be between 0 and 65535"),
        ("LOGSVC_COMMIT_INTERVAL", "soon", "commit_interval must be a number"),
        ("LOGSVC_INGEST", "maybe", "ingest must be true or false"),
        ("LOGSVC_LOG_LEVEL", "loud", "log_level must be one of debug, info"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable_and_exit_2(
    tmp_path: Path, variable: str, value: str, rule: str
) -> None:
    r = run("--data-dir", str(tmp_path), "serve", env={variable: value})
    line = assert_one_line(r, variable, value, rule)
    assert "invalid literal" not in line


def test_a_taken_port_says_so_and_how_to_pick_a_free_one(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        for command in ("serve", "demo"):
            r = run("--data-dir", str(tmp_path), command, "--port", str(port))
            assert_one_line(r, f"port {port}", "taken", "--port 0")
