"""Metric filters on the CloudWatch Logs API: PutMetricFilter, DescribeMetricFilters,
DeleteMetricFilter, TestMetricFilter (shapes and limits: shared/reference
subscriptions-and-metric-filters.md, Part A).

Owns the definitions' rules (one transformation, at most 100 filters per group, `defaultValue`
never with `dimensions`, references only where the pattern kind has fields, the pattern in
FilterLogEvents' language compiled by `filterpattern`); the definitions live in
`metrics.store.MetricStore`, the metrics they make are computed by `metrics.read`.
A filter belongs to its group as created: a group deleted and created again has none.
TestMetricFilter numbers matches from 1, as the AWS CLI's example shows (the API Reference's
examples count from 0; the CLI is what users compare with).
"""

from __future__ import annotations

import time
from typing import Any

from logsvc.cloudwatch import validate as v
from logsvc.cloudwatch.errors import AwsError, invalid_parameter
from logsvc.cloudwatch.operations import (
    Context,
    Operation,
    existing_group,
    page_token,
    read_page_token,
)
from logsvc.errors import InvalidParameter, NotFound
from logsvc.filterpattern import FilterPattern, compile_pattern, compile_reference
from logsvc.metrics.filters import is_reference, number
from logsvc.metrics.points import UNITS
from logsvc.metrics.store import MetricStore, for_root

MAX_FILTERS_PER_GROUP = 100
MAX_DIMENSIONS = 3
FILTER_NOT_FOUND = "The specified metric filter does not exist."
_METRIC_NAME_RE = r"[^:*$]*"
_FILTER_NAME_RE = r"[^:*]*"

TRANSFORMATION = v.St(
    "member",
    v.S("metricName", required=True, max_len=255, pattern=_METRIC_NAME_RE),
    v.S("metricNamespace", required=True, max_len=255, pattern=_METRIC_NAME_RE),
    v.S("metricValue", required=True, max_len=100),
    v.D("defaultValue"),
    v.M("dimensions", v.S("key", max_len=255), v.S("value", max_len=255)),
    v.S("unit", enum=UNITS),
)
PUT_METRIC_FILTER = (
    v.group_name(),
    v.S("filterName", required=True, min_len=1, max_len=512, pattern=_FILTER_NAME_RE),
    v.S("filterPattern", required=True, min_len=0, max_len=1024),
    v.L("metricTransformations", TRANSFORMATION, required=True, min_len=1, max_len=1),
    v.B("applyOnTransformedLogs"),
    v.S("fieldSelectionCriteria", max_len=2000),
    v.L("emitSystemFieldDimensions", v.S("member")),
)
DESCRIBE_METRIC_FILTERS = (
    v.group_name(required=False),
    v.S("filterNamePrefix", min_len=1, max_len=512, pattern=_FILTER_NAME_RE),
    v.next_token(),
    v.I("limit", lo=1, hi=50),
    v.S("metricName", max_len=255, pattern=_METRIC_NAME_RE),
    v.S("metricNamespace", max_len=255, pattern=_METRIC_NAME_RE),
)
DELETE_METRIC_FILTER = (
    v.group_name(),
    v.S("filterName", required=True, min_len=1, max_len=512, pattern=_FILTER_NAME_RE),
)
TEST_METRIC_FILTER = (
    v.S("filterPattern", required=True, min_len=0, max_len=1024),
    v.L("logEventMessages", v.S("member", min_len=1), required=True, min_len=1, max_len=50),
)


def metric_store(ctx: Context) -> MetricStore:
    return for_root(ctx.service.store.root)


def _compiled(text: str) -> FilterPattern:
    try:
        return compile_pattern(text)
    except InvalidParameter as e:
        raise invalid_parameter(f"Invalid metric filter pattern: {e}") from None


def _check_reference(pattern: FilterPattern, ref: str, member: str) -> None:
    """A `$...` reference must name a field the pattern kind has (AWS refuses the filter)."""
    if ref.startswith("$.") or ref.startswith("$["):
        ok = pattern.kind == "json"
        if ok:
            try:
                compile_reference(ref)
            except InvalidParameter as e:
                raise invalid_parameter(f"Invalid {member} {ref!r}: {e}") from None
    else:
        fields = pattern.delimited_fields()
        ok = fields is not None and ref[1:] in fields
    if not ok:
        raise invalid_parameter(
            f"Invalid {member} {ref!r}: a $.field needs a JSON filter pattern and a $name a "
            "space-delimited pattern naming that field."
        )


def live_filters(ctx: Context, filters: list[dict]) -> list[dict]:
    """Filters whose group still exists as the one they were put on."""
    out = []
    for f in filters:
        try:
            g = ctx.service.store.get_group(f["logGroupName"])
        except (NotFound, InvalidParameter):
            continue
        if g.creation_time == f.get("groupCreated"):
            out.append(f)
    return out


