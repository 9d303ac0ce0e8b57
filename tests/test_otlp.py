"""Issue #13 item 5: OpenTelemetry logs in through `POST /v1/logs`, on one real server with a token.

Producers are the real clients: the OpenTelemetry Python SDK's OTLP/HTTP log exporter, unmodified,
behind a `logging.LoggingHandler`; and hand-written OTLP JSON sent with requests. What they wrote is
read back with boto3's FilterLogEvents and GetLogEvents (filter patterns on the record's fields),
so the test checks the endpoint from outside, as a user would.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from tests.conftest import Server, start_server, wait_for
from tests.helpers_sigv4 import signed

TOKEN = "otlp-token-" + "5" * 30
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data: Path = tmp_path_factory.mktemp("otlp") / "data"
    data.mkdir()
    s = start_server(data, "--workers", "1", env={"LOGSVC_TOKEN": TOKEN})
    yield s
    s.stop()


@pytest.fixture(scope="module")
def logs(server: Server):
    """boto3, signing with the token as its secret (how AWS SDKs reach a logsvc with --token)."""
    return boto3.client(
        "logs",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="otlp-test",
        aws_secret_access_key=TOKEN,
        config=Config(retries={"max_attempts": 1}),
    )


def _filter(logs, group: str, pattern: str, expect: int) -> list[dict]:
    def found() -> list[dict] | None:
        events = logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
        return events if len(events) == expect else None

    return wait_for(found, timeout=10, what=f"{expect} events for {pattern} in {group}")  # type: ignore[return-value]


def _sdk_logger(url: str, service: str, headers: dict[str, str], gzip: bool = False):
    """An app's logging set up the documented way: LoggerProvider + batch processor + OTLP/HTTP,
    with the LoggingHandler of opentelemetry-instrumentation-logging (the SDK's own is deprecated)."""
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource.create({"service.name": service}))
    from opentelemetry.exporter.otlp.proto.http import Compression

    exporter = OTLPLogExporter(
        endpoint=url + "/v1/logs",
        headers=headers,
        timeout=10,
        compression=Compression.Gzip if gzip else Compression.NoCompression,
    )
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    logger = logging.getLogger(f"otlp-test.{service}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    logger.addHandler(handler)
    return logger, provider, handler


def test_the_sdk_exporter_lands_records_in_the_header_group_with_severity_and_trace(
    server: Server, logs
) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("checkout")
    logger, provider, handler = _sdk_logger(
        server.url,
        "checkout",
        {**AUTH, "x-aws-log-group": "/otel/checkout", "x-aws-log-stream": "web-1"},
    )
    before = int(time.time() * 1000)
    try:
        with tracer.start_as_current_span("place-order") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            logger.info("order placed", extra={"order_id": "o-17"})
            logger.error("card declined", extra={"order_id": "o-17"})
        logger.warning("outside any span")
        assert provider.force_flush(10_000)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()
    after = int(time.time() * 1000)

    errors = _filter(logs, "/otel/checkout", '{ $.severityText = "ERROR" }', 1)
    record = json.loads(errors[0]["message"])
    assert record["body"] == "card declined"
    assert record["severityNumber"] == 17  # SeverityNumber.ERROR
    assert record["attributes"]["order_id"] == "o-17"
    assert record["resource"]["attributes"]["service.name"] == "checkout"
    assert errors[0]["logStreamName"] == "web-1"
    assert before <= errors[0]["timestamp"] <= after
    assert errors[0]["timestamp"] == int(record["timeUnixNano"]) // 1_000_000

    in_span = _filter(logs, "/otel/checkout", f'{{ $.traceId = "{trace_id}" }}', 2)
    assert [json.loads(e["message"])["body"] for e in in_span] == ["order placed", "card declined"]
    assert all(len(json.loads(e["message"])["spanId"]) == 16 for e in in_span)
    _filter(logs, "/otel/checkout", "{ $.severityNumber >= 13 }", 2)  # WARN and ERROR
    _filter(logs, "/otel/checkout", "{ $.resource.attributes.['service.name'] = \"checkout\" }", 3)

    # the console's JSON view: the REST API sees each event as a JSON object
    r = requests.get(
        server.url + "/api/v1/events",
        params={"group": "/otel/checkout", "start": "0"},
        headers=AUTH,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert [e["fields"].get("json") for e in r.json()["events"]] == [True, True, True]
    # severityText is the level the console colours and charts by
    assert [e["fields"].get("level") for e in r.json()["events"]] == ["INFO", "ERROR", "WARN"]


def test_without_headers_the_group_comes_from_service_name(server: Server, logs) -> None:
    """And the exporter's gzip compression (protobuf, Content-Encoding: gzip) is taken."""
    logger, provider, handler = _sdk_logger(server.url, "billing worker", dict(AUTH), gzip=True)
    try:
        logger.info("invoice sent")
        assert provider.force_flush(10_000)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()
    events = _filter(logs, "/otlp/billing_worker", '"invoice sent"', 1)
    # the SDK gives every process a service.instance.id; that is the stream (Lambda's layout)
    instance = json.loads(events[0]["message"])["resource"]["attributes"]["service.instance.id"]
    assert events[0]["logStreamName"] == instance and len(instance) == 36


def _json_request(records: list[dict], service: str = "json-app") -> dict:
    return {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                },
                "scopeLogs": [
                    {"scope": {"name": "handmade", "version": "1.0"}, "logRecords": records}
                ],
            }
        ]
    }


