"""JSON patterns: `{ $.a.b = "x" && ($.n > 3 || $.c IS NULL) }`.

Owns selectors, the `&&`/`||`/`()` expression and how a parsed event is tested; never matches
raw text itself (the raw-text pre-check comes from `query.substring_filter`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from ..lines import JsonFloat, load_json_object
from .query import TokenQuery, literal_tokens, q_and, q_or, q_tok
from .scanner import BLANKS, Number, Scanner, parse_number
from .values import AllNeeds, AnyNeed, Comparison, TextNeed, read_operator, read_value

MAX_DEPTH = (
    16  # parentheses; deeper is surely generated or a mistake, and recursion must stay bounded
)
MAX_WILDCARDS = 3  # per pattern, as AWS documents
_KEY_STOP = frozenset(BLANKS + ".[]()=!<>&|{}'\"*,%")
_VALUE_STOPS = ")}"
_KEY, _INDEX, _WILD = 0, 1, 2
_MISSING = object()
_INDEX_RE = re.compile(r"[0-9]+\]")
Span = tuple[int, int]
Doc = dict


# The one JSON reader filter patterns and Insights' fields share (logsvc.lines).
_Float = JsonFloat
load_event = (
    load_json_object  # the message as a JSON object, or None: only messages that start with `{`
)


def scalar_text(v: object) -> str | None:
    """The text a string comparison sees; None for null, objects and arrays (they never compare)."""
    t = type(v)
    if t is str:
        return v  # type: ignore[return-value]
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is _Float:
        return v.text  # type: ignore[attr-defined]
    if t is float:
        return repr(v)
    return None


def scalar_number(v: object) -> Number | None:
    t = type(v)
    if t is int or t is float or t is _Float:
        return v  # type: ignore[return-value]
    if t is str:
        return parse_number(v)  # type: ignore[arg-type]
    return None


class Selector:
    """`$.a[0].b`, `$.['dotted.key']`, `$.a[*]`, `$.*`: a path of keys, indexes and one wildcard."""

    def __init__(self, steps: list[tuple[int, object]], written: str) -> None:
        self.steps = steps
        self.written = written
        self.keys = [k for kind, k in steps if kind == _KEY]
        self.last_key = steps[-1][1] if steps and steps[-1][0] == _KEY else None
        self.wild = any(kind == _WILD for kind, _ in steps)

    def resolve(self, doc: object) -> list[object]:
        """Every value the selector reaches (zero or one unless it has a wildcard)."""
        found = [doc]
        for kind, arg in self.steps:
            nxt: list[object] = []
            for cur in found:
                tc = type(cur)
                if kind == _KEY:
                    if tc is dict:
                        v = cur.get(arg, _MISSING)  # type: ignore[attr-defined]
                        if v is not _MISSING:
                            nxt.append(v)
                elif kind == _INDEX:
                    if tc is list and arg < len(cur):  # type: ignore[operator,arg-type]
                        nxt.append(cur[arg])  # type: ignore[index]
                elif tc is dict:
                    nxt.extend(cur.values())  # type: ignore[attr-defined]
                elif tc is list:
                    nxt.extend(cur)  # type: ignore[arg-type]
            if not nxt:
                return nxt
            found = nxt
        return found

    def query(self) -> TokenQuery | None:
        """Keys on the path appear in the raw event whenever the selector reaches a value."""
        return q_and(
            literal_tokens(k, firm_start=True, firm_end=True, json=True) for k in self.keys
        )


class Condition:
    """One `selector op value`, `selector IS NULL|TRUE|FALSE` or `selector NOT EXISTS`."""

    def __init__(self, selector: Selector, kind: str, comparison: Comparison | None = None) -> None:
        self.selector = selector
        self.kind = kind  # "cmp", "null", "true", "false", "missing"
        self.comparison = comparison
        self.needs_number = comparison is not None and (
            comparison.op not in ("=", "!=") or comparison.value.kind == "number"
        )

    def hits(self, doc: Doc) -> list[object]:
        """The reached values that satisfy the condition (a placeholder for a true NOT EXISTS)."""
        values = self.selector.resolve(doc)
        if self.kind == "missing":
            return [] if values else [_MISSING]
        if self.kind == "null":
            return [v for v in values if v is None]
        if self.kind in ("true", "false"):
            want = self.kind == "true"
            return [v for v in values if v is want]
        cmp = self.comparison
        assert cmp is not None
        out = []
        for v in values:
            text = scalar_text(v)
            if text is not None and cmp.test(text, scalar_number(v) if self.needs_number else None):
                out.append(v)
        return out

    def test(self, doc: Doc) -> bool:
        if not self.selector.wild and self.kind == "cmp":
            # The common case without the list plumbing: one value, tested once.
            values = self.selector.resolve(doc)
            if not values:
                return False
            v = values[0]
            text = scalar_text(v)
            return text is not None and self.comparison.test(  # type: ignore[union-attr]
                text, scalar_number(v) if self.needs_number else None
            )
        return bool(self.hits(doc))

    def spans(self, doc: Doc, message: str) -> list[Span]:
        if self.kind == "missing" or (self.comparison is not None and self.comparison.op == "!="):
            return []
        out: list[Span] = []
        for v in self.hits(doc):
            out += _locate(message, self.selector.last_key, v)
        return out

    def text_need(self) -> TextNeed | None:
        """A test every raw text holding a JSON document this condition is true of passes, or None
        (see `Comparison.text_need`); `IS NULL`/`TRUE`/`FALSE` need their literal, never escaped."""
        if self.kind == "cmp":
            return self.comparison.text_need()  # type: ignore[union-attr]
        if self.kind in ("null", "true", "false"):
            return TextNeed(self.kind, spelled_otherwise=False)
        return None

    def query(self) -> TokenQuery | None:
        if self.kind == "missing":
            return None
        parts = [self.selector.query()]
        if self.kind == "cmp":
            parts.append(self.comparison.query(json=True))  # type: ignore[union-attr]
        else:
            parts.append(
                q_tok(self.kind)
            )  # the JSON literals null / true / false are never escaped
        return q_and(parts)


class Group:
    """`&&` (all) or `||` (any) over child expressions."""

    def __init__(self, op: str, children: list[Group | Condition]) -> None:
        self.op = op
        self.children = children
        tests = tuple(c.test for c in children)
        if op == "&&":
            self.test: Callable[[Doc], bool] = lambda d: all(t(d) for t in tests)
        else:
            self.test = lambda d: any(t(d) for t in tests)

    def spans(self, doc: Doc, message: str) -> list[Span]:
        out: list[Span] = []
        for c in self.children:
            if c.test(doc):
                out += c.spans(doc, message)
        return out

    def text_need(self) -> TextNeed | AllNeeds | None:
        """`&&`: every child's need that exists; `||`: any child's, when each child has one."""
        needs = [c.text_need() for c in self.children]
        if self.op == "&&":
            known = [n for n in needs if n is not None]
            if not known:
                return None
            return known[0] if len(known) == 1 else AllNeeds(known)
        if any(n is None for n in needs):
            return None
        return AnyNeed(needs)

    def query(self) -> TokenQuery | None:
        parts = [c.query() for c in self.children]
        return q_and(parts) if self.op == "&&" else q_or(parts)


def _locate(message: str, key: object, value: object) -> list[Span]:
    """Where a matched value sits in the raw event, best effort: after its key when we know it."""
    if value is _MISSING:
        return []
    if type(value) is str:
        forms = {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
        bodies = ['"(' + re.escape(f) + ')"' for f in forms]
    else:
        text = "null" if value is None else scalar_text(value)
        if text is None:
            return []
        bodies = ["(" + re.escape(text) + r")(?![\w.])"]
    prefix = re.escape(json.dumps(key)) + r"\s*:\s*" if type(key) is str else r"(?<=[\[,:\s])"
    out: list[Span] = []
    for body in bodies:
        out += [m.span(1) for m in re.finditer(prefix + body, message)]
    return out


def parse_json(sc: Scanner) -> Group | Condition:
    """`{ expr }` starting at the cursor (which is on the `{`)."""
    sc.pos += 1
    expr = _parse_or(sc, 0)
    sc.skip_blanks()
    if sc.at_end():
        sc.fail("expected '}' to close the JSON filter", rule="json")
    if not sc.eat("}"):
        sc.fail(f"expected '&&', '||' or '}}' but found {sc.peek()!r}", rule="json")
    sc.skip_blanks()
    if not sc.at_end():
        sc.fail("unexpected text after the JSON filter's closing '}'", rule="json")
    return expr


def _parse_or(sc: Scanner, depth: int) -> Group | Condition:
    parts = [_parse_and(sc, depth)]
    while True:
        sc.skip_blanks()
        if not sc.eat("||"):
            break
        parts.append(_parse_and(sc, depth))
    return parts[0] if len(parts) == 1 else Group("||", parts)


def _parse_and(sc: Scanner, depth: int) -> Group | Condition:
    parts = [_parse_primary(sc, depth)]
    while True:
        sc.skip_blanks()
        if not sc.eat("&&"):
            break
        parts.append(_parse_primary(sc, depth))
    if len(parts) == 1:
        return parts[0]
    # Flatten `a && (b && c)` so evaluation depth tracks meaning, not spelling.
    flat: list[Group | Condition] = []
    for p in parts:
        flat += p.children if isinstance(p, Group) and p.op == "&&" else [p]
    return Group("&&", flat)


def _parse_primary(sc: Scanner, depth: int) -> Group | Condition:
    sc.skip_blanks()
    if sc.peek() == "(":
        if depth >= MAX_DEPTH:
            sc.fail(f"parentheses nested deeper than {MAX_DEPTH}", rule="json-depth")
        sc.pos += 1
        expr = _parse_or(sc, depth + 1)
        sc.skip_blanks()
        if not sc.eat(")"):
            sc.fail(
                "expected ')' to close the parenthesis"
                if sc.at_end() or sc.peek() == "}"
                else f"expected '&&', '||' or ')' but found {sc.peek()!r}",
                rule="json",
            )
        return expr
    return _parse_condition(sc)


def _parse_condition(sc: Scanner) -> Condition:
    if sc.peek() != "$":
        what = "end of pattern" if sc.at_end() else repr(sc.peek())
        sc.fail(
            f"expected a selector like $.level but found {what}",
            rule="json-selector",
            hint='a JSON filter looks like { $.level = "ERROR" }',
        )
    selector = _parse_selector(sc)
    sc.skip_blanks()
    word_at = sc.pos
    word = _keyword(sc)
    if word == "IS":
        sc.skip_blanks()
        what_at = sc.pos
        what = _keyword(sc)
        if what in ("NULL", "TRUE", "FALSE"):
            return Condition(selector, what.lower())
        if what == "NOT":
            sc.fail(
                "'IS NOT' is not supported",
                what_at,
                rule="json-is",
                hint="use '$.x NOT EXISTS' for a missing key or '!=' to compare",
            )
        sc.fail("expected NULL, TRUE or FALSE after IS", what_at, rule="json-is")
    if word == "NOT":
        sc.skip_blanks()
        exists_at = sc.pos
        if _keyword(sc) != "EXISTS":
            sc.fail("expected EXISTS after NOT", exists_at, rule="json-is")
        return Condition(selector, "missing")
    if word == "EXISTS":
        sc.fail(
            "'EXISTS' is not supported",
            word_at,
            rule="json-is",
            hint="use '$.x = *' for any value, or '$.x NOT EXISTS'",
        )
    sc.pos = word_at
    op = read_operator(sc)
    if op is None:
        sc.fail(
            "expected an operator (= != < <= > >=), IS or NOT EXISTS after the selector",
            rule="json-operator",
        )
    return Condition(selector, "cmp", Comparison(op, read_value(sc, op, _VALUE_STOPS)))


def _keyword(sc: Scanner) -> str:
    """An alphabetic word at the cursor, upper-cased (keywords are case-insensitive), or ""."""
    start = pos = sc.pos
    text = sc.text
    while pos < len(text) and text[pos].isascii() and text[pos].isalpha():
        pos += 1
    sc.pos = pos
    return text[start:pos].upper()


def _parse_selector(sc: Scanner) -> Selector:
    start = sc.pos
    sc.pos += 1  # "$"
    steps: list[tuple[int, object]] = []
    text = sc.text
    while True:
        at = sc.pos
        if sc.eat(".["):
            steps.append(_bracket(sc, at + 1))
        elif sc.eat(".*"):
            steps.append((_WILD, None))
        elif sc.eat("."):
            pos = sc.pos
            while pos < len(text) and text[pos] not in _KEY_STOP:
                pos += 1
            if pos == sc.pos:
                sc.fail(
                    "expected a key name, '*' or ['quoted key'] after '.'", rule="json-selector"
                )
            steps.append((_KEY, text[sc.pos : pos]))
            sc.pos = pos
        elif sc.peek() == "[":
            steps.append(_bracket(sc, at))
        else:
            break
        if steps[-1][0] == _WILD:
            if sum(1 for kind, _ in steps if kind == _WILD) > 1:
                sc.fail("a selector may contain only one wildcard '*'", at, rule="json-wildcard")
            sc.wildcards += 1
            if sc.wildcards > MAX_WILDCARDS:
                sc.fail(
                    f"a JSON filter may contain at most {MAX_WILDCARDS} wildcard selectors",
                    at,
                    rule="json-wildcard",
                )
    if not steps and sc.peek() not in BLANKS and not sc.at_end():
        sc.fail("expected '.' or '[' after '$'", rule="json-selector")
    return Selector(steps, text[start : sc.pos])


def _bracket(sc: Scanner, at: int) -> tuple[int, object]:
    """`[0]`, `[*]` or `['key']` / `["key"]`, with the cursor on the `[`."""
    sc.pos = at + 1
    text = sc.text
    if sc.eat("*]"):
        return (_WILD, None)
    m = _INDEX_RE.match(text, sc.pos)
    if m:
        sc.pos = m.end()
        return (_INDEX, int(m.group()[:-1]))
    quote = sc.peek()
    if quote in ("'", '"'):
        buf = []
        pos = sc.pos + 1
        while pos < len(text) and text[pos] != quote:
            if text[pos] == "\\" and pos + 1 < len(text) and text[pos + 1] in (quote, "\\"):
                pos += 1
            buf.append(text[pos])
            pos += 1
        if pos >= len(text):
            sc.fail(f"expected {quote} to close the quoted key", len(text), rule="json-selector")
        sc.pos = pos + 1
        if not sc.eat("]"):
            sc.fail("expected ']' after the quoted key", rule="json-selector")
        return (_KEY, "".join(buf))
    if sc.peek() == "-":
        sc.fail("array indexes start at 0 and cannot be negative", rule="json-selector")
    sc.fail("expected an array index, '*' or a quoted key inside '[ ]'", rule="json-selector")


def compile_selector(text: str) -> Selector:
    """A whole `$.a.b` / `$.['k']` selector on its own (a metric filter's `$.latency` value or
    dimension), parsed by the same rules as inside a pattern.

    :raises FilterPatternError: if `text` is not exactly one selector.
    """
    sc = Scanner(text)
    if sc.peek() != "$":
        sc.fail("expected a selector starting with '$.'", rule="json-selector")
    sel = _parse_selector(sc)
    if not sel.steps or not sc.at_end():
        sc.fail("expected exactly one selector such as $.latency", rule="json-selector")
    return sel


def selectors(expr: Group | Condition) -> list[Selector]:
    """Every selector a JSON pattern's conditions name, in pattern order."""
    if isinstance(expr, Condition):
        return [expr.selector]
    return [s for c in expr.children for s in selectors(c)]
