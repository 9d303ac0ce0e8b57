"""The OTLP/HTTP logs endpoint's HTTP edge: `POST /v1/logs` (issue #13 item 5).

Owns: the content type (`application/x-protobuf` or `application/json`) and encoding (gzip,
deflate, identity), the size bounds, and OTLP's answers, each in the request's own encoding as the
OTLP specification requires: `ExportLogsServiceResponse` on success (its `partialSuccess` counts
the records refused), `google.rpc.Status` with a message on failure (400 undecodable body or bad
header, 401/403 from the auth gate, 413 too large, 415 not OTLP). What a record becomes lives in
`cloudwatch/otlp.py`. Credentials are checked before any of this by `auth.py` (surface `otlp`:
the bearer token, or SigV4 scoped to `logs` as AWS's endpoint takes).

Point an OpenTelemetry SDK here: `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://127.0.0.1:4588/v1/logs`,
`OTEL_EXPORTER_OTLP_LOGS_HEADERS=x-aws-log-group=/my/app,x-aws-log-stream=web-1`.
"""

from __future__ import annotations

import json
import zlib

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from logsvc.api.errors import status_for
from logsvc.cloudwatch import otlp
from logsvc.errors import InvalidParameter, LogsvcError

bp = Blueprint("otlp", __name__)

PATH = otlp.PATH
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# bytes of a request once decompressed (the body as sent is bounded by app.MAX_BODY)
MAX_DECODED = 8 * 1024 * 1024

# google.rpc.Code for the statuses this endpoint answers (the OTLP spec lets a server omit it)
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 8, 415: 3, 507: 8}


def _kind() -> str | None:
    """The request's encoding ("protobuf", "json"), or None for a type OTLP does not define."""
    return {PROTOBUF: "protobuf", JSON: "json"}.get(request.mimetype)


def status_response(status: int, message: str) -> Response:
    """A failure as OTLP writes it: a `google.rpc.Status`, JSON for a JSON request, else protobuf."""
    from google.protobuf import json_format
    from google.rpc.status_pb2 import Status

    body = Status(code=_GRPC_CODES.get(status, 2), message=message)
    if _kind() == "json":
        data = json.dumps(json_format.MessageToDict(body)).encode()
        return Response(data, status=status, content_type=JSON)
    return Response(body.SerializeToString(), status=status, content_type=PROTOBUF)


def http_error_response(e: HTTPException) -> Response:
    """Werkzeug's errors on this path (405, 413) in OTLP's shape, keeping their headers (Allow)."""
    status = e.code or 500
    message = (
        f"request body is larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes"
        if status == 413
        else e.description or e.name
    )
    resp = status_response(status, message)
    for name, value in e.get_headers():
        if name.lower() != "content-type":
            resp.headers[name] = value
    return resp


def _decompress(body: bytes, encoding: str | None) -> bytes:
    """The body with its Content-Encoding undone, never more than MAX_DECODED bytes (a small gzip
    can expand a thousandfold). :raises InvalidParameter: :raises _TooLarge:"""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        if len(body) > MAX_DECODED:
            raise _TooLarge()
        return body
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}.get(encoding)
    if wbits is None:
        raise InvalidParameter(
            f"Content-Encoding {encoding!r} is not supported: send gzip, deflate or none",
            field="Content-Encoding",
            rule="gzip, deflate or identity",
        )
    out = bytearray()
    rest = body
    try:
        while rest:  # gzip allows several members one after another
            d = zlib.decompressobj(wbits)
            out += d.decompress(rest, MAX_DECODED + 1 - len(out))
            if len(out) > MAX_DECODED or d.unconsumed_tail:
                raise _TooLarge()
            if not d.eof:
                raise zlib.error("the compressed body ends early")
            rest = d.unused_data
    except zlib.error as e:
        raise InvalidParameter(
            f"the body is not valid {encoding} data ({e})",
            field="Content-Encoding",
            rule=f"a complete {encoding} stream",
        ) from None
    return bytes(out)


class _TooLarge(Exception):
    pass


def _header(name: str) -> str | None:
    """A header's value as the UTF-8 text the client sent (WSGI hands it over as Latin-1)."""
    value = request.headers.get(name)
    if value is None:
        return None
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise InvalidParameter(f"{name} is not valid UTF-8", field=name) from None


def export_response(outcome: otlp.Outcome, kind: str) -> Response:
    """`ExportLogsServiceResponse`: empty when every record was written, else `partialSuccess`."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

    body = ExportLogsServiceResponse()
    if outcome.rejected_count:
        body.partial_success.rejected_log_records = outcome.rejected_count
        body.partial_success.error_message = outcome.error_message
    if kind == "json":
        return Response(json.dumps(json_format.MessageToDict(body)), content_type=JSON)
    return Response(body.SerializeToString(), content_type=PROTOBUF)


@bp.route(PATH, methods=["POST"])
def export_logs() -> Response:
    kind = _kind()
    if kind is None:
        return status_response(
            415,
            f"Content-Type {request.mimetype or 'none'!r} is not OTLP/HTTP: "
            f"send {PROTOBUF} or {JSON}",
        )
    try:
        body = _decompress(request.get_data(cache=True), request.headers.get("Content-Encoding"))
        message = otlp.decode(body, kind)
        outcome = otlp.export(
            current_app.extensions["logsvc"],
            message,
            _header("x-aws-log-group"),
            _header("x-aws-log-stream"),
        )
    except _TooLarge:
        return status_response(413, f"the decompressed body is larger than {MAX_DECODED} bytes")
    except LogsvcError as e:
        return status_response(status_for(e), e.message)
    return export_response(outcome, kind)
