"""The CloudWatch Logs JSON protocol's HTTP edge: `POST /` with `X-Amz-Target: Logs_20140328.<Op>`.

Owns: reading the target, the JSON body, and writing the
`application/x-amz-json-1.1` answer or the `{"__type", "message"}` error (one function each,
`_json_response` and `error_response_for`). Everything CloudWatch-shaped beyond HTTP lives in
`logsvc/cloudwatch/`. Never opens files or imports whoosh. SigV4 is checked before any of this by
the one auth gate (`logsvc/auth.py`, scope service `logs`).

Point any AWS SDK or CLI here with `--endpoint-url http://127.0.0.1:4588` or
`AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=http://127.0.0.1:4588` (the name botocore reads).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
import zlib

from flask import Blueprint, Request, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from logsvc.cloudwatch import metrics_api, operations
from logsvc.cloudwatch.dispatch import run as run_operation
from logsvc.cloudwatch.errors import AwsError, MetricsError, to_aws, to_metrics
from logsvc.errors import LogsvcError

bp = Blueprint("cloudwatch", __name__)
log = logging.getLogger("logsvc.cloudwatch")

TARGET_PREFIX = "Logs_20140328."
CONTENT_TYPE = "application/x-amz-json-1.1"
_SCOPE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/")


def _region(req: Request) -> str:
    """The region from the SigV4 credential scope (`AKID/date/REGION/logs/aws4_request`)."""
    m = _SCOPE_RE.search(req.headers.get("Authorization", ""))
    return m.group(1) if m else "us-east-1"


def _request_id() -> str:
    """The request's x-amzn-RequestId: one per request (kept in `flask.g`), a fresh one outside any."""
    try:
        rid = g.get("aws_request_id")
        if rid is None:
            rid = g.aws_request_id = str(uuid.uuid4())
    except RuntimeError:  # no application context
        return str(uuid.uuid4())
    return rid


def _json_response(body: dict | None, status: int = 200) -> Response:
    data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    resp = Response(data, status=status, content_type=CONTENT_TYPE)
    resp.headers["x-amzn-RequestId"] = _request_id()
    return resp


@bp.route("/", methods=["POST"])
def dispatch() -> Response:
    target = request.headers.get("X-Amz-Target", "")
    if target.startswith(metrics_api.TARGET_PREFIX):
        return metrics_dispatch(target[len(metrics_api.TARGET_PREFIX) :])
    try:
        if not target.startswith(TARGET_PREFIX):
            raise AwsError(
                "UnknownOperationException",
                f"X-Amz-Target {target!r} is not a CloudWatch Logs operation (expected '{TARGET_PREFIX}<Operation>')."
                if target
                else "Missing X-Amz-Target header: CloudWatch Logs requests name their operation in it.",
            )
        raw = request.get_data(cache=False)
        try:
            params = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            raise AwsError(
                "SerializationException", "The request body is not valid JSON."
            ) from None
        ctx = operations.Context(
            service=current_app.extensions["logsvc"],
            region=_region(request),
            request_id=_request_id(),
        )
        result = run_operation(ctx, target[len(TARGET_PREFIX) :], params)
    except LogsvcError as e:
        return error_response_for(e)
    except HTTPException as e:  # e.g. a body over MAX_CONTENT_LENGTH, raised while reading it
        return http_error_response(e)
    except Exception:
        log.exception("CloudWatch %s failed", target)
        return error_response_for(
            AwsError(
                "ServiceUnavailableException",
                "logsvc hit an unexpected error; its log has the details",
            )
        )
    if isinstance(result, operations.LiveTail):
        resp = Response(
            iter(result), content_type="application/vnd.amazon.eventstream", direct_passthrough=True
        )
        resp.call_on_close(result.close)
        resp.headers["x-amzn-RequestId"] = _request_id()
        return resp
    return _json_response(result)


def error_response_for(e: LogsvcError) -> Response:
    """The one writer of the CloudWatch error shape: `{"__type": ..., "message": ...}`."""
    aws = to_aws(e)
    return _json_response(aws.body(), aws.status)


def http_error_response(e: HTTPException) -> Response:
    """Werkzeug's errors (wrong method, body too large, unknown path) in the CloudWatch shape."""
    if e.code == 413:
        err = AwsError(
            "InvalidParameterException",
            f"Request body too large: the limit is {current_app.config.get('MAX_CONTENT_LENGTH')} bytes.",
        )
    elif e.code in (404, 405):
        err = AwsError(
            "UnknownOperationException",
            f"CloudWatch Logs requests are POST / with X-Amz-Target; got {request.method} {request.path}.",
        )
    elif (e.code or 500) >= 500:  # a server fault stays a 5xx: SDKs retry those, never a 400
        err = AwsError("ServiceUnavailableException", e.description or e.name, status=e.code or 500)
    else:
        err = AwsError("SerializationException", e.description or e.name)
    return error_response_for(err)


# ---- the CloudWatch metrics API (JSON 1.0, X-Amz-Target: GraniteServiceVersion20100801.<Op>) ----

MAX_INFLATED = 8 << 20  # a gzip PutMetricData body may not inflate past the plain body cap


def _metrics_body() -> object:
    """The request's JSON; botocore gzips PutMetricData bodies over 10 KB (Content-Encoding)."""
    raw = request.get_data(cache=False)
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        d = zlib.decompressobj(wbits=31)
        try:
            raw = d.decompress(raw, MAX_INFLATED)
        except zlib.error:
            raise MetricsError(
                "SerializationException", "The gzip request body is corrupt."
            ) from None
        if d.unconsumed_tail:
            raise MetricsError(
                "InvalidParameterValue", f"The request body inflates past {MAX_INFLATED} bytes."
            )
    try:
        return json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise MetricsError(
            "SerializationException", "The request body is not valid JSON."
        ) from None


def metrics_dispatch(op: str) -> Response:
    """One metrics API call: the answer, or the one writer of its error shape below."""
    try:
        ctx = operations.Context(
            service=current_app.extensions["logsvc"],
            region=_region(request),
            request_id=_request_id(),
        )
        result = metrics_api.run(ctx, op, _metrics_body())
    except LogsvcError as e:
        return metrics_error_response(e)
    except HTTPException as e:
        return metrics_error_response(
            MetricsError("InvalidParameterValue", e.description or e.name, status=e.code or 400)
        )
    except Exception:
        log.exception("CloudWatch metrics %s failed", op)
        return metrics_error_response(
            MetricsError(
                "InternalServiceError", "logsvc hit an unexpected error; its log has the details"
            )
        )
    data = json.dumps(result or {}, separators=(",", ":")).encode()
    resp = Response(data, status=200, content_type=metrics_api.CONTENT_TYPE)
    resp.headers["x-amzn-RequestId"] = _request_id()
    return resp


def metrics_error_response(e: LogsvcError) -> Response:
    """`{"__type": "com.amazonaws.cloudwatch#<Shape>", "message"}` + `x-amzn-query-error`."""
    err = to_metrics(e)
    data = json.dumps(err.body(), separators=(",", ":")).encode()
    resp = Response(data, status=err.status, content_type=metrics_api.CONTENT_TYPE)
    resp.headers["x-amzn-RequestId"] = _request_id()
    for k, val in err.headers().items():
        resp.headers[k] = val
    return resp
