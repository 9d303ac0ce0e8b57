"""Container instances: one child Python process per execution environment, one log stream each.

Owns spawning `bootstrap.py` with Lambda's environment, the control pipes, the per-invocation
deadline (a timeout or crash ends the container; the next invocation starts cold), and the pools
that reuse warm containers, start new ones up to the concurrency limit and reap idle ones.
The child writes its own lines into its stream file; this module writes only the lines a dead
child cannot (after a timeout: `<requestId> Task timed out after N.NN seconds`, END, REPORT; after a
crash: the exit error, END, REPORT). Never touches the index or HTTP.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logsvc import lines
from logsvc.errors import LimitExceeded, LogsvcError
from logsvc.invoker.functions import Function

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
LOGSVC_ROOT = Path(__file__).resolve().parents[2]
INIT_TIMEOUT = 10.0  # Lambda's init phase limit
TAIL_BYTES = 4096
# Host variables a child may inherit; everything else comes from the function's definition,
# so a developer's AWS_PROFILE or credentials never leak into simulated functions.
PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR", "SYSTEMROOT")


class TooManyRequests(LimitExceeded):
    """Every container of the function is busy and the concurrency limit is reached."""

    code = "TooManyRequestsException"


@dataclass
class Outcome:
    """What one invocation produced, as the caller and the invocation record need it."""

    request_id: str
    status: str  # success | error | timeout | crash
    body: bytes
    error_type: str | None
    duration_ms: float
    billed_ms: int
    max_memory_mb: int
    init_duration_ms: float | None
    stream: str
    log_tail: bytes
    start_ms: int
    end_ms: int

    @property
    def function_error(self) -> str | None:
        return None if self.status == "success" else "Unhandled"


class Container:
    """One execution environment: a live child process and its log stream."""

    def __init__(
        self,
        fn: Function,
        store: Any,
        endpoint_base: str | None,
        host_env: dict[str, str],
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.fn = fn
        self.store = store
        self.credentials = credentials
        self.id = secrets.token_hex(16)
        self.stream = time.strftime("%Y/%m/%d/", time.gmtime()) + "[$LATEST]" + self.id
        self.path = store.ensure_stream(fn.log_group, self.stream)
        self.current_request: str | None = None
        self.last_used = time.monotonic()
        self.invocations = 0
        self.alive = False
        self._buf = b""
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        env = {k: host_env[k] for k in PASS_ENV if k in host_env}
        env.update(self._lambda_env(endpoint_base))
        env.update(fn.environment)
        env.update(
            {
                "_LOGSVC_CONTROL_FDS": f"{to_child_r},{from_child_w}",
                "_LOGSVC_STREAM_FILE": str(self.path),
                "_LOGSVC_SPAWN_TIME": repr(time.time()),
                "_LOGSVC_ROOT": str(LOGSVC_ROOT),
                "_LOGSVC_PARENT_PID": str(os.getpid()),
            }
        )
        self.spawned = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-X", "utf8", str(BOOTSTRAP)],
                cwd=str(fn.code),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(to_child_r, from_child_w),
                start_new_session=True,  # a timeout kills the whole group, handler subprocesses too
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.alive = True
        self.init_error: dict | None = None
        try:
            ready = self._read_message(time.monotonic() + INIT_TIMEOUT)
        except TimeoutError:
            self.kill()
            raise
        self.init_error = ready.get("initError") if ready else None
        self.init_duration_ms: float | None = ready.get("initDurationMs") if ready else None
        if ready is None:
            self.kill()

    def _lambda_env(self, endpoint_base: str | None) -> dict[str, str]:
        fn = self.fn
        env = {
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": fn.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python{}.{}".format(*sys.version_info[:2]),
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            # Functions sign with the per-run function key the owner minted (logsvc.auth): it opens
            # Invoke on the owner's internal server and nothing else, never the server's own key.
            "AWS_ACCESS_KEY_ID": self.credentials[0] if self.credentials else "logsvc",
            "AWS_SECRET_ACCESS_KEY": self.credentials[1] if self.credentials else "logsvc",
            "AWS_SESSION_TOKEN": "logsvc",
            "LAMBDA_TASK_ROOT": str(fn.code),
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "_HANDLER": fn.handler,
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
        }
        if fn.log_format == "JSON":
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        if endpoint_base:
            # botocore reads AWS_ENDPOINT_URL_LAMBDA; the per-container path prefix tells the server
            # which invocation is calling, so the parent request id is recorded without user code.
            env["AWS_ENDPOINT_URL_LAMBDA"] = f"{endpoint_base}/_container/{self.id}"
        return env

    # ---- control channel ------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict | None:
        """The next JSON line from the child; None if it exited. :raises TimeoutError:"""
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            with selectors.DefaultSelector() as sel:
                sel.register(self._from_child, selectors.EVENT_READ)
                if not sel.select(remaining):
                    continue
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def _send(self, msg: dict) -> bool:
        data = memoryview((json.dumps(msg) + "\n").encode())
        try:
            while data:
                data = data[os.write(self._to_child, data) :]
        except (BrokenPipeError, OSError):
            return False
        return True

    # ---- invoking ---------------------------------------------------------------------------

    def invoke(
        self, request_id: str, payload: bytes, client_context: dict | None = None
    ) -> Outcome:
        """Run one invocation to completion, timeout or crash. The caller holds this container exclusively."""
        fn = self.fn
        self.current_request = request_id
        self.invocations += 1
        start_ms = int(time.time() * 1000)
        t0 = time.monotonic()
        offset = self._size()
        deadline_ms = start_ms + int(fn.timeout * 1000)
        sent = self._send(
            {
                "requestId": request_id,
                "payload": payload.decode("utf-8", "replace"),
                "deadlineMs": deadline_ms,
                "functionArn": fn.arn,
                "clientContext": client_context,
            }
        )
        msg: dict | None = None
        timed_out = False
        if sent:
            try:
                msg = self._read_message(t0 + fn.timeout)
            except TimeoutError:
                timed_out = True
        self.current_request = None
        end_ms = int(time.time() * 1000)
        if msg is not None and msg.get("type") == "result":
            self.last_used = time.monotonic()
            ok = msg["ok"]
            if self.init_error is not None:
                self.kill()  # Lambda resets a sandbox whose init failed; the next call starts cold
            return Outcome(
                request_id,
                "success" if ok else "error",
                (msg.get("body") or "null").encode(),
                msg.get("errorType"),
                msg["durationMs"],
                msg["billedMs"],
                msg["maxMemoryMB"],
                msg.get("initDurationMs"),
                self.stream,
                self._tail(offset),
                start_ms,
                end_ms,
            )
        # Timeout or crash: the child cannot finish its own lines any more, so we write them.
        peak = self._peak_rss_mb()
        self.kill()
        init_ms = self.init_duration_ms if self.invocations == 1 else None
        if timed_out:
            duration = fn.timeout * 1000
            status, etype = "timeout", "Sandbox.Timedout"
            body = {
                "errorType": etype,
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after {fn.timeout:.2f} seconds",
            }
            extra = "\tStatus: timeout"
        else:
            duration = (time.monotonic() - t0) * 1000
            code = self.proc.returncode
            reason = (
                f"signal: {signal.Signals(-code).name.lower().removeprefix('sig')}"
                if code and code < 0
                else f"exit status {code}"
            )
            status, etype = "crash", "Runtime.ExitError"
            body = {
                "errorType": etype,
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {reason}",
            }
            extra = "\tStatus: error\tError Type: Runtime.ExitError"
            self._append(
                end_ms,
                f"RequestId: {request_id} Error: Runtime exited with error: {reason}\nRuntime.ExitError",
            )
        billed = int(-(-(duration + (init_ms or 0)) // 1))
        if init_ms is not None:
            extra = f"\tInit Duration: {init_ms:.2f} ms" + extra
        if (
            timed_out
        ):  # the function's own stream says why it ended, as Lambda writes it (reference §2.1)
            self._append(end_ms, f"{request_id} Task timed out after {fn.timeout:.2f} seconds")
        self._append(end_ms, f"END RequestId: {request_id}")
        self._append(
            end_ms,
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {billed} ms"
            f"\tMemory Size: {fn.memory} MB\tMax Memory Used: {peak} MB{extra}",
        )
        return Outcome(
            request_id,
            status,
            json.dumps(body).encode(),
            etype,
            duration,
            billed,
            peak,
            init_ms,
            self.stream,
            self._tail(offset),
            start_ms,
            end_ms,
        )

    def _append(self, ts: int, message: str) -> None:
        self.store.append_events(self.fn.log_group, self.stream, [(ts, message)])

    def _size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def _tail(self, offset: int) -> bytes:
        """This invocation's log text (messages only, as LogResult shows them), last 4 KB."""
        try:
            with self.store.open_stream(
                self.fn.log_group, self.stream
            ) as f:  # the store's checks: no links
                at = max(offset, os.fstat(f.fileno()).st_size - 64 * 1024)
                f.seek(at)
                raw = f.read()
        except (OSError, LogsvcError):
            return b""
        start = raw.find(b"\n") + 1 if at > offset else 0  # begin at a whole line
        events, _ = lines.split_events(raw[start:], flush=True)  # the one reader of stream lines
        return "".join(lines.time_and_message(ev.text)[1] + "\n" for ev in events).encode()[
            -TAIL_BYTES:
        ]

    def _peak_rss_mb(self) -> int:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(int(line.split()[1]) / 1024 + 0.5)
        except OSError:
            pass
        return 0

    # ---- lifecycle ---------------------------------------------------------------------------

    def kill(self) -> None:
        """End the container now (timeout, crash, reap or shutdown)."""
        if not self.alive:
            return
        self.alive = False
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass

    def shutdown(self, grace: float = 2.0) -> None:
        """Close the control pipe so the runtime exits by itself; kill it after `grace` (Lambda: 2 s)."""
        if not self.alive:
            return
        try:
            os.close(self._to_child)
        except OSError:
            pass
        self._to_child = -1
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        self.kill()


