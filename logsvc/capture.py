"""`logsvc run --group G [--stream S] -- CMD ARGS...`: attach any process's output as a log stream.

Owns spawning the command, reading its stdout and stderr as they come, appending each complete
line (timestamped when read) to a new stream through the store, forwarding signals, and exiting
with the command's status (128 + N when a signal ended it, 127/126 when it could not start, as
shells do). Writes through the store directly, so it needs the data directory (`--data-dir` or
LOGSVC_DATA_DIR), not a running server. Never touches the index.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import click

MAX_EVENT = 256 * 1024  # CloudWatch's event size limit: a longer line is cut into several events
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def default_stream_name() -> str:
    """Like Lambda's: `YYYY/MM/DD/[run]<32 hex>`, so runs sort by day and never collide."""
    return time.strftime("%Y/%m/%d/", time.gmtime()) + "[run]" + secrets.token_hex(16)


class _Pump(threading.Thread):
    """Reads one pipe, appends complete lines to the stream, and optionally echoes the bytes."""

    def __init__(self, fd: int, store: Any, group: str, stream: str, echo: IO[bytes] | None) -> None:
        super().__init__(name=f"capture-{fd}", daemon=True)
        self.fd, self.store, self.group, self.stream, self.echo = fd, store, group, stream, echo
        self.error: BaseException | None = None

    def run(self) -> None:
        buf = b""
        try:
            while True:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                if self.echo is not None:
                    self.echo.write(chunk)
                    self.echo.flush()
                buf += chunk
                *lines, buf = buf.split(b"\n")
                while len(buf) > MAX_EVENT:
                    lines.append(buf[:MAX_EVENT])
                    buf = buf[MAX_EVENT:]
                self._append(lines)
            if buf:
                self._append([buf])
        except BaseException as e:  # noqa: BLE001 - reported by the caller after the command ends
            self.error = e
        finally:
            os.close(self.fd)

    def _append(self, lines: list[bytes]) -> None:
        if not lines:
            return
        now = int(time.time() * 1000)
        events = [(now, line.rstrip(b"\r").decode("utf-8", "replace")) for line in lines]
        self.store.append_events(self.group, self.stream, events)


def run_command(
    store: Any,
    group: str,
    stream: str | None,
    argv: list[str],
    *,
    echo: bool = True,
    on_start: Any = None,
) -> int:
    """Run `argv`, capturing its output into `group`/`stream`; return the exit status to use.

    :raises InvalidParameter: for a bad group or stream name (checked before the command starts).
    """
    stream = stream or default_stream_name()
    store.ensure_stream(group, stream)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        proc = subprocess.Popen(argv, stdout=out_w, stderr=err_w, process_group=0)
    except FileNotFoundError:
        _close(out_r, out_w, err_r, err_w)
        store.append_events(group, stream, [(int(time.time() * 1000), f"logsvc run: command not found: {argv[0]}")])
        click.echo(f"logsvc: error: command not found: {argv[0]}", err=True)
        return 127
    except PermissionError:
        _close(out_r, out_w, err_r, err_w)
        store.append_events(group, stream, [(int(time.time() * 1000), f"logsvc run: permission denied: {argv[0]}")])
        click.echo(f"logsvc: error: permission denied: {argv[0]}", err=True)
        return 126
    os.close(out_w)
    os.close(err_w)
    if on_start is not None:
        on_start(stream)
    pumps = [
        _Pump(out_r, store, group, stream, sys.stdout.buffer if echo else None),
        _Pump(err_r, store, group, stream, sys.stderr.buffer if echo else None),
    ]
    for p in pumps:
        p.start()
    previous = {}
    if threading.current_thread() is threading.main_thread():

        def forward(signum: int, _frame: Any) -> None:
            try:
                proc.send_signal(signum)
            except ProcessLookupError:
                pass

        for sig in FORWARDED_SIGNALS:
            previous[sig] = signal.signal(sig, forward)
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    for p in pumps:
        p.join()
    for p in pumps:
        if p.error is not None:
            raise p.error
    return 128 - code if code < 0 else code


def _close(*fds: int) -> None:
    for fd in fds:
        os.close(fd)


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--group", "-g", required=True, help="Log group to write to (created if missing)")
@click.option("--stream", "-s", help="Log stream name [default: YYYY/MM/DD/[run]<32 hex>]")
@click.option("--quiet", "-q", is_flag=True, help="Do not echo the command's output to this terminal")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def run(ctx: click.Context, group: str, stream: str | None, quiet: bool, command: tuple[str, ...]) -> None:
    """Run COMMAND and write its stdout and stderr lines to a new log stream as they come.

    Exits with COMMAND's status (128+N if signal N ended it). Writes into the data directory
    directly (--data-dir / LOGSVC_DATA_DIR), so no server has to be running:

        logsvc run --group /local/worker -- python worker.py --once
    """
    from logsvc.config import resolve
    from logsvc.store import Store

    flags = {k: v for k, v in (ctx.find_root().obj or {}).items() if k == "data_dir" and v is not None}
    settings = resolve(flags)
    store = Store(Path(settings.data_dir))
    argv = list(command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise click.UsageError("give the command to run after '--'")

    def announce(name: str) -> None:
        if not quiet:
            click.echo(f"logsvc: writing to log group {group}, stream {name}", err=True)

    ctx.exit(run_command(store, group, stream, argv, echo=not quiet, on_start=announce))
