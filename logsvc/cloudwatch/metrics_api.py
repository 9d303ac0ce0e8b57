"""A local subset of the CloudWatch metrics API: PutMetricData, ListMetrics, GetMetricData,
GetMetricStatistics.

Protocol: what boto3's `cloudwatch` client of botocore 1.43 sends: `POST /` with
`X-Amz-Target: GraniteServiceVersion20100801.<Op>`, `Content-Type: application/x-amz-json-1.0`
and `x-amzn-query-mode: true` (JSON 1.0, query-compatible: errors carry `x-amzn-query-error`),
timestamps as epoch seconds; PutMetricData bodies may be gzip-encoded. SigV4 scope `monitoring`.
The service model also lists `smithy-rpc-v2-cbor` first, but botocore 1.43 picks JSON.

Resolution is one minute: a Period must be a multiple of 60 (high-resolution data is kept at
minute resolution). Data kept: PutMetricData 15 days (`metrics.store`); metrics computed from
logs as long as the logs are kept. ListMetrics lists what has data in the last 14 days (3 hours
with `RecentlyActive=PT3H`), as CloudWatch does.
"""

from __future__ import annotations

import math
import time
from typing import Any

from logsvc.cloudwatch import validate as v
from logsvc.cloudwatch.errors import MetricsError, to_metrics
from logsvc.cloudwatch.metric_filters import metric_store
from logsvc.cloudwatch.operations import Context, page_token, read_page_token
from logsvc.errors import LogsvcError
from logsvc.metrics import expr
from logsvc.metrics.points import (
    MINUTE_MS,
    STATS,
    UNITS,
    Cell,
    MetricKey,
    floor_minute,
    metric_key,
    periods,
    statistic,
    valid_stat,
)
from logsvc.metrics.read import MetricReader

TARGET_PREFIX = "GraniteServiceVersion20100801."
CONTENT_TYPE = "application/x-amz-json-1.0"
LIST_WINDOW_MS = 14 * 86_400_000
RECENT_MS = 3 * 3_600_000
PAST_LIMIT_MS = 14 * 86_400_000
FUTURE_LIMIT_MS = 2 * 3_600_000
MAX_STATISTICS_POINTS = 1440
MAX_DATA_POINTS = 100_800
LIST_PAGE = 500
_ID_RE = r"^[a-z][a-zA-Z_0-9]*$"

DIMENSION = v.St(
    "member",
    v.S("Name", required=True, min_len=1, max_len=255),
    v.S("Value", required=True, min_len=1, max_len=1024),
)
DIMENSIONS = v.L("Dimensions", DIMENSION, max_len=30)
METRIC = v.St(
    "Metric",
    v.S("Namespace", min_len=1, max_len=255),
    v.S("MetricName", min_len=1, max_len=255),
    DIMENSIONS,
)
PUT_METRIC_DATA = (
    v.S("Namespace", required=True, min_len=1, max_len=255),
    v.L(
        "MetricData",
        v.St(
            "member",
            v.S("MetricName", required=True, min_len=1, max_len=255),
            DIMENSIONS,
            v.D("Timestamp"),
            v.D("Value"),
            v.St(
                "StatisticValues",
                v.D("SampleCount", required=True),
                v.D("Sum", required=True),
                v.D("Minimum", required=True),
                v.D("Maximum", required=True),
            ),
            v.L("Values", v.D("member"), max_len=150),
            v.L("Counts", v.D("member"), max_len=150),
            v.S("Unit", enum=UNITS),
            v.I("StorageResolution", lo=1),
        ),
        max_len=1000,
    ),
    v.B("StrictEntityValidation"),
)
LIST_METRICS = (
    v.S("Namespace", min_len=1, max_len=255),
    v.S("MetricName", min_len=1, max_len=255),
    v.L(
        "Dimensions",
        v.St(
            "member",
            v.S("Name", required=True, min_len=1, max_len=255),
            v.S("Value", min_len=1, max_len=1024),
        ),
        max_len=10,
    ),
    v.S("NextToken"),
    v.S("RecentlyActive", enum=("PT3H",)),
    v.B("IncludeLinkedAccounts"),
    v.S("OwningAccount", min_len=1, max_len=255),
)
GET_METRIC_DATA = (
    v.L(
        "MetricDataQueries",
        v.St(
            "member",
            v.S("Id", required=True, min_len=1, max_len=255, pattern=_ID_RE),
            v.St(
                "MetricStat",
                METRIC,
                v.I("Period", required=True, lo=1),
                v.S("Stat", required=True),
                v.S("Unit", enum=UNITS),
            ),
            v.S("Expression", min_len=1, max_len=2048),
            v.S("Label"),
            v.B("ReturnData"),
            v.I("Period", lo=1),
            v.S("AccountId", min_len=1, max_len=255),
        ),
        required=True,
        max_len=500,
    ),
    v.D("StartTime", required=True),
    v.D("EndTime", required=True),
    v.S("NextToken"),
    v.S("ScanBy", enum=("TimestampDescending", "TimestampAscending")),
    v.I("MaxDatapoints"),
    v.St("LabelOptions", v.S("Timezone")),
)
GET_METRIC_STATISTICS = (
    v.S("Namespace", required=True, min_len=1, max_len=255),
    v.S("MetricName", required=True, min_len=1, max_len=255),
    DIMENSIONS,
    v.D("StartTime", required=True),
    v.D("EndTime", required=True),
    v.I("Period", required=True, lo=1),
    v.L("Statistics", v.S("member", enum=STATS), min_len=1, max_len=5),
    v.L("ExtendedStatistics", v.S("member"), min_len=1, max_len=10),
    v.S("Unit", enum=UNITS),
)


