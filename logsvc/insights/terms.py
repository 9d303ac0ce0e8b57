"""The words a query guarantees in every matching @message, so the runner can skip index blocks.

Only `filter @message like "text"` conjuncts before any command that could change `@message` or
drop the guarantee count. A token of the literal counts only when it does not touch either end of
the literal: `like "rror 5"` does not promise the token `rror` (the message may say `ERROR 5`),
but `like "user 42 failed"` promises `42`. Tokens are `logsvc.tokens` words, case as written;
the index folds ASCII case itself.
"""

from __future__ import annotations

from typing import Any

from ..tokens import TOKEN_RE
from .parser import Field, Literal, Logic, Match


def literal_terms(stages: list[Any]) -> list[str]:
    terms: list[str] = []
    for s in stages:
        if s.kind in ("sort", "limit", "dedup", "stats", "pattern", "diff", "unnest"):
            break
        if s.kind in ("fields", "parse") and "@message" in s.columns:
            break
        if s.kind == "filter":
            for node in _conjuncts(s.command.expr):
                for term in _inner_tokens(node):
                    if term not in terms:
                        terms.append(term)
    return terms


def _conjuncts(node: Any) -> list[Any]:
    if isinstance(node, Logic) and node.op == "and":
        return [c for x in node.operands for c in _conjuncts(x)]
    return [node]


def _inner_tokens(node: Any) -> list[str]:
    if not (
        isinstance(node, Match)
        and not node.negate
        and isinstance(node.left, Field)
        and node.left.name == "@message"
        and isinstance(node.right, Literal)
        and node.right.kind == "string"
    ):
        return []
    text = node.right.value
    return [m.group() for m in TOKEN_RE.finditer(text) if m.start() > 0 and m.end() < len(text)]
