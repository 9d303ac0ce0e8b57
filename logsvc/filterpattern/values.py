"""Right-hand sides of JSON and space-delimited conditions: `= "text*"`, `= %re%`, `> 1e3`, ...

Shared so that `{ $.status = 4* }` and `[..., status = 4*, ...]` mean the same thing. A value is
compared with a message value's *text* (strings as they are, JSON numbers as written, booleans as
`true`/`false`) and, for numbers, with its numeric reading (a JSON number, or text that is wholly
a decimal number).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

from .query import TokenQuery, glob_tokens
from .regex import Regex, compile_regex, re2_compile, re2_search
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

    def text_need(self) -> TextNeed | None:
        """A test every raw JSON text holding a value that passes `= value` passes (None: no such
        test): the value's literal text is in it, unless the JSON spells it another way. Lets a reader
        skip decoding the JSON of the many events that cannot match. Sound, not tight."""
        if self.op != "=":
            return None
        v = self.value
        if v.kind == "number":
            need = _decimal_text(v.number)
        elif v.pieces is not None:
            need = max(v.pieces, key=len)
        else:
            return None
        return TextNeed(need, spelled_otherwise=True) if need else None

    def query(self, *, json: bool) -> TokenQuery | None:
        """Tokens a true `=` guarantees: those wholly inside the literal parts of a text value."""
        if self.op != "=" or self.value.pieces is None:
            return None
        return glob_tokens(self.value.pieces, json=json)


# How a JSON text can hold a value without its literal text: a backslash escape inside a string
# (`"\\u0045RROR"` is "ERROR"), a number in exponent form (`5.03e2`, also as a whole string: text
# that is wholly a number compares as one), or so many digits that a float rounds onto the value
# (`502.99999999999999`). RE2: one linear pass (Python's `re` cost ~17 us a line, more than the
# JSON decoding it saves), and asked once per chunk of events, not per event (`TextNeed.within`).
_EXPONENT_OR_LONG = (
    rb"(?:^|[^0-9A-Za-z_.+-])[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+(?:$|[\s\",}\]])"
    rb"|[0-9.]{16}"
)
_OTHER_TEXT = re2_compile(_EXPONENT_OR_LONG.decode())
_OTHER_BYTES = re2_compile(_EXPONENT_OR_LONG)


def _spelled_otherwise(text: str) -> bool:
    return "\\" in text or re2_search(_OTHER_TEXT, text) is not None


class TextNeed:
    """`literal in text`, or (`spelled_otherwise`) any text where JSON may spell it another way.

    A necessary condition on a raw text for a JSON condition to hold: `within(data)` gives the
    same test for the events of one read of `data`, cheaper when `data` has no other spelling, and
    the bytes each event that passes it holds (a reader then splits out only those events)."""

    def __init__(self, literal: str, *, spelled_otherwise: bool) -> None:
        self.literal = literal
        self.spelled_otherwise = spelled_otherwise

    def __call__(self, text: str) -> bool:
        return self.literal in text or (self.spelled_otherwise and _spelled_otherwise(text))

    def within(self, data: bytes) -> tuple[Callable[[str], bool], tuple[bytes, ...]]:
        """(the test for the texts of `data`'s events, bytes every event that passes holds)."""
        literal = self.literal
        # a stream file writes a message's CR and LF escaped (lines.escape_message): such a literal is
        # not in the bytes as it is in the text
        held = () if "\r" in literal or "\n" in literal else (literal.encode("utf-8"),)
        plain = (lambda text: literal in text), held
        if not self.spelled_otherwise:
            return plain
        if _OTHER_BYTES.search(data) is not None:
            return self, ()
        if b"\\" in data:  # only escapes to look for, by `in`, not by RE2
            return (lambda text: literal in text or "\\" in text), ()
        return plain


class AllNeeds:
    """Every need holds (`&&`)."""

    def __init__(self, needs: list) -> None:
        self.needs = tuple(needs)

    def __call__(self, text: str) -> bool:
        return all(n(text) for n in self.needs)

    def within(self, data: bytes) -> tuple[Callable[[str], bool], tuple[bytes, ...]]:
        got = [n.within(data) for n in self.needs]
        tests = tuple(t for t, _ in got)
        return (lambda text: all(t(text) for t in tests)), tuple(b for _, bs in got for b in bs)


class AnyNeed(AllNeeds):
    """Some need holds (`||`)."""

    def __call__(self, text: str) -> bool:
        return any(n(text) for n in self.needs)

    def within(self, data: bytes) -> tuple[Callable[[str], bool], tuple[bytes, ...]]:
        tests = tuple(n.within(data)[0] for n in self.needs)
        return (lambda text: any(t(text) for t in tests)), ()


def _decimal_text(n: Number | None) -> str | None:
    """The digits every decimal spelling (no exponent, under 16 digits) of a number equal to `n`
    contains: "503" for 503 (503.0, +0503, "503."), ".5" for 0.5 (0.50, ".5"); None when there is
    no such text (an exponent in its shortest form, a non-finite value)."""
    if n is None:
        return None
    if isinstance(n, int):
        return str(abs(n))
    if not math.isfinite(n):
        return None
    if n == int(n) and abs(n) < 1e15:
        return str(int(abs(n)))
    r = repr(abs(n))
    if "e" in r:
        return None
    return r[1:] if r.startswith("0.") else r


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
