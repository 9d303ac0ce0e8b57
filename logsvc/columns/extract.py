"""The rows of a run of events, fast: what `schema.event_columns` gives, at a fraction of its cost.

The exact path (`follow.make_event` + `schema.event_columns`: `parse_event`, then
`fields.message_fields`) costs ~41 µs an event. Most Lambda events are one of a few shapes, so
(measured in bench/insights_columns.py, ARCHITECTURE.md "Insights: the columnar copy"):
- START / END / REPORT lines and Python runtime lines are settled by one anchored regex each;
- a JSON object message is decoded once, by the reader the row engine uses (`load_json_object`);
- a message with no `{`, not starting with a digit and matching no line format has no fields;
- anything else (INIT_*, XRAY suffixes, embedded JSON, leading digits, over-long messages, a shape
  a regex does not pin down exactly) takes the exact path.
tests/test_columns_extract.py requires equal rows for every sample of every line format and a
generated Lambda corpus.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from json import dumps

from logsvc import lines
from logsvc.columns import schema
from logsvc.follow import MAX_MESSAGE, make_event
from logsvc.insights import fields as F

_REPORT_RX = re.compile(
    r"REPORT RequestId: ([0-9a-f-]{36})\tDuration: ([0-9]+(?:\.[0-9]+)?) ms\tBilled Duration: ([0-9]+) ms\t"
    r"Memory Size: ([0-9]+) MB\tMax Memory Used: ([0-9]+) MB(?:\tInit Duration: ([0-9]+(?:\.[0-9]+)?) ms)?\t?\Z"
)
_STARTEND_RX = re.compile(r"(?:START|END) RequestId: ([0-9a-f-]{36})(?: Version: [^\s{]+)?\Z")
# the level is 1-9 letters: lines.py looks for "]\t" at index 2..10 only
_RUNTIME_RX = re.compile(
    r"\[[A-Z]{1,9}\]\t([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z)\t([^\t{]+)\t"
)
_METRICS = ("duration", "billed", "memsize", "maxmem", "initdur")
_MB = float(F.MB)

IngestFn = Callable[[int], int]


def new_columns() -> dict[str, list]:
    return {c: [] for c in schema.NAMES}


def extract(
    cols: dict[str, list],
    group: str,
    stream: str,
    ident_hex: str,
    base: int,
    events: list,
    ingest_for: IngestFn,
) -> int:
    """Append the rows of `events` (lines.RawEvents of bytes starting at file offset `base`) to
    `cols`; `ingest_for(offset)` is an event's ingestion time. Returns how many took the exact path."""
    (
        a_grp,
        a_st,
        a_id,
        a_off,
        a_end,
        a_ts,
        a_ing,
        a_msg,
        a_type,
        a_rid,
        a_dur,
        a_bill,
        a_mem,
        a_max,
        a_init,
        a_xt,
        a_xs,
        a_lvl,
        a_fj,
        a_ns,
    ) = (cols[c].append for c in schema.NAMES)
    time_and_message, parse_event, load_json = (
        lines.time_and_message,
        lines.parse_event,
        lines.load_json_object,
    )
    parse_ts = lines.parse_timestamp
    report_m, startend_m, runtime_m = _REPORT_RX.match, _STARTEND_RX.match, _RUNTIME_RX.match
    flatten, non_string_keys = F.flatten_json, schema.non_string_keys
    ident = bytes.fromhex(ident_hex)
    slow = 0
    for ev in events:
        off = base + ev.start
        ing = ingest_for(off)
        ts, msg = time_and_message(ev.text)
        kind = rid = lvl = fj = ns = dur = bill = mem = mx = init = None
        c0 = msg[:1]
        done = len(msg) <= MAX_MESSAGE
        if not done:
            pass
        elif c0 == "{":
            doc = load_json(msg)
            if doc:
                rest = flatten(doc)
                if rest:
                    lv = rest.get("level")
                    lvl = lv if isinstance(lv, str) else None
                    fj = dumps(
                        rest, separators=(",", ":"), ensure_ascii=False
                    )  # as schema.event_columns writes it
                    ns = non_string_keys(rest)
        elif c0 == "R":
            m = report_m(msg)
            if m is not None:
                kind, rid = "REPORT", m[1]
                dur, bill, mem, mx = float(m[2]), float(m[3]), float(m[4]) * _MB, float(m[5]) * _MB
                init = float(m[6]) if m[6] else None
            else:
                done = False
        elif c0 == "S" or c0 == "E":
            m = startend_m(msg)
            if m is not None:
                kind, rid = ("START" if c0 == "S" else "END"), m[1]
            else:
                done = False
        elif c0 == "[":
            m = runtime_m(msg)
            if m is not None and "{" not in msg and parse_ts(m[1]) is not None:
                rid = m[2]
            else:
                done = False
        else:
            done = not ("0" <= c0 <= "9" or "{" in msg or parse_event(msg).fields)
        if done:
            grp, st, idh, end, xt, xs = group, stream, ident_hex, base + ev.end, None, None
            if ts is None:
                ts = ing
        else:  # the exact path's row, through the same appends
            slow += 1
            row = schema.event_columns(
                make_event(group, stream, off, base + ev.end, ev.text, ing, ident)
            )
            (
                grp,
                st,
                idh,
                off,
                end,
                ts,
                ing,
                msg,
                kind,
                rid,
                dur,
                bill,
                mem,
                mx,
                init,
                xt,
                xs,
                lvl,
                fj,
                ns,
            ) = (row[c] for c in schema.NAMES)
        a_grp(grp)
        a_st(st)
        a_id(idh)
        a_off(off)
        a_end(end)
        a_ts(ts)
        a_ing(ing)
        a_msg(msg)
        a_type(kind)
        a_rid(rid)
        a_dur(dur)
        a_bill(bill)
        a_mem(mem)
        a_max(mx)
        a_init(init)
        a_xt(xt)
        a_xs(xs)
        a_lvl(lvl)
        a_fj(fj)
        a_ns(ns)
    return slow


