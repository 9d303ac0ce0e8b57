"""The Lambda API: Invoke, ListFunctions and GetFunction, in Lambda's wire format.

Owns translating those requests into invoker calls and results back into Lambda's wire format
(status, `X-Amz-*` headers) and Lambda's error shape: `{"Type": "User", "message": ...}` with
`x-amzn-ErrorType`, written only by `LambdaError.response()` (api/errors.py, beside the other error
writers; `logsvc.auth` uses it for refusals).
Never runs functions, opens data files or checks credentials: every request here has passed
`logsvc.auth` (the public gate, or the internal server's gate: the per-run forward secret or the
functions' own key). A request that needs the invoker runs in its owner (`forward.owned`).

Routes
    POST /2015-03-31/functions/<name>/invocations        Invoke (boto3 `lambda` client)
    POST /_container/<id>/2015-03-31/functions/<name>/invocations
                                                         the same, called from inside a function:
                                                         the container id gives the parent request id
    GET  /2015-03-31/functions/ , /2015-03-31/functions/<name>   ListFunctions, GetFunction
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

from flask import Blueprint, Response, jsonify, request

from logsvc.api.errors import LambdaError
from logsvc.api.forward import ErrorShape, current_invoker, owned
from logsvc.errors import InvalidParameter, LogsvcError, NotFound

bp = Blueprint("lambda_api", __name__)

PARENT_HEADER = "X-Logsvc-Parent-Request-Id"
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024


# ---- errors in Lambda's shape ---------------------------------------------------------------------------


@bp.errorhandler(LambdaError)
def _lambda_error(e: LambdaError) -> Response:
    return e.response()


def _as_lambda_error(e: LogsvcError) -> LambdaError:
    code = getattr(e, "code", "ServiceException")
    if isinstance(e, NotFound):
        return LambdaError(404, "ResourceNotFoundException", e.message)
    if code == "TooManyRequestsException":
        return LambdaError(
            429, code, e.message, Reason="ReservedFunctionConcurrentInvocationLimitExceeded"
        )
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


LAMBDA = ErrorShape(
    no_project=_no_project,
    unavailable=lambda message: LambdaError(
        503, "ServiceException", message, kind="Service"
    ).response(),
    translate=_as_lambda_error,
)


# ---- Invoke ------------------------------------------------------------------------------------------------


def _function_name(raw: str) -> tuple[str, str | None]:
    """Accept a name, a full ARN or a partial ARN (`123456789012:function:name`), with a qualifier."""
    name, qualifier = raw, None
    if ":function:" in raw:
        name = raw.split(":function:", 1)[1]
    elif raw.startswith("function:"):
        name = raw[len("function:") :]
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
        raise LambdaError(
            400,
            "InvalidRequestContentException",
            "Client context must be a valid Base64-encoded JSON object.",
        ) from None
    if len(raw) > 3583:
        raise LambdaError(
            400,
            "InvalidParameterValueException",
            "Client context must be at most 3583 bytes (base64).",
        )
    return value if isinstance(value, dict) else None


@bp.route("/2015-03-31/functions/<path:name>/invocations", methods=["POST"])
@bp.route("/_container/<container>/2015-03-31/functions/<path:name>/invocations", methods=["POST"])
def invoke(name: str, container: str | None = None) -> Response:
    """Lambda's Invoke: RequestResponse (200, even when the function fails), Event (202), DryRun (204)."""
    return _invoke_owned(name, container)


@owned(LAMBDA)
def _invoke_owned(name: str, container: str | None = None) -> Response:
    inv = current_invoker()
    fname, qualifier = _function_name(name)
    if qualifier not in (None, "$LATEST"):
        raise LambdaError(
            404,
            "ResourceNotFoundException",
            f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{fname}:{qualifier} "
            "(logsvc runs $LATEST only)",
        )
    kind = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if kind not in ("RequestResponse", "Event", "DryRun"):
        raise LambdaError(
            400,
            "InvalidParameterValueException",
            f"Unsupported InvocationType {kind!r}: use RequestResponse, Event or DryRun.",
        )
    payload = request.get_data()
    limit = MAX_ASYNC_PAYLOAD if kind == "Event" else MAX_SYNC_PAYLOAD
    if len(payload) > limit:
        raise LambdaError(
            413,
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
        )
    if payload.strip():
        try:
            json.loads(payload)
        except ValueError as e:
            raise LambdaError(
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: {e}",
            ) from None
    client_context = _client_context()
    parent = None
    if container:
        parent = inv.parent_of_container(container)
    parent = (
        parent
        or request.headers.get(PARENT_HEADER)
        or ((client_context or {}).get("custom") or {}).get("parentRequestId")
    )
    trigger: dict[str, Any] = {"type": "api"}
    if kind == "DryRun":
        inv.dry_run(fname)
        resp = Response(status=204)
        resp.headers["x-amzn-RequestId"] = str(uuid.uuid4())
        return resp
    if kind == "Event":
        rid = inv.invoke_async(
            fname, payload, trigger=trigger, parent=parent, client_context=client_context
        )
        resp = Response(status=202)
        resp.headers["x-amzn-RequestId"] = rid
        return resp
    outcome = inv.invoke_sync(
        fname, payload, trigger=trigger, parent=parent, client_context=client_context
    )
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
    inv = current_invoker()
    fns = [] if inv is None else [f.to_json() for f in inv.project.functions.values()]
    return jsonify({"Functions": fns, "NextMarker": None})


@bp.route("/2015-03-31/functions/<name>", methods=["GET"])
def get_function(name: str) -> Response:
    """GetFunction: the configuration (no code location)."""
    inv = current_invoker()
    if inv is None:
        raise _no_project()
    fname, _ = _function_name(name)
    try:
        fn = inv.function(fname)
    except NotFound as e:
        raise _as_lambda_error(e) from None
    return jsonify(
        {"Configuration": {**fn.to_json(), "State": "Active"}, "Code": {"RepositoryType": "S3"}}
    )