class FunctionPool:
    """The containers of one function: warm ones reused, new ones started up to the concurrency limit."""

    def __init__(
        self,
        fn: Function,
        store: Any,
        endpoint_base: str | None,
        host_env: dict[str, str],
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.fn = fn
        self.store = store
        self.endpoint_base = endpoint_base
        self.host_env = host_env
        self.credentials = credentials
        self.idle: list[Container] = []
        self.busy: set[Container] = set()
        self.starting = 0
        self.cond = threading.Condition()
        self.closed = False

    def acquire(self, wait: float = 0.0) -> tuple[Container, bool]:
        """A container for one invocation and whether it is new (cold).

        :raises TooManyRequests: if none frees up within `wait` seconds at the concurrency limit.
        """
        deadline = time.monotonic() + wait
        with self.cond:
            while True:
                while self.idle:
                    c = (
                        self.idle.pop()
                    )  # most recently used first, so extra ones go idle and get reaped
                    if c.alive:
                        self.busy.add(c)
                        return c, False
                if len(self.busy) + self.starting < self.fn.concurrency and not self.closed:
                    self.starting += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.closed:
                    raise TooManyRequests(
                        f"Rate Exceeded. {self.fn.name} has {self.fn.concurrency} busy containers "
                        f"(its concurrency limit)",
                        field="concurrency",
                        rule=f"at most {self.fn.concurrency} concurrent invocations",
                        hint="Raise 'concurrency' for the function in logsvc.toml, or retry later.",
                    )
                self.cond.wait(remaining)
        try:
            c = Container(self.fn, self.store, self.endpoint_base, self.host_env, self.credentials)
        except BaseException:
            with self.cond:
                self.starting -= 1
                self.cond.notify()
            raise
        with self.cond:
            self.starting -= 1
            self.busy.add(c)
        return c, True

    def release(self, c: Container) -> None:
        with self.cond:
            self.busy.discard(c)
            if c.alive and not self.closed:
                c.last_used = time.monotonic()
                self.idle.append(c)
            self.cond.notify()

    def by_id(self, container_id: str) -> Container | None:
        with self.cond:
            for c in list(self.busy) + self.idle:
                if c.id == container_id:
                    return c
        return None

    def reap(self, idle_timeout: float) -> int:
        """Shut down containers idle longer than `idle_timeout`. Returns how many."""
        now = time.monotonic()
        with self.cond:
            old = [c for c in self.idle if now - c.last_used >= idle_timeout or not c.alive]
            self.idle = [c for c in self.idle if c not in old]
        for c in old:
            c.shutdown(grace=0.5)
        return len(old)

    def close(self) -> None:
        with self.cond:
            self.closed = True
            victims = self.idle + list(self.busy)
            self.idle = []
            self.cond.notify_all()
        for c in victims:
            c.kill()

    def stats(self) -> dict[str, int]:
        with self.cond:
            return {"idle": len(self.idle), "busy": len(self.busy), "starting": self.starting}
