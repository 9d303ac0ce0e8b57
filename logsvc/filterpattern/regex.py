"""The `%regex%` subset of filter patterns: validated against AWS's alphabet, then run in linear time.

AWS allows alphanumerics, the symbols `: _ # = @ / ; , -`, the operators `^ $ ? [ ] { } | \\ * + .`,
the classes `\\d \\D \\s \\S \\w \\W` and `\\xhh`; no groups, no other characters, nothing non-ASCII.
We also allow a plain space (log text is full of them). Without groups a regex is a `|` list of
alternatives, each a sequence of one-character atoms with quantifiers, which lets us:

* translate it to Python `re` exactly (ASCII classes, `.` matches newlines, `$` is the end of the
  message), used when an alternative has at most one variable-length piece, where backtracking
  stays linear-ish;
* run it as a bit-parallel NFA (Shift-And with repeatable and optional positions, Navarro &
  Raffinot, "Flexible Pattern Matching in Strings" §4.3) when two or more variable pieces could
  backtrack against each other: `%.*a.*b%` takes 13 s on a 4,000-char line under `re`, and is
  linear here.

`^` is accepted only at the start of an alternative and `$` only at its end: anywhere else
they could never match, which is almost certainly a typo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .scanner import Scanner

MAX_REPEAT = 1000
MAX_POSITIONS = 4000  # expanded NFA positions per regex (`.{1000}` counts 1000)
_SYMBOLS = set(":_#=@/;,- ")
_OPERATORS = set("^$?[]{}|\\*+.")
_CLASS_ESCAPES = set("dDsSwW")
_REPEAT_RE = re.compile(r"\{(\d+)(,(\d*))?\}")
_FLAGS = re.ASCII | re.DOTALL
_ALLOWED_HELP = "letters, digits, space, : _ # = @ / ; , - and the operators ^ $ ? [ ] { } | \\ * + ."


def _lit(ch: str) -> str:
    """A regex fragment matching exactly `ch` (all ASCII), safe inside and outside classes."""
    return ch if ch.isalnum() else f"\\x{ord(ch):02x}"


@dataclass
class _Piece:
    atom: str  # Python regex fragment matching one character
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

    def python(self) -> str:
        body = "".join(p.atom + p.quantifier() for p in self.pieces)
        return ("\\A" if self.anchored_start else "") + body + ("\\Z" if self.anchored_end else "")

    def variable_pieces(self) -> int:
        return sum(1 for p in self.pieces if p.hi != p.lo)

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
    """A validated `%regex%`: `search(text)` says whether it occurs, `spans(text)` where."""

    def __init__(self, source: str, alternatives: list[_Alternative]) -> None:
        self.source = source
        self._alternatives = alternatives
        self._python = re.compile("|".join(a.python() for a in alternatives), _FLAGS)
        literals = [a.required_literal() for a in alternatives]
        self._literals = tuple(literals) if all(literals) else ()
        self._nfa = _BitNFA(alternatives) if any(a.variable_pieces() > 1 for a in alternatives) else None

    def search(self, text: str) -> bool:
        if self._literals and not any(lit in text for lit in self._literals):
            return False
        if self._nfa is not None:
            return self._nfa.search(text)
        return self._python.search(text) is not None

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the regex matches, for highlighting; empty for risky regexes on long text."""
        if self._nfa is not None and len(text) > 256:
            return []
        return [m.span() for m in self._python.finditer(text) if m.end() > m.start()]