def rows(cols: dict[str, list]) -> list[dict[str, object]]:
    """The columns as row dicts (what `schema.event_columns` returns), for comparisons."""
    names = schema.NAMES
    return [
        dict(zip(names, vals, strict=True)) for vals in zip(*(cols[c] for c in names), strict=True)
    ]


# ---- strings Parquet cannot hold ---------------------------------------------------------------
# A message is decoded with errors="replace", so it is always valid UTF-8. A JSON string may still
# hold a lone surrogate ("\ud800" decodes to one), which UTF-8 cannot encode. `fj` is JSON text, so
# the surrogate is written as its JSON escape again: lossless, and `json.loads` gives the same
# value back. `level` is plain text: the surrogate becomes U+FFFD there, and the row is known by
# its `fj` (which holds `level` exactly): `surrogate_escaped(fj)`; a reader that needs the exact
# `level` of such a row reads the event from the file.

_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_ESCAPE_SQL = r"\\u[dD][89abcdefABCDEF]"  # a regex (RE2) that finds such an escape in `fj`
_ESCAPED = re.compile(SURROGATE_ESCAPE_SQL)


def _escape_surrogate(m: re.Match) -> str:
    return f"\\u{ord(m[0]):04x}"


def storable(cols: dict[str, list]) -> None:
    """Make every string of `cols` encodable as UTF-8 (see above), in place. Cheap when none is bad."""
    for c in ("fj", "level"):  # the only strings that come from decoded JSON
        col = cols[c]
        for i, v in enumerate(col):
            if v is not None and not v.isascii():
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError:
                    col[i] = (
                        _SURROGATE.sub(_escape_surrogate, v)
                        if c == "fj"
                        else _SURROGATE.sub("\ufffd", v)
                    )
    col = cols["ns"]
    for i, keys in enumerate(col):  # a key with a lone surrogate is never a field a query names
        if keys is not None and not all(k.isascii() for k in keys):
            col[i] = [_SURROGATE.sub("\ufffd", k) for k in keys]


def surrogate_escaped(fj: str | None) -> bool:
    """Did the row's JSON hold a lone surrogate (so `level` was replaced)? See `storable`."""
    return fj is not None and _ESCAPED.search(fj) is not None