def bad(message: str, code: str = "InvalidParameterValue") -> MetricsError:
    return MetricsError(code, message)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _dims(raw: list | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((d["Name"], d["Value"]) for d in raw or ()))


def _dims_json(dims: tuple[tuple[str, str], ...]) -> list[dict]:
    return [{"Name": n, "Value": val} for n, val in dims]


def _period(period: int, where: str) -> int:
    if period % 60:
        raise bad(
            f"The parameter {where} must be a multiple of 60: logsvc keeps metrics at one-minute "
            f"resolution (got {period})."
        )
    return period


def _reader(ctx: Context) -> MetricReader:
    return MetricReader(ctx.service.reader, metric_store(ctx))


# ---- PutMetricData -----------------------------------------------------------------------------


def put_metric_data(ctx: Context, p: dict) -> None:
    ns = p["Namespace"]
    if ns.startswith("AWS/") or ns.startswith(":"):
        raise bad(f"The value {ns} for parameter Namespace is invalid.")
    now = int(time.time() * 1000)
    rows: dict[tuple[MetricKey, str, int], Cell] = {}
    for i, d in enumerate(p.get("MetricData") or [], 1):
        where = f"MetricData.member.{i}"
        ts = now if d.get("Timestamp") is None else _ms(d["Timestamp"])
        if ts < now - PAST_LIMIT_MS:
            raise bad(
                f"The parameter {where}.Timestamp must specify a time no more than two weeks in the past."
            )
        if ts > now + FUTURE_LIMIT_MS:
            raise bad(
                f"The parameter {where}.Timestamp must specify a time no more than two hours in the future."
            )
        has = [k for k in ("Value", "StatisticValues", "Values") if d.get(k) is not None]
        if len(has) != 1:
            raise bad(
                f"The parameters {where}.Value, {where}.StatisticValues and {where}.Values are "
                "mutually exclusive and one of them is required.",
                "InvalidParameterCombination",
            )
        key = metric_key(ns, d["MetricName"], _dims(d.get("Dimensions")))
        if len({n for n, _ in key[2]}) != len(key[2]):
            raise bad(f"The parameter {where}.Dimensions names a dimension twice.")
        unit = d.get("Unit") or "None"
        cell = rows.setdefault((key, unit, floor_minute(ts)), Cell())
        if d.get("Value") is not None:
            cell.add(float(d["Value"]))
        elif d.get("StatisticValues") is not None:
            sv = d["StatisticValues"]
            if sv["SampleCount"] <= 0 or sv["Minimum"] > sv["Maximum"]:
                raise bad(
                    f"The parameter {where}.StatisticValues is not a consistent statistic set."
                )
            cell.add_set(sv["SampleCount"], sv["Sum"], sv["Minimum"], sv["Maximum"])
        else:
            values, counts = d["Values"], d.get("Counts")
            if counts is not None and len(counts) != len(values):
                raise bad(
                    f"The parameters {where}.Values and {where}.Counts must be of the same size.",
                    "InvalidParameterCombination",
                )
            for j, value in enumerate(values):
                c = 1.0 if counts is None else float(counts[j])
                if c > 0:
                    cell.add(float(value), c)
    for (_, _, _), cell in rows.items():
        for x in (cell.total, cell.lo, cell.hi):
            if cell.count and not math.isfinite(x):
                raise bad("Values must be finite numbers.")
    metric_store(ctx).append([(k, u, m, c) for (k, u, m), c in rows.items() if c.count > 0], now)


