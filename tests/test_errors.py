"""Every status each surface can return, in that surface's own error shape: one table over real servers.

Why one table: error writing had several owners (a REST writer that dropped `rule` and `hint`, an
HTTPException handler that called every unlisted status "BadRequest" and lost `Allow`), and each
drifted on its own. The rows below are what a client sees; tests/test_openapi.py checks that every
status a row observes on an `/api/...` route is in the OpenAPI document.

Two real servers (gunicorn, one worker, temp data dirs): `main` with a token and one tail slot, and
`broken` whose paging key is damaged, so a paging token hits the 5xx path (REST 507, CloudWatch 500)
without patching anything. The Lambda surface's rows pin its statuses as they are today.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    NotImplemented,
    ServiceUnavailable,
)

from tests.conftest import Server, start_server

TOKEN = "errors-table-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CW = {"Content-Type": "application/x-amz-json-1.1"}
BIG = b'{"query": "' + b"x" * (9 * 1024 * 1024) + b'"}'  # over app.MAX_BODY (8 MiB)
REST_KEYS = {"code", "message", "field", "rule", "hint", "position", "end"}


def cw(op: str, body: object = None, auth: bool = True, raw: bytes | None = None) -> dict:
    headers = {**CW, "X-Amz-Target": f"Logs_20140328.{op}", **(AUTH if auth else {})}
    return {"headers": headers, "data": raw if raw is not None else json.dumps(body or {})}


@dataclass
class Case:
    name: str
    method: str
    path: str
    status: int
    shape: str  # rest | cloudwatch | lambda | apigw | otlp | json | html | static
    code: str | None = None  # the REST `code`, CloudWatch `__type` or Lambda `x-amzn-ErrorType`
    kw: dict = field(default_factory=dict)
    server: str = "main"
    holding: str | None = None  # "tail": hold the server's only tail slot while the request runs
    check: Callable[[requests.Response], object] | None = None


def _allow_get(r: requests.Response) -> object:
    assert "GET" in r.headers.get("Allow", ""), dict(r.headers)
    return True


def _allow_post(r: requests.Response) -> object:
    assert "POST" in r.headers.get("Allow", ""), dict(r.headers)
    return True


def _rule_and_field(field_name: str) -> Callable[[requests.Response], object]:
    def check(r: requests.Response) -> object:
        err = r.json()["error"]
        assert err["field"] == field_name and err.get("rule"), err
        return True

    return check


def _hint(r: requests.Response) -> object:
    assert r.json()["error"].get("hint"), r.text
    return True


def _www_authenticate(r: requests.Response) -> object:
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), dict(r.headers)
    return True


EVIL = {"Host": "evil.example"}
OTLP_JSON = {"Content-Type": "application/json"}
CASES = [
    # ---- REST (/api/*, /healthz) -------------------------------------------------------------------
    Case("rest ok", "GET", "/api/v1/groups", 200, "json", kw={"headers": AUTH}),
    Case("healthz", "GET", "/healthz", 200, "json"),
    Case("openapi is public", "GET", "/api/v1/openapi.json", 200, "json"),
    Case(
        "rest bad parameter",
        "GET",
        "/api/v1/events",
        400,
        "rest",
        "InvalidParameter",
        kw={"headers": AUTH, "params": {"limit": "0"}},
        check=_rule_and_field("limit"),
    ),
    Case(
        "rest bad body",
        "POST",
        "/api/v1/insights",
        400,
        "rest",
        "InvalidParameter",
        kw={"headers": {**AUTH, "Content-Type": "application/json"}, "data": b"[1]"},
        check=_rule_and_field("body"),
    ),
    Case(
        "rest no token",
        "GET",
        "/api/v1/groups",
        401,
        "rest",
        "Unauthorized",
        check=_www_authenticate,
    ),
    Case(
        "rest wrong token",
        "GET",
        "/api/v1/groups",
        401,
        "rest",
        "Unauthorized",
        kw={"headers": {"Authorization": "Bearer " + "x" * len(TOKEN)}},
    ),
    Case(
        "rest foreign Host",
        "GET",
        "/api/v1/groups",
        403,
        "rest",
        "ForbiddenHost",
        kw={"headers": {**AUTH, **EVIL}},
    ),
    Case(
        "healthz foreign Host",
        "GET",
        "/healthz",
        403,
        "rest",
        "ForbiddenHost",
        kw={"headers": EVIL},
    ),
    Case(
        "rest unknown group",
        "GET",
        "/api/v1/streams",
        404,
        "rest",
        "NotFound",
        kw={"headers": AUTH, "params": {"group": "/nope"}},
    ),
    Case(
        "rest unknown route", "GET", "/api/v1/nope", 404, "rest", "NotFound", kw={"headers": AUTH}
    ),
    Case(
        "rest wrong method",
        "POST",
        "/api/v1/groups",
        405,
        "rest",
        "MethodNotAllowed",
        kw={"headers": AUTH},
        check=_allow_get,
    ),
    Case(
        "rest body too large",
        "POST",
        "/api/v1/insights",
        413,
        "rest",
        "PayloadTooLarge",
        kw={"headers": {**AUTH, "Content-Type": "application/json"}, "data": BIG},
    ),
    Case(
        "rest tail cap",
        "GET",
        "/api/v1/tail",
        503,
        "rest",
        "LimitExceeded",
        kw={"headers": AUTH, "params": {"group": "/err/g"}},
        holding="tail",
    ),
    Case(
        "rest storage fault",
        "GET",
        "/api/v1/groups",
        507,
        "rest",
        "StorageError",
        kw={"params": {"nextToken": "x"}},
        server="broken",
        check=_hint,
    ),
    Case("invocations ok", "GET", "/api/v1/invocations", 200, "json", kw={"headers": AUTH}),
    Case(
        "invocations bad limit",
        "GET",
        "/api/v1/invocations",
        400,
        "rest",
        "InvalidParameter",
        kw={"headers": AUTH, "params": {"limit": "0"}},
        check=_rule_and_field("limit"),
    ),
    Case("functions ok", "GET", "/api/v1/functions", 200, "json", kw={"headers": AUTH}),
    Case(
        "tables without a project",
        "GET",
        "/api/v1/tables/t/items",
        404,
        "rest",
        "NotFound",
        kw={"headers": AUTH},
        check=_hint,
    ),
    # ---- CloudWatch (POST / with X-Amz-Target) -------------------------------------------------------
    Case("cw ok", "POST", "/", 200, "json", kw=cw("DescribeLogGroups")),
    Case(
        "cw unknown operation",
        "POST",
        "/",
        400,
        "cloudwatch",
        "UnknownOperationException",
        kw=cw("Nope"),
    ),
    Case(
        "cw bad json",
        "POST",
        "/",
        400,
        "cloudwatch",
        "SerializationException",
        kw=cw("DescribeLogGroups", raw=b"{"),
    ),
    Case(
        "cw bad parameter",
        "POST",
        "/",
        400,
        "cloudwatch",
        "InvalidParameterException",
        kw=cw("DescribeLogGroups", {"limit": 0}),
    ),
    Case(
        "cw unknown group",
        "POST",
        "/",
        400,
        "cloudwatch",
        "ResourceNotFoundException",
        kw=cw("GetLogEvents", {"logGroupName": "/nope", "logStreamName": "s"}),
    ),
    Case(
        "cw exists",
        "POST",
        "/",
        400,
        "cloudwatch",
        "ResourceAlreadyExistsException",
        kw=cw("CreateLogGroup", {"logGroupName": "/err/g"}),
    ),
    Case(
        "cw no credentials",
        "POST",
        "/",
        400,
        "cloudwatch",
        "MissingAuthenticationTokenException",
        kw=cw("DescribeLogGroups", auth=False),
    ),
    Case(
        "cw foreign Host",
        "POST",
        "/",
        403,
        "cloudwatch",
        "ForbiddenHost",
        kw={**cw("DescribeLogGroups"), "headers": {**cw("DescribeLogGroups")["headers"], **EVIL}},
    ),
    Case(
        "cw wrong method",
        "PUT",
        "/",
        400,
        "cloudwatch",
        "UnknownOperationException",
        kw=cw("DescribeLogGroups"),
    ),
    Case(
        "cw body too large",
        "POST",
        "/",
        400,
        "cloudwatch",
        "InvalidParameterException",
        kw=cw("PutLogEvents", raw=BIG),
    ),
    Case(
        "cw storage fault",
        "POST",
        "/",
        500,
        "cloudwatch",
        "ServiceUnavailableException",
        kw={
            "headers": {**CW, "X-Amz-Target": "Logs_20140328.DescribeLogGroups"},
            "data": '{"nextToken": "x"}',
        },
        server="broken",
    ),
    # ---- Lambda API and HTTP routes (as they are today; api/lambda_api.py) --------------------------
    Case("lambda ok", "GET", "/2015-03-31/functions/", 200, "json", kw={"headers": AUTH}),
    Case(
        "lambda no credentials",
        "GET",
        "/2015-03-31/functions/",
        403,
        "lambda",
        "MissingAuthenticationTokenException",
    ),
    Case(
        "lambda unknown function",
        "GET",
        "/2015-03-31/functions/nope",
        404,
        "lambda",
        "ResourceNotFoundException",
        kw={"headers": AUTH},
    ),
    Case(
        "lambda invoke unknown",
        "POST",
        "/2015-03-31/functions/nope/invocations",
        404,
        "lambda",
        "ResourceNotFoundException",
        kw={"headers": AUTH, "data": b"{}"},
    ),
    Case(
        "lambda wrong method",
        "DELETE",
        "/2015-03-31/functions/",
        405,
        "rest",
        "MethodNotAllowed",
        kw={"headers": AUTH},
        check=_allow_get,
    ),
    Case("http route no token", "GET", "/http/x", 401, "apigw"),
    Case("http route unknown", "GET", "/http/x", 404, "apigw", kw={"headers": AUTH}),
    # ---- OpenTelemetry logs in (POST /v1/logs): google.rpc.Status in the request's encoding ------
    Case(
        "otlp no token",
        "POST",
        "/v1/logs",
        401,
        "otlp",
        kw={"headers": OTLP_JSON, "data": b"{}"},
        check=_www_authenticate,
    ),
    Case(
        "otlp foreign Host",
        "POST",
        "/v1/logs",
        403,
        "otlp",
        kw={"headers": {**AUTH, **OTLP_JSON, **EVIL}, "data": b"{}"},
    ),
    Case(
        "otlp undecodable",
        "POST",
        "/v1/logs",
        400,
        "otlp",
        kw={"headers": {**AUTH, "Content-Type": "application/x-protobuf"}, "data": b"\xff\xff"},
    ),
    Case(
        "otlp bad group header",
        "POST",
        "/v1/logs",
        400,
        "otlp",
        kw={"headers": {**AUTH, **OTLP_JSON, "x-aws-log-group": "a b"}, "data": b"{}"},
    ),
    Case(
        "otlp too large",
        "POST",
        "/v1/logs",
        413,
        "otlp",
        kw={"headers": {**AUTH, **OTLP_JSON}, "data": BIG},
    ),
    Case(
        "otlp not otlp",
        "POST",
        "/v1/logs",
        415,
        "otlp",
        kw={"headers": {**AUTH, "Content-Type": "text/plain"}, "data": b"hi"},
    ),
    Case(
        "otlp wrong method",
        "GET",
        "/v1/logs",
        405,
        "otlp",
        kw={"headers": AUTH},
        check=_allow_post,
    ),
    # ---- console and static files -----------------------------------------------------------------
    Case("console", "GET", "/", 200, "html"),
    Case("static", "GET", "/static/app.js", 200, "static"),
    Case("static missing", "GET", "/static/nope.js", 404, "rest", "NotFound"),
    Case(
        "static wrong method",
        "POST",
        "/static/app.js",
        405,
        "rest",
        "MethodNotAllowed",
        check=_allow_get,
    ),
    Case("no such page", "GET", "/nope", 404, "rest", "NotFound"),
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    main_dir: Path = tmp_path_factory.mktemp("errors-main") / "data"
    broken_dir: Path = tmp_path_factory.mktemp("errors-broken") / "data"
    for d in (main_dir, broken_dir):
        d.mkdir()
    (broken_dir / "paging.key").write_bytes(
        b"short"
    )  # present but unusable: a StorageError, never replaced
    env = {"LOGSVC_WORKERS": "1", "LOGSVC_MAX_TAIL_CLIENTS": "1"}
    out = {"main": start_server(main_dir, env={**env, "LOGSVC_TOKEN": TOKEN})}
    try:
        out["broken"] = start_server(broken_dir, env=env)
        out["main"].store.ensure_stream("/err/g", "s").write_text(
            "2026-11-27T10:00:00.000Z hello\n"
        )
        yield out
    finally:
        for s in out.values():
            s.stop()


def _holding(case: Case, server: Server) -> AbstractContextManager:
    if case.holding != "tail":
        return nullcontext()
    tail = requests.get(
        server.url + "/api/v1/tail",
        params={"group": "/err/g"},
        headers=AUTH,
        stream=True,
        timeout=10,
    )
    assert tail.status_code == 200, (
        tail.status_code
    )  # the precondition: this request took the one slot
    return tail


def check_shape(case: Case, r: requests.Response) -> None:
    ctype = r.headers.get("Content-Type", "")
    if case.shape == "rest":
        assert ctype.startswith("application/json"), ctype
        err = r.json()["error"]
        assert set(r.json()) == {"error"} and err["code"] == case.code, r.text
        assert "field" in err and isinstance(err["message"], str) and err["message"], err
        assert set(err) <= REST_KEYS, err
    elif case.shape == "cloudwatch":
        assert ctype.startswith("application/x-amz-json-1.1"), ctype
        body = r.json()
        assert body["__type"] == case.code and body["message"], body
        assert r.headers.get("x-amzn-RequestId")
    elif case.shape == "lambda":
        body = r.json()
        assert (
            r.headers.get("x-amzn-ErrorType") == case.code and body["Type"] and body["message"]
        ), (
            dict(r.headers),
            body,
        )
    elif case.shape == "apigw":
        assert set(r.json()) == {"message"}, r.text
    elif case.shape == "json":
        assert ctype.startswith(("application/json", "application/x-amz-json-1.1")) and isinstance(
            r.json(), dict
        )
    elif case.shape == "otlp":
        if ctype.startswith("application/json"):
            body = r.json()
            assert set(body) <= {"code", "message"} and body["message"], body
        else:
            from google.rpc.status_pb2 import Status

            assert ctype == "application/x-protobuf", ctype
            status = Status()
            status.ParseFromString(r.content)
            assert status.message, r.content
    elif case.shape == "html":
        assert ctype.startswith("text/html") and "Content-Security-Policy" in r.headers
    else:
        assert ctype.startswith("text/javascript") or ctype.startswith("application/javascript"), (
            ctype
        )
    assert r.headers.get("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_status_in_its_surface_shape(case: Case, servers: dict[str, Server]) -> None:
    server = servers[case.server]
    with _holding(case, server):
        r = requests.request(case.method, server.url + case.path, timeout=30, **case.kw)
    assert r.status_code == case.status, (r.status_code, r.text[:300])
    check_shape(case, r)
    if case.check is not None:
        case.check(r)


@pytest.mark.parametrize("exc", [InternalServerError(), NotImplemented(), ServiceUnavailable()])
def test_werkzeug_5xx_stays_5xx_in_the_rest_shape(exc: HTTPException) -> None:
    """No request reaches these from outside (the table has the reachable 5xx); the writer keeps the status."""
    from flask import Flask

    from logsvc.api.errors import http_error_response

    with Flask(__name__).test_request_context("/api/v1/groups"):
        r = http_error_response(exc)
    assert r.status_code == exc.code and r.get_json()["error"]["code"] not in ("BadRequest", None)
    assert r.status_code != 500 or r.get_json()["error"]["code"] == "InternalError"
