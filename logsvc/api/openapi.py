"""The OpenAPI 3 description of the REST API, served at /api/v1/openapi.json. Kept true by tests."""

from __future__ import annotations

from logsvc import __version__
from logsvc.invoker.records import STATUSES as RECORD_STATUSES


def _p(
    name: str, desc: str, schema: dict | None = None, required: bool = False, many: bool = False
) -> dict:
    schema = schema or {"type": "string"}
    if many:
        schema = {"type": "array", "items": schema}
    out = {"name": name, "in": "query", "description": desc, "required": required, "schema": schema}
    if many:
        out["style"] = "form"
        out["explode"] = True
    return out


GROUP = {"type": "string", "minLength": 1, "maxLength": 512, "pattern": r"^[.\-_/#A-Za-z0-9]+$"}
STREAM = {"type": "string", "minLength": 1, "maxLength": 512, "pattern": r"^[^:*]+$"}
TIME = {"type": "string", "description": "epoch ms, ISO-8601, or an age like 15m/2h/1d"}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 10000}

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
                "rule": {"type": "string"},
                "hint": {"type": "string"},
                "position": {
                    "type": "integer",
                    "description": "0-based character offset where the input fails",
                },
                "end": {
                    "type": "integer",
                    "description": "end of the failing span (Logs Insights queries)",
                },
            },
        }
    },
}

EVENT = {
    "type": "object",
    "required": ["eventId", "group", "stream", "timestamp", "ingestionTime", "message", "fields"],
    "properties": {
        "eventId": {"type": "string"},
        "group": {"type": "string"},
        "stream": {"type": "string"},
        "timestamp": {"type": "integer"},
        "ingestionTime": {"type": "integer"},
        "message": {"type": "string"},
        "fields": {"type": "object"},
        "highlights": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
    },
}

EVENTS_PAGE = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
        "nextToken": {
            "type": ["string", "null"],
            "description": "More events match: the page ended at `limit` events, at 1 MiB or at "
            "the search's time budget; pass it back to resume right after this page",
        },
    },
}


_ERR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

# The error statuses most /api operations answer with (status -> description). Every route refuses a
# Host that is not ours (auth.py); every /api route but this document takes the token.
COMMON_ERRORS = {
    "400": "Invalid parameter",
    "401": "Token required",
    "403": "The Host header names no host this logsvc answers to",
    "404": "Unknown group or stream",
}


def _error(description: str) -> dict:
    """A response whose body is the REST error shape (api/errors.py writes it)."""
    return {"description": description, **_ERR}


def _errors(without: tuple[str, ...] = (), extra: dict[str, str] | None = None) -> dict:
    """Error responses from one table: COMMON_ERRORS but the statuses `without` names, then `extra`
    (status -> description; it replaces a common status's description)."""
    table = {k: v for k, v in COMMON_ERRORS.items() if k not in without} | (extra or {})
    return {status: _error(description) for status, description in table.items()}


HOST_403 = _errors(without=("400", "401", "404"))


def _responses(
    ok_schema: dict,
    ok_type: str = "application/json",
    *,
    without: tuple[str, ...] = (),
    extra: dict[str, str] | None = None,
) -> dict:
    """200 with `ok_schema`, then `_errors(without, extra)`."""
    return {
        "200": {"description": "OK", "content": {ok_type: {"schema": ok_schema}}},
        **_errors(without, extra),
    }


