"""Every example in examples/ runs against a real server with examples/logsvc.toml, unmodified."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from tests.conftest import wait_for
from tests.test_invoker_support import serve_project

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("examples") / "data"
    data.mkdir()
    s = serve_project(data, EXAMPLES / "logsvc.toml")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def lam(srv):
    return boto3.client(
        "lambda",
        endpoint_url=srv.url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )


def invocations(srv, **params) -> list[dict]:
    r = requests.get(srv.url + "/api/v1/invocations", params={"limit": 1000, **params}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["invocations"]


def messages(srv, function: str) -> list[str]:
    from logsvc.errors import NotFound

    store = srv.store
    group = f"/aws/lambda/{function}"
    out: list[str] = []
    try:
        store.get_group(group)
    except NotFound:
        return out
    for s in store.list_streams(group):
        raw = store.stream_file(group, s.name).read_text()
        out += [line.split(" ", 1)[1] for line in raw.split("\n") if line]
    return out


def test_fan_out_fan_in_can_be_followed_from_the_splitter_to_the_aggregator(srv, lam):
    out = lam.invoke(
        FunctionName="splitter", Payload=json.dumps({"numbers": list(range(1, 41)), "parts": 4})
    )
    assert "FunctionError" not in out, out["Payload"].read()
    root = out["ResponseMetadata"]["RequestId"]
    assert json.loads(out["Payload"].read()) == {"job": root, "parts": 4}

    workers = wait_for(
        lambda: (w := invocations(srv, parent=root)) and len(w) == 4 and w,
        timeout=30,
        what="4 workers",
    )
    assert {w["function"] for w in workers} == {"worker"}
    assert all(w["invocationType"] == "Event" for w in workers)

    def aggregators() -> list[dict]:
        out = []
        for w in workers:
            out += invocations(srv, parent=w["requestId"])
        return out if len(out) == 4 else []

    aggs = wait_for(aggregators, timeout=30, what="4 aggregator invocations")
    assert {a["function"] for a in aggs} == {"aggregator"}
    assert all(a["status"] == "success" for a in workers + aggs)
    total = sum(n * n for n in range(1, 41))
    assert any(f"job {root} complete: total = {total}" in m for m in messages(srv, "aggregator"))


def test_web_service_behind_http_routes(srv):
    base = srv.url + "/http"
    assert requests.get(base + "/hello?name=dev", timeout=30).json() == {"message": "hello, dev"}
    r = requests.post(base + "/items", json={"id": "a1", "name": "widget"}, timeout=30)
    assert r.status_code == 201 and r.json() == {"id": "a1", "name": "widget"}
    r = requests.get(base + "/items/a1", timeout=30)
    # the item lives in a warm container's memory, which this sequential client keeps hitting
    assert (r.status_code, r.json()) == (200, {"id": "a1", "name": "widget"})
    assert requests.get(base + "/items/zz", timeout=30).status_code == 404
    assert requests.post(base + "/items", data=b"not json", timeout=30).status_code == 400
    assert any(
        "[WARNING]" in m and "rejected a body that is not JSON" in m for m in messages(srv, "web")
    )


def test_pub_sub_delivers_one_notification_to_each_subscriber(srv, lam):
    out = lam.invoke(
        FunctionName="publisher",
        Payload=json.dumps({"topic": "orders", "message": {"order": 7, "email": "a@b.c"}}),
    )
    root = out["ResponseMetadata"]["RequestId"]
    assert json.loads(out["Payload"].read()) == {"subscribers": 2}
    subs = wait_for(
        lambda: (
            (s := invocations(srv, parent=root))
            and len(s) == 2
            and all(x["status"] == "success" for x in s)
            and s
        ),
        timeout=20,
        what="2 subscribers",
    )
    assert {s["function"] for s in subs} == {"email-subscriber", "audit-subscriber"}
    assert subs[0]["event"]["Records"][0]["EventSource"] == "aws:sns"
    assert "sending email for order 7 to a@b.c" in messages(srv, "email-subscriber")


def test_bucket_triggered_processor(srv):
    incoming = srv.data_dir / "buckets" / "uploads" / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    (incoming / "notes 1.txt").write_text("one two three\nfour five\n")
    wait_for(
        lambda: any(
            "processed s3://uploads/incoming/notes 1.txt: 2 lines, 5 words" in m
            for m in messages(srv, "thumbnailer")
        ),
        timeout=20,
        what="the processor's log line",
    )


def test_table_stream_consumer_gets_batches(srv):
    items = [{"id": f"order-{i}", "total": i} for i in range(150)]
    assert (
        requests.post(
            srv.url + "/api/v1/tables/orders/items", json={"items": items}, timeout=30
        ).status_code
        == 200
    )
    recs = wait_for(
        lambda: (
            (r := invocations(srv, function="order-stream"))
            and sum(x["trigger"]["batchSize"] for x in r) >= 150
            and r
        ),
        timeout=20,
        what="150 records in batches",
    )
    assert [r["trigger"]["batchSize"] for r in recs] == [100, 50]
    assert any("batch of 100 records ({'INSERT': 100})" in m for m in messages(srv, "order-stream"))


def test_always_failing_function_shows_its_retries_then_the_dead_letter(srv, lam):
    out = lam.invoke(
        FunctionName="flaky", InvocationType="Event", Payload=json.dumps({"order": 99})
    )
    rid = out["ResponseMetadata"]["RequestId"]
    dead = wait_for(
        lambda: invocations(srv, parent=rid), timeout=20, what="the dead-letter invocation"
    )
    attempts = invocations(srv, requestId=rid, function="flaky")
    assert [a["attempt"] for a in attempts] == [1, 2, 3] and {a["status"] for a in attempts} == {
        "error"
    }
    assert dead[0]["function"] == "dead-letter"
    time.sleep(0.3)
    assert any(
        f"gave up on {rid} after 3 attempts (RetriesExhausted)" in m
        for m in messages(srv, "dead-letter")
    )
