"""The runtime inside one container process: imports the handler and runs invocations one at a time.

Owns the bytes a Python Lambda runtime writes: INIT_START, START, print() and logging output in the
runtime's text (or JSON) format with the request id, uncaught exceptions as awslambdaric reports
them, END and REPORT with measured figures. Lines go straight into the container's stream file
(one `os.write` per line on an O_APPEND descriptor) while the handler runs. Never imports flask,
whoosh or the store: it must start fast, and the parent owns everything else.

Run as `python bootstrap.py` by containers.py. Control protocol (JSON lines on two pipes whose
fd numbers arrive in `_LOGSVC_CONTROL_FDS`):
    child -> parent  {"type": "ready"}
    parent -> child  {"requestId", "payload" (JSON text), "deadlineMs", "clientContext", "functionArn"}
    child -> parent  {"type": "result", "requestId", "ok", "body" (JSON text), "errorType", "durationMs",
                      "maxMemoryMB", "initDurationMs"}
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
import threading
import time
import traceback

_T0 = time.time()
_ENV = os.environ
_SPAWN = float(_ENV.pop("_LOGSVC_SPAWN_TIME", _T0))
_FD_IN, _FD_OUT = (int(x) for x in _ENV.pop("_LOGSVC_CONTROL_FDS").split(","))
_STREAM_FILE = _ENV.pop("_LOGSVC_STREAM_FILE")
_LOGSVC_ROOT = _ENV.pop("_LOGSVC_ROOT", "")

# The handler's code directory comes first on sys.path, as /var/task does on Lambda; this file's own
# directory must not be there (it would shadow user modules named like ours).
sys.path[0] = _ENV.get("LAMBDA_TASK_ROOT", os.getcwd())
if _LOGSVC_ROOT and _LOGSVC_ROOT not in sys.path:
    sys.path.append(_LOGSVC_ROOT)

try:
    from logsvc.lines import format_line
except ImportError:  # pragma: no cover - only while lines.py is missing; same contract

    def format_line(timestamp_ms: int, message: str) -> bytes:
        secs, ms = divmod(int(timestamp_ms), 1000)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
        text = message.replace("\r\n", "\r").replace("\n", "\r")
        return f"{stamp}.{ms:03d}Z {text}\n".encode("utf-8", "replace")


_LOG_FD = os.open(
    _STREAM_FILE, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW
)  # never written through a link
_WRITE_LOCK = threading.Lock()
_request_id: str | None = None
_JSON = _ENV.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON"


def _now_ms() -> int:
    return int(time.time() * 1000)


def emit(message: str, ts: int | None = None) -> None:
    """Append one event (one line) to this container's stream file."""
    data = format_line(_now_ms() if ts is None else ts, message)
    with _WRITE_LOCK:
        os.write(_LOG_FD, data)


class _LineWriter:
    """sys.stdout/sys.stderr: every newline-terminated chunk becomes its own event, as on Lambda."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, name: str) -> None:
        self.name = name
        self._buf = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            self._buf += text
            if "\n" in self._buf:
                *lines, self._buf = self._buf.split("\n")
                for line in lines:
                    emit(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._buf:
                emit(self._buf)
                self._buf = ""

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 1 if self.name == "stdout" else 2

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


def _capture_raw_fds() -> None:
    """Route writes to fd 1/2 (subprocesses, C extensions) into the stream too, line by line."""
    r, w = os.pipe()
    os.dup2(w, 1)
    os.dup2(w, 2)
    os.close(w)

    def pump() -> None:
        buf = b""
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                emit(line.decode("utf-8", "replace"))

    threading.Thread(target=pump, name="fd-pump", daemon=True).start()


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id or ""
        return True


class _Handler(logging.Handler):
    """One logging record = one event, so multi-line messages and tracebacks stay together."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
        except Exception:
            self.handleError(record)
            return
        emit(msg[:-1] if msg.endswith("\n") else msg)


# Attributes every LogRecord has: anything else on a record came from `extra=` and is a field.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "aws_request_id",
    "message",
    "asctime",
}


