"""The `%regex%` subset of filter patterns: validated against AWS's alphabet, then run by RE2.

AWS allows alphanumerics, the symbols `: _ # = @ / ; , -`, the operators `^ $ ? [ ] { } | \\ * + .`,
the classes `\\d \\D \\s \\S \\w \\W` and `\\xhh`; no groups, no other characters, nothing non-ASCII.
We also allow a plain space (log text is full of them). Without groups a regex is a `|` list of
alternatives, each a sequence of one-character atoms with quantifiers.

Every regex runs on Google's RE2 (`google-re2`), never on Python's backtracking `re`: RE2 runs in
time linear in the text for any regex, releases the GIL while it runs, and a regex such as
`%a*a*a*a*a*c%` or `%\\w*\\W$%` costs one pass over the line instead of hours (issue #17).
The translation keeps AWS's/our meaning exactly: classes are spelled out as ASCII sets (RE2's `\\s`
lacks `\\v`), `.` matches newlines, `^`/`$` are the start/end of the message (`\\A`, `\\z`).

`^` is accepted only at the start of an alternative and `$` only at its end: anywhere else
they could never match, which is almost certainly a typo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import islice

import re2

from .scanner import Scanner

MAX_REPEAT = 1000
MAX_PROGRAM = (
    20_000  # RE2 instructions per regex (`.{1000}` is ~7,000): bounds memory and per-byte cost
)
MAX_SPANS = 1000  # highlight spans per regex: a pathological line must stay cheap to highlight
# Each hit may scan to the end of the text (`%\\w*x|\\w%` keeps looking for the longer hit), so the
# number of hits looked for shrinks as the text grows: at most ~64 Mi characters scanned per call.
_SPAN_WORK = 64 << 20
_SYMBOLS = set(":_#=@/;,- ")
_OPERATORS = set("^$?[]{}|\\*+.")
# `\d`-style classes as explicit ASCII sets (the inside of a `[...]`), so RE2 means what AWS means:
# RE2's own `\s` leaves out `\v`, and spelling them out lets them sit inside negated classes too.
_CLASS_SETS = {
    "d": r"0-9",
    "D": r"\x00-\x2f\x3a-\x{10ffff}",
    "w": r"0-9A-Za-z_",
    "W": r"\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x{10ffff}",
    "s": r"\x09-\x0d\x20",
    "S": r"\x00-\x08\x0e-\x1f\x21-\x{10ffff}",
}
_REPEAT_RE = re.compile(r"\{(\d+)(,(\d*))?\}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ALLOWED_HELP = (
    "letters, digits, space, : _ # = @ / ; , - and the operators ^ $ ? [ ] { } | \\ * + ."
)


def _options(longest: bool = False) -> re2.Options:
    opts = re2.Options()
    opts.longest_match = longest
    opts.log_errors = (
        False  # a DFA running out of memory falls back to RE2's (still linear) NFA quietly
    )
    opts.max_mem = 32 << 20
    return opts


_RE2_OPTIONS = _options()
# Highlighting takes the longest hit at each start: RE2 steps past an empty hit where Python's `re`
# would retry the same index for a longer one, so leftmost-first would miss `a` in `%1?|a%`.
_RE2_LONGEST = _options(longest=True)


def _lit(ch: str) -> str:
    """A regex fragment matching exactly `ch` (all ASCII), safe inside and outside classes."""
    return ch if ch.isalnum() else f"\\x{ord(ch):02x}"


def utf8_safe(text: str) -> str:
    """`text` with lone surrogates (which UTF-8 cannot hold, and RE2 reads UTF-8) as U+FFFD, same length."""
    return _SURROGATE.sub("\ufffd", text)


def re2_compile(source: str | bytes, *, longest: bool = False) -> re2._Regexp:
    """Compile for RE2 with logsvc's options (quiet, bounded memory); a bytes source searches bytes."""
    return re2.compile(source, _RE2_LONGEST if longest else _RE2_OPTIONS)


def re2_search(rx: re2._Regexp, text: str, pos: int = 0) -> re2._Match | None:
    """`rx.search(text, pos)`, also for text holding lone surrogates (from a JSON `\\ud800` escape)."""
    try:
        return rx.search(text, pos)
    except UnicodeEncodeError:
        return rx.search(utf8_safe(text), pos)


@dataclass
class _Piece:
    atom: str  # RE2 fragment matching one character
    literal: str | None  # the character, when the atom is one fixed character
    lo: int = 1
    hi: int | None = 1  # None = unbounded

    def quantifier(self) -> str:
        if (self.lo, self.hi) == (1, 1):
            return ""
        if self.hi is None:
            return {0: "*", 1: "+"}.get(self.lo, f"{{{self.lo},}}")
        if (self.lo, self.hi) == (0, 1):
            return "?"
        return f"{{{self.lo}}}" if self.lo == self.hi else f"{{{self.lo},{self.hi}}}"


