"""The words a query guarantees in every matching @message, so the runner can skip index blocks.

Only `filter` conjuncts (`a and b and ...`) before any list command count, and only these:

* `@message like "text"`: the tokens of the literal that do not touch either end of it
  (`like "rror 5"` does not promise the token `rror`: the message may say `ERROR 5`; `like
  "user 42 failed"` promises `42`).
* `f = "text"` for a field read from the message itself, not written by an earlier command:
  a JSON key (any name not starting with `@`: its value is a JSON string of the message, so every
  token of the text is whole there) or one of Lambda's text fields (`@requestId`, `@type`,
  `@xrayTraceId`, `@xraySegmentId`: cut from the line, so only the inner tokens count). The text
  must be printable ASCII without `"`, `\\` or `/` (which JSON may escape, gluing letters to the
  escape) and must not be a number (`status = "200"` also matches `2e2`).

Tokens are `logsvc.tokens` words, case as written; the index folds ASCII case itself. Like the
filter patterns' token queries this assumes JSON writers never escape ASCII letters and digits.
"""

from __future__ import annotations

import re
from typing import Any

from ..tokens import TOKEN_RE
from . import values
from .parser import Binary, Field, Literal, Logic, Match

_LIST_COMMANDS = {"sort", "limit", "dedup", "stats", "pattern", "diff"}
_TEXT_FIELDS = {"@requestId", "@type", "@xrayTraceId", "@xraySegmentId"}
_PLAIN_RE = re.compile(r"[ !#-.0-\[\]-~]*")  # printable ASCII but '"', '/' and '\'


def literal_terms(stages: list[Any]) -> list[str]:
    terms: list[str] = []
    written: set[str] = set()
    for s in stages:
        if s.kind in _LIST_COMMANDS:
            break
        if s.kind == "filter":
            for node in _conjuncts(s.command.expr):
                for term in _message_tokens(node) + _field_tokens(node, written):
                    if term not in terms:
                        terms.append(term)
        written.update(_writes(s))
        if "@message" in written:
            break
    return terms


def _writes(stage: Any) -> list[str]:
    """The fields a command sets: not the plain field names `fields` only shows."""
    if stage.kind == "fields":
        return [i.name for i in stage.command.items if i.aliased or not isinstance(i.expr, Field)]
    return stage.columns if stage.kind in ("parse", "unnest") else []


def _conjuncts(node: Any) -> list[Any]:
    if isinstance(node, Logic) and node.op == "and":
        return [c for x in node.operands for c in _conjuncts(x)]
    return [node]


def _inner(text: str) -> list[str]:
    return [m.group() for m in TOKEN_RE.finditer(text) if m.start() > 0 and m.end() < len(text)]


def _message_tokens(node: Any) -> list[str]:
    if (
        isinstance(node, Match)
        and not node.negate
        and isinstance(node.left, Field)
        and node.left.name == "@message"
        and isinstance(node.right, Literal)
        and node.right.kind == "string"
    ):
        return _inner(node.right.value)
    return []


def _field_tokens(node: Any, written: set[str]) -> list[str]:
    if not (isinstance(node, Binary) and node.op == "="):
        return []
    field, lit = (
        (node.left, node.right) if isinstance(node.left, Field) else (node.right, node.left)
    )
    if not (isinstance(field, Field) and isinstance(lit, Literal) and lit.kind == "string"):
        return []
    name, text = field.name, lit.value
    if name in written or field.segments[0] in written:
        return []
    if not _PLAIN_RE.fullmatch(text) or values.parse_number(text) is not None:
        return []
    if name in _TEXT_FIELDS:
        return _inner(text)
    if name.startswith("@"):
        return []
    return TOKEN_RE.findall(text)
