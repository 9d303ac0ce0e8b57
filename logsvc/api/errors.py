"""One place that turns a LogsvcError into the REST error shape.

Shape (pinned by tests/test_error_shape.py):
    {"error": {"code": "InvalidParameter", "message": "...", "field": "limit", "rule": "1..10000", "hint": ...}}
The CloudWatch surface has its own shape, written only in api/cloudwatch.py.
"""

from __future__ import annotations

from flask import Response, jsonify

from logsvc.errors import (
    AlreadyExists,
    InvalidParameter,
    LimitExceeded,
    LogsvcError,
    NotFound,
    StorageError,
    Unauthorized,
)

STATUS: dict[type[LogsvcError], int] = {
    InvalidParameter: 400,
    Unauthorized: 401,
    NotFound: 404,
    AlreadyExists: 409,
    LimitExceeded: 503,
    StorageError: 507,
}


def status_for(error: LogsvcError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_body(error: LogsvcError) -> dict:
    body = {"code": error.code, "message": error.message, "field": error.field}
    if error.rule:
        body["rule"] = error.rule
    if error.hint:
        body["hint"] = error.hint
    for key in ("position", "end"):  # where in the input it fails (a Logs Insights query: character offsets)
        if isinstance(getattr(error, key, None), int):
            body[key] = getattr(error, key)
    return {"error": body}


def error_response(error: LogsvcError) -> Response:
    resp = jsonify(error_body(error))
    resp.status_code = status_for(error)
    return resp


def rest_error(status: int, code: str, message: str, field: str | None = None) -> Response:
    resp = jsonify({"error": {"code": code, "message": message, "field": field}})
    resp.status_code = status
    return resp
