"""Logs Insights over the REST API (/api/v1/insights...): the console's and the CLI's way in.

Translates JSON bodies and query strings into calls on `service.jobs` (jobs.py) and its answers
into JSON; never runs a query itself (they run in the background, as for StartQuery). Times are
epoch milliseconds, ISO-8601 or an age like `15m` (as everywhere in the REST API).

    POST   /api/v1/insights                  {query, groups[], start?, end?, limit?} -> {queryId, status}
    GET    /api/v1/insights/<id>             -> {queryId, status, results: [[{field, value}]], statistics, ...}
    DELETE /api/v1/insights/<id>             stop it -> {queryId, status}
    GET    /api/v1/insights?q=…&group=…      run, wait (up to `wait` s) and answer like GET /<id>
    GET    /api/v1/insights                  recent queries, newest first
    GET    /api/v1/insights/definitions      saved queries; POST saves one ({id} replaces); DELETE /<id>
    GET    /api/v1/insights/fields?group=G   field names seen in the group's newest events, with percent
    POST   /api/v1/insights/check            {query} -> {ok: true} | {ok: false, error: {message, start, end, caret}}
"""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request

from logsvc import jobs as jobs_mod
from logsvc import names
from logsvc.api.rest import groups_arg, int_arg, service, time_arg
from logsvc.errors import InvalidParameter
from logsvc.timeargs import parse_time

bp = Blueprint("insights", __name__)

DEFAULT_SPAN_MS = 3_600_000  # without a start: the hour before the end
START_WAIT = 0.25  # POST answers at once for a fast query (Complete), else Scheduled/Running
MAX_WAIT = 10
SAMPLE = 1000  # events /fields looks at


def _jobs() -> jobs_mod.Jobs:
    return service().jobs


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidParameter(
            "the request body must be a JSON object", field="body", rule="application/json object"
        )
    return body


def _str(
    body: dict,
    key: str,
    *,
    required: bool = False,
    max_len: int = jobs_mod.MAX_QUERY_CHARS,
    min_len: int = 0,
) -> str | None:
    if key not in body:
        if required:
            raise InvalidParameter(f"{key} is required", field=key, rule="a string")
        return None
    value = body[key]
    if not isinstance(value, str) or not min_len <= len(value) <= max_len:
        raise InvalidParameter(
            f"{key} must be a string of {min_len} to {max_len} characters",
            field=key,
            rule=f"string, {min_len}..{max_len} characters",
        )
    return value


def _groups(body: dict, key: str = "groups", required: bool = True) -> list[str]:
    if key not in body and not required:
        return []
    groups = body.get(key)
    if (
        not isinstance(groups, list)
        or not all(isinstance(g, str) for g in groups)
        or not ((1 if required else 0) <= len(groups) <= 50)
    ):
        raise InvalidParameter(
            f"{key} must be a list of 1 to 50 log group names",
            field=key,
            rule="1..50 log group names",
        )
    for g in groups:
        names.validate_group(g, key)
    return groups


def _time(body: dict, key: str) -> int | None:
    if key not in body:
        return None
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidParameter(
            f"{key} must be epoch milliseconds, an ISO-8601 time or an age such as 15m",
            field=key,
            rule="epoch ms | ISO-8601 | <n>[smhdw]",
        )
    if isinstance(value, int):
        if not 0 <= value <= 253402300799999:
            raise InvalidParameter(f"{key} is out of range", field=key, rule="0..253402300799999")
        return value
    return parse_time(value, key)


def _range(start: int | None, end: int | None) -> tuple[int, int]:
    end = int(time.time() * 1000) if end is None else end
    start = end - DEFAULT_SPAN_MS if start is None else start
    if start > end:
        raise InvalidParameter("start must not be after end", field="start", rule="start <= end")
    return start, end


def _limit(value: object, present: bool = False) -> int | None:
    if value is None and not present:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= jobs_mod.MAX_QUERY_LIMIT
    ):
        raise InvalidParameter(
            f"limit must be an integer between 1 and {jobs_mod.MAX_QUERY_LIMIT}",
            field="limit",
            rule=f"1..{jobs_mod.MAX_QUERY_LIMIT}",
        )
    return value


def summary(st: dict) -> dict:
    """A query as the REST API shows it (without its rows)."""
    return {
        "queryId": st["queryId"],
        "status": st["status"],
        "query": st.get("queryString", ""),
        "groups": st.get("groups", []),
        "start": st.get("start"),
        "end": st.get("end"),
        "limit": st.get("limit"),
        "createTime": st.get("createTime"),
        "startedTime": st.get("startedTime"),
        "endedTime": st.get("endedTime"),
        "statistics": st.get("statistics") or {},
        "error": st.get("error"),
        "worker": (st.get("owner") or {}).get("pid"),
    }


