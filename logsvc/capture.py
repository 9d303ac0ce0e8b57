"""`logsvc run --group G [--stream S] -- CMD ARGS...`: attach any process's output as a log stream.

Owns spawning the command, reading its stdout and stderr as they come (one reader, so the order
they arrive in is kept), turning lines into events by the same rule every reader of a stream file
applies (`lines.split_events`: a traceback is one event), appending each event (timestamped when
its first line was read, marked with the pipe it came from: `lines.format_line(..., pipe=)`, read
back as the field `pipe: "stderr"`) to a new stream through the store, forwarding signals, and exiting
with the command's status (128 + N when a signal ended it, 127/126 when it could not start, as
shells do). Writes through the store directly, so it needs the data directory (`--data-dir` or
LOGSVC_DATA_DIR), not a running server. Never touches the index.
"""

from __future__ import annotations

import os
import secrets
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import click

from logsvc import lines

MAX_EVENT = 256 * 1024  # CloudWatch's event size limit: a longer line is cut into several events
FORWARDED_SIGNALS = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)


def default_stream_name() -> str:
    """Like Lambda's: `YYYY/MM/DD/[run]<32 hex>`, so runs sort by day and never collide."""
    return time.strftime("%Y/%m/%d/", time.gmtime()) + "[run]" + secrets.token_hex(16)


HOLD = 0.25  # seconds an event that may still grow (an open traceback) waits for its next line, as ingest does
PARTIAL = 2.0  # seconds of quiet after which a line without its newline is taken as it is


class _Capture:
    """Reads stdout and stderr in one thread, in the order their bytes arrive, and appends events.

    Lines become events by `lines.split_events`, the rule every reader of a stream file applies
    (so a traceback is one event, as it would be written with `>>`). Events are written in the
    order their first line was read, across both pipes: one held back because it may continue
    (an open traceback, for at most HOLD seconds of quiet) holds back the events read after it.
    """

    def __init__(
        self, pipes: dict[int, tuple[str, IO[bytes] | None]], store: Any, group: str, stream: str
    ) -> None:
        self.pipes, self.store, self.group, self.stream = pipes, store, group, stream
        self.bufs = {fd: b"" for fd in pipes}
        self.open: dict[int, list | None] = dict.fromkeys(
            pipes
        )  # the pending entry the buffer's start belongs to
        self.quiet_since = dict.fromkeys(pipes, 0.0)
        self.pending: list[list] = []  # [fd, ms, text or None while open], in the order first read
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="capture", daemon=True)

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        try:
            for fd in self.pipes:
                sel.register(fd, selectors.EVENT_READ)
            while sel.get_map():
                held = [fd for fd, e in self.open.items() if e is not None and e[2] is None]
                for key, _ in sel.select(HOLD if held else None):
                    fd = key.fd
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        sel.unregister(fd)
                        self._split(fd, eof=True)
                        continue
                    echo = self.pipes[fd][1]
                    if echo is not None:
                        echo.write(chunk)
                        echo.flush()
                    self.bufs[fd] += chunk
                    self.quiet_since[fd] = time.monotonic()
                    self._split(fd)
                now = time.monotonic()
                for fd in held:
                    quiet = now - self.quiet_since[fd]
                    if fd in sel.get_map() and quiet >= HOLD:
                        # after PARTIAL s of quiet an unfinished line (a prompt) is taken as it is, as ingest does
                        self._split(fd, flush=True, eof=quiet >= PARTIAL)
                self._write_ready()
            self._write_ready()
        except BaseException as e:
            self.error = e
        finally:
            sel.close()
            for fd in self.pipes:
                os.close(fd)

    def _split(self, fd: int, *, flush: bool = False, eof: bool = False) -> None:
        data = self.bufs[fd]
        if eof and data and not data.endswith(b"\n"):
            data += b"\n"  # the last line without a newline, taken at the end
        tail = data.rfind(b"\n") + 1
        while (
            len(data) - tail > MAX_EVENT
        ):  # a line longer than an event can be is cut into several
            data = data[: tail + MAX_EVENT] + b"\n" + data[tail + MAX_EVENT :]
            tail += MAX_EVENT + 1
        events, used = lines.split_events(data, flush=flush or eof)
        self.bufs[fd] = data[used:]
        now = int(time.time() * 1000)
        entry = self.open[fd]
        for i, ev in enumerate(events):
            if i == 0 and entry is not None:
                entry[2] = ev.text
            else:
                self.pending.append([fd, now, ev.text])
        if events or entry is None:
            self.open[fd] = None
            if self.bufs[fd]:
                self.open[fd] = [fd, now, None]
                self.pending.append(self.open[fd])

    def _write_ready(self) -> None:
        n = 0
        while n < len(self.pending) and self.pending[n][2] is not None:
            n += 1
        if n:
            ready, self.pending = self.pending[:n], self.pending[n:]
            self.store.append_events(
                self.group, self.stream, [(ms, text, self.pipes[fd][0]) for fd, ms, text in ready]
            )


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
        store.append_events(
            group, stream, [(int(time.time() * 1000), f"logsvc run: command not found: {argv[0]}")]
        )
        click.echo(f"logsvc: error: command not found: {argv[0]}", err=True)
        return 127
    except PermissionError:
        _close(out_r, out_w, err_r, err_w)
        store.append_events(
            group, stream, [(int(time.time() * 1000), f"logsvc run: permission denied: {argv[0]}")]
        )
        click.echo(f"logsvc: error: permission denied: {argv[0]}", err=True)
        return 126
    os.close(out_w)
    os.close(err_w)
    if on_start is not None:
        on_start(stream)
    capture = _Capture(
        {
            out_r: ("stdout", sys.stdout.buffer if echo else None),
            err_r: ("stderr", sys.stderr.buffer if echo else None),
        },
        store,
        group,
        stream,
    )
    capture.thread.start()
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
    capture.thread.join()
    if capture.error is not None:
        raise capture.error
    return 128 - code if code < 0 else code


def _close(*fds: int) -> None:
    for fd in fds:
        os.close(fd)


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--group", "-g", required=True, help="Log group to write to (created if missing)")
@click.option("--stream", "-s", help="Log stream name [default: YYYY/MM/DD/[run]<32 hex>]")
@click.option(
    "--quiet", "-q", is_flag=True, help="Do not echo the command's output to this terminal"
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def run(
    ctx: click.Context, group: str, stream: str | None, quiet: bool, command: tuple[str, ...]
) -> None:
    """Run COMMAND and write its stdout and stderr lines to a new log stream as they come.

    Exits with COMMAND's status (128+N if signal N ended it). Writes into the data directory
    directly (--data-dir / LOGSVC_DATA_DIR), so no server has to be running:

        logsvc run --group /local/worker -- python worker.py --once
    """
    from logsvc.config import resolve
    from logsvc.store import Store

    flags = {
        k: v for k, v in (ctx.find_root().obj or {}).items() if k == "data_dir" and v is not None
    }
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
