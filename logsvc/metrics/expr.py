"""Metric math for GetMetricData: `m1+m2`, `m1/m2*100`, `SUM(METRICS())`, `AVG([m1, m2])`. Pure.

Values are a number, a time series (timestamp ms -> value) or an array of series. Arithmetic
between series keeps the timestamps both have (CloudWatch leaves a point out when an operand
has none); with a number it applies to every point; on an array it applies to each series.
`SUM`/`AVG`/`MIN`/`MAX` of an array give the series of per-timestamp results, of one series the
number over all its points. `METRICS()` is every MetricStat result of the request (or those
whose id starts with the string given). A division by zero leaves the point out.
Anything else is a `MathError` naming the expression and the character at fault.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Series = dict[int, float]
Value = float | Series | list[Series]

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<str>'[^']*'|\"[^\"]*\")|(?P<op>[-+*/^(),\[\]]))"
)
FUNCTIONS = ("SUM", "AVG", "MIN", "MAX", "METRICS", "ABS")
MAX_LENGTH = 2048
MAX_DEPTH = 32  # nested ( ) [ ] and calls: the parser recurses, and its depth must stay bounded


class MathError(ValueError):
    def __init__(self, reason: str, text: str, at: int) -> None:
        super().__init__(f"{reason} at position {at + 1} of the expression {text!r}")


def evaluate(text: str, metrics: dict[str, Series], ids_in_order: list[str]) -> Value:
    """The value of expression `text` over `metrics` (results by query id).

    `ids_in_order`: the MetricStat ids METRICS() returns, in request order.
    :raises MathError:
    """
    if len(text) > MAX_LENGTH:
        raise MathError(f"expressions are at most {MAX_LENGTH} characters", text, MAX_LENGTH)
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise MathError(
                "unexpected character", text, pos + len(text[pos:]) - len(text[pos:].lstrip())
            )
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    try:
        return _Parser(text, tokens, metrics, ids_in_order).run()
    except RecursionError:  # a chain like 2^2^2^…: bounded by the length cap, still too deep
        raise MathError("the expression nests too deeply", text, 0) from None


class _Parser:
    def __init__(self, text, tokens, metrics, ids) -> None:
        self.text, self.tokens, self.metrics, self.ids = text, tokens, metrics, ids
        self.i = 0
        self.depth = 0

    def fail(self, reason: str) -> MathError:
        at = self.tokens[self.i][2] if self.i < len(self.tokens) else len(self.text)
        return MathError(reason, self.text, at)

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self, want: str | None = None) -> tuple[str, str, int]:
        if self.i >= len(self.tokens):
            raise self.fail(f"expected {want!r}" if want else "unexpected end")
        tok = self.tokens[self.i]
        if want is not None and tok[1] != want:
            raise self.fail(f"expected {want!r}")
        self.i += 1
        return tok

    def run(self) -> Value:
        if not self.tokens:
            raise self.fail("empty expression")
        v = self.sum()
        if self.i != len(self.tokens):
            raise self.fail("unexpected token")
        return v

    def sum(self) -> Value:
        v = self.product()
        while self.peek() in ("+", "-"):
            op = self.take()[1]
            v = _binary(v, self.product(), op)
        return v

    def product(self) -> Value:
        v = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()[1]
            v = _binary(v, self.unary(), op)
        return v

    def unary(self) -> Value:
        if self.peek() == "-":
            self.take()
            return _binary(-1.0, self.power(), "*")
        if self.peek() == "+":
            self.take()
        return self.power()

    def power(self) -> Value:
        v = self.atom()
        if self.peek() == "^":
            self.take()
            v = _binary(v, self.unary(), "^")
        return v

    def atom(self) -> Value:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise self.fail(f"expressions nest at most {MAX_DEPTH} levels")
            return self.atom_inner()
        finally:
            self.depth -= 1

    def atom_inner(self) -> Value:
        if self.i >= len(self.tokens):
            raise self.fail("expected a number, a metric id or a function")
        kind, text, _ = self.tokens[self.i]
        if kind == "num":
            self.i += 1
            return float(text)
        if text == "(":
            self.take()
            v = self.sum()
            self.take(")")
            return v
        if text == "[":
            self.take()
            items: list[Series] = []
            while True:
                v = self.sum()
                items.extend(v if isinstance(v, list) else [_as_series(v, self)])
                if self.peek() == ",":
                    self.take()
                    continue
                self.take("]")
                return items
        if kind == "id":
            self.i += 1
            if self.peek() == "(":
                return self.call(text)
            if text not in self.metrics:
                self.i -= 1
                raise self.fail(f"unknown metric id {text!r}")
            return self.metrics[text]
        raise self.fail("unexpected token")

    def call(self, name: str) -> Value:
        upper = name.upper()
        if upper not in FUNCTIONS:
            self.i -= 1
            raise self.fail(f"unsupported function {name!r} (logsvc has {', '.join(FUNCTIONS)})")
        self.take("(")
        if upper == "METRICS":
            prefix = ""
            if self.peek() != ")":
                kind, text, _ = self.take()
                if kind != "str":
                    self.i -= 1
                    raise self.fail("METRICS takes an optional 'string'")
                prefix = text[1:-1]
            self.take(")")
            return [self.metrics[i] for i in self.ids if i.startswith(prefix)]
        arg = self.sum()
        self.take(")")
        if upper == "ABS":
            return _map(arg, abs)
        return _reduce(upper, arg)


def _as_series(v: Value, p: _Parser) -> Series:
    if isinstance(v, dict):
        return v
    raise p.fail("an array holds time series, not numbers")


_OPS: dict[str, Callable[[float, float], float | None]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: None if b == 0 else a / b,
    "^": lambda a, b: _pow(a, b),
}


def _pow(a: float, b: float) -> float | None:
    try:
        r = a**b
    except (OverflowError, ZeroDivisionError):
        return None
    return r if isinstance(r, float | int) else None


def _binary(a: Value, b: Value, op: str) -> Value:
    f = _OPS[op]
    if isinstance(a, list):
        return [_binary(s, b, op) for s in a]  # type: ignore[misc]
    if isinstance(b, list):
        return [_binary(a, s, op) for s in b]  # type: ignore[misc]
    if isinstance(a, dict) and isinstance(b, dict):
        out = {t: f(a[t], b[t]) for t in a.keys() & b.keys()}
    elif isinstance(a, dict):
        out = {t: f(v, b) for t, v in a.items()}  # type: ignore[arg-type]
    elif isinstance(b, dict):
        out = {t: f(a, v) for t, v in b.items()}
    else:
        r = f(a, b)
        return float("nan") if r is None else r
    return {t: v for t, v in out.items() if v is not None}


def _map(v: Value, f: Callable[[float], float]) -> Value:
    if isinstance(v, list):
        return [{t: f(x) for t, x in s.items()} for s in v]
    if isinstance(v, dict):
        return {t: f(x) for t, x in v.items()}
    return f(v)


_REDUCE: dict[str, Callable[[list[float]], float]] = {
    "SUM": sum,
    "AVG": lambda xs: sum(xs) / len(xs),
    "MIN": min,
    "MAX": max,
}


def _reduce(name: str, v: Value) -> Value:
    f = _REDUCE[name]
    if isinstance(v, list):
        cols: dict[int, list[float]] = {}
        for s in v:
            for t, x in s.items():
                cols.setdefault(t, []).append(x)
        return {t: f(xs) for t, xs in cols.items()}
    if isinstance(v, dict):
        return f(list(v.values())) if v else float("nan")
    return v