def test_a_json_request_keeps_hex_ids_int64_strings_and_reports_refused_records(
    server: Server, logs
) -> None:
    now_ns = time.time_ns()
    records = [
        {
            "timeUnixNano": str(now_ns),
            "severityNumber": 9,
            "severityText": "INFO",
            "body": {"kvlistValue": {"values": [{"key": "msg", "value": {"stringValue": "hi"}}]}},
            "traceId": TRACE_ID,
            "spanId": SPAN_ID,
            "flags": 1,
            "attributes": [
                {"key": "count", "value": {"intValue": "9007199254740993"}},
                {"key": "ok", "value": {"boolValue": True}},
                {"key": "tags", "value": {"arrayValue": {"values": [{"stringValue": "a"}]}}},
            ],
        },
        {"observedTimeUnixNano": str(now_ns + 1_000_000), "body": {"stringValue": "observed"}},
        {"timeUnixNano": str(now_ns - 15 * 86_400 * 10**9), "body": {"stringValue": "too old"}},
        {"timeUnixNano": str(now_ns), "body": {"stringValue": "x" * 1_100_000}},
    ]
    r = requests.post(
        server.url + "/v1/logs",
        data=gzip.compress(json.dumps(_json_request(records)).encode()),
        headers={
            **AUTH,
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "x-aws-log-group": "/otel/json",
            "x-aws-log-stream": "s/1",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    partial = r.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == "2"  # int64 as a string, as OTLP JSON writes it
    assert json.loads(partial["errorMessage"]) == {
        "tooOldLogEventCount": 1,
        "tooLargeLogEventCount": 1,
    }

    events = logs.get_log_events(
        logGroupName="/otel/json", logStreamName="s/1", startFromHead=True
    )["events"]
    assert len(events) == 2
    first, second = (json.loads(e["message"]) for e in events)
    assert first["traceId"] == TRACE_ID and first["spanId"] == SPAN_ID and first["flags"] == 1
    assert first["body"] == {"msg": "hi"}
    assert first["attributes"] == {"count": 9007199254740993, "ok": True, "tags": ["a"]}
    assert first["timeUnixNano"] == str(now_ns)
    assert first["scope"] == {"name": "handmade", "version": "1.0"}
    assert events[0]["timestamp"] == now_ns // 1_000_000
    assert second["body"] == "observed" and "timeUnixNano" not in second
    assert events[1]["timestamp"] == now_ns // 1_000_000 + 1  # from observedTimeUnixNano
    _filter(logs, "/otel/json", f'{{ $.spanId = "{SPAN_ID}" }}', 1)


def test_a_full_success_is_an_empty_response(server: Server) -> None:
    r = requests.post(
        server.url + "/v1/logs",
        json=_json_request([{"body": {"stringValue": "no time at all"}}]),
        headers={**AUTH, "x-aws-log-group": "/otel/json"},
        timeout=10,
    )
    assert r.status_code == 200 and r.json() == {}, r.text


def _status(r: requests.Response):
    """The google.rpc.Status of an error answer, decoded from the request's encoding."""
    from google.rpc.status_pb2 import Status

    if r.headers["Content-Type"] == "application/json":
        return r.json()["message"]
    assert r.headers["Content-Type"] == "application/x-protobuf"
    status = Status()
    status.ParseFromString(r.content)
    return status.message


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "the body is not JSON"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400, "must be a JSON object"),
        (
            json.dumps({"resourceLogs": 5}).encode(),
            {"Content-Type": "application/json"},
            400,
            "resourceLogs must be an array, got int",
        ),
        (
            json.dumps(_json_request([{"timeUnixNano": "soon"}])).encode(),
            {"Content-Type": "application/json"},
            400,
            "not an OTLP JSON ExportLogsServiceRequest",
        ),
        (
            json.dumps({"resourceLogs": ["AAA"]}).encode(),
            {"Content-Type": "application/json"},
            400,
            "resourceLogs[0] must be an object",
        ),
        (
            json.dumps(_json_request([{"traceId": "xyz"}])).encode(),
            {"Content-Type": "application/json"},
            400,
            "resourceLogs[0].scopeLogs[0].logRecords[0].traceId must be 32 hex digits",
        ),
        (
            b"\xff\xff\xff\xff",
            {"Content-Type": "application/x-protobuf"},
            400,
            "not a protobuf ExportLogsServiceRequest",
        ),
        (
            b"{}",
            {"Content-Type": "application/json", "x-aws-log-group": "bad group!"},
            400,
            "x-aws-log-group contains ' '",
        ),
        (
            b"{}",
            {"Content-Type": "application/json", "x-aws-log-stream": "a:b"},
            400,
            "x-aws-log-stream contains ':'",
        ),
        (
            b"{}",
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            400,
            "not valid gzip",
        ),
        (
            gzip.compress(b" " * (9 << 20)),
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            413,
            "decompressed body is larger than",
        ),
        (b"hello", {"Content-Type": "text/plain"}, 415, "send application/x-protobuf"),
    ],
    ids=[
        "bad-json",
        "json-array",
        "wrong-shape",
        "bad-int64",
        "string-for-object",
        "bad-trace-id",
        "bad-protobuf",
        "bad-group",
        "bad-stream",
        "bad-gzip",
        "gzip-bomb",
        "not-otlp",
    ],
)
def test_bad_requests_get_a_status_that_says_what_is_wrong(
    server: Server, body: bytes, headers: dict, status: int, says: str
) -> None:
    r = requests.post(server.url + "/v1/logs", data=body, headers={**AUTH, **headers}, timeout=30)
    assert r.status_code == status, (r.status_code, r.content[:300])
    assert says in _status(r), _status(r)