class _JsonFormatter(logging.Formatter):
    """The shape of awslambdaric's JsonFormatter (LogFormat=JSON): `extra=` keys become top-level
    fields, so `logger.info("paid", extra={"order": 42})` is queryable as `$.order`."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", "") or None,
        }
        if record.exc_info and record.exc_info[0] is not None:
            etype, value, tb = record.exc_info
            out["errorType"] = etype.__name__
            out["errorMessage"] = str(value)
            out["stackTrace"] = traceback.format_tb(tb)
            out["location"] = f"{record.pathname}:{record.funcName}:{record.lineno}"
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and not key.startswith("_") and key not in out:
                out[key] = value
        return json.dumps({k: v for k, v in out.items() if v is not None}, default=str)


def _setup_logging() -> None:
    logging.Formatter.converter = time.gmtime
    handler = _Handler()
    if _JSON:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = _ENV.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if isinstance(
        logging.getLevelName(level), int
    ):  # a level name logging knows (awslambdaric's check)
        root.setLevel(level)


def _runtime_version() -> str:
    return "python:{}.{}.v{}".format(*sys.version_info[:3])


def _init_start_line() -> str:
    arn_hash = hashlib.sha256(
        f"{platform.python_implementation()} {sys.version}".encode()
    ).hexdigest()
    return (
        f"INIT_START Runtime Version: {_runtime_version()}\t"
        f"Runtime Version ARN: arn:aws:lambda:{_ENV.get('AWS_REGION', 'us-east-1')}::runtime:{arn_hash}"
    )


class _Fault(Exception):
    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type, self.message, self.trace = error_type, message, trace


def _load_handler(spec: str):
    """awslambdaric's `_get_handler`, with the same fault types and messages."""
    import importlib

    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as e:
        raise _Fault("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {e}") from None
    if modname.split(".")[0] in sys.builtin_module_names:
        raise _Fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {modname} as a handler module",
        )
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise _Fault(
            "Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}"
        ) from None
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise _Fault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}", trace
        ) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise _Fault(
            "Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'"
        ) from None


def _error_result(
    etype: str, message: str, trace: list[str] | None, request_id: str | None
) -> dict:
    return {
        "errorMessage": message or "",
        "errorType": etype or "",
        "requestId": request_id or "",
        "stackTrace": trace or [],
    }


def _log_error(result: dict) -> None:
    """awslambdaric's text `log_error`: one event, stack lines indented with NO-BREAK SPACEs."""
    if _JSON:
        emit(
            json.dumps(
                {
                    "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "log_level": "ERROR",
                    **result,
                }
            )
        )
        return
    head = "[ERROR]"
    if result.get("errorType"):
        head += " " + result["errorType"]
    if result.get("errorMessage"):
        if result.get("errorType"):
            head += ":"
        head += " " + result["errorMessage"]
    lines = [head]
    stack = result.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            if element == "":
                lines.append("")
                continue
            for line in element.splitlines():
                stripped = line.lstrip(" ")
                lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    emit("\n".join(lines))


def _exception_result(request_id: str | None) -> dict:
    etype, value, tb = sys.exc_info()
    frames = traceback.extract_tb(tb)
    for i, frame in enumerate(frames):
        if not frame.filename.endswith("bootstrap.py"):
            frames = frames[i:]
            break
    return _error_result(
        etype.__name__ if etype else "", str(value), traceback.format_list(frames), request_id
    )


class _Identity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class _ClientContext:
    def __init__(self, data: dict) -> None:
        self.client = data.get("client")
        self.custom = data.get("custom")
        self.env = data.get("env")


class LambdaContext:
    """The `context` argument, with awslambdaric's attribute names."""

    def __init__(
        self, request_id: str, deadline_ms: int, arn: str, client_context: dict | None
    ) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = _ENV.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = _ENV.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = _ENV.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = _ENV.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = _ENV.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = _Identity()
        self.client_context = _ClientContext(client_context) if client_context else None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - _now_ms(), 0)

    def __repr__(self) -> str:
        return f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name}])"


