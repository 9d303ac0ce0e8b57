"""The `logsvc` command: a thin shell around the server and its API.

`serve`, `demo`, `path` and `reindex` work on a data directory; every other command talks to a
running server through the public REST API (client.py). Errors print as
`logsvc: error: <what>` plus a hint line; `--traceback` shows the Python traceback instead.
"""

from __future__ import annotations

import enum
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from logsvc import __version__
from logsvc.config import SETTINGS, Settings, resolve
from logsvc.errors import ConfigError, LogsvcError


class ExitStatus(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    CONNECTION = 4
    INTERRUPTED = 130


def _settings(ctx: click.Context, **flags: str | None) -> Settings:
    """The group's flags, then this command's (the later on the command line wins), then resolve."""
    merged = dict(ctx.find_root().obj or {})
    merged.update({k: v for k, v in flags.items() if v is not None})
    return resolve(merged)


def _echo_error(e: LogsvcError) -> None:
    click.echo(f"logsvc: error: {e.message}", err=True)
    if e.hint:
        click.echo(f"logsvc: hint: {e.hint}", err=True)


class _Group(click.Group):
    """The top command. The producers' commands (simulated functions, `run`) are imported when one
    of them runs or help lists them: `logsvc serve` is the gunicorn master, which never needs them
    (the invoker and the filter patterns it pulls in were ~10 MB of the master's RSS)."""

    LAZY = {
        "invoke": "logsvc.invoker.commands:invoke",
        "functions": "logsvc.invoker.commands:functions",
        "table": "logsvc.invoker.commands:table",
        "run": "logsvc.capture:run",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            import importlib

            module, attr = self.LAZY[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context):
        from logsvc.client import ConnectionFailed
        from logsvc.errors import NotFound

        try:
            return super().invoke(ctx)
        except LogsvcError as e:
            if (ctx.obj or {}).get("traceback"):
                raise
            if isinstance(e, ConfigError):  # nothing started: the one line that says what to fix
                click.echo(f"logsvc: error: {e.message}", err=True)
                ctx.exit(int(ExitStatus.USAGE))
            _echo_error(e)
            code = (
                ExitStatus.NOT_FOUND
                if isinstance(e, NotFound)
                else ExitStatus.CONNECTION
                if isinstance(e, ConnectionFailed)
                else ExitStatus.ERROR
            )
            ctx.exit(int(code))
        except KeyboardInterrupt:
            ctx.exit(int(ExitStatus.INTERRUPTED))


class _Text(click.ParamType):
    """A setting's value as typed; `config.resolve` converts and checks it (see `setting_options`)."""

    def __init__(self, metavar: str) -> None:
        self.name = metavar.lower()

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return value


def setting_options(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Click options generated from `config.SETTINGS` (all of them, or the ones named): flag,
    kind of value, help, and the variable and default written into the help.

    Click's own `default` and `envvar` stay unset on purpose: `config.resolve` is the one resolver
    (the gunicorn workers resolve the same LOGSVC_* variables with it) and it must see which values
    were typed, to rank any flag above any variable and name the flag or variable in an error. So a
    bad `--port` and a bad `LOGSVC_PORT` get the same one-line error, exit status 2.
    """
    chosen = [s for s in SETTINGS if not names or s.name in names]

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        for s in reversed(chosen):
            metavar = s.value_name
            # a true/false setting also works as a bare flag (`--insecure` = `--insecure true`)
            bare = {"is_flag": False, "flag_value": "true"} if metavar == "BOOLEAN" else {}
            f = click.option(
                s.flag,
                s.name,
                type=_Text(metavar),
                metavar=metavar,
                help=f"{s.help}  [env: {s.env}; default: {s.default_text}]",
                **bare,
            )(f)
        return f

    return decorate


GLOBAL_SETTINGS = ("data_dir", "url", "token")


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="logsvc")
@setting_options(*GLOBAL_SETTINGS)
@click.option("--traceback", is_flag=True, help="Show Python tracebacks on errors")
@click.pass_context
def main(ctx: click.Context, traceback: bool, **flags: str | None) -> None:
    """A local, CloudWatch-Logs-compatible log service for serverless development.

    Settings given here apply to every command. `serve` and `demo` take every setting after their
    name too; one given in both places takes the value written after the command.
    """
    ctx.obj = {**flags, "traceback": traceback}


def _client(ctx: click.Context):
    from logsvc.client import Client

    s = _settings(ctx)
    return Client(s.url, s.token)


# ---- serving -------------------------------------------------------------------------------------


def _check_before_binding(s: Settings) -> None:
    """Everything a server needs that can be checked before it binds and announces itself.

    :raises ConfigError: for a bind beyond loopback without credentials, a broken project file or
        a port another process holds.
    """
    import errno
    import socket

    from logsvc.auth import check_exposure

    check_exposure(s)
    if s.project is not None:
        from logsvc.invoker.functions import load_project

        try:
            load_project(s.project, s.data_dir)
        except LogsvcError as e:
            raise ConfigError(e.message, field="project", rule=e.rule) from None
    if s.port:
        family = socket.AF_INET6 if ":" in s.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
            try:
                probe.bind((s.host, s.port))
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise ConfigError(
                        f"port {s.port} on {s.host} is taken by another process; --port 0 picks a free one",
                        field="port",
                        rule="a free port",
                    ) from None
                raise ConfigError(
                    f"cannot bind {s.host}:{s.port}: {e.strerror}", field="host"
                ) from None


@main.command()
@setting_options()
@click.pass_context
def serve(ctx: click.Context, **flags: str | None) -> None:
    """Serve the console, REST, CloudWatch and Lambda APIs over the data directory."""
    import logging

    from logsvc.serve import serve as run

    s = _settings(ctx, **flags)
    if s.project is None and os.path.exists("logsvc.toml"):
        s = s.with_(project=os.path.abspath("logsvc.toml"))
    _check_before_binding(s)
    logging.basicConfig(
        level=s.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    os.environ.update(s.to_env())
    run(s)


@main.command()
@setting_options()
@click.pass_context
def demo(ctx: click.Context, **flags: str | None) -> None:
    """Serve with demo functions producing realistic logs, so there is something to look at."""
    from logsvc.demo import run_demo

    s = _settings(ctx, **flags)
    if s.project is None and os.path.exists("logsvc.toml"):
        s = s.with_(project=os.path.abspath("logsvc.toml"))
    run_demo(s, check=_check_before_binding)


@main.command()
@click.argument("group")
@click.argument("stream")
@click.pass_context
def path(ctx: click.Context, group: str, stream: str) -> None:
    """Print a stream's file path (creating it), so anything can append to it with >>."""
    from logsvc.store import Store

    s = _settings(ctx)
    click.echo(str(Store(s.data_dir).ensure_stream(group, stream)))


@main.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """Rebuild the index from the stream files (stop the server first)."""
    from logsvc.reindex import reindex as run

    s = _settings(ctx)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        if not sys.stderr.isatty() and done != total:
            return
        frac = done / total if total else 1.0
        bar = "#" * int(frac * 30)
        click.echo(
            f"\rreindex [{bar:<30}] {frac:6.1%} {done / 1e6:8.1f} MB", err=True, nl=done == total
        )

    count = run(s, progress)
    click.echo(f"logsvc: reindexed {count} events in {time.monotonic() - started:.1f}s", err=True)


@main.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "ndjson"]),
    default="parquet",
    show_default=True,
    help="Parquet (typed columns) or NDJSON (one JSON object a line)",
)
@click.option(
    "--group",
    multiple=True,
    required=True,
    help="Log group name, or a glob pattern such as '/aws/lambda/*'; repeat for several",
)
@click.option(
    "--since",
    required=True,
    help="Start (inclusive): an age (30m, 2h, 7d), an ISO time or epoch ms",
)
@click.option("--until", default=None, help="End (inclusive; default: now); same forms as --since")
@click.option("--to", "to", required=True, help="Folder to write (new or empty)")
@click.option("--overwrite", is_flag=True, help="Replace a previous export in --to")
@click.pass_context
def export_cmd(
    ctx: click.Context,
    fmt: str,
    group: tuple[str, ...],
    since: str,
    until: str | None,
    to: str,
    overwrite: bool,
) -> None:
    """Export visible events as Hive-style partitions (group=/day=) engines read as they are.

    Reads the data directory directly (a running server may keep serving it). The schema and the
    DuckDB, ClickHouse and Spark commands that read it are in docs/engines.md.
    """
    from logsvc.errors import InvalidParameter
    from logsvc.export import check_range, export
    from logsvc.timeargs import parse_time

    s = _settings(ctx)
    started = time.monotonic()
    try:
        now = int(time.time() * 1000)
        lo = parse_time(since, "--since", now_ms=now)
        hi = parse_time(until, "--until", now_ms=now) if until else now
        check_range(lo, hi)
    except InvalidParameter as e:
        _echo_error(e)
        ctx.exit(int(ExitStatus.USAGE))
    try:
        res = export(s, group, lo, hi, fmt, to, overwrite=overwrite)
    except InvalidParameter as e:
        if not (e.field or "").startswith("--"):
            raise
        _echo_error(e)  # a flag's value: a usage error, as click's own
        ctx.exit(int(ExitStatus.USAGE))
    click.echo(
        f"logsvc: exported {res.events:,} events of {len(res.groups)} groups in "
        f"{len(res.partitions)} partitions ({res.bytes / 1e6:.1f} MB) to {to} in "
        f"{time.monotonic() - started:.1f}s",
        err=True,
    )


