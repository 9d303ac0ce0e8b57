"""Every command and filter pattern README.md shows, run against a running `logsvc demo`.

The commands are parsed out of the README itself (its ```sh blocks, the "Getting logs in" table and
the filter-pattern sentence), so an example that stops working, or a new one nobody runs, fails
here. CLI commands run through the real `logsvc` command in bash, aws commands through the aws CLI
the test extras install (v1; `aws logs tail`, v2 only, is named in prose but not shown), with
`http://127.0.0.1:4588` replaced by the demo's ephemeral address. Each must exit 0 and print
something: the demo produces every group, phrase and JSON field the examples use.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, wait_for, wait_for_console_state
from tests.helpers_aws import aws_client

README = (ROOT / "README.md").read_text()
DEFAULT_URL = "http://127.0.0.1:4588"

# Commands the test cannot run as written, with why; any other command must be runnable below.
NOT_RUN = {
    "python3 -m pip install -e . && python3 -m logsvc demo": "installs into this environment; the fixture runs its second half, `python -m logsvc demo`",
    "make test": "is this test suite",
    "docker compose up --build": "no Docker engine on CI; tests/test_docs.py checks the compose file",
}


def _strip_comment(line: str) -> str:
    """The line without a trailing shell comment (a `#` after whitespace, outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def readme_commands() -> list[str]:
    """The README's commands in order: ```sh blocks (continuations joined) and the way-in table."""
    found: list[tuple[int, str]] = []  # (offset in the README, command)
    for m in re.finditer(r"^( *)```sh\n(.*?)^\1```", README, re.M | re.S):
        text = re.sub(
            r"\\\n\s*", " ", "\n".join(line[len(m.group(1)) :] for line in m.group(2).splitlines())
        )
        lines = [c for c in (_strip_comment(line) for line in text.splitlines()) if c]
        found += [(m.start() + i, c) for i, c in enumerate(lines)]  # in the block's order
    for row in re.finditer(
        r"^\| [^|]+ \| `((?:echo|logsvc) [^`]+)`", README, re.M
    ):  # a table's "how" column
        found.append((row.start(), row.group(1)))
    return [c for _, c in sorted(found, key=lambda f: f[0])]


def readme_patterns() -> list[str]:
    """The filter patterns of the sentence that introduces the language."""
    start = README.index("Filter patterns are CloudWatch's language everywhere")
    sentence = README[start : README.index("A bare term", start)]
    return [p for p in re.findall(r"`([^`]+)`", sentence)]


def test_the_readme_parses_into_the_commands_it_shows() -> None:
    """The parser finds what a reader sees (a parser that finds nothing would pass everything)."""
    commands = readme_commands()
    assert "logsvc streams /aws/lambda/orders" in commands
    assert any(c.startswith("aws logs start-query ") and "--query-string" in c for c in commands)
    assert any(c.startswith('echo "hello" >> ') for c in commands)
    assert set(NOT_RUN) <= set(commands), set(NOT_RUN) - set(commands)
    assert len(readme_patterns()) >= 7


# ---- the demo under test ---------------------------------------------------------------------


class Demo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.work = root / "work"
        self.work.mkdir()
        bin_dir = root / "bin"
        bin_dir.mkdir()
        for name, target in (
            ("logsvc", f'"{sys.executable}" -m logsvc'),
            ("python", f'"{sys.executable}"'),
        ):
            shim = (
                bin_dir / name
            )  # `logsvc` and `python` in the README mean this interpreter and this tree
            shim.write_text(f'#!/bin/sh\nexec {target} "$@"\n')
            shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        self.env = dict(
            os.environ,
            PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            PYTHONPATH=str(ROOT),
            LOGSVC_DATA_DIR=str(self.data),
            LOGSVC_LOG_LEVEL="warning",
            PYTHONUNBUFFERED="1",
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "logsvc", "demo", "--port", "0"],
            env=self.env,
            cwd=self.work,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.stderr: list[str] = []
        self.readers = [
            threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True)
        ]
        self.readers[0].start()
        urls: queue.Queue[str] = queue.Queue()

        def read_stdout() -> None:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                if "serving http" in line:
                    urls.put(line.split("serving ", 1)[1].split()[0].rstrip("/"))

        self.readers.append(threading.Thread(target=read_stdout, daemon=True))
        self.readers[1].start()
        try:
            self.url = urls.get(timeout=60)
        except queue.Empty:
            self.stop()
            raise AssertionError("logsvc demo did not start:\n" + "".join(self.stderr)) from None
        self.env["LOGSVC_URL"] = self.url

    def sh(self, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", command.replace(DEFAULT_URL, self.url)],
            env=self.env,
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def until_output(
        self, command: str, timeout: float = 120, ok=None
    ) -> subprocess.CompletedProcess:
        """Run `command` until it exits 0 with output that `ok` accepts (default: any), since the
        demo's logs arrive over its first seconds."""
        last: list[subprocess.CompletedProcess] = []

        def attempt() -> bool:
            last[:] = [self.sh(command)]
            return (
                last[0].returncode == 0
                and bool(last[0].stdout.strip())
                and (ok is None or ok(last[0].stdout))
            )

        try:
            wait_for(attempt, timeout=timeout, interval=1.0, what=command)
        except AssertionError:
            r = last[0]
            raise AssertionError(
                f"README command failed: {command}\nexit {r.returncode}\nstdout: {r.stdout[-2000:]}\n"
                f"stderr: {r.stderr[-2000:]}"
            ) from None
        return last[0]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        close_pipes(self.proc, self.readers)


def close_pipes(proc: subprocess.Popen, readers: list[threading.Thread]) -> None:
    """After the process ended: let its readers reach EOF, then close the pipes (an unclosed pipe
    is a ResourceWarning, an error in this suite)."""
    for t in readers:
        t.join(timeout=5)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    d = Demo(tmp_path_factory.mktemp("readme"))
    yield d
    d.stop()


# ---- running them ----------------------------------------------------------------------------


def follow_prints_a_line(demo: Demo, command: str, timeout: float = 90) -> str:
    """A following command (`tail -f`) never ends by itself: its first printed line is the answer."""
    proc = subprocess.Popen(
        ["bash", "-c", "exec " + command.replace(DEFAULT_URL, demo.url)],
        env=demo.env,
        cwd=demo.work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(
            f"README command printed nothing in {timeout}s: {command}\n{proc.stderr.read()}"
        ) from None
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        close_pipes(proc, [reader])


def query_results(demo: Demo, start_command: str) -> list:
    """`aws logs start-query` gives an id; README says "then get-query-results": poll it to Complete."""
    query_id = json.loads(demo.until_output(start_command).stdout)["queryId"]
    out: dict = {}

    def complete() -> bool:
        r = demo.sh(f"aws logs get-query-results --query-id {query_id}")
        assert r.returncode == 0, r.stderr
        out.update(json.loads(r.stdout))
        return out["status"] == "Complete"

    wait_for(complete, timeout=60, interval=0.5, what="the query to complete")
    return out["results"]


def test_every_readme_command_works_against_the_demo(demo: Demo) -> None:
    assert shutil.which("aws", path=demo.env["PATH"]), "the aws CLI (test extras: awscli) is needed"
    (demo.work / "app.py").write_text(  # `logsvc run ... -- python app.py` needs an app.py
        "import sys\nprint('app started', flush=True)\nraise SystemExit('app stopped')\n"
    )
    ran: list[str] = []
    for command in readme_commands():
        if command in NOT_RUN:
            continue
        ran.append(command)
        if command.startswith("export "):
            name, _, value = command.removeprefix("export ").partition("=")
            demo.env[name] = value.replace(DEFAULT_URL, demo.url)
        elif re.search(r"\s-f(\s|$)", command):
            assert "/aws/lambda/" in follow_prints_a_line(demo, command)
        elif command.startswith("aws logs start-query "):
            rows = query_results(demo, command)
            assert rows and all(
                any(f["field"] == "@message" and "ERROR" in f["value"] for f in row) for row in rows
            ), rows
        elif command.startswith("logsvc run "):
            r = demo.sh(command)
            assert r.returncode == 1 and "app stopped" in r.stderr, (
                r.returncode,
                r.stderr,
            )  # exits with its status
            group = command.split("--group ", 1)[1].split()[0]
            out = demo.until_output(f"logsvc tail {group} --since 10m --format short").stdout
            assert "app started" in out and "app stopped" in out, out
        elif command.startswith("echo "):
            r = demo.sh(command)
            assert r.returncode == 0, r.stderr
            group = command.split("logsvc path ", 1)[1].split()[0]
            assert "hello" in demo.until_output(f"logsvc search hello --group {group}").stdout
        elif command.startswith("aws logs filter-log-events "):
            r = demo.until_output(command, ok=lambda out: json.loads(out)["events"])
            assert all(
                json.loads(e["message"])["level"] == "ERROR" for e in json.loads(r.stdout)["events"]
            )
        elif command == "logsvc groups":  # every group the README names appears
            mentioned = set(re.findall(r"/aws/lambda/[a-z][\w-]*", README))
            assert mentioned, "the README names no group"
            demo.until_output(command, ok=lambda out, m=mentioned: all(g in out.split() for g in m))
        else:
            r = demo.until_output(command)
            if command.startswith("curl "):
                body = json.loads(r.stdout)
                assert body["status"] == "Complete" and body["results"], body
                levels = {
                    f["value"] for row in body["results"] for f in row if f["field"] == "level"
                }
                assert {"INFO", "ERROR"} <= levels, levels
    assert len(ran) >= 9, ran


@pytest.mark.parametrize("pattern", readme_patterns())
def test_every_readme_filter_pattern_finds_events_in_the_demo(demo: Demo, pattern: str) -> None:
    quoted = "'" + pattern.replace("'", "'\\''") + "'"
    demo.until_output(f"logsvc search {quoted} --since 1h --limit 5")


def test_the_demo_makes_metric_filter_and_lambda_metrics(demo: Demo) -> None:
    """The demo's generator puts metric filters on checkout's group (as a user would, through the
    CloudWatch API): boto3's cloudwatch client finds their metrics and the functions' AWS/Lambda
    ones, which the console's Metrics view charts."""
    cw = aws_client("cloudwatch", demo.url, keys=("demo", "demo"))

    def names(ns: str) -> set[str]:
        return {m["MetricName"] for m in cw.list_metrics(Namespace=ns)["Metrics"]}

    wait_for(lambda: "PaymentLatency" in names("Checkout"), timeout=60, what="Checkout metrics")
    lam = names("AWS/Lambda")
    assert {"Invocations", "Duration", "ConcurrentExecutions"} <= lam, lam


def test_the_metrics_view_charts_the_demos_metrics_and_opens_the_lines_behind(
    demo: Demo, browser
) -> None:
    """In Chromium, over the demo: the Metrics view charts the demo's metric-filter metric
    (Checkout PaymentLatency) and an AWS/Lambda metric; a clicked point opens the log lines the
    filter matched in that minute."""
    import time

    import requests
    from playwright.sync_api import expect

    def points() -> int:
        now = int(time.time() * 1000)
        r = requests.get(
            f"{demo.url}/api/v1/metrics/data",
            params={
                "namespace": "Checkout",
                "name": "PaymentLatency",
                "stat": "Sum",
                "period": 60,
                "start": now - 3_600_000,
                "end": now,
            },
            timeout=30,
        )
        return len(r.json().get("points", [])) if r.status_code == 200 else 0

    wait_for(lambda: points() >= 1, timeout=60, what="the demo's PaymentLatency points")
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    try:
        page.goto(f"{demo.url}/#/metrics?ns=Checkout&name=PaymentLatency&range=1h")
        expect(page.locator(".metrics-chart")).to_have_attribute(
            "data-points", re.compile(r"[1-9]")
        )
        state = page.evaluate("window.__logsvc.state()")
        assert state["logs"] == {
            "group": "/aws/lambda/orders",
            "pattern": '{ $.message = "payment captured" }',
        }
        pt = state["points"][0]
        page.mouse.move(pt["x"], pt["y"])
        page.mouse.click(pt["x"], pt["y"])
        expect(page).to_have_url(re.compile(r"#/events\?"))
        rows = page.locator(".vl .row")
        expect(rows.first).to_be_visible()
        assert rows.count() >= 1
        for i in range(rows.count()):
            assert "payment captured" in rows.nth(i).inner_text()

        page.goto(f"{demo.url}/#/metrics?ns=AWS/Lambda&name=Invocations&range=1h")
        state = wait_for_console_state(page, "s.points && s.points.length > 0")
        assert sum(p["v"] for p in state["points"]) >= 1
        assert page.locator(".metrics-chart .u-over").is_visible()
    finally:
        page.close()