# ---- ListMetrics -------------------------------------------------------------------------------


def list_metrics(ctx: Context, p: dict) -> dict:
    now = int(time.time() * 1000)
    window = RECENT_MS if p.get("RecentlyActive") else LIST_WINDOW_MS
    got = _reader(ctx).collect(
        floor_minute(now - window), now + MINUTE_MS, p.get("Namespace"), p.get("MetricName")
    )
    wanted = [(d["Name"], d.get("Value")) for d in p.get("Dimensions") or ()]
    keys = []
    for key in got.cells:
        dims = dict(key[2])
        if all(n in dims and (val is None or dims[n] == val) for n, val in wanted):
            keys.append(key)
    keys.sort()
    token = p.get("NextToken")
    if token:
        after = read_page_token(ctx, "cw-list-metrics", token)
        if not isinstance(after, list):
            raise bad("The specified NextToken is invalid.", "InvalidNextToken")
        keys = [k for k in keys if [k[0], k[1], [list(d) for d in k[2]]] > after]
    page = keys[:LIST_PAGE]
    out: dict[str, Any] = {
        "Metrics": [
            {"Namespace": k[0], "MetricName": k[1], "Dimensions": _dims_json(k[2])} for k in page
        ]
    }
    if len(keys) > LIST_PAGE:
        last = page[-1]
        out["NextToken"] = page_token(
            ctx, "cw-list-metrics", [last[0], last[1], [list(d) for d in last[2]]]
        )
    return out


# ---- GetMetricData -----------------------------------------------------------------------------


MAX_TIME_S = 253_402_300_799  # 9999-12-31T23:59:59Z


def _range(p: dict) -> tuple[int, int]:
    for name in ("StartTime", "EndTime"):
        if not 0 <= p[name] <= MAX_TIME_S:
            raise bad(f"The parameter {name} must be a time between 1970 and 9999.")
    start, end = _ms(p["StartTime"]), _ms(p["EndTime"])
    if start >= end:
        raise bad("The parameter StartTime must be less than the parameter EndTime.")
    return start, end


def _series(
    cells: dict[int, Cell], start: int, end: int, period: int, stat: str
) -> dict[int, float]:
    out = {}
    for t, cell in periods(cells, start, end, period).items():
        val = statistic(cell, stat)
        if val is not None:
            out[t] = val
    return out


def get_metric_data(ctx: Context, p: dict) -> dict:
    start, end = _range(p)
    queries = p["MetricDataQueries"]
    if not queries:
        raise bad(
            "The parameter MetricDataQueries must contain at least one query.", "MissingParameter"
        )
    if p.get("NextToken"):
        read_page_token(ctx, "cw-metric-data", p["NextToken"])  # we answer in one page
    ids = [q["Id"] for q in queries]
    if len(set(ids)) != len(ids):
        raise bad("The values for parameter Id in MetricDataQueries must be unique.")
    stats = [q for q in queries if q.get("MetricStat") is not None]
    for i, q in enumerate(queries, 1):
        if (q.get("MetricStat") is None) == (q.get("Expression") is None):
            raise bad(
                f"Exactly one of MetricDataQueries.member.{i}.MetricStat and .Expression must be given.",
                "InvalidParameterCombination",
            )
        ms = q.get("MetricStat")
        if ms is not None:
            _period(ms["Period"], f"MetricDataQueries.member.{i}.MetricStat.Period")
            if not valid_stat(ms["Stat"]):
                raise bad(
                    f"The parameter MetricDataQueries.member.{i}.MetricStat.Stat {ms['Stat']!r} is not supported: use SampleCount, Average, Sum, Minimum, Maximum or pNN."
                )
            m = ms["Metric"]
            if not m.get("Namespace") or not m.get("MetricName"):
                raise bad(
                    f"The parameters MetricDataQueries.member.{i}.MetricStat.Metric.Namespace and .MetricName are required.",
                    "MissingParameter",
                )
    series: dict[str, dict[int, float]] = {}
    labels: dict[str, str] = {}
    if stats:
        namespaces = {q["MetricStat"]["Metric"]["Namespace"] for q in stats}
        got = _reader(ctx).collect(
            start, end, next(iter(namespaces)) if len(namespaces) == 1 else None
        )
        for q in stats:
            ms = q["MetricStat"]
            m = ms["Metric"]
            key = metric_key(m["Namespace"], m["MetricName"], _dims(m.get("Dimensions")))
            cells = got.cells.get(key, {})
            if ms.get("Unit") and got.units.get(key, "None") != ms["Unit"]:
                cells = {}
            series[q["Id"]] = _series(cells, start, end, ms["Period"], ms["Stat"])
            labels[q["Id"]] = q.get("Label") or m["MetricName"]
    stat_ids = [q["Id"] for q in stats]
    results: list[dict] = []
    for q in queries:
        if q.get("Expression") is not None:
            try:
                value = expr.evaluate(q["Expression"], series, stat_ids)
            except expr.MathError as e:
                raise bad(f"Error in expression {q['Id']}: {e}") from None
            if isinstance(value, list):
                raise bad(
                    f"Expression {q['Id']} returns {len(value)} time series; logsvc answers one "
                    "series per expression: reduce it with SUM, AVG, MIN or MAX."
                )
            if not isinstance(value, dict):
                every = sorted({t for s in series.values() for t in s})
                value = {t: value for t in every} if math.isfinite(value) else {}
            series[q["Id"]] = value
            labels[q["Id"]] = q.get("Label") or q["Id"]
        if q.get("ReturnData", True):
            results.append(_result(q["Id"], labels[q["Id"]], series[q["Id"]], p))
    total = sum(len(r["Values"]) for r in results)
    if total > (p.get("MaxDatapoints") or MAX_DATA_POINTS):
        raise bad(
            f"The query returns {total} datapoints, more than MaxDatapoints ({p.get('MaxDatapoints') or MAX_DATA_POINTS}); use a longer Period or a shorter range."
        )
    return {"MetricDataResults": results, "Messages": []}


