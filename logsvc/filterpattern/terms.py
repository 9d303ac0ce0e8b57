"""Unstructured patterns: `ERROR -ARGUMENTS`, `?WARN ?ERROR`, `"exact phrase"`, `%regex%`.

Owns term syntax and term matching; never looks at JSON or fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import re2

from .query import TokenQuery, literal_tokens, q_and, q_or
from .regex import MAX_SPANS, re2_compile, re2_search
from .scanner import BLANKS, Scanner
from .values import read_regex

Span = tuple[int, int]
# A character that belongs inside a token (logsvc.tokens): ASCII letters and digits, and anything
# non-ASCII. Bare words must not start or end in the middle of such a run.
# Spelled as "not an ASCII non-alphanumeric": the positive range up to U+10FFFF costs `re` ~15 ms
# to compile.
_WORD_CLASS = r"[^\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]"
_WORD = re.compile(_WORD_CLASS)
_EDGE = r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]"  # the complement: an ASCII non-alphanumeric
_MAX_SPANS = MAX_SPANS  # per term; highlighting a pathological line must stay cheap
_FIND_TRIES = 8  # hits a bare word's edges are tested on before RE2 takes over


def _is_word_char(c: str) -> bool:
    """`_WORD_CLASS` without a regex call: an ASCII letter or digit, or anything non-ASCII."""
    return c > "\x7f" or c.isalnum()


class Term:
    """One term: a bare word (token-aligned), a quoted phrase (substring) or a regex."""

    def __init__(self, kind: str, text: str, prefix: str, sc: Scanner) -> None:
        self.kind = kind
        self.text = text
        self.prefix = prefix  # "", "?" or "-"
        self.always = kind == "phrase" and not text.strip(BLANKS)  # `" "` matches every event
        self._rx = None
        if kind == "regex":
            self.regex = read_regex(sc)
            self.test: Callable[[str], bool] = self.regex.search
        elif kind == "phrase" or not (_WORD.match(text[0]) or _WORD.match(text[-1])):
            self.test = self._contains
        else:
            # Bare words align to token edges (logsvc.tokens): `ERROR` matches `[ERROR 400]` and
            # `x_ERROR` but not `ERRORS`. The `in` check first keeps misses at ~100 ns. The edges are
            # consumed characters, not lookarounds, so RE2 runs it in one linear pass: Python's `re`
            # re-matched a long word at every overlapping occurrence (quadratic on `aaaa...`).
            self._left = bool(_WORD.match(text[0]))
            self._right = right = bool(_WORD.match(text[-1]))
            self._rx = re2_compile(
                (f"(?:\\A|{_EDGE})" if self._left else "")
                + re2.escape(text)
                + (f"(?:{_EDGE}|\\z)" if right else "")
            )
            self.test = self._word

    def _contains(self, s: str) -> bool:
        return self.text in s

    def _word(self, s: str) -> bool:
        """str.find and an edge test on the first few hits (~1 µs; the RE2 call from Python costs
        ~15 µs); past _FIND_TRIES hits (`aa` in `aaaa…`) RE2's one linear pass decides."""
        text, n = self.text, len(self.text)
        i = s.find(text)
        tries = 0
        while i >= 0:
            if (not self._left or i == 0 or not _is_word_char(s[i - 1])) and (
                not self._right or i + n == len(s) or not _is_word_char(s[i + n])
            ):
                return True
            tries += 1
            if tries >= _FIND_TRIES:
                return re2_search(self._rx, s) is not None
            i = s.find(text, i + 1)
        return False

    def spans(self, s: str) -> list[Span]:
        if self.always:
            return []
        if self.kind == "regex":
            return self.regex.spans(s)
        out, n = [], len(self.text)
        if self._rx is not None:
            pos = self._aligned_spans(s, out)
            while (
                pos is not None
                and len(out) < _MAX_SPANS
                and (m := re2_search(self._rx, s, pos)) is not None
            ):
                a = m.start()
                if self._left and not _WORD.match(s[a]):
                    a += 1  # the consumed left edge
                out.append((a, a + n))
                pos = a + n  # the right edge may be the next hit's left edge
            return out
        i = s.find(self.text)
        while i >= 0 and len(out) < _MAX_SPANS:
            out.append((i, i + n))
            i = s.find(self.text, i + 1)
        return out

    def _aligned_spans(self, s: str, out: list[Span]) -> int | None:
        """A bare word's spans by str.find and an edge test (what `_word` does for one hit), into
        `out`; None when done, else where RE2 takes over (past _FIND_TRIES unaligned hits in a row,
        `aa` in `aaaa…`). The RE2 call from Python costs ~15 µs a hit: the console's bulk reads
        highlight every event."""
        text, n = self.text, len(self.text)
        i, misses = s.find(text), 0
        while i >= 0 and len(out) < _MAX_SPANS:
            if (not self._left or i == 0 or not _is_word_char(s[i - 1])) and (
                not self._right or i + n == len(s) or not _is_word_char(s[i + n])
            ):
                out.append((i, i + n))
                misses = 0
                i = s.find(text, i + n)
            else:
                misses += 1
                if misses >= _FIND_TRIES:
                    return i
                i = s.find(text, i + 1)
        return None

    def query(self) -> TokenQuery | None:
        if self.kind == "word":
            return literal_tokens(self.text, firm_start=True, firm_end=True)
        if self.kind == "phrase":
            return literal_tokens(self.text, firm_start=False, firm_end=False)
        return None


