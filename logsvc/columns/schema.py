"""What each column of the columnar copy holds: ONE place, and the exact (reference) way to fill it.

A row is one event, exactly as the row engine sees it (`insights.fields.event_row`):

  grp, stream   the event's log group and stream
  ident         the stream file's identity when the event was read (hex of `LogEvent.ident`);
                rows of an identity the file no longer has are invisible (visibility join)
  off, end      the event's byte range in the stream file (`LogEvent.offset`, `.end`): @ptr, reading
                the message back, and which rows the columns cover
  ts, ingest    @timestamp, @ingestionTime (epoch ms)
  msg           @message, exactly
  type, rid     @type, @requestId (Lambda's discovered fields; NULL when the row engine has none)
  duration, billed, memsize, maxmem, initdur
                @duration, @billedDuration, @memorySize, @maxMemoryUsed, @initDuration: doubles,
                memory in bytes (MB x 1e6), as fields.lambda_fields gives them
  xtrace, xseg  @xrayTraceId, @xraySegmentId
  level         the JSON field `level` when it is a string (the most filtered key gets a column)
  fj            every non-`@` discovered field (the flattened JSON fields, `@@key` included) as
                one JSON object text, key = the flattened name; NULL when there is none. Ints stay
                ints, floats are written with a fraction or exponent so a reader tells long from double.
  ns            the keys of `fj` whose value is not a string (nor null), NULL when none: a query
                that reads a JSON field as text checks this short list, not every row's JSON

The value model stays the row engine's: a planner reading these columns must give the cells
`values.render` gives for the same event.
"""

from __future__ import annotations

import json
from typing import Any

from logsvc.insights import fields as F
from logsvc.model import LogEvent

# (column, arrow type name, Insights field or None): the order of the Parquet files' columns
COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("grp", "string", None),
    ("stream", "string", "@logStream"),
    ("ident", "string", None),
    ("off", "int64", None),
    ("end", "int64", None),
    ("ts", "int64", "@timestamp"),
    ("ingest", "int64", "@ingestionTime"),
    ("msg", "string", "@message"),
    ("type", "string", "@type"),
    ("rid", "string", "@requestId"),
    ("duration", "float64", "@duration"),
    ("billed", "float64", "@billedDuration"),
    ("memsize", "float64", "@memorySize"),
    ("maxmem", "float64", "@maxMemoryUsed"),
    ("initdur", "float64", "@initDuration"),
    ("xtrace", "string", "@xrayTraceId"),
    ("xseg", "string", "@xraySegmentId"),
    ("level", "string", None),
    ("fj", "string", None),
    ("ns", "list<string>", None),
)
NAMES = tuple(c for c, _, _ in COLUMNS)
# Insights field -> column, for the fields that have their own column
FIELD_COLUMN = {f: c for c, _, f in COLUMNS if f is not None}
_LAMBDA_COLS = tuple((f, c) for c, _, f in COLUMNS if f is not None and f in F.LAMBDA_FIELDS)


def _json_default(v: Any) -> Any:
    raise TypeError(f"not a JSON leaf: {type(v).__name__}")


def _json_text(fields: dict[str, object]) -> str:
    """Flattened fields as JSON text; floats keep a fraction or exponent (repr), ints stay ints."""
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def event_columns(event: LogEvent) -> dict[str, object]:
    """The row of one event, the exact (slow) way: `fields.message_fields`, what the row engine uses."""
    mf = F.message_fields(event.message, group=event.group, parsed=event.fields or None)
    row: dict[str, object] = {
        "grp": event.group,
        "stream": event.stream,
        "ident": event.ident.hex(),
        "off": event.offset,
        "end": event.end,
        "ts": event.timestamp,
        "ingest": event.ingestion_time,
        "msg": event.message,
    }
    for f, c in _LAMBDA_COLS:
        v = mf.get(f)
        row[c] = float(v) if isinstance(v, float) else v
    rest = {k: v for k, v in mf.items() if k[:1] != "@" or k[:2] == "@@"}
    lv = rest.get("level")
    row["level"] = lv if isinstance(lv, str) else None
    row["fj"] = _json_text(rest) if rest else None
    row["ns"] = non_string_keys(rest)
    return row


def non_string_keys(fields: dict[str, object]) -> list[str] | None:
    """The `ns` column: keys whose value a string comparison would not read as text."""
    return [k for k, v in fields.items() if v is not None and not isinstance(v, str)] or None


def arrow_schema():  # -> pyarrow.Schema; pyarrow is imported only by the processes that need it
    import pyarrow as pa

    return pa.schema(
        [
            (c, pa.list_(pa.string()) if t == "list<string>" else getattr(pa, t)())
            for c, t, _ in COLUMNS
        ]
    )


def arrow_table(rows: list[dict[str, object]]):  # -> pyarrow.Table
    """Rows (dicts as `event_columns` makes them) as an Arrow table in COLUMNS' order and types."""
    import pyarrow as pa

    schema = arrow_schema()
    return pa.table(
        {c: pa.array([r[c] for r in rows], type=schema.field(c).type) for c in NAMES}, schema=schema
    )
