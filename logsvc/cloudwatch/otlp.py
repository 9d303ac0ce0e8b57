"""OpenTelemetry logs in (issue #13 item 5): an OTLP `ExportLogsServiceRequest` becomes events written
through the store, one JSON line per log record, as AWS's own OTLP endpoint for CloudWatch Logs does.

Owns: decoding the request (protobuf with `opentelemetry-proto`, imported lazily; or the OTLP JSON
mapping: camelCase, hex trace/span ids, 64-bit integers as strings), where a record goes, the JSON
line it becomes, and the records refused (reported as OTLP partial success, never a failed request).
Never parses HTTP: `api/otlp.py` hands it the body, its kind and the two headers.

Where a record goes (AWS takes both names from headers and requires them; logsvc has defaults):
    group   `x-aws-log-group`, else `/otlp/<service.name>` (the resource attribute; characters a
            group name may not hold become `_`; `unknown_service` when absent, as the SDKs name it)
    stream  `x-aws-log-stream`, else the resource's `service.instance.id`, else `default`
Header names are checked with the CloudWatch API's rules (`names.py`); the group and stream are
created on first use (AWS wants them created beforehand).

The line: `{"body", "severityText", "severityNumber", "traceId", "spanId", "flags", "eventName",
"attributes", "resource": {"attributes"}, "scope": {"name", "version", "attributes"},
"timeUnixNano", "observedTimeUnixNano"}` with empty members left out. Ids are lower-case hex,
attribute lists are objects (`{"http.method": "GET"}`; select dotted keys with `$.attributes.['http.method']`),
nano times are strings (a double cannot hold them). The event's time is `timeUnixNano`, else
`observedTimeUnixNano`, else the time it arrived, in ms.

Refused records, counted as AWS counts them in `partialSuccess.errorMessage` (a JSON object):
PutLogEvents' own rules (`operations.py`): more than 14 days old, more than 2 hours ahead, past the
group's retention, over 1 MiB as an event (line + 26 bytes).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from logsvc import names
from logsvc.errors import InvalidParameter
from logsvc.limits import MAX_EVENT_BYTES, TOO_NEW_MS, TOO_OLD_MS, event_bytes

PATH = "/v1/logs"  # OTLP/HTTP's path for logs (api/otlp.py serves it, auth.py gates it)
DEFAULT_GROUP_PREFIX = "/otlp/"
DEFAULT_SERVICE = "unknown_service"
DEFAULT_STREAM = "default"
APPEND_BYTES = 1 << 20  # lines per store append, so one huge request is not one huge write

_NOT_GROUP_CHAR = re.compile(r"[^.\-_/#A-Za-z0-9]")
_HEX = re.compile(r"[0-9a-fA-F]*")
_ID_LENGTHS = {"traceId": 32, "spanId": 16}


def decode(body: bytes, kind: str) -> Any:
    """The request as an `ExportLogsServiceRequest`; `kind` is "protobuf" or "json".

    :raises InvalidParameter: (field "body") naming what could not be decoded.
    """
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    message = ExportLogsServiceRequest()
    if kind == "protobuf":
        try:
            message.ParseFromString(body)
        except (DecodeError, ValueError, RecursionError) as e:
            raise _bad_body(f"the body is not a protobuf ExportLogsServiceRequest ({e})") from None
        return message
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise _bad_body(f"the body is not JSON ({e})") from None
    if not isinstance(doc, dict):
        raise _bad_body("the body must be a JSON object (an ExportLogsServiceRequest)")
    _hex_ids_to_base64(doc)
    try:
        json_format.ParseDict(doc, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as e:
        raise _bad_body(f"the body is not an OTLP JSON ExportLogsServiceRequest: {e}") from None
    return message


def _bad_body(message: str) -> InvalidParameter:
    return InvalidParameter(message, field="body", rule="OTLP ExportLogsServiceRequest")


def _objects(doc: dict, where: str, name: str, proto_name: str) -> list[dict]:
    """The list of objects under the camelCase key or the proto name (both are valid OTLP JSON).

    Checked here because json_format, told to ignore unknown fields as OTLP requires, takes a
    string where an object belongs as an object of unknown one-letter fields.
    """
    out: list[dict] = []
    for key in (name, proto_name):
        value = doc.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            raise _bad_body(f"{where}{name} must be an array, got {type(value).__name__}")
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise _bad_body(f"{where}{name}[{i}] must be an object, got {type(item).__name__}")
        out += value
    return out


def _hex_ids_to_base64(doc: dict) -> None:
    """OTLP JSON writes trace and span ids in hex where protobuf's JSON mapping expects base64; the
    hex text is valid base64 too, so it must be converted, never passed through."""
    for i, rl in enumerate(_objects(doc, "", "resourceLogs", "resource_logs")):
        where = f"resourceLogs[{i}]."
        for j, sl in enumerate(_objects(rl, where, "scopeLogs", "scope_logs")):
            where = f"resourceLogs[{i}].scopeLogs[{j}]."
            for k, rec in enumerate(_objects(sl, where, "logRecords", "log_records")):
                for name, proto_name in (("traceId", "trace_id"), ("spanId", "span_id")):
                    for key in (name, proto_name):
                        if key not in rec:
                            continue
                        value = rec[key]
                        where = f"resourceLogs[{i}].scopeLogs[{j}].logRecords[{k}].{name}"
                        size = _ID_LENGTHS[name]
                        if not (
                            isinstance(value, str)
                            and len(value) in (0, size)
                            and _HEX.fullmatch(value)
                        ):
                            raise InvalidParameter(
                                f"{where} must be {size} hex digits (OTLP JSON), got {value!r:.60}",
                                field=where,
                                rule=f"{size} hex digits",
                            )
                        rec[key] = base64.b64encode(binascii.unhexlify(value)).decode()


# ---- the line a record becomes ----------------------------------------------------------------


def any_value(v: Any) -> Any:
    """An OTLP AnyValue as JSON: arrays as lists, key-value lists as objects, bytes as base64,
    non-finite doubles as their names (JSON has no NaN)."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attributes(v.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    value = getattr(v, kind)
    if kind == "double_value" and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs}


