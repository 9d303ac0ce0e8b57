"""CloudWatch Logs Insights operations: StartQuery, GetQueryResults, StopQuery, DescribeQueries,
GetLogRecord, Put/Describe/DeleteQueryDefinition and GetLogGroupFields.

Owns: their members (botocore 1.43's shapes, checked by `validate.py`), AWS's rules that are not
shape constraints (exactly one way to name the groups, CWLI only, seconds on the wire), and the
`MalformedQueryException` shape with `queryCompileError.location`. The queries themselves are
`jobs.Jobs`' (background threads, state shared by every worker); this module only translates.
Joined with `operations.OPERATIONS` in `dispatch.py`.

Decisions (written down in INSIGHTS_CONTRACT.md, "wire:"):
* `limit` is 1..100,000 as botocore 1.43's model says (EventsLimitStartQuery), default 10,000.
* `startTime`/`endTime` are epoch seconds, both inclusive: events in [startTime*1000, endTime*1000] ms.
* StartQuery answers once the query has finished or START_WAIT seconds have passed, whichever is
  first. The query still runs in the background (a slow one is answered Scheduled/Running and
  polled as on AWS); a fast one is Complete at the first GetQueryResults, which is what clients
  written against synchronous emulators (moto's own tests) expect.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from logsvc import jobs as jobs_mod
from logsvc import names as logsvc_names
from logsvc.cloudwatch import validate as v
from logsvc.cloudwatch.errors import BAD_TOKEN, AwsError, invalid_parameter
from logsvc.cloudwatch.operations import (
    Context,
    Operation,
    existing_group,
    group_from_identifier,
    page_token,
    read_page_token,
    resolve_group,
)
from logsvc.errors import InvalidParameter, NotFound

START_WAIT = 1.0
LANGUAGES = ("CWLI", "SQL", "PPL")
QUERY_NOT_FOUND = "The specified query does not exist."
DEFINITION_NOT_FOUND = "The specified query definition does not exist."
RECORD_NOT_FOUND = "The specified log record does not exist."
MAX_TS_S = (2**62 - 1) // 1000


def _jobs(ctx: Context) -> jobs_mod.Jobs:
    return ctx.service.jobs


def malformed(e: jobs_mod.MalformedQuery) -> AwsError:
    """AWS's MalformedQueryException: the message, and where in the query string it fails."""
    return AwsError(
        "MalformedQueryException",
        e.message,
        extra={
            "queryCompileError": {
                "location": {"startCharOffset": e.position, "endCharOffset": e.end},
                "message": e.message,
            }
        },
    )


def _language(p: dict) -> str:
    lang = p.get("queryLanguage") or "CWLI"
    if lang != "CWLI":
        raise invalid_parameter(
            f"queryLanguage {lang} is not supported by logsvc: only CWLI (Logs Insights QL) queries run locally."
        )
    return lang


def _query_not_found(qid: str) -> AwsError:
    return AwsError("ResourceNotFoundException", QUERY_NOT_FOUND)


# ---- StartQuery ----------------------------------------------------------------------------------

START_QUERY = (
    v.S("queryLanguage", enum=LANGUAGES),
    v.group_name(required=False),
    v.L("logGroupNames", v.group_name("member"), max_len=50),
    v.L("logGroupIdentifiers", v.group_identifier("member"), max_len=50),
    v.I("startTime", required=True, lo=0),
    v.I("endTime", required=True, lo=0),
    v.S("queryString", required=True, min_len=0, max_len=jobs_mod.MAX_QUERY_CHARS),
    v.I("limit", lo=1, hi=jobs_mod.MAX_QUERY_LIMIT),
)


