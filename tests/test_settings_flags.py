"""Every setting is a flag with the same default in config.SETTINGS, `--help` and the README.

The help is the real CLI's output (`python -m logsvc serve --help` in a subprocess) and the README
table is parsed from README.md, so a flag that is missing, renamed or documented with another
default fails here. Defaults are compared as values (`2.0` and `2` are the same number).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from logsvc.cli import main
from logsvc.config import SETTINGS, Setting
from tests.conftest import ROOT, Server, healthy, wait_for

NO_DEFAULT = "—"  # how the README writes "no default"


def help_text(*args: str) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "logsvc", *args, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, COLUMNS="80"),
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def help_options(text: str) -> dict[str, str]:
    """{flag: its whole help entry, metavar first} from Click's option list (wrapped entries joined)."""
    entries: dict[str, str] = {}
    current = None
    for line in text.split("Options:", 1)[1].splitlines():
        m = re.match(r"^  (-\w, )?(--[\w-]+)(.*)$", line)
        if m:
            current = m.group(2)
            entries[current] = m.group(3).strip()
        elif current and line.startswith("    "):
            entries[current] += " " + line.strip()
    return {
        flag: " ".join(entry.split()) for flag, entry in entries.items()
    }  # wrapping is layout, not content


def help_env_and_default(entry: str) -> tuple[str, str]:
    m = re.search(r"\[env: (\S+); default: (.+)\]$", entry)
    assert m, f"no [env: ...; default: ...] in {entry!r}"
    return m.group(1), m.group(2)


def readme_settings() -> dict[str, tuple[str, str]]:
    """{flag: (variable, default cell)} from README.md's Configuration table."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header[:3] == ["flag", "variable", "default"], header
    out = {}
    for row in rows[1:]:
        flags, variables, default = (c.strip() for c in row.strip("|").split("|")[:3])
        for flag, variable in zip(flags.split(" / "), variables.split(" / "), strict=True):
            out[flag.strip("`")] = (variable.strip("`"), default)
    return out


def same_default(s: Setting, written: str) -> bool:
    """Does `written` (as help or the README shows it) mean the table's default?"""
    written = written.replace("`", "")
    if s.shown is not None:  # computed at run time: documented in words
        return written == s.shown
    if s.default is None or s.default == "":
        return written in ("none", NO_DEFAULT)
    return s.type(written) == s.default


@pytest.fixture(scope="module")
def serve_help() -> dict[str, str]:
    return help_options(help_text("serve"))


def test_the_parsers_find_every_row() -> None:
    """A parser that found nothing would make the comparisons below pass vacuously."""
    assert len(readme_settings()) == len(SETTINGS)
    assert len(help_options(help_text("serve"))) == len(SETTINGS) + 1  # and --help


def test_serve_help_lists_exactly_the_settings(serve_help: dict[str, str]) -> None:
    assert set(serve_help) - {"--help"} == {s.flag for s in SETTINGS}


@pytest.mark.parametrize("s", SETTINGS, ids=lambda s: s.name)
def test_each_flag_shows_the_tables_variable_and_default(
    serve_help: dict[str, str], s: Setting
) -> None:
    env, default = help_env_and_default(serve_help[s.flag])
    assert env == s.env
    assert same_default(s, default), (s.name, default, s.default)


@pytest.mark.parametrize("s", SETTINGS, ids=lambda s: s.name)
def test_the_readme_row_has_the_tables_variable_and_default(s: Setting) -> None:
    variable, default = readme_settings()[s.flag]
    assert variable == s.env
    assert same_default(s, default), (s.name, default, s.default)


def test_readme_and_help_agree_on_every_flag(serve_help: dict[str, str]) -> None:
    readme = readme_settings()
    assert set(readme) == set(serve_help) - {"--help"}
    for flag, (variable, _) in readme.items():
        assert help_env_and_default(serve_help[flag])[0] == variable


def test_demo_takes_the_same_flags_as_serve(serve_help: dict[str, str]) -> None:
    assert help_options(help_text("demo")) == serve_help


def test_the_global_options_are_settings_with_the_same_help(serve_help: dict[str, str]) -> None:
    top = help_options(help_text())
    for flag in ("--data-dir", "--url", "--token"):
        assert top[flag] == serve_help[flag]


BAD_VALUES = [(s, "junk") for s in SETTINGS if s.type is not str]


@pytest.mark.parametrize(("s", "value"), BAD_VALUES, ids=lambda v: getattr(v, "name", v))
def test_a_bad_flag_is_the_same_one_line_error_as_a_bad_variable(
    tmp_path: Path, s: Setting, value: str
) -> None:
    runner = CliRunner()
    by_flag = runner.invoke(
        main, ["--data-dir", str(tmp_path), "serve", s.flag, value], env={s.env: None}
    )
    by_env = runner.invoke(main, ["--data-dir", str(tmp_path), "serve"], env={s.env: value})
    for r, source in ((by_flag, f"{s.flag}='{value}'"), (by_env, f"{s.env}='{value}'")):
        assert r.exit_code == 2, (r.exit_code, r.output)
        assert r.stdout == ""
        assert r.stderr.startswith(f"logsvc: error: {source}: {s.name} must be "), r.stderr
        assert r.stderr.count("\n") == 1
    assert by_flag.stderr.split(": ", 3)[3] == by_env.stderr.split(": ", 3)[3]  # same rule


def test_serve_takes_data_dir_and_token_after_the_command(tmp_path: Path) -> None:
    """`logsvc serve --data-dir X --token T --port 0` serves X, guarded by T; the flags after the
    command win over the same flags before it, and any flag wins over its variable."""
    data = tmp_path / "data"
    before = tmp_path / "not-this-one"
    env = dict(
        os.environ,
        LOGSVC_TOKEN="from-the-variable",
        LOGSVC_LOG_LEVEL="warning",
        PYTHONUNBUFFERED="1",
    )
    env.pop("LOGSVC_DATA_DIR", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "logsvc",
            "--data-dir",
            str(before),
            "--token",
            "before",
            "serve",
            "--data-dir",
            str(data),
            "--token",
            "T",
            "--port",
            "0",
            "--workers",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    server = Server("", data, proc, env)
    announced: list[str] = []

    def read(pipe, sink: list[str]) -> None:
        for line in pipe:
            sink.append(line)

    threading.Thread(target=read, args=(proc.stdout, announced), daemon=True).start()
    threading.Thread(target=read, args=(proc.stderr, server.stderr_lines), daemon=True).start()
    try:
        line = wait_for(
            lambda: (
                next((x for x in announced if "serving http" in x), None) or proc.poll() is not None
            ),
            timeout=60,
            what="the server's announcement",
        )
        assert isinstance(line, str), (
            f"logsvc exited {proc.returncode}:\n{''.join(server.stderr_lines)}"
        )
        server.url = line.split("serving ", 1)[1].split()[0].rstrip("/")
        assert f"(data: {data.resolve()})" in line
        wait_for(lambda: healthy(server.url), timeout=60, what="/healthz")
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
        groups = server.url + "/api/v1/groups"
        assert requests.get(groups, timeout=10).status_code == 401
        for token in ("before", "from-the-variable"):
            assert (
                requests.get(
                    groups, headers={"Authorization": f"Bearer {token}"}, timeout=10
                ).status_code
                == 401
            )
        assert (
            requests.get(groups, headers={"Authorization": "Bearer T"}, timeout=10).status_code
            == 200
        )
        assert (data / "groups").is_dir()
        assert not before.exists()
    finally:
        server.stop()
