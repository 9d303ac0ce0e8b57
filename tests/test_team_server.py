"""Issue #16 item 3: a server bound beyond loopback needs a token, or an explicit --insecure.

Real `python -m logsvc serve|demo` processes: the refusals must happen before anything binds, and
the servers that do start are reached with requests and boto3 as a producer on another machine
would reach them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
import requests
from botocore.config import Config

from tests.conftest import start_server, wait_for

TOKEN = "team-secret-token"


def _run(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("LOGSVC_TOKEN", "LOGSVC_INSECURE")}
    full.update(LOGSVC_DATA_DIR=str(tmp_path / "data"), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "logsvc", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=tmp_path,
        timeout=60,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("serve", "--host", "0.0.0.0", "--port", "0"),
        ("serve", "--host", "::", "--port", "0"),
        ("demo", "--host", "0.0.0.0", "--port", "0"),
    ],
    ids=["serve-0.0.0.0", "serve-ipv6-any", "demo"],
)
def test_binding_beyond_loopback_without_a_token_refuses_and_says_how(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    r = _run(tmp_path, *args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "serving" not in r.stdout
    err = r.stderr
    assert err.startswith(f"logsvc: error: --host {args[2]} listens beyond this machine"), err
    for how in ("--token", "LOGSVC_TOKEN=", "--insecure", "LOGSVC_INSECURE=true"):
        assert how in err, (how, err)
    assert not (tmp_path / "data" / "index").exists()  # refused before the service was built


def test_sigv4_keys_alone_are_not_enough_beyond_loopback(tmp_path: Path) -> None:
    """The keys guard the AWS APIs only; the console and /api/* would stay open."""
    r = _run(
        tmp_path,
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "0",
        env={"LOGSVC_AWS_ACCESS_KEY_ID": "AKID", "LOGSVC_AWS_SECRET_ACCESS_KEY": "s3cret"},
    )
    assert r.returncode == 2, r.stderr
    assert "SigV4 keys alone leave the console and /api/* open" in r.stderr


def test_loopback_binds_need_nothing(tmp_path: Path) -> None:
    """localhost and ::1 (like 127.0.0.1) stay as they were: the check must not refuse them (a bad port is
    the next check, so reaching it proves the exposure check passed without binding anything)."""
    for host in ("localhost", "::1"):  # 127.0.0.1, the default, is every other test's bind
        r = _run(tmp_path, "serve", "--host", host, "--port", "70000")
        assert r.returncode == 2 and "port must be between" in r.stderr, (host, r.stderr)


def test_with_a_token_it_serves_on_every_interface_and_refuses_strangers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    s = start_server(data, "--host", "0.0.0.0", "--workers", "1", env={"LOGSVC_TOKEN": TOKEN})
    try:
        assert s.url.startswith("http://0.0.0.0:"), s.url
        port = s.url.rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}"
        assert requests.get(url + "/api/v1/groups", timeout=10).status_code == 401
        ok = requests.get(
            url + "/api/v1/groups", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )
        assert ok.status_code == 200, ok.text

        def logs(secret: str):
            return boto3.client(
                "logs",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id="team-member",
                aws_secret_access_key=secret,
                config=Config(retries={"max_attempts": 1}),
            )

        with pytest.raises(botocore.exceptions.ClientError) as refused:
            logs("wrong").create_log_group(logGroupName="/team/app")
        assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
        logs(TOKEN).create_log_group(logGroupName="/team/app")  # the token signs as the secret
        names = [g["logGroupName"] for g in logs(TOKEN).describe_log_groups()["logGroups"]]
        assert names == ["/team/app"]
    finally:
        s.stop()


def test_insecure_starts_without_a_token_and_says_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    s = start_server(data, "--host", "0.0.0.0", "--workers", "1", "--insecure")
    try:
        port = s.url.rsplit(":", 1)[1]
        r = requests.get(f"http://127.0.0.1:{port}/api/v1/groups", timeout=10)
        assert r.status_code == 200, r.text
        wait_for(
            lambda: "listening beyond this machine without --token" in "".join(s.stderr_lines),
            what="the warning",
        )
    finally:
        s.stop()
