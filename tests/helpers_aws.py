"""Helpers shared by tests that talk to logsvc (or moto) through boto3 and run a project's
functions (no tests here): one client builder, one PutLogEvents writer, one project writer."""

from __future__ import annotations

from pathlib import Path

import boto3
from botocore.config import Config

REGION = "us-east-1"


def aws_client(service: str, url: str, *, keys: tuple[str, str] | None = None, **config):
    """A boto3 client of `service` at `url`. `config` goes to botocore's Config (retries,
    read_timeout; none: boto3's defaults); without `keys` it signs with the suite's testing
    credentials (conftest sets them), which a server started without keys accepts."""
    creds = {"aws_access_key_id": keys[0], "aws_secret_access_key": keys[1]} if keys else {}
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        config=Config(**config) if config else None,
        **creds,
    )


def put_events(logs, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    """One PutLogEvents call of (timestamp ms, message) pairs, in the order given."""
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": t, "message": m} for t, m in events],
    )


def write_project(root: Path, handlers: str, project: str) -> Path:
    """`root/fns/handlers.py` and the project file `root/logsvc.toml` naming it (code = "fns");
    returns the project file's path."""
    (root / "fns").mkdir()
    (root / "fns" / "handlers.py").write_text(handlers)
    path = root / "logsvc.toml"
    path.write_text(project)
    return path