class _BitNFA:
    """Shift-And over all alternatives at once: bit j set = "positions 1..j of an alternative matched".

    Each alternative owns a run of bits: a start bit (never in a character mask, so bits shifted in
    from the previous alternative die) followed by one bit per expanded position. `x+` is a position
    with a self-loop, `x?` an optional one, `x*` both, `x{2,4}` two plain and two optional.
    Optional runs are closed in O(1) big-int operations with the subtraction trick.
    """

    def __init__(self, alternatives: list[_Alternative]) -> None:
        self.init = self.start = self.loop = self.accept_any = self.accept_end = 0
        self.opt = self.opt_first = self.opt_last = 0
        by_atom: dict[str, int] = {}
        bit = 0
        for alt in alternatives:
            base = bit
            if not alt.anchored_start:
                self.init |= 1 << base
            self.start |= 1 << base
            prev_optional = False
            for p in alt.pieces:
                copies = max(p.lo, 1) if p.hi is None else p.hi
                for k in range(copies):
                    bit += 1
                    mask = 1 << bit
                    by_atom[p.atom] = by_atom.get(p.atom, 0) | mask
                    optional = k >= p.lo
                    if p.hi is None and k == copies - 1:
                        self.loop |= mask
                    if optional:
                        self.opt |= mask
                        if not prev_optional:
                            self.opt_first |= mask >> 1
                    elif prev_optional:
                        self.opt_last |= mask >> 1
                    prev_optional = optional
            if prev_optional:
                self.opt_last |= 1 << bit
            if alt.anchored_end:
                self.accept_end |= 1 << bit
            else:
                self.accept_any |= 1 << bit
            bit += 1
        self._atoms = [(re.compile(atom, _FLAGS).fullmatch, mask) for atom, mask in by_atom.items()]
        self._masks: dict[str, int] = {}

    def _mask(self, ch: str) -> int:
        if len(self._masks) > 4096:
            self._masks.clear()
        m = 0
        for match, bits in self._atoms:
            if match(ch):
                m |= bits
        self._masks[ch] = m
        return m

    def _close(self, d: int) -> int:
        # Any active state just before or inside an optional run activates the rest of the run.
        df = d | self.opt_last
        return d | (self.opt & ~((df - self.opt_first) ^ df))

    def search(self, text: str) -> bool:
        d = self._close(self.start)
        accept_any = self.accept_any
        if d & accept_any:
            return True
        init, loop, masks = self.init, self.loop, self._masks
        for ch in text:
            b = masks.get(ch)
            if b is None:
                b = self._mask(ch)
            d = self._close(((d << 1) & b) | (d & loop & b) | init)
            if d & accept_any:
                return True
        return bool(d & self.accept_end)


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
            sc.fail("'$' is only supported at the end of the regex or right before '|'", at - 1, rule="regex")
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
                sc.fail("'^' is only supported at the start of the regex or right after '|'", at, rule="regex")
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
                    sc.fail("expected a repetition count like {2}, {2,} or {1,3} after '{'", at, rule="regex")
                lo = int(m.group(1))
                hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
                if lo > MAX_REPEAT or (hi is not None and hi > MAX_REPEAT):
                    sc.fail(f"repetition count above {MAX_REPEAT} in regex", at, rule="regex")
                if hi is not None and hi < lo:
                    sc.fail(f"repetition range {{{lo},{hi}}} is backwards in regex", at, rule="regex")
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
    positions = sum(
        (p.lo + 1 if p.hi is None else p.hi) for a in alts for p in a.pieces if a.variable_pieces() > 1
    )
    if positions > MAX_POSITIONS:
        sc.fail(f"regex is too complex (its repetitions expand past {MAX_POSITIONS} positions)", offset, rule="regex")
    return Regex(body, alts)


def _check_literal(ch: str, at: int, sc: Scanner) -> None:
    if ch.isascii() and (ch.isalnum() or ch in _SYMBOLS):
        return
    if ch in "()":
        sc.fail(f"'{ch}' is not supported in a regex: groups are not allowed", at, rule="regex-chars")
    if ch in "]}":
        sc.fail(f"unmatched '{ch}' in regex", at, rule="regex", hint=f"write '\\{ch}' for a literal '{ch}'")
    if not ch.isascii():
        sc.fail(f"non-ASCII character {ch!r} is not supported in a regex", at, rule="regex-chars",
                hint="use \\w, \\W or '.' to match it")
    sc.fail(f"character {ch!r} is not supported in a regex", at, rule="regex-chars", hint=f"allowed: {_ALLOWED_HELP}")


def _parse_escape(body: str, i: int, offset: int, sc: Scanner) -> tuple[str, str | None, int]:
    """`\\d`-style class, `\\xhh` or an escaped symbol at body[i] == '\\'; returns (atom, literal, next i)."""
    if i + 1 >= len(body):
        sc.fail("'\\' at the end of the regex escapes nothing", offset + i, rule="regex")
    nxt = body[i + 1]
    if nxt in _CLASS_ESCAPES:
        return "\\" + nxt, None, i + 2
    if nxt == "x":
        hh = body[i + 2 : i + 4]
        if len(hh) != 2 or any(c not in "0123456789abcdefABCDEF" for c in hh):
            sc.fail("expected two hex digits after '\\x' in regex", offset + i, rule="regex")
        ch = chr(int(hh, 16))
        return _lit(ch), ch, i + 4
    if nxt in _OPERATORS or nxt in _SYMBOLS:
        return _lit(nxt), nxt, i + 2
    sc.fail(f"unsupported escape '\\{nxt}' in regex", offset + i, rule="regex",
            hint="use \\d \\D \\s \\S \\w \\W, \\xhh, or a backslash before a symbol")


def _parse_class(body: str, i: int, offset: int, sc: Scanner) -> tuple[str, int]:
    """A `[...]` class starting at body[i]; returns the Python fragment and the index after `]`."""
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
                    sc.fail("a class like \\d cannot end a range in regex", offset + dash + 1, rule="regex")
            else:
                hi_char = body[i]
                if hi_char not in _OPERATORS:
                    _check_literal(hi_char, offset + i, sc)
                hi_frag = _lit(hi_char)
                i += 1
            if ord(hi_char) < ord(lo_char):
                sc.fail(f"range '{lo_char}-{hi_char}' is backwards in regex", offset + dash, rule="regex")
            frag = f"{frag}-{hi_frag}"
        out.append(frag)
        items += 1
    if i >= n:
        sc.fail("expected ']' to close the character class in regex", offset + n, rule="regex")
    if not items:
        sc.fail("empty character class in regex", offset + start, rule="regex")
    out.append("]")
    return "".join(out), i + 1