# ---- forwarding ----------------------------------------------------------------------------------


@main.command()
@click.option("--endpoint", default=None, help="'aws' (boto3's credentials and region) or a URL")
@click.option("--region", default=None, help="Region at the destination (default: boto3's)")
@click.option(
    "--group",
    "groups",
    multiple=True,
    help="Group name pattern to mirror (glob: * ? [..]); repeat for more",
)
@click.option("--prefix", default=None, help="Prepended to each group name at the destination")
@click.option("--batch-events", type=int, default=None, help="Events per PutLogEvents (max 10000)")
@click.option("--interval", type=float, default=None, help="Seconds between looks when idle")
@click.option("--status", "show_status", is_flag=True, help="Print each destination's progress")
@click.option("--json", "as_json", is_flag=True, help="With --status: print JSON")
@setting_options("data_dir", "project", "log_level")
@click.pass_context
def forward(
    ctx: click.Context,
    endpoint: str | None,
    region: str | None,
    groups: tuple[str, ...],
    prefix: str | None,
    batch_events: int | None,
    interval: float | None,
    show_status: bool,
    as_json: bool,
    **flags: str | None,
) -> None:
    """Mirror groups to a CloudWatch Logs endpoint (AWS, another logsvc, moto), exactly once.

    Reads the stream files of the data directory (a server need not run) from checkpoints of its
    own under <data>/forward/. Values not given here come from [forward] in logsvc.toml.
    """
    import logging
    import signal

    from logsvc import ship
    from logsvc.store import Store

    s = _settings(ctx, **flags)
    if show_status:
        rows = ship.statuses(s.data_dir)
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            click.echo("no forwarder has run over this data directory", err=True)
            return
        for r in rows:
            rej = r.get("rejected", {})
            click.echo(
                f"{r.get('destination')}: {'running' if r.get('running') else 'stopped'}, "
                f"{r.get('eventsForwarded', 0)} events in {r.get('batches', 0)} batches, "
                f"rejected {sum(rej.values())} ({', '.join(f'{k} {v}' for k, v in rej.items())}), "
                f"lag {r.get('lagBytes', 0)} bytes in {r.get('streamsBehind', 0)} streams"
                + (f", last error: {r['lastError']}" if r.get("lastError") else "")
            )
        return
    project = s.project or (
        os.path.abspath("logsvc.toml") if os.path.exists("logsvc.toml") else None
    )
    values = ship.section_from_project(project)
    given = {
        "endpoint": endpoint,
        "region": region,
        "groups": list(groups) or None,
        "prefix": prefix,
        "batch_events": batch_events,
        "interval": interval,
    }
    values.update({k: v for k, v in given.items() if v is not None})
    cfg = ship.make_config(values)
    logging.basicConfig(
        level=s.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    fwd = ship.Forwarder(Store(s.data_dir), cfg)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: fwd.stop())
    click.echo(f"logsvc: forwarding {', '.join(cfg.groups)} to {cfg.label}", err=True)
    fwd.run()


