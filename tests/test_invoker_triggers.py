"""Triggers against a real server: HTTP routes (API Gateway payload 2.0), bucket directories (S3
notifications) and table streams (DynamoDB Streams batches, retries, bisection, order)."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
import requests

from logsvc.invoker.apigw import Router, http_response
from logsvc.invoker.functions import HttpRoute
from logsvc.invoker.tables import to_attr
from tests.conftest import wait_for
from tests.test_invoker_support import serve_project

HANDLERS = """
import base64, json, os

def api(event, context):
    if event["routeKey"] == "GET /plain":
        return {"plain": True}
    if event["routeKey"] == "GET /text":
        return "just text"
    if event["routeKey"] == "GET /boom":
        raise RuntimeError("nope")
    return {
        "statusCode": 201,
        "headers": {"x-route": event["routeKey"]},
        "cookies": ["a=1", "b=2"],
        "body": json.dumps(event),
    }

def record(event, context):
    # every delivery is appended to a file, so tests see exactly what arrived and in which order
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
    for r in event.get("Records", []):
        image = r.get("dynamodb", {}).get("NewImage") or {}
        if image.get("poison", {}).get("BOOL"):
            raise ValueError("poison record")
    return None
"""

PROJECT = """
[invoker]
idle_timeout = 30

[functions.api]
handler = "handlers.api"
code = "fns"
http = [
  { method = "GET", path = "/plain" },
  { method = "GET", path = "/text" },
  { method = "GET", path = "/boom" },
  { method = "ANY", path = "/items/{id}" },
  { method = "GET", path = "/files/{path+}" },
]

[functions.on-upload]
handler = "handlers.record"
code = "fns"
environment = {{ OUT = "{out}/uploads.jsonl" }}
bucket = [{{ bucket = "uploads", prefix = "in/", suffix = ".csv" }}]

[functions.consumer]
handler = "handlers.record"
code = "fns"
environment = {{ OUT = "{out}/orders.jsonl" }}
table = [{{ table = "orders", batch_size = 100, batching_window = 0.5 }}]

[functions.bisector]
handler = "handlers.record"
code = "fns"
environment = {{ OUT = "{out}/events.jsonl" }}
table = [{{ table = "events", batch_size = 4, bisect_on_error = true, max_retries = 1, retry_delay = 0.05, on_failure = "dlq" }}]

[functions.dlq]
handler = "handlers.record"
code = "fns"
environment = {{ OUT = "{out}/dlq.jsonl" }}

[tables.orders]
key = "id"

[tables.events]
key = "pk"
sort_key = "n"
stream_view_type = "NEW_IMAGE"
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("triggers")
    (root / "fns").mkdir()
    (root / "fns" / "handlers.py").write_text(HANDLERS)
    (root / "out").mkdir()
    toml = root / "logsvc.toml"
    toml.write_text(
        PROJECT.replace("{{", "\0")
        .replace("}}", "\1")
        .replace("{out}", str(root / "out"))
        .replace("\0", "{")
        .replace("\1", "}")
    )
    data = root / "data"
    data.mkdir()
    s = serve_project(data, toml)
    s.out = root / "out"
    yield s
    s.stop()


def deliveries(srv, name: str) -> list[dict]:
    path = srv.out / name
    if not path.exists():
        return []
    complete = path.read_text().split("\n")[:-1]  # the last piece may still be being written
    return [json.loads(line) for line in complete if line]


# ---- HTTP --------------------------------------------------------------------------------------------


def test_router_prefers_the_most_specific_route():
    r = Router(
        [
            HttpRoute("ANY", "/{proxy+}", "catchall"),
            HttpRoute("GET", "/items/{id}", "item"),
            HttpRoute("GET", "/items/new", "new"),
        ]
    )
    assert r.match("GET", "/items/new")[0].function == "new"
    assert r.match("GET", "/items/7") == (HttpRoute("GET", "/items/{id}", "item"), {"id": "7"})
    assert r.match("POST", "/items/7")[0].function == "catchall"
    assert r.match("GET", "/a/b/c")[1] == {"proxy": "a/b/c"}