def start_query(ctx: Context, p: dict) -> dict:
    language = _language(p)
    text = p["queryString"]
    try:
        plan = jobs_mod.compile_query(text)
    except jobs_mod.MalformedQuery as e:
        raise malformed(e) from None
    given = [
        k for k in ("logGroupName", "logGroupNames", "logGroupIdentifiers") if p.get(k) is not None
    ]
    source = getattr(plan, "source", None)
    if len(given) > 1:
        raise invalid_parameter(
            "logGroupName, logGroupNames and logGroupIdentifiers are mutually exclusive: give one of them."
        )
    if given and source is not None:
        raise invalid_parameter(
            "The query string has a SOURCE command: do not give logGroupName, logGroupNames or logGroupIdentifiers too."
        )
    if given:
        key = given[0]
        if key == "logGroupName":
            groups = [p[key]]
        elif key == "logGroupNames":
            groups = list(p[key])
        else:
            groups = [group_from_identifier(i) for i in p[key]]
        if not groups:
            raise invalid_parameter(f"{key} must name at least one log group.")
    elif source is not None:
        groups = source_groups(ctx, source)
    else:
        raise invalid_parameter(
            "Specify the log groups to query: logGroupName, logGroupNames or logGroupIdentifiers, or a SOURCE command in the query string."
        )
    for g in groups:
        existing_group(ctx, g)
    start_s, end_s = min(p["startTime"], MAX_TS_S), min(p["endTime"], MAX_TS_S)
    if end_s < start_s:
        raise invalid_parameter("endTime must be greater than or equal to startTime.")
    try:
        st = _jobs(ctx).start(
            text,
            groups,
            start_s * 1000,
            end_s * 1000,
            p.get("limit"),
            plan=plan,
            account=ctx.account_id,
            language=language,
            wait=START_WAIT,
        )
    except jobs_mod.MalformedQuery as e:
        raise malformed(e) from None
    return {"queryId": st["queryId"]}


def source_groups(ctx: Context, source: Any) -> list[str]:
    """The groups a `SOURCE logGroups(...)` command selects: every group, or those whose name starts
    with one of its prefixes. Only STANDARD-class groups of this account exist locally."""
    prefixes = list(source.name_prefixes)
    log_class = getattr(source, "log_class", None)
    accounts = list(getattr(source, "account_identifiers", None) or [])
    if log_class is not None and log_class.upper() != "STANDARD":
        return []
    if accounts and ctx.account_id not in accounts:
        return []
    names = ctx.service.store.group_names()
    chosen = [
        g
        for g in names
        if (not prefixes or any(g.startswith(x) for x in prefixes))
        and not logsvc_names.hidden(g, prefixes)
    ]  # internal groups only when named exactly
    if len(chosen) > 10_000:
        raise invalid_parameter(
            "SOURCE selects more than 10,000 log groups; narrow it with namePrefix."
        )
    if not chosen:
        raise AwsError("ResourceNotFoundException", "The SOURCE command selects no log group.")
    return chosen


# ---- GetQueryResults -----------------------------------------------------------------------------

QUERY_ID = v.S("queryId", required=True, min_len=1, max_len=256)
GET_QUERY_RESULTS = (QUERY_ID, v.S("nextToken", max_len=1024), v.I("maxItems", lo=0, hi=10_000))


def cells(rows: list) -> list[list[dict]]:
    return [[{"field": f, "value": val} for f, val in row] for row in rows]


def get_query_results(ctx: Context, p: dict) -> dict:
    qid = p["queryId"]
    try:
        st, rows = _jobs(ctx).results(qid)
    except NotFound:
        raise _query_not_found(qid) from None
    offset = 0
    if p.get("nextToken"):
        data = read_page_token(ctx, "cw-query-results", p["nextToken"])
        if not (
            isinstance(data, list)
            and len(data) == 2
            and data[0] == qid
            and isinstance(data[1], int)
        ):
            raise invalid_parameter(BAD_TOKEN)
        offset = data[1]
    out: dict[str, Any] = {"queryLanguage": st.get("queryLanguage", "CWLI")}
    size = p.get("maxItems") or 0
    if size and st["status"] in jobs_mod.TERMINAL and offset + size < len(rows):
        out["nextToken"] = page_token(ctx, "cw-query-results", [qid, offset + size])
    page = rows[offset : offset + size] if size else rows[offset:]
    out.update({"results": cells(page), "statistics": st["statistics"], "status": st["status"]})
    return out