def test_the_one_gate_guards_it_token_or_sigv4(server: Server) -> None:
    body = json.dumps(_json_request([{"body": {"stringValue": "gated"}}])).encode()
    headers = {"Content-Type": "application/json", "x-aws-log-group": "/otel/gate"}
    url = server.url + "/v1/logs"
    none = requests.post(url, data=body, headers=headers, timeout=10)
    assert none.status_code == 401 and "Authorization: Bearer" in _status(none)
    wrong = requests.post(
        url, data=body, headers={**headers, "Authorization": "Bearer nope"}, timeout=10
    )
    assert wrong.status_code == 401
    bad_sig = signed("POST", url, body, headers, key_id="k", secret="not-the-token")
    r = requests.post(url, data=body, headers=dict(bad_sig.headers.items()), timeout=10)
    assert r.status_code == 403, r.text
    good = signed("POST", url, body, headers, key_id="k", secret=TOKEN)  # scope: logs
    r = requests.post(url, data=body, headers=dict(good.headers.items()), timeout=10)
    assert r.status_code == 200 and r.json() == {}, r.text
    assert requests.get(url, headers=AUTH, timeout=10).status_code == 405
    assert [s.name for s in server.store.list_streams("/otel/gate")] == ["default"]
    text = server.store.stream_file("/otel/gate", "default").read_text()
    assert text.count('"body":"gated"') == 1  # the refused requests wrote nothing
