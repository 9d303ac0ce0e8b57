"""Right-hand sides of JSON and space-delimited conditions: `= "text*"`, `= %re%`, `> 1e3`, ...

Shared so that `{ $.status = 4* }` and `[..., status = 4*, ...]` mean the same thing. A value is
compared with a message value's *text* (strings as they are, JSON numbers as written, booleans as
`true`/`false`) and, for numbers, with its numeric reading (a JSON number, or text that is wholly
a decimal number).
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from .query import TokenQuery, glob_tokens
from .regex import Regex, compile_regex
from .scanner import BLANKS, Number, Scanner, parse_number

MAX_REGEXES = 2
COMPARISONS = ("!=", "<=", ">=", "=", "<", ">")  # longest first
_NUMERIC_OPS: dict[str, Callable[[Number, Number], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def glob_matcher(pieces: list[str]) -> Callable[[str], bool]:
    """Whole-text match against `*`.join(pieces) with `*` as "any run of characters".

    Greedy left-to-right `find` is exact for `*`-only globs and linear, unlike a `.*` regex.
    """
    if len(pieces) == 1:
        literal = pieces[0]
        return lambda s: s == literal
    first, mid, last = pieces[0], [p for p in pieces[1:-1] if p], pieces[-1]
    least = len(first) + len(last) + sum(map(len, mid))
    if not mid:
        if not first and not last:
            return lambda s: True
        return lambda s: len(s) >= least and s.startswith(first) and s.endswith(last)

    def match(s: str) -> bool:
        if len(s) < least or not s.startswith(first) or not s.endswith(last):
            return False
        pos, end = len(first), len(s) - len(last)
        for p in mid:
            j = s.find(p, pos, end)
            if j < 0:
                return False
            pos = j + len(p)
        return True

    return match


class Value:
    """One parsed right-hand side; `kind` is "glob" (quoted or bare text), "regex" or "number"."""

    def __init__(
        self,
        kind: str,
        written: str,
        *,
        pieces: list[str] | None = None,
        regex: Regex | None = None,
        number: Number | None = None,
    ) -> None:
        self.kind = kind
        self.written = written
        self.pieces = pieces
        self.regex = regex
        self.number = number
        self._glob = glob_matcher(pieces) if pieces is not None else None

    def equals(self, text: str, number: Number | None) -> bool:
        if self._glob is not None:
            return self._glob(text)
        if self.regex is not None:
            return self.regex.search(text)
        return number is not None and number == self.number


class Comparison:
    """`op value` against one message value, given as its text and (lazily) its number."""

    def __init__(self, op: str, value: Value) -> None:
        self.op = op
        self.value = value
        self._numeric = _NUMERIC_OPS.get(op)

    def test(self, text: str, number: Number | None) -> bool:
        if self._numeric is not None:
            return number is not None and self._numeric(number, self.value.number)
        hit = self.value.equals(text, number)
        return hit if self.op == "=" else not hit

    def query(self, *, json: bool) -> TokenQuery | None:
        """Tokens a true `=` guarantees: those wholly inside the literal parts of a text value."""
        if self.op != "=" or self.value.pieces is None:
            return None
        return glob_tokens(self.value.pieces, json=json)


def read_operator(sc: Scanner) -> str | None:
    """A comparison operator at the cursor, or None. `==` is a common slip, so it gets its own error."""
    if sc.peek(2) == "==":
        sc.fail("'==' is not an operator", rule="operator", hint="use '=' to compare")
    for op in COMPARISONS:
        if sc.eat(op):
            return op
    return None


def read_regex(sc: Scanner) -> Regex:
    """A `%regex%` at the cursor, counted against the per-pattern cap AWS enforces."""
    at = sc.pos
    body, offset = sc.regex_body()
    sc.regexes += 1
    if sc.regexes > MAX_REGEXES:
        sc.fail(
            f"a filter pattern may contain at most {MAX_REGEXES} regular expressions",
            at,
            rule="regex-count",
        )
    return compile_regex(body, offset, sc)


def read_value(sc: Scanner, op: str, stops: str) -> Value:
    """The value after `op`; a bare value runs to a blank, a char in `stops`, `&&` or `||`.

    :raises FilterPatternError: when the value is missing, or not a number after `<`-style operators.
    """
    sc.skip_blanks()
    start = sc.pos
    ch = sc.peek()
    if not ch or ch in stops or sc.peek(2) in ("&&", "||"):
        sc.fail(f"expected a value after '{op}'", rule="value")
    if ch == '"':
        value = Value("glob", "", pieces=sc.quoted("quoted value"))
    elif ch == "%":
        value = Value("regex", "", regex=read_regex(sc))
    else:
        text, pos = sc.text, start
        while (
            pos < len(text)
            and text[pos] not in BLANKS
            and text[pos] not in stops
            and text[pos : pos + 2] not in ("&&", "||")
        ):
            if text[pos] == '"':
                sc.fail("'\"' inside a bare value", pos, rule="value", hint="quote the whole value")
            pos += 1
        sc.pos = pos
        raw = text[start:pos]
        number = parse_number(raw)
        value = (
            Value("number", raw, number=number)
            if number is not None
            else Value("glob", raw, pieces=raw.split("*"))
        )
    value.written = sc.text[start : sc.pos]
    if op in _NUMERIC_OPS and value.kind != "number":
        sc.fail(
            f"'{op}' compares numbers: expected a number like 50, -1.5 or 1e+3",
            start,
            rule="number",
        )
    nxt = sc.peek()
    if nxt and nxt not in BLANKS and nxt not in stops and sc.peek(2) not in ("&&", "||"):
        sc.fail(f"unexpected {nxt!r} after the value", rule="value")
    return value
