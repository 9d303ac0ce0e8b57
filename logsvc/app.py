"""create_app(service) -> Flask: registers the HTTP surfaces, the auth gate (logsvc/auth.py) and error handlers.

Owns nothing but wiring: every surface lives in logsvc/api/ and calls into the service.
"""

from __future__ import annotations

import logging

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from logsvc import auth
from logsvc.api import (
    cloudwatch,
    console,
    http_routes,
    insights,
    insights_console,
    invocations,
    lambda_api,
    metrics,
    otlp,
    rest,
    tables,
)
from logsvc.api.errors import error_response, http_error_response, rest_error
from logsvc.errors import LogsvcError

log = logging.getLogger("logsvc.http")

MAX_BODY = 8 * 1024 * 1024  # PutLogEvents allows 1 MiB of messages; JSON escaping can double that


def _public_route_matcher(service):
    """(method, path) -> True when the project declares that HTTP route `public = true`."""
    inv = getattr(service, "invoker", None)
    if inv is None or not any(getattr(r, "public", False) for r in inv.project.routes):
        return None
    from logsvc.invoker.apigw import Router

    router = Router(inv.project.routes)

    def public(method: str, path: str) -> bool:
        match = router.match(method, path)
        return match is not None and bool(getattr(match[0], "public", False))

    return public


def create_app(service) -> Flask:
    app = Flask("logsvc", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json.sort_keys = False
    app.extensions["logsvc"] = service

    app.register_blueprint(rest.bp)
    app.register_blueprint(insights.bp)
    app.register_blueprint(insights_console.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(lambda_api.bp)
    app.register_blueprint(http_routes.bp)
    app.register_blueprint(tables.bp)
    app.register_blueprint(invocations.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(cloudwatch.bp)
    app.register_blueprint(otlp.bp)

    public_route = _public_route_matcher(service)

    @app.before_request
    def _gate():
        return auth.gate(request, service, public_route)

    @app.after_request
    def _security_headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        if resp.mimetype == "text/html":
            resp.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'",
            )
        return resp

    @app.errorhandler(LogsvcError)
    def _logsvc_error(e: LogsvcError):
        if request.headers.get("X-Amz-Target"):
            return cloudwatch.error_response_for(e)
        return error_response(e)

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException):
        if request.headers.get("X-Amz-Target"):
            return cloudwatch.http_error_response(e)
        if request.path == otlp.PATH:
            return otlp.http_error_response(e)
        return http_error_response(e, MAX_BODY)  # a 404 stays 404, 405 keeps Allow, a 5xx stays 5xx

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return rest_error(
            500, "InternalError", "logsvc hit an unexpected error; its log has the details"
        )

    return app
