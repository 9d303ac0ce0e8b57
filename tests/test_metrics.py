"""Metrics against a real `logsvc serve --project` with boto3's `logs` and `cloudwatch` clients:
metric filters, TestMetricFilter, Powertools EMF from a simulated function, AWS/Lambda metrics,
PutMetricData and the statistics, and the errors AWS answers. Every oracle is what the test wrote.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest

from tests.conftest import wait_for, wait_for_console_state
from tests.helpers_aws import aws_client, put_events, write_project
from tests.test_invoker_support import serve_project

HANDLERS = """
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics(namespace="Shop", service="orders")

@metrics.log_metrics
def order(event, context):
    metrics.add_dimension(name="env", value="test")
    for n in event["items"]:
        metrics.add_metric(name="Items", unit=MetricUnit.Count, value=n)
    metrics.add_metric(name="Revenue", unit=MetricUnit.Count, value=event["revenue"])
    return "ok"

def boom(event, context):
    raise ValueError("no")
"""

PROJECT = """
[functions.order]
handler = "handlers.order"
code = "fns"

[functions.boom]
handler = "handlers.boom"
code = "fns"
"""

MIN = 60_000


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("metrics")
    project = write_project(root, HANDLERS, PROJECT)
    data = root / "data"
    data.mkdir()
    s = serve_project(data, project)
    yield s
    s.stop()


def client(srv, service: str):
    return aws_client(
        service, srv.url, keys=("test", "test"), retries={"max_attempts": 1}, read_timeout=60
    )


@pytest.fixture(scope="module")
def logs(srv):
    return client(srv, "logs")


@pytest.fixture(scope="module")
def cw(srv):
    return client(srv, "cloudwatch")


def minute(ms: int) -> int:
    return ms - ms % MIN


def stat_query(qid: str, ns: str, name: str, stat: str = "Sum", dims: dict | None = None) -> dict:
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {
                "Namespace": ns,
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in (dims or {}).items()],
            },
            "Period": 60,
            "Stat": stat,
        },
    }


def by_minute(result: dict) -> dict[int, float]:
    """{minute ms: value} of one MetricDataResult (timestamps come back as datetimes)."""
    return {
        int(t.timestamp() * 1000): v
        for t, v in zip(result["Timestamps"], result["Values"], strict=True)
    }


def metric_data(cw, queries: list[dict], start: int, end: int) -> dict[str, dict[int, float]]:
    out = cw.get_metric_data(MetricDataQueries=queries, StartTime=start / 1000, EndTime=end / 1000)
    return {r["Id"]: by_minute(r) for r in out["MetricDataResults"]}


def test_metric_filters_give_per_minute_sums_through_get_metric_data(logs, cw):
    """Counting ERROR, summing $.latency, a delimited value with a dimension and a defaultValue:
    the per-minute sums are exactly what the test wrote."""
    group = f"/app/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    ns = f"App{uuid.uuid4().hex[:6]}"
    base = minute(int(time.time() * 1000)) - 6 * MIN
    # before the filters: AWS's metric filters are not retroactive
    put_events(logs, group, "s", [(base + 500, "ERROR before the filter")])
    # reading it fixes its ingestion time (the first reader decides it); the filters come later
    early = logs.filter_log_events(logGroupName=group)["events"]
    assert [e["message"] for e in early] == ["ERROR before the filter"]
    wait_for(lambda: time.time() * 1000 > early[0]["ingestionTime"] + 5, what="a later clock")
    put = logs.put_metric_filter
    put(
        logGroupName=group,
        filterName="errors",
        filterPattern="ERROR",
        metricTransformations=[{"metricName": "Errors", "metricNamespace": ns, "metricValue": "1"}],
    )
    put(
        logGroupName=group,
        filterName="latency",
        filterPattern="{ $.latency = * }",
        metricTransformations=[
            {
                "metricName": "Latency",
                "metricNamespace": ns,
                "metricValue": "$.latency",
                "unit": "Milliseconds",
            }
        ],
    )
    put(
        logGroupName=group,
        filterName="bytes",
        filterPattern="[ip, verb=GET, status, size]",
        metricTransformations=[
            {
                "metricName": "Bytes",
                "metricNamespace": ns,
                "metricValue": "$size",
                "dimensions": {"Status": "$status"},
            }
        ],
    )
    put(
        logGroupName=group,
        filterName="fatal",
        filterPattern="FATAL",
        metricTransformations=[
            {"metricName": "Fatal", "metricNamespace": ns, "metricValue": "5", "defaultValue": 0}
        ],
    )
    events: list[tuple[int, str]] = []
    errors: dict[int, int] = {}
    latency: dict[int, float] = {}
    bytes_by_status: dict[str, dict[int, float]] = {}
    for m in range(4):
        t0 = base + m * MIN
        for i in range(3 + m):
            events.append((t0 + 1000 + i, f"ERROR request {m}-{i} failed"))
            errors[t0] = errors.get(t0, 0) + 1
        events.append((t0 + 2000, "INFO ERRORS are not errors here, nor is xERROR"))
        for i, lat in enumerate((12.5, 40, 7.25)[: 1 + m % 3]):
            events.append((t0 + 3000 + i, json.dumps({"path": "/a", "latency": lat * (m + 1)})))
            latency[t0] = latency.get(t0, 0) + lat * (m + 1)
        for i, (status, size) in enumerate([("200", 100 + m), ("404", 7), ("200", 5)]):
            events.append((t0 + 4000 + i, f"10.0.0.{i} GET {status} {size}"))
            row = bytes_by_status.setdefault(status, {})
            row[t0] = row.get(t0, 0) + size
        events.append((t0 + 5000, "10.0.0.9 POST 200 999"))  # verb=GET leaves it out
    events.append((base + 2 * MIN + 6000, "FATAL disk gone"))
    put_events(logs, group, "s", sorted(events))
    start, end = base - MIN, base + 6 * MIN
    got = metric_data(
        cw,
        [
            stat_query("errors", ns, "Errors"),
            stat_query("latency", ns, "Latency"),
            stat_query("ok", ns, "Bytes", dims={"Status": "200"}),
            stat_query("missing", ns, "Bytes", dims={"Status": "404"}),
            stat_query("fatal", ns, "Fatal"),
            {"Id": "total", "Expression": "errors + latency"},
            {"Id": "all", "Expression": "SUM(METRICS())"},
            {"Id": "ratio", "Expression": "errors / latency * 100"},
        ],
        start,
        end,
    )
    assert got["errors"] == {t: float(n) for t, n in errors.items()}
    assert got["latency"] == latency
    assert got["ok"] == bytes_by_status["200"]
    assert got["missing"] == bytes_by_status["404"]
    assert got["fatal"] == {base + m * MIN: (5.0 if m == 2 else 0.0) for m in range(4)}
    assert got["total"] == {t: errors[t] + latency[t] for t in errors}
    sums = {}
    for qid in ("errors", "latency", "ok", "missing", "fatal"):
        for t, v in got[qid].items():
            sums[t] = sums.get(t, 0) + v
    assert got["all"] == pytest.approx(sums)
    assert got["ratio"] == pytest.approx({t: errors[t] / latency[t] * 100 for t in errors})

    stats = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="Latency",
        StartTime=base / 1000,
        EndTime=end / 1000,
        Period=120,
        Statistics=["SampleCount", "Maximum", "Average"],
    )
    points = {int(p["Timestamp"].timestamp() * 1000): p for p in stats["Datapoints"]}
    first = [12.5, 40 * 2, 12.5 * 2]  # minutes 0 and 1 of the 2-minute period at `base`
    assert points[base]["SampleCount"] == 3 and points[base]["Maximum"] == 80
    assert points[base]["Average"] == pytest.approx(sum(first) / 3)
    assert points[base]["Unit"] == "Milliseconds"

    listed = cw.list_metrics(Namespace=ns)["Metrics"]
    assert sorted(
        (m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in listed
    ) == [
        ("Bytes", (("Status", "200"),)),
        ("Bytes", (("Status", "404"),)),
        ("Errors", ()),
        ("Fatal", ()),
        ("Latency", ()),
    ]


def test_test_metric_filter_answers_like_aws(logs):
    """The AWS CLI's example (eventNumber counts from 1), and the values a delimited and a JSON
    pattern captured."""
    out = logs.test_metric_filter(
        filterPattern="ERROR",
        logEventMessages=["[ERROR] 400 BAD REQUEST", "[ERROR] 400 BAD REQUEST", "[INFO] 200 OK"],
    )
    assert out["matches"] == [
        {"eventNumber": 1, "eventMessage": "[ERROR] 400 BAD REQUEST", "extractedValues": {}},
        {"eventNumber": 2, "eventMessage": "[ERROR] 400 BAD REQUEST", "extractedValues": {}},
    ]
    out = logs.test_metric_filter(
        filterPattern="[ip, user, status=4*, size]",
        logEventMessages=["1.2.3.4 bob 200 10", "5.6.7.8 ann 404 77"],
    )
    assert out["matches"] == [
        {
            "eventNumber": 2,
            "eventMessage": "5.6.7.8 ann 404 77",
            "extractedValues": {"$ip": "5.6.7.8", "$user": "ann", "$status": "404", "$size": "77"},
        }
    ]
    out = logs.test_metric_filter(
        filterPattern="{ $.latency > 10 }", logEventMessages=['{"latency": 12}', '{"latency": 3}']
    )
    assert out["matches"] == [
        {
            "eventNumber": 1,
            "eventMessage": '{"latency": 12}',
            "extractedValues": {"$.latency": "12"},
        }
    ]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.test_metric_filter(filterPattern="{ $.a = ", logEventMessages=["x"])


def test_metric_filter_definitions_and_their_errors(logs, cw):
    group = f"/defs/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)

    def put(name: str, pattern: str = "ERROR", **t):
        transformation = {"metricName": "M", "metricNamespace": "NS", "metricValue": "1", **t}
        return logs.put_metric_filter(
            logGroupName=group,
            filterName=name,
            filterPattern=pattern,
            metricTransformations=[transformation],
        )

    for name in ("b-two", "a-one", "b-one"):
        put(name)
    put("other", metricName="Other")
    described = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [f["filterName"] for f in described] == ["a-one", "b-one", "b-two", "other"]
    assert described[0]["metricTransformations"] == [
        {"metricName": "M", "metricNamespace": "NS", "metricValue": "1"}
    ]
    assert described[0]["logGroupName"] == group and described[0]["creationTime"] > 0
    prefixed = logs.describe_metric_filters(logGroupName=group, filterNamePrefix="b-")
    assert [f["filterName"] for f in prefixed["metricFilters"]] == ["b-one", "b-two"]
    by_metric = logs.describe_metric_filters(metricName="Other", metricNamespace="NS")
    assert [f["filterName"] for f in by_metric["metricFilters"]] == ["other"]
    page = logs.describe_metric_filters(logGroupName=group, limit=3)
    assert len(page["metricFilters"]) == 3
    rest = logs.describe_metric_filters(logGroupName=group, limit=3, nextToken=page["nextToken"])
    assert [f["filterName"] for f in rest["metricFilters"]] == ["other"] and "nextToken" not in rest

    logs.delete_metric_filter(logGroupName=group, filterName="b-two")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_metric_filter(logGroupName=group, filterName="b-two")
    bad = logs.exceptions.InvalidParameterException
    with pytest.raises(bad, match="dimensions cannot have a default value"):
        put("x", "[a, b]", dimensions={"A": "$a"}, defaultValue=0)
    with pytest.raises(bad, match=r"\$\.latency"):
        put("x", "ERROR", metricValue="$.latency")  # a term pattern has no fields
    with pytest.raises(bad, match="metricValue"):
        put("x", "ERROR", metricValue="one")
    with pytest.raises(bad, match="filter pattern"):
        put("x", "{ $.a = ")
    with pytest.raises(bad, match="metricTransformations"):
        logs.put_metric_filter(
            logGroupName=group,
            filterName="x",
            filterPattern="",
            metricTransformations=[
                {"metricName": "A", "metricNamespace": "N", "metricValue": "1"},
                {"metricName": "B", "metricNamespace": "N", "metricValue": "1"},
            ],
        )
    with pytest.raises(bad, match="together"):
        logs.describe_metric_filters(metricName="M")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        put_missing = dict(
            logGroupName=group + "-nope",
            filterName="x",
            filterPattern="",
            metricTransformations=[{"metricName": "A", "metricNamespace": "N", "metricValue": "1"}],
        )
        logs.put_metric_filter(**put_missing)
    # a group deleted and created again has no filters, and its lines make no metric
    logs.delete_log_group(logGroupName=group)
    logs.create_log_group(logGroupName=group)
    assert logs.describe_metric_filters(logGroupName=group)["metricFilters"] == []
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    put_events(logs, group, "s", [(now, "ERROR in the new group")])
    got = metric_data(cw, [stat_query("m", "NS", "M")], minute(now) - MIN, minute(now) + MIN)
    assert got["m"] == {}


def test_put_metric_data_statistics_percentiles_and_errors(cw):
    ns = f"Custom{uuid.uuid4().hex[:6]}"
    t0 = minute(int(time.time() * 1000)) - 3 * MIN
    dims = [{"Name": "Host", "Value": "a"}]
    values = [float(v) for v in range(1, 101)]
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "Lat",
                "Dimensions": dims,
                "Timestamp": (t0 + 5000) / 1000,
                "Values": values[:50],
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Lat",
                "Dimensions": dims,
                "Timestamp": (t0 + 9000) / 1000,
                "Values": values[50:],
                "Counts": [1.0] * 50,
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Lat",
                "Dimensions": dims,
                "Timestamp": (t0 + MIN) / 1000,
                "Value": 7.0,
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Set",
                "Timestamp": (t0 + MIN) / 1000,
                "StatisticValues": {"SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4},
            },
        ],
    )
    got = metric_data(
        cw,
        [
            stat_query("p90", ns, "Lat", "p90", {"Host": "a"}),
            stat_query("n", ns, "Lat", "SampleCount", {"Host": "a"}),
            stat_query("avg", ns, "Lat", "Average", {"Host": "a"}),
            stat_query("setavg", ns, "Set", "Average"),
            stat_query("setp50", ns, "Set", "p50"),
            stat_query("nodims", ns, "Lat", "Sum"),  # another metric: no dimensions
        ],
        t0 - MIN,
        t0 + 3 * MIN,
    )
    assert got["p90"] == {t0: 90.0, t0 + MIN: 7.0}
    assert got["n"] == {t0: 100.0, t0 + MIN: 1.0}
    assert got["avg"] == {t0: 50.5, t0 + MIN: 7.0}
    assert got["setavg"] == {t0 + MIN: 2.5}
    assert got["setp50"] == {}  # a statistic set carries no values to rank
    assert got["nodims"] == {}
    listed = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "Host"}])["Metrics"]
    assert listed == [{"Namespace": ns, "MetricName": "Lat", "Dimensions": dims}]

    # a body over 10 KB: botocore gzips PutMetricData (Content-Encoding: gzip)
    many = [
        {"MetricName": "Many", "Timestamp": (t0 + 1000) / 1000, "Value": float(i)}
        for i in range(600)
    ]
    cw.put_metric_data(Namespace=ns, MetricData=many)
    got = metric_data(cw, [stat_query("many", ns, "Many", "SampleCount")], t0, t0 + MIN)
    assert got["many"] == {t0: 600.0}

    with pytest.raises(cw.exceptions.InvalidParameterValueException, match="AWS/Lambda"):
        cw.put_metric_data(Namespace="AWS/Lambda", MetricData=[{"MetricName": "x", "Value": 1}])
    with pytest.raises(cw.exceptions.InvalidParameterCombinationException):
        cw.put_metric_data(
            Namespace=ns,
            MetricData=[
                {
                    "MetricName": "x",
                    "Value": 1,
                    "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1},
                }
            ],
        )
    with pytest.raises(cw.exceptions.InvalidParameterValueException, match="two weeks"):
        cw.put_metric_data(
            Namespace=ns,
            MetricData=[{"MetricName": "x", "Value": 1, "Timestamp": time.time() - 20 * 86400}],
        )
    with pytest.raises(cw.exceptions.InvalidParameterValueException, match="multiple of 60"):
        cw.get_metric_statistics(
            Namespace=ns,
            MetricName="Lat",
            StartTime=t0 / 1000,
            EndTime=(t0 + MIN) / 1000,
            Period=30,
            Statistics=["Sum"],
        )
    with pytest.raises(cw.exceptions.InvalidParameterValueException, match="unknown metric id"):
        metric_data(
            cw, [stat_query("a", ns, "Lat"), {"Id": "e", "Expression": "a + zz"}], t0, t0 + MIN
        )
    with pytest.raises(cw.exceptions.InvalidParameterValueException, match="nest"):
        deep = "(" * 40 + "a" + ")" * 40
        metric_data(cw, [stat_query("a", ns, "Lat"), {"Id": "e", "Expression": deep}], t0, t0 + MIN)
    with pytest.raises(cw.exceptions.InvalidParameterCombinationException, match="1440"):
        cw.get_metric_statistics(
            Namespace=ns,
            MetricName="Lat",
            StartTime=t0 / 1000 - 3 * 86400,
            EndTime=t0 / 1000,
            Period=60,
            Statistics=["Sum"],
        )


def test_powertools_emf_and_lambda_metrics_of_a_simulated_function(srv, cw):
    """A function using aws-lambda-powertools' Metrics writes EMF to its log; its metrics show up
    with their dimensions, and AWS/Lambda counts its invocations and another function's error."""
    lam = client(srv, "lambda")
    orders = [([1, 2], 10), ([3], 5), ([4, 5, 6], 20)]
    t0 = int(time.time() * 1000)
    for items, revenue in orders:
        out = lam.invoke(
            FunctionName="order", Payload=json.dumps({"items": items, "revenue": revenue})
        )
        assert "FunctionError" not in out, out["Payload"].read()
    out = lam.invoke(FunctionName="boom", Payload=b"{}")
    assert out["FunctionError"] == "Unhandled"
    start, end = minute(t0) - MIN, minute(t0) + 5 * MIN
    dims = {"env": "test", "service": "orders"}

    def totals() -> dict[str, float]:
        got = metric_data(
            cw,
            [
                stat_query("items", "Shop", "Items", "Sum", dims),
                stat_query("n", "Shop", "Items", "SampleCount", dims),
                stat_query("revenue", "Shop", "Revenue", "Sum", dims),
                stat_query("inv", "AWS/Lambda", "Invocations", "Sum", {"FunctionName": "order"}),
                stat_query("err", "AWS/Lambda", "Errors", "Sum", {"FunctionName": "boom"}),
                stat_query("ok", "AWS/Lambda", "Errors", "Sum", {"FunctionName": "order"}),
                stat_query(
                    "dur", "AWS/Lambda", "Duration", "SampleCount", {"FunctionName": "order"}
                ),
                stat_query(
                    "conc",
                    "AWS/Lambda",
                    "ConcurrentExecutions",
                    "Maximum",
                    {"FunctionName": "order"},
                ),
            ],
            start,
            end,
        )
        return {k: sum(v.values()) for k, v in got.items()}

    want = {
        "items": float(sum(sum(i) for i, _ in orders)),
        "n": float(sum(len(i) for i, _ in orders)),
        "revenue": float(sum(r for _, r in orders)),
        "inv": 3.0,
        "err": 1.0,
        "ok": 0.0,
        "dur": 3.0,
    }
    # records are written as an invocation ends; the sync invokes above have all returned
    got = wait_for(
        lambda: (lambda t: t if all(t[k] == v for k, v in want.items()) else None)(totals()),
        timeout=5,
        what=f"metrics {want}",
    )
    assert got["conc"] >= 1.0
    listed = cw.list_metrics(Namespace="Shop")["Metrics"]
    assert {m["MetricName"] for m in listed} == {"Items", "Revenue"}
    assert all(sorted(d["Name"] for d in m["Dimensions"]) == ["env", "service"] for m in listed)


