"""Every setting in one table, resolved in one place: CLI flags, then LOGSVC_* variables, then defaults.

SETTINGS is the only place a setting's name, type, default, variable and help are written: the
`Settings` defaults, the CLI's flags and their `--help` (cli.setting_options) come from it, and
tests/test_settings_flags.py holds the README's table to it. No other module reads `os.environ`
for configuration.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from logsvc.errors import ConfigError


def _default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(base, "logsvc")


@dataclass(frozen=True)
class Setting:
    """One setting: its flag (`--name-with-dashes`), variable (`LOGSVC_NAME`), default and help.

    `shown` is the default as documentation states it when the value is computed at run time
    (data_dir, project); `metavar` names the kind of value in `--help` when the type does not.
    """

    name: str
    default: Any
    help: str
    type: Callable[[str], Any] = str
    shown: str | None = None
    metavar: str | None = None

    @property
    def env(self) -> str:
        return "LOGSVC_" + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def value_name(self) -> str:
        """The kind of value `--help` shows after the flag: INTEGER, NUMBER, BOOLEAN, TEXT..."""
        return self.metavar or {int: "INTEGER", float: "NUMBER", _bool: "BOOLEAN"}.get(
            self.type, "TEXT"
        )

    @property
    def default_text(self) -> str:
        """The default as `--help` and the README write it: `4588`, `0.5`, `3600`, `true`, `none`."""
        if self.shown is not None:
            return self.shown
        value = self.default
        if value is None or value == "":
            return "none"
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true/false, got {text!r}")


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir",
        None,
        "Directory holding stream files, metadata and the index",
        shown="~/.local/share/logsvc",
        metavar="DIRECTORY",
    ),
    Setting(
        "host",
        "127.0.0.1",
        "Interface to bind; change only to expose logsvc beyond this machine "
        "(then --token is required, or --insecure)",
    ),
    Setting("port", 4588, "TCP port to listen on (0 picks a free one)", int),
    Setting("workers", 2, "gunicorn worker processes; one ingests (with 2+, it takes no new connections)", int),
    Setting("threads", 512, "Threads per worker; each open SSE tail holds one", int),
    Setting("token", None, "If set, every HTTP API request needs 'Authorization: Bearer <token>'"),
    Setting(
        "insecure",
        False,
        "Serve beyond loopback (--host 0.0.0.0, a LAN address) without --token: anyone who reaches "
        "the port can read and write every log. Without it such a bind refuses to start",
        _bool,
    ),
    Setting(
        "max_tail_clients",
        400,
        "Open SSE tail connections per worker before new ones get 503 (keep below --threads)",
        int,
    ),
    Setting(
        "block_lines",
        2048,
        "Lines per index block (bigger: faster ingest and smaller index, slower rare-term search)",
        int,
    ),
    Setting(
        "commit_interval",
        2.0,
        "Seconds between index commits while the ingester catches up on a backlog (searches read"
        " what is not indexed yet, so nothing is hidden meanwhile)",
        float,
    ),
    Setting(
        "live_commit_interval",
        0.25,
        "Seconds between index commits once the ingester has caught up: a stream written every"
        " millisecond is committed a few times a second, not once per write (searches read what"
        " is not committed yet)",
        float,
    ),
    Setting(
        "rescan_interval", 2.0, "Seconds between safety-net rescans of every stream file", float
    ),
    Setting(
        "retention_interval",
        60.0,
        "Seconds between passes that reclaim events past their group's retention",
        float,
    ),
    Setting(
        "project",
        None,
        "Path to logsvc.toml with simulated functions",
        shown="./logsvc.toml if present",
        metavar="FILE",
    ),
    Setting(
        "allowed_hosts",
        "",
        "Extra host names the server answers to, comma-separated (a leading '.' allows subdomains, '*' any name); "
        "localhost, *.localhost and IP addresses are always accepted",
    ),
    Setting(
        "async_queue_bytes",
        64 * 1024 * 1024,
        "Bytes of payload the async invocation queue holds before Invoke answers TooManyRequestsException",
        int,
    ),
    Setting(
        "aws_access_key_id",
        None,
        "With the secret: verify SigV4 signatures on the CloudWatch and Lambda APIs",
    ),
    Setting("aws_secret_access_key", None, "Secret for --aws-access-key-id"),
    Setting(
        "url",
        "http://127.0.0.1:4588",
        "Where CLI commands (tail, search, groups, invoke) find a running server",
    ),
    Setting("log_level", "info", "Level of logsvc's own messages (debug, info, warning, error)"),
    Setting(
        "ingest",
        True,
        "Run the ingester in this process (tests turn it off to start it by hand)",
        _bool,
    ),
    Setting(
        "columns",
        True,
        "Keep Logs Insights' columnar copy (Parquet under <data>/columns, built by a second process) "
        "and query it; off: no builder, every query runs the row engine",
        _bool,
    ),
    Setting(
        "insights_max_queries",
        100,
        "Logs Insights queries scheduled or running at once (all workers); more get LimitExceededException",
        int,
    ),
    Setting(
        "insights_threads",
        4,
        "Logs Insights queries one worker runs at the same time; the rest wait as Scheduled",
        int,
    ),
    Setting(
        "insights_timeout",
        3600.0,
        "Seconds a Logs Insights query may run before it ends as Timeout (AWS: 60 minutes)",
        float,
    ),
    Setting(
        "insights_retention",
        7 * 86400.0,
        "Seconds finished Logs Insights queries and their results are kept (AWS: 7 days)",
        float,
    ),
    Setting(
        "insights_memory",
        512 * 1024 * 1024,
        "Bytes of memory DuckDB may use for Logs Insights in each worker; past it, it spills to "
        "<data>/tmp/duckdb, and a query that still does not fit runs the row engine. The worker "
        "gives it back 10 s after its last query",
        int,
    ),
    Setting(
        "insights_results_bytes",
        256 * 1024 * 1024,
        "Bytes of Logs Insights results kept on disk; the oldest are dropped first, "
        "and one query's results over a quarter of it fail the query",
        int,
    ),
)


_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Resolved values. Defaults come from SETTINGS (data_dir's is computed: it follows XDG_DATA_HOME)."""

    data_dir: Path = field(default_factory=lambda: Path(_default_data_dir()))
    host: str = _BY_NAME["host"].default
    port: int = _BY_NAME["port"].default
    workers: int = _BY_NAME["workers"].default
    threads: int = _BY_NAME["threads"].default
    token: str | None = _BY_NAME["token"].default
    insecure: bool = _BY_NAME["insecure"].default
    max_tail_clients: int = _BY_NAME["max_tail_clients"].default
    block_lines: int = _BY_NAME["block_lines"].default
    commit_interval: float = _BY_NAME["commit_interval"].default
    live_commit_interval: float = _BY_NAME["live_commit_interval"].default
    rescan_interval: float = _BY_NAME["rescan_interval"].default
    retention_interval: float = _BY_NAME["retention_interval"].default
    project: Path | None = _BY_NAME["project"].default
    allowed_hosts: str = _BY_NAME["allowed_hosts"].default
    async_queue_bytes: int = _BY_NAME["async_queue_bytes"].default
    aws_access_key_id: str | None = _BY_NAME["aws_access_key_id"].default
    aws_secret_access_key: str | None = _BY_NAME["aws_secret_access_key"].default
    url: str = _BY_NAME["url"].default
    log_level: str = _BY_NAME["log_level"].default
    ingest: bool = _BY_NAME["ingest"].default
    columns: bool = _BY_NAME["columns"].default
    insights_max_queries: int = _BY_NAME["insights_max_queries"].default
    insights_threads: int = _BY_NAME["insights_threads"].default
    insights_timeout: float = _BY_NAME["insights_timeout"].default
    insights_retention: float = _BY_NAME["insights_retention"].default
    insights_memory: int = _BY_NAME["insights_memory"].default
    insights_results_bytes: int = _BY_NAME["insights_results_bytes"].default

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """The settings as LOGSVC_* variables, so a child process (gunicorn worker) resolves the same."""
        out = {}
        for s in SETTINGS:
            value = getattr(self, s.name)
            if value is not None:
                out[s.env] = str(value).lower() if isinstance(value, bool) else str(value)
        return out


