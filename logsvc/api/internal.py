"""The owner's internal server: the invoker's surfaces on a loopback port, for containers and workers.

Owns the internal Flask app (the Lambda API, HTTP routes, tables, invocations and functions
blueprints behind `auth.internal_gate`: the per-run forward secret or the functions' own key) and
the threaded server running it. serve.py injects `InternalServer` into the invoker, which starts one
when it becomes the owner: the invoker sits below HTTP and never imports this module. Errors are
written by the surfaces' own writers (Lambda's in `lambda_api`, REST's in `api/errors.py`).
"""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler, make_server

from logsvc import auth
from logsvc.api import http_routes, invocations, lambda_api, tables
from logsvc.api.errors import error_response, http_error_response
from logsvc.errors import LogsvcError

INTERNAL_APP = "logsvc-invoker"
MAX_BODY = 8 * 1024 * 1024


def create_internal_app(invoker: Any) -> Flask:
    """The owner's loopback app: the invoker's blueprints only, for containers and forwarding workers."""
    app = Flask(INTERNAL_APP, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json.sort_keys = False
    app.extensions["logsvc"] = SimpleNamespace(
        settings=invoker.settings, store=invoker.store, invoker=invoker
    )
    for module in (lambda_api, http_routes, tables, invocations):
        app.register_blueprint(module.bp)

    @app.before_request
    def _gate() -> Response | None:
        return auth.internal_gate(request, invoker.forward_secret, invoker.function_credentials)

    app.register_error_handler(LogsvcError, error_response)

    app.register_error_handler(HTTPException, http_error_response)  # the public app's REST writer

    return app


class _QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: forwarding workers reuse their connections

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # one line per container call would drown logsvc's own log


class InternalServer:
    """The internal app served on an ephemeral loopback port in a thread; `url` is where it listens."""

    def __init__(self, invoker: Any) -> None:
        self._server = make_server(
            "127.0.0.1",
            0,
            create_internal_app(invoker),
            threaded=True,
            request_handler=_QuietHandler,
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="invoker-http", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