QUERY_ID = {"type": "string"}
STATISTICS = {
    "type": "object",
    "properties": {
        k: {"type": "number"}
        for k in (
            "recordsMatched",
            "recordsScanned",
            "estimatedRecordsSkipped",
            "bytesScanned",
            "estimatedBytesSkipped",
            "logGroupsScanned",
        )
    },
}
STATUS = {
    "type": "string",
    "enum": ["Scheduled", "Running", "Complete", "Failed", "Cancelled", "Timeout"],
}
QUERY_SUMMARY = {
    "type": "object",
    "required": ["queryId", "status", "query", "groups", "statistics"],
    "properties": {
        "queryId": QUERY_ID,
        "status": STATUS,
        "query": {"type": "string"},
        "groups": {"type": "array", "items": {"type": "string"}},
        "start": {"type": ["integer", "null"]},
        "end": {"type": ["integer", "null"]},
        "limit": {"type": ["integer", "null"]},
        "createTime": {"type": ["integer", "null"]},
        "startedTime": {"type": ["integer", "null"]},
        "endedTime": {"type": ["integer", "null"]},
        "statistics": STATISTICS,
        "error": {"type": ["string", "null"], "description": "why it Failed or timed out"},
        "worker": {"type": ["integer", "null"], "description": "pid of the worker that runs it"},
    },
}
QUERY_RESULTS = {
    "allOf": [
        {"$ref": "#/components/schemas/InsightsQuery"},
        {
            "type": "object",
            "required": ["results"],
            "properties": {
                "results": {
                    "type": "array",
                    "description": "rows; each a list of {field, value} (values are strings, as GetQueryResults)",
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["field", "value"],
                            "properties": {
                                "field": {"type": "string"},
                                "value": {"type": "string"},
                            },
                        },
                    },
                }
            },
        },
    ]
}
DEFINITION = {
    "type": "object",
    "required": ["id", "name", "query", "groups"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "query": {"type": "string"},
        "groups": {"type": "array", "items": {"type": "string"}},
        "lastModified": {"type": ["integer", "null"]},
    },
}
TIME_BODY = {
    "oneOf": [
        {"type": "integer", "minimum": 0, "maximum": 253402300799999},
        {"type": "string", "description": "ISO-8601, or an age like 15m/2h/1d"},
    ]
}
QUERY_TEXT = {"type": "string", "maxLength": 10000, "description": "Logs Insights query"}


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _insights_responses(ok_schema: dict) -> dict:
    return _responses(
        ok_schema,
        extra={
            "404": "Unknown log group, query or saved query",
            "503": "Too many Logs Insights queries at once (insights_max_queries)",
        },
    )