# ---- reading -------------------------------------------------------------------------------------


def _fmt_time(ms: int | None) -> str:
    if ms is None:
        return "-"
    return (
        datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    )


def _print_event(e: dict, fmt: str, color: bool) -> None:
    if fmt == "json":
        click.echo(json.dumps(e, ensure_ascii=False))
        return
    ts = _fmt_time(e["timestamp"])
    msg = e["message"].rstrip("\n")
    if fmt == "short":
        line = f"{ts} {msg}"
    else:
        src = f"{e['group']} {e['stream']}"
        line = f"{click.style(ts, fg='green') if color else ts} {click.style(src, fg='cyan') if color else src} {msg}"
    click.echo(line)


_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["detailed", "short", "json"]),
    default="detailed",
    show_default=True,
)


@main.command()
@click.argument("group", nargs=-1, required=True)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events as they arrive")
@click.option("--filter", "filter_", default="", help="CloudWatch filter pattern")
@click.option(
    "--since",
    default="10m",
    show_default=True,
    help="Start this long ago (30s, 10m, 2h, 1d) or at an ISO time",
)
@click.option("--stream", multiple=True, help="Only these streams")
@_FORMAT
@click.pass_context
def tail(
    ctx: click.Context,
    group: tuple[str, ...],
    follow: bool,
    filter_: str,
    since: str,
    stream: tuple[str, ...],
    fmt: str,
) -> None:
    """Print a group's recent events, and with -f keep following it."""
    client = _client(ctx)
    color = sys.stdout.isatty()
    params = {"group": list(group), "stream": list(stream), "q": filter_ or None}
    if follow:
        for event, data, _ in client.sse("/api/v1/tail", since=since, **params):
            if event == "events":
                for e in json.loads(data)["events"]:
                    _print_event(e, fmt, color)
            elif event == "notice":  # e.g. the --since replay was cut: say so, never silently
                click.echo(f"logsvc: {json.loads(data).get('message', data)}", err=True)
        return
    for e in client.pages(
        "/api/v1/events", "events", start=since, startFromHead="true", limit=1000, **params
    ):
        _print_event(e, fmt, color)


