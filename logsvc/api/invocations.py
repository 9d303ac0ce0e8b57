"""Invocation records and the project's functions over REST (the console's Invocations view, `logsvc functions`).

Owns the query arguments of `/api/v1/invocations` (filters, limit, paging token: REST error shape)
and the REST description of each function with its triggers and, in the owner, its containers.
Reads records through `invoker/records.py` in any process (they are files); never runs functions.

Routes
    GET  /api/v1/invocations                             invocation records (REST error shape)
    GET  /api/v1/functions                               the project's functions (REST shape)
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from logsvc import subscriptions
from logsvc.api.forward import current_invoker, current_service
from logsvc.api.rest import time_arg
from logsvc.errors import InvalidParameter
from logsvc.invoker.records import RecordLog

bp = Blueprint("invocations", __name__)


@bp.route("/api/v1/invocations", methods=["GET"])
def list_invocations() -> Response:
    """Invocation records, oldest first: filter by function, status, start/end (ms or ISO), parent
    (parentRequestId), requestId; page with limit (1..1000) and nextToken."""
    svc = current_service()
    inv = getattr(svc, "invoker", None)
    records = inv.records if inv is not None else RecordLog(svc.store)
    try:
        limit = int(request.args.get("limit", "100"))
    except ValueError:
        raise InvalidParameter("limit must be an integer", field="limit", rule="1..1000") from None
    result = records.query(
        function=request.args.get("function") or None,
        status=request.args.get("status") or None,
        start=time_arg("start"),
        end=time_arg("end"),
        parent=request.args.get("parent") or request.args.get("parentRequestId") or None,
        request_id=request.args.get("requestId") or None,
        limit=limit,
        next_token=request.args.get("nextToken") or None,
    )
    return jsonify(result)


@bp.route("/api/v1/functions", methods=["GET"])
def list_functions_rest() -> Response:
    """The project's functions with their triggers and (in the owner) live container counts."""
    inv = current_invoker()
    if inv is None:
        return jsonify({"functions": [], "project": None})
    project = inv.project
    subs = [
        *subscriptions.declared_filters(project),
        *subscriptions.SubscriptionBook(current_service().store.root).all(),
    ]
    out = []
    for fn in project.functions.values():
        pool = inv.pools.get(fn.name)
        out.append(
            {
                "name": fn.name,
                "handler": fn.handler,
                "memory": fn.memory,
                "timeout": fn.timeout,
                "concurrency": fn.concurrency,
                "logGroup": fn.log_group,
                "routes": [f"{r.method} {r.path}" for r in project.routes if r.function == fn.name],
                "publicRoutes": [
                    f"{r.method} {r.path}"
                    for r in project.routes
                    if r.function == fn.name and r.public
                ],
                "buckets": [
                    {"bucket": t.bucket, "prefix": t.prefix, "suffix": t.suffix}
                    for t in project.bucket_triggers
                    if t.function == fn.name
                ],
                "tables": [
                    {
                        "table": t.table,
                        "batchSize": t.batch_size,
                        "batchingWindow": t.batching_window,
                    }
                    for t in project.table_triggers
                    if t.function == fn.name
                ],
                "logs": [  # subscription filters: the project file's and the API's
                    {"logGroup": f.group, "filterName": f.name, "filterPattern": f.pattern}
                    for f in subs
                    if f.function == fn.name
                ],
                "onFailure": fn.on_failure,
                "containers": pool.stats() if pool is not None else None,
            }
        )
    return jsonify({"functions": out, "project": str(project.path)})
