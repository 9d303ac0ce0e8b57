"""The OpenAPI document cannot drift from the app: every rule is documented, every documented path is a rule.

The document (api/openapi.py) is written by hand, so this walks `app.url_map` of the real app: each
`/api/...`, `/healthz` and `/v1/logs` (OTLP) rule and method must be an operation and each operation a rule, and every
status the error table (tests/test_errors.py) observes on such a route must be in its responses,
as must the statuses the auth gate gives every route (403 foreign Host; 401 without the token).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.exceptions import MethodNotAllowed, NotFound

from logsvc.api.openapi import openapi_document
from logsvc.app import create_app
from logsvc.config import Settings
from logsvc.service import Service
from tests.test_errors import CASES

METHODS = {"get", "put", "post", "patch", "delete"}
PUBLIC = {"/healthz", "/api/v1/openapi.json"}  # no token asked (auth.py)


def _template(path: str) -> str:
    """`/api/v1/insights/<qid>` and `/api/v1/insights/{queryId}` both -> `/api/v1/insights/{}`."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    service = Service(Settings(data_dir=tmp_path_factory.mktemp("openapi"), port=0))
    try:
        yield create_app(service)
    finally:
        service.close()


def _served(app: Flask) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.rule in ("/healthz", "/v1/logs"):
            out.setdefault(_template(rule.rule), set()).update(
                m.lower() for m in rule.methods or () if m.lower() in METHODS
            )
    return out


def _documented() -> dict[str, dict]:
    return {
        _template(p): {m: op for m, op in item.items() if m in METHODS}
        for p, item in openapi_document()["paths"].items()
    }


def test_every_route_is_documented_and_every_documented_path_is_a_route(app: Flask) -> None:
    served, documented = _served(app), _documented()
    assert served, "no /api rules found: the walk itself is broken"
    assert {p: sorted(ms) for p, ms in served.items()} == {
        p: sorted(ops) for p, ops in documented.items()
    }


def test_auth_statuses_are_documented_on_every_operation() -> None:
    for path, ops in _documented().items():
        for method, op in ops.items():
            want = {"403"} | (set() if path in PUBLIC else {"401"})
            assert want <= set(op["responses"]), (method, path, sorted(op["responses"]))
            assert "414" not in op["responses"], (method, path)  # the app never sends it


def test_every_status_the_error_table_observes_is_documented(app: Flask) -> None:
    adapter = app.url_map.bind("localhost")
    documented = _documented()
    checked = 0
    for case in CASES:
        if not (case.path.startswith("/api/") or case.path in ("/healthz", "/v1/logs")):
            continue
        try:
            rule, _ = adapter.match(case.path, case.method, return_rule=True)
        except (NotFound, MethodNotAllowed):
            assert case.status in (404, 405), (
                case.name
            )  # no operation to document: the router's own answer
            continue
        op = documented[_template(rule.rule)][case.method.lower()]
        assert str(case.status) in op["responses"], (
            case.name,
            case.method,
            rule.rule,
            sorted(op["responses"]),
        )
        checked += 1
    assert checked >= 10, checked
