"""Schemathesis against the REST API's OpenAPI document, on a real server with data in it.

The schema is built from `logsvc.api.openapi.openapi_document()` at collection time (Schemathesis
parametrizes then) and a test pins that the server serves exactly that document. Every operation
gets generated requests, valid and invalid; checks: no 5xx, documented status codes, documented
content types, responses conform to their schemas. The SSE tail is excluded from generation (it
never ends) and tested by hand below.

Examples per operation: 40 in CI, 500 with LOGSVC_FULL_TESTS=1. Needs `schemathesis` (test extra).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from logsvc.api.openapi import openapi_document
from tests.conftest import Server, start_server, wait_for
from tests.helpers_faults import FULL, all_events

EXAMPLES = 500 if FULL else 40
schema = schemathesis.openapi.from_dict(openapi_document())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def st_server(tmp_path_factory) -> Server:
    data_dir: Path = tmp_path_factory.mktemp("schemathesis") / "data"
    data_dir.mkdir()
    s = start_server(data_dir)
    store = s.store
    for g in ("/aws/lambda/a", "/aws/lambda/b", "a", "0"):
        for st in ("s1", "2026/11/27/[$LATEST]abc", "0"):
            p = store.ensure_stream(g, st)
            with open(p, "a") as f:
                f.write(
                    "".join(
                        f'2026-11-27T10:00:{i:02d}.000Z INFO request {i} ERROR? {{"level": "INFO"}}\n'
                        for i in range(30)
                    )
                )
                f.write('{"level": "ERROR", "message": "json", "requestId": "r1"}\n')
    wait_for(lambda: len(all_events(s.url, "/aws/lambda/a")) == 93, what="seeded")
    yield s
    s.stop()


def test_served_document_is_the_one_tested(st_server: Server) -> None:
    r = requests.get(st_server.url + "/api/v1/openapi.json", timeout=10)
    assert r.status_code == 200 and r.json() == openapi_document()
    assert r.json()["openapi"].startswith("3.")


@schema.exclude(path="/api/v1/tail").parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case, st_server: Server) -> None:
    t0 = time.monotonic()
    case.call_and_validate(base_url=st_server.url, checks=CHECKS, timeout=30)
    assert time.monotonic() - t0 < 20, "slow response"


@schema.exclude(path="/api/v1/tail").parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_rejects_what_the_document_forbids(case, st_server: Server) -> None:
    """A request that violates the document (wrong type, empty where minLength 1, bad pattern) gets a 4xx."""
    case.call_and_validate(
        base_url=st_server.url, checks=[not_a_server_error, negative_data_rejection], timeout=30
    )


def test_tail_conforms(st_server: Server) -> None:
    doc = openapi_document()["paths"]["/api/v1/tail"]["get"]
    r = requests.get(
        st_server.url + "/api/v1/tail",
        params={"group": "/aws/lambda/a", "since": "0"},
        stream=True,
        timeout=10,
    )
    assert str(r.status_code) in doc["responses"]
    assert r.headers["Content-Type"].startswith("text/event-stream")
    assert "text/event-stream" in doc["responses"]["200"]["content"]
    r.close()
    for params in ({"group": "/nope"}, {"group": "bad name"}, {"group": "a", "heartbeat": "0"}):
        r = requests.get(st_server.url + "/api/v1/tail", params=params, timeout=10)
        assert str(r.status_code) in doc["responses"] or "4XX" in doc["responses"], (
            params,
            r.status_code,
        )
        assert r.headers["Content-Type"].startswith("application/json")