def insights_paths() -> dict:
    """/api/v1/insights...: Logs Insights queries (api/insights.py)."""
    groups = {"type": "array", "minItems": 1, "maxItems": 50, "items": GROUP}
    return {
        "/api/v1/insights": {
            "post": {
                "summary": "Start a Logs Insights query (it runs in the background; poll GET /api/v1/insights/{queryId})",
                "requestBody": _json_body(
                    {
                        "type": "object",
                        "required": ["query", "groups"],
                        "properties": {
                            "query": QUERY_TEXT,
                            "groups": groups,
                            "start": TIME_BODY,
                            "end": TIME_BODY,
                            "limit": {"type": "integer", "minimum": 1, "maximum": 100000},
                        },
                    }
                ),
                "responses": _insights_responses(
                    {
                        "type": "object",
                        "required": ["queryId", "status"],
                        "properties": {"queryId": QUERY_ID, "status": STATUS},
                    }
                ),
            },
            "get": {
                "summary": "With q: run a query and wait for it (up to `wait` seconds). Without q: recent queries, newest first",
                "parameters": [
                    _p("q", "Logs Insights query (runs it)", QUERY_TEXT),
                    _p(
                        "group",
                        "Log group (repeat for several; required with q; without q: queries of these groups)",
                        GROUP,
                        many=True,
                    ),
                    _p("since", "Range start (default: an hour before until)", TIME),
                    _p("until", "Range end (default: now)", TIME),
                    _p(
                        "limit",
                        "Rows at most (with q); queries listed at most (without q, default 50)",
                        {"type": "integer", "minimum": 1, "maximum": 100000},
                    ),
                    _p(
                        "wait",
                        "Seconds to wait for the query to end (with q)",
                        {"type": "integer", "minimum": 0, "maximum": 10},
                    ),
                    _p("status", "Only queries in this status (without q)", STATUS),
                ],
                "responses": _insights_responses(
                    {
                        "oneOf": [
                            {"$ref": "#/components/schemas/InsightsResults"},
                            {
                                "type": "object",
                                "required": ["queries"],
                                "properties": {
                                    "queries": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/InsightsQuery"},
                                    }
                                },
                            },
                        ]
                    }
                ),
            },
        },
        "/api/v1/insights/{queryId}": {
            "parameters": [{"name": "queryId", "in": "path", "required": True, "schema": QUERY_ID}],
            "get": {
                "summary": "A query's status, statistics and rows (the rows so far while it runs)",
                "responses": _insights_responses({"$ref": "#/components/schemas/InsightsResults"}),
            },
            "delete": {
                "summary": "Stop a query (it ends as Cancelled); 400 if it already ended",
                "responses": _insights_responses(
                    {"type": "object", "required": ["queryId", "status"]}
                ),
            },
        },
        "/api/v1/insights/check": {
            "post": {
                "summary": "Does a query compile? (the console's editor)",
                "requestBody": _json_body(
                    {"type": "object", "required": ["query"], "properties": {"query": QUERY_TEXT}}
                ),
                "responses": _insights_responses(
                    {
                        "type": "object",
                        "required": ["ok"],
                        "properties": {
                            "ok": {"type": "boolean"},
                            "error": {
                                "type": "object",
                                "properties": {
                                    "code": {"type": "string"},
                                    "message": {"type": "string"},
                                    "start": {"type": "integer"},
                                    "end": {"type": "integer"},
                                    "caret": {"type": "string"},
                                },
                            },
                        },
                    }
                ),
            }
        },
        "/api/v1/insights/fields": {
            "get": {
                "summary": "Field names in the newest 1,000 events of the groups, with the percent of events that have them",
                "parameters": [
                    _p("group", "Log group (repeat for several)", GROUP, required=True, many=True),
                    _p("since", "Only events after this", TIME),
                    _p("until", "Only events before this", TIME),
                ],
                "responses": _insights_responses(
                    {
                        "type": "object",
                        "required": ["fields"],
                        "properties": {
                            "fields": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["name", "percent"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "percent": {"type": "number"},
                                    },
                                },
                            }
                        },
                    }
                ),
            }
        },
        "/api/v1/insights/definitions": {
            "get": {
                "summary": "Saved queries (the same as DescribeQueryDefinitions)",
                "parameters": [_p("prefix", "Name prefix")],
                "responses": _insights_responses(
                    {
                        "type": "object",
                        "required": ["definitions"],
                        "properties": {
                            "definitions": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/InsightsDefinition"},
                            }
                        },
                    }
                ),
            },
            "post": {
                "summary": "Save a query; with id, replace that saved query wholly",
                "requestBody": _json_body(
                    {
                        "type": "object",
                        "required": ["name", "query"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1, "maxLength": 255},
                            "query": {"type": "string", "minLength": 1, "maxLength": 10000},
                            "groups": {"type": "array", "maxItems": 50, "items": GROUP},
                            "id": {"type": "string", "minLength": 1, "maxLength": 256},
                        },
                    }
                ),
                "responses": _insights_responses(
                    {"$ref": "#/components/schemas/InsightsDefinition"}
                ),
            },
        },
        "/api/v1/insights/definitions/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "delete": {
                "summary": "Delete a saved query",
                "responses": _insights_responses({"type": "object", "required": ["id", "deleted"]}),
            },
        },
    }


