"""CloudWatch Logs filter patterns: compile once, then match, highlight and pre-filter. Pure.

Owns the filter-pattern language (tokenize, parse, match) and the index terms that can narrow a
search; never imports whoosh or flask and never does I/O. Used by FilterLogEvents, live tail and
search alike: `compile_pattern(text).matches(message)`.

Grammar (the first non-blank character picks the kind; max 1024 characters, as AWS)::

    pattern      := "" | blanks | json | delimited | terms
    terms        := term (blank+ term)*
    term         := ["?" | "-"] (phrase | regex | word)
    phrase       := '"' (char | '\\"' | '\\\\')* '"'          exact, case-sensitive substring
    regex        := "%" body "%"                               see regex.py for the alphabet
    word         := non-blank chars, no '"'                   token-aligned, case-sensitive

    json         := "{" or "}"
    or           := and ("||" and)*                            && binds tighter than ||
    and          := primary ("&&" primary)*
    primary      := "(" or ")" | selector test                 at most 16 levels of ( )
    selector     := "$" ("." key | ".*" | ".[" quoted "]" | "[" index "]" | "[*]" | "[" quoted "]")*
    test         := op value | IS (NULL | TRUE | FALSE) | NOT EXISTS      (keywords any case)
    op           := "=" | "!=" | "<" | "<=" | ">" | ">="
    value        := '"' text-with-*-wildcards '"' | regex | number | bare-text-with-*-wildcards
    number       := [+-] digits [. digits] [(e|E) [+-] digits]  (what `<`-style ops require)

    delimited    := "[" slot ("," slot)* "]"
    slot         := "..." | name [op value (("&&" | "||") name op value)*]
    name         := [A-Za-z_][A-Za-z0-9_]*

Semantics decided here (AWS's docs leave them open; see cloudwatch-logs-api.md §3):

* Bare words align to tokens as `logsvc.tokens` defines them (runs of ASCII letters and digits
  and non-ASCII characters, so `_` is a boundary): `ERROR` matches `[ERROR 400]`, `ERROR:` and
  `x_ERROR`, not `ERRORS happen` or `ERRORé`.
  A bare word with other characters (`order-42`) is accepted although AWS asks for quotes, and
  matches that exact sequence with token boundaries at both ends. `"..."` is a plain substring.
* `?` terms are an OR group only when every term has `?`; mixed with any other term (even a `-`
  term or `" "`) they are ignored, as AWS documents. A phrase of only blanks matches everything,
  so `-" "` matches nothing.
* `%regex%` may be a term (also with `?`/`-`) or a JSON/delimited value; at most two per pattern.
  `.` matches newlines, classes are ASCII, `$` is the end of the message; a space is allowed.
* JSON: only messages whose first non-blank character is `{` are parsed (once per call); other
  messages never match a JSON pattern. Text comparisons (`=`, `!=`, `*`, regex) see strings as
  they are, numbers as written and booleans as `true`/`false`; `null`, objects and arrays never
  compare, with either `=` or `!=`. `!=` therefore means "present, comparable and different".
  Numeric comparisons (and `=` with a number) accept JSON numbers and strings that are wholly a
  number. `IS NULL` needs the key present with null; `NOT EXISTS` is true only when the selector
  reaches nothing (a null or an object counts as present). A wildcard (`$.*`, `[*]`, one level,
  over array items or object values) matches when any value it reaches satisfies the test.
* Delimited: fields are split on runs of ASCII whitespace (non-ASCII spaces are token characters
  in logsvc.tokens), with `"..."` and `[...]` as one field each, delimiters stripped. Without `...` a message needs at least as many fields as the
  pattern names and the last named field absorbs the rest of the line (raw text, delimiters
  kept); with `...` the fields before it align from the start and those after it from the end.
  A condition may name any field of the pattern; numeric operators need a field that is a number.
* Errors: any malformed pattern raises `FilterPatternError` with a 1-based column in its
  message and `caret()`; nothing else ever escapes `compile_pattern` or `matches`.
* Token queries (query.py) are sound, not tight: bare words guarantee all their tokens, phrases
  only their inner ones, `=` values in JSON and delimited patterns the tokens wholly inside their
  literal parts. For JSON we assume, as every mainstream encoder does, that ASCII letters and
  digits are never written as `\\uXXXX`, and we drop tokens that could touch an escape.
* Highlights are best effort: words, phrases and regex hits exactly; JSON values found after
  their key in the raw text; delimited fields whose `=`-style conditions hold.

Layout: scanner.py (lexing, columns), terms.py, jsonfilter.py, delimited.py (the three kinds),
values.py (right-hand sides shared by JSON and delimited), regex.py (the `%regex%` subset, run by
RE2), query.py (token queries), errors.py.

Time (issue #17): every matcher is linear in the message, so one event costs at most a bounded
time even at the 1 MiB cap. Regexes and bare words run on RE2 (never Python's backtracking `re`,
which `%a*a*a*c%` or `%\\w*\\W$%` sent into hours); phrases and globs are `str.find`; delimited
fields are cut in one pass; JSON is parsed once by the C decoder. Highlighting is capped in spans
and in the text it rescans.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from ..tokens import TokenQuery
from .delimited import DelimitedMatcher, parse_delimited
from .errors import FilterPatternError
from .jsonfilter import (
    Condition,
    Group,
    Selector,
    compile_selector,
    load_event,
    parse_json,
    scalar_text,
    selectors,
)
from .query import lower_query, substring_filter
from .scanner import Scanner
from .terms import TermsMatcher, parse_terms
from .values import AllNeeds, TextNeed

__all__ = [
    "FilterPattern",
    "FilterPatternError",
    "MAX_PATTERN_LENGTH",
    "compile_pattern",
    "compile_reference",
]

MAX_PATTERN_LENGTH = 1024
Span = tuple[int, int]


class FilterPattern:
    """A compiled pattern: immutable and shared through `compile_pattern`'s cache."""

    __slots__ = (
        "text",
        "kind",
        "match_all",
        "_match",
        "_highlights",
        "_query",
        "_delimited",
        "literals",
        "_selectors",
        "need",
    )

    def __init__(
        self,
        text: str,
        kind: str,
        match: Callable[[str], bool],
        highlights: Callable[[str], list[Span]],
        query: TokenQuery | None,
        *,
        match_all: bool = False,
        delimited: DelimitedMatcher | None = None,
        literals: tuple[str, ...] = (),
        json_selectors: tuple[Selector, ...] = (),
        need: TextNeed | AllNeeds | None = None,
    ) -> None:
        self.text = text
        self._selectors = json_selectors
        # case-sensitive substrings every matching message contains: readers test raw bytes with them
        self.literals = literals
        # a cheap test every text holding a matching message passes (None: none known): readers
        # ask it (`need.within(data)` for one read) before parsing an event's time, `matches`
        # before decoding JSON
        self.need = need
        self.kind = kind  # "all", "terms", "json" or "delimited"
        self.match_all = match_all
        self._match = match
        self._highlights = highlights
        self._query = lower_query(query)
        self._delimited = delimited

    def __repr__(self) -> str:
        return f"<FilterPattern {self.kind} {self.text!r}>"

    def matches(self, message: str) -> bool:
        """Whether the event message matches; never raises."""
        return self._match(message)

    def highlights(self, message: str, *, matched: bool = False) -> list[Span]:
        """Sorted, merged (start, end) spans of what matched, for the console; [] when no match.
        `matched=True`: the caller knows the message matches (a read's events), so it is not
        matched again."""
        if self.match_all or not (matched or self._match(message)):
            return []
        merged: list[Span] = []
        for a, b in sorted(self._highlights(message)):
            if b <= a:
                continue
            if merged and a <= merged[-1][1]:
                if b > merged[-1][1]:
                    merged[-1] = (merged[-1][0], b)
            else:
                merged.append((a, b))
        return merged

    def token_query(self) -> TokenQuery | None:
        """Lower-cased tokens every matching message has (see logsvc.tokens), or None if unknown.

        Sound, not tight: the index may skip any block whose tokens fail this query.
        """
        return self._query

    def extract(self, message: str) -> dict[str, str] | None:
        """Named field values of a delimited pattern (`$ip`-style), or None for other kinds or no fit."""
        return self._delimited.extract(message) if self._delimited is not None else None

    def delimited_fields(self) -> frozenset[str] | None:
        """The field names of a space-delimited pattern (what `$name` may refer to), else None."""
        if self._delimited is None:
            return None
        return frozenset(n for n in self._delimited.slots if n is not None)

    def reference(self, message: str, ref: str) -> str | None:
        """The text a metric filter's `$name` (delimited) or `$.path` (JSON) reference takes in a
        message, or None when the pattern kind has no such field or the message lacks it.

        The one place metric values and dimensions are read from a matched event, so they come
        from the very fields the matcher saw.
        """
        if ref.startswith("$.") or ref.startswith("$["):
            if self.kind != "json":
                return None
            doc = load_event(message)
            if doc is None:
                return None
            for v in compile_reference(ref).resolve(doc):
                text = scalar_text(v)
                if text is not None:
                    return text
            return None
        if ref.startswith("$") and self._delimited is not None:
            got = self.extract(message)
            return None if got is None else got.get(ref[1:])
        return None

    def captured(self, message: str) -> dict[str, str]:
        """TestMetricFilter's `extractedValues`: `$name` per named delimited field, `$.path` per
        JSON selector of the pattern that reaches a scalar; `{}` for term patterns."""
        if self._delimited is not None:
            got = self.extract(message) or {}
            return {f"${k}": v for k, v in got.items()}
        out: dict[str, str] = {}
        if self._selectors:
            doc = load_event(message)
            if doc is None:
                return out
            for sel in self._selectors:
                texts = [t for t in map(scalar_text, sel.resolve(doc)) if t is not None]
                if texts:
                    out[sel.written] = texts[0]
        return out


