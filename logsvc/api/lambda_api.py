"""The Lambda Invoke API, HTTP-trigger routes, table writes and invocation records over HTTP.

Owns translating requests into invoker calls and results back into Lambda's wire format (status,
`X-Amz-*` headers, `{"Type": "User", "message": ...}` errors with `x-amzn-ErrorType`), API
Gateway's responses under `/http/...`, and forwarding to the process that owns the invoker when
this one does not. Never runs functions, opens data files or imports watchdog, and never checks
credentials: every request here has passed `logsvc.auth` (the public gate, or the internal server's
gate: the per-run forward secret or the functions' own key).

Routes
    POST /2015-03-31/functions/<name>/invocations        Invoke (boto3 `lambda` client)
    POST /_container/<id>/2015-03-31/functions/<name>/invocations
                                                         the same, called from inside a function:
                                                         the container id gives the parent request id
    GET  /2015-03-31/functions/ , /2015-03-31/functions/<name>   ListFunctions, GetFunction
    ANY  /http/<path>                                    API Gateway HTTP API routes (payload 2.0)
    GET|PUT|POST|PATCH|DELETE /api/v1/tables/<table>/items   read / put / batch put / update / delete
    GET  /api/v1/invocations                             invocation records (REST error shape)
    GET  /api/v1/functions                               the project's functions (REST shape)
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from logsvc import auth
from logsvc.api.rest import time_arg
from logsvc.errors import InvalidParameter, LogsvcError, NotFound

bp = Blueprint("lambda_api", __name__)

FORWARDED = auth.FORWARDED
PARENT_HEADER = "X-Logsvc-Parent-Request-Id"
NO_OWNER = "X-Logsvc-No-Owner"
INTERNAL_APP = "logsvc-invoker"
OWNER_WAIT = 10.0  # seconds a non-owner waits for an owner before answering 503
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "te", "trailer", "upgrade"}


def _service() -> Any:
    return current_app.extensions["logsvc"]


def _invoker() -> Any:
    return getattr(_service(), "invoker", None)


# ---- errors in Lambda's shape ---------------------------------------------------------------------------


class LambdaError(Exception):
    """An error the Lambda API reports as `{"Type": ..., "message": ...}` with `x-amzn-ErrorType`."""

    def __init__(self, status: int, code: str, message: str, kind: str = "User", **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.kind, self.extra = status, code, message, kind, extra

    def response(self) -> Response:
        resp = jsonify({"Type": self.kind, "message": self.message, **self.extra})
        resp.status_code = self.status
        resp.headers["x-amzn-ErrorType"] = self.code
        resp.headers["x-amzn-RequestId"] = _request_uuid()
        return resp


@bp.errorhandler(LambdaError)
def _lambda_error(e: LambdaError) -> Response:
    return e.response()


def _request_uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def _as_lambda_error(e: LogsvcError) -> LambdaError:
    code = getattr(e, "code", "ServiceException")
    if isinstance(e, NotFound):
        return LambdaError(404, "ResourceNotFoundException", e.message)
    if code == "TooManyRequestsException":
        return LambdaError(429, code, e.message, Reason="ReservedFunctionConcurrentInvocationLimitExceeded")
    if isinstance(e, InvalidParameter):
        return LambdaError(400, "InvalidParameterValueException", e.message)
    return LambdaError(500, "ServiceException", e.message, kind="Service")


def _no_project() -> LambdaError:
    return LambdaError(
        404,
        "ResourceNotFoundException",
        "Function not found: this logsvc has no project file. Start it with --project logsvc.toml "
        "(or LOGSVC_PROJECT) to define functions.",
    )


# ---- forwarding to the owner process --------------------------------------------------------------------


def _owned(lambda_errors: bool) -> Callable:
    """Run the view in the process that owns the invoker; elsewhere, forward the request there."""

    def deco(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            inv = _invoker()
            if inv is None:
                if lambda_errors:
                    raise _no_project()
                raise NotFound(
                    "this logsvc has no project file, so it has no functions, routes or tables",
                    field="project",
                    hint="Start it with --project logsvc.toml (or LOGSVC_PROJECT).",
                )
            if request.environ.get(auth.FORWARDED_OK) and not inv.owner:
                return _unavailable(lambda_errors)  # the forwarder retries; never forward twice
            # Right after start (or when the owner died) there may be no owner for a moment: wait
            # for one, and try to become it ourselves, rather than failing the request.
            deadline = time.monotonic() + OWNER_WAIT
            while not inv.owner:
                resp = _forward(inv.owner_info(), lambda_errors)
                if resp is not None:
                    return resp
                if time.monotonic() > deadline or inv._try_own():  # noqa: SLF001 - the same election start() runs
                    break
                time.sleep(0.05)
            if not inv.owner:
                return _unavailable(lambda_errors)
            if lambda_errors:
                try:
                    return view(*args, **kwargs)
                except LogsvcError as e:
                    raise _as_lambda_error(e) from None
            return view(*args, **kwargs)

        return wrapper

    return deco


def _unavailable(lambda_errors: bool) -> Response:
    message = "no logsvc process runs functions right now (the owner is restarting); retry in a second"
    if lambda_errors:
        resp = LambdaError(503, "ServiceException", message, kind="Service").response()
    else:
        from logsvc.api.errors import rest_error

        resp = rest_error(503, "Unavailable", message)
    resp.headers[NO_OWNER] = "1"
    return resp


_conns = threading.local()


def _owner_connection(url: str, fresh: bool = False) -> http.client.HTTPConnection:
    """This thread's keep-alive connection to the owner (a new TCP connection per call cost ~5 ms)."""
    conn = getattr(_conns, "conn", None)
    if fresh or conn is None or getattr(_conns, "url", None) != url:
        if conn is not None:
            conn.close()
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=960)
        _conns.conn, _conns.url = conn, url
    return conn


