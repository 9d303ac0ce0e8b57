"""Helpers for SigV4 tests: botocore-signed requests, and a tiny WSGI server that verifies with logsvc.sigv4.

The tiny server lets boto3 itself (its real wire format, headers and path encoding) be checked
against `sigv4.verify` before the CloudWatch and Lambda blueprints are wired to it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from logsvc import sigv4

KEY_ID = "AKIDLOGSVCTEST000001"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CREDS = {KEY_ID: SECRET}


def signed(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict | None = None,
    *,
    key_id: str = KEY_ID,
    secret: str = SECRET,
    token: str | None = None,
    service: str = "logs",
    region: str = "us-east-1",
    presign: bool = False,
) -> AWSRequest:
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    creds = Credentials(key_id, secret, token)
    signer = (
        SigV4QueryAuth(creds, service, region, expires=300)
        if presign
        else SigV4Auth(creds, service, region)
    )
    signer.add_auth(req)
    return req


def verify_signed(req: AWSRequest, credentials: dict | None = None, **kw) -> str:
    """Run sigv4.verify on a botocore request as a server would see it (Host header added)."""
    parts = urlsplit(req.url)
    headers = dict(req.headers.items())
    headers.setdefault("Host", parts.netloc)
    body = req.body if isinstance(req.body, bytes) else (req.body or "").encode()
    return sigv4.verify(
        req.method,
        parts.path or "/",
        parts.query,
        headers,
        body,
        CREDS if credentials is None else credentials,
        **kw,
    )


class VerifyingApp:
    """A WSGI app that answers like CloudWatch Logs / Lambda would, after sigv4.verify."""

    def __init__(self, credentials: dict) -> None:
        self.credentials = credentials
        self.seen: list[dict] = []

    def __call__(self, environ, start_response):
        req = Request(environ)
        body = req.get_data()
        raw = sigv4.raw_path(environ)
        self.seen.append(
            {
                "path": raw,
                "query": req.query_string.decode("latin-1"),
                "target": req.headers.get("X-Amz-Target"),
            }
        )
        lambda_api = raw.startswith("/2015-03-31/")
        try:
            sigv4.verify(
                req.method,
                raw,
                req.query_string.decode("latin-1"),
                req.headers,
                body,
                self.credentials,
            )
        except sigv4.SigV4Error as e:
            status = 403 if lambda_api and e.code != "IncompleteSignatureException" else e.status
            resp = Response(
                json.dumps(
                    {"__type": e.code, "message": e.message}
                    if not lambda_api
                    else {"Type": "User", "message": e.message}
                ),
                status=status,
                content_type="application/x-amz-json-1.1" if not lambda_api else "application/json",
            )
            if lambda_api:
                resp.headers["x-amzn-ErrorType"] = e.code
            return resp(environ, start_response)
        if lambda_api:
            return Response(b'{"ok": true}', status=200, content_type="application/json")(
                environ, start_response
            )
        return Response(
            b'{"logGroups": []}', status=200, content_type="application/x-amz-json-1.1"
        )(environ, start_response)


@contextmanager
def verifying_server(credentials: dict | None = None) -> Iterator[tuple[str, VerifyingApp]]:
    app = VerifyingApp(credentials or CREDS)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}", app
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)
