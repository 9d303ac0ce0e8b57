"""A small client for logsvc's REST API and its SSE tail, used by the CLI (stdlib only).

The CLI talks to a running server through the same public API as the console, so what the CLI
shows is what the API says.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

from logsvc.errors import InvalidParameter, LogsvcError, NotFound, Unauthorized


class ConnectionFailed(LogsvcError):
    code = "ConnectionFailed"


class Client:
    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(
        self,
        path: str,
        params: dict | None = None,
        accept: str = "application/json",
        timeout: float | None = None,
        method: str = "GET",
        body: dict | None = None,
    ):
        query = urllib.parse.urlencode(
            [
                (k, v)
                for k, v in (params or {}).items()
                for v in (v if isinstance(v, list | tuple) else [v])
                if v is not None
            ],
            doseq=True,
        )
        url = f"{self.url}{path}" + (f"?{query}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers={"Accept": accept})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            return urllib.request.urlopen(req, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as e:
            raise _api_error(e) from None
        except (urllib.error.URLError, OSError) as e:
            raise ConnectionFailed(
                f"cannot reach logsvc at {self.url} ({getattr(e, 'reason', e)})",
                hint="Start it with 'logsvc serve', or point --url / LOGSVC_URL at a running server.",
            ) from None

    def get(self, path: str, **params: Any) -> dict:
        with self._request(path, params) as resp:
            return json.loads(resp.read())

    def post(self, path: str, body: dict) -> dict:
        with self._request(path, method="POST", body=body) as resp:
            return json.loads(resp.read())

    def delete(self, path: str) -> dict:
        with self._request(path, method="DELETE") as resp:
            return json.loads(resp.read())

    def pages(self, path: str, key: str, **params: Any) -> Iterator[dict]:
        token = None
        while True:
            page = self.get(path, **params, nextToken=token)
            yield from page[key]
            token = page.get("nextToken")
            if not token:
                return

    def sse(self, path: str, **params: Any) -> Iterator[tuple[str, str, str | None]]:
        """(event, data, id) for every SSE message; comments are skipped."""
        resp = self._request(path, params, accept="text/event-stream", timeout=120)
        event, data, last_id = "message", [], None
        with resp:
            for raw in resp:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    if data:
                        yield event, "\n".join(data), last_id
                    event, data = "message", []
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "event":
                    event = value
                elif name == "data":
                    data.append(value)
                elif name == "id":
                    last_id = value


def _api_error(e: urllib.error.HTTPError) -> LogsvcError:
    body = None
    try:
        body = json.loads(e.read())["error"]
        message, field = body.get("message", str(e)), body.get("field")
    except (ValueError, KeyError, TypeError):
        message, field = f"HTTP {e.code} {e.reason}", None
    if e.code == 404:
        return NotFound(message, field=field, hint="Run 'logsvc groups' to list groups.")
    if e.code == 401:
        return Unauthorized(message, field=field, hint="Pass --token or set LOGSVC_TOKEN.")
    if 400 <= e.code < 500:
        return InvalidParameter(
            message, field=field, hint=body.get("hint") if isinstance(body, dict) else None
        )
    return LogsvcError(message, field=field)