@main.command()
@click.argument("pattern")
@click.option("--group", multiple=True, help="Only these groups (default: all)")
@click.option("--since", default=None, help="Only events after this (10m, 2h, 1d, ISO time)")
@click.option("--limit", type=int, default=50, show_default=True)
@_FORMAT
@click.pass_context
def search(
    ctx: click.Context,
    pattern: str,
    group: tuple[str, ...],
    since: str | None,
    limit: int,
    fmt: str,
) -> None:
    """Search events with a CloudWatch filter pattern, newest first."""
    page = _client(ctx).get(
        "/api/v1/search", q=pattern, group=list(group), start=since, limit=limit
    )
    for e in page["events"]:
        _print_event(e, fmt, sys.stdout.isatty())
    if not page["events"]:
        click.echo("logsvc: no matching events", err=True)


@main.command()
@click.option("--prefix", default=None)
@click.pass_context
def groups(ctx: click.Context, prefix: str | None) -> None:
    """List log groups."""
    rows = _listing(ctx, "/api/v1/groups", "groups", prefix=prefix, limit=1000)
    _table(
        rows,
        [
            ("name", "GROUP"),
            ("streamCount", "STREAMS"),
            ("storedBytes", "BYTES"),
            ("lastEventTime", "LAST EVENT"),
        ],
    )


@main.command()
@click.argument("group")
@click.pass_context
def streams(ctx: click.Context, group: str) -> None:
    """List a group's streams, newest activity first."""
    rows = _listing(ctx, "/api/v1/streams", "streams", group=group, limit=1000)
    _table(rows, [("name", "STREAM"), ("storedBytes", "BYTES"), ("lastEventTime", "LAST EVENT")])


_TERMINAL = ("Complete", "Failed", "Cancelled", "Timeout")