@dataclass
class _Alternative:
    pieces: list[_Piece] = field(default_factory=list)
    anchored_start: bool = False
    anchored_end: bool = False
    quantified: bool = False  # the last piece already carries a quantifier

    def source(self) -> str:
        body = "".join(p.atom + p.quantifier() for p in self.pieces)
        return ("\\A" if self.anchored_start else "") + body + ("\\z" if self.anchored_end else "")

    def required_literal(self) -> str:
        """The longest run of exactly-once literal characters: a substring every match contains."""
        best, run = "", ""
        for p in self.pieces:
            if p.literal is not None and p.lo == p.hi == 1:
                run += p.literal
                best = max(best, run, key=len)
            else:
                run = ""
        return best


class Regex:
    """A validated `%regex%`: `search(text)` says whether it occurs, `spans(text)` where; both linear (RE2)."""

    def __init__(
        self, source: str, alternatives: list[_Alternative], compiled: re2._Regexp
    ) -> None:
        self.source = source
        self._alternatives = alternatives
        self._re = compiled
        self._longest = re2_compile(compiled.pattern, longest=True)
        literals = [a.required_literal() for a in alternatives]
        self._literals = tuple(literals) if all(literals) else ()

    def search(self, text: str) -> bool:
        if self._literals and not any(lit in text for lit in self._literals):
            return False
        return re2_search(self._re, text) is not None

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the regex matches (non-empty hits, at most MAX_SPANS), for highlighting."""
        if self._literals and not any(lit in text for lit in self._literals):
            return []
        tries = min(2 * MAX_SPANS, max(8, _SPAN_WORK // (len(text) + 1)))
        try:
            found = list(islice(self._longest.finditer(text), tries))
        except UnicodeEncodeError:
            found = list(islice(self._longest.finditer(utf8_safe(text)), tries))
        return [m.span() for m in found if m.end() > m.start()][:MAX_SPANS]


def compile_regex(body: str, offset: int, sc: Scanner) -> Regex:
    """Validate `body` (the text between the `%`s, starting at index `offset` of the pattern).

    :raises FilterPatternError: at the first character outside AWS's regex subset.
    """
    if not body:
        sc.fail("empty regex '%%'", offset - 1, rule="regex")
    alts: list[_Alternative] = []
    cur = _Alternative()
    i, n = 0, len(body)
    while i < n:
        ch, at = body[i], offset + i
        if cur.anchored_end and ch != "|":
            sc.fail(
                "'$' is only supported at the end of the regex or right before '|'",
                at - 1,
                rule="regex",
            )
        if ch == "|":
            if not cur.pieces and not cur.anchored_start:
                sc.fail("empty alternative before '|' in regex", at, rule="regex")
            alts.append(cur)
            cur = _Alternative()
            i += 1
            if i == n:
                sc.fail("empty alternative after '|' in regex", at, rule="regex")
            continue
        if ch == "^":
            if cur.pieces or cur.anchored_start:
                sc.fail(
                    "'^' is only supported at the start of the regex or right after '|'",
                    at,
                    rule="regex",
                )
            cur.anchored_start = True
            i += 1
            continue
        if ch == "$":
            cur.anchored_end = True
            i += 1
            continue
        if ch in "*+?{":
            if not cur.pieces:
                sc.fail(f"nothing to repeat before '{ch}' in regex", at, rule="regex")
            if cur.quantified:
                sc.fail(f"'{ch}' cannot follow another quantifier in regex", at, rule="regex")
            piece = cur.pieces[-1]
            if ch == "{":
                m = _REPEAT_RE.match(body, i)
                if not m:
                    sc.fail(
                        "expected a repetition count like {2}, {2,} or {1,3} after '{'",
                        at,
                        rule="regex",
                    )
                lo = int(m.group(1))
                hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
                if lo > MAX_REPEAT or (hi is not None and hi > MAX_REPEAT):
                    sc.fail(f"repetition count above {MAX_REPEAT} in regex", at, rule="regex")
                if hi is not None and hi < lo:
                    sc.fail(
                        f"repetition range {{{lo},{hi}}} is backwards in regex", at, rule="regex"
                    )
                piece.lo, piece.hi = lo, hi
                i = m.end()
            else:
                piece.lo, piece.hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[ch]
                i += 1
            cur.quantified = True
            continue
        cur.quantified = False
        if ch == "[":
            atom, i = _parse_class(body, i, offset, sc)
            cur.pieces.append(_Piece(atom, None))
        elif ch == ".":
            cur.pieces.append(_Piece(".", None))
            i += 1
        elif ch == "\\":
            atom, literal, i = _parse_escape(body, i, offset, sc)
            cur.pieces.append(_Piece(atom, literal))
        else:
            _check_literal(ch, at, sc)
            cur.pieces.append(_Piece(_lit(ch), ch))
            i += 1
    alts.append(cur)
    try:
        compiled = re2_compile("(?s)" + "|".join(a.source() for a in alts))
    except re2.error:
        compiled = None
    if compiled is None or compiled.programsize > MAX_PROGRAM:
        sc.fail(
            f"regex is too complex (its repetitions expand past {MAX_PROGRAM} steps)",
            offset,
            rule="regex",
        )
    return Regex(body, alts, compiled)


def _check_literal(ch: str, at: int, sc: Scanner) -> None:
    if ch.isascii() and (ch.isalnum() or ch in _SYMBOLS):
        return
    if ch in "()":
        sc.fail(
            f"'{ch}' is not supported in a regex: groups are not allowed", at, rule="regex-chars"
        )
    if ch in "]}":
        sc.fail(
            f"unmatched '{ch}' in regex",
            at,
            rule="regex",
            hint=f"write '\\{ch}' for a literal '{ch}'",
        )
    if not ch.isascii():
        sc.fail(
            f"non-ASCII character {ch!r} is not supported in a regex",
            at,
            rule="regex-chars",
            hint="use \\w, \\W or '.' to match it",
        )
    sc.fail(
        f"character {ch!r} is not supported in a regex",
        at,
        rule="regex-chars",
        hint=f"allowed: {_ALLOWED_HELP}",
    )


def _parse_escape(body: str, i: int, offset: int, sc: Scanner) -> tuple[str, str | None, int]:
    """`\\d`-style class, `\\xhh` or an escaped symbol at body[i] == '\\'; returns (atom, literal, next i)."""
    if i + 1 >= len(body):
        sc.fail("'\\' at the end of the regex escapes nothing", offset + i, rule="regex")
    nxt = body[i + 1]
    if nxt in _CLASS_SETS:
        return f"[{_CLASS_SETS[nxt]}]", None, i + 2
    if nxt == "x":
        hh = body[i + 2 : i + 4]
        if len(hh) != 2 or any(c not in "0123456789abcdefABCDEF" for c in hh):
            sc.fail("expected two hex digits after '\\x' in regex", offset + i, rule="regex")
        ch = chr(int(hh, 16))
        return _lit(ch), ch, i + 4
    if nxt in _OPERATORS or nxt in _SYMBOLS:
        return _lit(nxt), nxt, i + 2
    sc.fail(
        f"unsupported escape '\\{nxt}' in regex",
        offset + i,
        rule="regex",
        hint="use \\d \\D \\s \\S \\w \\W, \\xhh, or a backslash before a symbol",
    )


def _parse_class(body: str, i: int, offset: int, sc: Scanner) -> tuple[str, int]:
    """A `[...]` class starting at body[i]; returns the RE2 fragment and the index after `]`."""
    start = i
    i += 1
    out = ["["]
    if body.startswith("^", i):
        out.append("^")
        i += 1
    items = 0
    n = len(body)
    while i < n and body[i] != "]":
        lo_char: str | None
        if body[i] == "\\":
            frag, lo_char, i = _parse_escape(body, i, offset, sc)
            if lo_char is None:
                frag = frag[1:-1]  # a class escape's set goes inside this class as it is
        else:
            lo_char = body[i]
            if lo_char not in _OPERATORS:
                _check_literal(lo_char, offset + i, sc)
            frag = _lit(lo_char)
            i += 1
        if lo_char is not None and i + 1 < n and body[i] == "-" and body[i + 1] != "]":
            dash = i
            i += 1
            if body[i] == "\\":
                hi_frag, hi_char, i = _parse_escape(body, i, offset, sc)
                if hi_char is None:
                    sc.fail(
                        "a class like \\d cannot end a range in regex",
                        offset + dash + 1,
                        rule="regex",
                    )
            else:
                hi_char = body[i]
                if hi_char not in _OPERATORS:
                    _check_literal(hi_char, offset + i, sc)
                hi_frag = _lit(hi_char)
                i += 1
            if ord(hi_char) < ord(lo_char):
                sc.fail(
                    f"range '{lo_char}-{hi_char}' is backwards in regex",
                    offset + dash,
                    rule="regex",
                )
            frag = f"{frag}-{hi_frag}"
        out.append(frag)
        items += 1
    if i >= n:
        sc.fail("expected ']' to close the character class in regex", offset + n, rule="regex")
    if not items:
        sc.fail("empty character class in regex", offset + start, rule="regex")
    out.append("]")
    return "".join(out), i + 1