def _forward(owner: dict | None, lambda_errors: bool) -> Response | None:
    """Relay the request to the owner; None when no owner answered (the caller waits and retries).

    The owner's forward secret replaces the client's credentials (which this worker's gate already
    checked and which are not relayed); the client's Host travels in X-Logsvc-Forwarded-Host.
    """
    url = (owner or {}).get("url")
    secret = (owner or {}).get("forwardSecret")
    if not url or not secret:
        return None
    drop = HOP_HEADERS | {auth.FORWARDED.lower(), auth.FORWARDED_HOST.lower(), "x-forwarded-for"}
    if request.environ.get(auth.CONSUMED):
        drop = drop | {"authorization"}
    headers = {k: v for k, v in request.headers.items() if k.lower() not in drop}
    headers[FORWARDED] = secret
    headers[auth.FORWARDED_HOST] = request.host
    headers["X-Forwarded-For"] = request.remote_addr or ""
    # Forward the path as the client sent it (still percent-encoded); request.path is decoded.
    path = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or (
        urllib.parse.quote(request.path) + ("?" + request.query_string.decode("latin-1") if request.query_string else "")
    )
    body = request.get_data()
    upstream = None
    for fresh in (False, True):  # a kept-alive connection may have been closed by the owner meanwhile
        conn = _owner_connection(url, fresh)
        try:
            conn.request(request.method, path, body=body, headers=headers)
            upstream = conn.getresponse()
            data = upstream.read()
            break
        except (http.client.HTTPException, BrokenPipeError, ConnectionResetError):
            conn.close()
            if fresh:
                return None
        except OSError:
            conn.close()
            return None
    if upstream is None or (upstream.status == 503 and upstream.getheader(NO_OWNER)):
        return None
    body = data
    resp = Response(body, status=upstream.status)
    for k, v in upstream.getheaders():
        if k.lower() not in HOP_HEADERS and k.lower() not in ("server", "date"):
            if k.lower() == "content-type":
                resp.headers["Content-Type"] = v
            else:
                resp.headers.add(k, v)
    return resp


# ---- Invoke ------------------------------------------------------------------------------------------------