def put_metric_filter(ctx: Context, p: dict) -> None:
    group = existing_group(ctx, p["logGroupName"])
    pattern = _compiled(p["filterPattern"])
    t = dict(p["metricTransformations"][0])
    dims = t.get("dimensions") or {}
    if dims and t.get("defaultValue") is not None:
        raise invalid_parameter("Metric filter with dimensions cannot have a default value.")
    if len(dims) > MAX_DIMENSIONS:
        raise invalid_parameter(
            f"A metric transformation may have at most {MAX_DIMENSIONS} dimensions."
        )
    value = t["metricValue"]
    if is_reference(value):
        _check_reference(pattern, value, "metricValue")
    elif number(value) is None:
        raise invalid_parameter(
            f"Invalid metricValue {value!r}: a number, or a $.field / $name of the pattern."
        )
    for ref in dims.values():
        if is_reference(ref):
            _check_reference(pattern, ref, "dimension value")
    if not dims:
        t.pop("dimensions", None)
    record: dict[str, Any] = {
        "filterName": p["filterName"],
        "filterPattern": p["filterPattern"],
        "metricTransformations": [t],
        "logGroupName": group.name,
        "groupCreated": group.creation_time,
        "creationTime": int(time.time() * 1000),
    }
    if p.get("applyOnTransformedLogs") is not None:
        record["applyOnTransformedLogs"] = p["applyOnTransformedLogs"]

    def change(filters: list[dict]) -> None:
        filters[:] = [
            f
            for f in filters
            if not (
                f["logGroupName"] == group.name and f.get("groupCreated") != group.creation_time
            )
        ]  # the filters of a group that was deleted go now
        same = [f for f in filters if f["logGroupName"] == group.name]
        for i, f in enumerate(filters):
            if f["logGroupName"] == group.name and f["filterName"] == p["filterName"]:
                filters[i] = record  # a put replaces, and counts from now (not retroactive)
                return
        if len(same) >= MAX_FILTERS_PER_GROUP:
            raise AwsError(
                "LimitExceededException",
                f"Resource limit exceeded: at most {MAX_FILTERS_PER_GROUP} metric filters per log group.",
            )
        filters.append(record)

    metric_store(ctx).update_filters(change)


def _public(f: dict) -> dict:
    out = {
        k: f[k]
        for k in (
            "filterName",
            "filterPattern",
            "metricTransformations",
            "creationTime",
            "logGroupName",
            "applyOnTransformedLogs",
        )
        if k in f
    }
    out.setdefault("applyOnTransformedLogs", False)
    return out


def describe_metric_filters(ctx: Context, p: dict) -> dict:
    group = p.get("logGroupName")
    prefix = p.get("filterNamePrefix")
    mname, mns = p.get("metricName"), p.get("metricNamespace")
    if (mname is None) != (mns is None):
        raise invalid_parameter("metricName and metricNamespace must be specified together.")
    if prefix is not None and group is None:
        raise invalid_parameter("filterNamePrefix may only be given with logGroupName.")
    if group is not None:
        existing_group(ctx, group)
    found = []
    for f in live_filters(ctx, metric_store(ctx).filters()):
        t = f["metricTransformations"][0]
        if group is not None and f["logGroupName"] != group:
            continue
        if prefix is not None and not f["filterName"].startswith(prefix):
            continue
        if mname is not None and (t["metricName"], t["metricNamespace"]) != (mname, mns):
            continue
        found.append(f)
    found.sort(key=lambda f: (f["logGroupName"], f["filterName"]))
    token = p.get("nextToken")
    if token:
        after = read_page_token(ctx, "cw-metric-filters", token)
        if not (isinstance(after, list) and len(after) == 2):
            raise invalid_parameter("The specified nextToken is invalid.")
        found = [f for f in found if [f["logGroupName"], f["filterName"]] > after]
    limit = p.get("limit") or 50
    page = found[:limit]
    out: dict[str, Any] = {"metricFilters": [_public(f) for f in page]}
    if len(found) > limit:
        last = page[-1]
        out["nextToken"] = page_token(
            ctx, "cw-metric-filters", [last["logGroupName"], last["filterName"]]
        )
    return out


def delete_metric_filter(ctx: Context, p: dict) -> None:
    group = existing_group(ctx, p["logGroupName"])

    def change(filters: list[dict]) -> bool:
        before = len(filters)
        filters[:] = [
            f
            for f in filters
            if not (f["logGroupName"] == group.name and f["filterName"] == p["filterName"])
        ]
        return len(filters) != before

    if not live_filters(
        ctx,
        [
            f
            for f in metric_store(ctx).filters()
            if f["logGroupName"] == group.name and f["filterName"] == p["filterName"]
        ],
    ):
        raise AwsError("ResourceNotFoundException", FILTER_NOT_FOUND)
    metric_store(ctx).update_filters(change)


def test_metric_filter(ctx: Context, p: dict) -> dict:
    pattern = _compiled(p["filterPattern"])
    matches = []
    for i, message in enumerate(p["logEventMessages"], 1):
        if pattern.matches(message):
            matches.append(
                {
                    "eventNumber": i,
                    "eventMessage": message,
                    "extractedValues": pattern.captured(message),
                }
            )
    return {"matches": matches}


OPERATIONS = (  # joined with the others in dispatch.OPERATIONS
    Operation("PutMetricFilter", PUT_METRIC_FILTER, put_metric_filter),
    Operation("DescribeMetricFilters", DESCRIBE_METRIC_FILTERS, describe_metric_filters),
    Operation("DeleteMetricFilter", DELETE_METRIC_FILTER, delete_metric_filter),
    Operation("TestMetricFilter", TEST_METRIC_FILTER, test_metric_filter),
)