@pytest.mark.parametrize(
    "result, expected",
    [
        ({"statusCode": 204}, (204, b"")),
        ({"statusCode": 200, "body": "aGk=", "isBase64Encoded": True}, (200, b"hi")),
        ({"ok": 1}, (200, b'{"ok": 1}')),
        ("hello", (200, b"hello")),
        ([1, 2], (200, b"[1, 2]")),
    ],
)
def test_http_response_maps_results_like_api_gateway(result, expected):
    status, _, body = http_response(json.dumps(result).encode(), failed=False)
    assert (status, body) == expected


def test_http_route_gets_a_payload_v2_event_and_its_response_is_mapped(srv):
    r = requests.post(
        srv.url + "/http/items/42?x=1&x=2&y=3",
        data=b'{"a": 1}',
        headers={"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2", "X-Custom": "yes"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    assert r.headers["x-route"] == "ANY /items/{id}"
    assert "a=1" in r.headers["Set-Cookie"] and "b=2" in r.headers["Set-Cookie"]
    event = r.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /items/{id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "x=1&x=2&y=3"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "3"}
    assert event["pathParameters"] == {"id": "42"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-custom"] == "yes"
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["http"]["method"] == "POST" and ctx["http"]["path"] == "/items/42"
    assert ctx["stage"] == "$default" and ctx["routeKey"] == "ANY /items/{id}"
    recs = requests.get(
        srv.url + "/api/v1/invocations", params={"function": "api"}, timeout=10
    ).json()["invocations"]
    assert recs[-1]["trigger"] == {
        "type": "http",
        "routeKey": "ANY /items/{id}",
        "path": "/items/42",
    }


def test_http_plain_results_errors_greedy_paths_and_unmapped(srv):
    r = requests.get(srv.url + "/http/plain", timeout=30)
    assert (r.status_code, r.headers["Content-Type"], r.json()) == (
        200,
        "application/json",
        {"plain": True},
    )
    assert requests.get(srv.url + "/http/text", timeout=30).text == "just text"
    r = requests.get(srv.url + "/http/boom", timeout=30)
    assert (r.status_code, r.json()) == (502, {"message": "Internal Server Error"})
    r = requests.get(srv.url + "/http/files/a/b%20c.txt", timeout=30)
    assert r.json()["pathParameters"] == {"path": "a/b c.txt"}
    r = requests.get(srv.url + "/http/nowhere", timeout=30)
    assert (r.status_code, r.json()) == (404, {"message": "Not Found"})
    r = requests.delete(srv.url + "/http/plain", timeout=30)
    assert r.status_code == 404


# ---- buckets -------------------------------------------------------------------------------------------


def test_a_matching_file_triggers_exactly_one_s3_event_and_others_none(srv):
    bucket = srv.data_dir / "buckets" / "uploads"
    (bucket / "in").mkdir(parents=True, exist_ok=True)
    (bucket / "in" / "skip.txt").write_text("wrong suffix")
    (bucket / "other").mkdir(exist_ok=True)
    (bucket / "other" / "skip.csv").write_text("wrong prefix")
    (bucket / "in" / "my report.csv").write_text("a,b\n1,2\n")
    got = wait_for(
        lambda: deliveries(srv, "uploads.jsonl"), timeout=10, what="the bucket invocation"
    )
    time.sleep(1.0)  # anything else would have arrived by now
    got = deliveries(srv, "uploads.jsonl")
    assert len(got) == 1
    rec = got[0]["Records"][0]
    assert rec["eventSource"] == "aws:s3" and rec["eventName"] == "ObjectCreated:Put"
    assert rec["s3"]["bucket"]["name"] == "uploads"
    assert rec["s3"]["bucket"]["arn"] == "arn:aws:s3:::uploads"
    obj = rec["s3"]["object"]
    assert obj["key"] == "in/my+report.csv"
    assert obj["size"] == 8 and obj["eTag"] == hashlib.md5(b"a,b\n1,2\n").hexdigest()
    assert len(obj["sequencer"]) >= 16
    recs = wait_for(
        lambda: requests.get(
            srv.url + "/api/v1/invocations", params={"function": "on-upload"}, timeout=10
        ).json()["invocations"],
        timeout=10,
        what="the invocation record (written after the handler returns)",
    )
    assert recs[0]["trigger"] == {
        "type": "bucket",
        "bucket": "uploads",
        "key": "in/my report.csv",
        "eventName": "ObjectCreated:Put",
    }
    assert recs[0]["invocationType"] == "Event"

    # rename inside the bucket = Copy of the new key + Delete of the old one; delete = Delete
    (bucket / "in" / "my report.csv").rename(bucket / "in" / "final.csv")
    wait_for(
        lambda: len(deliveries(srv, "uploads.jsonl")) >= 3,
        timeout=10,
        what="copy and delete events",
    )
    names = sorted(
        d["Records"][0]["eventName"] + " " + d["Records"][0]["s3"]["object"]["key"]
        for d in deliveries(srv, "uploads.jsonl")[1:]
    )
    assert names == ["ObjectCreated:Copy in/final.csv", "ObjectRemoved:Delete in/my+report.csv"]
    (bucket / "in" / "final.csv").unlink()
    wait_for(
        lambda: len(deliveries(srv, "uploads.jsonl")) >= 4, timeout=10, what="the delete event"
    )
    last = deliveries(srv, "uploads.jsonl")[-1]["Records"][0]
    assert last["eventName"] == "ObjectRemoved:Delete" and "size" not in last["s3"]["object"]


# ---- tables ----------------------------------------------------------------------------------------------


def test_250_items_with_batch_size_100_arrive_as_100_100_50_in_order(srv):
    items = [{"id": f"o{i:03d}", "n": i, "total": i * 1.5} for i in range(250)]
    r = requests.post(srv.url + "/api/v1/tables/orders/items", json={"items": items}, timeout=30)
    assert r.status_code == 200 and r.json() == {"written": 250}
    wait_for(
        lambda: sum(len(d["Records"]) for d in deliveries(srv, "orders.jsonl")) >= 250,
        timeout=20,
        what="250 records",
    )
    batches = deliveries(srv, "orders.jsonl")
    assert [len(b["Records"]) for b in batches] == [100, 100, 50]
    flat = [r for b in batches for r in b["Records"]]
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in flat] == [f"o{i:03d}" for i in range(250)]
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in flat]
    assert seqs == sorted(seqs) and len(set(seqs)) == 250
    first = flat[0]
    assert first["eventName"] == "INSERT" and first["eventSource"] == "aws:dynamodb"
    assert first["dynamodb"]["NewImage"] == {
        "id": {"S": "o000"},
        "n": {"N": "0"},
        "total": {"N": "0.0"},
    }
    assert (
        "OldImage" not in first["dynamodb"]
        and first["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    )

    def records() -> list:
        return requests.get(
            srv.url + "/api/v1/invocations", params={"function": "consumer"}, timeout=10
        ).json()["invocations"]

    # the handler writes its delivery before the invoker writes the invocation's record
    wait_for(lambda: len(records()) >= 3, timeout=10, what="three invocation records")
    assert [r["trigger"]["batchSize"] for r in records()] == [100, 100, 50]


def test_update_and_delete_produce_modify_and_remove_with_images(srv):
    before = len(deliveries(srv, "orders.jsonl"))
    url = srv.url + "/api/v1/tables/orders/items"
    assert requests.put(url, json={"id": "x1", "status": "new"}, timeout=10).status_code == 200
    r = requests.patch(url, json={"key": {"id": "x1"}, "set": {"status": "paid"}}, timeout=10)
    assert r.json()["item"] == {"id": "x1", "status": "paid"}
    assert requests.delete(url, json={"key": {"id": "x1"}}, timeout=10).json() == {"deleted": True}
    wait_for(
        lambda: sum(len(d["Records"]) for d in deliveries(srv, "orders.jsonl")[before:]) >= 3,
        timeout=10,
        what="3 records",
    )
    recs = [r for d in deliveries(srv, "orders.jsonl")[before:] for r in d["Records"]]
    assert [r["eventName"] for r in recs] == ["INSERT", "MODIFY", "REMOVE"]
    assert recs[1]["dynamodb"]["OldImage"]["status"] == {"S": "new"}
    assert recs[1]["dynamodb"]["NewImage"]["status"] == {"S": "paid"}
    assert (
        recs[2]["dynamodb"]["OldImage"]["status"] == {"S": "paid"}
        and "NewImage" not in recs[2]["dynamodb"]
    )
    r = requests.put(url, json={"no_id": 1}, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["field"] == "item"
    assert requests.get(srv.url + "/api/v1/tables/nope/items", timeout=10).status_code == 404


def test_failed_batch_is_bisected_and_retried_without_losing_or_reordering(srv):
    items = [{"pk": "k", "n": i, "poison": i == 5} for i in range(8)]
    requests.post(srv.url + "/api/v1/tables/events/items", json={"items": items}, timeout=30)
    wait_for(
        lambda: deliveries(srv, "dlq.jsonl"),
        timeout=20,
        what="the poison record's on-failure record",
    )
    time.sleep(0.5)
    calls = [
        [r["dynamodb"]["NewImage"]["n"]["N"] for r in d["Records"]]
        for d in deliveries(srv, "events.jsonl")
    ]
    # batches of 4: [0-3] ok; [4-7] fails, bisected to [4,5] (fails) -> [4] ok, [5] fails twice -> dlq; [6,7] ok
    ok_order = [n for c in calls for n in c if c != ["5"] and "5" not in c]
    assert ok_order == ["0", "1", "2", "3", "4", "6", "7"]
    assert calls.count(["5"]) == 2  # 1 attempt + max_retries = 1
    assert "NewImage" in deliveries(srv, "events.jsonl")[0]["Records"][0]["dynamodb"]
    assert "OldImage" not in deliveries(srv, "events.jsonl")[0]["Records"][0]["dynamodb"]
    dlq = deliveries(srv, "dlq.jsonl")
    assert len(dlq) == 1
    info = dlq[0]["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
    assert dlq[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_typed_attribute_values():
    assert to_attr({"a": [1, "x", None, True, {"b": 2.5}]}) == {
        "M": {
            "a": {
                "L": [
                    {"N": "1"},
                    {"S": "x"},
                    {"NULL": True},
                    {"BOOL": True},
                    {"M": {"b": {"N": "2.5"}}},
                ]
            }
        }
    }


def test_table_cli_put_update_delete_scan(srv):
    from click.testing import CliRunner

    from logsvc.invoker.commands import table

    def run(*args: str):
        return CliRunner().invoke(
            table, list(args), env={"LOGSVC_URL": srv.url}, catch_exceptions=False
        )

    out = run("put", "orders", '{"id": "c1", "qty": 1}', '{"id": "c2", "qty": 2}')
    assert out.exit_code == 0 and out.output == "written: 2\n"
    out = run("update", "orders", "--key", '{"id": "c1"}', "--set", '{"qty": 5}')
    assert json.loads(out.output) == {"id": "c1", "qty": 5}
    assert run("delete", "orders", '{"id": "c2"}').output == "deleted\n"
    rows = [json.loads(line) for line in run("scan", "orders").output.splitlines()]
    assert {"id": "c1", "qty": 5} in rows and all(r.get("id") != "c2" for r in rows)