@functools.lru_cache(maxsize=256)
def compile_reference(ref: str) -> Selector:
    """A metric filter's `$.path` reference as a selector (cached; patterns share the rules).

    :raises FilterPatternError: if `ref` is not one selector.
    """
    return compile_selector(ref)


def _match_all(text: str) -> FilterPattern:
    return FilterPattern(text, "all", lambda s: True, lambda s: [], None, match_all=True)


@functools.lru_cache(maxsize=512)
def compile_pattern(text: str | None) -> FilterPattern:
    """Parse and precompile a filter pattern; None, empty and blank patterns match every event.

    Cached, since a paginated FilterLogEvents or a live tail reuses the same pattern per request.

    :raises FilterPatternError: for any malformed pattern, pointing at the column at fault.
    """
    if text is None:
        return _match_all("")
    if not isinstance(text, str):
        raise FilterPatternError("filter pattern must be a string", "", 0, rule="type")
    if len(text) > MAX_PATTERN_LENGTH:
        raise FilterPatternError(
            f"filter pattern is longer than {MAX_PATTERN_LENGTH} characters",
            text,
            MAX_PATTERN_LENGTH,
            rule="length",
            hint=f"it has {len(text)}; split it or use a shorter regex",
        )
    sc = Scanner(text)
    sc.skip_blanks()
    if sc.at_end():
        return _match_all(text)
    first = sc.peek()
    if first == "{":
        expr = parse_json(sc)
        return _compile_json(text, expr)
    if first == "[":
        delimited = parse_delimited(sc)
        query = delimited.query()
        return FilterPattern(
            text,
            "delimited",
            _prefiltered(delimited.matches, query),
            delimited.highlights,
            query,
            delimited=delimited,
        )
    terms = TermsMatcher(parse_terms(sc))
    if terms.match_all:
        return _match_all(text)
    return FilterPattern(
        text, "terms", terms.matches, terms.highlights, terms.query(), literals=terms.literals()
    )


def _prefiltered(match: Callable[[str], bool], query: TokenQuery | None) -> Callable[[str], bool]:
    """`match` behind a case-sensitive substring check of the tokens every match must contain."""
    check = substring_filter(query)
    if check is None:
        return match
    return lambda s: check(s) and match(s)


def _compile_json(text: str, expr: Group | Condition) -> FilterPattern:
    test = expr.test
    need = expr.text_need()

    def match(message: str) -> bool:
        if need is not None and not need(message):
            return False  # cannot hold a matching value: not decoded
        doc = load_event(message)
        return doc is not None and test(doc)

    def highlights(message: str) -> list[Span]:
        doc = load_event(message)
        return expr.spans(doc, message) if doc is not None else []

    query = expr.query()
    return FilterPattern(
        text,
        "json",
        _prefiltered(match, query),
        highlights,
        query,
        json_selectors=tuple(selectors(expr)),
        need=need,
    )