# ---- StopQuery, DescribeQueries ------------------------------------------------------------------


def stop_query(ctx: Context, p: dict) -> dict:
    try:
        _jobs(ctx).stop(p["queryId"])
    except NotFound:
        raise _query_not_found(p["queryId"]) from None
    return {"success": True}


DESCRIBE_QUERIES = (
    v.group_name(required=False),
    v.S("status", enum=jobs_mod.STATUSES + ("Unknown",)),
    v.I("maxResults", lo=1, hi=1000),
    v.next_token(),
    v.S("queryLanguage", enum=LANGUAGES),
)


def query_info(st: dict) -> dict:
    out = {
        "queryLanguage": st.get("queryLanguage", "CWLI"),
        "queryId": st["queryId"],
        "queryString": st.get("queryString", ""),
        "status": st["status"],
        "createTime": st.get("createTime", 0),
        "logGroupName": (st.get("groups") or [""])[0],
    }
    began, ended = st.get("startedTime"), st.get("endedTime")
    if began and ended:
        out["queryDuration"] = max(0, ended - began)
    out["bytesScanned"] = (st.get("statistics") or {}).get("bytesScanned", 0.0)
    return out


def describe_queries(ctx: Context, p: dict) -> dict:
    group = p.get("logGroupName")
    if group is not None:
        existing_group(ctx, group)
    lang = p.get("queryLanguage")
    queries = [
        q
        for q in _jobs(ctx).list(group=group, status=p.get("status"))
        if lang is None or q.get("queryLanguage", "CWLI") == lang
    ]
    fp = hashlib.blake2b(
        json.dumps([group, p.get("status"), lang]).encode(), digest_size=6
    ).hexdigest()
    offset = 0
    if p.get("nextToken"):
        data = read_page_token(ctx, "cw-queries", p["nextToken"])
        if not (
            isinstance(data, list) and len(data) == 2 and data[0] == fp and isinstance(data[1], int)
        ):
            raise invalid_parameter(BAD_TOKEN)
        offset = data[1]
    size = p.get("maxResults") or 1000
    out: dict[str, Any] = {"queries": [query_info(q) for q in queries[offset : offset + size]]}
    if offset + size < len(queries):
        out["nextToken"] = page_token(ctx, "cw-queries", [fp, offset + size])
    return out


# ---- GetLogRecord --------------------------------------------------------------------------------

GET_LOG_RECORD = (v.S("logRecordPointer", required=True), v.B("unmask"))


def get_log_record(ctx: Context, p: dict) -> dict:
    try:
        record = _jobs(ctx).log_record(p["logRecordPointer"], account=ctx.account_id)
    except NotFound:
        raise AwsError("ResourceNotFoundException", RECORD_NOT_FOUND) from None
    except InvalidParameter as e:
        raise invalid_parameter(e.message) from None
    return {"logRecord": record}


# ---- query definitions ---------------------------------------------------------------------------