def _result(qid: str, label: str, values: dict[int, float], p: dict) -> dict:
    ascending = p.get("ScanBy") == "TimestampAscending"
    times = sorted(values, reverse=not ascending)
    return {
        "Id": qid,
        "Label": label,
        "Timestamps": [t / 1000 for t in times],
        "Values": [values[t] for t in times],
        "StatusCode": "Complete",
    }


# ---- GetMetricStatistics -----------------------------------------------------------------------


def get_metric_statistics(ctx: Context, p: dict) -> dict:
    start, end = _range(p)
    period = _period(p["Period"], "Period")
    plain, extended = p.get("Statistics"), p.get("ExtendedStatistics")
    if (plain is None) == (extended is None):
        raise bad(
            "Exactly one of the parameters Statistics and ExtendedStatistics must be given.",
            "InvalidParameterCombination" if plain else "MissingParameter",
        )
    for s in extended or ():
        if s in STATS or not valid_stat(s):
            raise bad(f"The value {s} for parameter ExtendedStatistics is not valid: use pNN.")
    n = math.ceil((end - floor_minute(start)) / (period * 1000))
    if n > MAX_STATISTICS_POINTS:
        raise bad(
            f"You have requested up to {n} datapoints, which exceeds the limit of "
            f"{MAX_STATISTICS_POINTS}. You may reduce the datapoints requested by increasing "
            "Period, or decreasing the time range.",
            "InvalidParameterCombination",
        )
    key = metric_key(p["Namespace"], p["MetricName"], _dims(p.get("Dimensions")))
    got = _reader(ctx).collect(start, end, p["Namespace"], p["MetricName"])
    cells = got.cells.get(key, {})
    unit = got.units.get(key, "None")
    if p.get("Unit") and unit != p["Unit"]:
        cells = {}
    points = []
    for t, cell in sorted(periods(cells, start, end, period).items()):
        dp: dict[str, Any] = {"Timestamp": t / 1000, "Unit": unit}
        for s in plain or ():
            dp[s] = statistic(cell, s)
        if extended:
            ext = {s: statistic(cell, s) for s in extended}
            dp["ExtendedStatistics"] = {s: x for s, x in ext.items() if x is not None}
        points.append(dp)
    return {"Label": p["MetricName"], "Datapoints": points}


OPERATIONS = {
    "PutMetricData": (PUT_METRIC_DATA, put_metric_data),
    "ListMetrics": (LIST_METRICS, list_metrics),
    "GetMetricData": (GET_METRIC_DATA, get_metric_data),
    "GetMetricStatistics": (GET_METRIC_STATISTICS, get_metric_statistics),
}


def run(ctx: Context, name: str, params: object) -> Any:
    """Validate and run metrics operation `name`. :raises MetricsError: for every failure."""
    op = OPERATIONS.get(name)
    try:
        if op is None:
            raise MetricsError(
                "InvalidAction",
                f"Operation {name!r} is not supported by logsvc's metrics API. Supported: {', '.join(sorted(OPERATIONS))}.",
            )
        members, fn = op
        return fn(ctx, v.check(params, members))
    except LogsvcError as e:
        raise to_metrics(e) from None