if [f.name for f in fields(Settings)] != list(
    _BY_NAME
):  # a field without a setting has no flag or variable
    raise RuntimeError("config.Settings and config.SETTINGS list different settings")

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_TYPE_RULES = {int: "a whole number", float: "a number", _bool: "true or false"}


def _source(name: str, flags: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """Where a value came from, as the user wrote it: `--port 70000` or `LOGSVC_PORT=70000`."""
    s = _BY_NAME[name]
    if flags.get(name) is not None:
        return f"{s.flag} {flags[name]}"
    return f"{s.env}={environ.get(s.env, '')}"


def resolve(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build Settings: 1. explicit flags (not None), 2. LOGSVC_* variables, 3. defaults.

    :raises ConfigError: naming the flag or variable and the rule it breaks.
    """
    flags = flags or {}
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for s in SETTINGS:
        if flags.get(s.name) is not None:
            raw = flags[s.name]
            source = s.flag
        elif s.env in environ:
            raw = environ[s.env]
            source = s.env
        else:
            continue
        try:
            values[s.name] = s.type(raw) if isinstance(raw, str) else raw
        except ValueError:
            rule = _TYPE_RULES.get(s.type, "a valid value")
            raise ConfigError(
                f"{source}={raw!r}: {s.name} must be {rule}", field=s.name, rule=rule
            ) from None
    if values.get("data_dir") is not None:
        values["data_dir"] = Path(values["data_dir"]).expanduser().resolve()
    else:
        values.pop("data_dir", None)
    if values.get("project") is not None:
        values["project"] = Path(values["project"]).expanduser().resolve()
    for name in ("port",):
        if name in values and not 0 <= values[name] <= 65535:
            raise ConfigError(
                f"{_source(name, flags, environ)}: {name} must be between 0 and 65535",
                field=name,
                rule="0..65535",
            )
    for name in (
        "workers",
        "threads",
        "block_lines",
        "max_tail_clients",
        "async_queue_bytes",
        "insights_max_queries",
        "insights_threads",
        "insights_results_bytes",
        "insights_memory",
    ):
        if name in values and values[name] < 1:
            raise ConfigError(
                f"{_source(name, flags, environ)}: {name} must be at least 1",
                field=name,
                rule=">= 1",
            )
    if "log_level" in values and values["log_level"].lower() not in LOG_LEVELS:
        raise ConfigError(
            f"{_source('log_level', flags, environ)}: log_level must be one of {', '.join(LOG_LEVELS)}",
            field="log_level",
            rule=", ".join(LOG_LEVELS),
        )
    for name in ("insights_timeout", "insights_retention"):
        if name in values and not values[name] > 0:
            raise ConfigError(
                f"{_source(name, flags, environ)}: {name} must be more than 0 seconds",
                field=name,
                rule="> 0",
            )
    return Settings(**values)
