"""Field facets of a sample of events: the top values of `level`, the group, the stream and each
JSON key seen, with counts, and for each value the filter-pattern clause that keeps it or leaves it
out (the console's click-to-filter beside the events, as in Kibana or Grafana Explore).

Owns which fields are faceted, how many values and keys are kept, and how a value is written as a
CloudWatch filter-pattern clause. Pure: the caller reads the events (a bounded sample) and says how
many it read; never does I/O or knows about HTTP.

Clauses: a JSON value is `$.path = "v"` / `$.path != "v"` (numbers bare, booleans `IS TRUE` /
`IS FALSE`), meant to go inside `{ }` and be joined by `&&`; a level written as a word in the
text (`[ERROR] ...`) is the term `ERROR` / `-ERROR`. The group and the stream are chosen by the
view (its group=/stream= parameters), not by a pattern, so they carry no clause.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from logsvc.lines import JSON_LEVEL_KEYS, JsonFloat, load_json_object
from logsvc.model import LogEvent

TOP_VALUES = 10  # values kept per field
TOP_KEYS = 20  # JSON keys kept (the most frequent)
MAX_DEPTH = 3  # nested objects flattened to $.a.b.c at most
MAX_VALUE = 200  # longer values are counted under their key but not offered as values
MAX_KEYS_SEEN = 500  # distinct keys tracked per request, so a sample of random keys stays bounded
LEVEL_KEYS = JSON_LEVEL_KEYS  # lines.py's JSON level keys, in its order

_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WORD_RE = re.compile(r"[A-Za-z]+\Z")


def _literal(value: object) -> str | None:
    """The value as a JSON-pattern literal, or None when it cannot be written as one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, JsonFloat):
        return value.text
    if isinstance(value, int | float):
        return repr(value)
    if (
        isinstance(value, str)
        and '"' not in value
        and "\\" not in value
        and "\n" not in value
        and len(value) <= MAX_VALUE
    ):
        return f'"{value}"'
    return None


def json_clauses(path: str, value: object) -> tuple[str | None, str | None]:
    """(keep, leave out) clauses for `path` having `value`, to go inside `{ }`."""
    if value is True or value is False:
        return (
            f"{path} IS {'TRUE' if value else 'FALSE'}",
            f"{path} IS {'FALSE' if value else 'TRUE'}",
        )
    lit = _literal(value)
    if lit is None:
        return None, None
    return f"{path} = {lit}", f"{path} != {lit}"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, JsonFloat):
        return value.text
    return str(value)


def _walk(doc: dict, prefix: str, depth: int, out: list[tuple[str, object]]) -> None:
    for key, value in doc.items():
        if not isinstance(key, str) or not _KEY_RE.match(key):
            continue
        path = f"{prefix}.{key}"
        if isinstance(value, dict):
            if depth < MAX_DEPTH:
                _walk(value, path, depth + 1, out)
        elif not isinstance(value, list) and value is not None:
            out.append((path, value))


def _level_source(ev: LogEvent, doc: dict | None) -> tuple[str, str, str | None, str | None]:
    """(kind, shown value, keep clause, leave-out clause) of the event's level."""
    level = ev.fields.get("level")
    if doc is not None:
        for key in LEVEL_KEYS:
            raw = doc.get(key)
            if isinstance(raw, str) and raw.isalpha():
                keep, drop = json_clauses(f"$.{key}", raw)
                return "json", raw, keep, drop
    if isinstance(level, str) and _WORD_RE.match(level) and level in ev.message:
        return "term", level, level, f"-{level}"
    return "none", str(level), None, None


def summarize(events: Iterable[LogEvent], *, sampled: int, complete: bool) -> dict[str, Any]:
    """The facets of `events` (the sample of `sampled` events; `complete` when it is every match)."""
    levels: Counter = Counter()
    level_clauses: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    groups: Counter = Counter()
    streams: Counter = Counter()
    key_counts: Counter = Counter()
    values: dict[str, Counter] = {}
    for ev in events:
        groups[ev.group] += 1
        streams[(ev.group, ev.stream)] += 1
        doc = load_json_object(ev.message)
        if "level" in ev.fields:
            kind, shown, keep, drop = _level_source(ev, doc)
            levels[(kind, shown)] += 1
            level_clauses[(kind, shown)] = (keep, drop)
        if doc is None:
            continue
        pairs: list[tuple[str, object]] = []
        _walk(doc, "$", 1, pairs)
        for path, value in pairs:
            if path not in values:
                if len(values) >= MAX_KEYS_SEEN:
                    continue
                values[path] = Counter()
            key_counts[path] += 1
            if isinstance(value, str) and len(value) > MAX_VALUE:
                continue
            values[path][(type(value).__name__, _shown(value), value)] += 1

    facets: list[dict[str, Any]] = []
    facets.append(
        {
            "field": "level",
            "values": [
                {
                    "value": shown,
                    "count": n,
                    "match": kind,
                    "keep": level_clauses[(kind, shown)][0],
                    "leaveOut": level_clauses[(kind, shown)][1],
                }
                for (kind, shown), n in levels.most_common(TOP_VALUES)
            ],
        }
    )
    facets.append(
        {
            "field": "@logGroup",
            "values": [
                {"value": g, "count": n, "match": "view"} for g, n in groups.most_common(TOP_VALUES)
            ],
        }
    )
    facets.append(
        {
            "field": "@logStream",
            "values": [
                {"value": s, "group": g, "count": n, "match": "view"}
                for (g, s), n in streams.most_common(TOP_VALUES)
            ],
        }
    )
    level_paths = {f"$.{k}" for k in LEVEL_KEYS}  # already the `level` facet
    for path, seen in [(p, n) for p, n in key_counts.most_common() if p not in level_paths][
        :TOP_KEYS
    ]:
        rows = []
        for (_type, shown, raw), n in values[path].most_common(TOP_VALUES):
            keep, drop = json_clauses(path, raw)
            rows.append(
                {
                    "value": shown,
                    "count": n,
                    "match": "json" if keep else "none",
                    "keep": keep,
                    "leaveOut": drop,
                }
            )
        facets.append({"field": path, "events": seen, "values": rows})
    return {"sampled": sampled, "complete": complete, "facets": facets}
