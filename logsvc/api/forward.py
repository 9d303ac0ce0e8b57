"""Which process answers a request that needs the invoker: the owner runs it, the others relay it.

Owns `owned()` (run the view in the process holding the invoker lock; elsewhere relay the request to
the owner's loopback server, waiting up to OWNER_WAIT for an owner) and the relay itself (keep-alive
connections, the per-run forward secret in place of the client's credentials, hop-by-hop headers).
Never writes an error shape of its own: each surface passes its `ErrorShape`. Never checks
credentials (`logsvc.auth` did, in both processes).
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Response, current_app, request

from logsvc import auth
from logsvc.api.errors import rest_error
from logsvc.errors import LogsvcError, NotFound

FORWARDED = auth.FORWARDED
NO_OWNER = "X-Logsvc-No-Owner"
OWNER_WAIT = 10.0  # seconds a non-owner waits for an owner before answering 503
HOP_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "te",
    "trailer",
    "upgrade",
}
UNAVAILABLE = (
    "no logsvc process runs functions right now (the owner is restarting); retry in a second"
)


def current_service() -> Any:
    return current_app.extensions["logsvc"]


def current_invoker() -> Any:
    """This process's invoker, or None when logsvc runs without a project file."""
    return getattr(current_service(), "invoker", None)


@dataclass(frozen=True)
class ErrorShape:
    """How one surface says "no project", "no owner right now" and (optionally) any LogsvcError."""

    no_project: Callable[[], Exception]
    unavailable: Callable[[str], Response]
    translate: Callable[[LogsvcError], Exception] | None = None


def _rest_no_project() -> Exception:
    return NotFound(
        "this logsvc has no project file, so it has no functions, routes or tables",
        field="project",
        hint="Start it with --project logsvc.toml (or LOGSVC_PROJECT).",
    )


REST = ErrorShape(
    no_project=_rest_no_project, unavailable=lambda message: rest_error(503, "Unavailable", message)
)


def owned(shape: ErrorShape = REST) -> Callable:
    """Run the view in the process that owns the invoker; elsewhere, forward the request there."""

    def deco(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            inv = current_invoker()
            if inv is None:
                raise shape.no_project()
            if request.environ.get(auth.FORWARDED_OK) and not inv.owner:
                return _unavailable(shape)  # the forwarder retries; never forward twice
            # Right after start (or when the owner died) there may be no owner for a moment: wait
            # for one, and try to become it ourselves, rather than failing the request.
            deadline = time.monotonic() + OWNER_WAIT
            while not inv.owner:
                resp = relay(inv.owner_info())
                if resp is not None:
                    return resp
                if time.monotonic() > deadline or inv.try_own():
                    break
                time.sleep(0.05)
            if not inv.owner:
                return _unavailable(shape)
            if shape.translate is None:
                return view(*args, **kwargs)
            try:
                return view(*args, **kwargs)
            except LogsvcError as e:
                raise shape.translate(e) from None

        return wrapper

    return deco


def _unavailable(shape: ErrorShape) -> Response:
    resp = shape.unavailable(UNAVAILABLE)
    resp.headers[NO_OWNER] = (
        "1"  # tells a forwarding worker to wait for the next owner, not relay this
    )
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


def relay(owner: dict | None) -> Response | None:
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
    path = (
        request.environ.get("RAW_URI")
        or request.environ.get("REQUEST_URI")
        or (
            urllib.parse.quote(request.path)
            + ("?" + request.query_string.decode("latin-1") if request.query_string else "")
        )
    )
    body = request.get_data()
    upstream = None
    for fresh in (
        False,
        True,
    ):  # a kept-alive connection may have been closed by the owner meanwhile
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
    resp = Response(data, status=upstream.status)
    for k, v in upstream.getheaders():
        if k.lower() not in HOP_HEADERS and k.lower() not in ("server", "date"):
            if k.lower() == "content-type":
                resp.headers["Content-Type"] = v
            else:
                resp.headers.add(k, v)
    return resp
