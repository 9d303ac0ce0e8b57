"""API Gateway HTTP API (payload format 2.0): which route a request matches, the event a function
receives, and the HTTP response its result becomes.

Owns the route table's matching order (the most specific route wins) and both payload-2.0 shapes.
Pure functions: never invokes a function, never speaks HTTP itself (api/http_routes.py does).
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from logsvc.invoker.functions import ACCOUNT, HttpRoute


@dataclass(frozen=True)
class _CompiledRoute:
    route: HttpRoute
    regex: re.Pattern[str]
    specificity: tuple[int, int, int]


class Router:
    """Matches `METHOD /path` to a route the way API Gateway prefers: the most specific route wins."""

    def __init__(self, routes: tuple[HttpRoute, ...] | list[HttpRoute]) -> None:
        compiled = []
        for r in routes:
            parts, static, params, greedy = [], 0, 0, 0
            for seg in r.path.strip("/").split("/") if r.path.strip("/") else []:
                if seg.startswith("{") and seg.endswith("+}"):
                    parts.append(f"(?P<{seg[1:-2]}>.+)")
                    greedy += 1
                elif seg.startswith("{"):
                    parts.append(f"(?P<{seg[1:-1]}>[^/]+)")
                    params += 1
                else:
                    parts.append(re.escape(seg))
                    static += 1
            regex = re.compile("/" + "/".join(parts) + "/?")
            compiled.append(_CompiledRoute(r, regex, (greedy, -static, params)))
        compiled.sort(key=lambda c: (c.specificity, c.route.method == "ANY"))
        self.routes = compiled

    def match(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        for c in self.routes:
            if c.route.method not in (method, "ANY"):
                continue
            m = c.regex.fullmatch(path)
            if m:
                return c.route, {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
        return None


def http_event(
    route: HttpRoute,
    params: dict[str, str],
    method: str,
    path: str,
    raw_query: str,
    headers: dict[str, str],
    body: bytes,
    source_ip: str,
) -> dict[str, Any]:
    """The payload-2.0 event API Gateway HTTP APIs send (lower-case headers, comma-joined duplicates)."""
    lower: dict[str, str] = {}
    for k, v in headers.items():
        k = k.lower()
        lower[k] = f"{lower[k]},{v}" if k in lower else v
    cookies = [c.strip() for c in lower.pop("cookie", "").split(";") if c.strip()]
    query: dict[str, str] = {}
    for k, v in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        query[k] = f"{query[k]},{v}" if k in query else v
    is_text = _is_text(lower.get("content-type", ""))
    now = time.time()
    route_key = f"{route.method if route.method != 'ANY' else 'ANY'} {route.path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": lower,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "logsvc",
            "domainName": lower.get("host", "localhost"),
            "domainPrefix": lower.get("host", "localhost").split(".")[0].split(":")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lower.get("user-agent", ""),
            },
            "requestId": base64.urlsafe_b64encode(os.urandom(9)).decode(),
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": bool(body) and not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if body:
        event["body"] = (
            body.decode("utf-8", "replace") if is_text else base64.b64encode(body).decode()
        )
    return event


def _is_text(content_type: str) -> bool:
    ct = content_type.split(";")[0].strip().lower()
    return (
        not ct
        or ct.startswith("text/")
        or ct
        in (
            "application/json",
            "application/xml",
            "application/x-www-form-urlencoded",
            "application/javascript",
        )
        or ct.endswith("+json")
        or ct.endswith("+xml")
    )


def http_response(body: bytes, failed: bool) -> tuple[int, list[tuple[str, str]], bytes]:
    """Map a function's result to the HTTP response API Gateway (payload 2.0) would send.

    A dict with `statusCode` is used as given; any other valid JSON is the body of a 200
    `application/json` response (a string is sent as-is). Errors become 502, as on AWS.
    """
    if failed:
        return 502, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}'
    try:
        result = json.loads(body)
    except ValueError:
        return 502, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}'
    if not (isinstance(result, dict) and "statusCode" in result):
        text = result if isinstance(result, str) else json.dumps(result)
        return 200, [("Content-Type", "application/json")], text.encode()
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        return 502, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}'
    headers: list[tuple[str, str]] = []
    for k, v in (result.get("headers") or {}).items():
        headers.append((str(k), str(v)))
    for k, vs in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(k), str(v)) for v in vs)
    for cookie in result.get("cookies") or []:
        headers.append(("Set-Cookie", str(cookie)))
    raw = result.get("body")
    if raw is None:
        data = b""
    elif not isinstance(raw, str):
        data = json.dumps(raw).encode()
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw)
        except ValueError:
            return (
                502,
                [("Content-Type", "application/json")],
                b'{"message":"Internal Server Error"}',
            )
    else:
        data = raw.encode()
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return status, headers, data
