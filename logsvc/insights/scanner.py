"""Cuts Logs Insights query text into tokens, each with its character offsets. Pure.

Never decides what a token means: the parser does. Two choices live here:

* `/` is scanned as the division operator; where the grammar wants an operand the parser asks
  `regex_at()` to re-read the same offset as a `/regex/` literal (there is no other way to tell
  `a / b / c` from `a like /b/`).
* A number glued to letters is a time period (`5m`, `1h`, `300s`); its value comes from
  `values.parse_period`, so the units and clamping live with the other value rules.

Names: letters, digits, `_`, `@` and `.` (dotted JSON paths, numeric segments for array items);
any other character needs backticks, per segment: `` `foo-bar` ``, ``js.`user.id` ``.
`#` starts a comment that runs to the end of the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import values
from .errors import QueryError

NAME = "name"
STRING = "string"
NUMBER = "number"
PERIOD = "period"
REGEX = "regex"
OP = "op"
EOF = "eof"

# Longest first: `<=` before `<`.
_OPS = (
    "==",
    "!=",
    "<=",
    ">=",
    "=~",
    "|",
    ",",
    "(",
    ")",
    "[",
    "]",
    "+",
    "-",
    "*",
    "/",
    "^",
    "%",
    "=",
    "<",
    ">",
    ":",
)
_NUMBER_RE = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_DIGITS = frozenset("0123456789")  # not str.isdigit(): that takes "¹" too, which no number holds
_UNIT_RE = re.compile(r"[A-Za-z]+")
_BARE_RE = re.compile(r"[A-Za-z0-9_@]+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str  # the source text of the token, as written
    value: (
        object  # str for names/strings/ops/regex bodies, int|float for numbers, Period for periods
    )
    start: int
    end: int
    segments: tuple[str, ...] = ()  # names only: the dotted path, backticks removed

    def is_word(self, *words: str) -> bool:
        """A bare (unquoted) name spelling one of `words`, any case: how keywords are recognised."""
        return self.kind == NAME and not self.text.startswith("`") and self.text.lower() in words

    def is_op(self, *ops: str) -> bool:
        return self.kind == OP and self.value in ops


class Scanner:
    """A cursor over the query text; `next()` returns the token at the cursor and moves past it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _skip(self) -> None:
        text, pos, n = self.text, self.pos, len(self.text)
        while pos < n:
            ch = text[pos]
            if ch in " \t\r\n\f\v":
                pos += 1
            elif ch == "#":
                nl = text.find("\n", pos)
                pos = n if nl < 0 else nl + 1
            else:
                break
        self.pos = pos

    def next(self) -> Token:
        self._skip()
        text, pos = self.text, self.pos
        if pos >= len(text):
            return Token(EOF, "", None, pos, pos)
        ch = text[pos]
        if ch in "\"'":
            return self._string(ch)
        if ch in _DIGITS or (ch == "." and text[pos + 1 : pos + 2] in _DIGITS):
            return self._number()
        if ch.isalpha() or ch in "_@`":
            return self._name()
        for op in _OPS:
            if text.startswith(op, pos):
                self.pos = pos + len(op)
                return Token(OP, op, op, pos, self.pos)
        raise QueryError(f"unexpected character {ch!r}", pos, pos + 1)

    def regex_at(self, start: int) -> Token:
        """Re-read the text at `start` (a `/`) as a `/regex/` literal; `\\/` stands for a slash."""
        text, n = self.text, len(self.text)
        assert text[start] == "/"
        buf: list[str] = []
        i = start + 1
        while i < n:
            ch = text[i]
            if ch == "\\" and i + 1 < n:
                buf.append("/" if text[i + 1] == "/" else text[i : i + 2])
                i += 2
                continue
            if ch == "/":
                self.pos = i + 1
                return Token(REGEX, text[start : i + 1], "".join(buf), start, i + 1)
            buf.append(ch)
            i += 1
        raise QueryError("expected '/' to close the regular expression", start, n)

    def _string(self, quote: str) -> Token:
        text, n, start = self.text, len(self.text), self.pos
        buf: list[str] = []
        i = start + 1
        while i < n:
            ch = text[i]
            if ch == "\\" and i + 1 < n:
                nxt = text[i + 1]
                buf.append(_ESCAPES.get(nxt, "\\" + nxt))
                i += 2
                continue
            if ch == quote:
                self.pos = i + 1
                return Token(STRING, text[start : i + 1], "".join(buf), start, i + 1)
            buf.append(ch)
            i += 1
        raise QueryError(f"expected {quote} to close the string", start, n)

    def _number(self) -> Token:
        text, start = self.text, self.pos
        m = _NUMBER_RE.match(text, start)
        assert m
        end = m.end()
        unit = _UNIT_RE.match(text, end)
        if unit:
            end = unit.end()
            period = values.parse_period(text[start:end])
            if period is None:
                raise QueryError(
                    f"unknown time unit {unit.group()!r} in {text[start:end]!r}",
                    start,
                    end,
                    hint="use ms, s, m, h, d, w, mo, q or y, e.g. 5m",
                )
            self.pos = end
            return Token(PERIOD, text[start:end], period, start, end)
        raw = m.group()
        # integers stay exact, up to what int() converts (4,300 digits); past that, a float (inf)
        value: int | float = int(raw) if raw.isdigit() and len(raw) <= 4000 else float(raw)
        self.pos = end
        return Token(NUMBER, raw, value, start, end)

    def _name(self) -> Token:
        text, n, start = self.text, len(self.text), self.pos
        segments: list[str] = []
        i = start
        while True:
            if i < n and text[i] == "`":
                close = text.find("`", i + 1)
                if close < 0:
                    raise QueryError("expected '`' to close the quoted name", i, n)
                if close == i + 1:
                    raise QueryError("empty quoted name", i, close + 1)
                segments.append(text[i + 1 : close])
                i = close + 1
            else:
                m = _BARE_RE.match(text, i)
                if not m:
                    raise QueryError("expected a name after '.'", i, i + 1)
                segments.append(m.group())
                i = m.end()
            # A dot continues the path only when a name segment follows (`a.b`, `a.0`, ``a.`b` ``).
            if i + 1 < n and text[i] == "." and (_BARE_RE.match(text, i + 1) or text[i + 1] == "`"):
                i += 1
                continue
            break
        self.pos = i
        return Token(NAME, text[start:i], ".".join(segments), start, i, tuple(segments))
