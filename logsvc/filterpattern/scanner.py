"""Character-level lexing shared by the three pattern kinds: blanks, quoted strings, `%regex%`, numbers.

Never decides what a construct means; it only cuts the text and raises errors that carry a column.
"""

from __future__ import annotations

import re
from typing import NoReturn

from .errors import FilterPatternError

BLANKS = " \t\r\n\f\v"

# Decimal numbers as the pattern language writes them: 42, -7, +1.5, .5, 1e+3, 2.5E-4.
NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

Number = int | float


def parse_number(text: str) -> Number | None:
    """`text` as an int (when integral as written) or float, or None if it is not wholly a number."""
    if not NUMBER_RE.fullmatch(text):
        return None
    if text.lstrip("+-").isdigit():
        # Integers stay exact: 12345678901234567891 must not round through a float.
        # Digit count is bounded by the 1024-char pattern limit, so int() cannot hit its 4300-digit cap.
        return int(text) if len(text) <= 4000 else float(text)
    return float(text)


class Scanner:
    """A cursor over the pattern text that knows how to report an error at a column."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.regexes = 0  # `%regex%` literals read so far; AWS caps them per pattern
        self.wildcards = 0  # JSON wildcard selectors read so far; capped likewise

    def fail(
        self, reason: str, pos: int | None = None, *, rule: str, hint: str | None = None
    ) -> NoReturn:
        raise FilterPatternError(
            reason, self.text, self.pos if pos is None else pos, rule=rule, hint=hint
        )

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def skip_blanks(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in BLANKS:
            pos += 1
        self.pos = pos

    def eat(self, s: str) -> bool:
        """Consume `s` if the text continues with it."""
        if self.text.startswith(s, self.pos):
            self.pos += len(s)
            return True
        return False

    def quoted(self, what: str) -> list[str]:
        """Read a `"..."` string at the cursor; return its pieces split on unescaped `*`.

        `\\"` is a quote, `\\\\` a backslash and `\\*` a literal star; any other backslash stays as
        written, so Windows paths like "C:\\temp" need no doubling. Callers that have no wildcards
        (phrases) join the pieces back with "*".
        """
        text = self.text
        start = self.pos
        assert text[start] == '"'
        pieces: list[str] = []
        buf: list[str] = []
        i = start + 1
        n = len(text)
        while i < n:
            ch = text[i]
            if ch == '"':
                pieces.append("".join(buf))
                self.pos = i + 1
                return pieces
            if ch == "\\" and i + 1 < n and text[i + 1] in '"\\*':
                buf.append(text[i + 1])
                i += 2
                continue
            if ch == "*":
                pieces.append("".join(buf))
                buf = []
            else:
                buf.append(ch)
            i += 1
        self.fail(f"expected '\"' to close the {what}", n, rule="quote")

    def regex_body(self) -> tuple[str, int]:
        """Read a `%...%` regex at the cursor; return its body and the body's start index.

        The first `%` after the opening one closes it: `%` is not in the regex alphabet.
        """
        text = self.text
        start = self.pos
        assert text[start] == "%"
        end = text.find("%", start + 1)
        if end < 0:
            self.fail("expected '%' to close the regex", len(text), rule="regex")
        self.pos = end + 1
        return text[start + 1 : end], start + 1