def record_json(record: Any, resource: dict, scope: dict) -> dict[str, Any]:
    """The JSON object one log record is written as (members described in the module docstring)."""
    out: dict[str, Any] = {}
    if record.HasField("body"):
        out["body"] = any_value(record.body)
    if record.severity_text:
        out["severityText"] = record.severity_text
    if record.severity_number:
        out["severityNumber"] = int(record.severity_number)
    if record.trace_id:
        out["traceId"] = record.trace_id.hex()
    if record.span_id:
        out["spanId"] = record.span_id.hex()
    if record.flags:
        out["flags"] = record.flags
    if record.event_name:
        out["eventName"] = record.event_name
    if record.attributes:
        out["attributes"] = attributes(record.attributes)
    if record.dropped_attributes_count:
        out["droppedAttributesCount"] = record.dropped_attributes_count
    if resource:
        out["resource"] = resource
    if scope:
        out["scope"] = scope
    if record.time_unix_nano:
        out["timeUnixNano"] = str(record.time_unix_nano)
    if record.observed_time_unix_nano:
        out["observedTimeUnixNano"] = str(record.observed_time_unix_nano)
    return out


def default_group(resource: dict) -> str:
    service = resource.get("service.name")
    name = service if isinstance(service, str) and service else DEFAULT_SERVICE
    return DEFAULT_GROUP_PREFIX + _NOT_GROUP_CHAR.sub("_", name)[: names.MAX_NAME - 6]


def default_stream(resource: dict) -> str:
    instance = resource.get("service.instance.id")
    if isinstance(instance, str) and instance:
        return re.sub(r"[:*\x00]", "_", instance)[: names.MAX_NAME]
    return DEFAULT_STREAM


# ---- writing ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What an export did: records written, and records refused by reason (AWS's counter names)."""

    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    @property
    def rejected_count(self) -> int:
        return sum(self.rejected.values())

    @property
    def error_message(self) -> str:
        """AWS's form: a JSON object of counts, e.g. `{"tooOldLogEventCount": 3}`."""
        return json.dumps(self.rejected) if self.rejected else ""


def export(
    service: Any,
    request: Any,
    group_header: str | None,
    stream_header: str | None,
    now_ms: int | None = None,
) -> Outcome:
    """Write every record of `request` through the store; refuse (and count) the ones AWS would.

    :raises InvalidParameter: for a header naming an invalid group or stream (nothing is written).
    """
    if group_header is not None:
        names.validate_group(group_header, field="x-aws-log-group")
    if stream_header is not None:
        names.validate_stream(stream_header, field="x-aws-log-stream")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    outcome = Outcome()
    batches: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for rl in request.resource_logs:
        resource_attrs = attributes(rl.resource.attributes)
        resource = {"attributes": resource_attrs} if resource_attrs else {}
        where = (
            group_header or default_group(resource_attrs),
            stream_header or default_stream(resource_attrs),
        )
        events = batches.setdefault(where, [])
        for sl in rl.scope_logs:
            scope: dict[str, Any] = {}
            if sl.scope.name:
                scope["name"] = sl.scope.name
            if sl.scope.version:
                scope["version"] = sl.scope.version
            if sl.scope.attributes:
                scope["attributes"] = attributes(sl.scope.attributes)
            for record in sl.log_records:
                nanos = record.time_unix_nano or record.observed_time_unix_nano
                ts = nanos // 1_000_000 if nanos else now
                line = json.dumps(
                    record_json(record, resource, scope), ensure_ascii=False, separators=(",", ":")
                )
                if event_bytes(line) > MAX_EVENT_BYTES:
                    outcome.reject("tooLargeLogEventCount")
                elif ts < now - TOO_OLD_MS:
                    outcome.reject("tooOldLogEventCount")
                elif ts > now + TOO_NEW_MS:
                    outcome.reject("tooNewLogEventCount")
                else:
                    events.append((ts, line))
    store = service.store
    for (group, stream), events in batches.items():
        if not events:
            continue
        info = store.create_group(group, exist_ok=True)
        store.create_stream(group, stream, exist_ok=True)
        if info.retention_days:
            cutoff = now - info.retention_days * 86_400_000
            expired = sum(1 for ts, _ in events if ts < cutoff)
            if expired:
                outcome.rejected["expiredLogEventCount"] = (
                    outcome.rejected.get("expiredLogEventCount", 0) + expired
                )
                events = [e for e in events if e[0] >= cutoff]
        chunk: list[tuple[int, str]] = []
        size = 0
        for event in events:
            chunk.append(event)
            size += len(event[1]) + 32
            if size >= APPEND_BYTES:
                store.append_events(group, stream, chunk)
                chunk, size = [], 0
        if chunk:
            store.append_events(group, stream, chunk)
        outcome.accepted += len(events)
    if outcome.accepted:
        service.watcher.notify()  # wake live tails at once, as PutLogEvents does
    return outcome
