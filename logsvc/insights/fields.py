"""Rows: what a field of an event is, for Logs Insights. Pure; the ONE place that decides it.

`event_row(event, account=..., ptr=...)` gives a `Row`, a dict of field -> value that holds the
system fields at once and discovers the rest on first access (most queries touch only
`@timestamp`/`@message`; a query that never asks for a JSON key never parses JSON):

System fields (reference §5.1), always present:
  `@timestamp`, `@ingestionTime` (values.Timestamp: epoch ms that render as a date), `@message`,
  `@logStream`, `@log` (`account:group`), `@ptr` (only when the caller gives one).
  `@ingestionTime` is made with Lambda's fields (it is an `@` name and rarely read).

Lambda's discovered fields (reference §5.2), from `lines.parse_event` (the same fields the REST API
returns as an event's `fields`), on text lines only (a JSON line's keys are ordinary JSON fields):
  `@type`          START / END / REPORT only. INIT_START, INIT_REPORT, app lines: none (AWS's
                   result rows show no @type on INIT_START, see below).
  `@requestId`     START/END/REPORT lines, the runtime crash and "Task timed out" lines, and the
                   Python (`[LEVEL]\\t<ts>\\t<id>\\t`) and Node (`<ts>\\t<id>\\tLEVEL\\t`) runtime
                   lines that carry the id. AWS's docs list @requestId for Lambda logs without
                   saying which lines; these are the lines that carry one.
  `@duration`, `@billedDuration`, `@initDuration`: milliseconds, floats (REPORT only;
                   @initDuration only on a cold start's REPORT).
  `@memorySize`, `@maxMemoryUsed`: BYTES as floats, MB x 1,000,000 (decimal). Evidence: real
                   GetQueryResults rows (oslabs-beta/Embr `retrievedData2.js`, 2023-12) show
                   `Memory Size: 128 MB` as "1.28E8" and `Max Memory Used: 67 MB` as "6.7E7", and
                   `Billed Duration: 15 ms` as "15.0": AWS holds these as doubles and renders them
                   with Java's Double.toString. AWS's 2022 sample divides by 1000 / 1000 (§7).
                   So every metric is an `aws_double`: a float (a double in values.py's number
                   model, which renders every double with `java_double_text`; that function lives
                   in values.py and is re-exported here) whose `text` is that rendering too;
                   arithmetic on it gives plain floats.
  `@xrayTraceId`, `@xraySegmentId`: from the `XRAY TraceId: … SegmentId: …` suffix of a REPORT.

logsvc's own discovered field:
  `@pipe`          "stderr" on events `logsvc run` read from its command's stderr (the REST field
                   `pipe`, from `lines.parse_event`); absent on every other event. An `@` name, like
                   the REST fields `requestId`/`type` that become `@requestId`/`@type`: it cannot
                   collide with a JSON key (a JSON key `@x` is `@@x`), and the `@` stage finds it.

JSON fields (reference §5.3): a message that is a JSON object (`lines.load_json_object`, the reader
filter patterns use too) is flattened with dots: nested objects `a.b`, arrays by index `items.0.id`;
only leaves become fields (an empty object or array gives none); at most `MAX_JSON_FIELDS` (200)
fields, in document order; a top-level key starting with `@` is shown as `@@key`; integers stay
ints (longs), other numbers are `lines.JsonFloat` (a float that remembers its text; a double, so
its cell is Java's rendering of the value: `1.50` -> `1.5`, see values.py), true/false are bools,
strings stay strings, null leaves the field absent. For Lambda events (the group is under
`/aws/lambda/` or the line carries a request id) whose message is not itself JSON, the FIRST
embedded JSON object is flattened the same way (AWS: "only for the first embedded JSON fragment").

A field a command writes into the Row wins over a discovered one of the same name: discovery only
fills names not set yet, and a deletion discovers first so a deleted field stays deleted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from logsvc import lines
from logsvc.insights.values import Timestamp, java_double_text, render
from logsvc.model import LogEvent

__all__ = [
    "LAMBDA_FIELDS",
    "LOGSVC_FIELDS",
    "MAX_JSON_FIELDS",
    "MB",
    "SYSTEM_FIELDS",
    "Row",
    "aws_double",
    "event_row",
    "flatten_json",
    "java_double_text",
    "json_fields",
    "lambda_fields",
    "logsvc_fields",
    "log_group_fields",
    "log_record",
    "message_fields",
]

MAX_JSON_FIELDS = 200  # AWS's newest documented limit per JSON event (older docs said 100 or 1000)
MB = 1_000_000  # @memorySize / @maxMemoryUsed are bytes: MB x 10^6 (see the module docstring)
SYSTEM_FIELDS = ("@timestamp", "@message", "@logStream", "@log", "@ingestionTime", "@ptr")
LAMBDA_FIELDS = (
    "@type",
    "@requestId",
    "@duration",
    "@billedDuration",
    "@memorySize",
    "@maxMemoryUsed",
    "@initDuration",
    "@xrayTraceId",
    "@xraySegmentId",
)
LOGSVC_FIELDS = ("@pipe",)
LAMBDA_GROUP_PREFIX = "/aws/lambda/"
_TYPES = frozenset(("START", "END", "REPORT"))
# (parse_event's name, Insights' name, factor); all become floats, as AWS's doubles
_REPORT_METRICS = (
    ("duration", "@duration", 1),
    ("billedDuration", "@billedDuration", 1),
    ("memorySize", "@memorySize", MB),
    ("maxMemoryUsed", "@maxMemoryUsed", MB),
    ("initDuration", "@initDuration", 1),
)
_XRAY_RE = re.compile(r"XRAY TraceId: (\S+)\s+SegmentId: (\S+)")
_MISS = object()
_LAMBDA, _JSON, _EMBED = (
    1,
    2,
    4,
)  # Row._lazy: stages still pending; _EMBED: a Lambda line (JSON may be embedded)


_DOUBLES: dict[
    float, float
] = {}  # value -> its aws_double: metrics repeat (memory sizes, billed ms)


def aws_double(x: float) -> float:
    """A Lambda metric as AWS holds it: a double that renders as Java writes it (`values.render`
    writes every float so; `text` holds the same string); compares and computes as the plain float."""
    d = _DOUBLES.get(x)
    if d is None:
        if len(_DOUBLES) > 65536:
            _DOUBLES.clear()
        d = _DOUBLES[x] = lines.JsonFloat(java_double_text(x))
    return d


def lambda_fields(message: str, parsed: dict[str, object] | None = None) -> dict[str, object]:
    """Lambda's `@` fields of one message; `parsed` is `lines.parse_event(message).fields` if the
    caller has it (a LogEvent's `fields`), else it is computed. JSON messages give none."""
    if message[:1] == "{":
        return {}
    if not parsed:
        parsed = lines.parse_event(message).fields
        if not parsed:
            return {}
    out: dict[str, object] = {}
    kind = parsed.get("type")
    if kind in _TYPES:
        out["@type"] = kind
    rid = parsed.get("requestId")
    if isinstance(rid, str) and rid and "json" not in parsed:
        out["@requestId"] = rid
    if kind == "REPORT":
        for src, name, factor in _REPORT_METRICS:
            v = parsed.get(src)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[name] = aws_double(float(v * factor))
        if "XRAY TraceId: " in message:
            m = _XRAY_RE.search(message)
            if m is not None:
                out["@xrayTraceId"] = m[1]
                out["@xraySegmentId"] = m[2]
    return out


def logsvc_fields(parsed: dict[str, object] | None) -> dict[str, object]:
    """logsvc's own `@` fields of an event, from its parsed fields (a LogEvent's `fields`)."""
    pipe = parsed.get("pipe") if parsed else None
    return {"@pipe": pipe} if isinstance(pipe, str) else {}


def flatten_json(doc: dict, limit: int = MAX_JSON_FIELDS) -> dict[str, object]:
    """A JSON object's leaves as dotted names (arrays by index), in document order, at most `limit`.

    A top-level key starting with `@` becomes `@@key`; nulls, empty objects and empty arrays give
    no field. Iterative, so any depth the JSON decoder accepted is fine."""
    out: dict[str, object] = {}
    stack: list[tuple[str, Iterator]] = [("", iter(doc.items()))]
    while stack:
        prefix, it = stack[-1]
        for key, value in it:
            name = prefix + key if prefix else ("@" + key if key[:1] == "@" else key)
            t = type(value)
            if t is dict:
                stack.append((name + ".", iter(value.items())))
                break
            if t is list:
                stack.append((name + ".", ((str(i), v) for i, v in enumerate(value))))
                break
            if value is None or not name:
                continue
            if name not in out:
                out[name] = value
                if len(out) >= limit:
                    return out
        else:
            stack.pop()
    return out


def json_fields(message: str, *, embedded: bool = False) -> dict[str, object]:
    """The flattened fields of the message's JSON object, or of the first JSON object embedded in
    it when `embedded` (Lambda events); {} when there is none."""
    doc = lines.load_json_object(message)
    if doc is None and embedded and "{" in message:
        doc = lines.find_json_object(message)
    return flatten_json(doc) if doc else {}


def _is_lambda(group: str, lam: dict[str, object]) -> bool:
    return group.startswith(LAMBDA_GROUP_PREFIX) or "@requestId" in lam


def message_fields(
    message: str, *, group: str = "", parsed: dict[str, object] | None = None
) -> dict[str, object]:
    """Every discovered (non-system) field of a message, eagerly: Lambda's, logsvc's, then JSON's.
    For callers that want them all at once (GetLogRecord, the console's field view)."""
    lam = lambda_fields(message, parsed)
    out = dict(lam)
    out.update(logsvc_fields(parsed))
    for k, v in json_fields(
        message, embedded=message[:1] != "{" and _is_lambda(group, lam)
    ).items():
        out.setdefault(k, v)
    return out


class Row(dict):
    """One event's fields: the system fields at once, discovered ones on first access.

    A dict, so `row["@message"]` of a present field costs a dict lookup. `row[k]` raises KeyError
    for an absent field; `row.get(k)` returns None (the contract's "absent"). Reading a name not
    set yet runs the one discovery stage that can produce it: `@name` (not `@@`) -> Lambda's
    fields; any other name -> the JSON fields. Iterating, `len`, `keys()`, `items()`, `values()`,
    `field_names()`, `copy()` and deletions discover everything first. Make Rows with
    `event_row` or `Row.of(fields)`; a bare `Row(...)` works too and discovers nothing.
    """

    __slots__ = ("_event", "_group", "_lazy")

    def _stage(self, key: str) -> int:
        if key[:1] == "@" and key[1:2] != "@":
            return _LAMBDA
        return _JSON

    def _discover(self, stages: int) -> None:
        stages &= self._lazy
        if not stages:
            return
        message = self._event.message
        if stages & _JSON and "{" not in message:  # no JSON possible: nothing to parse
            self._lazy &= ~_JSON
            stages &= ~_JSON
            if not stages:
                return
        if self._lazy & _LAMBDA:  # also needed by the JSON stage: is this a Lambda event?
            self._lazy &= ~_LAMBDA
            if not dict.__contains__(
                self, "@ingestionTime"
            ):  # rarely read, so made only when asked for
                dict.__setitem__(self, "@ingestionTime", Timestamp(self._event.ingestion_time))
            lam = lambda_fields(message, self._event.fields)
            if "@requestId" in lam:
                self._lazy |= _EMBED
            for k, v in lam.items():
                if not dict.__contains__(self, k):
                    dict.__setitem__(self, k, v)
            for k, v in logsvc_fields(self._event.fields).items():
                if not dict.__contains__(self, k):
                    dict.__setitem__(self, k, v)
        if stages & _JSON:
            embedded = message[:1] != "{" and (
                self._group.startswith(LAMBDA_GROUP_PREFIX) or bool(self._lazy & _EMBED)
            )
            self._lazy &= ~(_JSON | _EMBED)
            for k, v in json_fields(message, embedded=embedded).items():
                if not dict.__contains__(self, k):
                    dict.__setitem__(self, k, v)
        elif not self._lazy & _JSON:
            self._lazy &= ~_EMBED

    @classmethod
    def of(cls, fields: dict[str, object] | None = None) -> Row:
        """A Row of just these fields, nothing to discover (rows a command makes itself)."""
        row = cls(fields or {})
        row._event, row._group, row._lazy = None, "", 0
        return row

    def discover_all(self) -> Row:
        """Runs every pending discovery stage; returns the row."""
        if getattr(self, "_lazy", 0):
            self._discover(_LAMBDA | _JSON)
        return self

    def __missing__(self, key: str) -> object:
        if getattr(self, "_lazy", 0) and isinstance(key, str):
            self._discover(self._stage(key))
            v = dict.get(self, key, _MISS)
            if v is not _MISS:
                return v
        raise KeyError(key)

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        v = dict.get(self, key, _MISS)
        if v is _MISS:
            if not getattr(self, "_lazy", 0) or not isinstance(key, str):
                return default
            self._discover(self._stage(key))
            v = dict.get(self, key, _MISS)
            if v is _MISS:
                return default
        return v

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        if not getattr(self, "_lazy", 0) or not isinstance(key, str):
            return False
        self._discover(self._stage(key))
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[str]:
        return dict.__iter__(self.discover_all())

    def __len__(self) -> int:
        return dict.__len__(self.discover_all())

    def keys(self):  # type: ignore[override]
        return dict.keys(self.discover_all())

    def items(self):  # type: ignore[override]
        return dict.items(self.discover_all())

    def values(self):  # type: ignore[override]
        return dict.values(self.discover_all())

    def field_names(self) -> list[str]:
        """Every field present, system fields first, then Lambda's and logsvc's, JSON's, then any written."""
        return list(dict.keys(self.discover_all()))

    def copy(self) -> Row:  # type: ignore[override]
        """A Row with the same fields that still discovers lazily (for `unnest`)."""
        new = Row(dict.items(self))
        new._event, new._group, new._lazy = (
            getattr(self, "_event", None),
            getattr(self, "_group", ""),
            getattr(self, "_lazy", 0),
        )
        return new

    def __delitem__(self, key: str) -> None:
        self.discover_all()
        dict.__delitem__(self, key)

    def pop(self, key: str, *default: object) -> object:  # type: ignore[override]
        self.discover_all()
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, object]:
        self.discover_all()
        return dict.popitem(self)

    def setdefault(self, key: str, default: object = None) -> object:  # type: ignore[override]
        v = self.get(key, _MISS)
        if v is _MISS:
            dict.__setitem__(self, key, default)
            return default
        return v

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Row):
            other.discover_all()
        return dict.__eq__(self.discover_all(), other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Row({dict.__repr__(self.discover_all())})"

    def __reduce__(self) -> tuple:
        return (dict, (dict(dict.items(self.discover_all())),))


_LOG_NAMES: dict[str, dict[str, str]] = {}  # account -> group -> "account:group"


def _log_name(account: str, group: str) -> str:
    names = _LOG_NAMES.get(account)
    if names is None or len(names) > 4096:
        names = _LOG_NAMES[account] = {}
    log = names[group] = f"{account}:{group}"
    return log


def event_row(event: LogEvent, *, account: str, ptr: str | None) -> Row:
    """The Row of one event: `@timestamp`, `@message`, `@logStream`, `@log` and `@ptr` (when
    given) at once; `@ingestionTime`, Lambda's and the JSON fields when first asked for."""
    group = event.group
    names = _LOG_NAMES.get(account)
    log = names.get(group) if names is not None else None
    if log is None:
        log = _log_name(account, group)
    if ptr is None:
        row = Row(
            {
                "@timestamp": Timestamp(event.timestamp),
                "@message": event.message,
                "@logStream": event.stream,
                "@log": log,
            }
        )
    else:
        row = Row(
            {
                "@timestamp": Timestamp(event.timestamp),
                "@message": event.message,
                "@logStream": event.stream,
                "@log": log,
                "@ptr": ptr,
            }
        )
    row._event = event
    row._group = group
    row._lazy = _LAMBDA | _JSON
    return row


def log_record(event: LogEvent, *, account: str) -> dict[str, str]:
    """GetLogRecord's `logRecord`: every field of the event as a string (reference §6.4):
    `@timestamp`/`@ingestionTime` as epoch-ms digits, the rest as result cells render them."""
    row = event_row(event, account=account, ptr=None).discover_all()
    out: dict[str, str] = {}
    for k, v in dict.items(row):
        if k == "@timestamp" or k == "@ingestionTime":
            out[k] = str(int(v))  # type: ignore[call-overload]
        else:
            text = render(v)  # type: ignore[arg-type]
            if text is not None:
                out[k] = text
    return out


def log_group_fields(events: Iterable[LogEvent], *, account: str) -> list[dict[str, object]]:
    """GetLogGroupFields' `logGroupFields` over these events: every field name (not `@ptr`) with the
    whole percentage of events that have it, most common first, then by name."""
    counts: dict[str, int] = {}
    total = 0
    for event in events:
        total += 1
        for name in event_row(event, account=account, ptr=None).field_names():
            counts[name] = counts.get(name, 0) + 1
    if not total:
        return []
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"name": name, "percent": round(100 * n / total)} for name, n in ranked]