def _detail(qid: str) -> dict:
    st, rows = _jobs().results(qid)
    out = summary(st)
    out["results"] = [[{"field": f, "value": v} for f, v in row] for row in rows]
    return out


def _start(
    text: str, groups: list[str], start: int | None, end: int | None, limit: int | None, wait: float
) -> dict:
    lo, hi = _range(start, end)
    st = _jobs().start(text, groups, lo, hi, limit, wait=wait)
    return st


@bp.post("/api/v1/insights")
def start_query():
    body = _body()
    text = _str(body, "query", required=True)
    groups = _groups(body)
    limit = _limit(body["limit"], present=True) if "limit" in body else None
    st = _start(text, groups, _time(body, "start"), _time(body, "end"), limit, START_WAIT)
    return jsonify({"queryId": st["queryId"], "status": st["status"]})


@bp.get("/api/v1/insights")
def run_or_list():
    text = request.args.get("q")
    status = request.args.get("status")
    if status is not None and status not in jobs_mod.STATUSES:
        raise InvalidParameter(
            f"status must be one of {', '.join(jobs_mod.STATUSES)}",
            field="status",
            rule="|".join(jobs_mod.STATUSES),
        )
    if text is None:
        groups = groups_arg(required=False)
        limit = int_arg("limit", 50, 1, jobs_mod.MAX_QUERY_LIMIT)
        int_arg("wait", 0, 0, MAX_WAIT)
        queries = [
            q
            for q in _jobs().list(status=status)
            if not groups or set(groups) & set(q.get("groups", ()))
        ]
        return jsonify({"queries": [summary(q) for q in queries[:limit]]})
    if len(text) > jobs_mod.MAX_QUERY_CHARS:
        raise InvalidParameter(
            f"q must be at most {jobs_mod.MAX_QUERY_CHARS} characters",
            field="q",
            rule=f"<= {jobs_mod.MAX_QUERY_CHARS} characters",
        )
    groups = groups_arg()
    start = time_arg("since")
    end = time_arg("until")
    limit = int_arg("limit", None, 1, jobs_mod.MAX_QUERY_LIMIT)
    wait = int_arg("wait", MAX_WAIT, 0, MAX_WAIT)
    st = _start(text, groups, start, end, limit, 0)
    _jobs().wait(st["queryId"], wait)
    return jsonify(_detail(st["queryId"]))


@bp.get("/api/v1/insights/<qid>")
def get_query(qid: str):
    return jsonify(_detail(qid))


@bp.delete("/api/v1/insights/<qid>")
def stop_query(qid: str):
    st = _jobs().stop(qid)
    return jsonify({"queryId": st["queryId"], "status": st["status"]})


@bp.post("/api/v1/insights/check")
def check():
    text = _str(_body(), "query", required=True)
    try:
        jobs_mod.compile_query(text)
    except jobs_mod.MalformedQuery as e:
        return jsonify(
            {
                "ok": False,
                "error": {
                    "code": e.code,
                    "message": e.message,
                    "start": e.position,
                    "end": e.end,
                    "caret": e.caret,
                },
            }
        )
    return jsonify({"ok": True})


@bp.get("/api/v1/insights/fields")
def fields():
    groups = groups_arg()
    start, end = time_arg("since"), time_arg("until")
    merged: dict[str, float] = {}
    for g in groups:
        for name, pct in _jobs().group_fields(g, start, end, SAMPLE):
            merged[name] = max(merged.get(name, 0), pct)
    rows = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))
    return jsonify({"fields": [{"name": n, "percent": p} for n, p in rows]})


# ---- saved queries -------------------------------------------------------------------------------


def _definition(d: dict) -> dict:
    return {
        "id": d["queryDefinitionId"],
        "name": d["name"],
        "query": d["queryString"],
        "groups": d.get("logGroupNames") or [],
        "lastModified": d.get("lastModified"),
    }


@bp.get("/api/v1/insights/definitions")
def list_definitions():
    prefix = request.args.get("prefix") or None
    return jsonify({"definitions": [_definition(d) for d in _jobs().definitions(prefix)]})


@bp.post("/api/v1/insights/definitions")
def put_definition():
    body = _body()
    name = _str(body, "name", required=True, min_len=1, max_len=255)
    text = _str(body, "query", required=True, min_len=1)
    groups = _groups(body, required=False)
    did = _str(body, "id", max_len=256, min_len=1)
    new_id = _jobs().put_definition(name=name, query=text, groups=groups, definition_id=did)
    saved = next(d for d in _jobs().definitions() if d["queryDefinitionId"] == new_id)
    return jsonify(_definition(saved))


@bp.delete("/api/v1/insights/definitions/<did>")
def delete_definition(did: str):
    _jobs().delete_definition(did)
    return jsonify({"id": did, "deleted": True})