@pytest.mark.browser
def test_console_metrics_view_charts_and_opens_the_lines_behind_a_point(srv, logs, browser):
    """In Chromium: the Metrics view charts a metric filter's counts per minute and an AWS/Lambda
    metric; clicking a point opens exactly the log lines behind it."""
    from playwright.sync_api import expect

    group = f"/console/{uuid.uuid4().hex[:8]}"
    ns = f"Con{uuid.uuid4().hex[:6]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_metric_filter(
        logGroupName=group,
        filterName="errors",
        filterPattern="ERROR",
        metricTransformations=[{"metricName": "Errors", "metricNamespace": ns, "metricValue": "1"}],
    )
    t0 = minute(int(time.time() * 1000)) - 5 * MIN
    first = [f"ERROR first minute {i}" for i in range(3)]
    events = [(t0 + 1000 + i, m) for i, m in enumerate(first)]
    events += [(t0 + 2000, "INFO fine"), (t0 + MIN + 1000, "ERROR second minute")]
    put_events(logs, group, "s", sorted(events))
    client(srv, "lambda").invoke(
        FunctionName="order", Payload=json.dumps({"items": [1], "revenue": 1})
    )
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    try:
        page.goto(f"{srv.url}/#/metrics?ns={ns}&name=Errors&range=1h")
        expect(page.locator(".metrics-chart")).to_have_attribute("data-points", "2")
        state = page.evaluate("window.__logsvc.state()")
        assert [(p["t"], p["v"]) for p in state["points"]] == [(t0, 3), (t0 + MIN, 1)]
        assert state["logs"] == {"group": group, "pattern": "ERROR"}
        pt = state["points"][0]
        page.mouse.move(pt["x"], pt["y"])
        page.mouse.click(pt["x"], pt["y"])
        expect(page).to_have_url(re.compile(r"#/events\?"))
        rows = page.locator(".vl .row")
        expect(rows).to_have_count(3)
        for m in first:
            expect(page.locator(".vl .row", has_text=m)).to_have_count(1)

        page.goto(f"{srv.url}/#/metrics?ns=AWS/Lambda&name=Invocations&dim=FunctionName%3Dorder")
        state = wait_for_console_state(page, "s.logs && s.logs.group === '/aws/lambda/order'")
        assert sum(p["v"] for p in state["points"]) >= 1
        assert page.locator(".metrics-chart .u-over").is_visible()
    finally:
        page.close()


def test_rest_metrics_answers_bad_arguments_with_400s_naming_the_field(srv):
    """The console's /api/v1/metrics/data: bad input is a REST 400 with field and rule."""
    import requests

    base = srv.url + "/api/v1/metrics/data"
    for params, field in (
        ({"name": "x"}, "namespace"),
        ({"namespace": "N", "name": "x", "period": "30"}, "period"),
        ({"namespace": "N", "name": "x", "stat": "Median"}, "stat"),
        ({"namespace": "N", "name": "x", "dimension": "novalue"}, "dimension"),
        ({"namespace": "N", "name": "x", "start": "2030-01-02", "end": "2030-01-01"}, "start"),
    ):
        r = requests.get(base, params=params, timeout=10)
        assert r.status_code == 400, (params, r.status_code, r.text)
        assert r.json()["error"]["field"] == field, (params, r.text)
    r = requests.get(base, params={"namespace": "N", "name": "nothing"}, timeout=10)
    assert r.status_code == 200 and r.json()["points"] == [] and r.json()["logs"] is None