def insights_console_paths() -> dict:
    """/api/v1/insights/samples and /language: read-only tables for the console's editor (api/insights_console.py)."""
    arity = {
        "type": "object",
        "required": ["name", "minArgs"],
        "properties": {
            "name": {"type": "string"},
            "minArgs": {"type": "integer"},
            "maxArgs": {"type": "integer", "nullable": True},
        },
    }
    names = {"type": "array", "items": {"type": "string"}}
    return {
        "/api/v1/insights/samples": {
            "get": {
                "summary": "Sample Logs Insights queries (AWS's for Lambda and general logs; JSON and access logs)",
                "responses": _responses(
                    {
                        "type": "object",
                        "required": ["samples"],
                        "properties": {
                            "samples": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["category", "name", "query"],
                                    "properties": {
                                        "category": {"type": "string"},
                                        "name": {"type": "string"},
                                        "query": {"type": "string"},
                                        "description": {"type": "string"},
                                    },
                                },
                            }
                        },
                    }
                ),
            }
        },
        "/api/v1/insights/language": {
            "get": {
                "summary": "Commands, functions and aggregates the query engine runs (the console's completion)",
                "responses": _responses(
                    {
                        "type": "object",
                        "required": ["commands", "functions", "aggregates"],
                        "properties": {
                            "commands": names,
                            "functions": {"type": "array", "items": arity},
                            "aggregates": {"type": "array", "items": arity},
                            "keywords": names,
                            "diffModifiers": names,
                        },
                    }
                ),
            }
        },
    }


def _with_shared_statuses(paths: dict) -> dict:
    """Statuses that follow from what an operation takes: a body can be over app.MAX_BODY (413); a
    paging token needs the data directory's paging key, which can be there but unusable (507)."""
    for item in paths.values():
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            if "requestBody" in op:
                op["responses"]["413"] = _error("Request body larger than 8 MiB")
            if any(p.get("name") == "nextToken" for p in op.get("parameters", [])):
                op["responses"]["507"] = _error("The data directory's paging key is unusable")
    return paths


def functions_paths() -> dict:
    """/api/v1/functions, /invocations and /tables: the project's functions, their records and tables (api/lambda_api.py)."""
    no_project = "No such table, or no project file (then nothing has functions, routes or tables)"
    key = {"type": "object", "description": "the item's key attributes"}
    items = {
        "parameters": [
            {"name": "table", "in": "path", "required": True, "schema": {"type": "string"}}
        ]
    }
    for method, summary, body, ok in (
        ("get", "Every item of a table", None, "items"),
        ("put", "Write one item (replaces the item with its key)", {"type": "object"}, "written"),
        (
            "post",
            "Write several items in one atomic batch",
            {
                "type": "object",
                "required": ["items"],
                "properties": {"items": {"type": "array", "items": {"type": "object"}}},
            },
            "written",
        ),
        (
            "patch",
            "Update one item: set attributes and remove others",
            {
                "type": "object",
                "required": ["key"],
                "properties": {
                    "key": key,
                    "set": {"type": "object"},
                    "remove": {"type": "array", "items": {"type": "string"}},
                },
            },
            "item",
        ),
        (
            "delete",
            "Delete one item",
            {"type": "object", "required": ["key"], "properties": {"key": key}},
            "deleted",
        ),
    ):
        op = {
            "summary": summary,
            "responses": _responses(
                {"type": "object", "required": [ok]},
                extra={"404": no_project, "503": "The process that runs functions is restarting"},
            ),
        }
        if body is not None:
            op["requestBody"] = _json_body(body)
        items[method] = op
    return {
        "/api/v1/functions": {
            "get": {
                "summary": "The project's functions with their triggers and live container counts",
                "responses": _responses(
                    {"type": "object", "required": ["functions", "project"]},
                    without=("400", "404"),
                ),
            }
        },
        "/api/v1/invocations": {
            "get": {
                "summary": "Invocation records, oldest first",
                "parameters": [
                    _p("function", "Only this function's records"),
                    _p(
                        "status",
                        "Only records with this outcome (empty: any)",
                        {"type": "string", "enum": ["", *RECORD_STATUSES]},
                    ),
                    _p("start", "Records that started at or after this", TIME),
                    _p("end", "Records that started at or before this", TIME),
                    _p("parent", "Only records invoked by this request id (alias parentRequestId)"),
                    _p("parentRequestId", "Only records invoked by this request id"),
                    _p("requestId", "Only this request's record"),
                    _p(
                        "limit",
                        "Records per page",
                        {"type": "integer", "minimum": 1, "maximum": 1000},
                    ),
                    _p("nextToken", "Token from the previous page"),
                ],
                "responses": _responses(
                    {"type": "object", "required": ["invocations"]}, without=("404",)
                ),
            }
        },
        "/api/v1/metrics": {
            "get": {
                "summary": "Metrics with data in the range (metric filters, EMF, AWS/Lambda, PutMetricData)",
                "parameters": [
                    _p("namespace", "Only this namespace"),
                    _p("name", "Only this metric name"),
                    _p("start", "Range start (default: an hour before end)", TIME),
                    _p("end", "Range end, exclusive (default: now)", TIME),
                ],
                "responses": _responses(
                    {"type": "object", "required": ["metrics"]}, without=("404",)
                ),
            }
        },
        "/api/v1/metrics/data": {
            "get": {
                "summary": "One metric's statistic per period, and where its log lines are",
                "parameters": [
                    _p("namespace", "The metric's namespace (required)"),
                    _p("name", "The metric's name (required)"),
                    _p("dimension", "Name=Value, once per dimension (exactly the metric's set)"),
                    _p("stat", "Sum, Average, Minimum, Maximum, SampleCount or pNN (default Sum)"),
                    _p("period", "Seconds, a multiple of 60 (default 60)", {"type": "integer"}),
                    _p("start", "Range start (default: an hour before end)", TIME),
                    _p("end", "Range end, exclusive (default: now)", TIME),
                ],
                "responses": _responses(
                    {"type": "object", "required": ["points"]}, without=("404",)
                ),
            }
        },
        "/api/v1/tables/{table}/items": items,
    }