def _function_name(raw: str) -> tuple[str, str | None]:
    """Accept a name, a full ARN or a partial ARN (`123456789012:function:name`), with a qualifier."""
    name, qualifier = raw, None
    if ":function:" in raw:
        name = raw.split(":function:", 1)[1]
    elif raw.startswith("function:"):
        name = raw[len("function:"):]
    if ":" in name:
        name, qualifier = name.split(":", 1)
    return name, qualifier or request.args.get("Qualifier")


def _client_context() -> dict | None:
    raw = request.headers.get("X-Amz-Client-Context")
    if not raw:
        return None
    try:
        value = json.loads(base64.b64decode(raw))
    except (ValueError, binascii.Error):
        raise LambdaError(400, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object.") from None
    if len(raw) > 3583:
        raise LambdaError(400, "InvalidParameterValueException", "Client context must be at most 3583 bytes (base64).")
    return value if isinstance(value, dict) else None


@bp.route("/2015-03-31/functions/<path:name>/invocations", methods=["POST"])
@bp.route("/_container/<container>/2015-03-31/functions/<path:name>/invocations", methods=["POST"])
def invoke(name: str, container: str | None = None) -> Response:
    """Lambda's Invoke: RequestResponse (200, even when the function fails), Event (202), DryRun (204)."""
    return _invoke_owned(name, container)


@_owned(lambda_errors=True)
def _invoke_owned(name: str, container: str | None = None) -> Response:
    inv = _invoker()
    fname, qualifier = _function_name(name)
    if qualifier not in (None, "$LATEST"):
        raise LambdaError(
            404, "ResourceNotFoundException",
            f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{fname}:{qualifier} "
            "(logsvc runs $LATEST only)",
        )
    kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if kind not in ("RequestResponse", "Event", "DryRun"):
        raise LambdaError(400, "InvalidParameterValueException", f"Unsupported InvocationType {kind!r}: use RequestResponse, Event or DryRun.")
    payload = request.get_data()
    limit = MAX_ASYNC_PAYLOAD if kind == "Event" else MAX_SYNC_PAYLOAD
    if len(payload) > limit:
        raise LambdaError(413, "RequestTooLargeException", f"Request must be smaller than {limit} bytes for the InvokeFunction operation")
    if payload.strip():
        try:
            json.loads(payload)
        except ValueError as e:
            raise LambdaError(400, "InvalidRequestContentException", f"Could not parse request body into json: {e}") from None
    client_context = _client_context()
    parent = None
    if container:
        parent = inv.parent_of_container(container)
    parent = parent or request.headers.get(PARENT_HEADER) or ((client_context or {}).get("custom") or {}).get("parentRequestId")
    trigger: dict[str, Any] = {"type": "api"}
    if kind == "DryRun":
        inv.dry_run(fname)
        resp = Response(status=204)
        resp.headers["x-amzn-RequestId"] = _request_uuid()
        return resp
    if kind == "Event":
        rid = inv.invoke_async(fname, payload, trigger=trigger, parent=parent, client_context=client_context)
        resp = Response(status=202)
        resp.headers["x-amzn-RequestId"] = rid
        return resp
    outcome = inv.invoke_sync(fname, payload, trigger=trigger, parent=parent, client_context=client_context)
    resp = Response(outcome.body, status=200, content_type="application/json")
    resp.headers["X-Amz-Executed-Version"] = "$LATEST"
    resp.headers["x-amzn-RequestId"] = outcome.request_id
    if outcome.function_error:
        resp.headers["X-Amz-Function-Error"] = outcome.function_error
    if request.headers.get("X-Amz-Log-Type") == "Tail":
        resp.headers["X-Amz-Log-Result"] = base64.b64encode(outcome.log_tail).decode()
    return resp


@bp.route("/2015-03-31/functions/", methods=["GET"])
@bp.route("/2015-03-31/functions", methods=["GET"])
def list_functions() -> Response:
    """ListFunctions (one page: a local project is small)."""
    inv = _invoker()
    fns = [] if inv is None else [f.to_json() for f in inv.project.functions.values()]
    return jsonify({"Functions": fns, "NextMarker": None})


@bp.route("/2015-03-31/functions/<name>", methods=["GET"])
def get_function(name: str) -> Response:
    """GetFunction: the configuration (no code location)."""
    inv = _invoker()
    if inv is None:
        raise _no_project()
    fname, _ = _function_name(name)
    try:
        fn = inv.function(fname)
    except NotFound as e:
        raise _as_lambda_error(e) from None
    return jsonify({"Configuration": {**fn.to_json(), "State": "Active"}, "Code": {"RepositoryType": "S3"}})


# ---- HTTP triggers (API Gateway HTTP API) -------------------------------------------------------------------

HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@bp.route("/http", defaults={"path": ""}, methods=HTTP_METHODS)
@bp.route("/http/", defaults={"path": ""}, methods=HTTP_METHODS)
@bp.route("/http/<path:path>", methods=HTTP_METHODS)
def http_trigger(path: str) -> Response:
    """API Gateway in front of the project's routes: `/http/items/1` is route `GET /items/{id}`."""
    inv = _invoker()
    if inv is None:
        return _apigw(404, "Not Found")
    return _http_owned(path)


@_owned(lambda_errors=False)
def _http_owned(path: str) -> Response:
    from logsvc.invoker.containers import TooManyRequests
    from logsvc.invoker.triggers import http_event, http_response

    inv = _invoker()
    raw_path = "/" + path
    match = inv.triggers.router.match(request.method, raw_path)
    if match is None:
        return _apigw(404, "Not Found")
    route, params = match
    source_ip = request.remote_addr or "127.0.0.1"  # a verified forward restored the client's (logsvc.auth)
    drop = {FORWARDED.lower(), auth.FORWARDED_HOST.lower(), "x-forwarded-for"}
    if request.environ.get(auth.CONSUMED):
        drop.add("authorization")  # logsvc's own token or signature is not the function's business
    headers = {k: v for k, v in request.headers.items() if k.lower() not in drop}
    event = http_event(
        route, params, request.method, raw_path, request.query_string.decode("latin-1"), headers,
        request.get_data(), source_ip,
    )
    trigger = {"type": "http", "routeKey": event["routeKey"], "path": raw_path}
    try:
        outcome = inv.invoke_sync(route.function, json.dumps(event).encode(), trigger=trigger)
    except TooManyRequests:
        return _apigw(500, "Internal Server Error")
    status, out_headers, body = http_response(outcome.body, outcome.function_error is not None)
    resp = Response(body, status=status)
    for k, v in out_headers:
        if k.lower() == "content-type":
            resp.headers["Content-Type"] = v
        else:
            resp.headers.add(k, v)
    resp.headers["apigw-requestid"] = event["requestContext"]["requestId"]
    return resp


def _apigw(status: int, message: str) -> Response:
    resp = jsonify({"message": message})
    resp.status_code = status
    return resp


# ---- tables ------------------------------------------------------------------------------------------------


def _json_body() -> Any:
    try:
        return json.loads(request.get_data() or b"null")
    except ValueError as e:
        raise InvalidParameter(f"request body is not valid JSON: {e}", field="body", rule="JSON") from None


@bp.route("/api/v1/tables/<table>/items", methods=["GET", "PUT", "POST", "PATCH", "DELETE"])
@_owned(lambda_errors=False)
def table_items(table: str) -> Response:
    """PUT one item, POST {"items": [...]} (one atomic batch), PATCH {"key", "set", "remove"},
    DELETE {"key"}, GET every item. Each change becomes a stream record for the table's consumers."""
    t = _invoker().triggers.table(table)
    if request.method == "GET":
        return jsonify({"items": t.scan()})
    body = _json_body()
    if request.method == "PUT":
        if not isinstance(body, dict):
            raise InvalidParameter("PUT takes one item as a JSON object", field="body", rule="JSON object")
        return jsonify({"written": t.put([body])})
    if request.method == "POST":
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise InvalidParameter('POST takes {"items": [...]}', field="items", rule="JSON array of objects")
        return jsonify({"written": t.put(items)})
    if not isinstance(body, dict) or not isinstance(body.get("key"), dict):
        raise InvalidParameter(f'{request.method} takes {{"key": {{...}}}}', field="key", rule="JSON object")
    if request.method == "PATCH":
        set_ = body.get("set") or {}
        remove = body.get("remove") or []
        if not isinstance(set_, dict) or not isinstance(remove, list):
            raise InvalidParameter('"set" is an object and "remove" a list of attribute names', field="set")
        return jsonify({"item": t.update(body["key"], set_, remove)})
    return jsonify({"deleted": t.delete(body["key"])})


# ---- invocation records and functions (REST) ----------------------------------------------------------------


@bp.route("/api/v1/invocations", methods=["GET"])
def list_invocations() -> Response:
    """Invocation records, oldest first: filter by function, status, start/end (ms or ISO), parent
    (parentRequestId), requestId; page with limit (1..1000) and nextToken."""
    from logsvc.invoker.records import RecordLog

    svc = _service()
    inv = getattr(svc, "invoker", None)
    records = inv.records if inv is not None else RecordLog(svc.store)
    try:
        limit = int(request.args.get("limit", "100"))
    except ValueError:
        raise InvalidParameter("limit must be an integer", field="limit", rule="1..1000") from None
    result = records.query(
        function=request.args.get("function") or None,
        status=request.args.get("status") or None,
        start=time_arg("start"),
        end=time_arg("end"),
        parent=request.args.get("parent") or request.args.get("parentRequestId") or None,
        request_id=request.args.get("requestId") or None,
        limit=limit,
        next_token=request.args.get("nextToken") or None,
    )
    return jsonify(result)


@bp.route("/api/v1/functions", methods=["GET"])
def list_functions_rest() -> Response:
    """The project's functions with their triggers and (in the owner) live container counts."""
    inv = _invoker()
    if inv is None:
        return jsonify({"functions": [], "project": None})
    project = inv.project
    out = []
    for fn in project.functions.values():
        pool = inv.pools.get(fn.name)
        out.append({
            "name": fn.name,
            "handler": fn.handler,
            "memory": fn.memory,
            "timeout": fn.timeout,
            "concurrency": fn.concurrency,
            "logGroup": fn.log_group,
            "routes": [f"{r.method} {r.path}" for r in project.routes if r.function == fn.name],
            "publicRoutes": [f"{r.method} {r.path}" for r in project.routes if r.function == fn.name and r.public],
            "buckets": [
                {"bucket": t.bucket, "prefix": t.prefix, "suffix": t.suffix}
                for t in project.bucket_triggers if t.function == fn.name
            ],
            "tables": [
                {"table": t.table, "batchSize": t.batch_size, "batchingWindow": t.batching_window}
                for t in project.table_triggers if t.function == fn.name
            ],
            "onFailure": fn.on_failure,
            "containers": pool.stats() if pool is not None else None,
        })
    return jsonify({"functions": out, "project": str(project.path)})


# ---- the owner's internal server ---------------------------------------------------------------------------


def create_internal_app(invoker: Any) -> Flask:
    """The owner's loopback server: this blueprint only, for containers and forwarding workers."""
    from types import SimpleNamespace

    from werkzeug.exceptions import HTTPException

    from logsvc.api.errors import error_response, rest_error

    app = Flask(INTERNAL_APP, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 8 * 1024 * 1024
    app.json.sort_keys = False
    app.extensions["logsvc"] = SimpleNamespace(settings=invoker.settings, store=invoker.store, invoker=invoker)
    app.register_blueprint(bp)
    @app.before_request
    def _gate() -> Response | None:
        return auth.internal_gate(request, invoker.forward_secret, invoker.function_credentials)

    @app.errorhandler(LogsvcError)
    def _logsvc_error(e: LogsvcError) -> Response:
        return error_response(e)

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Response:
        return rest_error(e.code or 500, "BadRequest" if (e.code or 500) < 500 else "InternalError", e.description or e.name)

    return app


def now_ms() -> int:
    return int(time.time() * 1000)