@main.command("query")
@click.argument("text", metavar="QUERY")
@click.option(
    "--group", multiple=True, required=True, help="Log group to query (repeat for several)"
)
@click.option(
    "--since",
    default="1h",
    show_default=True,
    help="Start this long ago (30s, 10m, 2h, 1d), at an ISO time or epoch ms",
)
@click.option("--until", default=None, help="End (default: now); same forms as --since")
@click.option(
    "--limit", type=click.IntRange(1, 100_000), default=None, help="Rows at most (default 10,000)"
)
@click.option(
    "--output", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True
)
@click.pass_context
def query_cmd(
    ctx: click.Context,
    text: str,
    group: tuple[str, ...],
    since: str,
    until: str | None,
    limit: int | None,
    output: str,
) -> None:
    """Run a Logs Insights query and print its rows (progress on stderr while it runs).

    Example: logsvc query 'filter @type = "REPORT" | stats avg(@duration) by bin(5m)' --group /aws/lambda/fn
    """
    from logsvc.errors import InvalidParameter

    client = _client(ctx)
    body: dict = {"query": text, "groups": list(group), "start": since}
    if until:
        body["end"] = until
    if limit:
        body["limit"] = limit
    try:
        qid = client.post("/api/v1/insights", body)["queryId"]
    except InvalidParameter as e:
        if e.field == "query" and e.hint:  # a caret under the column the query fails at
            click.echo(f"logsvc: error: {e.message}", err=True)
            click.echo(e.hint, err=True)
            ctx.exit(int(ExitStatus.USAGE))
        raise
    tty = sys.stderr.isatty()
    began = time.monotonic()
    try:
        while True:
            res = client.get(f"/api/v1/insights/{qid}")
            if res["status"] in _TERMINAL:
                break
            if tty:
                st = res.get("statistics") or {}
                click.echo(
                    f"\r{res['status']}: {int(st.get('recordsScanned', 0)):,} records scanned, "
                    f"{int(st.get('recordsMatched', 0)):,} matched, {time.monotonic() - began:.1f}s ",
                    err=True,
                    nl=False,
                )
            time.sleep(0.2)
    except KeyboardInterrupt:
        try:
            client.delete(f"/api/v1/insights/{qid}")
        except LogsvcError:
            pass
        raise
    if tty:
        click.echo("\r\033[K", err=True, nl=False)
    rows = [{c["field"]: c["value"] for c in row} for row in res["results"]]
    _print_rows(rows, output)
    st = res.get("statistics") or {}
    if res["status"] != "Complete":
        click.echo(
            f"logsvc: error: the query ended {res['status']}"
            + (f": {res['error']}" if res.get("error") else "")
            + (f" (showing the {len(rows)} rows it had)" if rows else ""),
            err=True,
        )
        ctx.exit(int(ExitStatus.ERROR))
    if tty:
        click.echo(
            f"{len(rows):,} rows; {int(st.get('recordsMatched', 0)):,} records matched, "
            f"{int(st.get('recordsScanned', 0)):,} scanned in {time.monotonic() - began:.1f}s",
            err=True,
        )


def _print_rows(rows: list[dict], output: str) -> None:
    if output == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    cols: list[str] = []
    for r in rows:
        cols.extend(k for k in r if k not in cols and (output == "csv" or k != "@ptr"))
    if output == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(cols)
        for r in rows:
            w.writerow([r.get(c, "") for c in cols])
        click.echo(buf.getvalue(), nl=False)
        return
    if not rows:
        click.echo("logsvc: no rows", err=True)
        return

    def cell(v: str | None) -> str:
        return "" if v is None else v.replace("\r", "").replace("\n", " \u23ce ")

    cells = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _listing(ctx: click.Context, path: str, key: str, **params: object) -> list[dict]:
    """Every page of a listing; says on stderr when the server skipped entries it could not read."""
    client = _client(ctx)
    rows: list[dict] = []
    skipped = 0
    token = None
    while True:
        page = client.get(path, **params, nextToken=token)
        rows.extend(page[key])
        skipped += int(page.get("skipped") or 0)
        token = page.get("nextToken")
        if not token:
            break
    if skipped:
        click.echo(
            f"note: {skipped} entries in the data directory could not be read and were skipped "
            "(the server log names them)",
            err=True,
        )
    return rows


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> None:
    def cell(r: dict, k: str) -> str:
        v = r.get(k)
        return _fmt_time(v) if k.endswith("Time") else "-" if v is None else str(v)

    cells = [[cell(r, k) for k, _ in cols] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (_, h) in enumerate(cols)]
    click.echo("  ".join(h.ljust(w) for (_, h), w in zip(cols, widths, strict=True)).rstrip())
    for c in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())


if __name__ == "__main__":  # pragma: no cover
    main()