OTLP_STATUS = {
    "type": "object",
    "description": "google.rpc.Status (protobuf-encoded when the request was protobuf)",
    "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
}


def otlp_paths() -> dict:
    """/v1/logs: OpenTelemetry logs in (api/otlp.py). Its errors are OTLP's google.rpc.Status, not
    the REST error shape, so it stays outside `_with_shared_statuses`."""
    status = {"application/json": {"schema": OTLP_STATUS}, "application/x-protobuf": {}}

    def failure(description: str) -> dict:
        return {"description": description, "content": status}

    return {
        "/v1/logs": {
            "post": {
                "summary": "OpenTelemetry logs in (OTLP/HTTP ExportLogsServiceRequest)",
                "description": (
                    "An OTLP/HTTP logs export, `application/json` (the OTLP JSON mapping: hex "
                    "trace/span ids, 64-bit integers as strings) or `application/x-protobuf`, "
                    "optionally `Content-Encoding: gzip` or `deflate` (at most 8 MiB decompressed). "
                    "Each log record becomes one JSON event in the group and stream the headers "
                    "name (default: `/otlp/<service.name>`, stream `service.instance.id` or "
                    "`default`; created on first use). Records PutLogEvents would refuse (too "
                    "old, too new, expired, over 1 MiB) are counted in `partialSuccess`. Takes the "
                    "bearer token or SigV4 (service `logs`) when the server has a token or keys."
                ),
                "parameters": [
                    {
                        "name": "x-aws-log-group",
                        "in": "header",
                        "description": "Log group (default /otlp/<service.name>)",
                        "required": False,
                        "schema": GROUP,
                    },
                    {
                        "name": "x-aws-log-stream",
                        "in": "header",
                        "description": "Log stream (default: service.instance.id, else 'default')",
                        "required": False,
                        "schema": STREAM,
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "resourceLogs": {
                                        "type": "array",
                                        "nullable": True,  # JSON null is an empty list in proto3
                                        "items": {"type": "object"},
                                    }
                                },
                            }
                        },
                    },  # application/x-protobuf too (a schema-less binary body; see description)
                },
                "responses": {
                    "200": {
                        "description": "ExportLogsServiceResponse; partialSuccess counts refused "
                        "records (errorMessage: a JSON object of counts by reason, as AWS writes it)",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "partialSuccess": {
                                            "type": "object",
                                            "properties": {
                                                "rejectedLogRecords": {"type": "string"},
                                                "errorMessage": {"type": "string"},
                                            },
                                        }
                                    },
                                }
                            },
                            "application/x-protobuf": {},
                        },
                    },
                    "400": failure("Undecodable body, or a header naming an invalid group/stream"),
                    "401": failure("Token or SigV4 signature required"),
                    "403": failure("Bad SigV4 signature, or a Host this logsvc does not answer to"),
                    "413": failure("Body larger than 8 MiB (as sent, or decompressed)"),
                    "415": failure("Content-Type is neither application/json nor x-protobuf"),
                    "507": failure("The data directory is full or unwritable"),
                },
            }
        }
    }


