"""Metrics over REST for the console's Metrics view (the CloudWatch metrics API serves SDKs).

Owns the query arguments (REST error shape). Every figure comes from `metrics.read`, the same
code GetMetricData runs, so the console and boto3 never disagree.

Routes
    GET  /api/v1/metrics          the metrics with data in [start, end) (namespace, name filters)
    GET  /api/v1/metrics/data     one metric's statistic per period, and where its log lines are
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify, request

from logsvc.api.forward import current_service
from logsvc.api.rest import time_arg
from logsvc.errors import InvalidParameter
from logsvc.metrics.points import STATS, floor_minute, metric_key, periods, statistic, valid_stat
from logsvc.metrics.read import MetricReader
from logsvc.metrics.store import for_root

bp = Blueprint("metrics", __name__)
DEFAULT_RANGE_MS = 3_600_000
MAX_POINTS = 1440


def _reader() -> MetricReader:
    svc = current_service()
    return MetricReader(svc.reader, for_root(svc.store.root))


def _range() -> tuple[int, int]:
    end = time_arg("end") or int(time.time() * 1000) + 60_000
    start = time_arg("start")
    start = end - DEFAULT_RANGE_MS if start is None else start
    if start >= end:
        raise InvalidParameter("start must be before end", field="start", rule="start < end")
    return start, end


@bp.route("/api/v1/metrics", methods=["GET"])
def list_metrics() -> Response:
    """Metrics with data in [start, end) (default: the last hour), by namespace, name, dimensions."""
    start, end = _range()
    got = _reader().collect(
        start, end, request.args.get("namespace") or None, request.args.get("name") or None
    )
    out = [
        {
            "namespace": k[0],
            "name": k[1],
            "dimensions": dict(k[2]),
            "unit": got.units.get(k, "None"),
            "logs": got.sources.get(k),
        }
        for k in sorted(got.cells)
    ]
    return jsonify({"metrics": out})


@bp.route("/api/v1/metrics/data", methods=["GET"])
def metric_data() -> Response:
    """One metric's `stat` per `period` seconds in [start, end): points oldest first (empty
    periods left out), its unit, and the group and filter pattern of the log lines behind it."""
    namespace, name = request.args.get("namespace"), request.args.get("name")
    for field, value in (("namespace", namespace), ("name", name)):
        if not value:
            raise InvalidParameter(f"{field} is required", field=field, rule="required")
    dims = []
    for raw in request.args.getlist("dimension"):
        k, sep, v = raw.partition("=")
        if not sep or not k:
            raise InvalidParameter(
                "dimension must be Name=Value", field="dimension", rule="Name=Value"
            )
        dims.append((k, v))
    stat = request.args.get("stat", "Sum")
    if not valid_stat(stat):
        raise InvalidParameter(
            f"stat must be one of {', '.join(STATS)} or pNN", field="stat", rule="statistic"
        )
    try:
        period = int(request.args.get("period", "60"))
    except ValueError:
        period = 0
    if period < 60 or period % 60:
        raise InvalidParameter(
            "period must be a multiple of 60 seconds", field="period", rule="60*n"
        )
    start, end = _range()
    if (end - floor_minute(start)) / (period * 1000) > MAX_POINTS:
        raise InvalidParameter(
            f"the range holds more than {MAX_POINTS} periods: use a longer period",
            field="period",
            rule=f"at most {MAX_POINTS} periods",
        )
    key = metric_key(namespace, name, dims)  # type: ignore[arg-type]
    got = _reader().collect(start, end, namespace, name)
    cells = got.cells.get(key, {})
    points = []
    for t, cell in sorted(periods(cells, start, end, period).items()):
        v = statistic(cell, stat)
        if v is not None:
            points.append({"t": t, "v": v})
    return jsonify(
        {
            "namespace": namespace,
            "name": name,
            "dimensions": dict(dims),
            "stat": stat,
            "period": period,
            "unit": got.units.get(key, "None"),
            "points": points,
            "logs": got.sources.get(key),
        }
    )