def _max_memory_mb() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 + 0.5)  # Linux: KiB


def _exit_with_parent(parent: int, every: float = 0.05) -> None:
    """End this container once the invoker that started it is gone (kill -9 included): nobody
    would read the invocation's result, and a trigger that checkpoints after its invocation
    (subscription delivery) sends the batch again after a restart, so a handler left running
    would act on it twice. Polls the parent pid: PR_SET_PDEATHSIG follows the spawning thread,
    not the process."""

    def watch() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent:
                os._exit(137)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    global _request_id
    _exit_with_parent(int(_ENV.pop("_LOGSVC_PARENT_PID", "0")) or os.getppid())
    emit(_init_start_line())
    sys.stdout = _LineWriter("stdout")  # type: ignore[assignment]
    sys.stderr = _LineWriter("stderr")  # type: ignore[assignment]
    _capture_raw_fds()
    _setup_logging()
    ctl_in = os.fdopen(_FD_IN, "rb", buffering=1 << 16)
    ctl_out = _FD_OUT

    def send(msg: dict) -> None:
        data = (json.dumps(msg) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(ctl_out, view) :]

    init_error: dict | None = None
    handler = None
    try:
        handler = _load_handler(_ENV["_HANDLER"])
    except _Fault as f:
        init_error = _error_result(f.error_type, f.message, f.trace, None)
    except Exception:
        init_error = _exception_result(None)
    init_ms = (time.time() - _SPAWN) * 1000
    if init_error is not None:
        logging.warning(
            "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code."
        )
        _log_error(init_error)
        emit(
            f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: error"
            f"\tError Type: {init_error['errorType'] or 'Runtime.Unknown'}"
        )
    send({"type": "ready", "initDurationMs": init_ms, "initError": init_error})
    report_init = True

    while True:
        line = ctl_in.readline()
        if not line:
            return
        req = json.loads(line)
        rid = req["requestId"]
        _request_id = rid
        start = time.perf_counter()
        emit(f"START RequestId: {rid} Version: $LATEST")
        body = None
        error: dict | None = None
        if init_error is not None:
            error = dict(init_error, requestId=rid)
            _log_error(error)
        else:
            try:
                event = json.loads(req["payload"]) if req.get("payload") else {}
                ctx = LambdaContext(
                    rid, req["deadlineMs"], req["functionArn"], req.get("clientContext")
                )
                result = handler(event, ctx)
                try:
                    body = json.dumps(result)
                except (TypeError, ValueError) as e:
                    error = _error_result(
                        "Runtime.MarshalError", f"Unable to marshal response: {e}", None, rid
                    )
                    _log_error(error)
            except Exception:
                error = _exception_result(rid)
                _log_error(error)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        duration = (time.perf_counter() - start) * 1000
        mem = _max_memory_mb()
        billed = int(-(-(duration + (init_ms if report_init else 0)) // 1))
        ts = _now_ms()
        emit(f"END RequestId: {rid}", ts)
        report = (
            f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\tBilled Duration: {max(billed, 1)} ms"
            f"\tMemory Size: {_ENV.get('AWS_LAMBDA_FUNCTION_MEMORY_SIZE', '128')} MB\tMax Memory Used: {mem} MB"
        )
        if report_init:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        if init_error is not None:
            # A handler exception is the function's error, not the sandbox's: Lambda's REPORT has no
            # Status for it. A failed init resets the sandbox, which REPORT does show.
            report += f"\tStatus: error\tError Type: {init_error['errorType'] or 'Runtime.Unknown'}"
        emit(report, ts)
        send(
            {
                "type": "result",
                "requestId": rid,
                "ok": error is None,
                "body": body if error is None else json.dumps(error),
                "errorType": error["errorType"] if error else None,
                "durationMs": duration,
                "billedMs": max(billed, 1),
                "maxMemoryMB": mem,
                "initDurationMs": init_ms if report_init else None,
            }
        )
        report_init = False


if __name__ == "__main__":
    main()
