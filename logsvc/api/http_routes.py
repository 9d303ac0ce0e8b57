"""API Gateway in front of the project's HTTP routes: `/http/items/1` is route `GET /items/{id}`.

Owns the HTTP side of the emulation: matching a request to a route (the owner's router), building
the payload-2.0 event from the request (headers minus logsvc's own credentials) and sending the
function's result back as API Gateway would, with its `{"message": ...}` error shape. The event and
response shapes themselves are `invoker/apigw.py`'s. Never runs functions (the invoker does, in
the owner: `forward.owned`).

Routes
    ANY  /http/<path>                                    API Gateway HTTP API routes (payload 2.0)
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify, request

from logsvc import auth
from logsvc.api.forward import FORWARDED, current_invoker, owned
from logsvc.invoker.apigw import http_event, http_response
from logsvc.invoker.containers import TooManyRequests

bp = Blueprint("http_routes", __name__)

HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@bp.route("/http", defaults={"path": ""}, methods=HTTP_METHODS)
@bp.route("/http/", defaults={"path": ""}, methods=HTTP_METHODS)
@bp.route("/http/<path:path>", methods=HTTP_METHODS)
def http_trigger(path: str) -> Response:
    """API Gateway in front of the project's routes: `/http/items/1` is route `GET /items/{id}`."""
    inv = current_invoker()
    if inv is None:
        return _apigw(404, "Not Found")
    return _http_owned(path)


@owned()
def _http_owned(path: str) -> Response:
    inv = current_invoker()
    raw_path = "/" + path
    match = inv.triggers.router.match(request.method, raw_path)
    if match is None:
        return _apigw(404, "Not Found")
    route, params = match
    source_ip = (
        request.remote_addr or "127.0.0.1"
    )  # a verified forward restored the client's (logsvc.auth)
    drop = {FORWARDED.lower(), auth.FORWARDED_HOST.lower(), "x-forwarded-for"}
    if request.environ.get(auth.CONSUMED):
        drop.add("authorization")  # logsvc's own token or signature is not the function's business
    headers = {k: v for k, v in request.headers.items() if k.lower() not in drop}
    event = http_event(
        route,
        params,
        request.method,
        raw_path,
        request.query_string.decode("latin-1"),
        headers,
        request.get_data(),
        source_ip,
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
