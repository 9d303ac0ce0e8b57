"""The one writer of the REST error shape, for LogsvcErrors, auth refusals and werkzeug's HTTP errors.

Shape (pinned by tests/test_errors.py, every status the server returns):
    {"error": {"code": "InvalidParameter", "message": "...", "field": "limit", "rule": "1..10000", "hint": ...}}
The CloudWatch surface has its own shape, written only in api/cloudwatch.py.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

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

# werkzeug's errors keep their status; these are their REST codes (others: the name in CamelCase)
HTTP_CODES = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    500: "InternalError",
}


def status_for(error: LogsvcError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _body(
    code: str, message: str, field: str | None, rule: str | None, hint: str | None, **where: Any
) -> dict:
    """The shape itself: `field` always (null when no one input is at fault), `rule`/`hint` when known."""
    body: dict[str, Any] = {"code": code, "message": message, "field": field}
    if rule:
        body["rule"] = rule
    if hint:
        body["hint"] = hint
    body.update({k: v for k, v in where.items() if isinstance(v, int)})
    return {"error": body}


def error_body(error: LogsvcError) -> dict:
    # where in the input it fails (a Logs Insights query: character offsets)
    where = {key: getattr(error, key, None) for key in ("position", "end")}
    return _body(error.code, error.message, error.field, error.rule, error.hint, **where)


def error_response(error: LogsvcError) -> Response:
    resp = jsonify(error_body(error))
    resp.status_code = status_for(error)
    return resp


def rest_error(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    *,
    rule: str | None = None,
    hint: str | None = None,
) -> Response:
    """A refusal that is not a LogsvcError (the auth gate, werkzeug's errors), in the same shape."""
    resp = jsonify(_body(code, message, field, rule, hint))
    resp.status_code = status
    return resp


def http_error_response(e: HTTPException, max_body: int | None = None) -> Response:
    """Werkzeug's errors (unknown path, wrong method, body too large, 5xx) with their own status and headers (Allow)."""
    status = e.code or 500
    code = HTTP_CODES.get(status) or "".join(
        w[:1].upper() + w[1:] for w in (e.name or "Error").split()
    )
    message = e.description or e.name
    if status == 413 and max_body is not None:
        message = f"request body is larger than {max_body} bytes"
    resp = rest_error(status, code, message)
    for name, value in e.get_headers():
        if name.lower() != "content-type":
            resp.headers[name] = value
    return resp


# ---- the Lambda API's shape ---------------------------------------------------------------------


class LambdaError(Exception):
    """An error the Lambda API reports as `{"Type": ..., "message": ...}` with `x-amzn-ErrorType`."""

    def __init__(
        self, status: int, code: str, message: str, kind: str = "User", **extra: Any
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.kind, self.extra = (
            status,
            code,
            message,
            kind,
            extra,
        )

    def response(self) -> Response:
        resp = jsonify({"Type": self.kind, "message": self.message, **self.extra})
        resp.status_code = self.status
        resp.headers["x-amzn-ErrorType"] = self.code
        resp.headers["x-amzn-RequestId"] = str(uuid.uuid4())
        return resp