PARAMETER = v.St(
    "member",
    v.S("name", required=True, min_len=1, max_len=128, pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*"),
    v.S("defaultValue", max_len=1024),
    v.S("description", max_len=512),
)
PUT_QUERY_DEFINITION = (
    v.S("queryLanguage", enum=LANGUAGES),
    v.S("name", required=True, min_len=1, max_len=255),
    v.S("queryDefinitionId", min_len=1, max_len=256),
    v.L("logGroupNames", v.group_name("member")),
    v.S("queryString", required=True, min_len=1, max_len=jobs_mod.MAX_QUERY_CHARS),
    v.S("clientToken", min_len=36, max_len=128, pattern=r"\S{36,128}"),
    v.L("parameters", PARAMETER, max_len=20),
)


def put_query_definition(ctx: Context, p: dict) -> dict:
    try:
        qid = _jobs(ctx).put_definition(
            name=p["name"],
            query=p["queryString"],
            groups=p.get("logGroupNames"),
            definition_id=p.get("queryDefinitionId"),
            parameters=p.get("parameters"),
            language=p.get("queryLanguage") or "CWLI",
            client_token=p.get("clientToken"),
        )
    except NotFound:
        raise AwsError("ResourceNotFoundException", DEFINITION_NOT_FOUND) from None
    return {"queryDefinitionId": qid}


DESCRIBE_QUERY_DEFINITIONS = (
    v.S("queryLanguage", enum=LANGUAGES),
    v.S("queryDefinitionNamePrefix", min_len=1, max_len=255),
    v.I("maxResults", lo=1, hi=1000),
    v.next_token(),
)


def definition_json(d: dict) -> dict:
    out = {
        "queryLanguage": d.get("queryLanguage", "CWLI"),
        "queryDefinitionId": d["queryDefinitionId"],
        "name": d["name"],
        "queryString": d["queryString"],
        "lastModified": d.get("lastModified", 0),
        "logGroupNames": d.get("logGroupNames") or [],
    }
    if d.get("parameters"):
        out["parameters"] = d["parameters"]
    return out


def describe_query_definitions(ctx: Context, p: dict) -> dict:
    prefix, lang = p.get("queryDefinitionNamePrefix"), p.get("queryLanguage")
    defs = _jobs(ctx).definitions(prefix, lang)
    fp = hashlib.blake2b(json.dumps([prefix, lang]).encode(), digest_size=6).hexdigest()
    offset = 0
    if p.get("nextToken"):
        data = read_page_token(ctx, "cw-query-definitions", p["nextToken"])
        if not (
            isinstance(data, list) and len(data) == 2 and data[0] == fp and isinstance(data[1], int)
        ):
            raise invalid_parameter(BAD_TOKEN)
        offset = data[1]
    size = p.get("maxResults") or 1000
    out: dict[str, Any] = {
        "queryDefinitions": [definition_json(d) for d in defs[offset : offset + size]]
    }
    if offset + size < len(defs):
        out["nextToken"] = page_token(ctx, "cw-query-definitions", [fp, offset + size])
    return out


def delete_query_definition(ctx: Context, p: dict) -> dict:
    try:
        _jobs(ctx).delete_definition(p["queryDefinitionId"])
    except NotFound:
        raise AwsError("ResourceNotFoundException", DEFINITION_NOT_FOUND) from None
    return {"success": True}


# ---- GetLogGroupFields ---------------------------------------------------------------------------

GET_LOG_GROUP_FIELDS = (v.group_name(required=False), v.I("time", lo=0), v.group_identifier())
FIELDS_WINDOW_MS = 8 * 60_000  # AWS: 8 minutes either side of `time`, else the last 15 minutes


def get_log_group_fields(ctx: Context, p: dict) -> dict:
    group = resolve_group(p)
    existing_group(ctx, group)
    if p.get("time") is not None:
        t = min(p["time"], MAX_TS_S) * 1000
        lo, hi = t - FIELDS_WINDOW_MS, t + FIELDS_WINDOW_MS
    else:
        hi = int(time.time() * 1000)
        lo = hi - 15 * 60_000
    fields = _jobs(ctx).group_fields(group, lo, hi, account=ctx.account_id)
    return {"logGroupFields": [{"name": n, "percent": pct} for n, pct in fields]}


OPERATIONS = (
    Operation("StartQuery", START_QUERY, start_query),
    Operation("GetQueryResults", GET_QUERY_RESULTS, get_query_results),
    Operation("StopQuery", (QUERY_ID,), stop_query),
    Operation("DescribeQueries", DESCRIBE_QUERIES, describe_queries),
    Operation("GetLogRecord", GET_LOG_RECORD, get_log_record),
    Operation("PutQueryDefinition", PUT_QUERY_DEFINITION, put_query_definition),
    Operation("DescribeQueryDefinitions", DESCRIBE_QUERY_DEFINITIONS, describe_query_definitions),
    Operation(
        "DeleteQueryDefinition",
        (v.S("queryDefinitionId", required=True, min_len=1, max_len=256),),
        delete_query_definition,
    ),
    Operation("GetLogGroupFields", GET_LOG_GROUP_FIELDS, get_log_group_fields),
)