def parse_terms(sc: Scanner) -> list[Term]:
    """Split the pattern into terms; see the package docstring for the grammar."""
    terms: list[Term] = []
    text = sc.text
    while True:
        sc.skip_blanks()
        if sc.at_end():
            return terms
        prefix = ""
        if sc.peek() in "?-":
            prefix = sc.peek()
            sc.pos += 1
            if sc.at_end() or sc.peek() in BLANKS:
                sc.fail(
                    f"expected a term right after '{prefix}'",
                    rule="term",
                    hint=f"write '\"{prefix}\"' to search for a literal '{prefix}'",
                )
        ch = sc.peek()
        if ch == '"':
            phrase = "*".join(sc.quoted("quoted phrase"))
            term = Term("phrase", phrase, prefix, sc)
            closer = "'\"'"
        elif ch == "%":
            term = Term("regex", "", prefix, sc)
            term.text = term.regex.source
            closer = "'%'"
        else:
            start = pos = sc.pos
            while pos < len(text) and text[pos] not in BLANKS:
                if text[pos] == '"':
                    sc.fail(
                        "'\"' inside a term",
                        pos,
                        rule="term",
                        hint='quote the whole term and escape inner quotes: "key=\\"value\\""',
                    )
                pos += 1
            sc.pos = pos
            term = Term("word", text[start:pos], prefix, sc)
            closer = ""
        if closer and not sc.at_end() and sc.peek() not in BLANKS:
            sc.fail(f"expected a space after the closing {closer}", rule="term")
        terms.append(term)


class TermsMatcher:
    """AND of plain terms, none of the `-` terms, and (only when alone) any of the `?` terms."""

    def __init__(self, terms: list[Term]) -> None:
        required = [t for t in terms if t.prefix == ""]
        excluded = [t for t in terms if t.prefix == "-"]
        # AWS: "if ? terms are combined with any other term, all ? terms are ignored".
        optional = [t for t in terms if t.prefix == "?"] if not required and not excluded else []
        cost = {"phrase": 0, "word": 1, "regex": 2}
        self.required = sorted((t for t in required if not t.always), key=lambda t: cost[t.kind])
        self.excluded = excluded
        self.optional = [] if any(t.always for t in optional) else optional
        self.never = any(t.always for t in excluded)
        self.match_all = not self.required and not self.excluded and not self.optional
        self.matches = self._build()

    def _build(self) -> Callable[[str], bool]:
        if self.never:
            return lambda s: False
        req = tuple(t.test for t in self.required)
        exc = tuple(t.test for t in self.excluded)
        opt = tuple(t.test for t in self.optional)
        if not exc and not opt:
            if not req:
                return lambda s: True
            if len(req) == 1:
                return req[0]
            if len(req) == 2:
                a, b = req
                return lambda s: a(s) and b(s)

        def match(s: str) -> bool:
            for f in req:
                if not f(s):
                    return False
            for f in exc:
                if f(s):
                    return False
            if opt:
                for f in opt:
                    if f(s):
                        return True
                return False
            return True

        return match

    def highlights(self, s: str) -> list[Span]:
        out: list[Span] = []
        for t in self.required:
            out += t.spans(s)
        for t in self.optional:
            out += t.spans(s)
        return out

    def literals(self) -> tuple[str, ...]:
        """Exact text every match contains: the required words and phrases (not regexes).

        Text a stream file could hold differently (line breaks, which files store as \\r, and
        U+FFFD, which stands for invalid bytes) is left out, so a test on raw bytes stays sound.
        """
        return tuple(
            t.text
            for t in self.required
            if t.kind in ("word", "phrase") and not any(c in t.text for c in "\r\n\ufffd")
        )

    def query(self) -> TokenQuery | None:
        parts = [t.query() for t in self.required]
        if self.optional:
            parts.append(q_or(t.query() for t in self.optional))
        return q_and(parts)