def openapi_document() -> dict:
    read_params = [
        _p("start", "Earliest event time (inclusive)", TIME),
        _p("end", "Latest event time (inclusive)", TIME),
        _p(
            "limit",
            "Events per page; a page also ends at 1 MiB (each message's UTF-8 bytes + 26, as "
            "CloudWatch counts) with a nextToken for the rest",
            LIMIT,
        ),
        _p("nextToken", "Token from the previous page"),
        _p("q", "CloudWatch filter pattern", {"type": "string", "maxLength": 1024}),
    ]
    sources = [
        _p("group", "Log group name (repeat for several)", GROUP, many=True),
        _p("stream", "Log stream name (repeat for several)", STREAM, many=True),
        _p("streamPrefix", "Only streams whose name starts with this"),
    ]
    return {
        "openapi": "3.0.3",
        "info": {"title": "logsvc REST API", "version": __version__},
        "paths": _with_shared_statuses(
            {
                "/healthz": {
                    "get": {
                        "summary": "Liveness, ingest status and each forwarder's progress (forward)",
                        "responses": {"200": {"description": "OK"}, **HOST_403},
                    }
                },
                "/api/v1/openapi.json": {
                    "get": {
                        "summary": "This document (open without the token)",
                        "responses": {"200": {"description": "OpenAPI 3 document"}, **HOST_403},
                    }
                },
                "/api/v1/groups": {
                    "get": {
                        "summary": "Log groups",
                        "parameters": [
                            _p("prefix", "Name prefix"),
                            _p(
                                "internal",
                                "Also list logsvc's internal groups (/logsvc/invocations); a prefix that is"
                                " such a group's whole name lists it too",
                                {"type": "boolean"},
                            ),
                            _p(
                                "limit",
                                "Groups per page",
                                {"type": "integer", "minimum": 1, "maximum": 1000},
                            ),
                            _p("nextToken", "Token from the previous page"),
                        ],
                        "responses": _responses({"type": "object", "required": ["groups"]}),
                    }
                },
                "/api/v1/streams": {
                    "get": {
                        "summary": "Log streams of a group",
                        "parameters": [
                            _p("group", "Log group", GROUP, required=True),
                            _p(
                                "orderBy",
                                "Sort order",
                                {"type": "string", "enum": ["lastEventTime", "name"]},
                            ),
                            _p("prefix", "Stream name prefix"),
                            _p(
                                "limit",
                                "Streams per page",
                                {"type": "integer", "minimum": 1, "maximum": 1000},
                            ),
                            _p("nextToken", "Token from the previous page"),
                        ],
                        "responses": _responses({"type": "object", "required": ["streams"]}),
                    }
                },
                "/api/v1/events": {
                    "get": {
                        "summary": "Events in time order; several streams and groups merged by time",
                        "parameters": sources
                        + read_params
                        + [
                            _p(
                                "startFromHead",
                                "Oldest first (default: newest page)",
                                {"type": "boolean"},
                            )
                        ],
                        "responses": _responses(EVENTS_PAGE),
                    }
                },
                "/api/v1/search": {
                    "get": {
                        "summary": "Matching events across groups, newest first, with highlight spans",
                        "parameters": sources + read_params,
                        "responses": _responses(EVENTS_PAGE),
                    }
                },
                "/api/v1/events/context": {
                    "get": {
                        "summary": "Events around one event in its stream",
                        "parameters": [
                            _p("group", "Log group", GROUP, required=True),
                            _p("stream", "Log stream", STREAM, required=True),
                            _p("eventId", "Event id", required=True),
                            _p(
                                "before",
                                "Events before",
                                {"type": "integer", "minimum": 0, "maximum": 1000},
                            ),
                            _p(
                                "after",
                                "Events after",
                                {"type": "integer", "minimum": 0, "maximum": 1000},
                            ),
                        ],
                        "responses": _responses(EVENTS_PAGE),
                    }
                },
                "/api/v1/histogram": {
                    "get": {
                        "summary": "Event counts over time",
                        "parameters": sources
                        + [
                            _p("start", "Range start", TIME),
                            _p("end", "Range end", TIME),
                            _p(
                                "buckets",
                                "Number of buckets",
                                {"type": "integer", "minimum": 1, "maximum": 1000},
                            ),
                            _p(
                                "q",
                                "CloudWatch filter pattern",
                                {"type": "string", "maxLength": 1024},
                            ),
                            _p(
                                "levels",
                                "Also count each bucket's events per level class (error, warn, info, debug,"
                                " other), from at most the newest 50,000 matching events",
                                {"type": "boolean"},
                            ),
                        ],
                        "responses": _responses(
                            {"type": "object", "required": ["buckets", "interval"]}
                        ),
                    }
                },
                "/api/v1/facets": {
                    "get": {
                        "summary": "Top values of level, group, stream and each JSON key over a sample of the newest matching events",
                        "parameters": sources
                        + [
                            _p("start", "Range start", TIME),
                            _p("end", "Range end", TIME),
                            _p(
                                "q",
                                "CloudWatch filter pattern",
                                {"type": "string", "maxLength": 1024},
                            ),
                            _p(
                                "sample",
                                "Newest matching events to read (default 1000)",
                                {"type": "integer", "minimum": 1, "maximum": 10000},
                            ),
                        ],
                        "responses": _responses(
                            {"type": "object", "required": ["facets", "sampled", "complete"]}
                        ),
                    }
                },
                "/api/v1/export": {
                    "get": {
                        "summary": "All matching events as a streamed download (no row cap)",
                        "parameters": sources
                        + read_params[:2]
                        + [
                            read_params[4],
                            _p(
                                "format",
                                "ndjson or csv",
                                {"type": "string", "enum": ["ndjson", "csv"]},
                            ),
                        ],
                        "responses": {"200": {"description": "A stream of rows"}, **_errors()},
                    }
                },
                **insights_paths(),
                **insights_console_paths(),
                **functions_paths(),
                "/api/v1/tail": {
                    "get": {
                        "summary": "Server-Sent Events: new events as they arrive",
                        "description": "Each message carries an `id:` cursor; reconnect with Last-Event-ID to resume with no gap and no duplicate.",
                        "parameters": [
                            _p(
                                "group",
                                "Log group (repeat for several)",
                                GROUP,
                                required=True,
                                many=True,
                            ),
                            _p("stream", "Log stream (repeat for several)", STREAM, many=True),
                            _p(
                                "q",
                                "CloudWatch filter pattern",
                                {"type": "string", "maxLength": 1024},
                            ),
                            _p("since", "First replay events from this time", TIME),
                            _p(
                                "heartbeat",
                                "Seconds between heartbeats",
                                {"type": "integer", "minimum": 1, "maximum": 60},
                            ),
                        ],
                        "responses": {
                            "200": {
                                "description": "text/event-stream",
                                "content": {"text/event-stream": {"schema": {"type": "string"}}},
                            },
                            **_errors(
                                extra={
                                    "404": "Unknown group",
                                    "503": "Too many open tails (max_tail_clients)",
                                }
                            ),
                        },
                    }
                },
            }
        )
        | otlp_paths(),
        "components": {
            "schemas": {
                "Error": ERROR,
                "Event": EVENT,
                "InsightsQuery": QUERY_SUMMARY,
                "InsightsResults": QUERY_RESULTS,
                "InsightsDefinition": DEFINITION,
            }
        },
    }
