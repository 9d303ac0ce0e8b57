"""Invocations: synchronous, asynchronous (queue, retries, event age, destinations) and DryRun.

Owns which process runs functions (the one holding `<data>/invoker/.lock`; the others forward to
it), the async queue and its retry schedule, destinations, idle reaping, and one invocation
record per attempt. Containers write the function's lines; this module never writes a function's
stream except through containers.py, and never touches the index.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from logsvc import locks, safeio
from logsvc.errors import InvalidParameter
from logsvc.invoker.containers import FunctionPool, Outcome, TooManyRequests
from logsvc.invoker.functions import Function, Project
from logsvc.invoker.records import RecordLog, compact_event
from logsvc.invoker.triggers import Triggers

log = logging.getLogger("logsvc.invoker")

SYSTEM_GROUP = "/logsvc/invoker"
SYSTEM_STREAM = "events"
THROTTLE_RETRY = 0.25  # seconds before a throttled async event is tried again (not an attempt)


class QueueFull(TooManyRequests):
    """The async queue holds its byte bound; Invoke answers 429 TooManyRequestsException."""


class LoopbackServer(Protocol):
    """The owner's loopback HTTP server, serving the Lambda API to containers and forwarding workers.

    The API layer builds it (`logsvc.api.internal.InternalServer`) and the wiring injects it: the
    invoker sits below HTTP and never imports it.
    """

    url: str

    def close(self) -> None: ...


StartServer = Callable[["Invoker"], LoopbackServer]


def new_request_id() -> str:
    return str(uuid.uuid4())


@dataclass
class AsyncEvent:
    """An event in the async queue: one request id for every attempt, as Lambda keeps it."""

    request_id: str
    function: str
    payload: bytes
    enqueued_ms: int
    trigger: dict[str, Any]
    parent: str | None = None
    client_context: dict | None = None
    attempt: int = 1
    last: Outcome | None = None


@dataclass(order=True)
class _Due:
    due: float
    seq: int
    event: AsyncEvent = field(compare=False)


class Invoker:
    """Runs the project's functions. `start()` elects the owner process; `close()` ends every container."""

    def __init__(
        self,
        settings: Any,
        store: Any,
        project: Project,
        host_env: dict[str, str] | None = None,
        *,
        start_server: StartServer,
    ) -> None:
        self.settings = settings
        self.store = store
        self.project = project
        self.records = RecordLog(store)
        self.data_root = Path(settings.data_dir).resolve()
        self.dir = self.data_root / "invoker"
        self.host_env = dict(os.environ if host_env is None else host_env)
        self.pools: dict[str, FunctionPool] = {}
        self.internal_url: str | None = None
        self.owner = False
        self.triggers: Any = None
        self._lock_fd: int | None = None
        self._lock_warned = False
        self._start_server = start_server
        self._server: LoopbackServer | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._heap: list[_Due] = []
        self._heap_cond = threading.Condition()
        self._seq = itertools.count()
        self._executor: ThreadPoolExecutor | None = None
        self._role_lock = threading.Lock()
        self._system_ready = False
        # Minted per run by the owner (logsvc.auth): workers relay with the forward secret; functions
        # sign with their own key, which opens Invoke on the internal server and nothing else.
        self.forward_secret = ""
        self.function_credentials = ("", "")
        self._owner_cache: tuple[Any, dict] | None = None
        self._queue_limit = int(getattr(settings, "async_queue_bytes", 64 * 1024 * 1024))
        self._queued_bytes = 0

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Invoker:
        """Become the owner if no other process is; otherwise keep trying once a second (failover)."""
        with safeio.under(self.data_root, "invoker", create=True):
            pass
        if not self.try_own():
            t = threading.Thread(target=self._election, name="invoker-election", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _election(self) -> None:
        while not self._stop.wait(1.0):
            if self.try_own():
                return

    def try_own(self) -> bool:
        """Take the owner role now if nobody holds it: a request waiting for an owner runs the same
        election as start(), rather than waiting for the next second."""
        return self._try_own()

    def _try_own(self) -> bool:
        with self._role_lock:
            if self.owner:
                return True
            if self._stop.is_set():
                return False
            try:
                fd = locks.try_hold(self.data_root, *locks.INVOKER)
            except OSError as e:
                if not self._lock_warned:
                    self._lock_warned = True
                    log.error("invoker: cannot take invoker/.lock in the data directory: %s", e)
                return False
            if fd is None:
                return False
            self._lock_fd = fd
            self._become_owner()
            self.owner = True
            return True

    def _become_owner(self) -> None:
        # The owner listens on its own loopback port: containers call the Invoke API there (the
        # public port may be shared by several gunicorn workers), and other workers forward to it.
        self._server = self._start_server(self)
        self.internal_url = self._server.url
        self.forward_secret = secrets.token_urlsafe(32)
        self.function_credentials = (
            "LOGSVCFN" + secrets.token_hex(6).upper(),
            secrets.token_urlsafe(30),
        )
        # owner.json holds the address and the forward secret: private (safeio's 0600), replaced whole
        owner = {"pid": os.getpid(), "url": self.internal_url, "forwardSecret": self.forward_secret}
        with safeio.under(self.data_root, "invoker") as dfd:
            safeio.write_atomic(dfd, "owner.json", json.dumps(owner).encode())
        creds = self.function_credentials
        for fn in self.project.functions.values():
            self.pools[fn.name] = FunctionPool(
                fn, self.store, self.internal_url, self.host_env, creds
            )
        self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="invoker-async")
        for target, name in ((self._dispatch, "invoker-queue"), (self._reaper, "invoker-reaper")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        self.triggers = Triggers(self)
        self.triggers.start()
        log.info(
            "invoker: running %d functions; internal endpoint %s",
            len(self.pools),
            self.internal_url,
        )

    def close(self) -> None:
        """Stop triggers, the queue and every container; release the owner lock."""
        self._stop.set()
        with self._heap_cond:
            self._heap_cond.notify_all()
        if self.triggers is not None:
            self.triggers.close()
        if self._server is not None:
            self._server.close()
        for pool in self.pools.values():
            pool.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()
        if self._lock_fd is not None:
            try:
                with safeio.under(self.data_root, "invoker") as dfd:
                    os.unlink("owner.json", dir_fd=dfd)
            except OSError:
                pass
            finally:
                locks.release(self._lock_fd)
                self._lock_fd = None
        self.owner = False

    def owner_url(self) -> str | None:
        """Where the owning process listens, for a non-owner to forward to (None if nobody owns)."""
        return (self.owner_info() or {}).get("url")

    def owner_info(self) -> dict | None:
        """{"url", "forwardSecret", "pid"} of the owning process (None if nobody owns). Re-read when
        owner.json changes (a new owner mints a new secret)."""
        if self.owner:
            return {
                "url": self.internal_url,
                "forwardSecret": self.forward_secret,
                "pid": os.getpid(),
            }
        try:
            with safeio.under(self.data_root, "invoker") as dfd:
                fd = safeio.open_file(dfd, "owner.json")
                try:
                    st = os.fstat(fd)
                    cached = self._owner_cache
                    if cached is not None and cached[0] == (st.st_mtime_ns, st.st_ino):
                        return cached[1]
                    info = json.loads(safeio.read_fd(fd, 4096))
                finally:
                    os.close(fd)
            if not isinstance(info, dict) or "url" not in info:
                return None
        except (OSError, ValueError):
            return None
        self._owner_cache = ((st.st_mtime_ns, st.st_ino), info)
        return info

    # ---- invoking ---------------------------------------------------------------------------------

    def function(self, name: str) -> Function:
        """:raises NotFound:"""
        return self.project.function(name)

    def parent_of_container(self, container_id: str) -> str | None:
        """The request id a container is running now: the parent of any Invoke it makes."""
        for pool in self.pools.values():
            c = pool.by_id(container_id)
            if c is not None:
                return c.current_request
        return None

    def invoke_sync(
        self,
        name: str,
        payload: bytes,
        *,
        trigger: dict[str, Any] | None = None,
        parent: str | None = None,
        client_context: dict | None = None,
        wait: float = 0.0,
        request_id: str | None = None,
    ) -> Outcome:
        """RequestResponse: run now in a warm or new container.

        :raises NotFound: unknown function. :raises TooManyRequests: at the concurrency limit.
        """
        fn = self.function(name)
        return self._run(
            fn,
            request_id or new_request_id(),
            payload,
            "RequestResponse",
            1,
            trigger or {"type": "api"},
            parent,
            client_context,
            wait,
        )

    def invoke_async(
        self,
        name: str,
        payload: bytes,
        *,
        trigger: dict[str, Any] | None = None,
        parent: str | None = None,
        client_context: dict | None = None,
    ) -> str:
        """Event: queue the event and return its request id at once.

        :raises NotFound: :raises TooManyRequests: when the queue already holds `async_queue_bytes`
            of payloads (Lambda throttles an overfull async queue the same way).
        """
        self.function(name)
        ev = AsyncEvent(
            new_request_id(),
            name,
            payload,
            int(time.time() * 1000),
            trigger or {"type": "api"},
            parent,
            client_context,
        )
        size = len(payload) + 1024  # the event's own bookkeeping
        with self._heap_cond:
            if self._queued_bytes + size > self._queue_limit:
                raise QueueFull(
                    f"the async invocation queue holds {self._queued_bytes} bytes of events (limit "
                    f"{self._queue_limit}, --async-queue-bytes); retry later",
                )
            self._queued_bytes += size
        self._schedule(ev, 0.0)
        return ev.request_id

    def _release(self, ev: AsyncEvent) -> None:
        """An async event left the queue for good (done, expired or given up)."""
        with self._heap_cond:
            self._queued_bytes = max(0, self._queued_bytes - (len(ev.payload) + 1024))

    def dry_run(self, name: str) -> None:
        """DryRun: only check that the function exists. :raises NotFound:"""
        self.function(name)

    def _run(
        self,
        fn: Function,
        request_id: str,
        payload: bytes,
        invocation_type: str,
        attempt: int,
        trigger: dict[str, Any],
        parent: str | None,
        client_context: dict | None,
        wait: float,
    ) -> Outcome:
        pool = self.pools.get(fn.name)
        if pool is None:
            raise InvalidParameter(
                "this process does not run functions; its request should have been forwarded to the owner",
                hint="Retry; another logsvc worker owns the invoker.",
            )
        base = {
            "requestId": request_id,
            "function": fn.name,
            "attempt": attempt,
            "invocationType": invocation_type,
            "trigger": trigger,
            "event": compact_event(payload),
            "parentRequestId": parent,
            "logGroup": fn.log_group,
        }
        try:
            container, cold = pool.acquire(wait)
        except TooManyRequests as e:
            now = int(time.time() * 1000)
            self.records.append(
                {**base, "status": "throttled", "start": now, "end": now, "errorType": e.code}
            )
            raise
        try:
            outcome = container.invoke(request_id, payload, client_context)
        finally:
            pool.release(container)
        error_message = None
        if outcome.status != "success":
            try:
                error_message = json.loads(outcome.body).get("errorMessage")
            except (ValueError, AttributeError):
                pass
        self.records.append(
            {
                **base,
                "status": outcome.status,
                "logStream": outcome.stream,
                "start": outcome.start_ms,
                "end": outcome.end_ms,
                "durationMs": round(outcome.duration_ms, 2),
                "billedDurationMs": outcome.billed_ms,
                "initDurationMs": None
                if outcome.init_duration_ms is None
                else round(outcome.init_duration_ms, 2),
                "coldStart": cold,
                "maxMemoryUsedMB": outcome.max_memory_mb,
                "errorType": outcome.error_type,
                "errorMessage": error_message,
            }
        )
        return outcome

    # ---- the async queue --------------------------------------------------------------------------

    def _schedule(self, ev: AsyncEvent, delay: float) -> None:
        with self._heap_cond:
            heapq.heappush(self._heap, _Due(time.monotonic() + delay, next(self._seq), ev))
            self._heap_cond.notify()

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            with self._heap_cond:
                while not self._stop.is_set():
                    now = time.monotonic()
                    if self._heap and self._heap[0].due <= now:
                        ev = heapq.heappop(self._heap).event
                        break
                    self._heap_cond.wait(self._heap[0].due - now if self._heap else None)
                else:
                    return
            try:
                assert self._executor is not None
                self._executor.submit(self._run_async, ev)
            except RuntimeError:
                return  # shutting down

    def _run_async(self, ev: AsyncEvent) -> None:
        requeued = False
        try:
            requeued = self._attempt(ev)
        except Exception:
            log.exception("async invocation of %s failed inside logsvc", ev.function)
        finally:
            if not requeued:
                self._release(ev)

    def _attempt(self, ev: AsyncEvent) -> bool:
        """One attempt; True when the event went back to the queue (throttled or to be retried)."""
        delay = self._try(ev)
        if delay is None:
            return False
        self._schedule(ev, delay)
        return True

    def invoke_event(
        self, name: str, payload: bytes, *, trigger: dict[str, Any], stop: threading.Event
    ) -> AsyncEvent | None:
        """An Event invocation carried to its end in the caller's thread: the same attempts, retry
        delays, event age and destinations as the queue (`_try`), but the caller learns when the
        event is done with, so a trigger can checkpoint after it (subscription delivery does).
        Returns the event (`last` is the final outcome, None if it expired), or None if `stop`
        was set first. :raises NotFound:"""
        self.function(name)
        ev = AsyncEvent(new_request_id(), name, payload, int(time.time() * 1000), trigger)
        while not stop.is_set():
            delay = self._try(ev)
            if delay is None:
                return ev
            stop.wait(delay)
        return None

    def _try(self, ev: AsyncEvent) -> float | None:
        """One attempt: None when the event is done with (success, expired or given up), else the
        seconds before the next try (a throttle, which is not an attempt, or a retry)."""
        fn = self.function(ev.function)
        age = time.time() - ev.enqueued_ms / 1000
        if age > fn.max_event_age:
            self._expire(fn, ev, age)
            return None
        trigger = ev.trigger if ev.attempt == 1 else {**ev.trigger, "retryOf": ev.request_id}
        try:
            outcome = self._run(
                fn,
                ev.request_id,
                ev.payload,
                "Event",
                ev.attempt,
                trigger,
                ev.parent,
                ev.client_context,
                0.0,
            )
        except TooManyRequests:
            return THROTTLE_RETRY  # throttles go back to the queue; not an attempt
        ev.last = outcome
        if outcome.status == "success":
            if fn.on_success:
                self._destination(fn, ev, fn.on_success, "Success")
            return None
        if ev.attempt <= fn.max_retries:
            delay = fn.retry_delays[min(ev.attempt - 1, len(fn.retry_delays) - 1)]
            ev.attempt += 1
            return delay
        if fn.on_failure:
            self._destination(fn, ev, fn.on_failure, "RetriesExhausted")
        return None

    def _expire(self, fn: Function, ev: AsyncEvent, age: float) -> None:
        now = int(time.time() * 1000)
        self.system_line(
            f"Dropped event {ev.request_id} for function {fn.name}: its age {age:.1f} s exceeds "
            f"max_event_age {fn.max_event_age:g} s after {ev.attempt - 1} attempt(s)"
        )
        self.records.append(
            {
                "requestId": ev.request_id,
                "function": fn.name,
                "attempt": ev.attempt,
                "status": "expired",
                "invocationType": "Event",
                "trigger": ev.trigger,
                "event": compact_event(ev.payload),
                "parentRequestId": ev.parent,
                "logGroup": fn.log_group,
                "start": now,
                "end": now,
            }
        )
        if fn.on_failure:
            self._destination(fn, ev, fn.on_failure, "EventAgeExceeded")

    def _destination(self, fn: Function, ev: AsyncEvent, target: str, condition: str) -> None:
        """Send Lambda's invocation record to a destination function (asynchronously)."""
        last = ev.last
        try:
            request_payload = json.loads(ev.payload) if ev.payload else None
        except ValueError:
            request_payload = ev.payload.decode("utf-8", "replace")
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            + f".{int(time.time() * 1000) % 1000:03d}Z",
            "requestContext": {
                "requestId": ev.request_id,
                "functionArn": fn.arn + ":$LATEST",
                "condition": condition,
                "approximateInvokeCount": ev.attempt if last is not None else ev.attempt - 1,
            },
            "requestPayload": request_payload,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        }
        if last is not None:
            if last.function_error:
                record["responseContext"]["functionError"] = last.function_error
            try:
                record["responsePayload"] = json.loads(last.body)
            except ValueError:
                record["responsePayload"] = last.body.decode("utf-8", "replace")
        trigger = {"type": "destination", "source": fn.name, "condition": condition}
        try:
            self.invoke_async(
                target, json.dumps(record).encode(), trigger=trigger, parent=ev.request_id
            )
        except QueueFull:
            self.system_line(
                f"Dropped the {condition} destination record of {ev.request_id} for {target}: the async queue is full"
            )

    def system_line(self, message: str) -> None:
        """One line in the invoker's own stream (`/logsvc/invoker`): what it dropped and why."""
        if not self._system_ready:
            self.store.ensure_stream(SYSTEM_GROUP, SYSTEM_STREAM)
            self._system_ready = True
        self.store.append_events(SYSTEM_GROUP, SYSTEM_STREAM, [(int(time.time() * 1000), message)])

    # ---- reaping ------------------------------------------------------------------------------------

    def _reaper(self) -> None:
        idle = self.project.idle_timeout
        interval = min(max(idle / 4, 0.05), 5.0)
        while not self._stop.wait(interval):
            for pool in self.pools.values():
                try:
                    pool.reap(idle)
                except Exception:
                    log.exception("reaping %s failed", pool.fn.name)


def create_invoker(
    settings: Any, store: Any, start_server: StartServer | None = None
) -> Invoker | None:
    """The invoker for the project file, or None when there is none.

    The CLI resolves `./logsvc.toml` into `settings.project` when present; this reads no environment.
    `start_server` builds the owner's loopback server (the API layer's; see `LoopbackServer`).
    :raises InvalidParameter: for a bad project file (naming the file, the key and the rule).
    """
    from logsvc.invoker.functions import load_project

    path = getattr(settings, "project", None)
    if path is None:
        return None
    if start_server is None:
        raise TypeError(
            "a project needs the owner's internal server: pass logsvc.api.internal.InternalServer"
        )
    project = load_project(path, settings.data_dir)
    return Invoker(settings, store, project, start_server=start_server)
